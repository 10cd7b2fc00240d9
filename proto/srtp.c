/* SPDX-License-Identifier: MIT */
/* SRTP AEAD_AES_256_GCM (RFC 7714): the RFC 3711 key derivation with the
 * AES-256-CM PRF (OpenSSL, control path only) and in-place packet
 * decryption/encryption with libsodium's precomputed AES-256-GCM state. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include <openssl/evp.h>

#include "srtp.h"
#include "vigil/bytes.h"

#define KDF_SALT_LEN 14 /* RFC 3711 master salt, 112 bits */
#define KDF_MAX_OUT 64

_Static_assert(_Alignof(struct vigil_srtp) >= 16, "libsodium's AES-GCM state needs 16-byte alignment");

int vigil_srtp_available(void)
{
	if (sodium_init() < 0 || !crypto_aead_aes256gcm_is_available())
		return -ENOTSUP;
	return 0;
}

/* RFC 3711 section 4.3.1 with kdr 0: x = (label << 48) XOR master_salt,
 * right-aligned in 112 bits, so the label lands in octet 7 of the salt;
 * the PRF is the AES-CM keystream from IV = x * 2^16. A 12-byte GCM
 * master salt is zero-padded on the right to 14 bytes, as libsrtp does. */
int vigil_srtp_kdf(const uint8_t master_key[VIGIL_SRTP_MASTER_KEY_LEN], const uint8_t *master_salt,
		   size_t salt_len, uint8_t label, uint8_t *out, size_t outlen)
{
	uint8_t iv[16] = {0};
	EVP_CIPHER_CTX *ctx;
	int n, ret = -EIO;

	if (salt_len > KDF_SALT_LEN || outlen == 0 || outlen > KDF_MAX_OUT)
		return -EINVAL;
	memcpy(iv, master_salt, salt_len);
	iv[7] ^= label;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx) {
		ret = -ENOMEM;
		goto out;
	}
	memset(out, 0, outlen);
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_ctr(), NULL, master_key, iv) == 1 &&
	    EVP_EncryptUpdate(ctx, out, &n, out, (int)outlen) == 1 && (size_t)n == outlen)
		ret = 0;
	EVP_CIPHER_CTX_free(ctx); /* cleanses the expanded key */
out:
	sodium_memzero(iv, sizeof(iv));
	if (ret)
		sodium_memzero(out, outlen);
	return ret;
}

int vigil_srtp_init_session(struct vigil_srtp *s, const uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN],
			    const uint8_t salt[VIGIL_SRTP_SESSION_SALT_LEN])
{
	/* beforenm runs AES-NI code unconditionally: check the CPU first. */
	if (vigil_srtp_available())
		return -ENOTSUP;
	if (crypto_aead_aes256gcm_beforenm(&s->aead, key) != 0)
		return -EIO;
	memcpy(s->salt, salt, sizeof(s->salt));
	return 0;
}

/* Session key and salt for one of RTP's or RTCP's pairs of labels. */
static int init_labels(struct vigil_srtp *s, const uint8_t *master_key, const uint8_t *master_salt,
		       uint8_t key_label, uint8_t salt_label)
{
	uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN], salt[VIGIL_SRTP_SESSION_SALT_LEN];
	int ret;

	ret = vigil_srtp_kdf(master_key, master_salt, VIGIL_SRTP_MASTER_SALT_LEN, key_label, key, sizeof(key));
	if (!ret)
		ret = vigil_srtp_kdf(master_key, master_salt, VIGIL_SRTP_MASTER_SALT_LEN, salt_label, salt,
				     sizeof(salt));
	if (!ret)
		ret = vigil_srtp_init_session(s, key, salt);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(salt, sizeof(salt));
	if (ret)
		vigil_srtp_wipe(s);
	return ret;
}

int vigil_srtp_init(struct vigil_srtp *s, const uint8_t master_key[VIGIL_SRTP_MASTER_KEY_LEN],
		    const uint8_t master_salt[VIGIL_SRTP_MASTER_SALT_LEN])
{
	return init_labels(s, master_key, master_salt, VIGIL_SRTP_LABEL_RTP_ENCRYPTION, VIGIL_SRTP_LABEL_RTP_SALT);
}

int vigil_srtcp_init(struct vigil_srtp *s, const uint8_t master_key[VIGIL_SRTP_MASTER_KEY_LEN],
		     const uint8_t master_salt[VIGIL_SRTP_MASTER_SALT_LEN])
{
	return init_labels(s, master_key, master_salt, VIGIL_SRTP_LABEL_RTCP_ENCRYPTION,
			   VIGIL_SRTP_LABEL_RTCP_SALT);
}

void vigil_srtp_wipe(struct vigil_srtp *s)
{
	sodium_memzero(s, sizeof(*s));
}

int vigil_srtp_decrypt_to(const struct vigil_srtp *s, const uint8_t *pkt, size_t len, size_t hdr_len,
			  uint32_t ssrc, uint32_t roc, uint16_t seq, uint8_t *out)
{
	uint8_t iv[VIGIL_SRTP_IV_LEN];
	size_t clen;

	if (len > INT_MAX || hdr_len > len || len - hdr_len < VIGIL_SRTP_TAG_LEN)
		return -EINVAL;
	clen = len - hdr_len - VIGIL_SRTP_TAG_LEN;
	vigil_srtp_iv(iv, s->salt, ssrc, roc, seq);
	/* In place (m == c) is safe: each block is read before it is written. */
	if (crypto_aead_aes256gcm_decrypt_detached_afternm(out, NULL, pkt + hdr_len, clen, pkt + hdr_len + clen,
							   pkt, hdr_len, iv, &s->aead) != 0)
		return -EBADMSG;
	return (int)clen;
}

int vigil_srtp_decrypt(const struct vigil_srtp *s, uint8_t *pkt, size_t len, size_t hdr_len, uint32_t ssrc,
		       uint32_t roc, uint16_t seq)
{
	return vigil_srtp_decrypt_to(s, pkt, len, hdr_len, ssrc, roc, seq, pkt + hdr_len);
}

int vigil_srtp_encrypt(const struct vigil_srtp *s, uint8_t *pkt, size_t len, size_t hdr_len, uint32_t ssrc,
		       uint32_t roc, uint16_t seq)
{
	uint8_t iv[VIGIL_SRTP_IV_LEN];
	size_t mlen;

	if (len > INT_MAX - VIGIL_SRTP_TAG_LEN || hdr_len > len)
		return -EINVAL;
	mlen = len - hdr_len;
	vigil_srtp_iv(iv, s->salt, ssrc, roc, seq);
	if (crypto_aead_aes256gcm_encrypt_detached_afternm(pkt + hdr_len, pkt + len, NULL, pkt + hdr_len,
							   mlen, pkt, hdr_len, NULL, iv, &s->aead) != 0)
		return -EIO;
	return (int)(len + VIGIL_SRTP_TAG_LEN);
}

/* RFC 7714 section 9.1: IV = (00 00 || SSRC || 00 00 || 0 || SRTCP index)
 * XOR salt: the RTP layout with the index where ROC and SEQ were. */
static inline void make_rtcp_iv(uint8_t iv[VIGIL_SRTP_IV_LEN], const uint8_t salt[VIGIL_SRTP_SESSION_SALT_LEN],
				uint32_t ssrc, uint32_t index)
{
	vigil_srtp_iv(iv, salt, ssrc, index >> 16, (uint16_t)index);
}

/* Section 9.3: with E set the AAD is the first 8 bytes and the E|index
 * word, and the rest is the ciphertext; with E clear the AAD is the whole
 * RTCP packet and the word, and there is no ciphertext. The word follows
 * the tag on the wire, so the AAD is put together here: for E clear by
 * moving the tag out of the way (the packet is the caller's to alter). */
int vigil_srtcp_decrypt(const struct vigil_srtp *s, uint8_t *pkt, size_t len, uint32_t *index)
{
	uint8_t iv[VIGIL_SRTP_IV_LEN], tag[VIGIL_SRTP_TAG_LEN], aad[VIGIL_SRTCP_HEADER_LEN + 4];
	size_t rtcp_len;
	uint32_t esi;

	if (len > INT_MAX || len < VIGIL_SRTCP_HEADER_LEN + VIGIL_SRTCP_TRAILER_LEN)
		return -EINVAL;
	rtcp_len = len - VIGIL_SRTCP_TRAILER_LEN;
	esi = vigil_get32(pkt + len - 4);
	make_rtcp_iv(iv, s->salt, vigil_get32(pkt + 4), esi & ~VIGIL_SRTCP_E_BIT);
	if (esi & VIGIL_SRTCP_E_BIT) {
		memcpy(aad, pkt, VIGIL_SRTCP_HEADER_LEN);
		memcpy(aad + VIGIL_SRTCP_HEADER_LEN, pkt + len - 4, 4);
		if (crypto_aead_aes256gcm_decrypt_detached_afternm(
			    pkt + VIGIL_SRTCP_HEADER_LEN, NULL, pkt + VIGIL_SRTCP_HEADER_LEN,
			    rtcp_len - VIGIL_SRTCP_HEADER_LEN, pkt + rtcp_len, aad, sizeof(aad), iv, &s->aead) != 0)
			return -EBADMSG;
	} else {
		memcpy(tag, pkt + rtcp_len, sizeof(tag));
		memmove(pkt + rtcp_len, pkt + len - 4, 4);
		if (crypto_aead_aes256gcm_decrypt_detached_afternm(tag, NULL, tag, 0, tag, pkt, rtcp_len + 4, iv,
								   &s->aead) != 0)
			return -EBADMSG;
	}
	*index = esi & ~VIGIL_SRTCP_E_BIT;
	return (int)rtcp_len;
}

int vigil_srtcp_encrypt(const struct vigil_srtp *s, uint8_t *pkt, size_t len, uint32_t index, bool encrypt)
{
	uint8_t iv[VIGIL_SRTP_IV_LEN], aad[VIGIL_SRTCP_HEADER_LEN + 4], tag[VIGIL_SRTP_TAG_LEN] = {0};
	uint32_t esi = (index & ~VIGIL_SRTCP_E_BIT) | (encrypt ? VIGIL_SRTCP_E_BIT : 0);

	if (len > INT_MAX - VIGIL_SRTCP_TRAILER_LEN || len < VIGIL_SRTCP_HEADER_LEN)
		return -EINVAL;
	make_rtcp_iv(iv, s->salt, vigil_get32(pkt + 4), index & ~VIGIL_SRTCP_E_BIT);
	vigil_put32(pkt + len + VIGIL_SRTP_TAG_LEN, esi);
	if (encrypt) {
		memcpy(aad, pkt, VIGIL_SRTCP_HEADER_LEN);
		vigil_put32(aad + VIGIL_SRTCP_HEADER_LEN, esi);
		if (crypto_aead_aes256gcm_encrypt_detached_afternm(pkt + VIGIL_SRTCP_HEADER_LEN, pkt + len, NULL,
								   pkt + VIGIL_SRTCP_HEADER_LEN,
								   len - VIGIL_SRTCP_HEADER_LEN, aad, sizeof(aad), NULL,
								   iv, &s->aead) != 0)
			return -EIO;
	} else {
		/* The AAD is the packet and the word: put the word where the
		 * tag goes for a moment. */
		vigil_put32(pkt + len, esi);
		if (crypto_aead_aes256gcm_encrypt_detached_afternm(tag, tag, NULL, tag, 0, pkt, len + 4, NULL, iv,
								   &s->aead) != 0)
			return -EIO;
		memcpy(pkt + len, tag, sizeof(tag));
	}
	return (int)(len + VIGIL_SRTCP_TRAILER_LEN);
}
