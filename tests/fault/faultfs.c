/* faultfs.c -- see faultfs.h. */
#include "faultfs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

#define MAX_RULES 16
#define MAX_FDS 4096

typedef struct rule {
    int op;
    unsigned long nth;  /* 1-based among matching calls */
    unsigned long seen; /* matching calls so far */
    int err;
    unsigned flags;
    char name_sub[64]; /* "" matches all */
    size_t short_len;
} rule;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t calls_cond = PTHREAD_COND_INITIALIZER;
static rule rules[MAX_RULES];
static int nrules;
static unsigned long calls[FF_NOPS];
static unsigned long injected;
static int skip_sync;
static char *fd_names[MAX_FDS];

static int recording;
static ff_rec *recs;
static size_t nrecs, recs_cap;

static const char *const op_names[] = {"openat",  "close",     "pread",    "pwrite",
                                       "fdatasync", "fsync",   "ftruncate", "renameat",
                                       "unlinkat", "fstat",    "mmap",     "munmap", "mark"};

const char *ff_op_name(int op)
{
    return op >= 0 && op <= FF_MARK ? op_names[op] : "?";
}

/* ---------------------------------------------------------------------- */
/* Rules                                                                  */
/* ---------------------------------------------------------------------- */

int ff_add_rule(int op, unsigned long nth, int err, unsigned flags, const char *name_sub,
                size_t short_len)
{
    pthread_mutex_lock(&mu);
    int rc = -1;
    if (nrules < MAX_RULES) {
        rule *r = &rules[nrules++];
        memset(r, 0, sizeof *r);
        r->op = op;
        r->nth = nth ? nth : 1;
        r->err = err;
        r->flags = flags;
        r->short_len = short_len;
        if (name_sub)
            snprintf(r->name_sub, sizeof r->name_sub, "%s", name_sub);
        rc = 0;
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

void ff_clear_rules(void)
{
    pthread_mutex_lock(&mu);
    nrules = 0;
    pthread_mutex_unlock(&mu);
}

static const char *fd_name(int fd)
{
    return fd >= 0 && fd < MAX_FDS && fd_names[fd] ? fd_names[fd] : "<dir>";
}

/* Counts the call and decides its fate (mu held). Returns the rule that
 * fires, or NULL. */
static rule *decide(int op, const char *name)
{
    calls[op]++;
    pthread_cond_broadcast(&calls_cond);
    rule *fire = NULL;
    for (int i = 0; i < nrules; i++) {
        rule *r = &rules[i];
        if (r->op != op || (r->name_sub[0] && !strstr(name, r->name_sub)))
            continue;
        r->seen++;
        if (!fire && (r->seen == r->nth || ((r->flags & FF_STICKY) && r->seen > r->nth)))
            fire = r;
    }
    if (fire) {
        injected++;
        pthread_cond_broadcast(&calls_cond);
    }
    return fire;
}

/* Checks the rules for one call; returns 0 to proceed, or sets errno and
 * returns -1. *short_len receives a short-write length when one fires. */
static void (*_Atomic call_hook)(int op, const char *name);

static int check(int op, const char *name, size_t *short_len)
{
    void (*hook)(int, const char *) = call_hook;
    if (hook)
        hook(op, name);
    pthread_mutex_lock(&mu);
    rule *r = decide(op, name);
    int rc = 0;
    if (r && (r->flags & FF_SHORT) && short_len) {
        *short_len = r->short_len;
    } else if (r) {
        errno = r->err;
        rc = -1;
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Recording                                                              */
/* ---------------------------------------------------------------------- */

static ff_rec *rec_new(int op) /* mu held */
{
    if (nrecs == recs_cap) {
        size_t cap = recs_cap ? recs_cap * 2 : 1024;
        ff_rec *p = realloc(recs, cap * sizeof *p);
        if (!p) {
            fprintf(stderr, "faultfs: out of memory for the recording\n");
            abort();
        }
        recs = p;
        recs_cap = cap;
    }
    ff_rec *r = &recs[nrecs++];
    memset(r, 0, sizeof *r);
    r->op = op;
    return r;
}

static ino_t ino_of(int fd, int *is_dir)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return 0;
    if (is_dir)
        *is_dir = S_ISDIR(st.st_mode);
    return st.st_ino;
}

static void free_recording(void)
{
    for (size_t i = 0; i < nrecs; i++)
        free(recs[i].data);
    free(recs);
    recs = NULL;
    nrecs = recs_cap = 0;
}

void ff_record_start(void)
{
    pthread_mutex_lock(&mu);
    free_recording();
    recording = 1;
    pthread_mutex_unlock(&mu);
}

void ff_record_stop(void)
{
    pthread_mutex_lock(&mu);
    recording = 0;
    pthread_mutex_unlock(&mu);
}

void ff_mark(uint64_t a, uint64_t b)
{
    pthread_mutex_lock(&mu);
    if (recording) {
        ff_rec *r = rec_new(FF_MARK);
        r->mark_a = a;
        r->mark_b = b;
    }
    pthread_mutex_unlock(&mu);
}

const ff_rec *ff_records(size_t *n)
{
    *n = nrecs;
    return recs;
}

ff_rec *ff_records_take(size_t *n)
{
    pthread_mutex_lock(&mu);
    ff_rec *r = recs;
    *n = nrecs;
    recs = NULL;
    nrecs = recs_cap = 0;
    pthread_mutex_unlock(&mu);
    return r;
}

void ff_records_free(ff_rec *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(r[i].data);
    free(r);
}

/* ---------------------------------------------------------------------- */
/* The table                                                              */
/* ---------------------------------------------------------------------- */

static int ff_openat(int dirfd, const char *name, int flags, mode_t mode)
{
    if (check(FF_OPENAT, name, NULL))
        return -1;
    struct stat st;
    int existed = fstatat(dirfd, name, &st, 0) == 0;
    int fd = rw_io_posix.openat(dirfd, name, flags, mode);
    if (fd < 0)
        return fd;
    pthread_mutex_lock(&mu);
    if (fd < MAX_FDS) {
        free(fd_names[fd]);
        fd_names[fd] = strdup(name);
    }
    int created = !existed && (flags & O_CREAT);
    int truncated = existed && (flags & O_TRUNC);
    if (recording && (created || truncated)) {
        ff_rec *r = rec_new(FF_OPENAT);
        r->result = fd;
        r->ino = ino_of(fd, NULL);
        r->dir_ino = ino_of(dirfd, NULL);
        r->created = created;
        r->truncated = truncated;
        snprintf(r->name, sizeof r->name, "%s", name);
    }
    pthread_mutex_unlock(&mu);
    return fd;
}

static int ff_close(int fd)
{
    /* Linux releases the descriptor even when close reports an error, so
     * an injected failure closes it too and then reports the errno. */
    int fail = check(FF_CLOSE, fd_name(fd), NULL);
    int err = errno;
    pthread_mutex_lock(&mu);
    if (fd >= 0 && fd < MAX_FDS) {
        free(fd_names[fd]);
        fd_names[fd] = NULL;
    }
    pthread_mutex_unlock(&mu);
    int rc = rw_io_posix.close(fd);
    if (fail) {
        errno = err;
        return -1;
    }
    return rc;
}

static ssize_t ff_pread(int fd, void *buf, size_t n, off_t off)
{
    if (check(FF_PREAD, fd_name(fd), NULL))
        return -1;
    return rw_io_posix.pread(fd, buf, n, off);
}

static ssize_t ff_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    size_t short_len = (size_t)-1;
    if (check(FF_PWRITE, fd_name(fd), &short_len))
        return -1;
    if (short_len < n)
        n = short_len ? short_len : 1;
    ssize_t w = rw_io_posix.pwrite(fd, buf, n, off);
    if (w > 0) {
        pthread_mutex_lock(&mu);
        if (recording) {
            ff_rec *r = rec_new(FF_PWRITE);
            r->result = (int)w;
            r->ino = ino_of(fd, NULL);
            snprintf(r->name, sizeof r->name, "%s", fd_name(fd));
            r->off = (uint64_t)off;
            r->len = (size_t)w;
            r->data = malloc((size_t)w);
            if (!r->data)
                abort();
            memcpy(r->data, buf, (size_t)w);
        }
        pthread_mutex_unlock(&mu);
    }
    return w;
}

static void record_sync(int op, int fd) /* mu held */
{
    if (!recording)
        return;
    int is_dir = 0;
    ino_t ino = ino_of(fd, &is_dir);
    ff_rec *r = rec_new(op);
    snprintf(r->name, sizeof r->name, "%s", fd_name(fd));
    if (is_dir)
        r->dir_ino = ino;
    else
        r->ino = ino;
}

static int ff_sync(int op, int fd, int (*real)(int))
{
    if (check(op, fd_name(fd), NULL))
        return -1;
    pthread_mutex_lock(&mu);
    int skip = skip_sync;
    pthread_mutex_unlock(&mu);
    int rc = skip ? 0 : real(fd);
    if (rc == 0) {
        pthread_mutex_lock(&mu);
        record_sync(op, fd);
        pthread_mutex_unlock(&mu);
    }
    return rc;
}

static int ff_fdatasync(int fd)
{
    return ff_sync(FF_FDATASYNC, fd, rw_io_posix.fdatasync);
}

static void (*before_fsync_hook)(int fd);

void ff_set_before_fsync_hook(void (*fn)(int fd))
{
    before_fsync_hook = fn;
}

static int ff_fsync(int fd)
{
    static __thread int in_hook;
    if (before_fsync_hook && !in_hook) {
        in_hook = 1;
        before_fsync_hook(fd);
        in_hook = 0;
    }
    return ff_sync(FF_FSYNC, fd, rw_io_posix.fsync);
}

static int ff_ftruncate(int fd, off_t len)
{
    if (check(FF_FTRUNCATE, fd_name(fd), NULL))
        return -1;
    int rc = rw_io_posix.ftruncate(fd, len);
    if (rc == 0) {
        pthread_mutex_lock(&mu);
        if (recording) {
            ff_rec *r = rec_new(FF_FTRUNCATE);
            r->ino = ino_of(fd, NULL);
            snprintf(r->name, sizeof r->name, "%s", fd_name(fd));
            r->off = (uint64_t)len;
        }
        pthread_mutex_unlock(&mu);
    }
    return rc;
}

/* Both renames are FF_RENAMEAT: the crash model's rename replaces its
 * target anyway (crash_fs.c). */
static int renameat_with(int (*real)(int, const char *, const char *), int dirfd,
                         const char *from, const char *to)
{
    if (check(FF_RENAMEAT, from, NULL))
        return -1;
    int rc = real(dirfd, from, to);
    if (rc == 0) {
        pthread_mutex_lock(&mu);
        for (int fd = 0; fd < MAX_FDS; fd++) /* open descriptors follow the file */
            if (fd_names[fd] && strcmp(fd_names[fd], from) == 0) {
                free(fd_names[fd]);
                fd_names[fd] = strdup(to);
            }
        if (recording) {
            ff_rec *r = rec_new(FF_RENAMEAT);
            r->dir_ino = ino_of(dirfd, NULL);
            snprintf(r->name, sizeof r->name, "%s", from);
            snprintf(r->name2, sizeof r->name2, "%s", to);
        }
        pthread_mutex_unlock(&mu);
    }
    return rc;
}

static int ff_renameat(int dirfd, const char *from, const char *to)
{
    return renameat_with(rw_io_posix.renameat, dirfd, from, to);
}

static int ff_rename_replace(int dirfd, const char *from, const char *to)
{
    return renameat_with(rw_io_posix.rename_replace, dirfd, from, to);
}

static int ff_unlinkat(int dirfd, const char *name, int flags)
{
    if (check(FF_UNLINKAT, name, NULL))
        return -1;
    int rc = rw_io_posix.unlinkat(dirfd, name, flags);
    if (rc == 0) {
        pthread_mutex_lock(&mu);
        if (recording) {
            ff_rec *r = rec_new(FF_UNLINKAT);
            r->dir_ino = ino_of(dirfd, NULL);
            snprintf(r->name, sizeof r->name, "%s", name);
        }
        pthread_mutex_unlock(&mu);
    }
    return rc;
}

static int ff_fstat(int fd, struct stat *st)
{
    if (check(FF_FSTAT, fd_name(fd), NULL))
        return -1;
    return rw_io_posix.fstat(fd, st);
}

static void *ff_mmap(size_t len, int fd)
{
    if (check(FF_MMAP, fd_name(fd), NULL))
        return NULL;
    return rw_io_posix.mmap(len, fd);
}

static int ff_munmap(void *addr, size_t len)
{
    if (check(FF_MUNMAP, "", NULL))
        return -1;
    return rw_io_posix.munmap(addr, len);
}

static const struct rw_io faultfs_table = {
    .openat = ff_openat,
    .close = ff_close,
    .pread = ff_pread,
    .pwrite = ff_pwrite,
    .fdatasync = ff_fdatasync,
    .fsync = ff_fsync,
    .ftruncate = ff_ftruncate,
    .renameat = ff_renameat,
    .unlinkat = ff_unlinkat,
    .fstat = ff_fstat,
    .mmap = ff_mmap,
    .munmap = ff_munmap,
    .rename_replace = ff_rename_replace,
};

void ff_install(void)
{
    rw_io_set(&faultfs_table);
}

void ff_uninstall(void)
{
    rw_io_set(NULL);
}

void ff_reset(void)
{
    pthread_mutex_lock(&mu);
    nrules = 0;
    call_hook = NULL;
    memset(calls, 0, sizeof calls);
    skip_sync = 0;
    recording = 0;
    free_recording();
    pthread_mutex_unlock(&mu);
}

unsigned long ff_calls(int op)
{
    pthread_mutex_lock(&mu);
    unsigned long n = op >= 0 && op < FF_NOPS ? calls[op] : 0;
    pthread_mutex_unlock(&mu);
    return n;
}

unsigned long ff_injected(void)
{
    pthread_mutex_lock(&mu);
    unsigned long n = injected;
    pthread_mutex_unlock(&mu);
    return n;
}

void ff_wait_calls(int op, unsigned long n)
{
    pthread_mutex_lock(&mu);
    while (calls[op] < n)
        pthread_cond_wait(&calls_cond, &mu);
    pthread_mutex_unlock(&mu);
}

void ff_wait_injected(unsigned long n)
{
    pthread_mutex_lock(&mu);
    while (injected < n)
        pthread_cond_wait(&calls_cond, &mu);
    pthread_mutex_unlock(&mu);
}

void ff_set_hook(void (*hook)(int op, const char *name))
{
    call_hook = hook;
}

void ff_set_skip_sync(int on)
{
    pthread_mutex_lock(&mu);
    skip_sync = on;
    pthread_mutex_unlock(&mu);
}
