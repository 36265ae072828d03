/* rotation_syncs.c -- a measurement, not a test (issue 17, 7): how often
 * does the appending thread itself wait for the disk during no-sync
 * rotations? Appends N no-sync entries of SIZE bytes one per call with
 * segments of SEG bytes and the background preparer on, with real syncs,
 * and counts the fdatasyncs and directory fsyncs made on the appending
 * thread (faultfs's call hook) and on the others (the worker).
 *
 *   fault_rotation_syncs [dir]   (default: a new directory under /var/tmp,
 *                                 a real disk where there is one; the
 *                                 numbers mean little on tmpfs)
 * Knobs: RAFTWAL_ROT_N (20000), RAFTWAL_ROT_SIZE (4096), RAFTWAL_ROT_SEG
 * (1 MiB). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_util.h"
#include "faultfs.h"
#include "log.h" /* rw_prepare_in_background */

static pthread_t appender;
static atomic_ulong mine[FF_NOPS], others[FF_NOPS];

static void count(int op, const char *name)
{
    (void)name;
    if (pthread_equal(pthread_self(), appender))
        atomic_fetch_add(&mine[op], 1);
    else
        atomic_fetch_add(&others[op], 1);
}

int main(int argc, char **argv)
{
    uint64_t n = fu_env_u64("RAFTWAL_ROT_N", 20000);
    size_t size = (size_t)fu_env_u64("RAFTWAL_ROT_SIZE", 4096);
    uint64_t seg = fu_env_u64("RAFTWAL_ROT_SEG", 1u << 20);
    char tmpl[] = "/var/tmp/raftwal-rotsync-XXXXXX";
    const char *dir = argc > 1 ? argv[1] : mkdtemp(tmpl);
    FU_CHECK(dir != NULL, "mkdtemp");
    rw_prepare_in_background = 1;
    appender = pthread_self();
    ff_install();
    ff_set_hook(count);
    raftwal_options o;
    raftwal_options_init(&o, RAFTWAL_OPTIONS_VERSION);
    o.segment_size = seg;
    raftwal_log *log;
    FU_RC(raftwal_log_open(&log, dir, &o), RAFTWAL_OK);
    unsigned long fds0 = mine[FF_FDATASYNC], fs0 = mine[FF_FSYNC]; /* the open's own */
    uint8_t *buf = calloc(1, size);
    FU_CHECK(buf != NULL, "calloc");
    double t0 = fu_now();
    for (uint64_t i = 1; i <= n; i++) {
        memset(buf, (int)i, size);
        raftwal_entry e = {i, 1, 0, 0, buf, size};
        FU_RC(raftwal_log_append(log, &e, 1, NULL, RAFTWAL_NOSYNC), RAFTWAL_OK);
    }
    double dt = fu_now() - t0;
    raftwal_stats st = {.size = sizeof st};
    FU_RC(raftwal_log_stats(log, &st), RAFTWAL_OK);
    unsigned long fds = mine[FF_FDATASYNC] - fds0, fs = mine[FF_FSYNC] - fs0;
    printf("%llu no-sync appends of %zu B, %llu B segments: %llu rotations in %.3f s; appending "
           "thread: %lu fdatasync, %lu directory fsync; other threads: %lu fdatasync, %lu "
           "directory fsync\n",
           (unsigned long long)n, size, (unsigned long long)seg,
           (unsigned long long)st.rotations, dt, fds, fs, (unsigned long)others[FF_FDATASYNC],
           (unsigned long)others[FF_FSYNC]);
    FU_RC(raftwal_log_close(log), RAFTWAL_OK);
    ff_set_hook(NULL);
    ff_uninstall();
    free(buf);
    if (argc <= 1)
        fu_rm_rf(dir);
    return 0;
}
