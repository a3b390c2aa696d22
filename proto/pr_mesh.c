/* The authenticated mesh: role names, loading CURVE certificates (czmq zcert files) and
 * applying them to sockets. Owns the certificates of one pr_mesh_t. */
#include "pr_mesh.h"
#include <string.h>
#include <sys/stat.h>

static const char *const s_roles[PR_ROLE_COUNT] = { "gateway", "front", "registry", "compiler",
                                                    "hub" };

struct pr_mesh {
    bool insecure;
    zcert_t *own;             /* this process's key pair */
    char server_public[41];   /* the gateway's public key (clients only), Z85 */
};

const char *pr_role_name(pr_role_t role)
{
    return role >= 0 && role < PR_ROLE_COUNT ? s_roles[role] : "?";
}

int pr_role_from_name(const char *name)
{
    for (int i = 0; name && i < PR_ROLE_COUNT; i++)
        if (strcmp(name, s_roles[i]) == 0)
            return i;
    return -1;
}

bool pr_role_is_service(pr_role_t role)
{
    return role == PR_ROLE_REGISTRY || role == PR_ROLE_COMPILER || role == PR_ROLE_HUB;
}

bool pr_role_is_worker(pr_role_t role)
{
    return role == PR_ROLE_REGISTRY || role == PR_ROLE_COMPILER;
}

/* Loads a zcert file; a secret file must not be readable by others (group-readable is how
 * Kubernetes hands a Secret to a pod's fsGroup). */
static zcert_t *s_load(const char *path, bool secret, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "mesh key %s: %s", path, strerror(errno));
        return NULL;
    }
    if (secret && (st.st_mode & 007)) {
        snprintf(err, errlen, "mesh key %s is readable by others (chmod 600 it)", path);
        return NULL;
    }
    zcert_t *cert = zcert_load(path);
    if (!cert || (secret && !*zcert_secret_txt(cert)) || !*zcert_public_txt(cert)) {
        snprintf(err, errlen, "mesh key %s is not a CURVE certificate", path);
        zcert_destroy(&cert);
    }
    return cert;
}

static pr_mesh_t *s_new(bool insecure)
{
    pr_mesh_t *self = calloc(1, sizeof *self);
    if (self)
        self->insecure = insecure;
    return self;
}

static bool s_keys_dir(const char *dir, char *err, size_t errlen)
{
    if (dir && *dir)
        return true;
    snprintf(err, errlen, "no mesh keys: pass --mesh-keys DIR (or --insecure-mesh on loopback)");
    return false;
}

pr_mesh_t *pr_mesh_client_new(const char *dir, pr_role_t role, const char *key_name,
                              bool insecure, char *err, size_t errlen)
{
    pr_mesh_t *self = s_new(insecure);
    if (!self || insecure)
        return self;
    char path[4096];
    if (!s_keys_dir(dir, err, errlen)) {
        pr_mesh_destroy(&self);
        return NULL;
    }
    snprintf(path, sizeof path, "%s/%s_secret", dir, key_name ? key_name : pr_role_name(role));
    self->own = s_load(path, true, err, errlen);
    snprintf(path, sizeof path, "%s/gateway", dir);
    zcert_t *server = self->own ? s_load(path, false, err, errlen) : NULL;
    if (server)
        snprintf(self->server_public, sizeof self->server_public, "%s",
                 zcert_public_txt(server));
    zcert_destroy(&server);
    if (!*self->server_public)
        pr_mesh_destroy(&self);
    return self;
}

pr_mesh_t *pr_mesh_server_new(const char *dir, bool insecure, char *err, size_t errlen)
{
    pr_mesh_t *self = s_new(insecure);
    if (!self || insecure)
        return self;
    char path[4096];
    if (!s_keys_dir(dir, err, errlen)) {
        pr_mesh_destroy(&self);
        return NULL;
    }
    snprintf(path, sizeof path, "%s/gateway_secret", dir);
    if (!(self->own = s_load(path, true, err, errlen)))
        pr_mesh_destroy(&self);
    return self;
}

void pr_mesh_destroy(pr_mesh_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zcert_destroy(&(*self_p)->own);
    free(*self_p);
    *self_p = NULL;
}

bool pr_mesh_insecure(const pr_mesh_t *self)
{
    return !self || self->insecure;
}

int pr_mesh_client_apply(const pr_mesh_t *self, zsock_t *sock)
{
    if (pr_mesh_insecure(self))
        return 0;
    zcert_apply(self->own, sock);
    zsock_set_curve_serverkey(sock, self->server_public);
    char *key = zsock_curve_serverkey(sock);   /* czmq returns a copy */
    int rc = key && *key ? 0 : -1;
    zstr_free(&key);
    return rc;
}

int pr_mesh_server_apply(const pr_mesh_t *self, zsock_t *sock, const char *domain)
{
    zsock_set_zap_domain(sock, domain);
    if (pr_mesh_insecure(self))
        return 0;
    zcert_apply(self->own, sock);
    zsock_set_curve_server(sock, 1);
    return zsock_curve_server(sock) == 1 ? 0 : -1;
}

bool pr_endpoint_is_local(const char *ep)
{
    if (!ep)
        return false;
    if (strncmp(ep, "ipc://", 6) == 0 || strncmp(ep, "inproc://", 9) == 0)
        return true;
    if (strncmp(ep, "tcp://", 6) != 0)
        return false;
    const char *host = ep + 6;
    return strncmp(host, "127.", 4) == 0 || strncmp(host, "localhost:", 10) == 0
           || strncmp(host, "[::1]:", 6) == 0;
}
