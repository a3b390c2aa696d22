/* cc_schema_uri.c — references for the validator: RFC 3986 parsing, resolution and syntax
 * checks (format "uri"), percent-decoding, RFC 6901 JSON pointers. Pure functions. */
#include <stdlib.h>
#include <string.h>

#include "cc_schema_int.h"

typedef struct { const char *p; size_t n; bool has; } s_part_t;
typedef struct { s_part_t scheme, auth, path, query, frag; } s_uri_t;

/* RFC 3986 appendix B: the five components, without judging their syntax. */
static void s_split(const char *s, s_uri_t *u)
{
    memset(u, 0, sizeof *u);
    size_t i = strcspn(s, ":/?#");
    if (s[i] == ':' && i > 0) {
        u->scheme = (s_part_t) { s, i, true };
        s += i + 1;
    }
    if (s[0] == '/' && s[1] == '/') {
        size_t n = strcspn(s + 2, "/?#");
        u->auth = (s_part_t) { s + 2, n, true };
        s += 2 + n;
    }
    size_t n = strcspn(s, "?#");
    u->path = (s_part_t) { s, n, true };
    s += n;
    if (*s == '?') {
        n = strcspn(s + 1, "#");
        u->query = (s_part_t) { s + 1, n, true };
        s += 1 + n;
    }
    if (*s == '#')
        u->frag = (s_part_t) { s + 1, strlen(s + 1), true };
}

/* §5.2.4 remove_dot_segments, from in[0..n) into out (at least n + 1 bytes). */
static size_t s_remove_dots(const char *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    while (i < n) {
        const char *p = in + i;
        size_t left = n - i;
        if (left >= 3 && !memcmp(p, "../", 3))
            i += 3;
        else if (left >= 2 && !memcmp(p, "./", 2))
            i += 2;
        else if (left >= 3 && !memcmp(p, "/./", 3))
            i += 2;
        else if (left == 2 && !memcmp(p, "/.", 2)) {
            out[o++] = '/';
            i += 2;
        } else if ((left >= 4 && !memcmp(p, "/../", 4)) || (left == 3 && !memcmp(p, "/..", 3))) {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
            if (left == 3)
                out[o++] = '/';
            i += 3;
        } else if ((left == 1 && p[0] == '.') || (left == 2 && !memcmp(p, "..", 2)))
            i = n;
        else {
            size_t k = p[0] == '/' ? 1 : 0;
            while (k < left && p[k] != '/')
                k++;
            memcpy(out + o, p, k);
            o += k;
            i += k;
        }
    }
    out[o] = '\0';
    return o;
}

static char *s_put(char *o, const s_part_t *part, const char *prefix, const char *suffix)
{
    if (!part->has)
        return o;
    o = stpcpy(o, prefix);
    memcpy(o, part->p, part->n);
    o += part->n;
    return stpcpy(o, suffix);
}

/* §5.2.3 merge of a relative path with the base, into out; returns its length. */
static size_t s_merge(const s_uri_t *b, const s_part_t *rpath, char *out)
{
    if (rpath->p[0] == '/') {
        memcpy(out, rpath->p, rpath->n);
        return rpath->n;
    }
    size_t keep = 0;
    if (b->auth.has && b->path.n == 0)
        out[keep++] = '/';
    else {
        keep = b->path.n;
        while (keep > 0 && b->path.p[keep - 1] != '/')
            keep--;
        memcpy(out, b->path.p, keep);
    }
    memcpy(out + keep, rpath->p, rpath->n);
    return keep + rpath->n;
}

/* §5.2.2: the target's components from the base and the reference (path may be written). */
static void s_target(const s_uri_t *b, const s_uri_t *r, s_uri_t *t, char *merged, char *path)
{
    memset(t, 0, sizeof *t);
    t->frag = r->frag;
    if (r->scheme.has || r->auth.has) {
        t->scheme = r->scheme.has ? r->scheme : b->scheme;
        t->auth = r->auth;
        t->query = r->query;
        t->path = (s_part_t) { path, s_remove_dots(r->path.p, r->path.n, path), true };
        return;
    }
    t->scheme = b->scheme;
    t->auth = b->auth;
    if (r->path.n == 0) {
        t->path = b->path;
        t->query = r->query.has ? r->query : b->query;
        return;
    }
    size_t m = s_merge(b, &r->path, merged);
    t->path = (s_part_t) { path, s_remove_dots(merged, m, path), true };
    t->query = r->query;
}

char *cc_schema_uri_resolve(const char *base, const char *ref)
{
    s_uri_t b, r, t;
    s_split(base ? base : "", &b);
    s_split(ref, &r);
    size_t cap = strlen(base ? base : "") + strlen(ref) + 8;
    char *merged = malloc(cap), *path = malloc(cap), *out = malloc(cap);
    if (merged && path && out) {
        s_target(&b, &r, &t, merged, path);
        char *o = out;
        o = s_put(o, &t.scheme, "", ":");
        o = s_put(o, &t.auth, "//", "");
        o = s_put(o, &t.path, "", "");
        o = s_put(o, &t.query, "?", "");
        o = s_put(o, &t.frag, "#", "");
        *o = '\0';
    } else {
        free(out);
        out = NULL;
    }
    free(merged);
    free(path);
    return out;
}

/* ------------------------------------------------------------------ syntax (format "uri") */

static bool s_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool s_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool s_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool s_unreserved(char c)
{
    return s_alpha(c) || s_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* Every character is unreserved, a valid %XX, a sub-delim or one of extra. */
static bool s_chars_ok(const char *s, size_t n, const char *extra)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n || !s_hex(s[i + 1]) || !s_hex(s[i + 2]))
                return false;
            i += 2;
        } else if (!s_unreserved(c) && !(c && strchr("!$&'()*+,;=", c)) && !(c && strchr(extra, c)))
            return false;
    }
    return true;
}

static bool s_scheme_ok(const char *s, size_t n)
{
    if (n == 0 || !s_alpha(s[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!s_alpha(s[i]) && !s_digit(s[i]) && s[i] != '+' && s[i] != '-' && s[i] != '.')
            return false;
    return true;
}

static bool s_ip_literal_ok(const char *s, size_t n)
{
    if (n > 0 && (s[0] == 'v' || s[0] == 'V')) {
        size_t i = 1;
        while (i < n && s_hex(s[i]))
            i++;
        if (i == 1 || i >= n || s[i] != '.' || i + 1 >= n)
            return false;
        return s_chars_ok(s + i + 1, n - i - 1, ":");
    }
    return cc_schema_ipv6_valid(s, n);
}

static bool s_authority_ok(const char *s, size_t n)
{
    const char *at = memchr(s, '@', n);
    if (at) {
        if (!s_chars_ok(s, (size_t) (at - s), ":"))
            return false;
        n -= (size_t) (at - s) + 1;
        s = at + 1;
    }
    size_t hostlen;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close || !s_ip_literal_ok(s + 1, (size_t) (close - s - 1)))
            return false;
        hostlen = (size_t) (close - s) + 1;
    } else {
        const char *colon = memchr(s, ':', n);
        hostlen = colon ? (size_t) (colon - s) : n;
        if (!s_chars_ok(s, hostlen, ""))
            return false;
    }
    if (hostlen == n)
        return true;
    if (s[hostlen] != ':')
        return false;
    for (size_t i = hostlen + 1; i < n; i++)
        if (!s_digit(s[i]))
            return false;
    return true;
}

bool cc_schema_uri_valid(const char *s, size_t len, bool relative)
{
    if (memchr(s, '\0', len))
        return false;
    size_t i = 0;
    while (i < len && !strchr(":/?#", s[i]))
        i++;
    bool has_scheme = i < len && s[i] == ':';
    if (has_scheme && !s_scheme_ok(s, i))
        return false;   /* a relative reference cannot have ':' in its first segment either */
    if (!has_scheme && !relative)
        return false;
    size_t p = has_scheme ? i + 1 : 0;
    if (p + 1 < len && s[p] == '/' && s[p + 1] == '/') {
        size_t a = p + 2, e = a;
        while (e < len && !strchr("/?#", s[e]))
            e++;
        if (!s_authority_ok(s + a, e - a))
            return false;
        p = e;
    }
    size_t e = p;
    while (e < len && s[e] != '?' && s[e] != '#')
        e++;
    if (!s_chars_ok(s + p, e - p, ":@/"))
        return false;
    if (e < len && s[e] == '?') {
        size_t q = e + 1;
        e = q;
        while (e < len && s[e] != '#')
            e++;
        if (!s_chars_ok(s + q, e - q, ":@/?"))
            return false;
    }
    if (e < len && !s_chars_ok(s + e + 1, len - e - 1, ":@/?"))
        return false;
    return true;
}

/* ------------------------------------------------------------------ fragments and pointers */

static int s_hexval(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

char *cc_schema_pct_decode(const char *s, size_t len, size_t *outlen)
{
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '%') {
            out[o++] = s[i];
            continue;
        }
        if (i + 2 >= len || !s_hex(s[i + 1]) || !s_hex(s[i + 2])) {
            free(out);
            return NULL;
        }
        out[o++] = (char) (s_hexval(s[i + 1]) * 16 + s_hexval(s[i + 2]));
        i += 2;
    }
    out[o] = '\0';
    if (outlen)
        *outlen = o;
    return out;
}

/* One reference token, unescaped (~1 -> '/', ~0 -> '~') into tok; false on a bad escape. */
static bool s_token(const char *p, size_t n, char *tok, size_t *toklen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '~') {
            tok[o++] = p[i];
            continue;
        }
        if (i + 1 >= n || (p[i + 1] != '0' && p[i + 1] != '1'))
            return false;
        tok[o++] = p[i + 1] == '0' ? '~' : '/';
        i++;
    }
    *toklen = o;
    return true;
}

static const json_t *s_step(const json_t *cur, const char *tok, size_t n)
{
    if (json_is_object(cur))
        return json_object_getn(cur, tok, n);
    if (!json_is_array(cur) || n == 0 || (n > 1 && tok[0] == '0') || n > 18)
        return NULL;
    size_t idx = 0;
    for (size_t i = 0; i < n; i++) {
        if (!s_digit(tok[i]))
            return NULL;
        idx = idx * 10 + (size_t) (tok[i] - '0');
    }
    return json_array_get(cur, idx);
}

const json_t *cc_schema_pointer_get(const json_t *root, const char *ptr, size_t len)
{
    if (len == 0)
        return root;
    if (ptr[0] != '/')
        return NULL;
    char *tok = malloc(len);
    if (!tok)
        return NULL;
    const json_t *cur = root;
    size_t i = 1;
    while (cur) {
        size_t e = i;
        while (e < len && ptr[e] != '/')
            e++;
        size_t n;
        cur = s_token(ptr + i, e - i, tok, &n) ? s_step(cur, tok, n) : NULL;
        if (e >= len)
            break;
        i = e + 1;
    }
    free(tok);
    return cur;
}
