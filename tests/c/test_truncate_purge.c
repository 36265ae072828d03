/*
 * test_truncate_purge.c -- c_truncate_purge: suffix truncation and prefix
 * purge, inside a segment and across segment boundaries (segments of
 * RAFTWAL_MIN_SEGMENT_SIZE), their refusals, purge past the last index,
 * and the deletion of segment files that hold nothing live any more. Every
 * step is checked before and after a reopen; the last entry's term, which
 * the engine remembers, after each kind of change of the tail.
 */
#include "model.h"
#include "test_util.h"

#define SEG RAFTWAL_MIN_SEGMENT_SIZE
#define MAXP 400

static void append(raftwal_log *log, model *m, uint64_t first, size_t n,
                   uint64_t term)
{
    batch b;
    batch_make(&b, first, n, term, MAXP);
    CHECK_OK(raftwal_log_append(log, b.e, b.n, NULL, 0));
    model_append(m, b.e, b.n, NULL);
    batch_free(&b);
}

static void check_and_reopen(raftwal_log **log, const char *dir, const model *m)
{
    model_check(*log, m);
    reopen_log(log, dir, 0, SEG);
    model_check(*log, m);
}

static void fill(raftwal_log *log, model *m, size_t batches, uint64_t term)
{
    size_t i;
    for (i = 0; i < batches; i++)
        append(log, m, m->last + 1, 10, term);
}

static void test_truncate(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, SEG);
    raftwal_stats s;
    model m;
    model_init(&m);

    fill(log, &m, 80, 1);
    s = get_stats(log);
    CHECK_MSG(s.segments >= 5, "only %" PRIu64 " segments", s.segments);

    /* Inside the tail segment. */
    CHECK_OK(raftwal_log_truncate(log, m.last - 3));
    model_truncate(&m, m.last - 3);
    check_and_reopen(&log, dir, &m);

    /* from > last: a no-op. */
    CHECK_OK(raftwal_log_truncate(log, m.last + 1));
    CHECK_OK(raftwal_log_truncate(log, m.last + 1000));
    check_and_reopen(&log, dir, &m);

    /* Across several segment boundaries. */
    CHECK_OK(raftwal_log_truncate(log, m.last - 300));
    model_truncate(&m, m.last - 300);
    check_and_reopen(&log, dir, &m);

    /* Appending after a truncation continues at from, with a lower term
     * than the removed entries had (they are gone). */
    append(log, &m, m.last + 1, 30, 1);
    check_and_reopen(&log, dir, &m);

    /* Truncate, append, truncate again across the new entries. */
    CHECK_OK(raftwal_log_truncate(log, m.last - 100));
    model_truncate(&m, m.last - 100);
    fill(log, &m, 20, 2);
    CHECK_OK(raftwal_log_truncate(log, m.last - 150));
    model_truncate(&m, m.last - 150);
    check_and_reopen(&log, dir, &m);

    /* Everything: the log becomes empty, first stays. */
    CHECK_OK(raftwal_log_truncate(log, m.first));
    model_truncate(&m, m.first);
    check_and_reopen(&log, dir, &m);
    append(log, &m, 1, 5, 3);
    check_and_reopen(&log, dir, &m);

    CHECK_OK(raftwal_log_close(log));
    model_free(&m);
}

static void test_truncate_refusals(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, SEG);
    raftwal_hardstate hs = {1, 1, 50};
    model m;
    model_init(&m);

    fill(log, &m, 10, 1);
    CHECK_OK(raftwal_log_purge(log, 20));
    model_purge(&m, 20);
    CHECK_RC(raftwal_log_truncate(log, 19), RAFTWAL_ECOMPACTED);
    CHECK_RC(raftwal_log_truncate(log, 1), RAFTWAL_ECOMPACTED);

    CHECK_OK(raftwal_log_set_hardstate(log, &hs, 0));
    model_append(&m, NULL, 0, &hs);
    CHECK_RC(raftwal_log_truncate(log, 50), RAFTWAL_ECOMMITTED);
    CHECK_RC(raftwal_log_truncate(log, 21), RAFTWAL_ECOMMITTED);
    model_check(log, &m);
    CHECK_OK(raftwal_log_truncate(log, 51));
    model_truncate(&m, 51);
    check_and_reopen(&log, dir, &m);
    CHECK_OK(raftwal_log_close(log));
    model_free(&m);
}

static void test_purge(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, SEG);
    raftwal_segment_info si[3];
    raftwal_stats s0, s1;
    size_t i;
    model m;
    model_init(&m);

    fill(log, &m, 80, 1);
    s0 = get_stats(log);
    CHECK(s0.segments >= 5);

    /* Below first: a no-op. */
    CHECK_OK(raftwal_log_purge(log, 0));
    model_check(log, &m);

    /* Inside the first segment: nothing can be deleted. */
    CHECK_OK(raftwal_log_purge(log, 3));
    model_purge(&m, 3);
    check_and_reopen(&log, dir, &m);
    s1 = get_stats(log);
    CHECK_EQ_U64(s1.segments, s0.segments);

    /* Past the third segment's end: the first three files go. */
    for (i = 0; i < 3; i++) {
        si[i] = get_segment_info(log, i);
        CHECK(tu_segment_exists(dir, si[i].seq));
    }
    CHECK_OK(raftwal_log_purge(log, si[2].last_index));
    model_purge(&m, si[2].last_index);
    s1 = get_stats(log);
    CHECK_EQ_U64(s1.segments, s0.segments - 3);
    CHECK_EQ_U64(s1.segments_deleted, 3);
    for (i = 0; i < 3; i++)
        CHECK_MSG(!tu_segment_exists(dir, si[i].seq),
                  "segment %" PRIu64 " still exists", si[i].seq);
    CHECK_EQ_U64(get_segment_info(log, 0).seq, si[2].seq + 1);
    CHECK_EQ_U64(get_segment_info(log, 0).first_index, m.first);
    check_and_reopen(&log, dir, &m);

    /* In the middle of a segment: it stays, its first live index moves. */
    si[0] = get_segment_info(log, 0);
    CHECK_OK(raftwal_log_purge(log, si[0].first_index + 2));
    model_purge(&m, si[0].first_index + 2);
    CHECK_EQ_U64(get_segment_info(log, 0).seq, si[0].seq);
    CHECK_EQ_U64(get_segment_info(log, 0).first_index, m.first);
    check_and_reopen(&log, dir, &m);
    CHECK_EQ_U64(get_segment_info(log, 0).first_index, m.first);

    CHECK_OK(raftwal_log_close(log));
    model_free(&m);
}

static void test_purge_past_last(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, SEG);
    uint64_t upto;
    model m;
    batch b;
    model_init(&m);

    fill(log, &m, 50, 1);
    upto = m.last + 1000;
    CHECK_OK(raftwal_log_purge(log, upto));
    model_purge(&m, upto);
    CHECK_EQ_U64(m.first, upto + 1);
    CHECK_EQ_U64(m.last, upto);
    check_and_reopen(&log, dir, &m);

    /* The next append must start at upto + 1. */
    batch_make(&b, upto, 1, 1, MAXP);
    CHECK_RC(raftwal_log_append(log, b.e, b.n, NULL, 0), RAFTWAL_ECOMPACTED);
    batch_free(&b);
    batch_make(&b, upto + 2, 1, 1, MAXP);
    CHECK_RC(raftwal_log_append(log, b.e, b.n, NULL, 0), RAFTWAL_EGAP);
    batch_free(&b);
    append(log, &m, upto + 1, 20, 2);
    check_and_reopen(&log, dir, &m);

    /* Exactly at last: empty again, first = last + 1. */
    upto = m.last;
    CHECK_OK(raftwal_log_purge(log, upto));
    model_purge(&m, upto);
    check_and_reopen(&log, dir, &m);
    fill(log, &m, 60, 2);
    check_and_reopen(&log, dir, &m);

    /* Only the active segment may hold the log after a full purge. */
    CHECK_OK(raftwal_log_purge(log, m.last + 5));
    model_purge(&m, m.last + 5);
    {
        raftwal_stats s = get_stats(log);
        CHECK_EQ_U64(s.segments, 1);
        CHECK_EQ_U64(s.entries, 0);
    }
    check_and_reopen(&log, dir, &m);
    CHECK_OK(raftwal_log_close(log));
    model_free(&m);
}

/* The top of the index space: purge to just below RAFTWAL_MAX_INDEX,
 * append up to it, read and iterate with an exclusive end of UINT64_MAX. */
static void test_index_limits(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, SEG);
    uint64_t upto = RAFTWAL_MAX_INDEX - 10;
    raftwal_iter *it = NULL;
    raftwal_entry e;
    uint64_t n = 0;
    model m;
    batch b;
    model_init(&m);

    fill(log, &m, 3, 1);
    CHECK_OK(raftwal_log_purge(log, upto));
    model_purge(&m, upto);
    check_and_reopen(&log, dir, &m);
    append(log, &m, upto + 1, 10, 1);
    CHECK_EQ_U64(m.last, RAFTWAL_MAX_INDEX);
    check_and_reopen(&log, dir, &m);
    /* No room for one more. */
    batch_make(&b, RAFTWAL_MAX_INDEX + 1, 1, 1, MAXP);
    CHECK_RC(raftwal_log_append(log, b.e, b.n, NULL, 0), RAFTWAL_EINVAL);
    batch_free(&b);
    CHECK_OK(raftwal_iter_open(&it, log, upto + 1, UINT64_MAX, 0));
    CHECK_RC(raftwal_iter_next(it, &e), 1);
    CHECK_EQ_U64(e.index, upto + 1);
    raftwal_iter_close(it);
    CHECK_OK(raftwal_iter_open(&it, log, upto + 1, UINT64_MAX, RAFTWAL_NO_LIMIT));
    while (raftwal_iter_next(it, &e) == 1)
        n++;
    CHECK_EQ_U64(n, 10);
    raftwal_iter_close(it);
    /* Overwrite and truncate at the very top still work. */
    append(log, &m, RAFTWAL_MAX_INDEX - 1, 2, 2);
    CHECK_OK(raftwal_log_truncate(log, RAFTWAL_MAX_INDEX));
    model_truncate(&m, RAFTWAL_MAX_INDEX);
    check_and_reopen(&log, dir, &m);
    /* Purging everything, up to the maximum. */
    CHECK_OK(raftwal_log_purge(log, RAFTWAL_MAX_INDEX));
    model_purge(&m, RAFTWAL_MAX_INDEX);
    check_and_reopen(&log, dir, &m);
    CHECK_OK(raftwal_log_close(log));
    model_free(&m);
}

/* The engine remembers the last entry's term from the batch that wrote it
 * (the next append's term check then reads no mapped page). Every change
 * of the tail must leave raftwal_log_term() and that check answering for
 * the entries the log holds now: truncation, a conflicting append, a purge
 * past the end; and a reopen, where nothing is remembered. */
static void test_tail_term(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, SEG);
    raftwal_hardstate hs = {5, 1, 0};
    uint64_t term = 0;
    model m;
    model_init(&m);

    append(log, &m, 1, 11, 1);
    CHECK_OK(raftwal_log_term(log, 11, &term));
    CHECK_EQ_U64(term, 1);

    /* Truncated: the remembered entry is gone. */
    CHECK_OK(raftwal_log_truncate(log, 9));
    model_truncate(&m, 9);
    CHECK_RC(raftwal_log_term(log, 11, &term), RAFTWAL_EUNAVAILABLE);
    CHECK_OK(raftwal_log_term(log, 8, &term));
    CHECK_EQ_U64(term, 1);
    append(log, &m, 9, 2, 3); /* 9..10, term 3 */
    CHECK_OK(raftwal_log_term(log, 10, &term));
    CHECK_EQ_U64(term, 3);
    {
        batch b;
        batch_make(&b, 11, 1, 2, MAXP);
        CHECK_RC(raftwal_log_append(log, b.e, b.n, NULL, 0), RAFTWAL_ETERM);
        batch_free(&b);
    }

    /* A conflicting append that replaces just the last entry: the last
     * index stays, its term changes. */
    append(log, &m, 10, 1, 4);
    CHECK_OK(raftwal_log_term(log, 10, &term));
    CHECK_EQ_U64(term, 4);
    {
        batch b;
        batch_make(&b, 11, 1, 3, MAXP);
        CHECK_RC(raftwal_log_append(log, b.e, b.n, NULL, 0), RAFTWAL_ETERM);
        batch_free(&b);
    }

    /* A conflicting append replaces the tail: 8..9 with term 4. */
    append(log, &m, 8, 2, 4);
    CHECK_OK(raftwal_log_term(log, 9, &term));
    CHECK_EQ_U64(term, 4);
    CHECK_RC(raftwal_log_term(log, 10, &term), RAFTWAL_EUNAVAILABLE);
    {
        batch b;
        batch_make(&b, 10, 1, 3, MAXP);
        CHECK_RC(raftwal_log_append(log, b.e, b.n, NULL, 0), RAFTWAL_ETERM);
        batch_free(&b);
    }

    /* A hard state alone changes no entry. */
    CHECK_OK(raftwal_log_set_hardstate(log, &hs, 0));
    model_append(&m, NULL, 0, &hs);
    CHECK_OK(raftwal_log_term(log, 9, &term));
    CHECK_EQ_U64(term, 4);
    model_check(log, &m);

    /* Purged past the end: the entry is compacted, and the next append
     * starts a new log above it. */
    CHECK_OK(raftwal_log_purge(log, 9));
    model_purge(&m, 9);
    CHECK_RC(raftwal_log_term(log, 9, &term), RAFTWAL_ECOMPACTED);
    append(log, &m, 10, 1, 1);
    CHECK_OK(raftwal_log_term(log, 10, &term));
    CHECK_EQ_U64(term, 1);
    check_and_reopen(&log, dir, &m);
    CHECK_OK(raftwal_log_term(log, 10, &term));
    CHECK_EQ_U64(term, 1);
    append(log, &m, 11, 1, 1);
    check_and_reopen(&log, dir, &m);
    CHECK_OK(raftwal_log_close(log));
    model_free(&m);
}

int main(int argc, char **argv)
{
    TU_RUN(argc, argv, test_truncate);
    TU_RUN(argc, argv, test_truncate_refusals);
    TU_RUN(argc, argv, test_purge);
    TU_RUN(argc, argv, test_purge_past_last);
    TU_RUN(argc, argv, test_index_limits);
    TU_RUN(argc, argv, test_tail_term);
    return 0;
}
