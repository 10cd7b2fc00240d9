/* SPDX-License-Identifier: MIT */
/* Sealed recording segments: a segment encrypted to its camera owner's X25519 public key with a fresh
 * per-segment key (crypto_box_seal of the key, then secretstream chunks bound to the segment's place: its
 * camera, its number and its link to the segment before it, so a camera's segments form a chain). The writer
 * streams; the reader takes a whole file. libsodium only. The format is in docs/sealed-segments.md. */
#ifndef VIGIL_SEAL_H
#define VIGIL_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIGIL_SEAL_MAGIC "VGSEAL02"
#define VIGIL_SEAL1_MAGIC "VGSEAL01" /* the format before the chain: read, never written */
#define VIGIL_SEAL_MAGIC_BYTES 8
#define VIGIL_SEAL_CHUNK 65536 /* plaintext bytes per chunk; the last one is shorter, possibly empty */
#define VIGIL_SEAL_ABYTES 17   /* crypto_secretstream_xchacha20poly1305_ABYTES */
#define VIGIL_SEAL_MAC_BYTES 16	       /* the last bytes of every chunk */
#define VIGIL_SEAL_SEALED_KEY_BYTES 80 /* crypto_box_SEALBYTES + 32 */
#define VIGIL_SEAL_STREAM_HEADER_BYTES 24
#define VIGIL_SEAL_NAME_MAX 64
#define VIGIL_SEAL_RUN_BYTES 16 /* a vigild run's random id */
#define VIGIL_SEAL_TAG_BYTES 32 /* BLAKE2b-256: a segment's chain tag or head tag */
/* Where a segment belongs: name length, name padded with zeros, number, run, link kind, previous number and
 * tag. Authenticated as every chunk's additional data. */
#define VIGIL_SEAL_PLACE_BYTES                                                                               \
	(1 + VIGIL_SEAL_NAME_MAX + 4 + VIGIL_SEAL_RUN_BYTES + 1 + 4 + VIGIL_SEAL_TAG_BYTES)
#define VIGIL_SEAL1_HEADER_BYTES                                                                             \
	(VIGIL_SEAL_MAGIC_BYTES + VIGIL_SEAL_SEALED_KEY_BYTES + VIGIL_SEAL_STREAM_HEADER_BYTES)
#define VIGIL_SEAL_HEADER_BYTES (VIGIL_SEAL1_HEADER_BYTES + VIGIL_SEAL_PLACE_BYTES)
#define VIGIL_SEAL_KEY_BYTES 32	    /* X25519 public or secret key */
#define VIGIL_SEAL_KEY_B64_BYTES 45 /* base64 (original variant) of a key, with the terminating NUL */
#define VIGIL_SEAL_ERR_BYTES 200    /* enough for any reason vigil_seal_open gives */

/* What a segment says of the segment before it in its camera's chain: which one (number) and how it
 * ended, which says which of its tags it binds: its chain tag (it was closed whole) or its head tag (it
 * was not). The values are the format's. */
enum vigil_seal_link_kind {
	VIGIL_SEAL_LINK_NONE = 0,      /* no segment before it is known: a chain starts */
	VIGIL_SEAL_LINK_NEXT = 1,      /* the one before it in the same run, closed: chain tag */
	VIGIL_SEAL_LINK_ABANDONED = 2, /* ... abandoned after a write error: head tag */
	VIGIL_SEAL_LINK_STOPPED = 3,   /* the last of the run before, which stopped cleanly: chain tag */
	VIGIL_SEAL_LINK_CRASHED =
	    4,			  /* the last one the run before began; it did not stop cleanly: head tag */
	VIGIL_SEAL_LINK_DISK = 5, /* no state kept (no StateDir): the newest on disk, whole: chain tag */
	VIGIL_SEAL_LINK_DISK_CUT = 6, /* ... cut short: head tag */
	VIGIL_SEAL_LINK_KINDS,
};

/* Whether that kind of link binds the previous segment's head tag (else its chain tag, or nothing). */
static inline bool vigil_seal_link_by_head(enum vigil_seal_link_kind k)
{
	return k == VIGIL_SEAL_LINK_ABANDONED || k == VIGIL_SEAL_LINK_CRASHED ||
	       k == VIGIL_SEAL_LINK_DISK_CUT;
}

struct vigil_seal_link {
	enum vigil_seal_link_kind kind;
	uint32_t prev;			   /* the previous segment's number (kind != NONE) */
	uint8_t tag[VIGIL_SEAL_TAG_BYTES]; /* its chain or head tag; zeros with NONE */
};

/* What a sealed file says of itself. From vigil_seal_peek, unauthenticated; from vigil_seal_open, the
 * place fields are authenticated once a chunk authenticated. */
struct vigil_seal_info {
	unsigned version;		      /* 2, or 1 (VGSEAL01: no place in the header, no chain) */
	char camera[VIGIL_SEAL_NAME_MAX + 1]; /* v2: where it was sealed for */
	uint32_t segment;
	uint8_t run[VIGIL_SEAL_RUN_BYTES];
	struct vigil_seal_link link;
	uint8_t head_tag[VIGIL_SEAL_TAG_BYTES]; /* BLAKE2b of its header (v2) */
	bool complete;				/* vigil_seal_open: it ended with its final chunk */
	uint8_t tag[VIGIL_SEAL_TAG_BYTES];	/* chain tag: of its header and final chunk's MAC (v2) */
	size_t chunks;				/* vigil_seal_open: how many authenticated */
};

/* Receives sealed bytes (writer) or authenticated plaintext (reader). */
typedef void (*vigil_seal_out_fn)(void *arg, const uint8_t *data, size_t len);

struct vigil_seal;

/* NULL with errno set (ENOMEM, or EIO when libsodium cannot initialise). One segment at a time. */
struct vigil_seal *vigil_seal_create(void);
/* Wipes and frees; NULL is fine. */
void vigil_seal_free(struct vigil_seal *s);

/* Starts a segment and emits the VIGIL_SEAL_HEADER_BYTES header through out: segment number `segment` of
 * camera, made by run, after the segment link names. head_tag gets the header's BLAKE2b, what the next
 * segment binds if this one is never closed. -EINVAL on a bad camera name ([A-Za-z0-9_-], 1-64), a bad link
 * or an owner key libsodium refuses, -EBUSY if a segment is already open. */
__attribute__((warn_unused_result)) int
vigil_seal_begin(struct vigil_seal *s, const uint8_t owner_pk[VIGIL_SEAL_KEY_BYTES], const char *camera,
		 uint32_t segment, const uint8_t run[VIGIL_SEAL_RUN_BYTES],
		 const struct vigil_seal_link *link, uint8_t head_tag[VIGIL_SEAL_TAG_BYTES],
		 vigil_seal_out_fn out, void *arg);
/* Plaintext in; each chunk is emitted as soon as it is whole. -EINVAL if no segment is open. */
__attribute__((warn_unused_result)) int vigil_seal_write(struct vigil_seal *s, const uint8_t *data,
							 size_t len, vigil_seal_out_fn out, void *arg);
/* Emits the final chunk (TAG_FINAL), then wipes the key. tag gets the segment's chain tag, what the next
 * segment binds. -EINVAL if no segment is open. */
__attribute__((warn_unused_result)) int
vigil_seal_end(struct vigil_seal *s, uint8_t tag[VIGIL_SEAL_TAG_BYTES], vigil_seal_out_fn out, void *arg);
/* Wipes the key and staged plaintext without writing anything (segment abandoned). Harmless when idle. */
void vigil_seal_abort(struct vigil_seal *s);
/* True between begin and end/abort. */
bool vigil_seal_active(const struct vigil_seal *s);

/* Reads what the header of a sealed file says, without a key: head is the start of the file (head_len
 * bytes of it, at least its header), file_len its whole length, last_mac its last VIGIL_SEAL_MAC_BYTES (or
 * NULL). info gets the place (v2), the head tag, and the chain tag the file would have if it is whole (its
 * last bytes taken as the final chunk's MAC; the length alone says a file cut at a chunk boundary is not
 * whole: complete is set from that). Nothing is authenticated. 0, -EPROTO (bad magic), -ENODATA (shorter
 * than its header) or -EBADMSG (a header that breaks the format). */
int vigil_seal_peek(const uint8_t *head, size_t head_len, uint64_t file_len, const uint8_t *last_mac,
		    struct vigil_seal_info *info);

/* Opens a whole sealed file; only authenticated plaintext reaches out, chunk by chunk. Returns 0 when
 * complete. camera and segment: where the file was found; a v2 file whose header names another place is
 * refused (-EBADMSG, "its header says camera C, segment N: moved or renamed") before anything is decrypted.
 * With camera NULL the place is the one the header names (v2; a v1 file is then refused, -EINVAL), and the
 * caller compares it with where the file is, once info says it authenticated. A refusal returns a negative
 * errno and puts a one-line reason in err (VIGIL_SEAL_ERR_BYTES is enough): -ENODATA for "truncated header"
 * and "truncated: no final chunk (the recording was interrupted)"; -EPROTO for "not a sealed vigil segment
 * (bad magic)"; -EKEYREJECTED for "the segment key does not open with this secret key (wrong key, or the
 * header was altered)"; -EBADMSG for "chunk N at byte B does not authenticate (...)", "data after the final
 * chunk", a header or chunk outside the format and a misplaced file; -EINVAL for a bad camera name. Chunks
 * already passed to out did authenticate, but the segment as a whole is refused. With partial, a segment
 * that ends without its final chunk (cut at a chunk boundary, or inside its last chunk, which cannot be told
 * from an altered last chunk) returns 1 after the chunks that authenticated, and err says what is missing;
 * at least one chunk must authenticate, else the refusal stands, since nothing then shows that the file
 * belongs to this camera and segment number. info (or NULL) gets what the file says of itself. */
__attribute__((warn_unused_result)) int
vigil_seal_open(const uint8_t *file, size_t len, const uint8_t secret_key[VIGIL_SEAL_KEY_BYTES],
		const char *camera, uint32_t segment, bool partial, vigil_seal_out_fn out, void *arg,
		struct vigil_seal_info *info, char *err, size_t errlen);

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
