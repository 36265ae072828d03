/*
 * test_concurrency.c -- c_concurrency: one writer thread appends batches
 * (a mix of durable and NOSYNC) and purges old entries while three reader
 * threads call get(), term(), iterators, stats and wait_durable() on the
 * same handle. Every entry's term and payload are a function of its index,
 * so a reader that ever sees a torn, stale or misplaced entry fails.
 * Run under -DRAFTWAL_SANITIZE=thread for a data-race check.
 */
#include "test_util.h"

#include <pthread.h>
#include <stdatomic.h>

#define SEG RAFTWAL_MIN_SEGMENT_SIZE
#define MAXP 700
#define WRITER_BATCHES 3000
#define KEEP 400 /* the writer purges down to about this many entries */
#define READERS 3

static raftwal_log *g_log;
static atomic_int g_writer_done;
static atomic_ulong g_reads_checked;

static uint64_t term_of(uint64_t index)
{
    return 1 + index / 300;
}

/* Checks one entry a reader got. */
static void check_entry(const raftwal_entry *e, uint64_t index)
{
    CHECK_EQ_U64(e->index, index);
    CHECK_EQ_U64(e->term, term_of(index));
    CHECK_EQ_U64(e->type, index % 5);
    CHECK_MSG(tu_payload_ok(e->data, e->size, index, e->term, MAXP),
              "entry %" PRIu64 ": torn or wrong payload (size %zu)", index, e->size);
}

static void *writer(void *arg)
{
    uint64_t rng = tu_seed() ^ 0x77;
    unsigned char *buf = (unsigned char *)malloc(16 * MAXP + 1);
    raftwal_entry e[16];
    uint64_t next = 1;
    int i;
    (void)arg;
    CHECK(buf != NULL);
    for (i = 0; i < WRITER_BATCHES; i++) {
        size_t n, k, off = 0;
        rng = tu_mix(rng);
        n = 1 + (size_t)(rng % 16);
        for (k = 0; k < n; k++) {
            uint64_t idx = next + k;
            size_t sz = tu_payload_size(idx, term_of(idx), MAXP);
            tu_payload_fill(buf + off, sz, idx, term_of(idx));
            e[k].index = idx;
            e[k].term = term_of(idx);
            e[k].type = (uint32_t)(idx % 5);
            e[k].flags = 0;
            e[k].data = buf + off;
            e[k].size = sz;
            off += sz;
        }
        CHECK_OK(raftwal_log_append(g_log, e, n, NULL, (rng >> 20) % 4 ? RAFTWAL_NOSYNC : 0));
        next += n;
        if ((rng >> 30) % 50 == 0 && next > KEEP)
            CHECK_OK(raftwal_log_purge(g_log, next - KEEP));
    }
    CHECK_OK(raftwal_log_sync(g_log));
    free(buf);
    atomic_store(&g_writer_done, 1);
    return NULL;
}

static void reader_get(uint64_t *rng, unsigned char *buf, size_t cap)
{
    uint64_t first = 0, last = 0, idx, term = 0, first_after = 0;
    raftwal_entry e;
    int rc;
    CHECK_OK(raftwal_log_first_index(g_log, &first));
    CHECK_OK(raftwal_log_last_index(g_log, &last));
    if (last < first)
        return;
    *rng = tu_mix(*rng);
    idx = first + *rng % (last - first + 1);
    rc = raftwal_log_get(g_log, idx, &e, buf, cap);
    if (rc == RAFTWAL_ECOMPACTED) {
        CHECK_OK(raftwal_log_first_index(g_log, &first_after));
        CHECK_MSG(first_after > idx, "ECOMPACTED for %" PRIu64 " but first is %" PRIu64,
                  idx, first_after);
        return;
    }
    CHECK_RC(rc, 0);
    check_entry(&e, idx);
    rc = raftwal_log_term(g_log, idx, &term);
    if (rc == 0)
        CHECK_EQ_U64(term, term_of(idx));
    else
        CHECK_RC(rc, RAFTWAL_ECOMPACTED);
    atomic_fetch_add(&g_reads_checked, 1);
}

static void reader_iter(uint64_t *rng)
{
    uint64_t first = 0, last = 0, lo, hi, want, cap;
    raftwal_iter *it = NULL;
    raftwal_entry e;
    int rc;
    CHECK_OK(raftwal_log_first_index(g_log, &first));
    CHECK_OK(raftwal_log_last_index(g_log, &last));
    if (last < first)
        return;
    *rng = tu_mix(*rng);
    lo = first + *rng % (last - first + 1);
    hi = lo + 1 + (*rng >> 20) % 64;
    if (hi > last + 1)
        hi = last + 1;
    cap = (*rng >> 40) % 4 == 0 ? RAFTWAL_NO_LIMIT : (*rng >> 44) % 8000;
    rc = raftwal_iter_open(&it, g_log, lo, hi, cap);
    if (rc == RAFTWAL_ECOMPACTED)
        return;
    CHECK_RC(rc, 0);
    want = lo;
    while ((rc = raftwal_iter_next(it, &e)) == 1) {
        check_entry(&e, want);
        want++;
        atomic_fetch_add(&g_reads_checked, 1);
    }
    /* Only a purge that overtook the iterator may end it early. */
    CHECK_MSG(rc == 0 || rc == RAFTWAL_ECOMPACTED, "iter_next: rc %d", rc);
    if (rc == 0)
        CHECK(want > lo && want <= hi);
    raftwal_iter_close(it);
}

static void reader_misc(uint64_t *rng, int id)
{
    raftwal_stats s;
    uint64_t durable = 0, last = 0;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    CHECK_OK(raftwal_log_stats(g_log, &s));
    CHECK(s.first_index <= s.last_index + 1);
    CHECK_OK(raftwal_log_durable_index(g_log, &durable));
    CHECK_OK(raftwal_log_last_index(g_log, &last));
    CHECK_MSG(durable <= last, "durable %" PRIu64 " > last %" PRIu64, durable, last);
    *rng = tu_mix(*rng);
    if (id == 0 && last > 0 && *rng % 8 == 0) {
        /* wait_durable for something already appended: returns once it is
         * durable (this thread may be the one that syncs). */
        uint64_t target = 1 + *rng % last;
        CHECK_OK(raftwal_log_wait_durable(g_log, target));
        CHECK_OK(raftwal_log_durable_index(g_log, &durable));
        CHECK_MSG(durable >= target, "durable %" PRIu64 " < waited-for %" PRIu64,
                  durable, target);
    }
}

static void *reader(void *arg)
{
    int id = (int)(intptr_t)arg;
    uint64_t rng = tu_seed() ^ (uint64_t)(id + 1) * 0x1234567;
    size_t cap = MAXP + 1;
    unsigned char *buf = (unsigned char *)malloc(cap);
    CHECK(buf != NULL);
    while (!atomic_load(&g_writer_done)) {
        reader_get(&rng, buf, cap);
        reader_iter(&rng);
        reader_misc(&rng, id);
    }
    free(buf);
    return NULL;
}

static void test_one_writer_three_readers(void)
{
    const char *dir = tu_tmpdir();
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    pthread_t w, r[READERS];
    raftwal_stats s;
    uint64_t first = 0, last = 0, i;
    int k;

    (void)tu_seed(); /* initialize before any thread reads it */
    o.segment_size = SEG;
    CHECK_OK(raftwal_log_open(&g_log, dir, &o));
    for (k = 0; k < READERS; k++)
        CHECK(pthread_create(&r[k], NULL, reader, (void *)(intptr_t)k) == 0);
    CHECK(pthread_create(&w, NULL, writer, NULL) == 0);
    CHECK(pthread_join(w, NULL) == 0);
    for (k = 0; k < READERS; k++)
        CHECK(pthread_join(r[k], NULL) == 0);

    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    CHECK_OK(raftwal_log_stats(g_log, &s));
    printf("   %" PRIu64 " entries read and checked; %" PRIu64 " appends, %" PRIu64
           " fsyncs, %" PRIu64 " segments deleted\n",
           (uint64_t)atomic_load(&g_reads_checked), s.appends, s.fsyncs,
           s.segments_deleted);
    CHECK(atomic_load(&g_reads_checked) > 0);
    CHECK(s.segments_deleted > 0);

    /* After a reopen everything left is intact. */
    CHECK_OK(raftwal_log_close(g_log));
    o.flags = 0;
    CHECK_OK(raftwal_log_open(&g_log, dir, &o));
    CHECK_OK(raftwal_log_first_index(g_log, &first));
    CHECK_OK(raftwal_log_last_index(g_log, &last));
    CHECK(last - first + 1 >= KEEP);
    for (i = first; i <= last; i++) {
        unsigned char buf[MAXP];
        raftwal_entry e;
        CHECK_OK(raftwal_log_get(g_log, i, &e, buf, sizeof buf));
        check_entry(&e, i);
    }
    CHECK_OK(raftwal_log_close(g_log));
}

int main(int argc, char **argv)
{
    TU_RUN(argc, argv, test_one_writer_three_readers);
    return 0;
}
