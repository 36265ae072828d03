/* workload.h -- a seeded, random but always valid sequence of log
 * operations, run against a real log while a model keeps the state the log
 * must have after each call.
 *
 * Call 0 is the open that creates the log; every later call is one API
 * call (append, append without sync, overwrite, hard state, truncate,
 * purge, snapshot, metadata, sync, close+reopen). states[i] is the model
 * state after call i. Around each call the workload drops faultfs markers
 * (BEGIN / END), so a recording tells which calls had returned at any
 * point of the I/O stream:
 *   mark_a = call index, mark_b = WL_MARK_*.
 * A crash at a point where calls 0..d had returned, call d+1 had begun,
 * and the last call that returned durable was l, must recover exactly one
 * of states[l..d+1] (whole batches, nothing acknowledged lost, no holes). */
#ifndef RAFTWAL_WORKLOAD_H
#define RAFTWAL_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "raftwal.h"

enum { WL_MARK_BEGIN = 0, WL_MARK_END_DURABLE = 1, WL_MARK_END_NOSYNC = 2, WL_MARK_END_FAILED = 3 };

typedef enum wl_kind {
    WL_OPEN,
    WL_APPEND,
    WL_APPEND_NOSYNC,
    WL_OVERWRITE,
    WL_HARDSTATE,
    WL_TRUNCATE,
    WL_PURGE,
    WL_INSTALL, /* snapshot + purge past the last index: two calls */
    WL_SNAPSHOT,
    WL_METADATA,
    WL_SYNC,
    WL_REOPEN,
} wl_kind;

const char *wl_kind_name(wl_kind k);

typedef struct wl_entry {
    uint64_t term;
    uint32_t type;
    uint32_t size;
    const uint8_t *data;
} wl_entry;

/* A log's whole visible state. Blobs and entry data are borrowed from the
 * workload's arena (model states) or owned (wl_read_state). */
typedef struct wl_state {
    uint64_t first, last;
    raftwal_hardstate hs;
    uint64_t snap_index, snap_term;
    const uint8_t *snap_meta;
    size_t snap_meta_len;
    const uint8_t *meta;
    size_t meta_len;
    wl_entry *e; /* last - first + 1 of them */
    int owned;   /* blobs and data were malloc'd by wl_read_state */
} wl_state;

typedef struct workload {
    char dir[4096];
    raftwal_options opts;
    raftwal_log *log;
    uint64_t rng;
    uint64_t cur_term;
    wl_state *states;
    wl_kind *kinds;
    size_t ncalls, cap;
    void **arena;
    size_t narena, arena_cap;
    int last_rc;         /* result of the last call */
    size_t last_durable; /* the last call that returned durable */
} workload;

/* Prepares a workload on directory dir (which must exist, empty), segment
 * size seg_size, seed. Does not open yet. */
void wl_init(workload *w, const char *dir, uint64_t seed, uint64_t seg_size);
void wl_free(workload *w);

/* The options every open of this workload's log uses (so a crash state
 * opened with CREATE gets the same initial metadata). */
const raftwal_options *wl_options(const workload *w);

/* Call 0: opens (creates) the log. Returns the raftwal code. */
int wl_open(workload *w);
/* Runs the next random call(s). Returns the raftwal code of the call that
 * failed (the workload stops being meaningful after a failure: the model
 * records the failed call as a state that may or may not have happened),
 * or 0. A WL_INSTALL or a group of no-sync appends may run several calls. */
int wl_step(workload *w);
/* Closes the log (not a call: no state change). */
int wl_close(workload *w);

/* Reads the whole visible state of an open log (owned copy). */
int wl_read_state(raftwal_log *log, wl_state *out);
void wl_state_free(wl_state *s);
/* 1 if equal. */
int wl_state_equal(const wl_state *a, const wl_state *b);
/* Checks Raft validity: terms never decrease, the hard state commit is not
 * beyond the last index (or snapshot). Returns NULL or what is wrong. */
const char *wl_state_invalid(const wl_state *s);
/* One line describing a state, for failure messages. */
void wl_state_describe(const wl_state *s, char *buf, size_t len);
/* The payload of entry (index, term) as the workload writes it. */
void wl_payload(uint64_t seed, uint64_t index, uint64_t term, uint8_t *out, size_t len);

#endif
