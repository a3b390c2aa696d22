/* The service kit, lists: ?limit/?cursor keyset pagination with a Link header, and assembly
 * of the JSON array from rows PostgreSQL renders (json text, cursor text). */
#ifndef PR_LIST_H
#define PR_LIST_H
#include "cm_db.h"
#include "pr_out.h"

#define PR_LIST_LIMIT_MAX 1000
/* Bytes the other query parameters may take, percent-encoded, in a Link rel="next": a longer
 * query with limit is 400 (the next page must keep every filter). */
#define PR_LINK_QUERY_MAX 4096

typedef struct {
    long limit;            /* 0: no limit, the whole list */
    char limit_text[24];
    char cursor[512];      /* decoded cursor text */
    bool has_cursor;
} pr_page_t;

typedef bool (pr_cursor_check_fn)(const char *cursor);
/* Reads ?limit= and ?cursor=; false after answering 400. */
bool pr_page_parse(const pr_request_t *req, pr_out_t *out, pr_page_t *page,
                   pr_cursor_check_fn *check);
/* Cursor shape "<microseconds>,<uuid>" (lists ordered by created_at, id), with the time
 * inside the range PostgreSQL timestamps hold. */
bool pr_cursor_time_id(const char *cursor);
/* Runs sql whose rows are (item JSON text, cursor text) in list order. Parameters are
 * vals[0..n), then $n+1 = cursor (NULL when none) and $n+2 = row limit (NULL when none).
 * Replies 200 with the JSON array, plus Link rel="next" when more rows remain. */
void pr_list(cm_db_t *db, const pr_request_t *req, pr_out_t *out, const char *sql, int n,
             const char **vals, const pr_page_t *page);

#endif
