/* SPDX-License-Identifier: MIT */
/* Noise_IK_25519_ChaChaPoly_BLAKE2b over libsodium (noise.h): BLAKE2b-512 HASH, HMAC and HKDF as in the
 * Noise spec sections 4.3 and 5, the CipherState/SymmetricState/HandshakeState operations IK needs. Every
 * intermediate key is wiped before return. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "noise.h"

_Static_assert(VIGIL_NOISE_HASHLEN == crypto_generichash_BYTES_MAX, "BLAKE2b-512");
_Static_assert(VIGIL_NOISE_KEYLEN == crypto_aead_chacha20poly1305_ietf_KEYBYTES, "ChaChaPoly key");
_Static_assert(VIGIL_NOISE_TAGLEN == crypto_aead_chacha20poly1305_ietf_ABYTES, "ChaChaPoly tag");
_Static_assert(VIGIL_NOISE_DHLEN == crypto_scalarmult_BYTES, "X25519");
_Static_assert(sizeof(VIGIL_NOISE_PROTOCOL) - 1 <= VIGIL_NOISE_HASHLEN, "the name is padded, not hashed");

/* HMAC over one or two pieces of data, so HKDF's "output || byte" needs no copy. */
static void hmac2(uint8_t out[VIGIL_NOISE_HASHLEN], const uint8_t *key, size_t keylen, const uint8_t *a,
		  size_t alen, const uint8_t *b, size_t blen)
{
	uint8_t block[VIGIL_NOISE_BLOCKLEN] = {0}, inner[VIGIL_NOISE_HASHLEN];
	crypto_generichash_state st;

	if (keylen > sizeof(block))
		crypto_generichash(block, VIGIL_NOISE_HASHLEN, key, keylen, NULL, 0);
	else
		memcpy(block, key, keylen);
	for (size_t i = 0; i < sizeof(block); i++)
		block[i] ^= 0x36;
	crypto_generichash_init(&st, NULL, 0, VIGIL_NOISE_HASHLEN);
	crypto_generichash_update(&st, block, sizeof(block));
	crypto_generichash_update(&st, a, alen);
	if (blen > 0)
		crypto_generichash_update(&st, b, blen);
	crypto_generichash_final(&st, inner, sizeof(inner));
	for (size_t i = 0; i < sizeof(block); i++)
		block[i] ^= 0x36 ^ 0x5c;
	crypto_generichash_init(&st, NULL, 0, VIGIL_NOISE_HASHLEN);
	crypto_generichash_update(&st, block, sizeof(block));
	crypto_generichash_update(&st, inner, sizeof(inner));
	crypto_generichash_final(&st, out, VIGIL_NOISE_HASHLEN);
	sodium_memzero(block, sizeof(block));
	sodium_memzero(inner, sizeof(inner));
	sodium_memzero(&st, sizeof(st));
}

void vigil_noise_hmac(uint8_t out[VIGIL_NOISE_HASHLEN], const uint8_t *key, size_t keylen,
		      const uint8_t *data, size_t len)
{
	hmac2(out, key, keylen, data, len, NULL, 0);
}

void vigil_noise_hkdf(const uint8_t ck[VIGIL_NOISE_HASHLEN], const uint8_t *ikm, size_t ikmlen,
		      uint8_t out1[VIGIL_NOISE_HASHLEN], uint8_t out2[VIGIL_NOISE_HASHLEN], uint8_t *out3)
{
	static const uint8_t one = 1, two = 2, three = 3;
	uint8_t temp[VIGIL_NOISE_HASHLEN];

	/* temp first: out1 may be ck itself */
	hmac2(temp, ck, VIGIL_NOISE_HASHLEN, ikm, ikmlen, NULL, 0);
	hmac2(out1, temp, sizeof(temp), &one, 1, NULL, 0);
	hmac2(out2, temp, sizeof(temp), out1, VIGIL_NOISE_HASHLEN, &two, 1);
	if (out3 != NULL)
		hmac2(out3, temp, sizeof(temp), out2, VIGIL_NOISE_HASHLEN, &three, 1);
	sodium_memzero(temp, sizeof(temp));
}

int vigil_noise_dh(uint8_t out[VIGIL_NOISE_DHLEN], const uint8_t sk[VIGIL_NOISE_DHLEN],
		   const uint8_t pk[VIGIL_NOISE_DHLEN])
{
	/* libsodium already refuses an all-zero result; the second test says so here too. */
	if (crypto_scalarmult(out, sk, pk) != 0 || sodium_is_zero(out, VIGIL_NOISE_DHLEN)) {
		sodium_memzero(out, VIGIL_NOISE_DHLEN);
		return -EKEYREJECTED;
	}
	return 0;
}

static void nonce_of(uint8_t nonce[12], uint64_t n)
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

int vigil_noise_encrypt(struct vigil_noise_cipher *cs, const uint8_t *ad, size_t adlen, const uint8_t *pt,
			size_t len, uint8_t *out)
{
	uint8_t nonce[12];

	if (!cs->has_key)
		return -EINVAL;
	if (cs->n == UINT64_MAX) /* reserved by the spec */
		return -EOVERFLOW;
	nonce_of(nonce, cs->n);
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, pt, len, ad, adlen, NULL, nonce, cs->k);
	cs->n++;
	return 0;
}

int vigil_noise_decrypt(struct vigil_noise_cipher *cs, const uint8_t *ad, size_t adlen, const uint8_t *ct,
			size_t len, uint8_t *out)
{
	uint8_t nonce[12];

	if (!cs->has_key || len < VIGIL_NOISE_TAGLEN)
		return -EINVAL;
	if (cs->n == UINT64_MAX)
		return -EOVERFLOW;
	nonce_of(nonce, cs->n);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, ct, len, ad, adlen, nonce, cs->k) !=
	    0) {
		sodium_memzero(out, len - VIGIL_NOISE_TAGLEN);
		return -EKEYREJECTED;
	}
	cs->n++;
	return 0;
}

static void mix_hash(struct vigil_noise_hs *hs, const uint8_t *data, size_t len)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, VIGIL_NOISE_HASHLEN);
	crypto_generichash_update(&st, hs->h, sizeof(hs->h));
	crypto_generichash_update(&st, data, len);
	crypto_generichash_final(&st, hs->h, sizeof(hs->h));
}

/* MixKey(DH(sk, pk)): the DH result and HKDF's second output never outlive the call. */
static int mix_dh(struct vigil_noise_hs *hs, const uint8_t sk[VIGIL_NOISE_DHLEN],
		  const uint8_t pk[VIGIL_NOISE_DHLEN])
{
	uint8_t dh[VIGIL_NOISE_DHLEN], temp_k[VIGIL_NOISE_HASHLEN];
	int ret = vigil_noise_dh(dh, sk, pk);

	if (ret < 0)
		return ret;
	vigil_noise_hkdf(hs->ck, dh, sizeof(dh), hs->ck, temp_k, NULL);
	/* HASHLEN 64: the cipher key is temp_k's first 32 bytes */
	memcpy(hs->cs.k, temp_k, VIGIL_NOISE_KEYLEN);
	hs->cs.n = 0;
	hs->cs.has_key = true;
	sodium_memzero(dh, sizeof(dh));
	sodium_memzero(temp_k, sizeof(temp_k));
	return 0;
}

/* In IK every EncryptAndHash comes after es, so there is always a key. */
static int encrypt_and_hash(struct vigil_noise_hs *hs, const uint8_t *pt, size_t len, uint8_t *out)
{
	int ret = vigil_noise_encrypt(&hs->cs, hs->h, sizeof(hs->h), pt, len, out);

	if (ret == 0)
		mix_hash(hs, out, len + VIGIL_NOISE_TAGLEN);
	return ret;
}

static int decrypt_and_hash(struct vigil_noise_hs *hs, const uint8_t *ct, size_t len, uint8_t *out)
{
	int ret = vigil_noise_decrypt(&hs->cs, hs->h, sizeof(hs->h), ct, len, out);

	if (ret == 0)
		mix_hash(hs, ct, len);
	return ret;
}

static void new_ephemeral(struct vigil_noise_hs *hs, const uint8_t *e_sk)
{
	if (e_sk != NULL)
		memcpy(hs->e_sk, e_sk, VIGIL_NOISE_DHLEN);
	else
		randombytes_buf(hs->e_sk, VIGIL_NOISE_DHLEN);
	crypto_scalarmult_base(hs->e_pk, hs->e_sk);
}

int vigil_noise_ik_init(struct vigil_noise_hs *hs, bool initiator, const uint8_t *prologue,
			size_t prologue_len, const uint8_t s_sk[VIGIL_NOISE_DHLEN], const uint8_t *rs)
{
	if (s_sk == NULL || (prologue == NULL && prologue_len > 0) || initiator != (rs != NULL))
		return -EINVAL;
	memset(hs, 0, sizeof(*hs));
	hs->initiator = initiator;
	/* The name is shorter than HASHLEN, so h is the name padded with zeros. */
	memcpy(hs->h, VIGIL_NOISE_PROTOCOL, sizeof(VIGIL_NOISE_PROTOCOL) - 1);
	memcpy(hs->ck, hs->h, sizeof(hs->ck));
	mix_hash(hs, prologue, prologue_len);
	memcpy(hs->s_sk, s_sk, VIGIL_NOISE_DHLEN);
	crypto_scalarmult_base(hs->s_pk, hs->s_sk);
	/* IK's pre-message: <- s */
	if (initiator) {
		memcpy(hs->rs, rs, VIGIL_NOISE_DHLEN);
		mix_hash(hs, hs->rs, VIGIL_NOISE_DHLEN);
	} else {
		mix_hash(hs, hs->s_pk, VIGIL_NOISE_DHLEN);
	}
	return 0;
}

/* -> e, es, s, ss */
int vigil_noise_ik_write1(struct vigil_noise_hs *hs, const uint8_t *e_sk, const uint8_t *payload,
			  size_t payload_len, uint8_t *out)
{
	int ret;

	if (!hs->initiator || hs->step != 0)
		return -EINVAL;
	new_ephemeral(hs, e_sk);
	memcpy(out, hs->e_pk, VIGIL_NOISE_DHLEN);
	mix_hash(hs, hs->e_pk, VIGIL_NOISE_DHLEN);
	out += VIGIL_NOISE_DHLEN;
	ret = mix_dh(hs, hs->e_sk, hs->rs);
	if (ret == 0)
		ret = encrypt_and_hash(hs, hs->s_pk, VIGIL_NOISE_DHLEN, out);
	out += VIGIL_NOISE_DHLEN + VIGIL_NOISE_TAGLEN;
	if (ret == 0)
		ret = mix_dh(hs, hs->s_sk, hs->rs);
	if (ret == 0)
		ret = encrypt_and_hash(hs, payload, payload_len, out);
	if (ret < 0)
		return ret;
	hs->step = 1;
	return 0;
}

int vigil_noise_ik_read1(struct vigil_noise_hs *hs, const uint8_t *msg, size_t len, uint8_t *payload)
{
	int ret;

	if (hs->initiator || hs->step != 0 || len < VIGIL_NOISE_IK_MSG1_LEN(0))
		return -EINVAL;
	memcpy(hs->re, msg, VIGIL_NOISE_DHLEN);
	mix_hash(hs, hs->re, VIGIL_NOISE_DHLEN);
	msg += VIGIL_NOISE_DHLEN;
	ret = mix_dh(hs, hs->s_sk, hs->re);
	if (ret == 0)
		ret = decrypt_and_hash(hs, msg, VIGIL_NOISE_DHLEN + VIGIL_NOISE_TAGLEN, hs->rs);
	msg += VIGIL_NOISE_DHLEN + VIGIL_NOISE_TAGLEN;
	if (ret == 0)
		ret = mix_dh(hs, hs->s_sk, hs->rs);
	if (ret == 0)
		ret =
		    decrypt_and_hash(hs, msg, len - VIGIL_NOISE_IK_MSG1_LEN(0) + VIGIL_NOISE_TAGLEN, payload);
	/* From here on the responder uses only its ephemeral: no copy of the static key stays around. */
	sodium_memzero(hs->s_sk, sizeof(hs->s_sk));
	if (ret < 0)
		return ret;
	hs->step = 1;
	return 0;
}

/* <- e, ee, se */
int vigil_noise_ik_write2(struct vigil_noise_hs *hs, const uint8_t *e_sk, const uint8_t *payload,
			  size_t payload_len, uint8_t *out)
{
	int ret;

	if (hs->initiator || hs->step != 1)
		return -EINVAL;
	new_ephemeral(hs, e_sk);
	memcpy(out, hs->e_pk, VIGIL_NOISE_DHLEN);
	mix_hash(hs, hs->e_pk, VIGIL_NOISE_DHLEN);
	out += VIGIL_NOISE_DHLEN;
	ret = mix_dh(hs, hs->e_sk, hs->re);
	if (ret == 0)
		ret = mix_dh(hs, hs->e_sk, hs->rs);
	if (ret == 0)
		ret = encrypt_and_hash(hs, payload, payload_len, out);
	if (ret < 0)
		return ret;
	hs->step = 2;
	return 0;
}

int vigil_noise_ik_read2(struct vigil_noise_hs *hs, const uint8_t *msg, size_t len, uint8_t *payload)
{
	int ret;

	if (!hs->initiator || hs->step != 1 || len < VIGIL_NOISE_IK_MSG2_LEN(0))
		return -EINVAL;
	memcpy(hs->re, msg, VIGIL_NOISE_DHLEN);
	mix_hash(hs, hs->re, VIGIL_NOISE_DHLEN);
	msg += VIGIL_NOISE_DHLEN;
	ret = mix_dh(hs, hs->e_sk, hs->re);
	if (ret == 0)
		ret = mix_dh(hs, hs->s_sk, hs->re);
	if (ret == 0)
		ret = decrypt_and_hash(hs, msg, len - VIGIL_NOISE_DHLEN, payload);
	if (ret < 0)
		return ret;
	hs->step = 2;
	return 0;
}

int vigil_noise_split(struct vigil_noise_hs *hs, struct vigil_noise_cipher *c1, struct vigil_noise_cipher *c2,
		      uint8_t *hash)
{
	uint8_t t1[VIGIL_NOISE_HASHLEN], t2[VIGIL_NOISE_HASHLEN];

	if (hs->step != 2)
		return -EINVAL;
	vigil_noise_hkdf(hs->ck, NULL, 0, t1, t2, NULL);
	*c1 = (struct vigil_noise_cipher){.has_key = true};
	*c2 = (struct vigil_noise_cipher){.has_key = true};
	memcpy(c1->k, t1, VIGIL_NOISE_KEYLEN);
	memcpy(c2->k, t2, VIGIL_NOISE_KEYLEN);
	if (hash != NULL)
		memcpy(hash, hs->h, VIGIL_NOISE_HASHLEN);
	sodium_memzero(t1, sizeof(t1));
	sodium_memzero(t2, sizeof(t2));
	vigil_noise_hs_wipe(hs);
	return 0;
}

void vigil_noise_hs_wipe(struct vigil_noise_hs *hs)
{
	sodium_memzero(hs, sizeof(*hs));
}
