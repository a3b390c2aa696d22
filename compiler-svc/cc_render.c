/* cc_render.c — serde_json pretty text of each operation, written into routes.json, with the
 * text of shared values rendered once per indentation. Owns the shared-text cache. */
#include "cc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_json.h"

#define S_DEPTHS 4                      /* indentations remembered per shared value */

typedef struct {
    unsigned uses;
    int nesting;                        /* 0 until measured */
    int depth[S_DEPTHS];
    char *text[S_DEPTHS];
    size_t len[S_DEPTHS];
    size_t n;
} s_shared_t;

void cc_render_share(cc_ctx_t *ctx, const json_t *v)
{
    if (!json_is_object(v) && !json_is_array(v))
        return;
    if (cc_map_get(ctx->shared, &v, sizeof v))
        return;
    s_shared_t *s = calloc(1, sizeof *s);
    if (!s || cc_map_put(ctx->shared, &v, sizeof v, s) < 0) {
        free(s);
        ctx->oom = true;
    }
}

void cc_render_free(void *entry)
{
    s_shared_t *s = entry;
    for (size_t i = 0; s && i < s->n; i++)
        free(s->text[i]);
    free(s);
}

/* Appends n bytes. Nearly every token is a few bytes with room left for it: copied here, where
 * the copy of a constant is inlined; cc_buf_add grows the buffer when there is no room. */
static inline void s_add(cc_buf_t *b, const void *p, size_t n)
{
    if (!b->failed && n < b->cap - b->len) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
    } else
        cc_buf_add(b, p, n);
}

#define S_SP16 "                "
/* ",\n" and the indentation of 64 levels: a member's lead-in is one copy of a prefix. */
static const char s_lead[] = ",\n" S_SP16 S_SP16 S_SP16 S_SP16 S_SP16 S_SP16 S_SP16 S_SP16;

/* A comma when asked, a newline, then depth levels of two spaces. */
static void s_newline(cc_buf_t *b, bool comma, int depth)
{
    const char *from = comma ? s_lead : s_lead + 1;
    size_t head = comma ? 2 : 1, width = (size_t)depth * 2, room = sizeof s_lead - 3;
    s_add(b, from, head + (width < room ? width : room));
    for (width = width < room ? 0 : width - room; width; ) {
        size_t k = width < room ? width : room;
        s_add(b, s_lead + 2, k);
        width -= k;
    }
}

/* serde_json's escaping (cc_json_escape). */
static void s_string(cc_buf_t *b, const char *s, size_t len)
{
    s_add(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;                   /* the common case, without a call */
        char esc[7];
        size_t n = cc_json_escape(c, esc);
        s_add(b, s + run, i - run);
        s_add(b, esc, n);
        run = i + 1;
    }
    s_add(b, s + run, len - run);
    s_add(b, "\"", 1);
}

static void s_value(cc_ctx_t *ctx, cc_buf_t *b, const json_t *v, int depth);

static void s_object(cc_ctx_t *ctx, cc_buf_t *b, const json_t *v, int depth)
{
    json_t *o = (json_t *)v;            /* the iterator API is not const; nothing changes */
    if (!json_object_size(o)) {
        s_add(b, "{}", 2);
        return;
    }
    s_add(b, "{", 1);
    bool first = true;
    for (void *it = json_object_iter(o); it; it = json_object_iter_next(o, it)) {
        s_newline(b, !first, depth + 1);
        first = false;
        s_string(b, json_object_iter_key(it), json_object_iter_key_len(it));
        s_add(b, ": ", 2);
        s_value(ctx, b, json_object_iter_value(it), depth + 1);
    }
    s_newline(b, false, depth);
    s_add(b, "}", 1);
}

static void s_array(cc_ctx_t *ctx, cc_buf_t *b, const json_t *v, int depth)
{
    size_t n = json_array_size(v);
    if (!n) {
        s_add(b, "[]", 2);
        return;
    }
    s_add(b, "[", 1);
    for (size_t i = 0; i < n; i++) {
        s_newline(b, i > 0, depth + 1);
        s_value(ctx, b, json_array_get(v, i), depth + 1);
    }
    s_newline(b, false, depth);
    s_add(b, "]", 1);
}

/* A shared value: its text at this depth if it has been rendered twice before. */
static bool s_spliced(cc_ctx_t *ctx, cc_buf_t *b, const json_t *v, int depth)
{
    s_shared_t *s = cc_map_get(ctx->shared, &v, sizeof v);
    if (!s)
        return false;
    for (size_t i = 0; i < s->n; i++)
        if (s->depth[i] == depth) {
            cc_buf_add(b, s->text[i], s->len[i]);
            return true;
        }
    /* The first use is written in place: most values used once never need a copy. */
    if (s->uses++ == 0 || s->n == S_DEPTHS)
        return false;
    cc_buf_t own = {0};
    if (json_is_object(v))
        s_object(ctx, &own, v, depth);
    else
        s_array(ctx, &own, v, depth);
    if (own.failed) {
        cc_buf_free(&own);
        return false;
    }
    s->depth[s->n] = depth;
    s->text[s->n] = own.data;
    s->len[s->n] = own.len;
    s->n++;
    cc_buf_add(b, own.data, own.len);
    return true;
}

static void s_value(cc_ctx_t *ctx, cc_buf_t *b, const json_t *v, int depth)
{
    char num[32];
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        if (!s_spliced(ctx, b, v, depth))
            s_object(ctx, b, v, depth);
        break;
    case JSON_ARRAY:
        if (!s_spliced(ctx, b, v, depth))
            s_array(ctx, b, v, depth);
        break;
    case JSON_STRING:
        s_string(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        s_add(b, num, strlen(num));
        break;
    case JSON_REAL:
        cc_json_float(json_real_value(v), num);
        s_add(b, num, strlen(num));
        break;
    case JSON_TRUE:
        s_add(b, "true", 4);
        break;
    case JSON_FALSE:
        s_add(b, "false", 5);
        break;
    default:
        s_add(b, "null", 4);
    }
}

void cc_render(cc_ctx_t *ctx, cc_buf_t *b, const json_t *v, int depth)
{
    s_value(ctx, b, v, depth);
}

static int s_nesting(cc_ctx_t *ctx, const json_t *v, int guard)
{
    if ((!json_is_object(v) && !json_is_array(v)) || guard > CC_MAX_NEST * 2)
        return 0;
    s_shared_t *s = cc_map_get(ctx->shared, &v, sizeof v);
    if (s && s->nesting)
        return s->nesting;
    int max = 0;
    if (json_is_array(v))
        for (size_t i = 0; i < json_array_size(v); i++) {
            int d = s_nesting(ctx, json_array_get(v, i), guard + 1);
            max = d > max ? d : max;
        }
    else {
        const char *key;
        json_t *sub;
        json_object_foreach((json_t *)v, key, sub) {
            int d = s_nesting(ctx, sub, guard + 1);
            max = d > max ? d : max;
        }
    }
    if (s)
        s->nesting = max + 1;
    return max + 1;
}

int cc_nesting(cc_ctx_t *ctx, const json_t *v)
{
    return s_nesting(ctx, v, 0);
}
