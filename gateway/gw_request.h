/* One HTTP request inside the gateway, from first header to reply: the state shared by
 * the MHD handler (gw_http.c) and body parsing (gw_body.c). */
#ifndef GW_REQUEST_H
#define GW_REQUEST_H
#include <microhttpd.h>
#include <stdbool.h>
#include "pr_routes.h"

typedef struct {
    char *name, *filename, *content_type;
    unsigned char *data;
    size_t len, cap;
} gw_part_t;

typedef struct {
    unsigned char *data;
    size_t len, cap;
} gw_buf_t;

typedef struct gw_request {
    struct gw_http *http;
    struct MHD_Connection *conn;
    struct gw_conn *track;        /* the connection's deadline record (may be NULL) */
    char rid[129];
    char method[16];
    char *url;
    pr_match_t match;
    int match_rc;
    const char *principal;
    size_t limit;                 /* body bytes accepted */
    size_t received;              /* body bytes seen so far */
    gw_buf_t body;
    struct MHD_PostProcessor *pp;
    gw_part_t parts[PR_MAX_PARTS];
    size_t nparts;
    bool too_large, bad_multipart, suspended, replied;
    int64_t started_ms;
    /* reply, filled by the front callback before the connection resumes */
    int status;
    char *content_type;
    gw_buf_t reply;
    pr_kv_t headers[PR_MAX_PAIRS];
    size_t nheaders;
    char *header_store;           /* owns the strings of headers */
    const char *detail;           /* for locally generated problems */
    int retry_after;              /* seconds, for a locally generated 429/503 */
    void *splice;                 /* the hub handshake of a WebSocket upgrade, until 101 */
    char *ws_headers;             /* owns the Sec-WebSocket-* values copied from the hub */
} gw_request_t;

/* Appends bytes; false when out of memory. */
bool gw_buf_append(gw_buf_t *b, const void *data, size_t len);
/* Feeds upload bytes into the body or the multipart parser, honouring the limit. */
void gw_body_consume(gw_request_t *r, const char *data, size_t len);
/* Starts a multipart parser when the route takes one; false when the body is not multipart. */
bool gw_body_multipart_begin(gw_request_t *r);
/* Finishes multipart parsing; false when the body was malformed. */
bool gw_body_multipart_end(gw_request_t *r);
void gw_body_free(gw_request_t *r);

/* Shared by the HTTP front's files (gw_http.c, gw_upgrade.c). */
/* A request header's value (borrowed from MHD), or NULL. */
const char *gw_request_header(gw_request_t *r, const char *name);
/* The client's address (borrowed), or NULL. */
const struct sockaddr *gw_request_peer(gw_request_t *r);
/* Queues a problem+json response. */
enum MHD_Result gw_request_problem(gw_request_t *r, int status, const char *detail);
void gw_http_count(struct gw_http *h, int status);
struct gw_splice *gw_http_splice(struct gw_http *h);
/* GET /ws/data-plane: starts the hub handshake (0, the connection is suspended) or returns
 * the status to answer with (detail set). */
int gw_upgrade_begin(gw_request_t *r);
/* The hub's 101 arrived: queue the upgrade response (or a 503 when it cannot be made). */
enum MHD_Result gw_upgrade_respond(gw_request_t *r);

#endif
