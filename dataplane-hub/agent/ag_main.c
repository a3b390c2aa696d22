/* barbacane-agent: a data-plane client speaking exactly what the real Barbacane data plane
 * speaks, for tests, demos and benchmarks. Owns the process: flags, signals, limits, logs. */
#include "ag_agent.h"
#include "cm_config.h"
#include "cm_log.h"
#include "cm_util.h"
#include <libwebsockets.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ag_config_t a;
    const char *api_key_file, *log_level, *instance;
} s_config_t;

#define O(name, type, def, field, help) { name, type, def, offsetof(s_config_t, field), help, NULL }
static const cm_opt_t s_opts[] = {
    O("url", CM_OPT_STR, "ws://127.0.0.1:9090/ws/data-plane", a.url,
      "WebSocket URL of the control plane (ws:// or wss://)"),
    O("project-id", CM_OPT_STR, "", a.project_id, "project the data plane belongs to (UUID)"),
    O("api-key", CM_OPT_STR, "", a.api_key, "data-plane API key (bbk_…)"),
    O("api-key-file", CM_OPT_STR, "", api_key_file, "file holding the API key (first line)"),
    O("name", CM_OPT_STR, "", a.name, "data-plane name (\"\" = register without one)"),
    O("metadata", CM_OPT_STR, "", a.metadata,
      "register metadata, a JSON object (\"\" = {\"agent\":\"barbacane-agent\",\"version\":…})"),
    O("bearer", CM_OPT_BOOL, "false", a.bearer,
      "also send Authorization: Bearer <key> on the upgrade (the real data plane does not)"),
    O("work-dir", CM_OPT_STR, "", a.work_dir,
      "where downloaded artifacts go (\"\" = a temporary directory removed at exit)"),
    O("sessions", CM_OPT_INT, "1", a.sessions,
      "data planes held by this process; named <name>-<i> when --name is given"),
    O("max-pending", CM_OPT_INT, "256", a.max_pending,
      "sessions connecting or awaiting registered at once"),
    O("no-download", CM_OPT_BOOL, "false", a.no_download,
      "report artifact_available without downloading (and without answering)"),
    O("reconnect-min-ms", CM_OPT_INT, "1000", a.reconnect_min_ms,
      "first reconnect delay ceiling (jittered, doubling per failed attempt)"),
    O("reconnect-max-ms", CM_OPT_INT, "60000", a.reconnect_max_ms, "largest reconnect delay"),
    O("register-timeout-ms", CM_OPT_INT, "30000", a.register_timeout_ms,
      "connect + upgrade + first frame must take less (the data plane waits 30 s)"),
    O("download-timeout-ms", CM_OPT_INT, "300000", a.download_timeout_ms,
      "an artifact download must finish within this"),
    O("max-download-bytes", CM_OPT_INT, "268435456", a.max_download_bytes,
      "largest artifact downloaded"),
    O("exit-after-ms", CM_OPT_INT, "0", a.exit_after_ms, "stop after this long (0 = never)"),
    O("events", CM_OPT_STR, "", a.events,
      "stdout events: all, session (no heartbeat lines) or summary (\"\" = all for one "
      "session, session for more)"),
    O("ca-file", CM_OPT_STR, "", a.ca_file,
      "PEM CA certificates trusted for wss:// and https:// (\"\" = the system's)"),
    O("instance", CM_OPT_STR, "agent", instance, "instance name in log lines"),
    O("log-level", CM_OPT_STR, "info", log_level, "debug, info, warn or error"),
};

/* The one piece of global state: the agent a signal stops. */
static ag_agent_t *volatile s_agent;

static void s_on_signal(int sig)
{
    (void) sig;
    if (s_agent)
        ag_agent_stop(s_agent);
}

static void s_lws_log(int level, const char *line)
{
    size_t n = strlen(line);
    cm_log(level & LLL_ERR ? CM_LOG_ERROR : CM_LOG_WARN, NULL, "lws: %.*s",
           (int) (n && line[n - 1] == '\n' ? n - 1 : n), line);
}

/* --api-key-file: the first line, trimmed; the buffer lives as long as the process. */
static int s_read_key_file(const char *path, const char **key)
{
    static char buf[1100];
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    *key = cm_trim(buf);
    return **key ? 0 : -1;
}

int main(int argc, char **argv)
{
    s_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    int rc = cm_config_parse(s_opts, sizeof s_opts / sizeof s_opts[0], &cfg, argc, argv,
                             "a data-plane client for tests and benchmarks (JSON lines on "
                             "stdout)");
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    cm_log_init("barbacane-agent", cfg.instance, cfg.log_level);
    lws_set_log_level(strcmp(cfg.log_level, "debug") == 0 ? LLL_ERR | LLL_WARN : LLL_ERR,
                      s_lws_log);
    if (*cfg.api_key_file && s_read_key_file(cfg.api_key_file, &cfg.a.api_key) != 0) {
        fprintf(stderr, "barbacane-agent: cannot read an API key from %s\n", cfg.api_key_file);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    /* each session holds one socket, and one more while it downloads; lws sizes its fd
     * tables by the soft limit, so raise it only that far */
    cm_fd_limit_raise((uint64_t) (cfg.a.sessions > 0 ? cfg.a.sessions : 1) * 2 + 64);
    char err[300] = "";
    ag_agent_t *agent = ag_agent_new(&cfg.a, err, sizeof err);
    if (!agent) {
        fprintf(stderr, "barbacane-agent: %s\n", err);
        return 2;
    }
    s_agent = agent;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    rc = ag_agent_run(agent);
    s_agent = NULL;
    ag_agent_destroy(&agent);
    return rc == 0 ? 0 : 1;
}
