/* SPDX-License-Identifier: MIT */
/* The synthetic camera fleet the benchmarks send: per camera a distinct
 * SSRC and key, and an endless H.264 stream of GOPs (a key frame: STAP-A
 * with SPS and PPS, then an IDR in FU-A; then P frames in FU-A), each
 * packet SRTP-protected and wrapped in Ethernet/IPv4/UDP to port 5004. */
#ifndef VIGIL_BENCH_FLEET_H
#define VIGIL_BENCH_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/config_model.h"
#include "srtp.h"

#define FLEET_KEY_PKTS 8
#define FLEET_P_FRAMES 3
#define FLEET_P_PKTS 4
#define FLEET_GOP_PKTS (FLEET_KEY_PKTS + FLEET_P_FRAMES * FLEET_P_PKTS)
#define FLEET_TS_PER_FRAME 3000 /* 30 frames/s at 90 kHz */
#define FLEET_PORT 5004
#define FLEET_HDR (14 + 20 + 8) /* Ethernet, IPv4, UDP */
#define FLEET_MAX_FRAME (FLEET_HDR + 12 + 2 + 1400 + VIGIL_SRTP_TAG_LEN) /* RTX: 2 more */

/* Camera c as vigil.conf would have it: name, SSRC, key, payload type 96. */
void fleet_camera(struct vigil_camera_config *cam, unsigned c);

/* The configuration of n cameras on FLEET_PORT (cameras calloc'd). */
int fleet_config(struct vigil_config *cfg, unsigned n);

/* Packet `index` (ROC << 16 | SEQ) of a camera's stream, with `payload`
 * bytes of RTP payload (STAP-A and AP packets are shorter), encrypted
 * under srtp, as an Ethernet frame into b (FLEET_MAX_FRAME bytes). H.265:
 * the same GOP with an AP of VPS, SPS and PPS and FUs. Returns its length. */
size_t fleet_packet(uint8_t *b, const struct vigil_srtp *srtp, uint32_t ssrc, enum vigil_codec codec,
		    uint64_t index, size_t payload);

/* Packet `index` retransmitted (RFC 4588): an RTX packet of rtx_ssrc and
 * payload type rtx_pt, its own index rtx_index, under srtp. Its length. */
size_t fleet_rtx_packet(uint8_t *b, const struct vigil_srtp *srtp, uint32_t ssrc, enum vigil_codec codec,
			uint64_t index, size_t payload, uint32_t rtx_ssrc, uint8_t rtx_pt, uint64_t rtx_index);

/* Ethernet, IPv4 (src -> 198.18.0.1, checksum right) and UDP (sport ->
 * dport) in the FLEET_HDR bytes before an SRTP packet of len bytes at b +
 * FLEET_HDR. */
void fleet_wrap_from(uint8_t *b, size_t len, const uint8_t src[4], uint16_t sport, uint16_t dport);

/* The frame packet `index` of a stream belongs to, counted from 0; its
 * RTP timestamp is that times FLEET_TS_PER_FRAME. */
static inline uint64_t fleet_frame_of(uint64_t index)
{
	unsigned i = (unsigned)(index % FLEET_GOP_PKTS);

	return index / FLEET_GOP_PKTS * (1 + FLEET_P_FRAMES) +
	       (i < FLEET_KEY_PKTS ? 0 : 1 + (i - FLEET_KEY_PKTS) / FLEET_P_PKTS);
}

/* Whether packet `index` of a stream ends a frame (has the marker bit). */
static inline int fleet_ends_frame(uint64_t index)
{
	unsigned i = (unsigned)(index % FLEET_GOP_PKTS);

	return i < FLEET_KEY_PKTS ? i == FLEET_KEY_PKTS - 1 : (i - FLEET_KEY_PKTS) % FLEET_P_PKTS == FLEET_P_PKTS - 1;
}

static inline uint64_t fleet_xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The cameras' turn order: order[0..n) shuffled in place (Fisher-Yates),
 * the same for the same seed. */
static inline void fleet_shuffle(uint32_t *order, unsigned n, uint64_t *seed)
{
	for (unsigned c = n - 1; n > 0 && c > 0; c--) {
		unsigned j = (unsigned)(fleet_xorshift(seed) % (c + 1));
		uint32_t tmp = order[c];

		order[c] = order[j];
		order[j] = tmp;
	}
}

#endif
