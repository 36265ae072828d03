/* test_recovery.c -- what the adapter finds on disk after a crash, and
 * damaged snapshot files:
 *   - an install (snapshot_put with trailing 0) interrupted after the log
 *     recorded the snapshot but before the entries were dropped: init
 *     finishes it, load() returns the snapshot and no entries;
 *   - a snapshot file written but never recorded (a crash between its
 *     rename and the log's record): deleted at init, load() returns the
 *     recorded snapshot;
 *   - a snapshot file with a flipped byte, cut short, or with a bad
 *     configuration: load() fails with RAFT_CORRUPT naming the file, no crash;
 *   - the configuration decoder on random and mutated input: never a crash,
 *     and every valid encoding round-trips.
 * Links the adapter statically (its private snapshot functions). */
#include "harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <raftwal.h>
#include <unistd.h>

#include "rr_snapshot.h"

static void make_conf(struct raft_configuration *c)
{
    raft_configuration_init(c);
    CHECK(raft_configuration_add(c, 1, "127.0.0.1:9001", RAFT_VOTER) == 0);
    CHECK(raft_configuration_add(c, 2, "127.0.0.1:9002", RAFT_VOTER) == 0);
}

static int appended;

static void append_cb(struct raft_io_append *req, int status)
{
    CHECK(status == 0);
    (void)req;
    appended++;
}

/* A node with entries 1..last (entry 1 the bootstrap configuration). */
static void make_node(uv_loop_t *loop, const char *dir, unsigned last)
{
    struct node n;
    node_open(&n, loop, KIND_RAFTWAL, dir);
    struct raft_configuration c;
    make_conf(&c);
    CHECK_RV(&n.io, n.io.bootstrap(&n.io, &c));
    raft_configuration_close(&c);
    struct loaded l;
    node_load(&n, &l);
    loaded_free(&l);
    static uint64_t payload[64];
    struct raft_entry e[64];
    for (unsigned i = 0; i < last - 1; i++)
        e[i] = (struct raft_entry){.term = 1, .type = RAFT_COMMAND, .buf = {&payload[i], 8}};
    struct raft_io_append req;
    appended = 0;
    CHECK_RV(&n.io, n.io.append(&n.io, &req, e, last - 1, append_cb));
    run_until(loop, &appended, 30);
    node_close(&n);
}

/* Writes a snapshot file the way the adapter does, returns its name. */
static void write_snapshot_file(const char *dir, uint64_t index, uint64_t term, char *name)
{
    char path[700];
    snprintf(path, sizeof path, "%s/snapshots", dir);
    int dfd = open(path, O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0);
    struct raft_snapshot s = {.index = index, .term = term, .configuration_index = 1};
    make_conf(&s.configuration);
    char data[100] = "state machine";
    struct raft_buffer b = {data, sizeof data};
    s.bufs = &b;
    s.n_bufs = 1;
    struct raft_buffer conf;
    CHECK(raft_configuration_encode(&s.configuration, &conf) == 0);
    char err[RAFT_ERRMSG_BUF_SIZE];
    rr_snapshot_name(name, 64, term, index);
    CHECK(rr_snapshot_write(dfd, name, &s, &conf, err) == 0);
    raft_free(conf.base);
    raft_configuration_close(&s.configuration);
    close(dfd);
}

static void record_snapshot(const char *dir, uint64_t index, uint64_t term, int install)
{
    raftwal_log *log;
    CHECK(raftwal_log_open(&log, dir, NULL) == 0);
    uint8_t meta[2] = {1, (uint8_t)install};
    CHECK(raftwal_log_save_snapshot(log, index, term, meta, 2) == 0);
    CHECK(raftwal_log_close(log) == 0);
}

static void test_interrupted_install(uv_loop_t *loop, const char *base)
{
    char dir[600], name[64];
    snprintf(dir, sizeof dir, "%s/install", base);
    make_node(loop, dir, 30);
    /* The crash: file written, log record made, entries not yet dropped. */
    write_snapshot_file(dir, 20, 1, name);
    record_snapshot(dir, 20, 1, 1);

    struct node n;
    node_open(&n, loop, KIND_RAFTWAL, dir);
    struct loaded l;
    node_load(&n, &l);
    CHECK(l.snap != NULL && l.snap->index == 20 && l.snap->term == 1);
    CHECK(l.start == 21 && l.n == 0); /* entries 21..30 were stale */
    loaded_free(&l);
    node_close(&n);

    raftwal_log *log;
    raftwal_options o = RAFTWAL_OPTIONS_INIT;
    o.flags = RAFTWAL_OPEN_READONLY;
    CHECK(raftwal_log_open(&log, dir, &o) == 0);
    uint8_t meta[2];
    size_t sz;
    uint64_t si, st, first, last;
    CHECK(raftwal_log_snapshot(log, &si, &st, meta, sizeof meta, &sz) == 0);
    CHECK(si == 20 && sz == 2 && meta[1] == 0); /* the install is finished */
    CHECK(raftwal_log_first_index(log, &first) == 0 && raftwal_log_last_index(log, &last) == 0);
    CHECK(first == 21 && last == 20);
    raftwal_log_close(log);
    printf("interrupted install finished at init\n");
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_unrecorded_snapshot(uv_loop_t *loop, const char *base)
{
    char dir[600], snaps[700], name[64];
    snprintf(dir, sizeof dir, "%s/unrecorded", base);
    make_node(loop, dir, 30);
    write_snapshot_file(dir, 10, 1, name);
    record_snapshot(dir, 10, 1, 0);
    write_snapshot_file(dir, 25, 1, name); /* the crash: never recorded */
    snprintf(snaps, sizeof snaps, "%s/snapshots", dir);
    CHECK(count_files(snaps) == 2);

    struct node n;
    node_open(&n, loop, KIND_RAFTWAL, dir);
    CHECK(count_files(snaps) == 1);
    struct loaded l;
    node_load(&n, &l);
    CHECK(l.snap != NULL && l.snap->index == 10);
    CHECK(l.start == 1 && l.n == 30);
    loaded_free(&l);
    node_close(&n);
    printf("unrecorded snapshot file removed, the recorded one loaded\n");
}

/* Damages the recorded snapshot's file with `how` and expects RAFT_CORRUPT. */
static void test_damaged_snapshot(uv_loop_t *loop, const char *base, const char *how)
{
    char dir[600], path[800], name[64];
    snprintf(dir, sizeof dir, "%s/damaged-%s", base, how);
    make_node(loop, dir, 10);
    write_snapshot_file(dir, 5, 1, name);
    record_snapshot(dir, 5, 1, 0);
    snprintf(path, sizeof path, "%s/snapshots/%s", dir, name);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    if (strcmp(how, "flip") == 0) {
        unsigned char b;
        CHECK(pread(fd, &b, 1, RR_SNAP_HEADER + 30) == 1);
        b ^= 0x10;
        CHECK(pwrite(fd, &b, 1, RR_SNAP_HEADER + 30) == 1);
    } else if (strcmp(how, "short") == 0) {
        CHECK(ftruncate(fd, RR_SNAP_HEADER + 10) == 0);
    } else { /* "length": a data length far beyond the file */
        unsigned char big[8] = {0, 0, 0, 0, 0, 0, 0, 0x7f};
        CHECK(pwrite(fd, big, 8, 40) == 8);
    }
    close(fd);
    struct node n;
    node_open(&n, loop, KIND_RAFTWAL, dir);
    struct loaded l;
    memset(&l, 0, sizeof l);
    int rv = n.io.load(&n.io, &l.term, &l.vote, &l.snap, &l.start, &l.entries, &l.n);
    printf("damaged snapshot (%s): %s: %s\n", how, raft_strerror(rv), n.io.errmsg);
    CHECK(rv == RAFT_CORRUPT);
    CHECK(strstr(n.io.errmsg, name) != NULL);
    CHECK(l.snap == NULL && l.entries == NULL);
    node_close(&n);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void test_configuration_decoder(void)
{
    struct raft_configuration c;
    make_conf(&c);
    CHECK(raft_configuration_add(&c, 7, "host-seven:1234", RAFT_SPARE) == 0);
    struct raft_buffer enc;
    CHECK(raft_configuration_encode(&c, &enc) == 0);
    struct raft_configuration d;
    raft_configuration_init(&d);
    CHECK(rr_configuration_decode(enc.base, enc.len, &d) == 0);
    CHECK(d.n == 3 && d.servers[2].id == 7 && d.servers[2].role == RAFT_SPARE &&
          strcmp(d.servers[2].address, "host-seven:1234") == 0);
    raft_configuration_close(&d);
    unsigned ok = 0;
    unsigned char buf[256];
    for (int i = 0; i < 200000; i++) {
        size_t len;
        if (i % 2) { /* mutate the valid encoding: flip bytes, cut it */
            len = enc.len;
            memcpy(buf, enc.base, len);
            for (int k = 0; k < 1 + (int)(next_rand() % 3); k++)
                buf[next_rand() % len] ^= (unsigned char)(1u << (next_rand() % 8));
            if (next_rand() % 4 == 0)
                len = next_rand() % (len + 1);
        } else {
            len = next_rand() % sizeof buf;
            for (size_t k = 0; k < len; k++)
                buf[k] = (unsigned char)next_rand();
            if (len > 0)
                buf[0] = 1;
        }
        /* A copy of exactly len bytes, so that ASan sees any overread. */
        unsigned char *p = malloc(len ? len : 1);
        memcpy(p, buf, len);
        raft_configuration_init(&d);
        int rc = rr_configuration_decode(p, len, &d);
        CHECK(rc == 0 || rc == RAFT_MALFORMED);
        if (rc == 0)
            ok++;
        else
            CHECK(d.n == 0 && d.servers == NULL);
        raft_configuration_close(&d);
        free(p);
    }
    raft_free(enc.base);
    raft_configuration_close(&c);
    printf("configuration decoder: 200000 hostile inputs, %u decoded, no crash\n", ok);
}

int main(void)
{
    char base[] = "/tmp/rr_recovery.XXXXXX";
    CHECK(mkdtemp(base) != NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    test_interrupted_install(&loop, base);
    test_unrecorded_snapshot(&loop, base);
    test_damaged_snapshot(&loop, base, "flip");
    test_damaged_snapshot(&loop, base, "short");
    test_damaged_snapshot(&loop, base, "length");
    test_configuration_decoder();
    uv_loop_close(&loop);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    CHECK(system(cmd) == 0);
    return 0;
}
