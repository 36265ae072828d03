/*
 * unit_rules.c -- c_unit_rules: the one rule on entry terms (src/rules.c)
 * that the writer, recovery and the full check share: which predecessor
 * bounds an entry's term, and a scanner's replay of a segment's records
 * (rw_terms) that accepts the legal term drop after a snapshot install and
 * still refuses a real one (after a truncation, too).
 */
#include "rules.h"
#include "test_util.h"

static void test_pred(void)
{
    /* Live entries [10, 20], snapshot at 9. */
    CHECK(rw_rule_pred(15, 10, 20, 9) == RW_PRED_ENTRY);
    CHECK(rw_rule_pred(21, 10, 20, 9) == RW_PRED_ENTRY);
    CHECK(rw_rule_pred(11, 10, 20, 9) == RW_PRED_ENTRY);
    CHECK(rw_rule_pred(10, 10, 20, 9) == RW_PRED_SNAPSHOT);
    /* Empty log after a purge past the end to 200. */
    CHECK(rw_rule_pred(201, 201, 200, 200) == RW_PRED_SNAPSHOT);
    CHECK(rw_rule_pred(201, 201, 200, 150) == RW_PRED_NONE);
    CHECK(rw_rule_pred(1, 1, 0, 0) == RW_PRED_NONE);
    CHECK(rw_rule_pred(0, 1, 0, 0) == RW_PRED_NONE);
    /* A checker of the final state: the first live entry may be older
     * than a snapshot at first-1, so only later entries are bound. */
    CHECK(rw_rule_pred_live(11, 10) == RW_PRED_ENTRY);
    CHECK(rw_rule_pred_live(10, 10) == RW_PRED_NONE);
}

static void test_replay(void)
{
    rw_terms t;
    uint64_t i;
    memset(&t, 0, sizeof t);
    /* Checkpoint: nothing purged, last 0. Entries 1..99 term 3, 100 term 5. */
    rw_terms_start(&t, 0, 0, 0, 0, 0);
    for (i = 1; i < 100; i++)
        CHECK(rw_terms_entry(&t, i, 3) == 0);
    CHECK(rw_terms_entry(&t, 100, 5) == 0);
    /* A real term drop. */
    CHECK(rw_terms_entry(&t, 101, 4) == 1);
    /* Truncate 100 away: entry 100 again may have term 3 (its predecessor
     * is entry 99, term 3), not 2. */
    rw_terms_truncate(&t, 100);
    CHECK(rw_terms_entry(&t, 100, 2) == 1);
    CHECK(rw_terms_entry(&t, 100, 3) == 0);
    CHECK(rw_terms_entry(&t, 101, 5) == 0);
    /* The history: snapshot (200, 4), purge 200, entries 201.. at
     * term 4; but not at term 3. */
    rw_terms_snapshot(&t, 200, 4);
    rw_terms_purge(&t, 200);
    CHECK(rw_terms_entry(&t, 201, 3) == 1);
    CHECK(rw_terms_entry(&t, 201, 4) == 0);
    CHECK(rw_terms_entry(&t, 202, 4) == 0);
    CHECK(rw_terms_entry(&t, 203, 3) == 1);
    /* A purge past the end with no snapshot there: no bound at all. */
    rw_terms_purge(&t, 300);
    CHECK(rw_terms_entry(&t, 301, 1) == 0);
    CHECK(rw_terms_entry(&t, 302, 0) == 1);
    rw_terms_free(&t);

    /* From a checkpoint whose last entry (50) has term 7: 51 may not go
     * lower; after a truncation into the older segment (from 40), entry
     * 40's predecessor is unknown to the scan: no bound. */
    rw_terms_start(&t, 10, 50, 7, 10, 2);
    CHECK(rw_terms_entry(&t, 51, 6) == 1);
    CHECK(rw_terms_entry(&t, 51, 7) == 0);
    rw_terms_truncate(&t, 40);
    CHECK(rw_terms_entry(&t, 40, 1) == 0);
    /* Truncated to the first live entry: the snapshot at 10 binds 11. */
    rw_terms_truncate(&t, 11);
    CHECK(rw_terms_entry(&t, 11, 1) == 1);
    CHECK(rw_terms_entry(&t, 11, 2) == 0);
    rw_terms_free(&t);
}

int main(int argc, char **argv)
{
    TU_RUN(argc, argv, test_pred);
    TU_RUN(argc, argv, test_replay);
    return 0;
}
