/* SPDX-License-Identifier: MIT */
/* A camera's SRTP sender: access units in, SRTP packets out (RTP header,
 * packetization by packetize.c, AEAD_AES_256_GCM per RFC 7714 with the RFC
 * 3711 KDF). Sequence number and ROC go on across key changes, as the
 * server's replay window expects. No DPDK, no sockets: the caller sends. */
#ifndef VIGIL_SENDER_H
#define VIGIL_SENDER_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/config.h"
#include "packetize.h"
#include "srtp.h"

#define VIGIL_SENDER_MAX_PACKET (VIGIL_RTP_HEADER_LEN + VIGIL_PACKETIZE_MAX + VIGIL_SRTP_TAG_LEN)

/* One SRTP packet, ready for the wire (the UDP payload). */
typedef void (*vigil_sender_fn)(void *arg, const uint8_t *pkt, size_t len);

struct vigil_sender {
	struct vigil_srtp srtp;
	uint32_t ssrc, roc;
	uint16_t seq;
	uint8_t payload_type;
	uint64_t packets; /* sent under the current key */
	/* for the packetizer callback */
	uint32_t ts;
	vigil_sender_fn fn;
	void *arg;
	int err;
};

/* master: the 32-byte master key then the 12-byte master salt. */
int vigil_sender_init(struct vigil_sender *s, uint32_t ssrc, uint8_t payload_type, uint16_t first_seq,
		      const uint8_t master[VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN]);

/* A new key (a rekey); the sequence goes on. */
int vigil_sender_rekey(struct vigil_sender *s,
		       const uint8_t master[VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN]);

/* An Annex-B access unit at RTP timestamp ts: fn gets each SRTP packet,
 * of at most max_payload bytes of RTP payload. 0 or -errno. */
int vigil_sender_au(struct vigil_sender *s, enum vigil_codec codec, const uint8_t *au, size_t len, uint32_t ts,
		    size_t max_payload, vigil_sender_fn fn, void *arg);

void vigil_sender_wipe(struct vigil_sender *s);

#endif
