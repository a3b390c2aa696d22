/* The service kit, lists: ?limit/?cursor keyset pagination with a Link header, and assembly
 * of the JSON array from rows PostgreSQL renders. Owns nothing between calls. */
#include "pr_list.h"
#include "cm_util.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>


/* The most the query parameters other than limit/cursor take in a Link, percent-encoded
 * ("k=v&" each, every byte at most 3). */
static size_t s_link_query_len(const pr_request_t *req)
{
    size_t n = 0;
    for (size_t i = 0; i < req->nquery; i++)
        if (strcmp(req->query[i].key, "limit") && strcmp(req->query[i].key, "cursor"))
            n += 3 * (strlen(req->query[i].key) + strlen(req->query[i].val)) + 2;
    return n;
}

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
        if (s_link_query_len(req) > PR_LINK_QUERY_MAX) {
            pr_out_invalid(out, req, "invalid", "limit",
                           "the other query parameters are too long to page through");
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

/* The next page's Link value: this request's path and query minus limit/cursor (each key and
 * value percent-encoded, none dropped), then the limit and the cursor after last. A malloc'd
 * string (caller frees), NULL on OOM. */
static char *s_next_link(const pr_request_t *req, const pr_page_t *page, const char *last)
{
    const char *uri = req->uri ? req->uri : "";
    size_t cap = strlen(uri) + s_link_query_len(req) + 4 * strlen(last) / 3 + 64;
    char *out = malloc(cap), *b64 = malloc(4 * strlen(last) / 3 + 4);
    if (!out || !b64) {
        free(out);
        free(b64);
        return NULL;
    }
    size_t at = (size_t) snprintf(out, cap, "<%s?", uri);
    for (size_t i = 0; i < req->nquery; i++) {
        const char *k = req->query[i].key;
        if (strcmp(k, "limit") == 0 || strcmp(k, "cursor") == 0)
            continue;
        cm_url_encode(k, out + at, cap - at);
        at += strlen(out + at);
        out[at++] = '=';
        cm_url_encode(req->query[i].val, out + at, cap - at);
        at += strlen(out + at);
        out[at++] = '&';
    }
    cm_base64url((const unsigned char *) last, strlen(last), b64);
    snprintf(out + at, cap - at, "limit=%ld&cursor=%s>; rel=\"next\"", page->limit, b64);
    free(b64);
    return out;
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
    char *link = more ? s_next_link(req, page, PQgetvalue(res, rows - 1, 1)) : NULL;
    if (link)
        pr_out_header(out, "Link", link);
    free(link);
    PQclear(res);
}
