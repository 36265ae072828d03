/* segment_scan.h -- reading a segment's records in order: batches, epochs,
 * and the torn-tail / corruption decision of docs/format.md §5. */
#ifndef RW_SEGMENT_SCAN_H
#define RW_SEGMENT_SCAN_H

#include "format.h"

typedef struct rw_scan_ops {
    /* A batch whose COMMIT is valid: n records (COMMIT excluded) at offs[]. */
    int (*batch)(void *ctx, const rw_rec *recs, const uint64_t *offs, size_t n,
                 uint64_t start, uint64_t end);
    /* A new epoch: records from `off` on use `salt`. */
    int (*epoch)(void *ctx, uint64_t off, uint64_t salt);
    /* Optional: every record with a valid CRC but a FOOTER, before the
     * scan uses it (`salt`: the epoch's, whose CRC it passed). An error
     * (a sealed record whose tag does not verify: corruption, never a
     * torn write) ends the scan with it (docs/format.md §7.3). */
    int (*record)(void *ctx, const rw_rec *r, uint64_t off, uint64_t salt);
} rw_scan_ops;

enum rw_scan_status {
    RW_SCAN_CLEAN,  /* stopped at a zero header or the end of the file */
    RW_SCAN_TORN,   /* stopped at an incomplete or invalid last batch */
    RW_SCAN_FOOTER, /* stopped at a FOOTER: the segment was being sealed */
};

typedef struct rw_scan_result {
    int status;
    uint64_t end;        /* offset after the last whole batch or EPOCH */
    uint64_t salt;       /* the salt in force at `end` */
    uint64_t bad_off;    /* TORN: the first invalid byte offset */
    uint64_t torn_bytes; /* TORN: bytes from `end` to the last non-zero byte */
    const char *why;     /* TORN: what was wrong at bad_off */
    uint64_t junk_end;   /* end of the non-zero bytes seen past `end` (0: none);
                            at a clean end only within the proof window */
    uint64_t max_synced; /* highest synced-upto of the COMMITs and EPOCHs read:
                            bytes below it are known to have been durable */
    uint64_t batches;
} rw_scan_result;

/* Scans buf[0..len) (a whole segment file; records start at 64) with the
 * header salt `salt`. `recycled` is the header's RW_HDR_F_RECYCLED: then
 * stale bytes of the file's earlier life follow the records, so an invalid
 * record where a batch would start ends the records as a zero header does
 * (clean end, proof search within `clean_window`, no junk reported). Returns 0 with the outcome in *res, RAFTWAL_ECORRUPT
 * when an invalid record is followed by proof that it had been durable
 * (message names `name` and the offset), or an error from ops.
 * At a clean end (a zero header) the proof search covers `clean_window`
 * bytes (UINT64_MAX: the whole file), so that a zeroed range inside synced
 * data is caught without reading the whole preallocated file at open. */
int rw_scan_records(const char *name, const uint8_t *buf, size_t len, uint64_t salt,
                    uint64_t clean_window, int recycled, const rw_scan_ops *ops, void *ctx,
                    rw_scan_result *res);

/* The proof window open uses at a clean end. */
#define RW_OPEN_PROOF_WINDOW (256u * 1024u)

#endif
