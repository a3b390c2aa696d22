/* The services' shared secret: a file outside the database (var/service-secret under
 * `make run`, a Secret in Kubernetes) from which keys for separate purposes are derived
 * (sealing idempotency records, signing artifact download tokens). Pure functions. */
#ifndef CM_SECRET_H
#define CM_SECRET_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CM_SECRET_MIN 32   /* bytes of content a secret file must have */

/* Reads path (at least CM_SECRET_MIN bytes, at most 4 KiB, not readable by others)
 * and writes the 32-byte master key (SHA-256 of its content, trailing newline excluded).
 * 0, or -1 with a reason in err. */
int cm_secret_load(const char *path, unsigned char key[32], char *err, size_t errlen);
/* A 32-byte key for purpose (e.g. "download-token-v1") derived from the master key. */
void cm_secret_derive(const unsigned char master[32], const char *purpose, unsigned char out[32]);

/* A download token for one artifact: "<expiry unix seconds>.<base64url HMAC-SHA256 of
 * artifact_id '\n' expiry>" under the download key. out needs 96 bytes. */
void cm_download_token(const unsigned char master[32], const char *artifact_id, int64_t expires,
                       char out[96]);
/* True when token was made for artifact_id by this key and has not expired at now. */
bool cm_download_token_ok(const unsigned char master[32], const char *artifact_id,
                          const char *token, int64_t now);

#endif
