/* Test tool: subscribes to the event proxy's XPUB endpoint and prints each event as one JSON
 * line {"topic": ..., "data": {...}} on stdout.
 * Usage: bb-sub [--keys DIR --key NAME | --random-key] ENDPOINT [PREFIX ...] */
#include "bb_mesh.h"
#include <czmq.h>
#include <msgpack.h>
#include <stdio.h>

static void s_print_str(const char *s, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void s_print(zmsg_t *msg)
{
    char *topic = zmsg_popstr(msg);
    zframe_t *data = zmsg_pop(msg);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    printf("{\"topic\":");
    s_print_str(topic ? topic : "", topic ? strlen(topic) : 0);
    printf(",\"data\":{");
    if (data && msgpack_unpack_next(&up, (const char *) zframe_data(data), zframe_size(data), &off)
                    == MSGPACK_UNPACK_SUCCESS && up.data.type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < up.data.via.map.size; i++) {
            const msgpack_object *k = &up.data.via.map.ptr[i].key, *v = &up.data.via.map.ptr[i].val;
            if (k->type != MSGPACK_OBJECT_STR || v->type != MSGPACK_OBJECT_STR)
                continue;
            printf("%s", i ? "," : "");
            s_print_str(k->via.str.ptr, k->via.str.size);
            putchar(':');
            s_print_str(v->via.str.ptr, v->via.str.size);
        }
    }
    printf("}}\n");
    fflush(stdout);
    msgpack_unpacked_destroy(&up);
    zframe_destroy(&data);
    free(topic);
}

int main(int argc, char **argv)
{
    bb_mesh_t mesh;
    int first = bb_mesh_opts(argc, argv, &mesh);
    if (first < 0 || first >= argc) {
        fprintf(stderr, "usage: %s [--keys DIR --key NAME] ENDPOINT [PREFIX ...]\n", argv[0]);
        return 2;
    }
    zsock_t *sub = zsock_new(ZMQ_SUB);
    if (!sub || bb_mesh_apply(&mesh, sub) != 0 || zsock_connect(sub, "%s", argv[first]) != 0)
        return 1;
    for (int i = first + 1; i < argc; i++)
        zsock_set_subscribe(sub, argv[i]);
    if (argc == first + 1)
        zsock_set_subscribe(sub, "");
    printf("{\"topic\":\"ready\",\"data\":{}}\n");
    fflush(stdout);
    while (!zsys_interrupted) {
        zmsg_t *msg = zmsg_recv(sub);
        if (!msg)
            break;
        s_print(msg);
        zmsg_destroy(&msg);
    }
    zsock_destroy(&sub);
    return 0;
}
