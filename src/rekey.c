/* rekey.c -- raftwal_rekey(): changing the master key of an encrypted log
 * (docs/format.md 7.4, "Rekey"). Under the log's lock, the data keys in
 * KEYS are unwrapped with the old master key and wrapped with the new one:
 * one durable replacement of KEYS (keys.c), nothing else is written. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "format.h"
#include "io.h"
#include "keys.h"
#include "log.h"

#ifdef RAFTWAL_HAVE_OPENSSL
#include <openssl/crypto.h>
#define wipe(p, n) OPENSSL_cleanse((p), (n))
static const int have_encryption = 1;
#else
#define wipe(p, n) memset((p), 0, (n)) /* never holds a key: no encryption */
static const int have_encryption = 0;
#endif

static int cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The sequence numbers of the segment files (%016x.wal), newest first.
 * *n = 0 when there are none. */
static int list_segments(int dirfd, const char *dir, uint64_t **seqs, size_t *n)
{
    *seqs = NULL;
    *n = 0;
    int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0); /* closedir closes it */
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        int rc = rw_err_sys(errno, 0, "%s: list directory", dir);
        if (fd >= 0)
            close(fd);
        return rc;
    }
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        unsigned long long v;
        char sfx[8];
        if (strlen(e->d_name) != 20 || sscanf(e->d_name, "%16llx%7s", &v, sfx) != 2 ||
            strcmp(sfx, ".wal") != 0)
            continue;
        if (*n == cap) {
            uint64_t *p = realloc(*seqs, (cap = cap ? cap * 2 : 16) * sizeof *p);
            if (!p) {
                closedir(d);
                free(*seqs);
                *seqs = NULL;
                return rw_err(RAFTWAL_ENOMEM, "out of memory");
            }
            *seqs = p;
        }
        (*seqs)[(*n)++] = v;
    }
    closedir(d);
    if (*n)
        qsort(*seqs, *n, sizeof **seqs, cmp_desc);
    return 0;
}

/* The log id, from the header of the newest segment whose header decodes.
 * RAFTWAL_ENOTFOUND if the directory holds no segment. */
static int read_log_id(int dirfd, const char *dir, uint64_t *log_id)
{
    uint64_t *seqs;
    size_t n;
    int rc = list_segments(dirfd, dir, &seqs, &n);
    if (rc)
        return rc;
    if (n == 0)
        rc = rw_err(RAFTWAL_ENOTFOUND, "%s: no log here (no segment files)", dir);
    else
        rc = rw_err(RAFTWAL_ECORRUPT, "%s: no segment header can be read (raftwal_verify() "
                    "says why)", dir);
    for (size_t i = 0; i < n; i++) {
        char name[24];
        snprintf(name, sizeof name, "%016llx.wal", (unsigned long long)seqs[i]);
        int fd = rw_io->openat(dirfd, name, O_RDONLY, 0);
        if (fd < 0)
            continue;
        uint8_t hdr[RW_HEADER_SIZE];
        rw_seg_header h;
        int ok = rw_pread_all(fd, hdr, sizeof hdr, 0) == 0 &&
                 rw_header_decode(hdr, sizeof hdr, &h) == RW_HDR_OK;
        rw_io->close(fd);
        if (ok) {
            *log_id = h.log_id;
            rc = 0;
            break;
        }
    }
    free(seqs);
    return rc;
}

/* With the log's lock held: KEYS.tmp removed, KEYS rewrapped. */
static int rekey_locked(int dirfd, const char *dir, uint64_t log_id, mode_t mode,
                        const uint8_t old_key[32], const uint8_t new_key[32])
{
    int rc = rw_keys_remove_tmp(dirfd);
    if (rc)
        return rc;
    rw_keyring *kr;
    if ((rc = rw_keys_load(dirfd, dir, log_id, old_key, &kr)) != 0)
        return rc == RAFTWAL_EKEY ? rw_err_context(rc, "the old key") : rc;
    rc = rw_keys_rewrap(kr, dirfd, dir, mode, new_key);
    rw_keys_free(kr);
    return rc;
}

static int rekey_dir(const char *dir, const uint8_t old_key[32], const uint8_t new_key[32])
{
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return rw_err_sys(errno, 1, "%s: open directory", dir);
    raftwal_log lk; /* only what the lock needs, as raftwal_repair does */
    memset(&lk, 0, sizeof lk);
    lk.lockfd = -1;
    lk.dirfd = dirfd;
    lk.path = (char *)(uintptr_t)dir;
    uint64_t log_id = 0;
    struct stat ks, ds;
    int rc = read_log_id(dirfd, dir, &log_id);
    if (rc == 0 && fstatat(dirfd, RW_KEYS_NAME, &ks, 0) != 0)
        rc = errno == ENOENT ? rw_err(RAFTWAL_EKEY, "%s: the log is not encrypted (no KEYS "
                                      "file): it has no key to change", dir)
                             : rw_err_sys(errno, 0, "%s/KEYS: stat", dir);
    if (rc == 0 && fstat(dirfd, &ds) != 0)
        rc = rw_err_sys(errno, 0, "%s: fstat", dir);
    if (rc == 0) {
        /* The new KEYS (and LOCK, if missing) get the old KEYS's mode:
         * the log's, never wider. */
        lk.mode = ks.st_mode & 0777;
        lk.dev = ds.st_dev;
        lk.ino = ds.st_ino;
        rc = rw_lock_acquire(&lk);
    }
    if (rc == 0) {
        rc = rekey_locked(dirfd, dir, log_id, lk.mode, old_key, new_key);
        rw_lock_release(&lk);
    }
    close(dirfd);
    return rc;
}

int raftwal_rekey(const char *dir, const void *old_key, size_t old_size, const void *new_key,
                  size_t new_size)
{
    if (!dir || !old_key || !new_key || old_size != RAFTWAL_KEY_SIZE ||
        new_size != RAFTWAL_KEY_SIZE)
        return rw_err(RAFTWAL_EINVAL, "raftwal_rekey: NULL argument or a key that is not %u bytes",
                      RAFTWAL_KEY_SIZE);
    if (!have_encryption)
        return rw_err(RAFTWAL_EINVAL, "this build of raftwal has no encryption "
                      "(raftwal_features())");
    uint8_t oldk[RAFTWAL_KEY_SIZE], newk[RAFTWAL_KEY_SIZE];
    memcpy(oldk, old_key, sizeof oldk);
    memcpy(newk, new_key, sizeof newk);
    int rc = rekey_dir(dir, oldk, newk);
    wipe(oldk, sizeof oldk);
    wipe(newk, sizeof newk);
    return rw_api_return(rc);
}
