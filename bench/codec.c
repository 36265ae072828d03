/* codec.c -- the "codec" phase: what encryption at rest and LZ4 or zstd
 * compression (issue 22) cost the raftwal contender.
 *
 * Appends: payload 128 B / 1 KiB / 16 KiB x batch 16, durable, through the
 * same timed loop and the same raftwal contender as the durable grid
 * (raftwal-steady by default, --codec-log fresh for the growing log), each
 * run in a fresh directory. The contenders differ only in the options the
 * log is opened with and in the payloads:
 *   plain         random payloads, no codec: the reference of the next two
 *   lz4           random payloads, RAFTWAL_COMPRESS_LZ4 (nothing to gain:
 *                 what trying costs)
 *   aes           random payloads, encrypted (the fixed bench key)
 *   json          JSON commands (json_fill below), no codec: the reference
 *                 of the next two
 *   json-lz4      JSON commands, LZ4
 *   json-aes-lz4  JSON commands, LZ4 then encrypted
 *   json-zstd     JSON commands, zstd (level 1)
 * Runs alternate as in the grid (run r starts with contender r mod n); a
 * contender's ratio is the median over runs of its rate divided by its
 * reference's rate in the same run. Besides the grid's columns a row says
 * how many bytes the entries' data took in the files per payload byte
 * (raftwal_stats.stored_entry_bytes / appended_bytes: "stored" in the
 * variant column, "extra" in the JSON); wamp is written_bytes /
 * appended_bytes as everywhere.
 *
 * Reads: one log of 1 KiB entries per contender, written without syncs
 * and synced, then warm random gets (the same random indexes for every
 * log) and sequential scans with one iterator each (as many entries in
 * all as the gets), interleaved the same way,
 * each as a ratio to its reference log. A contender the build lacks
 * (raftwal_features()) is left out with a note. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define MAX_RUNS 64

typedef struct codec_contender {
    const char *name;
    int ref;          /* index of the contender its ratio divides by; itself for a reference */
    int json;         /* payloads: 0 random bytes, 1 JSON commands */
    unsigned int compression;
    int encrypt;
} codec_contender;

static const codec_contender contenders[] = {
    {"plain", 0, 0, RAFTWAL_COMPRESS_NONE, 0},
    {"lz4", 0, 0, RAFTWAL_COMPRESS_LZ4, 0},
    {"aes", 0, 0, RAFTWAL_COMPRESS_NONE, 1},
    {"json", 3, 1, RAFTWAL_COMPRESS_NONE, 0},
    {"json-lz4", 3, 1, RAFTWAL_COMPRESS_LZ4, 0},
    {"json-aes-lz4", 3, 1, RAFTWAL_COMPRESS_LZ4, 1},
    {"json-zstd", 3, 1, RAFTWAL_COMPRESS_ZSTD, 0},
};
#define NCONTENDERS (sizeof contenders / sizeof contenders[0])

static const size_t payloads[] = {128, 1024, 16384};
#define BATCH 16

/* The bench's master key: fixed, so that every run does the same work. */
static uint8_t bench_key[RAFTWAL_KEY_SIZE];

/* Which contenders run: in this build (with a note for those left out)
 * and asked for (--who). */
static int available(const bench_opts *o, int out[NCONTENDERS])
{
    unsigned int have = raftwal_features();
    int any = 0;
    for (size_t i = 0; i < NCONTENDERS; i++) {
        const codec_contender *c = &contenders[i];
        out[i] = 0;
        if (c->compression == RAFTWAL_COMPRESS_LZ4 && !(have & RAFTWAL_FEATURE_LZ4))
            bench_note("codec: %s skipped: this build of raftwal has no LZ4 (raftwal_features())", c->name);
        else if (c->compression == RAFTWAL_COMPRESS_ZSTD && !(have & RAFTWAL_FEATURE_ZSTD))
            bench_note("codec: %s skipped: this build of raftwal has no zstd (raftwal_features())",
                       c->name);
        else if (c->encrypt && !(have & RAFTWAL_FEATURE_ENCRYPTION))
            bench_note("codec: %s skipped: this build of raftwal has no encryption (raftwal_features())",
                       c->name);
        else
            out[i] = bench_in_list(o->who, c->name);
        any |= out[i];
    }
    for (size_t i = 0; i < RAFTWAL_KEY_SIZE; i++)
        bench_key[i] = (uint8_t)(0xb0 + i * 7);
    return any;
}

static void use_codec(const codec_contender *c)
{
    bench_raftwal_codec.compression = c->compression;
    bench_raftwal_codec.key = c->encrypt ? bench_key : NULL;
}

static void no_codec(void)
{
    memset(&bench_raftwal_codec, 0, sizeof bench_raftwal_codec);
}

/* ---- JSON commands ----------------------------------------------------------
 * What a key-value state machine's Raft log carries: one entry is a client
 * request {"req":N,"client":"c-K","cmds":[...]} holding as many commands as
 * fit, each chosen from
 *   {"op":"set","key":"user:004711","value":{"id":4711,"name":"Grace Okafor",
 *    "email":"grace.okafor4711@example.com","age":41,"city":"Porto",
 *    "active":true,"balance":1734.05,"created":"2026-03-14T09:26:53Z",
 *    "tags":["premium","eu"]}}                                  (~250 bytes)
 *   {"op":"incr","key":"user:004711:visits","by":3}             (~48 bytes)
 *   {"op":"del","key":"session:8f3a21c7"}                       (~37 bytes)
 * the biggest that still fits, with random ids, numbers and dates and
 * names, cities and tags from small dictionaries (the redundancy of real
 * commands: repeated field names and vocabulary, varying values). The
 * entry is made exactly `size` bytes by a closing "note" of dictionary
 * words (or spaces when even that does not fit), so it stays valid JSON. */

static const char *const first_names[] = {"Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi",
                                          "Ivan", "Judy", "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil"};
static const char *const last_names[] = {"Meyer", "Smith", "Garcia", "Chen", "Kowalski", "Okafor", "Rossi", "Tanaka",
                                         "Novak", "Silva", "Dubois", "Larsen", "Haddad", "Ivanova", "Kim", "Moreau"};
static const char *const cities[] = {"Berlin", "Lyon", "Porto", "Osaka", "Austin", "Krakow", "Lagos", "Quito"};
static const char *const tags[] = {"premium", "trial", "beta", "admin", "mobile", "eu", "us", "newsletter"};
static const char *const words[] = {"updated", "by", "the", "billing", "job", "after", "a", "retry",
                                    "of", "request", "from", "the", "mobile", "client", "in", "region"};

#define PICK(rng, list) (list[bench_rng(rng) % (sizeof list / sizeof list[0])])

static int json_set(char *out, size_t len, uint64_t *rng)
{
    unsigned id = (unsigned)(bench_rng(rng) % 1000000);
    const char *first = PICK(rng, first_names), *last = PICK(rng, last_names);
    uint64_t r = bench_rng(rng);
    return snprintf(out, len,
                    "{\"op\":\"set\",\"key\":\"user:%06u\",\"value\":{\"id\":%u,\"name\":\"%s %s\","
                    "\"email\":\"%s.%s%u@example.com\",\"age\":%u,\"city\":\"%s\",\"active\":%s,"
                    "\"balance\":%u.%02u,\"created\":\"2026-%02u-%02uT%02u:%02u:%02uZ\","
                    "\"tags\":[\"%s\",\"%s\"]}}",
                    id, id, first, last, first, last, id, (unsigned)(18 + r % 60), PICK(rng, cities),
                    (r >> 8) & 1 ? "true" : "false", (unsigned)((r >> 9) % 100000), (unsigned)((r >> 26) % 100),
                    (unsigned)(1 + (r >> 33) % 12), (unsigned)(1 + (r >> 37) % 28), (unsigned)((r >> 42) % 24),
                    (unsigned)((r >> 47) % 60), (unsigned)((r >> 53) % 60), PICK(rng, tags), PICK(rng, tags));
}

static int json_incr(char *out, size_t len, uint64_t *rng)
{
    uint64_t r = bench_rng(rng);
    return snprintf(out, len, "{\"op\":\"incr\",\"key\":\"user:%06u:visits\",\"by\":%u}",
                    (unsigned)(r % 1000000), (unsigned)(1 + (r >> 32) % 9));
}

static int json_del(char *out, size_t len, uint64_t *rng)
{
    return snprintf(out, len, "{\"op\":\"del\",\"key\":\"session:%08x\"}", (unsigned)bench_rng(rng));
}

/* Fills out[0..size) with one request (see above). */
static void json_fill(uint8_t *out, size_t size, uint64_t *rng)
{
    static int (*const cmds[])(char *, size_t, uint64_t *) = {json_set, json_incr, json_del};
    char *buf = malloc(size + 512), cmd[512];
    if (!buf) {
        memset(out, ' ', size);
        return;
    }
    const char *close = "]}";
    size_t n = (size_t)snprintf(buf, size + 512, "{\"req\":%llu,\"client\":\"c-%u\",\"cmds\":[",
                                (unsigned long long)(bench_rng(rng) % 100000000), (unsigned)(bench_rng(rng) % 64));
    int count = 0;
    for (;;) {
        size_t k;
        int len = 0;
        for (k = 0; k < sizeof cmds / sizeof cmds[0]; k++) {
            len = cmds[k](cmd, sizeof cmd, rng);
            if (n + (count ? 1 : 0) + (size_t)len + strlen(close) <= size)
                break;
        }
        if (k == sizeof cmds / sizeof cmds[0])
            break;
        n += (size_t)sprintf(buf + n, "%s%s", count ? "," : "", cmd);
        count++;
    }
    buf[n++] = ']';
    /* The rest: ,"note":"words..." and the closing brace, or spaces. */
    const char *open_note = ",\"note\":\"";
    if (n + strlen(open_note) + 2 <= size) {
        n += (size_t)sprintf(buf + n, "%s", open_note);
        while (n < size - 2) {
            const char *w = PICK(rng, words);
            size_t room = size - 2 - n, wl = strlen(w) + 1;
            memcpy(buf + n, w, wl <= room ? wl - 1 : room);
            n += wl <= room ? wl - 1 : room;
            if (n < size - 2)
                buf[n++] = ' ';
        }
        buf[n++] = '"';
    }
    while (n < size - 1)
        buf[n++] = ' ';
    buf[n++] = '}';
    memcpy(out, buf, size);
    free(buf);
}

/* A batch like bench_batch_init's, of JSON requests instead of random
 * bytes (each entry a different request). */
static int json_batch_init(bench_batch *b, size_t payload, size_t n, uint64_t seed)
{
    if (bench_batch_init(b, payload, n, seed) != 0)
        return -1;
    uint64_t rng = seed;
    for (size_t i = 0; i < n; i++)
        json_fill(b->bytes + i * payload, payload, &rng);
    return 0;
}

/* ---- appends ---------------------------------------------------------------- */

static const contender *base_contender(const bench_opts *o)
{
    return o->codec_fresh ? &bench_raftwal : &bench_raftwal_steady;
}

/* The runs of contender i that produced a result, each with its ratio to
 * its reference's rate in the same run (0 when there is none); returns
 * how many. */
static int in_run_ratios(size_t i, bench_sample s[NCONTENDERS][MAX_RUNS],
                         int ok[NCONTENDERS][MAX_RUNS], int runs, bench_sample got[MAX_RUNS])
{
    size_t ref = (size_t)contenders[i].ref;
    int n = 0;
    for (int r = 0; r < runs; r++) {
        if (!ok[i][r])
            continue;
        got[n] = s[i][r];
        got[n].ratio = ref != i && ok[ref][r] && s[ref][r].ops_per_s > 0
                           ? s[i][r].ops_per_s / s[ref][r].ops_per_s
                           : 0;
        n++;
    }
    return n;
}

static void report_appends(const bench_opts *o, size_t payload, const int on[NCONTENDERS],
                           bench_sample s[NCONTENDERS][MAX_RUNS], int ok[NCONTENDERS][MAX_RUNS], int runs)
{
    for (size_t i = 0; i < NCONTENDERS; i++) {
        if (!on[i])
            continue;
        int ref = contenders[i].ref;
        bench_sample got[MAX_RUNS];
        int n = in_run_ratios(i, s, ok, runs, got);
        if (n == 0) {
            bench_note("codec %zu x %d: %s produced no result", payload, BATCH, contenders[i].name);
            bench_failures++;
            continue;
        }
        bench_row row = {.payload = payload, .batch = BATCH};
        snprintf(row.phase, sizeof row.phase, "codec");
        snprintf(row.who, sizeof row.who, "%s", contenders[i].name);
        if ((size_t)ref != i)
            snprintf(row.ratio_to, sizeof row.ratio_to, "%s", contenders[ref].name);
        double stored[MAX_RUNS];
        for (int k = 0; k < n; k++)
            stored[k] = got[k].extra;
        snprintf(row.variant, sizeof row.variant, "stored %.3f", bench_median(stored, n));
        bench_report(o, &row, got, n);
    }
}

static void run_append_cell(const bench_opts *o, const int on[NCONTENDERS], size_t payload)
{
    bench_batch random, json;
    if (bench_batch_init(&random, payload, BATCH, payload * 131 + BATCH) != 0)
        return;
    if (json_batch_init(&json, payload, BATCH, payload * 131 + BATCH) != 0) {
        bench_batch_free(&random);
        return;
    }
    const contender *base = base_contender(o);
    uint64_t commits = bench_commits_for(o, random.nbytes);
    static bench_sample s[NCONTENDERS][MAX_RUNS];
    int ok[NCONTENDERS][MAX_RUNS];
    memset(ok, 0, sizeof ok);
    int runs = o->runs < MAX_RUNS ? o->runs : MAX_RUNS;
    for (int r = 0; r < runs; r++) {
        for (size_t k = 0; k < NCONTENDERS; k++) {
            size_t i = (k + (size_t)r) % NCONTENDERS;
            const codec_contender *c = &contenders[i];
            if (!on[i])
                continue;
            bench_progress("codec %zu B x %d: %s, run %d/%d (%llu commits)", payload, BATCH, c->name, r + 1, runs,
                           (unsigned long long)commits);
            char dir[4096];
            if (bench_fresh_dir(o->dir, c->name, dir, sizeof dir) != 0)
                continue;
            use_codec(c);
            memset(&bench_raftwal_last_stats, 0, sizeof bench_raftwal_last_stats);
            ok[i][r] = bench_run_appends(o, base, dir, BENCH_DURABLE, c->json ? &json : &random, commits,
                                         &s[i][r]) == 0;
            no_codec();
            const raftwal_stats *st = &bench_raftwal_last_stats;
            if (ok[i][r] && st->appended_bytes)
                s[i][r].extra = (double)st->stored_entry_bytes / (double)st->appended_bytes;
            bench_rmtree(dir);
        }
    }
    report_appends(o, payload, on, s, ok, runs);
    bench_batch_free(&random);
    bench_batch_free(&json);
}

/* ---- reads --------------------------------------------------------------------- */

#define READ_PAYLOAD 1024

typedef struct read_log {
    raftwal_log *log;
    bench_batch b; /* the batch every BATCH entries of the log repeat */
} read_log;

/* Writes `entries` entries of the contender's payloads into a new log
 * (without syncs, then one sync) and checks a few of them back. */
static int build_log(const codec_contender *c, const char *dir, uint64_t entries, read_log *l)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, c->name);
    int rc = c->json ? json_batch_init(&l->b, READ_PAYLOAD, 256, 99) : bench_batch_init(&l->b, READ_PAYLOAD, 256, 99);
    if (rc != 0)
        return -1;
    raftwal_options opts = RAFTWAL_OPTIONS_INIT;
    opts.flags = RAFTWAL_OPEN_CREATE | RAFTWAL_OPEN_NOSYNC;
    opts.compression = c->compression;
    if (c->encrypt) {
        opts.key = bench_key;
        opts.key_size = RAFTWAL_KEY_SIZE;
    }
    rc = raftwal_log_open(&l->log, path, &opts);
    for (uint64_t i = 0; rc == 0 && i < entries; i += l->b.n) {
        bench_progress("codec reads: writing the %s log (%llu%%)", c->name,
                       (unsigned long long)(i * 100 / entries));
        bench_batch_number(&l->b, i + 1);
        rc = raftwal_log_append(l->log, l->b.e, l->b.n, NULL, 0);
    }
    if (rc == 0)
        rc = raftwal_log_sync(l->log);
    /* The reads must return what was written: check a few entries. */
    uint8_t buf[READ_PAYLOAD];
    raftwal_entry e;
    for (uint64_t x = 1; rc == 0 && x <= entries; x += entries / 7 + 1) {
        rc = raftwal_log_get(l->log, x, &e, buf, sizeof buf);
        if (rc == 0 && (e.size != READ_PAYLOAD || memcmp(buf, l->b.bytes + (x - 1) % l->b.n * READ_PAYLOAD,
                                                         READ_PAYLOAD) != 0)) {
            fprintf(stderr, "raftwal-bench: codec reads: %s: entry %llu reads back different bytes\n", c->name,
                    (unsigned long long)x);
            return -1;
        }
    }
    if (rc)
        fprintf(stderr, "raftwal-bench: codec reads: %s: %s: %s\n", c->name, raftwal_strerror(rc),
                raftwal_errmsg());
    return rc ? -1 : 0;
}

static volatile uint64_t sink; /* keeps the reads from being optimized away */

/* Random gets of the indexes in order[0..n); returns n, or 0 on error. */
static uint64_t time_gets(raftwal_log *log, const uint64_t *order, uint64_t n)
{
    uint8_t buf[READ_PAYLOAD];
    raftwal_entry e;
    uint64_t acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (raftwal_log_get(log, order[i], &e, buf, sizeof buf) != 0)
            return 0;
        acc += buf[i % READ_PAYLOAD];
    }
    sink += acc;
    return n;
}

/* `passes` iterators, each over entries 1..entries; returns the entries
 * read, or 0 on error. */
static uint64_t time_scan(raftwal_log *log, uint64_t entries, uint64_t passes)
{
    uint64_t total = 0, acc = 0;
    for (uint64_t p = 0; p < passes; p++) {
        raftwal_iter *it;
        raftwal_entry e;
        uint64_t n = 0;
        if (raftwal_iter_open(&it, log, 1, entries + 1, RAFTWAL_NO_LIMIT) != 0)
            return 0;
        int rc;
        while ((rc = raftwal_iter_next(it, &e)) == 1) {
            acc += ((const uint8_t *)e.data)[n % READ_PAYLOAD];
            n++;
        }
        raftwal_iter_close(it);
        if (rc != 0 || n != entries)
            return 0;
        total += n;
    }
    sink += acc;
    return total;
}

static void report_reads(const bench_opts *o, const char *variant, const int on[NCONTENDERS],
                         bench_sample s[NCONTENDERS][MAX_RUNS], int ok[NCONTENDERS][MAX_RUNS], int runs)
{
    for (size_t i = 0; i < NCONTENDERS; i++) {
        if (!on[i])
            continue;
        int ref = contenders[i].ref;
        bench_sample got[MAX_RUNS];
        int n = in_run_ratios(i, s, ok, runs, got);
        if (n == 0)
            continue;
        bench_row row = {.payload = READ_PAYLOAD};
        snprintf(row.phase, sizeof row.phase, "codec-rd");
        snprintf(row.who, sizeof row.who, "%s", contenders[i].name);
        snprintf(row.variant, sizeof row.variant, "%s", variant);
        if ((size_t)ref != i)
            snprintf(row.ratio_to, sizeof row.ratio_to, "%s", contenders[ref].name);
        bench_report(o, &row, got, n);
    }
}

static int run_reads(const bench_opts *o, const int on[NCONTENDERS])
{
    uint64_t entries = o->smoke ? 1024 : o->quick ? 4096 : 32768; /* full: 32 MiB a log */
    uint64_t nreads = o->smoke ? 10000 : o->quick ? 50000 : 300000;
    /* A scan reads about as many entries as the gets (it is faster). */
    uint64_t scan_passes = (nreads + entries - 1) / entries;
    char dir[4096];
    if (bench_fresh_dir(o->dir, "codec-reads", dir, sizeof dir) != 0)
        return -1;
    read_log logs[NCONTENDERS];
    memset(logs, 0, sizeof logs);
    uint64_t *order = malloc(nreads * sizeof *order);
    int rc = order ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < NCONTENDERS; i++)
        if (on[i])
            rc = build_log(&contenders[i], dir, entries, &logs[i]);
    uint64_t seed = 42;
    for (uint64_t i = 0; rc == 0 && i < nreads; i++)
        order[i] = 1 + bench_rng(&seed) % entries;
    /* Warm: every log read once in full before any timing. */
    for (size_t i = 0; rc == 0 && i < NCONTENDERS; i++)
        if (on[i] && time_scan(logs[i].log, entries, 1) == 0)
            rc = -1;
    int runs = o->runs < MAX_RUNS ? o->runs : MAX_RUNS;
    static bench_sample gets[NCONTENDERS][MAX_RUNS], scans[NCONTENDERS][MAX_RUNS];
    int ok_get[NCONTENDERS][MAX_RUNS], ok_scan[NCONTENDERS][MAX_RUNS];
    memset(ok_get, 0, sizeof ok_get);
    memset(ok_scan, 0, sizeof ok_scan);
    for (int r = 0; rc == 0 && r < runs; r++) {
        for (size_t k = 0; k < NCONTENDERS; k++) {
            size_t i = (k + (size_t)r) % NCONTENDERS;
            if (!on[i])
                continue;
            bench_progress("codec reads 1 KiB: %s, run %d/%d", contenders[i].name, r + 1, runs);
            double t0 = bench_now();
            uint64_t n = time_gets(logs[i].log, order, nreads);
            double t1 = bench_now();
            uint64_t m = time_scan(logs[i].log, entries, scan_passes);
            double t2 = bench_now();
            if (!n || !m) {
                fprintf(stderr, "raftwal-bench: codec reads: %s failed: %s\n", contenders[i].name, raftwal_errmsg());
                bench_failures++;
                continue;
            }
            gets[i][r] = (bench_sample){.ops_per_s = (double)n / (t1 - t0),
                                        .mb_per_s = (double)n * READ_PAYLOAD / (t1 - t0) / 1e6, .count = n};
            scans[i][r] = (bench_sample){.ops_per_s = (double)m / (t2 - t1),
                                         .mb_per_s = (double)m * READ_PAYLOAD / (t2 - t1) / 1e6, .count = m};
            ok_get[i][r] = ok_scan[i][r] = 1;
        }
    }
    if (rc == 0) {
        report_reads(o, "get", on, gets, ok_get, runs);
        report_reads(o, "scan", on, scans, ok_scan, runs);
    }
    for (size_t i = 0; i < NCONTENDERS; i++) {
        if (logs[i].log)
            raftwal_log_close(logs[i].log);
        bench_batch_free(&logs[i].b);
    }
    free(order);
    bench_rmtree(dir);
    return rc;
}

int bench_phase_codec(const bench_opts *o)
{
    int on[NCONTENDERS];
    if (!available(o, on))
        return 0;
    for (size_t p = 0; p < sizeof payloads / sizeof payloads[0]; p++)
        if (bench_cell_on(o, payloads[p], BATCH))
            run_append_cell(o, on, payloads[p]);
    /* The reads are cell 1024x1 for --cell (e.g. to profile them alone). */
    if (o->cell_payload && !(o->cell_payload == READ_PAYLOAD && o->cell_batch == 1))
        return 0;
    return run_reads(o, on);
}
