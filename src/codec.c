/* codec.c -- compression (and, next, authenticated encryption) of record
 * payloads: the one place that turns a record's data into its stored
 * bytes and back (docs/format.md, section 7). */
#include "codec.h"

#include <string.h>

#ifdef RAFTWAL_HAVE_LZ4
#include <lz4.h>
#endif

#include "error.h"

unsigned int rw_codec_features(void)
{
    unsigned int f = 0;
#ifdef RAFTWAL_HAVE_LZ4
    f |= RAFTWAL_FEATURE_LZ4;
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
    return c->compression != RAFTWAL_COMPRESS_NONE;
}

/* ---- write path ------------------------------------------------------ */

/* Compresses e's data into out's payload as [raw_len][lz4 block] if its
 * record then takes fewer bytes than the plain one (padding included).
 * Returns the stored length, or 0 to store the entry as it is. */
static uint32_t compress_lz4(uint8_t *payload, const raftwal_entry *e)
{
#ifdef RAFTWAL_HAVE_LZ4
    /* rw_pad8(4 + clen) < rw_pad8(size) <=> 4 + clen <= rw_pad8(size) - 8 */
    uint64_t room = rw_pad8(e->size);
    if (room < 8 + 4 + 1)
        return 0;
    int cap = (int)(room - 8 - 4);
    /* LZ4 gives up (0) when the block does not fit in cap: then the plain
     * form is as small or smaller. out has room for the plain record. */
    int n = LZ4_compress_default((const char *)e->data, (char *)payload + 4, (int)e->size, cap);
    if (n <= 0)
        return 0;
    rw_put32(payload, (uint32_t)e->size);
    return 4u + (uint32_t)n;
#else
    (void)payload;
    (void)e;
    return 0;
#endif
}

size_t rw_codec_encode_entry(const rw_codec *c, uint32_t version, uint8_t *out, uint64_t salt,
                             const raftwal_entry *e, int *compressed)
{
    *compressed = 0;
    if (version >= RW_FORMAT_VERSION_CODEC && c->compression == RAFTWAL_COMPRESS_LZ4 &&
        e->size >= c->compress_min) {
        uint32_t len = compress_lz4(out + RW_REC_HEADER, e);
        if (len) {
            *compressed = 1;
            return rw_rec_frame(out, salt, RW_REC_ENTRY, RW_CODEC_LZ4, e->type, e->index, e->term,
                                len);
        }
    }
    return rw_rec_encode(out, salt, RW_REC_ENTRY, e->type, e->index, e->term, e->data,
                         (uint32_t)e->size);
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
    if (r->codec & ~(uint8_t)RW_CODEC_LZ4) { /* rw_rec_decode lets no other bit through */
        *why = "unsupported record codec";
        return RAFTWAL_EVERSION;
    }
    return 0;
}

uint32_t rw_codec_data_size(const rw_rec *r)
{
    return (r->codec & RW_CODEC_COMPRESSED) ? rw_get32(r->payload) : r->len;
}

int rw_codec_decode(const rw_rec *r, void *dst, size_t cap, const char **why)
{
    uint32_t raw = rw_codec_data_size(r);
    if (cap < raw) {
        *why = "decode buffer too small"; /* a caller's bug, never the data's */
        return -1;
    }
    if (!(r->codec & RW_CODEC_COMPRESSED)) {
        if (r->len)
            memcpy(dst, r->payload, r->len);
        return 0;
    }
#ifdef RAFTWAL_HAVE_LZ4
    /* Bounded by raw_len: output past it is refused by LZ4 itself, and a
     * shorter output is as wrong as a longer one. */
    int n = LZ4_decompress_safe((const char *)r->payload + 4, (char *)dst, (int)(r->len - 4),
                                (int)raw);
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
