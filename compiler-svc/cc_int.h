/* cc_int.h — the compiler's private types and the functions its cc_*.c files share.
 * Not for use outside compiler-svc/cc_*.c (callers use cc_compile.h). Owns nothing itself. */
#ifndef CC_INT_H
#define CC_INT_H
#include <jansson.h>
#include <locale.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cc_compile.h"
#include "cc_schema.h"
#include "cm_spec.h"

/* Every limit of the compiler in one place. */
#define CC_MAX_NEST 512                 /* recursion through values, aliases and $ref hops */
#define CC_MAX_CHAIN 64                 /* hops of one non-schema $ref chain */
#define CC_MAX_EMIT_NODES ((size_t)24 << 20)   /* schema and config nodes, all operations */
#define CC_MAX_ROUTES_BYTES ((size_t)128 << 20)
#define CC_MAX_LOAD_ISSUES 16           /* E1002 findings per document */
#define CC_MAX_CONFIG_ERRORS 32         /* E1023 findings per configuration */
#define CC_POLL_EVERY 4096              /* walk steps between two looks at opts->cancel */
#define CC_NO_SPEC SIZE_MAX             /* a finding about no document */
#define CC_SERDE_NESTING 127            /* containers serde_json reads nested (LOAD) */

/* ---------------------------------------------------------------- utilities (cc_util.c) */

typedef struct {
    char *data;
    size_t len, cap;
    bool failed;                        /* an allocation failed: contents are incomplete */
} cc_buf_t;

void cc_buf_add(cc_buf_t *b, const void *p, size_t n);
void cc_buf_str(cc_buf_t *b, const char *s);
void cc_buf_printf(cc_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cc_buf_free(cc_buf_t *b);

/* A hash map from byte strings to pointers; keys are copied. */
typedef struct cc_map cc_map_t;
cc_map_t *cc_map_new(void);
/* free_value (may be NULL) is called on every value. */
void cc_map_destroy(cc_map_t **self_p, void (*free_value)(void *));
void *cc_map_get(const cc_map_t *m, const void *key, size_t klen);
/* Inserts or replaces (the old value is not freed). 0, or -1 on OOM. */
int cc_map_put(cc_map_t *m, const void *key, size_t klen, void *value);
size_t cc_map_count(const cc_map_t *m);

char *cc_strdup(const char *s);
char *cc_strndup(const char *s, size_t n);
char *cc_aprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Indexes of map's pairs in bytewise key order (malloc'd, cm_spec_len entries); NULL when the
 * map is empty or on OOM. */
size_t *cc_sorted_keys(const cm_spec_node_t *map);
/* s quoted for a message: at most 64 bytes, cut on a character boundary. */
const char *cc_excerpt(char out[80], const char *s);
/* Unicode letter or digit (Rust char::is_alphanumeric), with loc a C.UTF-8 locale or 0. */
bool cc_is_alnum(locale_t loc, uint32_t cp);
/* Decodes one UTF-8 character at s (valid UTF-8); returns its length. */
size_t cc_utf8_next(const char *s, uint32_t *cp);
/* s without leading and trailing Unicode white space (Rust str::trim): start and length. */
const char *cc_trim(locale_t loc, const char *s, size_t *len);
bool cc_starts_with(const char *s, const char *prefix);

/* ---------------------------------------------------------------- model */

typedef enum {
    CC_SCHEME_OTHER,                    /* contributes no header */
    CC_SCHEME_KEY_HEADER,               /* apiKey in: header */
    CC_SCHEME_KEY_COOKIE,
    CC_SCHEME_KEY_QUERY,
    CC_SCHEME_AUTHORIZATION,            /* http, oauth2, openIdConnect */
    CC_SCHEME_MTLS
} cc_scheme_kind_t;

typedef struct {
    const char *name;                   /* its key under components.securitySchemes */
    const cm_spec_node_t *key;
    cc_scheme_kind_t kind;
    const char *header;                 /* apiKey `name`, for CC_SCHEME_KEY_HEADER */
    const cm_spec_node_t *header_node;
    bool referenced;                    /* named by some security requirement (E1041) */
} cc_scheme_t;

/* A dispatcher or a middleware as an operation uses it. */
typedef struct {
    const cm_spec_node_t *entry;        /* the object */
    const char *name;                   /* as written: name or name@version */
    const cm_spec_node_t *name_node;
    const cm_spec_node_t *config;       /* NULL: absent, written as null */
    size_t bare_len;                    /* bytes of name before '@' */
    size_t spec;                        /* the document it is written in */
    int plug;                           /* index in ctx->plugs, -1 until resolved */
} cc_use_t;

typedef struct {
    char *file;                         /* unique name inside the artifact (owned) */
    const cc_input_t *input;
    cm_spec_doc_t *doc;                 /* NULL when it did not load */
    const cm_spec_node_t *root;
    bool ok;                            /* loaded and classified */
    bool asyncapi, openapi30;
    const char *version, *title, *api_version;
    cc_scheme_t *schemes;
    size_t nschemes;
    const cm_spec_node_t *security;     /* root `security` when it is a sequence */
    cc_use_t *globals;                  /* valid root middleware entries */
    size_t nglobals;
    cc_map_t *channels;                 /* AsyncAPI channel name -> index + 1 (built once) */
} cc_spec_t;

typedef struct {
    size_t spec, seq;                   /* its document, and order inside the compilation */
    const char *path;                   /* template or channel address (borrowed) */
    char *method, *label;               /* "GET", "GET /path" (owned) */
    const cm_spec_node_t *node;         /* the operation object */
    const cm_spec_node_t *at;           /* its key: where findings about it point */
    const cm_spec_node_t *path_at;      /* the path key or channel address (E1054, E1050) */
    const cm_spec_node_t *path_item;    /* OpenAPI: the resolved path item */
    const cm_spec_node_t *channel;      /* AsyncAPI: the resolved channel */
    const char *operation_id;
    bool send;                          /* AsyncAPI action */
    bool has_dispatch;
    cc_use_t dispatch;
    cc_use_t *chain;                    /* the resolved middleware chain (owned array) */
    size_t nchain;
    const cm_spec_node_t *security;     /* the requirement list in force, or NULL */
    bool own_security;                  /* the operation has its own `security` */
} cc_op_t;

typedef struct {
    char *name;                         /* bare name */
    char *pinned;                       /* version some reference pins, or NULL */
    int state;                          /* 0 not looked up, 1 found, 2 missing */
    bool bundled;
    bool routed;                        /* written into routes.json under its name */
    cc_plugin_t rec;                    /* what the lookup returned */
    json_t *schema;                     /* parsed config_schema, NULL when none or invalid */
    bool schema_bad;
    cc_schema_t *validator;             /* compiled on first use */
    bool validator_failed;
    char validator_err[200];
} cc_plug_t;

typedef struct {
    cc_finding_t f;
    size_t spec;
    int line, column;
    size_t seq;
} cc_found_t;

typedef struct {
    const cc_options_t *opts;
    int format;                         /* 6 or 4 */
    size_t max_depth, max_props, max_findings;
    cc_plugin_lookup_fn *lookup;
    void *lookup_arg;
    cc_spec_t *specs;
    size_t nspecs;
    cc_op_t *ops;
    size_t nops, ops_cap;
    cc_plug_t *plugs;
    size_t nplugs, plugs_cap;
    cc_map_t *plug_index;               /* bare name -> index + 1 */
    cc_found_t *found;
    size_t nfound, found_cap, nerr, nwarn, ndropped, seq;
    cc_map_t *dedupe;
    bool oom, cancelled, retry, budget_hit;
    char reason[256];
    locale_t loc;
    size_t emit_nodes, nest, steps;
    cc_map_t *cache;                    /* schema position -> cc_cached_t */
    cc_map_t *configs;                  /* config node -> json_t */
    cc_map_t *checked;                  /* (plugin, config node) validated or walked */
    cc_map_t *shared;                   /* json value many operations use -> rendered text */
    cc_buf_t routes;
    size_t routes_count;
    size_t routes_written;              /* operations appended to the text */
    bool routes_unsure;                 /* a use without its plugin slot: the writer re-checks */
} cc_ctx_t;

/* ---------------------------------------------------------------- findings (cc_findings.c) */

/* Records a finding at node at of document spec (CC_NO_SPEC: none), about op (may be NULL).
 * The same code, location and message is recorded once. */
void cc_add(cc_ctx_t *ctx, cc_severity_t sev, const char *code, size_t spec,
            const cm_spec_node_t *at, const cc_op_t *op, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
/* A finding at an explicit line:column (load issues). */
void cc_add_at(cc_ctx_t *ctx, cc_severity_t sev, const char *code, size_t spec, int line,
               int column, const char *message);
/* Moves the findings into out, sorted by document and position, capped at max_findings. */
void cc_findings_finish(cc_ctx_t *ctx, cc_result_t *out);
void cc_findings_free(cc_ctx_t *ctx);
/* True (and ctx->cancelled set) when the caller asked to stop. */
bool cc_cancelled(cc_ctx_t *ctx);
/* Counts a walk step; true when the walk should stop (cancelled). */
bool cc_step(cc_ctx_t *ctx);

#define CC_ERR(ctx, code, spec, at, op, ...) \
    cc_add(ctx, CC_SEV_ERROR, code, spec, at, op, __VA_ARGS__)
#define CC_WARN(ctx, code, spec, at, op, ...) \
    cc_add(ctx, CC_SEV_WARNING, code, spec, at, op, __VA_ARGS__)

/* ---------------------------------------------------------------- values (cc_value.c) */

/* The string of a STRING node, else NULL. */
const char *cc_str(const cm_spec_node_t *n);
/* The value of a BOOL node, else dflt. */
bool cc_bool(const cm_spec_node_t *n, bool dflt);
bool cc_is_map(const cm_spec_node_t *n);
bool cc_is_seq(const cm_spec_node_t *n);
/* A scalar as serde_yaml turns it into JSON (.inf/.nan: null). New reference, NULL on OOM. */
json_t *cc_scalar_json(cc_ctx_t *ctx, const cm_spec_node_t *n);
/* The whole value as JSON with object keys in bytewise order; counts against the emit budget.
 * NULL on OOM, budget, nesting or cancellation (reported). */
json_t *cc_value_json(cc_ctx_t *ctx, size_t spec, const cm_spec_node_t *n);
/* The configuration of a use as JSON (shared per node: the caller gets a new reference). */
json_t *cc_config_json(cc_ctx_t *ctx, const cc_use_t *use);
/* Follows an RFC 6901 pointer below n (instance pointers of validation errors). */
const cm_spec_node_t *cc_node_at(const cm_spec_node_t *n, const char *pointer);
/* Resolves a local $ref of document spec (E1003 at site when it cannot). */
const cm_spec_node_t *cc_ref_target(cc_ctx_t *ctx, size_t spec, const char *ref,
                                    const cm_spec_node_t *site, const cc_op_t *op);
/* Follows a chain of non-schema $refs (parameters, responses, ...) to the object it names:
 * E1003 for a dangling link, E1004 for a cycle (then *failed, which may be NULL, is true).
 * Returns NULL then, and (silently) when the value is not a mapping. */
const cm_spec_node_t *cc_follow(cc_ctx_t *ctx, size_t spec, const cm_spec_node_t *n,
                                const cc_op_t *op, bool *failed);
bool cc_budget(cc_ctx_t *ctx, size_t spec, const cm_spec_node_t *at, size_t nodes);

/* ---------------------------------------------------------------- schemas (cc_defs.c) */

/* One schema position transformed as BCA-FORMAT §7.1 says (its own $defs table), with the
 * OpenAPI 3.0 rewrite. shared: the node is reached from several operations (cache it).
 * New reference; NULL on OOM or when an error was reported. depth/props (may be NULL) get
 * the E1051/E1052 measure of the result. */
json_t *cc_schema_position(cc_ctx_t *ctx, size_t spec, const cm_spec_node_t *n, bool shared,
                           const cc_op_t *op, size_t *depth, size_t *props);
/* E1051/E1052 for a parameter or body schema measured as emitted. */
void cc_schema_limits(cc_ctx_t *ctx, size_t spec, const cm_spec_node_t *at, const cc_op_t *op,
                      const char *what, size_t depth, size_t props);
void cc_cache_free(void *entry);

/* ---------------------------------------------------------------- extensions (cc_ext.c) */

/* Root checks of one document: E1015, root middlewares (E1011/E1012), E1080. */
void cc_ext_root(cc_ctx_t *ctx, size_t spec);
/* Operation extensions: E1015, dispatch (E1020), middlewares (E1011/E1012), resolved chain. */
void cc_ext_operation(cc_ctx_t *ctx, cc_op_t *op);
/* MCP of the compilation (§8.3) and of one operation; WAF policy (§9). */
void cc_mcp_root(cc_ctx_t *ctx, bool *enabled, const char **name, const char **version);
void cc_mcp_operation(cc_ctx_t *ctx, const cc_op_t *op, json_t *out);
bool cc_waf_policy(cc_ctx_t *ctx, cc_bca_waf_t *waf);

/* ---------------------------------------------------------------- checks (cc_checks.c) */

/* components.securitySchemes of one document (resolving $refs). */
void cc_security_schemes(cc_ctx_t *ctx, size_t spec);
/* Per operation: E1030, E1031, E1054, E1033, and marks the schemes its requirement names. */
void cc_check_operation(cc_ctx_t *ctx, cc_op_t *op);
/* Across operations: E1010, E1050, E1055; per document: E1041. */
void cc_check_all(cc_ctx_t *ctx);
const cc_scheme_t *cc_scheme_find(const cc_spec_t *s, const char *name);

/* ---------------------------------------------------------------- documents */

/* Operations of an OpenAPI (cc_openapi.c) or AsyncAPI (cc_asyncapi.c) document. */
void cc_openapi_collect(cc_ctx_t *ctx, size_t spec);
void cc_asyncapi_collect(cc_ctx_t *ctx, size_t spec);
/* A new operation appended to ctx->ops (NULL on OOM). */
cc_op_t *cc_op_new(cc_ctx_t *ctx, size_t spec, const char *path, const char *method,
                   const cm_spec_node_t *node, const cm_spec_node_t *at);
/* The routes.json members of one operation that come from its document. */
json_t *cc_openapi_parameters(cc_ctx_t *ctx, const cc_op_t *op);
json_t *cc_openapi_request_body(cc_ctx_t *ctx, const cc_op_t *op);
json_t *cc_openapi_responses(cc_ctx_t *ctx, const cc_op_t *op);
json_t *cc_asyncapi_parameters(cc_ctx_t *ctx, const cc_op_t *op);
/* AsyncAPI messages; *body gets the SEND request body (or json null). */
json_t *cc_asyncapi_messages(cc_ctx_t *ctx, const cc_op_t *op, json_t **body);
/* A `bindings` value: the channel's, then the operation's (AsyncAPI), sorted. */
json_t *cc_asyncapi_bindings(cc_ctx_t *ctx, const cc_op_t *op);

/* ---------------------------------------------------------------- plugins (cc_plugins.c) */

/* Resolves every plugin the operations use: E1021, E1022, E1024. Sets ctx->retry on a
 * failed lookup. */
void cc_plugins_resolve(cc_ctx_t *ctx);
/* E1023 for one use's configuration (once per plugin and configuration node). */
void cc_plugins_validate(cc_ctx_t *ctx, const cc_op_t *op, const cc_use_t *use);
void cc_plugins_free(cc_ctx_t *ctx);

/* ---------------------------------------------------------------- headers (cc_headers.c) */

/* allowed_request_headers of one operation (§6.4) given its merged parameters; E1056. */
json_t *cc_allowed_headers(cc_ctx_t *ctx, const cc_op_t *op, const json_t *parameters);

/* ---------------------------------------------------------------- routes (cc_routes.c) */

/* Builds and renders every operation in (path, method) order into ctx->routes. */
void cc_routes_build(cc_ctx_t *ctx);

/* ---------------------------------------------------------------- text (cc_render.c) */

/* Appends serde_json::to_string_pretty of v as it reads nested depth levels deep. */
void cc_render(cc_ctx_t *ctx, cc_buf_t *b, const json_t *v, int depth);
/* Marks v (kept alive by a cache until the end) as used by many operations. */
void cc_render_share(cc_ctx_t *ctx, const json_t *v);
void cc_render_free(void *entry);
/* Containers nested in v, v included (shared values are measured once). */
int cc_nesting(cc_ctx_t *ctx, const json_t *v);

#endif
