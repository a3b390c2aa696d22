/* compiler-svc: the context its handlers share, the REST operations (cs_api.c), the job
 * queue in PostgreSQL (cs_jobs.c) and the pool of compile threads (cs_pool.c). */
#ifndef CS_H
#define CS_H
#include <czmq.h>
#include <stdbool.h>
#include "cc_compile.h"
#include "cm_db.h"
#include "pr_out.h"

typedef struct cs_pool cs_pool_t;

/* Compile threads in one process at most (lease renewal covers this many jobs at once). */
#define CS_MAX_THREADS 64

/* What every compile needs, fixed at start. */
typedef struct {
    const char *database_url;
    const char *instance;
    int threads;                 /* compile threads in this process */
    int lease_s;                 /* a claimed job is the claimer's for this long, renewed */
    int max_attempts;            /* claims before a job that keeps failing is failed */
    int poll_ms;                 /* threads look for work this often without an event */
    int timeout_s;               /* one compile at most this long, then failed */
    int retry_delay_ms;          /* before a job that hit an infrastructure failure is retried */
    size_t max_schema_depth, max_schema_properties;
    bool format_assertion;
} cs_options_t;

typedef struct {
    cm_db_t *db;                 /* the loop's connection (REST, lease renewal) */
    zsock_t *pub;                /* compile.queued */
    cs_pool_t *pool;
    const unsigned char *secret; /* 32 bytes: download tokens */
} cs_ctx_t;

/* REST operations (handlers of the service kit). */
void cs_compile_start(void *ctx, const pr_request_t *req, pr_out_t *out);
void cs_compile_list(void *ctx, const pr_request_t *req, pr_out_t *out);
void cs_compile_get(void *ctx, const pr_request_t *req, pr_out_t *out);
void cs_compile_delete(void *ctx, const pr_request_t *req, pr_out_t *out);
void cs_artifact_list(void *ctx, const pr_request_t *req, pr_out_t *out);
void cs_artifact_get(void *ctx, const pr_request_t *req, pr_out_t *out);
void cs_artifact_delete(void *ctx, const pr_request_t *req, pr_out_t *out);
void cs_artifact_download(void *ctx, const pr_request_t *req, pr_out_t *out);

/* ---- the job queue (cs_jobs.c): every statement one compile thread runs ---- */

/* A claimed job and its inputs (owned by the thread that claimed it). */
typedef struct {
    char id[37], project_id[37];
    char worker[96];             /* claimed_by */
    int attempts, format;
    bool production;
    char compiled_at[32];        /* creation time, "YYYY-MM-DDTHH:MM:SSZ" */
    cc_input_t *inputs;          /* primary first, then additional specs in request order */
    char **files;                /* file names (owned) */
    unsigned char **data;        /* contents (owned) */
    char (*spec_ids)[37];
    int *revisions;
    size_t ninputs;
} cs_job_t;

/* Claims the oldest job that is pending (and due) or whose lease ran out. 1 claimed, 0 none,
 * -1 database failure. */
int cs_job_claim(cm_db_t *db, const char *worker, int lease_s, cs_job_t *job);
/* Loads the pinned spec revisions of a claimed job. 0, 1 when an input is gone (the spec was
 * deleted: the job fails with a reason), -1 database failure. */
int cs_job_load(cm_db_t *db, cs_job_t *job, char *why, size_t whylen);
void cs_job_clear(cs_job_t *job);
/* Stores the outcome in one transaction, only while the job is still ours and compiling:
 * succeeded with its artifact and links, or failed with the findings. 0 stored, 1 the job is
 * no longer ours (deleted, or re-claimed after a lost lease: nothing written), -1 failure. */
int cs_job_finish(cm_db_t *db, const cs_job_t *job, const cc_result_t *r, const char *reason);
/* Gives an infrastructure-failed job back: pending again after delay_ms, or failed with
 * reason once attempts reached max_attempts. */
int cs_job_release(cm_db_t *db, const cs_job_t *job, int delay_ms, int max_attempts,
                   const char *reason);
/* Extends the leases of the jobs (ids) this process runs; writes into alive[i] whether each
 * is still ours. -1 on failure. */
int cs_job_renew(cm_db_t *db, const char *const *ids, const char *const *workers, size_t n,
                 int lease_s, bool *alive);

/* The plugin lookup of cc_compile over PostgreSQL (arg: the thread's cm_db_t). */
int cs_plugin_lookup(void *arg, const char *name, const char *version, cc_plugin_t *out);

/* ---- the pool (cs_pool.c) ---- */

/* Starts opts->threads compile threads, each with its own database connection. */
cs_pool_t *cs_pool_new(const cs_options_t *opts);
void cs_pool_destroy(cs_pool_t **self_p);
/* There may be work (compile.queued, or a job was just inserted here). */
void cs_pool_wake(cs_pool_t *self);
/* Renews the leases of running jobs and cancels those no longer ours (call every few s). */
void cs_pool_renew(cs_pool_t *self, cm_db_t *db);
/* Cancels the running compile of job id in this process, if any (a DELETE). */
void cs_pool_cancel(cs_pool_t *self, const char *id);

#endif
