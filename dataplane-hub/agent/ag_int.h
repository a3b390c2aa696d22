/* Internal structures shared by the agent's engine files (ag_agent.c, ag_session.c,
 * ag_download.c); nothing outside dataplane-hub/agent includes this. Every field is touched on
 * the service thread only. Owns no code; says who owns each field. */
#ifndef AG_INT_H
#define AG_INT_H
#include "ag_agent.h"
#include "ag_out.h"
#include "ag_url.h"
#include "ag_worker.h"
#include <jansson.h>
#include <libwebsockets.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>

/* Frames queued for one connection, and acknowledgements waiting for a registration. */
#define AG_OUTQ_MAX 16
#define AG_BACKLOG_MAX 16

/* The first member of every wsi user object: lws calls protocols[0] for every wsi's
 * LWS_CALLBACK_WSI_DESTROY, so one callback must tell sessions from downloads. */
typedef enum { AG_KIND_SESSION = 0x5e55, AG_KIND_DOWNLOAD = 0xd0d0 } ag_kind_t;

typedef enum {
    AG_S_IDLE,                  /* waiting for its reconnect timer */
    AG_S_QUEUED,                /* waiting for a connect slot (max_pending) */
    AG_S_CONNECTING,            /* TCP + upgrade in progress */
    AG_S_REGISTERING,           /* register sent, waiting for the first frame */
    AG_S_REGISTERED,
} ag_state_t;

typedef struct ag_frame {
    struct ag_frame *next;
    size_t len;
    unsigned char buf[];        /* LWS_PRE bytes of headroom, then len bytes of text */
} ag_frame_t;

typedef struct ag_session ag_session_t;
typedef struct ag_download ag_download_t;

struct ag_session {
    ag_kind_t kind;
    ag_agent_t *agent;
    size_t index;
    char *name;                 /* owned; NULL = nameless */
    ag_state_t state;
    struct lws *wsi;            /* the live connection, or NULL */
    bool established;           /* upgraded: a close code will follow */
    int close_code;             /* received in the close frame, or ours */
    int want_close;             /* a close frame to send at the next WRITEABLE, 0 = none */
    char end_reason[200];       /* why the connection ended, for the closed event */
    unsigned attempt;           /* failed attempts since the last registration */
    char data_plane_id[37];
    uint32_t hb_interval_s;
    int64_t registered_mono_ms;
    uint64_t heartbeats;        /* sent on this connection */
    ag_frame_t *outq, *outq_tail;   /* owned */
    size_t outq_len;
    ag_frame_t *backlog, *backlog_tail; /* owned */
    size_t backlog_len;
    char *rx;                   /* owned: the message being reassembled */
    size_t rx_len, rx_cap;
    bool rx_drop, rx_binary;
    lws_sorted_usec_list_t sul_hb, sul_retry, sul_deadline;
    /* the artifact this data plane runs, across connections */
    bool has_artifact;
    char artifact_hash[72];
    char *artifact_path;        /* owned */
    /* a hot reload in progress (download, then check) */
    bool busy;
    uint64_t busy_seq;
    char busy_artifact[37];
    ag_download_t *dl;          /* borrowed: the download owns itself until its wsi is gone */
};

struct ag_download {
    ag_kind_t kind;
    ag_session_t *s;            /* NULL once the session let go of it */
    uint64_t seq;
    char artifact_id[37];
    char *expected_sha256;      /* owned, as the server sent it */
    ag_url_t url;
    char *part_path;            /* owned */
    FILE *f;
    EVP_MD_CTX *md;
    uint64_t bytes;
    int64_t content_length;     /* -1 = not sent */
    int status;
    bool in_connect, wsi_gone, finished, completed;
    struct lws *wsi;
    lws_sorted_usec_list_t sul_timeout;
};

struct ag_agent {
    ag_config_t cfg;
    ag_url_t ws;
    char project_id[37];
    json_t *metadata;           /* owned */
    char work_dir[4096];
    bool own_work_dir;
    struct lws_context *ctx;
    ag_session_t **sessions;    /* owned, n of them */
    size_t n;
    size_t *waitq;              /* ring of session indexes waiting for a connect slot */
    size_t waitq_head, waitq_len;
    size_t pending, registered;
    bool all_announced;
    uint64_t rounds;
    int64_t started_mono_ms;
    uint64_t dl_seq;
    ag_out_t *out;              /* owned */
    ag_worker_t *worker;        /* owned */
    lws_sorted_usec_list_t sul_pump, sul_exit, sul_drain;
    volatile sig_atomic_t stop;
    bool shutting_down;
};

/* ag_agent.c */
/* Queues a session for a connect slot and schedules the pump. */
void ag_agent_enqueue(ag_agent_t *self, ag_session_t *s);
/* A session left CONNECTING/REGISTERING (registered or not): frees a slot. */
void ag_agent_slot_freed(ag_agent_t *self);
/* A connection of a session ended (during shutdown the loop must look again). */
void ag_agent_conn_ended(ag_agent_t *self);
/* The registered count moved by delta; writes all_registered when it reaches n. */
void ag_agent_registered(ag_agent_t *self, int delta);
uint32_t ag_agent_random(void);

/* ag_session.c */
ag_session_t *ag_session_new(ag_agent_t *agent, size_t index, const char *name);
/* Frees the session; call ag_session_quiesce while the lws context still exists. */
void ag_session_destroy(ag_session_t **self_p);
/* Cancels the session's timers (before the lws context goes). */
void ag_session_quiesce(ag_session_t *self);
/* Opens a connection (state QUEUED → CONNECTING). */
void ag_session_connect(ag_session_t *self);
/* The lws callback for the session's WebSocket wsi. */
int ag_session_callback(ag_session_t *self, struct lws *wsi, enum lws_callback_reasons reason,
                        void *in, size_t len);
/* The download of seq ended: on success path is the verified file (ownership moves in),
 * otherwise error says why (already prefixed "download failed: "). */
void ag_session_downloaded(ag_session_t *self, uint64_t seq, char *path, const char *error);
/* The checker's verdict on the session's download (ownership of job moves in). */
void ag_session_checked(ag_session_t *self, ag_job_t *job);
/* Asks an open connection to close with a normal close frame (shutdown). */
void ag_session_close(ag_session_t *self);

/* ag_download.c */
/* Starts downloading url (already joined) for s; 0, or -1 with a reason in err. */
int ag_download_start(ag_session_t *s, uint64_t seq, const char *artifact_id, const char *url,
                      const char *sha256, char *err, size_t errlen);
/* The lws callback for a download's HTTP wsi. */
int ag_download_callback(ag_download_t *self, struct lws *wsi,
                         enum lws_callback_reasons reason, void *in, size_t len);
/* The session lets go (agent shutdown): the download finishes on its own. */
void ag_download_detach(ag_download_t *self);

#endif
