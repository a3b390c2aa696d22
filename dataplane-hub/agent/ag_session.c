/* One data plane's WebSocket life, as the real data plane lives it: register, the first frame
 * must be registered/registration_failed, heartbeats from right after registration, messages it
 * does not know only logged, disconnect only logged, hot reloads one at a time, reconnect with
 * backoff. Owns: a session, its frame queues, reassembly buffer and current artifact file. */
#include "cm_backoff.h"
#include "ag_int.h"
#include "ag_msg.h"
#include "cm_log.h"
#include "cm_util.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Validity pings off: the real data plane sends none (it only answers the server's). */
static const lws_retry_bo_t s_no_keepalive = { .secs_since_valid_ping = 0,
                                               .secs_since_valid_hangup = 0 };

static ag_out_t *s_out(ag_session_t *s)
{
    return s->agent->out;
}

static void s_emit(ag_session_t *s, ag_ev_class_t cls, const char *event, json_t *fields)
{
    ag_out_emit(s_out(s), cls, event, (long) s->index, fields);
}

static void s_after_ms(ag_session_t *s, lws_sorted_usec_list_t *sul, sul_cb_t cb, int64_t ms)
{
    lws_sul_schedule(s->agent->ctx, 0, sul, cb, (lws_usec_t) (ms < 0 ? 0 : ms) * LWS_US_PER_MS);
}

/* ---------------------------------------------------------------- frames */

static ag_frame_t *s_frame(const char *text, size_t len)
{
    ag_frame_t *f = text ? malloc(sizeof *f + LWS_PRE + len) : NULL;
    if (!f)
        return NULL;
    f->next = NULL;
    f->len = len;
    memcpy(f->buf + LWS_PRE, text, len);
    return f;
}

static void s_frames_free(ag_frame_t **head, ag_frame_t **tail, size_t *count)
{
    while (*head) {
        ag_frame_t *next = (*head)->next;
        free(*head);
        *head = next;
    }
    *tail = NULL;
    *count = 0;
}

static void s_append(ag_frame_t **head, ag_frame_t **tail, size_t *count, ag_frame_t *f)
{
    if (*tail)
        (*tail)->next = f;
    else
        *head = f;
    *tail = f;
    (*count)++;
}

/* Queues text (consumed) on the live connection; dropped when the queue is full. */
static void s_send(ag_session_t *s, char *text, size_t len)
{
    static cm_ratelimit_t rl = CM_RATELIMIT(5, 10000);
    ag_frame_t *f = s->wsi && s->outq_len < AG_OUTQ_MAX ? s_frame(text, len) : NULL;
    free(text);
    if (!f) {
        cm_log_limited(&rl, CM_LOG_WARN, NULL, "session %zu: outbound frame dropped", s->index);
        return;
    }
    s_append(&s->outq, &s->outq_tail, &s->outq_len, f);
    lws_callback_on_writable(s->wsi);
}

/* artifact_downloaded goes out now when registered, else after the next registration (the
 * data plane's response channel outlives its connections). */
static void s_ack(ag_session_t *s, const char *artifact_id, bool success, const char *error)
{
    size_t len = 0;
    char *text = ag_msg_artifact_downloaded(artifact_id, success, error, &len);
    s_emit(s, AG_EV_SESSION, "artifact_downloaded",
           json_pack("{s:s, s:b, s:o}", "artifact_id", artifact_id, "success", success,
                     "error", error ? ag_out_str(error) : json_null()));
    if (s->state == AG_S_REGISTERED) {
        s_send(s, text, len);
        return;
    }
    ag_frame_t *f = s_frame(text, len);
    free(text);
    if (!f)
        return;
    if (s->backlog_len == AG_BACKLOG_MAX) {
        ag_frame_t *old = s->backlog;
        s->backlog = old->next;
        s->backlog_len--;
        if (!s->backlog)
            s->backlog_tail = NULL;
        free(old);
    }
    s_append(&s->backlog, &s->backlog_tail, &s->backlog_len, f);
}

/* ---------------------------------------------------------------- life cycle */

ag_session_t *ag_session_new(ag_agent_t *agent, size_t index, const char *name)
{
    ag_session_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->kind = AG_KIND_SESSION;
    s->agent = agent;
    s->index = index;
    if (name && !(s->name = strdup(name))) {
        free(s);
        return NULL;
    }
    return s;
}

void ag_session_destroy(ag_session_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ag_session_t *s = *self_p;
    if (s->dl)
        ag_download_detach(s->dl);
    s_frames_free(&s->outq, &s->outq_tail, &s->outq_len);
    s_frames_free(&s->backlog, &s->backlog_tail, &s->backlog_len);
    free(s->rx);
    free(s->name);
    if (s->artifact_path && s->agent->own_work_dir)
        unlink(s->artifact_path);
    free(s->artifact_path);
    free(s);
    *self_p = NULL;
}

void ag_session_quiesce(ag_session_t *s)
{
    lws_sul_cancel(&s->sul_hb);
    lws_sul_cancel(&s->sul_retry);
    lws_sul_cancel(&s->sul_deadline);
}

static void s_retry_cb(lws_sorted_usec_list_t *sul)
{
    ag_session_t *s = lws_container_of(sul, ag_session_t, sul_retry);
    if (s->state == AG_S_IDLE && !s->agent->stop)
        ag_agent_enqueue(s->agent, s);
}

/* The connection is over (failed, closed, timed out): count it, say so, schedule the next. */
static void s_conn_end(ag_session_t *s)
{
    ag_state_t was = s->state;
    if (was != AG_S_CONNECTING && was != AG_S_REGISTERING && was != AG_S_REGISTERED)
        return;
    s->state = AG_S_IDLE;
    s->wsi = NULL;
    lws_sul_cancel(&s->sul_hb);
    lws_sul_cancel(&s->sul_deadline);
    s_frames_free(&s->outq, &s->outq_tail, &s->outq_len);
    free(s->rx);
    s->rx = NULL;
    s->rx_len = s->rx_cap = 0;
    if (was == AG_S_REGISTERED)
        ag_agent_registered(s->agent, -1);
    else
        ag_agent_slot_freed(s->agent);
    if (s->established)
        s_emit(s, AG_EV_SESSION, "closed",
               json_pack("{s:i, s:o}", "code", s->close_code, "reason",
                         ag_out_str(s->end_reason)));
    ag_agent_conn_ended(s->agent);
    if (s->agent->stop)
        return;
    /* registered before: come back after the base delay, as the data plane does */
    unsigned attempt = was == AG_S_REGISTERED ? 0 : s->attempt;
    s->attempt = attempt + 1;
    int64_t delay = cm_backoff_ms(s->agent->cfg.reconnect_min_ms, s->agent->cfg.reconnect_max_ms,
                                  attempt, ag_agent_random());
    s_emit(s, AG_EV_SESSION, "reconnecting",
           json_pack("{s:I, s:i}", "delay_ms", (json_int_t) delay, "attempt", (int) attempt));
    s_after_ms(s, &s->sul_retry, s_retry_cb, delay);
}

/* Ends the connection from our side at the next WRITEABLE with a close frame. */
static void s_close(ag_session_t *s, int code, const char *why)
{
    snprintf(s->end_reason, sizeof s->end_reason, "%s", why);
    s->want_close = code;
    if (s->wsi)
        lws_callback_on_writable(s->wsi);
}

static void s_deadline_cb(lws_sorted_usec_list_t *sul)
{
    ag_session_t *s = lws_container_of(sul, ag_session_t, sul_deadline);
    if (s->state != AG_S_CONNECTING && s->state != AG_S_REGISTERING)
        return;
    snprintf(s->end_reason, sizeof s->end_reason, "registration timeout");
    s_emit(s, AG_EV_SESSION, "registration_timeout",
           json_pack("{s:I}", "after_ms", (json_int_t) s->agent->cfg.register_timeout_ms));
    if (s->wsi)
        lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    else
        s_conn_end(s);
}

void ag_session_connect(ag_session_t *s)
{
    ag_agent_t *a = s->agent;
    struct lws_client_connect_info cc;
    memset(&cc, 0, sizeof cc);
    cc.context = a->ctx;
    cc.address = a->ws.host;
    cc.port = a->ws.port;
    cc.path = a->ws.path;
    cc.host = a->ws.authority;
    cc.ssl_connection = (a->ws.tls ? LCCSCF_USE_SSL : 0) | LCCSCF_HTTP_NO_FOLLOW_REDIRECT;
    cc.local_protocol_name = "barbacane-agent-ws";
    cc.alpn = "http/1.1";
    cc.userdata = s;
    cc.pwsi = &s->wsi;
    cc.retry_and_idle_policy = &s_no_keepalive;
    s->state = AG_S_CONNECTING;
    s->established = false;
    s->close_code = 1006;       /* abnormal, until a close frame says otherwise */
    s->want_close = 0;
    s->end_reason[0] = '\0';
    s->wsi = NULL;
    s_after_ms(s, &s->sul_deadline, s_deadline_cb, a->cfg.register_timeout_ms);
    s_emit(s, AG_EV_SESSION, "connecting", json_pack("{s:s}", "url", a->cfg.url));
    if (!lws_client_connect_via_info(&cc) && s->state == AG_S_CONNECTING) {
        s_emit(s, AG_EV_SESSION, "connect_failed",
               json_pack("{s:n, s:s}", "status", "error", "cannot start the connection"));
        s_conn_end(s);
    }
}

void ag_session_close(ag_session_t *s)
{
    if (s->wsi && s->established)
        s_close(s, LWS_CLOSE_STATUS_NORMAL, "agent exiting");
    else if (s->wsi)    /* not upgraded yet: nothing to say, just go */
        lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* ---------------------------------------------------------------- registration */

static void s_heartbeat(ag_session_t *s)
{
    uint64_t uptime = (uint64_t) (cm_mono_ms() - s->registered_mono_ms) / 1000;
    size_t len = 0;
    const char *hash = s->has_artifact ? s->artifact_hash : NULL;
    char *text = ag_msg_heartbeat(hash, uptime, 0, &len);
    s_emit(s, AG_EV_HEARTBEAT, "heartbeat",
           json_pack("{s:o, s:I, s:I}", "artifact_hash", hash ? json_string(hash) : json_null(),
                     "uptime_secs", (json_int_t) uptime, "seq", (json_int_t) s->heartbeats));
    s_send(s, text, len);
}

/* Heartbeats keep to registration time + k × interval, so they do not drift with load. */
static void s_hb_cb(lws_sorted_usec_list_t *sul)
{
    ag_session_t *s = lws_container_of(sul, ag_session_t, sul_hb);
    if (s->state != AG_S_REGISTERED)
        return;
    s_heartbeat(s);
    s->heartbeats++;
    int64_t next = s->registered_mono_ms + (int64_t) s->heartbeats * s->hb_interval_s * 1000;
    s_after_ms(s, &s->sul_hb, s_hb_cb, next - cm_mono_ms());
}

static void s_registered(ag_session_t *s, const ag_msg_t *m)
{
    lws_sul_cancel(&s->sul_deadline);
    s->state = AG_S_REGISTERED;
    s->attempt = 0;
    snprintf(s->data_plane_id, sizeof s->data_plane_id, "%s", m->data_plane_id);
    s->hb_interval_s = m->heartbeat_interval_secs;
    s->registered_mono_ms = cm_mono_ms();
    s->heartbeats = 0;
    s_emit(s, AG_EV_SESSION, "registered",
           json_pack("{s:s, s:I, s:o}", "data_plane_id", s->data_plane_id,
                     "heartbeat_interval_secs", (json_int_t) s->hb_interval_s, "name",
                     s->name ? json_string(s->name) : json_null()));
    ag_agent_slot_freed(s->agent);
    ag_agent_registered(s->agent, +1);
    s_hb_cb(&s->sul_hb);        /* the first heartbeat right away */
    while (s->backlog) {
        ag_frame_t *f = s->backlog;
        s->backlog = f->next;
        s->backlog_len--;
        f->next = NULL;
        if (s->outq_len < AG_OUTQ_MAX)
            s_append(&s->outq, &s->outq_tail, &s->outq_len, f);
        else
            free(f);
    }
    s->backlog_tail = NULL;
    lws_callback_on_writable(s->wsi);
}

/* The first frame decides: registered, registration_failed, or anything else (a ping included,
 * which lws answers before we see it) and the data plane drops the connection. */
static void s_first_frame(ag_session_t *s, const char *data, size_t len)
{
    ag_msg_t m;
    memset(&m, 0, sizeof m);
    char why[200] = "";
    if (s->rx_binary || s->rx_drop)
        snprintf(why, sizeof why, "unexpected first frame: %s",
                 s->rx_binary ? "binary" : "too large");
    else if (ag_msg_parse(data, len, &m) != 0)
        snprintf(why, sizeof why, "unexpected first frame: %.150s", m.error);
    else if (m.type == AG_MSG_REGISTERED && m.heartbeat_interval_secs == 0)
        snprintf(why, sizeof why, "registered with heartbeat_interval_secs 0");
    else if (m.type != AG_MSG_REGISTERED && m.type != AG_MSG_REGISTRATION_FAILED)
        snprintf(why, sizeof why, "unexpected first frame: %.64s", m.type_name);
    if (why[0]) {
        s_emit(s, AG_EV_SESSION, "protocol_error", json_pack("{s:s}", "reason", why));
        s_close(s, LWS_CLOSE_STATUS_PROTOCOL_ERR, why);
    } else if (m.type == AG_MSG_REGISTERED) {
        s_registered(s, &m);
    } else {
        s_emit(s, AG_EV_SESSION, "registration_failed",
               json_pack("{s:o}", "reason", ag_out_str(m.text)));
        s_close(s, LWS_CLOSE_STATUS_NORMAL, "registration failed");
    }
    ag_msg_clear(&m);
}

/* ---------------------------------------------------------------- after registration */

static void s_reject(ag_session_t *s, const char *artifact_id, const char *error)
{
    s_emit(s, AG_EV_SESSION, "rejected",
           json_pack("{s:s, s:o}", "artifact_id", artifact_id, "error", ag_out_str(error)));
    s_ack(s, artifact_id, false, error);
}

static void s_artifact_available(ag_session_t *s, const ag_msg_t *m)
{
    int64_t at = cm_wall_ms();
    s_emit(s, AG_EV_SESSION, "artifact_available",
           json_pack("{s:s, s:o, s:o, s:I}", "artifact_id", m->artifact_id, "download_url",
                     ag_out_str(m->download_url), "sha256", ag_out_str(m->sha256), "at_ms",
                     (json_int_t) at));
    ag_out_artifact_seen(s_out(s), s->index, m->artifact_id, at);
    if (s->agent->cfg.no_download)
        return;
    if (s->busy) {
        s_reject(s, m->artifact_id, "hot-reload already in progress");
        return;
    }
    char url[AG_URL_MAX], why[300] = "", err[400];
    s->busy = true;
    s->busy_seq = ++s->agent->dl_seq;
    snprintf(s->busy_artifact, sizeof s->busy_artifact, "%s", m->artifact_id);
    if (ag_url_join(s->agent->cfg.url, m->download_url, url, sizeof url, why, sizeof why) != 0
        || ag_download_start(s, s->busy_seq, m->artifact_id, url, m->sha256, why,
                             sizeof why) != 0) {
        s->busy = false;
        snprintf(err, sizeof err, "download failed: download request failed: %s", why);
        s_reject(s, m->artifact_id, err);
    }
}

static void s_message(ag_session_t *s, const char *data, size_t len)
{
    static cm_ratelimit_t rl = CM_RATELIMIT(10, 10000);
    ag_msg_t m;
    if (s->rx_binary || s->rx_drop) {
        s_emit(s, AG_EV_SESSION, "ignored",
               json_pack("{s:s}", "error", s->rx_binary ? "binary frame" : "message too large"));
        return;
    }
    int rc = ag_msg_parse(data, len, &m);
    if (rc != 0 || m.type == AG_MSG_REGISTERED || m.type == AG_MSG_REGISTRATION_FAILED) {
        const char *why = rc != 0 ? m.error : "registration message after registration";
        cm_log_limited(&rl, CM_LOG_WARN, NULL, "session %zu: ignored a message: %s", s->index, why);
        s_emit(s, AG_EV_SESSION, "ignored",
               json_pack("{s:o, s:o}", "type", ag_out_str(m.type_name), "error", ag_out_str(why)));
    } else if (m.type == AG_MSG_HEARTBEAT_ACK) {
        s_emit(s, AG_EV_HEARTBEAT, "heartbeat_ack",
               json_pack("{s:b}", "drift_detected", m.drift_detected));
    } else if (m.type == AG_MSG_ARTIFACT_AVAILABLE) {
        s_artifact_available(s, &m);
    } else if (m.type == AG_MSG_DISCONNECT) {
        /* only logged, as the data plane does: the server closes the socket */
        cm_log(CM_LOG_INFO, NULL, "session %zu: disconnect requested", s->index);
        s_emit(s, AG_EV_SESSION, "disconnect", json_pack("{s:o}", "reason", ag_out_str(m.text)));
    } else if (m.type == AG_MSG_ERROR) {
        s_emit(s, AG_EV_SESSION, "error", json_pack("{s:o}", "message", ag_out_str(m.text)));
    }
    ag_msg_clear(&m);
}

/* Reassembles fragments into one message of at most AG_MSG_MAX bytes; a larger one is dropped
 * (and said so) rather than buffered. */
static void s_receive(ag_session_t *s, struct lws *wsi, const void *in, size_t len)
{
    if (lws_is_first_fragment(wsi)) {
        s->rx_len = 0;
        s->rx_drop = false;
        s->rx_binary = lws_frame_is_binary(wsi);
    }
    if (!s->rx_drop && s->rx_len + len > AG_MSG_MAX)
        s->rx_drop = true;
    if (!s->rx_drop && s->rx_len + len + 1 > s->rx_cap) {
        size_t cap = (s->rx_len + len + 1) * 2;
        char *p = realloc(s->rx, cap > AG_MSG_MAX + 1 ? AG_MSG_MAX + 1 : cap);
        if (p) {
            s->rx = p;
            s->rx_cap = cap > AG_MSG_MAX + 1 ? AG_MSG_MAX + 1 : cap;
        }
        s->rx_drop = !p;
    }
    if (!s->rx_drop && len) {
        memcpy(s->rx + s->rx_len, in, len);
        s->rx_len += len;
    }
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
        return;
    const char *data = s->rx ? s->rx : "";
    if (s->want_close)
        ;   /* closing: what follows the decision is not read */
    else if (s->state == AG_S_REGISTERING)
        s_first_frame(s, data, s->rx_len);
    else if (s->state == AG_S_REGISTERED)
        s_message(s, data, s->rx_len);
    free(s->rx);
    s->rx = NULL;
    s->rx_len = s->rx_cap = 0;
}

/* ---------------------------------------------------------------- downloads and checks */

void ag_session_downloaded(ag_session_t *s, uint64_t seq, char *path, const char *error)
{
    if (!s->busy || seq != s->busy_seq) {
        if (path)
            unlink(path);
        free(path);
        return;
    }
    if (error) {
        s->busy = false;
        s_reject(s, s->busy_artifact, error);
        return;
    }
    ag_job_t *job = s->agent->worker ? ag_job_new(s->index, seq, s->busy_artifact, path) : NULL;
    if (!job)
        unlink(path);
    free(path);
    if (!job || ag_worker_submit(s->agent->worker, &job) != 0) {
        s->busy = false;
        s_reject(s, s->busy_artifact, "load failed: the checker is not available");
    }
}

void ag_session_checked(ag_session_t *s, ag_job_t *job)
{
    if (!s->busy || job->seq != s->busy_seq) {
        unlink(job->path);
        ag_job_destroy(&job);
        return;
    }
    s->busy = false;
    if (job->rc != 0) {
        char err[600];
        snprintf(err, sizeof err, "load failed: %s", job->error);
        unlink(job->path);
        s_reject(s, job->artifact_id, err);
        ag_job_destroy(&job);
        return;
    }
    if (s->artifact_path) {
        unlink(s->artifact_path);
        free(s->artifact_path);
    }
    s->artifact_path = job->path;     /* the loaded artifact stays on disk, as the data plane's */
    job->path = NULL;
    s->has_artifact = true;
    snprintf(s->artifact_hash, sizeof s->artifact_hash, "%s", job->artifact.artifact_hash);
    s_emit(s, AG_EV_SESSION, "verified",
           json_pack("{s:s, s:s, s:i, s:I, s:I, s:I}", "artifact_id", job->artifact_id,
                     "artifact_hash", s->artifact_hash, "format", (int) job->artifact.format,
                     "routes_count", (json_int_t) job->artifact.routes_count, "plugins",
                     (json_int_t) job->artifact.nplugins, "specs",
                     (json_int_t) job->artifact.nspecs));
    s_ack(s, job->artifact_id, true, NULL);
    ag_job_destroy(&job);
}

/* ---------------------------------------------------------------- lws callback */

static int s_writeable(ag_session_t *s, struct lws *wsi)
{
    if (s->want_close) {
        lws_close_reason(wsi, (enum lws_close_status) s->want_close,
                         (unsigned char *) s->end_reason, strlen(s->end_reason));
        s->close_code = s->want_close;
        return -1;
    }
    ag_frame_t *f = s->outq;
    if (!f)
        return 0;
    s->outq = f->next;
    if (!s->outq)
        s->outq_tail = NULL;
    s->outq_len--;
    int n = lws_write(wsi, f->buf + LWS_PRE, f->len, LWS_WRITE_TEXT);
    free(f);
    if (n < 0)
        return -1;
    if (s->outq)
        lws_callback_on_writable(wsi);
    return 0;
}

static void s_established(ag_session_t *s, struct lws *wsi)
{
    ag_agent_t *a = s->agent;
    s->wsi = wsi;
    s->established = true;
    s->state = AG_S_REGISTERING;
    s_emit(s, AG_EV_SESSION, "connected", NULL);
    size_t len = 0;
    char *text = ag_msg_register(a->project_id, a->cfg.api_key, s->name, a->metadata, &len);
    s_send(s, text, len);
}

static void s_connect_error(ag_session_t *s, struct lws *wsi, const void *in, size_t len)
{
    unsigned status = lws_http_client_http_response(wsi);
    char why[200];
    snprintf(why, sizeof why, "%.*s", in ? (int) (len < 199 ? len : 199) : 0,
             in ? (const char *) in : "");
    if (!in || !len)
        snprintf(why, sizeof why, "connection failed");
    snprintf(s->end_reason, sizeof s->end_reason, "%s", why);
    s_emit(s, AG_EV_SESSION, "connect_failed",
           json_pack("{s:o, s:o}", "status", status ? json_integer(status) : json_null(),
                     "error", ag_out_str(why)));
    s_conn_end(s);
}

static int s_append_auth(ag_session_t *s, struct lws *wsi, void *in, size_t len)
{
    if (!s->agent->cfg.bearer)
        return 0;
    unsigned char **p = in, *end = *p + len;
    char value[1100];
    int n = snprintf(value, sizeof value, "Bearer %s", s->agent->cfg.api_key);
    if (n < 0 || (size_t) n >= sizeof value)
        return -1;
    return lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
                                        (unsigned char *) value, n, p, end) ? -1 : 0;
}

int ag_session_callback(ag_session_t *s, struct lws *wsi, enum lws_callback_reasons reason,
                        void *in, size_t len)
{
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        return s_append_auth(s, wsi, in, len);
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        s_established(s, wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (s->state == AG_S_CONNECTING && wsi == s->wsi)
            s_connect_error(s, wsi, in, len);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (wsi == s->wsi)
            s_receive(s, wsi, in, len);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return wsi == s->wsi ? s_writeable(s, wsi) : 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (wsi == s->wsi) {
            const unsigned char *p = in;
            s->close_code = len >= 2 ? (p[0] << 8) | p[1] : 1005;
            snprintf(s->end_reason, sizeof s->end_reason, "closed by the server");
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
    case LWS_CALLBACK_WSI_DESTROY:
        /* WSI_DESTROY is the backstop: whatever came before, the wsi is gone now */
        if (wsi == s->wsi)
            s_conn_end(s);
        return 0;
    default:
        return 0;
    }
}
