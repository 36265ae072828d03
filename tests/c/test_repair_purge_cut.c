/*
 * test_repair_purge_cut.c -- c_repair_purge_cut: raftwal_repair of damage
 * in the first live segment of a log that purges behind itself.
 *
 * raftwal.h: "Afterwards (unless refused) raftwal_log_open() succeeds",
 * and a cut that would keep only purged entries, or that leaves files
 * ending before a gap, is refused. Here the damaged entry lies in the
 * first segment the log holds, after the segment's checkpoint and before
 * a later PURGE record of the same segment that let the segment before
 * it go. Cutting there drops that PURGE: what is kept then claims entries
 * in the removed segment ("segments holding entries up to N are
 * missing"), and the next round of the repair cuts at offset 64, removing
 * the last segment: the log is gone (RAFTWAL_ENOTFOUND), every file in
 * the backup. Expected: the repair is refused (RAFTWAL_ECORRUPT, its
 * message naming the PURGE the cut would drop) and nothing in the
 * directory changed: the same names (no backup directory), the same bytes.
 * Run on a plaintext log and on an encrypted one (the checkpoint's segment
 * table is then sealed: repair reads it with the key).
 */
#include "test_util.h"

#define SEG RAFTWAL_MIN_SEGMENT_SIZE

static const unsigned char *g_key; /* NULL: a plaintext log */

static raftwal_options log_options(unsigned flags)
{
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    o.flags = flags;
    o.segment_size = SEG;
    o.key = g_key;
    o.key_size = g_key ? RAFTWAL_KEY_SIZE : 0;
    return o;
}

static raftwal_log *open_log(const char *dir, unsigned flags)
{
    raftwal_options o = log_options(flags);
    raftwal_log *log = NULL;
    CHECK_OK(raftwal_log_open(&log, dir, &o));
    return log;
}

/* Rounds of appends (with hard states), a snapshot, a truncation and a
 * purge that lets segments go, each round in a new session. */
static void workload(const char *dir)
{
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE);
    char buf[400];
    uint64_t idx = 1;
    int round, i;
    for (round = 0; round < 6; round++) {
        for (i = 0; i < 120; i++, idx++) {
            int n = snprintf(buf, sizeof buf, "entry-%" PRIu64 "-%0300d", idx, 0);
            raftwal_entry e = {idx, 1, 0, 0, buf, (size_t)n};
            raftwal_hardstate hs = {1, 1, idx > 20 ? idx - 20 : 0};
            CHECK_OK(raftwal_log_append(log, &e, 1, &hs, 0));
        }
        CHECK_OK(raftwal_log_save_snapshot(log, idx - 50, 1, "snap", 4));
        CHECK_OK(raftwal_log_truncate(log, idx - 10));
        idx -= 10;
        CHECK_OK(raftwal_log_purge(log, idx - 60));
        CHECK_OK(raftwal_log_close(log));
        log = open_log(dir, 0);
    }
    CHECK_OK(raftwal_log_close(log));
}

/* Flips a bit in the payload of the middle ENTRY record of segment seq. */
static void damage_middle_entry(const char *dir, uint64_t seq)
{
    char path[1024];
    size_t size, n = 0, k = 0;
    unsigned char *b = tu_read_file(tu_segment_path(path, dir, seq), &size);
    uint64_t off = 64, offs[4096];
    CHECK(b);
    while (off + 32 <= size && b[off + 4] && n < 4096) {
        if (b[off + 4] == 1)
            offs[n++] = off;
        off += 32 + ((tu_le32(b + off + 8) + 7ull) & ~7ull);
    }
    CHECK(n > 4);
    k = n / 2;
    b[offs[k] + 40] ^= 1;
    tu_write_file(path, b, size);
    free(b);
}

/* Every entry of dir a (regular files and others) is in b with the same
 * type and, for regular files, the same bytes; and b has no others. */
static void check_same_dir(const char *a, const char *b)
{
    size_t na = 0, nb = 0;
    DIR *d = opendir(a);
    struct dirent *de;
    CHECK(d != NULL);
    while ((de = readdir(d)) != NULL) {
        char pa[1024], pb[1024];
        struct stat sa, sb;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        na++;
        CHECK(lstat(tu_path(pa, a, de->d_name), &sa) == 0);
        CHECK_MSG(lstat(tu_path(pb, b, de->d_name), &sb) == 0, "%s: gone", pa);
        CHECK_MSG((sa.st_mode & S_IFMT) == (sb.st_mode & S_IFMT), "%s: type changed", pa);
        if (S_ISREG(sa.st_mode)) {
            size_t la, lb;
            unsigned char *ba = tu_read_file(pa, &la), *bb = tu_read_file(pb, &lb);
            CHECK_MSG(la == lb && memcmp(ba, bb, la) == 0, "%s: bytes changed", pa);
            free(ba);
            free(bb);
        }
    }
    closedir(d);
    d = opendir(b);
    CHECK(d != NULL);
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            nb++;
    closedir(d);
    CHECK_MSG(na == nb, "%zu entries before the repair, %zu after", na, nb);
}

static void scenario(const unsigned char *key)
{
    const char *dir = tu_tmpdir(), *before = tu_tmpdir();
    raftwal_options o;
    raftwal_check ck;
    uint64_t seq;
    int rc;
    g_key = key;
    o = log_options(0);
    workload(dir);
    for (seq = 1; !tu_segment_exists(dir, seq); seq++)
        CHECK(seq < 1000);
    damage_middle_entry(dir, seq);
    CHECK_RC(raftwal_verify_opts(dir, &o, NULL), RAFTWAL_ECORRUPT);
    tu_copy_dir(dir, before);
    memset(&ck, 0, sizeof ck);
    ck.size = sizeof ck;
    rc = raftwal_repair_opts(dir, &o, &ck);
    CHECK_MSG(rc == RAFTWAL_ECORRUPT, "raftwal_repair returned %d (%s): %s", rc,
              raftwal_strerror(rc), raftwal_errmsg());
    CHECK_MSG(strstr(raftwal_errmsg(), "repair refused") && strstr(raftwal_errmsg(), "PURGE") &&
                  strstr(raftwal_errmsg(), "nothing was changed"),
              "refused for another reason: %s", raftwal_errmsg());
    fprintf(stderr, "%s: refused: %s\n", key ? "encrypted" : "plaintext", raftwal_errmsg());
    check_same_dir(before, dir);
    CHECK_RC(raftwal_verify_opts(dir, &o, NULL), RAFTWAL_ECORRUPT); /* still reports the damage */
}

int main(void)
{
    static const unsigned char key[RAFTWAL_KEY_SIZE] = {7, 1, 2, 3, 4, 5, 6, 8};
    scenario(NULL);
    scenario(key); /* the checkpoint's table is sealed: repair reads it with the key */
    return 0;
}
