/* Events over PUB/SUB through the gateway's proxy: a topic frame, then a msgpack map of
 * strings. Events are wake-ups; the state they announce is already in PostgreSQL. */
#ifndef PR_EVENT_H
#define PR_EVENT_H
#include <czmq.h>
#include "pr_envelope.h"

#define PR_EV_PROJECT_DELETED "project.deleted"
#define PR_EV_APIKEY_REVOKED  "apikey.revoked"
#define PR_EV_DP_DISCONNECT   "dataplane.disconnect"
#define PR_EV_COMPILE_QUEUED  "compile.queued"
#define PR_EV_DEPLOY_PREFIX   "deploy."

/* A PUB socket connected to the proxy's XSUB endpoint; caller owns it. */
zsock_t *pr_event_pub_new(const char *endpoint);
/* Publishes topic with n key/value string pairs. 0 or -1. */
int pr_event_publish(zsock_t *pub, const char *topic, const pr_kv_t *kv, size_t n);

#endif
