/* Small helpers every process needs: ids, time, hashing, randomness, encodings.
 * Built on OpenSSL (EVP, RAND_bytes, CRYPTO_memcmp) and the C library; no state. */
#include "cm_util.h"
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

int cm_uuid_v4(char out[CM_UUID_LEN + 1])
{
    unsigned char b[16];
    if (cm_random_bytes(b, sizeof b) != 0)
        return -1;
    b[6] = (unsigned char) ((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char) ((b[8] & 0x3f) | 0x80);
    char hex[33];
    cm_hex(b, 16, hex);
    memcpy(out, hex, 8);
    out[8] = '-';
    memcpy(out + 9, hex + 8, 4);
    out[13] = '-';
    memcpy(out + 14, hex + 12, 4);
    out[18] = '-';
    memcpy(out + 19, hex + 16, 4);
    out[23] = '-';
    memcpy(out + 24, hex + 20, 12);
    out[36] = '\0';
    return 0;
}

bool cm_uuid_valid(const char *s)
{
    if (!s)
        return false;
    for (int i = 0; i < CM_UUID_LEN; i++) {
        bool dash = (i == 8 || i == 13 || i == 18 || i == 23);
        if (dash ? s[i] != '-' : !isxdigit((unsigned char) s[i]))
            return false;
    }
    return s[CM_UUID_LEN] == '\0';
}

bool cm_uuid_normalize(const char *s, char out[CM_UUID_LEN + 1])
{
    if (!cm_uuid_valid(s))
        return false;
    for (int i = 0; i <= CM_UUID_LEN; i++)
        out[i] = (char) tolower((unsigned char) s[i]);
    return true;
}

bool cm_request_id_valid(const char *id)
{
    if (!id)
        return false;
    size_t n = strlen(id);
    if (n < 8 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) id[i];
        if (!isalnum(c) && c != '.' && c != '_' && c != ':' && c != '-')
            return false;
    }
    return true;
}

void cm_time_rfc3339(char out[CM_TIME_LEN + 1])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, CM_TIME_LEN + 1, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, CM_TIME_LEN + 1 - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static int64_t s_clock_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cm_mono_ms(void)
{
    return s_clock_ms(CLOCK_MONOTONIC);
}

int64_t cm_wall_ms(void)
{
    return s_clock_ms(CLOCK_REALTIME);
}

void cm_sha256(const void *data, size_t len, unsigned char out[32])
{
    unsigned int n = 32;
    EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

void cm_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char d[32];
    cm_sha256(data, len, d);
    cm_hex(d, 32, out);
}

void cm_hex(const unsigned char *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

int cm_random_bytes(void *buf, size_t len)
{
    return RAND_bytes(buf, (int) len) == 1 ? 0 : -1;
}

bool cm_ct_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

size_t cm_base64url(const unsigned char *in, size_t len, char *out)
{
    static const char a[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t) in[i] << 16;
        size_t left = len - i;
        if (left > 1)
            v |= (uint32_t) in[i + 1] << 8;
        if (left > 2)
            v |= in[i + 2];
        out[o++] = a[(v >> 18) & 63];
        out[o++] = a[(v >> 12) & 63];
        if (left > 1)
            out[o++] = a[(v >> 6) & 63];
        if (left > 2)
            out[o++] = a[v & 63];
    }
    out[o] = '\0';
    return o;
}

static int s_b64val(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

long cm_base64url_decode(const char *in, unsigned char *out, size_t cap)
{
    size_t n = strlen(in), o = 0;
    if (n % 4 == 1)
        return -1;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = s_b64val(in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t) v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap)
                return -1;
            out[o++] = (unsigned char) (acc >> bits);
        }
    }
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return -1; /* non-canonical trailing bits */
    return (long) o;
}

bool cm_url_encode(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char) *s;
        bool plain = isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
        if (o + (plain ? 1 : 3) >= cap)
            return false;
        if (plain) {
            out[o++] = (char) c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return true;
}

/* Length of the UTF-8 sequence starting at s (at most left bytes), 0 if malformed. */
static size_t s_utf8_seq(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp;
    if (c == 0)
        return 0;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0) { n = 2; cp = c & 0x1f; }
    else if ((c & 0xf0) == 0xe0) { n = 3; cp = c & 0x0f; }
    else if ((c & 0xf8) == 0xf0) { n = 4; cp = c & 0x07; }
    else return 0;
    if (left < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
    if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

bool cm_utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t n = s_utf8_seq(s + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

size_t cm_utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char) *s & 0xc0) != 0x80;
    return n;
}

char *cm_trim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char) s[n - 1]))
        s[--n] = '\0';
    size_t start = 0;
    while (isspace((unsigned char) s[start]))
        start++;
    if (start)
        memmove(s, s + start, n - start + 1);
    return s;
}

uint64_t cm_fd_limit_raise(uint64_t want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0 && getrlimit(RLIMIT_NOFILE, &rl) != 0)
            return 0;
    }
    return rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t) rl.rlim_cur;
}

bool cm_no_controls(const char *s)
{
    for (; s && *s; s++)
        if ((unsigned char) *s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

int cm_bearer_hash(const char *authorization, unsigned char hash[32])
{
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return -1;
    const char *key = authorization + 7;
    while (*key == ' ')
        key++;
    size_t n = strlen(key);
    while (n > 0 && (key[n - 1] == ' ' || key[n - 1] == '\t'))
        n--;
    if (n == 0 || n > 256)
        return -1;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) key[i] <= 0x20 || (unsigned char) key[i] >= 0x7f)
            return -1;
    cm_sha256(key, n, hash);
    return 0;
}
