/* SPDX-License-Identifier: MIT */
/* The keystore: every camera's configuration and keys in one file sealed under a master key
 * (crypto_secretbox), replaced whole on each change; and the master key file (base64, mode 0600) itself.
 * libsodium only. The file layout is at the top of keystore.c. */
#ifndef VIGIL_KEYSTORE_H
#define VIGIL_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define VIGIL_KEYSTORE_KEY_LEN 32 /* crypto_secretbox_KEYBYTES */

/* Every function returns 0 or -errno; on error msg holds one line "PATH: what is wrong and what to do". */

/* Reads the master key from path: a regular file, mode 0600 or stricter (no group/other bits), owned by the
 * euid or root, holding base64 (original variant) of 32 bytes and an optional newline. key is the caller's
 * sodium_malloc'd buffer; it is wiped on failure. -ENOENT, -EPERM (mode, owner), -EINVAL (content). */
__attribute__((warn_unused_result)) int
vigil_keystore_key_read(const char *path, uint8_t key[VIGIL_KEYSTORE_KEY_LEN], char *msg, size_t msglen);

/* Loads every camera (line = 0, no parameter sets: those are not kept). -ENOENT when the file does not exist
 * (the caller treats that as empty); -EBADMSG when it does not authenticate under key (wrong key, altered,
 * damaged); -EINVAL for anything else wrong with it (magic, size, version, a camera's fields, a name, SSRC
 * or Identity twice). On success *cams is malloc'd, even for 0 cameras; the caller wipes (sodium_memzero) and
 * frees it. On failure *cams is NULL and *n 0. */
__attribute__((warn_unused_result)) int vigil_keystore_load(const char *path,
							    const uint8_t key[VIGIL_KEYSTORE_KEY_LEN],
							    struct vigil_camera_config **cams, unsigned *n,
							    char *msg, size_t msglen);

/* Replaces the file atomically: PATH.tmp (mode 0600) written whole and fsync'd, renamed over PATH, the
 * directory fsync'd. A crash leaves the old file or the new one, and at worst a PATH.tmp the next save
 * overwrites. -EINVAL, before anything is written, for cameras load would refuse. */
__attribute__((warn_unused_result)) int vigil_keystore_save(const char *path,
							    const uint8_t key[VIGIL_KEYSTORE_KEY_LEN],
							    const struct vigil_camera_config *cams,
							    unsigned n, char *msg, size_t msglen);

/* One camera as the keystore's record (its layout is at the top of
 * keystore.c), and back: -EINVAL for what a keystore never holds
 * (unknown flags, codec or retain bits, a bad name). A cluster's records
 * in etcd hold the same (cluster.c). */
#define VIGIL_KEYSTORE_RECORD_LEN 208
void vigil_keystore_record_encode(uint8_t out[VIGIL_KEYSTORE_RECORD_LEN], const struct vigil_camera_config *cam);
int vigil_keystore_record_decode(const uint8_t in[VIGIL_KEYSTORE_RECORD_LEN], struct vigil_camera_config *cam);

/* Writes a new random master key file (mode 0600). Never overwrites: -EEXIST when path exists. */
__attribute__((warn_unused_result)) int vigil_keystore_key_generate(const char *path, char *msg,
								    size_t msglen);

#endif
