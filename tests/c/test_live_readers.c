/*
 * test_live_readers.c -- c_live_readers: read-only handles and
 * raftwal_verify() in other processes against a live writer (issue 21,
 * "Readers in other processes").
 *
 * A writer (a child process) appends, rotates (16 KiB segments), purges
 * (its purged files become spares and are recycled), and now and then
 * truncates its last entries and writes them again with a higher term, as
 * fast as it can. Reader processes open the log read-only again and again
 * and read every entry of each opening, by raftwal_log_get() and through
 * an iterator; another process runs raftwal_verify() on the live log, and
 * another the CLI's stat, dump and verify.
 *
 * The only failures allowed: RAFTWAL_ECOMPACTED for an entry purged since
 * the handle opened, and, from an open or a verify, RAFTWAL_ECOMPACTED
 * whose message says the log changed under the reader (a writer that kept
 * changing the directory through every attempt). Never an I/O error for a
 * file the writer renamed or removed, never corruption on this healthy
 * log, and every entry read holds its own bytes. Before the fix a
 * read-only open racing the purges failed with RAFTWAL_EIO ("open: No such
 * file or directory") and RAFTWAL_ECORRUPT ("the checkpoint lists
 * segments ... before this one", "header says sequence N").
 */
#include "model.h"
#include "test_util.h"

#include <signal.h>
#include <sys/wait.h>

#define SEG RAFTWAL_MIN_SEGMENT_SIZE
#define MAXP 900
#define READERS 2
#define OPENS_PER_READER 1500
#define VERIFIES 300
#define CLI_RUNS 90

/* The writer: never returns; killed by the test when the readers are done.
 * Exits 2 (with the message on stderr) if the log refuses anything. */
static void writer_main(const char *dir)
{
    raftwal_options o;
    raftwal_log *log;
    uint64_t next = 1, term = 1, n = 0;
    raftwal_options_init(&o, RAFTWAL_OPTIONS_VERSION);
    o.flags = RAFTWAL_OPEN_NOSYNC;
    o.segment_size = SEG;
    if (raftwal_log_open(&log, dir, &o) != 0)
        goto fail;
    for (;; n++) {
        batch b;
        size_t k = 1 + (size_t)(tu_rand() % 4);
        int rc;
        batch_make(&b, next, k, term, MAXP);
        rc = raftwal_log_append(log, b.e, b.n, NULL, RAFTWAL_NOSYNC);
        batch_free(&b);
        if (rc != 0)
            goto fail;
        next += k;
        if (n % 23 == 22 && next > 8) {
            /* Truncate the last few entries; they come back with a higher
             * term (in the tail: readers keep the old bytes they map). */
            next -= 1 + tu_rand() % 3;
            term++;
            if (raftwal_log_truncate(log, next) != 0)
                goto fail;
        }
        if (n % 8 == 7 && next > 120 && raftwal_log_purge(log, next - 100) != 0)
            goto fail;
    }
fail:
    fprintf(stderr, "writer: %s\n", raftwal_errmsg());
    _exit(2);
}

/* A "changed under" answer: allowed from an open or a verify of a log whose
 * writer kept changing it. */
static int changed_under(int rc)
{
    return rc == RAFTWAL_ECOMPACTED && strstr(raftwal_errmsg(), "changed under") != NULL;
}

/* Reads entry i of a read-only handle: its bytes, or compacted since. */
static int read_one(raftwal_log *log, uint64_t i, unsigned char *buf, long *compacted)
{
    raftwal_entry e;
    int rc = raftwal_log_get(log, i, &e, buf, MAXP);
    if (rc == RAFTWAL_ECOMPACTED) {
        (*compacted)++;
        return 0;
    }
    if (rc != 0) {
        fprintf(stderr, "reader: get %" PRIu64 ": %d %s\n", i, rc, raftwal_errmsg());
        return 1;
    }
    if (e.index != i || !tu_payload_ok(e.data, e.size, i, e.term, MAXP)) {
        fprintf(stderr, "reader: entry %" PRIu64 " (term %" PRIu64 ") has wrong bytes\n", i, e.term);
        return 1;
    }
    return 0;
}

/* Iterates [first, last + 1) of a read-only handle: each entry its own
 * bytes, until the end or a RAFTWAL_ECOMPACTED. */
static int iterate(raftwal_log *log, uint64_t first, uint64_t last, long *compacted)
{
    raftwal_iter *it;
    raftwal_entry e;
    uint64_t want = first;
    int rc = raftwal_iter_open(&it, log, first, last + 1, RAFTWAL_NO_LIMIT);
    if (rc != 0) {
        fprintf(stderr, "reader: iter_open: %d %s\n", rc, raftwal_errmsg());
        return 1;
    }
    while ((rc = raftwal_iter_next(it, &e)) == 1) {
        if (e.index != want++ || !tu_payload_ok(e.data, e.size, e.index, e.term, MAXP)) {
            fprintf(stderr, "reader: iterated entry %" PRIu64 " has wrong bytes\n", e.index);
            raftwal_iter_close(it);
            return 1;
        }
    }
    if (rc == RAFTWAL_ECOMPACTED)
        (*compacted)++;
    else if (rc != 0)
        fprintf(stderr, "reader: iter_next %" PRIu64 ": %d %s\n", want, rc, raftwal_errmsg());
    raftwal_iter_close(it);
    return rc != 0 && rc != RAFTWAL_ECOMPACTED;
}

/* A reader process: opens and reads; exit status 0 if all was well. */
static int reader_main(const char *dir, int id)
{
    raftwal_options o;
    unsigned char buf[MAXP];
    long reads = 0, compacted = 0, changed = 0;
    raftwal_options_init(&o, RAFTWAL_OPTIONS_VERSION);
    o.flags = RAFTWAL_OPEN_READONLY;
    for (int k = 0; k < OPENS_PER_READER; k++) {
        raftwal_log *log;
        uint64_t first, last;
        int rc = raftwal_log_open(&log, dir, &o);
        if (rc != 0) {
            if (changed_under(rc)) {
                changed++;
                continue;
            }
            fprintf(stderr, "reader %d: open %d: %d %s\n", id, k, rc, raftwal_errmsg());
            return 1;
        }
        CHECK_OK(raftwal_log_first_index(log, &first));
        CHECK_OK(raftwal_log_last_index(log, &last));
        /* Alternate directions: newest first reaches the oldest segments
         * later, when the writer has purged them more often. */
        for (uint64_t j = 0; j + first <= last; j++, reads++)
            if (read_one(log, k % 2 ? last - j : first + j, buf, &compacted))
                return 1;
        if (k % 4 == 0 && iterate(log, first, last, &compacted))
            return 1;
        CHECK_OK(raftwal_log_close(log));
    }
    printf("reader %d: %d opens (%ld changed under it), %ld reads, %ld compacted\n", id,
           OPENS_PER_READER, changed, reads, compacted);
    return changed == OPENS_PER_READER; /* it must have read something */
}

/* A verifier process: raftwal_verify() on the live log. */
static int verifier_main(const char *dir)
{
    long ok = 0, changed = 0;
    for (int k = 0; k < VERIFIES; k++) {
        raftwal_check c;
        memset(&c, 0, sizeof c);
        c.size = sizeof c;
        int rc = raftwal_verify(dir, &c);
        if (rc == 0) {
            ok++;
            continue;
        }
        if (changed_under(rc)) {
            changed++;
            continue;
        }
        fprintf(stderr, "verify %d: %d %s\n", k, rc, raftwal_errmsg());
        return 1;
    }
    printf("verifier: %d verifies, %ld clean, %ld said the log changed under them\n", VERIFIES,
           ok, changed);
    return ok == 0;
}

/* The CLI (its path is argv[1]): `raftwal stat`, `dump` and `verify` on
 * the live log either succeed or say that the log changed under them. */
static const char *cli_path;

static int cli_main(const char *dir, int id)
{
    if (!cli_path) { /* a build without the CLI (scripts/ci-durability) */
        printf("cli: skipped (no raftwal CLI in this build)\n");
        return 0;
    }
    static const char *const cmds[] = {"stat", "dump", "verify"};
    char cmd[1536], errpath[600];
    long ok = 0, changed = 0;
    snprintf(errpath, sizeof errpath, "%s/cli%d.err", dir, id); /* not a segment name */
    for (int k = 0; k < CLI_RUNS; k++) {
        const char *what = cmds[k % 3];
        snprintf(cmd, sizeof cmd, "'%s' %s '%s' >/dev/null 2>'%s'", cli_path, what, dir, errpath);
        int st = system(cmd);
        size_t n = 0;
        unsigned char *err = tu_read_file(errpath, &n);
        char *text = (char *)realloc(err, n + 1);
        CHECK(text != NULL);
        text[n] = 0;
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
            ok++;
        } else if (strstr(text, "changed under") != NULL) {
            changed++;
        } else {
            fprintf(stderr, "raftwal %s: status 0x%x: %s\n", what, st, text);
            free(text);
            return 1;
        }
        free(text);
    }
    unlink(errpath);
    printf("cli: %d runs of stat, dump, verify: %ld clean, %ld said the log changed under them\n",
           CLI_RUNS, ok, changed);
    return ok == 0;
}

static pid_t spawn(int (*fn)(const char *, int), const char *dir, int id)
{
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        fflush(stdout);
        _exit(fn(dir, id));
    }
    return pid;
}

static int verifier_entry(const char *dir, int id)
{
    (void)id;
    return verifier_main(dir);
}

static void test_live_readers(void)
{
    const char *dir = tu_tmpdir();
    raftwal_options o;
    raftwal_log *log;
    raftwal_segment_info si;
    pid_t writer, kids[READERS + 2];
    int status;

    raftwal_options_init(&o, RAFTWAL_OPTIONS_VERSION);
    o.flags = RAFTWAL_OPEN_CREATE | RAFTWAL_OPEN_NOSYNC;
    o.segment_size = SEG;
    CHECK_OK(raftwal_log_open(&log, dir, &o));
    CHECK_OK(raftwal_log_close(log));
    fflush(stdout);
    writer = fork();
    CHECK(writer >= 0);
    if (writer == 0)
        writer_main(dir);
    for (int r = 0; r < READERS; r++)
        kids[r] = spawn(reader_main, dir, r);
    kids[READERS] = spawn(verifier_entry, dir, 0);
    kids[READERS + 1] = spawn(cli_main, dir, 0);
    int failed = 0;
    for (int r = 0; r < READERS + 2; r++) {
        CHECK(waitpid(kids[r], &status, 0) == kids[r]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "%s %d failed (status 0x%x)\n",
                    r < READERS ? "reader" : r == READERS ? "verifier" : "cli", r, status);
            failed = 1;
        }
    }
    /* The writer ran all along (it exits only on an error). */
    CHECK_MSG(waitpid(writer, &status, WNOHANG) == 0, "the writer stopped: status 0x%x", status);
    CHECK(kill(writer, SIGKILL) == 0);
    CHECK(waitpid(writer, &status, 0) == writer);
    CHECK_MSG(!failed, "a reader or the verifier failed (above)");

    /* The log the writer left (killed, not closed) is clean, and it did
     * rotate and purge meanwhile: its oldest segment is a late one. */
    CHECK_OK(raftwal_verify(dir, NULL));
    o.flags = RAFTWAL_OPEN_READONLY;
    CHECK_OK(raftwal_log_open(&log, dir, &o));
    memset(&si, 0, sizeof si);
    si.size = sizeof si;
    CHECK_OK(raftwal_log_segment_info(log, 0, &si));
    printf("the writer's log starts at segment %" PRIu64 "\n", si.seq);
    CHECK_MSG(si.seq > 20, "oldest segment %" PRIu64 ": the writer hardly purged", si.seq);
    CHECK_OK(raftwal_log_close(log));
}

int main(int argc, char **argv)
{
    CHECK_MSG(argc <= 2, "usage: c_live_readers [PATH-OF-THE-raftwal-CLI]");
    cli_path = argc == 2 ? argv[1] : NULL;
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("-- test_live_readers\n");
    test_live_readers();
    printf("ok\n");
    return 0;
}
