/* fault_util.h -- small helpers shared by the fault tests: assertions,
 * scratch directories (on tmpfs when there is one: these tests write many
 * small states and never need real durability), environment knobs. */
#ifndef RAFTWAL_FAULT_UTIL_H
#define RAFTWAL_FAULT_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "raftwal.h"

#define FU_CHECK(cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fu_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                                       \
    } while (0)

/* Checks that a raftwal call returned `want`. */
#define FU_RC(call, want)                                                                          \
    do {                                                                                           \
        int fu_rc_ = (call);                                                                       \
        if (fu_rc_ != (want))                                                                      \
            fu_fail(__FILE__, __LINE__, #call, "returned %d (%s), expected %d (%s); errmsg: %s",   \
                    fu_rc_, raftwal_strerror(fu_rc_), (int)(want), raftwal_strerror(want),         \
                    raftwal_errmsg());                                                             \
    } while (0)

void fu_fail(const char *file, int line, const char *expr, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));

/* A fresh scratch directory (removed at exit unless RAFTWAL_TEST_KEEP=1);
 * returns its path (static storage per call). */
const char *fu_tmpdir(const char *tag);
/* Removes everything inside path (recursively), keeping path itself. */
void fu_empty_dir(const char *path);
/* Removes path and everything in it. */
void fu_rm_rf(const char *path);
/* An unsigned number from the environment, or def. */
uint64_t fu_env_u64(const char *name, uint64_t def);
/* Seconds since an arbitrary start, for timings. */
double fu_now(void);

/* Whole-file helpers for damage tests. */
uint8_t *fu_read_file(const char *path, size_t *len);
void fu_write_file(const char *path, const void *data, size_t len);
/* Path of the i-th (0-based) segment file of the log in dir, sorted. */
int fu_segment_path(const char *dir, size_t i, char *out, size_t cap);
size_t fu_count_segments(const char *dir);

#endif
