/* codec.h -- what sits between a record's framing and its stored bytes:
 * compression and authenticated encryption of record payloads
 * (docs/format.md, section 7). Private to the library.
 *
 * The record framing (format.c: CRC, padding, batches, epochs) sees only
 * stored bytes. The codec turns a record's data into its stored payload
 * on the write path (rw_codec_encode_record: compress, then seal; called
 * by log.c's batch and checkpoint encoders) and back on the read path
 * (rw_codec_check_log, then rw_codec_open_data / rw_codec_view: open,
 * then decompress; called for entries by log_read.c and for the records
 * recovery and the checks scan by log_open.c, check_segment.c, check.c).
 * The session salts of an encrypted log's writer come from here too
 * (rw_codec_next_salt). */
#ifndef RW_CODEC_H
#define RW_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "format.h"
#include "raftwal.h"

/* RAFTWAL_FEATURE_* bits of this build. */
unsigned int rw_codec_features(void);

/* Refuses options this build cannot honour (a key without encryption,
 * a compression it lacks, a bad key size or compression value) with
 * RAFTWAL_EINVAL and a message; 0 when they are fine. opts is a
 * version 2 struct. */
int rw_codec_check_options(const raftwal_options *opts);

struct rw_keyring; /* keys.h */
typedef struct rw_seal_ctx rw_seal_ctx;

/* A handle's codec: what its options ask for, and for an encrypted log
 * its keys (docs/format.md §7.4). */
typedef struct rw_codec {
    unsigned int compression; /* RAFTWAL_COMPRESS_* */
    uint32_t compress_min;    /* smaller entries are stored as they are */
    /* The log has a KEYS file: every record but FOOTER and SEAL is sealed,
     * and a record that is not is corruption. */
    int encrypted;
    struct rw_keyring *keys;  /* owned; wiped and freed with the handle */
    /* A writable handle's session: its data key id, key, and the salt
     * counter (c starts at a random non-zero value, §7.4). */
    uint32_t session;
    uint32_t counter, counter0;
    int counter_wrapped;
    void *wctx; /* the writer's cipher context, keyed with the session's key
                   once (the writer seals under wmu); NULL: one per call */
    struct rw_ctx_pool *pool; /* readers' keyed contexts (rw_codec_use_pool) */
} rw_codec;

/* Lets readers of an encrypted log reuse keyed cipher contexts (a small
 * pool under a mutex) instead of keying one per record; freed by
 * rw_codec_free. Without it (or if it cannot be allocated) every open
 * keys its own. */
void rw_codec_use_pool(rw_codec *c);

/* Wipes and frees what c holds (keys, cipher context). */
void rw_codec_free(rw_codec *c);

#define RW_COMPRESS_MIN_DEFAULT 64u

/* Fills *c from checked options (rw_codec_check_options). */
void rw_codec_init(rw_codec *c, const raftwal_options *opts);

/* The salt of the writer's next epoch or activation, other than `not`:
 * random for a plaintext log; `session << 32 | c` for an encrypted one
 * (c counts, skipping 0). RAFTWAL_EIO when the session's 2^32 - 1 salts
 * are used up (the caller fails the handle). */
int rw_codec_next_salt(rw_codec *c, uint64_t not_salt, uint64_t *salt);

/* Starts an encrypted writer's session with data key id `id` (made durable
 * in KEYS by the caller). */
void rw_codec_start_session(rw_codec *c, uint32_t id);

/* The sealing context of a record the writer writes at file offset `off`
 * under `salt` (the session's), or NULL for a plaintext log. */
const rw_seal_ctx *rw_codec_writer_seal(const rw_codec *c, uint64_t salt, uint64_t off,
                                        rw_seal_ctx *buf);

/* Read path, any record: rw_codec_check and, for an encrypted log, that
 * every record but FOOTER and SEAL is sealed (and none is in a plaintext
 * one) and that its key is known. Returns as rw_codec_check. */
int rw_codec_check_log(const rw_codec *c, uint32_t version, const rw_rec *r, const char **why);

/* Decodes any record r that passed rw_codec_check_log (found at file
 * offset off, its epoch's salt `salt`; its header is at r->payload - 32)
 * into dst (cap >= rw_codec_data_size(r)): opens a sealed one (tag
 * checked), decompresses a compressed one. 0, or -1 with *why. */
int rw_codec_open_data(const rw_codec *c, uint64_t salt, uint64_t off, const rw_rec *r,
                       void *dst, size_t cap, const char **why);

/* A growing buffer for decoded records. */
typedef struct rw_codec_buf {
    uint8_t *p;
    size_t cap;
} rw_codec_buf;

/* rw_codec_check_log then rw_codec_open_data in one: on success *r's
 * payload, len and codec describe the record's data (unchanged when it is
 * stored plain; else decoded into b, grown as needed; the caller frees
 * b->p). Errors name the file `name` and the offset: RAFTWAL_ECORRUPT,
 * RAFTWAL_EVERSION, RAFTWAL_ENOMEM. */
int rw_codec_view(const rw_codec *c, uint32_t version, uint64_t salt, uint64_t off,
                  const char *name, rw_rec *r, rw_codec_buf *b);

/* For every record recovery and checks read: rw_codec_check_log, and a
 * sealed record's tag (rw_codec_view of a copy; r is left as it is). A
 * compressed plaintext entry is only decoded when read. */
int rw_codec_verify(const rw_codec *c, uint32_t version, uint64_t salt, uint64_t off,
                    const char *name, const rw_rec *r, rw_codec_buf *b);

/* Whether segments this writer activates are version 2
 * (RW_FORMAT_VERSION_CODEC) rather than 1. */
int rw_codec_wants_v2(const rw_codec *c);

/* Encodes one ENTRY record at out, which has room for
 * rw_rec_size(e->size) bytes (the plain record: an encoded one is never
 * larger). `version` is the segment's: only a version 2 segment gets a
 * compressed record. Returns the bytes written; *compressed says whether
 * the stored form is compressed. */
size_t rw_codec_encode_entry(const rw_codec *c, uint32_t version, uint8_t *out, uint64_t salt,
                             const raftwal_entry *e, int *compressed);

/* Read path. May a segment of `version` hold record r as it is encoded,
 * and is its encoding well formed (raw_len present and within the type's
 * limit)? Returns 0; RAFTWAL_ECORRUPT with *why set; or RAFTWAL_EVERSION
 * (*why names the feature) for an encoding this build cannot decode (LZ4
 * without liblz4). Checked before anything reads the payload as data. */
int rw_codec_check(uint32_t version, const rw_rec *r, const char **why);

/* The size of r's data once decoded (raw_len, known without decoding).
 * r passed rw_codec_check. */
uint32_t rw_codec_data_size(const rw_rec *r);

/* Whether r's stored payload is its data as it is (zero-copy readable). */
static inline int rw_codec_is_plain(const rw_rec *r)
{
    return r->codec == 0;
}

/* Decodes an unsealed r's data into dst (cap >= rw_codec_data_size(r)).
 * 0, or -1 with *why set when the stored bytes do not decode to exactly
 * raw_len bytes (corruption: the CRC was valid), or r is sealed (see
 * rw_codec_open_data). r passed rw_codec_check. */
int rw_codec_decode(const rw_rec *r, void *dst, size_t cap, const char **why);

/* ---- encryption: AES-256-GCM (docs/format.md §7.3) ------------------- */

#define RW_TAG_SIZE 16u
#define RW_NONCE_SIZE 12u

/* Where a record is sealed: its data key, the salt that names the key and
 * makes the nonce (the record's epoch salt; for an EPOCH record the salt
 * it starts, §7.3), and its file offset. */
struct rw_seal_ctx {
    const uint8_t *key; /* 32 bytes */
    uint64_t salt;
    uint64_t off;
    void *evp;          /* a cipher context already keyed with key, or NULL */
};

/* Tests only: called with (key id = salt >> 32, nonce) for every record
 * the library seals, from the sealing thread. NULL in production. */
extern void (*rw_codec_nonce_hook)(uint32_t key_id, const uint8_t nonce[RW_NONCE_SIZE]);

/* Encodes one record at out, which has room for rw_rec_size(len +
 * RW_TAG_SIZE) bytes: with sc (not NULL) sealed (codec bit 7), else plain;
 * an ENTRY is compressed first when c asks and `version` allows (c may be
 * NULL: no compression). crc_salt is the salt of the record's CRC (§3).
 * Returns the bytes written (0: the cipher failed, which no valid input
 * does); *compressed as for rw_codec_encode_entry (may be NULL). */
size_t rw_codec_encode_record(const rw_codec *c, uint32_t version, const rw_seal_ctx *sc,
                              uint8_t *out, uint64_t crc_salt, uint8_t type, uint32_t aux,
                              uint64_t a, uint64_t b, const void *data, uint32_t len,
                              int *compressed);

/* Opens a sealed record r (codec bit 7) whose 32-byte header is at hdr:
 * checks its tag under sc and writes its data (decompressed if so) to dst
 * (cap >= rw_codec_data_size(r)). 0, or -1 with *why: a tag that does not
 * verify is corruption, never data (dst is wiped then). */
int rw_codec_open_record(const rw_seal_ctx *sc, const uint8_t *hdr, const rw_rec *r, void *dst,
                         size_t cap, const char **why);

#endif
