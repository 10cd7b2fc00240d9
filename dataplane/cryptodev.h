/* SPDX-License-Identifier: MIT */
/* SRTP's AES-256-GCM through a DPDK crypto device: the second engine
 * beside libsodium's (proto/srtp.c). A software PMD of ipsec-mb
 * (crypto_aesni_gcm, crypto_aesni_mb) runs through the synchronous CPU
 * crypto API: a burst decrypted in place on the calling core, with no
 * enqueue/dequeue round trip (as ipsec-secgw's cpu-crypto mode). A
 * session fixes its AAD length, that is the RTP header's: one session per
 * (session key, header length). Same verdicts and bytes as libsodium's
 * (test_cryptodev). A device without CPU crypto (QAT and the like) takes
 * the asynchronous path instead: each worker enqueues its bursts on a
 * queue pair of its own and dequeues them (Crypto = cryptodev-async takes
 * it on any device, so an ipsec-mb PMD exercises it here). The sessions
 * live with their keys (stream.c). */
#ifndef VIGIL_CRYPTODEV_H
#define VIGIL_CRYPTODEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/limits.h"

struct rte_mbuf;
struct rte_mempool;

/* The most of a session the worker prefetches ahead. */
#define VIGIL_CRYPTODEV_PREFETCH_LINES 32u

struct vigil_cryptodev {
	uint8_t dev_id;
	bool cpu; /* synchronous CPU crypto: vigil_cryptodev_srtp_decrypt */
	bool async; /* the workers take the queue pairs (vigil_cryptodev_srtp_decrypt_qp), one each */
	uint16_t n_qps;
	struct rte_mempool *sessions;
	unsigned session_lines; /* cache lines a session spans (prefetched ahead) */
	struct rte_mempool *ops; /* the asynchronous path's (vigil_cryptodev_srtp_decrypt_qp) */
};

/* One SRTP packet of a burst: in place, header (the AAD), ciphertext,
 * tag. status: 0 when it authenticated (then the payload is plaintext),
 * else EBADMSG (forged, or not this key), or EINVAL (shorter than its
 * header and a tag). */
struct vigil_cryptodev_pkt {
	struct rte_mbuf *m; /* the asynchronous path: the mbuf pkt lies in, one segment */
	uint8_t *pkt;
	uint32_t len;
	uint32_t ssrc, roc;
	uint16_t seq;
	int32_t status;
};

/* The device NAME (a vdev such as "crypto_aesni_gcm0" comes from the EAL's
 * --vdev, or rte_vdev_init), configured and started with room for
 * max_sessions sessions, for n_workers: on the CPU where it can, else
 * (or with async) a queue pair for each. 0 or -errno, msg saying why (no
 * such device, too few queue pairs). After rte_eal_init. */
int vigil_cryptodev_open(struct vigil_cryptodev *d, const char *name, unsigned max_sessions, uint16_t n_workers,
			 bool async, char *msg, size_t msglen);
void vigil_cryptodev_close(struct vigil_cryptodev *d);

/* A decrypting (or encrypting) session for a session key and a header
 * length; NULL with errno set (ENOMEM: the pool is spent). The PMD keeps
 * its expanded key in the pool's memory (DPDK's: not in core dumps);
 * freeing wipes it. */
void *vigil_cryptodev_session(struct vigil_cryptodev *d, const uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN],
			      uint16_t hdr_len, bool encrypt);
void vigil_cryptodev_session_free(struct vigil_cryptodev *d, void *sess);

/* Decrypts up to VIGIL_BURST packets in place, all with sess's key and
 * header length and the session salt salt. How many authenticated. */
unsigned vigil_cryptodev_srtp_decrypt(const struct vigil_cryptodev *d, void *sess,
				      const uint8_t salt[VIGIL_SRTP_SESSION_SALT_LEN], uint16_t hdr_len,
				      struct vigil_cryptodev_pkt *p, unsigned n);

/* Encrypts up to VIGIL_BURST packets in place with an encrypting sess:
 * each len is its header and plaintext, and its buffer has room for the
 * VIGIL_SRTP_TAG_LEN bytes of tag written after them. How many were
 * encrypted (status 0; EIO: the device failed it, EINVAL: shorter than
 * the header). The same bytes as vigil_srtp_encrypt. */
unsigned vigil_cryptodev_srtp_encrypt(const struct vigil_cryptodev *d, void *sess,
				      const uint8_t salt[VIGIL_SRTP_SESSION_SALT_LEN], uint16_t hdr_len,
				      struct vigil_cryptodev_pkt *p, unsigned n);

/* SRTCP with its E bit set (RFC 7714 section 9: the AAD is the first 8
 * bytes and the E|index word, the ciphertext between them and the tag),
 * up to VIGIL_BURST packets in place, each len the whole SRTCP packet,
 * under a session of the RTCP session key made with hdr_len 12 (the
 * AAD's length). The CPU path only. How many authenticated (status 0;
 * EBADMSG; EINVAL: too short, or E clear, which this path does not take). */
unsigned vigil_cryptodev_srtcp_decrypt(const struct vigil_cryptodev *d, void *sess,
				       const uint8_t salt[VIGIL_SRTP_SESSION_SALT_LEN], struct vigil_cryptodev_pkt *p,
				       unsigned n);

/* Decryption through the device's queue pair qp (the calling worker's
 * own), enqueue then dequeue until every packet is back: the asynchronous
 * path a hardware device (QAT and the like, without CPU crypto) takes;
 * each packet's m set. A packet no operation was left for fails with
 * ENOBUFS. */
unsigned vigil_cryptodev_srtp_decrypt_qp(const struct vigil_cryptodev *d, uint16_t qp, void *sess,
					 const uint8_t salt[VIGIL_SRTP_SESSION_SALT_LEN], uint16_t hdr_len,
					 struct vigil_cryptodev_pkt *p, unsigned n);

#endif
