/*
 * test_corruption.c -- c_corruption: damaged files give clean errors,
 * never a crash, and damage is never mistaken for a torn tail:
 *   - a flipped bit in a sealed segment: raftwal_verify() and OPEN_VERIFY
 *     report ECORRUPT naming the file and offset; a plain open succeeds
 *     (it reads only footers) and reading that entry gives ECORRUPT;
 *   - a flipped bit in a batch of the tail segment followed by later
 *     durable batches: open reports ECORRUPT (file and offset);
 *   - a garbage segment, an empty segment file, a wrong magic, a header
 *     with version 3 (CRC recomputed: EVERSION), a bad header CRC: in the
 *     tail, open refuses; in a sealed segment (which open does not read),
 *     the first read from it and verify do;
 *   - random damage anywhere: open and reads return codes, never crash
 *     and never return wrong bytes as valid.
 */
#include "damage.h"

static int open_rc(const char *dir, unsigned int flags)
{
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    raftwal_log *log = (raftwal_log *)&o;
    int rc;
    o.flags = flags;
    rc = raftwal_log_open(&log, dir, &o);
    if (rc == 0)
        CHECK_OK(raftwal_log_close(log));
    else
        CHECK(log == NULL);
    return rc;
}

static void test_flipped_bit_in_sealed_segment(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log;
    raftwal_iter *it = NULL;
    raftwal_entry e;
    unsigned char buf[DMG_MAXP];
    uint64_t idx, i;
    dmg_spot s;
    model m;
    int rc;

    dmg_build(dir, 300, &m);
    CHECK(dmg_tail(dir, NULL) >= 3);
    dmg_find(dir, 1, 1, &idx, &s);
    CHECK(s.sealed);
    tu_flip_bit(s.path, s.payload_off + s.len / 2, 3);

    CHECK_RC(raftwal_verify(dir, NULL), RAFTWAL_ECORRUPT);
    CHECK_MSG(dmg_msg_names(s.name, s.rec_off), "verify: \"%s\" does not name %s "
              "offset %" PRIu64, raftwal_errmsg(), s.name, s.rec_off);
    CHECK_RC(open_rc(dir, RAFTWAL_OPEN_VERIFY), RAFTWAL_ECORRUPT);
    CHECK_MSG(dmg_msg_names(s.name, s.rec_off), "OPEN_VERIFY: \"%s\"", raftwal_errmsg());
    CHECK_RC(open_rc(dir, RAFTWAL_OPEN_VERIFY | RAFTWAL_OPEN_READONLY), RAFTWAL_ECORRUPT);

    /* A plain open trusts the seal; the entry's CRC is checked on read. */
    log = open_log(dir, 0, DMG_SEG);
    rc = raftwal_log_get(log, idx, &e, buf, sizeof buf);
    CHECK_RC(rc, RAFTWAL_ECORRUPT);
    CHECK_MSG(strstr(raftwal_errmsg(), s.name) != NULL, "get: \"%s\"", raftwal_errmsg());
    CHECK_OK(raftwal_iter_open(&it, log, idx - 1, idx + 2, RAFTWAL_NO_LIMIT));
    CHECK_RC(raftwal_iter_next(it, &e), 1);
    CHECK_EQ_U64(e.index, idx - 1);
    CHECK_RC(raftwal_iter_next(it, &e), RAFTWAL_ECORRUPT);
    raftwal_iter_close(it);
    /* Every other entry is still readable. */
    for (i = m.first; i <= m.last; i++) {
        if (i == idx)
            continue;
        CHECK_OK(raftwal_log_get(log, i, &e, buf, sizeof buf));
        CHECK_EQ_U64(e.size, m.ents[i - m.first].size);
    }
    CHECK_OK(raftwal_log_close(log));
    model_free(&m);
}

static void test_flipped_bit_in_tail_is_not_a_torn_tail(void)
{
    const char *dir = tu_tmpdir(), *dir2 = tu_tmpdir();
    uint64_t idx;
    dmg_spot s;
    size_t t;
    model m;

    dmg_build(dir, 30, &m);
    CHECK_EQ_U64(dmg_tail(dir, NULL), 0);
    tu_copy_dir(dir, dir2);

    /* A payload bit of a batch in the middle. */
    dmg_find(dir, -1, m.last / 2, &idx, &s);
    tu_flip_bit(s.path, s.payload_off, 0);
    CHECK_RC(open_rc(dir, 0), RAFTWAL_ECORRUPT);
    CHECK_MSG(dmg_msg_names(s.name, s.rec_off), "open: \"%s\" does not name %s offset %"
              PRIu64, raftwal_errmsg(), s.name, s.rec_off);
    CHECK_RC(open_rc(dir, RAFTWAL_OPEN_READONLY), RAFTWAL_ECORRUPT);
    CHECK_RC(raftwal_verify(dir, NULL), RAFTWAL_ECORRUPT);
    CHECK_MSG(dmg_msg_names(s.name, s.rec_off), "verify: \"%s\"", raftwal_errmsg());

    /* A bit of a record header (the len field) in the middle. */
    dmg_find(dir2, -1, m.last / 3, &idx, &s);
    tu_flip_bit(s.path, s.rec_off + 9, 1);
    CHECK_RC(open_rc(dir2, 0), RAFTWAL_ECORRUPT);
    CHECK_MSG(dmg_msg_names(s.name, s.rec_off), "open: \"%s\"", raftwal_errmsg());
    (void)t;
    model_free(&m);
}

/* A fresh directory holding one file named like the first segment. */
static const char *dir_with_segment(const void *data, size_t size)
{
    const char *dir = tu_tmpdir();
    char path[1024];
    tu_write_file(tu_path(path, dir, "0000000000000001.wal"), data, size);
    return dir;
}

static void expect_clean_error(const char *dir, int want, const char *what)
{
    int rc;
    rc = open_rc(dir, 0);
    CHECK_MSG(rc == want, "%s: open gave %d (%s), expected %s", what, rc,
              raftwal_strerror(rc), raftwal_strerror(want));
    CHECK_MSG(strstr(raftwal_errmsg(), ".wal") != NULL, "%s: errmsg \"%s\" names no file",
              what, raftwal_errmsg());
    rc = open_rc(dir, RAFTWAL_OPEN_READONLY);
    CHECK_MSG(rc == want, "%s: read-only open gave %d", what, rc);
    rc = raftwal_verify(dir, NULL);
    CHECK_MSG(rc == want, "%s: verify gave %d", what, rc);
}

/* Damage to a sealed segment's header: open does not read sealed segments
 * (their range comes from the tail's checkpoint), so it succeeds; the first
 * read from that segment, and verify, report the damage naming the file. */
static void expect_lazy_error(const char *dir, int want, const char *what)
{
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    raftwal_log *log;
    uint64_t first, last, i;
    int rc, seen = 0;
    CHECK_OK(raftwal_log_open(&log, dir, &o));
    CHECK_OK(raftwal_log_first_index(log, &first));
    CHECK_OK(raftwal_log_last_index(log, &last));
    for (i = first; i <= last && !seen; i++) {
        raftwal_entry e;
        rc = raftwal_log_get(log, i, &e, NULL, 0);
        if (rc == RAFTWAL_ERANGE || rc == 0)
            continue;
        CHECK_MSG(rc == want, "%s: get(%" PRIu64 ") gave %d (%s), expected %s", what, i, rc,
                  raftwal_strerror(rc), raftwal_strerror(want));
        CHECK_MSG(strstr(raftwal_errmsg(), ".wal") != NULL, "%s: errmsg \"%s\" names no file",
                  what, raftwal_errmsg());
        seen = 1;
    }
    CHECK_MSG(seen, "%s: no read reported the damage", what);
    CHECK_OK(raftwal_log_close(log));
    rc = raftwal_verify(dir, NULL);
    CHECK_MSG(rc == want, "%s: verify gave %d", what, rc);
}

static void test_garbage_and_empty_files(void)
{
    unsigned char *junk = (unsigned char *)malloc(DMG_SEG);
    size_t i;
    CHECK(junk != NULL);
    for (i = 0; i < DMG_SEG; i++)
        junk[i] = (unsigned char)tu_rand();
    expect_clean_error(dir_with_segment(junk, DMG_SEG), RAFTWAL_ECORRUPT, "garbage");
    expect_clean_error(dir_with_segment(junk, 10), RAFTWAL_ECORRUPT, "10 garbage bytes");
    expect_clean_error(dir_with_segment(junk, 0), RAFTWAL_ECORRUPT, "empty segment");
    free(junk);

    /* An empty file after a sound log. */
    {
        const char *dir = tu_tmpdir();
        wal_file files[DMG_MAXFILES];
        char name[64], path[1024];
        size_t n;
        model m;
        dmg_build(dir, 5, &m);
        n = wal_load_dir(dir, files, DMG_MAXFILES);
        snprintf(name, sizeof name, "%016" PRIx64 ".wal", files[n - 1].h.seq + 1);
        wal_free_files(files, n);
        tu_write_file(tu_path(path, dir, name), "", 0);
        expect_clean_error(dir, RAFTWAL_ECORRUPT, "empty file after the log");
        model_free(&m);
    }
}

/* Applies `edit` to the header of the tail segment of a sound log. */
static const char *log_with_header_edit(void (*edit)(unsigned char *), int tail_or_first)
{
    const char *dir = tu_tmpdir();
    wal_file files[DMG_MAXFILES];
    size_t n, t;
    model m;
    dmg_build(dir, 60, &m);
    n = wal_load_dir(dir, files, DMG_MAXFILES);
    t = tail_or_first ? wal_tail(files, n) : 0;
    edit(files[t].buf);
    tu_patch_file(files[t].path, 0, files[t].buf, 64);
    wal_free_files(files, n);
    model_free(&m);
    return dir;
}

static void edit_version3(unsigned char *h)
{
    tu_put_le32(h + 8, 3); /* 2 is known (docs/format.md §7) */
    wal_reseal_header(h);
}

static void edit_magic(unsigned char *h)
{
    h[0] = 'X';
    wal_reseal_header(h);
}

static void edit_crc_only(unsigned char *h)
{
    h[33] ^= 0x10; /* the salt, without resealing */
}

static void test_bad_headers(void)
{
    expect_clean_error(log_with_header_edit(edit_version3, 1), RAFTWAL_EVERSION,
                       "version 3 (tail)");
    expect_lazy_error(log_with_header_edit(edit_version3, 0), RAFTWAL_EVERSION,
                      "version 3 (first)");
    CHECK_RC(raftwal_repair(log_with_header_edit(edit_version3, 0), NULL),
             RAFTWAL_EVERSION);
    expect_clean_error(log_with_header_edit(edit_magic, 1), RAFTWAL_ECORRUPT,
                       "wrong magic (tail)");
    expect_lazy_error(log_with_header_edit(edit_magic, 0), RAFTWAL_ECORRUPT,
                      "wrong magic (first)");
    expect_clean_error(log_with_header_edit(edit_crc_only, 1), RAFTWAL_ECORRUPT,
                       "header CRC (tail)");
    expect_lazy_error(log_with_header_edit(edit_crc_only, 0), RAFTWAL_ECORRUPT,
                      "header CRC (first)");
}

/* Random damage anywhere in any file: every call returns a code (the
 * sanitizer build catches any out-of-bounds access), and whatever reads
 * succeed return the bytes that were written. */
static void test_random_damage_never_crashes(void)
{
    const char *src = tu_tmpdir(), *work = tu_tmpdir();
    wal_file files[DMG_MAXFILES];
    size_t n;
    model m;
    int round, opened = 0;

    dmg_build(src, 50, &m);
    n = wal_load_dir(src, files, DMG_MAXFILES);
    for (round = 0; round < 150; round++) {
        size_t f = (size_t)tu_rand_range(0, n - 1);
        uint64_t off, i;
        raftwal_options o = RAFTWAL_OPTIONS_INIT;
        raftwal_log *log = NULL;
        int flips = (int)tu_rand_range(1, 4), k, rc;
        unsigned char buf[DMG_MAXP];
        raftwal_entry e;

        tu_clear_dir(work);
        tu_copy_dir(src, work);
        for (k = 0; k < flips; k++) {
            char path[1024];
            /* Mostly near the records, sometimes anywhere. */
            off = tu_rand() % 4 ? tu_rand_range(0, 4096) : tu_rand_range(0, files[f].size - 1);
            tu_flip_bit(tu_path(path, work, files[f].name), off, (int)(tu_rand() % 8));
        }
        rc = raftwal_verify(work, NULL);
        CHECK_MSG(rc == 0 || rc == RAFTWAL_ECORRUPT || rc == RAFTWAL_EVERSION,
                  "round %d: verify gave %d", round, rc);
        o.flags = tu_rand() % 2 ? RAFTWAL_OPEN_READONLY : 0;
        rc = raftwal_log_open(&log, work, &o);
        CHECK_MSG(rc == 0 || rc == RAFTWAL_ECORRUPT || rc == RAFTWAL_EVERSION,
                  "round %d: open gave %d", round, rc);
        if (rc != 0)
            continue;
        opened++;
        {
            uint64_t first = 0, last = 0;
            CHECK_OK(raftwal_log_first_index(log, &first));
            CHECK_OK(raftwal_log_last_index(log, &last));
            CHECK(first >= m.first && last <= m.last);
            for (i = first; i <= last; i++) {
                rc = raftwal_log_get(log, i, &e, buf, sizeof buf);
                if (rc == RAFTWAL_ECORRUPT)
                    continue;
                CHECK_RC(rc, 0);
                CHECK_MSG(e.term == m.ents[i - m.first].term &&
                              e.size == m.ents[i - m.first].size &&
                              (e.size == 0 || !memcmp(buf, m.ents[i - m.first].data, e.size)),
                          "round %d: entry %" PRIu64 " returned wrong bytes as valid",
                          round, i);
            }
        }
        CHECK_OK(raftwal_log_close(log));
    }
    printf("   150 damaged copies, %d opened\n", opened);
    wal_free_files(files, n);
    model_free(&m);
}

int main(int argc, char **argv)
{
    TU_RUN(argc, argv, test_flipped_bit_in_sealed_segment);
    TU_RUN(argc, argv, test_flipped_bit_in_tail_is_not_a_torn_tail);
    TU_RUN(argc, argv, test_garbage_and_empty_files);
    TU_RUN(argc, argv, test_bad_headers);
    TU_RUN(argc, argv, test_random_damage_never_crashes);
    return 0;
}
