/*
 * unit_prepare.c -- c_unit_prepare: the background preparer's warming of
 * sparse segment files (src/prepare.c, RW_FILE_WARM). A warmed file has
 * zeros written into its page cache after its header, so the file system
 * has reserved its blocks (st_blocks) while it still reads as a valid,
 * empty segment; rotation taking the file stops the warming before it
 * returns, and nothing is written into the file after that. Appends that
 * do not sync ask for it early. A log created not to sync has its first
 * segment warmed at creation.
 */
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include "format.h"
#include "log.h"
#include "segment.h"
#include "test_util.h"

#define SEG_SIZE (1024u * 1024u)

static raftwal_log *open_nosync(const char *dir)
{
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    o.flags = RAFTWAL_OPEN_CREATE | RAFTWAL_OPEN_NOSYNC;
    o.segment_size = SEG_SIZE;
    raftwal_log *log = NULL;
    CHECK_OK(raftwal_log_open(&log, dir, &o));
    /* One entry, so that the log is not fresh; far from half full, so the
     * log asks the worker for nothing by itself. */
    raftwal_entry e = {.index = 1, .term = 1, .data = "x", .size = 1};
    CHECK_OK(raftwal_log_append(log, &e, 1, NULL, 0));
    return log;
}

/* Appends 4 KiB entries until the log has rotated once, then checks every
 * entry through a reopen. */
static void fill_into_next_and_check(raftwal_log **log, const char *dir)
{
    static unsigned char data[4096];
    raftwal_stats st = {.size = sizeof st};
    uint64_t last = 1;
    do {
        tu_payload_fill(data, sizeof data, last + 1, 1);
        raftwal_entry e = {.index = last + 1, .term = 1, .data = data, .size = sizeof data};
        CHECK_OK(raftwal_log_append(*log, &e, 1, NULL, 0));
        last++;
        CHECK_OK(raftwal_log_stats(*log, &st));
    } while (st.rotations < 1);
    CHECK_OK(raftwal_log_close(*log));
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    o.flags = 0;
    o.segment_size = SEG_SIZE;
    CHECK_OK(raftwal_log_open(log, dir, &o));
    uint64_t got_last = 0;
    CHECK_OK(raftwal_log_last_index(*log, &got_last));
    CHECK_EQ_U64(got_last, last);
    for (uint64_t i = 2; i <= last; i++) {
        unsigned char buf[4096], want[4096];
        raftwal_entry got;
        tu_payload_fill(want, sizeof want, i, 1);
        CHECK_OK(raftwal_log_get(*log, i, &got, buf, sizeof buf));
        CHECK_EQ_U64(got.size, sizeof buf);
        CHECK(memcmp(buf, want, sizeof buf) == 0);
    }
    raftwal_log_close(*log);
    *log = NULL;
}

/* Left alone, the worker warms the whole file after its header; the file
 * is still a valid empty segment that the log then rotates into. */
static void test_warming_reserves_the_whole_file(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_nosync(dir);
    rw_prepare_request(log, 2, RW_FILE_WARM);
    rw_prepare_wait_idle(log);
    uint64_t got = tu_segment_allocated(dir, 2);
    CHECK_MSG(got >= SEG_SIZE - 4096, "%" PRIu64 " bytes allocated after warming", got);
    fill_into_next_and_check(&log, dir);
}

/* A log created not to sync has its first segment warmed before the open
 * returns: its blocks are reserved. Without the warming the file is
 * sparse and its first appends allocate the pages. */
static void test_first_segment_of_a_nosync_log_is_warmed(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_nosync(dir);
    uint64_t got = tu_segment_allocated(dir, 1);
    CHECK_MSG(got >= SEG_SIZE - 4096, "%" PRIu64 " bytes of the first segment allocated", got);
    fill_into_next_and_check(&log, dir);
}

/* ... but at most RW_WARM_AT_CREATE_MAX of it, whatever the segment size:
 * the open's cost, and the zeros a first sync may write out, stay
 * bounded. */
static void test_first_segment_warming_is_capped(void)
{
    const uint64_t seg = 4 * (uint64_t)RW_WARM_AT_CREATE_MAX;
    const char *dir = tu_tmpdir();
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    o.flags = RAFTWAL_OPEN_CREATE | RAFTWAL_OPEN_NOSYNC;
    o.segment_size = seg;
    raftwal_log *log = NULL;
    CHECK_OK(raftwal_log_open(&log, dir, &o));
    uint64_t got = tu_segment_allocated(dir, 1);
    CHECK_MSG(got >= RW_WARM_AT_CREATE_MAX - 4096 && got < seg / 2,
              "%" PRIu64 " bytes of a %" PRIu64 "-byte first segment allocated", got, seg);
    CHECK_OK(raftwal_log_close(log));
}

/* RW_FILE_SPARSE is left as it is. */
static void test_sparse_is_not_warmed(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_nosync(dir);
    rw_prepare_request(log, 2, RW_FILE_SPARSE);
    rw_prepare_wait_idle(log);
    uint64_t got = tu_segment_allocated(dir, 2);
    CHECK_MSG(got < SEG_SIZE / 2, "%" PRIu64 " bytes allocated, sparse expected", got);
    fill_into_next_and_check(&log, dir);
}

static atomic_int hook_calls, hook_paused;

/* Lets the first chunk through, then holds the worker until rotation
 * cancels the warming. */
static void pause_after_first_chunk(raftwal_log *log)
{
    if (atomic_fetch_add(&hook_calls, 1) < 1)
        return;
    atomic_store(&hook_paused, 1);
    while (!atomic_load(&log->warm_cancel))
        sched_yield();
}

/* Taking the file stops the warming before it returns: the rest of the
 * file stays a hole, and bytes the new owner writes are never overwritten
 * with zeros. */
static void test_take_stops_warming(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_nosync(dir);
    atomic_store(&hook_calls, 0);
    atomic_store(&hook_paused, 0);
    rw_prepare_warm_hook = pause_after_first_chunk;
    rw_prepare_request(log, 2, RW_FILE_WARM);
    while (!atomic_load(&hook_paused))
        sched_yield();
    rw_seg *s = rw_prepare_take(log, 2);
    CHECK(s != NULL);
    uint64_t got = tu_segment_allocated(dir, 2);
    CHECK_MSG(got < SEG_SIZE / 2, "%" PRIu64 " bytes allocated after a cancelled warming", got);
    /* The new owner's bytes, past the part that was warmed. */
    unsigned char mark[4096], back[4096];
    memset(mark, 0x5a, sizeof mark);
    CHECK(pwrite(s->fd, mark, sizeof mark, SEG_SIZE / 2) == (ssize_t)sizeof mark);
    rw_prepare_wait_idle(log);
    CHECK_EQ_U64(atomic_load(&hook_calls), 2); /* no chunk after the cancel */
    CHECK(pread(s->fd, back, sizeof back, SEG_SIZE / 2) == (ssize_t)sizeof back);
    CHECK(memcmp(mark, back, sizeof mark) == 0);
    rw_prepare_warm_hook = NULL;
    rw_seg_unref(s);
    CHECK_OK(raftwal_log_close(log));
}

/* Appends that do not sync ask for their (warmed) next file once the
 * active segment is 1/8 full, to give the worker time to warm it; durable
 * ones still ask at half. */
static void test_unsynced_appends_ask_early(void)
{
    for (int durable = 0; durable < 2; durable++) {
        const char *dir = tu_tmpdir();
        raftwal_options o = RAFTWAL_OPTIONS_INIT;
        o.flags = RAFTWAL_OPEN_CREATE | (durable ? 0 : RAFTWAL_OPEN_NOSYNC);
        o.segment_size = SEG_SIZE;
        raftwal_log *log = NULL;
        CHECK_OK(raftwal_log_open(&log, dir, &o));
        static unsigned char data[4096];
        raftwal_segment_info info = {.size = sizeof info};
        uint64_t i = 0;
        do {
            raftwal_entry e = {.index = ++i, .term = 1, .data = data, .size = sizeof data};
            CHECK_OK(raftwal_log_append(log, &e, 1, NULL, 0));
            CHECK_OK(raftwal_log_segment_info(log, 0, &info));
        } while (info.used_bytes <= SEG_SIZE / 8 + sizeof data);
        CHECK(info.used_bytes < SEG_SIZE / 2);
        rw_prepare_wait_idle(log);
        CHECK_MSG(tu_segment_exists(dir, 2) == !durable, "%s appends at %" PRIu64 " bytes: next file %s",
                  durable ? "durable" : "unsynced", info.used_bytes,
                  tu_segment_exists(dir, 2) ? "prepared" : "not prepared");
        CHECK_OK(raftwal_log_close(log));
    }
}

int main(int argc, char **argv)
{
    TU_RUN(argc, argv, test_warming_reserves_the_whole_file);
    TU_RUN(argc, argv, test_first_segment_of_a_nosync_log_is_warmed);
    TU_RUN(argc, argv, test_first_segment_warming_is_capped);
    TU_RUN(argc, argv, test_sparse_is_not_warmed);
    TU_RUN(argc, argv, test_take_stops_warming);
    TU_RUN(argc, argv, test_unsynced_appends_ask_early);
    return 0;
}
