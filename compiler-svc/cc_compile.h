/* The compiler: OpenAPI 3.0/3.1 and AsyncAPI 3 documents in, every finding (code, message,
 * location) and, when there is no error, the .bca artifact out. No ZeroMQ, no libpq: plugins
 * are looked up through a callback. Owns: everything a cc_result_t holds. */
#ifndef CC_COMPILE_H
#define CC_COMPILE_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "cc_bca.h"

/* One input document: the primary spec first, then additional specs in request order. */
typedef struct {
    const char *file;              /* stored file name (a sanitised basename) */
    const unsigned char *data;     /* the exact uploaded bytes */
    size_t len;
} cc_input_t;

/* A registered plugin version, filled by the lookup callback (malloc'd fields; the compiler
 * frees them with cc_plugin_clear). */
typedef struct {
    char *name, *version;
    char *plugin_type;             /* "dispatcher" or "middleware" */
    unsigned char *wasm;
    size_t wasm_len;
    char *config_schema;           /* the registry's config_schema JSON text ("{}" when none) */
    bool caps_from_manifest;       /* capabilities came from the module's barbacane_manifest */
    bool body_access;
    char **host_functions;
    size_t n_host_functions;
} cc_plugin_t;

void cc_plugin_clear(cc_plugin_t *p);

/* Looks up plugin name at version (NULL = the highest semantic version registered).
 * Returns 1 with *out filled, 0 when there is no such plugin (version), -1 when the lookup
 * itself failed (infrastructure: the compilation is failed as retryable, not as invalid).
 * The compiler asks once per plugin name: an artifact carries one version per name, so when
 * some reference pins name@version, every reference to name uses that version (two different
 * pins are E1022), and otherwise the highest. */
typedef int (cc_plugin_lookup_fn)(void *arg, const char *name, const char *version,
                                  cc_plugin_t *out);

typedef struct {
    int artifact_format;           /* 6 (also when 0) or 4 */
    bool production;               /* production checks (E1031) */
    size_t max_schema_depth;       /* E1051 limit, 0 = 32 */
    size_t max_schema_properties;  /* E1052 limit, 0 = 256 */
    bool format_assertion;         /* config_schema `format` asserts (else an annotation) */
    const char *compiled_at;       /* "YYYY-MM-DDTHH:MM:SSZ": the compilation's creation time */
    const char *compiler_version;
    const volatile int *cancel;    /* may be NULL; polled, non-zero stops with CC_CANCELLED */
    size_t max_findings;           /* findings kept, 0 = 1000 (the rest are counted) */
    const char *provenance_commit; /* manifest provenance, NULL = null */
    const char *provenance_source;
    bool check_only;               /* a dry run: findings and routes.json, no artifact */
} cc_options_t;

typedef enum { CC_SEV_ERROR, CC_SEV_WARNING } cc_severity_t;

typedef struct {
    char code[8];                  /* "E1020" */
    cc_severity_t severity;
    char *message;
    char *location;                /* "api.yaml:12:7", or NULL when there is none */
    char *operation;               /* "GET /users", or NULL */
} cc_finding_t;

typedef enum {
    CC_OK,                         /* no error: artifact is filled */
    CC_INVALID,                    /* at least one error finding */
    CC_RETRY,                      /* a plugin lookup failed (infrastructure): try again later */
    CC_CANCELLED,                  /* *opts->cancel became non-zero */
    CC_INTERNAL                    /* out of memory or a bug: reason says which */
} cc_status_t;

typedef struct {
    char *name, *version;
} cc_plugin_ref_t;

typedef struct {
    cc_status_t status;
    char reason[256];              /* for CC_RETRY, CC_CANCELLED and CC_INTERNAL */
    cc_finding_t *findings;        /* errors and warnings in document order (file, line, column) */
    size_t nfindings;              /* kept: at most opts->max_findings */
    size_t nerrors, nwarnings;     /* every finding, kept or not */
    size_t ndropped;               /* found but not kept */
    cc_bca_t artifact;             /* when CC_OK (and not check_only) */
    cc_plugin_ref_t *plugins;      /* bundled plugin versions (the artifact_plugins links) */
    size_t nplugins;
    size_t routes_count;
    char *routes_json;             /* the routes.json text, when CC_OK (NUL-terminated) */
    size_t routes_len;
} cc_result_t;

/* Compiles n documents (n >= 1). Always fills out (call cc_result_free afterwards) and
 * returns its status. Spec file names are made unique and short enough for the artifact
 * (api.yaml, api-2.yaml, ...); findings use those names. Thread-compatible: concurrent calls
 * share nothing (the lookup callback is called from the calling thread only). */
cc_status_t cc_compile(const cc_input_t *inputs, size_t n, const cc_options_t *opts,
                       cc_plugin_lookup_fn *lookup, void *arg, cc_result_t *out);
/* Frees everything r holds; safe on a zeroed or already freed result. */
void cc_result_free(cc_result_t *r);

/* The findings of one severity as a new JSON array of {code, message, location, operation}
 * (location and operation null when there is none). Caller owns it; NULL on OOM. */
json_t *cc_findings_json(const cc_result_t *r, cc_severity_t severity);

#endif
