/* cc_plugins.c — plugins: one version per name, looked up once; E1021, E1022, E1024, and E1023
 * (configurations against config_schema). Owns ctx->plugs and what they hold. */
#include "cc_int.h"
#include "cm_wasm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cc_plugin_clear(cc_plugin_t *p)
{
    if (!p)
        return;
    free(p->name);
    free(p->version);
    free(p->plugin_type);
    free(p->wasm);
    free(p->config_schema);
    for (size_t i = 0; i < p->n_host_functions; i++)
        free(p->host_functions ? p->host_functions[i] : NULL);
    free(p->host_functions);
    memset(p, 0, sizeof *p);
}

static int s_slot(cc_ctx_t *ctx, const char *name, size_t n)
{
    size_t idx = (size_t)(uintptr_t)cc_map_get(ctx->plug_index, name, n);
    if (idx)
        return (int)(idx - 1);
    if (ctx->nplugs == ctx->plugs_cap) {
        size_t cap = ctx->plugs_cap ? ctx->plugs_cap * 2 : 8;
        cc_plug_t *p = realloc(ctx->plugs, cap * sizeof *p);
        if (!p)
            return -1;
        ctx->plugs = p;
        ctx->plugs_cap = cap;
    }
    cc_plug_t *p = &ctx->plugs[ctx->nplugs];
    memset(p, 0, sizeof *p);
    p->name = cc_strndup(name, n);
    if (!p->name || cc_map_put(ctx->plug_index, name, n, (void *)(uintptr_t)(ctx->nplugs + 1)))
        return free(p->name), -1;
    return (int)ctx->nplugs++;
}

/* Registers one use: its slot, and its pinned version (E1022 when two pins differ). */
static void s_register(cc_ctx_t *ctx, const cc_op_t *op, cc_use_t *use)
{
    char ex[80];
    const char *at = strchr(use->name, '@');
    if (!cm_plugin_name_valid(use->name, use->bare_len)) {
        CC_ERR(ctx, "E1021", use->spec, use->name_node, op, "plugin '%s' is not in the "
               "registry (not a valid plugin name)", cc_excerpt(ex, use->name));
        return;
    }
    if (at && !at[1]) {
        CC_ERR(ctx, "E1022", use->spec, use->name_node, op, "plugin reference '%s' pins an "
               "empty version", cc_excerpt(ex, use->name));
        return;
    }
    int slot = s_slot(ctx, use->name, use->bare_len);
    if (slot < 0) {
        ctx->oom = true;
        return;
    }
    use->plug = slot;
    cc_plug_t *p = &ctx->plugs[slot];
    if (at && !p->pinned && !(p->pinned = cc_strdup(at + 1)))
        ctx->oom = true;
    else if (at && strcmp(p->pinned, at + 1))
        CC_ERR(ctx, "E1022", use->spec, use->name_node, op, "two different pinned versions of "
               "plugin '%s' in one artifact: %s and %s", p->name, p->pinned,
               cc_excerpt(ex, at + 1));
}

static void s_lookup(cc_ctx_t *ctx, cc_plug_t *p)
{
    int rc = ctx->lookup(ctx->lookup_arg, p->name, p->pinned, &p->rec);
    if (rc < 0) {
        ctx->retry = true;
        snprintf(ctx->reason, sizeof ctx->reason, "plugin lookup failed for '%s'", p->name);
        cc_plugin_clear(&p->rec);
        return;
    }
    if (rc == 0 || !p->rec.version || !p->rec.plugin_type || (!p->rec.wasm && p->rec.wasm_len)) {
        cc_plugin_clear(&p->rec);
        p->state = 2;
        return;
    }
    p->state = 1;
    const char *text = p->rec.config_schema ? p->rec.config_schema : "{}";
    json_error_t jerr;
    p->schema = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    p->schema_bad = !p->schema;
}

/* E1021/E1022 for uses of a missing plugin, E1024 for a type mismatch. */
static void s_verdict(cc_ctx_t *ctx, const cc_op_t *op, const cc_use_t *use,
                      const char *expected)
{
    char ex[80];
    if (use->plug < 0)
        return;
    cc_plug_t *p = &ctx->plugs[use->plug];
    if (p->state == 2 && p->pinned)
        CC_ERR(ctx, "E1022", use->spec, use->name_node, op, "plugin '%s' version '%s' is not "
               "in the registry", p->name, p->pinned);
    else if (p->state == 2)
        CC_ERR(ctx, "E1021", use->spec, use->name_node, op, "plugin '%s' is not in the "
               "registry", cc_excerpt(ex, p->name));
    else if (p->state == 1 && strcmp(p->rec.plugin_type, expected))
        CC_ERR(ctx, "E1024", use->spec, use->name_node, op, "plugin '%s' is a %s, used here "
               "as a %s", p->name, p->rec.plugin_type, expected);
    else if (p->state == 1)
        p->bundled = true;
}

void cc_plugins_resolve(cc_ctx_t *ctx)
{
    for (size_t i = 0; i < ctx->nops && !ctx->oom; i++) {
        cc_op_t *op = &ctx->ops[i];
        if (op->has_dispatch)
            s_register(ctx, op, &op->dispatch);
        for (size_t k = 0; k < op->nchain; k++)
            s_register(ctx, op, &op->chain[k]);
    }
    for (size_t i = 0; i < ctx->nplugs && !cc_cancelled(ctx); i++)
        s_lookup(ctx, &ctx->plugs[i]);
    for (size_t i = 0; i < ctx->nops && !cc_cancelled(ctx); i++) {
        cc_op_t *op = &ctx->ops[i];
        if (op->has_dispatch)
            s_verdict(ctx, op, &op->dispatch, "dispatcher");
        for (size_t k = 0; k < op->nchain; k++)
            s_verdict(ctx, op, &op->chain[k], "middleware");
    }
}

/* ---------------------------------------------------------------- E1023 */

typedef struct {
    cc_ctx_t *ctx;
    const cc_op_t *op;
    const cc_use_t *use;
    const char *plugin;
    size_t count;
} s_report_t;

static void s_on_error(void *arg, const char *instance_ptr, const char *keyword_ptr,
                       const char *message)
{
    s_report_t *r = arg;
    if (++r->count > CC_MAX_CONFIG_ERRORS) {
        if (r->count == CC_MAX_CONFIG_ERRORS + 1)
            CC_ERR(r->ctx, "E1023", r->use->spec, r->use->entry, r->op, "plugin '%s': more "
                   "than %d configuration errors, the rest are not shown", r->plugin,
                   CC_MAX_CONFIG_ERRORS);
        return;
    }
    const cm_spec_node_t *at = r->use->config ? cc_node_at(r->use->config, instance_ptr) : NULL;
    if (!at)
        at = r->use->config ? r->use->config : r->use->entry;
    char ex[80];
    CC_ERR(r->ctx, "E1023", r->use->spec, at, r->op, "plugin '%s' config%s%s: %s (schema %s)",
           r->plugin, *instance_ptr ? " at " : "", cc_excerpt(ex, instance_ptr),
           message ? message : "invalid", keyword_ptr && *keyword_ptr ? keyword_ptr : "/");
}

static bool s_validator(cc_ctx_t *ctx, cc_plug_t *p)
{
    if (p->validator || p->validator_failed)
        return p->validator != NULL;
    cc_schema_opts_t o = {.format_assertion = ctx->opts->format_assertion};
    p->validator = cc_schema_new(p->schema, &o, p->validator_err, sizeof p->validator_err);
    p->validator_failed = !p->validator;
    return p->validator != NULL;
}

void cc_plugins_validate(cc_ctx_t *ctx, const cc_op_t *op, const cc_use_t *use)
{
    if (use->plug < 0 || ctx->plugs[use->plug].state != 1)
        return;
    cc_plug_t *p = &ctx->plugs[use->plug];
    char key[64];
    int kl = snprintf(key, sizeof key, "v%d:%p", use->plug,
                      use->config ? (const void *)use->config : (const void *)use->entry);
    if (cc_map_get(ctx->checked, key, (size_t)kl))
        return;
    if (cc_map_put(ctx->checked, key, (size_t)kl, ctx) < 0)
        ctx->oom = true;
    if (p->schema_bad) {
        CC_ERR(ctx, "E1023", use->spec, use->name_node, op, "plugin '%s' has a config_schema "
               "that is not JSON, so its configuration cannot be checked", p->name);
        return;
    }
    if (json_is_object(p->schema) && json_object_size(p->schema) == 0)
        return;   /* {} accepts everything */
    if (!s_validator(ctx, p)) {
        CC_ERR(ctx, "E1023", use->spec, use->name_node, op, "the config_schema of plugin '%s' "
               "is not a usable JSON Schema: %s", p->name, p->validator_err);
        return;
    }
    json_t *config = cc_config_json(ctx, use);
    if (!config)
        return;
    s_report_t r = {ctx, op, use, p->name, 0};
    cc_schema_validate(p->validator, config, s_on_error, &r);
    json_decref(config);
}

void cc_plugins_free(cc_ctx_t *ctx)
{
    for (size_t i = 0; i < ctx->nplugs; i++) {
        cc_plug_t *p = &ctx->plugs[i];
        free(p->name);
        free(p->pinned);
        cc_plugin_clear(&p->rec);
        json_decref(p->schema);
        cc_schema_destroy(&p->validator);
    }
    free(ctx->plugs);
    ctx->plugs = NULL;
    ctx->nplugs = ctx->plugs_cap = 0;
    cc_map_destroy(&ctx->plug_index, NULL);
}
