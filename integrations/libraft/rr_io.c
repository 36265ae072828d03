/* rr_io.c -- the raft_io of libraft implemented on a raftwal log.
 *
 * Two threads: the loop thread (every raft_io call, every callback) and one
 * worker thread per io that makes appends durable (raftwal_log_sync, one
 * sync for every append written before it started: group commit) and runs
 * the snapshot puts and gets. The worker reports through a uv_async handle;
 * the loop then fires callbacks in submission order.
 *
 * Appends are written on the loop thread at once (RAFTWAL_NOSYNC: a copy to
 * the page cache), so the order of writes and truncations on disk is the
 * order of the calls. Each written append gets a sequence number; the worker
 * publishes the highest sequence number its last successful sync covered.
 *
 * A snapshot put with trailing == 0 (an install from the leader) rewrites the
 * log's bounds, so appends and truncates that arrive while it runs are held
 * in `deferred` and written when it completes. */
#include "raftwal_raft.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <raftwal.h>

#include "rr_snapshot.h"

#define RR_DIR_MAX 900
/* Entries are loaded into batches (libraft frees a batch once no entry in
 * its log points into it any more) that grow from the first size to the
 * last, doubling; the last batch is shrunk to what it holds. */
#define RR_LOAD_BATCH_FIRST (1u << 20)
#define RR_LOAD_BATCH_MAX (64u << 20)
#define RR_HUGE_PAGE (2u << 20)
/* The raftwal snapshot metadata: a version byte and a flags byte. */
#define RR_META_VERSION 1
#define RR_META_INSTALL 0x1 /* an install: entries > index must go */

enum rr_kind { RR_APPEND, RR_TRUNCATE, RR_PUT, RR_GET };

/* One request, queued in one of the FIFOs below. */
struct rr_req {
    struct rr_req *next;
    enum rr_kind kind;
    int status; /* append: a write error; ops: the worker's result */
    uint64_t seq; /* append: its write's sequence number */
    /* append */
    struct raft_io_append *append;
    raft_io_append_cb append_cb;
    const struct raft_entry *entries; /* only while deferred */
    unsigned n;
    /* truncate (deferred) */
    uint64_t index;
    /* snapshot put */
    struct raft_io_snapshot_put *put;
    raft_io_snapshot_put_cb put_cb;
    const struct raft_snapshot *snap;
    unsigned trailing;
    struct raft_buffer conf;
    /* snapshot get */
    struct raft_io_snapshot_get *get;
    raft_io_snapshot_get_cb get_cb;
    struct raft_snapshot *got;
    char *errmsg; /* ops: RAFT_ERRMSG_BUF_SIZE bytes */
};

struct rr_fifo {
    struct rr_req *head, *tail;
};

static void fifo_push(struct rr_fifo *f, struct rr_req *r)
{
    r->next = NULL;
    if (f->tail)
        f->tail->next = r;
    else
        f->head = r;
    f->tail = r;
}

static struct rr_req *fifo_pop(struct rr_fifo *f)
{
    struct rr_req *r = f->head;
    if (r) {
        f->head = r->next;
        if (!f->head)
            f->tail = NULL;
    }
    return r;
}

struct rr {
    struct raft_io *io;   /* the io we implement */
    struct raft_io inner; /* libraft's uv io: network, timers, clock */
    uv_loop_t *loop;
    char dir[RR_DIR_MAX + 1];
    raftwal_log *log;
    int snapfd; /* dir/snapshots */

    /* Loop thread only. */
    uint64_t next_index; /* index of the next appended entry */
    uint64_t term, vote;
    int install_pending;
    int broken; /* a deferred truncate failed: later appends fail with it */
    int inner_ready, async_ready, closing;
    raft_io_close_cb close_cb;
    struct rr_fifo pending;  /* appends written (or failed), awaiting callback */
    struct rr_fifo deferred; /* appends and truncates behind an install */
    raftwal_entry *ents;
    size_t ents_cap;
    uv_async_t async;

    /* Shared with the worker, under mu. */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    pthread_t worker;
    int worker_running, stop;
    uint64_t written_seq, durable_seq;
    int sync_status;
    char sync_errmsg[RAFT_ERRMSG_BUF_SIZE];
    uint64_t snap_index, snap_term; /* the current snapshot; written by the worker */
    struct rr_fifo ops;  /* snapshot puts and gets for the worker */
    struct rr_fifo done; /* ops the worker finished */
};

static struct rr *impl_of(struct raft_io *io)
{
    return io->impl;
}

/* ---- errors ------------------------------------------------------------ */

static int map_error(int rc)
{
    switch (rc) {
    case RAFTWAL_ENOMEM: return RAFT_NOMEM;
    case RAFTWAL_ENOSPC: return RAFT_NOSPACE;
    case RAFTWAL_ECORRUPT:
    case RAFTWAL_EVERSION: return RAFT_CORRUPT;
    default: return RAFT_IOERR;
    }
}

/* Maps a raftwal error and stores the calling thread's raftwal message. */
static int wal_error(char *errmsg, const char *what, int rc)
{
    snprintf(errmsg, RAFT_ERRMSG_BUF_SIZE, "raftwal %s: %s (%s)", what, raftwal_strerror(rc),
             raftwal_errmsg());
    return map_error(rc);
}

/* ---- the log's bounds --------------------------------------------------- */

static int log_bounds(struct rr *rr, uint64_t *first, uint64_t *last)
{
    int rc = raftwal_log_first_index(rr->log, first);
    if (rc == 0)
        rc = raftwal_log_last_index(rr->log, last);
    return rc;
}

/* Records the snapshot in the log (durably). */
static int save_snapshot_record(struct rr *rr, uint64_t index, uint64_t term, int flags)
{
    uint8_t meta[2] = {RR_META_VERSION, (uint8_t)flags};
    return raftwal_log_save_snapshot(rr->log, index, term, meta, sizeof meta);
}

/* After an install of snapshot `index`: drop every entry (those after it
 * may be of a stale term), so that the next append is index + 1, then clear
 * the install flag. Idempotent: init() calls it again after a crash. */
static int finish_install(struct rr *rr, uint64_t index, uint64_t term, char *errmsg)
{
    uint64_t first, last;
    int rc = log_bounds(rr, &first, &last);
    if (rc == 0 && last > index) {
        if (first > index + 1) {
            snprintf(errmsg, RAFT_ERRMSG_BUF_SIZE,
                     "install of snapshot %llu: log starts at %llu, after it",
                     (unsigned long long)index, (unsigned long long)first);
            return RAFT_CORRUPT;
        }
        rc = raftwal_log_truncate(rr->log, index + 1);
    }
    if (rc == 0)
        rc = raftwal_log_purge(rr->log, index);
    if (rc == 0)
        rc = save_snapshot_record(rr, index, term, 0);
    return rc ? wal_error(errmsg, "install snapshot", rc) : 0;
}

/* Deletes every file in the snapshots directory but the current snapshot's
 * (older snapshots, temporary files, files of puts a crash interrupted
 * before the log recorded them). */
static void remove_stale_snapshots(struct rr *rr, uint64_t index, uint64_t term)
{
    char keep[64];
    rr_snapshot_name(keep, sizeof keep, term, index);
    int fd = dup(rr->snapfd);
    if (fd < 0)
        return;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return;
    }
    rewinddir(d); /* the dup shares the offset an earlier scan left at the end */
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "snapshot-", 9) != 0 || (index != 0 && strcmp(e->d_name, keep) == 0))
            continue;
        unlinkat(rr->snapfd, e->d_name, 0);
    }
    closedir(d);
}

/* ---- the worker thread ---------------------------------------------------- */

static void worker_put(struct rr *rr, struct rr_req *r)
{
    const struct raft_snapshot *s = r->snap;
    char name[64];
    rr_snapshot_name(name, sizeof name, s->term, s->index);
    int rv = rr_snapshot_write(rr->snapfd, name, s, &r->conf, r->errmsg);
    int install = r->trailing == 0;
    if (rv == 0) {
        int rc = save_snapshot_record(rr, s->index, s->term, install ? RR_META_INSTALL : 0);
        if (rc != 0)
            rv = wal_error(r->errmsg, "record snapshot", rc);
    }
    if (rv == 0 && install)
        rv = finish_install(rr, s->index, s->term, r->errmsg);
    if (rv == 0 && !install && s->index > r->trailing) {
        /* Keep `trailing` entries before the snapshot for lagging followers. */
        int rc = raftwal_log_purge(rr->log, s->index - r->trailing);
        if (rc != 0)
            rv = wal_error(r->errmsg, "purge", rc);
    }
    if (rv == 0) {
        pthread_mutex_lock(&rr->mu);
        rr->snap_index = s->index;
        rr->snap_term = s->term;
        pthread_mutex_unlock(&rr->mu);
        remove_stale_snapshots(rr, s->index, s->term);
    }
    r->status = rv;
}

static void worker_get(struct rr *rr, struct rr_req *r)
{
    pthread_mutex_lock(&rr->mu);
    uint64_t index = rr->snap_index, term = rr->snap_term;
    pthread_mutex_unlock(&rr->mu);
    r->got = NULL;
    if (index == 0) {
        r->status = 0; /* no snapshot: libraft gets NULL */
        return;
    }
    char name[64];
    rr_snapshot_name(name, sizeof name, term, index);
    r->status = rr_snapshot_read(rr->snapfd, name, index, term, &r->got, r->errmsg);
}

static void *worker_main(void *arg)
{
    struct rr *rr = arg;
    int synced_last = 0;
    pthread_mutex_lock(&rr->mu);
    for (;;) {
        int want_sync = rr->written_seq > rr->durable_seq && rr->sync_status == 0;
        if (rr->stop)
            break;
        /* Syncs and ops take turns, so that a stream of appends cannot
         * starve a snapshot put (libraft refuses an install while a put
         * runs, and the leader then waits its install timeout). */
        if (want_sync && rr->ops.head != NULL && synced_last)
            want_sync = 0;
        synced_last = want_sync;
        if (want_sync) {
            /* Everything written before this point is covered by the sync. */
            uint64_t target = rr->written_seq;
            pthread_mutex_unlock(&rr->mu);
            int rc = raftwal_log_sync(rr->log);
            char msg[RAFT_ERRMSG_BUF_SIZE];
            int st = rc ? wal_error(msg, "sync", rc) : 0;
            pthread_mutex_lock(&rr->mu);
            if (st) {
                rr->sync_status = st;
                memcpy(rr->sync_errmsg, msg, sizeof msg);
            } else if (target > rr->durable_seq) {
                rr->durable_seq = target;
            }
            uv_async_send(&rr->async);
            continue;
        }
        struct rr_req *r = fifo_pop(&rr->ops);
        if (r == NULL) {
            pthread_cond_wait(&rr->cond, &rr->mu);
            continue;
        }
        pthread_mutex_unlock(&rr->mu);
        if (r->kind == RR_PUT)
            worker_put(rr, r);
        else
            worker_get(rr, r);
        pthread_mutex_lock(&rr->mu);
        fifo_push(&rr->done, r);
        uv_async_send(&rr->async);
    }
    pthread_mutex_unlock(&rr->mu);
    return NULL;
}

/* ---- writing on the loop thread ------------------------------------------ */

static void kick(struct rr *rr)
{
    uv_async_send(&rr->async);
}

/* Writes one append's entries at next_index (no sync) and numbers it. */
static void write_append(struct rr *rr, struct rr_req *r, const struct raft_entry *entries,
                         unsigned n)
{
    if (rr->broken) {
        r->status = rr->broken;
        return;
    }
    if (n > rr->ents_cap) {
        size_t cap = rr->ents_cap ? rr->ents_cap : 16;
        while (cap < n)
            cap *= 2;
        raftwal_entry *e = realloc(rr->ents, cap * sizeof *e);
        if (e == NULL) {
            r->status = RAFT_NOMEM;
            return;
        }
        rr->ents = e;
        rr->ents_cap = cap;
    }
    for (unsigned i = 0; i < n; i++) {
        rr->ents[i] = (raftwal_entry){.index = rr->next_index + i,
                                      .term = entries[i].term,
                                      .type = entries[i].type,
                                      .data = entries[i].buf.base,
                                      .size = entries[i].buf.len};
    }
    int rc = n ? raftwal_log_append(rr->log, rr->ents, n, NULL, RAFTWAL_NOSYNC) : 0;
    if (rc != 0) {
        r->status = wal_error(rr->io->errmsg, "append", rc);
        return;
    }
    rr->next_index += n;
    pthread_mutex_lock(&rr->mu);
    r->seq = ++rr->written_seq;
    pthread_cond_signal(&rr->cond);
    pthread_mutex_unlock(&rr->mu);
}

static int do_truncate(struct rr *rr, uint64_t index)
{
    if (index >= rr->next_index)
        return 0;
    int rc = raftwal_log_truncate(rr->log, index);
    if (rc != 0)
        return wal_error(rr->io->errmsg, "truncate", rc);
    rr->next_index = index;
    return 0;
}

/* Writes what waited for an install, in order. */
static void flush_deferred(struct rr *rr)
{
    struct rr_req *r;
    while (!rr->install_pending && (r = fifo_pop(&rr->deferred)) != NULL) {
        if (r->kind == RR_TRUNCATE) {
            int rv = do_truncate(rr, r->index);
            if (rv != 0 && rr->broken == 0)
                rr->broken = rv;
            free(r);
            continue;
        }
        write_append(rr, r, r->entries, r->n);
        r->entries = NULL;
        fifo_push(&rr->pending, r);
    }
    kick(rr);
}

/* ---- callbacks, on the loop thread ----------------------------------------- */

/* Fires the callbacks of every append now durable or failed, in order, and
 * of every finished snapshot op. Stops if a callback closes the io. */
static void deliver(uv_async_t *async)
{
    struct rr *rr = async->data;
    for (;;) {
        pthread_mutex_lock(&rr->mu);
        uint64_t durable = rr->durable_seq;
        int sync_status = rr->sync_status;
        if (sync_status)
            memcpy(rr->io->errmsg, rr->sync_errmsg, sizeof rr->sync_errmsg);
        pthread_mutex_unlock(&rr->mu);

        int progress = 0;
        struct rr_req *r;
        while (!rr->closing && (r = rr->pending.head) != NULL) {
            int st;
            if (r->status)
                st = r->status;
            else if (r->seq <= durable)
                st = 0;
            else if (sync_status)
                st = sync_status;
            else
                break;
            fifo_pop(&rr->pending);
            r->append_cb(r->append, st);
            free(r);
            progress = 1;
        }
        if (rr->closing)
            return;
        pthread_mutex_lock(&rr->mu);
        r = fifo_pop(&rr->done);
        pthread_mutex_unlock(&rr->mu);
        if (r != NULL) {
            if (r->status)
                memcpy(rr->io->errmsg, r->errmsg, RAFT_ERRMSG_BUF_SIZE);
            if (r->kind == RR_PUT) {
                if (r->trailing == 0) {
                    rr->install_pending = 0;
                    flush_deferred(rr);
                }
                raft_free(r->conf.base);
                r->put_cb(r->put, r->status);
            } else {
                r->get_cb(r->get, r->got, r->status);
            }
            free(r->errmsg);
            free(r);
            progress = 1;
        }
        if (!progress || rr->closing)
            return;
    }
}

static void stop_worker(struct rr *rr);

/* ---- raft_io methods -------------------------------------------------------- */

/* fsyncs the directory that contains `path` (so that a name just created
 * in it survives a power loss). */
static int sync_parent(const char *path, char *errmsg)
{
    char parent[RR_DIR_MAX + 32];
    snprintf(parent, sizeof parent, "%s", path);
    char *slash = strrchr(parent, '/');
    if (slash == parent)
        slash[1] = '\0';
    else if (slash != NULL)
        *slash = '\0';
    else
        snprintf(parent, sizeof parent, ".");
    int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        snprintf(errmsg, RAFT_ERRMSG_BUF_SIZE, "fsync %.200s: %s", parent, strerror(errno));
        if (fd >= 0)
            close(fd);
        return RAFT_IOERR;
    }
    close(fd);
    return 0;
}

/* Creates a directory if absent; a new one is made durable in its parent
 * (the snapshots directory must survive a power loss with the files in it). */
static int make_dir(const char *path, char *errmsg)
{
    if (mkdir(path, 0700) == 0) /* like the log: private to its owner */
        return sync_parent(path, errmsg);
    if (errno != EEXIST) {
        snprintf(errmsg, RAFT_ERRMSG_BUF_SIZE, "mkdir %.200s: %s", path, strerror(errno));
        return RAFT_IOERR;
    }
    return 0;
}

/* Opens the log, finishes an interrupted install, tidies the snapshots
 * directory and reads the cached term and vote. */
static int open_state(struct rr *rr)
{
    char *msg = rr->io->errmsg;
    char path[RR_DIR_MAX + 32];
    int rv = make_dir(rr->dir, msg);
    snprintf(path, sizeof path, "%s/snapshots", rr->dir);
    if (rv == 0)
        rv = make_dir(path, msg);
    if (rv != 0)
        return rv;
    rr->snapfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rr->snapfd < 0) {
        snprintf(msg, RAFT_ERRMSG_BUF_SIZE, "open %.200s: %s", path, strerror(errno));
        return RAFT_IOERR;
    }
    int rc = raftwal_log_open(&rr->log, rr->dir, NULL);
    if (rc != 0)
        return wal_error(msg, "open", rc);

    raftwal_hardstate hs;
    uint8_t meta[2] = {0, 0};
    size_t meta_size = 0;
    uint64_t si = 0, st = 0, first, last;
    rc = raftwal_log_hardstate(rr->log, &hs);
    if (rc == 0)
        rc = raftwal_log_snapshot(rr->log, &si, &st, meta, sizeof meta, &meta_size);
    if (rc == RAFTWAL_ERANGE) {
        snprintf(msg, RAFT_ERRMSG_BUF_SIZE, "snapshot record of %zu bytes: not written by raftwal-raft",
                 meta_size);
        return RAFT_CORRUPT;
    }
    if (rc != 0)
        return wal_error(msg, "open", rc);
    rr->term = hs.term;
    rr->vote = hs.vote;
    if (si != 0 && (meta_size != 2 || meta[0] != RR_META_VERSION)) {
        snprintf(msg, RAFT_ERRMSG_BUF_SIZE, "snapshot record: unknown version");
        return RAFT_CORRUPT;
    }
    if (si != 0 && (meta[1] & RR_META_INSTALL) && (rv = finish_install(rr, si, st, msg)) != 0)
        return rv;
    if ((rc = log_bounds(rr, &first, &last)) != 0)
        return wal_error(msg, "open", rc);
    if (si != 0 && last < si && (rc = raftwal_log_purge(rr->log, si)) != 0)
        return wal_error(msg, "purge behind the snapshot", rc); /* as libraft's storage */
    if ((rc = log_bounds(rr, &first, &last)) != 0)
        return wal_error(msg, "open", rc);
    rr->next_index = last + 1;
    rr->snap_index = si;
    rr->snap_term = st;
    remove_stale_snapshots(rr, si, st);
    return 0;
}

static int rr_init(struct raft_io *io, raft_id id, const char *address)
{
    struct rr *rr = impl_of(io);
    int rv = open_state(rr);
    if (rv != 0)
        return rv;
    char net[RR_DIR_MAX + 8];
    snprintf(net, sizeof net, "%s/net", rr->dir);
    if ((rv = make_dir(net, io->errmsg)) != 0)
        return rv;
    rr->inner.data = io->data;
    rv = rr->inner.init(&rr->inner, id, address);
    if (rv != 0) {
        memcpy(io->errmsg, rr->inner.errmsg, RAFT_ERRMSG_BUF_SIZE);
        return rv;
    }
    rr->inner_ready = 1;
    /* The worker touches the async handle only once there is work, which
     * needs a successful init: so it may start first. */
    if (pthread_create(&rr->worker, NULL, worker_main, rr) != 0) {
        snprintf(io->errmsg, RAFT_ERRMSG_BUF_SIZE, "cannot start the worker thread");
        return RAFT_NOMEM;
    }
    rr->worker_running = 1;
    if (uv_async_init(rr->loop, &rr->async, deliver) != 0) {
        stop_worker(rr);
        snprintf(io->errmsg, RAFT_ERRMSG_BUF_SIZE, "uv_async_init failed");
        return RAFT_IOERR;
    }
    rr->async.data = rr;
    rr->async_ready = 1;
    return 0;
}

static int rr_bootstrap(struct raft_io *io, const struct raft_configuration *conf)
{
    struct rr *rr = impl_of(io);
    uint64_t first, last;
    int rc = log_bounds(rr, &first, &last);
    if (rc != 0)
        return wal_error(io->errmsg, "bootstrap", rc);
    if (rr->term != 0 || last >= first || rr->snap_index != 0) {
        snprintf(io->errmsg, RAFT_ERRMSG_BUF_SIZE, "log not empty (term %llu, last index %llu)",
                 (unsigned long long)rr->term, (unsigned long long)last);
        return RAFT_CANTBOOTSTRAP;
    }
    struct raft_buffer buf;
    int rv = raft_configuration_encode(conf, &buf);
    if (rv != 0)
        return rv;
    raftwal_entry e = {.index = 1, .term = 1, .type = RAFT_CHANGE, .data = buf.base, .size = buf.len};
    raftwal_hardstate hs = {.term = 1, .vote = 0, .commit = 0};
    rc = raftwal_log_append(rr->log, &e, 1, &hs, 0);
    raft_free(buf.base);
    if (rc != 0)
        return wal_error(io->errmsg, "bootstrap", rc);
    rr->term = 1;
    rr->vote = 0;
    rr->next_index = 2;
    return 0;
}

static int rr_recover(struct raft_io *io, const struct raft_configuration *conf)
{
    struct rr *rr = impl_of(io);
    uint64_t first, last, term = 0;
    int rc = log_bounds(rr, &first, &last);
    if (rc == 0 && last >= first)
        rc = raftwal_log_term(rr->log, last, &term);
    else if (rc == 0)
        term = rr->snap_term;
    if (rc != 0)
        return wal_error(io->errmsg, "recover", rc);
    struct raft_buffer buf;
    int rv = raft_configuration_encode(conf, &buf);
    if (rv != 0)
        return rv;
    raftwal_entry e = {.index = last + 1, .term = term ? term : 1, .type = RAFT_CHANGE,
                       .data = buf.base, .size = buf.len};
    rc = raftwal_log_append(rr->log, &e, 1, NULL, 0);
    raft_free(buf.base);
    if (rc != 0)
        return wal_error(io->errmsg, "recover", rc);
    rr->next_index = last + 2;
    return 0;
}

static int set_hardstate(struct rr *rr, uint64_t term, uint64_t vote)
{
    raftwal_hardstate hs = {.term = term, .vote = vote, .commit = 0};
    int rc = raftwal_log_set_hardstate(rr->log, &hs, 0);
    if (rc != 0)
        return wal_error(rr->io->errmsg, "set hard state", rc);
    rr->term = term;
    rr->vote = vote;
    return 0;
}

static int rr_set_term(struct raft_io *io, raft_term term)
{
    return set_hardstate(impl_of(io), term, 0);
}

static int rr_set_vote(struct raft_io *io, raft_id server_id)
{
    struct rr *rr = impl_of(io);
    return set_hardstate(rr, rr->term, server_id);
}

/* A new batch for load(). Copying a big log into fresh memory costs one
 * page fault per 4 KiB page (most of a restart here: 256 MiB took 1.9 s
 * with 4 KiB pages, 1.1 s with huge ones), so big batches ask for
 * transparent huge pages; a hint, ignored where unsupported. */
static uint8_t *new_batch(size_t cap)
{
    uint8_t *b = raft_malloc(cap);
    if (b != NULL && cap >= 2 * RR_HUGE_PAGE) {
        uintptr_t lo = ((uintptr_t)b + RR_HUGE_PAGE - 1) & ~(uintptr_t)(RR_HUGE_PAGE - 1);
        uintptr_t hi = ((uintptr_t)b + cap) & ~(uintptr_t)(RR_HUGE_PAGE - 1);
        if (hi > lo)
            madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
    }
    return b;
}

/* Gives the unused end of the last batch back, moving the pointers of the
 * entries in it if realloc moved it. */
static void shrink_last_batch(struct raft_entry *ents, size_t n, uint8_t *batch, size_t used)
{
    if (batch == NULL || used == 0)
        return;
    uint8_t *b = raft_realloc(batch, used);
    if (b == NULL || b == batch)
        return;
    for (size_t k = n; k-- > 0 && ents[k].batch == batch;) {
        ents[k].buf.base = b + ((uint8_t *)ents[k].buf.base - batch);
        ents[k].batch = b;
    }
}

/* Copies entries [first, last] into raft_malloc()ed batches. */
static int load_entries(struct rr *rr, uint64_t first, uint64_t last, struct raft_entry **out,
                        size_t *n_out)
{
    size_t n = (size_t)(last + 1 - first);
    struct raft_entry *ents = raft_calloc(n ? n : 1, sizeof *ents);
    if (ents == NULL)
        return RAFT_NOMEM;
    raftwal_iter *it = NULL;
    int rc = raftwal_iter_open(&it, rr->log, first, last + 1, RAFTWAL_NO_LIMIT);
    if (rc != 0) {
        raft_free(ents);
        return wal_error(rr->io->errmsg, "load", rc);
    }
    uint8_t *batch = NULL;
    size_t used = 0, cap = 0, i = 0, next_cap = RR_LOAD_BATCH_FIRST;
    raftwal_entry e;
    while (i < n && (rc = raftwal_iter_next(it, &e)) == 1) {
        if (batch == NULL || cap - used < e.size) {
            if (batch != NULL)
                shrink_last_batch(ents, i, batch, used);
            cap = e.size > next_cap ? e.size : next_cap;
            if (next_cap < RR_LOAD_BATCH_MAX)
                next_cap *= 2;
            batch = new_batch(cap);
            if (batch == NULL) {
                rc = RAFTWAL_ENOMEM;
                break;
            }
            used = 0;
        }
        if (e.size)
            memcpy(batch + used, e.data, e.size);
        ents[i] = (struct raft_entry){.term = e.term, .type = (unsigned short)e.type,
                                      .buf = {batch + used, e.size}, .batch = batch};
        used += e.size;
        i++;
    }
    raftwal_iter_close(it);
    if (rc >= 0 && i < n)
        rc = RAFTWAL_ECORRUPT;
    if (rc < 0) {
        int rv = wal_error(rr->io->errmsg, "load", rc);
        /* Free each batch once: entries of a batch are consecutive. */
        for (size_t k = 0; k < i; k++)
            if (k + 1 == i || ents[k + 1].batch != ents[k].batch)
                raft_free(ents[k].batch);
        if (batch != NULL && (i == 0 || ents[i - 1].batch != batch))
            raft_free(batch); /* allocated, nothing in it yet */
        raft_free(ents);
        return rv;
    }
    shrink_last_batch(ents, n, batch, used);
    if (n == 0) {
        raft_free(ents);
        ents = NULL;
    }
    *out = ents;
    *n_out = n;
    return 0;
}

static int rr_load(struct raft_io *io, raft_term *term, raft_id *voted_for,
                   struct raft_snapshot **snapshot, raft_index *start_index,
                   struct raft_entry *entries[], size_t *n_entries)
{
    struct rr *rr = impl_of(io);
    *snapshot = NULL;
    *entries = NULL;
    *n_entries = 0;
    uint64_t first, last;
    int rc = log_bounds(rr, &first, &last);
    if (rc != 0)
        return wal_error(io->errmsg, "load", rc);
    if (rr->snap_index == 0 && first != 1) {
        snprintf(io->errmsg, RAFT_ERRMSG_BUF_SIZE,
                 "log starts at index %llu but has no snapshot", (unsigned long long)first);
        return RAFT_CORRUPT;
    }
    int rv = 0;
    if (rr->snap_index != 0) {
        char name[64];
        rr_snapshot_name(name, sizeof name, rr->snap_term, rr->snap_index);
        rv = rr_snapshot_read(rr->snapfd, name, rr->snap_index, rr->snap_term, snapshot,
                              io->errmsg);
        if (rv != 0)
            return rv;
    }
    rv = load_entries(rr, first, last, entries, n_entries);
    if (rv != 0) {
        rr_snapshot_free(*snapshot);
        *snapshot = NULL;
        return rv;
    }
    *term = rr->term;
    *voted_for = rr->vote;
    *start_index = first;
    rr->next_index = last + 1;
    return 0;
}

static int rr_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
                    raft_io_recv_cb recv)
{
    struct rr *rr = impl_of(io);
    rr->inner.data = io->data; /* the raft the tick and recv callbacks find */
    int rv = rr->inner.start(&rr->inner, msecs, tick, recv);
    if (rv != 0)
        memcpy(io->errmsg, rr->inner.errmsg, RAFT_ERRMSG_BUF_SIZE);
    return rv;
}

static int rr_send(struct raft_io *io, struct raft_io_send *req, const struct raft_message *msg,
                   raft_io_send_cb cb)
{
    struct rr *rr = impl_of(io);
    int rv = rr->inner.send(&rr->inner, req, msg, cb);
    if (rv != 0)
        memcpy(io->errmsg, rr->inner.errmsg, RAFT_ERRMSG_BUF_SIZE);
    return rv;
}

static int rr_append(struct raft_io *io, struct raft_io_append *req,
                     const struct raft_entry entries[], unsigned n, raft_io_append_cb cb)
{
    struct rr *rr = impl_of(io);
    if (rr->closing)
        return RAFT_CANCELED;
    struct rr_req *r = calloc(1, sizeof *r);
    if (r == NULL)
        return RAFT_NOMEM;
    r->kind = RR_APPEND;
    r->append = req;
    r->append_cb = cb;
    if (rr->install_pending) {
        r->entries = entries; /* valid until the callback */
        r->n = n;
        fifo_push(&rr->deferred, r);
        return 0;
    }
    write_append(rr, r, entries, n);
    fifo_push(&rr->pending, r);
    if (r->status)
        kick(rr); /* the failure is reported from the loop, not from here */
    return 0;
}

static int rr_truncate(struct raft_io *io, raft_index index)
{
    struct rr *rr = impl_of(io);
    if (rr->closing)
        return RAFT_CANCELED;
    if (rr->install_pending) {
        struct rr_req *r = calloc(1, sizeof *r);
        if (r == NULL)
            return RAFT_NOMEM;
        r->kind = RR_TRUNCATE;
        r->index = index;
        fifo_push(&rr->deferred, r);
        return 0;
    }
    return do_truncate(rr, index);
}

static struct rr_req *new_op(enum rr_kind kind)
{
    struct rr_req *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->errmsg = calloc(1, RAFT_ERRMSG_BUF_SIZE);
    if (r->errmsg == NULL) {
        free(r);
        return NULL;
    }
    r->kind = kind;
    return r;
}

static void submit_op(struct rr *rr, struct rr_req *r)
{
    pthread_mutex_lock(&rr->mu);
    fifo_push(&rr->ops, r);
    pthread_cond_signal(&rr->cond);
    pthread_mutex_unlock(&rr->mu);
}

static int rr_snapshot_put(struct raft_io *io, unsigned trailing, struct raft_io_snapshot_put *req,
                           const struct raft_snapshot *snapshot, raft_io_snapshot_put_cb cb)
{
    struct rr *rr = impl_of(io);
    if (rr->closing)
        return RAFT_CANCELED;
    struct rr_req *r = new_op(RR_PUT);
    if (r == NULL)
        return RAFT_NOMEM;
    int rv = raft_configuration_encode(&snapshot->configuration, &r->conf);
    if (rv != 0) {
        free(r->errmsg);
        free(r);
        return rv;
    }
    r->put = req;
    r->put_cb = cb;
    r->snap = snapshot;
    r->trailing = trailing;
    if (trailing == 0) {
        /* The log is empty afterwards: the next append is index + 1. */
        rr->install_pending = 1;
        rr->next_index = snapshot->index + 1;
    }
    submit_op(rr, r);
    return 0;
}

static int rr_snapshot_get(struct raft_io *io, struct raft_io_snapshot_get *req,
                           raft_io_snapshot_get_cb cb)
{
    struct rr *rr = impl_of(io);
    if (rr->closing)
        return RAFT_CANCELED;
    struct rr_req *r = new_op(RR_GET);
    if (r == NULL)
        return RAFT_NOMEM;
    r->get = req;
    r->get_cb = cb;
    submit_op(rr, r);
    return 0;
}

static raft_time rr_time(struct raft_io *io)
{
    struct rr *rr = impl_of(io);
    return rr->inner.time(&rr->inner);
}

static int rr_random(struct raft_io *io, int min, int max)
{
    struct rr *rr = impl_of(io);
    return rr->inner.random(&rr->inner, min, max);
}

static int rr_async_work(struct raft_io *io, struct raft_io_async_work *req,
                         raft_io_async_work_cb cb)
{
    struct rr *rr = impl_of(io);
    int rv = rr->inner.async_work(&rr->inner, req, cb);
    if (rv != 0)
        memcpy(io->errmsg, rr->inner.errmsg, RAFT_ERRMSG_BUF_SIZE);
    return rv;
}

/* ---- close ---------------------------------------------------------------- */

static void finish_close(struct rr *rr)
{
    rr->close_cb(rr->io); /* may free rr (raftwal_raft_io_close) */
}

static void inner_closed(struct raft_io *inner)
{
    struct rr *rr = (struct rr *)((char *)inner - offsetof(struct rr, inner));
    finish_close(rr);
}

/* Calls back everything still queued: appends and unstarted ops with
 * RAFT_CANCELED, ops the worker finished with their result. The worker is
 * stopped, so the queues are the loop's alone now. */
static void cancel_all(struct rr *rr)
{
    struct rr_req *r;
    while ((r = fifo_pop(&rr->pending)) != NULL || (r = fifo_pop(&rr->deferred)) != NULL) {
        if (r->kind == RR_APPEND)
            r->append_cb(r->append, RAFT_CANCELED);
        free(r);
    }
    for (int pass = 0; pass < 2; pass++) {
        struct rr_fifo *f = pass == 0 ? &rr->done : &rr->ops;
        while ((r = fifo_pop(f)) != NULL) {
            int st = pass == 0 ? r->status : RAFT_CANCELED;
            if (r->kind == RR_PUT) {
                raft_free(r->conf.base);
                r->put_cb(r->put, st);
            } else {
                r->get_cb(r->get, pass == 0 ? r->got : NULL, st);
            }
            free(r->errmsg);
            free(r);
        }
    }
}

static void async_closed(uv_handle_t *h)
{
    struct rr *rr = h->data;
    cancel_all(rr);
    if (rr->log) {
        raftwal_log_close(rr->log);
        rr->log = NULL;
    }
    if (rr->inner_ready)
        rr->inner.close(&rr->inner, inner_closed);
    else
        finish_close(rr);
}

static void stop_worker(struct rr *rr)
{
    if (!rr->worker_running)
        return;
    pthread_mutex_lock(&rr->mu);
    rr->stop = 1;
    pthread_cond_signal(&rr->cond);
    pthread_mutex_unlock(&rr->mu);
    pthread_join(rr->worker, NULL); /* waits for at most the sync or op it runs */
    rr->worker_running = 0;
}

static void rr_close(struct raft_io *io, raft_io_close_cb cb)
{
    struct rr *rr = impl_of(io);
    rr->closing = 1;
    rr->close_cb = cb;
    stop_worker(rr);
    if (rr->async_ready) {
        rr->async_ready = 0;
        uv_close((uv_handle_t *)&rr->async, async_closed);
        return;
    }
    /* init() failed before the async handle existed: nothing is pending. */
    async_closed((uv_handle_t *)&rr->async);
}

/* ---- public ------------------------------------------------------------------ */

int raftwal_raft_io_init(struct raft_io *io, struct uv_loop_s *loop, const char *dir,
                         struct raft_uv_transport *transport)
{
    if (io == NULL || loop == NULL || dir == NULL || transport == NULL)
        return RAFT_INVALID;
    if (strlen(dir) > RR_DIR_MAX)
        return RAFT_NAMETOOLONG;
    struct rr *rr = calloc(1, sizeof *rr);
    if (rr == NULL)
        return RAFT_NOMEM;
    char net[RR_DIR_MAX + 8];
    snprintf(net, sizeof net, "%s/net", dir);
    int rv = raft_uv_init(&rr->inner, loop, net, transport);
    if (rv != 0) {
        free(rr);
        return rv;
    }
    pthread_mutex_init(&rr->mu, NULL);
    pthread_cond_init(&rr->cond, NULL);
    rr->io = io;
    rr->loop = loop;
    rr->snapfd = -1;
    rr->async.data = rr;
    strcpy(rr->dir, dir);

    io->version = 2;
    io->impl = rr;
    io->errmsg[0] = '\0';
    io->init = rr_init;
    io->close = rr_close;
    io->load = rr_load;
    io->start = rr_start;
    io->bootstrap = rr_bootstrap;
    io->recover = rr_recover;
    io->set_term = rr_set_term;
    io->set_vote = rr_set_vote;
    io->send = rr_send;
    io->append = rr_append;
    io->truncate = rr_truncate;
    io->snapshot_put = rr_snapshot_put;
    io->snapshot_get = rr_snapshot_get;
    io->time = rr_time;
    io->random = rr_random;
    io->async_work = rr->inner.version >= 2 && rr->inner.async_work ? rr_async_work : NULL;
    if (io->async_work == NULL)
        io->version = 1;
    return 0;
}

void raftwal_raft_io_close(struct raft_io *io)
{
    if (io == NULL || io->init != rr_init)
        return;
    struct rr *rr = impl_of(io);
    if (rr == NULL)
        return;
    stop_worker(rr); /* in case close() was never called */
    if (rr->log)
        raftwal_log_close(rr->log);
    if (rr->snapfd >= 0)
        close(rr->snapfd);
    raft_uv_close(&rr->inner);
    pthread_mutex_destroy(&rr->mu);
    pthread_cond_destroy(&rr->cond);
    free(rr->ents);
    free(rr);
    io->impl = NULL;
}

struct raft_io *raftwal_raft_io_uv(struct raft_io *io)
{
    if (io == NULL || io->init != rr_init || io->impl == NULL)
        return NULL;
    return &impl_of(io)->inner;
}
