/* The worker side of the broker protocol. Owns the DEALER socket, the heartbeat and
 * liveness clocks, the reconnect timer and the requests received but not yet taken. */
#include "pr_worker.h"
#include "pr_mdp.h"
#include "cm_backoff.h"
#include "cm_log.h"
#include "cm_util.h"

struct pr_worker_req {
    zframe_t *client, *tag, *env;
};

struct pr_worker {
    char *broker, *service;
    const pr_mesh_t *mesh;
    zsock_t *sock;               /* NULL while waiting to reconnect */
    int heartbeat_ms, liveness, credit;
    unsigned attempts;          /* reconnects since the last READY was answered */
    int64_t heartbeat_at;        /* next heartbeat to send */
    int lives;                   /* heartbeat intervals left without a word from the broker */
    bool heard;                  /* something arrived in the current interval */
    int64_t reconnect_at;        /* when sock is NULL */
    zlistx_t *pending;           /* pr_worker_req_t*, arrival order */
};

static void s_send_cmd(pr_worker_t *self, int cmd)
{
    zmsg_t *m = pr_mdp_worker_cmd(NULL, cmd);
    (void) pr_mdp_send(self->sock, &m);   /* a lost heartbeat is what liveness is for */
}

/* Liveness counts heartbeat intervals, not wall time: after the process itself stalled
 * (stopped, starved of CPU) the broker's messages may still be on their way in, and get
 * another interval before the broker is given up. */
static void s_heard(pr_worker_t *self)
{
    self->heard = true;
    self->lives = self->liveness;
}

static int s_connect(pr_worker_t *self)
{
    zsock_destroy(&self->sock);
    zsock_t *s = zsock_new(ZMQ_DEALER);
    if (!s)
        return -1;
    zsock_set_linger(s, 0);
    zsock_set_sndhwm(s, PR_PEER_HWM);
    zsock_set_rcvhwm(s, PR_PEER_HWM);
    zsock_set_maxmsgsize(s, (int) PR_MAX_FRAME);
    /* a fresh identity per connection: the broker may still hold the old one */
    unsigned char rnd[6];
    char hex[13], id[128];
    cm_random_bytes(rnd, sizeof rnd);
    cm_hex(rnd, sizeof rnd, hex);
    snprintf(id, sizeof id, "%s-%s", self->service, hex);
    zsock_set_identity(s, id);
    if (pr_mesh_client_apply(self->mesh, s) != 0 || zsock_connect(s, "%s", self->broker) != 0) {
        cm_error("cannot connect to broker %s", self->broker);
        zsock_destroy(&s);
        return -1;
    }
    self->sock = s;
    zmsg_t *ready = pr_mdp_worker_ready(self->service, self->credit);
    (void) pr_mdp_send(s, &ready);
    self->heartbeat_at = cm_mono_ms() + self->heartbeat_ms;
    s_heard(self);
    return 0;
}

/* Drops the connection and arms the reconnect timer (cm_backoff: doubling up to the maximum,
 * jittered so restarted workers do not reconnect in lockstep). */
static void s_lost(pr_worker_t *self, const char *why)
{
    zsock_destroy(&self->sock);
    uint32_t r = 0;
    cm_random_bytes(&r, sizeof r);
    int64_t wait = cm_backoff_ms(PR_RECONNECT_MIN_MS, PR_RECONNECT_MAX_MS, self->attempts++, r);
    self->reconnect_at = cm_mono_ms() + wait;
    cm_warn("%s; reconnecting to %s in %lld ms", why, self->broker, (long long) wait);
}

pr_worker_t *pr_worker_new(const pr_worker_args_t *a)
{
    if (!a->broker || !a->service || !*a->service)
        return NULL;
    pr_worker_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->broker = strdup(a->broker);
    self->service = strdup(a->service);
    self->mesh = a->mesh;
    self->heartbeat_ms = a->heartbeat_ms > 0 ? a->heartbeat_ms : PR_HEARTBEAT_MS;
    self->liveness = a->liveness > 0 ? a->liveness : PR_LIVENESS;
    self->credit = a->credit >= 1 && a->credit <= PR_MAX_CREDIT ? a->credit : 1;
    self->pending = zlistx_new();
    if (!self->broker || !self->service || !self->pending) {
        pr_worker_destroy(&self);
        return NULL;
    }
    if (s_connect(self) != 0)
        s_lost(self, "first connection failed");
    cm_info("worker for '%s' connecting to %s", self->service, self->broker);
    return self;
}

void pr_worker_req_destroy(pr_worker_req_t **req_p)
{
    if (!req_p || !*req_p)
        return;
    zframe_destroy(&(*req_p)->client);
    zframe_destroy(&(*req_p)->tag);
    zframe_destroy(&(*req_p)->env);
    free(*req_p);
    *req_p = NULL;
}

void pr_worker_destroy(pr_worker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pr_worker_t *self = *self_p;
    if (self->sock)
        s_send_cmd(self, PR_W_DISCONNECT);
    zsock_destroy(&self->sock);
    pr_worker_req_t *req;
    while (self->pending && (req = zlistx_detach(self->pending, NULL)))
        pr_worker_req_destroy(&req);
    zlistx_destroy(&self->pending);
    free(self->broker);
    free(self->service);
    free(self);
    *self_p = NULL;
}

zsock_t *pr_worker_socket(pr_worker_t *self)
{
    return self->sock;
}

/* One message from the broker; false when the connection must be replaced. */
static bool s_handle_one(pr_worker_t *self, zmsg_t **msg_p)
{
    pr_mdp_msg_t m;
    if (pr_mdp_parse(msg_p, false, &m) != 0 || m.proto != PR_MDP_WORKER) {
        cm_warn("dropping malformed message from broker");
        pr_mdp_msg_clear(&m);
        return true;
    }
    s_heard(self);
    self->attempts = 0;
    bool keep = true;
    if (m.cmd == PR_W_REQUEST) {
        pr_worker_req_t *req = calloc(1, sizeof *req);
        if (req) {
            *req = (pr_worker_req_t) { m.client, m.tag, m.body };
            m.client = m.tag = m.body = NULL;
            zlistx_add_end(self->pending, req);
        }
    } else if (m.cmd == PR_W_DISCONNECT) {
        cm_info("broker asked us to reconnect");
        keep = false;
    }
    pr_mdp_msg_clear(&m);
    return keep;
}

void pr_worker_handle(pr_worker_t *self)
{
    for (int n = 0; self->sock && n < 1000 && (zsock_events(self->sock) & ZMQ_POLLIN); n++) {
        zmsg_t *msg = zmsg_recv(self->sock);
        if (!msg)
            break;
        if (!s_handle_one(self, &msg) && s_connect(self) != 0)
            s_lost(self, "reconnection failed");
    }
}

void pr_worker_tick(pr_worker_t *self)
{
    int64_t now = cm_mono_ms();
    if (!self->sock) {
        if (now >= self->reconnect_at && s_connect(self) != 0)
            s_lost(self, "reconnection failed");
        return;
    }
    if (now < self->heartbeat_at)
        return;
    if (!self->heard && --self->lives <= 0) {
        s_lost(self, "broker silent");
        return;
    }
    self->heard = false;
    s_send_cmd(self, PR_W_HEARTBEAT);
    self->heartbeat_at = now + self->heartbeat_ms;
}

long pr_worker_timeout_ms(pr_worker_t *self)
{
    int64_t now = cm_mono_ms();
    int64_t at = self->sock ? self->heartbeat_at : self->reconnect_at;
    return at > now ? (long) (at - now) : 0;
}

pr_worker_req_t *pr_worker_take(pr_worker_t *self)
{
    return zlistx_detach(self->pending, NULL);
}

const void *pr_worker_req_data(const pr_worker_req_t *req)
{
    return zframe_data(req->env);
}

size_t pr_worker_req_size(const pr_worker_req_t *req)
{
    return zframe_size(req->env);
}

int pr_worker_reply(pr_worker_t *self, pr_worker_req_t **req_p, const void *reply, size_t len)
{
    pr_worker_req_t *req = *req_p;
    int rc = -1;
    if (req && self->sock) {
        zmsg_t *m = pr_mdp_worker_reply(req->client, req->tag, reply, len);
        rc = pr_mdp_send(self->sock, &m);
        /* a reply proves we are alive: the next heartbeat can wait */
        self->heartbeat_at = cm_mono_ms() + self->heartbeat_ms;
    }
    pr_worker_req_destroy(req_p);
    return rc;
}
