/* cc_schema_eval.c — evaluation of a compiled schema: nodes, the applicator keywords, the
 * annotations unevaluated* read, the dynamic scope, error reports and the limits. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_schema_int.h"

/* ------------------------------------------------------------------ locations */

static void s_ipush_key(cc_seval_t *e, const char *k, size_t len)
{
    e->iseg[e->ni++] = (cc_sseg_t) { k, len, 0, false };
}

static void s_ipush_idx(cc_seval_t *e, size_t idx)
{
    e->iseg[e->ni++] = (cc_sseg_t) { NULL, 0, idx, true };
}

static void s_kpush(cc_seval_t *e, const char *s, size_t len)
{
    if (e->nk < e->capk)
        e->kseg[e->nk] = (cc_sseg_t) { s, len, 0, false };
    e->nk++;
}

static void s_kpush_idx(cc_seval_t *e, size_t idx)
{
    if (e->nk < e->capk)
        e->kseg[e->nk] = (cc_sseg_t) { NULL, 0, idx, true };
    e->nk++;
}

/* RFC 6901 text of segs, plus last when given; truncated to fit out. */
static void s_pointer(const cc_sseg_t *segs, size_t n, const char *last, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i <= n && o + 8 < outlen; i++) {
        char num[24];
        const char *s = i < n ? segs[i].s : last;
        size_t len = i < n ? segs[i].len : last ? strlen(last) : 0;
        if (i == n && !last)
            break;
        if (i < n && segs[i].is_idx) {
            len = (size_t) snprintf(num, sizeof num, "%zu", segs[i].idx);
            s = num;
        }
        out[o++] = '/';
        for (size_t k = 0; k < len && o + 3 < outlen; k++) {
            if (s[k] == '~' || s[k] == '/') {
                out[o++] = '~';
                out[o++] = s[k] == '~' ? '0' : '1';
            } else
                out[o++] = s[k] ? s[k] : '?';
        }
    }
    out[o] = '\0';
}

/* ------------------------------------------------------------------ reports */

bool cc_seval_reporting(const cc_seval_t *e, bool report)
{
    return report && e->fn && (size_t) e->nerr < e->max_errors && !e->abort;
}

static void s_emit(cc_seval_t *e, const char *kwname, const char *fmt, va_list ap)
{
    char iptr[1024], kptr[1024], msg[512];
    s_pointer(e->iseg, e->ni, NULL, iptr, sizeof iptr);
    s_pointer(e->kseg, e->nk < e->capk ? e->nk : e->capk, kwname && *kwname ? kwname : NULL,
              kptr, sizeof kptr);
    vsnprintf(msg, sizeof msg, fmt, ap);
    e->fn(e->arg, iptr, kptr, msg);
}

static void s_vfail(cc_seval_t *e, bool report, const char *kwname, const char *fmt, va_list ap)
{
    if (!cc_seval_reporting(e, report))
        return;
    s_emit(e, kwname, fmt, ap);
    e->nerr++;
}

void cc_seval_fail(cc_seval_t *e, bool report, const cc_skw_t *kw, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vfail(e, report, kw ? kw->name : NULL, fmt, ap);
    va_end(ap);
}

/* A failure reported under another keyword name than kw's (minContains for contains). */
static void s_fail_at(cc_seval_t *e, bool report, const char *kwname, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void s_fail_at(cc_seval_t *e, bool report, const char *kwname, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vfail(e, report, kwname, fmt, ap);
    va_end(ap);
}

void cc_seval_abort(cc_seval_t *e, const char *kwname, const char *fmt, ...)
{
    if (e->abort)
        return;
    e->abort = true;
    if (!e->fn)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (e->iseg && e->kseg)
        s_emit(e, kwname, fmt, ap);
    else {
        char msg[512];
        vsnprintf(msg, sizeof msg, fmt, ap);
        e->fn(e->arg, "", "", msg);
    }
    va_end(ap);
}

void cc_seval_quote(char *out, size_t outlen, const char *s, size_t len)
{
    size_t o = 0, max = outlen > 8 ? outlen - 6 : 0, cut = len > 60 ? 60 : len;
    while (cut < len && cut > 0 && ((unsigned char) s[cut] & 0xC0) == 0x80)
        cut--;   /* never split a UTF-8 sequence */
    out[o++] = '"';
    for (size_t i = 0; i < cut && o < max; i++)
        out[o++] = (unsigned char) s[i] < 32 || s[i] == '"' ? '?' : s[i];
    if (cut < len)
        o += (size_t) snprintf(out + o, outlen - o, "...");
    out[o++] = '"';
    out[o] = '\0';
}

/* The false schema: what it rejects reads best as the member or item it sits on. */
static void s_false(cc_seval_t *e, bool report)
{
    if (!cc_seval_reporting(e, report))
        return;
    const cc_sseg_t *last = e->ni ? &e->iseg[e->ni - 1] : NULL;
    char q[96];
    if (last && !last->is_idx) {
        cc_seval_quote(q, sizeof q, last->s, last->len);
        s_fail_at(e, report, NULL, "property %s is not allowed", q);
    } else if (last)
        s_fail_at(e, report, NULL, "item %zu is not allowed", last->idx);
    else
        s_fail_at(e, report, NULL, "no value is allowed here (the schema is false)");
}

/* ------------------------------------------------------------------ annotations */

static bool s_ann_init(cc_sann_t *a, const json_t *inst)
{
    a->n = json_is_object(inst) ? json_object_size(inst) : json_array_size(inst);
    a->w = a->n ? calloc((a->n + 63) / 64, sizeof *a->w) : NULL;
    return !a->n || a->w;
}

static void s_mark(cc_sann_t *a, size_t i)
{
    if (a && i < a->n)
        a->w[i / 64] |= 1ull << (i % 64);
}

static bool s_marked(const cc_sann_t *a, size_t i)
{
    return i < a->n && (a->w[i / 64] >> (i % 64)) & 1;
}

static void s_ann_merge(cc_sann_t *into, const cc_sann_t *from)
{
    for (size_t i = 0; i < (into->n + 63) / 64 && into->n == from->n; i++)
        into->w[i] |= from->w[i];
}

/* ------------------------------------------------------------------ in-place applicators */

static bool s_child(cc_seval_t *e, const cc_skw_t *kw, const cc_snode_t *sub, const json_t *inst,
                    bool report, cc_sann_t *ann)
{
    size_t nk = e->nk;
    s_kpush(e, kw->name, strlen(kw->name));
    bool ok = cc_seval_node(e, sub, inst, report, ann);
    e->nk = nk;
    return ok;
}

static const cc_snode_t *s_dynamic_target(const cc_seval_t *e, const cc_skw_t *kw)
{
    for (size_t s = 0; s < e->nscope; s++)   /* outermost first */
        for (size_t c = 0; c < kw->ncand; c++)
            if (kw->cand_res[c] == e->scope[s])
                return kw->cand_node[c];
    return kw->sub;
}

static bool s_ref(cc_seval_t *e, const cc_skw_t *kw, const json_t *inst, bool report,
                  cc_sann_t *ann)
{
    const cc_snode_t *t = kw->kind == CC_K_DYNREF && kw->dyn_name ? s_dynamic_target(e, kw) : kw->sub;
    /* The frames of this instance are the top of the stack: re-entering one of them here
     * would repeat itself forever. */
    for (size_t d = e->depth; d-- > 0 && e->finst[d] == inst;)
        if (e->fnode[d] == t) {
            cc_seval_abort(e, kw->name, "reference cycle: %s re-enters a schema at the same "
                           "instance location without progress", kw->name);
            return false;
        }
    return s_child(e, kw, t, inst, report, ann);
}

static bool s_list(cc_seval_t *e, const cc_skw_t *kw, const json_t *inst, bool report,
                   cc_sann_t *ann)
{
    size_t nk = e->nk, count = 0, first = 0, second = 0;
    bool all = true, inner = kw->kind == CC_K_ALLOF ? report : false;
    s_kpush(e, kw->name, strlen(kw->name));
    for (size_t i = 0; i < kw->n && !e->abort; i++) {
        s_kpush_idx(e, i);
        bool ok = cc_seval_node(e, kw->subs[i], inst, inner, ann);
        e->nk = nk + 1;
        if (ok && count++ == 0)
            first = i;
        else if (ok && count == 2)
            second = i;
        all = all && ok;
        if (kw->kind == CC_K_ALLOF && !ok && !cc_seval_reporting(e, report))
            break;
        if ((kw->kind == CC_K_ANYOF && ok && !ann) || (kw->kind == CC_K_ONEOF && count > 1))
            break;
    }
    e->nk = nk;
    if (e->abort)
        return false;
    if (kw->kind == CC_K_ALLOF)
        return all;
    if (kw->kind == CC_K_ANYOF && count == 0)
        cc_seval_fail(e, report, kw, "must match at least one of the anyOf schemas");
    if (kw->kind == CC_K_ONEOF && count == 0)
        cc_seval_fail(e, report, kw, "must match exactly one of the oneOf schemas (it matches none)");
    if (kw->kind == CC_K_ONEOF && count > 1)
        cc_seval_fail(e, report, kw, "must match exactly one of the oneOf schemas (it matches "
                      "%zu and %zu)", first, second);
    return kw->kind == CC_K_ANYOF ? count > 0 : count == 1;
}

static bool s_if(cc_seval_t *e, const cc_skw_t *kw, const json_t *inst, bool report, cc_sann_t *ann)
{
    bool cond = s_child(e, kw, kw->sub, inst, false, ann);
    if (e->abort)
        return false;
    const cc_snode_t *next = cond ? kw->then_ : kw->else_;
    if (!next)
        return true;
    size_t nk = e->nk;
    s_kpush(e, cond ? "then" : "else", 4);
    bool ok = cc_seval_node(e, next, inst, report, ann);
    e->nk = nk;
    return ok;
}

static bool s_dep_schemas(cc_seval_t *e, const cc_skw_t *kw, const json_t *inst, bool report,
                          cc_sann_t *ann)
{
    bool valid = true;
    size_t nk = e->nk;
    for (size_t i = 0; i < kw->n && !e->abort; i++) {
        if (!json_object_getn(inst, kw->names[i], kw->name_lens[i]))
            continue;
        s_kpush(e, kw->name, strlen(kw->name));
        s_kpush(e, kw->names[i], kw->name_lens[i]);
        valid = cc_seval_node(e, kw->subs[i], inst, report, ann) && valid;
        e->nk = nk;
        if (!valid && !cc_seval_reporting(e, report))
            break;
    }
    return valid && !e->abort;
}

/* ------------------------------------------------------------------ arrays */

/* Applies sub to item i (with the evaluation path extended by idx when it is given). */
static bool s_item(cc_seval_t *e, const cc_skw_t *kw, const cc_snode_t *sub, const json_t *inst,
                   size_t i, const size_t *idx, bool report)
{
    size_t nk = e->nk;
    s_kpush(e, kw->name, strlen(kw->name));
    if (idx)
        s_kpush_idx(e, *idx);
    s_ipush_idx(e, i);
    bool ok = cc_seval_node(e, sub, json_array_get(inst, i), report, NULL);
    e->ni--;
    e->nk = nk;
    return ok;
}

static bool s_items(cc_seval_t *e, const cc_skw_t *kw, const json_t *inst, bool report,
                    cc_sann_t *ann)
{
    size_t n = json_array_size(inst);
    bool valid = true;
    size_t from = kw->kind == CC_K_ITEMS ? kw->lim : 0;
    size_t to = kw->kind == CC_K_PREFIXITEMS && kw->n < n ? kw->n : n;
    for (size_t i = from; i < to && !e->abort; i++) {
        if (kw->kind == CC_K_UNEVAL_ITEMS && s_marked(ann, i))
            continue;
        const cc_snode_t *sub = kw->kind == CC_K_PREFIXITEMS ? kw->subs[i] : kw->sub;
        bool ok = s_item(e, kw, sub, inst, i, kw->kind == CC_K_PREFIXITEMS ? &i : NULL, report);
        s_mark(ann, i);
        valid = valid && ok;
        if (!ok && !cc_seval_reporting(e, report))
            break;
    }
    return valid && !e->abort;
}

static bool s_contains(cc_seval_t *e, const cc_skw_t *kw, const json_t *inst, bool report,
                       cc_sann_t *ann)
{
    size_t n = json_array_size(inst), found = 0;
    for (size_t i = 0; i < n && !e->abort; i++) {
        if (s_item(e, kw, kw->sub, inst, i, NULL, false)) {
            found++;
            s_mark(ann, i);
        }
        if (!ann && !kw->has_lim2 && found >= kw->lim)
            break;   /* enough: nobody needs the other matches */
    }
    if (e->abort)
        return false;
    if (found < kw->lim) {
        s_fail_at(e, report, kw->has_lim ? "minContains" : "contains",
                  "must contain at least %zu item%s matching the contains schema (found %zu)",
                  kw->lim, kw->lim == 1 ? "" : "s", found);
        return false;
    }
    if (kw->has_lim2 && found > kw->lim2) {
        s_fail_at(e, report, "maxContains",
                  "must contain at most %zu item%s matching the contains schema (found %zu)",
                  kw->lim2, kw->lim2 == 1 ? "" : "s", found);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ objects */

static const cc_snode_t *s_named(const cc_skw_t *kw, const char *k, size_t len, size_t *at)
{
    size_t lo = 0, hi = kw ? kw->n : 0;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2, ml = kw->name_lens[mid];
        int c = memcmp(k, kw->names[mid], len < ml ? len : ml);
        if (!c)
            c = len < ml ? -1 : len > ml;
        if (!c) {
            *at = mid;
            return kw->subs[mid];
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* Applies sub to the member k: v; the evaluation path gets sub_name after the keyword (the
 * property name or the pattern) when it is given. */
static bool s_member(cc_seval_t *e, const cc_skw_t *kw, const cc_snode_t *sub, const char *sub_name,
                     size_t sub_len, const char *k, size_t len, const json_t *v, bool report)
{
    size_t nk = e->nk;
    s_kpush(e, kw->name, strlen(kw->name));
    if (sub_name)
        s_kpush(e, sub_name, sub_len);
    s_ipush_key(e, k, len);
    bool ok = cc_seval_node(e, sub, v, report, NULL);
    e->ni--;
    e->nk = nk;
    return ok;
}

/* 1: some pattern of kw matches k; 0: none; -1: the regex limit stopped it. */
static int s_pattern_hit(cc_seval_t *e, const cc_skw_t *kw, const char *k, size_t len, size_t *at)
{
    for (size_t j = 0; kw && j < kw->n; j++) {
        int m = cc_seval_regex(e, kw->re[j], kw->name, k, len);
        if (m != 0) {
            *at = j;
            return m;
        }
    }
    return 0;
}

/* One member for properties / patternProperties / additionalProperties / unevaluated. */
static bool s_one_member(cc_seval_t *e, const cc_skw_t *kw, const char *k, size_t len,
                         const json_t *v, size_t i, bool report, cc_sann_t *ann)
{
    size_t at = 0;
    bool ok = true, hit = false;
    if (kw->kind == CC_K_PROPERTIES) {
        const cc_snode_t *sub = s_named(kw, k, len, &at);
        if ((hit = sub != NULL))
            ok = s_member(e, kw, sub, k, len, k, len, v, report);
    } else if (kw->kind == CC_K_PATTERNPROPS) {
        for (size_t j = 0; j < kw->n && !e->abort; j++) {
            if (cc_seval_regex(e, kw->re[j], kw->name, k, len) != 1)
                continue;
            hit = true;
            ok = s_member(e, kw, kw->subs[j], kw->names[j], kw->name_lens[j], k, len, v, report) && ok;
            if (!ok && !cc_seval_reporting(e, report))
                break;
        }
    } else if (kw->kind == CC_K_ADDPROPS) {
        if (!s_named(kw->props, k, len, &at) && s_pattern_hit(e, kw->pats, k, len, &at) == 0 &&
            !e->abort) {
            hit = true;
            ok = s_member(e, kw, kw->sub, NULL, 0, k, len, v, report);
        }
    } else if (!s_marked(ann, i)) {
        hit = true;
        ok = s_member(e, kw, kw->sub, NULL, 0, k, len, v, report);
    }
    if (hit)
        s_mark(ann, i);
    return ok && !e->abort;
}

static bool s_members(cc_seval_t *e, const cc_skw_t *kw, const json_t *inst, bool report,
                      cc_sann_t *ann)
{
    bool valid = true;
    size_t i = 0;
    for (void *it = json_object_iter((json_t *) inst); it && !e->abort;
         it = json_object_iter_next((json_t *) inst, it), i++) {
        bool ok = s_one_member(e, kw, json_object_iter_key(it), json_object_iter_key_len(it),
                               json_object_iter_value(it), i, report, ann);
        valid = valid && ok;
        if (!ok && !cc_seval_reporting(e, report))
            break;
    }
    return valid && !e->abort;
}

static bool s_prop_names(cc_seval_t *e, const cc_skw_t *kw, const json_t *inst, bool report)
{
    size_t bad = 0;
    char q[96] = "";
    for (void *it = json_object_iter((json_t *) inst); it && !e->abort;
         it = json_object_iter_next((json_t *) inst, it)) {
        const char *k = json_object_iter_key(it);
        size_t len = json_object_iter_key_len(it);
        json_t *name = json_stringn(k, len);
        if (!name) {
            cc_seval_abort(e, kw->name, "out of memory");
            break;
        }
        bool ok = s_child(e, kw, kw->sub, name, false, NULL);
        json_decref(name);
        if (!ok && bad++ == 0)
            cc_seval_quote(q, sizeof q, k, len);
        if (!ok && !cc_seval_reporting(e, report))
            break;
    }
    if (e->abort)
        return false;
    if (bad == 1)
        cc_seval_fail(e, report, kw, "property name %s does not match the propertyNames schema", q);
    else if (bad > 1)
        cc_seval_fail(e, report, kw, "property names %s and %zu more do not match the "
                      "propertyNames schema", q, bad - 1);
    return bad == 0;
}

/* ------------------------------------------------------------------ nodes */

static bool s_keyword(cc_seval_t *e, const cc_skw_t *kw, const json_t *inst, bool report,
                      cc_sann_t *ann)
{
    bool arr = json_is_array(inst), obj = json_is_object(inst);
    switch (kw->kind) {
    case CC_K_REF:
    case CC_K_DYNREF:
        return s_ref(e, kw, inst, report, ann);
    case CC_K_ALLOF:
    case CC_K_ANYOF:
    case CC_K_ONEOF:
        return s_list(e, kw, inst, report, ann);
    case CC_K_NOT:
        if (!s_child(e, kw, kw->sub, inst, false, NULL) && !e->abort)
            return true;
        cc_seval_fail(e, report, kw, "must not match the schema in \"not\"");
        return false;
    case CC_K_IF:
        return s_if(e, kw, inst, report, ann);
    case CC_K_DEPSCHEMAS:
        return !obj || s_dep_schemas(e, kw, inst, report, ann);
    case CC_K_DEPENDENCIES: {
        bool ok = !obj || s_dep_schemas(e, kw, inst, report, ann);
        if (!ok && !cc_seval_reporting(e, report))
            return false;
        return cc_seval_kw_check(e, kw, inst, report) && ok;
    }
    case CC_K_PREFIXITEMS:
    case CC_K_ITEMS:
    case CC_K_UNEVAL_ITEMS:
        return !arr || s_items(e, kw, inst, report, ann);
    case CC_K_CONTAINS:
        return !arr || s_contains(e, kw, inst, report, ann);
    case CC_K_PROPERTIES:
    case CC_K_PATTERNPROPS:
    case CC_K_ADDPROPS:
    case CC_K_UNEVAL_PROPS:
        return !obj || s_members(e, kw, inst, report, ann);
    case CC_K_PROPNAMES:
        return !obj || s_prop_names(e, kw, inst, report);
    default:
        return cc_seval_kw_check(e, kw, inst, report);
    }
}

static bool s_enter(cc_seval_t *e, const cc_snode_t *n, const json_t *inst)
{
    if (e->depth >= e->max_depth) {
        cc_seval_abort(e, NULL, "evaluation deeper than %zu levels", e->max_depth);
        return false;
    }
    e->fnode[e->depth] = n;
    e->finst[e->depth++] = inst;
    return true;
}

bool cc_seval_node(cc_seval_t *e, const cc_snode_t *n, const json_t *inst, bool report,
                   cc_sann_t *ann)
{
    if (e->abort)
        return false;
    if (n->boolean >= 0) {
        if (!n->boolean)
            s_false(e, report);
        return n->boolean == 1;
    }
    if (!s_enter(e, n, inst))
        return false;
    bool pushed = !e->nscope || e->scope[e->nscope - 1] != n->res;
    if (pushed)
        e->scope[e->nscope++] = n->res;
    cc_sann_t local = { 0, NULL };
    bool want = (ann || n->has_uneval) && (json_is_object(inst) || json_is_array(inst));
    if (want && !s_ann_init(&local, inst))
        cc_seval_abort(e, NULL, "out of memory");
    bool valid = true;
    for (size_t k = 0; k < n->nkw && !e->abort; k++) {
        if (++e->steps > e->max_steps) {
            cc_seval_abort(e, n->kws[k].name, "more than %zu keyword evaluations", e->max_steps);
            break;
        }
        if (!s_keyword(e, &n->kws[k], inst, report, want ? &local : NULL)) {
            valid = false;
            if (!cc_seval_reporting(e, report))
                break;
        }
    }
    valid = valid && !e->abort;
    if (valid && ann && want)
        s_ann_merge(ann, &local);
    free(local.w);
    if (pushed)
        e->nscope--;
    e->depth--;
    return valid;
}
