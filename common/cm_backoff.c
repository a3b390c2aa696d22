/* Jittered exponential backoff, for every reconnect: the service worker's to the broker and the
 * agent's to its hub (the real data plane doubles a fixed delay from 1 s to 60 s; the agent
 * keeps that ceiling). Each delay is drawn in the upper half of its ceiling. Owns nothing. */
#include "cm_backoff.h"

int64_t cm_backoff_ceiling_ms(int64_t min_ms, int64_t max_ms, unsigned attempt)
{
    if (min_ms < 1)
        min_ms = 1;
    if (max_ms < min_ms)
        max_ms = min_ms;
    int64_t c = min_ms;
    for (unsigned i = 0; i < attempt && c < max_ms; i++)
        c = c > max_ms / 2 ? max_ms : c * 2;
    return c < max_ms ? c : max_ms;
}

int64_t cm_backoff_ms(int64_t min_ms, int64_t max_ms, unsigned attempt, uint32_t rnd)
{
    int64_t c = cm_backoff_ceiling_ms(min_ms, max_ms, attempt);
    int64_t half = c / 2;
    /* rnd / 2^32 scales the upper half [c - half, c] */
    return c - half + (int64_t) (((uint64_t) rnd * (uint64_t) (half + 1)) >> 32);
}
