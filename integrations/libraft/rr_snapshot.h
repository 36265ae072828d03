/* rr_snapshot.h -- snapshot files and libraft configurations (private).
 *
 * A snapshot file holds one libraft snapshot: index, term, configuration
 * index, the configuration (libraft's raft_configuration_encode() bytes) and
 * the FSM's data, behind a checksum. Layout (little-endian):
 *
 *   0  magic "RWRSNAP1"      8 bytes
 *   8  index                 u64
 *  16  term                  u64
 *  24  configuration_index   u64
 *  32  configuration length  u64
 *  40  data length           u64
 *  48  crc32c of bytes 0..47, the configuration and the data   u32
 *  52  zero                  u32
 *  56  configuration bytes, then data bytes (nothing after them)
 *
 * Files are named snapshot-<term>-<index> (16 hex digits each) in the
 * snapshots directory and written crash-safely: a temporary name, fsync,
 * rename, fsync of the directory. */
#ifndef RR_SNAPSHOT_H
#define RR_SNAPSHOT_H

#include <raft.h>
#include <stddef.h>
#include <stdint.h>

#define RR_SNAP_HEADER 56u

/* Writes the snapshot to dirfd/name crash-safely (temp + fsync + rename +
 * directory fsync). conf is the encoded configuration. Returns 0 or a
 * RAFT_* code with a message in errmsg (RAFT_ERRMSG_BUF_SIZE bytes). */
int rr_snapshot_write(int dirfd, const char *name, const struct raft_snapshot *s,
                      const struct raft_buffer *conf, char *errmsg);

/* Reads dirfd/name into a new raft_malloc()ed snapshot (one buffer,
 * configuration decoded), checking index and term against the expected
 * ones. Treats the file as hostile. Returns 0, RAFT_NOMEM, RAFT_IOERR or
 * RAFT_CORRUPT (message in errmsg). */
int rr_snapshot_read(int dirfd, const char *name, uint64_t index, uint64_t term,
                     struct raft_snapshot **out, char *errmsg);

/* Frees a snapshot made by rr_snapshot_read() (what libraft does with the
 * ones it is given: its configuration, buffers and the struct). */
void rr_snapshot_free(struct raft_snapshot *s);

/* The file name of the snapshot with this term and index (buf >= 48). */
void rr_snapshot_name(char *buf, size_t cap, uint64_t term, uint64_t index);

/* Decodes libraft's configuration encoding (u8 version 1, u64 n, per server
 * u64 id, NUL-terminated address, u8 role; padded to 8 bytes, the padding
 * left uninitialized by libraft) into c, which
 * must be initialized and empty. Hostile input: every length is checked.
 * Returns 0, RAFT_MALFORMED or RAFT_NOMEM (c is emptied on failure). */
int rr_configuration_decode(const void *buf, size_t len, struct raft_configuration *c);

/* CRC32C (Castagnoli), software. */
uint32_t rr_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
