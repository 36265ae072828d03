/*
 * test_kill.c -- c_kill: processes killed with SIGKILL in the middle of
 * writing.
 *
 * Each round forks a child that opens the log and appends batches (some
 * NOSYNC, then a durable one), writing the last acknowledged index to a
 * pipe after each durable append, and now and then purging old entries.
 * The parent reads a random number of acknowledgements, waits a random
 * few hundred microseconds (so the kill lands at a random point of a
 * write, an fsync, a rotation, or the open itself) and SIGKILLs it. Then:
 *   - raftwal_verify() passes (a torn tail is acceptable);
 *   - the log opens; every acknowledged entry is there, byte for byte;
 *   - every entry present is exactly what the child wrote (its payload is
 *     a function of index and term, and an entry seen once never changes);
 *   - the purge point never passes the acknowledged index.
 * Rounds stop after 100 or about 20 seconds. RAFTWAL_TEST_SEED changes the
 * kill points; the timing still varies run to run, which is the point.
 */
#include "model.h"
#include "test_util.h"

#include <signal.h>
#include <sys/wait.h>

#define SEG (4 * RAFTWAL_MIN_SEGMENT_SIZE)
#define MAXP 800
#define ROUNDS 100
#define BUDGET_NS (20ull * 1000000000ull)

/* The child: appends forever (until killed) with term `term`. */
static void child_main(const char *dir, int ack_fd, uint64_t term, uint64_t seed)
{
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    raftwal_log *log = NULL;
    unsigned char *buf = (unsigned char *)malloc(64 * MAXP);
    raftwal_entry e[64];
    uint64_t last = 0, first = 0, rng = seed;
    int rc;

    o.segment_size = SEG;
    rc = raftwal_log_open(&log, dir, &o);
    if (rc != 0 || !buf) {
        fprintf(stderr, "child: open: %s: %s\n", raftwal_strerror(rc), raftwal_errmsg());
        _exit(3);
    }
    raftwal_log_last_index(log, &last);
    for (;;) {
        size_t n, k, off = 0;
        int durable;
        raftwal_hardstate hs;
        rng = tu_mix(rng);
        /* Mostly small batches, sometimes big ones (long writes). */
        n = 1 + (size_t)(rng % ((rng >> 32) % 8 == 0 ? 64 : 16));
        durable = (rng >> 8) % 4 != 0;
        for (k = 0; k < n; k++) {
            uint64_t idx = last + 1 + k;
            size_t sz = tu_payload_size(idx, term, MAXP);
            tu_payload_fill(buf + off, sz, idx, term);
            e[k].index = idx;
            e[k].term = term;
            e[k].type = (uint32_t)(idx % 5);
            e[k].flags = 0;
            e[k].data = buf + off;
            e[k].size = sz;
            off += sz;
        }
        hs.term = term;
        hs.vote = 1;
        hs.commit = last; /* what was durable before this batch */
        rc = raftwal_log_append(log, e, n, (rng >> 12) % 5 == 0 ? &hs : NULL,
                                durable ? 0 : RAFTWAL_NOSYNC);
        if (rc != 0) {
            fprintf(stderr, "child: append: %s: %s\n", raftwal_strerror(rc),
                    raftwal_errmsg());
            _exit(4);
        }
        last += n;
        if (durable && write(ack_fd, &last, sizeof last) != (ssize_t)sizeof last)
            _exit(5);
        /* Keep the log small: purge acknowledged entries now and then. */
        raftwal_log_first_index(log, &first);
        if (durable && last - first > 3000 && (rng >> 20) % 8 == 0) {
            rc = raftwal_log_purge(log, last - 1000);
            if (rc != 0) {
                fprintf(stderr, "child: purge: %s\n", raftwal_errmsg());
                _exit(6);
            }
        }
    }
}

/* What the parent knows: term[i] of every entry it has seen (0: never). */
struct known {
    uint64_t *term;
    uint64_t cap;
};

static void known_set(struct known *k, uint64_t idx, uint64_t term)
{
    if (idx >= k->cap) {
        uint64_t cap = (idx + 1) * 2;
        k->term = (uint64_t *)realloc(k->term, cap * sizeof *k->term);
        CHECK(k->term != NULL);
        memset(k->term + k->cap, 0, (cap - k->cap) * sizeof *k->term);
        k->cap = cap;
    }
    k->term[idx] = term;
}

static uint64_t known_get(const struct known *k, uint64_t idx)
{
    return idx < k->cap ? k->term[idx] : 0;
}

static void test_sigkill_rounds(void)
{
    const char *dir = tu_tmpdir();
    struct known kn = {NULL, 0};
    uint64_t t0 = tu_now_ns(), acked = 0, last_seen = 0, purged_upto = 0;
    int round, torn = 0, beyond = 0;
    raftwal_log *log;

    log = open_log(dir, RAFTWAL_OPEN_CREATE, SEG);
    CHECK_OK(raftwal_log_close(log));

    for (round = 0; round < ROUNDS && tu_now_ns() - t0 < BUDGET_NS; round++) {
        uint64_t term = 1 + (uint64_t)round, want_acks = tu_rand_range(0, 150);
        uint64_t delay_us = tu_rand_range(0, 600), got = 0, v, first, last, i;
        uint64_t round_start_last = last_seen;
        int fds[2], status;
        pid_t pid;
        ssize_t r;

        CHECK(pipe(fds) == 0);
        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_main(dir, fds[1], term, tu_rand());
        }
        close(fds[1]);
        while (got < want_acks && (r = read(fds[0], &v, sizeof v)) == (ssize_t)sizeof v) {
            acked = v;
            got++;
        }
        if (delay_us) {
            struct timespec ts = {0, (long)delay_us * 1000};
            nanosleep(&ts, NULL); /* not synchronization: a random kill point */
        }
        kill(pid, SIGKILL);
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK_MSG(WIFSIGNALED(status),
                  "round %d: the child exited by itself (status %d) -- see its stderr",
                  round, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        /* Acknowledgements written before the kill are still in the pipe. */
        while ((r = read(fds[0], &v, sizeof v)) == (ssize_t)sizeof v)
            acked = v;
        close(fds[0]);
        /* Acknowledged entries of this round have this round's term. */
        for (i = round_start_last + 1; i <= acked; i++)
            known_set(&kn, i, term);

        /* The log verifies (a torn tail is fine) and holds every ack. */
        {
            raftwal_check c;
            memset(&c, 0, sizeof c);
            c.size = sizeof c;
            CHECK_MSG(raftwal_verify(dir, &c) == 0, "round %d: verify failed", round);
            torn += c.torn_bytes > 0;
        }
        log = open_log(dir, 0, SEG);
        CHECK_OK(raftwal_log_first_index(log, &first));
        CHECK_OK(raftwal_log_last_index(log, &last));
        CHECK_MSG(last >= acked, "round %d: last %" PRIu64 " < acknowledged %" PRIu64,
                  round, last, acked);
        CHECK_MSG(first - 1 <= acked, "round %d: purged past the acknowledged index",
                  round);
        CHECK(first >= purged_upto + 1 || first == 1);
        purged_upto = first - 1;
        beyond += last > acked;
        for (i = first; i <= last; i++) {
            unsigned char buf[MAXP];
            raftwal_entry e;
            uint64_t want = known_get(&kn, i);
            CHECK_OK(raftwal_log_get(log, i, &e, buf, sizeof buf));
            if (want)
                CHECK_MSG(e.term == want, "round %d: entry %" PRIu64 " has term %" PRIu64
                          ", expected %" PRIu64, round, i, e.term, want);
            else
                CHECK_MSG(e.term == term, "round %d: unacknowledged entry %" PRIu64
                          " has term %" PRIu64, round, i, e.term);
            CHECK_EQ_U64(e.type, i % 5);
            CHECK_MSG(tu_payload_ok(buf, e.size, i, e.term, MAXP),
                      "round %d: entry %" PRIu64 " has wrong bytes", round, i);
            /* An entry once seen never changes (no overwrites here). */
            known_set(&kn, i, e.term);
        }
        CHECK_OK(raftwal_log_close(log));
        last_seen = last;
        acked = last; /* recovered entries are now the base of the next round */
    }
    printf("   %d rounds in %.1f s; last index %" PRIu64 ", %d torn tails, "
           "%d rounds kept unacknowledged entries\n",
           round, (double)(tu_now_ns() - t0) / 1e9, last_seen, torn, beyond);
    CHECK(round >= 10);
    CHECK(last_seen > 0);
    CHECK_OK(raftwal_verify(dir, NULL));
    free(kn.term);
}

int main(int argc, char **argv)
{
    TU_RUN(argc, argv, test_sigkill_rounds);
    return 0;
}
