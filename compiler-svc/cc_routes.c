/* cc_routes.c — routes.json: each operation as a CompiledOperation (§6.1), built one at a time
 * in (path, method) order and rendered. Owns ctx->routes while it is written. */
#include "cc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static int s_cmp(const void *pa, const void *pb)
{
    const cc_op_t *a = *(const cc_op_t *const *)pa, *b = *(const cc_op_t *const *)pb;
    int c = strcmp(a->path, b->path);
    if (!c)
        c = strcmp(a->method, b->method);
    return c ? c : (a->seq > b->seq) - (a->seq < b->seq);
}

/* Notes the plugin a use names, for what the artifact writer is told about routes.json. */
static void s_routed(cc_ctx_t *ctx, const cc_use_t *use)
{
    const cc_plug_t *p = use->plug >= 0 ? &ctx->plugs[use->plug] : NULL;
    if (p && strlen(p->name) == use->bare_len && !memcmp(p->name, use->name, use->bare_len))
        ctx->plugs[use->plug].routed = true;
    else
        ctx->routes_unsure = true;
}

/* {"name": bare name, "config": ...}: the data plane looks plugins up by bare name. */
static json_t *s_use(cc_ctx_t *ctx, const cc_use_t *use)
{
    s_routed(ctx, use);
    json_t *obj = json_object(), *config = cc_config_json(ctx, use);
    if (!obj || !config) {
        json_decref(obj);
        json_decref(config);
        return NULL;
    }
    json_object_set_new_nocheck(obj, "name", json_stringn_nocheck(use->name, use->bare_len));
    json_object_set_new_nocheck(obj, "config", config);
    return obj;
}

static json_t *s_chain(cc_ctx_t *ctx, const cc_op_t *op)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < op->nchain; i++) {
        cc_plugins_validate(ctx, op, &op->chain[i]);
        json_t *m = s_use(ctx, &op->chain[i]);
        if (!m || json_array_append_new(arr, m) < 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

static json_t *s_str_or_null(const char *s)
{
    return s ? json_string_nocheck(s) : json_null();
}

typedef struct {
    json_t *params, *body, *messages, *bindings, *responses, *dispatch, *chain, *headers;
} s_parts_t;

static void s_parts_free(s_parts_t *p)
{
    json_t **all[] = {&p->params, &p->body, &p->messages, &p->bindings,
                      &p->responses, &p->dispatch, &p->chain, &p->headers};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        json_decref(*all[i]);
        *all[i] = NULL;
    }
}

static bool s_parts(cc_ctx_t *ctx, const cc_op_t *op, s_parts_t *p)
{
    if (ctx->specs[op->spec].asyncapi) {
        p->params = cc_asyncapi_parameters(ctx, op);
        p->messages = cc_asyncapi_messages(ctx, op, &p->body);
        p->bindings = cc_asyncapi_bindings(ctx, op);
    } else {
        p->params = cc_openapi_parameters(ctx, op);
        p->body = cc_openapi_request_body(ctx, op);
        p->responses = cc_openapi_responses(ctx, op);
    }
    if (op->has_dispatch) {
        cc_plugins_validate(ctx, op, &op->dispatch);
        p->dispatch = s_use(ctx, &op->dispatch);
    }
    p->chain = s_chain(ctx, op);
    /* allowed_request_headers is format 6 only (BCA-FORMAT §6.4): format 4 neither builds it
     * nor reports its E1056 (a declared x-auth-* header parameter is E1056 in both) */
    p->headers = !p->params ? NULL : ctx->format == 4 ? json_array()
                                                      : cc_allowed_headers(ctx, op, p->params);
    bool async = ctx->specs[op->spec].asyncapi;
    return p->params && p->body && p->dispatch && p->chain && p->headers &&
           (async ? p->messages && p->bindings : p->responses != NULL);
}

static json_t *s_operation(cc_ctx_t *ctx, const cc_op_t *op, size_t index)
{
    s_parts_t p = {0};
    json_t *o = json_object();
    if (!s_parts(ctx, op, &p) || !o) {
        s_parts_free(&p);
        json_decref(o);
        return NULL;
    }
    bool async = ctx->specs[op->spec].asyncapi;
    const cm_spec_node_t *n = op->node;
    json_object_set_new_nocheck(o, "index", json_integer((json_int_t)index));
    json_object_set_new_nocheck(o, "path", json_string_nocheck(op->path));
    json_object_set_new_nocheck(o, "method", json_string_nocheck(op->method));
    json_object_set_new_nocheck(o, "operation_id", s_str_or_null(op->operation_id));
    json_object_set_new_nocheck(o, "summary",
                                s_str_or_null(async ? NULL : cc_str(cm_spec_get(n, "summary"))));
    json_object_set_new_nocheck(o, "description", s_str_or_null(async ? NULL :
                                cc_str(cm_spec_get(n, "description"))));
    json_object_set_nocheck(o, "parameters", p.params);
    json_object_set_nocheck(o, "request_body", p.body);
    json_object_set_nocheck(o, "dispatch", p.dispatch);
    json_object_set_nocheck(o, "middlewares", p.chain);
    json_object_set_new_nocheck(o, "deprecated",
                                json_boolean(cc_bool(cm_spec_get(n, "deprecated"), false)));
    json_object_set_new_nocheck(o, "sunset", s_str_or_null(cc_str(cm_spec_get(n, "x-sunset"))));
    if (json_array_size(p.messages))
        json_object_set_nocheck(o, "messages", p.messages);
    if (json_object_size(p.bindings))
        json_object_set_nocheck(o, "bindings", p.bindings);
    if (json_object_size(p.responses))
        json_object_set_nocheck(o, "responses", p.responses);
    cc_mcp_operation(ctx, op, o);
    if (ctx->format != 4)
        json_object_set_nocheck(o, "allowed_request_headers", p.headers);
    s_parts_free(&p);
    return o;
}

/* Appends one operation, indented to its place inside {"operations": [...]}. */
static void s_append(cc_ctx_t *ctx, const json_t *o, bool first)
{
    cc_buf_str(&ctx->routes, first ? "\n    " : ",\n    ");
    cc_render(ctx, &ctx->routes, o, 2);
    ctx->routes_written++;
    if (ctx->routes.len > CC_MAX_ROUTES_BYTES && !ctx->budget_hit) {
        ctx->budget_hit = true;
        CC_ERR(ctx, "E1052", CC_NO_SPEC, NULL, NULL, "routes.json would exceed %zu MiB",
               CC_MAX_ROUTES_BYTES >> 20);
    }
}

void cc_routes_build(cc_ctx_t *ctx)
{
    const cc_op_t **order = ctx->nops ? malloc(ctx->nops * sizeof *order) : NULL;
    if (ctx->nops && !order) {
        ctx->oom = true;
        return;
    }
    for (size_t i = 0; i < ctx->nops; i++)
        order[i] = &ctx->ops[i];
    if (ctx->nops)
        qsort(order, ctx->nops, sizeof *order, s_cmp);
    cc_buf_str(&ctx->routes, "{\n  \"operations\": [");
    for (size_t i = 0; i < ctx->nops && !cc_cancelled(ctx); i++) {
        json_t *o = s_operation(ctx, order[i], i);
        int nesting = o ? 2 + cc_nesting(ctx, o) : 0;
        if (nesting > CC_SERDE_NESTING)
            CC_ERR(ctx, "E1051", order[i]->spec, order[i]->at, order[i], "the operation would "
                   "nest %d levels deep in routes.json, and the data plane reads at most %d",
                   nesting, CC_SERDE_NESTING);
        if (o && !ctx->nerr && !ctx->budget_hit)
            s_append(ctx, o, i == 0);
        json_decref(o);
        if (ctx->nerr && ctx->routes.data) {
            cc_buf_free(&ctx->routes);   /* no artifact: keep checking, stop rendering */
            ctx->routes.failed = true;
        }
    }
    cc_buf_str(&ctx->routes, ctx->nops ? "\n  ]\n}" : "]\n}");
    if (ctx->routes.failed && !ctx->nerr)
        ctx->oom = true;
    ctx->routes_count = ctx->nops;
    free(order);
}
