/* Internals of the lws side of the hub, shared by hub_server.c (context, HTTP, timers,
 * mailbox) and hub_session.c (one WebSocket session). Everything here lives on the lws
 * service thread only; nothing in it is touched by another thread except the flush flag. */
#ifndef HUB_SERVER_INT_H
#define HUB_SERVER_INT_H
#include <czmq.h>
#include <libwebsockets.h>
#include <stdatomic.h>
#include "cm_log.h"
#include "hub.h"
#include "hub_conv.h"
#include "hub_keys.h"
#include "hub_mbox.h"
#include "hub_server.h"

/* An encoded message, shared by every session it is queued on (refcounted on this thread).
 * The payload starts at data + LWS_PRE so lws_write can put the frame header in front. */
typedef struct {
    uint32_t refs, len;
    unsigned char data[];
} hub_buf_t;

typedef struct hub_qnode {
    struct hub_qnode *next;
    hub_buf_t *buf;
} hub_qnode_t;

typedef enum {
    HUB_SS_AWAIT,        /* upgraded, waiting for register */
    HUB_SS_REGISTERING,  /* register handed to the database thread */
    HUB_SS_LIVE,         /* registered */
    HUB_SS_CLOSING,      /* draining its queue, then a close frame */
    HUB_SS_DEAD          /* dropped (slow reader): lws closes it at the next check */
} hub_sstate_t;

typedef struct hub_project hub_project_t;
typedef struct hub_session hub_session_t;

/* One WebSocket session: the lws per-session data itself (no other per-session allocation
 * while idle: the reassembly buffer and queue nodes exist only while in use). */
struct hub_session {
    struct lws *wsi;
    hub_server_t *srv;
    uint64_t handle;
    hub_sstate_t state;
    bool counted_unauth, counted_live, posted, dirty, heard, in_msg, rx_skip, rx_binary;
    uint16_t outq;
    uint16_t close_code;
    char close_text[64];         /* the close frame's reason */
    char sid[37], dp_id[37];
    hub_project_t *proj;
    hub_session_t *pnext, *pprev;
    hub_conv_t conv;
    int64_t deadline_ms, last_rx_ms, registered_ms;
    unsigned char *rx;
    uint32_t rx_len, rx_cap;
    hub_qnode_t *qhead, *qtail;
};

/* A project with live sessions on this hub: its desired artifact and the announcement for it
 * (one encoded artifact_available shared by all its sessions, re-signed before it expires). */
struct hub_project {
    char id[37];
    hub_desired_t desired;
    hub_buf_t *announce;
    int64_t announce_until_ms;
    hub_session_t *head;
    size_t n;
    /* A deploy's fan-out in progress: when it began and how many writes are still to go. */
    int64_t fanout_t0_us;
    size_t fanout_total, fanout_left;
};

struct hub_server {
    const hub_config_t *cfg;
    unsigned char secret[32];
    char hub_id[37];
    struct lws_context *ctx;
    hub_mbox_t *inbox;           /* from the database thread */
    hub_mbox_t *to_worker;       /* borrowed */
    hub_keys_t *keys;
    hub_session_t **slots;       /* handle = generation << 32 | slot */
    uint32_t *gens, *free_slots;
    uint32_t nslots, nfree;
    zhashx_t *projects;          /* id -> hub_project_t (owned) */
    size_t n_sessions, n_unauth, n_live;
    atomic_bool flush_busy;
    atomic_bool stop_requested;
    bool stopping;
    int64_t stop_deadline_ms, next_flush_ms;
    lws_sorted_usec_list_t tick;
    cm_ratelimit_t rl;
    struct {
        uint64_t upgrades, refused, registered, rejected, errors, announced, dropped;
    } stats;
};

/* hub_session.c: the session's life, called from the protocol callback and the sweeps. */
int hub_session_open(hub_server_t *srv, hub_session_t *s, struct lws *wsi);
int hub_session_receive(hub_session_t *s, const unsigned char *in, size_t len);
int hub_session_writeable(hub_session_t *s);
void hub_session_closed(hub_session_t *s);
/* Once per sweep: registration timeout, liveness, announcement fallback, close deadline. */
void hub_session_sweep(hub_session_t *s, int64_t now);
/* Queues disconnect {reason} (when with_message) and then a close frame with code. */
void hub_session_close(hub_session_t *s, int code, const char *reason, bool with_message);
/* Sends registration_failed {reason} and closes with 1008. */
void hub_session_reject(hub_session_t *s, const char *reason);
/* Sends artifact_available when the session does not run its project's desired artifact. */
void hub_session_converge(hub_session_t *s, int64_t now);
/* The mailbox results for one session. */
void hub_session_registered(hub_session_t *s, const hub_item_t *it);

/* hub_server.c services the sessions use. */
hub_session_t *hub_server_find(hub_server_t *srv, const hub_ref_t *ref);
hub_project_t *hub_server_project(hub_server_t *srv, const char *id);
void hub_server_project_leave(hub_server_t *srv, hub_session_t *s);
/* Counts a written announcement against p's fan-out; logs its duration at the last one. */
void hub_server_fanout_written(hub_server_t *srv, hub_project_t *p, const hub_buf_t *buf);
/* The shared artifact_available of p's desired artifact (fresh token); borrowed. */
hub_buf_t *hub_server_announce(hub_server_t *srv, hub_project_t *p, int64_t now);

/* Message buffers. */
hub_buf_t *hub_buf_new(const char *text, size_t len);
void hub_buf_unref(hub_buf_t **buf_p);

#endif
