/* codec.c -- compression (and, next, authenticated encryption) of record
 * payloads: the one place that turns a record's data into its stored
 * bytes and back (docs/format.md, section 7). */
#include "codec.h"

#include <inttypes.h>
#include <pthread.h>
#include <string.h>

#ifdef RAFTWAL_HAVE_LZ4
#include <lz4.h>
#endif
#ifdef RAFTWAL_HAVE_ZSTD
#include <zstd.h>
#endif
#ifdef RAFTWAL_HAVE_OPENSSL
#include <openssl/crypto.h>
#include <openssl/evp.h>
#endif
#include <stdlib.h>

#include "error.h"
#include "io.h"
#include "keys.h"

unsigned int rw_codec_features(void)
{
    unsigned int f = 0;
#ifdef RAFTWAL_HAVE_LZ4
    f |= RAFTWAL_FEATURE_LZ4;
#endif
#ifdef RAFTWAL_HAVE_ZSTD
    f |= RAFTWAL_FEATURE_ZSTD;
#endif
#ifdef RAFTWAL_HAVE_OPENSSL
    f |= RAFTWAL_FEATURE_ENCRYPTION;
#endif
    return f;
}

int rw_codec_check_options(const raftwal_options *opts)
{
    unsigned int have = rw_codec_features();
    if (opts->key || opts->key_size) {
        if (!opts->key || opts->key_size != RAFTWAL_KEY_SIZE)
            return rw_err(RAFTWAL_EINVAL, "a key must be %u bytes (key_size is %zu)",
                          RAFTWAL_KEY_SIZE, opts->key_size);
        if (!(have & RAFTWAL_FEATURE_ENCRYPTION))
            return rw_err(RAFTWAL_EINVAL, "this build of raftwal has no encryption "
                          "(raftwal_features())");
    }
    switch (opts->compression) {
    case RAFTWAL_COMPRESS_NONE:
        return 0;
    case RAFTWAL_COMPRESS_LZ4:
        if (!(have & RAFTWAL_FEATURE_LZ4))
            return rw_err(RAFTWAL_EINVAL, "this build of raftwal has no LZ4 (raftwal_features())");
        return 0;
    case RAFTWAL_COMPRESS_ZSTD:
        if (!(have & RAFTWAL_FEATURE_ZSTD))
            return rw_err(RAFTWAL_EINVAL, "this build of raftwal has no zstd (raftwal_features())");
        return 0;
    default:
        return rw_err(RAFTWAL_EINVAL, "unknown compression %u", opts->compression);
    }
}

void rw_codec_init(rw_codec *c, const raftwal_options *opts)
{
    memset(c, 0, sizeof *c);
    c->compress_min = RW_COMPRESS_MIN_DEFAULT;
    if (!opts)
        return;
    c->compression = opts->compression;
    if (opts->compress_min)
        c->compress_min = opts->compress_min;
}

int rw_codec_wants_v2(const rw_codec *c)
{
    return c->compression != RAFTWAL_COMPRESS_NONE || c->encrypted;
}

/* Readers' contexts, each keyed (for decryption) with the data key of
 * `id`: an open takes one for its key id (or keys a new one) and puts it
 * back. Keying a context costs more than opening a 1 KiB record (random
 * gets of an encrypted log: 0.30 of plaintext with a context per record). */
#define RW_CTX_POOL 8
struct rw_ctx_pool {
    pthread_mutex_t mu;
    size_t n;
    uint32_t id[RW_CTX_POOL];
    void *ctx[RW_CTX_POOL];
};

void rw_codec_use_pool(rw_codec *c)
{
    if (c->pool)
        return;
    struct rw_ctx_pool *p = calloc(1, sizeof *p);
    if (!p)
        return; /* a context per record */
    pthread_mutex_init(&p->mu, NULL);
    c->pool = p;
}

#ifdef RAFTWAL_HAVE_OPENSSL
static void *pool_take(const rw_codec *c, uint32_t id)
{
    struct rw_ctx_pool *p = c->pool;
    void *x = NULL;
    if (!p)
        return NULL;
    pthread_mutex_lock(&p->mu);
    for (size_t i = p->n; i-- > 0;)
        if (p->id[i] == id) {
            x = p->ctx[i];
            p->n--;
            p->id[i] = p->id[p->n];
            p->ctx[i] = p->ctx[p->n];
            break;
        }
    pthread_mutex_unlock(&p->mu);
    return x;
}

/* A context keyed for decryption under key, or NULL. */
static void *keyed_decrypt_ctx(const uint8_t *key)
{
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    if (x && (EVP_CipherInit_ex(x, EVP_aes_256_gcm(), NULL, NULL, NULL, 0) != 1 ||
              EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_IVLEN, RW_NONCE_SIZE, NULL) != 1 ||
              EVP_CipherInit_ex(x, NULL, NULL, key, NULL, 0) != 1)) {
        EVP_CIPHER_CTX_free(x);
        x = NULL;
    }
    return x;
}
#endif

static void pool_put(const rw_codec *c, uint32_t id, void *x)
{
    struct rw_ctx_pool *p = c->pool;
    if (!x)
        return;
    if (p) {
        pthread_mutex_lock(&p->mu);
        if (p->n < RW_CTX_POOL) {
            p->id[p->n] = id;
            p->ctx[p->n++] = x;
            x = NULL;
        }
        pthread_mutex_unlock(&p->mu);
    }
#ifdef RAFTWAL_HAVE_OPENSSL
    EVP_CIPHER_CTX_free(x); /* the pool is full */
#endif
}

void rw_codec_free(rw_codec *c)
{
#ifdef RAFTWAL_HAVE_OPENSSL
    EVP_CIPHER_CTX_free(c->wctx); /* clears its key schedule */
    if (c->pool)
        for (size_t i = 0; i < c->pool->n; i++)
            EVP_CIPHER_CTX_free(c->pool->ctx[i]);
#endif
    if (c->pool) {
        pthread_mutex_destroy(&c->pool->mu);
        free(c->pool);
        c->pool = NULL;
    }
    c->wctx = NULL;
    rw_keys_free(c->keys);
    c->keys = NULL;
}

void rw_codec_start_session(rw_codec *c, uint32_t id)
{
    c->session = id;
#ifdef RAFTWAL_HAVE_OPENSSL
    /* One context for the session, its key schedule computed once: each
     * record then only sets its nonce (1 KiB x 16 appends without syncs:
     * a context per record cost 40 % of the throughput). */
    const uint8_t *key = rw_keys_data_key(c->keys, id);
    EVP_CIPHER_CTX *x = key ? EVP_CIPHER_CTX_new() : NULL;
    if (x && (EVP_CipherInit_ex(x, EVP_aes_256_gcm(), NULL, NULL, NULL, 1) != 1 ||
              EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_IVLEN, RW_NONCE_SIZE, NULL) != 1 ||
              EVP_CipherInit_ex(x, NULL, NULL, key, NULL, 1) != 1)) {
        EVP_CIPHER_CTX_free(x);
        x = NULL; /* then a context per record */
    }
    EVP_CIPHER_CTX_free(c->wctx);
    c->wctx = x;
#endif
    do
        c->counter0 = (uint32_t)rw_random64();
    while (c->counter0 == 0);
    c->counter = c->counter0;
    c->counter_wrapped = 0;
}

int rw_codec_next_salt(rw_codec *c, uint64_t not_salt, uint64_t *salt)
{
    if (!c->encrypted) {
        do
            *salt = rw_random64();
        while (*salt == 0 || *salt == not_salt);
        return 0;
    }
    /* Each salt once per session: counter0, counter0 + 1, ..., skipping 0,
     * never back to counter0. */
    if (c->counter_wrapped)
        return rw_err(RAFTWAL_EIO, "the session has used all its 2^32 - 1 salts: reopen the log");
    *salt = (uint64_t)c->session << 32 | c->counter;
    do
        c->counter++;
    while (c->counter == 0);
    if (c->counter == c->counter0)
        c->counter_wrapped = 1;
    return 0;
}

const rw_seal_ctx *rw_codec_writer_seal(const rw_codec *c, uint64_t salt, uint64_t off,
                                        rw_seal_ctx *buf)
{
    if (!c->encrypted)
        return NULL;
    buf->key = rw_keys_data_key(c->keys, (uint32_t)(salt >> 32));
    buf->salt = salt;
    buf->off = off;
    buf->evp = (uint32_t)(salt >> 32) == c->session ? c->wctx : NULL;
    return buf;
}

int rw_codec_verify(const rw_codec *c, uint32_t version, uint64_t salt, uint64_t off,
                    const char *name, const rw_rec *r, rw_codec_buf *b)
{
    const char *why = NULL;
    int rc = rw_codec_check_log(c, version, r, &why);
    if (rc)
        return rw_err(rc, "%s: offset %" PRIu64 ": %s", name, off, why);
    if (!(r->codec & RW_CODEC_SEALED))
        return 0; /* a compressed entry is decoded when it is read */
    rw_rec copy = *r;
    return rw_codec_view(c, version, salt, off, name, &copy, b);
}

/* ---- write path ------------------------------------------------------ */

/* zstd level 1: per entry (no dictionary), level 3 stores about the same
 * bytes (2% fewer at 1 KiB, 5% more at 16 KiB) for up to a third more CPU
 * on the appender (measured: docs/format.md §7.5). */
#define RW_ZSTD_LEVEL 1

#ifdef RAFTWAL_HAVE_ZSTD
/* zstd's one-shot calls set up a context per call (tens of KiB, zeroed):
 * per entry that cost more than the compression itself (gets of 1 KiB
 * entries ran 10x slower than with LZ4). Each thread keeps one context
 * per direction, freed when the thread exits; NULL (out of memory) falls
 * back to the one-shot calls. */
typedef struct zstd_ctxs {
    ZSTD_CCtx *c;
    ZSTD_DCtx *d;
} zstd_ctxs;

static pthread_key_t zstd_key;
static pthread_once_t zstd_once = PTHREAD_ONCE_INIT;
static int zstd_key_ok;

static void free_zstd_ctxs(void *p)
{
    zstd_ctxs *z = p;
    ZSTD_freeCCtx(z->c);
    ZSTD_freeDCtx(z->d);
    free(z);
}

static void make_zstd_key(void)
{
    zstd_key_ok = pthread_key_create(&zstd_key, free_zstd_ctxs) == 0;
}

static zstd_ctxs *thread_zstd(void)
{
    pthread_once(&zstd_once, make_zstd_key);
    if (!zstd_key_ok)
        return NULL;
    zstd_ctxs *z = pthread_getspecific(zstd_key);
    if (z)
        return z;
    if (!(z = calloc(1, sizeof *z)))
        return NULL;
    z->c = ZSTD_createCCtx();
    z->d = ZSTD_createDCtx();
    if (pthread_setspecific(zstd_key, z) != 0) {
        free_zstd_ctxs(z);
        return NULL;
    }
    return z;
}
#endif

/* Compresses data into block (cap bytes) with the log's compression.
 * Returns the block's length, or 0 if it does not fit in cap. */
static size_t compress_block(unsigned int compression, uint8_t *block, size_t cap,
                             const void *data, size_t size)
{
#ifdef RAFTWAL_HAVE_LZ4
    if (compression == RAFTWAL_COMPRESS_LZ4) {
        /* LZ4 gives up (0) when the block does not fit in cap. */
        int n = LZ4_compress_default(data, (char *)block, (int)size, (int)cap);
        return n > 0 ? (size_t)n : 0;
    }
#endif
#ifdef RAFTWAL_HAVE_ZSTD
    if (compression == RAFTWAL_COMPRESS_ZSTD) {
        /* An error (dstSize_tooSmall among them) means: store it plain. */
        zstd_ctxs *z = thread_zstd();
        size_t n = z && z->c ? ZSTD_compressCCtx(z->c, block, cap, data, size, RW_ZSTD_LEVEL)
                             : ZSTD_compress(block, cap, data, size, RW_ZSTD_LEVEL);
        return ZSTD_isError(n) ? 0 : n;
    }
#endif
    (void)compression;
    (void)block;
    (void)cap;
    (void)data;
    (void)size;
    return 0;
}

/* Compresses e's data into payload as [raw_len][block] if its record then
 * takes fewer bytes than the plain one (padding included). Returns the
 * stored length, or 0 to store the entry as it is. */
static uint32_t compress_entry(unsigned int compression, uint8_t *payload, const raftwal_entry *e)
{
    /* rw_pad8(4 + clen) < rw_pad8(size) <=> 4 + clen <= rw_pad8(size) - 8 */
    uint64_t room = rw_pad8(e->size);
    if (room < 8 + 4 + 1)
        return 0;
    /* payload has room for the plain record: the block fits in it. */
    size_t n = compress_block(compression, payload + 4, (size_t)(room - 8 - 4), e->data, e->size);
    if (n == 0)
        return 0;
    rw_put32(payload, (uint32_t)e->size);
    return 4u + (uint32_t)n;
}

/* Decompresses a block (codec: the record's compression bit) into dst,
 * which must come out exactly raw bytes long. 0, or -1 with *why. */
static int decompress_block(uint8_t codec, const uint8_t *block, size_t len, void *dst,
                            uint32_t raw, const char **why)
{
    if (codec & RW_CODEC_LZ4) {
#ifdef RAFTWAL_HAVE_LZ4
        /* Bounded by raw_len: output past it is refused by LZ4 itself, and a
         * shorter output is as wrong as a longer one. */
        int n = LZ4_decompress_safe((const char *)block, dst, (int)len, (int)raw);
        if (n < 0 || (uint32_t)n != raw) {
            *why = "compressed entry does not decompress to its raw length";
            return -1;
        }
        return 0;
#else
        *why = "LZ4-compressed entry, and this build has no LZ4";
        return -1;
#endif
    }
#ifdef RAFTWAL_HAVE_ZSTD
    /* The frame's own content size, when it states one, must be raw_len
     * (a frame claiming more is refused before any work); the output is
     * bounded by raw_len anyway and must fill it exactly. */
    unsigned long long stated = ZSTD_getFrameContentSize(block, len);
    if (stated == ZSTD_CONTENTSIZE_ERROR || (stated != ZSTD_CONTENTSIZE_UNKNOWN && stated != raw)) {
        *why = "zstd frame does not state the entry's raw length";
        return -1;
    }
    zstd_ctxs *z = thread_zstd();
    size_t n = z && z->d ? ZSTD_decompressDCtx(z->d, dst, raw, block, len)
                         : ZSTD_decompress(dst, raw, block, len);
    if (ZSTD_isError(n) || n != raw) {
        *why = "compressed entry does not decompress to its raw length";
        return -1;
    }
    return 0;
#else
    (void)block;
    (void)len;
    (void)dst;
    (void)raw;
    *why = "zstd-compressed entry, and this build has no zstd";
    return -1;
#endif
}

size_t rw_codec_encode_entry(const rw_codec *c, uint32_t version, uint8_t *out, uint64_t salt,
                             const raftwal_entry *e, int *compressed)
{
    return rw_codec_encode_record(c, version, NULL, out, salt, RW_REC_ENTRY, e->type, e->index,
                                  e->term, e->data, (uint32_t)e->size, compressed);
}

/* ---- read path ------------------------------------------------------- */

int rw_codec_check(uint32_t version, const rw_rec *r, const char **why)
{
    if (r->codec == 0)
        return 0;
    if (version < RW_FORMAT_VERSION_CODEC) {
        *why = "a codec byte in a version 1 segment";
        return RAFTWAL_ECORRUPT;
    }
    if (r->codec & RW_CODEC_COMPRESSED) {
        if (r->len < 4) {
            *why = "compressed record shorter than its raw length";
            return RAFTWAL_ECORRUPT;
        }
        uint32_t raw = rw_get32(r->payload);
        if (raw == 0 || raw > rw_rec_max_len(r->type)) {
            *why = "compressed record's raw length is 0 or too large for its type";
            return RAFTWAL_ECORRUPT;
        }
    }
    if ((r->codec & RW_CODEC_LZ4) && !(rw_codec_features() & RAFTWAL_FEATURE_LZ4)) {
        *why = "LZ4-compressed entries, and this build of raftwal has no LZ4 (raftwal_features())";
        return RAFTWAL_EVERSION;
    }
    if ((r->codec & RW_CODEC_ZSTD) && !(rw_codec_features() & RAFTWAL_FEATURE_ZSTD)) {
        *why = "zstd-compressed entries, and this build of raftwal has no zstd (raftwal_features())";
        return RAFTWAL_EVERSION;
    }
    if ((r->codec & RW_CODEC_SEALED) && !(rw_codec_features() & RAFTWAL_FEATURE_ENCRYPTION)) {
        *why = "encrypted records, and this build of raftwal has no encryption (raftwal_features())";
        return RAFTWAL_EVERSION;
    }
    if ((r->codec & RW_CODEC_SEALED) &&
        r->len < ((r->codec & RW_CODEC_COMPRESSED) ? 4u : 0u) + RW_TAG_SIZE) {
        *why = "sealed record shorter than its tag";
        return RAFTWAL_ECORRUPT;
    }
    if (r->codec & ~(uint8_t)RW_CODEC_KNOWN) {
        *why = "unsupported record codec"; /* rw_rec_decode lets no other bit through */
        return RAFTWAL_EVERSION;
    }
    return 0;
}

int rw_codec_check_log(const rw_codec *c, uint32_t version, const rw_rec *r, const char **why)
{
    int rc = rw_codec_check(version, r, why);
    if (rc)
        return rc;
    int must_seal = c->encrypted && r->type != RW_REC_FOOTER && r->type != RW_REC_SEAL;
    if (must_seal != ((r->codec & RW_CODEC_SEALED) != 0)) {
        *why = must_seal ? "record not sealed in an encrypted log"
                         : "sealed record in a log that is not encrypted";
        return RAFTWAL_ECORRUPT;
    }
    return 0;
}

/* The salt naming a sealed record's key and nonce: its epoch's, but the
 * one it starts for an EPOCH (docs/format.md §7.3). */
static uint64_t seal_salt(const rw_rec *r, uint64_t salt)
{
    return r->type == RW_REC_EPOCH ? r->b : salt;
}

int rw_codec_open_data(const rw_codec *c, uint64_t salt, uint64_t off, const rw_rec *r,
                       void *dst, size_t cap, const char **why)
{
    if (!(r->codec & RW_CODEC_SEALED))
        return rw_codec_decode(r, dst, cap, why);
    rw_seal_ctx sc = {NULL, seal_salt(r, salt), off, NULL};
    uint32_t id = (uint32_t)(sc.salt >> 32);
    sc.key = c->keys ? rw_keys_data_key(c->keys, id) : NULL;
    if (!sc.key) {
        *why = "sealed under a data key the log's KEYS file does not hold";
        return -1;
    }
#ifdef RAFTWAL_HAVE_OPENSSL
    if (c->pool && !(sc.evp = pool_take(c, id)))
        sc.evp = keyed_decrypt_ctx(sc.key);
#endif
    int rc = rw_codec_open_record(&sc, r->payload - RW_REC_HEADER, r, dst, cap, why);
    pool_put(c, id, sc.evp);
    return rc;
}

int rw_codec_view(const rw_codec *c, uint32_t version, uint64_t salt, uint64_t off,
                  const char *name, rw_rec *r, rw_codec_buf *b)
{
    const char *why = NULL;
    int rc = rw_codec_check_log(c, version, r, &why);
    if (rc)
        return rw_err(rc, "%s: offset %" PRIu64 ": %s", name, off, why);
    if (r->codec == 0)
        return 0;
    uint32_t size = rw_codec_data_size(r);
    if (size > b->cap) {
        uint8_t *p = realloc(b->p, size);
        if (!p)
            return rw_err(RAFTWAL_ENOMEM, "out of memory for a %" PRIu32 "-byte record", size);
        b->p = p;
        b->cap = size;
    }
    if (rw_codec_open_data(c, salt, off, r, b->p, b->cap, &why) != 0)
        return rw_err(RAFTWAL_ECORRUPT, "%s: offset %" PRIu64 ": %s", name, off, why);
    r->payload = b->p;
    r->len = size;
    r->codec = 0;
    return 0;
}

uint32_t rw_codec_data_size(const rw_rec *r)
{
    if (r->codec & RW_CODEC_COMPRESSED)
        return rw_get32(r->payload);
    return (r->codec & RW_CODEC_SEALED) ? r->len - RW_TAG_SIZE : r->len;
}

int rw_codec_decode(const rw_rec *r, void *dst, size_t cap, const char **why)
{
    uint32_t raw = rw_codec_data_size(r);
    if (r->codec & RW_CODEC_SEALED) {
        *why = "sealed record: only its key opens it"; /* rw_codec_open_data's job */
        return -1;
    }
    if (cap < raw) {
        *why = "decode buffer too small"; /* a caller's bug, never the data's */
        return -1;
    }
    if (!(r->codec & RW_CODEC_COMPRESSED)) {
        if (r->len)
            memcpy(dst, r->payload, r->len);
        return 0;
    }
    return decompress_block(r->codec, r->payload + 4, r->len - 4, dst, raw, why);
}

/* ---- encryption ------------------------------------------------------ */

void (*rw_codec_nonce_hook)(uint32_t key_id, const uint8_t nonce[RW_NONCE_SIZE]);

#ifdef RAFTWAL_HAVE_OPENSSL
static void make_nonce(const rw_seal_ctx *sc, uint8_t nonce[RW_NONCE_SIZE])
{
    rw_put64(nonce, sc->salt);
    rw_put32(nonce + 8, (uint32_t)sc->off);
}

/* AAD: salt || record header bytes 4..31 || raw_len when compressed. */
static size_t make_aad(const rw_seal_ctx *sc, const uint8_t *hdr, uint8_t codec,
                       const uint8_t *payload, uint8_t aad[8 + 28 + 4])
{
    rw_put64(aad, sc->salt);
    memcpy(aad + 8, hdr + 4, RW_REC_HEADER - 4);
    if (!(codec & RW_CODEC_COMPRESSED))
        return 8 + RW_REC_HEADER - 4;
    memcpy(aad + 8 + RW_REC_HEADER - 4, payload, 4);
    return 8 + RW_REC_HEADER;
}

/* One AES-256-GCM pass: encrypt (in -> out, tag written) or decrypt (in ->
 * out, tag checked). A context per call: readers seal and open from any
 * thread. 0 or -1. */
static int gcm(int encrypt, const rw_seal_ctx *sc, const uint8_t *aad, size_t aad_len,
               const uint8_t *in, uint8_t *out, size_t n, uint8_t tag[RW_TAG_SIZE])
{
    uint8_t nonce[RW_NONCE_SIZE];
    make_nonce(sc, nonce);
    /* sc->evp: keyed already, for this direction (the writer's context
     * encrypts, the pool's decrypt); a new nonce resets the GCM state. */
    EVP_CIPHER_CTX *x = sc->evp ? sc->evp : EVP_CIPHER_CTX_new();
    int len = 0, ok = x != NULL;
    if (x == sc->evp) {
        ok = ok && EVP_CipherInit_ex(x, NULL, NULL, NULL, nonce, encrypt) == 1;
    } else {
        ok = ok && EVP_CipherInit_ex(x, EVP_aes_256_gcm(), NULL, NULL, NULL, encrypt) == 1;
        ok = ok && EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_IVLEN, RW_NONCE_SIZE, NULL) == 1;
        ok = ok && EVP_CipherInit_ex(x, NULL, NULL, sc->key, nonce, encrypt) == 1;
    }
    ok = ok && EVP_CipherUpdate(x, NULL, &len, aad, (int)aad_len) == 1;
    ok = ok && (n == 0 || EVP_CipherUpdate(x, out, &len, in, (int)n) == 1);
    if (ok && !encrypt)
        ok = EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, RW_TAG_SIZE, tag) == 1;
    ok = ok && EVP_CipherFinal_ex(x, n ? out + len : out, &len) == 1; /* GCM writes nothing here */
    if (ok && encrypt)
        ok = EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, RW_TAG_SIZE, tag) == 1;
    if (x != sc->evp)
        EVP_CIPHER_CTX_free(x);
    if (ok && encrypt && rw_codec_nonce_hook)
        rw_codec_nonce_hook((uint32_t)(sc->salt >> 32), nonce);
    return ok ? 0 : -1;
}
#endif

size_t rw_codec_encode_record(const rw_codec *c, uint32_t version, const rw_seal_ctx *sc,
                              uint8_t *out, uint64_t crc_salt, uint8_t type, uint32_t aux,
                              uint64_t a, uint64_t b, const void *data, uint32_t len,
                              int *compressed)
{
    int dummy;
    if (!compressed)
        compressed = &dummy;
    *compressed = 0;
    uint8_t *payload = out + RW_REC_HEADER;
    uint8_t codec = 0;
    const uint8_t *body = data;
    uint32_t body_len = len, prefix = 0;
    if (c && type == RW_REC_ENTRY && version >= RW_FORMAT_VERSION_CODEC &&
        c->compression != RAFTWAL_COMPRESS_NONE && len >= c->compress_min) {
        raftwal_entry e = {.data = data, .size = len};
        uint32_t n = compress_entry(c->compression, payload, &e);
        if (n) {
            codec |= c->compression == RAFTWAL_COMPRESS_ZSTD ? RW_CODEC_ZSTD : RW_CODEC_LZ4;
            body = payload + 4;
            body_len = n - 4;
            prefix = 4;
            *compressed = 1;
        }
    }
    if (!sc) {
        if (codec)
            return rw_rec_frame(out, crc_salt, type, codec, aux, a, b, prefix + body_len);
        return rw_rec_encode(out, crc_salt, type, aux, a, b, data, len);
    }
#ifdef RAFTWAL_HAVE_OPENSSL
    codec |= RW_CODEC_SEALED;
    uint32_t stored = prefix + body_len + RW_TAG_SIZE;
    /* The header first: the AAD is made of it. rw_rec_frame rewrites it. */
    memset(out, 0, RW_REC_HEADER);
    out[4] = type;
    out[5] = codec;
    rw_put32(out + 8, stored);
    rw_put32(out + 12, aux);
    rw_put64(out + 16, a);
    rw_put64(out + 24, b);
    uint8_t aad[8 + 28 + 4];
    size_t aad_len = make_aad(sc, out, codec, payload, aad);
    /* In place for a compressed body (GCM allows it), else from the
     * caller's data straight into the record. */
    if (gcm(1, sc, aad, aad_len, body, payload + prefix, body_len, payload + prefix + body_len) != 0)
        return 0;
    return rw_rec_frame(out, crc_salt, type, codec, aux, a, b, stored);
#else
    (void)body; /* no sealing without libcrypto (sc is never set then) */
    return 0;
#endif
}

int rw_codec_open_record(const rw_seal_ctx *sc, const uint8_t *hdr, const rw_rec *r, void *dst,
                         size_t cap, const char **why)
{
#ifdef RAFTWAL_HAVE_OPENSSL
    uint32_t prefix = (r->codec & RW_CODEC_COMPRESSED) ? 4 : 0;
    if (!(r->codec & RW_CODEC_SEALED) || r->len < prefix + RW_TAG_SIZE) {
        *why = "sealed record shorter than its tag";
        return -1;
    }
    uint32_t body_len = r->len - prefix - RW_TAG_SIZE;
    uint32_t raw = rw_codec_data_size(r);
    if (cap < raw) {
        *why = "decode buffer too small";
        return -1;
    }
    uint8_t aad[8 + 28 + 4];
    size_t aad_len = make_aad(sc, hdr, r->codec, r->payload, aad);
    uint8_t tag[RW_TAG_SIZE];
    memcpy(tag, r->payload + prefix + body_len, RW_TAG_SIZE);
    uint8_t *plain = prefix ? malloc(body_len ? body_len : 1) : dst; /* dst: NULL when empty */
    if (prefix && !plain) {
        *why = "out of memory";
        return -1;
    }
    int rc = gcm(0, sc, aad, aad_len, r->payload + prefix, plain, body_len, tag);
    if (rc != 0) {
        *why = "authentication tag does not verify (wrong data key, or changed bytes)";
        if (body_len)
            OPENSSL_cleanse(plain, body_len);
    } else if (prefix) {
        /* raw_len (the prefix, authenticated as AAD) bounds the output. */
        rc = decompress_block(r->codec, plain, body_len, dst, raw, why);
    }
    if (prefix) {
        OPENSSL_cleanse(plain, body_len);
        free(plain);
    }
    return rc;
#else
    (void)sc;
    (void)hdr;
    (void)r;
    (void)dst;
    (void)cap;
    *why = "sealed record, and this build has no encryption";
    return -1;
#endif
}
