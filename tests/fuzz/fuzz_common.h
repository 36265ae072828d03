/* fuzz_common.h -- shared by the libFuzzer targets (tests/fuzz/README.md).
 *
 * Random bytes almost never carry a valid CRC32C, so most mutations would
 * stop at the first checksum. Inputs therefore start with a flags byte; with
 * FZ_FIX_CRC set the target first recomputes the checksums the format
 * expects, so the fuzzer also reaches the checks that come after them
 * (lengths, types, offsets, batch structure, recovery logic). Without it the
 * bytes are decoded exactly as given. */
#ifndef RAFTWAL_FUZZ_COMMON_H
#define RAFTWAL_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "format.h"

#define FZ_FIX_CRC 0x1u

/* Fails loudly: an invariant the decoder promised does not hold. */
#define FZ_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static inline uint64_t fz_get64(const uint8_t *p, size_t n)
{
    uint8_t b[8] = {0};
    memcpy(b, p, n < 8 ? n : 8);
    uint64_t v;
    memcpy(&v, b, 8);
    return v;
}

/* Recomputes a segment header's CRC (bytes 60..63 over 0..59). */
static inline void fz_fix_header(uint8_t *buf, size_t len)
{
    if (len >= RW_HEADER_SIZE)
        rw_put32(buf + 60, rw_crc32c(0, buf, 60));
}

/* Recomputes the CRC of the record at buf (salt || header[4..32) ||
 * payload) when its header fits and its length fits in avail. Returns the
 * record's size, or 0 if it cannot be a record. */
static inline size_t fz_fix_record(uint8_t *buf, size_t avail, uint64_t salt)
{
    if (avail < RW_REC_HEADER)
        return 0;
    uint32_t len = rw_get32(buf + 8);
    if ((uint64_t)RW_REC_HEADER + len > avail)
        return 0;
    uint8_t s[8];
    rw_put64(s, salt);
    uint32_t c = rw_crc32c(0, s, 8);
    c = rw_crc32c(c, buf + 4, RW_REC_HEADER - 4);
    c = rw_crc32c(c, buf + RW_REC_HEADER, len);
    rw_put32(buf, c);
    size_t size = RW_REC_HEADER + (size_t)rw_pad8(len);
    return size <= avail ? size : avail;
}

/* Walks a segment image from byte 64 fixing every record's CRC under the
 * salt in force (EPOCH records switch it, as the format says), up to the
 * first all-zero header. */
static inline void fz_fix_segment(uint8_t *buf, size_t len)
{
    if (len < RW_HEADER_SIZE)
        return;
    fz_fix_header(buf, len);
    uint64_t salt = rw_get64(buf + 32);
    for (size_t off = RW_HEADER_SIZE; off + RW_REC_HEADER <= len;) {
        int zero = 1;
        for (size_t i = 0; i < RW_REC_HEADER && zero; i++)
            zero = buf[off + i] == 0;
        if (zero)
            break;
        uint64_t rec_salt = buf[off + 4] == RW_REC_FOOTER ? rw_get64(buf + 32) : salt;
        size_t size = fz_fix_record(buf + off, len - off, rec_salt);
        if (!size)
            break;
        if (buf[off + 4] == RW_REC_EPOCH)
            salt = rw_get64(buf + off + 24);
        off += size;
    }
    if (len >= RW_HEADER_SIZE + RW_SEAL_SIZE) /* a SEAL at the end */
        fz_fix_record(buf + len - RW_SEAL_SIZE, RW_SEAL_SIZE, rw_get64(buf + 32));
}

/* A private copy of the input the target may modify. */
static inline uint8_t *fz_copy(const uint8_t *data, size_t size)
{
    uint8_t *p = malloc(size ? size : 1);
    if (p && size)
        memcpy(p, data, size);
    return p;
}

#endif
