/*
 * unit_crc32c.c -- c_unit_crc32c: the checksum layer (src/crc32c.h).
 * Known answers, chaining, and the hardware and software paths agree on
 * random buffers of every length 0..1100 at every alignment 0..15, and
 * on a few large ones; both agree with the test's bitwise reference.
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

int main(int argc, char **argv)
{
    TU_RUN(argc, argv, test_known_answers);
    TU_RUN(argc, argv, test_paths_agree);
    return 0;
}
