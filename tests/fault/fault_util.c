/* fault_util.c -- see fault_util.h. */
#include "fault_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void fu_fail(const char *file, int line, const char *expr, const char *fmt, ...)
{
    fprintf(stderr, "%s:%d: FAILED: %s\n  ", file, line, expr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    exit(1);
}

static char *tmpdirs[64];
static int ntmpdirs;

static void cleanup(void)
{
    const char *keep = getenv("RAFTWAL_TEST_KEEP");
    for (int i = 0; i < ntmpdirs; i++) {
        if (keep && *keep == '1')
            fprintf(stderr, "kept %s\n", tmpdirs[i]);
        else
            fu_rm_rf(tmpdirs[i]);
        free(tmpdirs[i]);
    }
    ntmpdirs = 0;
}

const char *fu_tmpdir(const char *tag)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : NULL;
    if (!base)
        base = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/raftwal-%s-XXXXXX", base, tag);
    if (!mkdtemp(tmpl))
        fu_fail(__FILE__, __LINE__, "mkdtemp", "%s: %s", tmpl, strerror(errno));
    if (ntmpdirs == 0)
        atexit(cleanup);
    if (ntmpdirs < 64)
        tmpdirs[ntmpdirs++] = strdup(tmpl);
    return tmpdirs[ntmpdirs - 1];
}

static void rm_inside(int dfd)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) == 0)
            continue;
        int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (sub >= 0) {
            rm_inside(sub);
            unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
        }
    }
    closedir(d);
}

void fu_empty_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0)
        rm_inside(fd);
}

void fu_rm_rf(const char *path)
{
    fu_empty_dir(path);
    rmdir(path);
}

uint64_t fu_env_u64(const char *name, uint64_t def)
{
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 0) : def;
}

double fu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

uint8_t *fu_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    FU_CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
    struct stat st;
    FU_CHECK(fstat(fd, &st) == 0, "fstat %s", path);
    uint8_t *p = malloc((size_t)st.st_size + 1);
    FU_CHECK(p != NULL, "out of memory");
    size_t done = 0;
    while (done < (size_t)st.st_size) {
        ssize_t r = pread(fd, p + done, (size_t)st.st_size - done, (off_t)done);
        FU_CHECK(r > 0, "read %s", path);
        done += (size_t)r;
    }
    close(fd);
    *len = done;
    return p;
}

void fu_write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    FU_CHECK(fd >= 0, "create %s: %s", path, strerror(errno));
    FU_CHECK(len == 0 || pwrite(fd, data, len, 0) == (ssize_t)len, "write %s", path);
    close(fd);
}

static int is_segment(const char *name)
{
    size_t n = strlen(name);
    return n == 20 && strcmp(name + 16, ".wal") == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t list_segments(const char *dir, char ***out)
{
    DIR *d = opendir(dir);
    FU_CHECK(d != NULL, "opendir %s", dir);
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_segment(e->d_name))
            continue;
        names = realloc(names, (n + 1) * sizeof *names);
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    *out = names;
    return n;
}

int fu_segment_path(const char *dir, size_t i, char *out, size_t cap)
{
    char **names;
    size_t n = list_segments(dir, &names);
    int rc = -1;
    if (i < n) {
        snprintf(out, cap, "%s/%s", dir, names[i]);
        rc = 0;
    }
    for (size_t k = 0; k < n; k++)
        free(names[k]);
    free(names);
    return rc;
}

size_t fu_count_segments(const char *dir)
{
    char **names;
    size_t n = list_segments(dir, &names);
    for (size_t k = 0; k < n; k++)
        free(names[k]);
    free(names);
    return n;
}
