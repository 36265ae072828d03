/* segment.h -- one segment file: preparation, activation, sealing, lazy
 * mapping and footer loading. See docs/format.md for the bytes. */
#ifndef RW_SEGMENT_H
#define RW_SEGMENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "format.h"

/* An epoch: records from `off` on are checksummed with `salt`. */
typedef struct rw_epoch {
    uint64_t off;
    uint64_t salt;
} rw_epoch;

/* A mapping retired when a growing segment was remapped; kept until the
 * segment is freed because readers may hold views into it. */
typedef struct rw_mapping {
    const uint8_t *addr;
    size_t len;
    struct rw_mapping *older; /* retired mappings still referenced */
} rw_mapping;

/* A read-only handle's segments that hold their file open and locked
 * (segment.c, "Readers and recycling"), counted so that the handle can let
 * go of idle ones before it runs out of descriptors (log_read.c,
 * release_reader_fds). Shared by the handle's segments. */
typedef struct rw_reader_fds {
    atomic_int open;      /* segments whose rfd is open */
    atomic_int exhausted; /* an open failed for want of descriptors */
} rw_reader_fds;

typedef struct rw_seg {
    uint64_t seq;
    uint64_t salt;      /* header salt: epoch 0, FOOTER and SEAL */
    uint64_t base;      /* header first index */
    uint64_t file_size; /* bytes in the file */
    uint64_t used;      /* end of the records (next append offset / footer) */
    uint64_t ckpt_end;  /* end of the checkpoint batch */
    /* Header version: RW_FORMAT_VERSION, or RW_FORMAT_VERSION_CODEC when
     * records may carry a codec byte (codec.h). Read by the probe; set by
     * the writer before rw_seg_activate, which writes it. */
    uint32_t version;
    int encrypted;      /* header flag RW_HDR_F_ENCRYPTED (set before activation) */
    int sealed;
    int recycled;       /* header flag RW_HDR_F_RECYCLED: stale bytes follow
                           the records (not zeros) */
    /* Header flag RW_HDR_F_LAZY as on disk: the segment before this one was
     * not known durable when this one was activated (a no-sync rotation).
     * unlazy_hdr is the same header without the flag, written by the sync
     * that makes the segments before this one durable (rw_seg_clear_lazy). */
    int lazy;
    uint8_t unlazy_hdr[RW_HEADER_SIZE];
    int fd;             /* open while the segment is active, else -1 */
    int dirfd;          /* the log's directory (borrowed) for lazy opens */
    /* A read-only handle's segment: its file is mapped through rfd, which
     * holds a shared lock on it from the first map (or probe) until the
     * segment is freed, so that the writer never rewrites the file under
     * the mapping (segment.c, "Readers and recycling"). */
    int reader_lock;
    int rfd;            /* -1 until then, and after rw_seg_unmap_idle */
    rw_reader_fds *reader_fds; /* the handle's count (reader_lock only) */
    atomic_uint_fast64_t last_read; /* the handle's read count at its last read */
    char name[24];      /* "%016llx.wal" */

    /* Live entries: [first, first + count). offsets[i] is the record of
     * entry first + i. For a sealed segment offsets is NULL until the footer
     * is loaded (footer_entries long, footer_first based). */
    uint64_t first;
    uint64_t count;
    uint32_t *offsets;
    size_t offsets_cap;
    uint64_t trunc_min; /* lowest TRUNCATE from in this segment, or MAX */
    rw_seal seal;       /* valid when sealed */

    rw_epoch *epochs;   /* sorted by off; epochs[0] = {64, salt} */
    size_t nepochs, epochs_cap;

    pthread_mutex_t mu; /* lazy map and footer loads */
    /* The current read-only mapping. Replaced (never unmapped) when the file
     * grows, so a reader's pointer stays valid until the segment is freed. */
    _Atomic(rw_mapping *) mapping;
    atomic_int footer_loaded;
    /* Header and seal read (salt, base, file_size, seal valid). Sealed
     * segments found through a checkpoint's table are probed lazily. */
    atomic_int probed;
    uint64_t t_first, t_count; /* the table's range, checked when probed */
    atomic_int refs;
} rw_seg;

/* Allocates a segment object for file seq (refs = 1). NULL on ENOMEM. */
rw_seg *rw_seg_new(int dirfd, uint64_t seq);
void rw_seg_ref(rw_seg *s);
/* Drops a reference; the last one unmaps, closes and frees. */
void rw_seg_unref(rw_seg *s);

/* Creates segment file seq ready for use: zero-filled to size under a
 * temporary name, header with first index 0, fdatasync, rename, directory
 * fsync. On success *out has its fd open. A non-NULL *cancel set to 1
 * stops the preparation before its next write, sync or rename (the
 * temporary file is removed; a file already renamed stays, unsynced).
 * With `spare` (the name of a purged segment's file kept for reuse, see
 * rw_spare_name) the file is recycled instead: no zero-filling, a header
 * with RW_HDR_F_RECYCLED and a fresh salt (so none of its old records can
 * validate), fdatasync, rename to the segment's name, directory fsync. A
 * spare longer than size keeps its length (never cut: see open_build_file)
 * and the header and file_size say so; one longer than twice size is
 * deleted and a new file built instead (s->recycled tells which). The
 * spare is consumed whatever the outcome (renamed, or unlinked).
 * With `sparse` a new file is only extended to size (it reads as zeros; no
 * bytes are written): for appends that rarely sync, or sync a lot at a
 * time, which would otherwise share the disk with the preparer's zeros
 * (the caller decides: log.c, next_file_kind). */
int rw_seg_prepare(int dirfd, uint64_t seq, uint64_t log_id, uint64_t size,
                   mode_t mode, atomic_int *cancel, const char *spare, int sparse,
                   rw_seg **out);

/* Whether a reader (a read-only handle, in any process) may map the file
 * `name` (a purged segment's): then the writer must not reuse it, only
 * delete it. 1 when it cannot tell. See "Readers and recycling". */
int rw_seg_file_held(int dirfd, const char *name);

/* The name a purged segment's file is kept under for reuse:
 * "%016llx.spare" of its old sequence number. */
#define RW_SPARE_SUFFIX ".spare"
/* A purged file longer than this many segments is deleted, not kept or
 * reused as a spare: a reused spare keeps its length, and every scan of
 * its segment would be that long (log.c, remove_purged_file; segment.c,
 * open_build_file). */
#define RW_SPARE_MAX_SEGMENTS 2
void rw_spare_name(char out[24], uint64_t seq);

/* Makes a prepared segment active: a fresh salt, the header with
 * first_index, and `ckpt` (an encoded CHECKPOINT batch, ckpt_len bytes,
 * already checksummed with the salt the caller chose: a fresh one, from
 * rw_codec_next_salt) in one write at offset 0, then fdatasync unless the
 * caller lets the next batch's fdatasync cover it (sync = 0). With lazy
 * the header carries RW_HDR_F_LAZY (the segment before is not known
 * durable; see log.c:rotate). */
int rw_seg_activate(rw_seg *s, uint64_t log_id, uint64_t first_index,
                    const uint8_t *ckpt, size_t ckpt_len, uint64_t salt, int sync, int lazy);

/* Rewrites the header of a segment whose header has RW_HDR_F_LAZY without
 * the flag (s->fd; no sync: the caller's fdatasync of the segment makes it
 * durable). Only once every segment before it is durable. */
int rw_seg_clear_lazy(rw_seg *s);

/* Writes FOOTER (at s->used) and SEAL (at the end of the file); no sync.
 * *new_size is the file's size afterwards (larger if the file grew); the
 * caller publishes it under the log's lock. */
int rw_seg_write_seal(rw_seg *s, uint64_t purge, uint64_t *new_size);

/* Returns (in *out) a mapping covering at least `need` bytes of the file
 * (maps lazily, remaps a grown file). Thread-safe. */
int rw_seg_map(rw_seg *s, uint64_t need, const rw_mapping **out);

/* Drops a read-only handle's mappings of s and its locked open (a later
 * read opens, locks, checks and maps it again), so that a check that reads
 * every segment once, or a handle that reads more segments than it may
 * keep open, does not keep one descriptor per segment. Only while nothing
 * but the log holds s (no view points into it) and with the log's rw lock
 * held for writing (no read is locating an entry in it). */
void rw_seg_unmap_idle(rw_seg *s);

/* Loads a sealed segment's footer (offsets and epochs) if not yet loaded.
 * Thread-safe. *loaded is set to 1 if this call read it from disk. */
int rw_seg_load_footer(rw_seg *s, int *loaded);

/* The salt of the record at offset off. */
uint64_t rw_seg_salt_at(const rw_seg *s, uint64_t off);

/* Reads the header and seal of a sealed segment composed from a table, on
 * first use, and checks them (log id, seal against the table's range).
 * Thread-safe. */
int rw_seg_ensure_probed(rw_seg *s, uint64_t log_id);

/* Appends an epoch starting at off. */
int rw_seg_add_epoch(rw_seg *s, uint64_t off, uint64_t salt);

/* Appends an entry offset (the entry is first + count). */
int rw_seg_push_offset(rw_seg *s, uint64_t index, uint64_t off);

/* Drops live entries >= from. */
void rw_seg_clip(rw_seg *s, uint64_t from);

/* Reads the header and the SEAL at the end of the file, for recovery and
 * checks. Fills s->salt, base, file_size, recycled, lazy (and unlazy_hdr),
 * and, when a valid SEAL ends the file, s->seal, sealed, first, count,
 * used, trunc_min. *log_id receives the header's log id. Errors (ECORRUPT,
 * EVERSION, EIO) name the file. */
int rw_seg_probe(rw_seg *s, uint64_t *log_id);

#endif
