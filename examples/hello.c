/* hello.c -- append a batch durably, read it back. Build:
 *   cc hello.c $(pkg-config --cflags --libs raftwal) -o hello */
#include <raftwal.h>
#include <stdio.h>

int main(void)
{
    raftwal_log *log;
    int rc = raftwal_log_open(&log, "hello-log", NULL); /* NULL: defaults, create */
    if (rc) {
        fprintf(stderr, "open: %s: %s\n", raftwal_strerror(rc), raftwal_errmsg());
        return 1;
    }
    uint64_t last;
    raftwal_log_last_index(log, &last);

    raftwal_entry batch[2] = {
        {.index = last + 1, .term = 1, .data = "hello", .size = 5},
        {.index = last + 2, .term = 1, .data = "world", .size = 5},
    };
    raftwal_hardstate hs = {.term = 1, .vote = 1, .commit = last + 2};
    rc = raftwal_log_append(log, batch, 2, &hs, 0); /* durable on return */
    if (rc) {
        fprintf(stderr, "append: %s: %s\n", raftwal_strerror(rc), raftwal_errmsg());
        raftwal_log_close(log);
        return 1;
    }

    raftwal_iter *it;
    raftwal_entry e;
    raftwal_iter_open(&it, log, last + 1, last + 3, RAFTWAL_NO_LIMIT);
    while (raftwal_iter_next(it, &e) > 0) /* e.data is a zero-copy view */
        printf("%llu (term %llu): %.*s\n", (unsigned long long)e.index,
               (unsigned long long)e.term, (int)e.size, (const char *)e.data);
    raftwal_iter_close(it);
    return raftwal_log_close(log) ? 1 : 0;
}
