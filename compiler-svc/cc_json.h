/* JSON text exactly as the reference (Rust serde_json) writes it, so artifacts match byte for
 * byte: to_string_pretty layout, escaping and float spelling of BCA-FORMAT.md §4.1 and §4.4.
 * Pure functions over jansson values; callers own every returned buffer. */
#ifndef CC_JSON_H
#define CC_JSON_H
#include <jansson.h>
#include <stddef.h>

/* serde_json::to_string_pretty of v: 2-space indent, object members in jansson's insertion
 * order, no final newline. Returns a malloc'd NUL-terminated string (length in *len, may be
 * NULL), or NULL on OOM, invalid UTF-8 or a non-finite real. */
char *cc_json_pretty(const json_t *v, size_t *len);
/* The same, compact (serde_json::to_string): no spaces at all. */
char *cc_json_compact(const json_t *v, size_t *len);
/* A deep copy with the members of every object inserted in bytewise key order, for the
 * free-form values (plugin configs, schemas, bindings) that serde writes from sorted maps.
 * Caller owns the result; NULL on OOM. */
json_t *cc_json_sorted(const json_t *v);
/* Writes the serde_json spelling of a finite double (§4.4: "1.0", "0.1", "1e16", "1.5e-7").
 * out needs 32 bytes. */
void cc_json_float(double d, char out[32]);

#endif
