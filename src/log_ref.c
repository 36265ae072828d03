/* log_ref.c -- the handle's reference count: the last reference (the
 * handle's own, dropped by close, or an open iterator's) frees its memory.
 * Below the read path and open/close, which both drop references. */
#include <stdlib.h>

#include "log.h"

void rw_log_unref(raftwal_log *log)
{
    if (atomic_fetch_sub(&log->refs, 1) != 1)
        return;
    free(log->snap_meta);
    free(log->meta);
    free(log->buf);
    free(log->path);
    rw_codec_free(&log->codec); /* wipes the keys: iterators may decode until here */
    pthread_mutex_destroy(&log->wmu);
    pthread_rwlock_destroy(&log->rw);
    pthread_mutex_destroy(&log->smu);
    pthread_mutex_destroy(&log->pmu);
    pthread_cond_destroy(&log->pcond);
    free(log);
}
