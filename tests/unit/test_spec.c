/*  test_spec.c — cmocka unit tests for the spec loader (common/cm_spec.c).
 *  Owns: the test documents; every hostile case checks the exact code and line:column. */

#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cm_spec.h"

/* ---------------------------------------------------------------- helpers */

static const char s_openapi30[] =
    "openapi: 3.0.3\n"                          /* 1 */
    "info:\n"                                   /* 2 */
    "  title: Pet Store\n"                      /* 3 */
    "  version: \"1.0\"\n"                      /* 4 */
    "paths:\n"                                  /* 5 */
    "  /pets/{id}:\n"                           /* 6 */
    "    get:\n"                                /* 7 */
    "      operationId: getPet\n"               /* 8 */
    "      parameters:\n"                       /* 9 */
    "        - name: id\n"                      /* 10 */
    "          in: path\n"                      /* 11 */
    "          required: true\n"                /* 12 */
    "          schema: {type: integer, format: int64}\n"
    "      responses:\n"                        /* 14 */
    "        \"200\":\n"                        /* 15 */
    "          description: ok\n"               /* 16 */
    "components:\n"                             /* 17 */
    "  schemas:\n"                              /* 18 */
    "    \"a~b/c\": {type: string}\n"           /* 19 */
    "tags:\n"                                   /* 20 */
    "  - name: pets\n"                          /* 21 */
    "  - name: store\n";                        /* 22 */

static const char s_openapi31[] =
    "openapi: 3.1.0\n"
    "info:\n"
    "  title: Webhooks\n"
    "  version: 2.0.0\n"
    "webhooks:\n"
    "  newPet:\n"
    "    post:\n"
    "      requestBody:\n"
    "        content:\n"
    "          application/json:\n"
    "            schema: {$ref: '#/components/schemas/Pet'}\n"
    "components:\n"
    "  schemas:\n"
    "    Pet: {type: [object, 'null']}\n";

static const char s_asyncapi30[] =
    "asyncapi: 3.0.0\n"
    "info:\n"
    "  title: Account Service\n"
    "  version: 1.0.0\n"
    "channels:\n"
    "  userSignedup:\n"
    "    address: user/signedup\n"
    "operations:\n"
    "  sendUserSignedup:\n"
    "    action: send\n"
    "    channel: {$ref: '#/channels/userSignedup'}\n";

static const char s_openapi30_json[] =
    "{\n"
    "\t\"openapi\": \"3.0.3\",\n"
    "\t\"info\": {\"title\": \"Pet Store\", \"version\": \"1.0\"},\n"
    "\t\"paths\": {\"/pets/{id}\": {\"get\": {\"operationId\": \"getPet\",\n"
    "\t\t\"parameters\": [{\"name\": \"id\", \"in\": \"path\", \"required\": true}]}}}\n"
    "}\n";

static const char s_openapi31_json[] =
    "{\"openapi\":\"3.1.0\",\"info\":{\"title\":\"Min\",\"version\":\"1\"},"
    "\"paths\":{},\"x-n\":[1,2.5,null,false,\"s\"]}";

static const char s_asyncapi30_json[] =
    "{\"asyncapi\": \"3.0.0\", \"info\": {\"title\": \"Account Service\", \"version\": \"1.0.0\"},"
    " \"channels\": {}}";

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static cm_spec_doc_t *s_load(const char *text)
{
    cm_spec_issue_t issue;
    size_t n = 0;
    cm_spec_doc_t *doc = cm_spec_load(text, strlen(text), NULL, &issue, 1, &n);
    if (!doc)
        print_error("unexpected issue E%d %d:%d %s\n", issue.code, issue.line, issue.column,
                    issue.message);
    assert_non_null(doc);
    assert_int_equal(n, 0);
    return doc;
}

/* Loading must fail with exactly this first issue. */
static void s_load_fails_n(const char *text, size_t len, const cm_spec_limits_t *limits,
                           int code, int line, int column)
{
    cm_spec_issue_t issue = {0};
    size_t n = 0;
    cm_spec_doc_t *doc = cm_spec_load(text, len, limits, &issue, 1, &n);
    assert_null(doc);
    assert_int_equal(n, 1);
    if (issue.code != code || issue.line != line || issue.column != column)
        print_error("got E%d %d:%d %s\n", issue.code, issue.line, issue.column, issue.message);
    assert_int_equal(issue.code, code);
    assert_int_equal(issue.line, line);
    assert_int_equal(issue.column, column);
    assert_true(strlen(issue.message) > 0);
}

static void s_load_fails(const char *text, int code, int line, int column)
{
    s_load_fails_n(text, strlen(text), NULL, code, line, column);
}

/* Loading succeeds and classification fails with exactly this issue. */
static void s_classify_fails(const char *text, int code, int line, int column)
{
    cm_spec_doc_t *doc = s_load(text);
    cm_spec_issue_t issue = {0};
    cm_spec_type_t type = CM_SPEC_OPENAPI;
    assert_int_equal(cm_spec_classify(doc, &type, NULL, NULL, &issue), -1);
    if (issue.code != code || issue.line != line || issue.column != column)
        print_error("got E%d %d:%d %s\n", issue.code, issue.line, issue.column, issue.message);
    assert_int_equal(type, CM_SPEC_UNKNOWN);
    assert_int_equal(issue.code, code);
    assert_int_equal(issue.line, line);
    assert_int_equal(issue.column, column);
    cm_spec_doc_destroy(&doc);
}

static void s_classify_ok(const char *text, cm_spec_type_t want, const char *version,
                          const char *title)
{
    cm_spec_doc_t *doc = s_load(text);
    cm_spec_type_t type = CM_SPEC_UNKNOWN;
    const char *v = NULL, *t = NULL;
    cm_spec_issue_t issue;
    assert_int_equal(cm_spec_classify(doc, &type, &v, &t, &issue), 0);
    assert_int_equal(type, want);
    assert_string_equal(v, version);
    assert_string_equal(t, title);
    cm_spec_doc_destroy(&doc);
    assert_null(doc);
    cm_spec_doc_destroy(&doc);   /* idempotent */
}

static const char *s_str_at(const cm_spec_doc_t *doc, const char *pointer)
{
    return cm_spec_str(cm_spec_pointer(doc, pointer), NULL);
}

/* ---------------------------------------------------------------- valid documents */

static void test_valid_yaml(void **state)
{
    (void)state;
    s_classify_ok(s_openapi30, CM_SPEC_OPENAPI, "3.0.3", "Pet Store");
    s_classify_ok(s_openapi31, CM_SPEC_OPENAPI, "3.1.0", "Webhooks");
    s_classify_ok(s_asyncapi30, CM_SPEC_ASYNCAPI, "3.0.0", "Account Service");
    s_classify_ok("openapi: '3.1'\ninfo: {title: ''}\n", CM_SPEC_OPENAPI, "3.1", "");
    s_classify_ok("asyncapi: 3.1.0\ninfo: {title: X}\n", CM_SPEC_ASYNCAPI, "3.1.0", "X");
}

static void test_valid_json(void **state)
{
    (void)state;
    s_classify_ok(s_openapi30_json, CM_SPEC_OPENAPI, "3.0.3", "Pet Store");
    s_classify_ok(s_openapi31_json, CM_SPEC_OPENAPI, "3.1.0", "Min");
    s_classify_ok(s_asyncapi30_json, CM_SPEC_ASYNCAPI, "3.0.0", "Account Service");

    cm_spec_doc_t *doc = s_load(s_openapi31_json);
    const cm_spec_node_t *xn = cm_spec_pointer(doc, "/x-n");
    assert_int_equal(cm_spec_len(xn), 5);
    assert_int_equal(cm_spec_kind(cm_spec_at(xn, 0)), CM_NODE_INT);
    assert_int_equal(cm_spec_kind(cm_spec_at(xn, 1)), CM_NODE_FLOAT);
    assert_int_equal(cm_spec_kind(cm_spec_at(xn, 2)), CM_NODE_NULL);
    assert_int_equal(cm_spec_kind(cm_spec_at(xn, 3)), CM_NODE_BOOL);
    assert_int_equal(cm_spec_kind(cm_spec_at(xn, 4)), CM_NODE_STRING);
    cm_spec_doc_destroy(&doc);

    /* Tab-indented JSON: marks count a tab as one column. */
    doc = s_load(s_openapi30_json);
    int line, col;
    cm_spec_mark(cm_spec_pointer(doc, "/paths/~1pets~1{id}/get/parameters/0/required"), &line,
                 &col);
    assert_int_equal(line, 5);
    assert_int_equal(col, 59);
    assert_true(cm_spec_kind(cm_spec_pointer(doc, "/paths/~1pets~1{id}/get/parameters/0/required"))
                == CM_NODE_BOOL);
    cm_spec_doc_destroy(&doc);
}

static void test_pointer(void **state)
{
    (void)state;
    cm_spec_doc_t *doc = s_load(s_openapi30);
    const char *op = "/paths/~1pets~1{id}/get/operationId";
    assert_string_equal(s_str_at(doc, op), "getPet");
    assert_string_equal(s_str_at(doc, "#/paths/~1pets~1%7Bid%7D/get/operationId"), "getPet");
    assert_string_equal(s_str_at(doc, "/components/schemas/a~0b~1c/type"), "string");
    assert_string_equal(s_str_at(doc, "#/components/schemas/a~0b~1c/type"), "string");
    assert_string_equal(s_str_at(doc, "/tags/1/name"), "store");
    assert_string_equal(s_str_at(doc, "/tags/0/name"), "pets");
    assert_ptr_equal(cm_spec_pointer(doc, ""), cm_spec_root(doc));
    assert_ptr_equal(cm_spec_pointer(doc, "#"), cm_spec_root(doc));
    assert_ptr_equal(cm_spec_pointer(doc, "/info"), cm_spec_get(cm_spec_root(doc), "info"));
    /* Absent or malformed. */
    const char *bad[] = {"/tags/01", "/tags/-", "/tags/2", "/tags/x", "paths", "/",
                         "/components/schemas/a~2b", "/components/schemas/a~", "#/info%zz",
                         "#/info%4", "/openapi/x", "/paths/~1pets~1%7Bid%7D", "/nope"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (cm_spec_pointer(doc, bad[i]))
            print_error("pointer %s should not resolve\n", bad[i]);
        assert_null(cm_spec_pointer(doc, bad[i]));
    }
    /* A pointer longer than the on-stack buffer. */
    char longp[600];
    size_t n = 0;
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(longp + n, sizeof longp - n, "/zz");
    assert_null(cm_spec_pointer(doc, longp));
    snprintf(longp, sizeof longp, "#/info/%0400d", 0);
    assert_null(cm_spec_pointer(doc, longp));
    assert_null(cm_spec_pointer(NULL, ""));
    assert_null(cm_spec_pointer(doc, NULL));
    cm_spec_doc_destroy(&doc);
}

static void test_iteration_order(void **state)
{
    (void)state;
    /* 12 keys: above the linear-search threshold, so lookups go through the sorted index. */
    const char *text = "zeta: 0\nalpha: 1\nmid: 2\nk3: 3\nk4: 4\nb: 5\nk6: 6\nk7: 7\n"
                       "a: 8\nk9: 9\n\"\": 10\nk11: 11\n";
    const char *order[] = {"zeta", "alpha", "mid", "k3", "k4", "b", "k6", "k7", "a", "k9", "",
                           "k11"};
    cm_spec_doc_t *doc = s_load(text);
    const cm_spec_node_t *root = cm_spec_root(doc);
    assert_int_equal(cm_spec_len(root), 12);
    for (size_t i = 0; i < 12; i++) {
        const cm_spec_node_t *value = NULL;
        assert_string_equal(cm_spec_key_at(root, i, &value), order[i]);
        int64_t v = -1;
        assert_int_equal(cm_spec_int(value, &v), 0);
        assert_int_equal(v, (int64_t)i);
        assert_ptr_equal(cm_spec_get(root, order[i]), value);
        int line, col;
        cm_spec_mark(cm_spec_key_node_at(root, i), &line, &col);
        assert_int_equal(line, (int)i + 1);
        assert_int_equal(col, 1);
    }
    assert_ptr_equal(cm_spec_pointer(doc, "/"), cm_spec_get(root, ""));
    assert_null(cm_spec_get(root, "zzz"));
    assert_null(cm_spec_get(root, "k"));
    assert_null(cm_spec_key_at(root, 12, NULL));
    /* Small map path. */
    cm_spec_doc_destroy(&doc);
    doc = s_load("c: 1\nb: 2\na: 3\n");
    assert_string_equal(cm_spec_key_at(cm_spec_root(doc), 0, NULL), "c");
    assert_string_equal(cm_spec_key_at(cm_spec_root(doc), 2, NULL), "a");
    assert_string_equal(cm_spec_str(cm_spec_get(cm_spec_root(doc), "b"), NULL), "2");
    cm_spec_doc_destroy(&doc);
}

static void test_marks(void **state)
{
    (void)state;
    cm_spec_doc_t *doc = s_load(s_openapi30);
    int line = 0, col = 0;
    cm_spec_mark(cm_spec_pointer(doc, "/paths/~1pets~1{id}/get/operationId"), &line, &col);
    assert_int_equal(line, 8);
    assert_int_equal(col, 20);
    cm_spec_mark(cm_spec_pointer(doc, "/paths/~1pets~1{id}/get/parameters/0"), &line, &col);
    assert_int_equal(line, 10);
    assert_int_equal(col, 11);
    cm_spec_mark(cm_spec_pointer(doc, "/paths/~1pets~1{id}/get/parameters/0/schema/format"), &line,
                 &col);
    assert_int_equal(line, 13);
    assert_int_equal(col, 43);
    const cm_spec_node_t *get = cm_spec_pointer(doc, "/paths/~1pets~1{id}/get");
    cm_spec_mark(cm_spec_key_node_at(get, 1), &line, &col);   /* the "parameters" key */
    assert_int_equal(line, 9);
    assert_int_equal(col, 7);
    cm_spec_doc_destroy(&doc);

    /* BOM, CRLF and multibyte characters: columns count characters after the BOM. */
    doc = s_load("\xEF\xBB\xBF" "a: 1\r\n\xC3\xA9\xC3\xA9: [1, x]\r\n");
    cm_spec_mark(cm_spec_get(cm_spec_root(doc), "a"), &line, &col);
    assert_int_equal(line, 1);
    assert_int_equal(col, 4);
    cm_spec_mark(cm_spec_pointer(doc, "/\xC3\xA9\xC3\xA9/1"), &line, &col);
    assert_int_equal(line, 2);
    assert_int_equal(col, 9);
    cm_spec_mark(NULL, &line, &col);
    assert_int_equal(line, 0);
    cm_spec_doc_destroy(&doc);
}

static void test_scalar_typing(void **state)
{
    (void)state;
    const char *text = "q_true: \"true\"\np_true: true\np_True: False\noct: 010\nhex: 0x1F\n"
                       "o: 0o17\nf: 1.5\ne: 1e3\nninf: -.inf\nnan: .NaN\ntilde: ~\nnul: null\n"
                       "empty:\ns_num: \"123\"\nsq: '1.5'\ntagged: !!str 123\nbang: ! 123\n"
                       "block: |\n  text\nver: 3.0.3\nneg: -12\nbig: 99999999999999999999\n"
                       "dot: .\nplus: +\nword: yes\nmin: -9223372036854775808\nhalf: .5\n"
                       "tagint: !!int 7\n";
    struct {
        const char *key;
        cm_node_kind_t kind;
    } want[] = {{"q_true", CM_NODE_STRING}, {"p_true", CM_NODE_BOOL},   {"p_True", CM_NODE_BOOL},
                {"oct", CM_NODE_INT},       {"hex", CM_NODE_INT},       {"o", CM_NODE_INT},
                {"f", CM_NODE_FLOAT},       {"e", CM_NODE_FLOAT},       {"ninf", CM_NODE_FLOAT},
                {"nan", CM_NODE_FLOAT},     {"tilde", CM_NODE_NULL},    {"nul", CM_NODE_NULL},
                {"empty", CM_NODE_NULL},    {"s_num", CM_NODE_STRING},  {"sq", CM_NODE_STRING},
                {"tagged", CM_NODE_STRING}, {"bang", CM_NODE_STRING},   {"block", CM_NODE_STRING},
                {"ver", CM_NODE_STRING},    {"neg", CM_NODE_INT},       {"big", CM_NODE_INT},
                {"dot", CM_NODE_STRING},    {"plus", CM_NODE_STRING},   {"word", CM_NODE_STRING},
                {"min", CM_NODE_INT},       {"half", CM_NODE_FLOAT},    {"tagint", CM_NODE_INT}};
    cm_spec_doc_t *doc = s_load(text);
    const cm_spec_node_t *root = cm_spec_root(doc);
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        cm_node_kind_t got = cm_spec_kind(cm_spec_get(root, want[i].key));
        if (got != want[i].kind)
            print_error("%s: kind %s\n", want[i].key, cm_spec_kind_name(got));
        assert_int_equal(got, want[i].kind);
    }
    int64_t v;
    double d;
    bool b = true;
    assert_int_equal(cm_spec_int(cm_spec_get(root, "oct"), &v), 0);
    assert_int_equal(v, 10);
    assert_int_equal(cm_spec_int(cm_spec_get(root, "hex"), &v), 0);
    assert_int_equal(v, 31);
    assert_int_equal(cm_spec_int(cm_spec_get(root, "o"), &v), 0);
    assert_int_equal(v, 15);
    assert_int_equal(cm_spec_int(cm_spec_get(root, "neg"), &v), 0);
    assert_int_equal(v, -12);
    assert_int_equal(cm_spec_int(cm_spec_get(root, "min"), &v), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(cm_spec_int(cm_spec_get(root, "big"), &v), -1);
    assert_int_equal(cm_spec_int(cm_spec_get(root, "s_num"), &v), -1);
    assert_int_equal(cm_spec_float(cm_spec_get(root, "f"), &d), 0);
    assert_true(d == 1.5);
    assert_int_equal(cm_spec_float(cm_spec_get(root, "e"), &d), 0);
    assert_true(d == 1000.0);
    assert_int_equal(cm_spec_float(cm_spec_get(root, "oct"), &d), 0);
    assert_true(d == 10.0);
    assert_int_equal(cm_spec_float(cm_spec_get(root, "ninf"), &d), 0);
    assert_true(isinf(d) && d < 0);
    assert_int_equal(cm_spec_float(cm_spec_get(root, "nan"), &d), 0);
    assert_true(isnan(d));
    assert_int_equal(cm_spec_float(cm_spec_get(root, "big"), &d), 0);
    assert_true(d > 9e19);
    assert_int_equal(cm_spec_bool(cm_spec_get(root, "p_True"), &b), 0);
    assert_false(b);
    assert_int_equal(cm_spec_bool(cm_spec_get(root, "q_true"), &b), -1);
    size_t len = 0;
    assert_string_equal(cm_spec_str(cm_spec_get(root, "block"), &len), "text\n");
    assert_int_equal(len, 5);
    assert_string_equal(cm_spec_str(cm_spec_get(root, "empty"), NULL), "");
    assert_null(cm_spec_str(root, &len));
    assert_int_equal(len, 0);
    cm_spec_doc_destroy(&doc);
}

static void test_aliases_and_merge_keys(void **state)
{
    (void)state;
    cm_spec_doc_t *doc = s_load("base: &b {x: 1}\nderived:\n  <<: *b\n  y: 2\nagain: *b\n");
    const cm_spec_node_t *root = cm_spec_root(doc);
    /* Aliases share the anchored node, mark included (a node starts at its anchor). */
    assert_ptr_equal(cm_spec_get(root, "again"), cm_spec_get(root, "base"));
    int line, col;
    cm_spec_mark(cm_spec_get(root, "again"), &line, &col);
    assert_int_equal(line, 1);
    assert_int_equal(col, 7);
    /* Merge keys are ordinary keys. */
    const cm_spec_node_t *derived = cm_spec_get(root, "derived");
    assert_int_equal(cm_spec_len(derived), 2);
    assert_string_equal(cm_spec_key_at(derived, 0, NULL), "<<");
    assert_null(cm_spec_get(derived, "x"));
    assert_ptr_equal(cm_spec_get(derived, "<<"), cm_spec_get(root, "base"));
    cm_spec_doc_destroy(&doc);

    s_load_fails("a: &x [1, *x]\n", 1002, 1, 11);
    s_load_fails("a: 1\nb: *nope\n", 1002, 2, 4);
    /* A node may be re-anchored; the alias takes the latest definition. */
    doc = s_load("a: &x 1\nb: &x 2\nc: *x\n");
    assert_string_equal(s_str_at(doc, "/c"), "2");
    cm_spec_doc_destroy(&doc);
}

/* ---------------------------------------------------------------- rejected documents */

static void test_not_a_spec(void **state)
{
    (void)state;
    s_classify_fails("swagger: \"2.0\"\ninfo: {title: x, version: '1'}\n", 1001, 1, 10);
    s_classify_fails("info:\n  title: x\npaths: {}\n", 1001, 1, 1);
    s_classify_fails("openapi: 3\ninfo: {title: x}\n", 1001, 1, 10);
    s_classify_fails("openapi: 3.1\ninfo: {title: x}\n", 1001, 1, 10);
    s_classify_fails("info: {title: x}\nopenapi: [3]\n", 1001, 2, 10);
    s_classify_fails("openapi: 3.0.0\nasyncapi: 3.0.0\ninfo: {title: x}\n", 1001, 2, 11);
}

static void test_unsupported_version(void **state)
{
    (void)state;
    s_classify_fails("openapi: \"2.5\"\ninfo: {title: x}\n", 1004, 1, 10);
    s_classify_fails("openapi: \"4.0\"\ninfo: {title: x}\n", 1004, 1, 10);
    s_classify_fails("openapi: 3.2.0\ninfo: {title: x}\n", 1004, 1, 10);
    s_classify_fails("openapi: 3.01.0\ninfo: {title: x}\n", 1004, 1, 10);
    s_classify_fails("openapi: 3.0.\ninfo: {title: x}\n", 1004, 1, 10);
    s_classify_fails("openapi: 3.0.0-rc1\ninfo: {title: x}\n", 1004, 1, 10);
    s_classify_fails("asyncapi: 2.6.0\ninfo: {title: x}\n", 1004, 1, 11);
}

static void test_missing_info(void **state)
{
    (void)state;
    s_classify_fails("openapi: 3.0.3\npaths: {}\n", 1004, 1, 1);
    s_classify_fails("openapi: 3.0.3\ninfo:\n  version: '1'\n", 1004, 3, 3);
    s_classify_fails("openapi: 3.0.3\ninfo:\n  title: 42\n", 1004, 3, 10);
    s_classify_fails("openapi: 3.0.3\ninfo: [title]\n", 1004, 2, 7);
    s_classify_fails("asyncapi: 3.0.0\ninfo: {version: '1'}\n", 1004, 2, 7);
}

static void test_syntax_error(void **state)
{
    (void)state;
    s_load_fails("openapi: 3.0.0\ninfo:\n  title: \"x\"\n   version: 1\n", 1002, 4, 4);
    s_load_fails("openapi: 3.0.0\npaths:\n  /a:\n    get: [1, 2\n  /b: {}\n", 1002, 5, 5);
    s_load_fails("a: \"unterminated\n", 1002, 2, 1);
}

static void test_root_not_mapping(void **state)
{
    (void)state;
    s_load_fails("- openapi: 3.0.0\n- info: {}\n", 1002, 1, 1);
    s_load_fails("\n\n  hello\n", 1002, 3, 3);
    s_load_fails("", 1002, 1, 1);
    s_load_fails("# only a comment\n", 1002, 1, 1);
    s_load_fails("---\n", 1002, 2, 1);   /* null root: libyaml marks the empty scalar at 2:1 */
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    s_load_fails("openapi: 3.0.0\ninfo: {title: a, title: b}\n", 1002, 2, 18);
    s_load_fails("a: 1\nb: 2\nc: 3\nd: 4\ne: 5\nf: 6\ng: 7\nh: 8\ni: 9\nj: 10\n  \n\"c\": 11\n",
                 1002, 12, 1);
    /* Keys compare by text: plain 1 and quoted "1" collide. */
    s_load_fails("1: a\n\"1\": b\n", 1002, 2, 1);

    /* All duplicates are reported, sorted by position. */
    cm_spec_issue_t issues[4];
    size_t n = 0;
    const char *text = "x: 1\ny:\n  p: 1\n  p: 2\nx: 3\n";
    assert_null(cm_spec_load(text, strlen(text), NULL, issues, 4, &n));
    assert_int_equal(n, 2);
    assert_int_equal(issues[0].line, 4);
    assert_int_equal(issues[0].column, 3);
    assert_int_equal(issues[1].line, 5);
    assert_int_equal(issues[1].column, 1);
    assert_non_null(strstr(issues[1].message, "first at line 1, column 1"));
    assert_null(cm_spec_load(text, strlen(text), NULL, issues, 1, &n));
    assert_int_equal(n, 1);
    assert_null(cm_spec_load(text, strlen(text), NULL, NULL, 0, NULL));
}

static void test_encoding(void **state)
{
    (void)state;
    /* "  title: caf" is 12 characters: the stray Latin-1 byte is column 13. */
    s_load_fails("openapi: 3.0.0\ninfo:\n  title: caf\xE9\n", 1002, 3, 13);
    s_load_fails("openapi: 3.0.0\ninfo:\n  title: \"ab\xC3\x28\"\n", 1002, 3, 13);
    s_load_fails("a: \"\xC3\xA9\xC0\xAF\"\n", 1002, 1, 6);            /* overlong */
    s_load_fails("a: \xED\xA0\x80\n", 1002, 1, 4);                     /* surrogate */
    s_load_fails("a: \xF4\x90\x80\x80\n", 1002, 1, 4);                 /* > U+10FFFF */
    s_load_fails("a: \xE2\x82\n", 1002, 1, 4);                         /* truncated */
    s_load_fails("a: b\x01\n", 1002, 1, 5);                            /* control */
    s_load_fails_n("a: x\0y\n", 7, NULL, 1002, 1, 5);                  /* NUL byte */
    s_load_fails("a: \"x\\0y\"\n", 1002, 1, 4);                        /* NUL escape */
    s_load_fails("{\"a\": \"\\u0000\"}", 1002, 1, 7);
    s_load_fails("\xFF\xFE" "a\0:\0", 1002, 1, 1);                     /* UTF-16 BOM */
    cm_spec_doc_t *doc = s_load("\xEF\xBB\xBF{\"a\": \"\\u00e9 \xF0\x9F\x98\x80\"}");
    assert_string_equal(s_str_at(doc, "/a"), "\xC3\xA9 \xF0\x9F\x98\x80");
    cm_spec_doc_destroy(&doc);
}

static void test_multi_document(void **state)
{
    (void)state;
    s_load_fails("openapi: 3.0.0\n---\nopenapi: 3.1.0\n", 1002, 2, 1);
    s_load_fails("---\na: 1\n...\n---\nb: 2\n", 1002, 4, 1);
    cm_spec_doc_t *doc = s_load("---\na: 1\n...\n");
    cm_spec_doc_destroy(&doc);
}

static void test_billion_laughs(void **state)
{
    (void)state;
    const char *text = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
                       "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                       "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                       "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                       "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                       "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
                       "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
                       "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
    double t0 = s_now();
    cm_spec_issue_t issue;
    size_t n = 0;
    assert_null(cm_spec_load(text, strlen(text), NULL, &issue, 1, &n));
    double elapsed = s_now() - t0;
    assert_int_equal(n, 1);
    assert_int_equal(issue.code, 1002);
    /* Levels a..f expand to 672,588 nodes; the first *f on line 7 (597,871 more) crosses 10^6. */
    assert_int_equal(issue.line, 7);
    assert_non_null(strstr(issue.message, "aliases expand"));
    assert_true(elapsed < 1.0);

    /* The same shape within a raised limit loads, sharing nodes. */
    cm_spec_limits_t lim = {.max_alias_expansions = 20000};
    const char *small = "a: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n";
    cm_spec_doc_t *doc = cm_spec_load(small, strlen(small), &lim, NULL, 0, NULL);
    assert_non_null(doc);
    assert_ptr_equal(cm_spec_pointer(doc, "/c/2/1"), cm_spec_pointer(doc, "/a"));
    cm_spec_doc_destroy(&doc);
    lim.max_alias_expansions = 20;   /* line 2 expands 3 x 4 = 12, the first *b 13 more */
    s_load_fails_n(small, strlen(small), &lim, 1002, 3, 5);
}

/* Test allocations cannot usefully fail; abort() also tells the compiler the result is set. */
static char *s_xmalloc(size_t n)
{
    char *p = malloc(n);
    if (!p)
        abort();
    return p;
}

/* prefix, then open n times, mid, close n times. */
static char *s_repeat(const char *prefix, const char *open, const char *mid, const char *close,
                      size_t n)
{
    size_t lp = strlen(prefix), lo = strlen(open), lm = strlen(mid), lc = strlen(close);
    char *buf = s_xmalloc(lp + n * (lo + lc) + lm + 1);
    memcpy(buf, prefix, lp);
    char *p = buf + lp;
    for (size_t i = 0; i < n; i++, p += lo)
        memcpy(p, open, lo);
    memcpy(p, mid, lm);
    p += lm;
    for (size_t i = 0; i < n; i++, p += lc)
        memcpy(p, close, lc);
    *p = '\0';
    return buf;
}

static void test_deep_nesting(void **state)
{
    (void)state;
    double t0 = s_now();
    char *text = s_repeat("", "[", "", "]", 10000);
    s_load_fails(text, 1002, 1, 129);
    free(text);
    text = s_repeat("", "a: {", "a: 1", "}", 10000);
    s_load_fails(text, 1002, 1, 4 * 128);
    free(text);
    assert_true(s_now() - t0 < 1.0);

    /* Exactly at the limit loads; one more level does not. Root mapping = 1. */
    text = s_repeat("a: ", "[", "1", "]", 127);
    cm_spec_doc_t *doc = s_load(text);
    cm_spec_doc_destroy(&doc);
    free(text);
    text = s_repeat("a: ", "[", "1", "]", 128);
    s_load_fails(text, 1002, 1, 4 + 127);
    free(text);

    /* Block style too: 200 levels of indentation. */
    size_t cap = 200 * 210, n = 0;
    text = s_xmalloc(cap);
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(text + n, cap - n, "%*sk:\n", i, "");
    s_load_fails(text, 1002, 129, 129);   /* depth d starts at line d, column d */
    free(text);
}

static void test_limits(void **state)
{
    (void)state;
    cm_spec_limits_t lim = {.max_nodes = 6};
    s_load_fails_n("a: 1\nb: 2\nc: 3\nd: 4\n", 20, &lim, 1002, 3, 4);   /* 7th node */
    lim = (cm_spec_limits_t){.max_bytes = 10};
    s_load_fails_n("openapi: 3.0.0\n", 15, &lim, 1002, 0, 0);
    lim = (cm_spec_limits_t){.max_depth = 2};
    s_load_fails_n("a: {b: {c: 1}}\n", 15, &lim, 1002, 1, 8);
    s_load_fails("? [a, b]\n: 1\n", 1002, 1, 3);
    s_load_fails_n(NULL, 5, NULL, 0, 0, 0);
    cm_spec_doc_t *doc = cm_spec_load(NULL, 0, NULL, NULL, 0, NULL);
    assert_null(doc);
    /* Accessors tolerate NULL so lookups can chain. */
    assert_null(cm_spec_root(NULL));
    assert_null(cm_spec_get(NULL, "a"));
    assert_null(cm_spec_at(NULL, 0));
    assert_int_equal(cm_spec_len(NULL), 0);
    assert_int_equal(cm_spec_kind(NULL), CM_NODE_NULL);
    assert_null(cm_spec_str(cm_spec_get(cm_spec_get(NULL, "info"), "title"), NULL));
    cm_spec_doc_destroy(NULL);
}

/* A large map of many distinct keys takes the sorted-index path for every lookup. */
static void test_big_map(void **state)
{
    (void)state;
    size_t cap = 20000 * 24, n = 0;
    char *text = s_xmalloc(cap);
    for (int i = 0; i < 20000; i++)
        n += (size_t)snprintf(text + n, cap - n, "key%d: %d\n", (i * 7919) % 20000, i);
    cm_spec_doc_t *doc = s_load(text);
    const cm_spec_node_t *root = cm_spec_root(doc);
    assert_int_equal(cm_spec_len(root), 20000);
    for (int i = 0; i < 20000; i += 997) {
        char key[16];
        snprintf(key, sizeof key, "key%d", (i * 7919) % 20000);
        int64_t v;
        assert_int_equal(cm_spec_int(cm_spec_get(root, key), &v), 0);
        assert_int_equal(v, i);
    }
    cm_spec_doc_destroy(&doc);
    free(text);
}

/* ---------------------------------------------------------------- allocation failures */

/* Sanitizers own malloc; the hook also needs glibc's __libc_* entry points. */
#if defined(__SANITIZE_ADDRESS__) || !defined(__GLIBC__)
#define S_MALLOC_HOOK 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define S_MALLOC_HOOK 0
#endif
#endif
#ifndef S_MALLOC_HOOK
#define S_MALLOC_HOOK 1
#endif

#if S_MALLOC_HOOK
/* Replaces malloc for the whole process (libyaml included) so the n-th allocation can fail. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
static long s_fail_countdown = -1;   /* -1: never fail */
static long s_alloc_calls;
static long s_live;                  /* blocks allocated and not yet freed */
static long s_big[64];               /* indices of allocations >= 64 KiB: the arena blocks */
static size_t s_n_big;

static bool s_should_fail(void)
{
    s_alloc_calls++;
    return s_fail_countdown >= 0 && s_fail_countdown-- == 0;
}

void *malloc(size_t n)
{
    if (n >= 65536 && s_n_big < sizeof s_big / sizeof *s_big)
        s_big[s_n_big++] = s_alloc_calls;
    void *p = s_should_fail() ? NULL : __libc_malloc(n);
    s_live += p != NULL;
    return p;
}

void *calloc(size_t n, size_t m)
{
    void *p = s_should_fail() ? NULL : __libc_calloc(n, m);
    s_live += p != NULL;
    return p;
}

void *realloc(void *p, size_t n)
{
    void *q = s_should_fail() ? NULL : __libc_realloc(p, n);
    s_live += !p && q;
    return q;
}

void free(void *p)
{
    s_live -= p != NULL;
    __libc_free(p);
}

/* Loads with the k-th allocation failing; returns whether the load succeeded. */
static bool s_load_failing_at(const char *text, size_t n, long k)
{
    cm_spec_issue_t issue = {.code = -1};
    size_t ni = 0;
    long live = s_live;
    s_fail_countdown = k;
    cm_spec_doc_t *doc = cm_spec_load(text, n, NULL, &issue, 1, &ni);
    bool injected = s_fail_countdown < 0;
    s_fail_countdown = -1;
    if (!doc) {
        assert_true(injected);
        assert_int_equal(ni, 1);
        if (issue.code != 0)
            print_error("allocation %ld: E%d %s\n", k, issue.code, issue.message);
        assert_int_equal(issue.code, 0);
        assert_int_equal(s_live, live);   /* nothing leaked on the failure path */
        return false;
    }
    assert_string_equal(s_str_at(doc, "/alias"), "T");
    assert_string_equal(s_str_at(doc, "/m/k0/1/x"), "1");
    cm_spec_doc_destroy(&doc);
    assert_int_equal(s_live, live);
    return true;
}

static size_t s_alloc_doc(char *text, size_t cap, int entries, int pad)
{
    size_t n = (size_t)snprintf(text, cap, "openapi: 3.0.0\ninfo: {title: &t T}\nalias: *t\n"
                                           "pad: %0*d\nm:\n", pad + 1, 0);
    for (int i = 0; i < entries; i++)
        n += (size_t)snprintf(text + n, cap - n, "  k%d: [&s%d v, &a%d {x: 1}, %s]\n", i, i, i,
                              i % 2 ? "{a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9}" : "0");
    return n;
}

static void test_allocation_failures(void **state)
{
    (void)state;
    /* Several arena blocks, indexed maps, anchors, the scratch stack and libyaml's own buffers. */
    size_t cap = 1 << 20;
    char *text = __libc_malloc(cap);
    assert_non_null(text);
    size_t n = s_alloc_doc(text, cap, 2000, 0);
    s_alloc_calls = 0;
    assert_true(s_load_failing_at(text, n, -1));
    long total = s_alloc_calls;
    if (total == 0) {   /* valgrind replaced our malloc (run it with somalloc=nouserintercepts) */
        __libc_free(text);
        skip();
    }
    print_message("one load makes %ld allocations\n", total);
    int failures = 0;
    /* Every one of the first 300 allocations, then a spread over the rest. */
    for (long k = 0; k < total; k += k < 300 ? 1 : total / 300 + 1)
        failures += !s_load_failing_at(text, n, k);
    assert_true(failures > 300);
    assert_true(s_load_failing_at(text, n, total + 1));
    /* Each arena block, with the block boundaries shifted to land in every kind of allocation. */
    for (int pad = 0; pad < 300; pad += 7) {
        n = s_alloc_doc(text, cap, 2000, pad);
        s_n_big = 0;
        s_alloc_calls = 0;
        assert_true(s_load_failing_at(text, n, -1));
        size_t n_big = s_n_big;
        long big[sizeof s_big / sizeof *s_big];
        memcpy(big, s_big, sizeof big);
        assert_true(n_big >= 2);   /* the first block and at least one more */
        for (size_t i = 0; i < n_big; i++)
            assert_false(s_load_failing_at(text, n, big[i]));
    }
    __libc_free(text);
    /* A small document: every single allocation. */
    const char *small = "openapi: 3.0.0\ninfo: {title: &t T}\nalias: *t\nm: {k0: [v, {x: 1}]}\n";
    s_alloc_calls = 0;
    assert_true(s_load_failing_at(small, strlen(small), -1));
    total = s_alloc_calls;
    for (long k = 0; k < total; k++)
        assert_false(s_load_failing_at(small, strlen(small), k));
}
#else
static void test_allocation_failures(void **state)
{
    (void)state;
    skip();   /* a sanitizer owns malloc, or not glibc */
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_yaml),
        cmocka_unit_test(test_valid_json),
        cmocka_unit_test(test_pointer),
        cmocka_unit_test(test_iteration_order),
        cmocka_unit_test(test_marks),
        cmocka_unit_test(test_scalar_typing),
        cmocka_unit_test(test_aliases_and_merge_keys),
        cmocka_unit_test(test_not_a_spec),
        cmocka_unit_test(test_unsupported_version),
        cmocka_unit_test(test_missing_info),
        cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_root_not_mapping),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_encoding),
        cmocka_unit_test(test_multi_document),
        cmocka_unit_test(test_billion_laughs),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_big_map),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
