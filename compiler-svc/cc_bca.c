/* cc_bca.c — the .bca writer: checks the inputs against the format's rules, writes
 * manifest.json and artifact_hash (BCA-FORMAT.md §4, §5, §9, §10), the GNU tar (§3) and one
 * gzip member (§2). Owns: the sorted views and digests of one build, and the buffers it hands
 * out. */
#include "cc_bca.h"
#include "cm_wasm.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cc_json.h"
#include "cm_util.h"

#define S_TAR_NAME_MAX 100
#define S_SERDE_MAX_DEPTH 127   /* serde_json's reader refuses a 128th nested container */

typedef struct {
    char *key, *val;
} s_ck_t;

/* One build: the inputs in manifest order, with their digests. */
typedef struct {
    const cc_bca_input_t *in;
    const cc_bca_spec_t **specs;       /* sorted by file */
    const cc_bca_plugin_t **plugins;   /* sorted by name */
    char (*spec_sha)[65];              /* [i] of specs[i] */
    char (*plugin_sha)[65];            /* [i] of plugins[i] */
    char routes_sha[65];
    cc_bca_waf_t waf;                  /* the policy written (the default one without has_waf) */
    s_ck_t *ck;                        /* checksums, keys in bytewise order */
    size_t nck;
} s_ctx_t;

static int s_fail(char *err, size_t errlen, const char *fmt, const char *arg)
{
    if (err && errlen)
        snprintf(err, errlen, fmt, arg ? arg : "");
    return -1;
}

/* ------------------------------------------------------------------ byte buffer */

typedef struct {
    unsigned char *buf;
    size_t len, cap;
    bool failed;
} s_buf_t;

static void s_put(s_buf_t *b, const void *p, size_t n)
{
    if (b->failed)
        return;
    if (n > SIZE_MAX - b->len - 1) {
        b->failed = true;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1 && cap <= SIZE_MAX / 2)
            cap *= 2;
        unsigned char *q = cap >= b->len + n + 1 ? realloc(b->buf, cap) : NULL;
        if (!q) {
            b->failed = true;
            return;
        }
        b->buf = q;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, p, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

static void s_puts(s_buf_t *b, const char *s)
{
    s_put(b, s, strlen(s));
}

/* ------------------------------------------------------------------ input checks */

static bool s_utf8(const char *s)
{
    return s && cc_json_utf8_valid((const unsigned char *) s, strlen(s));
}

/* chrono's %Y-%m-%dT%H:%M:%SZ: the shape only (the caller formats a real time). */
static bool s_time_ok(const char *t)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
    if (!t || strlen(t) != sizeof shape - 1)
        return false;
    for (size_t i = 0; shape[i]; i++)
        if (shape[i] == 'd' ? (t[i] < '0' || t[i] > '9') : t[i] != shape[i])
            return false;
    return true;
}

static int s_check_spec(const cc_bca_spec_t *s, char *err, size_t errlen)
{
    if (!s->file || !*s->file || strchr(s->file, '/') || !strcmp(s->file, ".")
        || !strcmp(s->file, ".."))
        return s_fail(err, errlen, "spec file name '%s' is not a plain basename", s->file);
    if (strlen("specs/") + strlen(s->file) > S_TAR_NAME_MAX)
        return s_fail(err, errlen, "spec file name '%s' is over 94 bytes", s->file);
    if (!s_utf8(s->file))
        return s_fail(err, errlen, "spec file name is not UTF-8", NULL);
    if ((!s->data && s->len) || !cc_json_utf8_valid(s->data, s->len))
        return s_fail(err, errlen, "spec %s is not UTF-8 text", s->file);
    if (!s->type || (strcmp(s->type, "openapi") && strcmp(s->type, "asyncapi")))
        return s_fail(err, errlen, "spec %s: type must be openapi or asyncapi", s->file);
    if (!s_utf8(s->version))
        return s_fail(err, errlen, "spec %s: version missing or not UTF-8", s->file);
    return 0;
}

static int s_check_plugin(const cc_bca_plugin_t *p, char *err, size_t errlen)
{
    if (!p->name || !cm_plugin_name_valid(p->name, strlen(p->name)))
        return s_fail(err, errlen, "plugin name '%s' does not match ^[a-z0-9][a-z0-9-]{0,63}$",
                      p->name);
    if (!s_utf8(p->version))
        return s_fail(err, errlen, "plugin %s: version missing or not UTF-8", p->name);
    if (!p->plugin_type
        || (strcmp(p->plugin_type, "dispatcher") && strcmp(p->plugin_type, "middleware")))
        return s_fail(err, errlen, "plugin %s: type must be dispatcher or middleware", p->name);
    if (!p->wasm && p->wasm_len)
        return s_fail(err, errlen, "plugin %s: no module bytes", p->name);
    if (p->n_host_functions && !p->host_functions)
        return s_fail(err, errlen, "plugin %s: host_functions missing", p->name);
    for (size_t i = 0; i < p->n_host_functions; i++)
        if (!s_utf8(p->host_functions[i]))
            return s_fail(err, errlen, "plugin %s: a host function is missing or not UTF-8",
                          p->name);
    return 0;
}

static int s_check_waf(const cc_bca_waf_t *w, char *err, size_t errlen)
{
    if (w->enabled)
        return s_fail(err, errlen, "an enabled WAF policy cannot be sealed by this compiler", NULL);
    if (w->paranoia_level < 0 || w->paranoia_level > 255)
        return s_fail(err, errlen, "WAF paranoia_level is not a u8", NULL);
    if (w->audit != CC_WAF_AUDIT_RELEVANT_ONLY && w->audit != CC_WAF_AUDIT_OFF
        && w->audit != CC_WAF_AUDIT_ON)
        return s_fail(err, errlen, "WAF audit mode is unknown", NULL);
    if (w->ruleset && !s_utf8(w->ruleset))
        return s_fail(err, errlen, "WAF ruleset is not UTF-8", NULL);
    return 0;
}

static int s_check_input(const cc_bca_input_t *in, char *err, size_t errlen)
{
    if (in->format != 6 && in->format != 4)
        return s_fail(err, errlen, "artifact format must be 6 or 4", NULL);
    if (!s_time_ok(in->compiled_at))
        return s_fail(err, errlen, "compiled_at is not YYYY-MM-DDTHH:MM:SSZ", NULL);
    if (!s_utf8(in->compiler_version))
        return s_fail(err, errlen, "compiler_version missing or not UTF-8", NULL);
    if ((in->nspecs && !in->specs) || (in->nplugins && !in->plugins))
        return s_fail(err, errlen, "spec or plugin array missing", NULL);
    for (size_t i = 0; i < in->nspecs; i++)
        if (s_check_spec(&in->specs[i], err, errlen) != 0)
            return -1;
    for (size_t i = 0; i < in->nplugins; i++)
        if (s_check_plugin(&in->plugins[i], err, errlen) != 0)
            return -1;
    if (!in->routes_json || !cc_json_utf8_valid((const unsigned char *) in->routes_json,
                                                in->routes_len))
        return s_fail(err, errlen, "routes.json missing or not UTF-8", NULL);
    const char *opt[] = { in->mcp_server_name, in->mcp_server_version, in->provenance_commit,
                          in->provenance_source };
    for (size_t i = 0; i < sizeof opt / sizeof opt[0]; i++)
        if (opt[i] && !s_utf8(opt[i]))
            return s_fail(err, errlen, "an MCP or provenance string is not UTF-8", NULL);
    if (in->format == 6 && in->has_waf)
        return s_check_waf(&in->waf, err, errlen);
    return 0;
}

/* ------------------------------------------------------------------ routes.json */

static size_t s_depth(const json_t *v)
{
    size_t d = 0;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            size_t c = s_depth(json_array_get(v, i));
            d = c > d ? c : d;
        }
        return d + 1;
    }
    if (!json_is_object(v))
        return 0;
    const char *k;
    json_t *m;
    json_object_foreach((json_t *) v, k, m) {
        size_t c = s_depth(m);
        d = c > d ? c : d;
    }
    return d + 1;
}

static bool s_bundled_name(const s_ctx_t *c, const char *n)
{
    for (size_t i = 0; n && i < c->in->nplugins; i++)
        if (!strcmp(c->plugins[i]->name, n))
            return true;
    return false;
}

static bool s_bundled(const s_ctx_t *c, const json_t *named)
{
    return s_bundled_name(c, json_string_value(json_object_get(named, "name")));
}

static int s_check_operation(const s_ctx_t *c, const json_t *op, size_t i, char *err,
                             size_t errlen)
{
    char at[32];
    snprintf(at, sizeof at, "%zu", i);
    json_t *idx = json_object_get(op, "index");
    if (!json_is_integer(idx) || json_integer_value(idx) != (json_int_t) i)
        return s_fail(err, errlen, "routes.json: operations[%s].index is not its position", at);
    if (!s_bundled(c, json_object_get(op, "dispatch")))
        return s_fail(err, errlen, "routes.json: operations[%s] dispatches to a plugin that is "
                      "not bundled", at);
    json_t *mws = json_object_get(op, "middlewares");
    for (size_t k = 0; k < json_array_size(mws); k++)
        if (!s_bundled(c, json_array_get(mws, k)))
            return s_fail(err, errlen, "routes.json: operations[%s] uses a middleware that is "
                          "not bundled", at);
    return 0;
}

/* What the data plane relies on (LOAD: serde can read it, index = position, every name
 * bundled), and that the text is the serde_json pretty form of itself. */
static int s_check_routes(const s_ctx_t *c, char *err, size_t errlen)
{
    const cc_bca_input_t *in = c->in;
    json_t *r = json_loadb(in->routes_json, in->routes_len,
                           JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
    json_t *ops = json_object_get(r, "operations");
    int rc = -1;
    if (!json_is_object(r) || !json_is_array(ops))
        s_fail(err, errlen, "routes.json is not an object with an operations array", NULL);
    else if (s_depth(r) > S_SERDE_MAX_DEPTH)
        s_fail(err, errlen, "routes.json nests deeper than serde_json reads (127)", NULL);
    else if (json_array_size(ops) != in->routes_count)
        s_fail(err, errlen, "routes_count differs from the operations in routes.json", NULL);
    else
        rc = 0;
    for (size_t i = 0; rc == 0 && i < json_array_size(ops); i++)
        rc = s_check_operation(c, json_array_get(ops, i), i, err, errlen);
    if (rc == 0) {
        size_t len;
        char *again = cc_json_pretty(r, &len);
        if (!again || len != in->routes_len || memcmp(again, in->routes_json, len))
            rc = s_fail(err, errlen, "routes.json is not serde_json pretty text", NULL);
        free(again);
    }
    json_decref(r);
    return rc;
}

/* The first and last bytes serde's pretty writer gives {"operations": [...]} with n entries:
 * a cheap guard against facts passed with some other text. */
static bool s_framed(const char *t, size_t len, size_t n)
{
    static const char empty[] = "{\n  \"operations\": []\n}";
    static const char head[] = "{\n  \"operations\": [\n    {", tail[] = "}\n  ]\n}";
    if (n == 0)
        return len == sizeof empty - 1 && !memcmp(t, empty, len);
    return len >= sizeof head - 1 + sizeof tail - 1 && !memcmp(t, head, sizeof head - 1)
        && !memcmp(t + len - (sizeof tail - 1), tail, sizeof tail - 1);
}

/* The text's producer vouches for its form, nesting and indexes (cc_bca_routes_facts_t), so
 * re-parsing it would only repeat the producer's work; what the facts cannot settle is
 * checked here: the count against routes_count and every name against the bundle. */
static int s_check_facts(const s_ctx_t *c, char *err, size_t errlen)
{
    const cc_bca_input_t *in = c->in;
    const cc_bca_routes_facts_t *f = in->routes_facts;
    if (!s_framed(in->routes_json, in->routes_len, f->operations))
        return s_fail(err, errlen, "routes.json is not serde_json pretty text", NULL);
    if (f->operations != in->routes_count)
        return s_fail(err, errlen, "routes_count differs from the operations in routes.json",
                      NULL);
    if (f->nplugin_names && !f->plugin_names)
        return s_fail(err, errlen, "routes.json: plugin names missing", NULL);
    for (size_t i = 0; i < f->nplugin_names; i++)
        if (!s_bundled_name(c, f->plugin_names[i]))
            return s_fail(err, errlen, "routes.json uses plugin '%s', which is not bundled",
                          f->plugin_names[i]);
    return 0;
}

/* ------------------------------------------------------------------ sorted views, digests */

static int s_spec_cmp(const void *a, const void *b)
{
    return strcmp((*(const cc_bca_spec_t *const *) a)->file,
                  (*(const cc_bca_spec_t *const *) b)->file);
}

static int s_plugin_cmp(const void *a, const void *b)
{
    return strcmp((*(const cc_bca_plugin_t *const *) a)->name,
                  (*(const cc_bca_plugin_t *const *) b)->name);
}

static int s_str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static void s_ctx_free(s_ctx_t *c)
{
    for (size_t i = 0; i < c->nck; i++) {
        free(c->ck[i].key);
        free(c->ck[i].val);
    }
    free(c->ck);
    free(c->specs);
    free(c->plugins);
    free(c->spec_sha);
    free(c->plugin_sha);
    memset(c, 0, sizeof *c);
}

static char *s_strcat2(const char *a, const char *b, const char *z)
{
    size_t n = strlen(a) + strlen(b) + strlen(z) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s%s", a, b, z);
    return s;
}

static int s_ck_cmp(const void *a, const void *b)
{
    return strcmp(((const s_ck_t *) a)->key, ((const s_ck_t *) b)->key);
}

/* checksums: plugins/<name>.wasm per plugin and routes.json, keys in bytewise order (BTreeMap;
 * not the plugin order: "plugins/a-b.wasm" < "plugins/a.wasm" while "a" < "a-b"). */
static int s_checksums(s_ctx_t *c)
{
    size_t n = c->in->nplugins + 1;
    c->ck = calloc(n, sizeof *c->ck);
    if (!c->ck)
        return -1;
    for (size_t i = 0; i < n; i++) {
        bool routes = i == c->in->nplugins;
        c->ck[i].key = routes ? s_strcat2("routes.json", "", "")
                              : s_strcat2("plugins/", c->plugins[i]->name, ".wasm");
        c->ck[i].val = s_strcat2("sha256:", routes ? c->routes_sha : c->plugin_sha[i], "");
        c->nck = i + 1;
        if (!c->ck[i].key || !c->ck[i].val)
            return -1;
    }
    qsort(c->ck, n, sizeof *c->ck, s_ck_cmp);
    return 0;
}

static const cc_bca_waf_t s_default_waf = {
    .enabled = false, .ruleset = NULL, .paranoia_level = 0, .detection_only = false,
    .inbound_threshold = 0, .outbound_threshold = 0, .max_response_body = 1048576,
    .audit = CC_WAF_AUDIT_RELEVANT_ONLY, .unsupported_skip = false
};

/* Checks the input and fills the sorted views and digests. */
static int s_ctx_init(s_ctx_t *c, const cc_bca_input_t *in, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->in = in;
    if (!in)
        return s_fail(err, errlen, "no input", NULL);
    if (s_check_input(in, err, errlen) != 0)
        return -1;
    c->waf = in->has_waf ? in->waf : s_default_waf;
    c->specs = calloc(in->nspecs + 1, sizeof *c->specs);
    c->plugins = calloc(in->nplugins + 1, sizeof *c->plugins);
    c->spec_sha = calloc(in->nspecs + 1, sizeof *c->spec_sha);
    c->plugin_sha = calloc(in->nplugins + 1, sizeof *c->plugin_sha);
    if (!c->specs || !c->plugins || !c->spec_sha || !c->plugin_sha)
        return s_fail(err, errlen, "out of memory", NULL);
    for (size_t i = 0; i < in->nspecs; i++)
        c->specs[i] = &in->specs[i];
    for (size_t i = 0; i < in->nplugins; i++)
        c->plugins[i] = &in->plugins[i];
    qsort(c->specs, in->nspecs, sizeof *c->specs, s_spec_cmp);
    qsort(c->plugins, in->nplugins, sizeof *c->plugins, s_plugin_cmp);
    for (size_t i = 1; i < in->nspecs; i++)
        if (!strcmp(c->specs[i - 1]->file, c->specs[i]->file))
            return s_fail(err, errlen, "spec file name '%s' appears twice", c->specs[i]->file);
    for (size_t i = 1; i < in->nplugins; i++)
        if (!strcmp(c->plugins[i - 1]->name, c->plugins[i]->name))
            return s_fail(err, errlen, "plugin '%s' appears twice", c->plugins[i]->name);
    for (size_t i = 0; i < in->nspecs; i++)
        cm_sha256_hex(c->specs[i]->data ? (const void *) c->specs[i]->data : "",
                      c->specs[i]->len, c->spec_sha[i]);
    for (size_t i = 0; i < in->nplugins; i++)
        cm_sha256_hex(c->plugins[i]->wasm ? (const void *) c->plugins[i]->wasm : "",
                      c->plugins[i]->wasm_len, c->plugin_sha[i]);
    cm_sha256_hex(in->routes_json, in->routes_len, c->routes_sha);
    if ((in->routes_facts ? s_check_facts(c, err, errlen) : s_check_routes(c, err, errlen)) != 0)
        return -1;
    if (s_checksums(c) != 0)
        return s_fail(err, errlen, "out of memory", NULL);
    return 0;
}

/* ------------------------------------------------------------------ artifact_hash (§5) */

static const char *s_mode_debug(const cc_bca_waf_t *w)
{
    return w->detection_only ? "DetectionOnly" : "Blocking";
}

static const char *s_audit(cc_waf_audit_t a, bool debug)
{
    if (a == CC_WAF_AUDIT_OFF)
        return debug ? "Off" : "off";
    if (a == CC_WAF_AUDIT_ON)
        return debug ? "On" : "on";
    return debug ? "RelevantOnly" : "relevant-only";
}

static void s_hash_plugin(s_buf_t *b, const cc_bca_plugin_t *p)
{
    s_puts(b, "plugin:");
    s_puts(b, p->name);
    s_puts(b, "\ttype=");
    s_puts(b, p->plugin_type);
    s_puts(b, "\tversion=");
    s_puts(b, p->version);
    s_puts(b, p->body_access ? "\tbody_access=true" : "\tbody_access=false");
    s_puts(b, "\thost_functions=");
    /* sorted here only; the manifest keeps declaration order */
    const char **hf = calloc(p->n_host_functions + 1, sizeof *hf);
    if (!hf) {
        b->failed = true;
        return;
    }
    if (p->n_host_functions)
        memcpy(hf, p->host_functions, p->n_host_functions * sizeof *hf);
    qsort(hf, p->n_host_functions, sizeof *hf, s_str_cmp);
    for (size_t i = 0; i < p->n_host_functions; i++) {
        if (i)
            s_puts(b, ",");
        s_puts(b, hf[i]);
    }
    free(hf);
    s_puts(b, "\n");
}

static void s_hash_waf(s_buf_t *b, const cc_bca_waf_t *w)
{
    char line[512];
    snprintf(line, sizeof line,
             "waf:enabled=%s\tparanoia=%d\tmode=%s\tinbound=%" PRId64 "\toutbound=%" PRId64
             "\tmax_response_body=%" PRIu64 "\taudit=%s\tunsupported=%s\tskipped=\n",
             w->enabled ? "true" : "false", w->paranoia_level, s_mode_debug(w),
             w->inbound_threshold, w->outbound_threshold, w->max_response_body,
             s_audit(w->audit, true), w->unsupported_skip ? "Skip" : "Fail");
    s_puts(b, line);
}

static void s_hash_text(const s_ctx_t *c, s_buf_t *b)
{
    const cc_bca_input_t *in = c->in;
    for (size_t i = 0; i < in->nspecs; i++) {
        s_puts(b, "source_spec:");
        s_puts(b, c->specs[i]->file);
        s_puts(b, "=");
        s_puts(b, c->spec_sha[i]);
        s_puts(b, "\n");
    }
    for (size_t i = 0; i < c->nck; i++) {
        s_puts(b, c->ck[i].key);
        s_puts(b, "=");
        s_puts(b, c->ck[i].val);
        s_puts(b, "\n");
    }
    s_puts(b, in->capabilities_enforced ? "capabilities_enforced=true\n"
                                        : "capabilities_enforced=false\n");
    for (size_t i = 0; i < in->nplugins; i++)
        s_hash_plugin(b, c->plugins[i]);
    s_puts(b, in->mcp_enabled ? "mcp:enabled=true" : "mcp:enabled=false");
    s_puts(b, "\tserver_name=");
    s_puts(b, in->mcp_server_name ? in->mcp_server_name : "");
    s_puts(b, "\tserver_version=");
    s_puts(b, in->mcp_server_version ? in->mcp_server_version : "");
    s_puts(b, "\n");
    if (in->format == 6)
        s_hash_waf(b, &c->waf);
}

char *cc_bca_hash_text(const cc_bca_input_t *in, size_t *len, char *err, size_t errlen)
{
    s_ctx_t c;
    s_buf_t b = { 0 };
    if (s_ctx_init(&c, in, err, errlen) == 0) {
        s_put(&b, "", 0);
        s_hash_text(&c, &b);
        if (b.failed)
            s_fail(err, errlen, "out of memory", NULL);
    } else
        b.failed = true;
    s_ctx_free(&c);
    if (b.failed) {
        free(b.buf);
        return NULL;
    }
    if (len)
        *len = b.len;
    return (char *) b.buf;
}

/* ------------------------------------------------------------------ manifest.json (§4) */

static json_t *s_str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *s_obj(json_t *o, const char *key, json_t *v)
{
    /* a NULL o or v (OOM) propagates: the final dump fails on NULL members */
    if (!o || !v || json_object_set_new(o, key, v) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *s_source_specs(const s_ctx_t *c)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < c->in->nspecs; i++) {
        json_t *s = json_object();
        s = s_obj(s, "file", json_string(c->specs[i]->file));
        s = s_obj(s, "sha256", json_string(c->spec_sha[i]));
        s = s_obj(s, "type", json_string(c->specs[i]->type));
        s = s_obj(s, "version", json_string(c->specs[i]->version));
        if (!s || json_array_append_new(a, s) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    return a;
}

static json_t *s_capabilities(const cc_bca_plugin_t *p)
{
    json_t *hf = json_array();
    for (size_t i = 0; hf && i < p->n_host_functions; i++)
        if (json_array_append_new(hf, json_string(p->host_functions[i])) != 0) {
            json_decref(hf);
            hf = NULL;
        }
    json_t *caps = s_obj(json_object(), "body_access", json_boolean(p->body_access));
    return s_obj(caps, "host_functions", hf);
}

static json_t *s_plugins(const s_ctx_t *c)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < c->in->nplugins; i++) {
        const cc_bca_plugin_t *p = c->plugins[i];
        char path[96];
        snprintf(path, sizeof path, "plugins/%s.wasm", p->name);
        json_t *o = json_object();
        o = s_obj(o, "name", json_string(p->name));
        o = s_obj(o, "version", json_string(p->version));
        o = s_obj(o, "plugin_type", json_string(p->plugin_type));
        o = s_obj(o, "wasm_path", json_string(path));
        o = s_obj(o, "sha256", json_string(c->plugin_sha[i]));
        o = s_obj(o, "capabilities", s_capabilities(p));
        if (!o || json_array_append_new(a, o) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    return a;
}

static json_t *s_waf(const cc_bca_waf_t *w)
{
    json_t *o = s_obj(json_object(), "enabled", json_boolean(w->enabled));
    if (w->ruleset)
        o = s_obj(o, "ruleset", json_string(w->ruleset));
    o = s_obj(o, "paranoia_level", json_integer(w->paranoia_level));
    o = s_obj(o, "mode", json_string(w->detection_only ? "detection-only" : "blocking"));
    o = s_obj(o, "inbound_threshold", json_integer(w->inbound_threshold));
    o = s_obj(o, "outbound_threshold", json_integer(w->outbound_threshold));
    /* a u64 past jansson's json_int_t is written as 0 here and patched into the text */
    json_int_t mrb = w->max_response_body > INT64_MAX ? 0 : (json_int_t) w->max_response_body;
    o = s_obj(o, "max_response_body", json_integer(mrb));
    o = s_obj(o, "audit", json_string(s_audit(w->audit, false)));
    return s_obj(o, "unsupported_rules", json_string(w->unsupported_skip ? "skip" : "fail"));
}

static json_t *s_manifest(const s_ctx_t *c, const char *artifact_hash)
{
    const cc_bca_input_t *in = c->in;
    json_t *ck = json_object();
    for (size_t i = 0; i < c->nck; i++)
        ck = s_obj(ck, c->ck[i].key, json_string(c->ck[i].val));
    json_t *prov = s_obj(json_object(), "commit", s_str_or_null(in->provenance_commit));
    prov = s_obj(prov, "source", s_str_or_null(in->provenance_source));
    json_t *mcp = s_obj(json_object(), "enabled", json_boolean(in->mcp_enabled));
    mcp = s_obj(mcp, "server_name", s_str_or_null(in->mcp_server_name));
    mcp = s_obj(mcp, "server_version", s_str_or_null(in->mcp_server_version));

    json_t *m = s_obj(json_object(), "barbacane_artifact_version", json_integer(in->format));
    m = s_obj(m, "compiled_at", json_string(in->compiled_at));
    m = s_obj(m, "compiler_version", json_string(in->compiler_version));
    m = s_obj(m, "source_specs", s_source_specs(c));
    m = s_obj(m, "routes_count", json_integer((json_int_t) in->routes_count));
    m = s_obj(m, "checksums", ck);
    m = s_obj(m, "plugins", s_plugins(c));
    m = s_obj(m, "artifact_hash", json_string(artifact_hash));
    m = s_obj(m, "provenance", prov);
    m = s_obj(m, "mcp", mcp);
    if (in->format == 6)
        m = s_obj(m, "waf", s_waf(&c->waf));
    return s_obj(m, "capabilities_enforced", json_boolean(in->capabilities_enforced));
}

/* ------------------------------------------------------------------ tar (§3) into gzip (§2) */

typedef struct {
    char name[S_TAR_NAME_MAX + 1];
    const unsigned char *data;
    size_t len;
} s_entry_t;

/* width-1 octal digits, zero-padded, then NUL (GNU numeric fields). */
static void s_octal(unsigned char *f, size_t width, uint64_t v)
{
    for (size_t i = width - 1; i-- > 0; v >>= 3)
        f[i] = (unsigned char) ('0' + (v & 7));
    f[width - 1] = '\0';
}

/* The §3.1 header of tar-rs Header::new_gnu + set_mode(0o644) + set_mtime(0) + set_size. */
static void s_tar_header(unsigned char h[512], const s_entry_t *e)
{
    memset(h, 0, 512);
    memcpy(h, e->name, strlen(e->name));        /* <= 100 bytes; NUL-padded */
    memcpy(h + 100, "0000644", 8);              /* uid, gid stay eight NULs */
    s_octal(h + 124, 12, e->len);
    s_octal(h + 136, 12, 0);
    memset(h + 148, ' ', 8);                    /* counted as spaces while summing */
    memcpy(h + 257, "ustar ", 6);               /* typeflag at 156 stays NUL */
    memcpy(h + 263, " ", 2);                    /* version " \0" */
    unsigned sum = 0;
    for (size_t i = 0; i < 512; i++)
        sum += h[i];
    s_octal(h + 148, 8, sum);
}

static void s_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char) (v >> (8 * i));
}

/* One gzip member written while the tar streams through it, so no whole tar ever exists:
 * flate2's 10 header bytes, zlib raw deflate level 6, then CRC-32 and ISIZE of the tar.
 * zlib's output does not depend on how its input is cut, so the bytes are those of one call
 * over the whole tar. The output grows as deflate fills it. */
typedef struct {
    z_stream zs;
    bool ready, failed;
    uint32_t crc;
    size_t isize;
    unsigned char *out;
    size_t cap;
} s_gz_t;

/* Input is fed in slices: the CRC and deflate then read each slice while it is in cache. */
#define S_GZ_SLICE ((size_t) 256 << 10)

static int s_gz_grow(s_gz_t *g)
{
    size_t used = 10 + g->zs.total_out;
    size_t cap = g->cap * 2;
    unsigned char *p = cap > g->cap ? realloc(g->out, cap) : NULL;
    if (!p)
        return -1;
    g->out = p;
    g->cap = cap;
    g->zs.next_out = p + used;
    g->zs.avail_out = (uInt) (cap - used < UINT32_MAX ? cap - used : UINT32_MAX);
    return 0;
}

static int s_gz_init(s_gz_t *g, size_t tar_len)
{
    static const unsigned char hdr[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff };
    memset(g, 0, sizeof *g);
    if (deflateInit2(&g->zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    g->ready = true;
    g->cap = 16384 + tar_len / 16;        /* text compresses well; s_gz_grow covers the rest */
    g->out = malloc(g->cap);
    if (!g->out)
        return -1;
    memcpy(g->out, hdr, 10);
    g->zs.next_out = g->out + 10;
    g->zs.avail_out = (uInt) (g->cap - 10 < UINT32_MAX ? g->cap - 10 : UINT32_MAX);
    return 0;
}

/* Runs deflate until it has taken all its input (Z_NO_FLUSH) or ended the stream (Z_FINISH). */
static void s_gz_run(s_gz_t *g, int flush)
{
    while (!g->failed) {
        if (g->zs.avail_out == 0 && s_gz_grow(g) != 0) {
            g->failed = true;
            return;
        }
        int rc = deflate(&g->zs, flush);
        if (rc == Z_STREAM_END || (flush == Z_NO_FLUSH && rc == Z_OK && g->zs.avail_in == 0))
            return;
        /* otherwise deflate stopped for want of room; stopping with room left is a failure
         * (never a loop) */
        if ((rc != Z_OK && rc != Z_BUF_ERROR) || g->zs.avail_out != 0)
            g->failed = true;
    }
}

static void s_gz_write(s_gz_t *g, const unsigned char *p, size_t n)
{
    while (n && !g->failed) {
        size_t k = n < S_GZ_SLICE ? n : S_GZ_SLICE;
        g->crc = (uint32_t) crc32(g->crc, p, (uInt) k);
        g->zs.next_in = (Bytef *) p;           /* zlib never writes through next_in */
        g->zs.avail_in = (uInt) k;
        s_gz_run(g, Z_NO_FLUSH);
        g->isize += k;
        p += k;
        n -= k;
    }
}

/* The trailer; hands the member to *out. */
static int s_gz_finish(s_gz_t *g, unsigned char **out, size_t *outlen)
{
    g->zs.avail_in = 0;
    s_gz_run(g, Z_FINISH);
    size_t n = 10 + g->zs.total_out;
    if (g->failed || (g->cap - n < 8 && s_gz_grow(g) != 0))
        return -1;
    s_le32(g->out + n, g->crc);
    s_le32(g->out + n + 4, (uint32_t) (g->isize & 0xffffffffu));
    *out = g->out;
    *outlen = n + 8;
    g->out = NULL;
    return 0;
}

static void s_gz_free(s_gz_t *g)
{
    if (g->ready)
        deflateEnd(&g->zs);
    free(g->out);
    memset(g, 0, sizeof *g);
}

/* Bytes of the tar (§3.3: every entry padded to 512, then two zero blocks), -1 past the cap. */
static int s_tar_len(const s_entry_t *e, size_t n, size_t *total)
{
    *total = 1024;
    for (size_t i = 0; i < n; i++) {
        size_t padded = (e[i].len + 511) / 512 * 512;
        if (e[i].len > CC_BCA_MAX_TAR || padded + 512 > CC_BCA_MAX_TAR - *total)
            return -1;
        *total += 512 + padded;
    }
    return 0;
}

/* The tar, entry by entry, straight from the caller's buffers into the gzip member. */
static int s_tar_gzip(const s_entry_t *e, size_t n, unsigned char **out, size_t *outlen)
{
    static const unsigned char zeros[1024];
    size_t total;
    s_gz_t g;
    memset(&g, 0, sizeof g);
    if (s_tar_len(e, n, &total) != 0 || s_gz_init(&g, total) != 0) {
        s_gz_free(&g);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char h[512];
        s_tar_header(h, &e[i]);
        s_gz_write(&g, h, sizeof h);
        s_gz_write(&g, e[i].data, e[i].len);
        s_gz_write(&g, zeros, (512 - e[i].len % 512) % 512);
    }
    s_gz_write(&g, zeros, sizeof zeros);
    int rc = s_gz_finish(&g, out, outlen);
    s_gz_free(&g);
    return rc;
}

/* Entries in §3.3 order: manifest, routes, specs and plugins in manifest order. */
static int s_archive(const s_ctx_t *c, cc_bca_t *out)
{
    const cc_bca_input_t *in = c->in;
    size_t n = 2 + in->nspecs + in->nplugins;
    s_entry_t *e = calloc(n, sizeof *e);
    if (!e)
        return -1;
    snprintf(e[0].name, sizeof e[0].name, "manifest.json");
    e[0].data = (const unsigned char *) out->manifest;
    e[0].len = out->manifest_len;
    snprintf(e[1].name, sizeof e[1].name, "routes.json");
    e[1].data = (const unsigned char *) in->routes_json;
    e[1].len = in->routes_len;
    for (size_t i = 0; i < in->nspecs; i++) {
        s_entry_t *x = &e[2 + i];
        snprintf(x->name, sizeof x->name, "specs/%s", c->specs[i]->file);
        x->data = c->specs[i]->data;
        x->len = c->specs[i]->len;
    }
    for (size_t i = 0; i < in->nplugins; i++) {
        s_entry_t *x = &e[2 + in->nspecs + i];
        snprintf(x->name, sizeof x->name, "plugins/%s.wasm", c->plugins[i]->name);
        x->data = c->plugins[i]->wasm;
        x->len = c->plugins[i]->wasm_len;
    }
    int rc = s_tar_gzip(e, n, &out->data, &out->len);
    free(e);
    return rc;
}

/* ------------------------------------------------------------------ public */

/* Replaces the placeholder 0 of waf.max_response_body with v (serde writes any u64). The
 * member is found by its line: a raw newline only ever occurs in the layout, never inside a
 * string, so the match is the member itself. Frees text and returns NULL on failure. */
static char *s_patch_u64(char *text, size_t *len, uint64_t v)
{
    static const char member[] = "\n    \"max_response_body\": 0,\n";
    char *at = strstr(text, member), digits[24];
    int n = snprintf(digits, sizeof digits, "%" PRIu64, v);
    char *out = at ? malloc(*len + (size_t) n) : NULL;
    if (!out) {
        free(text);
        return NULL;
    }
    size_t head = (size_t) (at - text) + sizeof member - 4;   /* up to the 0 */
    memcpy(out, text, head);
    memcpy(out + head, digits, (size_t) n);
    memcpy(out + head + n, text + head + 1, *len - head);      /* the rest and its NUL */
    *len += (size_t) n - 1;
    free(text);
    return out;
}

static int s_build(const s_ctx_t *c, cc_bca_t *out, char *err, size_t errlen)
{
    s_buf_t b = { 0 };
    s_put(&b, "", 0);
    s_hash_text(c, &b);
    if (b.failed) {
        free(b.buf);
        return s_fail(err, errlen, "out of memory", NULL);
    }
    char hex[65];
    cm_sha256_hex(b.buf, b.len, hex);
    free(b.buf);
    snprintf(out->artifact_hash, sizeof out->artifact_hash, "sha256:%s", hex);
    json_t *m = s_manifest(c, out->artifact_hash);
    out->manifest = m ? cc_json_pretty(m, &out->manifest_len) : NULL;
    json_decref(m);
    if (out->manifest && c->in->format == 6 && c->waf.max_response_body > INT64_MAX)
        out->manifest = s_patch_u64(out->manifest, &out->manifest_len,
                                    c->waf.max_response_body);
    if (!out->manifest)
        return s_fail(err, errlen, "out of memory writing manifest.json", NULL);
    if (s_archive(c, out) != 0)
        return s_fail(err, errlen, "the archive is too large or memory ran out", NULL);
    cm_sha256_hex(out->data, out->len, out->sha256);
    return 0;
}

int cc_bca_build(const cc_bca_input_t *in, cc_bca_t *out, char *err, size_t errlen)
{
    if (!out)
        return s_fail(err, errlen, "no output", NULL);
    memset(out, 0, sizeof *out);
    s_ctx_t c;
    int rc = s_ctx_init(&c, in, err, errlen);
    if (rc == 0)
        rc = s_build(&c, out, err, errlen);
    s_ctx_free(&c);
    if (rc != 0)
        cc_bca_free(out);
    return rc;
}

void cc_bca_free(cc_bca_t *out)
{
    if (!out)
        return;
    free(out->data);
    free(out->manifest);
    memset(out, 0, sizeof *out);
}
