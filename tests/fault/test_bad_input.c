/* test_bad_input.c -- every row of tests/fault/BAD_INPUT.md: one kind of
 * damage or misuse each, applied to a log of several 16 KiB segments, and
 * what raftwal does with it (open, verify, reads, repair).
 * Run one row: fault_bad_input <name>. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault_util.h"
#include "workload.h"

#define SEG (16u * 1024u)
#define N 50 /* entries of 1000 bytes: four segments */

static raftwal_options opts(unsigned flags)
{
    raftwal_options o;
    raftwal_options_init(&o, RAFTWAL_OPTIONS_VERSION);
    o.segment_size = SEG;
    o.flags = flags;
    return o;
}

static void make_log(const char *dir)
{
    raftwal_options o = opts(RAFTWAL_OPEN_CREATE);
    raftwal_log *log;
    FU_RC(raftwal_log_open(&log, dir, &o), RAFTWAL_OK);
    uint8_t buf[1000];
    for (uint64_t i = 1; i <= N; i++) {
        wl_payload(2, i, 1, buf, sizeof buf);
        raftwal_entry e = {i, 1, 0, 0, buf, sizeof buf};
        FU_RC(raftwal_log_append(log, &e, 1, NULL, 0), RAFTWAL_OK);
    }
    FU_RC(raftwal_log_close(log), RAFTWAL_OK);
    FU_CHECK(fu_count_segments(dir) >= 4, "expected 4 segments or more");
}

static int open_rc(const char *dir)
{
    raftwal_options o = opts(0);
    raftwal_log *log;
    int rc = raftwal_log_open(&log, dir, &o);
    if (rc == 0)
        raftwal_log_close(log);
    return rc;
}

static int verify_rc(const char *dir)
{
    raftwal_check chk = {.size = sizeof chk};
    return raftwal_verify(dir, &chk);
}

/* Reads every entry; returns the first error. */
static int read_rc(const char *dir)
{
    raftwal_options o = opts(RAFTWAL_OPEN_READONLY);
    raftwal_log *log;
    int rc = raftwal_log_open(&log, dir, &o);
    if (rc)
        return rc;
    uint8_t buf[1000], want[1000];
    uint64_t last;
    raftwal_log_last_index(log, &last);
    for (uint64_t i = 1; i <= last && rc == 0; i++) {
        raftwal_entry e;
        rc = raftwal_log_get(log, i, &e, buf, sizeof buf);
        wl_payload(2, i, 1, want, sizeof want);
        if (rc == 0)
            FU_CHECK(memcmp(buf, want, sizeof want) == 0, "entry %" PRIu64 " read back wrong", i);
    }
    raftwal_log_close(log);
    return rc;
}

static void seg_path(const char *dir, size_t i, char *out)
{
    FU_CHECK(fu_segment_path(dir, i, out, 4200) == 0, "no segment %zu", i);
}

static void damage(const char *path, uint64_t off, size_t len, int mode)
{
    size_t n;
    uint8_t *p = fu_read_file(path, &n);
    FU_CHECK(off + len <= n, "damage past the end");
    for (size_t i = 0; i < len; i++)
        p[off + i] = mode == 0 ? 0 : mode == 1 ? (uint8_t)(p[off + i] ^ 0x10) : (uint8_t)(i * 131 + 7);
    fu_write_file(path, p, n);
    free(p);
}

static char last_msgs[3][1024];

static void expect(const char *row, const char *dir, int want_open, int want_verify, int want_read)
{
    int o = open_rc(dir);
    snprintf(last_msgs[0], sizeof last_msgs[0], "%s", o ? raftwal_errmsg() : "");
    int v = verify_rc(dir);
    snprintf(last_msgs[1], sizeof last_msgs[1], "%s", v ? raftwal_errmsg() : "");
    int r = read_rc(dir);
    snprintf(last_msgs[2], sizeof last_msgs[2], "%s", r ? raftwal_errmsg() : "");
    FU_CHECK(o == want_open && v == want_verify && r == want_read,
             "%s: open %s, verify %s, read %s; expected %s, %s, %s", row, raftwal_strerror(o),
             raftwal_strerror(v), raftwal_strerror(r), raftwal_strerror(want_open),
             raftwal_strerror(want_verify), raftwal_strerror(want_read));
    printf("  %-26s open: %-26s verify: %-26s read: %s\n", row, raftwal_strerror(o),
           raftwal_strerror(v), raftwal_strerror(r));
    for (int i = 0; i < 3; i++)
        if (last_msgs[i][0])
            printf("      %s: %s\n", i == 0 ? "open" : i == 1 ? "verify" : "read", last_msgs[i]);
}

/* After damage that verify reports, repair salvages a prefix that opens. */
static void check_msg(const char *what)
{
    for (int i = 0; i < 3; i++)
        if (strstr(last_msgs[i], what))
            return;
    FU_CHECK(0, "no message mentions \"%s\": \"%s\" / \"%s\" / \"%s\"", what, last_msgs[0],
             last_msgs[1], last_msgs[2]);
}

static void expect_repair_works(const char *dir)
{
    raftwal_check chk = {.size = sizeof chk};
    FU_RC(raftwal_repair(dir, &chk), RAFTWAL_OK);
    FU_RC(open_rc(dir), RAFTWAL_OK);
    FU_RC(verify_rc(dir), RAFTWAL_OK);
    FU_RC(read_rc(dir), RAFTWAL_OK);
}

/* ---------------------------------------------------------------------- */

/* The tail's file (the last segment in use: a prepared one may follow it)
 * into out (4200 bytes), and its segment info. */
static raftwal_segment_info tail_path(const char *dir, char *out)
{
    raftwal_options o = opts(RAFTWAL_OPEN_READONLY);
    raftwal_log *log;
    FU_RC(raftwal_log_open(&log, dir, &o), RAFTWAL_OK);
    raftwal_stats st = {.size = sizeof st};
    raftwal_log_stats(log, &st);
    raftwal_segment_info info = {.size = sizeof info};
    FU_RC(raftwal_log_segment_info(log, st.segments - 1, &info), RAFTWAL_OK);
    raftwal_log_close(log);
    snprintf(out, 4200, "%s/%016" PRIx64 ".wal", dir, info.seq);
    return info;
}

static void row_truncated_tail(const char *dir)
{
    /* The tail cut inside its last batch: a torn tail, silently cut. */
    char p[4200];
    raftwal_segment_info info = tail_path(dir, p);
    FU_CHECK(truncate(p, (off_t)info.used_bytes - 100) == 0, "truncate");
    expect("truncated tail", dir, RAFTWAL_OK, RAFTWAL_OK, RAFTWAL_OK);
    raftwal_log *l2;
    raftwal_options o = opts(0);
    FU_RC(raftwal_log_open(&l2, dir, &o), RAFTWAL_OK);
    uint64_t last;
    raftwal_log_last_index(l2, &last);
    FU_CHECK(last == N - 1, "the torn batch was not exactly the last one: last %" PRIu64, last);
    raftwal_log_close(l2);
}

static void row_truncated_sealed(const char *dir)
{
    char p[4200];
    seg_path(dir, 1, p);
    FU_CHECK(truncate(p, 5000) == 0, "truncate");
    expect("truncated sealed segment", dir, RAFTWAL_OK, RAFTWAL_ECORRUPT, RAFTWAL_ECORRUPT);
    check_msg("0000000000000002.wal");
    expect_repair_works(dir);
}

static void row_flipped_bit_sealed(const char *dir)
{
    char p[4200];
    seg_path(dir, 1, p);
    damage(p, 3000, 1, 1);
    /* Open reads footers only: the damage shows when the entry is read. */
    expect("flipped bit, sealed", dir, RAFTWAL_OK, RAFTWAL_ECORRUPT, RAFTWAL_ECORRUPT);
    check_msg("0000000000000002.wal: offset");
    expect_repair_works(dir);
}

static void row_flipped_bit_tail(const char *dir)
{
    char p[4200];
    tail_path(dir, p);
    damage(p, 400, 1, 1); /* an early, synced batch of the tail */
    expect("flipped bit, tail", dir, RAFTWAL_ECORRUPT, RAFTWAL_ECORRUPT, RAFTWAL_ECORRUPT);
    check_msg("offset");
    expect_repair_works(dir);
}

static void row_zeroed_range_tail(const char *dir)
{
    char p[4200];
    tail_path(dir, p);
    damage(p, 256, 1024, 0);
    expect("zeroed range, tail", dir, RAFTWAL_ECORRUPT, RAFTWAL_ECORRUPT, RAFTWAL_ECORRUPT);
    check_msg("offset");
    expect_repair_works(dir);
}

static void row_zeroed_range_sealed(const char *dir)
{
    char p[4200];
    seg_path(dir, 0, p);
    damage(p, 2048, 1024, 0);
    expect("zeroed range, sealed", dir, RAFTWAL_OK, RAFTWAL_ECORRUPT, RAFTWAL_ECORRUPT);
    expect_repair_works(dir);
}

static void row_garbage_file(const char *dir)
{
    char p[4200];
    seg_path(dir, 2, p);
    damage(p, 0, SEG, 2);
    expect("garbage segment", dir, RAFTWAL_OK, RAFTWAL_ECORRUPT, RAFTWAL_ECORRUPT);
    check_msg("not a raftwal segment");
    /* Files that are not named like segments are ignored. */
    char other[4200];
    snprintf(other, sizeof other, "%s/notes.txt", dir);
    fu_write_file(other, "hello", 5);
    expect_repair_works(dir);
}

static void row_empty_file(const char *dir)
{
    char p[4200];
    seg_path(dir, 1, p);
    FU_CHECK(truncate(p, 0) == 0, "truncate");
    expect("empty segment", dir, RAFTWAL_OK, RAFTWAL_ECORRUPT, RAFTWAL_ECORRUPT);
    check_msg("shorter than a segment header");
}

static void fix_header_crc(uint8_t *h);

static void row_wrong_version(const char *dir)
{
    char p[4200];
    seg_path(dir, 0, p);
    size_t n;
    uint8_t *b = fu_read_file(p, &n);
    b[8] = 3; /* format version 3 (2 is known: docs/format.md §7), checksum made valid */
    fix_header_crc(b);
    fu_write_file(p, b, n);
    free(b);
    expect("wrong version", dir, RAFTWAL_OK, RAFTWAL_EVERSION, RAFTWAL_EVERSION);
    check_msg("version");
    raftwal_check chk = {.size = sizeof chk};
    FU_RC(raftwal_repair(dir, &chk), RAFTWAL_EVERSION); /* never cut what we cannot read */
}

static void row_missing_middle(const char *dir)
{
    char p[4200];
    seg_path(dir, 1, p);
    FU_CHECK(unlink(p) == 0, "unlink");
    expect("missing segment", dir, RAFTWAL_ECORRUPT, RAFTWAL_ECORRUPT, RAFTWAL_ECORRUPT);
    check_msg("missing");
    expect_repair_works(dir);
}

static void copy_file(const char *from, const char *to)
{
    size_t n;
    uint8_t *b = fu_read_file(from, &n);
    fu_write_file(to, b, n);
    free(b);
}

static void row_duplicated_segment(const char *dir)
{
    /* A copy of segment 2 saved as segment 3 (its header still says 2). */
    char a[4200], b[4200];
    seg_path(dir, 1, a);
    seg_path(dir, 2, b);
    copy_file(a, b);
    expect("duplicated segment", dir, RAFTWAL_OK, RAFTWAL_ECORRUPT, RAFTWAL_ECORRUPT);
    check_msg("sequence");
    expect_repair_works(dir);
}

static void row_other_log(const char *dir)
{
    /* Segment 2 of another log with the same layout, dropped in place. */
    const char *other = fu_tmpdir("otherlog");
    make_log(other);
    char a[4200], b[4200];
    seg_path(other, 1, a);
    seg_path(dir, 1, b);
    copy_file(a, b);
    expect("file from another log", dir, RAFTWAL_OK, RAFTWAL_ECORRUPT, RAFTWAL_ECORRUPT);
    check_msg("another log");
    expect_repair_works(dir);
}

static void row_leftover_tmp(const char *dir)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/00000000000000ff.wal.tmp", dir);
    fu_write_file(p, "partial", 7);
    FU_RC(open_rc(dir), RAFTWAL_OK);
    FU_CHECK(access(p, F_OK) != 0, "a leftover .wal.tmp was not removed");
    expect("leftover .tmp", dir, RAFTWAL_OK, RAFTWAL_OK, RAFTWAL_OK);
}

/* A power loss in the middle of a purge of the first `purged` segments
 * whose renames and unlinks reached the disk in part and out of order
 * (issue 16): the purge's PURGE record is durable, the oldest purged
 * segment is still there, the second one is a spare already (if more than
 * two were purged), the others are gone. Builds that directory from the
 * files as they were before the purge, after a complete one. Returns the
 * purge point; leftover receives the path of the left-over segment. */
static const raftwal_hardstate leftover_hs = {3, 2, 45};
static uint64_t make_purge_leftovers(const char *dir, size_t purged, char *leftover, size_t cap)
{
    raftwal_options o = opts(0);
    raftwal_log *log;
    FU_RC(raftwal_log_open(&log, dir, &o), RAFTWAL_OK);
    FU_RC(raftwal_log_set_hardstate(log, &leftover_hs, 0), RAFTWAL_OK);
    raftwal_segment_info si = {.size = sizeof si};
    FU_RC(raftwal_log_segment_info(log, purged - 1, &si), RAFTWAL_OK); /* the last purged */
    uint64_t upto = si.last_index;
    FU_RC(raftwal_log_save_snapshot(log, upto, 1, "snap", 4), RAFTWAL_OK);
    /* The first two segments' files as they were before the purge. */
    char p0[4200], p1[4200];
    seg_path(dir, 0, p0);
    seg_path(dir, 1, p1);
    size_t n0, n1;
    uint8_t *b0 = fu_read_file(p0, &n0), *b1 = fu_read_file(p1, &n1);
    FU_RC(raftwal_log_purge(log, upto), RAFTWAL_OK);
    FU_RC(raftwal_log_close(log), RAFTWAL_OK);
    /* The purge kept spares: none of its renames and unlinks reached the
     * disk but that of the second segment (to a spare) and the third. */
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -f %s/*.spare", dir);
    FU_CHECK(system(cmd) == 0, "%s", cmd);
    fu_write_file(p0, b0, n0);
    char spare[4200];
    snprintf(spare, sizeof spare, "%.*s.spare", (int)(strlen(p1) - 4), p1);
    if (purged > 2)
        fu_write_file(spare, b1, n1);
    free(b0);
    free(b1);
    snprintf(leftover, cap, "%s", p0);
    return upto;
}

/* The log a crashed purge describes: entries after the purge point, the
 * hard state, the snapshot record. */
static void expect_purged_log(const char *dir, unsigned flags, uint64_t upto)
{
    raftwal_options o = opts(flags);
    raftwal_log *log;
    FU_RC(raftwal_log_open(&log, dir, &o), RAFTWAL_OK);
    uint64_t first, last, si, st;
    raftwal_hardstate hs;
    FU_RC(raftwal_log_first_index(log, &first), RAFTWAL_OK);
    FU_RC(raftwal_log_last_index(log, &last), RAFTWAL_OK);
    FU_RC(raftwal_log_hardstate(log, &hs), RAFTWAL_OK);
    uint8_t meta[16];
    size_t meta_len = 0;
    FU_RC(raftwal_log_snapshot(log, &si, &st, meta, sizeof meta, &meta_len), RAFTWAL_OK);
    FU_CHECK(first == upto + 1 && last == N, "bounds %" PRIu64 "..%" PRIu64 ", want %" PRIu64
             "..%d", first, last, upto + 1, N);
    FU_CHECK(memcmp(&hs, &leftover_hs, sizeof hs) == 0, "hard state lost");
    FU_CHECK(si == upto && st == 1 && meta_len == 4 && memcmp(meta, "snap", 4) == 0,
             "snapshot record lost");
    uint8_t buf[1000], want[1000];
    for (uint64_t i = first; i <= last; i++) {
        raftwal_entry e;
        FU_RC(raftwal_log_get(log, i, &e, buf, sizeof buf), RAFTWAL_OK);
        wl_payload(2, i, 1, want, sizeof want);
        FU_CHECK(memcmp(buf, want, sizeof want) == 0, "entry %" PRIu64 " read back wrong", i);
    }
    FU_RC(raftwal_log_close(log), RAFTWAL_OK);
}

static void row_purge_leftovers(const char *dir)
{
    char leftover[4200];
    uint64_t upto = make_purge_leftovers(dir, 3, leftover, sizeof leftover);
    /* verify: sound, the leftover named; read-only open: the log. */
    raftwal_check chk = {.size = sizeof chk};
    FU_RC(raftwal_verify(dir, &chk), RAFTWAL_OK);
    FU_CHECK(chk.leftovers == 1 && chk.first_index == upto + 1, "verify: %" PRIu64
             " leftovers, first index %" PRIu64, chk.leftovers, chk.first_index);
    expect_purged_log(dir, RAFTWAL_OPEN_READONLY, upto);
    FU_CHECK(access(leftover, F_OK) == 0, "a read-only open removed a file");
    /* repair: nothing to cut, nothing lost. */
    memset(&chk, 0, sizeof chk);
    chk.size = sizeof chk;
    FU_RC(raftwal_repair(dir, &chk), RAFTWAL_OK);
    FU_CHECK(chk.cut_bytes == 0 && chk.backup_path[0] == 0, "repair cut %" PRIu64 " bytes",
             chk.cut_bytes);
    expect_purged_log(dir, RAFTWAL_OPEN_READONLY, upto);
    /* A writable open finishes the purge. */
    expect_purged_log(dir, 0, upto);
    FU_CHECK(access(leftover, F_OK) != 0, "the writable open kept the purged leftover");
    memset(&chk, 0, sizeof chk);
    chk.size = sizeof chk;
    FU_RC(raftwal_verify(dir, &chk), RAFTWAL_OK);
    FU_CHECK(chk.leftovers == 0, "leftovers after the writable open: %" PRIu64, chk.leftovers);
    printf("  %-26s verify, read-only open, repair, open: ok; the open removed the leftover\n",
           "purge leftovers");
}

/* Damage in the first live segment after a crashed purge: cutting there
 * would keep only the purged leftover. Repair refuses and changes nothing. */
static void row_repair_purged_prefix(const char *dir)
{
    char leftover[4200], live[4200];
    make_purge_leftovers(dir, 2, leftover, sizeof leftover);
    seg_path(dir, 1, live); /* after the leftover: the first live segment */
    damage(live, 0, 8, 2);  /* its magic */
    char tail[4200];
    seg_path(dir, 2, tail);
    FU_CHECK(strcmp(tail, live) != 0, "expected a live segment before the tail");
    FU_RC(verify_rc(dir), RAFTWAL_ECORRUPT);
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "cd %s && ls -l --time-style=+ | md5sum && cat * | md5sum", dir);
    FILE *f = popen(cmd, "r");
    char before[256] = "", after[256] = "";
    FU_CHECK(f && fread(before, 1, sizeof before - 1, f) > 0, "listing");
    pclose(f);
    raftwal_check chk = {.size = sizeof chk};
    FU_RC(raftwal_repair(dir, &chk), RAFTWAL_ECORRUPT);
    FU_CHECK(strstr(raftwal_errmsg(), "repair refused") && strstr(raftwal_errmsg(), "purged"),
             "repair's message does not say why: %s", raftwal_errmsg());
    printf("  %-26s repair: %s\n", "damage after leftovers", raftwal_errmsg());
    f = popen(cmd, "r");
    FU_CHECK(f && fread(after, 1, sizeof after - 1, f) > 0, "listing");
    pclose(f);
    FU_CHECK(strcmp(before, after) == 0, "repair changed the directory although it refused");
}

/* The same, when the damage is in the tail (the newest state is gone):
 * nothing tells whether the files before the gap are the log's prefix or
 * purged leftovers. Repair refuses and changes nothing. */
static void row_repair_undecided(const char *dir)
{
    char leftover[4200], tail[4200];
    make_purge_leftovers(dir, 3, leftover, sizeof leftover);
    seg_path(dir, 1, tail); /* the leftover, then the tail */
    damage(tail, 0, 8, 2);
    FU_CHECK(open_rc(dir) == RAFTWAL_ECORRUPT, "open of a log whose tail is destroyed");
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "cd %s && ls -l --time-style=+ | md5sum && cat * | md5sum", dir);
    FILE *f = popen(cmd, "r");
    char before[256] = "", after[256] = "";
    FU_CHECK(f && fread(before, 1, sizeof before - 1, f) > 0, "listing");
    pclose(f);
    raftwal_check chk = {.size = sizeof chk};
    FU_RC(raftwal_repair(dir, &chk), RAFTWAL_ECORRUPT);
    FU_CHECK(strstr(raftwal_errmsg(), "repair refused") && strstr(raftwal_errmsg(), "gap"),
             "repair's message does not say why: %s", raftwal_errmsg());
    printf("  %-26s repair: %s\n", "damaged tail, leftovers", raftwal_errmsg());
    f = popen(cmd, "r");
    FU_CHECK(f && fread(after, 1, sizeof after - 1, f) > 0, "listing");
    pclose(f);
    FU_CHECK(strcmp(before, after) == 0, "repair changed the directory although it refused");
}

static void row_concurrent_open(const char *dir)
{
    raftwal_options o = opts(0);
    raftwal_log *a, *b;
    FU_RC(raftwal_log_open(&a, dir, &o), RAFTWAL_OK);
    FU_RC(raftwal_log_open(&b, dir, &o), RAFTWAL_ELOCKED);
    pid_t pid = fork();
    if (pid == 0) {
        raftwal_log *c;
        _exit(raftwal_log_open(&c, dir, &o) == RAFTWAL_ELOCKED ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    FU_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "another process could open the log");
    raftwal_options ro = opts(RAFTWAL_OPEN_READONLY);
    FU_RC(raftwal_log_open(&b, dir, &ro), RAFTWAL_OK); /* readers take no lock */
    raftwal_check chk = {.size = sizeof chk};
    FU_RC(raftwal_repair(dir, &chk), RAFTWAL_ELOCKED);
    raftwal_log_close(b);
    raftwal_log_close(a);
    FU_RC(open_rc(dir), RAFTWAL_OK);
}

/* ---------------------------------------------------------------------- */

/* CRC32C, bitwise (independent of src/), for the header checksum. */
static uint32_t crc32c(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
    }
    return c ^ 0xFFFFFFFFu;
}

static void fix_header_crc(uint8_t *h)
{
    uint32_t c = crc32c(h, 60);
    memcpy(h + 60, &c, 4);
}

static const struct {
    const char *name;
    void (*fn)(const char *dir);
} rows[] = {
    {"truncated_tail", row_truncated_tail},
    {"truncated_sealed", row_truncated_sealed},
    {"flipped_bit_sealed", row_flipped_bit_sealed},
    {"flipped_bit_tail", row_flipped_bit_tail},
    {"zeroed_range_tail", row_zeroed_range_tail},
    {"zeroed_range_sealed", row_zeroed_range_sealed},
    {"garbage_file", row_garbage_file},
    {"empty_file", row_empty_file},
    {"wrong_version", row_wrong_version},
    {"missing_middle", row_missing_middle},
    {"duplicated_segment", row_duplicated_segment},
    {"other_log", row_other_log},
    {"leftover_tmp", row_leftover_tmp},
    {"concurrent_open", row_concurrent_open},
    {"purge_leftovers", row_purge_leftovers},
    {"repair_purged_prefix", row_repair_purged_prefix},
    {"repair_undecided", row_repair_undecided},
};

int main(int argc, char **argv)
{
    int ran = 0;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (argc > 1 && strcmp(argv[1], rows[i].name) != 0)
            continue;
        const char *dir = fu_tmpdir("bad");
        make_log(dir);
        rows[i].fn(dir);
        printf("ok %s\n", rows[i].name);
        ran++;
    }
    FU_CHECK(ran > 0, "no row named %s", argc > 1 ? argv[1] : "?");
    return 0;
}
