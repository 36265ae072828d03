/*
 * test_cloexec.c -- c_cloexec: "every file descriptor is opened O_CLOEXEC".
 *
 * A descriptor without FD_CLOEXEC leaks into every program the process
 * execs (and keeps a deleted segment's disk space, or the directory, held
 * there) -- also one that gets the flag a moment later, if another thread
 * forks and execs in that moment. Two checks:
 *   - the libc calls that make descriptors are wrapped at link time
 *     (-Wl,--wrap, CMakeLists.txt): open and openat must ask for O_CLOEXEC,
 *     dup() (which clears it) and fcntl(F_DUPFD) must not be used, F_SETFD
 *     must not clear it;
 *   - the file I/O table is wrapped so that at EVERY call the library makes
 *     (the unlink of a leftover *.wal.tmp while open lists the directory
 *     included) every descriptor of the process that points into the log
 *     directory (or is the directory) is checked for FD_CLOEXEC, and again
 *     at chosen points: after open, after rotations, during an iteration,
 *     after a purge, on a read-only handle, in verify and repair.
 */
#include "test_util.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

#include "io.h"

static char log_dir[PATH_MAX]; /* realpath of the directory under test */
static pthread_mutex_t report_mu = PTHREAD_MUTEX_INITIALIZER;
static char violation[PATH_MAX + 256];
static atomic_int scans;

/* Records the first violation (fmt has one %s). */
static void report(const char *fmt, const char *what)
{
    pthread_mutex_lock(&report_mu);
    if (!violation[0])
        snprintf(violation, sizeof violation, fmt, what);
    pthread_mutex_unlock(&report_mu);
}

/* Checks every descriptor of the process that points into log_dir;
 * records the first one without FD_CLOEXEC. */
static void scan_fds(const char *where)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    size_t dl = strlen(log_dir);
    if (!d)
        return;
    atomic_fetch_add(&scans, 1);
    while ((de = readdir(d)) != NULL) {
        char link[64], target[PATH_MAX];
        int fd = atoi(de->d_name);
        ssize_t n;
        if (de->d_name[0] == '.' || fd == dirfd(d))
            continue;
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        n = readlink(link, target, sizeof target - 1);
        if (n <= 0)
            continue; /* closed meanwhile */
        target[n] = 0;
        if (strncmp(target, log_dir, dl) != 0 || (target[dl] != 0 && target[dl] != '/'))
            continue;
        int flags = fcntl(fd, F_GETFD);
        if (flags >= 0 && !(flags & FD_CLOEXEC)) {
            char what[PATH_MAX + 64];
            snprintf(what, sizeof what, "%s: fd %d (%s)", where, fd, target);
            report("%s lacks FD_CLOEXEC", what);
        }
    }
    closedir(d);
}

/* ---- libc, wrapped at link time ------------------------------------------ */

int __real_open(const char *path, int flags, ...);
int __real_openat(int dirfd, const char *path, int flags, ...);
int __real_dup(int fd);
int __real_fcntl(int fd, int cmd, ...);
int __wrap_open(const char *path, int flags, ...);
int __wrap_openat(int dirfd, const char *path, int flags, ...);
int __wrap_dup(int fd);
int __wrap_fcntl(int fd, int cmd, ...);

static atomic_int wrapped_calls;

static mode_t mode_arg(int flags, va_list ap)
{
    return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, unsigned int) : 0;
}

int __wrap_open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    atomic_fetch_add(&wrapped_calls, 1);
    if (!(flags & O_CLOEXEC))
        report("open(%s) without O_CLOEXEC", path);
    return __real_open(path, flags, mode);
}

int __wrap_openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    atomic_fetch_add(&wrapped_calls, 1);
    if (!(flags & O_CLOEXEC))
        report("openat(%s) without O_CLOEXEC", path);
    return __real_openat(dirfd, path, flags, mode);
}

int __wrap_dup(int fd)
{
    atomic_fetch_add(&wrapped_calls, 1);
    report("%s: the copy is not close-on-exec (use fcntl F_DUPFD_CLOEXEC)", "dup()");
    return __real_dup(fd);
}

int __wrap_fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    /* Every fcntl argument is an int or a pointer: passed as one word. */
    void *arg = va_arg(ap, void *);
    va_end(ap);
    atomic_fetch_add(&wrapped_calls, 1);
    if (cmd == F_DUPFD)
        report("%s: the copy is not close-on-exec", "fcntl(F_DUPFD)");
    if (cmd == F_SETFD && !((intptr_t)arg & FD_CLOEXEC))
        report("%s clears close-on-exec", "fcntl(F_SETFD)");
    return __real_fcntl(fd, cmd, arg);
}

/* ---- the wrapped I/O table: a scan before every call ----------------- */

static int w_openat(int dirfd, const char *name, int flags, mode_t mode)
{
    scan_fds("before openat");
    int fd = rw_io_posix.openat(dirfd, name, flags, mode);
    scan_fds("after openat");
    return fd;
}

static int w_close(int fd)
{
    scan_fds("before close");
    return rw_io_posix.close(fd);
}

static ssize_t w_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    scan_fds("pwrite");
    return rw_io_posix.pwrite(fd, buf, n, off);
}

static ssize_t w_pread(int fd, void *buf, size_t n, off_t off)
{
    scan_fds("pread");
    return rw_io_posix.pread(fd, buf, n, off);
}

static int w_fdatasync(int fd)
{
    scan_fds("fdatasync");
    return rw_io_posix.fdatasync(fd);
}

static int w_fsync(int fd)
{
    scan_fds("fsync");
    return rw_io_posix.fsync(fd);
}

static int w_renameat(int dirfd, const char *from, const char *to)
{
    scan_fds("renameat");
    return rw_io_posix.renameat(dirfd, from, to);
}

static int w_unlinkat(int dirfd, const char *name, int flags)
{
    scan_fds("unlinkat");
    return rw_io_posix.unlinkat(dirfd, name, flags);
}

static int w_fstat(int fd, struct stat *st)
{
    scan_fds("fstat");
    return rw_io_posix.fstat(fd, st);
}

static void *w_mmap(size_t len, int fd)
{
    scan_fds("mmap");
    return rw_io_posix.mmap(len, fd);
}

static struct rw_io wrapped;

static void install_io(const char *dir)
{
    CHECK(realpath(dir, log_dir) != NULL);
    wrapped = rw_io_posix;
    wrapped.openat = w_openat;
    wrapped.close = w_close;
    wrapped.pwrite = w_pwrite;
    wrapped.pread = w_pread;
    wrapped.fdatasync = w_fdatasync;
    wrapped.fsync = w_fsync;
    wrapped.renameat = w_renameat;
    wrapped.unlinkat = w_unlinkat;
    wrapped.fstat = w_fstat;
    wrapped.mmap = w_mmap;
    rw_io_set(&wrapped);
}

#define CHECK_CLOEXEC(where)                                                    \
    do {                                                                        \
        scan_fds(where);                                                        \
        CHECK_MSG(!violation[0], "%s", violation);                              \
    } while (0)

static void append_n(raftwal_log *log, uint64_t first, uint64_t n)
{
    static char data[3000];
    for (uint64_t i = first; i < first + n; i++) {
        raftwal_entry e = {i, 1, 0, 0, data, sizeof data};
        CHECK_OK(raftwal_log_append(log, &e, 1, NULL, i % 4 ? RAFTWAL_NOSYNC : 0));
    }
}

static void test_every_fd_is_cloexec(void)
{
    const char *dir = tu_tmpdir();
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    raftwal_log *log = NULL, *ro = NULL;
    raftwal_iter *it = NULL;
    raftwal_entry e;
    raftwal_check chk;
    char path[1024];

    o.segment_size = RAFTWAL_MIN_SEGMENT_SIZE;
    CHECK_OK(raftwal_log_open(&log, dir, &o));
    CHECK_OK(raftwal_log_close(log));
    /* A leftover of a crash while preparing a segment: open removes it
     * while it reads the directory. */
    tu_write_file(tu_path(path, dir, "00000000000000ff.wal.tmp"), "x", 1);

    install_io(dir);
    o.flags = 0;
    CHECK_OK(raftwal_log_open(&log, dir, &o));
    CHECK(access(path, F_OK) != 0);
    CHECK_CLOEXEC("after open");
    append_n(log, 1, 40); /* several rotations */
    CHECK_CLOEXEC("after rotations");
    {
        raftwal_stats st;
        st.size = sizeof st;
        CHECK_OK(raftwal_log_stats(log, &st));
        CHECK(st.rotations >= 3);
    }
    CHECK_OK(raftwal_iter_open(&it, log, 1, 41, RAFTWAL_NO_LIMIT));
    for (int i = 0; i < 20; i++)
        CHECK_RC(raftwal_iter_next(it, &e), 1);
    CHECK_CLOEXEC("during an iteration");
    CHECK_OK(raftwal_log_purge(log, 30)); /* files kept as spares or deleted */
    CHECK_CLOEXEC("after a purge, the iterator still open");
    raftwal_iter_close(it);
    append_n(log, 41, 20); /* reuses spares */
    o.flags = RAFTWAL_OPEN_READONLY;
    CHECK_OK(raftwal_log_open(&ro, dir, &o));
    CHECK_OK(raftwal_iter_open(&it, ro, 31, 61, RAFTWAL_NO_LIMIT));
    CHECK_RC(raftwal_iter_next(it, &e), 1);
    CHECK_CLOEXEC("a read-only handle iterating");
    raftwal_iter_close(it);
    CHECK_OK(raftwal_log_close(ro));
    CHECK_OK(raftwal_log_close(log));
    CHECK_CLOEXEC("after close");

    tu_write_file(path, "x", 1);
    chk.size = sizeof chk;
    CHECK_OK(raftwal_verify(dir, &chk));
    CHECK_OK(raftwal_repair(dir, &chk));
    CHECK_CLOEXEC("verify and repair");
    o.flags = 0;
    CHECK_OK(raftwal_log_open(&log, dir, &o)); /* removes the leftover */
    CHECK_OK(raftwal_log_close(log));
    CHECK_CLOEXEC("a second open");
    rw_io_set(NULL);
    CHECK(atomic_load(&scans) > 100);
    printf("   %d scans of /proc/self/fd, %d wrapped libc calls\n", atomic_load(&scans),
           atomic_load(&wrapped_calls));
    CHECK(atomic_load(&wrapped_calls) > 0);
}

/* A repair whose cut it must first weigh against the purge point lists
 * the directory itself (check.c, cut_keeps_only_purged): through a copy of
 * the directory descriptor, made close-on-exec too. */
static void test_repair_listing_is_cloexec(void)
{
    const char *dir = tu_tmpdir();
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    raftwal_log *log = NULL;
    raftwal_check chk;
    char path[1024];

    o.segment_size = RAFTWAL_MIN_SEGMENT_SIZE;
    CHECK_OK(raftwal_log_open(&log, dir, &o));
    append_n(log, 1, 40); /* several segments */
    CHECK_OK(raftwal_log_close(log));
    /* Damage in a sealed segment: verify places it, repair weighs a cut. */
    tu_segment_path(path, dir, 2);
    tu_flip_bit(path, tu_segment_length(dir, 2) / 2, 3);
    install_io(dir);
    chk.size = sizeof chk;
    (void)raftwal_repair(dir, &chk); /* cut or refused: either lists the directory */
    rw_io_set(NULL);
    CHECK_CLOEXEC("repair weighing a cut");
}

int main(int argc, char **argv)
{
    TU_RUN(argc, argv, test_every_fd_is_cloexec);
    TU_RUN(argc, argv, test_repair_listing_is_cloexec);
    return 0;
}
