/* cc_ext.c — x-barbacane-* extensions: E1015, dispatchers (E1020), middleware chains (E1011,
 * E1012), MCP (§8.3), WAF (§9, E1080). Owns the middleware arrays of specs and operations. */
#include "cc_int.h"

#include <stdlib.h>
#include <string.h>

static bool s_known(const cc_ctx_t *ctx, const char *key)
{
    return !strcmp(key, "x-barbacane-dispatch") || !strcmp(key, "x-barbacane-middlewares") ||
           !strcmp(key, "x-barbacane-mcp") ||
           (ctx->format != 4 && !strcmp(key, "x-barbacane-waf"));
}

static void s_unknown(cc_ctx_t *ctx, size_t spec, const cm_spec_node_t *map, const cc_op_t *op)
{
    char ex[80];
    for (size_t i = 0; i < cm_spec_len(map); i++) {
        const char *key = cm_spec_key_at(map, i, NULL);
        if (cc_starts_with(key, "x-barbacane-") && !s_known(ctx, key))
            CC_WARN(ctx, "E1015", spec, cm_spec_key_node_at(map, i), op,
                    "unknown extension '%s' (known: x-barbacane-dispatch, "
                    "x-barbacane-middlewares, x-barbacane-mcp%s)", cc_excerpt(ex, key),
                    ctx->format == 4 ? "; x-barbacane-waf needs artifact format 6" :
                                       ", x-barbacane-waf");
    }
}

static void s_use(cc_use_t *u, size_t spec, const cm_spec_node_t *entry,
                  const cm_spec_node_t *name_node)
{
    memset(u, 0, sizeof *u);
    u->entry = entry;
    u->name_node = name_node;
    u->name = cc_str(name_node);
    u->config = cm_spec_get(entry, "config");
    u->bare_len = strcspn(u->name, "@");
    u->spec = spec;
    u->plug = -1;
}

/* The valid entries of an x-barbacane-middlewares value; false when it is not a sequence. */
static bool s_middlewares(cc_ctx_t *ctx, size_t spec, const cm_spec_node_t *v,
                          const cc_op_t *op, cc_use_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!cc_is_seq(v)) {
        CC_ERR(ctx, "E1012", spec, v, op,
               "x-barbacane-middlewares must be a sequence of {name, config} entries, "
               "found a %s", cm_spec_kind_name(cm_spec_kind(v)));
        return false;
    }
    size_t len = cm_spec_len(v);
    *out = len ? calloc(len, sizeof **out) : NULL;
    if (len && !*out) {
        ctx->oom = true;
        return true;
    }
    for (size_t i = 0; i < len; i++) {
        const cm_spec_node_t *e = cm_spec_at(v, i), *name = cm_spec_get(e, "name");
        if (!cc_is_map(e))
            CC_ERR(ctx, "E1011", spec, e, op, "middleware entry #%zu must be a mapping with a "
                   "'name', found a %s", i + 1, cm_spec_kind_name(cm_spec_kind(e)));
        else if (!cc_str(name))
            CC_ERR(ctx, "E1011", spec, name ? name : e, op, "middleware entry #%zu has no "
                   "'name'%s", i + 1, name ? " string" : "");
        else if (!*cc_str(name))
            CC_ERR(ctx, "E1011", spec, name, op, "middleware entry #%zu has an empty 'name'",
                   i + 1);
        else
            s_use(&(*out)[(*n)++], spec, e, name);
    }
    return true;
}

void cc_ext_root(cc_ctx_t *ctx, size_t spec)
{
    cc_spec_t *s = &ctx->specs[spec];
    s_unknown(ctx, spec, s->root, NULL);
    const cm_spec_node_t *mw = cm_spec_get(s->root, "x-barbacane-middlewares");
    if (mw)
        s_middlewares(ctx, spec, mw, NULL, &s->globals, &s->nglobals);
    const cm_spec_node_t *waf = cm_spec_get(s->root, "x-barbacane-waf");
    if (waf && ctx->format != 4) {
        const cm_spec_node_t *en = cm_spec_get(waf, "enabled");
        if (cc_bool(en, true))
            CC_ERR(ctx, "E1080", spec, en && cc_bool(en, false) ? en : waf, NULL,
                   "x-barbacane-waf is enabled, but WAF rule sets are not compiled by this "
                   "control plane: the artifact is refused rather than shipped half-enforced "
                   "(set enabled: false to record the policy)");
    }
}

/* ---------------------------------------------------------------- operations */

static void s_dispatch(cc_ctx_t *ctx, cc_op_t *op)
{
    const cm_spec_node_t *d = cm_spec_get(op->node, "x-barbacane-dispatch");
    const cm_spec_node_t *name = cm_spec_get(d, "name");
    if (!d)
        CC_ERR(ctx, "E1020", op->spec, op->at, op, "operation has no x-barbacane-dispatch");
    else if (!cc_is_map(d))
        CC_ERR(ctx, "E1020", op->spec, d, op, "x-barbacane-dispatch must be a mapping with a "
               "'name', found a %s", cm_spec_kind_name(cm_spec_kind(d)));
    else if (!cc_str(name) || !*cc_str(name))
        CC_ERR(ctx, "E1020", op->spec, name ? name : d, op,
               "x-barbacane-dispatch has no plugin 'name'");
    else {
        s_use(&op->dispatch, op->spec, d, name);
        op->has_dispatch = true;
    }
}

/* Root entries the operation does not redefine by (bare) name, then the operation's own. */
static void s_merge(cc_ctx_t *ctx, cc_op_t *op, cc_use_t *own, size_t nown)
{
    const cc_spec_t *s = &ctx->specs[op->spec];
    cc_map_t *names = cc_map_new();
    op->chain = calloc(s->nglobals + nown + 1, sizeof *op->chain);
    if (!names || !op->chain) {
        ctx->oom = true;
        cc_map_destroy(&names, NULL);
        free(own);
        return;
    }
    for (size_t i = 0; i < nown; i++)
        if (cc_map_put(names, own[i].name, own[i].bare_len, ctx) < 0)
            ctx->oom = true;
    for (size_t i = 0; i < s->nglobals; i++)
        if (!cc_map_get(names, s->globals[i].name, s->globals[i].bare_len))
            op->chain[op->nchain++] = s->globals[i];
    for (size_t i = 0; i < nown; i++)
        op->chain[op->nchain++] = own[i];
    cc_map_destroy(&names, NULL);
    free(own);
}

static void s_chain(cc_ctx_t *ctx, cc_op_t *op)
{
    const cc_spec_t *s = &ctx->specs[op->spec];
    const cm_spec_node_t *mw = cm_spec_get(op->node, "x-barbacane-middlewares");
    cc_use_t *own = NULL;
    size_t nown = 0;
    if (!mw) {
        op->chain = s->nglobals ? malloc(s->nglobals * sizeof *op->chain) : NULL;
        if (s->nglobals && !op->chain) {
            ctx->oom = true;
            return;
        }
        if (s->nglobals)
            memcpy(op->chain, s->globals, s->nglobals * sizeof *op->chain);
        op->nchain = s->nglobals;
        return;
    }
    /* Not a sequence (E1012) or `[]`: no middlewares at all. */
    if (!s_middlewares(ctx, op->spec, mw, op, &own, &nown) || cm_spec_len(mw) == 0) {
        free(own);
        return;
    }
    s_merge(ctx, op, own, nown);
}

void cc_ext_operation(cc_ctx_t *ctx, cc_op_t *op)
{
    s_unknown(ctx, op->spec, op->node, op);
    s_dispatch(ctx, op);
    s_chain(ctx, op);
}

/* ---------------------------------------------------------------- MCP */

static const cm_spec_node_t *s_first_root(cc_ctx_t *ctx, const char *key, size_t *spec)
{
    for (size_t i = 0; i < ctx->nspecs; i++) {
        const cm_spec_node_t *v = ctx->specs[i].ok ? cm_spec_get(ctx->specs[i].root, key) : NULL;
        if (v) {
            if (spec)
                *spec = i;
            return v;
        }
    }
    return NULL;
}

void cc_mcp_root(cc_ctx_t *ctx, bool *enabled, const char **name, const char **version)
{
    const cm_spec_node_t *v = s_first_root(ctx, "x-barbacane-mcp", NULL);
    *enabled = cc_bool(cm_spec_get(v, "enabled"), false);
    *name = cc_str(cm_spec_get(v, "server_name"));
    *version = cc_str(cm_spec_get(v, "server_version"));
    if (*enabled && ctx->nspecs) {
        if (!*name)
            *name = ctx->specs[0].title;
        if (!*version)
            *version = ctx->specs[0].api_version;
    }
}

void cc_mcp_operation(cc_ctx_t *ctx, const cc_op_t *op, json_t *out)
{
    const cm_spec_node_t *root = s_first_root(ctx, "x-barbacane-mcp", NULL);
    bool root_on = cc_bool(cm_spec_get(root, "enabled"), false);
    const cm_spec_node_t *ext = cm_spec_get(op->node, "x-barbacane-mcp");
    const cm_spec_node_t *en = cm_spec_get(ext, "enabled");
    const char *desc = cc_str(cm_spec_get(ext, "description"));
    json_t *enabled = cm_spec_kind(en) == CM_NODE_BOOL && en ? json_boolean(cc_bool(en, false))
                    : root_on ? json_true() : json_null();
    json_object_set_new_nocheck(out, "mcp_enabled", enabled);
    json_object_set_new_nocheck(out, "mcp_description",
                                desc ? json_string_nocheck(desc) : json_null());
}

/* ---------------------------------------------------------------- WAF */

static int64_t s_i64(const cm_spec_node_t *n, int64_t dflt)
{
    int64_t v;
    return cm_spec_int(n, &v) == 0 ? v : dflt;
}

static bool s_in(const char *s, const char *const *set, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (!strcmp(s, set[i]))
            return true;
    return false;
}

bool cc_waf_policy(cc_ctx_t *ctx, cc_bca_waf_t *waf)
{
    static const char *const detection[] = {"detection-only", "detection_only", "detectiononly"};
    memset(waf, 0, sizeof *waf);
    waf->max_response_body = 1048576;
    const cm_spec_node_t *v = ctx->format == 4 ? NULL : s_first_root(ctx, "x-barbacane-waf", NULL);
    if (!v)
        return false;
    const cm_spec_node_t *th = cm_spec_get(v, "thresholds");
    const cm_spec_node_t *mrb = cm_spec_get(v, "max_response_body");
    const char *audit = cc_str(cm_spec_get(v, "audit"));
    int64_t pl = s_i64(cm_spec_get(v, "paranoia_level"), 1);
    waf->enabled = cc_bool(cm_spec_get(v, "enabled"), true);
    waf->ruleset = cc_str(cm_spec_get(v, "ruleset"));
    waf->paranoia_level = pl < 1 ? 1 : pl > 4 ? 4 : (int)pl;
    waf->detection_only = s_in(cc_str(cm_spec_get(v, "mode")), detection, 3);
    waf->inbound_threshold = s_i64(cm_spec_get(th, "inbound"), 5);
    waf->outbound_threshold = s_i64(cm_spec_get(th, "outbound"), 4);
    if (cm_spec_kind(mrb) == CM_NODE_INT && cm_spec_str(mrb, NULL)[0] != '-') {
        int64_t m;   /* as_u64: a non-negative integer, up to 2^64 - 1 */
        waf->max_response_body = cm_spec_int(mrb, &m) == 0 ? (uint64_t)m
                               : strtoull(cm_spec_str(mrb, NULL), NULL, 0);
    }
    waf->audit = audit && !strcmp(audit, "off")  ? CC_WAF_AUDIT_OFF
               : audit && !strcmp(audit, "on") ? CC_WAF_AUDIT_ON
                                                : CC_WAF_AUDIT_RELEVANT_ONLY;
    const char *unsupported = cc_str(cm_spec_get(v, "unsupported_rules"));
    waf->unsupported_skip = unsupported && !strcmp(unsupported, "skip");
    return true;
}
