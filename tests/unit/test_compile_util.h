/*  test_compile_util.h — what the compiler's unit tests share: a plugin table standing in for
 *  the registry, and helpers that compile text and look findings up. Header-only, static. */
#ifndef TEST_COMPILE_UTIL_H
#define TEST_COMPILE_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_compile.h"
#include "cm_util.h"

static const unsigned char s_wasm[8] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};

typedef struct {
    const char *name, *version, *type, *schema;
    bool from_manifest, body_access;
    const char *host_functions;         /* comma-separated, NULL = none */
} s_row_t;

/* The registry of these tests. Versions of one name are deliberately out of order. */
static const s_row_t s_registry[] = {
    {"mock", "0.1.0", "dispatcher", "{}", false, false, NULL},
    {"http-upstream", "1.2.0", "dispatcher",
     "{\"type\":\"object\",\"required\":[\"url\"],\"properties\":{"
     "\"url\":{\"type\":\"string\"},\"timeout\":{\"type\":\"number\",\"maximum\":300},"
     "\"forward\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"format\":\"header-name\"}}}",
     true, false, "log,http_call"},
    {"rate-limit", "0.9.0", "middleware", "{}", false, false, NULL},
    {"rate-limit", "0.10.0", "middleware",
     "{\"type\":\"object\",\"properties\":{\"quota\":{\"type\":\"integer\",\"minimum\":1},"
     "\"key\":{\"type\":\"string\",\"format\":\"header-ref\"}}}",
     true, false, "log"},
    {"rate-limit", "0.2.0", "middleware", "{}", false, false, NULL},
    {"jwt-auth", "1.0.0", "middleware",
     "{\"type\":\"object\",\"properties\":{\"header_name\":{\"type\":\"string\","
     "\"format\":\"header-name\",\"default\":\"Authorization\"},"
     "\"rename\":{\"type\":\"object\",\"format\":\"header-name-map\"}}}",
     true, true, "log,get_secret"},
    {"cors", "2.0.0", "middleware", "{}", true, false, NULL},
    {"cors", "1.0.0", "middleware", "{}", true, false, NULL},
    {"kafka", "0.3.0", "dispatcher",
     "{\"type\":\"object\",\"properties\":{\"topic\":{\"type\":\"string\"},"
     "\"key\":{\"type\":\"string\",\"format\":\"header-ref\"}}}",
     true, false, NULL},
    {"regex", "1.0.0", "middleware",
     "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\","
     "\"pattern\":\"^(a+)+$\"}}}",
     false, false, NULL},
};

/* Semantic version order of the simple x.y.z strings above. */
static inline int s_semver_cmp(const char *a, const char *b)
{
    unsigned x[3] = {0}, y[3] = {0};
    sscanf(a, "%u.%u.%u", &x[0], &x[1], &x[2]);
    sscanf(b, "%u.%u.%u", &y[0], &y[1], &y[2]);
    for (int i = 0; i < 3; i++)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return 0;
}

typedef struct {
    int calls;
    int fail;                           /* return -1 */
    char asked[16][80];                 /* "name@version" or "name" per call */
} s_lookup_t;

static inline char **s_split_hosts(const char *list, size_t *n)
{
    *n = 0;
    if (!list)
        return NULL;
    char **out = calloc(8, sizeof *out);
    char *copy = strdup(list), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t && *n < 8; t = strtok_r(NULL, ",", &save))
        out[(*n)++] = strdup(t);
    free(copy);
    return out;
}

static inline int s_lookup(void *arg, const char *name, const char *version, cc_plugin_t *out)
{
    s_lookup_t *st = arg;
    if (st) {
        if (st->calls < 16)
            snprintf(st->asked[st->calls], sizeof st->asked[0], "%s%s%s", name,
                     version ? "@" : "", version ? version : "");
        st->calls++;
        if (st->fail)
            return -1;
    }
    const s_row_t *best = NULL;
    for (size_t i = 0; i < sizeof s_registry / sizeof *s_registry; i++) {
        const s_row_t *r = &s_registry[i];
        if (strcmp(r->name, name))
            continue;
        if (version ? !strcmp(r->version, version)
                    : (!best || s_semver_cmp(r->version, best->version) > 0))
            best = r;
    }
    if (!best)
        return 0;
    memset(out, 0, sizeof *out);
    out->name = strdup(best->name);
    out->version = strdup(best->version);
    out->plugin_type = strdup(best->type);
    out->wasm = malloc(sizeof s_wasm);
    memcpy(out->wasm, s_wasm, sizeof s_wasm);
    out->wasm_len = sizeof s_wasm;
    out->config_schema = strdup(best->schema);
    out->caps_from_manifest = best->from_manifest;
    out->body_access = best->body_access;
    out->host_functions = s_split_hosts(best->host_functions, &out->n_host_functions);
    return 1;
}

static inline cc_options_t s_opts(int format)
{
    cc_options_t o = {0};
    o.artifact_format = format;
    o.compiled_at = "2026-01-01T00:00:00Z";
    o.compiler_version = "0.1.0";
    return o;
}

/* Compiles one text as file. */
static inline cc_status_t s_compile_text(const char *file, const char *text, const cc_options_t *o,
                                  cc_result_t *r)
{
    cc_input_t in = {file, (const unsigned char *)text, strlen(text)};
    return cc_compile(&in, 1, o, s_lookup, NULL, r);
}

/* The first finding with this code, or NULL. */
static inline const cc_finding_t *s_find(const cc_result_t *r, const char *code)
{
    for (size_t i = 0; i < r->nfindings; i++)
        if (!strcmp(r->findings[i].code, code))
            return &r->findings[i];
    return NULL;
}

static inline size_t s_count(const cc_result_t *r, const char *code)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nfindings; i++)
        n += !strcmp(r->findings[i].code, code);
    return n;
}

static inline void s_dump(const cc_result_t *r)
{
    for (size_t i = 0; i < r->nfindings; i++)
        fprintf(stderr, "  %s %s %s [%s] %s\n", r->findings[i].code,
                r->findings[i].severity == CC_SEV_ERROR ? "error" : "warning",
                r->findings[i].location ? r->findings[i].location : "-",
                r->findings[i].operation ? r->findings[i].operation : "-",
                r->findings[i].message);
}

/* Compiles text that must succeed; returns the parsed routes.json (caller decrefs). */
static inline json_t *s_routes(const char *text, int format)
{
    cc_options_t o = s_opts(format);
    cc_result_t r;
    cc_status_t st = s_compile_text("api.yaml", text, &o, &r);
    if (st != CC_OK)
        s_dump(&r);
    assert_int_equal(st, CC_OK);
    json_error_t err;
    json_t *v = json_loadb(r.routes_json, r.routes_len, 0, &err);
    assert_non_null(v);
    cc_result_free(&r);
    return v;
}

/* The operation at index i of parsed routes. */
static inline json_t *s_op(json_t *routes, size_t i)
{
    json_t *op = json_array_get(json_object_get(routes, "operations"), i);
    assert_non_null(op);
    return op;
}

/* A compact rendering for comparisons (keys as stored). */
static inline char *s_compact(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
}

static inline void s_assert_json(const json_t *v, const char *expected)
{
    char *got = s_compact(v);
    if (strcmp(got, expected))
        fprintf(stderr, "got:      %s\nexpected: %s\n", got, expected);
    assert_string_equal(got, expected);
    free(got);
}

#endif
