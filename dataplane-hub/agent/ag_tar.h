/* Reads the tar inside the first gzip member of a .bca, entry by entry, as the data plane's
 * GzDecoder + tar walk does (libarchive for the tar, zlib for the one gzip member), and checks
 * that nothing follows that member. Owns: an ag_tar_t (its buffers and libarchive handle); the
 * FILE is borrowed. */
#ifndef AG_TAR_H
#define AG_TAR_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

typedef struct ag_tar ag_tar_t;

/* Starts reading f from its current position; at most max_bytes are ever decompressed.
 * Caller owns the result; NULL on OOM or when libarchive cannot start. */
ag_tar_t *ag_tar_open(FILE *f, uint64_t max_bytes);
void ag_tar_destroy(ag_tar_t **self_p);

/* The next entry: 1 with its name (borrowed until the next call), regular-file flag and size,
 * 0 at the end of the archive, -1 on an error (ag_tar_error says which). */
int ag_tar_next(ag_tar_t *self, const char **name, bool *regular, uint64_t *size);
/* Reads the current entry's data: bytes read, 0 at its end, -1 on an error. */
ssize_t ag_tar_read(ag_tar_t *self, void *buf, size_t cap);
/* Decompresses the rest of the gzip member (checking its CRC and size) and requires the file
 * to end right after it: a second member or trailing bytes are an error. 0 or -1. */
int ag_tar_finish(ag_tar_t *self);
/* Why the last call failed. Borrowed. */
const char *ag_tar_error(const ag_tar_t *self);
/* Bytes decompressed so far. */
uint64_t ag_tar_bytes(const ag_tar_t *self);

#endif
