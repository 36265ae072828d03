/* fuzz_header -- the segment header decoder (rw_header_decode).
 * Input: flags byte, then the header bytes. A header that decodes must
 * encode back to the same 64 bytes, and be of a version this library
 * writes (1, or 2 for a log with a codec: docs/format.md 7). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    uint8_t *buf = fz_copy(data + 1, size - 1);
    size_t len = size - 1;
    if (flags & FZ_FIX_CRC)
        fz_fix_header(buf, len);
    rw_seg_header h;
    int st = rw_header_decode(buf, len, &h);
    FZ_ASSERT(st >= RW_HDR_OK && st <= RW_HDR_FIELDS);
    FZ_ASSERT(rw_header_status_str(st) != NULL);
    if (st == RW_HDR_OK) {
        uint8_t again[RW_HEADER_SIZE];
        rw_header_encode(again, &h);
        FZ_ASSERT(memcmp(again, buf, RW_HEADER_SIZE) == 0);
        FZ_ASSERT(h.salt != 0 && (h.version == RW_FORMAT_VERSION || h.version == RW_FORMAT_VERSION_CODEC));
    }
    free(buf);
    return 0;
}
