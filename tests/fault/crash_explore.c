/* crash_explore.c -- power-loss crash-state exploration (issue 5, part 2).
 *
 * 1. Record: run a seeded workload (appends, overwrites, truncations,
 *    purges, snapshots, metadata, no-sync groups, reopens) on a log with
 *    16 KiB segments, so it rotates through many segments, with faultfs
 *    recording every mutating I/O call and a marker around every API call.
 * 2. Explore: replay the recording into a model file system (crash_fs.h).
 *    After every recorded operation (every prefix of the stream), build the
 *    crash states a power loss could leave: unsynced data dropped, kept,
 *    and RAFTWAL_CRASH_SAMPLES random legal mixtures (torn at 512-byte
 *    sectors, persisted out of order, directory operations half done: in
 *    order for half the samples, any per-name-ordered subset for the
 *    other half).
 *    Identical states are checked once.
 * 3. Check each state: raftwal_verify accepts it; raftwal_log_open
 *    recovers it (ECORRUPT or any error on a pure crash state is a bug);
 *    the recovered log is valid for Raft and EQUAL to the model state after
 *    one of the calls that may have happened: from the last call
 *    acknowledged durable to the call in flight (whole batches, no holes,
 *    nothing acknowledged lost, nothing invented); then one more append
 *    works and survives a reopen (bytes past the recovered end can never
 *    come back to life).
 *    The state that keeps every write (CFS_KEEP_ALL: a process crash, kill
 *    -9, not a power loss) is held to more: nothing acknowledged, durable
 *    or no-sync, may be lost, so it must equal the state after the last
 *    call that returned or after the call in flight.
 *
 * Knobs (environment): RAFTWAL_CRASH_SEED (first seed, default 1),
 * RAFTWAL_CRASH_SEEDS (seeds to run, default 4), RAFTWAL_CRASH_CALLS (API
 * calls per run, default 300), RAFTWAL_CRASH_SAMPLES (random states per
 * crash point, default 8), RAFTWAL_CRASH_KEEP_GOING=1 (count bugs instead
 * of stopping at the first), RAFTWAL_CRASH_DIRS (which directory model the
 * random states use: "both" (default, alternating per sample), "ordered"
 * (directory operations persist as a prefix, as ext4 and xfs journal
 * them) or "reordered" (any subset that keeps each name's operations in
 * order: all POSIX promises)). A failing state is kept on disk and its
 * path printed. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crash_fs.h"
#include "fault_util.h"
#include "faultfs.h"
#include "log.h" /* rw_prepare_in_background, rw_write_piece */
#include "workload.h"

#define SEGMENT_SIZE (16u * 1024u)

enum { DIRS_BOTH, DIRS_ORDERED, DIRS_REORDERED };

typedef struct explore {
    workload w;
    int dirs; /* DIRS_*: which directory models the random samples use */
    const char *base;
    char run_dir[4096], state_dir[4096];
    uint64_t seed;
    /* outcome counters */
    unsigned long points, generated, explored, torn_states, recovered_torn, bugs;
    unsigned long leftover_states;  /* verify reported purged leftovers */
    unsigned long repaired_states;  /* raftwal_repair run on the state, then checked */
    unsigned long recoveries, recovery_states; /* crashes inside the recovery of a state */
    unsigned long reordered_states; /* directory operations persisted out of order (may be) */
    unsigned long process_crashes; /* KEEP_ALL states checked against [done, in flight] */
    unsigned long cut_states;      /* open removed segments in use (after a torn predecessor) */
    unsigned long by_candidate_offset[3]; /* recovered state = lo, in between, hi */
    /* seen-state set (open addressing on 64-bit keys) */
    uint64_t *seen;
    size_t seen_cap, seen_n;
} explore;

static int seen_add(explore *x, uint64_t key)
{
    if (key == 0)
        key = 1;
    if (x->seen_n * 2 >= x->seen_cap) {
        size_t cap = x->seen_cap ? x->seen_cap * 2 : 4096;
        uint64_t *t = calloc(cap, sizeof *t);
        FU_CHECK(t != NULL, "out of memory");
        for (size_t i = 0; i < x->seen_cap; i++) {
            uint64_t k = x->seen[i];
            if (!k)
                continue;
            size_t j = k & (cap - 1);
            while (t[j])
                j = (j + 1) & (cap - 1);
            t[j] = k;
        }
        free(x->seen);
        x->seen = t;
        x->seen_cap = cap;
    }
    size_t j = key & (x->seen_cap - 1);
    while (x->seen[j]) {
        if (x->seen[j] == key)
            return 0;
        j = (j + 1) & (x->seen_cap - 1);
    }
    x->seen[j] = key;
    x->seen_n++;
    return 1;
}

/* ---------------------------------------------------------------------- */
/* The background preparer, scheduled deterministically                   */
/* ---------------------------------------------------------------------- */

/* The explorer runs with the background preparer off, so that a seed gives
 * one I/O stream. Seeds 2 and 3 (mod 4) put the preparer's work back at the
 * point where it does most harm: just before a directory fsync of the log
 * (a purge's, after its renames to spares and unlinks), the step the worker
 * would run if it woke then, with a spare in the pool and a request
 * pending: the spare recycled as the next segment (header written,
 * fdatasync, renamed, directory fsync; prepare.c, worker). A power loss
 * between the purge's rename and the directory fsync then may find the
 * file's new header under its old name, or under the spare's. */
static workload *worker_workload;
static unsigned long worker_steps;

static void worker_step_before_dirsync(int fd)
{
    raftwal_log *log = worker_workload ? worker_workload->log : NULL;
    if (!log || fd != log->dirfd)
        return;
    pthread_mutex_lock(&log->pmu);
    uint64_t seq = log->prep_want;
    int kind = log->prep_kind;
    int go = seq && seq > log->prep_floor && !log->prepared && log->nspares;
    if (go)
        log->prep_want = 0;
    pthread_mutex_unlock(&log->pmu);
    char spare[24];
    if (!go || !rw_spare_take(log, spare))
        return;
    rw_seg *s = NULL;
    int rc = rw_seg_prepare(log->dirfd, seq, log->log_id, log->segment_size, log->mode,
                            &log->prep_stop, spare, kind != RW_FILE_ZEROED, &s);
    pthread_mutex_lock(&log->pmu);
    if (rc == 0) {
        rw_seg_unref(log->prepared);
        log->prepared = s;
        worker_steps++;
    } else {
        rw_seg_unref(s);
    }
    pthread_mutex_unlock(&log->pmu);
}

/* ---------------------------------------------------------------------- */
/* Recording                                                              */
/* ---------------------------------------------------------------------- */

static void record_run(explore *x, unsigned long calls)
{
    workload *w = &x->w;
    snprintf(x->run_dir, sizeof x->run_dir, "%s/run", x->base);
    snprintf(x->state_dir, sizeof x->state_dir, "%s/state", x->base);
    fu_rm_rf(x->run_dir);
    FU_CHECK(mkdir(x->run_dir, 0755) == 0, "mkdir %s", x->run_dir);
    mkdir(x->state_dir, 0755);
    ff_reset();
    ff_set_skip_sync(1);
    ff_record_start();
    wl_init(w, x->run_dir, x->seed, SEGMENT_SIZE);
    worker_workload = x->seed % 4 >= 2 ? w : NULL;
    worker_steps = 0;
    ff_set_before_fsync_hook(worker_step_before_dirsync);
    FU_RC(wl_open(w), RAFTWAL_OK);
    for (unsigned long i = 0; i < calls; i++) {
        int rc = wl_step(w);
        FU_CHECK(rc == 0, "seed %" PRIu64 ": workload call %zu (%s) failed: %s: %s", x->seed,
                 w->ncalls - 1, wl_kind_name(w->kinds[w->ncalls - 1]), raftwal_strerror(rc),
                 raftwal_errmsg());
        /* The model and the engine agree while nothing crashes. */
        wl_state got;
        FU_RC(wl_read_state(w->log, &got), RAFTWAL_OK);
        int same = wl_state_equal(&got, &w->states[w->ncalls - 1]);
        if (!same) {
            char a[256], b[256];
            wl_state_describe(&got, a, sizeof a);
            wl_state_describe(&w->states[w->ncalls - 1], b, sizeof b);
            FU_CHECK(same, "seed %" PRIu64 ": after call %zu (%s) the log is\n  %s\nbut the model says\n  %s",
                     x->seed, w->ncalls - 1, wl_kind_name(w->kinds[w->ncalls - 1]), a, b);
        }
        wl_state_free(&got);
    }
    FU_RC(wl_close(w), RAFTWAL_OK);
    ff_record_stop();
    worker_workload = NULL; /* the checks open logs of their own */
}

/* ---------------------------------------------------------------------- */
/* Checking one crash state                                               */
/* ---------------------------------------------------------------------- */

static void describe_image(const cfs_image *img)
{
    for (size_t i = 0; i < img->n; i++)
        fprintf(stderr, "    %-24s %zu bytes\n", img->files[i].name, img->files[i].size);
}

static int has_segment(const cfs_image *img)
{
    for (size_t i = 0; i < img->n; i++) {
        size_t n = strlen(img->files[i].name);
        if (n > 4 && strcmp(img->files[i].name + n - 4, ".wal") == 0)
            return 1;
    }
    return 0;
}

/* Did the open remove a segment file that was in use (first index not 0)
 * in the image? Only a log that ends in a torn predecessor of a lazily
 * activated segment does that. */
static int lost_used_segment(const explore *x, const cfs_image *img)
{
    for (size_t i = 0; i < img->n; i++) {
        const cfs_file *f = &img->files[i];
        size_t n = strlen(f->name);
        if (n < 4 || strcmp(f->name + n - 4, ".wal") || f->size < 64)
            continue;
        uint64_t first;
        memcpy(&first, f->data + 40, 8);
        char path[4200];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", x->state_dir, f->name);
        if (first && stat(path, &st) != 0)
            return 1;
    }
    return 0;
}

static void report_bug(explore *x, size_t point, const ff_rec *r, size_t lo, size_t hi,
                       const cfs_image *img, const char *what)
{
    x->bugs++;
    fprintf(stderr, "\nBUG (seed %" PRIu64 ", after I/O #%zu: %s %s): %s\n", x->seed, point,
            ff_op_name(r->op), r->op == FF_MARK ? "" : r->name, what);
    fprintf(stderr, "  acceptable: the state after call %zu (%s) .. call %zu (%s)\n", lo,
            wl_kind_name(x->w.kinds[lo]), hi, wl_kind_name(x->w.kinds[hi]));
    for (size_t i = lo; i <= hi; i++) {
        char d[256];
        wl_state_describe(&x->w.states[i], d, sizeof d);
        fprintf(stderr, "    call %zu: %s\n", i, d);
    }
    fprintf(stderr, "  files of the crash state%s:\n", img->torn ? " (torn)" : "");
    describe_image(img);
    char keep[4200];
    snprintf(keep, sizeof keep, "%s/bug-%lu", x->base, x->bugs);
    fu_rm_rf(keep);
    mkdir(keep, 0755);
    cfs_image_write(img, keep);
    fprintf(stderr, "  the crash state is kept in %s\n", keep);
    if (!fu_env_u64("RAFTWAL_CRASH_KEEP_GOING", 0)) {
        setenv("RAFTWAL_TEST_KEEP", "1", 1);
        exit(1);
    }
}

/* Opens the materialized state and checks it against states[lo..hi].
 * Returns NULL or what is wrong (message in buf). */
static const char *check_state(explore *x, const cfs_image *img, size_t lo, size_t hi, char *buf,
                               size_t cap, int *leftovers)
{
    const raftwal_options *opts = wl_options(&x->w);
    raftwal_check chk;
    memset(&chk, 0, sizeof chk);
    chk.size = sizeof chk;
    int rc = raftwal_verify_opts(x->state_dir, opts, &chk); /* the key, if encrypted */
    int want = has_segment(img) ? RAFTWAL_OK : RAFTWAL_ENOTFOUND;
    if (rc != want && !(rc == RAFTWAL_OK && want == RAFTWAL_ENOTFOUND)) {
        snprintf(buf, cap, "raftwal_verify returned %s: %s", raftwal_strerror(rc), raftwal_errmsg());
        return buf;
    }
    if (leftovers) { /* a state of the workload's own crash points */
        *leftovers = rc == RAFTWAL_OK && chk.leftovers;
        x->leftover_states += (unsigned long)*leftovers;
    }
    raftwal_log *log;
    rc = raftwal_log_open(&log, x->state_dir, opts);
    if (rc) {
        snprintf(buf, cap, "open failed with %s: %s", raftwal_strerror(rc), raftwal_errmsg());
        return buf;
    }
    raftwal_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    raftwal_log_stats(log, &st);
    if (st.torn_tails)
        x->recovered_torn++;
    if (lost_used_segment(x, img))
        x->cut_states++;
    wl_state got;
    rc = wl_read_state(log, &got);
    const char *bad = NULL;
    if (rc) {
        snprintf(buf, cap, "reading the recovered log failed with %s: %s", raftwal_strerror(rc),
                 raftwal_errmsg());
        bad = buf;
        goto out;
    }
    const char *invalid = wl_state_invalid(&got);
    if (invalid) {
        snprintf(buf, cap, "the recovered log is not a valid Raft log: %s", invalid);
        bad = buf;
        goto out;
    }
    size_t match = SIZE_MAX;
    for (size_t i = hi + 1; i-- > lo;)
        if (wl_state_equal(&got, &x->w.states[i])) {
            match = i;
            break;
        }
    if (match == SIZE_MAX) {
        char d[256];
        wl_state_describe(&got, d, sizeof d);
        snprintf(buf, cap, "the recovered log matches no acceptable state: %s", d);
        bad = buf;
        goto out;
    }
    x->by_candidate_offset[match == lo ? 0 : match == hi ? 2 : 1]++;
    /* Life goes on: one more durable append, then a reopen sees it all. */
    uint64_t pred = got.last >= got.first ? got.e[got.last - got.first].term
                    : got.last == got.snap_index ? got.snap_term : 0;
    uint64_t term = pred > got.hs.term ? pred : got.hs.term;
    uint8_t data[100];
    wl_payload(0xa11ce, got.last + 1, term, data, sizeof data);
    raftwal_entry e = {got.last + 1, term, 7, 0, data, sizeof data};
    rc = raftwal_log_append(log, &e, 1, NULL, 0);
    if (rc) {
        snprintf(buf, cap, "append after recovery failed with %s: %s", raftwal_strerror(rc),
                 raftwal_errmsg());
        bad = buf;
        goto out;
    }
    rc = raftwal_log_close(log);
    log = NULL;
    if (rc == 0)
        rc = raftwal_log_open(&log, x->state_dir, opts);
    if (rc) {
        snprintf(buf, cap, "reopen after the append failed with %s: %s", raftwal_strerror(rc),
                 raftwal_errmsg());
        bad = buf;
        goto out;
    }
    wl_state again;
    rc = wl_read_state(log, &again);
    wl_state want_state = got;
    size_t n = got.last >= got.first ? (size_t)(got.last - got.first + 1) : 0;
    want_state.e = malloc((n + 1) * sizeof *want_state.e);
    memcpy(want_state.e, got.e, n * sizeof *got.e);
    want_state.e[n] = (wl_entry){term, 7, sizeof data, data};
    want_state.last++;
    if (rc || !wl_state_equal(&again, &want_state)) {
        snprintf(buf, cap, "after recovery + one append + reopen the log is not the recovered log "
                 "plus that entry (%s)", rc ? raftwal_errmsg() : "content differs");
        bad = buf;
    }
    free(want_state.e);
    wl_state_free(&again);
out:
    wl_state_free(&got);
    raftwal_log_close(log);
    return bad;
}

/* ---------------------------------------------------------------------- */
/* Exploration                                                            */
/* ---------------------------------------------------------------------- */

static int is_mutation(int op)
{
    return op == FF_OPENAT || op == FF_PWRITE || op == FF_FDATASYNC || op == FF_FSYNC ||
           op == FF_FTRUNCATE || op == FF_RENAMEAT || op == FF_UNLINKAT || op == FF_MARK;
}

/* The directory model of random sample v (v >= 2): per RAFTWAL_CRASH_DIRS,
 * in order (journaling file systems), reordered (any per-name-ordered
 * subset: POSIX), or both, alternating. */
static int random_mode(explore *x, unsigned v)
{
    switch (x->dirs) {
    case DIRS_ORDERED:
        return CFS_RANDOM;
    case DIRS_REORDERED:
        return CFS_RANDOM_REORDER;
    default:
        return v % 2 ? CFS_RANDOM_REORDER : CFS_RANDOM;
    }
}

/* Writes img into the (emptied) state directory. */
static void materialize(explore *x, const cfs_image *img)
{
    fu_empty_dir(x->state_dir);
    FU_CHECK(cfs_image_write(img, x->state_dir) == 0, "writing a crash state");
}

/* Repair on a crash state never makes things worse: it succeeds, and the
 * repaired log passes every check of the state itself (nothing acknowledged
 * lost, it opens, appends work). */
static void check_repair(explore *x, size_t point, const ff_rec *r, const cfs_image *img,
                         size_t from, size_t hi)
{
    materialize(x, img);
    x->repaired_states++;
    char msg[1024];
    raftwal_check chk;
    memset(&chk, 0, sizeof chk);
    chk.size = sizeof chk;
    int rc = raftwal_repair_opts(x->state_dir, wl_options(&x->w), &chk);
    const char *bad = NULL;
    if (rc == RAFTWAL_ENOTFOUND && !has_segment(img))
        return; /* no log yet: nothing to repair */
    if (rc) {
        snprintf(msg, sizeof msg, "raftwal_repair on a crash state returned %s: %s",
                 raftwal_strerror(rc), raftwal_errmsg());
        bad = msg;
    } else { /* it may have trimmed a torn tail, as an open would */
        bad = check_state(x, img, from, hi, msg, sizeof msg, NULL);
    }
    if (bad) {
        char what[1100];
        snprintf(what, sizeof what, "after raftwal_repair: %s", bad);
        report_bug(x, point, r, from, hi, img, what);
    }
}

/* A crash in the middle of recovery: records a writable open (and close)
 * of the crash state img, which finishes what the crash left half done
 * (purged leftovers, segments after a torn one), and checks the states a
 * second power loss at each of its I/O operations could leave. Recovery
 * changes no logical state, so the same calls are acceptable. */
static void explore_recovery(explore *x, size_t point, const ff_rec *r, const cfs_image *img,
                             size_t from, size_t hi, uint64_t *rng)
{
    materialize(x, img);
    struct stat st;
    FU_CHECK(stat(x->state_dir, &st) == 0, "stat %s", x->state_dir);
    cfs *m = cfs_new(st.st_ino);
    for (size_t i = 0; i < img->n; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", x->state_dir, img->files[i].name);
        FU_CHECK(stat(path, &st) == 0, "stat %s", path);
        cfs_add_durable(m, img->files[i].name, st.st_ino, img->files[i].data, img->files[i].size);
    }
    ff_record_start();
    raftwal_log *log;
    int rc = raftwal_log_open(&log, x->state_dir, wl_options(&x->w));
    if (rc == 0)
        rc = raftwal_log_close(log);
    ff_record_stop();
    size_t n;
    ff_rec *recs = ff_records_take(&n);
    FU_CHECK(rc == 0, "reopening a crash state that passed its checks failed: %s", raftwal_errmsg());
    x->recoveries++;
    for (size_t k = 0; k < n; k++) {
        cfs_apply(m, &recs[k]);
        if (recs[k].op != FF_RENAMEAT && recs[k].op != FF_UNLINKAT && recs[k].op != FF_FSYNC &&
            recs[k].op != FF_FDATASYNC)
            continue; /* the crash points that matter: around clean-up */
        for (int v = 0; v < 3; v++) {
            int mode = v == 0 ? CFS_DROP_ALL : v == 1 ? CFS_KEEP_ALL : CFS_RANDOM_REORDER;
            cfs_image crash;
            cfs_build(m, mode, rng, &crash);
            uint64_t key = crash.hash ^ (from * 0x9e3779b97f4a7c15ull) ^ (hi * 0xc2b2ae3d27d4eb4full);
            if (seen_add(x, key)) {
                x->explored++;
                x->recovery_states++;
                materialize(x, &crash);
                char msg[1024];
                const char *bad = check_state(x, &crash, from, hi, msg, sizeof msg, NULL);
                if (bad) {
                    char what[1100];
                    snprintf(what, sizeof what, "power loss at I/O #%zu (%s %s) of the recovery "
                             "of the state below:\n", k, ff_op_name(recs[k].op), recs[k].name);
                    fprintf(stderr, "%s", what);
                    describe_image(img);
                    snprintf(what, sizeof what, "crash during recovery: %s", bad);
                    report_bug(x, point, r, from, hi, &crash, what);
                }
            }
            cfs_image_free(&crash);
        }
    }
    ff_records_free(recs, n);
    cfs_free(m);
}

/* lo: the last call acknowledged durable; done: the last call that
 * returned (durable or not); hi: the call in flight, else done. */
static void explore_point(explore *x, const cfs *m, size_t point, const ff_rec *r, size_t lo,
                          size_t done, size_t hi, uint64_t *rng, unsigned samples)
{
    int pending = cfs_pending_dirops(m) || cfs_pending_versions(m);
    unsigned variants = pending ? 2 + samples : 2;
    x->points++;
    for (unsigned v = 0; v < variants; v++) {
        int mode = v == 0 ? CFS_DROP_ALL : v == 1 ? CFS_KEEP_ALL : random_mode(x, v);
        /* A process crash keeps every write: no-sync acknowledgements too. */
        size_t from = mode == CFS_KEEP_ALL ? done : lo;
        cfs_image img;
        cfs_build(m, mode, rng, &img);
        x->generated++;
        uint64_t key = img.hash ^ (from * 0x9e3779b97f4a7c15ull) ^ (hi * 0xc2b2ae3d27d4eb4full);
        if (seen_add(x, key)) {
            x->explored++;
            if (img.torn)
                x->torn_states++;
            if (mode == CFS_KEEP_ALL)
                x->process_crashes++;
            if (mode == CFS_RANDOM_REORDER)
                x->reordered_states++;
            materialize(x, &img);
            char msg[1024];
            int leftovers = 0;
            int cut0 = (int)x->cut_states;
            const char *bad = check_state(x, &img, from, hi, msg, sizeof msg, &leftovers);
            if (bad)
                report_bug(x, point, r, from, hi, &img, bad);
            /* Repair on one in 2 of the states with purged leftovers and
             * one in 16 of the others; a second crash inside the recovery
             * of one in 4 of the states with purged leftovers and of one
             * in 32 of those whose open removes segments after a torn one
             * (the per-run cost stays within a third of the plain checks'). */
            if (!bad && x->explored % (leftovers ? 2 : 16) == 0)
                check_repair(x, point, r, &img, from, hi);
            if (!bad && ((leftovers && x->explored % 4 == 1) ||
                         ((int)x->cut_states != cut0 && x->explored % 32 == 1)))
                explore_recovery(x, point, r, &img, from, hi, rng);
        }
        cfs_image_free(&img);
    }
}

static void explore_run(explore *x, unsigned samples)
{
    struct stat st;
    FU_CHECK(stat(x->run_dir, &st) == 0, "stat %s", x->run_dir);
    cfs *m = cfs_new(st.st_ino);
    size_t n;
    ff_rec *recs = ff_records_take(&n); /* explore_recovery records too */
    size_t lo = 0, done = 0, inflight = 0;
    int have_inflight = 0;
    uint64_t rng = x->seed * 7919u;
    for (size_t k = 0; k < n; k++) {
        const ff_rec *r = &recs[k];
        if (r->op == FF_MARK) {
            size_t call = (size_t)r->mark_a;
            if (r->mark_b == WL_MARK_BEGIN) {
                inflight = call;
                have_inflight = 1;
            } else {
                done = call;
                have_inflight = 0;
                if (r->mark_b == WL_MARK_END_DURABLE)
                    lo = call;
            }
        } else {
            cfs_apply(m, r);
        }
        if (!is_mutation(r->op))
            continue;
        size_t hi = have_inflight ? inflight : done;
        explore_point(x, m, k, r, lo, done, hi, &rng, samples);
    }
    ff_records_free(recs, n);
    cfs_free(m);
}

int main(void)
{
    uint64_t seed0 = fu_env_u64("RAFTWAL_CRASH_SEED", 1);
    uint64_t seeds = fu_env_u64("RAFTWAL_CRASH_SEEDS", 4);
    unsigned long calls = (unsigned long)fu_env_u64("RAFTWAL_CRASH_CALLS", 300);
    unsigned samples = (unsigned)fu_env_u64("RAFTWAL_CRASH_SAMPLES", 8);
    const char *dirs_env = getenv("RAFTWAL_CRASH_DIRS");
    int dirs = DIRS_BOTH;
    if (dirs_env && strcmp(dirs_env, "ordered") == 0)
        dirs = DIRS_ORDERED;
    else if (dirs_env && strcmp(dirs_env, "reordered") == 0)
        dirs = DIRS_REORDERED;
    else
        FU_CHECK(!dirs_env || strcmp(dirs_env, "both") == 0,
                 "RAFTWAL_CRASH_DIRS: \"both\", \"ordered\" or \"reordered\"");
    rw_prepare_in_background = 0; /* one thread: a reproducible I/O stream */
    const size_t default_piece = rw_write_piece;
    ff_install();
    unsigned long total = 0, bugs = 0;
    double t0 = fu_now();
    for (uint64_t s = seed0; s < seed0 + seeds; s++) {
        explore x;
        memset(&x, 0, sizeof x);
        x.seed = s;
        x.dirs = dirs;
        x.base = fu_tmpdir("crash");
        /* Odd seeds write batches in pieces of 2 KiB, so crash
         * points fall between a batch's pieces (the workload's batches are
         * far smaller than the default piece). */
        rw_write_piece = s % 2 ? 2048 : default_piece;
        double t1 = fu_now();
        record_run(&x, calls);
        size_t nrecs, recycled = 0, lazy = 0, unlazy = 0;
        const ff_rec *recs = ff_records(&nrecs);
        /* Spares put back into use (renamed NNN.spare -> NNN.wal): crash
         * points inside and after segment recycling. Segments activated by
         * no-sync rotations (a header with the lazy flag, bit 1 of byte 56)
         * and syncs that cleared the flag (the header rewritten alone):
         * crash points with a predecessor that may be incomplete. */
        for (size_t k = 0; k < nrecs; k++) {
            const ff_rec *r = &recs[k];
            size_t nl = strlen(r->name);
            recycled += r->op == FF_RENAMEAT && strstr(r->name, ".spare") && strstr(r->name2, ".wal");
            if (r->op == FF_PWRITE && r->off == 0 && r->len >= 64 && nl > 4 &&
                !strcmp(r->name + nl - 4, ".wal")) {
                lazy += r->len > 64 && (r->data[56] & 2);
                unlazy += r->len == 64 && !(r->data[56] & 2);
            }
        }
        explore_run(&x, samples);
        printf("seed %" PRIu64 ": %zu API calls, %zu recorded I/O operations (%zu segments "
               "recycled, %lu by the preparer's step before a directory fsync, %zu lazy activations, %zu lazy flags cleared), %lu crash points, %lu states generated, %lu distinct states explored (%lu torn/reordered, %lu with directory operations reordered), "
               "%lu with purged leftovers, %lu repaired and checked, %lu recoveries crashed in (%lu states), "
               "%lu recovered with a torn tail (%lu cut after a torn predecessor), %lu process crashes (nothing acknowledged lost); "
               "recovered state = first acceptable %lu, in between %lu, "
               "in-flight call %lu; %lu bugs; %.1f s\n",
               s, x.w.ncalls, nrecs, recycled, worker_steps, lazy, unlazy, x.points, x.generated, x.explored, x.torn_states, x.reordered_states,
               x.leftover_states, x.repaired_states, x.recoveries, x.recovery_states,
               x.recovered_torn, x.cut_states, x.process_crashes, x.by_candidate_offset[0], x.by_candidate_offset[1],
               x.by_candidate_offset[2], x.bugs, fu_now() - t1);
        fflush(stdout);
        total += x.explored;
        bugs += x.bugs;
        wl_free(&x.w);
        free(x.seen);
    }
    printf("crash exploration: %lu distinct crash states explored over %" PRIu64 " seeds, %lu bugs, "
           "%.1f s\n", total, seeds, bugs, fu_now() - t0);
    ff_uninstall();
    return bugs ? 1 : 0;
}
