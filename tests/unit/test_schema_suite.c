/* test_schema_suite.c — the official JSON Schema Test Suite (draft 2020-12) against cc_schema:
 * one cmocka test per required file and per asserted format file, an honest skip list. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cc_schema.h"

/* The formats cc_schema asserts; their optional files run with format_assertion on. */
static const char *const s_formats[] = {
    "date-time", "date", "time", "uuid", "uri", "email", "ipv4", "ipv6", "hostname",
};

typedef struct {
    char file[64], group[320], test[320];
    bool used;
} skip_t;

/* The whole run: where the suite is, the skip list, the running totals. */
static struct {
    char root[PATH_MAX];      /* repository root (for the skip list) */
    char suite[PATH_MAX];     /* the suite directory */
    skip_t *skips;
    size_t nskips;
    size_t req_pass, req_total, fmt_pass, fmt_total, skipped;
} S;

typedef struct {
    char name[96];            /* "ref.json" or "optional/format/ipv4.json" */
    bool format_assertion;
    bool required;
} suite_file_t;

/* ------------------------------------------------------------------ locating the data */

static bool s_is_dir(const char *p)
{
    DIR *d = opendir(p);
    if (d)
        closedir(d);
    return d != NULL;
}

/* BB_SCHEMA_SUITE=dir, else tests/data/json-schema-test-suite from the working directory
 * (run-all.sh runs from the repository root), else from the binary's place (build/tests/). */
static bool s_locate(void)
{
    char exe[PATH_MAX - 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        strcpy(slash, "/../..");   /* build/tests/ -> the repository */
    const char *roots[] = { ".", exe };
    for (int i = 0; i < 2 && !S.suite[0]; i++) {
        char cand[PATH_MAX];
        snprintf(cand, sizeof cand, "%.*s/tests/data/json-schema-test-suite", PATH_MAX - 64,
                 roots[i]);
        if (s_is_dir(cand)) {
            snprintf(S.root, sizeof S.root, "%.*s", PATH_MAX - 64, roots[i]);
            snprintf(S.suite, sizeof S.suite, "%s", cand);
        }
    }
    const char *env = getenv("BB_SCHEMA_SUITE");
    if (env && *env)
        snprintf(S.suite, sizeof S.suite, "%s", env);
    return S.suite[0] && s_is_dir(S.suite);
}

static void s_load_skips(void)
{
    char path[PATH_MAX + 64], line[1024];
    snprintf(path, sizeof path, "%s/tests/unit/schema_suite_skip.txt", S.root[0] ? S.root : ".");
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *a = strtok(line, "|"), *b = strtok(NULL, "|"), *c = strtok(NULL, "|");
        if (!a || !b || !c || line[0] == '#')
            continue;
        skip_t *grown = realloc(S.skips, (S.nskips + 1) * sizeof *grown);
        assert_non_null(grown);
        S.skips = grown;
        skip_t *s = &S.skips[S.nskips++];
        memset(s, 0, sizeof *s);
        snprintf(s->file, sizeof s->file, "%s", a);
        snprintf(s->group, sizeof s->group, "%s", b);
        snprintf(s->test, sizeof s->test, "%s", c);
    }
    if (f)
        fclose(f);
}

static skip_t *s_skip(const char *file, const char *group, const char *test)
{
    for (size_t i = 0; i < S.nskips; i++)
        if (!strcmp(S.skips[i].file, file) && !strcmp(S.skips[i].group, group) &&
            !strcmp(S.skips[i].test, test))
            return &S.skips[i];
    return NULL;
}

/* ------------------------------------------------------------------ remotes */

/* http://localhost:1234/X is remotes/X: the suite's remote documents, without a network. */
static json_t *s_resolve(void *arg, const char *uri)
{
    (void) arg;
    static const char prefix[] = "http://localhost:1234/";
    if (strncmp(uri, prefix, sizeof prefix - 1) != 0 || strstr(uri, ".."))
        return NULL;
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/remotes/%s", S.suite, uri + sizeof prefix - 1);
    return json_load_file(path, 0, NULL);
}

static void s_count_error(void *arg, const char *ip, const char *kp, const char *msg)
{
    (void) ip, (void) kp, (void) msg;
    (*(int *) arg)++;
}

/* ------------------------------------------------------------------ one file */

/* Runs one case: true when the validator's verdict is the suite's. */
static bool s_case(cc_schema_t *s, const json_t *t, char *why, size_t whylen)
{
    bool want = json_is_true(json_object_get(t, "valid"));
    int reported = 0;
    int rc = cc_schema_validate(s, json_object_get(t, "data"), s_count_error, &reported);
    if (rc < 0) {
        snprintf(why, whylen, "evaluation stopped by a limit");
        return false;
    }
    if (rc != reported) {
        snprintf(why, whylen, "returned %d but reported %d errors", rc, reported);
        return false;
    }
    snprintf(why, whylen, "expected %s", want ? "valid" : "invalid");
    return (rc == 0) == want;
}

static void s_group(const suite_file_t *sf, const json_t *g, size_t *pass, size_t *total,
                    size_t *bad)
{
    const char *gdesc = json_string_value(json_object_get(g, "description"));
    cc_schema_opts_t opts = { .format_assertion = sf->format_assertion, .resolve = s_resolve };
    char err[512] = "";
    cc_schema_t *s = cc_schema_new(json_object_get(g, "schema"), &opts, err, sizeof err);
    const json_t *tests = json_object_get(g, "tests");
    for (size_t i = 0; i < json_array_size(tests); i++) {
        const json_t *t = json_array_get(tests, i);
        const char *tdesc = json_string_value(json_object_get(t, "description"));
        char why[600];
        bool ok = false;
        if (s)
            ok = s_case(s, t, why, sizeof why);
        else
            snprintf(why, sizeof why, "schema rejected: %s", err);
        skip_t *sk = s_skip(sf->name, gdesc ? gdesc : "", tdesc ? tdesc : "");
        (*total)++;
        if (sk) {
            sk->used = true;
            S.skipped++;
            if (ok) {
                printf("schema-suite: UNEXPECTED PASS (remove it from the skip list): %s | %s | %s\n",
                       sf->name, gdesc, tdesc);
                (*bad)++;
            }
            continue;
        }
        if (ok)
            (*pass)++;
        else {
            printf("schema-suite: FAIL %s | %s | %s: %s\n", sf->name, gdesc, tdesc, why);
            (*bad)++;
        }
    }
    cc_schema_destroy(&s);
}

static void test_file(void **state)
{
    const suite_file_t *sf = *state;
    char path[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/tests/draft2020-12/%s", S.suite, sf->name);
    json_error_t jerr;
    json_t *doc = json_load_file(path, JSON_ALLOW_NUL, &jerr);
    if (!doc)   /* integers beyond 64 bits (bignum cases) */
        doc = json_load_file(path, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &jerr);
    if (!doc)
        fail_msg("%s: %s (line %d)", path, jerr.text, jerr.line);
    size_t pass = 0, total = 0, bad = 0;
    for (size_t i = 0; i < json_array_size(doc); i++)
        s_group(sf, json_array_get(doc, i), &pass, &total, &bad);
    json_decref(doc);
    printf("schema-suite: %s: %zu/%zu passed\n", sf->name, pass, total);
    if (sf->required) {
        S.req_pass += pass;
        S.req_total += total;
    } else {
        S.fmt_pass += pass;
        S.fmt_total += total;
    }
    if (bad)
        fail_msg("%s: %zu case(s) disagree with the suite or the skip list", sf->name, bad);
}

/* A skip-list line that names no case any more is a lie about the suite: fail on it. */
static void test_skip_list_current(void **state)
{
    (void) state;
    size_t stale = 0;
    for (size_t i = 0; i < S.nskips; i++)
        if (!S.skips[i].used) {
            printf("schema-suite: stale skip-list entry: %s | %s | %s\n", S.skips[i].file,
                   S.skips[i].group, S.skips[i].test);
            stale++;
        }
    assert_int_equal(stale, 0);
    assert_true(S.req_total > 1000);   /* the required part really ran */
}

static void test_suite_missing(void **state)
{
    (void) state;
    fail_msg("JSON Schema Test Suite not found: run from the repository root or set "
             "BB_SCHEMA_SUITE=dir");
}

static int s_totals(void **state)
{
    (void) state;
    printf("schema-suite: required %zu/%zu (%.1f%%)\n", S.req_pass, S.req_total,
           S.req_total ? 100.0 * (double) S.req_pass / (double) S.req_total : 0.0);
    printf("schema-suite: formats %zu/%zu (%.1f%%), %zu case(s) on the skip list\n", S.fmt_pass,
           S.fmt_total, S.fmt_total ? 100.0 * (double) S.fmt_pass / (double) S.fmt_total : 0.0,
           S.skipped);
    return 0;
}

static int s_name_cmp(const void *a, const void *b)
{
    return strcmp(((const suite_file_t *) a)->name, ((const suite_file_t *) b)->name);
}

/* The required files (every JSON file of tests/draft2020-12) then the asserted format files. */
static size_t s_files(suite_file_t *files, size_t cap)
{
    char dir[PATH_MAX + 64];
    snprintf(dir, sizeof dir, "%s/tests/draft2020-12", S.suite);
    DIR *d = opendir(dir);
    size_t n = 0;
    for (struct dirent *de; d && (de = readdir(d)) && n < cap;) {
        size_t len = strlen(de->d_name);
        if (len > 5 && !strcmp(de->d_name + len - 5, ".json") && len < sizeof files[n].name) {
            memcpy(files[n].name, de->d_name, len + 1);
            files[n].required = true;
            files[n++].format_assertion = false;
        }
    }
    if (d)
        closedir(d);
    qsort(files, n, sizeof *files, s_name_cmp);
    for (size_t i = 0; i < sizeof s_formats / sizeof *s_formats && n < cap; i++) {
        snprintf(files[n].name, sizeof files[n].name, "optional/format/%s.json", s_formats[i]);
        files[n].required = false;
        files[n++].format_assertion = true;
    }
    return n;
}

int main(void)
{
    enum { MAX_FILES = 128 };
    static suite_file_t files[MAX_FILES];
    static struct CMUnitTest tests[MAX_FILES + 2];
    size_t n = 0, nt = 0;
    if (s_locate()) {
        s_load_skips();
        n = s_files(files, MAX_FILES);
    }
    for (size_t i = 0; i < n; i++)
        tests[nt++] = (struct CMUnitTest) { files[i].name, test_file, NULL, NULL, &files[i] };
    if (n)
        tests[nt++] = (struct CMUnitTest) { "skip_list_current", test_skip_list_current, NULL,
                                            NULL, NULL };
    else
        tests[nt++] = (struct CMUnitTest) { "suite_present", test_suite_missing, NULL, NULL, NULL };
    int rc = _cmocka_run_group_tests("schema_suite", tests, nt, NULL, s_totals);
    free(S.skips);
    return rc;
}
