/* cc_schema_compile.c — turning schema documents into nodes: the scan for $id, anchors and
 * $schema, vocabularies, $ref resolution, and each keyword's checked, compiled form. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_schema_int.h"

/* ------------------------------------------------------------------ paths */

/* Paths only ever label compile errors, so they are cut at CC_SCHEMA_PATH_MAX bytes: a deep
 * schema with long keys must not cost the square of its size. */
char *cc_schema_path(const char *parent, const char *key, size_t klen)
{
    size_t pl = strlen(parent), o = pl;
    if (pl + 2 * klen + 1 > CC_SCHEMA_PATH_MAX) {
        bool cut = pl >= 4 && !strcmp(parent + pl - 4, "/...");
        char *p = malloc(pl + 5);
        if (p)
            snprintf(p, pl + 5, "%s%s", parent, cut ? "" : "/...");
        return p;
    }
    char *p = malloc(pl + 2 * klen + 2);
    if (!p)
        return NULL;
    memcpy(p, parent, pl);
    p[o++] = '/';
    for (size_t i = 0; i < klen; i++) {
        if (key[i] == '~' || key[i] == '/') {
            p[o++] = '~';
            p[o++] = key[i] == '~' ? '0' : '1';
        } else
            p[o++] = key[i] ? key[i] : '?';
    }
    p[o] = '\0';
    return p;
}

/* ------------------------------------------------------------------ scanning */

typedef enum { S_NOT_SCHEMA, S_ONE, S_MAP, S_LIST } s_shape_t;

/* Where subschemas sit: the scan descends only there, so "$id" inside "enum" or an unknown
 * keyword identifies nothing. */
static s_shape_t s_shape(const char *k)
{
    static const char *const one[] = {
        "additionalProperties", "propertyNames", "items", "contains", "not", "if", "then",
        "else", "unevaluatedItems", "unevaluatedProperties", "contentSchema",
    };
    static const char *const map[] = {
        "properties", "patternProperties", "dependentSchemas", "$defs", "definitions",
        "dependencies",
    };
    static const char *const list[] = { "allOf", "anyOf", "oneOf", "prefixItems" };
    for (size_t i = 0; i < sizeof one / sizeof *one; i++)
        if (!strcmp(k, one[i]))
            return S_ONE;
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(k, map[i]))
            return S_MAP;
    for (size_t i = 0; i < sizeof list / sizeof *list; i++)
        if (!strcmp(k, list[i]))
            return S_LIST;
    return S_NOT_SCHEMA;
}

static char *s_anchor_key(const cc_sres_t *res, const char *name, size_t *klen)
{
    size_t n = strlen(name);
    char *key = malloc(sizeof res + n);
    if (key) {
        memcpy(key, &res, sizeof res);
        memcpy(key + sizeof res, name, n);
        *klen = sizeof res + n;
    }
    return key;
}

cc_sanchor_t *cc_schema_anchor_get(cc_schema_t *self, const cc_sres_t *res, const char *name)
{
    size_t klen;
    char *key = s_anchor_key(res, name, &klen);
    cc_sanchor_t *a = key ? cc_smap_get(&self->anchors, key, klen) : NULL;
    free(key);
    return a;
}

static int s_anchor_add(cc_sctx_t *c, cc_sres_t *res, const char *name, const json_t *j,
                        bool dynamic)
{
    cc_schema_t *self = c->self;
    cc_sanchor_t *a = cc_schema_anchor_get(self, res, name);
    if (!a) {
        size_t klen;
        char *key = s_anchor_key(res, name, &klen);
        a = cc_sarena_alloc(self, sizeof *a);
        if (!key || !a || !(a->name = cc_sarena_strdup(self, name)) ||
            cc_smap_put(&self->anchors, key, klen, a) < 0) {
            free(key);
            cc_sctx_fail(c, NULL, "out of memory");
            return -1;
        }
        free(key);
        a->json = j;
        a->res = res;
    }
    if (dynamic && !a->dynamic && a->json == j) {
        a->dynamic = true;
        res->has_dynamic = true;
        a->next_same = cc_smap_get(&self->dyn_by_name, name, strlen(name));
        if (cc_smap_put(&self->dyn_by_name, name, strlen(name), a) < 0) {
            cc_sctx_fail(c, NULL, "out of memory");
            return -1;
        }
    }
    return 0;
}

/* $id: a new resource (or, at a document root, the document's own base URI). */
static cc_sres_t *s_scan_id(cc_sctx_t *c, const json_t *j, cc_sres_t *res, const char *id)
{
    char *u = cc_schema_uri_resolve(res->uri, id);
    if (!u) {
        cc_sctx_fail(c, NULL, "out of memory");
        return NULL;
    }
    char *hash = strchr(u, '#');
    if (hash && hash[1]) {
        cc_sctx_fail(c, NULL, "$id \"%s\" must not have a fragment", id);
        free(u);
        return NULL;
    }
    if (hash)
        *hash = '\0';
    cc_schema_t *self = c->self;
    cc_sres_t *out = res;
    if (j == res->root) {
        if (strcmp(u, res->uri) != 0 &&
            (!(res->uri = cc_sarena_strdup(self, u)) ||
             (!cc_smap_get(&self->by_uri, u, strlen(u)) &&
              cc_smap_put(&self->by_uri, u, strlen(u), res) < 0)))
            out = NULL;
    } else if ((out = cc_sarena_alloc(self, sizeof *out)) && (out->uri = cc_sarena_strdup(self, u))) {
        out->root = j;
        out->dialect = res->dialect;
        out->next = self->resources;
        self->resources = out;
        if (!cc_smap_get(&self->by_uri, u, strlen(u)) &&
            cc_smap_put(&self->by_uri, u, strlen(u), out) < 0)
            out = NULL;
    } else
        out = NULL;
    if (!out)
        cc_sctx_fail(c, NULL, "out of memory");
    free(u);
    return out;
}

static int s_scan_members(cc_sctx_t *c, const json_t *j, cc_sres_t *res, size_t depth)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *) j, k, v) {
        s_shape_t shape = s_shape(k);
        if (shape == S_ONE || (shape == S_LIST && json_is_object(v))) {
            if (cc_schema_scan(c, v, res, depth + 1) < 0)
                return -1;
        } else if (shape == S_MAP && json_is_object(v)) {
            const char *k2;
            json_t *v2;
            json_object_foreach(v, k2, v2)
                if (cc_schema_scan(c, v2, res, depth + 1) < 0)
                    return -1;
        } else if (shape == S_LIST && json_is_array(v)) {
            for (size_t i = 0; i < json_array_size(v); i++)
                if (cc_schema_scan(c, json_array_get(v, i), res, depth + 1) < 0)
                    return -1;
        }
    }
    return 0;
}

int cc_schema_scan(cc_sctx_t *c, const json_t *j, cc_sres_t *res, size_t depth)
{
    cc_schema_t *self = c->self;
    if (!json_is_object(j) || cc_smap_get(&self->loc, &j, sizeof j))
        return 0;
    if (depth > self->opts.max_depth) {
        cc_sctx_fail(c, NULL, "schema nested deeper than %zu levels", self->opts.max_depth);
        return -1;
    }
    const json_t *id = json_object_get(j, "$id");
    if (json_is_string(id) && !(res = s_scan_id(c, j, res, json_string_value(id))))
        return -1;
    const json_t *dialect = json_object_get(j, "$schema");
    if (j == res->root && json_is_string(dialect) &&
        !(res->dialect = cc_sarena_strdup(self, json_string_value(dialect)))) {
        cc_sctx_fail(c, NULL, "out of memory");
        return -1;
    }
    if (cc_smap_put(&self->loc, &j, sizeof j, res) < 0) {
        cc_sctx_fail(c, NULL, "out of memory");
        return -1;
    }
    const json_t *a = json_object_get(j, "$anchor"), *da = json_object_get(j, "$dynamicAnchor");
    if (json_is_string(a) && s_anchor_add(c, res, json_string_value(a), j, false) < 0)
        return -1;
    if (json_is_string(da) && s_anchor_add(c, res, json_string_value(da), j, true) < 0)
        return -1;
    return s_scan_members(c, j, res, depth);
}

/* ------------------------------------------------------------------ vocabularies */

static unsigned s_vocab_bit(const char *uri)
{
    static const struct { const char *name; unsigned bit; } tab[] = {
        { "core", CC_V_CORE }, { "applicator", CC_V_APPLICATOR },
        { "unevaluated", CC_V_UNEVALUATED }, { "validation", CC_V_VALIDATION },
        { "meta-data", CC_V_METADATA }, { "format-annotation", CC_V_FORMAT_ANNOTATION },
        { "format-assertion", CC_V_FORMAT_ASSERTION }, { "content", CC_V_CONTENT },
    };
    static const char prefix[] = "https://json-schema.org/draft/2020-12/vocab/";
    if (strncmp(uri, prefix, sizeof prefix - 1) != 0)
        return 0;
    for (size_t i = 0; i < sizeof tab / sizeof *tab; i++)
        if (!strcmp(uri + sizeof prefix - 1, tab[i].name))
            return tab[i].bit;
    return 0;
}

/* The meta-schema of a dialect, when we can load it; NULL (and no error) otherwise. */
static cc_sres_t *s_dialect_res(cc_sctx_t *c, const char *dialect)
{
    char *uri = strdup(dialect);
    if (!uri)
        return NULL;
    char *hash = strchr(uri, '#');
    if (hash)
        *hash = '\0';
    cc_sres_t *m = cc_smap_get(&c->self->by_uri, uri, strlen(uri));
    if (!m) {
        json_t *doc = cc_schema_doc_fetch(c->self, uri);
        m = doc ? cc_schema_doc_add(c, doc, uri) : NULL;
    }
    free(uri);
    return m;
}

unsigned cc_schema_vocab(cc_sctx_t *c, cc_sres_t *res, const char *path)
{
    if (res->vocab_known)
        return res->vocab;
    res->vocab_known = true;
    res->vocab = CC_V_DEFAULT;
    if (!res->dialect || !strcmp(res->dialect, CC_SCHEMA_DIALECT) ||
        !strcmp(res->dialect, CC_SCHEMA_DIALECT "#"))
        return res->vocab;
    cc_sres_t *m = s_dialect_res(c, res->dialect);
    const json_t *v = m ? json_object_get(m->root, "$vocabulary") : NULL;
    if (!json_is_object(v))
        return res->vocab;   /* an unknown dialect is read as 2020-12 */
    unsigned bits = CC_V_CORE;
    const char *k;
    json_t *req;
    json_object_foreach((json_t *) v, k, req) {
        unsigned bit = s_vocab_bit(k);
        if (bit)
            bits |= bit;
        else if (json_is_true(req))
            cc_sctx_fail(c, path, "the meta-schema \"%s\" requires the unknown vocabulary \"%s\"",
                         res->dialect, k);
    }
    res->vocab = bits;
    return bits;
}

/* ------------------------------------------------------------------ nodes */

cc_snode_t *cc_schema_node_get(cc_sctx_t *c, const json_t *j, cc_sres_t *fallback,
                               const char *path)
{
    cc_schema_t *self = c->self;
    if (json_is_true(j))
        return &self->node_true;
    if (json_is_false(j))
        return &self->node_false;
    if (!json_is_object(j)) {
        cc_sctx_fail(c, path, "a schema must be an object or a boolean");
        return NULL;
    }
    cc_snode_t *n = cc_smap_get(&self->nodes, &j, sizeof j);
    if (n)
        return n;
    cc_sres_t *res = cc_smap_get(&self->loc, &j, sizeof j);
    if (!res) {   /* a $ref into an unknown keyword: scan it where it is */
        if (cc_schema_scan(c, j, fallback, 0) < 0)
            return NULL;
        res = cc_smap_get(&self->loc, &j, sizeof j);
    }
    n = cc_sarena_alloc(self, sizeof *n);
    struct cc_squeue *q = calloc(1, sizeof *q);
    if (!n || !q || !(q->path = strdup(path)) || cc_smap_put(&self->nodes, &j, sizeof j, n) < 0) {
        free(q ? q->path : NULL);
        free(q);
        cc_sctx_fail(c, path, "out of memory");
        return NULL;
    }
    n->boolean = -1;
    n->json = j;
    n->res = res ? res : fallback;
    n->res->live = true;
    q->node = n;
    if (c->tail)
        c->tail->next = q;
    else
        c->head = q;
    c->tail = q;
    c->nodes++;
    return n;
}

/* ------------------------------------------------------------------ references */

/* Resolves ref against res: the target value and its resource; *dyn set when the fragment is
 * a name declared by $dynamicAnchor. NULL with an error when it leads nowhere. */
static const json_t *s_resolve(cc_sctx_t *c, const cc_sres_t *res, const char *ref,
                               const char *path, cc_sres_t **out_res, const char **dyn)
{
    char *abs = cc_schema_uri_resolve(res->uri, ref);
    if (!abs) {
        cc_sctx_fail(c, path, "out of memory");
        return NULL;
    }
    char *hash = strchr(abs, '#');
    const char *raw = hash ? hash + 1 : "";
    if (hash)
        *hash = '\0';
    const json_t *t = NULL;
    cc_sres_t *r = cc_schema_res_get(c, abs, path);
    size_t flen = 0;
    char *frag = r ? cc_schema_pct_decode(raw, strlen(raw), &flen) : NULL;
    if (r && !frag)
        cc_sctx_fail(c, path, "bad percent-encoding in \"%s\"", ref);
    else if (frag && flen == 0)
        t = r->root;
    else if (frag && frag[0] == '/') {
        if (!(t = cc_schema_pointer_get(r->root, frag, flen)))
            cc_sctx_fail(c, path, "\"%s\" points to nothing", ref);
    } else if (frag) {
        cc_sanchor_t *a = cc_schema_anchor_get(c->self, r, frag);
        if (!a)
            cc_sctx_fail(c, path, "no anchor \"%s\" for \"%s\"", frag, ref);
        else {
            t = a->json;
            if (dyn && a->dynamic)
                *dyn = a->name;
        }
    }
    *out_res = r;
    free(frag);
    free(abs);
    return t;
}

bool cc_schema_ref_compile(cc_sctx_t *c, const cc_snode_t *n, cc_skw_t *kw, const char *path)
{
    if (!json_is_string(kw->value)) {
        cc_sctx_fail(c, path, "must be a string");
        return false;
    }
    cc_sres_t *r = NULL;
    const json_t *t = s_resolve(c, n->res, json_string_value(kw->value), path, &r,
                                kw->kind == CC_K_DYNREF ? &kw->dyn_name : NULL);
    return t && (kw->sub = cc_schema_node_get(c, t, r, path)) != NULL;
}

/* Candidates of one $dynamicRef: every live resource declaring its dynamic anchor. */
static int s_dyn_candidates(cc_sctx_t *c, cc_skw_t *kw)
{
    cc_schema_t *self = c->self;
    cc_sanchor_t *first = cc_smap_get(&self->dyn_by_name, kw->dyn_name, strlen(kw->dyn_name));
    size_t n = 0;
    for (cc_sanchor_t *a = first; a; a = a->next_same)
        n += a->res->live;
    if (n == kw->ncand)
        return 0;
    cc_sres_t **res = cc_sarena_alloc(self, n * sizeof *res);
    cc_snode_t **nodes = cc_sarena_alloc(self, n * sizeof *nodes);
    if (!res || !nodes) {
        cc_sctx_fail(c, NULL, "out of memory");
        return -1;
    }
    size_t k = 0;
    for (cc_sanchor_t *a = first; a; a = a->next_same) {
        if (!a->res->live)
            continue;
        res[k] = a->res;
        if (!(nodes[k++] = cc_schema_node_get(c, a->json, a->res, "#")))
            return -1;
    }
    kw->cand_res = res;
    kw->cand_node = nodes;
    kw->ncand = k;
    return 0;
}

int cc_schema_finalize(cc_sctx_t *c)
{
    for (;;) {
        size_t before = c->nodes;
        for (cc_skw_t *kw = c->self->dynrefs; kw; kw = kw->next_dyn)
            if (kw->dyn_name && s_dyn_candidates(c, kw) < 0)
                return -1;
        if (cc_schema_compile_queue(c) < 0)
            return -1;
        if (c->nodes == before)
            return 0;
    }
}
