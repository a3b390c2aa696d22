/* Codec of the data-plane protocol: parsing follows the data plane's serde rules (internally
 * tagged by "type", required members, extra members ignored); encoding writes the members in
 * its order. Owns nothing beyond the strings it hands to the caller. */
#include "ag_msg.h"
#include "cm_util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int s_bad(ag_msg_t *m, ag_msg_type_t type, const char *fmt, const char *arg)
{
    m->type = type;
    snprintf(m->error, sizeof m->error, fmt, arg);
    return -1;
}

static const char *s_str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int s_uuid(ag_msg_t *m, json_t *o, const char *key, char out[37])
{
    const char *v = s_str(o, key);
    if (!v)
        return s_bad(m, AG_MSG_MALFORMED, "%s: missing or not a string", key);
    if (!cm_uuid_normalize(v, out))
        return s_bad(m, AG_MSG_MALFORMED, "%s: not a UUID", key);
    return 0;
}

static int s_dup(ag_msg_t *m, json_t *o, const char *key, char **out)
{
    const char *v = s_str(o, key);
    if (!v)
        return s_bad(m, AG_MSG_MALFORMED, "%s: missing or not a string", key);
    *out = strdup(v);
    return *out ? 0 : s_bad(m, AG_MSG_MALFORMED, "%s: out of memory", key);
}

static int s_registered(ag_msg_t *m, json_t *o)
{
    if (s_uuid(m, o, "data_plane_id", m->data_plane_id) != 0)
        return -1;
    json_t *iv = json_object_get(o, "heartbeat_interval_secs");
    if (!json_is_integer(iv))
        return s_bad(m, AG_MSG_MALFORMED, "%s: missing or not an integer",
                     "heartbeat_interval_secs");
    json_int_t v = json_integer_value(iv);
    if (v < 0 || v > (json_int_t) UINT32_MAX)
        return s_bad(m, AG_MSG_MALFORMED, "%s: out of the u32 range", "heartbeat_interval_secs");
    m->heartbeat_interval_secs = (uint32_t) v;
    return 0;
}

static int s_available(ag_msg_t *m, json_t *o)
{
    if (s_uuid(m, o, "artifact_id", m->artifact_id) != 0)
        return -1;
    if (s_dup(m, o, "download_url", &m->download_url) != 0)
        return -1;
    return s_dup(m, o, "sha256", &m->sha256);
}

static int s_ack(ag_msg_t *m, json_t *o)
{
    json_t *v = json_object_get(o, "drift_detected");
    if (!json_is_boolean(v))
        return s_bad(m, AG_MSG_MALFORMED, "%s: missing or not a boolean", "drift_detected");
    m->drift_detected = json_is_true(v);
    return 0;
}

static int s_body(ag_msg_t *m, json_t *o, const char *type)
{
    if (strcmp(type, "registered") == 0) {
        m->type = AG_MSG_REGISTERED;
        return s_registered(m, o);
    }
    if (strcmp(type, "registration_failed") == 0) {
        m->type = AG_MSG_REGISTRATION_FAILED;
        return s_dup(m, o, "reason", &m->text);
    }
    if (strcmp(type, "artifact_available") == 0) {
        m->type = AG_MSG_ARTIFACT_AVAILABLE;
        return s_available(m, o);
    }
    if (strcmp(type, "heartbeat_ack") == 0) {
        m->type = AG_MSG_HEARTBEAT_ACK;
        return s_ack(m, o);
    }
    if (strcmp(type, "disconnect") == 0) {
        m->type = AG_MSG_DISCONNECT;
        return s_dup(m, o, "reason", &m->text);
    }
    if (strcmp(type, "error") == 0) {
        m->type = AG_MSG_ERROR;
        return s_dup(m, o, "message", &m->text);
    }
    return s_bad(m, AG_MSG_UNKNOWN, "unknown message type '%.64s'", m->type_name);
}

int ag_msg_parse(const char *data, size_t len, ag_msg_t *out)
{
    memset(out, 0, sizeof *out);
    if (!data || len > AG_MSG_MAX)
        return s_bad(out, AG_MSG_MALFORMED, "%s", "message too large");
    json_error_t jerr;
    json_t *o = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        return s_bad(out, AG_MSG_MALFORMED, "not JSON: %.100s", jerr.text);
    int rc = -1;
    const char *type = s_str(o, "type");
    if (!json_is_object(o))
        s_bad(out, AG_MSG_MALFORMED, "%s", "not a JSON object");
    else if (!type)
        s_bad(out, AG_MSG_MALFORMED, "%s", "no string \"type\" member");
    else {
        snprintf(out->type_name, sizeof out->type_name, "%s", type);
        rc = s_body(out, o, type);
        if (rc != 0 && out->type != AG_MSG_UNKNOWN) {
            char why[sizeof out->error];
            snprintf(why, sizeof why, "%s", out->error);
            snprintf(out->error, sizeof out->error, "%.40s: %.110s", out->type_name, why);
            out->type = AG_MSG_MALFORMED;
        }
    }
    json_decref(o);
    if (rc != 0) {
        free(out->download_url);
        free(out->sha256);
        free(out->text);
        out->download_url = out->sha256 = out->text = NULL;
    }
    return rc;
}

void ag_msg_clear(ag_msg_t *m)
{
    if (!m)
        return;
    free(m->download_url);
    free(m->sha256);
    free(m->text);
    memset(m, 0, sizeof *m);
}

/* Dumps o compactly and drops it; NULL when a member is not UTF-8 (json_string refused it, so
 * building o failed) or on OOM. */
static char *s_dump(json_t *o, size_t *len)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text && len)
        *len = strlen(text);
    return text;
}

/* json_object_set_new fails when value is NULL (a string that is not UTF-8): then the whole
 * message fails, rather than going out without the member. */
static json_t *s_set(json_t *o, const char *key, json_t *value)
{
    if (!o) {
        json_decref(value);
        return NULL;
    }
    if (json_object_set_new(o, key, value) == 0)   /* it drops value when it fails */
        return o;
    json_decref(o);
    return NULL;
}

char *ag_msg_register(const char *project_id, const char *api_key, const char *name,
                      const json_t *metadata, size_t *len)
{
    json_t *o = json_object();
    o = s_set(o, "type", json_string("register"));
    o = s_set(o, "project_id", json_string(project_id ? project_id : ""));
    o = s_set(o, "api_key", json_string(api_key ? api_key : ""));
    if (name)
        o = s_set(o, "name", json_string(name));
    o = s_set(o, "metadata", metadata ? json_deep_copy(metadata) : json_object());
    return s_dump(o, len);
}

char *ag_msg_heartbeat(const char *artifact_hash, uint64_t uptime_secs, uint64_t requests_total,
                       size_t *len)
{
    json_t *o = json_object();
    o = s_set(o, "type", json_string("heartbeat"));
    if (artifact_hash)
        o = s_set(o, "artifact_hash", json_string(artifact_hash));
    o = s_set(o, "uptime_secs", json_integer((json_int_t) (uptime_secs & INT64_MAX)));
    o = s_set(o, "requests_total", json_integer((json_int_t) (requests_total & INT64_MAX)));
    return s_dump(o, len);
}

char *ag_msg_artifact_downloaded(const char *artifact_id, bool success, const char *error,
                                 size_t *len)
{
    json_t *o = json_object();
    o = s_set(o, "type", json_string("artifact_downloaded"));
    o = s_set(o, "artifact_id", json_string(artifact_id ? artifact_id : ""));
    o = s_set(o, "success", json_boolean(success));
    if (error)
        o = s_set(o, "error", json_string(error));
    return s_dump(o, len);
}
