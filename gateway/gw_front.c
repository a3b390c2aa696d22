/* The bridge between HTTP threads and the broker. Owns the DEALER socket to the broker,
 * the inproc PUSH/PULL pair HTTP threads hand requests through, and the pending table. */
#include "gw_front.h"
#include "pr_mdp.h"
#include "cm_log.h"
#include "cm_util.h"
#include <czmq.h>
#include <pthread.h>

typedef struct {
    gw_front_done_fn *done;
    void *arg;
    int64_t deadline_ms;
} s_pending_t;

struct gw_front {
    zactor_t *actor;
    zsock_t *push;              /* HTTP threads -> actor, guarded by lock */
    pthread_mutex_t lock;       /* guards push, pending, next_cid, closing */
    zhashx_t *pending;          /* cid hex -> s_pending_t* */
    uint64_t next_cid;
    bool closing;
    char endpoint[256], inproc[64];
    int grace_ms;
};

static s_pending_t *s_take(gw_front_t *self, uint64_t cid)
{
    char key[17];
    snprintf(key, sizeof key, "%016" PRIx64, cid);
    pthread_mutex_lock(&self->lock);
    s_pending_t *p = zhashx_lookup(self->pending, key);
    if (p)
        zhashx_delete(self->pending, key);
    pthread_mutex_unlock(&self->lock);
    return p;
}

static void s_complete(s_pending_t *p, int nak, const void *data, size_t len)
{
    p->done(p->arg, nak, data, len);
    free(p);
}

/* A reply or NAK from the broker: [MDPC][cmd][service][tag][payload]. */
static void s_from_broker(gw_front_t *self, zmsg_t *msg)
{
    zframe_t *proto = zmsg_pop(msg), *cmd = zmsg_pop(msg), *svc = zmsg_pop(msg);
    zframe_t *tag = zmsg_pop(msg), *body = zmsg_pop(msg);
    pr_tag_t t;
    bool ok = proto && zframe_streq(proto, PR_MDPC) && cmd && zframe_size(cmd) == 1 && body
              && tag && pr_tag_unpack(zframe_data(tag), zframe_size(tag), &t) == 0;
    s_pending_t *p = ok ? s_take(self, t.cid) : NULL;
    if (!ok)
        cm_warn("front: dropping malformed broker message");
    else if (p && zframe_data(cmd)[0] == PR_C_NAK && zframe_size(body) == 2)
        s_complete(p, zframe_data(body)[0] << 8 | zframe_data(body)[1], NULL, 0);
    else if (p)
        s_complete(p, 0, zframe_data(body), zframe_size(body));
    zframe_destroy(&proto);
    zframe_destroy(&cmd);
    zframe_destroy(&svc);
    zframe_destroy(&tag);
    zframe_destroy(&body);
}

/* The broker should answer by the deadline; if it is gone, answer 504 a little later. */
static void s_expire(gw_front_t *self, bool all)
{
    int64_t now = cm_wall_ms();
    zlistx_t *late = zlistx_new();
    pthread_mutex_lock(&self->lock);
    for (s_pending_t *p = zhashx_first(self->pending); p; p = zhashx_next(self->pending))
        if (all || now > p->deadline_ms + self->grace_ms)
            zlistx_add_end(late, (void *) zhashx_cursor(self->pending));
    zlistx_t *taken = zlistx_new();
    for (const char *k = zlistx_first(late); k; k = zlistx_next(late)) {
        zlistx_add_end(taken, zhashx_lookup(self->pending, k));
        zhashx_delete(self->pending, k);
    }
    pthread_mutex_unlock(&self->lock);
    for (s_pending_t *p = zlistx_first(taken); p; p = zlistx_next(taken))
        s_complete(p, all ? 503 : 504, NULL, 0);
    zlistx_destroy(&late);
    zlistx_destroy(&taken);
}

static void s_actor(zsock_t *pipe, void *arg)
{
    gw_front_t *self = arg;
    zsock_t *pull = zsock_new_pull(self->inproc);
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    zsock_set_sndhwm(dealer, 0);
    zsock_set_rcvhwm(dealer, 0);
    zsock_set_linger(dealer, 0);
    int rc = (pull && dealer && zsock_connect(dealer, "%s", self->endpoint) == 0) ? 0 : -1;
    zsock_signal(pipe, rc == 0 ? 0 : 1);
    int64_t next_scan = cm_mono_ms() + 250;
    while (rc == 0) {
        zmq_pollitem_t items[] = { { zsock_resolve(dealer), 0, ZMQ_POLLIN, 0 },
                                   { zsock_resolve(pull), 0, ZMQ_POLLIN, 0 },
                                   { zsock_resolve(pipe), 0, ZMQ_POLLIN, 0 } };
        if (zmq_poll(items, 3, 250) < 0 && zmq_errno() != EINTR)
            break;
        for (int n = 0; n < 1000 && (zsock_events(dealer) & ZMQ_POLLIN); n++) {
            zmsg_t *msg = zmsg_recv(dealer);
            if (msg)
                s_from_broker(self, msg);
            zmsg_destroy(&msg);
        }
        for (int n = 0; n < 1000 && (zsock_events(pull) & ZMQ_POLLIN); n++) {
            zmsg_t *msg = zmsg_recv(pull);
            if (msg)
                zmsg_send(&msg, dealer);  /* already [MDPC][REQUEST][service][tag][env] */
        }
        if (items[2].revents & ZMQ_POLLIN) {
            char *cmd = zstr_recv(pipe);
            bool term = !cmd || strcmp(cmd, "$TERM") == 0;
            free(cmd);
            if (term)
                break;
        }
        if (cm_mono_ms() >= next_scan) {
            s_expire(self, false);
            next_scan = cm_mono_ms() + 250;
        }
    }
    zsock_destroy(&dealer);
    zsock_destroy(&pull);
}

gw_front_t *gw_front_new(const char *broker_endpoint, int grace_ms)
{
    gw_front_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init(&self->lock, NULL);
    self->pending = zhashx_new();
    self->grace_ms = grace_ms;
    snprintf(self->endpoint, sizeof self->endpoint, "%s", broker_endpoint);
    snprintf(self->inproc, sizeof self->inproc, "inproc://gw-front-%p", (void *) self);
    self->actor = zactor_new(s_actor, self);
    self->push = zsock_new_push(self->inproc);
    if (!self->actor || !self->push) {
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
    pthread_mutex_lock(&self->lock);
    self->closing = true;
    pthread_mutex_unlock(&self->lock);
    zactor_destroy(&self->actor);
    s_expire(self, true);
    zsock_destroy(&self->push);
    zhashx_destroy(&self->pending);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

int gw_front_submit(gw_front_t *self, const char *service, const void *env, size_t len,
                    int64_t deadline_wall_ms, gw_front_done_fn *done, void *arg)
{
    s_pending_t *p = malloc(sizeof *p);
    if (!p)
        return -1;
    *p = (s_pending_t) { done, arg, deadline_wall_ms };
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, PR_MDPC);
    zmsg_addmem(msg, &(unsigned char) { PR_C_REQUEST }, 1);
    zmsg_addstr(msg, service);
    pthread_mutex_lock(&self->lock);
    if (self->closing) {
        pthread_mutex_unlock(&self->lock);
        zmsg_destroy(&msg);
        free(p);
        return -1;
    }
    pr_tag_t tag = { ++self->next_cid, deadline_wall_ms };
    unsigned char t[16];
    char key[17];
    pr_tag_pack(&tag, t);
    snprintf(key, sizeof key, "%016" PRIx64, tag.cid);
    zhashx_insert(self->pending, key, p);
    zmsg_addmem(msg, t, sizeof t);
    zmsg_addmem(msg, env, len);
    int rc = zmsg_send(&msg, self->push);
    if (rc != 0)
        zhashx_delete(self->pending, key);
    pthread_mutex_unlock(&self->lock);
    if (rc != 0)
        free(p);
    return rc;
}

size_t gw_front_pending(gw_front_t *self)
{
    pthread_mutex_lock(&self->lock);
    size_t n = zhashx_size(self->pending);
    pthread_mutex_unlock(&self->lock);
    return n;
}
