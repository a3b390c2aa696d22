/* Configuration from flags with BARBACANE_* environment equivalents.
 * Owns nothing: values are written into the caller's struct through the option table. */
#include "cm_config.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_env_name(const char *name, char *out, size_t cap)
{
    size_t at = (size_t) snprintf(out, cap, "BARBACANE_");
    for (; *name && at + 1 < cap; name++)
        out[at++] = *name == '-' ? '_' : (char) toupper((unsigned char) *name);
    out[at] = '\0';
}

static int s_set(const cm_opt_t *o, void *cfg, const char *val, const char *from)
{
    char *field = (char *) cfg + o->offset;
    if (o->type == CM_OPT_STR) {
        *(const char **) field = val ? val : "";
        return 0;
    }
    if (o->type == CM_OPT_BOOL) {
        bool on = !val || !*val || strcmp(val, "1") == 0 || strcmp(val, "true") == 0
                  || strcmp(val, "yes") == 0;
        bool off = val && (strcmp(val, "0") == 0 || strcmp(val, "false") == 0
                           || strcmp(val, "no") == 0);
        if (!on && !off) {
            fprintf(stderr, "%s: %s expects true or false, got '%s'\n", from, o->name, val);
            return -1;
        }
        *(bool *) field = on;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    long v = strtol(val ? val : "", &end, 10);
    if (!val || !*val || *end || errno) {
        fprintf(stderr, "%s: %s expects an integer, got '%s'\n", from, o->name, val ? val : "");
        return -1;
    }
    *(long *) field = v;
    return 0;
}

static void s_help(const cm_opt_t *opts, size_t n, const char *prog, const char *summary)
{
    printf("%s — %s\n\nUsage: %s [--flag=value ...]\n\n", prog, summary, prog);
    printf("%-22s %-30s %-22s %s\n", "flag", "environment", "default", "meaning");
    for (size_t i = 0; i < n; i++) {
        char env[96];
        s_env_name(opts[i].name, env, sizeof env);
        if (opts[i].alt_env)
            snprintf(env + strlen(env), sizeof env - strlen(env), "|%s", opts[i].alt_env);
        printf("--%-20s %-30s %-22s %s\n", opts[i].name, env,
               opts[i].def ? (*opts[i].def ? opts[i].def : "\"\"") : "-", opts[i].help);
    }
}

static const cm_opt_t *s_find(const cm_opt_t *opts, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
            return &opts[i];
    return NULL;
}

static int s_defaults_and_env(const cm_opt_t *opts, size_t n, void *cfg)
{
    for (size_t i = 0; i < n; i++) {
        char env[96];
        s_env_name(opts[i].name, env, sizeof env);
        const char *val = getenv(env);
        if (!val && opts[i].alt_env)
            val = getenv(opts[i].alt_env);
        const char *def = opts[i].def ? opts[i].def : (opts[i].type == CM_OPT_BOOL ? "false" : "");
        if (s_set(&opts[i], cfg, def, "default") != 0)
            return -1;
        if (val && s_set(&opts[i], cfg, val, env) != 0)
            return -1;
    }
    return 0;
}

int cm_config_parse(const cm_opt_t *opts, size_t n, void *cfg, int argc, char **argv,
                    const char *summary)
{
    if (s_defaults_and_env(opts, n, cfg) != 0)
        return -1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            s_help(opts, n, argv[0], summary);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", argv[0], arg);
            return -1;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        const cm_opt_t *o = s_find(opts, n, name, eq ? (size_t) (eq - name) : strlen(name));
        if (!o) {
            fprintf(stderr, "%s: unknown flag '%s' (see --help)\n", argv[0], arg);
            return -1;
        }
        const char *val = eq ? eq + 1 : NULL;
        if (!val && o->type != CM_OPT_BOOL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: %s needs a value\n", argv[0], arg);
                return -1;
            }
            val = argv[++i];
        }
        if (s_set(o, cfg, val, "flag") != 0)
            return -1;
    }
    return 0;
}
