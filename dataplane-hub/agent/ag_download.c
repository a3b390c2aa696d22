/* A data plane's artifact download: a plain GET with no credential (libwebsockets HTTP client,
 * non-blocking), bounded in size and time, streamed to a file while hashed, then the sha256
 * compared with what artifact_available said. Owns: the download object (freed when its wsi is
 * destroyed), its file until handed to the session, and its digest state. */
#include "ag_int.h"
#include "cm_log.h"
#include "cm_util.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void s_free(ag_download_t *d)
{
    lws_sul_cancel(&d->sul_timeout);
    if (d->f)
        fclose(d->f);
    if (d->part_path)
        unlink(d->part_path);
    free(d->part_path);
    EVP_MD_CTX_free(d->md);
    free(d->expected_sha256);
    free(d);
}

/* Hands the outcome to the session once; error NULL = the file is verified against sha256. */
static void s_finish(ag_download_t *d, const char *error)
{
    if (d->finished || d->in_connect) {
        d->finished = true;
        return;
    }
    d->finished = true;
    lws_sul_cancel(&d->sul_timeout);
    ag_session_t *s = d->s;
    char *path = NULL;
    if (d->f && fclose(d->f) != 0 && !error)
        error = "download failed: write error";
    d->f = NULL;
    if (!error) {
        /* the verified file takes its final name; the session owns it from here */
        path = strdup(d->part_path);
        size_t n = path ? strlen(path) : 0;
        if (path && n > 5) {
            memcpy(path + n - 5, ".bca", 5);
            if (rename(d->part_path, path) != 0) {
                free(path);
                path = NULL;
            }
        }
        if (!path)
            error = "download failed: cannot keep the downloaded file";
        else {
            free(d->part_path);
            d->part_path = NULL;
        }
    }
    if (s) {
        s->dl = NULL;
        ag_session_downloaded(s, d->seq, path, error);
    } else if (path) {
        unlink(path);
        free(path);
    }
}

static void s_fail(ag_download_t *d, const char *fmt, const char *arg)
{
    char why[400];
    snprintf(why, sizeof why, fmt, arg);
    s_finish(d, why);
}

/* The body is complete: emit "downloaded", compare the digest, finish. */
static void s_complete(ag_download_t *d)
{
    if (d->finished)
        return;
    d->completed = true;
    unsigned char raw[32];
    unsigned int rawlen = 0;
    char hex[65], why[400];
    EVP_DigestFinal_ex(d->md, raw, &rawlen);
    cm_hex(raw, 32, hex);
    if (d->s)
        ag_out_emit(d->s->agent->out, AG_EV_SESSION, "downloaded", (long) d->s->index,
                    json_pack("{s:s, s:I, s:s, s:i}", "artifact_id", d->artifact_id, "bytes",
                              (json_int_t) d->bytes, "sha256", hex, "status", d->status));
    /* compared as sent: the data plane wants lowercase hex of the whole file */
    if (strcmp(hex, d->expected_sha256) != 0) {
        snprintf(why, sizeof why, "download failed: checksum mismatch: expected %.80s, got %s",
                 d->expected_sha256, hex);
        s_finish(d, why);
        return;
    }
    s_finish(d, NULL);
}

static void s_timeout_cb(lws_sorted_usec_list_t *sul)
{
    ag_download_t *d = lws_container_of(sul, ag_download_t, sul_timeout);
    s_fail(d, "download failed: %s", "timed out");
    if (d->wsi)
        lws_set_timeout(d->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static int s_open_file(ag_download_t *d, const char *work_dir, size_t index)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/s%zu-%llu.part", work_dir, index,
             (unsigned long long) d->seq);
    d->part_path = strdup(path);
    d->f = d->part_path ? fopen(path, "wb") : NULL;
    d->md = EVP_MD_CTX_new();
    return d->f && d->md && EVP_DigestInit_ex(d->md, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

int ag_download_start(ag_session_t *s, uint64_t seq, const char *artifact_id, const char *url,
                      const char *sha256, char *err, size_t errlen)
{
    ag_agent_t *a = s->agent;
    ag_download_t *d = calloc(1, sizeof *d);
    if (!d)
        return snprintf(err, errlen, "out of memory"), -1;
    d->kind = AG_KIND_DOWNLOAD;
    d->seq = seq;
    d->content_length = -1;
    snprintf(d->artifact_id, sizeof d->artifact_id, "%s", artifact_id);
    d->expected_sha256 = strdup(sha256);
    if (!d->expected_sha256) {
        snprintf(err, errlen, "out of memory");
        s_free(d);
        return -1;
    }
    if (ag_url_parse(url, &d->url, err, errlen) != 0) {
        s_free(d);
        return -1;
    }
    if (s_open_file(d, a->work_dir, s->index) != 0) {
        snprintf(err, errlen, "cannot create a file in the work directory");
        s_free(d);
        return -1;
    }
    struct lws_client_connect_info cc;
    memset(&cc, 0, sizeof cc);
    cc.context = a->ctx;
    cc.address = d->url.host;
    cc.port = d->url.port;
    cc.path = d->url.path;
    cc.host = d->url.authority;
    cc.method = "GET";
    cc.ssl_connection = d->url.tls ? LCCSCF_USE_SSL : 0;
    cc.alpn = "http/1.1";
    cc.local_protocol_name = "barbacane-agent-http";
    cc.userdata = d;
    cc.pwsi = &d->wsi;
    d->s = s;
    s->dl = d;
    d->in_connect = true;
    struct lws *wsi = lws_client_connect_via_info(&cc);
    d->in_connect = false;
    if (wsi && !d->wsi_gone && !d->finished) {
        lws_sul_schedule(a->ctx, 0, &d->sul_timeout, s_timeout_cb,
                         (lws_usec_t) a->cfg.download_timeout_ms * LWS_US_PER_MS);
        return 0;
    }
    /* failed inside the call: the caller reports it, the session is not told twice */
    s->dl = NULL;
    d->s = NULL;
    d->finished = true;
    snprintf(err, errlen, "cannot connect to %s", d->url.authority);
    if (wsi && !d->wsi_gone)
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);  /* freed at destroy */
    else
        s_free(d);
    return -1;
}

void ag_download_detach(ag_download_t *self)
{
    if (self->s)
        self->s->dl = NULL;
    self->s = NULL;
}

/* ---------------------------------------------------------------- lws callback */

static int s_headers(ag_download_t *d, struct lws *wsi)
{
    if (d->finished)
        return -1;      /* timed out or let go: close */
    d->status = (int) lws_http_client_http_response(wsi);
    if (d->status < 200 || d->status > 299) {
        char code[16];
        snprintf(code, sizeof code, "%d", d->status);
        s_fail(d, "download failed: download failed with status: %s", code);
        return -1;
    }
    char cl[32];
    if (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) {
        char *end = NULL;
        long long v = strtoll(cl, &end, 10);
        d->content_length = end && *end == '\0' && v >= 0 ? v : -1;
    }
    long max = d->s ? d->s->agent->cfg.max_download_bytes : 0;
    if (d->content_length > max) {
        s_fail(d, "download failed: artifact larger than %s bytes", "--max-download-bytes");
        return -1;
    }
    return 0;
}

static int s_body(ag_download_t *d, const void *in, size_t len)
{
    long max = d->s ? d->s->agent->cfg.max_download_bytes : 0;
    if (d->finished)
        return -1;
    if (d->bytes + len > (uint64_t) max) {
        s_fail(d, "download failed: artifact larger than %s bytes", "--max-download-bytes");
        return -1;
    }
    if (fwrite(in, 1, len, d->f) != len) {
        s_fail(d, "download failed: %s", "write error");
        return -1;
    }
    EVP_DigestUpdate(d->md, in, len);
    d->bytes += len;
    return 0;
}

/* The body ended with the connection: complete when no Content-Length bounded it. */
static void s_closed(ag_download_t *d)
{
    if (d->finished)
        return;
    if (d->status >= 200 && d->status <= 299 && d->content_length < 0)
        s_complete(d);
    else if (d->content_length >= 0 && d->bytes == (uint64_t) d->content_length && d->status)
        s_complete(d);
    else
        s_fail(d, "download failed: download stream error: %s", "connection closed early");
}

int ag_download_callback(ag_download_t *d, struct lws *wsi, enum lws_callback_reasons reason,
                         void *in, size_t len)
{
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
        return s_headers(d, wsi);
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP: {
        char buf[LWS_PRE + 16384], *p = buf + LWS_PRE;
        int n = (int) sizeof buf - LWS_PRE;
        return lws_http_client_read(wsi, &p, &n) < 0 ? -1 : 0;
    }
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
        return s_body(d, in, len);
    case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
        s_complete(d);
        /* done with this connection: no keep-alive reuse */
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
        char why[200];
        snprintf(why, sizeof why, "%.*s", in ? (int) (len < 199 ? len : 199) : 0,
                 in ? (const char *) in : "");
        s_fail(d, "download failed: download request failed: %s",
               why[0] ? why : "connection failed");
        return 0;
    }
    case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
        s_closed(d);
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        d->wsi = NULL;
        d->wsi_gone = true;
        if (!d->in_connect) {
            s_fail(d, "download failed: %s", "connection lost");
            s_free(d);
        }
        return 0;
    default:
        return 0;
    }
}
