/* The route table: every operation of contract/openapi.yaml mapped to (service, op), with
 * the body it takes and how it is authenticated. Read-only, shared by gateway, services, tests. */
#ifndef PR_ROUTES_H
#define PR_ROUTES_H
#include <stdbool.h>
#include <stddef.h>
#include "pr_envelope.h"

typedef enum {
    PR_BODY_NONE,         /* no body expected (one sent is ignored) */
    PR_BODY_JSON,         /* required JSON object */
    PR_BODY_JSON_OPT,     /* optional JSON: absent, empty or {} */
    PR_BODY_SPEC,         /* multipart, spec upload limit */
    PR_BODY_PLUGIN,       /* multipart, plugin upload limit */
} pr_body_t;

typedef enum {
    PR_AUTH_ADMIN,        /* admin bearer token */
    PR_AUTH_NONE,         /* /health */
    PR_AUTH_ADMIN_OR_KEY, /* admin token or a data-plane key (checked by the service) */
    PR_AUTH_WS,           /* WebSocket splice: the hub authenticates */
} pr_auth_t;

typedef struct {
    const char *method;
    const char *path;     /* template, e.g. /projects/{projectId} */
    const char *service;  /* "registry", "compiler", "hub", "gateway" */
    const char *op;       /* stable operation name, e.g. project.get */
    pr_body_t body;
    pr_auth_t auth;
} pr_route_t;

typedef struct {
    const pr_route_t *route;       /* NULL when nothing matched the method */
    pr_kv_t params[4];             /* path parameters, pointing into the caller's buffer */
    size_t nparams;
    char allow[64];                /* methods allowed on the path, "GET, POST" */
    char buf[1024];                /* copy of the path the params point into */
} pr_match_t;

extern const pr_route_t pr_routes[];
extern const size_t pr_routes_count;

/* Matches method + path. Returns 0 with m->route set, 1 when the path is known but not the
 * method (m->allow filled), -1 when no route has this path. */
int pr_route_match(const char *method, const char *path, pr_match_t *m);
/* True when a path parameter of this name must be a UUID. */
bool pr_param_is_uuid(const char *name);
/* The route for an op name, or NULL. */
const pr_route_t *pr_route_by_op(const char *op);

#endif
