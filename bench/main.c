/* main.c -- raftwal-bench: the command line, the modes, and the phases in
 * order. See bench/README.md for the method. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "bench.h"

#ifndef BENCH_SOURCE_DIR
#define BENCH_SOURCE_DIR ""
#endif
#ifndef BENCH_PYTHON
#define BENCH_PYTHON ""
#endif
#ifndef BENCH_PYTHONPATH
#define BENCH_PYTHONPATH ""
#endif
#ifndef BENCH_LUAJIT
#define BENCH_LUAJIT ""
#endif
#ifndef BENCH_LIBRAFTWAL
#define BENCH_LIBRAFTWAL ""
#endif

static const char *const phases[] = {"durable", "nosync", "threads", "reads", "open", "bindings", "codec"};
#define NPHASES (sizeof phases / sizeof phases[0])

static void usage(FILE *f)
{
    fprintf(f,
            "usage: raftwal-bench [--quick | --smoke] [--json] [--json-out F] [--runs N] [--dir D]\n"
            "                     [--only PHASE[,PHASE...]] [--who NAME[,NAME...]] [--cell PxB]\n"
            "                     [--no-peers] [--no-bindings]\n"
            "                     [--open-mib N] [--segment-mib N] [--python EXE] [--pythonpath DIR]\n"
            "                     [--luajit EXE] [--lib LIBRAFTWAL] [--codec-log steady|fresh]\n"
            "\n"
            "Measures raftwal next to the disk's raw limit (pwrite + fdatasync of the same bytes\n"
            "into a pre-zeroed file) and next to SQLite, LMDB and RocksDB, in one run:\n"
            "  durable   appends, payload 128 B / 1 KiB / 16 KiB x batch 1 / 16 / 256, one\n"
            "            durable commit per batch (raw, raftwal, raftwal-steady, raw-grow:\n"
            "            the raw loop into a new file that grows, peers)\n"
            "  nosync    the same grid without syncs (raw, raftwal, raftwal-steady, raw-grow)\n"
            "  threads   1, 2, 4, 8 threads of durable 1 KiB batch-1 appends (group commit)\n"
            "  reads     warm random 1 KiB reads and a sequential scan vs a raw pread loop\n"
            "  open      open of a ~1 GiB store after SIGKILL, cold and warm (raftwal, peers)\n"
            "  bindings  the durable grid through Python and LuaJIT, as a ratio to C\n"
            "  codec     durable appends (128 B / 1 KiB / 16 KiB x 16) and warm 1 KiB reads of\n"
            "            logs that are LZ4-compressed, encrypted or both, random and JSON\n"
            "            payloads, as a ratio to the same log without them\n"
            "\n"
            "  --quick     fewer cells and iterations, one run: under a minute\n"
            "  --smoke     a few seconds (the ctest bench_quick_smoke)\n"
            "  --json      JSON lines on stdout instead of the table\n"
            "  --json-out F  JSON lines into file F too (the table stays on stdout)\n"
            "  --runs N    runs per measurement; medians are reported (default 3, quick 1)\n"
            "  --dir D     scratch directory, on the disk to measure (default: the current\n"
            "              directory); the harness works in D/raftwal-bench.XXXXXX and removes it\n"
            "  --only      phases to run; --who: contenders of the grid (raw, raftwal,\n"
            "              raftwal-steady, raw-grow, sqlite, lmdb, rocksdb; c, python, luajit);\n"
            "              --cell: one cell, e.g. 1024x16 (the codec phase's reads: 1024x1).\n"
            "              With these, one workload can be profiled:\n"
            "              perf record -g raftwal-bench --only nosync --who raftwal --cell 128x256\n"
            "  --segment-mib N  segment size of the C raftwal logs (default: the engine's)\n"
            "  --open-mib  payload MiB of the open-time store (default 1024, quick 128)\n"
            "  --codec-log  the log the codec phase appends to: steady (raftwal-steady, the\n"
            "              default) or fresh (raftwal: a new log that grows)\n"
            "Progress goes to stderr. Exit status: 0, 1 if a measurement failed, 2 bad usage.\n");
}

int bench_phase_on(const bench_opts *o, const char *name)
{
    return bench_in_list(o->only, name);
}

int bench_cell_on(const bench_opts *o, size_t payload, size_t batch)
{
    if (o->cell_payload)
        return payload == o->cell_payload && batch == o->cell_batch;
    return !o->smoke || (payload == 1024 && batch == 16);
}

int bench_in_list(const char *list, const char *name)
{
    if (!list)
        return 1;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return 1;
        p += len + (e ? 1 : 0);
    }
    return 0;
}

static void set_mode(bench_opts *o)
{
    if (o->smoke) {
        o->budget_bytes = 256 << 10;
        o->max_commits = 10;
        o->min_commits = 3;
        o->max_seconds = 0.1;
        o->open_bytes = 4 << 20;
    } else if (o->quick) {
        o->budget_bytes = 4 << 20;
        o->max_commits = 100;
        o->min_commits = 10;
        o->max_seconds = 0.3;
        o->open_bytes = 128 << 20;
    } else {
        o->budget_bytes = 64 << 20;
        o->max_commits = 1000;
        o->min_commits = 20;
        o->max_seconds = 3;
        o->open_bytes = (uint64_t)1 << 30;
    }
}

static const char *value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "raftwal-bench: %s needs a value\n", argv[*i]);
        exit(2);
    }
    return argv[++*i];
}

static int parse(int argc, char **argv, bench_opts *o)
{
    long runs = 0, open_mib = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--quick")) {
            o->quick = 1;
        } else if (!strcmp(a, "--smoke")) {
            o->smoke = 1;
        } else if (!strcmp(a, "--json")) {
            o->json = 1;
        } else if (!strcmp(a, "--no-peers")) {
            o->no_peers = 1;
        } else if (!strcmp(a, "--no-bindings")) {
            o->no_bindings = 1;
        } else if (!strcmp(a, "--runs")) {
            runs = strtol(value(argc, argv, &i), NULL, 10);
            if (runs < 1 || runs > 64) {
                fprintf(stderr, "raftwal-bench: --runs takes 1..64\n");
                return -1;
            }
        } else if (!strcmp(a, "--open-mib")) {
            open_mib = strtol(value(argc, argv, &i), NULL, 10);
            if (open_mib < 1) {
                fprintf(stderr, "raftwal-bench: --open-mib takes a positive number\n");
                return -1;
            }
        } else if (!strcmp(a, "--json-out")) {
            const char *path = value(argc, argv, &i);
            o->json_out = fopen(path, "w");
            if (!o->json_out) {
                fprintf(stderr, "raftwal-bench: %s: %s\n", path, strerror(errno));
                return -1;
            }
        } else if (!strcmp(a, "--segment-mib")) {
            long mib = strtol(value(argc, argv, &i), NULL, 10);
            if (mib < 1 || (uint64_t)mib > RAFTWAL_MAX_SEGMENT_SIZE >> 20) {
                fprintf(stderr, "raftwal-bench: --segment-mib takes 1..%u\n", RAFTWAL_MAX_SEGMENT_SIZE >> 20);
                return -1;
            }
            bench_raftwal_segment_size = (uint64_t)mib << 20;
        } else if (!strcmp(a, "--codec-log")) {
            const char *v = value(argc, argv, &i);
            if (strcmp(v, "steady") && strcmp(v, "fresh")) {
                fprintf(stderr, "raftwal-bench: --codec-log takes steady or fresh\n");
                return -1;
            }
            o->codec_fresh = !strcmp(v, "fresh");
        } else if (!strcmp(a, "--dir")) {
            o->dir = value(argc, argv, &i);
        } else if (!strcmp(a, "--only")) {
            o->only = value(argc, argv, &i);
        } else if (!strcmp(a, "--who")) {
            o->who = value(argc, argv, &i);
        } else if (!strcmp(a, "--cell")) {
            const char *v = value(argc, argv, &i);
            char x;
            if (sscanf(v, "%zu%c%zu", &o->cell_payload, &x, &o->cell_batch) != 3 || x != 'x' ||
                !o->cell_payload || !o->cell_batch) {
                fprintf(stderr, "raftwal-bench: --cell takes PAYLOADxBATCH, e.g. 1024x16\n");
                return -1;
            }
        } else if (!strcmp(a, "--python")) {
            o->python = value(argc, argv, &i);
        } else if (!strcmp(a, "--pythonpath")) {
            o->pythonpath = value(argc, argv, &i);
        } else if (!strcmp(a, "--luajit")) {
            o->luajit = value(argc, argv, &i);
        } else if (!strcmp(a, "--lib")) {
            o->libraftwal = value(argc, argv, &i);
        } else {
            fprintf(stderr, "raftwal-bench: unknown option '%s'\n", a);
            usage(stderr);
            return -1;
        }
    }
    if (o->only) {
        for (const char *p = o->only; *p;) {
            const char *e = strchr(p, ',');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            int known = 0;
            for (size_t k = 0; k < NPHASES; k++)
                known |= strlen(phases[k]) == len && !strncmp(p, phases[k], len);
            if (!known) {
                fprintf(stderr, "raftwal-bench: unknown phase '%.*s'\n", (int)len, p);
                return -1;
            }
            p += len + (e ? 1 : 0);
        }
    }
    set_mode(o);
    o->runs = runs ? (int)runs : (o->quick || o->smoke) ? 1 : 3;
    if (open_mib)
        o->open_bytes = (uint64_t)open_mib << 20;
    return 0;
}

/* The scratch directory: a fresh D/raftwal-bench.XXXXXX. */
static char *make_scratch(const char *parent)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/raftwal-bench.XXXXXX", parent);
    if (!mkdtemp(path)) {
        fprintf(stderr, "raftwal-bench: cannot create a directory in %s: %s\n", parent, strerror(errno));
        return NULL;
    }
    struct statfs sf;
    if (statfs(path, &sf) == 0 && (sf.f_type == 0x01021994 /* TMPFS_MAGIC */ || sf.f_type == 0x858458f6))
        bench_note("%s is in memory (tmpfs/ramfs): fdatasync costs nothing there; "
                   "pass --dir on the disk you want to measure", parent);
    return path;
}

int main(int argc, char **argv)
{
    bench_opts o = {
        .python = BENCH_PYTHON,
        .pythonpath = BENCH_PYTHONPATH,
        .luajit = BENCH_LUAJIT,
        .libraftwal = BENCH_LIBRAFTWAL,
        .source_dir = BENCH_SOURCE_DIR,
    };
    if (argc > 1 && strcmp(argv[1], "--open-child") == 0)
        return bench_open_child(argc, argv);
    if (parse(argc, argv, &o) != 0)
        return 2;
    const char *parent = o.dir ? o.dir : ".";
    char *scratch = make_scratch(parent);
    if (!scratch)
        return 1;
    o.dir = scratch;
    if (bench_npeers < 3 && !o.no_peers)
        bench_note("built with %zu of the 3 peers (SQLite, LMDB, RocksDB): see bench/CMakeLists.txt",
                   bench_npeers);
    bench_report_header(&o);
    double t0 = bench_now();
    static int (*const run[NPHASES])(const bench_opts *) = {
        bench_phase_durable, bench_phase_nosync, bench_phase_threads,
        bench_phase_reads, bench_phase_open, bench_phase_bindings, bench_phase_codec,
    };
    for (size_t k = 0; k < NPHASES; k++)
        if (bench_phase_on(&o, phases[k]) && run[k](&o) != 0)
            bench_failures++;
    bench_progress_done();
    bench_report_table(&o);
    bench_report_footer(&o, bench_now() - t0);
    if (o.json_out)
        fclose(o.json_out);
    bench_rmtree(scratch);
    fprintf(stderr, "raftwal-bench: done in %.1f s%s\n", bench_now() - t0,
            bench_failures ? " (some measurements failed, see above)" : "");
    return bench_failures ? 1 : 0;
}
