/* raw.c -- the machine's raw limit: a plain loop of pwrite (+ fdatasync)
 * of the same bytes into a file that was zero-filled and synced before the
 * clock starts, so the loop pays for neither file growth nor metadata.
 *
 * raw-grow is the same loop into a new empty file that grows with every
 * write: not a limit, but what any log that only grows starts from on this
 * file system (block allocation and the file size committed by each
 * fdatasync; for no-sync writes, page-cache pages new to the file). It is
 * reported with its ratio to raw like the other contenders. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

typedef struct raw_state {
    int fd;
    int durable;
    uint64_t off;
    uint64_t index;
} raw_state;

static void *raw_open(const char *dir, int mode, uint64_t capacity, char *err, size_t errlen)
{
    raw_state *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/raw.dat", dir);
    r->fd = capacity ? bench_prezeroed(path, capacity)
                     : open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (r->fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        free(r);
        return NULL;
    }
    r->durable = mode != BENCH_NOSYNC;
    return r;
}

static int raw_append(void *st, const bench_batch *b, char *err, size_t errlen)
{
    raw_state *r = st;
    size_t done = 0;
    while (done < b->nbytes) {
        ssize_t w = pwrite(r->fd, b->bytes + done, b->nbytes - done, (off_t)(r->off + done));
        if (w < 0) {
            snprintf(err, errlen, "pwrite: %s", strerror(errno));
            return -1;
        }
        done += (size_t)w;
    }
    r->off += b->nbytes;
    r->index = b->e[b->n - 1].index;
    if (r->durable && fdatasync(r->fd) != 0) {
        snprintf(err, errlen, "fdatasync: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static int raw_last(void *st, uint64_t *last, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    *last = ((raw_state *)st)->index;
    return 0;
}

static void raw_close(void *st)
{
    raw_state *r = st;
    close(r->fd);
    free(r);
}

const contender bench_raw = {"raw", raw_open, raw_append, raw_last, raw_close, NULL};

static void *raw_grow_open(const char *dir, int mode, uint64_t capacity, char *err, size_t errlen)
{
    (void)capacity;
    raw_state *r = raw_open(dir, mode, 0, err, errlen);
    if (r && fsync(r->fd) != 0) { /* the empty file's creation, outside the clock */
        snprintf(err, errlen, "fsync: %s", strerror(errno));
        raw_close(r);
        return NULL;
    }
    return r;
}

const contender bench_raw_grow = {"raw-grow", raw_grow_open, raw_append, raw_last, raw_close, NULL};
