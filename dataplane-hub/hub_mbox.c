/* The mailbox: a singly linked FIFO under one mutex. Owns the queued items until they are
 * taken; the wake-up is called under the lock so it cannot outlive what it wakes. */
#include "hub_mbox.h"
#include "cm_util.h"
#include <pthread.h>
#include <stdlib.h>

struct hub_mbox {
    pthread_mutex_t lock;
    hub_item_t *head, *tail;
    size_t n;
    hub_wake_fn *wake;
    void *arg;
};

hub_item_t *hub_item_new(hub_item_type_t type)
{
    hub_item_t *it = calloc(1, sizeof *it);
    if (it) {
        it->type = type;
        it->posted_ms = cm_mono_ms();
    }
    return it;
}

void hub_item_destroy(hub_item_t **item_p)
{
    if (!item_p || !*item_p)
        return;
    hub_item_t *it = *item_p;
    free(it->metadata);
    free(it->refs);
    free(it->flush);
    free(it->projects);
    hub_keys_destroy(&it->keys);
    free(it);
    *item_p = NULL;
}

hub_mbox_t *hub_mbox_new(hub_wake_fn *wake, void *arg)
{
    hub_mbox_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (pthread_mutex_init(&self->lock, NULL) != 0) {
        free(self);
        return NULL;
    }
    self->wake = wake;
    self->arg = arg;
    return self;
}

void hub_mbox_destroy(hub_mbox_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hub_mbox_t *self = *self_p;
    hub_item_t *it = self->head;
    while (it) {
        hub_item_t *next = it->next;
        hub_item_destroy(&it);
        it = next;
    }
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

void hub_mbox_set_wake(hub_mbox_t *self, hub_wake_fn *wake, void *arg)
{
    pthread_mutex_lock(&self->lock);
    self->wake = wake;
    self->arg = arg;
    pthread_mutex_unlock(&self->lock);
}

void hub_mbox_post(hub_mbox_t *self, hub_item_t **item_p)
{
    if (!item_p || !*item_p)
        return;
    hub_item_t *it = *item_p;
    *item_p = NULL;
    it->next = NULL;
    pthread_mutex_lock(&self->lock);
    bool was_empty = self->head == NULL;
    if (self->tail)
        self->tail->next = it;
    else
        self->head = it;
    self->tail = it;
    self->n++;
    /* The receiver takes everything once woken, so a wake-up per empty->non-empty edge is
     * enough; calling it under the lock keeps it from racing hub_mbox_set_wake(NULL). */
    if (was_empty && self->wake)
        self->wake(self->arg);
    pthread_mutex_unlock(&self->lock);
}

hub_item_t *hub_mbox_take(hub_mbox_t *self)
{
    pthread_mutex_lock(&self->lock);
    hub_item_t *all = self->head;
    self->head = self->tail = NULL;
    self->n = 0;
    pthread_mutex_unlock(&self->lock);
    return all;
}

size_t hub_mbox_pending(hub_mbox_t *self)
{
    pthread_mutex_lock(&self->lock);
    size_t n = self->n;
    pthread_mutex_unlock(&self->lock);
    return n;
}
