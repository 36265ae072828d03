/* lock.c -- one writer per log directory in the whole system.
 *
 * Across processes: a process-owned fcntl() write lock on DIR/LOCK. Unlike
 * flock() or OFD locks it is not inherited by fork(), so a child (a Python
 * snapshot writer, an nginx worker) cannot keep the log locked after its
 * parent exits. fcntl() locks do not conflict within one process, and closing
 * ANY descriptor of the file drops them, so this process also keeps a table
 * of the directories it holds (by device and inode) and never opens LOCK
 * twice. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
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

static int table_add(dev_t dev, ino_t ino)
{
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
