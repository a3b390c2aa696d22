/* Convergence rules for one data plane (compare artifact_hash, not ids). Owns nothing: every
 * function reads or updates the caller's hub_conv_t. */
#include "hub_conv.h"
#include <stdio.h>
#include <string.h>

const char *hub_status_name(hub_status_t st)
{
    return st == HUB_STATUS_DEPLOYING ? "deploying" : "online";
}

hub_status_t hub_conv_status(const hub_conv_t *c)
{
    return c->has_pending ? HUB_STATUS_DEPLOYING : HUB_STATUS_ONLINE;
}

bool hub_desired_equal(const hub_desired_t *a, const hub_desired_t *b)
{
    if (a->has != b->has)
        return false;
    return !a->has || (strcmp(a->artifact_id, b->artifact_id) == 0
                       && strcmp(a->artifact_hash, b->artifact_hash) == 0
                       && strcmp(a->sha256, b->sha256) == 0);
}

static bool s_runs(const hub_conv_t *c, const hub_desired_t *d)
{
    return c->has_reported && strcmp(c->reported, d->artifact_hash) == 0;
}

static bool s_pending_for(const hub_conv_t *c, const hub_desired_t *d, int64_t now_ms,
                          int64_t ttl_ms)
{
    return c->has_pending && strcmp(c->pending, d->artifact_id) == 0
           && now_ms - c->pending_since_ms < ttl_ms;
}

bool hub_conv_needs(const hub_conv_t *c, const hub_desired_t *d, int64_t now_ms,
                    int64_t pending_ttl_ms)
{
    return d->has && !s_runs(c, d) && !s_pending_for(c, d, now_ms, pending_ttl_ms);
}

void hub_conv_announced(hub_conv_t *c, const hub_desired_t *d, int64_t now_ms)
{
    c->has_pending = true;
    snprintf(c->pending, sizeof c->pending, "%s", d->artifact_id);
    c->pending_since_ms = now_ms;
}

bool hub_conv_heartbeat(hub_conv_t *c, const char *hash, const hub_desired_t *d)
{
    c->has_reported = hash != NULL;
    snprintf(c->reported, sizeof c->reported, "%s", hash ? hash : "");
    if (c->has_pending && d->has && strcmp(c->pending, d->artifact_id) == 0 && s_runs(c, d))
        c->has_pending = false;
    c->drift = d->has && c->has_reported && !s_runs(c, d) && !c->has_pending;
    return c->drift;
}

void hub_conv_downloaded(hub_conv_t *c, const char *artifact_id, bool success,
                         const hub_desired_t *d)
{
    if (!c->has_pending || strcmp(c->pending, artifact_id) != 0)
        return;
    c->has_pending = false;
    if (success && d->has && strcmp(d->artifact_id, artifact_id) == 0) {
        c->has_reported = true;
        snprintf(c->reported, sizeof c->reported, "%s", d->artifact_hash);
        c->drift = false;
    }
}
