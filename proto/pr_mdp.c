/* The MDP codec: tag packing, message builders, the parser and the one non-blocking send
 * path used by the broker, fronts and workers. Owns nothing beyond the messages it builds. */
#include "pr_mdp.h"
#include <string.h>

void pr_tag_pack(const pr_tag_t *tag, unsigned char out[16])
{
    for (int i = 0; i < 8; i++) {
        out[i] = (unsigned char) (tag->cid >> (56 - 8 * i));
        out[8 + i] = (unsigned char) ((uint64_t) tag->deadline_ms >> (56 - 8 * i));
    }
}

int pr_tag_unpack(const void *data, size_t len, pr_tag_t *tag)
{
    const unsigned char *p = data;
    if (!p || len != 16)
        return -1;
    uint64_t cid = 0, dl = 0;
    for (int i = 0; i < 8; i++) {
        cid = cid << 8 | p[i];
        dl = dl << 8 | p[8 + i];
    }
    tag->cid = cid;
    tag->deadline_ms = (int64_t) dl;
    return 0;
}

/* ---- sending ------------------------------------------------------------------------- */

int pr_mdp_send_frames(zsock_t *sock, zframe_t *const *frames, size_t n)
{
    if (!sock || n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        zframe_t *f = frames[i];
        int flags = ZFRAME_REUSE | ZFRAME_DONTWAIT | (i + 1 < n ? ZFRAME_MORE : 0);
        /* ZeroMQ delivers multipart messages atomically: once the first frame is accepted
         * the rest are, so a failure can only happen before anything went out. */
        if (zframe_send(&f, sock, flags) != 0)
            return -1;
    }
    return 0;
}

int pr_mdp_send(zsock_t *sock, zmsg_t **msg_p)
{
    if (!msg_p || !*msg_p)
        return -1;
    zframe_t *frames[16];
    size_t n = 0;
    int rc = 0;
    for (zframe_t *f = zmsg_first(*msg_p); f && rc == 0; f = zmsg_next(*msg_p))
        if (n < sizeof frames / sizeof frames[0])
            frames[n++] = f;
        else
            rc = -1;   /* no MDP message has this many frames */
    if (rc == 0)
        rc = pr_mdp_send_frames(sock, frames, n);
    zmsg_destroy(msg_p);
    return rc;
}

int pr_mdp_send_worker_request(zsock_t *router, zframe_t *identity, zframe_t *client,
                               zframe_t *tag, zframe_t *env)
{
    unsigned char cmd = PR_W_REQUEST;
    zframe_t *proto = zframe_new(PR_MDPW, strlen(PR_MDPW)), *c = zframe_new(&cmd, 1);
    zframe_t *empty = client ? NULL : zframe_new_empty();
    zframe_t *frames[] = { identity, proto, c, client ? client : empty, tag, env };
    int rc = pr_mdp_send_frames(router, frames, 6);
    zframe_destroy(&proto);
    zframe_destroy(&c);
    zframe_destroy(&empty);
    return rc;
}

/* ---- building ------------------------------------------------------------------------ */

static void s_add_byte(zmsg_t *m, int byte)
{
    unsigned char c = (unsigned char) byte;
    zmsg_addmem(m, &c, 1);
}

static zmsg_t *s_start(const zframe_t *identity, const char *proto, int cmd)
{
    zmsg_t *m = zmsg_new();
    if (identity)
        zmsg_addmem(m, zframe_data((zframe_t *) identity), zframe_size((zframe_t *) identity));
    zmsg_addstr(m, proto);
    s_add_byte(m, cmd);
    return m;
}

static void s_add_frame(zmsg_t *m, const zframe_t *f)
{
    zframe_t *copy = f ? zframe_dup((zframe_t *) f) : zframe_new_empty();
    zmsg_append(m, &copy);
}

zmsg_t *pr_mdp_client_request(const char *service, const pr_tag_t *tag, const void *env,
                              size_t len)
{
    unsigned char t[16];
    pr_tag_pack(tag, t);
    zmsg_t *m = s_start(NULL, PR_MDPC, PR_C_REQUEST);
    zmsg_addstr(m, service);
    zmsg_addmem(m, t, sizeof t);
    zmsg_addmem(m, env, len);
    return m;
}

zmsg_t *pr_mdp_client_reply(const zframe_t *identity, int cmd, const char *service,
                            const zframe_t *tag, const void *payload, size_t len)
{
    zmsg_t *m = s_start(identity, PR_MDPC, cmd);
    zmsg_addstr(m, service);
    s_add_frame(m, tag);
    zmsg_addmem(m, payload, len);
    return m;
}

zmsg_t *pr_mdp_worker_cmd(const zframe_t *identity, int cmd)
{
    return s_start(identity, PR_MDPW, cmd);
}

zmsg_t *pr_mdp_worker_ready(const char *service, int credit)
{
    zmsg_t *m = s_start(NULL, PR_MDPW, PR_W_READY);
    zmsg_addstr(m, service);
    zmsg_addstrf(m, "%d", credit);
    return m;
}

zmsg_t *pr_mdp_worker_reply(const zframe_t *client, const zframe_t *tag, const void *reply,
                            size_t len)
{
    zmsg_t *m = s_start(NULL, PR_MDPW, PR_W_REPLY);
    s_add_frame(m, client);
    s_add_frame(m, tag);
    zmsg_addmem(m, reply, len);
    return m;
}

/* ---- parsing ------------------------------------------------------------------------- */

void pr_mdp_msg_clear(pr_mdp_msg_t *m)
{
    zframe_destroy(&m->sender);
    zframe_destroy(&m->client);
    zframe_destroy(&m->tag);
    zframe_destroy(&m->body);
    memset(m, 0, sizeof *m);
}

/* Copies a short printable string frame; false when it is empty, too long or binary. */
static bool s_name(zframe_t *f, char *out, size_t cap)
{
    size_t n = f ? zframe_size(f) : 0;
    const unsigned char *d = f ? zframe_data(f) : NULL;
    if (n == 0 || n >= cap)
        return false;
    for (size_t i = 0; i < n; i++)
        if (d[i] < 0x21 || d[i] > 0x7e)
            return false;
    memcpy(out, d, n);
    out[n] = '\0';
    return true;
}

static bool s_tag(pr_mdp_msg_t *m)
{
    return m->tag && pr_tag_unpack(zframe_data(m->tag), zframe_size(m->tag), &m->t) == 0;
}

static bool s_credit(zframe_t *f, int *credit)
{
    char text[8];
    if (!f) {
        *credit = 1;
        return true;
    }
    if (!s_name(f, text, sizeof text))
        return false;
    char *end = NULL;
    long n = strtol(text, &end, 10);
    *credit = (int) n;
    return *end == '\0' && n >= 1 && n <= PR_MAX_CREDIT;
}

/* Moves the remaining frames into the fields each command has; false when they do not fit. */
static bool s_fields(zmsg_t *msg, pr_mdp_msg_t *m, bool from_router)
{
    size_t left = zmsg_size(msg);
    zframe_t *f;
    if (m->proto == PR_MDP_CLIENT && m->cmd == PR_C_REQUEST && from_router && left == 3) {
        f = zmsg_pop(msg);
        bool ok = s_name(f, m->service, sizeof m->service);
        zframe_destroy(&f);
        m->tag = zmsg_pop(msg);
        m->body = zmsg_pop(msg);
        return ok && s_tag(m);
    }
    if (m->proto == PR_MDP_CLIENT && (m->cmd == PR_C_FINAL || m->cmd == PR_C_NAK)
        && !from_router && left == 3) {
        f = zmsg_pop(msg);
        bool ok = s_name(f, m->service, sizeof m->service);
        zframe_destroy(&f);
        m->tag = zmsg_pop(msg);
        m->body = zmsg_pop(msg);
        return ok && s_tag(m) && (m->cmd == PR_C_FINAL || zframe_size(m->body) == 2);
    }
    if (m->proto != PR_MDP_WORKER)
        return false;
    switch (m->cmd) {
    case PR_W_READY: {
        if (!from_router || left < 1 || left > 2)
            return false;
        f = zmsg_pop(msg);
        bool ok = s_name(f, m->service, sizeof m->service);
        zframe_destroy(&f);
        f = zmsg_pop(msg);
        ok = ok && s_credit(f, &m->credit);
        zframe_destroy(&f);
        return ok;
    }
    case PR_W_REQUEST:
    case PR_W_REPLY:
        if (left != 3 || from_router != (m->cmd == PR_W_REPLY))
            return false;
        m->client = zmsg_pop(msg);
        m->tag = zmsg_pop(msg);
        m->body = zmsg_pop(msg);
        return s_tag(m);
    case PR_W_HEARTBEAT:
    case PR_W_DISCONNECT:
        return left == 0;
    default:
        return false;
    }
}

int pr_mdp_parse(zmsg_t **msg_p, bool from_router, pr_mdp_msg_t *out)
{
    memset(out, 0, sizeof *out);
    zmsg_t *msg = msg_p ? *msg_p : NULL;
    if (!msg)
        return -1;
    if (from_router)
        out->sender = zmsg_pop(msg);
    zframe_t *proto = zmsg_pop(msg), *cmd = zmsg_pop(msg);
    bool ok = proto && cmd && zframe_size(cmd) == 1
              && (!from_router || (out->sender && zframe_size(out->sender) > 0));
    if (ok) {
        /* The identity frame is made by the ROUTER; the peer's own frames carry the
         * connection's metadata, the ZAP User-Id among them. */
        const char *uid = zframe_meta(proto, "User-Id");
        snprintf(out->user_id, sizeof out->user_id, "%s", uid ? uid : "");
        out->cmd = zframe_data(cmd)[0];
        if (zframe_streq(proto, PR_MDPC))
            out->proto = PR_MDP_CLIENT;
        else if (zframe_streq(proto, PR_MDPW))
            out->proto = PR_MDP_WORKER;
        else
            ok = false;
    }
    ok = ok && s_fields(msg, out, from_router);
    zframe_destroy(&proto);
    zframe_destroy(&cmd);
    zmsg_destroy(msg_p);
    if (!ok) {
        pr_mdp_msg_clear(out);
        return -1;
    }
    return 0;
}
