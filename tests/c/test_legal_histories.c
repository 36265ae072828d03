/*
 * test_legal_histories.c -- c_legal_histories: every history the writer
 * accepts is accepted by every other reader of the log (issue 17, 1).
 *
 * The writer (append), recovery's scan of the tail (open), the full check
 * of sealed segments (raftwal_verify, RAFTWAL_OPEN_VERIFY, the check of a
 * killed no-sync writer's unsynced segments at the next open) and repair
 * must agree on which histories are legal. A Raft follower that installs a
 * leader's snapshot whose term is lower than its own last (uncommitted)
 * entry's, purges past its last index and appends the leader's entries has
 * a term drop in its log that is legal: the checker once called it
 * corruption, and repair cut the acknowledged entries after it.
 *
 *   test_term_drop_*         the scenario, one reader at a time;
 *   test_random_histories    a property test: random legal Raft histories
 *                            (appends, overwrites, truncations, snapshot
 *                            compactions, snapshot installs with term drops,
 *                            purges past the end, snapshots inside the
 *                            log at a higher term than the entries after
 *                            them, with and without the truncate that
 *                            follows an install, hard states, reopens)
 *                            written by a child process that SIGKILLs itself
 *                            at the end of each phase, with small segments
 *                            so that they seal; after every phase a plain
 *                            open, raftwal_verify, a RAFTWAL_OPEN_VERIFY
 *                            open and raftwal_repair must accept the log,
 *                            hold exactly the model, and cut nothing.
 *
 * RAFTWAL_TEST_SEED picks other histories; RAFTWAL_TEST_ITERATIONS sets the
 * number of histories (default: as many as fit in about 4 seconds, at most
 * 40; set explicitly, the count is not capped by time).
 */
#include "model.h"
#include "test_util.h"

#include <signal.h>
#include <sys/wait.h>

#define SEG RAFTWAL_MIN_SEGMENT_SIZE
#define MAXP 300

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */
/* ---------------------------------------------------------------------- */

static void append_model(raftwal_log *log, model *m, uint64_t from, size_t n, uint64_t term,
                         const raftwal_hardstate *hs, unsigned int flags)
{
    batch b;
    batch_make(&b, from, n, term, MAXP);
    if (log)
        CHECK_OK(raftwal_log_append(log, b.e, b.n, hs, flags));
    model_append(m, b.e, b.n, hs);
    batch_free(&b);
}

/* Checks the log in dir against m through a fresh handle opened with flags. */
static void check_open(const char *dir, unsigned int flags, const model *m)
{
    raftwal_log *log = open_log(dir, flags, SEG);
    model_check(log, m);
    CHECK_OK(raftwal_log_close(log));
}

static void check_verify(const char *dir, const model *m)
{
    raftwal_check c;
    memset(&c, 0, sizeof c);
    c.size = sizeof c;
    CHECK_OK(raftwal_verify(dir, &c));
    CHECK_EQ_U64(c.first_index, m->first);
    CHECK_EQ_U64(c.last_index, m->last);
}

/* Repair of a sound log changes nothing: no cut, no backup, same log. */
static void check_repair(const char *dir, const model *m)
{
    raftwal_check c;
    memset(&c, 0, sizeof c);
    c.size = sizeof c;
    CHECK_OK(raftwal_repair(dir, &c));
    CHECK_EQ_U64(c.cut_bytes, 0);
    CHECK_MSG(c.backup_path[0] == 0, "repair made a backup: %s", c.backup_path);
    CHECK_EQ_U64(c.first_index, m->first);
    CHECK_EQ_U64(c.last_index, m->last);
    check_open(dir, RAFTWAL_OPEN_READONLY, m);
}

/* Runs fn(arg) in a child that SIGKILLs itself once fn returns: a writer
 * killed -9 right after its last call returned. An error in the child
 * exits it with status 2 instead, which fails the test. */
static void run_killed(void (*fn)(void *), void *arg)
{
    int status;
    pid_t pid;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        fn(arg);
        kill(getpid(), SIGKILL);
        _exit(3); /* not reached */
    }
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
              "the writer did not run to its kill (status 0x%x)", status);
}

/* ---------------------------------------------------------------------- */
/* The scenario                                                   */
/* ---------------------------------------------------------------------- */

/* Entry 100 at term 5 (uncommitted); the leader's snapshot (200, 4)
 * installed; purge 200 (the log is empty: first 201, last 200); the
 * leader's entries 201... at term 4, enough of them that the segment that
 * holds the PURGE and the first of them is sealed, and the next too. */
static void term_drop_history(raftwal_log *log, model *m, unsigned int flags)
{
    raftwal_hardstate hs = {5, 1, 90};
    uint64_t segs0 = 0;
    int i;
    append_model(log, m, 1, 90, 3, NULL, flags);
    append_model(log, m, 91, 10, 5, &hs, flags);
    if (log) {
        CHECK_OK(raftwal_log_save_snapshot(log, 200, 4, "snap", 4));
        CHECK_OK(raftwal_log_purge(log, 200));
        segs0 = get_stats(log).segments;
    }
    model_snapshot(m, 200, 4, "snap", 4);
    model_purge(m, 200);
    CHECK_EQ_U64(m->first, 201);
    CHECK_EQ_U64(m->last, 200);
    for (i = 0; i < 60; i++)
        append_model(log, m, m->last + 1, 10, 4, NULL, flags);
    hs.term = 6;
    hs.commit = m->last - 5;
    if (log) {
        /* The PURGE's segment and the next are sealed. */
        CHECK(get_stats(log).segments >= segs0 + 2);
        CHECK_OK(raftwal_log_set_hardstate(log, &hs, flags));
    }
    m->hs = hs;
}

/* A log in a new directory that went through term_drop_history and was
 * closed. */
static const char *term_drop_log(model *m)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, SEG);
    model_init(m);
    term_drop_history(log, m, 0);
    model_check(log, m);
    CHECK_OK(raftwal_log_close(log));
    return dir;
}

static void test_term_drop_verify(void)
{
    model m;
    const char *dir = term_drop_log(&m);
    check_verify(dir, &m);
    model_free(&m);
}

static void test_term_drop_open_verify(void)
{
    model m;
    const char *dir = term_drop_log(&m);
    check_open(dir, RAFTWAL_OPEN_VERIFY, &m);
    check_open(dir, RAFTWAL_OPEN_VERIFY | RAFTWAL_OPEN_READONLY, &m);
    model_free(&m);
}

static void test_term_drop_repair(void)
{
    model m;
    const char *dir = term_drop_log(&m);
    check_repair(dir, &m);
    check_open(dir, 0, &m);
    model_free(&m);
}

struct killed_writer {
    const char *dir;
    model *m;
};

static void term_drop_nosync_writer(void *arg)
{
    struct killed_writer *k = (struct killed_writer *)arg;
    raftwal_log *log = open_log(k->dir, RAFTWAL_OPEN_CREATE | RAFTWAL_OPEN_NOSYNC, SEG);
    term_drop_history(log, k->m, RAFTWAL_NOSYNC);
}

/* The pattern the header recommends (no-sync appends) and a kill -9: the
 * next plain open checks the unsynced sealed segments in full. */
static void test_term_drop_after_kill(void)
{
    model m, unused;
    struct killed_writer k;
    k.dir = tu_tmpdir();
    k.m = &unused;
    model_init(&unused);
    run_killed(term_drop_nosync_writer, &k);
    /* The same history in the parent's model (the child's is gone). */
    model_init(&m);
    term_drop_history(NULL, &m, 0);
    check_open(k.dir, 0, &m);
    check_verify(k.dir, &m);
    check_repair(k.dir, &m);
    model_free(&m);
    model_free(&unused);
}

/* ---------------------------------------------------------------------- */
/* Random legal Raft histories                                            */
/* ---------------------------------------------------------------------- */

/* The generator's state. The writer (a child) and the checker (the parent)
 * run the same generator from the same state: the child on the log and a
 * model, the parent on a model only. */
typedef struct gen {
    uint64_t rng;
    uint64_t term; /* the node's current term: the highest seen so far */
    int installs, drops, overwrites, truncates, compactions, past_purges, reopens;
    int inside, inside_live; /* op_install_inside, and those that kept entries after it */
} gen;

static uint64_t g_rand(gen *g)
{
    g->rng += 0x9e3779b97f4a7c15ull;
    return tu_mix(g->rng);
}

static uint64_t g_range(gen *g, uint64_t lo, uint64_t hi)
{
    return lo + g_rand(g) % (hi - lo + 1);
}

/* Entries at or below this may not be replaced (the writer's commit floor). */
static uint64_t floor_index(const model *m)
{
    uint64_t f = m->hs.commit > m->snap_index ? m->hs.commit : m->snap_index;
    return f + 1 > m->first ? f + 1 : m->first;
}

/* The term an entry at `index` may not go below, as Raft has it: the live
 * entry before it, or the snapshot right before it, or nothing. */
static uint64_t pred_term(const model *m, uint64_t index)
{
    if (index - 1 >= m->first && index - 1 <= m->last)
        return model_term(m, index - 1);
    if (index - 1 == m->snap_index && m->snap_index)
        return m->snap_term;
    return 1;
}

struct phase {
    const char *dir;
    gen *g;
    model *m;
    int ops;
    unsigned int open_flags;
};

static void op_append(raftwal_log **log, struct phase *p, unsigned int flags)
{
    model *m = p->m;
    gen *g = p->g;
    uint64_t from = m->last + 1, lo = floor_index(m), pred, term;
    raftwal_hardstate hs = m->hs;
    int with_hs = g_rand(g) % 3 == 0;
    size_t n = (size_t)g_range(g, 1, 12);
    if (g_rand(g) % 4 == 0 && m->last >= lo) { /* a new leader's conflicting suffix */
        from = g_range(g, lo, m->last);
        g->term++;
        g->overwrites++;
    }
    if (g_rand(g) % 5 == 0)
        g->term++;
    pred = pred_term(m, from);
    if (pred > g->term)
        g->term = pred;
    term = g_range(g, pred, g->term);
    if (with_hs) {
        hs.term = g->term;
        hs.vote = g_rand(g) % 3;
        hs.commit = g_range(g, hs.commit, from + n - 1 > hs.commit ? from + n - 1 : hs.commit);
    }
    append_model(*log, m, from, n, term, with_hs ? &hs : NULL, flags);
}

static void op_truncate(raftwal_log **log, struct phase *p)
{
    uint64_t lo = floor_index(p->m), from;
    if (p->m->last + 1 < lo)
        return;
    from = g_range(p->g, lo, p->m->last + 1);
    if (*log)
        CHECK_OK(raftwal_log_truncate(*log, from));
    model_truncate(p->m, from);
    p->g->truncates++;
}

static void op_purge(raftwal_log **log, struct phase *p, uint64_t upto)
{
    if (*log)
        CHECK_OK(raftwal_log_purge(*log, upto));
    model_purge(p->m, upto);
}

static void op_snapshot(raftwal_log **log, struct phase *p, uint64_t index, uint64_t term)
{
    unsigned char meta[32];
    size_t size = (size_t)(index % sizeof meta);
    tu_payload_fill(meta, size, index, term);
    if (*log)
        CHECK_OK(raftwal_log_save_snapshot(*log, index, term, meta, size));
    model_snapshot(p->m, index, term, meta, size);
}

/* The node snapshots committed entries and compacts its log. */
static void op_compact(raftwal_log **log, struct phase *p)
{
    model *m = p->m;
    uint64_t lo = m->snap_index > m->first ? m->snap_index : m->first, hi, idx;
    hi = m->hs.commit < m->last ? m->hs.commit : m->last;
    if (hi < lo || hi == 0)
        return;
    idx = g_range(p->g, lo, hi);
    op_snapshot(log, p, idx, model_term(m, idx));
    if (g_rand(p->g) % 2)
        op_purge(log, p, g_range(p->g, m->first - 1, idx));
    p->g->compactions++;
}

/* A leader's snapshot past the end of the log: its term may be lower than
 * the follower's last (uncommitted) entry's. Saved, purged past the end,
 * the commit index moved to it. */
static void op_install(raftwal_log **log, struct phase *p, unsigned int flags)
{
    model *m = p->m;
    gen *g = p->g;
    uint64_t base = m->last, idx, term;
    raftwal_hardstate hs = m->hs;
    if (m->snap_index > base)
        base = m->snap_index;
    if (m->hs.commit > base)
        base = m->hs.commit;
    idx = base + g_range(g, 1, 20);
    g->term++;
    term = g_range(g, 1, g->term);
    if (m->last >= m->first && term < model_term(m, m->last))
        g->drops++;
    op_snapshot(log, p, idx, term);
    op_purge(log, p, idx);
    hs.term = g->term;
    hs.commit = idx;
    if (*log)
        CHECK_OK(raftwal_log_set_hardstate(*log, &hs, flags));
    m->hs = hs;
    g->installs++;
}

/* A snapshot inside the log (index <= last, or first-1 when the log is
 * empty past a purge), at a term higher than every entry after it: a
 * follower installing a leader's snapshot that conflicts with its own
 * (uncommitted) entries. Saved, the commit index moved to it, purged to it,
 * and half the time the conflicting suffix truncated; without the truncate
 * it is a follower stopped mid install (or a snapshot saved at first-1
 * after the entry first was appended past a purge). The entry after the
 * snapshot is then younger than it: the snapshot is not its predecessor. */
static void op_install_inside(raftwal_log **log, struct phase *p, unsigned int flags)
{
    model *m = p->m;
    gen *g = p->g;
    uint64_t lo = m->first - 1, idx;
    raftwal_hardstate hs = m->hs;
    if (m->snap_index + 1 > lo)
        lo = m->snap_index + 1;
    if (m->hs.commit > lo)
        lo = m->hs.commit;
    if (lo > m->last || lo == 0)
        return;
    idx = g_range(g, lo, m->last);
    g->term++;
    op_snapshot(log, p, idx, g->term);
    hs.term = g->term;
    hs.commit = idx;
    if (*log)
        CHECK_OK(raftwal_log_set_hardstate(*log, &hs, flags));
    m->hs = hs;
    if (idx >= m->first)
        op_purge(log, p, idx);
    if (g_rand(g) % 2) {
        if (*log)
            CHECK_OK(raftwal_log_truncate(*log, idx + 1));
        model_truncate(m, idx + 1);
    } else if (idx < m->last) {
        g->inside_live++; /* entries younger than the snapshot, lower terms */
    }
    g->inside++;
}

/* A purge past the end without a snapshot there: the next entry has no
 * predecessor at all (the writer accepts any term for it). */
static void op_purge_past(raftwal_log **log, struct phase *p)
{
    op_purge(log, p, p->m->last + g_range(p->g, 0, 8));
    p->g->past_purges++;
}

static void op_hardstate(raftwal_log **log, struct phase *p, unsigned int flags)
{
    raftwal_hardstate hs = p->m->hs;
    if (p->m->last > hs.commit)
        hs.commit = g_range(p->g, hs.commit, p->m->last);
    hs.term = p->g->term;
    if (*log)
        CHECK_OK(raftwal_log_set_hardstate(*log, &hs, flags));
    p->m->hs = hs;
}

/* One phase: p->ops random operations, on *log (and the model) or, with
 * *log NULL, on the model alone. */
static void run_phase(raftwal_log **log, struct phase *p)
{
    int i;
    for (i = 0; i < p->ops; i++) {
        uint64_t r = g_rand(p->g) % 100;
        unsigned int flags = g_rand(p->g) % 4 ? RAFTWAL_NOSYNC : 0;
        if (r < 55)
            op_append(log, p, flags);
        else if (r < 62)
            op_truncate(log, p);
        else if (r < 70)
            op_compact(log, p);
        else if (r < 76)
            op_install(log, p, flags);
        else if (r < 80)
            op_install_inside(log, p, flags);
        else if (r < 83)
            op_purge_past(log, p);
        else if (r < 93)
            op_hardstate(log, p, flags);
        else {
            p->g->reopens++;
            if (*log)
                reopen_log(log, p->dir, p->open_flags, SEG);
        }
    }
}

static void phase_writer(void *arg)
{
    struct phase *p = (struct phase *)arg;
    raftwal_log *log = open_log(p->dir, p->open_flags, SEG);
    run_phase(&log, p);
}

static int iteration_now = -1;
static uint64_t iteration_seed;

static void report_iteration(void)
{
    if (iteration_now >= 0)
        fprintf(stderr, "  in history %d (generator seed 0x%" PRIx64 ")\n", iteration_now,
                iteration_seed);
}

static void test_random_histories(void)
{
    const char *env = getenv("RAFTWAL_TEST_ITERATIONS");
    int iterations = env && *env ? atoi(env) : 40, it, phases = 4, ph;
    uint64_t t0 = tu_now_ns(), budget = env && *env ? UINT64_MAX : 4000000000ull;
    const char *root = tu_tmpdir();
    gen total;
    memset(&total, 0, sizeof total);
    atexit(report_iteration);
    for (it = 0; it < iterations && tu_now_ns() - t0 < budget; it++) {
        char dir[1024];
        model m;
        gen g;
        memset(&g, 0, sizeof g);
        g.rng = iteration_seed = tu_mix(tu_seed() + (uint64_t)it);
        g.term = 1;
        iteration_now = it;
        snprintf(dir, sizeof dir, "%s/history-%d", root, it);
        CHECK_MSG(mkdir(dir, 0755) == 0, "mkdir %s: %s", dir, strerror(errno));
        model_init(&m);
        for (ph = 0; ph < phases; ph++) {
            struct phase p;
            gen start = g;
            model scratch;
            raftwal_log *none = NULL;
            p.dir = dir;
            p.g = &g;
            p.m = &m;
            p.ops = 60;
            p.open_flags = (ph == 0 ? RAFTWAL_OPEN_CREATE : 0) |
                           (g_rand(&g) % 2 ? RAFTWAL_OPEN_NOSYNC : 0);
            /* The child writes from a copy of the generator and model... */
            start = g;
            model_copy(&scratch, &m);
            p.m = &scratch;
            run_killed(phase_writer, &p);
            model_free(&scratch);
            /* ...and the parent replays the same phase on its model. */
            g = start;
            p.m = &m;
            run_phase(&none, &p);
            check_open(dir, 0, &m);
            check_verify(dir, &m);
            check_open(dir, RAFTWAL_OPEN_VERIFY, &m);
            check_repair(dir, &m);
        }
        model_free(&m);
        total.installs += g.installs;
        total.drops += g.drops;
        total.overwrites += g.overwrites;
        total.truncates += g.truncates;
        total.compactions += g.compactions;
        total.past_purges += g.past_purges;
        total.reopens += g.reopens;
        total.inside += g.inside;
        total.inside_live += g.inside_live;
        tu_rm_rf(dir); /* keep the temporary directory small */
    }
    iteration_now = -1;
    printf("   %d histories of %d killed phases: %d snapshot installs (%d term drops), %d "
           "overwrites, %d truncations, %d compactions, %d purges past the end, %d reopens, "
           "%d snapshots inside the log (%d kept the entries after them)\n",
           it, phases, total.installs, total.drops, total.overwrites, total.truncates,
           total.compactions, total.past_purges, total.reopens, total.inside, total.inside_live);
    CHECK(total.drops > 0);
    CHECK(total.inside_live > 0);
}

int main(int argc, char **argv)
{
    TU_RUN(argc, argv, test_term_drop_verify);
    TU_RUN(argc, argv, test_term_drop_open_verify);
    TU_RUN(argc, argv, test_term_drop_repair);
    TU_RUN(argc, argv, test_term_drop_after_kill);
    TU_RUN(argc, argv, test_random_histories);
    return 0;
}
