/*  bench_compile.c — the compiler on generated specs (artifact included, and check only), next to
 *  a libyaml event parse; time and child peak RSS. Figures only. Owns the generated documents. */

#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include "bench_util.h"
#include "cc_compile.h"

#define S_BIG_OPS 5000
#define S_SMALL_OPS 120
#define S_RUNS 3

/* ---------------------------------------------------------------- the registry */

static const unsigned char s_wasm[8] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};

static int s_lookup(void *arg, const char *name, const char *version, cc_plugin_t *out)
{
    (void)arg;
    (void)version;
    static const char *const known[][3] = {
        {"http-upstream", "dispatcher",
         "{\"type\":\"object\",\"required\":[\"url\"],\"properties\":{\"url\":{\"type\":"
         "\"string\",\"pattern\":\"^https://\"},\"timeout\":{\"type\":\"number\",\"minimum\":0,"
         "\"maximum\":300},\"forward\":{\"type\":\"array\",\"format\":\"header-name\"}},"
         "\"additionalProperties\":false}"},
        {"rate-limit", "middleware", "{}"},
        {"cors", "middleware", "{}"},
    };
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
        if (strcmp(name, known[i][0]))
            continue;
        memset(out, 0, sizeof *out);
        out->name = strdup(name);
        out->version = strdup("1.0.0");
        out->plugin_type = strdup(known[i][1]);
        out->config_schema = strdup(known[i][2]);
        out->wasm = malloc(sizeof s_wasm);
        memcpy(out->wasm, s_wasm, sizeof s_wasm);
        out->wasm_len = sizeof s_wasm;
        return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- the document */

static void s_components(s_buf_t *b)
{
    s_put(b, "components:\n"
             "  parameters:\n"
             "    Limit:\n      name: limit\n      in: query\n      schema:\n"
             "        type: integer\n        minimum: 1\n        maximum: 100\n        default: 20\n"
             "    Cursor:\n      name: cursor\n      in: query\n      schema:\n"
             "        type: string\n        maxLength: 256\n");
    s_put(b, "  responses:\n    NotFound:\n      description: Not found\n      content:\n"
             "        application/json:\n          schema:\n"
             "            $ref: '#/components/schemas/Error'\n"
             "          example:\n            code: 404\n            message: no such item\n");
    s_put(b, "  securitySchemes:\n    key:\n      type: apiKey\n      in: header\n"
             "      name: X-API-Key\n");
    s_put(b, "  schemas:\n"
             "    Error:\n      type: object\n      required:\n        - code\n        - message\n"
             "      properties:\n        code:\n          type: integer\n"
             "        message:\n          type: string\n"
             "    Tag:\n      type: object\n      properties:\n        name:\n          type: string\n"
             "    Item:\n      type: object\n      required:\n        - name\n      properties:\n"
             "        name:\n          type: string\n          maxLength: 128\n"
             "        size:\n          type: integer\n          minimum: 0\n"
             "        tags:\n          type: array\n          items:\n"
             "            $ref: '#/components/schemas/Tag'\n");
}

/* One operation in block style, as YAML dumpers and people write it (about 2 KB):
 * documentation and examples (which routes.json drops), shared parameters and schemas by
 * $ref, a header parameter, a middleware on every third operation. */
static void s_operation(s_buf_t *b, int i, const char *method)
{
    s_put(b, "    %s:\n      operationId: %sItem%d\n", method, method, i);
    s_put(b, "      summary: \"%s item %d of the catalogue\"\n", method, i);
    s_put(b, "      description: |\n        Long description for operation %d, which says what\n"
             "        the operation does, what it returns and which errors it reports.\n"
             "        It spans several lines so block scalars are exercised, as in real specs\n"
             "        written by people who document their APIs properly.\n", i);
    s_put(b, "      tags:\n        - items\n        - group%d\n      externalDocs:\n"
             "        url: 'https://docs.example.com/items/%d'\n        description: Reference\n",
          i % 50, i);
    s_put(b, "      parameters:\n        - $ref: '#/components/parameters/Limit'\n"
             "        - $ref: '#/components/parameters/Cursor'\n"
             "        - name: X-Request-Id\n          in: header\n"
             "          description: Correlates the request with the logs of every service.\n"
             "          schema:\n            type: string\n"
             "            pattern: '^[A-Za-z0-9-]{8,64}$'\n");
    if (!strcmp(method, "post"))
        s_put(b, "      requestBody:\n        required: true\n        content:\n"
                 "          application/json:\n            schema:\n"
                 "              $ref: '#/components/schemas/Item'\n"
                 "            example:\n              name: widget-%d\n              size: 3\n"
                 "              tags:\n                - name: blue\n                - name: small\n",
              i);
    s_put(b, "      responses:\n        \"200\":\n          description: The item, with its "
             "tags and its size.\n          content:\n            application/json:\n"
             "              schema:\n                $ref: '#/components/schemas/Item'\n"
             "              examples:\n                small:\n                  summary: A "
             "small blue widget\n                  value:\n                    name: widget-%d\n"
             "                    size: 3\n                    tags:\n"
             "                      - name: blue\n                      - name: small\n"
             "                large:\n                  summary: A large widget without tags\n"
             "                  value:\n                    name: widget-%d-xl\n"
             "                    size: 120\n                    tags: []\n"
             "        \"404\":\n          $ref: '#/components/responses/NotFound'\n", i, i);
    s_put(b, "      x-code-samples:\n        - lang: shell\n          source: |\n"
             "            curl -H 'X-API-Key: $KEY' https://api.example.com/items%d/123\n"
             "        - lang: python\n          source: |\n            import requests\n"
             "            r = requests.%s('https://api.example.com/items%d/123',\n"
             "                            headers={'X-API-Key': KEY})\n"
             "            r.raise_for_status()\n            print(r.json())\n", i, method, i);
    if (i % 3 == 0)
        s_put(b, "      x-barbacane-middlewares:\n        - name: rate-limit\n"
                 "          config:\n            quota: %d\n            window: 60\n", 100 + i % 7);
    s_put(b, "      x-barbacane-dispatch:\n        name: http-upstream\n        config:\n"
             "          url: \"https://backend.internal/items/%d\"\n          timeout: 30.0\n"
             "          forward:\n            - X-Tenant\n", i);
}

static s_buf_t s_make(int operations)
{
    s_buf_t b = {0};
    s_put(&b, "openapi: 3.1.0\ninfo:\n  title: Bench API\n  version: 1.0.0\n"
              "security: [{key: []}]\nx-barbacane-middlewares:\n  - name: cors\n"
              "    config: {origins: ['https://a.example', 'https://b.example']}\npaths:\n");
    for (int i = 0; i < operations; i += 2) {
        s_put(&b, "  /items%d/{id}:\n    parameters:\n      - name: id\n        in: path\n"
                  "        required: true\n        schema:\n          type: string\n"
                  "          format: uuid\n", i);
        s_operation(&b, i, "get");
        s_operation(&b, i + 1, "post");
    }
    s_components(&b);
    return b;
}

/* ---------------------------------------------------------------- measurements */

typedef struct {
    double ms, cpu_ms;
    long status, routes, bca, findings;
} s_report_t;

static s_report_t s_compile_once(const s_buf_t *doc, bool check_only)
{
    cc_input_t in = {"api.yaml", (const unsigned char *)doc->data, doc->len};
    cc_options_t o = {.compiled_at = "2026-01-01T00:00:00Z", .compiler_version = "bench",
                      .check_only = check_only};
    cc_result_t r;
    double t0 = s_now(), c0 = s_cpu();
    cc_status_t st = cc_compile(&in, 1, &o, s_lookup, NULL, &r);
    s_report_t rep = {s_now() - t0, s_cpu() - c0, st, (long)r.routes_len, (long)r.artifact.len,
                      (long)r.nfindings};
    if (st != CC_OK)
        for (size_t i = 0; i < r.nfindings && i < 5; i++)
            fprintf(stderr, "  %s %s %s\n", r.findings[i].code, r.findings[i].location,
                    r.findings[i].message);
    cc_result_free(&r);
    return rep;
}

/* Generates the document and compiles it in a child, so its peak RSS is the compile's. */
static int s_child_run(int operations, bool check_only, s_report_t *rep, long *maxrss_kb,
                       long *before_kb, size_t *len)
{
    int fd[2];
    if (pipe(fd) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        s_buf_t doc = s_make(operations);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        long before = ru.ru_maxrss;
        s_report_t r = s_compile_once(&doc, check_only);
        size_t n = doc.len;
        if (write(fd[1], &r, sizeof r) != sizeof r || write(fd[1], &before, sizeof before) < 0 ||
            write(fd[1], &n, sizeof n) < 0)
            _exit(1);
        _exit(0);
    }
    close(fd[1]);
    ssize_t got = read(fd[0], rep, sizeof *rep);
    got += read(fd[0], before_kb, sizeof *before_kb);
    got += read(fd[0], len, sizeof *len);
    close(fd[0]);
    int wst;
    struct rusage ru;
    if (wait4(pid, &wst, 0, &ru) < 0 || got != sizeof *rep + sizeof *before_kb + sizeof *len)
        return -1;
    *maxrss_kb = ru.ru_maxrss;
    return 0;
}

typedef struct {
    s_report_t best;                    /* fastest wall and CPU times */
    long rss, before;                   /* the largest peak, and the RSS before compiling */
} s_mode_t;

static int s_runs(int operations, bool check_only, s_mode_t *m)
{
    m->best = (s_report_t){.ms = 1e30, .cpu_ms = 1e30};
    m->rss = m->before = 0;
    for (int r = 0; r < S_RUNS; r++) {
        s_report_t one;
        long rss, before;
        size_t len;
        if (s_child_run(operations, check_only, &one, &rss, &before, &len) < 0)
            return -1;
        double ms = one.ms < m->best.ms ? one.ms : m->best.ms;
        double cpu = one.cpu_ms < m->best.cpu_ms ? one.cpu_ms : m->best.cpu_ms;
        m->best = one;
        m->best.ms = ms;
        m->best.cpu_ms = cpu;
        if (rss > m->rss)
            m->rss = rss, m->before = before;
    }
    return 0;
}

static void s_print(const char *name, const char *mode, const s_mode_t *m, double events,
                    double events_cpu, double mb, double target_ms)
{
    double rss_mb = (double)m->rss * 1024 / 1e6;
    printf("compile-bench: %s %s: compile %.1f ms wall (%.1f ms CPU), ratio to events-only "
           "%.2f wall, %.2f CPU (target <= 5.0)\n", name, mode, m->best.ms, m->best.cpu_ms,
           m->best.ms / events, m->best.cpu_ms / events_cpu);
    if (target_ms > 0)
        printf("compile-bench: %s %s: %.1f ms CPU against a %.0f ms target: %s\n", name, mode,
               m->best.cpu_ms, target_ms, m->best.cpu_ms <= target_ms ? "met" : "NOT MET");
    printf("compile-bench: %s %s: peak RSS %.1f MB (%.1f MB before compiling), %.2f x the "
           "file (target <= 8.0)\n", name, mode, rss_mb, (double)m->before * 1024 / 1e6,
           rss_mb / mb);
}

static void s_bench(const char *name, int operations, double target_ms)
{
    s_buf_t doc = s_make(operations);
    double events = 1e30, events_cpu = 1e30;
    for (int r = 0; r < S_RUNS; r++) {
        double cpu, t = s_events_only(&doc, &cpu, NULL);
        events = t < events ? t : events;
        events_cpu = cpu < events_cpu ? cpu : events_cpu;
    }
    s_mode_t full, check;
    if (s_runs(operations, false, &full) < 0 || s_runs(operations, true, &check) < 0) {
        printf("compile-bench: %s: the child failed\n", name);
        free(doc.data);
        return;
    }
    double mb = (double)doc.len / 1e6;
    printf("compile-bench: %s: %.2f MB YAML, %d operations, status %ld, routes.json %.2f MB "
           "(%.2f x the YAML), .bca %.2f MB; libyaml events only %.1f ms (%.1f ms CPU)\n",
           name, mb, operations, full.best.status, (double)full.best.routes / 1e6,
           (double)full.best.routes / (double)doc.len, (double)full.best.bca / 1e6, events,
           events_cpu);
    s_print(name, "end to end", &full, events, events_cpu, mb, target_ms);
    s_print(name, "check only (no artifact)", &check, events, events_cpu, mb, target_ms);
    free(doc.data);
}

int main(int argc, char **argv)
{
    int big = argc > 1 ? atoi(argv[1]) : S_BIG_OPS;
    if (big < 2)
        big = S_BIG_OPS;
    printf("compile-bench: best of %d runs, each compile in a forked child\n", S_RUNS);
    s_bench("small", S_SMALL_OPS, 30.0);
    s_bench("big", big, 0);
    return 0;
}
