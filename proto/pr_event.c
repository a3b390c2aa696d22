/* Event publishing and receiving over PUB/SUB. Owns nothing beyond the sockets it hands out
 * and the event being decoded. */
#include "pr_event.h"
#include "pr_mdp.h"
#include <msgpack.h>

zsock_t *pr_event_pub_new(const char *endpoint, const pr_mesh_t *mesh)
{
    zsock_t *pub = zsock_new(ZMQ_PUB);
    if (!pub)
        return NULL;
    zsock_set_linger(pub, 500);
    zsock_set_sndhwm(pub, 1000);
    if (pr_mesh_client_apply(mesh, pub) != 0 || zsock_connect(pub, "%s", endpoint) != 0)
        zsock_destroy(&pub);
    return pub;
}

zsock_t *pr_event_sub_new(const char *endpoint, const pr_mesh_t *mesh,
                          const char *const *topics, size_t ntopics)
{
    zsock_t *sub = zsock_new(ZMQ_SUB);
    if (!sub)
        return NULL;
    zsock_set_linger(sub, 0);
    zsock_set_rcvhwm(sub, 10000);
    zsock_set_maxmsgsize(sub, 64 * 1024);
    for (size_t i = 0; i < ntopics; i++)
        zsock_set_subscribe(sub, topics[i]);
    if (pr_mesh_client_apply(mesh, sub) != 0 || zsock_connect(sub, "%s", endpoint) != 0)
        zsock_destroy(&sub);
    return sub;
}

int pr_event_publish(zsock_t *pub, const char *topic, const pr_kv_t *kv, size_t n)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, n);
    for (size_t i = 0; i < n; i++) {
        size_t kl = strlen(kv[i].key), vl = strlen(kv[i].val);
        msgpack_pack_str(&pk, kl);
        msgpack_pack_str_body(&pk, kv[i].key, kl);
        msgpack_pack_str(&pk, vl);
        msgpack_pack_str_body(&pk, kv[i].val, vl);
    }
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, topic);
    zmsg_addmem(msg, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return pr_mdp_send(pub, &msg);
}

/* Copies a msgpack string into the event's store; NULL when it does not fit. */
static const char *s_copy(pr_event_t *ev, size_t *used, const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size + 1 > sizeof ev->store - *used
        || memchr(o->via.str.ptr, '\0', o->via.str.size))
        return NULL;
    char *s = ev->store + *used;
    memcpy(s, o->via.str.ptr, o->via.str.size);
    s[o->via.str.size] = '\0';
    *used += o->via.str.size + 1;
    return s;
}

static int s_decode(pr_event_t *ev, zframe_t *body)
{
    if (pr_msgpack_check(zframe_data(body), zframe_size(body), 2) != 0)
        return -1;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int rc = msgpack_unpack_next(&u, (const char *) zframe_data(body), zframe_size(body), NULL)
                     == MSGPACK_UNPACK_SUCCESS && u.data.type == MSGPACK_OBJECT_MAP
                     && u.data.via.map.size <= PR_EVENT_MAX_PAIRS ? 0 : -1;
    size_t used = 0;
    for (uint32_t i = 0; rc == 0 && i < u.data.via.map.size; i++) {
        const char *k = s_copy(ev, &used, &u.data.via.map.ptr[i].key);
        const char *v = k ? s_copy(ev, &used, &u.data.via.map.ptr[i].val) : NULL;
        if (!v)
            rc = -1;
        else
            ev->kv[ev->n++] = (pr_kv_t) { k, v };
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

int pr_event_recv(zsock_t *sub, pr_event_t *ev)
{
    memset(ev, 0, sizeof ev->kv);
    ev->n = 0;
    ev->topic[0] = '\0';
    zmsg_t *msg = zmsg_recv(sub);
    if (!msg)
        return -1;
    zframe_t *topic = zmsg_pop(msg), *body = zmsg_pop(msg);
    int rc = topic && body && zmsg_size(msg) == 0 && zframe_size(topic) <= PR_EVENT_MAX_TOPIC
                 ? 0 : -1;
    if (rc == 0) {
        memcpy(ev->topic, zframe_data(topic), zframe_size(topic));
        ev->topic[zframe_size(topic)] = '\0';
        rc = strlen(ev->topic) == zframe_size(topic) ? s_decode(ev, body) : -1;
    }
    zframe_destroy(&topic);
    zframe_destroy(&body);
    zmsg_destroy(&msg);
    return rc;
}
