/* The broker: owns the ROUTER socket, the service table (queue + idle workers each), the
 * worker table and every request between arrival and reply, timeout or worker death. */
#include "gw_broker.h"
#include "pr_mdp.h"
#include "cm_log.h"
#include "cm_util.h"

typedef struct s_service s_service_t;

typedef struct {
    zframe_t *client, *tag, *env;   /* client is NULL for a local (in-process) request */
    pr_tag_t t;
    s_service_t *service;
    bool answered;            /* a NAK went out; a late reply is dropped */
} s_req_t;

struct s_service {
    char *name;
    zlistx_t *queue;          /* s_req_t*, arrival order */
    zlistx_t *idle;           /* s_worker_t* with credit left, least recently used first */
    size_t nworkers;
};

typedef struct {
    char *key;                /* identity as hex, key of the worker table */
    zframe_t *identity;
    s_service_t *service;
    int64_t expiry;
    void *idle_handle;        /* cursor in service->idle while it has credit left */
    zlistx_t *inflight;       /* s_req_t* handed to it and not answered yet */
    size_t credit;            /* requests it accepts at once (READY announces it) */
} s_worker_t;

struct gw_broker {
    zsock_t *router;
    zhashx_t *services, *workers;
    int hb_ms, liveness;
    int64_t heartbeat_at;
    gw_broker_local_fn *local;
    void *local_arg;
};
typedef gw_broker_t s_broker_t;

/* ---- requests ------------------------------------------------------------------------ */

static void s_req_destroy(s_req_t **req_p)
{
    if (!*req_p)
        return;
    zframe_destroy(&(*req_p)->client);
    zframe_destroy(&(*req_p)->tag);
    zframe_destroy(&(*req_p)->env);
    free(*req_p);
    *req_p = NULL;
}

static void s_sendm_byte(zsock_t *sock, int byte)
{
    unsigned char c = (unsigned char) byte;
    zmq_send(zsock_resolve(sock), &c, 1, ZMQ_SNDMORE);
}

/* Sends [client][MDPC][cmd][service][tag][payload] without consuming the request frames. */
static void s_to_client(s_broker_t *b, s_req_t *req, int cmd, const void *payload, size_t len)
{
    zsock_t *r = b->router;
    if (!req->client) {
        b->local(b->local_arg, req->t.cid, cmd, payload, len);
        return;
    }
    zframe_send(&req->client, r, ZFRAME_MORE | ZFRAME_REUSE);
    zstr_sendm(r, PR_MDPC);
    s_sendm_byte(r, cmd);
    zmsg_t *rest = zmsg_new();
    zmsg_addstr(rest, req->service->name);
    zmsg_addmem(rest, zframe_data(req->tag), zframe_size(req->tag));
    zmsg_addmem(rest, payload, len);
    zmsg_send(&rest, r);
}

static void s_nak(s_broker_t *b, s_req_t *req, int status)
{
    if (req->answered)
        return;
    unsigned char st[2] = { (unsigned char) (status >> 8), (unsigned char) status };
    s_to_client(b, req, PR_C_NAK, st, 2);
    req->answered = true;
}

/* ---- services and workers ------------------------------------------------------------ */

static s_service_t *s_service(s_broker_t *b, const char *name)
{
    s_service_t *s = zhashx_lookup(b->services, name);
    if (s)
        return s;
    s = calloc(1, sizeof *s);
    s->name = strdup(name);
    s->queue = zlistx_new();
    s->idle = zlistx_new();
    zhashx_insert(b->services, name, s);
    return s;
}

static void s_service_free(void **item)
{
    s_service_t *s = *item;
    s_req_t *req;
    while ((req = zlistx_detach(s->queue, NULL)))
        s_req_destroy(&req);
    zlistx_destroy(&s->queue);
    zlistx_destroy(&s->idle);
    free(s->name);
    free(s);
    *item = NULL;
}

/* False when the worker's connection is gone (ROUTER_MANDATORY reports EHOSTUNREACH). */
static bool s_send_worker(s_broker_t *b, s_worker_t *w, int cmd)
{
    if (zframe_send(&w->identity, b->router, ZFRAME_MORE | ZFRAME_REUSE) != 0)
        return false;
    zstr_sendm(b->router, PR_MDPW);
    zmsg_t *m = zmsg_new();
    zmsg_addmem(m, &(unsigned char) { (unsigned char) cmd }, 1);
    zmsg_send(&m, b->router);
    return true;
}

/* Removes a worker; a request it was serving gets 503, and when it was the service's last
 * worker, so do the queued ones (nobody will serve them before their deadline). */
static void s_worker_delete(s_broker_t *b, s_worker_t *w, bool tell)
{
    s_service_t *s = w->service;
    if (tell)
        (void) s_send_worker(b, w, PR_W_DISCONNECT);
    s_req_t *req;
    while ((req = zlistx_detach(w->inflight, NULL))) {
        s_nak(b, req, 503);
        s_req_destroy(&req);
    }
    if (s) {
        if (w->idle_handle)
            zlistx_delete(s->idle, w->idle_handle);
        if (--s->nworkers == 0) {
            while ((req = zlistx_detach(s->queue, NULL))) {
                s_nak(b, req, 503);
                s_req_destroy(&req);
            }
        }
    }
    cm_info("worker %s of '%s' removed", w->key, s ? s->name : "?");
    zhashx_delete(b->workers, w->key);
}

static void s_worker_free(void **item)
{
    s_worker_t *w = *item;
    zframe_destroy(&w->identity);
    s_req_t *req;
    while ((req = zlistx_detach(w->inflight, NULL)))
        s_req_destroy(&req);
    zlistx_destroy(&w->inflight);
    free(w->key);
    free(w);
    *item = NULL;
}

static void s_alive(s_broker_t *b, s_worker_t *w)
{
    w->expiry = cm_mono_ms() + (int64_t) b->hb_ms * b->liveness;
}

/* Puts w back among the workers that can take a request, if it has credit left. */
static void s_idle(s_worker_t *w)
{
    if (!w->idle_handle && zlistx_size(w->inflight) < w->credit)
        w->idle_handle = zlistx_add_end(w->service->idle, w);
}

/* Hands the request to worker w; false when w is gone (its peer vanished). */
static bool s_send_request(s_broker_t *b, s_worker_t *w, s_req_t *req)
{
    if (zframe_send(&w->identity, b->router, ZFRAME_MORE | ZFRAME_REUSE) != 0)
        return false; /* EHOSTUNREACH under ROUTER_MANDATORY */
    zstr_sendm(b->router, PR_MDPW);
    s_sendm_byte(b->router, PR_W_REQUEST);
    if (req->client)
        zframe_send(&req->client, b->router, ZFRAME_MORE | ZFRAME_REUSE);
    else
        zmq_send(zsock_resolve(b->router), "", 0, ZMQ_SNDMORE);
    zframe_send(&req->tag, b->router, ZFRAME_MORE | ZFRAME_REUSE);
    zframe_send(&req->env, b->router, 0);   /* consumed: the worker has it now */
    return true;
}

static void s_dispatch(s_broker_t *b, s_service_t *s)
{
    int64_t now = cm_wall_ms();
    while (zlistx_size(s->queue) > 0 && zlistx_size(s->idle) > 0) {
        s_req_t *req = zlistx_first(s->queue);
        if (req->t.deadline_ms && req->t.deadline_ms <= now) {
            zlistx_detach_cur(s->queue);
            s_nak(b, req, 504);
            s_req_destroy(&req);
            continue;
        }
        s_worker_t *w = zlistx_detach(s->idle, NULL);
        w->idle_handle = NULL;
        if (!s_send_request(b, w, req)) {
            s_worker_delete(b, w, false);
            continue;
        }
        zlistx_detach(s->queue, NULL);
        zlistx_add_end(w->inflight, req);
        s_idle(w);  /* to the back of the line: requests spread over workers */
    }
}

/* ---- messages ------------------------------------------------------------------------ */

/* Queues req for service, or answers 503 when nobody can serve it. */
static void s_enqueue(s_broker_t *b, s_req_t *req, const char *service)
{
    req->service = s_service(b, service);
    if (req->service->nworkers == 0 || zlistx_size(req->service->queue) >= PR_QUEUE_MAX) {
        s_nak(b, req, 503);
        s_req_destroy(&req);
        return;
    }
    zlistx_add_end(req->service->queue, req);
    s_dispatch(b, req->service);
}

static void s_client_msg(s_broker_t *b, zframe_t *sender, zmsg_t *msg)
{
    zframe_t *cmd = zmsg_pop(msg);
    char *service = zmsg_popstr(msg);
    s_req_t *req = calloc(1, sizeof *req);
    req->client = sender;
    req->tag = zmsg_pop(msg);
    req->env = zmsg_pop(msg);
    bool ok = cmd && zframe_size(cmd) == 1 && zframe_data(cmd)[0] == PR_C_REQUEST && service
              && *service && strlen(service) < 64 && req->env && zmsg_size(msg) == 0
              && pr_tag_unpack(zframe_data(req->tag), zframe_size(req->tag), &req->t) == 0;
    zframe_destroy(&cmd);
    if (!ok) {
        cm_warn("dropping malformed client request");
        s_req_destroy(&req);
        free(service);
        return;
    }
    s_enqueue(b, req, service);
    free(service);
}

static void s_worker_ready(s_broker_t *b, zframe_t *sender, const char *key, zmsg_t *msg)
{
    char *service = zmsg_popstr(msg);
    char *credit = zmsg_popstr(msg);   /* optional: how many requests it takes at once */
    long n = credit ? strtol(credit, NULL, 10) : 1;
    free(credit);
    if (!service || !*service || strlen(service) >= 64 || strncmp(service, "mmi.", 4) == 0) {
        cm_warn("dropping READY with a bad service name");
        free(service);
        zframe_destroy(&sender);
        return;
    }
    s_worker_t *w = calloc(1, sizeof *w);
    w->key = strdup(key);
    w->identity = sender;
    w->service = s_service(b, service);
    w->service->nworkers++;
    w->inflight = zlistx_new();
    w->credit = n >= 1 && n <= PR_MAX_CREDIT ? (size_t) n : 1;
    zhashx_insert(b->workers, key, w);
    cm_info("worker %s ready for '%s' (%zu workers)", key, service, w->service->nworkers);
    free(service);
    s_alive(b, w);
    s_idle(w);
    s_dispatch(b, w->service);
}

static s_req_t *s_inflight_take(s_worker_t *w, const zframe_t *tag)
{
    pr_tag_t t;
    if (!tag || pr_tag_unpack(zframe_data((zframe_t *) tag), zframe_size((zframe_t *) tag), &t))
        return NULL;
    for (s_req_t *req = zlistx_first(w->inflight); req; req = zlistx_next(w->inflight))
        if (req->t.cid == t.cid && req->t.deadline_ms == t.deadline_ms)
            return zlistx_detach_cur(w->inflight);
    return NULL;
}

static void s_worker_reply(s_broker_t *b, s_worker_t *w, zmsg_t *msg)
{
    zframe_t *client = zmsg_pop(msg), *tag = zmsg_pop(msg), *rep = zmsg_pop(msg);
    s_req_t *req = s_inflight_take(w, tag);
    if (req && rep && zmsg_size(msg) == 0 && !req->answered) {
        s_to_client(b, req, PR_C_FINAL, zframe_data(rep), zframe_size(rep));
        req->answered = true;
    }
    s_req_destroy(&req);
    zframe_destroy(&client);
    zframe_destroy(&tag);
    zframe_destroy(&rep);
    s_idle(w);
    s_dispatch(b, w->service);
}

static void s_worker_msg(s_broker_t *b, zframe_t *sender, zmsg_t *msg)
{
    zframe_t *cmdf = zmsg_pop(msg);
    int cmd = cmdf && zframe_size(cmdf) == 1 ? zframe_data(cmdf)[0] : -1;
    zframe_destroy(&cmdf);
    char *key = zframe_strhex(sender);
    s_worker_t *w = zhashx_lookup(b->workers, key);
    if (cmd == PR_W_READY && !w) {
        s_worker_ready(b, sender, key, msg);
        sender = NULL;
    } else if (!w) {
        /* An unknown worker (we restarted, or expired it): make it register again. */
        if (cmd != PR_W_DISCONNECT) {
            zframe_send(&sender, b->router, ZFRAME_MORE | ZFRAME_REUSE);
            zstr_sendm(b->router, PR_MDPW);
            zmq_send(zsock_resolve(b->router), &(unsigned char) { PR_W_DISCONNECT }, 1, 0);
        }
    } else if (cmd == PR_W_REPLY) {
        s_alive(b, w);
        s_worker_reply(b, w, msg);
    } else if (cmd == PR_W_HEARTBEAT) {
        s_alive(b, w);
    } else {
        s_worker_delete(b, w, cmd != PR_W_DISCONNECT); /* DISCONNECT, or a protocol error */
    }
    zframe_destroy(&sender);
    free(key);
}

static void s_router_msg(s_broker_t *b, zmsg_t *msg)
{
    zframe_t *sender = zmsg_pop(msg);
    zframe_t *proto = zmsg_pop(msg);
    if (sender && proto && zframe_streq(proto, PR_MDPC))
        s_client_msg(b, sender, msg);
    else if (sender && proto && zframe_streq(proto, PR_MDPW))
        s_worker_msg(b, sender, msg);
    else {
        cm_warn("dropping message with an unknown protocol tag");
        zframe_destroy(&sender);
    }
    zframe_destroy(&proto);
}

/* ---- timers -------------------------------------------------------------------------- */

static void s_expire_requests(s_broker_t *b, s_service_t *s, int64_t now)
{
    s_req_t *req = zlistx_first(s->queue);
    while (req) {
        if (req->t.deadline_ms && req->t.deadline_ms <= now) {
            zlistx_detach_cur(s->queue);
            s_nak(b, req, 504);
            s_req_destroy(&req);
        }
        req = zlistx_next(s->queue);
    }
}

/* A worker busy with a request sends nothing until it replies; it is not silent-dead while
 * one of its requests is still within its deadline (a dead process is caught by the failed
 * heartbeat send instead). */
static bool s_expired(const s_worker_t *w, int64_t mono, int64_t wall)
{
    if (w->expiry >= mono)
        return false;
    for (s_req_t *req = zlistx_first(w->inflight); req; req = zlistx_next(w->inflight))
        if (!req->t.deadline_ms || req->t.deadline_ms > wall)
            return false;
    return true;
}

static void s_tick(s_broker_t *b)
{
    int64_t mono = cm_mono_ms(), wall = cm_wall_ms();
    bool beat = mono >= b->heartbeat_at;
    zlistx_t *dead = zlistx_new();
    for (s_worker_t *w = zhashx_first(b->workers); w; w = zhashx_next(b->workers)) {
        if (s_expired(w, mono, wall) || (beat && !s_send_worker(b, w, PR_W_HEARTBEAT))) {
            zlistx_add_end(dead, w);
            continue;
        }
        for (s_req_t *req = zlistx_first(w->inflight); req; req = zlistx_next(w->inflight))
            if (req->t.deadline_ms && req->t.deadline_ms <= wall)
                s_nak(b, req, 504);
    }
    for (s_worker_t *w = zlistx_first(dead); w; w = zlistx_next(dead)) {
        cm_warn("worker %s of '%s' is gone", w->key, w->service->name);
        s_worker_delete(b, w, true);  /* if it is only hung, it will register again */
    }
    zlistx_destroy(&dead);
    for (s_service_t *s = zhashx_first(b->services); s; s = zhashx_next(b->services))
        s_expire_requests(b, s, wall);
    if (beat)
        b->heartbeat_at = mono + b->hb_ms;
}

/* ---- object ------------------------------------------------------------------------- */

gw_broker_t *gw_broker_new(const char *endpoint, int heartbeat_ms, int liveness,
                           gw_broker_local_fn *local, void *local_arg)
{
    gw_broker_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->hb_ms = heartbeat_ms > 0 ? heartbeat_ms : PR_HEARTBEAT_MS;
    b->liveness = liveness > 0 ? liveness : PR_LIVENESS;
    b->local = local;
    b->local_arg = local_arg;
    b->services = zhashx_new();
    b->workers = zhashx_new();
    zhashx_set_destructor(b->services, s_service_free);
    zhashx_set_destructor(b->workers, s_worker_free);
    b->router = zsock_new(ZMQ_ROUTER);
    if (!b->router || !b->services || !b->workers) {
        gw_broker_destroy(&b);
        return NULL;
    }
    zsock_set_router_mandatory(b->router, 1);
    zsock_set_sndhwm(b->router, 0);
    zsock_set_rcvhwm(b->router, 0);
    zsock_set_linger(b->router, 0);
    if (zsock_bind(b->router, "%s", endpoint) < 0) {
        cm_error("broker cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
        gw_broker_destroy(&b);
        return NULL;
    }
    b->heartbeat_at = cm_mono_ms() + b->hb_ms;
    cm_info("broker bound at %s", endpoint);
    return b;
}

void gw_broker_destroy(gw_broker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_broker_t *b = *self_p;
    zhashx_destroy(&b->workers);   /* workers first: they point into services */
    zhashx_destroy(&b->services);
    zsock_destroy(&b->router);
    free(b);
    *self_p = NULL;
}

zsock_t *gw_broker_socket(gw_broker_t *self)
{
    return self->router;
}

void gw_broker_drain(gw_broker_t *self)
{
    for (int n = 0; n < 1000 && (zsock_events(self->router) & ZMQ_POLLIN); n++) {
        zmsg_t *msg = zmsg_recv(self->router);
        if (!msg)
            break;
        s_router_msg(self, msg);
        zmsg_destroy(&msg);
    }
}

void gw_broker_tick(gw_broker_t *self)
{
    s_tick(self);
}

void gw_broker_submit(gw_broker_t *self, const char *service, const pr_tag_t *tag,
                      const void *env, size_t len)
{
    s_req_t *req = calloc(1, sizeof *req);
    unsigned char t[16];
    pr_tag_pack(tag, t);
    req->t = *tag;
    req->tag = zframe_new(t, sizeof t);
    req->env = zframe_new(env, len);
    s_enqueue(self, req, service);
}

size_t gw_broker_workers(gw_broker_t *self, const char *service)
{
    s_service_t *s = zhashx_lookup(self->services, service);
    return s ? s->nworkers : 0;
}
