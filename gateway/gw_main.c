/* barbacane-gateway: configuration, signals, the mesh (ZAP handler, broker, event proxy), and
 * the one event loop that drives them and the HTTP daemon. Owns the lifetime of all of them. */
#include "gw_events.h"
#include "gw_front.h"
#include "gw_http.h"
#include "gw_loop.h"
#include "gw_tokens.h"
#include "gw_zap.h"
#include "cm_config.h"
#include "cm_log.h"
#include "cm_util.h"
#include "pr_mdp.h"
#include "pr_mesh.h"
#include <czmq.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <stddef.h>

typedef struct {
    const char *http_bind, *broker_bind, *broker, *events_in_bind, *events_out_bind;
    const char *admin_token, *admin_token_file, *instance, *log_level;
    const char *mesh_keys, *mesh_key_name, *tls_cert, *tls_key, *hubs;
    long http_port, http_idle_timeout_s, http_header_timeout_s, http_body_timeout_s;
    long http_max_connections, http_max_per_ip, http_conn_rate, auth_failures_per_min;
    long request_timeout_ms, heartbeat_ms, liveness;
    long ws_buffer, ws_handshake_ms, max_splices;
    long max_json_body, max_spec_body, max_plugin_body;
    bool insecure_dev, insecure_mesh;
} gw_config_t;

#define O(name, type, def, field, help) { name, type, def, offsetof(gw_config_t, field), help, NULL }
static const cm_opt_t s_opts[] = {
    O("http-bind", CM_OPT_STR, "127.0.0.1", http_bind, "IPv4 address the HTTP API listens on"),
    O("http-port", CM_OPT_INT, "9090", http_port, "HTTP port"),
    O("tls-cert", CM_OPT_STR, "", tls_cert, "PEM certificate (chain): serve HTTPS"),
    O("tls-key", CM_OPT_STR, "", tls_key, "PEM private key of --tls-cert"),
    O("http-idle-timeout-s", CM_OPT_INT, "30", http_idle_timeout_s,
      "close a connection on which no byte moved this long"),
    O("http-header-timeout-s", CM_OPT_INT, "20", http_header_timeout_s,
      "a request's headers must be complete this long after the connection opened or the "
      "previous response"),
    O("http-body-timeout-s", CM_OPT_INT, "300", http_body_timeout_s,
      "a request's body must be complete this long after its headers"),
    O("http-max-connections", CM_OPT_INT, "4096", http_max_connections, "open HTTP connections at most"),
    O("http-max-per-ip", CM_OPT_INT, "512", http_max_per_ip, "open HTTP connections per client address"),
    O("http-conn-rate", CM_OPT_INT, "200", http_conn_rate,
      "new HTTP connections per second per client address (0 = unlimited)"),
    O("auth-failures-per-min", CM_OPT_INT, "30", auth_failures_per_min,
      "failed admin authentications per minute per client address before 429 (0 = unlimited)"),
    O("broker-bind", CM_OPT_STR, "tcp://127.0.0.1:5555", broker_bind,
      "broker endpoint workers connect to (\"\" = no embedded broker)"),
    O("broker", CM_OPT_STR, "", broker, "external broker to use when broker-bind is \"\""),
    O("events-in-bind", CM_OPT_STR, "tcp://127.0.0.1:5556", events_in_bind,
      "event proxy XSUB endpoint (publishers connect) (\"\" = no proxy)"),
    O("events-out-bind", CM_OPT_STR, "tcp://127.0.0.1:5557", events_out_bind,
      "event proxy XPUB endpoint (subscribers connect)"),
    O("hubs", CM_OPT_STR, "", hubs,
      "data-plane hubs (host:port,...) that GET /ws/data-plane upgrades are spliced to"),
    O("ws-buffer", CM_OPT_INT, "65536", ws_buffer,
      "bytes a splice holds per direction before it stops reading the sender"),
    O("ws-handshake-ms", CM_OPT_INT, "5000", ws_handshake_ms,
      "a hub must answer an upgrade within this (then 504)"),
    O("max-splices", CM_OPT_INT, "20000", max_splices, "spliced WebSocket connections at most"),
    O("mesh-keys", CM_OPT_STR, "", mesh_keys,
      "directory of the mesh's CURVE keys (zcert files; see barbacane-keygen)"),
    O("mesh-key-name", CM_OPT_STR, "front", mesh_key_name,
      "with --broker: the key pair (in mesh-keys) this front authenticates with"),
    O("insecure-mesh", CM_OPT_BOOL, "false", insecure_mesh,
      "plain ZeroMQ sockets without keys (only with every bind on loopback)"),
    O("admin-token", CM_OPT_STR, "", admin_token, "admin bearer token(s), one per line"),
    O("admin-token-file", CM_OPT_STR, "", admin_token_file, "file holding the admin token(s), one per line"),
    O("insecure-dev", CM_OPT_BOOL, "false", insecure_dev,
      "no admin token: accept every caller (only with a loopback http-bind)"),
    O("request-timeout-ms", CM_OPT_INT, "30000", request_timeout_ms, "deadline of one request"),
    O("heartbeat-ms", CM_OPT_INT, "1000", heartbeat_ms, "broker/worker heartbeat interval"),
    O("liveness", CM_OPT_INT, "3", liveness, "missed heartbeats before a worker is dropped"),
    O("max-json-body", CM_OPT_INT, "1048576", max_json_body, "JSON body limit (bytes)"),
    O("max-spec-body", CM_OPT_INT, "33554432", max_spec_body, "spec upload limit (bytes)"),
    O("max-plugin-body", CM_OPT_INT, "67108864", max_plugin_body, "plugin upload limit (bytes)"),
    O("instance", CM_OPT_STR, "", instance, "instance name in logs"),
    O("log-level", CM_OPT_STR, "info", log_level, "debug, info, warn or error"),
};
#undef O

typedef struct {
    const gw_config_t *c;
    gw_loop_t *loop;
    gw_zap_t *zap;            /* NULL on an insecure mesh or a front without a broker */
    pr_mesh_t *mesh;          /* server keys: the embedded broker and the event proxy */
    pr_mesh_t *front_mesh;    /* client keys of a front on an external broker */
    gw_front_t *front;
    gw_events_t *events;
    gw_http_t *http;
    gw_splice_t *splice;
    gw_tokens_t *tokens;
    int sigfd;
    bool stop;
} gw_main_t;

/* ---- configuration checks ------------------------------------------------------------ */

static bool s_http_local(const char *bind)
{
    return strncmp(bind, "127.", 4) == 0;
}

/* An insecure mesh (or an open admin API) is for a developer's machine: every bind local. */
static int s_check_insecure(const gw_config_t *c)
{
    const char *binds[] = { c->broker_bind, c->events_in_bind, c->events_out_bind };
    if (c->insecure_mesh) {
        for (size_t i = 0; i < 3; i++)
            if (*binds[i] && !pr_endpoint_is_local(binds[i])) {
                cm_error("--insecure-mesh refuses to bind %s: only loopback endpoints", binds[i]);
                return -1;
            }
        if (!s_http_local(c->http_bind)) {
            cm_error("--insecure-mesh refuses to serve HTTP on %s: only 127.x", c->http_bind);
            return -1;
        }
    }
    if (!*c->broker_bind && !*c->broker) {
        cm_error("either --broker-bind or --broker is needed");
        return -1;
    }
    return 0;
}

static int s_load_tokens(gw_main_t *g, gw_http_args_t *h)
{
    const gw_config_t *c = g->c;
    char err[256];
    if (!*c->admin_token && !*c->admin_token_file && c->insecure_dev) {
        if (!s_http_local(c->http_bind)) {
            cm_error("--insecure-dev needs a loopback --http-bind");
            return -1;
        }
        cm_warn("no admin token: every caller is admin (insecure-dev, loopback only)");
        h->insecure_dev = true;
        return 0;
    }
    if (!(g->tokens = gw_tokens_load(c->admin_token, c->admin_token_file, err, sizeof err))) {
        cm_error("%s", err);
        return -1;
    }
    return 0;
}

/* ---- the mesh ------------------------------------------------------------------------ */

static int s_start_mesh(gw_main_t *g)
{
    const gw_config_t *c = g->c;
    char err[256] = "";
    bool serves = *c->broker_bind || *c->events_in_bind;
    if (serves && !(g->mesh = pr_mesh_server_new(c->mesh_keys, c->insecure_mesh, err,
                                                 sizeof err))) {
        cm_error("%s", err);
        return -1;
    }
    if (!*c->broker_bind && !(g->front_mesh = pr_mesh_client_new(c->mesh_keys, PR_ROLE_FRONT,
                                                                 c->mesh_key_name,
                                                                 c->insecure_mesh, err,
                                                                 sizeof err))) {
        cm_error("%s", err);
        return -1;
    }
    if (!c->insecure_mesh && serves && !(g->zap = gw_zap_new(c->mesh_keys)))
        return -1;
    return 0;
}

static void s_on_zap(void *arg)
{
    gw_zap_drain(arg);
}

static void s_on_events_in(void *arg)
{
    gw_events_drain_in(arg);
}

static void s_on_events_out(void *arg)
{
    gw_events_drain_out(arg);
}

static void s_on_front(void *arg)
{
    gw_front_process(arg);
}

static void s_on_http(void *arg, uint32_t events)
{
    (void) events;
    gw_http_run(arg);
}

static void s_reload(gw_main_t *g)
{
    cm_info("SIGHUP: reloading mesh keys and admin tokens");
    if (g->zap)
        gw_zap_reload(g->zap);
    if (!g->tokens)
        return;
    char err[256];
    gw_tokens_t *fresh = gw_tokens_load(g->c->admin_token, g->c->admin_token_file, err,
                                        sizeof err);
    if (!fresh) {
        cm_error("admin tokens not reloaded (the old ones stay): %s", err);
        return;
    }
    gw_http_set_tokens(g->http, fresh);
    gw_tokens_destroy(&g->tokens);
    g->tokens = fresh;
    cm_info("%zu admin token(s) loaded", gw_tokens_count(fresh));
}

static void s_on_signal(void *arg, uint32_t events)
{
    gw_main_t *g = arg;
    (void) events;
    struct signalfd_siginfo si;
    if (read(g->sigfd, &si, sizeof si) != (ssize_t) sizeof si)
        return;
    if (si.ssi_signo == SIGHUP) {
        s_reload(g);
        return;
    }
    cm_info("signal %u: shutting down", si.ssi_signo);
    g->stop = true;
}

static void s_metrics(void *arg, char *out, size_t cap)
{
    gw_main_t *g = arg;
    gw_broker_t *b = gw_front_broker(g->front);
    snprintf(out, cap,
             "# TYPE barbacane_mesh_refused_total counter\n"
             "barbacane_mesh_refused_total{what=\"handshake\"} %lu\n"
             "barbacane_mesh_refused_total{what=\"broker-message\"} %lu\n"
             "barbacane_mesh_refused_total{what=\"event\"} %lu\n"
             "# TYPE barbacane_mesh_allowed_keys gauge\n"
             "barbacane_mesh_allowed_keys %zu\n"
             "# TYPE barbacane_ws_splices gauge\n"
             "barbacane_ws_splices %zu\n",
             g->zap ? gw_zap_refused(g->zap) : 0, b ? gw_broker_refused(b) : 0,
             g->events ? gw_events_refused(g->events) : 0, g->zap ? gw_zap_keys(g->zap) : 0,
             gw_splice_count(g->splice));
}

/* ---- the loop ------------------------------------------------------------------------ */

static int s_wire(gw_main_t *g)
{
    gw_loop_t *l = g->loop;
    int rc = 0;
    if (g->zap)
        rc |= gw_loop_add_socket(l, gw_zap_socket(g->zap), s_on_zap, g->zap);
    rc |= gw_loop_add_socket(l, gw_front_socket(g->front), s_on_front, g->front);
    if (g->events) {
        rc |= gw_loop_add_socket(l, gw_events_in(g->events), s_on_events_in, g->events);
        rc |= gw_loop_add_socket(l, gw_events_out(g->events), s_on_events_out, g->events);
    }
    rc |= gw_loop_add_fd(l, gw_http_fd(g->http), EPOLLIN, s_on_http, g->http);
    rc |= gw_loop_add_fd(l, g->sigfd, EPOLLIN, s_on_signal, g);
    return rc;
}

static void s_loop(gw_main_t *g)
{
    int64_t next_tick = 0;
    while (!g->stop) {
        long wait = gw_http_timeout_ms(g->http);
        if (wait < 0 || wait > 100)
            wait = 100;
        if (gw_loop_wait(g->loop, wait) < 0)
            break;
        /* replies arrived in the dispatch (s_on_front) and resumed their connections */
        gw_http_run(g->http);         /* new requests -> submits; resumed -> responses */
        gw_front_process(g->front);   /* answers the submits produced at once (no worker); timers */
        int64_t now = cm_mono_ms();
        if (now >= next_tick) {
            gw_http_tick(g->http);
            gw_splice_tick(g->splice);
            next_tick = now + 250;
        }
    }
}

static gw_http_args_t s_http_args(const gw_config_t *c)
{
    return (gw_http_args_t) {
        .bind = c->http_bind, .port = (int) c->http_port, .max_json = c->max_json_body,
        .max_spec = c->max_spec_body, .max_plugin = c->max_plugin_body,
        .timeout_ms = (int) c->request_timeout_ms,
        .idle_timeout_s = (int) c->http_idle_timeout_s,
        .header_timeout_s = (int) c->http_header_timeout_s,
        .body_timeout_s = (int) c->http_body_timeout_s,
        .max_connections = (int) c->http_max_connections, .max_per_ip = (int) c->http_max_per_ip,
        .conn_rate_per_ip = (int) c->http_conn_rate,
        .auth_failures_per_min = (int) c->auth_failures_per_min,
        .tls_cert = c->tls_cert, .tls_key = c->tls_key };
}

static int s_start(gw_main_t *g, sigset_t *set)
{
    const gw_config_t *c = g->c;
    gw_http_args_t h = s_http_args(c);
    if (s_check_insecure(c) != 0 || s_load_tokens(g, &h) != 0 || s_start_mesh(g) != 0)
        return 2;
    g->sigfd = signalfd(-1, set, SFD_CLOEXEC);
    g->loop = gw_loop_new();
    gw_broker_role_fn *roles = g->zap ? gw_zap_role : NULL;
    if (*c->events_in_bind)
        g->events = gw_events_new(c->events_in_bind, c->events_out_bind, g->mesh, roles, g->zap);
    gw_front_args_t fa = { .broker_bind = c->broker_bind, .broker_endpoint = c->broker,
                           .mesh = *c->broker_bind ? g->mesh : g->front_mesh,
                           .role_of = roles, .role_arg = g->zap,
                           .heartbeat_ms = (int) c->heartbeat_ms, .liveness = (int) c->liveness,
                           .grace_ms = 2000 };
    if (!g->loop || g->sigfd < 0 || (*c->events_in_bind && !g->events)
        || !(g->front = gw_front_new(&fa)) || !(g->http = gw_http_new(&h, g->front, g->tokens)))
        return 1;
    gw_http_set_metrics(g->http, s_metrics, g);
    gw_splice_args_t sa = { .hubs = c->hubs, .buffer_max = (size_t) c->ws_buffer,
                            .handshake_ms = (int) c->ws_handshake_ms,
                            .max_splices = (int) c->max_splices };
    if (!(g->splice = gw_splice_new(g->loop, &sa)))
        return 2;
    gw_http_set_splice(g->http, g->splice);
    return s_wire(g) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    gw_config_t c;
    int rc = cm_config_parse(s_opts, sizeof s_opts / sizeof s_opts[0], &c, argc, argv,
                             "HTTP front, broker and event proxy of the Barbacane control plane");
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    cm_log_init("gateway", c.instance, c.log_level);
    /* Signals arrive on a signalfd in the loop; MHD's threads (none in this mode) and any
     * library thread inherit the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    zsys_handler_set(NULL);
    zsys_init();

    /* each splice holds two sockets (data plane and hub) next to the HTTP connections */
    uint64_t want = (uint64_t) c.http_max_connections + 2 * (uint64_t) c.max_splices + 256;
    uint64_t fds = cm_fd_limit_raise(want);
    if (fds < want)
        cm_warn("the file descriptor limit (%llu) is below --http-max-connections + "
                "2 x --max-splices + 256 (%llu); connections past it are refused",
                (unsigned long long) fds, (unsigned long long) want);

    gw_main_t g = { .c = &c, .sigfd = -1 };
    rc = s_start(&g, &set);
    if (rc == 0) {
        cm_info("listening on %s://%s:%ld (version %s, mesh %s)",
                *c.tls_cert ? "https" : "http", c.http_bind, c.http_port, BB_VERSION,
                c.insecure_mesh ? "INSECURE (plain, loopback only)" : "CURVE");
        s_loop(&g);
    }
    gw_http_quiesce(g.http);
    gw_splice_close_all(g.splice);   /* answers pending upgrades, closes spliced connections */
    gw_front_destroy(&g.front);   /* answers what is pending, resuming those connections */
    if (g.http)
        gw_http_run(g.http);      /* writes those answers before the daemon stops */
    gw_http_destroy(&g.http);        /* requests release their splices */
    gw_splice_destroy(&g.splice);
    gw_events_destroy(&g.events);
    gw_zap_destroy(&g.zap);
    gw_loop_destroy(&g.loop);
    pr_mesh_destroy(&g.mesh);
    pr_mesh_destroy(&g.front_mesh);
    gw_tokens_destroy(&g.tokens);
    if (g.sigfd >= 0)
        close(g.sigfd);
    return rc;
}
