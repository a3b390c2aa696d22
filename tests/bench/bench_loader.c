/*  bench_loader.c — compares cm_spec_load with a bare libyaml event parse of the same document.
 *  Owns: the generated OpenAPI documents (YAML and JSON, in memory) and the timing loop. */

#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yaml.h>

#include "bench_util.h"
#include "cm_spec.h"

#define S_OPERATIONS 5000
#define S_RUNS 3
#define S_TARGET 3.0

/* ---------------------------------------------------------------- document generators */

static void s_yaml_schema(s_buf_t *b, int i, const char *ind)
{
    s_put(b, "%stype: object\n%srequired: [name, kind]\n%sproperties:\n", ind, ind, ind);
    s_put(b, "%s  name: {type: string, maxLength: 128, description: \"Name of item %d\"}\n", ind, i);
    s_put(b, "%s  kind:\n%s    type: string\n%s    enum: [alpha, beta, gamma, delta]\n", ind, ind,
          ind);
    s_put(b, "%s  size: {type: integer, format: int64, minimum: 0, maximum: 1000000}\n", ind);
    s_put(b, "%s  ratio: {type: number, format: double, default: 0.5}\n", ind);
    s_put(b, "%s  tags:\n%s    type: array\n%s    items: {type: string, pattern: '^[a-z]+$'}\n",
          ind, ind, ind);
    s_put(b, "%s  enabled: {type: boolean, default: true, nullable: true}\n", ind);
}

static void s_yaml_operation(s_buf_t *b, int i, const char *method)
{
    s_put(b, "    %s:\n      operationId: %sItem%d\n", method, method, i);
    s_put(b, "      summary: \"%s item %d of the catalogue\"\n", method, i);
    s_put(b, "      description: |\n        Long description for operation %d.\n"
             "        It spans two lines so block scalars are exercised.\n", i);
    s_put(b, "      security: [{apiKey: []}, {oauth: [items.read, items.write]}]\n");
    s_put(b, "      x-examples: {sample: \"GET /items%d/abc?limit=20 returns twenty rows\"}\n", i);
    s_put(b, "      tags: [items, group%d]\n      parameters:\n", i % 50);
    s_put(b, "        - {name: id, in: path, required: true, schema: {type: string, format: uuid}}\n");
    s_put(b, "        - name: limit\n          in: query\n          schema: {type: integer, "
             "minimum: 1, maximum: 100, default: 20}\n");
    s_put(b, "        - name: X-Request-Id\n          in: header\n          required: false\n"
             "          schema: {type: string}\n");
    if (!strcmp(method, "post")) {
        s_put(b, "      requestBody:\n        required: true\n        content:\n"
                 "          application/json:\n            schema:\n");
        s_yaml_schema(b, i, "              ");
    }
    s_put(b, "      responses:\n        \"200\":\n          description: OK\n"
             "          content:\n            application/json:\n              schema:\n");
    s_yaml_schema(b, i, "                ");
    s_put(b, "        \"404\": {$ref: '#/components/responses/NotFound'}\n");
    s_put(b, "      x-barbacane-dispatch:\n        name: http-upstream\n"
             "        config: {url: \"https://backend.internal/items/%d\", timeout: 30.0}\n", i);
}

static s_buf_t s_make_yaml(int operations)
{
    s_buf_t b = {0};
    s_put(&b, "openapi: 3.1.0\ninfo:\n  title: Bench API\n  version: 1.0.0\npaths:\n");
    for (int i = 0; i < operations; i += 2) {
        s_put(&b, "  /items%d/{id}:\n", i);
        s_yaml_operation(&b, i, "get");
        s_yaml_operation(&b, i + 1, "post");
    }
    s_put(&b, "components:\n  responses:\n    NotFound:\n      description: Not found\n");
    return b;
}

static void s_json_operation(s_buf_t *b, int i, const char *method)
{
    const char *schema =
        "{\"type\":\"object\",\"required\":[\"name\",\"kind\"],\"properties\":{"
        "\"name\":{\"type\":\"string\",\"maxLength\":128},"
        "\"kind\":{\"type\":\"string\",\"enum\":[\"alpha\",\"beta\",\"gamma\",\"delta\"]},"
        "\"size\":{\"type\":\"integer\",\"format\":\"int64\",\"minimum\":0},"
        "\"ratio\":{\"type\":\"number\",\"default\":0.5},"
        "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
        "\"enabled\":{\"type\":\"boolean\",\"default\":true}}}";
    s_put(b, "\"%s\":{\"operationId\":\"%sItem%d\",\"summary\":\"%s item %d\",", method, method,
          i, method, i);
    s_put(b, "\"parameters\":[{\"name\":\"id\",\"in\":\"path\",\"required\":true,"
             "\"schema\":{\"type\":\"string\"}},{\"name\":\"limit\",\"in\":\"query\","
             "\"schema\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100}}],");
    if (!strcmp(method, "post"))
        s_put(b, "\"requestBody\":{\"content\":{\"application/json\":{\"schema\":%s}}},", schema);
    s_put(b, "\"responses\":{\"200\":{\"description\":\"OK\",\"content\":{\"application/json\":"
             "{\"schema\":%s}}}},\"x-barbacane-dispatch\":{\"name\":\"http-upstream\","
             "\"config\":{\"url\":\"https://backend.internal/items/%d\"}}}",
          schema, i);
}

static s_buf_t s_make_json(int operations)
{
    s_buf_t b = {0};
    s_put(&b, "{\"openapi\":\"3.1.0\",\"info\":{\"title\":\"Bench API\",\"version\":\"1\"},"
              "\"paths\":{");
    for (int i = 0; i < operations; i += 2) {
        s_put(&b, "%s\"/items%d/{id}\":{", i ? "," : "", i);
        s_json_operation(&b, i, "get");
        s_put(&b, ",");
        s_json_operation(&b, i + 1, "post");
        s_put(&b, "}\n");
    }
    s_put(&b, "}}\n");
    return b;
}

/* ---------------------------------------------------------------- timed runs */

static size_t s_count_nodes(const cm_spec_node_t *n)
{
    size_t total = 1;
    cm_node_kind_t kind = cm_spec_kind(n);
    for (size_t i = 0; i < cm_spec_len(n); i++) {
        const cm_spec_node_t *value = NULL;
        if (kind == CM_NODE_MAP) {
            cm_spec_key_at(n, i, &value);
            total += 1 + s_count_nodes(value);
        } else
            total += s_count_nodes(cm_spec_at(n, i));
    }
    return total;
}

static double s_load(const s_buf_t *doc, size_t *nodes, double *destroy_ms)
{
    cm_spec_issue_t issue;
    double t0 = s_now();
    cm_spec_doc_t *spec = cm_spec_load(doc->data, doc->len, NULL, &issue, 1, NULL);
    double elapsed = s_now() - t0;
    if (!spec) {
        fprintf(stderr, "cm_spec_load: E%d %d:%d %s\n", issue.code, issue.line, issue.column,
                issue.message);
        exit(2);
    }
    *nodes = s_count_nodes(cm_spec_root(spec));
    t0 = s_now();
    cm_spec_doc_destroy(&spec);
    *destroy_ms = s_now() - t0;
    return elapsed;
}

/* Best of S_RUNS for each; returns 0 when the ratio meets the target. */
static int s_compare(const char *name, const s_buf_t *doc)
{
    double best_events = 1e30, best_load = 1e30, destroy_ms = 0;
    size_t events = 0, nodes = 0;
    for (int r = 0; r < S_RUNS; r++) {
        double t = s_events_only(doc, NULL, &events);
        best_events = t < best_events ? t : best_events;
        t = s_load(doc, &nodes, &destroy_ms);
        best_load = t < best_load ? t : best_load;
    }
    double mb = (double)doc->len / 1e6, ratio = best_load / best_events;
    printf("%s: %.2f MB, %zu events, %zu nodes (%.1f bytes/node)\n", name, mb, events, nodes,
           (double)doc->len / (double)nodes);
    printf("  (a) libyaml events only: %8.1f ms  %6.1f MB/s\n", best_events,
           mb / (best_events / 1e3));
    printf("  (b) cm_spec_load:        %8.1f ms  %6.1f MB/s  (destroy %.1f ms)\n", best_load,
           mb / (best_load / 1e3), destroy_ms);
    printf("  ratio (b)/(a) = %.2f  target <= %.1f: %s\n", ratio, S_TARGET,
           ratio <= S_TARGET ? "met" : "NOT MET");
    return ratio <= S_TARGET ? 0 : 1;
}

int main(int argc, char **argv)
{
    int operations = argc > 1 ? atoi(argv[1]) : S_OPERATIONS;
    if (operations < 2)
        operations = S_OPERATIONS;
    s_buf_t yaml = s_make_yaml(operations), json = s_make_json(operations);
    printf("%d operations, best of %d runs\n", operations, S_RUNS);
    int rc = s_compare("YAML", &yaml) | s_compare("JSON", &json);
    free(yaml.data);
    free(json.data);
    return rc;
}
