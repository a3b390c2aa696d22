/* barbacane-hub: the configuration every part of the hub reads (filled once by hub_main from
 * flags and BARBACANE_* variables, read-only afterwards) and the hub-wide constants. */
#ifndef HUB_H
#define HUB_H
#include "pr_service.h"

#define HUB_WS_PATH          "/ws/data-plane"
#define HUB_FLUSH_MS         1000    /* heartbeat state is written in one statement this often */
#define HUB_KEYS_POLL_MS     1000    /* the bearer-key cache is refreshed at least this often */
#define HUB_KEYS_FULL_MS     60000   /* ... and rebuilt unconditionally this often */
#define HUB_DESIRED_POLL_MS  1000    /* desired artifacts of live projects are re-read this often */
#define HUB_TICK_MS          250     /* the lws thread's timer sweep */
#define HUB_CLOSE_GRACE_MS   3000    /* a closing session that does not read is killed after this */
#define HUB_LIVENESS_BEATS   3       /* heartbeats missed before a session counts as dead */
#define HUB_SNDBUF           65536   /* kernel send buffer per session (bounded, not autotuned) */
#define HUB_STOP_GRACE_MS    1500    /* how long shutdown waits for sessions to close */

typedef struct {
    pr_service_config_t svc;   /* database, events-out, mesh keys, secret, instance, log level */
    const char *ws_bind, *download_base;
    long ws_port, heartbeat_s, register_timeout_s, max_sessions, max_unauth, max_message,
        outbound_queue, offline_ttl_s, reap_interval_s, hub_dead_after_s, token_ttl_s;
} hub_config_t;

#endif
