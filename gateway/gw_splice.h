/* The WebSocket splice: a `GET /ws/data-plane` upgrade is passed to one of the hubs (round
 * robin, skipping hubs that do not answer), the hub's 101 is given back to the client, and
 * then bytes are relayed both ways until either side closes. Everything runs in the
 * gateway's loop: connects, handshakes and relaying never block, and each direction holds
 * at most a bounded number of bytes the other side has not taken yet. */
#ifndef GW_SPLICE_H
#define GW_SPLICE_H
#include <microhttpd.h>
#include <stddef.h>
#include "gw_loop.h"

typedef struct gw_splice gw_splice_t;

/* How a handshake ended, for the HTTP front to answer the client: status 101 with the hub's
 * response headers to copy, or an error status (401 the hub refused the key, 503 no hub,
 * 504 the hub did not answer in time) with a detail. Headers and detail are borrowed from
 * the splice: valid until the request releases it. */
typedef struct {
    int status;
    const char *detail;
    const char *accept, *protocol, *extensions;   /* Sec-WebSocket-* of the hub's 101 */
} gw_splice_answer_t;

typedef void (gw_splice_done_fn)(void *arg, const gw_splice_answer_t *answer);

typedef struct {
    const char *hubs;         /* "host:port,host:port" (IPv4 or names resolved at start) */
    size_t buffer_max;        /* bytes held per direction before reading pauses */
    int handshake_ms;         /* the hub must answer the upgrade within this */
    int max_splices;          /* live splices at most (then 503) */
} gw_splice_args_t;

/* NULL on bad arguments (logged); an empty hub list gives a manager that answers 503. */
gw_splice_t *gw_splice_new(gw_loop_t *loop, const gw_splice_args_t *args);
/* Closes every splice (pending handshakes are answered 503 first) and refuses new ones: the
 * first step of a shutdown, while requests may still hold splices. */
void gw_splice_close_all(gw_splice_t *self);
/* Frees the manager and every splice; after the HTTP front is gone (no request holds one). */
void gw_splice_destroy(gw_splice_t **self_p);
/* Starts the handshake of an upgrade request with the given request head (the line and
 * headers to send the hub, borrowed). 0: done fires later from the loop (never inside
 * this call) and the request holds *token until it calls gw_splice_release; else the status
 * to answer now. */
int gw_splice_begin(gw_splice_t *self, const char *head, size_t len, gw_splice_done_fn *done,
                    void *arg, void **token);
/* The response object to queue for a 101 (MHD_create_response_for_upgrade), whose callback
 * hands the client's socket to the splice that token names. NULL when it cannot be made (the
 * splice is closed). */
struct MHD_Response *gw_splice_response(gw_splice_t *self, void *token);
/* The request is done with the splice (its connection completed): a splice that was never
 * handed the client's socket is closed; its memory goes once nothing refers to it. */
void gw_splice_release(gw_splice_t *self, void *token);
/* Live splices and handshakes, for /metrics. */
size_t gw_splice_count(const gw_splice_t *self);
/* Enforces handshake deadlines; call a few times a second. */
void gw_splice_tick(gw_splice_t *self);

#endif
