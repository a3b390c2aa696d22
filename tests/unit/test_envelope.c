/* test_envelope.c — cmocka unit tests for the request/reply envelope codec (proto/pr_envelope.c)
 * and the MDP tag frame. Owns: hand-packed hostile msgpack inputs and a fixed-seed fuzz loop. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <msgpack.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pr_envelope.h"
#include "pr_mdp.h"

/* ---------------------------------------------------------------- helpers */

static const unsigned char s_body[] = { 'a', 0x00, 'b', 0x00, 0xff, 0xc1, 0x00, 'z' };
static const unsigned char s_data1[] = { 'o', 'p', 'e', 'n', 'a', 'p', 'i', ':', 0x00, '3' };
static const unsigned char s_data2[] = { 0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00 };

/* A request with every field set: the reference for round trips, truncation and fuzzing. */
static void s_full_request(pr_request_t *r)
{
    memset(r, 0, sizeof *r);
    r->op = "spec.upload_project";
    r->rid = "req-0123456789:abc";
    r->principal = "admin";
    r->uri = "/projects/1b4e28ba-2fa1-41d2-883f-0016d3cca427/specs";
    r->path[0] = (pr_kv_t) { "projectId", "1b4e28ba-2fa1-41d2-883f-0016d3cca427" };
    r->npath = 1;
    r->query[0] = (pr_kv_t) { "limit", "10" };
    r->query[1] = (pr_kv_t) { "name", "pet store" };
    r->nquery = 2;
    r->headers[0] = (pr_kv_t) { "Content-Type", "multipart/form-data; boundary=x" };
    r->headers[1] = (pr_kv_t) { "Idempotency-Key", "k-1" };
    r->headers[2] = (pr_kv_t) { "If-Match", "\"v3\"" };
    r->nheaders = 3;
    r->parts[0] = (pr_part_t) { "file", "api.yaml", "application/yaml", s_data1, sizeof s_data1 };
    r->parts[1] = (pr_part_t) { "plugin", "mock.wasm", "application/wasm", s_data2,
                                sizeof s_data2 };
    r->nparts = 2;
    r->body = s_body;
    r->body_len = sizeof s_body;
    r->deadline_ms = 1700000000123;
}

static unsigned char *s_encode_full(size_t *len)
{
    pr_request_t r;
    s_full_request(&r);
    unsigned char *buf = pr_request_encode(&r, len);
    assert_non_null(buf);
    assert_true(*len > 0);
    return buf;
}

/* Packs maps by hand for hostile inputs. */
typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} s_mp_t;

static void s_mp_init(s_mp_t *m)
{
    msgpack_sbuffer_init(&m->sb);
    msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
}

static void s_mp_str(s_mp_t *m, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(&m->pk, n);
    msgpack_pack_str_body(&m->pk, s, n);
}

static void s_mp_strn(s_mp_t *m, const char *s, size_t n)
{
    msgpack_pack_str(&m->pk, n);
    msgpack_pack_str_body(&m->pk, s, n);
}

/* Opens a request map of n entries beyond v and op (v and op are written here). */
static void s_mp_req(s_mp_t *m, uint32_t extra)
{
    s_mp_init(m);
    msgpack_pack_map(&m->pk, 2 + extra);
    s_mp_str(m, "v");
    msgpack_pack_unsigned_int(&m->pk, 1);
    s_mp_str(m, "op");
    s_mp_str(m, "project.get");
}

/* Decodes m as a request; returns the rc and checks err was filled on failure. */
static int s_dec_req(s_mp_t *m)
{
    pr_request_t req;
    char err[256] = "";
    int rc = pr_request_decode(m->sb.data, m->sb.size, &req, err, sizeof err);
    assert_true(rc == 0 || rc == -1);
    if (rc != 0)
        assert_true(err[0] != '\0');
    pr_request_clear(&req);
    assert_null(req.owned_);
    msgpack_sbuffer_destroy(&m->sb);
    return rc;
}

static int s_dec_rep(s_mp_t *m)
{
    pr_reply_t rep;
    char err[256] = "";
    int rc = pr_reply_decode(m->sb.data, m->sb.size, &rep, err, sizeof err);
    assert_true(rc == 0 || rc == -1);
    if (rc != 0)
        assert_true(err[0] != '\0');
    pr_reply_clear(&rep);
    assert_null(rep.owned_);
    msgpack_sbuffer_destroy(&m->sb);
    return rc;
}

static bool s_in(const void *p, size_t n, const void *base, size_t len)
{
    const unsigned char *a = p, *b = base;
    return n == 0 || (a >= b && a + n <= b + len);
}

/* ---------------------------------------------------------------- round trips */

static void test_request_round_trip(void **state)
{
    (void) state;
    pr_request_t in, out;
    s_full_request(&in);
    size_t len = 0;
    unsigned char *buf = pr_request_encode(&in, &len);
    assert_non_null(buf);
    char err[128] = "";
    assert_int_equal(pr_request_decode(buf, len, &out, err, sizeof err), 0);
    assert_string_equal(err, "");

    assert_string_equal(out.op, "spec.upload_project");
    assert_string_equal(out.rid, "req-0123456789:abc");
    assert_string_equal(out.principal, "admin");
    assert_string_equal(out.uri, in.uri);
    assert_int_equal(out.npath, 1);
    assert_string_equal(out.path[0].key, "projectId");
    assert_string_equal(out.path[0].val, "1b4e28ba-2fa1-41d2-883f-0016d3cca427");
    assert_int_equal(out.nquery, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_string_equal(out.query[i].key, in.query[i].key);
        assert_string_equal(out.query[i].val, in.query[i].val);
    }
    assert_int_equal(out.nheaders, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(out.headers[i].key, in.headers[i].key);
        assert_string_equal(out.headers[i].val, in.headers[i].val);
    }
    assert_true(out.has_body);
    assert_int_equal(out.body_len, sizeof s_body);
    assert_memory_equal(out.body, s_body, sizeof s_body);
    assert_true(s_in(out.body, out.body_len, buf, len)); /* borrowed from the frame */
    assert_int_equal(out.nparts, 2);
    assert_string_equal(out.parts[0].name, "file");
    assert_string_equal(out.parts[0].filename, "api.yaml");
    assert_string_equal(out.parts[0].content_type, "application/yaml");
    assert_int_equal(out.parts[0].len, sizeof s_data1);
    assert_memory_equal(out.parts[0].data, s_data1, sizeof s_data1);
    assert_string_equal(out.parts[1].name, "plugin");
    assert_string_equal(out.parts[1].filename, "mock.wasm");
    assert_string_equal(out.parts[1].content_type, "application/wasm");
    assert_int_equal(out.parts[1].len, sizeof s_data2);
    assert_memory_equal(out.parts[1].data, s_data2, sizeof s_data2);
    assert_true(s_in(out.parts[1].data, out.parts[1].len, buf, len));
    assert_true(out.deadline_ms == 1700000000123);
    /* Decoded strings are owned copies, not pointers to the caller's fields. */
    assert_ptr_not_equal(out.op, in.op);

    pr_request_clear(&out);
    assert_null(out.owned_);
    assert_null(out.op);
    assert_int_equal(out.nparts, 0);
    free(buf);
}

/* NULL principal/uri/filename/content_type travel as nil and come back NULL; no parts, empty body. */
static void test_request_round_trip_nulls(void **state)
{
    (void) state;
    pr_request_t in, out;
    memset(&in, 0, sizeof in);
    in.op = "health";
    in.rid = "abcdefgh";
    in.parts[0] = (pr_part_t) { "file", NULL, NULL, (const unsigned char *) "", 0 };
    in.nparts = 1;
    size_t len = 0;
    unsigned char *buf = pr_request_encode(&in, &len);
    assert_non_null(buf);
    char err[128];
    assert_int_equal(pr_request_decode(buf, len, &out, err, sizeof err), 0);
    assert_string_equal(out.op, "health");
    assert_string_equal(out.rid, "abcdefgh");
    assert_null(out.principal);
    assert_null(out.uri);
    assert_int_equal(out.npath + out.nquery + out.nheaders, 0);
    assert_int_equal(out.nparts, 1);
    assert_string_equal(out.parts[0].name, "file");
    assert_null(out.parts[0].filename);
    assert_null(out.parts[0].content_type);
    assert_int_equal(out.parts[0].len, 0);
    assert_int_equal(out.body_len, 0);
    assert_true(out.deadline_ms == 0);
    pr_request_clear(&out);
    free(buf);
}

/* A 1 MiB body survives the trip byte for byte. */
static void test_request_large_body(void **state)
{
    (void) state;
    size_t n = 1u << 20;
    unsigned char *body = malloc(n);
    assert_non_null(body);
    for (size_t i = 0; i < n; i++)
        body[i] = (unsigned char) (i * 31u + (i >> 8));
    pr_request_t in, out;
    memset(&in, 0, sizeof in);
    in.op = "spec.upload";
    in.rid = "abcdefgh";
    in.body = body;
    in.body_len = n;
    size_t len = 0;
    unsigned char *buf = pr_request_encode(&in, &len);
    assert_non_null(buf);
    assert_true(len > n);
    char err[128];
    assert_int_equal(pr_request_decode(buf, len, &out, err, sizeof err), 0);
    assert_int_equal(out.body_len, n);
    assert_memory_equal(out.body, body, n);
    pr_request_clear(&out);
    free(buf);
    free(body);
}

static void test_reply_round_trip(void **state)
{
    (void) state;
    static const char json[] = "{\"id\":\"x\",\"name\":\"demo\"}";
    pr_reply_t in, out;
    memset(&in, 0, sizeof in);
    in.status = 201;
    in.content_type = "application/json";
    in.headers[0] = (pr_kv_t) { "Location", "/projects/x" };
    in.headers[1] = (pr_kv_t) { "ETag", "\"1\"" };
    in.nheaders = 2;
    in.body = (const unsigned char *) json;
    in.body_len = sizeof json - 1;
    size_t len = 0;
    unsigned char *buf = pr_reply_encode(&in, &len);
    assert_non_null(buf);
    char err[128] = "";
    assert_int_equal(pr_reply_decode(buf, len, &out, err, sizeof err), 0);
    assert_int_equal(out.status, 201);
    assert_string_equal(out.content_type, "application/json");
    assert_int_equal(out.nheaders, 2);
    assert_string_equal(out.headers[0].key, "Location");
    assert_string_equal(out.headers[0].val, "/projects/x");
    assert_string_equal(out.headers[1].key, "ETag");
    assert_string_equal(out.headers[1].val, "\"1\"");
    assert_int_equal(out.body_len, sizeof json - 1);
    assert_memory_equal(out.body, json, sizeof json - 1);
    assert_true(s_in(out.body, out.body_len, buf, len));
    pr_reply_clear(&out);
    assert_null(out.owned_);
    assert_int_equal(out.status, 0);
    free(buf);

    /* 204 without content type or body. */
    memset(&in, 0, sizeof in);
    in.status = 204;
    buf = pr_reply_encode(&in, &len);
    assert_non_null(buf);
    assert_int_equal(pr_reply_decode(buf, len, &out, err, sizeof err), 0);
    assert_int_equal(out.status, 204);
    assert_null(out.content_type);
    assert_int_equal(out.nheaders, 0);
    assert_int_equal(out.body_len, 0);
    pr_reply_clear(&out);
    free(buf);
}

static void test_kv_get(void **state)
{
    (void) state;
    pr_request_t in, out;
    s_full_request(&in);
    size_t len;
    unsigned char *buf = pr_request_encode(&in, &len);
    char err[64];
    assert_int_equal(pr_request_decode(buf, len, &out, err, sizeof err), 0);
    const char *ct = "multipart/form-data; boundary=x";
    assert_string_equal(pr_kv_get(out.headers, out.nheaders, "content-type"), ct);
    assert_string_equal(pr_kv_get(out.headers, out.nheaders, "CONTENT-TYPE"), ct);
    assert_string_equal(pr_kv_get(out.headers, out.nheaders, "Content-Type"), ct);
    assert_string_equal(pr_kv_get(out.headers, out.nheaders, "if-match"), "\"v3\"");
    assert_string_equal(pr_kv_get(out.headers, out.nheaders, "idempotency-key"), "k-1");
    assert_null(pr_kv_get(out.headers, out.nheaders, "Content-Length"));
    assert_null(pr_kv_get(out.headers, out.nheaders, "Content-Typ"));
    assert_null(pr_kv_get(out.headers, out.nheaders, ""));
    /* n bounds the search: the third header is not seen with n = 2. */
    assert_null(pr_kv_get(out.headers, 2, "If-Match"));
    assert_null(pr_kv_get(out.headers, 0, "Content-Type"));
    assert_string_equal(pr_kv_get(out.query, out.nquery, "name"), "pet store");
    assert_string_equal(pr_kv_get(out.path, out.npath, "projectId"), in.path[0].val);
    pr_request_clear(&out);
    free(buf);
}

static void test_part_get(void **state)
{
    (void) state;
    pr_request_t in, out;
    s_full_request(&in);
    size_t len;
    unsigned char *buf = pr_request_encode(&in, &len);
    char err[64];
    assert_int_equal(pr_request_decode(buf, len, &out, err, sizeof err), 0);
    const pr_part_t *p = pr_part_get(&out, "plugin");
    assert_non_null(p);
    assert_ptr_equal(p, &out.parts[1]);
    assert_string_equal(p->filename, "mock.wasm");
    assert_int_equal(p->len, sizeof s_data2);
    assert_memory_equal(p->data, s_data2, sizeof s_data2);
    p = pr_part_get(&out, "file");
    assert_non_null(p);
    assert_string_equal(p->content_type, "application/yaml");
    assert_null(pr_part_get(&out, "nope"));
    assert_null(pr_part_get(&out, "FILE")); /* form field names are case-sensitive */
    assert_null(pr_part_get(&out, ""));
    pr_request_clear(&out);
    assert_null(pr_part_get(&out, "file"));
    free(buf);
}

/* ---------------------------------------------------------------- rejections */

static void test_every_truncation_rejected(void **state)
{
    (void) state;
    size_t len;
    unsigned char *buf = s_encode_full(&len);
    for (size_t n = 0; n < len; n++) {
        /* A fresh exact-size copy so ASan sees any read past the prefix. */
        unsigned char *cut = malloc(n ? n : 1);
        assert_non_null(cut);
        memcpy(cut, buf, n);
        pr_request_t req;
        char err[128] = "";
        int rc = pr_request_decode(n ? cut : buf, n, &req, err, sizeof err);
        if (rc != -1)
            fail_msg("prefix of %zu/%zu bytes decoded (rc %d)", n, len, rc);
        assert_true(err[0] != '\0');
        pr_request_clear(&req);
        free(cut);
    }
    /* The full length still decodes. */
    pr_request_t req;
    char err[128];
    assert_int_equal(pr_request_decode(buf, len, &req, err, sizeof err), 0);
    pr_request_clear(&req);
    free(buf);
}

static void test_reply_truncations_rejected(void **state)
{
    (void) state;
    pr_reply_t in;
    memset(&in, 0, sizeof in);
    in.status = 200;
    in.content_type = "application/json";
    in.headers[0] = (pr_kv_t) { "X-Request-Id", "abcdefgh" };
    in.nheaders = 1;
    in.body = (const unsigned char *) "{}";
    in.body_len = 2;
    size_t len;
    unsigned char *buf = pr_reply_encode(&in, &len);
    assert_non_null(buf);
    for (size_t n = 0; n < len; n++) {
        unsigned char *cut = malloc(n ? n : 1);
        memcpy(cut, buf, n);
        pr_reply_t rep;
        char err[128] = "";
        assert_int_equal(pr_reply_decode(n ? cut : buf, n, &rep, err, sizeof err), -1);
        assert_true(err[0] != '\0');
        pr_reply_clear(&rep);
        free(cut);
    }
    free(buf);
}

static void test_array_not_map(void **state)
{
    (void) state;
    s_mp_t m;
    s_mp_init(&m);
    msgpack_pack_array(&m.pk, 2);
    s_mp_str(&m, "v");
    msgpack_pack_unsigned_int(&m.pk, 1);
    assert_int_equal(s_dec_req(&m), -1);

    s_mp_init(&m);
    msgpack_pack_array(&m.pk, 4);
    s_mp_str(&m, "v");
    msgpack_pack_unsigned_int(&m.pk, 1);
    s_mp_str(&m, "status");
    msgpack_pack_unsigned_int(&m.pk, 200);
    assert_int_equal(s_dec_rep(&m), -1);

    s_mp_init(&m); /* a bare scalar */
    s_mp_str(&m, "hello");
    assert_int_equal(s_dec_req(&m), -1);
}

static void test_minimal_request_accepted(void **state)
{
    (void) state;
    s_mp_t m;
    s_mp_req(&m, 0); /* {v:1, op:"project.get"} is the smallest valid request */
    assert_int_equal(s_dec_req(&m), 0);
    s_mp_req(&m, 1); /* unknown keys are ignored */
    s_mp_str(&m, "future_field");
    msgpack_pack_array(&m.pk, 2);
    msgpack_pack_true(&m.pk);
    msgpack_pack_double(&m.pk, 1.5);
    assert_int_equal(s_dec_req(&m), 0);
}

static void test_request_wrong_types(void **state)
{
    (void) state;
    s_mp_t m;

    s_mp_init(&m); /* op as int */
    msgpack_pack_map(&m.pk, 2);
    s_mp_str(&m, "v");
    msgpack_pack_unsigned_int(&m.pk, 1);
    s_mp_str(&m, "op");
    msgpack_pack_int(&m.pk, 5);
    assert_int_equal(s_dec_req(&m), -1);

    s_mp_init(&m); /* v = 2 */
    msgpack_pack_map(&m.pk, 2);
    s_mp_str(&m, "v");
    msgpack_pack_unsigned_int(&m.pk, 2);
    s_mp_str(&m, "op");
    s_mp_str(&m, "health");
    assert_int_equal(s_dec_req(&m), -1);

    s_mp_init(&m); /* v as string */
    msgpack_pack_map(&m.pk, 2);
    s_mp_str(&m, "v");
    s_mp_str(&m, "1");
    s_mp_str(&m, "op");
    s_mp_str(&m, "health");
    assert_int_equal(s_dec_req(&m), -1);

    s_mp_init(&m); /* no v */
    msgpack_pack_map(&m.pk, 1);
    s_mp_str(&m, "op");
    s_mp_str(&m, "health");
    assert_int_equal(s_dec_req(&m), -1);

    s_mp_init(&m); /* no op */
    msgpack_pack_map(&m.pk, 1);
    s_mp_str(&m, "v");
    msgpack_pack_unsigned_int(&m.pk, 1);
    assert_int_equal(s_dec_req(&m), -1);

    s_mp_req(&m, 1); /* path as array */
    s_mp_str(&m, "path");
    msgpack_pack_array(&m.pk, 1);
    s_mp_str(&m, "id");
    assert_int_equal(s_dec_req(&m), -1);

    s_mp_req(&m, 1); /* query value as int */
    s_mp_str(&m, "query");
    msgpack_pack_map(&m.pk, 1);
    s_mp_str(&m, "limit");
    msgpack_pack_int(&m.pk, 10);
    assert_int_equal(s_dec_req(&m), -1);

    s_mp_req(&m, 1); /* body as map */
    s_mp_str(&m, "body");
    msgpack_pack_map(&m.pk, 0);
    assert_int_equal(s_dec_req(&m), -1);

    s_mp_req(&m, 1); /* headers as string */
    s_mp_str(&m, "headers");
    s_mp_str(&m, "Content-Type: x");
    assert_int_equal(s_dec_req(&m), -1);

    s_mp_req(&m, 1); /* parts as array */
    s_mp_str(&m, "parts");
    msgpack_pack_array(&m.pk, 0);
    assert_int_equal(s_dec_req(&m), -1);

    s_mp_req(&m, 1); /* negative deadline */
    s_mp_str(&m, "deadline_ms");
    msgpack_pack_int64(&m.pk, -5);
    assert_int_equal(s_dec_req(&m), -1);

    s_mp_req(&m, 1); /* deadline beyond int64 */
    s_mp_str(&m, "deadline_ms");
    msgpack_pack_uint64(&m.pk, UINT64_MAX);
    assert_int_equal(s_dec_req(&m), -1);

    s_mp_req(&m, 1); /* rid with an embedded NUL */
    s_mp_str(&m, "rid");
    s_mp_strn(&m, "abc\0defgh", 9);
    assert_int_equal(s_dec_req(&m), -1);

    s_mp_req(&m, 1); /* principal as bool */
    s_mp_str(&m, "principal");
    msgpack_pack_true(&m.pk);
    assert_int_equal(s_dec_req(&m), -1);
}

static void test_reply_wrong_types(void **state)
{
    (void) state;
    static const struct { int kind; uint64_t status; int want; } cases[] = {
        { 0, 99, -1 }, { 0, 600, -1 }, { 0, 0, -1 }, { 0, 100, -1 }, { 0, 199, -1 },
        { 0, 599, 0 },
        { 0, 200, 0 }, { 1, 200, -1 }, /* status as string */
        { 2, 200, -1 },                /* v = 2 */
        { 3, 200, -1 },                /* no status */
        { 4, 200, -1 },                /* body as array */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_mp_t m;
        s_mp_init(&m);
        int k = cases[i].kind;
        msgpack_pack_map(&m.pk, k == 3 ? 1 : k == 4 ? 3 : 2);
        s_mp_str(&m, "v");
        msgpack_pack_unsigned_int(&m.pk, k == 2 ? 2 : 1);
        if (k != 3) {
            s_mp_str(&m, "status");
            if (k == 1)
                s_mp_str(&m, "200");
            else
                msgpack_pack_uint64(&m.pk, cases[i].status);
        }
        if (k == 4) {
            s_mp_str(&m, "body");
            msgpack_pack_array(&m.pk, 0);
        }
        int rc = s_dec_rep(&m);
        if (rc != cases[i].want)
            fail_msg("reply case %zu (kind %d, status %llu): got %d, want %d", i, k,
                     (unsigned long long) cases[i].status, rc, cases[i].want);
    }
}

static void test_header_value_limit(void **state)
{
    (void) state;
    char *big = malloc(PR_MAX_STR + 2);
    memset(big, 'a', PR_MAX_STR + 1);
    big[PR_MAX_STR + 1] = '\0';
    for (int over = 0; over <= 1; over++) {
        s_mp_t m;
        s_mp_req(&m, 1);
        s_mp_str(&m, "headers");
        msgpack_pack_map(&m.pk, 1);
        s_mp_str(&m, "X-Big");
        s_mp_strn(&m, big, PR_MAX_STR + (size_t) over);
        assert_int_equal(s_dec_req(&m), over ? -1 : 0);
    }
    /* Same bound on keys. */
    s_mp_t m;
    s_mp_req(&m, 1);
    s_mp_str(&m, "headers");
    msgpack_pack_map(&m.pk, 1);
    s_mp_strn(&m, big, PR_MAX_STR + 1);
    s_mp_str(&m, "v");
    assert_int_equal(s_dec_req(&m), -1);
    free(big);
}

static void s_pack_headers(s_mp_t *m, const char *field, uint32_t n)
{
    s_mp_str(m, field);
    msgpack_pack_map(&m->pk, n);
    for (uint32_t i = 0; i < n; i++) {
        char k[32];
        snprintf(k, sizeof k, "X-H-%u", i);
        s_mp_str(m, k);
        s_mp_str(m, "v");
    }
}

static void test_pair_count_limit(void **state)
{
    (void) state;
    static const char *const fields[] = { "headers", "path", "query" };
    for (size_t f = 0; f < 3; f++) {
        s_mp_t m;
        s_mp_req(&m, 1);
        s_pack_headers(&m, fields[f], PR_MAX_PAIRS);
        pr_request_t req;
        char err[128];
        assert_int_equal(pr_request_decode(m.sb.data, m.sb.size, &req, err, sizeof err), 0);
        size_t n = f == 0 ? req.nheaders : f == 1 ? req.npath : req.nquery;
        assert_int_equal(n, PR_MAX_PAIRS);
        pr_request_clear(&req);
        msgpack_sbuffer_destroy(&m.sb);

        s_mp_req(&m, 1);
        s_pack_headers(&m, fields[f], PR_MAX_PAIRS + 1);
        assert_int_equal(s_dec_req(&m), -1);
    }
    /* Reply headers too. */
    s_mp_t m;
    s_mp_init(&m);
    msgpack_pack_map(&m.pk, 3);
    s_mp_str(&m, "v");
    msgpack_pack_unsigned_int(&m.pk, 1);
    s_mp_str(&m, "status");
    msgpack_pack_unsigned_int(&m.pk, 200);
    s_pack_headers(&m, "headers", PR_MAX_PAIRS + 1);
    assert_int_equal(s_dec_rep(&m), -1);
}

static void s_pack_parts(s_mp_t *m, uint32_t n, bool with_data)
{
    s_mp_str(m, "parts");
    msgpack_pack_map(&m->pk, n);
    for (uint32_t i = 0; i < n; i++) {
        char k[32];
        snprintf(k, sizeof k, "part%u", i);
        s_mp_str(m, k);
        msgpack_pack_map(&m->pk, with_data ? 2 : 1);
        s_mp_str(m, "filename");
        s_mp_str(m, "f.txt");
        if (with_data) {
            s_mp_str(m, "data");
            msgpack_pack_bin(&m->pk, 1);
            msgpack_pack_bin_body(&m->pk, "x", 1);
        }
    }
}

static void test_parts_limits(void **state)
{
    (void) state;
    s_mp_t m;
    s_mp_req(&m, 1);
    s_pack_parts(&m, PR_MAX_PARTS, true);
    pr_request_t req;
    char err[128];
    assert_int_equal(pr_request_decode(m.sb.data, m.sb.size, &req, err, sizeof err), 0);
    assert_int_equal(req.nparts, PR_MAX_PARTS);
    assert_string_equal(req.parts[PR_MAX_PARTS - 1].name, "part31");
    assert_int_equal(req.parts[PR_MAX_PARTS - 1].len, 1);
    assert_null(req.parts[0].content_type);
    pr_request_clear(&req);
    msgpack_sbuffer_destroy(&m.sb);

    s_mp_req(&m, 1);
    s_pack_parts(&m, PR_MAX_PARTS + 1, true);
    assert_int_equal(s_dec_req(&m), -1);

    s_mp_req(&m, 1); /* a part without data */
    s_pack_parts(&m, 1, false);
    assert_int_equal(s_dec_req(&m), -1);

    s_mp_req(&m, 1); /* a part that is not a map */
    s_mp_str(&m, "parts");
    msgpack_pack_map(&m.pk, 1);
    s_mp_str(&m, "file");
    msgpack_pack_bin(&m.pk, 1);
    msgpack_pack_bin_body(&m.pk, "x", 1);
    assert_int_equal(s_dec_req(&m), -1);

    s_mp_req(&m, 1); /* data of the wrong type */
    s_mp_str(&m, "parts");
    msgpack_pack_map(&m.pk, 1);
    s_mp_str(&m, "file");
    msgpack_pack_map(&m.pk, 1);
    s_mp_str(&m, "data");
    msgpack_pack_int(&m.pk, 3);
    assert_int_equal(s_dec_req(&m), -1);
}

static void test_huge_count_rejected_quickly(void **state)
{
    (void) state;
    /* array32 claiming 2^31 elements, then five bytes: the count is a lie. */
    static const unsigned char arr[10] = { 0xdd, 0x80, 0x00, 0x00, 0x00, 0x01, 0x01, 0x01,
                                           0x01, 0x01 };
    static const unsigned char map[10] = { 0xdf, 0x80, 0x00, 0x00, 0x00, 0x01, 0x01, 0x01,
                                           0x01, 0x01 };
    /* A valid root map whose value claims 2^31 elements. */
    static const unsigned char nested[] = { 0x81, 0xa1, 'x', 0xdd, 0x80, 0x00, 0x00, 0x00, 0x01 };
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(pr_msgpack_check(arr, sizeof arr, 8), -1);
    assert_int_equal(pr_msgpack_check(map, sizeof map, 8), -1);
    assert_int_equal(pr_msgpack_check(nested, sizeof nested, 8), -1);
    pr_request_t req;
    pr_reply_t rep;
    char err[128] = "";
    assert_int_equal(pr_request_decode(arr, sizeof arr, &req, err, sizeof err), -1);
    assert_true(err[0] != '\0');
    pr_request_clear(&req);
    assert_int_equal(pr_request_decode(nested, sizeof nested, &req, err, sizeof err), -1);
    pr_request_clear(&req);
    assert_int_equal(pr_reply_decode(map, sizeof map, &rep, err, sizeof err), -1);
    pr_reply_clear(&rep);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double) (t1.tv_sec - t0.tv_sec) * 1e3 + (double) (t1.tv_nsec - t0.tv_nsec) / 1e6;
    if (ms > 500.0)
        fail_msg("rejecting lying counts took %.1f ms", ms);

    /* str32 / bin32 lengths beyond the buffer. */
    static const unsigned char str32[] = { 0xdb, 0x7f, 0xff, 0xff, 0xff, 'a' };
    static const unsigned char bin32[] = { 0xc6, 0xff, 0xff, 0xff, 0xff, 'a' };
    static const unsigned char ext32[] = { 0xc9, 0xff, 0xff, 0xff, 0xff, 0x01, 'a' };
    assert_int_equal(pr_msgpack_check(str32, sizeof str32, 8), -1);
    assert_int_equal(pr_msgpack_check(bin32, sizeof bin32, 8), -1);
    assert_int_equal(pr_msgpack_check(ext32, sizeof ext32, 8), -1);
}

/* A request whose ignored field "deep" holds `levels` nested one-element arrays. */
static void s_pack_deep(s_mp_t *m, int levels)
{
    s_mp_req(m, 1);
    s_mp_str(m, "deep");
    for (int i = 0; i < levels; i++)
        msgpack_pack_array(&m->pk, 1);
    msgpack_pack_unsigned_int(&m->pk, 7);
}

static void test_nesting_limit(void **state)
{
    (void) state;
    s_mp_t m;
    s_pack_deep(&m, 3); /* root map + 3 arrays = 4 levels */
    assert_int_equal(s_dec_req(&m), 0);
    s_pack_deep(&m, 8); /* 9 levels */
    assert_int_equal(s_dec_req(&m), -1);
    s_pack_deep(&m, 100);
    assert_int_equal(s_dec_req(&m), -1);

    /* pr_msgpack_check directly: 9 nested arrays with max_depth 8 fail, 4 pass. */
    unsigned char deep[200];
    for (int i = 0; i < 9; i++)
        deep[i] = 0x91;
    deep[9] = 0x01;
    assert_int_equal(pr_msgpack_check(deep, 10, 8), -1);
    assert_int_equal(pr_msgpack_check(deep + 5, 5, 8), 0);
    /* 150 levels: far past the checker's own 64-entry stack. */
    memset(deep, 0x91, 150);
    deep[150] = 0x01;
    assert_int_equal(pr_msgpack_check(deep, 151, 63), -1);
    /* max_depth out of range or no data. */
    assert_int_equal(pr_msgpack_check(deep + 149, 2, 0), -1);
    assert_int_equal(pr_msgpack_check(deep + 149, 2, 64), -1);
    assert_int_equal(pr_msgpack_check(deep, 0, 8), -1);
    assert_int_equal(pr_msgpack_check(NULL, 4, 8), -1);
}

static void test_trailing_garbage(void **state)
{
    (void) state;
    size_t len;
    unsigned char *buf = s_encode_full(&len);
    unsigned char *more = malloc(2 * len);
    memcpy(more, buf, len);
    more[len] = 0xc0; /* a nil after the map */
    pr_request_t req;
    char err[128] = "";
    assert_int_equal(pr_request_decode(more, len + 1, &req, err, sizeof err), -1);
    assert_true(err[0] != '\0');
    pr_request_clear(&req);
    memcpy(more + len, buf, len); /* two maps back to back */
    assert_int_equal(pr_request_decode(more, 2 * len, &req, err, sizeof err), -1);
    pr_request_clear(&req);
    assert_int_equal(pr_msgpack_check(more, len + 1, 8), -1);
    assert_int_equal(pr_msgpack_check(more, len, 8), 0);
    free(more);
    free(buf);
}

static void test_c1_byte(void **state)
{
    (void) state;
    static const unsigned char lone[] = { 0xc1 };
    static const unsigned char in_map[] = { 0x82, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xc1 };
    static const unsigned char ok_map[] = { 0x82, 0xa1, 'v', 0x01, 0xa2, 'o', 'p', 0xa1, 'x' };
    assert_int_equal(pr_msgpack_check(lone, 1, 8), -1);
    assert_int_equal(pr_msgpack_check(in_map, sizeof in_map, 8), -1);
    pr_request_t req;
    char err[128] = "";
    assert_int_equal(pr_request_decode(in_map, sizeof in_map, &req, err, sizeof err), -1);
    assert_true(err[0] != '\0');
    pr_request_clear(&req);
    /* The same map with a real value decodes: the rejection is the 0xc1 byte. */
    assert_int_equal(pr_request_decode(ok_map, sizeof ok_map, &req, err, sizeof err), 0);
    assert_string_equal(req.op, "x");
    pr_request_clear(&req);
}

static void test_frame_too_large(void **state)
{
    (void) state;
    size_t len;
    unsigned char *buf = s_encode_full(&len);
    pr_request_t req;
    pr_reply_t rep;
    char err[128] = "";
    /* Only the length lies: the decoder must refuse before reading past len bytes. */
    assert_int_equal(pr_request_decode(buf, (size_t) PR_MAX_FRAME + 1, &req, err, sizeof err),
                     -1);
    assert_true(err[0] != '\0');
    pr_request_clear(&req);
    err[0] = '\0';
    assert_int_equal(pr_reply_decode(buf, SIZE_MAX, &rep, err, sizeof err), -1);
    assert_true(err[0] != '\0');
    pr_reply_clear(&rep);
    assert_int_equal(pr_request_decode(NULL, 10, &req, err, sizeof err), -1);
    pr_request_clear(&req);
    free(buf);
}

/* err may be NULL or tiny: never written past errlen. */
static void test_error_buffer_bounds(void **state)
{
    (void) state;
    static const unsigned char bad[] = { 0x91, 0x01 };
    pr_request_t req;
    assert_int_equal(pr_request_decode(bad, sizeof bad, &req, NULL, 0), -1);
    pr_request_clear(&req);
    char err[8];
    memset(err, 'Z', sizeof err);
    assert_int_equal(pr_request_decode(bad, sizeof bad, &req, err, 4), -1);
    assert_int_equal(err[3], '\0');
    assert_int_equal(err[4], 'Z');
    pr_request_clear(&req);
}

/* ---------------------------------------------------------------- tag frame */

static void test_tag_round_trip(void **state)
{
    (void) state;
    pr_tag_t in = { 0x0102030405060708ull, 1700000000123 }, out = { 0, 0 };
    unsigned char buf[16];
    pr_tag_pack(&in, buf);
    assert_int_equal(buf[0], 0x01); /* network byte order */
    assert_int_equal(buf[7], 0x08);
    assert_int_equal(pr_tag_unpack(buf, 16, &out), 0);
    assert_true(out.cid == in.cid);
    assert_true(out.deadline_ms == in.deadline_ms);

    pr_tag_t edge = { UINT64_MAX, -1 };
    pr_tag_pack(&edge, buf);
    assert_int_equal(pr_tag_unpack(buf, 16, &out), 0);
    assert_true(out.cid == UINT64_MAX);
    assert_true(out.deadline_ms == -1);

    pr_tag_t zero = { 0, 0 };
    pr_tag_pack(&zero, buf);
    for (int i = 0; i < 16; i++)
        assert_int_equal(buf[i], 0);
}

static void test_tag_wrong_length(void **state)
{
    (void) state;
    unsigned char buf[17] = { 0 };
    pr_tag_t out = { 42, 43 };
    assert_int_equal(pr_tag_unpack(buf, 15, &out), -1);
    assert_int_equal(pr_tag_unpack(buf, 17, &out), -1);
    assert_int_equal(pr_tag_unpack(buf, 0, &out), -1);
    assert_int_equal(pr_tag_unpack(NULL, 16, &out), -1);
    assert_true(out.cid == 42); /* untouched on failure */
    assert_true(out.deadline_ms == 43);
}

/* ---------------------------------------------------------------- fuzz */

static uint64_t s_rng = 0x9e3779b97f4a7c15ull;

static uint64_t s_next(void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

/* Checks what a successful decode promises: bounded counts, strings, borrowed bytes. */
static void s_check_decoded(const pr_request_t *r, const unsigned char *buf, size_t len)
{
    assert_non_null(r->op);
    assert_true(strlen(r->op) <= 128);
    assert_true(r->npath <= PR_MAX_PAIRS && r->nquery <= PR_MAX_PAIRS);
    assert_true(r->nheaders <= PR_MAX_PAIRS && r->nparts <= PR_MAX_PARTS);
    for (size_t i = 0; i < r->nheaders; i++)
        assert_true(strlen(r->headers[i].key) <= PR_MAX_STR && r->headers[i].val != NULL);
    for (size_t i = 0; i < r->nparts; i++) {
        assert_non_null(r->parts[i].name);
        assert_true(s_in(r->parts[i].data, r->parts[i].len, buf, len));
    }
    if (r->has_body)
        assert_true(s_in(r->body, r->body_len, buf, len));
    assert_true(r->deadline_ms >= 0);
}

static void test_fuzz_request(void **state)
{
    (void) state;
    size_t len;
    unsigned char *valid = s_encode_full(&len);
    unsigned char *buf = malloc(len);
    int ok = 0, bad = 0;
    s_rng = 0x9e3779b97f4a7c15ull;
    for (int it = 0; it < 20000; it++) {
        memcpy(buf, valid, len);
        int flips = 1 + (int) (s_next() % 4);
        for (int f = 0; f < flips; f++) {
            size_t at = (size_t) (s_next() % len);
            unsigned char x = (unsigned char) (s_next() | 1); /* never 0: a real flip */
            buf[at] ^= x;
        }
        /* Sometimes also cut the frame short. */
        size_t n = (s_next() % 8 == 0) ? (size_t) (s_next() % len) + 1 : len;
        pr_request_t req;
        char err[128];
        int rc = pr_request_decode(buf, n, &req, err, sizeof err);
        if (rc != 0 && rc != -1)
            fail_msg("iteration %d: rc %d", it, rc);
        if (rc == 0) {
            ok++;
            s_check_decoded(&req, buf, n);
            (void) pr_kv_get(req.headers, req.nheaders, "content-type");
            (void) pr_part_get(&req, "file");
        } else {
            bad++;
        }
        pr_request_clear(&req);
        assert_null(req.owned_);
    }
    /* Both outcomes occur: flips in body bytes survive, flips in headers do not. */
    print_message("fuzz: %d decoded, %d rejected\n", ok, bad);
    assert_true(ok > 0);
    assert_true(bad > 0);
    free(buf);
    free(valid);
}

static void test_fuzz_reply(void **state)
{
    (void) state;
    pr_reply_t in;
    memset(&in, 0, sizeof in);
    in.status = 409;
    in.content_type = "application/problem+json";
    in.headers[0] = (pr_kv_t) { "X-Request-Id", "abcdefgh" };
    in.headers[1] = (pr_kv_t) { "Retry-After", "1" };
    in.nheaders = 2;
    in.body = (const unsigned char *) "{\"type\":\"urn:barbacane:error:conflict\"}";
    in.body_len = strlen((const char *) in.body);
    size_t len;
    unsigned char *valid = pr_reply_encode(&in, &len);
    unsigned char *buf = malloc(len);
    int ok = 0;
    s_rng = 0x0123456789abcdefull;
    for (int it = 0; it < 5000; it++) {
        memcpy(buf, valid, len);
        size_t at = (size_t) (s_next() % len);
        buf[at] ^= (unsigned char) (s_next() | 1);
        pr_reply_t rep;
        char err[128];
        int rc = pr_reply_decode(buf, len, &rep, err, sizeof err);
        assert_true(rc == 0 || rc == -1);
        if (rc == 0) {
            ok++;
            assert_true(rep.status >= 200 && rep.status <= 599);
            assert_true(rep.nheaders <= PR_MAX_PAIRS);
            assert_true(s_in(rep.body, rep.body_len, buf, len));
        }
        pr_reply_clear(&rep);
    }
    assert_true(ok > 0);
    free(buf);
    free(valid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_round_trip),
        cmocka_unit_test(test_request_round_trip_nulls),
        cmocka_unit_test(test_request_large_body),
        cmocka_unit_test(test_reply_round_trip),
        cmocka_unit_test(test_kv_get),
        cmocka_unit_test(test_part_get),
        cmocka_unit_test(test_every_truncation_rejected),
        cmocka_unit_test(test_reply_truncations_rejected),
        cmocka_unit_test(test_array_not_map),
        cmocka_unit_test(test_minimal_request_accepted),
        cmocka_unit_test(test_request_wrong_types),
        cmocka_unit_test(test_reply_wrong_types),
        cmocka_unit_test(test_header_value_limit),
        cmocka_unit_test(test_pair_count_limit),
        cmocka_unit_test(test_parts_limits),
        cmocka_unit_test(test_huge_count_rejected_quickly),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_trailing_garbage),
        cmocka_unit_test(test_c1_byte),
        cmocka_unit_test(test_frame_too_large),
        cmocka_unit_test(test_error_buffer_bounds),
        cmocka_unit_test(test_tag_round_trip),
        cmocka_unit_test(test_tag_wrong_length),
        cmocka_unit_test(test_fuzz_request),
        cmocka_unit_test(test_fuzz_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
