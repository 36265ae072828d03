/*
 * test_crypto_nonces.c -- c_crypto_nonces: no (key, nonce) pair is used
 * twice (docs/format.md §7.4).
 *
 * Every writer is a child process (a session); the library's test hook
 * (rw_codec_nonce_hook) appends each (key id, nonce) it seals under to a
 * shared record file (O_APPEND, one write each, before the batch reaches
 * the disk). The workload uses small segments (rotations), truncations
 * (records rewritten at lower indexes), purges (segment files recycled as
 * spares), reopens, and writers killed with SIGKILL in the middle of their
 * appends (the parent waits for the child to report progress through a
 * pipe, then kills it: no sleeps), and batch writes the disk refuses
 * (ENOSPC, nothing written) and that are then retried at the same offset.
 * The parent then sorts every recorded
 * pair and finds no repeat, and checks that the log still opens and reads.
 * Linked against the static library: the hook is private.
 */
#include "test_util.h"

#include <signal.h>
#include <sys/wait.h>

#include "codec.h"
#include "io.h"

#define SEG RAFTWAL_MIN_SEGMENT_SIZE

static unsigned char key[32];
static int record_fd = -1;

static void record_nonce(uint32_t id, const uint8_t nonce[RW_NONCE_SIZE])
{
    uint8_t rec[16];
    memcpy(rec, &id, 4);
    memcpy(rec + 4, nonce, RW_NONCE_SIZE);
    if (write(record_fd, rec, sizeof rec) != (ssize_t)sizeof rec)
        _exit(3);
}

static raftwal_log *open_log(const char *dir)
{
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    raftwal_log *log = NULL;
    o.segment_size = SEG;
    o.key = key;
    o.key_size = 32;
    CHECK_OK(raftwal_log_open(&log, dir, &o));
    return log;
}

/* One session: random appends, truncations and purges; reports each step
 * on `progress` (a byte) so that the parent can kill it mid-way. */
static void session(const char *dir, uint64_t seed, int steps, int progress)
{
    raftwal_log *log = open_log(dir);
    uint64_t first, last;
    int s;
    CHECK_OK(raftwal_log_first_index(log, &first));
    CHECK_OK(raftwal_log_last_index(log, &last));
    for (s = 0; s < steps; s++) {
        uint64_t r = tu_mix(seed + (uint64_t)s);
        unsigned char buf[16][600];
        raftwal_entry e[16];
        size_t n = 1 + r % 16, i;
        if (r % 10 == 0 && last > first + 20) {
            uint64_t from = last - (r >> 8) % 10;
            raftwal_hardstate hs;
            CHECK_OK(raftwal_log_hardstate(log, &hs));
            if (from > hs.commit && from > first) {
                CHECK_OK(raftwal_log_truncate(log, from));
                last = from - 1;
            }
        } else if (r % 10 == 1 && last > first + 300) {
            raftwal_hardstate hs = {1, 1, last - 50};
            CHECK_OK(raftwal_log_set_hardstate(log, &hs, 0));
            CHECK_OK(raftwal_log_purge(log, last - 100));
            first = last - 99;
        } else {
            for (i = 0; i < n; i++) {
                size_t size = 100 + (size_t)((r >> (i + 8)) % 400);
                memset(buf[i], (int)(r >> i), size);
                e[i] = (raftwal_entry){last + 1 + i, 1, 0, 0, buf[i], size};
            }
            CHECK_OK(raftwal_log_append(log, e, n, NULL, 0));
            last += n;
        }
        if (progress >= 0 && write(progress, "x", 1) != 1)
            _exit(4);
    }
    CHECK_OK(raftwal_log_close(log));
}

/* Batch writes the disk refuses, nothing written (ENOSPC): the handle
 * stays usable and the batch is retried. The retry must not seal its
 * records under the refused batch's nonces (the epoch is given up). */
static struct rw_io refusing;
static int refuse_next;

static ssize_t refusing_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    /* A batch: sealed records (not a footer, a header or zeros). */
    if (refuse_next && off > RW_HEADER_SIZE && n >= RW_REC_HEADER &&
        ((const uint8_t *)buf)[5] == RW_CODEC_SEALED) {
        refuse_next = 0;
        errno = ENOSPC;
        return -1;
    }
    return rw_io_posix.pwrite(fd, buf, n, off);
}

static void refused_writes(const char *dir)
{
    raftwal_log *log;
    uint64_t last;
    int k, refused = 0;
    refusing = rw_io_posix;
    refusing.pwrite = refusing_pwrite;
    rw_io_set(&refusing);
    rw_codec_nonce_hook = record_nonce;
    log = open_log(dir);
    CHECK_OK(raftwal_log_last_index(log, &last));
    for (k = 0; k < 200; k++) {
        unsigned char buf[300];
        raftwal_entry e = {last + 1, 1, 0, 0, buf, sizeof buf};
        int rc;
        memset(buf, k, sizeof buf);
        refuse_next = k % 5 == 0;
        rc = raftwal_log_append(log, &e, 1, NULL, 0);
        if (rc == RAFTWAL_ENOSPC) {
            refused++;
            rc = raftwal_log_append(log, &e, 1, NULL, 0);
        }
        CHECK_OK(rc);
        last++;
    }
    CHECK_OK(raftwal_log_close(log));
    rw_codec_nonce_hook = NULL;
    refuse_next = 0;
    rw_io_set(&rw_io_posix);
    CHECK_MSG(refused >= 30, "only %d writes refused", refused);
}

static int cmp16(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

int main(void)
{
    const char *dir = tu_tmpdir();
    char rec_path[1024];
    int round, kills = 0;
    size_t size, n, i;
    unsigned char *all;
    raftwal_log *log;
    uint64_t first, last;
    if (!(raftwal_features() & RAFTWAL_FEATURE_ENCRYPTION)) {
        printf("c_crypto_nonces: no encryption in this build\n");
        return 0;
    }
    for (i = 0; i < 32; i++)
        key[i] = (unsigned char)tu_rand();
    snprintf(rec_path, sizeof rec_path, "%s.nonces", dir);
    record_fd = open(rec_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    CHECK(record_fd >= 0);
    refused_writes(dir);
    for (round = 0; round < 24; round++) {
        int pfd[2];
        int kill_it = round % 3 == 1;
        pid_t pid;
        CHECK(pipe(pfd) == 0);
        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            close(pfd[0]);
            rw_codec_nonce_hook = record_nonce;
            session(dir, tu_seed() * 1000 + (uint64_t)round, 120, pfd[1]);
            _exit(0);
        }
        close(pfd[1]);
        if (kill_it) { /* after a random number of its steps */
            int want = 5 + (int)(tu_rand() % 100), got = 0;
            char c;
            while (got < want && read(pfd[0], &c, 1) == 1)
                got++;
            kill(pid, SIGKILL);
            kills++;
        } else {
            char c;
            while (read(pfd[0], &c, 1) == 1)
                ;
        }
        close(pfd[0]);
        {
            int st;
            CHECK(waitpid(pid, &st, 0) == pid);
            CHECK_MSG(kill_it ? 1 : WIFEXITED(st) && WEXITSTATUS(st) == 0, "round %d: status %d",
                      round, st);
        }
    }
    close(record_fd);
    all = tu_read_file(rec_path, &size);
    CHECK(all && size % 16 == 0);
    n = size / 16;
    qsort(all, n, 16, cmp16);
    for (i = 1; i < n; i++)
        CHECK_MSG(memcmp(all + (i - 1) * 16, all + i * 16, 16) != 0,
                  "nonce used twice: key id %" PRIu32 ", salt %016" PRIx64 ", offset %" PRIu32,
                  tu_le32(all + i * 16), tu_le64(all + i * 16 + 4), tu_le32(all + i * 16 + 12));
    free(all);
    unlink(rec_path);
    /* Enough to mean something, and the log is whole. */
    CHECK_MSG(n > 5000, "only %zu nonces", n);
    log = open_log(dir);
    CHECK_OK(raftwal_log_first_index(log, &first));
    CHECK_OK(raftwal_log_last_index(log, &last));
    {
        raftwal_iter *it;
        raftwal_entry e;
        uint64_t k = 0;
        int rc;
        CHECK_OK(raftwal_iter_open(&it, log, first, last + 1, RAFTWAL_NO_LIMIT));
        while ((rc = raftwal_iter_next(it, &e)) == 1)
            k++;
        CHECK_RC(rc, 0);
        CHECK_EQ_U64(k, last - first + 1);
        raftwal_iter_close(it);
    }
    {
        raftwal_stats st;
        st.size = sizeof st;
        CHECK_OK(raftwal_log_stats(log, &st));
        printf("c_crypto_nonces: %zu (key, nonce) pairs over 24 sessions (%d killed), no repeat; "
               "log [%" PRIu64 ", %" PRIu64 "]\n", n, kills, first, last);
    }
    CHECK_OK(raftwal_log_close(log));
    return 0;
}
