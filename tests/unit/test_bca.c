/* test_bca.c — cmocka tests of compiler-svc/cc_json.c and cc_bca.c: the BCA-FORMAT.md §12 worked
 * example byte for byte (both formats), serde_json text rules, float spelling, sorting, errors.
 * Owns: the expected digests quoted from §12 (the §12.1 inputs: bca_example.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cc_bca.h"
#include "cc_json.h"
#include "cm_util.h"

#include "bca_example.h"

/* ---------------------------------------------------------------- helpers */

static void s_assert_sha(const void *data, size_t len, const char *hex)
{
    char got[65];
    cm_sha256_hex(data, len, got);
    assert_string_equal(got, hex);
}

/* With BCA_WRITE_DIR set, the artifacts built here are also written there, so the independent
 * Python verifier (tests/tools/test_bca_verify.py) can check the C writer's real output. */
static void s_maybe_write(const char *name, const cc_bca_t *a)
{
    const char *dir = getenv("BCA_WRITE_DIR");
    if (!dir || !*dir)
        return;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(a->data, 1, a->len, f), a->len);
    assert_int_equal(fclose(f), 0);
}

/* The names of the tar's entries in order; checks each header checksum on the way and that
 * the archive ends with exactly two zero blocks. Returns the count. */
static size_t s_tar_walk(const unsigned char *t, size_t len, char names[][101], size_t max)
{
    size_t off = 0, n = 0;
    static const unsigned char zero[512];
    while (off + 512 <= len && memcmp(t + off, zero, 512) != 0) {
        unsigned char h[512];
        memcpy(h, t + off, 512);
        unsigned long stored = strtoul((const char *) h + 148, NULL, 8);
        memset(h + 148, ' ', 8);
        unsigned long sum = 0;
        for (int i = 0; i < 512; i++)
            sum += h[i];
        assert_int_equal(sum, stored);
        unsigned long size = strtoul((const char *) h + 124, NULL, 8);
        assert_true(n < max);
        memcpy(names[n], h, 100);
        names[n++][100] = '\0';
        off += 512 + (size + 511) / 512 * 512;
    }
    assert_int_equal(off + 1024, len);
    assert_memory_equal(t + off, zero, 512);
    assert_memory_equal(t + off + 512, zero, 512);
    return n;
}

/* ---------------------------------------------------------------- the golden example */

static const char s_hash_text6[] =
    "source_spec:api.yaml=1187a5c597437720fb4fd8047e47272ad7e117cf4aadf4764b21ff58ed2ac0ae\n"
    "plugins/mock.wasm=sha256:93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476\n"
    "routes.json=sha256:f6618f913b635e4768d56b2835224b584ad1ab518d1125c98ce528ad0720eea3\n"
    "capabilities_enforced=false\n"
    "plugin:mock\ttype=dispatcher\tversion=0.1.0\tbody_access=false\thost_functions=\n"
    "mcp:enabled=false\tserver_name=\tserver_version=\n"
    "waf:enabled=false\tparanoia=0\tmode=Blocking\tinbound=0\toutbound=0\t"
    "max_response_body=1048576\taudit=RelevantOnly\tunsupported=Fail\tskipped=\n";

static const char s_hash_text4[] =
    "source_spec:api.yaml=1187a5c597437720fb4fd8047e47272ad7e117cf4aadf4764b21ff58ed2ac0ae\n"
    "plugins/mock.wasm=sha256:93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476\n"
    "routes.json=sha256:2bbab586e3b66776ef1440ab6d9e3401a910e45c6bb00c343cf53d2adb7d8271\n"
    "capabilities_enforced=false\n"
    "plugin:mock\ttype=dispatcher\tversion=0.1.0\tbody_access=false\thost_functions=\n"
    "mcp:enabled=false\tserver_name=\tserver_version=\n";

typedef struct {
    int format;
    size_t routes_len;
    const char *routes_sha;
    const char *hash_text;
    size_t hash_len;
    const char *artifact_hash;
    size_t manifest_len;
    const char *manifest_sha;
    const char *tar_sha;
    const char *sizes[4], *chksums[4];
} s_expect_t;

static const s_expect_t s_expect[2] = {
    { 6, 1295, "f6618f913b635e4768d56b2835224b584ad1ab518d1125c98ce528ad0720eea3",
      s_hash_text6, 546,
      "sha256:591e3bc06c894b7d4e94d7a358cd88ade3f0cc38ee9418335cd7c4cf5245db56",
      1392, "7b7c23169db6355532252710304d22fd52b6dcd60c01b9194dedf641f88198f3",
      "a5c041e24e3391ada0db3ce4e8539145c701d067adfc37f833ce744d39a04b68",
      { "00000002560", "00000002417", "00000001245", "00000000010" },
      { "0007071", "0006605", "0007141", "0007657" } },
    { 4, 1230, "2bbab586e3b66776ef1440ab6d9e3401a910e45c6bb00c343cf53d2adb7d8271",
      s_hash_text4, 411,
      "sha256:20b597ed9d414722b56d858cf4d483a2fb2bc78c651233554db5424d4aa00e2a",
      1152, "0c81abb7f3eaaebad463eae724d3f9b35980e4eae2140195af75b1f41f5900f6",
      "b722d79efe48cccc3b5b3a5651cf1ab514288509cdafd9fd3d5076ebbdc9ac82",
      { "00000002200", "00000002316", "00000001245", "00000000010" },
      { "0007060", "0006603", "0007141", "0007657" } },
};

static void s_check_golden(const s_expect_t *x)
{
    s_golden_t g;
    s_golden_input(&g, x->format);
    s_assert_sha(s_api_yaml, sizeof s_api_yaml - 1,
                 "1187a5c597437720fb4fd8047e47272ad7e117cf4aadf4764b21ff58ed2ac0ae");
    s_assert_sha(s_mock_wasm, 8,
                 "93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476");
    assert_int_equal(g.in.routes_len, x->routes_len);
    s_assert_sha(g.routes, g.in.routes_len, x->routes_sha);

    char err[256] = "";
    size_t hlen = 0;
    char *text = cc_bca_hash_text(&g.in, &hlen, err, sizeof err);
    assert_non_null(text);
    assert_int_equal(hlen, x->hash_len);
    assert_int_equal(strlen(x->hash_text), x->hash_len);
    assert_string_equal(text, x->hash_text);
    char hex[65], prefixed[72];
    cm_sha256_hex(text, hlen, hex);
    snprintf(prefixed, sizeof prefixed, "sha256:%s", hex);
    free(text);

    cc_bca_t a;
    assert_int_equal(cc_bca_build(&g.in, &a, err, sizeof err), 0);
    s_maybe_write(x->format == 6 ? "golden6.bca" : "golden4.bca", &a);
    assert_string_equal(a.artifact_hash, x->artifact_hash);
    assert_string_equal(prefixed, x->artifact_hash);
    assert_int_equal(a.manifest_len, x->manifest_len);
    assert_int_equal(strlen(a.manifest), x->manifest_len);
    s_assert_sha(a.manifest, a.manifest_len, x->manifest_sha);
    s_assert_sha(a.data, a.len, a.sha256);

    static const unsigned char gz_header[10] = { 0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff };
    assert_true(a.len > 18);
    assert_memory_equal(a.data, gz_header, 10);
    size_t tlen = 0;
    unsigned char *tar = s_gunzip(a.data, a.len, 0, &tlen);
    assert_int_equal(tlen, 7680);
    s_assert_sha(tar, tlen, x->tar_sha);
    /* the trailer: CRC-32 and ISIZE little-endian */
    uint32_t crc = (uint32_t) crc32(0L, tar, (uInt) tlen), isz = 0, c2 = 0;
    for (int i = 3; i >= 0; i--) {
        c2 = (c2 << 8) | a.data[a.len - 8 + i];
        isz = (isz << 8) | a.data[a.len - 4 + i];
    }
    assert_int_equal(c2, crc);
    assert_int_equal(isz, 7680);

    static const size_t at[4] = { 0, 2048, 4096, 5632 };
    static const char *const names[4] = { "manifest.json", "routes.json", "specs/api.yaml",
                                          "plugins/mock.wasm" };
    for (int i = 0; i < 4; i++) {
        const unsigned char *h = tar + at[i];
        assert_string_equal((const char *) h, names[i]);
        assert_memory_equal(h + 124, x->sizes[i], 12);      /* 11 digits and the NUL */
        assert_memory_equal(h + 148, x->chksums[i], 8);     /* 7 digits and the NUL */
    }
    char got[8][101];
    assert_int_equal(s_tar_walk(tar, tlen, got, 8), 4);
    assert_memory_equal(tar + 512, a.manifest, a.manifest_len);
    assert_memory_equal(tar + 2048 + 512, g.routes, g.in.routes_len);
    free(tar);
    cc_bca_free(&a);
    free(g.routes);
}

static void test_golden_format6(void **state)
{
    (void) state;
    s_check_golden(&s_expect[0]);
}

static void test_golden_format4(void **state)
{
    (void) state;
    s_check_golden(&s_expect[1]);
}

/* The §3.1 table, field by field, on the golden manifest header. */
static void test_tar_header_fields(void **state)
{
    (void) state;
    s_golden_t g;
    s_golden_input(&g, 6);
    cc_bca_t a;
    char err[256];
    assert_int_equal(cc_bca_build(&g.in, &a, err, sizeof err), 0);
    size_t tlen;
    unsigned char *t = s_gunzip(a.data, a.len, 0, &tlen);
    static const unsigned char nul8[8];
    for (size_t at = 0; at < 6656; ) {
        const unsigned char *h = t + at;
        assert_memory_equal(h + 100, "0000644\0", 8);
        assert_memory_equal(h + 108, nul8, 8);
        assert_memory_equal(h + 116, nul8, 8);
        assert_memory_equal(h + 136, "00000000000\0", 12);
        assert_int_equal(h[156], 0);
        assert_memory_equal(h + 257, "ustar  \0", 8);
        for (int i = 265; i < 512; i++)
            assert_int_equal(h[i], 0);
        for (int i = 157; i < 257; i++)
            assert_int_equal(h[i], 0);
        size_t size = strtoul((const char *) h + 124, NULL, 8);
        for (size_t i = size; i % 512; i++)
            assert_int_equal(h[512 + i], 0);   /* NUL padding */
        at += 512 + (size + 511) / 512 * 512;
    }
    free(t);
    cc_bca_free(&a);
    free(g.routes);
}

static void test_deterministic(void **state)
{
    (void) state;
    for (int f = 4; f <= 6; f += 2) {
        s_golden_t g;
        s_golden_input(&g, f);
        cc_bca_t a, b;
        char err[256];
        assert_int_equal(cc_bca_build(&g.in, &a, err, sizeof err), 0);
        assert_int_equal(cc_bca_build(&g.in, &b, err, sizeof err), 0);
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.data, b.data, a.len);
        assert_string_equal(a.sha256, b.sha256);
        cc_bca_free(&a);
        cc_bca_free(&b);
        cc_bca_free(&b);                       /* idempotent */
        free(g.routes);
    }
}

/* ---------------------------------------------------------------- sorting */

/* A routes.json of n complete format-6 operations (GET /0, /1, …) dispatching to the names. */
static char *s_routes_for(const char *const *dispatchers, size_t n, size_t *len)
{
    json_t *ops = json_array();
    for (size_t i = 0; i < n; i++) {
        char path[32];
        snprintf(path, sizeof path, "/%zu", i);
        json_array_append_new(ops, json_pack("{s:i, s:s, s:s, s:n, s:n, s:n, s:[], s:n, "
                                             "s:{s:s, s:n}, s:[], s:b, s:n, s:n, s:n, s:[]}",
                                             "index", (int) i, "path", path, "method", "GET",
                                             "operation_id", "summary", "description",
                                             "parameters", "request_body", "dispatch", "name",
                                             dispatchers[i], "config", "middlewares",
                                             "deprecated", 0, "sunset", "mcp_enabled",
                                             "mcp_description", "allowed_request_headers"));
    }
    json_t *r = json_pack("{s:o}", "operations", ops);
    char *text = cc_json_pretty(r, len);
    json_decref(r);
    assert_non_null(text);
    return text;
}

static void test_sorting(void **state)
{
    (void) state;
    static const char *const hf[] = { "log", "context_get", "http_call" };
    const cc_bca_spec_t specs[3] = {
        { "b.yaml", (const unsigned char *) "b: 1\n", 5, "openapi", "3.0.3" },
        { "a.yaml", (const unsigned char *) "a: 1\n", 5, "asyncapi", "3.0.0" },
        { "B.json", (const unsigned char *) "{}", 2, "openapi", "3.1.0" },
    };
    const cc_bca_plugin_t plugins[3] = {
        { "z", "1.0.0", "dispatcher", (const unsigned char *) "zz", 2, false, NULL, 0 },
        { "a-b", "2.0.0", "middleware", (const unsigned char *) "ab", 2, true, hf, 3 },
        { "a", "3.0.0", "dispatcher", (const unsigned char *) "aa", 2, false, NULL, 0 },
    };
    static const char *const disp[] = { "a", "z" };
    size_t rlen;
    char *routes = s_routes_for(disp, 2, &rlen);
    cc_bca_input_t in = { .format = 6, .compiled_at = "2026-02-03T04:05:06Z",
                          .compiler_version = "9.9.9", .specs = specs, .nspecs = 3,
                          .plugins = plugins, .nplugins = 3, .routes_json = routes,
                          .routes_len = rlen, .routes_count = 2 };
    cc_bca_t a;
    char err[256] = "";
    assert_int_equal(cc_bca_build(&in, &a, err, sizeof err), 0);
    s_maybe_write("sorting.bca", &a);
    json_t *m = json_loadb(a.manifest, a.manifest_len, 0, NULL);
    assert_non_null(m);
    json_t *ss = json_object_get(m, "source_specs"), *pl = json_object_get(m, "plugins");
    static const char *const files[] = { "B.json", "a.yaml", "b.yaml" };   /* bytewise */
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(ss, i), "file")),
                            files[i]);
    static const char *const pnames[] = { "a", "a-b", "z" };
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(pl, i), "name")),
                            pnames[i]);
    /* checksums sort by key: "plugins/a-b.wasm" < "plugins/a.wasm" ('-' < '.') */
    const char *key;
    json_t *v;
    static const char *const ck[] = { "plugins/a-b.wasm", "plugins/a.wasm", "plugins/z.wasm",
                                      "routes.json" };
    size_t i = 0;
    json_object_foreach(json_object_get(m, "checksums"), key, v)
        assert_string_equal(key, ck[i++]);
    assert_int_equal(i, 4);
    /* host_functions: declaration order in the manifest ... */
    json_t *hfs = json_object_get(json_object_get(json_array_get(pl, 1), "capabilities"),
                                  "host_functions");
    for (i = 0; i < 3; i++)
        assert_string_equal(json_string_value(json_array_get(hfs, i)), hf[i]);
    json_decref(m);
    /* ... sorted in the hash */
    char *text = cc_bca_hash_text(&in, NULL, err, sizeof err);
    assert_non_null(strstr(text, "plugin:a-b\ttype=middleware\tversion=2.0.0\tbody_access=true\t"
                                 "host_functions=context_get,http_call,log\n"));
    assert_non_null(strstr(text, "source_spec:B.json="));
    assert_true(strstr(text, "source_spec:B.json=") < strstr(text, "source_spec:a.yaml="));
    assert_true(strstr(text, "plugin:a\t") < strstr(text, "plugin:a-b\t"));
    free(text);
    size_t tlen;
    unsigned char *t = s_gunzip(a.data, a.len, 0, &tlen);
    char names[16][101];
    static const char *const order[] = { "manifest.json", "routes.json", "specs/B.json",
                                         "specs/a.yaml", "specs/b.yaml", "plugins/a.wasm",
                                         "plugins/a-b.wasm", "plugins/z.wasm" };
    assert_int_equal(s_tar_walk(t, tlen, names, 16), 8);
    for (i = 0; i < 8; i++)
        assert_string_equal(names[i], order[i]);
    free(t);
    cc_bca_free(&a);
    free(routes);
}

/* MCP, provenance and a disabled WAF policy from an extension: manifest text and hash line. */
static void test_waf_mcp_provenance(void **state)
{
    (void) state;
    s_golden_t g;
    s_golden_input(&g, 6);
    g.in.mcp_enabled = true;
    g.in.mcp_server_name = "Hello API";
    g.in.provenance_commit = "abc123";
    g.in.has_waf = true;
    g.in.waf = (cc_bca_waf_t) { false, "crs", 2, true, 7, 6, 4096, CC_WAF_AUDIT_ON, true };
    g.in.capabilities_enforced = true;
    cc_bca_t a;
    char err[256] = "";
    assert_int_equal(cc_bca_build(&g.in, &a, err, sizeof err), 0);
    assert_non_null(strstr(a.manifest,
        "  \"provenance\": {\n    \"commit\": \"abc123\",\n    \"source\": null\n  },\n"
        "  \"mcp\": {\n    \"enabled\": true,\n    \"server_name\": \"Hello API\",\n"
        "    \"server_version\": null\n  },\n"
        "  \"waf\": {\n    \"enabled\": false,\n    \"ruleset\": \"crs\",\n"
        "    \"paranoia_level\": 2,\n    \"mode\": \"detection-only\",\n"
        "    \"inbound_threshold\": 7,\n    \"outbound_threshold\": 6,\n"
        "    \"max_response_body\": 4096,\n    \"audit\": \"on\",\n"
        "    \"unsupported_rules\": \"skip\"\n  },\n"
        "  \"capabilities_enforced\": true\n}"));
    char *text = cc_bca_hash_text(&g.in, NULL, err, sizeof err);
    assert_non_null(text);
    assert_non_null(strstr(text, "capabilities_enforced=true\n"));
    assert_non_null(strstr(text, "mcp:enabled=true\tserver_name=Hello API\tserver_version=\n"
        "waf:enabled=false\tparanoia=2\tmode=DetectionOnly\tinbound=7\toutbound=6\t"
        "max_response_body=4096\taudit=On\tunsupported=Skip\tskipped=\n"));
    free(text);
    char hex[65];
    text = cc_bca_hash_text(&g.in, NULL, err, sizeof err);
    cm_sha256_hex(text, strlen(text), hex);
    assert_string_equal(a.artifact_hash + 7, hex);
    free(text);
    cc_bca_free(&a);
    /* serde writes any u64; jansson holds only int64, so the largest value is the test */
    g.in.waf.max_response_body = UINT64_MAX;
    assert_int_equal(cc_bca_build(&g.in, &a, err, sizeof err), 0);
    assert_non_null(strstr(a.manifest, "\n    \"max_response_body\": 18446744073709551615,\n"
                                       "    \"audit\": \"on\",\n"));
    assert_int_equal(a.manifest_len, strlen(a.manifest));
    text = cc_bca_hash_text(&g.in, NULL, err, sizeof err);
    assert_non_null(strstr(text, "\tmax_response_body=18446744073709551615\t"));
    cm_sha256_hex(text, strlen(text), hex);
    assert_string_equal(a.artifact_hash + 7, hex);
    free(text);
    s_maybe_write("waf_u64.bca", &a);
    cc_bca_free(&a);
    g.in.waf.max_response_body = 4096;
    /* the audit value off, and format 4 ignores the policy altogether */
    g.in.waf.audit = CC_WAF_AUDIT_OFF;
    text = cc_bca_hash_text(&g.in, NULL, err, sizeof err);
    assert_non_null(strstr(text, "\taudit=Off\t"));
    free(text);
    free(g.routes);
    s_golden_input(&g, 4);
    g.in.has_waf = true;
    g.in.waf.enabled = true;                   /* would be refused in format 6 */
    assert_int_equal(cc_bca_build(&g.in, &a, err, sizeof err), 0);
    assert_null(strstr(a.manifest, "waf"));
    cc_bca_free(&a);
    free(g.routes);
}

/* ---------------------------------------------------------------- errors */

static void s_expect_error(const cc_bca_input_t *in, const char *needle)
{
    cc_bca_t a;
    memset(&a, 0x5a, sizeof a);
    char err[256] = "";
    assert_int_equal(cc_bca_build(in, &a, err, sizeof err), -1);
    assert_null(a.data);
    assert_null(a.manifest);
    if (!strstr(err, needle))
        fail_msg("error '%s' does not mention '%s'", err, needle);
    assert_null(cc_bca_hash_text(in, NULL, err, sizeof err));
}

static void test_errors_inputs(void **state)
{
    (void) state;
    s_golden_t g;
    s_golden_input(&g, 6);
    cc_bca_spec_t two[2] = { g.spec, g.spec };
    cc_bca_input_t in = g.in;
    in.specs = two;
    in.nspecs = 2;
    s_expect_error(&in, "twice");

    char name[128];
    memset(name, 'n', sizeof name);
    memcpy(name + 94 - 5, ".yaml", 6);         /* 94 bytes: specs/<file> is exactly 100 */
    cc_bca_spec_t longs = g.spec;
    longs.file = name;
    in = g.in;
    in.specs = &longs;
    char err[256];
    cc_bca_t a;
    assert_int_equal(cc_bca_build(&in, &a, err, sizeof err), 0);
    size_t tlen;
    unsigned char *t = s_gunzip(a.data, a.len, 0, &tlen);
    assert_memory_equal(t + 4096, "specs/", 6);
    assert_memory_equal(t + 4096 + 6, name, 94);   /* 100 bytes, no NUL */
    free(t);
    cc_bca_free(&a);
    memcpy(name + 95 - 5, ".yaml", 6);         /* 95 bytes */
    s_expect_error(&in, "94");

    const char *badfiles[] = { "", "a/b.yaml", ".", ".." };
    for (size_t i = 0; i < 4; i++) {
        longs.file = badfiles[i];
        s_expect_error(&in, "basename");
    }
    longs = g.spec;
    longs.data = (const unsigned char *) "a: \xc3\x28\n";
    longs.len = 6;
    s_expect_error(&in, "UTF-8");
    longs = g.spec;
    longs.type = "swagger";
    s_expect_error(&in, "openapi or asyncapi");

    cc_bca_plugin_t p2[2] = { g.plugin, g.plugin };
    in = g.in;
    in.plugins = p2;
    in.nplugins = 2;
    s_expect_error(&in, "twice");
    in.nplugins = 1;
    const char *badnames[] = { "Mock", "-mock", "mock@1.0.0", "",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* 65 */ };
    for (size_t i = 0; i < 5; i++) {
        p2[0].name = badnames[i];
        s_expect_error(&in, "does not match");
    }
    p2[0] = g.plugin;
    p2[0].plugin_type = "filter";
    s_expect_error(&in, "dispatcher or middleware");

    in = g.in;
    in.format = 5;
    s_expect_error(&in, "6 or 4");
    in = g.in;
    in.compiled_at = "2026-01-01 00:00:00";
    s_expect_error(&in, "compiled_at");
    in = g.in;
    in.has_waf = true;
    in.waf.enabled = true;
    s_expect_error(&in, "enabled WAF");
    in.waf.enabled = false;
    in.waf.paranoia_level = 256;
    s_expect_error(&in, "u8");
    s_expect_error(NULL, "no input");
    free(g.routes);
}

static void test_errors_routes(void **state)
{
    (void) state;
    s_golden_t g;
    s_golden_input(&g, 6);
    cc_bca_input_t in = g.in;
    in.routes_count = 2;
    s_expect_error(&in, "routes_count");

    cc_bca_plugin_t other = g.plugin;
    other.name = "echo";
    in = g.in;
    in.plugins = &other;
    s_expect_error(&in, "not bundled");

    static const char *const disp[] = { "mock", "mock" };
    size_t len;
    char *r = s_routes_for(disp, 2, &len);
    char *one = strstr(r, "\"index\": 1");
    one[9] = '7';
    in = g.in;
    in.routes_json = r;
    in.routes_len = len;
    in.routes_count = 2;
    s_expect_error(&in, "index");
    free(r);

    json_t *v = json_loads(g.routes, 0, NULL);
    char *compact = cc_json_compact(v, &len);
    in = g.in;
    in.routes_json = compact;
    in.routes_len = len;
    s_expect_error(&in, "pretty");
    free(compact);
    json_decref(v);

    in = g.in;
    in.routes_len = g.in.routes_len - 1;       /* truncated */
    s_expect_error(&in, "operations");
    in.routes_json = "[]";
    in.routes_len = 2;
    s_expect_error(&in, "operations");
    free(g.routes);
}

/* serde_json stops reading at 128 nested containers: 127 is written, 128 is refused. */
static void test_errors_depth(void **state)
{
    (void) state;
    for (int depth = 127; depth <= 128; depth++) {
        json_t *cfg = json_array();
        /* routes(1) operations(2) op(3) dispatch(4) config(5..depth) */
        for (int d = 6; d <= depth; d++)
            cfg = json_pack("[o]", cfg);
        json_t *r = json_pack("{s:[{s:i, s:{s:s, s:o}, s:[]}]}", "operations", "index", 0,
                              "dispatch", "name", "mock", "config", cfg, "middlewares");
        size_t len;
        char *text = cc_json_pretty(r, &len);
        json_decref(r);
        s_golden_t g;
        s_golden_input(&g, 6);
        cc_bca_input_t in = g.in;
        in.routes_json = text;
        in.routes_len = len;
        if (depth == 127) {
            cc_bca_t a;
            char err[256] = "";
            assert_int_equal(cc_bca_build(&in, &a, err, sizeof err), 0);
            cc_bca_free(&a);
        } else
            s_expect_error(&in, "deeper");
        free(text);
        free(g.routes);
    }
}

/* ---------------------------------------------------------------- vouched routes, streaming */

/* With routes_facts the writer skips the re-parse, not the outcome: the same bytes, and the
 * rules the facts cannot settle still refuse. */
static void test_routes_facts(void **state)
{
    (void) state;
    static const char *const mock[] = { "mock" }, *const echo[] = { "echo" };
    for (int f = 4; f <= 6; f += 2) {
        s_golden_t g;
        s_golden_input(&g, f);
        cc_bca_routes_facts_t facts = { 1, mock, 1 };
        cc_bca_input_t in = g.in;
        in.routes_facts = &facts;
        cc_bca_t a, b;
        char err[256] = "";
        assert_int_equal(cc_bca_build(&g.in, &a, err, sizeof err), 0);
        assert_int_equal(cc_bca_build(&in, &b, err, sizeof err), 0);
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.data, b.data, a.len);
        cc_bca_free(&a);
        cc_bca_free(&b);
        facts.operations = 2;
        s_expect_error(&in, "routes_count");
        facts = (cc_bca_routes_facts_t) { 1, echo, 1 };
        s_expect_error(&in, "not bundled");
        facts = (cc_bca_routes_facts_t) { 1, NULL, 1 };
        s_expect_error(&in, "missing");
        facts = (cc_bca_routes_facts_t) { 1, mock, 1 };
        in.routes_len = g.in.routes_len - 1;       /* not the frame serde writes */
        s_expect_error(&in, "pretty");
        in.routes_len = g.in.routes_len;
        g.routes[40] = (char) 0xff;
        s_expect_error(&in, "UTF-8");
        free(g.routes);
    }
}

/* A spec that does not compress (printable noise) makes the tar cross many input slices and
 * the output grow several times: the member must equal one zlib call over the whole tar. */
static void test_stream_equals_one_shot(void **state)
{
    (void) state;
    s_golden_t g;
    s_golden_input(&g, 6);
    size_t n = 3u << 20;
    unsigned char *noise = malloc(n);
    assert_non_null(noise);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++, x = x * 1103515245u + 12345u)
        noise[i] = (unsigned char) (' ' + (x >> 16) % 95);
    g.spec.data = noise;
    g.spec.len = n;
    cc_bca_t a;
    char err[256] = "";
    assert_int_equal(cc_bca_build(&g.in, &a, err, sizeof err), 0);
    size_t tlen;
    unsigned char *tar = s_gunzip(a.data, a.len, 0, &tlen), *again;   /* CRC-32 and ISIZE too */
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&zs, (uLong) tlen);
    assert_non_null(again = malloc(cap));
    zs.next_in = tar;
    zs.avail_in = (uInt) tlen;
    zs.next_out = again;
    zs.avail_out = (uInt) cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    assert_int_equal(zs.total_out, a.len - 18);
    assert_memory_equal(again, a.data + 10, a.len - 18);
    deflateEnd(&zs);
    char names[8][101];
    assert_int_equal(s_tar_walk(tar, tlen, names, 8), 4);
    assert_memory_equal(tar + 4096 + 512, noise, n);
    free(again);
    free(tar);
    free(noise);
    cc_bca_free(&a);
    free(g.routes);
}

/* ---------------------------------------------------------------- JSON text */

static void s_expect_pretty(json_t *v, const char *pretty, const char *compact)
{
    size_t len = 0;
    char *s = cc_json_pretty(v, &len);
    assert_non_null(s);
    assert_string_equal(s, pretty);
    assert_int_equal(len, strlen(pretty));
    free(s);
    s = cc_json_compact(v, &len);
    assert_non_null(s);
    assert_string_equal(s, compact);
    free(s);
    json_decref(v);
}

static void test_json_layout(void **state)
{
    (void) state;
    s_expect_pretty(json_pack("{s:{}, s:[], s:[i, [], {s:b}], s:n, s:f}", "a", "b", "c", 1, "d",
                              1, "e", "f", -2.5),
                    "{\n  \"a\": {},\n  \"b\": [],\n  \"c\": [\n    1,\n    [],\n    {\n"
                    "      \"d\": true\n    }\n  ],\n  \"e\": null,\n  \"f\": -2.5\n}",
                    "{\"a\":{},\"b\":[],\"c\":[1,[],{\"d\":true}],\"e\":null,\"f\":-2.5}");
    s_expect_pretty(json_object(), "{}", "{}");
    s_expect_pretty(json_array(), "[]", "[]");
    s_expect_pretty(json_integer(-9223372036854775807LL - 1), "-9223372036854775808",
                    "-9223372036854775808");
    s_expect_pretty(json_string(""), "\"\"", "\"\"");
    s_expect_pretty(json_false(), "false", "false");
    /* insertion order, not sorted: that is cc_json_sorted's job */
    s_expect_pretty(json_pack("{s:i, s:i}", "z", 1, "a", 2), "{\n  \"z\": 1,\n  \"a\": 2\n}",
                    "{\"z\":1,\"a\":2}");
}

static void test_json_escaping(void **state)
{
    (void) state;
    char raw[40];
    for (int i = 0; i < 32; i++)
        raw[i] = (char) i;
    memcpy(raw + 32, "\"\\/\x7f", 4);
    json_t *s = json_stringn(raw, 36);
    assert_non_null(s);
    const char *want =
        "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r"
        "\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019"
        "\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\\\"\\\\/\x7f\"";
    s_expect_pretty(s, want, want);
    /* non-ASCII stays raw UTF-8, in keys as well */
    s_expect_pretty(json_pack("{s:s}", "cl\xc3\xa9\n", "\xf0\x9f\x98\x80 \xe2\x82\xac"),
                    "{\n  \"cl\xc3\xa9\\n\": \"\xf0\x9f\x98\x80 \xe2\x82\xac\"\n}",
                    "{\"cl\xc3\xa9\\n\":\"\xf0\x9f\x98\x80 \xe2\x82\xac\"}");
    /* invalid UTF-8 (jansson's nocheck constructors let it in) and non-finite reals: NULL */
    static const char *const bad[] = { "\xc3\x28", "\xed\xa0\x80" /* surrogate */,
                                       "\xc0\xaf" /* overlong */, "\xf4\x90\x80\x80", "\xff" };
    for (size_t i = 0; i < 5; i++) {
        json_t *v = json_pack("[o]", json_string_nocheck(bad[i]));
        assert_null(cc_json_pretty(v, NULL));
        assert_null(cc_json_compact(v, NULL));
        json_decref(v);
        v = json_object();
        json_object_set_new_nocheck(v, bad[i], json_null());
        assert_null(cc_json_pretty(v, NULL));
        json_decref(v);
    }
    /* jansson refuses to hold NaN or an infinity (json_real gives NULL), so the writer's own
     * guard cannot be reached through a value; cc_json_float spells them null */
    assert_null(json_real(NAN));
}

static void test_json_depth_bound(void **state)
{
    (void) state;
    json_t *v = json_array();
    for (int i = 1; i < CC_JSON_MAX_DEPTH; i++)
        v = json_pack("[o]", v);
    char *s = cc_json_compact(v, NULL);                    /* exactly at the bound */
    assert_non_null(s);
    free(s);
    json_t *sorted = cc_json_sorted(v);
    assert_non_null(sorted);
    json_decref(sorted);
    v = json_pack("[o]", v);
    assert_null(cc_json_compact(v, NULL));
    assert_null(cc_json_sorted(v));
    json_decref(v);
}

static void test_json_sorted(void **state)
{
    (void) state;
    json_t *v = json_loads("{\"b\": [{\"y\": 1, \"x\": {\"d\": 1, \"c\": 2}}], \"aa\": 1, "
                           "\"\xc3\xa9\": 2, \"A\": 3, \"a\": 4, \"\": 5}", 0, NULL);
    assert_non_null(v);
    json_t *s = cc_json_sorted(v);
    size_t len;
    char *text = cc_json_compact(s, &len);
    assert_string_equal(text, "{\"\":5,\"A\":3,\"a\":4,\"aa\":1,\"b\":[{\"x\":{\"c\":2,\"d\":1},"
                              "\"y\":1}],\"\xc3\xa9\":2}");
    assert_true(json_equal(v, s));           /* the same value, only reordered */
    free(text);
    json_decref(s);
    json_decref(v);
    /* keys with an embedded NUL sort bytewise too: "a" < "a\0b" < "ab" */
    v = json_object();
    json_object_setn_new(v, "ab", 2, json_integer(1));
    json_object_setn_new(v, "a\0b", 3, json_integer(2));
    json_object_setn_new(v, "a", 1, json_integer(3));
    s = cc_json_sorted(v);
    text = cc_json_compact(s, &len);
    assert_int_equal(len, strlen("{\"a\":3,\"a\\u0000b\":2,\"ab\":1}"));
    assert_string_equal(text, "{\"a\":3,\"a\\u0000b\":2,\"ab\":1}");
    free(text);
    json_decref(s);
    json_decref(v);
}

/* Expected spellings from Python's repr run through the §4.4 table (exact bit patterns). */
static void test_json_float(void **state)
{
    (void) state;
    static const struct { uint64_t bits; const char *text; } cases[] = {
        { 0x0000000000000000ULL, "0.0" },
        { 0x8000000000000000ULL, "-0.0" },
        { 0x3ff0000000000000ULL, "1.0" },
        { 0xbff0000000000000ULL, "-1.0" },
        { 0x3fb999999999999aULL, "0.1" },
        { 0x3fe0000000000000ULL, "0.5" },
        { 0x4059000000000000ULL, "100.0" },
        { 0x4341c37937e08000ULL, "1e16" },
        { 0x3e7ad7f29abcaf48ULL, "1e-7" },
        { 0x3e8421f5f40d8376ULL, "1.5e-7" },
        { 0x405edd2f1a9fbe77ULL, "123.456" },
        { 0x430c6bf526340000ULL, "1000000000000000.0" },
        { 0x3ee4f8b588e368f1ULL, "0.00001" },
        { 0x3eb0c6f7a0b5ed8dULL, "1e-6" },
        { 0x0000000000000001ULL, "5e-324" },
        { 0x7e4ddd4baa009303ULL, "2.5e300" },
        { 0x7fefffffffffffffULL, "1.7976931348623157e308" },
        { 0x0010000000000000ULL, "2.2250738585072014e-308" },
        { 0x44b52d02c7e14af6ULL, "1e23" },
        { 0x4480f0cf064dd592ULL, "1e22" },
        { 0x4340000000000000ULL, "9007199254740992.0" },
        { 0x43118b54f22aeb00ULL, "1234567890123456.0" },
        { 0x4345ee2a2eb5a5c4ULL, "1.2345678901234568e16" },
        { 0x3fd3333333333333ULL, "0.3" },
        { 0x3fe5555555555555ULL, "0.6666666666666666" },
        { 0xbfe5555555555555ULL, "-0.6666666666666666" },
        { 0x3fd3333333333334ULL, "0.30000000000000004" },
        { 0x400921fb54442d18ULL, "3.141592653589793" },
        { 0x3f1a36e2eb1c432dULL, "0.0001" },
        { 0x3f50624dd2f1a9fcULL, "0.001" },
        { 0x3eea36e2eb1c432dULL, "0.0000125" },
        { 0x3f201f31f46ed246ULL, "0.000123" },
        { 0x4011666666666666ULL, "4.35" },
        { 0x54b249ad2594c37dULL, "1e100" },
        { 0x434aa535d3d0c000ULL, "1.5e16" },
        { 0x431550f7dca70000ULL, "1500000000000000.0" },
        /* powers of two whose shortest digits are not the correctly rounded ones */
        { 0x0060000000000000ULL, "7.120236347223045e-307" },
        { 0x0100000000000000ULL, "7.291122019556398e-304" },
        { 0x0420000000000000ULL, "8.209073602596753e-289" },
        { 0x406fe00000000000ULL, "255.0" },
        { 0x4069100000000000ULL, "200.5" },
        { 0xbc36c60b75b99c35ULL, "-1.23456e-18" },
        { 0x44dfe185ca57c517ULL, "6.02214076e23" },
        { 0x444b1ae4d6e2ef50ULL, "1e21" },
        { 0x3ee9e0fcaf9380fcULL, "0.00001234" },
        { 0x7fd5555555555555ULL, "5.992310449541053e307" },
        { 0x3ff0000000000001ULL, "1.0000000000000002" },
        { 0x3fefffffffffffffULL, "0.9999999999999999" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double d;
        memcpy(&d, &cases[i].bits, sizeof d);
        char out[32];
        cc_json_float(d, out);
        if (strcmp(out, cases[i].text) != 0)
            fail_msg("%016llx: got %s, want %s", (unsigned long long) cases[i].bits, out,
                     cases[i].text);
        /* and inside a document */
        json_t *v = json_real(d);
        char *s = cc_json_compact(v, NULL);
        assert_string_equal(s, cases[i].text);
        free(s);
        json_decref(v);
    }
    char out[32];
    cc_json_float(NAN, out);
    assert_string_equal(out, "null");
}

/* Every spelling round-trips and no shorter digit string would (a property over many values). */
static void test_json_float_roundtrip(void **state)
{
    (void) state;
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double d;
        memcpy(&d, &x, sizeof d);
        if (!isfinite(d))
            continue;
        char out[32];
        cc_json_float(d, out);
        if (strtod(out, NULL) != d)
            fail_msg("%s does not round-trip to %.17g", out, d);
        /* significant digits: the mantissa without sign, point, leading and trailing zeros */
        char m[32];
        size_t n = 0;
        for (const char *c = out; *c && *c != 'e'; c++)
            if (*c >= '0' && *c <= '9' && (n || *c != '0'))
                m[n++] = *c;
        while (n > 1 && m[n - 1] == '0')
            n--;
        size_t digits = n;
        char shorter[40];
        if (digits > 1) {
            snprintf(shorter, sizeof shorter, "%.*e", (int) digits - 2, d);
            if (strtod(shorter, NULL) == d)
                fail_msg("%s is not the shortest: %s", out, shorter);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_format6),
        cmocka_unit_test(test_golden_format4),
        cmocka_unit_test(test_tar_header_fields),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_sorting),
        cmocka_unit_test(test_waf_mcp_provenance),
        cmocka_unit_test(test_errors_inputs),
        cmocka_unit_test(test_errors_routes),
        cmocka_unit_test(test_errors_depth),
        cmocka_unit_test(test_routes_facts),
        cmocka_unit_test(test_stream_equals_one_shot),
        cmocka_unit_test(test_json_layout),
        cmocka_unit_test(test_json_escaping),
        cmocka_unit_test(test_json_depth_bound),
        cmocka_unit_test(test_json_sorted),
        cmocka_unit_test(test_json_float),
        cmocka_unit_test(test_json_float_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
