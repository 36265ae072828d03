/* workload.c -- see workload.h. */
#include "workload.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultfs.h"

static const char *const kind_names[] = {"open",     "append", "append-nosync", "overwrite",
                                         "hardstate", "truncate", "purge",      "install",
                                         "snapshot", "metadata", "sync",        "reopen"};

const char *wl_kind_name(wl_kind k)
{
    return k <= WL_REOPEN ? kind_names[k] : "?";
}

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t rnd(workload *w)
{
    w->rng += 0x9e3779b97f4a7c15ull;
    return mix(w->rng);
}

/* Uniform in [lo, hi]. */
static uint64_t rnd_in(workload *w, uint64_t lo, uint64_t hi)
{
    return lo + rnd(w) % (hi - lo + 1);
}

/* RAFTWAL_CRASH_CODEC=lz4 (or both): the workload's logs are written with
 * LZ4 compression and its payloads compress (a new random word every 64
 * bytes instead of every 8), so that the crash explorer and the fault
 * sweep run on compressed records. =aes (or both): the logs are encrypted
 * (a fixed test key, in wl_options, which the checks pass on). */
static int codec_lz4(void)
{
    const char *c = getenv("RAFTWAL_CRASH_CODEC");
    return c && (strcmp(c, "lz4") == 0 || strcmp(c, "both") == 0);
}

static int codec_aes(void)
{
    const char *c = getenv("RAFTWAL_CRASH_CODEC");
    return c && (strcmp(c, "aes") == 0 || strcmp(c, "both") == 0);
}

static const uint8_t workload_key[32] = {0x52, 0x57, 0x41, 0x4c, 0x2d, 0x74, 0x65, 0x73, 0x74};

void wl_payload(uint64_t seed, uint64_t index, uint64_t term, uint8_t *out, size_t len)
{
    uint64_t x = mix(seed ^ mix(index * 1000003u + term));
    size_t period = codec_lz4() ? 63 : 7;
    for (size_t i = 0; i < len; i++) {
        if ((i & period) == 0)
            x = mix(x);
        out[i] = (uint8_t)(x >> ((i & 7) * 8));
    }
}

static void *arena_keep(workload *w, void *p)
{
    if (!p)
        abort();
    if (w->narena == w->arena_cap) {
        w->arena_cap = w->arena_cap ? w->arena_cap * 2 : 256;
        w->arena = realloc(w->arena, w->arena_cap * sizeof *w->arena);
        if (!w->arena)
            abort();
    }
    w->arena[w->narena++] = p;
    return p;
}

static const uint8_t *blob(workload *w, const char *tag, size_t len)
{
    uint8_t *p = arena_keep(w, malloc(len ? len : 1));
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(tag[i % strlen(tag)] ^ (uint8_t)rnd(w));
    return p;
}

void wl_init(workload *w, const char *dir, uint64_t seed, uint64_t seg_size)
{
    memset(w, 0, sizeof *w);
    snprintf(w->dir, sizeof w->dir, "%s", dir);
    w->rng = seed;
    w->cur_term = 1;
    raftwal_options_init(&w->opts, RAFTWAL_OPTIONS_VERSION);
    w->opts.flags = RAFTWAL_OPEN_CREATE;
    w->opts.segment_size = seg_size;
    if (codec_lz4())
        w->opts.compression = RAFTWAL_COMPRESS_LZ4;
    if (codec_aes()) {
        w->opts.key = workload_key;
        w->opts.key_size = sizeof workload_key;
    }
    static const char meta[] = "cluster=7 node=3";
    w->opts.metadata = meta;
    w->opts.metadata_size = sizeof meta - 1;
}

const raftwal_options *wl_options(const workload *w)
{
    return &w->opts;
}

void wl_free(workload *w)
{
    if (w->log)
        raftwal_log_close(w->log);
    for (size_t i = 0; i < w->ncalls; i++)
        free(w->states[i].e);
    free(w->states);
    free(w->kinds);
    for (size_t i = 0; i < w->narena; i++)
        free(w->arena[i]);
    free(w->arena);
    memset(w, 0, sizeof *w);
}

/* ---------------------------------------------------------------------- */
/* Model states                                                           */
/* ---------------------------------------------------------------------- */

static size_t nentries(const wl_state *s)
{
    return s->last >= s->first ? (size_t)(s->last - s->first + 1) : 0;
}

/* Starts call i: states[i] begins as a copy of states[i-1]. */
static wl_state *begin_call(workload *w, wl_kind kind)
{
    if (w->ncalls == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 64;
        w->states = realloc(w->states, w->cap * sizeof *w->states);
        w->kinds = realloc(w->kinds, w->cap * sizeof *w->kinds);
        if (!w->states || !w->kinds)
            abort();
    }
    wl_state *s = &w->states[w->ncalls];
    if (w->ncalls) {
        *s = w->states[w->ncalls - 1];
        size_t n = nentries(s);
        s->e = malloc((n ? n : 1) * sizeof *s->e);
        if (!s->e)
            abort();
        memcpy(s->e, w->states[w->ncalls - 1].e, n * sizeof *s->e);
    } else {
        memset(s, 0, sizeof *s);
        s->first = 1;
        s->e = malloc(sizeof *s->e);
    }
    w->kinds[w->ncalls] = kind;
    ff_mark(w->ncalls, WL_MARK_BEGIN);
    w->ncalls++;
    return s;
}

static int end_call(workload *w, int rc, int durable)
{
    ff_mark(w->ncalls - 1, rc ? WL_MARK_END_FAILED : durable ? WL_MARK_END_DURABLE : WL_MARK_END_NOSYNC);
    w->last_rc = rc;
    if (rc == 0 && durable)
        w->last_durable = w->ncalls - 1;
    return rc;
}

static uint64_t term_at(const wl_state *s, uint64_t index)
{
    if (index >= s->first && index <= s->last)
        return s->e[index - s->first].term;
    if (index == s->snap_index)
        return s->snap_term;
    return 0;
}

/* Applies "entries from index f on" to the model (Raft's conflict rule). */
static void model_append(wl_state *s, uint64_t f, const wl_entry *e, size_t n)
{
    if (f <= s->last)
        s->last = f - 1;
    size_t keep = nentries(s);
    s->e = realloc(s->e, (keep + n + 1) * sizeof *s->e);
    if (!s->e)
        abort();
    memcpy(s->e + keep, e, n * sizeof *e);
    s->last += n;
}

static void model_purge(wl_state *s, uint64_t upto)
{
    if (upto < s->first)
        return;
    if (upto >= s->last) {
        s->first = upto + 1;
        s->last = upto;
        return;
    }
    size_t drop = (size_t)(upto - s->first + 1);
    memmove(s->e, s->e + drop, (nentries(s) - drop) * sizeof *s->e);
    s->first = upto + 1;
}

/* ---------------------------------------------------------------------- */
/* Calls                                                                  */
/* ---------------------------------------------------------------------- */

int wl_open(workload *w)
{
    begin_call(w, WL_OPEN);
    wl_state *s = &w->states[0];
    s->meta = w->opts.metadata;
    s->meta_len = w->opts.metadata_size;
    return end_call(w, raftwal_log_open(&w->log, w->dir, &w->opts), 1);
}

int wl_close(workload *w)
{
    int rc = raftwal_log_close(w->log);
    w->log = NULL;
    return rc;
}

static uint32_t entry_size(workload *w)
{
    uint64_t r = rnd(w) % 100;
    if (r < 10)
        return 0;
    if (r < 88)
        return (uint32_t)rnd_in(w, 1, 600);
    return (uint32_t)rnd_in(w, 1000, 4000);
}

/* Appends n fresh entries at index f with term `term`. */
static int do_append(workload *w, wl_kind kind, uint64_t f, size_t n, uint64_t term, int with_hs)
{
    wl_state *s = begin_call(w, kind);
    raftwal_entry ents[8];
    wl_entry me[8];
    for (size_t i = 0; i < n; i++) {
        uint32_t size = entry_size(w);
        uint8_t *data = arena_keep(w, malloc(size ? size : 1));
        wl_payload(0x5eed, f + i, term, data, size);
        ents[i] = (raftwal_entry){f + i, term, (uint32_t)(rnd(w) % 3), 0, size ? data : NULL, size};
        me[i] = (wl_entry){term, ents[i].type, size, data};
    }
    model_append(s, f, me, n);
    raftwal_hardstate hs;
    if (with_hs) {
        hs.term = term > s->hs.term ? term : s->hs.term;
        hs.vote = rnd_in(w, 1, 5);
        uint64_t lo = s->hs.commit;
        hs.commit = s->last > lo ? rnd_in(w, lo, s->last) : lo;
        s->hs = hs;
    }
    int nosync = kind == WL_APPEND_NOSYNC;
    int rc = raftwal_log_append(w->log, ents, n, with_hs ? &hs : NULL, nosync ? RAFTWAL_NOSYNC : 0);
    return end_call(w, rc, !nosync);
}

static int step_append(workload *w, wl_kind kind)
{
    const wl_state *s = &w->states[w->ncalls - 1];
    size_t n = (size_t)rnd_in(w, 1, 5);
    return do_append(w, kind, s->last + 1, n, w->cur_term, kind == WL_APPEND && rnd(w) % 3 == 0);
}

static int step_overwrite(workload *w)
{
    const wl_state *s = &w->states[w->ncalls - 1];
    uint64_t lo = s->hs.commit + 1 > s->first ? s->hs.commit + 1 : s->first;
    if (lo > s->last)
        return step_append(w, WL_APPEND);
    uint64_t f = rnd_in(w, lo, s->last);
    w->cur_term++;
    return do_append(w, WL_OVERWRITE, f, (size_t)rnd_in(w, 1, 4), w->cur_term, 0);
}

static int step_hardstate(workload *w)
{
    wl_state *s = begin_call(w, WL_HARDSTATE);
    if (rnd(w) % 2)
        w->cur_term++;
    raftwal_hardstate hs = {w->cur_term, rnd_in(w, 0, 5), s->hs.commit};
    uint64_t top = s->last > s->snap_index ? s->last : s->snap_index;
    if (top > hs.commit)
        hs.commit = rnd_in(w, hs.commit, top);
    s->hs = hs;
    return end_call(w, raftwal_log_set_hardstate(w->log, &hs, 0), 1);
}

static int step_truncate(workload *w)
{
    const wl_state *p = &w->states[w->ncalls - 1];
    uint64_t lo = p->hs.commit + 1 > p->first ? p->hs.commit + 1 : p->first;
    if (lo > p->last)
        return step_append(w, WL_APPEND);
    uint64_t from = rnd_in(w, lo, p->last);
    wl_state *s = begin_call(w, WL_TRUNCATE);
    s->last = from - 1;
    return end_call(w, raftwal_log_truncate(w->log, from), 1);
}

static int step_purge(workload *w)
{
    const wl_state *p = &w->states[w->ncalls - 1];
    if (p->last < p->first)
        return step_append(w, WL_APPEND);
    /* Mostly keep a few entries; sometimes purge everything. */
    uint64_t upto = rnd_in(w, p->first, p->last);
    wl_state *s = begin_call(w, WL_PURGE);
    model_purge(s, upto);
    return end_call(w, raftwal_log_purge(w->log, upto), 1);
}

static int step_snapshot(workload *w)
{
    const wl_state *p = &w->states[w->ncalls - 1];
    uint64_t lo = p->snap_index > p->first ? p->snap_index : p->first;
    uint64_t hi = p->hs.commit < p->last ? p->hs.commit : p->last;
    if (lo > hi || hi < p->first)
        return step_hardstate(w);
    uint64_t idx = rnd_in(w, lo, hi);
    wl_state *s = begin_call(w, WL_SNAPSHOT);
    size_t len = (size_t)rnd_in(w, 0, 300);
    s->snap_index = idx;
    s->snap_term = term_at(p, idx);
    s->snap_meta = blob(w, "confstate", len);
    s->snap_meta_len = len;
    return end_call(w, raftwal_log_save_snapshot(w->log, idx, s->snap_term, s->snap_meta, len), 1);
}

/* Installs a leader's snapshot beyond the last index: save it, purge to it,
 * move the commit index there. Three calls. */
static int step_install(workload *w)
{
    const wl_state *p = &w->states[w->ncalls - 1];
    uint64_t idx = p->last + rnd_in(w, 1, 20);
    w->cur_term++;
    wl_state *s = begin_call(w, WL_SNAPSHOT);
    s->snap_index = idx;
    s->snap_term = w->cur_term;
    s->snap_meta = blob(w, "leader", 40);
    s->snap_meta_len = 40;
    int rc = raftwal_log_save_snapshot(w->log, idx, w->cur_term, s->snap_meta, 40);
    if (end_call(w, rc, 1))
        return rc;
    s = begin_call(w, WL_PURGE);
    model_purge(s, idx);
    if ((rc = end_call(w, raftwal_log_purge(w->log, idx), 1)) != 0)
        return rc;
    s = begin_call(w, WL_HARDSTATE);
    s->hs.term = w->cur_term;
    s->hs.commit = idx;
    return end_call(w, raftwal_log_set_hardstate(w->log, &s->hs, 0), 1);
}

static int step_metadata(workload *w)
{
    wl_state *s = begin_call(w, WL_METADATA);
    size_t len = (size_t)rnd_in(w, 0, 200);
    s->meta = blob(w, "node-meta", len);
    s->meta_len = len;
    return end_call(w, raftwal_log_set_metadata(w->log, s->meta, len), 1);
}

/* A few appends without sync, then a sync; one group in four is long
 * enough to cross segments (no-sync rotations, a chain of segments that
 * only the final sync makes durable). */
static int step_nosync_group(workload *w)
{
    int n = rnd(w) % 4 ? (int)rnd_in(w, 2, 4) : (int)rnd_in(w, 10, 40);
    for (int i = 0; i < n; i++) {
        int rc = step_append(w, WL_APPEND_NOSYNC);
        if (rc)
            return rc;
    }
    begin_call(w, WL_SYNC);
    return end_call(w, raftwal_log_sync(w->log), 1);
}

static int step_reopen(workload *w)
{
    begin_call(w, WL_REOPEN);
    int rc = raftwal_log_close(w->log);
    w->log = NULL;
    if (rc == 0)
        rc = raftwal_log_open(&w->log, w->dir, &w->opts);
    return end_call(w, rc, 1);
}

int wl_step(workload *w)
{
    uint64_t r = rnd(w) % 100;
    if (r < 40)
        return step_append(w, WL_APPEND);
    if (r < 48)
        return step_nosync_group(w);
    if (r < 58)
        return step_overwrite(w);
    if (r < 65)
        return step_hardstate(w);
    if (r < 72)
        return step_truncate(w);
    if (r < 80)
        return step_purge(w);
    if (r < 85)
        return step_snapshot(w);
    if (r < 87)
        return step_install(w);
    if (r < 91)
        return step_metadata(w);
    return step_reopen(w);
}

/* ---------------------------------------------------------------------- */
/* Reading and comparing                                                  */
/* ---------------------------------------------------------------------- */

static uint8_t *dup_bytes(const void *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

int wl_read_state(raftwal_log *log, wl_state *out)
{
    memset(out, 0, sizeof *out);
    out->owned = 1;
    int rc = raftwal_log_first_index(log, &out->first);
    if (!rc)
        rc = raftwal_log_last_index(log, &out->last);
    if (!rc)
        rc = raftwal_log_hardstate(log, &out->hs);
    size_t len = 0;
    if (!rc)
        rc = raftwal_log_snapshot(log, &out->snap_index, &out->snap_term, NULL, 0, &len);
    if (rc == RAFTWAL_ERANGE || (!rc && len)) {
        uint8_t *p = malloc(len);
        rc = raftwal_log_snapshot(log, NULL, NULL, p, len, &len);
        out->snap_meta = p;
        out->snap_meta_len = len;
    }
    if (!rc)
        rc = raftwal_log_metadata(log, NULL, 0, &len);
    if (rc == RAFTWAL_ERANGE || (!rc && len)) {
        uint8_t *p = malloc(len);
        rc = raftwal_log_metadata(log, p, len, &len);
        out->meta = p;
        out->meta_len = len;
    }
    if (rc)
        return rc;
    size_t n = nentries(out);
    out->e = calloc(n ? n : 1, sizeof *out->e);
    if (!out->e)
        return RAFTWAL_ENOMEM;
    raftwal_iter *it;
    if (n == 0)
        return 0;
    rc = raftwal_iter_open(&it, log, out->first, out->last + 1, RAFTWAL_NO_LIMIT);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        raftwal_entry e;
        rc = raftwal_iter_next(it, &e);
        if (rc != 1) {
            rc = rc ? rc : RAFTWAL_EUNAVAILABLE;
            break;
        }
        if (e.index != out->first + i) {
            rc = RAFTWAL_ECORRUPT;
            break;
        }
        out->e[i] = (wl_entry){e.term, e.type, (uint32_t)e.size, dup_bytes(e.data, e.size)};
        rc = 0;
    }
    raftwal_iter_close(it);
    return rc;
}

void wl_state_free(wl_state *s)
{
    if (s->owned) {
        for (size_t i = 0; s->e && i < nentries(s); i++)
            free((void *)(uintptr_t)s->e[i].data);
        free((void *)(uintptr_t)s->snap_meta);
        free((void *)(uintptr_t)s->meta);
    }
    free(s->e);
    memset(s, 0, sizeof *s);
}

static int blob_eq(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    return al == bl && (al == 0 || memcmp(a, b, al) == 0);
}

int wl_state_equal(const wl_state *a, const wl_state *b)
{
    if (a->first != b->first || a->last != b->last || a->hs.term != b->hs.term ||
        a->hs.vote != b->hs.vote || a->hs.commit != b->hs.commit || a->snap_index != b->snap_index ||
        a->snap_term != b->snap_term || !blob_eq(a->snap_meta, a->snap_meta_len, b->snap_meta, b->snap_meta_len) ||
        !blob_eq(a->meta, a->meta_len, b->meta, b->meta_len))
        return 0;
    for (size_t i = 0; i < nentries(a); i++) {
        const wl_entry *x = &a->e[i], *y = &b->e[i];
        if (x->term != y->term || x->type != y->type || !blob_eq(x->data, x->size, y->data, y->size))
            return 0;
    }
    return 1;
}

const char *wl_state_invalid(const wl_state *s)
{
    if (s->first == 0 || s->last + 1 < s->first)
        return "first/last out of order";
    uint64_t prev = s->first - 1 == s->snap_index ? s->snap_term : 0;
    for (size_t i = 0; i < nentries(s); i++) {
        if (s->e[i].term < prev)
            return "entry terms decrease";
        prev = s->e[i].term;
    }
    uint64_t top = s->last > s->snap_index ? s->last : s->snap_index;
    if (s->hs.commit > top)
        return "hard state commit is beyond the last index";
    return NULL;
}

void wl_state_describe(const wl_state *s, char *buf, size_t len)
{
    uint64_t lt = s->last >= s->first ? s->e[s->last - s->first].term : 0;
    snprintf(buf, len,
             "first=%" PRIu64 " last=%" PRIu64 " (last term %" PRIu64 ") hs=(%" PRIu64 ",%" PRIu64
             ",%" PRIu64 ") snap=(%" PRIu64 ",%" PRIu64 ",%zuB) meta=%zuB",
             s->first, s->last, lt, s->hs.term, s->hs.vote, s->hs.commit, s->snap_index, s->snap_term,
             s->snap_meta_len, s->meta_len);
}
