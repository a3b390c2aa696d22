/* The service kit, replies: JSON and problem bodies, headers, request helpers, and the one
 * table that maps database failures to statuses. Owns nothing beyond each pr_out_t it fills. */
#include "pr_out.h"
#include "cm_log.h"
#include "cm_problem.h"
#include "cm_util.h"
#include <stdarg.h>
#include <string.h>

static void s_set(pr_out_t *out, int status, const char *ctype, char *body, size_t len)
{
    free(out->body);
    out->body = body;
    out->rep.status = status;
    out->rep.content_type = ctype;
    out->rep.body = (const unsigned char *) body;
    out->rep.body_len = len;
}

void pr_out_json(pr_out_t *out, int status, json_t *doc)
{
    char *s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!s) {
        s_set(out, 500, CM_PROBLEM_CT, NULL, 0);
        return;
    }
    s_set(out, status, "application/json", s, strlen(s));
}

void pr_out_text(pr_out_t *out, int status, const char *ctype, const char *text, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy) {
        memcpy(copy, text, len);
        copy[len] = '\0';
    }
    s_set(out, copy ? status : 500, ctype, copy, copy ? len : 0);
}

void pr_out_owned(pr_out_t *out, int status, const char *ctype, char *body, size_t len)
{
    s_set(out, status, ctype, body, len);
}

void pr_out_empty(pr_out_t *out, int status)
{
    s_set(out, status, NULL, NULL, 0);
}

void pr_out_problem_errors(pr_out_t *out, const pr_request_t *req, int status, const char *detail,
                           json_t *errors)
{
    size_t len = 0;
    char *s = cm_problem_json(status, detail, req->uri, req->rid, errors, &len);
    json_decref(errors);
    s_set(out, status, CM_PROBLEM_CT, s, len);
}

void pr_out_problem(pr_out_t *out, const pr_request_t *req, int status, const char *detail)
{
    pr_out_problem_errors(out, req, status, detail, NULL);
}

void pr_out_invalid(pr_out_t *out, const pr_request_t *req, const char *code,
                    const char *location, const char *message)
{
    json_t *errors = json_pack("[{s:s, s:s, s:s}]", "code", code, "message", message,
                               "location", location);
    pr_out_problem_errors(out, req, 400, message, errors);
}

void pr_out_db_error(pr_out_t *out, const pr_request_t *req, const PGresult *res)
{
    const char *state = cm_db_sqlstate(res);
    if (strcmp(state, "23505") == 0) {
        pr_out_problem(out, req, 409, "a resource with this name already exists");
        return;
    }
    if (strcmp(state, "23503") == 0) {
        pr_out_problem(out, req, 409, "the resource is still referenced");
        return;
    }
    if (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0) {
        /* lost a race with a concurrent change: nothing was written, a retry will do */
        cm_log_op(CM_LOG_WARN, req->rid, req->op, "transaction conflict %s", state);
        pr_out_problem(out, req, 503, "a concurrent change conflicted with this request; retry");
        return;
    }
    cm_log_op(CM_LOG_ERROR, req->rid, req->op, "database error %s: %s", state,
              res ? PQresultErrorMessage(res) : "no result");
    /* class 08 = connection exception, 57P = operator intervention (shutdown) */
    if (!*state || strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0)
        pr_out_problem(out, req, 503, "the database is unavailable");
    else
        pr_out_problem(out, req, 500, "unexpected database error");
}

void pr_out_header(pr_out_t *out, const char *key, const char *val)
{
    size_t kl = strlen(key) + 1, vl = strlen(val) + 1;
    if (out->rep.nheaders == PR_MAX_PAIRS || out->hused + kl + vl > sizeof out->hstore)
        return;
    char *k = memcpy(out->hstore + out->hused, key, kl);
    char *v = memcpy(out->hstore + out->hused + kl, val, vl);
    out->hused += kl + vl;
    out->rep.headers[out->rep.nheaders++] = (pr_kv_t) { k, v };
}

void pr_out_free(pr_out_t *out)
{
    free(out->body);
    memset(out, 0, sizeof *out);
}

bool pr_req_uuid(const pr_request_t *req, pr_out_t *out, const char *name, char id[37])
{
    const char *v = pr_kv_get(req->path, req->npath, name);
    if (cm_uuid_normalize(v, id))
        return true;
    pr_out_problem(out, req, 400, "malformed id: expected a UUID");
    return false;
}

json_t *pr_req_object(const pr_request_t *req, pr_out_t *out)
{
    json_error_t err;
    json_t *doc = req->body_len
                      ? json_loadb((const char *) req->body, req->body_len, JSON_REJECT_DUPLICATES, &err)
                      : NULL;
    if (!json_is_object(doc)) {
        json_decref(doc);
        pr_out_invalid(out, req, "invalid", "", "the request body must be a JSON object");
        return NULL;
    }
    return doc;
}

json_t *pr_req_object_opt(const pr_request_t *req, pr_out_t *out)
{
    return req->body_len ? pr_req_object(req, out) : json_object();
}

/* True when res holds a row; otherwise answers with the database error or 404 (missing). */
static bool s_has_row(pr_out_t *out, const pr_request_t *req, const PGresult *res,
                      const char *missing)
{
    if (!cm_db_ok(res))
        pr_out_db_error(out, req, res);
    else if (PQntuples(res) == 0)
        pr_out_problem(out, req, 404, missing);
    else
        return true;
    return false;
}

void pr_out_row(pr_out_t *out, const pr_request_t *req, PGresult *res, int status,
                const char *missing)
{
    if (s_has_row(out, req, res, missing))
        pr_out_text(out, status, "application/json", PQgetvalue(res, 0, 0),
                    (size_t) PQgetlength(res, 0, 0));
}

void pr_out_location(pr_out_t *out, const char *fmt, ...)
{
    if (out->rep.status != 201)
        return;
    char loc[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(loc, sizeof loc, fmt, ap);
    va_end(ap);
    pr_out_header(out, "Location", loc);
}

bool pr_out_done(pr_out_t *out, const pr_request_t *req, const PGresult *res,
                 const char *missing)
{
    if (!s_has_row(out, req, res, missing))
        return false;
    pr_out_empty(out, 204);
    return true;
}

bool pr_out_delete_audited(cm_db_t *db, const pr_request_t *req, pr_out_t *out,
                           const char *sql, const char *id, const char *missing)
{
    const char *vals[] = { id, req->rid, req->principal };
    PGresult *res = cm_db_exec(db, sql, 3, vals, NULL, NULL);
    bool done = pr_out_done(out, req, res, missing);
    PQclear(res);
    return done;
}
