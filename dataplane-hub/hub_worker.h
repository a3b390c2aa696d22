/* The hub's database and ZeroMQ thread: answers registrations, writes batched heartbeat state,
 * listens to events (deploy.<project>, dataplane.disconnect, apikey.revoked, project.deleted),
 * reconciles live sessions and desired deployments from PostgreSQL, keeps the bearer-key cache
 * and the hubs row fresh and runs the reaper. It talks to the lws thread only through two
 * mailboxes. Owns: its thread, the database connection, the SUB socket and its monitor, and
 * the table of registered sessions (by session id). */
#ifndef HUB_WORKER_H
#define HUB_WORKER_H
#include <stdatomic.h>
#include "cm_db.h"
#include "hub.h"
#include "hub_keys.h"
#include "hub_mbox.h"
#include "pr_mesh.h"

typedef struct hub_worker hub_worker_t;

typedef struct {
    const hub_config_t *cfg;
    const pr_mesh_t *mesh;        /* borrowed; outlives the worker */
    const char *hub_id;           /* copied */
    hub_mbox_t *to_lws;           /* borrowed: where results go */
    atomic_bool *flush_busy;      /* borrowed: cleared when a FLUSH item has been written */
} hub_worker_args_t;

/* Takes the database connection (*db_p is nulled) and connects the SUB socket; the thread does
 * not run yet. Caller owns the result; NULL on failure (logged). */
hub_worker_t *hub_worker_new(const hub_worker_args_t *args, cm_db_t **db_p);
/* The mailbox the lws thread posts REGISTER, CLOSED and FLUSH items to; borrowed. */
hub_mbox_t *hub_worker_inbox(hub_worker_t *self);
/* Loads the live-key cache now (before the thread starts); caller owns it. NULL on failure. */
hub_keys_t *hub_worker_load_keys(hub_worker_t *self);
/* Starts the thread. 0 or -1. */
int hub_worker_start(hub_worker_t *self);
/* Stops the thread after it has handled every item already posted (the last CLOSED items mark
 * rows offline), marks this hub's rows offline and removes its hubs row, then frees it all. */
void hub_worker_destroy(hub_worker_t **self_p);

#endif
