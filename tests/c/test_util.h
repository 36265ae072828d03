/*
 * test_util.h -- the small toolbox every C test uses.
 *
 *   CHECK / CHECK_EQ_U64 / CHECK_RC   assertions that print file:line, the
 *                                     failed expression, raftwal_errmsg()
 *                                     and the test seed, then exit(1);
 *   tu_seed(), tu_rand()              seeded, reproducible randomness
 *                                     (RAFTWAL_TEST_SEED overrides the seed);
 *   tu_tmpdir()                       a fresh directory removed at exit
 *                                     (RAFTWAL_TEST_KEEP=1 keeps it);
 *   tu_segment_path/exists/allocated  a segment file by sequence number;
 *   tu_payload_*()                    deterministic entry payloads, so any
 *                                     reader can tell a torn entry;
 *   tu_crc32c()                       a bitwise CRC32C independent of src/;
 *   tu_read_file() / tu_write_file()  whole-file helpers for damage tests.
 *
 * Header-only (static functions) so it works for tests linked against the
 * shared library and for tests linked against raftwal_static.
 */
#ifndef RAFTWAL_TEST_UTIL_H
#define RAFTWAL_TEST_UTIL_H

#include "raftwal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#if defined(__GNUC__)
#define TU_UNUSED __attribute__((unused))
#define TU_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TU_UNUSED
#define TU_PRINTF(a, b)
#endif

/* ---------------------------------------------------------------------- */
/* Seed and randomness                                                    */
/* ---------------------------------------------------------------------- */

static uint64_t tu_seed_value;
static int tu_seed_ready;
static uint64_t tu_rng_state;

/* The seed of this run: RAFTWAL_TEST_SEED if set, else a fixed default so
 * that every run is the same. Printed by every failing assertion. */
static TU_UNUSED uint64_t tu_seed(void)
{
    if (!tu_seed_ready) {
        const char *env = getenv("RAFTWAL_TEST_SEED");
        tu_seed_value = env && *env ? strtoull(env, NULL, 0) : 0x5eed2024u;
        tu_rng_state = tu_seed_value;
        tu_seed_ready = 1;
    }
    return tu_seed_value;
}

/* splitmix64: a good, tiny, stateless mixer. */
static TU_UNUSED uint64_t tu_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* The next number of the test's random sequence. */
static TU_UNUSED uint64_t tu_rand(void)
{
    tu_seed();
    tu_rng_state += 0x9e3779b97f4a7c15ull;
    return tu_mix(tu_rng_state);
}

/* A number in [lo, hi]. */
static TU_UNUSED uint64_t tu_rand_range(uint64_t lo, uint64_t hi)
{
    return lo + tu_rand() % (hi - lo + 1);
}

/* ---------------------------------------------------------------------- */
/* Failure reporting                                                      */
/* ---------------------------------------------------------------------- */

static TU_UNUSED TU_PRINTF(3, 4) void tu_fail(const char *file, int line,
                                              const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s:%d: FAILED: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n  raftwal_errmsg(): \"%s\"\n  seed: RAFTWAL_TEST_SEED=0x%" PRIx64 "\n",
            raftwal_errmsg(), tu_seed());
    fflush(stderr);
    exit(1);
}

#define CHECK(cond)                                                             \
    do {                                                                        \
        if (!(cond))                                                            \
            tu_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                    \
    } while (0)

#define CHECK_MSG(cond, ...)                                                    \
    do {                                                                        \
        if (!(cond))                                                            \
            tu_fail(__FILE__, __LINE__, __VA_ARGS__);                           \
    } while (0)

#define CHECK_EQ_U64(a, b)                                                      \
    do {                                                                        \
        uint64_t tu_a_ = (uint64_t)(a), tu_b_ = (uint64_t)(b);                  \
        if (tu_a_ != tu_b_)                                                     \
            tu_fail(__FILE__, __LINE__, "%s == %s: %" PRIu64 " != %" PRIu64,    \
                    #a, #b, tu_a_, tu_b_);                                      \
    } while (0)

/* Checks that a raftwal call returned `want` (0 or a RAFTWAL_E* code). */
#define CHECK_RC(call, want)                                                    \
    do {                                                                        \
        int tu_rc_ = (call);                                                    \
        int tu_want_ = (want);                                                  \
        if (tu_rc_ != tu_want_)                                                 \
            tu_fail(__FILE__, __LINE__, "%s returned %d (%s), expected %d (%s)", \
                    #call, tu_rc_, raftwal_strerror(tu_rc_), tu_want_,          \
                    raftwal_strerror(tu_want_));                                \
    } while (0)

#define CHECK_OK(call) CHECK_RC(call, RAFTWAL_OK)

/* ---------------------------------------------------------------------- */
/* Temporary directories                                                  */
/* ---------------------------------------------------------------------- */

#define TU_MAX_TMPDIRS 64

static char tu_tmpdirs[TU_MAX_TMPDIRS][512];
static int tu_ntmpdirs;
static pid_t tu_owner_pid;

/* rm -rf path (no symlinks are followed: lstat). */
static TU_UNUSED void tu_rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *de;
        if (d) {
            while ((de = readdir(d)) != NULL) {
                char sub[1024];
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                    continue;
                snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
                tu_rm_rf(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void tu_cleanup_tmpdirs(void)
{
    const char *keep = getenv("RAFTWAL_TEST_KEEP");
    int i;
    /* A forked child that exit()s must not delete its parent's files. */
    if (getpid() != tu_owner_pid)
        return;
    for (i = 0; i < tu_ntmpdirs; i++) {
        if (keep && *keep)
            fprintf(stderr, "kept %s\n", tu_tmpdirs[i]);
        else
            tu_rm_rf(tu_tmpdirs[i]);
    }
    tu_ntmpdirs = 0;
}

/* Makes a new empty directory and returns its path (static storage, valid
 * until exit). It and everything in it are removed when the test exits. */
static TU_UNUSED const char *tu_tmpdir(void)
{
    const char *base = getenv("RAFTWAL_TEST_TMPDIR");
    char *p;
    if (!base || !*base)
        base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    CHECK(tu_ntmpdirs < TU_MAX_TMPDIRS);
    if (tu_ntmpdirs == 0 && tu_owner_pid == 0) {
        tu_owner_pid = getpid();
        atexit(tu_cleanup_tmpdirs);
    }
    p = tu_tmpdirs[tu_ntmpdirs];
    snprintf(p, sizeof tu_tmpdirs[0], "%s/raftwal-ctest-XXXXXX", base);
    CHECK_MSG(mkdtemp(p) != NULL, "mkdtemp(%s): %s", p, strerror(errno));
    tu_ntmpdirs++;
    return p;
}

/* path = dir "/" name, into a caller buffer of 1024 bytes. */
static TU_UNUSED char *tu_path(char *out, const char *dir, const char *name)
{
    snprintf(out, 1024, "%s/%s", dir, name);
    return out;
}

/* The path of segment file `seq` ("%016llx.wal") in dir, as tu_path. */
static TU_UNUSED char *tu_segment_path(char *out, const char *dir, uint64_t seq)
{
    snprintf(out, 1024, "%s/%016" PRIx64 ".wal", dir, seq);
    return out;
}

/* 1 if segment file `seq` exists in dir. */
static TU_UNUSED int tu_segment_exists(const char *dir, uint64_t seq)
{
    char path[1024];
    struct stat st;
    return stat(tu_segment_path(path, dir, seq), &st) == 0;
}

/* Bytes the file system allocated (or reserved) to segment file `seq`. */
static TU_UNUSED uint64_t tu_segment_allocated(const char *dir, uint64_t seq)
{
    char path[1024];
    struct stat st;
    if (stat(tu_segment_path(path, dir, seq), &st) != 0)
        tu_fail(__FILE__, __LINE__, "stat %s: %s", path, strerror(errno));
    return (uint64_t)st.st_blocks * 512;
}

/* The length of segment file `seq` (st_size). */
static TU_UNUSED uint64_t tu_segment_length(const char *dir, uint64_t seq)
{
    char path[1024];
    struct stat st;
    if (stat(tu_segment_path(path, dir, seq), &st) != 0)
        tu_fail(__FILE__, __LINE__, "stat %s: %s", path, strerror(errno));
    return (uint64_t)st.st_size;
}

/* ---------------------------------------------------------------------- */
/* Deterministic payloads                                                 */
/* ---------------------------------------------------------------------- */

/* The size of the payload of (index, term) for a given maximum: mostly
 * small, sometimes 0, sometimes up to max_size. */
static TU_UNUSED size_t tu_payload_size(uint64_t index, uint64_t term,
                                        size_t max_size)
{
    uint64_t h = tu_mix(index * 31 + term * 1000003u + 7);
    if (max_size == 0)
        return 0;
    switch (h % 8) {
    case 0:
        return 0;
    case 1:
    case 2:
        return (size_t)(h >> 8) % (max_size + 1);
    default:
        return (size_t)(h >> 8) % (max_size < 64 ? max_size + 1 : 65);
    }
}

/* Fills buf with the payload bytes of (index, term). The bytes depend on
 * both, so an entry replaced by an overwrite, or a half-written one, never
 * matches. */
static TU_UNUSED void tu_payload_fill(void *buf, size_t size, uint64_t index,
                                      uint64_t term)
{
    unsigned char *p = (unsigned char *)buf;
    uint64_t x = tu_mix(index ^ (term << 40) ^ 0xabcdefull);
    size_t i;
    for (i = 0; i < size; i++) {
        if (i % 8 == 0)
            x = tu_mix(x + i);
        p[i] = (unsigned char)(x >> (8 * (i % 8)));
    }
}

/* Returns 1 if data[0..size) is exactly the payload of (index, term) for
 * max_size. */
static TU_UNUSED int tu_payload_ok(const void *data, size_t size,
                                   uint64_t index, uint64_t term,
                                   size_t max_size)
{
    unsigned char tmp[512];
    unsigned char *want = tmp;
    int ok;
    if (size != tu_payload_size(index, term, max_size))
        return 0;
    if (size == 0)
        return 1;
    if (size > sizeof tmp)
        want = (unsigned char *)malloc(size);
    if (!want)
        return 0;
    tu_payload_fill(want, size, index, term);
    ok = data != NULL && memcmp(want, data, size) == 0;
    if (want != tmp)
        free(want);
    return ok;
}

/* ---------------------------------------------------------------------- */
/* CRC32C, bitwise: an independent reference for docs/format.md           */
/* ---------------------------------------------------------------------- */

/* Continues a CRC32C; start with crc = 0. Same convention as
 * rw_crc32c(): tu_crc32c(0, "123456789", 9) == 0xE3069283. */
static TU_UNUSED uint32_t tu_crc32c(uint32_t crc, const void *buf, size_t len)
{
    const unsigned char *p = (const unsigned char *)buf;
    size_t i;
    int k;
    crc = ~crc;
    for (i = 0; i < len; i++) {
        crc ^= p[i];
        for (k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* ---------------------------------------------------------------------- */
/* Little-endian access and whole files                                   */
/* ---------------------------------------------------------------------- */

static TU_UNUSED uint32_t tu_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static TU_UNUSED uint64_t tu_le64(const unsigned char *p)
{
    return (uint64_t)tu_le32(p) | (uint64_t)tu_le32(p + 4) << 32;
}

static TU_UNUSED void tu_put_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static TU_UNUSED void tu_put_le64(unsigned char *p, uint64_t v)
{
    tu_put_le32(p, (uint32_t)v);
    tu_put_le32(p + 4, (uint32_t)(v >> 32));
}

/* Reads a whole file into a malloc'd buffer; *size gets its length. */
static TU_UNUSED unsigned char *tu_read_file(const char *path, size_t *size)
{
    struct stat st;
    unsigned char *buf;
    size_t done = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    CHECK_MSG(fd >= 0, "open(%s): %s", path, strerror(errno));
    CHECK(fstat(fd, &st) == 0);
    buf = (unsigned char *)malloc((size_t)st.st_size + 1);
    CHECK(buf != NULL);
    while (done < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);
        CHECK_MSG(n > 0, "read(%s): %s", path, strerror(errno));
        done += (size_t)n;
    }
    close(fd);
    *size = done;
    return buf;
}

/* Replaces a file's content (creating it if needed). */
static TU_UNUSED void tu_write_file(const char *path, const void *data,
                                    size_t size)
{
    const unsigned char *p = (const unsigned char *)data;
    size_t done = 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    CHECK_MSG(fd >= 0, "open(%s): %s", path, strerror(errno));
    while (done < size) {
        ssize_t n = write(fd, p + done, size - done);
        CHECK_MSG(n > 0, "write(%s): %s", path, strerror(errno));
        done += (size_t)n;
    }
    close(fd);
}

/* Overwrites `size` bytes at `offset` of an existing file. */
static TU_UNUSED void tu_patch_file(const char *path, uint64_t offset,
                                    const void *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    CHECK_MSG(fd >= 0, "open(%s): %s", path, strerror(errno));
    CHECK_MSG(pwrite(fd, data, size, (off_t)offset) == (ssize_t)size,
              "pwrite(%s): %s", path, strerror(errno));
    close(fd);
}

/* Flips one bit of a file. */
static TU_UNUSED void tu_flip_bit(const char *path, uint64_t offset, int bit)
{
    unsigned char c;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    CHECK_MSG(fd >= 0, "open(%s): %s", path, strerror(errno));
    CHECK(pread(fd, &c, 1, (off_t)offset) == 1);
    c ^= (unsigned char)(1u << bit);
    CHECK(pwrite(fd, &c, 1, (off_t)offset) == 1);
    close(fd);
}

/* Copies every regular file of src into dst (which must exist). */
static TU_UNUSED void tu_copy_dir(const char *src, const char *dst)
{
    DIR *d = opendir(src);
    struct dirent *de;
    CHECK_MSG(d != NULL, "opendir(%s): %s", src, strerror(errno));
    while ((de = readdir(d)) != NULL) {
        char from[1024], to[1024];
        struct stat st;
        unsigned char *buf;
        size_t size;
        tu_path(from, src, de->d_name);
        if (lstat(from, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        buf = tu_read_file(from, &size);
        tu_write_file(tu_path(to, dst, de->d_name), buf, size);
        free(buf);
    }
    closedir(d);
}

/* Empties a directory (keeps the directory itself). */
static TU_UNUSED void tu_clear_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    CHECK(d != NULL);
    while ((de = readdir(d)) != NULL) {
        char sub[1024];
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        tu_rm_rf(tu_path(sub, dir, de->d_name));
    }
    closedir(d);
}

/* Monotonic time in nanoseconds. */
static TU_UNUSED uint64_t tu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---------------------------------------------------------------------- */
/* A tiny runner: TU_RUN(fn) prints the test's name and runs it           */
/* ---------------------------------------------------------------------- */

/* Runs fn if argv selects it (no argument: all), printing its name. */
#define TU_RUN(argc, argv, fn)                                                  \
    do {                                                                        \
        if ((argc) < 2 || strcmp((argv)[1], #fn) == 0) {                        \
            uint64_t tu_t0_ = tu_now_ns();                                      \
            printf("-- %s\n", #fn);                                             \
            fflush(stdout);                                                     \
            fn();                                                               \
            printf("   ok %s (%.0f ms)\n", #fn,                                 \
                   (double)(tu_now_ns() - tu_t0_) / 1e6);                       \
            fflush(stdout);                                                     \
        }                                                                       \
    } while (0)

#endif /* RAFTWAL_TEST_UTIL_H */
