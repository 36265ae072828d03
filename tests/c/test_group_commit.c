/*
 * test_group_commit.c -- c_group_commit: many threads committing at once
 * (src/sync.c's leader and waiters).
 *
 * Threads use the documented pattern: take the next index and append it
 * with RAFTWAL_NOSYNC under a mutex of the test, then wait outside it with
 * raftwal_log_wait_durable() (now and then raftwal_log_sync(), or a durable
 * hard-state write instead). The file I/O table is wrapped so the test
 * knows, per file descriptor, the highest offset any completed fdatasync
 * covered: a wait that returns before its own bytes were covered by an
 * fdatasync that started after they were written fails the test. Small
 * segments make the appends cross many rotations.
 *
 * The second test makes the committing threads' 40th fdatasync fail: every thread must return
 * (success only if its bytes were synced before the failure, else
 * RAFTWAL_EIO) — a lost wake-up hangs it until ctest's timeout.
 */
#include "test_util.h"

#include <pthread.h>
#include <stdatomic.h>

#include "io.h"

#define THREADS 8
#define PER_THREAD 300
#define MAX_FD 4096
#define PAYLOAD 700

/* ---- the wrapped I/O table ------------------------------------------- */

static pthread_mutex_t io_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t written_hi[MAX_FD]; /* highest byte written, per fd */
static uint64_t synced_hi[MAX_FD];  /* highest byte a completed fdatasync covered */
static uint64_t fd_gen[MAX_FD];     /* bumped at close: the fd names another file */
static atomic_int fsync_calls;
static int fail_fsync_at;           /* 0: never */

/* The last write of this thread: where its bytes are. */
static _Thread_local struct last_write {
    int fd;
    uint64_t gen, end;
    int is_committer;
} my_write;

static ssize_t w_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    ssize_t r = rw_io_posix.pwrite(fd, buf, n, off);
    /* Committers' writes only: the background worker's (a header, or zeros
     * warming a prepared file) would raise written_hi past what any
     * committer wrote, and the next fdatasync would then seem to cover
     * writes made after it started. */
    if (r > 0 && my_write.is_committer && fd >= 0 && fd < MAX_FD) {
        uint64_t end = (uint64_t)off + (uint64_t)r;
        pthread_mutex_lock(&io_mu);
        if (end > written_hi[fd])
            written_hi[fd] = end;
        my_write.fd = fd;
        my_write.gen = fd_gen[fd];
        my_write.end = end;
        pthread_mutex_unlock(&io_mu);
    }
    return r;
}

static int w_fdatasync(int fd)
{
    pthread_mutex_lock(&io_mu);
    uint64_t covers = fd >= 0 && fd < MAX_FD ? written_hi[fd] : 0;
    uint64_t gen = fd >= 0 && fd < MAX_FD ? fd_gen[fd] : 0;
    pthread_mutex_unlock(&io_mu);
    /* Only the committing threads' fdatasyncs count: the background
     * preparer's failures are its own (the writer then prepares the file
     * itself), and which call is the Nth must not depend on it. */
    if (fail_fsync_at && my_write.is_committer &&
        atomic_fetch_add(&fsync_calls, 1) + 1 == fail_fsync_at) {
        errno = EIO;
        return -1;
    }
    int r = rw_io_posix.fdatasync(fd);
    if (r == 0 && fd >= 0 && fd < MAX_FD) {
        pthread_mutex_lock(&io_mu);
        if (fd_gen[fd] == gen && covers > synced_hi[fd])
            synced_hi[fd] = covers;
        pthread_mutex_unlock(&io_mu);
    }
    return r;
}

static int w_close(int fd)
{
    if (fd >= 0 && fd < MAX_FD) {
        pthread_mutex_lock(&io_mu);
        fd_gen[fd]++;
        written_hi[fd] = synced_hi[fd] = 0;
        pthread_mutex_unlock(&io_mu);
    }
    return rw_io_posix.close(fd);
}

static struct rw_io wrapped;

static void install_io(int fail_at)
{
    memset(written_hi, 0, sizeof written_hi);
    memset(synced_hi, 0, sizeof synced_hi);
    atomic_store(&fsync_calls, 0);
    fail_fsync_at = fail_at;
    wrapped = rw_io_posix;
    wrapped.pwrite = w_pwrite;
    wrapped.fdatasync = w_fdatasync;
    wrapped.close = w_close;
    rw_io_set(&wrapped);
}

/* 1 if the bytes of `w` were covered by a completed fdatasync; -1 if the
 * file was closed since (a rotation closes a segment only after syncing
 * it, and the bookkeeping of that fd number is gone). */
static int write_is_synced(const struct last_write *w)
{
    pthread_mutex_lock(&io_mu);
    int r = fd_gen[w->fd] != w->gen ? -1 : synced_hi[w->fd] >= w->end;
    pthread_mutex_unlock(&io_mu);
    return r;
}

/* ---- the committing threads ------------------------------------------ */

typedef struct shared {
    raftwal_log *log;
    pthread_mutex_t mu;
    uint64_t next;
    atomic_ulong checked, closed_since, eio, ok_after_fail;
    int expect_failure;
} shared;

static void *committer(void *arg)
{
    shared *sh = arg;
    unsigned char data[PAYLOAD];
    my_write.is_committer = 1;
    for (int i = 0; i < PER_THREAD; i++) {
        pthread_mutex_lock(&sh->mu);
        uint64_t index = sh->next;
        tu_payload_fill(data, PAYLOAD, index, 1);
        raftwal_entry e = {.index = index, .term = 1, .data = data, .size = PAYLOAD};
        int rc = raftwal_log_append(sh->log, &e, 1, NULL, RAFTWAL_NOSYNC);
        if (rc == 0)
            sh->next++;
        struct last_write w = my_write;
        pthread_mutex_unlock(&sh->mu);
        if (rc) {
            CHECK(sh->expect_failure && rc == RAFTWAL_EIO);
            atomic_fetch_add(&sh->eio, 1);
            break;
        }
        int how = (int)(index % 64);
        if (how == 7) {
            rc = raftwal_log_sync(sh->log);
        } else if (how == 13) {
            raftwal_hardstate hs = {.term = 1, .vote = 1, .commit = 0};
            rc = raftwal_log_set_hardstate(sh->log, &hs, 0);
        } else {
            rc = raftwal_log_wait_durable(sh->log, index);
        }
        if (rc) {
            CHECK(sh->expect_failure && rc == RAFTWAL_EIO);
            atomic_fetch_add(&sh->eio, 1);
            break;
        }
        /* Returned durable: the engine says so, and an fdatasync did. */
        uint64_t durable = 0;
        CHECK_OK(raftwal_log_durable_index(sh->log, &durable));
        if (!sh->expect_failure)
            CHECK(durable >= index);
        int synced = write_is_synced(&w);
        CHECK(synced != 0);
        if (synced < 0)
            atomic_fetch_add(&sh->closed_since, 1);
        atomic_fetch_add(&sh->checked, 1);
    }
    return NULL;
}

static void run_committers(shared *sh)
{
    pthread_t t[THREADS];
    for (int k = 0; k < THREADS; k++)
        CHECK(pthread_create(&t[k], NULL, committer, sh) == 0);
    for (int k = 0; k < THREADS; k++)
        CHECK(pthread_join(t[k], NULL) == 0);
}

static void test_every_wait_returns_synced(void)
{
    const char *dir = tu_tmpdir();
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    o.segment_size = RAFTWAL_MIN_SEGMENT_SIZE;
    install_io(0);
    shared sh = {.next = 1};
    pthread_mutex_init(&sh.mu, NULL);
    CHECK_OK(raftwal_log_open(&sh.log, dir, &o));
    run_committers(&sh);

    raftwal_stats s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    CHECK_OK(raftwal_log_stats(sh.log, &s));
    printf("   %lu waits checked (%lu in files rotated away since), %" PRIu64 " appends, %"
           PRIu64 " fsyncs, %" PRIu64 " rotations\n",
           (unsigned long)atomic_load(&sh.checked), (unsigned long)atomic_load(&sh.closed_since),
           s.appends, s.fsyncs, s.rotations);
    CHECK_EQ_U64(atomic_load(&sh.checked), (uint64_t)THREADS * PER_THREAD);
    CHECK(s.rotations > 0);
    CHECK_OK(raftwal_log_close(sh.log));
    rw_io_set(NULL);

    /* Everything is there after a reopen. */
    CHECK_OK(raftwal_log_open(&sh.log, dir, &o));
    uint64_t last = 0;
    CHECK_OK(raftwal_log_last_index(sh.log, &last));
    CHECK_EQ_U64(last, (uint64_t)THREADS * PER_THREAD);
    unsigned char buf[PAYLOAD], want[PAYLOAD];
    for (uint64_t i = 1; i <= last; i += 97) {
        raftwal_entry e;
        CHECK_OK(raftwal_log_get(sh.log, i, &e, buf, sizeof buf));
        tu_payload_fill(want, PAYLOAD, i, 1);
        CHECK(e.size == PAYLOAD && memcmp(e.data, want, PAYLOAD) == 0);
    }
    CHECK_OK(raftwal_log_close(sh.log));
    pthread_mutex_destroy(&sh.mu);
}

static void test_failed_fsync_wakes_everyone(void)
{
    const char *dir = tu_tmpdir();
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    o.segment_size = RAFTWAL_MIN_SEGMENT_SIZE;
    install_io(40);
    shared sh = {.next = 1, .expect_failure = 1};
    pthread_mutex_init(&sh.mu, NULL);
    CHECK_OK(raftwal_log_open(&sh.log, dir, &o));
    run_committers(&sh); /* returns only if every thread returned */
    printf("   %lu waits succeeded, %lu calls got RAFTWAL_EIO\n",
           (unsigned long)atomic_load(&sh.checked), (unsigned long)atomic_load(&sh.eio));
    CHECK(atomic_load(&sh.eio) >= THREADS); /* every thread stopped on the failure */
    raftwal_entry e = {.index = sh.next, .term = 1, .data = "x", .size = 1};
    CHECK_RC(raftwal_log_append(sh.log, &e, 1, NULL, 0), RAFTWAL_EIO);
    CHECK_OK(raftwal_log_close(sh.log));
    rw_io_set(NULL);

    /* The reopened log holds at least every entry a wait returned for. */
    CHECK_OK(raftwal_log_open(&sh.log, dir, &o));
    uint64_t last = 0;
    CHECK_OK(raftwal_log_last_index(sh.log, &last));
    CHECK(last >= atomic_load(&sh.checked));
    CHECK_OK(raftwal_log_close(sh.log));
    pthread_mutex_destroy(&sh.mu);
}

int main(int argc, char **argv)
{
    TU_RUN(argc, argv, test_every_wait_returns_synced);
    TU_RUN(argc, argv, test_failed_fsync_wakes_everyone);
    return 0;
}
