/* peer_lmdb.c -- LMDB as a Raft log: one write transaction per batch with
 * LMDB's default durability (the commit syncs the data and meta pages),
 * keys the big-endian index (appended with MDB_APPEND), values the data. */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

typedef struct lm_state {
    MDB_env *env;
    MDB_dbi dbi;
} lm_state;

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void lm_close(void *st)
{
    lm_state *s = st;
    if (s->env)
        mdb_env_close(s->env);
    free(s);
}

static void *lm_open(const char *dir, int mode, uint64_t capacity, char *err, size_t errlen)
{
    lm_state *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    /* Room for the data plus B-tree pages; LMDB never grows the map itself. */
    size_t map = (size_t)(capacity * 2 + (512u << 20));
    if (map < ((size_t)4 << 30))
        map = (size_t)4 << 30;
    MDB_txn *txn = NULL;
    int rc = mdb_env_create(&s->env);
    if (rc == 0)
        rc = mdb_env_set_mapsize(s->env, map);
    if (rc == 0)
        rc = mdb_env_open(s->env, dir, mode == BENCH_NOSYNC ? MDB_NOSYNC : 0, 0644);
    if (rc == 0)
        rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc == 0)
        rc = mdb_dbi_open(txn, NULL, 0, &s->dbi);
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else if (txn)
        mdb_txn_abort(txn);
    if (rc) {
        snprintf(err, errlen, "%s: %s", dir, mdb_strerror(rc));
        lm_close(s);
        return NULL;
    }
    return s;
}

static int lm_append(void *st, const bench_batch *b, char *err, size_t errlen)
{
    lm_state *s = st;
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    for (size_t i = 0; rc == 0 && i < b->n; i++) {
        uint8_t k[8];
        put_be64(k, b->e[i].index);
        MDB_val key = {sizeof k, k}, val = {b->e[i].size, NULL};
        memcpy(&val.mv_data, &b->e[i].data, sizeof val.mv_data); /* LMDB's API is not const */
        rc = mdb_put(txn, s->dbi, &key, &val, MDB_APPEND);
    }
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    if (rc)
        snprintf(err, errlen, "%s", mdb_strerror(rc));
    return rc ? -1 : 0;
}

static int lm_last(void *st, uint64_t *last, char *err, size_t errlen)
{
    lm_state *s = st;
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val key, val;
    *last = 0;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc == 0) {
        rc = mdb_cursor_open(txn, s->dbi, &cur);
        if (rc == 0) {
            rc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
            if (rc == 0 && key.mv_size == 8)
                for (int i = 0; i < 8; i++)
                    *last = *last << 8 | ((uint8_t *)key.mv_data)[i];
            mdb_cursor_close(cur);
        }
        mdb_txn_abort(txn);
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (rc)
        snprintf(err, errlen, "%s", mdb_strerror(rc));
    return rc ? -1 : 0;
}

const contender bench_lmdb = {"lmdb", lm_open, lm_append, lm_last, lm_close, NULL};
