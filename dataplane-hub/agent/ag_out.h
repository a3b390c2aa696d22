/* The agent's output for tests and benchmarks: one JSON object per line on stdout, each with an
 * "event" member and a wall-clock "at_ms"; and the per-artifact summary of --sessions mode (a
 * line when the last session received an artifact_available). Used from the service thread
 * only. Owns: an ag_out_t and its small table of recent artifacts. */
#ifndef AG_OUT_H
#define AG_OUT_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Event classes, in the order --events drops them. */
typedef enum {
    AG_EV_HEARTBEAT = 0,        /* heartbeat sent, heartbeat_ack */
    AG_EV_SESSION = 1,          /* everything else a session does */
    AG_EV_SUMMARY = 2,          /* all_registered, all_artifact_available, start, exit */
} ag_ev_class_t;

/* Artifacts whose arrival is tracked at once; an older one is forgotten first. */
#define AG_OUT_ARTIFACTS 32

typedef struct ag_out ag_out_t;

/* Lines of class >= min_class go to f (borrowed). nsessions: how many sessions the summary
 * waits for. Caller owns the result; NULL on OOM. */
ag_out_t *ag_out_new(FILE *f, ag_ev_class_t min_class, size_t nsessions);
void ag_out_destroy(ag_out_t **self_p);

/* Writes {"event": event[, "session": session], <fields…>, "at_ms": now} and flushes it.
 * session < 0: no session member. fields (an object, may be NULL) is consumed; an "at_ms" it
 * holds is kept. */
void ag_out_emit(ag_out_t *self, ag_ev_class_t cls, const char *event, long session,
                 json_t *fields);

/* Session got artifact_available for artifact_id at at_ms (wall clock). When every session has
 * got it, writes {"event":"all_artifact_available","artifact_id","sessions","first_at_ms",
 * "last_at_ms","spread_ms"} once. */
void ag_out_artifact_seen(ag_out_t *self, size_t session, const char *artifact_id,
                          int64_t at_ms);

/* A JSON string of s, or of its bytes with anything not valid UTF-8 replaced by '?' (server
 * text is data, and an event line must always be JSON). Never NULL except on OOM. */
json_t *ag_out_str(const char *s);

#endif
