/*  test_compile_codes.c — one fixture per NOTES.md compile check (tests/data/compile/E10NN*.yaml)
 *  plus a multi-problem one: exactly the listed findings. Owns the fixture reader. */
#define _POSIX_C_SOURCE 200809L

#include "test_compile_util.h"

#include <dirent.h>
#include <limits.h>
#include <unistd.h>

/* Every code of the NOTES.md table "Compile checks (codes)". */
static const char *const s_codes[] = {
    "E1001", "E1002", "E1003", "E1004", "E1010", "E1011", "E1012", "E1015",
    "E1020", "E1021", "E1022", "E1023", "E1024", "E1030", "E1031", "E1033",
    "E1041", "E1050", "E1051", "E1052", "E1054", "E1055", "E1056", "E1080",
};

#define S_MAX_EXPECT 16
#define S_MAX_INPUTS 4

typedef struct {
    char code[8], severity[8], location[128], operation[128];
} s_expect_t;

typedef struct {
    char name[256];
    s_expect_t expect[S_MAX_EXPECT];
    size_t nexpect;
    char with[S_MAX_INPUTS][256];
    size_t nwith;
    bool production;
    int format;
} s_fixture_t;

static char s_dir[PATH_MAX + 64];

/* tests/data/compile, found from the executable (build/tests/test_*) or BARBACANE_TEST_DATA. */
static const char *s_data_dir(void)
{
    if (s_dir[0])
        return s_dir;
    const char *env = getenv("BARBACANE_TEST_DATA");
    if (env) {
        snprintf(s_dir, sizeof s_dir, "%.4000s/compile", env);
        return s_dir;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    for (int up = 0; up < 3; up++) {
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
    }
    snprintf(s_dir, sizeof s_dir, "%.4000s/tests/data/compile", exe);
    if (access(s_dir, R_OK) != 0)
        snprintf(s_dir, sizeof s_dir, "tests/data/compile");
    return s_dir;
}

static char *s_read(const char *name, size_t *len)
{
    char path[PATH_MAX + 300];
    snprintf(path, sizeof path, "%s/%s", s_data_dir(), name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* "# expect: CODE SEVERITY LOCATION [OPERATION...]", "# with: FILE", "# options: ..." */
static void s_header_line(s_fixture_t *fx, const char *line)
{
    if (!strncmp(line, "# expect: ", 10) && fx->nexpect < S_MAX_EXPECT) {
        s_expect_t *e = &fx->expect[fx->nexpect++];
        int used = 0;
        sscanf(line + 10, "%7s %7s %127s %n", e->code, e->severity, e->location, &used);
        snprintf(e->operation, sizeof e->operation, "%s", used ? line + 10 + used : "");
    } else if (!strncmp(line, "# with: ", 8) && fx->nwith < S_MAX_INPUTS)
        snprintf(fx->with[fx->nwith++], sizeof fx->with[0], "%.255s", line + 8);
    else if (!strncmp(line, "# options: ", 11)) {
        fx->production = strstr(line, "production") != NULL;
        fx->format = strstr(line, "format=4") ? 4 : 6;
    }
}

static void s_parse(s_fixture_t *fx, const char *text)
{
    fx->format = 6;
    for (const char *p = text; *p == '#';) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), p);
        s_header_line(fx, line);
        if (!nl)
            break;
        p = nl + 1;
    }
}

static bool s_matches(const cc_finding_t *f, const s_expect_t *e)
{
    const char *sev = f->severity == CC_SEV_ERROR ? "error" : "warning";
    return !strcmp(f->code, e->code) && !strcmp(sev, e->severity) && f->location &&
           !strcmp(f->location, e->location) &&
           !strcmp(f->operation ? f->operation : "", e->operation);
}

/* Compiles the fixture and its companions; the findings must be exactly the expected. */
static void s_run_fixture(const char *name)
{
    s_fixture_t fx = {0};
    snprintf(fx.name, sizeof fx.name, "%s", name);
    size_t len[S_MAX_INPUTS + 1];
    char *text[S_MAX_INPUTS + 1];
    text[0] = s_read(name, &len[0]);
    s_parse(&fx, text[0]);
    if (!fx.nexpect) {
        free(text[0]);
        return;   /* a companion of another fixture */
    }
    cc_input_t in[S_MAX_INPUTS + 1];
    in[0] = (cc_input_t){name, (const unsigned char *)text[0], len[0]};
    for (size_t i = 0; i < fx.nwith; i++) {
        text[i + 1] = s_read(fx.with[i], &len[i + 1]);
        in[i + 1] = (cc_input_t){fx.with[i], (const unsigned char *)text[i + 1], len[i + 1]};
    }
    cc_options_t o = s_opts(fx.format);
    o.production = fx.production;
    cc_result_t r;
    cc_status_t st = cc_compile(in, fx.nwith + 1, &o, s_lookup, NULL, &r);
    bool ok = r.nfindings == fx.nexpect;
    for (size_t i = 0; ok && i < fx.nexpect; i++)
        ok = s_matches(&r.findings[i], &fx.expect[i]);
    if (!ok) {
        fprintf(stderr, "%s: expected %zu finding(s), got:\n", name, fx.nexpect);
        s_dump(&r);
    }
    assert_true(ok);
    bool errors = false;
    for (size_t i = 0; i < fx.nexpect; i++)
        errors = errors || !strcmp(fx.expect[i].severity, "error");
    assert_int_equal(st, errors ? CC_INVALID : CC_OK);
    cc_result_free(&r);
    for (size_t i = 0; i <= fx.nwith; i++)
        free(text[i]);
}

static int s_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t s_fixtures(char **names, size_t cap)
{
    DIR *d = opendir(s_data_dir());
    assert_non_null(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL && n < cap;) {
        size_t l = strlen(e->d_name);
        if (l > 5 && !strcmp(e->d_name + l - 5, ".yaml") &&
            (!strncmp(e->d_name, "E10", 3) || !strcmp(e->d_name, "multi.yaml")))
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, s_name_cmp);
    return n;
}

static void test_every_code_has_a_fixture(void **state)
{
    (void)state;
    char *names[128];
    size_t n = s_fixtures(names, 128);
    for (size_t c = 0; c < sizeof s_codes / sizeof *s_codes; c++) {
        bool found = false;
        for (size_t i = 0; i < n; i++)
            found = found || !strncmp(names[i], s_codes[c], 5);
        if (!found)
            fail_msg("no fixture for %s", s_codes[c]);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
}

static void test_fixtures(void **state)
{
    (void)state;
    char *names[128];
    size_t n = s_fixtures(names, 128);
    assert_true(n >= sizeof s_codes / sizeof *s_codes + 1);
    for (size_t i = 0; i < n; i++) {
        s_run_fixture(names[i]);
        free(names[i]);
    }
}

/* The multi-problem fixture is not a warm-up: it must list at least five different codes. */
static void test_multi_reports_everything(void **state)
{
    (void)state;
    size_t len;
    char *text = s_read("multi.yaml", &len);
    s_fixture_t fx = {0};
    s_parse(&fx, text);
    assert_true(fx.nexpect >= 5);
    cc_options_t o = s_opts(6);
    cc_result_t r;
    assert_int_equal(s_compile_text("multi.yaml", text, &o, &r), CC_INVALID);
    assert_int_equal(r.nerrors + r.nwarnings, fx.nexpect);
    assert_int_equal(r.ndropped, 0);
    cc_result_free(&r);
    free(text);
}

/* max_findings keeps the first findings in document order and counts the rest. */
static void test_findings_cap(void **state)
{
    (void)state;
    size_t len;
    char *text = s_read("multi.yaml", &len);
    cc_options_t o = s_opts(6);
    o.max_findings = 3;
    cc_result_t r;
    assert_int_equal(s_compile_text("multi.yaml", text, &o, &r), CC_INVALID);
    assert_int_equal(r.nfindings, 3);
    assert_true(r.ndropped >= 5);
    assert_string_equal(r.findings[0].code, "E1015");
    assert_string_equal(r.findings[1].code, "E1011");
    json_t *errs = cc_findings_json(&r, CC_SEV_ERROR);
    assert_int_equal(json_array_size(errs), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(errs, 0), "code")),
                        "E1011");
    assert_true(json_is_null(json_object_get(json_array_get(errs, 0), "operation")));
    json_decref(errs);
    cc_result_free(&r);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_has_a_fixture),
        cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_multi_reports_everything),
        cmocka_unit_test(test_findings_cap),
    };
    return cmocka_run_group_tests_name("compile-codes", tests, NULL, NULL);
}
