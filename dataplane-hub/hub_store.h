/* The hub's SQL: API-key checks, data_planes rows (register, batched heartbeat flush,
 * offline), desired deployments, session reconciliation, the hubs row and the reaper. Every
 * function runs on the database thread's own connection; parameterised statements only.
 * Owns nothing; results land in the caller's structs. */
#ifndef HUB_STORE_H
#define HUB_STORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cm_db.h"
#include "hub_conv.h"
#include "hub_keys.h"
#include "hub_mbox.h"

/* A session as the database thread knows it (registered and not yet reported closed). */
typedef struct {
    uint64_t handle;
    char sid[37], dp_id[37], project_id[37], key_id[37];
    int64_t key_expires_ms;    /* Unix ms; 0 = never */
} hub_live_t;

typedef struct {
    bool ok;
    char reason[160];          /* registration_failed reason when !ok */
    char dp_id[37], key_id[37], name[HUB_MSG_NAME_MAX + 1];
    int64_t key_expires_ms;
} hub_reg_result_t;

/* Checks the key of a REGISTER item (hash, revoked, expired incl. rotation grace, project,
 * scope; touches last_used_at) and takes the (project, name) row for this session, or a fresh
 * dp-<id> row when nameless. Returns 0 (out->ok says whether it registered) or -1 on a
 * database failure (out->reason filled, saying to retry later). */
int hub_store_register(cm_db_t *db, const char *hub_id, const hub_item_t *req,
                       hub_reg_result_t *out);
/* Marks the row of a closed session offline, only while it still names that session. 0/-1. */
int hub_store_offline(cm_db_t *db, const char *dp_id, const char *sid);

/* Writes the flush entries in one statement (only rows still naming their session on this
 * hub). lost[i] is set for entries whose row is gone or taken over. 0, or -1 when the
 * statement failed (nothing written). */
int hub_store_flush(cm_db_t *db, const char *hub_id, const hub_flush_t *e, size_t n,
                    bool *lost);

/* The desired artifact of each project (newest deployments row; has = false when none). 0/-1. */
int hub_store_desired(cm_db_t *db, const char *const *projects, size_t n, hub_desired_t *out);

typedef enum { HUB_SESSION_OK, HUB_SESSION_REVOKED, HUB_SESSION_EXPIRED, HUB_SESSION_FORBIDDEN,
               HUB_SESSION_ROW_LOST } hub_verdict_t;
/* Rechecks live sessions: their key still valid (and its current expiry) and their row still
 * theirs on this hub. Fills verdict[i] and updates s[i].key_expires_ms. 0/-1. */
int hub_store_reconcile(cm_db_t *db, const char *hub_id, hub_live_t *const *s, size_t n,
                        hub_verdict_t *verdict);

/* Session ids of this hub whose data plane was DELETEd (audit_log, action
 * dataplane.disconnect) after the session connected, looking back from since (the database
 * time of the previous call, "" the first time) with a margin for slow transactions. Calls fn
 * for each and writes the database time of this call to since. 0/-1. */
typedef void (hub_sid_fn)(void *arg, const char *sid);
int hub_store_kicks(cm_db_t *db, const char *hub_id, char since[64], hub_sid_fn *fn, void *arg);

/* Creates or refreshes this hub's row in hubs. 0/-1. */
int hub_store_hub_alive(cm_db_t *db, const char *hub_id, const char *instance);
/* At shutdown: this hub's rows offline, its hubs row removed. 0/-1. */
int hub_store_hub_gone(cm_db_t *db, const char *hub_id);
/* The reaper: rows of dead hubs (no refresh for dead_after_s) offline; nameless rows offline
 * for longer than ttl_s removed; rows of this hub whose session is not among live[] (the
 * sids of sessions the database thread knows) offline. 0/-1. */
int hub_store_reap(cm_db_t *db, const char *hub_id, long dead_after_s, long ttl_s,
                   const char *const *live, size_t nlive);

/* A text that changes whenever the set of keys does (new, revoked, rotated, removed);
 * fp needs 256 bytes. 0/-1. */
int hub_store_keys_fingerprint(cm_db_t *db, char fp[256]);
/* Every live key with scope data-plane:connect, as a new cache the caller owns; NULL on
 * failure. */
hub_keys_t *hub_store_load_keys(cm_db_t *db);

#endif
