/* fuzz_wasm.c — libFuzzer target over common/cm_wasm.c: the input as a module (custom section
 * walk, then the embedded manifest parsed) and as manifest text itself. Owns: nothing. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cm_wasm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What a successful parse promises: bounded strings and arrays, no NULL items. */
static void s_check(const cm_plugin_manifest_t *m)
{
    const char *s[] = { m->name, m->version, m->type };
    for (size_t i = 0; i < 3; i++)
        if (s[i] && strlen(s[i]) > CM_WASM_MAX_STRING)
            abort();
    if (m->n_host_functions > CM_WASM_MAX_ARRAY || (m->n_host_functions && !m->host_functions))
        abort();
    for (size_t i = 0; i < m->n_host_functions; i++)
        if (!m->host_functions[i] || strlen(m->host_functions[i]) > CM_WASM_MAX_STRING)
            abort();
}

static void s_parse(const char *text, size_t len)
{
    cm_plugin_manifest_t m;
    char err[160];
    if (cm_plugin_manifest_parse(text, len, &m, err, sizeof err) == 0)
        s_check(&m);
    else if (m.name || m.host_functions || strncmp(err, "line ", 5) != 0)
        abort();                             /* a refusal leaves nothing behind and says where */
    cm_plugin_manifest_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const unsigned char *d = NULL;
    size_t n = 0;
    int rc = cm_wasm_custom_section(data, size, CM_WASM_MANIFEST_SECTION, &d, &n);
    if (rc == 1) {
        if (d < data || n > size || d + n > data + size)
            abort();                         /* the section must lie inside the module */
        s_parse((const char *) d, n);
    } else if (rc != 0 && rc != -1)
        abort();
    s_parse((const char *) data, size);
    return 0;
}
