/* The mailbox between the lws service thread and the database/ZeroMQ thread: a mutex-guarded
 * FIFO of items that move by ownership, and a wake-up call for the receiving side
 * (lws_cancel_service for the lws thread, an eventfd for the other). Sessions are named in
 * items by handle and session id, never by pointer. Owns: the queued items. */
#ifndef HUB_MBOX_H
#define HUB_MBOX_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hub_conv.h"
#include "hub_keys.h"
#include "hub_msg.h"

typedef enum {
    /* lws thread -> database thread */
    HUB_IT_REGISTER,     /* a register message to check and record */
    HUB_IT_CLOSED,       /* a session ended (dp_id set when it had registered) */
    HUB_IT_FLUSH,        /* the heartbeat state of the sessions that changed */
    /* database thread -> lws thread */
    HUB_IT_REGISTERED,   /* registration recorded: dp_id, desired */
    HUB_IT_REJECTED,     /* registration refused: text is the reason */
    HUB_IT_DESIRED,      /* desired artifacts of projects changed */
    HUB_IT_CLOSE,        /* send disconnect {text} and close these sessions */
    HUB_IT_KEYS,         /* a fresh live-key cache */
    HUB_IT_REDIRTY       /* a flush failed: these sessions are to be flushed again */
} hub_item_type_t;

/* How a session is named across threads: a handle the lws thread never reuses, plus the
 * session's UUID (what data_planes.session_id holds). */
typedef struct {
    uint64_t handle;
    char sid[37];
} hub_ref_t;

typedef struct {
    hub_ref_t ref;
    char dp_id[37];
    bool has_hash, has_pending, drift;
    char hash[HUB_MSG_HASH_MAX + 1];
    char pending[37];
    hub_status_t status;
} hub_flush_t;

typedef struct {
    char project_id[37];
    hub_desired_t desired;
} hub_project_desired_t;

typedef struct hub_item hub_item_t;
struct hub_item {
    hub_item_t *next;
    hub_item_type_t type;
    int64_t posted_ms;                    /* monotonic */
    hub_ref_t ref;                        /* REGISTER, CLOSED, REGISTERED, REJECTED */
    char project_id[37];                  /* REGISTER, CLOSED, REGISTERED */
    char dp_id[37];                       /* CLOSED, REGISTERED */
    bool has_name;                        /* REGISTER */
    char name[HUB_MSG_NAME_MAX + 1];      /* REGISTER; REGISTERED: the row's name */
    unsigned char key_hash[32];           /* REGISTER */
    char *metadata;                       /* REGISTER: JSON object text (owned) */
    char text[160];                       /* REJECTED, CLOSE: the reason */
    int close_code;                       /* CLOSE: WebSocket close status */
    hub_desired_t desired;                /* REGISTERED */
    size_t n;                             /* entries of refs, flush or projects */
    hub_ref_t *refs;                      /* CLOSE, REDIRTY (owned) */
    hub_flush_t *flush;                   /* FLUSH (owned) */
    hub_project_desired_t *projects;      /* DESIRED (owned) */
    hub_keys_t *keys;                     /* KEYS (owned) */
};

/* A zeroed item of type; caller owns it. NULL when out of memory. */
hub_item_t *hub_item_new(hub_item_type_t type);
/* Frees the item and everything it owns; nulls the pointer. */
void hub_item_destroy(hub_item_t **item_p);

typedef void (hub_wake_fn)(void *arg);
typedef struct hub_mbox hub_mbox_t;

/* An empty mailbox calling wake(arg) when an item arrives in an empty queue. Caller owns it. */
hub_mbox_t *hub_mbox_new(hub_wake_fn *wake, void *arg);
/* Frees the mailbox and every item still queued. */
void hub_mbox_destroy(hub_mbox_t **self_p);
/* Replaces the wake-up (NULL: none), e.g. before the lws context it wakes is destroyed. */
void hub_mbox_set_wake(hub_mbox_t *self, hub_wake_fn *wake, void *arg);
/* Queues *item_p (ownership moves; the pointer is nulled). Thread-safe. */
void hub_mbox_post(hub_mbox_t *self, hub_item_t **item_p);
/* Takes every queued item, oldest first (linked by next); caller owns them. NULL if none. */
hub_item_t *hub_mbox_take(hub_mbox_t *self);
/* Items queued right now. */
size_t hub_mbox_pending(hub_mbox_t *self);

#endif
