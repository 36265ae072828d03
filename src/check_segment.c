/* check_segment.c -- full checks of one segment, record by record, against
 * its SEAL and FOOTER. Shared by recovery (log_open.c: the predecessor of
 * a lazily activated segment; every sealed one under RAFTWAL_OPEN_VERIFY)
 * and the offline checks (check.c), so it sits below both. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "rules.h"
#include "segment_scan.h"

/* ---------------------------------------------------------------------- */
/* A sealed segment, record by record, against its SEAL and FOOTER         */
/* ---------------------------------------------------------------------- */

typedef struct sealed_ctx {
    raftwal_log *log;
    rw_seg *s;
    rw_codec_buf scratch, data; /* decoded records (docs/format.md §7) */
    int seen_checkpoint;
    uint64_t first, n;
    uint32_t *offs;
    size_t cap;
    uint64_t trunc, purge;
    rw_terms terms; /* the term rule (rules.h), replayed */
    rw_epoch *ep;
    size_t nep, epcap;
} sealed_ctx;

static int sc_corrupt(sealed_ctx *c, uint64_t off, const char *what)
{
    return rw_err(RAFTWAL_ECORRUPT, "%s: offset %" PRIu64 ": %s", c->s->name, off, what);
}

static int sc_push(sealed_ctx *c, uint64_t index, uint64_t off)
{
    if (c->n == 0)
        c->first = index;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1024;
        uint32_t *p = realloc(c->offs, cap * sizeof *p);
        if (!p)
            return rw_err(RAFTWAL_ENOMEM, "out of memory");
        c->offs = p;
        c->cap = cap;
    }
    c->offs[c->n++] = (uint32_t)off;
    return 0;
}

/* Every record's codec byte and tag (docs/format.md §7.3). */
static int sc_record(void *ctx, const rw_rec *r, uint64_t off, uint64_t salt)
{
    sealed_ctx *c = ctx;
    return rw_codec_verify(&c->log->codec, c->s->version, salt, off, c->s->name, r, &c->scratch);
}

static int sc_batch(void *ctx, const rw_rec *recs, const uint64_t *offs, size_t n, uint64_t start,
                    uint64_t end)
{
    sealed_ctx *c = ctx;
    (void)end;
    if (!c->seen_checkpoint) {
        rw_state st;
        rw_rec ck = n ? recs[0] : (rw_rec){0};
        int rc = n == 1 && ck.type == RW_REC_CHECKPOINT
                     ? rw_codec_view(&c->log->codec, c->s->version, c->s->salt, offs[0], c->s->name,
                                     &ck, &c->data)
                     : 0;
        if (rc)
            return rc;
        if (n != 1 || ck.type != RW_REC_CHECKPOINT || rw_checkpoint_decode(ck.payload, ck.len, &st) != 0)
            return sc_corrupt(c, start, "segment does not start with a valid checkpoint");
        c->seen_checkpoint = 1;
        c->purge = st.purge;
        rw_terms_start(&c->terms, st.purge, ck.a, st.last_term, st.snap_index, st.snap_term);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        const rw_rec *r = &recs[i];
        switch (r->type) {
        case RW_REC_ENTRY:
            if (c->n && r->a != c->first + c->n) {
                if (r->a < c->first + c->n || r->a - 1 > c->purge)
                    return sc_corrupt(c, offs[i], "entry index out of sequence");
                c->n = 0; /* everything before was purged */
            }
            switch (rw_terms_entry(&c->terms, r->a, r->b)) {
            case 0:
                break;
            case 1:
                return sc_corrupt(c, offs[i], "entry term lower than its predecessor's");
            default:
                return RAFTWAL_ENOMEM;
            }
            if (sc_push(c, r->a, offs[i]))
                return RAFTWAL_ENOMEM;
            break;
        case RW_REC_TRUNCATE:
            if (r->a < c->trunc)
                c->trunc = r->a;
            if (c->n && r->a <= c->first)
                c->n = 0;
            else if (c->n && r->a < c->first + c->n)
                c->n = r->a - c->first;
            rw_terms_truncate(&c->terms, r->a);
            break;
        case RW_REC_PURGE:
            if (r->a > c->purge)
                c->purge = r->a;
            rw_terms_purge(&c->terms, r->a);
            break;
        case RW_REC_HARDSTATE:
            if (rw_codec_data_size(r) != RW_HARDSTATE_PAYLOAD)
                return sc_corrupt(c, offs[i], "malformed hard state");
            break;
        case RW_REC_SNAPSHOT:
            rw_terms_snapshot(&c->terms, r->a, r->b);
            break;
        case RW_REC_METADATA:
            break;
        default:
            return sc_corrupt(c, offs[i], "unexpected record type inside a batch");
        }
    }
    return 0;
}

static int sc_epoch(void *ctx, uint64_t off, uint64_t salt)
{
    sealed_ctx *c = ctx;
    if (c->nep == c->epcap) {
        size_t cap = c->epcap ? c->epcap * 2 : 8;
        rw_epoch *p = realloc(c->ep, cap * sizeof *p);
        if (!p)
            return rw_err(RAFTWAL_ENOMEM, "out of memory");
        c->ep = p;
        c->epcap = cap;
    }
    c->ep[c->nep].off = off;
    c->ep[c->nep].salt = salt;
    c->nep++;
    return 0;
}

/* Reads every record of s (window: the proof search at a clean end, see
 * rw_scan_records). */
static int scan_all(rw_seg *s, sealed_ctx *c, uint64_t window, rw_scan_result *res)
{
    static const rw_scan_ops ops = {sc_batch, sc_epoch, sc_record};
    const rw_mapping *m;
    int rc = rw_seg_map(s, s->file_size, &m);
    if (rc == 0)
        rc = sc_epoch(c, RW_HEADER_SIZE, s->salt);
    if (rc == 0)
        rc = rw_scan_records(s->name, m->addr, m->len, s->salt, window, s->recycled, &ops, c, res);
    return rc;
}

/* The records read by scan_all, which ended at the FOOTER the SEAL points
 * to, against the SEAL and the FOOTER. */
static int match_seal(raftwal_log *log, rw_seg *s, sealed_ctx *c)
{
    const rw_seal *seal = &s->seal;
    if (c->n != seal->count || (c->n && c->first != seal->first) || c->trunc != seal->trunc_from ||
        c->purge != seal->purge)
        return sc_corrupt(c, s->file_size - RW_SEAL_SIZE, "seal does not match the records");
    int loaded;
    int rc = rw_seg_load_footer(s, &loaded);
    if (rc)
        return rc;
    if (loaded)
        atomic_fetch_add(&log->stats.footer_loads, 1);
    if (s->nepochs != c->nep || (c->n && memcmp(s->offsets, c->offs, c->n * 4) != 0) ||
        memcmp(s->epochs, c->ep, c->nep * sizeof *c->ep) != 0)
        return sc_corrupt(c, seal->footer_off, "index footer does not match the records");
    return 0;
}

static int check_sealed(raftwal_log *log, rw_seg *s)
{
    sealed_ctx c = {.log = log, .s = s, .trunc = UINT64_MAX};
    rw_scan_result res;
    int rc = scan_all(s, &c, 0, &res);
    if (rc == 0 && (res.status != RW_SCAN_FOOTER || res.end != s->seal.footer_off))
        rc = sc_corrupt(&c, res.status == RW_SCAN_TORN ? res.bad_off : res.end,
                        res.why ? res.why : "records do not end at the footer");
    if (rc == 0)
        rc = match_seal(log, s, &c);
    free(c.offs);
    free(c.ep);
    free(c.scratch.p);
    free(c.data.p);
    rw_terms_free(&c.terms);
    return rc;
}

int rw_check_lazy_pred(raftwal_log *log, rw_seg *s, int *complete, int *has_ckpt)
{
    *complete = 0;
    *has_ckpt = 0;
    if (!s->base)
        return 0; /* its activation never reached the disk */
    sealed_ctx c = {.log = log, .s = s, .trunc = UINT64_MAX};
    rw_scan_result res;
    /* The whole file is searched for proof at a clean end too: a zeroed
     * range followed by a COMMIT that says it was synced is damage. */
    int rc = scan_all(s, &c, UINT64_MAX, &res);
    if (rc == 0) {
        *has_ckpt = c.seen_checkpoint;
        /* Anything short of a SEAL whose FOOTER ends the records is a torn
         * end: a power loss kept some of the unsynced writes, not all. */
        if (s->sealed && res.status == RW_SCAN_FOOTER && res.end == s->seal.footer_off) {
            rc = match_seal(log, s, &c);
            *complete = rc == 0;
        }
    }
    free(c.offs);
    free(c.ep);
    free(c.scratch.p);
    free(c.data.p);
    rw_terms_free(&c.terms);
    return rc;
}

void rw_check_unmap(raftwal_log *log, rw_seg *s)
{
    pthread_rwlock_wrlock(&log->rw);
    rw_seg_unmap_idle(s);
    pthread_rwlock_unlock(&log->rw);
}

int rw_check_sealed_all(raftwal_log *log)
{
    for (size_t i = 0; i < log->nsegs; i++) {
        rw_seg *s = log->segs[i];
        if (!s->sealed || i + 1 == log->nsegs)
            continue; /* the tail was scanned by recovery */
        int rc = rw_seg_ensure_probed(s, log->log_id);
        if (rc == 0)
            rc = check_sealed(log, s);
        rw_check_unmap(log, s);
        if (rc)
            return rc;
    }
    return 0;
}
