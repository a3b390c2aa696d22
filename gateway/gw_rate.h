/* Per-client-address token buckets in a fixed table (no allocation per client): rates of new
 * connections and of failed authentications. A full table forgets the stalest address first,
 * so memory stays bounded whatever the number of addresses. Owns: a gw_rate_t. */
#ifndef GW_RATE_H
#define GW_RATE_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct gw_rate gw_rate_t;

/* burst tokens per address, refilled at per_second. Caller owns the result; NULL on OOM. */
gw_rate_t *gw_rate_new(double per_second, double burst);
void gw_rate_destroy(gw_rate_t **self_p);
/* Takes a token for addr; false when addr has none left (then nothing is taken). */
bool gw_rate_take(gw_rate_t *self, const struct sockaddr *addr, int64_t now_ms);
/* Seconds until addr has a token again (0 when it has one now). */
int gw_rate_wait_s(gw_rate_t *self, const struct sockaddr *addr, int64_t now_ms);

#endif
