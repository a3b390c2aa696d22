/* JSON text exactly as the reference (Rust serde_json) writes it, so artifacts match byte for
 * byte: to_string_pretty layout, escaping and float spelling of BCA-FORMAT.md §4.1 and §4.4.
 * Pure functions over jansson values; callers own every returned buffer. */
#ifndef CC_JSON_H
#define CC_JSON_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Nesting bound of every function here (jansson's own parser stops at 2048), so a hostile or
 * cyclic value ends in NULL instead of a stack overflow. */
#define CC_JSON_MAX_DEPTH 2048

/* serde_json::to_string_pretty of v: 2-space indent, object members in jansson's insertion
 * order, no final newline. Returns a malloc'd NUL-terminated string (length in *len, may be
 * NULL), or NULL on OOM, invalid UTF-8 (strings or keys), a non-finite real or nesting deeper
 * than CC_JSON_MAX_DEPTH. */
char *cc_json_pretty(const json_t *v, size_t *len);
/* The same, compact (serde_json::to_string): no spaces at all. */
char *cc_json_compact(const json_t *v, size_t *len);
/* A deep copy with the members of every object inserted in bytewise key order, for the
 * free-form values (plugin configs, schemas, bindings) that serde writes from sorted maps.
 * Caller owns the result; NULL on OOM or nesting deeper than CC_JSON_MAX_DEPTH. */
json_t *cc_json_sorted(const json_t *v);
/* Writes the serde_json spelling of a finite double (§4.4: "1.0", "0.1", "1e16", "1.5e-7").
 * out needs 32 bytes. A non-finite d (never passed by the writers above) gives "null". */
void cc_json_float(double d, char out[32]);
/* serde_json's escape of one byte of a string: 0 when it is written as it is, else the length
 * of the escape written to out ('"', '\\' and control characters only; NUL-terminated). */
size_t cc_json_escape(unsigned char c, char out[7]);
/* True when [s, s+len) is well-formed UTF-8 (no overlongs, surrogates or code points past
 * U+10FFFF). Unlike cm_utf8_valid, NUL is allowed: it is a character JSON can carry. */
bool cc_json_utf8_valid(const unsigned char *s, size_t len);

#endif
