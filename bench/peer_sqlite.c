/* peer_sqlite.c -- SQLite as a Raft log: WAL journal mode with
 * synchronous=FULL (a commit fsyncs the WAL), one transaction per batch,
 * one row per entry (index as the INTEGER PRIMARY KEY, term, data). The
 * automatic checkpoint stays at its default, as in an application. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

typedef struct sq_state {
    sqlite3 *db;
    sqlite3_stmt *ins;
} sq_state;

static int sq_fail(sq_state *s, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: %s", what, s->db ? sqlite3_errmsg(s->db) : "no handle");
    return -1;
}

static void sq_close(void *st)
{
    sq_state *s = st;
    sqlite3_finalize(s->ins);
    sqlite3_close(s->db);
    free(s);
}

static void *sq_open(const char *dir, int mode, uint64_t capacity, char *err, size_t errlen)
{
    (void)capacity;
    sq_state *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/log.sqlite", dir);
    const char *setup = mode != BENCH_NOSYNC
        ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
          "CREATE TABLE IF NOT EXISTS log(idx INTEGER PRIMARY KEY, term INTEGER, data BLOB);"
        : "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;"
          "CREATE TABLE IF NOT EXISTS log(idx INTEGER PRIMARY KEY, term INTEGER, data BLOB);";
    if (sqlite3_open(path, &s->db) != SQLITE_OK ||
        sqlite3_exec(s->db, setup, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "INSERT INTO log VALUES (?1, ?2, ?3)", -1, &s->ins, NULL) != SQLITE_OK) {
        sq_fail(s, path, err, errlen);
        sq_close(s);
        return NULL;
    }
    return s;
}

static int sq_append(void *st, const bench_batch *b, char *err, size_t errlen)
{
    sq_state *s = st;
    if (sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return sq_fail(s, "BEGIN", err, errlen);
    for (size_t i = 0; i < b->n; i++) {
        const raftwal_entry *e = &b->e[i];
        sqlite3_bind_int64(s->ins, 1, (sqlite3_int64)e->index);
        sqlite3_bind_int64(s->ins, 2, (sqlite3_int64)e->term);
        sqlite3_bind_blob(s->ins, 3, e->data, (int)e->size, SQLITE_STATIC);
        int rc = sqlite3_step(s->ins);
        sqlite3_reset(s->ins);
        if (rc != SQLITE_DONE) {
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return sq_fail(s, "INSERT", err, errlen);
        }
    }
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        return sq_fail(s, "COMMIT", err, errlen);
    return 0;
}

static int sq_last(void *st, uint64_t *last, char *err, size_t errlen)
{
    sq_state *s = st;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db, "SELECT max(idx) FROM log", -1, &q, NULL) != SQLITE_OK)
        return sq_fail(s, "SELECT", err, errlen);
    int rc = sqlite3_step(q);
    *last = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(q, 0) : 0;
    sqlite3_finalize(q);
    return rc == SQLITE_ROW ? 0 : sq_fail(s, "SELECT", err, errlen);
}

const contender bench_sqlite = {"sqlite", sq_open, sq_append, sq_last, sq_close, NULL};
