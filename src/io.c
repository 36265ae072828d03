/* io.c -- POSIX implementation of the file I/O table and small helpers. */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h> /* renameat */
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static int posix_openat(int dirfd, const char *name, int flags, mode_t mode)
{
    return openat(dirfd, name, flags | O_CLOEXEC, mode);
}

static void *posix_mmap(size_t len, int fd)
{
    void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    return p == MAP_FAILED ? NULL : p;
}

static int posix_unlinkat(int dirfd, const char *name, int flags)
{
    return unlinkat(dirfd, name, flags);
}

/* Renames never replace: a segment that exists is never clobbered by a
 * prepared one, whatever bug might ask for it. Falls back to a plain rename
 * only where the file system cannot do RENAME_NOREPLACE. */
static int posix_renameat(int dirfd, const char *from, const char *to)
{
    if (renameat2(dirfd, from, dirfd, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    struct stat st;
    if (fstatat(dirfd, to, &st, 0) == 0) {
        errno = EEXIST;
        return -1;
    }
    return renameat(dirfd, from, dirfd, to);
}

static int posix_rename_replace(int dirfd, const char *from, const char *to)
{
    return renameat(dirfd, from, dirfd, to);
}

static int posix_advise_sequential(const void *addr, size_t len, int on)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = (uintptr_t)addr & ~(page - 1);
    return madvise((void *)start, len + ((uintptr_t)addr - start), on ? MADV_SEQUENTIAL : MADV_NORMAL);
}

static void posix_writeback(int fd, uint64_t off, size_t len)
{
    (void)sync_file_range(fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WRITE);
}

const struct rw_io rw_io_posix = {
    .openat = posix_openat,
    .close = close,
    .pread = pread,
    .pwrite = pwrite,
    .fdatasync = fdatasync,
    .fsync = fsync,
    .ftruncate = ftruncate,
    .renameat = posix_renameat,
    .unlinkat = posix_unlinkat,
    .fstat = fstat,
    .mmap = posix_mmap,
    .munmap = munmap,
    .advise_sequential = posix_advise_sequential,
    .writeback = posix_writeback,
    .rename_replace = posix_rename_replace,
};

const struct rw_io *rw_io = &rw_io_posix;

static int ofd_lock(int fd, short type)
{
#ifdef F_OFD_SETLK
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    while (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
        if (errno == EINTR)
            continue;
        return errno == EACCES ? -EAGAIN : -errno;
    }
#else
    (void)fd;
    (void)type;
#endif
    return 0;
}

int rw_file_lock(int fd, int exclusive)
{
    return ofd_lock(fd, exclusive ? F_WRLCK : F_RDLCK);
}

int rw_file_unlock(int fd)
{
    return ofd_lock(fd, F_UNLCK);
}

void rw_io_set(const struct rw_io *io)
{
    rw_io = io ? io : &rw_io_posix;
}

int rw_pwrite_all(int fd, const void *buf, size_t n, uint64_t off)
{
    const char *p = buf;
    while (n) {
        ssize_t w = rw_io->pwrite(fd, p, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (w == 0)
            return -EIO;
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

int rw_pread_all(int fd, void *buf, size_t n, uint64_t off)
{
    char *p = buf;
    while (n) {
        ssize_t r = rw_io->pread(fd, p, n, (off_t)off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            return -ENODATA;
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

uint64_t rw_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t rw_random64(void)
{
    uint64_t v = 0;
    while (v == 0) {
        if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) {
            /* getrandom cannot fail for 8 bytes once the pool is ready;
             * fall back to the clock mixed with the address of a local. */
            v = rw_now_ns() ^ ((uint64_t)(uintptr_t)&v << 17) ^ 0x9E3779B97F4A7C15u;
        }
    }
    return v;
}
