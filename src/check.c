/* check.c -- offline checks: raftwal_verify() and raftwal_repair() (the
 * segment checks they share with open are in check_segment.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "io.h"
#include "keys.h"
#include "log.h"
#include "rules.h"
#include "segment_scan.h"

/* ---------------------------------------------------------------------- */
/* verify                                                                 */
/* ---------------------------------------------------------------------- */

/* What check_entries saw of the entries' encoding (raftwal_check). */
typedef struct entry_tally {
    uint64_t compressed, data_bytes, stored_bytes;
} entry_tally;

static void fill_check(raftwal_log *log, raftwal_check *out, const entry_tally *t)
{
    raftwal_check c;
    memset(&c, 0, sizeof c);
    c.size = out->size;
    c.segments = log->nsegs;
    c.first_index = log->first;
    c.last_index = log->last;
    c.entries = log->last - log->first + 1;
    c.torn_bytes = log->stats.torn_bytes;
    c.torn_seq = log->torn_seq;
    c.torn_offset = log->torn_off;
    c.leftovers = log->leftovers;
    c.leftover_below_seq = log->leftover_below_seq;
    c.encrypted = (uint64_t)log->codec.encrypted;
    c.compressed_entries = t->compressed;
    c.entry_bytes = t->data_bytes;
    c.stored_entry_bytes = t->stored_bytes;
    size_t n = out->size < sizeof c ? out->size : sizeof c;
    memcpy(out, &c, n);
}

/* Reads every entry (checking its checksum) and checks term order across
 * the whole log, by the rule of rules.h as it applies to a final state
 * (rw_rule_pred_live): each live entry against the live entry before it.
 * The first live entry is bound by nothing here (a snapshot at first-1 may
 * be younger than it); the replay of each segment's records checked it
 * against what the writer knew. */
static int check_entries(raftwal_log *log, entry_tally *t)
{
    uint64_t prev_term = 0;
    rw_seg *done = NULL; /* the segment read last: let go when the next starts */
    /* Encoded entries are decoded too: a stored form that does not decode
     * to its raw length is corruption a checksum cannot see. */
    rw_entry_buf db = {.grow = 1};
    memset(t, 0, sizeof *t);
    for (uint64_t i = log->first; i <= log->last && i != 0; i++) {
        rw_seg *s;
        rw_rec rec;
        int rc = rw_log_read_entry(log, i, &s, &rec, &db);
        if (rc) {
            free(db.buf);
            return rc;
        }
        /* Decoded data (if any) is in db.buf; only the term is used below. */
        uint64_t term = rec.b;
        t->compressed += (db.codec & RW_CODEC_COMPRESSED) != 0;
        t->data_bytes += rec.len;
        t->stored_bytes += db.stored_len;
        rw_seg_unref(s);
        if (done && done != s)
            rw_check_unmap(log, done);
        done = s;
        if (rw_rule_pred_live(i, log->first) == RW_PRED_ENTRY && term < prev_term) {
            free(db.buf);
            return rw_err(RAFTWAL_ECORRUPT, "%s: entry %" PRIu64 ": term %" PRIu64
                          " is lower than the previous entry's %" PRIu64, log->path, i, term, prev_term);
        }
        prev_term = term;
    }
    free(db.buf);
    return 0;
}

int raftwal_verify(const char *dir, raftwal_check *out)
{
    return rw_verify_keyed(dir, NULL, out);
}

int rw_verify_keyed(const char *dir, const void *key, raftwal_check *out)
{
    if (!dir || (out && out->size < 8))
        return rw_err(RAFTWAL_EINVAL, "NULL directory or raftwal_check.size not set");
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    o.flags = RAFTWAL_OPEN_READONLY | RAFTWAL_OPEN_VERIFY;
    o.key = key;
    o.key_size = key ? RAFTWAL_KEY_SIZE : 0;
    /* A writer in another process may purge segments the check has yet to
     * read (RAFTWAL_ECOMPACTED: nothing else gives that code here): the
     * check starts again, on the log as it is then, a few times. */
    enum { VERIFY_ATTEMPTS = 3 };
    int rc = 0;
    for (int attempt = 1; attempt <= VERIFY_ATTEMPTS; attempt++) {
        raftwal_log *log;
        rc = rw_log_open(&log, dir, &o);
        if (rc == 0) {
            entry_tally t;
            rc = check_entries(log, &t);
            if (rc == 0 && out)
                fill_check(log, out, &t);
            rw_log_close(log);
        }
        if (rc != RAFTWAL_ECOMPACTED)
            return rw_api_return(rc);
    }
    if (strstr(raftwal_errmsg(), "changed under") == NULL) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", raftwal_errmsg());
        rc = rw_err(RAFTWAL_ECOMPACTED, "%s: the log changed under the check: a writer purged "
                    "segments before they were read, in each of %d attempts (the last: %s); "
                    "nothing damaged was found in what was read", dir, VERIFY_ATTEMPTS, msg);
    }
    return rc;
}

/* ---------------------------------------------------------------------- */
/* repair                                                                 */
/* ---------------------------------------------------------------------- */

/* A copy is readable by no one who could not read the log (`mode`, see
 * rw_log_mode) and its original. */
static int copy_file(int dirfd, const char *name, int backfd, mode_t mode)
{
    int in = rw_io->openat(dirfd, name, O_RDONLY, 0);
    if (in < 0)
        return rw_err_sys(errno, 0, "%s: open for backup", name);
    struct stat sb;
    if (fstat(in, &sb) == 0)
        mode &= sb.st_mode;
    int out = rw_io->openat(backfd, name, O_WRONLY | O_CREAT | O_TRUNC, mode & 0777);
    int rc = 0;
    if (out < 0) {
        rc = rw_err_sys(errno, 0, "backup of %s: create", name);
        rw_io->close(in);
        return rc;
    }
    char *buf = malloc(1 << 20);
    uint64_t off = 0;
    while (buf && rc == 0) {
        ssize_t r = rw_io->pread(in, buf, 1 << 20, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = rw_err_sys(errno, 0, "%s: read for backup", name);
        if (r <= 0)
            break;
        int e = rw_pwrite_all(out, buf, (size_t)r, off);
        if (e)
            rc = rw_err_sys(-e, 0, "backup of %s: write", name);
        off += (uint64_t)r;
    }
    if (!buf)
        rc = rw_err(RAFTWAL_ENOMEM, "out of memory");
    if (rc == 0 && rw_io->fdatasync(out) != 0)
        rc = rw_err_sys(errno, 0, "backup of %s: fdatasync", name);
    free(buf);
    rw_io->close(in);
    rw_io->close(out);
    return rc;
}

typedef struct repair_state {
    const char *dir;
    int dirfd;
    int backfd;
    mode_t mode; /* the log's (rw_log_mode): of the backups too */
    char backup[1024];
    uint64_t cut_seq, cut_off, cut_bytes;
    int cut;
    const uint8_t *key; /* an encrypted log's master key, or NULL */
    rw_codec codec;     /* its keys, loaded when a checkpoint needs them */
} repair_state;

static int ensure_backup_dir(repair_state *st)
{
    if (st->backfd >= 0)
        return 0;
    char name[64];
    /* Never reuse a directory: a repair rerun in the same second must not
     * overwrite the backups of the first with already-cut files. */
    for (int n = 0;; n++) {
        snprintf(name, sizeof name, "repair-%lld-%ld-%d", (long long)time(NULL), (long)getpid(), n);
        if (mkdirat(st->dirfd, name, rw_dir_mode(st->mode)) == 0)
            break;
        if (errno != EEXIST || n > 1000)
            return rw_err_sys(errno, 0, "%s/%s: create backup directory", st->dir, name);
    }
    st->backfd = openat(st->dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (st->backfd < 0)
        return rw_err_sys(errno, 0, "%s/%s: open backup directory", st->dir, name);
    snprintf(st->backup, sizeof st->backup, "%s/%s", st->dir, name);
    return 0;
}

/* The end of the last whole batch before `off` in segment file `name`
 * (0 if no checkpoint survives), and the extent of non-zero bytes. */
static int salvage_point(repair_state *st, const char *name, uint64_t off, uint64_t *keep,
                         uint64_t *extent)
{
    *keep = 0;
    *extent = 0;
    int fd = rw_io->openat(st->dirfd, name, O_RDONLY, 0);
    if (fd < 0)
        return rw_err_sys(errno, 0, "%s: open", name);
    struct stat sb;
    int rc = 0;
    uint8_t *buf = NULL;
    if (rw_io->fstat(fd, &sb) != 0) {
        rc = rw_err_sys(errno, 0, "%s: fstat", name);
        goto out;
    }
    uint64_t size = (uint64_t)sb.st_size;
    buf = malloc(size ? size : 1);
    if (!buf) {
        rc = rw_err(RAFTWAL_ENOMEM, "out of memory");
        goto out;
    }
    int e = rw_pread_all(fd, buf, size, 0);
    if (e) {
        rc = rw_err_sys(-e, 0, "%s: read", name);
        goto out;
    }
    for (uint64_t i = size; i > 0; i--)
        if (buf[i - 1]) {
            *extent = i;
            break;
        }
    rw_seg_header h;
    if (off <= RW_HEADER_SIZE || rw_header_decode(buf, size, &h) != RW_HDR_OK)
        goto out;
    static const rw_scan_ops no_ops = {NULL, NULL, NULL};
    rw_scan_result res;
    uint64_t lim = off < size ? off : size;
    if (rw_scan_records(name, buf, (size_t)lim, h.salt, 0,
                        (h.flags & RW_HDR_F_RECYCLED) != 0, &no_ops, NULL, &res) == 0 && res.batches)
        *keep = res.end;
out:
    free(buf);
    rw_io->close(fd);
    return rc;
}

/* Cuts the log at segment seq, offset off: later segments go, and the
 * segment keeps its whole batches before off (or goes too). */
static int cut_at(repair_state *st, uint64_t seq, uint64_t off)
{
    int rc = ensure_backup_dir(st);
    if (rc)
        return rc;
    for (uint64_t s = seq;; s++) {
        char name[32];
        snprintf(name, sizeof name, "%016" PRIx64 ".wal", s);
        struct stat sb;
        if (fstatat(st->dirfd, name, &sb, 0) != 0) {
            if (s == seq)
                continue; /* a missing segment: later ones are cut */
            break;
        }
        rc = copy_file(st->dirfd, name, st->backfd, st->mode);
        if (rc)
            return rc;
        uint64_t keep = 0, extent = (uint64_t)sb.st_size;
        if (s == seq && (rc = salvage_point(st, name, off, &keep, &extent)) != 0)
            return rc;
        if (keep == 0) {
            if (rw_io->unlinkat(st->dirfd, name, 0) != 0)
                return rw_err_sys(errno, 0, "%s: unlink", name);
            st->cut_bytes += extent;
        } else {
            int fd = rw_io->openat(st->dirfd, name, O_RDWR, 0);
            if (fd < 0)
                return rw_err_sys(errno, 0, "%s: open", name);
            /* Zero what follows the kept prefix, seal included: the
             * segment becomes the tail. */
            rc = rw_io->ftruncate(fd, (off_t)keep) != 0 || rw_io->ftruncate(fd, sb.st_size) != 0 ||
                         rw_io->fdatasync(fd) != 0
                     ? rw_err_sys(errno, 0, "%s: cut at %" PRIu64, name, keep)
                     : 0;
            rw_io->close(fd);
            if (rc)
                return rc;
            st->cut_bytes += extent > keep ? extent - keep : 0;
        }
        if (!st->cut) {
            st->cut = 1;
            st->cut_seq = seq;
            st->cut_off = keep ? keep : 0;
        }
    }
    if (rw_io->fsync(st->dirfd) != 0)
        return rw_err_sys(errno, 0, "%s: fsync of the directory", st->dir);
    return 0;
}

/* Reads segment file seq whole (NULL if it cannot be read). */
static uint8_t *read_segment(repair_state *st, uint64_t seq, size_t *len)
{
    char name[32];
    snprintf(name, sizeof name, "%016" PRIx64 ".wal", seq);
    int fd = rw_io->openat(st->dirfd, name, O_RDONLY, 0);
    if (fd < 0)
        return NULL;
    struct stat sb;
    uint8_t *buf = NULL;
    if (rw_io->fstat(fd, &sb) == 0 && sb.st_size >= RW_HEADER_SIZE &&
        (buf = malloc((size_t)sb.st_size)) != NULL &&
        rw_pread_all(fd, buf, (size_t)sb.st_size, 0) != 0) {
        free(buf);
        buf = NULL;
    }
    *len = buf ? (size_t)sb.st_size : 0;
    rw_io->close(fd);
    return buf;
}

/* What the whole batches of a segment's scan say about its purges. */
typedef struct purge_scan {
    uint64_t purge;     /* the highest PURGE (starts at the checkpoint's) */
    uint64_t trunc_min; /* the lowest TRUNCATE point (UINT64_MAX: none) */
    uint64_t batches;   /* whole batches seen, the checkpoint's included */
} purge_scan;

static int purge_batch(void *ctx, const rw_rec *recs, const uint64_t *offs, size_t n,
                       uint64_t start, uint64_t end)
{
    purge_scan *ps = ctx;
    (void)offs, (void)start, (void)end;
    ps->batches++;
    for (size_t i = 0; i < n; i++) {
        if (recs[i].type == RW_REC_PURGE && recs[i].a > ps->purge)
            ps->purge = recs[i].a;
        if (recs[i].type == RW_REC_TRUNCATE && recs[i].a < ps->trunc_min)
            ps->trunc_min = recs[i].a;
    }
    return 0;
}

/* Decodes the CHECKPOINT that opens segment seq (buf, len) and raises
 * ck->purge to the newest PURGE among the segment's whole batches that
 * end by `limit` (the purge point its records prove; SIZE_MAX: the whole
 * segment); *ps, if not NULL, gets what those batches hold. 0 if the
 * checkpoint is intact. */
static int decode_opening_checkpoint(repair_state *st, uint64_t seq, const uint8_t *buf, size_t len,
                                     size_t limit, rw_state *ck, rw_codec_buf *b, purge_scan *ps)
{
    rw_seg_header h;
    rw_rec r;
    const char *why;
    if (rw_header_decode(buf, len, &h) != RW_HDR_OK || h.seq != seq || !h.first_index)
        return -1;
    if (rw_rec_decode(buf + RW_HEADER_SIZE, len - RW_HEADER_SIZE, h.salt, &r, NULL) != RW_REC_OK ||
        r.type != RW_REC_CHECKPOINT)
        return -1;
    if (r.codec & RW_CODEC_SEALED) { /* an encrypted log: its keys, once (no message kept) */
        if (!st->key)
            return -1;
        if (!st->codec.keys) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", raftwal_errmsg());
            int rc = rw_keys_load(st->dirfd, st->dir, h.log_id, st->key, &st->codec.keys);
            (void)rw_err(0, "%s", msg); /* the caller reports the damage, not this */
            if (rc)
                return -1;
            st->codec.encrypted = 1;
        }
        uint32_t size = rw_codec_data_size(&r);
        uint8_t *p = size > b->cap ? realloc(b->p, size) : b->p;
        if (!p)
            return -1;
        if (size > b->cap) {
            b->p = p;
            b->cap = size;
        }
        if (rw_codec_check_log(&st->codec, h.version, &r, &why) != 0 ||
            rw_codec_open_data(&st->codec, h.salt, RW_HEADER_SIZE, &r, b->p, b->cap, &why) != 0)
            return -1;
        r.payload = b->p;
        r.len = size;
    }
    if (rw_checkpoint_decode(r.payload, r.len, ck) != 0)
        return -1;
    /* Damage later in the segment stops the scan: the batches before it
     * were reported. */
    static const rw_scan_ops ops = {purge_batch, NULL, NULL};
    rw_scan_result res;
    purge_scan scan = {ck->purge, UINT64_MAX, 0};
    rw_scan_records("", buf, len < limit ? len : limit, h.salt, 0,
                    (h.flags & RW_HDR_F_RECYCLED) != 0, &ops, &scan, &res);
    ck->purge = scan.purge;
    if (ps)
        *ps = scan;
    return 0;
}

enum { CUT_ONLY_PURGED = 1, CUT_UNDECIDED = 2, CUT_DROPS_PURGE = 3 };

/* Would cutting at (seq, off), off past the checkpoint that opens seq,
 * drop a PURGE that later records of seq hold and that the files before
 * seq needed? The purge let segments go; the kept checkpoint's table
 * still lists them with live entries, so the cut log would not open
 * ("segments holding entries up to N are missing"), and later rounds
 * would cut it away whole. The kept log's purge point is the checkpoint's
 * raised by the PURGEs of the whole batches before off; the segments
 * missing are those listed before the run of files that ends at seq - 1
 * (seqs[0..n): the files present), as raftwal_log_open() composes them
 * (the PURGE itself may lie past the damage, where no scan reaches: the
 * missing files are what tells). Returns CUT_DROPS_PURGE with *purge (the kept purge point), *gone (the
 * newest missing segment holding an entry above it) and *gone_last (the
 * highest such entry), or 0. */
static int cut_drops_purge(repair_state *st, uint64_t seq, uint64_t off, const uint64_t *seqs,
                           size_t n, uint64_t *purge, uint64_t *gone, uint64_t *gone_last)
{
    size_t len;
    uint8_t *buf = read_segment(st, seq, &len);
    rw_codec_buf dec = {NULL, 0};
    rw_state ck;
    purge_scan kept;
    int verdict = 0;
    if (!buf || off <= RW_HEADER_SIZE ||
        decode_opening_checkpoint(st, seq, buf, len, (size_t)off, &ck, &dec, &kept) != 0 ||
        kept.batches == 0) /* the cut takes the checkpoint too: not this question */
        goto out;
    uint64_t run_first = seq; /* the files before seq with no gap */
    for (size_t i = 0; i < n; i++)
        if (seqs[i] == run_first - 1)
            run_first--; /* seqs[] is sorted newest first */
    for (uint32_t k = 0; k < ck.nsegtab; k++) {
        const uint8_t *t = ck.segtab + (size_t)k * RW_SEGTAB_ENTRY;
        uint64_t tseq = rw_get64(t), first = rw_get64(t + 8), count = rw_get64(t + 16);
        uint64_t last = count ? first + count - 1 : 0;
        if (kept.trunc_min != UINT64_MAX && last >= kept.trunc_min)
            last = kept.trunc_min - 1; /* truncated after the table was written */
        if (tseq < run_first && count && last > kept.purge) {
            *purge = kept.purge;
            *gone = tseq;
            *gone_last = last;
            verdict = CUT_DROPS_PURGE;
        }
    }
out:
    free(dec.p);
    free(buf);
    return verdict;
}

static int cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x > y ? -1 : x < y;
}

/* Would cutting at (seq, off) leave a log holding only entries that the
 * newest durable state had purged? Such a "prefix" is the leftovers of a
 * purge, not the log: keeping it would throw away every live entry, the
 * hard state and the snapshot record. Decided by the newest segment whose
 * opening checkpoint is intact: its purge point (the checkpoint's, or a
 * later PURGE in the segment), and its table of the segments before it
 * (what the cut would keep of them). *purge and *ckpt_seq say which
 * segment decided. Returns 0 (the cut keeps a prefix of the log),
 * CUT_ONLY_PURGED, CUT_UNDECIDED (no intact state past the cut, and
 * what it keeps ends before a gap), or CUT_DROPS_PURGE (cut_drops_purge:
 * *purge is then the cut log's, *gone and *gone_last say what is
 * missing). */
static int cut_keeps_only_purged(repair_state *st, uint64_t seq, uint64_t off, uint64_t *purge,
                                 uint64_t *ckpt_seq, uint64_t *gone, uint64_t *gone_last)
{
    *purge = 0;
    *ckpt_seq = 0;
    *gone = *gone_last = 0;
    int fd = fcntl(st->dirfd, F_DUPFD_CLOEXEC, 0); /* dup() would clear close-on-exec */
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    uint64_t *seqs = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        unsigned long long v;
        char sfx[8];
        if (strlen(e->d_name) != 20 || sscanf(e->d_name, "%16llx%7s", &v, sfx) != 2 ||
            strcmp(sfx, ".wal") != 0)
            continue;
        if (n == cap) {
            uint64_t *p = realloc(seqs, (cap = cap ? cap * 2 : 64) * sizeof *p);
            if (!p)
                break;
            seqs = p;
        }
        seqs[n++] = v;
    }
    closedir(d);
    if (n)
        qsort(seqs, n, sizeof *seqs, cmp_desc);
    int only_purged = 0;
    rw_codec_buf dec = {NULL, 0}; /* an encrypted checkpoint, decrypted */
    for (size_t i = 0; i < n; i++) {
        size_t len;
        uint8_t *buf = read_segment(st, seqs[i], &len);
        rw_state ck;
        if (!buf || decode_opening_checkpoint(st, seqs[i], buf, len, SIZE_MAX, &ck, &dec, NULL) != 0) {
            free(buf);
            continue;
        }
        *purge = ck.purge;
        *ckpt_seq = seqs[i];
        if (seqs[i] < seq && off <= RW_HEADER_SIZE) {
            /* No intact state at or after the cut: if the files the cut
             * keeps end before a gap, nothing tells whether they are the
             * log's prefix or what a purge left behind. */
            uint64_t kept = 0;
            for (size_t k = 0; k < n && !kept; k++)
                if (seqs[k] < seq)
                    kept = seqs[k];
            only_purged = kept + 1 != seq ? CUT_UNDECIDED : 0;
            free(buf);
            break;
        }
        /* A cut after this checkpoint keeps it; nothing purged: nothing
         * to mistake for the log. */
        if (seqs[i] < seq || (seqs[i] == seq && off > RW_HEADER_SIZE) || ck.purge == 0) {
            free(buf);
            break;
        }
        uint64_t kept_last = 0;
        for (uint32_t k = 0; k < ck.nsegtab; k++) {
            const uint8_t *t = ck.segtab + (size_t)k * RW_SEGTAB_ENTRY;
            uint64_t tseq = rw_get64(t), first = rw_get64(t + 8), count = rw_get64(t + 16);
            int kept = tseq < seq || (tseq == seq && off > RW_HEADER_SIZE);
            if (kept && count && first + count - 1 > kept_last)
                kept_last = first + count - 1;
        }
        only_purged = kept_last <= ck.purge ? CUT_ONLY_PURGED : 0;
        free(buf);
        break;
    }
    if (!only_purged && cut_drops_purge(st, seq, off, seqs, n, purge, gone, gone_last))
        only_purged = CUT_DROPS_PURGE;
    free(dec.p);
    free(seqs);
    return only_purged;
}

/* Trims a torn tail found by an otherwise clean check. */
static int trim_torn(repair_state *st, raftwal_log *log)
{
    uint64_t seq = log->torn_seq, off = log->torn_off;
    rw_log_close(log);
    return cut_at(st, seq, off + 1);
}

int raftwal_repair(const char *dir, raftwal_check *out)
{
    return rw_repair_keyed(dir, NULL, out);
}

int rw_repair_keyed(const char *dir, const void *key, raftwal_check *out)
{
    if (!dir || (out && out->size < 8))
        return rw_err(RAFTWAL_EINVAL, "NULL directory or raftwal_check.size not set");
    /* Hold the lock for the whole repair, as a writer would. */
    raftwal_log lk;
    memset(&lk, 0, sizeof lk);
    lk.lockfd = -1;
    lk.path = strdup(dir);
    if (!lk.path)
        return rw_err(RAFTWAL_ENOMEM, "out of memory");
    lk.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (lk.dirfd < 0) {
        free(lk.path);
        return rw_err_sys(errno, 1, "%s: open directory", dir);
    }
    lk.mode = rw_log_mode(lk.dirfd, RW_DEFAULT_FILE_MODE);
    struct stat sb;
    int rc = fstat(lk.dirfd, &sb) != 0 ? rw_err_sys(errno, 0, "%s: fstat", dir) : 0;
    lk.dev = sb.st_dev;
    lk.ino = sb.st_ino;
    if (rc == 0)
        rc = rw_lock_acquire(&lk);
    if (rc) {
        close(lk.dirfd);
        free(lk.path);
        return rc;
    }
    repair_state st = {.dir = dir, .dirfd = lk.dirfd, .backfd = -1, .mode = lk.mode, .key = key};
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    o.flags = RAFTWAL_OPEN_READONLY | RAFTWAL_OPEN_VERIFY;
    o.key = key;
    o.key_size = key ? RAFTWAL_KEY_SIZE : 0;
    uint64_t last_seq = UINT64_MAX, last_off = UINT64_MAX;
    entry_tally t;
    for (int round = 0; round < 4096; round++) {
        raftwal_log *log;
        rc = rw_log_open(&log, dir, &o);
        if (rc == 0 && (rc = check_entries(log, &t)) != 0)
            rw_log_close(log); /* read-only: sets no error, keeps the message */
        if (rc == 0) {
            if (log->stats.torn_bytes && !st.cut) {
                rc = trim_torn(&st, log);
                if (rc)
                    break;
                continue;
            }
            if (out) {
                fill_check(log, out, &t);
                out->cut_seq = st.cut_seq;
                out->cut_offset = st.cut_off;
                out->cut_bytes = st.cut_bytes;
                if (st.cut)
                    snprintf(out->backup_path, sizeof out->backup_path, "%s", st.backup);
            }
            rw_log_close(log);
            break;
        }
        if (rc != RAFTWAL_ECORRUPT)
            break; /* EVERSION, EIO, ...: nothing we may cut */
        uint64_t seq, off;
        if (sscanf(raftwal_errmsg(), "%16" SCNx64 ".wal: offset %" SCNu64, &seq, &off) != 2)
            break; /* damage we cannot place: refuse to guess */
        if (seq == last_seq && off == last_off)
            break; /* the cut did not remove the damage: report it */
        last_seq = seq;
        last_off = off;
        uint64_t purge, ckpt_seq, gone, gone_last;
        int refuse = cut_keeps_only_purged(&st, seq, off, &purge, &ckpt_seq, &gone, &gone_last);
        if (refuse) {
            char why[512];
            snprintf(why, sizeof why, "%s", raftwal_errmsg());
            if (refuse == CUT_ONLY_PURGED)
                rc = rw_err(RAFTWAL_ECORRUPT, "repair refused: the damage (%s) is at or before "
                            "the segments that hold the live log: cutting there would keep only "
                            "entries purged for good (up to %" PRIu64 ", per %016" PRIx64 ".wal) "
                            "and lose every live entry, the hard state and the snapshot record; "
                            "%s changed", why, purge, ckpt_seq,
                            st.cut ? "nothing more was" : "nothing was");
            else if (refuse == CUT_DROPS_PURGE)
                rc = rw_err(RAFTWAL_ECORRUPT, "repair refused: the damage (%s) is before the "
                            "PURGE that let %016" PRIx64 ".wal go: cutting there would drop that "
                            "PURGE, and the log kept would need the removed segment's entries up "
                            "to %" PRIu64 " (purged only up to %" PRIu64 "), so it would not open; "
                            "%s changed", why, gone, gone_last, purge,
                            st.cut ? "nothing more was" : "nothing was");
            else
                rc = rw_err(RAFTWAL_ECORRUPT, "repair refused: the damage (%s) leaves no intact "
                            "checkpoint after it, and the files before it end at a gap: they may "
                            "be what a purge left behind rather than the log's prefix, so cutting "
                            "there could keep purged entries as the log; %s changed",
                            why, st.cut ? "nothing more was" : "nothing was");
            break;
        }
        rc = cut_at(&st, seq, off);
        if (rc)
            break;
    }
    if (st.backfd >= 0)
        close(st.backfd);
    rw_keys_free(st.codec.keys);
    rw_lock_release(&lk);
    close(lk.dirfd);
    free(lk.path);
    return rw_api_return(rc); /* "", though cutting read the damage's message */
}
