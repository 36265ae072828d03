/*
 * wal_reader.h -- an independent reader of the segment files, written from
 * docs/format.md only (it shares no code with src/). The recovery tests use
 * it to find the bytes they damage; c_format_conformance uses it to check
 * that what the library writes is what the document says.
 */
#ifndef RAFTWAL_TEST_WAL_READER_H
#define RAFTWAL_TEST_WAL_READER_H

#include <stddef.h>
#include <stdint.h>

#define WAL_HEADER_SIZE 64
#define WAL_RECORD_HEADER 32

enum wal_record_type {
    WAL_ENTRY = 1,
    WAL_COMMIT = 2,
    WAL_HARDSTATE = 3,
    WAL_SNAPSHOT = 4,
    WAL_METADATA = 5,
    WAL_PURGE = 6,
    WAL_TRUNCATE = 7,
    WAL_CHECKPOINT = 8,
    WAL_EPOCH = 9,
    WAL_FOOTER = 10,
    WAL_SEAL = 11
};

typedef struct wal_header {
    int magic_ok, crc_ok;
    uint32_t version, header_size;
    uint32_t flags; /* bit 0: recycled (stale bytes after the records) */
    uint64_t log_id, seq, salt, first_index, prealloc;
} wal_header;

typedef struct wal_record {
    uint64_t off;  /* offset of the record header */
    uint64_t end;  /* offset just past its padding */
    uint32_t type, len, aux;
    uint64_t a, b;
    const unsigned char *payload;
} wal_record;

/* One segment file, read whole. */
typedef struct wal_file {
    char path[1024];
    char name[64];
    unsigned char *buf;
    size_t size;
    wal_header h;
} wal_file;

/* Decodes the 64-byte header; returns 1 if magic, version 1, size and CRC
 * are all right. */
int wal_parse_header(const unsigned char *buf, size_t size, wal_header *h);

/* Recomputes the header CRC (bytes 60..63) after a test changed a field. */
void wal_reseal_header(unsigned char *buf);

/* Walks the records from byte 64 under the salts of docs/format.md (EPOCH
 * switches the salt; FOOTER and SEAL use the header salt). Calls cb for
 * each valid record until cb returns non-zero, a zero header (clean end,
 * *clean = 1) or an invalid record (*clean = 0). Stops after a FOOTER.
 * Returns the offset where it stopped. */
uint64_t wal_scan(const wal_file *f, int (*cb)(const wal_record *, void *),
                  void *arg, int *clean);

/* Decodes the SEAL record that ends a sealed file; returns 1 if valid. */
int wal_read_seal(const wal_file *f, wal_record *seal);

/* Lists the *.wal files of dir (sorted) and reads them; returns how many
 * (at most max). */
size_t wal_load_dir(const char *dir, wal_file *files, size_t max);
void wal_free_files(wal_file *files, size_t n);

/* Index of the tail: the last file whose header has a non-zero first
 * index. Fails the test if there is none. */
size_t wal_tail(const wal_file *files, size_t n);

/* Finds the last ENTRY record of `index` in the files; returns the file's
 * position in files[] and fills *rec; -1 if absent. */
int wal_find_entry(const wal_file *files, size_t n, uint64_t index,
                   wal_record *rec);

/* The byte range [*start, *end) of the last whole batch of a file (from
 * its first record to the end of its COMMIT). Returns 1 if found. */
int wal_last_batch(const wal_file *f, uint64_t *start, uint64_t *end);

#endif /* RAFTWAL_TEST_WAL_READER_H */
