/*
 * test_errors.c -- c_errors: every error code a caller can provoke with
 * arguments (EINVAL, ECOMPACTED, EUNAVAILABLE, EGAP, ETERM, ECOMMITTED,
 * ERANGE, EREADONLY, ENOTFOUND). Each refusal leaves a detailed message in
 * raftwal_errmsg() and leaves the log exactly as it was. ELOCKED is in
 * c_lock, ECLOSED in c_reads, ECORRUPT/EVERSION in c_corruption.
 */
#include "model.h"
#include "test_util.h"

/* A refused call: the code, a message, and no change to the log. */
#define EXPECT_ERR(call, code)                                                  \
    do {                                                                        \
        CHECK_RC(call, code);                                                   \
        CHECK_MSG(*raftwal_errmsg() != '\0', "no errmsg after %s", #call);      \
    } while (0)

static raftwal_entry mk(uint64_t index, uint64_t term)
{
    raftwal_entry e;
    memset(&e, 0, sizeof e);
    e.index = index;
    e.term = term;
    e.data = "x";
    e.size = 1;
    return e;
}

static void test_open_errors(void)
{
    const char *dir = tu_tmpdir();
    raftwal_options o;
    raftwal_log *log = (raftwal_log *)&o;
    char path[1024];

    /* NULLs. out is set to NULL on failure. */
    EXPECT_ERR(raftwal_log_open(NULL, dir, NULL), RAFTWAL_EINVAL);
    EXPECT_ERR(raftwal_log_open(&log, NULL, NULL), RAFTWAL_EINVAL);
    CHECK(log == NULL);

    /* Options version. */
    CHECK_OK(raftwal_options_init(&o, RAFTWAL_OPTIONS_VERSION));
    o.version = 0;
    EXPECT_ERR(raftwal_log_open(&log, dir, &o), RAFTWAL_EINVAL);
    o.version = RAFTWAL_OPTIONS_VERSION + 1;
    EXPECT_ERR(raftwal_log_open(&log, dir, &o), RAFTWAL_EINVAL);

    /* Segment size range. */
    CHECK_OK(raftwal_options_init(&o, RAFTWAL_OPTIONS_VERSION));
    o.segment_size = RAFTWAL_MIN_SEGMENT_SIZE - 1;
    EXPECT_ERR(raftwal_log_open(&log, dir, &o), RAFTWAL_EINVAL);
    o.segment_size = 1;
    EXPECT_ERR(raftwal_log_open(&log, dir, &o), RAFTWAL_EINVAL);
    o.segment_size = (uint64_t)RAFTWAL_MAX_SEGMENT_SIZE + 1;
    EXPECT_ERR(raftwal_log_open(&log, dir, &o), RAFTWAL_EINVAL);
    o.segment_size = UINT64_MAX;
    EXPECT_ERR(raftwal_log_open(&log, dir, &o), RAFTWAL_EINVAL);

    /* Initial metadata too large; metadata NULL with a size. */
    CHECK_OK(raftwal_options_init(&o, RAFTWAL_OPTIONS_VERSION));
    {
        void *big = malloc((size_t)RAFTWAL_MAX_META_SIZE + 1); /* never read */
        CHECK(big != NULL);
        o.metadata = big;
        o.metadata_size = (size_t)RAFTWAL_MAX_META_SIZE + 1;
        EXPECT_ERR(raftwal_log_open(&log, tu_path(path, dir, "m"), &o),
                   RAFTWAL_EINVAL);
        free(big);
    }
    o.metadata = NULL;
    o.metadata_size = 10;
    EXPECT_ERR(raftwal_log_open(&log, tu_path(path, dir, "m"), &o), RAFTWAL_EINVAL);

    /* A missing directory without CREATE; an empty existing one too;
     * read-only opens and the offline checks agree. */
    CHECK_OK(raftwal_options_init(&o, RAFTWAL_OPTIONS_VERSION));
    o.flags = 0;
    EXPECT_ERR(raftwal_log_open(&log, tu_path(path, dir, "missing"), &o),
               RAFTWAL_ENOTFOUND);
    CHECK(log == NULL);
    EXPECT_ERR(raftwal_log_open(&log, dir, &o), RAFTWAL_ENOTFOUND);
    o.flags = RAFTWAL_OPEN_READONLY;
    EXPECT_ERR(raftwal_log_open(&log, tu_path(path, dir, "missing"), &o),
               RAFTWAL_ENOTFOUND);
    /* READONLY | CREATE cannot create anything. */
    o.flags = RAFTWAL_OPEN_READONLY | RAFTWAL_OPEN_CREATE;
    CHECK(raftwal_log_open(&log, tu_path(path, dir, "ro-create"), &o) != 0);
    CHECK(log == NULL);
    EXPECT_ERR(raftwal_verify(tu_path(path, dir, "missing"), NULL), RAFTWAL_ENOTFOUND);
    EXPECT_ERR(raftwal_repair(tu_path(path, dir, "missing"), NULL), RAFTWAL_ENOTFOUND);
    EXPECT_ERR(raftwal_verify(NULL, NULL), RAFTWAL_EINVAL);
    EXPECT_ERR(raftwal_repair(NULL, NULL), RAFTWAL_EINVAL);

    /* None of that created a log. */
    o.flags = 0;
    EXPECT_ERR(raftwal_log_open(&log, dir, &o), RAFTWAL_ENOTFOUND);
}

static void test_append_errors(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, 0);
    raftwal_entry e[4];
    raftwal_hardstate hs = {1, 0, 0};
    model m;
    batch b;
    model_init(&m);

    batch_make(&b, 1, 10, 2, 100);
    CHECK_OK(raftwal_log_append(log, b.e, b.n, NULL, 0));
    model_append(&m, b.e, b.n, NULL);
    batch_free(&b);

    /* NULLs. */
    e[0] = mk(11, 2);
    EXPECT_ERR(raftwal_log_append(NULL, e, 1, NULL, 0), RAFTWAL_EINVAL);
    EXPECT_ERR(raftwal_log_append(log, NULL, 1, NULL, 0), RAFTWAL_EINVAL);
    /* Reserved flags in an entry. */
    e[0].flags = 1;
    EXPECT_ERR(raftwal_log_append(log, e, 1, NULL, 0), RAFTWAL_EINVAL);
    /* data NULL with a size. */
    e[0] = mk(11, 2);
    e[0].data = NULL;
    EXPECT_ERR(raftwal_log_append(log, e, 1, NULL, 0), RAFTWAL_EINVAL);
    /* Too many entries in one batch (checked before reading them). */
    e[0] = mk(11, 2);
    EXPECT_ERR(raftwal_log_append(log, e, (size_t)RAFTWAL_MAX_BATCH_ENTRIES + 1, NULL, 0),
               RAFTWAL_EINVAL);
    /* An oversized entry (the buffer is never read). */
    {
        void *big = malloc((size_t)RAFTWAL_MAX_ENTRY_SIZE + 1);
        CHECK(big != NULL);
        e[0] = mk(11, 2);
        e[0].data = big;
        e[0].size = (size_t)RAFTWAL_MAX_ENTRY_SIZE + 1;
        EXPECT_ERR(raftwal_log_append(log, e, 1, NULL, 0), RAFTWAL_EINVAL);
        e[0].size = SIZE_MAX;
        EXPECT_ERR(raftwal_log_append(log, e, 1, NULL, 0), RAFTWAL_EINVAL);
        free(big);
    }
    /* Commit beyond the last index after the batch. */
    e[0] = mk(11, 2);
    hs.commit = 12;
    EXPECT_ERR(raftwal_log_append(log, e, 1, &hs, 0), RAFTWAL_EINVAL);
    EXPECT_ERR(raftwal_log_set_hardstate(log, &hs, 0), RAFTWAL_EINVAL);
    EXPECT_ERR(raftwal_log_set_hardstate(log, NULL, 0), RAFTWAL_EINVAL);
    EXPECT_ERR(raftwal_log_set_hardstate(NULL, &hs, 0), RAFTWAL_EINVAL);

    /* Gaps: within the batch and against the log. */
    e[0] = mk(11, 2);
    e[1] = mk(12, 2);
    e[2] = mk(14, 2);
    EXPECT_ERR(raftwal_log_append(log, e, 3, NULL, 0), RAFTWAL_EGAP);
    e[1] = mk(11, 2);
    EXPECT_ERR(raftwal_log_append(log, e, 2, NULL, 0), RAFTWAL_EGAP);
    e[0] = mk(13, 2);
    EXPECT_ERR(raftwal_log_append(log, e, 1, NULL, 0), RAFTWAL_EGAP);
    /* Indexes run from 1 to RAFTWAL_MAX_INDEX. */
    e[0] = mk(UINT64_MAX, 2);
    EXPECT_ERR(raftwal_log_append(log, e, 1, NULL, 0), RAFTWAL_EINVAL);
    e[0] = mk(0, 2);
    EXPECT_ERR(raftwal_log_append(log, e, 1, NULL, 0), RAFTWAL_EINVAL);
    EXPECT_ERR(raftwal_log_purge(log, RAFTWAL_MAX_INDEX + 1), RAFTWAL_EINVAL);

    /* Terms: against the predecessor and within the batch. */
    e[0] = mk(11, 1);
    EXPECT_ERR(raftwal_log_append(log, e, 1, NULL, 0), RAFTWAL_ETERM);
    e[0] = mk(5, 1); /* overwrite: entry 4 has term 2 */
    EXPECT_ERR(raftwal_log_append(log, e, 1, NULL, 0), RAFTWAL_ETERM);
    e[0] = mk(11, 3);
    e[1] = mk(12, 2);
    EXPECT_ERR(raftwal_log_append(log, e, 2, NULL, 0), RAFTWAL_ETERM);

    /* The log did not change. */
    model_check(log, &m);
    reopen_log(&log, dir, 0, 0);
    model_check(log, &m);

    /* Commit protects entries from overwrite and truncation. */
    hs.commit = 7;
    CHECK_OK(raftwal_log_set_hardstate(log, &hs, 0));
    model_append(&m, NULL, 0, &hs);
    e[0] = mk(7, 3);
    EXPECT_ERR(raftwal_log_append(log, e, 1, NULL, 0), RAFTWAL_ECOMMITTED);
    e[0] = mk(2, 3);
    EXPECT_ERR(raftwal_log_append(log, e, 1, NULL, 0), RAFTWAL_ECOMMITTED);
    EXPECT_ERR(raftwal_log_truncate(log, 7), RAFTWAL_ECOMMITTED);
    EXPECT_ERR(raftwal_log_truncate(log, 1), RAFTWAL_ECOMMITTED);
    model_check(log, &m);

    /* Below the first index. */
    CHECK_OK(raftwal_log_purge(log, 5));
    model_purge(&m, 5);
    e[0] = mk(5, 3);
    e[1] = mk(6, 3);
    /* 5 < first: ECOMPACTED (5 <= commit as well; either refusal is
     * acceptable, as long as nothing changes). */
    {
        int rc = raftwal_log_append(log, e, 2, NULL, 0);
        CHECK_MSG(rc == RAFTWAL_ECOMPACTED || rc == RAFTWAL_ECOMMITTED, "rc %d", rc);
    }
    model_check(log, &m);

    /* ETERM against the snapshot once the log is empty. */
    CHECK_OK(raftwal_log_save_snapshot(log, 20, 5, NULL, 0));
    model_snapshot(&m, 20, 5, NULL, 0);
    CHECK_OK(raftwal_log_purge(log, 20));
    model_purge(&m, 20);
    e[0] = mk(21, 4);
    EXPECT_ERR(raftwal_log_append(log, e, 1, NULL, 0), RAFTWAL_ETERM);
    e[0] = mk(21, 5);
    CHECK_OK(raftwal_log_append(log, e, 1, NULL, 0));
    model_append(&m, e, 1, NULL);
    reopen_log(&log, dir, 0, 0);
    model_check(log, &m);

    CHECK_OK(raftwal_log_close(log));
    model_free(&m);
}

static void test_other_call_errors(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, 0);
    raftwal_hardstate hs;
    raftwal_entry e[1];
    raftwal_stats st;
    uint64_t v;
    size_t size = 0;
    char buf[64];
    void *big = malloc((size_t)RAFTWAL_MAX_META_SIZE + 1);

    CHECK(big != NULL);
    e[0] = mk(1, 1);
    CHECK_OK(raftwal_log_append(log, e, 1, NULL, 0));
    CHECK_OK(raftwal_log_set_metadata(log, "0123456789", 10));
    CHECK_OK(raftwal_log_save_snapshot(log, 1, 1, "abcdef", 6));

    EXPECT_ERR(raftwal_log_first_index(log, NULL), RAFTWAL_EINVAL);
    EXPECT_ERR(raftwal_log_first_index(NULL, &v), RAFTWAL_EINVAL);
    EXPECT_ERR(raftwal_log_last_index(log, NULL), RAFTWAL_EINVAL);
    EXPECT_ERR(raftwal_log_durable_index(log, NULL), RAFTWAL_EINVAL);
    EXPECT_ERR(raftwal_log_term(log, 1, NULL), RAFTWAL_EINVAL);
    EXPECT_ERR(raftwal_log_term(log, 2, &v), RAFTWAL_EUNAVAILABLE);
    EXPECT_ERR(raftwal_log_hardstate(log, NULL), RAFTWAL_EINVAL);
    EXPECT_ERR(raftwal_log_hardstate(NULL, &hs), RAFTWAL_EINVAL);
    EXPECT_ERR(raftwal_log_sync(NULL), RAFTWAL_EINVAL);

    /* Metadata and snapshot buffers. */
    EXPECT_ERR(raftwal_log_metadata(log, buf, 9, &size), RAFTWAL_ERANGE);
    CHECK_EQ_U64(size, 10);
    EXPECT_ERR(raftwal_log_metadata(log, buf, sizeof buf, NULL), RAFTWAL_EINVAL);
    EXPECT_ERR(raftwal_log_snapshot(log, &v, &v, buf, 5, &size), RAFTWAL_ERANGE);
    CHECK_EQ_U64(size, 6);
    EXPECT_ERR(raftwal_log_set_metadata(log, big, (size_t)RAFTWAL_MAX_META_SIZE + 1),
               RAFTWAL_EINVAL);
    EXPECT_ERR(raftwal_log_set_metadata(log, NULL, 3), RAFTWAL_EINVAL);
    EXPECT_ERR(raftwal_log_save_snapshot(log, 2, 1, big,
                                         (size_t)RAFTWAL_MAX_META_SIZE + 1),
               RAFTWAL_EINVAL);
    EXPECT_ERR(raftwal_log_save_snapshot(log, 0, 1, NULL, 0), RAFTWAL_EINVAL);

    /* Stats and segment info sizes. */
    EXPECT_ERR(raftwal_log_stats(log, NULL), RAFTWAL_EINVAL);
    st.size = 4;
    EXPECT_ERR(raftwal_log_stats(log, &st), RAFTWAL_EINVAL);
    /* A shorter (older) struct is filled only as far as it goes. */
    memset(&st, 0xee, sizeof st);
    st.size = 24; /* size, reserved, first_index, last_index */
    CHECK_OK(raftwal_log_stats(log, &st));
    CHECK_EQ_U64(st.first_index, 1);
    CHECK_EQ_U64(st.last_index, 1);
    CHECK_EQ_U64(st.durable_index, 0xeeeeeeeeeeeeeeeeull);

    /* Nothing above changed the log. */
    size = 0;
    CHECK_OK(raftwal_log_metadata(log, buf, sizeof buf, &size));
    CHECK(size == 10 && memcmp(buf, "0123456789", 10) == 0);
    free(big);
    CHECK_OK(raftwal_log_close(log));
}

static void test_readonly_refuses_changes(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, 0);
    raftwal_hardstate hs = {1, 0, 0};
    raftwal_entry e[2];
    model m;

    model_init(&m);
    e[0] = mk(1, 1);
    e[1] = mk(2, 1);
    CHECK_OK(raftwal_log_append(log, e, 2, NULL, 0));
    model_append(&m, e, 2, NULL);
    CHECK_OK(raftwal_log_close(log));

    log = open_log(dir, RAFTWAL_OPEN_READONLY, 0);
    e[0] = mk(3, 1);
    EXPECT_ERR(raftwal_log_append(log, e, 1, NULL, 0), RAFTWAL_EREADONLY);
    EXPECT_ERR(raftwal_log_append(log, NULL, 0, &hs, 0), RAFTWAL_EREADONLY);
    EXPECT_ERR(raftwal_log_set_hardstate(log, &hs, 0), RAFTWAL_EREADONLY);
    EXPECT_ERR(raftwal_log_truncate(log, 2), RAFTWAL_EREADONLY);
    EXPECT_ERR(raftwal_log_purge(log, 1), RAFTWAL_EREADONLY);
    EXPECT_ERR(raftwal_log_save_snapshot(log, 1, 1, NULL, 0), RAFTWAL_EREADONLY);
    EXPECT_ERR(raftwal_log_set_metadata(log, "x", 1), RAFTWAL_EREADONLY);
    EXPECT_ERR(raftwal_log_sync(log), RAFTWAL_EREADONLY);
    model_check(log, &m);
    CHECK_OK(raftwal_log_close(log));

    log = open_log(dir, 0, 0);
    model_check(log, &m);
    CHECK_OK(raftwal_log_close(log));
    model_free(&m);
}

int main(int argc, char **argv)
{
    TU_RUN(argc, argv, test_open_errors);
    TU_RUN(argc, argv, test_append_errors);
    TU_RUN(argc, argv, test_other_call_errors);
    TU_RUN(argc, argv, test_readonly_refuses_changes);
    return 0;
}
