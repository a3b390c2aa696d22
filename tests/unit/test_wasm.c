/* test_wasm.c — cmocka tests of common/cm_wasm.c: custom sections of modules built here byte by
 * byte (valid, truncated, LEB128 overflow), and the plugin.toml subset parser.
 * Owns: a tiny module builder and the manifest texts it embeds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cm_wasm.h"

/* ---------------------------------------------------------------- a module builder */

typedef struct {
    unsigned char b[8192];
    size_t n;
    size_t ends[16];                /* where each section ended, in order */
    size_t nends;
} s_mod_t;

static void s_bytes(s_mod_t *m, const void *p, size_t n)
{
    assert_true(m->n + n <= sizeof m->b);
    memcpy(m->b + m->n, p, n);
    m->n += n;
}

static void s_leb(s_mod_t *m, uint32_t v)
{
    do {
        unsigned char c = v & 0x7f;
        v >>= 7;
        if (v)
            c |= 0x80;
        s_bytes(m, &c, 1);
    } while (v);
}

static void s_header(s_mod_t *m)
{
    m->n = 0;
    m->nends = 0;
    s_bytes(m, "\0asm\x01\0\0\0", 8);
}

static void s_section(s_mod_t *m, unsigned char id, const void *body, size_t n)
{
    s_bytes(m, &id, 1);
    s_leb(m, (uint32_t) n);
    s_bytes(m, body, n);
    if (m->nends < 16)
        m->ends[m->nends++] = m->n;
}

static void s_custom(s_mod_t *m, const char *name, const void *payload, size_t n)
{
    s_mod_t body = { .n = 0, .nends = 0 };
    s_leb(&body, (uint32_t) strlen(name));
    s_bytes(&body, name, strlen(name));
    s_bytes(&body, payload, n);
    s_section(m, 0, body.b, body.n);
}

/* A type section with one () -> () function type, and a name section, before the manifest. */
static void s_typical(s_mod_t *m, const char *manifest)
{
    s_header(m);
    s_section(m, 1, "\x01\x60\x00\x00", 4);
    s_custom(m, "name", "\x00\x01\x00", 3);
    s_custom(m, CM_WASM_MANIFEST_SECTION, manifest, strlen(manifest));
    s_section(m, 3, "\x01\x00", 2);
}

/* ---------------------------------------------------------------- custom sections */

static void test_section_found(void **state)
{
    (void) state;
    s_mod_t m;
    s_typical(&m, "[plugin]\nname = \"x\"\n");
    const unsigned char *d = NULL;
    size_t n = 0;
    assert_int_equal(cm_wasm_custom_section(m.b, m.n, CM_WASM_MANIFEST_SECTION, &d, &n), 1);
    assert_int_equal(n, strlen("[plugin]\nname = \"x\"\n"));
    assert_memory_equal(d, "[plugin]\nname = \"x\"\n", n);
    assert_true(d > m.b && d + n <= m.b + m.n);
    assert_int_equal(cm_wasm_custom_section(m.b, m.n, "name", &d, &n), 1);
    assert_int_equal(n, 3);
    /* a name that is only a prefix of a section's name does not match, nor the reverse */
    assert_int_equal(cm_wasm_custom_section(m.b, m.n, "barbacane", &d, &n), 0);
    assert_int_equal(cm_wasm_custom_section(m.b, m.n, "barbacane_manifest2", &d, &n), 0);
}

static void test_section_first_of_two_and_empty(void **state)
{
    (void) state;
    s_mod_t m;
    s_header(&m);
    s_custom(&m, CM_WASM_MANIFEST_SECTION, "", 0);
    s_custom(&m, CM_WASM_MANIFEST_SECTION, "second", 6);
    const unsigned char *d = NULL;
    size_t n = 99;
    assert_int_equal(cm_wasm_custom_section(m.b, m.n, CM_WASM_MANIFEST_SECTION, &d, &n), 1);
    assert_int_equal(n, 0);
    assert_ptr_equal(d, m.b + m.n - (1 + 1 + 1 + 18 + 6));   /* end of the first section */
}

static void test_section_absent(void **state)
{
    (void) state;
    s_mod_t m;
    s_header(&m);
    const unsigned char *d = NULL;
    size_t n = 0;
    assert_int_equal(cm_wasm_custom_section(m.b, m.n, CM_WASM_MANIFEST_SECTION, &d, &n), 0);
    s_section(&m, 1, "\x01\x60\x00\x00", 4);
    s_custom(&m, "producers", "\x00", 1);
    assert_int_equal(cm_wasm_custom_section(m.b, m.n, CM_WASM_MANIFEST_SECTION, &d, &n), 0);
    assert_null(d);
}

static void test_section_bad_header(void **state)
{
    (void) state;
    const unsigned char *d;
    size_t n;
    assert_int_equal(cm_wasm_custom_section((const unsigned char *) "\0asm\x01\0\0", 7, "x", &d,
                                            &n), -1);
    assert_int_equal(cm_wasm_custom_section((const unsigned char *) "\0asn\x01\0\0\0", 8, "x",
                                            &d, &n), -1);
    /* a component (version 0x0d, layer 1) is not a core module */
    assert_int_equal(cm_wasm_custom_section((const unsigned char *) "\0asm\x0d\0\x01\0", 8, "x",
                                            &d, &n), -1);
    assert_int_equal(cm_wasm_custom_section(NULL, 8, "x", &d, &n), -1);
}

static void test_section_truncated(void **state)
{
    (void) state;
    s_mod_t m;
    s_typical(&m, "[plugin]\n");
    const unsigned char *d;
    size_t n;
    /* a prefix cut inside a section is malformed; one cut between sections is a shorter
     * module, with the manifest when its section (the third) is whole */
    for (size_t cut = 9; cut < m.n; cut++) {
        int want = -1;
        for (size_t k = 0; k < m.nends; k++)
            if (m.ends[k] == cut)
                want = k >= 2 ? 1 : 0;
        int got = cm_wasm_custom_section(m.b, cut, CM_WASM_MANIFEST_SECTION, &d, &n);
        if (got != want)
            fail_msg("a module cut at %zu of %zu: %d, want %d", cut, m.n, got, want);
    }
    assert_int_equal(cm_wasm_custom_section(m.b, m.n, CM_WASM_MANIFEST_SECTION, &d, &n), 1);
    /* a size that runs past the end, after the match too */
    s_header(&m);
    s_custom(&m, CM_WASM_MANIFEST_SECTION, "x", 1);
    s_bytes(&m, "\x01\x10\x00", 3);
    assert_int_equal(cm_wasm_custom_section(m.b, m.n, CM_WASM_MANIFEST_SECTION, &d, &n), -1);
    /* a custom section whose name runs past its own end */
    s_header(&m);
    s_section(&m, 0, "\x05" "ab", 3);
    s_custom(&m, "ok", "", 0);
    assert_int_equal(cm_wasm_custom_section(m.b, m.n, "ok", &d, &n), -1);
}

static void test_section_leb128(void **state)
{
    (void) state;
    s_mod_t m;
    const unsigned char *d;
    size_t n;
    /* non-minimal but valid 5-byte sizes are allowed by the format */
    s_header(&m);
    s_bytes(&m, "\x00\x83\x80\x80\x80\x00" "\x01" "ab", 9);
    assert_int_equal(cm_wasm_custom_section(m.b, m.n, "a", &d, &n), 1);
    assert_int_equal(n, 1);
    assert_int_equal(d[0], 'b');
    /* fifth byte with bits past 32: overflow */
    s_header(&m);
    s_bytes(&m, "\x00\x83\x80\x80\x80\x10" "\x01" "ab", 9);
    assert_int_equal(cm_wasm_custom_section(m.b, m.n, "a", &d, &n), -1);
    /* six bytes */
    s_header(&m);
    s_bytes(&m, "\x00\x83\x80\x80\x80\x80\x00" "\x01" "ab", 10);
    assert_int_equal(cm_wasm_custom_section(m.b, m.n, "a", &d, &n), -1);
    /* 0xffffffff: the largest u32, far past the end */
    s_header(&m);
    s_bytes(&m, "\x00\xff\xff\xff\xff\x0f", 6);
    assert_int_equal(cm_wasm_custom_section(m.b, m.n, "a", &d, &n), -1);
    /* a size whose continuation bit runs off the end */
    s_header(&m);
    s_bytes(&m, "\x00\x80", 2);
    assert_int_equal(cm_wasm_custom_section(m.b, m.n, "a", &d, &n), -1);
    /* the name length overflowing inside the section */
    s_header(&m);
    s_bytes(&m, "\x00\x06\xff\xff\xff\xff\x7f" "a", 8);
    assert_int_equal(cm_wasm_custom_section(m.b, m.n, "a", &d, &n), -1);
}

/* ---------------------------------------------------------------- plugin.toml */

static const char s_example[] =
    "[plugin]\n"
    "name = \"ai-prompt-guard\"\n"
    "version = \"0.1.0\"\n"
    "type = \"middleware\"\n"
    "description = \"Validates \xe2\x80\xa6 (ADR-0024).\"\n"
    "wasm = \"ai-prompt-guard.wasm\"\n"
    "\n"
    "[capabilities]\n"
    "host_functions = [\"log\", \"context_get\"]\n"
    "body_access = true\n";

static void test_toml_example_from_module(void **state)
{
    (void) state;
    s_mod_t m;
    s_typical(&m, s_example);
    const unsigned char *d;
    size_t n;
    assert_int_equal(cm_wasm_custom_section(m.b, m.n, CM_WASM_MANIFEST_SECTION, &d, &n), 1);
    cm_plugin_manifest_t pm;
    char err[128] = "";
    assert_int_equal(cm_plugin_manifest_parse((const char *) d, n, &pm, err, sizeof err), 0);
    assert_string_equal(pm.name, "ai-prompt-guard");
    assert_string_equal(pm.version, "0.1.0");
    assert_string_equal(pm.type, "middleware");
    assert_true(pm.has_capabilities);
    assert_true(pm.body_access);
    assert_int_equal(pm.n_host_functions, 2);
    assert_string_equal(pm.host_functions[0], "log");
    assert_string_equal(pm.host_functions[1], "context_get");
    cm_plugin_manifest_free(&pm);
    assert_null(pm.name);
    cm_plugin_manifest_free(&pm);                      /* idempotent */
}

static void s_parse_ok(const char *text, cm_plugin_manifest_t *pm)
{
    char err[128] = "";
    if (cm_plugin_manifest_parse(text, strlen(text), pm, err, sizeof err) != 0)
        fail_msg("refused: %s\n%s", err, text);
}

static void test_toml_comments_multiline_crlf(void **state)
{
    (void) state;
    cm_plugin_manifest_t pm;
    s_parse_ok("# a plugin\n"
               "  # indented comment\n"
               "[plugin]   # the table\n"
               "name = 'jwt-auth' # literal\n"
               "\"version\" = \"1.2.3\"\n"
               "type=\"dispatcher\"\n"
               "category = \"proxy\"\n"
               "\n"
               "[ capabilities ]\n"
               "host_functions = [\n"
               "    \"verify_signature\",   # crypto\n"
               "    # a comment line inside the array\n"
               "\n"
               "    'clock_now',\n"
               "    \"log\",\n"
               "]\n"
               "body_access = false\n", &pm);
    assert_string_equal(pm.name, "jwt-auth");
    assert_string_equal(pm.version, "1.2.3");
    assert_string_equal(pm.type, "dispatcher");
    assert_int_equal(pm.n_host_functions, 3);
    assert_string_equal(pm.host_functions[0], "verify_signature");
    assert_string_equal(pm.host_functions[1], "clock_now");
    assert_string_equal(pm.host_functions[2], "log");
    assert_false(pm.body_access);
    cm_plugin_manifest_free(&pm);
    s_parse_ok("[plugin]\r\nname = \"crlf\"\r\n[capabilities]\r\nhost_functions = [\r\n"
               "  \"a\",\r\n]\r\n", &pm);
    assert_string_equal(pm.name, "crlf");
    assert_int_equal(pm.n_host_functions, 1);
    cm_plugin_manifest_free(&pm);
    s_parse_ok("", &pm);                               /* empty text: nothing known */
    assert_null(pm.name);
    assert_false(pm.has_capabilities);
    cm_plugin_manifest_free(&pm);
}

static void test_toml_escapes(void **state)
{
    (void) state;
    cm_plugin_manifest_t pm;
    s_parse_ok("[plugin]\n"
               "name = \"a\\tb\\\"c\\\\d\\u00e9\\U0001F600\\n\\b\\f\\r\"\n"
               "version = 'C:\\path\\n'\n"
               "type = \"\"\n", &pm);
    assert_string_equal(pm.name, "a\tb\"c\\d\xc3\xa9\xf0\x9f\x98\x80\n\b\f\r");
    assert_string_equal(pm.version, "C:\\path\\n");     /* literal: no escapes */
    assert_string_equal(pm.type, "");
    cm_plugin_manifest_free(&pm);
}

static void test_toml_missing_capabilities_and_unknowns(void **state)
{
    (void) state;
    cm_plugin_manifest_t pm;
    s_parse_ok("top = 1\n"
               "[plugin]\n"
               "name = \"mock\"\n"
               "retries = -3\n"
               "size = 1_000_000\n"
               "flag = true\n"
               "tags = []\n"
               "[config]\n"
               "host_functions = [\"not-these\"]\n"
               "[plugin.extra]\n"
               "name = \"nor-this\"\n", &pm);
    assert_string_equal(pm.name, "mock");
    assert_null(pm.version);
    assert_false(pm.has_capabilities);
    assert_false(pm.body_access);
    assert_null(pm.host_functions);
    assert_int_equal(pm.n_host_functions, 0);
    cm_plugin_manifest_free(&pm);
    s_parse_ok("[capabilities]\nhost_functions = []\n", &pm);
    assert_true(pm.has_capabilities);
    assert_int_equal(pm.n_host_functions, 0);
    assert_non_null(pm.host_functions);               /* given, and empty */
    cm_plugin_manifest_free(&pm);
}

static void s_parse_err(const char *text, size_t len, const char *line)
{
    cm_plugin_manifest_t pm;
    char err[128] = "";
    assert_int_equal(cm_plugin_manifest_parse(text, len, &pm, err, sizeof err), -1);
    assert_null(pm.name);
    assert_null(pm.host_functions);
    if (strncmp(err, line, strlen(line)) != 0)
        fail_msg("error '%s' for:\n%s\nwant it to start with '%s'", err, text, line);
}

static void test_toml_errors(void **state)
{
    (void) state;
    static const struct { const char *text, *line; } cases[] = {
        { "[plugin]\nname = \"x\"\nthis is not toml\n", "line 3:" },
        { "[plugin]\nname = \"unterminated\n", "line 2:" },
        { "[plugin]\nname = 5\n", "line 2: name must be a string" },
        { "[plugin]\nname = \"a\"\nname = \"b\"\n", "line 3: name defined twice" },
        { "[plugin]\n[plugin]\n", "line 2: table [plugin] defined twice" },
        { "[capabilities]\nbody_access = \"yes\"\n", "line 2: body_access must be" },
        { "[capabilities]\nhost_functions = \"log\"\n", "line 2: host_functions must be" },
        { "[capabilities]\nhost_functions = [1, 2]\n", "line 2: arrays may hold only" },
        { "[capabilities]\nhost_functions = [\"a\" \"b\"]\n", "line 2: expected , or ]" },
        { "[capabilities]\nhost_functions = [\n\"a\",\n\"b\"\n", "line 5:" },
        { "[capabilities]\nhost_functions = [[\"a\"]]\n", "line 2: arrays may hold only" },
        { "x = 1.5\n", "line 1: floats" },
        { "x = 1979-05-27\n", "line 1: floats" },
        { "x = 0x1f\n", "line 1: floats" },
        { "x = 012\n", "line 1: malformed integer" },
        { "x = 1__0\n", "line 1: malformed integer" },
        { "x = 1_\n", "line 1: malformed integer" },
        { "x = 1234567890123456789\n", "line 1: integer longer" },
        { "x = trueish\n", "line 1:" },
        { "x = { a = 1 }\n", "line 1: inline tables" },
        { "[[plugin]]\n", "line 1: arrays of tables" },
        { "x = \"\"\"multi\nline\"\"\"\n", "line 1: multi-line strings" },
        { "x = '''multi'''\n", "line 1: multi-line strings" },
        { "\n\nx = \"bad \\q escape\"\n", "line 3: unknown escape" },
        { "x = \"\\uD800\"\n", "line 1: escape is not a Unicode scalar" },
        { "x = \"\\u12\"\n", "line 1: bad \\u escape" },
        { "x = \"\\u0000\"\n", "line 1: NUL in a string" },
        { "x = \"tab\tok but bell \a not\"\n", "line 1: control character" },
        { "x = \"a\" \"b\"\n", "line 1: unexpected text after the value" },
        { "[plugin] extra\n", "line 1: unexpected text" },
        { "[plugin\n", "line 1: expected ]" },
        { "x\n", "line 1: expected = after the key" },
        { "x =\n", "line 1:" },
        { "= 1\n", "line 1: expected a key" },
        { "x = 1\ry = 2\n", "line 1: unexpected text" },
        { "x = \"\xc3\x28\"\n", "line 1: manifest is not UTF-8" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        s_parse_err(cases[i].text, strlen(cases[i].text), cases[i].line);
    s_parse_err("x = 1\0y = 2\n", 12, "line 1: manifest is not UTF-8 text (or holds a NUL)");
    s_parse_err(NULL, 0, "line 1: manifest missing");
}

static void test_toml_bounds(void **state)
{
    (void) state;
    /* the text */
    char *big = malloc(CM_WASM_MAX_MANIFEST + 2);
    assert_non_null(big);
    memset(big, '\n', CM_WASM_MAX_MANIFEST + 1);
    cm_plugin_manifest_t pm;
    char err[128];
    assert_int_equal(cm_plugin_manifest_parse(big, CM_WASM_MAX_MANIFEST, &pm, err, sizeof err), 0);
    cm_plugin_manifest_free(&pm);
    s_parse_err(big, CM_WASM_MAX_MANIFEST + 1, "line 1: manifest missing or larger");
    /* one string: exactly the bound, then one byte more */
    int n = snprintf(big, CM_WASM_MAX_MANIFEST, "[plugin]\nname = \"%0*d\"\n",
                     CM_WASM_MAX_STRING, 0);
    assert_int_equal(cm_plugin_manifest_parse(big, (size_t) n, &pm, err, sizeof err), 0);
    assert_int_equal(strlen(pm.name), CM_WASM_MAX_STRING);
    cm_plugin_manifest_free(&pm);
    n = snprintf(big, CM_WASM_MAX_MANIFEST, "[plugin]\nname = \"%0*d\"\n",
                 CM_WASM_MAX_STRING + 1, 0);
    s_parse_err(big, (size_t) n, "line 2: string longer");
    /* one array: exactly the bound, then one item more */
    for (int items = CM_WASM_MAX_ARRAY; items <= CM_WASM_MAX_ARRAY + 1; items++) {
        size_t at = (size_t) snprintf(big, 64, "[capabilities]\nhost_functions = [");
        for (int i = 0; i < items; i++)
            at += (size_t) snprintf(big + at, 16, "\"h%d\",", i);
        at += (size_t) snprintf(big + at, 8, "]\n");
        if (items == CM_WASM_MAX_ARRAY) {
            assert_int_equal(cm_plugin_manifest_parse(big, at, &pm, err, sizeof err), 0);
            assert_int_equal(pm.n_host_functions, CM_WASM_MAX_ARRAY);
            assert_string_equal(pm.host_functions[CM_WASM_MAX_ARRAY - 1], "h255");
            cm_plugin_manifest_free(&pm);
        } else
            s_parse_err(big, at, "line 2: array longer");
    }
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_section_found),
        cmocka_unit_test(test_section_first_of_two_and_empty),
        cmocka_unit_test(test_section_absent),
        cmocka_unit_test(test_section_bad_header),
        cmocka_unit_test(test_section_truncated),
        cmocka_unit_test(test_section_leb128),
        cmocka_unit_test(test_toml_example_from_module),
        cmocka_unit_test(test_toml_comments_multiline_crlf),
        cmocka_unit_test(test_toml_escapes),
        cmocka_unit_test(test_toml_missing_capabilities_and_unknowns),
        cmocka_unit_test(test_toml_errors),
        cmocka_unit_test(test_toml_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
