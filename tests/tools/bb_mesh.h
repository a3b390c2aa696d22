/* Test tools: how a tool authenticates to the mesh, from its leading options:
 *   --keys DIR       the gateway's public key is DIR/gateway
 *   --key NAME       use the pair DIR/NAME_secret (any role)
 *   --random-key     a fresh key pair the gateway has never seen
 * Without --key/--random-key the tool's sockets are plain (no CURVE). */
#ifndef BB_MESH_H
#define BB_MESH_H
#include <czmq.h>

typedef struct {
    const char *dir, *key;
    int random;
    zcert_t *cert;
    char server[41];
} bb_mesh_t;

/* Consumes the options; returns the index of the first other argument, -1 on a bad option. */
int bb_mesh_opts(int argc, char **argv, bb_mesh_t *m);
/* Applies the chosen identity to s (before connect); 0 or -1. */
int bb_mesh_apply(bb_mesh_t *m, zsock_t *s);

#endif
