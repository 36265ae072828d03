/*
 * demo_payload.h -- the deterministic entries `raftwal demo` writes.
 *
 * An entry's type and bytes are a function of its (index, term) alone, so
 * the demo can re-verify a log it wrote in an earlier run, and tests (in any
 * language) can recompute what `raftwal dump --json` must show. The rule,
 * which tests/cli/test_cli.py mirrors:
 *
 *   size  = 16 + (index * 37) % 1000                      (16..1015 bytes)
 *   index % 8 == 0: type 1, binary:
 *           byte[i] = (index * 131 + term * 31 + i * 7) mod 256
 *   otherwise: type 0, text: the string "entry <index> term <term>; "
 *           (decimal numbers) repeated and cut to `size` bytes
 */
#ifndef RAFTWAL_DEMO_PAYLOAD_H
#define RAFTWAL_DEMO_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

/* The largest payload demo_payload() makes. */
#define DEMO_PAYLOAD_MAX 1015u

/* The payload's size for this index. */
size_t demo_payload_size(uint64_t index);

/* The entry type for this index. */
uint32_t demo_payload_type(uint64_t index);

/* Writes the payload of (index, term) into buf (at least
 * demo_payload_size(index) bytes) and returns its size. */
size_t demo_payload(uint64_t index, uint64_t term, unsigned char *buf);

#endif /* RAFTWAL_DEMO_PAYLOAD_H */
