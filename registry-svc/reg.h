/* registry-svc: the context every handler gets, the reply it fills, and the helpers that
 * turn domain outcomes into HTTP statuses in one place. */
#ifndef REG_H
#define REG_H
#include <czmq.h>
#include <jansson.h>
#include <libpq-fe.h>
#include "cm_db.h"
#include "pr_envelope.h"

typedef struct {
    cm_db_t *db;
    zsock_t *pub;            /* events to the proxy */
} reg_ctx_t;

typedef struct {
    pr_reply_t rep;          /* what goes back to the gateway */
    char *body;              /* owned body bytes (rep.body points here) */
    char hstore[2048];       /* owned header strings (rep.headers point here) */
    size_t hused;
} reg_out_t;

typedef void (reg_handler_fn)(reg_ctx_t *ctx, const pr_request_t *req, reg_out_t *out);

/* Replies: each sets status, content type and body (taking ownership where noted). */
void reg_reply_json(reg_out_t *out, int status, json_t *doc /* stolen */);
void reg_reply_text(reg_out_t *out, int status, const char *ctype, const char *text, size_t len);
void reg_reply_empty(reg_out_t *out, int status);
void reg_problem(reg_out_t *out, const pr_request_t *req, int status, const char *detail);
void reg_problem_errors(reg_out_t *out, const pr_request_t *req, int status, const char *detail,
                        json_t *errors /* stolen */);
/* 400 with one validation issue in errors[]: code ("required", "invalid"), location (a JSON
 * pointer into the request body, "" for the whole body) and message. */
void reg_invalid(reg_out_t *out, const pr_request_t *req, const char *code,
                 const char *location, const char *message);
/* Maps a failed database result to 409 (unique), 503 (connection) or 500, logging it. */
void reg_db_error(reg_out_t *out, const pr_request_t *req, const PGresult *res);
void reg_header(reg_out_t *out, const char *key, const char *val);
void reg_out_free(reg_out_t *out);

/* Copies path parameter name into id when it is a UUID; else answers 400 and returns false. */
bool reg_path_uuid(const pr_request_t *req, reg_out_t *out, const char *name, char id[37]);
/* Parses the JSON object body; NULL after answering 400. Caller owns the result. */
json_t *reg_body_object(const pr_request_t *req, reg_out_t *out);
/* A single-row, single-column text result as the reply body with status; 404 when no row. */
void reg_reply_row(reg_out_t *out, const pr_request_t *req, PGresult *res, int status,
                   const char *missing);

/* Adds a Location header (printf-style) when the reply is 201 Created. */
void reg_location(reg_out_t *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* For statements that affect one row or none: 204 when a row was affected, 404 (missing)
 * when none, the database error otherwise. True for 204. */
bool reg_reply_done(reg_out_t *out, const pr_request_t *req, const PGresult *res,
                    const char *missing);
/* Takes ownership of body (malloc'd). */
void reg_reply_owned(reg_out_t *out, int status, const char *ctype, char *body, size_t len);

/* ---- lists (reg_list.c) ---- */
typedef struct {
    long limit;            /* 0: no limit, the whole list */
    char limit_text[24];
    char cursor[512];      /* decoded cursor text */
    bool has_cursor;
} reg_page_t;
typedef bool (reg_cursor_check_fn)(const char *cursor);
/* Reads ?limit= and ?cursor=; false after answering 400. */
bool reg_page_parse(const pr_request_t *req, reg_out_t *out, reg_page_t *page,
                    reg_cursor_check_fn *check);
/* Cursor shape "<microseconds>,<uuid>" (lists ordered by created_at, id). */
bool reg_cursor_time_id(const char *cursor);
/* Runs sql whose rows are (item JSON text, cursor text) in list order. Parameters are
 * vals[0..n), then $n+1 = cursor (NULL when none) and $n+2 = row limit (NULL when none).
 * Replies 200 with the JSON array, plus Link rel="next" when more rows remain. */
void reg_list(reg_ctx_t *ctx, const pr_request_t *req, reg_out_t *out, const char *sql, int n,
              const char **vals, const reg_page_t *page);

/* ---- idempotency (reg_idem.c) ---- */
typedef struct {
    bool active;           /* a key was given and the lock is held */
    char fingerprint[65];  /* of the request */
    char id[65];           /* record id: hash of principal + Idempotency-Key */
    unsigned char seal[32];/* sealing key for the stored body, never stored */
} reg_idem_t;
/* Before a mutation: true when the request has been answered from the store (a replay or a
 * 409); otherwise the handler runs and reg_idem_after must follow. */
bool reg_idem_before(reg_ctx_t *ctx, const pr_request_t *req, reg_out_t *out, reg_idem_t *st);
void reg_idem_after(reg_ctx_t *ctx, const pr_request_t *req, const reg_out_t *out,
                    reg_idem_t *st);
/* Deletes expired idempotency records. */
void reg_idem_purge(reg_ctx_t *ctx);

/* Operations. */
void reg_health(reg_ctx_t *ctx, const pr_request_t *req, reg_out_t *out);
void reg_project_list(reg_ctx_t *ctx, const pr_request_t *req, reg_out_t *out);
void reg_project_create(reg_ctx_t *ctx, const pr_request_t *req, reg_out_t *out);
void reg_project_get(reg_ctx_t *ctx, const pr_request_t *req, reg_out_t *out);
void reg_project_update(reg_ctx_t *ctx, const pr_request_t *req, reg_out_t *out);
void reg_project_delete(reg_ctx_t *ctx, const pr_request_t *req, reg_out_t *out);
/* True when the project exists; otherwise answers 404 (or the database error). */
bool reg_project_exists(reg_ctx_t *ctx, const pr_request_t *req, reg_out_t *out,
                        const char *id);
void reg_spec_upload(reg_ctx_t *ctx, const pr_request_t *req, reg_out_t *out);
void reg_spec_list(reg_ctx_t *ctx, const pr_request_t *req, reg_out_t *out);
void reg_spec_get(reg_ctx_t *ctx, const pr_request_t *req, reg_out_t *out);
void reg_spec_delete(reg_ctx_t *ctx, const pr_request_t *req, reg_out_t *out);
void reg_spec_history(reg_ctx_t *ctx, const pr_request_t *req, reg_out_t *out);
void reg_spec_content(reg_ctx_t *ctx, const pr_request_t *req, reg_out_t *out);
bool reg_semver_key(const char *version, char key[600]);
void reg_plugin_register(reg_ctx_t *ctx, const pr_request_t *req, reg_out_t *out);
void reg_plugin_list(reg_ctx_t *ctx, const pr_request_t *req, reg_out_t *out);
void reg_plugin_versions(reg_ctx_t *ctx, const pr_request_t *req, reg_out_t *out);
void reg_plugin_get(reg_ctx_t *ctx, const pr_request_t *req, reg_out_t *out);
void reg_plugin_delete(reg_ctx_t *ctx, const pr_request_t *req, reg_out_t *out);
void reg_plugin_download(reg_ctx_t *ctx, const pr_request_t *req, reg_out_t *out);
void reg_apikey_create(reg_ctx_t *ctx, const pr_request_t *req, reg_out_t *out);
void reg_apikey_list(reg_ctx_t *ctx, const pr_request_t *req, reg_out_t *out);
void reg_apikey_revoke(reg_ctx_t *ctx, const pr_request_t *req, reg_out_t *out);
void reg_apikey_rotate(reg_ctx_t *ctx, const pr_request_t *req, reg_out_t *out);
void reg_init_generate(reg_ctx_t *ctx, const pr_request_t *req, reg_out_t *out);

#endif
