/* WebSocket upgrades of GET /ws/data-plane in the HTTP front: the checks, the request head
 * the hub gets, and the 101 the client gets back. Owns the copies of the hub's headers. */
#include "gw_http.h"
#include "gw_request.h"
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

static bool s_header_has(gw_request_t *r, const char *name, const char *token)
{
    const char *v = gw_request_header(r, name);
    return v && strcasestr(v, token);
}

/* The request line and headers the hub gets: the client's WebSocket headers and key, and
 * where the request came from. False when it does not fit. */
static bool s_upgrade_head(gw_request_t *r, char *out, size_t cap, size_t *len)
{
    static const char *const fwd[] = { "Host", "Sec-WebSocket-Key", "Sec-WebSocket-Version",
                                       "Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions",
                                       "Authorization", "Origin", "User-Agent" };
    size_t at = (size_t) snprintf(out, cap, "GET /ws/data-plane HTTP/1.1\r\n"
                                  "Upgrade: websocket\r\nConnection: Upgrade\r\n");
    for (size_t i = 0; i < sizeof fwd / sizeof fwd[0] && at < cap; i++) {
        const char *v = gw_request_header(r, fwd[i]);
        if (v)
            at += (size_t) snprintf(out + at, cap - at, "%s: %s\r\n", fwd[i], v);
    }
    char ip[INET6_ADDRSTRLEN] = "";
    const struct sockaddr *sa = gw_request_peer(r);
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *) sa)->sin_addr, ip, sizeof ip);
    if (at < cap)
        at += (size_t) snprintf(out + at, cap - at, "X-Forwarded-For: %s\r\nX-Request-Id: %s"
                                "\r\n\r\n", ip, r->rid);
    *len = at;
    return at < cap;
}

static void s_upgrade_done(void *arg, const gw_splice_answer_t *a)
{
    gw_request_t *r = arg;
    r->status = a->status;
    if (a->status == 101) {
        size_t n = strlen(a->accept) + (a->protocol ? strlen(a->protocol) : 0)
                   + (a->extensions ? strlen(a->extensions) : 0) + 3;
        r->ws_headers = malloc(n);
        if (r->ws_headers)
            snprintf(r->ws_headers, n, "%s%c%s%c%s", a->accept, 0, a->protocol ? a->protocol : "",
                     0, a->extensions ? a->extensions : "");
    } else {
        r->detail = a->detail;   /* the splice's, valid until s_completed releases it */
    }
    MHD_resume_connection(r->conn);
}

int gw_upgrade_begin(gw_request_t *r)
{
    char head[8192];
    size_t len = 0;
    if (!s_header_has(r, "Upgrade", "websocket") || !s_header_has(r, "Connection", "upgrade")
        || !gw_request_header(r, "Sec-WebSocket-Key")) {
        r->detail = "a WebSocket upgrade is required on this resource";
        return 400;
    }
    if (!s_upgrade_head(r, head, sizeof head, &len)) {
        r->detail = "the upgrade request's headers are too long";
        return 400;
    }
    if (!gw_http_splice(r->http)) {
        r->detail = "no data-plane hub is configured";
        return 503;
    }
    int rc = gw_splice_begin(gw_http_splice(r->http), head, len, s_upgrade_done, r, &r->splice);
    if (rc) {
        r->detail = "no data-plane hub can take the connection";
        return rc;
    }
    MHD_suspend_connection(r->conn);
    r->suspended = true;
    return 0;
}

/* The hub said 101: the client gets it with the hub's Sec-WebSocket-* headers, and then the
 * splice relays the connection. */
enum MHD_Result gw_upgrade_respond(gw_request_t *r)
{
    gw_splice_t *sp = gw_http_splice(r->http);
    struct MHD_Response *resp = r->ws_headers ? gw_splice_response(sp, r->splice) : NULL;
    if (!resp)   /* the hub went away meanwhile, or the gateway is shutting down */
        return gw_request_problem(r, 503, "the hub connection was lost");
    const char *accept = r->ws_headers, *proto = accept + strlen(accept) + 1;
    const char *ext = proto + strlen(proto) + 1;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "websocket");
    MHD_add_response_header(resp, "Sec-WebSocket-Accept", accept);
    if (*proto)
        MHD_add_response_header(resp, "Sec-WebSocket-Protocol", proto);
    if (*ext)
        MHD_add_response_header(resp, "Sec-WebSocket-Extensions", ext);
    MHD_add_response_header(resp, "X-Request-Id", r->rid);
    enum MHD_Result rc = MHD_queue_response(r->conn, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
    MHD_destroy_response(resp);
    gw_http_count(r->http, 101);
    r->replied = true;
    return rc;
}
