/* Admin tokens. Owns the array of SHA-256 hashes; plaintext tokens live only while loading. */
#include "gw_tokens.h"
#include "cm_util.h"
#include <ctype.h>
#include <czmq.h>
#include <string.h>
#include <strings.h>

struct gw_tokens {
    unsigned char (*hashes)[32];
    size_t n;
};

/* Values copied from example configuration: refused whatever their length. */
static bool s_placeholder(const char *t)
{
    static const char *const words[] = { "change-me", "changeme", "change_me", "replace-me",
                                         "replaceme", "placeholder", "your-token", "example" };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcasestr(t, words[i]))
            return true;
    bool same = true;   /* "aaaaaaaa…", "00000000…" */
    for (const char *p = t; *p; p++)
        same &= *p == t[0];
    return same;
}

/* Adds each line of text; -1 with a reason when a token is unacceptable. */
static int s_add(gw_tokens_t *self, const char *text, const char *origin, char *err,
                 size_t errlen)
{
    char *copy = strdup(text), *save = NULL;
    int rc = copy ? 0 : -1;
    for (char *t = copy ? strtok_r(copy, "\n", &save) : NULL; t && rc == 0;
         t = strtok_r(NULL, "\n", &save)) {
        cm_trim(t);
        if (!*t || *t == '#')
            continue;
        if (cm_utf8_len(t) < GW_TOKEN_MIN || s_placeholder(t)) {
            snprintf(err, errlen, "an admin token in %s is %s: use at least %d random "
                     "characters (e.g. openssl rand -hex 32)", origin,
                     s_placeholder(t) ? "a placeholder" : "too short", GW_TOKEN_MIN);
            rc = -1;
            break;
        }
        void *grown = realloc(self->hashes, (self->n + 1) * sizeof *self->hashes);
        if (!grown) {
            rc = -1;
            break;
        }
        self->hashes = grown;
        cm_sha256(t, strlen(t), self->hashes[self->n++]);
    }
    if (copy)
        explicit_bzero(copy, strlen(text));
    free(copy);
    return rc;
}

static char *s_read_file(const char *path)
{
    zfile_t *f = zfile_new(NULL, path);
    zchunk_t *chunk = f && zfile_input(f) == 0 ? zfile_read(f, 65536, 0) : NULL;
    char *text = chunk ? zchunk_strdup(chunk) : NULL;
    if (chunk)
        explicit_bzero(zchunk_data(chunk), zchunk_size(chunk));
    zchunk_destroy(&chunk);
    zfile_destroy(&f);
    return text;
}

gw_tokens_t *gw_tokens_load(const char *text, const char *file, char *err, size_t errlen)
{
    gw_tokens_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    int rc = s_add(self, text ? text : "", "--admin-token", err, errlen);
    if (rc == 0 && file && *file) {
        char *content = s_read_file(file);
        if (!content) {
            snprintf(err, errlen, "cannot read admin token file %s", file);
            rc = -1;
        } else {
            rc = s_add(self, content, file, err, errlen);
            explicit_bzero(content, strlen(content));
            free(content);
        }
    }
    if (rc == 0 && self->n == 0) {
        snprintf(err, errlen, "an admin token is required (--admin-token-file or "
                 "BARBACANE_ADMIN_TOKEN)");
        rc = -1;
    }
    if (rc != 0)
        gw_tokens_destroy(&self);
    return self;
}

void gw_tokens_destroy(gw_tokens_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->hashes);
    free(*self_p);
    *self_p = NULL;
}

bool gw_tokens_check(const gw_tokens_t *self, const char *token)
{
    if (!self || !token)
        return false;
    unsigned char d[32];
    cm_sha256(token, strlen(token), d);
    bool ok = false;
    for (size_t i = 0; i < self->n; i++)
        ok |= cm_ct_equal(d, self->hashes[i], 32);
    return ok;
}

size_t gw_tokens_count(const gw_tokens_t *self)
{
    return self ? self->n : 0;
}
