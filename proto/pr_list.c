/* The service kit, lists: ?limit/?cursor keyset pagination with a Link header, and assembly
 * of the JSON array from rows PostgreSQL renders. Owns nothing between calls. */
#include "pr_list.h"
#include "cm_util.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>


bool pr_page_parse(const pr_request_t *req, pr_out_t *out, pr_page_t *page,
                   pr_cursor_check_fn *check)
{
    memset(page, 0, sizeof *page);
    const char *limit = pr_kv_get(req->query, req->nquery, "limit");
    const char *cursor = pr_kv_get(req->query, req->nquery, "cursor");
    if (limit) {
        char *end = NULL;
        long n = strtol(limit, &end, 10);
        if (!*limit || *end || n < 1 || n > PR_LIST_LIMIT_MAX || !isdigit((unsigned char) *limit)) {
            pr_out_invalid(out, req, "invalid", "limit", "limit must be an integer from 1 to 1000");
            return false;
        }
        page->limit = n;
        snprintf(page->limit_text, sizeof page->limit_text, "%ld", n);
    }
    if (cursor) {
        long n = strlen(cursor) < sizeof page->cursor * 4 / 3
                     ? cm_base64url_decode(cursor, (unsigned char *) page->cursor,
                                           sizeof page->cursor - 1)
                     : -1;
        if (n <= 0 || memchr(page->cursor, '\0', (size_t) n) || !check(page->cursor)) {
            pr_out_invalid(out, req, "invalid", "cursor", "cursor is malformed");
            return false;
        }
        page->cursor[n] = '\0';
        page->has_cursor = true;
    }
    return true;
}

/* Microseconds since the epoch that PostgreSQL can turn back into a timestamp: up to the
 * end of year 9999 (a larger number overflows its bigint and interval arithmetic). */
#define PR_CURSOR_MAX_US 253402300799999999LL

bool pr_cursor_time_id(const char *c)
{
    const char *comma = strchr(c, ',');
    if (!comma || comma == c || comma - c > 18)
        return false;
    for (const char *p = c; p < comma; p++)
        if (!isdigit((unsigned char) *p))
            return false;
    return strtoll(c, NULL, 10) <= PR_CURSOR_MAX_US && cm_uuid_valid(comma + 1);
}

/* The query string of this request minus limit/cursor, each value percent-encoded. */
static void s_next_link(const pr_request_t *req, const pr_page_t *page, const char *last,
                        char *out, size_t cap)
{
    size_t at = (size_t) snprintf(out, cap, "<%s?", req->uri ? req->uri : "");
    for (size_t i = 0; i < req->nquery && at < cap; i++) {
        const char *k = req->query[i].key;
        char ek[256], ev[1024];
        if (!strcmp(k, "limit") || !strcmp(k, "cursor") || !cm_url_encode(k, ek, sizeof ek)
            || !cm_url_encode(req->query[i].val, ev, sizeof ev))
            continue;
        at += (size_t) snprintf(out + at, cap - at, "%s=%s&", ek, ev);
    }
    char b64[1400];
    cm_base64url((const unsigned char *) last, strlen(last), b64);
    if (at < cap)
        snprintf(out + at, cap - at, "limit=%ld&cursor=%s>; rel=\"next\"", page->limit, b64);
}

void pr_list(cm_db_t *db, const pr_request_t *req, pr_out_t *out, const char *sql, int n,
             const char **vals, const pr_page_t *page)
{
    const char *params[16];
    char fetch[24];
    if (n > 0)
        memcpy(params, vals, (size_t) n * sizeof *params);
    params[n] = page->has_cursor ? page->cursor : NULL;
    snprintf(fetch, sizeof fetch, "%ld", page->limit + 1);  /* one more tells if more remain */
    params[n + 1] = page->limit ? fetch : NULL;
    PGresult *res = cm_db_exec(db, sql, n + 2, params, NULL, NULL);
    if (!cm_db_ok(res)) {
        pr_out_db_error(out, req, res);
        PQclear(res);
        return;
    }
    int rows = PQntuples(res);
    bool more = page->limit && rows > page->limit;
    if (more)
        rows = (int) page->limit;
    size_t len = 2;
    for (int i = 0; i < rows; i++)
        len += (size_t) PQgetlength(res, i, 0) + 1;
    char *body = malloc(len + 1), *at = body;
    if (!body) {
        PQclear(res);
        pr_out_problem(out, req, 500, "out of memory");
        return;
    }
    *at++ = '[';
    for (int i = 0; i < rows; i++) {
        if (i)
            *at++ = ',';
        size_t l = (size_t) PQgetlength(res, i, 0);
        memcpy(at, PQgetvalue(res, i, 0), l);
        at += l;
    }
    *at++ = ']';
    *at = '\0';
    pr_out_owned(out, 200, "application/json", body, (size_t) (at - body));
    if (more) {
        char link[2048];
        s_next_link(req, page, PQgetvalue(res, rows - 1, 1), link, sizeof link);
        pr_out_header(out, "Link", link);
    }
    PQclear(res);
}
