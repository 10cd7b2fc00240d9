/* SPDX-License-Identifier: MIT */
/* Where a camera under a static SRTP key keeps its packet index across
 * restarts. AES-GCM must never see the same (key, SSRC, index) twice, so a
 * sender under a key that outlives it reserves indices ahead, durably,
 * before it uses them, and after a restart resumes at the reservation:
 * never below an index it may have used. One small file per sender, replaced
 * atomically (temp file, fdatasync, rename, fsync of the directory), held
 * under a lock (FILE.lock) so that two senders never share it.
 *
 * The file (72 bytes, integers big-endian):
 *   0  8  magic "VIGILIDX"
 *   8  4  version, 1
 *  12  4  SSRC
 *  16  8  limit: no index at or above it has been used (below 2^48)
 *  24 32  key id: BLAKE2b-256 of the 44-byte master key and salt, keyed
 *         with "vigil sender index state" (it tells keys apart, nothing more)
 *  56 16  check: BLAKE2b-128 of bytes 0-55 */
#ifndef VIGIL_INDEX_STORE_H
#define VIGIL_INDEX_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/limits.h"

/* How far ahead a sender reserves: one write per this many packets. A
 * restart resumes at most RESERVE + 1 past the last index the camera sent
 * (it may have died just after reserving, before that packet left), plus
 * RESERVE for each restart in a row that dies in the microseconds between
 * its first reservation and its first packet. A receiver follows the jump
 * only below 2^15 (RFC 3711's ROC estimate, vigild's and libsrtp's: beyond,
 * it takes the packets for the previous ROC and refuses them all until the
 * camera restarts again). 2^13 leaves 16,383 packets lost at the end of a
 * run, or two such restarts in a row; 2^16 (a wrap's worth) would make
 * half of all restarts look like a wrap that did not happen. */
#define VIGIL_INDEX_RESERVE (UINT64_C(1) << 13)
#define VIGIL_INDEX_END (UINT64_C(1) << 48) /* SRTP's 48-bit index: a key carries no more */
#define VIGIL_INDEX_STORE_LEN 72

struct vigil_index_store;

/* Opens and locks the state at path for this SSRC under this master key
 * (key then salt) and sets *next to the first index the sender may use:
 *   - no file: a new stream, at a random sequence number with ROC 0;
 *   - the state of another key: that key's; this one starts afresh the same way;
 *   - this key's: the stored limit, which the sender must reserve beyond
 *     (vigil_index_store_reserve) before it uses it.
 * msg says which (or what is wrong). 0, or -EINVAL (no path, or too long),
 * -EBUSY (another sender holds it), -EBADMSG (corrupt: not a state file,
 * or damaged; never a reason to start at 0), -EEXIST (this key's state for
 * another SSRC: give each stream its own file), -ENOSPC (the key's 2^48
 * indices are spent: a new key), or the -errno of the I/O. */
int vigil_index_store_open(struct vigil_index_store **out, const char *path, uint32_t ssrc,
			   const uint8_t master[VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN],
			   uint64_t *next, char *msg, size_t msglen) __attribute__((warn_unused_result));

/* Durably records that no index at or above limit has been used; the
 * caller may use every index below it once this returns 0. Blocks for
 * two fsyncs. -errno, and the previous reservation stands. */
int vigil_index_store_reserve(struct vigil_index_store *st, uint64_t limit)
    __attribute__((warn_unused_result));

/* The lock is released; the file stays. NULL is fine. */
void vigil_index_store_close(struct vigil_index_store *st);

#endif
