/* log.c -- the write path: batches, rotation, truncation, purge, and the
 * model updates shared with recovery. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "error.h"
#include "io.h"
#include "rules.h"

/* ---------------------------------------------------------------------- */
/* Model updates (rw held for writing, or single-threaded during open)     */
/* ---------------------------------------------------------------------- */

void rw_apply_truncate(raftwal_log *log, uint64_t from)
{
    for (size_t i = log->nsegs; i-- > 0;) {
        rw_seg *s = log->segs[i];
        if (s->count && s->first + s->count <= from)
            break; /* this and older segments end below `from` */
        rw_seg_clip(s, from);
        if (s->count == 0 && s->first > from)
            s->first = from;
    }
    if (log->nsegs) {
        rw_seg *tail = log->segs[log->nsegs - 1];
        if (from < tail->trunc_min)
            tail->trunc_min = from;
    }
    if (from - 1 < log->last)
        log->last = from - 1 > log->purge ? from - 1 : log->purge;
}

void rw_apply_purge(raftwal_log *log, uint64_t upto)
{
    if (upto <= log->purge)
        return;
    log->purge = upto;
    log->first = upto + 1;
    if (upto > log->last)
        log->last = upto;
}

int rw_apply_entry(raftwal_log *log, rw_seg *seg, uint64_t index, uint64_t off)
{
    if (index != log->last + 1)
        return RAFTWAL_EGAP;
    if (seg->count && seg->first + seg->count != index)
        seg->count = 0; /* everything in it was purged: restart its index */
    int rc = rw_seg_push_offset(seg, index, off);
    if (rc == 0)
        log->last = index;
    return rc;
}

static int copy_blob(uint8_t **dst, size_t *dst_len, const void *src, size_t len)
{
    uint8_t *p = NULL;
    if (len) {
        p = malloc(len);
        if (!p)
            return rw_err(RAFTWAL_ENOMEM, "out of memory");
        memcpy(p, src, len);
    }
    free(*dst);
    *dst = p;
    *dst_len = len;
    return 0;
}

int rw_apply_snapshot(raftwal_log *log, uint64_t index, uint64_t term, const void *meta, size_t len)
{
    int rc = copy_blob(&log->snap_meta, &log->snap_meta_len, meta, len);
    if (rc == 0) {
        log->snap_index = index;
        log->snap_term = term;
    }
    return rc;
}

int rw_apply_metadata(raftwal_log *log, const void *meta, size_t len)
{
    return copy_blob(&log->meta, &log->meta_len, meta, len);
}

int rw_log_push_seg(raftwal_log *log, rw_seg *s)
{
    if (log->nsegs == log->segs_cap) {
        size_t cap = log->segs_cap ? log->segs_cap * 2 : 16;
        rw_seg **segs = realloc(log->segs, cap * sizeof *segs);
        if (!segs)
            return rw_err(RAFTWAL_ENOMEM, "out of memory");
        log->segs = segs;
        log->segs_cap = cap;
    }
    log->segs[log->nsegs++] = s;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Failure state                                                          */
/* ---------------------------------------------------------------------- */

int rw_log_check_writable(raftwal_log *log)
{
    if (atomic_load(&log->closed)) /* close sets it before it takes wmu */
        return rw_err(RAFTWAL_ECLOSED, "%s: the log is closed", log->path);
    if (log->readonly)
        return rw_err(RAFTWAL_EREADONLY, "%s: the log was opened read-only", log->path);
    if (atomic_load(&log->failed)) /* fail_msg: written once, before `failed` */
        return rw_err(RAFTWAL_EIO, "%s: the handle failed after an earlier write or fsync "
                      "error (%s); close and reopen the log", log->path, log->fail_msg);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Segments: activation and rotation (wmu held)                            */
/* ---------------------------------------------------------------------- */

static uint64_t last_term_locked(raftwal_log *log)
{
    uint64_t term = 0;
    if (log->last >= log->first && rw_log_term_locked(log, log->last, &term) == 0)
        return term;
    return log->last == log->snap_index ? log->snap_term : 0;
}

int rw_test_fail_checkpoint_alloc;

/* Encodes the checkpoint batch (CHECKPOINT + COMMIT) of the current state. */
static int encode_checkpoint(raftwal_log *log, uint64_t salt, uint8_t **out, size_t *out_len)
{
    if (rw_test_fail_checkpoint_alloc > 0) {
        rw_test_fail_checkpoint_alloc--;
        return rw_err(RAFTWAL_ENOMEM, "out of memory (injected by a test)");
    }
    rw_state st = {
        .hs = log->hs,
        .purge = log->purge,
        .last_index = log->last,
        .first_index = log->first,
        .last_term = last_term_locked(log),
        .snap_index = log->snap_index,
        .snap_term = log->snap_term,
        .snap_meta = log->snap_meta,
        .snap_meta_len = (uint32_t)log->snap_meta_len,
        .meta = log->meta,
        .meta_len = (uint32_t)log->meta_len,
    };
    /* Every segment so far is sealed: list them all, so that an open can
     * compose the log from this checkpoint without reading them. */
    uint8_t *tab = log->nsegs ? malloc(log->nsegs * RW_SEGTAB_ENTRY) : NULL;
    if (log->nsegs && !tab)
        return rw_err(RAFTWAL_ENOMEM, "out of memory");
    for (size_t i = 0; i < log->nsegs; i++) {
        rw_put64(tab + i * RW_SEGTAB_ENTRY, log->segs[i]->seq);
        rw_put64(tab + i * RW_SEGTAB_ENTRY + 8, log->segs[i]->first);
        rw_put64(tab + i * RW_SEGTAB_ENTRY + 16, log->segs[i]->count);
    }
    st.segtab = tab;
    st.nsegtab = (uint32_t)log->nsegs;
    size_t plen = rw_checkpoint_payload_len(&st);
    size_t tag = log->codec.encrypted ? RW_TAG_SIZE : 0;
    size_t len = rw_rec_size(plen + tag) + rw_rec_size(tag);
    uint8_t *payload = malloc(plen);
    uint8_t *buf = malloc(len);
    if (!payload || !buf) {
        free(tab);
        free(payload);
        free(buf);
        return rw_err(RAFTWAL_ENOMEM, "out of memory");
    }
    rw_checkpoint_encode(payload, &st);
    free(tab);
    /* At offsets 64 and after it, sealed in an encrypted log (§7.3). */
    rw_seal_ctx sb;
    const rw_seal_ctx *sc = rw_codec_writer_seal(&log->codec, salt, RW_HEADER_SIZE, &sb);
    size_t n = rw_codec_encode_record(NULL, 0, sc, buf, salt, RW_REC_CHECKPOINT, 0, st.last_index,
                                      st.first_index, payload, (uint32_t)plen, NULL);
    sc = rw_codec_writer_seal(&log->codec, salt, RW_HEADER_SIZE + n, &sb);
    size_t n2 = n ? rw_codec_encode_record(NULL, 0, sc, buf + n, salt, RW_REC_COMMIT, 1, 0,
                                           RW_HEADER_SIZE, NULL, 0, NULL) : 0;
    free(payload);
    if (!n || !n2) {
        free(buf);
        return rw_err(RAFTWAL_EIO, "the cipher failed to seal a checkpoint");
    }
    len = n + n2;
    *out = buf;
    *out_len = len;
    return 0;
}

/* Average bytes per fdatasync at or above which a new segment file is
 * prepared sparse instead of zero-filled. Zero-filling costs disk
 * bandwidth: in a log that grows, the preparer's zeros compete with the
 * appends for the disk. A sparse file costs a journal commit in every
 * fdatasync that writes into a hole (the filesystem allocates the blocks
 * then). Measured on the bench disk (bench/README.md, 1): at 16-40 KiB per
 * commit zero-filled files are 1.7-2x faster; at 256 KiB the sparse file
 * is as fast or faster and the commit p99 falls from ~10 ms to ~0.7 ms; at
 * 4 MiB sparse is 1.5x faster. Nothing was measured between 40 and 256
 * KiB: the threshold sits below 256 KiB so that commits of that size (the
 * bench's 16 KiB x 16 is 262,688 bytes) do not sit on the edge. */
#define RW_SPARSE_MIN_BYTES_PER_SYNC (192u << 10)

/* Bytes at the end of a segment that batches with entries leave to batches
 * without (write_locked): a hard state and a small snapshot record, each
 * with the EPOCH that may precede it, and RW_PURGE_RESERVE. */
#define RW_CONTROL_RESERVE 512u

/* Of those, the bytes that batches without entries leave to a purge, the
 * way out of a full disk, however many hard states came first: its COMMIT,
 * EPOCH and PURGE records, and the EPOCH's 16 bytes in the footer. A batch
 * that would eat into it needs a rotation, and on a full disk gets
 * RAFTWAL_ENOSPC with the handle usable (the purge still fits). */
#define RW_PURGE_RESERVE (3u * RW_REC_HEADER + 16u)

/* In an encrypted log every record of those batches carries a 16-byte tag
 * (docs/format.md §7.2): three per purge batch, nine in the control
 * reserve (three batches of an EPOCH, a record and a COMMIT). */
static uint64_t purge_reserve(const raftwal_log *log)
{
    return RW_PURGE_RESERVE + (log->codec.encrypted ? 3u * RW_TAG_SIZE : 0);
}

static uint64_t control_reserve(const raftwal_log *log)
{
    return RW_CONTROL_RESERVE + (log->codec.encrypted ? 9u * RW_TAG_SIZE : 0);
}

/* Has this handle written 1/8 of a segment into the active one with no
 * fdatasync and no write asking for one? Then it is an unsynced writer: a
 * warmed file pays off, and it asks for it early (rw_log_maybe_prepare).
 * Less is no evidence (a group-commit writer's appends are unsynced until
 * its waiters sync), and a warmed file would cost a durable writer its
 * zeros in the next segment's first fdatasync. wmu. */
static int writes_unsynced(raftwal_log *log)
{
    if (log->seg_durable_write) /* first: it ends the check for durable writers */
        return 0;
    uint64_t written = atomic_load(&log->stats.written_bytes) - log->seg_written0;
    return written >= log->segment_size / 8 &&
           atomic_load(&log->stats.fsyncs) == log->seg_fsyncs0;
}

/* How the next new segment file is made: warmed (sparse, then zeros in its
 * page cache: prepare.c, warm) for an unsynced writer (writes_unsynced);
 * sparse for a log opened RAFTWAL_OPEN_NOSYNC, or when the active
 * segment's writes have not synced yet, or have synced
 * RW_SPARSE_MIN_BYTES_PER_SYNC or more each on average; else zero-filled
 * (also for a segment with no appends yet: nothing is known). Called under
 * wmu, or at open before the handle is published. */
static enum rw_file_kind next_file_kind(raftwal_log *log)
{
    uint64_t written = atomic_load(&log->stats.written_bytes) - log->seg_written0;
    uint64_t syncs = atomic_load(&log->stats.fsyncs) - log->seg_fsyncs0;
    if (writes_unsynced(log))
        return RW_FILE_WARM;
    if (syncs == 0 && log->seg_durable_write)
        syncs = 1; /* the write that asked runs its fdatasync after this */
    if (log->flags & RAFTWAL_OPEN_NOSYNC)
        return RW_FILE_SPARSE;
    if (syncs == 0)
        return written > 0 ? RW_FILE_SPARSE : RW_FILE_ZEROED;
    if (written / syncs >= RW_SPARSE_MIN_BYTES_PER_SYNC)
        return RW_FILE_SPARSE;
    return RW_FILE_ZEROED;
}

/* Takes the next segment file: the one the worker prepared, else a spare
 * reused or a new file made now. On failure nothing the log holds was
 * touched (a half-made file is removed), so the caller may go on, except
 * after a failed directory fsync, which is final: then the handle is
 * failed here. */
static int take_prepared(raftwal_log *log, rw_seg **out)
{
    uint64_t seq = log->nsegs ? log->segs[log->nsegs - 1]->seq + 1 : 1;
    *out = rw_prepare_take(log, seq);
    if (*out)
        return 0;
    char spare[24];
    int have_spare = rw_spare_take(log, spare);
    int rc = rw_seg_prepare(log->dirfd, seq, log->log_id, log->segment_size, log->mode, NULL,
                            have_spare ? spare : NULL, next_file_kind(log) != RW_FILE_ZEROED, out);
    if (rc == 0) {
        atomic_fetch_add(&log->stats.dir_fsyncs, 1);
        if ((*out)->recycled) /* as the worker counts: not a spare too long to reuse */
            atomic_fetch_add(&log->stats.segments_recycled, 1);
    }
    else if (*out) { /* created, but the directory fsync failed */
        rw_seg_unref(*out);
        *out = NULL;
        rc = rw_log_fail(log, rc);
    }
    return rc;
}

/* The next segment, ready to activate: the file, its salt and its
 * checkpoint batch, all made before anything of the log is written, so
 * that a failure here (no space for the file, no memory) changes nothing
 * and leaves the handle usable. */
typedef struct next_seg {
    rw_seg *s;
    uint64_t salt;
    uint8_t *ckpt;
    size_t ckpt_len;
} next_seg;

/* Fails the handle for what cannot be undone; a full disk while making the
 * file, or no memory, is reported as is (take_prepared already failed the
 * handle for a failed directory fsync). */
static int make_next(raftwal_log *log, next_seg *n)
{
    *n = (next_seg){0};
    int rc = take_prepared(log, &n->s);
    if (rc)
        return rc == RAFTWAL_ENOSPC || rc == RAFTWAL_ENOMEM || atomic_load(&log->failed)
                   ? rc : rw_log_fail(log, rc);
    /* A session salt in an encrypted log (docs/format.md §7.4). */
    rc = rw_codec_next_salt(&log->codec, n->s->salt, &n->salt);
    if (rc) {
        rw_prepare_give_back(log, n->s);
        n->s = NULL;
        return rw_log_fail(log, rc);
    }
    /* A writer with a codec writes version 2 segments (docs/format.md §7). */
    n->s->version = rw_codec_wants_v2(&log->codec) ? RW_FORMAT_VERSION_CODEC : RW_FORMAT_VERSION;
    n->s->encrypted = log->codec.encrypted;
    /* The table lists the segments as they are now; sealing the active
     * one (rotate) changes none of what it records. */
    rc = encode_checkpoint(log, n->salt, &n->ckpt, &n->ckpt_len);
    if (rc) {
        rw_prepare_give_back(log, n->s); /* the next attempt takes it again */
        n->s = NULL;
    }
    return rc;
}

/* Activates n->s (made by make_next) as the active segment. */
static int activate_next(raftwal_log *log, next_seg *n, int sync, int lazy)
{
    rw_seg *s = n->s;
    int rc = rw_seg_activate(s, log->log_id, log->last + 1, n->ckpt, n->ckpt_len, n->salt, sync,
                             lazy);
    free(n->ckpt);
    n->ckpt = NULL;
    n->s = NULL;
    if (sync)
        atomic_fetch_add(&log->stats.fsyncs, 1);
    const rw_mapping *m;
    if (rc == 0)
        rc = rw_seg_map(s, s->file_size, &m);
    if (rc == 0) {
        pthread_rwlock_wrlock(&log->rw);
        rc = rw_log_push_seg(log, s);
        pthread_rwlock_unlock(&log->rw);
    }
    if (rc) {
        rw_seg_unref(s);
        return rw_log_fail(log, rc);
    }
    atomic_fetch_add(&log->stats.written_bytes, s->used);
    log->seg_written0 = atomic_load(&log->stats.written_bytes);
    log->seg_fsyncs0 = atomic_load(&log->stats.fsyncs);
    log->seg_durable_write = 0;
    log->wsalt = n->salt;
    log->need_epoch = 0;
    if (lazy) {
        /* The segments before it are not durable: the durable position
         * stays where the last sync left it (in an older segment), so no
         * COMMIT written here vouches for anything until a sync covers the
         * pending segments and this one. */
        rw_sync_written(log, s, s->used, log->last);
    } else {
        /* Unsynced, only the header may be claimed durable: a COMMIT's
         * synced-upto must never vouch for a checkpoint that is not on disk. */
        rw_sync_mark_durable(log, s, sync ? s->used : RW_HEADER_SIZE, log->last);
        if (!sync)
            rw_sync_written(log, s, s->used, log->last);
    }
    log->prep_requested = 0;
    return 0;
}

/* Drops a next_seg that will not be activated (the handle failed). */
static void drop_next(next_seg *n)
{
    rw_seg_unref(n->s); /* its file stays: a prepared segment an open adopts */
    free(n->ckpt);
    *n = (next_seg){0};
}

int rw_log_start_segment(raftwal_log *log, int sync, int lazy)
{
    next_seg n;
    int rc = make_next(log, &n);
    return rc ? rc : activate_next(log, &n, sync, lazy);
}

/* ---------------------------------------------------------------------- */
/* Pending segments: sealed by no-sync rotations, not yet durable          */
/* ---------------------------------------------------------------------- */

/* Lists sealed segment s as pending. Before the next segment becomes the
 * written one: a sync leader that takes that segment then finds s here (or
 * a leader that took the list before syncs s as its own segment). Returns
 * 0, 1 if RW_MAX_PENDING are listed already, or ENOMEM. */
static int push_pending(raftwal_log *log, rw_seg *s)
{
    int rc = 0;
    pthread_mutex_lock(&log->smu);
    if (log->npending >= RW_MAX_PENDING) {
        pthread_mutex_unlock(&log->smu);
        return 1; /* full: the caller syncs s instead */
    }
    if (log->npending == log->pending_cap) {
        size_t cap = log->pending_cap ? log->pending_cap * 2 : 8;
        rw_seg **p = realloc(log->pending, cap * sizeof *p);
        if (p) {
            log->pending = p;
            log->pending_cap = cap;
        } else {
            rc = rw_err(RAFTWAL_ENOMEM, "out of memory");
        }
    }
    if (rc == 0) {
        rw_seg_ref(s);
        log->pending[log->npending++] = s;
    }
    pthread_mutex_unlock(&log->smu);
    return rc;
}

int rw_log_add_pending(raftwal_log *log, rw_seg *s)
{
    if (s->fd < 0) {
        s->fd = rw_io->openat(log->dirfd, s->name, O_RDWR, 0);
        if (s->fd < 0)
            return rw_err_sys(errno, 0, "%s: open for writing", s->name);
    }
    int rc = push_pending(log, s);
    return rc == 1 ? rw_log_fdatasync(log, s->fd, s->name) : rc;
}

void rw_log_free_pending(raftwal_log *log)
{
    for (size_t i = 0; i < log->npending; i++)
        rw_seg_unref(log->pending[i]);
    free(log->pending);
    log->pending = NULL;
    log->npending = log->pending_cap = 0;
}

/* How many bytes the writer puts into a segment before it rotates (batches
 * that overflow aside: may_overflow): the configured size, also in a
 * longer file (a recycled spare keeps the length a batch grew it to:
 * segment.c, open_build_file), so that the tail an open reads stays that
 * size; less in a file prepared when the configured size was smaller. */
static uint64_t seg_capacity(const raftwal_log *log, const rw_seg *seg)
{
    return seg->file_size < log->segment_size ? seg->file_size : log->segment_size;
}

/* Asks the background worker for the next segment once the active one is
 * half full: early enough to be ready for the rotation, late enough that
 * small or short-lived logs never pay for zero-filling a file they will not
 * use, and that its writes do not compete with the first appends. An
 * unsynced writer asks as soon as it has written 1/8 of a segment into this
 * one: its file is warmed (next_file_kind), and the worker needs the time
 * to keep ahead of it (the no-sync cells of bench/README.md, 3: asked at
 * 1/2, 1 KiB x 256 made 0.36 of raw, at 1/8 0.44). */
void rw_log_maybe_prepare(raftwal_log *log, rw_seg *active)
{
    uint64_t cap = seg_capacity(log, active);
    if (log->prep_requested || active->used <= cap / 8)
        return; /* every append ends here until the segment is 1/8 full */
    if (active->used <= cap / 2 && !writes_unsynced(log))
        return;
    /* Not before this handle has written anything: at open the tail may be
     * past half already, and how the next file is made depends on the
     * appends to come (next_file_kind); the first append asks. */
    if (atomic_load(&log->stats.written_bytes) != log->seg_written0) {
        log->prep_requested = 1;
        rw_prepare_request(log, active->seq + 1, next_file_kind(log));
    }
}

/* Seals the active segment and activates the next.
 *
 * A durable write's rotation makes the old segment durable first (as every
 * segment before it already is) and activates the next one plainly.
 *
 * A no-sync write's rotation (lazy) waits for no disk: the old segment is
 * sealed without a sync and joins log->pending, and the next one is
 * activated at once (header and checkpoint written, not synced) with
 * RW_HDR_F_LAZY in its header: "the segment before me was not known
 * durable". So a process crash loses nothing (the new segment is the tail
 * on disk, its predecessor whole in the page cache), and after a power
 * loss recovery knows that it must verify the predecessor in full, and cut
 * the log there if it is torn (docs/format.md §5). The next sync, whoever
 * runs it, makes the pending segments durable oldest first and clears the
 * flag before it syncs the current segment (rw_sync_pending). */
static int rotate(raftwal_log *log, int lazy)
{
    rw_seg *old = log->segs[log->nsegs - 1];
    /* The next segment first: a full disk (no file for it) or no memory
     * then leaves the active segment as it was, and the handle usable. */
    next_seg next;
    int rc = make_next(log, &next);
    if (rc)
        return rc;
    uint64_t size;
    rc = rw_seg_write_seal(old, log->purge, &size);
    if (rc == RAFTWAL_ENOMEM) { /* before it wrote anything: roll back */
        rw_prepare_give_back(log, next.s);
        free(next.ckpt);
        return rc;
    }
    if (rc) {
        drop_next(&next);
        return rw_log_fail(log, rc);
    }
    rw_sync_written(log, old, size, log->last);
    if (lazy) /* it keeps its fd for the sync that covers it */
        lazy = push_pending(log, old) == 0; /* too many, or ENOMEM: rotate durably */
    if (!lazy && (rc = rw_sync_to(log, old->seq, size)) != 0) {
        drop_next(&next);
        return rc;
    }
    pthread_rwlock_wrlock(&log->rw);
    old->file_size = size;
    old->sealed = 1;
    atomic_store(&old->footer_loaded, 1); /* its offsets are in memory */
    pthread_rwlock_unlock(&log->rw);
    rc = activate_next(log, &next, 0, lazy);
    if (rc)
        return rc;
    if (!lazy) {
        /* The new segment is now the one syncs target: the old fd is unused. */
        rw_io->close(old->fd);
        old->fd = -1;
    }
    atomic_fetch_add(&log->stats.rotations, 1);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Batches                                                                */
/* ---------------------------------------------------------------------- */

/* Entries at or below this are committed: the recorded commit index, or the
 * snapshot's index (a snapshot only covers committed entries). */
static uint64_t commit_floor(const raftwal_log *log)
{
    return log->hs.commit > log->snap_index ? log->hs.commit : log->snap_index;
}

/* Checks a batch against the log (wmu held); sets *trunc_from for an append
 * that replaces a suffix. */
static int validate_batch(raftwal_log *log, const rw_batch *b, uint64_t *trunc_from)
{
    *trunc_from = b->trunc_from;
    uint64_t new_last = log->last;
    if (b->n) {
        uint64_t f = b->entries[0].index;
        if (f < log->first)
            return rw_err(RAFTWAL_ECOMPACTED, "append at index %" PRIu64 " but the log starts at %"
                          PRIu64 " (entries up to %" PRIu64 " were purged)", f, log->first, log->purge);
        if (f > log->last + 1)
            return rw_err(RAFTWAL_EGAP, "append at index %" PRIu64 " would leave a gap: last index is %"
                          PRIu64, f, log->last);
        if (f <= log->last) {
            if (f <= commit_floor(log))
                return rw_err(RAFTWAL_ECOMMITTED, "append at index %" PRIu64 " would replace "
                              "committed entries (commit index %" PRIu64 ", snapshot index %" PRIu64
                              ")", f, log->hs.commit, log->snap_index);
            *trunc_from = f;
        }
        uint64_t pred_term = 0;
        int have_pred = 0;
        switch (rw_rule_pred(f, log->first, log->last, log->snap_index)) {
        case RW_PRED_ENTRY: {
            int rc = rw_log_term_locked(log, f - 1, &pred_term);
            if (rc)
                return rc;
            have_pred = 1;
            break;
        }
        case RW_PRED_SNAPSHOT:
            pred_term = log->snap_term;
            have_pred = 1;
            break;
        case RW_PRED_NONE:
            break;
        }
        if (have_pred && b->entries[0].term < pred_term)
            return rw_err(RAFTWAL_ETERM, "entry %" PRIu64 " has term %" PRIu64 ", lower than the term %"
                          PRIu64 " of entry %" PRIu64, f, b->entries[0].term, pred_term, f - 1);
        new_last = b->entries[b->n - 1].index;
    }
    /* A snapshot covers committed entries: commit may reach its index
     * before the log holds the entries up to it (a snapshot install). */
    if (b->hs && b->hs->commit > new_last && b->hs->commit > log->snap_index)
        return rw_err(RAFTWAL_EINVAL, "hard state commit %" PRIu64 " is beyond the last index %" PRIu64
                      " and the snapshot's index %" PRIu64, b->hs->commit, new_last, log->snap_index);
    if (b->has_snapshot && b->snap_index < log->snap_index)
        return rw_err(RAFTWAL_EINVAL, "snapshot index %" PRIu64 " is older than the current snapshot %"
                      PRIu64, b->snap_index, log->snap_index);
    return 0;
}

/* At most the bytes a batch takes (the codec may make it shorter). */
static size_t batch_size(const raftwal_log *log, const rw_batch *b, uint64_t trunc_from)
{
    size_t tag = log->codec.encrypted ? RW_TAG_SIZE : 0; /* every record is sealed */
    size_t size = rw_rec_size(tag); /* COMMIT */
    if (log->need_epoch)
        size += rw_rec_size(tag);
    if (trunc_from)
        size += rw_rec_size(tag);
    if (b->hs)
        size += rw_rec_size(RW_HARDSTATE_PAYLOAD + tag);
    if (b->has_snapshot)
        size += rw_rec_size(b->snap_meta_len + tag);
    if (b->has_meta)
        size += rw_rec_size(b->meta_len + tag);
    if (b->purge)
        size += rw_rec_size(tag);
    for (size_t i = 0; i < b->n; i++)
        size += rw_rec_size(b->entries[i].size + tag);
    return size;
}

static int reserve_buf(raftwal_log *log, size_t size)
{
    if (size <= log->buf_cap)
        return 0;
    size_t cap = log->buf_cap ? log->buf_cap : 64 * 1024;
    while (cap < size)
        cap *= 2;
    uint8_t *p = realloc(log->buf, cap);
    if (!p)
        return rw_err(RAFTWAL_ENOMEM, "out of memory for a %zu-byte batch", size);
    log->buf = p;
    log->buf_cap = cap;
    return 0;
}

static uint64_t synced_upto(raftwal_log *log, rw_seg *seg)
{
    pthread_mutex_lock(&log->smu);
    uint64_t v = log->d_seq == seg->seq ? log->d_off : 0; /* nothing known durable */
    pthread_mutex_unlock(&log->smu);
    return v;
}

size_t rw_write_piece = 512u * 1024u;

/* Writes a batch while it is being encoded into one buffer: every
 * rw_write_piece bytes encoded are written at once. For a batch the caller
 * will fdatasync, each piece is also handed to the disk (rw_io->writeback):
 * the disk writes one piece while the CPU checksums and copies the next,
 * and the fdatasync waits for the last piece only. Encoding and copying a
 * 4 MiB batch takes about as long as the disk takes to write it: done one
 * after the other, 16 KiB x 256 made 0.69-0.76 of a raw pwrite+fdatasync
 * loop; in pieces, 0.97-1.11. A batch that will not be synced is written
 * in pieces too, because a piece is still in the CPU's cache when pwrite
 * copies it (16 KiB x 256 without syncs: 0.23-0.32 of raw -> 0.41-0.45),
 * but not handed to the disk: its writeback would only make the next
 * appends wait for pages under writeback. Smaller pieces cost more than
 * they gain (at 64-128 KiB, 256 KiB batches lost 5-20 % durable, nothing
 * gained unsynced), hence 512 KiB, and one write for smaller batches.
 * A piece ends after an entry record once it holds 512 KiB or more (one
 * big entry makes a bigger piece); the last entry is always written with
 * the COMMIT record, which thus goes last: a crash before the fdatasync
 * leaves some of the batch's pages and no valid COMMIT, a torn tail. */
typedef struct piece_writer {
    int fd;
    uint64_t off;       /* file offset of buf[0] */
    const uint8_t *buf; /* the encode buffer */
    size_t done;        /* bytes of buf written */
    size_t piece;       /* write whenever this many are pending */
    int err;            /* first -errno: nothing more is written */
    size_t err_len;     /* the failed piece's length (it starts at off + done) */
    size_t landed;      /* ... and how much of it was written before the error */
    int hint;           /* hand each piece but the last to the disk */
} piece_writer;

/* rw_pwrite_all that also says how many bytes it wrote before an error. */
static int pwrite_counted(int fd, const uint8_t *p, size_t n, uint64_t off, size_t *written)
{
    *written = 0;
    while (n) {
        ssize_t k = rw_io->pwrite(fd, p, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return k < 0 ? -errno : -EIO;
        p += k;
        n -= (size_t)k;
        off += (uint64_t)k;
        *written += (size_t)k;
    }
    return 0;
}

/* Writes what was encoded up to `end` if it makes a piece, or all of it if
 * `last`. */
static void write_piece(piece_writer *w, const uint8_t *end, int last)
{
    size_t pending = (size_t)(end - w->buf) - w->done;
    if (w->err || pending == 0 || (!last && pending < w->piece))
        return;
    uint64_t at = w->off + w->done;
    w->err = pwrite_counted(w->fd, w->buf + w->done, pending, at, &w->landed);
    if (w->err) {
        w->err_len = pending;
        return;
    }
    if (!last && w->hint && rw_io->writeback)
        rw_io->writeback(w->fd, at, pending);
    w->done += pending;
}

/* Encodes the batch at seg->used into log->buf, writing it through w as it
 * goes (its last piece is left to the caller). Returns the salt of the new
 * epoch (or 0 if none) through *epoch_salt; the entries' stored payload
 * bytes (what the codec made of their data) through *stored, and how
 * many were stored compressed through *ncompressed. Entries go through the
 * codec (codec.h): the one place on the write path where data becomes
 * stored bytes, so their records may be shorter than batch_size counted
 * (never longer); in an encrypted log every record is sealed there too
 * (docs/format.md §7.3). The batch's length goes to *size; an error only
 * when the session has no salt left (RAFTWAL_EIO). */
static int encode_batch(raftwal_log *log, rw_seg *seg, const rw_batch *b,
                        uint64_t trunc_from, uint64_t *epoch_salt, piece_writer *w,
                        uint64_t *stored, uint64_t *ncompressed, size_t *size)
{
    uint8_t *p = log->buf;
    uint64_t upto = synced_upto(log, seg);
    uint64_t salt = log->wsalt;
    uint32_t nrec = 0;
    *epoch_salt = 0;
    rw_seal_ctx sb;
#define AT() (seg->used + (uint64_t)(p - log->buf)) /* the next record's file offset */
#define SEAL(salt_) rw_codec_writer_seal(&log->codec, (salt_), AT(), &sb)
    if (log->need_epoch) {
        uint64_t ns;
        int rc = rw_codec_next_salt(&log->codec, salt, &ns);
        if (rc)
            return rc;
        /* Sealed under the salt it starts (docs/format.md §7.3). */
        p += rw_codec_encode_record(NULL, 0, SEAL(ns), p, salt, RW_REC_EPOCH, 0, upto, ns, NULL, 0,
                                    NULL);
        salt = ns;
        *epoch_salt = ns;
    }
    uint64_t start = AT();
    if (trunc_from) {
        p += rw_codec_encode_record(NULL, 0, SEAL(salt), p, salt, RW_REC_TRUNCATE, 0, trunc_from, 0,
                                    NULL, 0, NULL);
        nrec++;
    }
    if (b->hs) {
        uint8_t hs[RW_HARDSTATE_PAYLOAD];
        rw_hardstate_encode(hs, b->hs);
        p += rw_codec_encode_record(NULL, 0, SEAL(salt), p, salt, RW_REC_HARDSTATE, 0, 0, 0, hs,
                                    sizeof hs, NULL);
        nrec++;
    }
    if (b->has_snapshot) {
        p += rw_codec_encode_record(NULL, 0, SEAL(salt), p, salt, RW_REC_SNAPSHOT, 0, b->snap_index,
                                    b->snap_term, b->snap_meta, (uint32_t)b->snap_meta_len, NULL);
        nrec++;
    }
    if (b->has_meta) {
        p += rw_codec_encode_record(NULL, 0, SEAL(salt), p, salt, RW_REC_METADATA, 0, 0, 0, b->meta,
                                    (uint32_t)b->meta_len, NULL);
        nrec++;
    }
    if (b->purge) {
        p += rw_codec_encode_record(NULL, 0, SEAL(salt), p, salt, RW_REC_PURGE, 0, b->purge, 0, NULL,
                                    0, NULL);
        nrec++;
    }
    for (size_t i = 0; i < b->n; i++) {
        const raftwal_entry *e = &b->entries[i];
        int compressed;
        size_t n = rw_codec_encode_record(&log->codec, seg->version, SEAL(salt), p, salt,
                                          RW_REC_ENTRY, e->type, e->index, e->term, e->data,
                                          (uint32_t)e->size, &compressed);
        *stored += rw_get32(p + 8); /* the stored payload, padding not counted */
        p += n;
        *ncompressed += (uint64_t)compressed;
        if (i + 1 < b->n) /* the last entry goes with the COMMIT */
            write_piece(w, p, 0);
    }
    nrec += (uint32_t)b->n;
    p += rw_codec_encode_record(NULL, 0, SEAL(salt), p, salt, RW_REC_COMMIT, nrec, upto, start,
                                NULL, 0, NULL);
#undef SEAL
#undef AT
    *size = (size_t)(p - log->buf);
    return 0;
}

/* Makes the written batch visible to readers. */
static int publish_batch(raftwal_log *log, rw_seg *seg, const rw_batch *b, uint64_t trunc_from,
                         uint64_t epoch_salt, size_t size)
{
    int rc = 0;
    uint64_t off = seg->used;
    /* Each record's size as encoded (the codec sets it: compressed, sealed). */
#define NEXT() (off += rw_rec_size(rw_get32(log->buf + (off - seg->used) + 8)))
    pthread_rwlock_wrlock(&log->rw);
    if (epoch_salt) {
        NEXT();
        rc = rw_seg_add_epoch(seg, off, epoch_salt);
        log->wsalt = epoch_salt;
        log->need_epoch = 0;
    }
    if (trunc_from) {
        rw_apply_truncate(log, trunc_from);
        NEXT();
    }
    if (b->hs) {
        log->hs = *b->hs;
        NEXT();
    }
    if (b->has_snapshot && rc == 0) {
        rc = rw_apply_snapshot(log, b->snap_index, b->snap_term, b->snap_meta, b->snap_meta_len);
        NEXT();
    }
    if (b->has_meta && rc == 0) {
        rc = rw_apply_metadata(log, b->meta, b->meta_len);
        NEXT();
    }
    if (b->purge) {
        rw_apply_purge(log, b->purge);
        NEXT();
    }
    for (size_t i = 0; i < b->n && rc == 0; i++) {
        rc = rw_apply_entry(log, seg, b->entries[i].index, off);
        NEXT();
    }
#undef NEXT
    if (rc) {
        /* Published in part: a truncation may have put `last` back on
         * tail_term_index, now another entry. */
        log->tail_term_index = 0;
    } else if (b->n) {
        log->tail_term_index = b->entries[b->n - 1].index;
        log->tail_term = b->entries[b->n - 1].term;
    }
    seg->used += size;
    if (seg->used > seg->file_size)
        seg->file_size = seg->used; /* an oversized batch grew the file */
    /* Before readers can see the new last index: whoever waits for it to be
     * durable must find this batch in the written position. */
    rw_sync_written(log, seg, seg->used, log->last);
    pthread_rwlock_unlock(&log->rw);
    if (rc) /* only ENOMEM: the disk has the batch, memory does not */
        return rw_log_fail(log, rc);
    return 0;
}

/* May a batch that does not fit into what is left of the active segment
 * still go into it, growing the file past its prepared size? Yes while the
 * segment is at most 3/4 full (with the footer it will need), so only a
 * batch bigger than a quarter of a segment ever overflows. Rotating would
 * leave that quarter or more of the file unused and, with batches of a
 * few MiB, cost a rotation (an extra fdatasync) every commit or two. At
 * the 8 MiB default, 4 MiB batches go two to a segment; a tail that open
 * reads whole is at most max(a segment, 3/4 of one plus a batch). The 3/4
 * is of the configured size, never of a file a batch already grew (a
 * crash in the middle of an overflow leaves the file longer): so a
 * segment stays under 3/4 GiB + one batch (about 1 GiB) + its footer,
 * far from the 4 GiB its u32 offsets allow. */
static int may_overflow(const raftwal_log *log, const rw_seg *seg, uint64_t footer)
{
    uint64_t cap = seg_capacity(log, seg);
    return seg->used + footer <= cap - cap / 4;
}

/* May a batch that will not be synced go past the end of the active
 * segment, growing the file, because the worker is still making the next
 * segment's file? A rotation would then make that file on the appending
 * thread, or wait for the worker, and a file is made durable (fdatasync,
 * rename, directory fsync) before it becomes a segment: a no-sync change
 * would wait for the disk. So the segment grows instead, up to
 * RW_SPARE_MAX_SEGMENTS times its capacity (then it still rotates: a
 * purged file longer than that is not kept as a spare), and rotates at the
 * first batch that finds the file ready. Growing is what an overflowing
 * batch does already (may_overflow): recovery reads the longer tail as any
 * other.
 * Measured with fault_rotation_syncs (20,000 no-sync 4 KiB appends, 1 MiB
 * segments): the appending thread ran an fdatasync and a directory fsync
 * in 12-25 of 79 rotations before, none after. */
static int may_outgrow_for_worker(raftwal_log *log, const rw_seg *seg, uint64_t size,
                                  uint64_t footer)
{
    uint64_t limit = RW_SPARE_MAX_SEGMENTS * seg_capacity(log, seg);
    return seg->used + size + footer <= limit && rw_prepare_in_progress(log, seg->seq + 1);
}

/* nosync: the caller will not sync this batch (a rotation it causes is
 * lazy: see rotate). */
static int write_locked(raftwal_log *log, const rw_batch *b, int nosync, rw_seg **seg_out,
                        uint64_t *end_out)
{
    uint64_t trunc_from;
    int rc = validate_batch(log, b, &trunc_from);
    if (rc)
        return rc;
    rw_seg *seg = log->segs[log->nsegs - 1];
    size_t size = batch_size(log, b, trunc_from);
    uint64_t live = seg->count + b->n;
    uint64_t footer = rw_rec_size((size_t)live * 4 + (seg->nepochs + 1) * 16) + RW_SEAL_SIZE;
    /* Entries leave RW_CONTROL_RESERVE free for batches without entries,
     * and those (but a purge) leave RW_PURGE_RESERVE: when the disk is full
     * and no next segment can be made, hard states fit while they leave
     * room for a purge, and a purge (the way out) always fits. Only in a
     * segment filled up to its capacity: a tail grown past it (may_overflow,
     * may_outgrow_for_worker) has no reserve, and every batch rotates. */
    uint64_t reserve = b->n ? control_reserve(log) : b->purge ? 0 : purge_reserve(log);
    if (seg->used + size + footer + reserve > seg_capacity(log, seg) && seg->used > seg->ckpt_end &&
        !may_overflow(log, seg, footer) &&
        !(nosync && may_outgrow_for_worker(log, seg, size, footer))) {
        rc = rotate(log, nosync);
        if (rc)
            return rc;
        seg = log->segs[log->nsegs - 1];
        size = batch_size(log, b, trunc_from);
    }
    rc = reserve_buf(log, size);
    if (rc)
        return rc;
    if (!nosync)
        log->seg_durable_write = 1;
    uint64_t epoch_salt;
    piece_writer w = {.fd = seg->fd, .off = seg->used, .buf = log->buf,
                      .piece = rw_write_piece, .hint = !nosync};
    uint64_t stored = 0, ncompressed = 0;
    size_t n = 0;
    rc = encode_batch(log, seg, b, trunc_from, &epoch_salt, &w, &stored, &ncompressed, &n);
    if (rc)
        return rw_log_fail(log, rc);
    write_piece(&w, log->buf + n, 1);
    if (w.err == -ENOSPC && w.done == 0 && w.landed == 0) {
        /* Not a byte of the batch reached the file (a full disk refused
         * its first write): nothing to undo, the handle stays usable. An
         * encrypted log gives up the epoch whose nonces the batch used:
         * the next batch starts a new one (docs/format.md §7.4). */
        if (log->codec.encrypted)
            log->need_epoch = 1;
        return rw_err_sys(ENOSPC, 0, "%s: write of a %zu-byte batch at offset %" PRIu64,
                          seg->name, n, seg->used);
    }
    if (w.err)
        return rw_log_fail(log, rw_err_sys(-w.err, 0, "%s: write of %zu bytes at offset %" PRIu64
                                           " (of a %zu-byte batch at offset %" PRIu64 ")",
                                           seg->name, w.err_len, w.off + w.done, n, seg->used));
    if (trunc_from)
        rw_sync_truncated(log, trunc_from);
    rc = publish_batch(log, seg, b, trunc_from, epoch_salt, n);
    if (rc)
        return rc;
    atomic_fetch_add(&log->stats.appends, 1);
    atomic_fetch_add(&log->stats.appended_entries, b->n);
    uint64_t payload = 0;
    for (size_t i = 0; i < b->n; i++)
        payload += b->entries[i].size;
    atomic_fetch_add(&log->stats.appended_bytes, payload);
    atomic_fetch_add(&log->stats.written_bytes, n);
    atomic_fetch_add(&log->stats.stored_entry_bytes, stored);
    atomic_fetch_add(&log->stats.compressed_entries, ncompressed);
    rw_log_maybe_prepare(log, seg);
    *seg_out = seg;
    *end_out = seg->used;
    return 0;
}

int rw_log_write(raftwal_log *log, const rw_batch *b, int nosync)
{
    pthread_mutex_lock(&log->wmu);
    int rc = rw_log_check_writable(log);
    rw_seg *seg = NULL;
    uint64_t end = 0, seq = 0;
    if (rc == 0)
        rc = write_locked(log, b, nosync, &seg, &end);
    if (seg)
        seq = seg->seq;
    pthread_mutex_unlock(&log->wmu);
    if (rc || nosync)
        return rc;
    /* Outside wmu, so other appenders can write while this fdatasync runs
     * and the next one covers them all. */
    return rw_sync_to(log, seq, end);
}

int rw_log_truncate(raftwal_log *log, uint64_t from)
{
    pthread_mutex_lock(&log->wmu);
    int rc = rw_log_check_writable(log);
    if (rc == 0) {
        if (from < log->first)
            rc = rw_err(RAFTWAL_ECOMPACTED, "truncate from %" PRIu64 ": entries up to %" PRIu64
                        " were purged", from, log->purge);
        else if (from > log->last) {
            pthread_mutex_unlock(&log->wmu);
            return 0;
        } else if (from <= commit_floor(log))
            rc = rw_err(RAFTWAL_ECOMMITTED, "truncate from %" PRIu64 " would remove committed "
                        "entries (commit index %" PRIu64 ", snapshot index %" PRIu64 ")", from,
                        log->hs.commit, log->snap_index);
    }
    rw_seg *seg = NULL;
    uint64_t end = 0;
    if (rc == 0) {
        rw_batch b = {.trunc_from = from};
        rc = write_locked(log, &b, 0, &seg, &end);
    }
    uint64_t seq = seg ? seg->seq : 0;
    pthread_mutex_unlock(&log->wmu);
    return rc ? rc : rw_sync_to(log, seq, end);
}

/* Removes a purged segment's file: renamed to a spare name for the
 * preparer to reuse when the pool has room and nobody can still read it (an
 * iterator holding it has it mapped: rewriting it would change what the
 * iterator's views show), else deleted. `readers` is whether anyone but the
 * log holds the segment. A file a batch grew to more than two segments is
 * deleted: a spare keeps its length when reused (segment.c,
 * open_build_file), and spares should not hold the disk an oversized
 * batch once took. */
static int remove_purged_file(raftwal_log *log, const rw_seg *s, int readers)
{
    /* rw_seg_file_held: a read-only handle (any process) maps it (W1 in
     * segment.c, "Readers and recycling"). */
    if (!readers && s->sealed && s->file_size >= log->segment_size &&
        s->file_size <= RW_SPARE_MAX_SEGMENTS * (uint64_t)log->segment_size && rw_spare_room(log) &&
        !rw_seg_file_held(log->dirfd, s->name)) {
        char spare[24];
        rw_spare_name(spare, s->seq);
        if (rw_io->renameat(log->dirfd, s->name, spare) == 0) {
            rw_spare_add(log, s->seq);
            return 0;
        }
        /* Not renamed (e.g. a stale spare of that name): delete it instead. */
    }
    if (rw_io->unlinkat(log->dirfd, s->name, 0) != 0 && errno != ENOENT)
        return rw_err_sys(errno, 0, "%s: unlink after purge", s->name);
    return 0;
}

/* Removes the oldest segments whose live entries are all <= the purge point
 * (never the active one). The PURGE batch is durable before this runs. */
static int delete_purged_segments(raftwal_log *log)
{
    size_t k = 0;
    while (k + 1 < log->nsegs) {
        rw_seg *s = log->segs[k];
        if (s->count && s->first + s->count - 1 > log->purge)
            break;
        k++;
    }
    if (k == 0)
        return 0;
    rw_seg **gone = malloc(k * sizeof *gone);
    int *readers = malloc(k * sizeof *readers);
    if (!gone || !readers) {
        free(gone);
        free(readers);
        return rw_err(RAFTWAL_ENOMEM, "out of memory");
    }
    /* Out of the table first, under the lock iterators take references
     * under: from here on nobody new can reach these files. */
    pthread_rwlock_wrlock(&log->rw);
    memcpy(gone, log->segs, k * sizeof *gone);
    memmove(log->segs, log->segs + k, (log->nsegs - k) * sizeof *log->segs);
    log->nsegs -= k;
    for (size_t i = 0; i < k; i++)
        readers[i] = atomic_load(&gone[i]->refs) > 1;
    pthread_rwlock_unlock(&log->rw);
    int rc = 0;
    size_t done = 0;
    while (done < k && (rc = remove_purged_file(log, gone[done], readers[done])) == 0)
        done++;
    if (done < k) {
        /* A file could not be removed: it and the younger ones stay in the
         * log (the next checkpoint must still list what is on disk; the
         * next purge retries). Nothing was added meanwhile (wmu). */
        pthread_rwlock_wrlock(&log->rw);
        memmove(log->segs + (k - done), log->segs, log->nsegs * sizeof *log->segs);
        memcpy(log->segs, gone + done, (k - done) * sizeof *gone);
        log->nsegs += k - done;
        pthread_rwlock_unlock(&log->rw);
    }
    for (size_t i = 0; i < done; i++)
        rw_seg_unref(gone[i]); /* iterators holding one keep it mapped */
    free(gone);
    free(readers);
    atomic_fetch_add(&log->stats.segments_deleted, done);
    int drc = done ? rw_log_dirsync(log) : 0;
    return rc ? rc : drc;
}

int rw_log_purge(raftwal_log *log, uint64_t upto)
{
    pthread_mutex_lock(&log->wmu);
    int rc = rw_log_check_writable(log);
    if (rc == 0 && upto > log->purge) {
        rw_seg *seg = NULL;
        uint64_t end = 0;
        rw_batch b = {.purge = upto};
        rc = write_locked(log, &b, 0, &seg, &end);
        if (rc == 0)
            rc = rw_sync_to(log, seg->seq, end);
        if (rc == 0)
            rc = delete_purged_segments(log);
    }
    pthread_mutex_unlock(&log->wmu);
    return rc;
}
