/* test_routes.c — cmocka unit tests for the route table and matcher (proto/pr_routes.c).
 * Owns: a hand-written copy of every path+method of contract/openapi.yaml plus the extensions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "pr_routes.h"

#define P "1b4e28ba-2fa1-41d2-883f-0016d3cca427" /* projectId / id */
#define K "9f0c3a55-6d2e-4b7a-8c1d-2e3f4a5b6c7d" /* keyId / dataPlaneId */

typedef struct {
    const char *method;
    const char *tmpl;     /* the contract's template, to cross-check the table */
    const char *sample;   /* a concrete request path */
    const char *service;
    const char *op;
    pr_body_t body;
    pr_auth_t auth;
    const char *p1, *v1, *p2, *v2; /* expected params in order, NULL when absent */
} s_case_t;

/* Every operation of /work/shared/contract/openapi.yaml, then the NOTES.md extensions. */
static const s_case_t s_cases[] = {
    { "GET", "/health", "/health", "registry", "health", PR_BODY_NONE, PR_AUTH_NONE,
      NULL, NULL, NULL, NULL },
    { "POST", "/init", "/init", "registry", "init.generate", PR_BODY_JSON, PR_AUTH_ADMIN,
      NULL, NULL, NULL, NULL },
    { "GET", "/specs", "/specs", "registry", "spec.list", PR_BODY_NONE, PR_AUTH_ADMIN,
      NULL, NULL, NULL, NULL },
    { "POST", "/specs", "/specs", "registry", "spec.upload", PR_BODY_SPEC, PR_AUTH_ADMIN,
      NULL, NULL, NULL, NULL },
    { "GET", "/specs/{id}", "/specs/" P, "registry", "spec.get", PR_BODY_NONE, PR_AUTH_ADMIN,
      "id", P, NULL, NULL },
    { "DELETE", "/specs/{id}", "/specs/" P, "registry", "spec.delete", PR_BODY_NONE,
      PR_AUTH_ADMIN, "id", P, NULL, NULL },
    { "GET", "/specs/{id}/history", "/specs/" P "/history", "registry", "spec.history",
      PR_BODY_NONE, PR_AUTH_ADMIN, "id", P, NULL, NULL },
    { "GET", "/specs/{id}/content", "/specs/" P "/content", "registry", "spec.content",
      PR_BODY_NONE, PR_AUTH_ADMIN, "id", P, NULL, NULL },
    { "POST", "/specs/{id}/compile", "/specs/" P "/compile", "compiler", "compile.start",
      PR_BODY_JSON_OPT, PR_AUTH_ADMIN, "id", P, NULL, NULL },
    { "GET", "/specs/{id}/compilations", "/specs/" P "/compilations", "compiler",
      "compile.list", PR_BODY_NONE, PR_AUTH_ADMIN, "id", P, NULL, NULL },
    { "GET", "/compilations/{id}", "/compilations/" K, "compiler", "compile.get", PR_BODY_NONE,
      PR_AUTH_ADMIN, "id", K, NULL, NULL },
    { "DELETE", "/compilations/{id}", "/compilations/" K, "compiler", "compile.delete",
      PR_BODY_NONE, PR_AUTH_ADMIN, "id", K, NULL, NULL },
    { "GET", "/plugins", "/plugins", "registry", "plugin.list", PR_BODY_NONE, PR_AUTH_ADMIN,
      NULL, NULL, NULL, NULL },
    { "POST", "/plugins", "/plugins", "registry", "plugin.register", PR_BODY_PLUGIN,
      PR_AUTH_ADMIN, NULL, NULL, NULL, NULL },
    { "GET", "/plugins/{name}", "/plugins/mock", "registry", "plugin.versions", PR_BODY_NONE,
      PR_AUTH_ADMIN, "name", "mock", NULL, NULL },
    { "GET", "/plugins/{name}/{version}", "/plugins/mock/1.0.0", "registry", "plugin.get",
      PR_BODY_NONE, PR_AUTH_ADMIN, "name", "mock", "version", "1.0.0" },
    { "DELETE", "/plugins/{name}/{version}", "/plugins/mock/1.0.0", "registry",
      "plugin.delete", PR_BODY_NONE, PR_AUTH_ADMIN, "name", "mock", "version", "1.0.0" },
    { "GET", "/plugins/{name}/{version}/download", "/plugins/rate-limit/0.10.2/download",
      "registry", "plugin.download", PR_BODY_NONE, PR_AUTH_ADMIN, "name", "rate-limit",
      "version", "0.10.2" },
    { "GET", "/artifacts", "/artifacts", "compiler", "artifact.list", PR_BODY_NONE,
      PR_AUTH_ADMIN, NULL, NULL, NULL, NULL },
    { "GET", "/artifacts/{id}", "/artifacts/" K, "compiler", "artifact.get", PR_BODY_NONE,
      PR_AUTH_ADMIN, "id", K, NULL, NULL },
    { "DELETE", "/artifacts/{id}", "/artifacts/" K, "compiler", "artifact.delete",
      PR_BODY_NONE, PR_AUTH_ADMIN, "id", K, NULL, NULL },
    { "GET", "/artifacts/{id}/download", "/artifacts/" K "/download", "compiler",
      "artifact.download", PR_BODY_NONE, PR_AUTH_ADMIN_OR_KEY, "id", K, NULL, NULL },
    { "GET", "/projects", "/projects", "registry", "project.list", PR_BODY_NONE, PR_AUTH_ADMIN,
      NULL, NULL, NULL, NULL },
    { "POST", "/projects", "/projects", "registry", "project.create", PR_BODY_JSON,
      PR_AUTH_ADMIN, NULL, NULL, NULL, NULL },
    { "GET", "/projects/{projectId}", "/projects/" P, "registry", "project.get", PR_BODY_NONE,
      PR_AUTH_ADMIN, "projectId", P, NULL, NULL },
    { "PUT", "/projects/{projectId}", "/projects/" P, "registry", "project.update",
      PR_BODY_JSON, PR_AUTH_ADMIN, "projectId", P, NULL, NULL },
    { "DELETE", "/projects/{projectId}", "/projects/" P, "registry", "project.delete",
      PR_BODY_NONE, PR_AUTH_ADMIN, "projectId", P, NULL, NULL },
    { "GET", "/projects/{projectId}/data-planes", "/projects/" P "/data-planes", "registry",
      "dataplane.list", PR_BODY_NONE, PR_AUTH_ADMIN, "projectId", P, NULL, NULL },
    { "GET", "/projects/{projectId}/data-planes/{dataPlaneId}",
      "/projects/" P "/data-planes/" K, "registry", "dataplane.get", PR_BODY_NONE,
      PR_AUTH_ADMIN, "projectId", P, "dataPlaneId", K },
    { "DELETE", "/projects/{projectId}/data-planes/{dataPlaneId}",
      "/projects/" P "/data-planes/" K, "registry", "dataplane.disconnect", PR_BODY_NONE,
      PR_AUTH_ADMIN, "projectId", P, "dataPlaneId", K },
    { "POST", "/projects/{projectId}/deploy", "/projects/" P "/deploy", "registry", "deploy",
      PR_BODY_JSON_OPT, PR_AUTH_ADMIN, "projectId", P, NULL, NULL },
    { "GET", "/projects/{projectId}/api-keys", "/projects/" P "/api-keys", "registry",
      "apikey.list", PR_BODY_NONE, PR_AUTH_ADMIN, "projectId", P, NULL, NULL },
    { "POST", "/projects/{projectId}/api-keys", "/projects/" P "/api-keys", "registry",
      "apikey.create", PR_BODY_JSON, PR_AUTH_ADMIN, "projectId", P, NULL, NULL },
    { "DELETE", "/projects/{projectId}/api-keys/{keyId}", "/projects/" P "/api-keys/" K,
      "registry", "apikey.revoke", PR_BODY_NONE, PR_AUTH_ADMIN, "projectId", P, "keyId", K },
    { "GET", "/ws/data-plane", "/ws/data-plane", "hub", "ws.connect", PR_BODY_NONE, PR_AUTH_WS,
      NULL, NULL, NULL, NULL },
    /* Extensions (NOTES.md, DESIGN.md). */
    { "GET", "/projects/{projectId}/specs", "/projects/" P "/specs", "registry",
      "spec.list_project", PR_BODY_NONE, PR_AUTH_ADMIN, "projectId", P, NULL, NULL },
    { "POST", "/projects/{projectId}/specs", "/projects/" P "/specs", "registry",
      "spec.upload_project", PR_BODY_SPEC, PR_AUTH_ADMIN, "projectId", P, NULL, NULL },
    { "POST", "/projects/{projectId}/api-keys/{keyId}/rotate",
      "/projects/" P "/api-keys/" K "/rotate", "registry", "apikey.rotate", PR_BODY_JSON_OPT,
      PR_AUTH_ADMIN, "projectId", P, "keyId", K },
    { "GET", "/metrics", "/metrics", "gateway", "metrics", PR_BODY_NONE, PR_AUTH_ADMIN,
      NULL, NULL, NULL, NULL },
};
#define S_NCASES (sizeof s_cases / sizeof s_cases[0])
#define S_NCONTRACT 35 /* operations in openapi.yaml; the rest are extensions */

/* ---------------------------------------------------------------- matching */

static void s_check_case(const s_case_t *c)
{
    pr_match_t m;
    int rc = pr_route_match(c->method, c->sample, &m);
    if (rc != 0)
        fail_msg("%s %s: rc %d, want 0", c->method, c->sample, rc);
    assert_non_null(m.route);
    if (strcmp(m.route->service, c->service) != 0 || strcmp(m.route->op, c->op) != 0)
        fail_msg("%s %s: got %s/%s, want %s/%s", c->method, c->sample, m.route->service,
                 m.route->op, c->service, c->op);
    assert_string_equal(m.route->method, c->method);
    assert_string_equal(m.route->path, c->tmpl);
    if (m.route->body != c->body || m.route->auth != c->auth)
        fail_msg("%s %s: body %d auth %d, want %d %d", c->method, c->tmpl, m.route->body,
                 m.route->auth, c->body, c->auth);
    size_t want = c->p2 ? 2 : c->p1 ? 1 : 0;
    if (m.nparams != want)
        fail_msg("%s %s: %zu params, want %zu", c->method, c->sample, m.nparams, want);
    if (c->p1) {
        assert_string_equal(m.params[0].key, c->p1);
        assert_string_equal(m.params[0].val, c->v1);
        assert_string_equal(pr_kv_get(m.params, m.nparams, c->p1), c->v1);
    }
    if (c->p2) {
        assert_string_equal(m.params[1].key, c->p2);
        assert_string_equal(m.params[1].val, c->v2);
    }
}

static void test_every_contract_route(void **state)
{
    (void) state;
    for (size_t i = 0; i < S_NCASES; i++)
        s_check_case(&s_cases[i]);
}

/* The table holds exactly the contract's operations and the listed extensions: nothing more. */
static void test_table_matches_contract(void **state)
{
    (void) state;
    assert_int_equal(pr_routes_count, S_NCASES);
    for (size_t r = 0; r < pr_routes_count; r++) {
        bool found = false;
        for (size_t i = 0; i < S_NCASES && !found; i++)
            found = strcmp(pr_routes[r].method, s_cases[i].method) == 0
                    && strcmp(pr_routes[r].path, s_cases[i].tmpl) == 0;
        if (!found)
            fail_msg("route %s %s is neither in the contract nor a listed extension",
                     pr_routes[r].method, pr_routes[r].path);
    }
    /* The contract's own operations are all served by the services the design names. */
    for (size_t i = 0; i < S_NCONTRACT; i++)
        assert_true(strcmp(s_cases[i].service, "gateway") != 0);
}

/* Params point into m->buf, a copy: the caller's path is not modified. */
static void test_params_are_copies(void **state)
{
    (void) state;
    char path[] = "/projects/" P "/api-keys/" K "/rotate";
    char orig[sizeof path];
    memcpy(orig, path, sizeof path);
    pr_match_t m;
    assert_int_equal(pr_route_match("POST", path, &m), 0);
    assert_memory_equal(path, orig, sizeof path);
    assert_true(m.params[0].val >= m.buf && m.params[0].val < m.buf + sizeof m.buf);
    assert_true(m.params[1].val >= m.buf && m.params[1].val < m.buf + sizeof m.buf);
    /* Values are whole segments, not the rest of the path. */
    assert_int_equal(strlen(m.params[0].val), 36);
    assert_int_equal(strlen(m.params[1].val), 36);
}

/* Param values are taken verbatim; validation is the service's job. */
static void test_params_not_validated_here(void **state)
{
    (void) state;
    pr_match_t m;
    assert_int_equal(pr_route_match("GET", "/projects/not-a-uuid", &m), 0);
    assert_string_equal(m.route->op, "project.get");
    assert_string_equal(m.params[0].key, "projectId");
    assert_string_equal(m.params[0].val, "not-a-uuid");
    /* /plugins/{name}/{version} with a version that looks like a keyword. */
    assert_int_equal(pr_route_match("GET", "/plugins/x/download", &m), 0);
    assert_string_equal(m.route->op, "plugin.get");
    assert_string_equal(m.params[1].key, "version");
    assert_string_equal(m.params[1].val, "download");
}

static void test_unknown_paths(void **state)
{
    (void) state;
    static const char *const bad[] = {
        "/nope", "/projects/x/y/z/w", "", "projects", "/projects/", "//projects", "/",
        "/health/", "/HEALTH", "/projects//api-keys", "/projects/" P "/api-keys/" K "/rotate/x",
        "/specs/" P "/unknown", "/plugins/a/b/c/d", "/ws", "/ws/data-plane/x",
        "/a/b/c/d/e/f/g/h/i/j", "/health?x=1", "health",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pr_match_t m;
        int rc = pr_route_match("GET", bad[i], &m);
        if (rc != -1)
            fail_msg("GET '%s': rc %d, want -1", bad[i], rc);
        assert_null(m.route);
        assert_string_equal(m.allow, "");
    }
    pr_match_t m;
    assert_int_equal(pr_route_match("GET", NULL, &m), -1);
    /* A path longer than the match buffer is refused, not truncated into a match. */
    char longp[2048];
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = '\0';
    assert_int_equal(pr_route_match("GET", longp, &m), -1);
    char longid[1100] = "/specs/";
    memset(longid + 7, 'a', sizeof longid - 8);
    longid[sizeof longid - 1] = '\0';
    assert_int_equal(pr_route_match("GET", longid, &m), -1);
}

static void test_wrong_method(void **state)
{
    (void) state;
    static const struct { const char *method, *path, *allow; } cases[] = {
        { "PATCH", "/projects", "GET, POST" },
        { "POST", "/projects/" P, "GET, PUT, DELETE" },
        { "PATCH", "/projects/" P, "GET, PUT, DELETE" },
        { "PUT", "/health", "GET" },
        { "GET", "/init", "POST" },
        { "DELETE", "/specs", "GET, POST" },
        { "PUT", "/specs/" P, "GET, DELETE" },
        { "GET", "/specs/" P "/compile", "POST" },
        { "POST", "/compilations/" P, "GET, DELETE" },
        { "POST", "/plugins/mock/1.0.0", "GET, DELETE" },
        { "DELETE", "/plugins/mock", "GET" },
        { "POST", "/artifacts/" P "/download", "GET" },
        { "DELETE", "/projects/" P "/api-keys", "GET, POST" },
        { "GET", "/projects/" P "/api-keys/" K, "DELETE" },
        { "GET", "/projects/" P "/api-keys/" K "/rotate", "POST" },
        { "POST", "/projects/" P "/data-planes/" K, "GET, DELETE" },
        { "GET", "/projects/" P "/deploy", "POST" },
        { "POST", "/ws/data-plane", "GET" },
        { "HEAD", "/metrics", "GET" },
        { "get", "/health", "GET" }, /* methods are case-sensitive (RFC 9110) */
        { "", "/projects", "GET, POST" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pr_match_t m;
        int rc = pr_route_match(cases[i].method, cases[i].path, &m);
        if (rc != 1)
            fail_msg("%s %s: rc %d, want 1", cases[i].method, cases[i].path, rc);
        assert_null(m.route);
        if (strcmp(m.allow, cases[i].allow) != 0)
            fail_msg("%s %s: allow '%s', want '%s'", cases[i].method, cases[i].path, m.allow,
                     cases[i].allow);
    }
}

/* A successful match also reports the path's full Allow list (useful for OPTIONS). */
static void test_allow_on_success(void **state)
{
    (void) state;
    pr_match_t m;
    assert_int_equal(pr_route_match("PUT", "/projects/" P, &m), 0);
    assert_string_equal(m.route->op, "project.update");
    assert_string_equal(m.allow, "GET, PUT, DELETE");
}

/* The same match struct can be reused: nothing from a previous call leaks into the next. */
static void test_match_reuse(void **state)
{
    (void) state;
    pr_match_t m;
    assert_int_equal(pr_route_match("DELETE", "/projects/" P "/data-planes/" K, &m), 0);
    assert_int_equal(m.nparams, 2);
    assert_int_equal(pr_route_match("GET", "/health", &m), 0);
    assert_int_equal(m.nparams, 0);
    assert_string_equal(m.allow, "GET");
    assert_int_equal(pr_route_match("GET", "/nope", &m), -1);
    assert_null(m.route);
    assert_int_equal(m.nparams, 0);
}

/* ---------------------------------------------------------------- table helpers */

static void test_param_is_uuid(void **state)
{
    (void) state;
    assert_true(pr_param_is_uuid("id"));
    assert_true(pr_param_is_uuid("projectId"));
    assert_true(pr_param_is_uuid("dataPlaneId"));
    assert_true(pr_param_is_uuid("keyId"));
    assert_false(pr_param_is_uuid("name"));
    assert_false(pr_param_is_uuid("version"));
    assert_false(pr_param_is_uuid(""));
    assert_false(pr_param_is_uuid("ID"));
    assert_false(pr_param_is_uuid("projectid"));
    assert_false(pr_param_is_uuid("idx"));
    /* Every parameter a route yields is either a UUID id or a plugin name/version. */
    for (size_t i = 0; i < S_NCASES; i++) {
        const char *names[2] = { s_cases[i].p1, s_cases[i].p2 };
        for (int k = 0; k < 2; k++) {
            if (!names[k])
                continue;
            bool plugin = strcmp(names[k], "name") == 0 || strcmp(names[k], "version") == 0;
            assert_true(pr_param_is_uuid(names[k]) != plugin);
        }
    }
}

static void test_route_by_op(void **state)
{
    (void) state;
    const pr_route_t *r = pr_route_by_op("project.get");
    assert_non_null(r);
    assert_string_equal(r->method, "GET");
    assert_string_equal(r->path, "/projects/{projectId}");
    assert_string_equal(r->service, "registry");
    r = pr_route_by_op("compile.start");
    assert_non_null(r);
    assert_string_equal(r->method, "POST");
    assert_string_equal(r->path, "/specs/{id}/compile");
    assert_string_equal(r->service, "compiler");
    assert_null(pr_route_by_op("project.nope"));
    assert_null(pr_route_by_op(""));
    assert_null(pr_route_by_op("PROJECT.GET"));
    /* Every case's op maps back to the same route the matcher found. */
    for (size_t i = 0; i < S_NCASES; i++) {
        pr_match_t m;
        assert_int_equal(pr_route_match(s_cases[i].method, s_cases[i].sample, &m), 0);
        assert_ptr_equal(pr_route_by_op(s_cases[i].op), m.route);
    }
}

static void test_ops_unique_and_sane(void **state)
{
    (void) state;
    for (size_t i = 0; i < pr_routes_count; i++) {
        const pr_route_t *r = &pr_routes[i];
        assert_non_null(r->op);
        assert_true(r->op[0] != '\0');
        for (size_t j = i + 1; j < pr_routes_count; j++) {
            if (strcmp(r->op, pr_routes[j].op) == 0)
                fail_msg("op '%s' used by routes %zu and %zu", r->op, i, j);
            if (strcmp(r->method, pr_routes[j].method) == 0
                && strcmp(r->path, pr_routes[j].path) == 0)
                fail_msg("%s %s listed twice", r->method, r->path);
        }
        assert_true(strcmp(r->service, "registry") == 0 || strcmp(r->service, "compiler") == 0
                    || strcmp(r->service, "hub") == 0 || strcmp(r->service, "gateway") == 0);
        assert_true(strcmp(r->method, "GET") == 0 || strcmp(r->method, "POST") == 0
                    || strcmp(r->method, "PUT") == 0 || strcmp(r->method, "DELETE") == 0);
        assert_int_equal(r->path[0], '/');
        /* A GET or DELETE takes no body. */
        if (strcmp(r->method, "GET") == 0 || strcmp(r->method, "DELETE") == 0)
            assert_int_equal(r->body, PR_BODY_NONE);
        /* Only /health and the WebSocket are not admin-authenticated (NOTES.md). */
        bool open = strcmp(r->path, "/health") == 0 || strcmp(r->path, "/ws/data-plane") == 0;
        assert_true(open == (r->auth == PR_AUTH_NONE || r->auth == PR_AUTH_WS));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_contract_route),
        cmocka_unit_test(test_table_matches_contract),
        cmocka_unit_test(test_params_are_copies),
        cmocka_unit_test(test_params_not_validated_here),
        cmocka_unit_test(test_unknown_paths),
        cmocka_unit_test(test_wrong_method),
        cmocka_unit_test(test_allow_on_success),
        cmocka_unit_test(test_match_reuse),
        cmocka_unit_test(test_param_is_uuid),
        cmocka_unit_test(test_route_by_op),
        cmocka_unit_test(test_ops_unique_and_sane),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
