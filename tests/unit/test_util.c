/* test_util.c — cmocka unit tests for common/cm_util.c, cm_problem.c and cm_config.c.
 * Owns: known-answer vectors (SHA-256, RFC 4648) and a small option table for the config parser. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cm_backoff.h"
#include "cm_config.h"
#include "cm_problem.h"
#include "cm_util.h"

/* ---------------------------------------------------------------- ids */

static int s_cmp_str(const void *a, const void *b)
{
    return strcmp((const char *) a, (const char *) b);
}

static void test_uuid_v4_format(void **state)
{
    (void) state;
    enum { N = 1000 };
    static char ids[N][CM_UUID_LEN + 1];
    bool variants[4] = { false, false, false, false };
    for (int i = 0; i < N; i++) {
        char *u = ids[i];
        memset(u, 'X', CM_UUID_LEN + 1);
        assert_int_equal(cm_uuid_v4(u), 0);
        assert_int_equal(strlen(u), 36);
        for (int k = 0; k < 36; k++) {
            if (k == 8 || k == 13 || k == 18 || k == 23)
                assert_int_equal(u[k], '-');
            else if (!((u[k] >= '0' && u[k] <= '9') || (u[k] >= 'a' && u[k] <= 'f')))
                fail_msg("uuid %s: char %d '%c' is not lowercase hex", u, k, u[k]);
        }
        assert_int_equal(u[14], '4'); /* version */
        static const char variant_chars[] = "89ab"; /* variant 10xx */
        const char *v = u[19] ? strchr(variant_chars, u[19]) : NULL;
        if (!v)
            fail_msg("uuid %s: variant nibble '%c'", u, u[19]);
        variants[v - variant_chars] = true;
        assert_true(cm_uuid_valid(u));
    }
    /* The variant's two free bits are random: all four values occur in 1000 draws. */
    for (int k = 0; k < 4; k++)
        assert_true(variants[k]);
    qsort(ids, N, sizeof ids[0], s_cmp_str);
    for (int i = 1; i < N; i++)
        if (strcmp(ids[i - 1], ids[i]) == 0)
            fail_msg("duplicate uuid %s", ids[i]);
}

static void test_uuid_valid(void **state)
{
    (void) state;
    assert_true(cm_uuid_valid("1b4e28ba-2fa1-41d2-883f-0016d3cca427"));
    assert_true(cm_uuid_valid("1B4E28BA-2FA1-41D2-883F-0016D3CCA427")); /* either case */
    assert_true(cm_uuid_valid("00000000-0000-0000-0000-000000000000"));
    static const char *const bad[] = {
        "",
        "1b4e28ba-2fa1-41d2-883f-0016d3cca42",    /* 35 chars */
        "1b4e28ba-2fa1-41d2-883f-0016d3cca4271",  /* 37 chars */
        "1b4e28ba2fa141d2883f0016d3cca427",       /* no dashes */
        "1b4e28ba-2fa1-41d2-883f0-016d3cca427",   /* dash misplaced */
        "1b4e28ba-2fa1-41d2-883f-0016d3cca42g",   /* not hex */
        "{1b4e28ba-2fa1-41d2-883f-0016d3cca427}", /* braces */
        " 1b4e28ba-2fa1-41d2-883f-0016d3cca427",  /* leading space */
        "1b4e28ba-2fa1-41d2-883f-0016d3cca427 ",  /* trailing space */
        "1b4e28ba_2fa1_41d2_883f_0016d3cca427",   /* underscores */
        "not-a-uuid",
        "../../etc/passwd",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (cm_uuid_valid(bad[i]))
            fail_msg("'%s' accepted as a uuid", bad[i]);
    assert_false(cm_uuid_valid(NULL));
}

static void test_uuid_normalize(void **state)
{
    (void) state;
    char out[CM_UUID_LEN + 1];
    assert_true(cm_uuid_normalize("1B4E28BA-2FA1-41D2-883F-0016D3CCA427", out));
    assert_string_equal(out, "1b4e28ba-2fa1-41d2-883f-0016d3cca427");
    assert_true(cm_uuid_normalize("1b4e28ba-2fa1-41d2-883f-0016d3cca427", out));
    assert_string_equal(out, "1b4e28ba-2fa1-41d2-883f-0016d3cca427");
    memset(out, 'Q', sizeof out);
    assert_false(cm_uuid_normalize("1B4E28BA-2FA1-41D2-883F-0016D3CCA42", out));
    assert_false(cm_uuid_normalize("zzzzzzzz-2FA1-41D2-883F-0016D3CCA427", out));
    assert_false(cm_uuid_normalize(NULL, out));
    for (size_t i = 0; i < sizeof out; i++)
        assert_int_equal(out[i], 'Q'); /* untouched on failure */
}

static void test_request_id_valid(void **state)
{
    (void) state;
    char s[200];
    memset(s, 'a', sizeof s);
    s[7] = '\0';
    assert_false(cm_request_id_valid(s)); /* 7 */
    s[7] = 'a';
    s[8] = '\0';
    assert_true(cm_request_id_valid(s)); /* 8 */
    s[8] = 'a';
    s[128] = '\0';
    assert_true(cm_request_id_valid(s)); /* 128 */
    s[128] = 'a';
    s[129] = '\0';
    assert_false(cm_request_id_valid(s)); /* 129 */
    assert_true(cm_request_id_valid("Az09._:-"));
    assert_true(cm_request_id_valid("req-2024.01.01:abc_DEF"));
    assert_true(cm_request_id_valid("1b4e28ba-2fa1-41d2-883f-0016d3cca427"));
    assert_false(cm_request_id_valid("abcd efgh"));
    assert_false(cm_request_id_valid("abcd/efgh"));
    assert_false(cm_request_id_valid("abcdefgh\n"));
    assert_false(cm_request_id_valid("abcd\tefgh"));
    assert_false(cm_request_id_valid("abcdéfgh"));
    assert_false(cm_request_id_valid("abcd+efgh"));
    assert_false(cm_request_id_valid("abcd\"efgh"));
    assert_false(cm_request_id_valid("abcd%0aefgh"));
    assert_false(cm_request_id_valid(""));
    assert_false(cm_request_id_valid(NULL));
}

/* ---------------------------------------------------------------- hashing and encodings */

static void test_sha256(void **state)
{
    (void) state;
    char hex[65];
    memset(hex, 'X', sizeof hex);
    cm_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    cm_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    static const char two_blocks[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    cm_sha256_hex(two_blocks, sizeof two_blocks - 1, hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    unsigned char raw[32];
    cm_sha256("abc", 3, raw);
    assert_int_equal(raw[0], 0xba);
    assert_int_equal(raw[31], 0xad);
    /* Length is honoured: NUL bytes are data. */
    cm_sha256_hex("abc\0", 4, hex);
    assert_string_not_equal(hex,
                            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_hex(void **state)
{
    (void) state;
    static const unsigned char in[] = { 0x00, 0x0f, 0xa5, 0xff };
    char out[9];
    cm_hex(in, sizeof in, out);
    assert_string_equal(out, "000fa5ff");
    cm_hex(in, 0, out);
    assert_string_equal(out, "");
}

static void s_b64(const char *in, size_t n, const char *want)
{
    char out[64];
    memset(out, '#', sizeof out);
    size_t got = cm_base64url((const unsigned char *) in, n, out);
    if (strcmp(out, want) != 0)
        fail_msg("base64url of %zu bytes: '%s', want '%s'", n, out, want);
    assert_int_equal(got, strlen(want));
    assert_int_equal(out[got + 1], '#'); /* nothing written past the terminator */
}

static void test_base64url(void **state)
{
    (void) state;
    /* RFC 4648 section 10, url-safe alphabet, no padding. */
    s_b64("", 0, "");
    s_b64("f", 1, "Zg");
    s_b64("fo", 2, "Zm8");
    s_b64("foo", 3, "Zm9v");
    s_b64("foob", 4, "Zm9vYg");
    s_b64("fooba", 5, "Zm9vYmE");
    s_b64("foobar", 6, "Zm9vYmFy");
    s_b64("\xfb\xff", 2, "-_8");  /* "+/8=" in the standard alphabet */
    s_b64("\xfb\xef\xbe", 3, "----");
    s_b64("\xff\xff\xff", 3, "____");
    s_b64("\0\0\0", 3, "AAAA");

    unsigned char key[32];
    for (int i = 0; i < 32; i++)
        key[i] = (unsigned char) i;
    char out[4 * 11 + 1];
    assert_int_equal(cm_base64url(key, 32, out), 43);
    assert_int_equal(strlen(out), 43);
    assert_string_equal(out, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8");
    /* Random keys: always 43 url-safe characters (the bbk_ key body). */
    for (int t = 0; t < 100; t++) {
        assert_int_equal(cm_random_bytes(key, 32), 0);
        assert_int_equal(cm_base64url(key, 32, out), 43);
        assert_int_equal(strspn(out, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                     "0123456789-_"),
                         43);
    }
}

static void test_random_bytes(void **state)
{
    (void) state;
    unsigned char a[32], b[32];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    assert_int_equal(cm_random_bytes(a, sizeof a), 0);
    assert_int_equal(cm_random_bytes(b, sizeof b), 0);
    assert_memory_not_equal(a, b, sizeof a);
}

static void test_ct_equal(void **state)
{
    (void) state;
    assert_true(cm_ct_equal("abcdef", "abcdef", 6));
    assert_false(cm_ct_equal("abcdef", "abcdeg", 6));
    assert_false(cm_ct_equal("abcdef", "Abcdef", 6));
    assert_true(cm_ct_equal("abcdef", "abcxyz", 3)); /* only len bytes compared */
    assert_true(cm_ct_equal("a", "b", 0));
    unsigned char x[64], y[64];
    memset(x, 0x5a, sizeof x);
    memcpy(y, x, sizeof y);
    assert_true(cm_ct_equal(x, y, sizeof x));
    y[63] ^= 0x80;
    assert_false(cm_ct_equal(x, y, sizeof x));
}

static bool s_u8(const char *s, size_t n)
{
    return cm_utf8_valid((const unsigned char *) s, n);
}

static void test_utf8_valid(void **state)
{
    (void) state;
    assert_true(s_u8("", 0));
    assert_true(s_u8("hello", 5));
    assert_true(s_u8("h\xc3\xa9llo", 6));         /* é */
    assert_true(s_u8("\xe2\x82\xac", 3));         /* € */
    assert_true(s_u8("\xf0\x9d\x84\x9e", 4));     /* U+1D11E */
    assert_true(s_u8("\xf4\x8f\xbf\xbf", 4));     /* U+10FFFF */
    assert_true(s_u8("\xc2\x80", 2));             /* U+0080, smallest 2-byte */
    assert_true(s_u8("\xe0\xa0\x80", 3));         /* U+0800, smallest 3-byte */
    assert_true(s_u8("\xed\x9f\xbf", 3));         /* U+D7FF, just below surrogates */
    assert_true(s_u8("\xee\x80\x80", 3));         /* U+E000, just above */

    assert_false(s_u8("\xc0\xaf", 2));            /* overlong '/' */
    assert_false(s_u8("\xc1\xbf", 2));            /* overlong */
    assert_false(s_u8("\xe0\x80\xaf", 3));        /* overlong 3-byte */
    assert_false(s_u8("\xf0\x80\x80\xaf", 4));    /* overlong 4-byte */
    assert_false(s_u8("\xed\xa0\x80", 3));        /* U+D800 surrogate */
    assert_false(s_u8("\xed\xbf\xbf", 3));        /* U+DFFF surrogate */
    assert_false(s_u8("\xe2\x82", 2));            /* truncated */
    assert_false(s_u8("\xc3", 1));                /* truncated */
    assert_false(s_u8("\xc3\xa9", 1));            /* truncated by len, next byte present */
    assert_false(s_u8("a\0b", 3));                /* NUL */
    assert_false(s_u8("\0", 1));
    assert_false(s_u8("\xf4\x90\x80\x80", 4));    /* U+110000 */
    assert_false(s_u8("\xf5\x80\x80\x80", 4));
    assert_false(s_u8("\xf8\x88\x80\x80\x80", 5)); /* 5-byte form */
    assert_false(s_u8("\xff", 1));
    assert_false(s_u8("\x80", 1));                /* lone continuation */
    assert_false(s_u8("\xc3\x28", 2));            /* bad continuation */
    assert_false(s_u8("ok\xe2\x28\xa1", 5));
}

static void s_trim(const char *in, const char *want)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", in);
    char *r = cm_trim(buf);
    assert_ptr_equal(r, buf);
    if (strcmp(buf, want) != 0)
        fail_msg("trim('%s') = '%s', want '%s'", in, buf, want);
}

static void test_trim(void **state)
{
    (void) state;
    s_trim("  abc \t\n", "abc");
    s_trim("abc", "abc");
    s_trim("", "");
    s_trim("   ", "");
    s_trim("\r\n\t\v\f x", "x");
    s_trim("x \r\n", "x");
    s_trim(" a b ", "a b");
    s_trim("a\t\tb", "a\t\tb");
}

/* ---------------------------------------------------------------- time */

static void test_time_rfc3339(void **state)
{
    (void) state;
    regex_t re;
    assert_int_equal(regcomp(&re,
                             "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T"
                             "([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\\.[0-9]{3}Z$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    char out[CM_TIME_LEN + 1];
    /* A local zone far from UTC (POSIX TZ string, no tzdata needed) exposes local time. */
    const char *tz = getenv("TZ");
    char *saved = tz ? strdup(tz) : NULL;
    setenv("TZ", "BBT-5:30", 1);
    tzset();
    time_t before = time(NULL);
    cm_time_rfc3339(out);
    time_t after = time(NULL);
    if (saved)
        setenv("TZ", saved, 1);
    else
        unsetenv("TZ");
    tzset();
    free(saved);
    if (regexec(&re, out, 0, NULL, 0) != 0)
        fail_msg("'%s' is not YYYY-MM-DDTHH:MM:SS.mmmZ", out);
    regfree(&re);
    assert_int_equal(strlen(out), 24);
    /* It is the current UTC time, not local time. */
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    assert_non_null(strptime(out, "%Y-%m-%dT%H:%M:%S", &tm));
    time_t t = timegm(&tm);
    assert_true(t >= before && t <= after);

    int64_t w = cm_wall_ms();
    assert_true(w / 1000 >= (int64_t) before && w / 1000 <= (int64_t) time(NULL));
    int64_t m1 = cm_mono_ms(), m2 = cm_mono_ms();
    assert_true(m1 > 0 && m2 >= m1);
}

/* ---------------------------------------------------------------- problem+json */

static json_t *s_parse(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, JSON_REJECT_DUPLICATES, &e);
    if (!j)
        fail_msg("not JSON (%s): %s", e.text, s);
    assert_true(json_is_object(j));
    return j;
}

static const char *s_get_str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        fail_msg("member '%s' is not a string", key);
    return json_string_value(v);
}

static void test_problem_json(void **state)
{
    (void) state;
    json_t *errors = json_pack("[{s:s, s:s, s:s}]", "code", "E1002", "message", "bad yaml",
                               "location", "3:7");
    assert_non_null(errors);
    /* An extra reference keeps errors alive even if the callee wrongly steals one. */
    json_incref(errors);
    size_t len = 0;
    char *s = cm_problem_json(404, "project not found", "/projects/x", "req-12345678", errors,
                              &len);
    assert_non_null(s);
    assert_int_equal(len, strlen(s));
    json_t *o = s_parse(s);
    assert_string_equal(s_get_str(o, "type"), "urn:barbacane:error:not-found");
    assert_string_equal(s_get_str(o, "title"), "Not Found");
    assert_true(json_is_integer(json_object_get(o, "status")));
    assert_int_equal(json_integer_value(json_object_get(o, "status")), 404);
    assert_string_equal(s_get_str(o, "detail"), "project not found");
    assert_string_equal(s_get_str(o, "instance"), "/projects/x");
    assert_string_equal(s_get_str(o, "request_id"), "req-12345678");
    assert_true(json_equal(json_object_get(o, "errors"), errors));
    assert_int_equal(json_object_size(o), 7);
    /* errors is borrowed: the caller's two references are the only ones left. */
    assert_int_equal(errors->refcount, 2);
    json_decref(o);
    free(s);
    json_decref(errors);
    json_decref(errors);

    /* Without errors there is no errors member; NULL detail falls back to the title. */
    s = cm_problem_json(409, NULL, NULL, NULL, NULL, NULL);
    assert_non_null(s);
    o = s_parse(s);
    assert_string_equal(s_get_str(o, "type"), "urn:barbacane:error:conflict");
    assert_string_equal(s_get_str(o, "detail"), "Conflict");
    assert_string_equal(s_get_str(o, "instance"), "");
    assert_string_equal(s_get_str(o, "request_id"), "");
    assert_null(json_object_get(o, "errors"));
    json_decref(o);
    free(s);

    /* Invalid UTF-8 in detail or instance must not lose the document; the instance keeps
     * the path as the client wrote it (percent-encoded). */
    s = cm_problem_json(400, "bad \xff byte", "/x/\xc0\xaf", "abcdefgh", NULL, &len);
    assert_non_null(s);
    o = s_parse(s);
    assert_string_equal(s_get_str(o, "type"), "urn:barbacane:error:bad-request");
    assert_string_equal(s_get_str(o, "detail"), "Bad Request");
    assert_string_equal(s_get_str(o, "instance"), "/x/%C0%AF");
    json_decref(o);
    free(s);
}

static void test_problem_kinds(void **state)
{
    (void) state;
    static const struct { int status; const char *kind, *title; } k[] = {
        { 400, "bad-request", "Bad Request" },
        { 401, "unauthorized", "Unauthorized" },
        { 403, "forbidden", "Forbidden" },
        { 404, "not-found", "Not Found" },
        { 405, "method-not-allowed", "Method Not Allowed" },
        { 409, "conflict", "Conflict" },
        { 413, "payload-too-large", "Payload Too Large" },
        { 415, "unsupported-media-type", "Unsupported Media Type" },
        { 429, "too-many-requests", "Too Many Requests" },
        { 500, "internal-error", "Internal Server Error" },
        { 503, "service-unavailable", "Service Unavailable" },
        { 504, "gateway-timeout", "Gateway Timeout" },
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        assert_string_equal(cm_problem_kind(k[i].status), k[i].kind);
        assert_string_equal(cm_problem_title(k[i].status), k[i].title);
    }
    /* Unknown statuses map to internal-error. */
    static const int unknown[] = { 418, 0, -1, 200, 502, 999 };
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        assert_string_equal(cm_problem_kind(unknown[i]), "internal-error");
    char *s = cm_problem_json(418, "teapot", "/t", "abcdefgh", NULL, NULL);
    assert_non_null(s);
    json_t *o = s_parse(s);
    assert_string_equal(s_get_str(o, "type"), "urn:barbacane:error:internal-error");
    assert_string_equal(s_get_str(o, "title"), "Internal Server Error");
    json_decref(o);
    free(s);
}

/* ---------------------------------------------------------------- config */

typedef struct {
    const char *host;
    long x_y;
    bool verbose;
    const char *db_url;
} s_cfg_t;

static const cm_opt_t s_opts[] = {
    { "host", CM_OPT_STR, "localhost", offsetof(s_cfg_t, host), "listen host", NULL },
    { "x-y", CM_OPT_INT, "7", offsetof(s_cfg_t, x_y), "a number", NULL },
    { "verbose", CM_OPT_BOOL, NULL, offsetof(s_cfg_t, verbose), "chatty", NULL },
    { "db-url", CM_OPT_STR, NULL, offsetof(s_cfg_t, db_url), "database", "DATABASE_URL" },
};
#define S_NOPTS (sizeof s_opts / sizeof s_opts[0])

static int s_clear_env(void **state)
{
    (void) state;
    unsetenv("BARBACANE_HOST");
    unsetenv("BARBACANE_X_Y");
    unsetenv("BARBACANE_VERBOSE");
    unsetenv("BARBACANE_DB_URL");
    unsetenv("DATABASE_URL");
    return 0;
}

/* Parses with stdout/stderr sent to /dev/null (help text, error messages). */
static int s_parse_args(s_cfg_t *cfg, int argc, char **argv)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->x_y = -12345;
    fflush(stdout);
    fflush(stderr);
    int o = dup(1), e = dup(2), null = open("/dev/null", O_WRONLY);
    assert_true(o >= 0 && e >= 0 && null >= 0);
    dup2(null, 1);
    dup2(null, 2);
    int rc = cm_config_parse(s_opts, S_NOPTS, cfg, argc, argv, "test program");
    fflush(stdout);
    fflush(stderr);
    dup2(o, 1);
    dup2(e, 2);
    close(o);
    close(e);
    close(null);
    return rc;
}

#define ARGV(...) ((char *[]) { (char[]) { "prog" }, __VA_ARGS__ })
#define A(s) (char[]) { s }

static void test_config_defaults(void **state)
{
    (void) state;
    s_cfg_t c;
    assert_int_equal(s_parse_args(&c, 1, ARGV(NULL)), 0);
    assert_string_equal(c.host, "localhost");
    assert_int_equal(c.x_y, 7);
    assert_false(c.verbose);
    assert_non_null(c.db_url);
    assert_string_equal(c.db_url, "");
}

static void test_config_env(void **state)
{
    (void) state;
    s_cfg_t c;
    setenv("BARBACANE_X_Y", "5", 1);
    setenv("BARBACANE_HOST", "0.0.0.0", 1);
    setenv("BARBACANE_VERBOSE", "true", 1);
    setenv("DATABASE_URL", "postgres://alt", 1);
    assert_int_equal(s_parse_args(&c, 1, ARGV(NULL)), 0);
    assert_int_equal(c.x_y, 5);
    assert_string_equal(c.host, "0.0.0.0");
    assert_true(c.verbose);
    assert_string_equal(c.db_url, "postgres://alt"); /* alt_env when the main one is unset */
    setenv("BARBACANE_DB_URL", "postgres://main", 1);
    setenv("BARBACANE_VERBOSE", "0", 1);
    assert_int_equal(s_parse_args(&c, 1, ARGV(NULL)), 0);
    assert_string_equal(c.db_url, "postgres://main"); /* the BARBACANE_ name wins */
    assert_false(c.verbose);
    setenv("BARBACANE_X_Y", "five", 1);
    assert_int_equal(s_parse_args(&c, 1, ARGV(NULL)), -1);
    setenv("BARBACANE_X_Y", "5", 1);
    setenv("BARBACANE_VERBOSE", "perhaps", 1);
    assert_int_equal(s_parse_args(&c, 1, ARGV(NULL)), -1);
}

static void test_config_flags(void **state)
{
    (void) state;
    s_cfg_t c;
    setenv("BARBACANE_X_Y", "5", 1);
    assert_int_equal(s_parse_args(&c, 2, ARGV(A("--x-y=3"), NULL)), 0);
    assert_int_equal(c.x_y, 3); /* flag beats env */
    assert_int_equal(s_parse_args(&c, 3, ARGV(A("--x-y"), A("3"), NULL)), 0);
    assert_int_equal(c.x_y, 3);
    assert_int_equal(s_parse_args(&c, 2, ARGV(A("--x-y=-40"), NULL)), 0);
    assert_int_equal(c.x_y, -40);
    assert_int_equal(s_parse_args(&c, 3, ARGV(A("--x-y=1"), A("--x-y=2"), NULL)), 0);
    assert_int_equal(c.x_y, 2); /* later wins */
    assert_int_equal(s_parse_args(&c, 2, ARGV(A("--verbose"), NULL)), 0);
    assert_true(c.verbose);
    assert_int_equal(c.x_y, 5); /* untouched options keep env values */
    unsetenv("BARBACANE_X_Y");
    assert_int_equal(s_parse_args(&c, 3, ARGV(A("--verbose"), A("--x-y=9"), NULL)), 0);
    assert_true(c.verbose); /* a bare bool does not swallow the next argument */
    assert_int_equal(c.x_y, 9);
    assert_int_equal(s_parse_args(&c, 2, ARGV(A("--verbose=false"), NULL)), 0);
    assert_false(c.verbose);
    assert_int_equal(s_parse_args(&c, 3, ARGV(A("--host"), A("example.org"), NULL)), 0);
    assert_string_equal(c.host, "example.org");
    assert_int_equal(s_parse_args(&c, 2, ARGV(A("--host="), NULL)), 0);
    assert_string_equal(c.host, "");
    assert_int_equal(s_parse_args(&c, 2, ARGV(A("--db-url=postgres://u@h/db?x=a=b"), NULL)), 0);
    assert_string_equal(c.db_url, "postgres://u@h/db?x=a=b"); /* only the first '=' splits */
}

static void test_config_errors(void **state)
{
    (void) state;
    s_cfg_t c;
    assert_int_equal(s_parse_args(&c, 2, ARGV(A("--nope=1"), NULL)), -1);
    assert_int_equal(s_parse_args(&c, 2, ARGV(A("--x"), NULL)), -1);    /* prefix of x-y */
    assert_int_equal(s_parse_args(&c, 2, ARGV(A("--x-yz=1"), NULL)), -1);
    assert_int_equal(s_parse_args(&c, 2, ARGV(A("--x-y=abc"), NULL)), -1);
    assert_int_equal(s_parse_args(&c, 2, ARGV(A("--x-y=3x"), NULL)), -1);
    assert_int_equal(s_parse_args(&c, 2, ARGV(A("--x-y="), NULL)), -1);
    assert_int_equal(s_parse_args(&c, 2, ARGV(A("--x-y=99999999999999999999999"), NULL)), -1);
    assert_int_equal(s_parse_args(&c, 2, ARGV(A("--x-y"), NULL)), -1);  /* value missing */
    assert_int_equal(s_parse_args(&c, 2, ARGV(A("--verbose=maybe"), NULL)), -1);
    assert_int_equal(s_parse_args(&c, 2, ARGV(A("positional"), NULL)), -1);
    assert_int_equal(s_parse_args(&c, 2, ARGV(A("-x"), NULL)), -1);
}

static void test_config_help(void **state)
{
    (void) state;
    s_cfg_t c;
    assert_int_equal(s_parse_args(&c, 2, ARGV(A("--help"), NULL)), 1);
    assert_int_equal(s_parse_args(&c, 2, ARGV(A("-h"), NULL)), 1);
    assert_int_equal(s_parse_args(&c, 3, ARGV(A("--x-y=2"), A("--help"), NULL)), 1);
}

/* ---------------------------------------------------------------- backoff */

static void test_backoff(void **state)
{
    (void) state;
    const int64_t want[] = { 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000 };
    for (unsigned k = 0; k < sizeof want / sizeof want[0]; k++) {
        assert_int_equal(cm_backoff_ceiling_ms(1000, 60000, k), want[k]);
        assert_int_equal(cm_backoff_ms(1000, 60000, k, 0), want[k] - want[k] / 2);
        assert_int_equal(cm_backoff_ms(1000, 60000, k, UINT32_MAX), want[k]);
    }
    assert_int_equal(cm_backoff_ceiling_ms(1000, 60000, 4000000000u), 60000);
    assert_int_equal(cm_backoff_ceiling_ms(0, 0, 3), 1);
    assert_int_equal(cm_backoff_ceiling_ms(500, 100, 3), 500);
    assert_int_equal(cm_backoff_ceiling_ms(INT64_MAX / 2 + 1, INT64_MAX, 5), INT64_MAX);
    /* the delay spreads over the upper half of the ceiling */
    int64_t lo = INT64_MAX, hi = 0;
    for (uint32_t r = 0; r < 4000; r++) {
        int64_t d = cm_backoff_ms(200, 2000, 2, r * 1073741u);
        assert_true(d >= 400 && d <= 800);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    assert_true(lo < 450 && hi > 750);
}

static void test_bearer_header(void **state)
{
    (void) state;
    unsigned char got[32], want[32];
    cm_sha256("bbk_abc", 7, want);
    assert_int_equal(cm_bearer_hash("Bearer bbk_abc", got), 0);
    assert_memory_equal(got, want, 32);
    assert_int_equal(cm_bearer_hash("bearer   bbk_abc  ", got), 0);
    assert_memory_equal(got, want, 32);
    assert_int_equal(cm_bearer_hash("Basic dXNlcjpwYXNz", got), -1);
    assert_int_equal(cm_bearer_hash("Bearer", got), -1);
    assert_int_equal(cm_bearer_hash("Bearer ", got), -1);
    assert_int_equal(cm_bearer_hash("Bearer a b", got), -1);
    assert_int_equal(cm_bearer_hash(NULL, got), -1);
    char longkey[400] = "Bearer ";
    memset(longkey + 7, 'k', 300);
    longkey[307] = '\0';
    assert_int_equal(cm_bearer_hash(longkey, got), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_bearer_header),
        cmocka_unit_test(test_uuid_v4_format),
        cmocka_unit_test(test_uuid_valid),
        cmocka_unit_test(test_uuid_normalize),
        cmocka_unit_test(test_request_id_valid),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_base64url),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_ct_equal),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_trim),
        cmocka_unit_test(test_time_rfc3339),
        cmocka_unit_test(test_problem_json),
        cmocka_unit_test(test_problem_kinds),
        cmocka_unit_test_setup(test_config_defaults, s_clear_env),
        cmocka_unit_test_setup(test_config_env, s_clear_env),
        cmocka_unit_test_setup(test_config_flags, s_clear_env),
        cmocka_unit_test_setup(test_config_errors, s_clear_env),
        cmocka_unit_test_setup(test_config_help, s_clear_env),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    s_clear_env(NULL);
    return rc;
}
