/* The in-memory cache of live API keys the lws thread checks a bearer key against before
 * upgrading (it cannot wait for PostgreSQL): SHA-256 of the key -> key id, project, expiry,
 * scope. Built whole by the database thread and handed over by ownership; read-only after.
 * Owns: a hub_keys_t (an open-addressing table). */
#ifndef HUB_KEYS_H
#define HUB_KEYS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    unsigned char hash[32];
    char key_id[37], project_id[37];
    int64_t expires_ms;        /* Unix ms; 0 = never */
    bool connect_scope;        /* has data-plane:connect */
} hub_key_t;

typedef struct hub_keys hub_keys_t;

/* An empty cache sized for about n keys; caller owns it. NULL when out of memory. */
hub_keys_t *hub_keys_new(size_t n);
void hub_keys_destroy(hub_keys_t **self_p);
/* Adds (or replaces) one key, growing the table as needed. 0 or -1 (out of memory). */
int hub_keys_add(hub_keys_t *self, const hub_key_t *key);
size_t hub_keys_size(const hub_keys_t *self);
/* The key with this hash, borrowed from self; NULL when unknown. */
const hub_key_t *hub_keys_find(const hub_keys_t *self, const unsigned char hash[32]);
/* True when the hash is a known key with scope data-plane:connect, unexpired at now_ms. */
bool hub_keys_allows(const hub_keys_t *self, const unsigned char hash[32], int64_t now_ms);

#endif
