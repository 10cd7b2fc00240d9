/* SPDX-License-Identifier: MIT */
/* Sealed recording segments: a segment encrypted to its camera owner's X25519 public key with a fresh
 * per-segment key (crypto_box_seal of the key, then secretstream chunks bound to camera name and segment
 * number). The writer streams; the reader takes a whole file. libsodium only. The format is in
 * docs/sealed-segments.md. */
#ifndef VIGIL_SEAL_H
#define VIGIL_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIGIL_SEAL_MAGIC "VGSEAL01"
#define VIGIL_SEAL_MAGIC_BYTES 8
#define VIGIL_SEAL_CHUNK 65536 /* plaintext bytes per chunk; the last one is shorter, possibly empty */
#define VIGIL_SEAL_ABYTES 17   /* crypto_secretstream_xchacha20poly1305_ABYTES */
#define VIGIL_SEAL_SEALED_KEY_BYTES 80 /* crypto_box_SEALBYTES + 32 */
#define VIGIL_SEAL_STREAM_HEADER_BYTES 24
#define VIGIL_SEAL_HEADER_BYTES                                                                              \
	(VIGIL_SEAL_MAGIC_BYTES + VIGIL_SEAL_SEALED_KEY_BYTES + VIGIL_SEAL_STREAM_HEADER_BYTES)
#define VIGIL_SEAL_KEY_BYTES 32	    /* X25519 public or secret key */
#define VIGIL_SEAL_KEY_B64_BYTES 45 /* base64 (original variant) of a key, with the terminating NUL */
#define VIGIL_SEAL_NAME_MAX 64
#define VIGIL_SEAL_ERR_BYTES 160 /* enough for any reason vigil_seal_open gives */

/* Receives sealed bytes (writer) or authenticated plaintext (reader). */
typedef void (*vigil_seal_out_fn)(void *arg, const uint8_t *data, size_t len);

struct vigil_seal;

/* NULL with errno set (ENOMEM, or EIO when libsodium cannot initialise). One segment at a time. */
struct vigil_seal *vigil_seal_create(void);
/* Wipes and frees; NULL is fine. */
void vigil_seal_free(struct vigil_seal *s);

/* Starts a segment and emits the VIGIL_SEAL_HEADER_BYTES header through out. -EINVAL on a bad camera name
 * ([A-Za-z0-9_-], 1-64) or an owner key libsodium refuses, -EBUSY if a segment is already open. */
__attribute__((warn_unused_result)) int vigil_seal_begin(struct vigil_seal *s,
							 const uint8_t owner_pk[VIGIL_SEAL_KEY_BYTES],
							 const char *camera, uint32_t segment,
							 vigil_seal_out_fn out, void *arg);
/* Plaintext in; each chunk is emitted as soon as it is whole. -EINVAL if no segment is open. */
__attribute__((warn_unused_result)) int vigil_seal_write(struct vigil_seal *s, const uint8_t *data,
							 size_t len, vigil_seal_out_fn out, void *arg);
/* Emits the final chunk (TAG_FINAL), then wipes the key. -EINVAL if no segment is open. */
__attribute__((warn_unused_result)) int vigil_seal_end(struct vigil_seal *s, vigil_seal_out_fn out,
						       void *arg);
/* Wipes the key and staged plaintext without writing anything (segment abandoned). Harmless when idle. */
void vigil_seal_abort(struct vigil_seal *s);
/* True between begin and end/abort. */
bool vigil_seal_active(const struct vigil_seal *s);

/* Opens a whole sealed file; only authenticated plaintext reaches out, chunk by chunk. Returns 0 when
 * complete. A refusal returns a negative errno and puts a one-line reason in err (VIGIL_SEAL_ERR_BYTES is
 * enough): -ENODATA for "truncated header" and "truncated: no final chunk (the recording was interrupted)";
 * -EPROTO for "not a sealed vigil segment (bad magic)"; -EKEYREJECTED for "the segment key does not open with
 * this secret key (wrong key, or the header was altered)"; -EBADMSG for "chunk N at byte B does not
 * authenticate (...)", "data after the final chunk" and a chunk outside the format; -EINVAL for a bad camera
 * name. Chunks already passed to out did authenticate, but the segment as a whole is refused. With partial, a
 * segment that ends without its final chunk (cut at a chunk boundary, or inside its last chunk, which cannot
 * be told from an altered last chunk) returns 1 after the chunks that authenticated, and err says what is
 * missing; at least one chunk must authenticate, else the refusal stands, since nothing then shows that the
 * file belongs to this camera and segment number. */
__attribute__((warn_unused_result)) int vigil_seal_open(const uint8_t *file, size_t len,
							const uint8_t secret_key[VIGIL_SEAL_KEY_BYTES],
							const char *camera, uint32_t segment, bool partial,
							vigil_seal_out_fn out, void *arg, char *err,
							size_t errlen);

/* A fresh X25519 key pair. -EIO if libsodium cannot initialise. */
__attribute__((warn_unused_result)) int vigil_seal_keypair(uint8_t pk[VIGIL_SEAL_KEY_BYTES],
							   uint8_t sk[VIGIL_SEAL_KEY_BYTES]);
/* A fresh X25519 key pair: the secret key written to a new file (base64 and
 * a newline, mode 0600, never over an existing file, fsync'd), the public
 * key in pk. 0 or -errno with msg "PATH: what went wrong". */
__attribute__((warn_unused_result)) int vigil_seal_keyfile_create(const char *path, uint8_t pk[VIGIL_SEAL_KEY_BYTES],
								  char *msg, size_t msglen);
/* Key <-> base64 (sodium_base64_VARIANT_ORIGINAL, 44 characters). Decode ignores surrounding whitespace and
 * returns -EINVAL unless the text is exactly one 32-byte key. */
void vigil_seal_key_encode(const uint8_t key[VIGIL_SEAL_KEY_BYTES], char b64[VIGIL_SEAL_KEY_B64_BYTES]);
__attribute__((warn_unused_result)) int vigil_seal_key_decode(uint8_t key[VIGIL_SEAL_KEY_BYTES],
							      const char *b64);
/* The camera names the format accepts: [A-Za-z0-9_-], 1-64 characters. */
bool vigil_seal_name_ok(const char *camera);

#endif
