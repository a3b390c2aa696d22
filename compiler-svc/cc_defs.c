/* cc_defs.c — one schema position made self-contained (BCA-FORMAT §7.1 $defs, OpenAPI 3.0
 * bounds), its E1051/E1052 measure, and a cache of shared positions. Owns the cache entries. */
#include "cc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Local $defs names in force below an object that declared them (innermost first). */
typedef struct s_scope {
    const struct s_scope *up;
    const char **from;                  /* declared names, sorted */
    const char **to;                    /* hoisted names */
    size_t n;
} s_scope_t;

/* The definitions table D of one schema position. */
typedef struct {
    cc_ctx_t *ctx;
    size_t spec;
    const cc_op_t *op;
    cc_map_t *names;                    /* document pointer -> slot + 1 (NULL: none yet) */
    cc_map_t *taken;                    /* hoisted name -> slot + 1 (NULL: none yet) */
    cc_map_t *suffix;                   /* base -> the next _N to try (names are never freed) */
    char **slot_name;
    json_t **slot_body;                 /* NULL while pending */
    size_t nslots, cap;
    bool failed;                        /* an error was reported: the result is dropped */
} s_defs_t;

typedef struct {
    json_t *value;                      /* NULL when it failed */
    size_t depth, props;
} s_cached_t;

void cc_cache_free(void *entry)
{
    s_cached_t *c = entry;
    if (c)
        json_decref(c->value);
    free(c);
}

/* ---------------------------------------------------------------- names */

/* A map of D, made on first use: most positions name no definition and never need one. */
static cc_map_t *s_map(s_defs_t *d, cc_map_t **m)
{
    if (!*m && !(*m = cc_map_new()))
        d->ctx->oom = true;
    return *m;
}

static size_t s_slot(s_defs_t *d, char *name)
{
    if (d->nslots == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        char **names = realloc(d->slot_name, cap * sizeof *names);
        if (names)
            d->slot_name = names;
        json_t **bodies = names ? realloc(d->slot_body, cap * sizeof *bodies) : NULL;
        if (bodies)
            d->slot_body = bodies;
        if (!names || !bodies) {
            d->ctx->oom = true;
            free(name);
            return SIZE_MAX;
        }
        d->cap = cap;
    }
    size_t i = d->nslots++;
    d->slot_name[i] = name;
    d->slot_body[i] = NULL;
    if (cc_map_put(s_map(d, &d->taken), name, strlen(name), (void *)(uintptr_t)(i + 1)) < 0)
        d->ctx->oom = true;
    return i;
}

/* A free name from base: base, base_2, base_3, ... Names are only ever added, so every
 * base_N below the one found last time is still taken: the search resumes there (linear in
 * the refs sharing a base, not quadratic). */
static size_t s_reserve(s_defs_t *d, const char *base)
{
    size_t blen = strlen(base);
    uintptr_t n = (uintptr_t)cc_map_get(d->suffix, base, blen);
    char *name = n ? cc_aprintf("%s_%u", base, (unsigned)n) : cc_strdup(base);
    for (n = n ? n : 1; name && cc_map_get(d->taken, name, strlen(name)); ) {
        free(name);
        name = cc_aprintf("%s_%u", base, (unsigned)++n);
    }
    if (!name || cc_map_put(s_map(d, &d->suffix), base, blen, (void *)(n + 1)) < 0) {
        free(name);
        d->ctx->oom = true;
        return SIZE_MAX;
    }
    return s_slot(d, name);
}

/* The part of ref after its last '/', every character but letters, digits, '_' and '-'
 * replaced with '_' (SchemaDefs.name_for). */
static char *s_base_name(cc_ctx_t *ctx, const char *ref)
{
    const char *last = strrchr(ref, '/');
    last = last ? last + 1 : ref;
    cc_buf_t b = {0};
    while (*last) {
        uint32_t cp;
        size_t k = cc_utf8_next(last, &cp);
        if (cp == '_' || cp == '-' || cc_is_alnum(ctx->loc, cp))
            cc_buf_add(&b, last, k);
        else
            cc_buf_add(&b, "_", 1);
        last += k;
    }
    if (!b.len)
        cc_buf_str(&b, "schema");
    if (b.failed) {
        cc_buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* RFC 6901 escaping of one token: '~' then '/'. */
static char *s_escape(const char *name)
{
    cc_buf_t b = {0};
    for (const char *p = name; *p; p++)
        cc_buf_str(&b, *p == '~' ? "~0" : *p == '/' ? "~1" : (char[2]){*p, 0});
    if (!b.len)
        cc_buf_add(&b, "", 0);
    return b.failed ? (cc_buf_free(&b), NULL) : b.data;
}

/* The reference's unescaping: every "~1" to '/', then every "~0" to '~'. */
static char *s_unescape(const char *tok, size_t n)
{
    char *a = cc_strndup(tok, n);
    if (!a)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        a[o++] = a[i] == '~' && a[i + 1] == '1' ? (i++, '/') : a[i];
    a[o] = '\0';
    n = o, o = 0;
    for (size_t i = 0; i < n; i++)
        a[o++] = a[i] == '~' && a[i + 1] == '0' ? (i++, '~') : a[i];
    a[o] = '\0';
    return a;
}

static json_t *s_ref_node(cc_ctx_t *ctx, const char *name, const char *rest)
{
    char *esc = s_escape(name);
    char *ptr = esc ? cc_aprintf("#/$defs/%s%s%s", esc, rest ? "/" : "", rest ? rest : "") : NULL;
    json_t *obj = ptr ? json_object() : NULL;
    if (!obj || json_object_set_new_nocheck(obj, "$ref", json_string_nocheck(ptr)) < 0) {
        json_decref(obj);
        obj = NULL;
        ctx->oom = true;
    }
    free(esc);
    free(ptr);
    return obj;
}

static int s_scope_cmp(const void *key, const void *elem)
{
    return strcmp(key, *(const char *const *)elem);
}

static const char *s_scope_find(const s_scope_t *scope, const char *name)
{
    for (; scope; scope = scope->up) {
        const char **hit = bsearch(name, scope->from, scope->n, sizeof *scope->from, s_scope_cmp);
        if (hit)
            return scope->to[hit - scope->from];
    }
    return NULL;
}

/* ---------------------------------------------------------------- the walk */

static json_t *s_walk(s_defs_t *d, const cm_spec_node_t *n, const s_scope_t *scope);

/* A `$ref` into definitions the source schema declared itself (step 1). */
static json_t *s_local_ref(s_defs_t *d, const cm_spec_node_t *n, const char *ref,
                           const s_scope_t *scope)
{
    const char *suffix = ref + strlen("#/$defs/"), *slash = strchr(suffix, '/');
    char *first = s_unescape(suffix, slash ? (size_t)(slash - suffix) : strlen(suffix));
    if (!first) {
        d->ctx->oom = true;
        return NULL;
    }
    const char *hoisted = s_scope_find(scope, first);
    free(first);
    if (hoisted)
        return s_ref_node(d->ctx, hoisted, slash ? slash + 1 : NULL);
    return cc_value_json(d->ctx, d->spec, n);
}

/* A document reference (steps 2 and 3). */
static json_t *s_doc_ref(s_defs_t *d, const cm_spec_node_t *refnode, const char *ref,
                         const s_scope_t *scope)
{
    size_t known = (size_t)(uintptr_t)cc_map_get(d->names, ref, strlen(ref));
    if (known)
        return s_ref_node(d->ctx, d->slot_name[known - 1], NULL);
    char *base = s_base_name(d->ctx, ref);
    size_t slot = base ? s_reserve(d, base) : SIZE_MAX;
    free(base);
    if (slot == SIZE_MAX ||
        cc_map_put(s_map(d, &d->names), ref, strlen(ref), (void *)(uintptr_t)(slot + 1)) < 0) {
        d->ctx->oom = true;
        return NULL;
    }
    const cm_spec_node_t *target = cc_ref_target(d->ctx, d->spec, ref, refnode, d->op);
    if (!target)
        d->failed = true;
    else {
        json_t *body = s_walk(d, target, scope);
        if (!body)
            return NULL;
        d->slot_body[slot] = body;
    }
    return s_ref_node(d->ctx, d->slot_name[slot], NULL);
}

/* Local $defs are hoisted under reserved names, in key order, before the rest (step 4). */
static bool s_hoist(s_defs_t *d, const cm_spec_node_t *defs, s_scope_t *frame)
{
    size_t n = cm_spec_len(defs), *order = cc_sorted_keys(defs);
    frame->from = calloc(n, sizeof *frame->from);
    frame->to = calloc(n, sizeof *frame->to);
    if (!order || !frame->from || !frame->to) {
        free(order);
        d->ctx->oom = true;
        return false;
    }
    for (size_t k = 0; k < n; k++) {
        frame->from[k] = cm_spec_key_at(defs, order[k], NULL);
        size_t slot = s_reserve(d, frame->from[k]);
        if (slot == SIZE_MAX) {
            free(order);
            return false;
        }
        frame->to[k] = d->slot_name[slot];
        frame->n = k + 1;
    }
    for (size_t k = 0; k < n; k++) {
        const cm_spec_node_t *body;
        cm_spec_key_at(defs, order[k], &body);
        json_t *v = s_walk(d, body, frame);
        size_t slot = (size_t)(uintptr_t)cc_map_get(d->taken, frame->to[k], strlen(frame->to[k]));
        if (!v || !slot) {
            free(order);
            return false;
        }
        json_decref(d->slot_body[slot - 1]);
        d->slot_body[slot - 1] = v;
    }
    free(order);
    return true;
}

static json_t *s_object(s_defs_t *d, const cm_spec_node_t *n, const s_scope_t *scope)
{
    s_scope_t frame = {.up = scope};
    const cm_spec_node_t *defs = cm_spec_get(n, "$defs");
    bool ok = true;
    if (cc_is_map(defs) && cm_spec_len(defs)) {
        ok = s_hoist(d, defs, &frame);
        scope = &frame;
    }
    json_t *obj = ok ? json_object() : NULL;
    size_t len = cm_spec_len(n), *order = obj ? cc_sorted_keys(n) : NULL;
    if (ok && (!obj || (len && !order))) {
        d->ctx->oom = true;
        json_decref(obj);
        obj = NULL;
    }
    for (size_t k = 0; obj && k < len; k++) {
        const cm_spec_node_t *val;
        const char *key = cm_spec_key_at(n, order[k], &val);
        if (!strcmp(key, "$defs"))
            continue;
        json_t *v = s_walk(d, val, scope);
        if (!v || json_object_set_new_nocheck(obj, key, v) < 0) {
            d->ctx->oom = d->ctx->oom || v;
            json_decref(obj);
            obj = NULL;
        }
    }
    free(order);
    free(frame.from);
    free(frame.to);
    return obj;
}

static json_t *s_array(s_defs_t *d, const cm_spec_node_t *n, const s_scope_t *scope)
{
    json_t *arr = json_array();
    if (!arr)
        d->ctx->oom = true;
    for (size_t k = 0; arr && k < cm_spec_len(n); k++) {
        json_t *v = s_walk(d, cm_spec_at(n, k), scope);
        if (!v || json_array_append_new(arr, v) < 0) {
            d->ctx->oom = d->ctx->oom || v;
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

static json_t *s_walk(s_defs_t *d, const cm_spec_node_t *n, const s_scope_t *scope)
{
    cc_ctx_t *ctx = d->ctx;
    if (cc_step(ctx) || !cc_budget(ctx, d->spec, n, 1))
        return NULL;
    cm_node_kind_t kind = cm_spec_kind(n);
    if (kind != CM_NODE_MAP && kind != CM_NODE_SEQ)
        return cc_scalar_json(ctx, n);
    if (ctx->nest >= CC_MAX_NEST) {
        d->failed = true;
        CC_ERR(ctx, "E1051", d->spec, n, d->op,
               "schema nested deeper than %d levels while resolving its references",
               CC_MAX_NEST);
        return NULL;
    }
    ctx->nest++;
    json_t *v;
    const char *ref = kind == CM_NODE_MAP ? cc_str(cm_spec_get(n, "$ref")) : NULL;
    if (ref && cc_starts_with(ref, "#/$defs/"))
        v = s_local_ref(d, n, ref, scope);
    else if (ref)
        v = s_doc_ref(d, cm_spec_get(n, "$ref"), ref, scope);
    else
        v = kind == CM_NODE_MAP ? s_object(d, n, scope) : s_array(d, n, scope);
    ctx->nest--;
    return v;
}

/* ---------------------------------------------------------------- finishing */

static int s_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Inserts "$defs" where it sorts among the result's (sorted) keys. */
static json_t *s_attach(s_defs_t *d, json_t *result)
{
    char **names = malloc(d->nslots * sizeof *names);
    json_t *defs = json_object(), *out = json_object();
    if (!names || !defs || !out) {
        free(names);
        json_decref(defs);
        json_decref(out);
        json_decref(result);
        d->ctx->oom = true;
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < d->nslots; i++)
        if (d->slot_body[i])
            names[n++] = d->slot_name[i];
    qsort(names, n, sizeof *names, s_name_cmp);
    for (size_t i = 0; i < n; i++) {
        size_t slot = (size_t)(uintptr_t)cc_map_get(d->taken, names[i], strlen(names[i]));
        json_object_set_nocheck(defs, names[i], d->slot_body[slot - 1]);
    }
    free(names);
    bool placed = false;
    const char *key;
    json_t *v;
    json_object_foreach(result, key, v) {
        if (!placed && strcmp(key, "$defs") > 0) {
            json_object_set_nocheck(out, "$defs", defs);
            placed = true;
        }
        if (strcmp(key, "$defs"))
            json_object_set_nocheck(out, key, v);
    }
    if (!placed)
        json_object_set_nocheck(out, "$defs", defs);
    json_decref(defs);
    json_decref(result);
    return out;
}

static void s_defs_free(s_defs_t *d)
{
    for (size_t i = 0; i < d->nslots; i++) {
        free(d->slot_name[i]);
        json_decref(d->slot_body[i]);
    }
    free(d->slot_name);
    free(d->slot_body);
    cc_map_destroy(&d->names, NULL);
    cc_map_destroy(&d->taken, NULL);
    cc_map_destroy(&d->suffix, NULL);
}

/* ---------------------------------------------------------------- OpenAPI 3.0 bounds */

static void s_draft4(json_t *v, int depth);

static void s_draft4_bound(json_t *obj, const char *exclusive, const char *bound)
{
    json_t *x = json_object_get(obj, exclusive);
    if (!json_is_boolean(x))
        return;
    json_t *limit = json_object_get(obj, bound);
    if (json_is_true(x) && limit) {
        json_object_set_nocheck(obj, exclusive, limit);
        json_object_del(obj, bound);
    } else
        json_object_del(obj, exclusive);
}

static void s_draft4_children(json_t *obj, int depth)
{
    static const char *const maps[] = {"properties", "patternProperties", "$defs",
                                       "definitions", "dependentSchemas"};
    static const char *const lists[] = {"allOf", "anyOf", "oneOf", "prefixItems"};
    static const char *const single[] = {"items", "additionalItems", "additionalProperties",
                                         "not", "if", "then", "else", "contains",
                                         "propertyNames", "unevaluatedItems",
                                         "unevaluatedProperties"};
    const char *key;
    json_t *v, *sub;
    size_t i;
    for (size_t k = 0; k < sizeof maps / sizeof *maps; k++)
        if (json_is_object(v = json_object_get(obj, maps[k])))
            json_object_foreach(v, key, sub)
                s_draft4(sub, depth + 1);
    for (size_t k = 0; k < sizeof lists / sizeof *lists; k++)
        if (json_is_array(v = json_object_get(obj, lists[k])))
            for (i = 0; i < json_array_size(v); i++)
                s_draft4(json_array_get(v, i), depth + 1);
    for (size_t k = 0; k < sizeof single / sizeof *single; k++) {
        v = json_object_get(obj, single[k]);
        if (json_is_array(v))
            for (i = 0; i < json_array_size(v); i++)
                s_draft4(json_array_get(v, i), depth + 1);
        else if (json_is_object(v))
            s_draft4(v, depth + 1);
    }
}

static void s_draft4(json_t *v, int depth)
{
    if (!json_is_object(v) || depth > CC_MAX_NEST + 8)
        return;
    s_draft4_bound(v, "exclusiveMinimum", "minimum");
    s_draft4_bound(v, "exclusiveMaximum", "maximum");
    s_draft4_children(v, depth);
}

/* ---------------------------------------------------------------- E1051 / E1052 measure */

static void s_measure(const json_t *v, size_t depth, size_t *max, size_t *props)
{
    if (depth > *max)
        *max = depth;
    if (depth > CC_MAX_NEST * 2)
        return;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            s_measure(json_array_get(v, i), depth + 1, max, props);
        return;
    }
    if (!json_is_object(v))
        return;
    const char *key;
    json_t *sub;
    json_t *p = json_object_get(v, "properties");
    if (json_is_object(p)) {
        *props += json_object_size(p);
        json_object_foreach(p, key, sub)
            s_measure(sub, depth + 1, max, props);
    }
    if ((sub = json_object_get(v, "items")))
        s_measure(sub, depth + 1, max, props);
    static const char *const lists[] = {"allOf", "oneOf", "anyOf"};
    for (size_t k = 0; k < 3; k++)
        if (json_is_array(sub = json_object_get(v, lists[k])))
            for (size_t i = 0; i < json_array_size(sub); i++)
                s_measure(json_array_get(sub, i), depth + 1, max, props);
    if (json_is_object(sub = json_object_get(v, "additionalProperties")))
        s_measure(sub, depth + 1, max, props);
    json_t *defs = json_object_get(v, "$defs");
    if (json_is_object(defs))
        json_object_foreach(defs, key, sub)
            s_measure(sub, depth, max, props);
}

void cc_schema_limits(cc_ctx_t *ctx, size_t spec, const cm_spec_node_t *at, const cc_op_t *op,
                      const char *what, size_t depth, size_t props)
{
    if (depth > ctx->max_depth)
        CC_ERR(ctx, "E1051", spec, at, op, "%s schema is nested %zu levels deep (limit %zu)",
               what, depth, ctx->max_depth);
    if (props > ctx->max_props)
        CC_ERR(ctx, "E1052", spec, at, op, "%s schema has %zu properties in total (limit %zu)",
               what, props, ctx->max_props);
}

/* ---------------------------------------------------------------- one position */

static json_t *s_transform(cc_ctx_t *ctx, size_t spec, const cm_spec_node_t *n,
                           const cc_op_t *op)
{
    s_defs_t d = {.ctx = ctx, .spec = spec, .op = op};
    json_t *v = s_walk(&d, n, NULL);
    if (v && d.failed) {
        json_decref(v);
        v = NULL;
    }
    bool any = false;
    for (size_t i = 0; i < d.nslots; i++)
        any = any || d.slot_body[i];
    if (v && any && json_is_object(v))
        v = s_attach(&d, v);
    s_defs_free(&d);
    if (v && ctx->specs[spec].openapi30)
        s_draft4(v, 0);
    return v;
}

/* The cache key of a position whose result depends only on what it names, written into buf
 * (every position of an operation asks, so the usual short key costs no allocation) or, when
 * longer, malloc'd. NULL for a position that is not cached. */
static char *s_cache_key(size_t spec, const cm_spec_node_t *n, bool shared, char *buf,
                         size_t size)
{
    const char *ref = cc_is_map(n) ? cc_str(cm_spec_get(n, "$ref")) : NULL;
    bool by_ref = ref && !cc_starts_with(ref, "#/$defs/");
    if (!by_ref && !shared)
        return NULL;
    int len = by_ref ? snprintf(buf, size, "r%zu:%s", spec, ref)
                     : snprintf(buf, size, "n%p", (const void *)n);
    if (len >= 0 && (size_t)len < size)
        return buf;
    return by_ref ? cc_aprintf("r%zu:%s", spec, ref) : NULL;
}

json_t *cc_schema_position(cc_ctx_t *ctx, size_t spec, const cm_spec_node_t *n, bool shared,
                           const cc_op_t *op, size_t *depth, size_t *props)
{
    char buf[160], *key = s_cache_key(spec, n, shared, buf, sizeof buf);
    s_cached_t *c = key ? cc_map_get(ctx->cache, key, strlen(key)) : NULL;
    size_t dd = 0, pp = 0;
    json_t *v;
    if (c) {
        v = json_incref(c->value);
        dd = c->depth;
        pp = c->props;
    } else {
        v = s_transform(ctx, spec, n, op);
        if (v)
            s_measure(v, 0, &dd, &pp);
        if (key && !ctx->cancelled && !ctx->oom && !ctx->budget_hit) {
            c = calloc(1, sizeof *c);
            if (c) {
                c->value = json_incref(v);
                c->depth = dd;
                c->props = pp;
                cc_render_share(ctx, v);
            }
            if (!c || cc_map_put(ctx->cache, key, strlen(key), c) < 0) {
                cc_cache_free(c);
                ctx->oom = true;
            }
        }
    }
    if (key != buf)
        free(key);
    if (depth)
        *depth = dd;
    if (props)
        *props = pp;
    return v;
}
