/* test_hub_conv.c — cmocka tests of dataplane-hub/hub_conv.c: convergence by artifact_hash
 * (announce when the reported hash differs and nothing is pending for the desired artifact),
 * drift, deploying/online, confirmation by download or heartbeat, retry after a failure and
 * after the pending announcement expires. Owns: nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "hub_conv.h"

#define A1 "11111111-1111-4111-8111-111111111111"
#define A2 "22222222-2222-4222-8222-222222222222"
#define TTL 300000

static hub_desired_t s_desired(const char *id, const char *hash)
{
    hub_desired_t d = { .has = true };
    snprintf(d.artifact_id, sizeof d.artifact_id, "%s", id);
    snprintf(d.artifact_hash, sizeof d.artifact_hash, "%s", hash);
    snprintf(d.sha256, sizeof d.sha256, "%064d", 0);
    return d;
}

static void test_nothing_desired_nothing_to_do(void **state)
{
    (void) state;
    hub_conv_t c = { 0 };
    hub_desired_t none = { 0 };
    assert_false(hub_conv_needs(&c, &none, 0, TTL));
    assert_false(hub_conv_heartbeat(&c, "sha256:old", &none));   /* no drift without a target */
    assert_int_equal(hub_conv_status(&c), HUB_STATUS_ONLINE);
    assert_string_equal(hub_status_name(hub_conv_status(&c)), "online");
}

static void test_same_hash_needs_nothing(void **state)
{
    (void) state;
    hub_conv_t c = { 0 };
    hub_desired_t d = s_desired(A1, "sha256:one");
    assert_false(hub_conv_heartbeat(&c, "sha256:one", &d));
    assert_false(hub_conv_needs(&c, &d, 0, TTL));
}

static void test_unknown_hash_counts_as_different(void **state)
{
    (void) state;
    hub_conv_t c = { 0 };
    hub_desired_t d = s_desired(A1, "sha256:one");
    assert_true(hub_conv_needs(&c, &d, 0, TTL));
    assert_false(hub_conv_heartbeat(&c, NULL, &d));   /* no report: no drift claimed */
    assert_true(hub_conv_needs(&c, &d, 0, TTL));
}

static void test_announce_then_pending_then_confirmed_by_download(void **state)
{
    (void) state;
    hub_conv_t c = { 0 };
    hub_desired_t d = s_desired(A1, "sha256:one");
    assert_true(hub_conv_heartbeat(&c, "sha256:old", &d));   /* differs, nothing pending */
    assert_true(hub_conv_needs(&c, &d, 1000, TTL));
    hub_conv_announced(&c, &d, 1000);
    assert_int_equal(hub_conv_status(&c), HUB_STATUS_DEPLOYING);
    assert_string_equal(hub_status_name(HUB_STATUS_DEPLOYING), "deploying");
    /* while pending: no second announcement, no drift */
    assert_false(hub_conv_needs(&c, &d, 2000, TTL));
    assert_false(hub_conv_heartbeat(&c, "sha256:old", &d));
    hub_conv_downloaded(&c, A2, true, &d);                  /* another artifact: ignored */
    assert_int_equal(hub_conv_status(&c), HUB_STATUS_DEPLOYING);
    hub_conv_downloaded(&c, A1, true, &d);
    assert_int_equal(hub_conv_status(&c), HUB_STATUS_ONLINE);
    assert_string_equal(c.reported, "sha256:one");
    assert_false(hub_conv_needs(&c, &d, 3000, TTL));
}

static void test_heartbeat_with_the_new_hash_confirms(void **state)
{
    (void) state;
    hub_conv_t c = { 0 };
    hub_desired_t d = s_desired(A1, "sha256:one");
    hub_conv_heartbeat(&c, "sha256:old", &d);
    hub_conv_announced(&c, &d, 0);
    assert_false(hub_conv_heartbeat(&c, "sha256:one", &d));
    assert_int_equal(hub_conv_status(&c), HUB_STATUS_ONLINE);
    assert_false(c.has_pending);
}

static void test_failed_download_is_retried_later(void **state)
{
    (void) state;
    hub_conv_t c = { 0 };
    hub_desired_t d = s_desired(A1, "sha256:one");
    hub_conv_heartbeat(&c, "sha256:old", &d);
    hub_conv_announced(&c, &d, 0);
    hub_conv_downloaded(&c, A1, false, &d);
    assert_int_equal(hub_conv_status(&c), HUB_STATUS_ONLINE);
    assert_string_equal(c.reported, "sha256:old");            /* a failure changes nothing */
    assert_true(hub_conv_heartbeat(&c, "sha256:old", &d));    /* drift again ... */
    assert_true(hub_conv_needs(&c, &d, 10, TTL));             /* ... and announced again */
}

static void test_new_deployment_replaces_a_pending_one(void **state)
{
    (void) state;
    hub_conv_t c = { 0 };
    hub_desired_t d1 = s_desired(A1, "sha256:one"), d2 = s_desired(A2, "sha256:two");
    hub_conv_heartbeat(&c, "sha256:old", &d1);
    hub_conv_announced(&c, &d1, 0);
    assert_true(hub_conv_needs(&c, &d2, 1, TTL));             /* pending is for A1, not A2 */
    hub_conv_announced(&c, &d2, 1);
    assert_string_equal(c.pending, A2);
    hub_conv_downloaded(&c, A1, true, &d2);                   /* late answer for A1: ignored */
    assert_true(c.has_pending);
}

static void test_pending_expires(void **state)
{
    (void) state;
    hub_conv_t c = { 0 };
    hub_desired_t d = s_desired(A1, "sha256:one");
    hub_conv_heartbeat(&c, "sha256:old", &d);
    hub_conv_announced(&c, &d, 0);
    assert_false(hub_conv_needs(&c, &d, TTL - 1, TTL));
    assert_true(hub_conv_needs(&c, &d, TTL, TTL));   /* the token is dead: announce again */
}

static void test_desired_equality(void **state)
{
    (void) state;
    hub_desired_t a = s_desired(A1, "sha256:one"), b = a, none = { 0 }, none2 = { 0 };
    assert_true(hub_desired_equal(&a, &b));
    assert_true(hub_desired_equal(&none, &none2));
    assert_false(hub_desired_equal(&a, &none));
    b.sha256[0] = 'f';
    assert_false(hub_desired_equal(&a, &b));
    b = s_desired(A2, "sha256:one");
    assert_false(hub_desired_equal(&a, &b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_desired_nothing_to_do),
        cmocka_unit_test(test_same_hash_needs_nothing),
        cmocka_unit_test(test_unknown_hash_counts_as_different),
        cmocka_unit_test(test_announce_then_pending_then_confirmed_by_download),
        cmocka_unit_test(test_heartbeat_with_the_new_hash_confirms),
        cmocka_unit_test(test_failed_download_is_retried_later),
        cmocka_unit_test(test_new_deployment_replaces_a_pending_one),
        cmocka_unit_test(test_pending_expires),
        cmocka_unit_test(test_desired_equality),
    };
    return cmocka_run_group_tests_name("hub_conv", tests, NULL, NULL);
}
