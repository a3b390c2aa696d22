/* test_schema.c — cmocka tests of cc_schema beyond the official suite: the errors users read
 * (pointers, messages), options, limits against hostile schemas, boolean and invalid schemas. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cc_schema.h"

/* ------------------------------------------------------------------ helpers */

typedef struct {
    char inst[128], kw[160], msg[256];
} err_t;

typedef struct {
    err_t e[64];
    int n;
} errs_t;

static void s_collect(void *arg, const char *ip, const char *kp, const char *msg)
{
    errs_t *es = arg;
    if (es->n < 64) {
        err_t *e = &es->e[es->n];
        snprintf(e->inst, sizeof e->inst, "%s", ip);
        snprintf(e->kw, sizeof e->kw, "%s", kp);
        snprintf(e->msg, sizeof e->msg, "%s", msg);
    }
    es->n++;
}

static json_t *s_json(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (!j)
        fail_msg("bad test JSON: %s: %s", text, jerr.text);
    return j;
}

static cc_schema_t *s_schema_opts(const char *text, const cc_schema_opts_t *opts)
{
    json_t *j = s_json(text);
    char err[256];
    cc_schema_t *s = cc_schema_new(j, opts, err, sizeof err);
    json_decref(j);
    if (!s)
        fail_msg("schema rejected: %s: %s", text, err);
    return s;
}

static cc_schema_t *s_schema(const char *text)
{
    return s_schema_opts(text, NULL);
}

/* Validates instance text; the errors land in es (may be NULL). */
static int s_check(cc_schema_t *s, const char *instance, errs_t *es)
{
    json_t *j = s_json(instance);
    if (es)
        memset(es, 0, sizeof *es);
    int rc = cc_schema_validate(s, j, es ? s_collect : NULL, es);
    json_decref(j);
    return rc;
}

/* es holds exactly one error equal to (inst, kw, msg). */
static void s_has(const errs_t *es, const char *inst, const char *kw, const char *msg)
{
    int found = 0;
    for (int i = 0; i < es->n && i < 64; i++)
        if (!strcmp(es->e[i].inst, inst) && !strcmp(es->e[i].kw, kw) && !strcmp(es->e[i].msg, msg))
            found++;
    if (found != 1) {
        for (int i = 0; i < es->n && i < 64; i++)
            printf("  got: [%s] [%s] %s\n", es->e[i].inst, es->e[i].kw, es->e[i].msg);
        fail_msg("expected once: [%s] [%s] %s (found %d)", inst, kw, msg, found);
    }
}

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Sanitizer runs are slower (BARBACANE_TIME_FACTOR scales the limits), valgrind much slower
 * (it preloads its vgpreload library: then the factor is at least 30). */
static double s_budget(double seconds)
{
    const char *f = getenv("BARBACANE_TIME_FACTOR"), *pre = getenv("LD_PRELOAD");
    double k = f ? atof(f) : 1.0;
    if (pre && strstr(pre, "vgpreload") && k < 30)
        k = 30;
    return seconds * (k > 0 ? k : 1.0);
}

/* ------------------------------------------------------------------ errors users read */

static const char *const s_plugin_schema =
    "{\"type\": \"object\","
    " \"properties\": {"
    "   \"port\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 65535},"
    "   \"host\": {\"type\": \"string\", \"minLength\": 1},"
    "   \"mode\": {\"enum\": [\"fast\", \"safe\"]},"
    "   \"timeout_ms\": {\"type\": \"number\", \"exclusiveMinimum\": 0},"
    "   \"tags\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}, \"uniqueItems\": true},"
    "   \"headers\": {\"type\": \"object\", \"additionalProperties\": {\"type\": \"string\"},"
    "                 \"propertyNames\": {\"pattern\": \"^[A-Za-z-]+$\"}}"
    " },"
    " \"required\": [\"host\", \"port\"],"
    " \"additionalProperties\": false}";

static void test_errors_typical_config(void **state)
{
    (void) state;
    cc_schema_t *s = s_schema(s_plugin_schema);
    errs_t es;
    assert_int_equal(s_check(s, "{\"host\": \"api\", \"port\": 8080}", &es), 0);
    assert_int_equal(es.n, 0);
    int rc = s_check(s, "{\"port\": 70000, \"mode\": \"slow\", \"timeout_ms\": 0,"
                        " \"tags\": [\"a\", 3, \"a\"], \"headers\": {\"X-A\": 1, \"bad name\": \"v\"},"
                        " \"extra\": true}", &es);
    assert_int_equal(rc, 9);
    assert_int_equal(es.n, 9);
    s_has(&es, "", "/required", "missing required property \"host\"");
    s_has(&es, "/port", "/properties/port/maximum", "must be <= 65535");
    s_has(&es, "/mode", "/properties/mode/enum", "must be one of \"fast\", \"safe\"");
    s_has(&es, "/timeout_ms", "/properties/timeout_ms/exclusiveMinimum", "must be > 0");
    s_has(&es, "/tags/1", "/properties/tags/items/type", "must be string, not integer");
    s_has(&es, "/tags", "/properties/tags/uniqueItems",
          "must not contain duplicate items (items 0 and 2 are equal)");
    s_has(&es, "/headers/X-A", "/properties/headers/additionalProperties/type",
          "must be string, not integer");
    s_has(&es, "/headers", "/properties/headers/propertyNames",
          "property name \"bad name\" does not match the propertyNames schema");
    s_has(&es, "/extra", "/additionalProperties", "property \"extra\" is not allowed");
    cc_schema_destroy(&s);
    assert_null(s);
}

static void test_errors_paths(void **state)
{
    (void) state;
    errs_t es;
    /* through $ref, the evaluation path names the reference */
    cc_schema_t *s = s_schema("{\"$defs\": {\"port\": {\"type\": \"integer\", \"maximum\": 65535}},"
                              " \"properties\": {\"upstream\": {\"properties\": {\"p\": {\"$ref\": \"#/$defs/port\"}}}}}");
    assert_int_equal(s_check(s, "{\"upstream\": {\"p\": 70000}}", &es), 1);
    s_has(&es, "/upstream/p", "/properties/upstream/properties/p/$ref/maximum", "must be <= 65535");
    cc_schema_destroy(&s);
    /* RFC 6901 escaping on both sides */
    s = s_schema("{\"properties\": {\"a/b~c\": {\"type\": \"string\"}}}");
    assert_int_equal(s_check(s, "{\"a/b~c\": 1}", &es), 1);
    s_has(&es, "/a~1b~0c", "/properties/a~1b~0c/type", "must be string, not integer");
    cc_schema_destroy(&s);
    /* array positions: prefixItems index in the evaluation path, item index in the instance */
    s = s_schema("{\"prefixItems\": [{\"type\": \"string\"}, {\"minimum\": 3}], \"items\": false}");
    assert_int_equal(s_check(s, "[\"x\", 2, 5]", &es), 2);
    s_has(&es, "/1", "/prefixItems/1/minimum", "must be >= 3");
    s_has(&es, "/2", "/items", "item 2 is not allowed");
    cc_schema_destroy(&s);
    /* evaluation stops politely at max_errors */
    cc_schema_opts_t o = { .max_errors = 3 };
    s = s_schema_opts("{\"items\": {\"type\": \"string\"}}", &o);
    assert_int_equal(s_check(s, "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]", &es), 3);
    assert_int_equal(es.n, 3);
    /* without a callback, the first failure decides */
    assert_int_equal(s_check(s, "[1, 2, 3]", NULL), 1);
    assert_int_equal(s_check(s, "[\"a\"]", NULL), 0);
    cc_schema_destroy(&s);
}

/* anyOf / oneOf / not: the combinator is reported, not each branch's failures. */
static void test_errors_combinators(void **state)
{
    (void) state;
    errs_t es;
    cc_schema_t *s = s_schema("{\"properties\": {\"v\": {\"anyOf\": [{\"type\": \"string\"},"
                              " {\"type\": \"integer\", \"minimum\": 10}]}}}");
    assert_int_equal(s_check(s, "{\"v\": 5}", &es), 1);
    s_has(&es, "/v", "/properties/v/anyOf", "must match at least one of the anyOf schemas");
    assert_int_equal(s_check(s, "{\"v\": 12}", &es), 0);
    cc_schema_destroy(&s);
    s = s_schema("{\"oneOf\": [{\"type\": \"integer\"}, {\"minimum\": 2}]}");
    assert_int_equal(s_check(s, "3", &es), 1);
    s_has(&es, "", "/oneOf", "must match exactly one of the oneOf schemas (it matches 0 and 1)");
    assert_int_equal(s_check(s, "1.5", &es), 1);
    s_has(&es, "", "/oneOf", "must match exactly one of the oneOf schemas (it matches none)");
    assert_int_equal(s_check(s, "1", &es), 0);
    cc_schema_destroy(&s);
    s = s_schema("{\"not\": {\"type\": \"object\", \"required\": [\"debug\"]},"
                 " \"contains\": {\"const\": 1}}");
    assert_int_equal(s_check(s, "{\"debug\": true}", &es), 1);
    s_has(&es, "", "/not", "must not match the schema in \"not\"");
    assert_int_equal(s_check(s, "[2, 3]", &es), 1);
    s_has(&es, "", "/contains",
          "must contain at least 1 item matching the contains schema (found 0)");
    cc_schema_destroy(&s);
}

/* ------------------------------------------------------------------ options */

static void test_format_annotation_vs_assertion(void **state)
{
    (void) state;
    const char *schema = "{\"properties\": {\"ip\": {\"format\": \"ipv4\"},"
                         " \"at\": {\"format\": \"date-time\"}, \"x\": {\"format\": \"no-such-format\"}}}";
    const char *bad = "{\"ip\": \"999.1.1.1\", \"at\": \"2024-02-30T10:00:00Z\", \"x\": \"?\"}";
    errs_t es;
    cc_schema_t *s = s_schema(schema);
    assert_int_equal(s_check(s, bad, &es), 0);   /* format is an annotation by default */
    cc_schema_destroy(&s);
    cc_schema_opts_t o = { .format_assertion = true };
    s = s_schema_opts(schema, &o);
    assert_int_equal(s_check(s, bad, &es), 2);   /* unknown formats stay annotations */
    s_has(&es, "/ip", "/properties/ip/format", "must be a valid ipv4");
    s_has(&es, "/at", "/properties/at/format", "must be a valid date-time");
    assert_int_equal(s_check(s, "{\"ip\": \"10.0.0.1\", \"at\": \"2024-02-29T10:00:00+01:00\"}", &es), 0);
    cc_schema_destroy(&s);
}

static json_t *s_remote(void *arg, const char *uri)
{
    int *calls = arg;
    (*calls)++;
    if (!strcmp(uri, "https://schemas.example/port.json"))
        return json_pack("{s:s, s:i}", "type", "integer", "maximum", 65535);
    return NULL;
}

static void test_resolve_callback(void **state)
{
    (void) state;
    int calls = 0;
    cc_schema_opts_t o = { .resolve = s_remote, .resolve_arg = &calls };
    errs_t es;
    cc_schema_t *s = s_schema_opts("{\"$id\": \"https://schemas.example/plugin.json\","
                                   " \"properties\": {\"p\": {\"$ref\": \"port.json\"}}}", &o);
    assert_int_equal(calls, 1);
    assert_int_equal(s_check(s, "{\"p\": 1}", &es), 0);
    assert_int_equal(s_check(s, "{\"p\": 65536}", &es), 1);
    s_has(&es, "/p", "/properties/p/$ref/maximum", "must be <= 65535");
    cc_schema_destroy(&s);
    /* an unknown remote is a compile error, never a network access */
    json_t *j = s_json("{\"$ref\": \"https://elsewhere.example/x.json\"}");
    char err[256];
    assert_null(cc_schema_new(j, &o, err, sizeof err));
    assert_non_null(strstr(err, "cannot resolve"));
    assert_non_null(strstr(err, "https://elsewhere.example/x.json"));
    json_decref(j);
}

/* The built-in meta-schema validates schemas ($dynamicRef through the vocabularies). */
static void test_metaschema(void **state)
{
    (void) state;
    errs_t es;
    cc_schema_t *s = s_schema("{\"$ref\": \"https://json-schema.org/draft/2020-12/schema\"}");
    assert_int_equal(s_check(s, s_plugin_schema, &es), 0);
    assert_true(s_check(s, "{\"properties\": {\"a\": {\"minLength\": -1}}}", &es) > 0);
    s_has(&es, "/properties/a/minLength",
          "/$ref/allOf/1/$ref/properties/properties/additionalProperties/$dynamicRef/allOf/3/$ref/properties/minLength/$ref/$ref/minimum",
          "must be >= 0");
    assert_true(s_check(s, "{\"type\": \"strnig\"}", &es) > 0);
    cc_schema_destroy(&s);
}

/* ------------------------------------------------------------------ numbers */

static void test_numbers(void **state)
{
    (void) state;
    cc_schema_t *s = s_schema("{\"type\": \"integer\"}");
    assert_int_equal(s_check(s, "1.0", NULL), 0);   /* 1.0 is an integer */
    assert_int_equal(s_check(s, "1.5", NULL), 1);
    cc_schema_destroy(&s);
    s = s_schema("{\"enum\": [1, [2], {\"a\": 3}]}");
    assert_int_equal(s_check(s, "1.0", NULL), 0);
    assert_int_equal(s_check(s, "[2.0]", NULL), 0);
    assert_int_equal(s_check(s, "{\"a\": 3.0}", NULL), 0);
    assert_int_equal(s_check(s, "true", NULL), 1);   /* true is not 1 */
    cc_schema_destroy(&s);
    s = s_schema("{\"uniqueItems\": true}");
    assert_int_equal(s_check(s, "[1, 1.0]", NULL), 1);
    assert_int_equal(s_check(s, "[{\"a\": 1, \"b\": 2}, {\"b\": 2, \"a\": 1.0}]", NULL), 1);
    assert_int_equal(s_check(s, "[0, false, null, \"0\", [], {}]", NULL), 0);
    cc_schema_destroy(&s);
    s = s_schema("{\"multipleOf\": 0.01}");
    assert_int_equal(s_check(s, "0.07", NULL), 0);   /* 0.07 / 0.01 = 7.000000000000001 */
    assert_int_equal(s_check(s, "19.99", NULL), 0);
    assert_int_equal(s_check(s, "0.075", NULL), 1);
    cc_schema_destroy(&s);
    s = s_schema("{\"maximum\": 9007199254740993}");   /* above 2^53: compared exactly */
    assert_int_equal(s_check(s, "9007199254740993", NULL), 0);
    assert_int_equal(s_check(s, "9007199254740994", NULL), 1);
    cc_schema_destroy(&s);
    s = s_schema("{\"minLength\": 2, \"maxLength\": 3}");   /* code points, not bytes */
    assert_int_equal(s_check(s, "\"\\u00e9\\u00e9\\u00e9\"", NULL), 0);
    assert_int_equal(s_check(s, "\"\\ud83d\\ude00\"", NULL), 1);
    cc_schema_destroy(&s);
}

/* ------------------------------------------------------------------ limits */

static void test_limit_catastrophic_regex(void **state)
{
    (void) state;
    cc_schema_t *s = s_schema("{\"pattern\": \"^(a+)+$\"}");
    char inst[80] = "\"";
    for (int i = 0; i < 40; i++)
        strcat(inst, "a");
    strcat(inst, "!\"");
    errs_t es;
    double t0 = s_now();
    assert_int_equal(s_check(s, inst, &es), -1);
    assert_true(s_now() - t0 < s_budget(1.0));
    assert_int_equal(es.n, 1);
    assert_non_null(strstr(es.e[0].msg, "regular expression"));
    assert_string_equal(es.e[0].kw, "/pattern");
    assert_int_equal(s_check(s, "\"aaaa\"", &es), 0);   /* ordinary strings still work */
    cc_schema_destroy(&s);
}

static void test_limit_ref_cycles(void **state)
{
    (void) state;
    errs_t es;
    const char *cycles[] = {
        ("{\"$defs\": {\"a\": {\"$ref\": \"#/$defs/b\"}, \"b\": {\"$ref\": \"#/$defs/a\"}},"
         " \"$ref\": \"#/$defs/a\"}"),
        "{\"allOf\": [{\"$ref\": \"#\"}]}",
        "{\"$dynamicAnchor\": \"x\", \"anyOf\": [{\"$dynamicRef\": \"#x\"}]}",
    };
    for (size_t i = 0; i < sizeof cycles / sizeof *cycles; i++) {
        cc_schema_t *s = s_schema(cycles[i]);   /* a valid schema: it only never ends */
        double t0 = s_now();
        assert_int_equal(s_check(s, "{}", &es), -1);
        assert_true(s_now() - t0 < s_budget(1.0));
        assert_int_equal(es.n, 1);
        assert_non_null(strstr(es.e[0].msg, "cycle"));
        cc_schema_destroy(&s);
    }
    /* recursion that makes progress through the instance is fine */
    cc_schema_t *s = s_schema("{\"properties\": {\"next\": {\"$ref\": \"#\"}}, \"required\": [\"v\"]}");
    assert_int_equal(s_check(s, "{\"v\": 1, \"next\": {\"v\": 2, \"next\": {\"v\": 3}}}", &es), 0);
    assert_int_equal(s_check(s, "{\"v\": 1, \"next\": {\"next\": {\"v\": 3}}}", &es), 1);
    s_has(&es, "/next", "/properties/next/$ref/required", "missing required property \"v\"");
    cc_schema_destroy(&s);
}

static void test_limit_unique_million(void **state)
{
    (void) state;
    enum { N = 1000000 };
    json_t *arr = json_array(), *schema = s_json("{\"uniqueItems\": true}");
    for (int i = 0; i < N; i++)
        json_array_append_new(arr, i % 2 ? json_integer(i) : json_sprintf("s%d", i));
    char err[256];
    cc_schema_t *s = cc_schema_new(schema, NULL, err, sizeof err);
    assert_non_null(s);
    double t0 = s_now();
    assert_int_equal(cc_schema_validate(s, arr, NULL, NULL), 0);
    double t1 = s_now();
    printf("uniqueItems: %d distinct items in %.3f s\n", N, t1 - t0);
    assert_true(t1 - t0 < s_budget(1.0));
    json_array_set_new(arr, N - 1, json_real(1.0));   /* equals the integer at index 1 */
    errs_t es = { .n = 0 };
    t0 = s_now();
    assert_int_equal(cc_schema_validate(s, arr, s_collect, &es), 1);
    assert_true(s_now() - t0 < s_budget(1.0));
    s_has(&es, "", "/uniqueItems", "must not contain duplicate items (items 1 and 999999 are equal)");
    cc_schema_destroy(&s);
    json_decref(arr);
    json_decref(schema);
}

static void test_limit_big_enum(void **state)
{
    (void) state;
    enum { N = 100000 };
    json_t *values = json_array();
    for (int i = 0; i < N; i++)
        json_array_append_new(values, json_sprintf("v%d", i));
    json_t *schema = json_pack("{s:o}", "enum", values);
    char err[256];
    double t0 = s_now();
    cc_schema_t *s = cc_schema_new(schema, NULL, err, sizeof err);
    assert_non_null(s);
    errs_t es;
    assert_int_equal(s_check(s, "\"v99999\"", &es), 0);
    assert_int_equal(s_check(s, "\"nope\"", &es), 1);
    s_has(&es, "", "/enum", "must be one of the 100000 allowed values");
    assert_true(s_now() - t0 < s_budget(1.0));
    cc_schema_destroy(&s);
    json_decref(schema);
}

/* json nested n levels: {"k": {"k": ... true}} */
static json_t *s_nested(const char *key, int n, json_t *leaf)
{
    for (int i = 0; i < n; i++)
        leaf = json_pack("{s:o}", key, leaf);
    return leaf;
}

static void test_limit_depth_and_steps(void **state)
{
    (void) state;
    char err[256];
    /* a schema nested far deeper than the limit: refused at compile time */
    json_t *deep = s_nested("not", 5000, json_true());
    assert_null(cc_schema_new(deep, NULL, err, sizeof err));
    assert_non_null(strstr(err, "deeper"));
    json_decref(deep);
    /* a recursive schema on a deep instance: stopped at max_depth */
    cc_schema_t *s = s_schema("{\"items\": {\"$ref\": \"#\"}}");
    json_t *inst = json_array();
    for (int i = 0; i < 5000; i++)
        inst = json_pack("[o]", inst);
    errs_t es = { .n = 0 };
    assert_int_equal(cc_schema_validate(s, inst, s_collect, &es), -1);
    assert_int_equal(es.n, 1);
    assert_non_null(strstr(es.e[0].msg, "deeper than 512"));
    json_decref(inst);
    cc_schema_destroy(&s);
    /* max_steps bounds the work of one call */
    cc_schema_opts_t o = { .max_steps = 1000 };
    s = s_schema_opts("{\"items\": {\"type\": \"integer\", \"minimum\": 0}}", &o);
    inst = json_array();
    for (int i = 0; i < 5000; i++)
        json_array_append_new(inst, json_integer(i));
    memset(&es, 0, sizeof es);
    assert_int_equal(cc_schema_validate(s, inst, s_collect, &es), -1);
    assert_non_null(strstr(es.e[es.n - 1].msg, "more than 1000 keyword evaluations"));
    json_decref(inst);
    cc_schema_destroy(&s);
}

/* ------------------------------------------------------------------ boolean and bad schemas */

static void test_boolean_schemas(void **state)
{
    (void) state;
    errs_t es;
    cc_schema_t *t = s_schema("true"), *f = s_schema("false");
    assert_int_equal(s_check(t, "{\"anything\": [1, 2]}", &es), 0);
    assert_int_equal(s_check(f, "null", &es), 1);
    s_has(&es, "", "", "no value is allowed here (the schema is false)");
    cc_schema_destroy(&t);
    cc_schema_destroy(&f);
    cc_schema_t *s = s_schema("{\"properties\": {\"legacy\": false}, \"items\": true}");
    assert_int_equal(s_check(s, "{\"legacy\": 1}", &es), 1);
    s_has(&es, "/legacy", "/properties/legacy", "property \"legacy\" is not allowed");
    assert_int_equal(s_check(s, "{\"modern\": 1}", &es), 0);
    cc_schema_destroy(&s);
    cc_schema_destroy(&s);   /* idempotent */
}

static void s_rejected(const char *text, const char *reason_part)
{
    json_t *j = s_json(text);
    char err[256] = "";
    cc_schema_t *s = cc_schema_new(j, NULL, err, sizeof err);
    json_decref(j);
    if (s || !strstr(err, reason_part))
        fail_msg("%s: expected NULL with \"%s\", got %s \"%s\"", text, reason_part,
                 s ? "a schema" : "NULL", err);
}

static void test_not_a_schema(void **state)
{
    (void) state;
    s_rejected("42", "must be an object or a boolean");
    s_rejected("\"string\"", "must be an object or a boolean");
    s_rejected("{\"type\": 12}", "/type: must be a JSON type name");
    s_rejected("{\"type\": [\"string\", \"strng\"]}", "/type: must name JSON types");
    s_rejected("{\"properties\": {\"a\": {\"minLength\": -1}}}",
               "/properties/a/minLength: must be a non-negative integer");
    s_rejected("{\"properties\": {\"a\": 3}}", "/properties/a: a schema must be an object or a boolean");
    s_rejected("{\"pattern\": \"(unclosed\"}", "/pattern: invalid regular expression");
    s_rejected("{\"patternProperties\": {\"[z-a]\": true}}", "invalid regular expression");
    s_rejected("{\"required\": \"name\"}", "/required: must be an array of strings");
    s_rejected("{\"multipleOf\": 0}", "/multipleOf: must be a number greater than 0");
    s_rejected("{\"allOf\": []}", "/allOf: must be a non-empty array of schemas");
    s_rejected("{\"$ref\": \"#/$defs/missing\"}", "/$ref: \"#/$defs/missing\" points to nothing");
    s_rejected("{\"$ref\": \"#nowhere\"}", "no anchor \"nowhere\"");
    s_rejected("{\"$ref\": 5}", "/$ref: must be a string");
    s_rejected("{\"$id\": \"http://x.example/s#frag\"}", "must not have a fragment");
    char err[8];   /* a short buffer is filled, not overrun */
    json_t *j = s_json("{\"type\": 12}");
    assert_null(cc_schema_new(j, NULL, err, sizeof err));
    assert_int_equal(strlen(err), sizeof err - 1);
    json_decref(j);
    assert_null(cc_schema_new(NULL, NULL, NULL, 0));
}

static json_t *s_meta(void *arg, const char *uri)
{
    (void) arg;
    if (strcmp(uri, "https://meta.example/strict"))
        return NULL;
    return json_pack("{s:s, s:{s:b, s:b}}", "$id", "https://meta.example/strict", "$vocabulary",
                     "https://json-schema.org/draft/2020-12/vocab/core", 1,
                     "https://vocab.example/unknown", 1);
}

static void test_unknown_required_vocabulary(void **state)
{
    (void) state;
    cc_schema_opts_t o = { .resolve = s_meta };
    json_t *j = s_json("{\"$schema\": \"https://meta.example/strict\", \"type\": \"string\"}");
    char err[256];
    assert_null(cc_schema_new(j, &o, err, sizeof err));
    assert_non_null(strstr(err, "https://vocab.example/unknown"));
    json_decref(j);
    /* a $schema nobody can load (draft-07 here) is read as 2020-12 */
    cc_schema_t *s = s_schema("{\"$schema\": \"http://json-schema.org/draft-07/schema#\","
                              " \"type\": \"string\"}");
    assert_int_equal(s_check(s, "1", NULL), 1);
    cc_schema_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors_typical_config),
        cmocka_unit_test(test_errors_paths),
        cmocka_unit_test(test_errors_combinators),
        cmocka_unit_test(test_format_annotation_vs_assertion),
        cmocka_unit_test(test_resolve_callback),
        cmocka_unit_test(test_metaschema),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_limit_catastrophic_regex),
        cmocka_unit_test(test_limit_ref_cycles),
        cmocka_unit_test(test_limit_unique_million),
        cmocka_unit_test(test_limit_big_enum),
        cmocka_unit_test(test_limit_depth_and_steps),
        cmocka_unit_test(test_boolean_schemas),
        cmocka_unit_test(test_not_a_schema),
        cmocka_unit_test(test_unknown_required_vocabulary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
