/* io.h -- the file I/O layer: the only code that touches files.
 *
 * Every call goes through a table of function pointers so tests can inject
 * faults (short writes, EIO, ENOSPC, lost unsynced data) without a FUSE file
 * system. Production uses the POSIX table. Swap tables only while no log is
 * open. */
#ifndef RW_IO_H
#define RW_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct rw_io {
    int (*openat)(int dirfd, const char *name, int flags, mode_t mode);
    int (*close)(int fd);
    ssize_t (*pread)(int fd, void *buf, size_t n, off_t off);
    ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t off);
    int (*fdatasync)(int fd);  /* file data */
    int (*fsync)(int fd);      /* directories */
    int (*ftruncate)(int fd, off_t len);
    int (*renameat)(int dirfd, const char *from, const char *to);
    int (*unlinkat)(int dirfd, const char *name, int flags);
    int (*fstat)(int fd, struct stat *st);
    void *(*mmap)(size_t len, int fd); /* read-only shared map; NULL on error */
    int (*munmap)(void *addr, size_t len);
    /* Optional (NULL: skipped): madvise() readahead hints for a mapping. */
    int (*advise_sequential)(const void *addr, size_t len, int on);
    /* Optional (NULL: skipped): starts writing these bytes to the disk
     * without waiting (sync_file_range); a hint, durable only after the
     * fdatasync that follows. Errors are ignored: that fdatasync reports
     * them. */
    void (*writeback)(int fd, uint64_t off, size_t len);
    /* The one rename that replaces an existing target (renameat above
     * never does): a new version of a small file written under a
     * temporary name atomically taking the place of the old one (KEYS,
     * src/keys.c). */
    int (*rename_replace)(int dirfd, const char *from, const char *to);
};

/* The table in use (POSIX by default). */
extern const struct rw_io *rw_io;
extern const struct rw_io rw_io_posix;
/* Installs `io` (NULL restores POSIX). Not thread-safe: tests only. */
void rw_io_set(const struct rw_io *io);

/* Write/read all n bytes, retrying on EINTR and short transfers. Return 0 or
 * -errno (a short write that makes no progress reports -EIO). A short read
 * at end of file returns -ENODATA. */
int rw_pwrite_all(int fd, const void *buf, size_t n, uint64_t off);
int rw_pread_all(int fd, void *buf, size_t n, uint64_t off);

/* Open-file-description locks (fcntl F_OFD_SETLK) on a whole file, never
 * waiting: owned by the open (not the process), so two opens of one file
 * conflict even within a process, a fork shares its parent's, and closing
 * the last descriptor of the open releases it. Readers of segment files
 * take shared ones, the writer tries an exclusive one before it reuses a
 * purged file (segment.c, "Readers and recycling"). Return 0 or -errno;
 * -EAGAIN: a conflicting lock is held. An exclusive lock needs an fd open
 * for writing. Without OFD locks (not Linux) they do nothing and return 0. */
int rw_file_lock(int fd, int exclusive);
int rw_file_unlock(int fd);

/* Monotonic clock in nanoseconds. */
uint64_t rw_now_ns(void);
/* 64 random bits from the kernel (getrandom), never 0. */
uint64_t rw_random64(void);

#endif
