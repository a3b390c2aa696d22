/* Unit tests of the broker with in-process workers (plain sockets, no roles): 503 without a
 * worker, credit and queueing, least-recently-used order, 504 at the deadline, 503 for the
 * requests of a worker that disconnects or dies, replies matched by tag. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <czmq.h>
#include "gw_broker.h"
#include "pr_mdp.h"

#define MAX_DONE 64

typedef struct {
    gw_broker_t *broker;
    char endpoint[64];
    uint64_t cid[MAX_DONE];
    int cmd[MAX_DONE], status[MAX_DONE];
    int ndone;
} s_env_t;

static void s_local(void *arg, uint64_t cid, int cmd, const void *payload, size_t len)
{
    s_env_t *e = arg;
    const unsigned char *p = payload;
    e->cid[e->ndone] = cid;
    e->cmd[e->ndone] = cmd;
    e->status[e->ndone++] = cmd == PR_C_NAK && len == 2 ? p[0] << 8 | p[1] : 200;
}

static s_env_t *s_env(const char *name, int heartbeat_ms)
{
    s_env_t *e = calloc(1, sizeof *e);
    snprintf(e->endpoint, sizeof e->endpoint, "inproc://broker-%s", name);
    gw_broker_args_t a = { .endpoint = e->endpoint, .heartbeat_ms = heartbeat_ms,
                           .liveness = 2, .local = s_local, .local_arg = e };
    e->broker = gw_broker_new(&a);
    assert_non_null(e->broker);
    return e;
}

static void s_env_free(s_env_t *e)
{
    gw_broker_destroy(&e->broker);
    free(e);
}

/* Lets the broker handle what arrived for about ms milliseconds. */
static void s_pump(s_env_t *e, int ms)
{
    int64_t until = zclock_mono() + ms;
    zpoller_t *p = zpoller_new(gw_broker_socket(e->broker), NULL);
    while (zclock_mono() < until) {
        zpoller_wait(p, 10);
        gw_broker_drain(e->broker);
        gw_broker_tick(e->broker);
    }
    zpoller_destroy(&p);
}

static zsock_t *s_worker(s_env_t *e, const char *id, int credit)
{
    zsock_t *w = zsock_new(ZMQ_DEALER);
    zsock_set_identity(w, id);
    assert_int_equal(zsock_connect(w, "%s", e->endpoint), 0);
    zmsg_t *ready = pr_mdp_worker_ready("registry", credit);
    assert_int_equal(pr_mdp_send(w, &ready), 0);
    s_pump(e, 30);
    return w;
}

static void s_submit(s_env_t *e, uint64_t cid, int deadline_in_ms)
{
    pr_tag_t t = { cid, zclock_time() + deadline_in_ms };
    gw_broker_submit(e->broker, "registry", &t, "req", 3);
}

/* The requests a worker has been handed (their tags' cids), in order; replies when asked. */
static int s_take(zsock_t *w, uint64_t *cids, int max, bool reply)
{
    int n = 0;
    while (n < max && (zsock_events(w) & ZMQ_POLLIN)) {
        zmsg_t *m = zmsg_recv(w);
        pr_mdp_msg_t msg;
        if (pr_mdp_parse(&m, false, &msg) == 0 && msg.cmd == PR_W_REQUEST) {
            cids[n++] = msg.t.cid;
            if (reply) {
                zmsg_t *r = pr_mdp_worker_reply(msg.client, msg.tag, "rep", 3);
                pr_mdp_send(w, &r);
            }
        }
        pr_mdp_msg_clear(&msg);
    }
    return n;
}

static void test_no_worker_is_503_at_once(void **state)
{
    (void) state;
    s_env_t *e = s_env("none", 1000);
    s_submit(e, 1, 5000);
    assert_int_equal(e->ndone, 1);
    assert_int_equal(e->cmd[0], PR_C_NAK);
    assert_int_equal(e->status[0], 503);
    assert_int_equal(gw_broker_workers(e->broker, "registry"), 0);
    s_env_free(e);
}

static void test_credit_bounds_what_a_worker_holds(void **state)
{
    (void) state;
    s_env_t *e = s_env("credit", 1000);
    zsock_t *w = s_worker(e, "w1", 2);
    assert_int_equal(gw_broker_workers(e->broker, "registry"), 1);
    for (uint64_t i = 1; i <= 3; i++)
        s_submit(e, i, 5000);
    s_pump(e, 50);
    uint64_t got[8];
    assert_int_equal(s_take(w, got, 8, true), 2);      /* credit 2: the third waits */
    assert_true(got[0] == 1 && got[1] == 2);
    s_pump(e, 50);                                     /* the replies give the credit back */
    assert_int_equal(s_take(w, got, 8, true), 1);
    assert_true(got[0] == 3);
    s_pump(e, 50);
    assert_int_equal(e->ndone, 3);
    zsock_destroy(&w);
    s_env_free(e);
}

static void test_replies_free_credit_and_reach_the_client(void **state)
{
    (void) state;
    s_env_t *e = s_env("reply", 1000);
    zsock_t *w = s_worker(e, "w1", 1);
    s_submit(e, 10, 5000);
    s_submit(e, 11, 5000);
    s_pump(e, 50);
    uint64_t got[4];
    assert_int_equal(s_take(w, got, 4, true), 1);       /* one at a time, replied */
    s_pump(e, 50);
    assert_int_equal(s_take(w, got, 4, true), 1);       /* the reply made room */
    assert_true(got[0] == 11);
    s_pump(e, 50);
    assert_int_equal(e->ndone, 2);
    assert_true(e->cid[0] == 10 && e->cmd[0] == PR_C_FINAL);
    assert_true(e->cid[1] == 11 && e->cmd[1] == PR_C_FINAL);
    zsock_destroy(&w);
    s_env_free(e);
}

static void test_requests_go_to_the_least_recently_used_worker(void **state)
{
    (void) state;
    s_env_t *e = s_env("lru", 1000);
    zsock_t *a = s_worker(e, "wa", 4), *b = s_worker(e, "wb", 4);
    for (uint64_t i = 1; i <= 4; i++)
        s_submit(e, i, 5000);
    s_pump(e, 50);
    uint64_t ga[8], gb[8];
    int na = s_take(a, ga, 8, false), nb = s_take(b, gb, 8, false);
    assert_int_equal(na, 2);                            /* spread, alternating */
    assert_int_equal(nb, 2);
    assert_true(ga[0] == 1 && gb[0] == 2 && ga[1] == 3 && gb[1] == 4);
    zsock_destroy(&a);
    zsock_destroy(&b);
    s_env_free(e);
}

static void test_a_queued_request_past_its_deadline_is_504(void **state)
{
    (void) state;
    s_env_t *e = s_env("deadline", 1000);
    zsock_t *w = s_worker(e, "w1", 1);
    s_submit(e, 1, 5000);    /* holds the only credit */
    s_submit(e, 2, 100);     /* waits behind it, briefly */
    s_pump(e, 300);
    assert_int_equal(e->ndone, 1);
    assert_true(e->cid[0] == 2 && e->status[0] == 504);
    zsock_destroy(&w);
    s_env_free(e);
}

static void test_a_disconnecting_worker_s_requests_are_503(void **state)
{
    (void) state;
    s_env_t *e = s_env("disconnect", 1000);
    zsock_t *w = s_worker(e, "w1", 4);
    s_submit(e, 1, 5000);
    s_submit(e, 2, 5000);
    s_pump(e, 50);
    zmsg_t *bye = pr_mdp_worker_cmd(NULL, PR_W_DISCONNECT);
    pr_mdp_send(w, &bye);
    s_pump(e, 50);
    assert_int_equal(e->ndone, 2);
    assert_true(e->status[0] == 503 && e->status[1] == 503);
    assert_int_equal(gw_broker_workers(e->broker, "registry"), 0);
    zsock_destroy(&w);
    s_env_free(e);
}

static void test_a_dead_worker_is_noticed_at_the_next_heartbeat(void **state)
{
    (void) state;
    s_env_t *e = s_env("dead", 100);
    zsock_t *w = s_worker(e, "w1", 4);
    s_submit(e, 1, 5000);
    s_pump(e, 50);
    zsock_destroy(&w);                                   /* gone without a word */
    s_pump(e, 400);
    assert_int_equal(e->ndone, 1);
    assert_int_equal(e->status[0], 503);
    assert_int_equal(gw_broker_workers(e->broker, "registry"), 0);
    s_env_free(e);
}

static void test_client_requests_need_a_deadline(void **state)
{
    (void) state;
    s_env_t *e = s_env("nodeadline", 1000);
    zsock_t *w = s_worker(e, "w1", 4);
    zsock_t *front = zsock_new(ZMQ_DEALER);
    assert_int_equal(zsock_connect(front, "%s", e->endpoint), 0);
    pr_tag_t none = { 5, 0 }, far = { 6, zclock_time() + 10LL * 3600 * 1000 };
    pr_tag_t ok = { 7, zclock_time() + 5000 };
    const pr_tag_t *tags[] = { &none, &far, &ok };
    for (int i = 0; i < 3; i++) {
        zmsg_t *m = pr_mdp_client_request("registry", tags[i], "e", 1);
        pr_mdp_send(front, &m);
    }
    s_pump(e, 100);
    uint64_t got[4];
    assert_int_equal(s_take(w, got, 4, false), 1);       /* only the one with a sane deadline */
    assert_true(got[0] == 7);
    zsock_destroy(&front);
    zsock_destroy(&w);
    s_env_free(e);
}

int main(void)
{
    zsys_handler_set(NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_worker_is_503_at_once),
        cmocka_unit_test(test_credit_bounds_what_a_worker_holds),
        cmocka_unit_test(test_replies_free_credit_and_reach_the_client),
        cmocka_unit_test(test_requests_go_to_the_least_recently_used_worker),
        cmocka_unit_test(test_a_queued_request_past_its_deadline_is_504),
        cmocka_unit_test(test_a_disconnecting_worker_s_requests_are_503),
        cmocka_unit_test(test_a_dead_worker_is_noticed_at_the_next_heartbeat),
        cmocka_unit_test(test_client_requests_need_a_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
