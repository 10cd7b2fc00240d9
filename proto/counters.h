/* SPDX-License-Identifier: MIT */
/* Every counter vigil keeps, as one X-macro list: it generates the enum,
 * the names shown in summaries and metrics, and the counter arrays.
 * Packet outcomes are exclusive: every received packet ends in exactly one
 * of `decrypted`, `rtcp`, `retransmitted`, `answered`, `handshake` or one
 * packet drop reason, so that
 * rx_packets = decrypted + rtcp + retransmitted + answered + handshake + sum(packet drops). */
#ifndef VIGIL_COUNTERS_H
#define VIGIL_COUNTERS_H

#include <stdint.h>

/* Packet drop reasons: before, at or right after authentication. */
#define VIGIL_FOREACH_PKT_DROP(X)                                                            \
	X(malformed, "bad or truncated Ethernet/IP/UDP/RTP/SRTCP/ARP/ICMP header")           \
	X(not_ip, "not IPv4/IPv6 (ARP we do not answer, other ethertypes)")                   \
	X(not_udp, "IP but not UDP (ICMP/NDP we do not answer, TCP, ...)")                    \
	X(fragment, "IPv4 fragment or IPv6 fragment header (refused)")                      \
	X(not_srtp_port, "UDP to a port that does not carry SRTP")                          \
	X(unknown_ssrc, "SRTP from an SSRC no camera is configured with")                   \
	X(replayed, "SRTP or SRTCP index already seen, older than the replay window, or at or below the persisted one") \
	X(auth_failed, "AEAD tag did not verify (forged, corrupted or wrong key), SRTP or SRTCP") \
	X(payload_type, "authentic, but an RTP payload type the camera is not configured for") \
	X(tx_failed, "reply to an ARP/NDP/ICMP echo request refused by the TX queue")      \
	X(handoff_full, "the owning worker's inbound ring was full")                       \
	X(rtx_unwanted, "authentic RTX packet (RFC 4588) for a sequence number not missing: its original came, was given up on, or was never sent") \
	X(control_full, "handshake packet: the ring to the control plane was full")           \
	X(not_owner, "authentic SRTP of a cluster's camera another node owns, or none yet (docs/cluster.md)")

/* The outcomes of received packets other than decrypted and the drops. */
#define VIGIL_FOREACH_PKT_OUTCOME(X)                                                         \
	X(rtcp, "SRTCP packets authenticated on an SRTP port (RTCP muxed, RFC 5761), not recorded") \
	X(retransmitted, "RTX packets (RFC 4588) authenticated and taken in place of their missing original") \
	X(answered, "ARP/NDP/ICMP echo requests for our addresses, answered")               \
	X(handshake, "packets to the HandshakePort, passed to the control plane")

/* Outcomes of authenticated packets and of frames. */
#define VIGIL_FOREACH_FRAME_DROP(X)                                                          \
	X(frame_incomplete, "frame lost a packet; stream resumes at next key frame")        \
	X(frame_no_keyframe, "frame skipped while waiting for a key frame")                 \
	X(frame_too_large, "frame exceeded the maximum frame size")                         \
	X(frame_no_buffer, "no mbuf for the parameter sets a key frame lacks")             \
	X(ring_full, "frame ring to the recorder full, or its frames hold their share of mbufs")

#define VIGIL_FOREACH_COUNTER(X)                                                             \
	X(rx_packets, "packets received")                                                    \
	X(rx_bytes, "bytes received (frame length)")                                         \
	X(decrypted, "SRTP packets authenticated and decrypted")                           \
	X(decrypted_prev_key, "of those, under the previous key during a rotation")        \
	X(decrypted_libsodium, "of those, under the cryptodev engine, decrypted by libsodium: a header length without a session, a stream whose ROC is on trial, a rotation's grace period") \
	X(roc_trials, "decryptions beyond the estimate's, tried under other ROCs while locking onto a stream, that failed") \
	X(same_key_restart, "a run of replayed packets after a silence: the camera restarted under the same key (or old traffic is replayed); rotate its key") \
	X(handed_off, "received by one worker, handed to the worker owning its camera")    \
	VIGIL_FOREACH_PKT_OUTCOME(X)                                                         \
	X(handshake_proven, "of those, initiations with a valid cookie (mac2), on a ring of their own") \
	X(control_tx_failed, "handshake replies refused by the TX queue (not a received packet)") \
	VIGIL_FOREACH_PKT_DROP(X)                                                            \
	X(payload_invalid, "authenticated packet with invalid RTP padding or payload")     \
	X(late, "authenticated packet older than one already depacketized (too late)")      \
	X(reordered, "authenticated packet that came after a later one, put back in order")  \
	X(rtcp_rr_sent, "SRTCP feedback packets sent to the camera, a receiver report first") \
	X(rtcp_rsize_sent, "SRTCP feedback packets sent reduced-size (RFC 5506): no receiver report") \
	X(nack_sent, "of either, with a generic NACK (RFC 4585)")                        \
	X(pli_sent, "of either, with a picture loss indication (RFC 4585)")            \
	X(nacked, "sequence numbers NACKed")                                              \
	X(nack_unanswered, "NACKed gaps never retransmitted; after 4 in a row NACKs stop for 10 s (PLIs go on)") \
	X(feedback_limited, "feedback not sent: over its share of what the camera sent, no index reserved yet, no TX queue or mbuf") \
	X(hold_no_room, "gaps not waited for: the worker's hold windows were all lent") \
	X(frames_enqueued, "complete frames handed to the recorder")                      \
	VIGIL_FOREACH_FRAME_DROP(X)

enum vigil_counter {
#define VIGIL_X_ENUM(name, help) VIGIL_CTR_##name,
	VIGIL_FOREACH_COUNTER(VIGIL_X_ENUM)
#undef VIGIL_X_ENUM
	VIGIL_CTR_MAX
};

/* Counters owned by one writer (a worker lcore or the recorder thread);
 * readers aggregate. Cache-line aligned so two writers never share a line. */
struct vigil_counters {
	uint64_t v[VIGIL_CTR_MAX];
} __attribute__((aligned(64)));

extern const char *const vigil_counter_names[VIGIL_CTR_MAX];
extern const char *const vigil_counter_help[VIGIL_CTR_MAX];

#endif
