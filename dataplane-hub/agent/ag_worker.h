/* The checker thread: artifact checks (decompression, hashing) run here so the libwebsockets
 * service thread never blocks on them. Jobs move in and out by ownership through two
 * mutex-guarded lists; each finished job wakes the service thread with lws_cancel_service.
 * Owns: the thread and every job queued in either list. */
#ifndef AG_WORKER_H
#define AG_WORKER_H
#include "ag_check.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lws_context;

typedef struct ag_job {
    /* in */
    size_t session;
    uint64_t seq;               /* the session's download this job belongs to */
    char artifact_id[37];
    char *path;                 /* the downloaded file (owned by the job) */
    /* out */
    int rc;                     /* 0: a data plane would load it; -1: refused (error says why) */
    ag_artifact_t artifact;
    char error[512];
    struct ag_job *next;
} ag_job_t;

typedef struct ag_worker ag_worker_t;

/* Starts the thread (SIGINT/SIGTERM blocked in it); each finished job wakes the service loop
 * of wake (NULL: nobody is woken, the caller polls ag_worker_take).
 * Caller owns the result; NULL on failure. */
ag_worker_t *ag_worker_new(struct lws_context *wake);
/* Stops and joins the thread; frees jobs still queued. Idempotent. */
void ag_worker_destroy(ag_worker_t **self_p);
/* Queues a job (ownership moves to the worker, also when it fails: -1 only after destroy
 * started). */
int ag_worker_submit(ag_worker_t *self, ag_job_t **job_p);
/* A finished job, or NULL: the caller owns it (free with ag_job_destroy). */
ag_job_t *ag_worker_take(ag_worker_t *self);

/* A job for path (copied). NULL on OOM. */
ag_job_t *ag_job_new(size_t session, uint64_t seq, const char *artifact_id, const char *path);
void ag_job_destroy(ag_job_t **self_p);

#endif
