/* Convergence of one data plane towards its project's desired deployment, by artifact_hash:
 * when to announce an artifact, what counts as drift, and the online/deploying status.
 * Pure functions over small value types; owns nothing. */
#ifndef HUB_CONV_H
#define HUB_CONV_H
#include <stdbool.h>
#include <stdint.h>
#include "hub_msg.h"

/* The desired artifact of a project: its newest deployments row (has = false: none). */
typedef struct {
    bool has;
    char artifact_id[37];
    char artifact_hash[HUB_MSG_HASH_MAX + 1];   /* the manifest's, what data planes report */
    char sha256[65];                            /* of the whole .bca file */
} hub_desired_t;

/* What the hub knows of one session's artifact. */
typedef struct {
    bool has_reported;
    char reported[HUB_MSG_HASH_MAX + 1];        /* artifact_hash of its last heartbeat */
    bool has_pending;
    char pending[37];                           /* announced, not yet confirmed */
    int64_t pending_since_ms;
    bool drift;                                 /* as last acknowledged */
} hub_conv_t;

typedef enum { HUB_STATUS_ONLINE, HUB_STATUS_DEPLOYING } hub_status_t;

/* "online" or "deploying" (the data_planes.status of a live session); borrowed. */
const char *hub_status_name(hub_status_t st);
hub_status_t hub_conv_status(const hub_conv_t *c);
/* True when two desired states name the same artifact with the same hashes. */
bool hub_desired_equal(const hub_desired_t *a, const hub_desired_t *b);

/* True when the reported hash (unknown counts as different) is not d's and nothing is pending
 * for d's artifact (an announcement older than pending_ttl_ms no longer counts). */
bool hub_conv_needs(const hub_conv_t *c, const hub_desired_t *d, int64_t now_ms,
                    int64_t pending_ttl_ms);
/* Records that d's artifact was announced at now_ms (the session is deploying). */
void hub_conv_announced(hub_conv_t *c, const hub_desired_t *d, int64_t now_ms);
/* A heartbeat reporting hash (NULL: none). Returns drift_detected for its ack: the reported
 * hash differs from d's while nothing is pending. A report of the pending artifact's hash
 * confirms it (no longer pending). */
bool hub_conv_heartbeat(hub_conv_t *c, const char *hash, const hub_desired_t *d);
/* artifact_downloaded for artifact_id: a match with the pending artifact clears it; success
 * also takes d's hash as reported when d is that artifact. Other ids are ignored. */
void hub_conv_downloaded(hub_conv_t *c, const char *artifact_id, bool success,
                         const hub_desired_t *d);

#endif
