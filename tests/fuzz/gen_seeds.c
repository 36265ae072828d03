/* gen_seeds.c -- writes seed corpora for the fuzz targets, made by the
 * engine itself: real logs (rotations, truncation, purge, snapshot,
 * metadata, reopen epochs, a torn tail, an empty log, no-sync rotations
 * with lazy headers) cut into the inputs
 * each target expects (see each fuzz_*.c for its input layout).
 *   gen_seeds <out-dir>   creates <out-dir>/<target>/seed-*  */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format.h"
#include "fuzz_keys.h"
#include "keys.h"
#include "log.h" /* rw_prepare_in_background */
#include "raftwal.h"

static const char *out;
static unsigned nseeds;

static void die(const char *what)
{
    fprintf(stderr, "gen_seeds: %s: %s (%s)\n", what, raftwal_errmsg(), strerror(errno));
    exit(1);
}

static void emit(const char *target, const void *a, size_t na, const void *b, size_t nb)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", out, target);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/seed-%03u", out, target, nseeds++);
    FILE *f = fopen(path, "wb");
    if (!f)
        die(path);
    if (na)
        fwrite(a, 1, na, f);
    if (nb)
        fwrite(b, 1, nb, f);
    fclose(f);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die(path);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(*len ? *len : 1);
    if (*len && fread(p, 1, *len, f) != *len)
        die(path);
    fclose(f);
    return p;
}

static void append(raftwal_log *log, uint64_t index, uint64_t term, size_t size, unsigned flags)
{
    uint8_t buf[2000];
    memset(buf, (int)(index & 0xff), sizeof buf);
    raftwal_entry e = {index, term, (uint32_t)(index % 3), 0, buf, size};
    if (raftwal_log_append(log, &e, 1, NULL, flags) != 0)
        die("append");
}

static raftwal_log *open_log(const char *dir)
{
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    o.segment_size = RAFTWAL_MIN_SEGMENT_SIZE;
    o.metadata = "seed-meta";
    o.metadata_size = 9;
    raftwal_log *log;
    if (raftwal_log_open(&log, dir, &o) != 0)
        die("open");
    return log;
}

/* Log 1: several segments with every record type and an epoch. */
static void make_busy_log(const char *dir)
{
    raftwal_log *log = open_log(dir);
    uint64_t i = 1;
    for (; i <= 30; i++)
        append(log, i, 1, 900, 0);
    raftwal_hardstate hs = {2, 1, 20};
    if (raftwal_log_set_hardstate(log, &hs, 0) || raftwal_log_truncate(log, 26))
        die("hardstate/truncate");
    for (i = 26; i <= 40; i++)
        append(log, i, 2, 300, i % 2 ? RAFTWAL_NOSYNC : 0);
    if (raftwal_log_save_snapshot(log, 15, 1, "confstate", 9) || raftwal_log_purge(log, 12) ||
        raftwal_log_set_metadata(log, "new-meta", 8))
        die("snapshot/purge/metadata");
    raftwal_log_close(log);
    log = open_log(dir); /* the next write starts an epoch */
    for (i = 41; i <= 45; i++)
        append(log, i, 3, 100, 0);
    raftwal_log_close(log);
}

/* Log 2: one segment and a torn tail (a batch without its COMMIT). */
static void make_torn_log(const char *dir)
{
    raftwal_log *log = open_log(dir);
    for (uint64_t i = 1; i <= 4; i++)
        append(log, i, 1, 50, 0);
    raftwal_log_close(log);
    char path[4096];
    snprintf(path, sizeof path, "%s/0000000000000001.wal", dir);
    size_t len;
    uint8_t *p = slurp(path, &len);
    /* Find the end of the records and write half a record there. */
    uint64_t salt = rw_get64(p + 32), off = RW_HEADER_SIZE;
    rw_rec r;
    while (off < len && rw_rec_decode(p + off, len - off, salt, &r, NULL) == RW_REC_OK) {
        if (r.type == RW_REC_EPOCH)
            salt = r.b;
        off += r.size;
    }
    memset(p + off, 0xA5, 40);
    FILE *f = fopen(path, "wb");
    fwrite(p, 1, len, f);
    fclose(f);
    free(p);
}

static void seeds_from(const char *dir);

/* Log 4: no-sync appends through rotations, cut into seeds before the
 * close syncs: segments whose headers have the lazy flag, their
 * predecessors sealed but pending (what a process crash leaves). */
static void make_lazy_log(const char *dir)
{
    raftwal_log *log = open_log(dir);
    uint64_t i = 1;
    append(log, i++, 1, 500, 0);
    for (; i <= 70; i++) /* three segments: the newest three are all of them */
        append(log, i, 1, 500, RAFTWAL_NOSYNC);
    seeds_from(dir);
    raftwal_log_close(log);
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t segments(const char *dir, char names[][64], size_t max)
{
    DIR *d = opendir(dir);
    char *list[64];
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL && n < 64)
        if (strlen(e->d_name) == 20 && strcmp(e->d_name + 16, ".wal") == 0)
            list[n++] = strdup(e->d_name);
    if (d)
        closedir(d);
    qsort(list, n, sizeof *list, cmp);
    for (size_t i = 0; i < n; i++) {
        if (i < max)
            snprintf(names[i], 64, "%s", list[i]);
        free(list[i]);
    }
    return n < max ? n : max;
}

/* Cuts one log into seeds for every target. */
static void seeds_from(const char *dir)
{
    char names[16][64];
    size_t n = segments(dir, names, 16);
    uint8_t *files[16];
    size_t lens[16];
    for (size_t i = 0; i < n; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        files[i] = slurp(path, &lens[i]);
    }
    static const uint8_t flag0 = 0, flag1 = 1;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *f = files[i];
        size_t len = lens[i];
        if (len < RW_HEADER_SIZE)
            continue;
        emit("header", &flag0, 1, f, RW_HEADER_SIZE);
        uint8_t scanhdr[2] = {0, 255};
        emit("scan", scanhdr, 2, f, len);
        emit("seal", &flag0, 1, f, len);
        /* Records, each with the salt in force and the rest of the file. */
        uint64_t salt = rw_get64(f + 32), off = RW_HEADER_SIZE;
        unsigned seen_types = 0;
        rw_rec r;
        while (off < len) {
            uint64_t use = f[off + 4] == RW_REC_FOOTER ? rw_get64(f + 32) : salt;
            if (rw_rec_decode(f + off, len - off, use, &r, NULL) != RW_REC_OK)
                break;
            if (!(seen_types & (1u << r.type))) {
                seen_types |= 1u << r.type;
                uint8_t pre[9] = {1};
                rw_put64(pre + 1, use);
                size_t take = len - off < r.size + 64 ? len - off : r.size + 64;
                emit("record", pre, 9, f + off, take);
                if (r.type == RW_REC_CHECKPOINT)
                    emit("checkpoint", r.payload, r.len, NULL, 0);
            }
            if (r.type == RW_REC_EPOCH)
                salt = r.b;
            if (r.type == RW_REC_FOOTER)
                break;
            off += r.size;
        }
        /* The SEAL at the end of a sealed segment. */
        uint8_t pre[9] = {0};
        rw_put64(pre + 1, rw_get64(f + 32));
        emit("record", pre, 9, f + len - RW_SEAL_SIZE, RW_SEAL_SIZE);
    }
    /* Directories of 1..3 consecutive segments, from the newest end. */
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        size_t from = n - k;
        uint8_t flags = (uint8_t)(((k - 1) << 4) | (k == 2 ? 0x4 : 0) | (k == 3 ? 0x2 : 0));
        uint8_t hdr[6] = {flags, (uint8_t)rw_get64(files[from] + 24)};
        size_t h = 2;
        for (size_t i = 0; i + 1 < k; i++) {
            hdr[h++] = (uint8_t)(lens[from + i] & 0xff);
            hdr[h++] = (uint8_t)(lens[from + i] >> 8);
        }
        size_t total = 0;
        for (size_t i = 0; i < k; i++)
            total += lens[from + i];
        uint8_t *all = malloc(total);
        size_t pos = 0;
        for (size_t i = 0; i < k; i++) {
            memcpy(all + pos, files[from + i], lens[from + i]);
            pos += lens[from + i];
        }
        emit("dir", hdr, h, all, total);
        free(all);
    }
    for (size_t i = 0; i < n; i++)
        free(files[i]);
    (void)flag1;
}

/* KEYS files under FZ_KEYS_MASTER (fuzz_keys.c): with no data key, one,
 * and three with a gap (an id dropped), each as it is and with the flags
 * that fix the CRC and the check value. */
static void make_keys_seeds(const char *dir)
{
#ifdef RAFTWAL_HAVE_OPENSSL
    mkdir(dir, 0700);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    rw_keyring *kr;
    if (dfd < 0 || rw_keys_create(dfd, dir, FZ_KEYS_LOG_ID, FZ_KEYS_MASTER, 0600, &kr) != 0)
        die("KEYS");
    char path[4200];
    snprintf(path, sizeof path, "%s/KEYS", dir);
    for (int round = 0; round < 3; round++) {
        if (round == 1 && rw_keys_new_session(kr, dfd, dir, 0600, 0, NULL) != 0)
            die("KEYS session");
        for (int i = 0; round == 2 && i < 3; i++)
            if (rw_keys_new_session(kr, dfd, dir, 0600, i == 2 ? 2 : 0, NULL) != 0)
                die("KEYS session");
        size_t len;
        uint8_t *b = slurp(path, &len);
        static const uint8_t flag0 = 0, flag7 = 7;
        emit("keys", &flag0, 1, b, len);
        emit("keys", &flag7, 1, b, len);
        free(b);
    }
    rw_keys_free(kr);
    close(dfd);
#else
    (void)dir;
#endif
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_seeds <out-dir>\n");
        return 2;
    }
    out = argv[1];
    mkdir(out, 0755);
    rw_prepare_in_background = 0;
    char base[] = "/tmp/raftwal-gen-seeds-XXXXXX";
    if (!mkdtemp(base))
        die("mkdtemp");
    const char *kinds[] = {"busy", "torn", "empty", "lazy"};
    for (int k = 0; k < 4; k++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", base, kinds[k]);
        if (k == 0)
            make_busy_log(dir);
        else if (k == 1)
            make_torn_log(dir);
        else if (k == 2)
            raftwal_log_close(open_log(dir));
        else
            make_lazy_log(dir); /* cuts its seeds itself, before the close */
        if (k != 3)
            seeds_from(dir);
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            die("rm");
    }
    char kdir[4096];
    snprintf(kdir, sizeof kdir, "%s/keys", base);
    make_keys_seeds(kdir);
    char rm[4200];
    snprintf(rm, sizeof rm, "rm -rf '%s'", kdir);
    if (system(rm) != 0)
        die("rm");
    rmdir(base);
    printf("gen_seeds: %u seeds in %s\n", nseeds, out);
    return 0;
}
