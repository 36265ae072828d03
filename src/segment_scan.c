/* segment_scan.c -- walks a segment's records. See segment_scan.h. */
#include "segment_scan.h"

#include <inttypes.h>
#include <stdlib.h>

#include "error.h"

typedef struct batch_buf {
    rw_rec *recs;
    uint64_t *offs;
    size_t n, cap;
} batch_buf;

static int batch_push(batch_buf *b, const rw_rec *r, uint64_t off)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        rw_rec *recs = realloc(b->recs, cap * sizeof *recs);
        if (!recs)
            return rw_err(RAFTWAL_ENOMEM, "out of memory while scanning");
        b->recs = recs;
        uint64_t *offs = realloc(b->offs, cap * sizeof *offs);
        if (!offs)
            return rw_err(RAFTWAL_ENOMEM, "out of memory while scanning");
        b->offs = offs;
        b->cap = cap;
    }
    b->recs[b->n] = *r;
    b->offs[b->n] = off;
    b->n++;
    return 0;
}

/* Looks past the invalid bytes at x for a valid COMMIT or EPOCH (under the
 * salt in force) that says the segment was durable beyond x: then x was
 * damaged after it was synced. Also measures how far non-zero bytes go. */
static int find_proof(const uint8_t *buf, size_t len, uint64_t salt, uint64_t x,
                      uint64_t *proof_off, uint64_t *last_nonzero)
{
    *last_nonzero = x;
    int found = 0;
    for (uint64_t o = x; o + 8 <= len; o += 8) {
        const uint8_t *p = buf + o;
        if (rw_get64(p) != 0)
            *last_nonzero = o + 8;
        if (found || o == x || o + RW_REC_HEADER > len)
            continue;
        /* Plain, or sealed (just its tag: docs/format.md §7.2). */
        uint32_t want_len = p[5] == RW_CODEC_SEALED ? 16u : 0u;
        if ((p[4] != RW_REC_COMMIT && p[4] != RW_REC_EPOCH) || (p[5] && p[5] != RW_CODEC_SEALED) ||
            p[6] || p[7] || rw_get32(p + 8) != want_len)
            continue;
        rw_rec r;
        if (rw_rec_decode(p, len - o, salt, &r, NULL) == RW_REC_OK && r.a > x && r.a <= o) {
            *proof_off = o;
            found = 1;
        }
    }
    return found;
}

int rw_scan_records(const char *name, const uint8_t *buf, size_t len, uint64_t salt,
                    uint64_t clean_window, int recycled, const rw_scan_ops *ops, void *ctx,
                    rw_scan_result *res)
{
    batch_buf b = {0};
    int rc = 0;
    uint64_t off = RW_HEADER_SIZE, start = off;
    const char *why = NULL;
    const uint64_t header_salt = salt; /* FOOTER and SEAL always use it */
    res->status = RW_SCAN_CLEAN;
    res->batches = 0;
    res->torn_bytes = 0;
    res->bad_off = 0;
    res->why = NULL;
    res->junk_end = 0;
    res->max_synced = 0;
    for (;;) {
        rw_rec r;
        int st = off < len ? rw_rec_decode(buf + off, len - off, salt, &r, &why) : RW_REC_END;
        if (st == RW_REC_BAD && len - off > RW_REC_HEADER && buf[off + 4] == RW_REC_FOOTER &&
            salt != header_salt)
            st = rw_rec_decode(buf + off, len - off, header_salt, &r, &why);
        /* Where a batch would start, a recycled file's stale bytes (records
         * of other salts) end the records just as zeros do. */
        if (st == RW_REC_BAD && b.n == 0 && recycled)
            st = RW_REC_END;
        if (st == RW_REC_END && b.n == 0) {
            uint64_t proof = 0, last_nz = 0;
            size_t lim = clean_window >= len - off ? len : (size_t)(off + clean_window);
            int proven = off < len && find_proof(buf, lim, salt, off, &proof, &last_nz);
            if (last_nz > off && !recycled)
                res->junk_end = last_nz;
            if (proven) {
                rc = rw_err(RAFTWAL_ECORRUPT,
                            "%s: offset %" PRIu64 ": %s records (corruption: a batch synced"
                            " later, at offset %" PRIu64 ", proves these bytes had been durable)",
                            name, off, recycled ? "invalid" : "zeroed", proof);
                goto out;
            }
            break; /* clean end */
        }
        if (st == RW_REC_END) {
            why = "batch has no commit record";
            goto bad;
        }
        if (st == RW_REC_BAD)
            goto bad;
        if (ops->record && r.type != RW_REC_FOOTER && (rc = ops->record(ctx, &r, off, salt)) != 0)
            goto out;
        switch (r.type) {
        case RW_REC_EPOCH:
            if (b.n || r.b == 0) {
                why = b.n ? "epoch record inside a batch" : "epoch with a zero salt";
                goto bad;
            }
            if (r.a <= off && r.a > res->max_synced)
                res->max_synced = r.a;
            off += r.size;
            salt = r.b;
            if (ops->epoch && (rc = ops->epoch(ctx, off, salt)) != 0)
                goto out;
            start = off;
            continue;
        case RW_REC_FOOTER:
            if (b.n) {
                why = "footer inside a batch";
                goto bad;
            }
            res->status = RW_SCAN_FOOTER;
            goto done;
        case RW_REC_SEAL:
            why = "seal record among the records";
            goto bad;
        case RW_REC_COMMIT:
            if (r.b != start || r.aux != b.n) {
                why = "commit record does not match its batch";
                goto bad;
            }
            if (ops->batch && (rc = ops->batch(ctx, b.recs, b.offs, b.n, start, off + r.size)) != 0)
                goto out;
            if (r.a <= start && r.a > res->max_synced)
                res->max_synced = r.a;
            b.n = 0;
            off += r.size;
            start = off;
            res->batches++;
            continue;
        default:
            if ((rc = batch_push(&b, &r, off)) != 0)
                goto out;
            off += r.size;
            continue;
        }
    bad:;
        uint64_t proof = 0, last_nz = 0;
        if (find_proof(buf, len, salt, off, &proof, &last_nz)) {
            rc = rw_err(RAFTWAL_ECORRUPT,
                        "%s: offset %" PRIu64 ": %s (corruption: a batch synced later, at offset %"
                        PRIu64 ", proves these bytes had been durable)", name, off, why, proof);
            goto out;
        }
        res->status = RW_SCAN_TORN;
        res->bad_off = off;
        res->why = why;
        if (recycled) {
            /* The non-zero bytes run to the end of the file: count the torn
             * batch's valid-looking part only, and leave them (they can
             * never validate after the next epoch). */
            res->torn_bytes = off - start;
        } else {
            res->torn_bytes = last_nz > start ? last_nz - start : 0;
            res->junk_end = last_nz > start ? last_nz : 0;
        }
        break;
    }
done:
    res->end = start;
    res->salt = salt;
out:
    free(b.recs);
    free(b.offs);
    return rc;
}
