/* Small helpers every process needs: ids, time, hashing, randomness, encodings.
 * Stateless functions; callers own every output buffer. */
#ifndef CM_UTIL_H
#define CM_UTIL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CM_UUID_LEN 36
#define CM_TIME_LEN 30

/* Writes a lowercase UUID v4 (36 chars + NUL) from the CSPRNG. 0 or -1. */
int cm_uuid_v4(char out[CM_UUID_LEN + 1]);
/* True when s is 8-4-4-4-12 hex digits (either case). */
bool cm_uuid_valid(const char *s);
/* Copies a valid UUID lowercased; returns false (out untouched) when s is not one. */
bool cm_uuid_normalize(const char *s, char out[CM_UUID_LEN + 1]);
/* True when id matches ^[A-Za-z0-9._:-]{8,128}$ (request/correlation ids). */
bool cm_request_id_valid(const char *id);

/* Current UTC time as RFC 3339 with milliseconds and Z. */
void cm_time_rfc3339(char out[CM_TIME_LEN + 1]);
/* Monotonic and wall clocks in milliseconds. */
int64_t cm_mono_ms(void);
int64_t cm_wall_ms(void);

/* SHA-256 of data, raw or as lowercase hex. */
void cm_sha256(const void *data, size_t len, unsigned char out[32]);
void cm_sha256_hex(const void *data, size_t len, char out[65]);
void cm_hex(const unsigned char *in, size_t len, char *out /* 2*len+1 */);
/* Fills buf with CSPRNG output. 0 or -1. */
int cm_random_bytes(void *buf, size_t len);
/* Constant-time equality of two equal-length buffers. */
bool cm_ct_equal(const void *a, const void *b, size_t len);
/* Unpadded base64url of in; out needs 4*ceil(len/3)+1 bytes. Returns chars written. */
size_t cm_base64url(const unsigned char *in, size_t len, char *out);
/* Decodes unpadded base64url; returns bytes written (out needs 3*len/4+1), -1 when malformed. */
long cm_base64url_decode(const char *in, unsigned char *out, size_t cap);
/* Percent-encodes s for a URL query value into out (cap bytes); false when it does not fit. */
bool cm_url_encode(const char *s, char *out, size_t cap);
/* True when [s, s+len) is well-formed UTF-8 without NUL bytes. */
bool cm_utf8_valid(const unsigned char *s, size_t len);
/* Code points in a valid UTF-8 string. */
size_t cm_utf8_len(const char *s);
/* Raises the soft limit on open files to want (never past the hard limit, never lowered);
 * returns the soft limit in force afterwards (0 when it cannot be read, UINT64_MAX unlimited). */
uint64_t cm_fd_limit_raise(uint64_t want);
/* True when s (NULL counts as empty) holds no ASCII control character (C0 or DEL): text that
 * is shown and logged (names, keys). */
bool cm_no_controls(const char *s);
/* Reads an Authorization header value: "Bearer <key>" (scheme case-insensitive, key of
 * printable characters, at most 256 bytes). Writes the key's SHA-256 (as stored). 0 or -1. */
int cm_bearer_hash(const char *authorization, unsigned char hash[32]);
/* Trims ASCII white space in place; returns s. */
char *cm_trim(char *s);

#endif
