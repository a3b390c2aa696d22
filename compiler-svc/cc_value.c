/* cc_value.c — YAML nodes as JSON values (serde_yaml's typing, sorted keys), JSON pointers
 * below a node, and local $ref resolution with chain-cycle detection. Owns nothing. */
#include "cc_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *cc_str(const cm_spec_node_t *n)
{
    return cm_spec_kind(n) == CM_NODE_STRING ? cm_spec_str(n, NULL) : NULL;
}

bool cc_bool(const cm_spec_node_t *n, bool dflt)
{
    bool v;
    return cm_spec_bool(n, &v) == 0 ? v : dflt;
}

bool cc_is_map(const cm_spec_node_t *n)
{
    return n && cm_spec_kind(n) == CM_NODE_MAP;
}

bool cc_is_seq(const cm_spec_node_t *n)
{
    return n && cm_spec_kind(n) == CM_NODE_SEQ;
}

bool cc_budget(cc_ctx_t *ctx, size_t spec, const cm_spec_node_t *at, size_t nodes)
{
    ctx->emit_nodes += nodes;
    if (ctx->emit_nodes <= CC_MAX_EMIT_NODES)
        return true;
    if (!ctx->budget_hit) {
        ctx->budget_hit = true;
        CC_ERR(ctx, "E1052", spec, at, NULL,
               "the compiled schemas and configurations exceed %zu values in total "
               "(shared schemas are copied into every operation that uses them)",
               (size_t)CC_MAX_EMIT_NODES);
    }
    return false;
}

json_t *cc_scalar_json(cc_ctx_t *ctx, const cm_spec_node_t *n)
{
    json_t *v = NULL;
    int64_t i;
    double d;
    size_t len;
    switch (cm_spec_kind(n)) {
    case CM_NODE_BOOL:
        v = json_boolean(cc_bool(n, false));
        break;
    case CM_NODE_INT:
        if (cm_spec_int(n, &i) == 0)
            v = json_integer((json_int_t)i);
        else   /* past 64 bits: serde_yaml falls back to a float as well */
            v = json_real(strtod(cm_spec_str(n, NULL), NULL));
        break;
    case CM_NODE_FLOAT:
        v = cm_spec_float(n, &d) == 0 && isfinite(d) ? json_real(d) : json_null();
        break;
    case CM_NODE_STRING: {
        const char *s = cm_spec_str(n, &len);
        v = json_stringn_nocheck(s, len);
        break;
    }
    default:
        v = json_null();
    }
    if (!v)
        ctx->oom = true;
    return v;
}

static json_t *s_value(cc_ctx_t *ctx, size_t spec, const cm_spec_node_t *n);

static json_t *s_map(cc_ctx_t *ctx, size_t spec, const cm_spec_node_t *n)
{
    json_t *obj = json_object();
    size_t len = cm_spec_len(n), *order = cc_sorted_keys(n);
    if (!obj || (len && !order)) {
        ctx->oom = true;
        free(order);
        json_decref(obj);
        return NULL;
    }
    for (size_t k = 0; k < len; k++) {
        const cm_spec_node_t *val;
        const char *key = cm_spec_key_at(n, order[k], &val);
        json_t *v = s_value(ctx, spec, val);
        if (!v || json_object_set_new_nocheck(obj, key, v) < 0) {
            if (v)
                ctx->oom = true;
            json_decref(obj);
            obj = NULL;
            break;
        }
    }
    free(order);
    return obj;
}

static json_t *s_seq(cc_ctx_t *ctx, size_t spec, const cm_spec_node_t *n)
{
    json_t *arr = json_array();
    if (!arr) {
        ctx->oom = true;
        return NULL;
    }
    for (size_t k = 0; k < cm_spec_len(n); k++) {
        json_t *v = s_value(ctx, spec, cm_spec_at(n, k));
        if (!v || json_array_append_new(arr, v) < 0) {
            if (v)
                ctx->oom = true;
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static json_t *s_value(cc_ctx_t *ctx, size_t spec, const cm_spec_node_t *n)
{
    if (cc_step(ctx) || !cc_budget(ctx, spec, n, 1))
        return NULL;
    cm_node_kind_t kind = cm_spec_kind(n);
    if (kind != CM_NODE_MAP && kind != CM_NODE_SEQ)
        return cc_scalar_json(ctx, n);
    if (ctx->nest >= CC_MAX_NEST) {
        CC_ERR(ctx, "E1002", spec, n, NULL,
               "value nested deeper than %d levels (counting aliases)", CC_MAX_NEST);
        return NULL;
    }
    ctx->nest++;
    json_t *v = kind == CM_NODE_MAP ? s_map(ctx, spec, n) : s_seq(ctx, spec, n);
    ctx->nest--;
    return v;
}

json_t *cc_value_json(cc_ctx_t *ctx, size_t spec, const cm_spec_node_t *n)
{
    return s_value(ctx, spec, n);
}

json_t *cc_config_json(cc_ctx_t *ctx, const cc_use_t *use)
{
    if (!use->config) {
        json_t *v = json_null();
        return v;
    }
    json_t *cached = cc_map_get(ctx->configs, &use->config, sizeof use->config);
    if (cached)
        return json_incref(cached);
    json_t *v = cc_value_json(ctx, use->spec, use->config);
    if (v && cc_map_put(ctx->configs, &use->config, sizeof use->config, json_incref(v)) < 0) {
        json_decref(v);
        ctx->oom = true;
    }
    cc_render_share(ctx, v);
    return v;
}

/* ---------------------------------------------------------------- pointers and $ref */

const cm_spec_node_t *cc_node_at(const cm_spec_node_t *n, const char *p)
{
    while (n && *p == '/') {
        const char *end = strchr(p + 1, '/');
        size_t tl = end ? (size_t)(end - p - 1) : strlen(p + 1);
        char *tok = cc_strndup(p + 1, tl);
        if (!tok)
            return NULL;
        size_t o = 0;
        for (size_t i = 0; i < tl; i++)
            tok[o++] = tok[i] == '~' && tok[i + 1] == '1' ? (i++, '/')
                     : tok[i] == '~' && tok[i + 1] == '0' ? (i++, '~') : tok[i];
        tok[o] = '\0';
        if (cm_spec_kind(n) == CM_NODE_MAP)
            n = cm_spec_get(n, tok);
        else if (cm_spec_kind(n) == CM_NODE_SEQ && o > 0 && strspn(tok, "0123456789") == o)
            n = o < 10 ? cm_spec_at(n, (size_t)strtoul(tok, NULL, 10)) : NULL;
        else
            n = NULL;
        free(tok);
        p = end ? end : p + 1 + tl;
    }
    return *p ? NULL : n;
}

const cm_spec_node_t *cc_ref_target(cc_ctx_t *ctx, size_t spec, const char *ref,
                                    const cm_spec_node_t *site, const cc_op_t *op)
{
    char ex[80];
    if (ref[0] != '#') {
        CC_ERR(ctx, "E1003", spec, site, op,
               "external $ref '%s' is not supported: only references inside the document "
               "(#/...) are", cc_excerpt(ex, ref));
        return NULL;
    }
    const cm_spec_node_t *t = cm_spec_pointer(ctx->specs[spec].doc, ref);
    if (!t)
        CC_ERR(ctx, "E1003", spec, site, op, "$ref '%s' does not resolve in %s",
               cc_excerpt(ex, ref), ctx->specs[spec].file);
    return t;
}

const cm_spec_node_t *cc_follow(cc_ctx_t *ctx, size_t spec, const cm_spec_node_t *n,
                                const cc_op_t *op, bool *failed)
{
    const cm_spec_node_t *seen[CC_MAX_CHAIN];
    size_t hops = 0;
    char ex[80];
    bool dummy;
    failed = failed ? failed : &dummy;
    *failed = false;
    while (cc_is_map(n)) {
        const cm_spec_node_t *r = cm_spec_get(n, "$ref");
        const char *ref = cc_str(r);
        if (!ref)
            return n;
        for (size_t i = 0; i < hops; i++)
            if (seen[i] == n) {
                CC_ERR(ctx, "E1004", spec, r, op, "circular $ref detected: '%s'",
                       cc_excerpt(ex, ref));
                *failed = true;
                return NULL;
            }
        if (hops == CC_MAX_CHAIN) {
            CC_ERR(ctx, "E1004", spec, r, op, "$ref chain longer than %d links", CC_MAX_CHAIN);
            *failed = true;
            return NULL;
        }
        seen[hops++] = n;
        n = cc_ref_target(ctx, spec, ref, r, op);
        *failed = !n;
    }
    return NULL;
}
