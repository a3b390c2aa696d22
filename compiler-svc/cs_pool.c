/* The compile threads of one compiler-svc process. Owns the threads, each with its own
 * database connection, the wake-up condition, and what each thread is running (under the
 * pool lock: the loop thread renews leases and cancels from outside). */
#include "cs.h"
#include "cm_log.h"
#include "cm_util.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { S_RUN, S_CANCELLED, S_TIMED_OUT, S_SHUTDOWN };

typedef struct {
    cs_pool_t *pool;
    int index;
    pthread_t tid;
    bool started;
    char worker[96];
    /* under pool->lock */
    char job[37];
    int64_t since_ms;
    volatile int cancel;         /* polled by cc_compile: non-zero stops it */
} s_thread_t;

struct cs_pool {
    const cs_options_t *opts;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    unsigned long wakeups;
    bool stop;
    s_thread_t *threads;
    int n;
};

static void s_wait(cs_pool_t *p, unsigned long *seen)
{
    pthread_mutex_lock(&p->lock);
    if (!p->stop && *seen == p->wakeups) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        long ns = until.tv_nsec + (long) (p->opts->poll_ms % 1000) * 1000000L;
        until.tv_sec += p->opts->poll_ms / 1000 + ns / 1000000000L;
        until.tv_nsec = ns % 1000000000L;
        pthread_cond_timedwait(&p->wake, &p->lock, &until);
    }
    *seen = p->wakeups;
    pthread_mutex_unlock(&p->lock);
}

static void s_running(s_thread_t *t, const char *job)
{
    pthread_mutex_lock(&t->pool->lock);
    snprintf(t->job, sizeof t->job, "%s", job ? job : "");
    t->since_ms = cm_mono_ms();
    t->cancel = t->pool->stop ? S_SHUTDOWN : S_RUN;
    pthread_mutex_unlock(&t->pool->lock);
}

static cc_options_t s_compile_options(const s_thread_t *t, const cs_job_t *job)
{
    const cs_options_t *o = t->pool->opts;
    return (cc_options_t) { .artifact_format = job->format, .production = job->production,
                            .max_schema_depth = o->max_schema_depth,
                            .max_schema_properties = o->max_schema_properties,
                            .format_assertion = o->format_assertion,
                            .compiled_at = job->compiled_at, .compiler_version = BB_VERSION,
                            .cancel = &t->cancel };
}

/* What the outcome of one compile means for the job. */
static void s_settle(s_thread_t *t, cm_db_t *db, const cs_job_t *job, cc_status_t st,
                     const cc_result_t *res)
{
    const cs_options_t *o = t->pool->opts;
    int rc = 0;
    char why[320];
    if (st == CC_OK || st == CC_INVALID) {
        rc = cs_job_finish(db, job, res, NULL);
    } else if (st == CC_CANCELLED && t->cancel == S_TIMED_OUT) {
        snprintf(why, sizeof why, "the compilation took longer than %d s", o->timeout_s);
        rc = cs_job_finish(db, job, NULL, why);
    } else if (st == CC_CANCELLED && t->cancel == S_SHUTDOWN) {
        rc = cs_job_release(db, job, 0, o->max_attempts + 1, "the compiler stopped");
    } else if (st == CC_CANCELLED) {
        cm_info("compilation %s cancelled (deleted, or its lease was lost)", job->id);
        return;
    } else {
        snprintf(why, sizeof why, "%s", *res->reason ? res->reason : "an internal failure");
        rc = cs_job_release(db, job, o->retry_delay_ms, o->max_attempts, why);
    }
    if (rc == 1)
        cm_info("compilation %s is no longer ours (deleted or re-claimed): nothing stored", job->id);
    else if (rc < 0 && cs_job_release(db, job, o->retry_delay_ms, o->max_attempts,
                                      "the result could not be stored") != 0)
        cm_warn("compilation %s: outcome not stored; its lease will run out", job->id);
}

/* One claimed job, from its inputs to its stored outcome. */
static void s_run_job(s_thread_t *t, cm_db_t *db, cs_job_t *job)
{
    const cs_options_t *o = t->pool->opts;
    char why[320];
    if (job->attempts > o->max_attempts) {
        snprintf(why, sizeof why, "gave up after %d attempts: the compile never finished "
                 "(the process running it died or lost its lease each time)", o->max_attempts);
        cs_job_finish(db, job, NULL, why);
        return;
    }
    int rc = cs_job_load(db, job, why, sizeof why);
    if (rc == 1) {
        cs_job_finish(db, job, NULL, why);
        return;
    }
    if (rc < 0) {
        cs_job_release(db, job, o->retry_delay_ms, o->max_attempts, "its inputs could not be read");
        return;
    }
    s_running(t, job->id);
    cc_options_t copts = s_compile_options(t, job);
    cc_result_t res;
    int64_t t0 = cm_mono_ms();
    cc_status_t st = cc_compile(job->inputs, job->ninputs, &copts, cs_plugin_lookup, db, &res);
    cm_info("compilation %s: %s in %lld ms (%zu errors, %zu warnings, attempt %d)", job->id,
            st == CC_OK ? "succeeded" : st == CC_INVALID ? "invalid" : "stopped",
            (long long) (cm_mono_ms() - t0), res.nerrors, res.nwarnings, job->attempts);
    s_settle(t, db, job, st, &res);
    s_running(t, NULL);
    cc_result_free(&res);
}

static void *s_thread(void *arg)
{
    s_thread_t *t = arg;
    cs_pool_t *p = t->pool;
    cm_db_t *db = cm_db_new(p->opts->database_url, 30000);
    unsigned long seen = 0;
    while (db && !p->stop) {
        cs_job_t job;
        int rc = cs_job_claim(db, t->worker, p->opts->lease_s, &job);
        if (rc == 1)
            s_run_job(t, db, &job);
        cs_job_clear(&job);
        if (rc != 1)
            s_wait(p, &seen);
    }
    if (!db)
        cm_error("compile thread %d: no database connection", t->index);
    cm_db_destroy(&db);
    return NULL;
}

cs_pool_t *cs_pool_new(const cs_options_t *opts)
{
    cs_pool_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->opts = opts;
    p->n = opts->threads > 0 ? opts->threads : 1;
    p->threads = calloc((size_t) p->n, sizeof *p->threads);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    unsigned char rnd[4];
    char hex[9];
    cm_random_bytes(rnd, sizeof rnd);
    cm_hex(rnd, sizeof rnd, hex);
    for (int i = 0; p->threads && i < p->n; i++) {
        s_thread_t *t = &p->threads[i];
        t->pool = p;
        t->index = i;
        snprintf(t->worker, sizeof t->worker, "%s/%d/%s/%d", *opts->instance ? opts->instance
                 : "compiler", (int) getpid(), hex, i);
        t->started = pthread_create(&t->tid, NULL, s_thread, t) == 0;
    }
    if (!p->threads || !p->threads[0].started)
        cs_pool_destroy(&p);
    return p;
}

void cs_pool_destroy(cs_pool_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cs_pool_t *p = *self_p;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    for (int i = 0; p->threads && i < p->n; i++)
        p->threads[i].cancel = S_SHUTDOWN;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; p->threads && i < p->n; i++)
        if (p->threads[i].started)
            pthread_join(p->threads[i].tid, NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    free(p->threads);
    free(p);
    *self_p = NULL;
}

void cs_pool_wake(cs_pool_t *self)
{
    pthread_mutex_lock(&self->lock);
    self->wakeups++;
    pthread_cond_signal(&self->wake);   /* one idle thread per queued job; busy ones see wakeups */
    pthread_mutex_unlock(&self->lock);
}

void cs_pool_renew(cs_pool_t *self, cm_db_t *db)
{
    const char *ids[CS_MAX_THREADS], *workers[CS_MAX_THREADS];
    char idbuf[CS_MAX_THREADS][37];
    int which[CS_MAX_THREADS];
    bool alive[CS_MAX_THREADS];
    size_t n = 0;
    int64_t now = cm_mono_ms();
    pthread_mutex_lock(&self->lock);
    for (int i = 0; i < self->n && n < CS_MAX_THREADS; i++) {
        s_thread_t *t = &self->threads[i];
        if (!*t->job)
            continue;
        if (self->opts->timeout_s > 0 && now - t->since_ms > self->opts->timeout_s * 1000LL)
            t->cancel = S_TIMED_OUT;
        memcpy(idbuf[n], t->job, sizeof idbuf[n]);
        ids[n] = idbuf[n];
        workers[n] = t->worker;
        which[n++] = i;
    }
    pthread_mutex_unlock(&self->lock);
    if (n == 0 || cs_job_renew(db, ids, workers, n, self->opts->lease_s, alive) != 0)
        return;
    pthread_mutex_lock(&self->lock);
    for (size_t k = 0; k < n; k++) {
        s_thread_t *t = &self->threads[which[k]];
        if (!alive[k] && strcmp(t->job, ids[k]) == 0 && t->cancel == S_RUN)
            t->cancel = S_CANCELLED;
    }
    pthread_mutex_unlock(&self->lock);
}

void cs_pool_cancel(cs_pool_t *self, const char *id)
{
    pthread_mutex_lock(&self->lock);
    for (int i = 0; i < self->n; i++)
        if (strcmp(self->threads[i].job, id) == 0 && self->threads[i].cancel == S_RUN)
            self->threads[i].cancel = S_CANCELLED;
    pthread_mutex_unlock(&self->lock);
}
