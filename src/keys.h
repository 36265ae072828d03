/* keys.h -- the key registry of an encrypted log: the KEYS file, which
 * holds the log's data keys wrapped by a key derived from the user's
 * master key (docs/format.md, 7.4). Private to the library.
 *
 * A keyring is what one handle knows: the log id, the master key's check
 * value, the key-encryption key (KEK) and the unwrapped data keys by id.
 * The master key itself is not kept: the check value and the KEK are
 * derived from it when a keyring is made. Every key is wiped
 * (OPENSSL_cleanse) when the keyring is freed. No error message contains
 * key material.
 *
 * In a build without OpenSSL (no RAFTWAL_HAVE_OPENSSL) every function that
 * returns an int returns RAFTWAL_EINVAL ("no encryption in this build"),
 * except rw_keys_present() and rw_keys_remove_tmp(), which only look at
 * names; rw_keys_data_key() returns NULL. */
#ifndef RW_KEYS_H
#define RW_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "raftwal.h"

#define RW_KEYS_NAME "KEYS"
#define RW_KEYS_TMP "KEYS.tmp"
#define RW_KEYS_HEADER 48u      /* magic .. reserved */
#define RW_KEYS_ENTRY 48u       /* id, reserved, 40-byte wrapped key */
#define RW_KEYS_TRAILER 8u      /* CRC, 4 zero bytes */
#define RW_KEYS_MAX (1u << 20)  /* data keys in one file */
#define RW_KEYS_CHECK 16u       /* bytes of the check value */
#define RW_DATA_KEY 32u         /* bytes of a data key */

typedef struct rw_keyring rw_keyring;

/* 1 if the directory holds a KEYS file, 0 if not, or a negative raftwal
 * error (with the message) if it cannot be told. */
int rw_keys_present(int dirfd);

/* Makes the KEYS file of a new encrypted log: no data keys yet (N = 0;
 * the first writable open's rw_keys_new_session() adds id 1), bound to
 * log_id and master. An existing KEYS (left by a creation that crashed
 * before its first segment) is replaced. Durable before it returns (see
 * rw_keys_new_session). dirpath names the directory in messages; mode is
 * the log's file mode. *out gets the keyring; free it with
 * rw_keys_free(). */
int rw_keys_create(int dirfd, const char *dirpath, uint64_t log_id, const uint8_t master[32],
                   mode_t mode, rw_keyring **out);

/* Reads KEYS and unwraps its data keys. Checks, in this order: the file's
 * structure (magic, RAFTWAL_EVERSION for a version this code does not
 * know, lengths, CRC, reserved bytes, ids >= 1 and strictly increasing:
 * RAFTWAL_ECORRUPT naming "<dirpath>/KEYS" and the offset), that it
 * belongs to log_id (RAFTWAL_ECORRUPT), then the master key's check value
 * (RAFTWAL_EKEY "wrong key", before anything is unwrapped); a wrapped key
 * that does not unwrap under the right master key is RAFTWAL_ECORRUPT. No
 * KEYS file: RAFTWAL_EKEY ("the log is not encrypted"). */
int rw_keys_load(int dirfd, const char *dirpath, uint64_t log_id, const uint8_t master[32],
                 rw_keyring **out);

/* Starts a writable open's session: a fresh random data key with id =
 * (highest id) + 1 is added and KEYS replaced durably before it returns:
 * written to KEYS.tmp (mode), fdatasync'ed, renamed over KEYS, directory
 * fsync'ed. Ids below min_live_id are dropped from the file and the
 * keyring (0: keep all; the caller passes the key id of the salt in the
 * header of the log's first segment, docs/format.md 7.4). *id_out gets the
 * new id. On error the keyring is as before and KEYS is the old or (only
 * if the final directory fsync failed) possibly the new file. */
int rw_keys_new_session(rw_keyring *kr, int dirfd, const char *dirpath, mode_t mode,
                        uint32_t min_live_id, uint32_t *id_out);

/* The 32-byte data key with this id, or NULL if the keyring has none. The
 * pointer stays valid until the next rw_keys_new_session, rw_keys_reload
 * or rw_keys_free of the keyring. */
const uint8_t *rw_keys_data_key(const rw_keyring *kr, uint32_t id);

/* The highest data key id in the keyring (0: none). */
uint32_t rw_keys_max_id(const rw_keyring *kr);

/* For a reader meeting an id it does not have (a writer opened since):
 * reads KEYS again with the keyring's KEK and adds the keys it did not
 * have; keys it had stay (a writer may have dropped ids the reader still
 * needs for segments it holds). Errors as rw_keys_load (RAFTWAL_EKEY if
 * the log was rekeyed since); the keyring is unchanged on error. */
int rw_keys_reload(rw_keyring *kr, int dirfd, const char *dirpath);

/* Rewraps every data key of kr under new_master and replaces KEYS durably
 * (as rw_keys_new_session); on success kr holds the new check value and
 * KEK. The data keys and their ids are unchanged. */
int rw_keys_rewrap(rw_keyring *kr, int dirfd, const char *dirpath, mode_t mode,
                   const uint8_t new_master[32]);

/* Wipes every key (data keys, KEK) and frees the keyring. NULL is fine. */
void rw_keys_free(rw_keyring *kr);

/* Removes KEYS.tmp (a crash during a replacement left it). 0 if it was
 * removed or not there, else a raftwal error with the message. */
int rw_keys_remove_tmp(int dirfd);

/* ---- the file format alone, for tests and the fuzzer ---------------- */

/* Decodes a KEYS image of len bytes (hostile: any length, any bytes) with
 * the checks of rw_keys_load; `what` names the file in messages. */
int rw_keys_decode(const uint8_t *buf, size_t len, const char *what, uint64_t log_id,
                   const uint8_t master[32], rw_keyring **out);

/* Encodes kr as a KEYS image (malloc'ed; *len bytes). The encoding is
 * deterministic (RFC 3394 key wrap uses no randomness): decoding an image
 * and encoding the result gives the same bytes. */
int rw_keys_encode(const rw_keyring *kr, uint8_t **buf, size_t *len);

/* The check value of master for log_id (docs/format.md 7.4). */
int rw_keys_check_value(const uint8_t master[32], uint64_t log_id,
                        uint8_t out[RW_KEYS_CHECK]);

#endif
