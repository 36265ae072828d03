/*
 * test_reads.c -- c_reads: raftwal_log_get() buffer rules (ERANGE and the
 * size needed), iterator ranges and their errors, the max_bytes cap (0 gives
 * exactly one entry, a cap in the middle stops at the last entry that fits,
 * RAFTWAL_NO_LIMIT gives all), iteration across segments, and iterators
 * that outlive a purge, a truncation or the log itself.
 */
#include "model.h"
#include "test_util.h"

#define SEG RAFTWAL_MIN_SEGMENT_SIZE

/* Appends n entries of exactly `size` bytes (payload of (index, term)). */
static void append_fixed(raftwal_log *log, uint64_t first, size_t n,
                         uint64_t term, size_t size)
{
    raftwal_entry *e = (raftwal_entry *)calloc(n, sizeof *e);
    unsigned char *buf = (unsigned char *)malloc(n * size + 1);
    size_t i;
    CHECK(e && buf);
    for (i = 0; i < n; i++) {
        e[i].index = first + i;
        e[i].term = term;
        e[i].type = 1;
        e[i].data = buf + i * size;
        e[i].size = size;
        tu_payload_fill(buf + i * size, size, first + i, term);
    }
    CHECK_OK(raftwal_log_append(log, e, n, NULL, 0));
    free(e);
    free(buf);
}

/* The number of entries an iterator over [lo, hi) with cap yields; checks
 * each entry's index and bytes (fixed size `size`). */
static uint64_t iter_count(raftwal_log *log, uint64_t lo, uint64_t hi,
                           uint64_t cap, size_t size)
{
    raftwal_iter *it = NULL;
    raftwal_entry e;
    uint64_t n = 0;
    int rc;
    CHECK_OK(raftwal_iter_open(&it, log, lo, hi, cap));
    while ((rc = raftwal_iter_next(it, &e)) == 1) {
        unsigned char want[1024];
        CHECK_EQ_U64(e.index, lo + n);
        CHECK_EQ_U64(e.size, size);
        tu_payload_fill(want, size, e.index, e.term);
        CHECK(memcmp(want, e.data, size) == 0);
        n++;
    }
    CHECK_RC(rc, 0);
    /* Exhausted stays exhausted. */
    CHECK_RC(raftwal_iter_next(it, &e), 0);
    raftwal_iter_close(it);
    return n;
}

static void test_iter_caps(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, SEG);
    append_fixed(log, 1, 100, 1, 100);
    append_fixed(log, 101, 200, 1, 100); /* fills more than one segment */

    CHECK_EQ_U64(iter_count(log, 1, 101, RAFTWAL_NO_LIMIT, 100), 100);
    CHECK_EQ_U64(iter_count(log, 1, 301, RAFTWAL_NO_LIMIT, 100), 300);
    CHECK_EQ_U64(iter_count(log, 77, 301, 150 * 100, 100), 150);
    CHECK_EQ_U64(iter_count(log, 1, 101, 0, 100), 1);
    CHECK_EQ_U64(iter_count(log, 50, 101, 0, 100), 1);
    CHECK_EQ_U64(iter_count(log, 1, 101, 99, 100), 1);
    CHECK_EQ_U64(iter_count(log, 1, 101, 100, 100), 1);
    CHECK_EQ_U64(iter_count(log, 1, 101, 199, 100), 1);
    CHECK_EQ_U64(iter_count(log, 1, 101, 200, 100), 2);
    CHECK_EQ_U64(iter_count(log, 1, 101, 250, 100), 2);
    CHECK_EQ_U64(iter_count(log, 10, 101, 2550, 100), 25);
    CHECK_EQ_U64(iter_count(log, 1, 101, 10000, 100), 100);
    CHECK_EQ_U64(iter_count(log, 1, 101, 9999, 100), 99);
    CHECK_EQ_U64(iter_count(log, 1, 11, 5000, 100), 10);
    /* Empty ranges. */
    CHECK_EQ_U64(iter_count(log, 1, 1, RAFTWAL_NO_LIMIT, 100), 0);
    CHECK_EQ_U64(iter_count(log, 101, 101, 0, 100), 0);
    /* Across many segments. */
    {
        raftwal_stats s = get_stats(log);
        CHECK(s.segments >= 2);
    }
    CHECK_OK(raftwal_log_close(log));
}

/* The cap counts data bytes only, like etcd's limitSize: the first entry
 * always comes; later ones only while the running total stays within the
 * cap, so empty entries fit in a cap of 0 unless an earlier one broke it. */
static void test_iter_cap_with_empty_entries(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, 0);
    raftwal_entry e[5];
    raftwal_iter *it = NULL;
    raftwal_entry out;
    static const size_t sizes[5] = {10, 0, 0, 5, 0};
    uint64_t n;
    int i;
    memset(e, 0, sizeof e);
    for (i = 0; i < 5; i++) {
        e[i].index = 1 + (uint64_t)i;
        e[i].term = 1;
        e[i].data = sizes[i] ? "0123456789" : NULL;
        e[i].size = sizes[i];
    }
    CHECK_OK(raftwal_log_append(log, e, 5, NULL, 0));
    CHECK_OK(raftwal_iter_open(&it, log, 1, 6, 0));
    for (n = 0; raftwal_iter_next(it, &out) == 1; n++)
        ;
    raftwal_iter_close(it);
    CHECK_EQ_U64(n, 1); /* the one always given: its 10 bytes exceed the cap */
    CHECK_OK(raftwal_iter_open(&it, log, 2, 6, 0));
    for (n = 0; raftwal_iter_next(it, &out) == 1; n++)
        ;
    raftwal_iter_close(it);
    CHECK_EQ_U64(n, 2); /* 0, 0; then 5 > 0 */
    CHECK_OK(raftwal_log_close(log));
}

static void test_iter_errors(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, SEG);
    raftwal_iter *it = (raftwal_iter *)&it;
    raftwal_entry e;

    append_fixed(log, 1, 30, 1, 10);
    CHECK_OK(raftwal_log_purge(log, 5));
    CHECK_RC(raftwal_iter_open(&it, log, 4, 10, 0), RAFTWAL_ECOMPACTED);
    CHECK_RC(raftwal_iter_open(&it, log, 6, 32, 0), RAFTWAL_EUNAVAILABLE);
    CHECK_RC(raftwal_iter_open(&it, log, 10, 9, 0), RAFTWAL_EINVAL);
    CHECK_RC(raftwal_iter_open(NULL, log, 6, 9, 0), RAFTWAL_EINVAL);
    CHECK_RC(raftwal_iter_open(&it, NULL, 6, 9, 0), RAFTWAL_EINVAL);
    /* Past last + 1 is unavailable even when empty (issue 19): [31, 31)
     * and [32, 32) are not alike, as [31, 32) and [32, 33) are not. */
    CHECK_RC(raftwal_iter_open(&it, log, 32, 32, 0), RAFTWAL_EUNAVAILABLE);
    CHECK_RC(raftwal_iter_open(&it, log, 40, 40, 0), RAFTWAL_EUNAVAILABLE);
    CHECK_RC(raftwal_iter_open(&it, log, 30, 32, 0), RAFTWAL_EUNAVAILABLE);
    CHECK_OK(raftwal_iter_open(&it, log, 31, 31, 0));
    CHECK_RC(raftwal_iter_next(it, &e), 0);
    raftwal_iter_close(it);
    /* One entry asked for past the end: the message names it, as
     * raftwal_log_get's does, not the range's end. */
    CHECK_RC(raftwal_iter_open(&it, log, 35, 36, 0), RAFTWAL_EUNAVAILABLE);
    CHECK_MSG(strstr(raftwal_errmsg(), "index 35 ") != NULL, "message: %s", raftwal_errmsg());
    CHECK_RC(raftwal_log_get(log, 35, &e, NULL, 0), RAFTWAL_EUNAVAILABLE);
    CHECK_MSG(strstr(raftwal_errmsg(), "index 35 ") != NULL, "message: %s", raftwal_errmsg());
    CHECK_OK(raftwal_iter_open(&it, log, 6, 31, 0));
    CHECK_RC(raftwal_iter_next(it, NULL), RAFTWAL_EINVAL);
    CHECK_RC(raftwal_iter_next(NULL, &e), RAFTWAL_EINVAL);
    raftwal_iter_close(it);
    raftwal_iter_close(NULL);
    CHECK_OK(raftwal_log_close(log));
}

static void test_get_buffer_rules(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, 0);
    raftwal_entry in[2], out;
    unsigned char data[300], buf[300];
    raftwal_stats s0, s1;

    tu_payload_fill(data, sizeof data, 1, 1);
    memset(in, 0, sizeof in);
    in[0].index = 1;
    in[0].term = 1;
    in[0].type = 3;
    in[0].data = data;
    in[0].size = sizeof data;
    in[1].index = 2;
    in[1].term = 1;
    in[1].type = 4;
    in[1].data = NULL;
    in[1].size = 0;
    CHECK_OK(raftwal_log_append(log, in, 2, NULL, 0));

    s0 = get_stats(log);
    /* Size query with no buffer. */
    memset(&out, 0, sizeof out);
    CHECK_RC(raftwal_log_get(log, 1, &out, NULL, 0), RAFTWAL_ERANGE);
    CHECK_EQ_U64(out.size, sizeof data);
    /* One byte short: ERANGE, size needed, nothing copied. */
    memset(buf, 0xcc, sizeof buf);
    memset(&out, 0, sizeof out);
    CHECK_RC(raftwal_log_get(log, 1, &out, buf, sizeof data - 1), RAFTWAL_ERANGE);
    CHECK_EQ_U64(out.size, sizeof data);
    /* Exactly enough. */
    memset(&out, 0, sizeof out);
    CHECK_OK(raftwal_log_get(log, 1, &out, buf, sizeof data));
    CHECK_EQ_U64(out.index, 1);
    CHECK_EQ_U64(out.term, 1);
    CHECK_EQ_U64(out.type, 3);
    CHECK_EQ_U64(out.flags, 0);
    CHECK_EQ_U64(out.size, sizeof data);
    CHECK(out.data == buf);
    CHECK(memcmp(buf, data, sizeof data) == 0);
    /* An empty entry needs no buffer. */
    memset(&out, 0xff, sizeof out);
    CHECK_OK(raftwal_log_get(log, 2, &out, NULL, 0));
    CHECK_EQ_U64(out.index, 2);
    CHECK_EQ_U64(out.type, 4);
    CHECK_EQ_U64(out.size, 0);
    /* Invalid arguments. */
    CHECK_RC(raftwal_log_get(log, 1, NULL, buf, sizeof buf), RAFTWAL_EINVAL);
    CHECK_RC(raftwal_log_get(NULL, 1, &out, buf, sizeof buf), RAFTWAL_EINVAL);
    CHECK_RC(raftwal_log_get(log, 3, &out, buf, sizeof buf), RAFTWAL_EUNAVAILABLE);
    CHECK_RC(raftwal_log_get(log, 0, &out, buf, sizeof buf), RAFTWAL_ECOMPACTED);

    s1 = get_stats(log);
    CHECK_MSG(s1.reads > s0.reads, "reads counter did not move (%" PRIu64 ")", s1.reads);
    CHECK_OK(raftwal_log_close(log));
}

static void test_iter_outlives_changes(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, SEG);
    raftwal_iter *it1 = NULL, *it2 = NULL, *it3 = NULL;
    raftwal_entry e;
    unsigned char want[100];
    uint64_t n = 0;
    int rc;

    for (n = 0; n < 600; n += 50)
        append_fixed(log, 1 + n, 50, 1, 100);
    CHECK(get_stats(log).segments >= 3);

    /* it1 reads the first entries, then everything up to 400 is purged and
     * the files deleted while it holds them. */
    CHECK_OK(raftwal_iter_open(&it1, log, 1, 601, RAFTWAL_NO_LIMIT));
    CHECK_RC(raftwal_iter_next(it1, &e), 1);
    CHECK_EQ_U64(e.index, 1);
    CHECK_OK(raftwal_log_purge(log, 400));
    CHECK(get_stats(log).segments_deleted >= 1);
    /* Entries are read as of each next(): 2 is gone now. */
    CHECK_RC(raftwal_iter_next(it1, &e), RAFTWAL_ECOMPACTED);
    raftwal_iter_close(it1);

    /* An iterator keeps working across a purge of the entries it has
     * already returned, even when their files are deleted. */
    CHECK_OK(raftwal_iter_open(&it1, log, 401, 601, RAFTWAL_NO_LIMIT));
    n = 401;
    while ((rc = raftwal_iter_next(it1, &e)) == 1) {
        tu_payload_fill(want, 100, e.index, 1);
        CHECK_EQ_U64(e.index, n);
        CHECK(e.size == 100 && memcmp(e.data, want, 100) == 0);
        if (n == 480) /* deletes the file e.data may point into */
            CHECK_OK(raftwal_log_purge(log, 480));
        n++;
    }
    CHECK_RC(rc, 0);
    CHECK_EQ_U64(n, 601);
    raftwal_iter_close(it1);

    /* it2 over the tail, then the tail is truncated: EUNAVAILABLE. */
    CHECK_OK(raftwal_iter_open(&it2, log, 500, 601, RAFTWAL_NO_LIMIT));
    CHECK_RC(raftwal_iter_next(it2, &e), 1);
    CHECK_OK(raftwal_log_truncate(log, 550));
    n = 501;
    while ((rc = raftwal_iter_next(it2, &e)) == 1) {
        CHECK_EQ_U64(e.index, n);
        n++;
    }
    CHECK_RC(rc, RAFTWAL_EUNAVAILABLE);
    CHECK_EQ_U64(n, 550);
    raftwal_iter_close(it2);

    /* it3 outlives the log: ECLOSED, and closing it afterwards is fine. */
    CHECK_OK(raftwal_iter_open(&it3, log, 500, 540, RAFTWAL_NO_LIMIT));
    CHECK_RC(raftwal_iter_next(it3, &e), 1);
    CHECK_OK(raftwal_log_close(log));
    CHECK_RC(raftwal_iter_next(it3, &e), RAFTWAL_ECLOSED);
    raftwal_iter_close(it3);
}

int main(int argc, char **argv)
{
    TU_RUN(argc, argv, test_iter_caps);
    TU_RUN(argc, argv, test_iter_cap_with_empty_entries);
    TU_RUN(argc, argv, test_iter_errors);
    TU_RUN(argc, argv, test_get_buffer_rules);
    TU_RUN(argc, argv, test_iter_outlives_changes);
    return 0;
}
