/*
 * test_encryption_tamper.c -- c_encryption_tamper: a changed byte anywhere
 * in an encrypted (and compressed) log, with every checksum made valid
 * again, is never returned as data (docs/format.md §7.2-7.3).
 *
 * One log is written (initial metadata, entries some compressible, a hard
 * state, a snapshot, user metadata, a truncation, rotations, a reopen: an
 * EPOCH), closed, and its expected contents read back. Then for every
 * byte of every segment's used region, of its FOOTER and SEAL, and of
 * KEYS, one bit is flipped and the CRC of what holds the byte (the record,
 * the segment header, KEYS) recomputed, as an attacker would. A read-only
 * handle opened with the key, the get of every index, an iterator over
 * the whole log, the hard state, the snapshot and the metadata must each
 * either fail or answer exactly what was written; the log's first and
 * last index must not move without an error. RAFTWAL_TAMPER_STRIDE=n
 * flips every n-th byte of a segment's used region (default 11; 1 tries all: about 50,000 opens).
 */
#include "test_util.h"

#define SEG RAFTWAL_MIN_SEGMENT_SIZE
#define MAXE 260

static unsigned char key[32];
static char want_data[MAXE + 1][600];
static size_t want_size[MAXE + 1];
static uint64_t want_first, want_last;
static raftwal_hardstate want_hs;
static char want_meta[64], want_snap[64];
static size_t want_meta_len, want_snap_len;
static uint64_t want_snap_index, want_snap_term;

static size_t fill(char *buf, uint64_t index, uint64_t round)
{
    if (index % 3 == 0) { /* incompressible */
        size_t i, n = 100 + index % 300;
        for (i = 0; i < n; i++)
            buf[i] = (char)tu_mix(index * 1000 + i + round * 7);
        return n;
    }
    return (size_t)snprintf(buf, 600, "SECRET-%" PRIu64 "-%" PRIu64 " {\"op\":\"put\",\"pad\":\"%0*d\"}",
                            index, round, (int)(index % 300), 0);
}

static raftwal_log *open_log(const char *dir, unsigned flags, int *rc)
{
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    raftwal_log *log = NULL;
    o.flags = flags;
    o.segment_size = SEG;
    o.compression = RAFTWAL_COMPRESS_LZ4;
    o.key = key;
    o.key_size = 32;
    o.compress_min = 16;
    o.metadata = "SECRET-initial-meta";
    o.metadata_size = strlen("SECRET-initial-meta");
    *rc = raftwal_log_open(&log, dir, &o);
    return log;
}

static void append_range(raftwal_log *log, uint64_t first, uint64_t last, uint64_t round)
{
    uint64_t i;
    for (i = first; i <= last; i++) {
        raftwal_entry e = {i, 2, 0, 0, want_data[i], 0};
        want_size[i] = fill(want_data[i], i, round);
        e.size = want_size[i];
        CHECK_OK(raftwal_log_append(log, &e, 1, NULL, 0));
    }
}

static void write_log(const char *dir)
{
    int rc;
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, &rc);
    CHECK_OK(rc);
    append_range(log, 1, 150, 0);
    want_hs = (raftwal_hardstate){2, 1, 100};
    CHECK_OK(raftwal_log_set_hardstate(log, &want_hs, 0));
    snprintf(want_snap, sizeof want_snap, "SECRET-snapshot-meta");
    want_snap_len = strlen(want_snap);
    want_snap_index = 20;
    want_snap_term = 2;
    CHECK_OK(raftwal_log_save_snapshot(log, 20, 2, want_snap, want_snap_len));
    snprintf(want_meta, sizeof want_meta, "SECRET-user-meta");
    want_meta_len = strlen(want_meta);
    CHECK_OK(raftwal_log_set_metadata(log, want_meta, want_meta_len));
    CHECK_OK(raftwal_log_truncate(log, 140));
    append_range(log, 140, 200, 1);
    CHECK_OK(raftwal_log_close(log));
    log = open_log(dir, 0, &rc); /* a new session: an EPOCH in the tail */
    CHECK_OK(rc);
    append_range(log, 201, 220, 2);
    want_hs = (raftwal_hardstate){2, 1, 210};
    CHECK_OK(raftwal_log_set_hardstate(log, &want_hs, 0));
    CHECK_OK(raftwal_log_first_index(log, &want_first));
    CHECK_OK(raftwal_log_last_index(log, &want_last));
    CHECK_OK(raftwal_log_close(log));
    CHECK(tu_segment_exists(dir, 3));
}

static uint64_t tried, failed_open, failed_read, harmless, dropped;

/* Reads everything through a read-only handle: 0 if all of it is as
 * written or an error was reported; exits (the test fails) on wrong data. */
static int may_be_torn; /* the change may read as a torn end (docs/format.md §5) */

static void check_log(const char *dir, const char *what)
{
    int rc;
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_READONLY, &rc);
    uint64_t first, last, i, si, st;
    raftwal_hardstate hs;
    raftwal_stats stats;
    raftwal_entry e;
    raftwal_iter *it;
    char buf[600];
    size_t len;
    int errors = 0;
    tried++;
    if (rc) {
        /* Any error: ECORRUPT mostly; EKEY (KEYS' check value), EVERSION
         * (a header's version), ECOMPACTED (a header's sequence number: a
         * reader takes the file for one its writer reused). */
        CHECK_MSG(rc == RAFTWAL_ECORRUPT || rc == RAFTWAL_EKEY || rc == RAFTWAL_EVERSION ||
                      rc == RAFTWAL_ECOMPACTED,
                  "%s: open returned %d (%s)", what, rc, raftwal_strerror(rc));
        failed_open++;
        return;
    }
    CHECK_OK(raftwal_log_first_index(log, &first));
    CHECK_OK(raftwal_log_last_index(log, &last));
    stats.size = sizeof stats;
    CHECK_OK(raftwal_log_stats(log, &stats));
    if (stats.torn_tails || may_be_torn) {
        /* Read as a torn tail (a bad CRC at the end, or a tail whose
         * records all fail their CRC: a torn activation) and cut off, as
         * in a plaintext log (docs/format.md §5): what remains must still
         * be what was written. */
        CHECK_MSG(first == want_first && last <= want_last, "%s: torn, [%" PRIu64 ", %" PRIu64 "]",
                  what, first, last);
        if (!stats.torn_tails && last < want_last) /* a torn activation: not counted */
            fprintf(stderr, "%s: the log ends at %" PRIu64 ", not %" PRIu64 ", no error\n", what,
                    last, want_last);
        dropped++;
    } else {
        CHECK_MSG(first == want_first && last == want_last,
                  "%s: the log is [%" PRIu64 ", %" PRIu64 "], was [%" PRIu64 ", %" PRIu64 "], no error",
                  what, first, last, want_first, want_last);
        CHECK_OK(raftwal_log_hardstate(log, &hs));
        CHECK_MSG(memcmp(&hs, &want_hs, sizeof hs) == 0, "%s: hard state changed", what);
    }
    rc = raftwal_log_metadata(log, buf, sizeof buf, &len);
    if (rc == 0)
        CHECK_MSG(len == want_meta_len && memcmp(buf, want_meta, len) == 0, "%s: metadata changed",
                  what);
    else
        errors++;
    rc = raftwal_log_snapshot(log, &si, &st, buf, sizeof buf, &len);
    if (rc == 0)
        CHECK_MSG(si == want_snap_index && st == want_snap_term && len == want_snap_len &&
                      memcmp(buf, want_snap, len) == 0, "%s: snapshot changed", what);
    else
        errors++;
    for (i = first; i <= last; i++) {
        rc = raftwal_log_get(log, i, &e, buf, sizeof buf);
        if (rc) {
            /* ERANGE: a changed raw_len, which get answers without
             * decoding (raftwal.h); the data is never returned. */
            CHECK_MSG(rc == RAFTWAL_ECORRUPT || rc == RAFTWAL_EVERSION || rc == RAFTWAL_ERANGE,
                      "%s: get %" PRIu64 ": %d", what, i, rc);
            errors++;
            continue;
        }
        CHECK_MSG(e.index == i && e.term == 2 && e.size == want_size[i] &&
                      memcmp(buf, want_data[i], e.size) == 0,
                  "%s: entry %" PRIu64 " read back changed (size %zu, want %zu)", what, i,
                  (size_t)e.size, want_size[i]);
    }
    rc = raftwal_iter_open(&it, log, first, last + 1, RAFTWAL_NO_LIMIT);
    if (rc == 0) {
        i = first;
        while ((rc = raftwal_iter_next(it, &e)) == 1) {
            CHECK_MSG(e.index == i && e.term == 2 && e.size == want_size[i] &&
                          memcmp(e.data, want_data[i], e.size) == 0,
                      "%s: iterator: entry %" PRIu64 " changed", what, i);
            i++;
        }
        if (rc)
            errors++;
        else
            CHECK_MSG(i == last + 1, "%s: iterator ended at %" PRIu64, what, i);
        raftwal_iter_close(it);
    } else {
        errors++;
    }
    raftwal_log_close(log);
    if (errors)
        failed_read++;
    else
        harmless++;
}

/* Where the byte at `off` of a segment lies: the start and CRC salt of the
 * record holding it (return 1), or the header (return 2), or neither (0). */
static int locate(const unsigned char *b, size_t size, uint64_t off, uint64_t *rec,
                  uint64_t *salt)
{
    uint64_t hsalt = tu_le64(b + 32), cur = hsalt, at = 64;
    if (off < 64)
        return off < 60 ? 2 : 0;
    if (size >= 128 && off >= size - 64 && b[size - 64 + 4] == 11) {
        *rec = size - 64;
        *salt = hsalt;
        return 1;
    }
    while (at + 32 <= size && b[at + 4] != 0) {
        uint32_t len = tu_le32(b + at + 8);
        uint64_t end = at + 32 + ((len + 7ull) & ~7ull);
        if (end > size)
            return 0;
        if (off >= at && off < end) {
            *rec = at;
            *salt = b[at + 4] == 10 ? hsalt : cur;
            return 1;
        }
        if (b[at + 4] == 9)
            cur = tu_le64(b + at + 24);
        if (b[at + 4] == 10)
            return 0;
        at = end;
    }
    return 0;
}

/* The end of a segment's records (what a sweep tries besides the SEAL). */
static uint64_t used_end(const unsigned char *b, size_t size)
{
    uint64_t at = 64;
    while (at + 32 <= size && b[at + 4] != 0) {
        uint32_t len = tu_le32(b + at + 8);
        at += 32 + ((len + 7ull) & ~7ull);
    }
    return at + 32 <= size ? at + 32 : size;
}

static void recrc(unsigned char *b, size_t size, uint64_t rec, uint64_t salt)
{
    unsigned char s8[8];
    uint32_t len = tu_le32(b + rec + 8);
    if (rec + 32 + len > size)
        return;
    tu_put_le64(s8, salt);
    tu_put_le32(b + rec, tu_crc32c(tu_crc32c(tu_crc32c(0, s8, 8), b + rec + 4, 28), b + rec + 32, len));
}

static void sweep_segment(const char *dir, uint64_t seq, uint64_t stride)
{
    char path[1024], what[128];
    size_t size;
    unsigned char *orig = tu_read_file(tu_segment_path(path, dir, seq), &size), *b;
    uint64_t end, off;
    CHECK(orig && size >= 128);
    b = malloc(size);
    CHECK(b);
    end = used_end(orig, size);
    for (off = 0; off < size; off += (off < end || off >= size - 64) ? stride : 1) {
        uint64_t rec = 0, salt = 0;
        int where;
        if (off >= end && off < size - 64)
            off = size - 64;
        memcpy(b, orig, size);
        b[off] ^= (unsigned char)(1u << (off % 8));
        where = locate(orig, size, off, &rec, &salt);
        if (where == 2)
            tu_put_le32(b + 60, tu_crc32c(0, b, 60));
        else if (where == 1 && off >= rec + 4)
            recrc(b, size, rec, salt);
        /* A bad CRC, a header field that makes the record invalid (type,
         * codec byte, reserved, len: the record decoder refuses it as it
         * refuses a bad CRC), or a changed salt in the tail's header
         * (every record of the tail then fails its CRC: a torn
         * activation) is what a torn write leaves: in the tail's last
         * batch it reads as a torn end (docs/format.md §5), the log
         * rolled back to the batch before, as in a plaintext log. */
        may_be_torn = (where == 1 && off < rec + 12) || (where == 2 && !tu_segment_exists(dir, seq + 1));
        tu_write_file(path, b, size);
        snprintf(what, sizeof what, "segment %" PRIu64 " byte %" PRIu64 " (record at %" PRIu64 ")",
                 seq, off, where == 1 ? rec : 0);
        check_log(dir, what);
    }
    tu_write_file(path, orig, size);
    free(orig);
    free(b);
}

static void sweep_keys(const char *dir)
{
    char path[1024], what[64];
    size_t size, off;
    unsigned char *orig = tu_read_file(tu_path(path, dir, "KEYS"), &size), *b;
    CHECK(orig && size >= 56);
    b = malloc(size);
    for (off = 0; off < size; off++) {
        memcpy(b, orig, size);
        b[off] ^= (unsigned char)(1u << (off % 8));
        if (off < size - 8)
            tu_put_le32(b + size - 8, tu_crc32c(0, b, size - 8));
        tu_write_file(path, b, size);
        snprintf(what, sizeof what, "KEYS byte %zu", off);
        check_log(dir, what);
    }
    tu_write_file(path, orig, size);
    free(orig);
    free(b);
}

int main(void)
{
    const char *dir = tu_tmpdir();
    const char *env = getenv("RAFTWAL_TAMPER_STRIDE");
    uint64_t stride = env && *env ? strtoull(env, NULL, 0) : 11, seq;
    if (!(raftwal_features() & RAFTWAL_FEATURE_ENCRYPTION) || !(raftwal_features() & RAFTWAL_FEATURE_LZ4)) {
        printf("SKIP: no encryption or no LZ4 in this build\n");
        return 77;
    }
    memset(key, 0x5a, sizeof key);
    write_log(dir);
    check_log(dir, "untouched");
    CHECK_EQ_U64(harmless, 1);
    for (seq = 1; tu_segment_exists(dir, seq); seq++)
        sweep_segment(dir, seq, stride);
    sweep_keys(dir);
    printf("c_encryption_tamper: %" PRIu64 " changes: %" PRIu64 " failed the open, %" PRIu64
           " failed a read, %" PRIu64 " read as a torn tail, %" PRIu64 " changed nothing read\n",
           tried, failed_open, failed_read, dropped, harmless - dropped);
    return 0;
}
