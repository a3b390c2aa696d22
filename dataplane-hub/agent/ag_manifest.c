/* manifest.json reader and the §5 artifact_hash recomputation. Owns the parsed JSON document of
 * each manifest and the arrays that point into it. jansson holds only int64 while serde reads
 * any u64, so integers past INT64_MAX are recovered from the text (s_load). */
#include "ag_manifest.h"
#include "cm_util.h"
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_BIG 8

typedef struct {
    char digits[24];
    double approx;
} s_big_t;

typedef struct {
    json_t *root, *aroot;       /* exact document; the same read with integers as reals */
    s_big_t bigs[S_MAX_BIG];    /* integers past INT64_MAX, replaced by 0 in root */
    size_t nbig;
    char *err;
    size_t errlen;
} s_ctx_t;

static int s_fail(s_ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int s_fail(s_ctx_t *c, const char *fmt, ...)
{
    if (c->err && c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ---------------------------------------------------------------- loading */

/* jansson stops with "numeric overflow" right after the offending digits: note them, replace
 * them by a 0 padded with spaces (positions do not move) and parse again. */
static int s_patch_big(s_ctx_t *c, char *buf, size_t pos)
{
    size_t end = pos, start = pos;
    while (start > 0 && buf[start - 1] >= '0' && buf[start - 1] <= '9')
        start--;
    if (start == end || (start > 0 && buf[start - 1] == '-'))
        return s_fail(c, "manifest.json: integer out of range");
    if (c->nbig == S_MAX_BIG || end - start > 20)
        return s_fail(c, "manifest.json: integer out of range");
    s_big_t *b = &c->bigs[c->nbig];
    memcpy(b->digits, buf + start, end - start);
    b->digits[end - start] = '\0';
    errno = 0;
    unsigned long long v = strtoull(b->digits, NULL, 10);
    if (errno == ERANGE || v == 0)
        return s_fail(c, "manifest.json: integer out of range");
    b->approx = strtod(b->digits, NULL);
    c->nbig++;
    buf[start] = '0';
    memset(buf + start + 1, ' ', end - start - 1);
    return 0;
}

static int s_load(s_ctx_t *c, const char *text, size_t len)
{
    char *buf = malloc(len ? len : 1);
    if (!buf)
        return s_fail(c, "out of memory");
    memcpy(buf, text, len);
    json_error_t e;
    for (;;) {
        c->root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &e);
        if (c->root || json_error_code(&e) != json_error_numeric_overflow || e.position < 0
            || (size_t) e.position > len || s_patch_big(c, buf, (size_t) e.position) != 0)
            break;
    }
    free(buf);
    if (!c->root)
        return c->err && *c->err ? -1 : s_fail(c, "manifest.json: not JSON: %s", e.text);
    if (c->nbig)
        c->aroot = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &e);
    if (c->nbig && !c->aroot)
        return s_fail(c, "manifest.json: not JSON: %s", e.text);
    if (!json_is_object(c->root))
        return s_fail(c, "manifest.json: not a JSON object");
    return 0;
}

/* ---------------------------------------------------------------- typed members */

/* An unsigned integer no larger than max. av is the same value in the document read as
 * reals: a replaced big integer shows there. With digits (u64 fields), the big integer's text
 * is recovered; elsewhere it is out of range. 0, or -1. */
static int s_uint_value(s_ctx_t *c, json_t *v, json_t *av, uint64_t max, uint64_t *out,
                        char digits[24], const char *what)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return s_fail(c, "manifest.json: %s is not an unsigned integer", what);
    *out = (uint64_t) json_integer_value(v);
    if (digits)
        snprintf(digits, 24, "%llu", (unsigned long long) *out);
    double a = json_is_number(av) ? json_number_value(av) : 0;
    if (a >= 9.2e18) {
        const char *found = NULL;
        for (size_t i = 0; i < c->nbig; i++) {
            if (c->bigs[i].approx != a)
                continue;
            if (found && strcmp(found, c->bigs[i].digits) != 0)
                return s_fail(c, "manifest.json: %s is ambiguous", what);
            found = c->bigs[i].digits;
        }
        if (!found || !digits)
            return s_fail(c, "manifest.json: %s out of range", what);
        snprintf(digits, 24, "%s", found);
        *out = UINT64_MAX;
        return 0;
    }
    if (*out > max)
        return s_fail(c, "manifest.json: %s out of range", what);
    return 0;
}

/* Members of o: 1 when absent (the caller applies its default), 0 when read, -1 when the type
 * is wrong. A null counts as present (serde refuses null for a non-Option field). */
static int s_uint(s_ctx_t *c, json_t *o, json_t *ao, const char *key, uint64_t max,
                  uint64_t *out, char digits[24])
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return 1;
    return s_uint_value(c, v, ao ? json_object_get(ao, key) : NULL, max, out, digits, key);
}

static int s_int64(s_ctx_t *c, json_t *o, json_t *ao, const char *key, int64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return 1;
    double a = ao && json_is_number(json_object_get(ao, key))
                   ? json_number_value(json_object_get(ao, key)) : 0;
    if (!json_is_integer(v) || a >= 9.2e18)
        return s_fail(c, "manifest.json: %s is not an i64", key);
    *out = json_integer_value(v);
    return 0;
}

static int s_bool(s_ctx_t *c, json_t *o, const char *key, bool *out)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return 1;
    if (!json_is_boolean(v))
        return s_fail(c, "manifest.json: %s is not a boolean", key);
    *out = json_is_true(v);
    return 0;
}

/* A required string member. */
static int s_str(s_ctx_t *c, json_t *o, const char *key, const char **out, const char *where)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        return s_fail(c, "manifest.json: %s%s is missing or not a string", where, key);
    *out = json_string_value(v);
    return 0;
}

/* An Option<String> member: absent or null → NULL. */
static int s_opt_str(s_ctx_t *c, json_t *o, const char *key, const char **out)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return s_fail(c, "manifest.json: %s is not a string or null", key);
    *out = json_string_value(v);
    return 0;
}

static json_t *s_array(s_ctx_t *c, json_t *o, const char *key, const char *where)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_array(v)) {
        s_fail(c, "manifest.json: %s%s is missing or not an array", where, key);
        return NULL;
    }
    if (json_array_size(v) > AG_MANIFEST_MAX_ITEMS) {
        s_fail(c, "manifest.json: %s%s has too many items", where, key);
        return NULL;
    }
    return v;
}

/* ---------------------------------------------------------------- sections */

static int s_specs(s_ctx_t *c, ag_manifest_t *m)
{
    json_t *arr = s_array(c, c->root, "source_specs", "");
    if (!arr)
        return -1;
    m->specs = calloc(json_array_size(arr) + 1, sizeof *m->specs);
    if (!m->specs)
        return s_fail(c, "out of memory");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *s = json_array_get(arr, i);
        const char *type, *version;
        if (!json_is_object(s))
            return s_fail(c, "manifest.json: source_specs[%zu] is not an object", i);
        if (s_str(c, s, "file", &m->specs[i].file, "source_specs[].") != 0
            || s_str(c, s, "sha256", &m->specs[i].sha256, "source_specs[].") != 0
            || s_str(c, s, "type", &type, "source_specs[].") != 0
            || s_str(c, s, "version", &version, "source_specs[].") != 0)
            return -1;
        m->nspecs++;
    }
    return 0;
}

static int s_capabilities(s_ctx_t *c, json_t *p, ag_mplugin_t *out)
{
    json_t *caps = json_object_get(p, "capabilities");
    if (!json_is_object(caps))
        return s_fail(c, "manifest.json: plugins[].capabilities is missing or not an object");
    if (s_bool(c, caps, "body_access", &out->body_access) < 0)
        return -1;
    json_t *hf = json_object_get(caps, "host_functions");
    if (!hf)
        return 0;
    if (!json_is_array(hf) || json_array_size(hf) > AG_MANIFEST_MAX_ITEMS)
        return s_fail(c, "manifest.json: plugins[].capabilities.host_functions is not an array");
    out->host_functions = calloc(json_array_size(hf) + 1, sizeof *out->host_functions);
    if (!out->host_functions)
        return s_fail(c, "out of memory");
    for (size_t i = 0; i < json_array_size(hf); i++) {
        json_t *v = json_array_get(hf, i);
        if (!json_is_string(v))
            return s_fail(c, "manifest.json: a host function is not a string");
        out->host_functions[out->n_host_functions++] = json_string_value(v);
    }
    return 0;
}

static int s_plugins(s_ctx_t *c, ag_manifest_t *m)
{
    json_t *arr = s_array(c, c->root, "plugins", "");
    if (!arr)
        return -1;
    m->plugins = calloc(json_array_size(arr) + 1, sizeof *m->plugins);
    if (!m->plugins)
        return s_fail(c, "out of memory");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *p = json_array_get(arr, i);
        ag_mplugin_t *o = &m->plugins[i];
        m->nplugins++;
        if (!json_is_object(p))
            return s_fail(c, "manifest.json: plugins[%zu] is not an object", i);
        if (s_str(c, p, "name", &o->name, "plugins[].") != 0
            || s_str(c, p, "version", &o->version, "plugins[].") != 0
            || s_str(c, p, "plugin_type", &o->plugin_type, "plugins[].") != 0
            || s_str(c, p, "wasm_path", &o->wasm_path, "plugins[].") != 0
            || s_str(c, p, "sha256", &o->sha256, "plugins[].") != 0
            || s_capabilities(c, p, o) != 0)
            return -1;
    }
    return 0;
}

static int s_key_cmp(const void *a, const void *b)
{
    return strcmp(((const ag_mchecksum_t *) a)->key, ((const ag_mchecksum_t *) b)->key);
}

static int s_checksums(s_ctx_t *c, ag_manifest_t *m)
{
    json_t *o = json_object_get(c->root, "checksums");
    if (!json_is_object(o))
        return s_fail(c, "manifest.json: checksums is missing or not an object");
    if (json_object_size(o) > AG_MANIFEST_MAX_ITEMS)
        return s_fail(c, "manifest.json: checksums has too many members");
    m->checksums = calloc(json_object_size(o) + 1, sizeof *m->checksums);
    if (!m->checksums)
        return s_fail(c, "out of memory");
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        if (!json_is_string(v))
            return s_fail(c, "manifest.json: checksums[%s] is not a string", key);
        m->checksums[m->nchecksums].key = key;
        m->checksums[m->nchecksums++].value = json_string_value(v);
    }
    /* strcmp compares unsigned bytes: the BTreeMap<String, _> order */
    qsort(m->checksums, m->nchecksums, sizeof *m->checksums, s_key_cmp);
    return 0;
}

static int s_mcp(s_ctx_t *c, ag_manifest_t *m)
{
    json_t *mcp = json_object_get(c->root, "mcp");
    if (!mcp)
        return 0;
    if (!json_is_object(mcp))
        return s_fail(c, "manifest.json: mcp is not an object");
    if (s_bool(c, mcp, "enabled", &m->mcp_enabled) != 0)
        return s_fail(c, "manifest.json: mcp.enabled is missing or not a boolean");
    if (s_opt_str(c, mcp, "server_name", &m->mcp_server_name) != 0
        || s_opt_str(c, mcp, "server_version", &m->mcp_server_version) != 0)
        return -1;
    return 0;
}

/* The JSON spelling of a WAF enum → its Rust Debug name, which the hash uses. */
static int s_enum(s_ctx_t *c, json_t *w, const char *key, const char *const *map,
                  const char **out)
{
    json_t *v = json_object_get(w, key);
    if (!v)
        return 0;
    for (size_t i = 0; json_is_string(v) && map[i]; i += 2)
        if (strcmp(json_string_value(v), map[i]) == 0) {
            *out = map[i + 1];
            return 0;
        }
    return s_fail(c, "manifest.json: waf.%s has an unknown value", key);
}

static int s_waf_skipped(s_ctx_t *c, json_t *w, json_t *aw, ag_mwaf_t *waf)
{
    json_t *arr = json_object_get(w, "skipped_rules");
    json_t *aarr = aw ? json_object_get(aw, "skipped_rules") : NULL;
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
    if (arr && (!json_is_array(arr) || n > AG_MANIFEST_MAX_ITEMS))
        return s_fail(c, "manifest.json: waf.skipped_rules is not an array");
    waf->skipped = calloc(n * 11 + 1, 1);
    if (!waf->skipped)
        return s_fail(c, "out of memory");
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t id;
        if (s_uint_value(c, json_array_get(arr, i), aarr ? json_array_get(aarr, i) : NULL,
                         UINT32_MAX, &id, NULL, "waf.skipped_rules[]") != 0)
            return -1;
        at += (size_t) sprintf(waf->skipped + at, "%s%llu", i ? "," : "",
                               (unsigned long long) id);
    }
    return 0;
}

static int s_waf(s_ctx_t *c, ag_manifest_t *m)
{
    static const char *const modes[] = { "blocking", "Blocking", "detection-only",
                                         "DetectionOnly", NULL };
    static const char *const audits[] = { "off", "Off", "relevant-only", "RelevantOnly",
                                          "on", "On", NULL };
    static const char *const unsup[] = { "fail", "Fail", "skip", "Skip", NULL };
    ag_mwaf_t *waf = &m->waf;
    *waf = (ag_mwaf_t) { .mode = "Blocking", .audit = "RelevantOnly", .unsupported = "Fail" };
    snprintf(waf->max_response_body, sizeof waf->max_response_body, "1048576");
    json_t *w = json_object_get(c->root, "waf");
    json_t *aw = c->aroot ? json_object_get(c->aroot, "waf") : NULL;
    if (m->version == 4 || !w)
        return s_waf_skipped(c, NULL, NULL, waf);
    if (!json_is_object(w))
        return s_fail(c, "manifest.json: waf is not an object");
    if (s_bool(c, w, "enabled", &waf->enabled) != 0)
        return s_fail(c, "manifest.json: waf.enabled is missing or not a boolean");
    const char *ruleset, *rules_path;
    uint64_t pl = 0, mrb;
    char digits[24];
    if (s_opt_str(c, w, "ruleset", &ruleset) != 0 || s_opt_str(c, w, "rules_path", &rules_path)
        || s_uint(c, w, aw, "paranoia_level", 255, &pl, NULL) < 0
        || s_int64(c, w, aw, "inbound_threshold", &waf->inbound_threshold) < 0
        || s_int64(c, w, aw, "outbound_threshold", &waf->outbound_threshold) < 0
        || s_enum(c, w, "mode", modes, &waf->mode) != 0
        || s_enum(c, w, "audit", audits, &waf->audit) != 0
        || s_enum(c, w, "unsupported_rules", unsup, &waf->unsupported) != 0)
        return -1;
    int rc = s_uint(c, w, aw, "max_response_body", UINT64_MAX, &mrb, digits);
    if (rc < 0)
        return -1;
    if (rc == 0)
        snprintf(waf->max_response_body, sizeof waf->max_response_body, "%s", digits);
    waf->paranoia_level = (unsigned) pl;
    return s_waf_skipped(c, w, aw, waf);
}

static int s_top(s_ctx_t *c, ag_manifest_t *m)
{
    const char *compiled_at, *compiler_version;
    uint64_t version = 0;
    if (s_uint(c, c->root, c->aroot, "barbacane_artifact_version", UINT32_MAX, &version,
               NULL) != 0)
        return c->err && *c->err ? -1
                                 : s_fail(c, "manifest.json: barbacane_artifact_version missing");
    if (version != 4 && version != 6)
        return s_fail(c, "unsupported artifact version %llu (this agent loads 6 and 4)",
                      (unsigned long long) version);
    m->version = (unsigned) version;
    if (s_str(c, c->root, "compiled_at", &compiled_at, "") != 0
        || s_str(c, c->root, "compiler_version", &compiler_version, "") != 0
        || s_str(c, c->root, "artifact_hash", &m->artifact_hash, "") != 0)
        return -1;
    if (s_uint(c, c->root, c->aroot, "routes_count", UINT64_MAX, &m->routes_count, NULL) != 0)
        return c->err && *c->err ? -1 : s_fail(c, "manifest.json: routes_count missing");
    json_t *prov = json_object_get(c->root, "provenance");
    const char *commit, *source;
    if (!json_is_object(prov))
        return s_fail(c, "manifest.json: provenance is missing or not an object");
    if (s_opt_str(c, prov, "commit", &commit) != 0 || s_opt_str(c, prov, "source", &source) != 0)
        return -1;
    const char *sig, *key;
    if (s_opt_str(c, c->root, "signature", &sig) != 0
        || s_opt_str(c, c->root, "signing_public_key", &key) != 0)
        return -1;
    return s_bool(c, c->root, "capabilities_enforced", &m->capabilities_enforced) < 0 ? -1 : 0;
}

ag_manifest_t *ag_manifest_parse(const char *text, size_t len, char *err, size_t errlen)
{
    if (err && errlen)
        *err = '\0';
    s_ctx_t c = { .err = err, .errlen = errlen };
    ag_manifest_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    int rc = len > AG_MANIFEST_MAX ? s_fail(&c, "manifest.json larger than %zu bytes",
                                            AG_MANIFEST_MAX)
                                   : s_load(&c, text, len);
    m->json = c.root;
    if (rc == 0)
        rc = s_top(&c, m);
    if (rc == 0)
        rc = s_specs(&c, m) || s_plugins(&c, m) || s_checksums(&c, m) || s_mcp(&c, m)
             || s_waf(&c, m) ? -1 : 0;
    json_decref(c.aroot);
    if (rc != 0)
        ag_manifest_destroy(&m);
    return m;
}

void ag_manifest_destroy(ag_manifest_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ag_manifest_t *m = *self_p;
    for (size_t i = 0; m->plugins && i < m->nplugins; i++)
        free(m->plugins[i].host_functions);
    free(m->plugins);
    free(m->specs);
    free(m->checksums);
    free(m->waf.skipped);
    json_decref((json_t *) m->json);
    free(m);
    *self_p = NULL;
}

const char *ag_manifest_checksum(const ag_manifest_t *self, const char *key)
{
    for (size_t i = 0; i < self->nchecksums; i++)
        if (strcmp(self->checksums[i].key, key) == 0)
            return self->checksums[i].value;
    return NULL;
}

/* ---------------------------------------------------------------- §5 hash text */

typedef struct {
    char *p;
    size_t len, cap;
    bool oom;
} s_buf_t;

static void s_put(s_buf_t *b, const char *s)
{
    size_t n = strlen(s);
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n + 1);
    b->len += n;
}

static void s_putv(s_buf_t *b, const char *const *parts)
{
    for (; *parts; parts++)
        s_put(b, *parts);
}

static int s_strp_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* plugin:<name>\ttype=…\tversion=…\tbody_access=…\thost_functions=<sorted, joined by ','> */
static void s_plugin_line(s_buf_t *b, const ag_mplugin_t *p)
{
    s_putv(b, (const char *const[]) { "plugin:", p->name, "\ttype=", p->plugin_type,
                                      "\tversion=", p->version, "\tbody_access=",
                                      p->body_access ? "true" : "false", "\thost_functions=",
                                      NULL });
    const char **sorted = calloc(p->n_host_functions + 1, sizeof *sorted);
    if (!sorted) {
        b->oom = true;
        return;
    }
    memcpy(sorted, p->host_functions, p->n_host_functions * sizeof *sorted);
    qsort(sorted, p->n_host_functions, sizeof *sorted, s_strp_cmp);
    for (size_t i = 0; i < p->n_host_functions; i++) {
        if (i)
            s_put(b, ",");
        s_put(b, sorted[i]);
    }
    free(sorted);
    s_put(b, "\n");
}

static void s_waf_line(s_buf_t *b, const ag_mwaf_t *w)
{
    char pl[8], in[24], out[24];
    snprintf(pl, sizeof pl, "%u", w->paranoia_level);
    snprintf(in, sizeof in, "%lld", (long long) w->inbound_threshold);
    snprintf(out, sizeof out, "%lld", (long long) w->outbound_threshold);
    s_putv(b, (const char *const[]) { "waf:enabled=", w->enabled ? "true" : "false",
                                      "\tparanoia=", pl, "\tmode=", w->mode, "\tinbound=", in,
                                      "\toutbound=", out, "\tmax_response_body=",
                                      w->max_response_body, "\taudit=", w->audit,
                                      "\tunsupported=", w->unsupported, "\tskipped=",
                                      w->skipped ? w->skipped : "", "\n", NULL });
}

char *ag_manifest_hash_text(const ag_manifest_t *self, size_t *len)
{
    s_buf_t b = { 0 };
    s_put(&b, "");
    for (size_t i = 0; i < self->nspecs; i++)
        s_putv(&b, (const char *const[]) { "source_spec:", self->specs[i].file, "=",
                                           self->specs[i].sha256, "\n", NULL });
    for (size_t i = 0; i < self->nchecksums; i++)
        s_putv(&b, (const char *const[]) { self->checksums[i].key, "=",
                                           self->checksums[i].value, "\n", NULL });
    s_putv(&b, (const char *const[]) { "capabilities_enforced=",
                                       self->capabilities_enforced ? "true" : "false", "\n",
                                       NULL });
    for (size_t i = 0; i < self->nplugins; i++)
        s_plugin_line(&b, &self->plugins[i]);
    s_putv(&b, (const char *const[]) { "mcp:enabled=", self->mcp_enabled ? "true" : "false",
                                       "\tserver_name=",
                                       self->mcp_server_name ? self->mcp_server_name : "",
                                       "\tserver_version=",
                                       self->mcp_server_version ? self->mcp_server_version : "",
                                       "\n", NULL });
    if (self->version == 6)
        s_waf_line(&b, &self->waf);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    if (len)
        *len = b.len;
    return b.p;
}

int ag_manifest_hash(const ag_manifest_t *self, char out[72])
{
    size_t len = 0;
    char *text = ag_manifest_hash_text(self, &len);
    if (!text)
        return -1;
    memcpy(out, "sha256:", 7);
    cm_sha256_hex(text, len, out + 7);
    free(text);
    return 0;
}
