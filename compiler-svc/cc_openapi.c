/* cc_openapi.c — OpenAPI 3.0/3.1: operations from paths, their merged parameters, request body
 * and responses as routes.json wants them (§6.2). Owns the operations it adds to ctx->ops. */
#include "cc_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_methods[] = {"get", "post", "put", "delete", "patch",
                                        "head", "options", "trace", "query"};

cc_op_t *cc_op_new(cc_ctx_t *ctx, size_t spec, const char *path, const char *method,
                   const cm_spec_node_t *node, const cm_spec_node_t *at)
{
    if (ctx->nops == ctx->ops_cap) {
        size_t cap = ctx->ops_cap ? ctx->ops_cap * 2 : 64;
        cc_op_t *p = realloc(ctx->ops, cap * sizeof *p);
        if (!p) {
            ctx->oom = true;
            return NULL;
        }
        ctx->ops = p;
        ctx->ops_cap = cap;
    }
    cc_op_t *op = &ctx->ops[ctx->nops];
    memset(op, 0, sizeof *op);
    op->spec = spec;
    op->seq = ctx->nops;
    op->path = path;
    op->node = node;
    op->at = at;
    op->path_at = at;
    op->method = cc_strdup(method);
    for (char *p = op->method; p && *p; p++)
        *p = (char)toupper((unsigned char)*p);
    op->label = op->method ? cc_aprintf("%s %s", op->method, path) : NULL;
    if (!op->method || !op->label) {
        free(op->method);
        free(op->label);
        ctx->oom = true;
        return NULL;
    }
    ctx->nops++;
    return op;
}

/* ---------------------------------------------------------------- collecting */

static void s_operation(cc_ctx_t *ctx, size_t spec, const char *path,
                        const cm_spec_node_t *path_key, const cm_spec_node_t *item,
                        const char *method, const cm_spec_node_t *key,
                        const cm_spec_node_t *value)
{
    char ex[80];
    if (!cc_is_map(value)) {
        CC_ERR(ctx, "E1004", spec, value, NULL, "operation '%s' of path '%s' must be a mapping, "
               "found a %s", method, cc_excerpt(ex, path), cm_spec_kind_name(cm_spec_kind(value)));
        return;
    }
    cc_op_t *op = cc_op_new(ctx, spec, path, method, value, key);
    if (!op)
        return;
    op->path_at = path_key;
    op->path_item = item;
    op->operation_id = cc_str(cm_spec_get(value, "operationId"));
    const cm_spec_node_t *sec = cm_spec_get(value, "security");
    op->own_security = cc_is_seq(sec);
    op->security = op->own_security ? sec : ctx->specs[spec].security;
}

static void s_path_item(cc_ctx_t *ctx, size_t spec, const char *path,
                        const cm_spec_node_t *path_key, const cm_spec_node_t *value)
{
    char ex[80];
    bool failed;
    const cm_spec_node_t *item = cc_follow(ctx, spec, value, NULL, &failed);
    if (!item) {
        if (!failed)
            CC_ERR(ctx, "E1004", spec, value, NULL, "path item '%s' must be a mapping, found "
                   "a %s", cc_excerpt(ex, path), cm_spec_kind_name(cm_spec_kind(value)));
        return;
    }
    for (size_t i = 0; i < cm_spec_len(item); i++) {
        const cm_spec_node_t *v;
        const char *key = cm_spec_key_at(item, i, &v);
        for (size_t m = 0; m < sizeof s_methods / sizeof *s_methods; m++)
            if (!strcmp(key, s_methods[m]))
                s_operation(ctx, spec, path, path_key, item, key, cm_spec_key_node_at(item, i), v);
    }
    const cm_spec_node_t *extra = cm_spec_get(item, "additionalOperations");
    for (size_t i = 0; cc_is_map(extra) && i < cm_spec_len(extra); i++) {
        const cm_spec_node_t *v;
        const char *key = cm_spec_key_at(extra, i, &v);
        s_operation(ctx, spec, path, path_key, item, key, cm_spec_key_node_at(extra, i), v);
    }
}

void cc_openapi_collect(cc_ctx_t *ctx, size_t spec)
{
    const cm_spec_node_t *paths = cm_spec_get(ctx->specs[spec].root, "paths");
    if (!paths || cm_spec_kind(paths) == CM_NODE_NULL)
        return;   /* no paths is a valid, empty API */
    if (!cc_is_map(paths)) {
        CC_ERR(ctx, "E1004", spec, paths, NULL, "'paths' must be a mapping, found a %s",
               cm_spec_kind_name(cm_spec_kind(paths)));
        return;
    }
    for (size_t i = 0; i < cm_spec_len(paths) && !cc_cancelled(ctx); i++) {
        const cm_spec_node_t *v;
        const char *path = cm_spec_key_at(paths, i, &v);
        if (!cc_starts_with(path, "x-"))   /* Paths Object extensions are not paths */
            s_path_item(ctx, spec, path, cm_spec_key_node_at(paths, i), v);
    }
}

/* ---------------------------------------------------------------- parameters */

typedef struct {
    json_t *json;                       /* {name, location, required, schema} */
    const char *name, *location;
    const cm_spec_node_t *name_node;
} s_param_t;

/* The schema of `in: querystring`: the first media type's (in key order). */
static const cm_spec_node_t *s_content_schema(const cm_spec_node_t *obj)
{
    const cm_spec_node_t *content = cm_spec_get(obj, "content"), *first = NULL;
    const char *best = NULL;
    for (size_t i = 0; cc_is_map(content) && i < cm_spec_len(content); i++) {
        const cm_spec_node_t *v;
        const char *key = cm_spec_key_at(content, i, &v);
        if (!best || strcmp(key, best) < 0)
            best = key, first = v;
    }
    return cc_is_map(first) ? cm_spec_get(first, "schema") : NULL;
}

static json_t *s_schema_or_null(cc_ctx_t *ctx, const cc_op_t *op, const cm_spec_node_t *raw,
                                bool shared, const char *what)
{
    if (!raw)
        return json_null();
    size_t depth = 0, props = 0;
    json_t *v = cc_schema_position(ctx, op->spec, raw, shared, op, &depth, &props);
    if (v)
        cc_schema_limits(ctx, op->spec, raw, op, what, depth, props);
    return v;
}

static bool s_param(cc_ctx_t *ctx, const cc_op_t *op, const cm_spec_node_t *item, bool shared,
                    s_param_t *out)
{
    const cm_spec_node_t *obj = cc_follow(ctx, op->spec, item, op, NULL);
    const char *in = cc_str(cm_spec_get(obj, "in"));
    if (!in)
        return false;
    shared = shared || obj != item;
    const cm_spec_node_t *raw = !strcmp(in, "querystring") ? s_content_schema(obj)
                                                           : cm_spec_get(obj, "schema");
    out->name_node = cm_spec_get(obj, "name");
    out->name = cc_str(out->name_node);
    char what[120], ex[80];
    snprintf(what, sizeof what, "parameter '%s'", out->name ? cc_excerpt(ex, out->name) : "?");
    json_t *schema = s_schema_or_null(ctx, op, raw, shared, what);
    if (!out->name || !schema) {
        json_decref(schema);
        return false;
    }
    out->location = in;
    out->json = json_object();
    if (!out->json) {
        ctx->oom = true;
        json_decref(schema);
        return false;
    }
    json_object_set_new_nocheck(out->json, "name", json_string_nocheck(out->name));
    json_object_set_new_nocheck(out->json, "location", json_string_nocheck(in));
    json_object_set_new_nocheck(out->json, "required",
                                json_boolean(cc_bool(cm_spec_get(obj, "required"), false)));
    json_object_set_new_nocheck(out->json, "schema", schema);
    return true;
}

/* Entries of a `parameters` list that make a parameter, in order. */
static s_param_t *s_params(cc_ctx_t *ctx, const cc_op_t *op, const cm_spec_node_t *owner,
                           bool shared, size_t *n)
{
    const cm_spec_node_t *list = cm_spec_get(owner, "parameters");
    size_t len = cc_is_seq(list) ? cm_spec_len(list) : 0;
    s_param_t *out = len ? calloc(len, sizeof *out) : NULL;
    *n = 0;
    if (len && !out)
        ctx->oom = true;
    for (size_t i = 0; out && i < len && !cc_step(ctx); i++)
        if (s_param(ctx, op, cm_spec_at(list, i), shared, &out[*n]))
            (*n)++;
    return out;
}

/* location + name, header names folded: what makes two parameters the same one. */
static char *s_param_key(const s_param_t *p)
{
    char *key = cc_aprintf("%s%c%s", p->location, 0x1f, p->name);
    if (key && !strcmp(p->location, "header"))
        for (char *c = key; *c; c++)
            *c = (char)tolower((unsigned char)*c);
    return key;
}

static void s_reserved(cc_ctx_t *ctx, const cc_op_t *op, const s_param_t *p)
{
    size_t len;
    const char *name = cc_trim(ctx->loc, p->name, &len);
    char ex[80];
    if (!strcmp(p->location, "header") && len >= 7 && !strncasecmp(name, "x-auth-", 7))
        CC_ERR(ctx, "E1056", op->spec, p->name_node, op, "header parameter '%s' is in the "
               "reserved x-auth-* namespace (authentication plugins write those headers)",
               cc_excerpt(ex, p->name));
}

/* Path-item parameters the operation does not redefine, then the operation's own. */
json_t *cc_openapi_parameters(cc_ctx_t *ctx, const cc_op_t *op)
{
    size_t np = 0, no = 0;
    s_param_t *path = s_params(ctx, op, op->path_item, true, &np);
    s_param_t *own = s_params(ctx, op, op->node, false, &no);
    cc_map_t *redefined = cc_map_new();
    json_t *arr = json_array();
    if (!redefined || !arr)
        ctx->oom = true;
    for (size_t i = 0; redefined && i < no; i++) {
        char *key = s_param_key(&own[i]);
        if (!key || cc_map_put(redefined, key, strlen(key), ctx) < 0)
            ctx->oom = true;
        free(key);
    }
    for (size_t i = 0; i < np + no; i++) {
        s_param_t *p = i < np ? &path[i] : &own[i - np];
        char *key = i < np ? s_param_key(p) : NULL;
        bool keep = i >= np || (key && !cc_map_get(redefined, key, strlen(key)));
        free(key);
        if (keep && arr) {
            s_reserved(ctx, op, p);
            json_array_append(arr, p->json);
        }
        json_decref(p->json);
    }
    free(path);
    free(own);
    cc_map_destroy(&redefined, NULL);
    return arr;
}

/* ---------------------------------------------------------------- bodies and responses */

/* {media type: {"schema": ...}} in key order; NULL on error. */
static json_t *s_content(cc_ctx_t *ctx, const cc_op_t *op, const cm_spec_node_t *content,
                         bool shared, bool body)
{
    json_t *out = json_object();
    size_t len = cm_spec_len(content), *order = cc_sorted_keys(content);
    if (!out || (len && !order)) {
        ctx->oom = true;
        json_decref(out);
        free(order);
        return NULL;
    }
    for (size_t k = 0; k < len; k++) {
        const cm_spec_node_t *media;
        const char *type = cm_spec_key_at(content, order[k], &media);
        char what[120], ex[80];
        snprintf(what, sizeof what, "request body (%s)", cc_excerpt(ex, type));
        const cm_spec_node_t *raw = cc_is_map(media) ? cm_spec_get(media, "schema") : NULL;
        json_t *schema = body ? s_schema_or_null(ctx, op, raw, shared, what)
                       : raw  ? cc_schema_position(ctx, op->spec, raw, shared, op, NULL, NULL)
                              : json_null();
        json_t *entry = json_object();
        if (!schema || !entry) {
            json_decref(schema);
            json_decref(entry);
            json_decref(out);
            free(order);
            return NULL;
        }
        json_object_set_new_nocheck(entry, "schema", schema);
        json_object_set_new_nocheck(out, type, entry);
    }
    free(order);
    return out;
}

json_t *cc_openapi_request_body(cc_ctx_t *ctx, const cc_op_t *op)
{
    const cm_spec_node_t *rb = cm_spec_get(op->node, "requestBody");
    const cm_spec_node_t *obj = rb ? cc_follow(ctx, op->spec, rb, op, NULL) : NULL;
    const cm_spec_node_t *content = cm_spec_get(obj, "content");
    if (!cc_is_map(content))
        return json_null();
    json_t *c = s_content(ctx, op, content, obj != rb, true), *out = json_object();
    if (!c || !out) {
        json_decref(c);
        json_decref(out);
        return NULL;
    }
    json_object_set_new_nocheck(out, "required",
                                json_boolean(cc_bool(cm_spec_get(obj, "required"), false)));
    json_object_set_new_nocheck(out, "content", c);
    return out;
}

json_t *cc_openapi_responses(cc_ctx_t *ctx, const cc_op_t *op)
{
    const cm_spec_node_t *responses = cm_spec_get(op->node, "responses");
    json_t *out = json_object();
    size_t len = cc_is_map(responses) ? cm_spec_len(responses) : 0;
    size_t *order = cc_sorted_keys(len ? responses : NULL);
    if (!out || (len && !order)) {
        ctx->oom = true;
        json_decref(out);
        free(order);
        return NULL;
    }
    bool ok = true;
    for (size_t k = 0; k < len; k++) {
        const cm_spec_node_t *v;
        const char *status = cm_spec_key_at(responses, order[k], &v);
        const cm_spec_node_t *obj = cc_follow(ctx, op->spec, v, op, NULL);
        const cm_spec_node_t *content = cm_spec_get(obj, "content");
        if (!cc_is_map(content))
            continue;
        json_t *c = s_content(ctx, op, content, obj != v, false);
        if (!c) {
            ok = false;
            continue;
        }
        if (json_object_size(c)) {
            json_t *entry = json_object();
            json_object_set_new_nocheck(entry, "content", c);
            json_object_set_new_nocheck(out, status, entry);
        } else
            json_decref(c);
    }
    free(order);
    if (!ok) {
        json_decref(out);
        return NULL;
    }
    return out;
}
