/*
 * test_torn_tail.c -- c_torn_tail: a crash in the middle of the last
 * batch's write, at EVERY byte offset of it.
 *
 * A log is written with durable batches and closed. Then, for each offset
 * k in the last batch's byte range [start, end) (found with the
 * independent reader of docs/format.md), the files are restored and the
 * bytes [k, end) are either zeroed (the write never reached the disk) or
 * replaced by garbage (the sectors hold something else). On reopen the log
 * must be exactly the log before the last batch -- bounds, every entry's
 * bytes, hard state -- with stats.torn_tails == 1 when a non-empty record
 * was cut; raftwal_verify() must accept it and report the torn tail; an
 * append after recovery, and a reopen after that, must work (the bytes
 * beyond the cut can never validate again).
 *
 * Scenarios: the last batch in the middle of the only segment; the last
 * batch the first one of a freshly rotated segment; the last batch written
 * after a reopen (an EPOCH record precedes it and is part of the range).
 */
#include "model.h"
#include "test_util.h"
#include "wal_reader.h"

#define SEG RAFTWAL_MIN_SEGMENT_SIZE
#define MAXP 24
#define MAXFILES 16

/* The files of a directory, held in memory to restore it many times. */
struct dir_copy {
    size_t n;
    char name[MAXFILES][256];
    unsigned char *buf[MAXFILES];
    size_t size[MAXFILES];
};

static void copy_load(struct dir_copy *c, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    CHECK(d != NULL);
    c->n = 0;
    while ((de = readdir(d)) != NULL) {
        char path[1024];
        struct stat st;
        tu_path(path, dir, de->d_name);
        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        CHECK(c->n < MAXFILES);
        snprintf(c->name[c->n], sizeof c->name[0], "%s", de->d_name);
        c->buf[c->n] = tu_read_file(path, &c->size[c->n]);
        c->n++;
    }
    closedir(d);
}

static void copy_restore(const struct dir_copy *c, const char *dir)
{
    size_t i;
    char path[1024];
    tu_clear_dir(dir);
    for (i = 0; i < c->n; i++)
        tu_write_file(tu_path(path, dir, c->name[i]), c->buf[i], c->size[i]);
}

static void copy_free(struct dir_copy *c)
{
    size_t i;
    for (i = 0; i < c->n; i++)
        free(c->buf[i]);
    c->n = 0;
}

/* Record boundaries of [from, to) in the tail file, for deciding where
 * the engine's scan must stop. */
struct rec_list {
    uint64_t off[256], covered_end[256]; /* header + payload, no padding */
    int n;
    uint64_t from, to;
};

static int list_cb(const wal_record *r, void *arg)
{
    struct rec_list *l = (struct rec_list *)arg;
    if (r->off >= l->from && r->off < l->to) {
        CHECK(l->n < 256);
        l->off[l->n] = r->off;
        l->covered_end[l->n] = r->off + 32 + r->len;
        l->n++;
    }
    return 0;
}

struct scenario {
    const char *name;
    const char *src;     /* the intact log */
    model before, after; /* without / with the last batch */
    uint64_t term;       /* the term of the last batch */
    uint64_t from, to;   /* damage range: the last write */
    uint64_t batch;      /* where its batch starts (after an EPOCH) */
    char tail_name[64];
};

static void append_batch(raftwal_log *log, model *m, size_t n, uint64_t term,
                         int with_hs)
{
    raftwal_hardstate hs = {term, 1, 0};
    batch b;
    batch_make(&b, m->last + 1, n, term, MAXP);
    hs.commit = m->last; /* everything before this batch is committed */
    CHECK_OK(raftwal_log_append(log, b.e, b.n, with_hs ? &hs : NULL, 0));
    model_append(m, b.e, b.n, with_hs ? &hs : NULL);
    batch_free(&b);
}

/* Finds the last write's byte range in the tail segment: the last batch,
 * extended backwards over an EPOCH record just before it (the first write
 * after an open). require_epoch: fail if there is none. */
static void locate_last_write(struct scenario *s, int require_epoch)
{
    wal_file files[MAXFILES];
    size_t n = wal_load_dir(s->src, files, MAXFILES), t = wal_tail(files, n);
    uint64_t start, end;
    struct rec_list l;
    int clean;
    CHECK_MSG(wal_last_batch(&files[t], &start, &end), "%s: no batch in %s", s->name,
              files[t].name);
    memset(&l, 0, sizeof l);
    l.from = 64;
    l.to = start;
    wal_scan(&files[t], list_cb, &l, &clean);
    CHECK(l.n > 0);
    s->batch = start;
    if (files[t].buf[l.off[l.n - 1] + 4] == WAL_EPOCH)
        start = l.off[l.n - 1];
    else
        CHECK_MSG(!require_epoch, "%s: no EPOCH before the last batch", s->name);
    s->from = start;
    s->to = end;
    snprintf(s->tail_name, sizeof s->tail_name, "%s", files[t].name);
    wal_free_files(files, n);
}

static void scenario_init(struct scenario *s, const char *name)
{
    memset(s, 0, sizeof *s);
    s->name = name;
    s->src = tu_tmpdir();
}

/* Appends the last batch, remembering the model before and after it. */
static void scenario_last_batch(struct scenario *s, raftwal_log *log, model *cur,
                                uint64_t term)
{
    model_copy(&s->before, cur);
    append_batch(log, cur, 3, term, 1);
    model_copy(&s->after, cur);
    s->term = term;
}

static void scenario_free(struct scenario *s)
{
    model_free(&s->before);
    model_free(&s->after);
}

static void test_scenario(struct scenario *s)
{
    const char *work = tu_tmpdir();
    struct dir_copy orig;
    char tail_path[1024];
    uint64_t k;
    int mode, cut_count = 0, intact_count = 0, clean_count = 0, reappearing = 0;
    struct rec_list recs;
    size_t ti;

    copy_load(&orig, s->src);
    for (ti = 0; ti < orig.n; ti++)
        if (strcmp(orig.name[ti], s->tail_name) == 0)
            break;
    CHECK(ti < orig.n);
    {
        wal_file f;
        int clean;
        memset(&f, 0, sizeof f);
        f.buf = orig.buf[ti];
        f.size = orig.size[ti];
        wal_parse_header(f.buf, f.size, &f.h);
        memset(&recs, 0, sizeof recs);
        recs.from = s->from;
        recs.to = s->to;
        wal_scan(&f, list_cb, &recs, &clean);
        CHECK(recs.n >= 2);
    }
    tu_path(tail_path, work, s->tail_name);
    printf("   %s: last write is %s [%" PRIu64 ", %" PRIu64 "), %d records\n", s->name,
           s->tail_name, s->from, s->to, recs.n);

    for (mode = 0; mode < 2; mode++) {
        for (k = s->from; k < s->to; k++) {
            unsigned char *buf = (unsigned char *)malloc(orig.size[ti]);
            uint64_t x = s->from, j;
            int changed = 0, torn, r;
            raftwal_check chk;
            raftwal_log *log;
            raftwal_stats st;
            model m;

            CHECK(buf != NULL);
            memcpy(buf, orig.buf[ti], orig.size[ti]);
            for (j = k; j < s->to; j++)
                buf[j] = mode == 0 ? 0 : (unsigned char)(buf[j] ^ (1 + tu_rand() % 255));
            /* Where must recovery cut? The write holds up to two units that
             * stand or fall whole: an EPOCH record, and the batch. The cut
             * is at the start of the first unit with a changed byte under
             * a checksum (padding is not checksummed). It is a torn tail
             * unless that unit's first header is now all zeros: then the
             * records simply end there. */
            for (r = 0; r < recs.n && !changed; r++)
                for (j = recs.off[r]; j < recs.covered_end[r]; j++)
                    if (buf[j] != orig.buf[ti][j]) {
                        changed = 1;
                        x = recs.off[r] >= s->batch ? s->batch : s->from;
                        break;
                    }
            torn = 0;
            if (changed)
                for (j = x; j < x + 32; j++)
                    torn |= buf[j] != 0;

            copy_restore(&orig, work);
            tu_write_file(tail_path, buf, orig.size[ti]);
            free(buf);

            /* verify: sound, with the torn tail reported. */
            memset(&chk, 0, sizeof chk);
            chk.size = sizeof chk;
            CHECK_MSG(raftwal_verify(work, &chk) == 0,
                      "%s mode %d k %" PRIu64 ": verify failed", s->name, mode, k);
            CHECK_MSG((chk.torn_bytes > 0) == torn,
                      "%s mode %d k %" PRIu64 ": verify torn_bytes %" PRIu64
                      ", expected a torn tail: %d",
                      s->name, mode, k, chk.torn_bytes, torn);
            CHECK_EQ_U64(chk.last_index, changed ? s->before.last : s->after.last);
            if (torn)
                CHECK_EQ_U64(chk.torn_offset, x);

            /* open: recovers to the state before the batch. */
            {
                raftwal_options o = RAFTWAL_OPTIONS_INIT;
                int rc;
                o.flags = 0;
                o.segment_size = SEG;
                log = NULL;
                rc = raftwal_log_open(&log, work, &o);
                CHECK_MSG(rc == 0, "%s mode %d k %" PRIu64 ": open: %s", s->name, mode,
                          k, raftwal_strerror(rc));
            }
            st = get_stats(log);
            CHECK_MSG(st.torn_tails == (uint64_t)torn,
                      "%s mode %d k %" PRIu64 ": torn_tails %" PRIu64 ", expected %d",
                      s->name, mode, k, st.torn_tails, torn);
            if (torn)
                CHECK(st.torn_bytes > 0);
            model_check(log, changed ? &s->before : &s->after);

            /* An append after recovery, then a reopen: garbage beyond the
             * cut must never come back. */
            model_copy(&m, changed ? &s->before : &s->after);
            append_batch(log, &m, 2, s->term + 1, 0);
            reopen_log(&log, work, 0, SEG);
            model_check(log, &m);
            /* Bytes of the damaged write may remain beyond the new end
             * (they can never validate: a new EPOCH salt). The engine may
             * count them as a torn tail again, but only exactly there. */
            CHECK_OK(raftwal_log_close(log));
            {
                wal_file wf[MAXFILES];
                size_t nf = wal_load_dir(work, wf, MAXFILES), wt = wal_tail(wf, nf);
                uint64_t bstart, bend;
                CHECK(wal_last_batch(&wf[wt], &bstart, &bend));
                memset(&chk, 0, sizeof chk);
                chk.size = sizeof chk;
                CHECK_OK(raftwal_verify(work, &chk));
                CHECK_MSG(chk.torn_bytes == 0 || chk.torn_offset == bend,
                          "%s mode %d k %" PRIu64 ": after recovery, an append and a "
                          "clean close, a torn tail at %" PRIu64 " (the log ends at %"
                          PRIu64 ")", s->name, mode, k, chk.torn_offset, bend);
                if (chk.torn_bytes)
                    reappearing++;
                wal_free_files(wf, nf);
            }
            model_free(&m);

            if (!changed)
                intact_count++;
            else if (torn)
                cut_count++;
            else
                clean_count++;
        }
    }
    printf("   %s: %d torn tails cut, %d clean ends, %d unchanged (zeros over zeros); "
           "%d times old bytes beyond a later clean end were reported as torn again\n",
           s->name, cut_count, clean_count, intact_count, reappearing);
    CHECK(cut_count > (int)(s->to - s->from));
    copy_free(&orig);
}

static void test_mid_segment(void)
{
    struct scenario s;
    raftwal_log *log;
    model cur;
    int i;
    scenario_init(&s, "mid-segment");
    model_init(&cur);
    log = open_log(s.src, RAFTWAL_OPEN_CREATE, SEG);
    for (i = 0; i < 7; i++)
        append_batch(log, &cur, 3, 1 + (uint64_t)i / 3, i % 2 == 0);
    scenario_last_batch(&s, log, &cur, 3);
    CHECK_EQ_U64(get_stats(log).segments, 1);
    CHECK_OK(raftwal_log_close(log));
    locate_last_write(&s, 0);
    test_scenario(&s);
    scenario_free(&s);
    model_free(&cur);
}

static void test_first_batch_of_new_segment(void)
{
    struct scenario s;
    raftwal_log *log;
    model cur, prev;
    uint64_t segs;
    int i;
    scenario_init(&s, "new-segment");
    model_init(&cur);
    log = open_log(s.src, RAFTWAL_OPEN_CREATE, SEG);
    segs = get_stats(log).segments;
    /* Append until an append rotates: that batch opens the new segment. */
    for (i = 0; i < 10000; i++) {
        model_copy(&prev, &cur);
        append_batch(log, &cur, 3, 1 + (uint64_t)i / 50, i % 2 == 0);
        if (get_stats(log).segments > segs)
            break;
        model_free(&prev);
    }
    CHECK(i < 10000);
    s.before = prev;
    model_copy(&s.after, &cur);
    s.term = 1 + (uint64_t)i / 50;
    CHECK_OK(raftwal_log_close(log));
    locate_last_write(&s, 0);
    {
        wal_file files[MAXFILES];
        size_t n = wal_load_dir(s.src, files, MAXFILES), t = wal_tail(files, n);
        CHECK_MSG(t >= 1 && files[t].h.first_index == s.before.last + 1,
                  "the last batch is not the first of a new segment");
        wal_free_files(files, n);
    }
    test_scenario(&s);
    scenario_free(&s);
    model_free(&cur);
}

static void test_first_batch_after_reopen(void)
{
    struct scenario s;
    raftwal_log *log;
    model cur;
    int i;
    scenario_init(&s, "after-reopen");
    model_init(&cur);
    log = open_log(s.src, RAFTWAL_OPEN_CREATE, SEG);
    for (i = 0; i < 6; i++)
        append_batch(log, &cur, 3, 1 + (uint64_t)i / 3, i % 2 == 0);
    reopen_log(&log, s.src, 0, SEG);
    scenario_last_batch(&s, log, &cur, 3);
    CHECK_OK(raftwal_log_close(log));
    locate_last_write(&s, 1);
    test_scenario(&s);
    scenario_free(&s);
    model_free(&cur);
}

int main(int argc, char **argv)
{
    TU_RUN(argc, argv, test_mid_segment);
    TU_RUN(argc, argv, test_first_batch_of_new_segment);
    TU_RUN(argc, argv, test_first_batch_after_reopen);
    return 0;
}
