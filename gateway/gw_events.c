/* The event proxy. Owns the XSUB (publishers) and XPUB (subscribers) sockets; forwards
 * events from service keys only and subscriptions back, never blocking the loop. */
#include "gw_events.h"
#include "pr_mdp.h"
#include "gw_zap.h"
#include "cm_log.h"

#define GW_EVENT_MAX (64 * 1024)   /* an event is a topic and a small map */

struct gw_events {
    zsock_t *xsub, *xpub;
    gw_broker_role_fn *role_of;
    void *role_arg;
    unsigned long refused;
    cm_ratelimit_t log;
};

static zsock_t *s_socket(int type, const char *endpoint, const pr_mesh_t *mesh)
{
    zsock_t *s = zsock_new(type);
    if (!s)
        return NULL;
    zsock_set_linger(s, 0);
    zsock_set_maxmsgsize(s, GW_EVENT_MAX);
    zsock_set_sndhwm(s, PR_PEER_HWM);
    zsock_set_rcvhwm(s, PR_PEER_HWM);
    if (pr_mesh_server_apply(mesh, s, GW_ZAP_DOMAIN_EVENTS) != 0
        || zsock_bind(s, "%s", endpoint) < 0) {
        cm_error("event proxy cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
        zsock_destroy(&s);
    }
    return s;
}

gw_events_t *gw_events_new(const char *in_bind, const char *out_bind, const pr_mesh_t *mesh,
                           gw_broker_role_fn *role_of, void *role_arg)
{
    gw_events_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->role_of = role_of;
    self->role_arg = role_arg;
    self->log = (cm_ratelimit_t) CM_RATELIMIT(10, 10000);
    self->xsub = s_socket(ZMQ_XSUB, in_bind, mesh);
    self->xpub = self->xsub ? s_socket(ZMQ_XPUB, out_bind, mesh) : NULL;
    if (!self->xpub) {
        gw_events_destroy(&self);
        return NULL;
    }
    cm_info("event proxy at %s -> %s", in_bind, out_bind);
    return self;
}

void gw_events_destroy(gw_events_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zsock_destroy(&(*self_p)->xsub);
    zsock_destroy(&(*self_p)->xpub);
    free(*self_p);
    *self_p = NULL;
}

zsock_t *gw_events_in(gw_events_t *self)
{
    return self->xsub;
}

zsock_t *gw_events_out(gw_events_t *self)
{
    return self->xpub;
}

/* True when the message's sender authenticated with a service key (always, when insecure).
 * XPUB itself makes the unsubscriptions of a subscriber that left; they carry no peer
 * metadata and are let through (local set). */
static bool s_from_service(gw_events_t *self, zmsg_t *msg, bool local)
{
    if (!self->role_of)
        return true;
    const char *uid = zframe_meta(zmsg_first(msg), "User-Id");
    if (!uid)
        return local;
    int role = self->role_of(self->role_arg, uid);
    return role >= 0 && pr_role_is_service((pr_role_t) role);
}

static void s_forward(gw_events_t *self, zsock_t *from, zsock_t *to, const char *what,
                      bool local)
{
    for (int n = 0; n < 1000 && (zsock_events(from) & ZMQ_POLLIN); n++) {
        zmsg_t *msg = zmsg_recv(from);
        if (!msg)
            break;
        if (!s_from_service(self, msg, local)) {
            self->refused++;
            cm_log_limited(&self->log, CM_LOG_WARN, NULL,
                           "event proxy: dropped %s from a key that is not a service's", what);
            zmsg_destroy(&msg);
        } else if (pr_mdp_send(to, &msg) != 0) {
            cm_log_limited(&self->log, CM_LOG_WARN, NULL, "event proxy: %s not forwarded: %s",
                           what, zmq_strerror(zmq_errno()));
        }
    }
}

void gw_events_drain_in(gw_events_t *self)
{
    s_forward(self, self->xsub, self->xpub, "an event", false);
}

void gw_events_drain_out(gw_events_t *self)
{
    s_forward(self, self->xpub, self->xsub, "a subscription", true);
}

unsigned long gw_events_refused(const gw_events_t *self)
{
    return self->refused;
}
