/* The worker side of the broker protocol. Owns the DEALER socket, the heartbeat clock,
 * the reconnect backoff and the address of the request being served. */
#include "pr_worker.h"
#include "pr_mdp.h"
#include "cm_log.h"
#include "cm_util.h"

struct pr_worker {
    char *broker, *service;
    zsock_t *sock;
    int heartbeat_ms, liveness, lives, backoff_ms, credit;
    int64_t heartbeat_at;
    zframe_t *client, *tag;  /* of the request in progress */
};

static void s_send_cmd(pr_worker_t *self, int cmd)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, PR_MDPW);
    zmsg_addmem(msg, &(unsigned char) { (unsigned char) cmd }, 1);
    zmsg_send(&msg, self->sock);
}

static int s_connect(pr_worker_t *self)
{
    zsock_destroy(&self->sock);
    self->sock = zsock_new(ZMQ_DEALER);
    if (!self->sock)
        return -1;
    zsock_set_linger(self->sock, 0);
    zsock_set_sndhwm(self->sock, 0);
    zsock_set_rcvhwm(self->sock, 0);
    /* a fresh identity per connection: the broker may still hold the old one */
    unsigned char rnd[6];
    char hex[13], id[128];
    cm_random_bytes(rnd, sizeof rnd);
    cm_hex(rnd, sizeof rnd, hex);
    snprintf(id, sizeof id, "%s-%s", self->service, hex);
    zsock_set_identity(self->sock, id);
    if (zsock_connect(self->sock, "%s", self->broker) != 0) {
        cm_error("cannot connect to broker %s", self->broker);
        return -1;
    }
    zmsg_t *ready = zmsg_new();
    zmsg_addstr(ready, PR_MDPW);
    zmsg_addmem(ready, &(unsigned char) { PR_W_READY }, 1);
    zmsg_addstr(ready, self->service);
    zmsg_addstrf(ready, "%d", self->credit);
    zmsg_send(&ready, self->sock);
    self->lives = self->liveness;
    self->heartbeat_at = cm_mono_ms() + self->heartbeat_ms;
    return 0;
}

pr_worker_t *pr_worker_new(const char *broker, const char *service, int heartbeat_ms,
                           int liveness, int credit)
{
    pr_worker_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->broker = strdup(broker);
    self->service = strdup(service);
    self->heartbeat_ms = heartbeat_ms > 0 ? heartbeat_ms : PR_HEARTBEAT_MS;
    self->liveness = liveness > 0 ? liveness : PR_LIVENESS;
    self->backoff_ms = PR_RECONNECT_MIN_MS;
    self->credit = credit >= 1 && credit <= PR_MAX_CREDIT ? credit : 1;
    if (!self->broker || !self->service || s_connect(self) != 0) {
        pr_worker_destroy(&self);
        return NULL;
    }
    cm_info("worker for '%s' connecting to %s", service, broker);
    return self;
}

void pr_worker_destroy(pr_worker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pr_worker_t *self = *self_p;
    if (self->sock)
        s_send_cmd(self, PR_W_DISCONNECT);
    zsock_destroy(&self->sock);
    zframe_destroy(&self->client);
    zframe_destroy(&self->tag);
    free(self->broker);
    free(self->service);
    free(self);
    *self_p = NULL;
}

/* Handles one message from the broker; returns the envelope frame of a request, else NULL. */
static zframe_t *s_handle(pr_worker_t *self, zmsg_t *msg)
{
    self->lives = self->liveness;
    self->backoff_ms = PR_RECONNECT_MIN_MS;
    zframe_t *proto = zmsg_pop(msg), *cmd = zmsg_pop(msg), *env = NULL;
    if (!proto || !zframe_streq(proto, PR_MDPW) || !cmd || zframe_size(cmd) != 1) {
        cm_warn("dropping malformed message from broker");
    } else if (zframe_data(cmd)[0] == PR_W_REQUEST && zmsg_size(msg) == 3) {
        zframe_destroy(&self->client);
        zframe_destroy(&self->tag);
        self->client = zmsg_pop(msg);
        self->tag = zmsg_pop(msg);
        env = zmsg_pop(msg);
    } else if (zframe_data(cmd)[0] == PR_W_DISCONNECT) {
        cm_info("broker asked us to reconnect");
        s_connect(self);
    }
    zframe_destroy(&proto);
    zframe_destroy(&cmd);
    return env;
}

static void s_tick(pr_worker_t *self)
{
    int64_t now = cm_mono_ms();
    if (now >= self->heartbeat_at) {
        s_send_cmd(self, PR_W_HEARTBEAT);
        self->heartbeat_at = now + self->heartbeat_ms;
    }
}

static void s_lost(pr_worker_t *self)
{
    cm_warn("broker silent; reconnecting in %d ms", self->backoff_ms);
    zclock_sleep(self->backoff_ms);
    self->backoff_ms = self->backoff_ms * 2 > PR_RECONNECT_MAX_MS ? PR_RECONNECT_MAX_MS
                                                                  : self->backoff_ms * 2;
    s_connect(self);
}

zframe_t *pr_worker_recv(pr_worker_t *self, int timeout_ms)
{
    int64_t until = timeout_ms >= 0 ? cm_mono_ms() + timeout_ms : INT64_MAX;
    while (!zsys_interrupted) {
        int64_t wait = self->heartbeat_at - cm_mono_ms();
        if (until - cm_mono_ms() < wait)
            wait = until - cm_mono_ms();
        zmq_pollitem_t item = { zsock_resolve(self->sock), 0, ZMQ_POLLIN, 0 };
        int rc = zmq_poll(&item, 1, wait > 0 ? (long) wait : 0);
        if (rc < 0)
            break; /* interrupted */
        if (rc > 0) {
            zmsg_t *msg = zmsg_recv(self->sock);
            if (!msg)
                break;
            zframe_t *env = s_handle(self, msg);
            zmsg_destroy(&msg);
            if (env)
                return env;
        } else if (cm_mono_ms() >= self->heartbeat_at && --self->lives <= 0) {
            s_lost(self);
        }
        s_tick(self);
        if (cm_mono_ms() >= until)
            return NULL;
    }
    return NULL;
}

int pr_worker_send(pr_worker_t *self, const void *reply, size_t len)
{
    if (!self->client || !self->tag)
        return -1;
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, PR_MDPW);
    zmsg_addmem(msg, &(unsigned char) { PR_W_REPLY }, 1);
    zmsg_append(msg, &self->client);
    zmsg_append(msg, &self->tag);
    zmsg_addmem(msg, reply, len);
    int rc = zmsg_send(&msg, self->sock);
    self->heartbeat_at = cm_mono_ms() + self->heartbeat_ms;
    return rc;
}
