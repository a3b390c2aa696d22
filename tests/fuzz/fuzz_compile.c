/*  fuzz_compile.c — libFuzzer target: the bytes are one spec document, compiled end to end
 *  (artifact included) against a fixed plugin table. Owns nothing between runs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cc_compile.h"

static const unsigned char s_wasm[8] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};

static const char *const s_table[][3] = {
    {"mock", "dispatcher", "{}"},
    {"http-upstream", "dispatcher",
     "{\"type\":\"object\",\"properties\":{\"url\":{\"type\":\"string\",\"pattern\":\"^https?://\"},"
     "\"forward\":{\"type\":\"array\",\"format\":\"header-name\"}}}"},
    {"rate-limit", "middleware",
     "{\"type\":\"object\",\"properties\":{\"quota\":{\"type\":\"integer\",\"minimum\":1},"
     "\"key\":{\"type\":\"string\",\"format\":\"header-ref\"},"
     "\"rename\":{\"format\":\"header-name-map\"}}}"},
    {"cors", "middleware", "{}"},
};

static int s_lookup(void *arg, const char *name, const char *version, cc_plugin_t *out)
{
    (void)arg;
    for (size_t i = 0; i < sizeof s_table / sizeof *s_table; i++) {
        if (strcmp(name, s_table[i][0]) || (version && strcmp(version, "1.0.0")))
            continue;
        memset(out, 0, sizeof *out);
        out->name = strdup(name);
        out->version = strdup("1.0.0");
        out->plugin_type = strdup(s_table[i][1]);
        out->config_schema = strdup(s_table[i][2]);
        out->wasm = malloc(sizeof s_wasm);
        if (out->wasm)
            memcpy(out->wasm, s_wasm, sizeof s_wasm);
        out->wasm_len = out->wasm ? sizeof s_wasm : 0;
        return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20))
        return 0;
    cc_input_t in = {"api.yaml", data, size};
    cc_options_t o = {.compiled_at = "2026-01-01T00:00:00Z", .compiler_version = "fuzz",
                      .artifact_format = size % 2 ? 4 : 6, .production = size % 3 == 0};
    cc_result_t r;
    cc_compile(&in, 1, &o, s_lookup, NULL, &r);
    cc_result_free(&r);
    return 0;
}
