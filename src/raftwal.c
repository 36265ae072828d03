/* raftwal.c -- the public API: argument checks, then the log layer.
 * Nothing below this file knows about the ABI's structs' versioning. */
#include <inttypes.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include "codec.h"
#include "error.h"
#include "log.h"

const char *raftwal_version(void)
{
    return RAFTWAL_VERSION_STRING;
}

int raftwal_version_number(void)
{
    return RAFTWAL_VERSION_NUMBER;
}

/* Bytes of the options struct of each version: a version 1 caller's struct
 * stops after file_mode, and nothing past it may be read or written. */
static size_t options_size(unsigned int version)
{
    switch (version) {
    case 1: return offsetof(raftwal_options, file_mode) + sizeof(unsigned int);
    case 2: return sizeof(raftwal_options);
    default: return 0;
    }
}

int raftwal_options_init(raftwal_options *opts, unsigned int version)
{
    size_t n = options_size(version);
    if (!opts || !n)
        return rw_err(RAFTWAL_EINVAL, "raftwal_options_init: unknown options version %u", version);
    raftwal_options def = RAFTWAL_OPTIONS_INIT;
    def.version = version;
    memcpy(opts, &def, n);
    return rw_api_return(0);
}

/* The caller's options as a whole version 2 struct: fields its version
 * lacks get their defaults. */
static int normalize_options(const raftwal_options *in, raftwal_options *out)
{
    size_t n = options_size(in->version);
    if (!n)
        return rw_err(RAFTWAL_EINVAL, "options version %u is not 1 or %d: initialize options "
                      "with RAFTWAL_OPTIONS_INIT or raftwal_options_init()", in->version,
                      RAFTWAL_OPTIONS_VERSION);
    raftwal_options def = RAFTWAL_OPTIONS_INIT;
    *out = def;
    memcpy(out, in, n);
    out->version = RAFTWAL_OPTIONS_VERSION;
    return 0;
}

unsigned int raftwal_features(void)
{
    return rw_codec_features();
}

/* A NULL handle is EINVAL; a closed one, or one inherited through fork(),
 * RAFTWAL_ECLOSED before any lock is taken. */
#define CHECK_LOG(log)                                                                             \
    do {                                                                                           \
        if (!(log))                                                                                \
            return rw_err(RAFTWAL_EINVAL, "NULL log handle");                                      \
        int usable_ = rw_log_check_usable(log);                                                    \
        if (usable_)                                                                               \
            return usable_;                                                                        \
    } while (0)

int raftwal_log_open(raftwal_log **out, const char *dir, const raftwal_options *opts)
{
    if (out)
        *out = NULL;
    if (!out || !dir || !*dir)
        return rw_err(RAFTWAL_EINVAL, "raftwal_log_open: NULL or empty argument");
    raftwal_options full;
    if (opts) {
        int rc = normalize_options(opts, &full);
        if (rc)
            return rc;
        opts = &full;
        if (opts->flags & ~(unsigned)(RAFTWAL_OPEN_CREATE | RAFTWAL_OPEN_READONLY |
                                      RAFTWAL_OPEN_NOSYNC | RAFTWAL_OPEN_VERIFY))
            return rw_err(RAFTWAL_EINVAL, "unknown open flags 0x%x", opts->flags);
        if (opts->segment_size && (opts->segment_size < RAFTWAL_MIN_SEGMENT_SIZE ||
                                   opts->segment_size > RAFTWAL_MAX_SEGMENT_SIZE))
            return rw_err(RAFTWAL_EINVAL, "segment size %" PRIu64 " is outside [%u, %u]",
                          opts->segment_size, RAFTWAL_MIN_SEGMENT_SIZE, RAFTWAL_MAX_SEGMENT_SIZE);
        if (opts->file_mode & ~0777u)
            return rw_err(RAFTWAL_EINVAL, "file_mode 0%o has bits other than permissions (0777)",
                          opts->file_mode);
        if (opts->metadata_size > RAFTWAL_MAX_META_SIZE || (!opts->metadata && opts->metadata_size))
            return rw_err(RAFTWAL_EINVAL, "initial metadata is NULL or larger than %u bytes",
                          RAFTWAL_MAX_META_SIZE);
        int rc2 = rw_codec_check_options(opts);
        if (rc2)
            return rc2;
    }
    return rw_api_return(rw_log_open(out, dir, opts));
}

int raftwal_log_close(raftwal_log *log)
{
    if (!log)
        return rw_api_return(0);
    /* In a child made by fork() the handle is the parent's: its threads,
     * locks and files are not this process's to stop, sync or close, and
     * its mutexes may be held forever. Leave all of it (the copies die with
     * the process; the descriptors close at exec). */
    if (log->owner != rw_process_id())
        return rw_log_check_usable(log);
    return rw_api_return(rw_log_close(log));
}

static int nosync(raftwal_log *log, unsigned int flags)
{
    return (flags & RAFTWAL_NOSYNC) || (log->flags & RAFTWAL_OPEN_NOSYNC);
}

/* Checks what can be checked without the log: sizes, order inside the
 * batch. */
static int check_entries(const raftwal_entry *e, size_t n)
{
    if (n && !e)
        return rw_err(RAFTWAL_EINVAL, "NULL entries with a count of %zu", n);
    if (n > RAFTWAL_MAX_BATCH_ENTRIES)
        return rw_err(RAFTWAL_EINVAL, "batch of %zu entries exceeds %u", n, RAFTWAL_MAX_BATCH_ENTRIES);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i].size > RAFTWAL_MAX_ENTRY_SIZE)
            return rw_err(RAFTWAL_EINVAL, "entry %" PRIu64 " is %zu bytes; the limit is %u",
                          e[i].index, e[i].size, RAFTWAL_MAX_ENTRY_SIZE);
        if (e[i].size && !e[i].data)
            return rw_err(RAFTWAL_EINVAL, "entry %" PRIu64 " has NULL data", e[i].index);
        if (e[i].flags)
            return rw_err(RAFTWAL_EINVAL, "entry %" PRIu64 ": flags must be 0", e[i].index);
        if (e[i].index == 0 || e[i].index > RAFTWAL_MAX_INDEX)
            return rw_err(RAFTWAL_EINVAL, "entry index %" PRIu64 " is outside 1..RAFTWAL_MAX_INDEX",
                          e[i].index);
        if (i && e[i].index != e[i - 1].index + 1)
            return rw_err(RAFTWAL_EGAP, "entry %" PRIu64 " follows entry %" PRIu64 " in the batch",
                          e[i].index, e[i - 1].index);
        if (i && e[i].term < e[i - 1].term)
            return rw_err(RAFTWAL_ETERM, "entry %" PRIu64 " has term %" PRIu64 ", lower than entry %"
                          PRIu64 "'s %" PRIu64, e[i].index, e[i].term, e[i - 1].index, e[i - 1].term);
        total += 32 + e[i].size;
    }
    if (total > RAFTWAL_MAX_SEGMENT_SIZE)
        return rw_err(RAFTWAL_EINVAL, "batch of %" PRIu64 " bytes exceeds %u", total,
                      RAFTWAL_MAX_SEGMENT_SIZE);
    return 0;
}

int raftwal_log_append(raftwal_log *log, const raftwal_entry *entries, size_t count,
                       const raftwal_hardstate *hs, unsigned int flags)
{
    CHECK_LOG(log);
    if (flags & ~RAFTWAL_NOSYNC)
        return rw_err(RAFTWAL_EINVAL, "unknown append flags 0x%x", flags);
    int rc = check_entries(entries, count);
    if (rc)
        return rc;
    if (count == 0 && !hs)
        return rw_api_return(0);
    rw_batch b = {.hs = hs, .entries = entries, .n = count};
    return rw_api_return(rw_log_write(log, &b, nosync(log, flags)));
}

int raftwal_log_sync(raftwal_log *log)
{
    CHECK_LOG(log);
    if (log->readonly)
        return rw_err(RAFTWAL_EREADONLY, "%s: the log was opened read-only", log->path);
    return rw_api_return(rw_sync_all(log));
}

int raftwal_log_durable_index(raftwal_log *log, uint64_t *out)
{
    CHECK_LOG(log);
    if (!out)
        return rw_err(RAFTWAL_EINVAL, "NULL argument");
    pthread_mutex_lock(&log->smu);
    *out = log->durable_index;
    pthread_mutex_unlock(&log->smu);
    return rw_api_return(0);
}

int raftwal_log_wait_durable(raftwal_log *log, uint64_t index)
{
    CHECK_LOG(log);
    if (log->readonly)
        return rw_err(RAFTWAL_EREADONLY, "%s: the log was opened read-only", log->path);
    pthread_mutex_lock(&log->smu);
    int done = log->durable_index >= index;
    pthread_mutex_unlock(&log->smu);
    return rw_api_return(done ? 0 : rw_sync_all(log));
}

int raftwal_log_truncate(raftwal_log *log, uint64_t from)
{
    CHECK_LOG(log);
    if (from == 0)
        return rw_err(RAFTWAL_EINVAL, "truncate from index 0");
    return rw_api_return(rw_log_truncate(log, from));
}

int raftwal_log_purge(raftwal_log *log, uint64_t upto)
{
    CHECK_LOG(log);
    if (upto > RAFTWAL_MAX_INDEX)
        return rw_err(RAFTWAL_EINVAL, "purge up to %" PRIu64 " is past RAFTWAL_MAX_INDEX", upto);
    return rw_api_return(rw_log_purge(log, upto));
}

int raftwal_log_set_hardstate(raftwal_log *log, const raftwal_hardstate *hs, unsigned int flags)
{
    CHECK_LOG(log);
    if (!hs)
        return rw_err(RAFTWAL_EINVAL, "NULL hard state");
    return raftwal_log_append(log, NULL, 0, hs, flags);
}

int raftwal_log_save_snapshot(raftwal_log *log, uint64_t index, uint64_t term, const void *meta,
                              size_t meta_size)
{
    CHECK_LOG(log);
    if (meta_size > RAFTWAL_MAX_META_SIZE || (!meta && meta_size))
        return rw_err(RAFTWAL_EINVAL, "snapshot metadata is NULL or larger than %u bytes",
                      RAFTWAL_MAX_META_SIZE);
    rw_batch b = {.has_snapshot = 1, .snap_index = index, .snap_term = term, .snap_meta = meta,
                  .snap_meta_len = meta_size};
    return rw_api_return(rw_log_write(log, &b, 0));
}

int raftwal_log_set_metadata(raftwal_log *log, const void *data, size_t size)
{
    CHECK_LOG(log);
    if (size > RAFTWAL_MAX_META_SIZE || (!data && size))
        return rw_err(RAFTWAL_EINVAL, "metadata is NULL or larger than %u bytes", RAFTWAL_MAX_META_SIZE);
    rw_batch b = {.has_meta = 1, .meta = data, .meta_len = size};
    return rw_api_return(rw_log_write(log, &b, 0));
}

/* Reads one of the log's bounds under the readers' lock. */
static int get_bound(raftwal_log *log, const uint64_t *field, uint64_t *out)
{
    CHECK_LOG(log);
    if (!out)
        return rw_err(RAFTWAL_EINVAL, "NULL argument");
    pthread_rwlock_rdlock(&log->rw);
    int rc = rw_log_check_usable(log); /* close may have run since CHECK_LOG */
    if (rc == 0)
        *out = *field;
    pthread_rwlock_unlock(&log->rw);
    return rw_api_return(rc);
}

int raftwal_log_first_index(raftwal_log *log, uint64_t *out)
{
    return get_bound(log, log ? &log->first : NULL, out);
}

int raftwal_log_last_index(raftwal_log *log, uint64_t *out)
{
    return get_bound(log, log ? &log->last : NULL, out);
}

int raftwal_log_hardstate(raftwal_log *log, raftwal_hardstate *out)
{
    CHECK_LOG(log);
    if (!out)
        return rw_err(RAFTWAL_EINVAL, "NULL argument");
    pthread_rwlock_rdlock(&log->rw);
    int rc = rw_log_check_usable(log);
    if (rc == 0)
        *out = log->hs;
    pthread_rwlock_unlock(&log->rw);
    return rw_api_return(rc);
}

static int copy_out(const uint8_t *src, size_t len, void *buf, size_t cap, size_t *size)
{
    *size = len;
    if (len > cap)
        return rw_err(RAFTWAL_ERANGE, "%zu bytes do not fit in a %zu-byte buffer", len, cap);
    if (len)
        memcpy(buf, src, len);
    return 0;
}

int raftwal_log_snapshot(raftwal_log *log, uint64_t *index, uint64_t *term, void *buf, size_t cap,
                         size_t *size)
{
    CHECK_LOG(log);
    if (!size || (!buf && cap))
        return rw_err(RAFTWAL_EINVAL, "NULL argument");
    pthread_rwlock_rdlock(&log->rw);
    int rc = rw_log_check_usable(log);
    if (rc == 0) {
        if (index)
            *index = log->snap_index;
        if (term)
            *term = log->snap_term;
        rc = copy_out(log->snap_meta, log->snap_meta_len, buf, cap, size);
    }
    pthread_rwlock_unlock(&log->rw);
    return rw_api_return(rc);
}

int raftwal_log_metadata(raftwal_log *log, void *buf, size_t cap, size_t *size)
{
    CHECK_LOG(log);
    if (!size || (!buf && cap))
        return rw_err(RAFTWAL_EINVAL, "NULL argument");
    pthread_rwlock_rdlock(&log->rw);
    int rc = rw_log_check_usable(log);
    if (rc == 0)
        rc = copy_out(log->meta, log->meta_len, buf, cap, size);
    pthread_rwlock_unlock(&log->rw);
    return rw_api_return(rc);
}

/* A segment's size; for one not read yet (composed from a checkpoint), ask
 * the file system rather than reading it. */
static uint64_t seg_file_size(rw_seg *s)
{
    if (atomic_load_explicit(&s->probed, memory_order_acquire) || !s->sealed)
        return s->file_size;
    struct stat st;
    return fstatat(s->dirfd, s->name, &st, 0) == 0 ? (uint64_t)st.st_size : 0;
}

int raftwal_log_stats(raftwal_log *log, raftwal_stats *out)
{
    CHECK_LOG(log);
    if (!out || out->size < 8)
        return rw_err(RAFTWAL_EINVAL, "NULL stats or raftwal_stats.size not set");
    raftwal_stats s;
    memset(&s, 0, sizeof s);
    pthread_rwlock_rdlock(&log->rw);
    int rc = rw_log_check_usable(log); /* else the segment table may be empty */
    if (rc) {
        pthread_rwlock_unlock(&log->rw);
        return rc;
    }
    s.first_index = log->first;
    s.last_index = log->last;
    s.entries = log->last - log->first + 1;
    s.segments = log->nsegs;
    for (size_t i = 0; i < log->nsegs; i++)
        s.disk_bytes += seg_file_size(log->segs[i]);
    pthread_rwlock_unlock(&log->rw);
    pthread_mutex_lock(&log->pmu);
    if (log->prepared)
        s.disk_bytes += log->prepared->file_size;
    pthread_mutex_unlock(&log->pmu);
    pthread_mutex_lock(&log->smu);
    s.durable_index = log->durable_index;
    pthread_mutex_unlock(&log->smu);
    const rw_counters *c = &log->stats;
    s.appends = c->appends;
    s.appended_entries = c->appended_entries;
    s.appended_bytes = c->appended_bytes;
    s.written_bytes = c->written_bytes;
    s.fsyncs = c->fsyncs;
    s.fsync_ns_total = c->fsync_ns_total;
    s.fsync_ns_max = c->fsync_ns_max;
    s.dir_fsyncs = c->dir_fsyncs;
    s.reads = c->reads;
    s.footer_loads = c->footer_loads;
    s.footer_hits = c->footer_hits;
    s.torn_tails = c->torn_tails;
    s.torn_bytes = c->torn_bytes;
    s.rotations = c->rotations;
    s.segments_deleted = c->segments_deleted;
    s.segments_recycled = c->segments_recycled;
    s.open_ns = c->open_ns;
    s.encrypted = (uint64_t)log->codec.encrypted;
    s.compressed_entries = c->compressed_entries;
    s.stored_entry_bytes = c->stored_entry_bytes;
    uint32_t want = out->size;
    s.size = want < sizeof s ? want : (uint32_t)sizeof s;
    memcpy(out, &s, s.size);
    return rw_api_return(0);
}

int raftwal_log_segment_info(raftwal_log *log, size_t i, raftwal_segment_info *out)
{
    CHECK_LOG(log);
    if (!out || out->size < 8)
        return rw_err(RAFTWAL_EINVAL, "NULL info or raftwal_segment_info.size not set");
    raftwal_segment_info info;
    memset(&info, 0, sizeof info);
    pthread_rwlock_rdlock(&log->rw);
    int rc = rw_log_check_usable(log);
    if (rc) {
        /* closed meanwhile: the segment table is gone */
    } else if (i >= log->nsegs) {
        rc = rw_err(RAFTWAL_ERANGE, "segment %zu of %zu", i, log->nsegs);
    } else {
        rw_seg *s = log->segs[i];
        if (s->sealed && rw_seg_ensure_probed(s, log->log_id) == 0)
            info.used_bytes = s->used; /* read on demand: open does not */
        uint64_t first = s->first > log->first ? s->first : log->first;
        uint64_t last = s->count ? s->first + s->count - 1 : first - 1;
        if (last < first - 1)
            last = first - 1; /* all its entries were purged */
        info.seq = s->seq;
        info.sealed = (uint32_t)s->sealed;
        info.first_index = first;
        info.last_index = last;
        info.file_bytes = seg_file_size(s);
        if (!s->sealed)
            info.used_bytes = s->used;
    }
    pthread_rwlock_unlock(&log->rw);
    rw_log_reader_fds_check(log); /* the probe may have opened the file */
    if (rc)
        return rc;
    uint32_t want = out->size;
    info.size = want < sizeof info ? want : (uint32_t)sizeof info;
    memcpy(out, &info, info.size);
    return rw_api_return(0);
}

/* The key-taking checks: with no key they are raftwal_verify() and
 * raftwal_repair(). */
static int check_key_options(const raftwal_options *opts, raftwal_options *full)
{
    if (!opts) {
        raftwal_options def = RAFTWAL_OPTIONS_INIT;
        *full = def;
        return 0;
    }
    int rc = normalize_options(opts, full);
    return rc ? rc : rw_codec_check_options(full);
}

int raftwal_verify_opts(const char *dir, const raftwal_options *opts, raftwal_check *out)
{
    raftwal_options full;
    int rc = check_key_options(opts, &full);
    if (rc)
        return rc;
    return rw_api_return(rw_verify_keyed(dir, full.key, out));
}

int raftwal_repair_opts(const char *dir, const raftwal_options *opts, raftwal_check *out)
{
    raftwal_options full;
    int rc = check_key_options(opts, &full);
    if (rc)
        return rc;
    return rw_repair_keyed(dir, full.key, out);
}

/* raftwal_rekey(): src/rekey.c. */
