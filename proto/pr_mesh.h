/* The authenticated ZeroMQ mesh: roles, CURVE key pairs in czmq zcert files, and applying
 * them to sockets. The gateway is the CURVE server; every other process is a client that
 * proves its role with its own key. Owns: a pr_mesh_t (the certificates it loaded). */
#ifndef PR_MESH_H
#define PR_MESH_H
#include <czmq.h>
#include <stdbool.h>

typedef enum {
    PR_ROLE_GATEWAY,    /* the CURVE server: broker and event proxy */
    PR_ROLE_FRONT,      /* an HTTP front on an external broker: sends client requests */
    PR_ROLE_REGISTRY,
    PR_ROLE_COMPILER,
    PR_ROLE_HUB,
    PR_ROLE_COUNT
} pr_role_t;

/* "gateway", "front", ...; borrowed. */
const char *pr_role_name(pr_role_t role);
/* The role of a name, or -1. */
int pr_role_from_name(const char *name);
/* True for the roles that run a service (registry, compiler, hub): they may publish and
 * subscribe to events. */
bool pr_role_is_service(pr_role_t role);
/* True for the services that are brokered workers (registry, compiler; not the hub, which
 * has no REST operations): they alone may send READY. */
bool pr_role_is_worker(pr_role_t role);

typedef struct pr_mesh pr_mesh_t;

/* A client of the mesh with role, loading DIR/<key_name>_secret (its own pair) and
 * DIR/gateway (the server's public key). key_name NULL = the role's name. With insecure
 * set (and dir ignored), sockets stay plain. NULL with a reason in err when a file is missing,
 * unreadable, not a zcert or readable by others. Caller owns the result. */
pr_mesh_t *pr_mesh_client_new(const char *dir, pr_role_t role, const char *key_name,
                              bool insecure, char *err, size_t errlen);
/* The server side (the gateway): DIR/gateway_secret. */
pr_mesh_t *pr_mesh_server_new(const char *dir, bool insecure, char *err, size_t errlen);
void pr_mesh_destroy(pr_mesh_t **self_p);
bool pr_mesh_insecure(const pr_mesh_t *self);

/* Makes sock a CURVE client of the gateway (call before connect). 0 or -1. A NULL or
 * insecure mesh leaves the socket plain. */
int pr_mesh_client_apply(const pr_mesh_t *self, zsock_t *sock);
/* Makes sock a CURVE server whose handshakes go to the ZAP handler with domain (call before
 * bind). 0 or -1. */
int pr_mesh_server_apply(const pr_mesh_t *self, zsock_t *sock, const char *domain);

/* True when endpoint can only be reached from this host: tcp://127.x, tcp://localhost,
 * tcp://[::1], ipc:// and inproc://. Plain (insecure) sockets may bind only those. */
bool pr_endpoint_is_local(const char *endpoint);

#endif
