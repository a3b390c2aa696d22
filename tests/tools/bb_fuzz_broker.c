/* Test tool: throws malformed and hostile frames at a broker, as a client and as a worker.
 * Usage: bb-fuzz-broker [--keys DIR --key NAME] ENDPOINT COUNT SEED. Deterministic for a
 * seed; prints what it sent. */
#include "bb_mesh.h"
#include <czmq.h>
#include <stdio.h>
#include "pr_envelope.h"
#include "pr_mdp.h"

static uint64_t s_state;

static uint32_t s_rand(void)
{
    s_state ^= s_state << 13;
    s_state ^= s_state >> 7;
    s_state ^= s_state << 17;
    return (uint32_t) s_state;
}

static void s_add_random(zmsg_t *msg, size_t max)
{
    size_t n = s_rand() % (max + 1);
    unsigned char *b = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char) s_rand();
    zmsg_addmem(msg, b, n);
    free(b);
}

/* A well-formed envelope with some bytes flipped: it reaches a worker's decoder. */
static void s_add_mangled_envelope(zmsg_t *msg)
{
    pr_request_t req = { .op = s_rand() % 2 ? "project.list" : "project.get", .rid = "fuzz-rid-0001",
                         .uri = "/projects", .principal = "admin",
                         .path = { { "projectId", "00000000-0000-4000-8000-000000000000" } },
                         .npath = 1, .body = (const unsigned char *) "{}", .body_len = 2 };
    size_t len = 0;
    unsigned char *env = pr_request_encode(&req, &len);
    for (int i = 0, n = (int) (s_rand() % 4); env && i < n; i++)
        env[s_rand() % len] = (unsigned char) s_rand();
    if (env && s_rand() % 4 == 0)
        len = s_rand() % len;  /* truncated */
    zmsg_addmem(msg, env, len);
    free(env);
}

static void s_add_tag(zmsg_t *msg)
{
    pr_tag_t t = { s_rand(), zclock_time() + 2000 };
    unsigned char b[20] = { 0 };  /* room for the occasional over-long tag */
    pr_tag_pack(&t, b);
    zmsg_addmem(msg, b, s_rand() % 8 ? 16 : s_rand() % 20);
}

static zmsg_t *s_message(void)
{
    zmsg_t *msg = zmsg_new();
    unsigned char cmd[2] = { (unsigned char) (s_rand() % 8 ? s_rand() % 6 : s_rand()),
                             (unsigned char) s_rand() };
    switch (s_rand() % 5) {
    case 0:  /* pure noise, any number of frames */
        for (int i = 0, n = (int) (s_rand() % 6); i < n; i++)
            s_add_random(msg, 64);
        break;
    case 1:  /* client request to a real service with a mangled envelope */
        zmsg_addstr(msg, PR_MDPC);
        zmsg_addmem(msg, &(unsigned char) { PR_C_REQUEST }, 1);
        zmsg_addstr(msg, s_rand() % 4 ? "registry" : "no-such-service");
        s_add_tag(msg);
        s_add_mangled_envelope(msg);
        break;
    case 2:  /* client framing with random command and frame counts */
        zmsg_addstr(msg, PR_MDPC);
        zmsg_addmem(msg, cmd, s_rand() % 4 ? 1 : 2);  /* sometimes a 2-byte command */
        for (int i = 0, n = (int) (s_rand() % 5); i < n; i++)
            s_add_random(msg, 40);
        break;
    default: /* worker framing: READY with odd names, REPLY/HEARTBEAT from nobody, junk */
        zmsg_addstr(msg, PR_MDPW);
        zmsg_addmem(msg, cmd, 1);
        if (cmd[0] == PR_W_READY && s_rand() % 2)
            zmsg_addstr(msg, s_rand() % 2 ? "" : "mmi.fake");
        for (int i = 0, n = (int) (s_rand() % 4); i < n; i++)
            s_add_random(msg, 200);
        break;
    }
    return msg;
}

int main(int argc, char **argv)
{
    bb_mesh_t mesh;
    int a = bb_mesh_opts(argc, argv, &mesh);
    if (a < 0 || argc - a < 3) {
        fprintf(stderr, "usage: %s [--keys DIR --key NAME] ENDPOINT COUNT SEED\n", argv[0]);
        return 2;
    }
    const char *endpoint = argv[a];
    long count = atol(argv[a + 1]);
    s_state = (uint64_t) atoll(argv[a + 2]) | 1;
    int sent = 0;
    for (long i = 0; i < count; i++) {
        /* a fresh identity now and then: the broker sees many peers, some vanishing */
        zsock_t *s = zsock_new(ZMQ_DEALER);
        zsock_set_linger(s, 200);
        if (!s || bb_mesh_apply(&mesh, s) != 0 || zsock_connect(s, "%s", endpoint) != 0)
            return 1;
        for (int j = 0; j < 20 && i < count; j++, i++) {
            zmsg_t *msg = s_message();
            if (zmsg_size(msg) == 0)
                zmsg_addmem(msg, "", 0);
            if (zmsg_send(&msg, s) == 0)
                sent++;
            zmsg_destroy(&msg);
            zmsg_t *reply = NULL;
            while ((zsock_events(s) & ZMQ_POLLIN) && (reply = zmsg_recv(s)))
                zmsg_destroy(&reply);  /* NAKs, FINALs and DISCONNECTs are fine */
        }
        zclock_sleep(5);
        zsock_destroy(&s);
    }
    printf("sent %d messages\n", sent);
    return 0;
}
