/*
 * unit_crc32c.c -- c_unit_crc32c: the checksum layer (src/crc32c.h).
 * Known answers, chaining, and the hardware and software paths agree on
 * random buffers of every length 0..1100 at every alignment 0..15, and
 * on a few large ones; both agree with the test's bitwise reference.
 * The fused copy+CRC (rw_crc32c_copy and its two paths) returns the same
 * CRC as the reference over the source and leaves exactly the source bytes
 * at dst, touching nothing around them, at every length 0..300 and several
 * source and destination misalignments, and at a few large lengths.
 */
#include "crc32c.h"
#include "test_util.h"

static void test_known_answers(void)
{
    static const unsigned char zeros[32] = {0};
    unsigned char ff[32];
    memset(ff, 0xff, sizeof ff);
    CHECK_EQ_U64(rw_crc32c(0, "123456789", 9), 0xE3069283u);
    CHECK_EQ_U64(rw_crc32c_sw(0, "123456789", 9), 0xE3069283u);
    CHECK_EQ_U64(rw_crc32c(0, "", 0), 0);
    CHECK_EQ_U64(rw_crc32c(0, NULL, 0), 0);
    CHECK_EQ_U64(rw_crc32c(0x12345678u, "", 0), 0x12345678u);
    /* RFC 3720 (iSCSI) B.4 test vectors. */
    CHECK_EQ_U64(rw_crc32c(0, zeros, 32), 0x8A9136AAu);
    CHECK_EQ_U64(rw_crc32c(0, ff, 32), 0x62A8AB43u);
    {
        unsigned char inc[32], dec[32];
        int i;
        for (i = 0; i < 32; i++) {
            inc[i] = (unsigned char)i;
            dec[i] = (unsigned char)(31 - i);
        }
        CHECK_EQ_U64(rw_crc32c(0, inc, 32), 0x46DD794Eu);
        CHECK_EQ_U64(rw_crc32c(0, dec, 32), 0x113FDB5Cu);
    }
    /* Chaining: crc(a ++ b) == crc(crc(a), b). */
    CHECK_EQ_U64(rw_crc32c(rw_crc32c(0, "12345", 5), "6789", 4), 0xE3069283u);
    CHECK_EQ_U64(rw_crc32c_sw(rw_crc32c_sw(0, "1", 1), "23456789", 8), 0xE3069283u);
}

static void test_paths_agree(void)
{
    size_t cap = 1 << 20, len, align;
    unsigned char *buf = (unsigned char *)malloc(cap + 64);
    int hw = rw_crc32c_hw_available();
    size_t i;
    CHECK(buf != NULL);
    for (i = 0; i < cap + 64; i++)
        buf[i] = (unsigned char)tu_rand();
    printf("   hardware CRC32C available: %s\n", hw ? "yes" : "no");
    for (len = 0; len <= 1100; len++) {
        for (align = 0; align < 16; align++) {
            const unsigned char *p = buf + align;
            uint32_t ref = tu_crc32c(0, p, len), sw = rw_crc32c_sw(0, p, len);
            CHECK_MSG(sw == ref, "sw len %zu align %zu: %08x != %08x", len, align, sw, ref);
            CHECK_MSG(rw_crc32c(0, p, len) == ref, "dispatch len %zu align %zu", len, align);
            if (hw)
                CHECK_MSG(rw_crc32c_hw(0, p, len) == ref, "hw len %zu align %zu", len,
                          align);
            /* A split anywhere gives the same result. */
            if (len > 0) {
                size_t cut = (size_t)tu_rand_range(0, len);
                CHECK_EQ_U64(rw_crc32c(rw_crc32c(0, p, cut), p + cut, len - cut), ref);
            }
        }
    }
    for (i = 0; i < 8; i++) {
        size_t big = (size_t)tu_rand_range(4096, cap), off = (size_t)tu_rand_range(0, 63);
        uint32_t sw = rw_crc32c_sw(0x5a5a5a5au, buf + off, big);
        CHECK_EQ_U64(rw_crc32c(0x5a5a5a5au, buf + off, big), sw);
        if (hw)
            CHECK_EQ_U64(rw_crc32c_hw(0x5a5a5a5au, buf + off, big), sw);
    }
    free(buf);
}

/* Checks one fused copy: the CRC equals the reference over src, dst[0..len)
 * equals src, and the guard bytes around dst are untouched. */
typedef uint32_t (*copy_fn)(uint32_t, void *, const void *, size_t);

#define GUARD 32
#define GUARD_BYTE 0xA5

static void check_copy(const char *name, copy_fn fn, unsigned char *dbuf, size_t dcap,
                       const unsigned char *src, size_t doff, size_t len, uint32_t seed)
{
    unsigned char *dst = dbuf + GUARD + doff;
    uint32_t ref = tu_crc32c(seed, src, len), got;
    size_t i;
    CHECK(GUARD + doff + len + GUARD <= dcap);
    memset(dbuf, GUARD_BYTE, GUARD + doff + len + GUARD);
    got = fn(seed, dst, src, len);
    CHECK_MSG(got == ref, "%s len %zu src %% 8 = %u dst %% 8 = %u: crc %08x != %08x", name,
              len, (unsigned)((uintptr_t)src & 7), (unsigned)((uintptr_t)dst & 7), got, ref);
    CHECK_MSG(memcmp(dst, src, len) == 0, "%s len %zu doff %zu: bytes differ", name, len, doff);
    for (i = 0; i < GUARD + doff; i++)
        CHECK_MSG(dbuf[i] == GUARD_BYTE, "%s len %zu doff %zu: wrote before dst", name, len,
                  doff);
    for (i = 0; i < GUARD; i++)
        CHECK_MSG(dst[len + i] == GUARD_BYTE, "%s len %zu doff %zu: wrote past dst + len",
                  name, len, doff);
}

static void test_copy(void)
{
    static const size_t offs[] = {0, 1, 3, 4, 7, 8, 13};
    size_t big[] = {(64 << 10) + 1, (64 << 10) + 767, (256 << 10) + 5, 3 * 256, 3 * 256 + 7};
    size_t cap = (256 << 10) + 64, dcap = cap + 2 * GUARD + 16, len, si, di, i;
    unsigned char *src = (unsigned char *)malloc(cap), *dbuf = (unsigned char *)malloc(dcap);
    int hw = rw_crc32c_hw_available();
    uint32_t seed;
    CHECK(src != NULL && dbuf != NULL);
    for (i = 0; i < cap; i++)
        src[i] = (unsigned char)tu_rand();
    /* malloc's blocks are 16-aligned: offs give every src and dst residue
     * mod 8 that matters (0, odd, 4, and beyond one word). */
    CHECK(((uintptr_t)src & 7) == 0 && ((uintptr_t)dbuf & 7) == 0);
    for (len = 0; len <= 300; len++) {
        for (si = 0; si < sizeof offs / sizeof offs[0]; si++) {
            for (di = 0; di < sizeof offs / sizeof offs[0]; di++) {
                seed = (len & 1) ? 0 : (uint32_t)tu_rand();
                check_copy("dispatch", rw_crc32c_copy, dbuf, dcap, src + offs[si], offs[di],
                           len, seed);
                check_copy("sw", rw_crc32c_copy_sw, dbuf, dcap, src + offs[si], offs[di], len,
                           seed);
                if (hw)
                    check_copy("hw", rw_crc32c_copy_hw, dbuf, dcap, src + offs[si], offs[di],
                               len, seed);
            }
        }
    }
    for (i = 0; i < sizeof big / sizeof big[0]; i++) {
        for (si = 0; si < 3; si++) {
            size_t so = offs[si * 2], doff = offs[(si * 3 + 1) % 7];
            seed = (uint32_t)tu_rand();
            check_copy("dispatch", rw_crc32c_copy, dbuf, dcap, src + so, doff, big[i], seed);
            check_copy("sw", rw_crc32c_copy_sw, dbuf, dcap, src + so, doff, big[i], seed);
            if (hw)
                check_copy("hw", rw_crc32c_copy_hw, dbuf, dcap, src + so, doff, big[i], seed);
        }
    }
    /* len 0 reads and writes nothing: NULL is fine, as the encoder passes it. */
    CHECK_EQ_U64(rw_crc32c_copy(0x12345678u, NULL, NULL, 0), 0x12345678u);
    CHECK_EQ_U64(rw_crc32c_copy_sw(0x12345678u, NULL, NULL, 0), 0x12345678u);
    if (hw)
        CHECK_EQ_U64(rw_crc32c_copy_hw(0x12345678u, NULL, NULL, 0), 0x12345678u);
    /* Chaining through the fused copy: crc(a ++ b) == copy(copy(0, a), b). */
    {
        char out[9];
        uint32_t c = rw_crc32c_copy(0, out, "12345", 5);
        CHECK_EQ_U64(rw_crc32c_copy(c, out + 5, "6789", 4), 0xE3069283u);
        CHECK(memcmp(out, "123456789", 9) == 0);
    }
    free(src);
    free(dbuf);
}

int main(int argc, char **argv)
{
    TU_RUN(argc, argv, test_known_answers);
    TU_RUN(argc, argv, test_paths_agree);
    TU_RUN(argc, argv, test_copy);
    return 0;
}
