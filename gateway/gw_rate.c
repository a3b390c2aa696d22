/* Token buckets per client address. Owns a fixed array of slots, indexed by a keyed hash of
 * the address (so a remote peer cannot aim collisions), each holding one address's bucket. */
#include "gw_rate.h"
#include "cm_util.h"
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#define GW_RATE_SLOTS 8192
#define GW_RATE_WAYS 4

typedef struct {
    unsigned char addr[16];
    double tokens;
    int64_t at_ms;          /* last refill; 0 = empty slot */
} s_slot_t;

struct gw_rate {
    double rate, burst;
    uint64_t key;
    s_slot_t slots[GW_RATE_SLOTS];
};

/* IPv4 addresses are stored as v4-mapped IPv6. */
static void s_addr(const struct sockaddr *sa, unsigned char out[16])
{
    memset(out, 0, 16);
    if (sa && sa->sa_family == AF_INET) {
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &((const struct sockaddr_in *) sa)->sin_addr, 4);
    } else if (sa && sa->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *) sa)->sin6_addr, 16);
    }
}

static size_t s_index(const gw_rate_t *self, const unsigned char a[16])
{
    uint64_t h = self->key ^ 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 16; i++)
        h = (h ^ a[i]) * 0x100000001b3ull;
    return (size_t) (h % (GW_RATE_SLOTS / GW_RATE_WAYS)) * GW_RATE_WAYS;
}

/* The slot of addr, refilled to now; a new one replaces the stalest of its set. */
static s_slot_t *s_slot(gw_rate_t *self, const struct sockaddr *sa, int64_t now)
{
    unsigned char a[16];
    s_addr(sa, a);
    s_slot_t *set = &self->slots[s_index(self, a)], *oldest = set;
    for (int i = 0; i < GW_RATE_WAYS; i++) {
        if (set[i].at_ms && memcmp(set[i].addr, a, 16) == 0) {
            s_slot_t *s = &set[i];
            s->tokens += (double) (now - s->at_ms) / 1000.0 * self->rate;
            if (s->tokens > self->burst)
                s->tokens = self->burst;
            s->at_ms = now;
            return s;
        }
        if (set[i].at_ms < oldest->at_ms)
            oldest = &set[i];
    }
    memcpy(oldest->addr, a, 16);
    oldest->tokens = self->burst;
    oldest->at_ms = now > 0 ? now : 1;
    return oldest;
}

gw_rate_t *gw_rate_new(double per_second, double burst)
{
    gw_rate_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->rate = per_second;
    self->burst = burst >= 1 ? burst : 1;
    cm_random_bytes(&self->key, sizeof self->key);
    return self;
}

void gw_rate_destroy(gw_rate_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

bool gw_rate_take(gw_rate_t *self, const struct sockaddr *addr, int64_t now_ms)
{
    s_slot_t *s = s_slot(self, addr, now_ms);
    if (s->tokens < 1.0)
        return false;
    s->tokens -= 1.0;
    return true;
}

int gw_rate_wait_s(gw_rate_t *self, const struct sockaddr *addr, int64_t now_ms)
{
    s_slot_t *s = s_slot(self, addr, now_ms);
    if (s->tokens >= 1.0 || self->rate <= 0)
        return s->tokens >= 1.0 ? 0 : 60;
    return (int) ((1.0 - s->tokens) / self->rate) + 1;
}
