/*
 * cmd_dump.c -- `raftwal dump [--json] DIR [--from I] [--to J]`: prints a
 * log's state, its segment files and its entries, from a read-only open
 * (no lock, so it works beside a live writer and sees its durable prefix).
 *
 * Entries are streamed through an iterator one at a time: dumping a huge
 * log never holds more than one entry. With --json every line is one JSON
 * object with a "kind" of "state", "segment" or "entry"; entries carry
 * their full data as "data_hex" so that other programs can compare bytes.
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

#define DUMP_PREVIEW_BYTES 32u

typedef struct dump_cfg {
    const char *dir;
    int json;
    int has_from, has_to;
    uint64_t from, to;
    cli_key key;
} dump_cfg;

static void print_dump_help(void)
{
    printf("usage: raftwal dump [--json] [--from I] [--to J] [--key-file F] DIR\n"
           "\n"
           "Opens the log in DIR read-only and prints its state (bounds, hard state,\n"
           "snapshot, metadata), its segment files, and the entries with index in\n"
           "[I, J] (default: the whole log): index, term, type, size and a preview of\n"
           "the first %u bytes (text if printable, else hex).\n"
           "\n"
           "  --json    one JSON object per line, each with a \"kind\": \"state\",\n"
           "            \"segment\" or \"entry\"; entries include \"data_hex\", the\n"
           "            full data in hex\n"
           "  --from I  first index to print (default: the first index)\n"
           "  --to J    last index to print (default: the last index)\n"
           "  --key-file F  the master key of an encrypted log (entries are printed\n"
           "            decrypted): a file holding exactly 32 raw bytes, or 64 hex\n"
           "            digits and an optional newline; the key is never printed\n"
           "\n"
           "Exit status: 0 success, 1 failure (e.g. corrupt entry), 2 usage.\n",
           DUMP_PREVIEW_BYTES);
}

static int parse_dump_args(int argc, char **argv, dump_cfg *cfg)
{
    cli_opt opts[] = {{"--json", 0, 0, NULL}, {"--from", 1, 0, NULL}, {"--to", 1, 0, NULL},
                      {"--key-file", 1, 0, NULL}};
    const char *pos[1];
    size_t npos;
    int r = cli_parse(argc, argv, opts, 4, pos, 1, &npos);

    if (r == CLI_WANTS_HELP) {
        print_dump_help();
        return -1;
    }
    if (r == CLI_BAD_USAGE)
        return CLI_EXIT_USAGE;
    if (npos != 1)
        return cli_usage_error("dump", "expected the log directory DIR");
    memset(cfg, 0, sizeof *cfg);
    cfg->dir = pos[0];
    cfg->json = opts[0].seen;
    cfg->has_from = opts[1].seen;
    cfg->has_to = opts[2].seen;
    if ((cfg->has_from && cli_parse_u64("dump", "--from", opts[1].value, &cfg->from)) ||
        (cfg->has_to && cli_parse_u64("dump", "--to", opts[2].value, &cfg->to)))
        return CLI_EXIT_USAGE;
    if (cfg->has_from && cfg->has_to && cfg->from > cfg->to)
        return cli_usage_error("dump", "--from must not be above --to");
    if (opts[3].seen)
        return cli_read_key_file("dump", "--key-file", opts[3].value, &cfg->key);
    return 0;
}

/* ---- state -------------------------------------------------------------- */

static void print_state_json(const dump_cfg *cfg, const cli_state *st)
{
    printf("{\"kind\":\"state\",\"dir\":");
    cli_print_json_string(stdout, cfg->dir);
    printf(",\"first_index\":%" PRIu64 ",\"last_index\":%" PRIu64
           ",\"hardstate\":{\"term\":%" PRIu64 ",\"vote\":%" PRIu64 ",\"commit\":%" PRIu64 "}"
           ",\"snapshot\":{\"index\":%" PRIu64 ",\"term\":%" PRIu64 ",\"meta_size\":%zu"
           ",\"meta_hex\":\"",
           st->first, st->last, st->hs.term, st->hs.vote, st->hs.commit,
           st->snap_index, st->snap_term, st->snap_meta_size);
    cli_print_hex(stdout, st->snap_meta, st->snap_meta_size);
    printf("\"},\"metadata_size\":%zu,\"metadata_hex\":\"", st->meta_size);
    cli_print_hex(stdout, st->meta, st->meta_size);
    printf("\",\"segments\":%" PRIu64 "}\n", st->stats.segments);
}

static void print_state_text(const dump_cfg *cfg, const cli_state *st)
{
    printf("log %s\n", cfg->dir);
    printf("  bounds      first=%" PRIu64 " last=%" PRIu64 " (%" PRIu64 " entries)\n",
           st->first, st->last, st->last >= st->first ? st->last - st->first + 1 : 0);
    printf("  hard state  term=%" PRIu64 " vote=%" PRIu64 " commit=%" PRIu64 "\n",
           st->hs.term, st->hs.vote, st->hs.commit);
    printf("  snapshot    index=%" PRIu64 " term=%" PRIu64 " meta=%zu bytes ",
           st->snap_index, st->snap_term, st->snap_meta_size);
    cli_print_preview(stdout, st->snap_meta, st->snap_meta_size, DUMP_PREVIEW_BYTES * 2);
    printf("\n  metadata    %zu bytes ", st->meta_size);
    cli_print_preview(stdout, st->meta, st->meta_size, DUMP_PREVIEW_BYTES * 2);
    printf("\n");
}

/* ---- segments ----------------------------------------------------------- */

static void print_segment(int json, const raftwal_segment_info *si)
{
    char name[40];

    cli_segment_name(si->seq, name, sizeof name);
    if (json) {
        printf("{\"kind\":\"segment\",\"seq\":%" PRIu64 ",\"file\":\"%s\",\"first_index\":%" PRIu64
               ",\"last_index\":%" PRIu64 ",\"file_bytes\":%" PRIu64 ",\"used_bytes\":%" PRIu64
               ",\"sealed\":%s}\n",
               si->seq, name, si->first_index, si->last_index, si->file_bytes,
               si->used_bytes, si->sealed ? "true" : "false");
        return;
    }
    printf("  %s  ", name);
    if (si->last_index < si->first_index)
        printf("no live entries");
    else
        printf("entries %" PRIu64 "..%" PRIu64, si->first_index, si->last_index);
    printf("  used %" PRIu64 " of %" PRIu64 " bytes  %s\n", si->used_bytes, si->file_bytes,
           si->sealed ? "sealed" : "active");
}

static int print_segments(raftwal_log *log, int json, uint64_t count)
{
    raftwal_segment_info si;

    if (!json)
        printf("segments (%" PRIu64 ")\n", count);
    for (uint64_t i = 0; i < count; i++) {
        if (cli_segment_info(log, (size_t)i, &si) != 0)
            return CLI_EXIT_FAIL;
        print_segment(json, &si);
    }
    return 0;
}

/* ---- entries ------------------------------------------------------------ */

static void print_entry(int json, const raftwal_entry *e)
{
    if (json) {
        printf("{\"kind\":\"entry\",\"index\":%" PRIu64 ",\"term\":%" PRIu64
               ",\"type\":%" PRIu32 ",\"size\":%zu,\"data_hex\":\"",
               e->index, e->term, e->type, e->size);
        cli_print_hex(stdout, e->data, e->size);
        printf("\"}\n");
        return;
    }
    printf("  %10" PRIu64 "  term %-6" PRIu64 " type %-4" PRIu32 " %8zu bytes  ",
           e->index, e->term, e->type, e->size);
    cli_print_preview(stdout, e->data, e->size, DUMP_PREVIEW_BYTES);
    putchar('\n');
}

static int print_entries(raftwal_log *log, const dump_cfg *cfg, const cli_state *st)
{
    uint64_t lo = cfg->has_from ? cfg->from : st->first;
    uint64_t hi_incl = cfg->has_to ? cfg->to : st->last;
    uint64_t hi;
    raftwal_iter *it = NULL;
    raftwal_entry e;
    int rc;

    /* One bound given outside the log: ask for that one index, so the
     * library says why it is not there (compacted / unavailable). */
    if (cfg->has_from && !cfg->has_to && lo > hi_incl)
        hi_incl = lo;
    if (cfg->has_to && !cfg->has_from && hi_incl < lo)
        lo = hi_incl;
    /* [lo, hi) for the iterator; UINT64_MAX stays out of range, so the
     * library reports it rather than wrapping around to 0. */
    hi = hi_incl == UINT64_MAX ? UINT64_MAX : hi_incl + 1;
    if (hi < lo)
        hi = lo; /* an empty log and no range given: nothing to print */
    if (!cfg->json)
        printf("entries [%" PRIu64 ", %" PRIu64 ")\n", lo, hi);
    if ((rc = raftwal_iter_open(&it, log, lo, hi, RAFTWAL_NO_LIMIT)) != 0)
        return cli_fail(rc);
    while ((rc = raftwal_iter_next(it, &e)) == 1) {
        print_entry(cfg->json, &e);
        lo = e.index + 1;
    }
    if (rc < 0) {
        fflush(stdout);
        /* A read-only handle of a live log: the writer purged the rest. */
        if (rc == RAFTWAL_ECOMPACTED)
            fprintf(stderr, "raftwal: the log changed under dump: a writer purged the entries "
                    "from %" PRIu64 " on while they were printed\n", lo);
        cli_fail(rc);
    }
    raftwal_iter_close(it);
    return rc < 0 ? CLI_EXIT_FAIL : 0;
}

int cmd_dump(int argc, char **argv)
{
    dump_cfg cfg;
    cli_state st;
    raftwal_log *log = NULL;
    int rc = parse_dump_args(argc, argv, &cfg);

    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    rc = cli_open_readonly(cfg.dir, &cfg.key, &log);
    cli_key_wipe(&cfg.key); /* the library keeps its own copy */
    if (rc != 0)
        return CLI_EXIT_FAIL;
    if (cli_read_state(log, &st) != 0) {
        raftwal_log_close(log);
        return CLI_EXIT_FAIL;
    }
    if (cfg.json)
        print_state_json(&cfg, &st);
    else
        print_state_text(&cfg, &st);
    rc = print_segments(log, cfg.json, st.stats.segments);
    if (rc == 0)
        rc = print_entries(log, &cfg, &st);
    cli_state_free(&st);
    raftwal_log_close(log);
    if (fflush(stdout) != 0 && rc == 0) {
        perror("raftwal dump: stdout");
        rc = CLI_EXIT_FAIL;
    }
    return rc;
}
