/*
 * model.h -- a plain in-memory model of a raftwal log, and a checker that
 * compares an open log with it field by field and byte by byte.
 *
 * Behaviour tests apply each operation to both the log and the model, then
 * call model_check() (and usually reopen the log and check again).
 */
#ifndef RAFTWAL_TEST_MODEL_H
#define RAFTWAL_TEST_MODEL_H

#include "raftwal.h"

#include <stddef.h>
#include <stdint.h>

typedef struct model_entry {
    uint64_t term;
    uint32_t type;
    size_t size;
    unsigned char *data; /* owned copy; NULL when size is 0 */
} model_entry;

typedef struct model {
    uint64_t first; /* first index */
    uint64_t last;  /* last index; first - 1 when empty */
    model_entry *ents; /* ents[i] is index first + i */
    size_t cap;
    raftwal_hardstate hs;
    uint64_t snap_index, snap_term;
    unsigned char *snap_meta;
    size_t snap_meta_size;
    unsigned char *meta;
    size_t meta_size;
} model;

/* A batch of generated entries whose payload bytes it owns. */
typedef struct batch {
    raftwal_entry *e;
    size_t n;
    unsigned char *buf;
} batch;

void model_init(model *m);
void model_free(model *m);

/* Applies a batch the log accepted (overwrite rule included). */
void model_append(model *m, const raftwal_entry *e, size_t n,
                  const raftwal_hardstate *hs);
void model_truncate(model *m, uint64_t from);
void model_purge(model *m, uint64_t upto);
void model_snapshot(model *m, uint64_t index, uint64_t term, const void *meta,
                    size_t size);
void model_set_metadata(model *m, const void *data, size_t size);
/* Makes *dst a deep copy of *src (dst must not hold a model). */
void model_copy(model *dst, const model *src);

/* Term the model holds for an entry index (must be in range). */
uint64_t model_term(const model *m, uint64_t index);

/* Checks bounds, every entry (get and one iterator over all), every term,
 * the hard state, the snapshot and the user metadata. `where` is printed
 * on failure. */
void model_check_at(raftwal_log *log, const model *m, const char *file,
                    int line);
#define model_check(log, m) model_check_at((log), (m), __FILE__, __LINE__)

/* Makes `n` entries starting at `first` with term `term`, payloads from
 * tu_payload_fill(index, term) of at most max_payload bytes, type
 * index % 5. */
void batch_make(batch *b, uint64_t first, size_t n, uint64_t term,
                size_t max_payload);
void batch_free(batch *b);

/* Opens dir with the given flags and segment size (0 = default); checks
 * success. */
raftwal_log *open_log(const char *dir, unsigned int flags,
                      uint64_t segment_size);
/* Closes *log (checking success) and opens it again with the same flags. */
void reopen_log(raftwal_log **log, const char *dir, unsigned int flags,
                uint64_t segment_size);

/* raftwal_log_stats() with size set; checks success. */
raftwal_stats get_stats(raftwal_log *log);
/* raftwal_log_segment_info() of segment i with size set; checks success. */
raftwal_segment_info get_segment_info(raftwal_log *log, size_t i);

#endif /* RAFTWAL_TEST_MODEL_H */
