/*  cm_spec_int.h — the spec loader's private node layout and the helpers its two files share.
 *  Not for use outside common/cm_spec*.c: callers use cm_spec.h. */
#ifndef CM_SPEC_INT_H
#define CM_SPEC_INT_H
#include "cm_spec.h"
#include <stddef.h>

#define S_SMALL_MAP 8                   /* maps up to this size are searched linearly */
#define S_EXCERPT 48                    /* bytes of user text quoted in a message */

typedef struct s_block {
    struct s_block *next;
    size_t cap, used;
    _Alignas(max_align_t) unsigned char data[];
} s_block_t;

typedef struct {
    const cm_spec_node_t *key, *value;
} s_pair_t;

struct cm_spec_node {
    uint8_t kind;                       /* cm_node_kind_t */
    uint32_t line, column;              /* 1-based */
    uint32_t len;                       /* string bytes, sequence items or mapping pairs */
    union {
        const char *str;
        const cm_spec_node_t **items;
        const s_pair_t *pairs;          /* maps above S_SMALL_MAP: followed by s_index() */
    } u;
};

/* Nodes are most of the memory, and first-touch page faults are most of the cost above libyaml. */
_Static_assert(sizeof(struct cm_spec_node) <= 24, "keep nodes small");

struct cm_spec_doc {
    s_block_t *blocks;                  /* head serves small allocations */
    size_t next_block;
    const cm_spec_node_t *root;
};

/* Shared between cm_spec.c (loading) and cm_spec_query.c (reading). */
const cm_spec_node_t *cm_spec_i_map_find(const cm_spec_node_t *map, const char *key, size_t len);
void cm_spec_i_issue_fill(cm_spec_issue_t *issue, int code, size_t line, size_t column,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));
const char *cm_spec_i_excerpt(char *dst, size_t cap, const char *s, size_t len);
int cm_spec_i_clamp_int(size_t v);
size_t cm_spec_i_digits(const char *s, size_t n, size_t i, int base);

#endif
