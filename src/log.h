/* log.h -- the log: its segments, the in-memory index, the Raft state and
 * the operations on them. Private to the library. */

/* Layers. The library's files, bottom to top: each calls only files listed
 * above it, so the calls between them form no cycle (c_layers checks this
 * list against the built objects: tests/c/check_layers.py; a new file
 * goes into it). One job each:
 *
 *   crc32c.c         CRC32C
 *   error.c          error strings and the per-thread last-error message
 *   io.c             the file I/O table (POSIX; tests inject faults)
 *   format.c         encoders and decoders of the segment format
 *   keys.c           the key registry of an encrypted log: the KEYS file (format.md 7.4)
 *   codec.c          compression and encryption of record payloads (format.md 7)
 *   log_ref.c        the handle's reference count, and freeing it (keys wiped)
 *   rules.c          which histories are legal
 *   lock.c           one writer per directory; which process owns a handle
 *   segment.c        a segment file's life
 *   segment_scan.c   walking a segment's records
 *   check_segment.c  full checks of one segment (open and check.c share them)
 *   log_read.c       finding entries, reading them, iterators
 *   sync.c           group commit, the durable watermark, the failed state
 *   prepare.c        the background worker that prepares the next segment
 *   log.c            the write path, and the model updates recovery shares
 *   log_open.c       opening (creating, recovering) and closing a log
 *   check.c          raftwal_verify() and raftwal_repair()
 *   rekey.c          raftwal_rekey(): a new master key for an encrypted log
 *   raftwal.c        the public API
 */

#ifndef RW_LOG_H
#define RW_LOG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "codec.h"
#include "raftwal.h"
#include "segment.h"

/* Purged segment files kept for reuse at most: enough for the one-segment-
 * at-a-time purges of a node compacting behind its snapshots, without
 * holding much disk after a large purge. */
#define RW_MAX_SPARES 2

typedef struct rw_sync_waiter rw_sync_waiter; /* sync.c */

/* Segments sealed by no-sync rotations and not yet durable at most (each
 * keeps its fd open, so that the sync that covers it sees any writeback
 * error); past that, a no-sync rotation syncs like a durable one. */
#define RW_MAX_PENDING 256

/* Counters reported by raftwal_log_stats(); atomics so readers and the
 * writer update them without a lock. */
typedef struct rw_counters {
    atomic_uint_fast64_t appends, appended_entries, appended_bytes, written_bytes;
    atomic_uint_fast64_t fsyncs, fsync_ns_total, fsync_ns_max, dir_fsyncs;
    atomic_uint_fast64_t reads, footer_loads, footer_hits;
    atomic_uint_fast64_t rotations, segments_deleted, segments_recycled;
    atomic_uint_fast64_t compressed_entries, stored_entry_bytes;
    uint64_t torn_tails, torn_bytes, open_ns;
} rw_counters;

struct raftwal_log {
    char *path;
    int dirfd;
    int lockfd; /* -1 for read-only handles */
    pid_t owner; /* the process that opened the handle (rw_process_id) */
    dev_t dev;
    ino_t ino;
    unsigned int flags;
    int readonly;
    uint64_t segment_size;
    mode_t mode;
    uint64_t log_id;

    /* Lock order: wmu, then rw, then smu. wmu serializes writers; rw guards
     * everything readers look at (segments, index, state); smu guards the
     * sync state. No lock is held across an fdatasync except wmu during
     * rotation, purge and activation. */
    pthread_mutex_t wmu;
    pthread_rwlock_t rw;
    pthread_mutex_t smu;

    /* Segments, oldest first. When writable, the last one is the active
     * (unsealed) segment appends go to. */
    rw_seg **segs;
    size_t nsegs, segs_cap;
    /* The background preparer (prepare.c), under pmu. */
    pthread_mutex_t pmu;
    pthread_cond_t pcond;
    pthread_t prep_thread;
    int prep_started, prep_busy;
    atomic_int prep_stop;
    uint64_t prep_want;   /* sequence number to prepare next, 0 = none */
    int prep_kind;        /* ... made this way (rw_file_kind; log.c: next_file_kind) */
    /* The worker is writing zeros into log->prepared's page cache
     * (RW_FILE_WARM); rw_prepare_take sets warm_cancel and waits for it to
     * stop before it hands the file out. */
    int prep_warming;
    atomic_int warm_cancel;
    uint64_t prep_floor;  /* highest sequence handed out: never prepare <= it */
    int prep_requested;   /* the active segment's successor was asked for (wmu) */
    /* stats.written_bytes and stats.fsyncs when the active segment began,
     * or 0 (the counters' start) for a tail resumed at open; wmu: what the
     * appends since cost in syncs decides how the next file is prepared. */
    uint64_t seg_written0, seg_fsyncs0;
    /* A write since then asked to be durable (wmu): its own fdatasync runs
     * after the write, so the counters alone would not show it yet. */
    int seg_durable_write;
    rw_seg *prepared;     /* the next segment file, ready */
    /* Purged segments' files kept for reuse ("%016llx.spare" of these old
     * sequence numbers), oldest first; under pmu. */
    uint64_t spares[RW_MAX_SPARES];
    size_t nspares;

    /* Logical state (rw). first = purge + 1; last >= purge. */
    uint64_t first, last, purge;
    /* The term of entry tail_term_index, as the last batch that ended with
     * entries wrote it (publish_batch; rw). While tail_term_index == last,
     * it is the last entry's term, and rw_log_term_locked answers from it:
     * the next append's term check then reads no mapped page (the page the
     * kernel just wrote faults on its first touch, once per batch). Every
     * other way to change entry `last` moves `last` off tail_term_index
     * (truncate) or below `first` (purge past the end); a batch published
     * in part (ENOMEM: its truncation may bring `last` back onto it) and
     * a handle opened (recovery) or read-only set it to 0, no entry. */
    uint64_t tail_term_index, tail_term;
    raftwal_hardstate hs;
    uint64_t snap_index, snap_term;
    uint8_t *snap_meta;
    size_t snap_meta_len;
    uint8_t *meta;
    size_t meta_len;

    /* Writer state (wmu). */
    rw_codec codec;  /* how entries are stored (set at open) */
    uint64_t wsalt;  /* salt of the current epoch of the active segment */
    int need_epoch;  /* write an EPOCH before the next batch */
    uint8_t *buf;    /* encode buffer, reused */
    size_t buf_cap;

    /* Sync state (smu): what is written, what is durable, who waits. */
    int syncing;
    rw_sync_waiter *waiters; /* threads asleep in rw_sync_to, oldest first */
    atomic_uint nwaiters;    /* how many (read without smu while gathering) */
    unsigned int sync_group; /* threads in rw_sync_to when the last sync ended */
    int gather_missed;       /* the last gathering timed out: skip the next */
    uint64_t sync_avg_ns;    /* moving average of the leaders' fdatasyncs */
    rw_seg *w_seg;
    uint64_t w_off, w_last;  /* written end and the last index at it */
    uint64_t d_seq, d_off;   /* durable position */
    uint64_t durable_index;
    uint64_t sync_floor;     /* lowest truncation point since the running sync began */
    /* Segments sealed by no-sync rotations (or found so at open) and not
     * known durable yet, oldest first; each holds a reference and an open
     * fd. Every segment before the written one is durable or listed here.
     * The next sync makes them durable before anything else (see
     * rw_sync_pending). */
    rw_seg **pending;
    size_t npending, pending_cap;
    atomic_int failed;       /* an fsync or write failed: refuse changes */
    /* What failed it: the first failing thread's message, written once
     * under smu before `failed` is set, read once `failed` is seen. A
     * failure on the preparer's thread is so reported by the next change
     * under its own name. */
    char fail_msg[256];

    uint64_t torn_seq, torn_off; /* where a torn tail was cut at open */
    /* Purged leftovers found at open (files a crash kept from being removed
     * or recycled: raftwal_check.leftovers): how many, and every *.wal
     * file below leftover_below_seq is one. */
    uint64_t leftovers, leftover_below_seq;
    uint64_t tail_junk_end;      /* non-zero bytes past the recovered end */
    uint64_t tail_synced;        /* the tail is known durable below this offset */
    uint64_t tail_ckpt_last;     /* the log's last index when the tail began */
    int tail_stale_seal;         /* the tail's SEAL outlived a lost footer */

    /* A read-only handle's segments that hold their file open and locked,
     * and how many of them it keeps (log_read.c, release_reader_fds). */
    rw_reader_fds reader_fds;
    int reader_fd_bound;
    /* Let go of idle segments when more than this many are open: the
     * bound, or more while views hold many (no lock taken for nothing). */
    atomic_int reader_fd_trim_at;

    atomic_int refs;  /* the handle + open iterators */
    atomic_int closed;
    rw_counters stats;
};

/* One batch to write: any combination of parts. */
typedef struct rw_batch {
    uint64_t trunc_from; /* 0: none */
    const raftwal_hardstate *hs;
    int has_snapshot;
    uint64_t snap_index, snap_term;
    const void *snap_meta;
    size_t snap_meta_len;
    int has_meta;
    const void *meta;
    size_t meta_len;
    uint64_t purge; /* 0: none */
    const raftwal_entry *entries;
    size_t n;
} rw_batch;

/* ---- model updates, shared by the write path and recovery (rw held) ---- */
void rw_apply_truncate(raftwal_log *log, uint64_t from);
void rw_apply_purge(raftwal_log *log, uint64_t upto);
int rw_apply_entry(raftwal_log *log, rw_seg *seg, uint64_t index, uint64_t off);
int rw_apply_snapshot(raftwal_log *log, uint64_t index, uint64_t term, const void *meta, size_t len);
int rw_apply_metadata(raftwal_log *log, const void *meta, size_t len);
int rw_log_push_seg(raftwal_log *log, rw_seg *s);

/* ---- writing (log.c) ---- */
/* Validates and writes one batch, publishes it, and syncs unless nosync. */
int rw_log_write(raftwal_log *log, const rw_batch *b, int nosync);
int rw_log_truncate(raftwal_log *log, uint64_t from);
int rw_log_purge(raftwal_log *log, uint64_t upto);
/* Activates the next segment (prepared or created now). With sync, its
 * header and checkpoint are made durable here; without, the next batch's
 * fdatasync covers them (rotation: a crash before it is a torn activation,
 * and nothing in the segment was acknowledged). With lazy, the segments
 * before it are not known durable (they are in log->pending): its header
 * says so (RW_HDR_F_LAZY) and the durable position stays where it was. */
int rw_log_start_segment(raftwal_log *log, int sync, int lazy);
/* Tests only: the next n checkpoint encodings (activation, rotation) fail
 * with ENOMEM, as a failed allocation would. */
extern int rw_test_fail_checkpoint_alloc;
/* Adds sealed segment s to the pending list (opening its fd if closed). */
int rw_log_add_pending(raftwal_log *log, rw_seg *s);
/* Drops the pending list without syncing (closing the handle). */
void rw_log_free_pending(raftwal_log *log);
/* Requests the next segment from the preparer when `active` is half full. */
void rw_log_maybe_prepare(raftwal_log *log, rw_seg *active);
/* Refuses changes on a failed or read-only handle (wmu held). */
int rw_log_check_writable(raftwal_log *log);

/* ---- sync and the failed state (sync.c) ---- */
/* Puts the handle in the failed state and returns code: the calling
 * thread's message is kept for the changes refused from then on, and the
 * background preparer stops at once (no write, sync or rename of it
 * follows). */
int rw_log_fail(raftwal_log *log, int code);
/* Records that bytes up to (seg, off) are written, the log's last index
 * being `last` there. */
void rw_sync_written(raftwal_log *log, rw_seg *seg, uint64_t off, uint64_t last);
/* Waits until (seq, off) is durable, running the fdatasync if nobody is. */
int rw_sync_to(raftwal_log *log, uint64_t seq, uint64_t off);
/* For the sync leader, before it fdatasyncs `seg` (the written segment it
 * took): fdatasyncs the pending segments, oldest first, then rewrites
 * seg's header without RW_HDR_F_LAZY if it has it, so that the leader's
 * fdatasync of seg leaves a durable chain whose last header no longer says
 * lazy. Puts the handle in the failed state on error. */
int rw_sync_pending(raftwal_log *log, rw_seg *seg);
/* Syncs everything written so far. */
int rw_sync_all(raftwal_log *log);
/* A truncation to from: clip the durable index. */
void rw_sync_truncated(raftwal_log *log, uint64_t from);
/* The handle just failed: wake every waiter (those already covered return
 * success, the others RAFTWAL_EIO). */
void rw_sync_failed(raftwal_log *log);
/* Marks (seg, off) durable without a sync (the caller just synced it). */
void rw_sync_mark_durable(raftwal_log *log, rw_seg *seg, uint64_t off, uint64_t last);
/* After recovery: (seg, durable_off) and durable_index are known durable,
 * (seg, written_off) is written, the log's last index being `last`. */
void rw_sync_recovered(raftwal_log *log, rw_seg *seg, uint64_t durable_off,
                       uint64_t durable_index, uint64_t written_off, uint64_t last);
/* Timed fdatasync with stats; puts the handle in the failed state on error. */
int rw_log_fdatasync(raftwal_log *log, int fd, const char *name);
int rw_log_dirsync(raftwal_log *log);

/* ---- reading (log_read.c) ---- */
/* Sets how many segment files a read-only handle keeps open: at most
 * RW_READER_FDS_MAX, and at most a quarter of RLIMIT_NOFILE. */
#define RW_READER_FDS_MAX 64
void rw_log_reader_fds_init(raftwal_log *log);
/* After a read on a read-only handle (rw not held): lets go of idle
 * segments if the handle holds more than its bound. */
void rw_log_reader_fds_check(raftwal_log *log);
/* Where rw_log_read_entry puts an entry stored encoded (codec.h). */
typedef struct rw_entry_buf {
    uint8_t *buf;
    size_t cap;
    int grow;            /* realloc buf (the caller frees it) when too small;
                            else a too small buf leaves rec->payload NULL
                            and rec->len the size needed */
    int skip_above;      /* with limit: an entry whose data is larger is
                            not decoded (rec->payload NULL, rec->len its
                            size), as a too small buf */
    uint64_t limit;
    uint32_t stored_len; /* out: the record's stored payload length */
    uint8_t codec;       /* out: its codec byte */
} rw_entry_buf;
/* Finds entry `index`: the segment (referenced: unref it) and the
 * checksum-verified record, whose payload and len are the entry's data:
 * a view into the mapped file if stored plain, else decoded into db.
 * Takes rw itself (and decodes without it). */
int rw_log_read_entry(raftwal_log *log, uint64_t index, rw_seg **seg, rw_rec *rec,
                      rw_entry_buf *db);
int rw_log_term_locked(raftwal_log *log, uint64_t index, uint64_t *term);

/* ---- opening and closing (log_open.c) ---- */
int rw_log_open(raftwal_log **out, const char *dir, const raftwal_options *opts);
int rw_log_close(raftwal_log *log);

/* ---- the handle's reference count (log_ref.c) ---- */
/* Drops a reference (log->refs); the last one frees the handle's memory. */
void rw_log_unref(raftwal_log *log);

/* ---- background segment preparation (prepare.c) ---- */
extern int rw_prepare_in_background; /* tests set 0 for deterministic I/O */
void rw_prepare_start(raftwal_log *log);
/* How a new (not recycled) segment file is made. */
enum rw_file_kind {
    RW_FILE_ZEROED, /* zero-filled and synced: fdatasyncs then flush data only */
    RW_FILE_SPARSE, /* only extended: no bytes written */
    /* Sparse, then, once it is ready and until rotation takes it, zeros
     * written into it by the worker without a sync: for appends that do not
     * sync, which then overwrite cached, allocated pages instead of
     * allocating new ones on the append path. */
    RW_FILE_WARM,
};
/* Asks for segment file `seq` to be prepared, a new file as `kind` says. */
void rw_prepare_request(raftwal_log *log, uint64_t seq, enum rw_file_kind kind);
/* Takes the prepared segment if it is `seq` (waits for a running
 * preparation, and stops a warming one: the caller owns the file's bytes
 * from then on). */
rw_seg *rw_prepare_take(raftwal_log *log, uint64_t seq);
/* Is the worker making segment file `seq` (asked for it, or busy on it)
 * without having it ready yet? Does not wait. */
int rw_prepare_in_progress(raftwal_log *log, uint64_t seq);
/* Hands back a segment taken with rw_prepare_take that a rotation could
 * not use after all (it rolled back): the next rotation takes it again. */
void rw_prepare_give_back(raftwal_log *log, rw_seg *s);
/* Waits until the worker has nothing running or asked for (tests). */
void rw_prepare_wait_idle(raftwal_log *log);
/* A batch is written in pieces of this many bytes as it is encoded, each
 * handed to the disk at once if the batch will be synced (log.c,
 * piece_writer). 512 KiB; tests lower it to put the piecewise path under
 * small workloads. */
extern size_t rw_write_piece;
/* Tests only: called by the worker between two chunks of warming zeros. */
extern void (*rw_prepare_warm_hook)(raftwal_log *log);
/* Warms the active segment s now, on the calling thread: zeros written
 * into its page cache from its end to the end of the file, or to
 * RW_WARM_AT_CREATE_MAX, never synced (prepare.c, warm_from); nothing for
 * a recycled file. Only at open, before rw_prepare_start: it shares the
 * worker's warm_cancel, and nothing may append to s while it runs. Errors
 * only end the warming early. */
void rw_prepare_warm_active(raftwal_log *log, rw_seg *s);
/* At most this much of a new log's first segment is warmed at creation:
 * the cost of the open, and of the first sync if it comes before the
 * appends overwrite the zeros, stays bounded whatever segment_size is
 * (the default segment is warmed whole). */
#define RW_WARM_AT_CREATE_MAX (8u << 20)
/* Stops the worker and drops a prepared segment (its file stays). */
void rw_prepare_stop(raftwal_log *log);
/* Spare files (purged segments kept for reuse instead of zero-filling new
 * ones). rw_spare_room: may another be kept? rw_spare_add: records a file
 * already renamed to its spare name. rw_spare_take: pops the oldest into
 * name (returns 0 if there is none). All take pmu. */
int rw_spare_room(raftwal_log *log);
void rw_spare_add(raftwal_log *log, uint64_t old_seq);
int rw_spare_take(raftwal_log *log, char name[24]);

/* ---- segment checks open and check.c share (check_segment.c) ---- */
/* Scans every sealed segment in full and checks it against its footer. */
int rw_check_sealed_all(raftwal_log *log);
/* Recovery: checks a segment that may be incomplete because the segment
 * after it was activated lazily (docs/format.md §5). Every record is read
 * and checksummed. *complete: a valid SEAL, and records, FOOTER and SEAL
 * agree. Otherwise the segment ends torn (a crash before it was durable)
 * and *has_ckpt says whether its valid prefix begins with its checkpoint.
 * Returns ECORRUPT (naming file and offset) for damage that is not a torn
 * end: a bad record that a later COMMIT proves was durable, or a complete
 * segment whose SEAL or FOOTER disagrees with its records. */
int rw_check_lazy_pred(raftwal_log *log, rw_seg *s, int *complete, int *has_ckpt);
/* A read-only handle lets go of a segment the check has read (its file
 * stays locked while mapped: segment.c, "Readers and recycling"). */
void rw_check_unmap(raftwal_log *log, rw_seg *s);

/* ---- raftwal_verify() and raftwal_repair() with an encrypted log's
 * master key, or NULL (check.c) ---- */
int rw_verify_keyed(const char *dir, const void *key, raftwal_check *out);
int rw_repair_keyed(const char *dir, const void *key, raftwal_check *out);

/* ---- directory lock, and the process a handle belongs to (lock.c) ---- */
int rw_lock_acquire(raftwal_log *log);
/* Who may read a log's files (raftwal.h, file_mode). A new log's files are
 * RW_DEFAULT_FILE_MODE; an existing log's mode is its LOCK file's read and
 * write bits, the owner's always set (LOCK is created with the log's mode
 * at its first writable open):
 * rw_log_mode returns them, or `fallback` if there is no LOCK yet.
 * rw_dir_mode: the mode of a directory for files of `file_mode`, that mode
 * plus x where r is set (0640 -> 0750). */
#define RW_DEFAULT_FILE_MODE 0600
mode_t rw_log_mode(int dirfd, mode_t fallback);
mode_t rw_dir_mode(mode_t file_mode);
void rw_lock_release(raftwal_log *log);
/* This process's id, without a system call (a wipe-on-fork page keeps it;
 * any child, however forked, asks the kernel once). */
pid_t rw_process_id(void);
/* 0, or RAFTWAL_ECLOSED (with the message) for a handle that is closed or
 * that this process inherited through fork() from the one that opened it.
 * Public calls check it first, before any lock (a child's copies of the
 * parent's mutexes may be held forever), and readers again under rw: close
 * sets `closed` before it takes rw to empty the segment table. */
int rw_log_check_usable(raftwal_log *log);

#endif
