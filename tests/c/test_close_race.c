/*
 * test_close_race.c -- c_close_race: reads on a handle being closed.
 *
 * An open iterator keeps the log's memory alive after raftwal_log_close(),
 * and its next call returns RAFTWAL_ECLOSED -- also when the call races the
 * close, which empties the segment table: a reader that checked `closed`
 * before taking the readers' lock used to find its index "in no segment"
 * (RAFTWAL_ECORRUPT from a healthy log).
 *   - every read or change on a closed handle whose memory an iterator
 *     keeps returns RAFTWAL_ECLOSED (deterministic), a second
 *     raftwal_log_close() of it too, releasing nothing;
 *   - reader threads iterating (and opening iterators), getting entries
 *     and looking up terms while the main thread closes the handle, over
 *     many rounds for a bounded time: every call returns an entry, the end,
 *     or RAFTWAL_ECLOSED.
 */
#include "model.h"
#include "test_util.h"

#include <pthread.h>
#include <stdatomic.h>

#define ENTRIES 128
#define PAYLOAD_MAX 4000
#define READERS 4
#define MAX_ROUNDS 20000
#define MAX_NS (2500ull * 1000 * 1000)

static void fill_log(const char *dir)
{
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, 16384);
    batch b;
    /* Small segments: the entries span several of them. */
    for (uint64_t i = 1; i <= ENTRIES; i += 8) {
        batch_make(&b, i, 8, 1, PAYLOAD_MAX);
        /* Durable: a no-sync rotation may grow the segment instead (while
         * the next file is being made), leaving fewer segments. */
        CHECK_OK(raftwal_log_append(log, b.e, b.n, NULL, 0));
        batch_free(&b);
    }
    CHECK(get_stats(log).segments > 2);
    CHECK_OK(raftwal_log_close(log));
}

static void test_calls_after_close_return_eclosed(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log;
    raftwal_iter *it = NULL, *it2 = NULL;
    raftwal_entry e;
    raftwal_hardstate hs;
    raftwal_stats st;
    raftwal_segment_info si;
    uint64_t u;
    size_t size;
    char buf[1024];

    fill_log(dir);
    log = open_log(dir, 0, 16384);
    CHECK_OK(raftwal_iter_open(&it, log, 1, ENTRIES + 1, RAFTWAL_NO_LIMIT));
    CHECK_RC(raftwal_iter_next(it, &e), 1);
    CHECK_OK(raftwal_log_close(log)); /* `it` keeps the memory */

    CHECK_RC(raftwal_iter_next(it, &e), RAFTWAL_ECLOSED);
    CHECK_RC(raftwal_log_get(log, 2, &e, buf, sizeof buf), RAFTWAL_ECLOSED);
    CHECK_RC(raftwal_log_term(log, 2, &u), RAFTWAL_ECLOSED);
    CHECK_RC(raftwal_log_first_index(log, &u), RAFTWAL_ECLOSED);
    CHECK_RC(raftwal_log_last_index(log, &u), RAFTWAL_ECLOSED);
    CHECK_RC(raftwal_log_hardstate(log, &hs), RAFTWAL_ECLOSED);
    CHECK_RC(raftwal_log_snapshot(log, &u, &u, NULL, 0, &size), RAFTWAL_ECLOSED);
    CHECK_RC(raftwal_log_metadata(log, NULL, 0, &size), RAFTWAL_ECLOSED);
    st.size = sizeof st;
    CHECK_RC(raftwal_log_stats(log, &st), RAFTWAL_ECLOSED);
    si.size = sizeof si;
    CHECK_RC(raftwal_log_segment_info(log, 0, &si), RAFTWAL_ECLOSED);
    CHECK_RC(raftwal_iter_open(&it2, log, 1, 2, RAFTWAL_NO_LIMIT), RAFTWAL_ECLOSED);
    CHECK(it2 == NULL);
    e.index = ENTRIES + 1;
    e.term = 1;
    e.type = 0;
    e.flags = 0;
    e.data = "x";
    e.size = 1;
    CHECK_RC(raftwal_log_append(log, &e, 1, NULL, 0), RAFTWAL_ECLOSED);
    CHECK_RC(raftwal_log_sync(log), RAFTWAL_ECLOSED);
    CHECK_RC(raftwal_log_purge(log, 1), RAFTWAL_ECLOSED);
    CHECK_RC(raftwal_log_truncate(log, 2), RAFTWAL_ECLOSED);
    raftwal_iter_close(it);
}

/* A second raftwal_log_close() of a handle an iterator keeps alive returns
 * RAFTWAL_ECLOSED and touches nothing: it once freed a writable handle's
 * tables twice, and freed a read-only handle under the iterator (a
 * use-after-free at its next call; both seen under ASan). The iterator
 * still returns RAFTWAL_ECLOSED, and closes. */
static void test_second_close_returns_eclosed(void)
{
    const char *dir = tu_tmpdir();
    unsigned int flags[2] = {0, RAFTWAL_OPEN_READONLY};
    fill_log(dir);
    for (int i = 0; i < 2; i++) {
        raftwal_log *log = open_log(dir, flags[i], 16384);
        raftwal_iter *it = NULL;
        raftwal_entry e;
        CHECK_OK(raftwal_iter_open(&it, log, 1, ENTRIES + 1, RAFTWAL_NO_LIMIT));
        CHECK_RC(raftwal_iter_next(it, &e), 1);
        CHECK_OK(raftwal_log_close(log));
        CHECK_RC(raftwal_log_close(log), RAFTWAL_ECLOSED);
        CHECK_RC(raftwal_log_close(log), RAFTWAL_ECLOSED);
        CHECK_RC(raftwal_iter_next(it, &e), RAFTWAL_ECLOSED);
        raftwal_iter_close(it);
    }
    /* The directory is free again: the first close released the lock. */
    raftwal_log *log = open_log(dir, 0, 16384);
    CHECK_OK(raftwal_log_close(log));
}

/* ---- the race ----------------------------------------------------------- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static raftwal_log *round_log; /* the handle of the current round */
static raftwal_iter *round_iters[READERS]; /* opened by main: keep it alive */
static unsigned round_no;      /* bumped when a round starts */
static int readers_started, readers_done, stop;
static atomic_uint_fast64_t calls, closed_seen;
static char failure[512];

static void record_failure(const char *what, int rc)
{
    pthread_mutex_lock(&mu);
    if (!failure[0])
        snprintf(failure, sizeof failure, "%s returned %d (%s): %s", what, rc,
                 raftwal_strerror(rc), raftwal_errmsg());
    pthread_mutex_unlock(&mu);
}

/* A get or a term lookup of a random entry: 1 if it succeeded. */
static int read_one(raftwal_log *log, uint64_t n, const char **what)
{
    static _Thread_local char buf[PAYLOAD_MAX];
    uint64_t index = 1 + tu_mix(n) % ENTRIES, term = 0;
    raftwal_entry e;
    int rc;
    if (n & 1) {
        *what = "raftwal_log_get";
        rc = raftwal_log_get(log, index, &e, buf, sizeof buf);
        if (rc == 0 && !tu_payload_ok(buf, e.size, index, e.term, PAYLOAD_MAX))
            return -100;
    } else {
        *what = "raftwal_log_term";
        rc = raftwal_log_term(log, index, &term);
        if (rc == 0 && term != 1)
            return -100;
    }
    return rc == 0 ? 1 : rc;
}

/* Reads until the handle is closed under it: iterates (reopening an
 * iterator, while still holding the last one, when one is exhausted),
 * with a get or a term lookup between two steps. */
static void read_until_closed(raftwal_log *log, raftwal_iter *it)
{
    raftwal_entry e;
    for (uint64_t n = 0;; n++) {
        const char *what;
        int rc = read_one(log, n, &what);
        if (rc == RAFTWAL_ECLOSED)
            break;
        if (rc != 1) {
            record_failure(rc == -100 ? "a read (wrong bytes)" : what, rc);
            break;
        }
        rc = raftwal_iter_next(it, &e);
        atomic_fetch_add(&calls, 1);
        if (rc == 1) {
            if (!tu_payload_ok(e.data, e.size, e.index, e.term, PAYLOAD_MAX)) {
                record_failure("raftwal_iter_next (wrong bytes)", rc);
                break;
            }
            continue;
        }
        if (rc == RAFTWAL_ECLOSED)
            break;
        if (rc != 0) {
            record_failure("raftwal_iter_next", rc);
            break;
        }
        raftwal_iter *next = NULL;
        rc = raftwal_iter_open(&next, log, 1, ENTRIES + 1, RAFTWAL_NO_LIMIT);
        if (rc == RAFTWAL_ECLOSED)
            break;
        if (rc != 0) {
            record_failure("raftwal_iter_open", rc);
            break;
        }
        raftwal_iter_close(it);
        it = next;
    }
    atomic_fetch_add(&closed_seen, 1);
    raftwal_iter_close(it);
}

static void *reader(void *arg)
{
    int id = (int)(intptr_t)arg;
    unsigned seen = 0;
    for (;;) {
        pthread_mutex_lock(&mu);
        while (round_no == seen && !stop)
            pthread_cond_wait(&cond, &mu);
        if (stop) {
            pthread_mutex_unlock(&mu);
            return NULL;
        }
        seen = round_no;
        raftwal_log *log = round_log;
        raftwal_iter *it = round_iters[id];
        readers_started++;
        pthread_cond_broadcast(&cond);
        pthread_mutex_unlock(&mu);

        read_until_closed(log, it);

        pthread_mutex_lock(&mu);
        readers_done++;
        pthread_cond_broadcast(&cond);
        pthread_mutex_unlock(&mu);
    }
}

static void test_readers_racing_close(void)
{
    const char *dir = tu_tmpdir();
    pthread_t th[READERS];
    uint64_t t0 = tu_now_ns();
    unsigned rounds = 0;

    fill_log(dir);
    for (int i = 0; i < READERS; i++)
        CHECK(pthread_create(&th[i], NULL, reader, (void *)(intptr_t)i) == 0);
    while (rounds < MAX_ROUNDS && tu_now_ns() - t0 < MAX_NS && !failure[0]) {
        /* Read-only handles: cheap to open, and close does no I/O. */
        raftwal_log *log = open_log(dir, RAFTWAL_OPEN_READONLY, 0);
        pthread_mutex_lock(&mu);
        for (int i = 0; i < READERS; i++)
            CHECK_OK(raftwal_iter_open(&round_iters[i], log, 1 + (uint64_t)i * 7, ENTRIES + 1,
                                       RAFTWAL_NO_LIMIT));
        round_log = log;
        readers_started = readers_done = 0;
        round_no++;
        pthread_cond_broadcast(&cond);
        while (readers_started < READERS)
            pthread_cond_wait(&cond, &mu);
        pthread_mutex_unlock(&mu);
        /* Vary where in the readers' calls the close lands. */
        for (volatile uint64_t spin = tu_rand() % 2048; spin; spin--)
            ;
        CHECK_OK(raftwal_log_close(log));
        pthread_mutex_lock(&mu);
        while (readers_done < READERS)
            pthread_cond_wait(&cond, &mu);
        pthread_mutex_unlock(&mu);
        rounds++;
    }
    pthread_mutex_lock(&mu);
    stop = 1;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < READERS; i++)
        pthread_join(th[i], NULL);
    printf("   %u rounds, %" PRIu64 " reader calls, %.1f s\n", rounds, (uint64_t)calls,
           (double)(tu_now_ns() - t0) / 1e9);
    CHECK_MSG(!failure[0], "after %u rounds: %s", rounds, failure);
    CHECK_EQ_U64(closed_seen, (uint64_t)rounds * READERS);
}

int main(int argc, char **argv)
{
    TU_RUN(argc, argv, test_calls_after_close_return_eclosed);
    TU_RUN(argc, argv, test_second_close_returns_eclosed);
    TU_RUN(argc, argv, test_readers_racing_close);
    return 0;
}
