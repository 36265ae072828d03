/* log_open.c -- opening (creating, recovering) and closing a log.
 * The recovery rules are those of docs/format.md §5. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "io.h"
#include "keys.h"
#include "log.h"
#include "rules.h"
#include "segment_scan.h"

/* ---------------------------------------------------------------------- */
/* Listing                                                                */
/* ---------------------------------------------------------------------- */

static int parse_seq(const char *name, const char *suffix, uint64_t *seq)
{
    size_t n = strlen(name), sl = strlen(suffix);
    if (n != 16 + sl || strcmp(name + 16, suffix) != 0)
        return 0;
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = name[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return 0;
        v = v << 4 | (uint64_t)d;
    }
    *seq = v;
    return 1;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Lists segment sequence numbers, sorted; removes *.wal.tmp leftovers when
 * writable (they never hold acknowledged data). Spare files (*.spare:
 * purged segments kept for reuse) go to the pool of a writable handle, up
 * to RW_MAX_SPARES; extra ones are removed. */
static int list_segments(raftwal_log *log, uint64_t **out, size_t *count)
{
    int fd = fcntl(log->dirfd, F_DUPFD_CLOEXEC, 0); /* dup() would clear close-on-exec */
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return rw_err_sys(errno, 0, "%s: list directory", log->path);
    }
    rewinddir(d);
    uint64_t *seqs = NULL;
    size_t n = 0, cap = 0;
    int rc = 0, removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        uint64_t seq;
        if (parse_seq(e->d_name, ".wal.tmp", &seq)) {
            if (!log->readonly && rw_io->unlinkat(log->dirfd, e->d_name, 0) == 0)
                removed = 1;
            continue;
        }
        if (parse_seq(e->d_name, RW_SPARE_SUFFIX, &seq)) {
            if (log->readonly)
                continue;
            if (log->nspares < RW_MAX_SPARES)
                log->spares[log->nspares++] = seq;
            else if (rw_io->unlinkat(log->dirfd, e->d_name, 0) == 0)
                removed = 1;
            continue;
        }
        if (!parse_seq(e->d_name, ".wal", &seq))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            uint64_t *p = realloc(seqs, cap * sizeof *p);
            if (!p) {
                rc = rw_err(RAFTWAL_ENOMEM, "out of memory");
                break;
            }
            seqs = p;
        }
        seqs[n++] = seq;
    }
    closedir(d);
    if (rc) {
        free(seqs);
        return rc;
    }
    if (removed && rw_io->fsync(log->dirfd) != 0) {
        free(seqs);
        return rw_err_sys(errno, 0, "%s: fsync of the directory", log->path);
    }
    if (n)
        qsort(seqs, n, sizeof *seqs, cmp_u64);
    *out = seqs;
    *count = n;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Applying the tail's batches                                             */
/* ---------------------------------------------------------------------- */

typedef struct tail_ctx {
    raftwal_log *log;
    rw_seg *seg;
    int seen_checkpoint;
    rw_terms terms; /* the term rule (rules.h), replayed */
    rw_codec_buf scratch; /* records checked by tail_record */
    rw_codec_buf data;    /* the data of the record being applied */
} tail_ctx;

/* Every record's codec byte and tag (docs/format.md §7.3). */
static int tail_record(void *ctx, const rw_rec *r, uint64_t off, uint64_t salt)
{
    tail_ctx *c = ctx;
    return rw_codec_verify(&c->log->codec, c->seg->version, salt, off, c->seg->name, r,
                           &c->scratch);
}

static int tail_corrupt(tail_ctx *c, uint64_t off, const char *what)
{
    return rw_err(RAFTWAL_ECORRUPT, "%s: offset %" PRIu64 ": %s", c->seg->name, off, what);
}

static int apply_checkpoint(tail_ctx *c, const rw_rec *r, uint64_t off)
{
    raftwal_log *log = c->log;
    rw_state st;
    if (rw_checkpoint_decode(r->payload, r->len, &st) != 0 || r->b != st.purge + 1 ||
        r->a < st.purge)
        return tail_corrupt(c, off, "malformed checkpoint");
    if (r->a != log->last) /* log->last: composed from the segment table */
        return tail_corrupt(c, off, "checkpoint's last index does not match its segment table");
    log->purge = st.purge;
    log->first = st.purge + 1;
    log->last = r->a;
    log->tail_ckpt_last = r->a;
    log->hs = st.hs;
    rw_terms_start(&c->terms, st.purge, r->a, st.last_term, st.snap_index, st.snap_term);
    int rc = rw_apply_snapshot(log, st.snap_index, st.snap_term, st.snap_meta, st.snap_meta_len);
    if (rc == 0)
        rc = rw_apply_metadata(log, st.meta, st.meta_len);
    c->seen_checkpoint = 1;
    return rc;
}

static int tail_batch(void *ctx, const rw_rec *recs, const uint64_t *offs, size_t n,
                      uint64_t start, uint64_t end)
{
    tail_ctx *c = ctx;
    raftwal_log *log = c->log;
    (void)end;
    if (!c->seen_checkpoint) {
        if (n != 1 || recs[0].type != RW_REC_CHECKPOINT)
            return tail_corrupt(c, start, "segment does not start with a checkpoint");
        rw_rec view = recs[0];
        int rc = rw_codec_view(&log->codec, c->seg->version, c->seg->salt, offs[0], c->seg->name,
                               &view, &c->data);
        return rc ? rc : apply_checkpoint(c, &view, offs[0]);
    }
    for (size_t i = 0; i < n; i++) {
        rw_rec view = recs[i];
        const rw_rec *r = &view;
        int rc = 0;
        if (r->type != RW_REC_ENTRY && r->codec &&
            (rc = rw_codec_view(&log->codec, c->seg->version, rw_seg_salt_at(c->seg, offs[i]),
                                offs[i], c->seg->name, &view, &c->data)) != 0)
            return rc; /* the data of a hard state, snapshot or metadata */
        switch (r->type) {
        case RW_REC_ENTRY:
            rc = rw_terms_entry(&c->terms, r->a, r->b);
            if (rc == 1)
                return tail_corrupt(c, offs[i], "entry term lower than its predecessor's");
            if (rc == 0)
                rc = rw_apply_entry(log, c->seg, r->a, offs[i]);
            if (rc == RAFTWAL_EGAP)
                return tail_corrupt(c, offs[i], "entry index does not follow the log's last index");
            break;
        case RW_REC_TRUNCATE:
            if (r->a <= log->purge || r->a > log->last + 1)
                return tail_corrupt(c, offs[i], "truncation point out of range");
            rw_apply_truncate(log, r->a);
            rw_terms_truncate(&c->terms, r->a);
            break;
        case RW_REC_HARDSTATE:
            if (r->len != RW_HARDSTATE_PAYLOAD)
                return tail_corrupt(c, offs[i], "malformed hard state");
            rw_hardstate_decode(r->payload, &log->hs);
            break;
        case RW_REC_SNAPSHOT:
            rc = rw_apply_snapshot(log, r->a, r->b, r->payload, r->len);
            rw_terms_snapshot(&c->terms, r->a, r->b);
            break;
        case RW_REC_METADATA:
            rc = rw_apply_metadata(log, r->payload, r->len);
            break;
        case RW_REC_PURGE:
            rw_apply_purge(log, r->a);
            rw_terms_purge(&c->terms, r->a);
            break;
        default:
            return tail_corrupt(c, offs[i], "unexpected record type inside a batch");
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int tail_epoch(void *ctx, uint64_t off, uint64_t salt)
{
    tail_ctx *c = ctx;
    return rw_seg_add_epoch(c->seg, off, salt);
}

static const rw_scan_ops tail_ops = {tail_batch, tail_epoch, tail_record};

/* ---------------------------------------------------------------------- */
/* Recovery                                                               */
/* ---------------------------------------------------------------------- */

/* Composes the sealed segments before the tail from the segment table in
 * the tail's checkpoint, without reading any of them: segs[0..tail) are the
 * consecutive files before the tail. Segments the table lists but that are
 * not among them (absent, renamed to spares, or left behind a gap: a purge's
 * renames and unlinks may reach the disk in any order) must have been
 * purged; *missing_last receives the highest live index they held, checked
 * against the final purge point after the tail's scan. */
static int compose_listed(raftwal_log *log, rw_seg **segs, size_t tail, const rw_state *cst,
                          uint64_t *missing_last);

static int compose_from_table(raftwal_log *log, rw_seg **segs, size_t tail, const rw_mapping *m,
                              uint64_t *missing_last)
{
    rw_seg *t = segs[tail];
    rw_rec r;
    rw_state st;
    *missing_last = 0;
    if (rw_rec_decode(m->addr + RW_HEADER_SIZE, m->len - RW_HEADER_SIZE, t->salt, &r, NULL) !=
            RW_REC_OK || r.type != RW_REC_CHECKPOINT)
        return rw_err(RAFTWAL_ECORRUPT, "%s: offset %d: invalid checkpoint", t->name, RW_HEADER_SIZE);
    rw_codec_buf data = {NULL, 0}; /* an encrypted checkpoint, decrypted */
    int rc0 = rw_codec_view(&log->codec, t->version, t->salt, RW_HEADER_SIZE, t->name, &r, &data);
    if (rc0 == 0 && rw_checkpoint_decode(r.payload, r.len, &st) != 0)
        rc0 = rw_err(RAFTWAL_ECORRUPT, "%s: offset %d: invalid checkpoint", t->name, RW_HEADER_SIZE);
    if (rc0) {
        free(data.p);
        return rc0;
    }
    int rc1 = compose_listed(log, segs, tail, &st, missing_last);
    free(data.p);
    return rc1;
}

/* compose_from_table's work on the decoded checkpoint st. */
static int compose_listed(raftwal_log *log, rw_seg **segs, size_t tail, const rw_state *cst,
                          uint64_t *missing_last)
{
    rw_seg *t = segs[tail];
    rw_state st = *cst;
    uint64_t tab_first_seq = st.nsegtab ? rw_get64(st.segtab) : t->seq;
    uint64_t tab_last_seq = st.nsegtab ? tab_first_seq + st.nsegtab - 1 : t->seq - 1;
    /* Files before the table's first segment are not part of the log: a
     * purge took them out of the table, and the crash kept their removal
     * from the disk (recover() finishes it). They stay in segs[]. */
    if (st.nsegtab && tab_last_seq != t->seq - 1)
        return rw_err(RAFTWAL_ECORRUPT, "%s: offset %d: the checkpoint lists segments %016" PRIx64
                      " to %016" PRIx64 " before this one", t->name, RW_HEADER_SIZE, tab_first_seq,
                      tab_last_seq);
    uint64_t last = 0, base_seq = tail ? segs[0]->seq : t->seq;
    for (uint32_t i = 0; i < st.nsegtab; i++) {
        const uint8_t *e = st.segtab + (size_t)i * RW_SEGTAB_ENTRY;
        uint64_t seq = rw_get64(e), first = rw_get64(e + 8), count = rw_get64(e + 16);
        uint64_t end = count ? first + count - 1 : 0;
        if (end > last)
            last = end;
        if (seq < base_seq) {
            if (end > *missing_last)
                *missing_last = end;
            continue;
        }
        rw_seg *s = segs[seq - base_seq];
        if (atomic_load(&s->probed) && s->sealed &&
            (s->seal.count < count || (count && s->seal.first != first)))
            return rw_err(RAFTWAL_ECORRUPT, "%s: offset %" PRIu64 ": the seal does not match the "
                          "range the log recorded for this segment", s->name,
                          s->file_size - RW_SEAL_SIZE);
        s->sealed = 1;
        s->first = first;
        s->count = count;
        s->t_first = first;
        s->t_count = count;
        int rc = rw_log_push_seg(log, s);
        if (rc)
            return rc;
        segs[seq - base_seq] = NULL; /* owned by the log now */
    }
    log->last = last > st.purge ? last : st.purge;
    return 0;
}

/* Is the first batch of `s` a valid checkpoint? If not, and nothing proves
 * the segment was ever synced, its activation was torn (returns 0 with
 * *torn = 1); with proof it is corruption. */
static int check_activation(rw_seg *s, const rw_mapping *m, int *torn)
{
    rw_rec r, c;
    *torn = 0;
    if (rw_rec_decode(m->addr + RW_HEADER_SIZE, m->len - RW_HEADER_SIZE, s->salt, &r, NULL) ==
            RW_REC_OK && r.type == RW_REC_CHECKPOINT) {
        uint64_t off = RW_HEADER_SIZE + r.size;
        if (off < m->len && rw_rec_decode(m->addr + off, m->len - off, s->salt, &c, NULL) == RW_REC_OK &&
            c.type == RW_REC_COMMIT)
            return 0;
    }
    /* The slow path, after a crash during activation only: the scanner
     * reports corruption when later records prove the segment was synced. */
    static const rw_scan_ops no_ops = {NULL, NULL, NULL};
    rw_scan_result res;
    int rc = rw_scan_records(s->name, m->addr, m->len, s->salt, UINT64_MAX, s->recycled, &no_ops, NULL, &res);
    if (rc == 0 && res.batches == 0)
        *torn = 1;
    return rc;
}

/* A view of the first len bytes of s for the tail scan that reads the
 * file's holes as zeros without touching them: a private mapping of the
 * file with anonymous zero pages over every hole (lseek SEEK_HOLE and
 * SEEK_DATA). The scan reads a sparse tail (RAFTWAL_OPEN_NOSYNC, or a
 * sparse prepared segment) to its end; through the shared mapping a read
 * of a hole makes tmpfs allocate a page, and on a full tmpfs that is
 * SIGBUS. NULL when the file has no hole (the usual zero-filled segment:
 * one lseek, and the shared mapping is read as before) or a call failed
 * (then too). The writer's shared mapping is left as it is: it must see
 * later writes. munmap(view, len) when done. */
static void *hole_safe_view(const rw_seg *s, size_t len)
{
    /* A read-only handle's segment: the locked file it maps (the name may
     * be another file's by now). Only pread and mmap use it: its offset is
     * free for lseek. */
    int own = !(s->reader_lock && s->rfd >= 0);
    int fd = own ? rw_io->openat(s->dirfd, s->name, O_RDONLY, 0) : s->rfd;
    if (fd < 0)
        return NULL;
    off_t off = lseek(fd, 0, SEEK_HOLE);
    uint8_t *p = NULL;
    if (off >= 0 && (uint64_t)off < len) {
        p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED)
            p = NULL;
    }
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    while (p && off >= 0 && (uint64_t)off < len) {
        off_t data = lseek(fd, off, SEEK_DATA); /* ENXIO: holes to the end */
        uint64_t end = data < 0 || (uint64_t)data > len ? len : (uint64_t)data;
        uint64_t a = ((uint64_t)off + page - 1) / page * page;
        uint64_t b = end == len ? (len + page - 1) / page * page : end / page * page;
        if (b > a && mmap(p + a, b - a, PROT_READ, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1,
                          0) == MAP_FAILED) {
            munmap(p, len);
            p = NULL;
        }
        off = end == len ? (off_t)len : lseek(fd, (off_t)end, SEEK_HOLE);
    }
    if (own)
        rw_io->close(fd);
    return p;
}

static int scan_tail(raftwal_log *log, rw_seg *s, uint64_t window)
{
    const rw_mapping *m;
    int rc = rw_seg_map(s, s->file_size, &m);
    if (rc)
        return rc;
    int sealed = s->sealed;
    rw_seal seal = s->seal;
    s->first = s->base; /* until its first entry: where entries would start */
    s->count = 0;
    s->nepochs = 0;
    s->trunc_min = UINT64_MAX;
    rc = rw_seg_add_epoch(s, RW_HEADER_SIZE, s->salt);
    if (rc)
        return rc;
    tail_ctx c = {.log = log, .seg = s};
    rw_scan_result res;
    uint8_t *view = hole_safe_view(s, m->len);
    const uint8_t *addr = view ? view : m->addr;
    /* A cold tail is read front to back once: ask for big readahead, then
     * back to normal for the random reads that follow. */
    if (rw_io->advise_sequential)
        rw_io->advise_sequential(addr, m->len, 1);
    rc = rw_scan_records(s->name, addr, m->len, s->salt, window, s->recycled, &tail_ops, &c, &res);
    rw_terms_free(&c.terms);
    free(c.scratch.p);
    free(c.data.p);
    if (rw_io->advise_sequential && !view)
        rw_io->advise_sequential(m->addr, m->len, 0);
    if (view)
        munmap(view, m->len);
    if (rc)
        return rc;
    if (!c.seen_checkpoint)
        return rw_err(RAFTWAL_ECORRUPT, "%s: offset %d: no checkpoint", s->name, RW_HEADER_SIZE);
    if (sealed && (res.status != RW_SCAN_FOOTER || res.end != seal.footer_off)) {
        /* A power loss while sealing: FOOTER and SEAL were written but their
         * fdatasync had not returned, and only the SEAL (at the end of the
         * file) reached the disk, or not all of the unsynced batches before
         * it did. Nothing after them was acknowledged, so the seal proves
         * nothing: the segment is an unsealed tail with a torn end. Damage
         * that a later COMMIT proves durable was reported by the scan. */
        sealed = 0;
        s->sealed = 0;
        log->tail_stale_seal = 1; /* a writable open zeroes it */
        log->stats.torn_tails = 1;
        log->stats.torn_bytes = res.status == RW_SCAN_TORN ? res.torn_bytes : s->file_size - res.end;
        log->torn_seq = s->seq;
        log->torn_off = res.end;
    }
    if (sealed) {
        if (s->count != seal.count || (s->count && s->first != seal.first))
            return rw_err(RAFTWAL_ECORRUPT, "%s: offset %" PRIu64 ": seal does not match the "
                          "records", s->name, s->file_size - RW_SEAL_SIZE);
        atomic_store(&s->footer_loaded, 1);
    } else if (res.status == RW_SCAN_TORN || res.status == RW_SCAN_FOOTER) {
        /* A crash in the middle of a batch, or of sealing. */
        log->stats.torn_tails = 1;
        log->stats.torn_bytes = res.status == RW_SCAN_TORN ? res.torn_bytes : s->file_size - res.end;
        log->torn_seq = s->seq;
        log->torn_off = res.end;
    }
    s->used = res.end;
    log->tail_junk_end = res.junk_end;
    log->tail_synced = res.max_synced;
    s->ckpt_end = RW_HEADER_SIZE; /* unknown after reopen; only a lower bound is needed */
    log->wsalt = res.salt;
    return 0;
}

static int zero_range(rw_seg *s, uint64_t from, uint64_t to)
{
    static const uint8_t zeros[4096];
    for (uint64_t off = from; off < to;) {
        size_t n = to - off < sizeof zeros ? (size_t)(to - off) : sizeof zeros;
        int e = rw_pwrite_all(s->fd, zeros, n, off);
        if (e)
            return rw_err_sys(-e, 0, "%s: zeroing a torn tail at offset %" PRIu64, s->name, off);
        off += n;
    }
    return 0;
}

/* Makes the recovered tail the active segment (writable opens). */
static int resume_tail(raftwal_log *log, rw_seg *s)
{
    s->fd = rw_io->openat(log->dirfd, s->name, O_RDWR, 0);
    if (s->fd < 0)
        return rw_err_sys(errno, 0, "%s: open for writing", s->name);
    /* Leftovers of a torn write past the end can never validate (the next
     * write starts a new epoch), but zeroing them keeps later opens from
     * reporting them as a torn tail again. The fdatasync below covers it. */
    if (log->tail_junk_end > s->used) {
        int rc = zero_range(s, s->used, log->tail_junk_end);
        if (rc)
            return rc;
    }
    if (log->tail_stale_seal && s->file_size >= RW_SEAL_SIZE) {
        int rc = zero_range(s, s->file_size - RW_SEAL_SIZE, s->file_size);
        if (rc)
            return rc;
    }
    /* The recovered bytes may only be in the page cache (the last process
     * was killed before its fdatasync). Rather than fdatasync them here (a
     * device cache flush: half of a cold open), claim durable only what the
     * records prove: the tail below the highest synced-upto, the entries of
     * the sealed segments (unless the tail truncated them). The first
     * durable write's fdatasync covers the rest. */
    uint64_t durable_off = log->tail_synced > RW_HEADER_SIZE ? log->tail_synced : RW_HEADER_SIZE;
    if (durable_off > s->used)
        durable_off = s->used;
    uint64_t durable_index = log->tail_ckpt_last;
    if (s->trunc_min != UINT64_MAX && durable_index >= s->trunc_min)
        durable_index = s->trunc_min - 1;
    if (durable_index > log->last)
        durable_index = log->last;
    if (s->lazy) {
        /* The segments before it may be in the page cache only (they are
         * pending): nothing is claimed durable until a sync covers them. */
        durable_off = RW_HEADER_SIZE;
        durable_index = 0;
    }
    log->need_epoch = 1;
    rw_sync_recovered(log, s, durable_off, durable_index, s->used, log->last);
    return 0;
}

/* Keeps the first prepared segment after the tail for the next rotation and
 * deletes the others.
 *
 * An adopted file's name may not be durable: its preparer may have stopped
 * between renaming it into place and fsyncing the directory (the process
 * was killed, or a close or a failure stopped it there: segment.c,
 * rw_seg_prepare). Rotation writes acknowledged entries into it and syncs
 * only the file, so the directory is fsynced here, before anything can be
 * written into it: one fsync, at the opens that find a prepared file. */
static int adopt_prepared(raftwal_log *log, rw_seg **segs, size_t from, size_t n)
{
    int removed = 0, adopted = 0;
    for (size_t i = from; i < n; i++) {
        rw_seg *s = segs[i];
        segs[i] = NULL;
        if (log->readonly) {
            rw_seg_unref(s);
            continue;
        }
        if (i == from && log->nsegs && s->seq == log->segs[log->nsegs - 1]->seq + 1) {
            s->fd = rw_io->openat(log->dirfd, s->name, O_RDWR, 0);
            if (s->fd >= 0) {
                /* Records of an activation that did not reach the disk (or
                 * was torn) may follow its header: once reused, the bytes
                 * after its records are stale, as in a recycled file. */
                s->recycled = 1;
                log->prepared = s;
                adopted = 1;
                continue;
            }
        }
        if (rw_io->unlinkat(log->dirfd, s->name, 0) == 0)
            removed = 1;
        rw_seg_unref(s);
    }
    return removed || adopted ? rw_log_dirsync(log) : 0;
}

/* ---------------------------------------------------------------------- */
/* Keys (docs/format.md §7.4)                                              */
/* ---------------------------------------------------------------------- */

static const uint8_t *master_key(const raftwal_options *opts)
{
    return opts && opts->key ? (const uint8_t *)opts->key : NULL;
}

/* Before anything is read: a KEYS file and no key is RAFTWAL_EKEY; a KEYS
 * file makes the log encrypted (its keys are loaded once the log id is
 * known: load_keys). */
static int check_key_given(raftwal_log *log, const raftwal_options *opts)
{
    int present = rw_keys_present(log->dirfd);
    if (present < 0)
        return present;
    if (present && !master_key(opts))
        return rw_err(RAFTWAL_EKEY, "%s: the log is encrypted, and no key was given", log->path);
    log->codec.encrypted = present;
    return 0;
}

/* A writable handle's session: a new data key, durable in KEYS before
 * anything is written under it. */
static int start_session(raftwal_log *log)
{
    if (log->readonly)
        return 0;
    uint32_t id;
    int rc = rw_keys_remove_tmp(log->dirfd);
    if (rc == 0)
        rc = rw_keys_new_session(log->codec.keys, log->dirfd, log->path, log->mode, 0, &id);
    if (rc == 0)
        rw_codec_start_session(&log->codec, id);
    return rc;
}

/* An existing log (its id known from the tail's header): a key for a log
 * without KEYS is RAFTWAL_EKEY; else the keys are loaded (a wrong key is
 * RAFTWAL_EKEY before anything is decrypted) and a writer's session
 * starts. */
static int load_keys(raftwal_log *log, const raftwal_options *opts)
{
    if (!log->codec.encrypted) {
        if (master_key(opts))
            return rw_err(RAFTWAL_EKEY, "%s: the log is not encrypted, and a key was given",
                          log->path);
        return 0;
    }
    if (log->codec.keys)
        return 0;
    int rc = rw_keys_load(log->dirfd, log->path, log->log_id, master_key(opts), &log->codec.keys);
    if (rc == 0)
        rw_codec_use_pool(&log->codec);
    return rc ? rc : start_session(log);
}

/* A new log with a key: its KEYS file, before its first segment. */
static int create_keys(raftwal_log *log, const raftwal_options *opts)
{
    if (!master_key(opts))
        return 0;
    rw_keys_free(log->codec.keys);
    log->codec.keys = NULL;
    int rc = rw_keys_create(log->dirfd, log->path, log->log_id, master_key(opts), log->mode,
                            &log->codec.keys);
    if (rc)
        return rc;
    log->codec.encrypted = 1;
    rw_codec_use_pool(&log->codec);
    return start_session(log);
}

static int create_fresh(raftwal_log *log, const raftwal_options *opts)
{
    if (log->readonly) {
        log->first = 1;
        log->last = 0;
        return 0;
    }
    if (!log->log_id)
        log->log_id = rw_random64();
    int krc = create_keys(log, opts);
    if (krc)
        return krc;
    log->first = 1;
    log->last = 0;
    if (opts && opts->metadata_size) {
        int rc = rw_apply_metadata(log, opts->metadata, opts->metadata_size);
        if (rc)
            return rc;
    }
    int rc = rw_log_start_segment(log, 1, 0);
    /* A log opened not to sync gets its first segment warmed here (up to
     * RW_WARM_AT_CREATE_MAX), as the worker warms the later ones of an
     * unsynced writer: its first appends then overwrite cached pages
     * instead of allocating them (bench/README.md, 3: no-sync 128 B x 16,
     * seven segments per run, 0.72-0.75 -> 0.78-0.99 of raw). Nothing is
     * known yet about whether it will sync after all: then its first sync
     * writes out the zeros not yet overwritten, at most that much. */
    if (rc == 0 && (log->flags & RAFTWAL_OPEN_NOSYNC))
        rw_prepare_warm_active(log, log->segs[log->nsegs - 1]);
    return rc;
}

/* Probes segs[i] (header, and seal if used) and checks it belongs to the
 * log. A read-only handle probes the file it will map, opened and locked
 * first (segment.c, "Readers and recycling"): mapping it does both. A
 * writer in another process then cannot reuse it under the probe, and a
 * file it purged or reused since the listing is RAFTWAL_ECOMPACTED, never
 * an I/O error or another segment's header read as this one's. */
static int probe_one(raftwal_log *log, rw_seg *s)
{
    uint64_t id = 0;
    if (log->readonly) {
        const rw_mapping *m;
        int rc = rw_seg_map(s, 0, &m);
        /* Corrupt: too short to map, or a header not this segment's; the
         * probe below says exactly what is wrong. */
        if (rc && rc != RAFTWAL_ECORRUPT)
            return rc;
    }
    int rc = rw_seg_probe(s, &id);
    if (rc)
        return rc;
    if (!log->log_id)
        log->log_id = id;
    else if (id != log->log_id)
        return rw_err(RAFTWAL_ECORRUPT, "%s: offset 16: the segment belongs to another log", s->name);
    atomic_store_explicit(&s->probed, 1, memory_order_release);
    return 0;
}

/* Decides which segment the log ends in (docs/format.md §5.3). On entry
 * *tailp is the last segment in use (probed). A segment whose header has
 * RW_HDR_F_LAZY, or whose activation did not reach the disk (header of a
 * prepared segment), was activated when the one before it was not known
 * durable: that one may be incomplete after a power loss. Such
 * predecessors, back to the first one that is certain, are verified in
 * full, oldest first (open costs O(unsynced data) then). The log ends in
 * the first that is torn (or in the one before, if the torn one holds no
 * checkpoint): what follows holds only no-sync writes made after a gap,
 * none acknowledged durable (a sync would have made the torn segment
 * durable first). On return *tailp is the segment the log ends in,
 * [*lop, *tailp) are the verified predecessors (not known durable), and
 * *cutp says the segments after *tailp must go (else those after it are
 * prepared ones, kept for reuse as before). */
static int settle_tail(raftwal_log *log, rw_seg **segs, size_t *tailp, size_t *lop, int *cutp)
{
    size_t t = *tailp, lo = t, end = t;
    int empty = 0, rc = 0;
    *cutp = 0;
    /* Sealed too: a no-sync rotation seals a segment without a sync, so its
     * SEAL may be on disk while its activation is not. */
    const rw_mapping *m;
    rc = rw_seg_map(segs[t], segs[t]->file_size, &m);
    if (rc == 0)
        rc = check_activation(segs[t], m, &empty);
    if (rc)
        return rc;
    while (lo > 0 && (segs[lo]->lazy || !segs[lo]->base)) {
        lo--;
        if ((rc = probe_one(log, segs[lo])) != 0)
            return rc;
    }
    for (size_t j = lo; j < t; j++) {
        int complete = 0, has_ckpt = 0;
        if ((rc = rw_check_lazy_pred(log, segs[j], &complete, &has_ckpt)) != 0)
            return rc;
        if (complete)
            continue;
        *cutp = 1;
        if (!has_ckpt && j == 0)
            return rw_err(RAFTWAL_ECORRUPT, "%s: offset %d: no checkpoint, but later segments "
                          "exist", segs[j]->name, RW_HEADER_SIZE);
        end = has_ckpt ? j : j - 1;
        break;
    }
    if (end == t && empty) { /* crashed while activating it: it was never used */
        segs[t]->base = 0;
        segs[t]->sealed = 0; /* a SEAL may have reached the disk without it */
        end = t - 1;         /* SIZE_MAX if t == 0: nothing in use */
    }
    if (end < lo) {
        /* The segment before a certain one: durable when that one was
         * activated, so it must be sealed. */
        if ((rc = probe_one(log, segs[end])) != 0)
            return rc;
        if (!segs[end]->base || !segs[end]->sealed)
            return rw_err(RAFTWAL_ECORRUPT, "%s: offset %" PRIu64 ": the segment is not sealed "
                          "but later segments exist", segs[end]->name,
                          segs[end]->file_size - RW_SEAL_SIZE);
    }
    *tailp = end;
    *lop = end < lo ? end : lo;
    return 0;
}

/* Removes the segment files from `from` on, newest first, each unlink made
 * durable before the next (so that a crash in between leaves consecutive
 * segments: unlinks not yet covered by a directory fsync may reach the
 * disk in any order), when writable. *bytes receives the size of those
 * that were in use. A rare path (a torn predecessor of a lazy segment):
 * the fsyncs cost nothing that matters. */
static int drop_after(raftwal_log *log, rw_seg **segs, size_t from, size_t n, uint64_t *bytes)
{
    int rc = 0;
    *bytes = 0;
    for (size_t i = n; i-- > from;) {
        rw_seg *s = segs[i];
        segs[i] = NULL;
        if (s->base)
            *bytes += s->file_size;
        if (!log->readonly && rc == 0) {
            if (rw_io->unlinkat(log->dirfd, s->name, 0) == 0)
                rc = rw_log_dirsync(log);
            else if (errno != ENOENT)
                rc = rw_err_sys(errno, 0, "%s: unlink after a torn segment", s->name);
        }
        rw_seg_unref(s);
    }
    return rc;
}

/* Takes the oldest segments whose entries are all at or below the purge
 * point out of the log (never the tail): they are purged leftovers, like
 * the files recover() left out of it, never read again, not even their
 * headers (the file may since hold a recycled segment's header: a spare
 * taken for reuse before the purge's renames were made durable). Each goes
 * back to segs[] (seqs[] names the files) for finish_purges(). */
static void take_out_purged(raftwal_log *log, rw_seg **segs, const uint64_t *seqs, size_t n)
{
    /* Up to the last one that holds purged entries: empty segments among
     * them go too (as a purge takes them), but not empty ones at the front
     * of a log with nothing purged behind them. */
    size_t k = 0, upto = 0;
    for (; k + 1 < log->nsegs; k++) {
        const rw_seg *s = log->segs[k];
        if (s->count && s->first + s->count - 1 > log->purge)
            break;
        if (s->count)
            upto = k + 1;
    }
    for (k = 0; k < upto; k++) {
        rw_seg *s = log->segs[k];
        size_t i = 0;
        while (i < n && seqs[i] != s->seq)
            i++;
        if (i == n || segs[i])
            break; /* cannot happen: every segment of the log is a listed file */
        segs[i] = s;
    }
    if (k) {
        memmove(log->segs, log->segs + k, (log->nsegs - k) * sizeof *log->segs);
        log->nsegs -= k;
    }
}

/* Counts the purged leftovers (the files still in segs[]) for
 * raftwal_verify: every segment file below the log's first is one. */
static void count_leftovers(raftwal_log *log, rw_seg **segs, size_t n)
{
    log->leftovers = 0;
    for (size_t i = 0; i < n; i++)
        log->leftovers += segs[i] != NULL;
    log->leftover_below_seq = log->leftovers ? log->segs[0]->seq : 0;
}

/* Finishes the purges a crash interrupted (writable opens, the log
 * recovered): the files still in segs[] are purged leftovers (before a
 * gap, before the tail's segment table, or holding only purged entries).
 * They are removed and the directory fsynced. The recovered purge point may
 * be in the page cache only (a process crash before the purge's
 * fdatasync): it is synced first, so that a power loss can never leave the
 * files gone and the purge undone. */
static int finish_purges(raftwal_log *log, rw_seg **segs, size_t n)
{
    int leftovers = 0;
    for (size_t i = 0; i < n; i++)
        leftovers |= segs[i] != NULL;
    if (!leftovers)
        return 0;
    int rc = rw_sync_all(log);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!segs[i])
            continue;
        if (rw_io->unlinkat(log->dirfd, segs[i]->name, 0) != 0 && errno != ENOENT)
            rc = rw_err_sys(errno, 0, "%s: unlink a purged segment left by a crash", segs[i]->name);
    }
    if (rc == 0)
        rc = rw_log_dirsync(log);
    return rc;
}

/* The segment files a read-only open found (sorted sequence numbers). */
typedef struct rw_listing {
    uint64_t *seqs;
    size_t n;
    int known; /* 0: recovery failed before listing, or out of memory */
} rw_listing;

/* Recovery reads the directory listing, the headers of the last files (to
 * find the tail: the last segment in use), and the tail itself. Sealed
 * segments are composed from the tail's checkpoint and read lazily. With
 * `seen`, the listing it worked from is handed there (the caller frees
 * seen->seqs). */
static int recover(raftwal_log *log, const raftwal_options *opts, rw_listing *seen)
{
    uint64_t *seqs = NULL;
    size_t n = 0;
    int rc = list_segments(log, &seqs, &n);
    if (rc)
        return rc;
    if (seen) {
        uint64_t *copy = malloc(n ? n * sizeof *copy : 1);
        if (copy && n)
            memcpy(copy, seqs, n * sizeof *copy);
        seen->seqs = copy;
        seen->n = n;
        seen->known = copy != NULL;
    }
    if (n == 0) {
        free(seqs);
        if (!(log->flags & RAFTWAL_OPEN_CREATE) || log->readonly)
            return rw_err(RAFTWAL_ENOTFOUND, "%s: no raftwal log here", log->path);
        return create_fresh(log, opts);
    }
    rw_seg **segs = calloc(n, sizeof *segs);
    if (!segs) {
        free(seqs);
        return rw_err(RAFTWAL_ENOMEM, "out of memory");
    }
    size_t i;
    for (i = 0; i < n && rc == 0; i++) {
        if (!(segs[i] = rw_seg_new(log->dirfd, seqs[i])))
            rc = rw_err(RAFTWAL_ENOMEM, "out of memory");
        else if ((segs[i]->reader_lock = log->readonly)) /* segment.c, "Readers and recycling" */
            segs[i]->reader_fds = &log->reader_fds;
    }
    if (rc)
        goto out;
    /* The tail is the last segment in use; prepared ones follow it (gaps
     * among them: a crash in the middle of removing extra ones). */
    size_t tail = n, lo = 0;
    int cut = 0;
    while (tail-- > 0) {
        if ((rc = probe_one(log, segs[tail])) != 0)
            goto out;
        if (segs[tail]->base)
            break;
    }
    /* Before any record is read (settle_tail reads some). */
    if (tail < n && (rc = load_keys(log, opts)) != 0)
        goto out;
    /* The log is the run of consecutive files that ends in the tail. Files
     * before a gap are left over from a purge whose renames and unlinks
     * reached the disk in part and in any order; they are never read, and
     * compose_from_table() checks that the tail's checkpoint agrees that
     * what is missing was purged. run[0..rn) is that run and what follows. */
    size_t run0 = 0;
    if (tail < n)
        for (run0 = tail; run0 > 0 && seqs[run0 - 1] + 1 == seqs[run0]; run0--)
            ;
    rw_seg **run = segs + run0;
    size_t rn = n - run0;
    if (tail < n)
        tail -= run0;
    if (tail < rn && (rc = settle_tail(log, run, &tail, &lo, &cut)) != 0)
        goto out;
    if (tail >= rn) { /* nothing in use: a log whose creation did not finish */
        for (i = 0; i + 1 < n; i++)
            if (seqs[i] + 1 != seqs[i + 1]) { /* unused files only: no purge did that */
                rc = rw_err(RAFTWAL_ECORRUPT, "%016" PRIx64 ".wal: offset 0: segments %016"
                            PRIx64 ".wal to %016" PRIx64 ".wal are missing", seqs[i + 1],
                            seqs[i] + 1, seqs[i + 1] - 1);
                goto out;
            }
        rc = adopt_prepared(log, segs, 0, n);
        if (rc == 0)
            rc = create_fresh(log, opts);
        goto out;
    }
    rw_seg *t = run[tail];
    const rw_mapping *m;
    uint64_t missing_last = 0;
    rc = rw_seg_map(t, t->file_size, &m);
    if (rc == 0)
        rc = compose_from_table(log, run, tail, m, &missing_last);
    if (rc == 0)
        rc = rw_log_push_seg(log, t);
    if (rc)
        goto out;
    run[tail] = NULL;
    uint64_t window = (log->flags & RAFTWAL_OPEN_VERIFY) ? UINT64_MAX : RW_OPEN_PROOF_WINDOW;
    rc = scan_tail(log, t, window);
    if (rc)
        goto out;
    /* The table predates the tail's own truncations, which may have
     * clipped the missing segments before they were purged. */
    if (t->trunc_min != UINT64_MAX && missing_last >= t->trunc_min)
        missing_last = t->trunc_min - 1;
    if (missing_last > log->purge) {
        rc = rw_err(RAFTWAL_ECORRUPT, "%s: offset %d: segments holding entries up to %" PRIu64
                    " are missing (purged only up to %" PRIu64 ")", t->name, RW_HEADER_SIZE,
                    missing_last, log->purge);
        goto out;
    }
    take_out_purged(log, segs, seqs, n);
    if (cut) {
        /* The log ends in t: the segments after it are not part of it. */
        uint64_t dropped = 0;
        rc = drop_after(log, run, tail + 1, rn, &dropped);
        if (!log->stats.torn_tails) {
            log->torn_seq = t->seq + 1;
            log->torn_off = 0;
        }
        log->stats.torn_tails = 1;
        log->stats.torn_bytes += dropped;
    } else {
        rc = adopt_prepared(log, run, tail + 1, rn);
    }
    if (rc == 0)
        count_leftovers(log, segs, n);
    if (rc || log->readonly)
        goto out; /* a read-only open ignores purged leftovers */
    /* Verified, but maybe only in the page cache (a process crash): the
     * next sync makes them durable before anything else. A sealed tail may
     * be one too (a no-sync rotation that stopped before the next header);
     * the segment started after it says so. */
    for (size_t k = 0; k + 1 < log->nsegs && rc == 0; k++)
        if (log->segs[k]->seq >= t->seq - (tail - lo))
            rc = rw_log_add_pending(log, log->segs[k]);
    if (rc == 0 && t->sealed)
        rc = rw_log_add_pending(log, t);
    if (rc == 0)
        rc = t->sealed ? rw_log_start_segment(log, 1, 1) : resume_tail(log, t);
    if (rc == 0)
        rc = finish_purges(log, segs, n);
out:
    for (i = 0; i < n; i++)
        rw_seg_unref(segs[i]);
    free(segs);
    free(seqs);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Open and close                                                         */
/* ---------------------------------------------------------------------- */

static void free_log(raftwal_log *log)
{
    rw_log_free_pending(log);
    for (size_t i = 0; i < log->nsegs; i++)
        rw_seg_unref(log->segs[i]);
    free(log->segs);
    log->segs = NULL;
    log->nsegs = 0;
    rw_prepare_stop(log);
    rw_lock_release(log);
    if (log->dirfd >= 0)
        close(log->dirfd);
    log->dirfd = -1;
}

static int make_dir(const char *dir, mode_t file_mode)
{
    if (mkdir(dir, rw_dir_mode(file_mode)) == 0) {
        /* Make the new directory's name durable in its parent. */
        char *parent = strdup(dir);
        if (!parent)
            return 0;
        char *slash = strrchr(parent, '/');
        const char *p = slash ? (slash == parent ? "/" : (*slash = 0, parent)) : ".";
        int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            rw_io->fsync(fd);
            close(fd);
        }
        free(parent);
        return 0;
    }
    if (errno == EEXIST)
        return 0;
    return rw_err_sys(errno, 1, "%s: create directory", dir);
}

/* ---------------------------------------------------------------------- */
/* Read-only opens of a live log                                           */
/* ---------------------------------------------------------------------- */

/* A writer in another process changes the directory while a read-only
 * open reads it: it renames purged segments to spares or unlinks them,
 * creates new ones and activates them. A directory listing is not atomic
 * against that (readdir may see a file already gone and miss one already
 * created), and a listed file may be gone or reused by the time it is
 * opened. Recovery then meets what looks like damage: a missing file
 * (RAFTWAL_ECOMPACTED, segment.c), a segment table that does not match the
 * listing (RAFTWAL_ECORRUPT), and so on. Such a failure is the writer's
 * doing when the directory no longer holds the segment files the open
 * listed: the open is tried again from a new listing, up to
 * RW_RO_OPEN_ATTEMPTS times. So is one that reports damage other than the
 * last attempt's (rw_log_open: the tail, appended to while scanned). A
 * failure that recurs with the listing unchanged is reported as it is:
 * damage is never hidden by a retry. */
#define RW_RO_OPEN_ATTEMPTS 16

/* Could a writer's change of the directory explain failure `rc`? */
static int writer_may_explain(int rc)
{
    return rc == RAFTWAL_ECORRUPT || rc == RAFTWAL_ECOMPACTED || rc == RAFTWAL_EIO ||
           rc == RAFTWAL_EVERSION;
}

/* Does the directory still hold exactly the segment files in `seen`?
 * Sequence numbers only ever grow, so a changed set means the directory
 * changed after (or while) it was listed. Keeps the thread's message. */
static int listing_changed(raftwal_log *log, const rw_listing *seen)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", raftwal_errmsg());
    uint64_t *now = NULL;
    size_t n = 0;
    int changed = 0;
    if (list_segments(log, &now, &n) == 0)
        changed = n != seen->n || (n && memcmp(now, seen->seqs, n * sizeof *now) != 0);
    free(now);
    rw_err(0, "%s", msg);
    return changed;
}

/* One attempt at opening. *changed: a read-only open failed in a way that
 * the writer's changes to the directory explain (listing_changed). */
static int open_once(raftwal_log **out, const char *dir, const raftwal_options *opts,
                     int *changed)
{
    uint64_t t0 = rw_now_ns();
    raftwal_log *log = calloc(1, sizeof *log);
    if (!log)
        return rw_err(RAFTWAL_ENOMEM, "out of memory");
    pthread_mutex_init(&log->wmu, NULL);
    pthread_rwlock_init(&log->rw, NULL);
    pthread_mutex_init(&log->smu, NULL);
    pthread_mutex_init(&log->pmu, NULL);
    pthread_cond_init(&log->pcond, NULL);
    atomic_init(&log->refs, 1);
    log->dirfd = -1;
    log->lockfd = -1;
    log->owner = rw_process_id();
    log->flags = opts ? opts->flags : RAFTWAL_OPEN_CREATE;
    log->readonly = (log->flags & RAFTWAL_OPEN_READONLY) != 0;
    rw_log_reader_fds_init(log);
    log->segment_size = opts && opts->segment_size ? opts->segment_size : RAFTWAL_DEFAULT_SEGMENT_SIZE;
    int mode_given = opts && opts->file_mode;
    log->mode = mode_given ? (mode_t)opts->file_mode : RW_DEFAULT_FILE_MODE;
    rw_codec_init(&log->codec, opts);
    log->first = 1;
    log->path = strdup(dir);
    int rc = log->path ? 0 : rw_err(RAFTWAL_ENOMEM, "out of memory");
    if (rc == 0 && (log->flags & RAFTWAL_OPEN_CREATE) && !log->readonly)
        rc = make_dir(dir, log->mode);
    if (rc == 0) {
        log->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (log->dirfd < 0)
            rc = rw_err_sys(errno, 1, "%s: open directory", dir);
    }
    struct stat st;
    if (rc == 0 && fstat(log->dirfd, &st) != 0)
        rc = rw_err_sys(errno, 0, "%s: fstat", dir);
    if (rc == 0) {
        log->dev = st.st_dev;
        log->ino = st.st_ino;
        if (!log->readonly && !mode_given) /* keep the log's own (raftwal.h, file_mode) */
            log->mode = rw_log_mode(log->dirfd, log->mode);
        if (!log->readonly)
            rc = rw_lock_acquire(log);
    }
    rw_listing seen = {NULL, 0, 0};
    if (rc == 0)
        rc = check_key_given(log, opts);
    if (rc == 0)
        rc = recover(log, opts, log->readonly ? &seen : NULL);
    if (rc == 0 && (log->flags & RAFTWAL_OPEN_VERIFY))
        rc = rw_check_sealed_all(log);
    *changed = rc && log->readonly && seen.known && writer_may_explain(rc) &&
               listing_changed(log, &seen);
    free(seen.seqs);
    if (rc) {
        free_log(log);
        rw_log_unref(log);
        *out = NULL;
        return rc;
    }
    if (log->readonly) {
        log->durable_index = log->last;
    } else {
        rw_prepare_start(log);
        rw_log_maybe_prepare(log, log->segs[log->nsegs - 1]);
    }
    log->stats.open_ns = rw_now_ns() - t0;
    *out = log;
    return 0;
}

int rw_log_open(raftwal_log **out, const char *dir, const raftwal_options *opts)
{
    char last[1024] = "";
    for (int attempt = 1;; attempt++) {
        int changed = 0;
        int rc = open_once(out, dir, opts, &changed);
        if (rc == 0 || !(opts && (opts->flags & RAFTWAL_OPEN_READONLY)))
            return rc;
        /* The writer also appends to the tail while it is scanned: the scan
         * may read a later batch and miss an earlier one (zeros, then a
         * batch proving them durable), or the like. Such damage is never
         * seen twice alike; real damage is, the second time. */
        int moved = (rc == RAFTWAL_ECORRUPT || rc == RAFTWAL_EVERSION) &&
                    strcmp(raftwal_errmsg(), last) != 0;
        if (!changed && !moved)
            return rc;
        snprintf(last, sizeof last, "%s", raftwal_errmsg());
        if (attempt == RW_RO_OPEN_ATTEMPTS)
            return rw_err(RAFTWAL_ECOMPACTED, "%s: the log changed under the reader: a writer "
                          "changed it during each of %d attempts to open it (the last said: %s); "
                          "try again", dir, attempt, last);
    }
}

int rw_log_close(raftwal_log *log)
{
    int rc = 0;
    /* A handle an iterator keeps alive may be closed twice: the second
     * close finds its segment table gone and must touch nothing. */
    if (atomic_exchange(&log->closed, 1))
        return rw_err(RAFTWAL_ECLOSED, "%s: the log is already closed", log->path);
    if (!log->readonly && !atomic_load(&log->failed))
        rc = rw_sync_all(log);
    pthread_mutex_lock(&log->wmu);
    pthread_rwlock_wrlock(&log->rw);
    free_log(log);
    pthread_rwlock_unlock(&log->rw);
    pthread_mutex_unlock(&log->wmu);
    rw_log_unref(log);
    return rc;
}
