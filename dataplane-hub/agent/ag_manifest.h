/* manifest.json of a .bca artifact as the data plane reads it (BCA-FORMAT.md §4, §9, §10) and
 * its artifact_hash recomputed from the manifest fields alone (§5; format 4 without the waf
 * line). An implementation of its own, written from the format document, not the compiler's.
 * Owns: an ag_manifest_t and the parsed JSON its string fields point into. */
#ifndef AG_MANIFEST_H
#define AG_MANIFEST_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* manifest.json larger than this is refused before parsing. */
#define AG_MANIFEST_MAX ((size_t) 16 << 20)
/* Entries of source_specs, plugins or checksums: far more than any real artifact holds. */
#define AG_MANIFEST_MAX_ITEMS 4096

typedef struct {
    const char *file, *sha256;
} ag_mspec_t;

typedef struct {
    const char *name, *version, *plugin_type, *wasm_path, *sha256;
    bool body_access;
    const char **host_functions;    /* in manifest order */
    size_t n_host_functions;
} ag_mplugin_t;

typedef struct {
    const char *key, *value;
} ag_mchecksum_t;

typedef struct {
    bool enabled;
    unsigned paranoia_level;
    const char *mode, *audit, *unsupported;   /* hash spelling: Blocking, RelevantOnly, Fail… */
    int64_t inbound_threshold, outbound_threshold;
    char max_response_body[24];               /* decimal u64 (wider than jansson's integers) */
    char *skipped;                            /* skipped_rules joined with ',' (owned) */
} ag_mwaf_t;

typedef struct {
    void *json;                     /* the parsed document (json_t *), owned */
    unsigned version;               /* barbacane_artifact_version: 4 or 6 */
    const char *artifact_hash;
    uint64_t routes_count;
    ag_mspec_t *specs;              /* in manifest order */
    size_t nspecs;
    ag_mplugin_t *plugins;          /* in manifest order */
    size_t nplugins;
    ag_mchecksum_t *checksums;      /* sorted bytewise by key, as a BTreeMap iterates */
    size_t nchecksums;
    bool capabilities_enforced;
    bool mcp_enabled;
    const char *mcp_server_name, *mcp_server_version;   /* NULL = null or absent */
    ag_mwaf_t waf;                  /* format 6: the policy, or the default one when absent */
} ag_manifest_t;

/* Parses manifest.json text with the data plane's serde rules: required members present with
 * their JSON types, optional ones defaulted, unknown ones ignored, duplicate keys and versions
 * other than 4 and 6 refused. Caller owns the result; NULL with a reason in err. */
ag_manifest_t *ag_manifest_parse(const char *text, size_t len, char *err, size_t errlen);
void ag_manifest_destroy(ag_manifest_t **self_p);

/* The §5 hash input text (format 6 with its waf line, format 4 without). Caller owns the
 * malloc'd NUL-terminated result; its length (the text holds no NUL) in *len when not NULL. */
char *ag_manifest_hash_text(const ag_manifest_t *self, size_t *len);
/* "sha256:" + 64 lowercase hex of that text into out. 0, or -1 on OOM. */
int ag_manifest_hash(const ag_manifest_t *self, char out[72]);

/* The checksums value for key, or NULL. */
const char *ag_manifest_checksum(const ag_manifest_t *self, const char *key);

#endif
