/*
 * unit_keys.c -- c_unit_keys: the key registry (src/keys.c, docs/format.md
 * 7.4) and raftwal_rekey().
 *
 *   - KEYS round trip: create, sessions 1, 2, 3, load with the master key
 *     gives the same data keys; the file's bytes are the layout of
 *     docs/format.md, and its check value and wraps are recomputed here
 *     with OpenSSL directly (HMAC-SHA256, RFC 3394 with the id-bound
 *     initial value);
 *   - a wrong key is RAFTWAL_EKEY before anything is unwrapped, and no
 *     message holds key bytes (raw or hex);
 *   - every byte of KEYS changed (with and without the CRC fixed up), every
 *     truncation and an extension: a clean error, never success, never a
 *     read past the file (the ASan build checks that on exact-size buffers);
 *   - sessions drop ids below min_live_id, a reader's reload keeps the ids
 *     it had, a reload after a rekey is RAFTWAL_EKEY;
 *   - raftwal_rekey: twice, with a wrong old key (nothing changed), on a
 *     plaintext log, on no log, while the log is open for writing
 *     (RAFTWAL_ELOCKED), with a stale KEYS.tmp, keeping the file's mode.
 * Crash safety of rekey: tests/fault/test_rekey_crash.c.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "crc32c.h"
#include "format.h"
#include "keys.h"
#include "log.h"
#include "test_util.h"

#define NSESS 3

/* Random (seeded) master keys: text keys could share words with messages. */
static uint8_t master_a[32], master_b[32], master_c[32];

static void make_masters(void)
{
    uint8_t *m[] = {master_a, master_b, master_c};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 32; j++)
            m[i][j] = (uint8_t)tu_rand();
}

/* ---- helpers ---------------------------------------------------------- */

static int open_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(fd >= 0);
    return fd;
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f != NULL, "open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    CHECK(b && fread(b, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void write_all(const char *path, const void *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(b, 1, len, f) == len);
    fclose(f);
}

/* Fails if the message holds any 8 consecutive bytes of key, raw or as
 * hex (either case). */
static void check_no_key_in(const char *msg, const uint8_t *key, size_t n)
{
    size_t mlen = strlen(msg);
    for (size_t i = 0; i + 8 <= n; i++) {
        CHECK_MSG(!memmem(msg, mlen, key + i, 8), "key bytes in message \"%s\"", msg);
        char lo[17], up[17];
        for (int j = 0; j < 8; j++) {
            snprintf(lo + 2 * j, 3, "%02x", key[i + j]);
            snprintf(up + 2 * j, 3, "%02X", key[i + j]);
        }
        CHECK_MSG(!strstr(msg, lo) && !strstr(msg, up), "hex key in message \"%s\"", msg);
    }
}

/* The reference derivation of docs/format.md 7.4, written independently. */
static void ref_derive(const uint8_t master[32], const char *label, uint64_t log_id, uint8_t out[32])
{
    uint8_t msg[64];
    size_t n = strlen(label);
    memcpy(msg, label, n);
    for (int i = 0; i < 8; i++)
        msg[n + (size_t)i] = (uint8_t)(log_id >> (8 * i));
    unsigned int len = 0;
    CHECK(HMAC(EVP_sha256(), master, 32, msg, n + 8, out, &len) && len == 32);
}

static void ref_unwrap(const uint8_t kek[32], uint32_t id, const uint8_t in[40], uint8_t out[32])
{
    uint8_t iv[8] = {0xa6, 0xa6, 0xa6, 0xa6, (uint8_t)id, (uint8_t)(id >> 8), (uint8_t)(id >> 16),
                     (uint8_t)(id >> 24)};
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, m = 0;
    EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    CHECK(EVP_DecryptInit_ex(c, EVP_aes_256_wrap(), NULL, kek, iv) == 1);
    CHECK(EVP_DecryptUpdate(c, out, &n, in, 40) > 0 && n == 32);
    CHECK(EVP_DecryptFinal_ex(c, out + n, &m) == 1 && m == 0);
    EVP_CIPHER_CTX_free(c);
}

/* A directory with KEYS for log_id and NSESS sessions; their keys. */
static void make_keys(const char *dir, uint64_t log_id, const uint8_t master[32],
                      uint8_t keys[NSESS][32])
{
    int dfd = open_dir(dir);
    rw_keyring *kr;
    CHECK_OK(rw_keys_create(dfd, dir, log_id, master, 0600, &kr));
    CHECK_EQ_U64(rw_keys_max_id(kr), 0);
    for (uint32_t i = 1; i <= NSESS; i++) {
        uint32_t id = 0;
        CHECK_OK(rw_keys_new_session(kr, dfd, dir, 0600, 0, &id));
        CHECK_EQ_U64(id, i);
        const uint8_t *k = rw_keys_data_key(kr, id);
        CHECK(k != NULL);
        memcpy(keys[i - 1], k, 32);
    }
    rw_keys_free(kr);
    close(dfd);
}

/* Loading KEYS of dir with master gives exactly ids 1..NSESS and keys. */
static void check_loads(const char *dir, uint64_t log_id, const uint8_t master[32],
                        uint8_t keys[NSESS][32])
{
    int dfd = open_dir(dir);
    rw_keyring *kr = NULL;
    CHECK_OK(rw_keys_load(dfd, dir, log_id, master, &kr));
    CHECK_EQ_U64(rw_keys_max_id(kr), NSESS);
    CHECK(rw_keys_data_key(kr, 0) == NULL && rw_keys_data_key(kr, NSESS + 1) == NULL);
    for (uint32_t i = 1; i <= NSESS; i++)
        CHECK_MSG(rw_keys_data_key(kr, i) && memcmp(rw_keys_data_key(kr, i), keys[i - 1], 32) == 0,
                  "data key %u", i);
    rw_keys_free(kr);
    close(dfd);
}

/* ---- the registry ----------------------------------------------------- */

static void test_round_trip_and_layout(void)
{
    const char *dir = tu_tmpdir();
    const uint64_t log_id = 0x0123456789abcdefull;
    uint8_t keys[NSESS][32];
    make_keys(dir, log_id, master_a, keys);
    CHECK(memcmp(keys[0], keys[1], 32) != 0 && memcmp(keys[1], keys[2], 32) != 0);
    check_loads(dir, log_id, master_a, keys);

    /* The bytes, read with this test's own reader of docs/format.md 7.4. */
    char path[1024];
    size_t len;
    uint8_t *b = read_all(tu_path(path, dir, "KEYS"), &len);
    CHECK_EQ_U64(len, 48 + 48 * NSESS + 8);
    CHECK(memcmp(b, "RWKEYS\0\0", 8) == 0);
    CHECK_EQ_U64(tu_le32(b + 8), 1);
    CHECK_EQ_U64(tu_le32(b + 12), NSESS);
    CHECK_EQ_U64(tu_le64(b + 16), log_id);
    uint8_t check[32], kek[32], k[32];
    ref_derive(master_a, "raftwal key check", log_id, check);
    CHECK(memcmp(b + 24, check, 16) == 0);
    CHECK_EQ_U64(tu_le64(b + 40), 0);
    ref_derive(master_a, "raftwal key wrap", log_id, kek);
    for (uint32_t i = 0; i < NSESS; i++) {
        const uint8_t *e = b + 48 + 48 * i;
        CHECK_EQ_U64(tu_le32(e), i + 1);
        CHECK_EQ_U64(tu_le32(e + 4), 0);
        CHECK(memmem(b, len, keys[i], 32) == NULL); /* never in clear */
        ref_unwrap(kek, i + 1, e + 8, k);
        CHECK(memcmp(k, keys[i], 32) == 0);
    }
    CHECK_EQ_U64(tu_le32(b + len - 8), tu_crc32c(0, b, len - 8));
    CHECK_EQ_U64(tu_le32(b + len - 4), 0);
    /* Deterministic encoding: decode then encode gives the same bytes. */
    rw_keyring *kr;
    CHECK_OK(rw_keys_decode(b, len, "KEYS", log_id, master_a, &kr));
    uint8_t *again;
    size_t alen;
    CHECK_OK(rw_keys_encode(kr, &again, &alen));
    CHECK(alen == len && memcmp(again, b, len) == 0);
    free(again);
    rw_keys_free(kr);
    /* The file has the mode asked for, and no KEYS.tmp is left. */
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(stat(tu_path(path, dir, "KEYS.tmp"), &st) != 0 && errno == ENOENT);
    free(b);
}

static void test_wrong_key_and_messages(void)
{
    const char *dir = tu_tmpdir();
    uint8_t keys[NSESS][32];
    make_keys(dir, 77, master_a, keys);
    int dfd = open_dir(dir);
    rw_keyring *kr = NULL;
    CHECK_RC(rw_keys_load(dfd, dir, 77, master_b, &kr), RAFTWAL_EKEY);
    CHECK(kr == NULL);
    const char *msg = raftwal_errmsg();
    CHECK_MSG(strstr(msg, "wrong key") && strstr(msg, "KEYS"), "message: %s", msg);
    check_no_key_in(msg, master_a, 32);
    check_no_key_in(msg, master_b, 32);
    for (int i = 0; i < NSESS; i++)
        check_no_key_in(msg, keys[i], 32);
    /* Another log's id: corruption, naming the file and offset 16. */
    CHECK_RC(rw_keys_load(dfd, dir, 78, master_a, &kr), RAFTWAL_ECORRUPT);
    CHECK_MSG(strstr(raftwal_errmsg(), "KEYS: offset 16"), "message: %s", raftwal_errmsg());
    close(dfd);
    /* No KEYS: "not encrypted". */
    const char *plain = tu_tmpdir();
    dfd = open_dir(plain);
    CHECK_EQ_U64(rw_keys_present(dfd), 0);
    CHECK_RC(rw_keys_load(dfd, plain, 77, master_a, &kr), RAFTWAL_EKEY);
    CHECK_MSG(strstr(raftwal_errmsg(), "not encrypted"), "message: %s", raftwal_errmsg());
    close(dfd);
    dfd = open_dir(dir);
    CHECK_EQ_U64(rw_keys_present(dfd), 1);
    close(dfd);
}

/* Decodes a damaged image on an exact-size heap copy: never success. */
static void check_refused(const uint8_t *img, size_t len, uint64_t log_id, const char *what,
                          size_t at, uint8_t keys[NSESS][32])
{
    uint8_t *copy = malloc(len ? len : 1);
    CHECK(copy);
    if (len)
        memcpy(copy, img, len);
    rw_keyring *kr = NULL;
    int rc = rw_keys_decode(copy, len, "KEYS", log_id, master_a, &kr);
    CHECK_MSG(rc == RAFTWAL_ECORRUPT || rc == RAFTWAL_EKEY || rc == RAFTWAL_EVERSION,
              "%s at %zu: rc %d", what, at, rc);
    CHECK(kr == NULL);
    const char *msg = raftwal_errmsg();
    CHECK_MSG(strstr(msg, "KEYS"), "%s at %zu: message %s", what, at, msg);
    check_no_key_in(msg, master_a, 32);
    for (int i = 0; i < NSESS; i++)
        check_no_key_in(msg, keys[i], 32);
    free(copy);
}

static void test_tampered_and_truncated(void)
{
    const char *dir = tu_tmpdir();
    const uint64_t log_id = 0xfeedf00dull;
    uint8_t keys[NSESS][32];
    make_keys(dir, log_id, master_a, keys);
    char path[1024];
    size_t len;
    uint8_t *b = read_all(tu_path(path, dir, "KEYS"), &len);
    uint8_t *t = malloc(len + 64);
    CHECK(t);
    size_t tries = 0;
    for (size_t off = 0; off < len; off++) {
        static const uint8_t flips[] = {0x01, 0x80, 0xff};
        for (size_t f = 0; f < sizeof flips; f++) {
            memcpy(t, b, len);
            t[off] ^= flips[f];
            check_refused(t, len, log_id, "flip", off, keys);
            /* The same change with the CRC made valid again: the checks
             * after the CRC refuse it too (the wraps are bound to ids). */
            if (off < len - 8) {
                rw_put32(t + len - 8, rw_crc32c(0, t, len - 8));
                check_refused(t, len, log_id, "flip, CRC fixed", off, keys);
            }
            tries++;
        }
    }
    for (size_t n = 0; n < len; n++) /* every truncation */
        check_refused(b, n, log_id, "truncated", n, keys);
    memcpy(t, b, len); /* a longer file */
    memset(t + len, 0, 64);
    check_refused(t, len + 48, log_id, "extended", len, keys);
    /* N out of bounds, and ids not increasing, with valid CRCs. */
    memcpy(t, b, len);
    rw_put32(t + 12, (1u << 20) + 1);
    rw_put32(t + len - 8, rw_crc32c(0, t, len - 8));
    check_refused(t, len, log_id, "huge N", 12, keys);
    memcpy(t, b, len);
    rw_put32(t + 48 + 48, 1); /* second id = first id */
    rw_put32(t + len - 8, rw_crc32c(0, t, len - 8));
    check_refused(t, len, log_id, "repeated id", 96, keys);
    CHECK_MSG(strstr(raftwal_errmsg(), "offset 96"), "%s", raftwal_errmsg());
    /* An unknown version (valid CRC) is a version error. */
    memcpy(t, b, len);
    rw_put32(t + 8, 2);
    rw_put32(t + len - 8, rw_crc32c(0, t, len - 8));
    rw_keyring *kr = NULL;
    CHECK_RC(rw_keys_decode(t, len, "KEYS", log_id, master_a, &kr), RAFTWAL_EVERSION);
    /* Through the file, too: a truncated KEYS is a clean ECORRUPT. */
    write_all(path, b, len - 1);
    int dfd = open_dir(dir);
    CHECK_RC(rw_keys_load(dfd, dir, log_id, master_a, &kr), RAFTWAL_ECORRUPT);
    close(dfd);
    printf("  %zu damaged images and %zu truncations refused\n", tries * 2, len);
    free(t);
    free(b);
}

static void test_sessions_gc_and_reload(void)
{
    const char *dir = tu_tmpdir();
    uint8_t keys[NSESS][32];
    make_keys(dir, 5, master_a, keys);
    int dfd = open_dir(dir);
    rw_keyring *reader, *writer;
    CHECK_OK(rw_keys_load(dfd, dir, 5, master_a, &reader));
    CHECK_OK(rw_keys_load(dfd, dir, 5, master_a, &writer));
    uint32_t id = 0;
    CHECK_OK(rw_keys_new_session(writer, dfd, dir, 0600, 3, &id)); /* drops 1 and 2 */
    CHECK_EQ_U64(id, 4);
    CHECK(rw_keys_data_key(writer, 1) == NULL && rw_keys_data_key(writer, 2) == NULL);
    CHECK(memcmp(rw_keys_data_key(writer, 3), keys[2], 32) == 0);
    uint8_t k4[32];
    memcpy(k4, rw_keys_data_key(writer, 4), 32);
    rw_keyring *fresh;
    CHECK_OK(rw_keys_load(dfd, dir, 5, master_a, &fresh));
    CHECK(rw_keys_data_key(fresh, 1) == NULL && rw_keys_data_key(fresh, 3) != NULL);
    CHECK(memcmp(rw_keys_data_key(fresh, 4), k4, 32) == 0);
    rw_keys_free(fresh);
    /* The reader meets id 4: reload adds it and keeps 1 and 2. */
    CHECK(rw_keys_data_key(reader, 4) == NULL);
    CHECK_OK(rw_keys_reload(reader, dfd, dir));
    for (uint32_t i = 1; i <= 3; i++)
        CHECK(memcmp(rw_keys_data_key(reader, i), keys[i - 1], 32) == 0);
    CHECK(memcmp(rw_keys_data_key(reader, 4), k4, 32) == 0);
    CHECK_EQ_U64(rw_keys_max_id(reader), 4);
    /* After a rekey the reader's reload is a key error, and changes nothing. */
    CHECK_OK(rw_keys_rewrap(writer, dfd, dir, 0600, master_b));
    CHECK_RC(rw_keys_reload(reader, dfd, dir), RAFTWAL_EKEY);
    CHECK(memcmp(rw_keys_data_key(reader, 4), k4, 32) == 0);
    rw_keys_free(reader);
    rw_keys_free(writer);
    /* create replaces a KEYS left by a creation that crashed. */
    rw_keyring *kr;
    CHECK_OK(rw_keys_create(dfd, dir, 6, master_c, 0600, &kr));
    rw_keys_free(kr);
    CHECK_OK(rw_keys_load(dfd, dir, 6, master_c, &kr));
    CHECK_EQ_U64(rw_keys_max_id(kr), 0);
    rw_keys_free(kr);
    close(dfd);
}

/* ---- raftwal_rekey ---------------------------------------------------- */

/* The directory's writer lock, taken as a writable open takes it. (The
 * log here is a plaintext one with a planted KEYS file: since the engine
 * reads KEYS, opening it for writing needs a key, and its plaintext
 * records would then be corruption.) */
static void hold_lock(const char *dir, raftwal_log *lk)
{
    struct stat st;
    memset(lk, 0, sizeof *lk);
    lk->lockfd = -1;
    lk->mode = 0600;
    lk->path = (char *)(uintptr_t)dir;
    lk->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(lk->dirfd >= 0 && fstat(lk->dirfd, &st) == 0);
    lk->dev = st.st_dev;
    lk->ino = st.st_ino;
    CHECK_OK(rw_lock_acquire(lk));
}

static void drop_lock(raftwal_log *lk)
{
    rw_lock_release(lk);
    close(lk->dirfd);
}

/* A plaintext log in a new directory; its log id. */
static const char *make_log(uint64_t *log_id)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log;
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    CHECK_OK(raftwal_log_open(&log, dir, &o));
    CHECK_OK(raftwal_log_close(log));
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d)) != NULL && !found) {
        size_t n = strlen(e->d_name);
        if (n != 20 || strcmp(e->d_name + 16, ".wal") != 0)
            continue;
        char path[1024];
        size_t len;
        uint8_t *b = read_all(tu_path(path, dir, e->d_name), &len);
        rw_seg_header h;
        CHECK(rw_header_decode(b, len, &h) == RW_HDR_OK);
        *log_id = h.log_id;
        found = 1;
        free(b);
    }
    closedir(d);
    CHECK(found);
    return dir;
}

static void test_rekey(void)
{
    uint64_t log_id;
    const char *dir = make_log(&log_id);
    uint8_t keys[NSESS][32];
    /* A plaintext log: no key to change. */
    CHECK_RC(raftwal_rekey(dir, master_a, 32, master_b, 32), RAFTWAL_EKEY);
    CHECK_MSG(strstr(raftwal_errmsg(), "not encrypted"), "%s", raftwal_errmsg());
    make_keys(dir, log_id, master_a, keys);
    char path[1024];
    chmod(tu_path(path, dir, "KEYS"), 0640);

    CHECK_OK(raftwal_rekey(dir, master_a, 32, master_b, 32));
    CHECK(strcmp(raftwal_errmsg(), "") == 0);
    check_loads(dir, log_id, master_b, keys);
    int dfd = open_dir(dir);
    rw_keyring *kr = NULL;
    CHECK_RC(rw_keys_load(dfd, dir, log_id, master_a, &kr), RAFTWAL_EKEY);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640);

    /* A wrong old key: EKEY, the file unchanged byte for byte. */
    size_t l1, l2;
    uint8_t *before = read_all(path, &l1);
    CHECK_RC(raftwal_rekey(dir, master_a, 32, master_c, 32), RAFTWAL_EKEY);
    const char *msg = raftwal_errmsg();
    CHECK_MSG(strstr(msg, "wrong key"), "%s", msg);
    check_no_key_in(msg, master_a, 32);
    check_no_key_in(msg, master_b, 32);
    check_no_key_in(msg, master_c, 32);
    uint8_t *after = read_all(path, &l2);
    CHECK(l1 == l2 && memcmp(before, after, l1) == 0);
    free(before);
    free(after);

    /* Twice: b -> c, with a stale KEYS.tmp (a crash) that rekey removes. */
    write_all(tu_path(path, dir, "KEYS.tmp"), "torn", 4);
    CHECK_OK(raftwal_rekey(dir, master_b, 32, master_c, 32));
    CHECK(stat(path, &st) != 0 && errno == ENOENT);
    check_loads(dir, log_id, master_c, keys);
    CHECK_RC(rw_keys_load(dfd, dir, log_id, master_b, &kr), RAFTWAL_EKEY);

    /* The log open for writing (its lock held): ELOCKED, nothing changed. */
    raftwal_log lk;
    hold_lock(dir, &lk);
    CHECK_RC(raftwal_rekey(dir, master_c, 32, master_a, 32), RAFTWAL_ELOCKED);
    drop_lock(&lk);
    check_loads(dir, log_id, master_c, keys);
    /* ... also when the writer is another process. */
    int up[2], down[2];
    CHECK(pipe(up) == 0 && pipe(down) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        char c = 0;
        hold_lock(dir, &lk);
        int ok = 1;
        if (write(up[1], &c, 1) != 1 || read(down[0], &c, 1) != 1)
            _exit(2);
        _exit(ok ? 0 : 1);
    }
    char c;
    CHECK(read(up[0], &c, 1) == 1);
    CHECK_RC(raftwal_rekey(dir, master_c, 32, master_a, 32), RAFTWAL_ELOCKED);
    CHECK_MSG(strstr(raftwal_errmsg(), "another process"), "%s", raftwal_errmsg());
    CHECK(write(down[1], &c, 1) == 1);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    check_loads(dir, log_id, master_c, keys);
    close(dfd);

    /* Arguments and missing logs. */
    CHECK_RC(raftwal_rekey(NULL, master_a, 32, master_b, 32), RAFTWAL_EINVAL);
    CHECK_RC(raftwal_rekey(dir, master_a, 31, master_b, 32), RAFTWAL_EINVAL);
    CHECK_RC(raftwal_rekey(dir, master_a, 32, NULL, 32), RAFTWAL_EINVAL);
    CHECK_RC(raftwal_rekey("/nonexistent/raftwal-rekey", master_a, 32, master_b, 32),
             RAFTWAL_ENOTFOUND);
    CHECK_RC(raftwal_rekey(tu_tmpdir(), master_a, 32, master_b, 32), RAFTWAL_ENOTFOUND);
}

int main(void)
{
    make_masters();
    test_round_trip_and_layout();
    test_wrong_key_and_messages();
    test_tampered_and_truncated();
    test_sessions_gc_and_reload();
    test_rekey();
    printf("c_unit_keys: ok\n");
    return 0;
}
