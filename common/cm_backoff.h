/* Reconnect delays: jittered exponential backoff ("equal jitter"), never a fixed sleep, so a
 * fleet that lost its peer (workers their broker, data planes their hub) does not come back in
 * one wave. Pure; owns nothing. */
#ifndef CM_BACKOFF_H
#define CM_BACKOFF_H
#include <stdint.h>

/* The delay before reconnect attempt number attempt (0 = the first after a loss): the ceiling
 * min(max_ms, min_ms * 2^attempt), and a delay uniform in [ceiling/2, ceiling] drawn from rnd
 * (any 32-bit value). min_ms < 1 counts as 1; max_ms below min_ms counts as min_ms. */
int64_t cm_backoff_ms(int64_t min_ms, int64_t max_ms, unsigned attempt, uint32_t rnd);
/* The ceiling alone (what a delay of that attempt never exceeds). */
int64_t cm_backoff_ceiling_ms(int64_t min_ms, int64_t max_ms, unsigned attempt);

#endif
