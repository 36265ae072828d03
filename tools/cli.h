/*
 * cli.h -- what the `raftwal` subcommands share: exit codes, a tiny option
 * parser, error reporting, previews of entry data and JSON output helpers.
 *
 * The tool uses only the public header (include/raftwal.h) and links the
 * shared library, so it exercises exactly the ABI that programs see.
 */
#ifndef RAFTWAL_CLI_H
#define RAFTWAL_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "raftwal.h"

/* Exit codes, the same for every subcommand. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1  /* the operation failed (I/O, corruption, ...) */
#define CLI_EXIT_USAGE 2 /* the command line was wrong */

/* One option a subcommand accepts. The parser fills `seen` and `value`. */
typedef struct cli_opt {
    const char *name; /* "--from" */
    int takes_value;  /* 1: "--from 5" or "--from=5"; 0: a flag */
    int seen;
    const char *value;
} cli_opt;

/* What cli_parse() found. */
enum cli_parse_result { CLI_PARSED, CLI_WANTS_HELP, CLI_BAD_USAGE };

/* Parses argv[1..argc-1] (argv[0] is the subcommand's name): options from
 * `opts`, "-h"/"--help", "--" (everything after it is positional), and up
 * to `max_pos` positional arguments stored in pos[] (count in *npos).
 * On CLI_BAD_USAGE the reason is already printed on stderr. */
int cli_parse(int argc, char **argv, cli_opt *opts, size_t nopts,
              const char **pos, size_t max_pos, size_t *npos);

/* Parses a whole decimal (or 0x hex) unsigned 64-bit number; 0 on success,
 * -1 (after printing "raftwal CMD: bad OPT value ...") otherwise. */
int cli_parse_u64(const char *cmd, const char *opt, const char *text,
                  uint64_t *out);

/* Prints "raftwal CMD: <message>" and a hint to use --help on stderr;
 * returns CLI_EXIT_USAGE so callers can `return cli_usage_error(...)`. */
int cli_usage_error(const char *cmd, const char *message);

/* Prints "raftwal: <strerror(rc)>: <raftwal_errmsg()>" on stderr and
 * returns CLI_EXIT_FAIL. Call it right after the failing library call:
 * the message is per thread and overwritten by the next failure. */
int cli_fail(int rc);

/* The master key of an encrypted log, read from a --key-file (cli_key.c).
 * Wipe it with cli_key_wipe() once done. */
typedef struct cli_key {
    int present; /* 0: no --key-file given */
    unsigned char bytes[RAFTWAL_KEY_SIZE];
} cli_key;

/* Reads the key file `path` given to option `opt` of command `cmd`: exactly
 * RAFTWAL_KEY_SIZE raw bytes, or twice as many hex digits and an optional
 * newline. Returns 0, or CLI_EXIT_USAGE after saying on stderr what is
 * wrong with the file (never its content); *key is then wiped. */
int cli_read_key_file(const char *cmd, const char *opt, const char *path, cli_key *key);
void cli_key_wipe(cli_key *key);

/* Points opts->key at key's bytes if key is present (key may be NULL). */
void cli_key_apply(const cli_key *key, raftwal_options *opts);

/* "lz4", "zstd" or "none" as RAFTWAL_COMPRESS_*; CLI_EXIT_USAGE (printed)
 * for anything else. */
int cli_parse_compression(const char *cmd, const char *text, unsigned int *out);

/* Opens the log in `dir` read-only (no lock, never writes), with the
 * master key `key` (NULL or not present: none). Prints the error and
 * returns non-zero on failure. */
int cli_open_readonly(const char *dir, const cli_key *key, raftwal_log **out);

/* Writes a short preview of data: the text itself if every byte is
 * printable ASCII, else lower-case hex; at most `max` bytes of the data,
 * followed by "..." when there is more. */
void cli_print_preview(FILE *f, const void *data, size_t size, size_t max);

/* Writes `size` bytes as lower-case hex, no separators. */
void cli_print_hex(FILE *f, const void *data, size_t size);

/* Writes s as a JSON string literal, quotes included. */
void cli_print_json_string(FILE *f, const char *s);

/* Formats a byte count for people ("1.5 MiB") into buf. */
const char *cli_human_bytes(uint64_t bytes, char *buf, size_t cap);

/* The segment file name of sequence number seq ("%016llx.wal"). */
const char *cli_segment_name(uint64_t seq, char *buf, size_t cap);

/* Fills `info` for segment i of an open log; prints the error and returns
 * non-zero on failure. */
int cli_segment_info(raftwal_log *log, size_t i, raftwal_segment_info *info);

/* Fills `st` with the stats of an open log; prints the error on failure. */
int cli_stats(raftwal_log *log, raftwal_stats *st);

/* A log's state as its getters report it. The snapshot's metadata and the
 * user metadata are copied into malloc'd buffers: cli_state_free(). */
typedef struct cli_state {
    uint64_t first, last;
    raftwal_hardstate hs;
    uint64_t snap_index, snap_term;
    unsigned char *snap_meta;
    size_t snap_meta_size;
    unsigned char *meta;
    size_t meta_size;
    raftwal_stats stats;
} cli_state;

/* Fills *st from an open log; prints the error and returns non-zero on
 * failure (st is then already freed). */
int cli_read_state(raftwal_log *log, cli_state *st);
void cli_state_free(cli_state *st);

/* The subcommands. argv[0] is the subcommand's name. Each returns an exit
 * code (CLI_EXIT_*). */
int cmd_demo(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_repair(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_rekey(int argc, char **argv);

#endif /* RAFTWAL_CLI_H */
