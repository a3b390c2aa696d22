/* test_hub_msg.c — cmocka tests of dataplane-hub/hub_msg.c: the messages the real Barbacane
 * data plane sends (as serde writes them), every refusal (oversize, not UTF-8, not JSON,
 * duplicate keys, wrong types, bad ids, limits), and the hub's own messages read back.
 * Owns: sample messages only. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub_msg.h"

#define PID "550e8400-e29b-41d4-a716-446655440000"

static int s_parse(const char *text, hub_in_t *in, char *err)
{
    return hub_msg_parse(text, strlen(text), 65536, in, err, 160);
}

/* Refused, with a reason; nothing left to free. */
static void s_refused(const char *text, const char *reason_part)
{
    hub_in_t in;
    char err[160] = "";
    assert_int_equal(s_parse(text, &in, err), -1);
    assert_non_null(strstr(err, reason_part));
    assert_null(in.metadata);
    hub_in_clear(&in);
}

/* ---------------------------------------------------------------- what the data plane sends */

static void test_register_as_the_data_plane_sends_it(void **state)
{
    (void) state;
    hub_in_t in;
    char err[160];
    assert_int_equal(s_parse("{\"type\":\"register\",\"project_id\":\"" PID "\","
                             "\"api_key\":\"bbk_abc\",\"name\":\"edge-1\","
                             "\"metadata\":{\"version\":\"1.0\",\"n\":[1,2]}}", &in, err), 0);
    assert_int_equal(in.type, HUB_IN_REGISTER);
    assert_string_equal(in.project_id, PID);
    assert_string_equal(in.api_key, "bbk_abc");
    assert_true(in.has_name);
    assert_string_equal(in.name, "edge-1");
    assert_string_equal(in.metadata, "{\"version\":\"1.0\",\"n\":[1,2]}");
    hub_in_clear(&in);
    hub_in_clear(&in);   /* twice is safe */
}

static void test_register_without_name_and_metadata(void **state)
{
    (void) state;
    hub_in_t in;
    char err[160];
    /* name absent (started without one), metadata absent; an artifact_id from older data
     * planes is tolerated and ignored. */
    assert_int_equal(s_parse("{\"type\":\"register\",\"project_id\":\"550E8400-E29B-41D4-A716-"
                             "446655440000\",\"api_key\":\"k\",\"artifact_id\":\"" PID "\"}",
                             &in, err), 0);
    assert_false(in.has_name);
    assert_string_equal(in.project_id, PID);   /* lowercased */
    assert_string_equal(in.metadata, "{}");
    hub_in_clear(&in);
    assert_int_equal(s_parse("{\"type\":\"register\",\"project_id\":\"" PID "\",\"api_key\":\"k\","
                             "\"name\":null,\"metadata\":null}", &in, err), 0);
    assert_false(in.has_name);
    assert_string_equal(in.metadata, "{}");
    hub_in_clear(&in);
}

static void test_register_refusals(void **state)
{
    (void) state;
    hub_in_t in;
    char err[160];
    assert_int_equal(s_parse("{\"type\":\"register\",\"api_key\":\"k\"}", &in, err), -1);
    assert_int_equal(in.type, HUB_IN_REGISTER);   /* known even though refused */
    assert_non_null(strstr(err, "project_id"));
    hub_in_clear(&in);
    s_refused("{\"type\":\"register\",\"project_id\":\"nope\",\"api_key\":\"k\"}", "UUID");
    s_refused("{\"type\":\"register\",\"project_id\":\"" PID "\"}", "api_key");
    s_refused("{\"type\":\"register\",\"project_id\":\"" PID "\",\"api_key\":7}", "api_key");
    s_refused("{\"type\":\"register\",\"project_id\":\"" PID "\",\"api_key\":\"\"}", "api_key");
    s_refused("{\"type\":\"register\",\"project_id\":\"" PID "\",\"api_key\":\"a\\u0001b\"}",
              "api_key");
    s_refused("{\"type\":\"register\",\"project_id\":\"" PID "\",\"api_key\":\"k\",\"name\":5}",
              "name");
    s_refused("{\"type\":\"register\",\"project_id\":\"" PID "\",\"api_key\":\"k\",\"name\":\"  \"}",
              "blank");
    s_refused("{\"type\":\"register\",\"project_id\":\"" PID "\",\"api_key\":\"k\","
              "\"metadata\":[1]}", "metadata must be an object");
}

static void test_register_limits(void **state)
{
    (void) state;
    char text[4096], name[HUB_MSG_NAME_MAX + 2];
    hub_in_t in;
    char err[160];
    memset(name, 'n', sizeof name - 1);
    name[HUB_MSG_NAME_MAX] = '\0';   /* exactly the limit: accepted */
    snprintf(text, sizeof text, "{\"type\":\"register\",\"project_id\":\"" PID "\","
             "\"api_key\":\"k\",\"name\":\"%s\"}", name);
    assert_int_equal(s_parse(text, &in, err), 0);
    hub_in_clear(&in);
    name[HUB_MSG_NAME_MAX] = 'n';    /* one more: refused */
    name[HUB_MSG_NAME_MAX + 1] = '\0';
    snprintf(text, sizeof text, "{\"type\":\"register\",\"project_id\":\"" PID "\","
             "\"api_key\":\"k\",\"name\":\"%s\"}", name);
    s_refused(text, "name");
    /* metadata nested past the limit */
    size_t at = (size_t) snprintf(text, sizeof text, "{\"type\":\"register\",\"project_id\":\""
                                  PID "\",\"api_key\":\"k\",\"metadata\":");
    for (int i = 0; i < HUB_MSG_META_DEPTH + 1; i++)
        at += (size_t) snprintf(text + at, sizeof text - at, "{\"a\":");
    at += (size_t) snprintf(text + at, sizeof text - at, "1");
    for (int i = 0; i < HUB_MSG_META_DEPTH + 2; i++)
        text[at++] = '}';
    text[at] = '\0';
    s_refused(text, "nests");
    at = (size_t) snprintf(text, sizeof text, "{\"type\":\"register\",\"project_id\":\""
                           PID "\",\"api_key\":\"k\",\"metadata\":");
    for (int i = 0; i < HUB_MSG_META_DEPTH; i++)
        at += (size_t) snprintf(text + at, sizeof text - at, "{\"a\":");
    at += (size_t) snprintf(text + at, sizeof text - at, "1");
    for (int i = 0; i < HUB_MSG_META_DEPTH + 1; i++)
        text[at++] = '}';
    text[at] = '\0';
    assert_int_equal(s_parse(text, &in, err), 0);   /* exactly the limit */
    hub_in_clear(&in);
}

static void test_heartbeat_as_the_data_plane_sends_it(void **state)
{
    (void) state;
    hub_in_t in;
    char err[160];
    assert_int_equal(s_parse("{\"type\":\"heartbeat\",\"artifact_hash\":\"sha256:abc123def\","
                             "\"uptime_secs\":3600,\"requests_total\":500}", &in, err), 0);
    assert_int_equal(in.type, HUB_IN_HEARTBEAT);
    assert_true(in.has_hash);
    assert_string_equal(in.artifact_hash, "sha256:abc123def");
    assert_int_equal(in.uptime_secs, 3600);
    assert_int_equal(in.requests_total, 500);
    hub_in_clear(&in);
    /* artifact_hash omitted (None is skipped when serialised) */
    assert_int_equal(s_parse("{\"type\":\"heartbeat\",\"uptime_secs\":0,\"requests_total\":0}",
                             &in, err), 0);
    assert_false(in.has_hash);
    hub_in_clear(&in);
}

static void test_heartbeat_refusals(void **state)
{
    (void) state;
    s_refused("{\"type\":\"heartbeat\",\"uptime_secs\":-1}", "uptime_secs");
    s_refused("{\"type\":\"heartbeat\",\"uptime_secs\":1.5}", "uptime_secs");
    s_refused("{\"type\":\"heartbeat\",\"requests_total\":\"7\"}", "requests_total");
    s_refused("{\"type\":\"heartbeat\",\"artifact_hash\":42}", "artifact_hash");
    s_refused("{\"type\":\"heartbeat\",\"artifact_hash\":\"sha256:a b\"}", "printable");
    char text[512], hash[HUB_MSG_HASH_MAX + 2];
    memset(hash, 'h', sizeof hash - 1);
    hash[sizeof hash - 1] = '\0';
    snprintf(text, sizeof text, "{\"type\":\"heartbeat\",\"artifact_hash\":\"%s\"}", hash);
    s_refused(text, "artifact_hash");
}

static void test_artifact_downloaded(void **state)
{
    (void) state;
    hub_in_t in;
    char err[160];
    assert_int_equal(s_parse("{\"type\":\"artifact_downloaded\",\"artifact_id\":\"" PID "\","
                             "\"success\":true}", &in, err), 0);
    assert_int_equal(in.type, HUB_IN_DOWNLOADED);
    assert_string_equal(in.artifact_id, PID);
    assert_true(in.success);
    assert_false(in.has_error);
    hub_in_clear(&in);
    assert_int_equal(s_parse("{\"type\":\"artifact_downloaded\",\"artifact_id\":\"" PID "\","
                             "\"success\":false,\"error\":\"hot-reload already in progress\"}",
                             &in, err), 0);
    assert_false(in.success);
    assert_true(in.has_error);
    assert_string_equal(in.error, "hot-reload already in progress");
    hub_in_clear(&in);
    s_refused("{\"type\":\"artifact_downloaded\",\"success\":true}", "artifact_id");
    s_refused("{\"type\":\"artifact_downloaded\",\"artifact_id\":\"" PID "\"}", "success");
    s_refused("{\"type\":\"artifact_downloaded\",\"artifact_id\":\"" PID "\",\"success\":1}",
              "success");
    s_refused("{\"type\":\"artifact_downloaded\",\"artifact_id\":\"" PID "\",\"success\":false,"
              "\"error\":{}}", "error");
}

static void test_long_download_error_is_cut_on_a_character(void **state)
{
    (void) state;
    char text[2048], msg[1200];
    size_t at = 0;
    while (at + 2 < sizeof msg - 1) {   /* "é" is two bytes: a cut can fall inside one */
        msg[at++] = (char) 0xc3;
        msg[at++] = (char) 0xa9;
    }
    msg[at] = '\0';
    snprintf(text, sizeof text, "{\"type\":\"artifact_downloaded\",\"artifact_id\":\"" PID "\","
             "\"success\":false,\"error\":\"%s\"}", msg);
    hub_in_t in;
    char err[160];
    assert_int_equal(s_parse(text, &in, err), 0);
    assert_true(strlen(in.error) <= HUB_MSG_ERROR_MAX);
    assert_int_equal(strlen(in.error) % 2, 0);   /* whole characters only */
    hub_in_clear(&in);
}

/* ---------------------------------------------------------------- malformed input */

static void test_malformed_messages(void **state)
{
    (void) state;
    s_refused("not json", "malformed JSON");
    s_refused("", "malformed JSON");
    s_refused("[1,2,3]", "JSON object");
    s_refused("\"register\"", "malformed JSON");           /* scalars are not messages */
    s_refused("{}", "type");
    s_refused("{\"type\":7}", "type");
    s_refused("{\"type\":\"heartbeat\",\"type\":\"register\"}", "malformed JSON");  /* dup keys */
    s_refused("{\"type\":\"heartbeat\"} trailing", "malformed JSON");
    s_refused("{\"type\":\"heartbeat\",\"x\":\"\\u0000\"}", "malformed JSON");
    hub_in_t in;
    char err[160];
    const char bad_utf8[] = "{\"type\":\"heartbeat\",\"x\":\"\xff\"}";
    assert_int_equal(hub_msg_parse(bad_utf8, sizeof bad_utf8 - 1, 65536, &in, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "UTF-8"));
    const char nul[] = "{\"type\":\"heartbeat\"}\0{}";
    assert_int_equal(hub_msg_parse(nul, sizeof nul - 1, 65536, &in, err, sizeof err), -1);
    assert_int_equal(hub_msg_parse(NULL, 0, 65536, &in, err, sizeof err), -1);
}

static void test_oversize_is_refused_before_parsing(void **state)
{
    (void) state;
    const char *text = "{\"type\":\"heartbeat\"}";
    hub_in_t in;
    char err[160];
    assert_int_equal(hub_msg_parse(text, strlen(text), strlen(text), &in, err, sizeof err), 0);
    hub_in_clear(&in);
    assert_int_equal(hub_msg_parse(text, strlen(text), strlen(text) - 1, &in, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "exceeds"));
}

static void test_deep_nesting_is_refused(void **state)
{
    (void) state;
    size_t n = 100000;
    char *text = malloc(2 * n + 1);
    assert_non_null(text);
    memset(text, '[', n);
    memset(text + n, ']', n);
    text[2 * n] = '\0';
    hub_in_t in;
    char err[160];
    assert_int_equal(hub_msg_parse(text, 2 * n, 4 * n, &in, err, sizeof err), -1);
    free(text);
}

static void test_unknown_type_is_reported_as_such(void **state)
{
    (void) state;
    hub_in_t in;
    char err[160];
    assert_int_equal(s_parse("{\"type\":\"subscribe\",\"topic\":\"x\"}", &in, err), 0);
    assert_int_equal(in.type, HUB_IN_UNKNOWN);
    assert_string_equal(in.type_name, "subscribe");
    hub_in_clear(&in);
}

/* ---------------------------------------------------------------- what the hub sends */

static json_t *s_reread(const char *text, int n)
{
    assert_true(n > 0);
    assert_int_equal((size_t) n, strlen(text));
    json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(doc);
    return doc;
}

static void test_outgoing_messages(void **state)
{
    (void) state;
    char out[HUB_MSG_OUT_MAX];
    json_t *d = s_reread(out, hub_msg_registered(out, sizeof out, PID, 10));
    assert_string_equal(json_string_value(json_object_get(d, "type")), "registered");
    assert_string_equal(json_string_value(json_object_get(d, "data_plane_id")), PID);
    assert_int_equal(json_integer_value(json_object_get(d, "heartbeat_interval_secs")), 10);
    json_decref(d);

    d = s_reread(out, hub_msg_registration_failed(out, sizeof out, "invalid \"API\" key"));
    assert_string_equal(json_string_value(json_object_get(d, "type")), "registration_failed");
    assert_string_equal(json_string_value(json_object_get(d, "reason")), "invalid \"API\" key");
    json_decref(d);

    d = s_reread(out, hub_msg_heartbeat_ack(out, sizeof out, true));
    assert_true(json_is_true(json_object_get(d, "drift_detected")));
    json_decref(d);
    d = s_reread(out, hub_msg_heartbeat_ack(out, sizeof out, false));
    assert_true(json_is_false(json_object_get(d, "drift_detected")));
    json_decref(d);

    d = s_reread(out, hub_msg_artifact_available(out, sizeof out, PID,
                                                 "/artifacts/" PID "/download?token=1.x", "ab"));
    assert_string_equal(json_string_value(json_object_get(d, "type")), "artifact_available");
    assert_string_equal(json_string_value(json_object_get(d, "download_url")),
                        "/artifacts/" PID "/download?token=1.x");
    assert_string_equal(json_string_value(json_object_get(d, "sha256")), "ab");
    json_decref(d);

    d = s_reread(out, hub_msg_disconnect(out, sizeof out, "API key revoked"));
    assert_string_equal(json_string_value(json_object_get(d, "reason")), "API key revoked");
    json_decref(d);
    d = s_reread(out, hub_msg_error(out, sizeof out, "unknown message type"));
    assert_string_equal(json_string_value(json_object_get(d, "message")), "unknown message type");
    json_decref(d);
}

static void test_outgoing_refusals(void **state)
{
    (void) state;
    char small[16], out[HUB_MSG_OUT_MAX];
    assert_int_equal(hub_msg_registered(small, sizeof small, PID, 10), -1);
    assert_int_equal(hub_msg_error(out, sizeof out, "\xff not utf-8"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_as_the_data_plane_sends_it),
        cmocka_unit_test(test_register_without_name_and_metadata),
        cmocka_unit_test(test_register_refusals),
        cmocka_unit_test(test_register_limits),
        cmocka_unit_test(test_heartbeat_as_the_data_plane_sends_it),
        cmocka_unit_test(test_heartbeat_refusals),
        cmocka_unit_test(test_artifact_downloaded),
        cmocka_unit_test(test_long_download_error_is_cut_on_a_character),
        cmocka_unit_test(test_malformed_messages),
        cmocka_unit_test(test_oversize_is_refused_before_parsing),
        cmocka_unit_test(test_deep_nesting_is_refused),
        cmocka_unit_test(test_unknown_type_is_reported_as_such),
        cmocka_unit_test(test_outgoing_messages),
        cmocka_unit_test(test_outgoing_refusals),
    };
    return cmocka_run_group_tests_name("hub_msg", tests, NULL, NULL);
}
