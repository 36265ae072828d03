/* test_full_disk.c -- issue 16: a full disk must not lock a node out of its
 * own log. On a real, size-limited tmpfs (mounted here; needs root, else
 * the test is skipped with a message): fill it with durable appends until
 * one returns RAFTWAL_ENOSPC; the handle stays usable; a writable open on
 * the full disk works; hard state, snapshot and purge fit; after the purge,
 * appends work again without a reopen; nothing acknowledged is lost.
 * Then again on encrypted logs (every record 16 bytes longer: the reserves
 * that keep room for a purge grow with it), but for the writable open of a
 * disk full to its last page, which an encrypted log refuses.
 *
 * The body runs in a child process so that the parent unmounts the file
 * system however the child ends (a failed CHECK exits, a crash kills). */
#include <errno.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

#define FS_SIZE "1m"
#define SEG (64u * 1024u)
#define ENTRY 1000

/* The second pass runs every body on an encrypted log: every record then
 * carries a tag, and the reserves must still let a purge through. */
static int use_key;
static const unsigned char test_key[32] = {9, 8, 7};

static void set_key(raftwal_options *o)
{
    if (use_key) {
        o->key = test_key;
        o->key_size = sizeof test_key;
    }
}

/* raftwal_verify, with the key in the encrypted pass. */
static int verify(const char *dir, raftwal_check *chk)
{
    raftwal_options o;
    raftwal_options_init(&o, RAFTWAL_OPTIONS_VERSION);
    set_key(&o);
    return raftwal_verify_opts(dir, &o, chk);
}

static raftwal_log *open_log(const char *dir)
{
    raftwal_options o;
    raftwal_log *log;
    raftwal_options_init(&o, RAFTWAL_OPTIONS_VERSION);
    o.segment_size = SEG;
    set_key(&o);
    CHECK_OK(raftwal_log_open(&log, dir, &o));
    return log;
}

static void payload(uint64_t index, uint8_t *buf)
{
    for (size_t i = 0; i < ENTRY; i++)
        buf[i] = (uint8_t)(index * 131 + i * 7);
}

static int append_one(raftwal_log *log, uint64_t index)
{
    uint8_t buf[ENTRY];
    raftwal_entry e = {index, 2, 0, 0, buf, ENTRY};
    payload(index, buf);
    return raftwal_log_append(log, &e, 1, NULL, 0);
}

static uint64_t last_index(raftwal_log *log)
{
    uint64_t v;
    CHECK_OK(raftwal_log_last_index(log, &v));
    return v;
}

static uint64_t rotations(raftwal_log *log)
{
    raftwal_stats st = {.size = sizeof st};
    CHECK_OK(raftwal_log_stats(log, &st));
    return st.rotations;
}

static void check_entries(raftwal_log *log, uint64_t first, uint64_t last)
{
    uint8_t want[ENTRY], got[ENTRY];
    for (uint64_t i = first; i <= last; i++) {
        raftwal_entry e;
        CHECK_OK(raftwal_log_get(log, i, &e, got, sizeof got));
        payload(i, want);
        CHECK_MSG(e.size == ENTRY && memcmp(got, want, ENTRY) == 0, "entry %" PRIu64 " differs", i);
    }
}

/* Appends from *next until the disk is full: ENOSPC, the handle usable
 * (nothing visible changed, and a retry gets ENOSPC again, not EIO). */
static void fill(raftwal_log *log, uint64_t *next)
{
    int rc;
    while ((rc = append_one(log, *next)) == RAFTWAL_OK)
        (*next)++;
    CHECK_MSG(rc == RAFTWAL_ENOSPC, "append %" PRIu64 " returned %d: %s", *next, rc,
              raftwal_errmsg());
    CHECK_EQ_U64(last_index(log), *next - 1);
    CHECK_RC(append_one(log, *next), RAFTWAL_ENOSPC);
}

static void body(const char *dir)
{
    uint64_t next = 1;
    raftwal_hardstate hs = {3, 2, 0};
    raftwal_log *log = open_log(dir);
    fill(log, &next);
    CHECK_MSG(next > 3 * SEG / ENTRY, "the disk filled after only %" PRIu64 " entries", next - 1);
    hs.commit = next - 1;
    CHECK_OK(raftwal_log_set_hardstate(log, &hs, 0));
    check_entries(log, 1, next - 1);
    CHECK_OK(raftwal_log_close(log));

    /* The disk is still full: a writable open works. */
    log = open_log(dir);
    CHECK_EQ_U64(last_index(log), next - 1);
    check_entries(log, 1, next - 1);
    fill(log, &next);
    hs.term = 4;
    CHECK_OK(raftwal_log_set_hardstate(log, &hs, 0));
    uint64_t snap = next - 5;
    CHECK_OK(raftwal_log_save_snapshot(log, snap, 2, "snap", 4));
    CHECK_OK(raftwal_log_purge(log, snap)); /* the way out */
    uint64_t until = rotations(log) + 3;
    while (rotations(log) < until) {
        CHECK_OK(append_one(log, next));
        next++;
    }
    CHECK_OK(raftwal_log_close(log));

    log = open_log(dir);
    uint64_t first;
    raftwal_hardstate got;
    CHECK_OK(raftwal_log_first_index(log, &first));
    CHECK_EQ_U64(first, snap + 1);
    CHECK_EQ_U64(last_index(log), next - 1);
    check_entries(log, first, next - 1);
    CHECK_OK(raftwal_log_hardstate(log, &got));
    CHECK(got.term == 4 && got.vote == 2 && got.commit == hs.commit);
    CHECK_OK(raftwal_log_close(log));
    raftwal_check chk = {.size = sizeof chk};
    CHECK_OK(verify(dir, &chk));
}

/* Hard states until the disk refuses one (ENOSPC, the handle usable): they
 * may use the segment's reserve but never the purge's part of it, so the
 * purge still fits, in a reopened log too (its first batch starts an
 * EPOCH), and appends work again after it. */
static void body_hardstates_then_purge(const char *dir)
{
    uint64_t next = 1;
    raftwal_log *log = open_log(dir);
    fill(log, &next);
    CHECK_OK(raftwal_log_close(log));
    log = open_log(dir);
    fill(log, &next);
    raftwal_hardstate hs = {3, 2, next - 1};
    int rc = RAFTWAL_OK;
    int n = 0;
    for (; n < 1000 && rc == RAFTWAL_OK; n++) {
        hs.term++;
        rc = raftwal_log_set_hardstate(log, &hs, 0);
    }
    CHECK_MSG(rc == RAFTWAL_ENOSPC, "hard state %d returned %d: %s", n, rc, raftwal_errmsg());
    CHECK_OK(raftwal_log_purge(log, next - 5)); /* the way out */
    uint64_t until = rotations(log) + 2;
    while (rotations(log) < until) {
        CHECK_OK(append_one(log, next));
        next++;
    }
    hs.term++;
    CHECK_OK(raftwal_log_set_hardstate(log, &hs, 0));
    CHECK_OK(raftwal_log_close(log));
    log = open_log(dir);
    CHECK_EQ_U64(last_index(log), next - 1);
    check_entries(log, next - 5 + 1, next - 1);
    CHECK_OK(raftwal_log_close(log));
    printf("ok full disk: %d hard states, then ENOSPC; the purge still fit\n", n - 1);
}

/* A log opened RAFTWAL_OPEN_NOSYNC has sparse segment files: its tail's
 * unwritten pages are holes, and on a full tmpfs a read of a hole through
 * a shared mapping is SIGBUS (tmpfs cannot allocate the page). Open and
 * verify scan the tail to its end: they must read the holes as zeros
 * without faulting them in. */
static void body_nosync_reopen(const char *dir)
{
    raftwal_options o;
    raftwal_log *log;
    raftwal_options_init(&o, RAFTWAL_OPTIONS_VERSION);
    o.segment_size = SEG;
    o.flags |= RAFTWAL_OPEN_NOSYNC;
    set_key(&o);
    CHECK_OK(raftwal_log_open(&log, dir, &o));
    uint64_t next = 1;
    int rc;
    while ((rc = append_one(log, next)) == RAFTWAL_OK)
        next++;
    CHECK_MSG(rc == RAFTWAL_ENOSPC || rc == RAFTWAL_EIO, "append %" PRIu64 " returned %d: %s",
              next, rc, raftwal_errmsg());
    CHECK_MSG(next > 3 * SEG / ENTRY, "the disk filled after only %" PRIu64 " entries", next - 1);
    (void)raftwal_log_close(log); /* its final sync may find no room either */
    raftwal_check chk = {.size = sizeof chk};
    CHECK_OK(verify(dir, &chk));
    CHECK_OK(raftwal_log_open(&log, dir, &o));
    uint64_t last = last_index(log);
    CHECK_MSG(last > 3 * SEG / ENTRY, "reopened with only %" PRIu64 " entries", last);
    check_entries(log, 1, last);
    CHECK_OK(raftwal_log_close(log));
    printf("ok full disk, no-sync log: verify and reopen read its sparse tail (%" PRIu64
           " entries)\n", last);
}

static int run_child(void (*fn)(const char *), const char *dir)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        fn(dir);
        fflush(stdout);
        _exit(0);
    }
    int status = 1;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        status = 1;
    if (WIFSIGNALED(status))
        fprintf(stderr, "the test died of signal %d\n", WTERMSIG(status));
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int main(void)
{
    char mnt[] = "/tmp/raftwal-fulldisk-XXXXXX";
    if (!mkdtemp(mnt)) {
        perror("mkdtemp");
        return 1;
    }
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=" FS_SIZE) != 0) {
        printf("SKIP: cannot mount a %s tmpfs at %s (%s): this test needs root\n", FS_SIZE, mnt,
               strerror(errno));
        rmdir(mnt);
        return 77;
    }
    char dir[sizeof mnt + 8];
    snprintf(dir, sizeof dir, "%s/log", mnt);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        body(dir);
        printf("ok full disk: fill, ENOSPC with the handle usable, open, purge, append again\n");
        fflush(stdout);
        _exit(0);
    }
    int status = 1;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        status = 1;
    if (WIFSIGNALED(status))
        fprintf(stderr, "the test died of signal %d\n", WTERMSIG(status));
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    char dir2[sizeof mnt + 8];
    snprintf(dir2, sizeof dir2, "%s/log2", mnt);
    if (rc == 0) {
        tu_rm_rf(dir); /* the disk is empty again */
        rc = run_child(body_hardstates_then_purge, dir2);
    }
    if (rc == 0) {
        tu_rm_rf(dir2);
        rc = run_child(body_nosync_reopen, dir);
    }
    if (rc == 0 && (raftwal_features() & RAFTWAL_FEATURE_ENCRYPTION)) {
        use_key = 1; /* the same on encrypted logs */
        tu_rm_rf(dir);
        rc = run_child(body, dir);
        if (rc == 0) {
            tu_rm_rf(dir);
            rc = run_child(body_hardstates_then_purge, dir2);
        }
        /* Not body_nosync_reopen: a writable open of an encrypted log
         * writes a new KEYS (its session's key, docs/format.md 7.4), which
         * a disk filled to its last page refuses (RAFTWAL_ENOSPC). */
        if (rc == 0)
            printf("ok the same on encrypted logs (but a writable open on a disk full to "
                   "its last page)\n");
    }
    if (umount(mnt) != 0)
        fprintf(stderr, "umount %s: %s\n", mnt, strerror(errno));
    rmdir(mnt);
    return rc;
}
