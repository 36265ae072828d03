/* sync.c -- group commit, the durable watermark, and the handle's failed
 * state (a failed write or fsync ends every wait here).
 *
 * Appenders write their batch under wmu, record the written end here, drop
 * wmu and call rw_sync_to(). The first one finds nobody syncing and becomes
 * the leader: it takes the current written end (which covers every batch
 * written so far, including other threads'), runs one fdatasync without any
 * lock and publishes the new durable position. One fdatasync thus serves
 * every batch written before it started.
 *
 * The others sleep in a list, each on its own semaphore. After the sync the
 * leader unlinks exactly the waiters its fdatasync covered and, if some are
 * left and nobody syncs, the oldest of them, which leads the next sync; it
 * posts their semaphores after dropping smu, the new leader's first, so the
 * next fdatasync starts as soon as possible; a new leader may first let
 * the threads just released write their next batch (gather()). A covered
 * waiter returns without taking smu again. (A broadcast on one condition variable woke
 * every waiter, only for most of them to contend for smu and sleep again:
 * on 2 cores that cost more than the fdatasync they waited for.)
 *
 * Why each appender writes its own batch (under wmu) rather than a leader
 * writing every queued batch with one vectored write: appends name their
 * Raft indexes, so concurrent producers already serialize their appends
 * (RAFTWAL_NOSYNC under their own lock, then a wait here: see the header's
 * Threading notes), and a RAFTWAL_NOSYNC append must be in the OS when it
 * returns, to survive a crash of the process. What they can share is the
 * fdatasync, and that is what the leader does.
 *
 * Protocol: a waiter is linked in log->waiters under smu. The thread that
 * unlinks it sets its verdict and posts its semaphore exactly once; the
 * waiter does not return (its stack frame stays valid) before that post. */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>

#include "error.h"
#include "io.h"
#include "log.h"

/* A waiter's verdict, set by the thread that unlinks it. */
enum { W_DURABLE = 1, W_FAILED, W_LEAD };

struct rw_sync_waiter {
    rw_sync_waiter *next;
    uint64_t seq, off; /* waits until this position is durable */
    int verdict;
    sem_t sem;
};

static int pos_le(uint64_t seq_a, uint64_t off_a, uint64_t seq_b, uint64_t off_b)
{
    return seq_a < seq_b || (seq_a == seq_b && off_a <= off_b);
}

static int covered(const raftwal_log *log, uint64_t seq, uint64_t off)
{
    return pos_le(seq, off, log->d_seq, log->d_off);
}

/* Unlinks the waiters that are settled — covered by the durable position,
 * or, when the handle failed, all of them — and, if `need_leader` and some
 * are left, the oldest one to lead the next sync. Returns them chained
 * through next, the leader first, for post_waiters() after smu is dropped.
 * smu held. */
static rw_sync_waiter *take_waiters(raftwal_log *log, int need_leader)
{
    int failed = atomic_load(&log->failed);
    rw_sync_waiter *done = NULL, *lead = NULL, **pp = &log->waiters;
    while (*pp) {
        rw_sync_waiter *w = *pp;
        int is_covered = covered(log, w->seq, w->off);
        if (is_covered || failed || (need_leader && !lead)) {
            *pp = w->next;
            if (is_covered || failed) {
                /* a covered batch is durable even if the handle failed since */
                w->verdict = is_covered ? W_DURABLE : W_FAILED;
                w->next = done;
                done = w;
            } else {
                w->verdict = W_LEAD;
                lead = w;
            }
            continue;
        }
        pp = &w->next;
    }
    if (lead) {
        lead->next = done;
        done = lead;
    }
    for (rw_sync_waiter *w = done; w; w = w->next)
        atomic_fetch_sub(&log->nwaiters, 1);
    return done;
}

static void post_waiters(rw_sync_waiter *w)
{
    while (w) {
        rw_sync_waiter *next = w->next; /* w may be gone once posted */
        sem_post(&w->sem);
        w = next;
    }
}

/* Wakes every waiter the current durable position settles (smu held on
 * entry, dropped on return). */
static void wake_settled_and_unlock(raftwal_log *log)
{
    rw_sync_waiter *w = take_waiters(log, !log->syncing);
    pthread_mutex_unlock(&log->smu);
    post_waiters(w);
}

void rw_sync_written(raftwal_log *log, rw_seg *seg, uint64_t off, uint64_t last)
{
    pthread_mutex_lock(&log->smu);
    log->w_seg = seg;
    log->w_off = off;
    log->w_last = last;
    pthread_mutex_unlock(&log->smu);
}

/* Sets the written and durable positions (smu held). */
static void set_positions(raftwal_log *log, rw_seg *seg, uint64_t durable_off,
                          uint64_t durable_index, uint64_t written_off, uint64_t last)
{
    log->w_seg = seg;
    log->w_off = written_off;
    log->w_last = last;
    log->d_seq = seg->seq;
    log->d_off = durable_off;
    log->durable_index = durable_index;
}

void rw_sync_mark_durable(raftwal_log *log, rw_seg *seg, uint64_t off, uint64_t last)
{
    pthread_mutex_lock(&log->smu);
    set_positions(log, seg, off, last, off, last);
    wake_settled_and_unlock(log);
}

void rw_sync_recovered(raftwal_log *log, rw_seg *seg, uint64_t durable_off,
                       uint64_t durable_index, uint64_t written_off, uint64_t last)
{
    pthread_mutex_lock(&log->smu);
    set_positions(log, seg, durable_off, durable_index, written_off, last);
    pthread_mutex_unlock(&log->smu);
}

void rw_sync_truncated(raftwal_log *log, uint64_t from)
{
    pthread_mutex_lock(&log->smu);
    /* Until the truncating batch is published, the written end still names
     * the old last index: a sync starting in between must not take it (its
     * entries >= from are gone, and their replacements may not be synced). */
    if (log->w_last >= from)
        log->w_last = from - 1;
    if (log->durable_index >= from)
        log->durable_index = from - 1;
    if (log->sync_floor >= from)
        log->sync_floor = from - 1;
    pthread_mutex_unlock(&log->smu);
}

int rw_log_fail(raftwal_log *log, int code)
{
    /* First: the preparer checks prep_stop before each write, sync and
     * rename (prepare.c), so none starts after it sees this; one already
     * past its check may complete. */
    atomic_store(&log->prep_stop, 1);
    /* smu makes the first failer the only writer of fail_msg. */
    pthread_mutex_lock(&log->smu);
    if (!atomic_load(&log->failed))
        snprintf(log->fail_msg, sizeof log->fail_msg, "%s", raftwal_errmsg());
    atomic_store(&log->failed, 1);
    pthread_mutex_unlock(&log->smu);
    rw_sync_failed(log);
    return code;
}

void rw_sync_failed(raftwal_log *log)
{
    pthread_mutex_lock(&log->smu);
    wake_settled_and_unlock(log);
}

int rw_log_fdatasync(raftwal_log *log, int fd, const char *name)
{
    uint64_t t0 = rw_now_ns();
    int r = rw_io->fdatasync(fd);
    int err = errno;
    uint64_t dt = rw_now_ns() - t0;
    atomic_fetch_add(&log->stats.fsyncs, 1);
    atomic_fetch_add(&log->stats.fsync_ns_total, dt);
    uint_fast64_t max = atomic_load(&log->stats.fsync_ns_max);
    while (dt > max && !atomic_compare_exchange_weak(&log->stats.fsync_ns_max, &max, dt))
        ;
    if (r != 0) /* never retried: the kernel may have dropped the pages */
        return rw_log_fail(log, rw_err_sys(err, 0, "%s: fdatasync", name));
    return 0;
}

int rw_log_dirsync(raftwal_log *log)
{
    atomic_fetch_add(&log->stats.dir_fsyncs, 1);
    if (rw_io->fsync(log->dirfd) != 0)
        return rw_log_fail(log, rw_err_sys(errno, 0, "%s: fsync of the directory", log->path));
    return 0;
}

static int failed_error(raftwal_log *log)
{
    /* fail_msg is written once, before `failed` is set, and never again. */
    return rw_err(RAFTWAL_EIO, "%s: the handle failed after an earlier write or fsync error "
                  "(%s); close and reopen the log", log->path, log->fail_msg);
}

/* Gathering. With N threads committing in a loop, the ones a sync releases
 * write their next batch while the next sync already runs for the others,
 * so each fdatasync would cover about N/2 batches. A leader that finds
 * fewer threads waiting than were in rw_sync_to when the last sync ended
 * lets them write first: it yields the CPU (to them: on 2 cores they need
 * it) until they are all waiting, for at most half an fdatasync. A lone
 * committer never waits, and a gathering that timed out is not tried on
 * the next sync. syncing is set, so arrivals queue as waiters; smu held,
 * dropped while gathering. */
#define GATHER_MAX_NS 1000000u /* slow disks: never hold a sync back longer */

static void gather(raftwal_log *log)
{
    unsigned int want = log->sync_group;
    if (want <= 1 || atomic_load(&log->nwaiters) + 1 >= want)
        return;
    if (log->gather_missed) {
        log->gather_missed = 0;
        return;
    }
    uint64_t wait = log->sync_avg_ns / 2;
    if (wait > GATHER_MAX_NS)
        wait = GATHER_MAX_NS;
    uint64_t deadline = rw_now_ns() + wait;
    pthread_mutex_unlock(&log->smu);
    int complete;
    while (!(complete = atomic_load(&log->nwaiters) + 1 >= want) && !atomic_load(&log->failed) &&
           rw_now_ns() < deadline)
        sched_yield();
    pthread_mutex_lock(&log->smu);
    log->gather_missed = !complete;
}

int rw_sync_pending(raftwal_log *log, rw_seg *seg)
{
    pthread_mutex_lock(&log->smu);
    rw_seg **p = log->pending;
    size_t n = log->npending;
    log->pending = NULL;
    log->npending = log->pending_cap = 0;
    pthread_mutex_unlock(&log->smu);
    int rc = 0;
    /* Oldest first. Every segment before seg is durable or listed here (it
     * was listed before the next segment became the written one), so after
     * this loop seg's predecessors are durable and its lazy flag can go.
     * Segments listed after seg was taken are synced too: harmless. */
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = rw_log_fdatasync(log, p[i]->fd, p[i]->name);
    if (rc == 0 && seg->lazy && (rc = rw_seg_clear_lazy(seg)) != 0)
        rc = rw_log_fail(log, rc);
    for (size_t i = 0; i < n; i++) {
        /* Sealed and durable: nothing will write or sync it again (seg's
         * fd is the caller's to fdatasync next). */
        if (rc == 0 && p[i] != seg) {
            rw_io->close(p[i]->fd);
            p[i]->fd = -1;
        }
        rw_seg_unref(p[i]);
    }
    free(p);
    return rc;
}

/* Runs one fdatasync of everything written so far, as the leader (smu held,
 * dropped during the fdatasync). */
static int lead_sync(raftwal_log *log)
{
    log->syncing = 1;
    gather(log);
    rw_seg *seg = log->w_seg;
    uint64_t target = log->w_off, last = log->w_last;
    log->sync_floor = UINT64_MAX;
    rw_seg_ref(seg);
    pthread_mutex_unlock(&log->smu);
    /* The segments no-sync rotations left behind first (rw_sync_pending). */
    int rc = rw_sync_pending(log, seg);
    uint64_t t0 = rw_now_ns();
    if (rc == 0)
        rc = rw_log_fdatasync(log, seg->fd, seg->name);
    uint64_t dt = rw_now_ns() - t0;
    pthread_mutex_lock(&log->smu);
    log->syncing = 0;
    log->sync_avg_ns = log->sync_avg_ns ? log->sync_avg_ns - log->sync_avg_ns / 8 + dt / 8 : dt;
    log->sync_group = atomic_load(&log->nwaiters) + 1;
    if (rc == 0 && !covered(log, seg->seq, target)) {
        log->d_seq = seg->seq;
        log->d_off = target;
        log->durable_index = last < log->sync_floor ? last : log->sync_floor;
    }
    rw_seg_unref(seg);
    return rc;
}

int rw_sync_to(raftwal_log *log, uint64_t seq, uint64_t off)
{
    int rc = 0;
    pthread_mutex_lock(&log->smu);
    for (;;) {
        if (covered(log, seq, off))
            break;
        if (atomic_load(&log->failed)) {
            rc = failed_error(log);
            break;
        }
        if (!log->syncing) {
            rc = lead_sync(log);
            if (rc)
                break;
            continue;
        }
        /* A sync runs: wait for the thread that settles this one. */
        rw_sync_waiter me = {.seq = seq, .off = off};
        sem_init(&me.sem, 0, 0);
        rw_sync_waiter **pp = &log->waiters;
        while (*pp)
            pp = &(*pp)->next;
        *pp = &me;
        atomic_fetch_add(&log->nwaiters, 1);
        pthread_mutex_unlock(&log->smu);
        while (sem_wait(&me.sem) != 0)
            ; /* EINTR */
        sem_destroy(&me.sem);
        if (me.verdict == W_DURABLE)
            return 0;
        if (me.verdict == W_FAILED)
            return failed_error(log);
        pthread_mutex_lock(&log->smu); /* W_LEAD: look again */
    }
    /* Wake the waiters this thread's sync settled, and pass on the lead. */
    wake_settled_and_unlock(log);
    return rc;
}

int rw_sync_all(raftwal_log *log)
{
    pthread_mutex_lock(&log->smu);
    rw_seg *seg = log->w_seg;
    uint64_t seq = seg ? seg->seq : 0, off = log->w_off;
    pthread_mutex_unlock(&log->smu);
    return seg ? rw_sync_to(log, seq, off) : 0;
}
