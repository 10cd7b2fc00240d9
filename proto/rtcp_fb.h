/* SPDX-License-Identifier: MIT */
/* Feedback between vigild and a camera, as both ends write and read it
 * (issue: video that survives lossy networks): RTCP receiver reports (RFC
 * 3550 section 6.4.2), generic NACKs and picture loss indications (RFC
 * 4585 sections 6.2.1 and 6.3.1), compound or reduced-size (RFC 5506), and
 * RTX payloads (RFC 4588 section 4: the original sequence number, then the
 * original payload). Plain RTCP: SRTCP protection is srtp.h's. No state. */
#ifndef VIGIL_RTCP_FB_H
#define VIGIL_RTCP_FB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIGIL_RTCP_RR 201
#define VIGIL_RTCP_RTPFB 205 /* transport feedback: FMT 1 generic NACK */
#define VIGIL_RTCP_PSFB 206  /* payload-specific: FMT 1 PLI */
#define VIGIL_RTCP_RR_LEN 8
#define VIGIL_RTCP_REPORT_LEN 24
#define VIGIL_RTCP_PLI_LEN 12
#define VIGIL_RTCP_NACK_MAX 256 /* sequence numbers one parse keeps; more are counted */

/* A report block of a receiver report. */
struct vigil_rtcp_report {
	uint32_t ssrc;		 /* the source it reports on */
	uint8_t fraction_lost;	 /* since the last report, in 1/256 */
	int32_t cumulative_lost; /* 24 bits, signed */
	uint32_t highest_seq;	 /* extended: cycles << 16 | sequence number */
	uint32_t jitter, lsr, dlsr;
};

/* A receiver report from ssrc, with one report block (NULL: none). The
 * bytes written; 0 when cap is too small. */
size_t vigil_rtcp_rr(uint8_t *out, size_t cap, uint32_t ssrc, const struct vigil_rtcp_report *rb);

/* A generic NACK from sender_ssrc for media_ssrc, for the missing
 * sequence numbers (n of them, in RTP order, each after the one before
 * modulo 2^16), as few PID+BLP entries as cover them, as many as fit.
 * The bytes written (0: none fit, or n is 0); *taken: how many of
 * missing it covers. */
size_t vigil_rtcp_nack(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
		       const uint16_t *missing, unsigned n, unsigned *taken);

/* A picture loss indication from sender_ssrc for media_ssrc. */
size_t vigil_rtcp_pli(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc);

/* What a camera takes from a compound (or reduced-size) RTCP packet:
 * the sequence numbers NACKed for media_ssrc, in the order given (up to
 * VIGIL_RTCP_NACK_MAX; the rest counted), and whether a PLI asked for a
 * key frame. */
struct vigil_rtcp_feedback {
	unsigned n_nack;
	uint16_t nack[VIGIL_RTCP_NACK_MAX];
	unsigned nack_over; /* NACKed beyond the array */
	bool pli;
};

/* Reads every RTCP packet of the len bytes (each one's length checked
 * against what is left, version 2, padding within it); packets of other
 * types or for other SSRCs are skipped. 0, or -EINVAL for a malformed
 * compound (nothing of it is to be acted on). */
int vigil_rtcp_feedback_parse(const uint8_t *pkt, size_t len, uint32_t media_ssrc,
			      struct vigil_rtcp_feedback *fb) __attribute__((warn_unused_result));

/* RFC 4588: an RTX packet's payload (len bytes) is the original sequence
 * number, then the original payload: the number into *osn, and the
 * original payload's offset (2); -EINVAL when shorter than 2 bytes. */
int vigil_rtx_unwrap(const uint8_t *payload, size_t len, uint16_t *osn);

/* The RTX payload of an original one: osn, then its len bytes. The
 * bytes written (len + 2); 0 when cap is too small. */
size_t vigil_rtx_wrap(uint8_t *out, size_t cap, uint16_t osn, const uint8_t *payload, size_t len);

#endif
