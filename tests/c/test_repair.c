/*
 * test_repair.c -- c_repair: raftwal_repair() salvages the longest valid
 * prefix of whole batches, reports what it cut and where the backup is,
 * and afterwards the log opens with every entry before the damage intact
 * (and verifies, and accepts appends). A sound log is left alone.
 */
#include "damage.h"

static raftwal_check repair(const char *dir)
{
    raftwal_check c;
    memset(&c, 0xa5, sizeof c);
    c.size = sizeof c;
    CHECK_OK(raftwal_repair(dir, &c));
    return c;
}

/* The model truncated to the entries before `cut_from`. */
static void expect_prefix(const char *dir, const model *full, uint64_t cut_from)
{
    raftwal_log *log;
    model m;
    batch b;
    model_copy(&m, full);
    model_truncate(&m, cut_from);
    /* The hard state of the salvaged prefix is the last one written before
     * the cut: batches with a hard state are 0, 3, 6, ... */
    {
        uint64_t k = (cut_from - 1) / DMG_BATCH; /* batches kept */
        if (k > 0) {
            uint64_t last_hs_batch = (k - 1) / 3 * 3;
            m.hs.term = 1 + last_hs_batch / 10;
            m.hs.vote = 1;
            m.hs.commit = last_hs_batch * DMG_BATCH;
        } else {
            memset(&m.hs, 0, sizeof m.hs);
        }
    }
    CHECK_OK(raftwal_verify(dir, NULL));
    log = open_log(dir, 0, DMG_SEG);
    model_check(log, &m);
    /* The log goes on. */
    batch_make(&b, m.last + 1, 3, 9, DMG_MAXP);
    CHECK_OK(raftwal_log_append(log, b.e, b.n, NULL, 0));
    model_append(&m, b.e, b.n, NULL);
    batch_free(&b);
    reopen_log(&log, dir, 0, DMG_SEG);
    model_check(log, &m);
    CHECK_OK(raftwal_log_close(log));
    CHECK_OK(raftwal_verify(dir, NULL));
    model_free(&m);
}

/* The backup directory exists inside dir and holds at least one file. */
static void expect_backup(const char *dir, const raftwal_check *c)
{
    struct stat st;
    DIR *d;
    struct dirent *de;
    int files = 0;
    CHECK_MSG(c->backup_path[0] != '\0', "no backup path");
    CHECK_MSG(strstr(c->backup_path, "repair-") != NULL, "backup path \"%s\"",
              c->backup_path);
    CHECK_MSG(strncmp(c->backup_path, dir, strlen(dir)) == 0 ||
                  c->backup_path[0] != '/',
              "backup \"%s\" is not inside %s", c->backup_path, dir);
    {
        char full[2048];
        if (c->backup_path[0] == '/')
            snprintf(full, sizeof full, "%s", c->backup_path);
        else
            snprintf(full, sizeof full, "%s/%s", dir, c->backup_path);
        CHECK_MSG(stat(full, &st) == 0 && S_ISDIR(st.st_mode), "no directory %s", full);
        d = opendir(full);
        CHECK(d != NULL);
        while ((de = readdir(d)) != NULL)
            if (de->d_name[0] != '.')
                files++;
        closedir(d);
    }
    CHECK_MSG(files > 0, "backup %s is empty", c->backup_path);
}

static void test_repair_sealed_segment_damage(void)
{
    const char *dir = tu_tmpdir();
    raftwal_check c;
    uint64_t idx;
    dmg_spot s;
    size_t nfiles;
    model m;

    dmg_build(dir, 300, &m);
    CHECK(dmg_tail(dir, &nfiles) >= 3);
    dmg_find(dir, 1, 1, &idx, &s);
    CHECK(s.sealed);
    tu_flip_bit(s.path, s.payload_off, 6);
    CHECK_RC(raftwal_verify(dir, NULL), RAFTWAL_ECORRUPT);

    c = repair(dir);
    printf("   damaged entry %" PRIu64 " in %s; cut seq %" PRIu64 " offset %" PRIu64
           ", %" PRIu64 " bytes; backup %s\n",
           idx, s.name, c.cut_seq, c.cut_offset, c.cut_bytes, c.backup_path);
    CHECK_EQ_U64(c.cut_seq, s.seq);
    CHECK(c.cut_bytes > 0);
    CHECK(c.cut_offset <= s.rec_off);
    CHECK_EQ_U64(c.last_index, dmg_batch_first(idx) - 1);
    expect_backup(dir, &c);
    expect_prefix(dir, &m, dmg_batch_first(idx));
    model_free(&m);
}

static void test_repair_tail_damage(void)
{
    const char *dir = tu_tmpdir();
    raftwal_check c;
    uint64_t idx;
    dmg_spot s;
    model m;

    dmg_build(dir, 30, &m);
    CHECK_EQ_U64(dmg_tail(dir, NULL), 0);
    dmg_find(dir, -1, m.last / 2, &idx, &s);
    tu_flip_bit(s.path, s.payload_off + s.len - 1, 7);
    CHECK_RC(raftwal_verify(dir, NULL), RAFTWAL_ECORRUPT);

    c = repair(dir);
    CHECK_EQ_U64(c.cut_seq, s.seq);
    CHECK(c.cut_bytes > 0);
    CHECK(c.cut_offset <= s.rec_off);
    CHECK_EQ_U64(c.last_index, dmg_batch_first(idx) - 1);
    expect_backup(dir, &c);
    expect_prefix(dir, &m, dmg_batch_first(idx));

    /* Repairing again finds nothing to cut. */
    c = repair(dir);
    CHECK_EQ_U64(c.cut_bytes, 0);
    model_free(&m);
}

static void test_repair_sound_log_is_a_no_op(void)
{
    const char *dir = tu_tmpdir();
    raftwal_check c;
    raftwal_log *log;
    model m;

    dmg_build(dir, 80, &m);
    c = repair(dir);
    CHECK_EQ_U64(c.cut_bytes, 0);
    CHECK_EQ_U64(c.torn_bytes, 0);
    CHECK_MSG(c.backup_path[0] == '\0', "backup \"%s\" for a sound log", c.backup_path);
    CHECK_EQ_U64(c.first_index, m.first);
    CHECK_EQ_U64(c.last_index, m.last);
    CHECK_EQ_U64(c.entries, m.last - m.first + 1);
    log = open_log(dir, 0, DMG_SEG);
    model_check(log, &m);
    CHECK_OK(raftwal_log_close(log));
    /* out may be NULL. */
    CHECK_OK(raftwal_repair(dir, NULL));
    model_free(&m);
}

static void test_repair_trims_a_torn_tail(void)
{
    const char *dir = tu_tmpdir();
    wal_file files[DMG_MAXFILES];
    uint64_t start, end;
    raftwal_check c;
    size_t n, t;
    model m;

    dmg_build(dir, 10, &m);
    n = wal_load_dir(dir, files, DMG_MAXFILES);
    t = wal_tail(files, n);
    CHECK(wal_last_batch(&files[t], &start, &end));
    /* Half of the last batch never reached the disk. */
    {
        size_t len = (size_t)(end - (start + end) / 2);
        unsigned char *zeros = (unsigned char *)calloc(1, len);
        tu_patch_file(files[t].path, (start + end) / 2, zeros, len);
        free(zeros);
    }
    wal_free_files(files, n);
    c = repair(dir);
    CHECK_EQ_U64(c.last_index, m.last - DMG_BATCH);
    expect_prefix(dir, &m, m.last - DMG_BATCH + 1);
    model_free(&m);
}

int main(int argc, char **argv)
{
    TU_RUN(argc, argv, test_repair_sealed_segment_damage);
    TU_RUN(argc, argv, test_repair_tail_damage);
    TU_RUN(argc, argv, test_repair_sound_log_is_a_no_op);
    TU_RUN(argc, argv, test_repair_trims_a_torn_tail);
    return 0;
}
