/* The shared service secret and what is derived from it. Owns nothing: every key is written
 * into the caller's buffer and wiped from the stack here. */
#include "cm_secret.h"
#include "cm_util.h"
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cm_secret_load(const char *path, unsigned char key[32], char *err, size_t errlen)
{
    if (!path || !*path) {
        snprintf(err, errlen, "no service secret: pass --service-secret-file FILE");
        return -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "service secret %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char buf[4097];
    /* others must not read it; the group may (a Kubernetes Secret for the pod's fsGroup) */
    ssize_t n = (st.st_mode & 007) ? -1 : read(fd, buf, sizeof buf);
    close(fd);
    if (st.st_mode & 007) {
        snprintf(err, errlen, "service secret %s is readable by others (chmod 600 it)", path);
        return -1;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    if (n < CM_SECRET_MIN || n > 4096) {
        snprintf(err, errlen, "service secret %s must hold %d to 4096 bytes", path, CM_SECRET_MIN);
        explicit_bzero(buf, sizeof buf);
        return -1;
    }
    cm_sha256(buf, (size_t) n, key);
    explicit_bzero(buf, sizeof buf);
    return 0;
}

void cm_secret_derive(const unsigned char master[32], const char *purpose, unsigned char out[32])
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), master, 32, (const unsigned char *) purpose, strlen(purpose), out, &len);
}

static void s_mac(const unsigned char master[32], const char *artifact_id, int64_t expires,
                  char b64[44])
{
    unsigned char key[32], mac[32];
    char msg[128];
    int n = snprintf(msg, sizeof msg, "%s\n%lld", artifact_id, (long long) expires);
    unsigned int len = 32;
    cm_secret_derive(master, "barbacane-download-token-v1", key);
    HMAC(EVP_sha256(), key, 32, (const unsigned char *) msg, (size_t) n, mac, &len);
    cm_base64url(mac, 32, b64);
    explicit_bzero(key, sizeof key);
}

void cm_download_token(const unsigned char master[32], const char *artifact_id, int64_t expires,
                       char out[96])
{
    char b64[44];
    s_mac(master, artifact_id, expires, b64);
    snprintf(out, 96, "%lld.%s", (long long) expires, b64);
}

bool cm_download_token_ok(const unsigned char master[32], const char *artifact_id,
                          const char *token, int64_t now)
{
    if (!token || strlen(token) > 95)
        return false;
    char *end = NULL;
    long long expires = strtoll(token, &end, 10);
    if (end == token || *end != '.' || expires < now)
        return false;
    char want[44];
    s_mac(master, artifact_id, expires, want);
    return strlen(end + 1) == 43 && cm_ct_equal(want, end + 1, 43);
}
