/* test_agent.c — cmocka tests of barbacane-agent's pure parts (dataplane-hub/agent): URL joining,
 * the message codec, backoff, the manifest hash and the artifact check against real artifacts
 * built by the project's writer (cc_bca_build) and corrupted copies of them.
 * Owns: the digests §12 states (the §12.1 inputs: bca_example.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "agent/ag_check.h"
#include "agent/ag_manifest.h"
#include "agent/ag_msg.h"
#include "agent/ag_out.h"
#include "agent/ag_url.h"
#include "agent/ag_worker.h"
#include "bca_example.h"
#include "cm_util.h"

/* The digests BCA-FORMAT.md §12.3 and §12.5 state for the worked example. */
#define GOLDEN6_HASH "sha256:591e3bc06c894b7d4e94d7a358cd88ade3f0cc38ee9418335cd7c4cf5245db56"
#define GOLDEN4_HASH "sha256:20b597ed9d414722b56d858cf4d483a2fb2bc78c651233554db5424d4aa00e2a"

/* ---------------------------------------------------------------- URLs */

static void test_url_parse(void **state)
{
    (void) state;
    ag_url_t u;
    char err[200];
    assert_int_equal(ag_url_parse("ws://127.0.0.1:9090/ws/data-plane", &u, err, sizeof err), 0);
    assert_string_equal(u.scheme, "ws");
    assert_false(u.tls);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 9090);
    assert_string_equal(u.authority, "127.0.0.1:9090");
    assert_string_equal(u.path, "/ws/data-plane");
    assert_int_equal(ag_url_parse("WSS://cp.example.com/ws?x=1#frag", &u, err, sizeof err), 0);
    assert_true(u.tls);
    assert_int_equal(u.port, 443);
    assert_string_equal(u.authority, "cp.example.com");
    assert_string_equal(u.path, "/ws?x=1");
    assert_int_equal(ag_url_parse("http://[::1]:8080", &u, err, sizeof err), 0);
    assert_string_equal(u.host, "::1");
    assert_string_equal(u.authority, "[::1]:8080");
    assert_string_equal(u.path, "/");
    assert_int_equal(ag_url_parse("https://h?q", &u, err, sizeof err), 0);
    assert_string_equal(u.path, "/?q");
    static const char *const bad[] = {
        "", "ftp://h/x", "ws//h/x", "ws://", "ws://:80/x", "ws://h:0/", "ws://h:65536/",
        "ws://h:8x/", "ws://user:pw@h/x", "ws://h/a b", "ws://h/a\r\nX-Evil: 1", "ws://[::1/x",
        "ws://[::1]x/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(ag_url_parse(bad[i], &u, err, sizeof err), -1);
    char *huge = malloc(AG_URL_MAX + 16);
    assert_non_null(huge);
    memcpy(huge, "ws://h/", 7);
    memset(huge + 7, 'a', AG_URL_MAX);
    huge[AG_URL_MAX + 7] = '\0';
    assert_int_equal(ag_url_parse(huge, &u, err, sizeof err), -1);
    free(huge);
}

static void test_url_join(void **state)
{
    (void) state;
    char out[AG_URL_MAX], err[200];
    /* relative: scheme (ws → http) and authority of the WebSocket URL, path as sent */
    assert_int_equal(ag_url_join("ws://127.0.0.1:9090/ws/data-plane",
                                 "/artifacts/1/download?token=abc", out, sizeof out, err,
                                 sizeof err), 0);
    assert_string_equal(out, "http://127.0.0.1:9090/artifacts/1/download?token=abc");
    assert_int_equal(ag_url_join("wss://cp.example.com/ws/data-plane", "/a/b", out, sizeof out,
                                 err, sizeof err), 0);
    assert_string_equal(out, "https://cp.example.com/a/b");
    assert_int_equal(ag_url_join("ws://[::1]:9/x", "/y", out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "http://[::1]:9/y");
    /* "//x" begins with '/': appended like any path, as the data plane does (same host) */
    assert_int_equal(ag_url_join("ws://h:1/ws", "//other/x", out, sizeof out, err, sizeof err),
                     0);
    assert_string_equal(out, "http://h:1//other/x");
    /* absolute http(s) URLs are kept */
    assert_int_equal(ag_url_join("ws://h/ws", "https://cdn.example.com/a.bca?sig=1", out,
                                 sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "https://cdn.example.com/a.bca?sig=1");
    static const char *const bad[] = {
        "", "artifacts/1", "ws://h/x", "file:///etc/passwd", "http://u:p@h/x", "/a b",
        "/a\nb", "javascript:alert(1)",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(ag_url_join("ws://h/ws", bad[i], out, sizeof out, err, sizeof err), -1);
    char small[16];
    assert_int_equal(ag_url_join("ws://h/ws", "/this/is/too/long", small, sizeof small, err,
                                 sizeof err), -1);
}

/* ---------------------------------------------------------------- messages */

static int s_parse(const char *text, ag_msg_t *m)
{
    return ag_msg_parse(text, strlen(text), m);
}

static void test_msg_parse_known(void **state)
{
    (void) state;
    ag_msg_t m;
    assert_int_equal(s_parse("{\"type\":\"registered\",\"data_plane_id\":"
                             "\"7B0C3C9E-0000-4000-8000-000000000001\","
                             "\"heartbeat_interval_secs\":10,\"extra\":[1]}", &m), 0);
    assert_int_equal(m.type, AG_MSG_REGISTERED);
    assert_string_equal(m.data_plane_id, "7b0c3c9e-0000-4000-8000-000000000001");
    assert_int_equal(m.heartbeat_interval_secs, 10);
    ag_msg_clear(&m);
    assert_int_equal(s_parse("{\"heartbeat_interval_secs\":4294967295,\"type\":\"registered\","
                             "\"data_plane_id\":\"7b0c3c9e-0000-4000-8000-000000000001\"}", &m),
                     0);
    assert_int_equal(m.heartbeat_interval_secs, UINT32_MAX);
    ag_msg_clear(&m);
    assert_int_equal(s_parse("{\"type\":\"registration_failed\",\"reason\":\"bad key\"}", &m), 0);
    assert_int_equal(m.type, AG_MSG_REGISTRATION_FAILED);
    assert_string_equal(m.text, "bad key");
    ag_msg_clear(&m);
    assert_int_equal(s_parse("{\"type\":\"artifact_available\",\"artifact_id\":"
                             "\"11111111-2222-4333-8444-555555555555\",\"download_url\":"
                             "\"/artifacts/x/download?token=t\",\"sha256\":\"ab\"}", &m), 0);
    assert_int_equal(m.type, AG_MSG_ARTIFACT_AVAILABLE);
    assert_string_equal(m.artifact_id, "11111111-2222-4333-8444-555555555555");
    assert_string_equal(m.download_url, "/artifacts/x/download?token=t");
    assert_string_equal(m.sha256, "ab");
    ag_msg_clear(&m);
    assert_int_equal(s_parse("{\"type\":\"heartbeat_ack\",\"drift_detected\":true}", &m), 0);
    assert_int_equal(m.type, AG_MSG_HEARTBEAT_ACK);
    assert_true(m.drift_detected);
    ag_msg_clear(&m);
    assert_int_equal(s_parse("{\"type\":\"disconnect\",\"reason\":\"kick\"}", &m), 0);
    assert_int_equal(m.type, AG_MSG_DISCONNECT);
    assert_string_equal(m.text, "kick");
    ag_msg_clear(&m);
    assert_int_equal(s_parse("{\"type\":\"error\",\"message\":\"\\u00e9t\\u00e9\"}", &m), 0);
    assert_int_equal(m.type, AG_MSG_ERROR);
    assert_string_equal(m.text, "\xc3\xa9t\xc3\xa9");
    ag_msg_clear(&m);
}

static void test_msg_parse_rejects(void **state)
{
    (void) state;
    static const char *const malformed[] = {
        "", "not json", "[]", "\"registered\"", "{}", "{\"type\":7}", "{\"type\":null}",
        "{\"type\":\"registered\"}",
        "{\"type\":\"registered\",\"data_plane_id\":\"nope\",\"heartbeat_interval_secs\":1}",
        "{\"type\":\"registered\",\"data_plane_id\":\"7b0c3c9e-0000-4000-8000-000000000001\","
        "\"heartbeat_interval_secs\":-1}",
        "{\"type\":\"registered\",\"data_plane_id\":\"7b0c3c9e-0000-4000-8000-000000000001\","
        "\"heartbeat_interval_secs\":4294967296}",
        "{\"type\":\"registered\",\"data_plane_id\":\"7b0c3c9e-0000-4000-8000-000000000001\","
        "\"heartbeat_interval_secs\":1.5}",
        "{\"type\":\"registration_failed\"}",
        "{\"type\":\"artifact_available\",\"artifact_id\":\"11111111-2222-4333-8444-555555555555\","
        "\"download_url\":\"/x\"}",
        "{\"type\":\"artifact_available\",\"artifact_id\":\"x\",\"download_url\":\"/x\","
        "\"sha256\":\"a\"}",
        "{\"type\":\"heartbeat_ack\"}", "{\"type\":\"heartbeat_ack\",\"drift_detected\":0}",
        "{\"type\":\"disconnect\",\"reason\":null}", "{\"type\":\"error\"}",
        "{\"type\":\"error\",\"message\":\"a\",\"type\":\"error\"}",
        "{\"type\":\"error\",\"message\":\"\\u0000\"}",
    };
    ag_msg_t m;
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        assert_int_equal(s_parse(malformed[i], &m), -1);
        assert_int_equal(m.type, AG_MSG_MALFORMED);
        assert_true(m.error[0] != '\0');
        assert_null(m.download_url);
        assert_null(m.text);
        ag_msg_clear(&m);
    }
    assert_int_equal(s_parse("{\"type\":\"upgrade_now\",\"x\":1}", &m), -1);
    assert_int_equal(m.type, AG_MSG_UNKNOWN);
    assert_string_equal(m.type_name, "upgrade_now");
    ag_msg_clear(&m);
    /* invalid UTF-8 and an oversize message never reach the parser's strings */
    assert_int_equal(ag_msg_parse("{\"type\":\"error\",\"message\":\"\xff\"}", 30, &m), -1);
    ag_msg_clear(&m);
    char *big = malloc(AG_MSG_MAX + 2);
    assert_non_null(big);
    memset(big, ' ', AG_MSG_MAX + 1);
    big[0] = '{';
    big[AG_MSG_MAX] = '}';
    assert_int_equal(ag_msg_parse(big, AG_MSG_MAX + 1, &m), -1);
    assert_int_equal(m.type, AG_MSG_MALFORMED);
    free(big);
    /* deep nesting ends in an error, not a stack overflow */
    char deep[20001];
    memset(deep, '[', 10000);
    memset(deep + 10000, ']', 10000);
    deep[20000] = '\0';
    assert_int_equal(s_parse(deep, &m), -1);
    ag_msg_clear(&m);
}

static void test_msg_encode(void **state)
{
    (void) state;
    size_t len = 0;
    json_t *meta = json_pack("{s:s, s:i}", "agent", "barbacane-agent", "n", 2);
    char *t = ag_msg_register("0f6c8a4e-6a52-4b4c-9d7e-0c1f0c2d3e4f", "bbk_k", NULL, meta, &len);
    assert_string_equal(t, "{\"type\":\"register\",\"project_id\":"
                           "\"0f6c8a4e-6a52-4b4c-9d7e-0c1f0c2d3e4f\",\"api_key\":\"bbk_k\","
                           "\"metadata\":{\"agent\":\"barbacane-agent\",\"n\":2}}");
    assert_int_equal(len, strlen(t));
    free(t);
    t = ag_msg_register("p", "k", "edge-1", NULL, NULL);
    assert_string_equal(t, "{\"type\":\"register\",\"project_id\":\"p\",\"api_key\":\"k\","
                           "\"name\":\"edge-1\",\"metadata\":{}}");
    free(t);
    assert_null(ag_msg_register("p", "k\xff", NULL, meta, NULL));
    json_decref(meta);
    t = ag_msg_heartbeat(NULL, 0, 0, NULL);
    assert_string_equal(t, "{\"type\":\"heartbeat\",\"uptime_secs\":0,\"requests_total\":0}");
    free(t);
    t = ag_msg_heartbeat("sha256:ab", 3600, 7, NULL);
    assert_string_equal(t, "{\"type\":\"heartbeat\",\"artifact_hash\":\"sha256:ab\","
                           "\"uptime_secs\":3600,\"requests_total\":7}");
    free(t);
    t = ag_msg_artifact_downloaded("a-1", true, NULL, NULL);
    assert_string_equal(t, "{\"type\":\"artifact_downloaded\",\"artifact_id\":\"a-1\","
                           "\"success\":true}");
    free(t);
    t = ag_msg_artifact_downloaded("a-1", false, "hot-reload already in progress", NULL);
    assert_string_equal(t, "{\"type\":\"artifact_downloaded\",\"artifact_id\":\"a-1\","
                           "\"success\":false,\"error\":\"hot-reload already in progress\"}");
    free(t);
    /* what we encode, the other side parses back to the same members */
    t = ag_msg_artifact_downloaded("a\"b/\\c\n", false, "e", NULL);
    json_t *back = json_loads(t, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(back, "artifact_id")), "a\"b/\\c\n");
    json_decref(back);
    free(t);
}

/* ---------------------------------------------------------------- artifacts (§12.1 inputs) */

typedef struct {
    s_golden_t g;
    cc_bca_t bca;
} s_art_t;

static void s_build(s_art_t *x, int format)
{
    memset(x, 0, sizeof *x);
    s_golden_input(&x->g, format);
    char err[256] = "";
    assert_int_equal(cc_bca_build(&x->g.in, &x->bca, err, sizeof err), 0);
}

static void s_free_art(s_art_t *x)
{
    cc_bca_free(&x->bca);
    free(x->g.routes);
}

/* ---------------------------------------------------------------- gzip/tar surgery */

static unsigned char *s_gzip(const unsigned char *data, size_t len, size_t *outlen)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&zs, (uLong) len) + 64;
    unsigned char *out = malloc(cap);
    assert_non_null(out);
    zs.next_in = (Bytef *) data;
    zs.avail_in = (uInt) len;
    zs.next_out = out;
    zs.avail_out = (uInt) cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *outlen = zs.total_out;
    deflateEnd(&zs);
    return out;
}

/* Offset of the header of the entry named name, or -1. */
static long s_entry(const unsigned char *tar, size_t len, const char *name)
{
    for (size_t off = 0; off + 512 <= len && tar[off];) {
        if (strncmp((const char *) tar + off, name, 100) == 0)
            return (long) off;
        unsigned long size = strtoul((const char *) tar + off + 124, NULL, 8);
        off += 512 + (size + 511) / 512 * 512;
    }
    return -1;
}

static void s_fix_checksum(unsigned char *h)
{
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *) h + 148, 8, "%06o", sum);
    h[155] = ' ';
}

typedef void (*s_edit_fn)(unsigned char *tar, size_t *len, size_t cap);

/* Runs the check on the artifact re-made with edit applied to its tar; returns the verdict
 * (err filled). */
static int s_check_edited(const cc_bca_t *bca, s_edit_fn edit, char *err, size_t errlen)
{
    size_t tlen = 0;
    unsigned char *tar = s_gunzip(bca->data, bca->len, 1024, &tlen);
    size_t cap = tlen + 1024;
    edit(tar, &tlen, cap);
    size_t glen = 0;
    unsigned char *gz = s_gzip(tar, tlen, &glen);
    ag_artifact_t info;
    int rc = ag_check_buffer(gz, glen, &info, err, errlen);
    free(tar);
    free(gz);
    return rc;
}

static void s_edit_none(unsigned char *t, size_t *len, size_t cap)
{
    (void) t, (void) len, (void) cap;
}

/* One hex digit of the manifest's artifact_hash value changed: valid JSON, wrong claim. */
static void s_edit_hash(unsigned char *t, size_t *len, size_t cap)
{
    (void) cap;
    long off = s_entry(t, *len, "manifest.json");
    assert_true(off >= 0);
    char *m = (char *) t + off + 512;
    char *h = strstr(m, "\"artifact_hash\": \"sha256:");
    assert_non_null(h);
    h += strlen("\"artifact_hash\": \"sha256:");
    *h = *h == '0' ? '1' : '0';
}

static void s_edit_plugin(unsigned char *t, size_t *len, size_t cap)
{
    (void) cap;
    long off = s_entry(t, *len, "plugins/mock.wasm");
    assert_true(off >= 0);
    t[off + 512 + 7] ^= 0x01;   /* still "\0asm" + version bytes, but other bytes */
}

static void s_edit_no_manifest(unsigned char *t, size_t *len, size_t cap)
{
    (void) cap;
    long off = s_entry(t, *len, "manifest.json");
    assert_true(off >= 0);
    memcpy(t + off, "./manifest.jso", 14);  /* "./manifest.json" does not match either */
    s_fix_checksum(t + off);
}

static void s_edit_no_plugin(unsigned char *t, size_t *len, size_t cap)
{
    (void) cap;
    long off = s_entry(t, *len, "plugins/mock.wasm");
    assert_true(off >= 0);
    t[off + 8] = 'X';
    s_fix_checksum(t + off);
}

static void s_edit_routes(unsigned char *t, size_t *len, size_t cap)
{
    (void) cap;
    long off = s_entry(t, *len, "routes.json");
    assert_true(off >= 0);
    char *r = strstr((char *) t + off + 512, "/hello");
    assert_non_null(r);
    r[1] = 'j';                 /* /jello: valid JSON, other bytes than the checksum says */
}

static void s_edit_spec_utf8(unsigned char *t, size_t *len, size_t cap)
{
    (void) cap;
    long off = s_entry(t, *len, "specs/api.yaml");
    assert_true(off >= 0);
    t[off + 512 + 3] = 0xff;
}

static void s_edit_header_checksum(unsigned char *t, size_t *len, size_t cap)
{
    (void) cap;
    long off = s_entry(t, *len, "routes.json");
    assert_true(off >= 0);
    t[off + 100] ^= 0x02;       /* mode field changed, checksum left stale */
}

/* A second copy of the plugin entry appended before the end-of-archive blocks. */
static void s_edit_duplicate(unsigned char *t, size_t *len, size_t cap)
{
    long off = s_entry(t, *len, "plugins/mock.wasm");
    assert_true(off >= 0);
    size_t end = *len - 1024;
    assert_true(*len + 1024 <= cap);
    memmove(t + end + 1024, t + end, 1024);
    memcpy(t + end, t + off, 1024);
    *len += 1024;
}

static void test_check_accepts_the_writers_artifacts(void **state)
{
    (void) state;
    for (int format = 6; format >= 4; format -= 2) {
        s_art_t x;
        s_build(&x, format);
        ag_artifact_t info;
        char err[512] = "";
        assert_int_equal(ag_check_buffer(x.bca.data, x.bca.len, &info, err, sizeof err), 0);
        assert_string_equal(info.artifact_hash, format == 6 ? GOLDEN6_HASH : GOLDEN4_HASH);
        assert_string_equal(info.artifact_hash, x.bca.artifact_hash);
        assert_int_equal(info.format, format);
        assert_int_equal(info.routes_count, 1);
        assert_int_equal(info.nplugins, 1);
        assert_int_equal(info.nspecs, 1);
        assert_int_equal(info.tar_bytes, 7680);     /* §12.6 */
        /* decompressed and recompressed by another deflate: still one member, still valid */
        assert_int_equal(s_check_edited(&x.bca, s_edit_none, err, sizeof err), 0);
        /* and from a file, as the agent checks its downloads */
        char path[] = "/tmp/test_agent_XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, x.bca.data, x.bca.len), (ssize_t) x.bca.len);
        close(fd);
        assert_int_equal(ag_check_file(path, &info, err, sizeof err), 0);
        assert_string_equal(info.artifact_hash, x.bca.artifact_hash);
        unlink(path);
        assert_int_equal(ag_check_file(path, &info, err, sizeof err), -1);
        s_free_art(&x);
    }
}

static void s_expect_rejected(const cc_bca_t *bca, s_edit_fn edit, const char *needle)
{
    char err[512] = "";
    assert_int_equal(s_check_edited(bca, edit, err, sizeof err), -1);
    if (!strstr(err, needle))
        fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void test_check_rejects_corrupted_copies(void **state)
{
    (void) state;
    s_art_t x;
    s_build(&x, 6);
    s_expect_rejected(&x.bca, s_edit_hash, "artifact hash mismatch");
    s_expect_rejected(&x.bca, s_edit_plugin, "plugin 'mock' checksum mismatch");
    s_expect_rejected(&x.bca, s_edit_no_manifest, "manifest.json not found");
    s_expect_rejected(&x.bca, s_edit_no_plugin, "plugin 'mock' (plugins/mock.wasm) not found");
    s_expect_rejected(&x.bca, s_edit_routes, "routes.json: sha256");
    s_expect_rejected(&x.bca, s_edit_spec_utf8, "specs/api.yaml");
    s_expect_rejected(&x.bca, s_edit_header_checksum, "not a valid artifact");
    s_expect_rejected(&x.bca, s_edit_duplicate, "duplicate entry 'plugins/mock.wasm'");
    s_free_art(&x);
}

static void test_check_rejects_bad_gzip_layers(void **state)
{
    (void) state;
    s_art_t x;
    s_build(&x, 6);
    ag_artifact_t info;
    char err[512];
    /* a second gzip member after the first (the data plane reads only the first) */
    size_t n = x.bca.len;
    unsigned char *two = malloc(2 * n);
    assert_non_null(two);
    memcpy(two, x.bca.data, n);
    memcpy(two + n, x.bca.data, n);
    assert_int_equal(ag_check_buffer(two, 2 * n, &info, err, sizeof err), -1);
    assert_non_null(strstr(err, "data after the first gzip member"));
    /* one trailing byte */
    two[n] = 0;
    assert_int_equal(ag_check_buffer(two, n + 1, &info, err, sizeof err), -1);
    assert_non_null(strstr(err, "data after the first gzip member"));
    /* truncated anywhere: never accepted */
    for (size_t cut = 0; cut < n; cut += 37)
        assert_int_equal(ag_check_buffer(two, cut, &info, err, sizeof err), -1);
    /* a corrupt CRC-32 in the trailer */
    memcpy(two, x.bca.data, n);
    two[n - 8] ^= 0xff;
    assert_int_equal(ag_check_buffer(two, n, &info, err, sizeof err), -1);
    /* not gzip at all, and a plain (uncompressed) tar */
    assert_int_equal(ag_check_buffer("hello", 5, &info, err, sizeof err), -1);
    size_t tlen = 0;
    unsigned char *tar = s_gunzip(x.bca.data, x.bca.len, 1024, &tlen);
    assert_int_equal(ag_check_buffer(tar, tlen, &info, err, sizeof err), -1);
    free(tar);
    free(two);
    s_free_art(&x);
}

/* Random byte flips of a real artifact: each verdict is a clean yes or no, never a crash;
 * a flip the check accepts must leave the artifact_hash as it was (only bytes no one checks,
 * e.g. inside the gzip header's reserved fields, may change). */
static void test_check_survives_random_corruption(void **state)
{
    (void) state;
    s_art_t x;
    s_build(&x, 6);
    unsigned char *copy = malloc(x.bca.len);
    assert_non_null(copy);
    srand(1234);
    int rejected = 0;
    for (int i = 0; i < 400; i++) {
        memcpy(copy, x.bca.data, x.bca.len);
        size_t at = (size_t) rand() % x.bca.len;
        copy[at] ^= (unsigned char) (1 + rand() % 255);
        ag_artifact_t info;
        char err[512];
        if (ag_check_buffer(copy, x.bca.len, &info, err, sizeof err) == 0)
            assert_string_equal(info.artifact_hash, GOLDEN6_HASH);
        else
            rejected++;
    }
    assert_true(rejected > 350);
    free(copy);
    s_free_art(&x);
}

/* ---------------------------------------------------------------- the manifest itself */

static void test_manifest_hash_matches_the_writer(void **state)
{
    (void) state;
    for (int format = 6; format >= 4; format -= 2) {
        s_art_t x;
        s_build(&x, format);
        char err[256] = "", hash[72];
        ag_manifest_t *m = ag_manifest_parse(x.bca.manifest, x.bca.manifest_len, err, sizeof err);
        assert_non_null(m);
        assert_int_equal(m->version, format);
        size_t len = 0;
        char *mine = ag_manifest_hash_text(m, &len);
        char *theirs = cc_bca_hash_text(&x.g.in, NULL, err, sizeof err);
        assert_non_null(mine);
        assert_non_null(theirs);
        assert_string_equal(mine, theirs);  /* two implementations, one text */
        assert_int_equal(len, format == 6 ? 546 : 411);     /* §12.3, §12.5 */
        assert_int_equal(ag_manifest_hash(m, hash), 0);
        assert_string_equal(hash, format == 6 ? GOLDEN6_HASH : GOLDEN4_HASH);
        free(mine);
        free(theirs);
        ag_manifest_destroy(&m);
        ag_manifest_destroy(&m);
        s_free_art(&x);
    }
}

/* A WAF policy with every field set, capabilities, MCP names and a u64 past int64: the agent's
 * hash text equals the writer's, digit for digit. */
static void test_manifest_hash_full_policy(void **state)
{
    (void) state;
    s_art_t x;
    s_build(&x, 6);
    static const char *const hf[] = { "log", "context_get", "http_call" };
    x.g.plugin.body_access = true;
    x.g.plugin.host_functions = hf;
    x.g.plugin.n_host_functions = 3;
    x.g.in.mcp_enabled = true;
    x.g.in.mcp_server_name = "Hello API";
    x.g.in.capabilities_enforced = true;
    x.g.in.has_waf = true;
    x.g.in.waf = (cc_bca_waf_t) { false, "crs", 2, true, 7, -6, UINT64_MAX, CC_WAF_AUDIT_ON,
                                true };
    cc_bca_free(&x.bca);
    char err[256] = "";
    assert_int_equal(cc_bca_build(&x.g.in, &x.bca, err, sizeof err), 0);
    ag_manifest_t *m = ag_manifest_parse(x.bca.manifest, x.bca.manifest_len, err, sizeof err);
    if (!m)
        fail_msg("%s", err);
    assert_string_equal(m->waf.max_response_body, "18446744073709551615");
    char *mine = ag_manifest_hash_text(m, NULL);
    char *theirs = cc_bca_hash_text(&x.g.in, NULL, err, sizeof err);
    assert_string_equal(mine, theirs);
    assert_non_null(strstr(mine, "host_functions=context_get,http_call,log\n"));
    assert_non_null(strstr(mine, "\tmode=DetectionOnly\tinbound=7\toutbound=-6\t"
                                 "max_response_body=18446744073709551615\taudit=On\t"
                                 "unsupported=Skip\tskipped=\n"));
    free(mine);
    free(theirs);
    ag_manifest_destroy(&m);
    ag_artifact_t info;
    assert_int_equal(ag_check_buffer(x.bca.data, x.bca.len, &info, err, sizeof err), 0);
    assert_string_equal(info.artifact_hash, x.bca.artifact_hash);
    s_free_art(&x);
}

/* A manifest edited with jansson (members moved or retyped), then parsed. */
static ag_manifest_t *s_parse_edited(const char *manifest, const char *key, json_t *value,
                                     char *err, size_t errlen)
{
    json_t *m = json_loads(manifest, 0, NULL);
    assert_non_null(m);
    if (value)
        json_object_set_new(m, key, value);
    else
        json_object_del(m, key);
    char *text = json_dumps(m, JSON_INDENT(2));
    json_decref(m);
    ag_manifest_t *out = ag_manifest_parse(text, strlen(text), err, errlen);
    free(text);
    return out;
}

static void test_manifest_rules(void **state)
{
    (void) state;
    s_art_t x;
    s_build(&x, 6);
    const char *mt = x.bca.manifest;
    char err[256];
    static const char *const required[] = {
        "barbacane_artifact_version", "compiled_at", "compiler_version", "source_specs",
        "routes_count", "checksums", "plugins", "artifact_hash", "provenance",
    };
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        err[0] = '\0';
        assert_null(s_parse_edited(mt, required[i], NULL, err, sizeof err));
        assert_true(err[0] != '\0');
    }
    /* optional members: their defaults give the same hash (mcp disabled, default waf) */
    static const char *const optional[] = { "mcp", "waf", "capabilities_enforced" };
    for (size_t i = 0; i < sizeof optional / sizeof optional[0]; i++) {
        ag_manifest_t *m = s_parse_edited(mt, optional[i], NULL, err, sizeof err);
        assert_non_null(m);
        char hash[72];
        assert_int_equal(ag_manifest_hash(m, hash), 0);
        assert_string_equal(hash, GOLDEN6_HASH);
        ag_manifest_destroy(&m);
    }
    struct { const char *key; const char *json; } wrong[] = {
        { "barbacane_artifact_version", "5" }, { "barbacane_artifact_version", "6.0" },
        { "barbacane_artifact_version", "\"6\"" }, { "routes_count", "-1" },
        { "routes_count", "null" }, { "source_specs", "{}" },
        { "source_specs", "[{\"file\": \"a\", \"sha256\": \"b\", \"type\": \"openapi\"}]" },
        { "plugins", "[{\"name\": \"a\"}]" }, { "plugins", "[7]" },
        { "checksums", "{\"routes.json\": 1}" }, { "artifact_hash", "null" },
        { "provenance", "null" }, { "provenance", "{\"commit\": 1}" }, { "mcp", "null" },
        { "mcp", "{\"server_name\": \"x\"}" }, { "waf", "{\"enabled\": false, \"mode\": \"x\"}" },
        { "waf", "{\"enabled\": false, \"paranoia_level\": 256}" }, { "waf", "{}" },
        { "waf", "{\"enabled\": false, \"skipped_rules\": [-1]}" },
        { "waf", "{\"enabled\": false, \"inbound_threshold\": 1.5}" },
        { "capabilities_enforced", "\"no\"" }, { "signature", "7" },
    };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        json_t *v = json_loads(wrong[i].json, JSON_DECODE_ANY, NULL);
        assert_non_null(v);
        ag_manifest_t *m = s_parse_edited(mt, wrong[i].key, v, err, sizeof err);
        if (m)
            fail_msg("%s = %s was accepted", wrong[i].key, wrong[i].json);
    }
    /* format 4 ignores a waf member altogether */
    s_free_art(&x);
    s_build(&x, 4);
    ag_manifest_t *m = s_parse_edited(x.bca.manifest, "waf", json_string("anything"), err,
                                      sizeof err);
    assert_non_null(m);
    char hash[72];
    ag_manifest_hash(m, hash);
    assert_string_equal(hash, GOLDEN4_HASH);
    ag_manifest_destroy(&m);
    /* hostile text */
    assert_null(ag_manifest_parse("", 0, err, sizeof err));
    assert_null(ag_manifest_parse("[]", 2, err, sizeof err));
    assert_null(ag_manifest_parse("{\"a\":1,\"a\":2}", 13, err, sizeof err));
    const char *huge_ints = "{\"barbacane_artifact_version\": 18446744073709551616}";
    assert_null(ag_manifest_parse(huge_ints, strlen(huge_ints), err, sizeof err));
    const char *big_version = "{\"barbacane_artifact_version\": 18446744073709551615}";
    assert_null(ag_manifest_parse(big_version, strlen(big_version), err, sizeof err));
    s_free_art(&x);
}

/* ---------------------------------------------------------------- output and worker */

static void test_out_lines_and_summary(void **state)
{
    (void) state;
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    assert_non_null(f);
    ag_out_t *o = ag_out_new(f, AG_EV_SESSION, 3);
    assert_non_null(o);
    ag_out_emit(o, AG_EV_HEARTBEAT, "heartbeat", 0, json_pack("{s:i}", "seq", 1));
    ag_out_emit(o, AG_EV_SESSION, "registered", 2, json_pack("{s:s, s:I}", "data_plane_id",
                                                              "d", "at_ms", (json_int_t) 42));
    ag_out_emit(o, AG_EV_SESSION, "closed", 1, json_pack("{s:o}", "reason",
                                                          ag_out_str("bad \xff byte")));
    ag_out_artifact_seen(o, 0, "art-1", 100);
    ag_out_artifact_seen(o, 0, "art-1", 101);      /* the same session again: not counted */
    ag_out_artifact_seen(o, 2, "art-1", 130);
    ag_out_artifact_seen(o, 7, "art-1", 140);      /* no such session */
    ag_out_artifact_seen(o, 1, "art-1", 150);      /* the last one: the summary line */
    ag_out_artifact_seen(o, 1, "art-1", 160);      /* once only */
    fflush(f);
    char *lines[8] = { 0 };
    size_t n = 0;
    for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l && n < 8;
         l = strtok_r(NULL, "\n", &save))
        lines[n++] = l;
    assert_int_equal(n, 3);     /* the heartbeat line is below AG_EV_SESSION */
    assert_string_equal(lines[0], "{\"event\":\"registered\",\"session\":2,"
                                  "\"data_plane_id\":\"d\",\"at_ms\":42}");
    json_t *closed = json_loads(lines[1], 0, NULL);
    assert_string_equal(json_string_value(json_object_get(closed, "reason")), "bad ? byte");
    assert_true(json_is_integer(json_object_get(closed, "at_ms")));
    json_decref(closed);
    json_t *sum = json_loads(lines[2], 0, NULL);
    assert_string_equal(json_string_value(json_object_get(sum, "event")),
                        "all_artifact_available");
    assert_int_equal(json_integer_value(json_object_get(sum, "sessions")), 3);
    assert_int_equal(json_integer_value(json_object_get(sum, "first_at_ms")), 100);
    assert_int_equal(json_integer_value(json_object_get(sum, "last_at_ms")), 150);
    assert_int_equal(json_integer_value(json_object_get(sum, "spread_ms")), 50);
    json_decref(sum);
    ag_out_destroy(&o);
    ag_out_destroy(&o);
    fclose(f);
    free(buf);
}

static void test_worker_checks_off_thread(void **state)
{
    (void) state;
    s_art_t x;
    s_build(&x, 6);
    char good[] = "/tmp/test_agent_w_XXXXXX", bad[] = "/tmp/test_agent_b_XXXXXX";
    int fd = mkstemp(good);
    assert_int_equal(write(fd, x.bca.data, x.bca.len), (ssize_t) x.bca.len);
    close(fd);
    fd = mkstemp(bad);
    assert_int_equal(write(fd, x.bca.data, x.bca.len / 2), (ssize_t) (x.bca.len / 2));
    close(fd);
    ag_worker_t *w = ag_worker_new(NULL);
    assert_non_null(w);
    ag_job_t *j1 = ag_job_new(3, 7, "a-1", good), *j2 = ag_job_new(4, 8, "a-2", bad);
    assert_int_equal(ag_worker_submit(w, &j1), 0);
    assert_int_equal(ag_worker_submit(w, &j2), 0);
    assert_null(j1);
    ag_job_t *done[2] = { NULL, NULL };
    for (int i = 0, got = 0; got < 2 && i < 5000; i++) {
        ag_job_t *j = ag_worker_take(w);
        if (j)
            done[got++] = j;
        else
            nanosleep(&(struct timespec) { 0, 1000000 }, NULL);
    }
    assert_non_null(done[0]);
    assert_non_null(done[1]);
    assert_int_equal(done[0]->session, 3);      /* FIFO */
    assert_int_equal(done[0]->rc, 0);
    assert_string_equal(done[0]->artifact.artifact_hash, GOLDEN6_HASH);
    assert_int_equal(done[1]->seq, 8);
    assert_int_equal(done[1]->rc, -1);
    assert_true(done[1]->error[0] != '\0');
    ag_job_destroy(&done[0]);
    ag_job_destroy(&done[1]);
    /* jobs still queued at destroy are freed with it */
    ag_job_t *j3 = ag_job_new(0, 9, "a-3", good);
    assert_int_equal(ag_worker_submit(w, &j3), 0);
    ag_worker_destroy(&w);
    ag_worker_destroy(&w);
    unlink(good);
    unlink(bad);
    s_free_art(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_parse),
        cmocka_unit_test(test_url_join),
        cmocka_unit_test(test_msg_parse_known),
        cmocka_unit_test(test_msg_parse_rejects),
        cmocka_unit_test(test_msg_encode),
        cmocka_unit_test(test_check_accepts_the_writers_artifacts),
        cmocka_unit_test(test_check_rejects_corrupted_copies),
        cmocka_unit_test(test_check_rejects_bad_gzip_layers),
        cmocka_unit_test(test_check_survives_random_corruption),
        cmocka_unit_test(test_manifest_hash_matches_the_writer),
        cmocka_unit_test(test_manifest_hash_full_policy),
        cmocka_unit_test(test_manifest_rules),
        cmocka_unit_test(test_out_lines_and_summary),
        cmocka_unit_test(test_worker_checks_off_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
