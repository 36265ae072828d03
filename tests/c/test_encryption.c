/*
 * test_encryption.c -- c_encryption: encrypted logs (docs/format.md §7).
 *
 *   - a log created with a key is encrypted (stats, check, a KEYS file,
 *     version 2 segments with the ENCRYPTED flag); its entries, hard state,
 *     snapshot metadata and user metadata read back after reopen, through
 *     get, iterators, a read-only handle and raftwal_verify_opts, with and
 *     without compression, across rotations, truncation and purge;
 *   - none of the data is found in any file of the directory;
 *   - no key, a wrong key, a key on a plaintext log: RAFTWAL_EKEY, with a
 *     message that says which and holds no key bytes;
 *   - a changed byte of an entry's ciphertext, tag, or clear fields (term),
 *     or of a hard state, CRC recomputed, is RAFTWAL_ECORRUPT naming the
 *     file and offset, never data;
 *   - a plaintext record planted in an encrypted segment is corruption;
 *   - four threads reading one handle get every entry right.
 */
#include "test_util.h"

#include <pthread.h>

#define SEG RAFTWAL_MIN_SEGMENT_SIZE
#define MARK "TOPSECRET-"

static unsigned char key[32], other[32];

static raftwal_log *open_with(const char *dir, const void *k, unsigned compression, unsigned flags,
                              int want)
{
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    raftwal_log *log = NULL;
    o.flags = RAFTWAL_OPEN_CREATE | flags;
    o.segment_size = SEG;
    o.compression = compression;
    o.key = k;
    o.key_size = k ? 32 : 0;
    if (flags & RAFTWAL_OPEN_READONLY)
        o.flags &= ~(unsigned)RAFTWAL_OPEN_CREATE;
    CHECK_RC(raftwal_log_open(&log, dir, &o), want);
    return log;
}

static size_t entry_fill(char *buf, uint64_t index)
{
    return (size_t)snprintf(buf, 1200, MARK "%06" PRIu64 " {\"op\":\"put\",\"k\":\"user/%" PRIu64
                            "\",\"pad\":\"%0400" PRIu64 "\"}", index, index * 7, index);
}

static void append(raftwal_log *log, uint64_t first, uint64_t n, uint64_t commit)
{
    uint64_t i;
    for (i = first; i < first + n; i++) {
        char buf[1200];
        raftwal_entry e = {i, 1, 0, 0, buf, 0};
        raftwal_hardstate hs = {1, 2, commit};
        e.size = entry_fill(buf, i);
        CHECK_OK(raftwal_log_append(log, &e, 1, i == first + n - 1 ? &hs : NULL, 0));
    }
}

static void read_all(raftwal_log *log, uint64_t lo, uint64_t hi)
{
    char want[1200], got[1200];
    raftwal_entry e;
    raftwal_iter *it;
    uint64_t i;
    int rc;
    for (i = lo; i <= hi; i++) {
        size_t n = entry_fill(want, i);
        CHECK_OK(raftwal_log_get(log, i, &e, got, sizeof got));
        CHECK_EQ_U64(e.size, n);
        CHECK_MSG(memcmp(got, want, n) == 0, "entry %" PRIu64, i);
    }
    CHECK_OK(raftwal_iter_open(&it, log, lo, hi + 1, RAFTWAL_NO_LIMIT));
    i = lo;
    while ((rc = raftwal_iter_next(it, &e)) == 1) {
        size_t n = entry_fill(want, i);
        CHECK_EQ_U64(e.size, n);
        CHECK_MSG(memcmp(e.data, want, n) == 0, "entry %" PRIu64, i);
        i++;
    }
    CHECK_RC(rc, 0);
    CHECK_EQ_U64(i, hi + 1);
    raftwal_iter_close(it);
}

/* No file of dir holds `needle`. */
static void no_plaintext(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    CHECK(d);
    while ((de = readdir(d)) != NULL) {
        char path[1024];
        size_t size;
        unsigned char *b;
        if (de->d_name[0] == '.')
            continue;
        b = tu_read_file(tu_path(path, dir, de->d_name), &size);
        if (!b)
            continue;
        CHECK_MSG(memmem(b, size, needle, strlen(needle)) == NULL, "%s holds \"%s\"", de->d_name,
                  needle);
        CHECK_MSG(memmem(b, size, key, sizeof key) == NULL, "%s holds the master key", de->d_name);
        free(b);
    }
    closedir(d);
}

static void test_round_trip(unsigned compression)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_with(dir, key, compression, 0, 0);
    raftwal_stats st;
    raftwal_check ck;
    raftwal_hardstate hs;
    char meta[64], snap[64], buf[64];
    size_t len;
    uint64_t seq;
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    append(log, 1, 400, 150);
    snprintf(meta, sizeof meta, MARK "usermeta");
    snprintf(snap, sizeof snap, MARK "snapmeta");
    CHECK_OK(raftwal_log_set_metadata(log, meta, strlen(meta)));
    CHECK_OK(raftwal_log_save_snapshot(log, 100, 1, snap, strlen(snap)));
    CHECK_OK(raftwal_log_truncate(log, 380));
    append(log, 380, 40, 200);
    CHECK_OK(raftwal_log_purge(log, 60));
    st.size = sizeof st;
    CHECK_OK(raftwal_log_stats(log, &st));
    CHECK_EQ_U64(st.encrypted, 1);
    CHECK(st.segments > 3);
    read_all(log, 61, 419);
    CHECK_OK(raftwal_log_close(log));
    /* Reopened (a new session), written and read again. */
    log = open_with(dir, key, compression, 0, 0);
    read_all(log, 61, 419);
    append(log, 420, 30, 300);
    CHECK_OK(raftwal_log_hardstate(log, &hs));
    CHECK_EQ_U64(hs.commit, 300);
    CHECK_OK(raftwal_log_metadata(log, buf, sizeof buf, &len));
    CHECK(len == strlen(meta) && memcmp(buf, meta, len) == 0);
    CHECK_OK(raftwal_log_close(log));
    log = open_with(dir, key, 0, RAFTWAL_OPEN_READONLY, 0);
    read_all(log, 61, 449);
    CHECK_OK(raftwal_log_close(log));
    for (seq = 1; tu_segment_exists(dir, seq) || seq < 3; seq++) {
        char path[1024];
        size_t size;
        unsigned char *b;
        if (!tu_segment_exists(dir, seq))
            continue;
        b = tu_read_file(tu_segment_path(path, dir, seq), &size);
        CHECK(b && size >= 64);
        if (tu_le64(b + 40)) { /* in use: version 2, ENCRYPTED */
            CHECK_EQ_U64(tu_le32(b + 8), 2);
            CHECK(tu_le32(b + 56) & 4);
        }
        free(b);
    }
    no_plaintext(dir, MARK);
    CHECK_RC(raftwal_verify(dir, NULL), RAFTWAL_EKEY);
    memset(&ck, 0, sizeof ck);
    ck.size = sizeof ck;
    o.key = key;
    o.key_size = 32;
    CHECK_OK(raftwal_verify_opts(dir, &o, &ck));
    CHECK_EQ_U64(ck.encrypted, 1);
    CHECK_EQ_U64(ck.entries, 449 - 61 + 1);
    CHECK_EQ_U64(ck.compressed_entries > 0, compression != 0);
}

static void expect_ekey(const char *dir, const void *k, const char *says)
{
    raftwal_log *log = open_with(dir, k, 0, 0, RAFTWAL_EKEY);
    (void)log;
    CHECK_MSG(strstr(raftwal_errmsg(), says) != NULL, "message: %s", raftwal_errmsg());
    CHECK(memmem(raftwal_errmsg(), strlen(raftwal_errmsg()), key, 4) == NULL);
}

static void test_keys(void)
{
    const char *enc = tu_tmpdir(), *plain = tu_tmpdir();
    raftwal_log *log = open_with(enc, key, 0, 0, 0);
    append(log, 1, 10, 5);
    CHECK_OK(raftwal_log_close(log));
    log = open_with(plain, NULL, 0, 0, 0);
    append(log, 1, 10, 5);
    CHECK_OK(raftwal_log_close(log));
    /* An empty entry (a sealed record of just its tag) reads back empty. */
    log = open_with(enc, key, 0, 0, 0);
    {
        raftwal_entry e = {11, 1, 0, 0, NULL, 0}, got;
        CHECK_OK(raftwal_log_append(log, &e, 1, NULL, 0));
        CHECK_OK(raftwal_log_get(log, 11, &got, NULL, 0));
        CHECK_EQ_U64(got.size, 0);
    }
    CHECK_OK(raftwal_log_close(log));
    expect_ekey(enc, NULL, "encrypted, and no key");
    expect_ekey(enc, other, "wrong key");
    expect_ekey(plain, key, "not encrypted");
    /* Read-only handles and verify say the same. */
    log = open_with(enc, other, 0, RAFTWAL_OPEN_READONLY, RAFTWAL_EKEY);
    log = open_with(enc, NULL, 0, RAFTWAL_OPEN_READONLY, RAFTWAL_EKEY);
    (void)log;
}

/* The first record of the given type and codec after offset 64 in
 * segment seq: its offset (records are walked by their lengths). */
static uint64_t find_rec(const unsigned char *b, size_t size, int type)
{
    uint64_t off = 64;
    while (off + 32 <= size && b[off + 4]) {
        if (b[off + 4] == type)
            return off;
        off += 32 + ((tu_le32(b + off + 8) + 7) & ~7u);
    }
    CHECK_MSG(0, "no record of type %d", type);
    return 0;
}

static void reseal(unsigned char *b, uint64_t off)
{
    unsigned char s8[8];
    uint32_t len = tu_le32(b + off + 8);
    memcpy(s8, b + 32, 8); /* records before any EPOCH: the header salt */
    tu_put_le32(b + off, tu_crc32c(tu_crc32c(tu_crc32c(0, s8, 8), b + off + 4, 28), b + off + 32, len));
}

/* Variant v damages the first ENTRY (or HARDSTATE) record of segment 1,
 * CRC recomputed. Entries: segment 1 is sealed (rotations), so open does
 * not read it and the damage is found by the read (and by verify); the
 * hard state: segment 1 is the tail, scanned (every tag checked) at open. */
static void test_tamper(void)
{
    int v;
    for (v = 0; v < 5; v++) {
        const char *dir = tu_tmpdir();
        raftwal_log *log = open_with(dir, key, 0, 0, 0);
        char path[1024], got[1200];
        size_t size;
        unsigned char *b;
        uint64_t off, index = 0;
        raftwal_entry e;
        char where[64];
        append(log, 1, v == 4 ? 5 : 400, 0);
        CHECK_OK(raftwal_log_close(log));
        CHECK(v == 4 || tu_segment_exists(dir, 3));
        b = tu_read_file(tu_segment_path(path, dir, 1), &size);
        CHECK(b);
        off = find_rec(b, size, v == 4 ? 3 : 1);
        if (v < 4)
            index = tu_le64(b + off + 16);
        switch (v) {
        case 0: b[off + 40] ^= 1; break;                              /* ciphertext */
        case 1: b[off + 32 + tu_le32(b + off + 8) - 1] ^= 0x80; break; /* tag */
        case 2: b[off + 24] ^= 1; break;                              /* the term, in clear */
        case 3: b[off + 12] ^= 1; break;                              /* the entry type (aux) */
        default: b[off + 33] ^= 4; break;                             /* the hard state */
        }
        reseal(b, off);
        tu_write_file(path, b, size);
        free(b);
        snprintf(where, sizeof where, "offset %" PRIu64, off);
        if (v == 4) { /* read at open: the tail's records */
            log = open_with(dir, key, 0, 0, RAFTWAL_ECORRUPT);
            CHECK_MSG(strstr(raftwal_errmsg(), "0000000000000001.wal") &&
                          strstr(raftwal_errmsg(), where), "variant %d: %s", v, raftwal_errmsg());
        } else {
            log = open_with(dir, key, 0, 0, 0);
            CHECK_RC(raftwal_log_get(log, index, &e, got, sizeof got), RAFTWAL_ECORRUPT);
            CHECK_MSG(strstr(raftwal_errmsg(), "0000000000000001.wal") &&
                          strstr(raftwal_errmsg(), where), "variant %d: %s", v, raftwal_errmsg());
            CHECK_OK(raftwal_log_get(log, index + 1, &e, got, sizeof got)); /* the next is fine */
            CHECK_OK(raftwal_log_close(log));
        }
        {
            raftwal_options o = RAFTWAL_OPTIONS_INIT;
            o.key = key;
            o.key_size = 32;
            CHECK_RC(raftwal_verify_opts(dir, &o, NULL), RAFTWAL_ECORRUPT);
        }
    }
}

/* A plaintext record where a sealed one should be (CRC valid): its
 * codec byte cleared and its length cut to the data. */
static void test_downgrade(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_with(dir, key, 0, 0, 0);
    char path[1024], got[1200];
    size_t size;
    unsigned char *b;
    uint64_t off;
    raftwal_entry e;
    append(log, 1, 5, 0);
    CHECK_OK(raftwal_log_close(log));
    b = tu_read_file(tu_segment_path(path, dir, 1), &size);
    off = find_rec(b, size, 1);
    b[off + 5] = 0;
    tu_put_le32(b + off + 8, tu_le32(b + off + 8) - 16);
    reseal(b, off);
    tu_write_file(path, b, size);
    free(b);
    log = open_with(dir, key, 0, 0, RAFTWAL_ECORRUPT); /* the tail is scanned at open */
    (void)log;
    CHECK_MSG(strstr(raftwal_errmsg(), "not sealed"), "%s", raftwal_errmsg());
    (void)got;
    (void)e;
}

/* Readers on several threads of one handle (the decryption contexts are
 * shared through a pool): every entry reads back right. */
typedef struct reader_arg {
    raftwal_log *log;
    uint64_t lo, hi, seed;
    int bad;
} reader_arg;

static void *reader(void *p)
{
    reader_arg *a = p;
    uint64_t x = a->seed;
    int k;
    for (k = 0; k < 3000; k++) {
        char want[1200], got[1200];
        raftwal_entry e;
        uint64_t i;
        size_t n;
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        i = a->lo + (x >> 33) % (a->hi - a->lo + 1);
        n = entry_fill(want, i);
        if (raftwal_log_get(a->log, i, &e, got, sizeof got) != 0 || e.size != n ||
            memcmp(got, want, n) != 0)
            a->bad++;
    }
    return NULL;
}

static void test_threads(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_with(dir, key, 0, 0, 0);
    pthread_t t[4];
    reader_arg a[4];
    int i;
    append(log, 1, 300, 10);
    for (i = 0; i < 4; i++) {
        a[i] = (reader_arg){log, 1, 300, (uint64_t)i + 1, 0};
        CHECK(pthread_create(&t[i], NULL, reader, &a[i]) == 0);
    }
    for (i = 0; i < 4; i++) {
        CHECK(pthread_join(t[i], NULL) == 0);
        CHECK_EQ_U64(a[i].bad, 0);
    }
    CHECK_OK(raftwal_log_close(log));
}

int main(void)
{
    size_t i;
    if (!(raftwal_features() & RAFTWAL_FEATURE_ENCRYPTION)) {
        raftwal_options o = RAFTWAL_OPTIONS_INIT;
        raftwal_log *log;
        o.key = key;
        o.key_size = 32;
        CHECK_RC(raftwal_log_open(&log, tu_tmpdir(), &o), RAFTWAL_EINVAL);
        printf("c_encryption: this build has no encryption; only the option check ran\n");
        return 0;
    }
    for (i = 0; i < 32; i++) {
        key[i] = (unsigned char)tu_rand();
        other[i] = (unsigned char)tu_rand();
    }
    test_keys();
    test_round_trip(RAFTWAL_COMPRESS_NONE);
    if (raftwal_features() & RAFTWAL_FEATURE_LZ4)
        test_round_trip(RAFTWAL_COMPRESS_LZ4);
    if (raftwal_features() & RAFTWAL_FEATURE_ZSTD)
        test_round_trip(RAFTWAL_COMPRESS_ZSTD); /* compressed, then sealed */
    test_tamper();
    test_downgrade();
    test_threads();
    printf("c_encryption: ok\n");
    return 0;
}
