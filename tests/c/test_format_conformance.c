/*
 * test_format_conformance.c -- c_format_conformance: the files the library
 * writes are what docs/format.md says, byte for byte, as read by the
 * independent reader in wal_reader.c (its own CRC32C, no code from src/):
 * file names, segment headers, CHECKPOINT + COMMIT at byte 64, batches
 * closed by a COMMIT that points at their first record, ENTRY and
 * HARDSTATE payloads, EPOCH after a reopen, FOOTER and SEAL of sealed
 * segments, zero-filled prepared segments.
 */
#include "model.h"
#include "test_util.h"
#include "wal_reader.h"

#define SEG RAFTWAL_MIN_SEGMENT_SIZE
#define MAXP 300
#define MAXFILES 64

struct seg_walk {
    const wal_file *f;
    uint64_t next_entry;      /* next index expected among ENTRY records */
    uint64_t batch_start;     /* offset of the current batch's first record */
    uint32_t batch_records;   /* records since batch_start */
    int records;              /* valid records so far */
    int epochs;
    uint64_t epoch_start[64], epoch_salt[64]; /* from the EPOCH records */
    uint32_t footer_epochs;
    int commits;
    int saw_hardstate;
    raftwal_hardstate last_hs;
    uint64_t footer_first, footer_count, footer_off;
};

static int walk_cb(const wal_record *r, void *arg)
{
    struct seg_walk *w = (struct seg_walk *)arg;
    w->records++;
    if (w->records == 1)
        CHECK_MSG(r->type == WAL_CHECKPOINT, "%s: first record has type %u",
                  w->f->name, r->type);
    CHECK_EQ_U64(r->off % 8, 0);
    if (w->batch_records == 0 && r->type != WAL_COMMIT && r->type != WAL_FOOTER)
        w->batch_start = r->off;
    switch (r->type) {
    case WAL_CHECKPOINT:
        /* a = the log's last index, b = its first; the payload starts with
         * the hard state, and its length adds up. */
        CHECK_EQ_U64(r->off, 64);
        CHECK(r->len >= 72);
        CHECK_EQ_U64(r->a, w->f->h.first_index - 1);
        CHECK_EQ_U64(r->b, 1);
        CHECK_EQ_U64(tu_le64(r->payload), w->last_hs.term);
        CHECK_EQ_U64(tu_le64(r->payload + 8), w->last_hs.vote);
        CHECK_EQ_U64(tu_le64(r->payload + 16), w->last_hs.commit);
        /* the blobs, then the segment table: one 24-byte entry per
         * sealed segment before this one */
        CHECK_EQ_U64(r->len, 72 + (uint64_t)tu_le32(r->payload + 56) +
                                 tu_le32(r->payload + 60) + 24ull * tu_le32(r->payload + 64));
        CHECK_EQ_U64(tu_le32(r->payload + 68), 0); /* reserved */
        break;
    case WAL_ENTRY:
        CHECK_EQ_U64(r->a, w->next_entry);
        CHECK_EQ_U64(r->aux, r->a % 5);
        CHECK_MSG(tu_payload_ok(r->payload, r->len, r->a, r->b, MAXP),
                  "%s: entry %" PRIu64 " payload differs", w->f->name, r->a);
        w->next_entry++;
        break;
    case WAL_HARDSTATE:
        CHECK_EQ_U64(r->len, 24);
        CHECK(r->a == 0 && r->b == 0 && r->aux == 0);
        w->saw_hardstate = 1;
        w->last_hs.term = tu_le64(r->payload);
        w->last_hs.vote = tu_le64(r->payload + 8);
        w->last_hs.commit = tu_le64(r->payload + 16);
        break;
    case WAL_EPOCH:
        CHECK_EQ_U64(r->len, 0);
        CHECK(r->b != 0);
        CHECK(w->epochs < 64);
        /* An EPOCH at offset E starts a new epoch at E + 32. */
        w->epoch_start[w->epochs] = r->off + 32;
        w->epoch_salt[w->epochs] = r->b;
        w->epochs++;
        break;
    case WAL_COMMIT:
        CHECK_EQ_U64(r->len, 0);
        CHECK_MSG(r->b == w->batch_start, "%s: COMMIT at %" PRIu64 " points at %" PRIu64
                  ", the batch began at %" PRIu64, w->f->name, r->off, r->b,
                  w->batch_start);
        CHECK_MSG(r->aux == w->batch_records, "%s: COMMIT at %" PRIu64 " counts %u"
                  " records, the batch has %u", w->f->name, r->off, r->aux,
                  w->batch_records);
        CHECK(r->a <= r->off);
        w->commits++;
        w->batch_records = 0;
        return 0;
    case WAL_FOOTER:
        w->footer_first = r->a;
        w->footer_count = r->b;
        w->footer_off = r->off;
        w->footer_epochs = r->aux;
        CHECK_EQ_U64(r->len, 4 * r->b + 16 * (uint64_t)r->aux);
        CHECK_EQ_U64(w->batch_records, 0);
        return 0;
    default:
        break;
    }
    /* EPOCH records stand alone or open a batch; either way they are
     * counted by the COMMIT that closes the batch they precede only if
     * the engine writes them inside it, so accept both. */
    if (r->type == WAL_EPOCH && w->batch_records == 0) {
        w->batch_start = r->end;
        return 0;
    }
    w->batch_records++;
    return 0;
}

/* Every u32 of the FOOTER points at the ENTRY record of its index, and
 * its epoch list matches the EPOCH records (with or without epoch 0, which
 * starts at byte 64 under the header salt). */
static void check_footer(const wal_file *f, const struct seg_walk *w)
{
    const unsigned char *slots = f->buf + w->footer_off + 32;
    const unsigned char *pairs = slots + 4 * w->footer_count;
    uint64_t i;
    int skip0;
    for (i = 0; i < w->footer_count; i++) {
        uint32_t off = tu_le32(slots + 4 * i);
        CHECK(off >= 64 + 32 && (uint64_t)off + 32 <= f->size);
        CHECK_MSG(f->buf[off + 4] == WAL_ENTRY &&
                      tu_le64(f->buf + off + 16) == w->footer_first + i,
                  "%s: footer slot %" PRIu64 " -> offset %u is not entry %" PRIu64,
                  f->name, i, off, w->footer_first + i);
    }
    CHECK_MSG(w->footer_epochs == (uint32_t)w->epochs ||
                  w->footer_epochs == (uint32_t)w->epochs + 1,
              "%s: footer lists %u epochs, the segment has %d EPOCH records",
              f->name, w->footer_epochs, w->epochs);
    skip0 = w->footer_epochs == (uint32_t)w->epochs + 1;
    if (skip0) {
        CHECK_EQ_U64(tu_le64(pairs), 64);
        CHECK_EQ_U64(tu_le64(pairs + 8), f->h.salt);
    }
    for (i = 0; i < (uint64_t)w->epochs; i++) {
        const unsigned char *p = pairs + 16 * (i + (uint64_t)skip0);
        CHECK_EQ_U64(tu_le64(p), w->epoch_start[i]);
        CHECK_EQ_U64(tu_le64(p + 8), w->epoch_salt[i]);
    }
}

static void test_files_match_format_md(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, SEG);
    wal_file files[MAXFILES];
    raftwal_hardstate hs = {3, 2, 0};
    size_t n, i, tail, used = 0, grown = 0;
    uint64_t next_entry = 1, last;
    int total_epochs = 0;
    raftwal_hardstate seen_hs = {0, 0, 0};
    batch b;
    model m;

    model_init(&m);
    for (i = 0; i < 120; i++) {
        /* Reopens put EPOCH records in the middle of sealed segments. */
        if (i == 10 || i == 45)
            reopen_log(&log, dir, 0, SEG);
        /* At i == 80 a batch of ~3 segments grows a file past its prepared
         * size (docs/format.md, 3): the segment it overflows, or a fresh
         * oversized one. */
        batch_make(&b, m.last + 1, i == 80 ? 400 : (size_t)tu_rand_range(1, 6), 1 + i / 40, MAXP);
        hs.commit = m.last;
        CHECK_OK(raftwal_log_append(log, b.e, b.n, i % 7 == 0 ? &hs : NULL, 0));
        model_append(&m, b.e, b.n, i % 7 == 0 ? &hs : NULL);
        batch_free(&b);
    }
    /* A reopen makes the next write an EPOCH. */
    reopen_log(&log, dir, 0, SEG);
    batch_make(&b, m.last + 1, 3, 4, MAXP);
    CHECK_OK(raftwal_log_append(log, b.e, b.n, NULL, 0));
    model_append(&m, b.e, b.n, NULL);
    batch_free(&b);
    last = m.last;
    CHECK_OK(raftwal_log_close(log));

    n = wal_load_dir(dir, files, MAXFILES);
    CHECK(n >= 3);
    tail = wal_tail(files, n);
    for (i = 0; i < n; i++) {
        const wal_file *f = &files[i];
        char want_name[64];
        snprintf(want_name, sizeof want_name, "%016" PRIx64 ".wal", f->h.seq);
        CHECK_MSG(f->h.magic_ok, "%s: bad magic", f->name);
        CHECK_MSG(f->h.crc_ok, "%s: header CRC mismatch", f->name);
        CHECK_EQ_U64(f->h.version, 1);
        CHECK_EQ_U64(f->h.header_size, 64);
        CHECK_MSG(strcmp(want_name, f->name) == 0, "%s: header seq %" PRIu64,
                  f->name, f->h.seq);
        CHECK_EQ_U64(f->h.log_id, files[0].h.log_id);
        CHECK(f->h.salt != 0);
        /* The prepared size; a batch may have grown the file past it. */
        if (f->h.first_index == 0)
            CHECK_EQ_U64(f->h.prealloc, f->size);
        else
            CHECK(f->h.prealloc <= f->size);
        grown += f->size > f->h.prealloc;
        /* No lazy flag (every write synced); the recycled flag only on a
         * file a reopen adopted as the next segment (log_open.c,
         * adopt_prepared): seeds where a reopen finds one prepared. */
        CHECK_MSG((tu_le32(f->buf + 56) & ~1u) == 0, "%s: flags %u", f->name,
                  (unsigned)tu_le32(f->buf + 56));
        if (i > 0)
            CHECK_EQ_U64(f->h.seq, files[i - 1].h.seq + 1);
        if (i > 0 && f->h.first_index != 0)
            CHECK(f->h.salt != files[i - 1].h.salt);

        if (f->h.first_index == 0) {
            /* Prepared: only after every used segment, zeros after the
             * header. */
            size_t k;
            CHECK(i > tail);
            for (k = 64; k < f->size; k++)
                CHECK_MSG(f->buf[k] == 0, "%s: prepared segment byte %zu is %u",
                          f->name, k, f->buf[k]);
            continue;
        }
        used++;
        CHECK(i <= tail);
        CHECK_EQ_U64(f->h.first_index, next_entry);
        {
            struct seg_walk w;
            wal_record seal;
            int clean;
            memset(&w, 0, sizeof w);
            w.f = f;
            w.next_entry = next_entry;
            w.last_hs = seen_hs;
            wal_scan(f, walk_cb, &w, &clean);
            seen_hs = w.last_hs;
            CHECK_MSG(clean, "%s: records end in an invalid record", f->name);
            CHECK(w.commits >= 1);
            total_epochs += w.epochs;
            next_entry = w.next_entry;
            if (i < tail) {
                /* Sealed: FOOTER, zeros, SEAL in the last 64 bytes. */
                CHECK_MSG(wal_read_seal(f, &seal), "%s: no valid SEAL", f->name);
                CHECK_EQ_U64(seal.a, w.footer_first);
                CHECK_EQ_U64(seal.b, w.footer_count);
                CHECK_EQ_U64(tu_le64(seal.payload), w.footer_off);
                CHECK_EQ_U64(tu_le64(seal.payload + 8), UINT64_MAX);
                CHECK_EQ_U64(w.footer_first, f->h.first_index);
                CHECK_EQ_U64(w.footer_first + w.footer_count, w.next_entry);
                check_footer(f, &w);
            } else {
                CHECK_MSG(!wal_read_seal(f, &seal), "%s: the tail is sealed", f->name);
            }
        }
    }
    CHECK_EQ_U64(next_entry, last + 1);
    CHECK_EQ_U64(seen_hs.term, m.hs.term);
    CHECK_EQ_U64(seen_hs.vote, m.hs.vote);
    CHECK_EQ_U64(seen_hs.commit, m.hs.commit);
    CHECK(used >= 3);
    CHECK_MSG(grown >= 1, "no segment file grew past its prepared size");
    CHECK_MSG(total_epochs >= 1, "no EPOCH record after a reopen");
    wal_free_files(files, n);
    model_free(&m);
}

static void test_crc32c_reference(void)
{
    /* The test's own CRC32C is right (docs/format.md quotes this value). */
    CHECK_EQ_U64(tu_crc32c(0, "123456789", 9), 0xE3069283u);
    CHECK_EQ_U64(tu_crc32c(0, "", 0), 0);
    CHECK_EQ_U64(tu_crc32c(tu_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
}

int main(int argc, char **argv)
{
    TU_RUN(argc, argv, test_crc32c_reference);
    TU_RUN(argc, argv, test_files_match_format_md);
    return 0;
}
