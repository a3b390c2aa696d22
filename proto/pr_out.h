/* The service kit, replies: the reply a handler fills (status, content type, headers, body)
 * and the helpers that turn domain outcomes into HTTP statuses in one place, including the
 * one table that maps database failures to statuses. Used by every service. */
#ifndef PR_OUT_H
#define PR_OUT_H
#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include "cm_db.h"
#include "pr_envelope.h"

typedef struct {
    pr_reply_t rep;          /* what goes back to the gateway */
    char *body;              /* owned body bytes (rep.body points here) */
    char hstore[8192];       /* owned header strings (rep.headers point here) */
    size_t hused;
} pr_out_t;

/* Replies: each sets status, content type and body (taking ownership where noted). */
void pr_out_json(pr_out_t *out, int status, json_t *doc /* stolen */);
void pr_out_text(pr_out_t *out, int status, const char *ctype, const char *text, size_t len);
void pr_out_empty(pr_out_t *out, int status);
/* Takes ownership of body (malloc'd). */
void pr_out_owned(pr_out_t *out, int status, const char *ctype, char *body, size_t len);
void pr_out_problem(pr_out_t *out, const pr_request_t *req, int status, const char *detail);
void pr_out_problem_errors(pr_out_t *out, const pr_request_t *req, int status,
                           const char *detail, json_t *errors /* stolen */);
/* 400 with one validation issue in errors[]: code ("required", "invalid"), location (a JSON
 * pointer into the request body, "" for the whole body) and message. */
void pr_out_invalid(pr_out_t *out, const pr_request_t *req, const char *code,
                    const char *location, const char *message);
/* Maps a failed database result to 409 (unique, foreign key), 503 (connection, conflict)
 * or 500, logging it. */
void pr_out_db_error(pr_out_t *out, const pr_request_t *req, const PGresult *res);
void pr_out_header(pr_out_t *out, const char *key, const char *val);
void pr_out_free(pr_out_t *out);
/* Adds a Location header (printf-style) when the reply is 201 Created. */
void pr_out_location(pr_out_t *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A single-row, single-column text result as the reply body with status; 404 when no row. */
void pr_out_row(pr_out_t *out, const pr_request_t *req, PGresult *res, int status,
                const char *missing);
/* For statements that affect one row or none: 204 when a row was affected, 404 (missing)
 * when none, the database error otherwise. True for 204. */
bool pr_out_done(pr_out_t *out, const pr_request_t *req, const PGresult *res,
                 const char *missing);

/* One statement deleting the row of TABLE whose id is $1 and recording the deletion in
 * audit_log with the request id ($2) and principal ($3). */
#define PR_AUDITED_DELETE(table, action)                                                   \
    "WITH d AS (DELETE FROM " table " WHERE id = $1 RETURNING id),"                        \
    " a AS (INSERT INTO audit_log (request_id, principal, action, subject)"                 \
    "       SELECT $2, $3, '" action "', id::text FROM d)"                                  \
    " SELECT id FROM d"
/* Runs a PR_AUDITED_DELETE statement for id and answers 204 or 404 (missing). True for 204. */
bool pr_out_delete_audited(cm_db_t *db, const pr_request_t *req, pr_out_t *out,
                           const char *sql, const char *id, const char *missing);

/* Copies path parameter name into id when it is a UUID; else answers 400 and returns false. */
bool pr_req_uuid(const pr_request_t *req, pr_out_t *out, const char *name, char id[37]);
/* Parses the JSON object body; NULL after answering 400. Caller owns the result. */
json_t *pr_req_object(const pr_request_t *req, pr_out_t *out);
/* An optional JSON object body (absent, empty or an object); NULL after answering 400, else
 * a new reference ({} when there was none). */
json_t *pr_req_object_opt(const pr_request_t *req, pr_out_t *out);

#endif
