/* Events over PUB/SUB through the gateway's proxy: a topic frame, then a msgpack map of
 * strings. Events are wake-ups; the state they announce is already in PostgreSQL, and every
 * subscriber reconciles from PostgreSQL after a reconnect or a missed event. */
#ifndef PR_EVENT_H
#define PR_EVENT_H
#include <czmq.h>
#include "pr_envelope.h"
#include "pr_mesh.h"

#define PR_EV_PROJECT_DELETED "project.deleted"
#define PR_EV_APIKEY_REVOKED  "apikey.revoked"
#define PR_EV_DP_DISCONNECT   "dataplane.disconnect"
#define PR_EV_COMPILE_QUEUED  "compile.queued"
#define PR_EV_DEPLOY_PREFIX   "deploy."

#define PR_EVENT_MAX_PAIRS 8
#define PR_EVENT_MAX_TOPIC 128

/* A PUB socket connected to the proxy's XSUB endpoint with this process's mesh keys; caller
 * owns it. NULL on failure. */
zsock_t *pr_event_pub_new(const char *endpoint, const pr_mesh_t *mesh);
/* A SUB socket connected to the proxy's XPUB endpoint, subscribed to each topic prefix;
 * caller owns it. NULL on failure. */
zsock_t *pr_event_sub_new(const char *endpoint, const pr_mesh_t *mesh,
                          const char *const *topics, size_t ntopics);
/* Publishes topic with n key/value string pairs without blocking. 0 or -1. */
int pr_event_publish(zsock_t *pub, const char *topic, const pr_kv_t *kv, size_t n);

typedef struct {
    char topic[PR_EVENT_MAX_TOPIC + 1];
    pr_kv_t kv[PR_EVENT_MAX_PAIRS];   /* point into store */
    size_t n;
    char store[1024];
} pr_event_t;

/* Reads one event from sub (which must be readable). 0, or -1 when the message is not a
 * well-formed event (it is consumed and dropped either way). */
int pr_event_recv(zsock_t *sub, pr_event_t *ev);

#endif
