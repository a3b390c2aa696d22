/* One data-plane WebSocket session on the lws thread: register -> registered or
 * registration_failed (always the first frame the hub sends), heartbeats and their acks,
 * artifact announcements, the capped outbound queue (one write per WRITEABLE; a reader that
 * falls behind is dropped) and the deferred close. Owns the session's queue nodes and its
 * reassembly buffer; the session struct itself is lws's per-session data. */
#include "hub_server_int.h"
#include "cm_util.h"
#include <sys/socket.h>

static void s_drop(hub_session_t *s, const char *why)
{
    if (s->state == HUB_SS_DEAD)
        return;
    s->state = HUB_SS_DEAD;
    s->srv->stats.dropped++;
    cm_log_limited(&s->srv->rl, CM_LOG_WARN, NULL, "dropping session %s (%s): %s", s->sid,
                   *s->dp_id ? s->dp_id : "unregistered", why);
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* Leaves the unauthenticated count (registered, or closing anyway). */
static void s_authenticated(hub_session_t *s)
{
    if (s->counted_unauth) {
        s->counted_unauth = false;
        s->srv->n_unauth--;
    }
}

int hub_session_open(hub_server_t *srv, hub_session_t *s, struct lws *wsi)
{
    if (cm_uuid_v4(s->sid) != 0)
        return -1;
    int64_t now = cm_mono_ms();
    s->wsi = wsi;
    s->state = HUB_SS_AWAIT;
    s->deadline_ms = now + srv->cfg->register_timeout_s * 1000;
    s->last_rx_ms = now;
    s->counted_unauth = true;
    srv->n_unauth++;
    /* A fixed send buffer bounds kernel memory per session and lets a reader that never
     * reads fill it (and our queue) quickly, so it is dropped instead of held. */
    int sndbuf = HUB_SNDBUF;
    setsockopt(lws_get_socket_fd(wsi), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    s->srv = srv;
    return 0;
}

/* ---------------------------------------------------------------- the outbound queue */

static bool s_send_buf(hub_session_t *s, hub_buf_t *buf)
{
    if (!buf || s->state == HUB_SS_DEAD)
        return false;
    if (s->outq >= s->srv->cfg->outbound_queue) {
        s_drop(s, "outbound queue full (a reader that does not read)");
        return false;
    }
    hub_qnode_t *q = malloc(sizeof *q);
    if (!q) {
        s_drop(s, "out of memory");
        return false;
    }
    buf->refs++;
    *q = (hub_qnode_t) { NULL, buf };
    if (s->qtail)
        s->qtail->next = q;
    else
        s->qhead = q;
    s->qtail = q;
    s->outq++;
    lws_callback_on_writable(s->wsi);
    return true;
}

static bool s_send_text(hub_session_t *s, const char *json, int n)
{
    if (n < 0)
        return false;
    hub_buf_t *b = hub_buf_new(json, (size_t) n);
    bool ok = s_send_buf(s, b);
    hub_buf_unref(&b);
    return ok;
}

int hub_session_writeable(hub_session_t *s)
{
    if (s->state == HUB_SS_DEAD)
        return -1;
    hub_qnode_t *q = s->qhead;
    if (q) {
        s->qhead = q->next;
        if (!s->qhead)
            s->qtail = NULL;
        s->outq--;
        int n = lws_write(s->wsi, q->buf->data + LWS_PRE, q->buf->len, LWS_WRITE_TEXT);
        hub_server_fanout_written(s->srv, s->proj, q->buf);
        hub_buf_unref(&q->buf);
        free(q);
        if (n < 0)
            return -1;
        if (s->qhead || s->state == HUB_SS_CLOSING)
            lws_callback_on_writable(s->wsi);
        return 0;
    }
    if (s->state == HUB_SS_CLOSING) {
        lws_close_reason(s->wsi, (enum lws_close_status) s->close_code,
                         (unsigned char *) s->close_text, strlen(s->close_text));
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- closing */

static void s_begin_closing(hub_session_t *s, int code, const char *reason)
{
    s->state = HUB_SS_CLOSING;
    s->close_code = (uint16_t) code;
    snprintf(s->close_text, sizeof s->close_text, "%s", reason);
    s->deadline_ms = cm_mono_ms() + HUB_CLOSE_GRACE_MS;
    s_authenticated(s);
    lws_callback_on_writable(s->wsi);
}

void hub_session_close(hub_session_t *s, int code, const char *reason, bool with_message)
{
    if (s->state >= HUB_SS_CLOSING)
        return;
    char json[HUB_MSG_OUT_MAX];
    /* The real data plane only logs disconnect; the close frame is what ends the session. */
    if (with_message && s->state == HUB_SS_LIVE)
        s_send_text(s, json, hub_msg_disconnect(json, sizeof json, reason));
    if (s->state != HUB_SS_DEAD)
        s_begin_closing(s, code, reason);
}

void hub_session_reject(hub_session_t *s, const char *reason)
{
    if (s->state >= HUB_SS_CLOSING)
        return;
    char json[HUB_MSG_OUT_MAX];
    s->srv->stats.rejected++;
    s_send_text(s, json, hub_msg_registration_failed(json, sizeof json, reason));
    if (s->state != HUB_SS_DEAD)
        s_begin_closing(s, LWS_CLOSE_STATUS_POLICY_VIOLATION, reason);
}

/* ---------------------------------------------------------------- convergence */

void hub_session_converge(hub_session_t *s, int64_t now)
{
    if (s->state != HUB_SS_LIVE || !s->proj)
        return;
    hub_project_t *p = s->proj;
    if (!hub_conv_needs(&s->conv, &p->desired, now, s->srv->cfg->token_ttl_s * 1000))
        return;
    if (s_send_buf(s, hub_server_announce(s->srv, p, now))) {
        hub_conv_announced(&s->conv, &p->desired, now);
        s->dirty = true;
        s->srv->stats.announced++;
    }
}

/* ---------------------------------------------------------------- incoming messages */

static void s_error(hub_session_t *s, const char *message)
{
    char json[HUB_MSG_OUT_MAX];
    s->srv->stats.errors++;
    cm_log_limited(&s->srv->rl, CM_LOG_INFO, NULL, "session %s: answering error: %s", s->sid,
                   message);
    s_send_text(s, json, hub_msg_error(json, sizeof json, message));
}

static void s_register(hub_session_t *s, hub_in_t *in)
{
    hub_server_t *srv = s->srv;
    hub_item_t *it = srv->to_worker ? hub_item_new(HUB_IT_REGISTER) : NULL;
    if (!it) {
        hub_session_reject(s, "the hub is not ready; retry later");
        return;
    }
    it->ref.handle = s->handle;
    memcpy(it->ref.sid, s->sid, sizeof it->ref.sid);
    memcpy(it->project_id, in->project_id, sizeof it->project_id);
    it->has_name = in->has_name;
    memcpy(it->name, in->name, sizeof it->name);
    cm_sha256(in->api_key, strlen(in->api_key), it->key_hash);
    explicit_bzero(in->api_key, sizeof in->api_key);
    it->metadata = in->metadata;   /* moves */
    in->metadata = NULL;
    s->state = HUB_SS_REGISTERING;
    s->posted = true;
    hub_mbox_post(srv->to_worker, &it);
}

/* Input the hub cannot take. The data plane drops a connection whose first frame is anything
 * but registered/registration_failed, so before registration the answer is a rejection that
 * says why; while registering nothing is sent; once live, an error and the session goes on. */
static void s_refuse(hub_session_t *s, const char *why)
{
    if (s->state == HUB_SS_AWAIT)
        hub_session_reject(s, why);
    else if (s->state == HUB_SS_LIVE)
        s_error(s, why);
}

static void s_await(hub_session_t *s, hub_in_t *in, int rc, const char *err)
{
    char why[200];
    if (rc != 0) {
        snprintf(why, sizeof why, "malformed %s: %s",
                 in->type == HUB_IN_REGISTER ? "register" : "message", err);
        s_refuse(s, why);
    } else if (in->type == HUB_IN_REGISTER) {
        s_register(s, in);
    } else {
        s_refuse(s, "the first message must be register");
    }
}

static void s_heartbeat(hub_session_t *s, const hub_in_t *in, int64_t now)
{
    char json[HUB_MSG_OUT_MAX];
    bool drift = hub_conv_heartbeat(&s->conv, in->has_hash ? in->artifact_hash : NULL,
                                    &s->proj->desired);
    s->heard = true;
    s->dirty = true;
    if (s_send_text(s, json, hub_msg_heartbeat_ack(json, sizeof json, drift)))
        hub_session_converge(s, now);
}

static void s_downloaded(hub_session_t *s, const hub_in_t *in)
{
    hub_conv_downloaded(&s->conv, in->artifact_id, in->success, &s->proj->desired);
    s->dirty = true;
    if (!in->success)
        cm_log_limited(&s->srv->rl, CM_LOG_WARN, NULL,
                       "data plane %s could not take artifact %s: %s", s->dp_id,
                       in->artifact_id, in->has_error ? in->error : "no reason given");
}

static void s_live(hub_session_t *s, const hub_in_t *in, int rc, const char *err,
                   int64_t now)
{
    if (rc != 0)
        s_error(s, err);
    else if (in->type == HUB_IN_HEARTBEAT)
        s_heartbeat(s, in, now);
    else if (in->type == HUB_IN_DOWNLOADED)
        s_downloaded(s, in);
    else if (in->type == HUB_IN_REGISTER)
        s_error(s, "already registered");
    else {
        char why[HUB_MSG_TYPE_MAX + 32];
        snprintf(why, sizeof why, "unknown message type '%s'", in->type_name);
        s_error(s, why);
    }
}

static void s_message(hub_session_t *s, const unsigned char *text, size_t len)
{
    hub_in_t in;
    char err[160] = "";
    int rc = hub_msg_parse((const char *) text, len, (size_t) s->srv->cfg->max_message, &in, err,
                           sizeof err);
    if (s->state == HUB_SS_AWAIT)
        s_await(s, &in, rc, err);
    else if (s->state == HUB_SS_LIVE)
        s_live(s, &in, rc, err, cm_mono_ms());
    /* While registering nothing may precede registered/registration_failed: dropped. */
    hub_in_clear(&in);
}

static void s_rx_reset(hub_session_t *s)
{
    free(s->rx);
    s->rx = NULL;
    s->rx_len = s->rx_cap = 0;
    s->in_msg = s->rx_skip = s->rx_binary = false;
}

/* Appends a fragment; past max-message-bytes the rest of the message is skipped. */
static void s_rx_append(hub_session_t *s, const unsigned char *in, size_t len)
{
    size_t max = (size_t) s->srv->cfg->max_message;
    if (s->rx_skip || s->rx_binary)
        return;
    if (s->rx_len + len > max) {
        free(s->rx);
        s->rx = NULL;
        s->rx_len = s->rx_cap = 0;
        s->rx_skip = true;
        return;
    }
    if (s->rx_len + len > s->rx_cap) {
        size_t cap = s->rx_cap ? s->rx_cap : 1024;
        while (cap < s->rx_len + len)
            cap *= 2;
        unsigned char *grown = realloc(s->rx, cap > max ? max : cap);
        if (!grown) {
            s->rx_skip = true;
            return;
        }
        s->rx = grown;
        s->rx_cap = (uint32_t) (cap > max ? max : cap);
    }
    memcpy(s->rx + s->rx_len, in, len);
    s->rx_len += (uint32_t) len;
}

int hub_session_receive(hub_session_t *s, const unsigned char *in, size_t len)
{
    if (s->state >= HUB_SS_CLOSING)
        return 0;   /* input after a close was decided is ignored */
    s->last_rx_ms = cm_mono_ms();
    bool first = !s->in_msg;
    bool last = lws_is_final_fragment(s->wsi) && lws_remaining_packet_payload(s->wsi) == 0;
    if (first) {
        s->in_msg = true;
        s->rx_binary = lws_frame_is_binary(s->wsi) != 0;
    }
    if (first && last && !s->rx_binary) {
        if (len > (size_t) s->srv->cfg->max_message)
            s->rx_skip = true;
        else
            s_message(s, in, len);   /* the common case: a whole message in one piece */
    } else {
        s_rx_append(s, in, len);
    }
    if (!last)
        return 0;
    char why[96];
    if (s->rx_binary) {
        s_refuse(s, "binary frames are not accepted; messages are JSON text");
    } else if (s->rx_skip) {
        snprintf(why, sizeof why, "message exceeds %ld bytes", s->srv->cfg->max_message);
        s_refuse(s, why);
    } else if (!first) {
        s_message(s, s->rx, s->rx_len);
    }
    s_rx_reset(s);
    return 0;
}

/* ---------------------------------------------------------------- registration results */

/* Another session of this hub holding the same data-plane row is replaced by this one. */
static void s_replace_older(hub_project_t *p, hub_session_t *s, const char *dp_id)
{
    for (hub_session_t *o = p->head; o; o = o->pnext)
        if (o != s && strcmp(o->dp_id, dp_id) == 0)
            hub_session_close(o, LWS_CLOSE_STATUS_NORMAL,
                              "replaced by a newer session of this data plane", true);
}

static void s_join(hub_project_t *p, hub_session_t *s)
{
    s->proj = p;
    s->pprev = NULL;
    s->pnext = p->head;
    if (p->head)
        p->head->pprev = s;
    p->head = s;
    p->n++;
}

void hub_session_registered(hub_session_t *s, const hub_item_t *it)
{
    hub_server_t *srv = s->srv;
    snprintf(s->dp_id, sizeof s->dp_id, "%s", it->dp_id);   /* CLOSED will name the row */
    if (s->state != HUB_SS_REGISTERING)
        return;
    hub_project_t *p = hub_server_project(srv, it->project_id);
    if (!p) {
        hub_session_reject(s, "the hub is out of memory; retry later");
        return;
    }
    int64_t now = cm_mono_ms();
    bool changed = !hub_desired_equal(&p->desired, &it->desired);
    if (changed) {
        p->desired = it->desired;
        hub_buf_unref(&p->announce);
    }
    s_replace_older(p, s, it->dp_id);
    s_join(p, s);
    s->state = HUB_SS_LIVE;
    s_authenticated(s);
    s->counted_live = true;
    srv->n_live++;
    s->registered_ms = s->last_rx_ms = now;
    srv->stats.registered++;
    char json[HUB_MSG_OUT_MAX];
    s_send_text(s, json, hub_msg_registered(json, sizeof json, s->dp_id,
                                            (int) srv->cfg->heartbeat_s));
    for (hub_session_t *o = p->head; changed && o; o = o->pnext)
        if (o != s)
            hub_session_converge(o, now);
}

/* ---------------------------------------------------------------- timers and the end */

void hub_session_sweep(hub_session_t *s, int64_t now)
{
    const hub_config_t *c = s->srv->cfg;
    if (s->state == HUB_SS_AWAIT || s->state == HUB_SS_REGISTERING) {
        if (now >= s->deadline_ms)
            hub_session_reject(s, "registration timeout");
    } else if (s->state == HUB_SS_LIVE) {
        if (now - s->last_rx_ms > (HUB_LIVENESS_BEATS * c->heartbeat_s + 5) * 1000)
            hub_session_close(s, LWS_CLOSE_STATUS_GOINGAWAY, "no heartbeat", true);
        else if (!s->heard && now - s->registered_ms >= c->heartbeat_s * 1000)
            hub_session_converge(s, now);   /* it never reported a hash: announce anyway */
    } else if (s->state == HUB_SS_CLOSING && now >= s->deadline_ms) {
        s_drop(s, "it did not take its close frame");
    }
}

void hub_session_closed(hub_session_t *s)
{
    hub_server_t *srv = s->srv;
    while (s->qhead) {
        hub_qnode_t *q = s->qhead;
        s->qhead = q->next;
        hub_buf_unref(&q->buf);
        free(q);
    }
    s->qtail = NULL;
    s_rx_reset(s);
    hub_server_project_leave(srv, s);
    s_authenticated(s);
    if (s->counted_live)
        srv->n_live--;
    hub_item_t *it = s->posted && srv->to_worker ? hub_item_new(HUB_IT_CLOSED) : NULL;
    if (it) {
        it->ref.handle = s->handle;
        memcpy(it->ref.sid, s->sid, sizeof it->ref.sid);
        memcpy(it->dp_id, s->dp_id, sizeof it->dp_id);
        hub_mbox_post(srv->to_worker, &it);
    }
    s->srv = NULL;
}
