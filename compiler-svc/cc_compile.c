/* cc_compile.c — the compiler's driver: phases in order, spec file names (§11.3), artifact
 * input, the result. Owns the compilation context for the length of one cc_compile call. */
#include "cc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cc_json.h"

#ifndef BB_VERSION
#define BB_VERSION "0.0.0"
#endif

#define S_NAME_MAX 94                   /* so "specs/<file>" fits a 100-byte tar name */
#define S_EXT_MAX 16

/* ---------------------------------------------------------------- file names */

/* A basename of [A-Za-z0-9._-] (anything else becomes '_'), never empty, "." or "..". */
static char *s_clean(const char *file)
{
    const char *base = file ? file : "";
    for (const char *p = base; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    char *out = cc_strdup(base);
    for (char *p = out; p && *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            *p = '_';
    if (out && (!*out || strspn(out, ".") == strlen(out))) {
        free(out);
        out = cc_strdup("spec");
    }
    return out;
}

/* stem + suffix + ext, the stem cut so the whole fits S_NAME_MAX bytes. */
static char *s_fit(const char *stem, size_t stem_len, const char *ext, const char *suffix)
{
    size_t room = S_NAME_MAX - strlen(suffix) - strlen(ext);
    if (stem_len > room)
        stem_len = room;
    return cc_aprintf("%.*s%s%s", (int)stem_len, stem, suffix, ext);
}

/* The first use of a name keeps it; later ones get -2, -3, ... before the extension. */
static char *s_unique(cc_map_t *taken, const char *file)
{
    char *clean = s_clean(file), *name = NULL;
    if (!clean)
        return NULL;
    const char *dot = strrchr(clean, '.');
    const char *ext = dot && dot != clean && strlen(dot) <= S_EXT_MAX ? dot : "";
    size_t stem_len = strlen(clean) - strlen(ext);
    for (unsigned n = 1; n < 100000; n++) {
        char suffix[16] = "";
        if (n > 1)
            snprintf(suffix, sizeof suffix, "-%u", n);
        free(name);
        name = s_fit(clean, stem_len, ext, suffix);
        if (!name || !cc_map_get(taken, name, strlen(name)))
            break;
    }
    free(clean);
    if (name && cc_map_put(taken, name, strlen(name), name) < 0) {
        free(name);
        return NULL;
    }
    return name;
}

/* ---------------------------------------------------------------- loading */

static void s_issue(cc_ctx_t *ctx, size_t spec, const cm_spec_issue_t *is)
{
    if (is->code == CM_SPEC_E_INTERNAL) {
        ctx->oom = true;
        snprintf(ctx->reason, sizeof ctx->reason, "%s", is->message);
        return;
    }
    char code[8];
    snprintf(code, sizeof code, "E%04d", is->code % 10000);
    cc_add_at(ctx, CC_SEV_ERROR, code, spec, is->line, is->column, is->message);
}

static void s_load(cc_ctx_t *ctx, size_t i)
{
    cc_spec_t *s = &ctx->specs[i];
    cm_spec_issue_t issues[CC_MAX_LOAD_ISSUES];
    size_t n = 0;
    s->doc = cm_spec_load(s->input->data ? (const void *)s->input->data : "",
                          s->input->data ? s->input->len : 0, NULL, issues,
                          CC_MAX_LOAD_ISSUES, &n);
    if (!s->doc) {
        for (size_t k = 0; k < n; k++)
            s_issue(ctx, i, &issues[k]);
        if (!n)
            cc_add_at(ctx, CC_SEV_ERROR, "E1002", i, 0, 0, "the document could not be parsed");
        return;
    }
    cm_spec_type_t type;
    if (cm_spec_classify(s->doc, &type, &s->version, &s->title, &issues[0]) < 0) {
        s_issue(ctx, i, &issues[0]);
        return;
    }
    s->root = cm_spec_root(s->doc);
    s->ok = true;
    s->asyncapi = type == CM_SPEC_ASYNCAPI;
    s->openapi30 = !s->asyncapi && cc_starts_with(s->version, "3.0");
    s->api_version = cc_str(cm_spec_get(cm_spec_get(s->root, "info"), "version"));
    if (!s->api_version)
        s->api_version = "0.0.0";
}

/* Root extensions, security schemes, then every operation with its own checks. */
static void s_collect(cc_ctx_t *ctx, size_t i)
{
    cc_spec_t *s = &ctx->specs[i];
    cc_ext_root(ctx, i);
    cc_security_schemes(ctx, i);
    size_t first = ctx->nops;
    if (s->asyncapi)
        cc_asyncapi_collect(ctx, i);
    else
        cc_openapi_collect(ctx, i);
    for (size_t k = first; k < ctx->nops && !cc_cancelled(ctx); k++) {
        cc_ext_operation(ctx, &ctx->ops[k]);
        cc_check_operation(ctx, &ctx->ops[k]);
    }
}

/* ---------------------------------------------------------------- the artifact */

static void s_config_free(void *v)
{
    json_decref(v);
}

static void s_now(char out[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static size_t s_bundle(cc_ctx_t *ctx, cc_bca_plugin_t *out, cc_result_t *res, bool *caps)
{
    size_t n = 0;
    *caps = true;
    for (size_t i = 0; i < ctx->nplugs; i++) {
        const cc_plug_t *p = &ctx->plugs[i];
        if (!p->bundled)
            continue;
        out[n] = (cc_bca_plugin_t){p->name, p->rec.version, p->rec.plugin_type, p->rec.wasm,
                                   p->rec.wasm_len, p->rec.body_access,
                                   (const char *const *)p->rec.host_functions,
                                   p->rec.n_host_functions};
        *caps = *caps && p->rec.caps_from_manifest;
        res->plugins[n].name = cc_strdup(p->name);
        res->plugins[n].version = cc_strdup(p->rec.version);
        if (!res->plugins[n].name || !res->plugins[n].version)
            ctx->oom = true;
        n++;
    }
    res->nplugins = n;
    *caps = *caps && n > 0;
    return n;
}

/* What this compiler vouches for about the routes.json it rendered (cc_routes.c writes serde's
 * pretty form, indexes by position and stops at E1051 nesting), so the writer does not parse
 * 20 MB of its own output again. names gets the plugins written into it. NULL when a use had
 * no plugin slot: then the writer checks the text in full. */
static const cc_bca_routes_facts_t *s_facts(cc_ctx_t *ctx, cc_bca_routes_facts_t *f,
                                            const char **names)
{
    if (ctx->routes_unsure)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < ctx->nplugs; i++)
        if (ctx->plugs[i].routed)
            names[n++] = ctx->plugs[i].name;
    *f = (cc_bca_routes_facts_t){ctx->routes_written, names, n};
    return f;
}

/* The values cached for rendering are not needed past routes.json: freed before the artifact
 * is written, the writer's buffers reuse their memory. */
static void s_drop_caches(cc_ctx_t *ctx)
{
    cc_map_destroy(&ctx->cache, cc_cache_free);
    cc_map_destroy(&ctx->configs, s_config_free);
    cc_map_destroy(&ctx->checked, NULL);
    cc_map_destroy(&ctx->shared, cc_render_free);
}

static void s_artifact(cc_ctx_t *ctx, cc_result_t *out)
{
    cc_bca_spec_t *specs = calloc(ctx->nspecs, sizeof *specs);
    cc_bca_plugin_t *plugs = calloc(ctx->nplugs + 1, sizeof *plugs);
    const char **names = calloc(ctx->nplugs + 1, sizeof *names);
    out->plugins = calloc(ctx->nplugs + 1, sizeof *out->plugins);
    if (!specs || !plugs || !names || !out->plugins) {
        ctx->oom = true;
        free(specs);
        free(plugs);
        free(names);
        return;
    }
    s_drop_caches(ctx);
    cc_bca_routes_facts_t facts;
    for (size_t i = 0; i < ctx->nspecs; i++) {
        const cc_spec_t *s = &ctx->specs[i];
        specs[i] = (cc_bca_spec_t){s->file, s->input->data, s->input->len,
                                   s->asyncapi ? "asyncapi" : "openapi", s->version};
    }
    char now[32];
    s_now(now);
    cc_bca_input_t in = {
        .format = ctx->format,
        .compiled_at = ctx->opts->compiled_at ? ctx->opts->compiled_at : now,
        .compiler_version = ctx->opts->compiler_version ? ctx->opts->compiler_version : BB_VERSION,
        .specs = specs, .nspecs = ctx->nspecs, .plugins = plugs,
        .routes_json = ctx->routes.data, .routes_len = ctx->routes.len,
        .routes_count = ctx->routes_count,
        .routes_facts = s_facts(ctx, &facts, names),
        .provenance_commit = ctx->opts->provenance_commit,
        .provenance_source = ctx->opts->provenance_source,
    };
    in.nplugins = s_bundle(ctx, plugs, out, &in.capabilities_enforced);
    cc_mcp_root(ctx, &in.mcp_enabled, &in.mcp_server_name, &in.mcp_server_version);
    in.has_waf = cc_waf_policy(ctx, &in.waf);
    char err[256] = "";
    if (!ctx->oom && cc_bca_build(&in, &out->artifact, err, sizeof err) < 0) {
        ctx->oom = true;
        snprintf(ctx->reason, sizeof ctx->reason, "artifact: %.200s", err);
    }
    free(specs);
    free(plugs);
    free(names);
}

/* ---------------------------------------------------------------- the compilation */

static bool s_init(cc_ctx_t *ctx, const cc_input_t *inputs, size_t n, const cc_options_t *opts,
                   cc_plugin_lookup_fn *lookup, void *arg)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->opts = opts;
    ctx->format = opts->artifact_format == 4 ? 4 : 6;
    ctx->max_depth = opts->max_schema_depth ? opts->max_schema_depth : 32;
    ctx->max_props = opts->max_schema_properties ? opts->max_schema_properties : 256;
    ctx->max_findings = opts->max_findings ? opts->max_findings : 1000;
    ctx->lookup = lookup;
    ctx->lookup_arg = arg;
    /* Unicode classes (hoisted names, path templates, trimming) come from C.UTF-8: without it
     * the same job would give different artifacts on different hosts, so none is made. */
    ctx->loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    if (!ctx->loc)
        snprintf(ctx->reason, sizeof ctx->reason, "the C.UTF-8 locale is not available");
    ctx->dedupe = cc_map_new();
    ctx->plug_index = cc_map_new();
    ctx->cache = cc_map_new();
    ctx->configs = cc_map_new();
    ctx->checked = cc_map_new();
    ctx->shared = cc_map_new();
    ctx->specs = calloc(n, sizeof *ctx->specs);
    cc_map_t *names = cc_map_new();
    bool ok = ctx->loc && ctx->dedupe && ctx->plug_index && ctx->cache && ctx->configs &&
              ctx->checked && ctx->shared && ctx->specs && names;
    for (size_t i = 0; ok && i < n; i++) {
        ctx->specs[i].input = &inputs[i];
        ctx->specs[i].file = s_unique(names, inputs[i].file);
        ctx->nspecs = i + 1;
        ok = ctx->specs[i].file != NULL;
    }
    cc_map_destroy(&names, NULL);
    return ok;
}

static void s_fini(cc_ctx_t *ctx)
{
    for (size_t i = 0; i < ctx->nops; i++) {
        free(ctx->ops[i].method);
        free(ctx->ops[i].label);
        free(ctx->ops[i].chain);
    }
    free(ctx->ops);
    for (size_t i = 0; i < ctx->nspecs; i++) {
        free(ctx->specs[i].file);
        free(ctx->specs[i].schemes);
        free(ctx->specs[i].globals);
        cc_map_destroy(&ctx->specs[i].channels, NULL);
        cm_spec_doc_destroy(&ctx->specs[i].doc);
    }
    free(ctx->specs);
    cc_plugins_free(ctx);
    cc_findings_free(ctx);
    cc_map_destroy(&ctx->cache, cc_cache_free);
    cc_map_destroy(&ctx->configs, s_config_free);
    cc_map_destroy(&ctx->checked, NULL);
    cc_map_destroy(&ctx->shared, cc_render_free);
    cc_buf_free(&ctx->routes);
    if (ctx->loc)
        freelocale(ctx->loc);
}

static void s_run(cc_ctx_t *ctx)
{
    for (size_t i = 0; i < ctx->nspecs && !cc_cancelled(ctx); i++)
        s_load(ctx, i);
    for (size_t i = 0; i < ctx->nspecs && !cc_cancelled(ctx); i++)
        if (ctx->specs[i].ok)
            s_collect(ctx, i);
    if (!cc_cancelled(ctx))
        cc_check_all(ctx);
    if (!cc_cancelled(ctx))
        cc_plugins_resolve(ctx);
    if (!cc_cancelled(ctx))
        cc_routes_build(ctx);
}

static cc_status_t s_status(cc_ctx_t *ctx, cc_result_t *out)
{
    if (ctx->cancelled)
        snprintf(out->reason, sizeof out->reason, "cancelled");
    else if (ctx->retry || ctx->oom)
        snprintf(out->reason, sizeof out->reason, "%s",
                 ctx->reason[0] ? ctx->reason : "out of memory");
    return ctx->cancelled ? CC_CANCELLED : ctx->retry ? CC_RETRY : ctx->oom ? CC_INTERNAL
         : ctx->nerr ? CC_INVALID : CC_OK;
}

cc_status_t cc_compile(const cc_input_t *inputs, size_t n, const cc_options_t *opts,
                       cc_plugin_lookup_fn *lookup, void *arg, cc_result_t *out)
{
    static const cc_options_t defaults = {0};
    if (!out)
        return CC_INTERNAL;
    memset(out, 0, sizeof *out);
    if (!inputs || n == 0 || !lookup) {
        out->status = CC_INTERNAL;
        snprintf(out->reason, sizeof out->reason, "cc_compile: no input or no plugin lookup");
        return out->status;
    }
    cc_ctx_t ctx;
    if (s_init(&ctx, inputs, n, opts ? opts : &defaults, lookup, arg))
        s_run(&ctx);
    else
        ctx.oom = true;
    if (s_status(&ctx, out) == CC_OK && !ctx.opts->check_only)
        s_artifact(&ctx, out);
    out->status = s_status(&ctx, out);
    if (out->status == CC_OK) {
        out->routes_json = ctx.routes.data;
        out->routes_len = ctx.routes.len;
        out->routes_count = ctx.routes_count;
        memset(&ctx.routes, 0, sizeof ctx.routes);
    }
    cc_findings_finish(&ctx, out);
    s_fini(&ctx);
    return out->status;
}

void cc_result_free(cc_result_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nfindings; i++) {
        free(r->findings[i].message);
        free(r->findings[i].location);
        free(r->findings[i].operation);
    }
    free(r->findings);
    for (size_t i = 0; i < r->nplugins; i++) {
        free(r->plugins[i].name);
        free(r->plugins[i].version);
    }
    free(r->plugins);
    free(r->routes_json);
    cc_bca_free(&r->artifact);
    memset(r, 0, sizeof *r);
}

json_t *cc_findings_json(const cc_result_t *r, cc_severity_t severity)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && r && i < r->nfindings; i++) {
        const cc_finding_t *f = &r->findings[i];
        if (f->severity != severity)
            continue;
        json_t *o = json_pack("{s:s, s:s, s:s?, s:s?}", "code", f->code, "message", f->message,
                              "location", f->location, "operation", f->operation);
        if (!o || json_array_append_new(arr, o) < 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}
