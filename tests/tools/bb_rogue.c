/* Test tool: a peer on the mesh trying what an attacker would, with whatever key it is given,
 * printing what came of it on stdout (one line), so tests can check the effect.
 *   bb-rogue [mesh options] submit BROKER SERVICE OP PROJECT_ID WAIT_MS
 *       a client request with principal "admin"; prints "reply STATUS" or "no reply"
 *   bb-rogue [mesh options] register BROKER SERVICE WAIT_MS [STATUS]
 *       READY for SERVICE; prints "request OP" for each request handed over, or "no request";
 *       with STATUS, answers each with that status, a JSON body and hop-by-hop headers
 *   bb-rogue [mesh options] publish EVENTS_IN TOPIC PROJECT_ID COUNT
 *       publishes TOPIC {project_id, key_id} COUNT times over about a second; prints "published"
 *   bb-rogue [mesh options] subscribe EVENTS_OUT PREFIX WAIT_MS
 *       prints "event TOPIC" for each event received, or "no event"
 * Mesh options: see bb_mesh.h. */
#include "bb_mesh.h"
#include "pr_envelope.h"
#include "pr_event.h"
#include "pr_mdp.h"
#include <czmq.h>
#include <stdio.h>

static zsock_t *s_socket(bb_mesh_t *mesh, int type, const char *endpoint)
{
    zsock_t *s = zsock_new(type);
    if (!s)
        return NULL;
    zsock_set_linger(s, 0);
    if (bb_mesh_apply(mesh, s) != 0 || zsock_connect(s, "%s", endpoint) != 0)
        zsock_destroy(&s);
    return s;
}

static int s_submit(bb_mesh_t *mesh, char **a)
{
    zsock_t *s = s_socket(mesh, ZMQ_DEALER, a[0]);
    if (!s)
        return 1;
    pr_request_t req = { .op = a[2], .rid = "rogue-request-0001", .principal = "admin",
                         .uri = "/rogue", .path = { { "projectId", a[3] } }, .npath = 1,
                         .headers = { { "Content-Type", "application/json" } }, .nheaders = 1,
                         .body = (const unsigned char *) "{\"name\":\"rogue-key\"}",
                         .body_len = 20, .deadline_ms = zclock_time() + 5000 };
    size_t len = 0;
    unsigned char *env = pr_request_encode(&req, &len);
    pr_tag_t tag = { 42, req.deadline_ms };
    zmsg_t *m = pr_mdp_client_request(a[1], &tag, env, len);
    free(env);
    pr_mdp_send(s, &m);
    zpoller_t *p = zpoller_new(s, NULL);
    int result = 0;
    if (zpoller_wait(p, atoi(a[4]))) {
        zmsg_t *msg = zmsg_recv(s);
        pr_mdp_msg_t r;
        if (pr_mdp_parse(&msg, false, &r) == 0 && r.cmd == PR_C_FINAL) {
            pr_reply_t rep;
            char err[64];
            if (pr_reply_decode(zframe_data(r.body), zframe_size(r.body), &rep, err, 64) == 0)
                printf("reply %d\n", rep.status);
            pr_reply_clear(&rep);
            result = 1;
        } else if (r.cmd == PR_C_NAK) {
            printf("reply %d\n", zframe_data(r.body)[0] << 8 | zframe_data(r.body)[1]);
            result = 1;
        }
        pr_mdp_msg_clear(&r);
    }
    if (!result)
        printf("no reply\n");
    zpoller_destroy(&p);
    zsock_destroy(&s);
    return 0;
}

/* A reply a misbehaving worker might send: any status, and headers that belong to one hop. */
static void s_reply(zsock_t *s, pr_mdp_msg_t *m, int status)
{
    pr_reply_t rep = { .status = status, .content_type = "application/json",
                       .headers = { { "Connection", "close" },
                                    { "Transfer-Encoding", "chunked" },
                                    { "X-Rogue", "yes" } },
                       .nheaders = 3, .body = (const unsigned char *) "{}", .body_len = 2 };
    size_t len = 0;
    unsigned char *bytes = pr_reply_encode(&rep, &len);
    zmsg_t *r = pr_mdp_worker_reply(m->client, m->tag, bytes, len);
    pr_mdp_send(s, &r);
    free(bytes);
}

static int s_register(bb_mesh_t *mesh, char **a, int n)
{
    zsock_t *s = s_socket(mesh, ZMQ_DEALER, a[0]);
    if (!s)
        return 1;
    zmsg_t *ready = pr_mdp_worker_ready(a[1], 8);
    pr_mdp_send(s, &ready);
    int64_t until = zclock_mono() + atoi(a[2]);
    int got = 0;
    zpoller_t *p = zpoller_new(s, NULL);
    while (zclock_mono() < until && !zsys_interrupted) {
        if (!zpoller_wait(p, 200)) {
            zmsg_t *hb = pr_mdp_worker_cmd(NULL, PR_W_HEARTBEAT);
            pr_mdp_send(s, &hb);
            continue;
        }
        zmsg_t *msg = zmsg_recv(s);
        pr_mdp_msg_t m;
        if (pr_mdp_parse(&msg, false, &m) == 0 && m.cmd == PR_W_REQUEST) {
            pr_request_t req;
            char err[64];
            if (pr_request_decode(zframe_data(m.body), zframe_size(m.body), &req, err, 64) == 0)
                printf("request %s\n", req.op);
            pr_request_clear(&req);
            if (n > 3)
                s_reply(s, &m, atoi(a[3]));
            got++;
        }
        pr_mdp_msg_clear(&m);
        fflush(stdout);
    }
    if (!got)
        printf("no request\n");
    zpoller_destroy(&p);
    zsock_destroy(&s);
    return 0;
}

static int s_publish(bb_mesh_t *mesh, char **a)
{
    zsock_t *s = s_socket(mesh, ZMQ_PUB, a[0]);
    if (!s)
        return 1;
    pr_kv_t kv[] = { { "project_id", a[2] }, { "key_id", a[2] } };
    for (int i = 0, n = atoi(a[3]); i < n; i++) {
        zclock_sleep(1000 / (n > 0 ? n : 1));   /* a fresh publisher is a slow joiner */
        pr_event_publish(s, a[1], kv, 2);
    }
    printf("published\n");
    zsock_destroy(&s);
    return 0;
}

static int s_subscribe(bb_mesh_t *mesh, char **a)
{
    zsock_t *s = zsock_new(ZMQ_SUB);
    if (!s)
        return 1;
    zsock_set_subscribe(s, a[1]);
    if (bb_mesh_apply(mesh, s) != 0 || zsock_connect(s, "%s", a[0]) != 0)
        return 1;
    printf("ready\n");
    fflush(stdout);
    int64_t until = zclock_mono() + atoi(a[2]);
    int got = 0;
    zpoller_t *p = zpoller_new(s, NULL);
    while (zclock_mono() < until && !zsys_interrupted) {
        if (!zpoller_wait(p, 100))
            continue;
        char *topic = zstr_recv(s);
        printf("event %s\n", topic ? topic : "?");
        fflush(stdout);
        zstr_free(&topic);
        while (zsock_rcvmore(s)) {
            zframe_t *f = zframe_recv(s);
            zframe_destroy(&f);
        }
        got++;
    }
    if (!got)
        printf("no event\n");
    zpoller_destroy(&p);
    zsock_destroy(&s);
    return 0;
}

int main(int argc, char **argv)
{
    bb_mesh_t mesh;
    int i = bb_mesh_opts(argc, argv, &mesh);
    zsys_handler_set(NULL);
    if (i < 0 || i >= argc)
        return 2;
    const char *cmd = argv[i];
    char **a = argv + i + 1;
    int n = argc - i - 1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (strcmp(cmd, "submit") == 0 && n == 5)
        return s_submit(&mesh, a);
    if (strcmp(cmd, "register") == 0 && (n == 3 || n == 4))
        return s_register(&mesh, a, n);
    if (strcmp(cmd, "publish") == 0 && n == 4)
        return s_publish(&mesh, a);
    if (strcmp(cmd, "subscribe") == 0 && n == 3)
        return s_subscribe(&mesh, a);
    fprintf(stderr, "usage: see the comment at the top of tests/tools/bb_rogue.c\n");
    return 2;
}
