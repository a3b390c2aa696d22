/* cc_checks.c — operation checks: templates E1054, sunset E1030, upstreams E1031, security
 * E1033/E1041, across operations E1010/E1050/E1055. Owns each document's scheme table. */
#include "cc_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------- security schemes */

static int s_scheme_cmp(const void *a, const void *b)
{
    return strcmp(((const cc_scheme_t *)a)->name, ((const cc_scheme_t *)b)->name);
}

const cc_scheme_t *cc_scheme_find(const cc_spec_t *s, const char *name)
{
    cc_scheme_t key = {.name = name};
    return s->nschemes ? bsearch(&key, s->schemes, s->nschemes, sizeof key, s_scheme_cmp)
                       : NULL;
}

static cc_scheme_kind_t s_api_key(const cm_spec_node_t *obj, cc_scheme_t *out)
{
    const char *in = cc_str(cm_spec_get(obj, "in"));
    char low[16] = "";
    for (size_t i = 0; in && in[i] && i + 1 < sizeof low; i++)
        low[i] = (char)tolower((unsigned char)in[i]);
    if (in && strlen(in) >= sizeof low)
        low[0] = '\0';
    out->header_node = cm_spec_get(obj, "name");
    out->header = cc_str(out->header_node);
    if (!strcmp(low, "header"))
        return out->header ? CC_SCHEME_KEY_HEADER : CC_SCHEME_OTHER;
    if (!strcmp(low, "cookie"))
        return CC_SCHEME_KEY_COOKIE;
    if (!strcmp(low, "query"))
        return CC_SCHEME_KEY_QUERY;
    return CC_SCHEME_OTHER;
}

static cc_scheme_kind_t s_kind(const cm_spec_node_t *obj, cc_scheme_t *out)
{
    const char *type = cc_str(cm_spec_get(obj, "type"));
    if (!type)
        return CC_SCHEME_OTHER;
    if (!strcmp(type, "apiKey") || !strcmp(type, "httpApiKey"))
        return s_api_key(obj, out);
    if (!strcmp(type, "http") || !strcmp(type, "oauth2") || !strcmp(type, "openIdConnect"))
        return CC_SCHEME_AUTHORIZATION;
    if (!strcmp(type, "mutualTLS"))
        return CC_SCHEME_MTLS;
    return CC_SCHEME_OTHER;
}

/* Marks the schemes a requirement list names as referenced. */
static void s_mark(cc_spec_t *s, const cm_spec_node_t *list)
{
    for (size_t i = 0; i < cm_spec_len(list); i++) {
        const cm_spec_node_t *req = cm_spec_at(list, i);
        for (size_t k = 0; cc_is_map(req) && k < cm_spec_len(req); k++) {
            cc_scheme_t *sc = (cc_scheme_t *)cc_scheme_find(s, cm_spec_key_at(req, k, NULL));
            if (sc)
                sc->referenced = true;
        }
    }
}

/* AsyncAPI names schemes by $ref from servers and operations. */
static void s_mark_refs(cc_spec_t *s, const cm_spec_node_t *owners)
{
    static const char prefix[] = "#/components/securitySchemes/";
    for (size_t i = 0; i < cm_spec_len(owners); i++) {
        const cm_spec_node_t *owner;
        cm_spec_key_at(owners, i, &owner);
        const cm_spec_node_t *list = cm_spec_get(owner, "security");
        for (size_t k = 0; k < cm_spec_len(list); k++) {
            const char *ref = cc_str(cm_spec_get(cm_spec_at(list, k), "$ref"));
            cc_scheme_t *sc = cc_starts_with(ref, prefix)
                ? (cc_scheme_t *)cc_scheme_find(s, ref + sizeof prefix - 1) : NULL;
            if (sc)
                sc->referenced = true;
        }
    }
}

void cc_security_schemes(cc_ctx_t *ctx, size_t spec)
{
    cc_spec_t *s = &ctx->specs[spec];
    const cm_spec_node_t *map = cm_spec_get(cm_spec_get(s->root, "components"), "securitySchemes");
    size_t n = cc_is_map(map) ? cm_spec_len(map) : 0;
    s->schemes = n ? calloc(n, sizeof *s->schemes) : NULL;
    if (n && !s->schemes) {
        ctx->oom = true;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const cm_spec_node_t *v;
        cc_scheme_t *sc = &s->schemes[s->nschemes++];
        sc->name = cm_spec_key_at(map, i, &v);
        sc->key = cm_spec_key_node_at(map, i);
        const cm_spec_node_t *obj = cc_follow(ctx, spec, v, NULL, NULL);
        sc->kind = obj ? s_kind(obj, sc) : CC_SCHEME_OTHER;
    }
    if (s->nschemes)
        qsort(s->schemes, s->nschemes, sizeof *s->schemes, s_scheme_cmp);
    const cm_spec_node_t *sec = cm_spec_get(s->root, "security");
    s->security = cc_is_seq(sec) ? sec : NULL;
    s_mark(s, s->security);
    if (s->asyncapi) {
        s_mark_refs(s, cm_spec_get(s->root, "servers"));
        s_mark_refs(s, cm_spec_get(s->root, "operations"));
    }
}

/* ---------------------------------------------------------------- one operation */

/* The reference's validate_path_template: the first problem, or NULL. */
static const char *s_template(cc_ctx_t *ctx, const char *path, char *param, size_t cap)
{
    const char *last = path + strlen(path), *seg_end = last;
    while (seg_end > path && seg_end[-1] == '/')
        seg_end--;
    const char *seg = seg_end;
    while (seg > path && seg[-1] != '/')
        seg--;
    cc_map_t *seen = cc_map_new();
    bool in = false, wildcard = false;
    size_t cur = 0;
    const char *why = seen ? NULL : "out of memory";
    for (const char *p = path; !why && *p;) {
        uint32_t cp;
        size_t k = cc_utf8_next(p, &cp);
        if (cp == '{') {
            why = in ? "nested braces are not allowed" : NULL;
            in = true, cur = 0;
        } else if (cp == '}') {
            bool plus = cur && param[cur - 1] == '+';
            size_t base = plus ? cur - 1 : cur;
            if (!in)
                why = "unmatched closing brace";
            else if (!base)
                why = "empty parameter name";
            else if (plus && wildcard)
                why = "at most one wildcard parameter ({name+}) is allowed per path";
            else if (plus && ((size_t)(seg_end - seg) != cur + 2 || seg[0] != '{' ||
                              memcmp(seg + 1, param, cur) || seg[cur + 1] != '}'))
                why = "a wildcard parameter must be the last path segment";
            else if (cc_map_get(seen, param, base))
                why = "duplicate parameter name";
            else if (cc_map_put(seen, param, base, ctx) < 0)
                why = "out of memory";
            wildcard = wildcard || plus;
            in = false;
        } else if (in) {
            if (cp != '+' && cp != '_' && !cc_is_alnum(ctx->loc, cp))
                why = "invalid character in a parameter name (letters, digits and '_')";
            else if (cur && param[cur - 1] == '+')
                why = "'+' may only end a wildcard parameter name, as in {key+}";
            else if (cur + k >= cap)
                why = "parameter name too long";
            else
                memcpy(param + cur, p, k), cur += k;
        }
        p += k;
    }
    if (!why && in)
        why = "unclosed brace";
    cc_map_destroy(&seen, NULL);
    return why;
}

/* The reference's extract_upstream_url, with the scheme compared case-insensitively. */
static const cm_spec_node_t *s_plain_upstream(const cm_spec_node_t *config)
{
    const cm_spec_node_t *url = cm_spec_get(config, "url"), *up = cm_spec_get(config, "upstream");
    const cm_spec_node_t *n = cc_str(url) ? url : up;
    const char *s = cc_str(n);
    return s && !strncasecmp(s, "http://", 7) ? n : NULL;
}

static bool s_needs_credential(const cc_spec_t *s, const cm_spec_node_t *list)
{
    for (size_t i = 0; i < cm_spec_len(list); i++) {
        const cm_spec_node_t *req = cm_spec_at(list, i);
        for (size_t k = 0; cc_is_map(req) && k < cm_spec_len(req); k++) {
            const cc_scheme_t *sc = cc_scheme_find(s, cm_spec_key_at(req, k, NULL));
            if (sc && sc->kind != CC_SCHEME_OTHER && sc->kind != CC_SCHEME_MTLS)
                return true;
        }
    }
    return false;
}

void cc_check_operation(cc_ctx_t *ctx, cc_op_t *op)
{
    cc_spec_t *s = &ctx->specs[op->spec];
    char param[256], ex[80];
    const char *why = s_template(ctx, op->path, param, sizeof param);
    if (why)
        CC_ERR(ctx, "E1054", op->spec, op->path_at, NULL, "invalid path template '%s': %s",
               cc_excerpt(ex, op->path), why);
    const cm_spec_node_t *sunset = cm_spec_get(op->node, "x-sunset");
    if (sunset && !cc_bool(cm_spec_get(op->node, "deprecated"), false))
        CC_ERR(ctx, "E1030", op->spec, sunset, op, "x-sunset without deprecated: true");
    const cm_spec_node_t *plain = op->has_dispatch && ctx->opts->production
                                ? s_plain_upstream(op->dispatch.config) : NULL;
    if (plain)
        CC_ERR(ctx, "E1031", op->spec, plain, op, "plaintext http:// upstream '%s' is not "
               "allowed in production", cc_excerpt(ex, cc_str(plain)));
    s_mark(s, op->own_security ? op->security : NULL);
    if (op->nchain == 0 && s_needs_credential(s, op->security))
        CC_WARN(ctx, "E1033", op->spec, op->security, op, "the operation requires a credential "
                "(security), but no middleware in its chain verifies it: the request reaches "
                "the upstream unauthenticated");
}

/* ---------------------------------------------------------------- across operations */

static char *s_where(const cc_ctx_t *ctx, const cc_op_t *op, const cm_spec_node_t *at)
{
    int line, column;
    cm_spec_mark(at, &line, &column);
    return cc_aprintf("%s:%d:%d", ctx->specs[op->spec].file, line, column);
}

/* /users/{id} -> /users/{_}, /files/{key+} -> /files/{_+} */
static char *s_normalize(const char *path)
{
    cc_buf_t b = {0};
    bool in = false, plus = false;
    for (const char *p = path; *p; p++) {
        if (*p == '{')
            cc_buf_str(&b, "{_"), in = true, plus = false;
        else if (*p == '}')
            cc_buf_str(&b, plus ? "+}" : "}"), in = false, plus = false;
        else if (in)
            plus = plus || *p == '+';
        else
            cc_buf_add(&b, p, 1);
    }
    if (!b.data)
        cc_buf_add(&b, "", 0);
    return b.failed ? (cc_buf_free(&b), NULL) : b.data;
}

/* Records key -> op; returns the earlier op with the same key, or NULL. */
static cc_op_t *s_first(cc_ctx_t *ctx, cc_map_t *m, const char *a, const char *b, cc_op_t *op)
{
    char *key = cc_aprintf("%s%c%s", a, 0x1f, b);
    if (!key) {
        ctx->oom = true;
        return NULL;
    }
    cc_op_t *first = cc_map_get(m, key, strlen(key));
    if (!first && cc_map_put(m, key, strlen(key), op) < 0)
        ctx->oom = true;
    free(key);
    return first;
}

static void s_duplicates(cc_ctx_t *ctx, cc_map_t *routes, cc_map_t *shapes, cc_map_t *ids,
                         cc_op_t *op)
{
    char ex[80];
    cc_op_t *first = s_first(ctx, routes, op->path, op->method, op);
    char *where = first ? s_where(ctx, first, first->at) : NULL;
    if (first)
        CC_ERR(ctx, "E1010", op->spec, op->at, op, "routing conflict: %s is also declared at %s",
               op->label, where ? where : "?");
    free(where);
    char *norm = s_normalize(op->path);
    first = norm ? s_first(ctx, shapes, norm, op->method, op) : NULL;
    if (first && strcmp(first->path, op->path)) {
        where = s_where(ctx, first, first->path_at);
        CC_ERR(ctx, "E1050", op->spec, op->path_at, op, "ambiguous route: '%s' and '%s' (at "
               "%s) differ only in parameter names", cc_excerpt(ex, op->path), first->path,
               where ? where : "?");
        free(where);
    }
    free(norm);
    if (!op->operation_id)
        return;
    first = s_first(ctx, ids, op->operation_id, "", op);
    if (first) {
        const cm_spec_node_t *at = ctx->specs[op->spec].asyncapi
                                 ? op->at : cm_spec_get(op->node, "operationId");
        where = s_where(ctx, first, first->at);
        CC_ERR(ctx, "E1055", op->spec, at, op, "duplicate operationId '%s' (first used by %s "
               "at %s)", cc_excerpt(ex, op->operation_id), first->label, where ? where : "?");
        free(where);
    }
}

void cc_check_all(cc_ctx_t *ctx)
{
    cc_map_t *routes = cc_map_new(), *shapes = cc_map_new(), *ids = cc_map_new();
    for (size_t i = 0; routes && shapes && ids && i < ctx->nops && !cc_cancelled(ctx); i++)
        s_duplicates(ctx, routes, shapes, ids, &ctx->ops[i]);
    if (!routes || !shapes || !ids)
        ctx->oom = true;
    cc_map_destroy(&routes, NULL);
    cc_map_destroy(&shapes, NULL);
    cc_map_destroy(&ids, NULL);
    for (size_t i = 0; i < ctx->nspecs; i++)
        for (size_t k = 0; k < ctx->specs[i].nschemes; k++)
            if (!ctx->specs[i].schemes[k].referenced)
                CC_WARN(ctx, "E1041", i, ctx->specs[i].schemes[k].key, NULL,
                        "security scheme '%s' is never referenced by a security requirement",
                        ctx->specs[i].schemes[k].name);
}
