/*
 * test_file_modes.c -- c_file_modes: who may read a log's files
 * (raftwal.h, raftwal_options.file_mode). Every file and directory the
 * library makes -- the log's directory, LOCK, segments, prepared
 * .wal.tmp files, spares, raftwal_repair()'s backup directory and its
 * copies -- has the log's mode or a narrower one, never a wider one:
 *   - by default 0600 for files and 0700 for directories, under umask 0,
 *     022 and 077 (the umask narrows, never widens);
 *   - file_mode 0640: files 0640, directories 0750 (x where r is set);
 *   - a later open without file_mode keeps the log's own mode (its LOCK
 *     file's); one with a file_mode applies it to the files it creates;
 *   - a spare wider than the log's mode (an older version's 0644 file) is
 *     narrowed when it is recycled;
 *   - file_mode bits outside 0777 are refused.
 */
#include <dirent.h>
#include <sys/stat.h>

#include "damage.h"

#define SEG RAFTWAL_MIN_SEGMENT_SIZE
#define MAXP 500

static mode_t mode_of(const char *path)
{
    struct stat st;
    CHECK_MSG(lstat(path, &st) == 0, "stat %s: %s", path, strerror(errno));
    return st.st_mode & 07777;
}

/* Every file and directory under `path` (itself included) has permission
 * bits within `file_mode` (regular files) or `dir_mode` (directories),
 * and its owner may still use it. Returns how many files it checked. */
static int check_modes(const char *path, mode_t file_mode, mode_t dir_mode)
{
    struct stat st;
    int files = 0;
    CHECK_MSG(lstat(path, &st) == 0, "stat %s: %s", path, strerror(errno));
    mode_t have = st.st_mode & 07777;
    if (S_ISDIR(st.st_mode)) {
        DIR *d;
        struct dirent *de;
        CHECK_MSG((have & ~dir_mode) == 0 && (have & 0700) == 0700,
                  "directory %s is %04o: wider than %04o", path, (unsigned)have,
                  (unsigned)dir_mode);
        CHECK((d = opendir(path)) != NULL);
        while ((de = readdir(d)) != NULL) {
            char sub[1024];
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
            files += check_modes(sub, file_mode, dir_mode);
        }
        closedir(d);
        return files;
    }
    CHECK_MSG(S_ISREG(st.st_mode), "%s is not a regular file", path);
    CHECK_MSG((have & ~file_mode) == 0 && (have & 0600) == 0600,
              "file %s is %04o: wider than %04o", path, (unsigned)have, (unsigned)file_mode);
    return 1;
}

static raftwal_log *open_mode(const char *dir, unsigned int flags, unsigned int file_mode)
{
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    raftwal_log *log = NULL;
    o.flags = flags;
    o.segment_size = SEG;
    o.file_mode = file_mode;
    CHECK_OK(raftwal_log_open(&log, dir, &o));
    return log;
}

static void append(raftwal_log *log, model *m)
{
    batch b;
    batch_make(&b, m->last + 1, 1 + tu_rand_range(0, 4), 1, MAXP);
    CHECK_OK(raftwal_log_append(log, b.e, b.n, NULL, 0));
    model_append(m, b.e, b.n, NULL);
    batch_free(&b);
}

/* Appends until `rotations` more segments were started, purging behind
 * each rotation after the first two (so that spares are made and
 * recycled). */
static void rotate(raftwal_log *log, model *m, uint64_t rotations)
{
    uint64_t start = get_stats(log).rotations;
    while (get_stats(log).rotations < start + rotations) {
        uint64_t before = get_stats(log).rotations;
        append(log, m);
        if (get_stats(log).rotations != before && before >= start + 2) {
            raftwal_segment_info a =
                get_segment_info(log, (size_t)get_stats(log).segments - 1);
            if (a.first_index - 1 >= m->first && a.first_index - 1 <= m->last) {
                CHECK_OK(raftwal_log_purge(log, a.first_index - 1));
                model_purge(m, a.first_index - 1);
            }
        }
    }
}

/* The mode of the newest segment file of a closed log. */
static mode_t newest_segment_mode(const char *dir)
{
    wal_file files[DMG_MAXFILES];
    size_t n = wal_load_dir(dir, files, DMG_MAXFILES);
    mode_t m;
    CHECK(n > 0);
    m = mode_of(files[n - 1].path);
    wal_free_files(files, n);
    return m;
}

/* Creates a log in a new directory under umask `mask` with `file_mode`,
 * runs it through rotations, purges, recycling, a repair that backs up
 * files and a reopen without file_mode, and checks after each step that
 * nothing is wider than want_file / want_dir. */
static void exercise(mode_t mask, unsigned int file_mode, mode_t want_file, mode_t want_dir)
{
    char dir[512], lock[1024];
    raftwal_log *log;
    raftwal_check c;
    uint64_t idx, recycled;
    dmg_spot s;
    model m;
    mode_t old = umask(mask);

    printf("   umask %04o, file_mode %04o: want files %04o, directories %04o\n",
           (unsigned)mask, file_mode, (unsigned)want_file, (unsigned)want_dir);
    snprintf(dir, sizeof dir, "%s/wal", tu_tmpdir());
    model_init(&m);
    log = open_mode(dir, RAFTWAL_OPEN_CREATE, file_mode);
    rotate(log, &m, 8);
    recycled = get_stats(log).segments_recycled;
    CHECK_MSG(recycled >= 2, "only %" PRIu64 " segments recycled", recycled);
    check_modes(dir, want_file, want_dir);
    /* The mode asked for is the mode given (not narrower than the umask
     * makes it). */
    CHECK_EQ_U64(mode_of(tu_path(lock, dir, "LOCK")), want_file);
    CHECK_EQ_U64(mode_of(dir), want_dir);
    {
        raftwal_segment_info a;
        int batches = 0;
        /* At least 6 batches in the tail segment (the others are purged). */
        while (batches < 6) {
            uint64_t before = get_stats(log).rotations;
            append(log, &m);
            batches = get_stats(log).rotations == before ? batches + 1 : 1;
        }
        a = get_segment_info(log, (size_t)get_stats(log).segments - 1);
        CHECK_OK(raftwal_log_close(log));
        /* Damage in its middle: repair cuts the rest, backing it up. */
        dmg_find(dir, -1, a.first_index + (m.last - a.first_index) / 2, &idx, &s);
    }
    tu_flip_bit(s.path, s.payload_off, 3);
    memset(&c, 0, sizeof c);
    c.size = sizeof c;
    CHECK_OK(raftwal_repair(dir, &c));
    CHECK_MSG(c.cut_bytes > 0 && c.backup_path[0] != '\0', "repair made no backup");
    CHECK_MSG(check_modes(c.backup_path, want_file, want_dir) >= 1, "empty backup %s",
              c.backup_path);
    CHECK_EQ_U64(mode_of(c.backup_path), want_dir);
    check_modes(dir, want_file, want_dir);

    /* A later open without file_mode makes files of the log's own mode. */
    CHECK(c.last_index < m.last);
    model_truncate(&m, c.last_index + 1);
    log = open_mode(dir, 0, 0);
    rotate(log, &m, 3);
    CHECK_OK(raftwal_log_close(log));
    CHECK_EQ_U64(newest_segment_mode(dir), want_file);
    check_modes(dir, want_file, want_dir);
    log = open_mode(dir, RAFTWAL_OPEN_READONLY, 0);
    model_check(log, &m);
    CHECK_OK(raftwal_log_close(log));
    model_free(&m);
    umask(old);
}

static void test_defaults_under_umasks(void)
{
    exercise(0, 0, 0600, 0700);
    exercise(022, 0, 0600, 0700);
    exercise(077, 0, 0600, 0700);
}

static void test_file_mode_0640(void)
{
    exercise(0, 0640, 0640, 0750);
    exercise(027, 0640, 0640, 0750);
    exercise(077, 0640, 0600, 0700);
}

/* A file_mode given to a later open applies to the files that open
 * creates; the log's own mode (its LOCK file's) is unchanged by it. */
static void test_later_file_mode(void)
{
    char dir[512], lock[1024];
    raftwal_log *log;
    model m;
    mode_t old = umask(0);
    snprintf(dir, sizeof dir, "%s/wal", tu_tmpdir());
    model_init(&m);
    log = open_mode(dir, RAFTWAL_OPEN_CREATE, 0);
    rotate(log, &m, 1);
    CHECK_OK(raftwal_log_close(log));
    log = open_mode(dir, 0, 0640);
    rotate(log, &m, 3);
    CHECK_OK(raftwal_log_close(log));
    CHECK_EQ_U64(newest_segment_mode(dir), 0640);
    CHECK_EQ_U64(mode_of(tu_path(lock, dir, "LOCK")), 0600);
    log = open_mode(dir, 0, 0);
    rotate(log, &m, 3);
    CHECK_OK(raftwal_log_close(log));
    CHECK_EQ_U64(newest_segment_mode(dir), 0600);
    model_free(&m);
    umask(old);
}

/* Spares wider than the log's mode (as an older version made them) are
 * narrowed when recycled. */
static void test_wide_spare_is_narrowed(void)
{
    char dir[512];
    raftwal_log *log;
    DIR *d;
    struct dirent *de;
    int widened = 0;
    uint64_t recycled;
    model m;
    mode_t old = umask(0);
    snprintf(dir, sizeof dir, "%s/wal", tu_tmpdir());
    model_init(&m);
    log = open_mode(dir, RAFTWAL_OPEN_CREATE, 0);
    rotate(log, &m, 5);
    CHECK((d = opendir(dir)) != NULL);
    while ((de = readdir(d)) != NULL) {
        char path[1024];
        if (strstr(de->d_name, ".spare") == NULL)
            continue;
        CHECK(chmod(tu_path(path, dir, de->d_name), 0666) == 0);
        widened++;
    }
    closedir(d);
    CHECK_MSG(widened > 0, "no spare to widen");
    recycled = get_stats(log).segments_recycled;
    rotate(log, &m, 6);
    CHECK(get_stats(log).segments_recycled >= recycled + (uint64_t)widened);
    check_modes(dir, 0600, 0700);
    CHECK_OK(raftwal_log_close(log));
    model_free(&m);
    umask(old);
}

static void test_bad_file_mode(void)
{
    const unsigned int bad[] = {04600, 02600, 01600, 01000};
    char dir[512];
    raftwal_log *log = NULL;
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    size_t i;
    snprintf(dir, sizeof dir, "%s/wal", tu_tmpdir());
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o.file_mode = bad[i];
        CHECK_RC(raftwal_log_open(&log, dir, &o), RAFTWAL_EINVAL);
        CHECK(log == NULL);
    }
    CHECK_MSG(access(dir, F_OK) != 0, "a refused open created %s", dir);
}

int main(int argc, char **argv)
{
    TU_RUN(argc, argv, test_defaults_under_umasks);
    TU_RUN(argc, argv, test_file_mode_0640);
    TU_RUN(argc, argv, test_later_file_mode);
    TU_RUN(argc, argv, test_wide_spare_is_narrowed);
    TU_RUN(argc, argv, test_bad_file_mode);
    return 0;
}
