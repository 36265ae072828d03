/*
 * main.c -- `raftwal`, the command-line tool: finds the subcommand and
 * hands it the rest of the command line.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"demo", cmd_demo, "create or continue a demo log, rotate, snapshot, purge, reopen, verify"},
    {"dump", cmd_dump, "print a log's state, segments and entries (read-only)"},
    {"verify", cmd_verify, "check every record of a log; report torn tails and corruption"},
    {"stat", cmd_stat, "print a log's bounds, state, segments and size (read-only)"},
    {"repair", cmd_repair, "cut a damaged log back to its longest valid prefix, with a backup"},
    {"rekey", cmd_rekey, "change the master key of an encrypted log"},
    {"bench", cmd_bench, "benchmark against the disk's raw limit and peers (raftwal-bench)"},
};

static void print_usage(FILE *f)
{
    fprintf(f,
            "usage: raftwal COMMAND [ARGS...]\n"
            "       raftwal --version | --help\n"
            "\n"
            "The raftwal write-ahead log, from the command line.\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\n"
            "'raftwal COMMAND --help' describes a command. dump, verify, stat, repair\n"
            "and demo take --key-file F for an encrypted log (F: 32 raw bytes, or 64\n"
            "hex digits and an optional newline).\n"
            "Exit status: 0 success, 1 failure, 2 bad usage.\n");
}

/* The library's raftwal_features() by name: "encryption lz4", or "none". */
static void print_features(void)
{
    unsigned int have = raftwal_features();

    printf("features:%s%s%s%s\n", have & RAFTWAL_FEATURE_ENCRYPTION ? " encryption" : "",
           have & RAFTWAL_FEATURE_LZ4 ? " lz4" : "", have & RAFTWAL_FEATURE_ZSTD ? " zstd" : "",
           have & (RAFTWAL_FEATURE_ENCRYPTION | RAFTWAL_FEATURE_LZ4 | RAFTWAL_FEATURE_ZSTD)
               ? "" : " none");
}

static int print_version(void)
{
    printf("raftwal %s (library %s)\n", RAFTWAL_VERSION_STRING,
           raftwal_version());
    print_features();
    if (raftwal_version_number() != RAFTWAL_VERSION_NUMBER)
        printf("warning: built against %s, running with library %s\n",
               RAFTWAL_VERSION_STRING, raftwal_version());
    return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0)
        return print_version();
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "raftwal: unknown command '%s'\n", argv[1]);
    fprintf(stderr, "Try 'raftwal --help'.\n");
    return CLI_EXIT_USAGE;
}
