/* The data-plane message codec. Owns nothing beyond the jansson documents of one call and the
 * metadata text it hands to the caller in hub_in_t. Every field is type- and size-checked. */
#include "hub_msg.h"
#include "cm_util.h"
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int s_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int s_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static bool s_blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t')
            return false;
    return true;
}

/* A member that is absent or null is "none" (0); a string is copied (1); else -1. */
static int s_opt_string(json_t *obj, const char *key, char *out, size_t cap, size_t max,
                        char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    size_t n = json_string_length(v);
    if (!json_is_string(v))
        return s_fail(err, errlen, "%s must be a string", key);
    if (n == 0 || n > max || n >= cap || strlen(json_string_value(v)) != n)
        return s_fail(err, errlen, "%s must be 1 to %zu bytes", key, max);
    memcpy(out, json_string_value(v), n + 1);
    return 1;
}

static int s_uuid(json_t *obj, const char *key, char out[37], char *err, size_t errlen)
{
    const char *s = json_string_value(json_object_get(obj, key));
    if (!s)
        return s_fail(err, errlen, "%s is required (a UUID string)", key);
    if (!cm_uuid_normalize(s, out))
        return s_fail(err, errlen, "%s must be a UUID", key);
    return 0;
}

/* An optional non-negative integer (absent or null: 0). */
static int s_count(json_t *obj, const char *key, uint64_t *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    *out = 0;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return s_fail(err, errlen, "%s must be a non-negative integer", key);
    *out = (uint64_t) json_integer_value(v);
    return 0;
}

/* Nesting depth of v, stopping as soon as it passes limit (so hostile nesting costs little). */
static int s_depth(json_t *v, int limit)
{
    if (limit < 0)
        return 1;
    int deepest = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach(v, k, c) {
            int d = s_depth(c, limit - 1);
            deepest = d > deepest ? d : deepest;
            if (deepest > limit)
                break;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c) {
            int d = s_depth(c, limit - 1);
            deepest = d > deepest ? d : deepest;
            if (deepest > limit)
                break;
        }
    } else {
        return 0;
    }
    return deepest + 1;
}

static int s_metadata(json_t *obj, hub_in_t *in, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, "metadata");
    if (!v || json_is_null(v)) {
        in->metadata = strdup("{}");
        return in->metadata ? 0 : s_fail(err, errlen, "out of memory");
    }
    if (!json_is_object(v))
        return s_fail(err, errlen, "metadata must be an object");
    if (s_depth(v, HUB_MSG_META_DEPTH) > HUB_MSG_META_DEPTH)
        return s_fail(err, errlen, "metadata nests deeper than %d levels", HUB_MSG_META_DEPTH);
    in->metadata = json_dumps(v, JSON_COMPACT);
    if (!in->metadata || strlen(in->metadata) > HUB_MSG_META_MAX) {
        free(in->metadata);
        in->metadata = NULL;
        return s_fail(err, errlen, "metadata exceeds %d bytes", HUB_MSG_META_MAX);
    }
    return 0;
}

static int s_register(json_t *doc, hub_in_t *in, char *err, size_t errlen)
{
    if (s_uuid(doc, "project_id", in->project_id, err, errlen) != 0)
        return -1;
    int rc = s_opt_string(doc, "api_key", in->api_key, sizeof in->api_key, HUB_MSG_KEY_MAX, err,
                          errlen);
    if (rc < 0)
        return -1;
    if (rc == 0 || !cm_no_controls(in->api_key))
        return s_fail(err, errlen, "api_key is required (a string of printable characters)");
    rc = s_opt_string(doc, "name", in->name, sizeof in->name, HUB_MSG_NAME_MAX, err, errlen);
    if (rc < 0)
        return -1;
    if (rc == 1 && (!cm_no_controls(in->name) || s_blank(in->name)))
        return s_fail(err, errlen, "name must not be blank or contain control characters");
    in->has_name = rc == 1;
    return s_metadata(doc, in, err, errlen);
}

static int s_heartbeat(json_t *doc, hub_in_t *in, char *err, size_t errlen)
{
    int rc = s_opt_string(doc, "artifact_hash", in->artifact_hash, sizeof in->artifact_hash,
                          HUB_MSG_HASH_MAX, err, errlen);
    if (rc < 0)
        return -1;
    for (const char *p = in->artifact_hash; rc == 1 && *p; p++)
        if ((unsigned char) *p <= 0x20 || (unsigned char) *p >= 0x7f)
            return s_fail(err, errlen, "artifact_hash must be printable ASCII");
    in->has_hash = rc == 1;
    if (s_count(doc, "uptime_secs", &in->uptime_secs, err, errlen) != 0)
        return -1;
    return s_count(doc, "requests_total", &in->requests_total, err, errlen);
}

/* Copies at most HUB_MSG_ERROR_MAX bytes of s, cut on a character boundary, controls masked. */
static void s_copy_error(char *out, const char *s)
{
    size_t n = strlen(s);
    if (n > HUB_MSG_ERROR_MAX) {
        n = HUB_MSG_ERROR_MAX;
        while (n > 0 && ((unsigned char) s[n] & 0xc0) == 0x80)
            n--;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char) s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    out[n] = '\0';
}

static int s_downloaded(json_t *doc, hub_in_t *in, char *err, size_t errlen)
{
    if (s_uuid(doc, "artifact_id", in->artifact_id, err, errlen) != 0)
        return -1;
    json_t *ok = json_object_get(doc, "success");
    if (!json_is_boolean(ok))
        return s_fail(err, errlen, "success is required (a boolean)");
    in->success = json_is_true(ok);
    json_t *e = json_object_get(doc, "error");
    if (e && !json_is_null(e) && !json_is_string(e))
        return s_fail(err, errlen, "error must be a string");
    if (json_is_string(e) && strlen(json_string_value(e)) == json_string_length(e)) {
        s_copy_error(in->error, json_string_value(e));
        in->has_error = true;
    }
    return 0;
}

static const struct {
    const char *name;
    hub_in_type_t type;
    int (*decode)(json_t *, hub_in_t *, char *, size_t);
} s_types[] = {
    { "register", HUB_IN_REGISTER, s_register },
    { "heartbeat", HUB_IN_HEARTBEAT, s_heartbeat },
    { "artifact_downloaded", HUB_IN_DOWNLOADED, s_downloaded },
};

static int s_dispatch(json_t *doc, hub_in_t *in, char *err, size_t errlen)
{
    json_t *t = json_object_get(doc, "type");
    const char *name = json_string_value(t);
    if (!name)
        return s_fail(err, errlen, "a message needs a string member \"type\"");
    if (json_string_length(t) > HUB_MSG_TYPE_MAX || strlen(name) != json_string_length(t))
        return s_fail(err, errlen, "unknown message type");
    snprintf(in->type_name, sizeof in->type_name, "%s", name);
    for (size_t i = 0; i < sizeof s_types / sizeof s_types[0]; i++)
        if (strcmp(name, s_types[i].name) == 0) {
            in->type = s_types[i].type;
            return s_types[i].decode(doc, in, err, errlen);
        }
    in->type = HUB_IN_UNKNOWN;
    return 0;
}

int hub_msg_parse(const char *text, size_t len, size_t max, hub_in_t *in, char *err,
                  size_t errlen)
{
    memset(in, 0, sizeof *in);
    if (len > max)
        return s_fail(err, errlen, "message exceeds %zu bytes", max);
    if (!text || !cm_utf8_valid((const unsigned char *) text, len))
        return s_fail(err, errlen, "a message must be UTF-8 JSON text");
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return s_fail(err, errlen, "malformed JSON at line %d, column %d", je.line, je.column);
    int rc = json_is_object(doc) ? s_dispatch(doc, in, err, errlen)
                                 : s_fail(err, errlen, "a message must be a JSON object");
    json_decref(doc);
    if (rc != 0) {
        free(in->metadata);
        in->metadata = NULL;
    }
    return rc;
}

void hub_in_clear(hub_in_t *in)
{
    if (!in)
        return;
    free(in->metadata);
    in->metadata = NULL;
}

/* ---------------------------------------------------------------- what the hub sends */

static int s_emit(json_t *doc, char *out, size_t cap)
{
    if (!doc)
        return -1;
    size_t n = json_dumpb(doc, out, cap, JSON_COMPACT);
    json_decref(doc);
    if (n == 0 || n >= cap)
        return -1;
    out[n] = '\0';
    return (int) n;
}

int hub_msg_registered(char *out, size_t cap, const char *data_plane_id, int heartbeat_secs)
{
    return s_emit(json_pack("{s:s, s:s, s:i}", "type", "registered", "data_plane_id",
                            data_plane_id, "heartbeat_interval_secs", heartbeat_secs),
                  out, cap);
}

int hub_msg_registration_failed(char *out, size_t cap, const char *reason)
{
    return s_emit(json_pack("{s:s, s:s}", "type", "registration_failed", "reason", reason), out,
                  cap);
}

int hub_msg_heartbeat_ack(char *out, size_t cap, bool drift_detected)
{
    return s_emit(json_pack("{s:s, s:b}", "type", "heartbeat_ack", "drift_detected",
                            drift_detected), out, cap);
}

int hub_msg_artifact_available(char *out, size_t cap, const char *artifact_id,
                               const char *download_url, const char *sha256)
{
    return s_emit(json_pack("{s:s, s:s, s:s, s:s}", "type", "artifact_available", "artifact_id",
                            artifact_id, "download_url", download_url, "sha256", sha256),
                  out, cap);
}

int hub_msg_disconnect(char *out, size_t cap, const char *reason)
{
    return s_emit(json_pack("{s:s, s:s}", "type", "disconnect", "reason", reason), out, cap);
}

int hub_msg_error(char *out, size_t cap, const char *message)
{
    return s_emit(json_pack("{s:s, s:s}", "type", "error", "message", message), out, cap);
}
