/*
 * damage.h -- builds logs whose batch layout the damage tests know, and
 * locates bytes to damage in them (through wal_reader.h). Shared by
 * c_corruption and c_repair.
 */
#ifndef RAFTWAL_TEST_DAMAGE_H
#define RAFTWAL_TEST_DAMAGE_H

#include "model.h"
#include "test_util.h"
#include "wal_reader.h"

#define DMG_SEG RAFTWAL_MIN_SEGMENT_SIZE
#define DMG_MAXP 200
#define DMG_BATCH 4 /* entries per batch: batch k holds 4k+1 .. 4k+4 */
#define DMG_MAXFILES 64

/* Writes `batches` durable batches of DMG_BATCH entries (term 1 + k/10,
 * hard state in every third batch) into a new log at dir, closes it, and
 * leaves the model of what was written in *m. */
static TU_UNUSED void dmg_build(const char *dir, int batches, model *m)
{
    raftwal_log *log = open_log(dir, RAFTWAL_OPEN_CREATE, DMG_SEG);
    int k;
    model_init(m);
    for (k = 0; k < batches; k++) {
        raftwal_hardstate hs = {1 + (uint64_t)k / 10, 1, 0};
        batch b;
        batch_make(&b, m->last + 1, DMG_BATCH, 1 + (uint64_t)k / 10, DMG_MAXP);
        hs.commit = m->last;
        CHECK_OK(raftwal_log_append(log, b.e, b.n, k % 3 == 0 ? &hs : NULL, 0));
        model_append(m, b.e, b.n, k % 3 == 0 ? &hs : NULL);
        batch_free(&b);
    }
    CHECK_OK(raftwal_log_close(log));
}

/* The first index of the batch holding `index`. */
static TU_UNUSED uint64_t dmg_batch_first(uint64_t index)
{
    return (index - 1) / DMG_BATCH * DMG_BATCH + 1;
}

/* Where an entry lives on disk. */
typedef struct dmg_spot {
    char path[1024];
    char name[64];
    uint64_t seq;
    uint64_t rec_off;     /* the ENTRY record */
    uint64_t payload_off; /* its first payload byte */
    uint32_t len;
    int file;             /* position among the *.wal files */
    int sealed;
} dmg_spot;

/* Finds the first entry >= from with a non-empty payload in the file at
 * position `file` (-1: any file); fills *s. */
static TU_UNUSED void dmg_find(const char *dir, int file, uint64_t from,
                               uint64_t *index, dmg_spot *s)
{
    wal_file files[DMG_MAXFILES];
    size_t n = wal_load_dir(dir, files, DMG_MAXFILES), t = wal_tail(files, n);
    wal_record r, seal;
    uint64_t i;
    for (i = from;; i++) {
        int where = wal_find_entry(files, n, i, &r);
        CHECK_MSG(where >= 0, "entry %" PRIu64 " not found on disk", i);
        if (file >= 0 && where < file)
            continue;
        CHECK_MSG(file < 0 || where == file, "no non-empty entry in file %d", file);
        if (r.len == 0)
            continue;
        *index = i;
        s->file = where;
        snprintf(s->path, sizeof s->path, "%s", files[where].path);
        snprintf(s->name, sizeof s->name, "%s", files[where].name);
        s->seq = files[where].h.seq;
        s->rec_off = r.off;
        s->payload_off = r.off + 32;
        s->len = r.len;
        s->sealed = (size_t)where < t && wal_read_seal(&files[where], &seal);
        break;
    }
    wal_free_files(files, n);
}

/* The number of *.wal files and the position of the tail among them. */
static TU_UNUSED size_t dmg_tail(const char *dir, size_t *count)
{
    wal_file files[DMG_MAXFILES];
    size_t n = wal_load_dir(dir, files, DMG_MAXFILES), t = wal_tail(files, n);
    wal_free_files(files, n);
    if (count)
        *count = n;
    return t;
}

/* 1 if raftwal_errmsg() names the file and an offset. */
static TU_UNUSED int dmg_msg_names(const char *file, uint64_t offset)
{
    const char *msg = raftwal_errmsg();
    char num[32];
    snprintf(num, sizeof num, "%" PRIu64, offset);
    return strstr(msg, file) != NULL && strstr(msg, "offset") != NULL &&
           strstr(msg, num) != NULL;
}

#endif /* RAFTWAL_TEST_DAMAGE_H */
