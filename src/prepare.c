/* prepare.c -- the background worker that creates the next segment file
 * (a purged segment's file reused, or a new one zero-filled or sparse as
 * the writer asked; synced, renamed into place, directory synced) while the
 * current one fills (it is asked once the active segment is half full, or
 * 1/8 full for appends that do not sync: log.c, rw_log_maybe_prepare), so
 * rotation never pays for file creation or growth on the append path. For
 * appends that do not sync it then warms the sparse file: zeros written into
 * its page cache, never synced, until rotation takes it (see warm_from();
 * a no-sync log's first segment is warmed at creation, log_open.c).
 * Rotation falls back to preparing synchronously when the worker has
 * nothing ready (or ran out of space: then rotation reports ENOSPC, and
 * the handle stays usable). A failed directory fsync here fails the handle
 * at once, and a failed handle stops the worker: it checks prep_stop
 * (rw_log_fail sets it) before each write, sync and rename of the file it
 * makes, so none of them starts once the failure is seen. A call already
 * past that check when the handle fails (one write, fdatasync or rename)
 * completes; the worker then unlinks the half-made file (*.wal.tmp, or the
 * spare it was reusing), or leaves a file renamed into place for the next
 * open to adopt. None of this touches a file the log holds. Also keeps the
 * pool of spare files. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "format.h"
#include "io.h"
#include "log.h"

int rw_prepare_in_background = 1;
void (*rw_prepare_warm_hook)(raftwal_log *log);

/* Warming writes this much at a time: rotation waits for at most one chunk. */
#define WARM_CHUNK (64u << 10)

static int take_spare_locked(raftwal_log *log, char name[24])
{
    if (!log->nspares)
        return 0;
    rw_spare_name(name, log->spares[0]);
    log->nspares--;
    memmove(log->spares, log->spares + 1, log->nspares * sizeof *log->spares);
    return 1;
}

int rw_spare_take(raftwal_log *log, char name[24])
{
    pthread_mutex_lock(&log->pmu);
    int got = take_spare_locked(log, name);
    pthread_mutex_unlock(&log->pmu);
    return got;
}

int rw_spare_room(raftwal_log *log)
{
    pthread_mutex_lock(&log->pmu);
    int room = log->nspares < RW_MAX_SPARES;
    pthread_mutex_unlock(&log->pmu);
    return room;
}

void rw_spare_add(raftwal_log *log, uint64_t old_seq)
{
    pthread_mutex_lock(&log->pmu);
    if (log->nspares < RW_MAX_SPARES)
        log->spares[log->nspares++] = old_seq;
    pthread_mutex_unlock(&log->pmu);
}

/* Writes zeros over the sparse file's holes from `from` (its header's end,
 * or the active segment's end: rw_prepare_warm_active) to `size`, without a
 * sync, until done, cancelled (rotation takes the file) or stopped (close).
 * Appends that do not sync then overwrite cached pages whose blocks the
 * file system has already reserved, as the raw write loop does, instead of
 * allocating both on the append path (measured in bench/README.md, 3). The
 * zeros change nothing the file reads as, so a crash at any point leaves
 * the same log; a failed write only ends the warming early. A sync of the
 * file later flushes the zeros not yet overwritten: the kind is chosen only
 * for segments whose appends did not sync (log.c, next_file_kind), and a
 * first segment is warmed only for a log opened RAFTWAL_OPEN_NOSYNC. */
static void warm_from(raftwal_log *log, int fd, uint64_t from, uint64_t size)
{
    void *zeros = calloc(1, WARM_CHUNK);
    if (!zeros)
        return;
    for (uint64_t off = from; off < size; off += WARM_CHUNK - off % WARM_CHUNK) {
        if (rw_prepare_warm_hook)
            rw_prepare_warm_hook(log);
        if (atomic_load(&log->warm_cancel) || atomic_load(&log->prep_stop))
            break;
        uint64_t n = WARM_CHUNK - off % WARM_CHUNK;
        if (n > size - off)
            n = size - off;
        if (rw_pwrite_all(fd, zeros, (size_t)n, off) != 0)
            break;
    }
    free(zeros);
}

void rw_prepare_warm_active(raftwal_log *log, rw_seg *s)
{
    if (s->recycled) /* its blocks exist already, as the worker's rule */
        return;
    uint64_t end = s->file_size < RW_WARM_AT_CREATE_MAX ? s->file_size : RW_WARM_AT_CREATE_MAX;
    if (s->used < end)
        warm_from(log, s->fd, s->used, end);
}

static void *worker(void *arg)
{
    raftwal_log *log = arg;
    pthread_mutex_lock(&log->pmu);
    while (!log->prep_stop) {
        uint64_t seq = log->prep_want;
        if (!seq || seq <= log->prep_floor || (log->prepared && log->prepared->seq == seq)) {
            pthread_cond_wait(&log->pcond, &log->pmu);
            continue;
        }
        log->prep_busy = 1;
        log->prep_want = 0; /* one attempt per request: no retry loop on errors */
        enum rw_file_kind kind = (enum rw_file_kind)log->prep_kind;
        char spare[24];
        int have_spare = take_spare_locked(log, spare);
        pthread_mutex_unlock(&log->pmu);
        rw_seg *s = NULL;
        int rc = rw_seg_prepare(log->dirfd, seq, log->log_id, log->segment_size, log->mode,
                                &log->prep_stop, have_spare ? spare : NULL,
                                kind != RW_FILE_ZEROED, &s);
        if (rc && s) {
            /* Created, but the directory fsync failed: final, as any failed
             * fsync (the directory may have lost any name change since its
             * last fsync, a purge's included). The handle fails now, under
             * the directory fsync's own message, not at the next rotation;
             * before prep_busy clears, so that whoever waits for the worker
             * finds the handle failed. */
            rw_seg_unref(s);
            rw_log_fail(log, rc);
        }
        /* Else on error nothing was made (a full disk: rotation tries
         * again itself; or stopped because the handle failed). */
        pthread_mutex_lock(&log->pmu);
        log->prep_busy = 0;
        if (rc == 0) {
            atomic_fetch_add(&log->stats.dir_fsyncs, 1);
            if (s->recycled) /* not if the spare was too long to reuse */
                atomic_fetch_add(&log->stats.segments_recycled, 1);
            rw_seg_unref(log->prepared);
            log->prepared = s;
        }
        pthread_cond_broadcast(&log->pcond);
        if (rc == 0 && kind == RW_FILE_WARM && !s->recycled) {
            /* Ready for rotation already; s stays valid until rw_prepare_take
             * (which waits for prep_warming to clear) or the join in
             * rw_prepare_stop. */
            int fd = s->fd;
            uint64_t size = s->file_size;
            log->prep_warming = 1;
            atomic_store(&log->warm_cancel, 0);
            pthread_mutex_unlock(&log->pmu);
            warm_from(log, fd, RW_HEADER_SIZE, size);
            pthread_mutex_lock(&log->pmu);
            log->prep_warming = 0;
            pthread_cond_broadcast(&log->pcond);
        }
    }
    pthread_mutex_unlock(&log->pmu);
    return NULL;
}

void rw_prepare_start(raftwal_log *log)
{
    if (!rw_prepare_in_background || log->readonly)
        return;
    if (pthread_create(&log->prep_thread, NULL, worker, log) == 0)
        log->prep_started = 1;
}

void rw_prepare_request(raftwal_log *log, uint64_t seq, enum rw_file_kind kind)
{
    pthread_mutex_lock(&log->pmu);
    log->prep_want = seq;
    log->prep_kind = (int)kind;
    pthread_cond_broadcast(&log->pcond);
    pthread_mutex_unlock(&log->pmu);
}

int rw_prepare_in_progress(raftwal_log *log, uint64_t seq)
{
    pthread_mutex_lock(&log->pmu);
    int ready = log->prepared && log->prepared->seq == seq;
    int coming = log->prep_started && !atomic_load(&log->prep_stop) && seq > log->prep_floor &&
                 (log->prep_busy || log->prep_want == seq);
    pthread_mutex_unlock(&log->pmu);
    return !ready && coming;
}

rw_seg *rw_prepare_take(raftwal_log *log, uint64_t seq)
{
    rw_seg *s = NULL;
    pthread_mutex_lock(&log->pmu);
    while (log->prep_busy)
        pthread_cond_wait(&log->pcond, &log->pmu);
    if (log->prep_warming) {
        atomic_store(&log->warm_cancel, 1);
        while (log->prep_warming)
            pthread_cond_wait(&log->pcond, &log->pmu);
    }
    /* From now on `seq` is the caller's: a request for it that the worker
     * has not started yet must never be served (it would replace the file
     * the caller is about to write into). */
    if (seq > log->prep_floor)
        log->prep_floor = seq;
    if (log->prepared && log->prepared->seq == seq) {
        s = log->prepared;
        log->prepared = NULL;
    } else {
        /* The caller prepares it itself: the worker must not start the same
         * file (same temporary name) behind its back. */
        log->prep_want = 0;
    }
    pthread_mutex_unlock(&log->pmu);
    return s;
}

void rw_prepare_give_back(raftwal_log *log, rw_seg *s)
{
    pthread_mutex_lock(&log->pmu);
    /* The worker never prepares at or below prep_floor (s->seq was handed
     * out), so the slot is free unless a newer request filled it. */
    if (!log->prepared) {
        log->prepared = s;
        s = NULL;
    }
    pthread_mutex_unlock(&log->pmu);
    rw_seg_unref(s); /* its file stays: the next rotation's prepare reuses the name */
}

void rw_prepare_wait_idle(raftwal_log *log)
{
    pthread_mutex_lock(&log->pmu);
    while (log->prep_started && (log->prep_busy || log->prep_warming ||
                                 (!atomic_load(&log->prep_stop) && log->prep_want &&
                                  log->prep_want > log->prep_floor &&
                                  !(log->prepared && log->prepared->seq == log->prep_want))))
        pthread_cond_wait(&log->pcond, &log->pmu);
    pthread_mutex_unlock(&log->pmu);
}

void rw_prepare_stop(raftwal_log *log)
{
    if (log->prep_started) {
        pthread_mutex_lock(&log->pmu);
        atomic_store(&log->prep_stop, 1);
        pthread_cond_broadcast(&log->pcond);
        pthread_mutex_unlock(&log->pmu);
        pthread_join(log->prep_thread, NULL);
        log->prep_started = 0;
    }
    rw_seg_unref(log->prepared);
    log->prepared = NULL;
}
