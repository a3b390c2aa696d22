/* The request and reply envelopes of DESIGN.md §4, encoded with msgpack-c.
 * Decoding is bounded and type-checked; nothing from the wire is trusted. */
#ifndef PR_ENVELOPE_H
#define PR_ENVELOPE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PR_VERSION 1
#define PR_MAX_PAIRS 64      /* entries per string map */
#define PR_MAX_PARTS 32      /* multipart parts */
#define PR_MAX_STR 16384     /* any string but bodies */

typedef struct {
    const char *key;
    const char *val;
} pr_kv_t;

typedef struct {
    const char *name;
    const char *filename;      /* NULL when the part had none */
    const char *content_type;  /* NULL when the part had none */
    const unsigned char *data;
    size_t len;
} pr_part_t;

typedef struct {
    const char *op, *rid, *principal, *uri;  /* uri: the request path, for problem instance */
    pr_kv_t path[PR_MAX_PAIRS];   size_t npath;
    pr_kv_t query[PR_MAX_PAIRS];  size_t nquery;
    pr_kv_t headers[PR_MAX_PAIRS]; size_t nheaders;
    pr_part_t parts[PR_MAX_PARTS]; size_t nparts;
    const unsigned char *body;    size_t body_len;
    bool has_body;
    int64_t deadline_ms;
    void *owned_;                 /* decode storage, freed by pr_request_clear */
} pr_request_t;

typedef struct {
    int status;
    const char *content_type;
    pr_kv_t headers[PR_MAX_PAIRS]; size_t nheaders;
    const unsigned char *body;    size_t body_len;
    void *owned_;
} pr_reply_t;

/* Encodes into a malloc'd buffer the caller frees; NULL on OOM. Fields are borrowed. */
unsigned char *pr_request_encode(const pr_request_t *req, size_t *len);
unsigned char *pr_reply_encode(const pr_reply_t *rep, size_t *len);

/* Decodes data (borrowed: body and part bytes point into it, so it must outlive the result).
 * Returns 0, or -1 with a reason in err. Always call _clear afterwards. */
int pr_request_decode(const void *data, size_t len, pr_request_t *req, char *err, size_t errlen);
int pr_reply_decode(const void *data, size_t len, pr_reply_t *rep, char *err, size_t errlen);
void pr_request_clear(pr_request_t *req);
void pr_reply_clear(pr_reply_t *rep);

/* Looks a key up in a pair list (case-insensitive for headers); borrowed or NULL. */
const char *pr_kv_get(const pr_kv_t *kv, size_t n, const char *key);
const pr_part_t *pr_part_get(const pr_request_t *req, const char *name);

/* Checks that data is one well-formed msgpack value whose containers fit in the bytes and
 * nest at most max_depth deep: a cheap guard before msgpack-c allocates for counts. */
int pr_msgpack_check(const void *data, size_t len, int max_depth);

#endif
