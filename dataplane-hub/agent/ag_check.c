/* The data plane's load-time checks of a .bca, in its order: manifest (first pass), then
 * artifact_hash, then every entry by name (second pass: plugin digests, routes.json, specs),
 * then nothing after the gzip member. Owns nothing beyond one call's buffers. */
#include "ag_check.h"
#include "ag_manifest.h"
#include "ag_tar.h"
#include "cm_util.h"
#include <jansson.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define S_BUF 65536

typedef struct {
    FILE *f;
    ag_manifest_t *m;
    char *err;
    size_t errlen;
    bool failed;
    /* second pass */
    char **seen;                /* entry names met so far, for duplicates */
    size_t nseen;
    bool routes_found;
    bool *plugin_found, *spec_found;
    uint64_t routes_ops, tar_bytes;
    unsigned char *buf;
} s_check_t;

static int s_fail(s_check_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int s_fail(s_check_t *c, const char *fmt, ...)
{
    if (!c->failed && c->err && c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
    }
    c->failed = true;
    return -1;
}

/* ---------------------------------------------------------------- streaming digests */

typedef struct {
    int need;                   /* continuation bytes still expected */
    unsigned char lo, hi;       /* the range the next one must fall in */
    bool bad;
} s_utf8_t;

/* RFC 3629 byte ranges: no overlong forms, no surrogates, nothing past U+10FFFF. */
static void s_utf8_feed(s_utf8_t *u, const unsigned char *p, size_t n)
{
    static const struct { unsigned char from, to, need, lo, hi; } lead[] = {
        { 0xC2, 0xDF, 1, 0x80, 0xBF }, { 0xE0, 0xE0, 2, 0xA0, 0xBF },
        { 0xE1, 0xEC, 2, 0x80, 0xBF }, { 0xED, 0xED, 2, 0x80, 0x9F },
        { 0xEE, 0xEF, 2, 0x80, 0xBF }, { 0xF0, 0xF0, 3, 0x90, 0xBF },
        { 0xF1, 0xF3, 3, 0x80, 0xBF }, { 0xF4, 0xF4, 3, 0x80, 0x8F },
    };
    for (size_t i = 0; i < n && !u->bad; i++) {
        unsigned char c = p[i];
        if (u->need) {
            u->bad = c < u->lo || c > u->hi;
            u->need--;
            u->lo = 0x80;
            u->hi = 0xBF;
            continue;
        }
        if (c < 0x80)
            continue;
        u->bad = true;
        for (size_t k = 0; k < sizeof lead / sizeof lead[0]; k++)
            if (c >= lead[k].from && c <= lead[k].to) {
                u->need = lead[k].need;
                u->lo = lead[k].lo;
                u->hi = lead[k].hi;
                u->bad = false;
                break;
            }
    }
}

/* Streams the current entry through SHA-256 (and the UTF-8 check when utf8 is not NULL); the
 * first head bytes are copied out (for the wasm magic). hex gets the digest. 0 or -1. */
static int s_digest_entry(s_check_t *c, ag_tar_t *t, const char *name, char hex[65],
                          s_utf8_t *utf8, unsigned char *head, size_t head_len)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return s_fail(c, "out of memory");
    }
    size_t at = 0;
    ssize_t n;
    while ((n = ag_tar_read(t, c->buf, S_BUF)) > 0) {
        EVP_DigestUpdate(md, c->buf, (size_t) n);
        if (utf8)
            s_utf8_feed(utf8, c->buf, (size_t) n);
        for (ssize_t i = 0; head && i < n && at < head_len; i++)
            head[at++] = c->buf[i];
    }
    unsigned char raw[32];
    unsigned int rawlen = 0;
    EVP_DigestFinal_ex(md, raw, &rawlen);
    EVP_MD_CTX_free(md);
    if (n < 0)
        return s_fail(c, "cannot read %s: %s", name, ag_tar_error(t));
    cm_hex(raw, 32, hex);
    return 0;
}

/* Reads the current entry whole (it must be at most max bytes): caller frees *out. */
static int s_slurp(s_check_t *c, ag_tar_t *t, const char *name, uint64_t size, size_t max,
                   char **out, size_t *len)
{
    if (size > max)
        return s_fail(c, "%s larger than %zu bytes", name, max);
    char *data = malloc((size_t) size + 1);
    if (!data)
        return s_fail(c, "out of memory");
    size_t at = 0;
    ssize_t n;
    while (at <= size && (n = ag_tar_read(t, data + at, (size_t) size + 1 - at)) > 0)
        at += (size_t) n;
    if (at != size || ag_tar_read(t, c->buf, 1) != 0) {
        free(data);
        return s_fail(c, "cannot read %s: %s", name, ag_tar_error(t));
    }
    data[at] = '\0';
    *out = data;
    *len = at;
    return 0;
}

/* ---------------------------------------------------------------- pass 1: the manifest */

static int s_open(s_check_t *c, ag_tar_t **t)
{
    if (fseek(c->f, 0, SEEK_SET) != 0)
        return s_fail(c, "cannot read the artifact file");
    *t = ag_tar_open(c->f, AG_CHECK_MAX_TAR);
    return *t ? 0 : s_fail(c, "out of memory");
}

static int s_pass_manifest(s_check_t *c)
{
    ag_tar_t *t = NULL;
    if (s_open(c, &t) != 0)
        return -1;
    const char *name;
    bool regular;
    uint64_t size;
    int rc;
    while ((rc = ag_tar_next(t, &name, &regular, &size)) == 1 && strcmp(name, "manifest.json"))
        ;
    char *text = NULL, why[512] = "";
    size_t len = 0;
    if (rc < 0)
        s_fail(c, "not a valid artifact: %s", ag_tar_error(t));
    else if (rc == 0)
        s_fail(c, "manifest.json not found in artifact");
    else if (!regular)
        s_fail(c, "manifest.json is not a regular file");
    else if (s_slurp(c, t, "manifest.json", size, AG_MANIFEST_MAX, &text, &len) == 0
             && !(c->m = ag_manifest_parse(text, len, why, sizeof why)))
        s_fail(c, "%s", why);
    free(text);
    ag_tar_destroy(&t);
    return c->failed ? -1 : 0;
}

static int s_verify_hash(s_check_t *c)
{
    char recomputed[72];
    if (ag_manifest_hash(c->m, recomputed) != 0)
        return s_fail(c, "out of memory");
    if (strcmp(recomputed, c->m->artifact_hash) != 0)
        return s_fail(c, "artifact integrity check failed: artifact hash mismatch: manifest "
                         "claims %.100s, recomputed %s", c->m->artifact_hash, recomputed);
    return 0;
}

/* ---------------------------------------------------------------- pass 2: every entry */

static int s_depth(json_t *v, int depth)
{
    if (depth > AG_CHECK_MAX_DEPTH)
        return -1;
    size_t i;
    const char *k;
    json_t *x;
    if (json_is_array(v)) {
        json_array_foreach(v, i, x) {
            if (s_depth(x, depth + 1) != 0)
                return -1;
        }
    }
    if (json_is_object(v)) {
        json_object_foreach(v, k, x) {
            if (s_depth(x, depth + 1) != 0)
                return -1;
        }
    }
    return 0;
}

/* The members of a CompiledOperation serde requires, and index = position (§1 item 12). */
static int s_operation(s_check_t *c, json_t *op, size_t i)
{
    json_t *idx = json_object_get(op, "index"), *d = json_object_get(op, "dispatch");
    if (!json_is_object(op) || !json_is_number(idx) || json_number_value(idx) != (double) i)
        return s_fail(c, "routes.json: operations[%zu] has no index equal to its position", i);
    if (!json_is_string(json_object_get(op, "path"))
        || !json_is_string(json_object_get(op, "method"))
        || !json_is_array(json_object_get(op, "parameters")))
        return s_fail(c, "routes.json: operations[%zu] lacks path, method or parameters", i);
    if (!json_is_object(d) || !json_is_string(json_object_get(d, "name")))
        return s_fail(c, "routes.json: operations[%zu] has no dispatch name", i);
    json_t *mw = json_object_get(op, "middlewares");
    if (mw && !json_is_array(mw))
        return s_fail(c, "routes.json: operations[%zu].middlewares is not an array", i);
    return 0;
}

static int s_routes(s_check_t *c, ag_tar_t *t, uint64_t size)
{
    char *text = NULL, hex[65];
    size_t len = 0;
    if (s_slurp(c, t, "routes.json", size, AG_CHECK_MAX_ROUTES, &text, &len) != 0)
        return -1;
    cm_sha256_hex(text, len, hex);
    const char *want = ag_manifest_checksum(c->m, "routes.json");
    json_error_t e;
    /* integers as reals: free-form configs may hold numbers past int64 that serde reads */
    json_t *r = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &e);
    free(text);
    json_t *ops = json_object_get(r, "operations");
    if (!want || strncmp(want, "sha256:", 7) != 0 || strcmp(want + 7, hex) != 0)
        s_fail(c, "routes.json: sha256 %s differs from the manifest's checksums", hex);
    else if (!r)
        s_fail(c, "routes.json: not JSON: %s", e.text);
    else if (s_depth(r, 1) != 0)
        s_fail(c, "routes.json: nested deeper than %d", AG_CHECK_MAX_DEPTH);
    else if (!json_is_array(ops))
        s_fail(c, "routes.json: no operations array");
    for (size_t i = 0; !c->failed && i < json_array_size(ops); i++)
        s_operation(c, json_array_get(ops, i), i);
    c->routes_ops = json_array_size(ops);
    json_decref(r);
    c->routes_found = true;
    return c->failed ? -1 : 0;
}

static int s_spec(s_check_t *c, ag_tar_t *t, const char *name)
{
    char hex[65];
    s_utf8_t u = { 0 };
    if (s_digest_entry(c, t, name, hex, &u, NULL, 0) != 0)
        return -1;
    if (u.bad || u.need)
        return s_fail(c, "%s is not UTF-8 (the data plane reads specs as text)", name);
    for (size_t i = 0; i < c->m->nspecs; i++) {
        if (strcmp(c->m->specs[i].file, name + 6) != 0)
            continue;
        if (strcmp(c->m->specs[i].sha256, hex) != 0)
            return s_fail(c, "%s: sha256 %s differs from source_specs", name, hex);
        c->spec_found[i] = true;
    }
    return 0;
}

/* A plugin module, a WAF file or anything else checksums names. */
static int s_named(s_check_t *c, ag_tar_t *t, const char *name)
{
    char hex[65];
    unsigned char head[8] = { 0 };
    if (s_digest_entry(c, t, name, hex, NULL, head, sizeof head) != 0)
        return -1;
    for (size_t i = 0; i < c->m->nplugins; i++) {
        const ag_mplugin_t *p = &c->m->plugins[i];
        if (strcmp(p->wasm_path, name) != 0)
            continue;
        if (strcmp(p->sha256, hex) != 0)
            return s_fail(c, "artifact integrity check failed: plugin '%.64s' checksum "
                             "mismatch: manifest %.64s, actual %s", p->name, p->sha256, hex);
        /* wasmtime refuses a module that is not WebAssembly 1 */
        if (memcmp(head, "\0asm\1\0\0\0", 8) != 0)
            return s_fail(c, "failed to compile plugin '%.64s': not a WebAssembly module",
                          p->name);
        c->plugin_found[i] = true;
    }
    const char *want = ag_manifest_checksum(c->m, name);
    if (want && (strncmp(want, "sha256:", 7) != 0 || strcmp(want + 7, hex) != 0))
        return s_fail(c, "%s: sha256 %s differs from the manifest's checksums", name, hex);
    return 0;
}

static int s_entry(s_check_t *c, ag_tar_t *t, const char *name, bool regular, uint64_t size)
{
    for (size_t i = 0; i < c->nseen; i++)
        if (strcmp(c->seen[i], name) == 0)
            return s_fail(c, "duplicate entry '%.120s' in artifact", name);
    if (c->nseen == AG_CHECK_MAX_ENTRIES)
        return s_fail(c, "more than %d entries in artifact", AG_CHECK_MAX_ENTRIES);
    if (!(c->seen[c->nseen] = strdup(name)))
        return s_fail(c, "out of memory");
    c->nseen++;
    if (strcmp(name, "manifest.json") == 0)
        return 0;   /* read in the first pass */
    if (strcmp(name, "routes.json") == 0)
        return regular ? s_routes(c, t, size) : s_fail(c, "routes.json is not a regular file");
    if (strncmp(name, "specs/", 6) == 0 && name[6])
        return s_spec(c, t, name);
    return s_named(c, t, name);
}

static int s_missing(s_check_t *c)
{
    if (!c->routes_found)
        return s_fail(c, "routes.json not found in artifact");
    if (c->routes_ops != c->m->routes_count)
        return s_fail(c, "manifest routes_count %llu, routes.json has %llu operations",
                      (unsigned long long) c->m->routes_count,
                      (unsigned long long) c->routes_ops);
    for (size_t i = 0; i < c->m->nplugins; i++)
        if (!c->plugin_found[i])
            return s_fail(c, "plugin '%.64s' (%.100s) not found in artifact",
                          c->m->plugins[i].name, c->m->plugins[i].wasm_path);
    for (size_t i = 0; i < c->m->nspecs; i++)
        if (!c->spec_found[i])
            return s_fail(c, "specs/%.100s not found in artifact", c->m->specs[i].file);
    for (size_t i = 0; c->m->waf.enabled && i < c->m->nchecksums; i++) {
        bool found = false;
        for (size_t k = 0; k < c->nseen && !found; k++)
            found = strcmp(c->seen[k], c->m->checksums[i].key) == 0;
        if (!found && strncmp(c->m->checksums[i].key, "waf/", 4) == 0)
            return s_fail(c, "%.100s not found in artifact", c->m->checksums[i].key);
    }
    return 0;
}

static int s_pass_entries(s_check_t *c)
{
    ag_tar_t *t = NULL;
    c->plugin_found = calloc(c->m->nplugins + 1, sizeof *c->plugin_found);
    c->spec_found = calloc(c->m->nspecs + 1, sizeof *c->spec_found);
    c->seen = calloc(AG_CHECK_MAX_ENTRIES, sizeof *c->seen);
    if (!c->plugin_found || !c->spec_found || !c->seen)
        return s_fail(c, "out of memory");
    if (s_open(c, &t) != 0)
        return -1;
    const char *name;
    bool regular;
    uint64_t size;
    int rc;
    while (!c->failed && (rc = ag_tar_next(t, &name, &regular, &size)) == 1)
        s_entry(c, t, name, regular, size);
    if (!c->failed && rc < 0)
        s_fail(c, "not a valid artifact: %s", ag_tar_error(t));
    if (!c->failed && c->m->waf.enabled && !ag_manifest_checksum(c->m, "waf/rules.json"))
        s_fail(c, "waf enabled without a waf/rules.json checksum");
    if (!c->failed)
        s_missing(c);
    if (!c->failed && ag_tar_finish(t) != 0)
        s_fail(c, "not a valid artifact: %s", ag_tar_error(t));
    c->tar_bytes = ag_tar_bytes(t);
    ag_tar_destroy(&t);
    return c->failed ? -1 : 0;
}

/* ---------------------------------------------------------------- entry points */

static int s_check(FILE *f, ag_artifact_t *out, char *err, size_t errlen)
{
    s_check_t c = { .f = f, .err = err, .errlen = errlen };
    memset(out, 0, sizeof *out);
    if (err && errlen)
        *err = '\0';
    c.buf = malloc(S_BUF);
    if (!c.buf)
        s_fail(&c, "out of memory");
    if (!c.failed && s_pass_manifest(&c) == 0 && s_verify_hash(&c) == 0
        && s_pass_entries(&c) == 0) {
        out->format = c.m->version;
        snprintf(out->artifact_hash, sizeof out->artifact_hash, "%s", c.m->artifact_hash);
        out->routes_count = c.m->routes_count;
        out->nspecs = c.m->nspecs;
        out->nplugins = c.m->nplugins;
        out->tar_bytes = c.tar_bytes;
    }
    for (size_t i = 0; c.seen && i < c.nseen; i++)
        free(c.seen[i]);
    free(c.seen);
    free(c.plugin_found);
    free(c.spec_found);
    free(c.buf);
    ag_manifest_destroy(&c.m);
    return c.failed ? -1 : 0;
}

int ag_check_file(const char *path, ag_artifact_t *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        memset(out, 0, sizeof *out);
        snprintf(err, errlen, "cannot open the artifact file");
        return -1;
    }
    int rc = s_check(f, out, err, errlen);
    fclose(f);
    return rc;
}

int ag_check_buffer(const void *data, size_t len, ag_artifact_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!data || len == 0) {
        snprintf(err, errlen, "not a valid artifact: empty");
        return -1;
    }
    FILE *f = fmemopen((void *) data, len, "rb");
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = s_check(f, out, err, errlen);
    fclose(f);
    return rc;
}
