/* The gateway's client side of the broker. Owns the embedded broker or the DEALER to an
 * external one, the pending table (cid -> caller) and the list of deferred completions. */
#include "gw_front.h"
#include "cm_log.h"
#include "cm_util.h"

typedef struct {
    uint64_t cid;
    gw_front_done_fn *done;
    void *arg;
    int64_t deadline_ms;
    int nak;
    zframe_t *reply;        /* set when the completion is deferred */
} s_pending_t;

struct gw_front {
    gw_broker_t *broker;    /* embedded broker, or NULL */
    zsock_t *dealer;        /* to an external broker, or NULL */
    zhashx_t *pending;      /* cid hex -> s_pending_t* */
    zlistx_t *deferred;     /* completions that arrived during a submit */
    uint64_t next_cid;
    bool submitting;
    int grace_ms;
    int64_t next_scan;
    cm_ratelimit_t log;
};

static void s_key(uint64_t cid, char key[17])
{
    snprintf(key, 17, "%016" PRIx64, cid);
}

static void s_finish(s_pending_t *p, int nak, const void *data, size_t len)
{
    p->done(p->arg, nak, data, len);
    zframe_destroy(&p->reply);
    free(p);
}

/* A reply or NAK for cid; delivered now, or after the submit that caused it returns. */
static void s_complete(gw_front_t *self, uint64_t cid, int cmd, const void *payload, size_t len)
{
    char key[17];
    s_key(cid, key);
    s_pending_t *p = zhashx_lookup(self->pending, key);
    if (!p)
        return; /* already answered by the backstop timer */
    zhashx_delete(self->pending, key);
    int nak = 0;
    if (cmd == PR_C_NAK)
        nak = len == 2 ? ((const unsigned char *) payload)[0] << 8
                             | ((const unsigned char *) payload)[1] : 503;
    if (self->submitting) {
        p->nak = nak;
        p->reply = nak ? NULL : zframe_new(payload, len);
        zlistx_add_end(self->deferred, p);
        return;
    }
    s_finish(p, nak, payload, len);
}

static void s_local_reply(void *arg, uint64_t cid, int cmd, const void *payload, size_t len)
{
    s_complete(arg, cid, cmd, payload, len);
}

/* [MDPC][cmd][service][tag][payload] from an external broker. */
static void s_from_dealer(gw_front_t *self, zmsg_t **msg_p)
{
    pr_mdp_msg_t m;
    if (pr_mdp_parse(msg_p, false, &m) != 0 || m.proto != PR_MDP_CLIENT) {
        cm_log_limited(&self->log, CM_LOG_WARN, NULL, "front: dropping malformed broker message");
        pr_mdp_msg_clear(&m);
        return;
    }
    s_complete(self, m.t.cid, m.cmd, zframe_data(m.body), zframe_size(m.body));
    pr_mdp_msg_clear(&m);
}

/* An external broker should answer by the deadline; when it is gone, answer 504 ourselves.
 * With all set (shutdown), everything pending gets 503. */
static void s_expire(gw_front_t *self, bool all)
{
    int64_t now = cm_wall_ms();
    zlistx_t *late = zlistx_new();
    for (s_pending_t *p = zhashx_first(self->pending); p; p = zhashx_next(self->pending))
        if (all || now > p->deadline_ms + self->grace_ms)
            zlistx_add_end(late, p);
    for (s_pending_t *p = zlistx_first(late); p; p = zlistx_next(late)) {
        char key[17];
        s_key(p->cid, key);
        zhashx_delete(self->pending, key);
        s_finish(p, all ? 503 : 504, NULL, 0);
    }
    zlistx_destroy(&late);
}

static zsock_t *s_dealer(const gw_front_args_t *a)
{
    zsock_t *d = zsock_new(ZMQ_DEALER);
    if (!d)
        return NULL;
    zsock_set_sndhwm(d, PR_PEER_HWM);
    zsock_set_rcvhwm(d, PR_PEER_HWM);
    zsock_set_linger(d, 0);
    if (pr_mesh_client_apply(a->mesh, d) != 0 || zsock_connect(d, "%s", a->broker_endpoint) != 0)
        zsock_destroy(&d);
    return d;
}

gw_front_t *gw_front_new(const gw_front_args_t *a)
{
    gw_front_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->pending = zhashx_new();
    self->deferred = zlistx_new();
    self->grace_ms = a->grace_ms;
    self->log = (cm_ratelimit_t) CM_RATELIMIT(10, 10000);
    if (a->broker_bind && *a->broker_bind) {
        gw_broker_args_t b = { .endpoint = a->broker_bind, .mesh = a->mesh,
                               .heartbeat_ms = a->heartbeat_ms, .liveness = a->liveness,
                               .local = s_local_reply, .local_arg = self,
                               .role_of = a->role_of, .role_arg = a->role_arg };
        self->broker = gw_broker_new(&b);
    } else {
        self->dealer = s_dealer(a);
    }
    if (!self->broker && !self->dealer) {
        gw_front_destroy(&self);
        return NULL;
    }
    return self;
}

void gw_front_destroy(gw_front_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_front_t *self = *self_p;
    s_pending_t *p;
    while ((p = zlistx_detach(self->deferred, NULL)))
        s_finish(p, p->nak ? p->nak : 503, NULL, 0);
    s_expire(self, true);
    gw_broker_destroy(&self->broker);
    zsock_destroy(&self->dealer);
    zhashx_destroy(&self->pending);
    zlistx_destroy(&self->deferred);
    free(self);
    *self_p = NULL;
}

zsock_t *gw_front_socket(gw_front_t *self)
{
    return self->broker ? gw_broker_socket(self->broker) : self->dealer;
}

void gw_front_process(gw_front_t *self)
{
    s_pending_t *p;
    while ((p = zlistx_detach(self->deferred, NULL)))
        s_finish(p, p->nak, p->reply ? zframe_data(p->reply) : NULL,
                 p->reply ? zframe_size(p->reply) : 0);
    if (self->broker)
        gw_broker_drain(self->broker);
    for (int n = 0; self->dealer && n < 1000 && (zsock_events(self->dealer) & ZMQ_POLLIN); n++) {
        zmsg_t *msg = zmsg_recv(self->dealer);
        if (!msg)
            break;
        s_from_dealer(self, &msg);
    }
    int64_t now = cm_mono_ms();
    if (now >= self->next_scan) {
        if (self->broker)
            gw_broker_tick(self->broker);  /* answers deadlines itself */
        else
            s_expire(self, false);         /* backstop for a silent external broker */
        self->next_scan = now + 100;
    }
}

int gw_front_submit(gw_front_t *self, const char *service, const void *env, size_t len,
                    int64_t deadline_wall_ms, gw_front_done_fn *done, void *arg)
{
    s_pending_t *p = calloc(1, sizeof *p);
    if (!p)
        return -1;
    pr_tag_t tag = { ++self->next_cid, deadline_wall_ms };
    *p = (s_pending_t) { tag.cid, done, arg, deadline_wall_ms, 0, NULL };
    char key[17];
    s_key(tag.cid, key);
    zhashx_insert(self->pending, key, p);
    self->submitting = true;
    int rc = 0;
    if (self->broker) {
        gw_broker_submit(self->broker, service, &tag, env, len);
    } else {
        zmsg_t *msg = pr_mdp_client_request(service, &tag, env, len);
        if ((rc = pr_mdp_send(self->dealer, &msg)) != 0) {
            zhashx_delete(self->pending, key);
            free(p);
        }
    }
    self->submitting = false;
    return rc;
}

size_t gw_front_pending(gw_front_t *self)
{
    return zhashx_size(self->pending) + zlistx_size(self->deferred);
}

size_t gw_front_workers(gw_front_t *self, const char *service)
{
    return self->broker ? gw_broker_workers(self->broker, service) : 0;
}

gw_broker_t *gw_front_broker(gw_front_t *self)
{
    return self->broker;
}
