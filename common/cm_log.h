/* JSON-lines logging to stderr: one object per line with time, level, service, instance,
 * request id and message. Process-wide identity is set once at start (read-only afterwards). */
#ifndef CM_LOG_H
#define CM_LOG_H
#include <stdint.h>

typedef enum { CM_LOG_DEBUG, CM_LOG_INFO, CM_LOG_WARN, CM_LOG_ERROR } cm_log_level_t;

/* Sets the service and instance names (copied) and the minimum level. Call before threads start. */
void cm_log_init(const char *service, const char *instance, const char *level);
/* Logs one line; rid and op may be NULL. Thread-safe: each line is a single write(2). */
void cm_log(cm_log_level_t level, const char *rid, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void cm_log_op(cm_log_level_t level, const char *rid, const char *op, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A budget for a log line that hostile input can trigger at will: at most burst lines per
 * window; when a window ends with lines dropped, the next line logged says how many. Each
 * budget belongs to one thread (no locking). */
typedef struct {
    int64_t window_end;
    int used, dropped, burst, window_ms;
} cm_ratelimit_t;
#define CM_RATELIMIT(burst, window_ms) { 0, 0, 0, (burst), (window_ms) }
void cm_log_limited(cm_ratelimit_t *rl, cm_log_level_t level, const char *rid, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

#define cm_info(...)  cm_log(CM_LOG_INFO, NULL, __VA_ARGS__)
#define cm_warn(...)  cm_log(CM_LOG_WARN, NULL, __VA_ARGS__)
#define cm_error(...) cm_log(CM_LOG_ERROR, NULL, __VA_ARGS__)
#define cm_debug(...) cm_log(CM_LOG_DEBUG, NULL, __VA_ARGS__)

#endif
