/* The ZAP handler: owns the REP socket at inproc://zeromq.zap.01 and the table of allowed
 * public keys (Z85 text -> role), rebuilt from the key directory at start and on SIGHUP. */
#include "gw_zap.h"
#include "pr_mesh.h"
#include "cm_log.h"
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#define GW_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define GW_ZAP_MAX_KEYS 1024

typedef struct {
    int role;
    char name[128];          /* file it came from, for the log */
} s_key_t;

struct gw_zap {
    zsock_t *rep;
    char *dir;
    zhashx_t *keys;          /* Z85 public key -> s_key_t* */
    unsigned long refused;
    cm_ratelimit_t log;
};

static void s_key_free(void **item)
{
    free(*item);
    *item = NULL;
}

/* Reads one public certificate: its Z85 key and role; false when the file is not one. */
static bool s_read_cert(const char *path, char key[41], int *role)
{
    zconfig_t *cfg = zconfig_load(path);
    const char *pub = cfg ? zconfig_get(cfg, "curve/public-key", NULL) : NULL;
    const char *r = cfg ? zconfig_get(cfg, "metadata/role", NULL) : NULL;
    uint8_t raw[32];
    bool ok = pub && strlen(pub) == 40 && zmq_z85_decode(raw, pub) && r
              && (*role = pr_role_from_name(r)) >= 0;
    if (ok)
        memcpy(key, pub, 41);
    zconfig_destroy(&cfg);
    return ok;
}

static bool s_skip(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return e->d_name[0] == '.' || (n > 7 && strcmp(e->d_name + n - 7, "_secret") == 0);
}

/* A fresh table from the directory; NULL when the directory cannot be read. */
static zhashx_t *s_load(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        cm_error("mesh: cannot read key directory %s: %s", dir, strerror(errno));
        return NULL;
    }
    zhashx_t *keys = zhashx_new();
    zhashx_set_destructor(keys, s_key_free);
    struct dirent *e;
    while ((e = readdir(d)) && zhashx_size(keys) < GW_ZAP_MAX_KEYS) {
        char path[4096], key[41];
        struct stat st;
        int role;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (s_skip(e) || stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > 65536
            || !s_read_cert(path, key, &role) || role == PR_ROLE_GATEWAY)
            continue;
        s_key_t *k = calloc(1, sizeof *k);
        k->role = role;
        snprintf(k->name, sizeof k->name, "%.127s", e->d_name);
        zhashx_update(keys, key, k);
    }
    closedir(d);
    return keys;
}

gw_zap_t *gw_zap_new(const char *dir)
{
    gw_zap_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->dir = strdup(dir);
    self->log = (cm_ratelimit_t) CM_RATELIMIT(10, 10000);
    self->rep = zsock_new(ZMQ_REP);
    if (!self->rep || zsock_bind(self->rep, GW_ZAP_ENDPOINT) != 0
        || gw_zap_reload(self) != 0) {
        cm_error("mesh: cannot start the ZAP handler");
        gw_zap_destroy(&self);
    }
    return self;
}

void gw_zap_destroy(gw_zap_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_zap_t *self = *self_p;
    zsock_destroy(&self->rep);
    zhashx_destroy(&self->keys);
    free(self->dir);
    free(self);
    *self_p = NULL;
}

zsock_t *gw_zap_socket(gw_zap_t *self)
{
    return self->rep;
}

int gw_zap_reload(gw_zap_t *self)
{
    zhashx_t *keys = s_load(self->dir);
    if (!keys)
        return -1;
    zhashx_destroy(&self->keys);
    self->keys = keys;
    size_t per[PR_ROLE_COUNT] = { 0 };
    for (s_key_t *k = zhashx_first(keys); k; k = zhashx_next(keys))
        per[k->role]++;
    cm_info("mesh: %zu allowed keys in %s (front %zu, registry %zu, compiler %zu, hub %zu)",
            zhashx_size(keys), self->dir, per[PR_ROLE_FRONT], per[PR_ROLE_REGISTRY],
            per[PR_ROLE_COMPILER], per[PR_ROLE_HUB]);
    return 0;
}

int gw_zap_role(void *arg, const char *user_id)
{
    gw_zap_t *self = arg;
    s_key_t *k = user_id ? zhashx_lookup(self->keys, user_id) : NULL;
    return k ? k->role : -1;
}

/* The decision for one handshake: the key's role must be admitted by the socket's domain. */
static const s_key_t *s_decide(gw_zap_t *self, const char *domain, const char *mechanism,
                               zframe_t *cred, char key[41])
{
    *key = '\0';
    if (strcmp(mechanism, "CURVE") != 0 || !cred || zframe_size(cred) != 32)
        return NULL;
    zmq_z85_encode(key, zframe_data(cred), 32);
    const s_key_t *k = zhashx_lookup(self->keys, key);
    if (!k)
        return NULL;
    if (strcmp(domain, GW_ZAP_DOMAIN_BROKER) == 0)
        return k->role == PR_ROLE_FRONT || pr_role_is_worker((pr_role_t) k->role) ? k : NULL;
    if (strcmp(domain, GW_ZAP_DOMAIN_EVENTS) == 0)
        return pr_role_is_service((pr_role_t) k->role) ? k : NULL;
    return NULL;
}

/* One request: version, request id, domain, address, identity, mechanism, credentials. */
static void s_answer(gw_zap_t *self, zmsg_t *req)
{
    char *version = zmsg_popstr(req), *rid = zmsg_popstr(req), *domain = zmsg_popstr(req);
    char *address = zmsg_popstr(req), *identity = zmsg_popstr(req), *mech = zmsg_popstr(req);
    zframe_t *cred = zmsg_pop(req);
    char key[41];
    const s_key_t *k = version && rid && domain && address && mech && strcmp(version, "1.0") == 0
                           ? s_decide(self, domain, mech, cred, key) : NULL;
    if (!k) {
        self->refused++;
        cm_log_limited(&self->log, CM_LOG_WARN, NULL,
                       "mesh: refused a %s handshake on '%s' from %s (key %.8s…)",
                       mech ? mech : "?", domain ? domain : "?", address ? address : "?",
                       *key ? key : "none");
    }
    zmsg_t *rep = zmsg_new();
    zmsg_addstr(rep, "1.0");
    zmsg_addstr(rep, rid ? rid : "");
    zmsg_addstr(rep, k ? "200" : "400");
    zmsg_addstr(rep, k ? "OK" : "key not allowed here");
    zmsg_addstr(rep, k ? key : "");
    zmsg_addmem(rep, "", 0);
    if (zmsg_send(&rep, self->rep) != 0)
        zmsg_destroy(&rep);
    free(version);
    free(rid);
    free(domain);
    free(address);
    free(identity);
    free(mech);
    zframe_destroy(&cred);
}

void gw_zap_drain(gw_zap_t *self)
{
    for (int n = 0; n < 1000 && (zsock_events(self->rep) & ZMQ_POLLIN); n++) {
        zmsg_t *req = zmsg_recv(self->rep);
        if (!req)
            break;
        s_answer(self, req);
        zmsg_destroy(&req);
    }
}

size_t gw_zap_keys(const gw_zap_t *self)
{
    return zhashx_size(self->keys);
}

unsigned long gw_zap_refused(const gw_zap_t *self)
{
    return self->refused;
}
