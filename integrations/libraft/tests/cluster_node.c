/* cluster_node.c -- one node of a 3-node libraft cluster, for the cluster
 * test (cluster_test.py) and the bench (bench/libraft_bench.py).
 *
 *   raft_cluster_node <raftwal|uv> <id> <dir> <addr1> <addr2> <addr3>
 *
 * Storage is raftwal_raft_io_init() or libraft's raft_uv_init(): the one
 * line a libraft program changes. The state machine records every command
 * (a u64 at the start of each entry) in the order applied. Driven by lines
 * on stdin, answered on stdout:
 *   role                          -> role <state> <last_applied> <ncmds> <hash>
 *   submit <first> <n> <inflight> <size>
 *                                 -> ack <value> per command whose apply
 *                                    callback reported success, then
 *                                    done <acked> <failed> <microseconds>
 *   dump <path>                   -> writes the applied commands, one per
 *                                    line, then: dumped
 *   quit                          -> closes raft and exits 0
 * Only loopback addresses are used. */
#include <raftwal_raft.h>

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <uv.h>

static uv_loop_t loop;
static struct raft raft;
static struct raft_io io;
static struct raft_uv_transport transport;
static struct raft_fsm fsm;
static int use_raftwal;
static uv_pipe_t in;
static char line[4096];
static size_t line_len;

/* ---- the state machine -------------------------------------------------- */

static uint64_t *cmds;
static size_t ncmds, cap;
static uint64_t hash = 1469598103934665603ull;

static void record_cmd(uint64_t v)
{
    if (ncmds == cap) {
        cap = cap ? cap * 2 : 1024;
        cmds = realloc(cmds, cap * sizeof *cmds);
        if (cmds == NULL)
            abort();
    }
    cmds[ncmds++] = v;
    for (int i = 0; i < 8; i++)
        hash = (hash ^ ((v >> (8 * i)) & 0xff)) * 1099511628211ull;
}

static int fsm_apply(struct raft_fsm *f, const struct raft_buffer *buf, void **result)
{
    (void)f;
    if (buf->len < 8)
        return RAFT_MALFORMED;
    uint64_t v;
    memcpy(&v, buf->base, 8);
    record_cmd(v);
    *result = NULL;
    return 0;
}

/* Snapshot: the number of commands, the hash, then the commands. */
static int fsm_snapshot(struct raft_fsm *f, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    (void)f;
    size_t len = (2 + ncmds) * 8;
    *bufs = raft_malloc(sizeof **bufs);
    uint64_t *p = raft_malloc(len);
    if (*bufs == NULL || p == NULL)
        return RAFT_NOMEM;
    p[0] = ncmds;
    p[1] = hash;
    memcpy(p + 2, cmds, ncmds * 8);
    (*bufs)[0] = (struct raft_buffer){p, len};
    *n_bufs = 1;
    return 0;
}

static int fsm_restore(struct raft_fsm *f, struct raft_buffer *buf)
{
    (void)f;
    const uint64_t *p = buf->base;
    if (buf->len < 16 || buf->len != (2 + p[0]) * 8)
        return RAFT_MALFORMED;
    ncmds = 0;
    hash = 1469598103934665603ull;
    for (uint64_t i = 0; i < p[0]; i++)
        record_cmd(p[2 + i]);
    if (hash != p[1])
        return RAFT_MALFORMED;
    raft_free(buf->base);
    return 0;
}

/* ---- submitting commands ---------------------------------------------------- */

struct batch {
    uint64_t next, end;
    unsigned inflight, max_inflight;
    size_t size;
    uint64_t acked, failed;
    struct timespec t0;
    int active;
} cur;

static void pump(void);
static uv_idle_t pump_later;

/* raft_apply() is not called from inside an apply callback: libraft's own
 * storage crashes when its append is re-entered from its append callback
 * chain (raft_apply -> uvAppend, SIGSEGV at 64 in flight with 4 KiB
 * commands). The next loop iteration submits instead, for both storages. */
static void pump_later_cb(uv_idle_t *h)
{
    uv_idle_stop(h);
    pump();
}

static void apply_cb(struct raft_apply *req, int status, void *result)
{
    (void)result;
    uint64_t v = (uint64_t)(uintptr_t)req->data;
    free(req);
    cur.inflight--;
    if (status == 0) {
        cur.acked++;
        printf("ack %" PRIu64 "\n", v);
    } else {
        cur.failed++;
    }
    uv_idle_start(&pump_later, pump_later_cb);
}

static void finish_batch(void)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long long us = (t1.tv_sec - cur.t0.tv_sec) * 1000000LL + (t1.tv_nsec - cur.t0.tv_nsec) / 1000;
    printf("done %" PRIu64 " %" PRIu64 " %lld\n", cur.acked, cur.failed, us);
    fflush(stdout);
    cur.active = 0;
}

/* Keeps max_inflight applies running until the batch is submitted. */
static void pump(void)
{
    while (cur.active && cur.next < cur.end && cur.inflight < cur.max_inflight) {
        struct raft_apply *req = malloc(sizeof *req);
        struct raft_buffer buf = {raft_malloc(cur.size), cur.size};
        memset(buf.base, 0, cur.size);
        memcpy(buf.base, &cur.next, 8);
        req->data = (void *)(uintptr_t)cur.next;
        int rv = raft_apply(&raft, req, &buf, 1, apply_cb);
        if (rv != 0) {
            raft_free(buf.base);
            free(req);
            cur.failed++;
        } else {
            cur.inflight++;
        }
        cur.next++;
    }
    if (cur.active && cur.next >= cur.end && cur.inflight == 0)
        finish_batch();
    fflush(stdout);
}

/* ---- control ------------------------------------------------------------------ */

static void raft_closed(struct raft *r)
{
    (void)r;
    if (use_raftwal)
        raftwal_raft_io_close(&io);
    else
        raft_uv_close(&io);
    raft_uv_tcp_close(&transport);
    uv_close((uv_handle_t *)&in, NULL);
    uv_close((uv_handle_t *)&pump_later, NULL);
}

static void command(char *l)
{
    char path[1024];
    unsigned long long first, n, inflight, size;
    if (strcmp(l, "role") == 0) {
        printf("role %d %llu %zu %016llx\n", raft_state(&raft), raft_last_applied(&raft), ncmds,
               (unsigned long long)hash);
    } else if (sscanf(l, "submit %llu %llu %llu %llu", &first, &n, &inflight, &size) == 4) {
        if (cur.active) {
            printf("done 0 %llu 0\n", n);
        } else {
            cur = (struct batch){.next = first, .end = first + n, .max_inflight = (unsigned)inflight,
                                 .size = size < 8 ? 8 : (size + 7) / 8 * 8, .active = 1};
            clock_gettime(CLOCK_MONOTONIC, &cur.t0);
            pump();
        }
    } else if (sscanf(l, "dump %1023s", path) == 1) {
        FILE *f = fopen(path, "w");
        for (size_t i = 0; f && i < ncmds; i++)
            fprintf(f, "%" PRIu64 "\n", cmds[i]);
        if (f)
            fclose(f);
        printf("dumped\n");
    } else if (strcmp(l, "quit") == 0) {
        uv_read_stop((uv_stream_t *)&in);
        uv_idle_stop(&pump_later);
        raft_close(&raft, raft_closed);
        return;
    } else {
        printf("error unknown command\n");
    }
    fflush(stdout);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    static char b[4096];
    buf->base = b;
    buf->len = sizeof b;
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    if (nread < 0) { /* the driver went away: stop like quit */
        uv_read_stop(s);
        uv_idle_stop(&pump_later);
        raft_close(&raft, raft_closed);
        return;
    }
    for (ssize_t i = 0; i < nread; i++) {
        char c = buf->base[i];
        if (c == '\n') {
            line[line_len] = '\0';
            line_len = 0;
            command(line);
        } else if (line_len + 1 < sizeof line) {
            line[line_len++] = c;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: %s raftwal|uv id dir addr1 addr2 addr3\n", argv[0]);
        return 2;
    }
    /* A write to a peer that died must be an error, not a signal (libuv
     * leaves SIGPIPE to the program, as libraft's own examples do). */
    signal(SIGPIPE, SIG_IGN);
    use_raftwal = strcmp(argv[1], "raftwal") == 0;
    raft_id id = strtoull(argv[2], NULL, 10);
    const char *dir = argv[3];
    char **addr = argv + 4;
    mkdir(dir, 0755); /* libraft's storage wants it to exist; raftwal's makes it */
    uv_loop_init(&loop);
    int rv = raft_uv_tcp_init(&transport, &loop);
    if (rv == 0)
        rv = use_raftwal ? raftwal_raft_io_init(&io, &loop, dir, &transport)
                         : raft_uv_init(&io, &loop, dir, &transport);
    if (rv != 0) {
        fprintf(stderr, "io init: %s\n", raft_strerror(rv));
        return 1;
    }
    fsm = (struct raft_fsm){.version = 1, .apply = fsm_apply, .snapshot = fsm_snapshot,
                            .restore = fsm_restore};
    rv = raft_init(&raft, &io, &fsm, id, addr[id - 1]);
    if (rv != 0) {
        fprintf(stderr, "raft_init: %s\n", raft_errmsg(&raft));
        return 1;
    }
    struct raft_configuration conf;
    raft_configuration_init(&conf);
    for (raft_id i = 1; i <= 3; i++)
        raft_configuration_add(&conf, i, addr[i - 1], RAFT_VOTER);
    rv = raft_bootstrap(&raft, &conf); /* every start; refused once state exists */
    raft_configuration_close(&conf);
    if (rv != 0 && rv != RAFT_CANTBOOTSTRAP) {
        fprintf(stderr, "bootstrap: %s\n", raft_errmsg(&raft));
        return 1;
    }
    const char *thr = getenv("RR_SNAPSHOT_THRESHOLD");
    raft_set_snapshot_threshold(&raft, thr ? (unsigned)atoi(thr) : 1024);
    const char *tr = getenv("RR_SNAPSHOT_TRAILING");
    raft_set_snapshot_trailing(&raft, tr ? (unsigned)atoi(tr) : 2048);
    /* Long enough that a loaded 2-core machine running three nodes does not
     * miss heartbeats, short enough for a quick failover. */
    raft_set_election_timeout(&raft, 1000);
    raft_set_heartbeat_timeout(&raft, 100);
    /* libraft refuses an install while a snapshot of its own is being
     * written, and the leader retries only after this timeout (30 s by
     * default): keep the test's recovery time short. */
    raft_set_install_snapshot_timeout(&raft, 1000);
    rv = raft_start(&raft);
    if (rv != 0) {
        fprintf(stderr, "raft_start: %s\n", raft_errmsg(&raft));
        return 1;
    }
    uv_idle_init(&loop, &pump_later);
    uv_pipe_init(&loop, &in, 0);
    uv_pipe_open(&in, 0);
    uv_read_start((uv_stream_t *)&in, alloc_cb, read_cb);
    printf("started\n");
    fflush(stdout);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 0;
}
