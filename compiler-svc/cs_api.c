/* compiler-svc's REST operations: start, list, get and delete compilations; list, get,
 * delete and download artifacts. Rows are rendered by PostgreSQL (bb_compilation_json,
 * bb_artifact_json); a download needs the admin token, the signed token of a download_url,
 * or a live key of a project the artifact is deployed to. */
#include "cs.h"
#include "cm_log.h"
#include "cm_secret.h"
#include "cm_util.h"
#include "pr_event.h"
#include "pr_list.h"
#include <string.h>

#define CS_MAX_ADDITIONAL 32

/* ---- compile.start ------------------------------------------------------------------- */

typedef struct {
    bool production;
    int format;
    char ids[CS_MAX_ADDITIONAL][37];
    size_t n;
} s_start_t;

/* The optional body: production (bool), additional_specs (UUIDs, duplicates ignored) and the
 * artifact_format extension (6 or 4). False after answering 400. */
static bool s_start_body(const pr_request_t *req, pr_out_t *out, const char *primary,
                         s_start_t *st)
{
    json_t *doc = pr_req_object_opt(req, out);
    if (!doc)
        return false;
    json_t *prod = json_object_get(doc, "production"), *add = json_object_get(doc, "additional_specs");
    json_t *fmt = json_object_get(doc, "artifact_format");
    *st = (s_start_t) { .production = true, .format = 6 };
    bool ok = true;
    if (prod && !json_is_boolean(prod))
        ok = (pr_out_invalid(out, req, "invalid", "/production", "production must be a boolean"), false);
    else if (fmt && (!json_is_integer(fmt) || (json_integer_value(fmt) != 4 && json_integer_value(fmt) != 6)))
        ok = (pr_out_invalid(out, req, "invalid", "/artifact_format", "artifact_format must be 6 or 4"), false);
    else if (add && (!json_is_array(add) || json_array_size(add) > CS_MAX_ADDITIONAL))
        ok = (pr_out_invalid(out, req, "invalid", "/additional_specs",
                             "additional_specs must be an array of at most 32 spec ids"), false);
    for (size_t i = 0; ok && add && i < json_array_size(add); i++) {
        char id[37];
        if (!cm_uuid_normalize(json_string_value(json_array_get(add, i)), id)) {
            ok = (pr_out_invalid(out, req, "invalid", "/additional_specs",
                                 "additional_specs must hold spec ids (UUIDs)"), false);
            break;
        }
        bool dup = strcmp(id, primary) == 0;
        for (size_t j = 0; j < st->n && !dup; j++)
            dup = strcmp(st->ids[j], id) == 0;
        if (!dup)
            memcpy(st->ids[st->n++], id, 37);
    }
    if (ok) {
        st->production = prod ? json_is_true(prod) : true;
        st->format = fmt ? (int) json_integer_value(fmt) : 6;
    }
    json_decref(doc);
    return ok;
}

static void s_uuid_array(const s_start_t *st, char *out, size_t cap)
{
    size_t at = (size_t) snprintf(out, cap, "{");
    for (size_t i = 0; i < st->n && at < cap; i++)
        at += (size_t) snprintf(out + at, cap - at, "%s%s", i ? "," : "", st->ids[i]);
    snprintf(out + at, cap - at, "}");
}

/* Nothing was inserted: say which spec is missing. */
static void s_missing(cs_ctx_t *ctx, const pr_request_t *req, pr_out_t *out, const char *id,
                      const char *extra)
{
    const char *vals[] = { id, extra };
    PGresult *res = cm_db_exec(ctx->db,
        "SELECT x.id::text FROM unnest(array_prepend($1::uuid, $2::uuid[])) AS x(id)"
        " WHERE NOT EXISTS (SELECT 1 FROM specs s WHERE s.id = x.id) LIMIT 1",
        2, vals, NULL, NULL);
    char detail[128] = "spec not found";
    if (cm_db_ok(res) && PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), id) != 0)
        snprintf(detail, sizeof detail, "additional spec %s not found", PQgetvalue(res, 0, 0));
    if (!cm_db_ok(res))
        pr_out_db_error(out, req, res);
    else
        pr_out_problem(out, req, 404, detail);
    PQclear(res);
}

void cs_compile_start(void *arg, const pr_request_t *req, pr_out_t *out)
{
    cs_ctx_t *ctx = arg;
    char id[37], extra[CS_MAX_ADDITIONAL * 40 + 4], fmt[4];
    s_start_t st;
    if (!pr_req_uuid(req, out, "id", id) || !s_start_body(req, out, id, &st))
        return;
    s_uuid_array(&st, extra, sizeof extra);
    snprintf(fmt, sizeof fmt, "%d", st.format);
    const char *vals[] = { id, extra, st.production ? "t" : "f", fmt };
    /* The revisions are pinned in the same statement that records the job. */
    PGresult *res = cm_db_exec(ctx->db,
        "WITH p AS (SELECT id, project_id, current_revision FROM specs WHERE id = $1),"
        " a AS (SELECT coalesce(jsonb_agg(jsonb_build_object('spec_id', s.id,"
        "              'revision', s.current_revision) ORDER BY x.o), '[]') AS list,"
        "              count(s.id) AS found"
        "       FROM unnest($2::uuid[]) WITH ORDINALITY AS x(id, o) JOIN specs s ON s.id = x.id)"
        " INSERT INTO compilations (spec_id, project_id, spec_revision, additional_specs,"
        "                           production, artifact_format, status)"
        " SELECT p.id, p.project_id, p.current_revision, a.list, $3::boolean, $4::int, 'pending'"
        " FROM p, a WHERE a.found = cardinality($2::uuid[])"
        " RETURNING bb_compilation_json(compilations)::text, id::text", 4, vals, NULL, NULL);
    if (cm_db_ok(res) && PQntuples(res) == 0) {
        s_missing(ctx, req, out, id, extra);
    } else {
        pr_out_row(out, req, res, 202, "spec not found");
        if (out->rep.status == 202) {
            pr_kv_t ev[] = { { "compilation_id", PQgetvalue(res, 0, 1) } };
            pr_event_publish(ctx->pub, PR_EV_COMPILE_QUEUED, ev, 1);
            cs_pool_wake(ctx->pool);
        }
    }
    PQclear(res);
}

/* ---- compilations -------------------------------------------------------------------- */

void cs_compile_list(void *arg, const pr_request_t *req, pr_out_t *out)
{
    cs_ctx_t *ctx = arg;
    char id[37];
    pr_page_t page;
    if (!pr_req_uuid(req, out, "id", id) || !pr_page_parse(req, out, &page, pr_cursor_time_id))
        return;
    const char *vals[] = { id };
    PGresult *res = cm_db_exec(ctx->db, "SELECT 1 FROM specs WHERE id = $1", 1, vals, NULL, NULL);
    bool found = cm_db_ok(res) && PQntuples(res) == 1;
    if (!cm_db_ok(res))
        pr_out_db_error(out, req, res);
    else if (!found)
        pr_out_problem(out, req, 404, "spec not found");
    PQclear(res);
    if (found)
        pr_list(ctx->db, req, out,
            "SELECT bb_compilation_json(c)::text, bb_cursor(c.created_at, c.id)"
            " FROM compilations c WHERE c.spec_id = $1"
            "   AND ($2::text IS NULL OR (c.created_at, c.id) > (bb_cursor_ts($2), bb_cursor_id($2)))"
            " ORDER BY c.created_at, c.id LIMIT $3::bigint", 1, vals, &page);
}

void cs_compile_get(void *arg, const pr_request_t *req, pr_out_t *out)
{
    cs_ctx_t *ctx = arg;
    char id[37];
    if (!pr_req_uuid(req, out, "id", id))
        return;
    const char *vals[] = { id };
    PGresult *res = cm_db_exec(ctx->db,
        "SELECT bb_compilation_json(c)::text FROM compilations c WHERE c.id = $1", 1, vals,
        NULL, NULL);
    pr_out_row(out, req, res, 200, "compilation not found");
    PQclear(res);
}

void cs_compile_delete(void *arg, const pr_request_t *req, pr_out_t *out)
{
    cs_ctx_t *ctx = arg;
    char id[37];
    if (!pr_req_uuid(req, out, "id", id))
        return;
    /* A running compile elsewhere notices at its next lease renewal; its result is then
     * refused (the row is gone), so no artifact is left behind. */
    if (pr_out_delete_audited(ctx->db, req, out,
                              PR_AUDITED_DELETE("compilations", "compilation.delete"), id,
                              "compilation not found"))
        cs_pool_cancel(ctx->pool, id);
}

/* ---- artifacts ----------------------------------------------------------------------- */

void cs_artifact_list(void *arg, const pr_request_t *req, pr_out_t *out)
{
    cs_ctx_t *ctx = arg;
    pr_page_t page;
    if (!pr_page_parse(req, out, &page, pr_cursor_time_id))
        return;
    pr_list(ctx->db, req, out,
        "SELECT bb_artifact_json(a)::text, bb_cursor(a.created_at, a.id) FROM artifacts a"
        " WHERE ($1::text IS NULL OR (a.created_at, a.id) > (bb_cursor_ts($1), bb_cursor_id($1)))"
        " ORDER BY a.created_at, a.id LIMIT $2::bigint", 0, NULL, &page);
}

void cs_artifact_get(void *arg, const pr_request_t *req, pr_out_t *out)
{
    cs_ctx_t *ctx = arg;
    char id[37];
    if (!pr_req_uuid(req, out, "id", id))
        return;
    const char *vals[] = { id };
    PGresult *res = cm_db_exec(ctx->db,
        "SELECT bb_artifact_json(a)::text FROM artifacts a WHERE a.id = $1", 1, vals, NULL, NULL);
    pr_out_row(out, req, res, 200, "artifact not found");
    PQclear(res);
}

void cs_artifact_delete(void *arg, const pr_request_t *req, pr_out_t *out)
{
    cs_ctx_t *ctx = arg;
    char id[37];
    if (pr_req_uuid(req, out, "id", id))
        pr_out_delete_audited(ctx->db, req, out, PR_AUDITED_DELETE("artifacts", "artifact.delete"),
                              id, "artifact not found");
}

/* A data plane's own key: live, with a data-plane or artifacts scope, of a project the
 * artifact was deployed to. 0 allowed, else the status to answer (401 bad key, 404). */
static int s_key_allows(cs_ctx_t *ctx, const pr_request_t *req, const char *artifact)
{
    unsigned char hash[32];
    if (cm_bearer_hash(pr_kv_get(req->headers, req->nheaders, "Authorization"), hash) != 0)
        return 401;
    const char *vals[] = { (const char *) hash, artifact };
    int lens[] = { 32, 0 }, fmts[] = { 1, 0 };
    PGresult *res = cm_db_exec(ctx->db,
        "SELECT EXISTS (SELECT 1 FROM deployments d WHERE d.project_id = k.project_id"
        "               AND d.artifact_id = $2::uuid)"
        " FROM bb_live_key($1) k"
        " WHERE k.scopes && ARRAY['data-plane:connect', 'artifacts:read']", 2, vals, lens, fmts);
    int rc = !cm_db_ok(res) ? 503 : PQntuples(res) == 0 ? 401
             : PQgetvalue(res, 0, 0)[0] == 't' ? 0 : 404;
    PQclear(res);
    return rc;
}

static int s_download_allowed(cs_ctx_t *ctx, const pr_request_t *req, const char *id)
{
    if (req->principal && strcmp(req->principal, "admin") == 0)
        return 0;
    if (req->principal && strcmp(req->principal, "token") == 0)
        return cm_download_token_ok(ctx->secret, id, pr_kv_get(req->query, req->nquery, "token"),
                                    cm_wall_ms() / 1000) ? 0 : 401;
    if (req->principal && strcmp(req->principal, "apikey") == 0)
        return s_key_allows(ctx, req, id);
    return 401;
}

void cs_artifact_download(void *arg, const pr_request_t *req, pr_out_t *out)
{
    cs_ctx_t *ctx = arg;
    char id[37];
    if (!pr_req_uuid(req, out, "id", id))
        return;
    int denied = s_download_allowed(ctx, req, id);
    if (denied) {
        pr_out_problem(out, req, denied, denied == 401 ? "a valid download token or key is required"
                       : denied == 404 ? "artifact not found" : "the database is unavailable");
        return;
    }
    const char *vals[] = { id };
    PGresult *res = cm_db_exec_bin(ctx->db, "SELECT content FROM artifacts WHERE id = $1",
                                   1, vals, NULL, NULL);
    if (!cm_db_ok(res)) {
        pr_out_db_error(out, req, res);
    } else if (PQntuples(res) == 0) {
        pr_out_problem(out, req, 404, "artifact not found");
    } else {
        char disp[96];
        snprintf(disp, sizeof disp, "attachment; filename=\"%s.bca\"", id);
        pr_out_text(out, 200, "application/octet-stream", PQgetvalue(res, 0, 0),
                    (size_t) PQgetlength(res, 0, 0));
        pr_out_header(out, "Content-Disposition", disp);
    }
    PQclear(res);
}
