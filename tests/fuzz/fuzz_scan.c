/* fuzz_scan -- rw_scan_records (batches, epochs, the torn-tail versus
 * corruption decision) over arbitrary bytes.
 * Input: flags byte (FZ_FIX_CRC; 0x80: scan as a recycled segment), the window byte (proof window = byte * 4 KiB, 255 =
 * the whole file), then a whole segment file; its header's salt is used.
 * Batches handed to the callback must lie inside the file, in order, and
 * the result's offsets must be consistent. */
#include "fuzz_common.h"
#include "raftwal.h"
#include "segment_scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct ctx {
    size_t len;
    uint64_t last_end;
    uint64_t batches;
} ctx;

static int on_batch(void *p, const rw_rec *recs, const uint64_t *offs, size_t n, uint64_t start,
                    uint64_t end)
{
    ctx *c = p;
    FZ_ASSERT(start >= RW_HEADER_SIZE && start <= end && end <= c->len);
    FZ_ASSERT(start >= c->last_end);
    for (size_t i = 0; i < n; i++) {
        FZ_ASSERT(offs[i] >= start && offs[i] + recs[i].size <= end);
        FZ_ASSERT(recs[i].type != RW_REC_COMMIT && recs[i].type != RW_REC_EPOCH);
    }
    c->last_end = end;
    c->batches++;
    return 0;
}

static int on_epoch(void *p, uint64_t off, uint64_t salt)
{
    ctx *c = p;
    FZ_ASSERT(off <= c->len && salt != 0 && off >= c->last_end);
    c->last_end = off;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t flags = data[0];
    uint64_t window = data[1] == 255 ? UINT64_MAX : (uint64_t)data[1] * 4096u;
    size_t len = size - 2;
    uint8_t *buf = fz_copy(data + 2, len);
    if (flags & FZ_FIX_CRC)
        fz_fix_segment(buf, len);
    uint64_t salt = len >= 40 ? rw_get64(buf + 32) : 1;
    static const rw_scan_ops ops = {on_batch, on_epoch, NULL};
    ctx c = {len, 0, 0};
    rw_scan_result res;
    int rc = rw_scan_records("fuzz.wal", buf, len, salt, window, (flags & 0x80) != 0, &ops,
                             &c, &res);
    FZ_ASSERT(rc == 0 || rc == RAFTWAL_ECORRUPT || rc == RAFTWAL_ENOMEM);
    if (rc == 0) {
        FZ_ASSERT(res.batches == c.batches);
        FZ_ASSERT(res.end >= RW_HEADER_SIZE || len < RW_HEADER_SIZE);
        FZ_ASSERT(res.end <= (len > RW_HEADER_SIZE ? len : RW_HEADER_SIZE));
        FZ_ASSERT(res.end >= c.last_end);
        if (res.status == RW_SCAN_TORN)
            FZ_ASSERT(res.bad_off >= res.end && res.why != NULL);
    }
    free(buf);
    return 0;
}
