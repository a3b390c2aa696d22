/* cc_schema_keywords.c — compiling one schema object: which keywords its vocabularies make
 * active, the checks of their values, and the links between siblings (items after prefixItems). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_schema_int.h"

typedef struct { const char *name; cc_kind_t kind; unsigned vocab; } s_kwdef_t;

/* then/else belong to "if"; min/maxContains to "contains"; $defs is compiled for its checks. */
static const s_kwdef_t s_kwdefs[] = {
    { "$ref", CC_K_REF, CC_V_CORE },
    { "$dynamicRef", CC_K_DYNREF, CC_V_CORE },
    { "$defs", CC_K_NONE, CC_V_CORE },
    { "allOf", CC_K_ALLOF, CC_V_APPLICATOR },
    { "anyOf", CC_K_ANYOF, CC_V_APPLICATOR },
    { "oneOf", CC_K_ONEOF, CC_V_APPLICATOR },
    { "not", CC_K_NOT, CC_V_APPLICATOR },
    { "if", CC_K_IF, CC_V_APPLICATOR },
    { "dependentSchemas", CC_K_DEPSCHEMAS, CC_V_APPLICATOR },
    { "prefixItems", CC_K_PREFIXITEMS, CC_V_APPLICATOR },
    { "items", CC_K_ITEMS, CC_V_APPLICATOR },
    { "contains", CC_K_CONTAINS, CC_V_APPLICATOR },
    { "properties", CC_K_PROPERTIES, CC_V_APPLICATOR },
    { "patternProperties", CC_K_PATTERNPROPS, CC_V_APPLICATOR },
    { "additionalProperties", CC_K_ADDPROPS, CC_V_APPLICATOR },
    { "propertyNames", CC_K_PROPNAMES, CC_V_APPLICATOR },
    { "unevaluatedItems", CC_K_UNEVAL_ITEMS, CC_V_UNEVALUATED },
    { "unevaluatedProperties", CC_K_UNEVAL_PROPS, CC_V_UNEVALUATED },
    { "type", CC_K_TYPE, CC_V_VALIDATION },
    { "enum", CC_K_ENUM, CC_V_VALIDATION },
    { "const", CC_K_CONST, CC_V_VALIDATION },
    { "multipleOf", CC_K_MULTIPLEOF, CC_V_VALIDATION },
    { "maximum", CC_K_MAXIMUM, CC_V_VALIDATION },
    { "exclusiveMaximum", CC_K_EXMAXIMUM, CC_V_VALIDATION },
    { "minimum", CC_K_MINIMUM, CC_V_VALIDATION },
    { "exclusiveMinimum", CC_K_EXMINIMUM, CC_V_VALIDATION },
    { "maxLength", CC_K_MAXLENGTH, CC_V_VALIDATION },
    { "minLength", CC_K_MINLENGTH, CC_V_VALIDATION },
    { "pattern", CC_K_PATTERN, CC_V_VALIDATION },
    { "maxItems", CC_K_MAXITEMS, CC_V_VALIDATION },
    { "minItems", CC_K_MINITEMS, CC_V_VALIDATION },
    { "uniqueItems", CC_K_UNIQUE, CC_V_VALIDATION },
    { "maxProperties", CC_K_MAXPROPS, CC_V_VALIDATION },
    { "minProperties", CC_K_MINPROPS, CC_V_VALIDATION },
    { "required", CC_K_REQUIRED, CC_V_VALIDATION },
    { "dependentRequired", CC_K_DEPREQUIRED, CC_V_VALIDATION },
    { "format", CC_K_FORMAT, CC_V_FORMAT_ANNOTATION | CC_V_FORMAT_ASSERTION },
    /* draft 7's union of dependentRequired and dependentSchemas, still met in plugin schemas */
    { "dependencies", CC_K_DEPENDENCIES, CC_V_APPLICATOR | CC_V_VALIDATION },
};

static const s_kwdef_t *s_kwdef(const char *name)
{
    for (size_t i = 0; i < sizeof s_kwdefs / sizeof *s_kwdefs; i++)
        if (!strcmp(name, s_kwdefs[i].name))
            return &s_kwdefs[i];
    return NULL;
}

static bool s_fail(cc_sctx_t *c, const char *path, const char *msg)
{
    cc_sctx_fail(c, path, "%s", msg);
    return false;
}

/* A subschema at parent + "/" + key (or index when key is NULL). */
static cc_snode_t *s_sub(cc_sctx_t *c, const cc_snode_t *n, const json_t *v, const char *parent,
                         const char *key, size_t klen, size_t idx)
{
    char num[24];
    if (!key) {
        klen = (size_t) snprintf(num, sizeof num, "%zu", idx);
        key = num;
    }
    char *p = cc_schema_path(parent, key, klen);
    cc_snode_t *sub = p ? cc_schema_node_get(c, v, n->res, p) : NULL;
    if (!p)
        cc_sctx_fail(c, parent, "out of memory");
    free(p);
    return sub;
}

/* ------------------------------------------------------------------ regular expressions */

/* ECMA-262 spells general categories out (\p{Letter}); PCRE2 10.42 knows only the short
 * names. The long name (after an optional gc= / General_Category=) becomes the short one. */
static const char *s_gc_short(const char *name, size_t len)
{
    static const char *const tab[][2] = {
        { "Letter", "L" }, { "Cased_Letter", "L&" }, { "Uppercase_Letter", "Lu" },
        { "Lowercase_Letter", "Ll" }, { "Titlecase_Letter", "Lt" }, { "Modifier_Letter", "Lm" },
        { "Other_Letter", "Lo" }, { "Mark", "M" }, { "Combining_Mark", "M" },
        { "Nonspacing_Mark", "Mn" }, { "Spacing_Mark", "Mc" }, { "Enclosing_Mark", "Me" },
        { "Number", "N" }, { "Decimal_Number", "Nd" }, { "digit", "Nd" },
        { "Letter_Number", "Nl" }, { "Other_Number", "No" }, { "Punctuation", "P" },
        { "punct", "P" }, { "Connector_Punctuation", "Pc" }, { "Dash_Punctuation", "Pd" },
        { "Open_Punctuation", "Ps" }, { "Close_Punctuation", "Pe" },
        { "Initial_Punctuation", "Pi" }, { "Final_Punctuation", "Pf" },
        { "Other_Punctuation", "Po" }, { "Symbol", "S" }, { "Math_Symbol", "Sm" },
        { "Currency_Symbol", "Sc" }, { "Modifier_Symbol", "Sk" }, { "Other_Symbol", "So" },
        { "Separator", "Z" }, { "Space_Separator", "Zs" }, { "Line_Separator", "Zl" },
        { "Paragraph_Separator", "Zp" }, { "Other", "C" }, { "Control", "Cc" },
        { "cntrl", "Cc" }, { "Format", "Cf" }, { "Surrogate", "Cs" }, { "Private_Use", "Co" },
        { "Unassigned", "Cn" },
    };
    if (len > 3 && !strncmp(name, "gc=", 3))
        name += 3, len -= 3;
    else if (len > 17 && !strncmp(name, "General_Category=", 17))
        name += 17, len -= 17;
    for (size_t i = 0; i < sizeof tab / sizeof *tab; i++)
        if (strlen(tab[i][0]) == len && !strncmp(name, tab[i][0], len))
            return tab[i][1];
    return NULL;
}

/* ECMA-262 \s is Unicode white space and line terminators; PCRE2's is ASCII. */
#define S_ECMA_WS "\\t\\n\\x0b\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"

/* One escape at pat[i] (a backslash) rewritten into out; returns the characters consumed. */
static size_t s_escape(const char *pat, size_t i, size_t len, bool in_class, char *out, size_t *o)
{
    char c = pat[i + 1];
    const char *close = i + 2 < len && (c == 'p' || c == 'P') && pat[i + 2] == '{'
                        ? memchr(pat + i + 3, '}', len - i - 3) : NULL;
    const char *gc = close ? s_gc_short(pat + i + 3, (size_t) (close - pat - i - 3)) : NULL;
    if (gc) {
        *o += (size_t) sprintf(out + *o, "\\%c{%s}", c, gc);
        return (size_t) (close - pat) - i + 1;
    }
    if (c == 's' || (c == 'S' && !in_class)) {   /* \S inside a class stays ASCII */
        *o += (size_t) sprintf(out + *o, in_class ? "%s" : c == 's' ? "[%s]" : "[^%s]", S_ECMA_WS);
        return 2;
    }
    out[(*o)++] = '\\';   /* any other escape is copied whole, so "\\p{" stays literal */
    out[(*o)++] = c;
    return 2;
}

/* pat in the PCRE2 spelling of its ECMA-262 meaning (see s_gc_short and S_ECMA_WS). */
static char *s_pcre_pattern(const char *pat, size_t len, size_t *outlen)
{
    size_t slashes = 0;
    for (size_t i = 0; i < len; i++)
        slashes += pat[i] == '\\';
    char *out = malloc(len + slashes * (sizeof S_ECMA_WS + 4) + 1);
    size_t o = 0;
    bool in_class = false;
    for (size_t i = 0; out && i < len;) {
        if (pat[i] == '\\' && i + 1 < len) {
            i += s_escape(pat, i, len, in_class, out, &o);
            continue;
        }
        if (pat[i] == '[')
            in_class = true;
        else if (pat[i] == ']')
            in_class = false;
        out[o++] = pat[i++];
    }
    if (out)
        out[o] = '\0';
    *outlen = o;
    return out;
}

static pcre2_code *s_regex(cc_sctx_t *c, const char *pat, size_t len, const char *path)
{
    cc_schema_t *self = c->self;
    int ec;
    PCRE2_SIZE off;
    /* ECMA-262 flavour where PCRE2 can follow it: \uXXXX, $ only at the end, [^] and []. */
    uint32_t flags = PCRE2_UTF | PCRE2_ALT_BSUX | PCRE2_DOLLAR_ENDONLY | PCRE2_ALLOW_EMPTY_CLASS |
                     PCRE2_MATCH_UNSET_BACKREF | PCRE2_NEVER_BACKSLASH_C;
    if (self->nregex == self->capregex) {
        size_t cap = self->capregex ? self->capregex * 2 : 16;
        pcre2_code **r = realloc(self->regexes, cap * sizeof *r);
        if (!r) {
            cc_sctx_fail(c, path, "out of memory");
            return NULL;
        }
        self->regexes = r;
        self->capregex = cap;
    }
    if (len > CC_SCHEMA_MAX_PATTERN) {
        cc_sctx_fail(c, path, "regular expression longer than %d bytes", CC_SCHEMA_MAX_PATTERN);
        return NULL;
    }
    size_t plen;
    char *p = s_pcre_pattern(pat, len, &plen);
    pcre2_code *re = p ? pcre2_compile((PCRE2_SPTR) p, plen, flags, &ec, &off, c->cctx) : NULL;
    free(p);
    if (!p) {
        cc_sctx_fail(c, path, "out of memory");
        return NULL;
    }
    if (!re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof msg);
        cc_sctx_fail(c, path, "invalid regular expression: %s (at offset %zu)", (char *) msg,
                     (size_t) off);
        return NULL;
    }
    self->regexes[self->nregex++] = re;
    return re;
}

/* ------------------------------------------------------------------ keyword values */

static bool s_list(cc_sctx_t *c, const cc_snode_t *n, cc_skw_t *kw, const char *path)
{
    const json_t *v = kw->value;
    if (!json_is_array(v) || json_array_size(v) == 0)
        return s_fail(c, path, "must be a non-empty array of schemas");
    kw->n = json_array_size(v);
    if (!(kw->subs = cc_sarena_alloc(c->self, kw->n * sizeof *kw->subs)))
        return s_fail(c, path, "out of memory");
    for (size_t i = 0; i < kw->n; i++)
        if (!(kw->subs[i] = s_sub(c, n, json_array_get(v, i), path, NULL, 0, i)))
            return false;
    return true;
}

typedef struct { const char *k; size_t len; const json_t *v; } s_entry_t;

static int s_entry_cmp(const void *x, const void *y)
{
    const s_entry_t *a = x, *b = y;
    int r = memcmp(a->k, b->k, a->len < b->len ? a->len : b->len);
    return r ? r : a->len < b->len ? -1 : a->len > b->len;
}

/* properties / dependentSchemas (sorted, for binary search) and patternProperties (regexes). */
static bool s_map(cc_sctx_t *c, const cc_snode_t *n, cc_skw_t *kw, const char *path, bool patterns)
{
    const json_t *v = kw->value;
    if (!json_is_object(v))
        return s_fail(c, path, "must be an object of schemas");
    size_t cnt = json_object_size(v), i = 0;
    s_entry_t *e = malloc((cnt ? cnt : 1) * sizeof *e);
    kw->names = cc_sarena_alloc(c->self, cnt * sizeof *kw->names);
    kw->name_lens = cc_sarena_alloc(c->self, cnt * sizeof *kw->name_lens);
    kw->subs = cc_sarena_alloc(c->self, cnt * sizeof *kw->subs);
    kw->re = patterns ? cc_sarena_alloc(c->self, cnt * sizeof *kw->re) : NULL;
    if (!e || !kw->names || !kw->name_lens || !kw->subs || (patterns && !kw->re)) {
        free(e);
        return s_fail(c, path, "out of memory");
    }
    for (void *it = json_object_iter((json_t *) v); it; it = json_object_iter_next((json_t *) v, it))
        e[i++] = (s_entry_t) { json_object_iter_key(it), json_object_iter_key_len(it),
                               json_object_iter_value(it) };
    if (!patterns)
        qsort(e, cnt, sizeof *e, s_entry_cmp);
    bool ok = true;
    for (i = 0; ok && i < cnt; i++) {
        kw->names[i] = e[i].k;
        kw->name_lens[i] = e[i].len;
        ok = (kw->subs[i] = s_sub(c, n, e[i].v, path, e[i].k, e[i].len, 0)) != NULL;
        if (ok && patterns) {
            char *p = cc_schema_path(path, e[i].k, e[i].len);
            ok = p && (kw->re[i] = s_regex(c, e[i].k, e[i].len, p)) != NULL;
            free(p);
        }
    }
    kw->n = cnt;
    free(e);
    return ok;
}

static unsigned s_type_bit(const json_t *v)
{
    static const char *const names[] = { "null", "boolean", "object", "array", "number",
                                         "string", "integer" };
    for (unsigned i = 0; json_is_string(v) && i < 7; i++)
        if (!strcmp(json_string_value(v), names[i]))
            return 1u << i;
    return 0;
}

static bool s_type(cc_sctx_t *c, cc_skw_t *kw, const char *path)
{
    const json_t *v = kw->value;
    if (json_is_string(v))
        kw->types = s_type_bit(v);
    for (size_t i = 0; json_is_array(v) && i < json_array_size(v); i++) {
        unsigned bit = s_type_bit(json_array_get(v, i));
        if (!bit)
            return s_fail(c, path, "must name JSON types (null, boolean, object, array, "
                                   "number, string, integer)");
        kw->types |= bit;
    }
    if (!kw->types)
        return s_fail(c, path, "must be a JSON type name or a non-empty array of them");
    return true;
}

static bool s_strings(const json_t *v)
{
    if (!json_is_array(v))
        return false;
    for (size_t i = 0; i < json_array_size(v); i++)
        if (!json_is_string(json_array_get(v, i)))
            return false;
    return true;
}

static bool s_dep_required(cc_sctx_t *c, const json_t *v, const char *path)
{
    if (!json_is_object(v))
        return s_fail(c, path, "must be an object of string arrays");
    const char *k;
    json_t *a;
    json_object_foreach((json_t *) v, k, a)
        if (!s_strings(a))
            return s_fail(c, path, "must be an object of string arrays");
    return true;
}

/* if: the condition; then/else are its siblings and only mean something next to it. */
static bool s_if(cc_sctx_t *c, const cc_snode_t *n, cc_skw_t *kw, const char *npath)
{
    const json_t *t = json_object_get(n->json, "then"), *e = json_object_get(n->json, "else");
    kw->sub = s_sub(c, n, kw->value, npath, "if", 2, 0);
    if (kw->sub && t)
        kw->then_ = s_sub(c, n, t, npath, "then", 4, 0);
    if (kw->sub && e)
        kw->else_ = s_sub(c, n, e, npath, "else", 4, 0);
    return kw->sub && (!t || kw->then_) && (!e || kw->else_);
}

static bool s_contains(cc_sctx_t *c, const cc_snode_t *n, cc_skw_t *kw, const char *npath,
                       unsigned vocab)
{
    kw->sub = s_sub(c, n, kw->value, npath, "contains", 8, 0);
    const json_t *mn = json_object_get(n->json, "minContains");
    const json_t *mx = json_object_get(n->json, "maxContains");
    kw->lim = 1;
    if (!(vocab & CC_V_VALIDATION))
        return kw->sub != NULL;
    if (mn && !(kw->has_lim = cc_schema_size_value(mn, &kw->lim)))
        return s_fail(c, npath, "minContains must be a non-negative integer");
    if (mx && !(kw->has_lim2 = cc_schema_size_value(mx, &kw->lim2)))
        return s_fail(c, npath, "maxContains must be a non-negative integer");
    return kw->sub != NULL;
}

static bool s_format(cc_sctx_t *c, cc_skw_t *kw, const char *path, unsigned vocab)
{
    if (!json_is_string(kw->value))
        return s_fail(c, path, "must be a string");
    bool assert = c->self->opts.format_assertion || (vocab & CC_V_FORMAT_ASSERTION);
    kw->format = cc_schema_format_id(json_string_value(kw->value));
    if (!assert || kw->format < 0)
        kw->kind = CC_K_NONE;   /* an annotation: nothing to check */
    return true;
}

static bool s_assertion(cc_sctx_t *c, cc_skw_t *kw, const char *path)
{
    const json_t *v = kw->value;
    switch (kw->kind) {
    case CC_K_ENUM:
        return json_is_array(v) || s_fail(c, path, "must be an array");
    case CC_K_MULTIPLEOF:
        return (json_is_number(v) && json_number_value(v) > 0) ||
               s_fail(c, path, "must be a number greater than 0");
    case CC_K_MAXIMUM:
    case CC_K_EXMAXIMUM:
    case CC_K_MINIMUM:
    case CC_K_EXMINIMUM:
        return json_is_number(v) || s_fail(c, path, "must be a number");
    case CC_K_PATTERN:
        if (!json_is_string(v))
            return s_fail(c, path, "must be a string");
        kw->n = 1;
        return (kw->re = cc_sarena_alloc(c->self, sizeof *kw->re)) &&
               (kw->re[0] = s_regex(c, json_string_value(v), json_string_length(v), path));
    case CC_K_UNIQUE:
        if (!json_is_boolean(v))
            return s_fail(c, path, "must be a boolean");
        if (json_is_false(v))
            kw->kind = CC_K_NONE;
        return true;
    case CC_K_REQUIRED:
        return s_strings(v) || s_fail(c, path, "must be an array of strings");
    case CC_K_DEPREQUIRED:
        return s_dep_required(c, v, path);
    case CC_K_CONST:
        return true;
    default:   /* the lengths and counts */
        return cc_schema_size_value(v, &kw->lim) || s_fail(c, path, "must be a non-negative integer");
    }
}

/* dependencies: the schema members compile like dependentSchemas; the arrays are read at
 * evaluation like dependentRequired. */
static bool s_dependencies(cc_sctx_t *c, const cc_snode_t *n, cc_skw_t *kw, const char *path)
{
    const json_t *v = kw->value;
    if (!json_is_object(v))
        return s_fail(c, path, "must be an object");
    size_t cnt = json_object_size(v);
    kw->names = cc_sarena_alloc(c->self, cnt * sizeof *kw->names);
    kw->name_lens = cc_sarena_alloc(c->self, cnt * sizeof *kw->name_lens);
    kw->subs = cc_sarena_alloc(c->self, cnt * sizeof *kw->subs);
    if (!kw->names || !kw->name_lens || !kw->subs)
        return s_fail(c, path, "out of memory");
    for (void *it = json_object_iter((json_t *) v); it; it = json_object_iter_next((json_t *) v, it)) {
        const json_t *d = json_object_iter_value(it);
        const char *k = json_object_iter_key(it);
        size_t klen = json_object_iter_key_len(it);
        if (json_is_array(d) && s_strings(d))
            continue;
        kw->names[kw->n] = k;
        kw->name_lens[kw->n] = klen;
        if (!(kw->subs[kw->n++] = s_sub(c, n, d, path, k, klen, 0)))
            return false;
    }
    return true;
}

static bool s_defs(cc_sctx_t *c, const cc_snode_t *n, const json_t *v, const char *path)
{
    if (!json_is_object(v))
        return s_fail(c, path, "must be an object of schemas");
    for (void *it = json_object_iter((json_t *) v); it; it = json_object_iter_next((json_t *) v, it))
        if (!s_sub(c, n, json_object_iter_value(it), path, json_object_iter_key(it),
                   json_object_iter_key_len(it), 0))
            return false;
    return true;
}

static bool s_keyword(cc_sctx_t *c, cc_snode_t *n, cc_skw_t *kw, const char *path,
                      const char *npath, unsigned vocab)
{
    switch (kw->kind) {
    case CC_K_NONE:
        return s_defs(c, n, kw->value, path);
    case CC_K_REF:
    case CC_K_DYNREF:
        return cc_schema_ref_compile(c, n, kw, path);
    case CC_K_ALLOF:
    case CC_K_ANYOF:
    case CC_K_ONEOF:
    case CC_K_PREFIXITEMS:
        return s_list(c, n, kw, path);
    case CC_K_NOT:
    case CC_K_ITEMS:
    case CC_K_ADDPROPS:
    case CC_K_PROPNAMES:
    case CC_K_UNEVAL_ITEMS:
    case CC_K_UNEVAL_PROPS:
        return (kw->sub = cc_schema_node_get(c, kw->value, n->res, path)) != NULL;
    case CC_K_IF:
        return s_if(c, n, kw, npath);
    case CC_K_CONTAINS:
        return s_contains(c, n, kw, npath, vocab);
    case CC_K_PROPERTIES:
    case CC_K_DEPSCHEMAS:
        return s_map(c, n, kw, path, false);
    case CC_K_PATTERNPROPS:
        return s_map(c, n, kw, path, true);
    case CC_K_TYPE:
        return s_type(c, kw, path);
    case CC_K_FORMAT:
        return s_format(c, kw, path, vocab);
    case CC_K_DEPENDENCIES:
        return s_dependencies(c, n, kw, path);
    default:
        return s_assertion(c, kw, path);
    }
}

/* ------------------------------------------------------------------ one node */

static cc_skw_t *s_find(cc_snode_t *n, cc_kind_t kind)
{
    for (size_t i = 0; i < n->nkw; i++)
        if (n->kws[i].kind == kind)
            return &n->kws[i];
    return NULL;
}

/* unevaluated* go last (they read every sibling's annotations); then the sibling links. */
static void s_link(cc_snode_t *n)
{
    for (size_t i = 0, k = 0; i < n->nkw; i++) {
        if (n->kws[i].kind == CC_K_UNEVAL_ITEMS || n->kws[i].kind == CC_K_UNEVAL_PROPS)
            continue;
        if (i != k) {   /* at most two late keywords to shift: keys are unique */
            cc_skw_t tmp = n->kws[i];
            memmove(&n->kws[k + 1], &n->kws[k], (i - k) * sizeof tmp);
            n->kws[k] = tmp;
        }
        k++;
    }
    cc_skw_t *add = s_find(n, CC_K_ADDPROPS), *items = s_find(n, CC_K_ITEMS);
    cc_skw_t *prefix = s_find(n, CC_K_PREFIXITEMS);
    if (add) {
        add->props = s_find(n, CC_K_PROPERTIES);
        add->pats = s_find(n, CC_K_PATTERNPROPS);
    }
    if (items)
        items->lim = prefix ? prefix->n : 0;
    n->has_uneval = s_find(n, CC_K_UNEVAL_ITEMS) || s_find(n, CC_K_UNEVAL_PROPS);
}

static void s_compile_node(cc_sctx_t *c, cc_snode_t *n, const char *npath)
{
    unsigned vocab = cc_schema_vocab(c, n->res, npath);
    size_t size = json_object_size(n->json);
    if (c->failed || !(n->kws = cc_sarena_alloc(c->self, (size ? size : 1) * sizeof *n->kws))) {
        cc_sctx_fail(c, npath, "out of memory");
        return;
    }
    for (void *it = json_object_iter((json_t *) n->json); it && !c->failed;
         it = json_object_iter_next((json_t *) n->json, it)) {
        const s_kwdef_t *def = s_kwdef(json_object_iter_key(it));
        if (!def || !(def->vocab & vocab))
            continue;
        cc_skw_t *kw = &n->kws[n->nkw];
        *kw = (cc_skw_t) { .kind = def->kind, .name = def->name,
                           .value = json_object_iter_value(it) };
        char *path = cc_schema_path(npath, def->name, strlen(def->name));
        if (!path)
            cc_sctx_fail(c, npath, "out of memory");
        else if (s_keyword(c, n, kw, path, npath, vocab) && kw->kind != CC_K_NONE)
            n->nkw++;
        free(path);
    }
    s_link(n);
    for (size_t i = 0; i < n->nkw; i++)   /* after s_link: the keywords have their places */
        if (n->kws[i].kind == CC_K_DYNREF) {
            n->kws[i].next_dyn = c->self->dynrefs;
            c->self->dynrefs = &n->kws[i];
        }
    n->compiled = true;
}

int cc_schema_compile_queue(cc_sctx_t *c)
{
    while (c->head && !c->failed) {
        struct cc_squeue *q = c->head;
        c->head = q->next;
        if (!c->head)
            c->tail = NULL;
        s_compile_node(c, q->node, q->path);
        free(q->path);
        free(q);
    }
    return c->failed ? -1 : 0;
}
