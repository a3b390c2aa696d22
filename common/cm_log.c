/* JSON-lines logging to stderr. Owns the process's log identity (service, instance, level),
 * written once by cm_log_init before any thread starts and only read afterwards. */
#include "cm_log.h"
#include "cm_util.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char s_service[64] = "barbacane";
static char s_instance[64] = "";
static cm_log_level_t s_min = CM_LOG_INFO;
static const char *s_names[] = { "debug", "info", "warn", "error" };

void cm_log_init(const char *service, const char *instance, const char *level)
{
    snprintf(s_service, sizeof s_service, "%s", service ? service : "barbacane");
    snprintf(s_instance, sizeof s_instance, "%s", instance ? instance : "");
    for (int i = 0; level && i < 4; i++)
        if (strcmp(level, s_names[i]) == 0)
            s_min = (cm_log_level_t) i;
}

/* Appends s to buf as JSON string content, never past cap. */
static size_t s_escape(char *buf, size_t at, size_t cap, const char *s)
{
    for (; s && *s && at + 7 < cap; s++) {
        unsigned char c = (unsigned char) *s;
        if (c == '"' || c == '\\') {
            buf[at++] = '\\';
            buf[at++] = (char) c;
        } else if (c < 0x20) {
            at += (size_t) snprintf(buf + at, cap - at, "\\u%04x", c);
        } else {
            buf[at++] = (char) c;
        }
    }
    return at;
}

static size_t s_field(char *buf, size_t at, size_t cap, const char *key, const char *val)
{
    if (!val || at + 16 > cap)
        return at;
    at += (size_t) snprintf(buf + at, cap - at, ",\"%s\":\"", key);
    at = s_escape(buf, at, cap - 2, val);
    buf[at++] = '"';
    return at;
}

static void s_vlog(cm_log_level_t level, const char *rid, const char *op, const char *fmt, va_list ap)
{
    if (level < s_min)
        return;
    char msg[2048], line[4096], ts[CM_TIME_LEN + 1];
    vsnprintf(msg, sizeof msg, fmt, ap);
    cm_time_rfc3339(ts);
    size_t at = (size_t) snprintf(line, sizeof line, "{\"ts\":\"%s\",\"level\":\"%s\"", ts,
                                  s_names[level]);
    at = s_field(line, at, sizeof line, "service", s_service);
    at = s_field(line, at, sizeof line, "instance", s_instance[0] ? s_instance : NULL);
    at = s_field(line, at, sizeof line, "rid", rid);
    at = s_field(line, at, sizeof line, "op", op);
    at = s_field(line, at, sizeof line - 3, "msg", msg);
    line[at++] = '}';
    line[at++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, at);
    (void) ignored;
}

void cm_log(cm_log_level_t level, const char *rid, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vlog(level, rid, NULL, fmt, ap);
    va_end(ap);
}

void cm_log_op(cm_log_level_t level, const char *rid, const char *op, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vlog(level, rid, op, fmt, ap);
    va_end(ap);
}

void cm_log_limited(cm_ratelimit_t *rl, cm_log_level_t level, const char *rid, const char *fmt,
                    ...)
{
    int64_t now = cm_mono_ms();
    if (now >= rl->window_end) {
        if (rl->dropped > 0)
            cm_log(level, NULL, "%d similar log lines were suppressed in the last %d ms",
                   rl->dropped, rl->window_ms);
        rl->window_end = now + rl->window_ms;
        rl->used = rl->dropped = 0;
    }
    if (rl->used >= rl->burst) {
        rl->dropped++;
        return;
    }
    rl->used++;
    va_list ap;
    va_start(ap, fmt);
    s_vlog(level, rid, NULL, fmt, ap);
    va_end(ap);
}
