/* barbacane-keygen: creates the CURVE key pairs of the mesh roles (czmq zcert files) that are
 * missing from a directory. Public file DIR/<role> (0644), secret DIR/<role>_secret (0600). */
#include "pr_mesh.h"
#include <czmq.h>
#include <stdio.h>
#include <sys/stat.h>

static int s_usage(void)
{
    fprintf(stderr, "usage: barbacane-keygen DIR ROLE [NAME]...\n"
                    "  creates DIR/NAME and DIR/NAME_secret for ROLE when they are missing\n"
                    "  (NAME defaults to ROLE; roles: gateway front registry compiler hub)\n"
                    "  barbacane-keygen DIR --all   creates every role's pair that is missing\n");
    return 2;
}

/* Writes one pair; 0 when it exists or was written, -1 on failure. */
static int s_make(const char *dir, const char *role, const char *name)
{
    char pub[4096], sec[4200];
    snprintf(pub, sizeof pub, "%s/%s", dir, name);
    snprintf(sec, sizeof sec, "%s_secret", pub);
    if (zsys_file_exists(pub) && zsys_file_exists(sec))
        return 0;
    zcert_t *cert = zcert_new();
    if (!cert)
        return -1;
    zcert_set_meta(cert, "role", "%s", role);
    mode_t old = umask(077);
    int rc = zcert_save(cert, pub);
    umask(old);
    if (rc == 0)
        rc = chmod(pub, 0644) == 0 && chmod(sec, 0600) == 0 ? 0 : -1;
    if (rc == 0)
        printf("keygen: %s key pair written to %s (public) and %s (secret)\n", role, pub, sec);
    else
        fprintf(stderr, "keygen: cannot write %s: %s\n", pub, strerror(errno));
    zcert_destroy(&cert);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return s_usage();
    const char *dir = argv[1];
    zsys_handler_set(NULL);
    if (!zsys_file_exists(dir) && mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "keygen: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    if (strcmp(argv[2], "--all") == 0) {
        for (int r = 0; r < PR_ROLE_COUNT; r++)
            if (s_make(dir, pr_role_name((pr_role_t) r), pr_role_name((pr_role_t) r)) != 0)
                return 1;
        return 0;
    }
    if (pr_role_from_name(argv[2]) < 0 || argc > 4) {
        fprintf(stderr, "keygen: unknown role '%s'\n", argv[2]);
        return s_usage();
    }
    return s_make(dir, argv[2], argc == 4 ? argv[3] : argv[2]) == 0 ? 0 : 1;
}
