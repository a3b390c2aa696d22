/* The route table of the contract and the matcher over it. The table is the single source
 * of (method, path) -> (service, op); nothing here is mutable. */
#include "pr_routes.h"
#include <stdio.h>
#include <string.h>

#define R(m, p, s, o, b, a) { m, p, s, o, b, a },
const pr_route_t pr_routes[] = {
    R("GET", "/health", "registry", "health", PR_BODY_NONE, PR_AUTH_NONE)
    R("POST", "/init", "registry", "init.generate", PR_BODY_JSON, PR_AUTH_ADMIN)
    /* Specs */
    R("GET", "/specs", "registry", "spec.list", PR_BODY_NONE, PR_AUTH_ADMIN)
    R("POST", "/specs", "registry", "spec.upload", PR_BODY_SPEC, PR_AUTH_ADMIN)
    R("GET", "/specs/{id}", "registry", "spec.get", PR_BODY_NONE, PR_AUTH_ADMIN)
    R("DELETE", "/specs/{id}", "registry", "spec.delete", PR_BODY_NONE, PR_AUTH_ADMIN)
    R("GET", "/specs/{id}/history", "registry", "spec.history", PR_BODY_NONE, PR_AUTH_ADMIN)
    R("GET", "/specs/{id}/content", "registry", "spec.content", PR_BODY_NONE, PR_AUTH_ADMIN)
    /* Compilations */
    R("POST", "/specs/{id}/compile", "compiler", "compile.start", PR_BODY_JSON_OPT, PR_AUTH_ADMIN)
    R("GET", "/specs/{id}/compilations", "compiler", "compile.list", PR_BODY_NONE, PR_AUTH_ADMIN)
    R("GET", "/compilations/{id}", "compiler", "compile.get", PR_BODY_NONE, PR_AUTH_ADMIN)
    R("DELETE", "/compilations/{id}", "compiler", "compile.delete", PR_BODY_NONE, PR_AUTH_ADMIN)
    /* Plugins */
    R("GET", "/plugins", "registry", "plugin.list", PR_BODY_NONE, PR_AUTH_ADMIN)
    R("POST", "/plugins", "registry", "plugin.register", PR_BODY_PLUGIN, PR_AUTH_ADMIN)
    R("GET", "/plugins/{name}", "registry", "plugin.versions", PR_BODY_NONE, PR_AUTH_ADMIN)
    R("GET", "/plugins/{name}/{version}", "registry", "plugin.get", PR_BODY_NONE, PR_AUTH_ADMIN)
    R("DELETE", "/plugins/{name}/{version}", "registry", "plugin.delete", PR_BODY_NONE, PR_AUTH_ADMIN)
    R("GET", "/plugins/{name}/{version}/download", "registry", "plugin.download", PR_BODY_NONE, PR_AUTH_ADMIN)
    /* Artifacts */
    R("GET", "/artifacts", "compiler", "artifact.list", PR_BODY_NONE, PR_AUTH_ADMIN)
    R("GET", "/artifacts/{id}", "compiler", "artifact.get", PR_BODY_NONE, PR_AUTH_ADMIN)
    R("DELETE", "/artifacts/{id}", "compiler", "artifact.delete", PR_BODY_NONE, PR_AUTH_ADMIN)
    R("GET", "/artifacts/{id}/download", "compiler", "artifact.download", PR_BODY_NONE, PR_AUTH_ADMIN_OR_KEY)
    /* Projects */
    R("GET", "/projects", "registry", "project.list", PR_BODY_NONE, PR_AUTH_ADMIN)
    R("POST", "/projects", "registry", "project.create", PR_BODY_JSON, PR_AUTH_ADMIN)
    R("GET", "/projects/{projectId}", "registry", "project.get", PR_BODY_NONE, PR_AUTH_ADMIN)
    R("PUT", "/projects/{projectId}", "registry", "project.update", PR_BODY_JSON, PR_AUTH_ADMIN)
    R("DELETE", "/projects/{projectId}", "registry", "project.delete", PR_BODY_NONE, PR_AUTH_ADMIN)
    R("GET", "/projects/{projectId}/specs", "registry", "spec.list_project", PR_BODY_NONE, PR_AUTH_ADMIN)
    R("POST", "/projects/{projectId}/specs", "registry", "spec.upload_project", PR_BODY_SPEC, PR_AUTH_ADMIN)
    /* Data planes */
    R("GET", "/projects/{projectId}/data-planes", "registry", "dataplane.list", PR_BODY_NONE, PR_AUTH_ADMIN)
    R("GET", "/projects/{projectId}/data-planes/{dataPlaneId}", "registry", "dataplane.get", PR_BODY_NONE, PR_AUTH_ADMIN)
    R("DELETE", "/projects/{projectId}/data-planes/{dataPlaneId}", "registry", "dataplane.disconnect", PR_BODY_NONE, PR_AUTH_ADMIN)
    R("POST", "/projects/{projectId}/deploy", "registry", "deploy", PR_BODY_JSON_OPT, PR_AUTH_ADMIN)
    /* API keys */
    R("GET", "/projects/{projectId}/api-keys", "registry", "apikey.list", PR_BODY_NONE, PR_AUTH_ADMIN)
    R("POST", "/projects/{projectId}/api-keys", "registry", "apikey.create", PR_BODY_JSON, PR_AUTH_ADMIN)
    R("DELETE", "/projects/{projectId}/api-keys/{keyId}", "registry", "apikey.revoke", PR_BODY_NONE, PR_AUTH_ADMIN)
    R("POST", "/projects/{projectId}/api-keys/{keyId}/rotate", "registry", "apikey.rotate", PR_BODY_JSON_OPT, PR_AUTH_ADMIN)
    /* WebSocket, spliced by the gateway to a hub; metrics served by the gateway itself */
    R("GET", "/ws/data-plane", "hub", "ws.connect", PR_BODY_NONE, PR_AUTH_WS)
    R("GET", "/metrics", "gateway", "metrics", PR_BODY_NONE, PR_AUTH_ADMIN)
};
#undef R
const size_t pr_routes_count = sizeof pr_routes / sizeof pr_routes[0];

bool pr_param_is_uuid(const char *name)
{
    static const char *const uuids[] = { "id", "projectId", "dataPlaneId", "keyId" };
    for (size_t i = 0; i < sizeof uuids / sizeof uuids[0]; i++)
        if (strcmp(name, uuids[i]) == 0)
            return true;
    return false;
}

/* Compares one template against the split path; fills params on success. */
static bool s_match(const char *tmpl, char **segs, int nsegs, pr_match_t *m)
{
    int i = 0;
    m->nparams = 0;
    const char *t = tmpl;
    while (*t == '/') {
        t++;
        const char *end = strchr(t, '/');
        size_t tl = end ? (size_t) (end - t) : strlen(t);
        if (i >= nsegs)
            return false;
        if (t[0] == '{') {
            if (m->nparams == 4)
                return false;
            m->params[m->nparams].key = t; /* points into the template: "name}/..." */
            m->params[m->nparams++].val = segs[i];
        } else if (strlen(segs[i]) != tl || strncmp(segs[i], t, tl) != 0) {
            return false;
        }
        i++;
        t += tl;
    }
    return i == nsegs;
}

static int s_split(char *buf, char **segs, int max)
{
    int n = 0;
    char *p = buf;
    if (*p != '/')
        return -1;
    while (*p == '/') {
        *p++ = '\0';
        if (n == max)
            return -1;
        segs[n++] = p;
        char *slash = strchr(p, '/');
        if (!slash)
            break;
        p = slash;
    }
    for (int i = 0; i < n; i++)
        if (!*segs[i])
            return -1; /* empty segment: "//" or trailing slash */
    return n;
}

/* Template params are stored as pointers to "{name}"; rewrite them to bare names. */
static void s_param_names(pr_match_t *m)
{
    static const char *const known[] = { "id", "projectId", "dataPlaneId", "keyId",
                                         "name", "version" };
    for (size_t i = 0; i < m->nparams; i++) {
        const char *t = m->params[i].key + 1;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
            size_t n = strlen(known[k]);
            if (strncmp(t, known[k], n) == 0 && t[n] == '}')
                m->params[i].key = known[k];
        }
    }
}

static void s_allow_add(pr_match_t *m, const char *method)
{
    size_t at = strlen(m->allow);
    snprintf(m->allow + at, sizeof m->allow - at, "%s%s", at ? ", " : "", method);
}

int pr_route_match(const char *method, const char *path, pr_match_t *m)
{
    char *segs[8];
    memset(m, 0, sizeof *m);
    if (!path || strlen(path) >= sizeof m->buf)
        return -1;
    strcpy(m->buf, path);
    int nsegs = s_split(m->buf, segs, 8);
    if (nsegs < 0)
        return -1;
    bool known = false;
    pr_match_t tmp;
    for (size_t i = 0; i < pr_routes_count; i++) {
        if (!s_match(pr_routes[i].path, segs, nsegs, &tmp))
            continue;
        known = true;
        s_allow_add(m, pr_routes[i].method);
        if (!m->route && strcmp(pr_routes[i].method, method) == 0) {
            m->route = &pr_routes[i];
            m->nparams = tmp.nparams;
            memcpy(m->params, tmp.params, sizeof tmp.params);
        }
    }
    s_param_names(m);
    if (m->route)
        return 0;
    return known ? 1 : -1;
}

const pr_route_t *pr_route_by_op(const char *op)
{
    for (size_t i = 0; i < pr_routes_count; i++)
        if (strcmp(pr_routes[i].op, op) == 0)
            return &pr_routes[i];
    return NULL;
}
