/*
 * test_compression.c -- c_compression: LZ4 and zstd compression of
 * entries (docs/format.md, section 7). Each codec the build has runs:
 *
 *   - JSON-like payloads take less than half their size on disk (stats and
 *     raftwal_verify's check both say so), and read back exactly;
 *   - random payloads cost at most 2% more on disk than without
 *     compression (measured: bytes written by the same workload);
 *   - a log mixing plain and compressed segments (plain, then LZ4, then
 *     plain again) reads back whole through get, iterators and a
 *     read-only handle, after reopen, and verifies;
 *   - iterators' byte caps count decoded sizes; get's ERANGE reports the
 *     decoded size without decoding;
 *   - a compressed payload damaged under a valid CRC is RAFTWAL_ECORRUPT
 *     naming the file and offset (get, iterator, verify), never data;
 *   - a codec byte in a version 1 segment is corruption, a segment version
 *     the library does not know is RAFTWAL_EVERSION;
 *   - a log mixing LZ4, zstd and plain entries (each handle writes with
 *     its own option) reads back whole across reopens, and verifies;
 *   - the LZ4 and zstd bits together are an invalid codec byte;
 *   - a build without LZ4 or zstd refuses the option (RAFTWAL_EINVAL).
 */
#include "test_util.h"

#define SEG RAFTWAL_MIN_SEGMENT_SIZE

static int have_lz4(void)
{
    return (raftwal_features() & RAFTWAL_FEATURE_LZ4) != 0;
}

static int have_zstd(void)
{
    return (raftwal_features() & RAFTWAL_FEATURE_ZSTD) != 0;
}

static const char *codec_name(unsigned compression)
{
    return compression == RAFTWAL_COMPRESS_ZSTD ? "zstd" : "LZ4";
}

/* The codec byte bit a compressed entry gets from the option. */
static unsigned char codec_bit(unsigned compression)
{
    return compression == RAFTWAL_COMPRESS_ZSTD ? 0x02 : 0x01;
}

static raftwal_log *open_log(const char *dir, unsigned compression, uint64_t seg, unsigned flags)
{
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    raftwal_log *log = NULL;
    o.flags = RAFTWAL_OPEN_CREATE | flags;
    o.segment_size = seg;
    o.compression = compression;
    CHECK_OK(raftwal_log_open(&log, dir, &o));
    return log;
}

/* A JSON command of about `size` bytes, varying with index: records of
 * the same shape, each with its own key, numbers and a random 64-bit id
 * (so that it does not compress like a repeated string). */
static void json_fill(char *buf, size_t size, uint64_t index)
{
    size_t n = 0;
    uint64_t j = 0;
    while (n < size) {
        char rec[200];
        uint64_t r = tu_mix(index * 131 + j++);
        int k = snprintf(rec, sizeof rec,
                         "{\"op\":\"put\",\"key\":\"users/%06" PRIu64 "/profile\",\"id\":\"%016"
                         PRIx64 "\",\"value\":{\"name\":\"user%" PRIu64 "\",\"active\":%s,"
                         "\"score\":%" PRIu64 "}},",
                         (index * 7 + j) % 1000000, r, r % 100000, (r >> 20) & 1 ? "true" : "false",
                         (r >> 32) % 10000);
        size_t take = (size_t)k < size - n ? (size_t)k : size - n;
        memcpy(buf + n, rec, take);
        n += take;
    }
}

enum payload_kind { JSON, RANDOM };

/* The expected bytes of entry `index` of a log written by append_range. */
static void fill(enum payload_kind kind, unsigned char *buf, size_t size, uint64_t index)
{
    if (kind == JSON) {
        json_fill((char *)buf, size, index);
    } else {
        uint64_t x = tu_mix(index * 0x9e3779b97f4a7c15ull + 1);
        size_t i;
        for (i = 0; i < size; i++) {
            if (i % 8 == 0)
                x = tu_mix(x + i);
            buf[i] = (unsigned char)(x >> (8 * (i % 8)));
        }
    }
}

/* Entry i has size_of(i) bytes. */
static size_t size_of(uint64_t index, size_t base)
{
    return base + (size_t)(index % 7) * 13;
}

static void append_range(raftwal_log *log, uint64_t first, uint64_t n, size_t per_batch,
                         enum payload_kind kind, size_t base)
{
    raftwal_entry *e = calloc(per_batch, sizeof *e);
    unsigned char *buf = malloc(per_batch * (base + 100));
    uint64_t i = first;
    CHECK(e && buf);
    while (i < first + n) {
        size_t k = 0, off = 0;
        while (k < per_batch && i < first + n) {
            size_t sz = size_of(i, base);
            fill(kind, buf + off, sz, i);
            e[k].index = i;
            e[k].term = 1;
            e[k].type = 1;
            e[k].data = buf + off;
            e[k].size = sz;
            off += sz;
            k++;
            i++;
        }
        CHECK_OK(raftwal_log_append(log, e, k, NULL, 0));
    }
    free(e);
    free(buf);
}

/* Reads [lo, hi] back through get (exact buffer) and an iterator. */
static void read_back(raftwal_log *log, uint64_t lo, uint64_t hi, enum payload_kind kind,
                      size_t base)
{
    unsigned char want[4096], got[4096];
    raftwal_entry e;
    raftwal_iter *it;
    uint64_t i;
    int rc;
    for (i = lo; i <= hi; i++) {
        size_t sz = size_of(i, base);
        fill(kind, want, sz, i);
        CHECK_OK(raftwal_log_get(log, i, &e, got, sz));
        CHECK_EQ_U64(e.size, sz);
        CHECK_MSG(memcmp(got, want, sz) == 0, "entry %" PRIu64, i);
    }
    CHECK_OK(raftwal_iter_open(&it, log, lo, hi + 1, RAFTWAL_NO_LIMIT));
    i = lo;
    while ((rc = raftwal_iter_next(it, &e)) == 1) {
        size_t sz = size_of(i, base);
        fill(kind, want, sz, i);
        CHECK_EQ_U64(e.index, i);
        CHECK_EQ_U64(e.size, sz);
        CHECK_MSG(memcmp(e.data, want, sz) == 0, "entry %" PRIu64, i);
        i++;
    }
    CHECK_RC(rc, 0);
    CHECK_EQ_U64(i, hi + 1);
    raftwal_iter_close(it);
}

/* Version of the header of segment file seq. */
static uint32_t seg_version(const char *dir, uint64_t seq)
{
    char path[1024];
    size_t size;
    unsigned char *b = tu_read_file(tu_segment_path(path, dir, seq), &size);
    uint32_t v;
    CHECK(b && size >= 64);
    v = tu_le32(b + 8);
    free(b);
    return v;
}

static void test_json_half(unsigned compression)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, compression, 0, 0);
    raftwal_stats st;
    raftwal_check ck;
    uint64_t n = 2000;
    append_range(log, 1, n, 16, JSON, 1024);
    st.size = sizeof st;
    CHECK_OK(raftwal_log_stats(log, &st));
    CHECK_EQ_U64(st.compressed_entries, n);
    CHECK_MSG(st.stored_entry_bytes * 2 < st.appended_bytes, "stored %" PRIu64 " of %" PRIu64,
              st.stored_entry_bytes, st.appended_bytes);
    printf("%s, json 1 KiB x 16: %" PRIu64 " data bytes stored in %" PRIu64 " (%.3f); written %"
           PRIu64 " (%.3f of the data)\n", codec_name(compression), st.appended_bytes, st.stored_entry_bytes,
           (double)st.stored_entry_bytes / (double)st.appended_bytes, st.written_bytes,
           (double)st.written_bytes / (double)st.appended_bytes);
    read_back(log, 1, n, JSON, 1024);
    CHECK_OK(raftwal_log_close(log));
    CHECK_EQ_U64(seg_version(dir, 1), 2);
    memset(&ck, 0, sizeof ck);
    ck.size = sizeof ck;
    CHECK_OK(raftwal_verify(dir, &ck));
    CHECK_EQ_U64(ck.compressed_entries, n);
    CHECK_EQ_U64(ck.entry_bytes, st.appended_bytes);
    CHECK_EQ_U64(ck.stored_entry_bytes, st.stored_entry_bytes);
    /* Reopened without the option: readers need none. */
    log = open_log(dir, RAFTWAL_COMPRESS_NONE, 0, RAFTWAL_OPEN_READONLY);
    read_back(log, 1, n, JSON, 1024);
    CHECK_OK(raftwal_log_close(log));
}

/* The same random workload with and without LZ4: bytes written. */
static uint64_t random_written(unsigned compression, uint64_t *stored, uint64_t *data,
                               uint64_t *ncomp)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, compression, 0, 0);
    raftwal_stats st;
    append_range(log, 1, 2000, 16, RANDOM, 1024);
    st.size = sizeof st;
    CHECK_OK(raftwal_log_stats(log, &st));
    read_back(log, 1, 2000, RANDOM, 1024);
    CHECK_OK(raftwal_log_close(log));
    *stored = st.stored_entry_bytes;
    *data = st.appended_bytes;
    *ncomp = st.compressed_entries;
    return st.written_bytes;
}

static void test_random_costs_nothing(unsigned compression)
{
    uint64_t s0, d0, c0, s1, d1, c1;
    uint64_t plain = random_written(RAFTWAL_COMPRESS_NONE, &s0, &d0, &c0);
    uint64_t lz4 = random_written(compression, &s1, &d1, &c1);
    printf("random 1 KiB x 16: written %" PRIu64 " with %s, %" PRIu64 " without (%.4f); "
           "%" PRIu64 " entries kept compressed\n", lz4, codec_name(compression), plain,
           (double)lz4 / (double)plain, c1);
    CHECK_EQ_U64(d0, d1);
    CHECK_MSG(lz4 * 100 <= plain * 102, "%s wrote %" PRIu64 ", plain %" PRIu64,
              codec_name(compression), lz4, plain);
    CHECK_MSG(s1 * 100 <= d1 * 102, "stored %" PRIu64 " of %" PRIu64, s1, d1);
    /* Compression is kept only when it saves space: never on random data. */
    CHECK_EQ_U64(c1, 0);
}

/* Plain, then compressed (in new segments), then plain again; reopens
 * between them; every entry reads back, the log verifies, and both
 * segment versions are there. */
static void test_mixed(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_COMPRESS_NONE, SEG, 0);
    raftwal_check ck;
    raftwal_stats st;
    int v1 = 0, v2 = 0;
    uint64_t seq;
    append_range(log, 1, 300, 8, JSON, 900);
    CHECK_OK(raftwal_log_close(log));
    log = open_log(dir, RAFTWAL_COMPRESS_LZ4, SEG, 0);
    append_range(log, 301, 1500, 8, JSON, 900);
    st.size = sizeof st;
    CHECK_OK(raftwal_log_stats(log, &st));
    CHECK(st.compressed_entries > 0);
    read_back(log, 1, 1800, JSON, 900);
    CHECK_OK(raftwal_log_close(log));
    log = open_log(dir, RAFTWAL_COMPRESS_NONE, SEG, 0);
    append_range(log, 1801, 600, 8, JSON, 900);
    read_back(log, 1, 2400, JSON, 900);
    /* A truncation into the compressed part, rewritten plain. */
    CHECK_OK(raftwal_log_truncate(log, 1000));
    append_range(log, 1000, 1401, 8, JSON, 900);
    read_back(log, 1, 2400, JSON, 900);
    CHECK_OK(raftwal_log_close(log));
    for (seq = 1; tu_segment_exists(dir, seq); seq++) {
        uint32_t v = seg_version(dir, seq);
        v1 += v == 1;
        v2 += v == 2;
    }
    CHECK_MSG(v1 > 0 && v2 > 0, "%d version 1 and %d version 2 segments", v1, v2);
    memset(&ck, 0, sizeof ck);
    ck.size = sizeof ck;
    CHECK_OK(raftwal_verify(dir, &ck));
    CHECK(ck.compressed_entries > 0 && ck.compressed_entries < 2400);
    CHECK(ck.stored_entry_bytes < ck.entry_bytes);
    log = open_log(dir, RAFTWAL_COMPRESS_NONE, SEG, RAFTWAL_OPEN_READONLY);
    read_back(log, 1, 2400, JSON, 900);
    CHECK_OK(raftwal_log_close(log));
}

/* Byte caps count decoded sizes; views stay valid until the next call;
 * get's ERANGE reports the decoded size. */
static void test_caps_and_erange(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_COMPRESS_LZ4, 0, 0);
    raftwal_iter *it;
    raftwal_entry e;
    unsigned char small[100];
    unsigned char want[2048];
    size_t sz1 = size_of(1, 1024), sz2 = size_of(2, 1024);
    int n = 0;
    append_range(log, 1, 50, 10, JSON, 1024);
    /* Stored, each entry takes ~100 bytes: a cap counting stored bytes
     * would let ten through. */
    CHECK_OK(raftwal_iter_open(&it, log, 1, 51, sz1 + sz2));
    while (raftwal_iter_next(it, &e) == 1) {
        fill(JSON, want, e.size, e.index);
        CHECK(memcmp(e.data, want, e.size) == 0);
        n++;
    }
    CHECK_EQ_U64(n, 2);
    raftwal_iter_close(it);
    CHECK_OK(raftwal_iter_open(&it, log, 1, 51, 0)); /* 0: exactly one */
    CHECK_RC(raftwal_iter_next(it, &e), 1);
    CHECK_RC(raftwal_iter_next(it, &e), 0);
    raftwal_iter_close(it);
    CHECK_RC(raftwal_log_get(log, 2, &e, small, sizeof small), RAFTWAL_ERANGE);
    CHECK_EQ_U64(e.size, sz2);
    CHECK(e.data == NULL);
    CHECK_RC(raftwal_log_get(log, 2, &e, NULL, 0), RAFTWAL_ERANGE);
    CHECK_EQ_U64(e.size, sz2);
    CHECK_OK(raftwal_log_close(log));
}

/* The first compressed ENTRY record of segment 1: its offset. Records are
 * walked under the header's salt (a fresh segment has no EPOCH). */
static uint64_t first_compressed(const unsigned char *b, size_t size, unsigned char bit)
{
    uint64_t off = 64;
    while (off + 32 <= size) {
        uint32_t len = tu_le32(b + off + 8);
        if (b[off + 4] == 0)
            break;
        if (b[off + 4] == 1 && b[off + 5] == bit)
            return off;
        off += 32 + ((len + 7) & ~7u);
    }
    CHECK_MSG(0, "no compressed entry found");
    return 0;
}

static void reseal_record(unsigned char *b, uint64_t off)
{
    unsigned char s8[8];
    uint32_t len = tu_le32(b + off + 8);
    memcpy(s8, b + 32, 8); /* the header salt */
    tu_put_le32(b + off, tu_crc32c(tu_crc32c(tu_crc32c(0, s8, 8), b + off + 4, 28),
                                   b + off + 32, len));
}

/* The damaged entry is RAFTWAL_ECORRUPT naming the file and offset: at
 * open when the damage is in the record's structure (the tail's records
 * are checked when scanned), else when it is read (get, iterator); and
 * by verify either way. */
static void expect_corrupt(const char *dir, uint64_t index, uint64_t off, int others_fine)
{
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    raftwal_log *log = NULL;
    raftwal_entry e;
    unsigned char buf[4096];
    raftwal_iter *it;
    char where[64];
    int rc;
    snprintf(where, sizeof where, "offset %" PRIu64, off);
    rc = raftwal_log_open(&log, dir, &o);
    if (rc == 0) {
        CHECK_RC(raftwal_log_get(log, index, &e, buf, sizeof buf), RAFTWAL_ECORRUPT);
        CHECK_MSG(strstr(raftwal_errmsg(), "0000000000000001.wal") && strstr(raftwal_errmsg(), where),
                  "message: %s", raftwal_errmsg());
        CHECK_OK(raftwal_iter_open(&it, log, index, index + 1, RAFTWAL_NO_LIMIT));
        CHECK_RC(raftwal_iter_next(it, &e), RAFTWAL_ECORRUPT);
        raftwal_iter_close(it);
        if (others_fine)
            CHECK_OK(raftwal_log_get(log, index + 1, &e, buf, sizeof buf));
        CHECK_OK(raftwal_log_close(log));
    } else {
        CHECK_RC(rc, RAFTWAL_ECORRUPT);
        CHECK_MSG(strstr(raftwal_errmsg(), "0000000000000001.wal") && strstr(raftwal_errmsg(), where),
                  "message: %s", raftwal_errmsg());
    }
    CHECK_RC(raftwal_verify(dir, NULL), RAFTWAL_ECORRUPT);
    CHECK_MSG(strstr(raftwal_errmsg(), where), "message: %s", raftwal_errmsg());
}

static void test_damaged_payload(unsigned compression)
{
    int variant;
    for (variant = 0; variant < 3; variant++) {
        const char *dir = tu_tmpdir();
        raftwal_log *log = open_log(dir, compression, 0, 0);
        char path[1024];
        size_t size;
        unsigned char *b;
        uint64_t off, index;
        uint32_t len;
        append_range(log, 1, 20, 20, JSON, 1024);
        CHECK_OK(raftwal_log_close(log));
        b = tu_read_file(tu_segment_path(path, dir, 1), &size);
        CHECK(b);
        off = first_compressed(b, size, codec_bit(compression));
        index = tu_le64(b + off + 16);
        len = tu_le32(b + off + 8);
        if (variant == 0) /* raw_len one too many */
            tu_put_le32(b + off + 32, tu_le32(b + off + 32) + 1);
        else if (variant == 1) /* the block: garbage */
            memset(b + off + 36, 0xff, len - 4);
        else /* raw_len past the entry limit */
            tu_put_le32(b + off + 32, RAFTWAL_MAX_ENTRY_SIZE + 1);
        reseal_record(b, off);
        tu_write_file(path, b, size);
        free(b);
        expect_corrupt(dir, index, off, 1);
    }
}

/* A codec byte is only valid in a version 2 segment; a version the
 * library does not know is RAFTWAL_EVERSION. */
static void test_versions(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_COMPRESS_LZ4, 0, 0);
    char path[1024];
    size_t size;
    unsigned char *b;
    uint64_t off;
    append_range(log, 1, 20, 20, JSON, 1024);
    CHECK_OK(raftwal_log_close(log));
    b = tu_read_file(tu_segment_path(path, dir, 1), &size);
    CHECK(b && tu_le32(b + 8) == 2);
    off = first_compressed(b, size, 0x01);
    /* The header says version 1: the compressed entry is corrupt. */
    tu_put_le32(b + 8, 1);
    tu_put_le32(b + 60, tu_crc32c(0, b, 60));
    tu_write_file(path, b, size);
    expect_corrupt(dir, tu_le64(b + off + 16), off, 0);
    /* Version 3: not this library's. */
    tu_put_le32(b + 8, 3);
    tu_put_le32(b + 60, tu_crc32c(0, b, 60));
    tu_write_file(path, b, size);
    free(b);
    {
        raftwal_options o = RAFTWAL_OPTIONS_INIT;
        o.flags = 0;
        CHECK_RC(raftwal_log_open(&log, dir, &o), RAFTWAL_EVERSION);
    }
}

static void test_options(void)
{
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    raftwal_log *log = NULL;
    o.compression = 99;
    CHECK_RC(raftwal_log_open(&log, tu_tmpdir(), &o), RAFTWAL_EINVAL);
    o.compression = RAFTWAL_COMPRESS_ZSTD;
    if (!have_zstd()) {
        CHECK_RC(raftwal_log_open(&log, tu_tmpdir(), &o), RAFTWAL_EINVAL);
        CHECK(strstr(raftwal_errmsg(), "zstd") != NULL);
    }
    o.compression = RAFTWAL_COMPRESS_LZ4;
    if (!have_lz4()) {
        CHECK_RC(raftwal_log_open(&log, tu_tmpdir(), &o), RAFTWAL_EINVAL);
        CHECK(strstr(raftwal_errmsg(), "LZ4") != NULL);
    }
    /* compress_min: entries below it stay plain. */
    if (have_lz4()) {
        const char *dir = tu_tmpdir();
        raftwal_stats st;
        o.compress_min = 4096;
        CHECK_OK(raftwal_log_open(&log, dir, &o));
        append_range(log, 1, 16, 16, JSON, 1024);
        st.size = sizeof st;
        CHECK_OK(raftwal_log_stats(log, &st));
        CHECK_EQ_U64(st.compressed_entries, 0);
        CHECK_EQ_U64(st.stored_entry_bytes, st.appended_bytes);
        CHECK_OK(raftwal_log_close(log));
    }
}

/* Segments of one log written by handles with LZ4, zstd and no
 * compression in turn (reopens between, a truncation rewriting zstd
 * entries with LZ4): all read back, through a read-only handle too, and
 * the log verifies. */
static void test_mixed_codecs(void)
{
    static const unsigned order[] = {RAFTWAL_COMPRESS_LZ4, RAFTWAL_COMPRESS_ZSTD,
                                     RAFTWAL_COMPRESS_NONE, RAFTWAL_COMPRESS_ZSTD};
    const char *dir = tu_tmpdir();
    raftwal_log *log;
    raftwal_check ck;
    char path[1024];
    int lz4 = 0, zstd = 0;
    uint64_t seq;
    size_t i;
    for (i = 0; i < sizeof order / sizeof order[0]; i++) {
        log = open_log(dir, order[i], SEG, 0);
        append_range(log, 1 + 400 * i, 400, 8, JSON, 900);
        read_back(log, 1, 400 * (i + 1), JSON, 900);
        CHECK_OK(raftwal_log_close(log));
    }
    log = open_log(dir, RAFTWAL_COMPRESS_LZ4, SEG, 0);
    CHECK_OK(raftwal_log_truncate(log, 1401));
    append_range(log, 1401, 200, 8, JSON, 900);
    read_back(log, 1, 1600, JSON, 900);
    CHECK_OK(raftwal_log_close(log));
    for (seq = 1; tu_segment_exists(dir, seq); seq++) {
        size_t size, off = 64;
        unsigned char *b = tu_read_file(tu_segment_path(path, dir, seq), &size);
        CHECK(b);
        while (off + 32 <= size && b[off + 4] != 0) {
            lz4 += b[off + 4] == 1 && b[off + 5] == 0x01;
            zstd += b[off + 4] == 1 && b[off + 5] == 0x02;
            off += 32 + ((tu_le32(b + off + 8) + 7) & ~7u);
        }
        free(b);
    }
    CHECK_MSG(lz4 > 0 && zstd > 0, "%d LZ4 and %d zstd entries on disk", lz4, zstd);
    memset(&ck, 0, sizeof ck);
    ck.size = sizeof ck;
    CHECK_OK(raftwal_verify(dir, &ck));
    CHECK(ck.compressed_entries > 0 && ck.compressed_entries < 1600);
    log = open_log(dir, RAFTWAL_COMPRESS_NONE, SEG, RAFTWAL_OPEN_READONLY);
    read_back(log, 1, 1600, JSON, 900);
    CHECK_OK(raftwal_log_close(log));
}

/* Writes 20 zstd entries, then rewrites the first compressed one with
 * `codec` as its codec byte, its CRC recomputed if `reseal`. Returns the
 * last index a writable open then sees, and *verify_rc. */
static uint64_t damaged_codec_byte(unsigned char codec, int reseal, int *verify_rc)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_COMPRESS_ZSTD, 0, 0);
    raftwal_stats st;
    char path[1024];
    size_t size;
    unsigned char *b;
    uint64_t off;
    append_range(log, 1, 20, 20, JSON, 1024);
    CHECK_OK(raftwal_log_close(log));
    b = tu_read_file(tu_segment_path(path, dir, 1), &size);
    CHECK(b);
    off = first_compressed(b, size, 0x02);
    b[off + 5] = codec;
    if (reseal)
        reseal_record(b, off);
    tu_write_file(path, b, size);
    free(b);
    *verify_rc = raftwal_verify(dir, NULL);
    log = open_log(dir, RAFTWAL_COMPRESS_NONE, 0, 0);
    st.size = sizeof st;
    CHECK_OK(raftwal_log_stats(log, &st));
    CHECK_OK(raftwal_log_close(log));
    return st.last_index;
}

/* Bits 0x01 and 0x02 together, under a valid CRC, are an invalid codec
 * byte (docs/format.md §7.2): the record decoder refuses the record as it
 * refuses a bad CRC, so it is never decoded as either codec. */
static void test_both_bits(void)
{
    int rc_both, rc_crc, rc_zstd;
    uint64_t both = damaged_codec_byte(0x03, 1, &rc_both);
    uint64_t bad_crc = damaged_codec_byte(0x03, 0, &rc_crc);
    uint64_t intact = damaged_codec_byte(0x02, 1, &rc_zstd);
    CHECK_EQ_U64(intact, 20);
    CHECK_RC(rc_zstd, 0);
    CHECK_MSG(both < 20, "an entry with codec byte 0x03 was kept (last index %" PRIu64 ")", both);
    CHECK_EQ_U64(both, bad_crc);
    CHECK_RC(rc_both, rc_crc);
}

/* An LZ4 block relabelled zstd (bit 0x02, valid CRC): a build with zstd
 * finds no zstd frame there (RAFTWAL_ECORRUPT, file and offset); a build
 * without zstd opens the log and refuses the entry with RAFTWAL_EVERSION
 * naming zstd, as for any zstd entry it cannot read. */
static void test_zstd_bit_on_lz4_block(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_COMPRESS_LZ4, 0, 0);
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    char path[1024], where[64];
    size_t size;
    unsigned char *b;
    uint64_t off, index;
    append_range(log, 1, 20, 20, JSON, 1024);
    CHECK_OK(raftwal_log_close(log));
    b = tu_read_file(tu_segment_path(path, dir, 1), &size);
    CHECK(b);
    off = first_compressed(b, size, 0x01);
    index = tu_le64(b + off + 16);
    snprintf(where, sizeof where, "offset %" PRIu64, off);
    b[off + 5] = 0x02;
    reseal_record(b, off);
    tu_write_file(path, b, size);
    free(b);
    if (have_zstd()) {
        expect_corrupt(dir, index, off, 1);
        return;
    }
    CHECK_RC(raftwal_log_open(&log, dir, &o), RAFTWAL_EVERSION);
    CHECK_MSG(strstr(raftwal_errmsg(), "zstd") && strstr(raftwal_errmsg(), where),
              "message: %s", raftwal_errmsg());
    CHECK_RC(raftwal_verify(dir, NULL), RAFTWAL_EVERSION);
    CHECK_MSG(strstr(raftwal_errmsg(), "zstd"), "message: %s", raftwal_errmsg());
}

int main(void)
{
    test_options();
    if (have_zstd()) {
        test_json_half(RAFTWAL_COMPRESS_ZSTD);
        test_random_costs_nothing(RAFTWAL_COMPRESS_ZSTD);
        test_damaged_payload(RAFTWAL_COMPRESS_ZSTD);
        test_both_bits();
    }
    if (!have_lz4()) {
        printf("c_compression: this build has no LZ4; %s\n",
               have_zstd() ? "only the zstd tests ran" : "only the option checks ran");
        return 0;
    }
    test_json_half(RAFTWAL_COMPRESS_LZ4);
    test_random_costs_nothing(RAFTWAL_COMPRESS_LZ4);
    test_mixed();
    test_caps_and_erange();
    test_damaged_payload(RAFTWAL_COMPRESS_LZ4);
    test_versions();
    test_zstd_bit_on_lz4_block();
    if (have_zstd())
        test_mixed_codecs();
    printf("c_compression: ok\n");
    return 0;
}
