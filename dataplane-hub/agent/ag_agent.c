/* The agent's engine: configuration checks, the lws client context and its one callback, the
 * connect-slot queue (--max-pending), the registered count behind all_registered, the service
 * loop and a bounded clean shutdown. Owns: the context, every session, the worker, the output
 * and the temporary work directory. */
#include "ag_int.h"
#include "cm_log.h"
#include "cm_util.h"
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define AG_MAX_SESSIONS 100000
#define AG_MAX_METADATA 65536
#define AG_SHUTDOWN_MS 1000

static int s_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len);

static const struct lws_protocols s_protocols[] = {
    { "barbacane-agent-ws", s_callback, 0, 0, 0, NULL, 0 },
    { "barbacane-agent-http", s_callback, 0, 0, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 },
};

uint32_t ag_agent_random(void)
{
    uint32_t r = 0;
    if (cm_random_bytes(&r, sizeof r) != 0)
        r = (uint32_t) cm_mono_ms() * 2654435761u;
    return r;
}

/* ---------------------------------------------------------------- the callback */

static void s_drain_worker(ag_agent_t *a)
{
    ag_job_t *job;
    while (a->worker && (job = ag_worker_take(a->worker)) != NULL) {
        if (job->session < a->n)
            ag_session_checked(a->sessions[job->session], job);
        else
            ag_job_destroy(&job);
    }
}

/* One callback for both protocols: lws sends every wsi's WSI_DESTROY to protocols[0], so the
 * user object's kind decides who handles it. */
static int s_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED) {
        ag_agent_t *a = lws_context_user(lws_get_context(wsi));
        if (a)
            s_drain_worker(a);
        return 0;
    }
    if (!user)
        return 0;
    ag_kind_t kind = *(ag_kind_t *) user;
    if (kind == AG_KIND_SESSION)
        return ag_session_callback(user, wsi, reason, in, len);
    if (kind == AG_KIND_DOWNLOAD)
        return ag_download_callback(user, wsi, reason, in, len);
    return 0;
}

/* ---------------------------------------------------------------- connect slots */

static void s_pump_cb(lws_sorted_usec_list_t *sul)
{
    ag_agent_t *a = lws_container_of(sul, ag_agent_t, sul_pump);
    while (!a->stop && a->waitq_len && a->pending < (size_t) a->cfg.max_pending) {
        ag_session_t *s = a->sessions[a->waitq[a->waitq_head]];
        a->waitq_head = (a->waitq_head + 1) % a->n;
        a->waitq_len--;
        if (s->state != AG_S_QUEUED)
            continue;
        a->pending++;
        ag_session_connect(s);
    }
}

/* The pump runs from the loop, never from inside a session's callback: a connection that
 * fails at once must not recurse into the next one. */
static void s_kick(ag_agent_t *a)
{
    if (!a->stop)
        lws_sul_schedule(a->ctx, 0, &a->sul_pump, s_pump_cb, 1);
}

void ag_agent_enqueue(ag_agent_t *a, ag_session_t *s)
{
    if (a->waitq_len == a->n)
        return;
    s->state = AG_S_QUEUED;
    a->waitq[(a->waitq_head + a->waitq_len) % a->n] = s->index;
    a->waitq_len++;
    s_kick(a);
}

void ag_agent_slot_freed(ag_agent_t *a)
{
    if (a->pending)
        a->pending--;
    s_kick(a);
}

void ag_agent_conn_ended(ag_agent_t *a)
{
    /* the shutdown loop counts open connections after each lws_service */
    if (a->shutting_down)
        lws_cancel_service(a->ctx);
}

void ag_agent_registered(ag_agent_t *a, int delta)
{
    if (delta < 0) {
        a->registered -= a->registered ? 1 : 0;
        a->all_announced = false;
        return;
    }
    a->registered++;
    if (a->registered != a->n || a->all_announced)
        return;
    a->all_announced = true;
    a->rounds++;
    ag_out_emit(a->out, AG_EV_SUMMARY, "all_registered", -1,
                json_pack("{s:I, s:I, s:I}", "sessions", (json_int_t) a->n, "elapsed_ms",
                          (json_int_t) (cm_mono_ms() - a->started_mono_ms), "round",
                          (json_int_t) a->rounds));
}

/* ---------------------------------------------------------------- construction */

static int s_fail(char *err, size_t errlen, const char *why)
{
    snprintf(err, errlen, "%s", why);
    return -1;
}

static int s_check_config(const ag_config_t *c, char *err, size_t errlen)
{
    if (!c->api_key || !*c->api_key)
        return s_fail(err, errlen, "--api-key (or --api-key-file) is required");
    if (strlen(c->api_key) > 1024)
        return s_fail(err, errlen, "--api-key is longer than 1024 bytes");
    if (c->sessions < 1 || c->sessions > AG_MAX_SESSIONS)
        return s_fail(err, errlen, "--sessions must be between 1 and 100000");
    if (c->max_pending < 1)
        return s_fail(err, errlen, "--max-pending must be at least 1");
    if (c->reconnect_min_ms < 1 || c->reconnect_max_ms < c->reconnect_min_ms)
        return s_fail(err, errlen, "need 1 <= --reconnect-min-ms <= --reconnect-max-ms");
    if (c->register_timeout_ms < 100 || c->download_timeout_ms < 100)
        return s_fail(err, errlen, "--register-timeout-ms and --download-timeout-ms >= 100");
    if (c->max_download_bytes < 1 || c->exit_after_ms < 0)
        return s_fail(err, errlen, "--max-download-bytes >= 1 and --exit-after-ms >= 0");
    if (c->events && *c->events && strcmp(c->events, "all") && strcmp(c->events, "session")
        && strcmp(c->events, "summary"))
        return s_fail(err, errlen, "--events is all, session or summary");
    return 0;
}

static int s_metadata(ag_agent_t *a, char *err, size_t errlen)
{
    const char *text = a->cfg.metadata;
    if (!text || !*text) {
        a->metadata = json_pack("{s:s, s:s}", "agent", "barbacane-agent", "version", BB_VERSION);
        return a->metadata ? 0 : s_fail(err, errlen, "out of memory");
    }
    if (strlen(text) > AG_MAX_METADATA)
        return s_fail(err, errlen, "--metadata is longer than 64 KiB");
    json_error_t e;
    a->metadata = json_loads(text, JSON_REJECT_DUPLICATES, &e);
    if (!json_is_object(a->metadata))
        return s_fail(err, errlen, "--metadata must be a JSON object");
    return 0;
}

static int s_work_dir(ag_agent_t *a, char *err, size_t errlen)
{
    const char *dir = a->cfg.work_dir;
    if (dir && *dir) {
        if (strlen(dir) >= sizeof a->work_dir - 64)
            return s_fail(err, errlen, "--work-dir path too long");
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return s_fail(err, errlen, "cannot create --work-dir");
        snprintf(a->work_dir, sizeof a->work_dir, "%s", dir);
        return 0;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(a->work_dir, sizeof a->work_dir, "%s/barbacane-agent-XXXXXX",
             tmp && *tmp && strlen(tmp) < 1024 ? tmp : "/tmp");
    if (!mkdtemp(a->work_dir))
        return s_fail(err, errlen, "cannot create a temporary work directory");
    a->own_work_dir = true;
    return 0;
}

static int s_sessions(ag_agent_t *a)
{
    a->n = (size_t) a->cfg.sessions;
    a->sessions = calloc(a->n, sizeof *a->sessions);
    a->waitq = calloc(a->n, sizeof *a->waitq);
    if (!a->sessions || !a->waitq)
        return -1;
    const char *base = a->cfg.name && *a->cfg.name ? a->cfg.name : NULL;
    for (size_t i = 0; i < a->n; i++) {
        char name[300];
        if (base && a->n > 1)
            snprintf(name, sizeof name, "%.250s-%zu", base, i);
        else if (base)
            snprintf(name, sizeof name, "%.250s", base);
        a->sessions[i] = ag_session_new(a, i, base ? name : NULL);
        if (!a->sessions[i])
            return -1;
    }
    return 0;
}

static int s_context(ag_agent_t *a)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = s_protocols;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.gid = (gid_t) -1;
    info.uid = (uid_t) -1;
    info.user = a;
    info.count_threads = 1;
    /* no fd_limit_per_thread: lws then maps fds directly (sized by ulimit -n, which
     * ag_main raised for the sessions) instead of searching a short table per event */
    if (a->cfg.ca_file && *a->cfg.ca_file)
        info.client_ssl_ca_filepath = a->cfg.ca_file;
    a->ctx = lws_create_context(&info);
    return a->ctx ? 0 : -1;
}

static ag_ev_class_t s_events(const ag_config_t *c)
{
    if (c->events && strcmp(c->events, "all") == 0)
        return AG_EV_HEARTBEAT;
    if (c->events && strcmp(c->events, "session") == 0)
        return AG_EV_SESSION;
    if (c->events && strcmp(c->events, "summary") == 0)
        return AG_EV_SUMMARY;
    return c->sessions > 1 ? AG_EV_SESSION : AG_EV_HEARTBEAT;
}

ag_agent_t *ag_agent_new(const ag_config_t *cfg, char *err, size_t errlen)
{
    if (s_check_config(cfg, err, errlen) != 0)
        return NULL;
    ag_agent_t *a = calloc(1, sizeof *a);
    if (!a) {
        s_fail(err, errlen, "out of memory");
        return NULL;
    }
    a->cfg = *cfg;
    char why[200];
    if (ag_url_parse(cfg->url, &a->ws, why, sizeof why) != 0
        || (strcmp(a->ws.scheme, "ws") != 0 && strcmp(a->ws.scheme, "wss") != 0)) {
        snprintf(err, errlen, "--url: %s", strcmp(a->ws.scheme, "http") == 0
                                       || strcmp(a->ws.scheme, "https") == 0
                                           ? "must be ws:// or wss://" : why);
        ag_agent_destroy(&a);
        return NULL;
    }
    if (!cfg->project_id || !cm_uuid_normalize(cfg->project_id, a->project_id)) {
        s_fail(err, errlen, "--project-id must be a UUID");
        ag_agent_destroy(&a);
        return NULL;
    }
    if (s_metadata(a, err, errlen) != 0 || s_work_dir(a, err, errlen) != 0) {
        ag_agent_destroy(&a);
        return NULL;
    }
    a->out = ag_out_new(stdout, s_events(cfg), (size_t) cfg->sessions);
    if (!a->out || s_sessions(a) != 0 || s_context(a) != 0
        || !(a->worker = ag_worker_new(a->ctx))) {
        s_fail(err, errlen, "cannot start (out of memory or file descriptors)");
        ag_agent_destroy(&a);
        return NULL;
    }
    return a;
}

/* ---------------------------------------------------------------- running */

static void s_exit_cb(lws_sorted_usec_list_t *sul)
{
    ag_agent_t *a = lws_container_of(sul, ag_agent_t, sul_exit);
    ag_agent_stop(a);   /* lws_service polls again after its timers: wake it */
}

static void s_drain_cb(lws_sorted_usec_list_t *sul)
{
    (void) sul;     /* only wakes the loop: the deadline is checked there */
}

static size_t s_open_connections(const ag_agent_t *a)
{
    size_t open = 0;
    for (size_t i = 0; i < a->n; i++)
        open += a->sessions[i]->wsi != NULL;
    return open;
}

/* Closes each open session with a close frame, as the data plane does on shutdown, and waits
 * at most AG_SHUTDOWN_MS for the servers to answer. */
static void s_shutdown(ag_agent_t *a)
{
    a->stop = 1;
    a->shutting_down = true;
    for (size_t i = 0; i < a->n; i++)
        ag_session_close(a->sessions[i]);
    int64_t deadline = cm_mono_ms() + AG_SHUTDOWN_MS;
    lws_sul_schedule(a->ctx, 0, &a->sul_drain, s_drain_cb,
                     (lws_usec_t) AG_SHUTDOWN_MS * LWS_US_PER_MS);
    while (s_open_connections(a) && cm_mono_ms() < deadline)
        if (lws_service(a->ctx, 0) < 0)
            break;
}

int ag_agent_run(ag_agent_t *a)
{
    a->started_mono_ms = cm_mono_ms();
    ag_out_emit(a->out, AG_EV_SUMMARY, "start", -1,
                json_pack("{s:I, s:s, s:i, s:s}", "sessions", (json_int_t) a->n, "url",
                          a->cfg.url, "pid", (int) getpid(), "work_dir", a->work_dir));
    for (size_t i = 0; i < a->n; i++)
        ag_agent_enqueue(a, a->sessions[i]);
    if (a->cfg.exit_after_ms > 0)
        lws_sul_schedule(a->ctx, 0, &a->sul_exit, s_exit_cb,
                         (lws_usec_t) a->cfg.exit_after_ms * LWS_US_PER_MS);
    int rc = 0;
    while (!a->stop)
        if (lws_service(a->ctx, 0) < 0) {
            rc = -1;
            break;
        }
    s_shutdown(a);
    ag_out_emit(a->out, AG_EV_SUMMARY, "exit", -1,
                json_pack("{s:I}", "registered", (json_int_t) a->registered));
    return rc;
}

void ag_agent_stop(ag_agent_t *a)
{
    a->stop = 1;
    if (a->ctx)
        lws_cancel_service(a->ctx);
}

/* ---------------------------------------------------------------- destruction */

static void s_remove_work_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

void ag_agent_destroy(ag_agent_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ag_agent_t *a = *self_p;
    a->stop = 1;
    /* the worker wakes the context: it goes first; the sessions' timers live in the context */
    ag_worker_destroy(&a->worker);
    for (size_t i = 0; a->sessions && i < a->n; i++)
        if (a->sessions[i])
            ag_session_quiesce(a->sessions[i]);
    if (a->ctx) {
        lws_sul_cancel(&a->sul_pump);
        lws_sul_cancel(&a->sul_exit);
        lws_sul_cancel(&a->sul_drain);
        lws_context_destroy(a->ctx);
    }
    for (size_t i = 0; a->sessions && i < a->n; i++)
        ag_session_destroy(&a->sessions[i]);
    free(a->sessions);
    free(a->waitq);
    if (a->own_work_dir)
        s_remove_work_dir(a->work_dir);
    json_decref(a->metadata);
    ag_out_destroy(&a->out);
    free(a);
    *self_p = NULL;
}
