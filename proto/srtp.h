/* SPDX-License-Identifier: MIT */
/* SRTP with AEAD_AES_256_GCM (RFC 3711, RFC 7714): session keys from the
 * RFC 3711 KDF (AES-256-CM PRF via OpenSSL), AEAD via libsodium with the
 * key schedule precomputed once per stream. No DPDK dependency. */
#ifndef VIGIL_SRTP_H
#define VIGIL_SRTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "vigil/bytes.h"
#include "vigil/limits.h"

#define VIGIL_SRTP_LABEL_RTP_ENCRYPTION 0x00
#define VIGIL_SRTP_LABEL_RTP_SALT 0x02
#define VIGIL_SRTP_LABEL_RTCP_ENCRYPTION 0x03
#define VIGIL_SRTP_LABEL_RTCP_SALT 0x05

/* SRTCP with AEAD (RFC 7714 section 9): the RTCP packet (its first 8
 * bytes in the clear), the tag, then E (encrypted) and the 31-bit SRTCP
 * index in one 32-bit word. */
#define VIGIL_SRTCP_HEADER_LEN 8
#define VIGIL_SRTCP_TRAILER_LEN (VIGIL_SRTP_TAG_LEN + 4)
#define VIGIL_SRTCP_E_BIT 0x80000000u

struct vigil_srtp {
	/* The salt first, in the line the expanded key starts in: a packet
	 * needs both, and of the state libsodium's AES-NI code reads only
	 * the first 272 bytes, so the whole key is five cache lines. */
	uint8_t salt[VIGIL_SRTP_SESSION_SALT_LEN];
	crypto_aead_aes256gcm_state aead; /* expanded session key */
};

/* RFC 7714 section 8.1: IV = (00 00 || SSRC || ROC || SEQ) XOR salt. The
 * same for every engine (libsodium here, a crypto device in cryptodev.c). */
static inline void vigil_srtp_iv(uint8_t iv[VIGIL_SRTP_IV_LEN], const uint8_t salt[VIGIL_SRTP_SESSION_SALT_LEN],
				 uint32_t ssrc, uint32_t roc, uint16_t seq)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	/* Made in registers and stored as the 8 and 4 bytes the cipher
	 * loads: built a byte at a time on the stack, the loads that XOR
	 * the salt waited for those stores to retire (a failed store
	 * forward: tens of cycles a packet). */
	uint64_t lo, s_lo;
	uint32_t hi, s_hi;

	lo = (uint64_t)__builtin_bswap32(ssrc) << 16 | (uint64_t)(__builtin_bswap32(roc) & 0xffff) << 48;
	hi = __builtin_bswap32(roc) >> 16 | (uint32_t)__builtin_bswap16(seq) << 16;
	memcpy(&s_lo, salt, 8);
	memcpy(&s_hi, salt + 8, 4);
	lo ^= s_lo;
	hi ^= s_hi;
	memcpy(iv, &lo, 8);
	memcpy(iv + 8, &hi, 4);
#else
	iv[0] = iv[1] = 0;
	vigil_put32(iv + 2, ssrc);
	vigil_put32(iv + 6, roc);
	iv[10] = (uint8_t)(seq >> 8);
	iv[11] = (uint8_t)seq;
	for (int i = 0; i < VIGIL_SRTP_IV_LEN; i++)
		iv[i] ^= salt[i];
#endif
}

/* 0 when this CPU can run libsodium's AES-256-GCM, -ENOTSUP otherwise.
 * Calls sodium_init(). */
int vigil_srtp_available(void);

/* RFC 3711 section 4.3 key derivation with the AES-256-CM PRF (RFC 6188),
 * key derivation rate 0 (index term zero): outlen bytes for label. The
 * master salt is 12 bytes for the AEAD suites (RFC 7714) and 14 for the
 * AES-CM suites (RFC 6188 test vectors); salt_len <= 14. */
int vigil_srtp_kdf(const uint8_t master_key[VIGIL_SRTP_MASTER_KEY_LEN], const uint8_t *master_salt,
		   size_t salt_len, uint8_t label, uint8_t *out, size_t outlen) __attribute__((warn_unused_result));

/* Derive session key and salt and precompute the AEAD state. */
int vigil_srtp_init(struct vigil_srtp *s, const uint8_t master_key[VIGIL_SRTP_MASTER_KEY_LEN],
		    const uint8_t master_salt[VIGIL_SRTP_MASTER_SALT_LEN]) __attribute__((warn_unused_result));

/* The same for SRTCP: the RTCP session key and salt (labels 0x03, 0x05). */
int vigil_srtcp_init(struct vigil_srtp *s, const uint8_t master_key[VIGIL_SRTP_MASTER_KEY_LEN],
		     const uint8_t master_salt[VIGIL_SRTP_MASTER_SALT_LEN]) __attribute__((warn_unused_result));

/* Precompute the AEAD state from a session key and salt directly (no
 * KDF): for the RFC 7714 vectors and keys derived elsewhere. */
int vigil_srtp_init_session(struct vigil_srtp *s, const uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN],
			    const uint8_t salt[VIGIL_SRTP_SESSION_SALT_LEN]) __attribute__((warn_unused_result));

/* Wipe keys (sodium_memzero). */
void vigil_srtp_wipe(struct vigil_srtp *s);

/* Authenticate and decrypt one SRTP packet in place. pkt[0..hdr_len) is the
 * RTP header (the AAD), then ciphertext, then the 16-byte tag; len counts
 * all of it. On success returns the plaintext payload length
 * (len - hdr_len - 16) and pkt[hdr_len..] holds the plaintext; on a bad tag
 * returns -EBADMSG and the packet must be discarded. */
int vigil_srtp_decrypt(const struct vigil_srtp *s, uint8_t *pkt, size_t len, size_t hdr_len, uint32_t ssrc,
		       uint32_t roc, uint16_t seq) __attribute__((warn_unused_result));

/* The same, writing the plaintext to out (len - hdr_len - 16 bytes, which
 * may be pkt + hdr_len). On a bad tag libsodium wipes out, and pkt is
 * untouched when out is elsewhere: so a second key can be tried. */
int vigil_srtp_decrypt_to(const struct vigil_srtp *s, const uint8_t *pkt, size_t len, size_t hdr_len,
			  uint32_t ssrc, uint32_t roc, uint16_t seq, uint8_t *out) __attribute__((warn_unused_result));

/* Encrypt in place (for the camera side, tests and the load generator):
 * pkt holds header + plaintext (len bytes) and has room for 16 more bytes.
 * Returns the SRTP length (len + 16). */
int vigil_srtp_encrypt(const struct vigil_srtp *s, uint8_t *pkt, size_t len, size_t hdr_len, uint32_t ssrc,
		       uint32_t roc, uint16_t seq);

/* Authenticate one SRTCP packet of len bytes (RFC 7714 section 9) and,
 * when its E bit is set, decrypt it in place: with E clear the whole RTCP
 * packet is authenticated and nothing is encrypted. On success returns
 * the RTCP length (len - VIGIL_SRTCP_TRAILER_LEN), with the SRTCP index in
 * *index; -EINVAL when too short, -EBADMSG on a bad tag (then the packet
 * may have been altered: discard it). */
int vigil_srtcp_decrypt(const struct vigil_srtp *s, uint8_t *pkt, size_t len, uint32_t *index)
	__attribute__((warn_unused_result));

/* Protect an RTCP packet of len bytes in place under SRTCP index (31
 * bits), encrypting it when encrypt is set; pkt has room for
 * VIGIL_SRTCP_TRAILER_LEN more bytes. Returns the SRTCP length. */
int vigil_srtcp_encrypt(const struct vigil_srtp *s, uint8_t *pkt, size_t len, uint32_t index, bool encrypt);

#endif
