/* The artifact check a data plane runs before it loads a .bca (BCA-FORMAT.md §1): exactly one
 * gzip member, tar entries found by name (libarchive), manifest.json parsed, artifact_hash
 * recomputed from the manifest and compared, each plugin's sha256 checked; plus the checks our
 * own readers add (routes.json and spec digests, routes shape). Owns nothing past a call. */
#ifndef AG_CHECK_H
#define AG_CHECK_H
#include <stddef.h>
#include <stdint.h>

/* Bounds on what one artifact may make the agent do. */
#define AG_CHECK_MAX_TAR ((uint64_t) 1 << 30)       /* decompressed bytes */
#define AG_CHECK_MAX_ENTRIES 4096                   /* tar entries */
#define AG_CHECK_MAX_ROUTES ((size_t) 32 << 20)     /* routes.json bytes (parsed in memory) */
#define AG_CHECK_MAX_DEPTH 127                      /* JSON nesting serde_json reads */

typedef struct {
    unsigned format;            /* barbacane_artifact_version: 6 or 4 */
    char artifact_hash[72];     /* the manifest's, equal to the recomputed one */
    uint64_t routes_count;
    size_t nspecs, nplugins;
    uint64_t tar_bytes;         /* decompressed size of the whole gzip member */
} ag_artifact_t;

/* Checks the artifact in the file at path. 0 when a data plane would load it (out filled), or
 * -1 with the first reason in err (e.g. "artifact integrity check failed: artifact hash
 * mismatch: …"). Bounded in memory (one routes.json and one manifest at a time) and in work
 * (AG_CHECK_MAX_TAR). Thread-safe: touches nothing but its arguments. */
int ag_check_file(const char *path, ag_artifact_t *out, char *err, size_t errlen);
/* The same check on bytes in memory. */
int ag_check_buffer(const void *data, size_t len, ag_artifact_t *out, char *err, size_t errlen);

#endif
