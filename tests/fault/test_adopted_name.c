/* test_adopted_name.c -- a prepared segment that an open adopts must have a
 * durable name before anything written into it is acknowledged (B2 review,
 * item 1).
 *
 * The background preparer creates N.wal.tmp, syncs it, renames it to N.wal
 * and then fsyncs the directory. A close that races it (or a process kill)
 * stops it between the rename and the directory fsync: N.wal is in place,
 * its name not durable. The next open adopts N.wal as the next segment;
 * rotation writes into it. Unless something fsyncs the directory first, a
 * power loss may drop the rename, and with it entries acknowledged durable.
 *
 * The whole run (first handle, close, reopen, durable appends into N.wal)
 * is recorded with faultfs and replayed into the crash model (crash_fs.h);
 * the state checked is the one every power loss may leave: each file as of
 * its last sync, the directory as of its last fsync (CFS_DROP_ALL). Every
 * acknowledged entry must be there. */
#include <inttypes.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "crash_fs.h"
#include "fault_util.h"
#include "faultfs.h"
#include "log.h"
#include "raftwal.h"

#define SEG (64u * 1024u)
#define ENTRY 1000

static pid_t main_tid;
static raftwal_log *g_log;
static atomic_int renaming;

static raftwal_log *open_log(const char *dir)
{
    raftwal_options o;
    raftwal_log *log;
    raftwal_options_init(&o, RAFTWAL_OPTIONS_VERSION);
    o.segment_size = SEG;
    FU_RC(raftwal_log_open(&log, dir, &o), RAFTWAL_OK);
    return log;
}

static void append_one(raftwal_log *log, uint64_t index)
{
    uint8_t buf[ENTRY];
    memset(buf, (int)(index & 0xff), sizeof buf);
    raftwal_entry e = {index, 2, 0, 0, buf, ENTRY};
    FU_RC(raftwal_log_append(log, &e, 1, NULL, 0), RAFTWAL_OK);
}

/* Holds the preparer's rename (of the next segment into place) until close
 * has told the preparer to stop: it then skips its directory fsync. */
static void hold_rename_until_close(int op, const char *name)
{
    (void)name;
    if (op == FF_RENAMEAT && (pid_t)syscall(SYS_gettid) != main_tid && !atomic_load(&renaming)) {
        atomic_store(&renaming, 1);
        while (!atomic_load(&g_log->prep_stop))
            sched_yield(); /* close sets it before it joins this thread */
    }
}

static uint64_t rotations(raftwal_log *log)
{
    raftwal_stats st = {.size = sizeof st};
    FU_RC(raftwal_log_stats(log, &st), RAFTWAL_OK);
    return st.rotations;
}

int main(void)
{
    const char *base = fu_tmpdir("adopted-name");
    char dir[512], state[512];
    snprintf(dir, sizeof dir, "%s/log", base);
    snprintf(state, sizeof state, "%s/state", base);
    FU_CHECK(mkdir(dir, 0755) == 0, "mkdir %s", dir);
    FU_CHECK(mkdir(state, 0755) == 0, "mkdir %s", state);
    struct stat st;
    FU_CHECK(stat(dir, &st) == 0, "stat %s", dir);
    main_tid = (pid_t)syscall(SYS_gettid);
    ff_reset();
    ff_install();
    ff_set_skip_sync(1); /* the model decides what is durable */
    ff_record_start();

    /* First life: appends until the preparer renames the next segment into
     * place; close then stops it before its directory fsync. */
    g_log = open_log(dir);
    ff_set_hook(hold_rename_until_close);
    uint64_t next = 1;
    while (!g_log->prep_requested) /* at half full: no rotation before the rename */
        append_one(g_log, next++);
    while (!atomic_load(&renaming))
        sched_yield();
    FU_RC(raftwal_log_close(g_log), RAFTWAL_OK);
    ff_set_hook(NULL);

    /* Second life: the adopted segment becomes the active one; a few
     * durable appends land in it. */
    raftwal_log *log = open_log(dir);
    uint64_t last;
    FU_RC(raftwal_log_last_index(log, &last), RAFTWAL_OK);
    FU_CHECK(last == next - 1, "reopened at %" PRIu64 ", expected %" PRIu64, last, next - 1);
    uint64_t rot0 = rotations(log);
    while (rotations(log) == rot0)
        append_one(log, next++);
    for (int i = 0; i < 5; i++)
        append_one(log, next++);
    uint64_t acked = next - 1;

    /* Power loss now (before close: its syncs must not help). */
    ff_record_stop();
    size_t n;
    ff_rec *recs = ff_records_take(&n);
    cfs *m = cfs_new(st.st_ino);
    for (size_t k = 0; k < n; k++)
        cfs_apply(m, &recs[k]);
    cfs_image img;
    uint64_t rng = 1;
    cfs_build(m, CFS_DROP_ALL, &rng, &img);
    FU_CHECK(cfs_image_write(&img, state) == 0, "writing the crash state");
    cfs_image_free(&img);
    cfs_free(m);
    ff_records_free(recs, n);
    FU_RC(raftwal_log_close(log), RAFTWAL_OK);
    ff_uninstall();

    raftwal_log *c = open_log(state);
    uint64_t got;
    FU_RC(raftwal_log_last_index(c, &got), RAFTWAL_OK);
    FU_RC(raftwal_log_close(c), RAFTWAL_OK);
    FU_CHECK(got >= acked,
             "after a power loss the log ends at %" PRIu64 ": entries %" PRIu64 "..%" PRIu64
             " acknowledged durable (written into the adopted segment) are lost",
             got, got + 1, acked);
    printf("ok: the adopted segment's name was durable; last index %" PRIu64 " >= %" PRIu64 "\n",
           got, acked);
    return 0;
}
