/* barbacane-gateway: configuration, signals, the event proxy, and the one event loop that
 * drives the HTTP daemon and the broker. Owns the lifetime of all of them. */
#include "gw_front.h"
#include "gw_http.h"
#include "cm_config.h"
#include "cm_log.h"
#include "cm_util.h"
#include "pr_mdp.h"
#include <czmq.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <stddef.h>

typedef struct {
    const char *http_bind, *broker_bind, *broker, *events_in_bind, *events_out_bind;
    const char *admin_token, *admin_token_file, *instance, *log_level;
    long http_port, http_idle_timeout_s, http_max_connections, http_max_per_ip, request_timeout_ms, heartbeat_ms, liveness;
    long max_json_body, max_spec_body, max_plugin_body;
    bool insecure_dev;
} gw_config_t;

#define O(name, type, def, field, help) { name, type, def, offsetof(gw_config_t, field), help, NULL }
static const cm_opt_t s_opts[] = {
    O("http-bind", CM_OPT_STR, "127.0.0.1", http_bind, "IPv4 address the HTTP API listens on"),
    O("http-port", CM_OPT_INT, "9090", http_port, "HTTP port"),
    O("http-idle-timeout-s", CM_OPT_INT, "30", http_idle_timeout_s,
      "close a connection idle or stalled mid-request this long"),
    O("http-max-connections", CM_OPT_INT, "4096", http_max_connections, "open HTTP connections at most"),
    O("http-max-per-ip", CM_OPT_INT, "512", http_max_per_ip, "open HTTP connections per client address"),
    O("broker-bind", CM_OPT_STR, "tcp://127.0.0.1:5555", broker_bind,
      "broker endpoint workers connect to (\"\" = no embedded broker)"),
    O("broker", CM_OPT_STR, "", broker, "external broker to use when broker-bind is \"\""),
    O("events-in-bind", CM_OPT_STR, "tcp://127.0.0.1:5556", events_in_bind,
      "event proxy XSUB endpoint (publishers connect) (\"\" = no proxy)"),
    O("events-out-bind", CM_OPT_STR, "tcp://127.0.0.1:5557", events_out_bind,
      "event proxy XPUB endpoint (subscribers connect)"),
    O("admin-token", CM_OPT_STR, "", admin_token, "admin bearer token(s), comma-separated"),
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

/* Adds each comma/newline-separated token of text as a SHA-256 hash. */
static void s_add_tokens(const char *text, unsigned char (**hashes)[32], size_t *n)
{
    char *copy = strdup(text), *save = NULL;
    for (char *t = strtok_r(copy, ",\n\r", &save); t; t = strtok_r(NULL, ",\n\r", &save)) {
        cm_trim(t);
        if (!*t)
            continue;
        *hashes = realloc(*hashes, (*n + 1) * sizeof **hashes);
        cm_sha256(t, strlen(t), (*hashes)[(*n)++]);
    }
    free(copy);
}

static int s_load_tokens(const gw_config_t *c, gw_http_args_t *h)
{
    s_add_tokens(c->admin_token, &h->token_hashes, &h->ntokens);
    if (*c->admin_token_file) {
        char *text = NULL;
        zfile_t *f = zfile_new(NULL, c->admin_token_file);
        zchunk_t *chunk = f && zfile_input(f) == 0 ? zfile_read(f, 65536, 0) : NULL;
        if (chunk)
            text = zchunk_strdup(chunk);
        zchunk_destroy(&chunk);
        zfile_destroy(&f);
        if (!text) {
            cm_error("cannot read admin token file %s", c->admin_token_file);
            return -1;
        }
        s_add_tokens(text, &h->token_hashes, &h->ntokens);
        free(text);
    }
    if (h->ntokens > 0)
        return 0;
    if (c->insecure_dev && strncmp(c->http_bind, "127.", 4) == 0) {
        cm_warn("no admin token: every caller is admin (insecure-dev, loopback only)");
        h->insecure_dev = true;
        return 0;
    }
    cm_error("an admin token is required (--admin-token-file or BARBACANE_ADMIN_TOKEN)");
    return -1;
}

static zactor_t *s_start_proxy(const gw_config_t *c)
{
    if (!*c->events_in_bind)
        return NULL;
    zactor_t *proxy = zactor_new(zproxy, NULL);
    zstr_sendx(proxy, "FRONTEND", "XSUB", c->events_in_bind, NULL);
    zsock_wait(proxy);
    zstr_sendx(proxy, "BACKEND", "XPUB", c->events_out_bind, NULL);
    zsock_wait(proxy);
    cm_info("event proxy at %s -> %s", c->events_in_bind, c->events_out_bind);
    return proxy;
}

/* The one event loop: broker (or DEALER), HTTP and signals, until SIGINT/SIGTERM. */
static void s_loop(gw_front_t *front, gw_http_t *http, int sigfd)
{
    for (;;) {
        zmq_pollitem_t items[] = { { zsock_resolve(gw_front_socket(front)), 0, ZMQ_POLLIN, 0 },
                                   { NULL, gw_http_fd(http), ZMQ_POLLIN, 0 },
                                   { NULL, sigfd, ZMQ_POLLIN, 0 } };
        long wait = gw_http_timeout_ms(http);
        if (wait < 0 || wait > 100)
            wait = 100;
        if (zmq_poll(items, 3, wait) < 0 && zmq_errno() != EINTR)
            break;
        if (items[2].revents & ZMQ_POLLIN) {
            struct signalfd_siginfo si;
            if (read(sigfd, &si, sizeof si) == (ssize_t) sizeof si)
                cm_info("signal %u: shutting down", si.ssi_signo);
            break;
        }
        gw_front_process(front);   /* replies -> resumed connections */
        gw_http_run(http);         /* new requests -> submits; resumed -> responses */
        gw_front_process(front);   /* answers the submits produced at once (no worker) */
    }
}

int main(int argc, char **argv)
{
    gw_config_t c;
    int rc = cm_config_parse(s_opts, sizeof s_opts / sizeof s_opts[0], &c, argc, argv,
                             "HTTP front, broker and event proxy of the Barbacane control plane");
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    cm_log_init("gateway", c.instance, c.log_level);
    /* Threads (the event proxy) inherit this mask; the loop reads signals from a signalfd. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    zsys_handler_set(NULL);
    zsys_init();

    gw_http_args_t h = { .bind = c.http_bind, .port = (int) c.http_port,
                         .max_json = c.max_json_body,
                         .idle_timeout_s = (int) c.http_idle_timeout_s,
                         .max_connections = (int) c.http_max_connections,
                         .max_per_ip = (int) c.http_max_per_ip,
                         .max_spec = c.max_spec_body, .max_plugin = c.max_plugin_body,
                         .timeout_ms = (int) c.request_timeout_ms };
    if (s_load_tokens(&c, &h) != 0)
        return 2;
    if (!*c.broker_bind && !*c.broker) {
        cm_error("either --broker-bind or --broker is needed");
        return 2;
    }
    int sigfd = signalfd(-1, &set, SFD_CLOEXEC);
    zactor_t *proxy = s_start_proxy(&c);
    gw_front_t *front = gw_front_new(c.broker_bind, c.broker, (int) c.heartbeat_ms,
                                     (int) c.liveness, 2000);
    gw_http_t *http = front ? gw_http_new(&h, front) : NULL;
    rc = http && sigfd >= 0 ? 0 : 1;
    if (rc == 0) {
        cm_info("listening on http://%s:%ld (version %s)", c.http_bind, c.http_port, BB_VERSION);
        s_loop(front, http, sigfd);
    }
    gw_http_quiesce(http);
    gw_front_destroy(&front);   /* answers what is pending, resuming those connections */
    if (http)
        gw_http_run(http);      /* writes those answers before the daemon stops */
    gw_http_destroy(&http);
    zactor_destroy(&proxy);
    if (sigfd >= 0)
        close(sigfd);
    free(h.token_hashes);
    return rc;
}
