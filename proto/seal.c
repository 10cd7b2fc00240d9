/* SPDX-License-Identifier: MIT */
/* Sealed recording segments: the streaming writer (begin/write/end) and the whole-file reader. Secrets
 * (segment key, secretstream state) and staged plaintext live in sodium_malloc'd memory and are wiped as soon
 * as a segment ends or is abandoned. Format: docs/sealed-segments.md. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "seal.h"

#define SEAL_AD1_LABEL "vigil-seal-v1"
#define SEAL_AD2_LABEL "vigil-seal-v2"
#define SEAL_AD_MAX (sizeof(SEAL_AD2_LABEL) + VIGIL_SEAL_PLACE_BYTES)
#define SEAL_CHAIN_LABEL "vigil-chain-v2"
#define SEAL_HEAD_LABEL "vigil-head-v2"
#define SEAL_WIRE_CHUNK (VIGIL_SEAL_CHUNK + VIGIL_SEAL_ABYTES)
/* The place's fields, from the start of the place. */
#define PLACE_SEGMENT (1 + VIGIL_SEAL_NAME_MAX)
#define PLACE_RUN (PLACE_SEGMENT + 4)
#define PLACE_KIND (PLACE_RUN + VIGIL_SEAL_RUN_BYTES)
#define PLACE_PREV (PLACE_KIND + 1)
#define PLACE_TAG (PLACE_PREV + 4)

_Static_assert(VIGIL_SEAL_ABYTES == crypto_secretstream_xchacha20poly1305_ABYTES, "chunk overhead");
_Static_assert(VIGIL_SEAL_MAC_BYTES == crypto_onetimeauth_poly1305_BYTES, "chunk MAC");
_Static_assert(VIGIL_SEAL_SEALED_KEY_BYTES ==
		   crypto_box_SEALBYTES + crypto_secretstream_xchacha20poly1305_KEYBYTES,
	       "sealed key size");
_Static_assert(VIGIL_SEAL_STREAM_HEADER_BYTES == crypto_secretstream_xchacha20poly1305_HEADERBYTES,
	       "stream header");
_Static_assert(VIGIL_SEAL1_HEADER_BYTES == 112 && VIGIL_SEAL_HEADER_BYTES == 234, "header size");
_Static_assert(PLACE_TAG + VIGIL_SEAL_TAG_BYTES == VIGIL_SEAL_PLACE_BYTES, "place layout");
_Static_assert(VIGIL_SEAL_KEY_BYTES == crypto_box_PUBLICKEYBYTES &&
		   VIGIL_SEAL_KEY_BYTES == crypto_box_SECRETKEYBYTES,
	       "X25519 key size");
_Static_assert(VIGIL_SEAL_KEY_B64_BYTES ==
		   sodium_base64_ENCODED_LEN(VIGIL_SEAL_KEY_BYTES, sodium_base64_VARIANT_ORIGINAL),
	       "base64 key size");

/* Everything that must not outlive a segment, in one guarded, mlock'd allocation. */
struct seal_secret {
	crypto_secretstream_xchacha20poly1305_state st;
	uint8_t key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
};

struct vigil_seal {
	struct seal_secret *sec;
	uint8_t *plain; /* VIGIL_SEAL_CHUNK staged plaintext (sodium_malloc) */
	uint8_t *wire;	/* one encrypted chunk on its way out */
	size_t wire_len;
	size_t fill;
	uint8_t header[VIGIL_SEAL_HEADER_BYTES]; /* for the chain tag at the end */
	uint8_t ad[SEAL_AD_MAX];
	size_t adlen;
	bool active;
};

bool vigil_seal_name_ok(const char *camera)
{
	size_t n = 0;

	if (camera == NULL)
		return false;
	for (; camera[n] != '\0'; n++) {
		char c = camera[n];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			  c == '_' || c == '-';
		if (!ok || n >= VIGIL_SEAL_NAME_MAX)
			return false;
	}
	return n > 0;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* VGSEAL01: "vigil-seal-v1" 0 camera 0 segment(BE32) binds every chunk to where the segment belongs. */
static size_t seal_ad1(uint8_t ad[SEAL_AD_MAX], const char *camera, uint32_t segment)
{
	size_t n = strlen(camera);
	size_t off = 0;

	memcpy(ad, SEAL_AD1_LABEL, sizeof(SEAL_AD1_LABEL)); /* with its NUL */
	off += sizeof(SEAL_AD1_LABEL);
	memcpy(ad + off, camera, n);
	off += n;
	ad[off++] = 0;
	put_be32(ad + off, segment);
	return off + 4;
}

/* VGSEAL02: "vigil-seal-v2" 0 and the header's place. */
static size_t seal_ad2(uint8_t ad[SEAL_AD_MAX], const uint8_t place[VIGIL_SEAL_PLACE_BYTES])
{
	memcpy(ad, SEAL_AD2_LABEL, sizeof(SEAL_AD2_LABEL));
	memcpy(ad + sizeof(SEAL_AD2_LABEL), place, VIGIL_SEAL_PLACE_BYTES);
	return sizeof(SEAL_AD2_LABEL) + VIGIL_SEAL_PLACE_BYTES;
}

static bool link_ok(const struct vigil_seal_link *link)
{
	static const uint8_t zero[VIGIL_SEAL_TAG_BYTES];

	if (link->kind >= VIGIL_SEAL_LINK_KINDS)
		return false;
	/* One way to say "none": the chain tag of a file depends on it. */
	return link->kind != VIGIL_SEAL_LINK_NONE ||
	       (link->prev == 0 && memcmp(link->tag, zero, sizeof(zero)) == 0);
}

static void place_put(uint8_t p[VIGIL_SEAL_PLACE_BYTES], const char *camera, uint32_t segment,
		      const uint8_t run[VIGIL_SEAL_RUN_BYTES], const struct vigil_seal_link *link)
{
	size_t n = strlen(camera);

	memset(p, 0, VIGIL_SEAL_PLACE_BYTES);
	p[0] = (uint8_t)n;
	memcpy(p + 1, camera, n);
	put_be32(p + PLACE_SEGMENT, segment);
	memcpy(p + PLACE_RUN, run, VIGIL_SEAL_RUN_BYTES);
	p[PLACE_KIND] = (uint8_t)link->kind;
	put_be32(p + PLACE_PREV, link->prev);
	memcpy(p + PLACE_TAG, link->tag, VIGIL_SEAL_TAG_BYTES);
}

/* The place as the header has it, checked against the format. */
static bool place_get(const uint8_t p[VIGIL_SEAL_PLACE_BYTES], struct vigil_seal_info *info)
{
	size_t n = p[0];

	if (n < 1 || n > VIGIL_SEAL_NAME_MAX)
		return false;
	memcpy(info->camera, p + 1, n);
	info->camera[n] = '\0';
	for (size_t i = 1 + n; i < PLACE_SEGMENT; i++)
		if (p[i] != 0)
			return false;
	info->segment = get_be32(p + PLACE_SEGMENT);
	memcpy(info->run, p + PLACE_RUN, VIGIL_SEAL_RUN_BYTES);
	info->link.kind = (enum vigil_seal_link_kind)p[PLACE_KIND];
	info->link.prev = get_be32(p + PLACE_PREV);
	memcpy(info->link.tag, p + PLACE_TAG, VIGIL_SEAL_TAG_BYTES);
	return vigil_seal_name_ok(info->camera) && link_ok(&info->link);
}

/* A segment's head tag: BLAKE2b-256("vigil-head-v2" 0 || header). */
static void head_tag(const uint8_t hdr[VIGIL_SEAL_HEADER_BYTES], uint8_t tag[VIGIL_SEAL_TAG_BYTES])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, VIGIL_SEAL_TAG_BYTES);
	crypto_generichash_update(&st, (const uint8_t *)SEAL_HEAD_LABEL, sizeof(SEAL_HEAD_LABEL));
	crypto_generichash_update(&st, hdr, VIGIL_SEAL_HEADER_BYTES);
	crypto_generichash_final(&st, tag, VIGIL_SEAL_TAG_BYTES);
}

/* A closed segment's chain tag: BLAKE2b-256("vigil-chain-v2" 0 || header || the final chunk's MAC). The
 * header fixes the stream key; under it, the final chunk authenticates only after every chunk before it, in
 * order (the secretstream folds each chunk's MAC into the next nonce): so the tag stands for the whole file.
 */
static void chain_tag(const uint8_t hdr[VIGIL_SEAL_HEADER_BYTES], const uint8_t mac[VIGIL_SEAL_MAC_BYTES],
		      uint8_t tag[VIGIL_SEAL_TAG_BYTES])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, VIGIL_SEAL_TAG_BYTES);
	crypto_generichash_update(&st, (const uint8_t *)SEAL_CHAIN_LABEL, sizeof(SEAL_CHAIN_LABEL));
	crypto_generichash_update(&st, hdr, VIGIL_SEAL_HEADER_BYTES);
	crypto_generichash_update(&st, mac, VIGIL_SEAL_MAC_BYTES);
	crypto_generichash_final(&st, tag, VIGIL_SEAL_TAG_BYTES);
}

struct vigil_seal *vigil_seal_create(void)
{
	struct vigil_seal *s;

	if (sodium_init() < 0) {
		errno = EIO;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->sec = sodium_malloc(sizeof(*s->sec));
	s->plain = sodium_malloc(VIGIL_SEAL_CHUNK);
	s->wire = malloc(SEAL_WIRE_CHUNK);
	if (s->sec == NULL || s->plain == NULL || s->wire == NULL) {
		vigil_seal_free(s);
		errno = ENOMEM;
		return NULL;
	}
	return s;
}

void vigil_seal_free(struct vigil_seal *s)
{
	if (s == NULL)
		return;
	sodium_free(s->sec); /* sodium_free wipes */
	sodium_free(s->plain);
	free(s->wire);
	free(s);
}

bool vigil_seal_active(const struct vigil_seal *s)
{
	return s->active;
}

void vigil_seal_abort(struct vigil_seal *s)
{
	sodium_memzero(s->sec, sizeof(*s->sec));
	sodium_memzero(s->plain, VIGIL_SEAL_CHUNK); /* also what earlier whole chunks left behind */
	s->fill = 0;
	s->active = false;
}

int vigil_seal_begin(struct vigil_seal *s, const uint8_t owner_pk[VIGIL_SEAL_KEY_BYTES], const char *camera,
		     uint32_t segment, const uint8_t run[VIGIL_SEAL_RUN_BYTES],
		     const struct vigil_seal_link *link, uint8_t head[VIGIL_SEAL_TAG_BYTES],
		     vigil_seal_out_fn out, void *arg)
{
	uint8_t *hdr = s->header;
	uint8_t *sealed = hdr + VIGIL_SEAL_MAGIC_BYTES;
	uint8_t *sshdr = sealed + VIGIL_SEAL_SEALED_KEY_BYTES;
	uint8_t *place = hdr + VIGIL_SEAL1_HEADER_BYTES;

	if (s->active)
		return -EBUSY;
	if (!vigil_seal_name_ok(camera) || !link_ok(link))
		return -EINVAL;
	memcpy(hdr, VIGIL_SEAL_MAGIC, VIGIL_SEAL_MAGIC_BYTES);
	crypto_secretstream_xchacha20poly1305_keygen(s->sec->key);
	/* Fails on a low-order owner key (all-zero shared secret). */
	if (crypto_box_seal(sealed, s->sec->key, sizeof(s->sec->key), owner_pk) != 0 ||
	    crypto_secretstream_xchacha20poly1305_init_push(&s->sec->st, sshdr, s->sec->key) != 0) {
		sodium_memzero(s->sec, sizeof(*s->sec));
		return -EINVAL;
	}
	/* The state holds what it needs; the raw key has no further use here. */
	sodium_memzero(s->sec->key, sizeof(s->sec->key));
	place_put(place, camera, segment, run, link);
	s->adlen = seal_ad2(s->ad, place);
	head_tag(hdr, head);
	s->fill = 0;
	s->active = true;
	out(arg, hdr, VIGIL_SEAL_HEADER_BYTES);
	return 0;
}

static int seal_push(struct vigil_seal *s, const uint8_t *m, size_t mlen, uint8_t tag, vigil_seal_out_fn out,
		     void *arg)
{
	unsigned long long clen;

	if (crypto_secretstream_xchacha20poly1305_push(&s->sec->st, s->wire, &clen, m, mlen, s->ad, s->adlen,
						       tag) != 0) {
		vigil_seal_abort(s);
		return -EIO;
	}
	s->wire_len = (size_t)clen;
	out(arg, s->wire, (size_t)clen);
	return 0;
}

int vigil_seal_write(struct vigil_seal *s, const uint8_t *data, size_t len, vigil_seal_out_fn out, void *arg)
{
	const uint8_t tag = crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
	int rc;

	if (!s->active)
		return -EINVAL;
	while (len > 0) {
		size_t take;

		/* Whole chunks straight from the caller: no copy. A full chunk is never the last one, since
		 * the final chunk is always shorter (possibly empty), so it can go out at once. */
		if (s->fill == 0 && len >= VIGIL_SEAL_CHUNK) {
			rc = seal_push(s, data, VIGIL_SEAL_CHUNK, tag, out, arg);
			if (rc < 0)
				return rc;
			data += VIGIL_SEAL_CHUNK;
			len -= VIGIL_SEAL_CHUNK;
			continue;
		}
		take = VIGIL_SEAL_CHUNK - s->fill;
		if (take > len)
			take = len;
		memcpy(s->plain + s->fill, data, take);
		s->fill += take;
		data += take;
		len -= take;
		if (s->fill == VIGIL_SEAL_CHUNK) {
			rc = seal_push(s, s->plain, VIGIL_SEAL_CHUNK, tag, out, arg);
			if (rc < 0)
				return rc;
			s->fill = 0;
		}
	}
	return 0;
}

int vigil_seal_end(struct vigil_seal *s, uint8_t tag[VIGIL_SEAL_TAG_BYTES], vigil_seal_out_fn out, void *arg)
{
	int rc;

	if (!s->active)
		return -EINVAL;
	rc = seal_push(s, s->plain, s->fill, crypto_secretstream_xchacha20poly1305_TAG_FINAL, out, arg);
	if (rc < 0)
		return rc;
	chain_tag(s->header, s->wire + s->wire_len - VIGIL_SEAL_MAC_BYTES, tag);
	vigil_seal_abort(s);
	return 0;
}

__attribute__((format(printf, 4, 5))) static int seal_fail(char *err, size_t errlen, int rc, const char *fmt,
							   ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

#define SEAL_TRUNCATED "truncated: no final chunk (the recording was interrupted)"

/* The format version of a file that starts with these len bytes: 1, 2, or 0 (not sealed), -1 too short to
 * tell. */
static int seal_version(const uint8_t *file, size_t len)
{
	size_t n = len < VIGIL_SEAL_MAGIC_BYTES ? len : VIGIL_SEAL_MAGIC_BYTES;

	if (memcmp(file, VIGIL_SEAL_MAGIC, n) == 0)
		return n < VIGIL_SEAL_MAGIC_BYTES ? -1 : 2;
	if (memcmp(file, VIGIL_SEAL1_MAGIC, n) == 0)
		return n < VIGIL_SEAL_MAGIC_BYTES ? -1 : 1;
	return 0;
}

int vigil_seal_peek(const uint8_t *head, size_t head_len, uint64_t file_len, const uint8_t *last_mac,
		    struct vigil_seal_info *info)
{
	int version = seal_version(head, head_len);
	uint64_t rest;

	memset(info, 0, sizeof(*info));
	if (version == 0)
		return -EPROTO;
	if (version < 0)
		return -ENODATA;
	info->version = (unsigned)version;
	if (version == 1)
		return head_len < VIGIL_SEAL1_HEADER_BYTES || file_len < VIGIL_SEAL1_HEADER_BYTES ? -ENODATA
												  : 0;
	if (head_len < VIGIL_SEAL_HEADER_BYTES || file_len < VIGIL_SEAL_HEADER_BYTES)
		return -ENODATA;
	if (!place_get(head + VIGIL_SEAL1_HEADER_BYTES, info))
		return -EBADMSG;
	head_tag(head, info->head_tag);
	/* A writer's last chunk is never a whole wire chunk, and holds at least a tag. */
	rest = (file_len - VIGIL_SEAL_HEADER_BYTES) % SEAL_WIRE_CHUNK;
	info->complete = rest >= VIGIL_SEAL_ABYTES;
	if (info->complete && last_mac != NULL)
		chain_tag(head, last_mac, info->tag);
	return 0;
}

int vigil_seal_open(const uint8_t *file, size_t len, const uint8_t secret_key[VIGIL_SEAL_KEY_BYTES],
		    const char *camera, uint32_t segment, bool partial, vigil_seal_out_fn out, void *arg,
		    struct vigil_seal_info *info, char *err, size_t errlen)
{
	const uint8_t *sealed = file + VIGIL_SEAL_MAGIC_BYTES;
	const uint8_t *sshdr = sealed + VIGIL_SEAL_SEALED_KEY_BYTES;
	struct vigil_seal_info self;
	uint8_t pk[VIGIL_SEAL_KEY_BYTES];
	uint8_t ad[SEAL_AD_MAX];
	struct seal_secret *sec = NULL;
	uint8_t *plain = NULL;
	size_t adlen, off, idx, hdr_len;
	int rc, version;

	if (info == NULL)
		info = &self;
	memset(info, 0, sizeof(*info));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (camera != NULL && !vigil_seal_name_ok(camera))
		return seal_fail(err, errlen, -EINVAL, "bad camera name (1-64 of A-Z a-z 0-9 _ -)");
	version = len > 0 ? seal_version(file, len) : -1;
	if (version == 0)
		return seal_fail(err, errlen, -EPROTO, "not a sealed vigil segment (bad magic)");
	hdr_len = version == 1 ? VIGIL_SEAL1_HEADER_BYTES : VIGIL_SEAL_HEADER_BYTES;
	if (version < 0 || len < hdr_len)
		return seal_fail(err, errlen, -ENODATA, "truncated header");
	rc = vigil_seal_peek(file, len, len, NULL, info);
	if (rc == -EBADMSG)
		return seal_fail(err, errlen, rc,
				 "the header's place (camera, number, link) breaks the format");
	if (version == 1 && camera == NULL)
		return seal_fail(
		    err, errlen, -EINVAL,
		    "a VGSEAL01 segment does not say where it belongs: give its camera and number");
	if (version == 2 && camera != NULL && (strcmp(camera, info->camera) != 0 || segment != info->segment))
		return seal_fail(err, errlen, -EBADMSG,
				 "its header says camera %s, segment %08" PRIu32
				 ": moved or renamed (or the header was altered)",
				 info->camera, info->segment);
	if (version == 1) {
		snprintf(info->camera, sizeof(info->camera), "%s", camera);
		info->segment = segment;
	}
	info->complete = false;
	if (sodium_init() < 0)
		return seal_fail(err, errlen, -EIO, "libsodium cannot initialise");
	sec = sodium_malloc(sizeof(*sec));
	plain = sodium_malloc(VIGIL_SEAL_CHUNK);
	if (sec == NULL || plain == NULL) {
		rc = seal_fail(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	if (crypto_scalarmult_base(pk, secret_key) != 0 ||
	    crypto_box_seal_open(sec->key, sealed, VIGIL_SEAL_SEALED_KEY_BYTES, pk, secret_key) != 0 ||
	    crypto_secretstream_xchacha20poly1305_init_pull(&sec->st, sshdr, sec->key) != 0) {
		rc = seal_fail(err, errlen, -EKEYREJECTED,
			       "the segment key does not open with this secret key (wrong key, or the header "
			       "was altered)");
		goto out;
	}
	sodium_memzero(sec->key, sizeof(sec->key));
	adlen = version == 1 ? seal_ad1(ad, camera, segment) : seal_ad2(ad, file + VIGIL_SEAL1_HEADER_BYTES);

	for (off = hdr_len, idx = 0;; idx++) {
		size_t rem = len - off;
		size_t piece = rem < SEAL_WIRE_CHUNK ? rem : SEAL_WIRE_CHUNK;
		unsigned long long mlen;
		uint8_t tag;

		/* Nothing, or less than a tag, left: cut at (or just after) a chunk boundary. */
		if (piece < VIGIL_SEAL_ABYTES) {
			rc = seal_fail(err, errlen, partial && idx > 0 ? 1 : -ENODATA, SEAL_TRUNCATED);
			goto out;
		}
		if (crypto_secretstream_xchacha20poly1305_pull(&sec->st, plain, &mlen, &tag, file + off,
							       piece, ad, adlen) != 0) {
			if (piece < rem) {
				rc = seal_fail(err, errlen, -EBADMSG,
					       "chunk %zu at byte %zu does not authenticate (altered, or "
					       "moved from another "
					       "camera or segment number)",
					       idx, off);
			} else if (partial && idx > 0) {
				/* A recording cut mid-chunk looks exactly like an altered last chunk. */
				rc = seal_fail(err, errlen, 1,
					       "the last chunk (%zu, at byte %zu) does not authenticate: cut "
					       "short, or altered",
					       idx, off);
			} else {
				rc = seal_fail(err, errlen, -EBADMSG,
					       "chunk %zu at byte %zu does not authenticate (altered, cut "
					       "short, with data "
					       "appended, or moved from another camera or segment number)",
					       idx, off);
			}
			goto out;
		}
		/* Only MESSAGE (always a whole chunk) and FINAL are in the format; anything else is refused
		 * before its plaintext goes out. */
		if (tag != crypto_secretstream_xchacha20poly1305_TAG_FINAL &&
		    (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE || mlen != VIGIL_SEAL_CHUNK)) {
			rc = seal_fail(err, errlen, -EBADMSG,
				       "chunk %zu at byte %zu breaks the format (tag %u, %llu bytes)", idx,
				       off, tag, mlen);
			goto out;
		}
		off += piece;
		if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL && off != len) {
			rc = seal_fail(err, errlen, -EBADMSG, "data after the final chunk");
			goto out;
		}
		info->chunks++;
		out(arg, plain, (size_t)mlen);
		if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
			info->complete = true;
			if (version == 2)
				chain_tag(file, file + len - VIGIL_SEAL_MAC_BYTES, info->tag);
			rc = 0;
			goto out;
		}
	}
out:
	sodium_free(sec);
	sodium_free(plain);
	return rc;
}

int vigil_seal_keypair(uint8_t pk[VIGIL_SEAL_KEY_BYTES], uint8_t sk[VIGIL_SEAL_KEY_BYTES])
{
	if (sodium_init() < 0)
		return -EIO;
	return crypto_box_keypair(pk, sk) == 0 ? 0 : -EIO;
}

int vigil_seal_keyfile_create(const char *path, uint8_t pk[VIGIL_SEAL_KEY_BYTES], char *msg, size_t msglen)
{
	uint8_t *sk = sodium_malloc(VIGIL_SEAL_KEY_BYTES);
	char *line = sodium_malloc(VIGIL_SEAL_KEY_B64_BYTES + 1);
	size_t n;
	int fd = -1, rc = 0;

	if (sk == NULL || line == NULL || vigil_seal_keypair(pk, sk) < 0) {
		snprintf(msg, msglen, "%s: out of memory, or libsodium cannot initialise", path);
		rc = -ENOMEM;
		goto out;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		snprintf(msg, msglen, "%s: %s%s", path, strerror(errno),
			 errno == EEXIST ? " (an existing key is never overwritten)" : "");
		goto out;
	}
	vigil_seal_key_encode(sk, line);
	n = strlen(line);
	line[n++] = '\n';
	/* 0600 whatever the umask did; a key file is tiny, so one write either lands whole or fails. */
	if (fchmod(fd, 0600) != 0 || write(fd, line, n) != (ssize_t)n || fsync(fd) != 0 || close(fd) != 0) {
		rc = -errno;
		snprintf(msg, msglen, "%s: cannot write the key: %s", path, strerror(errno));
		unlink(path);
	}
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	sodium_free(sk);
	sodium_free(line);
	return rc;
}

void vigil_seal_key_encode(const uint8_t key[VIGIL_SEAL_KEY_BYTES], char b64[VIGIL_SEAL_KEY_B64_BYTES])
{
	sodium_bin2base64(b64, VIGIL_SEAL_KEY_B64_BYTES, key, VIGIL_SEAL_KEY_BYTES,
			  sodium_base64_VARIANT_ORIGINAL);
}

int vigil_seal_key_decode(uint8_t key[VIGIL_SEAL_KEY_BYTES], const char *b64)
{
	const char *end;
	size_t n;

	if (sodium_base642bin(key, VIGIL_SEAL_KEY_BYTES, b64, strlen(b64), " \t\r\n", &n, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    n != VIGIL_SEAL_KEY_BYTES || *end != '\0') {
		sodium_memzero(key, VIGIL_SEAL_KEY_BYTES);
		return -EINVAL;
	}
	return 0;
}
