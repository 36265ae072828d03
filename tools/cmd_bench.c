/*
 * cmd_bench.c -- `raftwal bench`: runs the benchmark harness (bench/,
 * design.md §9) with the rest of the command line.
 *
 * The harness is its own program, raftwal-bench, because it links the
 * peers it compares against (SQLite, LMDB, RocksDB): the CLI must not
 * depend on them. `raftwal bench ARGS` replaces itself with
 * `raftwal-bench ARGS` (same arguments, same output, same exit status),
 * found at the first of:
 *   1. $RAFTWAL_BENCH, exactly that file;
 *   2. ../libexec/raftwal/raftwal-bench next to this executable (an
 *      installed tree: bench/CMakeLists.txt installs it there);
 *   3. the build tree's bench/raftwal-bench (RAFTWAL_BENCH_BUILD_PATH, set
 *      by tools/CMakeLists.txt when the harness is part of the build).
 */
#define _POSIX_C_SOURCE 200809L /* readlink, PATH_MAX */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#ifndef RAFTWAL_BENCH_BUILD_PATH
#define RAFTWAL_BENCH_BUILD_PATH ""
#endif

/* Writes the installed location (rule 2) into buf; 0 if it can be made. */
static int installed_path(char *buf, size_t len)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    int w = snprintf(buf, len, "%s/../libexec/raftwal/raftwal-bench", self);
    return w > 0 && (size_t)w < len ? 0 : -1;
}

int cmd_bench(int argc, char **argv)
{
    char installed[PATH_MAX + 64] = "";
    const char *env = getenv("RAFTWAL_BENCH");
    const char *candidates[3];
    size_t n = 0;
    if (env && env[0]) {
        candidates[n++] = env; /* configured: no silent fall-back */
    } else {
        if (installed_path(installed, sizeof installed) == 0)
            candidates[n++] = installed;
        if (RAFTWAL_BENCH_BUILD_PATH[0])
            candidates[n++] = RAFTWAL_BENCH_BUILD_PATH;
    }
    int help = 0;
    for (int i = 1; i < argc; i++)
        help |= strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
    for (size_t i = 0; i < n; i++) {
        if (access(candidates[i], X_OK) != 0)
            continue;
        if (help) { /* our usage line, then the harness's own options */
            printf("usage: raftwal bench [ARGS...]   (runs %s; its usage follows)\n\n",
                   candidates[i]);
            fflush(stdout);
        }
        argv[0] = (char *)"raftwal-bench";
        execv(candidates[i], argv);
        fprintf(stderr, "raftwal bench: cannot run %s: %s\n", candidates[i], strerror(errno));
        return CLI_EXIT_FAIL;
    }
    if (help) {
        printf("usage: raftwal bench [ARGS...]\n"
               "\n"
               "Runs the benchmark harness raftwal-bench with ARGS (see bench/README.md).\n"
               "It is not installed here: build with -DRAFTWAL_BUILD_BENCH=ON, or set\n"
               "RAFTWAL_BENCH to its path.\n");
        return CLI_EXIT_OK;
    }
    fprintf(stderr, "raftwal bench: the benchmark harness raftwal-bench is not installed\n");
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "  not found: %s\n", candidates[i]);
    fprintf(stderr, "Build it with -DRAFTWAL_BUILD_BENCH=ON, or set RAFTWAL_BENCH to its path.\n");
    return CLI_EXIT_FAIL;
}
