/* peers.c -- the peers built into this harness (bench/CMakeLists.txt
 * defines BENCH_HAVE_<PEER> for each library it found). */
#include <stddef.h>

#include "bench.h"

#ifdef BENCH_HAVE_SQLITE
extern const contender bench_sqlite;
#endif
#ifdef BENCH_HAVE_LMDB
extern const contender bench_lmdb;
#endif
#ifdef BENCH_HAVE_ROCKSDB
extern const contender bench_rocksdb;
#endif

const contender *const bench_peers[] = {
#ifdef BENCH_HAVE_SQLITE
    &bench_sqlite,
#endif
#ifdef BENCH_HAVE_LMDB
    &bench_lmdb,
#endif
#ifdef BENCH_HAVE_ROCKSDB
    &bench_rocksdb,
#endif
    NULL,
};
const size_t bench_npeers = sizeof bench_peers / sizeof bench_peers[0] - 1;
