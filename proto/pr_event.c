/* Event publishing over PUB/SUB. Owns nothing beyond the sockets it hands out. */
#include "pr_event.h"
#include <msgpack.h>

zsock_t *pr_event_pub_new(const char *endpoint)
{
    zsock_t *pub = zsock_new(ZMQ_PUB);
    if (!pub)
        return NULL;
    zsock_set_linger(pub, 500);
    if (zsock_connect(pub, "%s", endpoint) != 0) {
        zsock_destroy(&pub);
        return NULL;
    }
    return pub;
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
    return zmsg_send(&msg, pub);
}
