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
    b[8] = 2; /* format version 2, checksum made valid */
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
