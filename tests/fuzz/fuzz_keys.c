/* fuzz_keys -- the KEYS decoder (rw_keys_decode, docs/format.md 7.4).
 * Input: flags byte, then the KEYS bytes. The master key is fixed
 * (FZ_KEYS_MASTER, fuzz_keys.h); the log id expected is the file's own (bytes 16..23)
 * with FZ_KEYS_OWN_ID, else FZ_KEYS_LOG_ID. Flags: FZ_FIX_CRC recomputes
 * the CRC; FZ_KEYS_FIX_CHECK writes the master's check value for the
 * expected log id, so that mutations reach the unwrapping. A KEYS that
 * decodes must encode back to the same bytes; any other input is a clean
 * ECORRUPT, EKEY or EVERSION whose message holds no key bytes. */
#include "fuzz_common.h"
#include "fuzz_keys.h"
#include "keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_KEYS_FIX_CHECK 0x2u
#define FZ_KEYS_OWN_ID 0x4u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    size_t len = size - 1;
    uint8_t *buf = fz_copy(data + 1, len); /* exact size: ASan sees an over-read */
    uint64_t log_id = FZ_KEYS_LOG_ID;
    if ((flags & FZ_KEYS_OWN_ID) && len >= 24)
        log_id = rw_get64(buf + 16);
    if ((flags & FZ_KEYS_FIX_CHECK) && len >= 40)
        FZ_ASSERT(rw_keys_check_value(FZ_KEYS_MASTER, log_id, buf + 24) == 0);
    if ((flags & FZ_FIX_CRC) && len >= RW_KEYS_HEADER + RW_KEYS_TRAILER)
        rw_put32(buf + len - 8, rw_crc32c(0, buf, len - 8));
    rw_keyring *kr = NULL;
    int rc = rw_keys_decode(buf, len, "KEYS", log_id, FZ_KEYS_MASTER, &kr);
    if (rc == 0) {
        FZ_ASSERT(kr != NULL);
        FZ_ASSERT(len == RW_KEYS_HEADER + (size_t)rw_get32(buf + 12) * RW_KEYS_ENTRY +
                             RW_KEYS_TRAILER);
        uint8_t *again = NULL;
        size_t alen = 0;
        FZ_ASSERT(rw_keys_encode(kr, &again, &alen) == 0);
        FZ_ASSERT(alen == len && memcmp(again, buf, len) == 0);
        uint32_t max = rw_keys_max_id(kr);
        FZ_ASSERT((max == 0) == (rw_get32(buf + 12) == 0));
        FZ_ASSERT(max == 0 || rw_keys_data_key(kr, max) != NULL);
        free(again);
        rw_keys_free(kr);
    } else {
        FZ_ASSERT(kr == NULL);
        FZ_ASSERT(rc == RAFTWAL_ECORRUPT || rc == RAFTWAL_EKEY || rc == RAFTWAL_EVERSION);
        const char *msg = raftwal_errmsg();
        FZ_ASSERT(strstr(msg, "KEYS") != NULL);
        FZ_ASSERT(memmem(msg, strlen(msg), FZ_KEYS_MASTER, 8) == NULL);
    }
    free(buf);
    return 0;
}
