/* sync.c -- group commit and the durable watermark.
 *
 * Appenders write their batch under wmu, record the written end here, drop
 * wmu and call rw_sync_to(). The first one finds nobody syncing and becomes
 * the leader: it takes the current written end (which covers every batch
 * written so far, including other threads'), runs one fdatasync without any
 * lock, publishes the new durable position and wakes the others. Threads
 * whose batch is covered return; the rest elect the next leader. One
 * fdatasync thus serves every batch written while the previous one ran. */
#include <errno.h>
#include <inttypes.h>

#include "error.h"
#include "io.h"
#include "log.h"

static int pos_le(uint64_t seq_a, uint64_t off_a, uint64_t seq_b, uint64_t off_b)
{
    return seq_a < seq_b || (seq_a == seq_b && off_a <= off_b);
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
    pthread_cond_broadcast(&log->scond);
    pthread_mutex_unlock(&log->smu);
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

int rw_sync_to(raftwal_log *log, uint64_t seq, uint64_t off)
{
    int rc = 0;
    pthread_mutex_lock(&log->smu);
    for (;;) {
        if (pos_le(seq, off, log->d_seq, log->d_off))
            break;
        if (atomic_load(&log->failed)) {
            rc = rw_err(RAFTWAL_EIO, "%s: the handle failed after an earlier write or fsync error; "
                        "close and reopen the log", log->path);
            break;
        }
        if (log->syncing) {
            pthread_cond_wait(&log->scond, &log->smu);
            continue;
        }
        log->syncing = 1;
        rw_seg *seg = log->w_seg;
        uint64_t target = log->w_off, last = log->w_last;
        log->sync_floor = UINT64_MAX;
        rw_seg_ref(seg);
        pthread_mutex_unlock(&log->smu);
        rc = rw_log_fdatasync(log, seg->fd, seg->name);
        pthread_mutex_lock(&log->smu);
        log->syncing = 0;
        if (rc == 0 && !pos_le(seg->seq, target, log->d_seq, log->d_off)) {
            log->d_seq = seg->seq;
            log->d_off = target;
            log->durable_index = last < log->sync_floor ? last : log->sync_floor;
        }
        pthread_cond_broadcast(&log->scond);
        rw_seg_unref(seg);
        if (rc)
            break;
    }
    pthread_mutex_unlock(&log->smu);
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
