/* crash_fs.h -- a model of what a POSIX file system may leave on disk after
 * a power loss, driven by a faultfs recording of one directory.
 *
 * The model keeps, per file, its durable content (as of its last completed
 * fdatasync/fsync) and every version it had since; and for the directory,
 * its durable names (as of its last fsync) and the creates, renames and
 * unlinks made since. A crash state is then chosen by:
 *   - which of the pending directory operations reached the disk: a
 *     prefix (CFS_RANDOM: journaling file systems such as ext4 and xfs
 *     commit namespace changes in order), or any subset that keeps each
 *     name's own operations in order, a rename counting for both its names
 *     (CFS_RANDOM_REORDER: what POSIX promises, and what some file systems
 *     and crash-test tools do); each one is "either outcome" until the
 *     directory fsync;
 *   - per file, which version each 512-byte sector holds (the durable one,
 *     the newest, or any in between: unsynced writes dropped, kept, torn at
 *     sector granularity, or persisted out of order) and which of the sizes
 *     the file had since its last sync it ends up with.
 * Nothing that was durable is ever lost: sector versions and sizes are only
 * chosen among those the file had since its last sync. */
#ifndef RAFTWAL_CRASH_FS_H
#define RAFTWAL_CRASH_FS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "faultfs.h"

#define CFS_SECTOR 512u

typedef struct cfs cfs;

/* A model of directory `dir_ino` (empty at the start of the recording). */
cfs *cfs_new(ino_t dir_ino);
void cfs_free(cfs *m);
/* Adds a durable file (name and content synced) to a model of a directory
 * that was not empty when the recording began. */
void cfs_add_durable(cfs *m, const char *name, ino_t ino, const uint8_t *data, size_t size);
/* Advances the model by one recorded operation (markers are ignored). */
void cfs_apply(cfs *m, const ff_rec *r);

/* How to pick a crash state. */
enum cfs_mode {
    CFS_DROP_ALL, /* only what was synced */
    CFS_KEEP_ALL, /* everything (a process crash, not a power loss) */
    CFS_RANDOM,   /* a random legal state (seeded by *rng), directory
                   * operations persisted in order (a prefix) */
    CFS_RANDOM_REORDER, /* the same, but any per-name-ordered subset of
                         * the directory operations persisted */
};

/* One file of a crash state. */
typedef struct cfs_file {
    char name[64];
    uint8_t *data;
    size_t size;
} cfs_file;

typedef struct cfs_image {
    cfs_file *files;
    size_t n;
    uint64_t hash; /* of names and contents, to skip duplicate states */
    int torn;      /* some file holds a mix of versions */
} cfs_image;

/* Builds a crash state of the current model. *rng advances (CFS_RANDOM). */
void cfs_build(const cfs *m, int mode, uint64_t *rng, cfs_image *out);
void cfs_image_free(cfs_image *img);
/* Writes the image's files into directory path (which must be empty). */
int cfs_image_write(const cfs_image *img, const char *path);

/* Pending (unsynced) work, for statistics and to skip identical states. */
size_t cfs_pending_dirops(const cfs *m);
size_t cfs_pending_versions(const cfs *m);

#endif
