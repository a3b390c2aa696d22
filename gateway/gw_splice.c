/* The WebSocket splice. Owns the hub addresses, every splice from its hub connect to its
 * close (both sockets, the bytes in flight each way), and the round-robin position. A
 * splice is freed after the loop's dispatch, never inside a callback of its own sockets, and
 * never while the request that began it still holds it (until gw_splice_release): the
 * request's pointer, and MHD's upgrade callback argument, stay valid that long. */
#include "gw_splice.h"
#include "cm_log.h"
#include "cm_util.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define GW_SPLICE_HUBS 32
#define GW_SPLICE_HEAD 8192
#define GW_SPLICE_CHUNK 65536

typedef enum { S_CONNECTING, S_SENDING, S_READING, S_ANSWERED, S_RELAY, S_DEAD } s_state_t;

typedef struct {
    unsigned char *buf;       /* bytes read from one side, not yet taken by the other */
    size_t len, off;
} s_dir_t;

typedef struct s_sp {
    gw_splice_t *mgr;
    struct s_sp *prev, *next, *next_dead;
    s_state_t state;
    bool held;                /* the request that began it has not released it yet */
    int hub_fd, client_fd, hub, tries;
    uint32_t hub_mask, client_mask;   /* the events each socket is registered for now */
    struct MHD_UpgradeResponseHandle *urh;
    char *req;
    size_t req_len, req_off;
    char head[GW_SPLICE_HEAD + 1];
    size_t head_len;
    gw_splice_done_fn *done;
    void *arg;
    int64_t deadline;
    s_dir_t to_hub, to_client;
    char accept[128], protocol[256], extensions[512];
    char detail[96];          /* why a handshake failed, read by the request until release */
} s_sp_t;

struct gw_splice {
    gw_loop_t *loop;
    gw_splice_args_t args;
    struct sockaddr_in hubs[GW_SPLICE_HUBS];
    int nhubs, next_hub;
    s_sp_t *live, *dead;      /* dead: closed, freed at the next reap once released */
    size_t count;
    bool closing;             /* gw_splice_close_all ran: no new splices */
    cm_ratelimit_t log;
};

/* ---- life cycle ---------------------------------------------------------------------- */

static void s_hub_events(s_sp_t *s, uint32_t events);
static void s_client_events(s_sp_t *s, uint32_t events);

/* Registers fd for events unless it already is (one epoll_ctl per change, not per chunk). */
static void s_watch(s_sp_t *s, int fd, uint32_t *mask, uint32_t events)
{
    if (*mask != events && gw_loop_mod_fd(s->mgr->loop, fd, events) == 0)
        *mask = events;
}

static void s_unlink(gw_splice_t *m, s_sp_t *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        m->live = s->next;
    if (s->next)
        s->next->prev = s->prev;
    m->count--;
}

/* Closes both sides; the struct itself goes at the next reap (after the dispatch). */
static void s_close(s_sp_t *s)
{
    gw_splice_t *m = s->mgr;
    if (s->state == S_DEAD)
        return;
    if (s->hub_fd >= 0) {
        gw_loop_del_fd(m->loop, s->hub_fd);
        close(s->hub_fd);
        s->hub_fd = -1;
    }
    if (s->client_fd >= 0)
        gw_loop_del_fd(m->loop, s->client_fd);
    if (s->urh)
        MHD_upgrade_action(s->urh, MHD_UPGRADE_ACTION_CLOSE);
    s->urh = NULL;
    s->client_fd = -1;
    s->state = S_DEAD;
    s_unlink(m, s);
    s->next_dead = m->dead;
    m->dead = s;
}

static void s_free(s_sp_t *s)
{
    free(s->to_hub.buf);
    free(s->to_client.buf);
    free(s->req);
    free(s);
}

/* Frees the closed splices no request holds any more. */
static void s_reap(gw_splice_t *m)
{
    for (s_sp_t **p = &m->dead; *p;) {
        s_sp_t *s = *p;
        if (s->held) {
            p = &s->next_dead;
            continue;
        }
        *p = s->next_dead;
        s_free(s);
    }
}

/* Ends a handshake: tells the HTTP front, and drops the hub unless it said 101. */
static void s_answer(s_sp_t *s, int status, const char *detail)
{
    gw_splice_answer_t a = { status, detail, s->accept, *s->protocol ? s->protocol : NULL,
                             *s->extensions ? s->extensions : NULL };
    gw_splice_done_fn *done = s->done;
    s->done = NULL;
    if (status != 101)
        s_close(s);
    else
        s->state = S_ANSWERED;
    if (done)
        done(s->arg, &a);
}

/* ---- the handshake ------------------------------------------------------------------- */

static void s_on_hub(void *arg, uint32_t events)
{
    s_hub_events(arg, events);
}

static void s_on_client(void *arg, uint32_t events)
{
    s_client_events(arg, events);
}

/* Connects to the next hub in turn; false when none is left to try. */
static bool s_connect(s_sp_t *s)
{
    gw_splice_t *m = s->mgr;
    while (s->tries < m->nhubs) {
        s->hub = m->next_hub++ % m->nhubs;
        s->tries++;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return false;
        int rc = connect(fd, (struct sockaddr *) &m->hubs[s->hub], sizeof m->hubs[s->hub]);
        if ((rc == 0 || errno == EINPROGRESS)
            && gw_loop_add_fd(m->loop, fd, EPOLLOUT, s_on_hub, s) == 0) {
            s->hub_fd = fd;
            s->hub_mask = EPOLLOUT;
            s->state = S_CONNECTING;
            s->req_off = 0;
            s->head_len = 0;
            return true;
        }
        close(fd);
    }
    return false;
}

static void s_retry(s_sp_t *s, const char *why)
{
    cm_log_limited(&s->mgr->log, CM_LOG_WARN, NULL, "splice: hub %d: %s", s->hub, why);
    gw_loop_del_fd(s->mgr->loop, s->hub_fd);
    close(s->hub_fd);
    s->hub_fd = -1;
    if (!s_connect(s))
        s_answer(s, 503, "no data-plane hub is reachable");
}

/* Copies the value of header name from the hub's response head (lowercase compare). */
static void s_header(const char *head, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    *out = '\0';
    for (const char *p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1, *end = strstr(v, "\r\n");
            while (*v == ' ' || *v == '\t')
                v++;
            size_t len = end ? (size_t) (end - v) : strlen(v);
            snprintf(out, cap, "%.*s", (int) (len < cap ? len : cap - 1), v);
            return;
        }
    }
}

/* The hub's response head is complete: 101 goes on to the relay, anything else is final. */
static void s_head_done(s_sp_t *s, size_t head_end)
{
    int status = 0;
    if (sscanf(s->head, "HTTP/1.%*1d %3d", &status) != 1)
        status = 0;
    char saved = s->head[head_end];
    s->head[head_end] = '\0';
    s_header(s->head, "Sec-WebSocket-Accept", s->accept, sizeof s->accept);
    s_header(s->head, "Sec-WebSocket-Protocol", s->protocol, sizeof s->protocol);
    s_header(s->head, "Sec-WebSocket-Extensions", s->extensions, sizeof s->extensions);
    s->head[head_end] = saved;
    if (status == 101 && *s->accept) {
        size_t extra = s->head_len - head_end;   /* frames the hub sent right after its 101 */
        if (extra) {
            s->to_client.buf = malloc(extra);
            if (s->to_client.buf) {
                memcpy(s->to_client.buf, s->head + head_end, extra);
                s->to_client.len = extra;
            }
        }
        s_watch(s, s->hub_fd, &s->hub_mask, 0);   /* nothing to read until the relay */
        s_answer(s, 101, NULL);
    } else if (status == 401 || status == 403) {
        s_answer(s, 401, "the data-plane key was refused");
    } else if (status == 503) {
        s_retry(s, "busy or shutting down (503)");   /* the next hub may take it */
    } else {
        snprintf(s->detail, sizeof s->detail, "the hub refused the upgrade (status %d)", status);
        s_answer(s, 503, s->detail);
    }
}

static void s_handshake(s_sp_t *s, uint32_t events)
{
    if (s->state == S_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(s->hub_fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) {
            s_retry(s, err ? strerror(err) : "connect failed");
            return;
        }
        s->state = S_SENDING;
    }
    if (s->state == S_SENDING) {
        ssize_t n = send(s->hub_fd, s->req + s->req_off, s->req_len - s->req_off, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN) {
            s_retry(s, strerror(errno));
            return;
        }
        s->req_off += n > 0 ? (size_t) n : 0;
        if (s->req_off == s->req_len) {
            s->state = S_READING;
            s_watch(s, s->hub_fd, &s->hub_mask, EPOLLIN);
        }
        return;
    }
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    ssize_t n = recv(s->hub_fd, s->head + s->head_len, GW_SPLICE_HEAD - s->head_len, 0);
    if (n <= 0) {
        if (n == 0 || errno != EAGAIN)
            s_answer(s, 503, "the hub closed the connection during the upgrade");
        return;
    }
    s->head_len += (size_t) n;
    s->head[s->head_len] = '\0';
    char *end = strstr(s->head, "\r\n\r\n");
    if (end)
        s_head_done(s, (size_t) (end - s->head) + 4);
    else if (s->head_len == GW_SPLICE_HEAD)
        s_answer(s, 503, "the hub's answer was too long");
}

/* ---- the relay ----------------------------------------------------------------------- */

/* Writes what dir holds to fd; -1 when the peer is gone. */
static int s_flush(s_dir_t *d, int fd)
{
    while (d->off < d->len) {
        ssize_t n = send(fd, d->buf + d->off, d->len - d->off, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN ? 0 : -1;
        d->off += (size_t) n;
    }
    free(d->buf);
    *d = (s_dir_t) { 0 };
    return 0;
}

/* Keeps what could not be written, up to the bound. */
static int s_keep(s_dir_t *d, const unsigned char *data, size_t len)
{
    unsigned char *b = realloc(d->off ? NULL : d->buf, d->len - d->off + len);
    if (!b)
        return -1;
    if (d->off) {
        memcpy(b, d->buf + d->off, d->len - d->off);
        free(d->buf);
    }
    memcpy(b + d->len - d->off, data, len);
    d->len = d->len - d->off + len;
    d->off = 0;
    d->buf = b;
    return 0;
}

/* The events each socket waits for: read while the other side's buffer has room, write
 * while this side's buffer holds anything. */
static void s_arm(s_sp_t *s)
{
    size_t max = s->mgr->args.buffer_max;
    uint32_t hub = (s->to_client.len - s->to_client.off < max ? EPOLLIN : 0)
                   | (s->to_hub.len > s->to_hub.off ? EPOLLOUT : 0);
    uint32_t client = (s->to_hub.len - s->to_hub.off < max ? EPOLLIN : 0)
                      | (s->to_client.len > s->to_client.off ? EPOLLOUT : 0);
    s_watch(s, s->hub_fd, &s->hub_mask, hub);
    s_watch(s, s->client_fd, &s->client_mask, client);
}

/* Moves what from has to to (directly when to takes it, else into dir). -1 when done. */
static int s_pump(int from, int to, s_dir_t *dir, size_t max)
{
    unsigned char chunk[GW_SPLICE_CHUNK];
    size_t room = max > dir->len - dir->off ? max - (dir->len - dir->off) : 0;
    if (room == 0)
        return 0;
    ssize_t n = recv(from, chunk, room < sizeof chunk ? room : sizeof chunk, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN))
        return -1;
    if (n < 0)
        return 0;
    size_t sent = 0;
    if (dir->len == dir->off) {
        ssize_t w = send(to, chunk, (size_t) n, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN)
            return -1;
        sent = w > 0 ? (size_t) w : 0;
    }
    return sent < (size_t) n ? s_keep(dir, chunk + sent, (size_t) n - sent) : 0;
}

static void s_relay(s_sp_t *s, bool hub_side, uint32_t events)
{
    size_t max = s->mgr->args.buffer_max;
    int rc = 0;
    if (events & EPOLLOUT)
        rc = hub_side ? s_flush(&s->to_hub, s->hub_fd) : s_flush(&s->to_client, s->client_fd);
    if (rc == 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        rc = hub_side ? s_pump(s->hub_fd, s->client_fd, &s->to_client, max)
                      : s_pump(s->client_fd, s->hub_fd, &s->to_hub, max);
    if (rc != 0) {
        /* one side is gone: hand over what is already read, then close both */
        s_flush(hub_side ? &s->to_client : &s->to_hub, hub_side ? s->client_fd : s->hub_fd);
        s_close(s);
        return;
    }
    s_arm(s);
}

static void s_hub_events(s_sp_t *s, uint32_t events)
{
    if (s->state == S_RELAY)
        s_relay(s, true, events);
    else if (s->state == S_ANSWERED && (events & (EPOLLHUP | EPOLLERR)))
        s_close(s);   /* the hub left before the client's 101 went out */
    else if (s->state < S_ANSWERED)
        s_handshake(s, events);
    s_reap(s->mgr);
}

static void s_client_events(s_sp_t *s, uint32_t events)
{
    if (s->state == S_RELAY)
        s_relay(s, false, events);
    s_reap(s->mgr);
}

/* MHD hands over the client's socket after the 101 went out. */
static void s_upgraded(void *cls, struct MHD_Connection *conn, void *con_cls,
                       const char *extra_in, size_t extra_in_size, MHD_socket sock,
                       struct MHD_UpgradeResponseHandle *urh)
{
    s_sp_t *s = cls;
    (void) conn;
    (void) con_cls;
    s->urh = urh;
    if (s->state != S_ANSWERED) {      /* the hub went away meanwhile */
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        s->urh = NULL;
        return;
    }
    s->client_fd = sock;
    fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK);
    s->state = S_RELAY;
    if ((extra_in_size && s_keep(&s->to_hub, (const unsigned char *) extra_in, extra_in_size))
        || gw_loop_add_fd(s->mgr->loop, sock, 0, s_on_client, s) != 0) {
        s->client_fd = -1;
        s_close(s);
        return;
    }
    s_arm(s);
}

/* ---- the manager --------------------------------------------------------------------- */

static int s_resolve(gw_splice_t *m, const char *list)
{
    char *copy = strdup(list), *save = NULL;
    int rc = copy ? 0 : -1;
    for (char *t = copy ? strtok_r(copy, ", ", &save) : NULL; t && rc == 0;
         t = strtok_r(NULL, ", ", &save)) {
        char *colon = strrchr(t, ':');
        struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai = NULL;
        if (!colon || m->nhubs == GW_SPLICE_HUBS) {
            cm_error(!colon ? "splice: --hubs entry '%s' is not host:port"
                            : "splice: more than 32 hubs in --hubs (at '%s')", t);
            rc = -1;
            break;
        }
        *colon = '\0';
        if (getaddrinfo(t, colon + 1, &hints, &ai) != 0 || !ai) {
            cm_error("splice: cannot resolve hub %s:%s", t, colon + 1);
            rc = -1;
        } else {
            memcpy(&m->hubs[m->nhubs++], ai->ai_addr, sizeof m->hubs[0]);
        }
        freeaddrinfo(ai);
    }
    free(copy);
    return rc;
}

gw_splice_t *gw_splice_new(gw_loop_t *loop, const gw_splice_args_t *args)
{
    gw_splice_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->loop = loop;
    m->args = *args;
    m->log = (cm_ratelimit_t) CM_RATELIMIT(10, 10000);
    if (args->hubs && s_resolve(m, args->hubs) != 0) {
        free(m);
        return NULL;
    }
    if (m->nhubs)
        cm_info("splicing /ws/data-plane to %d hub(s): %s", m->nhubs, args->hubs);
    return m;
}

void gw_splice_close_all(gw_splice_t *m)
{
    if (!m)
        return;
    m->closing = true;
    while (m->live) {
        s_sp_t *s = m->live;
        if (s->state < S_ANSWERED)
            s_answer(s, 503, "the gateway is shutting down");
        else
            s_close(s);
    }
    s_reap(m);
}

void gw_splice_destroy(gw_splice_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_splice_t *m = *self_p;
    gw_splice_close_all(m);
    while (m->dead) {             /* whatever a request never released */
        s_sp_t *s = m->dead;
        m->dead = s->next_dead;
        s_free(s);
    }
    free(m);
    *self_p = NULL;
}

int gw_splice_begin(gw_splice_t *m, const char *head, size_t len, gw_splice_done_fn *done,
                    void *arg, void **token)
{
    if (m->nhubs == 0 || m->closing || m->count >= (size_t) m->args.max_splices)
        return 503;
    s_sp_t *s = calloc(1, sizeof *s);
    char *req = malloc(len);
    if (!s || !req) {
        free(s);
        free(req);
        return 503;
    }
    memcpy(req, head, len);
    *s = (s_sp_t) { .mgr = m, .hub_fd = -1, .client_fd = -1, .req = req, .req_len = len,
                    .done = done, .arg = arg,
                    .deadline = cm_mono_ms() + m->args.handshake_ms };
    s->next = m->live;
    if (m->live)
        m->live->prev = s;
    m->live = s;
    m->count++;
    if (!s_connect(s)) {
        s->done = NULL;
        s_close(s);
        s_reap(m);
        return 503;
    }
    s->held = true;
    *token = s;
    return 0;
}

struct MHD_Response *gw_splice_response(gw_splice_t *m, void *token)
{
    (void) m;
    s_sp_t *s = token;
    return s->state == S_ANSWERED ? MHD_create_response_for_upgrade(s_upgraded, s) : NULL;
}

void gw_splice_release(gw_splice_t *m, void *token)
{
    s_sp_t *s = token;
    if (!s)
        return;
    s->held = false;
    s->done = NULL;
    if (s->state < S_RELAY)
        s_close(s);   /* never handed over: the client is gone; a no-op when already closed */
    s_reap(m);
}

size_t gw_splice_count(const gw_splice_t *m)
{
    return m ? m->count : 0;
}

void gw_splice_tick(gw_splice_t *m)
{
    int64_t now = cm_mono_ms();
    s_sp_t *s = m->live;
    while (s) {
        s_sp_t *next = s->next;
        if (s->state < S_ANSWERED && now > s->deadline)
            s_answer(s, 504, "the hub did not answer the upgrade in time");
        s = next;
    }
    s_reap(m);
}
