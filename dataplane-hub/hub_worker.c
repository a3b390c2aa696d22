/* The database/ZeroMQ thread of the hub. Owns the thread, its database connection, the SUB
 * socket (+ monitor), the eventfd that wakes it, the table of registered sessions and the
 * per-project desired state last told to the lws thread. Events are wake-ups only: every
 * decision is re-read from PostgreSQL, and timers reconcile whatever an event may have lost. */
#include "hub_worker.h"
#include "hub_store.h"
#include "cm_log.h"
#include "cm_util.h"
#include "pr_event.h"
#include <czmq.h>
#include <errno.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define HUB_MONITOR_EVENTS (ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED \
                            | ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH \
                            | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL \
                            | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
#define HUB_EVENTS_PER_WAKE 1000   /* events handled before looking at the mailbox again */

/* Per project with registered sessions: how many, and the desired state the lws thread has. */
typedef struct {
    size_t sessions;
    bool known;
    hub_desired_t desired;
} hub_wproject_t;

struct hub_worker {
    hub_worker_args_t a;
    char hub_id[37];
    cm_db_t *db;
    hub_mbox_t *inbox;
    int efd;
    pthread_t thread;
    bool started;
    atomic_bool stop;
    zsock_t *sub, *mon;
    zhashx_t *live;       /* sid -> hub_live_t (owned) */
    zhashx_t *projects;   /* project id -> hub_wproject_t (owned) */
    zlistx_t *retry;      /* hub_live_t copies whose offline write failed (owned) */
    int64_t t_keys, t_keys_full, t_desired, t_reconcile, t_reap, t_expiry;
    char keys_fp[256];
    char kicks_since[64];  /* database time of the last read of recorded kicks */
    cm_ratelimit_t rl;
};

static void s_free(void **p)
{
    free(*p);
    *p = NULL;
}

static void s_wake(void *arg)
{
    hub_worker_t *self = arg;
    uint64_t one = 1;
    ssize_t ignored = write(self->efd, &one, sizeof one);
    (void) ignored;
}

/* ---------------------------------------------------------------- construction */

static int s_subscribe(hub_worker_t *self)
{
    static const char *const topics[] = { PR_EV_DEPLOY_PREFIX, PR_EV_DP_DISCONNECT,
                                          PR_EV_APIKEY_REVOKED, PR_EV_PROJECT_DELETED };
    self->sub = pr_event_sub_new(self->a.cfg->svc.events_out, self->a.mesh, topics, 4);
    if (!self->sub) {
        cm_error("cannot subscribe to events at %s", self->a.cfg->svc.events_out);
        return -1;
    }
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://hub-events-monitor-%p", (void *) self);
    if (zmq_socket_monitor(zsock_resolve(self->sub), ep, HUB_MONITOR_EVENTS) != 0
        || !(self->mon = zsock_new_pair(ep))) {
        cm_error("cannot monitor the event subscription: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

hub_worker_t *hub_worker_new(const hub_worker_args_t *args, cm_db_t **db_p)
{
    hub_worker_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->a = *args;
    snprintf(self->hub_id, sizeof self->hub_id, "%s", args->hub_id);
    self->a.hub_id = self->hub_id;
    self->db = *db_p;
    *db_p = NULL;
    self->rl = (cm_ratelimit_t) CM_RATELIMIT(20, 10000);
    self->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    self->inbox = self->efd >= 0 ? hub_mbox_new(s_wake, self) : NULL;
    self->live = zhashx_new();
    self->projects = zhashx_new();
    self->retry = zlistx_new();
    if (!self->inbox || !self->live || !self->projects || !self->retry || s_subscribe(self) != 0
        || hub_store_hub_alive(self->db, self->hub_id, args->cfg->svc.instance) != 0) {
        cm_error("the hub's database thread cannot start");
        hub_worker_destroy(&self);
        return NULL;
    }
    zhashx_set_destructor(self->live, s_free);
    zhashx_set_destructor(self->projects, s_free);
    zlistx_set_destructor(self->retry, s_free);
    return self;
}

hub_mbox_t *hub_worker_inbox(hub_worker_t *self)
{
    return self->inbox;
}

hub_keys_t *hub_worker_load_keys(hub_worker_t *self)
{
    hub_store_keys_fingerprint(self->db, self->keys_fp);
    hub_keys_t *keys = hub_store_load_keys(self->db);
    if (keys)   /* fresh: the thread's first look reloads only when the keys have changed */
        self->t_keys_full = cm_mono_ms() + HUB_KEYS_FULL_MS;
    return keys;
}

/* ---------------------------------------------------------------- posting to the lws thread */

static void s_post(hub_worker_t *self, hub_item_t **it)
{
    hub_mbox_post(self->a.to_lws, it);
}

/* Sends CLOSE for the n sessions in s (disconnect {reason}, then close frame code). */
static void s_close(hub_worker_t *self, hub_live_t *const *s, size_t n, const char *reason,
                    int code)
{
    if (n == 0)
        return;
    hub_item_t *it = hub_item_new(HUB_IT_CLOSE);
    if (!it || !(it->refs = calloc(n, sizeof *it->refs))) {
        hub_item_destroy(&it);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        it->refs[i].handle = s[i]->handle;
        memcpy(it->refs[i].sid, s[i]->sid, sizeof it->refs[i].sid);
    }
    it->n = n;
    it->close_code = code;
    snprintf(it->text, sizeof it->text, "%s", reason);
    cm_info("closing %zu session(s): %s", n, reason);
    s_post(self, &it);
}

/* The registered sessions matching field == value (field: offset of a text member), in an
 * array the caller frees; *n their count. */
static hub_live_t **s_select(hub_worker_t *self, size_t field, const char *value, size_t *n)
{
    hub_live_t **out = calloc(zhashx_size(self->live) + 1, sizeof *out);
    *n = 0;
    for (hub_live_t *l = zhashx_first(self->live); out && l; l = zhashx_next(self->live))
        if (!value || strcmp((const char *) l + field, value) == 0)
            out[(*n)++] = l;
    return out;
}

/* ---------------------------------------------------------------- desired deployments */

static void s_desired_changed(hub_item_t **it, const char *project, const hub_desired_t *d,
                              size_t cap)
{
    if (!*it) {
        *it = hub_item_new(HUB_IT_DESIRED);
        if (*it && !((*it)->projects = calloc(cap, sizeof *(*it)->projects)))
            hub_item_destroy(it);
    }
    if (!*it)
        return;
    hub_project_desired_t *e = &(*it)->projects[(*it)->n++];
    snprintf(e->project_id, sizeof e->project_id, "%s", project);
    e->desired = *d;
}

/* Re-reads the desired artifact of the given projects (all with sessions when ids is NULL)
 * and tells the lws thread about those that changed. */
static void s_refresh_desired(hub_worker_t *self, const char *const *ids, size_t n)
{
    const char **all = NULL;
    if (!ids) {
        n = zhashx_size(self->projects);
        all = calloc(n + 1, sizeof *all);
        size_t i = 0;
        for (void *p = zhashx_first(self->projects); all && p; p = zhashx_next(self->projects))
            all[i++] = zhashx_cursor(self->projects);
        ids = all;
    }
    hub_desired_t *d = ids ? calloc(n + 1, sizeof *d) : NULL;
    hub_item_t *changed = NULL;
    if (d && hub_store_desired(self->db, ids, n, d) == 0)
        for (size_t i = 0; i < n; i++) {
            hub_wproject_t *p = zhashx_lookup(self->projects, ids[i]);
            if (!p || (p->known && hub_desired_equal(&p->desired, &d[i])))
                continue;
            p->known = true;
            p->desired = d[i];
            s_desired_changed(&changed, ids[i], &d[i], n);
        }
    if (changed)
        s_post(self, &changed);
    free(d);
    free(all);
}

/* ---------------------------------------------------------------- rechecking sessions */

static const struct {
    const char *reason;
    int code;
} s_verdicts[] = {
    [HUB_SESSION_REVOKED] = { "API key revoked", 1008 },
    [HUB_SESSION_EXPIRED] = { "API key expired", 1008 },
    [HUB_SESSION_FORBIDDEN] = { "API key no longer allows this data plane", 1008 },
    [HUB_SESSION_ROW_LOST] = { "data plane removed or taken over by another session", 1000 },
};

/* Rechecks sessions against PostgreSQL and closes those whose key or row is gone. */
static void s_recheck(hub_worker_t *self, hub_live_t **s, size_t n)
{
    hub_verdict_t *v = calloc(n + 1, sizeof *v);
    hub_live_t **bad = calloc(n + 1, sizeof *bad);
    if (v && bad && hub_store_reconcile(self->db, self->hub_id, s, n, v) == 0)
        for (int kind = HUB_SESSION_REVOKED; kind <= HUB_SESSION_ROW_LOST; kind++) {
            size_t nbad = 0;
            for (size_t i = 0; i < n; i++)
                if ((int) v[i] == kind) {
                    bad[nbad++] = s[i];
                    s[i]->key_expires_ms = 0;   /* closing: no expiry recheck again */
                }
            s_close(self, bad, nbad, s_verdicts[kind].reason, s_verdicts[kind].code);
        }
    free(v);
    free(bad);
}

typedef struct {
    hub_worker_t *self;
    hub_live_t **found;
    size_t n, cap;
} hub_kicks_t;

static void s_kicked(void *arg, const char *sid)
{
    hub_kicks_t *k = arg;
    hub_live_t *l = zhashx_lookup(k->self->live, sid);
    if (l && k->n < k->cap)
        k->found[k->n++] = l;
}

/* Everything an event could have announced, re-read: key validity and row ownership of every
 * session, kicks recorded while the event was lost, desired artifacts. */
static void s_reconcile(hub_worker_t *self)
{
    size_t n = 0;
    hub_live_t **all = s_select(self, 0, NULL, &n);
    if (all && n)
        s_recheck(self, all, n);
    hub_kicks_t k = { self, all, 0, n };
    if (all && hub_store_kicks(self->db, self->hub_id, self->kicks_since, s_kicked, &k) == 0)
        s_close(self, all, k.n, "disconnected by the control plane", 1000);
    free(all);
    s_refresh_desired(self, NULL, 0);
}

/* Sessions whose key has passed its expiry (a rotation grace ending) are rechecked at once. */
static void s_expiries(hub_worker_t *self)
{
    int64_t now = cm_wall_ms();
    hub_live_t **due = calloc(zhashx_size(self->live) + 1, sizeof *due);
    size_t n = 0;
    for (hub_live_t *l = zhashx_first(self->live); due && l; l = zhashx_next(self->live))
        if (l->key_expires_ms && now >= l->key_expires_ms)
            due[n++] = l;
    if (n)
        s_recheck(self, due, n);
    free(due);
}

/* ---------------------------------------------------------------- mailbox items */

static hub_wproject_t *s_project_join(hub_worker_t *self, const char *project)
{
    hub_wproject_t *p = zhashx_lookup(self->projects, project);
    if (!p && (p = calloc(1, sizeof *p)) && zhashx_insert(self->projects, project, p) != 0) {
        free(p);
        p = NULL;
    }
    if (p)
        p->sessions++;
    return p;
}

static void s_project_leave(hub_worker_t *self, const char *project)
{
    hub_wproject_t *p = zhashx_lookup(self->projects, project);
    if (p && --p->sessions == 0)
        zhashx_delete(self->projects, project);
}

static void s_registered(hub_worker_t *self, const hub_item_t *req, const hub_reg_result_t *r)
{
    hub_live_t *l = calloc(1, sizeof *l);
    hub_item_t *it = hub_item_new(HUB_IT_REGISTERED);
    hub_wproject_t *p = l && it ? s_project_join(self, req->project_id) : NULL;
    if (!p) {
        free(l);
        hub_item_destroy(&it);
        return;
    }
    *l = (hub_live_t) { .handle = req->ref.handle, .key_expires_ms = r->key_expires_ms };
    memcpy(l->sid, req->ref.sid, sizeof l->sid);
    memcpy(l->dp_id, r->dp_id, sizeof l->dp_id);
    memcpy(l->project_id, req->project_id, sizeof l->project_id);
    memcpy(l->key_id, r->key_id, sizeof l->key_id);
    zhashx_update(self->live, l->sid, l);
    if (!p->known) {
        const char *ids[] = { req->project_id };
        p->known = hub_store_desired(self->db, ids, 1, &p->desired) == 0;
    }
    it->ref = req->ref;
    memcpy(it->project_id, req->project_id, sizeof it->project_id);
    memcpy(it->dp_id, r->dp_id, sizeof it->dp_id);
    snprintf(it->name, sizeof it->name, "%s", r->name);
    it->desired = p->known ? p->desired : (hub_desired_t) { 0 };
    cm_log_limited(&self->rl, CM_LOG_INFO, NULL, "data plane %s (%s) registered, project %s",
                   r->dp_id, r->name, req->project_id);
    s_post(self, &it);
}

static void s_register(hub_worker_t *self, const hub_item_t *req)
{
    /* The lws thread gives up on a registration after register-timeout: don't record it. */
    if (cm_mono_ms() - req->posted_ms > self->a.cfg->register_timeout_s * 1000)
        return;
    hub_reg_result_t r;
    hub_store_register(self->db, self->hub_id, req, &r);
    if (r.ok) {
        s_registered(self, req, &r);
        return;
    }
    hub_item_t *it = hub_item_new(HUB_IT_REJECTED);
    if (!it)
        return;
    it->ref = req->ref;
    snprintf(it->text, sizeof it->text, "%s", r.reason);
    cm_log_limited(&self->rl, CM_LOG_INFO, NULL, "registration refused (project %s): %s",
                   req->project_id, r.reason);
    s_post(self, &it);
}

static void s_closed(hub_worker_t *self, const hub_item_t *it)
{
    hub_live_t *l = zhashx_lookup(self->live, it->ref.sid);
    const char *dp = it->dp_id[0] ? it->dp_id : l ? l->dp_id : "";
    if (*dp && hub_store_offline(self->db, dp, it->ref.sid) != 0) {
        hub_live_t *again = calloc(1, sizeof *again);
        if (again) {
            memcpy(again->sid, it->ref.sid, sizeof again->sid);
            snprintf(again->dp_id, sizeof again->dp_id, "%s", dp);
            zlistx_add_end(self->retry, again);
        }
    }
    if (l) {
        s_project_leave(self, l->project_id);
        zhashx_delete(self->live, it->ref.sid);
    }
}

static void s_redirty(hub_worker_t *self, const hub_flush_t *e, size_t n)
{
    hub_item_t *it = hub_item_new(HUB_IT_REDIRTY);
    if (!it || !(it->refs = calloc(n, sizeof *it->refs))) {
        hub_item_destroy(&it);
        return;
    }
    for (size_t i = 0; i < n; i++)
        it->refs[i] = e[i].ref;
    it->n = n;
    s_post(self, &it);
}

static void s_flush(hub_worker_t *self, const hub_item_t *it)
{
    bool *lost = calloc(it->n + 1, sizeof *lost);
    hub_live_t **gone = calloc(it->n + 1, sizeof *gone);
    if (!lost || !gone || hub_store_flush(self->db, self->hub_id, it->flush, it->n, lost) != 0) {
        s_redirty(self, it->flush, it->n);
    } else {
        size_t n = 0;
        for (size_t i = 0; i < it->n; i++) {
            hub_live_t *l = lost[i] ? zhashx_lookup(self->live, it->flush[i].ref.sid) : NULL;
            if (l)
                gone[n++] = l;
        }
        s_close(self, gone, n, s_verdicts[HUB_SESSION_ROW_LOST].reason, 1000);
    }
    free(lost);
    free(gone);
    atomic_store(self->a.flush_busy, false);
}

static void s_mail(hub_worker_t *self)
{
    hub_item_t *it = hub_mbox_take(self->inbox);
    while (it) {
        hub_item_t *next = it->next;
        if (it->type == HUB_IT_REGISTER)
            s_register(self, it);
        else if (it->type == HUB_IT_CLOSED)
            s_closed(self, it);
        else if (it->type == HUB_IT_FLUSH)
            s_flush(self, it);
        hub_item_destroy(&it);
        it = next;
    }
}

/* ---------------------------------------------------------------- events */

static void s_close_matching(hub_worker_t *self, size_t field, const char *value,
                             const char *reason, int code)
{
    size_t n = 0;
    hub_live_t **s = value ? s_select(self, field, value, &n) : NULL;
    if (s)
        s_close(self, s, n, reason, code);
    free(s);
}

static void s_event(hub_worker_t *self, const pr_event_t *ev)
{
    const char *project = pr_kv_get(ev->kv, ev->n, "project_id");
    if (strncmp(ev->topic, PR_EV_DEPLOY_PREFIX, strlen(PR_EV_DEPLOY_PREFIX)) == 0) {
        const char *p = project ? project : ev->topic + strlen(PR_EV_DEPLOY_PREFIX);
        if (cm_uuid_valid(p) && zhashx_lookup(self->projects, p))
            s_refresh_desired(self, &p, 1);
    } else if (strcmp(ev->topic, PR_EV_DP_DISCONNECT) == 0) {
        s_close_matching(self, offsetof(hub_live_t, dp_id),
                         pr_kv_get(ev->kv, ev->n, "data_plane_id"),
                         "disconnected by the control plane", 1000);
    } else if (strcmp(ev->topic, PR_EV_APIKEY_REVOKED) == 0) {
        size_t n = 0;
        const char *kid = pr_kv_get(ev->kv, ev->n, "key_id");
        hub_live_t **s = kid ? s_select(self, offsetof(hub_live_t, key_id), kid, &n) : NULL;
        if (s && n)
            s_recheck(self, s, n);   /* a rotation keeps the old key valid until its grace ends */
        free(s);
        self->t_keys = 0;
    } else if (strcmp(ev->topic, PR_EV_PROJECT_DELETED) == 0) {
        s_close_matching(self, offsetof(hub_live_t, project_id), project, "project deleted",
                         1008);
        self->t_keys = 0;
    }
}

static void s_events(hub_worker_t *self)
{
    for (int i = 0; i < HUB_EVENTS_PER_WAKE && (zsock_events(self->sub) & ZMQ_POLLIN); i++) {
        pr_event_t ev;
        if (pr_event_recv(self->sub, &ev) != 0)
            cm_log_limited(&self->rl, CM_LOG_WARN, NULL, "dropping a malformed event");
        else
            s_event(self, &ev);
    }
}

static void s_monitor(hub_worker_t *self)
{
    zmsg_t *msg = zmsg_recv(self->mon);
    zframe_t *head = msg ? zmsg_first(msg) : NULL;
    if (head && zframe_size(head) >= 6) {
        uint16_t event;
        memcpy(&event, zframe_data(head), sizeof event);
        if (event == ZMQ_EVENT_CONNECTED || event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            /* (Re)connected to the proxy: whatever was published meanwhile is lost, so
             * reconcile from PostgreSQL once the subscription has had time to travel. */
            cm_info("event subscription %s", event == ZMQ_EVENT_CONNECTED ? "connected"
                                                                          : "authenticated");
            self->t_reconcile = cm_mono_ms() + 100;
            self->t_keys = 0;
        } else {
            cm_log_limited(&self->rl, CM_LOG_WARN, NULL, "event subscription: %s",
                           event == ZMQ_EVENT_DISCONNECTED ? "disconnected"
                                                           : "handshake refused");
        }
    }
    zmsg_destroy(&msg);
}

/* ---------------------------------------------------------------- timers */

static void s_keys(hub_worker_t *self, int64_t now)
{
    char fp[256] = "";
    if (hub_store_keys_fingerprint(self->db, fp) != 0)
        return;
    if (strcmp(fp, self->keys_fp) == 0 && now < self->t_keys_full)
        return;
    hub_item_t *it = hub_item_new(HUB_IT_KEYS);
    if (it && (it->keys = hub_store_load_keys(self->db))) {
        memcpy(self->keys_fp, fp, sizeof fp);
        self->t_keys_full = now + HUB_KEYS_FULL_MS;
        s_post(self, &it);
    }
    hub_item_destroy(&it);
}

static void s_reap(hub_worker_t *self)
{
    hub_store_hub_alive(self->db, self->hub_id, self->a.cfg->svc.instance);
    for (hub_live_t *l = zlistx_first(self->retry); l; l = zlistx_first(self->retry)) {
        if (hub_store_offline(self->db, l->dp_id, l->sid) != 0)
            break;
        zlistx_delete(self->retry, zlistx_cursor(self->retry));
    }
    const char **sids = calloc(zhashx_size(self->live) + 1, sizeof *sids);
    size_t n = 0;
    for (void *l = zhashx_first(self->live); sids && l; l = zhashx_next(self->live))
        sids[n++] = zhashx_cursor(self->live);
    if (sids)
        hub_store_reap(self->db, self->hub_id, self->a.cfg->hub_dead_after_s,
                       self->a.cfg->offline_ttl_s, sids, n);
    free(sids);
}

static void s_timers(hub_worker_t *self)
{
    int64_t now = cm_mono_ms();
    const hub_config_t *c = self->a.cfg;
    if (now >= self->t_keys) {
        self->t_keys = now + HUB_KEYS_POLL_MS;
        s_keys(self, now);
    }
    if (now >= self->t_reconcile) {
        self->t_reconcile = now + c->heartbeat_s * 1000;
        self->t_desired = now + HUB_DESIRED_POLL_MS;
        s_reconcile(self);
    }
    if (now >= self->t_desired) {
        self->t_desired = now + HUB_DESIRED_POLL_MS;
        s_refresh_desired(self, NULL, 0);
    }
    if (now >= self->t_expiry) {
        self->t_expiry = now + 1000;
        s_expiries(self);
    }
    if (now >= self->t_reap) {
        self->t_reap = now + c->reap_interval_s * 1000;
        s_reap(self);
    }
}

static long s_timeout(const hub_worker_t *self)
{
    int64_t now = cm_mono_ms(), next = now + 1000;
    const int64_t t[] = { self->t_keys, self->t_reconcile, self->t_desired, self->t_expiry,
                          self->t_reap };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        next = t[i] < next ? t[i] : next;
    return next > now ? (long) (next - now) : 0;
}

/* ---------------------------------------------------------------- the thread */

static void *s_run(void *arg)
{
    hub_worker_t *self = arg;
    while (!atomic_load(&self->stop)) {
        zmq_pollitem_t items[] = { { zsock_resolve(self->sub), 0, ZMQ_POLLIN, 0 },
                                   { zsock_resolve(self->mon), 0, ZMQ_POLLIN, 0 },
                                   { NULL, self->efd, ZMQ_POLLIN, 0 } };
        if (zmq_poll(items, 3, s_timeout(self)) < 0 && zmq_errno() != EINTR)
            break;
        if (items[2].revents & ZMQ_POLLIN) {
            uint64_t count;
            ssize_t ignored = read(self->efd, &count, sizeof count);
            (void) ignored;
        }
        s_mail(self);
        if (items[0].revents & ZMQ_POLLIN)
            s_events(self);
        if (items[1].revents & ZMQ_POLLIN)
            s_monitor(self);
        s_timers(self);
    }
    s_mail(self);   /* the last CLOSED items of a shutdown */
    return NULL;
}

int hub_worker_start(hub_worker_t *self)
{
    if (pthread_create(&self->thread, NULL, s_run, self) != 0)
        return -1;
    self->started = true;
    return 0;
}

void hub_worker_destroy(hub_worker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hub_worker_t *self = *self_p;
    if (self->started) {
        atomic_store(&self->stop, true);
        s_wake(self);
        pthread_join(self->thread, NULL);
    }
    if (self->db)
        hub_store_hub_gone(self->db, self->hub_id);
    if (self->sub && self->mon)
        zmq_socket_monitor(zsock_resolve(self->sub), NULL, 0);   /* stop it before its peer */
    zsock_destroy(&self->mon);
    zsock_destroy(&self->sub);
    zhashx_destroy(&self->live);
    zhashx_destroy(&self->projects);
    zlistx_destroy(&self->retry);
    hub_mbox_destroy(&self->inbox);
    if (self->efd >= 0)
        close(self->efd);
    cm_db_destroy(&self->db);
    free(self);
    *self_p = NULL;
}
