/* registry-svc: the context every handler gets and the operations it serves. Replies, lists
 * and idempotency come from the service kit (proto/pr_out.h, pr_list.h, pr_service.h). */
#ifndef REG_H
#define REG_H
#include <czmq.h>
#include <jansson.h>
#include <libpq-fe.h>
#include "cm_db.h"
#include "pr_envelope.h"
#include "pr_list.h"
#include "pr_out.h"

typedef struct {
    cm_db_t *db;
    zsock_t *pub;            /* events to the proxy */
} reg_ctx_t;

/* Operations. */
void reg_health(void *ctx, const pr_request_t *req, pr_out_t *out);
void reg_project_list(void *ctx, const pr_request_t *req, pr_out_t *out);
void reg_project_create(void *ctx, const pr_request_t *req, pr_out_t *out);
void reg_project_get(void *ctx, const pr_request_t *req, pr_out_t *out);
void reg_project_update(void *ctx, const pr_request_t *req, pr_out_t *out);
void reg_project_delete(void *ctx, const pr_request_t *req, pr_out_t *out);
/* True when the project exists; otherwise answers 404 (or the database error). */
bool reg_project_exists(reg_ctx_t *ctx, const pr_request_t *req, pr_out_t *out,
                        const char *id);
void reg_spec_upload(void *ctx, const pr_request_t *req, pr_out_t *out);
void reg_spec_list(void *ctx, const pr_request_t *req, pr_out_t *out);
void reg_spec_get(void *ctx, const pr_request_t *req, pr_out_t *out);
void reg_spec_delete(void *ctx, const pr_request_t *req, pr_out_t *out);
void reg_spec_history(void *ctx, const pr_request_t *req, pr_out_t *out);
void reg_spec_content(void *ctx, const pr_request_t *req, pr_out_t *out);
bool reg_semver_key(const char *version, char key[600]);
void reg_plugin_register(void *ctx, const pr_request_t *req, pr_out_t *out);
void reg_plugin_list(void *ctx, const pr_request_t *req, pr_out_t *out);
void reg_plugin_versions(void *ctx, const pr_request_t *req, pr_out_t *out);
void reg_plugin_get(void *ctx, const pr_request_t *req, pr_out_t *out);
void reg_plugin_delete(void *ctx, const pr_request_t *req, pr_out_t *out);
void reg_plugin_download(void *ctx, const pr_request_t *req, pr_out_t *out);
void reg_apikey_create(void *ctx, const pr_request_t *req, pr_out_t *out);
void reg_apikey_list(void *ctx, const pr_request_t *req, pr_out_t *out);
void reg_apikey_revoke(void *ctx, const pr_request_t *req, pr_out_t *out);
void reg_apikey_rotate(void *ctx, const pr_request_t *req, pr_out_t *out);
void reg_init_generate(void *ctx, const pr_request_t *req, pr_out_t *out);
void reg_dataplane_list(void *ctx, const pr_request_t *req, pr_out_t *out);
void reg_dataplane_get(void *ctx, const pr_request_t *req, pr_out_t *out);
void reg_dataplane_disconnect(void *ctx, const pr_request_t *req, pr_out_t *out);
void reg_deploy(void *ctx, const pr_request_t *req, pr_out_t *out);

#endif
