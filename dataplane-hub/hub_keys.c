/* The live-key cache: open addressing on the first eight bytes of each key's SHA-256 (uniform
 * by construction), load factor at most one half. Owns its slot array. */
#include "hub_keys.h"
#include "cm_util.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>


struct hub_keys {
    hub_key_t *slots;
    bool *used;
    size_t cap, n;   /* cap: a power of two */
};

static size_t s_cap_for(size_t n)
{
    size_t cap = 16;
    while (cap < n * 2 + 2)
        cap *= 2;
    return cap;
}

static size_t s_start(const unsigned char hash[32], size_t cap)
{
    uint64_t h;
    memcpy(&h, hash, sizeof h);
    return (size_t) (h & (cap - 1));
}

hub_keys_t *hub_keys_new(size_t n)
{
    hub_keys_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cap = s_cap_for(n);
    self->slots = calloc(self->cap, sizeof *self->slots);
    self->used = calloc(self->cap, sizeof *self->used);
    if (!self->slots || !self->used)
        hub_keys_destroy(&self);
    return self;
}

void hub_keys_destroy(hub_keys_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->slots);
    free((*self_p)->used);
    free(*self_p);
    *self_p = NULL;
}

/* The slot holding hash, or the empty slot where it would go. */
static size_t s_probe(const hub_keys_t *self, const unsigned char hash[32])
{
    size_t i = s_start(hash, self->cap);
    while (self->used[i] && memcmp(self->slots[i].hash, hash, 32) != 0)
        i = (i + 1) & (self->cap - 1);
    return i;
}

static int s_grow(hub_keys_t *self)
{
    hub_keys_t bigger = { .cap = self->cap * 2 };
    bigger.slots = calloc(bigger.cap, sizeof *bigger.slots);
    bigger.used = calloc(bigger.cap, sizeof *bigger.used);
    if (!bigger.slots || !bigger.used) {
        free(bigger.slots);
        free(bigger.used);
        return -1;
    }
    for (size_t i = 0; i < self->cap; i++)
        if (self->used[i]) {
            size_t j = s_probe(&bigger, self->slots[i].hash);
            bigger.slots[j] = self->slots[i];
            bigger.used[j] = true;
        }
    free(self->slots);
    free(self->used);
    self->slots = bigger.slots;
    self->used = bigger.used;
    self->cap = bigger.cap;
    return 0;
}

int hub_keys_add(hub_keys_t *self, const hub_key_t *key)
{
    if ((self->n + 1) * 2 > self->cap && s_grow(self) != 0)
        return -1;
    size_t i = s_probe(self, key->hash);
    if (!self->used[i])
        self->n++;
    self->slots[i] = *key;
    self->used[i] = true;
    return 0;
}

size_t hub_keys_size(const hub_keys_t *self)
{
    return self ? self->n : 0;
}

const hub_key_t *hub_keys_find(const hub_keys_t *self, const unsigned char hash[32])
{
    if (!self)
        return NULL;
    size_t i = s_probe(self, hash);
    return self->used[i] ? &self->slots[i] : NULL;
}

bool hub_keys_allows(const hub_keys_t *self, const unsigned char hash[32], int64_t now_ms)
{
    const hub_key_t *k = hub_keys_find(self, hash);
    return k && k->connect_scope && (k->expires_ms == 0 || now_ms < k->expires_ms);
}
