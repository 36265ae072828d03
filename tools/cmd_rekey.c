/*
 * cmd_rekey.c -- `raftwal rekey DIR --key-file OLD --new-key-file NEW`:
 * changes the master key of an encrypted log (raftwal_rekey): only the
 * log's data keys are wrapped anew, nothing else is rewritten.
 */
#include <string.h>

#include "cli.h"

static void print_rekey_help(void)
{
    printf("usage: raftwal rekey --key-file OLD --new-key-file NEW DIR\n"
           "\n"
           "Changes the master key of the encrypted log in DIR from the key in file\n"
           "OLD to the key in file NEW. Each file holds exactly 32 raw bytes, or 64\n"
           "hex digits and an optional newline; the keys are never printed. Only the\n"
           "log's data keys are wrapped anew: nothing else is rewritten. Crash-safe:\n"
           "after a crash the log opens with exactly one of the two keys, and the\n"
           "command can be run again with that one as OLD. Takes the log's lock:\n"
           "the log must not be open for writing.\n"
           "\n"
           "Exit status: 0 the log's key is NEW, 1 failure (\"wrong or missing key\":\n"
           "OLD is not the log's key, or the log is not encrypted), 2 usage.\n");
}

int cmd_rekey(int argc, char **argv)
{
    cli_opt opts[] = {{"--key-file", 1, 0, NULL}, {"--new-key-file", 1, 0, NULL}};
    const char *pos[1];
    size_t npos;
    cli_key old_key, new_key;
    int rc = cli_parse(argc, argv, opts, 2, pos, 1, &npos);

    if (rc == CLI_WANTS_HELP) {
        print_rekey_help();
        return CLI_EXIT_OK;
    }
    if (rc == CLI_BAD_USAGE)
        return CLI_EXIT_USAGE;
    if (npos != 1)
        return cli_usage_error("rekey", "expected the log directory DIR");
    if (!opts[0].seen || !opts[1].seen)
        return cli_usage_error("rekey", "both --key-file OLD and --new-key-file NEW are required");
    memset(&old_key, 0, sizeof old_key);
    memset(&new_key, 0, sizeof new_key);
    if (cli_read_key_file("rekey", "--key-file", opts[0].value, &old_key) != 0)
        return CLI_EXIT_USAGE;
    if (cli_read_key_file("rekey", "--new-key-file", opts[1].value, &new_key) != 0) {
        cli_key_wipe(&old_key);
        return CLI_EXIT_USAGE;
    }
    rc = raftwal_rekey(pos[0], old_key.bytes, sizeof old_key.bytes, new_key.bytes,
                       sizeof new_key.bytes);
    cli_key_wipe(&old_key);
    cli_key_wipe(&new_key);
    if (rc != 0)
        return cli_fail(rc);
    printf("rekeyed %s: it opens with the new key now\n", pos[0]);
    return CLI_EXIT_OK;
}
