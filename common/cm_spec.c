/*  cm_spec.c — spec loader: one pass over libyaml parser events builds an arena-allocated tree.
 *  Owns: cm_spec_doc_t and its arena blocks; the builder's stacks and anchor table during a load. */

#include "cm_spec.h"
#include "cm_spec_int.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yaml.h>

#define S_BLOCK_MIN ((size_t)64 << 10)
#define S_BLOCK_MAX ((size_t)16 << 20)
#define S_ANCHOR_MAX_PROBE 256          /* see s_anchor_slot */

#ifdef __GNUC__
#define S_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define S_PRINTF(f, a)
#endif

/* An open collection: its children accumulate on the shared scratch stack from `start`. */
typedef struct {
    cm_spec_node_t *node;
    size_t start;
    uint64_t weight;                    /* size of the subtree with aliases expanded */
    const char *anchor;
} s_frame_t;

typedef struct {
    const char *name;                   /* NULL = empty slot */
    uint64_t hash;
    const cm_spec_node_t *node;
    uint64_t weight;
} s_anchor_t;

typedef struct {
    cm_spec_doc_t *doc;
    cm_spec_limits_t lim;
    s_frame_t *frames;
    size_t depth, frames_cap;
    const cm_spec_node_t **scratch;
    size_t n_scratch, scratch_cap;
    s_anchor_t *anchors;
    size_t n_anchors, anchors_cap;
    uint64_t seed;
    size_t n_nodes, n_docs;
    uint64_t expansions;
    const cm_spec_node_t *root;
    cm_spec_issue_t *issues;
    size_t max_issues, n_issues, n_found;
} s_builder_t;

/* ---------------------------------------------------------------- arena */

static s_block_t *s_block_new(size_t cap)
{
    if (cap > SIZE_MAX - sizeof(s_block_t))
        return NULL;
    s_block_t *blk = malloc(sizeof *blk + cap);
    if (blk) {
        blk->next = NULL;
        blk->cap = cap;
        blk->used = 0;
    }
    return blk;
}

static void *s_alloc_slow(cm_spec_doc_t *doc, size_t size)
{
    if (size > doc->next_block / 4) {
        /* A big array gets its own block behind the head, so the head keeps serving nodes. */
        s_block_t *big = s_block_new(size);
        if (!big)
            return NULL;
        big->used = size;
        if (doc->blocks) {
            big->next = doc->blocks->next;
            doc->blocks->next = big;
        } else
            doc->blocks = big;
        return big->data;
    }
    s_block_t *blk = s_block_new(doc->next_block);
    if (!blk)
        return NULL;
    if (doc->next_block < S_BLOCK_MAX)
        doc->next_block *= 2;
    blk->next = doc->blocks;
    doc->blocks = blk;
    blk->used = size;
    return blk->data;
}

/* align must be a power of two; size > 0. */
static void *s_alloc(cm_spec_doc_t *doc, size_t size, size_t align)
{
    s_block_t *blk = doc->blocks;
    if (blk) {
        size_t at = (blk->used + align - 1) & ~(align - 1);
        if (at <= blk->cap && size <= blk->cap - at) {
            blk->used = at + size;
            return blk->data + at;
        }
    }
    return s_alloc_slow(doc, size);
}

/* Doubles a malloc'd array; NULL (old array intact) on failure. */
static void *s_grow(void *arr, size_t *cap, size_t elem, size_t first)
{
    size_t want = *cap ? *cap * 2 : first;
    if (want > SIZE_MAX / elem)
        return NULL;
    void *p = realloc(arr, want * elem);
    if (p)
        *cap = want;
    return p;
}

/* ---------------------------------------------------------------- issues */

int cm_spec_i_clamp_int(size_t v)
{
    return v > INT_MAX ? INT_MAX : (int)v;
}

/* Quotes user text in a message: cut on a UTF-8 boundary, control characters shown as '?'. */
const char *cm_spec_i_excerpt(char *dst, size_t cap, const char *s, size_t len)
{
    size_t n = len < cap - 4 ? len : cap - 4;
    if (n < len)
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    for (size_t i = 0; i < n; i++)
        dst[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7F ? '?' : s[i];
    strcpy(dst + n, n < len ? "..." : "");
    return dst;
}

static void s_issue_vfill(cm_spec_issue_t *issue, int code, size_t line, size_t column,
                          const char *fmt, va_list ap)
{
    issue->code = code;
    issue->line = cm_spec_i_clamp_int(line);
    issue->column = cm_spec_i_clamp_int(column);
    vsnprintf(issue->message, sizeof issue->message, fmt, ap);
}

S_PRINTF(5, 6)
void cm_spec_i_issue_fill(cm_spec_issue_t *issue, int code, size_t line, size_t column,
                         const char *fmt, ...)
{
    if (!issue)
        return;
    va_list ap;
    va_start(ap, fmt);
    s_issue_vfill(issue, code, line, column, fmt, ap);
    va_end(ap);
}

/* Records an issue (if there is room) and returns -1 so fatal paths can `return s_issue(...)`. */
S_PRINTF(5, 6)
static int s_issue(s_builder_t *b, int code, size_t line, size_t column, const char *fmt, ...)
{
    b->n_found++;
    if (b->n_issues < b->max_issues) {
        va_list ap;
        va_start(ap, fmt);
        s_issue_vfill(&b->issues[b->n_issues++], code, line, column, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int s_nomem(s_builder_t *b)
{
    return s_issue(b, CM_SPEC_E_INTERNAL, 0, 0, "out of memory while loading the document");
}

static int s_issue_cmp(const void *a, const void *b)
{
    const cm_spec_issue_t *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->column < y->column ? -1 : x->column > y->column;
}

/* ---------------------------------------------------------------- input checks */

static bool s_printable(uint32_t cp)
{
    /* YAML's c-printable set; libyaml rejects the rest, but without a line:column. */
    return cp == 0x09 || cp == 0x0A || cp == 0x0D || (cp >= 0x20 && cp <= 0x7E) || cp == 0x85
           || (cp >= 0xA0 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD)
           || (cp >= 0x10000 && cp <= 0x10FFFF);
}

/* Length of the well-formed UTF-8 sequence at p (shortest form, no surrogates), 0 if invalid. */
static size_t s_utf8_seq(const unsigned char *p, size_t avail, uint32_t *cp)
{
    size_t n;
    uint32_t min;
    if (p[0] >= 0xC2 && p[0] <= 0xDF)
        n = 2, min = 0x80, *cp = p[0] & 0x1F;
    else if (p[0] >= 0xE0 && p[0] <= 0xEF)
        n = 3, min = 0x800, *cp = p[0] & 0x0F;
    else if (p[0] >= 0xF0 && p[0] <= 0xF4)
        n = 4, min = 0x10000, *cp = p[0] & 0x07;
    else
        return 0;
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        *cp = (*cp << 6) | (p[i] & 0x3F);
    }
    if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF))
        return 0;
    return n;
}

/* Offset of the first byte that is not printable UTF-8, or len; *why says what is wrong. */
static size_t s_scan_text(const unsigned char *p, size_t len, const char **why)
{
    size_t i = 0;
    while (i < len) {
        if (p[i] >= 0x20 && p[i] < 0x7F) {
            i++;
            continue;
        }
        uint32_t cp = p[i];
        size_t n = p[i] < 0x80 ? 1 : s_utf8_seq(p + i, len - i, &cp);
        if (n == 0) {
            *why = "invalid UTF-8";
            return i;
        }
        if (!s_printable(cp)) {
            *why = cp == 0 ? "NUL byte" : "control or non-printable character";
            return i;
        }
        i += n;
    }
    return len;
}

/* 1-based line and character column of byte offset off, counting breaks as libyaml does. */
static void s_locate(const unsigned char *p, size_t len, size_t off, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        bool brk = p[i] == '\n' || (p[i] == '\r' && (i + 1 >= len || p[i + 1] != '\n'));
        if (p[i] == 0xC2 && i + 1 < len && p[i + 1] == 0x85)
            brk = true, i += 1;
        else if (p[i] == 0xE2 && i + 2 < len && p[i + 1] == 0x80 && (p[i + 2] & 0xFE) == 0xA8)
            brk = true, i += 2;
        if (brk)
            (*line)++, *col = 1;
        else if ((p[i] & 0xC0) != 0x80)
            (*col)++;
    }
}

static int s_check_input(s_builder_t *b, const unsigned char *p, size_t len)
{
    const char *why = NULL;
    size_t bad = s_scan_text(p, len, &why);
    if (bad == len)
        return 0;
    size_t line, col;
    s_locate(p, len, bad, &line, &col);
    return s_issue(b, CM_SPEC_E_SYNTAX, line, col, "%s (byte 0x%02X): documents must be UTF-8 text",
                   why, p[bad]);
}

/* ---------------------------------------------------------------- scalar typing */

size_t cm_spec_i_digits(const char *s, size_t n, size_t i, int base)
{
    size_t start = i;
    for (; i < n; i++) {
        char c = s[i];
        bool ok = base == 16 ? (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
                             : c >= '0' && c < '0' + base;
        if (!ok)
            break;
    }
    return i - start;
}

static bool s_is_int(const char *s, size_t n)
{
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o'))
        return cm_spec_i_digits(s, n, 2, s[1] == 'x' ? 16 : 8) == n - 2;
    size_t i = s[0] == '+' || s[0] == '-';
    return n > i && cm_spec_i_digits(s, n, i, 10) == n - i;
}

static bool s_is_special_float(const char *s, size_t n)
{
    size_t i = s[0] == '+' || s[0] == '-';
    const char *t = s + i;
    if (n - i == 4 && (!strncmp(t, ".inf", 4) || !strncmp(t, ".Inf", 4) || !strncmp(t, ".INF", 4)))
        return true;
    return n == 4 && (!strncmp(s, ".nan", 4) || !strncmp(s, ".NaN", 4) || !strncmp(s, ".NAN", 4));
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool s_is_float(const char *s, size_t n)
{
    if (s_is_special_float(s, n))
        return true;
    size_t i = s[0] == '+' || s[0] == '-';
    size_t whole = cm_spec_i_digits(s, n, i, 10), frac = 0;
    i += whole;
    if (i < n && s[i] == '.') {
        frac = cm_spec_i_digits(s, n, i + 1, 10);
        i += 1 + frac;
    }
    if (whole == 0 && frac == 0)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i += 1 + (i + 1 < n && (s[i + 1] == '+' || s[i + 1] == '-'));
        size_t exp = cm_spec_i_digits(s, n, i, 10);
        if (exp == 0)
            return false;
        i += exp;
    }
    return i == n;
}

static bool s_is_word(const char *s, size_t n, const char *lower, const char *title,
                      const char *upper)
{
    size_t w = strlen(lower);
    return n == w && (!memcmp(s, lower, w) || !memcmp(s, title, w) || !memcmp(s, upper, w));
}

static cm_node_kind_t s_resolve_plain(const char *s, size_t n)
{
    if (n == 0 || (n == 1 && s[0] == '~') || s_is_word(s, n, "null", "Null", "NULL"))
        return CM_NODE_NULL;
    if (!strchr("0123456789+-.tTfF", s[0]))   /* the common case: an ordinary word */
        return CM_NODE_STRING;
    if (s_is_word(s, n, "true", "True", "TRUE") || s_is_word(s, n, "false", "False", "FALSE"))
        return CM_NODE_BOOL;
    if (s_is_int(s, n))
        return CM_NODE_INT;
    return s_is_float(s, n) ? CM_NODE_FLOAT : CM_NODE_STRING;
}

static cm_node_kind_t s_scalar_kind(const yaml_event_t *ev)
{
    const char *tag = (const char *)ev->data.scalar.tag;
    if (tag && (!strcmp(tag, YAML_STR_TAG) || !strcmp(tag, "!")))
        return CM_NODE_STRING;
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return CM_NODE_STRING;
    return s_resolve_plain((const char *)ev->data.scalar.value, ev->data.scalar.length);
}

/* ---------------------------------------------------------------- anchors */

static uint64_t s_hash(uint64_t seed, const char *s)
{
    uint64_t h = seed ^ 0xcbf29ce484222325u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3u;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9u;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebu;
    return h ^ (h >> 31);
}

/* Slot holding name, or the empty slot where it goes; SIZE_MAX when the probe run is too long.
 * The seed is per load, so honest documents never get there; crafted collisions cannot make the
 * table quadratic, they only get their own document rejected. */
static size_t s_anchor_slot(const s_anchor_t *tab, size_t cap, const char *name, uint64_t hash)
{
    size_t i = (size_t)hash & (cap - 1);
    for (size_t probe = 0; probe < S_ANCHOR_MAX_PROBE; probe++, i = (i + 1) & (cap - 1)) {
        if (!tab[i].name || (tab[i].hash == hash && !strcmp(tab[i].name, name)))
            return i;
    }
    return SIZE_MAX;
}

static int s_anchor_rehash(s_builder_t *b)
{
    size_t cap = b->anchors_cap ? b->anchors_cap * 2 : 64;
    s_anchor_t *tab = calloc(cap, sizeof *tab);
    if (!tab)
        return s_nomem(b);
    for (size_t i = 0; i < b->anchors_cap; i++) {
        if (!b->anchors[i].name)
            continue;
        size_t slot = s_anchor_slot(tab, cap, b->anchors[i].name, b->anchors[i].hash);
        if (slot == SIZE_MAX) {
            free(tab);
            return s_issue(b, CM_SPEC_E_SYNTAX, 0, 0, "too many anchors with colliding names");
        }
        tab[slot] = b->anchors[i];
    }
    free(b->anchors);
    b->anchors = tab;
    b->anchors_cap = cap;
    return 0;
}

/* Defines (or, as YAML allows, redefines) an anchor; name is an arena copy. */
static int s_anchor_put(s_builder_t *b, const char *name, const cm_spec_node_t *node,
                        uint64_t weight)
{
    if ((b->n_anchors + 1) * 2 > b->anchors_cap && s_anchor_rehash(b) < 0)
        return -1;
    uint64_t hash = s_hash(b->seed, name);
    size_t slot = s_anchor_slot(b->anchors, b->anchors_cap, name, hash);
    if (slot == SIZE_MAX)
        return s_issue(b, CM_SPEC_E_SYNTAX, node->line, node->column,
                       "too many anchors with colliding names");
    if (!b->anchors[slot].name)
        b->n_anchors++;
    b->anchors[slot] = (s_anchor_t){name, hash, node, weight};
    return 0;
}

static const s_anchor_t *s_anchor_get(const s_builder_t *b, const char *name)
{
    if (!b->anchors_cap)
        return NULL;
    size_t slot = s_anchor_slot(b->anchors, b->anchors_cap, name, s_hash(b->seed, name));
    return slot != SIZE_MAX && b->anchors[slot].name ? &b->anchors[slot] : NULL;
}

/* ---------------------------------------------------------------- mappings */

static int s_key_cmp(const cm_spec_node_t *k, const char *key, size_t len)
{
    int c = memcmp(k->u.str, key, k->len < len ? k->len : len);
    return c ? c : (k->len > len) - (k->len < len);
}

/* Orders pairs by key, then by position, so equal keys sit together in document order. */
static int s_pair_cmp(const void *a, const void *b)
{
    const s_pair_t *x = *(const s_pair_t *const *)a, *y = *(const s_pair_t *const *)b;
    int c = s_key_cmp(x->key, y->key->u.str, y->key->len);
    return c ? c : (x > y) - (x < y);
}

static void s_dup_issue(s_builder_t *b, const cm_spec_node_t *first, const cm_spec_node_t *dup)
{
    char ex[S_EXCERPT];
    s_issue(b, CM_SPEC_E_SYNTAX, dup->line, dup->column,
            "duplicate key '%s' (first at line %u, column %u)",
            cm_spec_i_excerpt(ex, sizeof ex, dup->u.str, dup->len), (unsigned)first->line,
            (unsigned)first->column);
}

/* Duplicates are reported but not fatal to the parse, so one load lists all of them. */
static void s_dups_small(s_builder_t *b, const cm_spec_node_t *map)
{
    for (size_t j = 1; j < map->len; j++) {
        const cm_spec_node_t *kj = map->u.pairs[j].key;
        for (size_t i = 0; i < j; i++) {
            if (!s_key_cmp(map->u.pairs[i].key, kj->u.str, kj->len)) {
                s_dup_issue(b, map->u.pairs[i].key, kj);
                break;
            }
        }
    }
}

/* Pointers to the pairs sorted by key, stored right after the pairs (no field in every node). */
static const s_pair_t *const *s_index(const cm_spec_node_t *map)
{
    return map->len > S_SMALL_MAP ? (const s_pair_t *const *)(map->u.pairs + map->len) : NULL;
}

/* Sorting gives both duplicate detection and O(log n) lookups in O(n log n) worst case.
 * index has room for map->len pointers, right after the pairs. */
static void s_index_map(s_builder_t *b, const cm_spec_node_t *map, const s_pair_t **index)
{
    for (size_t i = 0; i < map->len; i++)
        index[i] = &map->u.pairs[i];
    qsort(index, map->len, sizeof *index, s_pair_cmp);
    size_t run = 0;
    for (size_t i = 1; i < map->len; i++) {
        if (s_key_cmp(index[i]->key, index[run]->key->u.str, index[run]->key->len))
            run = i;
        else
            s_dup_issue(b, index[run]->key, index[i]->key);
    }
}

const cm_spec_node_t *cm_spec_i_map_find(const cm_spec_node_t *map, const char *key, size_t len)
{
    const s_pair_t *const *index = s_index(map);
    if (!index) {
        for (size_t i = 0; i < map->len; i++)
            if (!s_key_cmp(map->u.pairs[i].key, key, len))
                return map->u.pairs[i].value;
        return NULL;
    }
    size_t lo = 0, hi = map->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = s_key_cmp(index[mid]->key, key, len);
        if (c == 0)
            return index[mid]->value;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ---------------------------------------------------------------- builder */

static uint32_t s_u32(size_t v)
{
    return v >= UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static int s_count_node(s_builder_t *b, const yaml_mark_t *m)
{
    if (++b->n_nodes <= b->lim.max_nodes)
        return 0;
    return s_issue(b, CM_SPEC_E_SYNTAX, m->line + 1, m->column + 1,
                   "document has more than %zu nodes", b->lim.max_nodes);
}

/* Appends a finished node to the open collection, or makes it the root. */
static int s_add(s_builder_t *b, const cm_spec_node_t *node, uint64_t weight)
{
    if (b->depth == 0) {
        if (b->root)
            return s_issue(b, CM_SPEC_E_SYNTAX, node->line, node->column,
                           "more than one document root");
        b->root = node;
        return 0;
    }
    s_frame_t *f = &b->frames[b->depth - 1];
    bool is_key = f->node->kind == CM_NODE_MAP && (b->n_scratch - f->start) % 2 == 0;
    if (is_key && node->kind >= CM_NODE_SEQ)
        return s_issue(b, CM_SPEC_E_SYNTAX, node->line, node->column,
                       "mapping keys must be scalars, found a %s", cm_spec_kind_name(node->kind));
    if (b->n_scratch == b->scratch_cap) {
        void *p = s_grow(b->scratch, &b->scratch_cap, sizeof *b->scratch, 1024);
        if (!p)
            return s_nomem(b);
        b->scratch = p;
    }
    b->scratch[b->n_scratch++] = node;
    f->weight += weight;
    return 0;
}

/* One arena allocation holds the node, its scalar text (if any) and its anchor name (if any). */
static cm_spec_node_t *s_node_new(s_builder_t *b, cm_node_kind_t kind, const yaml_mark_t *m,
                                  const char *text, size_t len, const yaml_char_t *anchor,
                                  const char **name)
{
    size_t tlen = text ? len + 1 : 0, alen = anchor ? strlen((const char *)anchor) + 1 : 0;
    cm_spec_node_t *node = s_alloc(b->doc, sizeof *node + tlen + alen, _Alignof(cm_spec_node_t));
    if (!node) {
        s_nomem(b);
        return NULL;
    }
    char *extra = (char *)(node + 1);
    *node = (cm_spec_node_t){.kind = (uint8_t)kind, .line = s_u32(m->line + 1),
                             .column = s_u32(m->column + 1)};
    if (text) {
        memcpy(extra, text, len);
        extra[len] = '\0';
        node->u.str = extra;
        node->len = (uint32_t)len;
    }
    *name = anchor ? memcpy(extra + tlen, anchor, alen) : NULL;
    return node;
}

static int s_on_scalar(s_builder_t *b, const yaml_event_t *ev)
{
    const yaml_mark_t *m = &ev->start_mark;
    size_t len = ev->data.scalar.length;
    const char *value = (const char *)ev->data.scalar.value;
    if (s_count_node(b, m) < 0)
        return -1;
    /* Raw NULs were refused up front; a "\0" or "\u0000" escape would still cut C strings. */
    if (ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE && memchr(value, 0, len))
        return s_issue(b, CM_SPEC_E_SYNTAX, m->line + 1, m->column + 1,
                       "strings must not contain NUL characters");
    if (len >= UINT32_MAX)
        return s_issue(b, CM_SPEC_E_SYNTAX, m->line + 1, m->column + 1, "scalar too long");
    const char *name;
    cm_spec_node_t *node =
        s_node_new(b, s_scalar_kind(ev), m, value, len, ev->data.scalar.anchor, &name);
    if (!node || (name && s_anchor_put(b, name, node, 1) < 0))
        return -1;
    return s_add(b, node, 1);
}

static int s_open(s_builder_t *b, const yaml_event_t *ev, cm_node_kind_t kind,
                  const yaml_char_t *anchor)
{
    const yaml_mark_t *m = &ev->start_mark;
    if (b->depth >= b->lim.max_depth)
        return s_issue(b, CM_SPEC_E_SYNTAX, m->line + 1, m->column + 1,
                       "nesting deeper than %zu levels", b->lim.max_depth);
    if (s_count_node(b, m) < 0)
        return -1;
    if (b->depth == b->frames_cap) {
        void *p = s_grow(b->frames, &b->frames_cap, sizeof *b->frames, 32);
        if (!p)
            return s_nomem(b);
        b->frames = p;
    }
    const char *name;
    cm_spec_node_t *node = s_node_new(b, kind, m, NULL, 0, anchor, &name);
    if (!node)
        return -1;
    b->frames[b->depth++] = (s_frame_t){node, b->n_scratch, 1, name};
    return 0;
}

/* Moves the children from the scratch stack into one arena array. */
static int s_close(s_builder_t *b)
{
    if (b->depth == 0)
        return s_issue(b, CM_SPEC_E_SYNTAX, 0, 0, "unbalanced collection end");
    s_frame_t f = b->frames[--b->depth];
    size_t n = b->n_scratch - f.start;
    const cm_spec_node_t **kids = b->scratch ? b->scratch + f.start : NULL;  /* none yet */
    b->n_scratch = f.start;
    bool map = f.node->kind == CM_NODE_MAP;
    if (map && n % 2)
        return s_issue(b, CM_SPEC_E_SYNTAX, f.node->line, f.node->column,
                       "mapping key without value");
    f.node->len = (uint32_t)(map ? n / 2 : n);
    bool indexed = map && f.node->len > S_SMALL_MAP;
    const cm_spec_node_t **arr = NULL;
    if (n) {
        arr = s_alloc(b->doc, (indexed ? n + n / 2 : n) * sizeof *arr, sizeof(void *));
        if (!arr)
            return s_nomem(b);
        memcpy(arr, kids, n * sizeof *arr);
        f.node->u.items = arr;   /* a pair is two node pointers, key then value */
    }
    if (indexed)
        s_index_map(b, f.node, (const s_pair_t **)(arr + n));
    else if (map)
        s_dups_small(b, f.node);
    if (f.anchor && s_anchor_put(b, f.anchor, f.node, f.weight) < 0)
        return -1;
    return s_add(b, f.node, f.weight);
}

static int s_on_alias(s_builder_t *b, const yaml_event_t *ev)
{
    const yaml_mark_t *m = &ev->start_mark;
    const char *name = (const char *)ev->data.alias.anchor;
    const s_anchor_t *a = s_anchor_get(b, name);
    char ex[S_EXCERPT];
    cm_spec_i_excerpt(ex, sizeof ex, name, strlen(name));
    if (!a) {
        for (size_t i = 0; i < b->depth; i++)
            if (b->frames[i].anchor && !strcmp(b->frames[i].anchor, name))
                return s_issue(b, CM_SPEC_E_SYNTAX, m->line + 1, m->column + 1,
                               "alias *%s refers to a node that contains it", ex);
        return s_issue(b, CM_SPEC_E_SYNTAX, m->line + 1, m->column + 1, "unknown anchor *%s", ex);
    }
    /* Aliases share the node, but consumers walk every use: bound the expanded size. */
    b->expansions += a->weight;
    if (b->expansions > b->lim.max_alias_expansions)
        return s_issue(b, CM_SPEC_E_SYNTAX, m->line + 1, m->column + 1,
                       "aliases expand to more than %zu nodes", b->lim.max_alias_expansions);
    return s_add(b, a->node, a->weight);
}

static int s_on_event(s_builder_t *b, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (b->n_docs++ == 0)
            return 0;
        return s_issue(b, CM_SPEC_E_SYNTAX, ev->start_mark.line + 1, ev->start_mark.column + 1,
                       "the stream has more than one document");
    case YAML_SCALAR_EVENT:
        return s_on_scalar(b, ev);
    case YAML_SEQUENCE_START_EVENT:
        return s_open(b, ev, CM_NODE_SEQ, ev->data.sequence_start.anchor);
    case YAML_MAPPING_START_EVENT:
        return s_open(b, ev, CM_NODE_MAP, ev->data.mapping_start.anchor);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return s_close(b);
    case YAML_ALIAS_EVENT:
        return s_on_alias(b, ev);
    default:
        return 0;
    }
}

static void s_yaml_error(s_builder_t *b, const yaml_parser_t *parser, const unsigned char *p,
                         size_t len)
{
    if (parser->error == YAML_MEMORY_ERROR) {
        s_nomem(b);
        return;
    }
    size_t line = parser->problem_mark.line + 1, col = parser->problem_mark.column + 1;
    if (parser->error == YAML_READER_ERROR)
        s_locate(p, len, parser->problem_offset, &line, &col);
    const char *problem = parser->problem ? parser->problem : "syntax error";
    if (parser->context)
        s_issue(b, CM_SPEC_E_SYNTAX, line, col, "%s (line %zu, column %zu): %s", parser->context,
                parser->context_mark.line + 1, parser->context_mark.column + 1, problem);
    else
        s_issue(b, CM_SPEC_E_SYNTAX, line, col, "%s", problem);
}

/* The one pass: pull events, build nodes, stop at the first fatal issue. */
static void s_parse(s_builder_t *b, const unsigned char *p, size_t len)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        s_nomem(b);
        return;
    }
    yaml_parser_set_input_string(&parser, len ? p : (const unsigned char *)"", len);
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
    bool done = false;
    while (!done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            s_yaml_error(b, &parser, p, len);
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        if (s_on_event(b, &ev) < 0)
            done = true;
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
}

/* ---------------------------------------------------------------- load */

static void s_builder_init(s_builder_t *b, const cm_spec_limits_t *limits,
                           cm_spec_issue_t *issues, size_t max_issues)
{
    *b = (s_builder_t){.issues = issues, .max_issues = issues ? max_issues : 0};
    cm_spec_limits_t lim = limits ? *limits : (cm_spec_limits_t){0};
    b->lim.max_depth = lim.max_depth ? lim.max_depth : CM_SPEC_DEFAULT_MAX_DEPTH;
    b->lim.max_nodes = lim.max_nodes ? lim.max_nodes : CM_SPEC_DEFAULT_MAX_NODES;
    b->lim.max_alias_expansions =
        lim.max_alias_expansions ? lim.max_alias_expansions : CM_SPEC_DEFAULT_MAX_ALIAS_EXPANSIONS;
    b->lim.max_bytes = lim.max_bytes ? lim.max_bytes : CM_SPEC_DEFAULT_MAX_BYTES;
    /* Counts are stored in 32 bits; keeping the limits below that also keeps weights exact. */
    if (b->lim.max_nodes > UINT32_MAX - 1)
        b->lim.max_nodes = UINT32_MAX - 1;
    if (b->lim.max_alias_expansions > ((size_t)1 << 48))
        b->lim.max_alias_expansions = (size_t)1 << 48;
    struct timespec ts = {0};
    timespec_get(&ts, TIME_UTC);
    b->seed = s_hash((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30), "")
              ^ (uint64_t)(uintptr_t)b;
}

static void s_builder_fini(s_builder_t *b)
{
    free(b->frames);
    free(b->scratch);
    free(b->anchors);
}

static void s_check_root(s_builder_t *b)
{
    if (!b->root)
        s_issue(b, CM_SPEC_E_SYNTAX, 1, 1, "the document is empty; expected a mapping");
    else if (b->root->kind != CM_NODE_MAP)
        s_issue(b, CM_SPEC_E_SYNTAX, b->root->line, b->root->column,
                "the document root must be a mapping, found a %s",
                cm_spec_kind_name(b->root->kind));
}

static cm_spec_doc_t *s_build(s_builder_t *b, const unsigned char *p, size_t len)
{
    cm_spec_doc_t *doc = calloc(1, sizeof *doc);
    if (!doc) {
        s_nomem(b);
        return NULL;
    }
    /* The tree takes about 3.8x the text, yet starting at 2x measured faster: smaller blocks are
     * recycled by malloc between loads instead of being mapped (and page-faulted) afresh. */
    size_t guess = len < S_BLOCK_MAX / 2 ? len * 2 : S_BLOCK_MAX;
    doc->next_block = guess < S_BLOCK_MIN ? S_BLOCK_MIN : guess;
    b->doc = doc;
    s_parse(b, p, len);
    if (b->n_found == 0)
        s_check_root(b);
    if (b->n_found) {
        cm_spec_doc_destroy(&doc);
        return NULL;
    }
    doc->root = b->root;
    return doc;
}

cm_spec_doc_t *cm_spec_load(const void *data, size_t len, const cm_spec_limits_t *limits,
                            cm_spec_issue_t *issues, size_t max_issues, size_t *n_issues)
{
    s_builder_t b;
    s_builder_init(&b, limits, issues, max_issues);
    const unsigned char *p = data;
    cm_spec_doc_t *doc = NULL;
    if (!p && len)
        s_issue(&b, CM_SPEC_E_INTERNAL, 0, 0, "no data");
    else if (len > b.lim.max_bytes)
        s_issue(&b, CM_SPEC_E_SYNTAX, 0, 0, "document larger than %zu bytes", b.lim.max_bytes);
    else {
        if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
            p += 3, len -= 3;
        if (s_check_input(&b, p, len) == 0)
            doc = s_build(&b, p, len);
    }
    s_builder_fini(&b);
    if (b.n_issues > 1)
        qsort(b.issues, b.n_issues, sizeof *b.issues, s_issue_cmp);
    if (n_issues)
        *n_issues = b.n_issues;
    return doc;
}

void cm_spec_doc_destroy(cm_spec_doc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_block_t *blk = (*self_p)->blocks;
    while (blk) {
        s_block_t *next = blk->next;
        free(blk);
        blk = next;
    }
    free(*self_p);
    *self_p = NULL;
}
