/* cc_schema_format.c — the "format" values the validator can assert: date-time, date, time
 * (RFC 3339), uuid (RFC 4122), uri (RFC 3986), email (RFC 5321), ipv4, ipv6, hostname (RFC 1123). */
#include <string.h>

#include "cc_schema_int.h"

static const char *const s_formats[] = {
    "date-time", "date", "time", "uuid", "uri", "email", "ipv4", "ipv6", "hostname",
};
enum { F_DATETIME, F_DATE, F_TIME, F_UUID, F_URI, F_EMAIL, F_IPV4, F_IPV6, F_HOSTNAME, F_COUNT };

int cc_schema_format_id(const char *name)
{
    for (int i = 0; i < F_COUNT; i++)
        if (strcmp(name, s_formats[i]) == 0)
            return i;
    return -1;
}

const char *cc_schema_format_name(int id)
{
    return id >= 0 && id < F_COUNT ? s_formats[id] : "?";
}

static bool s_digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static bool s_hexdig(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* ------------------------------------------------------------------ RFC 3339 */

static bool s_date(const char *s, size_t len)
{
    static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int y, m, d;
    if (len != 10 || s[4] != '-' || s[7] != '-' || !s_digits(s, 4, &y) ||
        !s_digits(s + 5, 2, &m) || !s_digits(s + 8, 2, &d) || m < 1 || m > 12 || d < 1)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[m - 1] + (m == 2 && leap);
}

/* partial-time time-offset; a leap second must fall on 23:59:60 UTC. */
static bool s_time(const char *s, size_t len)
{
    int h, mi, sec, oh = 0, om = 0, sign = 0;
    if (len < 9 || s[2] != ':' || s[5] != ':' || !s_digits(s, 2, &h) ||
        !s_digits(s + 3, 2, &mi) || !s_digits(s + 6, 2, &sec) || h > 23 || mi > 59 || sec > 60)
        return false;
    size_t i = 8;
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start)
            return false;
    }
    if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z'))
        sign = 0;
    else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':' &&
             s_digits(s + i + 1, 2, &oh) && s_digits(s + i + 4, 2, &om) && oh <= 23 && om <= 59)
        sign = s[i] == '+' ? 1 : -1;
    else
        return false;
    if (sec == 60) {
        int utc = ((h * 60 + mi - sign * (oh * 60 + om)) % 1440 + 1440) % 1440;
        return utc == 23 * 60 + 59;
    }
    return true;
}

static bool s_datetime(const char *s, size_t len)
{
    return len > 11 && (s[10] == 'T' || s[10] == 't') && s_date(s, 10) &&
           s_time(s + 11, len - 11);
}

/* ------------------------------------------------------------------ identifiers and addresses */

static bool s_uuid(const char *s, size_t len)
{
    if (len != 36)
        return false;
    for (size_t i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !s_hexdig(s[i]))
            return false;
    }
    return true;
}

/* dotted-quad, each part 0-255 without leading zeros (RFC 2673 §3.2). */
bool cc_schema_ipv4_valid(const char *s, size_t len)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= len || s[i] != '.')
                return false;
            i++;
        }
        size_t start = i;
        int v = 0;
        while (i < len && i - start < 3 && s[i] >= '0' && s[i] <= '9')
            v = v * 10 + (s[i++] - '0');
        if (i == start || v > 255 || (s[start] == '0' && i - start > 1))
            return false;
    }
    return i == len;
}

/* RFC 4291 §2.2: eight groups of 1-4 hex digits, one "::" at most, an IPv4 tail counting two. */
bool cc_schema_ipv6_valid(const char *s, size_t len)
{
    size_t i = 0;
    int groups = 0;
    bool dc = false;
    if (len >= 2 && s[0] == ':' && s[1] == ':') {
        dc = true;
        i = 2;
    } else if (len == 0 || s[0] == ':')
        return false;
    while (i < len) {
        size_t e = i;
        while (e < len && s[e] != ':')
            e++;
        if (memchr(s + i, '.', e - i)) {
            if (e != len || !cc_schema_ipv4_valid(s + i, e - i))
                return false;
            groups += 2;
            break;
        }
        if (e == i || e - i > 4)
            return false;
        for (size_t k = i; k < e; k++)
            if (!s_hexdig(s[k]))
                return false;
        groups++;
        if (e == len)
            break;
        if (e + 1 < len && s[e + 1] == ':') {
            if (dc)
                return false;
            dc = true;
            i = e + 2;
        } else {
            i = e + 1;
            if (i == len)
                return false;
        }
    }
    return dc ? groups <= 7 : groups == 8;
}

static bool s_ldh_label(const char *s, size_t n)
{
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    if (n >= 4 && (s[0] | 0x20) == 'x' && (s[1] | 0x20) == 'n' && s[2] == '-' && s[3] == '-')
        return cc_schema_alabel_valid(s, n);
    return true;
}

/* RFC 1123 §2.1 host names: dot-separated LDH labels of 1-63 octets, 253 octets at most. */
bool cc_schema_hostname_valid(const char *s, size_t len)
{
    if (len == 0 || len > 253)
        return false;
    size_t i = 0;
    while (i <= len) {
        size_t e = i;
        while (e < len && s[e] != '.')
            e++;
        if (!s_ldh_label(s + i, e - i))
            return false;
        i = e + 1;
    }
    return true;
}

static bool s_atext(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* Local-part: dot-atom or quoted-string (RFC 5321 §4.1.2); returns its length or 0. */
static size_t s_local_part(const char *s, size_t len)
{
    size_t i = 0;
    if (len > 0 && s[0] == '"') {
        for (i = 1; i < len && s[i] != '"'; i++) {
            if (s[i] == '\\')
                i++;
            if (i >= len || (unsigned char) s[i] < 32 || (unsigned char) s[i] > 126)
                return 0;
        }
        return i < len ? i + 1 : 0;
    }
    while (i < len && s[i] != '@') {
        size_t start = i;
        while (i < len && s_atext(s[i]))
            i++;
        if (i == start)
            return 0;
        if (i < len && s[i] == '.') {
            i++;
            if (i >= len || s[i] == '@')
                return 0;
        } else if (i < len && s[i] != '@')
            return 0;
    }
    return i;
}

static bool s_email(const char *s, size_t len)
{
    size_t local = s_local_part(s, len);
    if (local == 0 || local > 64 || local >= len || s[local] != '@')
        return false;
    const char *d = s + local + 1;
    size_t n = len - local - 1;
    if (n >= 2 && d[0] == '[' && d[n - 1] == ']') {
        if (n > 7 && strncmp(d + 1, "IPv6:", 5) == 0)
            return cc_schema_ipv6_valid(d + 6, n - 7);
        return cc_schema_ipv4_valid(d + 1, n - 2);
    }
    return cc_schema_hostname_valid(d, n);
}

bool cc_schema_format_check(int id, const char *s, size_t len)
{
    switch (id) {
    case F_DATETIME: return s_datetime(s, len);
    case F_DATE: return s_date(s, len);
    case F_TIME: return s_time(s, len);
    case F_UUID: return s_uuid(s, len);
    case F_URI: return cc_schema_uri_valid(s, len, false);
    case F_EMAIL: return s_email(s, len);
    case F_IPV4: return cc_schema_ipv4_valid(s, len);
    case F_IPV6: return cc_schema_ipv6_valid(s, len);
    case F_HOSTNAME: return cc_schema_hostname_valid(s, len);
    default: return true;
    }
}
