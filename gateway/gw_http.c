/* The HTTP front on libmicrohttpd. Owns the daemon, the request counters, the per-address
 * rate tables and the connection deadline table; each gw_request_t lives from the first
 * handler call to MHD's completion notice. Nothing is read from a body before the caller
 * is authenticated and the route is known to take one. */
#include "gw_http.h"
#include "gw_conn.h"
#include "gw_rate.h"
#include "gw_request.h"
#include "cm_log.h"
#include "cm_problem.h"
#include "cm_util.h"
#include "pr_envelope.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <czmq.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GW_HEADER_VALUE_MAX 1024    /* a forwarded header value (If-Match, Accept, ...) */
#define GW_IDEM_KEY_MAX 255
#define GW_QUERY_VALUE_MAX 4096
#define GW_PART_TEXT_MAX 255        /* a multipart filename or content type */

struct gw_http {
    struct MHD_Daemon *daemon;
    gw_front_t *front;
    gw_http_args_t args;
    const gw_tokens_t *tokens;
    gw_conns_t *conns;
    gw_splice_t *splice;
    gw_rate_t *conn_rate, *auth_rate;
    char *tls_cert, *tls_key;
    gw_http_metrics_fn *metrics_fn;
    void *metrics_arg;
    unsigned long by_class[6];    /* responses by status class 1xx..5xx */
    unsigned long total, aborted, refused_conns, throttled;
    cm_ratelimit_t abort_log, mhd_log;
};

/* ---- responses ----------------------------------------------------------------------- */

void gw_http_count(gw_http_t *h, int status)
{
    h->total++;
    if (status >= 100 && status < 600)
        h->by_class[status / 100]++;
}

/* Queues a response taking ownership of body (malloc'd). */
static enum MHD_Result s_send(gw_request_t *r, int status, const char *ctype, void *body,
                              size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, body ? body : "", body ? MHD_RESPMEM_MUST_FREE
                                                                    : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    if (ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, "X-Request-Id", r->rid);
    for (size_t i = 0; i < r->nheaders; i++)
        MHD_add_response_header(resp, r->headers[i].key, r->headers[i].val);
    if (status == 401)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (status == 405)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->match.allow);
    if ((status == 503 || status == 429)
        && !pr_kv_get(r->headers, r->nheaders, "Retry-After")) {
        char secs[16];
        snprintf(secs, sizeof secs, "%d", r->retry_after > 0 ? r->retry_after : 1);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, secs);
    }
    enum MHD_Result rc = MHD_queue_response(r->conn, (unsigned) status, resp);
    MHD_destroy_response(resp);
    gw_http_count(r->http, status);
    r->replied = true;
    cm_log_op(status >= 500 ? CM_LOG_WARN : CM_LOG_DEBUG, r->rid,
              r->match.route ? r->match.route->op : NULL, "%s %s -> %d (%lld ms)", r->method,
              r->url, status, (long long) (cm_mono_ms() - r->started_ms));
    return rc;
}

enum MHD_Result gw_request_problem(gw_request_t *r, int status, const char *detail)
{
    size_t len = 0;
    char *body = cm_problem_json(status, detail, r->url, r->rid, NULL, &len);
    return s_send(r, status, CM_PROBLEM_CT, body, len);
}

/* ---- request ids and auth ------------------------------------------------------------ */

const char *gw_request_header(gw_request_t *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

static void s_request_id(gw_request_t *r)
{
    const char *in = gw_request_header(r, "X-Request-Id");
    if (!cm_request_id_valid(in))
        in = gw_request_header(r, "X-Correlation-Id");
    if (cm_request_id_valid(in))
        snprintf(r->rid, sizeof r->rid, "%s", in);
    else
        cm_uuid_v4(r->rid);
}

static const char *s_bearer(gw_request_t *r)
{
    const char *h = gw_request_header(r, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return *h ? h : NULL;
}

const struct sockaddr *gw_request_peer(gw_request_t *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    return ci ? ci->client_addr : NULL;
}

/* Sets r->principal; otherwise the status to turn the caller away with (401 or 429). */
static int s_authenticate(gw_request_t *r)
{
    gw_http_t *h = r->http;
    pr_auth_t auth = r->match.route ? r->match.route->auth : PR_AUTH_ADMIN;
    const char *token = s_bearer(r);
    if (auth == PR_AUTH_NONE || auth == PR_AUTH_WS || h->args.insecure_dev) {
        r->principal = auth == PR_AUTH_NONE || auth == PR_AUTH_WS ? "anonymous" : "admin";
        return 0;
    }
    if (auth == PR_AUTH_ADMIN_OR_KEY && token && strncmp(token, "bbk_", 4) == 0) {
        r->principal = "apikey";  /* the owning service verifies the key */
        return 0;
    }
    /* A data plane downloads with no credential but the signed token of its download_url;
     * the owning service checks it names this artifact and has not expired. */
    if (auth == PR_AUTH_ADMIN_OR_KEY && !gw_request_header(r, "Authorization")
        && MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "token")) {
        r->principal = "token";
        return 0;
    }
    /* An address that keeps failing is told to wait, and its tokens are not even checked
     * meanwhile: a guesser learns nothing at more than the allowed rate. */
    int64_t now = cm_mono_ms();
    if (h->auth_rate && (r->retry_after = gw_rate_wait_s(h->auth_rate, gw_request_peer(r), now)) > 0) {
        h->throttled++;
        return 429;
    }
    if (gw_tokens_check(h->tokens, token)) {
        r->principal = "admin";
        return 0;
    }
    if (h->auth_rate)
        gw_rate_take(h->auth_rate, gw_request_peer(r), now);
    return 401;
}

/* ---- first call: route, auth, limits ------------------------------------------------- */

static size_t s_limit(const gw_http_t *h, pr_body_t kind)
{
    switch (kind) {
    case PR_BODY_NONE: return 0;
    case PR_BODY_SPEC: return (size_t) h->args.max_spec;
    case PR_BODY_PLUGIN: return (size_t) h->args.max_plugin;
    default: return (size_t) h->args.max_json;
    }
}

static bool s_ctype_is(gw_request_t *r, const char *want)
{
    const char *ct = gw_request_header(r, "Content-Type");
    size_t n = strlen(want);
    return ct && strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static bool s_json_ctype(gw_request_t *r)
{
    const char *ct = gw_request_header(r, "Content-Type");
    if (s_ctype_is(r, "application/json"))
        return true;
    /* application/<anything>+json */
    const char *semi = ct ? strchr(ct, ';') : NULL;
    size_t n = ct ? (semi ? (size_t) (semi - ct) : strlen(ct)) : 0;
    while (n > 0 && ct[n - 1] == ' ')
        n--;
    return n > 17 && strncasecmp(ct, "application/", 12) == 0
           && strncasecmp(ct + n - 5, "+json", 5) == 0;
}

static bool s_visible_ascii(const char *s)
{
    for (; *s; s++)
        if (*s < 0x21 || *s > 0x7e)
            return false;
    return true;
}

/* The headers that travel in the envelope must fit it; refused here, not by a service. */
static const char *s_check_headers(gw_request_t *r)
{
    static const char *const fwd[] = { "Content-Type", "If-Match", "If-None-Match", "Accept" };
    for (size_t i = 0; i < sizeof fwd / sizeof fwd[0]; i++) {
        const char *v = gw_request_header(r, fwd[i]);
        if (v && strlen(v) > GW_HEADER_VALUE_MAX)
            return "a request header is longer than 1024 bytes";
    }
    const char *k = gw_request_header(r, "Idempotency-Key");
    if (k && (!*k || strlen(k) > GW_IDEM_KEY_MAX || !s_visible_ascii(k)))
        return "Idempotency-Key must be 1-255 visible ASCII characters";
    return NULL;
}

/* A body is coming when the request says so (a length, or chunked transfer). */
static bool s_has_body(gw_request_t *r)
{
    const char *cl = gw_request_header(r, "Content-Length"), *te = gw_request_header(r, "Transfer-Encoding");
    return (cl && strtoull(cl, NULL, 10) > 0) || (te && strcasecmp(te, "identity") != 0);
}

/* Returns -1 to go on reading the body, else the result of a queued early response. */
static int s_begin(gw_request_t *r)
{
    r->match_rc = pr_route_match(r->method, r->url, &r->match);
    int denied = s_authenticate(r);
    if (denied)
        return gw_request_problem(r, denied, denied == 429 ? "too many failed authentications; retry later"
                                                  : "missing or invalid bearer token");
    if (r->match_rc < 0)
        return gw_request_problem(r, 404, "no such resource");
    if (r->match_rc > 0)
        return gw_request_problem(r, 405, "method not allowed on this resource");
    const char *bad = s_check_headers(r);
    if (bad)
        return gw_request_problem(r, 400, bad);
    r->limit = s_limit(r->http, r->match.route->body);
    const char *cl = gw_request_header(r, "Content-Length");
    if ((cl && strtoull(cl, NULL, 10) > r->limit) || (r->limit == 0 && s_has_body(r)))
        return gw_request_problem(r, 413, r->limit ? "request body exceeds the limit for this resource"
                                          : "this resource takes no request body");
    pr_body_t kind = r->match.route->body;
    if ((kind == PR_BODY_SPEC || kind == PR_BODY_PLUGIN) && s_ctype_is(r, "multipart/form-data")
        && !gw_body_multipart_begin(r))
        r->bad_multipart = true;
    return -1;
}

/* ---- last call: validate and hand over to the broker --------------------------------- */

/* Path parameters: UUIDs where the contract says so, and text without controls elsewhere. */
static const char *s_check_params(gw_request_t *r)
{
    for (size_t i = 0; i < r->match.nparams; i++) {
        const char *k = r->match.params[i].key, *v = r->match.params[i].val;
        if (pr_param_is_uuid(k) && !cm_uuid_valid(v))
            return strcmp(k, "id") == 0 ? "malformed id: expected a UUID"
                                        : "malformed path parameter: expected a UUID";
        if (!cm_utf8_valid((const unsigned char *) v, strlen(v)))
            return "a path parameter is not valid UTF-8";
        for (const char *p = v; *p; p++)
            if ((unsigned char) *p < 0x20 || *p == 0x7f)
                return "a path parameter contains a control character";
    }
    return NULL;
}

static const char *s_check_parts(gw_request_t *r)
{
    for (size_t i = 0; i < r->nparts; i++) {
        const gw_part_t *p = &r->parts[i];
        if ((p->filename && strlen(p->filename) > GW_PART_TEXT_MAX)
            || (p->content_type && strlen(p->content_type) > GW_PART_TEXT_MAX))
            return "a multipart filename or content type is longer than 255 bytes";
        if (p->filename && !cm_utf8_valid((const unsigned char *) p->filename,
                                          strlen(p->filename)))
            return "a multipart filename is not valid UTF-8";
    }
    return NULL;
}

/* Validates a JSON body; returns 0 or the status to answer with (detail set). */
static int s_check_json(gw_request_t *r, bool required)
{
    if (r->body.len == 0) {
        r->detail = "a JSON request body is required";
        return required ? 400 : 0;
    }
    if (!s_json_ctype(r)) {
        r->detail = "the request body must be application/json";
        return 415;
    }
    json_error_t err;
    json_t *doc = json_loadb((const char *) r->body.data, r->body.len, JSON_REJECT_DUPLICATES,
                             &err);
    int rc = 0;
    if (!doc) {
        r->detail = "the request body is not valid JSON";
        rc = 400;
    } else if (!json_is_object(doc)) {
        r->detail = "the request body must be a JSON object";
        rc = 400;
    }
    json_decref(doc);
    return rc;
}

static int s_check_body(gw_request_t *r)
{
    if (r->too_large) {
        r->detail = r->limit ? "request body exceeds the limit for this resource"
                             : "this resource takes no request body";
        return 413;
    }
    switch (r->match.route->body) {
    case PR_BODY_JSON: return s_check_json(r, true);
    case PR_BODY_JSON_OPT: return s_check_json(r, false);
    case PR_BODY_SPEC:
    case PR_BODY_PLUGIN:
        if (!s_ctype_is(r, "multipart/form-data")) {
            r->detail = "the request body must be multipart/form-data";
            return 415;
        }
        if (!gw_body_multipart_end(r)) {
            r->detail = "the multipart body is malformed";
            return 400;
        }
        if ((r->detail = s_check_parts(r)))
            return 400;
        return 0;
    default: return 0;
    }
}

typedef struct {
    pr_kv_t *kv;
    size_t n;
    const char *bad;  /* why the query was refused, or NULL */
} s_kv_collect_t;

static enum MHD_Result s_collect(void *cls, enum MHD_ValueKind kind, const char *key,
                                 size_t key_size, const char *value, size_t value_size)
{
    s_kv_collect_t *c = cls;
    (void) kind;
    if (c->n == PR_MAX_PAIRS)
        c->bad = "too many query parameters";
    else if (strlen(key) != key_size || (value && strlen(value) != value_size))
        c->bad = "a query parameter contains a NUL byte";
    else if (key_size > 256 || value_size > GW_QUERY_VALUE_MAX)
        c->bad = "a query parameter is too long";
    else if (!cm_utf8_valid((const unsigned char *) key, key_size)
             || (value && !cm_utf8_valid((const unsigned char *) value, value_size)))
        c->bad = "a query parameter is not valid UTF-8";
    if (c->bad)
        return MHD_NO;
    c->kv[c->n++] = (pr_kv_t) { key, value ? value : "" };
    return MHD_YES;
}

static void s_headers(gw_request_t *r, pr_request_t *req)
{
    static const char *const fwd[] = { "Content-Type", "Idempotency-Key", "If-Match",
                                       "If-None-Match", "Accept" };
    for (size_t i = 0; i < sizeof fwd / sizeof fwd[0]; i++) {
        const char *v = gw_request_header(r, fwd[i]);
        if (v)
            req->headers[req->nheaders++] = (pr_kv_t) { fwd[i], v };
    }
    if (strcmp(r->principal, "apikey") == 0)
        req->headers[req->nheaders++] = (pr_kv_t) { "Authorization", gw_request_header(r, "Authorization") };
}

static void s_done(void *arg, int nak, const void *reply, size_t len);

/* Calls fn for each service of the route table that has broker workers, once (the gateway
 * itself and the spliced hubs excluded). */
static void s_each_service(void (*fn)(void *arg, const char *service), void *arg)
{
    for (size_t i = 0; i < pr_routes_count; i++) {
        const char *svc = pr_routes[i].service;
        bool seen = strcmp(svc, "gateway") == 0 || pr_routes[i].auth == PR_AUTH_WS;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(pr_routes[j].service, svc) == 0;
        if (!seen)
            fn(arg, svc);
    }
}

typedef struct {
    gw_http_t *h;
    char *out;
    size_t at, cap;
    const char *fmt, *sep;
} s_counts_t;

static void s_count_one(void *arg, const char *svc)
{
    s_counts_t *c = arg;
    if (c->at < c->cap)
        c->at += (size_t) snprintf(c->out + c->at, c->cap - c->at, c->fmt, c->at ? c->sep : "",
                                   svc, gw_front_workers(c->h->front, svc));
}

/* "registry=2,compiler=0,hub=0": the broker's view, for the health check's `checks`. */
static void s_worker_counts(gw_http_t *h, char *out, size_t cap, const char *fmt,
                            const char *sep)
{
    s_counts_t c = { h, out, 0, cap, fmt, sep };
    out[0] = '\0';
    s_each_service(s_count_one, &c);
}

static int s_submit(gw_request_t *r)
{
    char workers[256];
    pr_request_t req = { .op = r->match.route->op, .rid = r->rid, .principal = r->principal,
                         .uri = r->url };
    s_kv_collect_t q = { req.query, 0, NULL };
    MHD_get_connection_values_n(r->conn, MHD_GET_ARGUMENT_KIND, s_collect, &q);
    if (q.bad) {
        r->detail = q.bad;
        return 400;
    }
    req.nquery = q.n;
    memcpy(req.path, r->match.params, r->match.nparams * sizeof(pr_kv_t));
    req.npath = r->match.nparams;
    s_headers(r, &req);
    if (strcmp(req.op, "health") == 0) {
        s_worker_counts(r->http, workers, sizeof workers, "%s%s=%zu", ",");
        req.headers[req.nheaders++] = (pr_kv_t) { "X-Barbacane-Workers", workers };
    }
    req.body = r->body.data;
    req.body_len = r->body.len;
    for (size_t i = 0; i < r->nparts; i++)
        req.parts[i] = (pr_part_t) { r->parts[i].name, r->parts[i].filename,
                                     r->parts[i].content_type, r->parts[i].data, r->parts[i].len };
    req.nparts = r->nparts;
    req.deadline_ms = cm_wall_ms() + r->http->args.timeout_ms;
    size_t len = 0;
    unsigned char *env = pr_request_encode(&req, &len);
    gw_body_free(r);  /* the envelope holds a copy now */
    if (!env)
        return 500;
    /* The answer always arrives later, from the event loop (never inside this call), so
     * suspending after a successful submit cannot miss it. */
    int rc = gw_front_submit(r->http->front, r->match.route->service, env, len, req.deadline_ms,
                             s_done, r);
    free(env);
    if (rc != 0) {   /* out of memory, or the external broker is full or unreachable */
        r->detail = "the request could not be handed to the broker; retry later";
        return 503;
    }
    MHD_suspend_connection(r->conn);
    r->suspended = true;
    return 0;
}

static enum MHD_Result s_metrics(gw_request_t *r);

static enum MHD_Result s_finish(gw_request_t *r)
{
    gw_conn_body_done(r->track);
    int status = s_check_body(r);
    const char *bad = status ? NULL : s_check_params(r);
    if (bad) {
        status = 400;
        r->detail = bad;
    }
    if (!status && strcmp(r->match.route->service, "gateway") == 0)
        return s_metrics(r);
    if (!status && strcmp(r->match.route->service, "hub") == 0)
        return (status = gw_upgrade_begin(r)) ? gw_request_problem(r, status, r->detail) : MHD_YES;
    if (!status)
        status = s_submit(r);
    return status ? gw_request_problem(r, status, r->detail) : MHD_YES;
}

/* ---- replies from the broker (event loop) -------------------------------------------- */

/* Headers that describe one hop, not the resource: the gateway's HTTP layer owns them. */
static bool s_hop_by_hop(const char *name)
{
    static const char *const hop[] = { "Connection", "Keep-Alive", "Proxy-Authenticate",
                                       "Proxy-Authorization", "TE", "Trailer", "Trailers",
                                       "Transfer-Encoding", "Upgrade", "Content-Length" };
    for (size_t i = 0; i < sizeof hop / sizeof hop[0]; i++)
        if (strcasecmp(name, hop[i]) == 0)
            return true;
    return false;
}

static void s_store_reply(gw_request_t *r, const void *data, size_t len)
{
    pr_reply_t rep;
    char err[128] = "";
    if (pr_reply_decode(data, len, &rep, err, sizeof err) != 0) {   /* status 200-599 only */
        cm_log(CM_LOG_ERROR, r->rid, "bad reply envelope: %s", err);
        r->status = 500;
        r->detail = "the service sent a malformed reply";
        pr_reply_clear(&rep);
        return;
    }
    r->status = rep.status;
    r->content_type = rep.content_type ? strdup(rep.content_type) : NULL;
    gw_buf_append(&r->reply, rep.body, rep.body_len);
    size_t need = 0;
    for (size_t i = 0; i < rep.nheaders; i++)
        need += strlen(rep.headers[i].key) + strlen(rep.headers[i].val) + 2;
    r->header_store = malloc(need + 1);
    char *at = r->header_store;
    for (size_t i = 0; at && i < rep.nheaders; i++) {
        if (s_hop_by_hop(rep.headers[i].key))
            continue;
        r->headers[r->nheaders].key = strcpy(at, rep.headers[i].key);
        at += strlen(at) + 1;
        r->headers[r->nheaders].val = strcpy(at, rep.headers[i].val);
        at += strlen(at) + 1;
        r->nheaders++;
    }
    pr_reply_clear(&rep);
}

static void s_done(void *arg, int nak, const void *reply, size_t len)
{
    gw_request_t *r = arg;
    if (nak) {
        r->status = nak;
        r->detail = nak == 504 ? "the service did not answer in time"
                               : "no worker is available for this service";
    } else {
        s_store_reply(r, reply, len);
    }
    MHD_resume_connection(r->conn);
}

static enum MHD_Result s_respond(gw_request_t *r)
{
    r->suspended = false;
    if (r->status == 101)
        return gw_upgrade_respond(r);
    if (r->detail && !r->reply.len)
        return gw_request_problem(r, r->status, r->detail);
    void *body = r->reply.data;
    size_t len = r->reply.len;
    r->reply = (gw_buf_t) { 0 };
    return s_send(r, r->status, r->content_type, body, len);
}

/* ---- metrics ------------------------------------------------------------------------- */

static enum MHD_Result s_metrics(gw_request_t *r)
{
    gw_http_t *h = r->http;
    size_t cap = 8192;
    char *out = malloc(cap), workers[1024], extra[4096] = "";
    if (!out)
        return MHD_NO;
    s_worker_counts(h, workers, sizeof workers,
                    "%s\nbarbacane_broker_workers{service=\"%s\"} %zu", "");
    if (h->metrics_fn)
        h->metrics_fn(h->metrics_arg, extra, sizeof extra);
    int n = snprintf(out, cap,
                     "# TYPE barbacane_http_responses_total counter\n"
                     "barbacane_http_responses_total{class=\"2xx\"} %lu\n"
                     "barbacane_http_responses_total{class=\"3xx\"} %lu\n"
                     "barbacane_http_responses_total{class=\"4xx\"} %lu\n"
                     "barbacane_http_responses_total{class=\"5xx\"} %lu\n"
                     "# TYPE barbacane_http_pending_requests gauge\n"
                     "barbacane_http_pending_requests %zu\n"
                     "# TYPE barbacane_http_connections gauge\n"
                     "barbacane_http_connections %d\n"
                     "# TYPE barbacane_http_aborted_total counter\n"
                     "barbacane_http_aborted_total %lu\n"
                     "# TYPE barbacane_http_refused_connections_total counter\n"
                     "barbacane_http_refused_connections_total %lu\n"
                     "# TYPE barbacane_http_auth_throttled_total counter\n"
                     "barbacane_http_auth_throttled_total %lu\n"
                     "# TYPE barbacane_broker_workers gauge%s\n%s",
                     h->by_class[2], h->by_class[3], h->by_class[4], h->by_class[5],
                     gw_front_pending(h->front), gw_conns_count(h->conns), h->aborted,
                     h->refused_conns, h->throttled, workers, extra);
    return s_send(r, 200, "text/plain; version=0.0.4", out,
                  (size_t) n < cap ? (size_t) n : cap - 1);
}

/* ---- MHD callbacks ------------------------------------------------------------------- */

static enum MHD_Result s_access(void *cls, struct MHD_Connection *conn, const char *url,
                                const char *method, const char *version,
                                const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void) version;
    gw_request_t *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        r->http = cls;
        r->conn = conn;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        r->track = ci ? ci->socket_context : NULL;
        gw_conn_headers_done(r->track);
        r->started_ms = cm_mono_ms();
        r->url = strdup(url ? url : "/");
        snprintf(r->method, sizeof r->method, "%s", method);
        s_request_id(r);
        int early = s_begin(r);
        return early < 0 ? MHD_YES : (enum MHD_Result) early;
    }
    if (r->replied)
        return MHD_YES;
    if (r->status)
        return s_respond(r);
    if (*upload_size) {
        gw_body_consume(r, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->suspended)
        return MHD_YES;
    return s_finish(r);
}

static void s_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                        enum MHD_RequestTerminationCode toe)
{
    gw_http_t *h = cls;
    (void) conn;
    gw_request_t *r = *con_cls;
    if (!r)
        return;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) {
        h->aborted++;
        cm_log_limited(&h->abort_log, CM_LOG_INFO, r->rid, "%s %s aborted (reason %d)",
                       r->method, r->url, (int) toe);
    }
    gw_conn_request_done(r->track);
    if (r->splice)
        gw_splice_release(h->splice, r->splice);
    free(r->ws_headers);
    gw_body_free(r);
    free(r->reply.data);
    free(r->content_type);
    free(r->header_store);
    free(r->url);
    free(r);
    *con_cls = NULL;
}

static void s_notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                                enum MHD_ConnectionNotificationCode toe)
{
    gw_http_t *h = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci ? gw_conns_open(h->conns, ci->connect_fd) : NULL;
    } else {
        gw_conn_t *c = *socket_context;
        gw_conns_close(h->conns, &c);
        *socket_context = NULL;
    }
}

static enum MHD_Result s_accept_policy(void *cls, const struct sockaddr *addr, socklen_t len)
{
    gw_http_t *h = cls;
    (void) len;
    if (!h->conn_rate || gw_rate_take(h->conn_rate, addr, cm_mono_ms()))
        return MHD_YES;
    h->refused_conns++;
    cm_log_limited(&h->mhd_log, CM_LOG_WARN, NULL, "refused a connection: too many new "
                   "connections from one address");
    return MHD_NO;
}

static void s_mhd_log(void *cls, const char *fmt, va_list ap)
{
    gw_http_t *h = cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    cm_log_limited(&h->mhd_log, CM_LOG_WARN, NULL, "http: %s", msg);
}

static char *s_read_pem(const char *path)
{
    zfile_t *f = zfile_new(NULL, path);
    zchunk_t *chunk = f && zfile_input(f) == 0 ? zfile_read(f, 1024 * 1024, 0) : NULL;
    char *text = chunk ? zchunk_strdup(chunk) : NULL;
    zchunk_destroy(&chunk);
    zfile_destroy(&f);
    if (!text)
        cm_error("cannot read %s", path);
    return text;
}

static struct MHD_Daemon *s_start(gw_http_t *self, const struct sockaddr_in *sa)
{
    const gw_http_args_t *a = &self->args;
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG
                     | MHD_ALLOW_UPGRADE;
    bool tls = a->tls_cert && *a->tls_cert && a->tls_key && *a->tls_key;
    if (tls && (!(self->tls_cert = s_read_pem(a->tls_cert))
                || !(self->tls_key = s_read_pem(a->tls_key))))
        return NULL;
    return MHD_start_daemon(
        flags | (tls ? MHD_USE_TLS : 0), (uint16_t) a->port, s_accept_policy, self, s_access,
        self, MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, self,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) sa,
        MHD_OPTION_NOTIFY_COMPLETED, s_completed, self,
        MHD_OPTION_NOTIFY_CONNECTION, s_notify_connection, self,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) a->idle_timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned) a->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned) a->max_per_ip,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned) 1024,
        tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, self->tls_cert,
        MHD_OPTION_HTTPS_MEM_KEY, self->tls_key, MHD_OPTION_END);
}

gw_http_t *gw_http_new(const gw_http_args_t *args, gw_front_t *front, const gw_tokens_t *tokens)
{
    gw_http_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->args = *args;
    self->front = front;
    self->tokens = tokens;
    self->abort_log = (cm_ratelimit_t) CM_RATELIMIT(10, 10000);
    self->mhd_log = (cm_ratelimit_t) CM_RATELIMIT(10, 10000);
    self->conns = gw_conns_new(args->header_timeout_s, args->body_timeout_s);
    if (args->conn_rate_per_ip > 0)
        self->conn_rate = gw_rate_new(args->conn_rate_per_ip, 2.0 * args->conn_rate_per_ip);
    if (args->auth_failures_per_min > 0)
        self->auth_rate = gw_rate_new(args->auth_failures_per_min / 60.0,
                                      args->auth_failures_per_min);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) args->port) };
    if (inet_pton(AF_INET, args->bind, &sa.sin_addr) != 1)
        cm_error("http-bind '%s' is not an IPv4 address", args->bind);
    else if (self->conns && !(self->daemon = s_start(self, &sa)))
        cm_error("cannot listen on %s:%d", args->bind, args->port);
    if (!self->daemon)
        gw_http_destroy(&self);
    return self;
}

void gw_http_set_tokens(gw_http_t *self, const gw_tokens_t *tokens)
{
    self->tokens = tokens;
}

void gw_http_set_splice(gw_http_t *self, gw_splice_t *splice)
{
    self->splice = splice;
}

gw_splice_t *gw_http_splice(gw_http_t *self)
{
    return self->splice;
}

void gw_http_set_metrics(gw_http_t *self, gw_http_metrics_fn *fn, void *arg)
{
    self->metrics_fn = fn;
    self->metrics_arg = arg;
}

int gw_http_fd(gw_http_t *self)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    return info ? info->epoll_fd : -1;
}

long gw_http_timeout_ms(gw_http_t *self)
{
    MHD_UNSIGNED_LONG_LONG ms;
    return MHD_get_timeout(self->daemon, &ms) == MHD_YES ? (long) ms : -1;
}

void gw_http_run(gw_http_t *self)
{
    MHD_run(self->daemon);
}

void gw_http_tick(gw_http_t *self)
{
    gw_conns_enforce(self->conns, cm_mono_ms());
}

void gw_http_quiesce(gw_http_t *self)
{
    if (self && self->daemon)
        MHD_quiesce_daemon(self->daemon);
}

void gw_http_destroy(gw_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_http_t *self = *self_p;
    if (self->daemon)
        MHD_stop_daemon(self->daemon);
    gw_conns_destroy(&self->conns);
    gw_rate_destroy(&self->conn_rate);
    gw_rate_destroy(&self->auth_rate);
    if (self->tls_key)
        explicit_bzero(self->tls_key, strlen(self->tls_key));
    free(self->tls_key);
    free(self->tls_cert);
    free(self);
    *self_p = NULL;
}
