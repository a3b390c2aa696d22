/* Unit tests of the service kit's start-up check: a handler table must cover exactly the
 * routes of its service in the route table. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "pr_routes.h"
#include "pr_service.h"

static void s_noop(void *ctx, const pr_request_t *req, pr_out_t *out)
{
    (void) ctx;
    (void) req;
    (void) out;
}

/* Every op of service from the route table, as a handler table (up to 64). */
static size_t s_table(const char *service, pr_handler_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i < pr_routes_count && n < 64; i++)
        if (strcmp(pr_routes[i].service, service) == 0)
            out[n++] = (pr_handler_t) { pr_routes[i].op, s_noop };
    return n;
}

static void test_a_complete_table_passes(void **state)
{
    (void) state;
    pr_handler_t h[64];
    char err[200] = "";
    for (const char *svc = "registry"; svc; svc = strcmp(svc, "registry") ? NULL : "compiler") {
        size_t n = s_table(svc, h);
        assert_true(n > 0);
        assert_int_equal(pr_service_check(svc, h, n, err, sizeof err), 0);
    }
}

static void test_a_route_without_a_handler_fails(void **state)
{
    (void) state;
    pr_handler_t h[64];
    char err[200] = "";
    size_t n = s_table("compiler", h);
    const char *dropped = h[n - 1].op;
    assert_int_equal(pr_service_check("compiler", h, n - 1, err, sizeof err), -1);
    assert_non_null(strstr(err, dropped));
    assert_non_null(strstr(err, "has no handler"));
}

static void test_a_handler_without_a_route_fails(void **state)
{
    (void) state;
    pr_handler_t h[65];
    char err[200] = "";
    size_t n = s_table("compiler", h);
    h[n++] = (pr_handler_t) { "project.get", s_noop };   /* the registry's, not the compiler's */
    assert_int_equal(pr_service_check("compiler", h, n, err, sizeof err), -1);
    assert_non_null(strstr(err, "project.get"));
    h[n - 1] = (pr_handler_t) { "compile.nonsense", s_noop };
    assert_int_equal(pr_service_check("compiler", h, n, err, sizeof err), -1);
    h[n - 1] = (pr_handler_t) { "compile.get", NULL };
    assert_int_equal(pr_service_check("compiler", h, n, err, sizeof err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_complete_table_passes),
        cmocka_unit_test(test_a_route_without_a_handler_fails),
        cmocka_unit_test(test_a_handler_without_a_route_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
