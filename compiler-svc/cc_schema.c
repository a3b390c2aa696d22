/* cc_schema.c — the validator's object: cc_schema_new/validate/destroy, the arena and the hash
 * map its tables use, and the documents it holds (the schema, remote ones, built-in meta-schemas). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_embedded.h"
#include "cc_schema_int.h"

/* ------------------------------------------------------------------ hash map */

uint64_t cc_smap_hash(const void *key, size_t klen)
{
    const unsigned char *p = key;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < klen; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h ^ (h >> 29);
}

static int s_smap_grow(cc_smap_t *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    struct cc_smap_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].key)
            continue;
        size_t k = m->slots[i].hash & (cap - 1);
        while (slots[k].key)
            k = (k + 1) & (cap - 1);
        slots[k] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

static struct cc_smap_slot *s_smap_find(const cc_smap_t *m, const void *key, size_t klen,
                                        uint64_t h)
{
    if (!m->cap)
        return NULL;
    for (size_t k = h & (m->cap - 1);; k = (k + 1) & (m->cap - 1)) {
        struct cc_smap_slot *s = &m->slots[k];
        if (!s->key || (s->hash == h && s->klen == klen && memcmp(s->key, key, klen) == 0))
            return s;
    }
}

int cc_smap_put(cc_smap_t *m, const void *key, size_t klen, void *val)
{
    if ((m->count + 1) * 10 >= m->cap * 7 && s_smap_grow(m) < 0)
        return -1;
    uint64_t h = cc_smap_hash(key, klen);
    struct cc_smap_slot *s = s_smap_find(m, key, klen, h);
    if (!s->key) {
        s->key = malloc(klen ? klen : 1);
        if (!s->key)
            return -1;
        memcpy(s->key, key, klen);
        s->klen = klen;
        s->hash = h;
        m->count++;
    }
    s->val = val;
    return 0;
}

void *cc_smap_get(const cc_smap_t *m, const void *key, size_t klen)
{
    struct cc_smap_slot *s = s_smap_find(m, key, klen, cc_smap_hash(key, klen));
    return s && s->key ? s->val : NULL;
}

void cc_smap_free(cc_smap_t *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------------ arena */

void *cc_sarena_alloc(cc_schema_t *self, size_t size)
{
    size = (size + 15) & ~(size_t) 15;
    cc_sarena_chunk_t *ch = self->arena;
    size_t head = (sizeof *ch + 15) & ~(size_t) 15;
    if (!ch || ch->cap - ch->used < size) {
        size_t cap = size > 65536 - head ? size : 65536 - head;
        ch = malloc(head + cap);
        if (!ch)
            return NULL;
        ch->cap = cap;
        ch->used = 0;
        ch->next = self->arena;
        self->arena = ch;
    }
    void *p = (char *) ch + head + ch->used;
    ch->used += size;
    memset(p, 0, size);
    return p;
}

char *cc_sarena_strdup(cc_schema_t *self, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = cc_sarena_alloc(self, n);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* ------------------------------------------------------------------ documents */

void cc_sctx_fail(cc_sctx_t *c, const char *path, const char *fmt, ...)
{
    if (c->failed)
        return;
    c->failed = true;
    if (!c->err || !c->errlen)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (path && *path)
        snprintf(c->err, c->errlen, "%s: %s", path, msg);
    else
        snprintf(c->err, c->errlen, "%s", msg);
}

/* The built-in 2020-12 meta-schemas: ".../schema" is schema.json, ".../meta/X" meta-X.json. */
static json_t *s_embedded(const char *uri)
{
    static const char prefix[] = "https://json-schema.org/draft/2020-12/";
    if (strncmp(uri, prefix, sizeof prefix - 1) != 0)
        return NULL;
    const char *rest = uri + sizeof prefix - 1;
    char name[64];
    if (strncmp(rest, "meta/", 5) == 0)
        snprintf(name, sizeof name, "meta-%s.json", rest + 5);
    else
        snprintf(name, sizeof name, "%s.json", rest);
    for (const cc_embedded_t *e = cc_embedded; e->name; e++)
        if (strcmp(e->name, name) == 0)
            return json_loads(e->text, JSON_REJECT_DUPLICATES, NULL);
    return NULL;
}

json_t *cc_schema_doc_fetch(cc_schema_t *self, const char *uri)
{
    json_t *doc = s_embedded(uri);
    if (!doc && self->opts.resolve)
        doc = self->opts.resolve(self->opts.resolve_arg, uri);
    return doc;
}

static cc_sres_t *s_res_new(cc_sctx_t *c, const char *uri, const json_t *root)
{
    cc_schema_t *self = c->self;
    cc_sres_t *res = cc_sarena_alloc(self, sizeof *res);
    if (!res || !(res->uri = cc_sarena_strdup(self, uri)) ||
        (!cc_smap_get(&self->by_uri, uri, strlen(uri)) &&
         cc_smap_put(&self->by_uri, uri, strlen(uri), res) < 0)) {
        cc_sctx_fail(c, NULL, "out of memory");
        return NULL;
    }
    res->root = root;
    res->next = self->resources;
    self->resources = res;
    return res;
}

cc_sres_t *cc_schema_doc_add(cc_sctx_t *c, json_t *doc, const char *uri)
{
    cc_schema_t *self = c->self;
    if (!doc || json_array_append_new(self->docs, doc) < 0) {
        cc_sctx_fail(c, NULL, "out of memory");
        return NULL;
    }
    if (++self->ndocs > CC_SCHEMA_MAX_DOCS) {
        cc_sctx_fail(c, NULL, "more than %d referenced documents", CC_SCHEMA_MAX_DOCS);
        return NULL;
    }
    cc_sres_t *res = cc_smap_get(&self->loc, &doc, sizeof doc);
    if (res) {   /* the same document again (a resolver's cache): one more name for it */
        if (!cc_smap_get(&self->by_uri, uri, strlen(uri)) &&
            cc_smap_put(&self->by_uri, uri, strlen(uri), res) < 0) {
            cc_sctx_fail(c, NULL, "out of memory");
            return NULL;
        }
        return res;
    }
    res = s_res_new(c, uri, doc);
    if (!res || cc_schema_scan(c, doc, res, 0) < 0)
        return NULL;
    return res;
}

cc_sres_t *cc_schema_res_get(cc_sctx_t *c, const char *uri, const char *path)
{
    cc_sres_t *res = cc_smap_get(&c->self->by_uri, uri, strlen(uri));
    if (res)
        return res;
    json_t *doc = cc_schema_doc_fetch(c->self, uri);
    if (!doc) {
        cc_sctx_fail(c, path, "cannot resolve the reference to \"%s\"", uri);
        return NULL;
    }
    return cc_schema_doc_add(c, doc, uri);
}

/* ------------------------------------------------------------------ life cycle */

static void s_opts(cc_schema_t *self, const cc_schema_opts_t *opts)
{
    if (opts)
        self->opts = *opts;
    cc_schema_opts_t *o = &self->opts;
    if (!o->max_depth)
        o->max_depth = CC_SCHEMA_DEPTH_DEFAULT;
    if (o->max_depth > CC_SCHEMA_DEPTH_CAP)
        o->max_depth = CC_SCHEMA_DEPTH_CAP;
    if (!o->max_steps)
        o->max_steps = CC_SCHEMA_STEPS_DEFAULT;
    if (!o->regex_match_limit)
        o->regex_match_limit = CC_SCHEMA_REGEX_DEFAULT;
    if (!o->max_errors)
        o->max_errors = CC_SCHEMA_ERRORS_DEFAULT;
}

static int s_stacks(cc_schema_t *self)
{
    size_t depth = self->opts.max_depth + 2;
    self->iseg = malloc(depth * sizeof *self->iseg);
    self->kseg = malloc(4 * depth * sizeof *self->kseg);
    self->fnode = malloc(depth * sizeof *self->fnode);
    self->finst = malloc(depth * sizeof *self->finst);
    self->scope = malloc(depth * sizeof *self->scope);
    return self->iseg && self->kseg && self->fnode && self->finst && self->scope ? 0 : -1;
}

static int s_regex_setup(cc_schema_t *self)
{
    self->mctx = pcre2_match_context_create(NULL);
    self->mdata = pcre2_match_data_create(1, NULL);
    if (!self->mctx || !self->mdata)
        return -1;
    uint32_t limit = self->opts.regex_match_limit > UINT32_MAX ? UINT32_MAX
                                                               : (uint32_t) self->opts.regex_match_limit;
    pcre2_set_match_limit(self->mctx, limit);
    pcre2_set_depth_limit(self->mctx, limit < 100000 ? limit : 100000);
    pcre2_set_heap_limit(self->mctx, 16384);   /* KiB of backtracking memory per match */
    return 0;
}

cc_schema_t *cc_schema_new(json_t *schema, const cc_schema_opts_t *opts, char *err,
                           size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    cc_schema_t *self = calloc(1, sizeof *self);
    cc_sctx_t c = { .self = self, .err = err, .errlen = errlen };
    if (!self || !(self->docs = json_array()) || !(c.cctx = pcre2_compile_context_create(NULL))) {
        cc_sctx_fail(&c, NULL, "out of memory");
        pcre2_compile_context_free(c.cctx);
        cc_schema_destroy(&self);
        return NULL;
    }
    pcre2_set_compile_extra_options(c.cctx, PCRE2_EXTRA_ALT_BSUX);
    s_opts(self, opts);
    self->node_true.boolean = 1;
    self->node_false.boolean = 0;
    if (s_regex_setup(self) < 0 || s_stacks(self) < 0)
        cc_sctx_fail(&c, NULL, "out of memory");
    else if (!schema || (!json_is_object(schema) && !json_is_boolean(schema)))
        cc_sctx_fail(&c, NULL, "a schema must be an object or a boolean");
    else {
        cc_sres_t *res = cc_schema_doc_add(&c, json_incref(schema), "");
        if (res)
            self->root = cc_schema_node_get(&c, schema, res, "");
        if (self->root && cc_schema_compile_queue(&c) == 0)
            cc_schema_finalize(&c);
    }
    for (struct cc_squeue *q = c.head, *next; q; q = next) {
        next = q->next;
        free(q->path);
        free(q);
    }
    pcre2_compile_context_free(c.cctx);
    if (c.failed)
        cc_schema_destroy(&self);
    return self;
}

void cc_schema_destroy(cc_schema_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cc_schema_t *self = *self_p;
    for (size_t i = 0; i < self->nregex; i++)
        pcre2_code_free(self->regexes[i]);
    free(self->regexes);
    pcre2_match_context_free(self->mctx);
    pcre2_match_data_free(self->mdata);
    cc_smap_free(&self->by_uri);
    cc_smap_free(&self->anchors);
    cc_smap_free(&self->loc);
    cc_smap_free(&self->nodes);
    cc_smap_free(&self->dyn_by_name);
    while (self->arena) {
        cc_sarena_chunk_t *next = self->arena->next;
        free(self->arena);
        self->arena = next;
    }
    json_decref(self->docs);
    free(self->iseg);
    free(self->kseg);
    free(self->fnode);
    free(self->finst);
    free(self->scope);
    free(self);
    *self_p = NULL;
}

/* ------------------------------------------------------------------ validation */

int cc_schema_validate(cc_schema_t *self, const json_t *instance, cc_schema_error_fn *fn,
                       void *arg)
{
    if (!self || !self->root || !instance) {
        if (fn)
            fn(arg, "", "", "no schema or no instance to validate");
        return -1;
    }
    size_t depth = self->opts.max_depth;
    cc_seval_t e = {
        .self = self, .fn = fn, .arg = arg, .max_depth = depth,
        .max_steps = self->opts.max_steps, .max_errors = self->opts.max_errors,
        .iseg = self->iseg, .kseg = self->kseg, .capk = 4 * (depth + 2),
        .fnode = self->fnode, .finst = self->finst, .scope = self->scope,
    };
    bool ok = cc_seval_node(&e, self->root, instance, true, NULL);
    if (e.abort)
        return -1;
    if (ok)
        return 0;
    return e.nerr > 0 ? e.nerr : 1;
}
