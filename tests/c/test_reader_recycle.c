/*
 * test_reader_recycle.c -- c_reader_recycle: a read-only handle in another
 * process keeps its zero-copy views while the writer purges and recycles
 * segment files (issue 17, 3).
 *
 * The writer renames a purged segment's file to *.spare and later rewrites
 * it in place as a new segment. A reader in another process that maps the
 * file must never see its bytes change: a view stays valid and unchanged
 * until released, and a later read returns the entry's bytes or
 * RAFTWAL_ECOMPACTED, never other bytes or ECORRUPT.
 *
 * The reader (a child) opens the log read-only, takes iterator views of
 * entries in the oldest segments and reports ready; the writer (the parent)
 * appends, purges and recycles for many rounds, then tells the reader to
 * check: every held view still holds its entry's bytes, and every entry the
 * reader's handle had is either read back exactly or compacted. Files no
 * reader holds are still recycled (the writer's stats show it).
 *
 * A read-only handle keeps a bounded number of segment files open (and a
 * full check lets go of each segment it has read): it reads a log of more
 * segments than RLIMIT_NOFILE allows, and a view it holds keeps its file
 * locked meanwhile.
 */
#include "model.h"
#include "test_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define SEG RAFTWAL_MIN_SEGMENT_SIZE
#define MAXP 400
#define TERM 3
#define NVIEWS 3

static void write_byte(int fd, char c)
{
    CHECK(write(fd, &c, 1) == 1);
}

static char read_byte(int fd)
{
    char c = 0;
    CHECK(read(fd, &c, 1) == 1);
    return c;
}

static void append_flags(raftwal_log *log, uint64_t from, uint64_t n, unsigned int flags)
{
    batch b;
    batch_make(&b, from, (size_t)n, TERM, MAXP);
    CHECK_OK(raftwal_log_append(log, b.e, b.n, NULL, flags));
    batch_free(&b);
}

static void append_range(raftwal_log *log, uint64_t from, uint64_t n)
{
    append_flags(log, from, n, RAFTWAL_NOSYNC);
}

/* The reader: views of entries in the oldest segments, held across the
 * writer's recycling; exit status 0 if all is well. */
static int reader_main(const char *dir, int ready_fd, int go_fd)
{
    static const uint64_t idx[NVIEWS] = {2, 60, 120};
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_READONLY, 0);
    raftwal_iter *it[NVIEWS];
    raftwal_entry view[NVIEWS];
    unsigned char *copy[NVIEWS];
    uint64_t first = 0, last = 0, i, compacted = 0, read_back = 0;
    int k, bad = 0;
    CHECK_OK(raftwal_log_first_index(log, &first));
    CHECK_OK(raftwal_log_last_index(log, &last));
    for (k = 0; k < NVIEWS; k++) {
        CHECK_OK(raftwal_iter_open(&it[k], log, idx[k], idx[k] + 1, RAFTWAL_NO_LIMIT));
        CHECK_RC(raftwal_iter_next(it[k], &view[k]), 1);
        CHECK(tu_payload_ok(view[k].data, view[k].size, idx[k], TERM, MAXP));
        copy[k] = (unsigned char *)malloc(view[k].size + 1);
        CHECK(copy[k] != NULL);
        memcpy(copy[k], view[k].data, view[k].size);
    }
    write_byte(ready_fd, 'R');
    CHECK(read_byte(go_fd) == 'G');
    for (k = 0; k < NVIEWS; k++) {
        if (memcmp(copy[k], view[k].data, view[k].size) != 0) {
            fprintf(stderr, "reader: the view of entry %" PRIu64 " (%zu bytes) changed under it\n",
                    idx[k], view[k].size);
            bad = 1;
        }
    }
    /* Every entry this handle had: its bytes, or compacted. */
    for (i = first; i <= last; i++) {
        static unsigned char buf[MAXP + 1];
        raftwal_entry e;
        int rc = raftwal_log_get(log, i, &e, buf, sizeof buf);
        if (rc == RAFTWAL_ECOMPACTED) {
            compacted++;
        } else if (rc != 0 || e.term != TERM || !tu_payload_ok(e.data, e.size, i, TERM, MAXP)) {
            fprintf(stderr, "reader: entry %" PRIu64 ": rc %d (%s: %s)%s\n", i, rc,
                    raftwal_strerror(rc), raftwal_errmsg(), rc ? "" : ", wrong bytes");
            bad = 1;
            break;
        } else {
            read_back++;
        }
    }
    printf("   reader: %d views unchanged: %s; %" PRIu64 " entries read back, %" PRIu64
           " compacted\n", NVIEWS, bad ? "NO" : "yes", read_back, compacted);
    fflush(stdout);
    for (k = 0; k < NVIEWS; k++) {
        raftwal_iter_close(it[k]);
        free(copy[k]);
    }
    CHECK_OK(raftwal_log_close(log));
    return bad;
}

static void test_views_survive_recycling(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, SEG);
    int ready[2], go[2], status, round;
    uint64_t last = 0;
    raftwal_stats st;
    pid_t pid;
    /* Six segments or so of entries before the reader comes. */
    while (get_stats(log).segments < 6) {
        append_range(log, last + 1, 20);
        last += 20;
    }
    CHECK_OK(raftwal_log_sync(log));
    CHECK(pipe(ready) == 0 && pipe(go) == 0);
    fflush(stdout);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        close(go[1]);
        _exit(reader_main(dir, ready[1], go[0]));
    }
    close(ready[1]);
    close(go[0]);
    CHECK(read_byte(ready[0]) == 'R');
    /* Purge and recycle: every round fills a few segments and purges all
     * but the last 10 entries, so the reader's files are purged in the
     * first round and purged files are reused in every later one. */
    for (round = 0; round < 12; round++) {
        uint64_t segs = get_stats(log).segments + 3;
        while (get_stats(log).segments < segs) {
            append_range(log, last + 1, 20);
            last += 20;
        }
        CHECK_OK(raftwal_log_purge(log, last - 10));
    }
    st = get_stats(log);
    printf("   writer: %" PRIu64 " segments recycled, %" PRIu64 " deleted\n",
           st.segments_recycled, st.segments_deleted);
    CHECK(st.segments_recycled >= 10); /* files no reader holds are reused */
    write_byte(go[1], 'G');
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the reader in another process saw its data change (status 0x%x)", status);
    CHECK_OK(raftwal_log_close(log));
    CHECK_OK(raftwal_verify(dir, NULL));
}

/* The race the protocol closes: a reader that opened a segment by name
 * before the writer renamed it to a spare, and locked it after (a shared
 * open-file-description lock, as the library's readers take). The writer
 * must then not rewrite the spare: it deletes it and builds a new file, and
 * the reader's file keeps its bytes. Done here with a raw lock on the
 * spare, so the timing is exact. */
static void test_locked_spare_is_not_reused(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, SEG);
    char path[1024];
    uint64_t last = 0, recycled0;
    unsigned char before[4096], after[4096];
    struct flock fl;
    struct stat st;
    int fd;
    /* Durable appends: the background preparer is asked for the next file
     * only when the active segment is half full (not at 1/8, as for
     * no-sync appends), so no preparation can take spare 1 before the
     * lock below: the segment just rotated into holds ~2 KiB. */
    while (get_stats(log).segments < 4) {
        append_flags(log, last + 1, 20, 0);
        last += 20;
    }
    CHECK_OK(raftwal_log_purge(log, last - 10)); /* 1.wal, 2.wal, ... -> spares */
    snprintf(path, sizeof path, "%s/%016x.spare", dir, 1u);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    CHECK_MSG(fd >= 0, "%s: %s", path, strerror(errno));
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_RDLCK;
    fl.l_whence = SEEK_SET;
    CHECK(fcntl(fd, F_OFD_SETLK, &fl) == 0);
    CHECK(pread(fd, before, sizeof before, 0) == (ssize_t)sizeof before);
    recycled0 = get_stats(log).segments_recycled;
    /* Rotate until both spares are taken. */
    while (get_stats(log).segments < 7) {
        append_range(log, last + 1, 20);
        last += 20;
    }
    CHECK(pread(fd, after, sizeof after, 0) == (ssize_t)sizeof after);
    CHECK(fstat(fd, &st) == 0);
    printf("   %" PRIu64 " spares reused; the locked one has %d links\n",
           get_stats(log).segments_recycled - recycled0, (int)st.st_nlink);
    CHECK_MSG(memcmp(before, after, sizeof before) == 0,
              "the writer rewrote a spare a reader holds");
    CHECK_EQ_U64(st.st_nlink, 0); /* deleted, not renamed into the log */
    CHECK(get_stats(log).segments_recycled - recycled0 >= 1); /* the other one was */
    close(fd);
    CHECK_OK(raftwal_log_close(log));
    CHECK_OK(raftwal_verify(dir, NULL));
}

/* A read-only handle keeps a locked descriptor per segment it maps, but a
 * full check (raftwal_verify, RAFTWAL_OPEN_VERIFY) lets go of each segment
 * once it has read it: it works on a log of more segments than the
 * process may open files. */
static void test_verify_holds_few_descriptors(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, SEG);
    struct rlimit old, low;
    uint64_t last = 0;
    raftwal_entry e;
    unsigned char buf[MAXP + 1];
    while (get_stats(log).segments < 120) {
        append_range(log, last + 1, 20);
        last += 20;
    }
    CHECK_OK(raftwal_log_close(log));
    CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
    low = old;
    low.rlim_cur = 64;
    CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
    CHECK_OK(raftwal_verify(dir, NULL));
    log = open_log(dir, RAFTWAL_OPEN_READONLY | RAFTWAL_OPEN_VERIFY, 0);
    CHECK_OK(raftwal_log_get(log, last, &e, buf, sizeof buf));
    CHECK(tu_payload_ok(e.data, e.size, last, TERM, MAXP));
    CHECK_OK(raftwal_log_close(log));
    CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
}

/* Descriptors this process has open. */
static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    int n = 0;
    CHECK(d != NULL);
    while ((de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own */
}

/* A log of `nsegs` sealed segments (20 entries of term TERM each); its
 * last index. */
static uint64_t many_segments(const char *dir, uint64_t nsegs)
{
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, SEG);
    uint64_t last = 0;
    while (get_stats(log).segments < nsegs) {
        append_range(log, last + 1, 20);
        last += 20;
    }
    CHECK_OK(raftwal_log_close(log));
    return last;
}

/* Reads every entry of a read-only handle three ways (iterator, get,
 * term), checking each; returns the most descriptors the process had open
 * meanwhile, above `base` (not counted if base < 0). */
static int read_all(raftwal_log *log, uint64_t last, int base)
{
    raftwal_iter *it = NULL;
    raftwal_entry e;
    unsigned char buf[MAXP + 1];
    uint64_t i, term;
    int rc, peak = 0, n;
    CHECK_OK(raftwal_iter_open(&it, log, 1, last + 1, RAFTWAL_NO_LIMIT));
    for (i = 1; (rc = raftwal_iter_next(it, &e)) == 1; i++) {
        CHECK_EQ_U64(e.index, i);
        CHECK(tu_payload_ok(e.data, e.size, i, TERM, MAXP));
        if (base >= 0 && (n = open_fds() - base) > peak)
            peak = n;
    }
    CHECK_RC(rc, 0);
    CHECK_EQ_U64(i, last + 1);
    raftwal_iter_close(it);
    for (i = last; i >= 1; i--) { /* backwards: every segment is opened anew */
        CHECK_OK(raftwal_log_get(log, i, &e, buf, sizeof buf));
        CHECK(tu_payload_ok(e.data, e.size, i, TERM, MAXP));
        CHECK_OK(raftwal_log_term(log, i, &term));
        CHECK_EQ_U64(term, TERM);
    }
    if (base >= 0 && (n = open_fds() - base) > peak)
        peak = n;
    return peak;
}

/* A read-only handle keeps a bounded number of segment files open: it once
 * kept one locked descriptor per segment read until it was closed, and
 * failed with "Too many open files" (RAFTWAL_EIO) on a log of more
 * segments than RLIMIT_NOFILE. Idle segments are let go past the bound
 * (RW_READER_FDS_MAX = 64 here, a quarter of RLIMIT_NOFILE under a low
 * limit) and when an open fails with EMFILE (the limit lowered after the
 * handle was opened); a view still held keeps its segment mapped and
 * locked (the writer may not reuse its file). */
static void test_readonly_reads_hold_few_descriptors(void)
{
    const char *dir = tu_tmpdir();
    uint64_t last = many_segments(dir, 150);
    struct rlimit old, low;
    raftwal_log *log;
    raftwal_iter *held = NULL;
    raftwal_entry view;
    char path[1024];
    int base, peak, fd;
    struct flock fl;

    /* The default bound; a view of entry 1 held throughout. */
    base = open_fds();
    log = open_log(dir, RAFTWAL_OPEN_READONLY, 0);
    CHECK_OK(raftwal_iter_open(&held, log, 1, 2, RAFTWAL_NO_LIMIT));
    CHECK_RC(raftwal_iter_next(held, &view), 1);
    peak = read_all(log, last, base);
    printf("   150 segments read: at most %d descriptors open (bound 64)\n", peak);
    CHECK_MSG(peak <= 64 + 2, "%d descriptors open for a read-only handle", peak);
    CHECK(tu_payload_ok(view.data, view.size, 1, TERM, MAXP));
    /* The held view's file is still locked: a writer's exclusive lock
     * (the reuse check, segment.c W1) fails. */
    snprintf(path, sizeof path, "%s/%016x.wal", dir, 1u);
    fd = open(path, O_RDWR | O_CLOEXEC);
    CHECK(fd >= 0);
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    CHECK_MSG(fcntl(fd, F_OFD_SETLK, &fl) != 0 && errno == EAGAIN,
              "the segment of a held view is not locked");
    close(fd);
    raftwal_iter_close(held);

    /* The limit lowered after the open: reads find EMFILE, let go of idle
     * segments, and go on. */
    CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
    low = old;
    low.rlim_cur = (rlim_t)open_fds() + 8;
    CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
    read_all(log, last, -1); /* counting would take a descriptor */
    CHECK_OK(raftwal_log_close(log));

    /* A low limit at the open: a quarter of it is the bound. */
    low.rlim_cur = 64;
    CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
    base = open_fds();
    log = open_log(dir, RAFTWAL_OPEN_READONLY, 0);
    peak = read_all(log, last, base);
    CHECK_MSG(peak <= 16 + 2, "%d descriptors open for a read-only handle (bound 16)", peak);
    CHECK_OK(raftwal_log_close(log));
    CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
}

/* Threads reading one read-only handle at random while it lets go of idle
 * segments (bound 16 under a limit of 64): each holds an iterator view
 * across other reads and checks it after; every read returns its entry. */
struct ro_reader {
    raftwal_log *log;
    uint64_t last, rng;
    int failed;
    char why[256];
};

static void ro_fail(struct ro_reader *r, const char *what, uint64_t index)
{
    if (!r->failed)
        snprintf(r->why, sizeof r->why, "%s %" PRIu64 ": %s", what, index, raftwal_errmsg());
    r->failed = 1;
}

static void *ro_reader_main(void *arg)
{
    struct ro_reader *r = (struct ro_reader *)arg;
    unsigned char buf[MAXP + 1];
    for (int round = 0; round < 150 && !r->failed; round++) {
        raftwal_iter *it = NULL;
        raftwal_entry view, e;
        uint64_t at = 1 + tu_mix(r->rng++) % r->last, i;
        if (raftwal_iter_open(&it, r->log, at, at + 1, RAFTWAL_NO_LIMIT) != 0 ||
            raftwal_iter_next(it, &view) != 1) {
            ro_fail(r, "iterator at", at);
            break;
        }
        for (int k = 0; k < 10; k++) {
            i = 1 + tu_mix(r->rng++) % r->last;
            if (raftwal_log_get(r->log, i, &e, buf, sizeof buf) != 0 ||
                !tu_payload_ok(e.data, e.size, i, TERM, MAXP))
                ro_fail(r, "get", i);
        }
        if (!tu_payload_ok(view.data, view.size, at, TERM, MAXP))
            ro_fail(r, "the view changed: entry", at);
        raftwal_iter_close(it);
    }
    return NULL;
}

static void test_readonly_threads_while_releasing(void)
{
    const char *dir = tu_tmpdir();
    uint64_t last = many_segments(dir, 150);
    struct rlimit old, low;
    struct ro_reader r[4];
    pthread_t th[4];
    raftwal_log *log;
    CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
    low = old;
    low.rlim_cur = 64;
    CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
    log = open_log(dir, RAFTWAL_OPEN_READONLY, 0);
    for (int i = 0; i < 4; i++) {
        r[i].log = log;
        r[i].last = last;
        r[i].rng = tu_seed() * 4 + (uint64_t)i;
        r[i].failed = 0;
        CHECK(pthread_create(&th[i], NULL, ro_reader_main, &r[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        CHECK(pthread_join(th[i], NULL) == 0);
        CHECK_MSG(!r[i].failed, "reader %d: %s", i, r[i].why);
    }
    CHECK_OK(raftwal_log_close(log));
    CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
}

int main(int argc, char **argv)
{
    TU_RUN(argc, argv, test_views_survive_recycling);
    TU_RUN(argc, argv, test_locked_spare_is_not_reused);
    TU_RUN(argc, argv, test_verify_holds_few_descriptors);
    TU_RUN(argc, argv, test_readonly_reads_hold_few_descriptors);
    TU_RUN(argc, argv, test_readonly_threads_while_releasing);
    return 0;
}
