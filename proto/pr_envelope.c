/* Request/reply envelope codec over msgpack-c. Decoded strings are copied into storage the
 * envelope owns (msgpack strings are not NUL-terminated); body bytes are borrowed. */
#include "pr_envelope.h"
#include "pr_mdp.h"
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- bounded pre-scan ---------------------------------------------------------------- */

static int s_need(size_t pos, size_t n, size_t len)
{
    return n <= len - pos ? 0 : -1;
}

static uint64_t s_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Reads the header at p[*pos]; returns the number of child items (containers) via *items,
 * advancing *pos past scalars entirely. -1 when malformed or truncated. */
static int s_scan_one(const unsigned char *p, size_t len, size_t *pos, uint64_t *items)
{
    unsigned char c = p[(*pos)++];
    uint64_t skip = 0;
    int hdr = 0;
    *items = 0;
    if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
        return 0;
    if (c >= 0x80 && c <= 0x8f) { *items = 2u * (c & 0x0f); return 0; }
    if (c >= 0x90 && c <= 0x9f) { *items = c & 0x0f; return 0; }
    if (c >= 0xa0 && c <= 0xbf) skip = c & 0x1f;
    else switch (c) {
    case 0xc4: case 0xd9: hdr = 1; break;
    case 0xc5: case 0xda: hdr = 2; break;
    case 0xc6: case 0xdb: hdr = 4; break;
    case 0xc7: hdr = 1; skip = 1; break;
    case 0xc8: hdr = 2; skip = 1; break;
    case 0xc9: hdr = 4; skip = 1; break;
    case 0xca: case 0xce: case 0xd2: skip = 4; break;
    case 0xcb: case 0xcf: case 0xd3: skip = 8; break;
    case 0xcc: case 0xd0: skip = 1; break;
    case 0xcd: case 0xd1: skip = 2; break;
    case 0xd4: skip = 2; break;
    case 0xd5: skip = 3; break;
    case 0xd6: skip = 5; break;
    case 0xd7: skip = 9; break;
    case 0xd8: skip = 17; break;
    case 0xdc: case 0xde: hdr = -2; break;
    case 0xdd: case 0xdf: hdr = -4; break;
    default: return -1; /* 0xc1 is never used */
    }
    if (hdr < 0) {  /* array16/32, map16/32 */
        if (s_need(*pos, (size_t) -hdr, len))
            return -1;
        uint64_t n = s_be(p + *pos, -hdr);
        *pos += (size_t) -hdr;
        *items = (c == 0xde || c == 0xdf) ? 2 * n : n;
        return 0;
    }
    if (hdr > 0) {
        if (s_need(*pos, (size_t) hdr, len))
            return -1;
        skip += s_be(p + *pos, hdr);
        *pos += (size_t) hdr;
    }
    if (skip > len - *pos)
        return -1;
    *pos += (size_t) skip;
    return 0;
}

int pr_msgpack_check(const void *data, size_t len, int max_depth)
{
    const unsigned char *p = data;
    uint64_t stack[64];
    int top = 0;
    size_t pos = 0;
    if (!data || len == 0 || max_depth < 1 || max_depth > 63)
        return -1;
    stack[0] = 1;
    while (top >= 0) {
        if (stack[top] == 0) {
            top--;
            continue;
        }
        stack[top]--;
        uint64_t items;
        if (pos >= len || s_scan_one(p, len, &pos, &items) != 0)
            return -1;
        if (items == 0)
            continue;
        /* Every child takes at least one byte: a count larger than what is left is a lie. */
        if (items > len - pos || top + 1 > max_depth)
            return -1;
        stack[++top] = items;
    }
    return pos == len ? 0 : -1;
}

/* ---- owned storage for decoded strings ----------------------------------------------- */

typedef struct {
    msgpack_unpacked up;
    size_t n, cap;
    char **strs;
} s_store_t;

static const char *s_copy(s_store_t *st, const msgpack_object *o)
{
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 32;
        char **s = realloc(st->strs, cap * sizeof *s);
        if (!s)
            return NULL;
        st->strs = s;
        st->cap = cap;
    }
    char *c = malloc(o->via.str.size + 1);
    if (!c)
        return NULL;
    memcpy(c, o->via.str.ptr, o->via.str.size);
    c[o->via.str.size] = '\0';
    st->strs[st->n++] = c;
    return c;
}

static void s_store_free(void *p)
{
    s_store_t *st = p;
    if (!st)
        return;
    for (size_t i = 0; i < st->n; i++)
        free(st->strs[i]);
    free(st->strs);
    msgpack_unpacked_destroy(&st->up);
    free(st);
}

static int s_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen)
        vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static bool s_key_is(const msgpack_object *k, const char *name)
{
    size_t n = strlen(name);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n
           && memcmp(k->via.str.ptr, name, n) == 0;
}

/* A string field with a length bound; NULL values allowed when nullable. */
static int s_str(s_store_t *st, const msgpack_object *o, const char **out, size_t max,
                 bool nullable)
{
    if (nullable && o->type == MSGPACK_OBJECT_NIL) {
        *out = NULL;
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size > max
        || memchr(o->via.str.ptr, '\0', o->via.str.size))
        return -1;
    return (*out = s_copy(st, o)) ? 0 : -1;
}

static int s_bin(const msgpack_object *o, const unsigned char **data, size_t *len)
{
    if (o->type == MSGPACK_OBJECT_BIN) {
        *data = (const unsigned char *) o->via.bin.ptr;
        *len = o->via.bin.size;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_STR) {
        *data = (const unsigned char *) o->via.str.ptr;
        *len = o->via.str.size;
        return 0;
    }
    return -1;
}

static int s_kvmap(s_store_t *st, const msgpack_object *o, pr_kv_t *kv, size_t *n)
{
    if (o->type != MSGPACK_OBJECT_MAP || o->via.map.size > PR_MAX_PAIRS)
        return -1;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *e = &o->via.map.ptr[i];
        if (s_str(st, &e->key, &kv[i].key, PR_MAX_STR, false)
            || s_str(st, &e->val, &kv[i].val, PR_MAX_STR, false))
            return -1;
    }
    *n = o->via.map.size;
    return 0;
}

static int s_part(s_store_t *st, const msgpack_object *name, const msgpack_object *o,
                  pr_part_t *part)
{
    if (s_str(st, name, &part->name, 256, false) || o->type != MSGPACK_OBJECT_MAP)
        return -1;
    bool has_data = false;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
        int rc = 0;
        if (s_key_is(k, "filename"))
            rc = s_str(st, v, &part->filename, 1024, true);
        else if (s_key_is(k, "content_type"))
            rc = s_str(st, v, &part->content_type, 256, true);
        else if (s_key_is(k, "data"))
            rc = s_bin(v, &part->data, &part->len), has_data = true;
        if (rc)
            return -1;
    }
    return has_data ? 0 : -1;
}

static int s_parts(s_store_t *st, const msgpack_object *o, pr_request_t *req)
{
    if (o->type != MSGPACK_OBJECT_MAP || o->via.map.size > PR_MAX_PARTS)
        return -1;
    for (uint32_t i = 0; i < o->via.map.size; i++)
        if (s_part(st, &o->via.map.ptr[i].key, &o->via.map.ptr[i].val, &req->parts[i]))
            return -1;
    req->nparts = o->via.map.size;
    return 0;
}

/* Unpacks exactly one map value filling the storage; the caller walks its entries. */
static const msgpack_object *s_open(const void *data, size_t len, s_store_t **stp, char *err,
                                    size_t errlen)
{
    if (!data || len == 0 || len > PR_MAX_FRAME) {
        s_fail(err, errlen, "envelope size %zu out of bounds", len);
        return NULL;
    }
    if (pr_msgpack_check(data, len, 8) != 0) {
        s_fail(err, errlen, "envelope is not well-formed msgpack");
        return NULL;
    }
    s_store_t *st = calloc(1, sizeof *st);
    if (!st) {
        s_fail(err, errlen, "out of memory");
        return NULL;
    }
    msgpack_unpacked_init(&st->up);
    size_t off = 0;
    msgpack_unpack_return rc = msgpack_unpack_next(&st->up, data, len, &off);
    if (rc != MSGPACK_UNPACK_SUCCESS || off != len || st->up.data.type != MSGPACK_OBJECT_MAP) {
        s_store_free(st);
        s_fail(err, errlen, "envelope is not one msgpack map");
        return NULL;
    }
    *stp = st;
    return &st->up.data;
}

static int s_version(const msgpack_object *v)
{
    return v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 == PR_VERSION ? 0 : -1;
}

static int s_request_field(s_store_t *st, const msgpack_object *k, const msgpack_object *v,
                           pr_request_t *req)
{
    if (s_key_is(k, "v"))
        return s_version(v);
    if (s_key_is(k, "op"))
        return s_str(st, v, &req->op, 128, false);
    if (s_key_is(k, "rid"))
        return s_str(st, v, &req->rid, 128, false);
    if (s_key_is(k, "principal"))
        return s_str(st, v, &req->principal, 256, true);
    if (s_key_is(k, "uri"))
        return s_str(st, v, &req->uri, 2048, true);
    if (s_key_is(k, "path"))
        return s_kvmap(st, v, req->path, &req->npath);
    if (s_key_is(k, "query"))
        return s_kvmap(st, v, req->query, &req->nquery);
    if (s_key_is(k, "headers"))
        return s_kvmap(st, v, req->headers, &req->nheaders);
    if (s_key_is(k, "parts"))
        return s_parts(st, v, req);
    if (s_key_is(k, "body"))
        return req->has_body = true, s_bin(v, &req->body, &req->body_len);
    if (s_key_is(k, "deadline_ms")) {
        if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 > INT64_MAX)
            return -1;
        req->deadline_ms = (int64_t) v->via.u64;
    }
    return 0; /* unknown keys are ignored: newer senders may add fields */
}

int pr_request_decode(const void *data, size_t len, pr_request_t *req, char *err, size_t errlen)
{
    memset(req, 0, sizeof *req);
    s_store_t *st = NULL;
    const msgpack_object *m = s_open(data, len, &st, err, errlen);
    if (!m)
        return -1;
    req->owned_ = st;
    bool has_v = false;
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object *k = &m->via.map.ptr[i].key;
        has_v |= s_key_is(k, "v");
        if (s_request_field(st, k, &m->via.map.ptr[i].val, req) != 0)
            return s_fail(err, errlen, "request field '%.*s' is malformed",
                          k->type == MSGPACK_OBJECT_STR ? (int) k->via.str.size : 1,
                          k->type == MSGPACK_OBJECT_STR ? k->via.str.ptr : "?");
    }
    if (!has_v || !req->op)
        return s_fail(err, errlen, "request lacks v or op");
    return 0;
}

static int s_reply_field(s_store_t *st, const msgpack_object *k, const msgpack_object *v,
                         pr_reply_t *rep)
{
    if (s_key_is(k, "v"))
        return s_version(v);
    if (s_key_is(k, "status")) {
        if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 < 200 || v->via.u64 > 599)
            return -1;
        rep->status = (int) v->via.u64;
        return 0;
    }
    if (s_key_is(k, "content_type"))
        return s_str(st, v, &rep->content_type, 256, true);
    if (s_key_is(k, "headers"))
        return s_kvmap(st, v, rep->headers, &rep->nheaders);
    if (s_key_is(k, "body"))
        return s_bin(v, &rep->body, &rep->body_len);
    return 0;
}

int pr_reply_decode(const void *data, size_t len, pr_reply_t *rep, char *err, size_t errlen)
{
    memset(rep, 0, sizeof *rep);
    s_store_t *st = NULL;
    const msgpack_object *m = s_open(data, len, &st, err, errlen);
    if (!m)
        return -1;
    rep->owned_ = st;
    for (uint32_t i = 0; i < m->via.map.size; i++)
        if (s_reply_field(st, &m->via.map.ptr[i].key, &m->via.map.ptr[i].val, rep) != 0)
            return s_fail(err, errlen, "reply field is malformed");
    if (rep->status == 0)
        return s_fail(err, errlen, "reply lacks a status");
    return 0;
}

void pr_request_clear(pr_request_t *req)
{
    s_store_free(req->owned_);
    memset(req, 0, sizeof *req);
}

void pr_reply_clear(pr_reply_t *rep)
{
    s_store_free(rep->owned_);
    memset(rep, 0, sizeof *rep);
}

/* ---- encoding ------------------------------------------------------------------------ */

static void s_pack_str(msgpack_packer *pk, const char *s)
{
    if (!s) {
        msgpack_pack_nil(pk);
        return;
    }
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void s_pack_bin(msgpack_packer *pk, const unsigned char *d, size_t n)
{
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, d, n);
}

static void s_pack_kv(msgpack_packer *pk, const char *key, const pr_kv_t *kv, size_t n)
{
    s_pack_str(pk, key);
    msgpack_pack_map(pk, n);
    for (size_t i = 0; i < n; i++) {
        s_pack_str(pk, kv[i].key);
        s_pack_str(pk, kv[i].val ? kv[i].val : "");
    }
}

static void s_pack_parts(msgpack_packer *pk, const pr_request_t *req)
{
    s_pack_str(pk, "parts");
    msgpack_pack_map(pk, req->nparts);
    for (size_t i = 0; i < req->nparts; i++) {
        const pr_part_t *p = &req->parts[i];
        s_pack_str(pk, p->name);
        msgpack_pack_map(pk, 3);
        s_pack_str(pk, "filename");
        s_pack_str(pk, p->filename);
        s_pack_str(pk, "content_type");
        s_pack_str(pk, p->content_type);
        s_pack_str(pk, "data");
        s_pack_bin(pk, p->data, p->len);
    }
}

static unsigned char *s_finish(msgpack_sbuffer *sb, size_t *len)
{
    if (!sb->data) {
        msgpack_sbuffer_destroy(sb);
        return NULL;
    }
    *len = sb->size;
    return (unsigned char *) msgpack_sbuffer_release(sb);
}

unsigned char *pr_request_encode(const pr_request_t *req, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 11);
    s_pack_str(&pk, "v");
    msgpack_pack_unsigned_int(&pk, PR_VERSION);
    s_pack_str(&pk, "op");
    s_pack_str(&pk, req->op ? req->op : "");
    s_pack_str(&pk, "rid");
    s_pack_str(&pk, req->rid ? req->rid : "");
    s_pack_str(&pk, "principal");
    s_pack_str(&pk, req->principal);
    s_pack_str(&pk, "uri");
    s_pack_str(&pk, req->uri);
    s_pack_kv(&pk, "path", req->path, req->npath);
    s_pack_kv(&pk, "query", req->query, req->nquery);
    s_pack_kv(&pk, "headers", req->headers, req->nheaders);
    s_pack_parts(&pk, req);
    s_pack_str(&pk, "body");
    s_pack_bin(&pk, req->body ? req->body : (const unsigned char *) "", req->body_len);
    s_pack_str(&pk, "deadline_ms");
    msgpack_pack_uint64(&pk, req->deadline_ms > 0 ? (uint64_t) req->deadline_ms : 0);
    return s_finish(&sb, len);
}

unsigned char *pr_reply_encode(const pr_reply_t *rep, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    s_pack_str(&pk, "v");
    msgpack_pack_unsigned_int(&pk, PR_VERSION);
    s_pack_str(&pk, "status");
    msgpack_pack_unsigned_int(&pk, (unsigned) rep->status);
    s_pack_str(&pk, "content_type");
    s_pack_str(&pk, rep->content_type);
    s_pack_kv(&pk, "headers", rep->headers, rep->nheaders);
    s_pack_str(&pk, "body");
    s_pack_bin(&pk, rep->body ? rep->body : (const unsigned char *) "", rep->body_len);
    return s_finish(&sb, len);
}

/* ---- lookups and tags ---------------------------------------------------------------- */

const char *pr_kv_get(const pr_kv_t *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (kv[i].key && strcasecmp(kv[i].key, key) == 0)
            return kv[i].val;
    return NULL;
}

const pr_part_t *pr_part_get(const pr_request_t *req, const char *name)
{
    for (size_t i = 0; i < req->nparts; i++)
        if (strcmp(req->parts[i].name, name) == 0)
            return &req->parts[i];
    return NULL;
}
