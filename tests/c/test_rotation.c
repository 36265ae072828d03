/*
 * test_rotation.c -- c_rotation: with RAFTWAL_MIN_SEGMENT_SIZE the log
 * rotates through many segments; raftwal_log_segment_info() and the stats
 * describe them consistently (consecutive sequence numbers, contiguous
 * live ranges, every segment but the last sealed), before and after a
 * reopen; a batch larger than a segment still fits (an oversized segment).
 */
#include "model.h"
#include "test_util.h"

#define SEG RAFTWAL_MIN_SEGMENT_SIZE
#define MAXP 600

/* Checks the segment table against the model's bounds. */
static void check_segments(raftwal_log *log, const model *m)
{
    raftwal_stats s = get_stats(log);
    uint64_t next_index = m->first, disk = 0, i;
    raftwal_segment_info prev;

    CHECK_EQ_U64(s.first_index, m->first);
    CHECK_EQ_U64(s.last_index, m->last);
    CHECK_EQ_U64(s.entries, m->last + 1 - m->first);
    CHECK(s.segments >= 1);
    for (i = 0; i < s.segments; i++) {
        raftwal_segment_info si = get_segment_info(log, (size_t)i);
        CHECK_EQ_U64(si.size, sizeof si);
        if (i > 0)
            CHECK_EQ_U64(si.seq, prev.seq + 1);
        /* Live ranges are contiguous and cover [first, last]. */
        if (si.last_index + 1 != si.first_index) {
            CHECK_EQ_U64(si.first_index, next_index);
            CHECK(si.last_index >= si.first_index);
            next_index = si.last_index + 1;
        }
        CHECK_EQ_U64(si.sealed, i + 1 < s.segments ? 1 : 0);
        CHECK(si.used_bytes <= si.file_bytes);
        CHECK(si.used_bytes >= 64);
        disk += si.file_bytes;
        prev = si;
    }
    CHECK_EQ_U64(next_index, m->last + 1);
    CHECK_MSG(s.disk_bytes >= disk, "disk_bytes %" PRIu64 " < sum of files %" PRIu64,
              s.disk_bytes, disk);
    /* Past the end: ERANGE; a too-small struct: EINVAL. */
    {
        raftwal_segment_info si;
        si.size = sizeof si;
        CHECK_RC(raftwal_log_segment_info(log, (size_t)s.segments, &si), RAFTWAL_ERANGE);
        si.size = 4;
        CHECK_RC(raftwal_log_segment_info(log, 0, &si), RAFTWAL_EINVAL);
        CHECK_RC(raftwal_log_segment_info(log, 0, NULL), RAFTWAL_EINVAL);
    }
}

static void test_many_segments(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, SEG);
    raftwal_stats s;
    uint64_t i, segs_before;
    model m;
    batch b;
    model_init(&m);

    for (i = 0; i < 220; i++) {
        batch_make(&b, m.last + 1, (size_t)tu_rand_range(1, 12), 1 + i / 70, MAXP);
        CHECK_OK(raftwal_log_append(log, b.e, b.n, NULL, i % 3 ? RAFTWAL_NOSYNC : 0));
        model_append(&m, b.e, b.n, NULL);
        batch_free(&b);
    }
    CHECK_OK(raftwal_log_sync(log));
    s = get_stats(log);
    CHECK_MSG(s.segments >= 10, "only %" PRIu64 " segments", s.segments);
    CHECK_EQ_U64(s.rotations, s.segments - 1);
    for (i = 0; i + 1 < s.segments; i++) {
        raftwal_segment_info si = get_segment_info(log, (size_t)i);
        CHECK_EQ_U64(si.file_bytes, SEG);
    }
    check_segments(log, &m);
    model_check(log, &m);
    segs_before = s.segments;

    reopen_log(&log, dir, 0, SEG);
    s = get_stats(log);
    CHECK_EQ_U64(s.segments, segs_before);
    CHECK_EQ_U64(s.rotations, 0);
    check_segments(log, &m);
    model_check(log, &m);

    /* Opening reads footers, not whole sealed segments. */
    CHECK(s.footer_loads <= s.segments);
    CHECK_OK(raftwal_log_close(log));
    model_free(&m);
}

static void test_oversized_batch(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, SEG);
    raftwal_entry e;
    unsigned char *big;
    size_t size = 3 * SEG + 17;
    model m;
    batch b;
    model_init(&m);

    batch_make(&b, 1, 5, 1, MAXP);
    CHECK_OK(raftwal_log_append(log, b.e, b.n, NULL, 0));
    model_append(&m, b.e, b.n, NULL);
    batch_free(&b);

    big = (unsigned char *)malloc(size);
    CHECK(big != NULL);
    tu_payload_fill(big, size, 6, 1);
    e.index = 6;
    e.term = 1;
    e.type = 9;
    e.flags = 0;
    e.data = big;
    e.size = size;
    CHECK_OK(raftwal_log_append(log, &e, 1, NULL, 0));
    model_append(&m, &e, 1, NULL);
    free(big);

    batch_make(&b, 7, 5, 1, MAXP);
    CHECK_OK(raftwal_log_append(log, b.e, b.n, NULL, 0));
    model_append(&m, b.e, b.n, NULL);
    batch_free(&b);

    model_check(log, &m);
    check_segments(log, &m);
    reopen_log(&log, dir, 0, SEG);
    model_check(log, &m);
    check_segments(log, &m);
    CHECK_OK(raftwal_log_close(log));
    model_free(&m);
}

static void test_segment_size_per_handle(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, SEG);
    raftwal_stats s;
    uint64_t i, n_small;
    model m;
    batch b;
    model_init(&m);

    for (i = 0; i < 40; i++) {
        batch_make(&b, m.last + 1, 8, 1, MAXP);
        CHECK_OK(raftwal_log_append(log, b.e, b.n, NULL, RAFTWAL_NOSYNC));
        model_append(&m, b.e, b.n, NULL);
        batch_free(&b);
    }
    n_small = get_stats(log).segments;
    CHECK(n_small >= 2);
    /* Reopened with 4x the size: new segments are bigger, old ones keep
     * their size. */
    reopen_log(&log, dir, 0, 4 * SEG);
    for (i = 0; i < 160; i++) {
        batch_make(&b, m.last + 1, 8, 1, MAXP);
        CHECK_OK(raftwal_log_append(log, b.e, b.n, NULL, RAFTWAL_NOSYNC));
        model_append(&m, b.e, b.n, NULL);
        batch_free(&b);
    }
    CHECK_OK(raftwal_log_sync(log));
    s = get_stats(log);
    CHECK(s.segments > n_small);
    CHECK_EQ_U64(get_segment_info(log, 0).file_bytes, SEG);
    CHECK_EQ_U64(get_segment_info(log, (size_t)s.segments - 1).file_bytes, 4 * SEG);
    model_check(log, &m);
    check_segments(log, &m);
    CHECK_OK(raftwal_log_close(log));
    model_free(&m);
}

/* A no-sync log that crosses segments keeps every acknowledged entry
 * through a process crash (the copy holds what the page cache holds): the
 * segment a rotation starts is the tail on disk at once. Deferring the
 * rotation's syncs and the new header to the next sync (eaee19d, reverted)
 * lost them; py_stateful found it. */
static void test_nosync_rotation_survives_process_crash(void)
{
    const char *dir = tu_tmpdir(), *crash = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE | RAFTWAL_OPEN_NOSYNC, SEG);
    raftwal_log *c;
    model m;
    batch b;
    model_init(&m);
    while (get_stats(log).rotations < 4) {
        batch_make(&b, m.last + 1, 6, 1, MAXP);
        CHECK_OK(raftwal_log_append(log, b.e, b.n, NULL, 0));
        model_append(&m, b.e, b.n, NULL);
        batch_free(&b);
    }
    tu_copy_dir(dir, crash);
    c = open_log(crash, RAFTWAL_OPEN_NOSYNC, SEG);
    model_check(c, &m);
    CHECK_OK(raftwal_log_close(c));
    CHECK_OK(raftwal_log_close(log));
    model_free(&m);
}

int main(int argc, char **argv)
{
    TU_RUN(argc, argv, test_many_segments);
    TU_RUN(argc, argv, test_oversized_batch);
    TU_RUN(argc, argv, test_segment_size_per_handle);
    TU_RUN(argc, argv, test_nosync_rotation_survives_process_crash);
    return 0;
}
