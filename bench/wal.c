/* wal.c -- raftwal as a contender: one handle, one append per batch,
 * durable through the open flags (no RAFTWAL_OPEN_NOSYNC) or not.
 *
 * Two contenders share this file:
 *   raftwal         a fresh log: every segment the run grows into is a new
 *                   file the engine zero-fills;
 *   raftwal-steady  a log that has been running for a while: before the
 *                   clock it rotated through WARM_ROTATIONS segments and
 *                   purged all but the active one (as a Raft node does
 *                   behind its snapshots), and in the timed loop it purges
 *                   everything before the active segment whenever the log
 *                   moves into a new one. The purges are timed; the
 *                   segments it rotates into are recycled purged files. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

raftwal_stats bench_raftwal_last_stats;
uint64_t bench_raftwal_segment_size;
double bench_raftwal_prep_wait_s;
bench_codec bench_raftwal_codec;

/* Rotations the steady contender's warm-up goes through. */
#define WARM_ROTATIONS 3

typedef struct wal_state {
    raftwal_log *log;
    raftwal_stats base; /* counters when the clock can start */
    int steady;         /* raftwal-steady: purge behind every rotation */
    uint64_t next;      /* the index the timed loop starts at */
} wal_state;

static int read_stats(raftwal_log *log, raftwal_stats *s)
{
    memset(s, 0, sizeof *s);
    s->size = sizeof *s;
    return raftwal_log_stats(log, s);
}

static void engine_err(char *err, size_t errlen, const char *what, int rc)
{
    snprintf(err, errlen, "%s%s%s: %s", what, what[0] ? ": " : "", raftwal_strerror(rc), raftwal_errmsg());
}

/* The engine prepares segment files (zero-filled, synced, renamed from
 * NNN.wal.tmp; or, with recycling, a purged file reused) in the background
 * once the active segment is half full. If one is being prepared when the
 * clock could start, wait for it, so that a run is not charged for a
 * preparation that steady state spreads over a whole segment of appends.
 * (A preparation a run triggers itself, at half a segment, stays in that
 * run.) Two signs of one in flight: a *.wal.tmp file, or an active segment
 * past half with nothing prepared yet (the prepared file counts in
 * raftwal_stats.disk_bytes but is not one of the log's segments). */
static int tmp_file_present(const char *path)
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

static int preparing(raftwal_log *log, const char *path)
{
    if (tmp_file_present(path))
        return 1;
    raftwal_stats s;
    if (read_stats(log, &s) != 0 || s.segments == 0)
        return 0;
    uint64_t files = 0;
    raftwal_segment_info info = {.size = sizeof info};
    for (uint64_t i = 0; i < s.segments; i++) {
        if (raftwal_log_segment_info(log, (size_t)i, &info) != 0)
            return 0;
        files += info.file_bytes;
    }
    /* info: the active segment. */
    return info.used_bytes > info.file_bytes / 2 && s.disk_bytes <= files;
}

static void wait_for_prepared(raftwal_log *log, const char *path)
{
    double t0 = bench_now();
    while (bench_now() - t0 < 10 && preparing(log, path))
        bench_sleep_ms(5);
    bench_raftwal_prep_wait_s = bench_now() - t0;
}

/* If the log has moved into a new segment since the last purge (the oldest
 * segment is sealed: after a purge only the active one is left), purges
 * everything before the active segment's first index, as a Raft node
 * compacting behind a snapshot would. One segment_info call when there is
 * nothing to do. */
static int purge_if_rotated(wal_state *w, char *err, size_t errlen)
{
    raftwal_segment_info info = {.size = sizeof info};
    int rc = raftwal_log_segment_info(w->log, 0, &info);
    if (rc == 0 && !info.sealed)
        return 0;
    raftwal_stats s;
    if (rc == 0)
        rc = read_stats(w->log, &s);
    if (rc == 0)
        rc = raftwal_log_segment_info(w->log, (size_t)(s.segments - 1), &info);
    if (rc == 0 && info.first_index > s.first_index)
        rc = raftwal_log_purge(w->log, info.first_index - 1);
    if (rc)
        engine_err(err, errlen, "purge", rc);
    return rc ? -1 : 0;
}

/* Before the clock: append (without syncs: only the state matters) and
 * purge behind every rotation until the log has rotated WARM_ROTATIONS
 * times, so that it holds only its active segment and the engine keeps the
 * files it purged as spares (since 17634e5 it does), then make it all
 * durable and write it back. The active segment holds one warm-up batch at
 * most (<= 1/16 of a segment): the timed loop starts near the beginning of
 * a segment, as the fresh contender's does. */
static int warm_up(wal_state *w, const char *path, char *err, size_t errlen)
{
    uint64_t seg = bench_raftwal_segment_size ? bench_raftwal_segment_size : RAFTWAL_DEFAULT_SEGMENT_SIZE;
    size_t esize = 4096, bytes = seg / 16 < (1u << 20) ? (size_t)(seg / 16) : (1u << 20);
    bench_batch b;
    if (bench_batch_init(&b, esize, bytes / esize ? bytes / esize : 1, 0x5eed) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    raftwal_stats s;
    int rc = read_stats(w->log, &s);
    uint64_t next = s.last_index + 1, rot0 = s.rotations;
    while (rc == 0 && s.rotations - rot0 < WARM_ROTATIONS) {
        /* A no-sync segment may grow to twice its size while the next
         * file is being made (log.c, rotation): allow for that. */
        if ((next - 1) * esize > (2 * WARM_ROTATIONS + 2) * seg) {
            snprintf(err, errlen, "warm-up: %d rotations expected, %llu seen after %llu entries",
                     WARM_ROTATIONS, (unsigned long long)(s.rotations - rot0), (unsigned long long)(next - 1));
            bench_batch_free(&b);
            return -1;
        }
        bench_batch_number(&b, next);
        rc = raftwal_log_append(w->log, b.e, b.n, NULL, RAFTWAL_NOSYNC);
        if (rc) {
            engine_err(err, errlen, "warm-up append", rc);
            break;
        }
        next += b.n;
        if (purge_if_rotated(w, err, errlen) != 0) {
            bench_batch_free(&b);
            return -1;
        }
        rc = read_stats(w->log, &s);
    }
    bench_batch_free(&b);
    if (rc == 0 && s.segments != 1) {
        snprintf(err, errlen, "warm-up: %llu segments left after the purges, 1 expected",
                 (unsigned long long)s.segments);
        return -1;
    }
    if (rc == 0 && (rc = raftwal_log_sync(w->log)) != 0)
        engine_err(err, errlen, "warm-up sync", rc);
    if (rc)
        return -1;
    /* Write back whatever the warm-up left dirty (the disk's write counter
     * is read when the clock starts). */
    int dfd = open(path, O_RDONLY | O_CLOEXEC);
    if (dfd >= 0) {
        syncfs(dfd);
        close(dfd);
    }
    w->next = next;
    return 0;
}

static void *wal_open_as(const char *dir, int mode, int steady, char *err, size_t errlen)
{
    wal_state *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->steady = steady;
    w->next = 1;
    char path[4096];
    snprintf(path, sizeof path, "%s/raftwal", dir);
    raftwal_options opts = RAFTWAL_OPTIONS_INIT;
    opts.flags = RAFTWAL_OPEN_CREATE | (mode == BENCH_NOSYNC ? RAFTWAL_OPEN_NOSYNC : 0);
    opts.segment_size = bench_raftwal_segment_size;
    opts.compression = bench_raftwal_codec.compression;
    if (bench_raftwal_codec.key) {
        opts.key = bench_raftwal_codec.key;
        opts.key_size = RAFTWAL_KEY_SIZE;
    }
    int rc = raftwal_log_open(&w->log, path, &opts);
    if (rc) {
        engine_err(err, errlen, "", rc);
        free(w);
        return NULL;
    }
    if (steady && warm_up(w, path, err, errlen) != 0) {
        raftwal_log_close(w->log);
        free(w);
        return NULL;
    }
    if (mode != BENCH_OPEN_ONLY)
        wait_for_prepared(w->log, path);
    read_stats(w->log, &w->base);
    return w;
}

static void *wal_open(const char *dir, int mode, uint64_t capacity, char *err, size_t errlen)
{
    (void)capacity;
    return wal_open_as(dir, mode, 0, err, errlen);
}

static void *steady_open(const char *dir, int mode, uint64_t capacity, char *err, size_t errlen)
{
    (void)capacity;
    return wal_open_as(dir, mode, 1, err, errlen);
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
        engine_err(err, errlen, "", rc);
        return -1;
    }
    return w->steady ? purge_if_rotated(w, err, errlen) : 0;
}

static uint64_t wal_first(void *st)
{
    return ((wal_state *)st)->next;
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
        /* Counters of the timed part only: subtract what the open (and the
         * warm-up) did. */
        s.appends -= w->base.appends;
        s.appended_entries -= w->base.appended_entries;
        s.appended_bytes -= w->base.appended_bytes;
        s.written_bytes -= w->base.written_bytes;
        s.fsyncs -= w->base.fsyncs;
        s.fsync_ns_total -= w->base.fsync_ns_total;
        s.dir_fsyncs -= w->base.dir_fsyncs;
        s.rotations -= w->base.rotations;
        s.segments_deleted -= w->base.segments_deleted;
        s.segments_recycled -= w->base.segments_recycled;
        s.compressed_entries -= w->base.compressed_entries;
        s.stored_entry_bytes -= w->base.stored_entry_bytes;
        bench_raftwal_last_stats = s;
    }
    raftwal_log_close(w->log);
    free(w);
}

int bench_is_raftwal(const contender *c)
{
    return c == &bench_raftwal || c == &bench_raftwal_steady;
}

const contender bench_raftwal = {"raftwal", wal_open, wal_append, wal_last, wal_close, wal_first};
const contender bench_raftwal_steady = {"raftwal-steady", steady_open, wal_append, wal_last, wal_close, wal_first};
