/* codec.h -- what sits between a record's framing and its stored bytes:
 * compression and authenticated encryption (docs/format.md, section 7).
 * Private to the library.
 *
 * This build stage has the entry points the API layer needs; the codec
 * itself (compress then encrypt on the write path, decrypt then decompress
 * on the read path) lands in codec.c next to them. */
#ifndef RW_CODEC_H
#define RW_CODEC_H

#include "raftwal.h"

/* RAFTWAL_FEATURE_* bits of this build. */
unsigned int rw_codec_features(void);

/* Refuses options this build cannot honour (a key without encryption,
 * a compression it lacks, a bad key size or compression value) with
 * RAFTWAL_EINVAL and a message; 0 when they are fine. opts is a
 * version 2 struct. */
int rw_codec_check_options(const raftwal_options *opts);

#endif
