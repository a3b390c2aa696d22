/* The gateway's client side of the broker: submits request envelopes (to the embedded broker
 * by function call, or to an external one over a DEALER), matches replies to callers by
 * correlation id, and answers 504 itself when an external broker goes silent. */
#ifndef GW_FRONT_H
#define GW_FRONT_H
#include <czmq.h>
#include <stddef.h>
#include <stdint.h>
#include "gw_broker.h"

typedef struct gw_front gw_front_t;

/* Fires once per submitted request from the event loop (never inside gw_front_submit):
 * nak is 0 with the reply envelope bytes (borrowed for the call), or an HTTP status
 * (503, 504) with no data. */
typedef void (gw_front_done_fn)(void *arg, int nak, const void *reply, size_t len);

typedef struct {
    const char *broker_bind;        /* embed a broker bound here, or "" ... */
    const char *broker_endpoint;    /* ... to connect to this external one instead */
    const pr_mesh_t *mesh;          /* server keys (embedded) or the front's keys (external) */
    gw_broker_role_fn *role_of;     /* embedded broker: roles of peers (NULL = insecure) */
    void *role_arg;
    int heartbeat_ms, liveness;
    int grace_ms;                   /* after a deadline, how long to wait for an external broker */
} gw_front_args_t;

/* Caller owns the result; NULL on failure. */
gw_front_t *gw_front_new(const gw_front_args_t *args);
/* Completes every pending request with 503, then stops. */
void gw_front_destroy(gw_front_t **self_p);
/* The socket the event loop must poll (broker ROUTER or DEALER; borrowed). */
zsock_t *gw_front_socket(gw_front_t *self);
/* Handles whatever is readable, delivers deferred completions, runs timers. */
void gw_front_process(gw_front_t *self);
/* Sends an envelope (copied) to service. 0, or -1 when it cannot (done is not called). */
int gw_front_submit(gw_front_t *self, const char *service, const void *env, size_t len,
                    int64_t deadline_wall_ms, gw_front_done_fn *done, void *arg);
/* Requests waiting for a reply right now (for /metrics). */
size_t gw_front_pending(gw_front_t *self);
/* Workers the embedded broker knows for service (0 with an external broker). */
size_t gw_front_workers(gw_front_t *self, const char *service);
/* The embedded broker, or NULL with an external one (borrowed). */
gw_broker_t *gw_front_broker(gw_front_t *self);

#endif
