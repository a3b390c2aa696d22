/*  bca_example.h — the worked example of BCA-FORMAT.md §12.1 as the writer's input (the spec
 *  text, the mock plugin, the §12.2 routes.json value), shared by the unit tests that build or
 *  check that artifact, and the strict gunzip they read artifacts with. Header-only, static; include after cmocka.h. Owns nothing at run time:
 *  s_golden_input's caller frees g->routes. */
#ifndef BCA_EXAMPLE_H
#define BCA_EXAMPLE_H

#include <jansson.h>
#include <stdlib.h>
#include <zlib.h>
#include <stdbool.h>
#include <string.h>

#include "cc_bca.h"
#include "cc_json.h"

static const char s_api_yaml[] __attribute__((unused)) =
    "openapi: \"3.1.0\"\n"
    "info:\n"
    "  title: Hello API\n"
    "  version: \"1.0.0\"\n"
    "paths:\n"
    "  /hello:\n"
    "    get:\n"
    "      operationId: getHello\n"
    "      summary: Say hello\n"
    "      parameters:\n"
    "        - name: X-Trace-Id\n"
    "          in: header\n"
    "          schema:\n"
    "            type: string\n"
    "      responses:\n"
    "        \"200\":\n"
    "          description: A greeting\n"
    "          content:\n"
    "            application/json:\n"
    "              schema:\n"
    "                $ref: \"#/components/schemas/Greeting\"\n"
    "      x-barbacane-dispatch:\n"
    "        name: mock\n"
    "        config:\n"
    "          status: 200\n"
    "          body: '{\"message\":\"hello\"}'\n"
    "components:\n"
    "  schemas:\n"
    "    Greeting:\n"
    "      type: object\n"
    "      properties:\n"
    "        message:\n"
    "          type: string\n";

static const unsigned char s_mock_wasm[8] __attribute__((unused)) = { 0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00 };

/* A free-form value (config, schema) from JSON text, keys sorted as serde writes them. */
static inline json_t *s_free_form(const char *text)
{
    json_t *raw = json_loads(text, 0, NULL);
    assert_non_null(raw);
    json_t *sorted = cc_json_sorted(raw);
    json_decref(raw);
    assert_non_null(sorted);
    return sorted;
}

/* The §12.2 routes.json value: CompiledOperation fields in declaration order (json_pack
 * inserts in format order), the free-form values through cc_json_sorted. The source texts list
 * keys out of order on purpose, as YAML would deliver them. */
static inline json_t *s_golden_routes(int format)
{
    json_t *param = json_pack("{s:s, s:s, s:b, s:o}", "name", "X-Trace-Id", "location", "header",
                              "required", 0, "schema", s_free_form("{\"type\": \"string\"}"));
    json_t *dispatch = json_pack("{s:s, s:o}", "name", "mock", "config",
                                 s_free_form("{\"status\": 200, \"body\": \"{\\\"message\\\":"
                                             "\\\"hello\\\"}\"}"));
    json_t *schema = s_free_form("{\"$ref\": \"#/$defs/Greeting\", \"$defs\": {\"Greeting\": "
                                 "{\"type\": \"object\", \"properties\": {\"message\": "
                                 "{\"type\": \"string\"}}}}}");
    json_t *responses = json_pack("{s:{s:{s:{s:o}}}}", "200", "content", "application/json",
                                  "schema", schema);
    json_t *op = json_pack("{s:i, s:s, s:s, s:s, s:s, s:n, s:[o], s:n, s:o, s:[], s:b, s:n, "
                           "s:o, s:n, s:n}",
                           "index", 0, "path", "/hello", "method", "GET",
                           "operation_id", "getHello", "summary", "Say hello", "description",
                           "parameters", param, "request_body", "dispatch", dispatch,
                           "middlewares", "deprecated", 0, "sunset", "responses", responses,
                           "mcp_enabled", "mcp_description");
    assert_non_null(op);
    if (format == 6)
        assert_int_equal(json_object_set_new(op, "allowed_request_headers",
                                             json_pack("[s]", "x-trace-id")), 0);
    json_t *routes = json_pack("{s:[o]}", "operations", op);
    assert_non_null(routes);
    return routes;
}

typedef struct {
    cc_bca_spec_t spec;
    cc_bca_plugin_t plugin;
    cc_bca_input_t in;
    char *routes;
} s_golden_t;

static inline void s_golden_input(s_golden_t *g, int format)
{
    memset(g, 0, sizeof *g);
    json_t *r = s_golden_routes(format);
    size_t len = 0;
    g->routes = cc_json_pretty(r, &len);
    json_decref(r);
    assert_non_null(g->routes);
    g->spec = (cc_bca_spec_t) { "api.yaml", (const unsigned char *) s_api_yaml,
                                sizeof s_api_yaml - 1, "openapi", "3.1.0" };
    g->plugin = (cc_bca_plugin_t) { "mock", "0.1.0", "dispatcher", s_mock_wasm,
                                    sizeof s_mock_wasm, false, NULL, 0 };
    g->in = (cc_bca_input_t) { .format = format, .compiled_at = "2026-01-01T00:00:00Z",
                               .compiler_version = "0.1.0", .specs = &g->spec, .nspecs = 1,
                               .plugins = &g->plugin, .nplugins = 1, .routes_json = g->routes,
                               .routes_len = len, .routes_count = 1 };
}

/* Inflates exactly one gzip member that must span the whole input (the data plane's GzDecoder
 * reads the first member only, so nothing may follow it), into a buffer with room bytes to
 * spare past the end for edits. */
static inline unsigned char *s_gunzip(const unsigned char *gz, size_t len, size_t room,
                                      size_t *outlen)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(inflateInit2(&zs, 16 + 15), Z_OK);
    assert_true(len >= 18);
    size_t cap = 1 + (gz[len - 4] | (size_t) gz[len - 3] << 8 | (size_t) gz[len - 2] << 16
                      | (size_t) gz[len - 1] << 24) + room;   /* ISIZE: the tar's length */
    unsigned char *out = malloc(cap);
    assert_non_null(out);
    zs.next_in = (Bytef *) gz;
    zs.avail_in = (uInt) len;
    zs.next_out = out;
    zs.avail_out = (uInt) cap;
    assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
    assert_int_equal(zs.avail_in, 0);
    *outlen = zs.total_out;
    inflateEnd(&zs);
    return out;
}

#endif
