/*
 * raftwal.h -- the write-ahead log under a Raft node.
 *
 * This header is the whole public ABI of libraftwal. Everything a program can
 * call is declared and documented here; nothing else is exported.
 *
 * ------------------------------------------------------------------------
 * Model
 * ------------------------------------------------------------------------
 * A log lives in one directory and holds Raft entries (index, term, type,
 * data) with contiguous indexes first..last. A new log has first = 1 and
 * last = 0 (empty). Beside the entries it keeps:
 *   - the hard state (term, vote, commit);
 *   - snapshot metadata (index, term, opaque bytes such as a ConfState); the
 *     snapshot data itself belongs to the application;
 *   - user metadata: opaque bytes (a cluster id, a node id, ...).
 *
 * Appends are atomic batches: after a crash either the whole batch is in
 * the log or none of it. An append whose first index is <= last replaces
 * the suffix from that index (Raft's conflict rule). Purging a prefix drops
 * entries <= upto; purging past the last index empties the log so that the
 * next append starts at upto + 1 (installing a leader's snapshot). Indexes
 * run from 1 to RAFTWAL_MAX_INDEX.
 *
 * ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------
 * Every fallible function returns an int: 0 (RAFTWAL_OK) on success or a
 * negative RAFTWAL_E* code. Codes never change meaning between versions.
 * Every function given a NULL handle or a NULL required pointer returns
 * RAFTWAL_EINVAL, and every function given a handle that was closed (an
 * iterator keeps its memory alive) or that this process inherited through
 * fork() returns RAFTWAL_ECLOSED (not repeated in each function's list
 * below).
 * raftwal_strerror() names a code; raftwal_errmsg() gives the detailed
 * message of the calling thread's last call if it failed (which file,
 * which offset, what was expected; "" after a success). Functions never abort() or exit() on bad input and
 * never crash on any file content.
 *
 * ------------------------------------------------------------------------
 * Threading
 * ------------------------------------------------------------------------
 * - One raftwal_log handle may be used from many threads at once. Writes
 *   (append, truncate, purge, set_*, save_snapshot) are serialized inside
 *   the library; concurrent durable appends are grouped so that one
 *   fdatasync covers many batches (group commit). Readers (get, term,
 *   iterators, bounds, getters) never wait for a writer's fdatasync.
 * - Raft indexes are consecutive and an append names its first index, so
 *   threads that produce entries independently must agree on indexes: append
 *   under the caller's own lock with RAFTWAL_NOSYNC (a write, no fsync), then
 *   call raftwal_log_wait_durable() outside that lock. Whichever waiter finds
 *   no sync running syncs for all of them.
 * - raftwal_log_close() must not race with other calls on the same handle:
 *   call it once, after every other thread is done with the handle.
 *   Iterators still open when the log is closed keep the memory they
 *   reference alive; their next call returns RAFTWAL_ECLOSED, also when
 *   it races the close. So does every call given such a closed handle,
 *   raftwal_log_close() included (it then releases nothing).
 * - A raftwal_iter is used by one thread at a time.
 * - A log directory is opened for writing by at most one handle in the
 *   whole system: a second open, in this process or another, fails with
 *   RAFTWAL_ELOCKED. The lock is a process-owned fcntl() lock, so a child
 *   made by fork() does not inherit it and cannot keep the log locked
 *   after its parent dies. Read-only opens take no lock.
 * - A handle belongs to the process that opened it. In a child made by
 *   fork(), every call on a handle (or iterator) inherited from the parent
 *   returns RAFTWAL_ECLOSED and does nothing: it writes, syncs and closes
 *   nothing there, and takes none of the handle's locks (another thread of
 *   the parent may have held them at the fork). raftwal_log_close() on it
 *   also returns RAFTWAL_ECLOSED at once and releases nothing: the child's
 *   copies of the handle's memory, mappings and descriptors stay until it
 *   exits or execs (descriptors are close-on-exec; while it lives, it
 *   keeps the disk space of segment files the parent deletes). The
 *   parent's handle is unaffected; the child opens the log anew if it
 *   needs it (RAFTWAL_ELOCKED while the parent holds it).
 * - The process-wide state (per-thread error messages, the table of logs
 *   this process holds open, the CRC32C implementation chosen at start)
 *   is thread-safe.
 *
 * ------------------------------------------------------------------------
 * Durability
 * ------------------------------------------------------------------------
 * A function that changes the log returns after the change is on stable
 * storage (fdatasync of the data, fsync of the directory when a file was
 * created, renamed or deleted), unless the caller passed RAFTWAL_NOSYNC or
 * opened the log with RAFTWAL_OPEN_NOSYNC; such changes become durable at
 * the next raftwal_log_sync() or the next durable write. A no-sync change
 * returns once written to the OS, rotations included (they wait for no
 * disk: the next segment file is made and synced by a background thread,
 * and while it is not ready the active segment grows, up to twice
 * segment_size; only past that does the rotation make the file itself,
 * an fdatasync and a directory fsync on the calling thread): it survives
 * a crash of the process (kill -9) and may be lost on a
 * power loss, in which case the log reopens to a consistent prefix. After
 * such a crash, open verifies every segment written since the last sync in
 * full, so it costs O(unsynced data). After an fsync or
 * write failure the handle is failed: every later change returns
 * RAFTWAL_EIO (reads keep working) until the log is closed and reopened,
 * which recovers the durable state. A failed fsync is never retried.
 *
 * A full disk fails nothing that wrote nothing. A writable open needs no
 * free space (a log that ends in a sealed segment aside: it needs its next
 * segment file, a spare if there is one); the next segment file is made
 * when a rotation needs it, from a purged segment's file when there is
 * one. A change that finds no space for its next segment file, or whose
 * first write the disk refuses outright, returns RAFTWAL_ENOSPC and leaves
 * the handle usable: nothing was written. Batches without entries (hard
 * state, purge, a small snapshot record) find room in the active segment
 * when entries no longer do: each segment filled to its configured size
 * keeps a reserve for them, and hard states and snapshot records leave
 * the purge's part of it (they get RAFTWAL_ENOSPC first), so a node whose
 * disk filled can always purge, and appends work again once a purged file
 * can be reused (no reopen needed). A tail grown past its configured size
 * (a batch larger than a quarter of a segment, or unsynced appends that
 * outran the background preparer) keeps no reserve: on a full disk every
 * change to it, a purge included, needs a new segment file and gets
 * RAFTWAL_ENOSPC until space is freed outside the log. The reserve is disk
 * space only in a zero-filled segment file: a sparse one (a log opened
 * RAFTWAL_OPEN_NOSYNC, or one whose commits are large: README.md)
 * allocates its blocks when written, so there a batch written on a full
 * disk may fail the handle like any write error. A write that did land in part (ENOSPC after some of
 * the batch's bytes) fails the handle like any write error.
 *
 * ------------------------------------------------------------------------
 * Encryption and compression
 * ------------------------------------------------------------------------
 * A log can be encrypted at rest (AES-256-GCM, raftwal_options.key) and
 * its entries compressed (LZ4 or zstd, raftwal_options.compression); see
 * raftwal_features() for what this build supports. Encryption is chosen
 * when the log is created and is for its whole life: every later open,
 * raftwal_verify_opts(), raftwal_repair_opts() and read-only open needs the
 * same 32-byte master key (RAFTWAL_EKEY otherwise, before anything is
 * decrypted), and raftwal_rekey() changes the master key without rewriting
 * the log. Entry data, the hard state, snapshot and user metadata are
 * encrypted; indexes, terms, sizes and record types stay in clear and are
 * authenticated: a changed byte is RAFTWAL_ECORRUPT naming the file and
 * offset, never returned as data. The master key never reaches a file, an
 * error message or a dump; the library keeps no copy of it past the open,
 * and wipes the keys derived from it when the handle is freed (at close,
 * or when the last iterator that outlived the close is closed).
 * Compression is a per-open choice of the writer, recorded per entry:
 * readers need no option. An entry of an encrypted or compressed log is
 * decoded when read, so reads of such a log are copies, not zero-copy
 * views (see raftwal_iter_next()). docs/format.md, section 7, says how
 * nonces are never reused.
 *
 * The on-disk format is specified in docs/format.md.
 */
#ifndef RAFTWAL_H
#define RAFTWAL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------- */
/* Export macro and versions                                              */
/* ---------------------------------------------------------------------- */

#if defined(RAFTWAL_BUILDING) && defined(__GNUC__)
#define RAFTWAL_API __attribute__((visibility("default")))
#else
#define RAFTWAL_API
#endif

/* The library version this header belongs to. The major version is the ABI
 * version: it is part of the shared library's SONAME (libraftwal.so.1). */
#define RAFTWAL_VERSION_MAJOR 1
#define RAFTWAL_VERSION_MINOR 0
#define RAFTWAL_VERSION_PATCH 0
#define RAFTWAL_VERSION_STRING "1.0.0"
/* MAJOR * 10000 + MINOR * 100 + PATCH, for compile-time comparisons. */
#define RAFTWAL_VERSION_NUMBER                                                  \
    (RAFTWAL_VERSION_MAJOR * 10000 + RAFTWAL_VERSION_MINOR * 100 +              \
     RAFTWAL_VERSION_PATCH)

/* The version of the library loaded at run time, as "MAJOR.MINOR.PATCH".
 * The string is static; never free it. Thread-safe. */
RAFTWAL_API const char *raftwal_version(void);

/* The run-time version as MAJOR * 10000 + MINOR * 100 + PATCH. Compare it
 * with RAFTWAL_VERSION_NUMBER to detect a header/library mismatch. */
RAFTWAL_API int raftwal_version_number(void);

/* ---------------------------------------------------------------------- */
/* Error codes                                                            */
/* ---------------------------------------------------------------------- */

/* Error codes. Values are part of the ABI: they are never renumbered and
 * new ones are only ever added below the last. */
enum raftwal_error {
    RAFTWAL_OK = 0,
    RAFTWAL_EINVAL = -1,       /* an argument is invalid (NULL, out of range,
                                  size too large, bad options version) */
    RAFTWAL_ENOMEM = -2,       /* out of memory */
    RAFTWAL_EIO = -3,          /* an I/O call failed (see raftwal_errmsg()),
                                  or the handle is failed after an earlier
                                  fsync or write error */
    RAFTWAL_ECORRUPT = -4,     /* a file's content is damaged; the message
                                  names the file and the byte offset */
    RAFTWAL_ELOCKED = -5,      /* the log is open for writing elsewhere */
    RAFTWAL_ECOMPACTED = -6,   /* the index is below the first index (purged).
                                  Also from a read-only handle or
                                  raftwal_verify() when a writer in another
                                  process purged what they were about to
                                  read: the message then says so ("purged
                                  by the writer", "the log changed under
                                  the reader/check"); try again */
    RAFTWAL_EUNAVAILABLE = -7, /* the index is above the last index */
    RAFTWAL_ENOTFOUND = -8,    /* no log at that path (and CREATE not given) */
    RAFTWAL_EVERSION = -9,     /* a file has a format version this library
                                  does not understand */
    RAFTWAL_EREADONLY = -10,   /* a change was asked of a read-only handle */
    RAFTWAL_ENOSPC = -11,      /* the disk is full. Nothing was written and
                                  the handle stays usable, unless part of a
                                  batch was: then it is failed (see
                                  Durability) */
    RAFTWAL_EGAP = -12,        /* entries are not contiguous with the log or
                                  with each other */
    RAFTWAL_ETERM = -13,       /* an entry's term is lower than the term of
                                  the entry before it (or, when the log
                                  holds none, of the snapshot right
                                  before it) */
    RAFTWAL_ECOMMITTED = -14,  /* the change would remove entries at or below
                                  the recorded commit index */
    RAFTWAL_ERANGE = -15,      /* an output buffer is too small; the needed
                                  size was stored */
    RAFTWAL_ECLOSED = -16,     /* the log handle was closed, or was opened
                                  by another process (inherited through
                                  fork()) */
    RAFTWAL_EKEY = -17         /* wrong or missing key: the log is encrypted
                                  and no key, or not its key, was given; or
                                  a key was given for a log that is not
                                  encrypted. The message says which; it
                                  never contains key material */
};

/* A short, static, English description of an error code ("corrupt data").
 * Unknown codes give "unknown error". Never NULL; never free it. */
RAFTWAL_API const char *raftwal_strerror(int code);

/* The detailed message of the calling thread's last call if it failed,
 * e.g. "0000000000000003.wal: offset 4096: record checksum mismatch".
 * Returns "" if that call succeeded (whatever it met and handled on the
 * way, such as a torn tail cut at open) or no call was made yet. Every
 * function returning an error code counts as a call; raftwal_errmsg(),
 * raftwal_strerror(), raftwal_version*() and raftwal_iter_close() leave
 * the message as it is. The string belongs to the library and stays
 * valid until the thread's next raftwal call. */
RAFTWAL_API const char *raftwal_errmsg(void);

/* ---------------------------------------------------------------------- */
/* Plain structs                                                          */
/* ---------------------------------------------------------------------- */

/* One log entry. Its layout is frozen for ABI version 1 (arrays of it cross
 * the ABI); a new field would mean a new struct.
 *   index, term  Raft index and term.
 *   type         application-defined entry type (e.g. normal / conf change).
 *   flags        reserved, must be 0 on input; 0 on output.
 *   data, size   the payload. On input it is read during the call only. On
 *                output it is either a borrowed view (iterators: valid until
 *                the iterator's next call or its close) or the caller's
 *                buffer (raftwal_log_get). data may be NULL when size is 0. */
typedef struct raftwal_entry {
    uint64_t index;
    uint64_t term;
    uint32_t type;
    uint32_t flags;
    const void *data;
    size_t size;
} raftwal_entry;

/* Raft's hard state. Layout frozen for ABI version 1. A new log has all
 * three fields 0. */
typedef struct raftwal_hardstate {
    uint64_t term;
    uint64_t vote;
    uint64_t commit;
} raftwal_hardstate;

/* ---------------------------------------------------------------------- */
/* Limits                                                                 */
/* ---------------------------------------------------------------------- */

#define RAFTWAL_MAX_ENTRY_SIZE (256u * 1024u * 1024u) /* bytes of data */
#define RAFTWAL_MAX_META_SIZE (16u * 1024u * 1024u)   /* snapshot / user meta */
#define RAFTWAL_MAX_BATCH_ENTRIES (1u << 20)          /* entries per append */
#define RAFTWAL_MIN_SEGMENT_SIZE (16u * 1024u)
#define RAFTWAL_MAX_SEGMENT_SIZE (1024u * 1024u * 1024u)
/* Open reads only the last segment, so its size bounds the open time: at
 * 8 MiB a 1 GiB log opened in 5-8 ms cold on the bench machine, a full last
 * segment included (16 MiB: 11-12 ms; bench/README.md). A batch bigger than
 * a quarter of a segment may grow one past this size (see segment_size). */
#define RAFTWAL_DEFAULT_SEGMENT_SIZE (8u * 1024u * 1024u)
/* The largest entry index (so that an exclusive range end, last + 1, always
 * fits in 64 bits). */
#define RAFTWAL_MAX_INDEX (UINT64_MAX - 1)
/* "No byte limit" for raftwal_iter_open(). */
#define RAFTWAL_NO_LIMIT UINT64_MAX

/* ---------------------------------------------------------------------- */
/* Opening and closing                                                    */
/* ---------------------------------------------------------------------- */

/* An open log. Opaque. */
typedef struct raftwal_log raftwal_log;

/* raftwal_options.flags */
#define RAFTWAL_OPEN_CREATE 0x1u   /* create the directory and log if absent */
#define RAFTWAL_OPEN_READONLY 0x2u /* no lock, never writes; sees the durable
                                      prefix as of the open. Keeps a segment
                                      file it reads open and mapped, with a
                                      shared lock that stops a writer from
                                      reusing the file: one descriptor per
                                      segment, for at most 64 segments (a
                                      quarter of RLIMIT_NOFILE if lower, as
                                      of the open) plus those an iterator's
                                      current entry or a get in progress
                                      holds. Past that, or when an open fails
                                      with EMFILE, it lets go of the segments
                                      no view points into; reading one again
                                      opens, locks and checks its file anew
                                      (RAFTWAL_ECOMPACTED if the writer has
                                      purged it meanwhile) */
#define RAFTWAL_OPEN_NOSYNC 0x4u   /* changes default to RAFTWAL_NOSYNC; use
                                      raftwal_log_sync() to make them durable.
                                      Creating a log with it also writes zeros
                                      into its first segment's page cache (up
                                      to 8 MiB, not synced; a few ms of the
                                      open), so that appends find the pages
                                      there; the kernel writes out those not
                                      yet overwritten (at a sync, at close, or
                                      by its background writeback) */
#define RAFTWAL_OPEN_VERIFY 0x8u   /* check every record of every segment at
                                      open (slow; the default reads only the
                                      tail segment and the sealed footers) */

/* raftwal_options.compression */
#define RAFTWAL_COMPRESS_NONE 0u
#define RAFTWAL_COMPRESS_LZ4 1u
#define RAFTWAL_COMPRESS_ZSTD 2u

/* Bytes of a master key (raftwal_options.key, raftwal_rekey()). */
#define RAFTWAL_KEY_SIZE 32u

/* Version 2 added compression, key, key_size and compress_min. A program
 * built against version 1 passes version 1 and the shorter struct: the
 * library reads only the fields that version has (no encryption, no
 * compression). */
#define RAFTWAL_OPTIONS_VERSION 2

/* Options for raftwal_log_open(). Initialize with RAFTWAL_OPTIONS_INIT or
 * raftwal_options_init() so that fields added later get their defaults.
 *   version        RAFTWAL_OPTIONS_VERSION.
 *   flags          RAFTWAL_OPEN_* bits.
 *   segment_size   bytes per segment file before rotation; 0 = default
 *                  (RAFTWAL_DEFAULT_SEGMENT_SIZE). Must be within
 *                  [RAFTWAL_MIN_SEGMENT_SIZE, RAFTWAL_MAX_SEGMENT_SIZE].
 *                  Applies to segments created by this handle: a per-open
 *                  choice, not recorded in the log (a reopen without it
 *                  makes segments of the default size; existing segments
 *                  keep theirs). A batch
 *                  never spans two segments: one that does not fit into
 *                  what is left goes into the segment anyway, growing the
 *                  file, while the segment is at most 3/4 full, else into
 *                  the next one (growing it if bigger than a segment).
 *                  No-sync batches also grow the segment, up to twice
 *                  this size, while the next file is not ready yet (see
 *                  Durability). Every segment starts with a checkpoint that repeats the
 *                  snapshot and user metadata: choose a segment several
 *                  times their size.
 *   metadata,      initial user metadata, written only when the log is
 *   metadata_size  created by this open; copied during the call.
 *   file_mode      permission bits (at most 0777) of the files this open
 *                  creates; 0 = the log's own: 0600 for a new log, and for
 *                  an existing one the read and write bits of its LOCK
 *                  file, the owner's always (LOCK is made with the mode of
 *                  the open that created the log). Directories the library
 *                  creates (the log's, and raftwal_repair()'s backup) get
 *                  the same bits plus x where r is set: 0600 -> 0700,
 *                  0640 -> 0750. The umask
 *                  narrows these as usual, never widens them. A recycled
 *                  segment file is narrowed to this mode if wider (never
 *                  widened); files that exist are otherwise left as they
 *                  are: a file_mode given to a later open applies only to
 *                  the files that open creates (to change who may read an
 *                  existing log, chmod its files, LOCK included).
 *                  Read-only opens create nothing.
 *   compression    RAFTWAL_COMPRESS_* for the entries this handle writes
 *                  (version 2). An entry of at least compress_min bytes is
 *                  compressed, and kept compressed only if that saves
 *                  space; each entry records how it is stored, so readers
 *                  need no option and a log may mix plain, LZ4 and zstd
 *                  entries. LZ4 costs the least CPU; zstd (level 1)
 *                  stores JSON-like entries in about a third fewer bytes
 *                  for several times LZ4's CPU. Not recorded as
 *                  a property of the log: a later open without it writes
 *                  plain entries. A choice this build lacks
 *                  (raftwal_features()) is RAFTWAL_EINVAL.
 *   key, key_size  the master key (RAFTWAL_KEY_SIZE bytes, copied during
 *                  the call; the caller may wipe its copy afterwards), or
 *                  NULL and 0 (version 2). With RAFTWAL_OPEN_CREATE on a
 *                  directory holding no log, it creates an encrypted log;
 *                  an existing log must have been created with it (and
 *                  without it if it was not): else RAFTWAL_EKEY. Another
 *                  key_size is RAFTWAL_EINVAL, and so is a key in a build
 *                  without encryption (raftwal_features()).
 *   compress_min   entries smaller than this many bytes are stored as they
 *                  are; 0 = 64 (version 2). */
typedef struct raftwal_options {
    unsigned int version;
    unsigned int flags;
    uint64_t segment_size;
    const void *metadata;
    size_t metadata_size;
    unsigned int file_mode;
    /* version 2 */
    unsigned int compression;
    const void *key;
    size_t key_size;
    uint32_t compress_min;
} raftwal_options;

#define RAFTWAL_OPTIONS_INIT                                                    \
    { RAFTWAL_OPTIONS_VERSION, RAFTWAL_OPEN_CREATE, 0, NULL, 0, 0,            \
      RAFTWAL_COMPRESS_NONE, NULL, 0, 0 }

/* Fills *opts with the defaults of options struct version `version` (pass
 * RAFTWAL_OPTIONS_VERSION; 1 fills only the version 1 fields, for a
 * caller whose struct is the shorter version 1). Bindings call this
 * instead of the macro.
 * Errors: RAFTWAL_EINVAL if opts is NULL or the version is unknown. */
RAFTWAL_API int raftwal_options_init(raftwal_options *opts,
                                     unsigned int version);

/* raftwal_features() bits. */
#define RAFTWAL_FEATURE_ENCRYPTION 0x1u /* AES-256-GCM (OpenSSL libcrypto) */
#define RAFTWAL_FEATURE_LZ4 0x2u        /* RAFTWAL_COMPRESS_LZ4 */
#define RAFTWAL_FEATURE_ZSTD 0x4u       /* RAFTWAL_COMPRESS_ZSTD */

/* What this build of the library supports: RAFTWAL_FEATURE_* bits. What
 * a log uses that the build lacks is RAFTWAL_EVERSION, the message naming
 * the feature: an encrypted log cannot be opened; an entry stored
 * compressed cannot be read (get, iterators, raftwal_verify()), and a log
 * whose active (tail) segment holds one cannot be opened either (open
 * scans the tail); a log whose compressed entries are all in sealed
 * segments opens, and its other entries read. Thread-safe. */
RAFTWAL_API unsigned int raftwal_features(void);

/* Opens (and, with RAFTWAL_OPEN_CREATE, creates) the log in directory
 * `dir` and recovers it: a torn last batch (a crash in the middle of a
 * write) is cut off silently and counted in the stats; damage in the tail
 * segment is reported as RAFTWAL_ECORRUPT naming the file and offset (see
 * raftwal_repair()). Open reads only the last segment: older, sealed
 * segments are checked when first read (reads then return
 * RAFTWAL_ECORRUPT or RAFTWAL_EVERSION) and by raftwal_verify(), or at
 * open with RAFTWAL_OPEN_VERIFY. opts may be NULL for the defaults (CREATE). Every file
 * descriptor is opened O_CLOEXEC. On success *out is a new handle, owned by
 * the caller, released with raftwal_log_close(). On failure *out is NULL.
 * A read-only open of a live log (its writer in another process) is never
 * failed by the writer's renames, purges, recycling or appends: what looks
 * like damage that the writer can explain (segment files gone or added
 * since the directory was listed, or damage not found again on a second
 * look) makes it start again from a new listing; if the writer changes the
 * log under each of 16 attempts, RAFTWAL_ECOMPACTED ("the log changed
 * under the reader"). Real damage is reported as on an idle log.
 * Thread-safe.
 * Errors: RAFTWAL_EINVAL (NULL out/dir, bad options), RAFTWAL_ENOTFOUND,
 * RAFTWAL_ELOCKED, RAFTWAL_ECORRUPT, RAFTWAL_EVERSION, RAFTWAL_EIO,
 * RAFTWAL_ENOSPC, RAFTWAL_ENOMEM, RAFTWAL_ECOMPACTED (read-only, above). */
RAFTWAL_API int raftwal_log_open(raftwal_log **out, const char *dir,
                                 const raftwal_options *opts);

/* Makes everything appended so far durable (unless the handle is failed or
 * read-only), releases the lock and frees the handle. NULL is accepted and
 * does nothing. The handle is invalid afterwards whatever the result; while
 * an iterator keeps its memory alive (see Threading), a second close of it
 * returns RAFTWAL_ECLOSED and does nothing.
 * Must not race with other calls on the same handle.
 * Errors: RAFTWAL_EIO if the final sync failed (the handle is still freed;
 * what was not durable may be lost); RAFTWAL_ECLOSED for a handle already
 * closed, and in a process that inherited the handle through fork():
 * nothing is synced, closed or freed there (see Threading). */
RAFTWAL_API int raftwal_log_close(raftwal_log *log);

/* ---------------------------------------------------------------------- */
/* Writing                                                                */
/* ---------------------------------------------------------------------- */

/* Flag for writes: return once the change is written to the OS, without
 * waiting for stable storage. */
#define RAFTWAL_NOSYNC 0x1u

/* Appends one atomic batch of `count` entries (count may be 0 when only the
 * hard state changes), and, if hs is not NULL, sets the hard state in the
 * same batch. count 0 with hs NULL is a no-op that returns 0. entries[0].index may be:
 *   - last + 1: a plain append;
 *   - <= last: the entries from that index on are replaced (Raft's
 *     conflict rule); refused with RAFTWAL_ECOMMITTED if that would remove
 *     an entry at or below the recorded commit index or the snapshot's
 *     index (a snapshot covers committed entries only), and with
 *     RAFTWAL_ECOMPACTED if it is below the first index.
 * Indexes are 1..RAFTWAL_MAX_INDEX (else RAFTWAL_EINVAL).
 * Entries must have consecutive indexes (else RAFTWAL_EGAP) and terms that
 * never decrease, also against the entry (or snapshot) before the first one
 * (else RAFTWAL_ETERM). hs->commit may not exceed the last index after the
 * batch or, if it is higher, the snapshot's index (RAFTWAL_EINVAL): a
 * follower that installed a snapshot past its entries has a commit index
 * at least the snapshot's before it holds the entries up to it. Data is
 * copied during the call. Returns when the batch is durable, unless flags
 * has RAFTWAL_NOSYNC (or the log was opened with RAFTWAL_OPEN_NOSYNC):
 * then it returns once written, and entries are visible to readers at once
 * either way. Thread-safe; concurrent durable
 * appends share fdatasyncs.
 * Errors: RAFTWAL_EINVAL, RAFTWAL_EGAP, RAFTWAL_ETERM, RAFTWAL_ECOMPACTED,
 * RAFTWAL_ECOMMITTED, RAFTWAL_EREADONLY, RAFTWAL_EIO, RAFTWAL_ENOSPC,
 * RAFTWAL_ENOMEM. After EIO the batch may or may not be on disk and the
 * handle is failed. After ENOSPC or ENOMEM nothing is on disk and the
 * handle is usable, unless part of the batch was written: then the handle
 * is failed and the batch may or may not be on disk (see Durability). */
RAFTWAL_API int raftwal_log_append(raftwal_log *log,
                                   const raftwal_entry *entries, size_t count,
                                   const raftwal_hardstate *hs,
                                   unsigned int flags);

/* Makes every change made so far durable. Cheap when nothing is pending.
 * On a failed handle it returns 0 only if everything written had already
 * been made durable before the failure. Thread-safe.
 * Errors: RAFTWAL_EIO (the handle is now failed), RAFTWAL_EREADONLY. */
RAFTWAL_API int raftwal_log_sync(raftwal_log *log);

/* Stores the highest index whose entry is known durable with its current
 * content (entries above it may still be in flight). A Raft leader can send
 * entries to followers while its own fsync runs and learn here when its
 * copy is durable. Right after open it is a lower bound proven by the
 * files (entries recovered from the page cache after a crash count once the
 * next sync covers them). On a read-only handle it is the last index.
 * Thread-safe. Errors: RAFTWAL_EINVAL (NULL argument). */
RAFTWAL_API int raftwal_log_durable_index(raftwal_log *log, uint64_t *out);

/* Blocks until the durable index is >= index (or index > last index and
 * everything is durable), syncing if no other thread is. Thread-safe.
 * Errors: RAFTWAL_EIO, RAFTWAL_EREADONLY. */
RAFTWAL_API int raftwal_log_wait_durable(raftwal_log *log, uint64_t index);

/* Drops every entry with index >= from. Crash-atomic and durable on return.
 * from > last is a no-op. Refused with RAFTWAL_ECOMMITTED if from <= the
 * recorded commit index or the snapshot's index, RAFTWAL_ECOMPACTED if
 * from < first index.
 * Thread-safe. Errors: those, RAFTWAL_EINVAL (from is 0, not an index),
 * RAFTWAL_EREADONLY, RAFTWAL_EIO. */
RAFTWAL_API int raftwal_log_truncate(raftwal_log *log, uint64_t from);

/* Drops every entry with index <= upto; segment files that hold nothing
 * live any more are deleted (a file being read through an iterator is
 * unmapped only when the iterator lets go of it). If upto >= last the log
 * becomes empty with first = upto + 1 and last = upto. upto < first is a
 * no-op. The purge point is durable before any file is deleted.
 * Thread-safe. Errors: RAFTWAL_EINVAL (upto > RAFTWAL_MAX_INDEX),
 * RAFTWAL_EREADONLY, RAFTWAL_EIO. */
RAFTWAL_API int raftwal_log_purge(raftwal_log *log, uint64_t upto);

/* Sets the hard state alone (an append with no entries). flags as for
 * raftwal_log_append(). hs->commit may not exceed the last index or, if it
 * is higher, the snapshot's index (raftwal_log_save_snapshot()).
 * Errors: RAFTWAL_EINVAL, RAFTWAL_EREADONLY, RAFTWAL_EIO. */
RAFTWAL_API int raftwal_log_set_hardstate(raftwal_log *log,
                                          const raftwal_hardstate *hs,
                                          unsigned int flags);

/* Records snapshot metadata: the snapshot covers entries up to `index`,
 * whose term is `term`; meta (meta_size bytes, copied) is opaque, e.g. the
 * ConfState. It does not purge: call raftwal_log_purge(log, index) when
 * the entries may go. term(index) answers from the snapshot once the entry
 * is purged. Durable on return. index may not be lower than the current
 * snapshot's index (RAFTWAL_EINVAL).
 * Errors: RAFTWAL_EINVAL, RAFTWAL_EREADONLY, RAFTWAL_EIO. */
RAFTWAL_API int raftwal_log_save_snapshot(raftwal_log *log, uint64_t index,
                                          uint64_t term, const void *meta,
                                          size_t meta_size);

/* Replaces the user metadata with `size` bytes at data (copied). Durable on
 * return. Errors: RAFTWAL_EINVAL (too large), RAFTWAL_EREADONLY,
 * RAFTWAL_EIO. */
RAFTWAL_API int raftwal_log_set_metadata(raftwal_log *log, const void *data,
                                         size_t size);

/* ---------------------------------------------------------------------- */
/* Reading                                                                */
/* ---------------------------------------------------------------------- */

/* Store the first / last index (an empty log has last = first - 1).
 * Thread-safe. Errors: RAFTWAL_EINVAL (NULL argument). */
RAFTWAL_API int raftwal_log_first_index(raftwal_log *log, uint64_t *out);
RAFTWAL_API int raftwal_log_last_index(raftwal_log *log, uint64_t *out);

/* Stores the term of entry `index`; for the snapshot's index (even once
 * purged) the snapshot's term; for index 0 of a log that never purged, 0.
 * Thread-safe. Errors: RAFTWAL_ECOMPACTED, RAFTWAL_EUNAVAILABLE,
 * RAFTWAL_ECORRUPT, RAFTWAL_EIO, RAFTWAL_EINVAL. */
RAFTWAL_API int raftwal_log_term(raftwal_log *log, uint64_t index,
                                 uint64_t *term);

/* Copies entry `index` into the caller's buffer: out->index, term, type and
 * size are set, and if buf_size >= size, the data is copied to buf and
 * out->data = buf (decrypted and decompressed if so stored; size is the
 * decoded size, known without decoding: in an encrypted log an ERANGE size
 * is not yet authenticated, docs/format.md §7.3). If buf_size is too
 * small, returns RAFTWAL_ERANGE with out->size set to the size needed
 * (call again with a bigger buffer; buf may be NULL to ask for the size).
 * Thread-safe.
 * Errors: RAFTWAL_ECOMPACTED, RAFTWAL_EUNAVAILABLE, RAFTWAL_ERANGE,
 * RAFTWAL_ECORRUPT (checksum mismatch when read), RAFTWAL_EIO,
 * RAFTWAL_EINVAL. */
RAFTWAL_API int raftwal_log_get(raftwal_log *log, uint64_t index,
                                raftwal_entry *out, void *buf,
                                size_t buf_size);

/* Hard state, snapshot metadata and user metadata getters. Thread-safe.
 * raftwal_log_snapshot() stores the snapshot's index and term (0, 0 if none)
 * and copies its metadata like raftwal_log_metadata() does: *size is set to
 * the full size; if it exceeds cap, RAFTWAL_ERANGE is returned and nothing
 * is copied (buf may be NULL with cap 0 to ask for the size). Any of index,
 * term may be NULL. Errors: RAFTWAL_EINVAL, RAFTWAL_ERANGE. */
RAFTWAL_API int raftwal_log_hardstate(raftwal_log *log,
                                      raftwal_hardstate *out);
RAFTWAL_API int raftwal_log_snapshot(raftwal_log *log, uint64_t *index,
                                     uint64_t *term, void *buf, size_t cap,
                                     size_t *size);
RAFTWAL_API int raftwal_log_metadata(raftwal_log *log, void *buf, size_t cap,
                                     size_t *size);

/* An iterator over a range of entries. Opaque. */
typedef struct raftwal_iter raftwal_iter;

/* Opens an iterator over the entries in [lo, hi) whose data adds up to at
 * most max_bytes, but always at least one entry if the range is not empty
 * (like etcd's Entries(lo, hi, maxSize)); pass RAFTWAL_NO_LIMIT for no cap.
 * lo == hi gives an empty iteration, if hi <= last + 1: a range that
 * reaches past last + 1 is unavailable, empty or not (as in etcd's
 * MemoryStorage.Entries). The iterator pins the segment files it
 * reads from, so a concurrent purge cannot unmap them. Each entry is read as
 * of the raftwal_iter_next() call that returns it; if entries are truncated
 * meanwhile, iteration ends early (RAFTWAL_EUNAVAILABLE or
 * RAFTWAL_ECOMPACTED from raftwal_iter_next()). *out is owned by the
 * caller, released with raftwal_iter_close(); it keeps the log's memory
 * alive even if the log is closed first.
 * Errors: RAFTWAL_EINVAL (lo > hi, NULL), RAFTWAL_ECOMPACTED (lo < first),
 * RAFTWAL_EUNAVAILABLE (hi > last + 1, even if lo == hi; if lo > last the
 * message names lo, as raftwal_log_get() names its index), RAFTWAL_ENOMEM. */
RAFTWAL_API int raftwal_iter_open(raftwal_iter **out, raftwal_log *log,
                                  uint64_t lo, uint64_t hi,
                                  uint64_t max_bytes);

/* Advances the iterator. Returns 1 and fills *out with the next entry, 0
 * when the range (or the byte cap) is exhausted, or a negative error.
 * out->data is a borrowed view, valid until the next raftwal_iter_next()
 * or raftwal_iter_close() on this iterator; the checksum of the entry has
 * been verified. It points into the log's mapped file (zero-copy) unless
 * the entry is stored encrypted or compressed: then into a buffer of the
 * iterator that holds the decoded entry (a copy; the authentication tag
 * was checked). The byte cap of raftwal_iter_open() counts the entries'
 * decoded sizes. Its bytes never
 * change meanwhile, even on a read-only handle while a writer in another
 * process purges and reuses segment files (the writer does not reuse a
 * file a reader maps; a read-only handle whose segment was purged gets
 * RAFTWAL_ECOMPACTED instead: docs/format.md, 6).
 * Errors: RAFTWAL_ECOMPACTED / RAFTWAL_EUNAVAILABLE (the entry was purged
 * or truncated after the iterator was opened), RAFTWAL_ECORRUPT,
 * RAFTWAL_ECLOSED (the log was closed), RAFTWAL_EINVAL. */
RAFTWAL_API int raftwal_iter_next(raftwal_iter *it, raftwal_entry *out);

/* Releases an iterator and the segment pins it holds. NULL is accepted. */
RAFTWAL_API void raftwal_iter_close(raftwal_iter *it);

/* ---------------------------------------------------------------------- */
/* Inspection                                                             */
/* ---------------------------------------------------------------------- */

/* Counters and state of an open log. Set `size` to sizeof(raftwal_stats)
 * before the call: the library fills only the fields that fit, so programs
 * built against an older, shorter struct keep working. Fields are only ever
 * added at the end. Counters count since the open.
 *   first_index .. durable_index   as the getters report them
 *   entries            live entries (last - first + 1)
 *   segments           segment files holding the log (not counting the one
 *                      prepared ahead for the next rotation)
 *   disk_bytes         bytes of all segment files, the prepared one included
 *   appends            batches appended (including hard-state-only ones)
 *   appended_entries   entries appended
 *   appended_bytes     entry payload bytes appended
 *   written_bytes      bytes written to segment files by appends
 *   fsyncs             fdatasync/fsync calls on segment data
 *   fsync_ns_total/max time spent in those calls
 *   dir_fsyncs         fsync calls on the directory
 *   reads              entries read (get, term, iterators)
 *   footer_loads       sealed-segment index footers read from disk
 *   footer_hits        lookups served by an already loaded footer
 *   torn_tails         torn tails cut off at open (0 or 1)
 *   torn_bytes         bytes cut off at open
 *   rotations          segments sealed by this handle
 *   segments_deleted   segment files removed from the log by purges
 *                      (deleted, or kept as spares for reuse)
 *   open_ns            time raftwal_log_open() took
 *   segments_recycled  new segments made from a purged segment's file
 *                      instead of preparing a new one
 *   encrypted          1 if the log is encrypted, else 0
 *   compressed_entries entries this handle stored compressed
 *   stored_entry_bytes bytes the appended entries' data took in the files
 *                      (after compression and encryption; compare with
 *                      appended_bytes) */
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

/* Fills *out (see raftwal_stats). Thread-safe.
 * Errors: RAFTWAL_EINVAL (NULL, or out->size < 8). */
RAFTWAL_API int raftwal_log_stats(raftwal_log *log, raftwal_stats *out);

/* One segment file. Set `size` to sizeof(raftwal_segment_info) first; only
 * fields that fit are filled; fields are only ever added at the end.
 *   seq          the segment's sequence number (its file name is
 *                "%016llx.wal" of it)
 *   first_index  the first live entry in it; last_index the last; a segment
 *   last_index   without live entries has last_index = first_index - 1
 *   file_bytes   the file's size (segments are created at full size:
 *                zero-filled, or sparse for appends that sync 192 KiB or
 *                more at a time or never; see the README; a big batch can
 *                grow one past it: see raftwal_options.segment_size; a
 *                reused file keeps such a length, up to twice the size)
 *   used_bytes   bytes holding records
 *   sealed       1 if the segment is full and carries its index footer */
typedef struct raftwal_segment_info {
    uint32_t size;
    uint32_t sealed;
    uint64_t seq;
    uint64_t first_index;
    uint64_t last_index;
    uint64_t file_bytes;
    uint64_t used_bytes;
} raftwal_segment_info;

/* Fills *out for the i-th segment (0 = oldest) of the log; the number of
 * segments is raftwal_stats.segments. Thread-safe.
 * Errors: RAFTWAL_EINVAL (NULL, size too small), RAFTWAL_ERANGE (i is not
 * below the number of segments). */
RAFTWAL_API int raftwal_log_segment_info(raftwal_log *log, size_t i,
                                         raftwal_segment_info *out);

/* ---------------------------------------------------------------------- */
/* Offline checks                                                         */
/* ---------------------------------------------------------------------- */

/* What raftwal_verify() and raftwal_repair() found. Set `size` to
 * sizeof(raftwal_check) first.
 *   segments, entries         segment files and live entries seen
 *   first_index, last_index   the log's bounds
 *   torn_seq, torn_offset,    where a torn tail starts and how long it is
 *   torn_bytes                (torn_bytes = 0: no torn tail)
 *   cut_seq, cut_offset,      repair only: where salvage cut the log and
 *   cut_bytes                 how many bytes it removed (0: nothing)
 *   backup_path               repair only: the directory holding copies of
 *                             what was cut ("" when nothing was cut)
 *   leftovers,                purged leftovers: segment files holding only
 *   leftover_below_seq        entries at or below the durable purge point,
 *                             that a crash kept from being removed or
 *                             recycled (the directory operations of a purge
 *                             may reach the disk in part, in any order), or
 *                             that no purge has removed yet (a segment still
 *                             being written when its entries were purged).
 *                             `segments` does not count them.
 *                             Harmless: not part of the log, never read; the
 *                             next writable open removes them. Every
 *                             "%016llx.wal" file whose number is below
 *                             leftover_below_seq is one (0 when there are
 *                             none).
 *   encrypted                 1 if the log is encrypted
 *   compressed_entries        live entries stored compressed
 *   entry_bytes               the live entries' data, decoded
 *   stored_entry_bytes        the bytes that data takes in the files
 *                             (entry_bytes / stored_entry_bytes is the
 *                             compression ratio, encryption's tags
 *                             included)
 * Fields are only ever added at the end: a caller built against an older
 * header (its `size` stops before them) does not get the later ones. */
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

/* Checks the log in `dir` without changing it: every record's checksum in
 * every segment, every footer against the records, the segment sequence,
 * index contiguity and term order. A torn tail (an incomplete last batch)
 * is not an error: it is reported in out->torn_*; nor are purged
 * leftovers (out->leftovers). Takes no lock; run it on
 * a closed log or accept that a concurrent writer's last batch may look
 * torn. On a live log (a writer in another process) it checks the log as
 * its read-only open found it (see raftwal_log_open()); when the writer
 * purges segments the check has yet to read, it starts again, and after 3
 * attempts fails with RAFTWAL_ECOMPACTED, the message saying that the log
 * changed under the check (nothing damaged was found in what was read).
 * out may be NULL. Thread-safe.
 * Errors: RAFTWAL_ECORRUPT (message names file and offset),
 * RAFTWAL_EVERSION, RAFTWAL_ENOTFOUND, RAFTWAL_EIO, RAFTWAL_EINVAL,
 * RAFTWAL_ECOMPACTED (a live log changed under the check, above). */
RAFTWAL_API int raftwal_verify(const char *dir, raftwal_check *out);

/* Salvages the log in `dir`: keeps the longest valid prefix (whole batches)
 * and cuts the rest, first copying every file it shortens or removes into a
 * new directory dir/repair-<time>-<pid>-<n>/, named in out->backup_path. A sound log
 * (or one with only a torn tail, which it trims) is left as it is apart
 * from that; purged leftovers (see raftwal_check) are not damage. It never
 * keeps purged leftovers as the log: a cut that would keep only entries
 * at or below the newest intact purge point, that leaves no intact
 * state after it while the files it keeps end before a gap, or that would
 * drop a PURGE whose removed segments the kept log still needs, is refused
 * (RAFTWAL_ECORRUPT, the message says why; nothing more is changed).
 * The backup is no more readable than the log: the directory gets the
 * log's mode (see raftwal_options.file_mode) with x where r is set, each
 * copy the bits its original and the log's mode share.
 * Takes the log's lock (RAFTWAL_ELOCKED if open elsewhere).
 * out may be NULL. Afterwards (unless refused) raftwal_log_open() succeeds.
 * Errors: RAFTWAL_ELOCKED, RAFTWAL_ENOTFOUND, RAFTWAL_EVERSION, RAFTWAL_EIO,
 * RAFTWAL_ENOSPC, RAFTWAL_EINVAL, RAFTWAL_ECORRUPT (refused). */
RAFTWAL_API int raftwal_repair(const char *dir, raftwal_check *out);

/* raftwal_verify() and raftwal_repair() of an encrypted log: opts->key is
 * its master key (the other fields are ignored; opts NULL = no key).
 * raftwal_verify() and raftwal_repair() are these with no key: on an
 * encrypted log they return RAFTWAL_EKEY. Repair copies what it cuts
 * as it is (still encrypted). Errors: as raftwal_verify() /
 * raftwal_repair(), and RAFTWAL_EKEY (wrong key, no key for an
 * encrypted log, a key for a plaintext one). */
RAFTWAL_API int raftwal_verify_opts(const char *dir,
                                    const raftwal_options *opts,
                                    raftwal_check *out);
RAFTWAL_API int raftwal_repair_opts(const char *dir,
                                    const raftwal_options *opts,
                                    raftwal_check *out);

/* Changes the master key of the encrypted log in `dir` from old_key to
 * new_key (RAFTWAL_KEY_SIZE bytes each): the log's data keys are wrapped
 * anew, nothing else is rewritten (docs/format.md, 7). Crash-safe: after a
 * crash at any point the log opens with exactly one of the two keys, and
 * the call can be repeated (with the key the log then opens with as
 * old_key). Takes the log's lock (RAFTWAL_ELOCKED while it is open for
 * writing); read-only handles open with the old key keep working (they
 * read the log as of their open, whose data keys they hold; a new open
 * needs the new key). The keys are copied during the call and
 * the copies wiped. Thread-safe.
 * Errors: RAFTWAL_EKEY (old_key is not the log's key, or the log is not
 * encrypted), RAFTWAL_EINVAL (NULL, a size other than RAFTWAL_KEY_SIZE, a
 * build without encryption), RAFTWAL_ENOTFOUND, RAFTWAL_ELOCKED,
 * RAFTWAL_ECORRUPT (the key registry is damaged), RAFTWAL_EIO,
 * RAFTWAL_ENOSPC. */
RAFTWAL_API int raftwal_rekey(const char *dir, const void *old_key,
                              size_t old_size, const void *new_key,
                              size_t new_size);

#ifdef __cplusplus
}
#endif

#endif /* RAFTWAL_H */
