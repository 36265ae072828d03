/*
 * header_cxx.cpp -- compiled (not run) by c_header_cxx with
 * -std=c++11 -Wall -Wextra -pedantic -Werror: raftwal.h must be usable
 * from C++ (extern "C", no C-only constructs) and stand alone.
 */
#include "raftwal.h"
#include "raftwal.h"

static_assert(RAFTWAL_VERSION_NUMBER == RAFTWAL_VERSION_MAJOR * 10000 +
                  RAFTWAL_VERSION_MINOR * 100 + RAFTWAL_VERSION_PATCH,
              "version number");
static_assert(sizeof(raftwal_hardstate) == 24, "hard state layout");
static_assert(offsetof(raftwal_entry, data) == 24, "entry layout");

/* Taking the address of each function checks C linkage and the prototype. */
extern "C" {
typedef int (*open_fn)(raftwal_log **, const char *, const raftwal_options *);
}

int header_cxx_use(const char *dir);
int header_cxx_use(const char *dir)
{
    raftwal_options opts = RAFTWAL_OPTIONS_INIT;
    raftwal_log *log = nullptr;
    open_fn opener = &raftwal_log_open;
    int rc = opener(&log, dir, &opts);
    if (rc != RAFTWAL_OK)
        return rc;
    raftwal_entry e = {1, 1, 0, 0, "x", 1};
    rc = raftwal_log_append(log, &e, 1, nullptr, RAFTWAL_NOSYNC);
    raftwal_log_close(log);
    return rc == RAFTWAL_OK ? static_cast<int>(RAFTWAL_OK) : rc;
}
