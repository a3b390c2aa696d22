/* The gateway's one event loop: a few ZeroMQ sockets polled with zmq_poll, and any number of
 * plain descriptors (HTTP daemon, signals, spliced WebSocket connections) in an epoll set
 * that is itself one poll item. Callbacks run on the loop's thread only. */
#ifndef GW_LOOP_H
#define GW_LOOP_H
#include <czmq.h>
#include <stdint.h>
#include <sys/epoll.h>

typedef struct gw_loop gw_loop_t;

/* A ZeroMQ socket became readable: drain it. */
typedef void (gw_loop_sock_fn)(void *arg);
/* A descriptor is ready: events are EPOLLIN/EPOLLOUT/EPOLLHUP/EPOLLERR bits. */
typedef void (gw_loop_fd_fn)(void *arg, uint32_t events);

/* Caller owns the result; NULL on failure. */
gw_loop_t *gw_loop_new(void);
void gw_loop_destroy(gw_loop_t **self_p);
/* Polls sock for input (at most 16 sockets). 0 or -1. */
int gw_loop_add_socket(gw_loop_t *self, zsock_t *sock, gw_loop_sock_fn *fn, void *arg);
/* Watches fd for events (EPOLLIN, EPOLLOUT; level-triggered). 0 or -1 (errno). */
int gw_loop_add_fd(gw_loop_t *self, int fd, uint32_t events, gw_loop_fd_fn *fn, void *arg);
/* Changes the events watched on fd. 0 or -1. */
int gw_loop_mod_fd(gw_loop_t *self, int fd, uint32_t events);
/* Stops watching fd (safe from inside any callback: pending events for it are dropped). */
void gw_loop_del_fd(gw_loop_t *self, int fd);
/* Waits up to timeout_ms (-1 forever) and runs the callbacks of what is ready. Returns the
 * number of callbacks run, or -1 when polling failed. */
int gw_loop_wait(gw_loop_t *self, long timeout_ms);

#endif
