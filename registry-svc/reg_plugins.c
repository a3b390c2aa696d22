/* Plugins: register (multipart, WebAssembly and semantic-version checked), list, versions in
 * semantic-version order, get, delete (409 while an artifact references it), download. */
#include "reg.h"
#include "cm_util.h"
#include "cm_wasm.h"
#include <ctype.h>
#include <string.h>

#define REG_SORT_MAX 600

/* ---- semantic versions --------------------------------------------------------------- */

static bool s_numeric(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char) s[i]))
            return false;
    return n > 0;
}

static bool s_ident_ok(const char *s, size_t n, bool leading_zero_check)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char) s[i]) && s[i] != '-')
            return false;
    return !(leading_zero_check && s_numeric(s, n) && n > 1 && s[0] == '0');
}

/* Appends the n digits at s left-padded with zeros to width. */
static void s_pad(char *key, size_t *at, const char *s, size_t n, size_t width)
{
    for (size_t i = n; i < width; i++)
        key[(*at)++] = '0';
    memcpy(key + *at, s, n);
    *at += n;
    key[*at] = '\0';
}

/* Appends one dot-separated list's precedence key: numeric identifiers (which rank lower)
 * as "0" + 20 digits, others as "1" + text, separated by spaces (below every identifier
 * character, so a shorter list sorts first). */
static bool s_idents(const char *s, size_t n, bool prerelease, char *key, size_t *at)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.')
            continue;
        const char *id = s + start;
        size_t len = i - start;
        if (!s_ident_ok(id, len, prerelease) || *at + len + 24 >= REG_SORT_MAX)
            return false;
        if (prerelease) {
            if (start)
                key[(*at)++] = ' ';
            bool num = s_numeric(id, len);
            if (num && len > 20)
                return false;
            key[(*at)++] = num ? '0' : '1';
            if (num)
                s_pad(key, at, id, len, 20);
            else
                s_pad(key, at, id, len, 0);
        }
        start = i + 1;
    }
    return true;
}

static bool s_core(const char **p, char *key, size_t *at)
{
    for (int part = 0; part < 3; part++) {
        size_t n = 0;
        while (isdigit((unsigned char) (*p)[n]))
            n++;
        if (n == 0 || n > 18 || (n > 1 && (*p)[0] == '0'))
            return false;
        if (part)
            key[(*at)++] = '.';
        s_pad(key, at, *p, n, 18);
        *p += n;
        if (part < 2 && *(*p)++ != '.')
            return false;
    }
    return true;
}

/* Validates a SemVer 2.0.0 string and writes a key whose C-collation order is its precedence
 * (build metadata ranks equal, so the version itself breaks ties after \x01). */
bool reg_semver_key(const char *v, char key[REG_SORT_MAX])
{
    const char *p = v;
    size_t at = 0;
    if (strlen(v) > 128 || !s_core(&p, key, &at))
        return false;
    const char *plus = strchr(p, '+');
    size_t pre_len = plus ? (size_t) (plus - p) : strlen(p);
    if (*p == '-') {
        key[at++] = '-';
        if (!s_idents(p + 1, pre_len - 1, true, key, &at))
            return false;
    } else if (pre_len) {
        return false;
    } else {
        key[at++] = '~';  /* a release ranks above all of its pre-releases */
    }
    if (plus && !s_idents(plus + 1, strlen(plus + 1), false, key, &at))
        return false;
    snprintf(key + at, REG_SORT_MAX - at, "\x01%s", v);
    return true;
}

/* ---- register ------------------------------------------------------------------------ */

typedef struct {
    char name[65], version[129], type[16], sort[REG_SORT_MAX];
    char *description;        /* owned, or NULL */
    char *capabilities;       /* canonical JSON text, owned */
    char *config_schema;      /* canonical JSON text, owned */
    cm_plugin_manifest_t manifest;  /* from the module's barbacane_manifest section */
    bool has_manifest;
    char *host_functions;     /* PostgreSQL array literal of manifest.host_functions, owned */
} s_form_t;

/* The text array literal of the manifest's host functions (names are plain identifiers:
 * anything else is refused). NULL when a name is not one. */
static char *s_functions_literal(const cm_plugin_manifest_t *m)
{
    size_t cap = 3, at = 0;
    for (size_t i = 0; i < m->n_host_functions; i++)
        cap += strlen(m->host_functions[i]) + 1;
    char *lit = malloc(cap);
    if (!lit)
        return NULL;
    lit[at++] = '{';
    for (size_t i = 0; i < m->n_host_functions; i++) {
        for (const char *p = m->host_functions[i]; *p; p++)
            if (!isalnum((unsigned char) *p) && *p != '_' && *p != '-') {
                free(lit);
                return NULL;
            }
        at += (size_t) sprintf(lit + at, "%s%s", i ? "," : "", m->host_functions[i]);
    }
    lit[at++] = '}';
    lit[at] = '\0';
    return lit;
}

/* The plugin SDK embeds plugin.toml in the module: when it is there, its capabilities are
 * the plugin's, and what it says of name, version and type must agree with the form. */
static bool s_embedded_manifest(const pr_request_t *req, pr_out_t *out, const pr_part_t *file,
                                s_form_t *f)
{
    const unsigned char *text = NULL;
    size_t len = 0;
    char err[192], msg[320];
    int found = cm_wasm_custom_section(file->data, file->len, CM_WASM_MANIFEST_SECTION, &text,
                                       &len);
    if (found < 0)
        return pr_out_invalid(out, req, "invalid", "/file", "file is not a well-formed "
                              "WebAssembly module (its section layout is broken)"), false;
    if (found == 0)
        return true;
    if (cm_plugin_manifest_parse((const char *) text, len, &f->manifest, err, sizeof err) != 0) {
        snprintf(msg, sizeof msg, "the module's embedded manifest (barbacane_manifest) is "
                 "malformed: %s", err);
        return pr_out_invalid(out, req, "invalid", "/file", msg), false;
    }
    f->has_manifest = true;
    const cm_plugin_manifest_t *m = &f->manifest;
    const char *field = m->name && strcmp(m->name, f->name) ? "name"
                        : m->version && strcmp(m->version, f->version) ? "version"
                        : m->type && strcmp(m->type, f->type) ? "type" : NULL;
    if (field) {
        snprintf(msg, sizeof msg, "the module's embedded manifest gives another %s than the "
                 "form", field);
        return pr_out_invalid(out, req, "invalid", "/file", msg), false;
    }
    if (!(f->host_functions = s_functions_literal(m)))
        return pr_out_invalid(out, req, "invalid", "/file", "the embedded manifest names an "
                              "invalid host function"), false;
    return true;
}

/* Copies a text field into a NUL-terminated buffer; false when absent, too long or not text. */
static bool s_text(const pr_part_t *p, char *out, size_t cap)
{
    if (!p || p->len >= cap || memchr(p->data, '\0', p->len) || !cm_utf8_valid(p->data, p->len))
        return false;
    memcpy(out, p->data, p->len);
    out[p->len] = '\0';
    return true;
}

/* Parses an optional JSON field: an array of strings or an object. NULL after answering 400. */
static char *s_json_field(const pr_request_t *req, pr_out_t *out, const char *field,
                          bool want_array, const char *dflt)
{
    const pr_part_t *p = pr_part_get(req, field);
    char loc[32];
    snprintf(loc, sizeof loc, "/%s", field);
    if (!p)
        return strdup(dflt);
    json_error_t err;
    json_t *doc = json_loadb((const char *) p->data, p->len, JSON_REJECT_DUPLICATES, &err);
    bool ok = want_array ? json_is_array(doc) : json_is_object(doc);
    for (size_t i = 0; ok && want_array && i < json_array_size(doc); i++)
        ok = json_is_string(json_array_get(doc, i));
    char *text = ok ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text)
        pr_out_invalid(out, req, "invalid", loc, want_array
                       ? "capabilities must be a JSON array of strings"
                       : "config_schema must be a JSON object");
    return text;
}

static bool s_wasm(const pr_part_t *f)
{
    static const unsigned char magic[8] = { 0, 'a', 's', 'm', 1, 0, 0, 0 };
    return f && f->len >= 8 && memcmp(f->data, magic, 8) == 0;
}

static bool s_parse_form(const pr_request_t *req, pr_out_t *out, s_form_t *f)
{
    const pr_part_t *file = pr_part_get(req, "file"), *desc = pr_part_get(req, "description");
    static const char *const required[] = { "name", "version", "type", "file" };
    for (size_t i = 0; i < 4; i++)
        if (!pr_part_get(req, required[i])) {
            char loc[16], msg[64];
            snprintf(loc, sizeof loc, "/%s", required[i]);
            snprintf(msg, sizeof msg, "the field '%s' is required", required[i]);
            pr_out_invalid(out, req, "required", loc, msg);
            return false;
        }
    if (!s_text(pr_part_get(req, "name"), f->name, sizeof f->name) || !cm_plugin_name_valid(f->name, strlen(f->name)))
        return pr_out_invalid(out, req, "invalid", "/name", "name must match ^[a-z0-9][a-z0-9-]{0,63}$"), false;
    if (!s_text(pr_part_get(req, "version"), f->version, sizeof f->version)
        || !reg_semver_key(f->version, f->sort))
        return pr_out_invalid(out, req, "invalid", "/version", "version must be a semantic version (e.g. 1.2.3)"), false;
    if (!s_text(pr_part_get(req, "type"), f->type, sizeof f->type)
        || (strcmp(f->type, "middleware") && strcmp(f->type, "dispatcher")))
        return pr_out_invalid(out, req, "invalid", "/type", "type must be middleware or dispatcher"), false;
    if (!s_wasm(file))
        return pr_out_invalid(out, req, "invalid", "/file", "file must be a WebAssembly module (\\0asm, version 1)"), false;
    if (!s_embedded_manifest(req, out, file, f))
        return false;
    if (desc) {
        f->description = malloc(desc->len + 1);
        if (!f->description || !s_text(desc, f->description, desc->len + 1)
            || cm_utf8_len(f->description) > 4096)
            return pr_out_invalid(out, req, "invalid", "/description", "description must be UTF-8 text of at most 4096 characters"), false;
    }
    return (f->capabilities = s_json_field(req, out, "capabilities", true, "[]"))
           && (f->config_schema = s_json_field(req, out, "config_schema", false, "{}"));
}

void reg_plugin_register(void *arg, const pr_request_t *req, pr_out_t *out)
{
    reg_ctx_t *ctx = arg;
    s_form_t f = { 0 };
    if (s_parse_form(req, out, &f)) {
        const pr_part_t *file = pr_part_get(req, "file");
        char sha[65], size[24];
        cm_sha256_hex(file->data, file->len, sha);
        snprintf(size, sizeof size, "%zu", file->len);
        const char *vals[] = { f.name, f.version, f.sort, f.type, f.description, f.capabilities,
                               f.config_schema, sha, size, (const char *) file->data,
                               f.has_manifest ? "t" : "f", f.manifest.body_access ? "t" : "f",
                               f.host_functions ? f.host_functions : "{}" };
        int lens[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, (int) file->len, 0, 0, 0 };
        int fmts[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0 };
        PGresult *res = cm_db_exec(ctx->db,
            "INSERT INTO plugins (name, version, sort_key, plugin_type, description,"
            " capabilities, config_schema, sha256, size_bytes, wasm, caps_from_manifest,"
            " body_access, host_functions)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::text[])"
            " RETURNING bb_plugin_json(plugins)::text", 13, vals, lens, fmts);
        if (strcmp(cm_db_sqlstate(res), "23505") == 0)
            pr_out_problem(out, req, 409, "this plugin version is already registered");
        else
            pr_out_row(out, req, res, 201, "plugin not found");
        pr_out_location(out, "/plugins/%s/%s", f.name, f.version);
        PQclear(res);
    }
    free(f.description);
    free(f.capabilities);
    free(f.config_schema);
    free(f.host_functions);
    cm_plugin_manifest_free(&f.manifest);
}

/* ---- reads and delete ---------------------------------------------------------------- */

static bool s_cursor_name_sort(const char *c)
{
    const char *comma = strchr(c, ',');
    return comma && cm_plugin_name_valid(c, (size_t) (comma - c))
           && strlen(comma + 1) < REG_SORT_MAX;
}

static const char *s_list_sql =
    "SELECT bb_plugin_json(p)::text, p.name || ',' || p.sort_key FROM plugins p"
    " WHERE ($1::text IS NULL OR p.plugin_type = $1)"
    "   AND ($2::text IS NULL OR starts_with(p.name, $2))"
    "   AND ($3::text IS NULL OR p.name = $3)"
    "   AND ($4::text IS NULL OR (p.name COLLATE \"C\", p.sort_key) >"
    "        (split_part($4, ',', 1) COLLATE \"C\", substr($4, strpos($4, ',') + 1)))"
    " ORDER BY p.name COLLATE \"C\", p.sort_key LIMIT $5::bigint";

void reg_plugin_list(void *arg, const pr_request_t *req, pr_out_t *out)
{
    reg_ctx_t *ctx = arg;
    const char *type = pr_kv_get(req->query, req->nquery, "type");
    const char *name = pr_kv_get(req->query, req->nquery, "name");
    pr_page_t page;
    if (type && strcmp(type, "middleware") && strcmp(type, "dispatcher")) {
        pr_out_invalid(out, req, "invalid", "type", "type must be middleware or dispatcher");
        return;
    }
    if (!pr_page_parse(req, out, &page, s_cursor_name_sort))
        return;
    const char *vals[] = { type, name, NULL };
    pr_list(ctx->db, req, out, s_list_sql, 3, vals, &page);
}

void reg_plugin_versions(void *arg, const pr_request_t *req, pr_out_t *out)
{
    reg_ctx_t *ctx = arg;
    const char *name = pr_kv_get(req->path, req->npath, "name");
    pr_page_t page;
    if (!pr_page_parse(req, out, &page, s_cursor_name_sort))
        return;
    const char *vals[] = { NULL, NULL, name };
    pr_list(ctx->db, req, out, s_list_sql, 3, vals, &page);
    if (out->rep.status == 200 && out->rep.body_len == 2 && !page.has_cursor)
        pr_out_problem(out, req, 404, "plugin not found");
}

void reg_plugin_get(void *arg, const pr_request_t *req, pr_out_t *out)
{
    reg_ctx_t *ctx = arg;
    const char *vals[] = { pr_kv_get(req->path, req->npath, "name"),
                           pr_kv_get(req->path, req->npath, "version") };
    PGresult *res = cm_db_exec(ctx->db,
        "SELECT bb_plugin_json(p)::text FROM plugins p WHERE p.name = $1 AND p.version = $2",
        2, vals, NULL, NULL);
    pr_out_row(out, req, res, 200, "plugin not found");
    PQclear(res);
}

void reg_plugin_delete(void *arg, const pr_request_t *req, pr_out_t *out)
{
    reg_ctx_t *ctx = arg;
    const char *vals[] = { pr_kv_get(req->path, req->npath, "name"),
                           pr_kv_get(req->path, req->npath, "version") };
    PGresult *res = cm_db_exec(ctx->db,
        "WITH t AS (SELECT p.name, p.version, EXISTS (SELECT 1 FROM artifact_plugins a"
        "             WHERE a.plugin_name = p.name AND a.plugin_version = p.version) AS used"
        "           FROM plugins p WHERE p.name = $1 AND p.version = $2),"
        " d AS (DELETE FROM plugins p USING t WHERE p.name = t.name AND p.version = t.version"
        "       AND NOT t.used RETURNING 1)"
        " SELECT t.used FROM t", 2, vals, NULL, NULL);
    if (!cm_db_ok(res))
        pr_out_db_error(out, req, res);
    else if (PQntuples(res) == 0)
        pr_out_problem(out, req, 404, "plugin not found");
    else if (PQgetvalue(res, 0, 0)[0] == 't')
        pr_out_problem(out, req, 409, "an artifact references this plugin version");
    else
        pr_out_empty(out, 204);
    PQclear(res);
}

void reg_plugin_download(void *arg, const pr_request_t *req, pr_out_t *out)
{
    reg_ctx_t *ctx = arg;
    const char *name = pr_kv_get(req->path, req->npath, "name");
    const char *version = pr_kv_get(req->path, req->npath, "version");
    const char *vals[] = { name, version };
    PGresult *res = cm_db_exec_bin(ctx->db,
        "SELECT wasm FROM plugins WHERE name = $1 AND version = $2", 2, vals, NULL, NULL);
    if (!cm_db_ok(res)) {
        pr_out_db_error(out, req, res);
    } else if (PQntuples(res) == 0) {
        pr_out_problem(out, req, 404, "plugin not found");
    } else {
        char disp[300];
        snprintf(disp, sizeof disp, "attachment; filename=\"%s-%s.wasm\"", name, version);
        pr_out_text(out, 200, "application/wasm", PQgetvalue(res, 0, 0),
                    (size_t) PQgetlength(res, 0, 0));
        pr_out_header(out, "Content-Disposition", disp);
    }
    PQclear(res);
}
