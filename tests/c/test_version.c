/*
 * test_version.c -- c_version: the run-time version matches the header's
 * macros, every error code has its own string, and raftwal_options_init()
 * gives the documented defaults.
 */
#include "test_util.h"

static void test_version_matches_macros(void)
{
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", RAFTWAL_VERSION_MAJOR,
             RAFTWAL_VERSION_MINOR, RAFTWAL_VERSION_PATCH);
    CHECK(raftwal_version() != NULL);
    CHECK_MSG(strcmp(raftwal_version(), RAFTWAL_VERSION_STRING) == 0,
              "raftwal_version() = \"%s\"", raftwal_version());
    CHECK(strcmp(RAFTWAL_VERSION_STRING, want) == 0);
    CHECK_EQ_U64(raftwal_version_number(), RAFTWAL_VERSION_NUMBER);
    CHECK_EQ_U64(raftwal_version_number(), RAFTWAL_VERSION_MAJOR * 10000 +
                                                RAFTWAL_VERSION_MINOR * 100 +
                                                RAFTWAL_VERSION_PATCH);
}

static void test_strerror_distinct(void)
{
    const int first = RAFTWAL_OK, last = RAFTWAL_EKEY;
    const char *seen[32];
    int code, i, n = 0;
    for (code = first; code >= last; code--) {
        const char *s = raftwal_strerror(code);
        CHECK_MSG(s != NULL && *s, "strerror(%d) is empty", code);
        CHECK_MSG(strcmp(s, "unknown error") != 0, "strerror(%d) is unknown", code);
        for (i = 0; i < n; i++)
            CHECK_MSG(strcmp(s, seen[i]) != 0,
                      "strerror(%d) = \"%s\" is also the string of code %d", code,
                      s, -i);
        seen[n++] = s;
    }
    CHECK_EQ_U64(n, 18);
    {
        const int unknown[] = {1, 2, 100, last - 1, -100, -1000000, 2147483647,
                               -2147483647 - 1};
        for (i = 0; i < (int)(sizeof unknown / sizeof unknown[0]); i++)
            CHECK_MSG(strcmp(raftwal_strerror(unknown[i]), "unknown error") == 0,
                      "strerror(%d) = \"%s\"", unknown[i],
                      raftwal_strerror(unknown[i]));
    }
}

static void test_errmsg_before_any_failure(void)
{
    /* The first call on this thread: nothing failed yet. */
    CHECK(raftwal_errmsg() != NULL);
    CHECK_MSG(strcmp(raftwal_errmsg(), "") == 0, "errmsg = \"%s\"", raftwal_errmsg());
}

static void test_options_init(void)
{
    raftwal_options o, macro = RAFTWAL_OPTIONS_INIT;
    memset(&o, 0x5a, sizeof o);
    CHECK_OK(raftwal_options_init(&o, RAFTWAL_OPTIONS_VERSION));
    CHECK_EQ_U64(o.version, RAFTWAL_OPTIONS_VERSION);
    CHECK_EQ_U64(o.flags, macro.flags);
    CHECK_EQ_U64(o.flags, RAFTWAL_OPEN_CREATE);
    CHECK_EQ_U64(o.segment_size, 0);
    CHECK(o.metadata == NULL);
    CHECK_EQ_U64(o.metadata_size, 0);
    CHECK_EQ_U64(o.file_mode, 0);
    CHECK_RC(raftwal_options_init(NULL, RAFTWAL_OPTIONS_VERSION), RAFTWAL_EINVAL);
    CHECK(*raftwal_errmsg() != '\0');
    CHECK_RC(raftwal_options_init(&o, 0), RAFTWAL_EINVAL);
    CHECK_RC(raftwal_options_init(&o, RAFTWAL_OPTIONS_VERSION + 1), RAFTWAL_EINVAL);
}

int main(int argc, char **argv)
{
    TU_RUN(argc, argv, test_errmsg_before_any_failure);
    TU_RUN(argc, argv, test_version_matches_macros);
    TU_RUN(argc, argv, test_strerror_distinct);
    TU_RUN(argc, argv, test_options_init);
    return 0;
}
