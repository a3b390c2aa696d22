/* cm_wasm.c — custom sections of a WebAssembly module, and the small TOML subset of the
 * plugin.toml text the plugin SDK embeds in `barbacane_manifest`. Owns: the strings of a
 * cm_plugin_manifest_t it fills; everything else is borrowed. */
#include "cm_wasm.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_util.h"

/* ------------------------------------------------------------------ custom sections */

/* An unsigned LEB128 u32 at w[*pos]: at most 5 bytes, the fifth carrying only 4 bits. */
static int s_leb_u32(const unsigned char *w, size_t len, size_t *pos, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 5; i++) {
        if (*pos >= len)
            return -1;
        unsigned char b = w[(*pos)++];
        if (i == 4 && (b & 0xf0))
            return -1;
        v |= (uint32_t) (b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

int cm_wasm_custom_section(const unsigned char *wasm, size_t len, const char *name,
                           const unsigned char **data, size_t *dlen)
{
    static const unsigned char header[8] = { 0, 'a', 's', 'm', 1, 0, 0, 0 };
    if (!wasm || !name || len < 8 || memcmp(wasm, header, 8) != 0)
        return -1;
    size_t pos = 8, nlen = strlen(name);
    int found = 0;
    /* The whole module is walked, so a layout broken after the match is still -1. Each
     * section takes at least two bytes: the walk ends within len / 2 steps. */
    while (pos < len) {
        unsigned char id = wasm[pos++];
        uint32_t size, namelen;
        if (s_leb_u32(wasm, len, &pos, &size) != 0 || size > len - pos)
            return -1;
        size_t end = pos + size;
        if (id == 0) {
            size_t p = pos;
            if (s_leb_u32(wasm, end, &p, &namelen) != 0 || namelen > end - p)
                return -1;
            if (!found && namelen == nlen && memcmp(wasm + p, name, nlen) == 0) {
                if (data)
                    *data = wasm + p + namelen;
                if (dlen)
                    *dlen = end - (p + namelen);
                found = 1;
            }
        }
        pos = end;
    }
    return found;
}

/* ------------------------------------------------------------------ TOML subset */

typedef enum { S_TBL_ROOT, S_TBL_PLUGIN, S_TBL_CAPS, S_TBL_OTHER } s_table_t;
typedef enum { S_V_STR, S_V_BOOL, S_V_INT, S_V_ARRAY } s_kind_t;

typedef struct {
    s_kind_t kind;
    char *str;                      /* S_V_STR */
    bool b;                         /* S_V_BOOL */
    char **items;                   /* S_V_ARRAY (strings only) */
    size_t n;
} s_val_t;

typedef struct {
    const char *p, *end;
    int line;
    char *err;
    size_t errlen;
    s_table_t table;
    bool seen_plugin, seen_caps;
    cm_plugin_manifest_t *out;
    bool have_body_access;
} s_toml_t;

static int s_err(s_toml_t *t, const char *fmt, ...)
{
    if (t->err && t->errlen) {
        char msg[200];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        snprintf(t->err, t->errlen, "line %d: %s", t->line, msg);
    }
    return -1;
}

static void s_val_free(s_val_t *v)
{
    free(v->str);
    for (size_t i = 0; i < v->n; i++)
        free(v->items[i]);
    free(v->items);
    memset(v, 0, sizeof *v);
}

static bool s_at(const s_toml_t *t, const char *lit)
{
    size_t n = strlen(lit);
    return (size_t) (t->end - t->p) >= n && memcmp(t->p, lit, n) == 0;
}

static void s_ws(s_toml_t *t)
{
    while (t->p < t->end && (*t->p == ' ' || *t->p == '\t'))
        t->p++;
}

/* A newline (LF or CRLF) at p: consumes it and counts the line. */
static bool s_newline(s_toml_t *t)
{
    if (s_at(t, "\n") || s_at(t, "\r\n")) {
        t->p += *t->p == '\r' ? 2 : 1;
        t->line++;
        return true;
    }
    return false;
}

static void s_comment(s_toml_t *t)
{
    if (t->p < t->end && *t->p == '#')
        while (t->p < t->end && *t->p != '\n' && *t->p != '\r')
            t->p++;
}

/* The rest of a line after a header or value: blanks, an optional comment, the line end. */
static int s_end_of_line(s_toml_t *t)
{
    s_ws(t);
    s_comment(t);
    if (t->p == t->end || s_newline(t))
        return 0;
    return s_err(t, "unexpected text after the value");
}

/* Appends the UTF-8 encoding of cp; false when it is no Unicode scalar value. */
static bool s_put_utf8(char *buf, size_t *n, uint32_t cp)
{
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return false;
    if (cp < 0x80) {
        buf[(*n)++] = (char) cp;
    } else if (cp < 0x800) {
        buf[(*n)++] = (char) (0xc0 | (cp >> 6));
        buf[(*n)++] = (char) (0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        buf[(*n)++] = (char) (0xe0 | (cp >> 12));
        buf[(*n)++] = (char) (0x80 | ((cp >> 6) & 0x3f));
        buf[(*n)++] = (char) (0x80 | (cp & 0x3f));
    } else {
        buf[(*n)++] = (char) (0xf0 | (cp >> 18));
        buf[(*n)++] = (char) (0x80 | ((cp >> 12) & 0x3f));
        buf[(*n)++] = (char) (0x80 | ((cp >> 6) & 0x3f));
        buf[(*n)++] = (char) (0x80 | (cp & 0x3f));
    }
    return true;
}

static int s_unicode_escape(s_toml_t *t, int digits, char *buf, size_t *n)
{
    uint32_t cp = 0;
    for (int i = 0; i < digits; i++, t->p++) {
        char c = t->p < t->end ? *t->p : 0;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return s_err(t, "bad \\%c escape", digits == 4 ? 'u' : 'U');
        cp = cp * 16 + (uint32_t) d;
    }
    return s_put_utf8(buf, n, cp) ? 0 : s_err(t, "escape is not a Unicode scalar value");
}

static int s_escape(s_toml_t *t, char *buf, size_t *n)
{
    static const char from[] = "btnfr\"\\", to[] = "\b\t\n\f\r\"\\";
    if (t->p >= t->end)
        return s_err(t, "unterminated string");
    char c = *t->p++;
    if (c == 'u' || c == 'U')
        return s_unicode_escape(t, c == 'u' ? 4 : 8, buf, n);
    const char *k = strchr(from, c);
    if (!k || !c)
        return s_err(t, "unknown escape \\%c", c);
    buf[(*n)++] = to[k - from];
    return 0;
}

/* A basic "..." or literal '...' string on one line (multi-line forms are not in the subset). */
static int s_string(s_toml_t *t, char **out)
{
    char q = *t->p;
    if (s_at(t, q == '"' ? "\"\"\"" : "'''"))
        return s_err(t, "multi-line strings are not supported");
    t->p++;
    /* an escape writes at most 4 bytes, so the buffer never grows past the bound + 4 */
    char *buf = malloc(CM_WASM_MAX_STRING + 5);
    size_t n = 0;
    if (!buf)
        return s_err(t, "out of memory");
    for (;;) {
        if (t->p >= t->end || *t->p == '\n' || *t->p == '\r') {
            free(buf);
            return s_err(t, "unterminated string");
        }
        unsigned char c = (unsigned char) *t->p++;
        if (c == (unsigned char) q)
            break;
        int rc = 0;
        if (c == '\\' && q == '"')
            rc = s_escape(t, buf, &n);
        else if ((c < 0x20 && c != '\t') || c == 0x7f)
            rc = s_err(t, "control character in a string");
        else
            buf[n++] = (char) c;
        if (rc == 0 && n > CM_WASM_MAX_STRING)
            rc = s_err(t, "string longer than %d bytes", CM_WASM_MAX_STRING);
        if (rc != 0) {
            free(buf);
            return -1;
        }
    }
    buf[n] = '\0';
    if (memchr(buf, 0, n)) {           /* \u0000: C strings cannot carry it */
        free(buf);
        return s_err(t, "NUL in a string");
    }
    *out = buf;
    return 0;
}

/* Blank space inside an array: blanks, comments and newlines. */
static void s_array_space(s_toml_t *t)
{
    for (;;) {
        s_ws(t);
        s_comment(t);
        if (!s_newline(t))
            return;
    }
}

static int s_array(s_toml_t *t, s_val_t *v)
{
    t->p++;                                  /* [ */
    v->kind = S_V_ARRAY;
    for (;;) {
        s_array_space(t);
        if (t->p < t->end && *t->p == ']') {
            t->p++;
            return 0;
        }
        if (t->p >= t->end || (*t->p != '"' && *t->p != '\''))
            return s_err(t, "arrays may hold only strings");
        if (v->n >= CM_WASM_MAX_ARRAY)
            return s_err(t, "array longer than %d items", CM_WASM_MAX_ARRAY);
        char **grown = realloc(v->items, (v->n + 1) * sizeof *grown);
        if (!grown)
            return s_err(t, "out of memory");
        v->items = grown;
        if (s_string(t, &v->items[v->n]) != 0)
            return -1;
        v->n++;
        s_array_space(t);
        if (t->p < t->end && *t->p == ',')
            t->p++;
        else if (t->p >= t->end || *t->p != ']')
            return s_err(t, "expected , or ] in an array");
    }
}

/* A decimal integer: [+-]? (0 | [1-9] (_? [0-9])*), within int64 (the value is not used). */
static int s_integer(s_toml_t *t, s_val_t *v)
{
    v->kind = S_V_INT;
    const char *s = t->p;
    if (*s == '+' || *s == '-')
        s++;
    if (s >= t->end || *s < '0' || *s > '9')
        return s_err(t, "unsupported value");
    bool zero = *s == '0';
    int digits = 0;
    for (char prev = 0; s < t->end; prev = *s++) {
        if (*s >= '0' && *s <= '9')
            digits++;
        else if (!(*s == '_' && prev >= '0' && prev <= '9'))
            break;
    }
    if (s[-1] == '_' || (zero && digits > 1))
        return s_err(t, "malformed integer");
    if (s < t->end && *s && strchr(".eE:-xob", *s))
        return s_err(t, "floats, dates and non-decimal integers are not supported");
    if (digits > 18)                         /* a bound, not TOML's: always within int64 */
        return s_err(t, "integer longer than 18 digits");
    t->p = s;
    return 0;
}

static bool s_keyword(s_toml_t *t, const char *kw)
{
    size_t n = strlen(kw);
    if (!s_at(t, kw))
        return false;
    char next = t->p + n < t->end ? t->p[n] : ' ';
    if ((next >= 'a' && next <= 'z') || (next >= '0' && next <= '9') || next == '_')
        return false;
    t->p += n;
    return true;
}

static int s_value(s_toml_t *t, s_val_t *v)
{
    memset(v, 0, sizeof *v);
    if (t->p >= t->end)
        return s_err(t, "missing value");
    char c = *t->p;
    if (c == '"' || c == '\'') {
        v->kind = S_V_STR;
        return s_string(t, &v->str);
    }
    if (c == '[')
        return s_array(t, v);
    if (c == '{')
        return s_err(t, "inline tables are not supported");
    v->kind = S_V_BOOL;
    if (s_keyword(t, "true")) {
        v->b = true;
        return 0;
    }
    if (s_keyword(t, "false"))
        return 0;
    return s_integer(t, v);
}

static bool s_bare_key_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'
        || c == '-';
}

/* A key: bare [A-Za-z0-9_-]+ or a quoted string, dotted parts joined with '.'. */
static int s_key(s_toml_t *t, char *out, size_t cap)
{
    size_t n = 0;
    for (;;) {
        s_ws(t);
        char *part = NULL;
        const char *s = t->p;
        if (s < t->end && (*s == '"' || *s == '\'')) {
            if (s_string(t, &part) != 0)
                return -1;
        } else {
            while (t->p < t->end && s_bare_key_char(*t->p))
                t->p++;
            if (t->p == s)
                return s_err(t, "expected a key");
        }
        size_t plen = part ? strlen(part) : (size_t) (t->p - s);
        if (n + plen + 2 > cap) {
            free(part);
            return s_err(t, "key too long");
        }
        memcpy(out + n, part ? part : s, plen);
        n += plen;
        free(part);
        s_ws(t);
        if (t->p >= t->end || *t->p != '.')
            break;
        out[n++] = '.';
        t->p++;
    }
    out[n] = '\0';
    return 0;
}

static int s_table(s_toml_t *t)
{
    if (s_at(t, "[["))
        return s_err(t, "arrays of tables are not supported");
    t->p++;
    char name[128];
    if (s_key(t, name, sizeof name) != 0)
        return -1;
    if (t->p >= t->end || *t->p != ']')
        return s_err(t, "expected ] after the table name");
    t->p++;
    t->table = !strcmp(name, "plugin") ? S_TBL_PLUGIN
             : !strcmp(name, "capabilities") ? S_TBL_CAPS : S_TBL_OTHER;
    bool *seen = t->table == S_TBL_PLUGIN ? &t->seen_plugin
               : t->table == S_TBL_CAPS ? &t->seen_caps : NULL;
    if (seen && *seen)
        return s_err(t, "table [%s] defined twice", name);
    if (seen)
        *seen = true;
    if (t->table == S_TBL_CAPS)
        t->out->has_capabilities = true;
    return s_end_of_line(t);
}

/* Moves a string value into *dst (a known key), refusing repeats and other types. */
static int s_take_string(s_toml_t *t, const char *key, s_val_t *v, char **dst)
{
    if (v->kind != S_V_STR)
        return s_err(t, "%s must be a string", key);
    if (*dst)
        return s_err(t, "%s defined twice", key);
    *dst = v->str;
    v->str = NULL;
    return 0;
}

static int s_assign(s_toml_t *t, const char *key, s_val_t *v)
{
    cm_plugin_manifest_t *m = t->out;
    if (t->table == S_TBL_PLUGIN) {
        if (!strcmp(key, "name"))
            return s_take_string(t, key, v, &m->name);
        if (!strcmp(key, "version"))
            return s_take_string(t, key, v, &m->version);
        if (!strcmp(key, "type"))
            return s_take_string(t, key, v, &m->type);
    } else if (t->table == S_TBL_CAPS) {
        if (!strcmp(key, "body_access")) {
            if (v->kind != S_V_BOOL)
                return s_err(t, "body_access must be true or false");
            if (t->have_body_access)
                return s_err(t, "body_access defined twice");
            t->have_body_access = true;
            m->body_access = v->b;
            return 0;
        }
        if (!strcmp(key, "host_functions")) {
            if (v->kind != S_V_ARRAY)
                return s_err(t, "host_functions must be an array of strings");
            if (m->host_functions)
                return s_err(t, "host_functions defined twice");
            /* an empty array still counts as given: keep a non-NULL pointer */
            m->host_functions = v->items ? v->items : calloc(1, sizeof *m->host_functions);
            m->n_host_functions = v->n;
            v->items = NULL;
            v->n = 0;
            return m->host_functions ? 0 : s_err(t, "out of memory");
        }
    }
    return 0;                                /* unknown keys and tables are ignored */
}

static int s_keyval(s_toml_t *t)
{
    char key[128];
    if (s_key(t, key, sizeof key) != 0)
        return -1;
    if (t->p >= t->end || *t->p != '=')
        return s_err(t, "expected = after the key");
    t->p++;
    s_ws(t);
    int line = t->line, after;
    s_val_t v;
    int rc = s_value(t, &v);
    if (rc == 0)
        rc = s_end_of_line(t);
    if (rc == 0) {                           /* type errors name the key's own line */
        after = t->line;
        t->line = line;
        rc = s_assign(t, key, &v);
        t->line = after;
    }
    s_val_free(&v);
    return rc;
}

int cm_plugin_manifest_parse(const char *text, size_t len, cm_plugin_manifest_t *out,
                             char *err, size_t errlen)
{
    if (!out)
        return -1;
    memset(out, 0, sizeof *out);
    s_toml_t t = { .p = text, .end = text ? text + len : NULL, .line = 1, .err = err,
                   .errlen = errlen, .table = S_TBL_ROOT, .out = out };
    if (!text || len > CM_WASM_MAX_MANIFEST)
        return s_err(&t, "manifest missing or larger than %d bytes", CM_WASM_MAX_MANIFEST);
    if (!cm_utf8_valid((const unsigned char *) text, len))
        return s_err(&t, "manifest is not UTF-8 text (or holds a NUL)");
    if (s_at(&t, "\xef\xbb\xbf"))
        t.p += 3;
    int rc = 0;
    while (rc == 0 && t.p < t.end) {
        s_ws(&t);
        if (t.p >= t.end)
            break;
        if (*t.p == '#' || *t.p == '\n' || *t.p == '\r')
            rc = s_end_of_line(&t);
        else if (*t.p == '[')
            rc = s_table(&t);
        else
            rc = s_keyval(&t);
    }
    if (rc != 0)
        cm_plugin_manifest_free(out);
    return rc;
}

void cm_plugin_manifest_free(cm_plugin_manifest_t *m)
{
    if (!m)
        return;
    free(m->name);
    free(m->version);
    free(m->type);
    for (size_t i = 0; i < m->n_host_functions; i++)
        free(m->host_functions[i]);
    free(m->host_functions);
    memset(m, 0, sizeof *m);
}

bool cm_plugin_name_valid(const char *s, size_t n)
{
    if (!s || n == 0 || n > 64 || s[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}
