/* cc_util.c — the compiler's small tools: growable buffers, a byte-string hash map, sorted key
 * order of a mapping, UTF-8 and Unicode helpers. Owns only what each object it returns holds. */
#include "cc_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

/* ---------------------------------------------------------------- buffers */

static bool s_buf_reserve(cc_buf_t *b, size_t n)
{
    if (b->failed)
        return false;
    if (n <= b->cap - b->len)
        return true;
    size_t want = b->cap ? b->cap : 256;
    while (want - b->len < n) {
        if (want > SIZE_MAX / 2) {
            b->failed = true;
            return false;
        }
        want *= 2;
    }
    char *p = realloc(b->data, want);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = want;
    return true;
}

void cc_buf_add(cc_buf_t *b, const void *p, size_t n)
{
    if (n == SIZE_MAX || !s_buf_reserve(b, n + 1))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void cc_buf_str(cc_buf_t *b, const char *s)
{
    cc_buf_add(b, s, strlen(s));
}

void cc_buf_printf(cc_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !s_buf_reserve(b, (size_t)n + 1)) {
        b->failed = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void cc_buf_free(cc_buf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* ---------------------------------------------------------------- hash map */

typedef struct {
    char *key;                          /* NULL: empty slot */
    size_t klen;
    uint64_t hash;
    void *value;
} s_slot_t;

struct cc_map {
    s_slot_t *slots;
    size_t cap, count;                  /* cap is a power of two */
};

/* FNV-1a: keys are short strings and pointers; there is no adversary-controlled table
 * size because every probe sequence is bounded by the load factor below. */
static uint64_t s_hash(const void *key, size_t klen)
{
    const unsigned char *p = key;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < klen; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

cc_map_t *cc_map_new(void)
{
    cc_map_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->cap = 16;
    m->slots = calloc(m->cap, sizeof *m->slots);
    if (!m->slots) {
        free(m);
        return NULL;
    }
    return m;
}

void cc_map_destroy(cc_map_t **self_p, void (*free_value)(void *))
{
    if (!self_p || !*self_p)
        return;
    cc_map_t *m = *self_p;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key) {
            free(m->slots[i].key);
            if (free_value)
                free_value(m->slots[i].value);
        }
    free(m->slots);
    free(m);
    *self_p = NULL;
}

static s_slot_t *s_find(const cc_map_t *m, const void *key, size_t klen, uint64_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        s_slot_t *s = &m->slots[i];
        if (!s->key || (s->hash == h && s->klen == klen && !memcmp(s->key, key, klen)))
            return s;
    }
}

void *cc_map_get(const cc_map_t *m, const void *key, size_t klen)
{
    if (!m)
        return NULL;
    s_slot_t *s = s_find(m, key, klen, s_hash(key, klen));
    return s->key ? s->value : NULL;
}

static int s_grow(cc_map_t *m)
{
    if (m->cap > SIZE_MAX / 2 / sizeof(s_slot_t))
        return -1;
    s_slot_t *old = m->slots;
    size_t ocap = m->cap;
    m->slots = calloc(ocap * 2, sizeof *m->slots);
    if (!m->slots) {
        m->slots = old;
        return -1;
    }
    m->cap = ocap * 2;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].key)
            *s_find(m, old[i].key, old[i].klen, old[i].hash) = old[i];
    free(old);
    return 0;
}

int cc_map_put(cc_map_t *m, const void *key, size_t klen, void *value)
{
    if (!m)
        return -1;
    if ((m->count + 1) * 4 > m->cap * 3 && s_grow(m) < 0)
        return -1;
    uint64_t h = s_hash(key, klen);
    s_slot_t *s = s_find(m, key, klen, h);
    if (!s->key) {
        char *copy = malloc(klen + 1);
        if (!copy)
            return -1;
        memcpy(copy, key, klen);
        copy[klen] = '\0';
        s->key = copy;
        s->klen = klen;
        s->hash = h;
        m->count++;
    }
    s->value = value;
    return 0;
}

size_t cc_map_count(const cc_map_t *m)
{
    return m ? m->count : 0;
}

/* ---------------------------------------------------------------- strings */

char *cc_strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

char *cc_strdup(const char *s)
{
    return s ? cc_strndup(s, strlen(s)) : NULL;
}

char *cc_aprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = malloc((size_t)n + 1);
    if (!p)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

bool cc_starts_with(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

typedef struct {
    const char *key;
    size_t index;
} s_key_t;

static int s_key_cmp(const void *a, const void *b)
{
    /* strcmp compares as unsigned char: Rust's bytewise String order. */
    return strcmp(((const s_key_t *)a)->key, ((const s_key_t *)b)->key);
}

size_t *cc_sorted_keys(const cm_spec_node_t *map)
{
    size_t n = cm_spec_len(map);
    if (n == 0 || n > SIZE_MAX / sizeof(s_key_t))
        return NULL;
    s_key_t *keys = malloc(n * sizeof *keys);
    size_t *out = malloc(n * sizeof *out);
    if (!keys || !out) {
        free(keys);
        free(out);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        keys[i].key = cm_spec_key_at(map, i, NULL);
        keys[i].index = i;
    }
    qsort(keys, n, sizeof *keys, s_key_cmp);
    for (size_t i = 0; i < n; i++)
        out[i] = keys[i].index;
    free(keys);
    return out;
}

size_t cc_utf8_next(const char *s, uint32_t *cp)
{
    const unsigned char *p = (const unsigned char *)s;
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    size_t n = p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : 2;
    uint32_t v = p[0] & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) {     /* not valid UTF-8: take the lead byte alone */
            *cp = 0xFFFD;
            return 1;
        }
        v = (v << 6) | (p[i] & 0x3F);
    }
    *cp = v;
    return n;
}

const char *cc_excerpt(char out[80], const char *s)
{
    size_t n = 0;
    while (s[n] && n < 64) {
        uint32_t cp;
        size_t k = cc_utf8_next(s + n, &cp);
        if (n + k > 64)
            break;
        n += k;
    }
    memcpy(out, s, n);
    if (s[n])
        memcpy(out + n, "...", 4);
    else
        out[n] = '\0';
    return out;
}

bool cc_is_alnum(locale_t loc, uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= '0' && cp <= '9') || ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z');
    return iswalnum_l((wint_t)cp, loc) != 0;   /* glibc's C.UTF-8 tables (cc_compile requires them) */
}

static bool s_is_space(locale_t loc, uint32_t cp)
{
    if (cp < 0x80)
        return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
    if (cp == 0x85 || cp == 0xA0)
        return true;
    return iswspace_l((wint_t)cp, loc) != 0;
}

const char *cc_trim(locale_t loc, const char *s, size_t *len)
{
    size_t n = strlen(s), start = 0, end = 0;
    uint32_t cp;
    while (start < n) {
        size_t k = cc_utf8_next(s + start, &cp);
        if (!s_is_space(loc, cp))
            break;
        start += k;
    }
    for (size_t i = start; i < n;) {
        size_t k = cc_utf8_next(s + i, &cp);
        i += k;
        if (!s_is_space(loc, cp))
            end = i;
    }
    *len = end > start ? end - start : 0;
    return s + start;
}
