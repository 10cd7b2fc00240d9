/* SPDX-License-Identifier: MIT */
/* A camera's answers to vigild's feedback (issue 18): the packets it sent
 * in the last VIGIL_RTX_HOLD_MS kept, SRTCP from vigild authenticated and
 * checked for replay, each NACKed sequence number sent again as an RFC 4588
 * RTX packet (its own SSRC, payload type and SRTP index under the camera's
 * key), a PLI passed on as a key frame request. No DPDK, no sockets, no
 * allocation after init: the caller reads and sends.
 *
 * The RTX stream's SRTP index is a second index under the camera's key: it
 * must never repeat either. Under a static key it is reserved ahead in a
 * state file of its own (index_store.h), as the media index is. */
#ifndef VIGIL_RETRANSMIT_H
#define VIGIL_RETRANSMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "index_store.h"
#include "packetize.h"
#include "replay.h"
#include "rtcp_fb.h"
#include "sender.h"
#include "srtp.h"

/* How long a packet stays retransmittable: vigild's hold for a
 * retransmission (RetransmitHoldMs, 200 at most by default) plus the RTT. */
#define VIGIL_RTX_HOLD_MS 500
#define VIGIL_RTX_SLOTS_MAX 8192 /* packets held at most (a power of two) */
/* The rate limit: RTX may spend half of the media payload bytes recorded
 * plus a burst of this many bytes, no more, however many valid NACKs
 * arrive: RTX payload bytes <= media payload bytes / VIGIL_RTX_SHARE +
 * VIGIL_RTX_BURST_BYTES over any stretch of a run. */
#define VIGIL_RTX_SHARE 2
#define VIGIL_RTX_BURST_BYTES 65536
/* An RTX packet: RTP header, the original sequence number, the original
 * payload, the tag. Callers that must fit an MTU leave the 2 bytes free in
 * their media payload size. */
#define VIGIL_RTX_MAX_PACKET (VIGIL_RTP_HEADER_LEN + 2 + VIGIL_PACKETIZE_MAX + VIGIL_SRTP_TAG_LEN)
#define VIGIL_RTX_FEEDBACK_MAX 1500 /* SRTCP longer than this is refused as malformed */

/* What the feedback did, one counter each. */
#define VIGIL_FOREACH_RTX_COUNTER(X)                                                              \
	X(feedback, "SRTCP packets taken from vigild (every outcome)")                            \
	X(forged, "SRTCP that did not authenticate under the camera's RTCP keys")                 \
	X(replayed, "SRTCP whose index was seen before or is older than the replay window")      \
	X(malformed, "SRTCP too short or too long, or authentic but not RTCP the parser reads")   \
	X(wrong_sender, "authentic SRTCP whose sender SSRC is the camera's own or its RTX SSRC")  \
	X(nacked, "sequence numbers NACKed for the camera's SSRC")                                \
	X(nack_excess, "of those, beyond what one packet is read for (VIGIL_RTCP_NACK_MAX)")      \
	X(rtx_sent, "RTX packets sent")                                                           \
	X(rtx_bytes, "RTX packets' payload bytes (original sequence number and payload)")         \
	X(missing, "NACKed numbers no longer (or never) held")                                    \
	X(rate_limited, "NACKed numbers held but not sent again: over the rate limit")           \
	X(rtx_failed, "NACKed numbers not sent again: the RTX index could not be reserved")      \
	X(pli, "picture loss indications (key frame requests passed on)")

struct vigil_retransmit_counters {
#define X(name, help) uint64_t name;
	VIGIL_FOREACH_RTX_COUNTER(X)
#undef X
};

/* The counters' names, in the order of the list (for JSON). */
extern const char *const vigil_retransmit_counter_names[];
#define VIGIL_RTX_COUNTERS (sizeof(struct vigil_retransmit_counters) / sizeof(uint64_t))

/* A packet as sent: what an RTX of it needs. */
struct vigil_rtx_slot {
	uint64_t at_ns; /* when it was sent; 0: empty */
	uint32_t ts;
	uint16_t seq;
	uint16_t len;
	bool marker;
	uint8_t payload[VIGIL_PACKETIZE_MAX];
};

struct vigil_retransmit {
	struct vigil_srtp srtp;	 /* RTP session keys: the RTX packets */
	struct vigil_srtp srtcp; /* RTCP session keys: vigild's feedback */
	struct vigil_replay replay; /* SRTCP indexes seen */
	uint32_t media_ssrc, rtx_ssrc;
	uint8_t rtx_payload_type;
	uint64_t rtx_index; /* the next RTX packet's, ROC << 16 | SEQ */
	/* static keys only: RTX indices below reserved may be used */
	struct vigil_index_store *store;
	uint64_t reserved;
	uint64_t tokens; /* rate limit: RTX payload bytes that may be sent */
	unsigned n_slots; /* a power of two */
	struct vigil_rtx_slot *slots; /* by sequence number modulo n_slots */
	struct vigil_retransmit_counters count;
};

/* A key frame request (PLI) for the camera's encoder. */
typedef void (*vigil_key_frame_fn)(void *arg);

/* For the camera whose media SSRC is media_ssrc, under its master key
 * (key then salt), RTX as rtx_ssrc (never media_ssrc) and rtx_payload_type
 * (0-127). slots: packets held (rounded up to a power of two, at most
 * VIGIL_RTX_SLOTS_MAX); hold VIGIL_RTX_HOLD_MS of the camera's packets.
 * state_path: under a static key, the RTX index's state file (not the
 * media index's: e.g. the media one's path with ".rtx" appended); NULL
 * under an ephemeral key (vigil_sender_init_ephemeral's), which starts at
 * a random index. 0, or -errno with msg saying why (-EINVAL, -ENOMEM, or
 * vigil_index_store_open's). */
int vigil_retransmit_init(struct vigil_retransmit *rt, uint32_t media_ssrc, uint32_t rtx_ssrc,
			  uint8_t rtx_payload_type,
			  const uint8_t master[VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN],
			  unsigned slots, const char *state_path, char *msg, size_t msglen)
    __attribute__((warn_unused_result));

/* The sender's new ephemeral key (vigil_sender_rekey): RTX and feedback
 * under it from now on, the SRTCP replay window afresh (a new key's
 * indexes start over). -EINVAL under a static key. */
int vigil_retransmit_rekey(struct vigil_retransmit *rt,
			   const uint8_t master[VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN]);

/* Keep a packet the camera sent at now_ns (its RTP payload, len <=
 * VIGIL_PACKETIZE_MAX); it earns the rate limit len / VIGIL_RTX_SHARE
 * bytes. The sender calls it for every packet when its rtx is set. */
void vigil_retransmit_record(struct vigil_retransmit *rt, uint16_t seq, uint32_t ts, bool marker,
			     const uint8_t *payload, size_t len, uint64_t now_ns);

/* One UDP payload from vigild (len bytes; pkt is not changed), at now_ns:
 * the replay window checked, then authenticated and decrypted under the
 * RTCP keys, the index committed, the sender SSRC checked, then parsed:
 * send gets each RTX packet (a NACKed number held for at most
 * VIGIL_RTX_HOLD_MS, within the rate limit), key_frame is called once for
 * a PLI (NULL: none asked for). 0 when it was acted on; -EBADMSG forged,
 * -EALREADY replayed, -EINVAL malformed, -EPERM from the camera's own
 * SSRCs: each counted, nothing sent. */
int vigil_retransmit_feedback(struct vigil_retransmit *rt, const uint8_t *pkt, size_t len, uint64_t now_ns,
			      vigil_sender_fn send, vigil_key_frame_fn key_frame, void *arg)
    __attribute__((warn_unused_result));

/* Wipes the keys, frees the slots, closes the state (it stays on disk). */
void vigil_retransmit_wipe(struct vigil_retransmit *rt);

#endif
