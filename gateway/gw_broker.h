/* The Majordomo-style broker: services, workers, per-service queues in arrival order,
 * heartbeats, deadlines, and roles enforced by the authenticated key of each peer. Clients and
 * workers share one ROUTER; the gateway's own HTTP front is a local client that submits by
 * function call and hears replies through a callback. */
#ifndef GW_BROKER_H
#define GW_BROKER_H
#include <czmq.h>
#include <stdbool.h>
#include "pr_mdp.h"
#include "pr_mesh.h"

typedef struct gw_broker gw_broker_t;

/* Reply to a local client: cmd is PR_C_FINAL (payload = reply envelope) or PR_C_NAK
 * (payload = 2-byte status). The payload is borrowed for the call. */
typedef void (gw_broker_local_fn)(void *arg, uint64_t cid, int cmd, const void *payload,
                                  size_t len);
/* The role (pr_role_t) of the key a peer authenticated with (its ZAP User-Id), or -1 when
 * the key is not (or no longer) allowed. */
typedef int (gw_broker_role_fn)(void *arg, const char *user_id);

typedef struct {
    const char *endpoint;
    const pr_mesh_t *mesh;          /* CURVE server keys; NULL or insecure = plain sockets */
    int heartbeat_ms, liveness;
    gw_broker_local_fn *local;
    void *local_arg;
    gw_broker_role_fn *role_of;     /* NULL: no roles (insecure mesh), every peer may act */
    void *role_arg;
} gw_broker_args_t;

/* Binds args->endpoint; caller owns the result; NULL when binding fails (logged). */
gw_broker_t *gw_broker_new(const gw_broker_args_t *args);
void gw_broker_destroy(gw_broker_t **self_p);
/* The ROUTER socket, for the caller's poll loop (borrowed). */
zsock_t *gw_broker_socket(gw_broker_t *self);
/* Processes every message waiting on the socket. */
void gw_broker_drain(gw_broker_t *self);
/* Heartbeats, worker expiry and request deadlines; call about every 100 ms. */
void gw_broker_tick(gw_broker_t *self);
/* Queues a local request; env is copied. The local callback fires exactly once for it. */
void gw_broker_submit(gw_broker_t *self, const char *service, const pr_tag_t *tag,
                      const void *env, size_t len);
/* Workers registered for service. */
size_t gw_broker_workers(gw_broker_t *self, const char *service);
/* Messages dropped because the sender's key may not do what it tried (for /metrics). */
unsigned long gw_broker_refused(const gw_broker_t *self);

#endif
