/* SPDX-License-Identifier: MIT */
/* Sealed segments: round trips fed in irregular writes, the format checked by an independent reader built
 * from libsodium calls, and every way a segment can be wrong (wrong key, each byte flipped, cut short,
 * swapped, moved, extended, header spliced) refused with its reason, with nothing unauthenticated coming out.
 * The chain fields: authenticated, and the head and chain tags as the format defines them. The format
 * before chains (VGSEAL01) still opens. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sodium.h>

#include "seal.h"

#define CH VIGIL_SEAL_CHUNK
#define WIRE (VIGIL_SEAL_CHUNK + VIGIL_SEAL_ABYTES)
#define HDR VIGIL_SEAL_HEADER_BYTES
#define HDR1 VIGIL_SEAL1_HEADER_BYTES
#define PLACE VIGIL_SEAL_PLACE_BYTES
#define MSG_KEY "the segment key does not open with this secret key (wrong key, or the header was altered)"
#define MSG_TRUNC "truncated: no final chunk (the recording was interrupted)"

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void buf_out(void *arg, const uint8_t *data, size_t len)
{
	struct buf *b = arg;

	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	if (len > 0)
		memcpy(b->p + b->len, data, len);
	b->len += len;
}

static void buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

struct keys {
	uint8_t pk[VIGIL_SEAL_KEY_BYTES], sk[VIGIL_SEAL_KEY_BYTES];
	uint8_t pk2[VIGIL_SEAL_KEY_BYTES], sk2[VIGIL_SEAL_KEY_BYTES];
};

static struct keys K;
static const uint8_t RUN[VIGIL_SEAL_RUN_BYTES] = "run-id-for-tests";
static const struct vigil_seal_link FIRST = {.kind = VIGIL_SEAL_LINK_NONE};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static size_t expected_len(size_t n)
{
	return HDR + n + VIGIL_SEAL_ABYTES * (n / CH + 1);
}

/* Seals plain in writes of irregular sizes (0 included) when irregular, else in one write, after the segment
 * link names; head and tag (or NULL) get its head and chain tags. */
static struct buf seal_linked(const uint8_t *plain, size_t n, const char *camera, uint32_t segment,
			      bool irregular, const struct vigil_seal_link *link, uint8_t *head, uint8_t *tag)
{
	struct vigil_seal *s = vigil_seal_create();
	uint8_t h[VIGIL_SEAL_TAG_BYTES], t[VIGIL_SEAL_TAG_BYTES];
	struct buf b = {0};
	size_t off = 0;

	assert_non_null(s);
	assert_int_equal(vigil_seal_begin(s, K.pk, camera, segment, RUN, link, h, buf_out, &b), 0);
	assert_int_equal(b.len, HDR);
	while (off < n) {
		size_t w = n - off;

		if (irregular) {
			static const size_t sizes[] = {0, 1, 7, 4096, CH - 1, CH, CH + 1, 100000, 188 * 7};
			size_t pick = sizes[rng() % (sizeof(sizes) / sizeof(sizes[0]))];
			w = pick < w ? pick : w;
		}
		assert_int_equal(vigil_seal_write(s, plain + off, w, buf_out, &b), 0);
		off += w;
	}
	assert_int_equal(vigil_seal_end(s, t, buf_out, &b), 0);
	assert_false(vigil_seal_active(s));
	vigil_seal_free(s);
	if (head != NULL)
		memcpy(head, h, sizeof(h));
	if (tag != NULL)
		memcpy(tag, t, sizeof(t));
	return b;
}

static struct buf seal(const uint8_t *plain, size_t n, const char *camera, uint32_t segment, bool irregular)
{
	return seal_linked(plain, n, camera, segment, irregular, &FIRST, NULL, NULL);
}

static uint8_t *random_bytes(size_t n)
{
	uint8_t *p = malloc(n + 1);

	assert_non_null(p);
	randombytes_buf(p, n);
	return p;
}

static int open_file(const struct buf *f, const uint8_t *sk, const char *camera, uint32_t segment,
		     bool partial, struct buf *out, char err[VIGIL_SEAL_ERR_BYTES])
{
	return vigil_seal_open(f->p, f->len, sk, camera, segment, partial, buf_out, out, NULL, err,
			       VIGIL_SEAL_ERR_BYTES);
}

/* The reader's output must be whole authenticated chunks of the plaintext, in order, and nothing else. */
static void assert_prefix_of_whole_chunks(const struct buf *out, const uint8_t *plain, size_t n)
{
	assert_true(out->len <= n);
	assert_true(out->len % CH == 0 || out->len == n);
	if (out->len > 0)
		assert_memory_equal(out->p, plain, out->len);
}

static void test_round_trip(void **state)
{
	static const size_t sizes[] = {0, 1, CH - 1, CH, CH + 1, 2 * CH, 3 * CH + 5, (1 << 20) + 12345};
	(void)state;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (int irregular = 0; irregular < 2; irregular++) {
			uint8_t *plain = random_bytes(sizes[i]);
			struct buf f = seal(plain, sizes[i], "lobby", 12, irregular);
			struct buf out = {0};
			char err[VIGIL_SEAL_ERR_BYTES];

			assert_int_equal(f.len, expected_len(sizes[i]));
			assert_memory_equal(f.p, "VGSEAL02", 8);
			assert_int_equal(open_file(&f, K.sk, "lobby", 12, false, &out, err), 0);
			assert_int_equal(out.len, sizes[i]);
			if (sizes[i] > 0)
				assert_memory_equal(out.p, plain, sizes[i]);
			/* partial on a complete segment is just complete */
			out.len = 0;
			assert_int_equal(open_file(&f, K.sk, "lobby", 12, true, &out, err), 0);
			assert_int_equal(out.len, sizes[i]);
			buf_free(&f);
			buf_free(&out);
			free(plain);
		}
	}
}

/* VGSEAL01's additional data. */
static void ad1_for(uint8_t *ad, size_t *adlen, const char *camera, uint32_t segment)
{
	size_t n = strlen(camera);

	memcpy(ad, "vigil-seal-v1", 14); /* with its 0 byte */
	memcpy(ad + 14, camera, n);
	ad[14 + n] = 0;
	ad[15 + n] = (uint8_t)(segment >> 24);
	ad[16 + n] = (uint8_t)(segment >> 16);
	ad[17 + n] = (uint8_t)(segment >> 8);
	ad[18 + n] = (uint8_t)segment;
	*adlen = 19 + n;
}

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* The place, byte by byte as docs/sealed-segments.md lays it out. */
static void place_for(uint8_t place[PLACE], const char *camera, uint32_t segment,
		      const struct vigil_seal_link *link)
{
	size_t n = strlen(camera);

	memset(place, 0, PLACE);
	place[0] = (uint8_t)n;
	memcpy(place + 1, camera, n);
	be32(place + 65, segment);
	memcpy(place + 69, RUN, 16);
	place[85] = (uint8_t)link->kind;
	be32(place + 86, link->prev);
	memcpy(place + 90, link->tag, 32);
}

/* VGSEAL02's: "vigil-seal-v2" 0, then the place. */
static void ad_for(uint8_t *ad, size_t *adlen, const uint8_t place[PLACE])
{
	memcpy(ad, "vigil-seal-v2", 14);
	memcpy(ad + 14, place, PLACE);
	*adlen = 14 + PLACE;
}

/* BLAKE2b-256 of label (with its 0 byte), a and b. */
static void blake(uint8_t out[32], const char *label, const uint8_t *a, size_t alen, const uint8_t *b,
		  size_t blen)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)label, strlen(label) + 1);
	crypto_generichash_update(&st, a, alen);
	crypto_generichash_update(&st, b, blen);
	crypto_generichash_final(&st, out, 32);
}

/* The format as docs/sealed-segments.md states it, read with libsodium alone. */
static void test_format_independent_reader(void **state)
{
	const size_t n = 2 * CH + 777;
	uint8_t *plain = random_bytes(n);
	struct vigil_seal_link link = {.kind = VIGIL_SEAL_LINK_CRASHED, .prev = 0x01020300};
	uint8_t head[32], chain[32], want[32], place[PLACE];
	struct buf f;
	crypto_secretstream_xchacha20poly1305_state st;
	uint8_t key[32], ad[200], m[CH];
	unsigned long long mlen;
	size_t adlen, off = HDR;
	uint8_t tag;
	(void)state;

	memset(link.tag, 0xab, sizeof(link.tag));
	f = seal_linked(plain, n, "cam_2-B", 0x01020304, true, &link, head, chain);
	assert_int_equal(HDR, 234);
	assert_memory_equal(f.p, "VGSEAL02", 8);
	place_for(place, "cam_2-B", 0x01020304, &link);
	assert_memory_equal(f.p + 112, place, PLACE);
	assert_memory_equal(f.p + 112 + 65, "\x01\x02\x03\x04", 4);
	assert_int_equal(crypto_box_seal_open(key, f.p + 8, 80, K.pk, K.sk), 0);
	assert_int_equal(crypto_secretstream_xchacha20poly1305_init_pull(&st, f.p + 88, key), 0);
	ad_for(ad, &adlen, place);
	assert_int_equal(adlen, 14 + 122);
	/* The tags: of the header, and of the header and the final chunk's MAC. */
	blake(want, "vigil-head-v2", f.p, HDR, NULL, 0);
	assert_memory_equal(head, want, 32);
	blake(want, "vigil-chain-v2", f.p, HDR, f.p + f.len - 16, 16);
	assert_memory_equal(chain, want, 32);
	for (int i = 0; i < 3; i++) {
		size_t piece = i < 2 ? WIRE : 777 + VIGIL_SEAL_ABYTES;

		assert_int_equal(crypto_secretstream_xchacha20poly1305_pull(&st, m, &mlen, &tag, f.p + off,
									    piece, ad, adlen),
				 0);
		assert_int_equal(mlen, piece - VIGIL_SEAL_ABYTES);
		assert_int_equal(tag, i < 2 ? crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
					    : crypto_secretstream_xchacha20poly1305_TAG_FINAL);
		assert_memory_equal(m, plain + (size_t)i * CH, mlen);
		off += piece;
	}
	assert_int_equal(off, f.len);
	buf_free(&f);
	free(plain);
}

/* A file written by hand with libsodium: chunk sizes and tags as given, so cases the writer never makes can
 * be built. */
static struct buf hand_seal_v(unsigned version, const uint8_t *plain, const size_t *chunk,
			      const uint8_t *tags, int nchunks, const char *camera, uint32_t segment)
{
	crypto_secretstream_xchacha20poly1305_state st;
	struct buf b = {0};
	uint8_t hdr[HDR], key[32], ad[200], c[WIRE];
	unsigned long long clen;
	size_t adlen, off = 0;

	memcpy(hdr, version == 1 ? "VGSEAL01" : "VGSEAL02", 8);
	crypto_secretstream_xchacha20poly1305_keygen(key);
	assert_int_equal(crypto_box_seal(hdr + 8, key, 32, K.pk), 0);
	assert_int_equal(crypto_secretstream_xchacha20poly1305_init_push(&st, hdr + 88, key), 0);
	if (version == 1) {
		buf_out(&b, hdr, HDR1);
		ad1_for(ad, &adlen, camera, segment);
	} else {
		place_for(hdr + 112, camera, segment, &FIRST);
		buf_out(&b, hdr, HDR);
		ad_for(ad, &adlen, hdr + 112);
	}
	for (int i = 0; i < nchunks; i++) {
		assert_int_equal(crypto_secretstream_xchacha20poly1305_push(&st, c, &clen, plain + off,
									    chunk[i], ad, adlen, tags[i]),
				 0);
		buf_out(&b, c, clen);
		off += chunk[i];
	}
	return b;
}

static struct buf hand_seal(const uint8_t *plain, const size_t *chunk, const uint8_t *tags, int nchunks,
			    const char *camera, uint32_t segment)
{
	return hand_seal_v(2, plain, chunk, tags, nchunks, camera, segment);
}

static void test_hand_made_files(void **state)
{
	const uint8_t M = crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
	const uint8_t F = crypto_secretstream_xchacha20poly1305_TAG_FINAL;
	uint8_t *plain = random_bytes(3 * CH);
	char err[VIGIL_SEAL_ERR_BYTES];
	struct buf out = {0}, f;
	(void)state;

	/* A final chunk of a whole CH is accepted (the writer ends with a shorter one, readers need not
	 * care)... */
	f = hand_seal(plain, (const size_t[]){CH, CH}, (const uint8_t[]){M, F}, 2, "lobby", 3);
	assert_int_equal(open_file(&f, K.sk, "lobby", 3, false, &out, err), 0);
	assert_int_equal(out.len, 2 * CH);
	assert_memory_equal(out.p, plain, 2 * CH);
	/* ...and then bytes after it are seen as such, and its plaintext is held back. */
	buf_out(&f, (const uint8_t *)"junk", 4);
	out.len = 0;
	assert_int_equal(open_file(&f, K.sk, "lobby", 3, false, &out, err), -EBADMSG);
	assert_string_equal(err, "data after the final chunk");
	assert_int_equal(out.len, CH);
	buf_free(&f);

	/* A short MESSAGE chunk, or a tag outside the format, is refused before its plaintext comes out. */
	f = hand_seal(plain, (const size_t[]){CH, 10}, (const uint8_t[]){M, M}, 2, "lobby", 3);
	out.len = 0;
	assert_int_equal(open_file(&f, K.sk, "lobby", 3, false, &out, err), -EBADMSG);
	assert_non_null(strstr(err, "chunk 1 at byte"));
	assert_non_null(strstr(err, "breaks the format"));
	assert_int_equal(out.len, CH);
	buf_free(&f);
	f = hand_seal(plain, (const size_t[]){CH, 0},
		      (const uint8_t[]){crypto_secretstream_xchacha20poly1305_TAG_PUSH, F}, 2, "lobby", 3);
	out.len = 0;
	assert_int_equal(open_file(&f, K.sk, "lobby", 3, false, &out, err), -EBADMSG);
	assert_non_null(strstr(err, "breaks the format"));
	assert_int_equal(out.len, 0);
	buf_free(&f);

	/* Empty final chunk after whole chunks: what the writer makes for a multiple of CH. */
	f = hand_seal(plain, (const size_t[]){CH, 0}, (const uint8_t[]){M, F}, 2, "lobby", 3);
	struct buf w = seal(plain, CH, "lobby", 3, false);
	assert_int_equal(f.len, w.len);
	out.len = 0;
	assert_int_equal(open_file(&f, K.sk, "lobby", 3, false, &out, err), 0);
	assert_int_equal(out.len, CH);
	buf_free(&w);
	buf_free(&f);
	buf_free(&out);
	free(plain);
}

static void test_wrong_key(void **state)
{
	uint8_t *plain = random_bytes(1000);
	struct buf f = seal(plain, 1000, "lobby", 1, false);
	struct buf out = {0};
	char err[VIGIL_SEAL_ERR_BYTES];
	(void)state;

	assert_int_equal(open_file(&f, K.sk2, "lobby", 1, false, &out, err), -EKEYREJECTED);
	assert_string_equal(err, MSG_KEY);
	assert_int_equal(open_file(&f, K.sk2, "lobby", 1, true, &out, err), -EKEYREJECTED);
	/* The public key is not the secret key. */
	assert_int_equal(open_file(&f, K.pk, "lobby", 1, false, &out, err), -EKEYREJECTED);
	assert_int_equal(out.len, 0);
	buf_free(&f);
	free(plain);
}

/* Flips one byte at pos and checks the refusal, its reason, and that only whole chunks before the flip came
 * out. */
static void flip_and_check(struct buf *f, size_t pos, const uint8_t *plain, size_t n)
{
	struct buf out = {0};
	char err[VIGIL_SEAL_ERR_BYTES];
	uint8_t x = (uint8_t)(1u << (pos % 8)) | 0x10;
	size_t last_chunk = (f->len - HDR - 1) / WIRE;
	int rc;

	f->p[pos] ^= x;
	rc = open_file(f, K.sk, "lobby", 5, false, &out, err);
	if (pos < 8) {
		assert_int_equal(rc, -EPROTO);
		assert_string_equal(err, "not a sealed vigil segment (bad magic)");
	} else if (pos < 88) {
		assert_int_equal(rc, -EKEYREJECTED);
		assert_string_equal(err, MSG_KEY);
	} else if (pos >= 112 && pos < HDR) {
		/* The place: it breaks the format, names another place, or is not what the chunks bind. */
		assert_int_equal(rc, -EBADMSG);
		assert_true(strstr(err, "breaks the format") != NULL ||
			    strstr(err, "moved or renamed") != NULL ||
			    strstr(err, "chunk 0 at byte 234 does not authenticate") != NULL);
		assert_int_equal(out.len, 0);
	} else {
		size_t chunk = pos < HDR ? 0 : (pos - HDR) / WIRE;
		char want[96];

		assert_int_equal(rc, -EBADMSG);
		snprintf(want, sizeof(want), "chunk %zu at byte %zu does not authenticate", chunk,
			 HDR + chunk * WIRE);
		assert_non_null(strstr(err, want));
		assert_int_equal(out.len, chunk * CH);
	}
	assert_prefix_of_whole_chunks(&out, plain, n);
	/* partial: a flip in the last chunk (not the only one) passes as cut short; any other still refused
	 */
	out.len = 0;
	rc = open_file(f, K.sk, "lobby", 5, true, &out, err);
	if (pos >= HDR && (pos - HDR) / WIRE == last_chunk && last_chunk > 0) {
		assert_int_equal(rc, 1);
		assert_int_equal(out.len, last_chunk * CH);
		assert_non_null(strstr(err, "cut short, or altered"));
	} else {
		assert_true(rc < 0);
	}
	assert_prefix_of_whole_chunks(&out, plain, n);
	f->p[pos] ^= x;
	buf_free(&out);
}

static void test_flip_every_byte_small(void **state)
{
	uint8_t *plain = random_bytes(300);
	struct buf f = seal(plain, 300, "lobby", 5, false);
	struct buf out = {0};
	char err[VIGIL_SEAL_ERR_BYTES];
	(void)state;

	for (size_t pos = 0; pos < f.len; pos++)
		flip_and_check(&f, pos, plain, 300);
	/* and the file is intact again */
	assert_int_equal(open_file(&f, K.sk, "lobby", 5, false, &out, err), 0);
	assert_memory_equal(out.p, plain, 300);
	buf_free(&out);
	buf_free(&f);
	free(plain);
}

static void test_flip_sampled_big(void **state)
{
	const size_t n = 3 * CH + 5;
	uint8_t *plain = random_bytes(n);
	struct buf f = seal(plain, n, "lobby", 5, true);
	(void)state;

	for (size_t pos = 0; pos < HDR; pos++)
		flip_and_check(&f, pos, plain, n);
	for (size_t c = 0; c < 4; c++) {
		size_t start = HDR + c * WIRE;

		for (size_t d = 0; d < 24; d++) {
			if (start + d < f.len)
				flip_and_check(&f, start + d, plain, n);
			if (start + WIRE - 1 - d < f.len && start + WIRE - 1 - d >= start)
				flip_and_check(&f, start + WIRE - 1 - d, plain, n);
		}
	}
	for (int i = 0; i < 200; i++)
		flip_and_check(&f, HDR + rng() % (f.len - HDR), plain, n);
	flip_and_check(&f, f.len - 1, plain, n);
	buf_free(&f);
	free(plain);
}

struct cut_case {
	size_t cut;	    /* bytes kept */
	int rc;		    /* without partial */
	const char *msg;    /* substring of the reason */
	int partial_rc;	    /* with partial */
	size_t partial_len; /* plaintext then */
};

static void check_cuts(const uint8_t *plain, size_t n, const struct cut_case *cases, size_t ncases)
{
	struct buf f = seal(plain, n, "porch", 9, true);
	size_t full = f.len;

	for (size_t i = 0; i < ncases; i++) {
		struct buf out = {0};
		char err[VIGIL_SEAL_ERR_BYTES];
		int rc;

		f.len = cases[i].cut;
		rc = open_file(&f, K.sk, "porch", 9, false, &out, err);
		if (rc != cases[i].rc || strstr(err, cases[i].msg) == NULL)
			fail_msg("cut at %zu: rc %d \"%s\", expected %d \"%s\"", cases[i].cut, rc, err,
				 cases[i].rc, cases[i].msg);
		assert_prefix_of_whole_chunks(&out, plain, n);
		out.len = 0;
		rc = open_file(&f, K.sk, "porch", 9, true, &out, err);
		if (rc != cases[i].partial_rc)
			fail_msg("cut at %zu, partial: rc %d \"%s\", expected %d", cases[i].cut, rc, err,
				 cases[i].partial_rc);
		if (rc == 1) {
			assert_int_equal(out.len, cases[i].partial_len);
			assert_memory_equal(out.p, plain, out.len);
		}
		assert_prefix_of_whole_chunks(&out, plain, n);
		buf_free(&out);
	}
	f.len = full;
	buf_free(&f);
}

static void test_truncated(void **state)
{
	const size_t n = 3 * CH + 5;
	uint8_t *plain = random_bytes(n);
	const char *chunk = "does not authenticate";
	const struct cut_case cases[] = {
	    {0, -ENODATA, "truncated header", -ENODATA, 0},
	    {5, -ENODATA, "truncated header", -ENODATA, 0},
	    {8, -ENODATA, "truncated header", -ENODATA, 0},
	    {50, -ENODATA, "truncated header", -ENODATA, 0},
	    {HDR - 1, -ENODATA, "truncated header", -ENODATA, 0},
	    {HDR, -ENODATA, MSG_TRUNC, -ENODATA, 0}, /* nothing authenticated: no partial */
	    {HDR + 10, -ENODATA, MSG_TRUNC, -ENODATA, 0},
	    {HDR + 100, -EBADMSG, "chunk 0 at byte 234", -EBADMSG, 0},
	    {HDR + WIRE - 1, -EBADMSG, "chunk 0 at byte 234", -EBADMSG, 0},
	    {HDR + WIRE, -ENODATA, MSG_TRUNC, 1, CH},
	    {HDR + WIRE + 1, -ENODATA, MSG_TRUNC, 1, CH},
	    {HDR + WIRE + 16, -ENODATA, MSG_TRUNC, 1, CH},
	    {HDR + WIRE + 17, -EBADMSG, chunk, 1, CH},
	    {HDR + 2 * WIRE - 1, -EBADMSG, chunk, 1, CH},
	    {HDR + 2 * WIRE + 300, -EBADMSG, chunk, 1, 2 * CH},
	    {HDR + 3 * WIRE, -ENODATA, MSG_TRUNC, 1, 3 * CH},
	    {HDR + 3 * WIRE + 21, -EBADMSG, chunk, 1, 3 * CH},
	    {expected_len(n) - 1, -EBADMSG, chunk, 1, 3 * CH},
	    {expected_len(n), 0, "", 0, n},
	};
	(void)state;

	check_cuts(plain, n, cases, sizeof(cases) / sizeof(cases[0]));
	free(plain);
}

/* A multiple of CH ends with an empty final chunk: dropping it is a cut at a chunk boundary, and partial then
 * gives every byte but still says the end is missing. */
static void test_truncated_empty_final(void **state)
{
	const size_t n = 2 * CH;
	uint8_t *plain = random_bytes(n);
	const struct cut_case cases[] = {
	    {expected_len(n), 0, "", 0, n},
	    {expected_len(n) - 1, -ENODATA, MSG_TRUNC, 1, n}, /* less than a tag left */
	    {expected_len(n) - 17, -ENODATA, MSG_TRUNC, 1, n},
	};
	(void)state;

	check_cuts(plain, n, cases, sizeof(cases) / sizeof(cases[0]));
	free(plain);
}

static void test_swapped_and_moved(void **state)
{
	uint8_t *a = random_bytes(CH + 50), *b = random_bytes(CH + 50);
	struct buf fa = seal(a, CH + 50, "lobby", 7, true), fb = seal(b, CH + 50, "lobby", 8, true);
	struct buf out = {0};
	char err[VIGIL_SEAL_ERR_BYTES];
	(void)state;

	/* 7 and 8 swapped: each file read under the other's number */
	assert_int_equal(open_file(&fa, K.sk, "lobby", 8, false, &out, err), -EBADMSG);
	assert_string_equal(
	    err, "its header says camera lobby, segment 00000007: moved or renamed (or the header was "
		 "altered)");
	assert_int_equal(open_file(&fb, K.sk, "lobby", 7, false, &out, err), -EBADMSG);
	assert_int_equal(open_file(&fa, K.sk, "lobby", 8, true, &out, err), -EBADMSG);
	/* moved to another camera, including one whose name shares a prefix */
	assert_int_equal(open_file(&fa, K.sk, "garage", 7, false, &out, err), -EBADMSG);
	assert_int_equal(open_file(&fa, K.sk, "lobby2", 7, false, &out, err), -EBADMSG);
	assert_int_equal(open_file(&fa, K.sk, "lobb", 7, false, &out, err), -EBADMSG);
	assert_int_equal(open_file(&fa, K.sk, "Lobby", 7, false, &out, err), -EBADMSG);
	/* the header's place rewritten to where the file was moved: the chunks bind the place it had */
	{
		struct vigil_seal_link none = FIRST;
		struct buf moved = {0};

		buf_out(&moved, fa.p, fa.len);
		place_for(moved.p + 112, "garage", 8, &none);
		assert_int_equal(open_file(&moved, K.sk, "garage", 8, true, &out, err), -EBADMSG);
		assert_non_null(strstr(err, "chunk 0 at byte 234 does not authenticate"));
		buf_free(&moved);
	}
	/* a one-chunk segment moved is refused under partial too: nothing shows it belongs there */
	{
		struct buf small = seal(a, 10, "lobby", 7, false);
		assert_int_equal(open_file(&small, K.sk, "garage", 7, true, &out, err), -EBADMSG);
		buf_free(&small);
	}
	assert_int_equal(out.len, 0);
	/* chunks of the same camera and number but another segment's stream: the second chunk of b after a's
	 * first */
	{
		struct buf mix = {0};

		buf_out(&mix, fa.p, HDR + WIRE);
		buf_out(&mix, fb.p + HDR + WIRE, fb.len - HDR - WIRE);
		assert_int_equal(open_file(&mix, K.sk, "lobby", 7, false, &out, err), -EBADMSG);
		assert_non_null(strstr(err, "chunk 1 at byte"));
		assert_int_equal(out.len, CH);
		buf_free(&mix);
	}
	/* chunks reordered / duplicated within one file */
	{
		struct buf f3 = seal(a, 2 * CH + 1, "lobby", 7, false), dup = {0};

		buf_out(&dup, f3.p, HDR + WIRE);
		buf_out(&dup, f3.p + HDR, WIRE); /* chunk 0 again */
		buf_out(&dup, f3.p + HDR + WIRE, f3.len - HDR - WIRE);
		out.len = 0;
		assert_int_equal(open_file(&dup, K.sk, "lobby", 7, false, &out, err), -EBADMSG);
		assert_non_null(strstr(err, "chunk 1 at byte"));
		memcpy(dup.p + HDR, f3.p + HDR + WIRE, WIRE); /* chunks 1, 0 */
		memcpy(dup.p + HDR + WIRE, f3.p + HDR, WIRE);
		dup.len = f3.len;
		out.len = 0;
		assert_int_equal(open_file(&dup, K.sk, "lobby", 7, false, &out, err), -EBADMSG);
		assert_non_null(strstr(err, "chunk 0 at byte"));
		assert_int_equal(out.len, 0);
		buf_free(&dup);
		buf_free(&f3);
	}
	buf_free(&out);
	buf_free(&fa);
	buf_free(&fb);
	free(a);
	free(b);
}

static void test_appended(void **state)
{
	static const size_t sizes[] = {100, CH, 2 * CH + 3};
	static const size_t extra[] = {1, 16, 17, 18, WIRE, WIRE + 100};
	(void)state;

	for (size_t i = 0; i < 3; i++) {
		uint8_t *plain = random_bytes(sizes[i]);
		uint8_t *junk = random_bytes(WIRE + 100);

		for (size_t j = 0; j < sizeof(extra) / sizeof(extra[0]); j++) {
			struct buf f = seal(plain, sizes[i], "lobby", 2, true);
			struct buf out = {0};
			char err[VIGIL_SEAL_ERR_BYTES];
			int rc;

			buf_out(&f, junk, extra[j]);
			rc = open_file(&f, K.sk, "lobby", 2, false, &out, err);
			assert_int_equal(rc, -EBADMSG);
			assert_prefix_of_whole_chunks(&out, plain, sizes[i]);
			assert_true(out.len < sizes[i] || sizes[i] % CH == 0);
			buf_free(&out);
			buf_free(&f);
		}
		/* the segment's own final chunk repeated */
		{
			struct buf f = seal(plain, sizes[i], "lobby", 2, false), out = {0};
			size_t last = (sizes[i] % CH) + VIGIL_SEAL_ABYTES;
			char err[VIGIL_SEAL_ERR_BYTES];

			uint8_t *copy = malloc(last);

			assert_non_null(copy);
			memcpy(copy, f.p + f.len - last, last); /* buf_out may move f.p */
			buf_out(&f, copy, last);
			free(copy);
			assert_int_equal(open_file(&f, K.sk, "lobby", 2, false, &out, err), -EBADMSG);
			buf_free(&out);
			buf_free(&f);
		}
		free(junk);
		free(plain);
	}
}

static void test_spliced_header(void **state)
{
	uint8_t *a = random_bytes(5000), *b = random_bytes(5000);
	struct buf fa = seal(a, 5000, "lobby", 4, false), fb = seal(b, 5000, "lobby", 4, false);
	struct buf out = {0};
	char err[VIGIL_SEAL_ERR_BYTES];
	(void)state;

	/* b's sealed key in a's header: it opens (same owner) but a's chunks are not under that key */
	memcpy(fa.p + 8, fb.p + 8, 80);
	assert_int_equal(open_file(&fa, K.sk, "lobby", 4, false, &out, err), -EBADMSG);
	assert_non_null(strstr(err, "chunk 0 at byte 234 does not authenticate"));
	/* b's whole header (key and stream header) on a's chunks */
	memcpy(fa.p + 88, fb.p + 88, 24);
	assert_int_equal(open_file(&fa, K.sk, "lobby", 4, false, &out, err), -EBADMSG);
	assert_int_equal(open_file(&fa, K.sk, "lobby", 4, true, &out, err), -EBADMSG);
	assert_int_equal(out.len, 0);
	/* the same splice with the key of another owner */
	{
		struct vigil_seal *s = vigil_seal_create();
		struct buf other = {0};

		uint8_t t[32];

		assert_int_equal(vigil_seal_begin(s, K.pk2, "lobby", 4, RUN, &FIRST, t, buf_out, &other), 0);
		assert_int_equal(vigil_seal_end(s, t, buf_out, &other), 0);
		memcpy(fb.p + 8, other.p + 8, 80);
		assert_int_equal(open_file(&fb, K.sk, "lobby", 4, false, &out, err), -EKEYREJECTED);
		assert_string_equal(err, MSG_KEY);
		vigil_seal_free(s);
		buf_free(&other);
	}
	buf_free(&fa);
	buf_free(&fb);
	free(a);
	free(b);
}

static void test_fresh_key_per_segment(void **state)
{
	uint8_t plain[100] = {0};
	struct buf f1 = seal(plain, sizeof(plain), "lobby", 1, false);
	struct buf f2 = seal(plain, sizeof(plain), "lobby", 1, false);
	(void)state;

	assert_int_equal(f1.len, f2.len);
	assert_memory_not_equal(f1.p + 8, f2.p + 8, 80);
	assert_memory_not_equal(f1.p + HDR, f2.p + HDR, f1.len - HDR);
	buf_free(&f1);
	buf_free(&f2);
}

static void test_api_misuse(void **state)
{
	struct vigil_seal *s = vigil_seal_create();
	struct buf b = {0};
	uint8_t zero[32] = {0}, t[32];
	struct vigil_seal_link bad_link = FIRST;
	char name64[65], name65[66], err[VIGIL_SEAL_ERR_BYTES];
	(void)state;

	memset(name64, 'a', 64);
	name64[64] = 0;
	memset(name65, 'a', 65);
	name65[65] = 0;
	assert_non_null(s);
	assert_false(vigil_seal_active(s));
	assert_int_equal(vigil_seal_write(s, zero, 1, buf_out, &b), -EINVAL);
	assert_int_equal(vigil_seal_end(s, t, buf_out, &b), -EINVAL);
	assert_true(vigil_seal_name_ok(name64));
	assert_true(vigil_seal_name_ok("a-Z_09"));
	static const char *const bad[] = {"", "a b", "a/b", "..", "caméra", "a.b"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(vigil_seal_name_ok(bad[i]));
		assert_int_equal(vigil_seal_begin(s, K.pk, bad[i], 0, RUN, &FIRST, t, buf_out, &b), -EINVAL);
	}
	assert_int_equal(vigil_seal_begin(s, K.pk, name65, 0, RUN, &FIRST, t, buf_out, &b), -EINVAL);
	assert_int_equal(vigil_seal_begin(s, K.pk, NULL, 0, RUN, &FIRST, t, buf_out, &b), -EINVAL);
	assert_int_equal(vigil_seal_begin(s, zero, "lobby", 0, RUN, &FIRST, t, buf_out, &b),
			 -EINVAL); /* low-order owner key */
	/* A link outside the format: an unknown kind, "none" naming a segment. */
	bad_link.kind = VIGIL_SEAL_LINK_KINDS;
	assert_int_equal(vigil_seal_begin(s, K.pk, "lobby", 1, RUN, &bad_link, t, buf_out, &b), -EINVAL);
	bad_link = FIRST;
	bad_link.prev = 3;
	assert_int_equal(vigil_seal_begin(s, K.pk, "lobby", 4, RUN, &bad_link, t, buf_out, &b), -EINVAL);
	assert_int_equal(b.len, 0);
	assert_int_equal(vigil_seal_open(zero, 0, K.sk, "a b", 0, false, buf_out, &b, NULL, err, sizeof(err)),
			 -EINVAL);

	/* 64-character name, highest segment number */
	assert_int_equal(vigil_seal_begin(s, K.pk, name64, UINT32_MAX, RUN, &FIRST, t, buf_out, &b), 0);
	assert_int_equal(vigil_seal_begin(s, K.pk, name64, 1, RUN, &FIRST, t, buf_out, &b), -EBUSY);
	assert_int_equal(vigil_seal_write(s, zero, 32, buf_out, &b), 0);
	vigil_seal_abort(s);
	assert_false(vigil_seal_active(s));
	assert_int_equal(vigil_seal_write(s, zero, 1, buf_out, &b), -EINVAL);
	b.len = 0;
	assert_int_equal(vigil_seal_begin(s, K.pk, name64, UINT32_MAX, RUN, &FIRST, t, buf_out, &b), 0);
	assert_int_equal(vigil_seal_write(s, zero, 32, buf_out, &b), 0);
	assert_int_equal(vigil_seal_end(s, t, buf_out, &b), 0);
	{
		struct buf out = {0};

		assert_int_equal(open_file(&b, K.sk, name64, UINT32_MAX, false, &out, err), 0);
		assert_int_equal(out.len, 32);
		buf_free(&out);
	}
	/* a tiny error buffer is still a terminated string */
	{
		char tiny[8];

		assert_int_equal(
		    vigil_seal_open(b.p, 4, K.sk, "lobby", 0, false, buf_out, NULL, NULL, tiny, sizeof(tiny)),
		    -ENODATA);
		assert_string_equal(tiny, "truncat");
	}
	assert_int_equal(vigil_seal_open((const uint8_t *)"VGSEAL99", 8, K.sk, "lobby", 0, false, buf_out,
					 NULL, NULL, err, sizeof(err)),
			 -EPROTO);
	assert_int_equal(vigil_seal_open((const uint8_t *)"x", 1, K.sk, "lobby", 0, false, buf_out, NULL,
					 NULL, err, sizeof(err)),
			 -EPROTO);
	buf_free(&b);
	vigil_seal_free(s);
	vigil_seal_free(NULL);
}

/* A camera's chain: each segment binds the one before it by that one's chain tag (closed) or head tag (not
 * closed); what a file says of itself comes back authenticated from open and unauthenticated from peek, with
 * the same tags; the link is bound into every chunk, so it cannot be rewritten; opened under the place its
 * header names (camera NULL). */
static void test_chain(void **state)
{
	uint8_t *plain = random_bytes(CH + 9);
	uint8_t head_a[32], tag_a[32], head_b[32], tag_b[32];
	struct vigil_seal_link link = {.kind = VIGIL_SEAL_LINK_NEXT, .prev = 41};
	struct vigil_seal_info info, peek;
	struct buf a, b, out = {0};
	char err[VIGIL_SEAL_ERR_BYTES];
	(void)state;

	a = seal_linked(plain, CH + 9, "porch", 41, false, &FIRST, head_a, tag_a);
	memcpy(link.tag, tag_a, 32);
	b = seal_linked(plain, 100, "porch", 42, true, &link, head_b, tag_b);
	assert_memory_not_equal(head_a, tag_a, 32);

	assert_int_equal(
	    vigil_seal_open(b.p, b.len, K.sk, NULL, 0, false, buf_out, &out, &info, err, sizeof(err)), 0);
	assert_int_equal(info.version, 2);
	assert_string_equal(info.camera, "porch");
	assert_int_equal(info.segment, 42);
	assert_memory_equal(info.run, RUN, 16);
	assert_int_equal(info.link.kind, VIGIL_SEAL_LINK_NEXT);
	assert_int_equal(info.link.prev, 41);
	assert_memory_equal(info.link.tag, tag_a, 32);
	assert_true(info.complete);
	assert_int_equal(info.chunks, 1);
	assert_memory_equal(info.head_tag, head_b, 32);
	assert_memory_equal(info.tag, tag_b, 32);
	assert_int_equal(vigil_seal_peek(b.p, b.len, b.len, b.p + b.len - 16, &peek), 0);
	assert_memory_equal(peek.head_tag, head_b, 32);
	assert_memory_equal(peek.tag, tag_b, 32);
	assert_true(peek.complete);
	assert_int_equal(peek.link.prev, 41);

	/* a opens to the tag b binds; cut at a chunk boundary, it is no longer whole, but its head is the
	 * same */
	out.len = 0;
	assert_int_equal(
	    vigil_seal_open(a.p, a.len, K.sk, "porch", 41, false, buf_out, &out, &info, err, sizeof(err)), 0);
	assert_memory_equal(info.tag, tag_a, 32);
	assert_int_equal(info.link.kind, VIGIL_SEAL_LINK_NONE);
	assert_int_equal(vigil_seal_peek(a.p, HDR + WIRE, HDR + WIRE, a.p + HDR + WIRE - 16, &peek), 0);
	assert_false(peek.complete);
	assert_memory_equal(peek.head_tag, head_a, 32);
	out.len = 0;
	assert_int_equal(
	    vigil_seal_open(a.p, HDR + WIRE, K.sk, NULL, 0, true, buf_out, &out, &info, err, sizeof(err)), 1);
	assert_false(info.complete);
	assert_int_equal(info.chunks, 1);
	assert_int_equal(vigil_seal_peek(a.p, 40, 40, NULL, &peek), -ENODATA);
	assert_int_equal(vigil_seal_peek((const uint8_t *)"ftypisom", 8, 8, NULL, &peek), -EPROTO);

	/* Every byte of the link is bound: rewritten to name another segment or tag, or to say the one before
	 * was not closed, the chunks do not authenticate. */
	for (size_t pos = 112 + 85; pos < HDR; pos++) {
		b.p[pos] ^= 0x01;
		out.len = 0;
		assert_int_equal(open_file(&b, K.sk, "porch", 42, true, &out, err), -EBADMSG);
		assert_int_equal(out.len, 0);
		b.p[pos] ^= 0x01;
	}
	buf_free(&out);
	buf_free(&a);
	buf_free(&b);
	free(plain);
}

/* VGSEAL01, the format before chains: still opens given its place (it has none in its header), and is
 * refused without one. */
static void test_v1(void **state)
{
	const uint8_t F = crypto_secretstream_xchacha20poly1305_TAG_FINAL;
	uint8_t *plain = random_bytes(500);
	struct buf f = hand_seal_v(1, plain, (const size_t[]){500}, (const uint8_t[]){F}, 1, "lobby", 6),
		   out = {0};
	struct vigil_seal_info info;
	char err[VIGIL_SEAL_ERR_BYTES];
	(void)state;

	assert_int_equal(f.len, HDR1 + 500 + 17);
	assert_int_equal(
	    vigil_seal_open(f.p, f.len, K.sk, "lobby", 6, false, buf_out, &out, &info, err, sizeof(err)), 0);
	assert_int_equal(info.version, 1);
	assert_int_equal(out.len, 500);
	assert_memory_equal(out.p, plain, 500);
	assert_int_equal(open_file(&f, K.sk, "lobby", 7, false, &out, err), -EBADMSG);
	assert_non_null(strstr(err, "chunk 0 at byte 112 does not authenticate"));
	assert_int_equal(
	    vigil_seal_open(f.p, f.len, K.sk, NULL, 6, false, buf_out, &out, NULL, err, sizeof(err)),
	    -EINVAL);
	buf_free(&out);
	buf_free(&f);
	free(plain);
}

static void test_keys(void **state)
{
	uint8_t pk[32], sk[32], derived[32], back[32];
	char b64[VIGIL_SEAL_KEY_B64_BYTES], line[64];
	(void)state;

	assert_int_equal(vigil_seal_keypair(pk, sk), 0);
	assert_int_equal(crypto_scalarmult_base(derived, sk), 0);
	assert_memory_equal(pk, derived, 32);
	vigil_seal_key_encode(pk, b64);
	assert_int_equal(strlen(b64), 44);
	assert_int_equal(b64[43], '=');
	assert_int_equal(vigil_seal_key_decode(back, b64), 0);
	assert_memory_equal(back, pk, 32);
	snprintf(line, sizeof(line), "  %s\n", b64);
	assert_int_equal(vigil_seal_key_decode(back, line), 0);
	assert_memory_equal(back, pk, 32);
	assert_int_equal(vigil_seal_key_decode(back, ""), -EINVAL);
	assert_int_equal(vigil_seal_key_decode(back, "AAAA"), -EINVAL);
	assert_int_equal(vigil_seal_key_decode(back, "not base64 at all, not at all, not at all!!"), -EINVAL);
	snprintf(line, sizeof(line), "%sAAAA", b64);
	assert_int_equal(vigil_seal_key_decode(back, line), -EINVAL);
	snprintf(line, sizeof(line), "%.43s", b64); /* padding missing */
	assert_int_equal(vigil_seal_key_decode(back, line), -EINVAL);
	/* url-safe alphabet is another variant: refused rather than misread */
	sodium_bin2base64(line, sizeof(line), (const uint8_t[32]){[0] = 0xfb, [1] = 0xff}, 32,
			  sodium_base64_VARIANT_URLSAFE);
	assert_int_equal(vigil_seal_key_decode(back, line), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_format_independent_reader),
	    cmocka_unit_test(test_hand_made_files),
	    cmocka_unit_test(test_wrong_key),
	    cmocka_unit_test(test_flip_every_byte_small),
	    cmocka_unit_test(test_flip_sampled_big),
	    cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_truncated_empty_final),
	    cmocka_unit_test(test_swapped_and_moved),
	    cmocka_unit_test(test_appended),
	    cmocka_unit_test(test_spliced_header),
	    cmocka_unit_test(test_fresh_key_per_segment),
	    cmocka_unit_test(test_api_misuse),
	    cmocka_unit_test(test_chain),
	    cmocka_unit_test(test_v1),
	    cmocka_unit_test(test_keys),
	};

	if (sodium_init() < 0)
		return 1;
	assert_int_equal(vigil_seal_keypair(K.pk, K.sk), 0);
	assert_int_equal(vigil_seal_keypair(K.pk2, K.sk2), 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
