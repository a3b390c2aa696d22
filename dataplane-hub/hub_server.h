/* The hub's libwebsockets side: one service thread that never blocks, serving
 * GET /ws/data-plane (plus GET /health) and every data-plane session. Talks to the database
 * thread only through mailboxes. Owns: the lws context, the sessions, the live projects, the
 * bearer-key cache and the mailbox the database thread posts to. */
#ifndef HUB_SERVER_H
#define HUB_SERVER_H
#include <stdatomic.h>
#include "hub.h"
#include "hub_keys.h"
#include "hub_mbox.h"

typedef struct hub_server hub_server_t;

/* Creates the lws context listening on cfg's ws-bind:ws-port. secret (32 bytes) and hub_id
 * are copied. Caller owns the result; NULL on failure (logged). */
hub_server_t *hub_server_new(const hub_config_t *cfg, const unsigned char secret[32],
                             const char *hub_id);
/* The mailbox the database thread posts results to; borrowed. */
hub_mbox_t *hub_server_inbox(hub_server_t *self);
/* The flag the database thread clears once a posted flush is written; borrowed. */
atomic_bool *hub_server_flush_flag(hub_server_t *self);
/* Where REGISTER, CLOSED and FLUSH items go (borrowed), and the first key cache (owned). */
void hub_server_attach(hub_server_t *self, hub_mbox_t *to_worker, hub_keys_t **keys_p);
/* Serves until hub_server_stop, then closes every session (disconnect "hub shutting down")
 * and returns once they are closed or a grace period has passed. */
void hub_server_run(hub_server_t *self);
/* Asks run to return; safe from any thread (it only sets a flag and wakes lws). */
void hub_server_stop(hub_server_t *self);
/* Destroys the lws context (remaining sessions report CLOSED to the database thread); the
 * mailbox stays valid for late results until hub_server_destroy. Idempotent. */
void hub_server_close(hub_server_t *self);
/* Closes (if not yet) and frees everything. */
void hub_server_destroy(hub_server_t **self_p);

#endif
