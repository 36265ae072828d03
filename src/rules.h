/* rules.h -- which histories are legal: the one rule on entry terms.
 *
 * design.md §1: "The rules that say which histories are legal (term order,
 * overwrite, purge, snapshot install) live in one place that the writer,
 * recovery, verify and repair all call." The writer (validate_batch in
 * log.c) asks rw_rule_pred() about the log it holds; recovery's scan of the
 * tail (tail_batch in log_open.c) and the full check of a segment
 * (sc_batch in check_segment.c, used by raftwal_verify,
 * RAFTWAL_OPEN_VERIFY, the check of unsynced segments at open, and so by
 * repair) replay a segment's records through an rw_terms tracker, which
 * asks rw_rule_pred() too. So a history the writer accepted is one every
 * reader accepts.
 *
 * The rule: an entry's term is not lower than its predecessor's, where the
 * predecessor of the entry at `index` is
 *   - the live entry index-1, when the log holds it (index-1 in
 *     [first, last]); an overwrite replaces entries from `index` on and
 *     keeps index-1, so this covers Raft's conflict rule too;
 *   - else the snapshot, when it is at index-1 (a follower that installed a
 *     leader's snapshot and purged past its last index continues at the
 *     snapshot: its term may be lower than the follower's purged entries');
 *   - else nothing: everything up to index-1 was purged and no snapshot
 *     says what its term was, so any term is legal.
 */
#ifndef RAFTWAL_RULES_H
#define RAFTWAL_RULES_H

#include <stddef.h>
#include <stdint.h>

typedef enum rw_pred_kind {
    RW_PRED_NONE = 0, /* no bound */
    RW_PRED_ENTRY,    /* the live entry index-1 */
    RW_PRED_SNAPSHOT, /* the snapshot (at index-1) */
} rw_pred_kind;

/* The predecessor of an entry at `index` in a log whose live entries are
 * [first, last] (none when last < first) and whose snapshot is at
 * snap_index (0: none). */
rw_pred_kind rw_rule_pred(uint64_t index, uint64_t first, uint64_t last, uint64_t snap_index);

/* The predecessor that a live entry had when the writer wrote it, as far as
 * the log's current state tells: a checker that sees only the final state
 * (live range [first, last]) and not the history that led to it. An entry
 * after the first live one had the live entry index-1 (both are live now,
 * so index-1 was live and last when the entry was appended: first never
 * goes down). The first live entry's predecessor cannot be told: a
 * snapshot now at first-1 may have been saved after the entry was written
 * (a compaction to an older point, a follower installing a leader's
 * snapshot before its truncate), and the entry first-1 it followed may be
 * purged; the replay of its segment (rw_terms) checked it. RW_PRED_NONE
 * then: the state alone does not make it corrupt. */
rw_pred_kind rw_rule_pred_live(uint64_t index, uint64_t first);

/* A scanner's view of the log's terms while it replays records in order,
 * starting from a segment's checkpoint. It knows the term of the
 * checkpoint's last index and of every entry the scan has seen since, as
 * runs of equal terms (live terms never go down, so runs are few). */
typedef struct rw_terms {
    uint64_t first, last;         /* the live range */
    uint64_t snap_index, snap_term;
    uint64_t base, base_term;     /* the checkpoint's last index and its term */
    int base_known;               /* base was live at the checkpoint */
    uint64_t *run_start, *run_term; /* runs over (base, last], ascending */
    size_t nruns, cap;
} rw_terms;

/* Starts from a checkpoint: purge point, last index, the term of the last
 * index (rw_state.last_term) and the snapshot. */
void rw_terms_start(rw_terms *t, uint64_t purge, uint64_t last, uint64_t last_term,
                    uint64_t snap_index, uint64_t snap_term);
/* An ENTRY record: 0 if its term is legal (and records it), 1 if it is
 * lower than its predecessor's, RAFTWAL_ENOMEM. A predecessor whose term
 * the scan cannot know (an entry before the checkpoint, reached by a
 * truncation into an older segment) binds nothing here: the writer
 * checked it when it wrote the entry. */
int rw_terms_entry(rw_terms *t, uint64_t index, uint64_t term);
/* A TRUNCATE record (entries >= from dropped), a PURGE record, a SNAPSHOT
 * record: as rw_apply_truncate, rw_apply_purge and rw_apply_snapshot. */
void rw_terms_truncate(rw_terms *t, uint64_t from);
void rw_terms_purge(rw_terms *t, uint64_t upto);
void rw_terms_snapshot(rw_terms *t, uint64_t index, uint64_t term);
void rw_terms_free(rw_terms *t);

#endif
