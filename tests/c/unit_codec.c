/*
 * unit_codec.c -- c_unit_codec: the codec's building blocks (src/codec.c,
 * docs/format.md §7) below the engine:
 *   - every record type sealed with AES-256-GCM opens to its data, with
 *     and without compression, with the nonce salt || offset reported to
 *     the test hook; the stored length is the data's + 16 (+ 4 + block
 *     when compressed);
 *   - a sealed record is rejected (never returned as data) when any byte
 *     of its header fields, its ciphertext or its tag changes, or when it
 *     is opened under another key, salt or offset;
 *   - compression is kept only when the padded record shrinks.
 */
#include "test_util.h"

#include "codec.h"
#include "format.h"

static uint8_t key1[32], key2[32];

static unsigned nonces_seen;
static uint8_t last_nonce[RW_NONCE_SIZE];
static uint32_t last_key_id;

static void hook(uint32_t id, const uint8_t nonce[RW_NONCE_SIZE])
{
    nonces_seen++;
    last_key_id = id;
    memcpy(last_nonce, nonce, RW_NONCE_SIZE);
}

/* Decodes the record at buf as the engine's read path will: framing
 * (rw_rec_decode sees the codec byte as it is in the header) then open. */
static void rec_from(const uint8_t *buf, rw_rec *r)
{
    r->type = buf[4];
    r->codec = buf[5];
    r->len = tu_le32(buf + 8);
    r->aux = tu_le32(buf + 12);
    r->a = tu_le64(buf + 16);
    r->b = tu_le64(buf + 24);
    r->payload = buf + RW_REC_HEADER;
}

static void test_round_trips(void)
{
    static const uint8_t types[] = {RW_REC_ENTRY, RW_REC_COMMIT, RW_REC_HARDSTATE, RW_REC_SNAPSHOT,
                                    RW_REC_METADATA, RW_REC_PURGE, RW_REC_TRUNCATE,
                                    RW_REC_CHECKPOINT, RW_REC_EPOCH};
    static const uint32_t sizes[] = {0, 1, 15, 16, 100, 1000, 5000};
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    rw_codec c;
    size_t t, k;
    o.compression = (raftwal_features() & RAFTWAL_FEATURE_LZ4) ? RAFTWAL_COMPRESS_LZ4 : 0;
    rw_codec_init(&c, &o);
    for (t = 0; t < sizeof types; t++) {
        for (k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            uint32_t len = sizes[k];
            int compressible;
            if (len > rw_rec_max_len(types[t]) && types[t] != RW_REC_CHECKPOINT)
                continue; /* (a CHECKPOINT's own checks are the decoder's) */
            for (compressible = 0; compressible < 2; compressible++) {
                uint8_t *data = malloc(len + 1), *rec = malloc(rw_rec_size(len + RW_TAG_SIZE));
                uint8_t *back = malloc(len + 1);
                rw_seal_ctx sc = {key1, 0x0000000700000009ull, 4096 + 8 * k, NULL};
                uint32_t i;
                int compressed;
                size_t n;
                rw_rec r;
                const char *why = NULL;
                CHECK(data && rec && back);
                for (i = 0; i < len; i++)
                    data[i] = compressible ? (uint8_t)('a' + i % 3) : (uint8_t)tu_rand();
                nonces_seen = 0;
                n = rw_codec_encode_record(&c, RW_FORMAT_VERSION_CODEC, &sc, rec, 0x55, types[t], 3,
                                           11, 12, data, len, &compressed);
                CHECK(n > 0 && n <= rw_rec_size(len + RW_TAG_SIZE));
                CHECK_EQ_U64(nonces_seen, 1);
                CHECK_EQ_U64(last_key_id, 7);
                CHECK_EQ_U64(tu_le64(last_nonce), sc.salt);
                CHECK_EQ_U64(tu_le32(last_nonce + 8), sc.off);
                /* Framing: the CRC covers the stored (sealed) bytes. */
                CHECK_EQ_U64(rw_rec_decode(rec, n, 0x55, &r, &why), RW_REC_OK);
                CHECK(r.payload == rec + RW_REC_HEADER);
                rec_from(rec, &r);
                CHECK(r.codec & RW_CODEC_SEALED);
                CHECK_EQ_U64(compressed, (r.codec & RW_CODEC_LZ4) != 0);
                if (!compressed)
                    CHECK_EQ_U64(r.len, len + RW_TAG_SIZE);
                else
                    CHECK(types[t] == RW_REC_ENTRY && compressible &&
                          rw_rec_size(r.len) < rw_rec_size(len + RW_TAG_SIZE));
                if (len)
                    CHECK(memmem(rec, n, data, len < 16 ? len : 16) == NULL || len < 4);
                CHECK_EQ_U64(rw_codec_data_size(&r), len);
                CHECK_MSG(rw_codec_open_record(&sc, rec, &r, back, len, &why) == 0, "%s", why);
                CHECK(len == 0 || memcmp(back, data, len) == 0);
                free(data);
                free(rec);
                free(back);
            }
        }
    }
}

/* Every changed byte of the record (but the CRC, which the framing
 * checks, and the padding) makes it fail to open; so do another key, salt
 * and offset. */
static void test_tamper(void)
{
    uint8_t data[200], rec[512], back[200];
    rw_seal_ctx sc = {key1, 0x0000000100000002ull, 640, NULL};
    rw_codec c;
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    size_t n, i;
    int compressed, lz;
    rw_rec r;
    const char *why;
    for (lz = 0; lz < 2; lz++) {
        o.compression = lz && (raftwal_features() & RAFTWAL_FEATURE_LZ4) ? RAFTWAL_COMPRESS_LZ4 : 0;
        rw_codec_init(&c, &o);
        for (i = 0; i < sizeof data; i++)
            data[i] = lz ? (uint8_t)(i % 5) : (uint8_t)tu_rand();
        n = rw_codec_encode_record(&c, RW_FORMAT_VERSION_CODEC, &sc, rec, 1, RW_REC_ENTRY, 1, 5, 6,
                                   data, sizeof data, &compressed);
        rec_from(rec, &r);
        size_t stored_end = RW_REC_HEADER + r.len;
        for (i = 4; i < stored_end; i++) {
            uint8_t copy[512];
            rw_rec rr;
            memcpy(copy, rec, n);
            copy[i] ^= 0x20;
            rec_from(copy, &rr);
            if (rr.codec != r.codec || rr.len != r.len)
                continue; /* the framing refuses those (codec byte, length) */
            CHECK_MSG(rw_codec_open_record(&sc, copy, &rr, back, sizeof back, &why) != 0,
                      "byte %zu (lz %d)", i, lz);
        }
        {
            rw_seal_ctx other = sc;
            other.key = key2;
            CHECK(rw_codec_open_record(&other, rec, &r, back, sizeof back, &why) != 0);
            other = sc;
            other.salt ^= 1;
            CHECK(rw_codec_open_record(&other, rec, &r, back, sizeof back, &why) != 0);
            other = sc;
            other.off += 8;
            CHECK(rw_codec_open_record(&other, rec, &r, back, sizeof back, &why) != 0);
        }
        CHECK(rw_codec_open_record(&sc, rec, &r, back, sizeof back, &why) == 0);
        CHECK(memcmp(back, data, sizeof data) == 0);
    }
}

int main(void)
{
    size_t i;
    if (!(raftwal_features() & RAFTWAL_FEATURE_LZ4))
        printf("c_unit_codec: no LZ4 in this build: compression parts skipped\n");
    for (i = 0; i < 32; i++) {
        key1[i] = (uint8_t)tu_rand();
        key2[i] = (uint8_t)tu_rand();
    }
    rw_codec_nonce_hook = hook;
    test_round_trips();
    test_tamper();
    printf("c_unit_codec: ok\n");
    return 0;
}
