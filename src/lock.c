/* lock.c -- one writer per log directory in the whole system, and which
 * process a handle belongs to.
 *
 * Across processes: a process-owned fcntl() write lock on DIR/LOCK. Unlike
 * flock() or OFD locks it is not inherited by fork(), so a child (a Python
 * snapshot writer, an nginx worker) cannot keep the log locked after its
 * parent exits. fcntl() locks do not conflict within one process, and closing
 * ANY descriptor of the file drops them, so this process also keeps a table
 * of the directories it holds (by device and inode) and never opens LOCK
 * twice. A child made by fork() inherits a copy of that table but none of
 * the fcntl locks: the table is dropped at the child's first writable open.
 *
 * A handle belongs to the process that opened it: in a child made by
 * fork() its locks, threads (the preparer) and mutexes are not the
 * parent's, so every call there is refused (rw_log_check_usable).
 *
 * The LOCK file also records who may read the log: it is created with the
 * log's mode, and an open that is not given a file_mode reads it back
 * (rw_log_mode). */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "io.h"
#include "log.h"

typedef struct held_dir {
    dev_t dev;
    ino_t ino;
    struct held_dir *next;
} held_dir;

static pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;
static held_dir *table;
static pid_t table_pid; /* the process whose locks the table lists */

/* ---------------------------------------------------------------------- */
/* The process a handle belongs to                                        */
/* ---------------------------------------------------------------------- */

/* getpid() without a system call (glibc no longer caches the pid, and a
 * getpid() costs about 1 us on some virtual machines: a log_term() costs
 * less). The cache is an int on a page marked MADV_WIPEONFORK: the kernel
 * hands every child a zeroed copy of it, whatever made the child (fork(),
 * a raw fork or clone() system call that runs no pthread_atfork handler),
 * so 0 means "ask the kernel". Where the page cannot be had (not Linux,
 * kernels before 4.14), getpid() is asked every time: a pid kept by a
 * fork handler would be wrong in a child made without one. */
#if defined(__linux__) && !defined(MADV_WIPEONFORK)
#define MADV_WIPEONFORK 18
#endif
static atomic_int *pid_cache; /* on the wipe-on-fork page; NULL: none */
static pthread_once_t process_once = PTHREAD_ONCE_INIT;

/* table_mu is held across fork() so that the child's copy of it is never
 * one that another thread of the parent held at that moment. */
static void before_fork(void)
{
    pthread_mutex_lock(&table_mu);
}

static void after_fork_parent(void)
{
    pthread_mutex_unlock(&table_mu);
}

static void after_fork_child(void)
{
    pthread_mutex_unlock(&table_mu);
}

static atomic_int *wipe_on_fork_int(void)
{
#ifdef MADV_WIPEONFORK
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0)
        page = 4096;
    void *p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if (madvise(p, (size_t)page, MADV_WIPEONFORK) != 0) {
        munmap(p, (size_t)page);
        return NULL;
    }
    return (atomic_int *)p; /* zeroed: the first call asks the kernel */
#else
    return NULL;
#endif
}

static void init_process(void)
{
    pid_cache = wipe_on_fork_int();
    (void)pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

pid_t rw_process_id(void)
{
    pthread_once(&process_once, init_process);
    if (!pid_cache)
        return getpid();
    int pid = atomic_load_explicit(pid_cache, memory_order_relaxed);
    if (pid == 0) { /* the first call in this process */
        pid = (int)getpid();
        atomic_store_explicit(pid_cache, pid, memory_order_relaxed);
    }
    return (pid_t)pid;
}

int rw_log_check_usable(raftwal_log *log)
{
    pid_t self = rw_process_id();
    if (log->owner != self)
        return rw_err(RAFTWAL_ECLOSED, "%s: this handle belongs to process %ld, which opened it; "
                      "process %ld inherited it through fork() and may not use it (open the log "
                      "anew)", log->path, (long)log->owner, (long)self);
    if (atomic_load(&log->closed))
        return rw_err(RAFTWAL_ECLOSED, "%s: the log is closed", log->path);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* The table of held directories (table_mu held)                          */
/* ---------------------------------------------------------------------- */

/* A child made by fork() holds none of the locks its copy of the table
 * lists (fcntl locks are not inherited): forget them. The pid is asked of
 * the kernel here, so that this holds even for a fork the handlers did not
 * see. */
static void drop_inherited_table(void)
{
    pid_t self = getpid();
    if (table_pid == self)
        return;
    while (table) {
        held_dir *h = table;
        table = h->next;
        free(h);
    }
    table_pid = self;
}

static int table_add(dev_t dev, ino_t ino)
{
    drop_inherited_table();
    for (held_dir *h = table; h; h = h->next)
        if (h->dev == dev && h->ino == ino)
            return RAFTWAL_ELOCKED;
    held_dir *h = malloc(sizeof *h);
    if (!h)
        return RAFTWAL_ENOMEM;
    h->dev = dev;
    h->ino = ino;
    h->next = table;
    table = h;
    return 0;
}

static void table_remove(dev_t dev, ino_t ino)
{
    for (held_dir **p = &table; *p; p = &(*p)->next) {
        if ((*p)->dev == dev && (*p)->ino == ino) {
            held_dir *h = *p;
            *p = h->next;
            free(h);
            return;
        }
    }
}

mode_t rw_log_mode(int dirfd, mode_t fallback)
{
    struct stat st;
    if (fstatat(dirfd, "LOCK", &st, 0) != 0 || !S_ISREG(st.st_mode))
        return fallback;
    return (st.st_mode & 0666) | 0600; /* the owner's files stay usable */
}

mode_t rw_dir_mode(mode_t file_mode)
{
    mode_t m = file_mode & 0777;
    return m | (m & 0444) >> 2;
}

int rw_lock_acquire(raftwal_log *log)
{
    pthread_mutex_lock(&table_mu);
    int rc = table_add(log->dev, log->ino);
    pthread_mutex_unlock(&table_mu);
    if (rc == RAFTWAL_ELOCKED)
        return rw_err(rc, "%s: the log is already open for writing in this process", log->path);
    if (rc)
        return rw_err(rc, "out of memory");
    int fd = rw_io->openat(log->dirfd, "LOCK", O_RDWR | O_CREAT, log->mode);
    if (fd < 0) {
        rc = rw_err_sys(errno, 0, "%s/LOCK: open", log->path);
        goto fail;
    }
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    if (fcntl(fd, F_SETLK, &fl) != 0) {
        int err = errno;
        if (err == EACCES || err == EAGAIN) {
            struct flock who = fl;
            long pid = fcntl(fd, F_GETLK, &who) == 0 && who.l_type != F_UNLCK ? (long)who.l_pid : -1;
            rc = rw_err(RAFTWAL_ELOCKED, "%s: the log is open for writing in another process (pid %ld)",
                        log->path, pid);
        } else {
            rc = rw_err_sys(err, 0, "%s/LOCK: fcntl", log->path);
        }
        rw_io->close(fd);
        goto fail;
    }
    log->lockfd = fd;
    return 0;
fail:
    pthread_mutex_lock(&table_mu);
    table_remove(log->dev, log->ino);
    pthread_mutex_unlock(&table_mu);
    return rc;
}

void rw_lock_release(raftwal_log *log)
{
    if (log->lockfd < 0)
        return;
    rw_io->close(log->lockfd); /* drops the fcntl lock */
    log->lockfd = -1;
    pthread_mutex_lock(&table_mu);
    table_remove(log->dev, log->ino);
    pthread_mutex_unlock(&table_mu);
}
