/* cc_findings.c — the findings of one compilation: recorded once each, sorted into document
 * order at the end, capped; also cancellation polling. Owns ctx->found until it is moved out. */
#include "cc_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Findings held before sorting: the kept ones plus headroom, so a flood cannot grow memory. */
#define S_HOLD_EXTRA 4096

bool cc_cancelled(cc_ctx_t *ctx)
{
    if (!ctx->cancelled && ctx->opts->cancel && *ctx->opts->cancel)
        ctx->cancelled = true;
    return ctx->cancelled || ctx->oom || ctx->retry;
}

bool cc_step(cc_ctx_t *ctx)
{
    if (++ctx->steps % CC_POLL_EVERY == 0)
        return cc_cancelled(ctx);
    return ctx->cancelled || ctx->oom;
}

static char *s_location(const cc_ctx_t *ctx, size_t spec, int line, int column)
{
    if (spec == CC_NO_SPEC || spec >= ctx->nspecs)
        return NULL;
    const char *file = ctx->specs[spec].file;
    if (line <= 0)
        return cc_strdup(file);
    return cc_aprintf("%s:%d:%d", file, line, column);
}

static bool s_seen(cc_ctx_t *ctx, const char *code, const char *loc, const char *msg)
{
    char *key = cc_aprintf("%s\x1f%s\x1f%s", code, loc ? loc : "", msg);
    if (!key) {
        ctx->oom = true;
        return true;
    }
    bool seen = cc_map_get(ctx->dedupe, key, strlen(key)) != NULL;
    if (!seen && cc_map_put(ctx->dedupe, key, strlen(key), ctx) < 0)
        ctx->oom = true;
    free(key);
    return seen;
}

static void s_record(cc_ctx_t *ctx, cc_severity_t sev, const char *code, size_t spec, int line,
                     int column, const cc_op_t *op, char *msg)
{
    char *loc = s_location(ctx, spec, line, column);
    bool full = ctx->nfound >= ctx->max_findings + S_HOLD_EXTRA;
    /* Past the cap nothing is remembered, not even for deduplication: a flood only counts. */
    if (!msg || (spec != CC_NO_SPEC && !loc) || (!full && s_seen(ctx, code, loc, msg))) {
        if (!msg || (spec != CC_NO_SPEC && !loc))
            ctx->oom = true;
        free(msg);
        free(loc);
        return;
    }
    if (sev == CC_SEV_ERROR)
        ctx->nerr++;
    else
        ctx->nwarn++;
    if (full) {
        ctx->ndropped++;
        free(msg);
        free(loc);
        return;
    }
    if (ctx->nfound == ctx->found_cap) {
        size_t cap = ctx->found_cap ? ctx->found_cap * 2 : 16;
        cc_found_t *p = realloc(ctx->found, cap * sizeof *p);
        if (!p) {
            ctx->oom = true;
            free(msg);
            free(loc);
            return;
        }
        ctx->found = p;
        ctx->found_cap = cap;
    }
    cc_found_t *f = &ctx->found[ctx->nfound++];
    memset(f, 0, sizeof *f);
    snprintf(f->f.code, sizeof f->f.code, "%s", code);
    f->f.severity = sev;
    f->f.message = msg;
    f->f.location = loc;
    f->f.operation = op && op->label ? cc_strdup(op->label) : NULL;
    if (op && op->label && !f->f.operation)
        ctx->oom = true;
    f->spec = spec;
    f->line = line;
    f->column = column;
    f->seq = ctx->seq++;
}

void cc_add(cc_ctx_t *ctx, cc_severity_t sev, const char *code, size_t spec,
            const cm_spec_node_t *at, const cc_op_t *op, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *msg = n < 0 ? NULL : malloc((size_t)n + 1);
    if (msg) {
        va_start(ap, fmt);
        vsnprintf(msg, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    int line = 0, column = 0;
    cm_spec_mark(at, &line, &column);
    s_record(ctx, sev, code, spec, line, column, op, msg);
}

void cc_add_at(cc_ctx_t *ctx, cc_severity_t sev, const char *code, size_t spec, int line,
               int column, const char *message)
{
    s_record(ctx, sev, code, spec, line, column, NULL, cc_strdup(message));
}

static int s_found_cmp(const void *pa, const void *pb)
{
    const cc_found_t *a = pa, *b = pb;
    if (a->spec != b->spec)
        return a->spec < b->spec ? -1 : 1;
    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    if (a->column != b->column)
        return a->column < b->column ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void s_finding_free(cc_finding_t *f)
{
    free(f->message);
    free(f->location);
    free(f->operation);
}

void cc_findings_finish(cc_ctx_t *ctx, cc_result_t *out)
{
    if (ctx->nfound)
        qsort(ctx->found, ctx->nfound, sizeof *ctx->found, s_found_cmp);
    size_t keep = ctx->nfound < ctx->max_findings ? ctx->nfound : ctx->max_findings;
    out->findings = keep ? calloc(keep, sizeof *out->findings) : NULL;
    if (keep && !out->findings) {
        keep = 0;
        ctx->oom = true;
    }
    for (size_t i = 0; i < ctx->nfound; i++) {
        if (i < keep)
            out->findings[i] = ctx->found[i].f;
        else
            s_finding_free(&ctx->found[i].f);
    }
    out->nfindings = keep;
    out->nerrors = ctx->nerr;
    out->nwarnings = ctx->nwarn;
    out->ndropped = ctx->ndropped + (ctx->nfound - keep);
    free(ctx->found);
    ctx->found = NULL;
    ctx->nfound = ctx->found_cap = 0;
}

void cc_findings_free(cc_ctx_t *ctx)
{
    for (size_t i = 0; i < ctx->nfound; i++)
        s_finding_free(&ctx->found[i].f);
    free(ctx->found);
    ctx->found = NULL;
    ctx->nfound = ctx->found_cap = 0;
    cc_map_destroy(&ctx->dedupe, NULL);
}
