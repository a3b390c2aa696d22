/* The service kit, the process. Owns the worker, the handler table (borrowed), the extra
 * sockets and timers a service registers, and the serve path every request takes. */
#include "pr_service.h"
#include "pr_idem.h"
#include "pr_routes.h"
#include "cm_log.h"
#include "cm_secret.h"
#include "cm_util.h"

#define PR_SERVICE_SOCKETS 8
#define PR_SERVICE_TIMERS 8

typedef struct {
    int interval_ms;
    int64_t due;
    pr_service_fn *fn;
    void *arg;
} s_timer_t;

struct pr_service {
    pr_service_args_t a;
    pr_worker_t *worker;
    zsock_t *socks[PR_SERVICE_SOCKETS];
    pr_service_fn *sock_fn[PR_SERVICE_SOCKETS];
    void *sock_arg[PR_SERVICE_SOCKETS];
    int nsocks;
    s_timer_t timers[PR_SERVICE_TIMERS];
    int ntimers;
};

int pr_service_check(const char *service, const pr_handler_t *h, size_t n, char *err,
                     size_t errlen)
{
    for (size_t i = 0; i < pr_routes_count; i++) {
        if (strcmp(pr_routes[i].service, service) != 0)
            continue;
        bool found = false;
        for (size_t j = 0; j < n && !found; j++)
            found = strcmp(h[j].op, pr_routes[i].op) == 0;
        if (!found) {
            snprintf(err, errlen, "route %s %s (%s) of '%s' has no handler", pr_routes[i].method,
                     pr_routes[i].path, pr_routes[i].op, service);
            return -1;
        }
    }
    for (size_t j = 0; j < n; j++) {
        const pr_route_t *r = pr_route_by_op(h[j].op);
        if (!r || strcmp(r->service, service) != 0 || !h[j].fn) {
            snprintf(err, errlen, "handler '%s' has no route of '%s'", h[j].op, service);
            return -1;
        }
    }
    return 0;
}

pr_service_t *pr_service_new(const pr_service_args_t *a, char *err, size_t errlen)
{
    if (pr_service_check(a->service, a->handlers, a->nhandlers, err, errlen) != 0)
        return NULL;
    pr_service_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->a = *a;
    self->a.worker.service = a->service;
    if (!(self->worker = pr_worker_new(&self->a.worker))) {
        snprintf(err, errlen, "cannot start the worker for '%s'", a->service);
        free(self);
        return NULL;
    }
    return self;
}

void pr_service_destroy(pr_service_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pr_worker_destroy(&(*self_p)->worker);
    free(*self_p);
    *self_p = NULL;
}

int pr_service_add_socket(pr_service_t *self, zsock_t *sock, pr_service_fn *fn, void *arg)
{
    if (!sock || self->nsocks == PR_SERVICE_SOCKETS)
        return -1;
    self->socks[self->nsocks] = sock;
    self->sock_fn[self->nsocks] = fn;
    self->sock_arg[self->nsocks++] = arg;
    return 0;
}

int pr_service_every(pr_service_t *self, int interval_ms, pr_service_fn *fn, void *arg)
{
    if (interval_ms <= 0 || self->ntimers == PR_SERVICE_TIMERS)
        return -1;
    self->timers[self->ntimers++] = (s_timer_t) { interval_ms, cm_mono_ms() + interval_ms, fn,
                                                  arg };
    return 0;
}

static const pr_handler_t *s_handler(const pr_service_t *self, const char *op)
{
    for (size_t i = 0; i < self->a.nhandlers; i++)
        if (strcmp(self->a.handlers[i].op, op) == 0)
            return &self->a.handlers[i];
    return NULL;
}

/* Mutations honour Idempotency-Key. */
static bool s_mutation(const char *op)
{
    const pr_route_t *r = pr_route_by_op(op);
    return r && strcmp(r->method, "GET") != 0;
}

static void s_dispatch(pr_service_t *self, const pr_request_t *req, pr_out_t *out)
{
    const pr_handler_t *h = s_handler(self, req->op);
    if (!h) {
        pr_out_problem(out, req, 404, "this service does not serve this operation");
        return;
    }
    pr_idem_t idem;
    bool keyed = self->a.idem_secret && self->a.db && s_mutation(req->op);
    if (keyed && pr_idem_before(self->a.db, self->a.idem_secret, req, out, &idem))
        return;
    h->fn(self->a.ctx, req, out);
    if (self->a.db)
        cm_db_rollback(self->a.db);  /* a handler that failed mid-transaction leaves none */
    if (keyed)
        pr_idem_after(self->a.db, req, out, &idem);
}

/* Serves one envelope into out. */
static void s_serve(pr_service_t *self, const void *env, size_t len, pr_out_t *out)
{
    pr_request_t req;
    char err[160];
    int64_t t0 = cm_mono_ms();
    if (pr_request_decode(env, len, &req, err, sizeof err) != 0) {
        cm_warn("rejecting malformed envelope: %s", err);
        pr_request_t blank = { .rid = "", .uri = "" };
        pr_out_problem(out, &blank, 400, "malformed request envelope");
    } else {
        s_dispatch(self, &req, out);
        cm_log_op(CM_LOG_INFO, req.rid, req.op, "status=%d ms=%lld", out->rep.status,
                  (long long) (cm_mono_ms() - t0));
    }
    pr_request_clear(&req);
}

static void s_serve_pending(pr_service_t *self)
{
    pr_worker_req_t *wr;
    while ((wr = pr_worker_take(self->worker))) {
        pr_out_t out = { 0 };
        s_serve(self, pr_worker_req_data(wr), pr_worker_req_size(wr), &out);
        size_t len = 0;
        unsigned char *bytes = pr_reply_encode(&out.rep, &len);
        if (bytes)
            pr_worker_reply(self->worker, &wr, bytes, len);
        else
            pr_worker_req_destroy(&wr);
        free(bytes);
        pr_out_free(&out);
    }
}

/* The poll timeout: the worker's next tick or the next timer, whichever is first. */
static long s_timeout(pr_service_t *self, int64_t now)
{
    long wait = pr_worker_timeout_ms(self->worker);
    for (int i = 0; i < self->ntimers; i++) {
        long t = self->timers[i].due > now ? (long) (self->timers[i].due - now) : 0;
        if (t < wait)
            wait = t;
    }
    return wait;
}

static void s_run_timers(pr_service_t *self)
{
    int64_t now = cm_mono_ms();
    for (int i = 0; i < self->ntimers; i++)
        if (now >= self->timers[i].due) {
            self->timers[i].due = now + self->timers[i].interval_ms;
            self->timers[i].fn(self->timers[i].arg);
        }
}

void pr_service_run(pr_service_t *self)
{
    while (!zsys_interrupted) {
        zmq_pollitem_t items[PR_SERVICE_SOCKETS + 1];
        zsock_t *ws = pr_worker_socket(self->worker);
        int n = 0;
        for (int i = 0; i < self->nsocks; i++)
            items[n++] = (zmq_pollitem_t) { zsock_resolve(self->socks[i]), 0, ZMQ_POLLIN, 0 };
        if (ws)
            items[n++] = (zmq_pollitem_t) { zsock_resolve(ws), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(items, n, s_timeout(self, cm_mono_ms())) < 0 && zmq_errno() != EINTR)
            break;
        if (ws && (items[n - 1].revents & ZMQ_POLLIN))
            pr_worker_handle(self->worker);
        pr_worker_tick(self->worker);
        s_serve_pending(self);
        for (int i = 0; i < self->nsocks; i++)
            if (items[i].revents & ZMQ_POLLIN)
                self->sock_fn[i](self->sock_arg[i]);
        s_run_timers(self);
    }
}

int pr_service_base_init(const pr_service_config_t *c, pr_role_t role, pr_service_base_t *b)
{
    char err[256];
    memset(b, 0, sizeof *b);
    if (!c->migrate_only) {
        b->mesh = pr_mesh_client_new(c->mesh_keys, role,
                                     *c->mesh_key_name ? c->mesh_key_name : NULL,
                                     c->insecure_mesh, err, sizeof err);
        if (!b->mesh || cm_secret_load(c->secret_file, b->secret, err, sizeof err) != 0) {
            cm_error("%s", err);
            pr_service_base_fini(b);
            return -1;
        }
        const char *endpoints[] = { c->broker, c->events, c->events_out };
        for (size_t i = 0; c->insecure_mesh && i < sizeof endpoints / sizeof endpoints[0]; i++)
            if (endpoints[i] && *endpoints[i] && !pr_endpoint_is_local(endpoints[i]))
                cm_warn("insecure mesh to an endpoint that is not on this host: %s",
                        endpoints[i]);
    }
    b->db = cm_db_new(c->database_url, (int) c->db_wait_ms);
    if (!b->db) {
        cm_error("no database connection; giving up");
        pr_service_base_fini(b);
        return -1;
    }
    if (cm_db_migrate(b->db) != 0) {
        pr_service_base_fini(b);
        return -1;
    }
    return c->migrate_only ? 1 : 0;
}

void pr_service_base_fini(pr_service_base_t *b)
{
    cm_db_destroy(&b->db);
    pr_mesh_destroy(&b->mesh);
    explicit_bzero(b->secret, sizeof b->secret);
}
