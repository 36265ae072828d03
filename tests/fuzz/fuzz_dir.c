/* fuzz_dir -- a whole log directory: recovery, reads, verify, repair.
 *
 * Input: byte 0 = flags: FZ_FIX_CRC; 0x2 open with RAFTWAL_OPEN_VERIFY;
 *        0x4 also open for writing (append, close) and repair;
 *        bits 4-5 = number of segment files - 1 (1..3);
 *        0x40: the second file's sequence number skips one (a gap);
 *        0x80: the last file is a leftover "*.wal.tmp".
 *        Byte 1 = the first file's sequence number (0 counts as 1).
 *        Then (n - 1) little-endian u16 file lengths, then the files'
 *        bytes back to back (the last file takes the rest).
 * The files are written to a scratch directory as consecutive segments
 * (%016x.wal of their sequence numbers); then:
 *   - raftwal_verify;
 *   - a read-only open, reading every entry, term, the hard state,
 *     snapshot, metadata, stats and every segment's info;
 *   - with 0x4, a writable open, one append, close, and raftwal_repair.
 * Invariants: no crash or sanitizer report; every error is one of the
 * documented codes; a log that verify accepts opens and reads without
 * error, and reads back contiguous entries with non-decreasing terms. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "log.h" /* rw_prepare_in_background */
#include "raftwal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void rm_inside(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        if (unlink(p) != 0) {
            rm_inside(p);
            rmdir(p);
        }
    }
    closedir(d);
}

static void write_file(const char *name, const uint8_t *p, size_t n)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        abort();
    if (n)
        (void)!write(fd, p, n);
    close(fd);
}

static void remove_dir(void)
{
    rm_inside(dir);
    rmdir(dir);
}

static int known_code(int rc)
{
    return rc <= 0 && rc >= RAFTWAL_ECLOSED;
}

/* Reads everything; returns the first error. */
static int read_all(raftwal_log *log)
{
    uint64_t first, last;
    FZ_ASSERT(raftwal_log_first_index(log, &first) == 0 && raftwal_log_last_index(log, &last) == 0);
    FZ_ASSERT(first >= 1 && last + 1 >= first);
    raftwal_hardstate hs;
    FZ_ASSERT(raftwal_log_hardstate(log, &hs) == 0);
    uint8_t small[64];
    size_t n;
    uint64_t si, st;
    int rc = raftwal_log_snapshot(log, &si, &st, small, sizeof small, &n);
    FZ_ASSERT(rc == 0 || rc == RAFTWAL_ERANGE);
    rc = raftwal_log_metadata(log, small, sizeof small, &n);
    FZ_ASSERT(rc == 0 || rc == RAFTWAL_ERANGE);
    raftwal_stats stats = {.size = sizeof stats};
    FZ_ASSERT(raftwal_log_stats(log, &stats) == 0);
    for (size_t i = 0; i < stats.segments; i++) {
        raftwal_segment_info info = {.size = sizeof info};
        FZ_ASSERT(raftwal_log_segment_info(log, i, &info) == 0);
    }
    uint64_t prev_term = 0;
    /* At most 4096 entries per input keeps each execution short. */
    uint64_t hi = last - first + 1 > 4096 ? first + 4096 : last + 1;
    raftwal_iter *it;
    rc = raftwal_iter_open(&it, log, first, hi, RAFTWAL_NO_LIMIT);
    FZ_ASSERT(known_code(rc));
    if (rc)
        return rc;
    for (uint64_t i = first; i < hi; i++) {
        raftwal_entry e;
        rc = raftwal_iter_next(it, &e);
        FZ_ASSERT(rc == 1 || (rc < 0 && known_code(rc)));
        if (rc != 1)
            break;
        rc = 0;
        FZ_ASSERT(e.index == i && e.term >= prev_term);
        prev_term = e.term;
        uint64_t t;
        FZ_ASSERT(raftwal_log_term(log, i, &t) == 0 && t == e.term);
    }
    raftwal_iter_close(it);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/raftwal-fuzz-dir-XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(dir))
            abort();
        atexit(remove_dir);
        rw_prepare_in_background = 0;
    }
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    size_t nfiles = 1 + ((flags >> 4) & 3) % 3;
    uint64_t seq = size > 1 && data[1] ? data[1] : 1;
    size_t pos = 2;
    size_t lens[3];
    for (size_t i = 0; i + 1 < nfiles; i++) {
        lens[i] = pos + 2 <= size ? (size_t)(data[pos] | data[pos + 1] << 8) : 0;
        pos += 2;
    }
    rm_inside(dir);
    for (size_t i = 0; i < nfiles; i++) {
        size_t avail = pos < size ? size - pos : 0;
        size_t n = i + 1 < nfiles ? (lens[i] < avail ? lens[i] : avail) : avail;
        uint8_t *buf = fz_copy(data + (pos < size ? pos : size), n);
        if (flags & FZ_FIX_CRC)
            fz_fix_segment(buf, n);
        char name[64];
        int tmp = (flags & 0x80) && i + 1 == nfiles;
        snprintf(name, sizeof name, "%016" PRIx64 ".wal%s", seq, tmp ? ".tmp" : "");
        write_file(name, buf, n);
        free(buf);
        pos += n;
        seq += (i == 0 && (flags & 0x40)) ? 2 : 1;
    }
    raftwal_check chk = {.size = sizeof chk};
    int vrc = raftwal_verify(dir, &chk);
    FZ_ASSERT(known_code(vrc));
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    o.flags = RAFTWAL_OPEN_READONLY | ((flags & 0x2) ? RAFTWAL_OPEN_VERIFY : 0);
    raftwal_log *log;
    int rc = raftwal_log_open(&log, dir, &o);
    FZ_ASSERT(known_code(rc));
    if (vrc == 0)
        FZ_ASSERT(rc == 0); /* verify accepted it: it must open */
    if (rc == 0) {
        rc = read_all(log);
        if (vrc == 0)
            FZ_ASSERT(rc == 0); /* and every entry must read */
        raftwal_log_close(log);
    }
    if (flags & 0x4) {
        o.flags = 0;
        o.segment_size = RAFTWAL_MIN_SEGMENT_SIZE;
        rc = raftwal_log_open(&log, dir, &o);
        FZ_ASSERT(known_code(rc));
        if (vrc == 0)
            FZ_ASSERT(rc == 0);
        if (rc == 0) {
            uint64_t last, term = 0;
            raftwal_log_last_index(log, &last);
            raftwal_log_term(log, last, &term);
            raftwal_hardstate hs;
            raftwal_log_hardstate(log, &hs);
            raftwal_entry e = {last + 1, term > hs.term ? term : hs.term, 0, 0, "fuzz", 4};
            rc = raftwal_log_append(log, &e, 1, NULL, 0);
            FZ_ASSERT(known_code(rc));
            raftwal_log_close(log);
        }
        memset(&chk, 0, sizeof chk);
        chk.size = sizeof chk;
        rc = raftwal_repair(dir, &chk);
        FZ_ASSERT(known_code(rc));
        if (rc == 0) {
            /* The header's promise: after a repair, open succeeds. */
            o.flags = RAFTWAL_OPEN_READONLY;
            rc = raftwal_log_open(&log, dir, &o);
            FZ_ASSERT(rc == 0 || rc == RAFTWAL_ENOTFOUND);
            if (rc == 0) {
                FZ_ASSERT(read_all(log) == 0);
                raftwal_log_close(log);
            }
        }
    }
    return 0;
}
