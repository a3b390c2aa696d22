/* Data planes as registry-svc shows them (the hub writes the rows) and deployments: the
 * desired artifact of a project, recorded here and announced on deploy.<project>; hubs send
 * artifact_available to the project's sessions. Disconnect is announced for the hub holding
 * the session to carry out. */
#include "reg.h"
#include "cm_util.h"
#include "pr_event.h"
#include <string.h>

void reg_dataplane_list(void *arg, const pr_request_t *req, pr_out_t *out)
{
    reg_ctx_t *ctx = arg;
    char pid[37];
    pr_page_t page;
    if (!pr_req_uuid(req, out, "projectId", pid) || !reg_project_exists(ctx, req, out, pid)
        || !pr_page_parse(req, out, &page, pr_cursor_time_id))
        return;
    const char *vals[] = { pid };
    pr_list(ctx->db, req, out,
        "SELECT bb_data_plane_json(d)::text, bb_cursor(d.created_at, d.id) FROM data_planes d"
        " WHERE d.project_id = $1"
        "   AND ($2::text IS NULL OR (d.created_at, d.id) > (bb_cursor_ts($2), bb_cursor_id($2)))"
        " ORDER BY d.created_at, d.id LIMIT $3::bigint", 1, vals, &page);
}

void reg_dataplane_get(void *arg, const pr_request_t *req, pr_out_t *out)
{
    reg_ctx_t *ctx = arg;
    char pid[37], did[37];
    if (!pr_req_uuid(req, out, "projectId", pid) || !pr_req_uuid(req, out, "dataPlaneId", did))
        return;
    const char *vals[] = { pid, did };
    PGresult *res = cm_db_exec(ctx->db,
        "SELECT bb_data_plane_json(d)::text FROM data_planes d"
        " WHERE d.project_id = $1 AND d.id = $2", 2, vals, NULL, NULL);
    pr_out_row(out, req, res, 200, "data plane or project not found");
    PQclear(res);
}

void reg_dataplane_disconnect(void *arg, const pr_request_t *req, pr_out_t *out)
{
    reg_ctx_t *ctx = arg;
    char pid[37], did[37];
    if (!pr_req_uuid(req, out, "projectId", pid) || !pr_req_uuid(req, out, "dataPlaneId", did))
        return;
    const char *vals[] = { pid, did, req->rid, req->principal };
    PGresult *res = cm_db_exec(ctx->db,
        "WITH d AS (SELECT id FROM data_planes WHERE project_id = $1 AND id = $2),"
        " a AS (INSERT INTO audit_log (request_id, principal, action, subject)"
        "       SELECT $3, $4, 'dataplane.disconnect', id::text FROM d)"
        " SELECT id FROM d", 4, vals, NULL, NULL);
    /* A kick: the hub holding the session sends `disconnect`, closes it and marks the row
     * offline; the data plane may come back with a valid key. */
    if (pr_out_done(out, req, res, "data plane or project not found")) {
        pr_kv_t ev[] = { { "project_id", pid }, { "data_plane_id", did } };
        pr_event_publish(ctx->pub, PR_EV_DP_DISCONNECT, ev, 2);
    }
    PQclear(res);
}

/* The artifact to deploy: the body's artifact_id, or the newest artifact built from a spec of
 * the project. False after answering (400 or 404). */
static bool s_artifact(reg_ctx_t *ctx, const pr_request_t *req, pr_out_t *out, const char *pid,
                       char id[37])
{
    json_t *doc = pr_req_object_opt(req, out);
    if (!doc)
        return false;
    json_t *given = json_object_get(doc, "artifact_id");
    bool ok = !given || cm_uuid_normalize(json_string_value(given), id);
    json_decref(doc);
    if (!ok) {
        pr_out_invalid(out, req, "invalid", "/artifact_id", "artifact_id must be a UUID");
        return false;
    }
    const char *vals[] = { pid, given ? id : NULL };
    PGresult *res = cm_db_exec(ctx->db,
        "SELECT id::text FROM artifacts WHERE ($2::uuid IS NOT NULL AND id = $2)"
        "    OR ($2::uuid IS NULL AND project_id = $1)"
        " ORDER BY created_at DESC, id DESC LIMIT 1", 2, vals, NULL, NULL);
    bool found = cm_db_ok(res) && PQntuples(res) == 1;
    if (found)
        snprintf(id, 37, "%s", PQgetvalue(res, 0, 0));
    else if (!cm_db_ok(res))
        pr_out_db_error(out, req, res);
    else
        pr_out_problem(out, req, 404, given ? "artifact not found"
                                            : "no artifact has been built from a spec of this project");
    PQclear(res);
    return found;
}

void reg_deploy(void *arg, const pr_request_t *req, pr_out_t *out)
{
    reg_ctx_t *ctx = arg;
    char pid[37], aid[37];
    if (!pr_req_uuid(req, out, "projectId", pid) || !reg_project_exists(ctx, req, out, pid)
        || !s_artifact(ctx, req, out, pid, aid))
        return;
    const char *vals[] = { pid, aid, req->rid, req->principal };
    PGresult *res = cm_db_exec(ctx->db,
        "WITH ins AS (INSERT INTO deployments (project_id, artifact_id, artifact_hash, sha256,"
        "                                      request_id, principal)"
        "             SELECT $1, a.id, a.artifact_hash, a.sha256, $3, $4 FROM artifacts a"
        "             WHERE a.id = $2 RETURNING artifact_id)"
        " SELECT json_build_object('artifact_id', ins.artifact_id,"
        "          'data_planes_notified', (SELECT count(*) FROM data_planes d"
        "             WHERE d.project_id = $1 AND d.status IN ('online', 'deploying')))::text"
        " FROM ins", 4, vals, NULL, NULL);
    pr_out_row(out, req, res, 200, "artifact not found");
    if (out->rep.status == 200) {
        char topic[64];
        snprintf(topic, sizeof topic, "%s%s", PR_EV_DEPLOY_PREFIX, pid);
        pr_kv_t ev[] = { { "project_id", pid }, { "artifact_id", aid } };
        pr_event_publish(ctx->pub, topic, ev, 2);
    }
    PQclear(res);
}
