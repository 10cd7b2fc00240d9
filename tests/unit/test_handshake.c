/* SPDX-License-Identifier: MIT */
/* The handshake: HMAC/HKDF known answers, the published Noise_IK_25519_ChaChaPoly_BLAKE2b vectors, camera <->
 * server round trips, every byte of each message flipped, forgeries that pass mac1, replays, cookies under
 * load, and messages built by hand from docs/handshake.md checked against the library. */
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

#include "handshake.h"
#include "noise.h"

#define ILEN VIGIL_HS_INITIATION_LEN
#define RLEN VIGIL_HS_RESPONSE_LEN
#define CLEN VIGIL_HS_COOKIE_REPLY_LEN
#define I_MAC1 VIGIL_HS_INITIATION_MAC1_OFF
#define I_MAC2 VIGIL_HS_INITIATION_MAC2_OFF
#define R_MAC1 VIGIL_HS_RESPONSE_MAC1_OFF
#define R_MAC2 VIGIL_HS_RESPONSE_MAC2_OFF
#define RXLEN VIGIL_HS_RESPONSE_RTX_LEN /* the response to a camera that asked for RTX */
#define RX_MAC1 VIGIL_HS_RESPONSE_RTX_MAC1_OFF
#define RTX_SSRC 0x0badcafeu
#define SSRC 0x5eed1234u
#define REKEY_S 120u
#define REKEY_P (1ull << 31)

static const uint8_t SRC_A[] = {198, 18, 0, 2, 0x9c, 0x40}; /* 198.18.0.2 port 40000 */
static const uint8_t SRC_B[] = {198, 18, 0, 3, 0x9c, 0x40};

static struct {
	uint8_t cam_sk[32], cam_pk[32], cam2_sk[32], cam2_pk[32];
	uint8_t srv_sk[32], srv_pk[32], srv2_sk[32], srv2_pk[32];
} K;

static size_t unhex(uint8_t *out, size_t cap, const char *hex)
{
	size_t n = 0;

	assert_int_equal(sodium_hex2bin(out, cap, hex, strlen(hex), NULL, &n, NULL), 0);
	return n;
}

/* The formulas of docs/handshake.md, written out here independently of handshake.c. */
static void doc_mac(uint8_t out[16], const uint8_t *key, size_t keylen, const uint8_t *msg, size_t len)
{
	assert_int_equal(crypto_generichash(out, 16, msg, len, key, keylen), 0);
}

static void doc_mac1(uint8_t out[16], const uint8_t receiver_pk[32], const uint8_t *msg, size_t len)
{
	uint8_t in[40], key[64];

	memcpy(in, "mac1----", 8);
	memcpy(in + 8, receiver_pk, 32);
	assert_int_equal(crypto_generichash(key, 64, in, sizeof(in), NULL, 0), 0);
	doc_mac(out, key, sizeof(key), msg, len);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* HMAC-BLAKE2b-512 on RFC 4231's inputs (cases 1, 2 and 6, the last with a key longer than the block). The
 * outputs agree with Python's hmac + hashlib.blake2b and OpenSSL 3 `openssl mac -digest BLAKE2B512 HMAC`. */
static void test_hmac_known_answers(void **state)
{
	static const struct {
		uint8_t keybyte;
		size_t keylen;
		const char *key, *data, *mac;
	} v[] = {
	    {0x0b, 20, NULL, "Hi There",
	     "358a6a184924894fc34bee5680eedf57d84a37bb38832f288e3b27dc63a98cc8"
	     "c91e76da476b508bc6b2d408a248857452906e4a20b48c6b4b55d2df0fe1dd24"},
	    {0, 4, "Jefe", "what do ya want for nothing?",
	     "6ff884f8ddc2a6586b3c98a4cd6ebdf14ec10204b6710073eb5865ade37a2643"
	     "b8807c1335d107ecdb9ffeaeb6828c4625ba172c66379efcd222c2de11727ab4"},
	    {0xaa, 131, NULL, "Test Using Larger Than Block-Size Key - Hash Key First",
	     "a54b2943b2a20227d41ca46c0945af09bc1faefb2f49894c23aebc557fb79c48"
	     "89dca74408dc865086667aedee4a3185c53a49c80b814c4c5813ea0c8b38a8f8"},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t key[131], want[64], got[64];

		if (v[i].key != NULL)
			memcpy(key, v[i].key, v[i].keylen);
		else
			memset(key, v[i].keybyte, v[i].keylen);
		assert_int_equal(unhex(want, sizeof(want), v[i].mac), 64);
		vigil_noise_hmac(got, key, v[i].keylen, (const uint8_t *)v[i].data, strlen(v[i].data));
		assert_memory_equal(got, want, 64);
	}
}

/* Noise HKDF with three outputs; expected values from Python's hmac + hashlib.blake2b following the spec's
 * section 4.3 (temp = HMAC(ck, ikm), out1 = HMAC(temp, 01), out2 = HMAC(temp, out1 || 02), ...). */
static void test_hkdf_known_answer(void **state)
{
	uint8_t ck[64], ikm[32], o1[64], o2[64], o3[64], want[64];
	(void)state;

	memset(ck, 0xaa, sizeof(ck));
	memset(ikm, 0x66, sizeof(ikm));
	vigil_noise_hkdf(ck, ikm, sizeof(ikm), o1, o2, o3);
	unhex(want, 64,
	      "9138bc8a64c3ebe87323482140615bd6616698ba42089b463b64b2af5c4b0de7"
	      "e4e7093d9bb968a7e2e73d2b6e5e66928f994f085a881aefc60f0a315c098516");
	assert_memory_equal(o1, want, 64);
	unhex(want, 64,
	      "6d91976a2b67815ca8ee652c02d773020489913201ffd7bf13e77d6b3f5039e0"
	      "da2653bb11a6c065f38fd45a03cfe8d824363f7755d8e9ad0bda871bd205680a");
	assert_memory_equal(o2, want, 64);
	unhex(want, 64,
	      "a3217acd589978a56cbf760a6d247e1541317e471f61bab68c6d42b7f4c37ce5"
	      "917f97b4429a81821a8de5f6652dd039de2e37c0a5d20a90448dc788c7ca7fa5");
	assert_memory_equal(o3, want, 64);
	/* out1 may be the chaining key itself, as MixKey uses it */
	vigil_noise_hkdf(ck, ikm, sizeof(ikm), ck, o2, NULL);
	assert_memory_equal(ck, o1, 64);
}

struct noise_vector {
	const char *source, *prologue, *init_static, *init_ephemeral, *init_remote_static, *resp_static,
	    *resp_ephemeral, *handshake_hash;
	const char *payload[6], *ciphertext[6];
};

/* Noise_IK_25519_ChaChaPoly_BLAKE2b, byte for byte from the two files named in source. The same keys and
 * payloads with different prologues: the tags and the hash differ, the transport messages do not. */
static const struct noise_vector vectors[] = {
    {
	.source =
	    "rweather/noise-c tests/vector/noise-c-basic.txt @ cfe25410979a87391bb9ac8d4d4bef64e9f268c6",
	.prologue = "50726f6c6f677565313233",
	.init_static = "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1",
	.init_ephemeral = "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a",
	.init_remote_static = "31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62",
	.resp_static = "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893",
	.resp_ephemeral = "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b",
	.handshake_hash = "00e51d2aac81a9b8ebe441d6af3e1c8efc0f030cc608332edcb42588ff6a0ce2"
			  "6415ddc106e95277a5e6d54132f1e5245976b89caf96d262f1fe5a7f0c55c078",
	.payload = {"4c756477696720766f6e204d69736573", "4d757272617920526f746862617264",
		    "462e20412e20486179656b", "4361726c204d656e676572", "4a65616e2d426170746973746520536179",
		    "457567656e2042f6686d20766f6e2042617765726b"},
	.ciphertext = {"ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944"
		       "ba83a447b38c83e327ad936929812f624884847b7831e95e197b2f797088efdd"
		       "232fe541af156ec6d0657602902a8c3ee64e470f4b6fcd9298ce0b56fe20f86e"
		       "60d9d933ec6e103ffb09e6001d6abb64",
		       "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843"
		       "9f069b267a06b3de3ecb1043bcb09807c6cd101f3826192a65f11ef3fe4317",
		       "cd54383060e7a28434cca27fb1cc524cfbabeb18181589df219d07",
		       "a856d3bf0246bfc476c655009cd1ed677b8dcc5b349ae8ef2a05f2",
		       "49063084b2c51f098337cb8a13739ac848f907e67cfb2cc8a8b60586467aa02fc7",
		       "8b9709d23b47e4639df7678d7a21741eba4ef1e9c60383001c7435549c20f9d56f30e935d3"},
    },
    {
	.source =
	    "haskell-cryptography/cacophony vectors/cacophony.txt @ 8ee9d41e34a1a596cfa3ab12aa4069ff87dc1247",
	.prologue = "4a6f686e2047616c74",
	.init_static = "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1",
	.init_ephemeral = "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a",
	.init_remote_static = "31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62",
	.resp_static = "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893",
	.resp_ephemeral = "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b",
	.handshake_hash = "1c8fa891cb414fedba6daa7c6f4ae0a6d98e5f9768cc9cecd27e805614943ee9"
			  "c8a1b27fbfb76dc197255c8aa69f6b4285c423840b8bedf45e652ca64f797d81",
	.payload = {"4c756477696720766f6e204d69736573", "4d757272617920526f746862617264",
		    "462e20412e20486179656b", "4361726c204d656e676572", "4a65616e2d426170746973746520536179",
		    "457567656e2042f6686d20766f6e2042617765726b"},
	.ciphertext = {"ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944"
		       "ba83a447b38c83e327ad936929812f624884847b7831e95e197b2f797088efdd"
		       "2f88f1db7e1fb0e99c64419097af91cee64e470f4b6fcd9298ce0b56fe20f86e"
		       "13bf70439c538e3602a7127af71a29cc",
		       "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843"
		       "9f069b267a06b3de3ecb1043bcb098e9af91d9c64748d998c7b47890871571",
		       "cd54383060e7a28434cca27fb1cc524cfbabeb18181589df219d07",
		       "a856d3bf0246bfc476c655009cd1ed677b8dcc5b349ae8ef2a05f2",
		       "49063084b2c51f098337cb8a13739ac848f907e67cfb2cc8a8b60586467aa02fc7",
		       "8b9709d23b47e4639df7678d7a21741eba4ef1e9c60383001c7435549c20f9d56f30e935d3"},
    },
};

static void run_vector(const struct noise_vector *v)
{
	uint8_t prologue[64], is[32], ie[32], irs[32], rs[32], re[32], hash[64], hi[64], hr[64], pk[32];
	uint8_t pt[64], ct[256], out[256], got[64];
	struct vigil_noise_hs i, r;
	struct vigil_noise_cipher ic1, ic2, rc1, rc2;
	size_t plen = unhex(prologue, sizeof(prologue), v->prologue), n, m;

	print_message("# vector %s\n", v->source);
	unhex(is, 32, v->init_static);
	unhex(ie, 32, v->init_ephemeral);
	unhex(irs, 32, v->init_remote_static);
	unhex(rs, 32, v->resp_static);
	unhex(re, 32, v->resp_ephemeral);
	unhex(hash, 64, v->handshake_hash);
	assert_int_equal(vigil_noise_ik_init(&i, true, prologue, plen, is, irs), 0);
	assert_int_equal(vigil_noise_ik_init(&r, false, prologue, plen, rs, NULL), 0);

	/* message 1, initiator to responder */
	n = unhex(pt, sizeof(pt), v->payload[0]);
	m = unhex(ct, sizeof(ct), v->ciphertext[0]);
	assert_int_equal(m, VIGIL_NOISE_IK_MSG1_LEN(n));
	assert_int_equal(vigil_noise_ik_write1(&i, ie, pt, n, out), 0);
	assert_memory_equal(out, ct, m);
	assert_int_equal(vigil_noise_ik_read1(&r, ct, m, got), 0);
	assert_memory_equal(got, pt, n);
	crypto_scalarmult_base(pk, is);
	assert_memory_equal(r.rs, pk, 32);

	/* message 2, responder to initiator */
	n = unhex(pt, sizeof(pt), v->payload[1]);
	m = unhex(ct, sizeof(ct), v->ciphertext[1]);
	assert_int_equal(m, VIGIL_NOISE_IK_MSG2_LEN(n));
	assert_int_equal(vigil_noise_ik_write2(&r, re, pt, n, out), 0);
	assert_memory_equal(out, ct, m);
	assert_int_equal(vigil_noise_ik_read2(&i, ct, m, got), 0);
	assert_memory_equal(got, pt, n);

	assert_int_equal(vigil_noise_split(&i, &ic1, &ic2, hi), 0);
	assert_int_equal(vigil_noise_split(&r, &rc1, &rc2, hr), 0);
	assert_memory_equal(hi, hash, 64);
	assert_memory_equal(hr, hash, 64);
	assert_true(sodium_is_zero((const uint8_t *)&i, sizeof(i))); /* split wiped the states */

	/* transport messages alternate, initiator first: c1 one way, c2 the other, nonces 0 and 1 */
	for (int k = 2; k < 6; k++) {
		struct vigil_noise_cipher *send = k % 2 == 0 ? &ic1 : &rc2, *recv = k % 2 == 0 ? &rc1 : &ic2;

		n = unhex(pt, sizeof(pt), v->payload[k]);
		m = unhex(ct, sizeof(ct), v->ciphertext[k]);
		assert_int_equal(m, n + VIGIL_NOISE_TAGLEN);
		assert_int_equal(vigil_noise_encrypt(send, NULL, 0, pt, n, out), 0);
		assert_memory_equal(out, ct, m);
		assert_int_equal(vigil_noise_decrypt(recv, NULL, 0, ct, m, got), 0);
		assert_memory_equal(got, pt, n);
	}
	assert_int_equal(ic1.n, 2);
	assert_int_equal(ic2.n, 2);
}

static void test_noise_vectors(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(vectors) / sizeof(vectors[0]); k++)
		run_vector(&vectors[k]);
}

/* A tampered vector message is refused by the Noise layer itself (no mac1 in front of it here). */
static void test_noise_tampered(void **state)
{
	const struct noise_vector *v = &vectors[0];
	uint8_t prologue[64], is[32], ie[32], irs[32], rs[32], pt[64], msg[256], got[64];
	size_t plen = unhex(prologue, sizeof(prologue), v->prologue), n;
	struct vigil_noise_hs r;
	(void)state;

	unhex(is, 32, v->init_static);
	unhex(ie, 32, v->init_ephemeral);
	unhex(irs, 32, v->init_remote_static);
	unhex(rs, 32, v->resp_static);
	n = unhex(msg, sizeof(msg), v->ciphertext[0]);
	unhex(pt, sizeof(pt), v->payload[0]);
	for (size_t b = 0; b < n; b++) {
		msg[b] ^= 0x01;
		assert_int_equal(vigil_noise_ik_init(&r, false, prologue, plen, rs, NULL), 0);
		assert_true(vigil_noise_ik_read1(&r, msg, n, got) < 0);
		msg[b] ^= 0x01;
	}
	/* another prologue: same keys, refused */
	assert_int_equal(vigil_noise_ik_init(&r, false, (const uint8_t *)"x", 1, rs, NULL), 0);
	assert_int_equal(vigil_noise_ik_read1(&r, msg, n, got), -EKEYREJECTED);
	/* out of order */
	assert_int_equal(vigil_noise_ik_init(&r, false, prologue, plen, rs, NULL), 0);
	assert_int_equal(vigil_noise_ik_write2(&r, NULL, pt, 1, msg), -EINVAL);
	assert_int_equal(vigil_noise_ik_write1(&r, ie, pt, 1, msg), -EINVAL);
	assert_int_equal(vigil_noise_ik_init(&r, false, prologue, plen, rs, irs), -EINVAL);
}

static void test_dh_low_order(void **state)
{
	uint8_t zero[32] = {0}, one[32] = {1}, out[32];
	struct vigil_hs_initiator in;
	(void)state;

	assert_int_equal(vigil_noise_dh(out, K.cam_sk, zero), -EKEYREJECTED);
	assert_true(sodium_is_zero(out, 32));
	assert_int_equal(vigil_noise_dh(out, K.cam_sk, one), -EKEYREJECTED);
	assert_int_equal(vigil_noise_dh(out, K.cam_sk, K.srv_pk), 0);
	assert_int_equal(vigil_hs_initiator_init(&in, K.cam_sk, zero), -EINVAL);
	assert_int_equal(vigil_hs_initiator_init(&in, K.cam_sk, one), -EINVAL);
}

/* Fixtures */

static void cam_new(struct vigil_hs_initiator *cam, const uint8_t *sk, const uint8_t *server_pk)
{
	assert_int_equal(vigil_hs_initiator_init(cam, sk, server_pk), 0);
}

static void srv_new(struct vigil_hs_responder *srv, const uint8_t *sk)
{
	assert_int_equal(vigil_hs_responder_init(srv, sk), 0);
}

static void initiation(struct vigil_hs_initiator *cam, uint8_t codec, uint8_t msg[ILEN])
{
	size_t len = ILEN;

	assert_int_equal(vigil_hs_initiation_write(cam, codec, msg, &len), 0);
	assert_int_equal(len, ILEN);
}

static int read_init(struct vigil_hs_responder *srv, const uint8_t *msg, size_t len, const uint8_t *src,
		     bool under_load, struct vigil_hs_init *init, uint8_t cookie[CLEN])
{
	size_t clen = CLEN;
	int ret =
	    vigil_hs_initiation_read(srv, msg, len, src, sizeof(SRC_A), under_load, init, cookie, &clen);

	if (ret == VIGIL_HS_NEED_COOKIE)
		assert_int_equal(clen, CLEN);
	if (ret != 0)
		assert_false(init->pending);
	return ret;
}

static void response(struct vigil_hs_init *init, uint8_t msg[RLEN], struct vigil_hs_keys *keys)
{
	size_t len = RLEN;

	assert_int_equal(vigil_hs_response_write(init, SSRC, REKEY_S, REKEY_P, NULL, msg, &len, keys), 0);
	assert_int_equal(len, RLEN);
	assert_false(init->pending);
}

static void assert_keys_equal(const struct vigil_hs_keys *a, const struct vigil_hs_keys *b)
{
	assert_int_equal(a->ssrc, b->ssrc);
	assert_int_equal(a->rekey_after_s, b->rekey_after_s);
	assert_int_equal(a->rekey_after_packets, b->rekey_after_packets);
	assert_int_equal(a->has_rtx, b->has_rtx);
	assert_int_equal(a->rtx_ssrc, b->rtx_ssrc);
	assert_int_equal(a->rtx_payload_type, b->rtx_payload_type);
	assert_int_equal(a->camera_index, b->camera_index);
	assert_int_equal(a->server_index, b->server_index);
	assert_memory_equal(a->c2s, b->c2s, sizeof(a->c2s));
	assert_memory_equal(a->s2c, b->s2c, sizeof(a->s2c));
}

static void test_round_trip(void **state)
{
	struct vigil_hs_initiator cam;
	struct vigil_hs_responder srv;
	struct vigil_hs_init init;
	struct vigil_hs_keys ck, sk, first;
	uint8_t im[ILEN], rm[RLEN], ts1[12];
	(void)state;

	cam_new(&cam, K.cam_sk, K.srv_pk);
	cam.announce_fresh = true;
	srv_new(&srv, K.srv_sk);
	for (int round = 0; round < 3; round++) {
		initiation(&cam, round == 1 ? 1 : 0, im);
		assert_int_equal(im[0], VIGIL_HS_TYPE_INITIATION);
		assert_true(sodium_is_zero(im + 1, 3));
		assert_true(sodium_is_zero(im + I_MAC2, 16)); /* no cookie yet */
		assert_int_equal(read_init(&srv, im, ILEN, SRC_A, false, &init, NULL), 0);
		assert_true(init.pending);
		assert_memory_equal(init.identity, K.cam_pk, 32);
		assert_int_equal(init.codec, round == 1 ? 1 : 0);
		assert_int_equal(init.sender_index, le32(im + 4));
		/* fresh until the camera has taken a response: then its index goes on */
		assert_int_equal(init.fresh, round == 0);
		if (round > 0)
			assert_int_equal(vigil_hs_timestamp_cmp(init.timestamp, ts1), 1);
		memcpy(ts1, init.timestamp, 12);
		response(&init, rm, &sk);
		assert_int_equal(rm[0], VIGIL_HS_TYPE_RESPONSE);
		assert_int_equal(le32(rm + 8), le32(im + 4));
		assert_true(sodium_is_zero(rm + R_MAC2, 16));
		assert_int_equal(vigil_hs_response_read(&cam, rm, RLEN, &ck), 0);
		assert_keys_equal(&ck, &sk);
		assert_int_equal(ck.ssrc, SSRC);
		assert_int_equal(ck.rekey_after_s, REKEY_S);
		assert_int_equal(ck.rekey_after_packets, REKEY_P);
		assert_int_equal(ck.camera_index, le32(im + 4));
		assert_int_equal(ck.server_index, le32(rm + 4));
		assert_false(sodium_is_zero(ck.c2s, sizeof(ck.c2s)));
		assert_memory_not_equal(ck.c2s, ck.s2c, sizeof(ck.c2s));
		/* each handshake, a new key */
		if (round == 0)
			first = ck;
		else
			assert_memory_not_equal(ck.c2s, first.c2s, sizeof(ck.c2s));
		/* the handshake is over: the same response again is for nothing pending */
		assert_int_equal(vigil_hs_response_read(&cam, rm, RLEN, &ck), -ESRCH);
		vigil_hs_keys_wipe(&sk);
		assert_true(sodium_is_zero((const uint8_t *)&sk, sizeof(sk)));
	}
	vigil_hs_initiator_wipe(&cam);
	vigil_hs_responder_wipe(&srv);
}

/* A second camera, and a late response to an initiation that a newer one replaced. */
static void test_two_cameras_and_stale_response(void **state)
{
	struct vigil_hs_initiator a, b;
	struct vigil_hs_responder srv;
	struct vigil_hs_init ia, ib;
	struct vigil_hs_keys ka, kb, sa, sb;
	uint8_t ima[ILEN], imb[ILEN], rma[RLEN], rmb[RLEN], im2[ILEN];
	(void)state;

	cam_new(&a, K.cam_sk, K.srv_pk);
	cam_new(&b, K.cam2_sk, K.srv_pk);
	srv_new(&srv, K.srv_sk);
	initiation(&a, 0, ima);
	initiation(&b, 1, imb);
	assert_int_equal(read_init(&srv, ima, ILEN, SRC_A, false, &ia, NULL), 0);
	assert_int_equal(read_init(&srv, imb, ILEN, SRC_B, false, &ib, NULL), 0);
	assert_memory_equal(ia.identity, K.cam_pk, 32);
	assert_memory_equal(ib.identity, K.cam2_pk, 32);
	response(&ib, rmb, &sb);
	response(&ia, rma, &sa);
	assert_int_equal(vigil_hs_response_read(&a, rmb, RLEN, &ka), -ESRCH);
	assert_int_equal(vigil_hs_response_read(&b, rmb, RLEN, &kb), 0);
	assert_keys_equal(&kb, &sb);
	/* a retried: its first response arrives after the second initiation went out */
	initiation(&a, 0, im2);
	assert_int_equal(vigil_hs_response_read(&a, rma, RLEN, &ka), -ESRCH);
	assert_int_equal(read_init(&srv, im2, ILEN, SRC_A, false, &ia, NULL), 0);
	response(&ia, rma, &sa);
	assert_int_equal(vigil_hs_response_read(&a, rma, RLEN, &ka), 0);
	assert_keys_equal(&ka, &sa);
}

/* Every byte flipped: refused, never accepted; the genuine message still goes through afterwards. */
static void test_flip_initiation(void **state)
{
	struct vigil_hs_initiator cam;
	struct vigil_hs_responder srv;
	struct vigil_hs_init init;
	uint8_t im[ILEN], cookie[CLEN];
	static const uint8_t flips[] = {0x01, 0x80, 0xff};
	(void)state;

	cam_new(&cam, K.cam_sk, K.srv_pk);
	srv_new(&srv, K.srv_sk);
	initiation(&cam, 0, im);
	for (size_t b = 0; b < I_MAC2; b++) {
		for (size_t f = 0; f < sizeof(flips); f++) {
			int want = b < 4 ? -EPROTO : -EBADMSG;

			im[b] ^= flips[f];
			assert_int_equal(read_init(&srv, im, ILEN, SRC_A, false, &init, NULL), want);
			im[b] ^= flips[f];
		}
	}
	/* mac2 is only looked at under load (as in WireGuard): a camera whose cookie went stale must still
	 * get through when the server is not busy. */
	im[I_MAC2] ^= 1;
	assert_int_equal(read_init(&srv, im, ILEN, SRC_A, false, &init, NULL), 0);
	vigil_hs_init_wipe(&init);
	im[I_MAC2] ^= 1;
	assert_int_equal(read_init(&srv, im, ILEN, SRC_A, false, &init, NULL), 0);
	vigil_hs_init_wipe(&init);

	/* Under load with a valid cookie, mac2 counts as well: all 152 bytes. */
	assert_int_equal(read_init(&srv, im, ILEN, SRC_A, true, &init, cookie), VIGIL_HS_NEED_COOKIE);
	assert_int_equal(vigil_hs_cookie_read(&cam, cookie, CLEN), 0);
	initiation(&cam, 0, im);
	for (size_t b = 0; b < ILEN; b++) {
		for (size_t f = 0; f < sizeof(flips); f++) {
			int want = b < 4 ? -EPROTO : b < I_MAC2 ? -EBADMSG : VIGIL_HS_NEED_COOKIE;

			im[b] ^= flips[f];
			assert_int_equal(read_init(&srv, im, ILEN, SRC_A, true, &init, cookie), want);
			im[b] ^= flips[f];
		}
	}
	assert_int_equal(read_init(&srv, im, ILEN, SRC_A, true, &init, cookie), 0);
	assert_true(init.pending);
	vigil_hs_init_wipe(&init);
	assert_true(sodium_is_zero((const uint8_t *)&init, sizeof(init)));
}

/* An attacker who knows the server's public key can recompute mac1; then the Noise message must hold.
 * The sender index is outside Noise (a routing hint, as in WireGuard): changing it changes only where the
 * response goes. */
static void test_forged_initiation_passing_mac1(void **state)
{
	struct vigil_hs_initiator cam;
	struct vigil_hs_responder srv;
	struct vigil_hs_init init;
	uint8_t im[ILEN], x[ILEN];
	(void)state;

	cam_new(&cam, K.cam_sk, K.srv_pk);
	srv_new(&srv, K.srv_sk);
	initiation(&cam, 0, im);
	for (size_t b = VIGIL_HS_INITIATION_NOISE_OFF; b < I_MAC1; b++) {
		memcpy(x, im, ILEN);
		x[b] ^= 0x01;
		doc_mac1(x + I_MAC1, K.srv_pk, x, I_MAC1);
		assert_int_equal(read_init(&srv, x, ILEN, SRC_A, false, &init, NULL), -EKEYREJECTED);
	}
	memcpy(x, im, ILEN);
	x[4] ^= 0x01;
	doc_mac1(x + I_MAC1, K.srv_pk, x, I_MAC1);
	assert_int_equal(read_init(&srv, x, ILEN, SRC_A, false, &init, NULL), 0);
	assert_int_equal(init.sender_index, le32(im + 4) ^ 1);
	vigil_hs_init_wipe(&init);
}

static void test_flip_response(void **state)
{
	struct vigil_hs_initiator cam;
	struct vigil_hs_responder srv;
	struct vigil_hs_init init;
	struct vigil_hs_keys ck, sk;
	uint8_t im[ILEN], rm[RLEN];
	static const uint8_t flips[] = {0x01, 0x80, 0xff};
	(void)state;

	cam_new(&cam, K.cam_sk, K.srv_pk);
	srv_new(&srv, K.srv_sk);
	initiation(&cam, 0, im);
	assert_int_equal(read_init(&srv, im, ILEN, SRC_A, false, &init, NULL), 0);
	response(&init, rm, &sk);
	for (size_t b = 0; b < RLEN; b++) {
		for (size_t f = 0; f < sizeof(flips); f++) {
			int want = b < 4 ? -EPROTO : b >= 8 && b < 12 ? -ESRCH : -EBADMSG;

			memset(&ck, 0x55, sizeof(ck));
			rm[b] ^= flips[f];
			assert_int_equal(vigil_hs_response_read(&cam, rm, RLEN, &ck), want);
			rm[b] ^= flips[f];
			assert_true(cam.pending);
		}
	}
	/* past mac1, with mac1 recomputed as anyone knowing the camera's public key could */
	for (size_t b = VIGIL_HS_RESPONSE_NOISE_OFF; b < R_MAC1; b++) {
		rm[b] ^= 0x01;
		doc_mac1(rm + R_MAC1, K.cam_pk, rm, R_MAC1);
		assert_int_equal(vigil_hs_response_read(&cam, rm, RLEN, &ck), -EKEYREJECTED);
		rm[b] ^= 0x01;
	}
	doc_mac1(rm + R_MAC1, K.cam_pk, rm, R_MAC1);
	/* none of that spoiled the pending handshake */
	assert_int_equal(vigil_hs_response_read(&cam, rm, RLEN, &ck), 0);
	assert_keys_equal(&ck, &sk);
}

/* Camera b is sent a's response, re-addressed to b's index with mac1 recomputed for b: Noise refuses it. */
static void test_response_for_another_camera(void **state)
{
	struct vigil_hs_initiator a, b;
	struct vigil_hs_responder srv;
	struct vigil_hs_init ia, ib;
	struct vigil_hs_keys k, sa, sb;
	uint8_t ima[ILEN], imb[ILEN], rma[RLEN], rmb[RLEN];
	(void)state;

	cam_new(&a, K.cam_sk, K.srv_pk);
	cam_new(&b, K.cam2_sk, K.srv_pk);
	srv_new(&srv, K.srv_sk);
	initiation(&a, 0, ima);
	initiation(&b, 0, imb);
	assert_int_equal(read_init(&srv, ima, ILEN, SRC_A, false, &ia, NULL), 0);
	assert_int_equal(read_init(&srv, imb, ILEN, SRC_B, false, &ib, NULL), 0);
	response(&ia, rma, &sa);
	response(&ib, rmb, &sb);
	memcpy(rma + 8, imb + 4, 4);
	doc_mac1(rma + R_MAC1, K.cam2_pk, rma, R_MAC1);
	assert_int_equal(vigil_hs_response_read(&b, rma, RLEN, &k), -EKEYREJECTED);
	assert_int_equal(vigil_hs_response_read(&b, rmb, RLEN, &k), 0);
	assert_keys_equal(&k, &sb);
}

/* The server keeps no timestamps: a replayed initiation reads again, with the same timestamp, and the
 * caller's vigil_hs_timestamp_cmp(new, last) > 0 check is what refuses it. */
static void test_replay(void **state)
{
	struct vigil_hs_initiator cam;
	struct vigil_hs_responder srv;
	struct vigil_hs_init init;
	uint8_t im[ILEN], im2[ILEN], last[12];
	(void)state;

	cam_new(&cam, K.cam_sk, K.srv_pk);
	srv_new(&srv, K.srv_sk);
	initiation(&cam, 0, im);
	assert_int_equal(read_init(&srv, im, ILEN, SRC_A, false, &init, NULL), 0);
	memcpy(last, init.timestamp, 12);
	vigil_hs_init_wipe(&init);
	assert_int_equal(read_init(&srv, im, ILEN, SRC_B, false, &init, NULL), 0);
	assert_int_equal(vigil_hs_timestamp_cmp(init.timestamp, last), 0);
	vigil_hs_init_wipe(&init);
	/* many initiations in a row: each strictly later than the one before */
	for (int i = 0; i < 50; i++) {
		initiation(&cam, 0, im2);
		assert_int_equal(read_init(&srv, im2, ILEN, SRC_A, false, &init, NULL), 0);
		assert_int_equal(vigil_hs_timestamp_cmp(init.timestamp, last), 1);
		assert_int_equal(vigil_hs_timestamp_cmp(last, init.timestamp), -1);
		memcpy(last, init.timestamp, 12);
		vigil_hs_init_wipe(&init);
	}
	/* TAI64N: 2^62 + 10 + Unix seconds, big endian, then nanoseconds */
	assert_int_equal(last[0], 0x40);
	assert_true(((uint32_t)last[8] << 24 | last[9] << 16 | last[10] << 8 | last[11]) < 1000000000u);
}

static void test_timestamp_cmp(void **state)
{
	static const struct {
		const char *a, *b;
		int want;
	} v[] = {
	    {"400000006553f10000000000", "400000006553f10000000000", 0},
	    {"400000006553f10000000001", "400000006553f10000000000", 1},
	    {"400000006553f1003b9ac9ff", "400000006553f10100000000", -1}, /* 999999999 ns < the next second */
	    {"400000006553f10100000000", "400000006553f1003b9ac9ff", 1},
	    {"400000016553f10000000000", "400000006553f1ff3b9ac9ff", 1},
	    {"3fffffffffffffff3b9ac9ff", "400000000000000000000000", -1},
	    {"000000000000000000000000", "000000000000000000000001", -1},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t a[12], b[12];

		unhex(a, 12, v[i].a);
		unhex(b, 12, v[i].b);
		assert_int_equal(vigil_hs_timestamp_cmp(a, b), v[i].want);
		assert_int_equal(vigil_hs_timestamp_cmp(b, a), -v[i].want);
	}
}

static void test_wrong_server_key(void **state)
{
	struct vigil_hs_initiator cam;
	struct vigil_hs_responder srv, srv2;
	struct vigil_hs_init init;
	uint8_t im[ILEN];
	(void)state;

	srv_new(&srv, K.srv_sk);
	srv_new(&srv2, K.srv2_sk);
	/* the camera believes the server's key is srv2's */
	cam_new(&cam, K.cam_sk, K.srv2_pk);
	initiation(&cam, 0, im);
	assert_int_equal(read_init(&srv, im, ILEN, SRC_A, false, &init, NULL), -EBADMSG);
	/* with mac1 made for srv, the Noise part is still for the wrong key */
	doc_mac1(im + I_MAC1, K.srv_pk, im, I_MAC1);
	assert_int_equal(read_init(&srv, im, ILEN, SRC_A, false, &init, NULL), -EKEYREJECTED);
	/* the right camera, the wrong server */
	cam_new(&cam, K.cam_sk, K.srv_pk);
	initiation(&cam, 0, im);
	assert_int_equal(read_init(&srv2, im, ILEN, SRC_A, false, &init, NULL), -EBADMSG);
	assert_int_equal(read_init(&srv, im, ILEN, SRC_A, false, &init, NULL), 0);
	vigil_hs_init_wipe(&init);
}

static void test_cookie(void **state)
{
	struct vigil_hs_initiator cam;
	struct vigil_hs_responder srv;
	struct vigil_hs_init init;
	struct vigil_hs_keys ck, sk;
	uint8_t im[ILEN], rm[RLEN], cookie[CLEN], mac2[16], plain[16];
	uint8_t cookie_key[64], in[40];
	(void)state;

	cam_new(&cam, K.cam_sk, K.srv_pk);
	srv_new(&srv, K.srv_sk);
	initiation(&cam, 0, im);
	assert_int_equal(read_init(&srv, im, ILEN, SRC_A, true, &init, cookie), VIGIL_HS_NEED_COOKIE);
	assert_int_equal(cookie[0], VIGIL_HS_TYPE_COOKIE_REPLY);
	assert_true(sodium_is_zero(cookie + 1, 3));
	assert_int_equal(le32(cookie + 4), le32(im + 4));
	/* the doc's cookie reply: XChaCha20-Poly1305, key = first 32 bytes of HASH("cookie--" || server pk),
	 * AD = the initiation's mac1 */
	memcpy(in, "cookie--", 8);
	memcpy(in + 8, K.srv_pk, 32);
	crypto_generichash(cookie_key, 64, in, sizeof(in), NULL, 0);
	assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(plain, NULL, NULL, cookie + 32, 32,
								    im + I_MAC1, 16, cookie + 8, cookie_key),
			 0);

	/* a damaged cookie reply, or one for another initiation, stores nothing */
	for (size_t b = 0; b < CLEN; b++) {
		cookie[b] ^= 0x01;
		assert_true(vigil_hs_cookie_read(&cam, cookie, CLEN) < 0);
		cookie[b] ^= 0x01;
	}
	assert_false(cam.has_cookie);
	assert_int_equal(vigil_hs_cookie_read(&cam, cookie, CLEN - 1), -EPROTO);
	assert_int_equal(vigil_hs_cookie_read(&cam, cookie, CLEN), 0);
	assert_true(cam.has_cookie);

	/* the next initiation carries mac2 = MAC(cookie, message up to mac2) and is accepted under load */
	initiation(&cam, 0, im);
	doc_mac(mac2, plain, 16, im, I_MAC2);
	assert_memory_equal(im + I_MAC2, mac2, 16);
	assert_int_equal(read_init(&srv, im, ILEN, SRC_A, true, &init, cookie), 0);
	response(&init, rm, &sk);
	assert_int_equal(vigil_hs_response_read(&cam, rm, RLEN, &ck), 0);
	assert_keys_equal(&ck, &sk);

	/* a cookie reply for a handshake that is over is for nothing pending */
	assert_int_equal(vigil_hs_cookie_read(&cam, cookie, CLEN), -ESRCH);

	/* once the server's secret rotates, the old cookie no longer counts */
	initiation(&cam, 0, im);
	vigil_hs_responder_rotate(&srv);
	assert_int_equal(read_init(&srv, im, ILEN, SRC_A, true, &init, cookie), VIGIL_HS_NEED_COOKIE);
	assert_int_equal(vigil_hs_cookie_read(&cam, cookie, CLEN), 0);
	initiation(&cam, 0, im);
	assert_int_equal(read_init(&srv, im, ILEN, SRC_A, true, &init, cookie), 0);
	vigil_hs_init_wipe(&init);
}

static void test_cookie_other_source(void **state)
{
	struct vigil_hs_initiator cam;
	struct vigil_hs_responder srv;
	struct vigil_hs_init init;
	uint8_t im[ILEN], cookie[CLEN], reply_b[CLEN];
	(void)state;

	cam_new(&cam, K.cam_sk, K.srv_pk);
	srv_new(&srv, K.srv_sk);
	initiation(&cam, 0, im);
	assert_int_equal(read_init(&srv, im, ILEN, SRC_A, true, &init, cookie), VIGIL_HS_NEED_COOKIE);
	assert_int_equal(vigil_hs_cookie_read(&cam, cookie, CLEN), 0);
	initiation(&cam, 0, im);
	/* the cookie is for SRC_A: from SRC_B it is no cookie, and B gets one of its own */
	assert_int_equal(read_init(&srv, im, ILEN, SRC_B, true, &init, reply_b), VIGIL_HS_NEED_COOKIE);
	assert_int_equal(read_init(&srv, im, ILEN, SRC_A, true, &init, cookie), 0);
	vigil_hs_init_wipe(&init);
	/* the same address on another port is another source */
	{
		uint8_t src_port[sizeof(SRC_A)];

		memcpy(src_port, SRC_A, sizeof(SRC_A));
		src_port[5] ^= 1;
		assert_int_equal(read_init(&srv, im, ILEN, src_port, true, &init, cookie),
				 VIGIL_HS_NEED_COOKIE);
	}
}

static void test_wrong_length_or_type(void **state)
{
	struct vigil_hs_initiator cam;
	struct vigil_hs_responder srv;
	struct vigil_hs_init init;
	struct vigil_hs_keys k;
	uint8_t im[ILEN + 1], rm[RLEN + 1], big[256] = {0};
	(void)state;

	cam_new(&cam, K.cam_sk, K.srv_pk);
	srv_new(&srv, K.srv_sk);
	initiation(&cam, 0, im);
	im[ILEN] = 0;
	assert_int_equal(read_init(&srv, im, ILEN - 1, SRC_A, false, &init, NULL), -EPROTO);
	assert_int_equal(read_init(&srv, im, ILEN + 1, SRC_A, false, &init, NULL), -EPROTO);
	assert_int_equal(read_init(&srv, im, 0, SRC_A, false, &init, NULL), -EPROTO);
	for (int t = 0; t < 256; t++) {
		if (t == VIGIL_HS_TYPE_INITIATION)
			continue;
		im[0] = (uint8_t)t;
		assert_int_equal(read_init(&srv, im, ILEN, SRC_A, false, &init, NULL), -EPROTO);
	}
	im[0] = VIGIL_HS_TYPE_INITIATION;
	for (int b = 1; b < 4; b++) {
		im[b] = 1;
		assert_int_equal(read_init(&srv, im, ILEN, SRC_A, false, &init, NULL), -EPROTO);
		im[b] = 0;
	}
	/* each message where another is expected */
	assert_int_equal(vigil_hs_response_read(&cam, im, ILEN, &k), -EPROTO);
	assert_int_equal(vigil_hs_cookie_read(&cam, im, ILEN), -EPROTO);
	assert_int_equal(read_init(&srv, im, ILEN, SRC_A, false, &init, NULL), 0);
	response(&init, rm, &k);
	assert_int_equal(read_init(&srv, rm, RLEN, SRC_A, false, &init, NULL), -EPROTO);
	assert_int_equal(vigil_hs_cookie_read(&cam, rm, RLEN), -EPROTO);
	assert_int_equal(vigil_hs_response_read(&cam, rm, RLEN - 1, &k), -EPROTO);
	assert_int_equal(vigil_hs_response_read(&cam, rm, RLEN + 1, &k), -EPROTO);
	rm[0] = VIGIL_HS_TYPE_COOKIE_REPLY;
	assert_int_equal(vigil_hs_response_read(&cam, rm, RLEN, &k), -EPROTO);
	rm[0] = VIGIL_HS_TYPE_RESPONSE;
	assert_int_equal(vigil_hs_response_read(&cam, rm, RLEN, &k), 0);
	/* junk of every plausible size */
	for (size_t n = 0; n <= sizeof(big); n++) {
		big[0] = (uint8_t)(n % 4);
		assert_true(read_init(&srv, big, n, SRC_A, false, &init, NULL) < 0);
	}
}

/* An initiation built by hand from docs/handshake.md with the Noise layer, and its response opened the same
 * way: the documented layout, mac1 and SRTP key derivation agree with the library, and authenticated
 * content out of range (codec, reserved bytes) is refused. */
static void build_initiation(struct vigil_noise_hs *hs, uint8_t codec, uint8_t flags, uint8_t reserved,
			     uint8_t msg[ILEN])
{
	uint8_t payload[16] = {0x40, 0, 0, 0, 0x65, 0x53, 0xf1, 0x00, 0, 0, 0, 0};

	payload[12] = codec;
	payload[13] = flags;
	payload[15] = reserved;
	assert_int_equal(
	    vigil_noise_ik_init(hs, true, (const uint8_t *)"vigil handshake v1", 18, K.cam_sk, K.srv_pk), 0);
	msg[0] = 1;
	msg[1] = msg[2] = msg[3] = 0;
	memcpy(msg + 4, "\x78\x56\x34\x12", 4); /* sender_index 0x12345678 */
	assert_int_equal(vigil_noise_ik_write1(hs, NULL, payload, sizeof(payload), msg + 8), 0);
	doc_mac1(msg + 120, K.srv_pk, msg, 120);
	memset(msg + 136, 0, 16);
}

static void test_layout_from_doc(void **state)
{
	struct vigil_hs_responder srv;
	struct vigil_hs_init init;
	struct vigil_hs_keys sk;
	struct vigil_noise_hs hs;
	struct vigil_noise_cipher c1, c2;
	uint8_t im[ILEN], rm[RLEN], payload[16], m1[16], c2s[44], s2c[44];
	(void)state;

	assert_int_equal(ILEN, 152);
	assert_int_equal(RLEN, 108);
	assert_int_equal(CLEN, 64);
	assert_int_equal(I_MAC1, 120);
	assert_int_equal(R_MAC1, 76);
	srv_new(&srv, K.srv_sk);
	build_initiation(&hs, 2, 0, 0, im);
	assert_int_equal(read_init(&srv, im, ILEN, SRC_A, false, &init, NULL), -EPROTO);
	build_initiation(&hs, 0, 0, 1, im);
	assert_int_equal(read_init(&srv, im, ILEN, SRC_A, false, &init, NULL), -EPROTO);
	/* a flag this server does not know, as an older server does any */
	for (unsigned bit = 2; bit < 8; bit++) {
		build_initiation(&hs, 0, (uint8_t)(1u << bit), 0, im);
		assert_int_equal(read_init(&srv, im, ILEN, SRC_A, false, &init, NULL), -EPROTO);
	}
	build_initiation(&hs, 1, 0, 0, im);
	assert_int_equal(read_init(&srv, im, ILEN, SRC_A, false, &init, NULL), 0);
	assert_int_equal(init.sender_index, 0x12345678);
	assert_int_equal(init.codec, 1);
	assert_false(init.asks_rtx);
	assert_false(init.fresh);
	assert_memory_equal(init.timestamp, "\x40\0\0\0\x65\x53\xf1\0\0\0\0\0", 12);
	assert_memory_equal(init.identity, K.cam_pk, 32);
	response(&init, rm, &sk);

	/* the response: header, indices, Noise message 2, mac1 for the camera's key, zero mac2 */
	assert_memory_equal(rm, "\x02\0\0\0", 4);
	assert_int_equal(le32(rm + 4), sk.server_index);
	assert_memory_equal(rm + 8, "\x78\x56\x34\x12", 4);
	doc_mac1(m1, K.cam_pk, rm, 76);
	assert_memory_equal(rm + 76, m1, 16);
	assert_true(sodium_is_zero(rm + 92, 16));
	assert_int_equal(vigil_noise_ik_read2(&hs, rm + 12, 64, payload), 0);
	assert_memory_equal(payload, "\x34\x12\xed\x5e\x78\0\0\0\0\0\0\x80\0\0\0\0", 16);
	assert_int_equal(vigil_noise_split(&hs, &c1, &c2, NULL), 0);
	/* SRTP master key || salt: BLAKE2b, 44-byte output, keyed by the Split() key, over the label */
	crypto_generichash(c2s, 44, (const uint8_t *)"vigil srtp c2s", 14, c1.k, 32);
	crypto_generichash(s2c, 44, (const uint8_t *)"vigil srtp s2c", 14, c2.k, 32);
	assert_memory_equal(sk.c2s, c2s, 44);
	assert_memory_equal(sk.s2c, s2c, 44);
}

/* A response with the test's SSRC and rekey policy, and rtx. */
static int write_rtx(struct vigil_hs_init *init, const struct vigil_hs_rtx *rtx, uint8_t *rm, size_t *len,
		     struct vigil_hs_keys *keys)
{
	return vigil_hs_response_write(init, SSRC, REKEY_S, REKEY_P, rtx, rm, len, keys);
}

/* The RTX flag and the 24-byte response payload as docs/handshake.md lays them out: flags byte 13 = 1, then
 * rtx_ssrc (LE), rtx_payload_type and 3 zero bytes after the 16 bytes of a plain response: 116 bytes. */
static void test_rtx_layout_from_doc(void **state)
{
	struct vigil_hs_responder srv;
	struct vigil_hs_init init;
	struct vigil_hs_keys sk;
	struct vigil_noise_hs hs;
	const struct vigil_hs_rtx rtx = {.ssrc = RTX_SSRC, .payload_type = 97};
	uint8_t im[ILEN], rm[RXLEN], payload[24], m1[16];
	size_t len = RXLEN;
	(void)state;

	assert_int_equal(RXLEN, 116);
	assert_int_equal(RX_MAC1, 84);
	srv_new(&srv, K.srv_sk);
	build_initiation(&hs, 0, 1, 0, im);
	assert_int_equal(read_init(&srv, im, ILEN, SRC_A, false, &init, NULL), 0);
	assert_true(init.asks_rtx);
	assert_int_equal(write_rtx(&init, &rtx, rm, &len, &sk), 0);
	assert_int_equal(len, RXLEN);
	assert_memory_equal(rm, "\x02\0\0\0", 4);
	assert_memory_equal(rm + 8, "\x78\x56\x34\x12", 4);
	doc_mac1(m1, K.cam_pk, rm, 84);
	assert_memory_equal(rm + 84, m1, 16);
	assert_true(sodium_is_zero(rm + 100, 16));
	assert_int_equal(vigil_noise_ik_read2(&hs, rm + 12, 72, payload), 0);
	assert_memory_equal(payload, "\x34\x12\xed\x5e\x78\0\0\0\0\0\0\x80\0\0\0\0", 16);
	assert_memory_equal(payload + 16, "\xfe\xca\xad\x0b\x61\0\0\0", 8); /* RTX SSRC, 97, reserved */
	assert_true(sk.has_rtx);
	assert_int_equal(sk.rtx_ssrc, RTX_SSRC);
	assert_int_equal(sk.rtx_payload_type, 97);
	vigil_noise_hs_wipe(&hs);
}

/* A camera that asks for RTX gets it, and only the 116-byte response will do; one that does not, only the
 * 108-byte one. The server answers a flagged initiation only with RTX fields, and sane ones. */
static void test_rtx_round_trip(void **state)
{
	struct vigil_hs_initiator cam, plain;
	struct vigil_hs_responder srv;
	struct vigil_hs_init init;
	struct vigil_hs_keys ck, sk;
	struct vigil_hs_rtx rtx = {.ssrc = RTX_SSRC, .payload_type = VIGIL_HS_RTX_PAYLOAD_TYPE};
	uint8_t im[ILEN], rm[RXLEN + 1], short_rm[RLEN];
	size_t len;
	(void)state;

	cam_new(&cam, K.cam_sk, K.srv_pk);
	cam_new(&plain, K.cam2_sk, K.srv_pk);
	srv_new(&srv, K.srv_sk);
	cam.ask_rtx = true;
	for (int round = 0; round < 2; round++) { /* a rekey asks again */
		initiation(&cam, 0, im);
		assert_int_equal(read_init(&srv, im, ILEN, SRC_A, false, &init, NULL), 0);
		assert_true(init.asks_rtx);
		/* no RTX fields, or ones the camera would refuse: a caller's mistake, nothing written */
		len = sizeof(rm);
		assert_int_equal(write_rtx(&init, NULL, rm, &len, &sk), -EINVAL);
		rtx.ssrc = SSRC;
		assert_int_equal(write_rtx(&init, &rtx, rm, &len, &sk), -EINVAL);
		rtx.ssrc = RTX_SSRC;
		rtx.payload_type = 95;
		assert_int_equal(write_rtx(&init, &rtx, rm, &len, &sk), -EINVAL);
		rtx.payload_type = 128;
		assert_int_equal(write_rtx(&init, &rtx, rm, &len, &sk), -EINVAL);
		rtx.payload_type = VIGIL_HS_RTX_PAYLOAD_TYPE;
		len = RXLEN - 1;
		assert_int_equal(write_rtx(&init, &rtx, rm, &len, &sk), -ENOSPC);
		assert_true(init.pending);
		len = sizeof(rm);
		assert_int_equal(write_rtx(&init, &rtx, rm, &len, &sk), 0);
		assert_int_equal(len, RXLEN);
		assert_true(sk.has_rtx);
		rm[RXLEN] = 0;
		assert_int_equal(vigil_hs_response_read(&cam, rm, RLEN, &ck), -EPROTO);
		assert_int_equal(vigil_hs_response_read(&cam, rm, RXLEN - 1, &ck), -EPROTO);
		assert_int_equal(vigil_hs_response_read(&cam, rm, RXLEN + 1, &ck), -EPROTO);
		/* every byte flipped is refused and spoils nothing */
		for (size_t b = 0; b < RXLEN; b++) {
			rm[b] ^= 0x01;
			assert_true(vigil_hs_response_read(&cam, rm, RXLEN, &ck) < 0);
			rm[b] ^= 0x01;
			assert_true(cam.pending);
		}
		assert_int_equal(vigil_hs_response_read(&cam, rm, RXLEN, &ck), 0);
		assert_keys_equal(&ck, &sk);
		assert_true(ck.has_rtx);
		assert_int_equal(ck.rtx_ssrc, RTX_SSRC);
		assert_int_equal(ck.rtx_payload_type, VIGIL_HS_RTX_PAYLOAD_TYPE);
	}

	/* The camera asked: a response without RTX (from a server that ignored the flag) is refused. */
	initiation(&cam, 0, im);
	assert_int_equal(read_init(&srv, im, ILEN, SRC_A, false, &init, NULL), 0);
	init.asks_rtx = false;
	len = sizeof(short_rm);
	assert_int_equal(write_rtx(&init, NULL, short_rm, &len, &sk), 0);
	assert_int_equal(len, RLEN);
	assert_int_equal(vigil_hs_response_read(&cam, short_rm, RLEN, &ck), -EPROTO);
	assert_true(cam.pending);

	/* The camera did not ask: a response with RTX is refused; without, it has none. */
	initiation(&plain, 0, im);
	assert_int_equal(read_init(&srv, im, ILEN, SRC_B, false, &init, NULL), 0);
	assert_false(init.asks_rtx);
	len = sizeof(rm);
	assert_int_equal(write_rtx(&init, &rtx, rm, &len, &sk), -EINVAL);
	init.asks_rtx = true;
	assert_int_equal(write_rtx(&init, &rtx, rm, &len, &sk), 0);
	assert_int_equal(vigil_hs_response_read(&plain, rm, RXLEN, &ck), -EPROTO);
	assert_true(plain.pending);
	initiation(&plain, 0, im);
	assert_int_equal(read_init(&srv, im, ILEN, SRC_B, false, &init, NULL), 0);
	response(&init, short_rm, &sk);
	assert_int_equal(vigil_hs_response_read(&plain, short_rm, RLEN, &ck), 0);
	assert_false(ck.has_rtx);
	assert_int_equal(ck.rtx_ssrc, 0);
	vigil_hs_initiator_wipe(&cam);
	vigil_hs_initiator_wipe(&plain);
	vigil_hs_responder_wipe(&srv);
}

/* RTX fields out of range, authenticated by a server that wrote them anyway: refused as -EPROTO, the pending
 * handshake untouched. */
static void test_rtx_out_of_range(void **state)
{
	static const struct {
		uint32_t rtx_ssrc;
		uint8_t pt, reserved;
		int want;
	} v[] = {
	    {RTX_SSRC, 97, 0, 0},	   {SSRC, 97, 0, -EPROTO},	{RTX_SSRC, 95, 0, -EPROTO},
	    {RTX_SSRC, 128, 0, -EPROTO}, {RTX_SSRC, 97, 1, -EPROTO}, {RTX_SSRC, 127, 0, 0},
	};
	struct vigil_hs_initiator cam;
	struct vigil_hs_responder srv;
	struct vigil_hs_init init;
	struct vigil_hs_keys ck;
	(void)state;

	cam_new(&cam, K.cam_sk, K.srv_pk);
	srv_new(&srv, K.srv_sk);
	cam.ask_rtx = true;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t im[ILEN], rm[RXLEN];
		/* SSRC, REKEY_S, REKEY_P, then the RTX fields of the case */
		uint8_t payload[24] = {0x34, 0x12, 0xed, 0x5e, 120, 0, 0, 0, 0, 0, 0, 0x80};

		payload[16] = (uint8_t)v[i].rtx_ssrc;
		payload[17] = (uint8_t)(v[i].rtx_ssrc >> 8);
		payload[18] = (uint8_t)(v[i].rtx_ssrc >> 16);
		payload[19] = (uint8_t)(v[i].rtx_ssrc >> 24);
		payload[20] = v[i].pt;
		payload[23] = v[i].reserved;
		initiation(&cam, 0, im);
		assert_int_equal(read_init(&srv, im, ILEN, SRC_A, false, &init, NULL), 0);
		rm[0] = VIGIL_HS_TYPE_RESPONSE;
		rm[1] = rm[2] = rm[3] = 0;
		memcpy(rm + 4, "\1\2\3\4", 4);
		memcpy(rm + 8, im + 4, 4);
		assert_int_equal(vigil_noise_ik_write2(&init.hs, NULL, payload, sizeof(payload), rm + 12), 0);
		doc_mac1(rm + RX_MAC1, K.cam_pk, rm, RX_MAC1);
		memset(rm + RX_MAC1 + 16, 0, 16);
		vigil_hs_init_wipe(&init);
		assert_int_equal(vigil_hs_response_read(&cam, rm, RXLEN, &ck), v[i].want);
		assert_int_equal(cam.pending, v[i].want != 0);
		if (v[i].want == 0)
			assert_int_equal(ck.rtx_payload_type, v[i].pt);
	}
	vigil_hs_initiator_wipe(&cam);
	vigil_hs_responder_wipe(&srv);
}

static void test_api_misuse(void **state)
{
	struct vigil_hs_initiator cam;
	struct vigil_hs_responder srv;
	struct vigil_hs_init init;
	struct vigil_hs_keys k;
	uint8_t im[ILEN] = {0}, rm[RLEN], small[CLEN - 1];
	size_t len = ILEN - 1;
	(void)state;

	cam_new(&cam, K.cam_sk, K.srv_pk);
	srv_new(&srv, K.srv_sk);
	assert_int_equal(vigil_hs_initiation_write(&cam, 2, im, &len), -EINVAL);
	assert_int_equal(vigil_hs_initiation_write(&cam, 0, im, &len), -ENOSPC);
	assert_int_equal(vigil_hs_initiation_write(NULL, 0, im, &len), -EINVAL);
	assert_false(cam.pending);
	assert_int_equal(vigil_hs_response_read(&cam, im, RLEN, &k), -EPROTO);
	initiation(&cam, 0, im);
	/* under load the caller must give the source and room for a cookie reply */
	assert_int_equal(vigil_hs_initiation_read(&srv, im, ILEN, NULL, 0, true, &init, small, &len),
			 -EINVAL);
	assert_int_equal(
	    vigil_hs_initiation_read(&srv, im, ILEN, SRC_A, sizeof(SRC_A), true, &init, NULL, NULL), -EINVAL);
	len = sizeof(small);
	assert_int_equal(
	    vigil_hs_initiation_read(&srv, im, ILEN, SRC_A, sizeof(SRC_A), true, &init, small, &len),
	    -ENOSPC);
	/* not under load the source is optional */
	assert_int_equal(vigil_hs_initiation_read(&srv, im, ILEN, NULL, 0, false, &init, NULL, NULL), 0);
	len = RLEN;
	assert_int_equal(vigil_hs_response_write(&init, SSRC, 0, REKEY_P, NULL, rm, &len, &k), -EINVAL);
	assert_int_equal(vigil_hs_response_write(&init, SSRC, REKEY_S, 0, NULL, rm, &len, &k), -EINVAL);
	len = RLEN - 1;
	assert_int_equal(vigil_hs_response_write(&init, SSRC, REKEY_S, REKEY_P, NULL, rm, &len, &k), -ENOSPC);
	assert_true(init.pending);
	len = RLEN;
	assert_int_equal(vigil_hs_response_write(&init, SSRC, REKEY_S, REKEY_P, NULL, rm, &len, &k), 0);
	/* one response per initiation */
	assert_int_equal(vigil_hs_response_write(&init, SSRC, REKEY_S, REKEY_P, NULL, rm, &len, &k), -EINVAL);
	vigil_hs_init_wipe(&init);
	assert_int_equal(vigil_hs_responder_init(NULL, K.srv_sk), -EINVAL);
	assert_int_equal(vigil_hs_initiator_init(&cam, NULL, K.srv_pk), -EINVAL);
}

/* Type 4, as docs/handshake.md lays it out; any other length, type or a
 * reserved byte set is not one. */
static void test_unknown_session_message(void **state)
{
	uint8_t msg[VIGIL_HS_UNKNOWN_SESSION_LEN + 1];
	uint32_t ssrc = 0;

	(void)state;
	vigil_hs_unknown_session_write(0x11223344, msg);
	assert_memory_equal(msg, ((uint8_t[]){4, 0, 0, 0, 0x44, 0x33, 0x22, 0x11}), VIGIL_HS_UNKNOWN_SESSION_LEN);
	assert_int_equal(vigil_hs_unknown_session_read(msg, VIGIL_HS_UNKNOWN_SESSION_LEN, &ssrc), 0);
	assert_int_equal(ssrc, 0x11223344);
	assert_int_equal(vigil_hs_unknown_session_read(msg, VIGIL_HS_UNKNOWN_SESSION_LEN - 1, &ssrc), -EPROTO);
	assert_int_equal(vigil_hs_unknown_session_read(msg, VIGIL_HS_UNKNOWN_SESSION_LEN + 1, &ssrc), -EPROTO);
	for (unsigned i = 0; i < 4; i++) {
		msg[i] ^= 1;
		assert_int_equal(vigil_hs_unknown_session_read(msg, VIGIL_HS_UNKNOWN_SESSION_LEN, &ssrc), -EPROTO);
		msg[i] ^= 1;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hmac_known_answers),
	    cmocka_unit_test(test_hkdf_known_answer),
	    cmocka_unit_test(test_noise_vectors),
	    cmocka_unit_test(test_noise_tampered),
	    cmocka_unit_test(test_dh_low_order),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_two_cameras_and_stale_response),
	    cmocka_unit_test(test_flip_initiation),
	    cmocka_unit_test(test_forged_initiation_passing_mac1),
	    cmocka_unit_test(test_flip_response),
	    cmocka_unit_test(test_response_for_another_camera),
	    cmocka_unit_test(test_replay),
	    cmocka_unit_test(test_timestamp_cmp),
	    cmocka_unit_test(test_wrong_server_key),
	    cmocka_unit_test(test_cookie),
	    cmocka_unit_test(test_cookie_other_source),
	    cmocka_unit_test(test_wrong_length_or_type),
	    cmocka_unit_test(test_layout_from_doc),
	    cmocka_unit_test(test_rtx_layout_from_doc),
	    cmocka_unit_test(test_rtx_round_trip),
	    cmocka_unit_test(test_rtx_out_of_range),
	    cmocka_unit_test(test_api_misuse),
	    cmocka_unit_test(test_unknown_session_message),
	};

	if (sodium_init() < 0)
		return 1;
	crypto_box_keypair(K.cam_pk, K.cam_sk);
	crypto_box_keypair(K.cam2_pk, K.cam2_sk);
	crypto_box_keypair(K.srv_pk, K.srv_sk);
	crypto_box_keypair(K.srv2_pk, K.srv2_sk);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
