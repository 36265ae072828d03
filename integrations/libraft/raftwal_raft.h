/*
 * raftwal_raft.h -- raftwal as the disk layer of canonical raft (libraft).
 *
 * libraft (https://github.com/canonical/raft, Debian libraft-dev 0.15) talks
 * to its storage and network through a `struct raft_io`, which libraft fills
 * with its own libuv implementation in raft_uv_init(). This library fills the
 * same struct with an implementation whose log, term, vote and snapshots live
 * in a raftwal log. A libraft program switches storage by changing one call:
 *
 *     raft_uv_init(&io, &loop, dir, &transport);          // libraft's storage
 *     raftwal_raft_io_init(&io, &loop, dir, &transport);  // raftwal's
 *
 * and, where it frees the io, raft_uv_close(&io) -> raftwal_raft_io_close(&io).
 * Everything else (raft_init, raft_bootstrap, raft_start, raft_apply,
 * raft_close, the TCP transport) stays as it is.
 *
 * Link with `pkg-config --cflags --libs raftwal-raft` (libraftwal-raft,
 * which pulls libraftwal, libraft and libuv).
 *
 * ------------------------------------------------------------------------
 * What lives where (all under `dir`)
 * ------------------------------------------------------------------------
 *   dir/                 the raftwal log: every entry (index, libraft's
 *                        term, libraft's entry type as the raftwal type,
 *                        libraft's entry buffer as the payload), and the
 *                        hard state (term, vote). `raftwal dump dir` and
 *                        `raftwal verify dir` work on it.
 *   dir/snapshots/       snapshot files, one per snapshot, written to a
 *                        temporary name, fsynced, renamed and the directory
 *                        fsynced. The raftwal log's snapshot metadata names
 *                        the current one; older files are deleted once a
 *                        newer one is recorded.
 *   dir/net/             scratch directory of the libraft uv instance that
 *                        carries the network part (see below). It holds no
 *                        Raft state.
 *
 * A directory written by raft_uv_init() cannot be opened by this library and
 * vice versa: switching storage means a fresh directory (a new node that
 * catches up from the cluster, or a cluster bootstrapped anew).
 *
 * ------------------------------------------------------------------------
 * What the io does (libraft's raft_io contract)
 * ------------------------------------------------------------------------
 * - init(id, address) opens (creating if needed) the raftwal log in `dir`
 *   and starts one worker thread; the network is initialized as by
 *   raft_uv_init()'s io.
 * - bootstrap(conf) writes entry 1 {term 1, RAFT_CHANGE, the encoded
 *   configuration} and term 1, durably, in one atomic batch; it fails with
 *   RAFT_CANTBOOTSTRAP once any term, entry or snapshot exists.
 * - recover(conf) appends a RAFT_CHANGE entry with conf after the last entry,
 *   durably. Its term is that of the last entry (or snapshot), at least 1;
 *   libraft's own storage uses term 1, which a raftwal log refuses after
 *   entries of a higher term (terms never decrease in a raftwal log).
 * - load() returns the term and vote, the current snapshot (if any), and
 *   every entry in the log: after bootstrap, term 1, vote 0, no snapshot,
 *   start index 1 and the one configuration entry, exactly as libraft's own
 *   storage returns it.
 * - set_term() / set_vote() are durable before they return (one fdatasync
 *   on the loop thread, as with libraft's storage).
 * - append() writes the entries at once (raftwal_log_append with
 *   RAFTWAL_NOSYNC, on the loop thread) and returns. The worker thread makes
 *   them durable with raftwal_log_sync(); one sync covers every append
 *   written before it started (group commit). Callbacks run on the loop
 *   thread, in submission order, only once the entries are durable (status
 *   0), or with RAFT_IOERR / RAFT_NOSPACE if the write or the sync failed:
 *   after a failed sync every pending and later append fails (the raftwal
 *   handle is failed, and an fsync is never retried), so libraft sees the
 *   error instead of a silent success. Callbacks never run inside append().
 * - truncate(index) drops the entries >= index, durably (an fdatasync on
 *   the loop thread). It runs when called, so it takes effect after every
 *   earlier append (they were written already) and before every later one,
 *   also over appends whose callbacks are still pending (those still get
 *   their callback).
 * - snapshot_put(trailing, ...) writes the snapshot file and records it in
 *   the log on the worker thread, then purges the entries <= index -
 *   trailing. trailing == 0 (a snapshot installed from the leader) also
 *   drops every entry after the snapshot, so that the log is empty and the
 *   next append is index + 1; appends and truncates submitted while such a
 *   put runs are held back and written once it completes. The put is
 *   crash-atomic: after a crash load() returns either the old snapshot and
 *   log or the new ones (an interrupted install is finished at the next
 *   init).
 * - snapshot_get() reads the current snapshot on the worker thread (NULL
 *   if there is none). The worker alternates between syncs and snapshot
 *   work, so a stream of appends delays a put by at most one fdatasync.
 * - Entry payloads of any length are stored as given. (libraft 0.15's own
 *   storage, given lengths that are not multiples of 8, wrote segments its
 *   load() then rejected as corrupt in our tests; its users pad to 8.)
 * - start(), send(), time(), random() and async_work() are those of a
 *   libraft uv io created internally with raft_uv_init(&inner, loop,
 *   "dir/net", transport): the wire protocol, timers and clock are
 *   libraft's own, so a node on this storage talks to nodes on libraft's.
 *   raft_uv_set_*() must not be called on this io (its impl is not a uv
 *   struct); raftwal_raft_io_uv() gives the inner io for them.
 * - close(cb): the worker thread is joined (it finishes the fdatasync or
 *   snapshot write it is running); then, from the loop, appends not yet
 *   called back get RAFT_CANCELED, snapshot requests not yet run get
 *   RAFT_CANCELED (those the worker finished get their result), the log and
 *   the network are closed, and cb runs. libraft calls it from raft_close().
 *   Later io calls return RAFT_CANCELED.
 *
 * ------------------------------------------------------------------------
 * Threads
 * ------------------------------------------------------------------------
 * Every function of the raft_io, and the two below, must be called from the
 * thread that runs `loop` (as with raft_uv_init()). Callbacks run on that
 * thread. Snapshot structs handed to libraft are allocated with
 * raft_malloc() from the worker thread: a custom raft_heap must be
 * thread-safe.
 */
#ifndef RAFTWAL_RAFT_H
#define RAFTWAL_RAFT_H

#include <raft.h>
#include <raft/uv.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(RAFTWAL_RAFT_BUILDING) && defined(__GNUC__)
#define RAFTWAL_RAFT_API __attribute__((visibility("default")))
#else
#define RAFTWAL_RAFT_API
#endif

#define RAFTWAL_RAFT_VERSION_MAJOR 1
#define RAFTWAL_RAFT_VERSION_MINOR 0
#define RAFTWAL_RAFT_VERSION_PATCH 0

/* Fills *io with the raftwal implementation of libraft's raft_io, storing
 * its state in directory `dir` and using `transport` (e.g. one set up with
 * raft_uv_tcp_init()) for the network, exactly as raft_uv_init() does: the
 * same arguments, the same lifecycle. Touches no file: the directory is
 * created and opened by io->init(), which raft_init() calls.
 *   io         caller-owned; must stay valid (and not move) until
 *              raftwal_raft_io_close(). On success io->impl is set.
 *   loop       the libuv loop every io call and callback runs on.
 *   dir        copied; at most 900 bytes long.
 *   transport  caller-owned, initialized, not yet used; must outlive the
 *              io. Its data field is taken over, as raft_uv_init() does.
 * Thread: the loop's thread.
 * Returns 0, RAFT_NAMETOOLONG (dir too long), RAFT_INVALID (a NULL
 * argument) or RAFT_NOMEM; on failure nothing needs releasing. */
RAFTWAL_RAFT_API int raftwal_raft_io_init(struct raft_io *io,
                                          struct uv_loop_s *loop,
                                          const char *dir,
                                          struct raft_uv_transport *transport);

/* Releases the memory of an io set up by raftwal_raft_io_init(): call it
 * after io->close() has called its callback (typically from the callback
 * given to raft_close()), or if io->init() was never called or failed.
 * Never fails. The transport is not closed (as with raft_uv_close()). */
RAFTWAL_RAFT_API void raftwal_raft_io_close(struct raft_io *io);

/* The libraft uv io that carries this io's network part (a raft_uv_init()
 * instance on "dir/net"), for the raft_uv_set_*() tuning calls that concern
 * the network, e.g. raft_uv_set_connect_retry_delay(raftwal_raft_io_uv(io),
 * 100). Owned by `io`; valid until raftwal_raft_io_close(). NULL if io was
 * not set up by raftwal_raft_io_init(). Thread: the loop's thread. */
RAFTWAL_RAFT_API struct raft_io *raftwal_raft_io_uv(struct raft_io *io);

#ifdef __cplusplus
}
#endif

#endif
