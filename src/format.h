/* format.h -- encoding and decoding of the on-disk structures.
 *
 * Pure functions over byte buffers: no I/O, no allocation. Every decoder
 * treats its input as hostile and bounds every length by the bytes it was
 * given. The format itself is specified in docs/format.md. */
#ifndef RW_FORMAT_H
#define RW_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "raftwal.h"

#define RW_FORMAT_VERSION 1u
/* Segments written by a handle with a codec (compression or a key):
 * records may carry a codec byte (docs/format.md, section 7). A reader of
 * this code accepts both versions. */
#define RW_FORMAT_VERSION_CODEC 2u
#define RW_HEADER_SIZE 64u
#define RW_REC_HEADER 32u
#define RW_SEAL_SIZE 64u /* SEAL record: 32 header + 24 payload + 8 pad */
#define RW_SEAL_PAYLOAD 24u
#define RW_HARDSTATE_PAYLOAD 24u
#define RW_CHECKPOINT_FIXED 72u
#define RW_SEGTAB_ENTRY 24u          /* seq, first, count */
#define RW_MAX_SEGTAB (1u << 20)     /* segments listed in one checkpoint */

enum rw_rec_type {
    RW_REC_ENTRY = 1,
    RW_REC_COMMIT = 2,
    RW_REC_HARDSTATE = 3,
    RW_REC_SNAPSHOT = 4,
    RW_REC_METADATA = 5,
    RW_REC_PURGE = 6,
    RW_REC_TRUNCATE = 7,
    RW_REC_CHECKPOINT = 8,
    RW_REC_EPOCH = 9,
    RW_REC_FOOTER = 10,
    RW_REC_SEAL = 11,
};

typedef struct rw_seg_header {
    uint32_t version;
    uint64_t log_id;
    uint64_t seq;
    uint64_t salt;
    uint64_t first_index; /* 0 = prepared, not in use */
    uint64_t file_size;
    uint32_t flags;       /* RW_HDR_F_* */
} rw_seg_header;

/* Header flags (bytes 56..59). */
#define RW_HDR_F_RECYCLED 0x1u /* a purged segment's file, reused: the bytes
                                  after the records are stale, not zero */
#define RW_HDR_F_LAZY 0x2u     /* activated by a no-sync rotation: the segment
                                  before it was not known durable then (it
                                  may be incomplete after a power loss; a
                                  sync clears the flag). docs/format.md §4-5 */
#define RW_HDR_F_ENCRYPTED 0x4u /* version 2 only: the records are sealed
                                    (docs/format.md §7.1) */
#define RW_HDR_F_KNOWN (RW_HDR_F_RECYCLED | RW_HDR_F_LAZY)
#define RW_HDR_F_KNOWN_V2 (RW_HDR_F_KNOWN | RW_HDR_F_ENCRYPTED)

enum rw_header_status {
    RW_HDR_OK = 0,
    RW_HDR_SHORT,   /* fewer than 64 bytes */
    RW_HDR_MAGIC,   /* not a raftwal segment */
    RW_HDR_CRC,     /* checksum mismatch */
    RW_HDR_VERSION, /* a version this code does not know */
    RW_HDR_FIELDS,  /* checksum fine, fields impossible */
};

void rw_header_encode(uint8_t out[RW_HEADER_SIZE], const rw_seg_header *h);
int rw_header_decode(const uint8_t *buf, size_t len, rw_seg_header *h);
const char *rw_header_status_str(int status);

/* A decoded record header; payload points into the decoded buffer. */
typedef struct rw_rec {
    uint8_t type;
    uint8_t codec; /* RW_CODEC_* bits (header byte 5; 0 in version 1) */
    uint32_t len;
    uint32_t aux;
    uint64_t a;
    uint64_t b;
    const uint8_t *payload;
    size_t size; /* bytes the record occupies, padding included */
} rw_rec;

enum rw_rec_status {
    RW_REC_OK = 0,
    RW_REC_END, /* a zero header: the end of the records */
    RW_REC_BAD, /* anything else that is not a valid record */
};

static inline uint64_t rw_pad8(uint64_t n)
{
    return (n + 7) & ~(uint64_t)7;
}

static inline size_t rw_rec_size(size_t payload_len)
{
    return RW_REC_HEADER + (size_t)rw_pad8(payload_len);
}

/* Record codec byte (header byte 5, docs/format.md §7.2): how the stored
 * payload encodes the record's data. rw_rec_decode checks the byte's
 * structure (known bits, compression only on an ENTRY, not two
 * compressions); whether the segment may hold it (version 2, encrypted or
 * not) is checked by the codec layer where the payload is used
 * (codec.h, rw_codec_check). */
#define RW_CODEC_LZ4 0x01u
#define RW_CODEC_ZSTD 0x02u
#define RW_CODEC_SEALED 0x80u
#define RW_CODEC_COMPRESSED (RW_CODEC_LZ4 | RW_CODEC_ZSTD)
/* Bits the format defines. A build without LZ4 or zstd still decodes the
 * record (the codec layer then says RAFTWAL_EVERSION, naming the feature). */
#define RW_CODEC_KNOWN (RW_CODEC_LZ4 | RW_CODEC_ZSTD | RW_CODEC_SEALED)
/* A stored payload exceeds its data's limit by at most this much: the
 * raw_len prefix, the tag, and what a kept compressed form may add over
 * the data (it is kept only if its padded record is smaller). */
#define RW_CODEC_MAX_EXTRA (4u + 16u + 8u)

/* Largest payload a record of `type` may carry (0 for fixed-size types). */
uint64_t rw_rec_max_len(uint8_t type);

/* Writes one record (header, payload, zero padding) at out, which has room
 * for rw_rec_size(len) bytes; the CRC is computed while copying. Returns the
 * bytes written. */
size_t rw_rec_encode(uint8_t *out, uint64_t salt, uint8_t type, uint32_t aux,
                     uint64_t a, uint64_t b, const void *payload, uint32_t len);
/* The same with a codec byte (version 2 segments only). */
size_t rw_rec_encode_codec(uint8_t *out, uint64_t salt, uint8_t type, uint8_t codec,
                           uint32_t aux, uint64_t a, uint64_t b, const void *payload,
                           uint32_t len);
/* Frames a payload already stored at out + RW_REC_HEADER (the codec
 * writes it there): header, CRC and zero padding. Returns the bytes the
 * record takes. */
size_t rw_rec_frame(uint8_t *out, uint64_t salt, uint8_t type, uint8_t codec, uint32_t aux,
                    uint64_t a, uint64_t b, uint32_t len);

/* Decodes the record at buf, of which `avail` bytes are readable (the rest
 * of the file). Returns RW_REC_OK, RW_REC_END or RW_REC_BAD (*why says
 * what was wrong). */
int rw_rec_decode(const uint8_t *buf, size_t avail, uint64_t salt, rw_rec *out,
                  const char **why);

/* The full state, as stored in a CHECKPOINT. Blobs point into a buffer. */
typedef struct rw_state {
    raftwal_hardstate hs;
    uint64_t purge;      /* entries <= purge are dropped */
    uint64_t last_index; /* record field a */
    uint64_t first_index;/* record field b */
    uint64_t last_term;
    uint64_t snap_index;
    uint64_t snap_term;
    const uint8_t *snap_meta;
    uint32_t snap_meta_len;
    const uint8_t *meta;
    uint32_t meta_len;
    /* The sealed segments before this one, oldest first: RW_SEGTAB_ENTRY
     * bytes each (seq, first live index, live count). */
    const uint8_t *segtab;
    uint32_t nsegtab;
} rw_state;

size_t rw_checkpoint_payload_len(const rw_state *s);
void rw_checkpoint_encode(uint8_t *out, const rw_state *s);
/* Returns 0, or -1 if the payload is malformed. */
int rw_checkpoint_decode(const uint8_t *p, size_t len, rw_state *s);

void rw_hardstate_encode(uint8_t out[RW_HARDSTATE_PAYLOAD], const raftwal_hardstate *hs);
void rw_hardstate_decode(const uint8_t in[RW_HARDSTATE_PAYLOAD], raftwal_hardstate *hs);

typedef struct rw_seal {
    uint64_t first;      /* first live index */
    uint64_t count;      /* live entries */
    uint64_t footer_off;
    uint64_t trunc_from; /* UINT64_MAX: none */
    uint64_t purge;
} rw_seal;

/* Encodes the 64-byte SEAL record. */
void rw_seal_encode(uint8_t out[RW_SEAL_SIZE], uint64_t salt, const rw_seal *s);
/* Decodes a SEAL record from the last 64 bytes of a file. 0 or -1. */
int rw_seal_decode(const uint8_t in[RW_SEAL_SIZE], uint64_t salt, rw_seal *s);

static inline uint64_t rw_get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static inline uint32_t rw_get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline void rw_put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}
static inline void rw_put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

#endif
