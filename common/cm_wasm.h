/* WebAssembly plugin modules: finding a custom section, and reading the plugin manifest
 * (plugin.toml text) that Barbacane's plugin SDK embeds in the `barbacane_manifest` section.
 * Pure functions; a cm_plugin_manifest_t owns its strings. */
#ifndef CM_WASM_H
#define CM_WASM_H
#include <stdbool.h>
#include <stddef.h>

#define CM_WASM_MANIFEST_SECTION "barbacane_manifest"

/* Bounds of the manifest parser: the text, one string (after escapes), one array. */
#define CM_WASM_MAX_MANIFEST 65536
#define CM_WASM_MAX_STRING 4096
#define CM_WASM_MAX_ARRAY 256

/* Looks for the first custom section (id 0) called name in a core module (8-byte header
 * `\0asm` version 1 included). Returns 1 with *data and *dlen pointing into wasm (borrowed), 0
 * when the module has no such section, -1 when the header or the section layout is malformed
 * (truncated, a size past the end, LEB128 longer than 5 bytes or over 32 bits), anywhere in
 * the module. Only the section layout is checked, not the contents of other sections. */
int cm_wasm_custom_section(const unsigned char *wasm, size_t len, const char *name,
                           const unsigned char **data, size_t *dlen);

typedef struct {
    char *name, *version, *type;   /* [plugin] name, version, type (NULL when absent) */
    bool has_capabilities;         /* a [capabilities] table was present */
    bool body_access;              /* [capabilities] body_access, default false */
    char **host_functions;         /* [capabilities] host_functions, in declaration order */
    size_t n_host_functions;
} cm_plugin_manifest_t;

/* Parses the subset of TOML plugin.toml uses: [tables], key = "basic string" | 'literal' |
 * true/false | decimal integer | [array of strings] (over several lines, trailing comma),
 * comments, LF or CRLF. Unknown tables and keys are ignored (their values must still be in the
 * subset); a known key with the wrong type or given twice, a table given twice, multi-line
 * strings, floats, dates, inline tables and arrays of tables are errors. The text must be UTF-8
 * without NUL, at most CM_WASM_MAX_MANIFEST bytes. 0, or -1 with "line N: reason" in err (out
 * is then empty). out is cleared first (not freed). */
int cm_plugin_manifest_parse(const char *text, size_t len, cm_plugin_manifest_t *out,
                             char *err, size_t errlen);
/* Frees what the parser filled; safe on a zeroed or already freed value. */
void cm_plugin_manifest_free(cm_plugin_manifest_t *m);
/* True when the n bytes at s are a plugin name, ^[a-z0-9][a-z0-9-]{0,63}$ (NOTES.md; it also
 * keeps plugins/<name>.wasm inside a tar header's 100-byte name). */
bool cm_plugin_name_valid(const char *s, size_t n);

#endif
