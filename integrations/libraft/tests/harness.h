/* harness.h -- drives one raft_io by hand (no raft core) for the tests:
 * libraft's own uv io or raftwal's, on a libuv loop, with the TCP transport
 * never started. Header-only; each test includes it once. */
#ifndef RR_HARNESS_H
#define RR_HARNESS_H

#include <raftwal_raft.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <uv.h>

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

#define CHECK_RV(io, expr)                                                          \
    do {                                                                            \
        int rv_ = (expr);                                                           \
        if (rv_ != 0) {                                                             \
            fprintf(stderr, "%s:%d: %s = %d (%s): %s\n", __FILE__, __LINE__, #expr, \
                    rv_, raft_strerror(rv_), (io)->errmsg);                         \
            exit(1);                                                                \
        }                                                                           \
    } while (0)

enum { KIND_UV, KIND_RAFTWAL };

struct node {
    int kind;
    char dir[512];
    uv_loop_t *loop;
    struct raft_uv_transport transport;
    struct raft_io io;
    int closed;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void guard_cb(uv_timer_t *t)
{
    (void)t;
}

/* Runs the loop until *flag is nonzero, failing the test after `secs`. A
 * 5 ms timer keeps the loop from blocking forever; it is a deadline check,
 * not a synchronization. */
static void run_until(uv_loop_t *loop, const int *flag, double secs)
{
    uv_timer_t guard;
    uv_timer_init(loop, &guard);
    uv_timer_start(&guard, guard_cb, 5, 5);
    double end = now_s() + secs;
    while (!*flag) {
        if (now_s() > end) {
            fprintf(stderr, "run_until: timed out after %.0f s\n", secs);
            exit(1);
        }
        uv_run(loop, UV_RUN_ONCE);
    }
    uv_timer_stop(&guard);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

static void node_open(struct node *n, uv_loop_t *loop, int kind, const char *dir)
{
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->loop = loop;
    snprintf(n->dir, sizeof n->dir, "%s", dir);
    mkdir(dir, 0755); /* libraft's storage wants it to exist */
    CHECK(raft_uv_tcp_init(&n->transport, loop) == 0);
    int rv = kind == KIND_UV ? raft_uv_init(&n->io, loop, dir, &n->transport)
                             : raftwal_raft_io_init(&n->io, loop, dir, &n->transport);
    CHECK(rv == 0);
    n->io.data = n;
    CHECK_RV(&n->io, n->io.init(&n->io, 1, "127.0.0.1:9"));
}

static void node_closed_cb(struct raft_io *io)
{
    struct node *n = io->data;
    n->closed = 1;
}

static void transport_closed_cb(struct raft_uv_transport *t)
{
    (void)t;
}

static void node_close(struct node *n)
{
    n->closed = 0;
    n->io.close(&n->io, node_closed_cb);
    run_until(n->loop, &n->closed, 30);
    if (n->kind == KIND_UV)
        raft_uv_close(&n->io);
    else
        raftwal_raft_io_close(&n->io);
    raft_uv_tcp_close(&n->transport);
    (void)transport_closed_cb;
    uv_run(n->loop, UV_RUN_NOWAIT);
}

/* ---- load() results, normalized to text for comparison ------------------ */

struct loaded {
    raft_term term;
    raft_id vote;
    struct raft_snapshot *snap;
    raft_index start;
    struct raft_entry *entries;
    size_t n;
};

static void node_load(struct node *n, struct loaded *l)
{
    memset(l, 0, sizeof *l);
    CHECK_RV(&n->io, n->io.load(&n->io, &l->term, &l->vote, &l->snap, &l->start, &l->entries,
                                &l->n));
}

static void free_snapshot(struct raft_snapshot *s)
{
    if (s == NULL)
        return;
    raft_configuration_close(&s->configuration);
    for (unsigned i = 0; i < s->n_bufs; i++)
        raft_free(s->bufs[i].base);
    raft_free(s->bufs);
    raft_free(s);
}

static void loaded_free(struct loaded *l)
{
    /* Batches may be shared by consecutive entries: free each once. */
    void *prev = NULL;
    for (size_t i = 0; i < l->n; i++) {
        void *b = l->entries[i].batch;
        if (b == NULL)
            raft_free(l->entries[i].buf.base);
        else if (b != prev) {
            int seen = 0;
            for (size_t k = 0; k < i; k++)
                if (l->entries[k].batch == b)
                    seen = 1;
            if (!seen)
                raft_free(b);
        }
        prev = b;
    }
    raft_free(l->entries);
    free_snapshot(l->snap);
    memset(l, 0, sizeof *l);
}

static uint64_t fnv(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ull;
    while (n--)
        h = (h ^ *b++) * 1099511628211ull;
    return h;
}

static void conf_text(char *out, size_t cap, const struct raft_configuration *c)
{
    size_t o = (size_t)snprintf(out, cap, "[");
    for (unsigned i = 0; i < c->n && o < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%llu@%s/%d ", c->servers[i].id,
                              c->servers[i].address, c->servers[i].role);
    if (o < cap)
        snprintf(out + o, cap - o, "]");
}

/* The load result as text, entries from index `from` on (0: from start). */
__attribute__((unused)) static char *loaded_text(const struct loaded *l, raft_index from)
{
    size_t cap = 4096 + l->n * 80;
    char *t = malloc(cap);
    size_t o = 0;
    o += (size_t)snprintf(t + o, cap - o, "term=%llu vote=%llu", l->term, l->vote);
    if (l->snap) {
        char c[512];
        conf_text(c, sizeof c, &l->snap->configuration);
        CHECK(l->snap->n_bufs == 1);
        o += (size_t)snprintf(t + o, cap - o, " snap=%llu/%llu conf_index=%llu conf=%s data=%zu:%016llx",
                              l->snap->index, l->snap->term, l->snap->configuration_index, c,
                              l->snap->bufs[0].len,
                              (unsigned long long)fnv(l->snap->bufs[0].base, l->snap->bufs[0].len));
    }
    if (from == 0)
        o += (size_t)snprintf(t + o, cap - o, " start=%llu", l->start);
    o += (size_t)snprintf(t + o, cap - o, " last=%llu\n", l->start + l->n - 1);
    for (size_t i = 0; i < l->n; i++) {
        raft_index idx = l->start + i;
        if (idx < from)
            continue;
        const struct raft_entry *e = &l->entries[i];
        o += (size_t)snprintf(t + o, cap - o, "  %llu t%llu y%u %zu:%016llx\n", idx, e->term,
                              e->type, e->buf.len,
                              (unsigned long long)fnv(e->buf.base, e->buf.len));
    }
    return t;
}

#endif
