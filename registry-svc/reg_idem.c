/* Idempotency-Key for registry mutations: the first answer to a keyed request is stored for
 * 24 h and replayed for the same request; a different request under the key is 409. */
#include "reg.h"
#include "cm_log.h"
#include "cm_util.h"
#include <openssl/evp.h>
#include <string.h>

#define REG_IDEM_KEY_MAX 255

static bool s_key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > REG_IDEM_KEY_MAX)
        return false;
    for (; *k; k++)
        if (*k < 0x21 || *k > 0x7e)
            return false;
    return true;
}

static void s_feed(EVP_MD_CTX *md, const void *data, size_t len)
{
    unsigned char n[8];
    for (int i = 0; i < 8; i++)
        n[i] = (unsigned char) ((uint64_t) len >> (56 - 8 * i));
    EVP_DigestUpdate(md, n, 8);   /* length-prefixed: no two requests collide by concatenation */
    EVP_DigestUpdate(md, data, len);
}

static void s_feed_str(EVP_MD_CTX *md, const char *s)
{
    s_feed(md, s ? s : "", s ? strlen(s) : 0);
}

/* What makes two requests "the same": operation, path, query, body and parts. */
static void s_fingerprint(const pr_request_t *req, char out[65])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char d[32];
    unsigned int n = 32;
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    s_feed_str(md, req->op);
    s_feed_str(md, req->uri);
    for (size_t i = 0; i < req->nquery; i++) {
        s_feed_str(md, req->query[i].key);
        s_feed_str(md, req->query[i].val);
    }
    s_feed(md, req->body ? (const void *) req->body : "", req->body_len);
    for (size_t i = 0; i < req->nparts; i++) {
        s_feed_str(md, req->parts[i].name);
        s_feed_str(md, req->parts[i].filename);
        s_feed_str(md, req->parts[i].content_type);
        s_feed(md, req->parts[i].data, req->parts[i].len);
    }
    EVP_DigestFinal_ex(md, d, &n);
    EVP_MD_CTX_free(md);
    cm_hex(d, 32, out);
}

static void s_lock(reg_ctx_t *ctx, const pr_request_t *req, const char *key, bool on)
{
    const char *vals[] = { req->principal ? req->principal : "", key };
    PGresult *res = cm_db_exec(ctx->db, on
        ? "SELECT pg_advisory_lock(hashtextextended($1 || chr(10) || $2, 7))"
        : "SELECT pg_advisory_unlock(hashtextextended($1 || chr(10) || $2, 7))",
        2, vals, NULL, NULL);
    PQclear(res);
}

/* Rebuilds the stored reply: headers are "name: value" lines. */
static void s_replay(reg_out_t *out, PGresult *res)
{
    const char *ctype = PQgetisnull(res, 0, 2) ? NULL : PQgetvalue(res, 0, 2);
    int status = atoi(PQgetvalue(res, 0, 1));
    size_t blen = 0;
    unsigned char *body = PQunescapeBytea((const unsigned char *) PQgetvalue(res, 0, 4), &blen);
    char *copy = malloc(blen + 1);
    if (copy && body)
        memcpy(copy, body, blen);
    PQfreemem(body);
    out->rep.content_type = NULL;
    reg_reply_owned(out, status, NULL, copy, copy ? blen : 0);
    if (ctype) {
        size_t l = strlen(ctype) + 1;
        if (out->hused + l <= sizeof out->hstore) {
            out->rep.content_type = memcpy(out->hstore + out->hused, ctype, l);
            out->hused += l;
        }
    }
    char *lines = strdup(PQgetvalue(res, 0, 3)), *save = NULL;
    for (char *ln = strtok_r(lines, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
        char *colon = strstr(ln, ": ");
        if (colon) {
            *colon = '\0';
            reg_header(out, ln, colon + 2);
        }
    }
    free(lines);
    reg_header(out, "X-Idempotency-Replayed", "true");
}

bool reg_idem_before(reg_ctx_t *ctx, const pr_request_t *req, reg_out_t *out, reg_idem_t *st)
{
    memset(st, 0, sizeof *st);
    const char *key = pr_kv_get(req->headers, req->nheaders, "Idempotency-Key");
    if (!key)
        return false;
    if (!s_key_ok(key)) {
        reg_problem(out, req, 400, "Idempotency-Key must be 1-255 visible ASCII characters");
        return true;
    }
    s_fingerprint(req, st->fingerprint);
    s_lock(ctx, req, key, true);   /* concurrent repeats wait for the first to finish */
    const char *vals[] = { req->principal ? req->principal : "", key };
    PGresult *res = cm_db_exec(ctx->db,
        "SELECT fingerprint, status, content_type, headers, body FROM idempotency_keys"
        " WHERE principal = $1 AND key = $2 AND expires_at > now()", 2, vals, NULL, NULL);
    bool answered = true;
    if (!cm_db_ok(res))
        reg_db_error(out, req, res);
    else if (PQntuples(res) == 0)
        answered = false;
    else if (strcmp(PQgetvalue(res, 0, 0), st->fingerprint) != 0)
        reg_problem(out, req, 409, "this Idempotency-Key was used for a different request");
    else
        s_replay(out, res);
    PQclear(res);
    if (answered)
        s_lock(ctx, req, key, false);
    st->active = !answered;
    st->key = key;
    return answered;
}

void reg_idem_after(reg_ctx_t *ctx, const pr_request_t *req, const reg_out_t *out,
                    reg_idem_t *st)
{
    if (!st->active)
        return;
    if (out->rep.status < 500) {
        char status[16], headers[2048] = "";
        size_t at = 0;
        snprintf(status, sizeof status, "%d", out->rep.status);
        for (size_t i = 0; i < out->rep.nheaders && at < sizeof headers; i++)
            at += (size_t) snprintf(headers + at, sizeof headers - at, "%s: %s\n",
                                    out->rep.headers[i].key, out->rep.headers[i].val);
        const char *vals[] = { req->principal ? req->principal : "", st->key, st->fingerprint,
                               status, out->rep.content_type, headers,
                               out->rep.body ? (const char *) out->rep.body : "" };
        int lens[] = { 0, 0, 0, 0, 0, 0, (int) out->rep.body_len };
        int fmts[] = { 0, 0, 0, 0, 0, 0, 1 };
        PGresult *res = cm_db_exec(ctx->db,
            "INSERT INTO idempotency_keys (principal, key, fingerprint, status, content_type,"
            " headers, body, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7,"
            " now() + interval '24 hours') ON CONFLICT (principal, key) DO UPDATE SET"
            " fingerprint = EXCLUDED.fingerprint, status = EXCLUDED.status,"
            " content_type = EXCLUDED.content_type, headers = EXCLUDED.headers,"
            " body = EXCLUDED.body, created_at = now(), expires_at = EXCLUDED.expires_at"
            " WHERE idempotency_keys.expires_at <= now()", 7, vals, lens, fmts);
        if (!cm_db_ok(res))
            cm_log_op(CM_LOG_WARN, req->rid, req->op, "idempotency record not stored: %s",
                      PQresultErrorMessage(res));
        PQclear(res);
    }
    s_lock(ctx, req, st->key, false);
    st->active = false;
}

void reg_idem_purge(reg_ctx_t *ctx)
{
    PGresult *res = cm_db_exec(ctx->db, "DELETE FROM idempotency_keys WHERE expires_at <= now()",
                               0, NULL, NULL, NULL);
    if (cm_db_ok(res) && atoi(PQcmdTuples(res)) > 0)
        cm_info("purged %s expired idempotency records", PQcmdTuples(res));
    PQclear(res);
}
