/*
 * test_encryption_edges.c -- c_encryption_edges: edge cases of encrypted
 * and compressed logs (docs/format.md §7) found by breaking them.
 *
 *   - an empty entry (Raft's leader no-op) of an encrypted log reads back
 *     through an iterator whose first entry it is, and through
 *     raftwal_log_get with no buffer: a sealed record with no data is a
 *     tag alone, and opening it must not need a buffer;
 *   - raftwal_repair_opts with the key checks (and would repair) an
 *     encrypted log; without it, RAFTWAL_EKEY.
 */
#include "test_util.h"

static unsigned char key[32];

static raftwal_log *open_enc(const char *dir, unsigned flags)
{
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    raftwal_log *log = NULL;
    o.flags = flags;
    o.key = key;
    o.key_size = sizeof key;
    CHECK_OK(raftwal_log_open(&log, dir, &o));
    return log;
}

static void read_empty_first(raftwal_log *log)
{
    raftwal_entry e;
    raftwal_iter *it;
    CHECK_OK(raftwal_iter_open(&it, log, 1, 3, RAFTWAL_NO_LIMIT));
    CHECK_RC(raftwal_iter_next(it, &e), 1);
    CHECK_EQ_U64(e.index, 1);
    CHECK_EQ_U64(e.size, 0);
    CHECK_RC(raftwal_iter_next(it, &e), 1);
    CHECK_EQ_U64(e.index, 2);
    CHECK(e.size == 5 && memcmp(e.data, "hello", 5) == 0);
    CHECK_RC(raftwal_iter_next(it, &e), 0);
    raftwal_iter_close(it);
    memset(&e, 0, sizeof e);
    CHECK_OK(raftwal_log_get(log, 1, &e, NULL, 0));
    CHECK_EQ_U64(e.size, 0);
}

static void test_empty_entry(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_enc(dir, RAFTWAL_OPEN_CREATE);
    raftwal_entry e[2] = {{1, 1, 0, 0, NULL, 0}, {2, 1, 0, 0, "hello", 5}};
    CHECK_OK(raftwal_log_append(log, e, 2, NULL, 0));
    read_empty_first(log);
    CHECK_OK(raftwal_log_close(log));
    log = open_enc(dir, RAFTWAL_OPEN_READONLY);
    read_empty_first(log);
    CHECK_OK(raftwal_log_close(log));
}

static void test_repair_with_key(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_enc(dir, RAFTWAL_OPEN_CREATE);
    raftwal_entry e = {1, 1, 0, 0, "one", 3};
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    raftwal_check ck;
    uint64_t last;
    CHECK_OK(raftwal_log_append(log, &e, 1, NULL, 0));
    CHECK_OK(raftwal_log_close(log));
    o.key = key;
    o.key_size = sizeof key;
    memset(&ck, 0, sizeof ck);
    ck.size = sizeof ck;
    CHECK_OK(raftwal_repair_opts(dir, &o, &ck));
    CHECK_EQ_U64(ck.encrypted, 1);
    CHECK_RC(raftwal_repair_opts(dir, NULL, &ck), RAFTWAL_EKEY);
    log = open_enc(dir, 0);
    CHECK_OK(raftwal_log_last_index(log, &last));
    CHECK_EQ_U64(last, 1);
    CHECK_OK(raftwal_log_close(log));
}

int main(void)
{
    if (!(raftwal_features() & RAFTWAL_FEATURE_ENCRYPTION)) {
        printf("SKIP: no encryption in this build\n");
        return 77;
    }
    memset(key, 0x3c, sizeof key);
    test_empty_entry();
    test_repair_with_key();
    return 0;
}
