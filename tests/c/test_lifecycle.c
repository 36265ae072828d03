/*
 * test_lifecycle.c -- c_lifecycle: create, open, close and reopen; plain
 * appends with and without hard state; hard state alone; user metadata at
 * create and later; snapshot metadata; durable index. After every
 * operation the log is checked against the model, reopened, and checked
 * again.
 */
#include "model.h"
#include "test_util.h"

#define MAXP 300

/* Checks, reopens, checks. */
static void check_and_reopen(raftwal_log **log, const char *dir, const model *m)
{
    model_check(*log, m);
    reopen_log(log, dir, 0, 0);
    model_check(*log, m);
}

static void test_create_empty(void)
{
    const char *dir = tu_tmpdir();
    char sub[1024];
    raftwal_log *log;
    model m;
    raftwal_stats s;
    uint64_t durable = 99, term = 99;

    /* A missing directory is created (a level below an existing one). */
    tu_path(sub, dir, "log");
    log = open_log(sub, RAFTWAL_OPEN_CREATE, 0);
    model_init(&m);
    model_check(log, &m);
    CHECK_OK(raftwal_log_term(log, 0, &term));
    CHECK_EQ_U64(term, 0);
    CHECK_OK(raftwal_log_durable_index(log, &durable));
    CHECK_EQ_U64(durable, 0);
    s = get_stats(log);
    CHECK_EQ_U64(s.first_index, 1);
    CHECK_EQ_U64(s.last_index, 0);
    CHECK_EQ_U64(s.entries, 0);
    CHECK(s.segments >= 1);
    CHECK_EQ_U64(s.torn_tails, 0);
    CHECK_OK(raftwal_log_close(log));

    /* Reopen without CREATE. */
    log = open_log(sub, 0, 0);
    model_check(log, &m);
    CHECK_OK(raftwal_log_close(log));

    /* Default options (NULL) create too. */
    tu_path(sub, dir, "log2");
    CHECK_OK(raftwal_log_open(&log, sub, NULL));
    model_check(log, &m);
    CHECK_OK(raftwal_log_close(log));
    CHECK_OK(raftwal_log_close(NULL));
    model_free(&m);
}

static void test_append_with_and_without_hardstate(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, 0);
    model m;
    batch b;
    raftwal_hardstate hs;
    uint64_t durable = 0;
    raftwal_stats s;

    model_init(&m);

    batch_make(&b, 1, 5, 1, MAXP);
    CHECK_OK(raftwal_log_append(log, b.e, b.n, NULL, 0));
    model_append(&m, b.e, b.n, NULL);
    batch_free(&b);
    check_and_reopen(&log, dir, &m);

    hs.term = 2;
    hs.vote = 7;
    hs.commit = 3;
    batch_make(&b, 6, 3, 2, MAXP);
    CHECK_OK(raftwal_log_append(log, b.e, b.n, &hs, 0));
    model_append(&m, b.e, b.n, &hs);
    batch_free(&b);
    CHECK_OK(raftwal_log_durable_index(log, &durable));
    CHECK_EQ_U64(durable, 8);
    check_and_reopen(&log, dir, &m);

    /* A hard-state-only batch through append(count = 0). */
    hs.commit = 8;
    CHECK_OK(raftwal_log_append(log, NULL, 0, &hs, 0));
    model_append(&m, NULL, 0, &hs);
    check_and_reopen(&log, dir, &m);

    /* And through set_hardstate. */
    hs.term = 3;
    hs.vote = 0;
    CHECK_OK(raftwal_log_set_hardstate(log, &hs, 0));
    model_append(&m, NULL, 0, &hs);
    check_and_reopen(&log, dir, &m);

    /* NOSYNC appends become durable with sync(), and survive close. */
    batch_make(&b, 9, 4, 3, MAXP);
    CHECK_OK(raftwal_log_append(log, b.e, b.n, NULL, RAFTWAL_NOSYNC));
    model_append(&m, b.e, b.n, NULL);
    batch_free(&b);
    model_check(log, &m);
    CHECK_OK(raftwal_log_sync(log));
    CHECK_OK(raftwal_log_durable_index(log, &durable));
    CHECK_EQ_U64(durable, 12);
    CHECK_OK(raftwal_log_wait_durable(log, 12));

    s = get_stats(log);
    CHECK_EQ_U64(s.last_index, 12);
    CHECK_EQ_U64(s.entries, 12);
    CHECK_EQ_U64(s.appends, 1); /* counters count since the open */
    CHECK_EQ_U64(s.appended_entries, 4);
    CHECK(s.fsyncs >= 1);
    check_and_reopen(&log, dir, &m);

    /* A log opened with OPEN_NOSYNC keeps what close() made durable. */
    CHECK_OK(raftwal_log_close(log));
    log = open_log(dir, RAFTWAL_OPEN_NOSYNC, 0);
    batch_make(&b, 13, 2, 3, MAXP);
    CHECK_OK(raftwal_log_append(log, b.e, b.n, NULL, 0));
    model_append(&m, b.e, b.n, NULL);
    batch_free(&b);
    check_and_reopen(&log, dir, &m);

    CHECK_OK(raftwal_log_close(log));
    model_free(&m);
}

static void test_metadata(void)
{
    const char *dir = tu_tmpdir();
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    raftwal_log *log = NULL;
    unsigned char meta[1000], other[77];
    model m;
    batch b;

    model_init(&m);
    tu_payload_fill(meta, sizeof meta, 1, 1);
    o.metadata = meta;
    o.metadata_size = sizeof meta;
    CHECK_OK(raftwal_log_open(&log, dir, &o));
    model_set_metadata(&m, meta, sizeof meta);
    check_and_reopen(&log, dir, &m);

    /* options.metadata is written only when the open creates the log. */
    CHECK_OK(raftwal_log_close(log));
    tu_payload_fill(other, sizeof other, 2, 2);
    o.metadata = other;
    o.metadata_size = sizeof other;
    CHECK_OK(raftwal_log_open(&log, dir, &o));
    model_check(log, &m);

    batch_make(&b, 1, 3, 1, MAXP);
    CHECK_OK(raftwal_log_append(log, b.e, b.n, NULL, 0));
    model_append(&m, b.e, b.n, NULL);
    batch_free(&b);

    CHECK_OK(raftwal_log_set_metadata(log, other, sizeof other));
    model_set_metadata(&m, other, sizeof other);
    check_and_reopen(&log, dir, &m);

    /* Metadata may be emptied. */
    CHECK_OK(raftwal_log_set_metadata(log, NULL, 0));
    model_set_metadata(&m, NULL, 0);
    check_and_reopen(&log, dir, &m);

    /* The largest metadata allowed round-trips. */
    {
        size_t big = RAFTWAL_MAX_META_SIZE;
        unsigned char *p = (unsigned char *)malloc(big);
        CHECK(p != NULL);
        tu_payload_fill(p, big, 3, 3);
        CHECK_OK(raftwal_log_set_metadata(log, p, big));
        model_set_metadata(&m, p, big);
        free(p);
        check_and_reopen(&log, dir, &m);
    }
    CHECK_OK(raftwal_log_close(log));
    model_free(&m);
}

static void test_snapshot(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, 0);
    unsigned char conf[123], buf[200];
    uint64_t idx = 99, term = 99;
    size_t size = 0;
    model m;
    batch b;

    model_init(&m);
    /* No snapshot yet: (0, 0), empty metadata. */
    CHECK_OK(raftwal_log_snapshot(log, &idx, &term, buf, sizeof buf, &size));
    CHECK_EQ_U64(idx, 0);
    CHECK_EQ_U64(term, 0);
    CHECK_EQ_U64(size, 0);

    batch_make(&b, 1, 10, 1, MAXP);
    CHECK_OK(raftwal_log_append(log, b.e, b.n, NULL, 0));
    model_append(&m, b.e, b.n, NULL);
    batch_free(&b);
    batch_make(&b, 11, 10, 4, MAXP);
    CHECK_OK(raftwal_log_append(log, b.e, b.n, NULL, 0));
    model_append(&m, b.e, b.n, NULL);
    batch_free(&b);

    tu_payload_fill(conf, sizeof conf, 5, 5);
    CHECK_OK(raftwal_log_save_snapshot(log, 8, 1, conf, sizeof conf));
    model_snapshot(&m, 8, 1, conf, sizeof conf);
    check_and_reopen(&log, dir, &m);

    /* Index and term may be NULL; a too-small buffer gives ERANGE and the
     * size, and copies nothing. */
    memset(buf, 0xee, sizeof buf);
    CHECK_RC(raftwal_log_snapshot(log, NULL, NULL, buf, 10, &size), RAFTWAL_ERANGE);
    CHECK_EQ_U64(size, sizeof conf);
    CHECK_EQ_U64(buf[0], 0xee);

    /* Saving does not purge. */
    CHECK_OK(raftwal_log_purge(log, 8));
    model_purge(&m, 8);
    check_and_reopen(&log, dir, &m);
    CHECK_OK(raftwal_log_term(log, 8, &term));
    CHECK_EQ_U64(term, 1);
    CHECK_RC(raftwal_log_term(log, 7, &term), RAFTWAL_ECOMPACTED);

    /* A later snapshot with empty metadata; a lower index is refused. */
    CHECK_OK(raftwal_log_save_snapshot(log, 15, 4, NULL, 0));
    model_snapshot(&m, 15, 4, NULL, 0);
    check_and_reopen(&log, dir, &m);
    CHECK_RC(raftwal_log_save_snapshot(log, 14, 4, conf, sizeof conf), RAFTWAL_EINVAL);
    model_check(log, &m);

    /* Purge past the last index after a snapshot beyond it (installing a
     * leader's snapshot): empty log, term(snapshot) still answers. */
    CHECK_OK(raftwal_log_save_snapshot(log, 30, 6, conf, 1));
    model_snapshot(&m, 30, 6, conf, 1);
    CHECK_OK(raftwal_log_purge(log, 30));
    model_purge(&m, 30);
    check_and_reopen(&log, dir, &m);
    CHECK_OK(raftwal_log_term(log, 30, &term));
    CHECK_EQ_U64(term, 6);

    /* Appends continue at 31 with a term >= the snapshot's. */
    batch_make(&b, 31, 3, 6, MAXP);
    CHECK_OK(raftwal_log_append(log, b.e, b.n, NULL, 0));
    model_append(&m, b.e, b.n, NULL);
    batch_free(&b);
    check_and_reopen(&log, dir, &m);
    CHECK_OK(raftwal_log_close(log));
    model_free(&m);
}

static void test_readonly_sees_durable_state(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, 0), *ro;
    raftwal_hardstate hs = {5, 1, 4};
    uint64_t durable = 0;
    model m;
    batch b;

    model_init(&m);
    batch_make(&b, 1, 6, 5, MAXP);
    CHECK_OK(raftwal_log_append(log, b.e, b.n, &hs, 0));
    model_append(&m, b.e, b.n, &hs);
    batch_free(&b);

    /* A read-only handle opens beside the writer (no lock). */
    ro = open_log(dir, RAFTWAL_OPEN_READONLY, 0);
    model_check(ro, &m);
    CHECK_OK(raftwal_log_durable_index(ro, &durable));
    CHECK_EQ_U64(durable, 6);
    CHECK_OK(raftwal_log_close(ro));
    CHECK_OK(raftwal_log_close(log));

    ro = open_log(dir, RAFTWAL_OPEN_READONLY, 0);
    model_check(ro, &m);
    CHECK_OK(raftwal_log_close(ro));
    model_free(&m);
}

int main(int argc, char **argv)
{
    TU_RUN(argc, argv, test_create_empty);
    TU_RUN(argc, argv, test_append_with_and_without_hardstate);
    TU_RUN(argc, argv, test_metadata);
    TU_RUN(argc, argv, test_snapshot);
    TU_RUN(argc, argv, test_readonly_sees_durable_state);
    return 0;
}
