/* API keys of a project: create (the key is shown once, only its SHA-256 is stored), list,
 * revoke (idempotent, announced on apikey.revoked) and rotate with a grace period. */
#include "reg.h"
#include "cm_log.h"
#include "cm_util.h"
#include "pr_event.h"
#include <ctype.h>
#include <string.h>
#include <time.h>

#define REG_GRACE_MAX 604800

static const char *const s_scopes[] = { "data-plane:connect", "artifacts:read" };

static bool s_digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (!isdigit((unsigned char) s[i]))
            return false;
    return true;
}

static int s_num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* Strict RFC 3339 date-time (offsets up to +-23:59, 't'/'z' in either case). Writes the
 * instant as UTC text PostgreSQL accepts and its Unix time in ms. */
static bool s_rfc3339(const char *s, char utc[40], double *when_ms)
{
    if (!s || strlen(s) < 20 || !s_digits(s, 4) || s[4] != '-' || !s_digits(s + 5, 2)
        || s[7] != '-' || !s_digits(s + 8, 2) || (s[10] != 'T' && s[10] != 't')
        || !s_digits(s + 11, 2) || s[13] != ':' || !s_digits(s + 14, 2) || s[16] != ':'
        || !s_digits(s + 17, 2))
        return false;
    struct tm tm = { .tm_year = s_num(s, 4) - 1900, .tm_mon = s_num(s + 5, 2) - 1,
                     .tm_mday = s_num(s + 8, 2), .tm_hour = s_num(s + 11, 2),
                     .tm_min = s_num(s + 14, 2), .tm_sec = s_num(s + 17, 2) };
    const char *p = s + 19, *frac = "";
    int nfrac = 0;
    if (*p == '.') {
        frac = ++p;
        while (isdigit((unsigned char) *p))
            p++;
        if ((nfrac = (int) (p - frac)) == 0)
            return false;
    }
    long offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if ((*p == '+' || *p == '-') && s_digits(p + 1, 2) && p[3] == ':' && s_digits(p + 4, 2)
               && s_num(p + 1, 2) <= 23 && s_num(p + 4, 2) <= 59) {
        offset = (s_num(p + 1, 2) * 3600L + s_num(p + 4, 2) * 60L) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return false;
    }
    if (*p || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_hour > 23
        || tm.tm_min > 59 || tm.tm_sec > 59)
        return false;
    struct tm check = tm, back;
    time_t t = timegm(&check);
    gmtime_r(&t, &back);
    if (back.tm_mday != tm.tm_mday || back.tm_mon != tm.tm_mon)
        return false;  /* February 30th and friends: timegm would roll them over */
    t -= offset;
    if (t > 253402300799)  /* 9999-12-31T23:59:59Z: later instants have no RFC 3339 form */
        return false;
    gmtime_r(&t, &back);
    size_t n = strftime(utc, 40, "%Y-%m-%dT%H:%M:%S", &back);
    snprintf(utc + n, 40 - n, ".%.*sZ", nfrac > 6 ? 6 : nfrac ? nfrac : 1, nfrac ? frac : "0");
    *when_ms = (double) t * 1000.0 + (nfrac ? strtod(frac - 1, NULL) * 1000.0 : 0);
    return true;
}

/* Scopes as a PostgreSQL array literal; false after answering 400. */
static bool s_scopes_literal(const pr_request_t *req, pr_out_t *out, json_t *v, char *lit,
                             size_t cap)
{
    if (!v) {
        snprintf(lit, cap, "{%s}", s_scopes[0]);
        return true;
    }
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 8) {
        pr_out_invalid(out, req, "invalid", "/scopes", "scopes must be a non-empty array of scopes");
        return false;
    }
    size_t at = (size_t) snprintf(lit, cap, "{");
    for (size_t i = 0; i < json_array_size(v); i++) {
        const char *s = json_string_value(json_array_get(v, i));
        bool known = s && (!strcmp(s, s_scopes[0]) || !strcmp(s, s_scopes[1]));
        if (!known) {
            pr_out_invalid(out, req, "invalid", "/scopes",
                           "unknown scope (known: data-plane:connect, artifacts:read)");
            return false;
        }
        if (!strstr(lit, s))
            at += (size_t) snprintf(lit + at, cap - at, "%s%s", at > 1 ? "," : "", s);
    }
    snprintf(lit + at, cap - at, "}");
    return true;
}

/* A fresh key: bbk_ + 43 characters of base64url over 32 CSPRNG bytes, and its SHA-256. */
static int s_mint(char key[48], unsigned char hash[32])
{
    unsigned char raw[32];
    if (cm_random_bytes(raw, sizeof raw) != 0)
        return -1;
    memcpy(key, "bbk_", 4);
    cm_base64url(raw, sizeof raw, key + 4);
    cm_sha256(key, strlen(key), hash);
    return 0;
}

static bool s_key_name(const pr_request_t *req, pr_out_t *out, json_t *v)
{
    const char *s = json_string_value(v);
    bool blank = true;
    for (const char *p = s; p && *p; p++)
        blank &= isspace((unsigned char) *p) != 0;
    if (!s || blank || cm_utf8_len(s) > 200 || strlen(s) != json_string_length(v)
        || !cm_no_controls(s)) {
        pr_out_invalid(out, req, v ? "invalid" : "required", "/name",
                       "name is required: a non-blank string of at most 200 characters "
                       "without control characters");
        return false;
    }
    return true;
}

void reg_apikey_create(void *arg, const pr_request_t *req, pr_out_t *out)
{
    reg_ctx_t *ctx = arg;
    char pid[37], scopes[96], key[48], id[37];
    unsigned char hash[32];
    if (!pr_req_uuid(req, out, "projectId", pid))
        return;
    json_t *doc = pr_req_object(req, out);
    if (!doc)
        return;
    json_t *exp = json_object_get(doc, "expires_at");
    double when = 0;
    char utc[40] = "";
    if (!s_key_name(req, out, json_object_get(doc, "name"))
        || !s_scopes_literal(req, out, json_object_get(doc, "scopes"), scopes, sizeof scopes)) {
        json_decref(doc);
        return;
    }
    if (exp && !json_is_null(exp) && !s_rfc3339(json_string_value(exp), utc, &when))
        pr_out_invalid(out, req, "invalid", "/expires_at", "expires_at must be an RFC 3339 date-time");
    else if (exp && !json_is_null(exp) && when <= (double) cm_wall_ms())
        pr_out_invalid(out, req, "invalid", "/expires_at", "expires_at must be in the future");
    else if (s_mint(key, hash) != 0 || cm_uuid_v4(id) != 0)
        pr_out_problem(out, req, 500, "no randomness available");
    else {
        char prefix[13];
        memcpy(prefix, key, 12);
        prefix[12] = 0;
        const char *vals[] = { pid, id, json_string_value(json_object_get(doc, "name")),
                               (const char *) hash, prefix, scopes,
                               json_is_string(exp) ? utc : NULL, key };
        int lens[] = { 0, 0, 0, 32, 0, 0, 0, 0 };
        int fmts[] = { 0, 0, 0, 1, 0, 0, 0, 0 };
        PGresult *res = cm_db_exec(ctx->db,
            "INSERT INTO api_keys (id, project_id, name, key_hash, key_prefix, scopes, expires_at)"
            " SELECT $2, p.id, $3, $4, $5, $6::text[], $7::timestamptz FROM projects p"
            " WHERE p.id = $1"
            " RETURNING json_build_object('id', id, 'project_id', project_id, 'name', name,"
            "   'key', $8::text, 'key_prefix', key_prefix, 'scopes', to_json(scopes),"
            "   'expires_at', bb_ts(expires_at), 'created_at', bb_ts(created_at))::text",
            8, vals, lens, fmts);
        if (strcmp(cm_db_sqlstate(res), "23505") == 0)
            pr_out_problem(out, req, 409, "this project already has a live key with that name");
        else if (strcmp(cm_db_sqlstate(res), "23503") == 0)  /* project deleted meanwhile */
            pr_out_problem(out, req, 404, "project not found");
        else
            pr_out_row(out, req, res, 201, "project not found");
        pr_out_location(out, "/projects/%s/api-keys/%s", pid, id);
        PQclear(res);
    }
    json_decref(doc);
}

void reg_apikey_list(void *arg, const pr_request_t *req, pr_out_t *out)
{
    reg_ctx_t *ctx = arg;
    char pid[37];
    pr_page_t page;
    if (!pr_req_uuid(req, out, "projectId", pid) || !reg_project_exists(ctx, req, out, pid)
        || !pr_page_parse(req, out, &page, pr_cursor_time_id))
        return;
    const char *vals[] = { pid };
    pr_list(ctx->db, req, out,
        "SELECT bb_apikey_json(k)::text, bb_cursor(k.created_at, k.id) FROM api_keys k"
        " WHERE k.project_id = $1"
        "   AND ($2::text IS NULL OR (k.created_at, k.id) > (bb_cursor_ts($2), bb_cursor_id($2)))"
        " ORDER BY k.created_at, k.id LIMIT $3::bigint", 1, vals, &page);
}

void reg_apikey_revoke(void *arg, const pr_request_t *req, pr_out_t *out)
{
    reg_ctx_t *ctx = arg;
    char pid[37], kid[37];
    if (!pr_req_uuid(req, out, "projectId", pid) || !pr_req_uuid(req, out, "keyId", kid))
        return;
    const char *vals[] = { pid, kid };
    PGresult *res = cm_db_exec(ctx->db,
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())"
        " WHERE project_id = $1 AND id = $2 RETURNING id", 2, vals, NULL, NULL);
    if (pr_out_done(out, req, res, "API key or project not found")) {
        pr_kv_t ev[] = { { "key_id", kid }, { "project_id", pid } };
        pr_event_publish(ctx->pub, PR_EV_APIKEY_REVOKED, ev, 2);
    }
    PQclear(res);
}

/* grace_period_secs from an optional body; -1 after answering 400. */
static long s_grace(const pr_request_t *req, pr_out_t *out)
{
    if (req->body_len == 0)
        return 0;
    json_t *doc = pr_req_object(req, out);
    if (!doc)
        return -1;
    json_t *g = json_object_get(doc, "grace_period_secs");
    long secs = g ? (long) json_integer_value(g) : 0;
    bool ok = !g || (json_is_integer(g) && json_integer_value(g) >= 0
                     && json_integer_value(g) <= REG_GRACE_MAX);
    json_decref(doc);
    if (!ok) {
        pr_out_invalid(out, req, "invalid", "/grace_period_secs",
                       "grace_period_secs must be an integer from 0 to 604800");
        return -1;
    }
    return secs;
}

static void s_rotate(reg_ctx_t *ctx, const pr_request_t *req, pr_out_t *out, const char *pid,
                     const char *kid, long grace)
{
    char key[48], id[37], secs[24], prefix[13];
    unsigned char hash[32];
    if (s_mint(key, hash) != 0 || cm_uuid_v4(id) != 0) {
        pr_out_problem(out, req, 500, "no randomness available");
        return;
    }
    snprintf(secs, sizeof secs, "%ld", grace);
    memcpy(prefix, key, 12);
    prefix[12] = 0;
    /* Mark the old key first (its live name frees up, it expires at the end of the grace),
     * then insert the new one; the deferred foreign key on rotated_to checks at commit. */
    const char *old_vals[] = { pid, kid, id, secs };
    PGresult *old = cm_db_exec(ctx->db,
        "UPDATE api_keys k SET rotated_to = $3,"
        "  grace_expires_at = now() + $4 * interval '1 second',"
        "  expires_at = least(coalesce(k.expires_at, 'infinity'), now() + $4 * interval '1 second')"
        " FROM (SELECT id, expires_at FROM api_keys WHERE id = $2) o"
        " WHERE k.id = o.id AND k.project_id = $1 AND k.revoked_at IS NULL"
        "   AND k.rotated_to IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())"
        " RETURNING k.name, k.scopes::text, o.expires_at::text, bb_ts(k.grace_expires_at)",
        4, old_vals, NULL, NULL);
    if (!cm_db_ok(old) || PQntuples(old) == 0) {
        if (!cm_db_ok(old))
            pr_out_db_error(out, req, old);
        else
            pr_out_problem(out, req, 409, "the key is revoked, expired or already rotated");
        PQclear(old);
        return;
    }
    const char *vals[] = { pid, id, PQgetvalue(old, 0, 0), (const char *) hash, prefix,
                           PQgetvalue(old, 0, 1), key, kid,
                           PQgetisnull(old, 0, 2) ? NULL : PQgetvalue(old, 0, 2),
                           PQgetvalue(old, 0, 3) };
    int lens[] = { 0, 0, 0, 32, 0, 0, 0, 0, 0, 0 };
    int fmts[] = { 0, 0, 0, 1, 0, 0, 0, 0, 0, 0 };
    PGresult *ins = cm_db_exec(ctx->db,
        "INSERT INTO api_keys (id, project_id, name, key_hash, key_prefix, scopes, expires_at)"
        " VALUES ($2, $1, $3, $4, $5, $6::text[], $9::timestamptz)"
        " RETURNING json_build_object('id', id, 'project_id', project_id, 'name', name,"
        "   'key', $7::text, 'key_prefix', key_prefix, 'scopes', to_json(scopes),"
        "   'expires_at', bb_ts(expires_at), 'created_at', bb_ts(created_at),"
        "   'replaces', $8::uuid, 'grace_expires_at', $10::text)::text",
        10, vals, lens, fmts);
    pr_out_row(out, req, ins, 201, "API key not found");
    pr_out_location(out, "/projects/%s/api-keys/%s", pid, id);
    PQclear(ins);
    PQclear(old);
}

void reg_apikey_rotate(void *arg, const pr_request_t *req, pr_out_t *out)
{
    reg_ctx_t *ctx = arg;
    char pid[37], kid[37];
    if (!pr_req_uuid(req, out, "projectId", pid) || !pr_req_uuid(req, out, "keyId", kid))
        return;
    long grace = s_grace(req, out);
    if (grace < 0)
        return;
    const char *vals[] = { pid, kid };
    PGresult *res = cm_db_exec(ctx->db,
        "SELECT 1 FROM api_keys WHERE project_id = $1 AND id = $2", 2, vals, NULL, NULL);
    bool found = cm_db_ok(res) && PQntuples(res) == 1;
    if (!cm_db_ok(res))
        pr_out_db_error(out, req, res);
    else if (!found)
        pr_out_problem(out, req, 404, "API key or project not found");
    PQclear(res);
    if (!found)
        return;
    if (cm_db_begin(ctx->db) != 0) {
        pr_out_problem(out, req, 503, "the database is unavailable");
        return;
    }
    /* Lock the project before the key, in the order DELETE /projects takes them (project,
     * then its keys by cascade): the other order deadlocks against a concurrent delete. */
    PGresult *lock = cm_db_exec(ctx->db, "SELECT 1 FROM projects WHERE id = $1 FOR KEY SHARE",
                                1, vals, NULL, NULL);
    if (!cm_db_ok(lock) || PQntuples(lock) == 0) {
        if (!cm_db_ok(lock))
            pr_out_db_error(out, req, lock);
        else
            pr_out_problem(out, req, 404, "API key or project not found");
    } else {
        s_rotate(ctx, req, out, pid, kid, grace);
    }
    PQclear(lock);
    if (out->rep.status == 201 && cm_db_commit(ctx->db) == 0) {
        pr_kv_t ev[] = { { "key_id", kid }, { "project_id", pid } };
        pr_event_publish(ctx->pub, PR_EV_APIKEY_REVOKED, ev, 2);  /* sessions recheck expiry */
    } else if (out->rep.status == 201) {
        pr_out_problem(out, req, 503, "the rotation could not be committed");
    } else {
        cm_db_rollback(ctx->db);
    }
}
