/*
 * ceiling.c -- raftwal-ceiling: how fast can a log that writes with pwrite
 * (or through a mapping) go on this machine, next to the raw no-sync loop?
 *
 * bench/README.md (3, "How far a pwrite log can get here") reports its
 * figures. It has no records, rotations or seals: only the ways of moving a
 * batch's bytes into segment files, each run against the reference the
 * `nosync` grid uses (pwrite into one pre-zeroed, cached file):
 *
 *   raw       pwrite of the caller's bytes into one pre-zeroed file
 *   encode    copy + CRC32C into a buffer (rw_crc32c_copy), pwrite it; a
 *             second thread warms the next file ahead (zeros, unsynced),
 *             as the engine's preparer does
 *   sparse    the same, files left sparse (no warming)
 *   zerocopy  CRC32C of the caller's bytes, pwrite from them, warmed files
 *   mmap      copy + CRC32C straight into a shared writable mapping that
 *             the second thread pre-faults (MADV_POPULATE_WRITE)
 *   mmap-cold the same, not pre-faulted
 *
 * Usage: raftwal-ceiling [BATCH_BYTES [RUNS [DIR]]]   (262144 3 .)
 * Each way writes 256 MiB per run in BATCH_BYTES writes into 32 files of
 * 8 MiB (one file for raw), created in DIR and removed after; ways are
 * interleaved within a run, at most 64 runs. Nothing is synced inside the
 * clock. Prints GB/s per way and run, and the ratio to raw.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h" /* bench_now, bench_prezeroed, bench_progress (util.c) */
#include "crc32c.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

#define SEG_BYTES (8u << 20)
#define TOTAL_BYTES (256u << 20)
#define NSEGS (TOTAL_BYTES / SEG_BYTES)
#define WARM_CHUNK (64u << 10)

enum way { RAW, ENCODE, SPARSE, ZEROCOPY, MMAP, MMAP_COLD, NWAYS };
static const char *const way_names[NWAYS] = {"raw", "encode", "sparse", "zerocopy", "mmap", "mmap-cold"};

/* The files of one run, and the hand-off between writer and warmer. */
typedef struct run {
    enum way way;
    int fds[NSEGS];
    unsigned char *maps[NSEGS];
    /* The file the writer is in (-1: none yet), under mu. The warmer writes
     * a chunk only while holding mu and finding the writer behind that
     * file, so no zeros land after the writer has entered it (the engine's
     * rotation cancels the warming and waits for the chunk in flight). */
    pthread_mutex_t mu;
    pthread_cond_t moved;
    int writer_seg;
} run;

static void die(const char *what)
{
    fprintf(stderr, "raftwal-ceiling: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void pwrite_all(int fd, const void *buf, size_t n, off_t off)
{
    ssize_t got = pwrite(fd, buf, n, off);
    if (got != (ssize_t)n) {
        if (got >= 0)
            errno = EIO; /* short write: say so rather than a stale errno */
        die("pwrite");
    }
}

/* Warms file k: zeros into its page cache (pwrite), or its mapping
 * pre-faulted writable; stops when the writer has entered it. */
static void warm_one(run *r, int k)
{
    static const unsigned char zeros[WARM_CHUNK];
    for (size_t off = 0; off < SEG_BYTES; off += WARM_CHUNK) {
        pthread_mutex_lock(&r->mu);
        int behind = r->writer_seg < k;
        if (behind && r->way == MMAP) {
            if (madvise(r->maps[k] + off, WARM_CHUNK, MADV_POPULATE_WRITE) != 0)
                die("madvise(MADV_POPULATE_WRITE) (Linux 5.14 and later)");
        } else if (behind) {
            pwrite_all(r->fds[k], zeros, WARM_CHUNK, (off_t)off);
        }
        pthread_mutex_unlock(&r->mu);
        if (!behind)
            return;
    }
}

/* Warms file k + 1 while the writer is in file k, as the engine's preparer
 * does for an unsynced writer. */
static void *warmer(void *arg)
{
    run *r = arg;
    for (int k = 1; k < (int)NSEGS; k++) {
        pthread_mutex_lock(&r->mu);
        while (r->writer_seg < k - 1)
            pthread_cond_wait(&r->moved, &r->mu);
        pthread_mutex_unlock(&r->mu);
        warm_one(r, k);
    }
    return NULL;
}

/* The writer enters file k: the warmer writes nothing more into it. */
static void enter(run *r, int k)
{
    pthread_mutex_lock(&r->mu);
    r->writer_seg = k;
    pthread_cond_signal(&r->moved);
    pthread_mutex_unlock(&r->mu);
}

static int warms(enum way w)
{
    return w == ENCODE || w == ZEROCOPY || w == MMAP;
}

/* One run of `way`: returns GB/s. */
static double run_way(enum way way, const char *dir, const unsigned char *src, size_t batch)
{
    static run r;
    memset(&r, 0, sizeof r);
    r.way = way;
    r.writer_seg = -1;
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.moved, NULL);
    unsigned char *buf = malloc(batch);
    if (!buf)
        die("malloc");
    char path[4096];
    size_t nfiles = way == RAW ? 1 : NSEGS;
    for (size_t k = 0; k < nfiles; k++) {
        snprintf(path, sizeof path, "%s/ceiling.%zu", dir, k);
        if (way == RAW) { /* pre-zeroed and synced, as the grid's raw file */
            if ((r.fds[k] = bench_prezeroed(path, TOTAL_BYTES)) < 0)
                die(path);
            continue;
        }
        r.fds[k] = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (r.fds[k] < 0)
            die(path);
        if (ftruncate(r.fds[k], SEG_BYTES) != 0)
            die("ftruncate");
        if (way == MMAP || way == MMAP_COLD) {
            r.maps[k] = mmap(NULL, SEG_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, r.fds[k], 0);
            if (r.maps[k] == MAP_FAILED)
                die("mmap");
        }
    }
    if (warms(way))
        warm_one(&r, 0); /* the engine's first file is warm before the clock */
    pthread_t th;
    if (warms(way) && pthread_create(&th, NULL, warmer, &r) != 0)
        die("pthread_create");

    volatile uint32_t sink = 0;
    size_t per_seg = SEG_BYTES / batch, nbatches = per_seg * NSEGS;
    double t0 = bench_now();
    for (size_t b = 0; b < nbatches; b++) {
        int k = (int)(b / per_seg);
        off_t off = (off_t)((b % per_seg) * batch);
        if (way == RAW) {
            pwrite_all(r.fds[0], src, batch, (off_t)(b * batch));
            continue;
        }
        if (off == 0)
            enter(&r, k);
        switch (way) {
        case ENCODE:
        case SPARSE:
            sink += rw_crc32c_copy(0, buf, src, batch);
            pwrite_all(r.fds[k], buf, batch, off);
            break;
        case ZEROCOPY:
            sink += rw_crc32c(0, src, batch);
            pwrite_all(r.fds[k], src, batch, off);
            break;
        default: /* MMAP, MMAP_COLD */
            sink += rw_crc32c_copy(0, r.maps[k] + off, src, batch);
            break;
        }
    }
    double secs = bench_now() - t0;
    enter(&r, (int)NSEGS);
    if (warms(way))
        pthread_join(th, NULL);
    pthread_cond_destroy(&r.moved);
    pthread_mutex_destroy(&r.mu);
    for (size_t k = 0; k < nfiles; k++) {
        if (r.maps[k])
            munmap(r.maps[k], SEG_BYTES);
        close(r.fds[k]);
        snprintf(path, sizeof path, "%s/ceiling.%zu", dir, k);
        unlink(path);
    }
    free(buf);
    return (double)(nbatches * batch) / secs / 1e9;
}

int main(int argc, char **argv)
{
    size_t batch = argc > 1 ? strtoul(argv[1], NULL, 10) : 256u << 10;
    int runs = argc > 2 ? atoi(argv[2]) : 3;
    const char *dir = argc > 3 ? argv[3] : ".";
    if (batch == 0 || batch > SEG_BYTES || SEG_BYTES % batch != 0 || runs < 1 || runs > 64) {
        fprintf(stderr, "usage: raftwal-ceiling [BATCH_BYTES [RUNS [DIR]]]\n"
                        "  BATCH_BYTES divides 8 MiB (default 262144); RUNS 1..64 (default 3)\n");
        return 2;
    }
    unsigned char *src = malloc(batch);
    if (!src)
        die("malloc");
    srand(1);
    for (size_t i = 0; i < batch; i++)
        src[i] = (unsigned char)rand();
    double gbs[NWAYS][64];
    for (int r = 0; r < runs; r++)
        for (int i = 0; i < NWAYS; i++) {
            enum way w = (enum way)((i + r) % NWAYS); /* interleaved: drift touches every way */
            bench_progress("run %d/%d: %s", r + 1, runs, way_names[w]);
            gbs[w][r] = run_way(w, dir, src, batch);
        }
    bench_progress_done();
    printf("%zu-byte writes, 256 MiB per run\n", batch);
    printf("%-10s %s\n", "way", "GB/s per run (ratio to raw in the same run)");
    for (int w = 0; w < NWAYS; w++) {
        printf("%-10s", way_names[w]);
        for (int r = 0; r < runs; r++)
            printf(" %5.2f (%.2f)", gbs[w][r], gbs[w][r] / gbs[RAW][r]);
        printf("\n");
    }
    free(src);
    return 0;
}
