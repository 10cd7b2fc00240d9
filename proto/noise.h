/* SPDX-License-Identifier: MIT */
/* Noise_IK_25519_ChaChaPoly_BLAKE2b (Noise spec rev. 34): the hash, HMAC and HKDF, the cipher, symmetric and
 * handshake states, and IK's two messages, with any prologue and payload and, for test vectors, fixed
 * ephemeral keys. libsodium only; handshake.c puts vigil's wire format around it. */
#ifndef VIGIL_NOISE_H
#define VIGIL_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIGIL_NOISE_PROTOCOL "Noise_IK_25519_ChaChaPoly_BLAKE2b"
#define VIGIL_NOISE_DHLEN 32
#define VIGIL_NOISE_HASHLEN 64	 /* BLAKE2b-512 */
#define VIGIL_NOISE_BLOCKLEN 128 /* BLAKE2b's block, for HMAC */
#define VIGIL_NOISE_KEYLEN 32
#define VIGIL_NOISE_TAGLEN 16
/* IK message 1 is e, es, s, ss + payload; message 2 is e, ee, se + payload. */
#define VIGIL_NOISE_IK_MSG1_LEN(payload)                                                                     \
	(VIGIL_NOISE_DHLEN + VIGIL_NOISE_DHLEN + 2 * VIGIL_NOISE_TAGLEN + (payload))
#define VIGIL_NOISE_IK_MSG2_LEN(payload) (VIGIL_NOISE_DHLEN + VIGIL_NOISE_TAGLEN + (payload))

#define VIGIL_NOISE_WUR __attribute__((warn_unused_result))

struct vigil_noise_cipher {
	uint8_t k[VIGIL_NOISE_KEYLEN];
	uint64_t n;
	bool has_key;
};

struct vigil_noise_hs {
	struct vigil_noise_cipher cs;
	uint8_t ck[VIGIL_NOISE_HASHLEN];
	uint8_t h[VIGIL_NOISE_HASHLEN];
	uint8_t s_sk[VIGIL_NOISE_DHLEN], s_pk[VIGIL_NOISE_DHLEN];
	uint8_t e_sk[VIGIL_NOISE_DHLEN], e_pk[VIGIL_NOISE_DHLEN];
	uint8_t rs[VIGIL_NOISE_DHLEN], re[VIGIL_NOISE_DHLEN];
	bool initiator;
	uint8_t step; /* messages done: 0, 1, 2 (then only split) */
};

/* HMAC-BLAKE2b-512 (RFC 2104, 128-byte block); a key longer than the block is hashed first. */
void vigil_noise_hmac(uint8_t out[VIGIL_NOISE_HASHLEN], const uint8_t *key, size_t keylen,
		      const uint8_t *data, size_t len);
/* Noise HKDF(ck, ikm): two or three HASHLEN outputs; out3 may be NULL. out1 may be ck. */
void vigil_noise_hkdf(const uint8_t ck[VIGIL_NOISE_HASHLEN], const uint8_t *ikm, size_t ikmlen,
		      uint8_t out1[VIGIL_NOISE_HASHLEN], uint8_t out2[VIGIL_NOISE_HASHLEN], uint8_t *out3);
/* X25519; -EKEYREJECTED when the result is all zero (a low-order public key). */
VIGIL_NOISE_WUR int vigil_noise_dh(uint8_t out[VIGIL_NOISE_DHLEN], const uint8_t sk[VIGIL_NOISE_DHLEN],
				   const uint8_t pk[VIGIL_NOISE_DHLEN]);

/* ChaChaPoly with nonce 0^4 || LE64(n); n advances on success. out holds len + TAGLEN (encrypt) or
 * len - TAGLEN (decrypt). -EOVERFLOW once n reaches 2^64 - 1, -EKEYREJECTED if ct does not authenticate,
 * -EINVAL without a key. */
VIGIL_NOISE_WUR int vigil_noise_encrypt(struct vigil_noise_cipher *cs, const uint8_t *ad, size_t adlen,
					const uint8_t *pt, size_t len, uint8_t *out);
VIGIL_NOISE_WUR int vigil_noise_decrypt(struct vigil_noise_cipher *cs, const uint8_t *ad, size_t adlen,
					const uint8_t *ct, size_t len, uint8_t *out);

/* Initialize(IK): our static secret key; rs, the responder's static public key, is given to the initiator
 * and must be NULL for the responder. -EINVAL on a bad combination. */
VIGIL_NOISE_WUR int vigil_noise_ik_init(struct vigil_noise_hs *hs, bool initiator, const uint8_t *prologue,
					size_t prologue_len, const uint8_t s_sk[VIGIL_NOISE_DHLEN],
					const uint8_t *rs);
/* The four message steps, in their order only (-EINVAL otherwise). e_sk NULL: a fresh ephemeral (tests
 * give a fixed one). out holds VIGIL_NOISE_IK_MSG{1,2}_LEN(payload_len); a reader's payload gets
 * len - that overhead. A failed read leaves hs unusable: callers that must survive forgeries read into a
 * copy. */
VIGIL_NOISE_WUR int vigil_noise_ik_write1(struct vigil_noise_hs *hs, const uint8_t *e_sk,
					  const uint8_t *payload, size_t payload_len, uint8_t *out);
VIGIL_NOISE_WUR int vigil_noise_ik_read1(struct vigil_noise_hs *hs, const uint8_t *msg, size_t len,
					 uint8_t *payload);
VIGIL_NOISE_WUR int vigil_noise_ik_write2(struct vigil_noise_hs *hs, const uint8_t *e_sk,
					  const uint8_t *payload, size_t payload_len, uint8_t *out);
VIGIL_NOISE_WUR int vigil_noise_ik_read2(struct vigil_noise_hs *hs, const uint8_t *msg, size_t len,
					 uint8_t *payload);
/* Split() after message 2: c1 (initiator to responder), c2 (the other way), and the handshake hash h
 * (may be NULL). Wipes hs. */
VIGIL_NOISE_WUR int vigil_noise_split(struct vigil_noise_hs *hs, struct vigil_noise_cipher *c1,
				      struct vigil_noise_cipher *c2, uint8_t *hash);
void vigil_noise_hs_wipe(struct vigil_noise_hs *hs);

#endif
