/*
 * cli_util.c -- helpers shared by the subcommands: option parsing, error
 * reporting, data previews and JSON string escaping.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* ---- option parsing ---------------------------------------------------- */

static cli_opt *find_opt(cli_opt *opts, size_t nopts, const char *arg,
                         size_t name_len)
{
    for (size_t i = 0; i < nopts; i++) {
        if (strlen(opts[i].name) == name_len &&
            memcmp(opts[i].name, arg, name_len) == 0)
            return &opts[i];
    }
    return NULL;
}

/* Handles one "--name", "--name=value" or "--name value" argument at
 * argv[*i]; advances *i past a separate value. */
static int parse_one_opt(int argc, char **argv, int *i, cli_opt *opts,
                         size_t nopts)
{
    const char *arg = argv[*i];
    const char *eq = strchr(arg, '=');
    size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
    cli_opt *opt = find_opt(opts, nopts, arg, name_len);
    char msg[256];

    if (opt == NULL) {
        snprintf(msg, sizeof msg, "unknown option '%.*s'", (int)name_len, arg);
        return cli_usage_error(argv[0], msg);
    }
    if (!opt->takes_value) {
        if (eq) {
            snprintf(msg, sizeof msg, "option '%s' takes no value", opt->name);
            return cli_usage_error(argv[0], msg);
        }
        opt->seen = 1;
        return 0;
    }
    if (eq) {
        opt->value = eq + 1;
    } else if (*i + 1 < argc) {
        opt->value = argv[++*i];
    } else {
        snprintf(msg, sizeof msg, "option '%s' needs a value", opt->name);
        return cli_usage_error(argv[0], msg);
    }
    opt->seen = 1;
    return 0;
}

int cli_parse(int argc, char **argv, cli_opt *opts, size_t nopts,
              const char **pos, size_t max_pos, size_t *npos)
{
    int only_positional = 0;

    *npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!only_positional && arg[0] == '-' && arg[1] != '\0') {
            if (strcmp(arg, "--") == 0) {
                only_positional = 1;
                continue;
            }
            if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)
                return CLI_WANTS_HELP;
            if (parse_one_opt(argc, argv, &i, opts, nopts) != 0)
                return CLI_BAD_USAGE;
            continue;
        }
        if (*npos == max_pos) {
            char msg[256];
            snprintf(msg, sizeof msg, "unexpected argument '%s'", arg);
            cli_usage_error(argv[0], msg);
            return CLI_BAD_USAGE;
        }
        pos[(*npos)++] = arg;
    }
    return CLI_PARSED;
}

int cli_parse_u64(const char *cmd, const char *opt, const char *text,
                  uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;

    /* strtoull accepts "-1" and leading blanks; a log index is neither. */
    if (text[0] < '0' || text[0] > '9')
        goto bad;
    errno = 0;
    v = strtoull(text, &end, 0);
    if (errno != 0 || end == text || *end != '\0')
        goto bad;
    *out = (uint64_t)v;
    return 0;
bad:
    fprintf(stderr, "raftwal %s: bad %s value '%s' (want an unsigned number)\n",
            cmd, opt, text);
    return -1;
}

int cli_usage_error(const char *cmd, const char *message)
{
    fprintf(stderr, "raftwal %s: %s\n", cmd, message);
    fprintf(stderr, "Try 'raftwal %s --help'.\n", cmd);
    return CLI_EXIT_USAGE;
}

/* ---- errors and library calls ------------------------------------------ */

int cli_fail(int rc)
{
    const char *detail = raftwal_errmsg();

    if (detail != NULL && detail[0] != '\0')
        fprintf(stderr, "raftwal: %s: %s\n", raftwal_strerror(rc), detail);
    else
        fprintf(stderr, "raftwal: %s\n", raftwal_strerror(rc));
    return CLI_EXIT_FAIL;
}

int cli_open_readonly(const char *dir, const cli_key *key, raftwal_log **out)
{
    raftwal_options opts;
    int rc = raftwal_options_init(&opts, RAFTWAL_OPTIONS_VERSION);

    if (rc == 0) {
        opts.flags = RAFTWAL_OPEN_READONLY; /* and not CREATE */
        cli_key_apply(key, &opts);
        rc = raftwal_log_open(out, dir, &opts);
    }
    if (rc != 0)
        return cli_fail(rc);
    return 0;
}

int cli_segment_info(raftwal_log *log, size_t i, raftwal_segment_info *info)
{
    int rc;

    memset(info, 0, sizeof *info);
    info->size = sizeof *info;
    rc = raftwal_log_segment_info(log, i, info);
    return rc != 0 ? cli_fail(rc) : 0;
}

int cli_stats(raftwal_log *log, raftwal_stats *st)
{
    int rc;

    memset(st, 0, sizeof *st);
    st->size = sizeof *st;
    rc = raftwal_log_stats(log, st);
    return rc != 0 ? cli_fail(rc) : 0;
}

/* ---- formatting --------------------------------------------------------- */

void cli_print_hex(FILE *f, const void *data, size_t size)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = data;

    for (size_t i = 0; i < size; i++) {
        putc(digits[p[i] >> 4], f);
        putc(digits[p[i] & 0xf], f);
    }
}

static int all_printable(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x20 || p[i] > 0x7e)
            return 0;
    }
    return 1;
}

void cli_print_preview(FILE *f, const void *data, size_t size, size_t max)
{
    size_t n = size < max ? size : max;

    if (size == 0 || data == NULL) {
        fputs("(empty)", f);
        return;
    }
    if (all_printable(data, n)) {
        putc('"', f);
        fwrite(data, 1, n, f);
        putc('"', f);
    } else {
        fputs("hex:", f);
        cli_print_hex(f, data, n);
    }
    if (size > n)
        fputs("...", f);
}

void cli_print_json_string(FILE *f, const char *s)
{
    putc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            /* Control bytes are escaped; bytes >= 0x80 are passed through
             * (paths are UTF-8 in practice; JSON readers take them). */
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                putc(*p, f);
        }
    }
    putc('"', f);
}

const char *cli_human_bytes(uint64_t bytes, char *buf, size_t cap)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    size_t u = 0;

    while (v >= 1024.0 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, cap, "%" PRIu64 " B", bytes);
    else
        snprintf(buf, cap, "%.1f %s", v, units[u]);
    return buf;
}

const char *cli_segment_name(uint64_t seq, char *buf, size_t cap)
{
    snprintf(buf, cap, "%016llx.wal", (unsigned long long)seq);
    return buf;
}
