/* The bridge between HTTP threads and the broker: submits request envelopes, matches
 * replies to callers by correlation id, and answers 504 itself when the broker goes silent. */
#ifndef GW_FRONT_H
#define GW_FRONT_H
#include <stddef.h>
#include <stdint.h>

typedef struct gw_front gw_front_t;

/* Called once per submitted request, on the front's thread: nak is 0 with the reply
 * envelope bytes (borrowed for the call), or an HTTP status (503, 504) with no data. */
typedef void (gw_front_done_fn)(void *arg, int nak, const void *reply, size_t len);

/* Connects to the broker at endpoint. Caller owns the result; NULL on failure. */
gw_front_t *gw_front_new(const char *broker_endpoint, int grace_ms);
/* Completes every pending request with 503, then stops. */
void gw_front_destroy(gw_front_t **self_p);
/* Sends an envelope (copied) to service; done fires exactly once, later, on another thread.
 * Thread-safe. 0, or -1 when the front is shutting down (done is not called). */
int gw_front_submit(gw_front_t *self, const char *service, const void *env, size_t len,
                    int64_t deadline_wall_ms, gw_front_done_fn *done, void *arg);
/* Requests waiting for a reply right now (for /metrics). */
size_t gw_front_pending(gw_front_t *self);

#endif
