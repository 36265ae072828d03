/* prepare.c -- the background worker that creates the next segment file
 * (a purged segment's file reused, or a new one zero-filled or sparse as
 * the writer asked; synced, renamed into place, directory synced) while the
 * current one fills (it is asked once the active segment is half full), so
 * rotation never pays for file creation or growth on the append path.
 * Rotation falls back to preparing synchronously when the worker has
 * nothing ready (or failed: then the error is reported there). Also keeps
 * the pool of spare files. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "io.h"
#include "log.h"

int rw_prepare_in_background = 1;

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
        int sparse = log->prep_sparse;
        char spare[24];
        int have_spare = take_spare_locked(log, spare);
        pthread_mutex_unlock(&log->pmu);
        rw_seg *s = NULL;
        int rc = rw_seg_prepare(log->dirfd, seq, log->log_id, log->segment_size, log->mode,
                                &log->prep_stop, have_spare ? spare : NULL, sparse, &s);
        pthread_mutex_lock(&log->pmu);
        log->prep_busy = 0;
        if (rc == 0) {
            atomic_fetch_add(&log->stats.dir_fsyncs, 1);
            if (have_spare)
                atomic_fetch_add(&log->stats.segments_recycled, 1);
            rw_seg_unref(log->prepared);
            log->prepared = s;
        } else {
            rw_seg_unref(s); /* created but its directory entry not synced: redo it later */
        }
        pthread_cond_broadcast(&log->pcond);
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

void rw_prepare_request(raftwal_log *log, uint64_t seq, int sparse)
{
    pthread_mutex_lock(&log->pmu);
    log->prep_want = seq;
    log->prep_sparse = sparse;
    pthread_cond_broadcast(&log->pcond);
    pthread_mutex_unlock(&log->pmu);
}

rw_seg *rw_prepare_take(raftwal_log *log, uint64_t seq)
{
    rw_seg *s = NULL;
    pthread_mutex_lock(&log->pmu);
    while (log->prep_busy)
        pthread_cond_wait(&log->pcond, &log->pmu);
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
