/* Admin bearer tokens: loaded from the flag and the token file (one per line), checked for
 * length and placeholders, kept only as SHA-256 hashes, compared in constant time.
 * Owns: a gw_tokens_t (the hashes). */
#ifndef GW_TOKENS_H
#define GW_TOKENS_H
#include <stdbool.h>
#include <stddef.h>

#define GW_TOKEN_MIN 32

typedef struct gw_tokens gw_tokens_t;

/* Tokens of text (newline-separated; may be "") and of file (may be "" for none). NULL with a
 * reason in err when a token is shorter than GW_TOKEN_MIN characters or a known placeholder,
 * the file cannot be read, or there is no token at all. Caller owns the result. */
gw_tokens_t *gw_tokens_load(const char *text, const char *file, char *err, size_t errlen);
void gw_tokens_destroy(gw_tokens_t **self_p);
/* True when token is one of them (every hash is compared: no early exit). */
bool gw_tokens_check(const gw_tokens_t *self, const char *token);
size_t gw_tokens_count(const gw_tokens_t *self);

#endif
