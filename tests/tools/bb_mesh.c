/* Test tools' mesh options. Owns the certificate a tool authenticates with. */
#include "bb_mesh.h"
#include <string.h>

int bb_mesh_opts(int argc, char **argv, bb_mesh_t *m)
{
    memset(m, 0, sizeof *m);
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--keys") == 0 && i + 1 < argc)
            m->dir = argv[++i];
        else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
            m->key = argv[++i];
        else if (strcmp(argv[i], "--random-key") == 0)
            m->random = 1;
        else
            return -1;
    }
    return i;
}

int bb_mesh_apply(bb_mesh_t *m, zsock_t *s)
{
    if (!m->key && !m->random)
        return 0;
    if (!m->dir)
        return -1;
    if (!*m->server) {
        char path[4096];
        snprintf(path, sizeof path, "%s/gateway", m->dir);
        zcert_t *server = zcert_load(path);
        if (!server)
            return -1;
        snprintf(m->server, sizeof m->server, "%s", zcert_public_txt(server));
        zcert_destroy(&server);
        if (m->random) {
            m->cert = zcert_new();
        } else {
            snprintf(path, sizeof path, "%s/%s_secret", m->dir, m->key);
            m->cert = zcert_load(path);
        }
        if (!m->cert)
            return -1;
    }
    zcert_apply(m->cert, s);
    zsock_set_curve_serverkey(s, m->server);
    return 0;
}
