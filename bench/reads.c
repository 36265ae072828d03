/* reads.c -- warm reads of 1 KiB entries: random point reads and a
 * sequential scan, raftwal against a raw pread loop over the same payload
 * bytes laid out back to back in one file.
 *
 * Variants: raftwal "get" (raftwal_log_get: checksum verified, copied into
 * the caller's buffer, as pread copies), raftwal "iter1" (a one-entry
 * iterator: zero-copy view, checksum verified), raw "pread"; for the scan,
 * one raftwal iterator over the whole log against sequential 1 KiB preads. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define PAYLOAD 1024
#define MAX_RUNS 64

typedef struct fixture {
    raftwal_log *log;
    int fd;
    uint64_t entries;
    uint64_t *order; /* random indexes, the same for every variant */
    uint64_t nreads;
} fixture;

static volatile uint64_t sink; /* keeps the reads from being optimized away */

static int build(const char *dir, fixture *f)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/raftwal", dir);
    raftwal_options opts = RAFTWAL_OPTIONS_INIT;
    opts.flags = RAFTWAL_OPEN_CREATE | RAFTWAL_OPEN_NOSYNC;
    int rc = raftwal_log_open(&f->log, path, &opts);
    if (rc) {
        fprintf(stderr, "raftwal-bench: reads: open: %s\n", raftwal_errmsg());
        return -1;
    }
    snprintf(path, sizeof path, "%s/raw.dat", dir);
    f->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f->fd < 0)
        return -1;
    bench_batch b;
    if (bench_batch_init(&b, PAYLOAD, 256, 99) != 0)
        return -1;
    for (uint64_t i = 0; i < f->entries; i += b.n) {
        if (i / b.n % 64 == 0)
            bench_progress("reads: writing %llu x 1 KiB entries (%llu%%)",
                           (unsigned long long)f->entries, (unsigned long long)(i * 100 / f->entries));
        bench_batch_number(&b, i + 1);
        rc = raftwal_log_append(f->log, b.e, b.n, NULL, 0);
        if (rc || pwrite(f->fd, b.bytes, b.nbytes, (off_t)(i * PAYLOAD)) != (ssize_t)b.nbytes) {
            fprintf(stderr, "raftwal-bench: reads: build: %s\n", rc ? raftwal_errmsg() : strerror(errno));
            bench_batch_free(&b);
            return -1;
        }
    }
    bench_batch_free(&b);
    if (raftwal_log_sync(f->log) != 0 || fdatasync(f->fd) != 0)
        return -1;
    f->order = malloc(f->nreads * sizeof *f->order);
    if (!f->order)
        return -1;
    uint64_t s = 42;
    for (uint64_t i = 0; i < f->nreads; i++)
        f->order[i] = 1 + bench_rng(&s) % f->entries;
    return 0;
}

/* ---- the timed loops; each returns entries read, or 0 on error ------------ */

static uint64_t wal_get(fixture *f, int scan)
{
    uint8_t buf[PAYLOAD];
    raftwal_entry e;
    uint64_t n = scan ? f->entries : f->nreads, acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (raftwal_log_get(f->log, scan ? i + 1 : f->order[i], &e, buf, sizeof buf) != 0)
            return 0;
        acc += buf[i % PAYLOAD];
    }
    sink += acc;
    return n;
}

static uint64_t wal_iter1(fixture *f, int scan)
{
    (void)scan;
    raftwal_iter *it;
    raftwal_entry e;
    uint64_t acc = 0;
    for (uint64_t i = 0; i < f->nreads; i++) {
        uint64_t x = f->order[i];
        if (raftwal_iter_open(&it, f->log, x, x + 1, RAFTWAL_NO_LIMIT) != 0)
            return 0;
        int rc = raftwal_iter_next(it, &e);
        raftwal_iter_close(it);
        if (rc != 1)
            return 0;
        acc += ((const uint8_t *)e.data)[i % PAYLOAD];
    }
    sink += acc;
    return f->nreads;
}

static uint64_t wal_scan(fixture *f, int scan)
{
    (void)scan;
    raftwal_iter *it;
    raftwal_entry e;
    uint64_t n = 0, acc = 0;
    if (raftwal_iter_open(&it, f->log, 1, f->entries + 1, RAFTWAL_NO_LIMIT) != 0)
        return 0;
    int rc;
    while ((rc = raftwal_iter_next(it, &e)) == 1) {
        acc += ((const uint8_t *)e.data)[n % PAYLOAD];
        n++;
    }
    raftwal_iter_close(it);
    sink += acc;
    return rc == 0 ? n : 0;
}

static uint64_t raw_pread(fixture *f, int scan)
{
    uint8_t buf[PAYLOAD];
    uint64_t n = scan ? f->entries : f->nreads, acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t x = scan ? i + 1 : f->order[i];
        if (pread(f->fd, buf, PAYLOAD, (off_t)((x - 1) * PAYLOAD)) != PAYLOAD)
            return 0;
        acc += buf[i % PAYLOAD];
    }
    sink += acc;
    return n;
}

typedef struct variant {
    const char *phase, *who, *name;
    uint64_t (*fn)(fixture *f, int scan);
    int scan;
} variant;

static const variant variants[] = {
    {"read", "raw", "pread", raw_pread, 0},
    {"read", "raftwal", "get", wal_get, 0},
    {"read", "raftwal", "iter1", wal_iter1, 0},
    {"scan", "raw", "pread", raw_pread, 1},
    {"scan", "raftwal", "iter", wal_scan, 1},
};
#define NVARIANTS (sizeof variants / sizeof variants[0])

int bench_phase_reads(const bench_opts *o)
{
    fixture f = {.fd = -1};
    f.entries = o->smoke ? 2048 : o->quick ? 16384 : 65536; /* full: 64 MiB, sealed segments and a tail */
    f.nreads = o->smoke ? 20000 : o->quick ? 100000 : 500000;
    char dir[4096];
    int rc = -1;
    if (bench_fresh_dir(o->dir, "reads", dir, sizeof dir) != 0)
        return -1;
    if (build(dir, &f) != 0)
        goto out;
    /* Warm: every entry read once through both paths before any timing. */
    wal_scan(&f, 1);
    raw_pread(&f, 1);
    int runs = o->runs < MAX_RUNS ? o->runs : MAX_RUNS;
    static bench_sample s[NVARIANTS][MAX_RUNS];
    int ok[NVARIANTS][MAX_RUNS];
    memset(ok, 0, sizeof ok);
    for (int r = 0; r < runs; r++) {
        for (size_t k = 0; k < NVARIANTS; k++) {
            size_t i = (k + (size_t)r) % NVARIANTS;
            const variant *v = &variants[i];
            bench_progress("%s 1 KiB: %s %s, run %d/%d", v->phase, v->who, v->name, r + 1, runs);
            double t0 = bench_now();
            uint64_t n = v->fn(&f, v->scan);
            double dt = bench_now() - t0;
            if (!n) {
                fprintf(stderr, "raftwal-bench: %s %s failed: %s\n", v->who, v->name, raftwal_errmsg());
                bench_failures++;
                continue;
            }
            s[i][r] = (bench_sample){.ops_per_s = (double)n / dt, .mb_per_s = (double)n * PAYLOAD / dt / 1e6,
                                     .count = n};
            ok[i][r] = 1;
        }
    }
    for (size_t i = 0; i < NVARIANTS; i++) {
        const variant *v = &variants[i];
        size_t ref = v->scan ? 3 : 0; /* the raw variant of the same phase */
        bench_sample got[MAX_RUNS];
        int n = 0;
        for (int r = 0; r < runs; r++) {
            if (!ok[i][r])
                continue;
            got[n] = s[i][r];
            got[n].ratio = ok[ref][r] && i != ref ? got[n].ops_per_s / s[ref][r].ops_per_s : 0;
            n++;
        }
        if (!n)
            continue;
        bench_row row = {.payload = PAYLOAD};
        snprintf(row.phase, sizeof row.phase, "%s", v->phase);
        snprintf(row.who, sizeof row.who, "%s", v->who);
        snprintf(row.variant, sizeof row.variant, "%s", v->name);
        if (i != ref)
            snprintf(row.ratio_to, sizeof row.ratio_to, "raw");
        bench_report(o, &row, got, n);
    }
    rc = 0;
out:
    if (f.log)
        raftwal_log_close(f.log);
    if (f.fd >= 0)
        close(f.fd);
    free(f.order);
    bench_rmtree(dir);
    return rc;
}
