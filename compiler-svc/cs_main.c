/* barbacane-compiler: compiler-svc, a broker worker serving compilations and artifacts, with
 * a pool of compile threads working the queue in PostgreSQL. Owns the service (kit), the
 * event sockets, the pool and the configuration. */
#include "cs.h"
#include "cm_config.h"
#include "cm_log.h"
#include "cm_util.h"
#include "pr_event.h"
#include "pr_service.h"
#include <stddef.h>

typedef struct {
    pr_service_config_t svc;
    long threads, lease_s, max_attempts, poll_ms, timeout_s, retry_delay_ms;
    long max_schema_depth, max_schema_properties;
    bool format_assertion;
} cs_config_t;

#define O(name, type, def, field, help) { name, type, def, offsetof(cs_config_t, field), help, NULL }
static const cm_opt_t s_opts[] = {
    PR_SERVICE_OPTIONS(cs_config_t, svc),
    O("compile-threads", CM_OPT_INT, "2", threads, "compile threads in this process"),
    O("lease-s", CM_OPT_INT, "30", lease_s,
      "a claimed job's lease (renewed while it runs; a dead worker's job is re-claimed after it)"),
    O("max-attempts", CM_OPT_INT, "3", max_attempts,
      "claims of one job before it fails (crashes, lost leases, infrastructure failures)"),
    O("poll-ms", CM_OPT_INT, "2000", poll_ms, "look for work this often without an event"),
    O("compile-timeout-s", CM_OPT_INT, "300", timeout_s, "one compile at most this long"),
    O("retry-delay-ms", CM_OPT_INT, "2000", retry_delay_ms,
      "wait before retrying a job after an infrastructure failure"),
    O("max-schema-depth", CM_OPT_INT, "32", max_schema_depth, "E1051: schema nesting limit"),
    O("max-schema-properties", CM_OPT_INT, "256", max_schema_properties,
      "E1052: properties per schema limit"),
    O("format-assertion", CM_OPT_BOOL, "false", format_assertion,
      "plugin config_schema `format` keywords assert (date-time, uuid, uri, email, ...)"),
};
#undef O

static const pr_handler_t s_handlers[] = {
    { "compile.start", cs_compile_start },
    { "compile.list", cs_compile_list },
    { "compile.get", cs_compile_get },
    { "compile.delete", cs_compile_delete },
    { "artifact.list", cs_artifact_list },
    { "artifact.get", cs_artifact_get },
    { "artifact.delete", cs_artifact_delete },
    { "artifact.download", cs_artifact_download },
};

typedef struct {
    cs_ctx_t *ctx;
    zsock_t *sub;
} s_loop_t;

/* compile.queued from any compiler-svc process: the threads look for work now. */
static void s_on_event(void *arg)
{
    s_loop_t *l = arg;
    pr_event_t ev;
    while (zsock_events(l->sub) & ZMQ_POLLIN)
        if (pr_event_recv(l->sub, &ev) == 0 && strcmp(ev.topic, PR_EV_COMPILE_QUEUED) == 0)
            cs_pool_wake(l->ctx->pool);
}

static void s_renew(void *arg)
{
    cs_ctx_t *ctx = arg;
    cs_pool_renew(ctx->pool, ctx->db);
}

static cs_options_t s_options(const cs_config_t *c)
{
    return (cs_options_t) { .database_url = c->svc.database_url, .instance = c->svc.instance,
                            .threads = (int) c->threads, .lease_s = (int) c->lease_s,
                            .max_attempts = (int) c->max_attempts, .poll_ms = (int) c->poll_ms,
                            .timeout_s = (int) c->timeout_s,
                            .retry_delay_ms = (int) c->retry_delay_ms,
                            .max_schema_depth = (size_t) c->max_schema_depth,
                            .max_schema_properties = (size_t) c->max_schema_properties,
                            .format_assertion = c->format_assertion };
}

static int s_run(const cs_config_t *c, pr_service_base_t *base)
{
    cs_options_t opts = s_options(c);
    const char *topics[] = { PR_EV_COMPILE_QUEUED };
    cs_ctx_t ctx = { .db = base->db, .secret = base->secret,
                     .pub = pr_event_pub_new(c->svc.events, base->mesh) };
    s_loop_t loop = { &ctx, pr_event_sub_new(c->svc.events_out, base->mesh, topics, 1) };
    ctx.pool = ctx.pub && loop.sub ? cs_pool_new(&opts) : NULL;
    char err[256] = "";
    pr_service_args_t a = { .service = "compiler", .handlers = s_handlers,
                            .nhandlers = sizeof s_handlers / sizeof s_handlers[0], .ctx = &ctx,
                            .db = base->db, .idem_secret = base->secret,
                            .worker = { .broker = c->svc.broker, .mesh = base->mesh,
                                        .heartbeat_ms = (int) c->svc.heartbeat_ms,
                                        .liveness = (int) c->svc.liveness,
                                        .credit = (int) c->svc.credit } };
    pr_service_t *svc = ctx.pool ? pr_service_new(&a, err, sizeof err) : NULL;
    int rc = 0;
    if (!svc) {
        cm_error("cannot start: %s", *err ? err : "no event sockets or compile threads");
        rc = 1;
    } else {
        int renew_ms = (int) (c->lease_s * 1000 / 3 > 500 ? c->lease_s * 1000 / 3 : 500);
        pr_service_add_socket(svc, loop.sub, s_on_event, &loop);
        pr_service_every(svc, renew_ms, s_renew, &ctx);
        cm_info("compiling with %d thread(s), lease %ld s", opts.threads, c->lease_s);
        pr_service_run(svc);
        cm_info("shutting down");
    }
    pr_service_destroy(&svc);
    cs_pool_destroy(&ctx.pool);
    zsock_destroy(&loop.sub);
    zsock_destroy(&ctx.pub);
    return rc;
}

static int s_range(const char *name, long v, long lo, long hi)
{
    if (v >= lo && v <= hi)
        return 0;
    fprintf(stderr, "barbacane-compiler: --%s must be between %ld and %ld (got %ld)\n", name, lo,
            hi, v);
    return -1;
}

static int s_validate(const cs_config_t *c)
{
    return s_range("compile-threads", c->threads, 1, CS_MAX_THREADS)
           | s_range("lease-s", c->lease_s, 1, 3600)
           | s_range("max-attempts", c->max_attempts, 1, 100)
           | s_range("poll-ms", c->poll_ms, 10, 3600000)
           | s_range("compile-timeout-s", c->timeout_s, 1, 86400)
           | s_range("retry-delay-ms", c->retry_delay_ms, 0, 3600000)
           | s_range("max-schema-depth", c->max_schema_depth, 1, 4096)
           | s_range("max-schema-properties", c->max_schema_properties, 1, 1000000);
}

int main(int argc, char **argv)
{
    cs_config_t c;
    int rc = cm_config_parse(s_opts, sizeof s_opts / sizeof s_opts[0], &c, argc, argv,
                             "compiler service of the Barbacane control plane");
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (s_validate(&c) != 0)
        return 2;
    cm_log_init("compiler", c.svc.instance, c.svc.log_level);
    pr_service_base_t base;
    rc = pr_service_base_init(&c.svc, PR_ROLE_COMPILER, &base);
    if (rc != 0)
        return rc > 0 ? 0 : 1;
    rc = s_run(&c, &base);
    pr_service_base_fini(&base);
    return rc;
}
