/* Connection deadlines. Owns the doubly linked list of open connections and their phase. */
#include "gw_conn.h"
#include "cm_log.h"
#include "cm_util.h"
#include <stdlib.h>
#include <sys/socket.h>

typedef enum { S_HEADERS, S_BODY, S_SERVING } s_phase_t;

struct gw_conn {
    gw_conn_t *prev, *next;
    int fd;
    s_phase_t phase;
    int64_t since_ms;       /* start of the current phase */
    int shut;               /* already shut down */
};

struct gw_conns {
    gw_conn_t *head;
    int count;
    int64_t header_ms, body_ms;
    cm_ratelimit_t log;
};

gw_conns_t *gw_conns_new(int header_timeout_s, int body_timeout_s)
{
    gw_conns_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->header_ms = (int64_t) header_timeout_s * 1000;
    self->body_ms = (int64_t) body_timeout_s * 1000;
    self->log = (cm_ratelimit_t) CM_RATELIMIT(5, 10000);
    return self;
}

void gw_conns_destroy(gw_conns_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_conn_t *c = (*self_p)->head;
    while (c) {
        gw_conn_t *next = c->next;
        free(c);
        c = next;
    }
    free(*self_p);
    *self_p = NULL;
}

gw_conn_t *gw_conns_open(gw_conns_t *self, int fd)
{
    gw_conn_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fd = fd;
    c->phase = S_HEADERS;
    c->since_ms = cm_mono_ms();
    c->next = self->head;
    if (self->head)
        self->head->prev = c;
    self->head = c;
    self->count++;
    return c;
}

void gw_conns_close(gw_conns_t *self, gw_conn_t **conn_p)
{
    gw_conn_t *c = *conn_p;
    if (!c)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        self->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    self->count--;
    free(c);
    *conn_p = NULL;
}

static void s_phase(gw_conn_t *c, s_phase_t phase)
{
    if (c) {
        c->phase = phase;
        c->since_ms = cm_mono_ms();
    }
}

void gw_conn_headers_done(gw_conn_t *c)
{
    s_phase(c, S_BODY);
}

void gw_conn_body_done(gw_conn_t *c)
{
    s_phase(c, S_SERVING);
}

void gw_conn_request_done(gw_conn_t *c)
{
    s_phase(c, S_HEADERS);
}

int gw_conns_enforce(gw_conns_t *self, int64_t now)
{
    int n = 0;
    for (gw_conn_t *c = self->head; c; c = c->next) {
        int64_t limit = c->phase == S_HEADERS ? self->header_ms
                        : c->phase == S_BODY  ? self->body_ms : 0;
        if (c->shut || limit <= 0 || now - c->since_ms <= limit)
            continue;
        shutdown(c->fd, SHUT_RDWR);
        c->shut = 1;
        n++;
    }
    if (n)
        cm_log_limited(&self->log, CM_LOG_INFO, NULL,
                       "closed %d connection(s) past the header or body deadline", n);
    return n;
}

int gw_conns_count(const gw_conns_t *self)
{
    return self->count;
}
