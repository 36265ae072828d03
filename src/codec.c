/* codec.c -- compression and authenticated encryption of record payloads
 * (docs/format.md, section 7): the checks of what this build supports. */
#include "codec.h"

#include "error.h"

unsigned int rw_codec_features(void)
{
    return 0;
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
