/* cc_json.c — JSON text exactly as Rust serde_json writes it (to_string_pretty / to_string), the
 * §4.4 shortest round-trip float spelling and sorted deep copies. Owns: nothing beyond the
 * buffers it returns. */
#include "cc_json.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing output buffer; once an allocation fails every later append is a no-op and the
 * caller sees `failed`. */
typedef struct {
    char *buf;
    size_t len, cap;
    bool failed;
} s_buf_t;

static void s_put(s_buf_t *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) {
            if (cap > SIZE_MAX / 2) {
                b->failed = true;
                return;
            }
            cap *= 2;
        }
        char *p = realloc(b->buf, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->buf = p;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

static void s_puts(s_buf_t *b, const char *s)
{
    s_put(b, s, strlen(s));
}

/* ------------------------------------------------------------------ UTF-8 */

/* Length of the multi-byte sequence at s (lead byte >= 0x80, at most left bytes), 0 when it
 * is malformed: a stray continuation byte, a truncation, an overlong form, a surrogate or a
 * code point past U+10FFFF (the rules of cm_utf8_valid). */
static size_t s_utf8_seq(const unsigned char *s, size_t left)
{
    static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
    unsigned char c = s[0];
    size_t n = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 0 || left < n)
        return 0;
    uint32_t cp = c & (0x7f >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

bool cc_json_utf8_valid(const unsigned char *s, size_t len)
{
    /* Unlike cm_utf8_valid, NUL is a legal character here (serde writes \u0000). The texts
     * checked (specs, routes.json) are mostly ASCII, so eight ASCII bytes are passed at once;
     * every ASCII byte, NUL included, is valid on its own. */
    size_t i = 0;
    while (i < len) {
        uint64_t w;
        if (len - i >= 8 && (memcpy(&w, s + i, 8), (w & 0x8080808080808080ull) == 0)) {
            i += 8;
            continue;
        }
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = s_utf8_seq(s + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

/* ------------------------------------------------------------------ floats */

/* Shortest digits of x > 0 (finite): digits without trailing zeros, and kk with
 * x = 0.DIGITS × 10^kk. Tries 1..17 significant digits; at each length the correctly rounded
 * candidate, or (next to a power of two, where the round-trip interval is lopsided) its
 * neighbour on the other side of x. strtod decides what round-trips, so the digits are those
 * of ryu and of Python's repr: the shortest, and the closest to x among the shortest. The
 * result does not depend on the locale: digits are read back without the decimal point. */
static void s_shortest(double x, char digits[20], int *kk)
{
    char buf[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*e", p - 1, x);
        char *e = strchr(buf, 'e');
        int exp10 = atoi(e + 1);
        /* the p digits as an integer m: x ~ m × 10^(exp10 - p + 1) */
        unsigned long long m = 0;
        for (const char *c = buf; c < e; c++)
            if (*c >= '0' && *c <= '9')
                m = m * 10 + (unsigned) (*c - '0');
        double near = strtod(buf, NULL);
        bool found = near == x;
        if (!found) {
            /* only the neighbour on x's other side can still round-trip */
            unsigned long long other = near < x ? m + 1 : m - 1;
            snprintf(buf, sizeof buf, "%llue%d", other, exp10 - p + 1);
            if (other > 0 && strtod(buf, NULL) == x) {
                m = other;
                found = true;
            }
        }
        if (found) {
            int n = snprintf(digits, 20, "%llu", m);
            *kk = exp10 - p + 1 + n;
            while (n > 1 && digits[n - 1] == '0')
                digits[--n] = '\0';
            return;
        }
    }
    /* %.16e always round-trips, so the loop returns; keep a defined result regardless. */
    snprintf(digits, 20, "0");
    *kk = 1;
}

/* Appends n copies of c at *p. */
static void s_fill(char **p, char c, int n)
{
    for (int i = 0; i < n; i++)
        *(*p)++ = c;
}

static void s_copy(char **p, const char *s, int n)
{
    memcpy(*p, s, (size_t) n);
    *p += n;
}

void cc_json_float(double d, char out[32])
{
    if (!isfinite(d)) {
        strcpy(out, "null");
        return;
    }
    if (d == 0) {
        strcpy(out, signbit(d) ? "-0.0" : "0.0");
        return;
    }
    char dg[20], *p = out;
    int kk;
    s_shortest(fabs(d), dg, &kk);
    int n = (int) strlen(dg), k = kk - n;
    if (d < 0)
        *p++ = '-';
    /* The §4.4 table; at most 1 + 17 + 5 + 5 = 28 bytes in the widest row. */
    if (k >= 0 && kk <= 16) {
        s_copy(&p, dg, n);
        s_fill(&p, '0', k);
        s_copy(&p, ".0", 2);
    } else if (kk > 0 && kk <= 16) {
        s_copy(&p, dg, kk);
        *p++ = '.';
        s_copy(&p, dg + kk, n - kk);
    } else if (kk > -5 && kk <= 0) {
        s_copy(&p, "0.", 2);
        s_fill(&p, '0', -kk);
        s_copy(&p, dg, n);
    } else {
        *p++ = dg[0];
        if (n > 1) {
            *p++ = '.';
            s_copy(&p, dg + 1, n - 1);
        }
        char e[8];
        int en = snprintf(e, sizeof e, "e%d", kk - 1);
        s_copy(&p, e, en);
    }
    *p = '\0';
}

/* ------------------------------------------------------------------ writer */

size_t cc_json_escape(unsigned char c, char out[7])
{
    static const char hex[] = "0123456789abcdef";
    if (c >= 0x20 && c != '"' && c != '\\')
        return 0;
    out[0] = '\\';
    out[2] = '\0';
    switch (c) {
    case '"':  out[1] = '"'; return 2;
    case '\\': out[1] = '\\'; return 2;
    case '\b': out[1] = 'b'; return 2;
    case '\t': out[1] = 't'; return 2;
    case '\n': out[1] = 'n'; return 2;
    case '\f': out[1] = 'f'; return 2;
    case '\r': out[1] = 'r'; return 2;
    default:
        memcpy(out + 1, "u00", 3);
        out[4] = hex[c >> 4];
        out[5] = hex[c & 15];
        out[6] = '\0';
        return 6;
    }
}

static int s_string(s_buf_t *b, const char *s, size_t len)
{
    if (!cc_json_utf8_valid((const unsigned char *) s, len))
        return -1;
    s_put(b, "\"", 1);
    size_t run = 0; /* start of the pending run of bytes written raw */
    for (size_t i = 0; i < len; i++) {
        char esc[7];
        size_t n = cc_json_escape((unsigned char) s[i], esc);
        if (n == 0)
            continue;
        s_put(b, s + run, i - run);
        s_put(b, esc, n);
        run = i + 1;
    }
    s_put(b, s + run, len - run);
    s_put(b, "\"", 1);
    return 0;
}

/* A newline and indent spaces when pretty; nothing when compact. */
static void s_newline(s_buf_t *b, int indent, bool pretty)
{
    if (!pretty)
        return;
    s_put(b, "\n", 1);
    for (int i = 0; i < indent; i++)
        s_put(b, "  ", 2);
}

static int s_value(s_buf_t *b, const json_t *v, int depth, bool pretty);

static int s_object(s_buf_t *b, const json_t *v, int depth, bool pretty)
{
    json_t *o = (json_t *) v; /* jansson's iterator API is not const; nothing is changed */
    if (json_object_size(o) == 0) {
        s_put(b, "{}", 2);
        return 0;
    }
    s_put(b, "{", 1);
    bool first = true;
    for (void *it = json_object_iter(o); it; it = json_object_iter_next(o, it)) {
        if (!first)
            s_put(b, ",", 1);
        first = false;
        s_newline(b, depth + 1, pretty);
        if (s_string(b, json_object_iter_key(it), json_object_iter_key_len(it)) != 0)
            return -1;
        s_puts(b, pretty ? ": " : ":");
        if (s_value(b, json_object_iter_value(it), depth + 1, pretty) != 0)
            return -1;
    }
    s_newline(b, depth, pretty);
    s_put(b, "}", 1);
    return 0;
}

static int s_array(s_buf_t *b, const json_t *v, int depth, bool pretty)
{
    size_t n = json_array_size(v);
    if (n == 0) {
        s_put(b, "[]", 2);
        return 0;
    }
    s_put(b, "[", 1);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            s_put(b, ",", 1);
        s_newline(b, depth + 1, pretty);
        if (s_value(b, json_array_get(v, i), depth + 1, pretty) != 0)
            return -1;
    }
    s_newline(b, depth, pretty);
    s_put(b, "]", 1);
    return 0;
}

static int s_value(s_buf_t *b, const json_t *v, int depth, bool pretty)
{
    if (!v || depth >= CC_JSON_MAX_DEPTH || b->failed)
        return -1;
    char num[32];
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return s_object(b, v, depth, pretty);
    case JSON_ARRAY:
        return s_array(b, v, depth, pretty);
    case JSON_STRING:
        return s_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        s_puts(b, num);
        return 0;
    case JSON_REAL:
        if (!isfinite(json_real_value(v)))
            return -1;
        cc_json_float(json_real_value(v), num);
        s_puts(b, num);
        return 0;
    case JSON_TRUE:
        s_puts(b, "true");
        return 0;
    case JSON_FALSE:
        s_puts(b, "false");
        return 0;
    case JSON_NULL:
        s_puts(b, "null");
        return 0;
    }
    return -1;
}

static char *s_dump(const json_t *v, size_t *len, bool pretty)
{
    s_buf_t b = { 0 };
    s_put(&b, "", 0); /* an allocated, NUL-terminated buffer even for "" */
    if (s_value(&b, v, 0, pretty) != 0 || b.failed) {
        free(b.buf);
        return NULL;
    }
    if (len)
        *len = b.len;
    return b.buf;
}

char *cc_json_pretty(const json_t *v, size_t *len)
{
    return s_dump(v, len, true);
}

char *cc_json_compact(const json_t *v, size_t *len)
{
    return s_dump(v, len, false);
}

/* ------------------------------------------------------------------ sorted copy */

typedef struct {
    const char *key;
    size_t len;
    json_t *value;
} s_member_t;

/* Bytewise order of the UTF-8 keys (a proper prefix sorts first), as Rust's String Ord. */
static int s_member_cmp(const void *pa, const void *pb)
{
    const s_member_t *a = pa, *b = pb;
    int c = memcmp(a->key, b->key, a->len < b->len ? a->len : b->len);
    if (c != 0)
        return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

static json_t *s_sorted(const json_t *v, int depth);

static json_t *s_sorted_object(const json_t *v, int depth)
{
    json_t *o = (json_t *) v; /* iteration only */
    size_t n = json_object_size(o), i = 0;
    json_t *out = json_object();
    s_member_t *m = n ? calloc(n, sizeof *m) : NULL;
    if (!out || (n && !m))
        goto fail;
    for (void *it = json_object_iter(o); it && i < n; it = json_object_iter_next(o, it), i++)
        m[i] = (s_member_t) { json_object_iter_key(it), json_object_iter_key_len(it),
                              json_object_iter_value(it) };
    if (i > 1)   /* qsort wants a valid base even for nothing to sort */
        qsort(m, i, sizeof *m, s_member_cmp);
    for (size_t k = 0; k < i; k++) {
        json_t *c = s_sorted(m[k].value, depth + 1);
        if (!c || json_object_setn_new_nocheck(out, m[k].key, m[k].len, c) != 0)
            goto fail;
    }
    free(m);
    return out;
fail:
    free(m);
    json_decref(out);
    return NULL;
}

static json_t *s_sorted(const json_t *v, int depth)
{
    if (!v || depth >= CC_JSON_MAX_DEPTH)
        return NULL;
    if (json_is_object(v))
        return s_sorted_object(v, depth);
    if (!json_is_array(v))
        return json_deep_copy(v);
    json_t *out = json_array();
    for (size_t i = 0; out && i < json_array_size(v); i++) {
        json_t *c = s_sorted(json_array_get(v, i), depth + 1);
        if (!c || json_array_append_new(out, c) != 0) {
            json_decref(out);
            out = NULL;
        }
    }
    return out;
}

json_t *cc_json_sorted(const json_t *v)
{
    return s_sorted(v, 0);
}
