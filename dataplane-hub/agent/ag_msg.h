/* The data-plane WebSocket messages as the real Barbacane data plane speaks them: JSON text
 * frames with a "type" member. Parses what the control plane sends, encodes what a data plane
 * sends. Pure (jansson only); owns the strings of an ag_msg_t until ag_msg_clear. */
#ifndef AG_MSG_H
#define AG_MSG_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest server message the agent reassembles; a larger one is dropped, not buffered. */
#define AG_MSG_MAX (1u << 20)

typedef enum {
    AG_MSG_MALFORMED = 0,       /* not JSON, not an object, no string "type", or bad members */
    AG_MSG_UNKNOWN,             /* a well-formed object with a type the data plane does not know */
    AG_MSG_REGISTERED,          /* {data_plane_id, heartbeat_interval_secs} */
    AG_MSG_REGISTRATION_FAILED, /* {reason} */
    AG_MSG_ARTIFACT_AVAILABLE,  /* {artifact_id, download_url, sha256} */
    AG_MSG_HEARTBEAT_ACK,       /* {drift_detected} */
    AG_MSG_DISCONNECT,          /* {reason} */
    AG_MSG_ERROR,               /* {message} */
} ag_msg_type_t;

typedef struct {
    ag_msg_type_t type;
    char type_name[64];         /* the "type" member as sent (cut to fit), "" when absent */
    char error[160];            /* why the message is malformed or unknown */
    char data_plane_id[37];     /* registered: lowercase UUID */
    uint32_t heartbeat_interval_secs;
    char artifact_id[37];       /* artifact_available: lowercase UUID */
    char *download_url;         /* artifact_available (owned) */
    char *sha256;               /* artifact_available, as sent (owned) */
    bool drift_detected;        /* heartbeat_ack */
    char *text;                 /* reason (registration_failed, disconnect) or message (error) */
} ag_msg_t;

/* Parses one text frame with the data plane's rules (serde): required members present with
 * their types, ids are UUIDs, heartbeat_interval_secs fits a u32, duplicate keys refused, extra
 * members ignored. Returns 0 for a known, well-formed message; -1 otherwise, with out->type
 * AG_MSG_MALFORMED or AG_MSG_UNKNOWN and out->error saying why. Call ag_msg_clear after. */
int ag_msg_parse(const char *data, size_t len, ag_msg_t *out);
/* Frees the strings of m and zeroes it; safe on a zeroed or cleared value. */
void ag_msg_clear(ag_msg_t *m);

/* Encoders: compact JSON text (as serde_json writes it, members in the data plane's order);
 * the caller owns the malloc'd, NUL-terminated result (length in *len when len is not NULL).
 * NULL on OOM or on a string that is not UTF-8. */
/* {"type":"register","project_id","api_key"[,"name"],"metadata"}: name NULL = member absent. */
char *ag_msg_register(const char *project_id, const char *api_key, const char *name,
                      const json_t *metadata, size_t *len);
/* {"type":"heartbeat"[,"artifact_hash"],"uptime_secs","requests_total"}: artifact_hash NULL =
 * member absent (what the data plane's serializer writes for no artifact). */
char *ag_msg_heartbeat(const char *artifact_hash, uint64_t uptime_secs, uint64_t requests_total,
                       size_t *len);
/* {"type":"artifact_downloaded","artifact_id","success"[,"error"]}: error NULL = absent. */
char *ag_msg_artifact_downloaded(const char *artifact_id, bool success, const char *error,
                                 size_t *len);

#endif
