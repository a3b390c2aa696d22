/* Projects: the five contract operations. Rows are rendered to JSON by PostgreSQL
 * (bb_project_json) so the reply is the database's text, untouched. */
#include "reg.h"
#include "cm_log.h"
#include "cm_util.h"
#include "pr_event.h"
#include <ctype.h>
#include <string.h>

#define REG_NAME_MAX 200
#define REG_DESC_MAX 4096

static bool s_blank(const char *s)
{
    for (; *s; s++)
        if (!isspace((unsigned char) *s))
            return false;
    return true;
}

/* Validates an optional "name" member; *name stays NULL when absent. */
static bool s_name(const pr_request_t *req, pr_out_t *out, json_t *doc, bool required,
                   const char **name)
{
    json_t *v = json_object_get(doc, "name");
    *name = NULL;
    if (!v && !required)
        return true;
    if (!json_is_string(v) || s_blank(json_string_value(v))) {
        pr_out_invalid(out, req, v ? "invalid" : "required", "/name",
                       "name is required and must be a non-blank string");
        return false;
    }
    if (cm_utf8_len(json_string_value(v)) > REG_NAME_MAX
        || strlen(json_string_value(v)) != json_string_length(v)
        || !cm_no_controls(json_string_value(v))) {
        pr_out_invalid(out, req, "invalid", "/name",
                       "name must be at most 200 characters without control characters");
        return false;
    }
    *name = json_string_value(v);
    return true;
}

/* Validates an optional "description" member: a string or null. *present says if given. */
static bool s_description(const pr_request_t *req, pr_out_t *out, json_t *doc, bool *present,
                          const char **desc)
{
    json_t *v = json_object_get(doc, "description");
    *present = v != NULL;
    *desc = NULL;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_string(v) || cm_utf8_len(json_string_value(v)) > REG_DESC_MAX
        || strlen(json_string_value(v)) != json_string_length(v)) {
        pr_out_invalid(out, req, "invalid", "/description",
                       "description must be a string of at most 4096 characters or null");
        return false;
    }
    *desc = json_string_value(v);
    return true;
}

void reg_project_list(void *arg, const pr_request_t *req, pr_out_t *out)
{
    reg_ctx_t *ctx = arg;
    pr_page_t page;
    if (!pr_page_parse(req, out, &page, pr_cursor_time_id))
        return;
    pr_list(ctx->db, req, out,
        "SELECT bb_project_json(p)::text, bb_cursor(p.created_at, p.id) FROM projects p"
        " WHERE ($1::text IS NULL OR (p.created_at, p.id) > (bb_cursor_ts($1), bb_cursor_id($1)))"
        " ORDER BY p.created_at, p.id LIMIT $2::bigint", 0, NULL, &page);
}

bool reg_project_exists(reg_ctx_t *ctx, const pr_request_t *req, pr_out_t *out,
                        const char *id)
{
    const char *vals[] = { id };
    PGresult *res = cm_db_exec(ctx->db, "SELECT 1 FROM projects WHERE id = $1", 1, vals, NULL,
                               NULL);
    bool found = cm_db_ok(res) && PQntuples(res) == 1;
    if (!cm_db_ok(res))
        pr_out_db_error(out, req, res);
    else if (!found)
        pr_out_problem(out, req, 404, "project not found");
    PQclear(res);
    return found;
}

void reg_project_get(void *arg, const pr_request_t *req, pr_out_t *out)
{
    reg_ctx_t *ctx = arg;
    char id[37];
    if (!pr_req_uuid(req, out, "projectId", id))
        return;
    const char *vals[] = { id };
    PGresult *res = cm_db_exec(ctx->db,
        "SELECT bb_project_json(p)::text FROM projects p WHERE p.id = $1", 1, vals, NULL, NULL);
    pr_out_row(out, req, res, 200, "project not found");
    PQclear(res);
}

void reg_project_create(void *arg, const pr_request_t *req, pr_out_t *out)
{
    reg_ctx_t *ctx = arg;
    json_t *doc = pr_req_object(req, out);
    const char *name, *desc;
    bool has_desc;
    if (!doc || !s_name(req, out, doc, true, &name) || !s_description(req, out, doc, &has_desc, &desc)) {
        json_decref(doc);
        return;
    }
    const char *vals[] = { name, desc };
    PGresult *res = cm_db_exec(ctx->db,
        "INSERT INTO projects (name, description) VALUES ($1, $2)"
        " RETURNING bb_project_json(projects)::text, id::text", 2, vals, NULL, NULL);
    pr_out_row(out, req, res, 201, "project not found");
    pr_out_location(out, "/projects/%s", PQgetvalue(res, 0, 1));
    PQclear(res);
    json_decref(doc);
}

void reg_project_update(void *arg, const pr_request_t *req, pr_out_t *out)
{
    reg_ctx_t *ctx = arg;
    char id[37];
    if (!pr_req_uuid(req, out, "projectId", id))
        return;
    json_t *doc = pr_req_object(req, out);
    const char *name, *desc;
    bool has_desc;
    if (!doc || !s_name(req, out, doc, false, &name) || !s_description(req, out, doc, &has_desc, &desc)) {
        json_decref(doc);
        return;
    }
    const char *vals[] = { id, name ? "t" : "f", name, has_desc ? "t" : "f", desc };
    PGresult *res = cm_db_exec(ctx->db,
        "UPDATE projects SET"
        "  name = CASE WHEN $2::boolean THEN $3 ELSE name END,"
        "  description = CASE WHEN $4::boolean THEN $5 ELSE description END,"
        "  updated_at = CASE WHEN $2::boolean OR $4::boolean THEN now() ELSE updated_at END"
        " WHERE id = $1 RETURNING bb_project_json(projects)::text", 5, vals, NULL, NULL);
    pr_out_row(out, req, res, 200, "project not found");
    PQclear(res);
    json_decref(doc);
}

void reg_project_delete(void *arg, const pr_request_t *req, pr_out_t *out)
{
    reg_ctx_t *ctx = arg;
    char id[37];
    if (!pr_req_uuid(req, out, "projectId", id))
        return;
    if (pr_out_delete_audited(ctx->db, req, out, PR_AUDITED_DELETE("projects", "project.delete"),
                              id, "project not found")) {
        pr_kv_t ev[] = { { "project_id", id } };
        pr_event_publish(ctx->pub, PR_EV_PROJECT_DELETED, ev, 1);
    }
}
