/*
 * cmd_bench.c -- `raftwal bench`: reserved. The benchmark (design.md §9)
 * is a separate piece of work; until it lands the name exists so that
 * scripts get a clear answer instead of "unknown command".
 */
#include <string.h>

#include "cli.h"

int cmd_bench(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: raftwal bench [ARGS...]\n"
                   "\n"
                   "Benchmarks the log (entries/s, MB/s, commit latency next to "
                   "the disk's raw\nfsync limit). Not built yet: it exits with "
                   "status 2.\n");
            return CLI_EXIT_OK;
        }
    }
    fprintf(stderr, "raftwal bench: not built yet\n");
    return CLI_EXIT_USAGE;
}
