/* HTTP connections as the gateway tracks them for total deadlines: a request's headers must
 * be complete within a time of the connection opening (or the previous response), its body
 * within another. The idle timeout of libmicrohttpd restarts at every byte, so a client
 * sending one byte every few seconds would otherwise hold a connection forever.
 * Owns: every gw_conn_t, from libmicrohttpd's "started" notice to its "closed" notice. */
#ifndef GW_CONN_H
#define GW_CONN_H
#include <stdint.h>

typedef struct gw_conn gw_conn_t;
typedef struct gw_conns gw_conns_t;

gw_conns_t *gw_conns_new(int header_timeout_s, int body_timeout_s);
/* Frees the table (connections still open are forgotten, not touched). */
void gw_conns_destroy(gw_conns_t **self_p);
/* A connection was accepted on socket fd; the record to keep as its socket context. */
gw_conn_t *gw_conns_open(gw_conns_t *self, int fd);
/* The connection closed: its record is freed. */
void gw_conns_close(gw_conns_t *self, gw_conn_t **conn_p);
/* The request's headers are complete: the body deadline starts. */
void gw_conn_headers_done(gw_conn_t *conn);
/* The body is complete: no deadline while the request is served and answered. */
void gw_conn_body_done(gw_conn_t *conn);
/* The response went out: the next request's header deadline starts. */
void gw_conn_request_done(gw_conn_t *conn);
/* Shuts down (the socket only: libmicrohttpd then closes the connection itself) every
 * connection past a deadline; returns how many. */
int gw_conns_enforce(gw_conns_t *self, int64_t now_ms);
/* Connections open now. */
int gw_conns_count(const gw_conns_t *self);

#endif
