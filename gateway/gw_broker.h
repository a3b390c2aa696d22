/* The Majordomo-style broker: services, workers, per-service queues in arrival order,
 * heartbeats, deadlines. Runs as a zactor; clients and workers share one ROUTER. */
#ifndef GW_BROKER_H
#define GW_BROKER_H
#include <czmq.h>
#include <stdbool.h>

typedef struct {
    const char *bind;        /* public endpoint, e.g. tcp://127.0.0.1:5555 */
    const char *inproc;      /* extra in-process endpoint for the local front, or NULL */
    int heartbeat_ms, liveness;
    bool bound;              /* written by the actor before it signals */
} gw_broker_args_t;

/* zactor body: zactor_new(gw_broker_actor, &args). Signals 0 on the pipe once bound,
 * -1 when binding failed. Send "$TERM" to stop. args must outlive the actor. */
void gw_broker_actor(zsock_t *pipe, void *args);

#endif
