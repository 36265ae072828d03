/*
 * cmd_verify.c -- `raftwal verify DIR`: checks every record of every
 * segment (raftwal_verify) without changing anything. A torn tail (an
 * incomplete last batch, what a crash mid-write leaves) is normal and
 * reported; damage anywhere else is corruption and fails.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void print_verify_help(void)
{
    printf("usage: raftwal verify [--key-file F] DIR\n"
           "\n"
           "Checks the log in DIR without changing it: every record's checksum in\n"
           "every segment, every footer, the segment sequence, index contiguity and\n"
           "term order. Takes no lock: run it on a closed log.\n"
           "\n"
           "A torn tail (an incomplete last batch left by a crash) is not an error:\n"
           "it is reported, and the next writable open cuts it off. Nor are purged\n"
           "leftovers (segment files holding only purged entries, which a crash in\n"
           "the middle of a purge can keep, present or not, in any combination):\n"
           "they are named, and the next writable open removes them.\n"
           "\n"
           "An encrypted log is checked with its master key, every record's\n"
           "authentication tag too; without it (or with another key) it fails with\n"
           "\"wrong or missing key\".\n"
           "\n"
           "  --key-file F  the master key of an encrypted log: a file holding exactly\n"
           "                32 raw bytes, or 64 hex digits and an optional newline\n"
           "\n"
           "Exit status: 0 sound (possibly with a torn tail), 1 corrupt or unreadable\n"
           "(the message names the file and offset), 2 usage.\n");
}

static void print_torn_tail(const raftwal_check *c)
{
    char name[40];

    if (c->torn_bytes == 0) {
        printf("no torn tail\n");
        return;
    }
    printf("torn tail: %s offset %" PRIu64 ", %" PRIu64
           " bytes (an incomplete last batch; the next open will cut it)\n",
           cli_segment_name(c->torn_seq, name, sizeof name), c->torn_offset,
           c->torn_bytes);
}

/* Names the purged leftovers (raftwal_check.leftovers): every segment file
 * numbered below leftover_below_seq. */
static void print_leftovers(const char *dir, const raftwal_check *c)
{
    if (c->leftovers == 0)
        return;
    printf("purged leftovers: %" PRIu64 " (harmless: segment files holding only purged entries, "
           "kept by a crash in the middle of a purge or not yet removed; the next writable open "
           "removes them)\n", c->leftovers);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        size_t n = strlen(e->d_name);
        if (n != 20 || strcmp(e->d_name + 16, ".wal") != 0)
            continue;
        errno = 0;
        unsigned long long seq = strtoull(e->d_name, &end, 16);
        if (errno == 0 && end == e->d_name + 16 && seq < c->leftover_below_seq)
            printf("  leftover %s\n", e->d_name);
    }
    closedir(d);
}

int cmd_verify(int argc, char **argv)
{
    cli_opt opts[] = {{"--key-file", 1, 0, NULL}};
    const char *pos[1];
    size_t npos;
    raftwal_check c;
    raftwal_options o;
    cli_key key;
    int rc = cli_parse(argc, argv, opts, 1, pos, 1, &npos);

    if (rc == CLI_WANTS_HELP) {
        print_verify_help();
        return CLI_EXIT_OK;
    }
    if (rc == CLI_BAD_USAGE)
        return CLI_EXIT_USAGE;
    if (npos != 1)
        return cli_usage_error("verify", "expected the log directory DIR");
    memset(&key, 0, sizeof key);
    if (opts[0].seen && cli_read_key_file("verify", "--key-file", opts[0].value, &key) != 0)
        return CLI_EXIT_USAGE;

    memset(&c, 0, sizeof c);
    c.size = sizeof c;
    rc = raftwal_options_init(&o, RAFTWAL_OPTIONS_VERSION);
    if (rc == 0) {
        cli_key_apply(&key, &o);
        rc = raftwal_verify_opts(pos[0], &o, &c);
    }
    cli_key_wipe(&key);
    if (rc != 0) {
        cli_fail(rc);
        if (rc == RAFTWAL_ECORRUPT)
            fprintf(stderr, "raftwal verify: %s is corrupt; 'raftwal repair' keeps "
                    "its valid prefix and backs up the rest\n", pos[0]);
        return CLI_EXIT_FAIL;
    }
    printf("log %s\n", pos[0]);
    printf("segments %" PRIu64 ", entries %" PRIu64 ", first index %" PRIu64
           ", last index %" PRIu64 "\n",
           c.segments, c.entries, c.first_index, c.last_index);
    print_torn_tail(&c);
    print_leftovers(pos[0], &c);
    printf("OK\n");
    return CLI_EXIT_OK;
}
