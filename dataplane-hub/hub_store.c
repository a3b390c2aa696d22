/* The hub's SQL on the database thread's connection. Owns nothing beyond the PGresults and
 * JSON parameter texts of one call. Batches travel as one json parameter (json_to_recordset)
 * so a flush or a reconciliation of thousands of sessions is a single statement. */
#include "hub_store.h"
#include "cm_log.h"
#include "cm_util.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool s_true(const PGresult *r, int row, int col)
{
    return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] == 't';
}

static void s_copy(char *out, size_t cap, const PGresult *r, int row, int col)
{
    snprintf(out, cap, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

static int s_failed(PGresult *res, const char *what)
{
    cm_warn("%s failed: %s", what, PQresultErrorMessage(res));
    PQclear(res);
    return -1;
}

/* ---------------------------------------------------------------- registration */

static const char *const s_sql_key =
    "WITH k AS (SELECT id, project_id, revoked_at, expires_at, scopes FROM api_keys"
    "           WHERE key_hash = $1),"
    " ok AS (SELECT a.id FROM api_keys a WHERE a.key_hash = $1 AND a.project_id = $2::uuid"
    "        AND bb_key_live(a) AND 'data-plane:connect' = ANY (a.scopes)),"
    " touch AS (UPDATE api_keys a SET last_used_at = now() FROM ok WHERE a.id = ok.id"
    "           RETURNING a.id)"
    " SELECT k.id::text, k.project_id = $2::uuid, k.revoked_at IS NULL,"
    "        (k.expires_at IS NULL OR k.expires_at > now()),"
    "        'data-plane:connect' = ANY (k.scopes),"
    "        coalesce((extract(epoch FROM k.expires_at) * 1000)::bigint, 0),"
    "        (SELECT count(*) FROM touch)"
    " FROM k";

/* The reasons a data plane is told, in the order the checks apply. */
static int s_check_key(cm_db_t *db, const hub_item_t *req, hub_reg_result_t *out)
{
    const char *vals[] = { (const char *) req->key_hash, req->project_id };
    int lens[] = { 32, 0 }, fmts[] = { 1, 0 };
    PGresult *res = cm_db_exec(db, s_sql_key, 2, vals, lens, fmts);
    if (!cm_db_ok(res))
        return s_failed(res, "API key check");
    const char *why = NULL;
    if (PQntuples(res) != 1)
        why = "invalid API key";
    else if (!s_true(res, 0, 2))
        why = "API key revoked";
    else if (!s_true(res, 0, 3))
        why = "API key expired";
    else if (!s_true(res, 0, 1))
        why = "API key does not belong to this project";
    else if (!s_true(res, 0, 4))
        why = "API key lacks the data-plane:connect scope";
    if (why) {
        snprintf(out->reason, sizeof out->reason, "%s", why);
    } else {
        out->ok = true;
        s_copy(out->key_id, sizeof out->key_id, res, 0, 0);
        out->key_expires_ms = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
    }
    PQclear(res);
    return 0;
}

static const char *const s_sql_named =
    "INSERT INTO data_planes AS d (id, project_id, name, named, api_key_id, hub_id, session_id,"
    "                             status, metadata, last_seen, connected_at)"
    " VALUES ($3, $1, $2, true, $4, $5, $6, 'online', $7::jsonb, now(), now())"
    " ON CONFLICT (project_id, name) DO UPDATE SET api_key_id = EXCLUDED.api_key_id,"
    "   hub_id = EXCLUDED.hub_id, session_id = EXCLUDED.session_id, status = 'online',"
    "   metadata = EXCLUDED.metadata, last_seen = now(), connected_at = now(),"
    "   pending_artifact_id = NULL, drift_detected = false"
    "   WHERE d.named"
    " RETURNING d.id::text, d.name";

static const char *const s_sql_nameless =
    "INSERT INTO data_planes (id, project_id, name, named, api_key_id, hub_id, session_id,"
    "                         status, metadata, last_seen, connected_at)"
    " VALUES ($3, $1, $2, false, $4, $5, $6, 'online', $7::jsonb, now(), now())"
    " RETURNING id::text, name";

/* One attempt at the row; 1 when a fresh nameless id collided and another should be tried. */
static int s_take_row(cm_db_t *db, const char *hub_id, const hub_item_t *req,
                      hub_reg_result_t *out)
{
    char id[37], dp_name[12];
    if (cm_uuid_v4(id) != 0)
        return -1;
    snprintf(dp_name, sizeof dp_name, "dp-%.8s", id);   /* dp-<first 8 hex of its id> */
    const char *vals[] = { req->project_id, req->has_name ? req->name : dp_name, id, out->key_id,
                           hub_id, req->ref.sid, req->metadata ? req->metadata : "{}" };
    PGresult *res = req->has_name ? cm_db_exec(db, s_sql_named, 7, vals, NULL, NULL)
                                  : cm_db_exec(db, s_sql_nameless, 7, vals, NULL, NULL);
    const char *state = cm_db_sqlstate(res);
    if (!req->has_name && strcmp(state, "23505") == 0) {
        PQclear(res);
        return 1;
    }
    if (strcmp(state, "23503") == 0) {   /* the project went away meanwhile */
        out->ok = false;
        snprintf(out->reason, sizeof out->reason, "project not found");
        PQclear(res);
        return 0;
    }
    if (!cm_db_ok(res))
        return s_failed(res, "data-plane row");
    if (PQntuples(res) != 1) {
        out->ok = false;
        snprintf(out->reason, sizeof out->reason,
                 "the name is held by an unnamed data plane of this project");
    } else {
        s_copy(out->dp_id, sizeof out->dp_id, res, 0, 0);
        s_copy(out->name, sizeof out->name, res, 0, 1);
    }
    PQclear(res);
    return 0;
}

int hub_store_register(cm_db_t *db, const char *hub_id, const hub_item_t *req,
                       hub_reg_result_t *out)
{
    memset(out, 0, sizeof *out);
    int rc = s_check_key(db, req, out);
    for (int attempt = 0; rc == 0 && out->ok && attempt < 4; attempt++)
        if ((rc = s_take_row(db, hub_id, req, out)) != 1)
            break;
    if (rc != 0) {
        out->ok = false;
        snprintf(out->reason, sizeof out->reason,
                 "the control plane cannot record the registration now; retry later");
    }
    return rc == 0 ? 0 : -1;
}

int hub_store_offline(cm_db_t *db, const char *dp_id, const char *sid)
{
    const char *vals[] = { dp_id, sid };
    PGresult *res = cm_db_exec(db,
        "UPDATE data_planes SET status = 'offline', hub_id = NULL, session_id = NULL,"
        "  pending_artifact_id = NULL, last_seen = now()"
        " WHERE id = $1 AND session_id = $2", 2, vals, NULL, NULL);
    if (!cm_db_ok(res))
        return s_failed(res, "marking a data plane offline");
    PQclear(res);
    return 0;
}

/* ---------------------------------------------------------------- heartbeat flush */

static const char *const s_sql_flush =
    "UPDATE data_planes d SET last_seen = now(), artifact_hash = v.hash, status = v.status,"
    "  drift_detected = v.drift, pending_artifact_id = v.pending,"
    "  artifact_id = CASE WHEN v.hash IS NULL THEN NULL"
    "    WHEN v.hash = d.artifact_hash AND d.artifact_id IS NOT NULL THEN d.artifact_id"
    "    ELSE coalesce((SELECT de.artifact_id FROM deployments de"
    "                   WHERE de.project_id = d.project_id AND de.artifact_hash = v.hash"
    "                   ORDER BY de.created_at DESC LIMIT 1),"
    "                  (SELECT a.id FROM artifacts a"
    "                   WHERE a.project_id = d.project_id AND a.artifact_hash = v.hash"
    "                   ORDER BY a.created_at DESC LIMIT 1)) END"
    " FROM json_to_recordset($1::json)"
    "      AS v(i int, id uuid, sid uuid, hash text, status text, drift boolean, pending uuid)"
    " WHERE d.id = v.id AND d.session_id = v.sid AND d.hub_id = $2::uuid"
    " RETURNING v.i";

static char *s_flush_json(const hub_flush_t *e, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *o = json_pack("{s:I, s:s, s:s, s:s?, s:s, s:b, s:s?}", "i", (json_int_t) i,
                              "id", e[i].dp_id, "sid", e[i].ref.sid,
                              "hash", e[i].has_hash ? e[i].hash : NULL,
                              "status", hub_status_name(e[i].status), "drift", e[i].drift,
                              "pending", e[i].has_pending ? e[i].pending : NULL);
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    char *text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    return text;
}

int hub_store_flush(cm_db_t *db, const char *hub_id, const hub_flush_t *e, size_t n, bool *lost)
{
    char *json = s_flush_json(e, n);
    if (!json)
        return -1;
    const char *vals[] = { json, hub_id };
    PGresult *res = cm_db_exec(db, s_sql_flush, 2, vals, NULL, NULL);
    free(json);
    if (!cm_db_ok(res))
        return s_failed(res, "heartbeat flush");
    for (size_t i = 0; i < n; i++)
        lost[i] = true;
    for (int r = 0; r < PQntuples(res); r++) {
        long i = strtol(PQgetvalue(res, r, 0), NULL, 10);
        if (i >= 0 && (size_t) i < n)
            lost[i] = false;
    }
    PQclear(res);
    return 0;
}

/* ---------------------------------------------------------------- desired deployments */

/* A PostgreSQL array literal of UUIDs (they need no quoting); caller frees. */
static char *s_uuid_array(const char *const *ids, size_t n)
{
    char *lit = malloc(n * 37 + 3);
    if (!lit)
        return NULL;
    size_t at = 0;
    lit[at++] = '{';
    for (size_t i = 0; i < n; i++) {
        if (!cm_uuid_valid(ids[i]))
            continue;
        if (at > 1)
            lit[at++] = ',';
        memcpy(lit + at, ids[i], 36);
        at += 36;
    }
    lit[at++] = '}';
    lit[at] = '\0';
    return lit;
}

static const char *const s_sql_desired =
    "SELECT p::text, d.artifact_id::text, coalesce(a.artifact_hash, d.artifact_hash),"
    "       coalesce(a.sha256, d.sha256)"
    " FROM unnest($1::uuid[]) AS p"
    " CROSS JOIN LATERAL (SELECT artifact_id, artifact_hash, sha256 FROM deployments"
    "                     WHERE project_id = p ORDER BY created_at DESC, id DESC LIMIT 1) d"
    " LEFT JOIN artifacts a ON a.id = d.artifact_id";

static void s_desired_row(const PGresult *res, int r, const char *const *projects, size_t n,
                          hub_desired_t *out)
{
    const char *p = PQgetvalue(res, r, 0);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(projects[i], p) != 0)
            continue;
        out[i].has = true;
        s_copy(out[i].artifact_id, sizeof out[i].artifact_id, res, r, 1);
        s_copy(out[i].artifact_hash, sizeof out[i].artifact_hash, res, r, 2);
        s_copy(out[i].sha256, sizeof out[i].sha256, res, r, 3);
    }
}

int hub_store_desired(cm_db_t *db, const char *const *projects, size_t n, hub_desired_t *out)
{
    memset(out, 0, n * sizeof *out);
    if (n == 0)
        return 0;
    char *lit = s_uuid_array(projects, n);
    if (!lit)
        return -1;
    const char *vals[] = { lit };
    PGresult *res = cm_db_exec(db, s_sql_desired, 1, vals, NULL, NULL);
    free(lit);
    if (!cm_db_ok(res))
        return s_failed(res, "reading desired deployments");
    for (int r = 0; r < PQntuples(res); r++)
        s_desired_row(res, r, projects, n, out);
    PQclear(res);
    return 0;
}

/* ---------------------------------------------------------------- reconciliation */

static const char *const s_sql_reconcile =
    "SELECT v.i, k.id IS NULL OR k.revoked_at IS NOT NULL,"
    "       k.expires_at IS NOT NULL AND k.expires_at <= now(),"
    "       k.project_id <> v.project OR NOT ('data-plane:connect' = ANY (k.scopes)),"
    "       coalesce((extract(epoch FROM k.expires_at) * 1000)::bigint, 0),"
    "       EXISTS (SELECT 1 FROM data_planes d WHERE d.id = v.dp AND d.session_id = v.sid"
    "               AND d.hub_id = $2::uuid)"
    " FROM json_to_recordset($1::json) AS v(i int, sid uuid, dp uuid, kid uuid, project uuid)"
    " LEFT JOIN api_keys k ON k.id = v.kid";

static char *s_sessions_json(hub_live_t *const *s, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s}", "i", (json_int_t) i, "sid", s[i]->sid,
                              "dp", s[i]->dp_id, "kid", s[i]->key_id, "project",
                              s[i]->project_id);
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    char *text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    return text;
}

static hub_verdict_t s_verdict(const PGresult *res, int r)
{
    if (s_true(res, r, 1))
        return HUB_SESSION_REVOKED;
    if (s_true(res, r, 2))
        return HUB_SESSION_EXPIRED;
    if (s_true(res, r, 3))
        return HUB_SESSION_FORBIDDEN;
    return s_true(res, r, 5) ? HUB_SESSION_OK : HUB_SESSION_ROW_LOST;
}

int hub_store_reconcile(cm_db_t *db, const char *hub_id, hub_live_t *const *s, size_t n,
                        hub_verdict_t *verdict)
{
    if (n == 0)
        return 0;
    char *json = s_sessions_json(s, n);
    if (!json)
        return -1;
    const char *vals[] = { json, hub_id };
    PGresult *res = cm_db_exec(db, s_sql_reconcile, 2, vals, NULL, NULL);
    free(json);
    if (!cm_db_ok(res))
        return s_failed(res, "session reconciliation");
    for (size_t i = 0; i < n; i++)
        verdict[i] = HUB_SESSION_OK;
    for (int r = 0; r < PQntuples(res); r++) {
        long i = strtol(PQgetvalue(res, r, 0), NULL, 10);
        if (i < 0 || (size_t) i >= n)
            continue;
        verdict[i] = s_verdict(res, r);
        s[i]->key_expires_ms = strtoll(PQgetvalue(res, r, 4), NULL, 10);
    }
    PQclear(res);
    return 0;
}

int hub_store_kicks(cm_db_t *db, const char *hub_id, char since[64], hub_sid_fn *fn, void *arg)
{
    PGresult *res = cm_db_exec(db, "SELECT now()::text", 0, NULL, NULL, NULL);
    if (!cm_db_ok(res))
        return s_failed(res, "reading the database clock");
    char now[64];
    s_copy(now, sizeof now, res, 0, 0);
    PQclear(res);
    if (!*since) {
        memcpy(since, now, sizeof now);
        return 0;
    }
    const char *vals[] = { since, hub_id };
    res = cm_db_exec(db,
        "SELECT d.session_id::text FROM audit_log a JOIN data_planes d ON d.id::text = a.subject"
        " WHERE a.action = 'dataplane.disconnect'"
        "   AND a.at > $1::timestamptz - interval '10 seconds'"
        "   AND d.hub_id = $2::uuid AND d.session_id IS NOT NULL AND d.connected_at < a.at",
        2, vals, NULL, NULL);
    if (!cm_db_ok(res))
        return s_failed(res, "reading recent kicks");
    for (int r = 0; r < PQntuples(res); r++)
        fn(arg, PQgetvalue(res, r, 0));
    PQclear(res);
    memcpy(since, now, sizeof now);
    return 0;
}

/* ---------------------------------------------------------------- hubs and the reaper */

int hub_store_hub_alive(cm_db_t *db, const char *hub_id, const char *instance)
{
    const char *vals[] = { hub_id, instance && *instance ? instance : NULL };
    PGresult *res = cm_db_exec(db,
        "INSERT INTO hubs (id, instance) VALUES ($1, $2)"
        " ON CONFLICT (id) DO UPDATE SET last_seen = now()", 2, vals, NULL, NULL);
    if (!cm_db_ok(res))
        return s_failed(res, "refreshing the hub row");
    PQclear(res);
    return 0;
}

int hub_store_hub_gone(cm_db_t *db, const char *hub_id)
{
    const char *vals[] = { hub_id };
    PGresult *res = cm_db_exec(db,
        "UPDATE data_planes SET status = 'offline', hub_id = NULL, session_id = NULL,"
        "  pending_artifact_id = NULL, last_seen = now() WHERE hub_id = $1", 1, vals, NULL, NULL);
    if (!cm_db_ok(res))
        return s_failed(res, "marking this hub's data planes offline");
    PQclear(res);
    res = cm_db_exec(db, "DELETE FROM hubs WHERE id = $1", 1, vals, NULL, NULL);
    if (!cm_db_ok(res))
        return s_failed(res, "removing the hub row");
    PQclear(res);
    return 0;
}

static int s_exec_ok(cm_db_t *db, const char *sql, int n, const char *const *vals,
                     const char *what)
{
    PGresult *res = cm_db_exec(db, sql, n, vals, NULL, NULL);
    if (!cm_db_ok(res))
        return s_failed(res, what);
    PQclear(res);
    return 0;
}

/* Rows of this hub whose session the database thread does not know (a lost offline write):
 * counted first, so the common case costs one index probe. */
static int s_reap_own(cm_db_t *db, const char *hub_id, const char *const *live, size_t nlive)
{
    const char *vals[] = { hub_id, NULL };
    PGresult *res = cm_db_exec(db, "SELECT count(*) FROM data_planes WHERE hub_id = $1", 1,
                               vals, NULL, NULL);
    if (!cm_db_ok(res))
        return s_failed(res, "counting this hub's rows");
    long rows = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    if (rows == (long) nlive)
        return 0;
    char *lit = s_uuid_array(live, nlive);
    if (!lit)
        return -1;
    vals[1] = lit;
    int rc = s_exec_ok(db,
        "UPDATE data_planes SET status = 'offline', hub_id = NULL, session_id = NULL,"
        "  pending_artifact_id = NULL"
        " WHERE hub_id = $1 AND NOT (session_id = ANY ($2::uuid[]))", 2, vals,
        "reaping this hub's stale rows");
    free(lit);
    return rc;
}

int hub_store_reap(cm_db_t *db, const char *hub_id, long dead_after_s, long ttl_s,
                   const char *const *live, size_t nlive)
{
    char dead[24], ttl[24];
    snprintf(dead, sizeof dead, "%ld", dead_after_s);
    snprintf(ttl, sizeof ttl, "%ld", ttl_s);
    const char *v_dead[] = { hub_id, dead }, *v_ttl[] = { ttl };
    int rc = s_exec_ok(db,
        "UPDATE data_planes d SET status = 'offline', hub_id = NULL, session_id = NULL,"
        "  pending_artifact_id = NULL"
        " WHERE d.hub_id IS NOT NULL AND d.hub_id <> $1::uuid AND NOT EXISTS"
        "   (SELECT 1 FROM hubs h WHERE h.id = d.hub_id"
        "    AND h.last_seen > now() - $2::bigint * interval '1 second')", 2, v_dead,
        "reaping rows of dead hubs");
    rc |= s_exec_ok(db,
        "DELETE FROM data_planes WHERE NOT named AND status = 'offline'"
        "  AND coalesce(last_seen, created_at) < now() - $1::bigint * interval '1 second'", 1,
        v_ttl, "removing old nameless data planes");
    rc |= s_exec_ok(db,
        "DELETE FROM hubs WHERE last_seen < now() - greatest($1::bigint, 86400)"
        " * interval '1 second'", 1, v_ttl, "removing rows of long-dead hubs");
    rc |= s_reap_own(db, hub_id, live, nlive);
    return rc ? -1 : 0;
}

/* ---------------------------------------------------------------- the key cache */

int hub_store_keys_fingerprint(cm_db_t *db, char fp[256])
{
    PGresult *res = cm_db_exec(db,
        "SELECT count(*) || '/' || coalesce(max(created_at)::text, '') || '/' || count(revoked_at)"
        "  || '/' || coalesce(max(revoked_at)::text, '') || '/' || count(rotated_to) || '/'"
        "  || coalesce(max(grace_expires_at)::text, '') FROM api_keys", 0, NULL, NULL, NULL);
    if (!cm_db_ok(res))
        return s_failed(res, "key fingerprint");
    s_copy(fp, 256, res, 0, 0);
    PQclear(res);
    return 0;
}

static int s_hex32(const char *hex, unsigned char out[32])
{
    if (strlen(hex) != 64)
        return -1;
    for (int i = 0; i < 32; i++) {
        unsigned v = 0;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char) v;
    }
    return 0;
}

hub_keys_t *hub_store_load_keys(cm_db_t *db)
{
    PGresult *res = cm_db_exec(db,
        "SELECT encode(key_hash, 'hex'), id::text, project_id::text,"
        "       coalesce((extract(epoch FROM expires_at) * 1000)::bigint, 0)"
        " FROM api_keys a WHERE bb_key_live(a) AND 'data-plane:connect' = ANY (a.scopes)",
        0, NULL, NULL, NULL);
    if (!cm_db_ok(res)) {
        s_failed(res, "loading live keys");
        return NULL;
    }
    hub_keys_t *keys = hub_keys_new((size_t) PQntuples(res));
    for (int r = 0; keys && r < PQntuples(res); r++) {
        hub_key_t k = { .connect_scope = true };
        if (s_hex32(PQgetvalue(res, r, 0), k.hash) != 0)
            continue;
        s_copy(k.key_id, sizeof k.key_id, res, r, 1);
        s_copy(k.project_id, sizeof k.project_id, res, r, 2);
        k.expires_ms = strtoll(PQgetvalue(res, r, 3), NULL, 10);
        if (hub_keys_add(keys, &k) != 0)
            hub_keys_destroy(&keys);
    }
    PQclear(res);
    return keys;
}
