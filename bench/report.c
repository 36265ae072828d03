/* report.c -- medians of runs, JSON lines and the table on stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static bench_row *rows;
static size_t nrows, cap;

/* The median of one field over the samples. */
static double med_of(const bench_sample *s, int n, size_t field_off)
{
    double v[64];
    int k = 0;
    for (int i = 0; i < n && k < 64; i++) {
        double x;
        memcpy(&x, (const char *)&s[i] + field_off, sizeof x);
        v[k++] = x;
    }
    return bench_median(v, k);
}

#define MED(field) row->med.field = med_of(samples, n, offsetof(bench_sample, field))

static void json_num(FILE *f, const char *name, double v, int *first)
{
    if (v == 0)
        return;
    fprintf(f, "%s\"%s\":%.6g", *first ? "" : ",", name, v);
    *first = 0;
}

static void print_json(FILE *f, const bench_row *r)
{
    int first = 0;
    fprintf(f, "{\"phase\":\"%s\",\"who\":\"%s\"", r->phase, r->who);
    if (r->variant[0])
        fprintf(f, ",\"variant\":\"%s\"", r->variant);
    if (r->payload)
        fprintf(f, ",\"payload\":%zu", r->payload);
    if (r->batch)
        fprintf(f, ",\"batch\":%zu", r->batch);
    if (r->threads)
        fprintf(f, ",\"threads\":%d", r->threads);
    fprintf(f, ",\"runs\":%d", r->runs);
    json_num(f, "entries_per_s", r->med.ops_per_s, &first);
    json_num(f, "mb_per_s", r->med.mb_per_s, &first);
    json_num(f, "p50_us", r->med.p50_us, &first);
    json_num(f, "p99_us", r->med.p99_us, &first);
    json_num(f, "p999_us", r->med.p999_us, &first);
    json_num(f, "open_ms", r->med.ms, &first);
    json_num(f, "write_amp", r->med.write_amp, &first);
    json_num(f, "dev_amp", r->med.dev_amp, &first);
    json_num(f, "fsyncs_per_commit", r->med.fsyncs_per_commit, &first);
    json_num(f, "rotations", r->med.rotations, &first);
    json_num(f, "recycled", r->med.recycled, &first);
    json_num(f, "count", (double)r->med.count, &first);
    json_num(f, "extra", r->med.extra, &first);
    int k = r->runs < 16 ? r->runs : 16;
    const double *arrays[3] = {r->run_ops, r->run_ratio, r->run_ms};
    static const char *const names[3] = {"runs_entries_per_s", "runs_ratio", "runs_open_ms"};
    for (int a = 0; a < 3; a++) {
        if (arrays[a][0] == 0)
            continue;
        fprintf(f, ",\"%s\":[", names[a]);
        for (int i = 0; i < k; i++)
            fprintf(f, "%s%.4g", i ? "," : "", arrays[a][i]);
        fprintf(f, "]");
    }
    if (r->ratio_to[0] && r->med.ratio != 0)
        fprintf(f, ",\"ratio\":%.4g,\"ratio_to\":\"%s\"", r->med.ratio, r->ratio_to);
    fprintf(f, "}\n");
    fflush(f);
}

void bench_report(const bench_opts *o, bench_row *row, const bench_sample *samples, int n)
{
    row->runs = n;
    for (int i = 0; i < n && i < 16; i++) {
        row->run_ops[i] = samples[i].ops_per_s;
        row->run_ratio[i] = samples[i].ratio;
        row->run_ms[i] = samples[i].ms;
    }
    MED(ops_per_s);
    MED(mb_per_s);
    MED(p50_us);
    MED(p99_us);
    MED(p999_us);
    MED(ms);
    MED(write_amp);
    MED(dev_amp);
    MED(fsyncs_per_commit);
    MED(rotations);
    MED(recycled);
    MED(ratio);
    MED(extra);
    double counts[64];
    for (int i = 0; i < n && i < 64; i++)
        counts[i] = (double)samples[i].count;
    row->med.count = (uint64_t)bench_median(counts, n < 64 ? n : 64);
    if (o->json) {
        bench_progress_done();
        print_json(stdout, row);
    }
    if (o->json_out)
        print_json(o->json_out, row);
    if (nrows == cap) {
        cap = cap ? cap * 2 : 64;
        bench_row *p = realloc(rows, cap * sizeof *p);
        if (!p)
            return;
        rows = p;
    }
    rows[nrows++] = *row;
}

/* v with `prec` decimals, or "-" when the run did not produce it. */
static void fmt(char *buf, size_t len, double v, int prec)
{
    if (v == 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.*f", prec, v);
}

static void print_row(const bench_row *r)
{
    char cell[32], ops[24], mb[24], p50[24], p99[24], p999[24], ms[24], ratio[32], wa[16], io[16],
        fs[16];
    if (r->threads)
        snprintf(cell, sizeof cell, "%d thr x %zu", r->threads, r->payload);
    else if (r->batch)
        snprintf(cell, sizeof cell, "%zu x %zu", r->payload, r->batch);
    else if (r->payload)
        snprintf(cell, sizeof cell, "%zu", r->payload);
    else
        snprintf(cell, sizeof cell, "-");
    fmt(ops, sizeof ops, r->med.ops_per_s, 0);
    fmt(mb, sizeof mb, r->med.mb_per_s, 1);
    fmt(p50, sizeof p50, r->med.p50_us, 0);
    fmt(p99, sizeof p99, r->med.p99_us, 0);
    fmt(p999, sizeof p999, r->med.p999_us, 0);
    fmt(ms, sizeof ms, r->med.ms, 2);
    fmt(wa, sizeof wa, r->med.write_amp, 3);
    fmt(io, sizeof io, r->med.dev_amp, 2);
    fmt(fs, sizeof fs, r->med.fsyncs_per_commit, 3);
    if (r->med.ratio != 0)
        snprintf(ratio, sizeof ratio, "%.2f (%s)", r->med.ratio, r->ratio_to);
    else
        snprintf(ratio, sizeof ratio, "-");
    printf("%-8s %-14s %-14s %-13s %10s %8s %8s %8s %8s %9s %-16s %6s %6s %6s\n", r->phase, cell, r->who,
           r->variant, ops, mb, p50, p99, p999, ms, ratio, wa, fs, io);
}

void bench_report_table(const bench_opts *o)
{
    if (o->json)
        return;
    bench_progress_done();
    printf("\n%-8s %-14s %-14s %-13s %10s %8s %8s %8s %8s %9s %-16s %6s %6s %6s\n", "phase", "cell", "who",
           "variant", "entries/s", "MB/s", "p50us", "p99us", "p999us", "open_ms", "ratio (to)",
           "wamp", "fs/cmt", "dev/pl");
    const char *last_phase = "";
    for (size_t i = 0; i < nrows; i++) {
        if (strcmp(rows[i].phase, last_phase) != 0 && i)
            printf("\n");
        last_phase = rows[i].phase;
        print_row(&rows[i]);
    }
    printf("\nentries/s: entries (reads, opens) per second; MB/s: payload, 1e6 bytes; pXXus: latency "
           "of one commit (or append+wait) in microseconds;\nratio: median of per-run ratios to the "
           "paired reference run; wamp: engine bytes written per payload byte; fs/cmt: fdatasyncs per\n"
           "commit (engine stats); dev/pl: bytes the disk wrote during the timed loop (device-wide) per "
           "payload byte.\nMedians of %d run(s).\n", o->runs);
}

static void loadavg(char *buf, size_t len)
{
    buf[0] = 0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fgets(buf, (int)len, f))
            buf[strcspn(buf, "\n")] = 0;
        fclose(f);
    }
}

void bench_report_footer(const bench_opts *o, double seconds)
{
    char load[96];
    loadavg(load, sizeof load);
    for (int k = 0; k < 2; k++) {
        FILE *out = k == 0 ? (o->json ? stdout : NULL) : o->json_out;
        if (out)
            fprintf(out, "{\"phase\":\"end\",\"seconds\":%.1f,\"loadavg\":\"%s\",\"failures\":%d}\n",
                    seconds, load, bench_failures);
    }
    if (!o->json)
        printf("raftwal-bench: finished in %.1f s, loadavg %s\n", seconds, load);
    fflush(stdout);
}

static void read_line(const char *cmd, char *out, size_t len)
{
    out[0] = 0;
    FILE *p = popen(cmd, "r");
    if (!p)
        return;
    if (fgets(out, (int)len, p))
        out[strcspn(out, "\n")] = 0;
    pclose(p);
}

void bench_report_header(const bench_opts *o)
{
    char commit[96] = "", dirty[16] = "", load[96] = "", cmd[4200], date[64];
    if (o->source_dir && o->source_dir[0]) {
        snprintf(cmd, sizeof cmd, "git -C '%s' rev-parse --short=12 HEAD 2>/dev/null", o->source_dir);
        read_line(cmd, commit, sizeof commit);
        snprintf(cmd, sizeof cmd,
                 "git -C '%s' status --porcelain -- src include 2>/dev/null | head -1", o->source_dir);
        read_line(cmd, dirty, sizeof dirty);
    }
    loadavg(load, sizeof load);
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    struct utsname u;
    uname(&u);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    const char *mode = o->smoke ? "smoke" : o->quick ? "quick" : "full";
    uint64_t seg = bench_raftwal_segment_size ? bench_raftwal_segment_size : RAFTWAL_DEFAULT_SEGMENT_SIZE;
    for (int k = 0; k < 2; k++) {
        FILE *out = k == 0 ? (o->json ? stdout : NULL) : o->json_out;
        if (!out)
            continue;
        fprintf(out, "{\"phase\":\"meta\",\"commit\":\"%s%s\",\"date\":\"%s\",\"loadavg\":\"%s\","
               "\"kernel\":\"%s\",\"cpus\":%ld,\"mode\":\"%s\",\"runs\":%d,\"library\":\"%s\","
               "\"dir\":\"%s\",\"segment_size\":%llu}\n",
               commit[0] ? commit : "unknown", dirty[0] ? "+dirty" : "", date, load, u.release, cpus,
               mode, o->runs, raftwal_version(), o->dir, (unsigned long long)seg);
        fflush(out);
    }
    if (!o->json) {
        printf("raftwal-bench: commit %s%s, library %s, %s, kernel %s, %ld cpus, loadavg %s, mode %s, "
               "%d run(s), raftwal segments of %llu MiB, dir %s\n",
               commit[0] ? commit : "unknown", dirty[0] ? " (src/ or include/ modified)" : "",
               raftwal_version(), date, u.release, cpus, load, mode, o->runs, (unsigned long long)(seg >> 20), o->dir);
    }
    fflush(stdout);
}
