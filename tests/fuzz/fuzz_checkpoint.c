/* fuzz_checkpoint -- the CHECKPOINT payload decoder (rw_checkpoint_decode).
 * Input: the payload bytes (no CRC inside a payload). A payload that
 * decodes must have its blobs and segment table inside it, in order, and
 * encode back to the same bytes. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = fz_copy(data, size);
    rw_state s;
    if (rw_checkpoint_decode(buf, size, &s) == 0) {
        FZ_ASSERT(s.snap_meta == buf + RW_CHECKPOINT_FIXED);
        FZ_ASSERT(s.meta == s.snap_meta + s.snap_meta_len);
        FZ_ASSERT(s.segtab == s.meta + s.meta_len);
        FZ_ASSERT((size_t)(s.segtab - buf) + (size_t)s.nsegtab * RW_SEGTAB_ENTRY == size);
        FZ_ASSERT(rw_checkpoint_payload_len(&s) == size);
        uint8_t *again = malloc(size);
        rw_checkpoint_encode(again, &s);
        FZ_ASSERT(memcmp(again, buf, size) == 0);
        free(again);
    }
    free(buf);
    return 0;
}
