/* The event proxy: publishers (services) connect to an XSUB socket, subscribers (services) to
 * an XPUB socket; events flow one way and subscriptions the other. Runs in the gateway's
 * event loop; both sockets are CURVE servers admitting service keys only. */
#ifndef GW_EVENTS_H
#define GW_EVENTS_H
#include <czmq.h>
#include "gw_broker.h"
#include "pr_mesh.h"

typedef struct gw_events gw_events_t;

/* Binds both endpoints. role_of NULL = insecure mesh (no per-message check). NULL on
 * failure (logged). */
gw_events_t *gw_events_new(const char *in_bind, const char *out_bind, const pr_mesh_t *mesh,
                           gw_broker_role_fn *role_of, void *role_arg);
void gw_events_destroy(gw_events_t **self_p);
zsock_t *gw_events_in(gw_events_t *self);    /* XSUB (borrowed) */
zsock_t *gw_events_out(gw_events_t *self);   /* XPUB (borrowed) */
/* Forwards what publishers sent / what subscribers asked for. */
void gw_events_drain_in(gw_events_t *self);
void gw_events_drain_out(gw_events_t *self);
/* Events dropped because their publisher's key is not a service's. */
unsigned long gw_events_refused(const gw_events_t *self);

#endif
