/*
 * test_fork.c -- c_fork: a process made by fork() and the logs of its parent.
 *   - a child forked while the parent held the log opens it once the parent
 *     has closed it (the library's table of held directories is the
 *     parent's, not the child's), and is refused while the parent holds it;
 *   - a handle (and an iterator) inherited through fork() refuses every
 *     call in the child with RAFTWAL_ECLOSED, writes and syncs nothing
 *     there, and raftwal_log_close() on it returns at once without touching
 *     the parent's files or the child's own handle on the same log;
 *   - a child that only closes the inherited handle and exits does not
 *     hang;
 *   - so is a child made by a raw fork system call (no fork handlers run);
 *   - the parent's handle is unaffected by all of it.
 * Children report through their exit status and pipes; an alarm() in each
 * child turns a hang (the old close waited for the parent's preparer
 * thread, which does not exist in a child) into a failure.
 */
#include "model.h"
#include "test_util.h"

#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILD_TIMEOUT_S 20

static void send_byte(int fd, char c)
{
    CHECK(write(fd, &c, 1) == 1);
}

static char recv_byte(int fd)
{
    char c = 0;
    ssize_t n;
    while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
        ;
    CHECK_MSG(n == 1, "the other process closed its pipe");
    return c;
}

/* Waits for the child and checks that it exited with status 0. */
static void reap(pid_t pid)
{
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK_MSG(!WIFSIGNALED(status), "the child died of signal %d%s", WTERMSIG(status),
              WTERMSIG(status) == SIGALRM ? " (it hung)" : "");
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child exited with %d",
              WEXITSTATUS(status));
}

static raftwal_entry entry(uint64_t index, uint64_t term, const char *data)
{
    raftwal_entry e = {index, term, 0, 0, data, strlen(data)};
    return e;
}

/* Checks entry `index` holds `data`. */
static void check_entry(raftwal_log *log, uint64_t index, const char *data)
{
    char buf[64];
    raftwal_entry e;
    CHECK_OK(raftwal_log_get(log, index, &e, buf, sizeof buf));
    CHECK_MSG(e.size == strlen(data) && memcmp(buf, data, e.size) == 0,
              "entry %" PRIu64 " is \"%.*s\", expected \"%s\"", index, (int)e.size, buf, data);
}

/* Issue 17 item 2: the parent opens, forks, closes; the child's open must
 * succeed. And the child's own lock must survive its closing the handle
 * it inherited. */
static void test_child_opens_after_parent_closes(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, 0), *other = NULL;
    raftwal_entry e = entry(1, 1, "parent");
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    int to_child[2], to_parent[2];
    pid_t pid;

    CHECK_OK(raftwal_log_append(log, &e, 1, NULL, 0));
    CHECK(pipe(to_child) == 0 && pipe(to_parent) == 0);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        raftwal_log *mine = NULL;
        alarm(CHILD_TIMEOUT_S);
        close(to_child[1]);
        close(to_parent[0]);
        /* The parent holds the log: refused, by the file lock. */
        CHECK_RC(raftwal_log_open(&mine, dir, &o), RAFTWAL_ELOCKED);
        CHECK_MSG(strstr(raftwal_errmsg(), "another process") != NULL,
                  "refused as if this process held the log");
        send_byte(to_parent[1], 'r');
        CHECK(recv_byte(to_child[0]) == 'c'); /* the parent closed */
        CHECK_OK(raftwal_log_open(&mine, dir, &o));
        /* Closing the inherited handle must not drop this process's new
         * lock (closing any descriptor of LOCK would). */
        CHECK_RC(raftwal_log_close(log), RAFTWAL_ECLOSED);
        send_byte(to_parent[1], 'h');
        CHECK(recv_byte(to_child[0]) == 'a'); /* the parent was refused */
        e = entry(2, 1, "child");
        CHECK_OK(raftwal_log_append(mine, &e, 1, NULL, 0));
        CHECK_OK(raftwal_log_close(mine));
        exit(0);
    }
    close(to_child[0]);
    close(to_parent[1]);
    CHECK(recv_byte(to_parent[0]) == 'r');
    CHECK_OK(raftwal_log_close(log));
    send_byte(to_child[1], 'c');
    CHECK(recv_byte(to_parent[0]) == 'h');
    CHECK_RC(raftwal_log_open(&other, dir, &o), RAFTWAL_ELOCKED);
    CHECK_MSG(strstr(raftwal_errmsg(), "another process") != NULL, "not refused by the child's lock");
    send_byte(to_child[1], 'a');
    reap(pid);
    close(to_child[1]);
    close(to_parent[0]);

    log = open_log(dir, 0, 0);
    check_entry(log, 1, "parent");
    check_entry(log, 2, "child");
    CHECK_OK(raftwal_log_close(log));
}

/* A digest of every file in dir: names, sizes and contents. */
static uint32_t dir_digest(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    uint32_t sum = 0;
    CHECK(d != NULL);
    while ((de = readdir(d)) != NULL) {
        char path[1024];
        struct stat st;
        unsigned char *buf;
        size_t size;
        tu_path(path, dir, de->d_name);
        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        buf = tu_read_file(path, &size);
        /* Order-independent: readdir's order may change with the files. */
        sum += tu_crc32c(0, de->d_name, strlen(de->d_name)) * 31u + tu_crc32c(0, buf, size) +
               (uint32_t)size;
        free(buf);
    }
    closedir(d);
    return sum;
}

/* In the child: every call on the inherited handle and iterator. */
static void child_uses_inherited(raftwal_log *log, raftwal_iter *it)
{
    raftwal_entry e = entry(3, 1, "child"), out;
    raftwal_hardstate hs = {2, 1, 3};
    raftwal_stats st;
    raftwal_segment_info si;
    raftwal_iter *it2 = NULL;
    uint64_t u = 0;
    size_t size = 0;
    char buf[64];

    CHECK_RC(raftwal_log_append(log, &e, 1, &hs, 0), RAFTWAL_ECLOSED);
    CHECK_MSG(strstr(raftwal_errmsg(), "fork()") != NULL, "the message does not say why");
    CHECK_RC(raftwal_log_append(log, &e, 1, NULL, RAFTWAL_NOSYNC), RAFTWAL_ECLOSED);
    CHECK_RC(raftwal_log_set_hardstate(log, &hs, 0), RAFTWAL_ECLOSED);
    CHECK_RC(raftwal_log_sync(log), RAFTWAL_ECLOSED);
    CHECK_RC(raftwal_log_wait_durable(log, 2), RAFTWAL_ECLOSED);
    CHECK_RC(raftwal_log_durable_index(log, &u), RAFTWAL_ECLOSED);
    CHECK_RC(raftwal_log_truncate(log, 2), RAFTWAL_ECLOSED);
    CHECK_RC(raftwal_log_purge(log, 1), RAFTWAL_ECLOSED);
    CHECK_RC(raftwal_log_save_snapshot(log, 1, 1, "s", 1), RAFTWAL_ECLOSED);
    CHECK_RC(raftwal_log_set_metadata(log, "m", 1), RAFTWAL_ECLOSED);
    CHECK_RC(raftwal_log_first_index(log, &u), RAFTWAL_ECLOSED);
    CHECK_RC(raftwal_log_last_index(log, &u), RAFTWAL_ECLOSED);
    CHECK_RC(raftwal_log_term(log, 1, &u), RAFTWAL_ECLOSED);
    CHECK_RC(raftwal_log_get(log, 1, &out, buf, sizeof buf), RAFTWAL_ECLOSED);
    CHECK_RC(raftwal_log_hardstate(log, &hs), RAFTWAL_ECLOSED);
    CHECK_RC(raftwal_log_snapshot(log, &u, &u, NULL, 0, &size), RAFTWAL_ECLOSED);
    CHECK_RC(raftwal_log_metadata(log, NULL, 0, &size), RAFTWAL_ECLOSED);
    CHECK_RC(raftwal_iter_open(&it2, log, 1, 2, RAFTWAL_NO_LIMIT), RAFTWAL_ECLOSED);
    CHECK(it2 == NULL);
    st.size = sizeof st;
    CHECK_RC(raftwal_log_stats(log, &st), RAFTWAL_ECLOSED);
    si.size = sizeof si;
    CHECK_RC(raftwal_log_segment_info(log, 0, &si), RAFTWAL_ECLOSED);
    CHECK_RC(raftwal_iter_next(it, &out), RAFTWAL_ECLOSED);
    raftwal_iter_close(it);
    CHECK_RC(raftwal_log_close(log), RAFTWAL_ECLOSED);
}

/* Issue 18 item 5: a handle inherited through fork() is harmless in the
 * child. Run with a durable and a no-sync handle (the latter has unsynced
 * bytes the child's close must not sync). */
static void inherited_handle_refused(unsigned int flags)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE | flags, 0);
    raftwal_entry e[2] = {entry(1, 1, "one"), entry(2, 1, "two")};
    raftwal_hardstate hs = {1, 1, 1};
    raftwal_iter *it = NULL;
    raftwal_entry out;
    uint32_t before;
    pid_t pid;

    CHECK_OK(raftwal_log_append(log, e, 2, &hs, 0));
    CHECK_OK(raftwal_iter_open(&it, log, 1, 3, RAFTWAL_NO_LIMIT));
    CHECK_RC(raftwal_iter_next(it, &out), 1);
    before = dir_digest(dir);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        alarm(CHILD_TIMEOUT_S);
        child_uses_inherited(log, it);
        exit(0); /* runs the exit handlers too */
    }
    reap(pid);
    CHECK_MSG(dir_digest(dir) == before, "the child changed the parent's files");

    /* The parent's handle and iterator work on. */
    CHECK_RC(raftwal_iter_next(it, &out), 1);
    CHECK_EQ_U64(out.index, 2);
    raftwal_iter_close(it);
    e[0] = entry(3, 2, "parent");
    CHECK_OK(raftwal_log_append(log, e, 1, NULL, 0));
    reopen_log(&log, dir, flags, 0);
    check_entry(log, 2, "two");
    check_entry(log, 3, "parent");
    CHECK_OK(raftwal_log_close(log));
}

static void test_inherited_handle_refused(void)
{
    inherited_handle_refused(0);
}

static void test_inherited_nosync_handle_refused(void)
{
    inherited_handle_refused(RAFTWAL_OPEN_NOSYNC);
}

/* The commonest case: a child that only closes what it inherited (a
 * finalizer at exit) and exits. It used to hang in the close, waiting for
 * the parent's preparer thread. */
static void test_child_closes_inherited_and_exits(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE | RAFTWAL_OPEN_NOSYNC, 0);
    raftwal_entry e = entry(1, 1, "one");
    uint32_t before;
    pid_t pid;

    CHECK_OK(raftwal_log_append(log, &e, 1, NULL, 0)); /* not synced */
    before = dir_digest(dir);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        alarm(CHILD_TIMEOUT_S);
        CHECK_RC(raftwal_log_close(log), RAFTWAL_ECLOSED);
        exit(0);
    }
    reap(pid);
    CHECK_MSG(dir_digest(dir) == before, "the child changed the parent's files");
    reopen_log(&log, dir, RAFTWAL_OPEN_NOSYNC, 0);
    check_entry(log, 1, "one");
    CHECK_OK(raftwal_log_close(log));
}

/* A read-only handle is refused in a child as well. */
static void test_inherited_readonly_handle_refused(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, 0), *ro;
    raftwal_entry e = entry(1, 1, "one");
    uint64_t last = 0;
    pid_t pid;

    CHECK_OK(raftwal_log_append(log, &e, 1, NULL, 0));
    ro = open_log(dir, RAFTWAL_OPEN_READONLY, 0);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        alarm(CHILD_TIMEOUT_S);
        CHECK_RC(raftwal_log_last_index(ro, &last), RAFTWAL_ECLOSED);
        CHECK_RC(raftwal_log_close(ro), RAFTWAL_ECLOSED);
        CHECK_RC(raftwal_log_close(log), RAFTWAL_ECLOSED);
        exit(0);
    }
    reap(pid);
    CHECK_OK(raftwal_log_last_index(ro, &last));
    CHECK_EQ_U64(last, 1);
    CHECK_OK(raftwal_log_close(ro));
    CHECK_OK(raftwal_log_close(log));
}

/* A grandchild is a process other than the child that opened the log. */
static void test_grandchild_of_opener_refused(void)
{
    const char *dir = tu_tmpdir();
    pid_t pid;

    CHECK_OK(raftwal_log_close(open_log(dir, RAFTWAL_OPEN_CREATE, 0)));
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        raftwal_log *log;
        uint64_t last = 0;
        pid_t grandchild;
        alarm(CHILD_TIMEOUT_S);
        log = open_log(dir, 0, 0);
        grandchild = fork();
        CHECK(grandchild >= 0);
        if (grandchild == 0) {
            CHECK_RC(raftwal_log_last_index(log, &last), RAFTWAL_ECLOSED);
            CHECK_RC(raftwal_log_close(log), RAFTWAL_ECLOSED);
            exit(0);
        }
        reap(grandchild);
        CHECK_OK(raftwal_log_last_index(log, &last));
        CHECK_OK(raftwal_log_close(log));
        exit(0);
    }
    reap(pid);
}

/* A child made by a raw fork system call, which runs no pthread_atfork
 * handler (a runtime's clone(), syscall(SYS_fork)), is refused too: the
 * library once trusted a pid its fork handler kept, and such a child
 * appended to the parent's log through the inherited handle. */
static void test_raw_fork_child_refused(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE | RAFTWAL_OPEN_NOSYNC, 0);
    raftwal_entry e = entry(1, 1, "one"), child_e = entry(2, 1, "child");
    uint64_t last = 0;
    uint32_t before;
    pid_t pid;

    CHECK_OK(raftwal_log_append(log, &e, 1, NULL, 0));
    CHECK_OK(raftwal_log_last_index(log, &last)); /* the pid is cached */
    before = dir_digest(dir);
    fflush(stdout);
    fflush(stderr);
    pid = (pid_t)syscall(SYS_fork);
    CHECK(pid >= 0);
    if (pid == 0) {
        alarm(CHILD_TIMEOUT_S);
        CHECK_RC(raftwal_log_append(log, &child_e, 1, NULL, 0), RAFTWAL_ECLOSED);
        CHECK_RC(raftwal_log_last_index(log, &last), RAFTWAL_ECLOSED);
        CHECK_RC(raftwal_log_close(log), RAFTWAL_ECLOSED);
        _exit(0);
    }
    reap(pid);
    CHECK_MSG(dir_digest(dir) == before, "the child changed the parent's files");
    CHECK_OK(raftwal_log_last_index(log, &last));
    CHECK_EQ_U64(last, 1);
    CHECK_OK(raftwal_log_close(log));
}

int main(int argc, char **argv)
{
    TU_RUN(argc, argv, test_child_opens_after_parent_closes);
    TU_RUN(argc, argv, test_inherited_handle_refused);
    TU_RUN(argc, argv, test_inherited_nosync_handle_refused);
    TU_RUN(argc, argv, test_child_closes_inherited_and_exits);
    TU_RUN(argc, argv, test_inherited_readonly_handle_refused);
    TU_RUN(argc, argv, test_grandchild_of_opener_refused);
    TU_RUN(argc, argv, test_raw_fork_child_refused);
    return 0;
}
