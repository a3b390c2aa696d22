/* WebAssembly plugin modules: finding a custom section, and reading the plugin manifest
 * (plugin.toml text) that Barbacane's plugin SDK embeds in the `barbacane_manifest` section.
 * Pure functions; a cm_plugin_manifest_t owns its strings. */
#ifndef CM_WASM_H
#define CM_WASM_H
#include <stdbool.h>
#include <stddef.h>

#define CM_WASM_MANIFEST_SECTION "barbacane_manifest"

/* Looks for the custom section (id 0) called name in a module (8-byte header included).
 * Returns 1 with *data/*len pointing into wasm (borrowed), 0 when the module has no such
 * section, -1 when the section layout is malformed (truncated, LEB128 overflow). */
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
 * true/false | integer | [array of strings], comments. Unknown tables and keys are ignored.
 * 0, or -1 with a reason (and the 1-based line) in err. out is cleared first. */
int cm_plugin_manifest_parse(const char *text, size_t len, cm_plugin_manifest_t *out,
                             char *err, size_t errlen);
void cm_plugin_manifest_free(cm_plugin_manifest_t *m);

#endif
