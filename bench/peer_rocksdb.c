/* peer_rocksdb.c -- RocksDB as a Raft log: one WriteBatch per batch written
 * with sync=true (the WAL is fsynced before the write returns), keys the
 * big-endian index, values the data; default options otherwise. */
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

typedef struct rk_state {
    rocksdb_t *db;
    rocksdb_options_t *opts;
    rocksdb_writeoptions_t *wo;
    rocksdb_readoptions_t *ro;
    rocksdb_writebatch_t *wb;
} rk_state;

static void put_be64(char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (char)(uint8_t)v;
}

static void rk_close(void *st)
{
    rk_state *s = st;
    if (s->db)
        rocksdb_close(s->db);
    if (s->wb)
        rocksdb_writebatch_destroy(s->wb);
    if (s->ro)
        rocksdb_readoptions_destroy(s->ro);
    if (s->wo)
        rocksdb_writeoptions_destroy(s->wo);
    if (s->opts)
        rocksdb_options_destroy(s->opts);
    free(s);
}

static void *rk_open(const char *dir, int mode, uint64_t capacity, char *err, size_t errlen)
{
    (void)capacity;
    rk_state *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/rocksdb", dir);
    s->opts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(s->opts, 1);
    s->wo = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(s->wo, mode != BENCH_NOSYNC);
    s->ro = rocksdb_readoptions_create();
    s->wb = rocksdb_writebatch_create();
    char *e = NULL;
    s->db = rocksdb_open(s->opts, path, &e);
    if (!s->db) {
        snprintf(err, errlen, "%s: %s", path, e ? e : "?");
        rocksdb_free(e);
        rk_close(s);
        return NULL;
    }
    return s;
}

static int rk_append(void *st, const bench_batch *b, char *err, size_t errlen)
{
    rk_state *s = st;
    rocksdb_writebatch_clear(s->wb);
    for (size_t i = 0; i < b->n; i++) {
        char k[8];
        put_be64(k, b->e[i].index);
        rocksdb_writebatch_put(s->wb, k, sizeof k, b->e[i].data, b->e[i].size);
    }
    char *e = NULL;
    rocksdb_write(s->db, s->wo, s->wb, &e);
    if (e) {
        snprintf(err, errlen, "%s", e);
        rocksdb_free(e);
        return -1;
    }
    return 0;
}

static int rk_last(void *st, uint64_t *last, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    rk_state *s = st;
    rocksdb_iterator_t *it = rocksdb_create_iterator(s->db, s->ro);
    rocksdb_iter_seek_to_last(it);
    *last = 0;
    if (rocksdb_iter_valid(it)) {
        size_t n;
        const char *k = rocksdb_iter_key(it, &n);
        for (size_t i = 0; i < n && i < 8; i++)
            *last = *last << 8 | (uint8_t)k[i];
    }
    rocksdb_iter_destroy(it);
    return 0;
}

const contender bench_rocksdb = {"rocksdb", rk_open, rk_append, rk_last, rk_close, NULL};
