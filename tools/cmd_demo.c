/*
 * cmd_demo.c -- `raftwal demo DIR`: the log's main job, end to end.
 *
 * Opens (or creates) the log in DIR, appends entries in durable batches,
 * each with a hard state (term, vote, commit) as a Raft node would, using
 * small segments so that the log rotates; three quarters of the way it
 * records a snapshot at the commit index and purges up to it. Then it
 * closes, reopens and checks every live entry byte for byte, plus the
 * bounds, the hard state and the snapshot. Entry bytes are a function of
 * (index, term) (demo_payload.h), so a second run on the same DIR continues
 * the log after its last index, with higher terms, and still verifies all
 * of it, including what earlier runs wrote.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "demo_payload.h"

#define DEMO_DEFAULT_ENTRIES 4000u
#define DEMO_DEFAULT_BATCH 50u
#define DEMO_DEFAULT_SEGMENT_SIZE (1024u * 1024u)
#define DEMO_MAX_BATCH 100000u
/* A new term every this many batches, so dumps show term changes. */
#define DEMO_BATCHES_PER_TERM 20u
/* The node id the demo votes for. */
#define DEMO_VOTE 1u

static const char demo_metadata[] = "raftwal demo: cluster=demo node=1";

typedef struct demo_cfg {
    const char *dir;
    uint64_t entries;
    uint64_t batch;
    uint64_t segment_size;
    cli_key key;              /* --key-file: an encrypted log */
    unsigned int compression; /* --compression: RAFTWAL_COMPRESS_* */
} demo_cfg;

/* What this run found and wrote, checked again after the reopen. */
typedef struct demo_run {
    uint64_t start_first, start_last; /* bounds at the first open */
    uint64_t base_term;               /* term of this run's first batch */
    uint64_t last;                    /* last index written */
    raftwal_hardstate hs;             /* last hard state written */
    int snapshotted;
    uint64_t snap_index, snap_term;
    char snap_meta[128];
    size_t snap_meta_size;
} demo_run;

static void print_demo_help(void)
{
    printf("usage: raftwal demo [--entries N] [--batch N] [--segment-size BYTES]\n"
           "                    [--key-file F] [--compression lz4|zstd|none] DIR\n"
           "\n"
           "Opens or creates the log in DIR and appends N entries (default %u) in\n"
           "durable batches of --batch (default %u), each batch with a hard state\n"
           "(term, vote, commit); segments of --segment-size bytes (default %u) make\n"
           "it rotate. Three quarters of the way it saves a snapshot at the commit\n"
           "index and purges up to it. It then closes, reopens and verifies every\n"
           "live entry byte for byte, and prints what it did and the log's stats.\n"
           "Running it again on the same DIR continues the log.\n"
           "\n"
           "  --key-file F       create (or continue) an encrypted log with the master\n"
           "                     key in F: exactly 32 raw bytes, or 64 hex digits and\n"
           "                     an optional newline; never printed\n"
           "  --compression C    store the entries it writes compressed with C (lz4,\n"
           "                     zstd; default none); readers need no option\n"
           "\n"
           "Exit status: 0 verified, 1 failure or verification mismatch, 2 usage.\n",
           DEMO_DEFAULT_ENTRIES, DEMO_DEFAULT_BATCH, DEMO_DEFAULT_SEGMENT_SIZE);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int parse_demo_args(int argc, char **argv, demo_cfg *cfg)
{
    cli_opt opts[] = {{"--entries", 1, 0, NULL},
                      {"--batch", 1, 0, NULL},
                      {"--segment-size", 1, 0, NULL},
                      {"--key-file", 1, 0, NULL},
                      {"--compression", 1, 0, NULL}};
    const char *pos[1];
    size_t npos;
    int r = cli_parse(argc, argv, opts, 5, pos, 1, &npos);

    if (r == CLI_WANTS_HELP) {
        print_demo_help();
        return -1;
    }
    if (r == CLI_BAD_USAGE)
        return CLI_EXIT_USAGE;
    if (npos != 1)
        return cli_usage_error("demo", "expected the log directory DIR");
    cfg->dir = pos[0];
    cfg->entries = DEMO_DEFAULT_ENTRIES;
    cfg->batch = DEMO_DEFAULT_BATCH;
    cfg->segment_size = DEMO_DEFAULT_SEGMENT_SIZE;
    cfg->compression = RAFTWAL_COMPRESS_NONE;
    memset(&cfg->key, 0, sizeof cfg->key);
    if ((opts[0].seen && cli_parse_u64("demo", "--entries", opts[0].value, &cfg->entries)) ||
        (opts[1].seen && cli_parse_u64("demo", "--batch", opts[1].value, &cfg->batch)) ||
        (opts[2].seen && cli_parse_u64("demo", "--segment-size", opts[2].value, &cfg->segment_size)))
        return CLI_EXIT_USAGE;
    if (cfg->batch == 0 || cfg->batch > DEMO_MAX_BATCH)
        return cli_usage_error("demo", "--batch must be within 1..100000");
    if (cfg->segment_size < RAFTWAL_MIN_SEGMENT_SIZE ||
        cfg->segment_size > RAFTWAL_MAX_SEGMENT_SIZE)
        return cli_usage_error("demo", "--segment-size must be within 16 KiB..1 GiB");
    if (opts[4].seen && cli_parse_compression("demo", opts[4].value, &cfg->compression) != 0)
        return CLI_EXIT_USAGE;
    if (opts[3].seen)
        return cli_read_key_file("demo", "--key-file", opts[3].value, &cfg->key);
    return 0;
}

static int open_log(const demo_cfg *cfg, int create, raftwal_log **log)
{
    raftwal_options opts;
    int rc = raftwal_options_init(&opts, RAFTWAL_OPTIONS_VERSION);

    if (rc == 0) {
        opts.flags = create ? RAFTWAL_OPEN_CREATE : 0;
        opts.segment_size = cfg->segment_size;
        opts.metadata = demo_metadata;
        opts.metadata_size = sizeof demo_metadata - 1;
        opts.compression = cfg->compression;
        cli_key_apply(&cfg->key, &opts);
        rc = raftwal_log_open(log, cfg->dir, &opts);
    }
    return rc != 0 ? cli_fail(rc) : 0;
}

/* Reads where the log stands and picks this run's first term: above both
 * the hard state's term and the last entry's (or snapshot's) term. */
static int read_start(raftwal_log *log, demo_run *run)
{
    uint64_t last_term = 0;
    int rc;

    if ((rc = raftwal_log_first_index(log, &run->start_first)) != 0 ||
        (rc = raftwal_log_last_index(log, &run->start_last)) != 0 ||
        (rc = raftwal_log_hardstate(log, &run->hs)) != 0)
        return cli_fail(rc);
    /* An emptied log (purged past its end) may have no term for `last`
     * other than the snapshot's; a new log answers 0 for index 0. */
    if (raftwal_log_term(log, run->start_last, &last_term) != 0)
        last_term = 0;
    run->base_term = (run->hs.term > last_term ? run->hs.term : last_term) + 1;
    run->last = run->start_last;
    return 0;
}

static void print_opened(raftwal_log *log, const demo_run *run)
{
    raftwal_stats st;

    if (cli_stats(log, &st) != 0)
        return;
    printf("opened: first=%" PRIu64 " last=%" PRIu64 " hard state term=%" PRIu64
           " vote=%" PRIu64 " commit=%" PRIu64 ", %" PRIu64 " segment(s), in %.3f ms\n",
           run->start_first, run->start_last, run->hs.term, run->hs.vote,
           run->hs.commit, st.segments, (double)st.open_ns / 1e6);
    if (run->start_last > 0)
        printf("continuing the log after index %" PRIu64 " with term %" PRIu64 "\n",
               run->start_last, run->base_term);
    else
        printf("new log\n");
}

static uint64_t term_of_batch(const demo_run *run, uint64_t b)
{
    return run->base_term + b / DEMO_BATCHES_PER_TERM;
}

/* Appends entries first..first+count-1 of `term` with the hard state
 * (term, DEMO_VOTE, first - 1) in one durable batch. */
static int append_batch(raftwal_log *log, demo_run *run, uint64_t first,
                        uint64_t count, uint64_t term, raftwal_entry *ents,
                        unsigned char *buf)
{
    raftwal_hardstate hs = {term, DEMO_VOTE, first - 1};
    int rc;

    for (uint64_t i = 0; i < count; i++) {
        unsigned char *data = buf + i * DEMO_PAYLOAD_MAX;
        ents[i].index = first + i;
        ents[i].term = term;
        ents[i].type = demo_payload_type(first + i);
        ents[i].flags = 0;
        ents[i].data = data;
        ents[i].size = demo_payload(first + i, term, data);
    }
    rc = raftwal_log_append(log, ents, (size_t)count, &hs, 0);
    if (rc != 0)
        return cli_fail(rc);
    run->hs = hs;
    run->last = first + count - 1;
    return 0;
}

/* Saves a snapshot at the commit index (as a Raft node does once its
 * state machine has applied it) and purges the entries it covers. */
static int snapshot_and_purge(raftwal_log *log, demo_run *run)
{
    raftwal_stats before, after;
    uint64_t index = run->hs.commit, term = 0;
    int rc;

    if (index == 0)
        return 0;
    if ((rc = raftwal_log_term(log, index, &term)) != 0)
        return cli_fail(rc);
    run->snap_meta_size = (size_t)snprintf(
        run->snap_meta, sizeof run->snap_meta,
        "demo snapshot: index=%" PRIu64 " term=%" PRIu64 " voters=1,2,3", index, term);
    if (cli_stats(log, &before) != 0)
        return CLI_EXIT_FAIL;
    rc = raftwal_log_save_snapshot(log, index, term, run->snap_meta,
                                   run->snap_meta_size);
    if (rc != 0)
        return cli_fail(rc);
    if ((rc = raftwal_log_purge(log, index)) != 0)
        return cli_fail(rc);
    if (cli_stats(log, &after) != 0)
        return CLI_EXIT_FAIL;
    run->snapshotted = 1;
    run->snap_index = index;
    run->snap_term = term;
    printf("snapshot saved at index %" PRIu64 " (term %" PRIu64 ", %zu bytes of meta); "
           "purged up to it: first index now %" PRIu64 ", %" PRIu64
           " segment file(s) removed (up to 2 kept as spares for reuse)\n",
           index, term, run->snap_meta_size, after.first_index,
           after.segments_deleted - before.segments_deleted);
    return 0;
}

/* Reports a rotation made by the batch that starts at batch_first. */
static void report_rotation(raftwal_log *log, uint64_t batch_first, uint64_t *rotations)
{
    raftwal_stats st;

    if (cli_stats(log, &st) != 0 || st.rotations == *rotations)
        return;
    *rotations = st.rotations;
    printf("  segment full: sealed it; entries from %" PRIu64 " on go to a new segment "
           "(%" PRIu64 " segment files now)\n", batch_first, st.segments);
}

static int append_all(raftwal_log *log, const demo_cfg *cfg, demo_run *run)
{
    raftwal_entry *ents = calloc((size_t)cfg->batch, sizeof *ents);
    unsigned char *buf = malloc((size_t)cfg->batch * DEMO_PAYLOAD_MAX);
    uint64_t nbatches = (cfg->entries + cfg->batch - 1) / cfg->batch;
    uint64_t done = 0, rotations = 0, snapshot_at = cfg->entries * 3 / 4;
    uint64_t t0 = now_ns();
    int rc = 0;

    if (ents == NULL || buf == NULL) {
        fprintf(stderr, "raftwal demo: out of memory\n");
        rc = CLI_EXIT_FAIL;
        goto out;
    }
    printf("appending %" PRIu64 " entries (index %" PRIu64 "..%" PRIu64 ") in %" PRIu64
           " durable batches of up to %" PRIu64 ", terms %" PRIu64 "..%" PRIu64
           ", segment size %" PRIu64 " bytes\n",
           cfg->entries, run->last + 1, run->last + cfg->entries, nbatches, cfg->batch,
           run->base_term, term_of_batch(run, nbatches ? nbatches - 1 : 0), cfg->segment_size);
    for (uint64_t b = 0; b < nbatches && rc == 0; b++) {
        uint64_t count = cfg->entries - done < cfg->batch ? cfg->entries - done : cfg->batch;
        int crossed = done < snapshot_at && done + count >= snapshot_at;
        uint64_t first = run->last + 1;
        rc = append_batch(log, run, first, count, term_of_batch(run, b), ents, buf);
        done += count;
        if (rc == 0)
            report_rotation(log, first, &rotations);
        if (rc == 0 && crossed)
            rc = snapshot_and_purge(log, run);
    }
    if (rc == 0) {
        double secs = (double)(now_ns() - t0) / 1e9;
        printf("appended %" PRIu64 " entries in %.3f s (%.0f entries/s); last index %" PRIu64
               ", hard state term=%" PRIu64 " vote=%" PRIu64 " commit=%" PRIu64 "\n",
               done, secs, secs > 0 ? (double)done / secs : 0.0, run->last,
               run->hs.term, run->hs.vote, run->hs.commit);
    }
out:
    free(ents);
    free(buf);
    return rc;
}

static void print_stats(raftwal_log *log)
{
    raftwal_stats st;
    char h1[32], h2[32], h3[32];

    if (cli_stats(log, &st) != 0)
        return;
    printf("stats: %" PRIu64 " appends (%" PRIu64 " entries, %s of payload), %s written\n",
           st.appends, st.appended_entries,
           cli_human_bytes(st.appended_bytes, h1, sizeof h1),
           cli_human_bytes(st.written_bytes, h2, sizeof h2));
    printf("       %" PRIu64 " fsyncs, avg %.3f ms, max %.3f ms; %" PRIu64 " directory fsyncs\n",
           st.fsyncs, st.fsyncs ? (double)st.fsync_ns_total / (double)st.fsyncs / 1e6 : 0.0,
           (double)st.fsync_ns_max / 1e6, st.dir_fsyncs);
    printf("       %" PRIu64 " segments (%s on disk), %" PRIu64 " rotations, %" PRIu64
           " removed by purge, %" PRIu64 " recycled; open took %.3f ms\n",
           st.segments, cli_human_bytes(st.disk_bytes, h3, sizeof h3), st.rotations,
           st.segments_deleted, st.segments_recycled, (double)st.open_ns / 1e6);
    printf("       encrypted: %s; %" PRIu64 " entries stored compressed; entry data %s "
           "stored in %s\n", st.encrypted ? "yes" : "no", st.compressed_entries,
           cli_human_bytes(st.appended_bytes, h1, sizeof h1),
           cli_human_bytes(st.stored_entry_bytes, h2, sizeof h2));
}

static void print_reopened(raftwal_log *log, uint64_t first, uint64_t last)
{
    raftwal_stats st;

    if (cli_stats(log, &st) != 0)
        return;
    printf("reopened in %.3f ms: first=%" PRIu64 " last=%" PRIu64 ", %" PRIu64
           " segment(s), %" PRIu64 " torn tail(s) cut\n",
           (double)st.open_ns / 1e6, first, last, st.segments, st.torn_tails);
}

static int mismatch(const char *what, uint64_t index, uint64_t got, uint64_t want)
{
    fprintf(stderr, "raftwal demo: VERIFY FAILED: %s at index %" PRIu64 ": got %" PRIu64
            ", want %" PRIu64 "\n", what, index, got, want);
    return CLI_EXIT_FAIL;
}

/* The expected term of an index this run wrote. */
static uint64_t term_written(const demo_run *run, uint64_t batch, uint64_t index)
{
    return term_of_batch(run, (index - run->start_last - 1) / batch);
}

/* Checks one entry against the deterministic payload of its (index,
 * term); `prev_term` enforces terms that never decrease. */
static int verify_entry(const demo_run *run, uint64_t batch, const raftwal_entry *e,
                        uint64_t want_index, uint64_t prev_term, unsigned char *buf)
{
    size_t size;

    if (e->index != want_index)
        return mismatch("index", want_index, e->index, want_index);
    if (e->term < prev_term)
        return mismatch("term went down", e->index, e->term, prev_term);
    if (e->index > run->start_last && e->term != term_written(run, batch, e->index))
        return mismatch("term", e->index, e->term, term_written(run, batch, e->index));
    if (e->type != demo_payload_type(e->index))
        return mismatch("type", e->index, e->type, demo_payload_type(e->index));
    size = demo_payload(e->index, e->term, buf);
    if (e->size != size)
        return mismatch("size", e->index, e->size, size);
    if (size > 0 && memcmp(e->data, buf, size) != 0) {
        fprintf(stderr, "raftwal demo: VERIFY FAILED: data of index %" PRIu64
                " differs from what was written\n", e->index);
        return CLI_EXIT_FAIL;
    }
    return 0;
}

static int verify_entries(raftwal_log *log, const demo_run *run, uint64_t batch,
                          uint64_t first, uint64_t last)
{
    unsigned char buf[DEMO_PAYLOAD_MAX];
    raftwal_iter *it = NULL;
    raftwal_entry e;
    uint64_t want = first, prev_term = 0;
    int rc, fail = 0;

    if ((rc = raftwal_iter_open(&it, log, first, last + 1, RAFTWAL_NO_LIMIT)) != 0)
        return cli_fail(rc);
    while (!fail && (rc = raftwal_iter_next(it, &e)) == 1) {
        fail = verify_entry(run, batch, &e, want, prev_term, buf);
        prev_term = e.term;
        want++;
    }
    raftwal_iter_close(it);
    if (fail)
        return fail;
    if (rc < 0)
        return cli_fail(rc);
    if (want != last + 1)
        return mismatch("iteration ended early", want, want, last + 1);
    printf("verified %" PRIu64 " live entries (%" PRIu64 "..%" PRIu64 ") byte for byte\n",
           last + 1 - first, first, last);
    return 0;
}

static int verify_snapshot(raftwal_log *log, const demo_run *run)
{
    char meta[sizeof run->snap_meta];
    uint64_t index = 0, term = 0;
    size_t size = 0;
    int rc = raftwal_log_snapshot(log, &index, &term, meta, sizeof meta, &size);

    if (rc != 0)
        return cli_fail(rc);
    if (index != run->snap_index)
        return mismatch("snapshot index", index, index, run->snap_index);
    if (term != run->snap_term)
        return mismatch("snapshot term", index, term, run->snap_term);
    if (size != run->snap_meta_size || memcmp(meta, run->snap_meta, size) != 0) {
        fprintf(stderr, "raftwal demo: VERIFY FAILED: snapshot metadata differs\n");
        return CLI_EXIT_FAIL;
    }
    return 0;
}

/* Reopens the log and checks what this run left: bounds, hard state,
 * snapshot and every live entry. */
static int verify_reopened(const demo_cfg *cfg, const demo_run *run)
{
    raftwal_log *log = NULL;
    raftwal_hardstate hs;
    uint64_t first, last;
    int rc, fail;

    if (open_log(cfg, 0, &log) != 0)
        return CLI_EXIT_FAIL;
    if ((rc = raftwal_log_first_index(log, &first)) != 0 ||
        (rc = raftwal_log_last_index(log, &last)) != 0 ||
        (rc = raftwal_log_hardstate(log, &hs)) != 0) {
        fail = cli_fail(rc);
        goto out;
    }
    print_reopened(log, first, last);
    if (last != run->last) {
        fail = mismatch("last index", last, last, run->last);
    } else if (run->snapshotted && first != run->snap_index + 1) {
        fail = mismatch("first index after purge", first, first, run->snap_index + 1);
    } else if (hs.term != run->hs.term || hs.vote != run->hs.vote ||
               hs.commit != run->hs.commit) {
        fprintf(stderr, "raftwal demo: VERIFY FAILED: hard state is term=%" PRIu64
                " vote=%" PRIu64 " commit=%" PRIu64 ", want %" PRIu64 "/%" PRIu64 "/%" PRIu64 "\n",
                hs.term, hs.vote, hs.commit, run->hs.term, run->hs.vote, run->hs.commit);
        fail = CLI_EXIT_FAIL;
    } else if (run->snapshotted && (fail = verify_snapshot(log, run)) != 0) {
        /* reported */
    } else {
        fail = last >= first ? verify_entries(log, run, cfg->batch, first, last) : 0;
    }
out:
    raftwal_log_close(log);
    return fail;
}

static int run_demo(const demo_cfg *cfg)
{
    demo_run run;
    raftwal_log *log = NULL;
    int close_rc, rc;

    memset(&run, 0, sizeof run);
    printf("raftwal demo in %s (library %s)\n", cfg->dir, raftwal_version());
    if (open_log(cfg, 1, &log) != 0)
        return CLI_EXIT_FAIL;
    rc = read_start(log, &run);
    if (rc == 0) {
        print_opened(log, &run);
        rc = append_all(log, cfg, &run);
    }
    if (rc == 0)
        print_stats(log);
    close_rc = raftwal_log_close(log);
    if (close_rc != 0 && rc == 0)
        rc = cli_fail(close_rc);
    if (rc != 0)
        return rc;
    printf("closed\n");
    rc = verify_reopened(cfg, &run);
    if (rc != 0) {
        fprintf(stderr, "raftwal demo: verification FAILED\n");
        return CLI_EXIT_FAIL;
    }
    printf("OK: log in %s verified\n", cfg->dir);
    return CLI_EXIT_OK;
}

int cmd_demo(int argc, char **argv)
{
    demo_cfg cfg;
    int rc = parse_demo_args(argc, argv, &cfg);

    if (rc == 0)
        rc = run_demo(&cfg);
    else if (rc < 0)
        rc = CLI_EXIT_OK; /* --help */
    cli_key_wipe(&cfg.key);
    return rc;
}
