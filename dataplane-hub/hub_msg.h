/* The data-plane WebSocket message codec: JSON text frames to typed messages and back, exactly
 * as the real Barbacane data plane speaks them. Pure functions (jansson only); owns nothing. */
#ifndef HUB_MSG_H
#define HUB_MSG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HUB_MSG_TYPE_MAX     32     /* bytes of a "type" value */
#define HUB_MSG_KEY_MAX      256    /* bytes of an API key */
#define HUB_MSG_NAME_MAX     200    /* bytes of a data-plane name */
#define HUB_MSG_HASH_MAX     128    /* bytes of a reported artifact_hash */
#define HUB_MSG_ERROR_MAX    256    /* bytes kept of artifact_downloaded.error (longer is cut) */
#define HUB_MSG_META_MAX     16384  /* bytes of register.metadata, re-serialised */
#define HUB_MSG_META_DEPTH   16     /* nesting of register.metadata */
#define HUB_MSG_OUT_MAX      2048   /* bytes of any message the hub sends */

typedef enum {
    HUB_IN_NONE,        /* no usable "type" member */
    HUB_IN_REGISTER,
    HUB_IN_HEARTBEAT,
    HUB_IN_DOWNLOADED,  /* artifact_downloaded */
    HUB_IN_UNKNOWN      /* a well-formed message of a type the hub does not know */
} hub_in_type_t;

typedef struct {
    hub_in_type_t type;                  /* set whenever the type was recognised, even on error */
    char type_name[HUB_MSG_TYPE_MAX + 1];
    /* register */
    char project_id[37];                 /* lowercased UUID */
    char api_key[HUB_MSG_KEY_MAX + 1];
    bool has_name;
    char name[HUB_MSG_NAME_MAX + 1];
    char *metadata;                      /* compact JSON object text, owned; "{}" when absent */
    /* heartbeat */
    bool has_hash;
    char artifact_hash[HUB_MSG_HASH_MAX + 1];
    uint64_t uptime_secs, requests_total;
    /* artifact_downloaded */
    char artifact_id[37];                /* lowercased UUID */
    bool success;
    bool has_error;
    char error[HUB_MSG_ERROR_MAX + 1];
} hub_in_t;

/* Decodes one text message of len bytes (not NUL-terminated). Rejects messages over max
 * bytes, invalid UTF-8 or JSON, duplicate keys, non-objects and ill-typed or oversize fields.
 * 0 with *in filled, or -1 with a reason for the peer in err (in->type still says which
 * message it was when that much was readable). Call hub_in_clear afterwards either way. */
int hub_msg_parse(const char *text, size_t len, size_t max, hub_in_t *in, char *err,
                  size_t errlen);
/* Frees what a parse left in in (the metadata text); safe to call twice. */
void hub_in_clear(hub_in_t *in);

/* The hub's messages, written as compact JSON into out (cap bytes, NUL-terminated).
 * Each returns the length written, or -1 when it does not fit or a string is not UTF-8. */
int hub_msg_registered(char *out, size_t cap, const char *data_plane_id, int heartbeat_secs);
int hub_msg_registration_failed(char *out, size_t cap, const char *reason);
int hub_msg_heartbeat_ack(char *out, size_t cap, bool drift_detected);
int hub_msg_artifact_available(char *out, size_t cap, const char *artifact_id,
                               const char *download_url, const char *sha256);
int hub_msg_disconnect(char *out, size_t cap, const char *reason);
int hub_msg_error(char *out, size_t cap, const char *message);

#endif
