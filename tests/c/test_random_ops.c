/*
 * test_random_ops.c -- c_random_ops: a seeded random walk through every
 * kind of change (append, overwrite, hard state, truncate, purge, purge
 * past the end, snapshot, metadata, NOSYNC + sync) with frequent reopens
 * (writable and read-only) and small segments, checking the log against
 * the in-memory model after every step. RAFTWAL_TEST_SEED picks another
 * walk; RAFTWAL_TEST_STEPS changes its length.
 */
#include "model.h"
#include "test_util.h"

#define SEG RAFTWAL_MIN_SEGMENT_SIZE
#define MAXP 500

struct walk {
    const char *dir;
    raftwal_log *log;
    model m;
    uint64_t term; /* the highest term used so far */
};

static void step_append(struct walk *w)
{
    uint64_t lo = w->m.first, from;
    raftwal_hardstate hs = w->m.hs;
    int with_hs = tu_rand() % 4 == 0;
    size_t n = (size_t)tu_rand_range(1, 20);
    batch b;
    /* Mostly plain appends; sometimes an overwrite above the commit. */
    if (w->m.hs.commit + 1 > lo)
        lo = w->m.hs.commit + 1;
    if (tu_rand() % 4 == 0 && w->m.last >= lo)
        from = tu_rand_range(lo, w->m.last);
    else
        from = w->m.last + 1;
    if (tu_rand() % 3 == 0)
        w->term++;
    batch_make(&b, from, n, w->term, MAXP);
    if (with_hs) {
        hs.term = w->term;
        hs.vote = tu_rand() % 5;
        hs.commit = tu_rand_range(hs.commit, from + n - 1);
    }
    CHECK_OK(raftwal_log_append(w->log, b.e, b.n, with_hs ? &hs : NULL,
                                tu_rand() % 3 == 0 ? RAFTWAL_NOSYNC : 0));
    model_append(&w->m, b.e, b.n, with_hs ? &hs : NULL);
    batch_free(&b);
}

static void step_truncate(struct walk *w)
{
    uint64_t lo = w->m.first > w->m.hs.commit + 1 ? w->m.first : w->m.hs.commit + 1;
    uint64_t from;
    if (w->m.last < lo)
        return;
    from = tu_rand_range(lo, w->m.last + 1);
    CHECK_OK(raftwal_log_truncate(w->log, from));
    model_truncate(&w->m, from);
}

static void step_purge(struct walk *w)
{
    uint64_t upto;
    if (tu_rand() % 10 == 0)
        upto = w->m.last + tu_rand_range(0, 30); /* past the end */
    else if (w->m.last >= w->m.first)
        upto = tu_rand_range(w->m.first - 1, w->m.last);
    else
        return;
    CHECK_OK(raftwal_log_purge(w->log, upto));
    model_purge(&w->m, upto);
}

/* As in Raft, a snapshot covers committed entries only. */
static void step_snapshot(struct walk *w)
{
    uint64_t lo = w->m.snap_index > w->m.first ? w->m.snap_index : w->m.first;
    uint64_t idx, term;
    unsigned char meta[64];
    size_t size = (size_t)tu_rand_range(0, sizeof meta);
    if (w->m.hs.commit < lo || w->m.last < lo)
        return;
    idx = tu_rand_range(lo, w->m.hs.commit < w->m.last ? w->m.hs.commit : w->m.last);
    term = model_term(&w->m, idx);
    tu_payload_fill(meta, size, idx, 99);
    CHECK_OK(raftwal_log_save_snapshot(w->log, idx, term, meta, size));
    model_snapshot(&w->m, idx, term, meta, size);
}

static void step_metadata(struct walk *w)
{
    unsigned char meta[300];
    size_t size = (size_t)tu_rand_range(0, sizeof meta);
    tu_payload_fill(meta, size, tu_rand(), 7);
    CHECK_OK(raftwal_log_set_metadata(w->log, meta, size));
    model_set_metadata(&w->m, meta, size);
}

static void step_reopen(struct walk *w)
{
    if (tu_rand() % 3 == 0) {
        /* A read-only look first, then back to writing. */
        raftwal_log *ro;
        CHECK_OK(raftwal_log_close(w->log));
        ro = open_log(w->dir, RAFTWAL_OPEN_READONLY, 0);
        model_check(ro, &w->m);
        CHECK_OK(raftwal_log_close(ro));
        w->log = open_log(w->dir, 0, SEG);
    } else {
        reopen_log(&w->log, w->dir, 0, SEG);
    }
}

static void test_random_walk(void)
{
    struct walk w;
    const char *env = getenv("RAFTWAL_TEST_STEPS");
    int steps = env ? atoi(env) : 700, i;
    static const char *names[] = {"append", "truncate", "purge", "snapshot",
                                  "metadata", "sync", "reopen"};
    int counts[7] = {0};

    w.dir = tu_tmpdir();
    w.log = open_log(w.dir, RAFTWAL_OPEN_CREATE, SEG);
    w.term = 1;
    model_init(&w.m);
    for (i = 0; i < steps; i++) {
        uint64_t r = tu_rand() % 100;
        int op = r < 55 ? 0 : r < 62 ? 1 : r < 72 ? 2 : r < 78 ? 3 : r < 82 ? 4
               : r < 88 ? 5 : 6;
        counts[op]++;
        switch (op) {
        case 0: step_append(&w); break;
        case 1: step_truncate(&w); break;
        case 2: step_purge(&w); break;
        case 3: step_snapshot(&w); break;
        case 4: step_metadata(&w); break;
        case 5: CHECK_OK(raftwal_log_sync(w.log)); break;
        default: step_reopen(&w); break;
        }
        model_check(w.log, &w.m);
    }
    reopen_log(&w.log, w.dir, 0, SEG);
    model_check(w.log, &w.m);
    CHECK_OK(raftwal_log_close(w.log));
    CHECK_OK(raftwal_verify(w.dir, NULL));
    printf("   %d steps:", steps);
    for (i = 0; i < 7; i++)
        printf(" %s %d", names[i], counts[i]);
    printf("\n");
    model_free(&w.m);
}

int main(int argc, char **argv)
{
    TU_RUN(argc, argv, test_random_walk);
    return 0;
}
