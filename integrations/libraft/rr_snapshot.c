/* rr_snapshot.c -- snapshot files and the configuration decoder. */
#include "rr_snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char rr_magic[8] = {'R', 'W', 'R', 'S', 'N', 'A', 'P', '1'};

/* ---- checksum ------------------------------------------------------- */

static uint32_t crc_table[256];
static int crc_ready;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[i] = c;
    }
    __atomic_store_n(&crc_ready, 1, __ATOMIC_RELEASE);
}

uint32_t rr_crc32c(uint32_t crc, const void *buf, size_t len)
{
    /* The table is a pure function of nothing: two threads computing it at
     * once write the same values. */
    if (!__atomic_load_n(&crc_ready, __ATOMIC_ACQUIRE))
        crc_init();
    const uint8_t *p = buf;
    crc = ~crc;
    while (len--)
        crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* ---- little-endian helpers ------------------------------------------ */

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- configuration -------------------------------------------------- */

int rr_configuration_decode(const void *buf, size_t len, struct raft_configuration *c)
{
    const uint8_t *p = buf, *end = p + len;
    if (len < 9 || p[0] != 1)
        return RAFT_MALFORMED;
    uint64_t n = get64(p + 1);
    p += 9;
    /* Each server takes at least 10 bytes: a bound before any allocation. */
    if (n == 0 || n > len / 10)
        return RAFT_MALFORMED;
    for (uint64_t i = 0; i < n; i++) {
        if (end - p < 8)
            goto malformed;
        uint64_t id = get64(p);
        p += 8;
        const uint8_t *nul = memchr(p, 0, (size_t)(end - p));
        if (nul == NULL || end - nul < 2)
            goto malformed;
        const char *address = (const char *)p;
        int role = nul[1];
        p = nul + 2;
        int rv = raft_configuration_add(c, id, address, role);
        if (rv == RAFT_NOMEM) {
            raft_configuration_close(c);
            raft_configuration_init(c);
            return RAFT_NOMEM;
        }
        if (rv != 0)
            goto malformed;
    }
    /* Only padding to a multiple of 8 may follow (libraft leaves its bytes
     * uninitialized, so they are not checked). */
    if (end - p >= 8)
        goto malformed;
    return 0;
malformed:
    raft_configuration_close(c);
    raft_configuration_init(c);
    return RAFT_MALFORMED;
}

/* ---- files ------------------------------------------------------------ */

void rr_snapshot_name(char *buf, size_t cap, uint64_t term, uint64_t index)
{
    snprintf(buf, cap, "snapshot-%016llx-%016llx", (unsigned long long)term,
             (unsigned long long)index);
}

static int write_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int io_error(char *errmsg, const char *what, const char *name, int err)
{
    snprintf(errmsg, RAFT_ERRMSG_BUF_SIZE, "snapshot %s %s: %s", what, name, strerror(err));
    return err == ENOSPC ? RAFT_NOSPACE : RAFT_IOERR;
}

int rr_snapshot_write(int dirfd, const char *name, const struct raft_snapshot *s,
                      const struct raft_buffer *conf, char *errmsg)
{
    uint64_t data_len = 0;
    for (unsigned i = 0; i < s->n_bufs; i++)
        data_len += s->bufs[i].len;

    uint8_t h[RR_SNAP_HEADER];
    memcpy(h, rr_magic, 8);
    put64(h + 8, s->index);
    put64(h + 16, s->term);
    put64(h + 24, s->configuration_index);
    put64(h + 32, conf->len);
    put64(h + 40, data_len);
    uint32_t crc = rr_crc32c(0, h, 48);
    crc = rr_crc32c(crc, conf->base, conf->len);
    for (unsigned i = 0; i < s->n_bufs; i++)
        crc = rr_crc32c(crc, s->bufs[i].base, s->bufs[i].len);
    put32(h + 48, crc);
    put32(h + 52, 0);

    char tmp[96];
    snprintf(tmp, sizeof tmp, "%s.tmp", name);
    int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return io_error(errmsg, "create", tmp, errno);
    int rc = write_all(fd, h, sizeof h);
    if (rc == 0)
        rc = write_all(fd, conf->base, conf->len);
    for (unsigned i = 0; rc == 0 && i < s->n_bufs; i++)
        rc = write_all(fd, s->bufs[i].base, s->bufs[i].len);
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    close(fd);
    if (rc != 0) {
        unlinkat(dirfd, tmp, 0);
        return io_error(errmsg, "write", tmp, -rc);
    }
    if (renameat(dirfd, tmp, dirfd, name) != 0) {
        int err = errno;
        unlinkat(dirfd, tmp, 0);
        return io_error(errmsg, "rename", name, err);
    }
    if (fsync(dirfd) != 0)
        return io_error(errmsg, "fsync directory for", name, errno);
    return 0;
}

static int corrupt(char *errmsg, const char *name, const char *why)
{
    snprintf(errmsg, RAFT_ERRMSG_BUF_SIZE, "snapshot %s: %s", name, why);
    return RAFT_CORRUPT;
}

static int read_all(int fd, void *buf, size_t n, off_t off)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t r = pread(fd, p, n, off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            return -ENODATA;
        p += r;
        n -= (size_t)r;
        off += r;
    }
    return 0;
}

void rr_snapshot_free(struct raft_snapshot *s)
{
    if (s == NULL)
        return;
    raft_configuration_close(&s->configuration);
    for (unsigned i = 0; i < s->n_bufs; i++)
        raft_free(s->bufs[i].base);
    raft_free(s->bufs);
    raft_free(s);
}

int rr_snapshot_read(int dirfd, const char *name, uint64_t index, uint64_t term,
                     struct raft_snapshot **out, char *errmsg)
{
    *out = NULL;
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return io_error(errmsg, "open", name, errno);
    struct stat st;
    uint8_t h[RR_SNAP_HEADER];
    uint8_t *conf = NULL;
    struct raft_snapshot *s = NULL;
    int rv;
    if (fstat(fd, &st) != 0) {
        rv = io_error(errmsg, "stat", name, errno);
        goto out;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size < RR_SNAP_HEADER) {
        rv = corrupt(errmsg, name, "shorter than its header");
        goto out;
    }
    if ((rv = read_all(fd, h, sizeof h, 0)) != 0) {
        rv = io_error(errmsg, "read", name, -rv);
        goto out;
    }
    uint64_t conf_len = get64(h + 32), data_len = get64(h + 40);
    if (memcmp(h, rr_magic, 8) != 0) {
        rv = corrupt(errmsg, name, "bad magic");
        goto out;
    }
    /* Lengths are bounded by the file before anything is allocated. */
    if (conf_len > size - RR_SNAP_HEADER || data_len != size - RR_SNAP_HEADER - conf_len) {
        rv = corrupt(errmsg, name, "lengths do not match the file size");
        goto out;
    }
    if (get64(h + 8) != index || get64(h + 16) != term) {
        rv = corrupt(errmsg, name, "index or term differ from the log's snapshot record");
        goto out;
    }
    s = raft_calloc(1, sizeof *s);
    conf = raft_malloc(conf_len ? conf_len : 1);
    if (s == NULL || conf == NULL || (s->bufs = raft_malloc(sizeof *s->bufs)) == NULL ||
        (s->bufs[0].base = raft_malloc(data_len ? data_len : 1)) == NULL) {
        if (s && s->bufs)
            raft_free(s->bufs);
        raft_free(s);
        s = NULL;
        rv = RAFT_NOMEM;
        goto out;
    }
    s->n_bufs = 1;
    s->bufs[0].len = data_len;
    raft_configuration_init(&s->configuration);
    if ((rv = read_all(fd, conf, conf_len, RR_SNAP_HEADER)) != 0 ||
        (rv = read_all(fd, s->bufs[0].base, data_len, (off_t)(RR_SNAP_HEADER + conf_len))) != 0) {
        rv = io_error(errmsg, "read", name, -rv);
        goto out;
    }
    uint32_t crc = rr_crc32c(0, h, 48);
    crc = rr_crc32c(crc, conf, conf_len);
    crc = rr_crc32c(crc, s->bufs[0].base, data_len);
    if (crc != get32(h + 48)) {
        rv = corrupt(errmsg, name, "checksum mismatch");
        goto out;
    }
    rv = rr_configuration_decode(conf, conf_len, &s->configuration);
    if (rv != 0) {
        if (rv == RAFT_MALFORMED)
            rv = corrupt(errmsg, name, "malformed configuration");
        goto out;
    }
    s->index = index;
    s->term = term;
    s->configuration_index = get64(h + 24);
    *out = s;
    s = NULL;
out:
    raft_free(conf);
    rr_snapshot_free(s);
    close(fd);
    return rv;
}
