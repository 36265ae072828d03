/* fuzz_codec -- the codec's read path (rw_codec_check, rw_codec_decode,
 * rw_codec_open_record): what a stored ENTRY payload with a valid CRC
 * decodes to.
 * Input: codec byte, segment version byte, then the stored payload
 * ([raw_len u32][LZ4 block or zstd frame] when compressed). A payload the
 * check accepts must decode to exactly its raw length or be refused with a
 * reason; never read or write outside the buffers. A decoded entry
 * compresses back (with the codec it was stored with) and decodes to the
 * same bytes. */
#include "fuzz_common.h"

#include "codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size - 2 > UINT32_MAX)
        return 0;
    rw_rec r;
    memset(&r, 0, sizeof r);
    r.type = RW_REC_ENTRY;
    r.codec = data[0] & (RW_CODEC_KNOWN | RW_CODEC_SEALED | RW_CODEC_ZSTD);
    uint32_t version = data[1] & 1 ? RW_FORMAT_VERSION_CODEC : RW_FORMAT_VERSION;
    r.len = (uint32_t)(size - 2);
    uint8_t *stored = fz_copy(data + 2, r.len); /* exactly the payload: ASan sees overreads */
    r.payload = stored;
    const char *why = NULL;
    int rc = rw_codec_check(version, &r, &why);
    FZ_ASSERT(rc == 0 || rc == RAFTWAL_ECORRUPT || rc == RAFTWAL_EVERSION);
    if (rc != 0) {
        FZ_ASSERT(why != NULL);
        free(stored);
        return 0;
    }
    uint32_t raw = rw_codec_data_size(&r);
    FZ_ASSERT(raw <= RAFTWAL_MAX_ENTRY_SIZE);
    if (raw > (1u << 20)) { /* valid, but not worth the fuzzer's memory */
        free(stored);
        return 0;
    }
    uint8_t *out = malloc(raw ? raw : 1);
    if (r.codec & RW_CODEC_SEALED) {
        /* A sealed payload under a fixed key: opens (a forged tag almost
         * never verifies) or is refused with a reason; the header bytes
         * the AAD reads are zeros but for type, codec and len. */
        static const uint8_t key[32] = {1, 2, 3};
        uint8_t *rec = malloc(RW_REC_HEADER + (size_t)r.len);
        memset(rec, 0, RW_REC_HEADER);
        rec[4] = r.type;
        rec[5] = r.codec;
        rw_put32(rec + 8, r.len);
        memcpy(rec + RW_REC_HEADER, stored, r.len);
        r.payload = rec + RW_REC_HEADER;
        rw_seal_ctx sc = {key, 0x100000001ull, 64, NULL};
        if (rw_codec_open_record(&sc, rec, &r, out, raw, &why) != 0)
            FZ_ASSERT(why != NULL);
        FZ_ASSERT(rw_codec_decode(&r, out, raw, &why) != 0); /* only the key opens it */
        free(rec);
    } else if (rw_codec_decode(&r, out, raw, &why) != 0) {
        FZ_ASSERT(why != NULL);
    } else if (r.codec) {
        /* Round trip through the write path (the decode worked: the build
         * has the record's codec). */
        raftwal_entry e = {.index = 1, .term = 1, .data = out, .size = raw};
        rw_codec c;
        raftwal_options o = RAFTWAL_OPTIONS_INIT;
        o.compression = (r.codec & RW_CODEC_LZ4) ? RAFTWAL_COMPRESS_LZ4 : RAFTWAL_COMPRESS_ZSTD;
        o.compress_min = 1;
        rw_codec_init(&c, &o);
        uint8_t *rec = malloc(rw_rec_size(raw));
        int compressed;
        size_t n = rw_codec_encode_entry(&c, RW_FORMAT_VERSION_CODEC, rec, 7, &e, &compressed);
        FZ_ASSERT(n <= rw_rec_size(raw));
        rw_rec back;
        FZ_ASSERT(rw_rec_decode(rec, n, 7, &back, &why) == RW_REC_OK);
        FZ_ASSERT(rw_codec_check(RW_FORMAT_VERSION_CODEC, &back, &why) == 0);
        FZ_ASSERT(rw_codec_data_size(&back) == raw);
        uint8_t *again = malloc(raw ? raw : 1);
        FZ_ASSERT(rw_codec_decode(&back, again, raw, &why) == 0);
        FZ_ASSERT(raw == 0 || memcmp(again, out, raw) == 0);
        free(again);
        free(rec);
    }
    free(out);
    free(stored);
    return 0;
}
