/* The broker: owns the ROUTER socket, the service table (queue + idle workers each), the
 * worker table and every request between arrival and reply, timeout or worker death. Every
 * message is checked against the role of the key its sender authenticated with. */
#include "gw_broker.h"
#include "pr_mdp.h"
#include "cm_log.h"
#include "cm_util.h"

typedef struct s_service s_service_t;

typedef struct {
    zframe_t *client, *tag, *env;   /* client is NULL for a local (in-process) request */
    pr_tag_t t;
    char svc[PR_SERVICE_MAX + 1];
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
    int role;                 /* the role its key has (-1 on an insecure mesh) */
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
    gw_broker_role_fn *role_of;
    void *role_arg;
    unsigned long refused;
    cm_ratelimit_t refused_log, malformed_log;
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

/* Answers a client: by callback when local, else over the ROUTER. A client that is gone or
 * not reading gets nothing; the rest of the broker goes on. */
static void s_to_client(s_broker_t *b, s_req_t *req, int cmd, const void *payload, size_t len)
{
    if (!req->client) {
        b->local(b->local_arg, req->t.cid, cmd, payload, len);
        return;
    }
    zmsg_t *m = pr_mdp_client_reply(req->client, cmd, req->svc, req->tag, payload, len);
    if (pr_mdp_send(b->router, &m) != 0)
        cm_log_limited(&b->refused_log, CM_LOG_WARN, NULL,
                       "reply to a client of '%s' not delivered: %s", req->svc,
                       zmq_strerror(zmq_errno()));
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

/* The service called name; created when create is set and the table has room. */
static s_service_t *s_service(s_broker_t *b, const char *name, bool create)
{
    s_service_t *s = zhashx_lookup(b->services, name);
    if (s || !create || zhashx_size(b->services) >= PR_MAX_SERVICES)
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
static bool s_send_worker(s_broker_t *b, const zframe_t *identity, int cmd)
{
    zmsg_t *m = pr_mdp_worker_cmd(identity, cmd);
    return pr_mdp_send(b->router, &m) == 0;
}

/* Removes a worker; a request it was serving gets 503, and when it was the service's last
 * worker, so do the queued ones (nobody will serve them before their deadline). */
static void s_worker_delete(s_broker_t *b, s_worker_t *w, bool tell)
{
    s_service_t *s = w->service;
    if (tell)
        (void) s_send_worker(b, w->identity, PR_W_DISCONNECT);
    s_req_t *req;
    while ((req = zlistx_detach(w->inflight, NULL))) {
        s_nak(b, req, 503);
        s_req_destroy(&req);
    }
    if (w->idle_handle)
        zlistx_delete(s->idle, w->idle_handle);
    if (--s->nworkers == 0) {
        while ((req = zlistx_detach(s->queue, NULL))) {
            s_nak(b, req, 503);
            s_req_destroy(&req);
        }
    }
    cm_info("worker %s of '%s' removed", w->key, s->name);
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

static void s_dispatch(s_broker_t *b, s_service_t *s)
{
    int64_t now = cm_wall_ms();
    while (zlistx_size(s->queue) > 0 && zlistx_size(s->idle) > 0) {
        s_req_t *req = zlistx_first(s->queue);
        if (req->t.deadline_ms <= now) {
            zlistx_detach_cur(s->queue);
            s_nak(b, req, 504);
            s_req_destroy(&req);
            continue;
        }
        s_worker_t *w = zlistx_detach(s->idle, NULL);
        w->idle_handle = NULL;
        if (pr_mdp_send_worker_request(b->router, w->identity, req->client, req->tag,
                                       req->env) != 0) {
            s_worker_delete(b, w, false);  /* its peer vanished; the request stays queued */
            continue;
        }
        zframe_destroy(&req->env);         /* the worker has it now */
        zlistx_detach(s->queue, NULL);
        zlistx_add_end(w->inflight, req);
        s_idle(w);  /* to the back of the line: requests spread over workers */
    }
}

/* ---- roles --------------------------------------------------------------------------- */

/* The role of a peer's key; -2 on an insecure mesh (no roles), -1 when not allowed. */
static int s_role(s_broker_t *b, const pr_mdp_msg_t *m)
{
    if (!b->role_of)
        return -2;
    return *m->user_id ? b->role_of(b->role_arg, m->user_id) : -1;
}

static void s_refuse(s_broker_t *b, const pr_mdp_msg_t *m, int role, const char *what)
{
    b->refused++;
    cm_log_limited(&b->refused_log, CM_LOG_WARN, NULL,
                   "refused %s from a peer with %s key %.8s…", what,
                   role >= 0 ? pr_role_name((pr_role_t) role) : "an unknown",
                   *m->user_id ? m->user_id : "(none)");
}

/* ---- messages ------------------------------------------------------------------------ */

/* Queues req for its service, or answers 503 when nobody can serve it. */
static void s_enqueue(s_broker_t *b, s_req_t *req, const char *service)
{
    s_service_t *s = s_service(b, service, false);
    snprintf(req->svc, sizeof req->svc, "%s", service);
    if (!s || s->nworkers == 0 || zlistx_size(s->queue) >= PR_QUEUE_MAX) {
        s_nak(b, req, 503);
        s_req_destroy(&req);
        return;
    }
    zlistx_add_end(s->queue, req);
    s_dispatch(b, s);
}

static void s_client_msg(s_broker_t *b, pr_mdp_msg_t *m)
{
    int role = s_role(b, m);
    if (role != -2 && role != PR_ROLE_FRONT) {
        s_refuse(b, m, role, "a client request");
        return;
    }
    int64_t now = cm_wall_ms();
    if (m->t.deadline_ms <= 0 || m->t.deadline_ms > now + PR_MAX_DEADLINE_MS) {
        cm_log_limited(&b->malformed_log, CM_LOG_WARN, NULL,
                       "dropping a client request without a valid deadline");
        return;
    }
    s_req_t *req = calloc(1, sizeof *req);
    if (!req)
        return;
    req->client = m->sender;
    req->tag = m->tag;
    req->env = m->body;
    req->t = m->t;
    m->sender = m->tag = m->body = NULL;
    s_enqueue(b, req, m->service);
}

static void s_worker_ready(s_broker_t *b, pr_mdp_msg_t *m, const char *key, int role)
{
    int wants = pr_role_from_name(m->service);
    if (role != -2 && (wants < 0 || wants != role || !pr_role_is_worker((pr_role_t) role))) {
        s_refuse(b, m, role, "a READY");
        return;
    }
    s_service_t *s = s_service(b, m->service, true);
    if (!s || strncmp(m->service, "mmi.", 4) == 0) {
        cm_log_limited(&b->malformed_log, CM_LOG_WARN, NULL,
                       "dropping READY for service '%s' (unknown, or too many services)",
                       m->service);
        return;
    }
    s_worker_t *w = calloc(1, sizeof *w);
    w->key = strdup(key);
    w->identity = m->sender;
    m->sender = NULL;
    w->service = s;
    w->role = role;
    s->nworkers++;
    w->inflight = zlistx_new();
    w->credit = (size_t) m->credit;
    zhashx_insert(b->workers, key, w);
    cm_info("worker %s ready for '%s' (%zu workers)", key, s->name, s->nworkers);
    s_alive(b, w);
    s_idle(w);
    s_dispatch(b, s);
}

static s_req_t *s_inflight_take(s_worker_t *w, const pr_tag_t *t)
{
    for (s_req_t *req = zlistx_first(w->inflight); req; req = zlistx_next(w->inflight))
        if (req->t.cid == t->cid && req->t.deadline_ms == t->deadline_ms)
            return zlistx_detach_cur(w->inflight);
    return NULL;
}

static void s_worker_reply(s_broker_t *b, s_worker_t *w, pr_mdp_msg_t *m)
{
    s_req_t *req = s_inflight_take(w, &m->t);
    if (req && !req->answered) {
        s_to_client(b, req, PR_C_FINAL, zframe_data(m->body), zframe_size(m->body));
        req->answered = true;
    }
    s_req_destroy(&req);
    s_idle(w);
    s_dispatch(b, w->service);
}

static void s_worker_msg(s_broker_t *b, pr_mdp_msg_t *m)
{
    int role = s_role(b, m);
    if (role == -1) {
        s_refuse(b, m, role, "a worker command");
        return;
    }
    char *key = zframe_strhex(m->sender);
    s_worker_t *w = zhashx_lookup(b->workers, key);
    if (w && role != -2 && role != w->role) {
        s_refuse(b, m, role, "a command for another role's worker");
    } else if (m->cmd == PR_W_READY && !w) {
        s_worker_ready(b, m, key, role);
    } else if (!w) {
        /* An unknown worker (we restarted, or expired it): make it register again. */
        if (m->cmd != PR_W_DISCONNECT && (role == -2 || pr_role_is_worker((pr_role_t) role)))
            (void) s_send_worker(b, m->sender, PR_W_DISCONNECT);
    } else if (m->cmd == PR_W_REPLY) {
        s_alive(b, w);
        s_worker_reply(b, w, m);
    } else if (m->cmd == PR_W_HEARTBEAT) {
        s_alive(b, w);
    } else {
        s_worker_delete(b, w, m->cmd != PR_W_DISCONNECT); /* DISCONNECT, or a second READY */
    }
    free(key);
}

static void s_router_msg(s_broker_t *b, zmsg_t **msg_p)
{
    pr_mdp_msg_t m;
    if (pr_mdp_parse(msg_p, true, &m) != 0) {
        cm_log_limited(&b->malformed_log, CM_LOG_WARN, NULL, "dropping a malformed message");
        return;
    }
    if (m.proto == PR_MDP_CLIENT)
        s_client_msg(b, &m);
    else
        s_worker_msg(b, &m);
    pr_mdp_msg_clear(&m);
}

/* ---- timers -------------------------------------------------------------------------- */

static void s_expire_requests(s_broker_t *b, s_service_t *s, int64_t now)
{
    s_req_t *req = zlistx_first(s->queue);
    while (req) {
        if (req->t.deadline_ms <= now) {
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
        if (req->t.deadline_ms > wall)
            return false;
    return true;
}

static void s_tick(s_broker_t *b)
{
    int64_t mono = cm_mono_ms(), wall = cm_wall_ms();
    bool beat = mono >= b->heartbeat_at;
    zlistx_t *dead = zlistx_new();
    for (s_worker_t *w = zhashx_first(b->workers); w; w = zhashx_next(b->workers)) {
        if (s_expired(w, mono, wall) || (beat && !s_send_worker(b, w->identity, PR_W_HEARTBEAT))) {
            zlistx_add_end(dead, w);
            continue;
        }
        for (s_req_t *req = zlistx_first(w->inflight); req; req = zlistx_next(w->inflight))
            if (req->t.deadline_ms <= wall)
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

static int s_bind(gw_broker_t *b, const gw_broker_args_t *a)
{
    zsock_set_router_mandatory(b->router, 1);
    zsock_set_sndhwm(b->router, PR_PEER_HWM);
    zsock_set_rcvhwm(b->router, PR_PEER_HWM);
    zsock_set_maxmsgsize(b->router, (int) PR_MAX_FRAME);
    zsock_set_linger(b->router, 0);
    if (pr_mesh_server_apply(a->mesh, b->router, "broker") != 0)
        return -1;
    if (zsock_bind(b->router, "%s", a->endpoint) < 0) {
        cm_error("broker cannot bind %s: %s", a->endpoint, zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

gw_broker_t *gw_broker_new(const gw_broker_args_t *a)
{
    gw_broker_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->hb_ms = a->heartbeat_ms > 0 ? a->heartbeat_ms : PR_HEARTBEAT_MS;
    b->liveness = a->liveness > 0 ? a->liveness : PR_LIVENESS;
    b->local = a->local;
    b->local_arg = a->local_arg;
    b->role_of = a->role_of;
    b->role_arg = a->role_arg;
    b->refused_log = (cm_ratelimit_t) CM_RATELIMIT(10, 10000);
    b->malformed_log = (cm_ratelimit_t) CM_RATELIMIT(10, 10000);
    b->services = zhashx_new();
    b->workers = zhashx_new();
    b->router = zsock_new(ZMQ_ROUTER);
    if (!b->router || !b->services || !b->workers) {
        gw_broker_destroy(&b);
        return NULL;
    }
    zhashx_set_destructor(b->services, s_service_free);
    zhashx_set_destructor(b->workers, s_worker_free);
    if (s_bind(b, a) != 0) {
        gw_broker_destroy(&b);
        return NULL;
    }
    b->heartbeat_at = cm_mono_ms() + b->hb_ms;
    cm_info("broker bound at %s (%s)", a->endpoint,
            pr_mesh_insecure(a->mesh) ? "plain: insecure mesh" : "CURVE");
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
        s_router_msg(self, &msg);
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

unsigned long gw_broker_refused(const gw_broker_t *self)
{
    return self->refused;
}
