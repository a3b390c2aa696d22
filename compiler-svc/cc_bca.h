/* The .bca artifact writer: manifest.json, artifact_hash, GNU tar and one gzip member, exactly
 * as ../shared/contract/BCA-FORMAT.md says (format 6, and 4 for older data planes).
 * Owns: the bytes and texts of a cc_bca_t it fills. Inputs are borrowed. */
#ifndef CC_BCA_H
#define CC_BCA_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest tar this writer streams into gzip: far below the 8 GiB of the octal size field
 * and the 32-bit ISIZE of the gzip trailer. */
#define CC_BCA_MAX_TAR ((size_t) 1 << 30)

typedef struct {
    const char *file;              /* unique basename inside the artifact, <= 94 bytes */
    const unsigned char *data;     /* the exact uploaded bytes (UTF-8) */
    size_t len;
    const char *type;              /* "openapi" or "asyncapi" */
    const char *version;           /* the document's openapi/asyncapi string */
} cc_bca_spec_t;

typedef struct {
    const char *name;              /* bare name, ^[a-z0-9][a-z0-9-]{0,63}$ */
    const char *version;
    const char *plugin_type;       /* "dispatcher" or "middleware" */
    const unsigned char *wasm;
    size_t wasm_len;
    bool body_access;
    const char *const *host_functions;  /* in declaration order (sorted only inside the hash) */
    size_t n_host_functions;
} cc_bca_plugin_t;

typedef enum { CC_WAF_AUDIT_RELEVANT_ONLY, CC_WAF_AUDIT_OFF, CC_WAF_AUDIT_ON } cc_waf_audit_t;

/* The WAF policy of format 6 (§9). Only a disabled policy is ever written by this compiler. */
typedef struct {
    bool enabled;
    const char *ruleset;           /* NULL: the key is not written */
    int paranoia_level;
    bool detection_only;           /* false = "blocking" */
    int64_t inbound_threshold, outbound_threshold;
    uint64_t max_response_body;
    cc_waf_audit_t audit;
    bool unsupported_skip;         /* false = "fail" */
} cc_bca_waf_t;

/* What the producer of routes_json vouches for, so the writer need not parse the text again:
 * it is the serde_json pretty form (cc_json_pretty's) of {"operations": [...]}, nests at most
 * 127 containers deep, has operations[i].index == i, and names no dispatcher or middleware
 * outside plugin_names. The writer still checks UTF-8, the frame of the text, the count and
 * that every name is bundled. Only a caller that rendered the text itself may say so. */
typedef struct {
    size_t operations;             /* entries of the operations array */
    const char *const *plugin_names;   /* every dispatcher and middleware name used, any order */
    size_t nplugin_names;
} cc_bca_routes_facts_t;

typedef struct {
    int format;                    /* 6 or 4 */
    const char *compiled_at;       /* "YYYY-MM-DDTHH:MM:SSZ" */
    const char *compiler_version;
    const cc_bca_spec_t *specs;    /* any order: written sorted by file */
    size_t nspecs;
    const cc_bca_plugin_t *plugins;/* any order: written sorted by name */
    size_t nplugins;
    const char *routes_json;       /* the exact routes.json bytes */
    size_t routes_len;
    size_t routes_count;
    bool capabilities_enforced;
    bool mcp_enabled;
    const char *mcp_server_name, *mcp_server_version;  /* NULL = null */
    const char *provenance_commit, *provenance_source; /* NULL = null */
    bool has_waf;                  /* false: the default policy (§12.4) */
    cc_bca_waf_t waf;              /* format 6 only; ignored for format 4 */
    const cc_bca_routes_facts_t *routes_facts;  /* NULL: routes.json is parsed and verified */
} cc_bca_input_t;

typedef struct {
    unsigned char *data;           /* the .bca file */
    size_t len;
    char sha256[65];               /* lowercase hex of the whole file */
    char artifact_hash[72];        /* "sha256:" + 64 hex */
    char *manifest;                /* manifest.json text (NUL-terminated) */
    size_t manifest_len;
} cc_bca_t;

/* Builds the artifact into out (cleared first, not freed). 0, or -1 with a reason in err (an
 * input that breaks a rule of the format: a duplicate spec file or plugin, a name too long or
 * malformed, invalid UTF-8, an enabled WAF policy, a routes.json that is not serde_json pretty
 * text, nests deeper than serde reads (127), has an index that is not its position, a
 * routes_count that differs, or names a dispatcher or middleware that is not bundled; with
 * routes_facts, those of its rules the facts cover are taken from them). */
int cc_bca_build(const cc_bca_input_t *in, cc_bca_t *out, char *err, size_t errlen);
/* The exact artifact_hash input text of §5 (format 6 with its waf: line, 4 without) after the
 * same checks as cc_bca_build. Caller owns the malloc'd NUL-terminated text (length in *len,
 * may be NULL); NULL with a reason in err. */
char *cc_bca_hash_text(const cc_bca_input_t *in, size_t *len, char *err, size_t errlen);
/* Frees what cc_bca_build filled; safe on a zeroed or already freed value. */
void cc_bca_free(cc_bca_t *out);

#endif
