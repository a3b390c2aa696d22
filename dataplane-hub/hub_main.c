/* barbacane-hub: WebSocket sessions of Barbacane data planes (libwebsockets on the main
 * thread), their data_planes rows and artifact pushes (a database/ZeroMQ thread). Owns the
 * configuration, the service base (mesh keys, secret, database), the two halves and the
 * signal thread that stops them. */
#include "hub.h"
#include "hub_server.h"
#include "hub_worker.h"
#include "cm_config.h"
#include "cm_log.h"
#include "cm_util.h"
#include <czmq.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>

#define HUB_OPT(name, type, def, field, help) \
    { name, type, def, offsetof(hub_config_t, field), help, NULL }

static const cm_opt_t s_opts[] = {
    PR_SERVICE_BASE_OPTIONS(hub_config_t, svc),
    HUB_OPT("ws-bind", CM_OPT_STR, "127.0.0.1", ws_bind, "address the WebSocket port binds"),
    HUB_OPT("ws-port", CM_OPT_INT, "9091", ws_port, "WebSocket port (GET /ws/data-plane)"),
    HUB_OPT("download-base", CM_OPT_STR, "", download_base,
            "prefix of download_url: \"\" = relative (via the gateway), else its public URL"),
    HUB_OPT("heartbeat-interval-s", CM_OPT_INT, "10", heartbeat_s,
            "heartbeat_interval_secs told to data planes (>= 1)"),
    HUB_OPT("register-timeout-s", CM_OPT_INT, "10", register_timeout_s,
            "seconds a socket has to register (1-29: the data plane waits 30 s for an answer)"),
    HUB_OPT("max-sessions", CM_OPT_INT, "20000", max_sessions, "WebSocket sessions in all"),
    HUB_OPT("max-unauthenticated", CM_OPT_INT, "1000", max_unauth,
            "sessions not registered yet"),
    HUB_OPT("max-message-bytes", CM_OPT_INT, "65536", max_message,
            "largest message accepted from a data plane"),
    HUB_OPT("outbound-queue", CM_OPT_INT, "64", outbound_queue,
            "messages queued per session before a slow reader is dropped"),
    HUB_OPT("offline-ttl-s", CM_OPT_INT, "86400", offline_ttl_s,
            "nameless data-plane rows are removed after this long offline"),
    HUB_OPT("reap-interval-s", CM_OPT_INT, "5", reap_interval_s,
            "how often the reaper runs and this hub's row is refreshed"),
    HUB_OPT("hub-dead-after-s", CM_OPT_INT, "15", hub_dead_after_s,
            "a hub not refreshed for this long is dead: its rows go offline"),
    HUB_OPT("token-ttl-s", CM_OPT_INT, "300", token_ttl_s,
            "lifetime of the signed token in download_url"),
};

static int s_range(const char *name, long v, long lo, long hi)
{
    if (v >= lo && v <= hi)
        return 0;
    fprintf(stderr, "barbacane-hub: --%s must be between %ld and %ld (got %ld)\n", name, lo, hi,
            v);
    return -1;
}

static int s_validate(const hub_config_t *c)
{
    int rc = s_range("ws-port", c->ws_port, 1, 65535)
             | s_range("heartbeat-interval-s", c->heartbeat_s, 1, 3600)
             | s_range("register-timeout-s", c->register_timeout_s, 1, 29)
             | s_range("max-sessions", c->max_sessions, 1, 1000000)
             | s_range("max-unauthenticated", c->max_unauth, 1, c->max_sessions)
             | s_range("max-message-bytes", c->max_message, 1024, 1048576)
             | s_range("outbound-queue", c->outbound_queue, 2, 10000)
             | s_range("offline-ttl-s", c->offline_ttl_s, 1, 31536000)
             | s_range("reap-interval-s", c->reap_interval_s, 1, 3600)
             | s_range("hub-dead-after-s", c->hub_dead_after_s, c->reap_interval_s + 1, 86400)
             | s_range("token-ttl-s", c->token_ttl_s, 10, 86400);
    const char *b = c->download_base;
    if (*b && (strlen(b) > 512 || (strncmp(b, "http://", 7) && strncmp(b, "https://", 8)))) {
        fprintf(stderr, "barbacane-hub: --download-base must be empty or an http(s) URL of at "
                        "most 512 bytes\n");
        rc = -1;
    }
    return rc ? -1 : 0;
}

/* Sessions are file descriptors: raise the soft limit for them and say when it is short. */
static void s_raise_nofile(const hub_config_t *c)
{
    uint64_t want = (uint64_t) c->max_sessions + 64, got = cm_fd_limit_raise(want);
    if (got < want)
        cm_warn("the file descriptor limit (%llu) is below --max-sessions + 64; sessions past it "
                "are refused", (unsigned long long) got);
}

static void *s_signals(void *arg)
{
    sigset_t set;
    int sig = 0;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (sigwait(&set, &sig) == 0)
        hub_server_stop(arg);
    return NULL;
}

/* Blocks SIGINT/SIGTERM in every thread (the mask is inherited), so only sigwait sees them. */
static void s_block_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    zsys_handler_set(NULL);
}

static int s_serve(const hub_config_t *c, pr_service_base_t *base)
{
    char hub_id[CM_UUID_LEN + 1];
    if (cm_uuid_v4(hub_id) != 0)
        return 1;
    hub_server_t *srv = hub_server_new(c, base->secret, hub_id);
    hub_worker_args_t wa = { .cfg = c, .mesh = base->mesh, .hub_id = hub_id };
    hub_worker_t *w = NULL;
    if (srv) {
        wa.to_lws = hub_server_inbox(srv);
        wa.flush_busy = hub_server_flush_flag(srv);
        w = hub_worker_new(&wa, &base->db);
    }
    hub_keys_t *keys = w ? hub_worker_load_keys(w) : NULL;
    pthread_t sig;
    if (!w || hub_worker_start(w) != 0 || pthread_create(&sig, NULL, s_signals, srv) != 0) {
        hub_keys_destroy(&keys);
        hub_worker_destroy(&w);
        hub_server_destroy(&srv);
        return 1;
    }
    hub_server_attach(srv, hub_worker_inbox(w), &keys);
    hub_server_run(srv);
    cm_info("shutting down");
    pthread_kill(sig, SIGTERM);   /* a no-op stop when a signal already ended the run */
    pthread_join(sig, NULL);
    hub_server_close(srv);        /* the last sessions report CLOSED to the worker ... */
    hub_worker_destroy(&w);       /* ... which writes them, then marks this hub gone */
    hub_server_destroy(&srv);
    return 0;
}

int main(int argc, char **argv)
{
    hub_config_t c;
    memset(&c, 0, sizeof c);
    int rc = cm_config_parse(s_opts, sizeof s_opts / sizeof s_opts[0], &c, argc, argv,
                             "data-plane hub of the Barbacane control plane");
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (s_validate(&c) != 0)
        return 2;
    cm_log_init("hub", c.svc.instance, c.svc.log_level);
    s_block_signals();
    s_raise_nofile(&c);
    pr_service_base_t base;
    if (pr_service_base_init(&c.svc, PR_ROLE_HUB, &base) != 0)
        return 1;
    rc = s_serve(&c, &base);
    pr_service_base_fini(&base);
    return rc;
}
