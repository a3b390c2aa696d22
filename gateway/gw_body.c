/* Request bodies in the gateway: raw accumulation under a byte limit and multipart/form-data
 * parsing into named parts. Owns the buffers of one request's body and parts. */
#include "gw_request.h"
#include <stdlib.h>
#include <string.h>

#define GW_PART_NAME_MAX 128

bool gw_buf_append(gw_buf_t *b, const void *data, size_t len)
{
    if (len == 0)
        return true;
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len)
            cap *= 2;
        unsigned char *d = realloc(b->data, cap);
        if (!d)
            return false;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return true;
}

static char *s_dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* MHD's multipart callback: parts arrive in chunks, each chunk of the current part in order. */
static enum MHD_Result s_part(void *cls, enum MHD_ValueKind kind, const char *key,
                              const char *filename, const char *content_type,
                              const char *transfer_encoding, const char *data, uint64_t off,
                              size_t size)
{
    gw_request_t *r = cls;
    (void) kind;
    (void) transfer_encoding;
    if (!key || strlen(key) > GW_PART_NAME_MAX) {
        r->bad_multipart = true;
        return MHD_NO;
    }
    gw_part_t *p = r->nparts ? &r->parts[r->nparts - 1] : NULL;
    if (!p || strcmp(p->name, key) != 0 || off == 0) {
        for (size_t i = 0; i < r->nparts; i++)
            if (strcmp(r->parts[i].name, key) == 0 && (off == 0 || &r->parts[i] != p)) {
                r->bad_multipart = true;  /* the same field twice */
                return MHD_NO;
            }
        if (r->nparts == PR_MAX_PARTS) {
            r->bad_multipart = true;
            return MHD_NO;
        }
        p = &r->parts[r->nparts++];
        p->name = s_dup(key);
        p->filename = s_dup(filename);
        p->content_type = s_dup(content_type);
    }
    gw_buf_t b = { p->data, p->len, p->cap };
    bool ok = gw_buf_append(&b, data, size);
    p->data = b.data;
    p->len = b.len;
    p->cap = b.cap;
    return ok ? MHD_YES : MHD_NO;
}

bool gw_body_multipart_begin(gw_request_t *r)
{
    r->pp = MHD_create_post_processor(r->conn, 64 * 1024, s_part, r);
    return r->pp != NULL;
}

bool gw_body_multipart_end(gw_request_t *r)
{
    if (r->pp && MHD_destroy_post_processor(r->pp) != MHD_YES)
        r->bad_multipart = true;
    r->pp = NULL;
    return !r->bad_multipart;
}

void gw_body_consume(gw_request_t *r, const char *data, size_t len)
{
    if (r->too_large || r->received + len > r->limit) {
        r->too_large = true;   /* keep reading to answer 413 cleanly, but store nothing */
        return;
    }
    r->received += len;
    if (r->pp) {
        if (!r->bad_multipart && MHD_post_process(r->pp, data, len) != MHD_YES)
            r->bad_multipart = true;
    } else if (!gw_buf_append(&r->body, data, len)) {
        r->too_large = true;
    }
}

void gw_body_free(gw_request_t *r)
{
    if (r->pp)
        MHD_destroy_post_processor(r->pp);
    r->pp = NULL;
    for (size_t i = 0; i < r->nparts; i++) {
        free(r->parts[i].name);
        free(r->parts[i].filename);
        free(r->parts[i].content_type);
        free(r->parts[i].data);
    }
    r->nparts = 0;
    free(r->body.data);
    r->body = (gw_buf_t) { 0 };
}
