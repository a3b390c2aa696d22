/*  cm_spec_query.c — reading a loaded spec document: accessors, typed scalars, JSON pointers
 *  and OpenAPI/AsyncAPI classification. Owns nothing: every result is borrowed from the doc. */

#include "cm_spec_int.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- accessors */

static bool s_is_scalar(const cm_spec_node_t *n)
{
    return n && n->kind < CM_NODE_SEQ;
}

const cm_spec_node_t *cm_spec_root(const cm_spec_doc_t *doc)
{
    return doc ? doc->root : NULL;
}

cm_node_kind_t cm_spec_kind(const cm_spec_node_t *n)
{
    return n ? (cm_node_kind_t)n->kind : CM_NODE_NULL;
}

const char *cm_spec_kind_name(cm_node_kind_t kind)
{
    static const char *const names[] = {"null",   "bool",     "int",    "float",
                                        "string", "sequence", "mapping"};
    return (unsigned)kind < sizeof names / sizeof *names ? names[kind] : "unknown";
}

const char *cm_spec_str(const cm_spec_node_t *n, size_t *len)
{
    if (len)
        *len = s_is_scalar(n) ? n->len : 0;
    return s_is_scalar(n) ? n->u.str : NULL;
}

size_t cm_spec_len(const cm_spec_node_t *n)
{
    return n && !s_is_scalar(n) ? n->len : 0;
}

const cm_spec_node_t *cm_spec_at(const cm_spec_node_t *seq, size_t i)
{
    return seq && seq->kind == CM_NODE_SEQ && i < seq->len ? seq->u.items[i] : NULL;
}

const cm_spec_node_t *cm_spec_get(const cm_spec_node_t *map, const char *key)
{
    if (!map || map->kind != CM_NODE_MAP || !key)
        return NULL;
    return cm_spec_i_map_find(map, key, strlen(key));
}

const cm_spec_node_t *cm_spec_key_node_at(const cm_spec_node_t *map, size_t i)
{
    return map && map->kind == CM_NODE_MAP && i < map->len ? map->u.pairs[i].key : NULL;
}

const char *cm_spec_key_at(const cm_spec_node_t *map, size_t i, const cm_spec_node_t **value)
{
    const cm_spec_node_t *key = cm_spec_key_node_at(map, i);
    if (value)
        *value = key ? map->u.pairs[i].value : NULL;
    return key ? key->u.str : NULL;
}

void cm_spec_mark(const cm_spec_node_t *n, int *line, int *column)
{
    if (line)
        *line = n ? cm_spec_i_clamp_int(n->line) : 0;
    if (column)
        *column = n ? cm_spec_i_clamp_int(n->column) : 0;
}

int cm_spec_bool(const cm_spec_node_t *n, bool *out)
{
    if (!n || n->kind != CM_NODE_BOOL || !out)
        return -1;
    *out = (n->u.str[0] | 0x20) == 't';
    return 0;
}

int cm_spec_int(const cm_spec_node_t *n, int64_t *out)
{
    if (!n || n->kind != CM_NODE_INT || !out)
        return -1;
    const char *s = n->u.str;
    bool neg = s[0] == '-';
    unsigned base = 10;
    if (s[0] == '-' || s[0] == '+')
        s++;
    else if (s[0] == '0' && (s[1] == 'x' || s[1] == 'o'))
        base = s[1] == 'x' ? 16 : 8, s += 2;
    uint64_t v = 0;
    for (; *s; s++) {
        unsigned d = *s <= '9' ? (unsigned)(*s - '0') : (unsigned)((*s | 0x20) - 'a' + 10);
        if (v > (UINT64_MAX - d) / base)
            return -1;
        v = v * base + d;
    }
    if (v > (uint64_t)INT64_MAX + neg)
        return -1;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

int cm_spec_float(const cm_spec_node_t *n, double *out)
{
    int64_t i;
    if (!n || !out || (n->kind != CM_NODE_INT && n->kind != CM_NODE_FLOAT))
        return -1;
    if (n->kind == CM_NODE_INT && cm_spec_int(n, &i) == 0) {
        *out = (double)i;
        return 0;
    }
    const char *s = n->u.str;
    size_t sign = s[0] == '-' || s[0] == '+';
    if (s[sign] == '.' && ((s[sign + 1] | 0x20) == 'i' || (s[sign + 1] | 0x20) == 'n')) {
        double v = (s[sign + 1] | 0x20) == 'i' ? (double)INFINITY : (double)NAN;
        *out = s[0] == '-' ? -v : v;
        return 0;
    }
    if (s[0] == '0' && s[1] == 'o')
        return -1;   /* an octal too big for int64 */
    *out = strtod(s, NULL);
    return 0;
}

/* ---------------------------------------------------------------- JSON pointer */

static int s_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes a URI fragment; -1 on a malformed escape. */
static int s_percent_decode(const char *src, size_t n, char *dst, size_t *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (src[i] != '%') {
            dst[o++] = src[i];
            continue;
        }
        int hi = i + 2 < n ? s_hexval(src[i + 1]) : -1, lo = hi < 0 ? -1 : s_hexval(src[i + 2]);
        if (lo < 0)
            return -1;
        dst[o++] = (char)(hi * 16 + lo);
        i += 2;
    }
    *out = o;
    return 0;
}

/* Unescapes ~0 and ~1 in place; -1 on any other '~'. */
static int s_unescape_token(char *tok, size_t n, size_t *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (tok[i] != '~') {
            tok[o++] = tok[i];
            continue;
        }
        if (i + 1 >= n || (tok[i + 1] != '0' && tok[i + 1] != '1'))
            return -1;
        tok[o++] = tok[++i] == '0' ? '~' : '/';
    }
    *out = o;
    return 0;
}

/* RFC 6901 array index: "0" or no leading zero, in range. */
static const cm_spec_node_t *s_seq_step(const cm_spec_node_t *seq, const char *tok, size_t n)
{
    if (n == 0 || n > 10 || (n > 1 && tok[0] == '0'))
        return NULL;
    size_t idx = 0;
    for (size_t i = 0; i < n; i++) {
        if (tok[i] < '0' || tok[i] > '9')
            return NULL;
        idx = idx * 10 + (size_t)(tok[i] - '0');
    }
    return cm_spec_at(seq, idx);
}

static const cm_spec_node_t *s_pointer_walk(const cm_spec_node_t *node, char *p, size_t n)
{
    size_t i = 0;
    while (node && i < n) {
        if (p[i] != '/')
            return NULL;
        size_t start = ++i;
        while (i < n && p[i] != '/')
            i++;
        size_t len;
        if (s_unescape_token(p + start, i - start, &len) < 0)
            return NULL;
        if (node->kind == CM_NODE_MAP)
            node = cm_spec_i_map_find(node, p + start, len);
        else if (node->kind == CM_NODE_SEQ)
            node = s_seq_step(node, p + start, len);
        else
            node = NULL;
    }
    return node;
}

const cm_spec_node_t *cm_spec_pointer(const cm_spec_doc_t *doc, const char *json_pointer)
{
    if (!doc || !json_pointer)
        return NULL;
    bool fragment = json_pointer[0] == '#';
    const char *src = json_pointer + fragment;
    size_t n = strlen(src);
    char small[256];
    char *buf = n < sizeof small ? small : malloc(n + 1);
    if (!buf)
        return NULL;
    const cm_spec_node_t *found = NULL;
    size_t len = n;
    if (fragment ? s_percent_decode(src, n, buf, &len) == 0 : (memcpy(buf, src, n), true))
        found = s_pointer_walk(doc->root, buf, len);
    if (buf != small)
        free(buf);
    return found;
}

/* ---------------------------------------------------------------- classification */

/* "3.N" or "3.N.P" with N in [min_minor, max_minor]. */
static bool s_version_ok(const char *v, size_t n, unsigned max_minor)
{
    if (n < 3 || v[0] != '3' || v[1] != '.')
        return false;
    size_t minor = cm_spec_i_digits(v, n, 2, 10);
    if (minor == 0 || minor > 4 || (minor > 1 && v[2] == '0') || strtoul(v + 2, NULL, 10) > max_minor)
        return false;
    size_t i = 2 + minor;
    if (i == n)
        return true;
    size_t patch = v[i] == '.' ? cm_spec_i_digits(v, n, i + 1, 10) : 0;
    return patch > 0 && i + 1 + patch == n;
}

static int s_classify_kind(const cm_spec_node_t *root, cm_spec_type_t *type,
                           const cm_spec_node_t **key, cm_spec_issue_t *issue)
{
    const cm_spec_node_t *oa = cm_spec_get(root, "openapi"), *aa = cm_spec_get(root, "asyncapi");
    const cm_spec_node_t *sw = cm_spec_get(root, "swagger");
    if (oa && aa) {
        cm_spec_i_issue_fill(issue, CM_SPEC_E_NOT_SPEC, aa->line, aa->column,
                     "the document has both 'openapi' and 'asyncapi' keys");
        return -1;
    }
    if (!oa && !aa) {
        const cm_spec_node_t *at = sw ? sw : root;
        cm_spec_i_issue_fill(issue, CM_SPEC_E_NOT_SPEC, at->line, at->column, "%s",
                     sw ? "Swagger 2.0 is not supported: convert the document to OpenAPI 3.x"
                        : "not an OpenAPI 3.x or AsyncAPI 3.x document: no 'openapi' or "
                          "'asyncapi' key at the root");
        return -1;
    }
    *key = oa ? oa : aa;
    *type = oa ? CM_SPEC_OPENAPI : CM_SPEC_ASYNCAPI;
    if ((*key)->kind != CM_NODE_STRING) {
        cm_spec_i_issue_fill(issue, CM_SPEC_E_NOT_SPEC, (*key)->line, (*key)->column,
                     "'%s' must be a string such as \"%s\", found a %s (quote the version)",
                     oa ? "openapi" : "asyncapi", oa ? "3.1.0" : "3.0.0",
                     cm_spec_kind_name((*key)->kind));
        return -1;
    }
    return 0;
}

static int s_classify_info(const cm_spec_node_t *root, const char **title, cm_spec_issue_t *issue)
{
    const cm_spec_node_t *info = cm_spec_get(root, "info");
    const cm_spec_node_t *t = cm_spec_get(info, "title");
    const char *why = NULL;
    const cm_spec_node_t *at = root;
    if (!info)
        why = "missing 'info'";
    else if (info->kind != CM_NODE_MAP)
        why = "'info' must be a mapping", at = info;
    else if (!t)
        why = "missing 'info.title'", at = info;
    else if (t->kind != CM_NODE_STRING)
        why = "'info.title' must be a string", at = t;
    if (why) {
        cm_spec_i_issue_fill(issue, CM_SPEC_E_STRUCTURE, at->line, at->column, "%s", why);
        return -1;
    }
    *title = t->u.str;
    return 0;
}

int cm_spec_classify(const cm_spec_doc_t *doc, cm_spec_type_t *type, const char **version,
                     const char **title, cm_spec_issue_t *issue)
{
    cm_spec_type_t kind = CM_SPEC_UNKNOWN;
    const cm_spec_node_t *root = cm_spec_root(doc), *key = NULL;
    const char *t = NULL;
    if (type)
        *type = CM_SPEC_UNKNOWN;
    if (!root || root->kind != CM_NODE_MAP) {
        cm_spec_i_issue_fill(issue, CM_SPEC_E_INTERNAL, 0, 0, "no document");
        return -1;
    }
    if (s_classify_kind(root, &kind, &key, issue) < 0)
        return -1;
    bool oa = kind == CM_SPEC_OPENAPI;
    if (!s_version_ok(key->u.str, key->len, oa ? 1 : UINT_MAX)) {
        char ex[S_EXCERPT];
        cm_spec_i_issue_fill(issue, CM_SPEC_E_STRUCTURE, key->line, key->column,
                     "unsupported %s version '%s' (supported: %s)", oa ? "OpenAPI" : "AsyncAPI",
                     cm_spec_i_excerpt(ex, sizeof ex, key->u.str, key->len), oa ? "3.0.x, 3.1.x" : "3.x");
        return -1;
    }
    if (s_classify_info(root, &t, issue) < 0)
        return -1;
    if (type)
        *type = kind;
    if (version)
        *version = key->u.str;
    if (title)
        *title = t;
    return 0;
}
