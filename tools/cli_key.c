/*
 * cli_key.c -- the master key of an encrypted log from a --key-file, and
 * the --compression option's names.
 *
 * A key file holds exactly RAFTWAL_KEY_SIZE (32) raw bytes, or 64 hex
 * digits optionally followed by one newline; anything else is a usage
 * error that says what the file holds (its size, or that its text is not
 * hex), never its content. The key lives in a cli_key on the caller's
 * stack and is wiped by cli_key_wipe() when the command is done with it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define KEY_HEX_DIGITS (2u * RAFTWAL_KEY_SIZE)
/* Enough to tell every accepted form (at most 65 bytes) from a longer file. */
#define KEY_FILE_READ_MAX (KEY_HEX_DIGITS + 2u)

/* memset that the compiler may not drop as a dead store. */
static void wipe(void *p, size_t n)
{
    volatile unsigned char *b = p;
    while (n--)
        *b++ = 0;
}

void cli_key_wipe(cli_key *key)
{
    wipe(key, sizeof *key);
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes 64 hex digits into key->bytes; 0, or -1 if one is not hex. */
static int decode_hex(const unsigned char *text, cli_key *key)
{
    for (size_t i = 0; i < RAFTWAL_KEY_SIZE; i++) {
        int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        key->bytes[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

/* A usage error about the key file; `what` never quotes its content. */
static int key_file_error(const char *cmd, const char *opt, const char *path,
                          const char *what, int explain_format)
{
    char msg[1200];

    snprintf(msg, sizeof msg, "%s %s: %s%s", opt, path, what,
             explain_format ? " (a key file holds exactly 32 raw bytes, or 64 hex digits "
                              "and an optional newline)" : "");
    return cli_usage_error(cmd, msg);
}

int cli_read_key_file(const char *cmd, const char *opt, const char *path, cli_key *key)
{
    unsigned char buf[KEY_FILE_READ_MAX];
    char what[128];
    size_t n;
    int rc;
    FILE *f;

    cli_key_wipe(key);
    f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(what, sizeof what, "cannot open it: %s", strerror(errno));
        return key_file_error(cmd, opt, path, what, 0);
    }
    n = fread(buf, 1, sizeof buf, f);
    rc = ferror(f);
    fclose(f);
    if (rc) {
        wipe(buf, sizeof buf);
        return key_file_error(cmd, opt, path, "cannot read it", 0);
    }
    if (n == RAFTWAL_KEY_SIZE) {
        memcpy(key->bytes, buf, RAFTWAL_KEY_SIZE);
        key->present = 1;
    } else if (n == KEY_HEX_DIGITS || (n == KEY_HEX_DIGITS + 1 && buf[KEY_HEX_DIGITS] == '\n')) {
        if (decode_hex(buf, key) == 0)
            key->present = 1;
    }
    wipe(buf, sizeof buf);
    if (key->present)
        return 0;
    cli_key_wipe(key);
    if (n == KEY_HEX_DIGITS || n == KEY_HEX_DIGITS + 1)
        return key_file_error(cmd, opt, path, "its text is not 64 hex digits", 1);
    if (n == sizeof buf)
        return key_file_error(cmd, opt, path, "it is too long", 1);
    snprintf(what, sizeof what, "it holds %zu bytes", n);
    return key_file_error(cmd, opt, path, what, 1);
}

void cli_key_apply(const cli_key *key, raftwal_options *opts)
{
    if (key != NULL && key->present) {
        opts->key = key->bytes;
        opts->key_size = RAFTWAL_KEY_SIZE;
    }
}

int cli_parse_compression(const char *cmd, const char *text, unsigned int *out)
{
    if (strcmp(text, "none") == 0)
        *out = RAFTWAL_COMPRESS_NONE;
    else if (strcmp(text, "lz4") == 0)
        *out = RAFTWAL_COMPRESS_LZ4;
    else if (strcmp(text, "zstd") == 0)
        *out = RAFTWAL_COMPRESS_ZSTD;
    else {
        char msg[256];
        snprintf(msg, sizeof msg, "bad --compression value '%.100s' (want lz4, zstd or none)",
                 text);
        return cli_usage_error(cmd, msg);
    }
    return 0;
}
