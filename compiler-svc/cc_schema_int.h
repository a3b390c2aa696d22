/* Internals of the JSON Schema validator, shared by the cc_schema*.c files and nobody else:
 * the compiled data model (resources, nodes, keywords), the evaluation context, helper prototypes. */
#ifndef CC_SCHEMA_INT_H
#define CC_SCHEMA_INT_H
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>

#include "cc_schema.h"

/* ------------------------------------------------------------------ vocabularies */

enum {
    CC_V_CORE = 1u << 0,
    CC_V_APPLICATOR = 1u << 1,
    CC_V_UNEVALUATED = 1u << 2,
    CC_V_VALIDATION = 1u << 3,
    CC_V_METADATA = 1u << 4,
    CC_V_FORMAT_ANNOTATION = 1u << 5,
    CC_V_FORMAT_ASSERTION = 1u << 6,
    CC_V_CONTENT = 1u << 7,
};
/* What the 2020-12 meta-schema declares: everything but format-assertion. */
#define CC_V_DEFAULT (CC_V_CORE | CC_V_APPLICATOR | CC_V_UNEVALUATED | CC_V_VALIDATION | \
                      CC_V_METADATA | CC_V_FORMAT_ANNOTATION | CC_V_CONTENT)
#define CC_SCHEMA_DIALECT "https://json-schema.org/draft/2020-12/schema"

/* Hard ceilings on the options: beyond them the C stack, not the schema, would be the limit. */
#define CC_SCHEMA_DEPTH_DEFAULT 512
#define CC_SCHEMA_DEPTH_CAP 4096
#define CC_SCHEMA_STEPS_DEFAULT 10000000ul
#define CC_SCHEMA_REGEX_DEFAULT 1000000ul
#define CC_SCHEMA_ERRORS_DEFAULT 100
#define CC_SCHEMA_MAX_DOCS 128      /* documents a schema may pull in through $ref */
#define CC_SCHEMA_EQ_DEPTH 4096     /* nesting the value comparisons descend */
#define CC_SCHEMA_MAX_PATTERN 65536 /* bytes of one regular expression */
#define CC_SCHEMA_PATH_MAX 1024     /* bytes of a schema location kept for error messages */

/* ------------------------------------------------------------------ small hash map */

/* Open-addressing map from byte strings (copied) to pointers; used for URIs, anchors and the
 * json_t -> node/resource tables (the key is then the pointer's bytes). */
typedef struct {
    struct cc_smap_slot { char *key; size_t klen; uint64_t hash; void *val; } *slots;
    size_t cap, count;
} cc_smap_t;

int cc_smap_put(cc_smap_t *m, const void *key, size_t klen, void *val);   /* 0 or -1 (OOM) */
void *cc_smap_get(const cc_smap_t *m, const void *key, size_t klen);      /* NULL if absent */
void cc_smap_free(cc_smap_t *m);
uint64_t cc_smap_hash(const void *key, size_t klen);

/* ------------------------------------------------------------------ compiled model */

typedef struct cc_snode cc_snode_t;
typedef struct cc_skw cc_skw_t;
/* One step of an instance location or an evaluation path: a name or an index. */
typedef struct { const char *s; size_t len; size_t idx; bool is_idx; } cc_sseg_t;

/* A schema resource: a document root or a subschema with $id. */
typedef struct cc_sres {
    char *uri;                 /* absolute URI without fragment; "" for an anonymous root */
    const json_t *root;        /* its root schema (borrowed from a document we hold) */
    char *dialect;             /* $schema in effect (NULL: the 2020-12 default) */
    unsigned vocab;            /* active vocabularies, valid when vocab_known */
    bool vocab_known;
    bool live;                 /* some node of it is compiled: it can be in a dynamic scope */
    bool has_dynamic;          /* declares at least one $dynamicAnchor */
    struct cc_sres *next;
} cc_sres_t;

/* An $anchor or $dynamicAnchor, keyed by (resource, name). */
typedef struct cc_sanchor {
    const char *name;
    const json_t *json;
    cc_sres_t *res;
    bool dynamic;
    struct cc_sanchor *next_same;   /* the other dynamic anchors of that name */
} cc_sanchor_t;

typedef enum {
    CC_K_REF, CC_K_DYNREF, CC_K_ALLOF, CC_K_ANYOF, CC_K_ONEOF, CC_K_NOT, CC_K_IF,
    CC_K_DEPSCHEMAS, CC_K_PREFIXITEMS, CC_K_ITEMS, CC_K_CONTAINS, CC_K_PROPERTIES,
    CC_K_PATTERNPROPS, CC_K_ADDPROPS, CC_K_PROPNAMES, CC_K_UNEVAL_ITEMS, CC_K_UNEVAL_PROPS,
    CC_K_TYPE, CC_K_ENUM, CC_K_CONST, CC_K_MULTIPLEOF, CC_K_MAXIMUM, CC_K_EXMAXIMUM,
    CC_K_MINIMUM, CC_K_EXMINIMUM, CC_K_MAXLENGTH, CC_K_MINLENGTH, CC_K_PATTERN, CC_K_MAXITEMS,
    CC_K_MINITEMS, CC_K_UNIQUE, CC_K_MAXPROPS, CC_K_MINPROPS, CC_K_REQUIRED, CC_K_DEPREQUIRED,
    CC_K_FORMAT, CC_K_DEPENDENCIES, CC_K_NONE
} cc_kind_t;

/* Type bits of the "type" keyword. */
enum { CC_T_NULL = 1, CC_T_BOOLEAN = 2, CC_T_OBJECT = 4, CC_T_ARRAY = 8, CC_T_NUMBER = 16,
       CC_T_STRING = 32, CC_T_INTEGER = 64 };

struct cc_skw {
    cc_kind_t kind;
    const char *name;            /* keyword as written (evaluation paths) */
    const json_t *value;         /* its value in the schema */
    cc_snode_t *sub;             /* the one subschema (if: the condition) */
    cc_snode_t *then_, *else_;   /* if/then/else */
    cc_snode_t **subs;           /* allOf/anyOf/oneOf/prefixItems; properties & co by name */
    const char **names;          /* property names, sorted bytewise (properties, ...) */
    size_t *name_lens;
    size_t n;                    /* entries in subs / names / re */
    pcre2_code **re;             /* pattern (1) or patternProperties (n) */
    const cc_skw_t *props;       /* additionalProperties: sibling properties ... */
    const cc_skw_t *pats;        /* ... and patternProperties that exclude names */
    size_t lim, lim2;            /* lengths, counts; items: prefix length; contains: min, max */
    bool has_lim, has_lim2;      /* contains: minContains / maxContains given */
    unsigned types;              /* type */
    int format;                  /* format: an index of cc_schema_format_id() */
    const char *dyn_name;        /* $dynamicRef: the dynamic anchor name, or NULL (plain ref) */
    size_t ncand;                /* $dynamicRef: resources declaring that dynamic anchor */
    cc_sres_t **cand_res;
    cc_snode_t **cand_node;
    cc_skw_t *next_dyn;          /* list of every $dynamicRef, for the final pass */
};

struct cc_snode {
    int boolean;                 /* -1: an object schema; 0 / 1: the false / true schema */
    const json_t *json;
    cc_sres_t *res;
    cc_skw_t *kws;
    size_t nkw;
    bool has_uneval;             /* unevaluatedItems/Properties: collect annotations */
    bool compiled;
};

/* A bump allocator: every node, keyword and table of a schema lives in it. */
typedef struct cc_sarena_chunk { struct cc_sarena_chunk *next; size_t used, cap; } cc_sarena_chunk_t;

struct cc_schema {
    cc_schema_opts_t opts;
    cc_sarena_chunk_t *arena;
    json_t *docs;                /* every document held: the schema, remotes, meta-schemas */
    cc_sres_t *resources;        /* all resources, newest first */
    cc_smap_t by_uri;            /* uri -> cc_sres_t */
    cc_smap_t anchors;           /* (res, name) -> cc_sanchor_t */
    cc_smap_t loc;               /* json_t* -> cc_sres_t (every schema position scanned) */
    cc_smap_t nodes;             /* json_t* -> cc_snode_t */
    cc_smap_t dyn_by_name;       /* name -> first cc_sanchor_t of the dynamic anchors so named */
    cc_snode_t node_true, node_false;
    cc_snode_t *root;
    cc_skw_t *dynrefs;
    pcre2_code **regexes;        /* every compiled pattern, to free */
    size_t nregex, capregex;
    pcre2_match_context *mctx;
    pcre2_match_data *mdata;
    size_t ndocs;
    /* evaluation stacks, sized by max_depth once and reused by every validate call */
    cc_sseg_t *iseg, *kseg;
    const cc_snode_t **fnode;
    const json_t **finst;
    cc_sres_t **scope;
};

void *cc_sarena_alloc(cc_schema_t *self, size_t size);   /* zeroed; NULL on OOM */
char *cc_sarena_strdup(cc_schema_t *self, const char *s);

/* ------------------------------------------------------------------ compile (cc_schema_compile.c) */

/* Compile-time state: the error slot and the queue of nodes waiting for their keywords. */
typedef struct {
    cc_schema_t *self;
    char *err;
    size_t errlen;
    bool failed;
    struct cc_squeue { cc_snode_t *node; char *path; struct cc_squeue *next; } *head, *tail;
    size_t nodes;
    pcre2_compile_context *cctx;
} cc_sctx_t;

void cc_sctx_fail(cc_sctx_t *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Registers a document (the reference is taken over) under uri; scans its resources. */
cc_sres_t *cc_schema_doc_add(cc_sctx_t *c, json_t *doc, const char *uri);
/* The resource of an absolute URI (no fragment), loading the document if needed; NULL + error. */
cc_sres_t *cc_schema_res_get(cc_sctx_t *c, const char *uri, const char *path);
cc_sanchor_t *cc_schema_anchor_get(cc_schema_t *self, const cc_sres_t *res, const char *name);
/* The node of a schema value (memoised); its keywords are compiled later from the queue. */
cc_snode_t *cc_schema_node_get(cc_sctx_t *c, const json_t *j, cc_sres_t *fallback,
                               const char *path);
int cc_schema_compile_queue(cc_sctx_t *c);
/* Scans j (a schema position) for $id, $anchor, $dynamicAnchor and $schema under res. */
int cc_schema_scan(cc_sctx_t *c, const json_t *j, cc_sres_t *res, size_t depth);
/* Candidate targets of every $dynamicRef, compiling them, until nothing new appears. */
int cc_schema_finalize(cc_sctx_t *c);
/* A document from the built-in meta-schemas or the resolve callback, or NULL (no error). */
json_t *cc_schema_doc_fetch(cc_schema_t *self, const char *uri);
unsigned cc_schema_vocab(cc_sctx_t *c, cc_sres_t *res, const char *path);
/* parent + "/" + key (RFC 6901 escaped), malloc'd; NULL on OOM. */
char *cc_schema_path(const char *parent, const char *key, size_t klen);
/* $ref / $dynamicRef: resolves kw->value from n's resource into kw->sub (and kw->dyn_name). */
bool cc_schema_ref_compile(cc_sctx_t *c, const cc_snode_t *n, cc_skw_t *kw, const char *path);

/* ------------------------------------------------------------------ evaluation (cc_schema_eval.c) */

typedef struct { size_t n; uint64_t *w; } cc_sann_t;   /* evaluated members / items, as bits */

typedef struct {
    cc_schema_t *self;
    cc_schema_error_fn *fn;
    void *arg;
    size_t depth, max_depth, steps, max_steps, max_errors;
    int nerr;
    bool abort, failed_silent;
    cc_sseg_t *iseg;              /* instance location */
    size_t ni;
    cc_sseg_t *kseg;              /* evaluation path */
    size_t nk, capk;
    const cc_snode_t **fnode;     /* evaluation frames, for reference cycles */
    const json_t **finst;
    cc_sres_t **scope;            /* dynamic scope: resources entered, outermost first */
    size_t nscope;
} cc_seval_t;

bool cc_seval_node(cc_seval_t *e, const cc_snode_t *n, const json_t *inst, bool report,
                   cc_sann_t *ann);
bool cc_seval_reporting(const cc_seval_t *e, bool report);
void cc_seval_fail(cc_seval_t *e, bool report, const cc_skw_t *kw, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void cc_seval_abort(cc_seval_t *e, const char *kwname, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool cc_seval_kw_check(cc_seval_t *e, const cc_skw_t *kw, const json_t *inst, bool report);
/* 1: re matches s; 0: it does not; -1: a limit stopped it (evaluation aborted at kwname). */
int cc_seval_regex(cc_seval_t *e, pcre2_code *re, const char *kwname, const char *s, size_t len);
void cc_seval_quote(char *out, size_t outlen, const char *s, size_t len);

/* ------------------------------------------------------------------ values (cc_schema_value.c) */

bool cc_schema_is_integer(const json_t *v);
int cc_schema_num_cmp(const json_t *a, const json_t *b);          /* both numbers: -1 0 1 */
bool cc_schema_equal(const json_t *a, const json_t *b);           /* 1 == 1.0; too deep: false */
/* 1: all items distinct; 0: *i and *j are equal items; -1: out of memory or nesting too deep. */
int cc_schema_unique(const json_t *arr, size_t *i, size_t *j);
bool cc_schema_multiple_of(const json_t *v, const json_t *m);
size_t cc_schema_utf8_len(const char *s, size_t len);
void cc_schema_num_str(const json_t *v, char *out, size_t outlen);
/* Non-negative integer keyword value (integral reals allowed), clamped to SIZE_MAX. */
bool cc_schema_size_value(const json_t *v, size_t *out);

/* ------------------------------------------------------------------ URIs (cc_schema_uri.c) */

/* RFC 3986 §5.2 reference resolution (with dot-segment removal). malloc'd; NULL on OOM. */
char *cc_schema_uri_resolve(const char *base, const char *ref);
/* Strict RFC 3986 syntax: URI (absolute, fragment allowed) or, with relative, URI-reference. */
bool cc_schema_uri_valid(const char *s, size_t len, bool relative);
/* Percent-decoding (of a fragment); malloc'd NUL-terminated; NULL on OOM or a bad escape. */
char *cc_schema_pct_decode(const char *s, size_t len, size_t *outlen);
/* RFC 6901 JSON pointer (already percent-decoded) from root; NULL when it leads nowhere. */
const json_t *cc_schema_pointer_get(const json_t *root, const char *ptr, size_t len);

/* ------------------------------------------------------------------ formats (cc_schema_format.c) */

int cc_schema_format_id(const char *name);      /* >= 0 for the formats we assert, else -1 */
const char *cc_schema_format_name(int id);
bool cc_schema_format_check(int id, const char *s, size_t len);
bool cc_schema_ipv4_valid(const char *s, size_t len);
bool cc_schema_ipv6_valid(const char *s, size_t len);
bool cc_schema_hostname_valid(const char *s, size_t len);
/* IDNA2008 checks of one "xn--" label (cc_schema_idna.c): Punycode and the context rules. */
bool cc_schema_alabel_valid(const char *label, size_t len);

#endif
