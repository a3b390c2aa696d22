/* test_hub_keys.c — cmocka tests of dataplane-hub/hub_keys.c (the bearer-key cache: lookup,
 * growth past many keys, replacement, expiry and scope), plus hub_mbox.c (FIFO order, ownership, the wake-up edge, many
 * producer threads). Owns: nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cm_util.h"
#include "hub_keys.h"
#include "hub_mbox.h"

static hub_key_t s_key(const char *plain, int64_t expires, bool scope)
{
    hub_key_t k = { .expires_ms = expires, .connect_scope = scope };
    cm_sha256(plain, strlen(plain), k.hash);
    snprintf(k.key_id, sizeof k.key_id, "%s", "11111111-1111-4111-8111-111111111111");
    snprintf(k.project_id, sizeof k.project_id, "%s", "22222222-2222-4222-8222-222222222222");
    return k;
}

static void test_find_and_allow(void **state)
{
    (void) state;
    hub_keys_t *keys = hub_keys_new(0);
    assert_non_null(keys);
    hub_key_t live = s_key("bbk_live", 0, true), soon = s_key("bbk_soon", 5000, true),
              noscope = s_key("bbk_read", 0, false), unknown = s_key("bbk_unknown", 0, true);
    assert_int_equal(hub_keys_add(keys, &live), 0);
    assert_int_equal(hub_keys_add(keys, &soon), 0);
    assert_int_equal(hub_keys_add(keys, &noscope), 0);
    assert_int_equal(hub_keys_size(keys), 3);
    assert_true(hub_keys_allows(keys, live.hash, 1));
    assert_true(hub_keys_allows(keys, soon.hash, 4999));
    assert_false(hub_keys_allows(keys, soon.hash, 5000));   /* expired at its instant */
    assert_false(hub_keys_allows(keys, noscope.hash, 1));   /* no data-plane:connect */
    assert_false(hub_keys_allows(keys, unknown.hash, 1));
    assert_null(hub_keys_find(keys, unknown.hash));
    assert_string_equal(hub_keys_find(keys, live.hash)->project_id,
                        "22222222-2222-4222-8222-222222222222");
    assert_false(hub_keys_allows(NULL, live.hash, 1));      /* no cache yet: nothing passes */
    hub_keys_destroy(&keys);
    assert_null(keys);
    hub_keys_destroy(&keys);
}

static void test_many_keys_and_replacement(void **state)
{
    (void) state;
    hub_keys_t *keys = hub_keys_new(4);
    char plain[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(plain, sizeof plain, "bbk_%d", i);
        hub_key_t k = s_key(plain, 0, true);
        assert_int_equal(hub_keys_add(keys, &k), 0);
    }
    assert_int_equal(hub_keys_size(keys), 5000);
    for (int i = 0; i < 5000; i += 7) {
        snprintf(plain, sizeof plain, "bbk_%d", i);
        hub_key_t k = s_key(plain, 0, true);
        assert_true(hub_keys_allows(keys, k.hash, 1));
    }
    hub_key_t again = s_key("bbk_42", 10, true);   /* same hash: replaced, not added */
    assert_int_equal(hub_keys_add(keys, &again), 0);
    assert_int_equal(hub_keys_size(keys), 5000);
    assert_false(hub_keys_allows(keys, again.hash, 10));
    hub_keys_destroy(&keys);
}

/* ---------------------------------------------------------------- the mailbox */

static void s_count_wake(void *arg)
{
    (*(int *) arg)++;
}

static void test_mailbox_order_and_wake_edge(void **state)
{
    (void) state;
    int wakes = 0;
    hub_mbox_t *mb = hub_mbox_new(s_count_wake, &wakes);
    for (int i = 0; i < 3; i++) {
        hub_item_t *it = hub_item_new(HUB_IT_CLOSED);
        it->ref.handle = (uint64_t) i;
        hub_mbox_post(mb, &it);
        assert_null(it);   /* ownership moved */
    }
    assert_int_equal(wakes, 1);   /* woken once per empty -> non-empty edge */
    assert_int_equal(hub_mbox_pending(mb), 3);
    hub_item_t *all = hub_mbox_take(mb);
    for (int i = 0; i < 3; i++) {
        assert_non_null(all);
        assert_int_equal(all->ref.handle, (uint64_t) i);
        hub_item_t *next = all->next;
        hub_item_destroy(&all);
        all = next;
    }
    assert_null(all);
    assert_null(hub_mbox_take(mb));
    hub_item_t *it = hub_item_new(HUB_IT_KEYS);
    it->keys = hub_keys_new(1);   /* owned by the item: freed with it */
    hub_mbox_post(mb, &it);
    assert_int_equal(wakes, 2);
    hub_mbox_set_wake(mb, NULL, NULL);
    it = hub_item_new(HUB_IT_REDIRTY);
    hub_mbox_post(mb, &it);
    assert_int_equal(wakes, 2);
    hub_mbox_destroy(&mb);   /* frees the queued items */
    assert_null(mb);
}

static void *s_producer(void *arg)
{
    hub_mbox_t *mb = arg;
    for (int i = 0; i < 2000; i++) {
        hub_item_t *it = hub_item_new(HUB_IT_CLOSED);
        it->ref.handle = (uint64_t) i;
        hub_mbox_post(mb, &it);
    }
    return NULL;
}

static void test_mailbox_many_threads(void **state)
{
    (void) state;
    hub_mbox_t *mb = hub_mbox_new(NULL, NULL);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, s_producer, mb), 0);
    size_t seen = 0;
    while (seen < 8000) {
        hub_item_t *it = hub_mbox_take(mb);
        while (it) {
            hub_item_t *next = it->next;
            seen++;
            hub_item_destroy(&it);
            it = next;
        }
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(seen, 8000);
    assert_int_equal(hub_mbox_pending(mb), 0);
    hub_mbox_destroy(&mb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_and_allow),
        cmocka_unit_test(test_many_keys_and_replacement),
        cmocka_unit_test(test_mailbox_order_and_wake_edge),
        cmocka_unit_test(test_mailbox_many_threads),
    };
    return cmocka_run_group_tests_name("hub_keys", tests, NULL, NULL);
}
