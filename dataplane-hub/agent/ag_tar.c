/* The gzip member and tar walk of a .bca. zlib inflates exactly the first gzip member (as
 * flate2's GzDecoder does) and feeds libarchive, which reads only the tar format. Owns the
 * inflate state, its two buffers and the libarchive reader. */
#include "ag_tar.h"
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define S_CHUNK 65536

struct ag_tar {
    FILE *f;
    z_stream zs;
    bool zinit, ended, in_eof, failed;
    uint64_t total, max;
    struct archive *ar;
    char why[200];
    unsigned char in[S_CHUNK], out[S_CHUNK];
};

static void s_fail(ag_tar_t *t, const char *why)
{
    if (!t->failed)
        snprintf(t->why, sizeof t->why, "%s", why);
    t->failed = true;
}

/* Inflates the next chunk: bytes in t->out, 0 once the member ended, -1 on an error. */
static ssize_t s_pull(ag_tar_t *t)
{
    while (!t->failed && !t->ended) {
        if (t->zs.avail_in == 0 && !t->in_eof) {
            size_t n = fread(t->in, 1, sizeof t->in, t->f);
            if (n == 0 && ferror(t->f))
                s_fail(t, "cannot read the artifact file");
            t->in_eof = n == 0;
            t->zs.next_in = t->in;
            t->zs.avail_in = (uInt) n;
        }
        t->zs.next_out = t->out;
        t->zs.avail_out = sizeof t->out;
        int rc = inflate(&t->zs, Z_NO_FLUSH);
        size_t got = sizeof t->out - t->zs.avail_out;
        if (rc == Z_STREAM_END)
            t->ended = true;
        else if (rc == Z_BUF_ERROR && t->in_eof && t->zs.avail_in == 0)
            s_fail(t, "not a complete gzip stream (truncated)");
        else if (rc != Z_OK && rc != Z_BUF_ERROR)
            s_fail(t, rc == Z_DATA_ERROR ? "not a valid gzip stream" : "gzip decoder failed");
        t->total += got;
        if (t->total > t->max)
            s_fail(t, "decompressed artifact too large");
        if (t->failed)
            return -1;
        if (got)
            return (ssize_t) got;
    }
    return t->failed ? -1 : 0;
}

static la_ssize_t s_read_cb(struct archive *a, void *ud, const void **buf)
{
    ag_tar_t *t = ud;
    ssize_t n = s_pull(t);
    if (n < 0) {
        archive_set_error(a, EIO, "%s", t->why);
        return -1;
    }
    *buf = t->out;
    return n;
}

ag_tar_t *ag_tar_open(FILE *f, uint64_t max_bytes)
{
    ag_tar_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->f = f;
    t->max = max_bytes;
    /* 16 + 15: a gzip wrapper (header, CRC-32 and size checked), one member only */
    t->zinit = inflateInit2(&t->zs, 16 + 15) == Z_OK;
    t->ar = t->zinit ? archive_read_new() : NULL;
    if (!t->ar || archive_read_support_format_tar(t->ar) != ARCHIVE_OK) {
        ag_tar_destroy(&t);
        return NULL;
    }
    /* open already reads the first block: a bad stream is reported by the first next() */
    if (archive_read_open(t->ar, t, NULL, s_read_cb, NULL) != ARCHIVE_OK) {
        const char *why = archive_error_string(t->ar);
        s_fail(t, why ? why : "not a tar archive");
    }
    return t;
}

void ag_tar_destroy(ag_tar_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ag_tar_t *t = *self_p;
    if (t->ar)
        archive_read_free(t->ar);
    if (t->zinit)
        inflateEnd(&t->zs);
    free(t);
    *self_p = NULL;
}

int ag_tar_next(ag_tar_t *t, const char **name, bool *regular, uint64_t *size)
{
    if (t->failed)
        return -1;
    struct archive_entry *e = NULL;
    int rc = archive_read_next_header(t->ar, &e);
    if (rc == ARCHIVE_EOF)
        return 0;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
        const char *why = archive_error_string(t->ar);
        s_fail(t, t->failed ? t->why : why ? why : "damaged tar archive");
        return -1;
    }
    *name = archive_entry_pathname(e);
    if (!*name) {
        s_fail(t, "a tar entry has no readable name");
        return -1;
    }
    *regular = archive_entry_filetype(e) == AE_IFREG;
    int64_t sz = archive_entry_size(e);
    *size = sz > 0 ? (uint64_t) sz : 0;
    return 1;
}

ssize_t ag_tar_read(ag_tar_t *t, void *buf, size_t cap)
{
    if (t->failed)
        return -1;
    la_ssize_t n = archive_read_data(t->ar, buf, cap);
    if (n < 0) {
        const char *why = archive_error_string(t->ar);
        s_fail(t, t->failed ? t->why : why ? why : "damaged tar entry");
        return -1;
    }
    return (ssize_t) n;
}

int ag_tar_finish(ag_tar_t *t)
{
    ssize_t n;
    while ((n = s_pull(t)) > 0)
        ;
    if (n < 0)
        return -1;
    unsigned char extra;
    if (t->zs.avail_in > 0 || fread(&extra, 1, 1, t->f) == 1) {
        s_fail(t, "data after the first gzip member (a second member or trailing bytes)");
        return -1;
    }
    return 0;
}

const char *ag_tar_error(const ag_tar_t *t)
{
    return t->failed ? t->why : "no error";
}

uint64_t ag_tar_bytes(const ag_tar_t *t)
{
    return t->total;
}
