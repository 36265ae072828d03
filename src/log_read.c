/* log_read.c -- finding entries, reading them zero-copy, iterators. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "codec.h"
#include "error.h"
#include "log.h"

/* The segment holding live entry `index` (rw held), or NULL. Segments'
 * `first` never decreases from one segment to the next, so bisect on it,
 * then step back over segments emptied by truncations. */
static rw_seg *find_seg(raftwal_log *log, uint64_t index)
{
    size_t lo = 0, hi = log->nsegs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (log->segs[mid]->first <= index)
            lo = mid + 1;
        else
            hi = mid;
    }
    while (lo-- > 0) {
        rw_seg *s = log->segs[lo];
        if (s->count && index >= s->first)
            return index - s->first < s->count ? s : NULL;
    }
    return NULL;
}

static int bounds_error(raftwal_log *log, uint64_t index)
{
    if (index < log->first)
        return rw_err(RAFTWAL_ECOMPACTED, "index %" PRIu64 " is compacted: the log starts at %" PRIu64,
                      index, log->first);
    return rw_err(RAFTWAL_EUNAVAILABLE, "index %" PRIu64 " is unavailable: the last index is %" PRIu64,
                  index, log->last);
}

/* Locates and decodes entry `index` (rw held). With verify, the record's
 * checksum is checked too. */
static int locate(raftwal_log *log, uint64_t index, int verify, rw_seg **seg_out, rw_rec *rec,
                  uint64_t *off_out, uint64_t *salt_out)
{
    if (index < log->first || index > log->last)
        return bounds_error(log, index);
    rw_seg *s = find_seg(log, index);
    if (!s)
        return rw_err(RAFTWAL_ECORRUPT, "%s: index %" PRIu64 " is in no segment", log->path, index);
    if (s->sealed) {
        int loaded = 0;
        int rc = rw_seg_ensure_probed(s, log->log_id);
        if (rc == 0)
            rc = rw_seg_load_footer(s, &loaded);
        if (rc)
            return rc;
        atomic_fetch_add(loaded ? &log->stats.footer_loads : &log->stats.footer_hits, 1);
    }
    if (s->reader_fds) /* which segments were read least recently */
        atomic_store_explicit(&s->last_read, atomic_load_explicit(&log->stats.reads, memory_order_relaxed),
                              memory_order_relaxed);
    uint64_t off = s->offsets[index - s->first];
    const rw_mapping *m;
    int rc = rw_seg_map(s, off + RW_REC_HEADER, &m);
    if (rc)
        return rc;
    uint64_t len = rw_get32(m->addr + off + 8);
    if (len <= RAFTWAL_MAX_ENTRY_SIZE + RW_CODEC_MAX_EXTRA && off + RW_REC_HEADER + len > m->len) {
        rc = rw_seg_map(s, off + RW_REC_HEADER + len, &m);
        if (rc)
            return rc;
    }
    const uint8_t *p = m->addr + off;
    const char *why = "not an entry record";
    if (verify) {
        if (rw_rec_decode(p, m->len - off, rw_seg_salt_at(s, off), rec, &why) != RW_REC_OK)
            goto corrupt;
    } else {
        rec->type = p[4];
        rec->codec = p[5];
        rec->len = (uint32_t)len;
        rec->aux = rw_get32(p + 12);
        rec->a = rw_get64(p + 16);
        rec->b = rw_get64(p + 24);
        rec->payload = p + RW_REC_HEADER;
    }
    if (rec->type != RW_REC_ENTRY || rec->a != index) {
        why = "record is not the expected entry";
        goto corrupt;
    }
    if (verify && (rc = rw_codec_check_log(&log->codec, s->version, rec, &why)) != 0)
        return rw_err(rc, "%s: offset %" PRIu64 ": entry %" PRIu64 ": %s", s->name, off, index, why);
    *seg_out = s;
    *off_out = off;
    *salt_out = rw_seg_salt_at(s, off); /* under rw: the writer adds epochs */
    return 0;
corrupt:
    return rw_err(RAFTWAL_ECORRUPT, "%s: offset %" PRIu64 ": entry %" PRIu64 ": %s", s->name, off,
                  index, why);
}

int rw_log_term_locked(raftwal_log *log, uint64_t index, uint64_t *term)
{
    if (index == log->last && index == log->tail_term_index && index >= log->first) {
        *term = log->tail_term; /* the last entry, as its batch wrote it */
        return 0;
    }
    rw_seg *s;
    rw_rec rec;
    uint64_t off, salt;
    int rc = locate(log, index, 0, &s, &rec, &off, &salt);
    if (rc == 0)
        *term = rec.b;
    return rc;
}

/* ---------------------------------------------------------------------- */
/* A read-only handle's descriptors                                       */
/* ---------------------------------------------------------------------- */

/* A read-only handle keeps each segment it reads open and locked while it
 * is mapped (segment.c, "Readers and recycling"). So that it does not run
 * out of descriptors on a log of many segments, it keeps at most
 * reader_fd_bound of them: past that, and when an open fails with EMFILE,
 * it lets go of the segments no view points into (refs 1: only the table
 * holds them; an iterator's current entry or a get in progress holds
 * another), least recently read first, down to half the bound (all of
 * them after an EMFILE). A later read opens, locks and checks the file
 * anew. */

void rw_log_reader_fds_init(raftwal_log *log)
{
    struct rlimit rl;
    rlim_t bound = RW_READER_FDS_MAX;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur / 4 < bound)
        bound = rl.rlim_cur / 4;
    log->reader_fd_bound = bound < 2 ? 2 : (int)bound;
    atomic_init(&log->reader_fd_trim_at, log->reader_fd_bound);
}

static int older_read_first(const void *a, const void *b)
{
    uint64_t x = atomic_load_explicit(&(*(rw_seg *const *)a)->last_read, memory_order_relaxed);
    uint64_t y = atomic_load_explicit(&(*(rw_seg *const *)b)->last_read, memory_order_relaxed);
    return x < y ? -1 : x > y;
}

/* Under rw held for writing: no read is locating an entry, so a segment
 * with refs 1 has no view and gains none until rw is released. */
static void release_reader_fds(raftwal_log *log, int all)
{
    pthread_rwlock_wrlock(&log->rw);
    rw_seg **idle = log->nsegs && !atomic_load(&log->closed) ? malloc(log->nsegs * sizeof *idle) : NULL;
    size_t n = 0;
    for (size_t i = 0; idle && i < log->nsegs; i++) {
        rw_seg *s = log->segs[i];
        if (s->rfd >= 0 && atomic_load(&s->refs) == 1)
            idle[n++] = s;
    }
    if (!all && n > 1)
        qsort(idle, n, sizeof *idle, older_read_first);
    for (size_t i = 0; i < n; i++) {
        if (!all && atomic_load(&log->reader_fds.open) <= log->reader_fd_bound / 2)
            break;
        rw_seg_unmap_idle(idle[i]);
    }
    free(idle);
    /* Segments that views hold stay open: with many of them, wait for
     * half a bound more before looking again, not at every read. */
    int left = atomic_load(&log->reader_fds.open) + log->reader_fd_bound / 2;
    atomic_store(&log->reader_fd_trim_at, left > log->reader_fd_bound ? left : log->reader_fd_bound);
    pthread_rwlock_unlock(&log->rw);
}

void rw_log_reader_fds_check(raftwal_log *log)
{
    if (log->readonly && atomic_load_explicit(&log->reader_fds.open, memory_order_relaxed) >
                             atomic_load_explicit(&log->reader_fd_trim_at, memory_order_relaxed))
        release_reader_fds(log, 0);
}

/* A read that failed: 1 if it failed for want of descriptors and idle
 * segments were let go (try once more). */
static int released_after_emfile(raftwal_log *log, int rc)
{
    if (rc == 0 || !log->readonly || !atomic_exchange(&log->reader_fds.exhausted, 0))
        return 0;
    release_reader_fds(log, 1);
    return 1;
}

static int read_entry_once(raftwal_log *log, uint64_t index, rw_seg **seg, rw_rec *rec,
                           uint64_t *off, uint64_t *salt)
{
    pthread_rwlock_rdlock(&log->rw);
    /* Under rw: close empties the segment table under it, after setting
     * `closed`; an index in bounds would then be in no segment. */
    int rc = rw_log_check_usable(log);
    if (rc == 0)
        rc = locate(log, index, 1, seg, rec, off, salt);
    if (rc == 0)
        rw_seg_ref(*seg);
    pthread_rwlock_unlock(&log->rw);
    return rc;
}

/* The one place on the read path where stored bytes become an entry's
 * data (codec.h): outside rw, on the referenced segment, whose mappings
 * stay valid while it is referenced. */
static int decode_entry(const raftwal_log *log, rw_seg *s, uint64_t off, uint64_t salt,
                        rw_rec *rec, rw_entry_buf *db)
{
    db->stored_len = rec->len;
    db->codec = rec->codec;
    if (rw_codec_is_plain(rec))
        return 0;
    uint32_t size = rw_codec_data_size(rec);
    if (db->skip_above && size > db->limit) { /* the caller will not use it */
        rec->payload = NULL;
        rec->len = size;
        return 0;
    }
    if (size > db->cap) {
        if (!db->grow) { /* the caller reports the size it needs */
            rec->payload = NULL;
            rec->len = size;
            return 0;
        }
        uint8_t *p = realloc(db->buf, size);
        if (!p)
            return rw_err(RAFTWAL_ENOMEM, "out of memory for a %" PRIu32 "-byte entry", size);
        db->buf = p;
        db->cap = size;
    }
    const char *why;
    if (rw_codec_open_data(&log->codec, salt, off, rec, db->buf, db->cap, &why) != 0)
        return rw_err(RAFTWAL_ECORRUPT, "%s: offset %" PRIu64 ": entry %" PRIu64 ": %s", s->name,
                      off, rec->a, why);
    rec->payload = db->buf;
    rec->len = size;
    rec->codec = 0;
    return 0;
}

int rw_log_read_entry(raftwal_log *log, uint64_t index, rw_seg **seg, rw_rec *rec,
                      rw_entry_buf *db)
{
    uint64_t off = 0, salt = 0;
    int rc = read_entry_once(log, index, seg, rec, &off, &salt);
    if (released_after_emfile(log, rc))
        rc = read_entry_once(log, index, seg, rec, &off, &salt);
    rw_log_reader_fds_check(log);
    atomic_fetch_add(&log->stats.reads, 1);
    if (rc == 0 && (rc = decode_entry(log, *seg, off, salt, rec, db)) != 0)
        rw_seg_unref(*seg);
    return rc;
}

static int term_once(raftwal_log *log, uint64_t index, uint64_t *term)
{
    pthread_rwlock_rdlock(&log->rw);
    int rc = rw_log_check_usable(log); /* close may have emptied the segments since */
    if (rc) {
        /* nothing to read */
    } else if (index >= log->first && index <= log->last) {
        rc = rw_log_term_locked(log, index, term);
    } else if (index == log->snap_index && index) {
        *term = log->snap_term;
    } else if (index == 0 && log->purge == 0) {
        *term = 0;
    } else {
        rc = bounds_error(log, index);
    }
    pthread_rwlock_unlock(&log->rw);
    return rc;
}

int raftwal_log_term(raftwal_log *log, uint64_t index, uint64_t *term)
{
    if (!log || !term)
        return rw_err(RAFTWAL_EINVAL, "NULL argument");
    int rc = rw_log_check_usable(log);
    if (rc)
        return rc;
    rc = term_once(log, index, term);
    if (released_after_emfile(log, rc))
        rc = term_once(log, index, term);
    rw_log_reader_fds_check(log);
    atomic_fetch_add(&log->stats.reads, 1);
    return rw_api_return(rc);
}

int raftwal_log_get(raftwal_log *log, uint64_t index, raftwal_entry *out, void *buf, size_t buf_size)
{
    if (!log || !out || (!buf && buf_size))
        return rw_err(RAFTWAL_EINVAL, "NULL argument");
    int rc = rw_log_check_usable(log);
    if (rc)
        return rc;
    rw_seg *s;
    rw_rec rec;
    /* An encoded entry is decoded straight into buf when it fits. */
    rw_entry_buf db = {.buf = buf, .cap = buf_size};
    rc = rw_log_read_entry(log, index, &s, &rec, &db);
    if (rc)
        return rc;
    out->index = rec.a;
    out->term = rec.b;
    out->type = rec.aux;
    out->flags = 0;
    out->size = rec.len;
    if (buf_size < rec.len) {
        out->data = NULL;
        rc = rw_err(RAFTWAL_ERANGE, "entry %" PRIu64 " is %" PRIu32 " bytes; the buffer holds %zu",
                    index, rec.len, buf_size);
    } else {
        if (rec.len && rec.payload != buf)
            memcpy(buf, rec.payload, rec.len);
        out->data = buf;
    }
    rw_seg_unref(s);
    return rw_api_return(rc);
}

struct raftwal_iter {
    raftwal_log *log;
    uint64_t next, hi;
    uint64_t max_bytes, bytes;
    uint64_t returned;
    rw_seg *pinned; /* keeps the last returned view mapped */
    rw_entry_buf decoded; /* holds the last returned entry if it was encoded */
};

int raftwal_iter_open(raftwal_iter **out, raftwal_log *log, uint64_t lo, uint64_t hi, uint64_t max_bytes)
{
    if (!out)
        return rw_err(RAFTWAL_EINVAL, "NULL argument");
    *out = NULL;
    if (!log)
        return rw_err(RAFTWAL_EINVAL, "NULL argument");
    int rc = rw_log_check_usable(log);
    if (rc)
        return rc;
    if (lo > hi)
        return rw_err(RAFTWAL_EINVAL, "range [%" PRIu64 ", %" PRIu64 ") is reversed", lo, hi);
    raftwal_iter *it = calloc(1, sizeof *it);
    if (!it)
        return rw_err(RAFTWAL_ENOMEM, "out of memory");
    pthread_rwlock_rdlock(&log->rw);
    rc = rw_log_check_usable(log);
    /* A range reaching past last + 1 is unavailable even when empty (as in
     * etcd's MemoryStorage.Entries); one whose first entry is past the last
     * names that index, as a single read does. */
    if (rc == 0 && lo < hi && lo < log->first)
        rc = bounds_error(log, lo);
    else if (rc == 0 && lo < hi && lo > log->last)
        rc = bounds_error(log, lo);
    else if (rc == 0 && hi > log->last + 1)
        rc = rw_err(RAFTWAL_EUNAVAILABLE, "range [%" PRIu64 ", %" PRIu64 ") reaches past the last "
                    "index %" PRIu64, lo, hi, log->last);
    if (rc == 0)
        atomic_fetch_add(&log->refs, 1); /* under rw: close's unref comes after it */
    pthread_rwlock_unlock(&log->rw);
    if (rc) {
        free(it);
        return rc;
    }
    it->log = log;
    it->next = lo;
    it->hi = hi;
    it->max_bytes = max_bytes;
    *out = it;
    return rw_api_return(0);
}

int raftwal_iter_next(raftwal_iter *it, raftwal_entry *out)
{
    if (!it || !out)
        return rw_err(RAFTWAL_EINVAL, "NULL argument");
    int rc = rw_log_check_usable(it->log); /* rw_log_read_entry checks again under rw */
    if (rc)
        return rc;
    if (it->next >= it->hi)
        return rw_api_return(0);
    rw_seg *s;
    rw_rec rec;
    it->decoded.grow = 1;
    /* An entry past the byte cap ends the iteration: not decoded. */
    it->decoded.skip_above = it->returned != 0;
    it->decoded.limit = it->bytes > it->max_bytes ? 0 : it->max_bytes - it->bytes;
    rc = rw_log_read_entry(it->log, it->next, &s, &rec, &it->decoded);
    if (rc)
        return rc;
    if (it->returned && (rec.len > it->max_bytes - it->bytes || it->bytes > it->max_bytes)) {
        rw_seg_unref(s);
        it->next = it->hi; /* the byte cap ends the iteration */
        return rw_api_return(0);
    }
    rw_seg_unref(it->pinned);
    it->pinned = s;
    out->index = rec.a;
    out->term = rec.b;
    out->type = rec.aux;
    out->flags = 0;
    out->data = rec.payload;
    out->size = rec.len;
    it->bytes += rec.len;
    it->returned++;
    it->next++;
    return rw_api_return(1);
}

void raftwal_iter_close(raftwal_iter *it)
{
    if (!it)
        return;
    /* An iterator inherited through fork() references the parent's log:
     * the child's copy is left alone, like the handle (raftwal_log_close). */
    if (it->log->owner == rw_process_id()) {
        rw_seg_unref(it->pinned);
        rw_log_unref(it->log);
    }
    free(it->decoded.buf);
    free(it);
}
