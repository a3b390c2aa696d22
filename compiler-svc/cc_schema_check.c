/* cc_schema_check.c — the assertion keywords of the validation vocabulary and format, with
 * the messages users read in compile errors ("must be <= 65535"). */
#include <stdio.h>
#include <string.h>

#include "cc_schema_int.h"

int cc_seval_regex(cc_seval_t *e, pcre2_code *re, const char *kwname, const char *s, size_t len)
{
    cc_schema_t *self = e->self;
    int rc = pcre2_match(re, (PCRE2_SPTR) s, len, 0, 0, self->mdata, self->mctx);
    if (rc >= 0)
        return 1;
    if (rc == PCRE2_ERROR_NOMATCH || (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21))
        return 0;
    PCRE2_UCHAR msg[160];
    pcre2_get_error_message(rc, msg, sizeof msg);
    cc_seval_abort(e, kwname, "regular expression stopped: %s", (char *) msg);
    return -1;
}

static const char *s_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_NULL: return "null";
    default: return "boolean";
    }
}

static unsigned s_type_bits(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return CC_T_OBJECT;
    case JSON_ARRAY: return CC_T_ARRAY;
    case JSON_STRING: return CC_T_STRING;
    case JSON_INTEGER: return CC_T_NUMBER | CC_T_INTEGER;
    case JSON_REAL: return CC_T_NUMBER | (cc_schema_is_integer(v) ? CC_T_INTEGER : 0);
    case JSON_NULL: return CC_T_NULL;
    default: return CC_T_BOOLEAN;
    }
}

static bool s_type(cc_seval_t *e, const cc_skw_t *kw, const json_t *inst, bool report)
{
    if (s_type_bits(inst) & kw->types)
        return true;
    static const char *const names[] = { "null", "boolean", "object", "array", "number",
                                         "string", "integer" };
    char want[96] = "";
    unsigned count = 0, total = 0;
    for (unsigned t = kw->types; t; t &= t - 1)
        total++;
    for (unsigned i = 0; i < 7; i++) {
        if (!(kw->types & (1u << i)))
            continue;
        const char *sep = count == 0 ? "" : count + 1 == total ? " or " : ", ";
        strncat(want, sep, sizeof want - strlen(want) - 1);
        strncat(want, names[i], sizeof want - strlen(want) - 1);
        count++;
    }
    cc_seval_fail(e, report, kw, "must be %s, not %s", want, s_type_name(inst));
    return false;
}

/* A short rendering of a scalar for messages; false for arrays and objects. */
static bool s_scalar(const json_t *v, char *out, size_t outlen)
{
    if (json_is_string(v))
        cc_seval_quote(out, outlen, json_string_value(v), json_string_length(v));
    else if (json_is_number(v))
        cc_schema_num_str(v, out, outlen);
    else if (json_is_null(v) || json_is_boolean(v))
        snprintf(out, outlen, "%s", json_is_null(v) ? "null" : json_is_true(v) ? "true" : "false");
    else
        return false;
    return true;
}

static bool s_enum(cc_seval_t *e, const cc_skw_t *kw, const json_t *inst, bool report)
{
    size_t n = json_array_size(kw->value);
    e->steps += n / 16;   /* a long enum costs its length, not one step */
    for (size_t i = 0; i < n; i++)
        if (cc_schema_equal(inst, json_array_get(kw->value, i)))
            return true;
    char list[320] = "", one[96];
    bool shown = n > 0 && n <= 6;
    for (size_t i = 0; shown && i < n; i++) {
        shown = s_scalar(json_array_get(kw->value, i), one, sizeof one);
        if (shown && strlen(list) + strlen(one) + 3 < sizeof list) {
            if (i)
                strcat(list, ", ");
            strcat(list, one);
        }
    }
    if (shown)
        cc_seval_fail(e, report, kw, "must be one of %s", list);
    else
        cc_seval_fail(e, report, kw, "must be one of the %zu allowed values", n);
    return false;
}

static bool s_const(cc_seval_t *e, const cc_skw_t *kw, const json_t *inst, bool report)
{
    if (cc_schema_equal(inst, kw->value))
        return true;
    char one[96];
    if (s_scalar(kw->value, one, sizeof one))
        cc_seval_fail(e, report, kw, "must be %s", one);
    else
        cc_seval_fail(e, report, kw, "must be equal to the constant %s", s_type_name(kw->value));
    return false;
}

static bool s_number(cc_seval_t *e, const cc_skw_t *kw, const json_t *inst, bool report)
{
    char num[40];
    cc_schema_num_str(kw->value, num, sizeof num);
    if (kw->kind == CC_K_MULTIPLEOF) {
        if (cc_schema_multiple_of(inst, kw->value))
            return true;
        cc_seval_fail(e, report, kw, "must be a multiple of %s", num);
        return false;
    }
    int c = cc_schema_num_cmp(inst, kw->value);
    static const char *const ops[] = { "<=", "<", ">=", ">" };
    int which = kw->kind == CC_K_MAXIMUM ? 0 : kw->kind == CC_K_EXMAXIMUM ? 1
              : kw->kind == CC_K_MINIMUM ? 2 : 3;
    bool ok = which == 0 ? c <= 0 : which == 1 ? c < 0 : which == 2 ? c >= 0 : c > 0;
    if (!ok)
        cc_seval_fail(e, report, kw, "must be %s %s", ops[which], num);
    return ok;
}

/* The counted keywords: string lengths (code points), item and property counts. */
static bool s_count(cc_seval_t *e, const cc_skw_t *kw, size_t have, bool report)
{
    static const struct { cc_kind_t kind; bool max; const char *one, *many; } tab[] = {
        { CC_K_MAXLENGTH, true, "character", "characters" },
        { CC_K_MINLENGTH, false, "character", "characters" },
        { CC_K_MAXITEMS, true, "item", "items" }, { CC_K_MINITEMS, false, "item", "items" },
        { CC_K_MAXPROPS, true, "property", "properties" },
        { CC_K_MINPROPS, false, "property", "properties" },
    };
    for (size_t i = 0; i < sizeof tab / sizeof *tab; i++) {
        if (tab[i].kind != kw->kind)
            continue;
        if (tab[i].max ? have <= kw->lim : have >= kw->lim)
            return true;
        cc_seval_fail(e, report, kw, "must have at %s %zu %s (it has %zu)",
                      tab[i].max ? "most" : "least", kw->lim,
                      kw->lim == 1 ? tab[i].one : tab[i].many, have);
        return false;
    }
    return true;
}

static bool s_string(cc_seval_t *e, const cc_skw_t *kw, const json_t *inst, bool report)
{
    const char *s = json_string_value(inst);
    size_t len = json_string_length(inst);
    if (kw->kind == CC_K_PATTERN) {
        int m = cc_seval_regex(e, kw->re[0], kw->name, s, len);
        if (m < 0)
            return false;
        char q[96];
        const json_t *p = kw->value;
        cc_seval_quote(q, sizeof q, json_string_value(p), json_string_length(p));
        if (!m)
            cc_seval_fail(e, report, kw, "must match the pattern %s", q);
        return m == 1;
    }
    if (kw->kind == CC_K_FORMAT) {
        if (cc_schema_format_check(kw->format, s, len))
            return true;
        cc_seval_fail(e, report, kw, "must be a valid %s", cc_schema_format_name(kw->format));
        return false;
    }
    return s_count(e, kw, cc_schema_utf8_len(s, len), report);
}

/* Names of arr missing from obj, quoted into out; how many. */
static size_t s_missing(const json_t *obj, const json_t *arr, char *out, size_t outlen)
{
    size_t missing = 0;
    out[0] = '\0';
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *name = json_array_get(arr, i);
        if (json_object_getn(obj, json_string_value(name), json_string_length(name)))
            continue;
        char q[96];
        cc_seval_quote(q, sizeof q, json_string_value(name), json_string_length(name));
        if (strlen(out) + strlen(q) + 8 < outlen) {
            if (missing)
                strcat(out, ", ");
            strcat(out, q);
        } else if (!strstr(out, "..."))
            strcat(out, ", ...");
        missing++;
    }
    return missing;
}

static bool s_object(cc_seval_t *e, const cc_skw_t *kw, const json_t *inst, bool report)
{
    char list[400];
    if (kw->kind == CC_K_REQUIRED) {
        size_t m = s_missing(inst, kw->value, list, sizeof list);
        if (m)
            cc_seval_fail(e, report, kw, "missing required propert%s %s", m == 1 ? "y" : "ies",
                          list);
        return m == 0;
    }
    if (kw->kind != CC_K_DEPREQUIRED && kw->kind != CC_K_DEPENDENCIES)
        return s_count(e, kw, json_object_size(inst), report);
    bool valid = true;
    for (void *it = json_object_iter((json_t *) kw->value); it;
         it = json_object_iter_next((json_t *) kw->value, it)) {
        const char *k = json_object_iter_key(it);
        size_t klen = json_object_iter_key_len(it);
        const json_t *names = json_object_iter_value(it);
        if (!json_is_array(names) || !json_object_getn(inst, k, klen) ||
            !s_missing(inst, names, list, sizeof list))
            continue;
        char q[96];
        cc_seval_quote(q, sizeof q, k, klen);
        cc_seval_fail(e, report, kw, "property %s requires %s", q, list);
        valid = false;
        if (!cc_seval_reporting(e, report))
            break;
    }
    return valid;
}

static bool s_array(cc_seval_t *e, const cc_skw_t *kw, const json_t *inst, bool report)
{
    if (kw->kind != CC_K_UNIQUE)
        return s_count(e, kw, json_array_size(inst), report);
    size_t i = 0, j = 0;
    int r = cc_schema_unique(inst, &i, &j);
    e->steps += json_array_size(inst) / 16;
    if (r < 0) {
        cc_seval_abort(e, kw->name, "uniqueItems: out of memory or items nested too deeply");
        return false;
    }
    if (r == 0)
        cc_seval_fail(e, report, kw, "must not contain duplicate items (items %zu and %zu are "
                      "equal)", i, j);
    return r == 1;
}

bool cc_seval_kw_check(cc_seval_t *e, const cc_skw_t *kw, const json_t *inst, bool report)
{
    switch (kw->kind) {
    case CC_K_TYPE:
        return s_type(e, kw, inst, report);
    case CC_K_ENUM:
        return s_enum(e, kw, inst, report);
    case CC_K_CONST:
        return s_const(e, kw, inst, report);
    case CC_K_MULTIPLEOF:
    case CC_K_MAXIMUM:
    case CC_K_EXMAXIMUM:
    case CC_K_MINIMUM:
    case CC_K_EXMINIMUM:
        return !json_is_number(inst) || s_number(e, kw, inst, report);
    case CC_K_MAXLENGTH:
    case CC_K_MINLENGTH:
    case CC_K_PATTERN:
    case CC_K_FORMAT:
        return !json_is_string(inst) || s_string(e, kw, inst, report);
    case CC_K_MAXITEMS:
    case CC_K_MINITEMS:
    case CC_K_UNIQUE:
        return !json_is_array(inst) || s_array(e, kw, inst, report);
    case CC_K_MAXPROPS:
    case CC_K_MINPROPS:
    case CC_K_REQUIRED:
    case CC_K_DEPREQUIRED:
    case CC_K_DEPENDENCIES:
        return !json_is_object(inst) || s_object(e, kw, inst, report);
    default:
        return true;
    }
}
