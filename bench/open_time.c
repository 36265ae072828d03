/* open_time.c -- how long opening a ~1 GiB log takes after an unclean exit.
 *
 * A child process writes the log (1 KiB entries, batches of 256, no sync
 * per batch), reports that it is done and is killed with SIGKILL: nothing
 * is closed, sealed or flushed by a destructor. Then, per run, another
 * child opens the store, finds its last index, reports the time and is
 * killed again (so the store stays "after an unclean exit" for the next
 * run):
 *   cold: every file of the store is fdatasync'ed and dropped from the page
 *         cache with posix_fadvise(POSIX_FADV_DONTNEED) first (and, where
 *         permitted, /proc/sys/vm/drop_caches);
 *   warm: right after, with whatever the previous open left cached.
 * The same for the peers, whose "open" is open + read of the last key.
 *
 * Children are fresh processes (fork + exec of this program with
 * --open-child), not bare forks: RocksDB's background threads, started by
 * earlier phases, do not exist in a forked child, and a write that waits
 * for a flush would wait for ever. */
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define PAYLOAD 1024
#define BATCH 256
#define MAX_RUNS 64
#define MAX_STORES 8

typedef struct report {
    int ok;
    double ns;
    uint64_t last;
    uint64_t tail_used; /* raftwal: bytes in use in the tail segment */
    uint64_t segments;
} report;

static int drop_caches_allowed = -1;

static void drop_system_cache(void)
{
    if (drop_caches_allowed == 0)
        return;
    int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
    int ok = fd >= 0 && write(fd, "1", 1) == 1;
    if (fd >= 0)
        close(fd);
    if (drop_caches_allowed < 0) {
        drop_caches_allowed = ok;
        if (!ok)
            bench_note("open: /proc/sys/vm/drop_caches is not writable here; cold opens rely on "
                       "posix_fadvise(DONTNEED) of the store's files");
    }
}

static void raftwal_tail(void *st, report *r)
{
    raftwal_log *log = bench_raftwal_handle(st);
    raftwal_stats s = {.size = sizeof s};
    raftwal_segment_info si = {.size = sizeof si};
    if (raftwal_log_stats(log, &s) == 0 && s.segments &&
        raftwal_log_segment_info(log, s.segments - 1, &si) == 0) {
        r->tail_used = si.used_bytes;
        r->segments = s.segments;
    }
}

/* Would one more batch of `n` bytes still fit in raftwal's tail segment? */
static int tail_has_room(void *st, uint64_t n)
{
    raftwal_log *log = bench_raftwal_handle(st);
    raftwal_stats s = {.size = sizeof s};
    raftwal_segment_info si = {.size = sizeof si};
    if (raftwal_log_stats(log, &s) != 0 || !s.segments ||
        raftwal_log_segment_info(log, s.segments - 1, &si) != 0)
        return 0;
    /* Two batches of margin: the seal's footer needs room too. */
    return si.used_bytes + 2 * (n + n / 16) < si.file_bytes;
}

/* In a child: writes `bytes` of payload into the store (with full_tail,
 * raftwal only: then more, until the tail segment is nearly full),
 * reports, waits to be killed. */
static void build_child(uint64_t bytes, int full_tail, const contender *c, const char *dir, int wfd)
{
    char err[512];
    report r = {0};
    void *st = c->open(dir, BENCH_NOSYNC, bytes, err, sizeof err);
    bench_batch b;
    if (!st || bench_batch_init(&b, PAYLOAD, BATCH, 5) != 0) {
        fprintf(stderr, "raftwal-bench: open: build %s: %s\n", c->name, err);
        _exit(1);
    }
    uint64_t batches = bytes / b.nbytes;
    for (uint64_t i = 0; i < batches; i++) {
        if (i % 256 == 0)
            bench_progress("open: writing %llu MiB into %s (%llu%%)",
                           (unsigned long long)(bytes >> 20), c->name,
                           (unsigned long long)(i * 100 / batches));
        bench_batch_number(&b, i * BATCH + 1);
        if (c->append(st, &b, err, sizeof err) != 0) {
            fprintf(stderr, "raftwal-bench: open: build %s: %s\n", c->name, err);
            _exit(1);
        }
    }
    uint64_t done = batches;
    while (full_tail && tail_has_room(st, b.nbytes)) {
        bench_batch_number(&b, done * BATCH + 1);
        if (c->append(st, &b, err, sizeof err) != 0) {
            fprintf(stderr, "raftwal-bench: open: build %s: %s\n", c->name, err);
            _exit(1);
        }
        done++;
    }
    /* raftwal: a Raft node's log, every entry acknowledged durable before
     * the kill. Without it, the no-sync build leaves every segment unsynced
     * (no-sync rotations do not sync), and the open verifies all of them:
     * O(unsynced data), which bench/README.md reports separately. */
    if (c == &bench_raftwal && raftwal_log_sync(bench_raftwal_handle(st)) != 0) {
        fprintf(stderr, "raftwal-bench: open: build %s: sync: %s\n", c->name, raftwal_errmsg());
        _exit(1);
    }
    r.ok = 1;
    r.last = done * BATCH;
    if (c == &bench_raftwal)
        raftwal_tail(st, &r);
    if (write(wfd, &r, sizeof r) != sizeof r)
        _exit(1);
    for (;;)
        pause(); /* the parent kills us: an unclean exit */
}

/* In a child: opens the store, finds its last index, reports, dies. */
static void open_child(const contender *c, const char *dir, int wfd)
{
    char err[512];
    report r = {0};
    uint64_t t0 = bench_now_ns();
    void *st = c->open(dir, BENCH_OPEN_ONLY, 0, err, sizeof err);
    if (st && c->last(st, &r.last, err, sizeof err) == 0) {
        r.ns = (double)(bench_now_ns() - t0);
        r.ok = 1;
        if (c == &bench_raftwal)
            raftwal_tail(st, &r);
    } else {
        fprintf(stderr, "raftwal-bench: open: %s: %s\n", c->name, err);
    }
    if (write(wfd, &r, sizeof r) != sizeof r)
        _exit(1);
    raise(SIGKILL);
    _exit(1);
}

static const contender *by_name(const char *name)
{
    if (strcmp(name, bench_raftwal.name) == 0)
        return &bench_raftwal;
    for (size_t i = 0; i < bench_npeers; i++)
        if (strcmp(name, bench_peers[i]->name) == 0)
            return bench_peers[i];
    return NULL;
}

int bench_open_child(int argc, char **argv)
{
    /* raftwal-bench --open-child build|open NAME DIR BYTES FD */
    if (argc != 7)
        return 2;
    const contender *c = by_name(argv[3]);
    if (!c)
        return 2;
    int fd = atoi(argv[6]);
    /* --segment-mib of the parent (the children are exec'd afresh). */
    const char *seg = getenv("RAFTWAL_BENCH_SEGMENT_SIZE");
    if (seg && *seg)
        bench_raftwal_segment_size = strtoull(seg, NULL, 10);
    if (strncmp(argv[2], "build", 5) == 0)
        build_child(strtoull(argv[5], NULL, 10), strcmp(argv[2], "build-full-tail") == 0, c, argv[4], fd);
    else
        open_child(c, argv[4], fd);
    return 1;
}

/* A store to open: a contender's, written as the builder was told. */
typedef struct store {
    const contender *c;
    int full_tail; /* raftwal: the tail segment nearly full (its worst case) */
} store;

enum child_job { JOB_OPEN, JOB_BUILD, JOB_BUILD_FULL_TAIL };

/* Runs a child and collects its report; the child is killed once it has
 * reported, or after a timeout. */
static int in_child(const bench_opts *o, const contender *c, const char *dir, int job, report *r)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    char bytes[32], fd[16];
    snprintf(bytes, sizeof bytes, "%" PRIu64, o->open_bytes);
    snprintf(fd, sizeof fd, "%d", p[1]);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(p[0]);
        char seg[32];
        snprintf(seg, sizeof seg, "%" PRIu64, bench_raftwal_segment_size);
        setenv("RAFTWAL_BENCH_SEGMENT_SIZE", seg, 1);
        static const char *const jobs[] = {"open", "build", "build-full-tail"};
        execl("/proc/self/exe", "raftwal-bench", "--open-child", jobs[job], c->name, dir, bytes, fd,
              (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    memset(r, 0, sizeof *r);
    int build = job != JOB_OPEN;
    int timeout_ms = build ? 30 * 60 * 1000 : 120 * 1000;
    struct pollfd pf = {.fd = p[0], .events = POLLIN};
    ssize_t n = -1;
    int pr;
    while ((pr = poll(&pf, 1, timeout_ms)) < 0 && errno == EINTR)
        ;
    if (pr > 0)
        while ((n = read(p[0], r, sizeof *r)) < 0 && errno == EINTR)
            ;
    else
        bench_note("open: %s child (%s) timed out", c->name, build ? "build" : "open");
    close(p[0]);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    return n == (ssize_t)sizeof *r && r->ok ? 0 : -1;
}

int bench_phase_open(const bench_opts *o)
{
    /* raftwal twice: as the build left it, and with its tail segment
     * nearly full, the worst case for an open that scans the tail. */
    store list[MAX_STORES] = {{&bench_raftwal, 0}, {&bench_raftwal, 1}};
    int nc = 2;
    if (!o->no_peers)
        for (size_t i = 0; i < bench_npeers && nc < MAX_STORES; i++)
            list[nc++] = (store){bench_peers[i], 0};
    char dirs[MAX_STORES][4096];
    int built[MAX_STORES] = {0};
    report made[MAX_STORES];
    memset(made, 0, sizeof made);
    for (int i = 0; i < nc; i++) {
        char name[64];
        snprintf(name, sizeof name, "open-%s%s", list[i].c->name, list[i].full_tail ? "-full-tail" : "");
        if (bench_fresh_dir(o->dir, name, dirs[i], sizeof dirs[i]) != 0)
            continue;
        built[i] = in_child(o, list[i].c, dirs[i], list[i].full_tail ? JOB_BUILD_FULL_TAIL : JOB_BUILD,
                            &made[i]) == 0;
        if (!built[i]) {
            bench_failures++;
            bench_note("open: could not build the %s store", list[i].c->name);
        }
    }
    int runs = o->runs < MAX_RUNS ? o->runs : MAX_RUNS;
    static bench_sample s[MAX_STORES][2][MAX_RUNS];
    int ok[MAX_STORES][2][MAX_RUNS];
    memset(ok, 0, sizeof ok);
    for (int r = 0; r < runs; r++) {
        for (int k = 0; k < nc; k++) {
            int i = (k + r) % nc;
            if (!built[i])
                continue;
            for (int warm = 0; warm < 2; warm++) {
                bench_progress("open %s%s (%s), run %d/%d", list[i].c->name,
                               list[i].full_tail ? " full tail" : "", warm ? "warm" : "cold", r + 1, runs);
                if (!warm) {
                    bench_drop_cache(dirs[i]);
                    drop_system_cache();
                }
                report rep;
                if (in_child(o, list[i].c, dirs[i], JOB_OPEN, &rep) != 0) {
                    bench_failures++;
                    continue;
                }
                s[i][warm][r] = (bench_sample){.ms = rep.ns / 1e6, .count = rep.last,
                                               .extra = (double)rep.tail_used};
                ok[i][warm][r] = 1;
            }
        }
    }
    for (int i = 0; i < nc; i++) {
        for (int warm = 0; warm < 2; warm++) {
            bench_sample got[MAX_RUNS];
            int n = 0;
            for (int r = 0; r < runs; r++)
                if (ok[i][warm][r])
                    got[n++] = s[i][warm][r];
            if (!n)
                continue;
            bench_row row = {.payload = PAYLOAD};
            snprintf(row.phase, sizeof row.phase, "open");
            snprintf(row.who, sizeof row.who, "%s", list[i].c->name);
            snprintf(row.variant, sizeof row.variant, "%s%s", warm ? "warm" : "cold",
                     list[i].full_tail ? "-fulltail" : "");
            bench_report(o, &row, got, n);
        }
        if (built[i] && list[i].c == &bench_raftwal)
            bench_note("open: raftwal store%s: %llu entries of 1 KiB in %llu segments, tail segment %llu KiB "
                       "in use",
                       list[i].full_tail ? " with a full tail" : "", (unsigned long long)made[i].last,
                       (unsigned long long)made[i].segments, (unsigned long long)(made[i].tail_used >> 10));
        bench_rmtree(dirs[i]);
    }
    return 0;
}
