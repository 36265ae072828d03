--[[
raftwal.cdef -- the LuaJIT FFI declarations of include/raftwal.h (ABI v1, options version 2).

Hand-copied from the header, comments and the export macro removed.
tests/lua/cdef_matches_header_test.lua fails when the two drift apart: it
compiles a C program that checks every struct field's type, offset and size
and every function's signature against these declarations, and compares the
layout LuaJIT computes (ffi.sizeof / ffi.offsetof) and every RAFTWAL_*
constant below with what the C compiler sees.

The macros of the header cannot be declared through ffi.cdef (UINT64_MAX
and strings do not fit a C enum), so they are given here as Lua values in
`constants`, with the same names.

Loading this file twice in one Lua state is harmless: the declarations are
made only once (ffi.cdef refuses to redefine a struct).
]]
local ffi = require("ffi")

local M = {}

M.declarations = [[
const char *raftwal_version(void);
int raftwal_version_number(void);

enum raftwal_error {
    RAFTWAL_OK = 0,
    RAFTWAL_EINVAL = -1,
    RAFTWAL_ENOMEM = -2,
    RAFTWAL_EIO = -3,
    RAFTWAL_ECORRUPT = -4,
    RAFTWAL_ELOCKED = -5,
    RAFTWAL_ECOMPACTED = -6,
    RAFTWAL_EUNAVAILABLE = -7,
    RAFTWAL_ENOTFOUND = -8,
    RAFTWAL_EVERSION = -9,
    RAFTWAL_EREADONLY = -10,
    RAFTWAL_ENOSPC = -11,
    RAFTWAL_EGAP = -12,
    RAFTWAL_ETERM = -13,
    RAFTWAL_ECOMMITTED = -14,
    RAFTWAL_ERANGE = -15,
    RAFTWAL_ECLOSED = -16,
    RAFTWAL_EKEY = -17
};

const char *raftwal_strerror(int code);
const char *raftwal_errmsg(void);

typedef struct raftwal_entry {
    uint64_t index;
    uint64_t term;
    uint32_t type;
    uint32_t flags;
    const void *data;
    size_t size;
} raftwal_entry;

typedef struct raftwal_hardstate {
    uint64_t term;
    uint64_t vote;
    uint64_t commit;
} raftwal_hardstate;

typedef struct raftwal_log raftwal_log;

typedef struct raftwal_options {
    unsigned int version;
    unsigned int flags;
    uint64_t segment_size;
    const void *metadata;
    size_t metadata_size;
    unsigned int file_mode;
    unsigned int compression;
    const void *key;
    size_t key_size;
    uint32_t compress_min;
} raftwal_options;

int raftwal_options_init(raftwal_options *opts, unsigned int version);
unsigned int raftwal_features(void);
int raftwal_log_open(raftwal_log **out, const char *dir, const raftwal_options *opts);
int raftwal_log_close(raftwal_log *log);

int raftwal_log_append(raftwal_log *log, const raftwal_entry *entries, size_t count, const raftwal_hardstate *hs, unsigned int flags);
int raftwal_log_sync(raftwal_log *log);
int raftwal_log_durable_index(raftwal_log *log, uint64_t *out);
int raftwal_log_wait_durable(raftwal_log *log, uint64_t index);
int raftwal_log_truncate(raftwal_log *log, uint64_t from);
int raftwal_log_purge(raftwal_log *log, uint64_t upto);
int raftwal_log_set_hardstate(raftwal_log *log, const raftwal_hardstate *hs, unsigned int flags);
int raftwal_log_save_snapshot(raftwal_log *log, uint64_t index, uint64_t term, const void *meta, size_t meta_size);
int raftwal_log_set_metadata(raftwal_log *log, const void *data, size_t size);

int raftwal_log_first_index(raftwal_log *log, uint64_t *out);
int raftwal_log_last_index(raftwal_log *log, uint64_t *out);
int raftwal_log_term(raftwal_log *log, uint64_t index, uint64_t *term);
int raftwal_log_get(raftwal_log *log, uint64_t index, raftwal_entry *out, void *buf, size_t buf_size);
int raftwal_log_hardstate(raftwal_log *log, raftwal_hardstate *out);
int raftwal_log_snapshot(raftwal_log *log, uint64_t *index, uint64_t *term, void *buf, size_t cap, size_t *size);
int raftwal_log_metadata(raftwal_log *log, void *buf, size_t cap, size_t *size);

typedef struct raftwal_iter raftwal_iter;
int raftwal_iter_open(raftwal_iter **out, raftwal_log *log, uint64_t lo, uint64_t hi, uint64_t max_bytes);
int raftwal_iter_next(raftwal_iter *it, raftwal_entry *out);
void raftwal_iter_close(raftwal_iter *it);

typedef struct raftwal_stats {
    uint32_t size;
    uint32_t reserved;
    uint64_t first_index;
    uint64_t last_index;
    uint64_t durable_index;
    uint64_t entries;
    uint64_t segments;
    uint64_t disk_bytes;
    uint64_t appends;
    uint64_t appended_entries;
    uint64_t appended_bytes;
    uint64_t written_bytes;
    uint64_t fsyncs;
    uint64_t fsync_ns_total;
    uint64_t fsync_ns_max;
    uint64_t dir_fsyncs;
    uint64_t reads;
    uint64_t footer_loads;
    uint64_t footer_hits;
    uint64_t torn_tails;
    uint64_t torn_bytes;
    uint64_t rotations;
    uint64_t segments_deleted;
    uint64_t open_ns;
    uint64_t segments_recycled;
    uint64_t encrypted;
    uint64_t compressed_entries;
    uint64_t stored_entry_bytes;
} raftwal_stats;

int raftwal_log_stats(raftwal_log *log, raftwal_stats *out);

typedef struct raftwal_segment_info {
    uint32_t size;
    uint32_t sealed;
    uint64_t seq;
    uint64_t first_index;
    uint64_t last_index;
    uint64_t file_bytes;
    uint64_t used_bytes;
} raftwal_segment_info;

int raftwal_log_segment_info(raftwal_log *log, size_t i, raftwal_segment_info *out);

typedef struct raftwal_check {
    uint32_t size;
    uint32_t reserved;
    uint64_t segments;
    uint64_t entries;
    uint64_t first_index;
    uint64_t last_index;
    uint64_t torn_seq;
    uint64_t torn_offset;
    uint64_t torn_bytes;
    uint64_t cut_seq;
    uint64_t cut_offset;
    uint64_t cut_bytes;
    char backup_path[1024];
    uint64_t leftovers;
    uint64_t leftover_below_seq;
    uint64_t encrypted;
    uint64_t compressed_entries;
    uint64_t entry_bytes;
    uint64_t stored_entry_bytes;
} raftwal_check;

int raftwal_verify(const char *dir, raftwal_check *out);
int raftwal_repair(const char *dir, raftwal_check *out);
int raftwal_verify_opts(const char *dir, const raftwal_options *opts, raftwal_check *out);
int raftwal_repair_opts(const char *dir, const raftwal_options *opts, raftwal_check *out);
int raftwal_rekey(const char *dir, const void *old_key, size_t old_size, const void *new_key, size_t new_size);
]]

-- The header's object-like macros, by name. 64-bit values are uint64_t cdata.
M.constants = {
    RAFTWAL_VERSION_MAJOR = 1,
    RAFTWAL_VERSION_MINOR = 0,
    RAFTWAL_VERSION_PATCH = 0,
    RAFTWAL_VERSION_STRING = "1.0.0",
    RAFTWAL_VERSION_NUMBER = 10000,
    RAFTWAL_MAX_ENTRY_SIZE = 256 * 1024 * 1024,
    RAFTWAL_MAX_META_SIZE = 16 * 1024 * 1024,
    RAFTWAL_MAX_BATCH_ENTRIES = 2 ^ 20,
    RAFTWAL_MIN_SEGMENT_SIZE = 16 * 1024,
    RAFTWAL_MAX_SEGMENT_SIZE = 1024 * 1024 * 1024,
    RAFTWAL_DEFAULT_SEGMENT_SIZE = 8 * 1024 * 1024,
    RAFTWAL_MAX_INDEX = 0xfffffffffffffffeULL,
    RAFTWAL_NO_LIMIT = 0xffffffffffffffffULL,
    RAFTWAL_OPEN_CREATE = 0x1,
    RAFTWAL_OPEN_READONLY = 0x2,
    RAFTWAL_OPEN_NOSYNC = 0x4,
    RAFTWAL_OPEN_VERIFY = 0x8,
    RAFTWAL_COMPRESS_NONE = 0,
    RAFTWAL_COMPRESS_LZ4 = 1,
    RAFTWAL_COMPRESS_ZSTD = 2,
    RAFTWAL_KEY_SIZE = 32,
    RAFTWAL_OPTIONS_VERSION = 2,
    RAFTWAL_FEATURE_ENCRYPTION = 0x1,
    RAFTWAL_FEATURE_LZ4 = 0x2,
    RAFTWAL_FEATURE_ZSTD = 0x4,
    RAFTWAL_NOSYNC = 0x1,
}

-- Declares everything once per Lua state; later calls do nothing.
function M.declare()
    if not pcall(ffi.typeof, "raftwal_check") then
        ffi.cdef(M.declarations)
    end
end

return M
