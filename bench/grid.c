/* grid.c -- the append grid: payload 128 B / 1 KiB / 16 KiB x batch 1 / 16
 * / 256, durable (raw, raftwal, raftwal-steady, raw-grow, peers) and
 * no-sync (raw, raftwal, raftwal-steady, raw-grow).
 *
 * Within a cell the runs of the contenders alternate (run r starts with
 * contender r mod n), so that a drift of the machine (other jobs, the
 * disk's cache) touches every contender alike; each contender's ratio is
 * the median over runs of its rate divided by the raw rate of the same
 * run. */
#include <stdio.h>
#include <string.h>

#include "bench.h"

#define MAX_CONTENDERS 8
#define MAX_RUNS 64

static const size_t payloads[] = {128, 1024, 16384};
static const size_t batches[] = {1, 16, 256};

typedef struct grid {
    const char *phase;
    int mode;
    const contender *list[MAX_CONTENDERS];
    int n;
} grid;

static void run_cell(const bench_opts *o, const grid *g, size_t payload, size_t batch)
{
    bench_batch b;
    if (bench_batch_init(&b, payload, batch, payload * 131 + batch) != 0)
        return;
    bench_opts eff = *o;
    if (g->mode == BENCH_NOSYNC) {
        /* Writes to the page cache are ~100x faster: give them more work. */
        eff.budget_bytes *= 4;
        eff.max_commits *= 20;
    }
    uint64_t commits = bench_commits_for(&eff, b.nbytes);
    static bench_sample s[MAX_CONTENDERS][MAX_RUNS];
    int ok[MAX_CONTENDERS][MAX_RUNS];
    memset(ok, 0, sizeof ok);
    int runs = o->runs < MAX_RUNS ? o->runs : MAX_RUNS;
    for (int r = 0; r < runs; r++) {
        for (int k = 0; k < g->n; k++) {
            int i = (k + r) % g->n;
            const contender *c = g->list[i];
            if (!bench_in_list(o->who, c->name))
                continue;
            bench_progress("%s %zu B x %zu: %s, run %d/%d (%llu commits)", g->phase, payload, batch,
                           c->name, r + 1, runs, (unsigned long long)commits);
            char dir[4096];
            if (bench_fresh_dir(o->dir, c->name, dir, sizeof dir) != 0)
                continue;
            ok[i][r] = bench_run_appends(&eff, c, dir, g->mode, &b, commits, &s[i][r]) == 0;
            bench_rmtree(dir);
        }
    }
    for (int i = 0; i < g->n; i++) {
        bench_sample got[MAX_RUNS];
        int n = 0;
        for (int r = 0; r < runs; r++) {
            if (!ok[i][r])
                continue;
            got[n] = s[i][r];
            got[n].ratio = i > 0 && ok[0][r] && s[0][r].ops_per_s > 0 ? s[i][r].ops_per_s / s[0][r].ops_per_s : 0;
            n++;
        }
        if (n == 0) {
            if (!bench_in_list(o->who, g->list[i]->name))
                continue; /* not asked for (--who) */
            bench_note("%s %zu x %zu: %s produced no result", g->phase, payload, batch, g->list[i]->name);
            continue;
        }
        bench_row row = {.payload = payload, .batch = batch};
        snprintf(row.phase, sizeof row.phase, "%s", g->phase);
        snprintf(row.who, sizeof row.who, "%s", g->list[i]->name);
        if (i > 0)
            snprintf(row.ratio_to, sizeof row.ratio_to, "raw");
        if (bench_is_raftwal(g->list[i])) {
            /* Segments sealed, and segments made from a purged segment's
             * file, inside the timed loop (medians over runs). */
            double rot[MAX_RUNS], rec[MAX_RUNS];
            for (int k = 0; k < n; k++) {
                rot[k] = got[k].rotations;
                rec[k] = got[k].recycled;
            }
            double mr = bench_median(rot, n), mc = bench_median(rec, n);
            if (mc > 0)
                snprintf(row.variant, sizeof row.variant, "rot %u rec %u", (unsigned)(mr + 0.5) % 10000u,
                         (unsigned)(mc + 0.5) % 10000u);
            else if (mr > 0)
                snprintf(row.variant, sizeof row.variant, "rot %u", (unsigned)(mr + 0.5) % 10000u);
        }
        bench_report(o, &row, got, n);
    }
    bench_batch_free(&b);
}

static int run_grid(const bench_opts *o, const grid *g)
{
    for (size_t p = 0; p < sizeof payloads / sizeof payloads[0]; p++)
        for (size_t q = 0; q < sizeof batches / sizeof batches[0]; q++)
            if (bench_cell_on(o, payloads[p], batches[q]))
                run_cell(o, g, payloads[p], batches[q]);
    return 0;
}

int bench_phase_durable(const bench_opts *o)
{
    /* raw first: it is the reference every ratio divides by. */
    grid g = {.phase = "durable",
              .mode = BENCH_DURABLE,
              .list = {&bench_raw, &bench_raftwal, &bench_raftwal_steady, &bench_raw_grow},
              .n = 4};
    if (!o->no_peers)
        for (size_t i = 0; i < bench_npeers && g.n < MAX_CONTENDERS; i++)
            g.list[g.n++] = bench_peers[i];
    return run_grid(o, &g);
}

int bench_phase_nosync(const bench_opts *o)
{
    grid g = {.phase = "nosync",
              .mode = BENCH_NOSYNC,
              .list = {&bench_raw, &bench_raftwal, &bench_raftwal_steady, &bench_raw_grow},
              .n = 4};
    return run_grid(o, &g);
}
