/* SPDX-License-Identifier: MIT */
/* Between the access-unit assembler (depay.c) and the codec parsers
 * (depay_h264.c, depay_h265.c): a parser checks a payload's structure and
 * hands over NAL units; the assembler owns frames, drop decisions, counters. */
#ifndef VIGIL_DEPAY_INTERNAL_H
#define VIGIL_DEPAY_INTERNAL_H

#include <errno.h>

#include "vigil/bytes.h"
#include "depay.h"
#include "depay_scan.h"

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

/* One vigil_depay_push call, as a codec parser sees it. The packet's part
 * of the frame is rewritten in place in its mbuf, between start and out. */
struct depay_pkt {
	struct vigil_depay *d;
	const struct vigil_depay_env *env;
	struct rte_mbuf *m; /* the packet, until it joins the frame */
	uint8_t *start;     /* its first byte of Annex-B, NULL: none yet */
	uint8_t *out;       /* where the next one goes */
};

/* A whole NAL unit of len bytes, header (hdr_len bytes) included: cached
 * if it is a parameter set, then added like depay_nal. */
void depay_unit(struct depay_pkt *c, enum depay_nal_kind kind, uint8_t *nal, size_t hdr_len, size_t len);

/* A NAL unit begins: a start code goes over the 4 bytes before nal (read
 * already), unless an aggregation placed the output lower (depay_spread). */
void depay_nal(struct depay_pkt *c, enum depay_nal_kind kind, uint8_t *nal, size_t hdr_len, size_t len);

/* Aggregation packet: its units become out_len bytes of Annex-B, more
 * than they take in the payload, so they are moved down to end where the
 * payload ends. -ENOBUFS: the mbuf has no room below for that many units. */
int depay_spread(struct depay_pkt *c, uint8_t *payload, size_t len, size_t out_len);

/* An aggregation packet (H.264 STAP-A, H.265 AP): a hdr_len-byte header,
 * then units of [16-bit size][NAL unit of at least min bytes]. Two passes:
 * every unit is checked (ok, no start code inside) and sized first, so a
 * bad one refuses the whole packet before anything is written; then the
 * units are spread and handed to whole() one by one. Inline, so each
 * codec's ok and whole are called directly. */
static inline int depay_aggregate(struct depay_pkt *c, uint8_t *p, size_t len, size_t hdr_len, size_t min,
				  bool (*ok)(const uint8_t *nal), void (*whole)(struct depay_pkt *c, uint8_t *nal, size_t n))
{
	size_t off, n, out_len = 0;
	int rc;

	if (len < hdr_len + 2 + min)
		return -EBADMSG;
	for (off = hdr_len; off < len; off += 2 + n) {
		if (len - off < 2)
			return -EBADMSG;
		n = vigil_get16(p + off);
		if (n < min || n > len - off - 2 || !ok(p + off + 2) || !depay_nal_clean(p + off + 2, n))
			return -EBADMSG;
		out_len += 4 + n;
	}
	rc = depay_spread(c, p, len, out_len);
	if (rc < 0)
		return rc;
	for (off = hdr_len; off < len; off += 2 + n) {
		n = vigil_get16(p + off);
		whole(c, p + off + 2, n);
	}
	return 0;
}

/* FU start: depay_nal with the NAL header the caller rebuilt in place
 * right before the fragment, then the NAL unit of this type stays open. */
void depay_fu_start(struct depay_pkt *c, enum depay_nal_kind kind, uint8_t *nal, size_t hdr_len, unsigned type,
		    size_t len);
/* Scan of a fragment of n bytes (after the FU header) of an FU of this
 * NAL type, carried on from the fragments before it: -EBADMSG when the NAL
 * unit holds a start code prefix, or ends in 00 (end). */
int depay_fu_scan(struct depay_pkt *c, const uint8_t *frag, size_t n, unsigned type, bool start, bool end);

/* FU middle or end: appends to the open NAL unit of the same type, or
 * breaks the frame when there is none. */
void depay_fu_more(struct depay_pkt *c, unsigned type, uint8_t *p, size_t n, bool end);

/* The payload broke the packetization rules: drop the frame. */
void depay_break(struct depay_pkt *c);

/* Check and take one payload. -EBADMSG: not a valid payload for the codec
 * (nothing was written; the caller counts it and breaks the frame). */
int depay_h264_packet(struct depay_pkt *c, uint8_t *p, size_t len);
int depay_h265_packet(struct depay_pkt *c, uint8_t *p, size_t len);

/* The depay_nal_kind of one whole NAL unit given outside RTP, or -EBADMSG
 * when it could not stand alone in the byte stream or has no body. */
int depay_h264_kind(const uint8_t *nal, size_t len);
int depay_h265_kind(const uint8_t *nal, size_t len);

#endif
