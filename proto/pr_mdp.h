/* The Majordomo-style framing shared by the broker, fronts and workers (see
 * docs/adr/0001-wire-framing.md): constants, one builder per message, one parser, and the one
 * send path. Timing defaults are overridable at run time by flags. */
#ifndef PR_MDP_H
#define PR_MDP_H
#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PR_MDPC "MDPC02"   /* client protocol tag */
#define PR_MDPW "MDPW02"   /* worker protocol tag */

/* Client commands. */
#define PR_C_REQUEST 0x01
#define PR_C_FINAL   0x03
#define PR_C_NAK     0x10  /* broker could not serve: status in the payload (503, 504) */

/* Worker commands. */
#define PR_W_READY      0x01
#define PR_W_REQUEST    0x02
#define PR_W_REPLY      0x03
#define PR_W_HEARTBEAT  0x04
#define PR_W_DISCONNECT 0x05

#define PR_HEARTBEAT_MS    1000  /* broker <-> worker heartbeat interval */
#define PR_LIVENESS        3     /* missed heartbeats before a peer is dead */
#define PR_RECONNECT_MIN_MS 100  /* worker reconnect backoff, doubling (with jitter) ... */
#define PR_RECONNECT_MAX_MS 4000 /* ... up to this */

#define PR_MAX_FRAME (96u * 1024 * 1024)  /* largest envelope accepted (64 MiB plugin + slack) */
#define PR_QUEUE_MAX 10000                /* queued requests per service before 503 */
#define PR_MAX_CREDIT 64                  /* requests one worker may hold at once */
#define PR_MAX_SERVICES 16                /* services the broker tracks at most */
#define PR_SERVICE_MAX 63                 /* longest service name */
#define PR_MAX_DEADLINE_MS (3600 * 1000)  /* a request's deadline is at most this far ahead */
#define PR_PEER_HWM 10000                 /* messages queued per peer pipe each way */

/* Every request carries a 16-byte tag frame: correlation id and absolute deadline. */
typedef struct {
    uint64_t cid;
    int64_t deadline_ms;  /* wall clock, Unix ms */
} pr_tag_t;

void pr_tag_pack(const pr_tag_t *tag, unsigned char out[16]);
/* 0 or -1 when the frame is not 16 bytes. */
int pr_tag_unpack(const void *data, size_t len, pr_tag_t *tag);

/* ---- sending ----------------------------------------------------------------------------
 * The one send path. czmq's zmsg_send frees a message only when it was sent; here the message
 * is always consumed, nothing blocks (a full peer queue is a failed send, not a stall), and a
 * failure of the first frame (an unknown ROUTER peer) sends nothing at all. 0 or -1. */
int pr_mdp_send(zsock_t *sock, zmsg_t **msg_p);
/* The same for n borrowed frames sent as one message (large frames are shared, not copied);
 * the frames stay the caller's whatever happens. */
int pr_mdp_send_frames(zsock_t *sock, zframe_t *const *frames, size_t n);
/* identity MDPW REQUEST client tag envelope, all borrowed (client NULL = a local request,
 * sent as an empty frame), so a request can be offered to another worker if this fails. */
int pr_mdp_send_worker_request(zsock_t *router, zframe_t *identity, zframe_t *client,
                               zframe_t *tag, zframe_t *env);

/* ---- building (each returns a new message the caller passes to pr_mdp_send) ------------- */
/* [identity?] MDPC REQUEST service tag envelope. */
zmsg_t *pr_mdp_client_request(const char *service, const pr_tag_t *tag, const void *env,
                              size_t len);
/* identity MDPC cmd service tag payload (broker -> a client on the ROUTER). */
zmsg_t *pr_mdp_client_reply(const zframe_t *identity, int cmd, const char *service,
                            const zframe_t *tag, const void *payload, size_t len);
/* [identity] MDPW cmd: HEARTBEAT or DISCONNECT (identity NULL on a worker's DEALER). */
zmsg_t *pr_mdp_worker_cmd(const zframe_t *identity, int cmd);
/* MDPW READY service credit. */
zmsg_t *pr_mdp_worker_ready(const char *service, int credit);
/* MDPW REPLY client tag reply. */
zmsg_t *pr_mdp_worker_reply(const zframe_t *client, const zframe_t *tag, const void *reply,
                            size_t len);

/* ---- parsing ----------------------------------------------------------------------------- */
typedef enum { PR_MDP_CLIENT, PR_MDP_WORKER } pr_mdp_proto_t;

typedef struct {
    zframe_t *sender;          /* ROUTER peer identity (owned), NULL on a DEALER */
    pr_mdp_proto_t proto;
    int cmd;
    char service[PR_SERVICE_MAX + 1];  /* REQUEST from a client, READY, replies to a client */
    zframe_t *client, *tag, *body;     /* owned; which are set depends on cmd */
    pr_tag_t t;                /* decoded tag, when tag is set */
    int credit;                /* READY */
    char user_id[64];          /* ZAP User-Id of the peer ("" on a plain socket) */
} pr_mdp_msg_t;

/* Parses one received message (consumed: its frames move into out or are freed). from_router
 * says the first frame is a peer identity. Checks the frame count and sizes of every command
 * and the tag. 0, or -1 (out cleared) when the message is malformed. */
int pr_mdp_parse(zmsg_t **msg_p, bool from_router, pr_mdp_msg_t *out);
void pr_mdp_msg_clear(pr_mdp_msg_t *m);

#endif
