/* appends.c -- the one timed append loop every contender runs, and the
 * batches it appends. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

int bench_batch_init(bench_batch *b, size_t payload, size_t n, uint64_t seed)
{
    memset(b, 0, sizeof *b);
    b->n = n;
    b->payload = payload;
    b->nbytes = payload * n;
    b->e = calloc(n, sizeof *b->e);
    b->bytes = malloc(b->nbytes ? b->nbytes : 1);
    if (!b->e || !b->bytes) {
        bench_batch_free(b);
        return -1;
    }
    /* Random bytes: nothing on the way (RocksDB's block compression, a
     * deduplicating disk) can make a contender look better by shrinking
     * them. */
    uint64_t s = seed;
    for (size_t i = 0; i + 8 <= b->nbytes; i += 8) {
        uint64_t r = bench_rng(&s);
        memcpy(b->bytes + i, &r, 8);
    }
    for (size_t i = 0; i < n; i++) {
        b->e[i].term = 1;
        b->e[i].data = b->bytes + i * payload;
        b->e[i].size = payload;
    }
    return 0;
}

void bench_batch_free(bench_batch *b)
{
    free(b->e);
    free(b->bytes);
    memset(b, 0, sizeof *b);
}

void bench_batch_number(bench_batch *b, uint64_t first)
{
    for (size_t i = 0; i < b->n; i++)
        b->e[i].index = first + i;
}

uint64_t bench_commits_for(const bench_opts *o, size_t batch_bytes)
{
    uint64_t n = batch_bytes ? o->budget_bytes / batch_bytes : o->max_commits;
    if (n > o->max_commits)
        n = o->max_commits;
    if (n < o->min_commits)
        n = o->min_commits;
    return n;
}

int bench_run_appends(const bench_opts *o, const contender *c, const char *dir, int mode,
                      bench_batch *b, uint64_t commits, bench_sample *out)
{
    char err[512] = "";
    memset(out, 0, sizeof *out);
    double *lat = malloc(commits * sizeof *lat);
    if (!lat)
        return -1;
    void *st = c->open(dir, mode, commits * b->nbytes, err, sizeof err);
    if (!st) {
        fprintf(stderr, "raftwal-bench: %s: open: %s\n", c->name, err);
        bench_failures++;
        free(lat);
        return -1;
    }
    uint64_t first = c->first ? c->first(st) : 1;
    uint64_t io0 = bench_dev_write_bytes(dir);
    uint64_t done = 0;
    int rc = 0;
    double t0 = bench_now();
    for (; done < commits; done++) {
        bench_batch_number(b, first + done * b->n);
        uint64_t a = bench_now_ns();
        if (c->append(st, b, err, sizeof err) != 0) {
            fprintf(stderr, "raftwal-bench: %s: append: %s\n", c->name, err);
            rc = -1;
            break;
        }
        lat[done] = (double)(bench_now_ns() - a) / 1e3;
        if (done + 1 >= o->min_commits && bench_now() - t0 > o->max_seconds) {
            done++;
            break;
        }
    }
    double dt = bench_now() - t0;
    uint64_t io = bench_dev_write_bytes(dir) - io0;
    c->close(st);
    /* (Device bytes are read before the close: the same point for every
     * contender; what a close still writes is not part of the appends.) */
    /* Write back what a no-sync run left dirty, so it does not slow the
     * next run down (outside the clock). */
    int dfd = open(dir, O_RDONLY | O_CLOEXEC);
    if (dfd >= 0) {
        syncfs(dfd);
        close(dfd);
    }
    if (rc == 0 && done > 0) {
        double payload = (double)done * (double)b->nbytes;
        out->count = done;
        out->ops_per_s = (double)(done * b->n) / dt;
        out->mb_per_s = payload / dt / 1e6;
        out->dev_amp = (double)io / payload;
        bench_sort(lat, done);
        out->p50_us = bench_percentile(lat, done, 0.50);
        out->p99_us = bench_percentile(lat, done, 0.99);
        out->p999_us = bench_percentile(lat, done, 0.999);
        if (bench_is_raftwal(c) && bench_raftwal_last_stats.appended_bytes) {
            const raftwal_stats *s = &bench_raftwal_last_stats;
            out->write_amp = (double)s->written_bytes / (double)s->appended_bytes;
            /* Per commit of the loop: the engine counts a purge as an
             * append too (raftwal-steady's fsyncs include its purges'). */
            out->fsyncs_per_commit = (double)s->fsyncs / (double)done;
            out->rotations = (double)s->rotations;
            out->recycled = (double)s->segments_recycled;
        }
    }
    free(lat);
    if (rc || done == 0)
        bench_failures++;
    return done > 0 ? rc : -1;
}
