/* crc32c.c -- CRC32C: slicing-by-8 tables, plus SSE4.2 / ARMv8 instructions.
 *
 * The hardware path runs three independent chains over consecutive 256-byte
 * lanes and joins them with a precomputed "append 256 zero bytes" operator
 * (the crc32q instruction has a 3-cycle latency but issues every cycle: one
 * chain uses a third of it). The implementation and the tables are chosen
 * once, by a constructor when the library is loaded.
 *
 * rw_crc32c_copy() is the same loop with a store after each load: the record
 * encoder copies a payload into the batch buffer and checksums it in one
 * pass, so each payload byte is read once instead of twice. Each word is
 * loaded once, then stored and checksummed, so the CRC describes the bytes
 * as stored (as it did when the encoder checksummed its own copy). */
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#define POLY 0x82F63B78u

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void shift_init(void);

static void table_init(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
        table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++)
        for (int t = 1; t < 8; t++)
            table[t][n] = (table[t - 1][n] >> 8) ^ table[0][table[t - 1][n] & 0xff];
    shift_init();
}

uint32_t rw_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    pthread_once(&table_once, table_init);
    crc = ~crc;
    while (len && ((uintptr_t)p & 7)) {
        crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
        len--;
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= crc; /* little-endian hosts only (checked at build time below) */
        crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^
              table[5][(w >> 16) & 0xff] ^ table[4][(w >> 24) & 0xff] ^
              table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
              table[1][(w >> 48) & 0xff] ^ table[0][(w >> 56) & 0xff];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

uint32_t rw_crc32c_copy_sw(uint32_t crc, void *dst, const void *src, size_t len)
{
    if (!len)
        return crc;
    memcpy(dst, src, len);
    return rw_crc32c_sw(crc, dst, len); /* the bytes as written, as before */
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "raftwal's on-disk format code assumes a little-endian host"
#endif

/* Lane length of the three-way hardware loop, and the operator that
 * advances a raw CRC register over LANE zero bytes: linear, so a table per
 * register byte. */
#define LANE 256
static uint32_t shift_lane[4][256];

static uint32_t zeros_sw(uint32_t r, size_t n)
{
    while (n--)
        r = (r >> 8) ^ table[0][r & 0xff];
    return r;
}

static void shift_init(void)
{
    uint32_t basis[32];
    for (int i = 0; i < 32; i++)
        basis[i] = zeros_sw(1u << i, LANE);
    for (int k = 0; k < 4; k++)
        for (uint32_t b = 0; b < 256; b++) {
            uint32_t v = 0;
            for (int i = 0; i < 8; i++)
                if (b & (1u << i))
                    v ^= basis[8 * k + i];
            shift_lane[k][b] = v;
        }
}

static inline uint32_t shift(uint32_t r)
{
    return shift_lane[0][r & 0xff] ^ shift_lane[1][(r >> 8) & 0xff] ^
           shift_lane[2][(r >> 16) & 0xff] ^ shift_lane[3][r >> 24];
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <nmmintrin.h>

__attribute__((target("sse4.2")))
uint32_t rw_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint64_t c = ~crc;
    while (len && ((uintptr_t)p & 7)) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        len--;
    }
    while (len >= 3 * LANE) {
        uint64_t c1 = 0, c2 = 0;
        for (size_t i = 0; i < LANE; i += 8) {
            uint64_t w0, w1, w2;
            memcpy(&w0, p + i, 8);
            memcpy(&w1, p + LANE + i, 8);
            memcpy(&w2, p + 2 * LANE + i, 8);
            c = _mm_crc32_u64(c, w0);
            c1 = _mm_crc32_u64(c1, w1);
            c2 = _mm_crc32_u64(c2, w2);
        }
        c = shift(shift((uint32_t)c) ^ (uint32_t)c1) ^ (uint32_t)c2;
        p += 3 * LANE;
        len -= 3 * LANE;
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
        p += 8;
        len -= 8;
    }
    while (len--)
        c = _mm_crc32_u8((uint32_t)c, *p++);
    return ~(uint32_t)c;
}

/* Head bytes until dst is 8-aligned (the encoder's dst always is, so this
 * usually does nothing); unaligned 8-byte loads are cheap on x86. */
__attribute__((target("sse4.2")))
uint32_t rw_crc32c_copy_hw(uint32_t crc, void *dst, const void *src, size_t len)
{
    const unsigned char *restrict p = src;
    unsigned char *restrict q = dst;
    uint64_t c = ~crc;
    while (len && ((uintptr_t)q & 7)) {
        unsigned char v = *p++;
        *q++ = v;
        c = _mm_crc32_u8((uint32_t)c, v);
        len--;
    }
    while (len >= 3 * LANE) {
        uint64_t c1 = 0, c2 = 0;
        for (size_t i = 0; i < LANE; i += 8) {
            uint64_t w0, w1, w2;
            memcpy(&w0, p + i, 8);
            memcpy(&w1, p + LANE + i, 8);
            memcpy(&w2, p + 2 * LANE + i, 8);
            memcpy(q + i, &w0, 8);
            memcpy(q + LANE + i, &w1, 8);
            memcpy(q + 2 * LANE + i, &w2, 8);
            c = _mm_crc32_u64(c, w0);
            c1 = _mm_crc32_u64(c1, w1);
            c2 = _mm_crc32_u64(c2, w2);
        }
        c = shift(shift((uint32_t)c) ^ (uint32_t)c1) ^ (uint32_t)c2;
        p += 3 * LANE;
        q += 3 * LANE;
        len -= 3 * LANE;
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        memcpy(q, &w, 8);
        c = _mm_crc32_u64(c, w);
        p += 8;
        q += 8;
        len -= 8;
    }
    while (len--) {
        unsigned char v = *p++;
        *q++ = v;
        c = _mm_crc32_u8((uint32_t)c, v);
    }
    return ~(uint32_t)c;
}

int rw_crc32c_hw_available(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    return (c & bit_SSE4_2) != 0;
}
#elif defined(__aarch64__) && defined(__GNUC__)
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif

__attribute__((target("+crc")))
uint32_t rw_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint32_t c = ~crc;
    while (len && ((uintptr_t)p & 7)) {
        __asm__("crc32cb %w0, %w0, %w1" : "+r"(c) : "r"(*p++));
        len--;
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        __asm__("crc32cx %w0, %w0, %x1" : "+r"(c) : "r"(w));
        p += 8;
        len -= 8;
    }
    while (len--)
        __asm__("crc32cb %w0, %w0, %w1" : "+r"(c) : "r"(*p++));
    return ~c;
}

__attribute__((target("+crc")))
uint32_t rw_crc32c_copy_hw(uint32_t crc, void *dst, const void *src, size_t len)
{
    const unsigned char *restrict p = src;
    unsigned char *restrict q = dst;
    uint32_t c = ~crc;
    while (len && ((uintptr_t)q & 7)) {
        unsigned char v = *p++;
        *q++ = v;
        __asm__("crc32cb %w0, %w0, %w1" : "+r"(c) : "r"(v));
        len--;
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        memcpy(q, &w, 8);
        __asm__("crc32cx %w0, %w0, %x1" : "+r"(c) : "r"(w));
        p += 8;
        q += 8;
        len -= 8;
    }
    while (len--) {
        unsigned char v = *p++;
        *q++ = v;
        __asm__("crc32cb %w0, %w0, %w1" : "+r"(c) : "r"(v));
    }
    return ~c;
}

int rw_crc32c_hw_available(void)
{
    return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0;
}
#else
uint32_t rw_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
    return rw_crc32c_sw(crc, buf, len);
}

uint32_t rw_crc32c_copy_hw(uint32_t crc, void *dst, const void *src, size_t len)
{
    return rw_crc32c_copy_sw(crc, dst, src, len);
}

int rw_crc32c_hw_available(void)
{
    return 0;
}
#endif

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);
typedef uint32_t (*crc_copy_fn)(uint32_t, void *, const void *, size_t);
static crc_fn chosen;
static crc_copy_fn chosen_copy;

/* Runs when the library is loaded (before any thread of the program can call
 * it), so the hot path is a plain indirect call. */
__attribute__((constructor)) static void crc32c_init(void)
{
    pthread_once(&table_once, table_init);
    int hw = rw_crc32c_hw_available();
    chosen = hw ? rw_crc32c_hw : rw_crc32c_sw;
    chosen_copy = hw ? rw_crc32c_copy_hw : rw_crc32c_copy_sw;
}

uint32_t rw_crc32c(uint32_t crc, const void *buf, size_t len)
{
    return chosen(crc, buf, len);
}

uint32_t rw_crc32c_copy(uint32_t crc, void *dst, const void *src, size_t len)
{
    return chosen_copy(crc, dst, src, len);
}
