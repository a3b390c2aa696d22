/* Configuration from flags with BARBACANE_* environment equivalents, described by one table
 * per binary. The table is read-only; values land in the caller's config struct. */
#ifndef CM_CONFIG_H
#define CM_CONFIG_H
#include <stdbool.h>
#include <stddef.h>

typedef enum { CM_OPT_STR, CM_OPT_INT, CM_OPT_BOOL } cm_opt_type_t;

typedef struct {
    const char *name;     /* flag without dashes, e.g. "http-port"; env is BARBACANE_HTTP_PORT */
    cm_opt_type_t type;
    const char *def;      /* default as text; NULL = empty */
    size_t offset;        /* offsetof(config, field): const char * / long / bool */
    const char *help;
    const char *alt_env;  /* an extra environment name (e.g. DATABASE_URL), or NULL */
} cm_opt_t;

/* Fills cfg from defaults, then the environment, then argv (later wins).
 * Returns 0 to go on, 1 when --help was printed (exit 0), -1 on a bad flag (message printed).
 * String values borrow argv/environ/default storage, which lives as long as the process. */
int cm_config_parse(const cm_opt_t *opts, size_t n, void *cfg, int argc, char **argv,
                    const char *summary);

#endif
