/* faultfs.h -- a fault-injecting, recording rw_io table for tests.
 *
 * Installed with ff_install(), it sits between the engine and the real
 * POSIX calls (src/io.h) and can:
 *   - fail the Nth call of an operation with a chosen errno, optionally only
 *     for files whose name contains a substring, once or from then on
 *     ("sticky": a disk that stays full);
 *   - make a pwrite write only part of its buffer (a short write);
 *   - skip fdatasync/fsync (scratch directories: the crash explorer models
 *     durability itself, so real syncs would only cost time);
 *   - record every operation, with the bytes of every write, the inode it
 *     touched and markers the test inserts between API calls, so that a run
 *     can be replayed against a model file system (crash_fs.h).
 *
 * Not a general VFS: it tracks only what the engine does (one log
 * directory, files opened by name relative to it). Thread-safe: the
 * background segment preparer may call it concurrently. */
#ifndef RAFTWAL_FAULTFS_H
#define RAFTWAL_FAULTFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum ff_op {
    FF_OPENAT,
    FF_CLOSE,
    FF_PREAD,
    FF_PWRITE,
    FF_FDATASYNC, /* file data */
    FF_FSYNC,     /* directories (and files, if the engine ever does) */
    FF_FTRUNCATE,
    FF_RENAMEAT,
    FF_UNLINKAT,
    FF_FSTAT,
    FF_MMAP,
    FF_MUNMAP,
    FF_NOPS,
    FF_MARK = FF_NOPS, /* a test marker in the recording, not an I/O call */
};

const char *ff_op_name(int op);

/* Rule flags. */
#define FF_STICKY 0x1u /* fail every matching call from the Nth on */
#define FF_SHORT 0x2u  /* pwrite: write only short_len bytes and return that
                          count instead of failing */

/* Adds a rule: the nth (1-based, counted from now, among calls that match
 * `name_sub`) call of `op` fails with errno `err` (or is short). name_sub
 * NULL matches every file; for fd operations the name is the one the fd was
 * opened with, "<dir>" for descriptors faultfs did not open (the log
 * directory). Returns 0, or -1 when the rule table is full. */
int ff_add_rule(int op, unsigned long nth, int err, unsigned flags, const char *name_sub,
                size_t short_len);
/* Removes every rule ("space is back"). */
void ff_clear_rules(void);

/* Installs / removes the table; ff_reset() clears rules, counters and the
 * recording. */
void ff_install(void);
void ff_uninstall(void);
void ff_reset(void);

/* Calls of op made so far (every call, failed or not), and faults
 * injected since the process started. */
unsigned long ff_calls(int op);
unsigned long ff_injected(void);
/* Blocks until at least n calls of op were made (for tests that need the
 * background preparer to have reached a point: no sleeps). */
void ff_wait_calls(int op, unsigned long n);
/* Blocks until at least n faults were injected in total. */
void ff_wait_injected(unsigned long n);

/* fdatasync/fsync return 0 without syncing. */
void ff_set_skip_sync(int on);

/* Calls hook(op, name) at the start of every call (before the rules and
 * the real call), on the calling thread, with no faultfs lock held: a
 * test may block in it to hold a thread (the background preparer) at a
 * chosen call. NULL removes it; ff_reset removes it too. */
void ff_set_hook(void (*hook)(int op, const char *name));
/* Calls fn(fd) before every fsync (not fdatasync) a thread makes, except
 * those fn itself makes (a test runs a step of another actor there, e.g.
 * the background preparer, at a chosen point of the I/O stream). NULL
 * removes it. */
void ff_set_before_fsync_hook(void (*fn)(int fd));

/* ---- recording ----------------------------------------------------- */

typedef struct ff_rec {
    int op;           /* enum ff_op, or FF_MARK */
    int result;       /* return value (bytes for pread/pwrite), -1 on error */
    int err;          /* errno when result < 0 */
    ino_t ino;        /* the file the call touched (0: a directory) */
    ino_t dir_ino;    /* openat/renameat/unlinkat: the directory's inode;
                         fsync of a directory: that directory's inode */
    int created;      /* openat: the call created the file */
    int truncated;    /* openat: O_TRUNC */
    char name[64];    /* openat/unlinkat/renameat source; fd ops: the name */
    char name2[64];   /* renameat target */
    uint64_t off;     /* pwrite offset, ftruncate length */
    size_t len;       /* pwrite: bytes written */
    uint8_t *data;    /* pwrite: a copy of the bytes written */
    uint64_t mark_a, mark_b; /* FF_MARK payload */
} ff_rec;

/* Starts recording (drops an earlier recording). While recording, only
 * successful mutating calls and markers are kept: opens that create or
 * truncate, pwrite, fdatasync, fsync, ftruncate, renameat, unlinkat. */
void ff_record_start(void);
void ff_record_stop(void);
/* Appends a marker (only while recording). */
void ff_mark(uint64_t a, uint64_t b);
/* The recording so far; valid until the next ff_record_start/ff_reset. */
const ff_rec *ff_records(size_t *n);
/* Takes the recording over (the caller frees it with ff_records_free), so
 * that another one can be made while it is still read. */
ff_rec *ff_records_take(size_t *n);
void ff_records_free(ff_rec *r, size_t n);

#endif
