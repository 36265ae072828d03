/*
 * test_overwrite.c -- c_overwrite: an append whose first index is <= last
 * replaces the suffix from that index (Raft's conflict rule), inside one
 * segment and across many segments of RAFTWAL_MIN_SEGMENT_SIZE, and the
 * result survives a reopen.
 */
#include "model.h"
#include "test_util.h"

#define SEG RAFTWAL_MIN_SEGMENT_SIZE
#define MAXP 400

static void append(raftwal_log *log, model *m, uint64_t first, size_t n,
                   uint64_t term, const raftwal_hardstate *hs)
{
    batch b;
    batch_make(&b, first, n, term, MAXP);
    CHECK_OK(raftwal_log_append(log, b.e, b.n, hs, 0));
    model_append(m, b.e, b.n, hs);
    batch_free(&b);
}

static void check_and_reopen(raftwal_log **log, const char *dir, const model *m)
{
    model_check(*log, m);
    reopen_log(log, dir, 0, SEG);
    model_check(*log, m);
}

static void test_overwrite_in_one_segment(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, 0);
    model m;
    model_init(&m);

    append(log, &m, 1, 10, 1, NULL);
    /* Replace 6..10 by 6..8 (the log gets shorter). */
    append(log, &m, 6, 3, 2, NULL);
    check_and_reopen(&log, dir, &m);
    /* Replace only the last entry. */
    append(log, &m, 8, 1, 3, NULL);
    check_and_reopen(&log, dir, &m);
    /* Replace 7.. by a longer run (the log gets longer). */
    append(log, &m, 7, 12, 3, NULL);
    check_and_reopen(&log, dir, &m);
    /* Replace everything from the first index. */
    append(log, &m, 1, 4, 4, NULL);
    check_and_reopen(&log, dir, &m);
    /* Same term, same index: still replaces (new payload lengths). */
    append(log, &m, 2, 2, 4, NULL);
    check_and_reopen(&log, dir, &m);

    CHECK_OK(raftwal_log_close(log));
    model_free(&m);
}

static void test_overwrite_after_purge(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, SEG);
    model m;
    model_init(&m);

    append(log, &m, 1, 30, 1, NULL);
    CHECK_OK(raftwal_log_purge(log, 10));
    model_purge(&m, 10);
    /* Overwrite starting exactly at the first index. */
    append(log, &m, 11, 5, 2, NULL);
    check_and_reopen(&log, dir, &m);
    /* Below the first index: refused. */
    {
        batch b;
        batch_make(&b, 10, 3, 2, MAXP);
        CHECK_RC(raftwal_log_append(log, b.e, b.n, NULL, 0), RAFTWAL_ECOMPACTED);
        batch_free(&b);
    }
    model_check(log, &m);
    CHECK_OK(raftwal_log_close(log));
    model_free(&m);
}

static void test_overwrite_across_segments(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, SEG);
    raftwal_stats s;
    uint64_t i, term = 1;
    model m;
    model_init(&m);

    for (i = 0; i < 80; i++)
        append(log, &m, 1 + i * 10, 10, term, NULL);
    s = get_stats(log);
    CHECK_MSG(s.segments >= 5, "only %" PRIu64 " segments", s.segments);
    check_and_reopen(&log, dir, &m);

    /* Each round cuts deeper into older segments, with a higher term, and
     * reopens: the replaced suffix spans segment boundaries. */
    for (i = 0; i < 6; i++) {
        uint64_t from = m.last - tu_rand_range(40, 120);
        term++;
        append(log, &m, from, (size_t)tu_rand_range(1, 60), term, NULL);
        check_and_reopen(&log, dir, &m);
    }

    /* A batch that replaces a suffix and then rotates: many entries. */
    term++;
    append(log, &m, m.last - 5, 200, term, NULL);
    check_and_reopen(&log, dir, &m);

    /* Overwrite + hard state in the same batch; commit below the cut. */
    {
        raftwal_hardstate hs = {term + 1, 2, m.last - 50};
        term++;
        append(log, &m, m.last - 20, 5, term, &hs);
        check_and_reopen(&log, dir, &m);
        /* Now the commit index protects everything at or below it. */
        {
            batch b;
            batch_make(&b, hs.commit, 2, term, MAXP);
            CHECK_RC(raftwal_log_append(log, b.e, b.n, NULL, 0), RAFTWAL_ECOMMITTED);
            batch_free(&b);
            batch_make(&b, hs.commit + 1, 2, term, MAXP);
            CHECK_OK(raftwal_log_append(log, b.e, b.n, NULL, 0));
            model_append(&m, b.e, b.n, NULL);
            batch_free(&b);
        }
        check_and_reopen(&log, dir, &m);
    }

    CHECK_OK(raftwal_log_close(log));
    model_free(&m);
}

int main(int argc, char **argv)
{
    TU_RUN(argc, argv, test_overwrite_in_one_segment);
    TU_RUN(argc, argv, test_overwrite_after_purge);
    TU_RUN(argc, argv, test_overwrite_across_segments);
    return 0;
}
