/* barbacane-agent's engine: N data-plane sessions in one libwebsockets client context (one
 * service thread), their reconnect backoff, the checker thread and the JSON-lines output.
 * Owns: an ag_agent_t, its lws context, sessions, downloads, worker and work directory. */
#ifndef AG_AGENT_H
#define AG_AGENT_H
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *url;            /* ws://host:port/ws/data-plane (or wss://) */
    const char *project_id;     /* a UUID */
    const char *api_key;
    const char *name;           /* "" = nameless (register without a name) */
    const char *metadata;       /* JSON object text; "" = the default */
    const char *work_dir;       /* "" = a temporary directory removed at exit */
    const char *events;         /* "all", "session", "summary"; "" = by session count */
    const char *ca_file;        /* PEM CA bundle for wss/https; "" = the system's */
    bool bearer;                /* also send Authorization: Bearer <key> on the upgrade */
    bool no_download;           /* report artifact_available, download nothing */
    long sessions;              /* data planes held by this process */
    long max_pending;           /* sessions connecting or awaiting registered at once */
    long reconnect_min_ms, reconnect_max_ms;
    long register_timeout_ms;   /* connect + upgrade + first frame (the data plane waits 30 s) */
    long exit_after_ms;         /* 0 = run until a signal */
    long download_timeout_ms;
    long max_download_bytes;
} ag_config_t;

typedef struct ag_agent ag_agent_t;

/* Validates cfg (copied; strings borrowed for the agent's life) and builds the agent: lws
 * context, sessions, worker, work directory. Caller owns the result; NULL with a reason in
 * err. */
ag_agent_t *ag_agent_new(const ag_config_t *cfg, char *err, size_t errlen);
/* Runs the service loop until ag_agent_stop or --exit-after-ms, then closes every session
 * cleanly (bounded wait). 0, or -1 when the loop failed. */
int ag_agent_run(ag_agent_t *self);
/* Asks the loop to end. Async-signal-safe (a flag and lws_cancel_service). */
void ag_agent_stop(ag_agent_t *self);
/* Destroys everything, removes the temporary work directory. Idempotent. */
void ag_agent_destroy(ag_agent_t **self_p);

#endif
