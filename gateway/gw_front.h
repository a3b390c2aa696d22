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

/* With broker_bind set, embeds a broker bound there; else connects to broker_endpoint.
 * Caller owns the result; NULL on failure. */
gw_front_t *gw_front_new(const char *broker_bind, const char *broker_endpoint,
                         int heartbeat_ms, int liveness, int grace_ms);
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

#endif
