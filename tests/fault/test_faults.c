/* test_faults.c -- targeted fault-injection tests (issue 5, part 3).
 *
 * Each test injects one kind of failure through faultfs and checks the
 * promise the header makes about it:
 *   - a failed fdatasync (of data or of the directory) fails the handle:
 *     every later change returns an error and no later write reaches the
 *     file; reads keep working; a reopen recovers every acknowledged batch;
 *   - ENOSPC in the middle of a batch (a short write, then ENOSPC): a
 *     clear ENOSPC, a consistent readable log, and appends work again
 *     after a reopen once space is back (the handle itself stays failed:
 *     documented in the header);
 *   - ENOSPC while the next segment is made, or on a batch's first write
 *     (nothing written): ENOSPC and the handle usable; on the full disk a
 *     log opens, takes a hard state, a snapshot and a purge, and appends
 *     again into the purged files (issue 16);
 *   - ENOSPC in the background preparer is not an error: rotation prepares
 *     the segment itself; a failed directory fsync there fails the handle
 *     at once, and a failed handle stops the worker at once; ENOMEM in a
 *     rotation rolls it back (issue 17, 4-6);
 *   - EIO on a read gives RAFTWAL_EIO, never a crash or ECORRUPT; EINTR is
 *     retried;
 *   - a crash during rotation that keeps the SEAL but loses the FOOTER (both
 *     unsynced) recovers as a torn tail (found by fault_crash_explore);
 *   - failures while purging (unlink) or repairing leave a log that opens.
 * Run one test: fault_faults <name>. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fault_util.h"
#include "faultfs.h"
#include "log.h" /* rw_prepare_in_background */
#include "workload.h"

#define SEG (16u * 1024u)

static raftwal_options opts(void)
{
    raftwal_options o;
    raftwal_options_init(&o, RAFTWAL_OPTIONS_VERSION);
    o.segment_size = SEG;
    return o;
}

static raftwal_log *open_log(const char *dir)
{
    raftwal_options o = opts();
    raftwal_log *log;
    FU_RC(raftwal_log_open(&log, dir, &o), RAFTWAL_OK);
    return log;
}

static int append_one(raftwal_log *log, uint64_t index, size_t size)
{
    uint8_t buf[4096];
    FU_CHECK(size <= sizeof buf, "entry too big");
    wl_payload(1, index, 1, buf, size);
    raftwal_entry e = {index, 1, 0, 0, buf, size};
    return raftwal_log_append(log, &e, 1, NULL, 0);
}

static uint64_t last_index(raftwal_log *log)
{
    uint64_t v;
    FU_RC(raftwal_log_last_index(log, &v), RAFTWAL_OK);
    return v;
}

/* Entries 1..n are there with the payloads append_one wrote. */
static void check_entries(raftwal_log *log, uint64_t n, size_t size)
{
    uint8_t want[4096], got[4096];
    for (uint64_t i = 1; i <= n; i++) {
        raftwal_entry e;
        FU_RC(raftwal_log_get(log, i, &e, got, sizeof got), RAFTWAL_OK);
        wl_payload(1, i, 1, want, size);
        FU_CHECK(e.size == size && memcmp(got, want, size) == 0, "entry %" PRIu64 " differs", i);
    }
}

/* After a failure: every change is refused and no byte is written. */
static void check_failed_handle(raftwal_log *log)
{
    unsigned long writes = ff_calls(FF_PWRITE), syncs = ff_calls(FF_FDATASYNC);
    uint64_t last = last_index(log);
    raftwal_hardstate hs = {1, 1, 0};
    int rc = append_one(log, last + 1, 10);
    FU_CHECK(rc == RAFTWAL_EIO || rc == RAFTWAL_ENOSPC, "append after failure returned %d", rc);
    FU_RC(raftwal_log_set_hardstate(log, &hs, 0), RAFTWAL_EIO);
    FU_RC(raftwal_log_truncate(log, last), RAFTWAL_EIO);
    FU_RC(raftwal_log_purge(log, 1), RAFTWAL_EIO);
    FU_RC(raftwal_log_save_snapshot(log, 1, 1, NULL, 0), RAFTWAL_EIO);
    FU_RC(raftwal_log_set_metadata(log, "x", 1), RAFTWAL_EIO);
    /* sync is not a change: it may report success, but only if everything
     * the handle ever acknowledged or wrote is durable. */
    rc = raftwal_log_sync(log);
    FU_CHECK(rc == RAFTWAL_EIO || rc == RAFTWAL_OK, "sync after failure returned %d", rc);
    uint64_t durable;
    FU_RC(raftwal_log_durable_index(log, &durable), RAFTWAL_OK);
    FU_CHECK(rc == RAFTWAL_EIO || durable == last, "sync succeeded with durable index %" PRIu64
             " below the last index %" PRIu64, durable, last);
    int wrc = raftwal_log_wait_durable(log, last);
    FU_CHECK(wrc == rc, "wait_durable returned %d, sync %d", wrc, rc);
    FU_CHECK(ff_calls(FF_PWRITE) == writes, "a failed handle still wrote %lu times",
             ff_calls(FF_PWRITE) - writes);
    FU_CHECK(ff_calls(FF_FDATASYNC) == syncs, "a failed handle still synced (a retried fsync)");
    FU_CHECK(last_index(log) == last, "a refused change moved the last index");
}

/* Reopens with clean I/O: the acknowledged entries 1..acked are there,
 * at most `maybe` more (a batch that failed may or may not be on disk),
 * and appending works again across a reopen. */
static void reopen_and_check(const char *dir, uint64_t acked, uint64_t maybe, size_t size)
{
    ff_clear_rules();
    raftwal_log *log = open_log(dir);
    uint64_t last = last_index(log);
    FU_CHECK(last >= acked && last <= acked + maybe, "reopened log has last %" PRIu64
             ", expected %" PRIu64 "..%" PRIu64, last, acked, acked + maybe);
    check_entries(log, last, size);
    FU_RC(append_one(log, last + 1, size), RAFTWAL_OK);
    FU_RC(raftwal_log_close(log), RAFTWAL_OK);
    log = open_log(dir);
    FU_CHECK(last_index(log) == last + 1, "the append after recovery did not survive a reopen");
    check_entries(log, last + 1, size);
    FU_RC(raftwal_log_close(log), RAFTWAL_OK);
}

/* ---------------------------------------------------------------------- */

static void test_fsync_failure(void)
{
    const char *dir = fu_tmpdir("fsync");
    raftwal_log *log = open_log(dir);
    for (uint64_t i = 1; i <= 5; i++)
        FU_RC(append_one(log, i, 100), RAFTWAL_OK);
    ff_add_rule(FF_FDATASYNC, 1, EIO, 0, NULL, 0);
    FU_RC(append_one(log, 6, 100), RAFTWAL_EIO);
    FU_CHECK(strstr(raftwal_errmsg(), "fdatasync") != NULL, "message: %s", raftwal_errmsg());
    check_failed_handle(log);
    check_entries(log, 5, 100); /* reads keep working */
    FU_RC(raftwal_log_close(log), RAFTWAL_OK);
    reopen_and_check(dir, 5, 1, 100);
}

static void test_dir_fsync_failure_in_rotation(void)
{
    const char *dir = fu_tmpdir("dirfsync");
    raftwal_log *log = open_log(dir);
    ff_add_rule(FF_FSYNC, 1, EIO, 0, NULL, 0); /* the next directory fsync */
    uint64_t i = 1;
    int rc;
    while ((rc = append_one(log, i, 1000)) == 0)
        i++;
    FU_CHECK(rc == RAFTWAL_EIO, "append %" PRIu64 " returned %d", i, rc);
    FU_CHECK(i > 5, "the failure came before any rotation (append %" PRIu64 ")", i);
    check_failed_handle(log);
    FU_RC(raftwal_log_close(log), RAFTWAL_OK);
    reopen_and_check(dir, i - 1, 1, 1000);
}

static void test_enospc_mid_batch(void)
{
    const char *dir = fu_tmpdir("enospc");
    raftwal_log *log = open_log(dir);
    for (uint64_t i = 1; i <= 3; i++)
        FU_RC(append_one(log, i, 500), RAFTWAL_OK);
    /* The disk fills in the middle of the next batch: part of it is
     * written, then every write fails. */
    ff_add_rule(FF_PWRITE, 1, 0, FF_SHORT, NULL, 700);
    ff_add_rule(FF_PWRITE, 2, ENOSPC, FF_STICKY, NULL, 0);
    uint8_t buf[500];
    raftwal_entry e[3];
    for (int k = 0; k < 3; k++) {
        wl_payload(1, 4 + (uint64_t)k, 1, buf, sizeof buf);
        e[k] = (raftwal_entry){4 + (uint64_t)k, 1, 0, 0, buf, sizeof buf};
    }
    FU_RC(raftwal_log_append(log, e, 3, NULL, 0), RAFTWAL_ENOSPC);
    FU_CHECK(last_index(log) == 3, "a failed batch is visible");
    check_entries(log, 3, 500);
    ff_clear_rules(); /* space is back: the handle stays failed */
    check_failed_handle(log);
    FU_RC(raftwal_log_close(log), RAFTWAL_OK);
    /* On disk: 700 bytes of the batch, no COMMIT: a torn tail. */
    raftwal_log *again = open_log(dir);
    raftwal_stats st = {.size = sizeof st};
    FU_RC(raftwal_log_stats(again, &st), RAFTWAL_OK);
    FU_CHECK(st.torn_tails == 1 && st.torn_bytes > 0, "the partial batch was not cut as a torn tail");
    FU_RC(raftwal_log_close(again), RAFTWAL_OK);
    reopen_and_check(dir, 3, 0, 500);
}

static int has_tmp_file(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q '\\.tmp$'", dir);
    return system(cmd) == 0;
}

/* Makes the disk "full" for new files: every creation, extension or
 * write of a segment being made (a .wal.tmp) fails with ENOSPC, as on a
 * full file system; writes into files that exist (the active segment's
 * prepared space, a spare being reused) still work. */
static void fill_disk(void)
{
    ff_add_rule(FF_OPENAT, 1, ENOSPC, FF_STICKY, ".wal.tmp", 0);
    ff_add_rule(FF_FTRUNCATE, 1, ENOSPC, FF_STICKY, ".wal.tmp", 0);
    ff_add_rule(FF_PWRITE, 1, ENOSPC, FF_STICKY, ".wal.tmp", 0);
}

/* Appends 1000-byte entries from *next until one returns ENOSPC, which
 * must leave the handle usable: nothing visible changed, and the next
 * append (the disk still full) gets ENOSPC again, not EIO. */
static void append_until_full(raftwal_log *log, uint64_t *next)
{
    int rc;
    while ((rc = append_one(log, *next, 1000)) == 0)
        (*next)++;
    FU_CHECK(rc == RAFTWAL_ENOSPC, "append %" PRIu64 " returned %d (%s)", *next, rc,
             raftwal_errmsg());
    FU_CHECK(last_index(log) == *next - 1, "a refused append is visible");
    FU_RC(append_one(log, *next, 1000), RAFTWAL_ENOSPC);
}

/* Issue 16: a full disk must not lock a node out of its log. Appends that
 * need a new segment fail with ENOSPC and leave the handle usable; a
 * writable open needs no free space; hard state, snapshot and purge fit
 * in the active segment; after the purge the freed file is reused and
 * appends work again without a reopen. Nothing acknowledged is lost. */
static void test_enospc_in_preparation(void)
{
    const char *dir = fu_tmpdir("prepfull");
    raftwal_log *log = open_log(dir);
    uint64_t next = 1;
    while (fu_count_segments(dir) < 4)
        FU_RC(append_one(log, next++, 1000), RAFTWAL_OK);
    fill_disk();
    append_until_full(log, &next);
    FU_CHECK(!has_tmp_file(dir), "a half-prepared segment file was left behind");
    check_entries(log, next - 1, 1000);
    raftwal_hardstate hs = {3, 2, next - 1};
    FU_RC(raftwal_log_set_hardstate(log, &hs, 0), RAFTWAL_OK);
    FU_RC(raftwal_log_close(log), RAFTWAL_OK);

    /* A writable open on the full disk. */
    log = open_log(dir);
    FU_CHECK(last_index(log) == next - 1, "entries lost across the reopen");
    check_entries(log, next - 1, 1000);
    append_until_full(log, &next);
    hs.term = 4;
    FU_RC(raftwal_log_set_hardstate(log, &hs, 0), RAFTWAL_OK);
    uint64_t snap = next - 5;
    FU_RC(raftwal_log_save_snapshot(log, snap, 1, "snap", 4), RAFTWAL_OK);
    /* The way out: the purge frees (recycles) the oldest segments. */
    FU_RC(raftwal_log_purge(log, snap), RAFTWAL_OK);
    /* Two rotations, into the two purged files kept as spares (the model
     * disk never gets the unlinked third one's space back). */
    raftwal_stats st = {.size = sizeof st};
    FU_RC(raftwal_log_stats(log, &st), RAFTWAL_OK);
    uint64_t until = st.rotations + 2;
    while (st.rotations < until) {
        FU_RC(append_one(log, next++, 1000), RAFTWAL_OK);
        FU_RC(raftwal_log_stats(log, &st), RAFTWAL_OK);
    }
    FU_CHECK(st.segments_recycled >= 2, "the rotations did not reuse the purged files");
    FU_RC(raftwal_log_close(log), RAFTWAL_OK);
    FU_CHECK(!has_tmp_file(dir), "a half-prepared segment file was left behind");

    ff_clear_rules();
    log = open_log(dir);
    uint64_t first;
    FU_RC(raftwal_log_first_index(log, &first), RAFTWAL_OK);
    FU_CHECK(first == snap + 1 && last_index(log) == next - 1, "first %" PRIu64 " last %" PRIu64
             ", expected %" PRIu64 " and %" PRIu64, first, last_index(log), snap + 1, next - 1);
    raftwal_hardstate got;
    FU_RC(raftwal_log_hardstate(log, &got), RAFTWAL_OK);
    FU_CHECK(got.term == 4 && got.vote == 2 && got.commit == hs.commit, "hard state lost");
    uint8_t want[1000], buf[1000];
    for (uint64_t k = first; k < next; k++) {
        raftwal_entry e;
        FU_RC(raftwal_log_get(log, k, &e, buf, sizeof buf), RAFTWAL_OK);
        wl_payload(1, k, 1, want, sizeof want);
        FU_CHECK(e.size == sizeof want && memcmp(buf, want, sizeof want) == 0, "entry %" PRIu64
                 " differs", k);
    }
    FU_RC(raftwal_log_close(log), RAFTWAL_OK);
    raftwal_check chk = {.size = sizeof chk};
    FU_RC(raftwal_verify(dir, &chk), RAFTWAL_OK);
}

/* A write that the full disk refused before any byte of the batch
 * landed changes nothing: ENOSPC, the handle usable. */
static void test_enospc_nothing_written(void)
{
    const char *dir = fu_tmpdir("enospc0");
    raftwal_log *log = open_log(dir);
    for (uint64_t i = 1; i <= 3; i++)
        FU_RC(append_one(log, i, 500), RAFTWAL_OK);
    ff_add_rule(FF_PWRITE, 1, ENOSPC, 0, NULL, 0);
    FU_RC(append_one(log, 4, 500), RAFTWAL_ENOSPC);
    FU_CHECK(last_index(log) == 3, "a refused batch is visible");
    FU_RC(append_one(log, 4, 500), RAFTWAL_OK);
    FU_RC(raftwal_log_close(log), RAFTWAL_OK);
    reopen_and_check(dir, 4, 0, 500);
}

static void test_enospc_in_background_preparation(void)
{
    const char *dir = fu_tmpdir("bgprep");
    rw_prepare_in_background = 1;
    /* openat #1 of a .wal.tmp is the first segment (created by the open
     * itself); #2 is the background worker preparing the next one, asked
     * for once the active segment is half full. */
    unsigned long base = ff_injected();
    ff_add_rule(FF_OPENAT, 2, ENOSPC, 0, ".wal.tmp", 0);
    raftwal_log *log = open_log(dir);
    raftwal_segment_info info = {.size = sizeof info};
    uint64_t i = 1;
    do {
        FU_RC(append_one(log, i++, 1000), RAFTWAL_OK);
        FU_RC(raftwal_log_segment_info(log, 0, &info), RAFTWAL_OK);
    } while (info.used_bytes <= info.file_bytes / 2);
    ff_wait_injected(base + 1); /* the worker was asked and has failed */
    for (; i <= 40; i++)
        FU_RC(append_one(log, i, 1000), RAFTWAL_OK);
    FU_RC(raftwal_log_close(log), RAFTWAL_OK);
    rw_prepare_in_background = 0;
    FU_CHECK(fu_count_segments(dir) >= 3, "the log did not rotate");
    reopen_and_check(dir, 40, 0, 1000);
}

/* Holds the background preparer at its first call on a new segment file
 * (the create of the .wal.tmp) until the test releases it. */
static pthread_mutex_t hold_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cond = PTHREAD_COND_INITIALIZER;
static int hold_state; /* 0 armed, 1 holding, 2 released */
/* The hold gave up after HOLD_MAX_S: whoever should have released it is
 * stuck waiting for the held thread (a deadlock breaker, not a way to
 * wait: a passing run never gets there). */
static int hold_timed_out;
#define HOLD_MAX_S 5
static pthread_t hold_appender; /* the test's thread, for sync counts */
static atomic_ulong appender_syncs;

static void hold_preparer(int op, const char *name)
{
    if ((op == FF_FDATASYNC || op == FF_FSYNC) && pthread_equal(pthread_self(), hold_appender))
        atomic_fetch_add(&appender_syncs, 1);
    if (op != FF_OPENAT || !strstr(name, ".wal.tmp"))
        return;
    pthread_mutex_lock(&hold_mu);
    if (hold_state == 0) {
        hold_state = 1;
        pthread_cond_broadcast(&hold_cond);
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += HOLD_MAX_S;
        while (hold_state != 2 && !hold_timed_out)
            if (pthread_cond_timedwait(&hold_cond, &hold_mu, &deadline) == ETIMEDOUT)
                hold_timed_out = 1;
    }
    pthread_mutex_unlock(&hold_mu);
}

static void hold_arm(void) /* no other thread in the hook yet */
{
    hold_state = 0;
    hold_timed_out = 0;
    hold_appender = pthread_self();
    atomic_store(&appender_syncs, 0);
    ff_set_hook(hold_preparer);
}

static void hold_wait_until(int state)
{
    pthread_mutex_lock(&hold_mu);
    while (hold_state < state)
        pthread_cond_wait(&hold_cond, &hold_mu);
    pthread_mutex_unlock(&hold_mu);
}

static void hold_release(void)
{
    pthread_mutex_lock(&hold_mu);
    hold_state = 2;
    pthread_cond_broadcast(&hold_cond);
    pthread_mutex_unlock(&hold_mu);
}

/* Appends 1000-byte entries from 1 until the active segment is more than
 * half full: the last append asked the background preparer for the next
 * segment (log.c, rw_log_maybe_prepare). Returns the next index. */
static uint64_t append_past_half(raftwal_log *log)
{
    raftwal_segment_info info = {.size = sizeof info};
    uint64_t i = 1;
    do {
        FU_RC(append_one(log, i++, 1000), RAFTWAL_OK);
        FU_RC(raftwal_log_segment_info(log, 0, &info), RAFTWAL_OK);
    } while (info.used_bytes <= info.file_bytes / 2);
    return i;
}

/* Issue 17, 4: the handle fails (an fdatasync) while the background
 * preparer is making the next segment file; from then on the worker must
 * write, sync, extend and rename nothing. */
static void test_failed_handle_stops_preparer(void)
{
    const char *dir = fu_tmpdir("failstop");
    rw_prepare_in_background = 1;
    raftwal_log *log = open_log(dir); /* its first segment: made on this thread */
    hold_arm();
    uint64_t i = append_past_half(log);
    hold_wait_until(1); /* the worker was asked and is held */
    ff_add_rule(FF_FDATASYNC, 1, EIO, 0, NULL, 0); /* the append's own: the worker is held */
    FU_RC(append_one(log, i, 1000), RAFTWAL_EIO);
    static const int ops[] = {FF_PWRITE, FF_FDATASYNC, FF_FSYNC, FF_RENAMEAT, FF_FTRUNCATE};
    unsigned long before[5];
    for (int k = 0; k < 5; k++)
        before[k] = ff_calls(ops[k]);
    hold_release();
    rw_prepare_wait_idle(log);
    for (int k = 0; k < 5; k++)
        FU_CHECK(ff_calls(ops[k]) == before[k], "the preparer of a failed handle made %lu %s "
                 "call(s) after the failure", ff_calls(ops[k]) - before[k], ff_op_name(ops[k]));
    ff_set_hook(NULL);
    check_failed_handle(log);
    FU_RC(raftwal_log_close(log), RAFTWAL_OK);
    rw_prepare_in_background = 0;
    reopen_and_check(dir, i - 1, 1, 1000);
}

/* Issue 17, 7: a no-sync rotation waits for no disk. The worker is held
 * while it makes the next segment's file; no-sync appends go on past the
 * end of the segment without syncing anything on the appending thread and
 * without waiting for the worker (the segment grows until the file is
 * ready), then rotate into the worker's file. */
static void test_nosync_rotation_waits_for_no_disk(void)
{
    const char *dir = fu_tmpdir("nosyncrot");
    rw_prepare_in_background = 1;
    raftwal_log *log = open_log(dir);
    hold_arm();
    raftwal_segment_info info = {.size = sizeof info};
    raftwal_stats st = {.size = sizeof st};
    uint64_t i = 1;
    uint8_t buf[1000];
    do { /* past 1.25 segments, the worker held (asked at 1/8 of one) */
        wl_payload(1, i, 1, buf, sizeof buf);
        raftwal_entry e = {i, 1, 0, 0, buf, sizeof buf};
        FU_RC(raftwal_log_append(log, &e, 1, NULL, RAFTWAL_NOSYNC), RAFTWAL_OK);
        i++;
        FU_RC(raftwal_log_segment_info(log, 0, &info), RAFTWAL_OK);
        FU_RC(raftwal_log_stats(log, &st), RAFTWAL_OK);
    } while (info.used_bytes <= SEG + SEG / 4 && st.rotations == 0);
    pthread_mutex_lock(&hold_mu);
    int waited = hold_timed_out;
    pthread_mutex_unlock(&hold_mu);
    FU_CHECK(!waited && st.rotations == 0, "a no-sync append waited for the held "
             "preparer and rotated without it");
    hold_wait_until(1);
    hold_release();
    rw_prepare_wait_idle(log);
    do {
        wl_payload(1, i, 1, buf, sizeof buf);
        raftwal_entry e = {i, 1, 0, 0, buf, sizeof buf};
        FU_RC(raftwal_log_append(log, &e, 1, NULL, RAFTWAL_NOSYNC), RAFTWAL_OK);
        i++;
        FU_RC(raftwal_log_stats(log, &st), RAFTWAL_OK);
    } while (st.rotations == 0);
    FU_CHECK(atomic_load(&appender_syncs) == 0, "the appending thread synced %lu times",
             (unsigned long)atomic_load(&appender_syncs));
    ff_set_hook(NULL);
    FU_RC(raftwal_log_close(log), RAFTWAL_OK);
    rw_prepare_in_background = 0;
    reopen_and_check(dir, i - 1, 0, 1000);
}

/* Issue 17, 6: a failed directory fsync in the background preparer fails
 * the handle when it happens, and the next change reports it by name (not
 * later, as "File exists" from the next rotation). */
static void test_dir_fsync_failure_in_preparer(void)
{
    const char *dir = fu_tmpdir("bgdirfsync");
    rw_prepare_in_background = 1;
    raftwal_log *log = open_log(dir);
    unsigned long base = ff_injected();
    ff_add_rule(FF_FSYNC, 1, EIO, 0, NULL, 0); /* the worker's, once it is asked */
    /* As append_past_half, but the append that asks the worker may itself
     * see the handle fail (its own fdatasync runs after the request). */
    raftwal_segment_info info = {.size = sizeof info};
    uint64_t i = 1;
    int rc;
    do {
        if ((rc = append_one(log, i, 1000)) != 0)
            break;
        i++;
        FU_RC(raftwal_log_segment_info(log, 0, &info), RAFTWAL_OK);
    } while (info.used_bytes <= info.file_bytes / 2);
    if (rc == 0) {
        ff_wait_injected(base + 1); /* the worker's directory fsync failed */
        rw_prepare_wait_idle(log);  /* and the worker has dealt with it */
        rc = append_one(log, i, 1000);
    }
    FU_CHECK(rc == RAFTWAL_EIO, "append %" PRIu64 " after the preparer's failed directory fsync "
             "returned %d", i, rc);
    FU_CHECK(strstr(raftwal_errmsg(), "fsync of the log directory") != NULL, "message: %s",
             raftwal_errmsg());
    check_failed_handle(log);
    FU_RC(raftwal_log_close(log), RAFTWAL_OK);
    rw_prepare_in_background = 0;
    reopen_and_check(dir, i - 1, 1, 1000);
}

/* Issue 17, 5: no memory for the next segment's checkpoint during a
 * rotation. The rotation rolls back (nothing was written yet: the
 * checkpoint is made before the old segment is sealed), the handle stays
 * usable, and the log goes on rotating; a reopen finds everything. */
static void test_enomem_in_rotation(void)
{
    const char *dir = fu_tmpdir("rotenomem");
    raftwal_log *log = open_log(dir);
    rw_test_fail_checkpoint_alloc = 1; /* the next rotation's */
    uint64_t i = 1;
    int rc;
    while ((rc = append_one(log, i, 1000)) == 0)
        i++;
    FU_CHECK(rc == RAFTWAL_ENOMEM, "append %" PRIu64 " returned %d (%s)", i, rc, raftwal_errmsg());
    FU_CHECK(rw_test_fail_checkpoint_alloc == 0 && fu_count_segments(dir) == 2,
             "not the rotation failed");
    FU_CHECK(last_index(log) == i - 1, "the refused append is visible");
    uint64_t until = i + 40; /* the same rotation again, then more */
    for (; i < until; i++)
        FU_RC(append_one(log, i, 1000), RAFTWAL_OK);
    check_entries(log, i - 1, 1000);
    FU_RC(raftwal_log_close(log), RAFTWAL_OK);
    raftwal_check chk = {.size = sizeof chk};
    FU_RC(raftwal_verify(dir, &chk), RAFTWAL_OK);
    reopen_and_check(dir, i - 1, 0, 1000);
}

static void make_sealed_log(const char *dir, uint64_t n)
{
    raftwal_log *log = open_log(dir);
    for (uint64_t i = 1; i <= n; i++)
        FU_RC(append_one(log, i, 1000), RAFTWAL_OK);
    FU_RC(raftwal_log_close(log), RAFTWAL_OK);
    FU_CHECK(fu_count_segments(dir) >= 3, "expected several segments");
}

static void test_eio_on_read(void)
{
    const char *dir = fu_tmpdir("readeio");
    make_sealed_log(dir, 40);
    /* The header read during open fails: a clean EIO, not ECORRUPT. */
    ff_add_rule(FF_PREAD, 1, EIO, 0, NULL, 0);
    raftwal_options o = opts();
    raftwal_log *log;
    FU_RC(raftwal_log_open(&log, dir, &o), RAFTWAL_EIO);
    FU_CHECK(log == NULL, "a failed open returned a handle");
    ff_clear_rules();
    log = open_log(dir);
    /* Mapping an old segment for a read fails. */
    ff_add_rule(FF_MMAP, 1, EIO, 0, NULL, 0);
    raftwal_entry e;
    uint8_t buf[4096];
    FU_RC(raftwal_log_get(log, 1, &e, buf, sizeof buf), RAFTWAL_EIO);
    ff_add_rule(FF_OPENAT, 1, EIO, 0, NULL, 0);
    raftwal_iter *it;
    FU_RC(raftwal_iter_open(&it, log, 1, 3, RAFTWAL_NO_LIMIT), RAFTWAL_OK);
    FU_RC(raftwal_iter_next(it, &e), RAFTWAL_EIO);
    raftwal_iter_close(it);
    ff_clear_rules();
    check_entries(log, 40, 1000); /* the error was not sticky */
    /* EINTR is retried, for reads and writes. */
    ff_add_rule(FF_PWRITE, 1, EINTR, 0, NULL, 0);
    FU_RC(append_one(log, 41, 1000), RAFTWAL_OK);
    FU_RC(raftwal_log_close(log), RAFTWAL_OK);
    ff_add_rule(FF_PREAD, 1, EINTR, 0, NULL, 0);
    log = open_log(dir);
    check_entries(log, 41, 1000);
    FU_RC(raftwal_log_close(log), RAFTWAL_OK);
}

/* Zeroes bytes [from, to) of a file. */
static void zero_file_range(const char *path, uint64_t from, uint64_t to)
{
    size_t len;
    uint8_t *p = fu_read_file(path, &len);
    FU_CHECK(to <= len, "range past the end");
    memset(p + from, 0, (size_t)(to - from));
    fu_write_file(path, p, len);
    free(p);
}

static void fail_activation_after_dir_fsync(int op, const char *name)
{
    (void)name;
    if (op == FF_FSYNC) {
        ff_set_hook(NULL);
        ff_add_rule(FF_PWRITE, 3, EIO, 0, NULL, 0);
    }
}

/* A power loss during rotation: FOOTER and SEAL were written but not
 * synced, and only the SEAL (at the end of the file) reached the disk.
 * Found by fault_crash_explore (seed 1). */
static void test_torn_rotation_seal_without_footer(void)
{
    const char *dir = fu_tmpdir("tornseal");
    raftwal_log *log = open_log(dir);
    for (uint64_t k = 1; k <= 3; k++)
        FU_RC(append_one(log, k, 1000), RAFTWAL_OK);
    /* Appends without sync until one rotates. The rotation makes the next
     * segment's file first (ending in a directory fsync), then writes the
     * old one's FOOTER and SEAL, then the new one's activation: that third
     * write fails, so the next segment is never activated. */
    ff_set_hook(fail_activation_after_dir_fsync);
    uint64_t i = 4;
    int rc;
    uint8_t buf[1000];
    for (;; i++) {
        wl_payload(1, i, 1, buf, sizeof buf);
        raftwal_entry e = {i, 1, 0, 0, buf, sizeof buf};
        if ((rc = raftwal_log_append(log, &e, 1, NULL, RAFTWAL_NOSYNC)) != 0)
            break;
    }
    FU_CHECK(rc == RAFTWAL_EIO, "rotation did not fail as injected: %d", rc);
    FU_RC(raftwal_log_close(log), RAFTWAL_OK);
    /* Power loss: the footer never reached the disk. */
    char seg[4200];
    FU_CHECK(fu_segment_path(dir, 0, seg, sizeof seg) == 0, "no segment");
    /* The old segment, sealed, and the next one's file, never activated. */
    FU_CHECK(fu_count_segments(dir) == 2, "the rotation went further than expected");
    struct stat sb;
    stat(seg, &sb);
    raftwal_log *ro;
    raftwal_options o = opts();
    o.flags = RAFTWAL_OPEN_READONLY;
    FU_RC(raftwal_log_open(&ro, dir, &o), RAFTWAL_OK);
    raftwal_segment_info info = {.size = sizeof info};
    FU_RC(raftwal_log_segment_info(ro, 0, &info), RAFTWAL_OK);
    FU_RC(raftwal_log_close(ro), RAFTWAL_OK);
    zero_file_range(seg, info.used_bytes, (uint64_t)sb.st_size - 64);
    raftwal_check chk = {.size = sizeof chk};
    FU_RC(raftwal_verify(dir, &chk), RAFTWAL_OK);
    reopen_and_check(dir, i - 1, 0, 1000);
}

static void test_unlink_failure_in_purge(void)
{
    const char *dir = fu_tmpdir("purge");
    make_sealed_log(dir, 40);
    size_t segs = fu_count_segments(dir);
    FU_CHECK(segs >= 3, "expected 3 segments or more, got %zu", segs);
    raftwal_log *log = open_log(dir);
    ff_add_rule(FF_UNLINKAT, 2, EIO, 0, ".wal", 0); /* the second segment to go */
    int rc = raftwal_log_purge(log, 30);
    FU_CHECK(rc == RAFTWAL_EIO, "purge returned %d", rc);
    ff_clear_rules();
    /* The handle goes on: a rotation now writes a checkpoint whose segment
     * table must still list the files the purge could not remove (a table
     * that dropped them made the next open refuse the log; found by
     * fault_sweep seed 13). */
    size_t before = fu_count_segments(dir);
    uint64_t next = last_index(log) + 1;
    while (fu_count_segments(dir) == before)
        FU_RC(append_one(log, next++, 1000), RAFTWAL_OK);
    FU_RC(raftwal_log_close(log), RAFTWAL_OK);
    uint64_t appended_last = next - 1;
    log = open_log(dir);
    uint64_t first;
    FU_RC(raftwal_log_first_index(log, &first), RAFTWAL_OK);
    FU_CHECK(first == 31, "the purge point was not durable before the unlink: first %" PRIu64, first);
    FU_CHECK(last_index(log) == appended_last, "entries were lost");
    /* The next purge removes what the failed one left: the oldest segment
     * left holds live entries. */
    FU_RC(raftwal_log_purge(log, 31), RAFTWAL_OK);
    raftwal_segment_info oldest = {.size = sizeof oldest};
    FU_RC(raftwal_log_segment_info(log, 0, &oldest), RAFTWAL_OK);
    FU_CHECK(oldest.last_index > 31, "a fully purged segment is left: last index %" PRIu64,
             oldest.last_index);
    FU_RC(raftwal_log_close(log), RAFTWAL_OK);
    raftwal_check chk = {.size = sizeof chk};
    FU_RC(raftwal_verify(dir, &chk), RAFTWAL_OK);
}

/* A purge whose unlinks stop after the first file (EIO, or a power loss
 * before the directory fsync) leaves as the oldest segment one whose
 * entries were all truncated away: its SEAL has no live entries and a
 * first index at the truncation point. Recovery took the log's last index
 * from the seal's purge point instead, found a gap to the next segment and
 * refused to open (found by fault_crash_explore, seed 3, 300 calls). */
static void test_unlink_failure_after_truncated_segment(void)
{
    const char *dir = fu_tmpdir("purgetrunc");
    raftwal_log *log = open_log(dir);
    uint64_t i = 1;
    while (fu_count_segments(dir) < 2) /* fill segment 1, start segment 2 */
        FU_RC(append_one(log, i++, 1000), RAFTWAL_OK);
    uint64_t seg2_first = i - 1;
    FU_RC(append_one(log, i++, 1000), RAFTWAL_OK);
    /* Truncate everything segment 2 holds and a little of segment 1. */
    uint64_t from = seg2_first - 3;
    FU_RC(raftwal_log_truncate(log, from), RAFTWAL_OK);
    /* A batch too big for what is left of segment 2: it rotates, so
     * segment 2 is sealed with no live entry. */
    uint8_t big[3][4000];
    raftwal_entry e[3];
    for (int k = 0; k < 3; k++) {
        wl_payload(1, from + (uint64_t)k, 1, big[k], sizeof big[k]);
        e[k] = (raftwal_entry){from + (uint64_t)k, 1, 0, 0, big[k], sizeof big[k]};
    }
    /* Fill segment 2 with hard states until the big batch no longer fits,
     * and past 3/4 (a segment less full than that would take the batch and
     * grow). */
    raftwal_segment_info info = {.size = sizeof info};
    raftwal_hardstate hs = {1, 1, 0};
    for (;;) {
        FU_RC(raftwal_log_segment_info(log, 1, &info), RAFTWAL_OK);
        if (info.used_bytes + 3 * 4032 + 200 > info.file_bytes &&
            info.used_bytes > info.file_bytes - info.file_bytes / 4 + 200)
            break;
        FU_RC(raftwal_log_set_hardstate(log, &hs, 0), RAFTWAL_OK);
    }
    FU_RC(raftwal_log_append(log, e, 3, NULL, 0), RAFTWAL_OK);
    FU_CHECK(fu_count_segments(dir) == 3, "expected 3 segments, found %zu", fu_count_segments(dir));
    /* Purge through the big batch: segments 1 and 2 go; only the first
     * removal succeeds. (Purged files are kept as spares by a rename when
     * there is room, else unlinked: the second rename fails, and so does
     * the unlink it falls back to.) */
    ff_add_rule(FF_RENAMEAT, 2, EIO, 0, ".wal", 0);
    ff_add_rule(FF_UNLINKAT, 1, EIO, 0, ".wal", 0);
    FU_RC(raftwal_log_purge(log, from + 2), RAFTWAL_EIO);
    FU_RC(raftwal_log_close(log), RAFTWAL_OK);
    ff_clear_rules();
    raftwal_check chk = {.size = sizeof chk};
    FU_RC(raftwal_verify(dir, &chk), RAFTWAL_OK);
    log = open_log(dir);
    uint64_t first;
    FU_RC(raftwal_log_first_index(log, &first), RAFTWAL_OK);
    FU_CHECK(first == from + 3 && last_index(log) == from + 2, "first %" PRIu64 " last %" PRIu64,
             first, last_index(log));
    FU_RC(append_one(log, from + 3, 1000), RAFTWAL_OK);
    FU_RC(raftwal_log_close(log), RAFTWAL_OK);
}

static void flip_byte(const char *path, uint64_t off)
{
    size_t len;
    uint8_t *p = fu_read_file(path, &len);
    p[off] ^= 0x40;
    fu_write_file(path, p, len);
    free(p);
}

static void test_failures_during_repair(void)
{
    static const struct {
        int op;
        int err;
        const char *name;
    } faults[] = {
        {FF_PWRITE, ENOSPC, NULL},  /* the backup copy */
        {FF_FDATASYNC, EIO, NULL},  /* the backup's sync */
        {FF_FTRUNCATE, EIO, NULL},  /* cutting the damaged segment */
        {FF_UNLINKAT, EIO, ".wal"}, /* removing a later segment */
        {FF_FSYNC, EIO, NULL},      /* the directory */
    };
    for (size_t f = 0; f < sizeof faults / sizeof faults[0]; f++) {
        const char *dir = fu_tmpdir("repair");
        make_sealed_log(dir, 40);
        char seg[4200];
        FU_CHECK(fu_segment_path(dir, 1, seg, sizeof seg) == 0, "no second segment");
        flip_byte(seg, 64 + 5000); /* an entry in the middle of the second segment */
        raftwal_log *log;
        raftwal_check chk = {.size = sizeof chk};
        FU_RC(raftwal_verify(dir, &chk), RAFTWAL_ECORRUPT);
        ff_add_rule(faults[f].op, 1, faults[f].err, FF_STICKY, faults[f].name, 0);
        memset(&chk, 0, sizeof chk);
        chk.size = sizeof chk;
        int rc = raftwal_repair(dir, &chk);
        FU_CHECK(rc != RAFTWAL_OK, "repair succeeded although %s failed", ff_op_name(faults[f].op));
        FU_CHECK(rc == RAFTWAL_EIO || rc == RAFTWAL_ENOSPC, "repair returned %d (%s)", rc,
                 raftwal_errmsg());
        ff_clear_rules();
        /* A second repair, with working I/O, finishes the job. */
        memset(&chk, 0, sizeof chk);
        chk.size = sizeof chk;
        FU_RC(raftwal_repair(dir, &chk), RAFTWAL_OK);
        log = open_log(dir);
        uint64_t last = last_index(log);
        FU_CHECK(last >= 1 && last < 40, "after repair: last %" PRIu64, last);
        check_entries(log, last, 1000); /* the salvaged prefix is intact */
        FU_RC(append_one(log, last + 1, 1000), RAFTWAL_OK);
        FU_RC(raftwal_log_close(log), RAFTWAL_OK);
        fu_rm_rf(dir);
    }
}

static const struct {
    const char *name;
    void (*fn)(void);
} tests[] = {
    {"fsync_failure", test_fsync_failure},
    {"dir_fsync_failure_in_rotation", test_dir_fsync_failure_in_rotation},
    {"enospc_mid_batch", test_enospc_mid_batch},
    {"enospc_in_preparation", test_enospc_in_preparation},
    {"enospc_nothing_written", test_enospc_nothing_written},
    {"enospc_in_background_preparation", test_enospc_in_background_preparation},
    {"failed_handle_stops_preparer", test_failed_handle_stops_preparer},
    {"dir_fsync_failure_in_preparer", test_dir_fsync_failure_in_preparer},
    {"enomem_in_rotation", test_enomem_in_rotation},
    {"nosync_rotation_waits_for_no_disk", test_nosync_rotation_waits_for_no_disk},
    {"eio_on_read", test_eio_on_read},
    {"torn_rotation_seal_without_footer", test_torn_rotation_seal_without_footer},
    {"unlink_failure_in_purge", test_unlink_failure_in_purge},
    {"unlink_failure_after_truncated_segment", test_unlink_failure_after_truncated_segment},
    {"failures_during_repair", test_failures_during_repair},
};

int main(int argc, char **argv)
{
    rw_prepare_in_background = 0;
    ff_install();
    int ran = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        if (argc > 1 && strcmp(argv[1], tests[i].name) != 0)
            continue;
        ff_reset();
        ff_set_skip_sync(1);
        unsigned long inj = ff_injected();
        tests[i].fn();
        printf("ok %s (%lu faults injected)\n", tests[i].name, ff_injected() - inj);
        fflush(stdout);
        ran++;
    }
    ff_uninstall();
    FU_CHECK(ran > 0, "no test named %s", argc > 1 ? argv[1] : "?");
    printf("%lu faults injected in total\n", ff_injected());
    return 0;
}
