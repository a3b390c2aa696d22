/* The HTTP front: libmicrohttpd driven by the gateway's event loop, with suspend/resume, admin auth, request ids, limits,
 * content checks, multipart parsing, routing; each request becomes one broker envelope. */
#ifndef GW_HTTP_H
#define GW_HTTP_H
#include <stdbool.h>
#include <stddef.h>
#include "gw_front.h"

typedef struct {
    const char *bind;
    int port;
    long max_json, max_spec, max_plugin;
    int timeout_ms;
    int idle_timeout_s;                 /* an idle or stalled connection is closed after this */
    int max_connections, max_per_ip;
    unsigned char (*token_hashes)[32];  /* SHA-256 of each admin token */
    size_t ntokens;
    bool insecure_dev;                  /* no token configured: loopback dev run */
} gw_http_args_t;

typedef struct gw_http gw_http_t;

/* Starts listening; caller owns the result; NULL when the daemon cannot start. */
gw_http_t *gw_http_new(const gw_http_args_t *args, gw_front_t *front);
/* The epoll descriptor the event loop polls for readability. */
int gw_http_fd(gw_http_t *self);
/* Milliseconds until MHD needs to run for its own timeouts, -1 when none. */
long gw_http_timeout_ms(gw_http_t *self);
/* Runs MHD without blocking: reads, handler calls, resumed connections, writes. */
void gw_http_run(gw_http_t *self);
/* Stops accepting connections (before the front is destroyed). */
void gw_http_quiesce(gw_http_t *self);
void gw_http_destroy(gw_http_t **self_p);

#endif
