/* rules.c -- which histories are legal (see rules.h). */
#include <stdlib.h>

#include "error.h"
#include "rules.h"

rw_pred_kind rw_rule_pred(uint64_t index, uint64_t first, uint64_t last, uint64_t snap_index)
{
    if (index == 0)
        return RW_PRED_NONE;
    if (index - 1 >= first && index - 1 <= last)
        return RW_PRED_ENTRY;
    if (snap_index && index - 1 == snap_index)
        return RW_PRED_SNAPSHOT;
    return RW_PRED_NONE;
}

rw_pred_kind rw_rule_pred_live(uint64_t index, uint64_t first)
{
    return index > first ? RW_PRED_ENTRY : RW_PRED_NONE;
}

void rw_terms_start(rw_terms *t, uint64_t purge, uint64_t last, uint64_t last_term,
                    uint64_t snap_index, uint64_t snap_term)
{
    t->first = purge + 1;
    t->last = last;
    t->snap_index = snap_index;
    t->snap_term = snap_term;
    t->base = last;
    t->base_term = last_term;
    t->base_known = last >= t->first && last != 0;
    t->nruns = 0;
}

/* The term of live entry `index`, if the scan knows it. */
static int term_of(const rw_terms *t, uint64_t index, uint64_t *term)
{
    if (index < t->first || index > t->last)
        return 0;
    for (size_t i = t->nruns; i-- > 0;)
        if (t->run_start[i] <= index) {
            *term = t->run_term[i];
            return 1;
        }
    if (index == t->base && t->base_known) {
        *term = t->base_term;
        return 1;
    }
    return 0;
}

static int push_run(rw_terms *t, uint64_t index, uint64_t term)
{
    if (t->nruns && t->run_term[t->nruns - 1] == term)
        return 0;
    if (t->nruns == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        uint64_t *s = realloc(t->run_start, cap * sizeof *s);
        if (!s)
            return rw_err(RAFTWAL_ENOMEM, "out of memory");
        t->run_start = s;
        uint64_t *m = realloc(t->run_term, cap * sizeof *m);
        if (!m)
            return rw_err(RAFTWAL_ENOMEM, "out of memory");
        t->run_term = m;
        t->cap = cap;
    }
    t->run_start[t->nruns] = index;
    t->run_term[t->nruns] = term;
    t->nruns++;
    return 0;
}

int rw_terms_entry(rw_terms *t, uint64_t index, uint64_t term)
{
    uint64_t pred = 0;
    if (index <= t->last)
        rw_terms_truncate(t, index); /* the scanners feed last+1; stay sane */
    switch (rw_rule_pred(index, t->first, t->last, t->snap_index)) {
    case RW_PRED_ENTRY:
        if (term_of(t, index - 1, &pred) && term < pred)
            return 1;
        break;
    case RW_PRED_SNAPSHOT:
        if (term < t->snap_term)
            return 1;
        break;
    case RW_PRED_NONE:
        break;
    }
    if (index != t->last + 1) { /* a gap (the scanner reports it): forget */
        t->nruns = 0;
        t->base_known = 0;
    }
    t->last = index;
    return push_run(t, index, term);
}

void rw_terms_truncate(rw_terms *t, uint64_t from)
{
    if (from == 0)
        from = 1; /* hostile input: index 0 is never an entry */
    while (t->nruns && t->run_start[t->nruns - 1] >= from)
        t->nruns--;
    if (from <= t->base)
        t->base_known = 0;
    if (from - 1 < t->last)
        t->last = from - 1 > t->first - 1 ? from - 1 : t->first - 1;
}

void rw_terms_purge(rw_terms *t, uint64_t upto)
{
    if (upto < t->first)
        return;
    t->first = upto + 1;
    if (upto >= t->last) { /* past the end: no live entry is left */
        t->last = upto;
        t->nruns = 0;
        t->base_known = 0;
    }
}

void rw_terms_snapshot(rw_terms *t, uint64_t index, uint64_t term)
{
    t->snap_index = index;
    t->snap_term = term;
}

void rw_terms_free(rw_terms *t)
{
    free(t->run_start);
    free(t->run_term);
    t->run_start = t->run_term = NULL;
    t->nruns = t->cap = 0;
}
