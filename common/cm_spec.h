/*  cm_spec.h — loads a YAML or JSON spec document into one immutable tree with line:column marks.
 *  Owns: cm_spec_doc_t (every node and string lives in the doc's arenas); nodes are borrowed. */

#ifndef CM_SPEC_H
#define CM_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cm_spec_doc cm_spec_doc_t;    /* opaque; owns all nodes */
typedef struct cm_spec_node cm_spec_node_t;  /* opaque; borrowed from its doc, valid until destroy */

/* Scalars are typed by the YAML 1.2 core schema when plain (unquoted); quoted and block scalars
 * are always strings. JSON goes through the same path. */
typedef enum {
    CM_NODE_NULL,    /* plain null, Null, NULL, ~ or empty */
    CM_NODE_BOOL,    /* plain true/True/TRUE/false/False/FALSE */
    CM_NODE_INT,     /* plain [-+]?[0-9]+, 0o[0-7]+, 0x[0-9a-fA-F]+ (so 010 is ten) */
    CM_NODE_FLOAT,   /* plain 1.5, .5, 1e3, -.inf, .nan ... */
    CM_NODE_STRING,
    CM_NODE_SEQ,
    CM_NODE_MAP
} cm_node_kind_t;

typedef enum { CM_SPEC_UNKNOWN, CM_SPEC_OPENAPI, CM_SPEC_ASYNCAPI } cm_spec_type_t;

/* Issue codes: the contract's compile codes, plus 0 for failures that are not the document's
 * fault (out of memory, bad arguments): map 0 to a 500, the others to a 4xx. */
enum {
    CM_SPEC_E_INTERNAL = 0,
    CM_SPEC_E_NOT_SPEC = 1001,   /* not OpenAPI 3.x / AsyncAPI 3.x */
    CM_SPEC_E_SYNTAX = 1002,     /* every load failure: syntax, encoding, limits, duplicates, root */
    CM_SPEC_E_REF = 1003,        /* not emitted here; reserved for the $ref resolver */
    CM_SPEC_E_STRUCTURE = 1004   /* unsupported version, missing info / info.title */
};

/* line and column are 1-based (column counts characters); 0 means "no location". The message is
 * valid UTF-8 without control characters, safe to put in JSON. */
typedef struct {
    int code;
    char message[256];
    int line;
    int column;
} cm_spec_issue_t;

/* A zero field means "use the default". */
typedef struct {
    size_t max_depth;             /* collection nesting; root mapping = 1 */
    size_t max_nodes;             /* scalars + collections actually stored */
    size_t max_alias_expansions;  /* nodes reachable through aliases, counted per alias use */
    size_t max_bytes;             /* input size (before BOM removal) */
} cm_spec_limits_t;

#define CM_SPEC_DEFAULT_MAX_DEPTH 128
#define CM_SPEC_DEFAULT_MAX_NODES 5000000
#define CM_SPEC_DEFAULT_MAX_ALIAS_EXPANSIONS 1000000
#define CM_SPEC_DEFAULT_MAX_BYTES (32u * 1024 * 1024)

/* Parses data[0..len) (UTF-8 YAML or JSON, one document, root a mapping). Returns a new doc the
 * caller owns, or NULL: then issues[0..*n_issues) say why (sorted by position, at most
 * max_issues). A returned doc never has issues: every problem, duplicate keys included, is fatal.
 * issues/n_issues may be NULL; limits NULL = defaults. data is not retained. */
cm_spec_doc_t *cm_spec_load(const void *data, size_t len, const cm_spec_limits_t *limits,
                            cm_spec_issue_t *issues, size_t max_issues, size_t *n_issues);

/* Frees the doc and every node; idempotent, sets *self_p to NULL. */
void cm_spec_doc_destroy(cm_spec_doc_t **self_p);

/* Accessors: all borrow from the doc and all accept NULL (and return NULL / 0), so lookups chain:
 * cm_spec_str(cm_spec_get(cm_spec_get(root, "info"), "title"), NULL). */

/* Borrowed root mapping. */
const cm_spec_node_t *cm_spec_root(const cm_spec_doc_t *doc);
/* Kind of n; CM_NODE_NULL for a NULL pointer too (test the pointer to tell "absent"). */
cm_node_kind_t cm_spec_kind(const cm_spec_node_t *n);
/* Borrowed "null", "bool", ... for messages. */
const char *cm_spec_kind_name(cm_node_kind_t kind);
/* Borrowed scalar text as written (after YAML unescaping), NUL-terminated, never containing NUL;
 * *len gets its byte length. NULL for collections. */
const char *cm_spec_str(const cm_spec_node_t *n, size_t *len);
/* Children of a sequence, pairs of a mapping, 0 for scalars. */
size_t cm_spec_len(const cm_spec_node_t *n);
/* Borrowed i-th sequence item, NULL if out of range or not a sequence. */
const cm_spec_node_t *cm_spec_at(const cm_spec_node_t *seq, size_t i);
/* Borrowed value for key (keys compare by text), NULL if absent. O(log n) for maps > 8 keys. */
const cm_spec_node_t *cm_spec_get(const cm_spec_node_t *map, const char *key);
/* Borrowed i-th key text in document order; *value (may be NULL) gets the borrowed value. */
const char *cm_spec_key_at(const cm_spec_node_t *map, size_t i, const cm_spec_node_t **value);
/* Borrowed i-th key node, for its mark. */
const cm_spec_node_t *cm_spec_key_node_at(const cm_spec_node_t *map, size_t i);
/* Borrowed node at an RFC 6901 pointer ("" root, "/a/~1b/0") or its URI fragment form
 * ("#/a/~1b", percent-decoded); NULL if absent or malformed. */
const cm_spec_node_t *cm_spec_pointer(const cm_spec_doc_t *doc, const char *json_pointer);
/* 1-based position where n starts; 0:0 for NULL. An aliased node has its anchor's position. */
void cm_spec_mark(const cm_spec_node_t *n, int *line, int *column);

/* Typed scalar values: 0 and *out set, or -1 if n has another kind or the value overflows. */
int cm_spec_bool(const cm_spec_node_t *n, bool *out);
int cm_spec_int(const cm_spec_node_t *n, int64_t *out);
int cm_spec_float(const cm_spec_node_t *n, double *out);   /* INT or FLOAT; C-locale strtod */

/* Detects OpenAPI 3.0.x/3.1.x or AsyncAPI 3.x and checks info.title. Returns 0 with *type,
 * *version and *title set (borrowed; any out-param may be NULL), or -1 with *issue filled:
 * E1001 no string `openapi`/`asyncapi` key (Swagger 2.0, `openapi: 3` as a number, both keys),
 * E1004 unsupported version string or missing/invalid info, info.title. */
int cm_spec_classify(const cm_spec_doc_t *doc, cm_spec_type_t *type, const char **version,
                     const char **title, cm_spec_issue_t *issue);

#endif
