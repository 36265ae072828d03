/* segment.c -- a segment file's life: prepare, activate, seal, map, load the
 * footer. Scanning records lives in segment_scan.c. */
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "io.h"

#define ZERO_CHUNK (1u << 20)

rw_seg *rw_seg_new(int dirfd, uint64_t seq)
{
    rw_seg *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->seq = seq;
    s->version = RW_FORMAT_VERSION;
    s->fd = -1;
    s->rfd = -1;
    s->dirfd = dirfd;
    s->trunc_min = UINT64_MAX;
    snprintf(s->name, sizeof s->name, "%016" PRIx64 ".wal", seq);
    pthread_mutex_init(&s->mu, NULL);
    atomic_init(&s->mapping, NULL);
    atomic_init(&s->footer_loaded, 0);
    atomic_init(&s->probed, 0);
    atomic_init(&s->refs, 1);
    return s;
}

void rw_seg_ref(rw_seg *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void rw_seg_unref(rw_seg *s)
{
    if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    rw_mapping *m = atomic_load(&s->mapping);
    while (m) {
        rw_mapping *older = m->older;
        rw_io->munmap((void *)(uintptr_t)m->addr, m->len); /* we own this mapping */
        free(m);
        m = older;
    }
    if (s->fd >= 0)
        rw_io->close(s->fd);
    if (s->rfd >= 0) {
        rw_io->close(s->rfd); /* releases the reader's lock */
        /* The handle's memory outlives its segments: an iterator unrefs
         * its segment before the handle. */
        if (s->reader_fds)
            atomic_fetch_sub(&s->reader_fds->open, 1);
    }
    pthread_mutex_destroy(&s->mu);
    free(s->offsets);
    free(s->epochs);
    free(s);
}

uint64_t rw_seg_salt_at(const rw_seg *s, uint64_t off)
{
    size_t lo = 0, hi = s->nepochs;
    if (hi == 0)
        return s->salt;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->epochs[mid].off <= off)
            lo = mid;
        else
            hi = mid;
    }
    return s->epochs[lo].salt;
}

int rw_seg_add_epoch(rw_seg *s, uint64_t off, uint64_t salt)
{
    if (s->nepochs == s->epochs_cap) {
        size_t cap = s->epochs_cap ? s->epochs_cap * 2 : 4;
        rw_epoch *e = realloc(s->epochs, cap * sizeof *e);
        if (!e)
            return rw_err(RAFTWAL_ENOMEM, "out of memory for segment epochs");
        s->epochs = e;
        s->epochs_cap = cap;
    }
    s->epochs[s->nepochs].off = off;
    s->epochs[s->nepochs].salt = salt;
    s->nepochs++;
    return 0;
}

int rw_seg_push_offset(rw_seg *s, uint64_t index, uint64_t off)
{
    if (off > UINT32_MAX) /* the footer's offsets are u32 (docs/format.md, 3) */
        return rw_err(RAFTWAL_ECORRUPT, "%s: offset %" PRIu64 ": entry %" PRIu64 " lies beyond "
                      "the 4 GiB a segment can index", s->name, off, index);
    if (s->count == 0)
        s->first = index;
    if (s->count == s->offsets_cap) {
        size_t cap = s->offsets_cap ? s->offsets_cap * 2 : 256;
        uint32_t *o = realloc(s->offsets, cap * sizeof *o);
        if (!o)
            return rw_err(RAFTWAL_ENOMEM, "out of memory for the entry index");
        s->offsets = o;
        s->offsets_cap = cap;
    }
    s->offsets[s->count++] = (uint32_t)off;
    return 0;
}

void rw_seg_clip(rw_seg *s, uint64_t from)
{
    if (s->count == 0 || from >= s->first + s->count)
        return;
    if (from <= s->first) {
        /* Keep `first` ordered across segments so lookups can bisect. */
        s->count = 0;
        s->first = from;
        return;
    }
    s->count = from - s->first;
}

static int write_zeros(int fd, uint64_t size, const char *name, atomic_int *cancel)
{
    void *zeros = calloc(1, ZERO_CHUNK);
    if (!zeros)
        return rw_err(RAFTWAL_ENOMEM, "out of memory");
    int rc = 0;
    for (uint64_t off = 0; off < size && rc == 0; off += ZERO_CHUNK) {
        if (cancel && atomic_load(cancel)) {
            rc = rw_err(RAFTWAL_EIO, "%s: preparation cancelled", name);
            break;
        }
        uint64_t n = size - off < ZERO_CHUNK ? size - off : ZERO_CHUNK;
        int e = rw_pwrite_all(fd, zeros, (size_t)n, off);
        if (e)
            rc = rw_err_sys(-e, 0, "%s: preallocating %" PRIu64 " bytes", name, size);
    }
    free(zeros);
    return rc;
}

void rw_spare_name(char out[24], uint64_t seq)
{
    snprintf(out, 24, "%016" PRIx64 RW_SPARE_SUFFIX, seq);
}

static int check_cancel(atomic_int *cancel, const char *name);

/* A spare keeps the mode of the segment it was, which may be wider than
 * this open's `mode` (a log reopened with a narrower file_mode, or files
 * of a version that made them 0644): narrows it to its bits within `mode`,
 * never widens it. 0, or -1 if the mode could not be changed (a file this
 * user does not own): the spare is not reused then. */
static int narrow_spare_mode(int fd, const struct stat *st, mode_t mode)
{
    mode_t have = st->st_mode & 07777;
    if ((have & ~mode) == 0)
        return 0;
    return fchmod(fd, have & mode & 0777);
}

/* Opens the file a new segment is built in: a spare (recycled: extended to
 * `size` if shorter, old bytes left in place) or a fresh zero-filled
 * temporary file (sparse: only extended, it reads as zeros). *built is the
 * name it has now; *len its length; *recycled whether it is the spare. */
static int open_build_file(int dirfd, const char *spare, const char *tmp, uint64_t size,
                           mode_t mode, atomic_int *cancel, int sparse, int *fd_out,
                           const char **built, uint64_t *len, int *recycled)
{
    *len = size;
    *recycled = 0;
    int fd;
    if (spare) {
        *built = spare;
        fd = rw_io->openat(dirfd, spare, O_RDWR, 0);
        if (fd < 0)
            return rw_err_sys(errno, 0, "%s: open for reuse", spare);
        *fd_out = fd;
        struct stat st;
        if (rw_io->fstat(fd, &st) != 0)
            return rw_err_sys(errno, 0, "%s: fstat", spare);
        /* A spare never holds fewer bytes than a segment (see
         * log.c:remove_purged_file), unless the segment size grew since. A
         * longer one (a batch grew it) keeps its length: a read-only handle
         * of another process may still map the purged segment past `size`,
         * and cutting the file would turn its next read there into SIGBUS.
         * The writer fills it only up to the configured size (log.c,
         * seg_capacity); the rest is stale bytes until the SEAL. */
        uint64_t have = (uint64_t)st.st_size;
        /* Held until rw_seg_prepare has written the new header: see
         * "Readers and recycling". A reader's lock: the file stays theirs. */
        int held = rw_file_lock(fd, 1) != 0;
        int wide = !held && narrow_spare_mode(fd, &st, mode) != 0;
        if (!held && !wide && have <= RW_SPARE_MAX_SEGMENTS * size) {
            if (have < size && rw_io->ftruncate(fd, (off_t)size) != 0)
                return rw_err_sys(errno, 0, "%s: extend to %" PRIu64 " bytes", spare, size);
            *len = have > size ? have : size;
            *recycled = 1;
            return 0;
        }
        /* Mapped by a reader, wider than `mode` and not ours to narrow, or
         * longer than RW_SPARE_MAX_SEGMENTS (kept by an older version, or
         * before the segment size was lowered):
         * every scan of the segment would be that long. A new file is
         * built instead; an unlinked file stays valid for its mappings. */
        rw_io->close(fd);
        *fd_out = -1;
        if (rw_io->unlinkat(dirfd, spare, 0) != 0)
            return rw_err_sys(errno, 0, "%s: unlink a spare %s", spare,
                              held ? "a reader maps" : wide ? "too widely readable" :
                              "too long to reuse");
    }
    *built = tmp;
    fd = rw_io->openat(dirfd, tmp, O_RDWR | O_CREAT | O_TRUNC, mode);
    if (fd < 0)
        return rw_err_sys(errno, 0, "%s: create", tmp);
    *fd_out = fd;
    if (cancel && atomic_load(cancel))
        return rw_err(RAFTWAL_EIO, "%s: preparation cancelled", tmp);
    if (sparse) {
        if (rw_io->ftruncate(fd, (off_t)size) != 0)
            return rw_err_sys(errno, 0, "%s: extend to %" PRIu64 " bytes", tmp, size);
        return 0;
    }
    return write_zeros(fd, size, tmp, cancel);
}

/* The preparer was told to stop (the log closes, or its handle failed):
 * no further write, sync or rename. */
static int check_cancel(atomic_int *cancel, const char *name)
{
    if (cancel && atomic_load(cancel))
        return rw_err(RAFTWAL_EIO, "%s: preparation cancelled", name);
    return 0;
}

int rw_seg_prepare(int dirfd, uint64_t seq, uint64_t log_id, uint64_t size,
                   mode_t mode, atomic_int *cancel, const char *spare, int sparse,
                   rw_seg **out)
{
    rw_seg *s = rw_seg_new(dirfd, seq);
    if (!s) {
        if (spare)
            rw_io->unlinkat(dirfd, spare, 0);
        return rw_err(RAFTWAL_ENOMEM, "out of memory");
    }
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%s.tmp", s->name);
    const char *built = NULL;
    uint64_t len;
    int recycled;
    int rc = check_cancel(cancel, tmp);
    if (rc) { /* nothing touched: a spare stays one */
        rw_seg_unref(s);
        *out = NULL;
        return rc;
    }
    rc = open_build_file(dirfd, spare, tmp, size, mode, cancel, sparse, &s->fd, &built, &len,
                         &recycled);
    if (rc)
        goto fail_unlink;
    /* A fresh salt: records of the file's earlier life can never validate. */
    rw_seg_header h = {RW_FORMAT_VERSION, log_id, seq, rw_random64(), 0, len,
                       recycled ? RW_HDR_F_RECYCLED : 0};
    uint8_t hdr[RW_HEADER_SIZE];
    rw_header_encode(hdr, &h);
    if ((rc = check_cancel(cancel, built)) != 0)
        goto fail_unlink;
    int e = rw_pwrite_all(s->fd, hdr, sizeof hdr, 0);
    if (e) {
        rc = rw_err_sys(-e, 0, "%s: write header", built);
        goto fail_unlink;
    }
    if (recycled)
        rw_file_unlock(s->fd); /* a reader that locks it now sees the new header */
    if ((rc = check_cancel(cancel, built)) != 0)
        goto fail_unlink;
    if (rw_io->fdatasync(s->fd) != 0) {
        rc = rw_err_sys(errno, 0, "%s: fdatasync", built);
        goto fail_unlink;
    }
    if ((rc = check_cancel(cancel, built)) != 0)
        goto fail_unlink;
    if (rw_io->renameat(dirfd, built, s->name) != 0) {
        rc = rw_err_sys(errno, 0, "rename %s to %s", built, s->name);
        goto fail_unlink;
    }
    if (cancel && atomic_load(cancel)) {
        /* In place, its name maybe not durable: a prepared segment that an
         * open adopts if it finds it, and then makes durable with a
         * directory fsync before using it (log_open.c, adopt_prepared). No
         * fsync or unlink here: a failed handle starts no new one. */
        rc = check_cancel(cancel, s->name);
        rw_seg_unref(s);
        *out = NULL;
        return rc;
    }
    if (rw_io->fsync(dirfd) != 0) {
        /* The file is in place but its name may not be durable; the caller
         * fails the handle. */
        rc = rw_err_sys(errno, 0, "fsync of the log directory after creating %s", s->name);
        *out = s;
        return rc;
    }
    s->salt = h.salt;
    s->file_size = len;
    s->recycled = recycled;
    *out = s;
    return 0;
fail_unlink:
    if (built || spare)
        rw_io->unlinkat(dirfd, built ? built : spare, 0);
    rw_seg_unref(s);
    *out = NULL;
    return rc;
}

int rw_seg_activate(rw_seg *s, uint64_t log_id, uint64_t first_index,
                    const uint8_t *ckpt, size_t ckpt_len, uint64_t salt, int sync, int lazy)
{
    size_t len = RW_HEADER_SIZE + ckpt_len;
    uint8_t *buf = malloc(len);
    if (!buf)
        return rw_err(RAFTWAL_ENOMEM, "out of memory");
    rw_seg_header h = {s->version, log_id, s->seq, salt, first_index, s->file_size,
                       (s->recycled ? RW_HDR_F_RECYCLED : 0) |
                           (s->encrypted ? RW_HDR_F_ENCRYPTED : 0)};
    rw_header_encode(s->unlazy_hdr, &h);
    if (lazy)
        h.flags |= RW_HDR_F_LAZY;
    rw_header_encode(buf, &h);
    memcpy(buf + RW_HEADER_SIZE, ckpt, ckpt_len);
    int rc = 0;
    int e = rw_pwrite_all(s->fd, buf, len, 0);
    free(buf);
    if (e)
        return rw_err_sys(-e, 0, "%s: write header and checkpoint", s->name);
    if (sync && rw_io->fdatasync(s->fd) != 0)
        return rw_err_sys(errno, 0, "%s: fdatasync after activation", s->name);
    s->salt = salt;
    s->base = first_index;
    s->lazy = lazy;
    s->used = len;
    s->ckpt_end = len;
    s->first = first_index;
    s->count = 0;
    s->trunc_min = UINT64_MAX;
    s->nepochs = 0;
    rc = rw_seg_add_epoch(s, RW_HEADER_SIZE, salt);
    atomic_store_explicit(&s->probed, 1, memory_order_release); /* we wrote it */
    return rc;
}

int rw_seg_clear_lazy(rw_seg *s)
{
    int e = rw_pwrite_all(s->fd, s->unlazy_hdr, RW_HEADER_SIZE, 0);
    if (e)
        return rw_err_sys(-e, 0, "%s: rewrite the header without the lazy flag", s->name);
    s->lazy = 0;
    return 0;
}

int rw_seg_write_seal(rw_seg *s, uint64_t purge, uint64_t *new_size)
{
    size_t footer_len = (size_t)s->count * 4 + s->nepochs * 16;
    size_t footer_size = rw_rec_size(footer_len);
    uint8_t *payload = malloc(footer_len ? footer_len : 1);
    uint8_t *rec = malloc(footer_size);
    int rc = 0;
    if (!payload || !rec) {
        rc = rw_err(RAFTWAL_ENOMEM, "out of memory for a segment footer");
        goto out;
    }
    if (s->count)
        memcpy(payload, s->offsets, (size_t)s->count * 4);
    for (size_t i = 0; i < s->nepochs; i++) {
        rw_put64(payload + s->count * 4 + i * 16, s->epochs[i].off);
        rw_put64(payload + s->count * 4 + i * 16 + 8, s->epochs[i].salt);
    }
    rw_rec_encode(rec, s->salt, RW_REC_FOOTER, (uint32_t)s->nepochs, s->first, s->count,
                  payload, (uint32_t)footer_len);
    uint64_t footer_off = s->used;
    uint64_t seal_off = s->file_size - RW_SEAL_SIZE;
    if (s->file_size < RW_SEAL_SIZE || footer_off + footer_size > seal_off)
        seal_off = footer_off + footer_size; /* oversized: the file grows */
    rw_seal seal = {s->first, s->count, footer_off, s->trunc_min, purge};
    uint8_t sealrec[RW_SEAL_SIZE];
    rw_seal_encode(sealrec, s->salt, &seal);
    int e = rw_pwrite_all(s->fd, rec, footer_size, footer_off);
    if (!e)
        e = rw_pwrite_all(s->fd, sealrec, RW_SEAL_SIZE, seal_off);
    if (e) {
        rc = rw_err_sys(-e, 0, "%s: write footer", s->name);
        goto out;
    }
    s->seal = seal;
    *new_size = seal_off + RW_SEAL_SIZE; /* readers see it once published */
out:
    free(payload);
    free(rec);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Readers and recycling                                                  */
/* ---------------------------------------------------------------------- */

/* The writer reuses a purged segment's file: renamed to *.spare at the
 * purge (log.c, remove_purged_file), then rewritten in place as a new
 * segment (open_build_file, rw_seg_prepare). A read-only handle, maybe in
 * another process, that maps the file must never see its bytes change: a
 * zero-copy view stays valid and unchanged until released. The protocol
 * uses open-file-description locks (io.c, rw_file_lock), which conflict
 * between any two opens of the file, in any processes:
 *
 *   reader (open_for_reader, before the first map or probe of a segment):
 *     R1 open the file by its segment name; ENOENT: it was purged;
 *     R2 take a shared lock, never waiting; held (by the writer): purged
 *        (where locks fail otherwise, read on: the writer's fail too, and
 *        it takes a failed lock as "held");
 *     R3 read the header through that open: it must still be this
 *        segment's (sequence; salt, once known). A recycled file has a
 *        new header (a later sequence, the recycled flag): purged; any
 *        other header is damage (ECORRUPT, as the probe says);
 *     R4 map through it; the open and its lock stay until the segment
 *        object is freed (the last view released, the handle closed).
 *   writer:
 *     W1 at the purge, before the rename to *.spare: try an exclusive
 *        lock on the file; held by a reader: delete the file instead
 *        (its mappings stay valid: an unlinked file lives on);
 *     W2 before the spare is rewritten: try the exclusive lock again;
 *        held: delete it and build a new file. Else keep the lock until
 *        the new header is written, then release it.
 *
 * Races: a reader that opened the name before the rename and locks after
 * W1 still finds the old header (R3 passes) and holds its lock before W2,
 * which then fails and deletes the file. A reader that locks during W2
 * finds the lock held (R2); after W2 it finds the new header (R3). So a
 * reader maps only a file whose header is its segment's and that the
 * writer cannot rewrite until the reader closes it. Readers get
 * RAFTWAL_ECOMPACTED in every "purged" case above. The writer's own views
 * (iterators of its handle) are covered by reference counts instead (a
 * writable handle takes no locks: its own shared lock would block W1/W2).
 * Costs: a read-only handle holds one descriptor per segment it has read
 * and not yet let go of, and files it holds are not recycled. It lets go
 * of segments no view points into (rw_seg_unmap_idle) once it holds more
 * than a bound, or when an open fails for want of descriptors (log_read.c,
 * release_reader_fds); a later read of such a segment runs R1-R4 again
 * (and finds it purged if the writer has reused the file meanwhile). */

static int gone(rw_seg *s, const char *why)
{
    return rw_err(RAFTWAL_ECOMPACTED, "%s: the segment was purged by the writer (%s)", s->name, why);
}

/* R1-R3 for a read-only handle's segment (s->mu held, or before the
 * segment is shared). */
static int open_for_reader(rw_seg *s)
{
    if (s->rfd >= 0)
        return 0;
    int fd = rw_io->openat(s->dirfd, s->name, O_RDONLY, 0);
    if (fd < 0 && (errno == EMFILE || errno == ENFILE) && s->reader_fds)
        atomic_store(&s->reader_fds->exhausted, 1); /* the caller lets go of idle ones */
    if (fd < 0)
        return errno == ENOENT ? gone(s, "its file is gone")
                               : rw_err_sys(errno, 0, "%s: open for reading", s->name);
    /* Any other failure (a file system without OFD locks: EINVAL, ENOLCK)
     * reads on unlocked: the writer cannot lock there either, and a file it
     * cannot lock it never reuses (W1, W2 take a failure as "held"). */
    int e = rw_file_lock(fd, 0);
    if (e == -EAGAIN) {
        rw_io->close(fd);
        return gone(s, "its file is being reused");
    }
    uint8_t hdr[RW_HEADER_SIZE];
    rw_seg_header h;
    e = rw_pread_all(fd, hdr, sizeof hdr, 0);
    int status = e ? RW_HDR_SHORT : rw_header_decode(hdr, sizeof hdr, &h);
    /* Reuse gives a file a later sequence and the recycled flag; any
     * other header change is damage, reported as the probe would. */
    if (status == RW_HDR_OK && h.seq > s->seq && (h.flags & RW_HDR_F_RECYCLED)) {
        rw_io->close(fd);
        return gone(s, "its file was reused for another segment");
    }
    if (status == RW_HDR_OK && (h.seq != s->seq || (s->salt && h.salt != s->salt))) {
        rw_io->close(fd);
        return rw_err(RAFTWAL_ECORRUPT, "%s: offset 24: header says sequence %" PRIu64
                      " salt %016" PRIx64 " (a copied or renamed segment)", s->name, h.seq, h.salt);
    }
    /* A bad header is reported by the probe or scan that reads it. */
    s->rfd = fd;
    if (s->reader_fds)
        atomic_fetch_add(&s->reader_fds->open, 1);
    return 0;
}

/* W1. */
int rw_seg_file_held(int dirfd, const char *name)
{
    int fd = rw_io->openat(dirfd, name, O_RDWR, 0);
    if (fd < 0)
        return 1;
    int held = rw_file_lock(fd, 1) != 0;
    rw_io->close(fd); /* releases the lock */
    return held;
}

int rw_seg_map(rw_seg *s, uint64_t need, const rw_mapping **out)
{
    rw_mapping *m = atomic_load_explicit(&s->mapping, memory_order_acquire);
    if (m && m->len >= need) {
        *out = m;
        return 0;
    }
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    m = atomic_load_explicit(&s->mapping, memory_order_acquire);
    if (m && m->len >= need) {
        *out = m;
        goto out;
    }
    int fd;
    if (s->reader_lock) {
        if ((rc = open_for_reader(s)) != 0)
            goto out;
        fd = s->rfd; /* every mapping of the segment: the same locked file */
    } else if ((fd = rw_io->openat(s->dirfd, s->name, O_RDONLY, 0)) < 0) {
        rc = rw_err_sys(errno, 0, "%s: open for reading", s->name);
        goto out;
    }
    struct stat st;
    if (rw_io->fstat(fd, &st) != 0) {
        rc = rw_err_sys(errno, 0, "%s: fstat", s->name);
        if (fd != s->rfd)
            rw_io->close(fd);
        goto out;
    }
    if ((uint64_t)st.st_size < need || st.st_size == 0) {
        rc = rw_err(RAFTWAL_ECORRUPT, "%s: file is %lld bytes, expected at least %" PRIu64,
                    s->name, (long long)st.st_size, need);
        if (fd != s->rfd)
            rw_io->close(fd);
        goto out;
    }
    rw_mapping *nm = calloc(1, sizeof *nm);
    void *addr = nm ? rw_io->mmap((size_t)st.st_size, fd) : NULL;
    int err = errno;
    if (fd != s->rfd)
        rw_io->close(fd);
    if (!addr) {
        free(nm);
        rc = nm ? rw_err_sys(err, 0, "%s: mmap", s->name) : rw_err(RAFTWAL_ENOMEM, "out of memory");
        goto out;
    }
    nm->addr = addr;
    nm->len = (size_t)st.st_size;
    nm->older = m;
    atomic_store_explicit(&s->mapping, nm, memory_order_release);
    *out = nm;
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void rw_seg_unmap_idle(rw_seg *s)
{
    if (!s->reader_lock || atomic_load(&s->refs) != 1)
        return;
    pthread_mutex_lock(&s->mu);
    rw_mapping *m = atomic_exchange(&s->mapping, NULL);
    while (m) {
        rw_mapping *older = m->older;
        rw_io->munmap((void *)(uintptr_t)m->addr, m->len);
        free(m);
        m = older;
    }
    if (s->rfd >= 0) {
        rw_io->close(s->rfd); /* releases the reader's lock */
        if (s->reader_fds)
            atomic_fetch_sub(&s->reader_fds->open, 1);
    }
    s->rfd = -1;
    pthread_mutex_unlock(&s->mu);
}

static int footer_corrupt(rw_seg *s, uint64_t off, const char *why)
{
    return rw_err(RAFTWAL_ECORRUPT, "%s: offset %" PRIu64 ": index footer: %s", s->name, off, why);
}

/* Decodes and checks the footer of a sealed segment against its SEAL. */
static int parse_footer(rw_seg *s, const rw_mapping *m)
{
    uint64_t off = s->seal.footer_off;
    rw_rec r;
    const char *why = NULL;
    if (rw_rec_decode(m->addr + off, m->len - off, s->salt, &r, &why) != RW_REC_OK)
        return footer_corrupt(s, off, why ? why : "missing");
    if (r.type != RW_REC_FOOTER || r.a != s->seal.first || r.b != s->seal.count)
        return footer_corrupt(s, off, "does not match the segment's seal");
    if ((uint64_t)r.len != r.b * 4 + (uint64_t)r.aux * 16 || r.aux == 0)
        return footer_corrupt(s, off, "length does not match its counts");
    uint32_t *offsets = malloc(r.b ? r.b * 4 : 1);
    rw_epoch *epochs = malloc(r.aux * sizeof *epochs);
    if (!offsets || !epochs) {
        free(offsets);
        free(epochs);
        return rw_err(RAFTWAL_ENOMEM, "out of memory for a segment footer");
    }
    uint64_t prev = 0;
    for (uint64_t i = 0; i < r.b; i++) {
        uint32_t o = rw_get32(r.payload + i * 4);
        if (o < RW_HEADER_SIZE || (o & 7) || o + (uint64_t)RW_REC_HEADER > off || o <= prev) {
            free(offsets);
            free(epochs);
            return footer_corrupt(s, off, "entry offset out of range");
        }
        offsets[i] = o;
        prev = o;
    }
    for (uint32_t i = 0; i < r.aux; i++) {
        const uint8_t *p = r.payload + r.b * 4 + i * 16;
        epochs[i].off = rw_get64(p);
        epochs[i].salt = rw_get64(p + 8);
        if (epochs[i].salt == 0 || epochs[i].off > off || (i == 0 && epochs[i].off != RW_HEADER_SIZE) ||
            (i > 0 && epochs[i].off <= epochs[i - 1].off)) {
            free(offsets);
            free(epochs);
            return footer_corrupt(s, off, "epoch table invalid");
        }
    }
    free(s->offsets);
    free(s->epochs);
    s->offsets = offsets;
    s->offsets_cap = r.b;
    s->epochs = epochs;
    s->nepochs = s->epochs_cap = r.aux;
    return 0;
}

int rw_seg_load_footer(rw_seg *s, int *loaded)
{
    *loaded = 0;
    if (atomic_load_explicit(&s->footer_loaded, memory_order_acquire))
        return 0;
    const rw_mapping *m;
    int rc = rw_seg_map(s, s->file_size, &m);
    if (rc)
        return rc;
    pthread_mutex_lock(&s->mu);
    if (!atomic_load_explicit(&s->footer_loaded, memory_order_relaxed)) {
        rc = parse_footer(s, m);
        if (rc == 0) {
            atomic_store_explicit(&s->footer_loaded, 1, memory_order_release);
            *loaded = 1;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static int header_error(rw_seg *s, int status)
{
    int code = status == RW_HDR_VERSION ? RAFTWAL_EVERSION : RAFTWAL_ECORRUPT;
    return rw_err(code, "%s: offset 0: %s", s->name, rw_header_status_str(status));
}

int rw_seg_probe(rw_seg *s, uint64_t *log_id)
{
    int fd = s->rfd >= 0 ? s->rfd : rw_io->openat(s->dirfd, s->name, O_RDONLY, 0);
    if (fd < 0)
        return rw_err_sys(errno, 0, "%s: open", s->name);
    int rc = 0;
    struct stat st;
    uint8_t hdr[RW_HEADER_SIZE];
    if (rw_io->fstat(fd, &st) != 0) {
        rc = rw_err_sys(errno, 0, "%s: fstat", s->name);
        goto out;
    }
    s->file_size = (uint64_t)st.st_size;
    if (s->file_size < RW_HEADER_SIZE) {
        rc = header_error(s, RW_HDR_SHORT);
        goto out;
    }
    int e = rw_pread_all(fd, hdr, sizeof hdr, 0);
    if (e) {
        rc = rw_err_sys(-e, 0, "%s: read header", s->name);
        goto out;
    }
    rw_seg_header h;
    int status = rw_header_decode(hdr, sizeof hdr, &h);
    if (status != RW_HDR_OK) {
        rc = header_error(s, status);
        goto out;
    }
    if (h.seq != s->seq) {
        rc = rw_err(RAFTWAL_ECORRUPT, "%s: offset 24: header says sequence %" PRIu64
                    " (a copied or renamed segment)", s->name, h.seq);
        goto out;
    }
    s->salt = h.salt;
    s->base = h.first_index;
    s->version = h.version;
    s->encrypted = (h.flags & RW_HDR_F_ENCRYPTED) != 0;
    s->recycled = (h.flags & RW_HDR_F_RECYCLED) != 0;
    s->lazy = (h.flags & RW_HDR_F_LAZY) != 0;
    if (s->lazy) {
        h.flags &= ~RW_HDR_F_LAZY;
        rw_header_encode(s->unlazy_hdr, &h);
    }
    *log_id = h.log_id;
    s->sealed = 0;
    if (h.first_index == 0 || s->file_size < RW_HEADER_SIZE + RW_SEAL_SIZE * 2)
        goto out;
    uint8_t sealrec[RW_SEAL_SIZE];
    e = rw_pread_all(fd, sealrec, sizeof sealrec, s->file_size - RW_SEAL_SIZE);
    if (e) {
        rc = rw_err_sys(-e, 0, "%s: read seal", s->name);
        goto out;
    }
    rw_seal seal;
    if (rw_seal_decode(sealrec, s->salt, &seal) != 0)
        goto out; /* not sealed */
    uint64_t seal_off = s->file_size - RW_SEAL_SIZE;
    if (seal.footer_off < RW_HEADER_SIZE || (seal.footer_off & 7) ||
        seal.footer_off > seal_off - RW_REC_HEADER || /* not footer_off + 32: it may wrap */
        seal.count > (seal_off - RW_HEADER_SIZE) / RW_REC_HEADER ||
        (seal.count && seal.first == 0)) {
        rc = rw_err(RAFTWAL_ECORRUPT, "%s: offset %" PRIu64 ": seal fields out of range",
                    s->name, seal_off);
        goto out;
    }
    s->seal = seal;
    s->sealed = 1;
    s->first = seal.first;
    s->count = seal.count;
    s->used = seal.footer_off;
    s->trunc_min = seal.trunc_from;
out:
    if (fd != s->rfd)
        rw_io->close(fd);
    return rc;
}

int rw_seg_ensure_probed(rw_seg *s, uint64_t log_id)
{
    if (atomic_load_explicit(&s->probed, memory_order_acquire))
        return 0;
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    if (atomic_load_explicit(&s->probed, memory_order_relaxed))
        goto out;
    /* A reader probes the file it will map, locked (R1-R3). */
    if (s->reader_lock && (rc = open_for_reader(s)) != 0)
        goto out;
    rw_seg *p = rw_seg_new(s->dirfd, s->seq);
    if (!p) {
        rc = rw_err(RAFTWAL_ENOMEM, "out of memory");
        goto out;
    }
    uint64_t id = 0;
    p->rfd = s->rfd; /* borrowed */
    rc = rw_seg_probe(p, &id);
    p->rfd = -1;
    if (rc == 0 && id != log_id)
        rc = rw_err(RAFTWAL_ECORRUPT, "%s: offset 16: the segment belongs to another log", s->name);
    else if (rc == 0 && (!p->base || !p->sealed))
        rc = rw_err(RAFTWAL_ECORRUPT, "%s: offset %" PRIu64 ": the segment is not sealed but later "
                    "segments exist", s->name, p->file_size >= RW_SEAL_SIZE ? p->file_size - RW_SEAL_SIZE : 0);
    else if (rc == 0 && (p->seal.count < s->t_count || (s->t_count && p->seal.first != s->t_first)))
        rc = rw_err(RAFTWAL_ECORRUPT, "%s: offset %" PRIu64 ": the seal does not match the range "
                    "the log recorded for this segment", s->name, p->file_size - RW_SEAL_SIZE);
    if (rc == 0) {
        s->salt = p->salt;
        s->base = p->base;
        s->version = p->version;
        s->file_size = p->file_size;
        s->seal = p->seal;
        s->used = p->seal.footer_off;
        s->trunc_min = p->seal.trunc_from;
        atomic_store_explicit(&s->probed, 1, memory_order_release);
    }
    rw_seg_unref(p);
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}
