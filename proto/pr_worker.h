/* The worker side of the broker protocol: connect, announce READY, heartbeat, reconnect with
 * exponential backoff (and re-register after a broker restart), receive requests, reply. */
#ifndef PR_WORKER_H
#define PR_WORKER_H
#include <czmq.h>

typedef struct pr_worker pr_worker_t;

/* Connects to broker as a worker of service that accepts up to credit requests at once
 * (served in order; more credit hides the round trip). Caller owns the result; NULL on failure. */
pr_worker_t *pr_worker_new(const char *broker, const char *service, int heartbeat_ms,
                           int liveness, int credit);
void pr_worker_destroy(pr_worker_t **self_p);
/* Waits for the next request envelope (caller owns the frame). Returns NULL when
 * interrupted (SIGINT/SIGTERM) or when timeout_ms (>= 0) passed first; -1 waits forever. */
zframe_t *pr_worker_recv(pr_worker_t *self, int timeout_ms);
/* Replies to the request last received; the reply bytes are borrowed. 0 or -1. */
int pr_worker_send(pr_worker_t *self, const void *reply, size_t len);

#endif
