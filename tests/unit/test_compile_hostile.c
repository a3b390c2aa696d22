/*  test_compile_hostile.c — hostile documents end in clear findings within generous time bounds
 *  (deep nesting, long chains, huge arrays, cycles, catastrophic regex). Owns its documents. */
#define _POSIX_C_SOURCE 200809L

#include "test_compile_util.h"

#include <time.h>

#define S_HEAD "openapi: 3.1.0\ninfo: {title: Hostile, version: '1'}\n"

typedef struct {
    char *data;
    size_t len, cap;
} s_text_t;

static void s_add(s_text_t *t, const char *s)
{
    size_t n = strlen(s);
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->data = realloc(t->data, t->cap);
        assert_non_null(t->data);
    }
    memcpy(t->data + t->len, s, n + 1);
    t->len += n;
}

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sanitizer runs set BARBACANE_TIME_FACTOR; under valgrind (its preload library is in
 * LD_PRELOAD) everything is some 30 times slower. */
static double s_bound(double seconds)
{
    const char *f = getenv("BARBACANE_TIME_FACTOR"), *pre = getenv("LD_PRELOAD");
    double factor = f && atof(f) > 0 ? atof(f) : 1.0;
    if (pre && strstr(pre, "vgpreload"))
        factor *= 30;
    return seconds * factor;
}

/* Compiles t; checks the time bound; returns the status. */
static cc_status_t s_timed(const s_text_t *t, double seconds, cc_result_t *r)
{
    cc_options_t o = s_opts(6);
    cc_input_t in = {"api.yaml", (const unsigned char *)t->data, t->len};
    double t0 = s_now();
    cc_status_t st = cc_compile(&in, 1, &o, s_lookup, NULL, r);
    double took = s_now() - t0;
    if (took > s_bound(seconds))
        fail_msg("compile took %.1f s (bound %.1f s)", took, s_bound(seconds));
    return st;
}

static void test_deep_nesting(void **state)
{
    (void)state;
    s_text_t t = {0};
    s_add(&t, S_HEAD "x-deep: ");
    for (int i = 0; i < 10000; i++)
        s_add(&t, "[");
    for (int i = 0; i < 10000; i++)
        s_add(&t, "]");
    s_add(&t, "\npaths: {}\n");
    cc_result_t r;
    assert_int_equal(s_timed(&t, 10, &r), CC_INVALID);
    assert_non_null(s_find(&r, "E1002"));
    cc_result_free(&r);
    free(t.data);
}

/* S0 -> S1 -> ... -> S9999: each hop is a definition of its own; the walk stops at its
 * nesting bound with E1051 instead of recursing 10k deep. */
static void test_long_ref_chain(void **state)
{
    (void)state;
    s_text_t t = {0};
    char line[128];
    s_add(&t, S_HEAD "paths:\n  /a:\n    get:\n      parameters:\n"
              "        - {name: q, in: query, schema: {$ref: '#/components/schemas/S0'}}\n"
              "      x-barbacane-dispatch: {name: mock}\ncomponents:\n  schemas:\n");
    for (int i = 0; i < 10000; i++) {
        snprintf(line, sizeof line, "    S%d: {$ref: '#/components/schemas/S%d'}\n", i, i + 1);
        s_add(&t, line);
    }
    s_add(&t, "    S10000: {type: string}\n");
    cc_result_t r;
    assert_int_equal(s_timed(&t, 20, &r), CC_INVALID);
    const cc_finding_t *f = s_find(&r, "E1051");
    assert_non_null(f);
    assert_string_equal(f->operation, "GET /a");
    cc_result_free(&r);
    free(t.data);
}

static void test_million_element_array(void **state)
{
    (void)state;
    s_text_t t = {0};
    s_add(&t, S_HEAD "paths:\n  /a:\n    get:\n      parameters:\n"
              "        - name: q\n          in: query\n          schema:\n            enum:\n");
    for (int i = 0; i < 1000000; i++)
        s_add(&t, "              - 7\n");
    s_add(&t, "      x-barbacane-dispatch: {name: mock}\n");
    cc_result_t r;
    assert_int_equal(s_timed(&t, 60, &r), CC_OK);
    json_t *routes = json_loadb(r.routes_json, r.routes_len, 0, NULL);
    json_t *schema = json_object_get(json_array_get(json_object_get(s_op(routes, 0),
                                                                     "parameters"), 0), "schema");
    assert_int_equal(json_array_size(json_object_get(schema, "enum")), 1000000);
    json_decref(routes);
    cc_result_free(&r);
    free(t.data);
}

static void test_ref_cycles(void **state)
{
    (void)state;
    s_text_t t = {0};
    s_add(&t, S_HEAD
          "paths:\n"
          "  /schemas:\n"
          "    post:\n"
          "      requestBody: {content: {application/json: {schema: "
          "{$ref: '#/components/schemas/A'}}}}\n"
          "      responses: {'200': {content: {application/json: {schema: {$ref: '#'}}}}}\n"
          "      x-barbacane-dispatch: {name: mock}\n"
          "  /params:\n"
          "    get:\n"
          "      parameters: [{$ref: '#/components/parameters/P1'}]\n"
          "      requestBody: {$ref: '#/components/requestBodies/R'}\n"
          "      x-barbacane-dispatch: {name: mock}\n"
          "  /items: {$ref: '#/paths/~1loop'}\n"
          "  /loop: {$ref: '#/paths/~1items'}\n"
          "components:\n"
          "  schemas:\n"
          "    A: {properties: {b: {$ref: '#/components/schemas/B'}}}\n"
          "    B: {properties: {a: {$ref: '#/components/schemas/A'}}}\n"
          "  parameters:\n"
          "    P1: {$ref: '#/components/parameters/P2'}\n"
          "    P2: {$ref: '#/components/parameters/P1'}\n"
          "  requestBodies:\n"
          "    R: {$ref: '#/components/requestBodies/R'}\n");
    cc_result_t r;
    assert_int_equal(s_timed(&t, 10, &r), CC_INVALID);
    /* Schema cycles compile; the parameter, body and path-item loops are E1004. */
    assert_int_equal(s_count(&r, "E1004"), 4);
    assert_int_equal(r.nerrors, 4);
    cc_result_free(&r);
    free(t.data);
}

static void test_huge_enum(void **state)
{
    (void)state;
    s_text_t t = {0};
    s_add(&t, S_HEAD "paths:\n");
    char line[256];
    for (int i = 0; i < 20; i++) {
        snprintf(line, sizeof line, "  /p%d:\n    get:\n      responses: {'200': {content: "
                 "{application/json: {schema: {$ref: '#/components/schemas/Big'}}}}}\n"
                 "      x-barbacane-dispatch: {name: mock}\n", i);
        s_add(&t, line);
    }
    s_add(&t, "components:\n  schemas:\n    Big:\n      enum: [");
    for (int i = 0; i < 100000; i++) {
        snprintf(line, sizeof line, "%sv%d", i ? ", " : "", i);
        s_add(&t, line);
    }
    s_add(&t, "]\n");
    cc_result_t r;
    assert_int_equal(s_timed(&t, 60, &r), CC_OK);
    assert_int_equal(r.routes_count, 20);
    assert_true(r.routes_len > 20u * 100000u * 10u);
    cc_result_free(&r);
    free(t.data);
}

/* `^(a+)+$` against "aaaa...!" backtracks exponentially: the validator's limits stop it,
 * and the finding points at the value. */
static void test_catastrophic_regex(void **state)
{
    (void)state;
    s_text_t t = {0};
    s_add(&t, S_HEAD "paths:\n  /a:\n    get:\n"
              "      x-barbacane-middlewares:\n"
              "        - {name: regex, config: {name: "
              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!}}\n"
              "      x-barbacane-dispatch: {name: mock}\n");
    cc_result_t r;
    assert_int_equal(s_timed(&t, 10, &r), CC_INVALID);
    const cc_finding_t *f = s_find(&r, "E1023");
    assert_non_null(f);
    assert_string_equal(f->location, "api.yaml:7:40");
    assert_non_null(strstr(f->message, "limit"));
    cc_result_free(&r);
    free(t.data);
}

/* Aliases expand every use: a billion-laughs document is refused by the loader. */
static void test_alias_bomb(void **state)
{
    (void)state;
    s_text_t t = {0};
    s_add(&t, S_HEAD "x-a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n");
    char line[200];
    for (int i = 0; i < 9; i++) {
        snprintf(line, sizeof line, "x-%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, "
                 "*%c]\n", 'b' + i, 'b' + i, 'a' + i, 'a' + i, 'a' + i, 'a' + i, 'a' + i,
                 'a' + i, 'a' + i, 'a' + i, 'a' + i, 'a' + i);
        s_add(&t, line);
    }
    s_add(&t, "paths: {}\n");
    cc_result_t r;
    assert_int_equal(s_timed(&t, 10, &r), CC_INVALID);
    assert_non_null(s_find(&r, "E1002"));
    cc_result_free(&r);
    free(t.data);
}

/* 16 000 refs whose last token is the same name, in one schema position: each takes the next
 * free Foo_N of the emitted $defs without trying every smaller N again. */
static void test_many_refs_sharing_a_name(void **state)
{
    (void)state;
    enum { N = 16000 };
    s_text_t t = {0};
    char line[160];
    s_add(&t, S_HEAD "paths:\n  /a:\n    get:\n      parameters:\n"
              "        - name: q\n          in: query\n          schema:\n            anyOf:\n");
    for (int i = 0; i < N; i++) {
        snprintf(line, sizeof line, "              - {$ref: '#/components/schemas/A%d/properties/Foo'}\n", i);
        s_add(&t, line);
    }
    s_add(&t, "      x-barbacane-dispatch: {name: mock}\ncomponents:\n  schemas:\n");
    for (int i = 0; i < N; i++) {
        snprintf(line, sizeof line, "    A%d: {type: object, properties: {Foo: {type: string}}}\n", i);
        s_add(&t, line);
    }
    cc_result_t r;
    cc_status_t st = s_timed(&t, 10, &r);
    if (st != CC_OK)
        s_dump(&r);
    assert_int_equal(st, CC_OK);
    snprintf(line, sizeof line, "\"Foo_%d\"", N);   /* Foo, Foo_2 ... Foo_16000 */
    assert_non_null(strstr(r.routes_json, line));
    cc_result_free(&r);
    free(t.data);
}

/* A 120 KB header-ref value in a global middleware, inherited by 800 operations: the text is
 * scanned in one pass per use (two markers, each searched again only once passed). */
static void test_long_header_reference_in_a_shared_middleware(void **state)
{
    (void)state;
    s_text_t t = {0}, ref = {0};
    char line[160];
    for (int i = 0; i < 10000; i++)
        s_add(&ref, "$header.X-A ");   /* 12 bytes each: one marker, the other never found */
    s_add(&t, S_HEAD "x-barbacane-middlewares:\n  - name: rate-limit\n    config: {quota: 1, key: '");
    s_add(&t, ref.data);
    s_add(&t, "'}\npaths:\n");
    for (int i = 0; i < 800; i++) {
        snprintf(line, sizeof line, "  /r%d:\n    get:\n      x-barbacane-dispatch: {name: mock}\n", i);
        s_add(&t, line);
    }
    cc_result_t r;
    cc_status_t st = s_timed(&t, 10, &r);
    if (st != CC_OK)
        s_dump(&r);
    assert_int_equal(st, CC_OK);
    assert_non_null(strstr(r.routes_json, "\"x-a\""));   /* allowed_request_headers */
    cc_result_free(&r);
    free(t.data);
    free(ref.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_long_ref_chain),
        cmocka_unit_test(test_million_element_array),
        cmocka_unit_test(test_ref_cycles),
        cmocka_unit_test(test_huge_enum),
        cmocka_unit_test(test_catastrophic_regex),
        cmocka_unit_test(test_alias_bomb),
        cmocka_unit_test(test_many_refs_sharing_a_name),
        cmocka_unit_test(test_long_header_reference_in_a_shared_middleware),
    };
    return cmocka_run_group_tests_name("compile-hostile", tests, NULL, NULL);
}
