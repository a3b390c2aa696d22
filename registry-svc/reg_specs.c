/* Specs: upload (validated by the spec loader, revisions gap-free under concurrency), list,
 * get, delete, history and content, plus the project-scoped extension. */
#include "reg.h"
#include "cm_log.h"
#include "cm_spec.h"
#include "cm_util.h"
#include <ctype.h>
#include <limits.h>
#include <string.h>

#define REG_TITLE_MAX 1024
#define REG_FILENAME_MAX 255

/* Basename with characters outside [A-Za-z0-9._-] dropped; "upload" when nothing usable is left. */
static void s_sanitize(const char *in, char out[REG_FILENAME_MAX + 1])
{
    const char *base = in ? in : "";
    for (const char *p = base; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    size_t o = 0;
    bool only_dots = true;
    for (const char *p = base; *p && o < REG_FILENAME_MAX; p++)
        if (isalnum((unsigned char) *p) || *p == '.' || *p == '_' || *p == '-') {
            out[o++] = *p;
            only_dots &= *p == '.';
        }
    out[o] = '\0';
    if (o == 0 || only_dots)
        strcpy(out, "upload");
}

/* The spec name when info.title is empty: the file name without its extension. */
static void s_stem(const char *filename, char *out, size_t cap)
{
    snprintf(out, cap, "%s", filename);
    char *dot = strrchr(out, '.');
    if (dot && dot != out)
        *dot = '\0';
}

static void s_issues_reply(pr_out_t *out, const pr_request_t *req, const cm_spec_issue_t *is,
                           size_t n)
{
    json_t *errors = json_array();
    for (size_t i = 0; i < n; i++) {
        char code[16], loc[32];
        snprintf(code, sizeof code, "E%d", is[i].code);
        snprintf(loc, sizeof loc, "%d:%d", is[i].line, is[i].column);
        json_array_append_new(errors, json_pack("{s:s, s:s, s:s}", "code", code, "message",
                                                is[i].message, "location", loc));
    }
    if (n > 0 && is[0].code == CM_SPEC_E_INTERNAL)
        pr_out_problem_errors(out, req, 500, "the spec could not be processed", errors);
    else
        pr_out_problem_errors(out, req, 400, n ? is[0].message : "invalid spec document", errors);
}

typedef struct {
    cm_spec_type_t type;
    const char *version, *title;
} s_meta_t;

/* Loads and classifies the document; NULL after answering 400 with every issue found. */
static cm_spec_doc_t *s_load(const pr_request_t *req, pr_out_t *out, const pr_part_t *file,
                             s_meta_t *meta)
{
    cm_spec_issue_t issues[16];
    size_t n = 0;
    cm_spec_doc_t *doc = cm_spec_load(file->data, file->len, NULL, issues, 16, &n);
    if (!doc) {
        s_issues_reply(out, req, issues, n);
        return NULL;
    }
    if (cm_spec_classify(doc, &meta->type, &meta->version, &meta->title, issues) != 0) {
        s_issues_reply(out, req, issues, 1);
        cm_spec_doc_destroy(&doc);
    }
    return doc;
}

/* Resolves the target project: from the path (404 if missing), the project_id form field (400
 * if bad), or the "default" project, created on first use. */
static bool s_project(reg_ctx_t *ctx, const pr_request_t *req, pr_out_t *out, char id[37])
{
    const char *from_path = pr_kv_get(req->path, req->npath, "projectId");
    const pr_part_t *field = pr_part_get(req, "project_id");
    char want[64] = "";
    if (from_path && !pr_req_uuid(req, out, "projectId", id))
        return false;
    if (!from_path && field) {
        snprintf(want, sizeof want, "%.*s", (int) (field->len < 63 ? field->len : 63),
                 (const char *) field->data);
        if (field->len > 63 || !cm_uuid_normalize(cm_trim(want), id)) {
            pr_out_invalid(out, req, "invalid", "/project_id", "project_id must be a UUID");
            return false;
        }
    }
    const char *vals[] = { (from_path || field) ? id : NULL };
    PGresult *res = NULL;
    /* Two first uploads racing to create "default": the loser's snapshot misses the winner's
     * row, so it looks once more. */
    for (int attempt = 0; attempt < 2 && (!res || (cm_db_ok(res) && PQntuples(res) == 0)); attempt++) {
        PQclear(res);
        res = cm_db_exec(ctx->db,
        "WITH ins AS (INSERT INTO projects (name) SELECT 'default' WHERE $1::uuid IS NULL"
        "             ON CONFLICT (name) DO NOTHING RETURNING id)"
        " SELECT id::text FROM projects WHERE id = $1::uuid"
        " UNION ALL SELECT id::text FROM ins"
        " UNION ALL SELECT id::text FROM projects WHERE $1::uuid IS NULL AND name = 'default'"
        " LIMIT 1", 1, vals, NULL, NULL);
    }
    bool ok = cm_db_ok(res) && PQntuples(res) == 1;
    if (!cm_db_ok(res))
        pr_out_db_error(out, req, res);
    else if (!ok && from_path)
        pr_out_problem(out, req, 404, "project not found");
    else if (!ok)
        pr_out_invalid(out, req, "invalid", "/project_id", "project_id names no project");
    else
        snprintf(id, 37, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return ok;
}

static void s_store(reg_ctx_t *ctx, const pr_request_t *req, pr_out_t *out, const char *project,
                    const char *name, const s_meta_t *meta, const pr_part_t *file,
                    const char *filename)
{
    char sha[65];
    cm_sha256_hex(file->data, file->len, sha);
    const char *type = meta->type == CM_SPEC_ASYNCAPI ? "asyncapi" : "openapi";
    const char *vals[] = { project, name, type, meta->version, sha, filename,
                           (const char *) file->data };
    int lens[] = { 0, 0, 0, 0, 0, 0, (int) file->len };
    int fmts[] = { 0, 0, 0, 0, 0, 0, 1 };
    /* One statement: the upsert's row lock serialises uploads of one name, so revision numbers
     * come out gap-free, and a failed revision insert undoes the counter. */
    PGresult *res = cm_db_exec(ctx->db,
        "WITH s AS (INSERT INTO specs (project_id, name, spec_type, spec_version,"
        "                              current_revision, current_sha256)"
        "           VALUES ($1, $2, $3, $4, 1, $5)"
        "           ON CONFLICT (project_id, name) DO UPDATE SET"
        "             current_revision = specs.current_revision + 1,"
        "             current_sha256 = EXCLUDED.current_sha256, spec_type = EXCLUDED.spec_type,"
        "             spec_version = EXCLUDED.spec_version, updated_at = now()"
        "           RETURNING id, name, current_revision),"
        " r AS (INSERT INTO spec_revisions (spec_id, revision, sha256, filename, spec_type,"
        "                                   spec_version, content)"
        "       SELECT id, current_revision, $5, $6, $3, $4, $7 FROM s)"
        " SELECT json_build_object('id', id, 'name', name, 'revision', current_revision,"
        "                          'sha256', $5::text)::text, id::text FROM s",
        7, vals, lens, fmts);
    if (strcmp(cm_db_sqlstate(res), "23503") == 0) {  /* the project was deleted meanwhile */
        if (pr_kv_get(req->path, req->npath, "projectId"))
            pr_out_problem(out, req, 404, "project not found");
        else
            pr_out_invalid(out, req, "invalid", "/project_id", "project_id names no project");
    } else {
        pr_out_row(out, req, res, 201, "spec not found");
        pr_out_location(out, "/specs/%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
}

void reg_spec_upload(void *arg, const pr_request_t *req, pr_out_t *out)
{
    reg_ctx_t *ctx = arg;
    const pr_part_t *file = pr_part_get(req, "file");
    if (!file) {
        pr_out_invalid(out, req, "required", "/file", "a multipart field named 'file' is required");
        return;
    }
    char project[37], filename[REG_FILENAME_MAX + 1], name[REG_TITLE_MAX + 1];
    if (!s_project(ctx, req, out, project))
        return;
    s_meta_t meta;
    cm_spec_doc_t *doc = s_load(req, out, file, &meta);
    if (!doc)
        return;
    s_sanitize(file->filename, filename);
    if (*meta.title)
        snprintf(name, sizeof name, "%s", meta.title);
    else
        s_stem(filename, name, sizeof name);
    if (strlen(meta.title) > REG_TITLE_MAX) {
        cm_spec_issue_t is = { .code = CM_SPEC_E_STRUCTURE };
        snprintf(is.message, sizeof is.message, "info.title is longer than %d bytes", REG_TITLE_MAX);
        cm_spec_mark(cm_spec_get(cm_spec_get(cm_spec_root(doc), "info"), "title"), &is.line,
                     &is.column);
        s_issues_reply(out, req, &is, 1);
    } else
        s_store(ctx, req, out, project, name, &meta, file, filename);
    cm_spec_doc_destroy(&doc);
}

void reg_spec_list(void *arg, const pr_request_t *req, pr_out_t *out)
{
    reg_ctx_t *ctx = arg;
    char project[37];
    const char *pid = pr_kv_get(req->path, req->npath, "projectId");
    const char *type = pr_kv_get(req->query, req->nquery, "type");
    const char *name = pr_kv_get(req->query, req->nquery, "name");
    pr_page_t page;
    if (pid && (!pr_req_uuid(req, out, "projectId", project)
                || !reg_project_exists(ctx, req, out, project)))
        return;
    if (type && strcmp(type, "openapi") && strcmp(type, "asyncapi")) {
        pr_out_invalid(out, req, "invalid", "type", "type must be openapi or asyncapi");
        return;
    }
    if (!pr_page_parse(req, out, &page, pr_cursor_time_id))
        return;
    const char *vals[] = { pid ? project : NULL, type, name };
    pr_list(ctx->db, req, out,
        "SELECT bb_spec_json(s)::text, bb_cursor(s.created_at, s.id) FROM specs s"
        " WHERE ($1::uuid IS NULL OR s.project_id = $1)"
        "   AND ($2::text IS NULL OR s.spec_type = $2)"
        "   AND ($3::text IS NULL OR s.name ILIKE '%' || replace(replace(replace($3,"
        "        '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%')"
        "   AND ($4::text IS NULL OR (s.created_at, s.id) > (bb_cursor_ts($4), bb_cursor_id($4)))"
        " ORDER BY s.created_at, s.id LIMIT $5::bigint", 3, vals, &page);
}

void reg_spec_get(void *arg, const pr_request_t *req, pr_out_t *out)
{
    reg_ctx_t *ctx = arg;
    char id[37];
    if (!pr_req_uuid(req, out, "id", id))
        return;
    const char *vals[] = { id };
    PGresult *res = cm_db_exec(ctx->db, "SELECT bb_spec_json(s)::text FROM specs s WHERE s.id = $1",
                               1, vals, NULL, NULL);
    pr_out_row(out, req, res, 200, "spec not found");
    PQclear(res);
}

void reg_spec_delete(void *arg, const pr_request_t *req, pr_out_t *out)
{
    reg_ctx_t *ctx = arg;
    char id[37];
    if (!pr_req_uuid(req, out, "id", id))
        return;
    pr_out_delete_audited(ctx->db, req, out, PR_AUDITED_DELETE("specs", "spec.delete"), id,
                          "spec not found");
}

void reg_spec_history(void *arg, const pr_request_t *req, pr_out_t *out)
{
    reg_ctx_t *ctx = arg;
    char id[37];
    if (!pr_req_uuid(req, out, "id", id))
        return;
    const char *vals[] = { id };
    PGresult *res = cm_db_exec(ctx->db,
        "SELECT coalesce(json_agg(json_build_object('revision', r.revision, 'sha256', r.sha256,"
        "         'filename', r.filename, 'created_at', bb_ts(r.created_at))"
        "         ORDER BY r.revision DESC) FILTER (WHERE r.revision IS NOT NULL), '[]')::text"
        " FROM specs s LEFT JOIN spec_revisions r ON r.spec_id = s.id"
        " WHERE s.id = $1 GROUP BY s.id", 1, vals, NULL, NULL);
    pr_out_row(out, req, res, 200, "spec not found");
    PQclear(res);
}

void reg_spec_content(void *arg, const pr_request_t *req, pr_out_t *out)
{
    reg_ctx_t *ctx = arg;
    char id[37], rev[16];
    if (!pr_req_uuid(req, out, "id", id))
        return;
    const char *want = pr_kv_get(req->query, req->nquery, "revision");
    if (want) {
        char *end = NULL;
        long n = strtol(want, &end, 10);
        if (!*want || *end || n < 1 || n > INT_MAX || !isdigit((unsigned char) *want)) {
            pr_out_invalid(out, req, "invalid", "revision", "revision must be a positive integer");
            return;
        }
        snprintf(rev, sizeof rev, "%ld", n);
    }
    const char *vals[] = { id, want ? rev : NULL };
    PGresult *res = cm_db_exec_bin(ctx->db,
        "SELECT r.content, r.filename FROM specs s LEFT JOIN spec_revisions r"
        "  ON r.spec_id = s.id AND r.revision = coalesce($2::int, s.current_revision)"
        " WHERE s.id = $1", 2, vals, NULL, NULL);
    if (!cm_db_ok(res)) {
        pr_out_db_error(out, req, res);
    } else if (PQntuples(res) == 0) {
        pr_out_problem(out, req, 404, "spec not found");
    } else if (PQgetisnull(res, 0, 0)) {
        pr_out_problem(out, req, 404, "revision not found");
    } else {
        char disp[REG_FILENAME_MAX + 64];
        snprintf(disp, sizeof disp, "attachment; filename=\"%.*s\"", PQgetlength(res, 0, 1),
                 PQgetvalue(res, 0, 1));
        pr_out_text(out, 200, "application/yaml", PQgetvalue(res, 0, 0),
                    (size_t) PQgetlength(res, 0, 0));
        pr_out_header(out, "Content-Disposition", disp);
    }
    PQclear(res);
}
