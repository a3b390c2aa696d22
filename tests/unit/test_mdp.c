/* Unit tests of the MDP codec: every builder parses back to what it said, malformed frames
 * are refused field by field, and the one send path consumes its message whatever happens. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <czmq.h>
#include "pr_mdp.h"

/* A ROUTER and a DEALER connected over inproc, for messages that really travel. */
typedef struct {
    zsock_t *router, *dealer;
} s_pair_t;

static s_pair_t s_pair(const char *name)
{
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://mdp-%s", name);
    s_pair_t p = { zsock_new(ZMQ_ROUTER), zsock_new(ZMQ_DEALER) };
    zsock_set_router_mandatory(p.router, 1);
    assert_int_equal(zsock_bind(p.router, "%s", ep), 0);
    zsock_set_identity(p.dealer, "peer-1");
    assert_int_equal(zsock_connect(p.dealer, "%s", ep), 0);
    return p;
}

static void s_pair_free(s_pair_t *p)
{
    zsock_destroy(&p->router);
    zsock_destroy(&p->dealer);
}

static zmsg_t *s_recv(zsock_t *s)
{
    zpoller_t *poller = zpoller_new(s, NULL);
    void *ready = zpoller_wait(poller, 2000);
    zpoller_destroy(&poller);
    assert_non_null(ready);
    return zmsg_recv(s);
}

static void test_tag_round_trip(void **state)
{
    (void) state;
    pr_tag_t t = { 0x0102030405060708ull, 1767225600123 }, back;
    unsigned char b[16];
    pr_tag_pack(&t, b);
    assert_int_equal(b[0], 1);
    assert_int_equal(b[7], 8);
    assert_int_equal(pr_tag_unpack(b, 16, &back), 0);
    assert_true(back.cid == t.cid && back.deadline_ms == t.deadline_ms);
    assert_int_equal(pr_tag_unpack(b, 15, &back), -1);
    assert_int_equal(pr_tag_unpack(NULL, 16, &back), -1);
}

static void test_client_request_reaches_the_router_parsed(void **state)
{
    (void) state;
    s_pair_t p = s_pair("req");
    pr_tag_t t = { 7, zclock_time() + 5000 };
    zmsg_t *m = pr_mdp_client_request("registry", &t, "env", 3);
    assert_int_equal(pr_mdp_send(p.dealer, &m), 0);
    assert_null(m);
    zmsg_t *in = s_recv(p.router);
    pr_mdp_msg_t msg;
    assert_int_equal(pr_mdp_parse(&in, true, &msg), 0);
    assert_null(in);
    assert_int_equal(msg.proto, PR_MDP_CLIENT);
    assert_int_equal(msg.cmd, PR_C_REQUEST);
    assert_string_equal(msg.service, "registry");
    assert_true(msg.t.cid == 7 && msg.t.deadline_ms == t.deadline_ms);
    assert_int_equal(zframe_size(msg.body), 3);
    assert_true(zframe_streq(msg.sender, "peer-1"));
    assert_string_equal(msg.user_id, "");   /* a plain socket has no ZAP identity */
    pr_mdp_msg_clear(&msg);
    s_pair_free(&p);
}

static void test_worker_ready_and_credit(void **state)
{
    (void) state;
    s_pair_t p = s_pair("ready");
    zmsg_t *m = pr_mdp_worker_ready("compiler", 8);
    assert_int_equal(pr_mdp_send(p.dealer, &m), 0);
    zmsg_t *in = s_recv(p.router);
    pr_mdp_msg_t msg;
    assert_int_equal(pr_mdp_parse(&in, true, &msg), 0);
    assert_int_equal(msg.cmd, PR_W_READY);
    assert_string_equal(msg.service, "compiler");
    assert_int_equal(msg.credit, 8);
    pr_mdp_msg_clear(&msg);
    s_pair_free(&p);
}

/* Builds [identity] + frames, parses it as the router would; the parse result. */
static int s_parse_router(int nframes, ...)
{
    zmsg_t *m = zmsg_new();
    zmsg_addstr(m, "peer");
    va_list ap;
    va_start(ap, nframes);
    for (int i = 0; i < nframes; i++) {
        const char *data = va_arg(ap, const char *);
        size_t len = va_arg(ap, size_t);
        zmsg_addmem(m, data, len);
    }
    va_end(ap);
    pr_mdp_msg_t msg;
    int rc = pr_mdp_parse(&m, true, &msg);
    assert_null(m);   /* consumed either way */
    pr_mdp_msg_clear(&msg);
    return rc;
}

static void test_malformed_messages_are_refused(void **state)
{
    (void) state;
    unsigned char tag[16] = { 0 };
    const char req[] = { PR_C_REQUEST }, ready[] = { PR_W_READY }, hb[] = { PR_W_HEARTBEAT };
    /* a good one first, so the rest fail for the reason they show */
    assert_int_equal(s_parse_router(5, PR_MDPC, (size_t) 6, req, (size_t) 1, "registry",
                                    (size_t) 8, (const char *) tag, (size_t) 16, "e", (size_t) 1), 0);
    assert_int_equal(s_parse_router(5, "MDPX02", (size_t) 6, req, (size_t) 1, "registry",
                                    (size_t) 8, (const char *) tag, (size_t) 16, "e", (size_t) 1), -1);
    assert_int_equal(s_parse_router(5, PR_MDPC, (size_t) 6, "\x01\x01", (size_t) 2, "registry",
                                    (size_t) 8, (const char *) tag, (size_t) 16, "e", (size_t) 1), -1);
    assert_int_equal(s_parse_router(5, PR_MDPC, (size_t) 6, req, (size_t) 1, "registry",
                                    (size_t) 8, (const char *) tag, (size_t) 15, "e", (size_t) 1), -1);
    assert_int_equal(s_parse_router(4, PR_MDPC, (size_t) 6, req, (size_t) 1, "registry",
                                    (size_t) 8, (const char *) tag, (size_t) 16), -1);
    assert_int_equal(s_parse_router(5, PR_MDPC, (size_t) 6, req, (size_t) 1, "bad name",
                                    (size_t) 8, (const char *) tag, (size_t) 16, "e", (size_t) 1), -1);
    assert_int_equal(s_parse_router(5, PR_MDPC, (size_t) 6, req, (size_t) 1, "", (size_t) 0,
                                    (const char *) tag, (size_t) 16, "e", (size_t) 1), -1);
    char longname[100];
    memset(longname, 'a', sizeof longname);
    assert_int_equal(s_parse_router(5, PR_MDPC, (size_t) 6, req, (size_t) 1, longname,
                                    sizeof longname, (const char *) tag, (size_t) 16, "e",
                                    (size_t) 1), -1);
    assert_int_equal(s_parse_router(4, PR_MDPW, (size_t) 6, ready, (size_t) 1, "hub", (size_t) 3,
                                    "8", (size_t) 1), 0);
    assert_int_equal(s_parse_router(4, PR_MDPW, (size_t) 6, ready, (size_t) 1, "hub", (size_t) 3,
                                    "65", (size_t) 2), -1);   /* credit over the maximum */
    assert_int_equal(s_parse_router(4, PR_MDPW, (size_t) 6, ready, (size_t) 1, "hub", (size_t) 3,
                                    "x", (size_t) 1), -1);
    assert_int_equal(s_parse_router(3, PR_MDPW, (size_t) 6, hb, (size_t) 1, "extra", (size_t) 5), -1);
    assert_int_equal(s_parse_router(2, PR_MDPW, (size_t) 6, hb, (size_t) 1), 0);
    assert_int_equal(s_parse_router(1, PR_MDPW, (size_t) 6), -1);
    zmsg_t *empty = zmsg_new();
    pr_mdp_msg_t msg;
    assert_int_equal(pr_mdp_parse(&empty, true, &msg), -1);
    assert_null(empty);
}

static void test_send_to_an_unknown_peer_sends_nothing_and_frees(void **state)
{
    (void) state;
    s_pair_t p = s_pair("unknown");
    zframe_t *who = zframe_new("nobody", 6);
    zmsg_t *m = pr_mdp_worker_cmd(who, PR_W_HEARTBEAT);
    assert_int_equal(pr_mdp_send(p.router, &m), -1);   /* EHOSTUNREACH on the first frame */
    assert_null(m);                                    /* consumed anyway: no leak */
    /* nothing half-sent reached the one real peer */
    zpoller_t *poller = zpoller_new(p.dealer, NULL);
    assert_null(zpoller_wait(poller, 200));
    zpoller_destroy(&poller);
    zframe_destroy(&who);
    s_pair_free(&p);
}

static void test_worker_request_keeps_the_borrowed_envelope(void **state)
{
    (void) state;
    s_pair_t p = s_pair("borrow");
    zframe_t *peer = zframe_new("peer-1", 6), *tag = zframe_new("0123456789abcdef", 16);
    zframe_t *env = zframe_new("envelope", 8), *nobody = zframe_new("nobody", 6);
    assert_int_equal(pr_mdp_send_worker_request(p.router, nobody, NULL, tag, env), -1);
    assert_int_equal(zframe_size(env), 8);   /* still ours: it can go to another worker */
    assert_int_equal(pr_mdp_send_worker_request(p.router, peer, NULL, tag, env), 0);
    zmsg_t *in = s_recv(p.dealer);
    pr_mdp_msg_t msg;
    assert_int_equal(pr_mdp_parse(&in, false, &msg), 0);
    assert_int_equal(msg.cmd, PR_W_REQUEST);
    assert_int_equal(zframe_size(msg.client), 0);   /* a local client: empty frame */
    assert_true(zframe_streq(msg.body, "envelope"));
    pr_mdp_msg_clear(&msg);
    zframe_destroy(&peer);
    zframe_destroy(&tag);
    zframe_destroy(&env);
    zframe_destroy(&nobody);
    s_pair_free(&p);
}

int main(void)
{
    zsys_handler_set(NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tag_round_trip),
        cmocka_unit_test(test_client_request_reaches_the_router_parsed),
        cmocka_unit_test(test_worker_ready_and_credit),
        cmocka_unit_test(test_malformed_messages_are_refused),
        cmocka_unit_test(test_send_to_an_unknown_peer_sends_nothing_and_frees),
        cmocka_unit_test(test_worker_request_keeps_the_borrowed_envelope),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
