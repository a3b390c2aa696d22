/* The service kit, the process: a handler table checked against the route table at start-up,
 * the one serve path (decode the envelope, honour Idempotency-Key on mutations, dispatch, roll
 * back what a handler left open, encode the reply) and the loop that polls the worker next to
 * the service's own sockets and timers. Used by registry-svc and compiler-svc. */
#ifndef PR_SERVICE_H
#define PR_SERVICE_H
#include <czmq.h>
#include <stddef.h>
#include "cm_config.h"
#include "cm_db.h"
#include "pr_mesh.h"
#include "pr_out.h"
#include "pr_worker.h"

/* The configuration every service process shares; a service's own config struct embeds it
 * and its option table starts with PR_SERVICE_OPTIONS(its type, the member's name), or
 * PR_SERVICE_BASE_OPTIONS for a service that is not a worker. */
typedef struct {
    const char *database_url, *broker, *events, *events_out;
    const char *mesh_keys, *mesh_key_name, *secret_file, *instance, *log_level;
    long heartbeat_ms, liveness, db_wait_ms, credit;
    bool insecure_mesh, migrate_only;
} pr_service_config_t;

#define PR_SVC_OPT(T, m, name, type, def, field, help, alt) \
    { name, type, def, offsetof(T, m.field), help, alt }
/* What every service process takes (the hub too: it has no worker). */
#define PR_SERVICE_BASE_OPTIONS(T, m)                                                             \
    PR_SVC_OPT(T, m, "database-url", CM_OPT_STR, "", database_url, "PostgreSQL conninfo or URL",   \
               "DATABASE_URL"),                                                                   \
    PR_SVC_OPT(T, m, "events-out", CM_OPT_STR, "tcp://127.0.0.1:5557", events_out,                \
               "event proxy endpoint subscribers connect to (XPUB)", NULL),                       \
    PR_SVC_OPT(T, m, "mesh-keys", CM_OPT_STR, "", mesh_keys,                                      \
               "directory with this process's key pair and the gateway's public key", NULL),      \
    PR_SVC_OPT(T, m, "mesh-key-name", CM_OPT_STR, "", mesh_key_name,                              \
               "the key pair to use (default: the service's role name)", NULL),                   \
    PR_SVC_OPT(T, m, "insecure-mesh", CM_OPT_BOOL, "false", insecure_mesh,                        \
               "plain ZeroMQ sockets without keys (loopback development only)", NULL),            \
    PR_SVC_OPT(T, m, "service-secret-file", CM_OPT_STR, "", secret_file,                          \
               "file with the secret the services share (>= 32 bytes, mode 0600)", NULL),         \
    PR_SVC_OPT(T, m, "db-wait-ms", CM_OPT_INT, "30000", db_wait_ms,                               \
               "how long to retry the first database connection", NULL),                          \
    PR_SVC_OPT(T, m, "instance", CM_OPT_STR, "", instance, "instance name in logs", NULL),        \
    PR_SVC_OPT(T, m, "log-level", CM_OPT_STR, "info", log_level, "debug, info, warn or error",    \
               NULL)
/* What a brokered service (a worker) takes besides. */
#define PR_SERVICE_WORKER_OPTIONS(T, m)                                                           \
    PR_SVC_OPT(T, m, "broker", CM_OPT_STR, "tcp://127.0.0.1:5555", broker, "broker endpoint",      \
               NULL),                                                                             \
    PR_SVC_OPT(T, m, "events", CM_OPT_STR, "tcp://127.0.0.1:5556", events,                        \
               "event proxy endpoint publishers connect to (XSUB)", NULL),                        \
    PR_SVC_OPT(T, m, "heartbeat-ms", CM_OPT_INT, "1000", heartbeat_ms, "heartbeat interval", NULL),\
    PR_SVC_OPT(T, m, "liveness", CM_OPT_INT, "3", liveness,                                       \
               "missed heartbeats before reconnecting", NULL),                                    \
    PR_SVC_OPT(T, m, "credit", CM_OPT_INT, "8", credit,                                           \
               "requests the broker may queue at this worker", NULL),                             \
    PR_SVC_OPT(T, m, "migrate-only", CM_OPT_BOOL, "false", migrate_only,                          \
               "apply migrations and exit", NULL)
#define PR_SERVICE_OPTIONS(T, m) PR_SERVICE_BASE_OPTIONS(T, m), PR_SERVICE_WORKER_OPTIONS(T, m)

/* What a service process starts with: its mesh keys, the shared secret and the database,
 * migrated. Each step logs its failure. */
typedef struct {
    pr_mesh_t *mesh;
    unsigned char secret[32];
    cm_db_t *db;
} pr_service_base_t;

/* Loads keys and secret, connects and migrates; -1 on failure (logged); 1 when migrate-only
 * asked to stop after migrating. */
int pr_service_base_init(const pr_service_config_t *c, pr_role_t role, pr_service_base_t *b);
void pr_service_base_fini(pr_service_base_t *b);

typedef void (pr_handler_fn)(void *ctx, const pr_request_t *req, pr_out_t *out);

typedef struct {
    const char *op;
    pr_handler_fn *fn;
} pr_handler_t;

typedef struct {
    const char *service;              /* the route table's name for it: "registry" ... */
    const pr_handler_t *handlers;
    size_t nhandlers;
    void *ctx;                        /* passed to every handler */
    cm_db_t *db;                      /* rolled back after each handler; idempotency store */
    const unsigned char *idem_secret; /* 32 bytes; NULL: Idempotency-Key is not honoured */
    pr_worker_args_t worker;
} pr_service_args_t;

typedef struct pr_service pr_service_t;
typedef void (pr_service_fn)(void *arg);

/* 0 when every route of service has a handler and every handler a route of service; else -1
 * with the first mismatch named in err. */
int pr_service_check(const char *service, const pr_handler_t *handlers, size_t n, char *err,
                     size_t errlen);
/* Checks the table and starts the worker. Caller owns the result; NULL with err filled. */
pr_service_t *pr_service_new(const pr_service_args_t *args, char *err, size_t errlen);
void pr_service_destroy(pr_service_t **self_p);
/* Calls fn whenever sock is readable (at most 8 sockets). 0 or -1. */
int pr_service_add_socket(pr_service_t *self, zsock_t *sock, pr_service_fn *fn, void *arg);
/* Calls fn every interval_ms, the first time after one interval (at most 8 timers). 0 or -1. */
int pr_service_every(pr_service_t *self, int interval_ms, pr_service_fn *fn, void *arg);
/* Runs until SIGINT/SIGTERM. */
void pr_service_run(pr_service_t *self);

#endif
