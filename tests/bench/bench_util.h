/*  bench_util.h — what the C benchmarks share: a growing text buffer for generated documents,
 *  clocks in milliseconds, and the libyaml event-only parse every figure is compared with.
 *  Header-only, static. Aborts on OOM (a benchmark has nothing to recover). */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <yaml.h>

typedef struct {
    char *data;
    size_t len, cap;
} s_buf_t;

static void s_put(s_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3), unused));

/* Appends printf-formatted text. */
static void s_put(s_buf_t *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            abort();
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap * 2 + (size_t)n + 1;
        b->data = realloc(b->data, b->cap);
        if (!b->data)
            abort();
    }
}

static inline double s_clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Wall time, and CPU time of this thread: on a machine shared with other work the CPU
 * figures are the steadier ones. */
static inline double s_now(void)
{
    return s_clock(CLOCK_MONOTONIC);
}

static inline double s_cpu(void)
{
    return s_clock(CLOCK_THREAD_CPUTIME_ID);
}

/* Parses doc to libyaml events and drops them: wall ms returned, CPU ms and the event count
 * in *cpu and *events (either may be NULL). Exits when the document is not YAML. */
static inline double s_events_only(const s_buf_t *doc, double *cpu, size_t *events)
{
    double t0 = s_now(), c0 = s_cpu();
    yaml_parser_t parser;
    yaml_event_t ev;
    size_t count = 0;
    if (!yaml_parser_initialize(&parser))
        abort();
    yaml_parser_set_input_string(&parser, (const unsigned char *)doc->data, doc->len);
    for (bool done = false; !done; count++) {
        if (!yaml_parser_parse(&parser, &ev)) {
            fprintf(stderr, "libyaml: %s\n", parser.problem);
            exit(2);
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    if (cpu)
        *cpu = s_cpu() - c0;
    if (events)
        *events = count;
    return s_now() - t0;
}

#endif
