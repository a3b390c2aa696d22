/*  test_compile.c — the §12 golden example end to end (routes.json, artifact_hash, tar; both
 *  formats) and concurrent compilations. Owns its documents; plugins: test_compile_util.h. */
#define _POSIX_C_SOURCE 200809L

#include "test_compile_util.h"
#include "bca_example.h"

#include <pthread.h>
#include <zlib.h>

/* s_api_yaml (bca_example.h) is the §12.1 spec: 677 bytes, sha256 1187a5c5... */

/* BCA-FORMAT §12.2, exactly. */
static const char s_expected_routes[] =
    "{\n"
    "  \"operations\": [\n"
    "    {\n"
    "      \"index\": 0,\n"
    "      \"path\": \"/hello\",\n"
    "      \"method\": \"GET\",\n"
    "      \"operation_id\": \"getHello\",\n"
    "      \"summary\": \"Say hello\",\n"
    "      \"description\": null,\n"
    "      \"parameters\": [\n"
    "        {\n"
    "          \"name\": \"X-Trace-Id\",\n"
    "          \"location\": \"header\",\n"
    "          \"required\": false,\n"
    "          \"schema\": {\n"
    "            \"type\": \"string\"\n"
    "          }\n"
    "        }\n"
    "      ],\n"
    "      \"request_body\": null,\n"
    "      \"dispatch\": {\n"
    "        \"name\": \"mock\",\n"
    "        \"config\": {\n"
    "          \"body\": \"{\\\"message\\\":\\\"hello\\\"}\",\n"
    "          \"status\": 200\n"
    "        }\n"
    "      },\n"
    "      \"middlewares\": [],\n"
    "      \"deprecated\": false,\n"
    "      \"sunset\": null,\n"
    "      \"responses\": {\n"
    "        \"200\": {\n"
    "          \"content\": {\n"
    "            \"application/json\": {\n"
    "              \"schema\": {\n"
    "                \"$defs\": {\n"
    "                  \"Greeting\": {\n"
    "                    \"properties\": {\n"
    "                      \"message\": {\n"
    "                        \"type\": \"string\"\n"
    "                      }\n"
    "                    },\n"
    "                    \"type\": \"object\"\n"
    "                  }\n"
    "                },\n"
    "                \"$ref\": \"#/$defs/Greeting\"\n"
    "              }\n"
    "            }\n"
    "          }\n"
    "        }\n"
    "      },\n"
    "      \"mcp_enabled\": null,\n"
    "      \"mcp_description\": null,\n"
    "      \"allowed_request_headers\": [\n"
    "        \"x-trace-id\"\n"
    "      ]\n"
    "    }\n"
    "  ]\n"
    "}";

static void s_sha(const void *p, size_t n, char out[65])
{
    cm_sha256_hex(p, n, out);
}

static void test_golden_input(void **state)
{
    (void)state;
    char hex[65];
    assert_int_equal(strlen(s_api_yaml), 677);
    s_sha(s_api_yaml, strlen(s_api_yaml), hex);
    assert_string_equal(hex, "1187a5c597437720fb4fd8047e47272ad7e117cf4aadf4764b21ff58ed2ac0ae");
    assert_int_equal(strlen(s_expected_routes), 1295);
}

/* The bytes of a tar entry (GNU headers, names < 100 bytes). */
static const unsigned char *s_tar_entry(const unsigned char *tar, size_t len, const char *name,
                                        size_t *size)
{
    for (size_t off = 0; off + 512 <= len && tar[off]; ) {
        size_t sz = strtoul((const char *)tar + off + 124, NULL, 8);
        if (!strcmp((const char *)tar + off, name)) {
            *size = sz;
            return tar + off + 512;
        }
        off += 512 + (sz + 511) / 512 * 512;
    }
    return NULL;
}

static void s_golden_run(int format, size_t routes_len, const char *routes_sha,
                         const char *artifact_hash)
{
    cc_options_t o = s_opts(format);
    cc_result_t r;
    assert_int_equal(s_compile_text("api.yaml", s_api_yaml, &o, &r), CC_OK);
    assert_int_equal(r.nfindings, 0);
    assert_int_equal(r.routes_count, 1);
    assert_int_equal(r.routes_len, routes_len);
    char hex[65];
    s_sha(r.routes_json, r.routes_len, hex);
    assert_string_equal(hex, routes_sha);
    assert_string_equal(r.artifact.artifact_hash, artifact_hash);
    assert_int_equal(r.nplugins, 1);
    assert_string_equal(r.plugins[0].name, "mock");
    assert_string_equal(r.plugins[0].version, "0.1.0");
    /* The routes.json inside the artifact is the same text. */
    size_t tlen, elen;
    unsigned char *tar = s_gunzip(r.artifact.data, r.artifact.len, 0, &tlen);
    const unsigned char *entry = s_tar_entry(tar, tlen, "routes.json", &elen);
    assert_non_null(entry);
    assert_int_equal(elen, r.routes_len);
    assert_memory_equal(entry, r.routes_json, elen);
    assert_non_null(s_tar_entry(tar, tlen, "specs/api.yaml", &elen));
    assert_int_equal(elen, 677);
    free(tar);
    cc_result_free(&r);
}

static void test_golden_format6(void **state)
{
    (void)state;
    cc_options_t o = s_opts(6);
    cc_result_t r;
    assert_int_equal(s_compile_text("api.yaml", s_api_yaml, &o, &r), CC_OK);
    assert_string_equal(r.routes_json, s_expected_routes);
    cc_result_free(&r);
    s_golden_run(6, 1295, "f6618f913b635e4768d56b2835224b584ad1ab518d1125c98ce528ad0720eea3",
                 "sha256:591e3bc06c894b7d4e94d7a358cd88ade3f0cc38ee9418335cd7c4cf5245db56");
}

static void test_golden_format4(void **state)
{
    (void)state;
    s_golden_run(4, 1230, "2bbab586e3b66776ef1440ab6d9e3401a910e45c6bb00c343cf53d2adb7d8271",
                 "sha256:20b597ed9d414722b56d858cf4d483a2fb2bc78c651233554db5424d4aa00e2a");
}

/* Concurrent compilations share nothing: four threads, byte-identical results. */
typedef struct {
    char hash[72];
    size_t routes_len;
    cc_status_t status;
} s_thread_out_t;

static void *s_compile_thread(void *arg)
{
    s_thread_out_t *out = arg;
    for (int i = 0; i < 20; i++) {
        cc_options_t o = s_opts(6);
        cc_result_t r;
        out->status = s_compile_text("api.yaml", s_api_yaml, &o, &r);
        snprintf(out->hash, sizeof out->hash, "%s", r.artifact.artifact_hash);
        out->routes_len = r.routes_len;
        cc_result_free(&r);
        if (out->status != CC_OK)
            break;
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    pthread_t t[4];
    s_thread_out_t out[4] = {0};
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, s_compile_thread, &out[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(out[i].status, CC_OK);
        assert_int_equal(out[i].routes_len, 1295);
        assert_string_equal(out[i].hash, "sha256:591e3bc06c894b7d4e94d7a358cd88ade3f0cc38ee"
                                         "9418335cd7c4cf5245db56");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_input),
        cmocka_unit_test(test_golden_format6),
        cmocka_unit_test(test_golden_format4),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests_name("compile", tests, NULL, NULL);
}
