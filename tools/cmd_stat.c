/*
 * cmd_stat.c -- `raftwal stat [--json] [--key-file F] DIR`: a log's summary
 * from a read-only open: bounds, hard state, snapshot, segment files with
 * their sizes and the bytes on disk; whether it is encrypted (the open's
 * stats) and how its entries are compressed (one raftwal_verify_opts()
 * pass: its check fields count the compressed entries and the decoded and
 * stored bytes of all live entries, which no open reports).
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

static void print_stat_help(void)
{
    printf("usage: raftwal stat [--json] [--key-file F] DIR\n"
           "\n"
           "Opens the log in DIR read-only and prints its first and last index, hard\n"
           "state, snapshot, metadata size, segment files with their sizes, and the\n"
           "bytes it takes on disk. --json prints one JSON object instead.\n"
           "\n"
           "It also says whether the log is encrypted and how its entries are stored:\n"
           "how many are compressed, their decoded and stored bytes and the ratio of\n"
           "the two (encryption's tags included). Those counts come from one check\n"
           "pass over every live record (raftwal_verify_opts, as 'raftwal verify'\n"
           "does); if that pass fails, stat says so and prints the rest.\n"
           "\n"
           "  --key-file F  the master key of an encrypted log: a file holding exactly\n"
           "                32 raw bytes, or 64 hex digits and an optional newline\n"
           "\n"
           "Exit status: 0 success, 1 failure, 2 usage.\n");
}

static void print_segment_json(const raftwal_segment_info *si, int first)
{
    char name[40];

    printf("%s{\"seq\":%" PRIu64 ",\"file\":\"%s\",\"first_index\":%" PRIu64
           ",\"last_index\":%" PRIu64 ",\"file_bytes\":%" PRIu64 ",\"used_bytes\":%" PRIu64
           ",\"sealed\":%s}",
           first ? "" : ",", si->seq, cli_segment_name(si->seq, name, sizeof name),
           si->first_index, si->last_index, si->file_bytes, si->used_bytes,
           si->sealed ? "true" : "false");
}

static void print_segment_text(const raftwal_segment_info *si)
{
    char name[40], fb[32], ub[32];

    printf("    %s  ", cli_segment_name(si->seq, name, sizeof name));
    if (si->last_index < si->first_index)
        printf("no live entries");
    else
        printf("entries %" PRIu64 "..%" PRIu64, si->first_index, si->last_index);
    printf("  %s (%" PRIu64 " bytes), %s used  %s\n",
           cli_human_bytes(si->file_bytes, fb, sizeof fb), si->file_bytes,
           cli_human_bytes(si->used_bytes, ub, sizeof ub), si->sealed ? "sealed" : "active");
}

static int print_segments(raftwal_log *log, int json, uint64_t count)
{
    raftwal_segment_info si;

    for (uint64_t i = 0; i < count; i++) {
        if (cli_segment_info(log, (size_t)i, &si) != 0)
            return CLI_EXIT_FAIL;
        if (json)
            print_segment_json(&si, i == 0);
        else
            print_segment_text(&si);
    }
    return 0;
}

/* The encoding counts of a log: raftwal_verify_opts()'s check fields. */
typedef struct stat_codec {
    int checked;     /* 0: the check pass failed (see error) */
    raftwal_check c;
    char error[256];
} stat_codec;

static void check_codec(const char *dir, const cli_key *key, stat_codec *sc)
{
    raftwal_options o;
    int rc;

    memset(sc, 0, sizeof *sc);
    sc->c.size = sizeof sc->c;
    rc = raftwal_options_init(&o, RAFTWAL_OPTIONS_VERSION);
    if (rc == 0) {
        cli_key_apply(key, &o);
        rc = raftwal_verify_opts(dir, &o, &sc->c);
    }
    if (rc == 0) {
        sc->checked = 1;
        return;
    }
    snprintf(sc->error, sizeof sc->error, "%s: %s", raftwal_strerror(rc), raftwal_errmsg());
}

static int stat_ratio_known(const stat_codec *sc)
{
    return sc->checked && sc->c.stored_entry_bytes > 0;
}

static double stat_ratio(const stat_codec *sc)
{
    return (double)sc->c.entry_bytes / (double)sc->c.stored_entry_bytes;
}

static void print_codec_json(const cli_state *st, const stat_codec *sc)
{
    printf(",\"encrypted\":%s", st->stats.encrypted ? "true" : "false");
    if (!sc->checked) {
        printf(",\"compressed_entries\":null,\"entry_bytes\":null,"
               "\"stored_entry_bytes\":null,\"compression_ratio\":null,\"check_error\":");
        cli_print_json_string(stdout, sc->error);
        return;
    }
    printf(",\"compressed_entries\":%" PRIu64 ",\"entry_bytes\":%" PRIu64
           ",\"stored_entry_bytes\":%" PRIu64 ",\"compression_ratio\":",
           sc->c.compressed_entries, sc->c.entry_bytes, sc->c.stored_entry_bytes);
    if (stat_ratio_known(sc))
        printf("%.3f", stat_ratio(sc));
    else
        printf("null");
}

static void print_codec_text(const cli_state *st, const stat_codec *sc)
{
    char eb[32], sb[32];

    printf("  encrypted    %s\n", st->stats.encrypted ? "yes (AES-256-GCM)" : "no");
    if (!sc->checked) {
        printf("  compression  unknown: the check pass failed (%s)\n", sc->error);
        return;
    }
    if (sc->c.compressed_entries == 0)
        printf("  compression  none (no live entry is stored compressed)\n");
    else
        printf("  compression  %" PRIu64 " of %" PRIu64 " entries stored compressed\n",
               sc->c.compressed_entries, sc->c.entries);
    if (stat_ratio_known(sc))
        printf("  entry data   %s decoded, %s stored (ratio %.2f)\n",
               cli_human_bytes(sc->c.entry_bytes, eb, sizeof eb),
               cli_human_bytes(sc->c.stored_entry_bytes, sb, sizeof sb), stat_ratio(sc));
}

static int print_stat_json(raftwal_log *log, const char *dir, const cli_state *st,
                           const stat_codec *sc)
{
    int rc;

    printf("{\"kind\":\"stat\",\"dir\":");
    cli_print_json_string(stdout, dir);
    printf(",\"first_index\":%" PRIu64 ",\"last_index\":%" PRIu64 ",\"entries\":%" PRIu64
           ",\"hardstate\":{\"term\":%" PRIu64 ",\"vote\":%" PRIu64 ",\"commit\":%" PRIu64 "}"
           ",\"snapshot\":{\"index\":%" PRIu64 ",\"term\":%" PRIu64 ",\"meta_size\":%zu}"
           ",\"metadata_size\":%zu,\"disk_bytes\":%" PRIu64 ",\"torn_tails\":%" PRIu64
           ",\"torn_bytes\":%" PRIu64 ",\"open_ns\":%" PRIu64,
           st->first, st->last, st->stats.entries, st->hs.term, st->hs.vote, st->hs.commit,
           st->snap_index, st->snap_term, st->snap_meta_size, st->meta_size,
           st->stats.disk_bytes, st->stats.torn_tails, st->stats.torn_bytes,
           st->stats.open_ns);
    print_codec_json(st, sc);
    printf(",\"segments\":[");
    rc = print_segments(log, 1, st->stats.segments);
    printf("]}\n");
    return rc;
}

static int print_stat_text(raftwal_log *log, const char *dir, const cli_state *st,
                           const stat_codec *sc)
{
    char disk[32];

    printf("log %s\n", dir);
    printf("  first index  %" PRIu64 "\n", st->first);
    printf("  last index   %" PRIu64 "\n", st->last);
    printf("  entries      %" PRIu64 "\n", st->stats.entries);
    printf("  hard state   term=%" PRIu64 " vote=%" PRIu64 " commit=%" PRIu64 "\n",
           st->hs.term, st->hs.vote, st->hs.commit);
    printf("  snapshot     index=%" PRIu64 " term=%" PRIu64 " meta=%zu bytes\n",
           st->snap_index, st->snap_term, st->snap_meta_size);
    printf("  metadata     %zu bytes\n", st->meta_size);
    if (st->stats.torn_tails)
        printf("  torn tail    %" PRIu64 " bytes past the durable end (a writable open "
               "will cut them)\n", st->stats.torn_bytes);
    printf("  on disk      %s (%" PRIu64 " bytes)\n",
           cli_human_bytes(st->stats.disk_bytes, disk, sizeof disk), st->stats.disk_bytes);
    print_codec_text(st, sc);
    printf("  segments     %" PRIu64 "\n", st->stats.segments);
    return print_segments(log, 0, st->stats.segments);
}

int cmd_stat(int argc, char **argv)
{
    cli_opt opts[] = {{"--json", 0, 0, NULL}, {"--key-file", 1, 0, NULL}};
    const char *pos[1];
    size_t npos;
    cli_state st;
    cli_key key;
    stat_codec sc;
    raftwal_log *log = NULL;
    int rc = cli_parse(argc, argv, opts, 2, pos, 1, &npos);

    if (rc == CLI_WANTS_HELP) {
        print_stat_help();
        return CLI_EXIT_OK;
    }
    if (rc == CLI_BAD_USAGE)
        return CLI_EXIT_USAGE;
    if (npos != 1)
        return cli_usage_error("stat", "expected the log directory DIR");
    memset(&key, 0, sizeof key);
    if (opts[1].seen && cli_read_key_file("stat", "--key-file", opts[1].value, &key) != 0)
        return CLI_EXIT_USAGE;
    rc = cli_open_readonly(pos[0], &key, &log);
    if (rc == 0)
        check_codec(pos[0], &key, &sc);
    cli_key_wipe(&key);
    if (rc != 0)
        return CLI_EXIT_FAIL;
    if (cli_read_state(log, &st) != 0) {
        raftwal_log_close(log);
        return CLI_EXIT_FAIL;
    }
    rc = opts[0].seen ? print_stat_json(log, pos[0], &st, &sc)
                      : print_stat_text(log, pos[0], &st, &sc);
    cli_state_free(&st);
    raftwal_log_close(log);
    return rc;
}
