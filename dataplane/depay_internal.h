/* SPDX-License-Identifier: MIT */
/* Between the access-unit assembler (depay.c) and the codec parsers
 * (depay_h264.c, depay_h265.c): a parser checks a payload's structure and
 * hands over NAL units; the assembler owns frames, drop decisions, counters. */
#ifndef VIGIL_DEPAY_INTERNAL_H
#define VIGIL_DEPAY_INTERNAL_H

#include "depay.h"

enum depay_nal_kind {
	/* Parameter sets: the kind is their index in vigil_depay.params. */
	DEPAY_NAL_VPS = VIGIL_PARAM_VPS,
	DEPAY_NAL_SPS = VIGIL_PARAM_SPS,
	DEPAY_NAL_PPS = VIGIL_PARAM_PPS,
	DEPAY_NAL_OTHER, /* SEI, AUD, end of sequence, reserved types: copied */
	DEPAY_NAL_SLICE, /* VCL NAL unit of a picture that is not a key frame */
	DEPAY_NAL_RASL,	 /* H.265 RASL picture: references pictures before its CRA */
	DEPAY_NAL_KEY,	 /* VCL NAL unit of an IDR (H.264) or IRAP (H.265) picture */
};

/* One vigil_depay_push call, as a codec parser sees it. */
struct depay_pkt {
	struct vigil_depay *d;
	const struct vigil_depay_env *env;
};

static inline uint16_t depay_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* A whole NAL unit of len bytes, header included: cached if it is a
 * parameter set, then added like depay_nal. */
void depay_unit(struct depay_pkt *c, enum depay_nal_kind kind, const uint8_t *nal, size_t hdr_len,
		size_t len);

/* A NAL unit begins: start code, its header (hdr_len bytes, rebuilt by the
 * caller for an FU), then body_len bytes of its body. */
void depay_nal(struct depay_pkt *c, enum depay_nal_kind kind, const uint8_t *hdr, size_t hdr_len,
	       const uint8_t *body, size_t body_len);

/* FU start: depay_nal, then the NAL unit of this type stays open. */
void depay_fu_start(struct depay_pkt *c, enum depay_nal_kind kind, const uint8_t *hdr, size_t hdr_len,
		    unsigned type, const uint8_t *body, size_t body_len);
/* FU middle or end: appends to the open NAL unit of the same type, or
 * breaks the frame when there is none. */
void depay_fu_more(struct depay_pkt *c, unsigned type, const uint8_t *p, size_t n, bool end);

/* The payload broke the packetization rules: drop the frame. */
void depay_break(struct depay_pkt *c);

/* Check and take one payload. -EBADMSG: not a valid payload for the codec
 * (nothing was written; the caller counts it and breaks the frame). */
int depay_h264_packet(struct depay_pkt *c, const uint8_t *p, size_t len);
int depay_h265_packet(struct depay_pkt *c, const uint8_t *p, size_t len);

/* The depay_nal_kind of one whole NAL unit given outside RTP, or -EBADMSG
 * when it could not stand alone in the byte stream or has no body. */
int depay_h264_kind(const uint8_t *nal, size_t len);
int depay_h265_kind(const uint8_t *nal, size_t len);

#endif
