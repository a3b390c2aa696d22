/*  test_compile_artifact.c — what reaches the artifact: MCP, WAF, formats, spec names, plugins
 *  and capabilities, determinism, retry and cancel statuses. Owns its documents. */
#define _POSIX_C_SOURCE 200809L

#include "test_compile_util.h"

#define S_HEAD "openapi: 3.1.0\ninfo: {title: Shop, version: '2.1'}\n"

static json_t *s_manifest(const cc_result_t *r)
{
    json_t *m = json_loadb(r->artifact.manifest, r->artifact.manifest_len, 0, NULL);
    assert_non_null(m);
    return m;
}

static cc_status_t s_compile2(const char *f1, const char *t1, const char *f2, const char *t2,
                              const cc_options_t *o, cc_result_t *r)
{
    cc_input_t in[2] = {{f1, (const unsigned char *)t1, strlen(t1)},
                        {f2, (const unsigned char *)t2, t2 ? strlen(t2) : 0}};
    return cc_compile(in, t2 ? 2 : 1, o, s_lookup, NULL, r);
}

/* ---------------------------------------------------------------- MCP */

static const char s_mcp[] = S_HEAD
    "x-barbacane-mcp: {enabled: true}\n"
    "paths:\n"
    "  /a:\n"
    "    get: {operationId: a, x-barbacane-dispatch: {name: mock}}\n"
    "  /b:\n"
    "    get:\n"
    "      operationId: b\n"
    "      x-barbacane-mcp: {enabled: false, description: hidden tool}\n"
    "      x-barbacane-dispatch: {name: mock}\n"
    "  /c:\n"
    "    get:\n"
    "      x-barbacane-mcp: {description: described}\n"
    "      x-barbacane-dispatch: {name: mock}\n";

static void test_mcp(void **state)
{
    (void)state;
    cc_options_t o = s_opts(6);
    cc_result_t r;
    assert_int_equal(s_compile_text("api.yaml", s_mcp, &o, &r), CC_OK);
    json_t *m = s_manifest(&r), *routes = json_loads(r.routes_json, 0, NULL);
    /* Missing names come from the first spec's info. */
    s_assert_json(json_object_get(m, "mcp"),
                  "{\"enabled\":true,\"server_name\":\"Shop\",\"server_version\":\"2.1\"}");
    s_assert_json(json_object_get(s_op(routes, 0), "mcp_enabled"), "true");
    s_assert_json(json_object_get(s_op(routes, 0), "mcp_description"), "null");
    s_assert_json(json_object_get(s_op(routes, 1), "mcp_enabled"), "false");
    s_assert_json(json_object_get(s_op(routes, 1), "mcp_description"), "\"hidden tool\"");
    s_assert_json(json_object_get(s_op(routes, 2), "mcp_enabled"), "true");
    s_assert_json(json_object_get(s_op(routes, 2), "mcp_description"), "\"described\"");
    json_decref(m);
    json_decref(routes);
    cc_result_free(&r);
}

/* Without a root extension: operations opt in alone, the manifest stays disabled, and a
 * non-string info.version would default to 0.0.0 (not used when disabled). */
static void test_mcp_off(void **state)
{
    (void)state;
    static const char spec[] =
        "openapi: 3.1.0\ninfo: {title: Shop, version: 2.0}\n"
        "x-barbacane-mcp: {enabled: true, server_name: tools}\n"
        "paths:\n  /a:\n    get: {x-barbacane-mcp: {enabled: true}, "
        "x-barbacane-dispatch: {name: mock}}\n";
    cc_options_t o = s_opts(6);
    cc_result_t r;
    assert_int_equal(s_compile_text("api.yaml", spec, &o, &r), CC_OK);
    json_t *m = s_manifest(&r);
    s_assert_json(json_object_get(m, "mcp"),
                  "{\"enabled\":true,\"server_name\":\"tools\",\"server_version\":\"0.0.0\"}");
    json_decref(m);
    cc_result_free(&r);
    assert_int_equal(s_compile_text("api.yaml", S_HEAD "paths:\n  /a:\n    get: "
                     "{x-barbacane-mcp: {enabled: true}, x-barbacane-dispatch: {name: mock}}\n"
                     "  /b:\n    get: {x-barbacane-dispatch: {name: mock}}\n", &o, &r), CC_OK);
    m = s_manifest(&r);
    json_t *routes = json_loads(r.routes_json, 0, NULL);
    s_assert_json(json_object_get(m, "mcp"),
                  "{\"enabled\":false,\"server_name\":null,\"server_version\":null}");
    s_assert_json(json_object_get(s_op(routes, 0), "mcp_enabled"), "true");
    s_assert_json(json_object_get(s_op(routes, 1), "mcp_enabled"), "null");
    json_decref(m);
    json_decref(routes);
    cc_result_free(&r);
}

/* ---------------------------------------------------------------- WAF and formats */

static const char s_waf_off[] = S_HEAD
    "x-barbacane-waf:\n"
    "  enabled: false\n"
    "  ruleset: crs/\n"
    "  paranoia_level: 9\n"
    "  mode: detection-only\n"
    "  thresholds: {inbound: 7}\n"
    "  audit: 'on'\n"
    "  unsupported_rules: skip\n"
    "paths:\n  /a:\n    get: {x-barbacane-dispatch: {name: mock}}\n";

static void test_waf_disabled_recorded(void **state)
{
    (void)state;
    cc_options_t o = s_opts(6);
    cc_result_t r;
    assert_int_equal(s_compile_text("api.yaml", s_waf_off, &o, &r), CC_OK);
    assert_int_equal(r.nfindings, 0);
    json_t *m = s_manifest(&r);
    s_assert_json(json_object_get(m, "waf"),
                  "{\"enabled\":false,\"ruleset\":\"crs/\",\"paranoia_level\":4,\"mode\":"
                  "\"detection-only\",\"inbound_threshold\":7,\"outbound_threshold\":4,"
                  "\"max_response_body\":1048576,\"audit\":\"on\",\"unsupported_rules\":"
                  "\"skip\"}");
    json_decref(m);
    cc_result_free(&r);
    /* Format 4: an unknown extension, not recorded. */
    o = s_opts(4);
    assert_int_equal(s_compile_text("api.yaml", s_waf_off, &o, &r), CC_OK);
    assert_int_equal(r.nfindings, 1);
    assert_string_equal(r.findings[0].code, "E1015");
    assert_int_equal(r.findings[0].severity, CC_SEV_WARNING);
    assert_string_equal(r.findings[0].location, "api.yaml:3:1");
    m = s_manifest(&r);
    assert_null(json_object_get(m, "waf"));
    assert_int_equal(json_integer_value(json_object_get(m, "barbacane_artifact_version")), 4);
    json_decref(m);
    cc_result_free(&r);
}

static void test_waf_enabled_refused(void **state)
{
    (void)state;
    cc_options_t o = s_opts(6);
    cc_result_t r;
    /* Present without `enabled` means enabled. */
    assert_int_equal(s_compile_text("api.yaml", S_HEAD "x-barbacane-waf: {ruleset: crs/}\n"
                                    "paths: {}\n", &o, &r), CC_INVALID);
    assert_int_equal(r.nfindings, 1);
    assert_string_equal(r.findings[0].code, "E1080");
    assert_string_equal(r.findings[0].location, "api.yaml:3:18");
    assert_int_equal(r.artifact.len, 0);
    cc_result_free(&r);
}

/* ---------------------------------------------------------------- names, plugins */

static void test_spec_names(void **state)
{
    (void)state;
    static const char spec[] = S_HEAD "paths: {}\n";
    char longname[160];
    memset(longname, 'n', 120);
    strcpy(longname + 120, ".yaml");
    cc_input_t in[4] = {{"api.yaml", (const unsigned char *)spec, strlen(spec)},
                        {"x/api.yaml", (const unsigned char *)spec, strlen(spec)},
                        {"api.yaml", (const unsigned char *)"openapi: 3.1.0\n: [", 17},
                        {longname, (const unsigned char *)spec, strlen(spec)}};
    cc_options_t o = s_opts(6);
    cc_result_t r;
    assert_int_equal(cc_compile(in, 4, &o, s_lookup, NULL, &r), CC_INVALID);
    /* The broken third document is reported under its unique name. */
    assert_non_null(s_find(&r, "E1002"));
    assert_int_equal(strncmp(s_find(&r, "E1002")->location, "api-3.yaml:", 11), 0);
    cc_result_free(&r);
    assert_int_equal(cc_compile(in, 2, &o, s_lookup, NULL, &r), CC_OK);
    json_t *m = s_manifest(&r);
    json_t *specs = json_object_get(m, "source_specs");
    assert_int_equal(json_array_size(specs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(specs, 0), "file")),
                        "api-2.yaml");
    assert_string_equal(json_string_value(json_object_get(json_array_get(specs, 1), "file")),
                        "api.yaml");
    json_decref(m);
    cc_result_free(&r);
    cc_input_t two[2] = {in[0], in[3]};
    assert_int_equal(cc_compile(two, 2, &o, s_lookup, NULL, &r), CC_OK);
    m = s_manifest(&r);
    const char *f = json_string_value(json_object_get(json_array_get(
        json_object_get(m, "source_specs"), 1), "file"));
    assert_int_equal(strlen(f), 94);
    assert_string_equal(f + 89, ".yaml");
    json_decref(m);
    cc_result_free(&r);
}

static const char s_bundle[] = S_HEAD
    "x-barbacane-middlewares: [{name: rate-limit, config: {quota: 5}}, {name: cors}]\n"
    "paths:\n"
    "  /a:\n"
    "    get:\n"
    "      x-barbacane-middlewares: [{name: rate-limit@0.10.0, config: {quota: 1}}]\n"
    "      x-barbacane-dispatch: {name: http-upstream, config: {url: 'https://u'}}\n";

static void test_bundled_plugins_and_capabilities(void **state)
{
    (void)state;
    cc_options_t o = s_opts(6);
    cc_result_t r;
    assert_int_equal(s_compile_text("api.yaml", s_bundle, &o, &r), CC_OK);
    json_t *m = s_manifest(&r);
    /* Every plugin came with its embedded manifest: capabilities are enforced. */
    assert_true(json_is_true(json_object_get(m, "capabilities_enforced")));
    json_t *plugins = json_object_get(m, "plugins");
    assert_int_equal(json_array_size(plugins), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(plugins, 1), "name")),
                        "http-upstream");
    s_assert_json(json_object_get(json_array_get(plugins, 1), "capabilities"),
                  "{\"body_access\":false,\"host_functions\":[\"log\",\"http_call\"]}");
    json_decref(m);
    cc_result_free(&r);
    /* One plugin without: not enforced. */
    assert_int_equal(s_compile_text("api.yaml", S_HEAD "paths:\n  /a:\n    get: "
                                    "{x-barbacane-dispatch: {name: mock}}\n", &o, &r), CC_OK);
    m = s_manifest(&r);
    assert_true(json_is_false(json_object_get(m, "capabilities_enforced")));
    json_decref(m);
    cc_result_free(&r);
}

/* ---------------------------------------------------------------- determinism, statuses */

static void test_deterministic(void **state)
{
    (void)state;
    cc_options_t o = s_opts(6);
    cc_result_t a, b;
    assert_int_equal(s_compile2("api.yaml", s_mcp, "more.yaml", s_bundle, &o, &a), CC_INVALID);
    cc_result_free(&a);   /* /a is declared twice across the two */
    assert_int_equal(s_compile2("api.yaml", s_mcp, "more.yaml", s_waf_off, &o, &a), CC_INVALID);
    assert_non_null(s_find(&a, "E1010"));
    cc_result_free(&a);
    assert_int_equal(s_compile2("api.yaml", s_bundle, "mcp.yaml",
                                S_HEAD "paths:\n  /z:\n    get: {x-barbacane-dispatch: "
                                "{name: mock}}\n", &o, &a), CC_OK);
    assert_int_equal(s_compile2("api.yaml", s_bundle, "mcp.yaml",
                                S_HEAD "paths:\n  /z:\n    get: {x-barbacane-dispatch: "
                                "{name: mock}}\n", &o, &b), CC_OK);
    assert_int_equal(a.routes_len, b.routes_len);
    assert_memory_equal(a.routes_json, b.routes_json, a.routes_len);
    assert_int_equal(a.artifact.len, b.artifact.len);
    assert_memory_equal(a.artifact.data, b.artifact.data, a.artifact.len);
    assert_string_equal(a.artifact.artifact_hash, b.artifact.artifact_hash);
    assert_int_equal(a.routes_count, 2);
    cc_result_free(&a);
    cc_result_free(&b);
}

static void test_lookup_failure_is_retry(void **state)
{
    (void)state;
    cc_options_t o = s_opts(6);
    cc_result_t r;
    s_lookup_t failing = {.fail = 1};
    cc_input_t in = {"api.yaml", (const unsigned char *)s_bundle, strlen(s_bundle)};
    assert_int_equal(cc_compile(&in, 1, &o, s_lookup, &failing, &r), CC_RETRY);
    assert_true(strstr(r.reason, "lookup") != NULL);
    assert_int_equal(r.artifact.len, 0);
    assert_int_equal(failing.calls, 1);   /* stops at the first failed lookup */
    cc_result_free(&r);
}

static void test_cancel(void **state)
{
    (void)state;
    volatile int stop = 1;
    cc_options_t o = s_opts(6);
    o.cancel = &stop;
    cc_result_t r;
    assert_int_equal(s_compile_text("api.yaml", s_bundle, &o, &r), CC_CANCELLED);
    assert_int_equal(r.artifact.len, 0);
    cc_result_free(&r);
    assert_int_equal(cc_compile(NULL, 0, &o, s_lookup, NULL, &r), CC_INTERNAL);
    cc_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mcp),
        cmocka_unit_test(test_mcp_off),
        cmocka_unit_test(test_waf_disabled_recorded),
        cmocka_unit_test(test_waf_enabled_refused),
        cmocka_unit_test(test_spec_names),
        cmocka_unit_test(test_bundled_plugins_and_capabilities),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_lookup_failure_is_retry),
        cmocka_unit_test(test_cancel),
    };
    return cmocka_run_group_tests_name("compile-artifact", tests, NULL, NULL);
}
