/* wal.c -- raftwal as a contender: one handle, one append per batch,
 * durable through the open flags (no RAFTWAL_OPEN_NOSYNC) or not. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

raftwal_stats bench_raftwal_last_stats;
uint64_t bench_raftwal_segment_size;
double bench_raftwal_prep_wait_s;

typedef struct wal_state {
    raftwal_log *log;
    raftwal_stats base; /* counters right after the open */
} wal_state;

static int read_stats(raftwal_log *log, raftwal_stats *s)
{
    memset(s, 0, sizeof *s);
    s->size = sizeof *s;
    return raftwal_log_stats(log, s);
}

/* The engine prepares segment files (zero-filled, synced, renamed from
 * NNN.wal.tmp) in the background. If one is being prepared right after the
 * open, wait for it, so that a run is not charged for a preparation that
 * steady state spreads over a whole segment of appends. (A preparation a
 * run triggers itself, at half a segment, stays in that run.) */
static int preparing(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        found = n > 8 && strcmp(e->d_name + n - 8, ".wal.tmp") == 0;
    }
    closedir(d);
    return found;
}

static void wait_for_prepared(const char *path)
{
    double t0 = bench_now();
    while (bench_now() - t0 < 10 && preparing(path))
        bench_sleep_ms(5);
    bench_raftwal_prep_wait_s = bench_now() - t0;
}

static void *wal_open(const char *dir, int mode, uint64_t capacity, char *err, size_t errlen)
{
    (void)capacity;
    wal_state *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/raftwal", dir);
    raftwal_options opts = RAFTWAL_OPTIONS_INIT;
    opts.flags = RAFTWAL_OPEN_CREATE | (mode == BENCH_NOSYNC ? RAFTWAL_OPEN_NOSYNC : 0);
    opts.segment_size = bench_raftwal_segment_size;
    int rc = raftwal_log_open(&w->log, path, &opts);
    if (rc) {
        snprintf(err, errlen, "%s: %s", raftwal_strerror(rc), raftwal_errmsg());
        free(w);
        return NULL;
    }
    if (mode != BENCH_OPEN_ONLY)
        wait_for_prepared(path);
    read_stats(w->log, &w->base);
    return w;
}

raftwal_log *bench_raftwal_handle(void *st)
{
    return ((wal_state *)st)->log;
}

static int wal_append(void *st, const bench_batch *b, char *err, size_t errlen)
{
    wal_state *w = st;
    int rc = raftwal_log_append(w->log, b->e, b->n, NULL, 0);
    if (rc) {
        snprintf(err, errlen, "%s: %s", raftwal_strerror(rc), raftwal_errmsg());
        return -1;
    }
    return 0;
}

static int wal_last(void *st, uint64_t *last, char *err, size_t errlen)
{
    int rc = raftwal_log_last_index(((wal_state *)st)->log, last);
    if (rc)
        snprintf(err, errlen, "%s", raftwal_strerror(rc));
    return rc ? -1 : 0;
}

static void wal_close(void *st)
{
    wal_state *w = st;
    raftwal_stats s;
    if (read_stats(w->log, &s) == 0) {
        /* Counters of this run only: subtract what the open did. */
        s.appends -= w->base.appends;
        s.appended_entries -= w->base.appended_entries;
        s.appended_bytes -= w->base.appended_bytes;
        s.written_bytes -= w->base.written_bytes;
        s.fsyncs -= w->base.fsyncs;
        s.fsync_ns_total -= w->base.fsync_ns_total;
        s.dir_fsyncs -= w->base.dir_fsyncs;
        bench_raftwal_last_stats = s;
    }
    raftwal_log_close(w->log);
    free(w);
}

const contender bench_raftwal = {"raftwal", wal_open, wal_append, wal_last, wal_close};
