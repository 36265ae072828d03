/*
 * model.c -- the in-memory reference log used by the behaviour tests.
 * See model.h.
 */
#include "model.h"
#include "test_util.h"

void model_init(model *m)
{
    memset(m, 0, sizeof *m);
    m->first = 1;
    m->last = 0;
}

static void entry_release(model_entry *e)
{
    free(e->data);
    e->data = NULL;
    e->size = 0;
}

void model_free(model *m)
{
    uint64_t i;
    for (i = 0; m->last >= m->first && i <= m->last - m->first; i++)
        entry_release(&m->ents[i]);
    free(m->ents);
    free(m->snap_meta);
    free(m->meta);
    memset(m, 0, sizeof *m);
}

static void *dup_bytes(const void *p, size_t n)
{
    void *q;
    if (n == 0)
        return NULL;
    q = malloc(n);
    CHECK(q != NULL);
    memcpy(q, p, n);
    return q;
}

uint64_t model_term(const model *m, uint64_t index)
{
    CHECK(index >= m->first && index <= m->last);
    return m->ents[index - m->first].term;
}

void model_truncate(model *m, uint64_t from)
{
    if (from > m->last)
        return;
    CHECK(from >= m->first);
    while (m->last >= from) {
        entry_release(&m->ents[m->last - m->first]);
        m->last--;
    }
}

void model_append(model *m, const raftwal_entry *e, size_t n,
                  const raftwal_hardstate *hs)
{
    size_t i;
    if (n > 0) {
        model_truncate(m, e[0].index);
        CHECK_EQ_U64(e[0].index, m->last + 1);
    }
    if (m->last - m->first + 1 + n > m->cap) {
        size_t want = (size_t)(m->last - m->first + 1 + n) * 2 + 16;
        m->ents = (model_entry *)realloc(m->ents, want * sizeof *m->ents);
        CHECK(m->ents != NULL);
        m->cap = want;
    }
    for (i = 0; i < n; i++) {
        model_entry *me = &m->ents[m->last + 1 - m->first];
        me->term = e[i].term;
        me->type = e[i].type;
        me->size = e[i].size;
        me->data = (unsigned char *)dup_bytes(e[i].data, e[i].size);
        m->last++;
    }
    if (hs)
        m->hs = *hs;
}

void model_purge(model *m, uint64_t upto)
{
    uint64_t drop, i, live;
    if (upto < m->first)
        return;
    if (upto >= m->last) {
        model_truncate(m, m->first);
        m->first = upto + 1;
        m->last = upto;
        return;
    }
    drop = upto - m->first + 1;
    for (i = 0; i < drop; i++)
        entry_release(&m->ents[i]);
    live = m->last - upto;
    memmove(m->ents, m->ents + drop, (size_t)live * sizeof *m->ents);
    m->first = upto + 1;
}

void model_snapshot(model *m, uint64_t index, uint64_t term, const void *meta,
                    size_t size)
{
    free(m->snap_meta);
    m->snap_index = index;
    m->snap_term = term;
    m->snap_meta = (unsigned char *)dup_bytes(meta, size);
    m->snap_meta_size = size;
}

void model_set_metadata(model *m, const void *data, size_t size)
{
    free(m->meta);
    m->meta = (unsigned char *)dup_bytes(data, size);
    m->meta_size = size;
}

void model_copy(model *dst, const model *src)
{
    uint64_t i, n = src->last + 1 - src->first;
    *dst = *src;
    dst->cap = (size_t)n + 1;
    dst->ents = (model_entry *)calloc(dst->cap, sizeof *dst->ents);
    CHECK(dst->ents != NULL);
    for (i = 0; i < n; i++) {
        dst->ents[i] = src->ents[i];
        dst->ents[i].data = (unsigned char *)dup_bytes(src->ents[i].data,
                                                       src->ents[i].size);
    }
    dst->snap_meta = (unsigned char *)dup_bytes(src->snap_meta, src->snap_meta_size);
    dst->meta = (unsigned char *)dup_bytes(src->meta, src->meta_size);
}

/* The failure helper of model_check: prints where the check was asked. */
#define MCHECK(cond, ...)                                                       \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "model_check called from %s:%d\n", file, line);     \
            tu_fail(__FILE__, __LINE__, __VA_ARGS__);                           \
        }                                                                       \
    } while (0)

static void check_blob(raftwal_log *log, int snapshot, const unsigned char *want,
                       size_t want_size, const char *file, int line)
{
    size_t size = 12345;
    unsigned char *buf;
    int rc;
    if (snapshot)
        rc = raftwal_log_snapshot(log, NULL, NULL, NULL, 0, &size);
    else
        rc = raftwal_log_metadata(log, NULL, 0, &size);
    MCHECK(rc == (want_size ? RAFTWAL_ERANGE : 0),
           "%s size query: rc %d (%s)", snapshot ? "snapshot" : "metadata", rc,
           raftwal_strerror(rc));
    MCHECK(size == want_size, "%s size %zu, expected %zu",
           snapshot ? "snapshot meta" : "metadata", size, want_size);
    buf = (unsigned char *)malloc(want_size + 1);
    CHECK(buf != NULL);
    if (snapshot)
        rc = raftwal_log_snapshot(log, NULL, NULL, buf, want_size + 1, &size);
    else
        rc = raftwal_log_metadata(log, buf, want_size + 1, &size);
    MCHECK(rc == 0, "%s read: rc %d", snapshot ? "snapshot" : "metadata", rc);
    MCHECK(size == want_size && (want_size == 0 || !memcmp(buf, want, want_size)),
           "%s bytes differ", snapshot ? "snapshot meta" : "metadata");
    free(buf);
}

static void check_entries(raftwal_log *log, const model *m, const char *file,
                          int line)
{
    uint64_t i, n = 0;
    raftwal_iter *it = NULL;
    raftwal_entry e;
    unsigned char *buf = NULL;
    size_t cap = 0;
    int rc;

    for (i = m->first; i <= m->last; i++) {
        const model_entry *me = &m->ents[i - m->first];
        uint64_t term = 0;
        if (cap < me->size + 1) {
            cap = me->size + 1;
            buf = (unsigned char *)realloc(buf, cap);
            CHECK(buf != NULL);
        }
        memset(&e, 0xa5, sizeof e);
        rc = raftwal_log_get(log, i, &e, buf, cap);
        MCHECK(rc == 0, "get(%" PRIu64 "): rc %d (%s)", i, rc, raftwal_strerror(rc));
        MCHECK(e.index == i && e.term == me->term && e.type == me->type &&
                   e.flags == 0 && e.size == me->size,
               "get(%" PRIu64 "): index %" PRIu64 " term %" PRIu64 "/%" PRIu64
               " type %u/%u size %zu/%zu",
               i, e.index, e.term, me->term, e.type, me->type, e.size, me->size);
        MCHECK(me->size == 0 || (e.data == buf && !memcmp(buf, me->data, me->size)),
               "get(%" PRIu64 "): payload differs", i);
        rc = raftwal_log_term(log, i, &term);
        MCHECK(rc == 0 && term == me->term, "term(%" PRIu64 "): rc %d term %" PRIu64
               " expected %" PRIu64, i, rc, term, me->term);
    }
    free(buf);

    rc = raftwal_iter_open(&it, log, m->first, m->last + 1, RAFTWAL_NO_LIMIT);
    MCHECK(rc == 0, "iter_open(%" PRIu64 ", %" PRIu64 "): rc %d", m->first,
           m->last + 1, rc);
    while ((rc = raftwal_iter_next(it, &e)) == 1) {
        uint64_t want = m->first + n;
        const model_entry *me;
        MCHECK(want <= m->last, "iterator gave more than %" PRIu64 " entries", n);
        me = &m->ents[n];
        MCHECK(e.index == want && e.term == me->term && e.type == me->type &&
                   e.size == me->size &&
                   (me->size == 0 || !memcmp(e.data, me->data, me->size)),
               "iterator entry %" PRIu64 " differs (index %" PRIu64 ")", want,
               e.index);
        n++;
    }
    MCHECK(rc == 0, "iter_next: rc %d (%s)", rc, raftwal_strerror(rc));
    MCHECK(n == m->last + 1 - m->first, "iterator gave %" PRIu64 " entries", n);
    raftwal_iter_close(it);
}

void model_check_at(raftwal_log *log, const model *m, const char *file,
                    int line)
{
    uint64_t first = 0, last = 0, si = 99, st = 99, term = 99;
    raftwal_hardstate hs;
    raftwal_entry e;
    int rc;

    MCHECK(raftwal_log_first_index(log, &first) == 0 &&
               raftwal_log_last_index(log, &last) == 0,
           "bounds getters failed");
    MCHECK(first == m->first && last == m->last,
           "bounds [%" PRIu64 ", %" PRIu64 "], expected [%" PRIu64 ", %" PRIu64 "]",
           first, last, m->first, m->last);

    check_entries(log, m, file, line);

    /* Just outside the bounds. */
    rc = raftwal_log_get(log, m->last + 1, &e, NULL, 0);
    MCHECK(rc == RAFTWAL_EUNAVAILABLE, "get(last+1): rc %d", rc);
    if (m->snap_index != m->last + 1) { /* else term() answers from the snapshot */
        rc = raftwal_log_term(log, m->last + 1, &term);
        MCHECK(rc == RAFTWAL_EUNAVAILABLE, "term(last+1): rc %d", rc);
    }
    if (m->first > 1) {
        rc = raftwal_log_get(log, m->first - 1, &e, NULL, 0);
        MCHECK(rc == RAFTWAL_ECOMPACTED, "get(first-1): rc %d", rc);
    }

    memset(&hs, 0xa5, sizeof hs);
    MCHECK(raftwal_log_hardstate(log, &hs) == 0, "hardstate failed");
    MCHECK(hs.term == m->hs.term && hs.vote == m->hs.vote &&
               hs.commit == m->hs.commit,
           "hard state (%" PRIu64 ", %" PRIu64 ", %" PRIu64 "), expected (%" PRIu64
           ", %" PRIu64 ", %" PRIu64 ")",
           hs.term, hs.vote, hs.commit, m->hs.term, m->hs.vote, m->hs.commit);

    /* Index and term come with a buffer big enough for the metadata. */
    check_blob(log, 1, m->snap_meta, m->snap_meta_size, file, line);
    {
        size_t cap = m->snap_meta_size + 1, size = 0;
        unsigned char *buf = (unsigned char *)malloc(cap);
        CHECK(buf != NULL);
        rc = raftwal_log_snapshot(log, &si, &st, buf, cap, &size);
        free(buf);
    }
    MCHECK(rc == 0, "snapshot: rc %d", rc);
    MCHECK(si == m->snap_index && st == m->snap_term,
           "snapshot (%" PRIu64 ", %" PRIu64 "), expected (%" PRIu64 ", %" PRIu64 ")",
           si, st, m->snap_index, m->snap_term);
    check_blob(log, 0, m->meta, m->meta_size, file, line);

    /* term() of the snapshot index answers from the snapshot once purged. */
    if (m->snap_index > 0 && m->snap_index < m->first) {
        rc = raftwal_log_term(log, m->snap_index, &term);
        MCHECK(rc == 0 && term == m->snap_term,
               "term(snapshot index %" PRIu64 "): rc %d term %" PRIu64, m->snap_index,
               rc, term);
    }
}

void batch_make(batch *b, uint64_t first, size_t n, uint64_t term,
                size_t max_payload)
{
    size_t i, total = 0, off = 0;
    b->n = n;
    b->e = (raftwal_entry *)calloc(n ? n : 1, sizeof *b->e);
    CHECK(b->e != NULL);
    for (i = 0; i < n; i++)
        total += tu_payload_size(first + i, term, max_payload);
    b->buf = (unsigned char *)malloc(total ? total : 1);
    CHECK(b->buf != NULL);
    for (i = 0; i < n; i++) {
        uint64_t idx = first + i;
        size_t sz = tu_payload_size(idx, term, max_payload);
        tu_payload_fill(b->buf + off, sz, idx, term);
        b->e[i].index = idx;
        b->e[i].term = term;
        b->e[i].type = (uint32_t)(idx % 5);
        b->e[i].flags = 0;
        b->e[i].data = sz ? b->buf + off : NULL;
        b->e[i].size = sz;
        off += sz;
    }
}

void batch_free(batch *b)
{
    free(b->e);
    free(b->buf);
    memset(b, 0, sizeof *b);
}

raftwal_log *open_log(const char *dir, unsigned int flags,
                      uint64_t segment_size)
{
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    raftwal_log *log = NULL;
    o.flags = flags;
    o.segment_size = segment_size;
    CHECK_OK(raftwal_log_open(&log, dir, &o));
    CHECK(log != NULL);
    return log;
}

void reopen_log(raftwal_log **log, const char *dir, unsigned int flags,
                uint64_t segment_size)
{
    CHECK_OK(raftwal_log_close(*log));
    *log = open_log(dir, flags, segment_size);
}

raftwal_segment_info get_segment_info(raftwal_log *log, size_t i)
{
    raftwal_segment_info si;
    memset(&si, 0xa5, sizeof si); /* a field the library leaves unset shows */
    si.size = sizeof si;
    CHECK_OK(raftwal_log_segment_info(log, i, &si));
    return si;
}

raftwal_stats get_stats(raftwal_log *log)
{
    raftwal_stats s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    CHECK_OK(raftwal_log_stats(log, &s));
    return s;
}
