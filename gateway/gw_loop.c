/* The event loop. Owns the epoll set, the table of watched descriptors (fd -> callback) and
 * the short list of ZeroMQ sockets; a descriptor removed during dispatch is freed after it. */
#include "gw_loop.h"
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define GW_LOOP_SOCKETS 16
#define GW_LOOP_BATCH 256

typedef struct s_watch {
    int fd;
    gw_loop_fd_fn *fn;
    void *arg;
    struct s_watch *next_dead;
    int dead;
} s_watch_t;

struct gw_loop {
    int epfd;
    zmq_pollitem_t items[GW_LOOP_SOCKETS + 1];
    gw_loop_sock_fn *sock_fn[GW_LOOP_SOCKETS];
    void *sock_arg[GW_LOOP_SOCKETS];
    int nsocks;
    zhashx_t *watches;          /* fd (as key) -> s_watch_t* */
    s_watch_t *dead;            /* removed during dispatch, freed after it */
    int dispatching;
};

static const void *s_key(int fd)
{
    return (const void *) (intptr_t) (fd + 1);   /* never NULL */
}

static size_t s_hash(const void *key)
{
    return (size_t) (intptr_t) key;
}

static int s_cmp(const void *a, const void *b)
{
    return (intptr_t) a < (intptr_t) b ? -1 : (intptr_t) a > (intptr_t) b;
}

gw_loop_t *gw_loop_new(void)
{
    gw_loop_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->epfd = epoll_create1(EPOLL_CLOEXEC);
    self->watches = zhashx_new();
    if (self->epfd < 0 || !self->watches) {
        gw_loop_destroy(&self);
        return NULL;
    }
    zhashx_set_key_hasher(self->watches, s_hash);
    zhashx_set_key_comparator(self->watches, s_cmp);
    zhashx_set_key_duplicator(self->watches, NULL);
    zhashx_set_key_destructor(self->watches, NULL);
    return self;
}

static void s_reap(gw_loop_t *self)
{
    while (self->dead) {
        s_watch_t *w = self->dead;
        self->dead = w->next_dead;
        free(w);
    }
}

void gw_loop_destroy(gw_loop_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_loop_t *self = *self_p;
    if (self->watches)
        for (s_watch_t *w = zhashx_first(self->watches); w; w = zhashx_next(self->watches))
            free(w);
    zhashx_destroy(&self->watches);
    s_reap(self);
    if (self->epfd >= 0)
        close(self->epfd);
    free(self);
    *self_p = NULL;
}

int gw_loop_add_socket(gw_loop_t *self, zsock_t *sock, gw_loop_sock_fn *fn, void *arg)
{
    if (!sock || self->nsocks == GW_LOOP_SOCKETS)
        return -1;
    self->items[self->nsocks] = (zmq_pollitem_t) { zsock_resolve(sock), 0, ZMQ_POLLIN, 0 };
    self->sock_fn[self->nsocks] = fn;
    self->sock_arg[self->nsocks] = arg;
    self->nsocks++;
    return 0;
}

int gw_loop_add_fd(gw_loop_t *self, int fd, uint32_t events, gw_loop_fd_fn *fn, void *arg)
{
    if (fd < 0 || zhashx_lookup(self->watches, s_key(fd))) {
        errno = EEXIST;
        return -1;
    }
    s_watch_t *w = calloc(1, sizeof *w);
    if (!w)
        return -1;
    *w = (s_watch_t) { .fd = fd, .fn = fn, .arg = arg };
    struct epoll_event ev = { .events = events, .data.ptr = w };
    if (epoll_ctl(self->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        free(w);
        return -1;
    }
    zhashx_insert(self->watches, s_key(fd), w);
    return 0;
}

int gw_loop_mod_fd(gw_loop_t *self, int fd, uint32_t events)
{
    s_watch_t *w = zhashx_lookup(self->watches, s_key(fd));
    if (!w)
        return -1;
    struct epoll_event ev = { .events = events, .data.ptr = w };
    return epoll_ctl(self->epfd, EPOLL_CTL_MOD, fd, &ev);
}

void gw_loop_del_fd(gw_loop_t *self, int fd)
{
    s_watch_t *w = zhashx_lookup(self->watches, s_key(fd));
    if (!w)
        return;
    epoll_ctl(self->epfd, EPOLL_CTL_DEL, fd, NULL);
    zhashx_delete(self->watches, s_key(fd));
    w->dead = 1;
    w->next_dead = self->dead;
    self->dead = w;
    if (!self->dispatching)
        s_reap(self);
}

static int s_dispatch_fds(gw_loop_t *self)
{
    struct epoll_event evs[GW_LOOP_BATCH];
    int n = epoll_wait(self->epfd, evs, GW_LOOP_BATCH, 0);
    self->dispatching = 1;
    for (int i = 0; i < n; i++) {
        s_watch_t *w = evs[i].data.ptr;
        if (!w->dead)
            w->fn(w->arg, evs[i].events);
    }
    self->dispatching = 0;
    s_reap(self);
    return n > 0 ? n : 0;
}

int gw_loop_wait(gw_loop_t *self, long timeout_ms)
{
    int n = self->nsocks;
    self->items[n] = (zmq_pollitem_t) { NULL, self->epfd, ZMQ_POLLIN, 0 };
    int rc = zmq_poll(self->items, n + 1, timeout_ms);
    if (rc < 0)
        return zmq_errno() == EINTR ? 0 : -1;
    int ran = 0;
    for (int i = 0; i < n; i++)
        if (self->items[i].revents & ZMQ_POLLIN) {
            self->sock_fn[i](self->sock_arg[i]);
            ran++;
        }
    if (self->items[n].revents & ZMQ_POLLIN)
        ran += s_dispatch_fds(self);
    return ran;
}
