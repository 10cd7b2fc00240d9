/* SPDX-License-Identifier: MIT */
/* SRTP's AES-256-GCM through a DPDK crypto device: the second engine
 * beside libsodium's (proto/srtp.c). A software PMD of ipsec-mb
 * (crypto_aesni_gcm, crypto_aesni_mb) runs through the synchronous CPU
 * crypto API: a burst decrypted in place on the calling core, with no
 * enqueue/dequeue round trip (as ipsec-secgw's cpu-crypto mode). A
 * session fixes its AAD length, that is the RTP header's: one session per
 * (session key, header length). Same verdicts and bytes as libsodium's
 * (test_cryptodev). Not yet used by the workers: the Crypto key and the
 * sessions on the live key path are what remains (issue 16). */
#ifndef VIGIL_CRYPTODEV_H
#define VIGIL_CRYPTODEV_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/limits.h"

struct rte_mempool;

struct vigil_cryptodev {
	uint8_t dev_id;
	struct rte_mempool *sessions;
};

/* One SRTP packet of a burst: in place, header (the AAD), ciphertext,
 * tag. status: 0 when it authenticated (then the payload is plaintext),
 * else EBADMSG (forged, or not this key), or EINVAL (shorter than its
 * header and a tag). */
struct vigil_cryptodev_pkt {
	uint8_t *pkt;
	uint32_t len;
	uint32_t ssrc, roc;
	uint16_t seq;
	int32_t status;
};

/* The device NAME (a vdev such as "crypto_aesni_gcm0" comes from the EAL's
 * --vdev), configured and started with room for max_sessions sessions.
 * 0 or -errno, msg saying why (no such device, no CPU crypto). After
 * rte_eal_init. */
int vigil_cryptodev_open(struct vigil_cryptodev *d, const char *name, unsigned max_sessions, char *msg,
			 size_t msglen);
void vigil_cryptodev_close(struct vigil_cryptodev *d);

/* A decrypting session for a session key and a header length; NULL with
 * errno set (ENOMEM: the pool is spent). The PMD keeps its expanded key in
 * the pool's memory (DPDK's: not in core dumps); freeing wipes it. */
void *vigil_cryptodev_session(struct vigil_cryptodev *d, const uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN],
			      uint16_t hdr_len);
void vigil_cryptodev_session_free(struct vigil_cryptodev *d, void *sess);

/* Decrypts up to VIGIL_BURST packets in place, all with sess's key and
 * header length and the session salt salt. How many authenticated. */
unsigned vigil_cryptodev_srtp_decrypt(const struct vigil_cryptodev *d, void *sess,
				      const uint8_t salt[VIGIL_SRTP_SESSION_SALT_LEN], uint16_t hdr_len,
				      struct vigil_cryptodev_pkt *p, unsigned n);

#endif
