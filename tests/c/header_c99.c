/*
 * header_c99.c -- compiled (not run) by c_header_c99 with
 * -std=c99 -Wall -Wextra -pedantic -Werror: raftwal.h must stand alone
 * as strict C99, and the frozen struct layouts must be what the ABI says.
 * It includes nothing but raftwal.h (twice: the include guard works).
 */
#include "raftwal.h"
#include "raftwal.h"

/* C99 has no _Static_assert: a negative array size fails the build. */
#define ABI_ASSERT(name, cond) typedef char abi_assert_##name[(cond) ? 1 : -1]

ABI_ASSERT(version_number, RAFTWAL_VERSION_NUMBER ==
           RAFTWAL_VERSION_MAJOR * 10000 + RAFTWAL_VERSION_MINOR * 100 +
               RAFTWAL_VERSION_PATCH);
ABI_ASSERT(entry_index, offsetof(raftwal_entry, index) == 0);
ABI_ASSERT(entry_term, offsetof(raftwal_entry, term) == 8);
ABI_ASSERT(entry_type, offsetof(raftwal_entry, type) == 16);
ABI_ASSERT(entry_flags, offsetof(raftwal_entry, flags) == 20);
ABI_ASSERT(entry_data, offsetof(raftwal_entry, data) == 24);
ABI_ASSERT(entry_size, offsetof(raftwal_entry, size) == 24 + sizeof(void *));
ABI_ASSERT(hardstate, sizeof(raftwal_hardstate) == 24);
ABI_ASSERT(stats_size_first, offsetof(raftwal_stats, size) == 0);
ABI_ASSERT(segment_info_size_first, offsetof(raftwal_segment_info, size) == 0);
ABI_ASSERT(check_size_first, offsetof(raftwal_check, size) == 0);
ABI_ASSERT(options_version_first, offsetof(raftwal_options, version) == 0);
ABI_ASSERT(error_codes, RAFTWAL_ECLOSED == -16 && RAFTWAL_EINVAL == -1);

/* Uses every kind of declaration once, so a broken prototype shows. */
int header_c99_use(const char *dir);
int header_c99_use(const char *dir)
{
    raftwal_options opts = RAFTWAL_OPTIONS_INIT;
    raftwal_log *log = NULL;
    raftwal_entry e = {1, 1, 0, 0, "x", 1};
    raftwal_hardstate hs = {1, 0, 0};
    raftwal_stats st;
    raftwal_iter *it = NULL;
    int rc;

    opts.segment_size = RAFTWAL_MIN_SEGMENT_SIZE;
    rc = raftwal_log_open(&log, dir, &opts);
    if (rc != RAFTWAL_OK)
        return rc;
    rc = raftwal_log_append(log, &e, 1, &hs, RAFTWAL_NOSYNC);
    st.size = (uint32_t)sizeof st;
    if (rc == 0)
        rc = raftwal_log_stats(log, &st);
    if (rc == 0)
        rc = raftwal_iter_open(&it, log, 1, 2, RAFTWAL_NO_LIMIT);
    raftwal_iter_close(it);
    raftwal_log_close(log);
    return rc;
}
