/* SPDX-License-Identifier: MIT */
/* SRTP AEAD_AES_256_GCM: RFC 7714 and RFC 6188 known answers, interop
 * both ways with libsrtp2 across a ROC roll-over, and a forgery loop that
 * flips every bit of a packet; SRTCP (RFC 7714 section 9) both ways with
 * libsrtp2, encrypted and authenticated only, and its forgery loop. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include <srtp2/srtp.h>

#include "replay.h"
#include "srtp.h"

static size_t unhex(uint8_t *out, size_t cap, const char *s)
{
	size_t n = 0;

	for (; *s; s++) {
		unsigned int v;

		if (*s == ' ')
			continue;
		assert_true(n < cap && sscanf(s, "%2x", &v) == 1);
		out[n++] = (uint8_t)v;
		s++;
	}
	return n;
}

/* RFC 7714 section 16: session key and salt given directly, RTP packet
 * with SSRC 0x5501a0b2, SEQ 0xf17b, ROC 0. */
#define RFC7714_KEY256 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define RFC7714_SALT "517569642070726f2071756f"
#define RFC7714_RTP                                                                                          \
	"8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973 "                                    \
	"20646976 69736120 696e2070 61727465 73207472 6573"
/* RFC 7714 section 16.2.1, AEAD_AES_256_GCM encryption. */
#define RFC7714_SRTP256                                                                                      \
	"8040f17b 8041f8d3 5501a0b2 32b1de78 a822fe12 ef9f78fa 332e33aa b1801238 "                           \
	"9a58e2f3 b50b2a02 76ffae0f 1ba63799 b87b7aa3 db36dfff d6b0f9bb 7878d7a7 6c13"

static void rfc7714_session(struct vigil_srtp *s)
{
	uint8_t key[32], salt[12];

	assert_int_equal(unhex(key, sizeof(key), RFC7714_KEY256), 32);
	assert_int_equal(unhex(salt, sizeof(salt), RFC7714_SALT), 12);
	assert_int_equal(vigil_srtp_init_session(s, key, salt), 0);
}

static void test_rfc7714_encrypt_decrypt(void **state)
{
	struct vigil_srtp s;
	uint8_t pkt[128], want[128], plain[128];
	size_t plen = unhex(plain, sizeof(plain), RFC7714_RTP);
	size_t wlen = unhex(want, sizeof(want), RFC7714_SRTP256);

	(void)state;
	assert_int_equal(plen, 50);
	assert_int_equal(wlen, 66);
	rfc7714_session(&s);

	memcpy(pkt, plain, plen);
	assert_int_equal(vigil_srtp_encrypt(&s, pkt, plen, 12, 0x5501a0b2, 0, 0xf17b), 66);
	assert_memory_equal(pkt, want, wlen);

	/* in place: the plaintext overwrites the ciphertext */
	assert_int_equal(vigil_srtp_decrypt(&s, pkt, wlen, 12, 0x5501a0b2, 0, 0xf17b), 38);
	assert_memory_equal(pkt, plain, plen);
	vigil_srtp_wipe(&s);
}

/* RFC 6188 section 7.2: AES_256_CM_PRF key derivation, 14-byte salt. */
static void test_rfc6188_kdf(void **state)
{
	static const struct {
		uint8_t label;
		const char *out;
	} t[] = {
	    {0x00, "5ba1064e30ec51613cad926c5a28ef731ec7fb397f70a960653caf06554cd8c4"}, /* cipher key */
	    {0x01, "fd9c32d39ed5fbb5a9dc96b30818454d1313dc05"},				/* auth key */
	    {0x02, "fa31791685ca444a9e07c6c64e93"},					/* cipher salt */
	};
	uint8_t key[32], salt[14], want[32], out[32];

	(void)state;
	unhex(key, sizeof(key), "f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b6");
	unhex(salt, sizeof(salt), "3b04803de51ee7c96423ab5b78d2");
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t n = unhex(want, sizeof(want), t[i].out);

		assert_int_equal(vigil_srtp_kdf(key, salt, sizeof(salt), t[i].label, out, n), 0);
		assert_memory_equal(out, want, n);
	}
	assert_int_equal(vigil_srtp_kdf(key, salt, 15, 0, out, 32), -EINVAL);
	assert_int_equal(vigil_srtp_kdf(key, salt, 14, 0, out, 0), -EINVAL);
}

/* One RTP packet of the interop stream: header (CSRCs, extension) + payload. */
static size_t make_rtp(uint8_t *p, uint16_t seq, uint32_t ssrc, int variant, size_t payload_len,
		       size_t *hdr_len)
{
	int cc = variant & 1 ? 2 : 0, ext = variant & 2;
	size_t h = 12;

	p[0] = (uint8_t)(0x80 | (ext ? 0x10 : 0) | cc);
	p[1] = 96;
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	memcpy(p + 4, "\x12\x34\x56\x78", 4);
	p[8] = (uint8_t)(ssrc >> 24);
	p[9] = (uint8_t)(ssrc >> 16);
	p[10] = (uint8_t)(ssrc >> 8);
	p[11] = (uint8_t)ssrc;
	for (int i = 0; i < 4 * cc; i++)
		p[h++] = (uint8_t)(0xc0 + i);
	if (ext) {
		memcpy(p + h, "\xbe\xde\x00\x02\x10\xaa\x21\xbb\xcc\x00\x00\x00", 12);
		h += 12;
	}
	for (size_t i = 0; i < payload_len; i++)
		p[h + i] = (uint8_t)(seq * 7 + i);
	*hdr_len = h;
	return h + payload_len;
}

#define SSRC 0xcafebabe
#define NPKT 12

static const uint8_t master[44] = {
    0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0, 0xd6, 0x4f, 0xa3, 0x2c, 0x06, 0xde, 0x41,
    0x39, 0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe, 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6,
    0x5c, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
};
static const size_t payload_lens[NPKT] = {0, 1, 15, 16, 17, 100, 1200, 3, 64, 65, 500, 31};

static srtp_t libsrtp_session(srtp_ssrc_type_t type)
{
	srtp_policy_t pol;
	srtp_t ctx;

	memset(&pol, 0, sizeof(pol));
	srtp_crypto_policy_set_aes_gcm_256_16_auth(&pol.rtp);
	srtp_crypto_policy_set_aes_gcm_256_16_auth(&pol.rtcp);
	pol.ssrc.type = type;
	pol.ssrc.value = SSRC;
	pol.key = (unsigned char *)master;
	pol.window_size = 128;
	assert_int_equal(srtp_create(&ctx, &pol), srtp_err_status_ok);
	return ctx;
}

/* libsrtp2 protects seq 65530..5 (ROC 0 -> 1); vigil finds the ROC with
 * the replay estimator and decrypts. */
static void test_libsrtp_to_vigil(void **state)
{
	srtp_t tx = libsrtp_session(ssrc_specific);
	struct vigil_replay r;
	struct vigil_srtp s;

	(void)state;
	assert_int_equal(vigil_srtp_init(&s, master, master + 32), 0);
	vigil_replay_init(&r);
	for (int i = 0; i < NPKT; i++) {
		uint16_t seq = (uint16_t)(65530 + i);
		uint8_t plain[1400], pkt[1400 + SRTP_MAX_TRAILER_LEN];
		size_t hdr;
		int len = (int)make_rtp(plain, seq, SSRC, i % 4, payload_lens[i], &hdr);

		memcpy(pkt, plain, (size_t)len);
		assert_int_equal(srtp_protect(tx, pkt, &len), srtp_err_status_ok);
		assert_int_equal((size_t)len, hdr + payload_lens[i] + 16);

		uint64_t idx = vigil_replay_estimate(&r, seq);
		uint32_t roc = (uint32_t)(idx >> 16);
		assert_int_equal(roc, seq >= 65530 ? 0 : 1);
		assert_true(vigil_replay_check(&r, idx));

		uint8_t copy[sizeof(pkt)];
		memcpy(copy, pkt, (size_t)len);
		assert_int_equal(vigil_srtp_decrypt(&s, copy, (size_t)len, hdr, SSRC, roc ^ 1, seq),
				 -EBADMSG);

		assert_int_equal(vigil_srtp_decrypt(&s, pkt, (size_t)len, hdr, SSRC, roc, seq),
				 (int)payload_lens[i]);
		assert_memory_equal(pkt, plain, hdr + payload_lens[i]);
		vigil_replay_commit(&r, idx);
	}
	assert_int_equal(r.top, (uint64_t)1 << 16 | 5);
	vigil_srtp_wipe(&s);
	srtp_dealloc(tx);
}

/* vigil encrypts the same stream; libsrtp2 unprotects it. */
static void test_vigil_to_libsrtp(void **state)
{
	srtp_t rx = libsrtp_session(ssrc_any_inbound);
	struct vigil_srtp s;

	(void)state;
	assert_int_equal(vigil_srtp_init(&s, master, master + 32), 0);
	for (int i = 0; i < NPKT; i++) {
		uint16_t seq = (uint16_t)(65530 + i);
		uint32_t roc = seq >= 65530 ? 0 : 1;
		uint8_t plain[1400], pkt[1400 + 16];
		size_t hdr, plen = make_rtp(plain, seq, SSRC, i % 4, payload_lens[i], &hdr);
		int len;

		memcpy(pkt, plain, plen);
		len = vigil_srtp_encrypt(&s, pkt, plen, hdr, SSRC, roc, seq);
		assert_int_equal(len, (int)(plen + 16));
		assert_int_equal(srtp_unprotect(rx, pkt, &len), srtp_err_status_ok);
		assert_int_equal(len, (int)plen);
		assert_memory_equal(pkt, plain, plen);
	}
	vigil_srtp_wipe(&s);
	srtp_dealloc(rx);
}

/* Every single-bit change anywhere (header = AAD, ciphertext, tag) must
 * fail authentication, as must a wrong SSRC, SEQ, ROC or AAD boundary. */
static void test_forgery(void **state)
{
	struct vigil_srtp s;
	uint8_t good[128], pkt[128];
	size_t len = unhex(good, sizeof(good), RFC7714_SRTP256);

	(void)state;
	rfc7714_session(&s);
	for (size_t i = 0; i < len; i++) {
		for (int b = 0; b < 8; b++) {
			memcpy(pkt, good, len);
			pkt[i] ^= (uint8_t)(1u << b);
			if (vigil_srtp_decrypt(&s, pkt, len, 12, 0x5501a0b2, 0, 0xf17b) != -EBADMSG)
				fail_msg("flipping bit %d of byte %zu was not detected", b, i);
		}
	}
	memcpy(pkt, good, len);
	assert_int_equal(vigil_srtp_decrypt(&s, pkt, len, 12, 0x5501a0b3, 0, 0xf17b), -EBADMSG);
	memcpy(pkt, good, len);
	assert_int_equal(vigil_srtp_decrypt(&s, pkt, len, 12, 0x5501a0b2, 0, 0xf17c), -EBADMSG);
	memcpy(pkt, good, len);
	assert_int_equal(vigil_srtp_decrypt(&s, pkt, len, 12, 0x5501a0b2, 1, 0xf17b), -EBADMSG);
	memcpy(pkt, good, len);
	assert_int_equal(vigil_srtp_decrypt(&s, pkt, len, 16, 0x5501a0b2, 0, 0xf17b), -EBADMSG);
	memcpy(pkt, good, len);
	assert_int_equal(vigil_srtp_decrypt(&s, pkt, len - 1, 12, 0x5501a0b2, 0, 0xf17b), -EBADMSG);
	/* too short to hold header and tag */
	assert_int_equal(vigil_srtp_decrypt(&s, pkt, 27, 12, 0x5501a0b2, 0, 0xf17b), -EINVAL);
	assert_int_equal(vigil_srtp_decrypt(&s, pkt, 11, 12, 0x5501a0b2, 0, 0xf17b), -EINVAL);
	assert_int_equal(vigil_srtp_encrypt(&s, pkt, 11, 12, 0x5501a0b2, 0, 0xf17b), -EINVAL);
	/* the untouched packet still authenticates */
	memcpy(pkt, good, len);
	assert_int_equal(vigil_srtp_decrypt(&s, pkt, len, 12, 0x5501a0b2, 0, 0xf17b), 38);
	vigil_srtp_wipe(&s);
}

/* An RTCP sender report (28 bytes) of SSRC, then a receiver report with
 * one block, as a compound packet: n bytes of it. */
static size_t make_rtcp(uint8_t *p, unsigned n_first)
{
	static const uint8_t sr[28] = {0x80, 200, 0, 6, 0xca, 0xfe, 0xba, 0xbe, 1, 2, 3, 4, 5, 6, 7, 8,
				       0, 0, 0x30, 0x39, 0, 0, 0, 9, 0, 0, 0x12, 0x34};
	static const uint8_t rr[32] = {0x81, 201, 0, 7, 0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 7,
				       0, 0, 0, 1, 0, 0, 0x10, 0, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4};

	memcpy(p, sr, sizeof(sr));
	if (n_first % 2 == 0)
		return sizeof(sr);
	memcpy(p + sizeof(sr), rr, sizeof(rr));
	return sizeof(sr) + sizeof(rr);
}

static srtp_t libsrtp_rtcp_session(srtp_ssrc_type_t type, bool encrypt)
{
	srtp_policy_t pol;
	srtp_t ctx;

	memset(&pol, 0, sizeof(pol));
	srtp_crypto_policy_set_aes_gcm_256_16_auth(&pol.rtp);
	srtp_crypto_policy_set_aes_gcm_256_16_auth(&pol.rtcp);
	if (!encrypt)
		pol.rtcp.sec_serv = sec_serv_auth;
	pol.ssrc.type = type;
	pol.ssrc.value = SSRC;
	pol.key = (unsigned char *)master;
	pol.window_size = 128;
	assert_int_equal(srtp_create(&ctx, &pol), srtp_err_status_ok);
	return ctx;
}

/* libsrtp2 protects sender reports, encrypted (E set) and authenticated
 * only (E clear); vigil authenticates them, decrypts them and reads the
 * SRTCP index; under the RTP keys, or with another index, they fail. */
static void test_srtcp_libsrtp_to_vigil(void **state)
{
	struct vigil_srtp rtcp, rtp;

	(void)state;
	assert_int_equal(vigil_srtcp_init(&rtcp, master, master + 32), 0);
	assert_int_equal(vigil_srtp_init(&rtp, master, master + 32), 0);
	for (int encrypt = 0; encrypt < 2; encrypt++) {
		srtp_t tx = libsrtp_rtcp_session(ssrc_specific, encrypt);

		for (unsigned i = 0; i < 6; i++) {
			uint8_t plain[128], pkt[128 + SRTP_MAX_TRAILER_LEN], copy[sizeof(pkt)];
			int len = (int)make_rtcp(plain, i);
			size_t plen = (size_t)len;
			uint32_t index = 0;

			memcpy(pkt, plain, plen);
			assert_int_equal(srtp_protect_rtcp(tx, pkt, &len), srtp_err_status_ok);
			assert_int_equal((size_t)len, plen + VIGIL_SRTCP_TRAILER_LEN);
			assert_int_equal(pkt[len - 4] >> 7, encrypt);
			if (encrypt)
				assert_memory_not_equal(pkt + 8, plain + 8, plen - 8);
			memcpy(copy, pkt, (size_t)len);
			assert_int_equal(vigil_srtcp_decrypt(&rtp, copy, (size_t)len, &index), -EBADMSG);
			memcpy(copy, pkt, (size_t)len);
			copy[len - 1] ^= 1; /* another index */
			assert_int_equal(vigil_srtcp_decrypt(&rtcp, copy, (size_t)len, &index), -EBADMSG);
			assert_int_equal(vigil_srtcp_decrypt(&rtcp, pkt, (size_t)len, &index), (int)plen);
			assert_memory_equal(pkt, plain, plen);
			assert_int_equal(index, i + 1); /* libsrtp2 counts from 1 */
		}
		srtp_dealloc(tx);
	}
	vigil_srtp_wipe(&rtcp);
	vigil_srtp_wipe(&rtp);
}

/* vigil protects them, both ways; libsrtp2 unprotects them. */
static void test_srtcp_vigil_to_libsrtp(void **state)
{
	struct vigil_srtp s;

	(void)state;
	assert_int_equal(vigil_srtcp_init(&s, master, master + 32), 0);
	for (int encrypt = 0; encrypt < 2; encrypt++) {
		srtp_t rx = libsrtp_rtcp_session(ssrc_any_inbound, encrypt);

		for (unsigned i = 0; i < 6; i++) {
			uint8_t plain[128], pkt[128 + VIGIL_SRTCP_TRAILER_LEN];
			size_t plen = make_rtcp(plain, i);
			int len;

			memcpy(pkt, plain, plen);
			len = vigil_srtcp_encrypt(&s, pkt, plen, 1000 + i, encrypt);
			assert_int_equal(len, (int)(plen + VIGIL_SRTCP_TRAILER_LEN));
			assert_int_equal(srtp_unprotect_rtcp(rx, pkt, &len), srtp_err_status_ok);
			assert_int_equal(len, (int)plen);
			assert_memory_equal(pkt, plain, plen);
		}
		srtp_dealloc(rx);
	}
	vigil_srtp_wipe(&s);
}


/* The IV as RFC 7714 section 8.1 writes it, a byte at a time, against
 * vigil_srtp_iv, whose layout is made in registers: fields whose bytes all
 * differ, and a ROC above 16 bits, which no vector or libsrtp2 exchange
 * here reaches. */
static void test_iv_layout(void **state)
{
	static const struct {
		uint32_t ssrc, roc;
		uint16_t seq;
	} cases[] = {{0x11223344u, 0x55667788u, 0x99aa}, {0, 0, 0}, {0xffffffffu, 0xffffffffu, 0xffff},
		     {0x5501a0b2u, 0x00010000u, 0xf17b}, {1, 1, 1}};
	uint8_t salt[VIGIL_SRTP_SESSION_SALT_LEN], got[VIGIL_SRTP_IV_LEN], want[VIGIL_SRTP_IV_LEN];
	(void)state;

	for (unsigned i = 0; i < sizeof(salt); i++)
		salt[i] = (uint8_t)(0xb0 + i);
	for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const uint8_t plain[VIGIL_SRTP_IV_LEN] = {
		    0, 0, (uint8_t)(cases[c].ssrc >> 24), (uint8_t)(cases[c].ssrc >> 16), (uint8_t)(cases[c].ssrc >> 8),
		    (uint8_t)cases[c].ssrc, (uint8_t)(cases[c].roc >> 24), (uint8_t)(cases[c].roc >> 16),
		    (uint8_t)(cases[c].roc >> 8), (uint8_t)cases[c].roc, (uint8_t)(cases[c].seq >> 8),
		    (uint8_t)cases[c].seq};

		for (unsigned i = 0; i < sizeof(want); i++)
			want[i] = plain[i] ^ salt[i];
		vigil_srtp_iv(got, salt, cases[c].ssrc, cases[c].roc, cases[c].seq);
		assert_memory_equal(got, want, sizeof(want));
	}
}

/* Every single-bit change of an SRTCP packet, either kind, fails; so does
 * a packet too short for header and trailer. */
static void test_srtcp_forgery(void **state)
{
	struct vigil_srtp s;
	uint32_t index;

	(void)state;
	assert_int_equal(vigil_srtcp_init(&s, master, master + 32), 0);
	for (int encrypt = 0; encrypt < 2; encrypt++) {
		uint8_t good[128], pkt[128];
		size_t len = make_rtcp(good, 1);

		len = (size_t)vigil_srtcp_encrypt(&s, good, len, 77, encrypt);
		for (size_t i = 0; i < len; i++)
			for (int b = 0; b < 8; b++) {
				memcpy(pkt, good, len);
				pkt[i] ^= (uint8_t)(1u << b);
				if (vigil_srtcp_decrypt(&s, pkt, len, &index) != -EBADMSG)
					fail_msg("SRTCP (E=%d): flipping bit %d of byte %zu was not detected", encrypt,
						 b, i);
			}
		memcpy(pkt, good, len);
		assert_int_equal(vigil_srtcp_decrypt(&s, pkt, len - 1, &index), -EBADMSG);
		assert_int_equal(vigil_srtcp_decrypt(&s, pkt, 27, &index), -EINVAL);
		memcpy(pkt, good, len);
		assert_int_equal(vigil_srtcp_decrypt(&s, pkt, len, &index), (int)len - VIGIL_SRTCP_TRAILER_LEN);
		assert_int_equal(index, 77);
	}
	vigil_srtp_wipe(&s);
}

static void test_wipe(void **state)
{
	static const uint8_t zero[sizeof(struct vigil_srtp)];
	struct vigil_srtp s;

	(void)state;
	memset(&s, 0, sizeof(s)); /* defined padding for the comparisons */
	rfc7714_session(&s);
	assert_memory_not_equal(&s, zero, sizeof(s));
	vigil_srtp_wipe(&s);
	assert_memory_equal(&s, zero, sizeof(s));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc7714_encrypt_decrypt),
	    cmocka_unit_test(test_rfc6188_kdf),
	    cmocka_unit_test(test_libsrtp_to_vigil),
	    cmocka_unit_test(test_vigil_to_libsrtp),
	    cmocka_unit_test(test_forgery),
	    cmocka_unit_test(test_srtcp_libsrtp_to_vigil),
	    cmocka_unit_test(test_srtcp_vigil_to_libsrtp),
	    cmocka_unit_test(test_srtcp_forgery),
	    cmocka_unit_test(test_iv_layout),
	    cmocka_unit_test(test_wipe),
	};
	int ret;

	if (vigil_srtp_available()) {
		printf("1..0 # SKIP no AES-NI/PCLMUL: libsodium AES-256-GCM unavailable\n");
		return 0;
	}
	if (srtp_init() != srtp_err_status_ok) {
		printf("Bail out! srtp_init failed\n");
		return 1;
	}
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	srtp_shutdown();
	return ret;
}
