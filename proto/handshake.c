/* SPDX-License-Identifier: MIT */
/* vigil's handshake messages around Noise IK (handshake.h, docs/handshake.md): framing, mac1/mac2, cookie
 * replies, TAI64N timestamps, and the SRTP keys out of Split(). Readers work on copies and commit only
 * what authenticated, so a forged message cannot spoil a pending handshake. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "vigil/clock.h"
#include "handshake.h"
#include "vigil/config_model.h"
#include "vigil/limits.h"

#define SRTP_LABEL_C2S "vigil srtp c2s"
#define SRTP_LABEL_S2C "vigil srtp s2c"
#define NS_PER_S 1000000000ull
#define TAI64_EPOCH 0x400000000000000aull /* TAI64 label of 1970-01-01 00:00:10 TAI, as WireGuard */
#define TAI_GRAIN_NS (1u << 24)		  /* ~16.8 ms, WireGuard's rounding */

_Static_assert(VIGIL_HS_SRTP_KEY_LEN == VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN, "SRTP key");
_Static_assert(VIGIL_HS_INITIATION_LEN == 152 && VIGIL_HS_RESPONSE_LEN == 108 &&
		   VIGIL_HS_RESPONSE_RTX_LEN == 116 && VIGIL_HS_COOKIE_REPLY_LEN == 64,
	       "wire sizes in docs/handshake.md");
_Static_assert(VIGIL_HS_COOKIE_NONCE_LEN == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "XChaCha nonce");
_Static_assert(VIGIL_CODEC_H264 == 0 && VIGIL_CODEC_H265 == 1, "codec byte");

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static void put_header(uint8_t *p, uint8_t type)
{
	p[0] = type;
	p[1] = p[2] = p[3] = 0;
}

static bool header_ok(const uint8_t *p, uint8_t type)
{
	return p[0] == type && p[1] == 0 && p[2] == 0 && p[3] == 0;
}

/* HASH(label || key): the mac1 and cookie keys are public, derived from a static public key. */
static void hash_label(uint8_t out[VIGIL_NOISE_HASHLEN], const char label[8],
		       const uint8_t key[VIGIL_HS_KEY_LEN])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, VIGIL_NOISE_HASHLEN);
	crypto_generichash_update(&st, (const uint8_t *)label, 8);
	crypto_generichash_update(&st, key, VIGIL_HS_KEY_LEN);
	crypto_generichash_final(&st, out, VIGIL_NOISE_HASHLEN);
}

static void cookie_key_of(uint8_t out[VIGIL_NOISE_KEYLEN], const uint8_t server_pk[VIGIL_HS_KEY_LEN])
{
	uint8_t h[VIGIL_NOISE_HASHLEN];

	hash_label(h, "cookie--", server_pk);
	memcpy(out, h, VIGIL_NOISE_KEYLEN);
}

/* Keyed BLAKE2b-128 over msg: mac1, mac2 and the cookie itself. */
static void mac(uint8_t out[VIGIL_HS_MAC_LEN], const uint8_t *key, size_t keylen, const uint8_t *msg,
		size_t len)
{
	crypto_generichash(out, VIGIL_HS_MAC_LEN, msg, len, key, keylen);
}

/* One SRTP master key || salt per direction, BLAKE2b keyed by the Split() key, 44-byte output. */
static void derive_keys(const struct vigil_noise_cipher *c1, const struct vigil_noise_cipher *c2,
			struct vigil_hs_keys *keys)
{
	crypto_generichash(keys->c2s, VIGIL_HS_SRTP_KEY_LEN, (const uint8_t *)SRTP_LABEL_C2S,
			   sizeof(SRTP_LABEL_C2S) - 1, c1->k, VIGIL_NOISE_KEYLEN);
	crypto_generichash(keys->s2c, VIGIL_HS_SRTP_KEY_LEN, (const uint8_t *)SRTP_LABEL_S2C,
			   sizeof(SRTP_LABEL_S2C) - 1, c2->k, VIGIL_NOISE_KEYLEN);
}

int vigil_hs_timestamp_cmp(const uint8_t a[VIGIL_HS_TIMESTAMP_LEN], const uint8_t b[VIGIL_HS_TIMESTAMP_LEN])
{
	int c = memcmp(a, b, VIGIL_HS_TIMESTAMP_LEN);

	return (c > 0) - (c < 0);
}

void vigil_hs_keys_wipe(struct vigil_hs_keys *keys)
{
	sodium_memzero(keys, sizeof(*keys));
}

/* Camera side */

int vigil_hs_initiator_init(struct vigil_hs_initiator *in, const uint8_t cam_sk[VIGIL_HS_KEY_LEN],
			    const uint8_t server_pk[VIGIL_HS_KEY_LEN])
{
	uint8_t dh[VIGIL_NOISE_DHLEN];

	if (in == NULL || cam_sk == NULL || server_pk == NULL)
		return -EINVAL;
	if (sodium_init() < 0)
		return -EIO;
	memset(in, 0, sizeof(*in));
	memcpy(in->sk, cam_sk, VIGIL_HS_KEY_LEN);
	crypto_scalarmult_base(in->pk, in->sk);
	/* A low-order server key would make ss all zero: refuse it now rather than at every initiation. */
	if (vigil_noise_dh(dh, in->sk, server_pk) < 0) {
		vigil_hs_initiator_wipe(in);
		return -EINVAL;
	}
	sodium_memzero(dh, sizeof(dh));
	memcpy(in->server_pk, server_pk, VIGIL_HS_KEY_LEN);
	hash_label(in->mac1_key_server, "mac1----", server_pk);
	hash_label(in->mac1_key_self, "mac1----", in->pk);
	cookie_key_of(in->cookie_key, server_pk);
	return 0;
}

void vigil_hs_initiator_wipe(struct vigil_hs_initiator *in)
{
	sodium_memzero(in, sizeof(*in));
}

/* TAI64N now, rounded down to TAI_GRAIN_NS so it does not publish the camera's clock to the nanosecond,
 * then made strictly later than the last one sent: two initiations in one grain, or a clock stepped back,
 * still give increasing timestamps. */
static void tai64n_next(struct vigil_hs_initiator *in, uint8_t out[VIGIL_HS_TIMESTAMP_LEN])
{
	uint64_t t = vigil_clock_ns(CLOCK_REALTIME), s = t / NS_PER_S;
	uint32_t ns = (uint32_t)(t % NS_PER_S) & ~(TAI_GRAIN_NS - 1);

	if (s < in->last_tai_s || (s == in->last_tai_s && ns <= in->last_tai_ns)) {
		s = in->last_tai_s;
		ns = in->last_tai_ns + 1;
		if (ns == NS_PER_S) {
			s++;
			ns = 0;
		}
	}
	in->last_tai_s = s;
	in->last_tai_ns = ns;
	s += TAI64_EPOCH;
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(s >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		out[8 + i] = (uint8_t)(ns >> (24 - 8 * i));
}

int vigil_hs_initiation_write(struct vigil_hs_initiator *in, uint8_t codec, uint8_t *out, size_t *outlen)
{
	uint8_t payload[VIGIL_HS_INITIATION_PAYLOAD_LEN] = {0};
	struct vigil_noise_hs hs;
	uint64_t cookie_age;
	int ret;

	if (in == NULL || out == NULL || outlen == NULL || codec > VIGIL_CODEC_H265)
		return -EINVAL;
	if (*outlen < VIGIL_HS_INITIATION_LEN)
		return -ENOSPC;
	tai64n_next(in, payload);
	payload[VIGIL_HS_TIMESTAMP_LEN] = codec;
	payload[VIGIL_HS_TIMESTAMP_LEN + 1] =
	    (uint8_t)((in->ask_rtx ? VIGIL_HS_FLAG_RTX : 0) | (in->announce_fresh && !in->established ? VIGIL_HS_FLAG_FRESH : 0));
	ret = vigil_noise_ik_init(&hs, true, (const uint8_t *)VIGIL_HS_PROLOGUE,
				  sizeof(VIGIL_HS_PROLOGUE) - 1, in->sk, in->server_pk);
	if (ret == 0)
		ret = vigil_noise_ik_write1(&hs, NULL, payload, sizeof(payload),
					    out + VIGIL_HS_INITIATION_NOISE_OFF);
	if (ret < 0)
		goto out;
	put_header(out, VIGIL_HS_TYPE_INITIATION);
	in->sender_index = randombytes_random();
	put_le32(out + 4, in->sender_index);
	mac(out + VIGIL_HS_INITIATION_MAC1_OFF, in->mac1_key_server, sizeof(in->mac1_key_server), out,
	    VIGIL_HS_INITIATION_MAC1_OFF);
	cookie_age = vigil_now_ns() - in->cookie_birth_ns;
	if (in->has_cookie &&
	    cookie_age < (VIGIL_HS_COOKIE_SECRET_MAX_AGE_S - VIGIL_HS_COOKIE_LATENCY_S) * NS_PER_S)
		mac(out + VIGIL_HS_INITIATION_MAC2_OFF, in->cookie, sizeof(in->cookie), out,
		    VIGIL_HS_INITIATION_MAC2_OFF);
	else
		memset(out + VIGIL_HS_INITIATION_MAC2_OFF, 0, VIGIL_HS_MAC_LEN);
	memcpy(in->last_mac1, out + VIGIL_HS_INITIATION_MAC1_OFF, VIGIL_HS_MAC_LEN);
	in->hs = hs;
	in->pending = true;
	in->pending_rtx = in->ask_rtx;
	*outlen = VIGIL_HS_INITIATION_LEN;
out:
	sodium_memzero(&hs, sizeof(hs));
	sodium_memzero(payload, sizeof(payload));
	return ret;
}

int vigil_hs_response_read(struct vigil_hs_initiator *in, const uint8_t *msg, size_t len,
			   struct vigil_hs_keys *keys)
{
	uint8_t payload[VIGIL_HS_RESPONSE_RTX_PAYLOAD_LEN], m[VIGIL_HS_MAC_LEN];
	struct vigil_noise_cipher c1, c2;
	struct vigil_noise_hs hs;
	size_t payload_len, mac1_off;
	int ret;

	if (in == NULL || msg == NULL || keys == NULL)
		return -EINVAL;
	/* Which size comes is known before it comes: a camera that asked for RTX takes only the long one. */
	payload_len = in->pending && in->pending_rtx ? VIGIL_HS_RESPONSE_RTX_PAYLOAD_LEN
						     : VIGIL_HS_RESPONSE_PAYLOAD_LEN;
	mac1_off = VIGIL_HS_RESPONSE_MAC1_OFF_FOR(payload_len);
	if (len != VIGIL_HS_RESPONSE_LEN_FOR(payload_len) || !header_ok(msg, VIGIL_HS_TYPE_RESPONSE))
		return -EPROTO;
	if (!in->pending || get_le32(msg + 8) != in->sender_index)
		return -ESRCH;
	mac(m, in->mac1_key_self, sizeof(in->mac1_key_self), msg, mac1_off);
	/* The server never holds a cookie of ours, so mac2 is zero; checking it leaves no byte unchecked. */
	if (crypto_verify_16(m, msg + mac1_off) != 0 ||
	    !sodium_is_zero(msg + mac1_off + VIGIL_HS_MAC_LEN, VIGIL_HS_MAC_LEN))
		return -EBADMSG;
	hs = in->hs;
	ret = vigil_noise_ik_read2(&hs, msg + VIGIL_HS_RESPONSE_NOISE_OFF,
				   VIGIL_NOISE_IK_MSG2_LEN(payload_len), payload);
	if (ret < 0) {
		ret = -EKEYREJECTED;
		goto out;
	}
	if (get_le32(payload + 4) == 0 || get_le64(payload + 8) == 0) {
		ret = -EPROTO;
		goto out;
	}
	/* An RTX stream of its own: another SSRC, a dynamic payload type, reserved bytes zero. */
	if (in->pending_rtx &&
	    (get_le32(payload + 16) == get_le32(payload) || payload[20] < VIGIL_HS_RTX_PAYLOAD_TYPE_MIN ||
	     payload[20] > VIGIL_HS_RTX_PAYLOAD_TYPE_MAX || !sodium_is_zero(payload + 21, 3))) {
		ret = -EPROTO;
		goto out;
	}
	ret = vigil_noise_split(&hs, &c1, &c2, NULL);
	if (ret < 0)
		goto out;
	keys->ssrc = get_le32(payload);
	keys->rekey_after_s = get_le32(payload + 4);
	keys->rekey_after_packets = get_le64(payload + 8);
	keys->has_rtx = in->pending_rtx;
	keys->rtx_ssrc = in->pending_rtx ? get_le32(payload + 16) : 0;
	keys->rtx_payload_type = in->pending_rtx ? payload[20] : 0;
	keys->camera_index = in->sender_index;
	keys->server_index = get_le32(msg + 4);
	derive_keys(&c1, &c2, keys);
	sodium_memzero(&c1, sizeof(c1));
	sodium_memzero(&c2, sizeof(c2));
	vigil_noise_hs_wipe(&in->hs);
	in->pending = false;
	in->pending_rtx = false;
	in->established = true;
out:
	sodium_memzero(&hs, sizeof(hs));
	sodium_memzero(payload, sizeof(payload));
	return ret;
}

int vigil_hs_cookie_read(struct vigil_hs_initiator *in, const uint8_t *msg, size_t len)
{
	uint8_t cookie[VIGIL_HS_COOKIE_LEN];

	if (in == NULL || msg == NULL)
		return -EINVAL;
	if (len != VIGIL_HS_COOKIE_REPLY_LEN || !header_ok(msg, VIGIL_HS_TYPE_COOKIE_REPLY))
		return -EPROTO;
	if (!in->pending || get_le32(msg + 4) != in->sender_index)
		return -ESRCH;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		cookie, NULL, NULL, msg + VIGIL_HS_COOKIE_REPLY_COOKIE_OFF,
		VIGIL_HS_COOKIE_REPLY_LEN - VIGIL_HS_COOKIE_REPLY_COOKIE_OFF, in->last_mac1,
		sizeof(in->last_mac1), msg + VIGIL_HS_COOKIE_REPLY_NONCE_OFF, in->cookie_key) != 0)
		return -EKEYREJECTED;
	memcpy(in->cookie, cookie, sizeof(cookie));
	in->cookie_birth_ns = vigil_now_ns();
	in->has_cookie = true;
	sodium_memzero(cookie, sizeof(cookie));
	return 0;
}

/* Server side */

int vigil_hs_responder_init(struct vigil_hs_responder *r, const uint8_t server_sk[VIGIL_HS_KEY_LEN])
{
	if (r == NULL || server_sk == NULL)
		return -EINVAL;
	if (sodium_init() < 0)
		return -EIO;
	memset(r, 0, sizeof(*r));
	memcpy(r->sk, server_sk, VIGIL_HS_KEY_LEN);
	crypto_scalarmult_base(r->pk, r->sk);
	hash_label(r->mac1_key, "mac1----", r->pk);
	cookie_key_of(r->cookie_key, r->pk);
	vigil_hs_responder_rotate(r);
	return 0;
}

void vigil_hs_responder_wipe(struct vigil_hs_responder *r)
{
	sodium_memzero(r, sizeof(*r));
}

void vigil_hs_responder_rotate(struct vigil_hs_responder *r)
{
	randombytes_buf(r->cookie_secret, sizeof(r->cookie_secret));
	r->cookie_birth_ns = vigil_now_ns();
}

/* The cookie of a source address: what mac2 must be keyed with under load. */
static void cookie_of(struct vigil_hs_responder *r, const uint8_t *src, size_t srclen,
		      uint8_t out[VIGIL_HS_COOKIE_LEN])
{
	if (vigil_now_ns() - r->cookie_birth_ns >= VIGIL_HS_COOKIE_SECRET_MAX_AGE_S * NS_PER_S)
		vigil_hs_responder_rotate(r);
	mac(out, r->cookie_secret, sizeof(r->cookie_secret), src, srclen);
}

static void cookie_reply(const struct vigil_hs_responder *r, const uint8_t *msg,
			 const uint8_t cookie[VIGIL_HS_COOKIE_LEN], uint8_t *out)
{
	put_header(out, VIGIL_HS_TYPE_COOKIE_REPLY);
	memcpy(out + 4, msg + 4, 4); /* receiver_index: the initiation's sender_index */
	randombytes_buf(out + VIGIL_HS_COOKIE_REPLY_NONCE_OFF, VIGIL_HS_COOKIE_NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + VIGIL_HS_COOKIE_REPLY_COOKIE_OFF, NULL, cookie,
						   VIGIL_HS_COOKIE_LEN, msg + VIGIL_HS_INITIATION_MAC1_OFF,
						   VIGIL_HS_MAC_LEN, NULL,
						   out + VIGIL_HS_COOKIE_REPLY_NONCE_OFF, r->cookie_key);
}

int vigil_hs_initiation_read(struct vigil_hs_responder *r, const uint8_t *msg, size_t len, const uint8_t *src,
			     size_t srclen, bool under_load, struct vigil_hs_init *init, uint8_t *cookie_out,
			     size_t *cookie_len)
{
	uint8_t payload[VIGIL_HS_INITIATION_PAYLOAD_LEN], m[VIGIL_HS_MAC_LEN];
	int ret;

	if (r == NULL || msg == NULL || init == NULL || (src == NULL && srclen > 0))
		return -EINVAL;
	if (under_load && (src == NULL || srclen == 0 || cookie_out == NULL || cookie_len == NULL))
		return -EINVAL;
	vigil_hs_init_wipe(init);
	if (len != VIGIL_HS_INITIATION_LEN || !header_ok(msg, VIGIL_HS_TYPE_INITIATION))
		return -EPROTO;
	/* mac1 first: one BLAKE2b, before any DH, so junk costs little. */
	mac(m, r->mac1_key, sizeof(r->mac1_key), msg, VIGIL_HS_INITIATION_MAC1_OFF);
	if (crypto_verify_16(m, msg + VIGIL_HS_INITIATION_MAC1_OFF) != 0)
		return -EBADMSG;
	if (under_load) {
		uint8_t cookie[VIGIL_HS_COOKIE_LEN];

		if (*cookie_len < VIGIL_HS_COOKIE_REPLY_LEN)
			return -ENOSPC;
		cookie_of(r, src, srclen, cookie);
		mac(m, cookie, sizeof(cookie), msg, VIGIL_HS_INITIATION_MAC2_OFF);
		if (crypto_verify_16(m, msg + VIGIL_HS_INITIATION_MAC2_OFF) != 0) {
			cookie_reply(r, msg, cookie, cookie_out);
			*cookie_len = VIGIL_HS_COOKIE_REPLY_LEN;
			sodium_memzero(cookie, sizeof(cookie));
			return VIGIL_HS_NEED_COOKIE;
		}
		sodium_memzero(cookie, sizeof(cookie));
	}
	ret = vigil_noise_ik_init(&init->hs, false, (const uint8_t *)VIGIL_HS_PROLOGUE,
				  sizeof(VIGIL_HS_PROLOGUE) - 1, r->sk, NULL);
	if (ret == 0 &&
	    vigil_noise_ik_read1(&init->hs, msg + VIGIL_HS_INITIATION_NOISE_OFF,
				 VIGIL_NOISE_IK_MSG1_LEN(VIGIL_HS_INITIATION_PAYLOAD_LEN), payload) < 0)
		ret = -EKEYREJECTED;
	/* Flags this server does not know are refused, as reserved bytes: a camera never gets less than it
	 * asked for without knowing. */
	if (ret == 0 && (payload[VIGIL_HS_TIMESTAMP_LEN] > VIGIL_CODEC_H265 ||
			 (payload[VIGIL_HS_TIMESTAMP_LEN + 1] & ~VIGIL_HS_FLAGS_KNOWN) != 0 ||
			 !sodium_is_zero(payload + VIGIL_HS_TIMESTAMP_LEN + 2, 2)))
		ret = -EPROTO;
	if (ret < 0) {
		vigil_hs_init_wipe(init);
		sodium_memzero(payload, sizeof(payload));
		return ret;
	}
	memcpy(init->identity, init->hs.rs, VIGIL_HS_KEY_LEN);
	memcpy(init->timestamp, payload, VIGIL_HS_TIMESTAMP_LEN);
	init->codec = payload[VIGIL_HS_TIMESTAMP_LEN];
	init->asks_rtx = (payload[VIGIL_HS_TIMESTAMP_LEN + 1] & VIGIL_HS_FLAG_RTX) != 0;
	init->fresh = (payload[VIGIL_HS_TIMESTAMP_LEN + 1] & VIGIL_HS_FLAG_FRESH) != 0;
	init->sender_index = get_le32(msg + 4);
	init->pending = true;
	sodium_memzero(payload, sizeof(payload));
	return 0;
}

int vigil_hs_response_write(struct vigil_hs_init *init, uint32_t ssrc, uint32_t rekey_s,
			    uint64_t rekey_packets, const struct vigil_hs_rtx *rtx, uint8_t *out,
			    size_t *outlen, struct vigil_hs_keys *keys)
{
	uint8_t payload[VIGIL_HS_RESPONSE_RTX_PAYLOAD_LEN] = {0}, mac1_key[VIGIL_NOISE_HASHLEN];
	struct vigil_noise_cipher c1, c2;
	uint32_t server_index;
	size_t payload_len, mac1_off;
	int ret;

	if (init == NULL || !init->pending || out == NULL || outlen == NULL || keys == NULL || rekey_s == 0 ||
	    rekey_packets == 0)
		return -EINVAL;
	/* The camera takes only the size it asked for, and checks what the RTX fields hold. */
	if ((rtx != NULL) != init->asks_rtx ||
	    (rtx != NULL && (rtx->ssrc == ssrc || rtx->payload_type < VIGIL_HS_RTX_PAYLOAD_TYPE_MIN ||
			     rtx->payload_type > VIGIL_HS_RTX_PAYLOAD_TYPE_MAX)))
		return -EINVAL;
	payload_len = rtx != NULL ? VIGIL_HS_RESPONSE_RTX_PAYLOAD_LEN : VIGIL_HS_RESPONSE_PAYLOAD_LEN;
	mac1_off = VIGIL_HS_RESPONSE_MAC1_OFF_FOR(payload_len);
	if (*outlen < VIGIL_HS_RESPONSE_LEN_FOR(payload_len))
		return -ENOSPC;
	put_le32(payload, ssrc);
	put_le32(payload + 4, rekey_s);
	put_le64(payload + 8, rekey_packets);
	if (rtx != NULL) {
		put_le32(payload + 16, rtx->ssrc);
		payload[20] = rtx->payload_type; /* then 3 reserved zero bytes */
	}
	ret = vigil_noise_ik_write2(&init->hs, NULL, payload, payload_len, out + VIGIL_HS_RESPONSE_NOISE_OFF);
	if (ret == 0)
		ret = vigil_noise_split(&init->hs, &c1, &c2, NULL);
	if (ret < 0)
		goto out;
	server_index = randombytes_random();
	put_header(out, VIGIL_HS_TYPE_RESPONSE);
	put_le32(out + 4, server_index);
	put_le32(out + 8, init->sender_index);
	hash_label(mac1_key, "mac1----", init->identity);
	mac(out + mac1_off, mac1_key, sizeof(mac1_key), out, mac1_off);
	memset(out + mac1_off + VIGIL_HS_MAC_LEN, 0, VIGIL_HS_MAC_LEN);
	*outlen = VIGIL_HS_RESPONSE_LEN_FOR(payload_len);
	keys->ssrc = ssrc;
	keys->rekey_after_s = rekey_s;
	keys->rekey_after_packets = rekey_packets;
	keys->has_rtx = rtx != NULL;
	keys->rtx_ssrc = rtx != NULL ? rtx->ssrc : 0;
	keys->rtx_payload_type = rtx != NULL ? rtx->payload_type : 0;
	keys->camera_index = init->sender_index;
	keys->server_index = server_index;
	derive_keys(&c1, &c2, keys);
	sodium_memzero(&c1, sizeof(c1));
	sodium_memzero(&c2, sizeof(c2));
out:
	sodium_memzero(payload, sizeof(payload));
	vigil_hs_init_wipe(init);
	return ret;
}

void vigil_hs_init_wipe(struct vigil_hs_init *init)
{
	sodium_memzero(init, sizeof(*init));
}

void vigil_hs_unknown_session_write(uint32_t ssrc, uint8_t out[VIGIL_HS_UNKNOWN_SESSION_LEN])
{
	put_header(out, VIGIL_HS_TYPE_UNKNOWN_SESSION);
	put_le32(out + 4, ssrc);
}

int vigil_hs_unknown_session_read(const uint8_t *msg, size_t len, uint32_t *ssrc)
{
	if (len != VIGIL_HS_UNKNOWN_SESSION_LEN || !header_ok(msg, VIGIL_HS_TYPE_UNKNOWN_SESSION))
		return -EPROTO;
	*ssrc = get_le32(msg + 4);
	return 0;
}
