/* The worker side of the broker protocol, pollable: the service puts the worker's socket in
 * its own loop next to its other sockets, calls pr_worker_handle when it is readable and
 * pr_worker_tick when pr_worker_timeout_ms says so. Heartbeats, liveness and reconnection
 * (on a timer, jittered exponential backoff, re-registering after a broker restart) happen
 * inside those two calls; requests come out one by one and are answered by handle. */
#ifndef PR_WORKER_H
#define PR_WORKER_H
#include <czmq.h>
#include "pr_mesh.h"

typedef struct pr_worker pr_worker_t;
typedef struct pr_worker_req pr_worker_req_t;

typedef struct {
    const char *broker;          /* endpoint */
    const char *service;         /* "registry", "compiler", "hub" */
    const pr_mesh_t *mesh;       /* this process's keys (NULL or insecure: plain) */
    int heartbeat_ms, liveness;  /* 0: defaults */
    int credit;                  /* requests the broker may hand over at once (1..64) */
} pr_worker_args_t;

/* Starts connecting (nothing blocks). Caller owns the result; NULL on bad arguments. */
pr_worker_t *pr_worker_new(const pr_worker_args_t *args);
/* Tells the broker it is leaving, then frees everything (pending requests included). */
void pr_worker_destroy(pr_worker_t **self_p);
/* The socket to poll for input, or NULL while waiting to reconnect. It changes when the
 * worker reconnects: ask again before each poll (borrowed). */
zsock_t *pr_worker_socket(pr_worker_t *self);
/* Reads everything the broker sent; requests are queued for pr_worker_take. */
void pr_worker_handle(pr_worker_t *self);
/* Heartbeats, the broker's liveness and reconnection. */
void pr_worker_tick(pr_worker_t *self);
/* Milliseconds until pr_worker_tick has work (0 = now). */
long pr_worker_timeout_ms(pr_worker_t *self);
/* The next request received, or NULL. Caller owns it until pr_worker_reply. */
pr_worker_req_t *pr_worker_take(pr_worker_t *self);
/* The request's envelope bytes (borrowed from req). */
const void *pr_worker_req_data(const pr_worker_req_t *req);
size_t pr_worker_req_size(const pr_worker_req_t *req);
/* Replies to req (consumed); reply bytes are borrowed. 0, or -1 when the broker could not be
 * reached (the broker answers the client 503 when it notices). */
int pr_worker_reply(pr_worker_t *self, pr_worker_req_t **req_p, const void *reply, size_t len);
/* Drops req without answering (consumed). */
void pr_worker_req_destroy(pr_worker_req_t **req_p);

#endif
