/* cc_headers.c — allowed_request_headers (§6.4): header/cookie parameters, security schemes,
 * names in plugin configurations; E1056 for x-auth-*. Owns the name set it builds. */
#include "cc_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    cc_ctx_t *ctx;
    const cc_op_t *op;
    cc_map_t *seen;
    char **names;
    size_t n, cap;
    const char *source;                 /* for E1056 messages */
    size_t spec;
    const cm_spec_node_t *at;
} s_set_t;

/* reserved_checked: trimmed, ASCII-lowercased, refused in the x-auth-* namespace. */
static void s_add(s_set_t *s, const char *name, size_t len)
{
    char *low = cc_strndup(name, len);
    if (!low) {
        s->ctx->oom = true;
        return;
    }
    for (char *c = low; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    if (!strncmp(low, "x-auth-", 7)) {
        char ex[80];
        if (s->at)
            CC_ERR(s->ctx, "E1056", s->spec, s->at, s->op, "%s names header '%s', in the "
                   "reserved x-auth-* namespace (authentication plugins write those headers)",
                   s->source, cc_excerpt(ex, low));
        free(low);
        return;
    }
    if (cc_map_get(s->seen, low, len) || s->n == SIZE_MAX) {
        free(low);
        return;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        char **p = realloc(s->names, cap * sizeof *p);
        if (!p) {
            s->ctx->oom = true;
            free(low);
            return;
        }
        s->names = p;
        s->cap = cap;
    }
    if (cc_map_put(s->seen, low, len, s) < 0)
        s->ctx->oom = true;
    s->names[s->n++] = low;
}

static void s_add_trimmed(s_set_t *s, const char *name)
{
    size_t len;
    const char *t = cc_trim(s->ctx->loc, name, &len);
    s_add(s, t, len);
}

/* push_header_name: a found name that is empty or holds a space is not one. */
static void s_push(s_set_t *s, const char *name, size_t len)
{
    char *copy = cc_strndup(name, len);
    if (!copy) {
        s->ctx->oom = true;
        return;
    }
    size_t tl;
    const char *t = cc_trim(s->ctx->loc, copy, &tl);
    if (tl && !memchr(t, ' ', tl))
        s_add(s, t, tl);
    free(copy);
}

/* ---------------------------------------------------------------- plugin configurations */

static bool s_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.';
}

/* `$request.header.X` / `$header.X` markers, then `headers['X']` subscripts. */
static void s_references(s_set_t *s, const char *text)
{
    static const char *const markers[] = {"$request.header.", "$header."};
    const char *rest = text, *hit[2];
    for (int m = 0; m < 2; m++)     /* each marker's next hit, searched again only once used */
        hit[m] = strstr(text, markers[m]);
    for (;;) {
        for (int m = 0; m < 2; m++)
            if (hit[m] && hit[m] < rest)
                hit[m] = strstr(rest, markers[m]);
        int m = hit[0] && (!hit[1] || hit[0] < hit[1]) ? 0 : 1;
        if (!hit[m])
            break;
        const char *name = hit[m] + strlen(markers[m]), *end = name;
        while (*end && s_name_char(*end))
            end++;
        s_push(s, name, (size_t)(end - name));
        rest = end;
    }
    for (rest = text; (rest = strstr(rest, "headers[")) != NULL;) {
        rest += strlen("headers[");
        char quote = *rest;
        if (quote != '\'' && quote != '"')
            continue;
        const char *body = rest + 1, *end = strchr(body, quote);
        if (!end)
            break;
        s_push(s, body, (size_t)(end - body));
        rest = end + 1;
    }
}

static void s_header_names(s_set_t *s, const json_t *v, int depth)
{
    if (json_is_string(v))
        s_push(s, json_string_value(v), json_string_length(v));
    for (size_t i = 0; json_is_array(v) && depth < CC_MAX_NEST && i < json_array_size(v); i++)
        s_header_names(s, json_array_get(v, i), depth + 1);
}

static void s_header_refs(s_set_t *s, const json_t *v, int depth)
{
    const char *key;
    json_t *sub;
    if (depth > CC_MAX_NEST)
        return;
    if (json_is_string(v)) {
        const char *t = json_string_value(v);
        if (cc_starts_with(t, "header:"))
            s_push(s, t + 7, strlen(t + 7));
        else
            s_references(s, t);
    }
    for (size_t i = 0; json_is_array(v) && i < json_array_size(v); i++)
        s_header_refs(s, json_array_get(v, i), depth + 1);
    if (json_is_object(v))
        json_object_foreach((json_t *)v, key, sub)
            s_header_refs(s, sub, depth + 1);
}

/* collect_configured_header_names: the configuration walked alongside its schema. */
static void s_walk(s_set_t *s, const json_t *schema, const json_t *value, int depth)
{
    const char *fmt = json_string_value(json_object_get(schema, "format")), *key;
    json_t *sub, *entry;
    if (depth > CC_MAX_NEST || cc_step(s->ctx))
        return;
    if (fmt && !strcmp(fmt, "header-name")) {
        s_header_names(s, value, depth);
        return;
    }
    if (fmt && !strcmp(fmt, "header-ref")) {
        s_header_refs(s, value, depth);
        return;
    }
    if (fmt && !strcmp(fmt, "header-name-map")) {
        if (json_is_object(value))
            json_object_foreach((json_t *)value, key, entry)
                s_push(s, key, strlen(key));
        return;
    }
    json_t *props = json_object_get(schema, "properties");
    if (json_is_object(props))
        json_object_foreach(props, key, sub) {
            json_t *given = json_is_object(value) ? json_object_get(value, key) : NULL;
            json_t *dflt = json_object_get(sub, "default");
            if (given || dflt)
                s_walk(s, sub, given ? given : dflt, depth + 1);
        }
    static const char *const shared[] = {"items", "additionalProperties"};
    for (int k = 0; k < 2; k++) {
        if (!(sub = json_object_get(schema, shared[k])))
            continue;
        for (size_t i = 0; json_is_array(value) && i < json_array_size(value); i++)
            s_walk(s, sub, json_array_get(value, i), depth + 1);
        if (json_is_object(value))
            json_object_foreach((json_t *)value, key, entry)
                s_walk(s, sub, entry, depth + 1);
    }
}

static void s_config(s_set_t *s, const cc_use_t *use)
{
    if (use->plug < 0)
        return;
    const cc_plug_t *p = &s->ctx->plugs[use->plug];
    if (p->state != 1 || !p->schema)
        return;
    json_t *config = cc_config_json(s->ctx, use);
    char source[120];
    snprintf(source, sizeof source, "the configuration of plugin '%s'", p->name);
    s->source = source;
    s->spec = use->spec;
    s->at = use->config ? use->config : use->entry;
    if (config)
        s_walk(s, p->schema, config, 0);
    json_decref(config);
}

/* ---------------------------------------------------------------- the allowlist */

static void s_security(s_set_t *s)
{
    const cc_spec_t *spec = &s->ctx->specs[s->op->spec];
    const cm_spec_node_t *list = s->op->security;
    for (size_t i = 0; i < cm_spec_len(list); i++) {
        const cm_spec_node_t *req = cm_spec_at(list, i);
        for (size_t k = 0; cc_is_map(req) && k < cm_spec_len(req); k++) {
            const cc_scheme_t *sc = cc_scheme_find(spec, cm_spec_key_at(req, k, NULL));
            if (!sc)
                continue;
            if (sc->kind == CC_SCHEME_KEY_HEADER) {
                s->source = "security scheme";
                s->spec = s->op->spec;
                s->at = sc->header_node;
                s_add_trimmed(s, sc->header);
            } else if (sc->kind == CC_SCHEME_KEY_COOKIE)
                s_add(s, "cookie", 6);
            else if (sc->kind == CC_SCHEME_AUTHORIZATION)
                s_add(s, "authorization", 13);
        }
    }
}

static int s_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

json_t *cc_allowed_headers(cc_ctx_t *ctx, const cc_op_t *op, const json_t *parameters)
{
    s_set_t s = {.ctx = ctx, .op = op, .seen = cc_map_new()};
    if (!s.seen) {
        ctx->oom = true;
        return NULL;
    }
    for (size_t i = 0; i < json_array_size(parameters); i++) {
        const json_t *p = json_array_get(parameters, i);
        const char *loc = json_string_value(json_object_get(p, "location"));
        s.at = NULL;   /* header parameters were checked for x-auth-* where they are written */
        if (loc && !strcmp(loc, "header"))
            s_add_trimmed(&s, json_string_value(json_object_get(p, "name")));
        else if (loc && !strcmp(loc, "cookie"))
            s_add(&s, "cookie", 6);
    }
    s_security(&s);
    for (size_t i = 0; i < op->nchain; i++)
        s_config(&s, &op->chain[i]);
    if (op->has_dispatch)
        s_config(&s, &op->dispatch);
    if (s.n)
        qsort(s.names, s.n, sizeof *s.names, s_cmp);
    json_t *arr = json_array();
    for (size_t i = 0; i < s.n; i++) {
        if (arr && json_array_append_new(arr, json_string_nocheck(s.names[i])) < 0)
            ctx->oom = true;
        free(s.names[i]);
    }
    free(s.names);
    cc_map_destroy(&s.seen, NULL);
    if (!arr)
        ctx->oom = true;
    return arr;
}
