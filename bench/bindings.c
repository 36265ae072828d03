/* bindings.c -- the durable-append grid through the Python package and the
 * LuaJIT module, as a ratio to the C figure of the same run.
 *
 * The drivers (bench/driver.py, bench/driver.lua) time their own loop and
 * print one JSON line; this file runs them as child processes, interleaved
 * with the C contender, and reads entries_per_s and the latencies back.
 * Interpreter start-up is outside their clocks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define MAX_RUNS 64

enum { WHO_C, WHO_PY, WHO_LUA, NWHO };
static const char *const who_names[NWHO] = {"c", "python", "luajit"};

/* The shell command that runs driver `who` on one cell, or "" if that
 * binding is not available. */
static void driver_cmd(const bench_opts *o, int who, const char *dir, size_t payload, size_t batch,
                       uint64_t commits, char *cmd, size_t len)
{
    char common[4600];
    snprintf(common, sizeof common,
             "--dir '%s' --payload %zu --batch %zu --commits %llu --min-commits %llu --max-seconds %g "
             "--segment-size %llu",
             dir, payload, batch, (unsigned long long)commits, (unsigned long long)o->min_commits,
             o->max_seconds, (unsigned long long)bench_raftwal_segment_size);
    if (who == WHO_PY)
        snprintf(cmd, len, "PYTHONPATH='%s' '%s' '%s/bench/driver.py' %s", o->pythonpath, o->python,
                 o->source_dir, common);
    else
        snprintf(cmd, len, "RAFTWAL_LIB='%s' '%s' '%s/bench/driver.lua' --lua-path '%s/bindings/lua' %s",
                 o->libraftwal, o->luajit, o->source_dir, o->source_dir, common);
}

static double json_field(const char *line, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "\"%s\":", name);
    const char *p = strstr(line, key);
    return p ? strtod(p + strlen(key), NULL) : 0;
}

static int run_driver(const char *cmd, bench_sample *out)
{
    memset(out, 0, sizeof *out);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char line[1024] = "";
    int got = 0;
    while (fgets(line, sizeof line, p))
        if (strstr(line, "\"entries_per_s\"")) {
            got = 1;
            break;
        }
    while (fgetc(p) != EOF) /* drain */
        ;
    int status = pclose(p);
    if (!got || status != 0)
        return -1;
    out->ops_per_s = json_field(line, "entries_per_s");
    out->mb_per_s = json_field(line, "mb_per_s");
    out->p50_us = json_field(line, "p50_us");
    out->p99_us = json_field(line, "p99_us");
    out->p999_us = json_field(line, "p999_us");
    out->count = (uint64_t)json_field(line, "count");
    return out->ops_per_s > 0 ? 0 : -1;
}

/* Can `who` run at all? Checked once, with a clear note if not. */
static int available(const bench_opts *o, int who)
{
    char cmd[8192];
    if (who == WHO_PY) {
        if (!o->python[0] || !o->pythonpath[0]) {
            bench_note("bindings: no Python binding in this build (configure with "
                       "-DRAFTWAL_BUILD_PYTHON=ON, or pass --python and --pythonpath): skipped");
            return 0;
        }
        snprintf(cmd, sizeof cmd, "PYTHONPATH='%s' '%s' -c 'import raftwal' >/dev/null 2>&1", o->pythonpath,
                 o->python);
    } else {
        if (!o->luajit[0]) {
            bench_note("bindings: no luajit found (Debian package luajit2): skipped");
            return 0;
        }
        snprintf(cmd, sizeof cmd,
                 "RAFTWAL_LIB='%s' '%s' -e 'package.path=\"%s/bindings/lua/?.lua;\"..package.path "
                 "assert(require(\"raftwal\").version())' >/dev/null 2>&1",
                 o->libraftwal, o->luajit, o->source_dir);
    }
    if (system(cmd) != 0) {
        bench_note("bindings: %s cannot load raftwal (%s): skipped", who_names[who], cmd);
        return 0;
    }
    return 1;
}

static void run_cell(const bench_opts *o, const int *avail, size_t payload, size_t batch)
{
    bench_batch b;
    if (bench_batch_init(&b, payload, batch, payload * 131 + batch) != 0)
        return;
    uint64_t commits = bench_commits_for(o, b.nbytes);
    int runs = o->runs < MAX_RUNS ? o->runs : MAX_RUNS;
    static bench_sample s[NWHO][MAX_RUNS];
    int ok[NWHO][MAX_RUNS];
    memset(ok, 0, sizeof ok);
    for (int r = 0; r < runs; r++) {
        for (int k = 0; k < NWHO; k++) {
            int w = (k + r) % NWHO;
            if (!avail[w] || !bench_in_list(o->who, who_names[w]))
                continue;
            bench_progress("bindings %zu B x %zu: %s, run %d/%d", payload, batch, who_names[w], r + 1, runs);
            char dir[4096], cmd[8192];
            if (bench_fresh_dir(o->dir, "bindings", dir, sizeof dir) != 0)
                continue;
            if (w == WHO_C) {
                ok[w][r] = bench_run_appends(o, &bench_raftwal, dir, BENCH_DURABLE, &b, commits, &s[w][r]) == 0;
            } else {
                driver_cmd(o, w, dir, payload, batch, commits, cmd, sizeof cmd);
                ok[w][r] = run_driver(cmd, &s[w][r]) == 0;
                if (!ok[w][r]) {
                    bench_note("bindings: failed: %s", cmd);
                    bench_failures++;
                }
            }
            bench_rmtree(dir);
        }
    }
    for (int w = 0; w < NWHO; w++) {
        bench_sample got[MAX_RUNS];
        int n = 0;
        for (int r = 0; r < runs; r++) {
            if (!ok[w][r])
                continue;
            got[n] = s[w][r];
            got[n].ratio = w != WHO_C && ok[WHO_C][r] ? got[n].ops_per_s / s[WHO_C][r].ops_per_s : 0;
            got[n].write_amp = got[n].fsyncs_per_commit = got[n].dev_amp = 0;
            n++;
        }
        if (!n)
            continue;
        bench_row row = {.payload = payload, .batch = batch};
        snprintf(row.phase, sizeof row.phase, "bindings");
        snprintf(row.who, sizeof row.who, "%s", who_names[w]);
        if (w != WHO_C)
            snprintf(row.ratio_to, sizeof row.ratio_to, "c");
        bench_report(o, &row, got, n);
    }
    bench_batch_free(&b);
}

int bench_phase_bindings(const bench_opts *o)
{
    if (o->no_bindings)
        return 0;
    int avail[NWHO] = {1, available(o, WHO_PY), available(o, WHO_LUA)};
    if (!avail[WHO_PY] && !avail[WHO_LUA])
        return 0;
    static const size_t payloads[] = {128, 1024, 16384};
    static const size_t batches[] = {1, 16, 256};
    for (size_t p = 0; p < 3; p++)
        for (size_t q = 0; q < 3; q++) {
            /* --quick and --smoke: the cell the target names, 1 KiB x 16. */
            if (o->cell_payload ? !bench_cell_on(o, payloads[p], batches[q])
                                : (o->quick || o->smoke) && !(payloads[p] == 1024 && batches[q] == 16))
                continue;
            run_cell(o, avail, payloads[p], batches[q]);
        }
    return 0;
}
