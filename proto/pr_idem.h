/* The service kit, idempotency: the first answer to a mutation with an Idempotency-Key is
 * kept 24 h and replayed for the same request; a different request under the key is 409.
 * Stored answers may carry secrets (a new API key is shown once), so they are sealed under a
 * key derived from a server secret that never enters the database, the principal and the
 * client's key; the record is found by a keyed hash of the same. */
#ifndef PR_IDEM_H
#define PR_IDEM_H
#include <stdbool.h>
#include "cm_db.h"
#include "pr_out.h"

#define PR_IDEM_KEY_MAX 255

typedef struct {
    bool active;           /* a key was given and the lock is held */
    char fingerprint[65];  /* of the request */
    char id[65];           /* record id: keyed hash of principal + Idempotency-Key */
    unsigned char seal[32];/* sealing key for the stored body, never stored */
} pr_idem_t;

/* Before a mutation: true when the request has been answered from the store (a replay or a
 * 409); otherwise the handler runs and pr_idem_after must follow. secret: 32 bytes. */
bool pr_idem_before(cm_db_t *db, const unsigned char *secret, const pr_request_t *req,
                    pr_out_t *out, pr_idem_t *st);
void pr_idem_after(cm_db_t *db, const pr_request_t *req, const pr_out_t *out, pr_idem_t *st);
/* Deletes expired idempotency records. */
void pr_idem_purge(cm_db_t *db);

#endif
