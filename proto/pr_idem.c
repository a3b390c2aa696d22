/* The service kit, idempotency. Owns nothing between calls: a pr_idem_t carries the state of
 * one request from pr_idem_before to pr_idem_after. Records are sealed (AES-256-GCM) under a
 * key derived (HMAC-SHA256) from the server secret, the principal and the Idempotency-Key,
 * so a dump of the table reveals nothing without the secret file. */
#include "pr_idem.h"
#include "cm_log.h"
#include "cm_util.h"
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <string.h>


static bool s_key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > PR_IDEM_KEY_MAX)
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

/* The record's id (hex) and its sealing key: HMAC-SHA256 under the server secret of a label,
 * the principal and the client's key (length-prefixed, so no two inputs collide). */
static void s_derive(const unsigned char *secret, const pr_request_t *req, const char *key,
                     char id[65], unsigned char seal[32])
{
    const char *who = req->principal ? req->principal : "";
    unsigned char d[32];
    for (int round = 0; round < 2; round++) {
        const char *label = round ? "barbacane-idempotency-seal-v2" : "barbacane-idempotency-id-v2";
        size_t n = 0;
        unsigned char buf[3 * 264];
        const char *parts[] = { label, who, key };
        for (int i = 0; i < 3; i++) {
            size_t l = strlen(parts[i]) < 255 ? strlen(parts[i]) : 255;
            buf[n++] = (unsigned char) l;
            memcpy(buf + n, parts[i], l);
            n += l;
        }
        unsigned int outlen = 32;
        HMAC(EVP_sha256(), secret, 32, buf, n, round ? seal : d, &outlen);
    }
    cm_hex(d, 32, id);
}

/* AES-256-GCM: out = nonce(12) || ciphertext || tag(16); returns its length, 0 on failure. */
static size_t s_seal(const unsigned char key[32], const unsigned char *in, size_t len,
                     unsigned char *out)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, m = 0;
    bool ok = c && RAND_bytes(out, 12) == 1
              && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, out) == 1
              && EVP_EncryptUpdate(c, out + 12, &n, in, (int) len) == 1
              && EVP_EncryptFinal_ex(c, out + 12 + n, &m) == 1
              && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out + 12 + n + m) == 1;
    EVP_CIPHER_CTX_free(c);
    return ok ? (size_t) (12 + n + m + 16) : 0;
}

/* Inverse of s_seal; returns the plaintext length, -1 when the record does not open. */
static long s_open(const unsigned char key[32], const unsigned char *in, size_t len,
                   unsigned char *out)
{
    if (len < 28)
        return -1;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, m = 0;
    bool ok = c && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, in) == 1
              && EVP_DecryptUpdate(c, out, &n, in + 12, (int) (len - 28)) == 1
              && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, (void *) (in + len - 16)) == 1
              && EVP_DecryptFinal_ex(c, out + n, &m) == 1;
    EVP_CIPHER_CTX_free(c);
    return ok ? n + m : -1;
}

static void s_lock(cm_db_t *db, const char *id, bool on)
{
    const char *vals[] = { id };
    PGresult *res = cm_db_exec(db, on
        ? "SELECT pg_advisory_lock(hashtextextended($1, 7))"
        : "SELECT pg_advisory_unlock(hashtextextended($1, 7))", 1, vals, NULL, NULL);
    PQclear(res);
}

/* Rebuilds the stored reply: headers are "name: value" lines; the body is unsealed. */
static bool s_replay(pr_out_t *out, PGresult *res, const unsigned char seal[32])
{
    const char *ctype = PQgetisnull(res, 0, 2) ? NULL : PQgetvalue(res, 0, 2);
    size_t slen = 0;
    unsigned char *sealed = PQunescapeBytea((const unsigned char *) PQgetvalue(res, 0, 4), &slen);
    char *body = sealed ? malloc(slen + 1) : NULL;
    long blen = body ? s_open(seal, sealed, slen, (unsigned char *) body) : -1;
    PQfreemem(sealed);
    if (blen < 0) {
        free(body);
        return false;
    }
    pr_out_owned(out, atoi(PQgetvalue(res, 0, 1)), NULL, body, (size_t) blen);
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
            pr_out_header(out, ln, colon + 2);
        }
    }
    free(lines);
    pr_out_header(out, "X-Idempotency-Replayed", "true");
    return true;
}

bool pr_idem_before(cm_db_t *db, const unsigned char *secret, const pr_request_t *req,
                    pr_out_t *out, pr_idem_t *st)
{
    memset(st, 0, sizeof *st);
    const char *key = pr_kv_get(req->headers, req->nheaders, "Idempotency-Key");
    if (!key)
        return false;
    if (!s_key_ok(key)) {
        pr_out_problem(out, req, 400, "Idempotency-Key must be 1-255 visible ASCII characters");
        return true;
    }
    s_fingerprint(req, st->fingerprint);
    s_derive(secret, req, key, st->id, st->seal);
    s_lock(db, st->id, true);   /* concurrent repeats wait for the first to finish */
    const char *vals[] = { st->id };
    PGresult *res = cm_db_exec(db,
        "SELECT fingerprint, status, content_type, headers, sealed_body FROM idempotency_keys"
        " WHERE key_hash = $1 AND expires_at > now()", 1, vals, NULL, NULL);
    bool answered = true;
    if (!cm_db_ok(res))
        pr_out_db_error(out, req, res);
    else if (PQntuples(res) == 0)
        answered = false;
    else if (strcmp(PQgetvalue(res, 0, 0), st->fingerprint) != 0)
        pr_out_problem(out, req, 409, "this Idempotency-Key was used for a different request");
    else if (!s_replay(out, res, st->seal))
        pr_out_problem(out, req, 500, "the stored answer could not be opened");
    PQclear(res);
    if (answered)
        s_lock(db, st->id, false);
    st->active = !answered;
    return answered;
}

void pr_idem_after(cm_db_t *db, const pr_request_t *req, const pr_out_t *out, pr_idem_t *st)
{
    if (!st->active)
        return;
    unsigned char *sealed = malloc(out->rep.body_len + 28);
    size_t slen = sealed ? s_seal(st->seal, out->rep.body ? out->rep.body : (const unsigned char *) "",
                                  out->rep.body_len, sealed) : 0;
    if (out->rep.status < 500 && slen > 0) {
        char status[16], headers[2048] = "";
        size_t at = 0;
        snprintf(status, sizeof status, "%d", out->rep.status);
        for (size_t i = 0; i < out->rep.nheaders && at < sizeof headers; i++)
            at += (size_t) snprintf(headers + at, sizeof headers - at, "%s: %s\n",
                                    out->rep.headers[i].key, out->rep.headers[i].val);
        const char *vals[] = { st->id, st->fingerprint, status, out->rep.content_type, headers,
                               (const char *) sealed };
        int lens[] = { 0, 0, 0, 0, 0, (int) slen };
        int fmts[] = { 0, 0, 0, 0, 0, 1 };
        PGresult *res = cm_db_exec(db,
            "INSERT INTO idempotency_keys (key_hash, fingerprint, status, content_type, headers,"
            " sealed_body, expires_at) VALUES ($1, $2, $3, $4, $5, $6,"
            " now() + interval '24 hours') ON CONFLICT (key_hash) DO UPDATE SET"
            " fingerprint = EXCLUDED.fingerprint, status = EXCLUDED.status,"
            " content_type = EXCLUDED.content_type, headers = EXCLUDED.headers,"
            " sealed_body = EXCLUDED.sealed_body, created_at = now(),"
            " expires_at = EXCLUDED.expires_at WHERE idempotency_keys.expires_at <= now()",
            6, vals, lens, fmts);
        if (!cm_db_ok(res))
            cm_log_op(CM_LOG_WARN, req->rid, req->op, "idempotency record not stored: %s",
                      PQresultErrorMessage(res));
        PQclear(res);
    }
    free(sealed);
    s_lock(db, st->id, false);
    st->active = false;
}

void pr_idem_purge(cm_db_t *db)
{
    PGresult *res = cm_db_exec(db, "DELETE FROM idempotency_keys WHERE expires_at <= now()",
                               0, NULL, NULL, NULL);
    if (cm_db_ok(res) && atoi(PQcmdTuples(res)) > 0)
        cm_info("purged %s expired idempotency records", PQcmdTuples(res));
    PQclear(res);
}
