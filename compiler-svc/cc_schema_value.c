/* cc_schema_value.c — JSON value semantics of JSON Schema over jansson: numbers by value
 * (1 == 1.0), deep equality, O(n log n) uniqueness, multipleOf, code-point lengths. Pure functions. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_schema_int.h"

#define S_TWO63 9223372036854775808.0
#define S_TWO52 4503599627370496.0

/* The few libm functions needed, written out: the libraries the project links carry no -lm.
 * Every double of magnitude >= 2^52 is an integer, so the casts below never overflow. */
static double s_trunc(double d)
{
    return fabs(d) >= S_TWO52 ? d : (double) (long long) d;
}

static double s_round(double d)
{
    if (fabs(d) >= S_TWO52)
        return d;
    return d >= 0 ? (double) (long long) (d + 0.5) : -(double) (long long) (-d + 0.5);
}

/* Exact remainder of x by d (x >= 0, d > 0, both finite): subtracting d * 2^k, k descending,
 * is exact at each step (Sterbenz), about 2,100 iterations at most. */
static double s_fmod(double x, double d)
{
    double m = d, r = x;
    while (m <= r / 2)
        m *= 2;
    while (m >= d) {
        if (r >= m)
            r -= m;
        m /= 2;
    }
    return r;
}

/* ------------------------------------------------------------------ numbers */

bool cc_schema_is_integer(const json_t *v)
{
    if (json_is_integer(v))
        return true;
    if (!json_is_real(v))
        return false;
    double d = json_real_value(v);
    return isfinite(d) && d == s_trunc(d);
}

/* sign(i - d), exact: the double is split into its integral and fractional parts. */
static int s_cmp_int_real(json_int_t i, double d)
{
    if (d >= S_TWO63)
        return -1;
    if (d < -S_TWO63)
        return 1;
    double t = s_trunc(d);
    json_int_t ti = (json_int_t) t;
    if (i != ti)
        return i < ti ? -1 : 1;
    double frac = d - t;
    return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

int cc_schema_num_cmp(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (json_is_integer(a))
        return s_cmp_int_real(json_integer_value(a), json_real_value(b));
    if (json_is_integer(b))
        return -s_cmp_int_real(json_integer_value(b), json_real_value(a));
    double x = json_real_value(a), y = json_real_value(b);
    return x < y ? -1 : x > y ? 1 : 0;
}

/* An integer-valued number as int64, when it fits. */
static bool s_as_int64(const json_t *v, json_int_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    double d = json_real_value(v);
    if (!cc_schema_is_integer(v) || d >= S_TWO63 || d < -S_TWO63)
        return false;
    *out = (json_int_t) d;
    return true;
}

/* Integers are exact; decimals are not (0.0075 / 0.0001 = 74.99999999999999), so a quotient
 * within the rounding error of the division of an integer counts as a multiple. */
bool cc_schema_multiple_of(const json_t *v, const json_t *m)
{
    json_int_t xi, mi;
    if (s_as_int64(v, &xi) && s_as_int64(m, &mi) && mi > 0)
        return xi % mi == 0;
    double x = json_number_value(v), d = json_number_value(m);
    if (d <= 0)
        return false;
    if (cc_schema_is_integer(v) && cc_schema_is_integer(m))
        return s_fmod(fabs(x), d) == 0.0;
    double q = x / d;
    if (!isfinite(q))
        return s_fmod(fabs(x), d) == 0.0;
    return fabs(q - s_round(q)) <= fabs(q) * 8 * DBL_EPSILON;
}

void cc_schema_num_str(const json_t *v, char *out, size_t outlen)
{
    if (json_is_integer(v)) {
        snprintf(out, outlen, "%lld", (long long) json_integer_value(v));
        return;
    }
    double d = json_real_value(v);
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, outlen, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            return;
    }
}

bool cc_schema_size_value(const json_t *v, size_t *out)
{
    if (!cc_schema_is_integer(v) || json_number_value(v) < 0)
        return false;
    if (json_is_integer(v))
        *out = (size_t) json_integer_value(v);
    else
        *out = json_real_value(v) >= 1.8e19 ? SIZE_MAX : (size_t) json_real_value(v);
    return true;
}

size_t cc_schema_utf8_len(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char) s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

/* ------------------------------------------------------------------ equality */

static bool s_equal(const json_t *a, const json_t *b, size_t depth)
{
    if (depth > CC_SCHEMA_EQ_DEPTH)
        return false;
    if (json_is_number(a) && json_is_number(b))
        return cc_schema_num_cmp(a, b) == 0;
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_ARRAY: {
        size_t n = json_array_size(a);
        if (n != json_array_size(b))
            return false;
        for (size_t i = 0; i < n; i++)
            if (!s_equal(json_array_get(a, i), json_array_get(b, i), depth + 1))
                return false;
        return true;
    }
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return false;
        for (void *it = json_object_iter((json_t *) a); it; it = json_object_iter_next((json_t *) a, it)) {
            const json_t *o = json_object_getn(b, json_object_iter_key(it), json_object_iter_key_len(it));
            if (!o || !s_equal(json_object_iter_value(it), o, depth + 1))
                return false;
        }
        return true;
    }
    default:
        return true;   /* null, true, false: the type says it all */
    }
}

bool cc_schema_equal(const json_t *a, const json_t *b)
{
    return s_equal(a, b, 0);
}

/* ------------------------------------------------------------------ hashing and ordering */

static uint64_t s_mix(uint64_t h)
{
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

/* A hash consistent with s_equal: equal numbers hash alike whatever their jansson type. */
static uint64_t s_hash(const json_t *v, size_t depth, bool *deep)
{
    if (depth > CC_SCHEMA_EQ_DEPTH) {
        *deep = true;
        return 0;
    }
    json_int_t i;
    switch (json_typeof(v)) {
    case JSON_INTEGER:
    case JSON_REAL:
        if (s_as_int64(v, &i))
            return s_mix(0x100 ^ (uint64_t) i);
        {
            double d = json_real_value(v);
            uint64_t bits;
            memcpy(&bits, &d, sizeof bits);
            return s_mix(0x200 ^ bits);
        }
    case JSON_STRING:
        return s_mix(cc_smap_hash(json_string_value(v), json_string_length(v)) ^ 0x300);
    case JSON_ARRAY: {
        uint64_t h = 0x400 + json_array_size(v);
        for (size_t k = 0; k < json_array_size(v); k++)
            h = s_mix(h * 31 + s_hash(json_array_get(v, k), depth + 1, deep));
        return h;
    }
    case JSON_OBJECT: {
        uint64_t sum = 0;   /* order-independent: members are a set */
        for (void *it = json_object_iter((json_t *) v); it; it = json_object_iter_next((json_t *) v, it))
            sum += s_mix(cc_smap_hash(json_object_iter_key(it), json_object_iter_key_len(it)) ^
                         (s_hash(json_object_iter_value(it), depth + 1, deep) * 0x9e3779b97f4a7c15ull));
        return s_mix(0x500 + json_object_size(v) + sum);
    }
    case JSON_TRUE:
        return 1;
    case JSON_FALSE:
        return 2;
    default:
        return 3;
    }
}

typedef struct { bool oom; } s_cmp_ctx_t;

static int s_rank(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_NULL: return 0;
    case JSON_FALSE: return 1;
    case JSON_TRUE: return 2;
    case JSON_INTEGER:
    case JSON_REAL: return 3;
    case JSON_STRING: return 4;
    case JSON_ARRAY: return 5;
    default: return 6;
    }
}

static int s_bytes_cmp(const char *a, size_t la, const char *b, size_t lb)
{
    int c = memcmp(a, b, la < lb ? la : lb);
    return c ? c : la < lb ? -1 : la > lb ? 1 : 0;
}

typedef struct { const char *k; size_t len; } s_key_t;

static int s_key_cmp(const void *x, const void *y)
{
    const s_key_t *a = x, *b = y;
    return s_bytes_cmp(a->k, a->len, b->k, b->len);
}

static s_key_t *s_sorted_keys(const json_t *o)
{
    size_t n = json_object_size(o), k = 0;
    s_key_t *keys = malloc((n ? n : 1) * sizeof *keys);
    if (!keys)
        return NULL;
    for (void *it = json_object_iter((json_t *) o); it; it = json_object_iter_next((json_t *) o, it)) {
        keys[k].k = json_object_iter_key(it);
        keys[k++].len = json_object_iter_key_len(it);
    }
    qsort(keys, n, sizeof *keys, s_key_cmp);
    return keys;
}

static int s_cmp(const json_t *a, const json_t *b, size_t depth, s_cmp_ctx_t *ctx);

/* Objects: by size, then by sorted key list, then by the values in key order. */
static int s_obj_cmp(const json_t *a, const json_t *b, size_t depth, s_cmp_ctx_t *ctx)
{
    size_t n = json_object_size(a);
    if (n != json_object_size(b))
        return n < json_object_size(b) ? -1 : 1;
    s_key_t *ka = s_sorted_keys(a), *kb = s_sorted_keys(b);
    int c = 0;
    if (!ka || !kb)
        ctx->oom = true;
    for (size_t i = 0; ka && kb && !c && i < n; i++)
        c = s_key_cmp(&ka[i], &kb[i]);
    for (size_t i = 0; ka && kb && !c && i < n; i++)
        c = s_cmp(json_object_getn(a, ka[i].k, ka[i].len), json_object_getn(b, kb[i].k, kb[i].len),
                  depth + 1, ctx);
    free(ka);
    free(kb);
    return c;
}

/* A total order in which two values compare 0 exactly when s_equal holds. */
static int s_cmp(const json_t *a, const json_t *b, size_t depth, s_cmp_ctx_t *ctx)
{
    int ra = s_rank(a), rb = s_rank(b);
    if (ra != rb)
        return ra < rb ? -1 : 1;
    if (depth > CC_SCHEMA_EQ_DEPTH) {
        ctx->oom = true;
        return 0;
    }
    switch (ra) {
    case 3:
        return cc_schema_num_cmp(a, b);
    case 4:
        return s_bytes_cmp(json_string_value(a), json_string_length(a), json_string_value(b),
                           json_string_length(b));
    case 5: {
        size_t na = json_array_size(a), nb = json_array_size(b);
        for (size_t i = 0; i < na && i < nb; i++) {
            int c = s_cmp(json_array_get(a, i), json_array_get(b, i), depth + 1, ctx);
            if (c)
                return c;
        }
        return na < nb ? -1 : na > nb ? 1 : 0;
    }
    case 6:
        return s_obj_cmp(a, b, depth, ctx);
    default:
        return 0;
    }
}

typedef struct { uint64_t hash; size_t idx; const json_t *v; } s_item_t;

static int s_item_cmp(const void *x, const void *y, void *arg)
{
    const s_item_t *a = x, *b = y;
    if (a->hash != b->hash)
        return a->hash < b->hash ? -1 : 1;
    int c = s_cmp(a->v, b->v, 0, arg);
    return c ? c : a->idx < b->idx ? -1 : a->idx > b->idx ? 1 : 0;
}

/* Sort by (hash, total order): equal items end up adjacent, in O(n log n) comparisons even
 * when an adversary makes every hash collide. */
int cc_schema_unique(const json_t *arr, size_t *pi, size_t *pj)
{
    size_t n = json_array_size(arr);
    if (n < 2)
        return 1;
    s_item_t *items = malloc(n * sizeof *items);
    if (!items)
        return -1;
    bool deep = false;
    for (size_t k = 0; k < n; k++) {
        items[k].v = json_array_get(arr, k);
        items[k].idx = k;
        items[k].hash = s_hash(items[k].v, 0, &deep);
    }
    s_cmp_ctx_t ctx = { false };
    if (!deep)
        qsort_r(items, n, sizeof *items, s_item_cmp, &ctx);
    int rc = deep || ctx.oom ? -1 : 1;
    for (size_t k = 1; rc == 1 && k < n; k++)
        if (items[k].hash == items[k - 1].hash && s_equal(items[k].v, items[k - 1].v, 0)) {
            *pi = items[k - 1].idx < items[k].idx ? items[k - 1].idx : items[k].idx;
            *pj = items[k - 1].idx < items[k].idx ? items[k].idx : items[k - 1].idx;
            rc = 0;
        }
    free(items);
    return rc;
}
