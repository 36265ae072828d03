/*
 * bench.h -- what the pieces of the benchmark harness share.
 *
 * The harness measures "contenders" (raftwal, the raw pwrite+fdatasync
 * loop, SQLite, LMDB, RocksDB) through one small interface, so that every
 * contender runs the very same timed loop over the very same bytes. Each
 * measurement of one contender in one cell is a "run"; runs of different
 * contenders are interleaved and their medians reported (report.c).
 */
#ifndef RAFTWAL_BENCH_H
#define RAFTWAL_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "raftwal.h"

/* ---- options ------------------------------------------------------------ */

typedef struct bench_opts {
    int quick;          /* --quick: under a minute */
    int smoke;          /* --smoke: a few seconds, for ctest */
    int json;           /* --json: JSON lines on stdout instead of the table */
    FILE *json_out;     /* --json-out F: JSON lines into F as well */
    int runs;           /* --runs N: runs per measurement (median reported) */
    const char *dir;    /* --dir D: scratch directory (on the disk to measure) */
    const char *only;   /* --only a,b: phases to run (NULL = all) */
    const char *who;    /* --who a,b: contenders of the grid to run (NULL = all) */
    size_t cell_payload, cell_batch; /* --cell PxB: one cell of the grid (0 = all) */
    int no_peers;       /* --no-peers */
    int no_bindings;    /* --no-bindings */
    const char *python; /* interpreter for driver.py, "" = skip */
    const char *pythonpath;
    const char *luajit; /* "" = skip */
    const char *libraftwal;
    const char *source_dir;
    uint64_t open_bytes; /* payload bytes of the open-time log */
    /* Budget of one durable run: at most this many commits, bytes, seconds. */
    uint64_t max_commits, min_commits, budget_bytes;
    double max_seconds;
    int codec_fresh;     /* --codec-log fresh: the codec phase appends to raftwal, not raftwal-steady */
} bench_opts;

/* Does phase `name` run? */
int bench_phase_on(const bench_opts *o, const char *name);
/* Is `name` in the comma-separated `list` (NULL: everything is)? */
int bench_in_list(const char *list, const char *name);
/* Does the grid cell run (--cell, --smoke)? */
int bench_cell_on(const bench_opts *o, size_t payload, size_t batch);

/* ---- one workload cell and its bytes ------------------------------------- */

/* A batch of `n` entries of `payload` bytes each. Their data lies back to
 * back in `bytes`, so the raw contender writes exactly the same bytes with
 * one pwrite. Indexes are set by the timed loop. */
typedef struct bench_batch {
    raftwal_entry *e;
    size_t n;
    size_t payload;
    uint8_t *bytes;
    size_t nbytes;
} bench_batch;

int bench_batch_init(bench_batch *b, size_t payload, size_t n, uint64_t seed);
void bench_batch_free(bench_batch *b);
/* Sets the indexes of the batch to first, first + 1, ... (term 1). */
void bench_batch_number(bench_batch *b, uint64_t first);

/* ---- contenders ----------------------------------------------------------- */

/* Modes a contender is opened in. */
enum bench_mode {
    BENCH_DURABLE, /* every append is durable on return: one commit per batch */
    BENCH_NOSYNC,  /* appends return once written to the OS */
    BENCH_OPEN_ONLY, /* durable, opened only to be timed (open_time.c) */
};

typedef struct contender {
    const char *name; /* "raftwal", "raftwal-steady", "raw", "sqlite", "lmdb", "rocksdb" */
    /* Opens (creating) the store in `dir`, sized for `capacity` payload
     * bytes (the raw file is pre-zeroed to it). Returns NULL with a
     * message in err on failure. */
    void *(*open)(const char *dir, int mode, uint64_t capacity, char *err, size_t errlen);
    /* Appends one batch (indexes already set). 0 or -1 with err set. */
    int (*append)(void *st, const bench_batch *b, char *err, size_t errlen);
    /* The last index stored (used by the open-time test). */
    int (*last)(void *st, uint64_t *last, char *err, size_t errlen);
    void (*close)(void *st);
    /* The index the timed loop's first batch starts at (NULL: 1): a store
     * that holds entries before the clock starts continues after them. */
    uint64_t (*first)(void *st);
} contender;

extern const contender bench_raw;
/* The same loop into a new file that grows (raw.c). */
extern const contender bench_raw_grow;
extern const contender bench_raftwal;
/* raftwal in steady state: warmed up through a few rotations and purges
 * before the clock, purging behind every rotation inside it (wal.c). */
extern const contender bench_raftwal_steady;
/* Is c one of the raftwal contenders above (engine counters available)? */
int bench_is_raftwal(const contender *c);
/* Peers: NULL when not built in (see bench/CMakeLists.txt). */
extern const contender *const bench_peers[];
extern const size_t bench_npeers;

/* The raftwal handle inside a state the raftwal contender opened. */
raftwal_log *bench_raftwal_handle(void *st);

/* The engine's counters for the last raftwal handle closed by a raftwal
 * contender, counted from when its clock could start (bytes written,
 * fsyncs, rotations, recycled segments). */
extern raftwal_stats bench_raftwal_last_stats;
/* Segment size the raftwal contender opens logs with (0: the engine's
 * default; --segment-mib). */
extern uint64_t bench_raftwal_segment_size;
/* The codec the raftwal contenders open their logs with (the codec phase
 * sets it around its runs; every other phase leaves it zero: no
 * compression, no key). key is RAFTWAL_KEY_SIZE bytes or NULL. */
typedef struct bench_codec {
    unsigned int compression; /* RAFTWAL_COMPRESS_* */
    const uint8_t *key;
} bench_codec;
extern bench_codec bench_raftwal_codec;
/* How long the raftwal contender waited, at open, for the background
 * preparation of the next segment (so it is not charged to the first
 * cell's runs; a rotation inside a run still pays for its own). */
extern double bench_raftwal_prep_wait_s;

/* ---- measurements -------------------------------------------------------- */

/* What one run measured. Fields a run does not produce stay 0. */
typedef struct bench_sample {
    double ops_per_s;  /* entries (or reads, or opens) per second */
    double mb_per_s;   /* payload MB/s (1 MB = 1e6 bytes) */
    double p50_us, p99_us, p999_us; /* commit (or op) latency */
    double ms;         /* open time */
    double write_amp;  /* engine bytes written / payload bytes */
    double dev_amp;    /* bytes the disk wrote (all processes) / payload bytes */
    double fsyncs_per_commit;
    double ratio;      /* to the paired reference run (raw, or C, or 1 thread) */
    double rotations;  /* raftwal: segments sealed in the timed loop */
    double recycled;   /* raftwal: segments prepared from a purged file in it */
    uint64_t count;    /* commits / ops timed */
    double extra;      /* phase specific (e.g. the tail segment's used bytes) */
} bench_sample;

/* Times `commits` appends of batch b into contender c opened in dir,
 * stopping early at the options' time budget. */
int bench_run_appends(const bench_opts *o, const contender *c, const char *dir, int mode,
                      bench_batch *b, uint64_t commits, bench_sample *out);

/* Commits per run for a cell of `batch_bytes` payload bytes per batch. */
uint64_t bench_commits_for(const bench_opts *o, size_t batch_bytes);

/* ---- phases (one file each) ---------------------------------------------- */
int bench_phase_durable(const bench_opts *o);
int bench_phase_nosync(const bench_opts *o);
int bench_phase_threads(const bench_opts *o);
int bench_phase_reads(const bench_opts *o);
int bench_phase_open(const bench_opts *o);
int bench_phase_bindings(const bench_opts *o);
int bench_phase_codec(const bench_opts *o);
/* The child side of the open phase: raftwal-bench --open-child ... */
int bench_open_child(int argc, char **argv);

/* ---- results (report.c) --------------------------------------------------- */

/* One row: the medians of `n` samples of one contender in one cell. */
typedef struct bench_row {
    char phase[16];   /* durable, nosync, threads, read, scan, open, bindings */
    char who[16];     /* raftwal, raw, sqlite, lmdb, rocksdb, python, luajit */
    char variant[24]; /* e.g. "cold", "get", "" */
    size_t payload, batch;
    int threads;
    int runs;
    bench_sample med; /* per-field medians over the runs */
    /* The runs themselves (the first 16), for the spread in the JSON. */
    double run_ops[16], run_ratio[16], run_ms[16];
    char ratio_to[16]; /* what `ratio` compares with ("raw", "c", "1 thread") */
} bench_row;

/* Computes per-field medians of samples[0..n) into row->med and records the
 * row (printed as a JSON line at once with --json, in the table at the end
 * otherwise). */
void bench_report(const bench_opts *o, bench_row *row, const bench_sample *samples, int n);
/* Prints the table of every recorded row (unless --json). */
void bench_report_table(const bench_opts *o);
/* Describes the run (commit, machine, load) before the results... */
void bench_report_header(const bench_opts *o);
/* ... and after them (duration, load at the end). */
void bench_report_footer(const bench_opts *o, double seconds);

/* Measurements that failed (the exit status is 1 if any did). */
extern int bench_failures;

/* ---- utilities (util.c) --------------------------------------------------- */
double bench_now(void);          /* monotonic seconds */
uint64_t bench_now_ns(void);
double bench_median(double *v, int n);           /* sorts v */
double bench_percentile(double *v, size_t n, double p); /* v sorted */
void bench_sort(double *v, size_t n);
uint64_t bench_rng(uint64_t *state);             /* splitmix64 */
/* Progress line on stderr (overwritten in place on a terminal). */
void bench_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void bench_progress_done(void);
void bench_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Makes dir/name (a fresh, empty directory) into out. */
int bench_fresh_dir(const char *dir, const char *name, char *out, size_t outlen);
/* Removes a directory tree (only what the harness created). */
void bench_rmtree(const char *path);
/* fdatasync + posix_fadvise(DONTNEED) on every file under path. */
int bench_drop_cache(const char *path);
/* Creates path filled with `size` zero bytes, synced. Returns an fd. */
int bench_prezeroed(const char *path, uint64_t size);
/* Bytes written so far by the block device holding `path`, from
 * /sys/dev/block/MAJ:MIN/stat: device-wide, so other processes' writes
 * count too (0 if unknown). Per-process counters do not work for this: on
 * kernels with large folios /proc/self/io counts a whole folio (up to
 * 1 MiB here) for every small write into it. */
uint64_t bench_dev_write_bytes(const char *path);
/* Sleeps `ms` milliseconds. */
void bench_sleep_ms(unsigned ms);

#endif
