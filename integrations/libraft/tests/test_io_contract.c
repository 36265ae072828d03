/* test_io_contract.c -- raftwal's raft_io against libraft's own (raft_uv_init)
 * on the same call sequences: what load() returns at every checkpoint must
 * be the same, and append callbacks must come in submission order with
 * the same statuses.
 *
 * Scenarios: load after bootstrap (and a second bootstrap refused), hard
 * state; appends with truncates over appends still in flight; a periodic
 * snapshot with trailing entries while appends continue; an installed
 * snapshot (trailing 0) with appends submitted while it runs; a load after
 * every restart. Usage: test_io_contract [scratch dir]. */
#include "harness.h"

#include <dirent.h>
#include <unistd.h>

#define MAX_REQS 4096

struct app {
    struct raft_io_append req;
    struct node *n;
    int id;
    struct raft_entry *entries;
    unsigned count;
};

/* What the log must hold, kept by the test from the calls it makes: the
 * oracle where libraft's own storage cannot serve as one. */
struct model_entry {
    raft_term term;
    unsigned type;
    size_t len;
    uint64_t hash;
};

struct tracker {
    struct model_entry model[MAX_REQS];
    raft_index model_next; /* next index to append */
    int order[MAX_REQS];
    int status[MAX_REQS];
    int ncb, nsub;
    int all_done;
    int put_done, put_status, get_done, get_status;
    struct raft_snapshot *got;
};

static struct tracker trk[2];

static struct tracker *tracker_of(struct node *n)
{
    return &trk[n->kind];
}

static void append_cb(struct raft_io_append *req, int status)
{
    struct app *a = req->data;
    struct tracker *t = tracker_of(a->n);
    t->order[t->ncb] = a->id;
    t->status[t->ncb] = status;
    t->ncb++;
    if (t->ncb == t->nsub)
        t->all_done = 1;
    for (unsigned i = 0; i < a->count; i++)
        free(a->entries[i].buf.base);
    free(a->entries);
    free(a);
}

/* Submits one append of `count` entries of `term` (payload derived from
 * seed) without running the loop. */
static void submit_sized(struct node *n, unsigned count, raft_term term, unsigned seed,
                         size_t fixed_len);

static void submit(struct node *n, unsigned count, raft_term term, unsigned seed)
{
    submit_sized(n, count, term, seed, 0);
}

/* fixed_len 0: varied lengths (multiples of 8) derived from seed. */
static void submit_sized(struct node *n, unsigned count, raft_term term, unsigned seed,
                         size_t fixed_len)
{
    struct tracker *t = tracker_of(n);
    struct app *a = calloc(1, sizeof *a);
    a->n = n;
    a->id = t->nsub++;
    a->req.data = a;
    a->count = count;
    a->entries = calloc(count, sizeof *a->entries);
    for (unsigned i = 0; i < count; i++) {
        /* libraft's storage needs lengths that are multiples of 8. */
        size_t len = fixed_len ? fixed_len : 8 * (1 + (seed * 7 + i * 13) % 40);
        unsigned char *b = malloc(len);
        for (size_t k = 0; k < len; k++)
            b[k] = (unsigned char)(seed * 31 + i * 17 + k);
        a->entries[i] = (struct raft_entry){.term = term, .type = RAFT_COMMAND,
                                            .buf = {b, len}, .batch = NULL};
    }
    for (unsigned i = 0; i < count; i++)
        t->model[t->model_next + i] = (struct model_entry){term, RAFT_COMMAND, a->entries[i].buf.len,
                                                           fnv(a->entries[i].buf.base, a->entries[i].buf.len)};
    t->model_next += count;
    t->all_done = 0;
    CHECK_RV(&n->io, n->io.append(&n->io, &a->req, a->entries, count, append_cb));
}

static void do_truncate(struct node *n, raft_index index)
{
    CHECK_RV(&n->io, n->io.truncate(&n->io, index));
    tracker_of(n)->model_next = index;
}

/* The model's log (from index 1, no snapshot) in loaded_text()'s format. */
static char *model_text(struct node *n, raft_term term, raft_id vote)
{
    struct tracker *t = tracker_of(n);
    size_t cap = 4096 + t->model_next * 80, o = 0;
    char *s = malloc(cap);
    o += (size_t)snprintf(s + o, cap - o, "term=%llu vote=%llu start=1 last=%llu\n", term, vote,
                          t->model_next - 1);
    for (raft_index i = 1; i < t->model_next; i++)
        o += (size_t)snprintf(s + o, cap - o, "  %llu t%llu y%u %zu:%016llx\n", i, t->model[i].term,
                              t->model[i].type, t->model[i].len, (unsigned long long)t->model[i].hash);
    return s;
}

static void wait_appends(struct node *n)
{
    struct tracker *t = tracker_of(n);
    if (t->ncb < t->nsub)
        run_until(n->loop, &t->all_done, 30);
    for (int i = 0; i < t->ncb; i++) {
        CHECK(t->order[i] == i); /* submission order */
        CHECK(t->status[i] == 0);
    }
}

static void make_conf(struct raft_configuration *c)
{
    raft_configuration_init(c);
    CHECK(raft_configuration_add(c, 1, "127.0.0.1:9001", RAFT_VOTER) == 0);
    CHECK(raft_configuration_add(c, 2, "127.0.0.1:9002", RAFT_VOTER) == 0);
    CHECK(raft_configuration_add(c, 3, "127.0.0.1:9003", RAFT_STANDBY) == 0);
}

/* ---- snapshots ------------------------------------------------------------ */

struct put {
    struct raft_io_snapshot_put req;
    struct raft_snapshot snap;
    struct node *n;
};

static void put_cb(struct raft_io_snapshot_put *req, int status)
{
    struct put *p = req->data;
    struct tracker *t = tracker_of(p->n);
    t->put_status = status;
    t->put_done = 1;
    raft_configuration_close(&p->snap.configuration);
    for (unsigned i = 0; i < p->snap.n_bufs; i++)
        free(p->snap.bufs[i].base);
    free(p->snap.bufs);
    free(p);
}

static void submit_put(struct node *n, unsigned trailing, raft_index index, raft_term term)
{
    struct put *p = calloc(1, sizeof *p);
    p->n = n;
    p->req.data = p;
    p->snap.index = index;
    p->snap.term = term;
    make_conf(&p->snap.configuration);
    p->snap.configuration_index = 1;
    /* Two buffers: libraft's FSMs may hand several; load gives back one. */
    p->snap.n_bufs = 2;
    p->snap.bufs = calloc(2, sizeof *p->snap.bufs);
    for (int b = 0; b < 2; b++) {
        size_t len = 1000 + 776 * (size_t)b;
        unsigned char *d = malloc(len);
        for (size_t k = 0; k < len; k++)
            d[k] = (unsigned char)(index + k * (b + 3));
        p->snap.bufs[b] = (struct raft_buffer){d, len};
    }
    tracker_of(n)->put_done = 0;
    CHECK_RV(&n->io, n->io.snapshot_put(&n->io, trailing, &p->req, &p->snap, put_cb));
}

static void get_cb(struct raft_io_snapshot_get *req, struct raft_snapshot *s, int status)
{
    struct node *n = req->data;
    struct tracker *t = tracker_of(n);
    t->got = s;
    t->get_status = status;
    t->get_done = 1;
    free(req);
}

/* Files in raftwal's snapshots directory: old snapshots must be deleted. */
static int count_snapshot_files(const char *dir)
{
    char path[700];
    snprintf(path, sizeof path, "%s/snapshots", dir);
    DIR *d = opendir(path);
    CHECK(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* ---- scenarios ------------------------------------------------------------- */

#define MAX_TEXTS 8
struct result {
    char *text[MAX_TEXTS];
    int ntext;
};

static void record(struct result *r, struct node *n, raft_index from)
{
    struct loaded l;
    node_load(n, &l);
    r->text[r->ntext++] = loaded_text(&l, from);
    loaded_free(&l);
}

static void reset_tracker(struct node *n)
{
    memset(tracker_of(n), 0, sizeof(struct tracker));
}

static void start_node(struct node *n, uv_loop_t *loop, int kind, const char *dir, int bootstrap)
{
    node_open(n, loop, kind, dir);
    reset_tracker(n);
    if (bootstrap) {
        struct raft_configuration c;
        make_conf(&c);
        CHECK_RV(&n->io, n->io.bootstrap(&n->io, &c));
        struct raft_buffer enc;
        CHECK(raft_configuration_encode(&c, &enc) == 0);
        tracker_of(n)->model[1] = (struct model_entry){1, RAFT_CHANGE, enc.len, fnv(enc.base, enc.len)};
        tracker_of(n)->model_next = 2;
        raft_free(enc.base);
        raft_configuration_close(&c);
    }
}

/* Load after bootstrap; a second bootstrap refused; hard state. */
static void scenario_bootstrap(uv_loop_t *loop, int kind, const char *dir, struct result *r)
{
    struct node n;
    start_node(&n, loop, kind, dir, 0);
    record(r, &n, 0); /* fresh: term 0, nothing */
    node_close(&n);
    start_node(&n, loop, kind, dir, 1);
    record(r, &n, 0);
    struct raft_configuration c;
    make_conf(&c);
    CHECK(n.io.bootstrap(&n.io, &c) == RAFT_CANTBOOTSTRAP);
    raft_configuration_close(&c);
    CHECK_RV(&n.io, n.io.set_term(&n.io, 5));
    CHECK_RV(&n.io, n.io.set_vote(&n.io, 2));
    node_close(&n);
    node_open(&n, loop, kind, dir);
    make_conf(&c);
    CHECK(n.io.bootstrap(&n.io, &c) == RAFT_CANTBOOTSTRAP);
    raft_configuration_close(&c);
    record(r, &n, 0);
    node_close(&n);
}

/* Appends in flight, truncated over, more appends; load after restart. */
static void scenario_truncate(uv_loop_t *loop, int kind, const char *dir, struct result *r)
{
    struct node n;
    start_node(&n, loop, kind, dir, 1);
    struct loaded l;
    node_load(&n, &l);
    loaded_free(&l);
    CHECK_RV(&n.io, n.io.set_term(&n.io, 2));
    /* Entries 2..31 in 10 appends, none called back yet. */
    for (unsigned i = 0; i < 10; i++)
        submit(&n, 3, 2, i);
    /* Drop 20.. (inside the 7th append, still in flight), append 20..27. */
    do_truncate(&n, 20);
    for (unsigned i = 0; i < 4; i++)
        submit(&n, 2, 3, 100 + i);
    wait_appends(&n);
    /* Truncate again after everything is durable, and append a bigger batch. */
    do_truncate(&n, 25);
    submit(&n, 40, 4, 200);
    wait_appends(&n);
    node_close(&n);
    node_open(&n, loop, kind, dir);
    /* Two oracles: libraft's own storage (compared by main) and the model. */
    record(r, &n, 0);
    char *want = model_text(&n, 2, 0);
    if (strcmp(r->text[r->ntext - 1], want) != 0) {
        fprintf(stderr, "%s differs from the model:\n%s--- model:\n%s", kind == KIND_UV ? "uv" : "raftwal",
                r->text[r->ntext - 1], want);
        exit(1);
    }
    free(want);
    node_close(&n);
}

/* A periodic snapshot (trailing > 0) while appends continue. */
static void scenario_trailing(uv_loop_t *loop, int kind, const char *dir, struct result *r)
{
    struct node n;
    start_node(&n, loop, kind, dir, 1);
    struct loaded l;
    node_load(&n, &l);
    loaded_free(&l);
    for (unsigned i = 0; i < 20; i++)
        submit(&n, 5, 1, i); /* 2..101 */
    wait_appends(&n);
    submit_put(&n, 10, 90, 1);
    for (unsigned i = 0; i < 5; i++)
        submit(&n, 4, 2, 50 + i); /* 102..121, during the put */
    wait_appends(&n);
    run_until(loop, &tracker_of(&n)->put_done, 30);
    CHECK(tracker_of(&n)->put_status == 0);
    /* A second snapshot replaces the first. */
    submit_put(&n, 10, 110, 2);
    run_until(loop, &tracker_of(&n)->put_done, 30);
    CHECK(tracker_of(&n)->put_status == 0);
    if (kind == KIND_RAFTWAL)
        CHECK(count_snapshot_files(dir) == 1);

    struct raft_io_snapshot_get *g = calloc(1, sizeof *g);
    g->data = &n;
    tracker_of(&n)->get_done = 0;
    CHECK_RV(&n.io, n.io.snapshot_get(&n.io, g, get_cb));
    run_until(loop, &tracker_of(&n)->get_done, 30);
    if (tracker_of(&n)->get_status != 0)
        fprintf(stderr, "snapshot_get: %d %s\n", tracker_of(&n)->get_status, n.io.errmsg);
    CHECK(tracker_of(&n)->get_status == 0);
    struct loaded gl = {.snap = tracker_of(&n)->got};
    r->text[r->ntext++] = loaded_text(&gl, ~0ull);
    loaded_free(&gl);
    node_close(&n);

    node_open(&n, loop, kind, dir);
    struct loaded after;
    node_load(&n, &after);
    /* Both keep at least the trailing entries: start <= 110 - 10 + 1. How
     * many more each keeps differs (libraft's storage drops whole segment
     * files), so entries are compared from 101 on. */
    CHECK(after.start <= 101);
    r->text[r->ntext++] = loaded_text(&after, 101);
    loaded_free(&after);
    node_close(&n);
}

/* An installed snapshot (trailing 0) over a log that reaches past it, with
 * appends submitted while the put runs; load after restart. */
static void scenario_install(uv_loop_t *loop, int kind, const char *dir, struct result *r)
{
    struct node n;
    start_node(&n, loop, kind, dir, 1);
    struct loaded l;
    node_load(&n, &l);
    loaded_free(&l);
    for (unsigned i = 0; i < 10; i++)
        submit(&n, 3, 1, i); /* 2..31 */
    wait_appends(&n);
    CHECK_RV(&n.io, n.io.set_term(&n.io, 3));
    submit_put(&n, 0, 20, 2); /* entries 21..31 must go too */
    submit(&n, 5, 3, 77);     /* 21..25, behind the install */
    wait_appends(&n);
    run_until(loop, &tracker_of(&n)->put_done, 30);
    CHECK(tracker_of(&n)->put_status == 0);
    if (kind == KIND_RAFTWAL)
        CHECK(count_snapshot_files(dir) == 1);
    node_close(&n);
    node_open(&n, loop, kind, dir);
    record(r, &n, 0);
    node_close(&n);
}

/* A log of several MiB: load() spreads it over several batches (1 MiB,
 * then doubling), each shrunk to what it holds. */
static void scenario_big(uv_loop_t *loop, int kind, const char *dir, struct result *r)
{
    struct node n;
    start_node(&n, loop, kind, dir, 1);
    struct loaded l;
    node_load(&n, &l);
    loaded_free(&l);
    for (unsigned i = 0; i < 24; i++)
        submit_sized(&n, 40, 1, i, 4096 + 8 * i); /* 24 x 40 x ~4 KiB: ~4 MiB */
    wait_appends(&n);
    node_close(&n);
    node_open(&n, loop, kind, dir);
    node_load(&n, &l);
    for (size_t i = 1; i < l.n; i++) /* contiguous or not, every byte is compared */
        CHECK(l.entries[i].buf.len >= 4096);
    r->text[r->ntext++] = loaded_text(&l, 0);
    loaded_free(&l);
    node_close(&n);
}

typedef void scenario_fn(uv_loop_t *, int, const char *, struct result *);

static int compare(const char *name, struct result *a, struct result *b)
{
    int bad = 0;
    CHECK(a->ntext == b->ntext);
    for (int i = 0; i < a->ntext; i++) {
        if (getenv("RR_VERBOSE"))
            printf("%s load #%d:\n%s", name, i, b->text[i]);
        if (strcmp(a->text[i], b->text[i]) != 0) {
            fprintf(stderr, "%s: load #%d differs\n--- libraft uv:\n%s--- raftwal:\n%s", name, i,
                    a->text[i], b->text[i]);
            bad = 1;
        }
        free(a->text[i]);
        free(b->text[i]);
    }
    printf("%-10s %d loads identical%s\n", name, a->ntext, bad ? " -- NO" : "");
    return bad;
}

int main(int argc, char **argv)
{
    char base[512];
    if (argc > 1)
        snprintf(base, sizeof base, "%s", argv[1]);
    else
        snprintf(base, sizeof base, "/tmp/rr_contract.XXXXXX");
    if (argc <= 1)
        CHECK(mkdtemp(base) != NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct {
        const char *name;
        scenario_fn *fn;
    } sc[] = {{"bootstrap", scenario_bootstrap},
              {"truncate", scenario_truncate},
              {"trailing", scenario_trailing},
              {"install", scenario_install},
              {"big", scenario_big}};
    int bad = 0;
    for (size_t i = 0; i < sizeof sc / sizeof sc[0]; i++) {
        struct result res[2];
        memset(res, 0, sizeof res);
        for (int kind = 0; kind < 2; kind++) {
            char dir[600];
            snprintf(dir, sizeof dir, "%s/%s-%s", base, sc[i].name, kind == KIND_UV ? "uv" : "wal");
            sc[i].fn(&loop, kind, dir, &res[kind]);
        }
        bad |= compare(sc[i].name, &res[0], &res[1]);
    }
    uv_loop_close(&loop);
    if (argc <= 1) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
        CHECK(system(cmd) == 0);
    }
    return bad;
}
