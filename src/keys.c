/* keys.c -- the key registry: reading, checking, unwrapping and durably
 * replacing the KEYS file of an encrypted log (docs/format.md, 7.4).
 *
 * Nothing else in the library touches KEYS or derives keys from the
 * master key. Every buffer that held a key is wiped before it is freed. */
#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "io.h"

int rw_keys_present(int dirfd)
{
    struct stat st;
    if (fstatat(dirfd, RW_KEYS_NAME, &st, 0) == 0)
        return 1;
    if (errno == ENOENT)
        return 0;
    return rw_err_sys(errno, 0, "KEYS: stat");
}

int rw_keys_remove_tmp(int dirfd)
{
    if (rw_io->unlinkat(dirfd, RW_KEYS_TMP, 0) == 0 || errno == ENOENT)
        return 0;
    return rw_err_sys(errno, 0, "KEYS.tmp: unlink");
}

#ifdef RAFTWAL_HAVE_OPENSSL

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "crc32c.h"
#include "format.h"

#define WRAPPED 40u /* RFC 3394 wrap of a 32-byte key */
#define KEYS_VERSION 1u

static const uint8_t keys_magic[8] = {'R', 'W', 'K', 'E', 'Y', 'S', 0, 0};

typedef struct data_key {
    uint32_t id;
    uint8_t key[RW_DATA_KEY];
} data_key;

struct rw_keyring {
    uint64_t log_id;
    uint8_t check[RW_KEYS_CHECK];
    uint8_t kek[32];
    data_key *keys; /* ids strictly increasing */
    size_t n, cap;
};

/* ---------------------------------------------------------------------- */
/* Derivations and key wrap                                               */
/* ---------------------------------------------------------------------- */

/* HMAC-SHA256(master, label || log id LE). */
static int derive(const uint8_t master[32], const char *label, uint64_t log_id, uint8_t out[32])
{
    uint8_t msg[32];
    size_t n = strlen(label);
    memcpy(msg, label, n);
    rw_put64(msg + n, log_id);
    unsigned int outlen = 0;
    if (!HMAC(EVP_sha256(), master, 32, msg, n + 8, out, &outlen) || outlen != 32)
        return rw_err(RAFTWAL_EIO, "HMAC-SHA256 failed (OpenSSL)");
    return 0;
}

int rw_keys_check_value(const uint8_t master[32], uint64_t log_id, uint8_t out[RW_KEYS_CHECK])
{
    uint8_t full[32];
    int rc = derive(master, "raftwal key check", log_id, full);
    memcpy(out, full, RW_KEYS_CHECK);
    OPENSSL_cleanse(full, sizeof full);
    return rc;
}

/* AES-256 key wrap (RFC 3394) of a 32-byte key under kek: 40 bytes out,
 * or, unwrapping, 32 bytes out if the integrity check passes. The initial
 * value (RFC 3394, 2.2.3.2) is A6A6A6A6 || key id LE: a wrap is bound to
 * its id, so a KEYS whose ids were changed does not unwrap. 0, or -1
 * (unwrap: the wrapped bytes are not a wrap of this id under this KEK). */
static int key_wrap(int encrypt, const uint8_t kek[32], uint32_t id, const uint8_t *in,
                    size_t in_len, uint8_t *out, size_t out_len)
{
    uint8_t iv[8] = {0xa6, 0xa6, 0xa6, 0xa6};
    rw_put32(iv + 4, id);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c)
        return -1;
    int ok = 0, n = 0, m = 0;
    EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    if (EVP_CipherInit_ex(c, EVP_aes_256_wrap(), NULL, kek, iv, encrypt) == 1 &&
        EVP_CipherUpdate(c, out, &n, in, (int)in_len) > 0 && n >= 0 &&
        EVP_CipherFinal_ex(c, out + n, &m) == 1 && (size_t)n + (size_t)m == out_len)
        ok = 1;
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : -1;
}

/* ---------------------------------------------------------------------- */
/* Keyrings                                                               */
/* ---------------------------------------------------------------------- */

static void wipe_free(void *p, size_t n)
{
    if (!p)
        return;
    OPENSSL_cleanse(p, n);
    free(p);
}

void rw_keys_free(rw_keyring *kr)
{
    if (!kr)
        return;
    wipe_free(kr->keys, kr->cap * sizeof *kr->keys);
    wipe_free(kr, sizeof *kr);
}

/* A keyring with no data keys, bound to log_id and master. */
static int keyring_new(uint64_t log_id, const uint8_t master[32], rw_keyring **out)
{
    rw_keyring *kr = calloc(1, sizeof *kr);
    if (!kr)
        return rw_err(RAFTWAL_ENOMEM, "out of memory");
    kr->log_id = log_id;
    int rc = rw_keys_check_value(master, log_id, kr->check);
    if (rc == 0)
        rc = derive(master, "raftwal key wrap", log_id, kr->kek);
    if (rc) {
        rw_keys_free(kr);
        return rc;
    }
    *out = kr;
    return 0;
}

/* Room for `need` keys. Never realloc(): it could leave a copy of the keys
 * behind, unwiped. */
static int keyring_reserve(rw_keyring *kr, size_t need)
{
    if (need <= kr->cap)
        return 0;
    size_t cap = kr->cap ? kr->cap : 8;
    while (cap < need)
        cap *= 2;
    data_key *k = calloc(cap, sizeof *k);
    if (!k)
        return rw_err(RAFTWAL_ENOMEM, "out of memory");
    if (kr->n)
        memcpy(k, kr->keys, kr->n * sizeof *k);
    wipe_free(kr->keys, kr->cap * sizeof *kr->keys);
    kr->keys = k;
    kr->cap = cap;
    return 0;
}

const uint8_t *rw_keys_data_key(const rw_keyring *kr, uint32_t id)
{
    size_t lo = 0, hi = kr->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (kr->keys[mid].id == id)
            return kr->keys[mid].key;
        if (kr->keys[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

uint32_t rw_keys_max_id(const rw_keyring *kr)
{
    return kr->n ? kr->keys[kr->n - 1].id : 0;
}

/* ---------------------------------------------------------------------- */
/* The file format                                                        */
/* ---------------------------------------------------------------------- */

int rw_keys_encode(const rw_keyring *kr, uint8_t **buf, size_t *len)
{
    size_t size = RW_KEYS_HEADER + kr->n * RW_KEYS_ENTRY + RW_KEYS_TRAILER;
    uint8_t *b = calloc(1, size);
    if (!b)
        return rw_err(RAFTWAL_ENOMEM, "out of memory");
    memcpy(b, keys_magic, 8);
    rw_put32(b + 8, KEYS_VERSION);
    rw_put32(b + 12, (uint32_t)kr->n);
    rw_put64(b + 16, kr->log_id);
    memcpy(b + 24, kr->check, RW_KEYS_CHECK);
    for (size_t i = 0; i < kr->n; i++) {
        uint8_t *e = b + RW_KEYS_HEADER + i * RW_KEYS_ENTRY;
        rw_put32(e, kr->keys[i].id);
        if (key_wrap(1, kr->kek, kr->keys[i].id, kr->keys[i].key, RW_DATA_KEY, e + 8, WRAPPED) != 0) {
            free(b); /* holds only wrapped keys */
            return rw_err(RAFTWAL_EIO, "AES key wrap failed (OpenSSL)");
        }
    }
    size_t crc_off = size - RW_KEYS_TRAILER;
    rw_put32(b + crc_off, rw_crc32c(0, b, crc_off));
    *buf = b;
    *len = size;
    return 0;
}

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* Checks everything but the keys: structure, CRC, log id. *n_out gets N. */
static int check_structure(const uint8_t *buf, size_t len, const char *what, uint64_t log_id,
                           size_t *n_out)
{
    if (len < 8 || memcmp(buf, keys_magic, 8) != 0)
        return rw_err(RAFTWAL_ECORRUPT, "%s: offset 0: bad magic: not a raftwal key file", what);
    if (len < RW_KEYS_HEADER + RW_KEYS_TRAILER)
        return rw_err(RAFTWAL_ECORRUPT, "%s: offset %zu: file too short (%zu bytes, at least %u)",
                      what, len, len, RW_KEYS_HEADER + RW_KEYS_TRAILER);
    uint32_t version = rw_get32(buf + 8);
    if (version != KEYS_VERSION)
        return rw_err(RAFTWAL_EVERSION, "%s: offset 8: unsupported key file version %u", what,
                      version);
    uint32_t n = rw_get32(buf + 12);
    if (n > RW_KEYS_MAX)
        return rw_err(RAFTWAL_ECORRUPT, "%s: offset 12: %u data keys (at most %u)", what, n,
                      RW_KEYS_MAX);
    size_t want = RW_KEYS_HEADER + (size_t)n * RW_KEYS_ENTRY + RW_KEYS_TRAILER;
    if (len != want)
        return rw_err(RAFTWAL_ECORRUPT, "%s: offset %zu: file is %zu bytes, %u data keys make %zu",
                      what, len < want ? len : want, len, n, want);
    size_t crc_off = len - RW_KEYS_TRAILER;
    if (rw_get32(buf + crc_off) != rw_crc32c(0, buf, crc_off) || !all_zero(buf + crc_off + 4, 4))
        return rw_err(RAFTWAL_ECORRUPT, "%s: offset %zu: checksum mismatch", what, crc_off);
    if (!all_zero(buf + 40, 8))
        return rw_err(RAFTWAL_ECORRUPT, "%s: offset 40: reserved bytes are not zero", what);
    uint32_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *e = buf + RW_KEYS_HEADER + i * RW_KEYS_ENTRY;
        size_t off = (size_t)(e - buf);
        uint32_t id = rw_get32(e);
        if (id <= prev)
            return rw_err(RAFTWAL_ECORRUPT, "%s: offset %zu: key id %u after %u (ids start at 1 "
                          "and increase)", what, off, id, prev);
        if (!all_zero(e + 4, 4))
            return rw_err(RAFTWAL_ECORRUPT, "%s: offset %zu: reserved bytes are not zero", what,
                          off + 4);
        prev = id;
    }
    if (rw_get64(buf + 16) != log_id)
        return rw_err(RAFTWAL_ECORRUPT, "%s: offset 16: the key file belongs to another log "
                      "(log id %016llx, the segments' %016llx)", what,
                      (unsigned long long)rw_get64(buf + 16), (unsigned long long)log_id);
    *n_out = n;
    return 0;
}

/* Unwraps the n entries of buf into kr->keys (which has room). */
static int unwrap_all(rw_keyring *kr, const uint8_t *buf, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        const uint8_t *e = buf + RW_KEYS_HEADER + i * RW_KEYS_ENTRY;
        data_key *k = &kr->keys[i];
        k->id = rw_get32(e);
        if (key_wrap(0, kr->kek, k->id, e + 8, WRAPPED, k->key, RW_DATA_KEY) != 0) {
            OPENSSL_cleanse(k->key, sizeof k->key);
            return rw_err(RAFTWAL_ECORRUPT, "%s: offset %zu: data key %u does not unwrap under "
                          "the right master key (the file is damaged)", what,
                          (size_t)(e - buf) + 8, k->id);
        }
        kr->n = i + 1;
    }
    return 0;
}

int rw_keys_decode(const uint8_t *buf, size_t len, const char *what, uint64_t log_id,
                   const uint8_t master[32], rw_keyring **out)
{
    size_t n;
    int rc = check_structure(buf, len, what, log_id, &n);
    if (rc)
        return rc;
    rw_keyring *kr;
    if ((rc = keyring_new(log_id, master, &kr)) != 0)
        return rc;
    if (CRYPTO_memcmp(kr->check, buf + 24, RW_KEYS_CHECK) != 0) {
        rw_keys_free(kr);
        return rw_err(RAFTWAL_EKEY, "%s: wrong key: the key given is not this log's master key "
                      "(its check value does not match)", what);
    }
    rc = keyring_reserve(kr, n);
    if (rc == 0)
        rc = unwrap_all(kr, buf, n, what);
    if (rc) {
        rw_keys_free(kr);
        return rc;
    }
    *out = kr;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* The file                                                               */
/* ---------------------------------------------------------------------- */

/* Reads the whole KEYS file (at most the largest valid size plus one
 * byte, so that a longer file is reported, not read). */
static int read_keys_file(int dirfd, const char *what, uint8_t **buf, size_t *len)
{
    int fd = rw_io->openat(dirfd, RW_KEYS_NAME, O_RDONLY, 0);
    if (fd < 0) {
        if (errno == ENOENT)
            return rw_err(RAFTWAL_EKEY, "%s: the log is not encrypted (no KEYS file)", what);
        return rw_err_sys(errno, 0, "%s: open", what);
    }
    struct stat st;
    int rc = 0;
    if (rw_io->fstat(fd, &st) != 0) {
        rc = rw_err_sys(errno, 0, "%s: fstat", what);
        goto out;
    }
    const size_t max = RW_KEYS_HEADER + (size_t)RW_KEYS_MAX * RW_KEYS_ENTRY + RW_KEYS_TRAILER;
    if (st.st_size < 0 || (uint64_t)st.st_size > max) {
        rc = rw_err(RAFTWAL_ECORRUPT, "%s: offset %zu: file longer than any key file (%lld bytes)",
                    what, max, (long long)st.st_size);
        goto out;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *b = malloc(size ? size : 1);
    if (!b) {
        rc = rw_err(RAFTWAL_ENOMEM, "out of memory");
        goto out;
    }
    int r = size ? rw_pread_all(fd, b, size, 0) : 0;
    if (r == -ENODATA) {
        rc = rw_err(RAFTWAL_ECORRUPT, "%s: offset 0: the file shrank while read", what);
    } else if (r < 0) {
        rc = rw_err_sys(-r, 0, "%s: read", what);
    }
    if (rc) {
        free(b);
        goto out;
    }
    *buf = b;
    *len = size;
out:
    rw_io->close(fd);
    return rc;
}

static void keys_what(char *out, size_t n, const char *dirpath)
{
    snprintf(out, n, "%s/%s", dirpath ? dirpath : ".", RW_KEYS_NAME);
}

/* Replaces KEYS with the image of kr: KEYS.tmp written, fdatasync'ed,
 * renamed over KEYS, directory fsync'ed. A crash leaves the old or the
 * new file whole, and maybe KEYS.tmp. */
static int write_keys(const rw_keyring *kr, int dirfd, const char *dirpath, mode_t mode)
{
    char what[4096];
    snprintf(what, sizeof what, "%s/%s", dirpath ? dirpath : ".", RW_KEYS_TMP);
    uint8_t *buf;
    size_t len;
    int rc = rw_keys_encode(kr, &buf, &len);
    if (rc)
        return rc;
    if ((rc = rw_keys_remove_tmp(dirfd)) != 0) {
        free(buf);
        return rc;
    }
    int fd = rw_io->openat(dirfd, RW_KEYS_TMP, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0) {
        rc = rw_err_sys(errno, 0, "%s: create", what);
        free(buf);
        return rc;
    }
    int r = rw_pwrite_all(fd, buf, len, 0);
    free(buf);
    if (r < 0)
        rc = rw_err_sys(-r, 0, "%s: write", what);
    else if (rw_io->fdatasync(fd) != 0)
        rc = rw_err_sys(errno, 0, "%s: fdatasync", what);
    if (rw_io->close(fd) != 0 && rc == 0)
        rc = rw_err_sys(errno, 0, "%s: close", what);
    if (rc == 0 && rw_io->rename_replace(dirfd, RW_KEYS_TMP, RW_KEYS_NAME) != 0)
        rc = rw_err_sys(errno, 0, "%s: rename to KEYS", what);
    if (rc) {
        (void)rw_io->unlinkat(dirfd, RW_KEYS_TMP, 0);
        return rc;
    }
    if (rw_io->fsync(dirfd) != 0)
        return rw_err_sys(errno, 0, "%s: directory fsync after replacing KEYS",
                          dirpath ? dirpath : ".");
    return 0;
}

int rw_keys_create(int dirfd, const char *dirpath, uint64_t log_id, const uint8_t master[32],
                   mode_t mode, rw_keyring **out)
{
    rw_keyring *kr;
    int rc = keyring_new(log_id, master, &kr);
    if (rc == 0 && (rc = write_keys(kr, dirfd, dirpath, mode)) != 0)
        rw_keys_free(kr);
    if (rc == 0)
        *out = kr;
    return rc;
}

int rw_keys_load(int dirfd, const char *dirpath, uint64_t log_id, const uint8_t master[32],
                 rw_keyring **out)
{
    char what[4096];
    keys_what(what, sizeof what, dirpath);
    uint8_t *buf;
    size_t len;
    int rc = read_keys_file(dirfd, what, &buf, &len);
    if (rc)
        return rc;
    rc = rw_keys_decode(buf, len, what, log_id, master, out);
    free(buf); /* wrapped keys only */
    return rc;
}

/* A copy of kr's keys with the ones below min_live_id left out and a
 * fresh random key added with id (highest) + 1: what the new KEYS holds. */
static int next_keyring(const rw_keyring *kr, uint32_t min_live_id, rw_keyring **out)
{
    uint32_t max = rw_keys_max_id(kr);
    if (max == UINT32_MAX)
        return rw_err(RAFTWAL_EIO, "every data key id is used (the log had 2^32 - 1 sessions)");
    rw_keyring *nk = calloc(1, sizeof *nk);
    if (!nk)
        return rw_err(RAFTWAL_ENOMEM, "out of memory");
    nk->log_id = kr->log_id;
    memcpy(nk->check, kr->check, sizeof nk->check);
    memcpy(nk->kek, kr->kek, sizeof nk->kek);
    int rc = keyring_reserve(nk, kr->n + 1);
    for (size_t i = 0; rc == 0 && i < kr->n; i++)
        if (kr->keys[i].id >= min_live_id)
            nk->keys[nk->n++] = kr->keys[i];
    if (rc == 0 && nk->n + 1 > RW_KEYS_MAX)
        rc = rw_err(RAFTWAL_EIO, "the key file holds %u data keys already: no room for a session",
                    RW_KEYS_MAX);
    if (rc == 0 && RAND_bytes(nk->keys[nk->n].key, RW_DATA_KEY) != 1)
        rc = rw_err(RAFTWAL_EIO, "no random bytes for a data key (OpenSSL RAND_bytes)");
    if (rc) {
        rw_keys_free(nk);
        return rc;
    }
    nk->keys[nk->n++].id = max + 1;
    *out = nk;
    return 0;
}

/* kr takes over the content of nk (freed). */
static void keyring_swap(rw_keyring *kr, rw_keyring *nk)
{
    rw_keyring tmp = *kr;
    *kr = *nk;
    *nk = tmp;
    OPENSSL_cleanse(&tmp, sizeof tmp);
    rw_keys_free(nk);
}

int rw_keys_new_session(rw_keyring *kr, int dirfd, const char *dirpath, mode_t mode,
                        uint32_t min_live_id, uint32_t *id_out)
{
    rw_keyring *nk = NULL;
    int rc = next_keyring(kr, min_live_id, &nk);
    if (rc)
        return rc;
    if ((rc = write_keys(nk, dirfd, dirpath, mode)) != 0) {
        rw_keys_free(nk);
        return rc;
    }
    keyring_swap(kr, nk);
    if (id_out)
        *id_out = rw_keys_max_id(kr);
    return 0;
}

int rw_keys_reload(rw_keyring *kr, int dirfd, const char *dirpath)
{
    char what[4096];
    keys_what(what, sizeof what, dirpath);
    uint8_t *buf;
    size_t len, n;
    int rc = read_keys_file(dirfd, what, &buf, &len);
    if (rc)
        return rc;
    rw_keyring *fresh = NULL;
    rc = check_structure(buf, len, what, kr->log_id, &n);
    if (rc == 0 && CRYPTO_memcmp(kr->check, buf + 24, RW_KEYS_CHECK) != 0)
        rc = rw_err(RAFTWAL_EKEY, "%s: wrong key: the log's master key was changed (rekeyed) "
                    "since this handle opened it", what);
    if (rc == 0 && (fresh = calloc(1, sizeof *fresh)) == NULL)
        rc = rw_err(RAFTWAL_ENOMEM, "out of memory");
    if (rc == 0) {
        fresh->log_id = kr->log_id;
        memcpy(fresh->kek, kr->kek, sizeof fresh->kek);
        memcpy(fresh->check, kr->check, sizeof fresh->check);
        rc = keyring_reserve(fresh, n + kr->n);
    }
    if (rc == 0)
        rc = unwrap_all(fresh, buf, n, what);
    free(buf);
    /* Merge: every key of kr the file no longer lists, then sort by id. */
    for (size_t i = 0; rc == 0 && i < kr->n; i++)
        if (!rw_keys_data_key(fresh, kr->keys[i].id)) {
            size_t j = fresh->n++;
            fresh->keys[j] = kr->keys[i];
            for (; j > 0 && fresh->keys[j - 1].id > fresh->keys[j].id; j--) {
                data_key t = fresh->keys[j];
                fresh->keys[j] = fresh->keys[j - 1];
                fresh->keys[j - 1] = t;
                OPENSSL_cleanse(&t, sizeof t);
            }
        }
    if (rc) {
        rw_keys_free(fresh);
        return rc;
    }
    keyring_swap(kr, fresh);
    return 0;
}

int rw_keys_rewrap(rw_keyring *kr, int dirfd, const char *dirpath, mode_t mode,
                   const uint8_t new_master[32])
{
    rw_keyring *nk = NULL;
    int rc = keyring_new(kr->log_id, new_master, &nk);
    if (rc == 0)
        rc = keyring_reserve(nk, kr->n);
    if (rc == 0) {
        if (kr->n)
            memcpy(nk->keys, kr->keys, kr->n * sizeof *kr->keys);
        nk->n = kr->n;
        rc = write_keys(nk, dirfd, dirpath, mode);
    }
    if (rc) {
        rw_keys_free(nk);
        return rc;
    }
    keyring_swap(kr, nk);
    return 0;
}

#else /* no RAFTWAL_HAVE_OPENSSL: no encryption in this build */

static int no_encryption(void)
{
    return rw_err(RAFTWAL_EINVAL, "no encryption in this build of raftwal (raftwal_features())");
}

struct rw_keyring {
    int unused;
};

int rw_keys_create(int dirfd, const char *dirpath, uint64_t log_id, const uint8_t master[32],
                   mode_t mode, rw_keyring **out)
{
    (void)dirfd, (void)dirpath, (void)log_id, (void)master, (void)mode, (void)out;
    return no_encryption();
}

int rw_keys_load(int dirfd, const char *dirpath, uint64_t log_id, const uint8_t master[32],
                 rw_keyring **out)
{
    (void)dirfd, (void)dirpath, (void)log_id, (void)master, (void)out;
    return no_encryption();
}

int rw_keys_new_session(rw_keyring *kr, int dirfd, const char *dirpath, mode_t mode,
                        uint32_t min_live_id, uint32_t *id_out)
{
    (void)kr, (void)dirfd, (void)dirpath, (void)mode, (void)min_live_id, (void)id_out;
    return no_encryption();
}

const uint8_t *rw_keys_data_key(const rw_keyring *kr, uint32_t id)
{
    (void)kr, (void)id;
    return NULL;
}

uint32_t rw_keys_max_id(const rw_keyring *kr)
{
    (void)kr;
    return 0;
}

int rw_keys_reload(rw_keyring *kr, int dirfd, const char *dirpath)
{
    (void)kr, (void)dirfd, (void)dirpath;
    return no_encryption();
}

int rw_keys_rewrap(rw_keyring *kr, int dirfd, const char *dirpath, mode_t mode,
                   const uint8_t new_master[32])
{
    (void)kr, (void)dirfd, (void)dirpath, (void)mode, (void)new_master;
    return no_encryption();
}

void rw_keys_free(rw_keyring *kr)
{
    (void)kr;
}

int rw_keys_decode(const uint8_t *buf, size_t len, const char *what, uint64_t log_id,
                   const uint8_t master[32], rw_keyring **out)
{
    (void)buf, (void)len, (void)what, (void)log_id, (void)master, (void)out;
    return no_encryption();
}

int rw_keys_encode(const rw_keyring *kr, uint8_t **buf, size_t *len)
{
    (void)kr, (void)buf, (void)len;
    return no_encryption();
}

int rw_keys_check_value(const uint8_t master[32], uint64_t log_id, uint8_t out[RW_KEYS_CHECK])
{
    (void)master, (void)log_id, (void)out;
    return no_encryption();
}

#endif
