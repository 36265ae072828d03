/* fuzz_record -- the record decoder (rw_rec_decode).
 * Input: flags byte, salt (8 bytes), then the bytes that remain in the
 * "file". A record that decodes must lie inside them, respect its type's
 * length limit, and encode back to the same bytes. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 9)
        return 0;
    uint8_t flags = data[0];
    uint64_t salt = fz_get64(data + 1, 8);
    size_t len = size - 9;
    uint8_t *buf = fz_copy(data + 9, len);
    if (flags & FZ_FIX_CRC)
        fz_fix_record(buf, len, salt);
    rw_rec r;
    const char *why = NULL;
    int st = rw_rec_decode(buf, len, salt, &r, &why);
    FZ_ASSERT(st == RW_REC_OK || st == RW_REC_END || st == RW_REC_BAD);
    if (st != RW_REC_OK) {
        FZ_ASSERT(why != NULL);
    } else {
        FZ_ASSERT(r.type >= RW_REC_ENTRY && r.type <= RW_REC_SEAL);
        FZ_ASSERT(r.len <= rw_rec_max_len(r.type) + (r.codec ? RW_CODEC_MAX_EXTRA : 0));
        FZ_ASSERT(!(r.codec & ~RW_CODEC_KNOWN));
        FZ_ASSERT(r.payload == buf + RW_REC_HEADER);
        FZ_ASSERT(RW_REC_HEADER + (size_t)r.len <= len && r.size <= len);
        FZ_ASSERT(r.size >= RW_REC_HEADER + r.len);
        uint8_t *again = malloc(rw_rec_size(r.len));
        size_t n = rw_rec_encode_codec(again, salt, r.type, r.codec, r.aux, r.a, r.b, r.payload,
                                       r.len);
        /* Padding is not covered by the CRC: compare header and payload. */
        FZ_ASSERT(n == rw_rec_size(r.len));
        FZ_ASSERT(memcmp(again, buf, RW_REC_HEADER + r.len) == 0);
        free(again);
    }
    free(buf);
    return 0;
}
