/* A JSON Schema 2020-12 validator of our own over jansson values: core, applicator,
 * unevaluated and validation vocabularies, format as annotation or (optionally) assertion.
 * Owns: cc_schema_t (a compiled schema and the resources it references). */
#ifndef CC_SCHEMA_H
#define CC_SCHEMA_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct cc_schema cc_schema_t;

/* Loads the schema document of an absolute URI (no fragment), for $ref to other resources
 * (e.g. http://localhost:1234/... in the test suite). Returns a new reference the validator
 * takes over, or NULL when the URI is unknown. The 2020-12 meta-schemas are built in and
 * never asked for. */
typedef json_t *(cc_schema_resolve_fn)(void *arg, const char *uri);

typedef struct {
    bool format_assertion;         /* date-time date time uuid uri email ipv4 ipv6 hostname */
    cc_schema_resolve_fn *resolve; /* may be NULL: only local and built-in resources */
    void *resolve_arg;
    size_t max_depth;              /* evaluation depth: nested schema applications, including
                                      in-place ones ($ref, allOf...) (0 = default 512, cap 4096) */
    size_t max_steps;              /* keyword evaluations per validate call (0 = default 10 M) */
    unsigned long regex_match_limit; /* pcre2 match limit per pattern test (0 = default 1 M) */
    size_t max_errors;             /* errors reported before evaluation stops (0 = default 100) */
} cc_schema_opts_t;

/* One failing keyword: where in the instance (RFC 6901 pointer, "" = root), which keyword in
 * the schema (pointer of the keyword's evaluation path, e.g. "/properties/port/maximum") and a
 * short English message. Strings are borrowed for the call. */
typedef void (cc_schema_error_fn)(void *arg, const char *instance_ptr, const char *keyword_ptr,
                                  const char *message);

/* Compiles schema (borrowed; the validator keeps its own reference). opts may be NULL.
 * Returns NULL with a reason in err when the schema is not a valid schema (not an object or
 * boolean, a keyword of the wrong type, a bad regex, an unresolvable $ref, a required
 * vocabulary we do not know, ...); the reason starts with the JSON pointer of the offending
 * keyword. A $schema we cannot load is read as 2020-12. Caller owns the result. */
cc_schema_t *cc_schema_new(json_t *schema, const cc_schema_opts_t *opts, char *err,
                           size_t errlen);
void cc_schema_destroy(cc_schema_t **self_p);

/* Validates instance (borrowed). Returns 0 when valid, the number of errors reported through fn
 * (at most max_errors), or -1 when a limit (depth, steps, regex backtracking, a $ref cycle that
 * makes no progress) stopped the evaluation; then fn has been called once with the reason.
 * fn may be NULL: evaluation then stops at the first failure and an invalid instance gives 1.
 * Inside anyOf, oneOf, not, if, contains and propertyNames the inner failures are not
 * reported: the keyword itself is. Thread-compatible: one cc_schema_t per thread. */
int cc_schema_validate(cc_schema_t *self, const json_t *instance, cc_schema_error_fn *fn,
                       void *arg);

#endif
