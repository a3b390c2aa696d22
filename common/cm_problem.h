/* RFC 9457 problem+json bodies with the urn:barbacane:error:* kinds of contract/NOTES.md.
 * Pure functions: the caller owns the returned string (free()). */
#ifndef CM_PROBLEM_H
#define CM_PROBLEM_H
#include <jansson.h>
#include <stddef.h>

#define CM_PROBLEM_CT "application/problem+json"

/* The error kind for an HTTP status ("not-found", ...), "internal-error" when unknown. */
const char *cm_problem_kind(int status);
/* The reason phrase for an HTTP status ("Not Found", ...). */
const char *cm_problem_title(int status);
/* A problem+json document; errors (a JSON array of {code,message,location}) is borrowed and
 * may be NULL. Returns a malloc'd string (caller frees) and its length, NULL on OOM. */
char *cm_problem_json(int status, const char *detail, const char *instance, const char *rid,
                      json_t *errors, size_t *len);

#endif
