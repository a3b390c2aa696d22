/* fuzz_schema.c — libFuzzer target for cc_schema: a flags byte, then two bytes that split the
 * rest into a schema and an instance (both JSON); compile, validate, validate the schema itself. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cc_schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every report must be three NUL-terminated strings; reading them lets ASan check that. */
static void s_error(void *arg, const char *ip, const char *kp, const char *msg)
{
    size_t *total = arg;
    *total += strlen(ip) + strlen(kp) + strlen(msg);
}

/* One remote document, so the $ref-to-elsewhere paths run too. */
static json_t *s_resolve(void *arg, const char *uri)
{
    (void) arg;
    if (!strcmp(uri, "http://fuzz.example/remote.json"))
        return json_loads("{\"$defs\": {\"n\": {\"type\": \"integer\", \"maximum\": 9}},"
                          " \"$dynamicAnchor\": \"meta\", \"items\": {\"$dynamicRef\": \"#meta\"}}",
                          0, NULL);
    return NULL;
}

static void s_run(json_t *schema, const json_t *instance, uint8_t flags)
{
    cc_schema_opts_t opts = {
        .format_assertion = flags & 1,
        .resolve = s_resolve,
        .max_depth = flags & 2 ? 64 : 0,
        .max_steps = 200000,            /* keeps each input quick: limits are what we test */
        .regex_match_limit = 20000,
        .max_errors = flags & 4 ? 3 : 0,
    };
    char err[256];
    size_t total = 0;
    cc_schema_t *s = cc_schema_new(schema, &opts, err, sizeof err);
    if (!s)
        return;
    int rc = cc_schema_validate(s, instance, s_error, &total);
    int rc2 = cc_schema_validate(s, instance, NULL, NULL);
    /* Same verdict with and without a callback (unless a limit stopped either run). */
    if (rc >= 0 && rc2 >= 0 && (rc == 0) != (rc2 == 0))
        abort();
    cc_schema_destroy(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    uint8_t flags = data[0];
    size_t rest = size - 3, split = ((size_t) data[1] << 8 | data[2]) % (rest + 1);
    const char *body = (const char *) data + 3;
    json_t *schema = json_loadb(body, split, JSON_DECODE_ANY, NULL);
    json_t *instance = json_loadb(body + split, rest - split, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (schema && instance)
        s_run(schema, instance, flags);
    if (schema && (flags & 8)) {   /* the schema as an instance of the built-in meta-schema */
        json_t *meta = json_pack("{s:s}", "$ref", "https://json-schema.org/draft/2020-12/schema");
        s_run(meta, schema, flags);
        json_decref(meta);
    }
    json_decref(schema);
    json_decref(instance);
    return 0;
}
