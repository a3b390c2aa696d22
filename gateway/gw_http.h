/* The HTTP front: libmicrohttpd driven by the gateway's event loop, with suspend/resume, admin
 * auth, request ids, limits, deadlines, content checks, multipart parsing, routing; each
 * request becomes one broker envelope. */
#ifndef GW_HTTP_H
#define GW_HTTP_H
#include <stdbool.h>
#include <stddef.h>
#include "gw_front.h"
#include "gw_splice.h"
#include "gw_tokens.h"

typedef struct {
    const char *bind;
    int port;
    long max_json, max_spec, max_plugin;
    int timeout_ms;
    int idle_timeout_s;                 /* no byte moved this long: closed */
    int header_timeout_s;               /* a request's headers must be complete within this of
                                           the connection opening or the previous response */
    int body_timeout_s;                 /* a request's body must be complete within this */
    int max_connections, max_per_ip;
    int conn_rate_per_ip;               /* new connections per second per address; 0 = off */
    int auth_failures_per_min;          /* failed admin authentications per address per minute
                                           before 429; 0 = off */
    const char *tls_cert, *tls_key;     /* PEM files: HTTPS when both are set */
    bool insecure_dev;                  /* no token configured: loopback dev run */
} gw_http_args_t;

typedef struct gw_http gw_http_t;

/* Starts listening; tokens are borrowed (see gw_http_set_tokens). Caller owns the result;
 * NULL when the daemon cannot start (logged). */
gw_http_t *gw_http_new(const gw_http_args_t *args, gw_front_t *front, const gw_tokens_t *tokens);
/* Replaces the admin tokens (SIGHUP); borrowed until the next call or destroy. */
void gw_http_set_tokens(gw_http_t *self, const gw_tokens_t *tokens);
/* Where `GET /ws/data-plane` upgrades go (borrowed; without one they answer 503). */
void gw_http_set_splice(gw_http_t *self, gw_splice_t *splice);
/* Extra gauges for /metrics (borrowed callback, may be NULL). */
typedef void (gw_http_metrics_fn)(void *arg, char *out, size_t cap);
void gw_http_set_metrics(gw_http_t *self, gw_http_metrics_fn *fn, void *arg);
/* The epoll descriptor the event loop polls for readability. */
int gw_http_fd(gw_http_t *self);
/* Milliseconds until MHD needs to run for its own timeouts, -1 when none. */
long gw_http_timeout_ms(gw_http_t *self);
/* Runs MHD without blocking: reads, handler calls, resumed connections, writes. */
void gw_http_run(gw_http_t *self);
/* Enforces the header and body deadlines; call about twice a second. */
void gw_http_tick(gw_http_t *self);
/* Stops accepting connections (before the front is destroyed). */
void gw_http_quiesce(gw_http_t *self);
void gw_http_destroy(gw_http_t **self_p);

#endif
