/* util.c -- clocks, statistics, progress output and file helpers. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

int bench_failures;

double bench_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

uint64_t bench_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

void bench_sleep_ms(unsigned ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR)
        ;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void bench_sort(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
}

double bench_percentile(double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    /* Nearest rank: the smallest value with at least p of the samples at
     * or below it. With few samples p999 is simply the maximum. */
    size_t rank = (size_t)(p * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

double bench_median(double *v, int n)
{
    if (n <= 0)
        return 0;
    bench_sort(v, (size_t)n);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

uint64_t bench_rng(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ---- progress -------------------------------------------------------------- */

static int progress_open;

void bench_progress(const char *fmt, ...)
{
    char line[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (isatty(STDERR_FILENO)) {
        fprintf(stderr, "\r\033[K%s", line);
        progress_open = 1;
    } else {
        fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
}

void bench_progress_done(void)
{
    if (progress_open)
        fprintf(stderr, "\r\033[K");
    progress_open = 0;
}

void bench_note(const char *fmt, ...)
{
    bench_progress_done();
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "note: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

/* ---- files ----------------------------------------------------------------- */

static void rmtree(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        struct stat st;
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            rmtree(sub);
        else
            unlink(sub);
    }
    closedir(d);
    rmdir(path);
}

/* Removes path and everything under it, then commits the removal to the
 * disk (syncfs), outside any clock. Otherwise the file system's journal
 * would carry the deletion (and, on a file system mounted with `discard`,
 * the discards of every freed block) into the next contender's first
 * fdatasync that commits metadata: one raw never makes (its file is
 * pre-zeroed) but a log that creates, renames or grows files does. A
 * precaution: it did not change the spread of the 16 KiB x 256 growing-log
 * runs, which comes from elsewhere (bench/README.md, 3). */
void bench_rmtree(const char *path)
{
    rmtree(path);
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", path);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent)
        *slash = 0;
    else
        snprintf(parent, sizeof parent, "%s", slash ? "/" : ".");
    int fd = open(parent, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        syncfs(fd);
        close(fd);
    }
}

int bench_fresh_dir(const char *dir, const char *name, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/%s", dir, name);
    bench_rmtree(out);
    if (mkdir(out, 0755) != 0) {
        fprintf(stderr, "raftwal-bench: mkdir %s: %s\n", out, strerror(errno));
        return -1;
    }
    return 0;
}

int bench_drop_cache(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return -1;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        struct stat st;
        if (lstat(sub, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            rc |= bench_drop_cache(sub);
            continue;
        }
        int fd = open(sub, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        /* DONTNEED skips dirty pages: write them back first. */
        fdatasync(fd);
        if (posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0)
            rc = -1;
        close(fd);
    }
    closedir(d);
    return rc;
}

int bench_prezeroed(const char *path, uint64_t size)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    static uint8_t zeros[1 << 20];
    uint64_t done = 0;
    while (done < size) {
        size_t n = size - done < sizeof zeros ? (size_t)(size - done) : sizeof zeros;
        ssize_t w = pwrite(fd, zeros, n, (off_t)done);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        done += (uint64_t)w;
    }
    if (fsync(fd) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

uint64_t bench_dev_write_bytes(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return 0;
    char sys[128];
    snprintf(sys, sizeof sys, "/sys/dev/block/%u:%u/stat", major(st.st_dev), minor(st.st_dev));
    FILE *f = fopen(sys, "r");
    if (!f)
        return 0;
    unsigned long long v[7] = {0};
    int n = fscanf(f, "%llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6]);
    fclose(f);
    return n == 7 ? v[6] * 512 : 0; /* field 7: sectors written */
}
