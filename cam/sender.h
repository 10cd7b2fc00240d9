/* SPDX-License-Identifier: MIT */
/* A camera's SRTP sender: access units in, SRTP packets out (RTP header,
 * packetization by packetize.c, AEAD_AES_256_GCM per RFC 7714 with the RFC
 * 3711 KDF). Sequence number and ROC go on across key changes, as the
 * server's replay window expects. No DPDK, no sockets: the caller sends.
 *
 * AES-GCM gives away its authentication key, and so lets anyone forge
 * packets, once two packets share a key and an index (ROC << 16 | SEQ):
 * a sender never repeats one under a key. A key made for this sender
 * alone (a handshake's) dies with it: vigil_sender_init_ephemeral. A
 * static key (SDES, configured in vigild) outlives the process:
 * vigil_sender_init persists the index ahead of use (index_store.h), and
 * a restart resumes past every index used before. */
#ifndef VIGIL_SENDER_H
#define VIGIL_SENDER_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/config_model.h"
#include "index_store.h"
#include "packetize.h"
#include "srtp.h"

#define VIGIL_SENDER_MAX_PACKET (VIGIL_RTP_HEADER_LEN + VIGIL_PACKETIZE_MAX + VIGIL_SRTP_TAG_LEN)

/* One SRTP packet, ready for the wire (the UDP payload). */
typedef void (*vigil_sender_fn)(void *arg, const uint8_t *pkt, size_t len);

struct vigil_retransmit;

struct vigil_sender {
	struct vigil_srtp srtp;
	uint32_t ssrc;
	uint64_t index; /* the next packet's, ROC << 16 | SEQ */
	uint8_t payload_type;
	uint64_t packets; /* sent under the current key */
	/* static keys only: indices below reserved may be used */
	struct vigil_index_store *store;
	uint64_t reserved;
	uint64_t reservations, reserve_max_ns; /* how many writes, the slowest */
	/* NULL, or where every packet sent is also kept for retransmission
	 * (retransmit.h): set it after init, the caller owns it */
	struct vigil_retransmit *rtx;
	/* for the packetizer callback */
	uint32_t ts;
	vigil_sender_fn fn;
	void *arg;
	int err;
};

/* Under a static key. master: the 32-byte master key then the 12-byte
 * master salt. state_path: the sender's state file (index_store.h), whose
 * directory must exist; NULL is refused (-EINVAL). The sender starts where
 * the state says and writes it again every VIGIL_INDEX_RESERVE packets,
 * from the packet path (vigil_sender_au then blocks for two fsyncs). msg
 * says what was found, or what is wrong: 0 or -errno as
 * vigil_index_store_open. */
int vigil_sender_init(struct vigil_sender *s, uint32_t ssrc, uint8_t payload_type,
		      const uint8_t master[VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN],
		      const char *state_path, char *msg, size_t msglen) __attribute__((warn_unused_result));

/* Under a key that no other sender has held and none will hold after this
 * one: a handshake's, or one made at random in this process. Nothing is
 * persisted, so never pass a key that outlives the process. */
int vigil_sender_init_ephemeral(struct vigil_sender *s, uint32_t ssrc, uint8_t payload_type,
				uint16_t first_seq,
				const uint8_t master[VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN])
    __attribute__((warn_unused_result));

/* A new ephemeral key (a rekey); the sequence goes on. -EINVAL for a
 * sender under a static key, whose state names that key. */
int vigil_sender_rekey(struct vigil_sender *s,
		       const uint8_t master[VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN]);

/* An Annex-B access unit at RTP timestamp ts: fn gets each SRTP packet,
 * of at most max_payload bytes of RTP payload. 0 or -errno: the
 * packetizer's, or the state's when a reservation cannot be written
 * (the packets from there on are not sent; the next call tries again), or
 * -ENOSPC once the key's 2^48 indices are spent. */
int vigil_sender_au(struct vigil_sender *s, enum vigil_codec codec, const uint8_t *au, size_t len, uint32_t ts,
		    size_t max_payload, vigil_sender_fn fn, void *arg);

/* Wipes the keys and closes the state (which stays on disk). */
void vigil_sender_wipe(struct vigil_sender *s);

#endif
