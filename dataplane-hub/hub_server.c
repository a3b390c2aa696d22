/* The hub's lws context: the protocol callback, the HTTP answers before an upgrade (401 for a
 * bad bearer key, 503 over the caps, 404 elsewhere, GET /health), the session table
 * addressed by handle, the live projects and their shared announcements, the mailbox from
 * the database thread, and the timer sweep that batches heartbeat writes. Owns all of it. */
#include "hub_server_int.h"
#include "cm_secret.h"
#include "cm_problem.h"
#include "cm_util.h"
#include <jansson.h>
#include <strings.h>

/* lws's log hook takes no context argument, so its budget is the one file-level state here;
 * it is only touched from the lws service thread (and main before that thread runs). */
static cm_ratelimit_t s_lws_budget = CM_RATELIMIT(20, 10000);

/* ---------------------------------------------------------------- buffers */

hub_buf_t *hub_buf_new(const char *text, size_t len)
{
    hub_buf_t *b = malloc(sizeof *b + LWS_PRE + len + 1);
    if (!b)
        return NULL;
    b->refs = 1;
    b->len = (uint32_t) len;
    memcpy(b->data + LWS_PRE, text, len);
    b->data[LWS_PRE + len] = '\0';
    return b;
}

void hub_buf_unref(hub_buf_t **buf_p)
{
    if (!buf_p || !*buf_p)
        return;
    if (--(*buf_p)->refs == 0)
        free(*buf_p);
    *buf_p = NULL;
}

/* ---------------------------------------------------------------- sessions by handle */

static uint64_t s_slot_take(hub_server_t *self, hub_session_t *s)
{
    if (self->nfree == 0)
        return 0;
    uint32_t slot = self->free_slots[--self->nfree];
    self->slots[slot] = s;
    uint32_t gen = ++self->gens[slot];
    return ((uint64_t) gen << 32) | slot;
}

static void s_slot_free(hub_server_t *self, uint64_t handle)
{
    uint32_t slot = (uint32_t) handle;
    if (slot < self->nslots && self->slots[slot]) {
        self->slots[slot] = NULL;
        self->free_slots[self->nfree++] = slot;
    }
}

hub_session_t *hub_server_find(hub_server_t *self, const hub_ref_t *ref)
{
    uint32_t slot = (uint32_t) ref->handle;
    if (slot >= self->nslots || self->gens[slot] != (uint32_t) (ref->handle >> 32))
        return NULL;
    hub_session_t *s = self->slots[slot];
    return s && strcmp(s->sid, ref->sid) == 0 ? s : NULL;
}

/* Registers a freshly upgraded session; 0, or -1 when the table is full. */
static int s_session_add(hub_server_t *self, hub_session_t *s)
{
    s->handle = s_slot_take(self, s);
    if (!s->handle)
        return -1;
    self->n_sessions++;
    return 0;
}

static void s_session_remove(hub_server_t *self, hub_session_t *s)
{
    s_slot_free(self, s->handle);
    self->n_sessions--;
}

/* ---------------------------------------------------------------- projects */

static void s_project_free(void **p)
{
    hub_project_t *proj = *p;
    if (proj) {
        hub_buf_unref(&proj->announce);
        free(proj);
    }
    *p = NULL;
}

hub_project_t *hub_server_project(hub_server_t *self, const char *id)
{
    hub_project_t *p = zhashx_lookup(self->projects, id);
    if (p)
        return p;
    if (!(p = calloc(1, sizeof *p)))
        return NULL;
    snprintf(p->id, sizeof p->id, "%s", id);
    if (zhashx_insert(self->projects, id, p) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

void hub_server_project_leave(hub_server_t *self, hub_session_t *s)
{
    hub_project_t *p = s->proj;
    if (!p)
        return;
    if (s->pprev)
        s->pprev->pnext = s->pnext;
    else
        p->head = s->pnext;
    if (s->pnext)
        s->pnext->pprev = s->pprev;
    s->proj = NULL;
    s->pnext = s->pprev = NULL;
    if (--p->n == 0)
        zhashx_delete(self->projects, p->id);
}

hub_buf_t *hub_server_announce(hub_server_t *self, hub_project_t *p, int64_t now)
{
    if (p->announce && now < p->announce_until_ms)
        return p->announce;
    hub_buf_unref(&p->announce);
    const hub_config_t *c = self->cfg;
    char token[96], enc[200], url[1024], json[HUB_MSG_OUT_MAX];
    cm_download_token(self->secret, p->desired.artifact_id,
                      cm_wall_ms() / 1000 + c->token_ttl_s, token);
    size_t base = strlen(c->download_base);
    while (base > 0 && c->download_base[base - 1] == '/')
        base--;
    int n = cm_url_encode(token, enc, sizeof enc)
                ? snprintf(url, sizeof url, "%.*s/artifacts/%s/download?token=%s", (int) base,
                           c->download_base, p->desired.artifact_id, enc)
                : -1;
    n = n > 0 && (size_t) n < sizeof url
            ? hub_msg_artifact_available(json, sizeof json, p->desired.artifact_id, url,
                                         p->desired.sha256)
            : -1;
    if (n < 0)
        return NULL;
    /* Re-signed at half its life, so every token sent has at least half of token-ttl left. */
    p->announce = hub_buf_new(json, (size_t) n);
    p->announce_until_ms = now + c->token_ttl_s * 500;
    return p->announce;
}

/* ---------------------------------------------------------------- HTTP before an upgrade */

/* Writes a whole HTTP/1.1 response, headers and body in one write (as lws does for its own
 * status pages). The status line is ours: before an upgrade lws would answer HTTP/1.0. */
static int s_http_write(struct lws *wsi, unsigned status, const char *title, const char *ctype,
                        const char *body, const char *rid)
{
    unsigned char buf[LWS_PRE + 2048], *start = buf + LWS_PRE;
    size_t cap = sizeof buf - LWS_PRE;
    int n = snprintf((char *) start, cap,
                     "HTTP/1.1 %u %s\r\ncontent-type: %s\r\ncontent-length: %zu\r\n"
                     "x-request-id: %s\r\ncache-control: no-store\r\n%s%s\r\n%s",
                     status, title, ctype, strlen(body), rid,
                     status == 401 ? "www-authenticate: Bearer\r\n" : "",
                     status == 503 ? "retry-after: 1\r\n" : "", body);
    if (n <= 0 || (size_t) n >= cap)
        return -1;
    return lws_write(wsi, start, (size_t) n, LWS_WRITE_HTTP) == n ? 0 : -1;
}

/* The request id: a well-formed incoming X-Request-Id (the gateway's, through its splice),
 * else a fresh one. */
static void s_request_id(struct lws *wsi, char rid[129])
{
    int n = lws_hdr_custom_copy(wsi, rid, 129, "x-request-id:", 13);
    if (n > 0 && cm_request_id_valid(rid))
        return;
    memcpy(rid, "hub-", 5);
    if (cm_uuid_v4(rid + 4) != 0)
        snprintf(rid, 129, "hub-unknown");
}

/* An RFC 9457 problem, as everything else on the public port answers. 0 or -1. */
static int s_problem(struct lws *wsi, unsigned status, const char *detail,
                     const char *instance)
{
    char rid[129];
    s_request_id(wsi, rid);
    char *body = cm_problem_json((int) status, detail, instance ? instance : HUB_WS_PATH, rid,
                                 NULL, NULL);
    int rc = body ? s_http_write(wsi, status, cm_problem_title((int) status), CM_PROBLEM_CT,
                                 body, rid) : -1;
    free(body);
    return rc;
}

static int s_bearer_ok(hub_server_t *self, struct lws *wsi)
{
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n <= 0)
        return 1;   /* no header: the real data plane, which authenticates in register */
    char authz[320];
    unsigned char hash[32];
    return (size_t) n < sizeof authz
           && lws_hdr_copy(wsi, authz, sizeof authz, WSI_TOKEN_HTTP_AUTHORIZATION) > 0
           && cm_bearer_hash(authz, hash) == 0 && hub_keys_allows(self->keys, hash, cm_wall_ms());
}

/* LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: 0 lets the upgrade go on, 1 means a response was sent. */
static int s_confirm_upgrade(hub_server_t *self, struct lws *wsi, const char *proto)
{
    char uri[128] = "";
    int rc = 0;
    if (!proto || strcasecmp(proto, "websocket") != 0)
        return -1;
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 || strcmp(uri, HUB_WS_PATH))
        rc = s_problem(wsi, 404, "data planes connect to " HUB_WS_PATH, uri);
    else if (self->stopping)
        rc = s_problem(wsi, 503, "this hub is shutting down", uri);
    else if (self->n_sessions >= (size_t) self->cfg->max_sessions
             || self->n_unauth >= (size_t) self->cfg->max_unauth)
        rc = s_problem(wsi, 503, "this hub holds as many sessions as it may; retry later", uri);
    else if (!s_bearer_ok(self, wsi))
        rc = s_problem(wsi, 401, "the bearer key is not a live data-plane key", uri);
    else
        return 0;
    self->stats.refused++;
    cm_log_limited(&self->rl, CM_LOG_INFO, NULL, "upgrade refused (%u so far)",
                   (unsigned) self->stats.refused);
    return rc == 0 ? 1 : -1;
}

static int s_http(hub_server_t *self, struct lws *wsi, const char *uri)
{
    int rc;
    if (uri && strcmp(uri, "/health") == 0) {
        char body[640], rid[129];
        s_request_id(wsi, rid);
        snprintf(body, sizeof body,
                 "{\"status\":\"healthy\",\"hub_id\":\"%s\",\"sessions\":%zu,"
                 "\"registered\":%zu,\"unauthenticated\":%zu,\"totals\":{\"upgrades\":%llu,"
                 "\"refused\":%llu,\"registrations\":%llu,\"rejections\":%llu,\"errors\":%llu,"
                 "\"announcements\":%llu,\"dropped\":%llu}}",
                 self->hub_id, self->n_sessions, self->n_live, self->n_unauth,
                 (unsigned long long) self->stats.upgrades, (unsigned long long) self->stats.refused,
                 (unsigned long long) self->stats.registered,
                 (unsigned long long) self->stats.rejected, (unsigned long long) self->stats.errors,
                 (unsigned long long) self->stats.announced,
                 (unsigned long long) self->stats.dropped);
        rc = s_http_write(wsi, 200, "OK", "application/json", body, rid);
    } else if (uri && strcmp(uri, HUB_WS_PATH) == 0) {
        rc = s_problem(wsi, 400, "this endpoint needs a WebSocket upgrade", uri);
    } else {
        rc = s_problem(wsi, 404, "data planes connect to " HUB_WS_PATH, uri);
    }
    return rc != 0 || lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* ---------------------------------------------------------------- the database thread's items */

static void s_desired(hub_server_t *self, const hub_item_t *it, int64_t now)
{
    for (size_t i = 0; i < it->n; i++) {
        hub_project_t *p = zhashx_lookup(self->projects, it->projects[i].project_id);
        if (!p || hub_desired_equal(&p->desired, &it->projects[i].desired))
            continue;
        p->desired = it->projects[i].desired;
        hub_buf_unref(&p->announce);
        uint64_t before = self->stats.announced;
        p->fanout_t0_us = lws_now_usecs();
        for (hub_session_t *s = p->head; s; s = s->pnext)
            hub_session_converge(s, now);
        p->fanout_total = p->fanout_left = (size_t) (self->stats.announced - before);
        if (p->desired.has)
            cm_info("project %s: artifact %s desired, announcing to %zu of %zu session(s)",
                    p->id, p->desired.artifact_id, p->fanout_total, p->n);
    }
}

void hub_server_fanout_written(hub_server_t *self, hub_project_t *p, const hub_buf_t *buf)
{
    (void) self;
    if (!p || buf != p->announce || p->fanout_left == 0 || --p->fanout_left > 0)
        return;
    cm_info("project %s: artifact_available written to %zu session(s) in %.1f ms", p->id,
            p->fanout_total, (double) (lws_now_usecs() - p->fanout_t0_us) / 1000.0);
}

static void s_refs(hub_server_t *self, const hub_item_t *it)
{
    for (size_t i = 0; i < it->n; i++) {
        hub_session_t *s = hub_server_find(self, &it->refs[i]);
        if (s && it->type == HUB_IT_CLOSE)
            hub_session_close(s, it->close_code, it->text, true);
        else if (s && s->state == HUB_SS_LIVE)
            s->dirty = true;
    }
}

/* A registration whose session is gone by now: its row must not stay online. */
static void s_orphan(hub_server_t *self, const hub_item_t *it)
{
    hub_item_t *closed = hub_item_new(HUB_IT_CLOSED);
    if (!closed || !self->to_worker) {
        hub_item_destroy(&closed);
        return;
    }
    closed->ref = it->ref;
    memcpy(closed->dp_id, it->dp_id, sizeof closed->dp_id);
    memcpy(closed->project_id, it->project_id, sizeof closed->project_id);
    hub_mbox_post(self->to_worker, &closed);
}

static void s_item(hub_server_t *self, hub_item_t *it, int64_t now)
{
    hub_session_t *s = NULL;
    switch (it->type) {
    case HUB_IT_REGISTERED:
        if ((s = hub_server_find(self, &it->ref)))
            hub_session_registered(s, it);
        else
            s_orphan(self, it);
        break;
    case HUB_IT_REJECTED:
        if ((s = hub_server_find(self, &it->ref)) && s->state == HUB_SS_REGISTERING)
            hub_session_reject(s, it->text);
        break;
    case HUB_IT_DESIRED:
        s_desired(self, it, now);
        break;
    case HUB_IT_CLOSE:
    case HUB_IT_REDIRTY:
        s_refs(self, it);
        break;
    case HUB_IT_KEYS:
        hub_keys_destroy(&self->keys);
        self->keys = it->keys;
        it->keys = NULL;
        break;
    default:
        break;
    }
}

static void s_begin_stop(hub_server_t *self)
{
    self->stopping = true;
    self->stop_deadline_ms = cm_mono_ms() + HUB_STOP_GRACE_MS;
    for (uint32_t i = 0; i < self->nslots; i++) {
        hub_session_t *s = self->slots[i];
        if (s && s->state == HUB_SS_LIVE)
            hub_session_close(s, LWS_CLOSE_STATUS_GOINGAWAY, "hub shutting down", true);
        else if (s && s->state < HUB_SS_LIVE)
            hub_session_reject(s, "hub shutting down");
    }
}

static void s_drain(hub_server_t *self)
{
    if (atomic_load(&self->stop_requested) && !self->stopping)
        s_begin_stop(self);
    int64_t now = cm_mono_ms();
    hub_item_t *it = hub_mbox_take(self->inbox);
    while (it) {
        hub_item_t *next = it->next;
        s_item(self, it, now);
        hub_item_destroy(&it);
        it = next;
    }
}

/* ---------------------------------------------------------------- heartbeat batching */

static void s_flush_entry(hub_flush_t *e, hub_session_t *s)
{
    e->ref.handle = s->handle;
    memcpy(e->ref.sid, s->sid, sizeof e->ref.sid);
    memcpy(e->dp_id, s->dp_id, sizeof e->dp_id);
    e->has_hash = s->conv.has_reported;
    memcpy(e->hash, s->conv.reported, sizeof e->hash);
    e->has_pending = s->conv.has_pending;
    memcpy(e->pending, s->conv.pending, sizeof e->pending);
    e->drift = s->conv.drift;
    e->status = hub_conv_status(&s->conv);
}

/* One FLUSH item with every changed live session; none while the previous one is unwritten
 * (a slow database then delays writes instead of queueing them without bound). */
static void s_flush(hub_server_t *self)
{
    if (!self->to_worker || atomic_load(&self->flush_busy))
        return;
    size_t n = 0;
    for (uint32_t i = 0; i < self->nslots; i++)
        n += self->slots[i] && self->slots[i]->dirty && self->slots[i]->state == HUB_SS_LIVE;
    if (n == 0)
        return;
    hub_item_t *it = hub_item_new(HUB_IT_FLUSH);
    if (!it || !(it->flush = calloc(n, sizeof *it->flush))) {
        hub_item_destroy(&it);
        return;
    }
    for (uint32_t i = 0; i < self->nslots && it->n < n; i++) {
        hub_session_t *s = self->slots[i];
        if (s && s->dirty && s->state == HUB_SS_LIVE) {
            s_flush_entry(&it->flush[it->n++], s);
            s->dirty = false;
        }
    }
    atomic_store(&self->flush_busy, true);
    hub_mbox_post(self->to_worker, &it);
}

static void s_tick(lws_sorted_usec_list_t *sul)
{
    hub_server_t *self = lws_container_of(sul, hub_server_t, tick);
    s_drain(self);
    int64_t now = cm_mono_ms();
    for (uint32_t i = 0; i < self->nslots; i++)
        if (self->slots[i])
            hub_session_sweep(self->slots[i], now);
    if (now >= self->next_flush_ms) {
        self->next_flush_ms = now + HUB_FLUSH_MS;
        s_flush(self);
    }
    lws_sul_schedule(self->ctx, 0, &self->tick, s_tick, (lws_usec_t) HUB_TICK_MS * 1000);
}

/* ---------------------------------------------------------------- the protocol callback */

static int s_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    hub_server_t *self = ctx ? lws_context_user(ctx) : NULL;
    hub_session_t *s = user;
    if (!self)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        s_drain(self);
        return 0;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return s_confirm_upgrade(self, wsi, in);
    case LWS_CALLBACK_HTTP:
        return s_http(self, wsi, in);
    case LWS_CALLBACK_ESTABLISHED:
        self->stats.upgrades++;
        if (!s || s_session_add(self, s) != 0)
            return -1;
        if (hub_session_open(self, s, wsi) != 0) {
            s_session_remove(self, s);
            s->handle = 0;
            return -1;
        }
        return 0;
    case LWS_CALLBACK_RECEIVE:
        return s && s->srv ? hub_session_receive(s, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return s && s->srv ? hub_session_writeable(s) : -1;
    case LWS_CALLBACK_CLOSED:
        if (s && s->srv && s->handle) {
            hub_session_closed(s);
            s_session_remove(self, s);
        }
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols s_protocols[] = {
    /* name, callback, per-session data, rx chunk, id, user, tx chunk: small rx chunks keep
     * idle sessions small; larger messages are reassembled up to max-message-bytes. */
    { "barbacane-data-plane", s_callback, sizeof(hub_session_t), 1024, 0, NULL, 4096 },
    { NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void s_lws_log(int level, const char *line)
{
    cm_log_limited(&s_lws_budget, level & LLL_ERR ? CM_LOG_ERROR : CM_LOG_WARN, NULL,
                   "libwebsockets: %.*s", (int) strcspn(line, "\n"), line);
}

/* ---------------------------------------------------------------- life cycle */

static void s_cancel(void *arg)
{
    lws_cancel_service(arg);
}

static int s_tables(hub_server_t *self)
{
    self->nslots = (uint32_t) self->cfg->max_sessions + 1;
    self->slots = calloc(self->nslots, sizeof *self->slots);
    self->gens = calloc(self->nslots, sizeof *self->gens);
    self->free_slots = calloc(self->nslots, sizeof *self->free_slots);
    self->projects = zhashx_new();
    if (!self->slots || !self->gens || !self->free_slots || !self->projects)
        return -1;
    zhashx_set_destructor(self->projects, s_project_free);
    for (uint32_t i = self->nslots; i > 0; i--)
        self->free_slots[self->nfree++] = i - 1;
    return 0;
}

static struct lws_context *s_context(hub_server_t *self)
{
    const hub_config_t *c = self->cfg;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = (int) c->ws_port;
    info.iface = *c->ws_bind ? c->ws_bind : NULL;
    info.protocols = s_protocols;
    info.user = self;
    info.uid = info.gid = -1;
    info.options = strchr(c->ws_bind, ':') ? 0 : LWS_SERVER_OPTION_DISABLE_IPV6;
    info.timeout_secs = (unsigned) c->register_timeout_s;
    info.timeout_secs_ah_idle = (unsigned) (c->register_timeout_s < 10 ? c->register_timeout_s
                                                                       : 10);
    info.max_http_header_data = 4096;
    info.max_http_header_pool = (unsigned short) (c->max_unauth < 65535 ? c->max_unauth : 65535);
    info.server_string = "barbacane-hub";
    return lws_create_context(&info);
}

hub_server_t *hub_server_new(const hub_config_t *cfg, const unsigned char secret[32],
                             const char *hub_id)
{
    hub_server_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = cfg;
    memcpy(self->secret, secret, sizeof self->secret);
    snprintf(self->hub_id, sizeof self->hub_id, "%s", hub_id);
    self->rl = (cm_ratelimit_t) CM_RATELIMIT(20, 10000);
    lws_set_log_level(LLL_ERR, s_lws_log);
    if (s_tables(self) != 0 || !(self->inbox = hub_mbox_new(NULL, NULL))
        || !(self->ctx = s_context(self))) {
        cm_error("cannot serve WebSocket on %s:%ld", *cfg->ws_bind ? cfg->ws_bind : "*",
                 cfg->ws_port);
        hub_server_destroy(&self);
        return NULL;
    }
    hub_mbox_set_wake(self->inbox, s_cancel, self->ctx);
    lws_sul_schedule(self->ctx, 0, &self->tick, s_tick, (lws_usec_t) HUB_TICK_MS * 1000);
    cm_info("serving data planes on ws://%s:%ld%s (hub %s)", *cfg->ws_bind ? cfg->ws_bind : "*",
            cfg->ws_port, HUB_WS_PATH, hub_id);
    return self;
}

hub_mbox_t *hub_server_inbox(hub_server_t *self)
{
    return self->inbox;
}

atomic_bool *hub_server_flush_flag(hub_server_t *self)
{
    return &self->flush_busy;
}

void hub_server_attach(hub_server_t *self, hub_mbox_t *to_worker, hub_keys_t **keys_p)
{
    self->to_worker = to_worker;
    hub_keys_destroy(&self->keys);
    self->keys = keys_p ? *keys_p : NULL;
    if (keys_p)
        *keys_p = NULL;
}

void hub_server_run(hub_server_t *self)
{
    for (;;) {
        if (atomic_load(&self->stop_requested) && !self->stopping)
            s_begin_stop(self);
        if (self->stopping && (self->n_sessions == 0 || cm_mono_ms() >= self->stop_deadline_ms))
            break;
        if (lws_service(self->ctx, 0) < 0)
            break;
    }
}

void hub_server_stop(hub_server_t *self)
{
    atomic_store(&self->stop_requested, true);
    if (self->ctx)
        lws_cancel_service(self->ctx);
}

void hub_server_close(hub_server_t *self)
{
    if (self->inbox)
        hub_mbox_set_wake(self->inbox, NULL, NULL);
    if (self->ctx) {
        lws_sul_cancel(&self->tick);
        lws_context_destroy(self->ctx);   /* remaining sessions get LWS_CALLBACK_CLOSED */
        self->ctx = NULL;
    }
}

void hub_server_destroy(hub_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hub_server_t *self = *self_p;
    hub_server_close(self);
    hub_mbox_destroy(&self->inbox);
    zhashx_destroy(&self->projects);
    hub_keys_destroy(&self->keys);
    free(self->slots);
    free(self->gens);
    free(self->free_slots);
    explicit_bzero(self->secret, sizeof self->secret);
    free(self);
    *self_p = NULL;
}
