/*
 * test_lock.c -- c_lock: one writer per log directory in the whole system.
 *   - a second open in the same process gets ELOCKED (also through another
 *     path spelling of the same directory), read-only opens still work;
 *   - a forked child that tries to open the parent's log gets ELOCKED;
 *   - a child forked while the parent holds the log does not keep it
 *     locked: the parent closes and reopens while the child still lives;
 *   - repair refuses a locked log.
 * Children report through their exit status; the parent never sleeps to
 * synchronize, it waits on pipes and waitpid().
 */
#include "model.h"
#include "test_util.h"

#include <signal.h>
#include <sys/wait.h>

static void test_second_open_in_process(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, 0), *other = NULL, *ro;
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    char alias[1024];

    CHECK_RC(raftwal_log_open(&other, dir, &o), RAFTWAL_ELOCKED);
    CHECK(other == NULL);
    CHECK(*raftwal_errmsg() != '\0');
    /* The same directory under another spelling. */
    snprintf(alias, sizeof alias, "%s/./", dir);
    CHECK_RC(raftwal_log_open(&other, alias, &o), RAFTWAL_ELOCKED);
    o.flags = 0;
    CHECK_RC(raftwal_log_open(&other, dir, &o), RAFTWAL_ELOCKED);
    o.flags = RAFTWAL_OPEN_NOSYNC;
    CHECK_RC(raftwal_log_open(&other, dir, &o), RAFTWAL_ELOCKED);
    CHECK_RC(raftwal_repair(dir, NULL), RAFTWAL_ELOCKED);

    /* Read-only opens take no lock. */
    ro = open_log(dir, RAFTWAL_OPEN_READONLY, 0);
    CHECK_OK(raftwal_log_close(ro));

    /* After close, the lock is free again; and the failed attempts above
     * did not disturb the holder's lock (checked by the child test). */
    CHECK_OK(raftwal_log_close(log));
    log = open_log(dir, 0, 0);
    CHECK_OK(raftwal_log_close(log));
}

/* The body of a child process: opens dir for writing, closes it, and
 * exits with the result code negated (0 on success). */
static void child_open_and_exit(const char *dir)
{
    raftwal_log *log = NULL;
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    int rc = raftwal_log_open(&log, dir, &o);
    if (rc == 0)
        raftwal_log_close(log);
    _exit(-rc);
}

static const char *self_exe = "/proc/self/exe";

/* Runs child_open_and_exit(dir) in another process and returns its code.
 * A forked child inherits a copy of this process's memory, including the
 * library's table of open logs; an exec'd one starts fresh, so only the
 * file lock can refuse it. Both must be refused while we hold the log. */
static int child_open_result_mode(const char *dir, int fresh)
{
    int status = 0;
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (fresh) {
            execl(self_exe, self_exe, "--open-child", dir, (char *)NULL);
            _exit(100);
        }
        child_open_and_exit(dir);
    }
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK_MSG(WEXITSTATUS(status) != 100, "exec of the child failed");
    return -WEXITSTATUS(status);
}

/* Both kinds of child must agree; returns their common answer. */
static int child_open_result(const char *dir)
{
    int forked = child_open_result_mode(dir, 0);
    int fresh = child_open_result_mode(dir, 1);
    CHECK_MSG(forked == fresh, "forked child got %d, exec'd child got %d", forked,
              fresh);
    return fresh;
}

static void test_child_process_gets_elocked(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, 0), *other = NULL;
    raftwal_options o = RAFTWAL_OPTIONS_INIT;

    CHECK_RC(child_open_result(dir), RAFTWAL_ELOCKED);
    /* Our own failed second open must not have released the lock. */
    CHECK_RC(raftwal_log_open(&other, dir, &o), RAFTWAL_ELOCKED);
    CHECK_RC(child_open_result(dir), RAFTWAL_ELOCKED);
    CHECK_OK(raftwal_log_close(log));
    CHECK_RC(child_open_result(dir), 0);
}

static void test_forked_child_does_not_keep_lock(void)
{
    const char *dir = tu_tmpdir();
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, 0);
    raftwal_entry e = {1, 1, 0, 0, "abc", 3};
    int to_child[2], status;
    pid_t pid;

    CHECK_OK(raftwal_log_append(log, &e, 1, NULL, 0));
    CHECK(pipe(to_child) == 0);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        /* The child holds whatever it inherited and blocks until told. */
        char c;
        close(to_child[1]);
        while (read(to_child[0], &c, 1) < 0 && errno == EINTR)
            ;
        _exit(0);
    }
    close(to_child[0]);

    /* The parent closes: the child must not hold the log for it. */
    CHECK_OK(raftwal_log_close(log));
    log = open_log(dir, 0, 0);
    {
        uint64_t last = 0;
        CHECK_OK(raftwal_log_last_index(log, &last));
        CHECK_EQ_U64(last, 1);
    }
    /* While the child lives, another process is still refused. */
    CHECK_RC(child_open_result(dir), RAFTWAL_ELOCKED);
    CHECK(kill(pid, 0) == 0); /* the child is still alive */
    CHECK_OK(raftwal_log_close(log));

    CHECK(write(to_child[1], "x", 1) == 1);
    close(to_child[1]);
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_lock_released_when_holder_dies(void)
{
    const char *dir = tu_tmpdir();
    int ready[2], status;
    raftwal_log *log;
    pid_t pid;
    char c;

    log = open_log(dir, RAFTWAL_OPEN_CREATE, 0);
    CHECK_OK(raftwal_log_close(log));
    CHECK(pipe(ready) == 0);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        raftwal_log *l = NULL;
        raftwal_options o = RAFTWAL_OPTIONS_INIT;
        close(ready[0]);
        if (raftwal_log_open(&l, dir, &o) != 0)
            _exit(1);
        if (write(ready[1], "r", 1) != 1)
            _exit(2);
        for (;;)
            pause(); /* killed by the parent, never closes */
    }
    close(ready[1]);
    CHECK(read(ready[0], &c, 1) == 1);
    close(ready[0]);
    CHECK_RC(child_open_result(dir), RAFTWAL_ELOCKED);
    {
        raftwal_log *other = NULL;
        raftwal_options o = RAFTWAL_OPTIONS_INIT;
        CHECK_RC(raftwal_log_open(&other, dir, &o), RAFTWAL_ELOCKED);
    }
    CHECK(kill(pid, SIGKILL) == 0);
    CHECK(waitpid(pid, &status, 0) == pid);
    log = open_log(dir, 0, 0);
    CHECK_OK(raftwal_log_close(log));
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--open-child") == 0)
        child_open_and_exit(argv[2]);
    TU_RUN(argc, argv, test_second_open_in_process);
    TU_RUN(argc, argv, test_child_process_gets_elocked);
    TU_RUN(argc, argv, test_forked_child_does_not_keep_lock);
    TU_RUN(argc, argv, test_lock_released_when_holder_dies);
    return 0;
}
