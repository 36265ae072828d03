/*
 * test_contract.c -- c_contract: small promises of include/raftwal.h.
 *   - the hard state's commit index may reach the last index or the
 *     snapshot's index, whichever is higher, and not one past it (append
 *     and set_hardstate, with and without a snapshot past the entries, and
 *     after an overwrite that lowers the last index);
 *   - raftwal_errmsg() is "" after every call that succeeded: after each
 *     public call that follows a failed one, and after calls that meet and
 *     handle an error on the way (an open that cuts a torn tail, a repair
 *     that cuts damage, segment_info on a segment it cannot probe), each
 *     run on a fresh thread whose message starts "".
 */
#include "model.h"
#include "test_util.h"

#include <pthread.h>

static raftwal_entry mk(uint64_t index, uint64_t term)
{
    raftwal_entry e = {index, term, 0, 0, "entry", 5};
    return e;
}

static void append_range(raftwal_log *log, uint64_t first, uint64_t last, uint64_t term)
{
    for (uint64_t i = first; i <= last; i++) {
        raftwal_entry e = mk(i, term);
        CHECK_OK(raftwal_log_append(log, &e, 1, NULL, RAFTWAL_NOSYNC));
    }
}

static void check_commit(raftwal_log *log, uint64_t want)
{
    raftwal_hardstate hs;
    CHECK_OK(raftwal_log_hardstate(log, &hs));
    CHECK_EQ_U64(hs.commit, want);
}

/* ---- commit bound --------------------------------------------------------- */

static void test_commit_bound_without_snapshot(void)
{
    raftwal_log *log = open_log(tu_tmpdir(), RAFTWAL_OPEN_CREATE, 0);
    raftwal_hardstate hs = {1, 1, 11};
    raftwal_entry e;

    append_range(log, 1, 10, 1);
    CHECK_RC(raftwal_log_set_hardstate(log, &hs, 0), RAFTWAL_EINVAL);
    CHECK(strstr(raftwal_errmsg(), "beyond the last index 10") != NULL);
    hs.commit = 10;
    CHECK_OK(raftwal_log_set_hardstate(log, &hs, 0));
    check_commit(log, 10);
    /* The bound is the last index after the batch. */
    e = mk(11, 1);
    hs.commit = 12;
    CHECK_RC(raftwal_log_append(log, &e, 1, &hs, 0), RAFTWAL_EINVAL);
    hs.commit = 11;
    CHECK_OK(raftwal_log_append(log, &e, 1, &hs, 0));
    check_commit(log, 11);
    CHECK_OK(raftwal_log_close(log));
}

/* An overwrite lowers the last index: the commit bound follows it. */
static void test_commit_bound_after_overwrite(void)
{
    raftwal_log *log = open_log(tu_tmpdir(), RAFTWAL_OPEN_CREATE, 0);
    raftwal_hardstate hs = {2, 1, 6};
    raftwal_entry e = mk(5, 2);

    append_range(log, 1, 10, 1);
    CHECK_RC(raftwal_log_append(log, &e, 1, &hs, 0), RAFTWAL_EINVAL);
    hs.commit = 5;
    CHECK_OK(raftwal_log_append(log, &e, 1, &hs, 0));
    check_commit(log, 5);
    CHECK_OK(raftwal_log_close(log));
}

/* A snapshot past the entries (saved, not yet purged to): commit may reach
 * its index -- a follower installing a leader's snapshot -- and no more. */
static void test_commit_bound_with_snapshot_past_entries(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, 0);
    raftwal_hardstate hs = {4, 1, 150};

    append_range(log, 1, 10, 1);
    CHECK_OK(raftwal_log_save_snapshot(log, 200, 4, "conf", 4));
    CHECK_OK(raftwal_log_set_hardstate(log, &hs, 0));
    check_commit(log, 150);
    hs.commit = 200;
    CHECK_OK(raftwal_log_set_hardstate(log, &hs, 0));
    check_commit(log, 200);
    hs.commit = 201;
    CHECK_RC(raftwal_log_set_hardstate(log, &hs, 0), RAFTWAL_EINVAL);
    CHECK(strstr(raftwal_errmsg(), "snapshot's index 200") != NULL);
    check_commit(log, 200);

    /* Installed: purge to the snapshot, the log is empty at 201. */
    CHECK_OK(raftwal_log_purge(log, 200));
    hs.commit = 201;
    CHECK_RC(raftwal_log_set_hardstate(log, &hs, 0), RAFTWAL_EINVAL);
    {
        raftwal_entry e = mk(201, 4);
        CHECK_OK(raftwal_log_append(log, &e, 1, &hs, 0));
    }
    check_commit(log, 201);
    /* The accepted states survive a reopen. */
    reopen_log(&log, dir, 0, 0);
    check_commit(log, 201);
    CHECK_OK(raftwal_log_close(log));
}

/* ---- errmsg after success ------------------------------------------------ */

#define CHECK_CLEAN(call)                                                       \
    do {                                                                        \
        provoke_failure();                                                      \
        int rc_ = (call);                                                       \
        CHECK_MSG(rc_ >= 0, "%s returned %d (%s)", #call, rc_,                  \
                  raftwal_strerror(rc_));                                       \
        CHECK_MSG(raftwal_errmsg()[0] == '\0',                                  \
                  "%s succeeded but raftwal_errmsg() is \"%s\"", #call,         \
                  raftwal_errmsg());                                            \
    } while (0)

/* Leaves a message: the call after it must clear it if it succeeds. */
static void provoke_failure(void)
{
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    CHECK_RC(raftwal_options_init(&o, 99), RAFTWAL_EINVAL);
    CHECK(raftwal_errmsg()[0] != '\0');
}

static void test_errmsg_clear_after_each_success(void)
{
    const char *dir = tu_tmpdir();
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    raftwal_log *log = NULL, *ro = NULL;
    raftwal_entry e[3] = {mk(1, 1), mk(2, 1), mk(3, 2)}, out;
    raftwal_hardstate hs = {2, 1, 2};
    raftwal_iter *it = NULL;
    raftwal_stats st;
    raftwal_segment_info si;
    raftwal_check chk;
    uint64_t u;
    size_t size;
    char buf[64];

    CHECK_CLEAN(raftwal_options_init(&o, RAFTWAL_OPTIONS_VERSION));
    CHECK_CLEAN(raftwal_log_open(&log, dir, &o));
    CHECK_CLEAN(raftwal_log_append(log, e, 3, &hs, 0));
    CHECK_CLEAN(raftwal_log_append(log, NULL, 0, NULL, 0)); /* a no-op */
    CHECK_CLEAN(raftwal_log_set_hardstate(log, &hs, RAFTWAL_NOSYNC));
    CHECK_CLEAN(raftwal_log_sync(log));
    CHECK_CLEAN(raftwal_log_wait_durable(log, 3));
    CHECK_CLEAN(raftwal_log_durable_index(log, &u));
    CHECK_CLEAN(raftwal_log_first_index(log, &u));
    CHECK_CLEAN(raftwal_log_last_index(log, &u));
    CHECK_CLEAN(raftwal_log_term(log, 2, &u));
    CHECK_CLEAN(raftwal_log_term(log, 0, &u));
    CHECK_CLEAN(raftwal_log_get(log, 1, &out, buf, sizeof buf));
    CHECK_CLEAN(raftwal_log_hardstate(log, &hs));
    CHECK_CLEAN(raftwal_log_save_snapshot(log, 2, 1, "conf", 4));
    CHECK_CLEAN(raftwal_log_snapshot(log, &u, &u, buf, sizeof buf, &size));
    CHECK_CLEAN(raftwal_log_set_metadata(log, "meta", 4));
    CHECK_CLEAN(raftwal_log_metadata(log, buf, sizeof buf, &size));
    CHECK_CLEAN(raftwal_iter_open(&it, log, 1, 4, RAFTWAL_NO_LIMIT));
    CHECK_CLEAN(raftwal_iter_next(it, &out));
    raftwal_iter_close(it); /* returns nothing: leaves the message */
    CHECK_CLEAN(raftwal_iter_open(&it, log, 4, 4, RAFTWAL_NO_LIMIT));
    CHECK_CLEAN(raftwal_iter_next(it, &out)); /* 0: the end */
    raftwal_iter_close(it);
    st.size = sizeof st;
    CHECK_CLEAN(raftwal_log_stats(log, &st));
    si.size = sizeof si;
    CHECK_CLEAN(raftwal_log_segment_info(log, 0, &si));
    CHECK_CLEAN(raftwal_log_truncate(log, 3));
    CHECK_CLEAN(raftwal_log_truncate(log, 10)); /* past the end: a no-op */
    CHECK_CLEAN(raftwal_log_purge(log, 1));
    o.flags = RAFTWAL_OPEN_READONLY;
    CHECK_CLEAN(raftwal_log_open(&ro, dir, &o));
    CHECK_CLEAN(raftwal_log_close(ro));
    CHECK_CLEAN(raftwal_log_close(log));
    CHECK_CLEAN(raftwal_log_close(NULL));
    chk.size = sizeof chk;
    CHECK_CLEAN(raftwal_verify(dir, &chk));
    CHECK_CLEAN(raftwal_repair(dir, &chk));
}

/* Runs fn on a new thread: its message starts "", so a message after a
 * success can only come from that success. */
struct thread_fn {
    void (*fn)(void);
};

static void *run_thread_fn(void *arg)
{
    ((struct thread_fn *)arg)->fn();
    return NULL;
}

static void on_fresh_thread(void (*fn)(void))
{
    struct thread_fn f = {fn};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, run_thread_fn, &f) == 0);
    CHECK(pthread_join(th, NULL) == 0);
}

#define CHECK_NO_MSG(what)                                                      \
    CHECK_MSG(raftwal_errmsg()[0] == '\0', "%s succeeded but raftwal_errmsg() is \"%s\"", \
              what, raftwal_errmsg())

static const char *torn_dir;

/* A log whose last batch lost its final bytes (COMMIT included). */
static void make_torn_log(const char *dir)
{
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, 0);
    raftwal_segment_info si;
    raftwal_entry e[2] = {mk(1, 1), mk(2, 1)};
    unsigned char zeros[8] = {0};
    char path[1024];

    CHECK_OK(raftwal_log_append(log, e, 1, NULL, 0));
    CHECK_OK(raftwal_log_append(log, e + 1, 1, NULL, 0));
    si = get_segment_info(log, 0);
    CHECK_OK(raftwal_log_close(log));
    tu_patch_file(tu_segment_path(path, dir, si.seq), si.used_bytes - sizeof zeros, zeros,
                  sizeof zeros);
}

static void open_torn(void)
{
    raftwal_log *log = NULL;
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    uint64_t last = 0;
    CHECK_OK(raftwal_log_open(&log, torn_dir, &o));
    CHECK_NO_MSG("an open that cut a torn tail");
    CHECK_EQ_U64(get_stats(log).torn_tails, 1);
    CHECK_OK(raftwal_log_last_index(log, &last));
    CHECK_EQ_U64(last, 1);
    CHECK_OK(raftwal_log_close(log));
}

static void verify_torn(void)
{
    raftwal_check chk;
    chk.size = sizeof chk;
    CHECK_OK(raftwal_verify(torn_dir, &chk));
    CHECK_NO_MSG("a verify that found a torn tail");
    CHECK(chk.torn_bytes > 0);
}

static void repair_torn(void)
{
    raftwal_check chk;
    chk.size = sizeof chk;
    CHECK_OK(raftwal_repair(torn_dir, &chk));
    CHECK_NO_MSG("a repair that trimmed a torn tail");
}

static const char *damaged_dir;

/* A log of several segments whose second one has a flipped bit. */
static void make_damaged_log(const char *dir)
{
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, RAFTWAL_MIN_SEGMENT_SIZE);
    char path[1024];
    batch b;
    for (uint64_t i = 1; i <= 300; i += 10) {
        batch_make(&b, i, 10, 1, 4000);
        CHECK_OK(raftwal_log_append(log, b.e, b.n, NULL, RAFTWAL_NOSYNC));
        batch_free(&b);
    }
    CHECK(get_stats(log).segments >= 4);
    raftwal_segment_info si = get_segment_info(log, 1);
    CHECK(si.sealed);
    CHECK_OK(raftwal_log_close(log));
    tu_flip_bit(tu_segment_path(path, dir, si.seq), 40, 3); /* in the header */
}

static void segment_info_damaged(void)
{
    raftwal_log *log = NULL;
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    raftwal_segment_info si;
    CHECK_OK(raftwal_log_open(&log, damaged_dir, &o));
    CHECK_NO_MSG("the open");
    si.size = sizeof si;
    CHECK_OK(raftwal_log_segment_info(log, 1, &si));
    CHECK_EQ_U64(si.used_bytes, 0); /* its probe failed: unknown */
    CHECK_NO_MSG("segment_info of a segment it could not probe");
    CHECK_OK(raftwal_log_close(log));
}

static void repair_damaged(void)
{
    raftwal_check chk;
    chk.size = sizeof chk;
    CHECK_OK(raftwal_repair(damaged_dir, &chk));
    CHECK(chk.cut_bytes > 0);
    CHECK_NO_MSG("a repair that cut damage");
}

static void test_errmsg_clear_after_handled_errors(void)
{
    torn_dir = tu_tmpdir();
    make_torn_log(torn_dir);
    on_fresh_thread(verify_torn);
    on_fresh_thread(open_torn);
    make_torn_log(torn_dir = tu_tmpdir());
    on_fresh_thread(repair_torn);

    damaged_dir = tu_tmpdir();
    make_damaged_log(damaged_dir);
    on_fresh_thread(segment_info_damaged);
    on_fresh_thread(repair_damaged);
}

int main(int argc, char **argv)
{
    TU_RUN(argc, argv, test_commit_bound_without_snapshot);
    TU_RUN(argc, argv, test_commit_bound_after_overwrite);
    TU_RUN(argc, argv, test_commit_bound_with_snapshot_past_entries);
    TU_RUN(argc, argv, test_errmsg_clear_after_each_success);
    TU_RUN(argc, argv, test_errmsg_clear_after_handled_errors);
    return 0;
}
