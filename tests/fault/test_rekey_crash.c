/* test_rekey_crash.c -- fault_rekey_crash: a power loss at any point of
 * raftwal_rekey() leaves a log that opens with exactly one of the old and
 * the new master key, with the same data keys (docs/format.md 7.4).
 *
 * The rekey of a log with many data keys (KEYS spans several 512-byte
 * sectors) is recorded through faultfs; after every recorded I/O operation
 * (and before the first), the crash states crash_fs can build are made:
 * only what was synced, everything, and random states (unsynced writes
 * dropped, kept, torn at sectors, reordered; pending creates, renames and
 * unlinks persisted as a prefix or as any per-name-ordered subset). Each
 * distinct state must load with one key and be refused with the other
 * (RAFTWAL_EKEY), give the original data keys, and take a second rekey
 * (which removes a KEYS.tmp the crash left). Also a crash inside that
 * second rekey: a rekey must be repeatable from any state.
 *
 * RAFTWAL_REKEY_SAMPLES (default 512): random states per crash point and
 * mode. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crash_fs.h"
#include "fault_util.h"
#include "faultfs.h"
#include "format.h"
#include "keys.h"

#define NKEYS 40 /* KEYS of 48 + 40 * 48 + 8 bytes: 4 sectors */

static uint8_t old_master[32], new_master[32], third_master[32];
static uint8_t data_keys[NKEYS][32];
static uint64_t log_id;

/* Distinct states seen (by hash). */
static uint64_t *seen;
static size_t nseen, seen_cap;

static int seen_add(uint64_t h)
{
    for (size_t i = 0; i < nseen; i++)
        if (seen[i] == h)
            return 0;
    if (nseen == seen_cap) {
        seen_cap = seen_cap ? 2 * seen_cap : 256;
        seen = realloc(seen, seen_cap * sizeof *seen);
        FU_CHECK(seen != NULL, "out of memory");
    }
    seen[nseen++] = h;
    return 1;
}

static struct {
    size_t states, with_old, with_new, with_tmp, torn;
} stats;

/* A plaintext log (its segment gives rekey the log id) with a KEYS of
 * NKEYS sessions under old_master, as an encrypted log's writer leaves it. */
static void make_log(const char *dir)
{
    raftwal_log *log;
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    o.segment_size = RAFTWAL_MIN_SEGMENT_SIZE; /* every state copies it */
    FU_RC(raftwal_log_open(&log, dir, &o), 0);
    FU_RC(raftwal_log_close(log), 0);
    char path[4200];
    FU_CHECK(fu_segment_path(dir, 0, path, sizeof path) == 0, "no segment in %s", dir);
    size_t len;
    uint8_t *b = fu_read_file(path, &len);
    rw_seg_header h;
    FU_CHECK(rw_header_decode(b, len, &h) == RW_HDR_OK, "segment header");
    log_id = h.log_id;
    free(b);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    rw_keyring *kr;
    FU_RC(rw_keys_create(dfd, dir, log_id, old_master, 0600, &kr), 0);
    for (int i = 0; i < NKEYS; i++) {
        uint32_t id;
        FU_RC(rw_keys_new_session(kr, dfd, dir, 0600, 0, &id), 0);
        memcpy(data_keys[i], rw_keys_data_key(kr, id), 32);
    }
    rw_keys_free(kr);
    close(dfd);
}

/* A model of dir as it is now, every file durable. */
static cfs *model_of(const char *dir)
{
    struct stat st;
    FU_CHECK(stat(dir, &st) == 0, "stat %s", dir);
    cfs *m = cfs_new(st.st_ino);
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FU_CHECK(stat(path, &st) == 0, "stat %s", path);
        size_t len;
        uint8_t *b = fu_read_file(path, &len);
        cfs_add_durable(m, e->d_name, st.st_ino, b, len);
        free(b);
    }
    closedir(d);
    return m;
}

/* Loads KEYS of dir with master: 0 and the original data keys, or the
 * error. */
static int load_with(const char *dir, const uint8_t master[32])
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    FU_CHECK(dfd >= 0, "open %s", dir);
    rw_keyring *kr = NULL;
    int rc = rw_keys_load(dfd, dir, log_id, master, &kr);
    close(dfd);
    if (rc)
        return rc;
    FU_CHECK(rw_keys_max_id(kr) == NKEYS, "%u data keys", rw_keys_max_id(kr));
    for (uint32_t i = 1; i <= NKEYS; i++) {
        const uint8_t *k = rw_keys_data_key(kr, i);
        FU_CHECK(k && memcmp(k, data_keys[i - 1], 32) == 0, "data key %u differs", i);
    }
    rw_keys_free(kr);
    return 0;
}

/* The master key the state in dir opens with (one of a and b, exactly). */
static const uint8_t *which_key(const char *dir, const uint8_t *a, const uint8_t *b,
                                const char *when)
{
    int ra = load_with(dir, a), rb = load_with(dir, b);
    FU_CHECK((ra == 0 && rb == RAFTWAL_EKEY) || (rb == 0 && ra == RAFTWAL_EKEY),
             "%s: KEYS loads with the old key: %d (%s), with the new one: %d (state kept in %s)",
             when, ra, raftwal_strerror(ra), rb, dir);
    return ra == 0 ? a : b;
}

static int has_tmp(const cfs_image *img)
{
    for (size_t i = 0; i < img->n; i++)
        if (strcmp(img->files[i].name, "KEYS.tmp") == 0)
            return 1;
    return 0;
}

/* Every crash state of the recording recs (made from the directory model
 * m) must open with exactly one of a and b. With `again`, a rekey of each
 * state to the other key is recorded and explored in turn. */
static void explore(cfs *m, const ff_rec *recs, size_t n, const uint8_t *a, const uint8_t *b,
                    const char *state_dir, unsigned samples, uint64_t *rng, int again);

static void check_state(const cfs_image *img, const uint8_t *a, const uint8_t *b,
                        const char *state_dir, unsigned samples, uint64_t *rng, int again)
{
    fu_empty_dir(state_dir);
    FU_CHECK(cfs_image_write(img, state_dir) == 0, "writing a crash state");
    stats.states++;
    stats.with_tmp += (size_t)has_tmp(img);
    stats.torn += (size_t)img->torn;
    const uint8_t *k = which_key(state_dir, a, b, "after a crash during rekey");
    if (k == a)
        stats.with_old++;
    else
        stats.with_new++;
    if (!again)
        return;
    /* The rekey can be repeated from here (with the key the log opens
     * with), also with a crash inside it. */
    const uint8_t *other = k == a ? third_master : a;
    cfs *m2 = model_of(state_dir);
    ff_record_start();
    int rc = raftwal_rekey(state_dir, k, 32, other, 32);
    ff_record_stop();
    FU_CHECK(rc == 0, "a second rekey failed: %s", raftwal_errmsg());
    struct stat st;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s/KEYS.tmp", state_dir);
    FU_CHECK(stat(tmp, &st) != 0 && errno == ENOENT, "rekey left KEYS.tmp");
    FU_CHECK(load_with(state_dir, other) == 0, "after the second rekey: %s", raftwal_errmsg());
    size_t n2;
    ff_rec *recs2 = ff_records_take(&n2);
    char sub[4200];
    snprintf(sub, sizeof sub, "%s.again", state_dir);
    mkdir(sub, 0700);
    explore(m2, recs2, n2, k, other, sub, samples / 8 + 1, rng, 0);
    ff_records_free(recs2, n2);
    cfs_free(m2);
}

static void explore(cfs *m, const ff_rec *recs, size_t n, const uint8_t *a, const uint8_t *b,
                    const char *state_dir, unsigned samples, uint64_t *rng, int again)
{
    for (size_t k = 0; k <= n; k++) {
        if (k > 0)
            cfs_apply(m, &recs[k - 1]);
        for (unsigned v = 0; v < 2 + 2 * samples; v++) {
            int mode = v == 0   ? CFS_DROP_ALL
                       : v == 1 ? CFS_KEEP_ALL
                       : v % 2  ? CFS_RANDOM
                                : CFS_RANDOM_REORDER;
            cfs_image img;
            cfs_build(m, mode, rng, &img);
            if (seen_add(img.hash ^ (again ? 0 : 0x5bd1e995ull)))
                check_state(&img, a, b, state_dir, samples, rng, again);
            cfs_image_free(&img);
        }
    }
    /* The rekey returned: it is durable. A power loss now, losing all
     * that was not synced, leaves the new key. */
    cfs_image img;
    cfs_build(m, CFS_DROP_ALL, rng, &img);
    char last[4200];
    snprintf(last, sizeof last, "%s.last", state_dir);
    mkdir(last, 0700);
    fu_empty_dir(last);
    FU_CHECK(cfs_image_write(&img, last) == 0, "writing a crash state");
    FU_CHECK(which_key(last, a, b, "after a returned rekey") == b,
             "a power loss after the rekey returned left the old key (state kept in %s)", last);
    cfs_image_free(&img);
}

int main(void)
{
    unsigned samples = (unsigned)fu_env_u64("RAFTWAL_REKEY_SAMPLES", 512);
    uint64_t rng = fu_env_u64("RAFTWAL_CRASH_SEED", 0x7e4e7);
    for (int i = 0; i < 32; i++) {
        old_master[i] = (uint8_t)(i * 7 + 1);
        new_master[i] = (uint8_t)(i * 13 + 5);
        third_master[i] = (uint8_t)(i * 29 + 11);
    }
    const char *base = fu_tmpdir("rekey");
    char dir[4200], state_dir[4200];
    snprintf(dir, sizeof dir, "%s/log", base);
    snprintf(state_dir, sizeof state_dir, "%s/state", base);
    FU_CHECK(mkdir(dir, 0700) == 0 && mkdir(state_dir, 0700) == 0, "mkdir");
    make_log(dir);

    double t0 = fu_now();
    ff_install();
    ff_set_skip_sync(1); /* the model decides what was durable */
    cfs *m = model_of(dir);
    ff_record_start();
    FU_RC(raftwal_rekey(dir, old_master, 32, new_master, 32), 0);
    ff_record_stop();
    size_t n;
    ff_rec *recs = ff_records_take(&n);
    FU_CHECK(load_with(dir, new_master) == 0, "after the rekey: %s", raftwal_errmsg());
    explore(m, recs, n, old_master, new_master, state_dir, samples, &rng, 1);
    ff_records_free(recs, n);
    cfs_free(m);
    ff_uninstall();

    /* Both outcomes and the leftovers of a crash must have come up. */
    FU_CHECK(stats.with_old > 0 && stats.with_new > 0, "old %zu, new %zu", stats.with_old,
             stats.with_new);
    FU_CHECK(stats.with_tmp > 0 && stats.torn > 0, "KEYS.tmp left %zu, torn %zu", stats.with_tmp,
             stats.torn);
    printf("fault_rekey_crash: %zu I/O operations recorded; %zu distinct crash states (%zu open "
           "with the old key, %zu with the new; %zu with a KEYS.tmp left, %zu torn), each "
           "rekeyed again with a crash explored inside that; %.1f s\n",
           n, stats.states, stats.with_old, stats.with_new, stats.with_tmp, stats.torn,
           fu_now() - t0);
    free(seen);
    return 0;
}
