/* The checker thread and its two job lists (to do, done), both FIFO under one mutex. The
 * thread touches only the job it holds; the service thread is woken through lws_cancel_service,
 * the one libwebsockets call that is safe from another thread. */
#include "ag_worker.h"
#include <libwebsockets.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ag_worker {
    pthread_t thread;
    bool started, stopping;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    ag_job_t *todo, *todo_tail, *done, *done_tail;
    struct lws_context *wake;
};

ag_job_t *ag_job_new(size_t session, uint64_t seq, const char *artifact_id, const char *path)
{
    ag_job_t *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->session = session;
    j->seq = seq;
    snprintf(j->artifact_id, sizeof j->artifact_id, "%s", artifact_id ? artifact_id : "");
    j->path = strdup(path ? path : "");
    if (!j->path)
        ag_job_destroy(&j);
    return j;
}

void ag_job_destroy(ag_job_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->path);
    free(*self_p);
    *self_p = NULL;
}

static void s_push(ag_job_t **head, ag_job_t **tail, ag_job_t *j)
{
    j->next = NULL;
    if (*tail)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

static ag_job_t *s_pop(ag_job_t **head, ag_job_t **tail)
{
    ag_job_t *j = *head;
    if (j) {
        *head = j->next;
        if (!*head)
            *tail = NULL;
        j->next = NULL;
    }
    return j;
}

static void *s_run(void *arg)
{
    ag_worker_t *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->stopping && !w->todo)
            pthread_cond_wait(&w->cond, &w->lock);
        if (w->stopping)
            break;
        ag_job_t *j = s_pop(&w->todo, &w->todo_tail);
        pthread_mutex_unlock(&w->lock);
        j->rc = ag_check_file(j->path, &j->artifact, j->error, sizeof j->error);
        pthread_mutex_lock(&w->lock);
        s_push(&w->done, &w->done_tail, j);
        if (w->wake)
            lws_cancel_service(w->wake);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

ag_worker_t *ag_worker_new(struct lws_context *wake)
{
    ag_worker_t *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->wake = wake;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    /* signals go to the service thread, whose poll they interrupt */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    w->started = pthread_create(&w->thread, NULL, s_run, w) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!w->started)
        ag_worker_destroy(&w);
    return w;
}

static void s_free_list(ag_job_t *j)
{
    while (j) {
        ag_job_t *next = j->next;
        ag_job_destroy(&j);
        j = next;
    }
}

void ag_worker_destroy(ag_worker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ag_worker_t *w = *self_p;
    if (w->started) {
        pthread_mutex_lock(&w->lock);
        w->stopping = true;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
        pthread_join(w->thread, NULL);
    }
    s_free_list(w->todo);
    s_free_list(w->done);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w);
    *self_p = NULL;
}

int ag_worker_submit(ag_worker_t *self, ag_job_t **job_p)
{
    ag_job_t *j = *job_p;
    *job_p = NULL;
    pthread_mutex_lock(&self->lock);
    bool stopping = self->stopping;
    if (!stopping) {
        s_push(&self->todo, &self->todo_tail, j);
        pthread_cond_signal(&self->cond);
    }
    pthread_mutex_unlock(&self->lock);
    if (stopping)
        ag_job_destroy(&j);
    return stopping ? -1 : 0;
}

ag_job_t *ag_worker_take(ag_worker_t *self)
{
    pthread_mutex_lock(&self->lock);
    ag_job_t *j = s_pop(&self->done, &self->done_tail);
    pthread_mutex_unlock(&self->lock);
    return j;
}
