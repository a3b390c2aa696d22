/* fuzz_hub_msg.c — libFuzzer target over dataplane-hub/hub_msg.c (and hub_conv.c fed with what
 * it decodes): any bytes as a data-plane message, then the hub's own messages built from the
 * decoded strings and read back. Owns: nothing. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hub_conv.h"
#include "hub_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What a successful decode promises: bounded, NUL-terminated fields; metadata an object. */
static void s_check(const hub_in_t *in)
{
    if (strlen(in->api_key) > HUB_MSG_KEY_MAX || strlen(in->name) > HUB_MSG_NAME_MAX
        || strlen(in->artifact_hash) > HUB_MSG_HASH_MAX || strlen(in->error) > HUB_MSG_ERROR_MAX
        || strlen(in->project_id) > 36 || strlen(in->artifact_id) > 36)
        abort();
    if (in->type == HUB_IN_REGISTER) {
        json_t *m = in->metadata ? json_loads(in->metadata, 0, NULL) : NULL;
        if (!json_is_object(m) || strlen(in->metadata) > HUB_MSG_META_MAX || !*in->api_key)
            abort();
        json_decref(m);
    } else if (in->metadata) {
        abort();
    }
}

/* Our messages carry what we put in them, exactly. */
static void s_roundtrip(const char *s)
{
    char out[HUB_MSG_OUT_MAX];
    int n = hub_msg_error(out, sizeof out, s);
    if (n < 0)
        return;   /* too long for one message: refused, not truncated */
    json_t *doc = json_loads(out, 0, NULL);
    const char *back = json_string_value(json_object_get(doc, "message"));
    if (!back || strcmp(back, s) != 0)
        abort();
    json_decref(doc);
}

static void s_converge(const hub_in_t *in)
{
    hub_conv_t c = { 0 };
    hub_desired_t d = { .has = true };
    memcpy(d.artifact_id, "11111111-1111-4111-8111-111111111111", 37);
    memcpy(d.artifact_hash, "sha256:x", 9);
    hub_conv_heartbeat(&c, in->has_hash ? in->artifact_hash : NULL, &d);
    if (hub_conv_needs(&c, &d, 0, 1000))
        hub_conv_announced(&c, &d, 0);
    hub_conv_downloaded(&c, in->artifact_id, in->success, &d);
    if (hub_conv_status(&c) != HUB_STATUS_ONLINE && hub_conv_status(&c) != HUB_STATUS_DEPLOYING)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hub_in_t in;
    char err[160] = "";
    int rc = hub_msg_parse((const char *) data, size, 65536, &in, err, sizeof err);
    if (rc == 0) {
        s_check(&in);
        s_roundtrip(in.name);
        s_roundtrip(in.error);
        s_converge(&in);
    } else if (!*err || in.metadata) {
        abort();   /* a refusal says why and leaves nothing behind */
    }
    hub_in_clear(&in);
    return 0;
}
