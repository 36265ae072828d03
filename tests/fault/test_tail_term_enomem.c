/* test_tail_term_enomem.c -- fault_tail_term_enomem: the last entry's term
 * the engine remembers (log.h, tail_term) after a conflicting append that
 * ran out of memory part way through publishing its entries.
 *
 * The batch is on disk; the handle is failed, and "reads keep working"
 * (raftwal.h, Durability). publish_batch truncated the old tail, then its
 * entry index could not grow for one of the new entries: the handle's last
 * index stopped on the old tail's index, now holding the new entry. The
 * remembered term must not answer for it: raftwal_log_term() must agree
 * with the entry raftwal_log_get() reads.
 *
 * The allocation fails through the linker (--wrap=realloc, this test
 * only): the next realloc to RW_FAIL_SIZE bytes, the segment's entry index
 * growing from 256 to 512 offsets (segment.c, rw_seg_push_offset). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fault_util.h"
#include "log.h" /* rw_prepare_in_background */
#include "raftwal.h"

#define RW_FAIL_SIZE (512u * sizeof(uint32_t))

void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);

static int fail_next_index_growth;
static int index_growth_failed;

void *__wrap_realloc(void *p, size_t n)
{
    if (fail_next_index_growth && n == RW_FAIL_SIZE) {
        fail_next_index_growth = 0;
        index_growth_failed = 1;
        return NULL;
    }
    return __real_realloc(p, n);
}

static void append_range(raftwal_log *log, uint64_t from, uint64_t n, uint64_t term, int want)
{
    raftwal_entry *e = calloc(n, sizeof *e);
    uint8_t data[16];
    memset(data, 0x5a, sizeof data);
    for (uint64_t i = 0; i < n; i++)
        e[i] = (raftwal_entry){.index = from + i, .term = term, .data = data, .size = sizeof data};
    int rc = raftwal_log_append(log, e, n, NULL, 0);
    FU_CHECK(rc == want, "append %" PRIu64 "..%" PRIu64 " returned %d, want %d (%s)", from,
             from + n - 1, rc, want, raftwal_errmsg());
    free(e);
}

static void check_term(raftwal_log *log, uint64_t index, uint64_t want)
{
    uint64_t term = 0;
    uint8_t buf[64];
    raftwal_entry got;
    FU_RC(raftwal_log_get(log, index, &got, buf, sizeof buf), RAFTWAL_OK);
    FU_CHECK(got.term == want, "entry %" PRIu64 " read back with term %" PRIu64 ", want %" PRIu64,
             index, got.term, want);
    FU_RC(raftwal_log_term(log, index, &term), RAFTWAL_OK);
    FU_CHECK(term == want, "raftwal_log_term(%" PRIu64 ") = %" PRIu64 " but the entry there has "
             "term %" PRIu64, index, term, want);
}

int main(void)
{
    rw_prepare_in_background = 0;
    const char *dir = fu_tmpdir("tailterm");
    raftwal_options o;
    raftwal_log *log;
    raftwal_options_init(&o, RAFTWAL_OPTIONS_VERSION);
    o.segment_size = 1u << 20;
    FU_RC(raftwal_log_open(&log, dir, &o), RAFTWAL_OK);

    append_range(log, 1, 256, 1, RAFTWAL_OK); /* the index holds 256 offsets, full */
    check_term(log, 256, 1);

    /* 250..260 in term 2 replace 250..256; pushing 257 needs the index to
     * grow, and it cannot: the handle stops at 256, now term 2's entry. */
    fail_next_index_growth = 1;
    append_range(log, 250, 11, 2, RAFTWAL_ENOMEM);
    FU_CHECK(index_growth_failed, "the entry index never grew: the test missed its failure");
    uint64_t last = 0;
    FU_RC(raftwal_log_last_index(log, &last), RAFTWAL_OK);
    FU_CHECK(last == 256, "last index %" PRIu64 " after the failed publish, want 256", last);
    check_term(log, 256, 2);
    check_term(log, 249, 1);
    append_range(log, 257, 1, 2, RAFTWAL_EIO); /* the batch was written: the handle is failed */
    FU_RC(raftwal_log_close(log), RAFTWAL_OK);

    /* The disk has the whole batch. */
    FU_RC(raftwal_log_open(&log, dir, &o), RAFTWAL_OK);
    check_term(log, 260, 2);
    check_term(log, 256, 2);
    FU_RC(raftwal_log_close(log), RAFTWAL_OK);
    fu_rm_rf(dir);
    return 0;
}
