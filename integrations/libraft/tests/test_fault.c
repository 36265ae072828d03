/* test_fault.c -- raftwal's fault layer under the libraft adapter: an fsync
 * that fails while appends are in flight must reach libraft as an error of
 * those appends (and of every later one), never as a silent success; what
 * was acknowledged before survives a reopen.
 *
 * Links the adapter and the engine statically with tests/fault/faultfs.c,
 * which installs an I/O table (src/io.h) that fails chosen calls. */
#include "harness.h"

#include <errno.h>

#include "faultfs.h"

struct app {
    struct raft_io_append req;
    struct raft_entry entry;
    int done, status;
};

static void append_cb(struct raft_io_append *req, int status)
{
    struct app *a = req->data;
    a->status = status;
    a->done = 1;
}

static struct app *submit(struct node *n, uint64_t v)
{
    struct app *a = calloc(1, sizeof *a);
    a->req.data = a;
    uint64_t *b = malloc(sizeof v);
    *b = v;
    a->entry = (struct raft_entry){.term = 1, .type = RAFT_COMMAND, .buf = {b, sizeof v}};
    CHECK_RV(&n->io, n->io.append(&n->io, &a->req, &a->entry, 1, append_cb));
    CHECK(!a->done); /* never called back from inside append() */
    return a;
}

static void release(struct app *a)
{
    free(a->entry.buf.base);
    free(a);
}

int main(void)
{
    char base[] = "/tmp/rr_fault.XXXXXX";
    CHECK(mkdtemp(base) != NULL);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/node", base);
    ff_install();
    ff_reset();

    uv_loop_t loop;
    uv_loop_init(&loop);
    struct node n;
    node_open(&n, &loop, KIND_RAFTWAL, dir);
    struct raft_configuration c;
    raft_configuration_init(&c);
    CHECK(raft_configuration_add(&c, 1, "127.0.0.1:9001", RAFT_VOTER) == 0);
    CHECK_RV(&n.io, n.io.bootstrap(&n.io, &c));
    raft_configuration_close(&c);
    struct loaded l;
    node_load(&n, &l);
    loaded_free(&l);

    /* Entry 2: durable, acknowledged. */
    struct app *ok = submit(&n, 2);
    run_until(&loop, &ok->done, 30);
    CHECK(ok->status == 0);

    /* Every fdatasync fails from now on (a disk that lost its data). */
    CHECK(ff_add_rule(FF_FDATASYNC, 1, EIO, FF_STICKY, NULL, 0) == 0);
    struct app *a3 = submit(&n, 3);
    struct app *a4 = submit(&n, 4);
    run_until(&loop, &a4->done, 30);
    CHECK(a3->done); /* in order */
    fprintf(stderr, "after the failed sync: %s / %s (%s)\n", raft_strerror(a3->status),
            raft_strerror(a4->status), n.io.errmsg);
    CHECK(a3->status == RAFT_IOERR);
    CHECK(a4->status == RAFT_IOERR);
    CHECK(ff_injected() >= 1);

    /* The handle is failed: a later append fails too (from the loop, not
     * inside append()), and so does a hard-state change. */
    struct app *a5 = submit(&n, 5);
    run_until(&loop, &a5->done, 30);
    CHECK(a5->status == RAFT_IOERR);
    CHECK(n.io.set_term(&n.io, 7) != 0);

    node_close(&n);
    release(ok);
    release(a3);
    release(a4);
    release(a5);

    /* The disk is back: reopen. What was acknowledged is there; the failed
     * appends may or may not be (they were never acknowledged). */
    ff_clear_rules();
    node_open(&n, &loop, KIND_RAFTWAL, dir);
    node_load(&n, &l);
    CHECK(l.term == 1);
    CHECK(l.start == 1 && l.n >= 2);
    CHECK(l.entries[1].buf.len == 8 && *(uint64_t *)l.entries[1].buf.base == 2);
    loaded_free(&l);
    node_close(&n);

    uv_loop_close(&loop);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    CHECK(system(cmd) == 0);
    printf("ok: a failed fsync reached libraft as RAFT_IOERR of the appends in flight\n");
    return 0;
}
