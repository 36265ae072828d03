/*
 * cmd_repair.c -- `raftwal repair DIR`: salvages a damaged log
 * (raftwal_repair): keeps the longest valid prefix of whole batches, cuts
 * the rest after copying it to DIR/repair-<time>/, and says what it did.
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

static void print_repair_help(void)
{
    printf("usage: raftwal repair [--key-file F] DIR\n"
           "\n"
           "Salvages the log in DIR: keeps the longest valid prefix of whole batches\n"
           "and cuts everything after the first damage, after copying every file it\n"
           "shortens or removes into DIR/repair-<time>/. A sound log is left as it is\n"
           "(a torn tail is trimmed, as an open would). Takes the log's lock: the log\n"
           "must not be open elsewhere. Entries after the damage are lost from the\n"
           "log (they stay in the backup); a Raft node gets them again from its leader.\n"
           "Files a crash kept in the middle of a purge (purged leftovers) are not\n"
           "damage. Repair never keeps them as the log: if a cut would keep only\n"
           "purged entries, or cannot tell the log's prefix from purge leftovers, it\n"
           "changes nothing more and says why (exit status 1).\n"
           "\n"
           "An encrypted log needs its master key; what is cut is backed up as it is\n"
           "(still encrypted).\n"
           "\n"
           "  --key-file F  the master key of an encrypted log: a file holding exactly\n"
           "                32 raw bytes, or 64 hex digits and an optional newline\n"
           "\n"
           "Exit status: 0 the log opens now, 1 failure or refusal, 2 usage.\n");
}

static void print_repair_result(const char *dir, const raftwal_check *c)
{
    char name[40];

    if (c->cut_bytes > 0) {
        printf("cut the log at %s offset %" PRIu64 ": %" PRIu64 " bytes removed "
               "(the rest of that segment and every later one)\n",
               cli_segment_name(c->cut_seq, name, sizeof name), c->cut_offset, c->cut_bytes);
    } else if (c->torn_bytes > 0) {
        printf("trimmed a torn tail: %s offset %" PRIu64 ", %" PRIu64 " bytes\n",
               cli_segment_name(c->torn_seq, name, sizeof name), c->torn_offset,
               c->torn_bytes);
    } else {
        printf("nothing needed cutting: %s is sound\n", dir);
    }
    if (c->backup_path[0] != '\0')
        printf("backup of what was cut: %s\n", c->backup_path);
    printf("log now: %" PRIu64 " segments, %" PRIu64 " entries, first index %" PRIu64
           ", last index %" PRIu64 "\n",
           c->segments, c->entries, c->first_index, c->last_index);
}

int cmd_repair(int argc, char **argv)
{
    cli_opt opts[] = {{"--key-file", 1, 0, NULL}};
    const char *pos[1];
    size_t npos;
    raftwal_check c;
    raftwal_options o;
    cli_key key;
    int rc = cli_parse(argc, argv, opts, 1, pos, 1, &npos);

    if (rc == CLI_WANTS_HELP) {
        print_repair_help();
        return CLI_EXIT_OK;
    }
    if (rc == CLI_BAD_USAGE)
        return CLI_EXIT_USAGE;
    if (npos != 1)
        return cli_usage_error("repair", "expected the log directory DIR");
    memset(&key, 0, sizeof key);
    if (opts[0].seen && cli_read_key_file("repair", "--key-file", opts[0].value, &key) != 0)
        return CLI_EXIT_USAGE;

    memset(&c, 0, sizeof c);
    c.size = sizeof c;
    rc = raftwal_options_init(&o, RAFTWAL_OPTIONS_VERSION);
    if (rc == 0) {
        cli_key_apply(&key, &o);
        rc = raftwal_repair_opts(pos[0], &o, &c);
    }
    cli_key_wipe(&key);
    if (rc != 0)
        return cli_fail(rc);
    /* The library fills backup_path; make sure it is a C string anyway. */
    c.backup_path[sizeof c.backup_path - 1] = '\0';
    print_repair_result(pos[0], &c);
    return CLI_EXIT_OK;
}
