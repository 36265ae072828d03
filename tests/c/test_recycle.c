/*
 * test_recycle.c -- c_recycle: purged segment files are reused for new
 * segments (kept as NNN.spare, at most two, instead of zero-filling new
 * files), and reuse never lets the stale bytes they carry come back:
 *   - a log purged behind itself recycles nearly every new segment, keeps
 *     at most two spares, and reopens clean (the stale bytes after the
 *     records are not a torn tail) and verifies;
 *   - a batch torn at every byte offset inside a recycled segment, with
 *     the file's old bytes (valid records of an earlier salt) after the
 *     cut, recovers to the previous batch, and the log goes on from there;
 *   - a segment an iterator holds is not recycled under its views;
 *   - a segment file a read-only handle maps is not recycled at all (it
 *     is deleted; the reader's mapping keeps its bytes: c_reader_recycle
 *     has readers in other processes); a segment file a batch grew keeps
 *     its length when recycled; the writer still rotates out of it at the
 *     configured size;
 *   - a spare over twice the segment size (a log reopened with smaller
 *     segments) is deleted and a new file made instead.
 */
#include <dirent.h>

#include "model.h"
#include "test_util.h"

#define SEG RAFTWAL_MIN_SEGMENT_SIZE
#define MAXP 500
#define MAX_SPARES 2 /* RW_MAX_SPARES in src/log.h */

static void append(raftwal_log *log, model *m, size_t n)
{
    batch b;
    batch_make(&b, m->last + 1, n, 1, MAXP);
    CHECK_OK(raftwal_log_append(log, b.e, b.n, NULL, 0));
    model_append(m, b.e, b.n, NULL);
    batch_free(&b);
}

static raftwal_segment_info active_seg(raftwal_log *log)
{
    return get_segment_info(log, (size_t)get_stats(log).segments - 1);
}

/* Purges every entry before the active segment, as a node compacting
 * behind its snapshot would. */
static void purge_behind(raftwal_log *log, model *m)
{
    raftwal_segment_info a = active_seg(log);
    uint64_t upto = a.first_index - 1;
    if (upto >= m->first && upto <= m->last) {
        CHECK_OK(raftwal_log_purge(log, upto));
        model_purge(m, upto);
    }
}

static int count_suffix(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    CHECK(d != NULL);
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name), sl = strlen(suffix);
        n += len > sl && strcmp(de->d_name + len - sl, suffix) == 0;
    }
    closedir(d);
    return n;
}

static uint32_t header_flags(const char *dir, uint64_t seq)
{
    char name[64], path[1024];
    size_t size;
    unsigned char *buf;
    uint32_t flags;
    snprintf(name, sizeof name, "%016" PRIx64 ".wal", seq);
    buf = tu_read_file(tu_path(path, dir, name), &size);
    CHECK(size >= 64);
    flags = tu_le32(buf + 56);
    free(buf);
    return flags;
}

/* Appends and purges behind until `rotations` more segments were started. */
static void run_steady(raftwal_log *log, model *m, uint64_t rotations)
{
    uint64_t until = get_stats(log).rotations + rotations;
    while (get_stats(log).rotations < until) {
        uint64_t before = get_stats(log).rotations;
        append(log, m, 1 + tu_rand_range(0, 4));
        if (get_stats(log).rotations != before)
            purge_behind(log, m);
    }
}

static void test_steady_state(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, SEG);
    raftwal_stats s;
    raftwal_check chk;
    model m;
    model_init(&m);
    run_steady(log, &m, 40);
    s = get_stats(log);
    /* The first rotations had nothing purged yet to reuse; after that
     * every new segment should come from a spare. */
    CHECK_MSG(s.segments_recycled >= 30, "only %" PRIu64 " of %" PRIu64 " new segments recycled",
              s.segments_recycled, s.rotations);
    CHECK(s.segments_deleted >= s.segments_recycled);
    CHECK(count_suffix(dir, ".spare") <= MAX_SPARES);
    CHECK(header_flags(dir, active_seg(log).seq) & 1u);
    model_check(log, &m);

    reopen_log(&log, dir, 0, SEG);
    model_check(log, &m);
    s = get_stats(log);
    CHECK_EQ_U64(s.torn_tails, 0); /* stale bytes are not a torn tail */
    CHECK_EQ_U64(s.torn_bytes, 0);
    /* Spares found at open are used too. */
    run_steady(log, &m, 5);
    CHECK(get_stats(log).segments_recycled >= 3);
    model_check(log, &m);
    raftwal_log_close(log);

    memset(&chk, 0, sizeof chk);
    chk.size = sizeof chk;
    CHECK_OK(raftwal_verify(dir, &chk));
    log = open_log(dir, RAFTWAL_OPEN_READONLY, 0);
    model_check(log, &m);
    raftwal_log_close(log);
    model_free(&m);
}

/* Cuts the last batch of a recycled segment at every byte offset, the rest
 * of the file keeping the bytes it had before that batch (the stale
 * records of its earlier life included). */
static void test_torn_in_recycled(void)
{
    const char *dir = tu_tmpdir(), *before = tu_tmpdir(), *work = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, SEG);
    raftwal_segment_info a;
    model m, m_before;
    char name[64], path[1024];
    unsigned char *old_img, *new_img;
    size_t old_size, new_size, nonzero = 0;
    uint64_t start, end, cut, rot;
    model_init(&m);
    run_steady(log, &m, 6);
    CHECK(get_stats(log).segments_recycled >= 1);
    a = active_seg(log);
    CHECK(header_flags(dir, a.seq) & 1u);
    append(log, &m, 1); /* a batch so the cut below is not at the checkpoint */
    a = active_seg(log);
    start = a.used_bytes;
    model_copy(&m_before, &m);
    tu_copy_dir(dir, before);
    rot = get_stats(log).rotations;
    append(log, &m, 3);
    CHECK_EQ_U64(get_stats(log).rotations, rot); /* same segment */
    end = active_seg(log).used_bytes;
    CHECK(end > start);
    raftwal_log_close(log);

    snprintf(name, sizeof name, "%016" PRIx64 ".wal", a.seq);
    old_img = tu_read_file(tu_path(path, before, name), &old_size);
    new_img = tu_read_file(tu_path(path, dir, name), &new_size);
    CHECK_EQ_U64(old_size, new_size);
    /* What this test is about: the batch overwrote stale, non-zero bytes.
     * A quarter, not half: old records of small entries are mostly their
     * headers, whose high bytes are zero (94 of 192 in one layout). */
    for (cut = start; cut < end; cut++)
        nonzero += old_img[cut] != 0;
    CHECK_MSG(nonzero > (end - start) / 4, "only %zu stale bytes under the batch", nonzero);

    for (cut = start; cut <= end; cut++) {
        unsigned char *img = malloc(new_size);
        const model *want = cut == end ? &m : &m_before;
        raftwal_log *l;
        model after;
        CHECK(img != NULL);
        memcpy(img, new_img, (size_t)cut);
        memcpy(img + cut, old_img + cut, new_size - (size_t)cut);
        tu_clear_dir(work);
        tu_copy_dir(before, work);
        tu_write_file(tu_path(path, work, name), img, new_size);
        free(img);
        l = open_log(work, 0, SEG);
        model_check(l, want);
        /* And the log goes on from the recovered point. */
        model_copy(&after, want);
        append(l, &after, 2);
        reopen_log(&l, work, 0, SEG);
        model_check(l, &after);
        raftwal_log_close(l);
        model_free(&after);
    }
    free(old_img);
    free(new_img);
    model_free(&m);
    model_free(&m_before);
}

/* An iterator's views into a purged segment stay valid: the file it has
 * mapped is not reused while the iterator holds it. */
static void test_iterator_pins(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, SEG);
    raftwal_iter *it;
    raftwal_entry e;
    unsigned char copy[MAXP];
    uint64_t first_index;
    model m;
    model_init(&m);
    run_steady(log, &m, 3);
    first_index = m.first;
    CHECK_OK(raftwal_iter_open(&it, log, first_index, first_index + 1, 0));
    CHECK_RC(raftwal_iter_next(it, &e), 1);
    CHECK(e.size <= sizeof copy);
    memcpy(copy, e.data, e.size);
    /* Purge it and go through enough segments to use every spare twice. */
    run_steady(log, &m, 8);
    CHECK(m.first > first_index);
    CHECK(get_stats(log).segments_recycled >= 4);
    CHECK(memcmp(copy, e.data, e.size) == 0);
    CHECK(tu_payload_ok(e.data, e.size, first_index, 1, MAXP));
    raftwal_iter_close(it);
    model_check(log, &m);
    raftwal_log_close(log);
    model_free(&m);
}

/* Appends entry `index` of `size` payload bytes (term 1). */
static void append_sized(raftwal_log *log, uint64_t index, size_t n, size_t size)
{
    static unsigned char data[8][4000];
    raftwal_entry e[8];
    CHECK(n <= 8 && size <= sizeof data[0]);
    for (size_t i = 0; i < n; i++) {
        tu_payload_fill(data[i], size, index + i, 1);
        e[i] = (raftwal_entry){.index = index + i, .term = 1, .data = data[i], .size = size};
    }
    CHECK_OK(raftwal_log_append(log, e, n, NULL, 0));
}

static void test_grown_file_keeps_its_length(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, SEG);
    raftwal_log *reader;
    raftwal_entry got;
    unsigned char buf[4000], want[4000];
    uint64_t next = 1, grown;
    int rc;
    /* A small entry, then a batch that does not fit but goes in (the
     * segment is far from 3/4 full): the file grows past SEG. */
    append_sized(log, next, 1, 100);
    next += 1;
    append_sized(log, next, 5, 4000);
    next += 5;
    grown = tu_segment_length(dir, 1);
    CHECK_MSG(grown > SEG, "segment 1 is %" PRIu64 " bytes", grown);
    CHECK(active_seg(log).seq == 1);

    /* A reader (as of another process) maps all of it; entry 6 lies past
     * SEG. While it does, the file is not reused (docs/format.md, 6): the
     * purge deletes it, and the reader's mapping keeps its bytes. */
    reader = open_log(dir, RAFTWAL_OPEN_READONLY, 0);
    CHECK_OK(raftwal_log_get(reader, 6, &got, buf, sizeof buf));
    append_sized(log, next, 1, 4000);
    next += 1;
    CHECK(active_seg(log).seq == 2);
    CHECK_OK(raftwal_log_purge(log, 6));
    CHECK(count_suffix(dir, ".spare") == 0);
    rc = raftwal_log_get(reader, 6, &got, buf, sizeof buf);
    CHECK_MSG(rc == RAFTWAL_OK, "rc %d", rc);
    tu_payload_fill(want, sizeof want, 6, 1);
    CHECK(got.size == sizeof want && memcmp(buf, want, sizeof want) == 0);
    raftwal_log_close(reader);

    /* With no reader: segment 2 grows the same way, is purged, and its
     * file is reused at its length. */
    append_sized(log, next, 5, 4000);
    next += 5;
    grown = tu_segment_length(dir, 2);
    CHECK_MSG(grown > SEG, "segment 2 is %" PRIu64 " bytes", grown);
    append_sized(log, next, 1, 4000);
    next += 1;
    CHECK(active_seg(log).seq == 3);
    CHECK_OK(raftwal_log_purge(log, next - 2));
    while (get_stats(log).segments_recycled == 0) {
        CHECK(next < 1000);
        append_sized(log, next, 1, 1000);
        next += 1;
    }
    CHECK(count_suffix(dir, ".spare") == 0);
    CHECK_MSG(tu_segment_length(dir, 4) >= grown,
              "the recycled file was cut to %" PRIu64 " bytes (it had %" PRIu64 ")",
              tu_segment_length(dir, 4), grown);

    /* The writer fills the long file only up to SEG, then rotates. */
    while (active_seg(log).seq < 5) {
        append_sized(log, next, 1, 1000);
        next += 1;
    }
    CHECK(get_segment_info(log, 1).seq == 4);
    CHECK_MSG(get_segment_info(log, 1).used_bytes <= SEG, "segment 4 used %" PRIu64 " bytes",
              get_segment_info(log, 1).used_bytes);
    CHECK(get_segment_info(log, 1).used_bytes > SEG / 2);
    reopen_log(&log, dir, 0, SEG);
    for (uint64_t i = 13; i < next; i++) {
        size_t size = i == 13 ? 4000 : 1000;
        CHECK_OK(raftwal_log_get(log, i, &got, buf, sizeof buf));
        tu_payload_fill(want, size, i, 1);
        CHECK(got.size == size && memcmp(buf, want, size) == 0);
    }
    raftwal_log_close(log);
}

static void test_oversized_spare_is_not_reused(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, 8 * SEG);
    uint64_t next = 1;
    /* Segments of 8 x SEG, one purged into a spare. */
    while (active_seg(log).seq < 3) {
        append_sized(log, next, 1, 4000);
        next++;
    }
    CHECK_OK(raftwal_log_purge(log, get_segment_info(log, 1).first_index - 1));
    CHECK_EQ_U64(count_suffix(dir, ".spare"), 1);
    raftwal_log_close(log);

    /* Reopened with segments of SEG, the spare is 8 times too long. */
    log = open_log(dir, 0, SEG);
    while (active_seg(log).seq < 5) {
        append_sized(log, next, 1, 4000);
        next++;
    }
    CHECK_EQ_U64(count_suffix(dir, ".spare"), 0);
    CHECK_EQ_U64(get_stats(log).segments_recycled, 0);
    for (uint64_t seq = 4; seq <= 5; seq++)
        CHECK_MSG(tu_segment_length(dir, seq) <= 2 * SEG, "segment %" PRIu64 " is %" PRIu64
                  " bytes", seq, tu_segment_length(dir, seq));
    reopen_log(&log, dir, 0, SEG);
    raftwal_entry got;
    unsigned char buf[4000], want[4000];
    for (uint64_t i = get_segment_info(log, 0).first_index; i < next; i++) {
        CHECK_OK(raftwal_log_get(log, i, &got, buf, sizeof buf));
        tu_payload_fill(want, sizeof want, i, 1);
        CHECK(got.size == sizeof want && memcmp(buf, want, sizeof want) == 0);
    }
    raftwal_log_close(log);
}

int main(int argc, char **argv)
{
    TU_RUN(argc, argv, test_steady_state);
    TU_RUN(argc, argv, test_torn_in_recycled);
    TU_RUN(argc, argv, test_iterator_pins);
    TU_RUN(argc, argv, test_grown_file_keeps_its_length);
    TU_RUN(argc, argv, test_oversized_spare_is_not_reused);
    return 0;
}
