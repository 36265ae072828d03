/* threads.c -- concurrent durable appenders: 1, 2, 4, 8 threads, each
 * appending 1 KiB batch-1 entries and waiting for them to be durable.
 *
 * Raft indexes must be consecutive, so a thread takes the next index and
 * writes its entry under a mutex of the harness (raftwal_log_append with
 * RAFTWAL_NOSYNC: a pwrite, no fsync), then waits outside that mutex with
 * raftwal_log_wait_durable(): whichever thread finds no sync running runs
 * one fdatasync for every entry written so far (group commit). This is the
 * way an application with several producers uses the API; a plain durable
 * raftwal_log_append() would have to hold the index mutex across its own
 * fdatasync and could not be grouped.
 *
 * The raw reference: the same threads, each doing pwrite + fdatasync of its
 * own 1 KiB at the next offset of one pre-zeroed file. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define PAYLOAD 1024
#define MAX_THREADS 8
#define MAX_RUNS 64

typedef struct shared {
    raftwal_log *log;  /* NULL for the raw loop */
    int fd;
    pthread_mutex_t mu;
    uint64_t next;     /* next index to hand out (raftwal) */
    atomic_uint_fast64_t off; /* next offset (raw) */
    uint64_t per_thread;
    double deadline;
    const uint8_t *data;
    atomic_int failed;
} shared;

typedef struct worker {
    shared *sh;
    double *lat;
    uint64_t done;
    pthread_t tid;
} worker;

static int wal_one(shared *sh, const void *data)
{
    pthread_mutex_lock(&sh->mu);
    raftwal_entry e = {.index = sh->next, .term = 1, .data = data, .size = PAYLOAD};
    int rc = raftwal_log_append(sh->log, &e, 1, NULL, RAFTWAL_NOSYNC);
    if (rc == 0)
        sh->next++;
    pthread_mutex_unlock(&sh->mu);
    if (rc == 0)
        rc = raftwal_log_wait_durable(sh->log, e.index);
    if (rc)
        fprintf(stderr, "raftwal-bench: threads: %s: %s\n", raftwal_strerror(rc), raftwal_errmsg());
    return rc;
}

static int raw_one(shared *sh, const void *data)
{
    uint64_t off = atomic_fetch_add(&sh->off, PAYLOAD);
    if (pwrite(sh->fd, data, PAYLOAD, (off_t)off) != PAYLOAD || fdatasync(sh->fd) != 0) {
        fprintf(stderr, "raftwal-bench: threads: raw: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

static void *work(void *arg)
{
    worker *w = arg;
    shared *sh = w->sh;
    for (uint64_t i = 0; i < sh->per_thread && !atomic_load(&sh->failed); i++) {
        uint64_t t0 = bench_now_ns();
        int rc = sh->log ? wal_one(sh, sh->data + (i % 64) * PAYLOAD) : raw_one(sh, sh->data);
        if (rc) {
            atomic_store(&sh->failed, 1);
            break;
        }
        w->lat[w->done++] = (double)(bench_now_ns() - t0) / 1e3;
        if (bench_now() > sh->deadline && i >= 4)
            break;
    }
    return NULL;
}

/* One run with `n` threads; raftwal if wal, else raw. */
static int run_once(const bench_opts *o, int wal, int n, uint64_t total, bench_sample *out)
{
    memset(out, 0, sizeof *out);
    char dir[4096];
    if (bench_fresh_dir(o->dir, wal ? "threads-raftwal" : "threads-raw", dir, sizeof dir) != 0)
        return -1;
    static uint8_t data[64 * PAYLOAD];
    uint64_t seed = 7;
    for (size_t i = 0; i + 8 <= sizeof data; i += 8) {
        uint64_t r = bench_rng(&seed);
        memcpy(data + i, &r, 8);
    }
    shared sh = {.fd = -1, .next = 1, .per_thread = total / (uint64_t)n, .data = data};
    pthread_mutex_init(&sh.mu, NULL);
    void *wal_state = NULL;
    char err[512];
    if (wal) {
        /* Through the contender's open: same options, same wait for the
         * prepared segment as the grid. */
        wal_state = bench_raftwal.open(dir, BENCH_DURABLE, 0, err, sizeof err);
        if (!wal_state) {
            fprintf(stderr, "raftwal-bench: threads: %s\n", err);
            return -1;
        }
        sh.log = bench_raftwal_handle(wal_state);
    } else {
        char path[4200];
        snprintf(path, sizeof path, "%s/raw.dat", dir);
        sh.fd = bench_prezeroed(path, (total + 64) * PAYLOAD);
        if (sh.fd < 0)
            return -1;
    }
    worker w[MAX_THREADS];
    int rc = 0;
    double t0 = bench_now();
    sh.deadline = t0 + o->max_seconds;
    for (int i = 0; i < n; i++) {
        w[i] = (worker){.sh = &sh, .lat = malloc(sh.per_thread * sizeof(double))};
        if (!w[i].lat || pthread_create(&w[i].tid, NULL, work, &w[i]) != 0)
            abort(); /* the harness cannot measure without its threads */
    }
    for (int i = 0; i < n; i++)
        pthread_join(w[i].tid, NULL);
    double dt = bench_now() - t0;
    uint64_t done = 0;
    for (int i = 0; i < n; i++)
        done += w[i].done;
    double *all = malloc((done ? done : 1) * sizeof *all);
    uint64_t k = 0;
    for (int i = 0; i < n; i++) {
        memcpy(all + k, w[i].lat, w[i].done * sizeof *all);
        k += w[i].done;
        free(w[i].lat);
    }
    if (wal)
        bench_raftwal.close(wal_state);
    else
        close(sh.fd);
    bench_rmtree(dir);
    if (atomic_load(&sh.failed) || !done) {
        rc = -1;
    } else {
        bench_sort(all, done);
        out->count = done;
        out->ops_per_s = (double)done / dt;
        out->mb_per_s = (double)done * PAYLOAD / dt / 1e6;
        out->p50_us = bench_percentile(all, done, 0.50);
        out->p99_us = bench_percentile(all, done, 0.99);
        out->p999_us = bench_percentile(all, done, 0.999);
        if (wal && bench_raftwal_last_stats.appends) {
            const raftwal_stats *s = &bench_raftwal_last_stats;
            out->fsyncs_per_commit = (double)s->fsyncs / (double)s->appends;
            out->write_amp = (double)s->written_bytes / (double)s->appended_bytes;
        }
    }
    free(all);
    pthread_mutex_destroy(&sh.mu);
    return rc;
}

int bench_phase_threads(const bench_opts *o)
{
    static const int counts[] = {1, 2, 4, 8};
    int runs = o->runs < MAX_RUNS ? o->runs : MAX_RUNS;
    /* Total appends per run: the grid's commit budget, times the threads
     * (each thread should wait on a few hundred syncs). */
    static bench_sample s[2][4][MAX_RUNS];
    int ok[2][4][MAX_RUNS];
    memset(ok, 0, sizeof ok);
    for (int r = 0; r < runs; r++) {
        for (int t = 0; t < 4; t++) {
            if (o->smoke && counts[t] != 1 && counts[t] != 4)
                continue;
            for (int k = 0; k < 2; k++) {
                int wal = (k + r) % 2;
                if (!bench_in_list(o->who, wal ? "raftwal" : "raw"))
                    continue;
                uint64_t total = o->max_commits * (uint64_t)counts[t];
                bench_progress("threads %d x 1 KiB batch-1: %s, run %d/%d", counts[t],
                               wal ? "raftwal" : "raw", r + 1, runs);
                ok[wal][t][r] = run_once(o, wal, counts[t], total, &s[wal][t][r]) == 0;
                if (!ok[wal][t][r])
                    bench_failures++;
            }
        }
    }
    for (int wal = 0; wal < 2; wal++) {
        for (int t = 0; t < 4; t++) {
            bench_sample got[MAX_RUNS];
            int n = 0;
            for (int r = 0; r < runs; r++) {
                if (!ok[wal][t][r])
                    continue;
                got[n] = s[wal][t][r];
                /* Scaling: this run's rate over the same run's 1-thread rate. */
                got[n].ratio = ok[wal][0][r] ? got[n].ops_per_s / s[wal][0][r].ops_per_s : 0;
                n++;
            }
            if (!n)
                continue;
            bench_row row = {.payload = PAYLOAD, .threads = counts[t]};
            snprintf(row.phase, sizeof row.phase, "threads");
            snprintf(row.who, sizeof row.who, "%s", wal ? "raftwal" : "raw");
            snprintf(row.ratio_to, sizeof row.ratio_to, "1 thread");
            bench_report(o, &row, got, n);
        }
    }
    return 0;
}
