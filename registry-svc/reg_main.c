/* barbacane-registry: a broker worker serving projects, specs, plugins, API keys, init and
 * data-plane views from PostgreSQL. Owns the service (kit), the database and the publisher. */
#include "reg.h"
#include "cm_config.h"
#include "cm_log.h"
#include "cm_util.h"
#include "pr_event.h"
#include "pr_idem.h"
#include "pr_service.h"
#include <stddef.h>
#include <string.h>

typedef struct {
    pr_service_config_t svc;
} reg_config_t;

static const cm_opt_t s_opts[] = {
    PR_SERVICE_OPTIONS(reg_config_t, svc),
};

static const pr_handler_t s_handlers[] = {
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
    { "dataplane.list", reg_dataplane_list },
    { "dataplane.get", reg_dataplane_get },
    { "dataplane.disconnect", reg_dataplane_disconnect },
    { "deploy", reg_deploy },
};

void reg_health(void *arg, const pr_request_t *req, pr_out_t *out)
{
    reg_ctx_t *ctx = arg;
    if (!cm_db_ping(ctx->db)) {
        pr_out_problem(out, req, 503, "the database is unreachable");
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
    pr_out_json(out, 200, doc);
}

/* Expired idempotency records go every ten minutes. */
static void s_purge(void *arg)
{
    reg_ctx_t *ctx = arg;
    pr_idem_purge(ctx->db);
}

int main(int argc, char **argv)
{
    reg_config_t c;
    int rc = cm_config_parse(s_opts, sizeof s_opts / sizeof s_opts[0], &c, argc, argv,
                             "registry service of the Barbacane control plane");
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    cm_log_init("registry", c.svc.instance, c.svc.log_level);
    pr_service_base_t base;
    rc = pr_service_base_init(&c.svc, PR_ROLE_REGISTRY, &base);
    if (rc != 0)
        return rc > 0 ? 0 : 1;
    reg_ctx_t ctx = { .db = base.db, .pub = pr_event_pub_new(c.svc.events, base.mesh) };
    char err[256] = "";
    pr_service_args_t a = { .service = "registry", .handlers = s_handlers,
                            .nhandlers = sizeof s_handlers / sizeof s_handlers[0], .ctx = &ctx,
                            .db = base.db, .idem_secret = base.secret,
                            .worker = { .broker = c.svc.broker, .mesh = base.mesh,
                                        .heartbeat_ms = (int) c.svc.heartbeat_ms,
                                        .liveness = (int) c.svc.liveness,
                                        .credit = (int) c.svc.credit } };
    pr_service_t *svc = ctx.pub ? pr_service_new(&a, err, sizeof err) : NULL;
    if (!svc) {
        cm_error("cannot start: %s", *err ? err : "no event publisher");
        zsock_destroy(&ctx.pub);
        pr_service_base_fini(&base);
        return 1;
    }
    s_purge(&ctx);
    pr_service_every(svc, 600000, s_purge, &ctx);
    pr_service_run(svc);
    cm_info("shutting down");
    pr_service_destroy(&svc);
    zsock_destroy(&ctx.pub);
    pr_service_base_fini(&base);
    return 0;
}
