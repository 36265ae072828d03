/*
 * wal_reader.c -- see wal_reader.h. Every rule here is quoted from
 * docs/format.md; where the engine disagrees, one of the two is wrong.
 */
#include "wal_reader.h"
#include "test_util.h"

static const unsigned char wal_magic[8] = {'R', 'A', 'F', 'T', 'W', 'A', 'L', 0};

int wal_parse_header(const unsigned char *buf, size_t size, wal_header *h)
{
    memset(h, 0, sizeof *h);
    if (size < WAL_HEADER_SIZE)
        return 0;
    h->magic_ok = memcmp(buf, wal_magic, 8) == 0;
    h->version = tu_le32(buf + 8);
    h->header_size = tu_le32(buf + 12);
    h->log_id = tu_le64(buf + 16);
    h->seq = tu_le64(buf + 24);
    h->salt = tu_le64(buf + 32);
    h->first_index = tu_le64(buf + 40);
    h->prealloc = tu_le64(buf + 48);
    h->flags = tu_le32(buf + 56);
    h->crc_ok = tu_crc32c(0, buf, 60) == tu_le32(buf + 60);
    return h->magic_ok && h->crc_ok && h->version == 1 &&
           h->header_size == WAL_HEADER_SIZE && (h->flags & ~3u) == 0; /* recycled, lazy */
}

void wal_reseal_header(unsigned char *buf)
{
    tu_put_le32(buf + 60, tu_crc32c(0, buf, 60));
}

static int all_zero(const unsigned char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* Decodes and validates the record at off under `salt`; 1 if valid. */
static int decode_record(const wal_file *f, uint64_t off, uint64_t salt,
                         wal_record *r)
{
    const unsigned char *p = f->buf + off;
    unsigned char salt_le[8];
    uint32_t crc;
    if (off + WAL_RECORD_HEADER > f->size)
        return 0;
    r->off = off;
    r->type = p[4];
    r->len = tu_le32(p + 8);
    r->aux = tu_le32(p + 12);
    r->a = tu_le64(p + 16);
    r->b = tu_le64(p + 24);
    r->payload = p + WAL_RECORD_HEADER;
    if (r->type < WAL_ENTRY || r->type > WAL_SEAL || p[5] || p[6] || p[7])
        return 0;
    if ((uint64_t)r->len > f->size - off - WAL_RECORD_HEADER)
        return 0;
    r->end = off + WAL_RECORD_HEADER + (((uint64_t)r->len + 7) & ~(uint64_t)7);
    tu_put_le64(salt_le, salt);
    crc = tu_crc32c(0, salt_le, 8);
    crc = tu_crc32c(crc, p + 4, WAL_RECORD_HEADER - 4);
    crc = tu_crc32c(crc, r->payload, r->len);
    return crc == tu_le32(p);
}

uint64_t wal_scan(const wal_file *f, int (*cb)(const wal_record *, void *),
                  void *arg, int *clean)
{
    uint64_t off = WAL_HEADER_SIZE, salt = f->h.salt;
    wal_record r;
    *clean = 0;
    while (off + WAL_RECORD_HEADER <= f->size) {
        const unsigned char *p = f->buf + off;
        int ok;
        if (all_zero(p, WAL_RECORD_HEADER)) {
            *clean = 1;
            return off;
        }
        /* FOOTER and SEAL always use the header salt. */
        ok = decode_record(f, off, salt, &r);
        if (!ok && (p[4] == WAL_FOOTER || p[4] == WAL_SEAL))
            ok = decode_record(f, off, f->h.salt, &r);
        if (!ok) {
            /* A recycled segment: what follows the records is stale data of
             * the purged segment it was, not a torn write. */
            *clean = (f->h.flags & 1u) != 0;
            return off;
        }
        if (cb && cb(&r, arg))
            return off;
        if (r.type == WAL_EPOCH)
            salt = r.b;
        off = r.end;
        if (r.type == WAL_FOOTER) {
            *clean = 1;
            return off;
        }
    }
    *clean = 1;
    return off;
}

int wal_read_seal(const wal_file *f, wal_record *seal)
{
    if (f->size < WAL_HEADER_SIZE + 64)
        return 0;
    return decode_record(f, f->size - 64, f->h.salt, seal) &&
           seal->type == WAL_SEAL && seal->len == 24;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(((const wal_file *)a)->name, ((const wal_file *)b)->name);
}

size_t wal_load_dir(const char *dir, wal_file *files, size_t max)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0, i;
    CHECK_MSG(d != NULL, "opendir(%s): %s", dir, strerror(errno));
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len != 20 || strcmp(de->d_name + 16, ".wal") != 0)
            continue;
        CHECK(n < max);
        memset(&files[n], 0, sizeof files[n]);
        snprintf(files[n].name, sizeof files[n].name, "%.63s", de->d_name);
        n++;
    }
    closedir(d);
    qsort(files, n, sizeof *files, cmp_names);
    for (i = 0; i < n; i++) {
        tu_path(files[i].path, dir, files[i].name);
        files[i].buf = tu_read_file(files[i].path, &files[i].size);
        wal_parse_header(files[i].buf, files[i].size, &files[i].h);
    }
    return n;
}

void wal_free_files(wal_file *files, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        free(files[i].buf);
        files[i].buf = NULL;
    }
}

size_t wal_tail(const wal_file *files, size_t n)
{
    size_t i = n;
    while (i > 0) {
        i--;
        if (files[i].h.first_index != 0)
            return i;
    }
    tu_fail(__FILE__, __LINE__, "no used segment among %zu files", n);
    return 0;
}

struct find_arg {
    uint64_t index;
    int found;
    wal_record rec;
};

static int find_cb(const wal_record *r, void *arg)
{
    struct find_arg *fa = (struct find_arg *)arg;
    if (r->type == WAL_ENTRY && r->a == fa->index) {
        fa->found = 1;
        fa->rec = *r;
    }
    return 0;
}

int wal_find_entry(const wal_file *files, size_t n, uint64_t index,
                   wal_record *rec)
{
    int where = -1, clean;
    size_t i;
    for (i = 0; i < n; i++) {
        struct find_arg fa;
        fa.index = index;
        fa.found = 0;
        wal_scan(&files[i], find_cb, &fa, &clean);
        if (fa.found) {
            where = (int)i;
            *rec = fa.rec;
        }
    }
    return where;
}

struct batch_arg {
    int found;
    uint64_t start, end;
};

static int batch_cb(const wal_record *r, void *arg)
{
    struct batch_arg *ba = (struct batch_arg *)arg;
    if (r->type == WAL_COMMIT) {
        ba->found = 1;
        ba->start = r->b;
        ba->end = r->end;
    }
    return 0;
}

int wal_last_batch(const wal_file *f, uint64_t *start, uint64_t *end)
{
    struct batch_arg ba;
    int clean;
    memset(&ba, 0, sizeof ba);
    wal_scan(f, batch_cb, &ba, &clean);
    *start = ba.start;
    *end = ba.end;
    return ba.found;
}
