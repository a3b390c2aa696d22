/* Data files compiled into the compiler library (the JSON files of compiler-svc/embedded, generated into
 * build/gen/cc_embedded_data.c by compiler-svc/embed.sh). Read-only tables. */
#ifndef CC_EMBEDDED_H
#define CC_EMBEDDED_H

typedef struct {
    const char *name;   /* file name, e.g. "schema.json" */
    const char *text;   /* NUL-terminated file contents */
} cc_embedded_t;

extern const cc_embedded_t cc_embedded[];   /* terminated by { NULL, NULL } */
extern const unsigned long cc_embedded_count;

#endif
