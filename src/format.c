/* format.c -- encoders and hostile-input-safe decoders of the segment format
 * (docs/format.md). */
#include "format.h"

#include "crc32c.h"

static const uint8_t magic[8] = {'R', 'A', 'F', 'T', 'W', 'A', 'L', 0};

void rw_header_encode(uint8_t out[RW_HEADER_SIZE], const rw_seg_header *h)
{
    memset(out, 0, RW_HEADER_SIZE);
    memcpy(out, magic, 8);
    rw_put32(out + 8, h->version);
    rw_put32(out + 12, RW_HEADER_SIZE);
    rw_put64(out + 16, h->log_id);
    rw_put64(out + 24, h->seq);
    rw_put64(out + 32, h->salt);
    rw_put64(out + 40, h->first_index);
    rw_put64(out + 48, h->file_size);
    rw_put32(out + 56, h->flags);
    rw_put32(out + 60, rw_crc32c(0, out, 60));
}

int rw_header_decode(const uint8_t *buf, size_t len, rw_seg_header *h)
{
    if (len < RW_HEADER_SIZE)
        return RW_HDR_SHORT;
    if (memcmp(buf, magic, 8) != 0)
        return RW_HDR_MAGIC;
    if (rw_crc32c(0, buf, 60) != rw_get32(buf + 60))
        return RW_HDR_CRC;
    h->version = rw_get32(buf + 8);
    if (h->version != RW_FORMAT_VERSION && h->version != RW_FORMAT_VERSION_CODEC)
        return RW_HDR_VERSION;
    h->log_id = rw_get64(buf + 16);
    h->seq = rw_get64(buf + 24);
    h->salt = rw_get64(buf + 32);
    h->first_index = rw_get64(buf + 40);
    h->file_size = rw_get64(buf + 48);
    h->flags = rw_get32(buf + 56);
    uint32_t known = h->version == RW_FORMAT_VERSION ? RW_HDR_F_KNOWN : RW_HDR_F_KNOWN_V2;
    if (rw_get32(buf + 12) != RW_HEADER_SIZE || (h->flags & ~known) || h->salt == 0)
        return RW_HDR_FIELDS;
    return RW_HDR_OK;
}

const char *rw_header_status_str(int status)
{
    switch (status) {
    case RW_HDR_OK: return "ok";
    case RW_HDR_SHORT: return "file shorter than a segment header";
    case RW_HDR_MAGIC: return "bad magic: not a raftwal segment";
    case RW_HDR_CRC: return "segment header checksum mismatch";
    case RW_HDR_VERSION: return "unsupported segment format version";
    default: return "segment header fields invalid";
    }
}

uint64_t rw_rec_max_len(uint8_t type)
{
    switch (type) {
    case RW_REC_ENTRY: return RAFTWAL_MAX_ENTRY_SIZE;
    case RW_REC_HARDSTATE: return RW_HARDSTATE_PAYLOAD;
    case RW_REC_SNAPSHOT:
    case RW_REC_METADATA: return RAFTWAL_MAX_META_SIZE;
    case RW_REC_CHECKPOINT:
        return RW_CHECKPOINT_FIXED + 2ull * RAFTWAL_MAX_META_SIZE +
               (uint64_t)RW_SEGTAB_ENTRY * RW_MAX_SEGTAB;
    /* a segment is at most two batch limits long; 4 bytes per entry offset
     * plus 16 per epoch, one record (>= 32 bytes) each at most */
    case RW_REC_FOOTER: return 20ull * (2ull * RAFTWAL_MAX_SEGMENT_SIZE / RW_REC_HEADER);
    case RW_REC_SEAL: return RW_SEAL_PAYLOAD;
    default: return 0;
    }
}

static uint32_t record_crc(uint64_t salt, const uint8_t *hdr, const void *payload, size_t len)
{
    uint8_t s[8 + RW_REC_HEADER - 4]; /* salt || header without its CRC */
    rw_put64(s, salt);
    memcpy(s + 8, hdr + 4, RW_REC_HEADER - 4);
    uint32_t c = rw_crc32c(0, s, sizeof s);
    return len ? rw_crc32c(c, payload, len) : c;
}

/* record_crc()'s salt || header bytes 4..31, made from the field values as
 * whole 8-byte words (little-endian host): reading back the header just
 * stored at `out` would load 8 bytes across several narrower stores, which
 * store forwarding cannot serve, and stall every record for a few ns. */
static uint32_t record_crc_head(uint64_t salt, uint8_t type, uint8_t codec, uint32_t len,
                                uint32_t aux, uint64_t a, uint64_t b)
{
    uint64_t w[5];
    w[0] = salt;
    w[1] = type | (uint64_t)codec << 8 | (uint64_t)len << 32; /* type, codec, 2 zero bytes, len */
    w[2] = aux | a << 32;
    w[3] = a >> 32 | b << 32;
    w[4] = b >> 32; /* 4 of its bytes are hashed */
    return rw_crc32c(0, w, 8 + RW_REC_HEADER - 4);
}

static void put_rec_header(uint8_t *out, uint8_t type, uint8_t codec, uint32_t len, uint32_t aux,
                           uint64_t a, uint64_t b)
{
    memset(out, 0, RW_REC_HEADER);
    out[4] = type;
    out[5] = codec;
    rw_put32(out + 8, len);
    rw_put32(out + 12, aux);
    rw_put64(out + 16, a);
    rw_put64(out + 24, b);
}

size_t rw_rec_encode_codec(uint8_t *out, uint64_t salt, uint8_t type, uint8_t codec,
                           uint32_t aux, uint64_t a, uint64_t b, const void *payload,
                           uint32_t len)
{
    put_rec_header(out, type, codec, len, aux, a, b);
    /* One pass over the payload: copied into place and checksummed together
     * (the same CRC as record_crc(), which the decoder uses). */
    uint32_t c = record_crc_head(salt, type, codec, len, aux, a, b);
    c = rw_crc32c_copy(c, out + RW_REC_HEADER, payload, len);
    size_t total = rw_rec_size(len);
    memset(out + RW_REC_HEADER + len, 0, total - RW_REC_HEADER - len);
    rw_put32(out, c);
    return total;
}

size_t rw_rec_encode(uint8_t *out, uint64_t salt, uint8_t type, uint32_t aux,
                     uint64_t a, uint64_t b, const void *payload, uint32_t len)
{
    return rw_rec_encode_codec(out, salt, type, 0, aux, a, b, payload, len);
}

size_t rw_rec_frame(uint8_t *out, uint64_t salt, uint8_t type, uint8_t codec, uint32_t aux,
                    uint64_t a, uint64_t b, uint32_t len)
{
    put_rec_header(out, type, codec, len, aux, a, b);
    uint32_t c = record_crc_head(salt, type, codec, len, aux, a, b);
    c = len ? rw_crc32c(c, out + RW_REC_HEADER, len) : c;
    size_t total = rw_rec_size(len);
    memset(out + RW_REC_HEADER + len, 0, total - RW_REC_HEADER - len);
    rw_put32(out, c);
    return total;
}

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

int rw_rec_decode(const uint8_t *buf, size_t avail, uint64_t salt, rw_rec *out,
                  const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    if (avail < RW_REC_HEADER) {
        if (all_zero(buf, avail)) {
            *why = "end of file";
            return RW_REC_END;
        }
        *why = "record header runs past the end of the file";
        return RW_REC_BAD;
    }
    if (all_zero(buf, RW_REC_HEADER)) {
        *why = "zero header";
        return RW_REC_END;
    }
    uint8_t type = buf[4];
    if (type < RW_REC_ENTRY || type > RW_REC_SEAL) {
        *why = "unknown record type";
        return RW_REC_BAD;
    }
    if (buf[6] || buf[7]) {
        *why = "reserved record bytes not zero";
        return RW_REC_BAD;
    }
    uint8_t codec = buf[5];
    if ((codec & ~RW_CODEC_KNOWN) || (codec & RW_CODEC_COMPRESSED) == RW_CODEC_COMPRESSED ||
        ((codec & RW_CODEC_COMPRESSED) && type != RW_REC_ENTRY) ||
        ((codec & RW_CODEC_SEALED) && (type == RW_REC_FOOTER || type == RW_REC_SEAL))) {
        *why = "invalid record codec byte";
        return RW_REC_BAD;
    }
    uint32_t len = rw_get32(buf + 8);
    if (len > rw_rec_max_len(type) + (codec ? RW_CODEC_MAX_EXTRA : 0)) {
        *why = "record length too large for its type";
        return RW_REC_BAD;
    }
    uint64_t size = RW_REC_HEADER + rw_pad8(len);
    if (RW_REC_HEADER + (uint64_t)len > avail) {
        *why = "record length runs past the end of the file";
        return RW_REC_BAD;
    }
    if (record_crc(salt, buf, buf + RW_REC_HEADER, len) != rw_get32(buf)) {
        *why = "record checksum mismatch";
        return RW_REC_BAD;
    }
    out->type = type;
    out->codec = codec;
    out->len = len;
    out->aux = rw_get32(buf + 12);
    out->a = rw_get64(buf + 16);
    out->b = rw_get64(buf + 24);
    out->payload = buf + RW_REC_HEADER;
    out->size = size > avail ? avail : (size_t)size;
    return RW_REC_OK;
}

size_t rw_checkpoint_payload_len(const rw_state *s)
{
    return RW_CHECKPOINT_FIXED + (size_t)s->snap_meta_len + (size_t)s->meta_len +
           (size_t)s->nsegtab * RW_SEGTAB_ENTRY;
}

void rw_checkpoint_encode(uint8_t *out, const rw_state *s)
{
    rw_put64(out + 0, s->hs.term);
    rw_put64(out + 8, s->hs.vote);
    rw_put64(out + 16, s->hs.commit);
    rw_put64(out + 24, s->purge);
    rw_put64(out + 32, s->last_term);
    rw_put64(out + 40, s->snap_index);
    rw_put64(out + 48, s->snap_term);
    rw_put32(out + 56, s->snap_meta_len);
    rw_put32(out + 60, s->meta_len);
    rw_put32(out + 64, s->nsegtab);
    rw_put32(out + 68, 0);
    uint8_t *p = out + RW_CHECKPOINT_FIXED;
    if (s->snap_meta_len)
        memcpy(p, s->snap_meta, s->snap_meta_len);
    p += s->snap_meta_len;
    if (s->meta_len)
        memcpy(p, s->meta, s->meta_len);
    p += s->meta_len;
    if (s->nsegtab)
        memcpy(p, s->segtab, (size_t)s->nsegtab * RW_SEGTAB_ENTRY);
}

int rw_checkpoint_decode(const uint8_t *p, size_t len, rw_state *s)
{
    if (len < RW_CHECKPOINT_FIXED)
        return -1;
    s->hs.term = rw_get64(p + 0);
    s->hs.vote = rw_get64(p + 8);
    s->hs.commit = rw_get64(p + 16);
    s->purge = rw_get64(p + 24);
    s->last_term = rw_get64(p + 32);
    s->snap_index = rw_get64(p + 40);
    s->snap_term = rw_get64(p + 48);
    s->snap_meta_len = rw_get32(p + 56);
    s->meta_len = rw_get32(p + 60);
    s->nsegtab = rw_get32(p + 64);
    if (rw_get32(p + 68) != 0)
        return -1;
    if (s->snap_meta_len > RAFTWAL_MAX_META_SIZE || s->meta_len > RAFTWAL_MAX_META_SIZE ||
        s->nsegtab > RW_MAX_SEGTAB)
        return -1;
    if ((uint64_t)RW_CHECKPOINT_FIXED + s->snap_meta_len + s->meta_len +
            (uint64_t)s->nsegtab * RW_SEGTAB_ENTRY != len)
        return -1;
    s->snap_meta = p + RW_CHECKPOINT_FIXED;
    s->meta = s->snap_meta + s->snap_meta_len;
    s->segtab = s->meta + s->meta_len;
    /* The table must list consecutive segments with ordered ranges. */
    uint64_t prev_seq = 0, prev_first = 0;
    for (uint32_t i = 0; i < s->nsegtab; i++) {
        const uint8_t *e = s->segtab + (size_t)i * RW_SEGTAB_ENTRY;
        uint64_t seq = rw_get64(e), first = rw_get64(e + 8), count = rw_get64(e + 16);
        if ((i && seq != prev_seq + 1) || (i && first < prev_first) || first > RAFTWAL_MAX_INDEX ||
            count > RAFTWAL_MAX_INDEX - first + 1)
            return -1;
        prev_seq = seq;
        prev_first = first;
    }
    return 0;
}

void rw_hardstate_encode(uint8_t out[RW_HARDSTATE_PAYLOAD], const raftwal_hardstate *hs)
{
    rw_put64(out, hs->term);
    rw_put64(out + 8, hs->vote);
    rw_put64(out + 16, hs->commit);
}

void rw_hardstate_decode(const uint8_t in[RW_HARDSTATE_PAYLOAD], raftwal_hardstate *hs)
{
    hs->term = rw_get64(in);
    hs->vote = rw_get64(in + 8);
    hs->commit = rw_get64(in + 16);
}

void rw_seal_encode(uint8_t out[RW_SEAL_SIZE], uint64_t salt, const rw_seal *s)
{
    uint8_t payload[RW_SEAL_PAYLOAD];
    /* The record fills 56 bytes; the SEAL is 64 (8 bytes of zero padding). */
    memset(out, 0, RW_SEAL_SIZE);
    rw_put64(payload, s->footer_off);
    rw_put64(payload + 8, s->trunc_from);
    rw_put64(payload + 16, s->purge);
    rw_rec_encode(out, salt, RW_REC_SEAL, 0, s->first, s->count, payload, RW_SEAL_PAYLOAD);
}

int rw_seal_decode(const uint8_t in[RW_SEAL_SIZE], uint64_t salt, rw_seal *s)
{
    rw_rec r;
    if (rw_rec_decode(in, RW_SEAL_SIZE, salt, &r, NULL) != RW_REC_OK)
        return -1;
    if (r.type != RW_REC_SEAL || r.len != RW_SEAL_PAYLOAD || r.aux != 0)
        return -1;
    s->first = r.a;
    s->count = r.b;
    s->footer_off = rw_get64(r.payload);
    s->trunc_from = rw_get64(r.payload + 8);
    s->purge = rw_get64(r.payload + 16);
    return 0;
}
