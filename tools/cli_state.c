/*
 * cli_state.c -- reads a log's whole state (bounds, hard state, snapshot,
 * user metadata, stats) for the inspection commands.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Copies a variable-sized blob with the ask-for-the-size-then-copy protocol
 * of raftwal_log_snapshot() / raftwal_log_metadata(). */
static int read_snapshot(raftwal_log *log, cli_state *st)
{
    size_t size = 0;
    int rc = raftwal_log_snapshot(log, &st->snap_index, &st->snap_term, NULL, 0, &size);

    if (rc == RAFTWAL_ERANGE) {
        st->snap_meta = malloc(size);
        if (st->snap_meta == NULL)
            return cli_fail(RAFTWAL_ENOMEM);
        rc = raftwal_log_snapshot(log, &st->snap_index, &st->snap_term,
                                  st->snap_meta, size, &size);
    }
    if (rc != 0)
        return cli_fail(rc);
    st->snap_meta_size = size;
    return 0;
}

static int read_metadata(raftwal_log *log, cli_state *st)
{
    size_t size = 0;
    int rc = raftwal_log_metadata(log, NULL, 0, &size);

    if (rc == RAFTWAL_ERANGE) {
        st->meta = malloc(size);
        if (st->meta == NULL)
            return cli_fail(RAFTWAL_ENOMEM);
        rc = raftwal_log_metadata(log, st->meta, size, &size);
    }
    if (rc != 0)
        return cli_fail(rc);
    st->meta_size = size;
    return 0;
}

int cli_read_state(raftwal_log *log, cli_state *st)
{
    int rc;

    memset(st, 0, sizeof *st);
    if ((rc = raftwal_log_first_index(log, &st->first)) != 0 ||
        (rc = raftwal_log_last_index(log, &st->last)) != 0 ||
        (rc = raftwal_log_hardstate(log, &st->hs)) != 0) {
        cli_fail(rc);
        goto fail;
    }
    if (read_snapshot(log, st) != 0 || read_metadata(log, st) != 0 ||
        cli_stats(log, &st->stats) != 0)
        goto fail;
    return 0;
fail:
    cli_state_free(st);
    return CLI_EXIT_FAIL;
}

void cli_state_free(cli_state *st)
{
    free(st->snap_meta);
    free(st->meta);
    st->snap_meta = NULL;
    st->meta = NULL;
}
