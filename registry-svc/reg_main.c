/* barbacane-registry: a broker worker serving projects, specs, plugins, API keys, init and
 * data-plane views from PostgreSQL. Owns the database connection, the worker and the publisher. */
#include "reg.h"
#include "cm_config.h"
#include "cm_log.h"
#include "cm_util.h"
#include "pr_event.h"
#include "pr_routes.h"
#include "pr_worker.h"
#include <stddef.h>
#include <string.h>

typedef struct {
    const char *database_url, *broker, *events, *instance, *log_level;
    long heartbeat_ms, liveness, db_wait_ms, credit;
    bool migrate_only;
} reg_config_t;

#define O(name, type, def, field, help, alt) { name, type, def, offsetof(reg_config_t, field), help, alt }
static const cm_opt_t s_opts[] = {
    O("database-url", CM_OPT_STR, "", database_url, "PostgreSQL conninfo or URL", "DATABASE_URL"),
    O("broker", CM_OPT_STR, "tcp://127.0.0.1:5555", broker, "broker endpoint", NULL),
    O("events", CM_OPT_STR, "tcp://127.0.0.1:5556", events, "event proxy XSUB endpoint", NULL),
    O("heartbeat-ms", CM_OPT_INT, "1000", heartbeat_ms, "heartbeat interval", NULL),
    O("liveness", CM_OPT_INT, "3", liveness, "missed heartbeats before reconnecting", NULL),
    O("credit", CM_OPT_INT, "8", credit, "requests the broker may queue at this worker", NULL),
    O("db-wait-ms", CM_OPT_INT, "30000", db_wait_ms, "how long to retry the first connection", NULL),
    O("migrate-only", CM_OPT_BOOL, "false", migrate_only, "apply migrations and exit", NULL),
    O("instance", CM_OPT_STR, "", instance, "instance name in logs", NULL),
    O("log-level", CM_OPT_STR, "info", log_level, "debug, info, warn or error", NULL),
};
#undef O

static const struct {
    const char *op;
    reg_handler_fn *fn;
} s_handlers[] = {
    { "health", reg_health },
    { "project.list", reg_project_list },
    { "project.create", reg_project_create },
    { "project.get", reg_project_get },
    { "project.update", reg_project_update },
    { "project.delete", reg_project_delete },
    { "spec.upload", reg_spec_upload },
    { "spec.upload_project", reg_spec_upload },
    { "spec.list", reg_spec_list },
    { "spec.list_project", reg_spec_list },
    { "spec.get", reg_spec_get },
    { "spec.delete", reg_spec_delete },
    { "spec.history", reg_spec_history },
    { "spec.content", reg_spec_content },
    { "plugin.register", reg_plugin_register },
    { "plugin.list", reg_plugin_list },
    { "plugin.versions", reg_plugin_versions },
    { "plugin.get", reg_plugin_get },
    { "plugin.delete", reg_plugin_delete },
    { "plugin.download", reg_plugin_download },
    { "apikey.create", reg_apikey_create },
    { "apikey.list", reg_apikey_list },
    { "apikey.revoke", reg_apikey_revoke },
    { "apikey.rotate", reg_apikey_rotate },
    { "init.generate", reg_init_generate },
};

/* Mutations honour Idempotency-Key. */
static bool s_mutation(const char *op)
{
    const pr_route_t *r = pr_route_by_op(op);
    return r && strcmp(r->method, "GET") != 0;
}

void reg_health(reg_ctx_t *ctx, const pr_request_t *req, reg_out_t *out)
{
    if (!cm_db_ping(ctx->db)) {
        reg_problem(out, req, 503, "the database is unreachable");
        return;
    }
    /* The gateway tells us what its broker sees: "registry=2,compiler=0,hub=0". */
    json_t *workers = json_object();
    const char *counts = pr_kv_get(req->headers, req->nheaders, "X-Barbacane-Workers");
    char *copy = strdup(counts ? counts : ""), *save = NULL;
    for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (eq && (*eq = '\0', 1))
            json_object_set_new(workers, kv, json_integer(strtol(eq + 1, NULL, 10)));
    }
    free(copy);
    json_t *doc = json_pack("{s:s, s:s, s:{s:s, s:s, s:o}}", "status", "healthy", "version",
                            BB_VERSION, "checks", "database", "ok", "broker", "ok", "workers",
                            workers);
    reg_reply_json(out, 200, doc);
}

static void s_dispatch(reg_ctx_t *ctx, const pr_request_t *req, reg_out_t *out)
{
    for (size_t i = 0; i < sizeof s_handlers / sizeof s_handlers[0]; i++)
        if (strcmp(s_handlers[i].op, req->op) == 0) {
            reg_idem_t idem;
            bool mutation = s_mutation(req->op);
            if (mutation && reg_idem_before(ctx, req, out, &idem))
                return;
            s_handlers[i].fn(ctx, req, out);
            cm_db_rollback(ctx->db);  /* a handler that failed mid-transaction leaves none */
            if (mutation)
                reg_idem_after(ctx, req, out, &idem);
            return;
        }
    reg_problem(out, req, 503, "this operation is not available yet");
}

static void s_serve(reg_ctx_t *ctx, pr_worker_t *w, zframe_t *frame)
{
    pr_request_t req;
    reg_out_t out = { 0 };
    char err[160];
    int64_t t0 = cm_mono_ms();
    if (pr_request_decode(zframe_data(frame), zframe_size(frame), &req, err, sizeof err) != 0) {
        cm_warn("rejecting malformed envelope: %s", err);
        pr_request_t blank = { .rid = "", .uri = "" };
        reg_problem(&out, &blank, 400, "malformed request envelope");
    } else {
        s_dispatch(ctx, &req, &out);
    }
    size_t len = 0;
    unsigned char *bytes = pr_reply_encode(&out.rep, &len);
    if (bytes)
        pr_worker_send(w, bytes, len);
    cm_log_op(CM_LOG_INFO, req.rid, req.op, "status=%d ms=%lld", out.rep.status,
              (long long) (cm_mono_ms() - t0));
    free(bytes);
    reg_out_free(&out);
    pr_request_clear(&req);
}

int main(int argc, char **argv)
{
    reg_config_t c;
    int rc = cm_config_parse(s_opts, sizeof s_opts / sizeof s_opts[0], &c, argc, argv,
                             "registry service of the Barbacane control plane");
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    cm_log_init("registry", c.instance, c.log_level);
    reg_ctx_t ctx = { 0 };
    ctx.db = cm_db_new(c.database_url, (int) c.db_wait_ms);
    if (!ctx.db) {
        cm_error("no database connection; giving up");
        return 1;
    }
    if (cm_db_migrate(ctx.db) != 0) {
        cm_db_destroy(&ctx.db);
        return 1;
    }
    if (c.migrate_only) {
        cm_db_destroy(&ctx.db);
        return 0;
    }
    ctx.pub = pr_event_pub_new(c.events);
    pr_worker_t *w = pr_worker_new(c.broker, "registry", (int) c.heartbeat_ms, (int) c.liveness,
                                   (int) c.credit);
    if (!w || !ctx.pub) {
        cm_error("cannot reach the broker or event proxy endpoints");
        return 1;
    }
    zframe_t *frame;
    int64_t purge_at = cm_mono_ms();
    while (!zsys_interrupted) {
        if ((frame = pr_worker_recv(w, 60000)) != NULL) {
            s_serve(&ctx, w, frame);
            zframe_destroy(&frame);
        }
        if (cm_mono_ms() >= purge_at) {   /* expired idempotency records, every 10 minutes */
            reg_idem_purge(&ctx);
            purge_at = cm_mono_ms() + 600000;
        }
    }
    cm_info("shutting down");
    pr_worker_destroy(&w);
    zsock_destroy(&ctx.pub);
    cm_db_destroy(&ctx.db);
    return 0;
}
