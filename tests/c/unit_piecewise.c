/*
 * unit_piecewise.c -- c_unit_piecewise: a batch the caller syncs is written
 * in pieces while it is encoded, each piece handed to the disk at once
 * (src/log.c, piece_writer; rw_io->writeback).
 *
 * The I/O table is wrapped to record, in order, the calls the appending
 * thread makes (the background worker's are left out). What is checked:
 *   - a durable batch of several pieces: contiguous pwrites of at least
 *     rw_write_piece bytes each but the last, each followed by a writeback
 *     of exactly its bytes, the last (the COMMIT's) not hinted, then the
 *     fdatasync; the batch reads back after a reopen;
 *   - a batch written without a sync: the same pieces, none hinted;
 *   - a durable batch smaller than a piece: one pwrite, no writeback;
 *   - a piece that fails: nothing more of the batch is written, the append
 *     reports RAFTWAL_EIO, and a reopen finds the log as before the batch.
 */
#include <stdatomic.h>

#include "io.h"
#include "log.h"
#include "test_util.h"

#define SEG_SIZE (32u * 1024u * 1024u)
#define ENTRY_SIZE (16u * 1024u)
#define MAX_EVENTS 4096

enum ev_kind { EV_PWRITE, EV_WRITEBACK, EV_FDATASYNC };

typedef struct event {
    enum ev_kind kind;
    int fd;
    uint64_t off, len;
} event;

static event events[MAX_EVENTS];
static size_t nevents;
static int fail_pwrite_at; /* the appender's Nth pwrite fails with EIO; 0: never */
static int pwrites;
static _Thread_local int is_appender;

static void record(enum ev_kind kind, int fd, uint64_t off, uint64_t len)
{
    CHECK(nevents < MAX_EVENTS);
    events[nevents++] = (event){kind, fd, off, len};
}

static ssize_t w_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    if (is_appender) {
        if (++pwrites == fail_pwrite_at) {
            errno = EIO;
            return -1;
        }
        record(EV_PWRITE, fd, (uint64_t)off, n);
    }
    return rw_io_posix.pwrite(fd, buf, n, off);
}

static void w_writeback(int fd, uint64_t off, size_t len)
{
    if (is_appender)
        record(EV_WRITEBACK, fd, off, len);
    rw_io_posix.writeback(fd, off, len);
}

static int w_fdatasync(int fd)
{
    if (is_appender)
        record(EV_FDATASYNC, fd, 0, 0);
    return rw_io_posix.fdatasync(fd);
}

static struct rw_io wrapped;

static void start_recording(int fail_at)
{
    nevents = 0;
    pwrites = 0;
    fail_pwrite_at = fail_at;
}

static raftwal_log *open_log(const char *dir)
{
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    o.segment_size = SEG_SIZE;
    raftwal_log *log = NULL;
    CHECK_OK(raftwal_log_open(&log, dir, &o));
    return log;
}

/* Appends entries first..first+n-1 of ENTRY_SIZE bytes in one batch. */
static int append_batch(raftwal_log *log, uint64_t first, size_t n, unsigned flags)
{
    static unsigned char data[256][ENTRY_SIZE];
    static raftwal_entry e[256];
    CHECK(n <= 256);
    for (size_t i = 0; i < n; i++) {
        tu_payload_fill(data[i], ENTRY_SIZE, first + i, 1);
        e[i] = (raftwal_entry){.index = first + i, .term = 1, .data = data[i], .size = ENTRY_SIZE};
    }
    return raftwal_log_append(log, e, n, NULL, flags);
}

static void check_entries(raftwal_log *log, uint64_t first, uint64_t last)
{
    static unsigned char buf[ENTRY_SIZE], want[ENTRY_SIZE];
    uint64_t got_first = 0, got_last = 0;
    CHECK_OK(raftwal_log_first_index(log, &got_first));
    CHECK_OK(raftwal_log_last_index(log, &got_last));
    CHECK_EQ_U64(got_first, first);
    CHECK_EQ_U64(got_last, last);
    for (uint64_t i = first; i <= last; i++) {
        raftwal_entry got;
        CHECK_OK(raftwal_log_get(log, i, &got, buf, sizeof buf));
        CHECK_EQ_U64(got.size, ENTRY_SIZE);
        tu_payload_fill(want, sizeof want, i, 1);
        CHECK_MSG(memcmp(buf, want, sizeof want) == 0, "entry %" PRIu64 " damaged", i);
    }
}

static size_t count(enum ev_kind kind)
{
    size_t k = 0;
    for (size_t i = 0; i < nevents; i++)
        k += events[i].kind == kind;
    return k;
}

/* The recorded calls of one batch of n entries: contiguous pwrites on one
 * fd, every one but the last a full piece; with `hinted`, each but the
 * last followed at once by a writeback of exactly its bytes, and an
 * fdatasync after all of them; without, no writeback. */
static void check_pieces(size_t n, int hinted)
{
    size_t pieces = count(EV_PWRITE);
    CHECK_MSG(pieces >= (n * ENTRY_SIZE) / rw_write_piece, "%zu pwrites for a %zu-byte batch",
              pieces, n * ENTRY_SIZE);
    CHECK_EQ_U64(count(EV_WRITEBACK), hinted ? pieces - 1 : 0);
    size_t seen = 0, synced = 0;
    uint64_t next_off = 0, total = 0;
    int fd = -1;
    for (size_t i = 0; i < nevents; i++) {
        const event *ev = &events[i];
        if (ev->kind == EV_FDATASYNC) {
            CHECK_MSG(seen == pieces, "fdatasync after %zu of %zu pieces", seen, pieces);
            synced = 1;
            continue;
        }
        if (ev->kind == EV_WRITEBACK)
            continue;
        if (seen == 0)
            fd = ev->fd;
        else
            CHECK_EQ_U64(ev->off, next_off); /* contiguous, in order */
        CHECK(ev->fd == fd);
        seen++;
        next_off = ev->off + ev->len;
        total += ev->len;
        if (seen < pieces) {
            CHECK_MSG(ev->len >= rw_write_piece, "piece %zu: %" PRIu64 " bytes", seen, ev->len);
            if (hinted) {
                CHECK(i + 1 < nevents);
                const event *hint = &events[i + 1];
                CHECK(hint->kind == EV_WRITEBACK && hint->fd == fd);
                CHECK_EQ_U64(hint->off, ev->off);
                CHECK_EQ_U64(hint->len, ev->len);
            }
        }
    }
    CHECK(synced == (size_t)hinted);
    /* The last piece holds the last entry and the COMMIT record. */
    for (size_t i = nevents; i-- > 0;)
        if (events[i].kind == EV_PWRITE) {
            CHECK_MSG(events[i].len > ENTRY_SIZE, "last piece: %" PRIu64 " bytes", events[i].len);
            break;
        }
    CHECK(total > n * ENTRY_SIZE); /* payloads and records */
}

/* A 2.5 MiB batch, durable then unsynced: pieces, handed to the disk only
 * when durable. */
static void test_big_batches_are_written_in_pieces(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir);
    const size_t n = 160; /* 2.5 MiB of payload */
    CHECK_OK(append_batch(log, 1, 1, 0));
    start_recording(0);
    CHECK_OK(append_batch(log, 2, n, 0));
    check_pieces(n, 1);
    start_recording(0);
    CHECK_OK(append_batch(log, 2 + n, n, RAFTWAL_NOSYNC));
    check_pieces(n, 0);
    CHECK_OK(raftwal_log_close(log));
    log = open_log(dir);
    check_entries(log, 1, 2 * n + 1);
    CHECK_OK(raftwal_log_close(log));
}

/* Smaller than a piece: one write, nothing hinted. */
static void test_small_batch_is_one_write(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir);
    size_t small = rw_write_piece / ENTRY_SIZE / 2;
    CHECK(small >= 1);
    CHECK_OK(append_batch(log, 1, 1, 0));
    start_recording(0);
    CHECK_OK(append_batch(log, 2, small, 0));
    CHECK_EQ_U64(count(EV_PWRITE), 1);
    CHECK_EQ_U64(count(EV_WRITEBACK), 0);
    CHECK(count(EV_FDATASYNC) >= 1);
    CHECK_OK(raftwal_log_close(log));
    log = open_log(dir);
    check_entries(log, 1, 1 + small);
    CHECK_OK(raftwal_log_close(log));
}

/* The second piece fails: the append fails, no piece after it is written,
 * and the batch is not in the log after a reopen. */
static void test_failed_piece_stops_the_batch(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir);
    CHECK_OK(append_batch(log, 1, 3, 0));
    start_recording(2);
    CHECK_RC(append_batch(log, 4, 160, 0), RAFTWAL_EIO);
    CHECK_EQ_U64(count(EV_PWRITE), 1); /* the first piece only */
    /* The message names the failed piece and the batch. */
    char want[128];
    snprintf(want, sizeof want, "at offset %" PRIu64 " (of a ", events[0].off + events[0].len);
    CHECK_MSG(strstr(raftwal_errmsg(), want) != NULL, "%s", raftwal_errmsg());
    CHECK_EQ_U64(count(EV_FDATASYNC), 0);
    start_recording(0);
    CHECK_RC(append_batch(log, 4, 1, 0), RAFTWAL_EIO); /* the handle is failed */
    raftwal_log_close(log);
    log = open_log(dir);
    check_entries(log, 1, 3);
    CHECK_OK(append_batch(log, 4, 160, 0));
    check_entries(log, 1, 163);
    CHECK_OK(raftwal_log_close(log));
}

int main(void)
{
    wrapped = rw_io_posix;
    wrapped.pwrite = w_pwrite;
    wrapped.writeback = w_writeback;
    wrapped.fdatasync = w_fdatasync;
    rw_io_set(&wrapped);
    is_appender = 1;
    test_big_batches_are_written_in_pieces();
    test_small_batch_is_one_write();
    test_failed_piece_stops_the_batch();
    rw_io_set(NULL);
    printf("unit_piecewise: ok\n");
    return 0;
}
