/* Majordomo-style framing constants shared by the broker, clients and workers (see
 * docs/adr/0001-wire-framing.md). Timing defaults are overridable at run time by flags. */
#ifndef PR_MDP_H
#define PR_MDP_H
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
#define PR_RECONNECT_MIN_MS 100  /* worker reconnect backoff, doubling ... */
#define PR_RECONNECT_MAX_MS 4000 /* ... up to this */

#define PR_MAX_FRAME (96u * 1024 * 1024)  /* largest envelope accepted (64 MiB plugin + slack) */
#define PR_QUEUE_MAX 10000                /* queued requests per service before 503 */
#define PR_MAX_CREDIT 64                  /* requests one worker may hold at once */

/* Every request carries a 16-byte tag frame: correlation id and absolute deadline. */
typedef struct {
    uint64_t cid;
    int64_t deadline_ms;  /* wall clock, Unix ms */
} pr_tag_t;

void pr_tag_pack(const pr_tag_t *tag, unsigned char out[16]);
/* 0 or -1 when the frame is not 16 bytes. */
int pr_tag_unpack(const void *data, size_t len, pr_tag_t *tag);

#endif
