/* SPDX-License-Identifier: MIT */
/* H.264 RTP payloads, RFC 6184 non-interleaved mode: single NAL unit
 * packets, STAP-A and FU-A. A payload is checked whole before any of it is
 * handed to the assembler; every other packet type is invalid here. */
#include <errno.h>

#include "depay_internal.h"

enum {
	H264_F = 0x80,
	H264_TYPE = 0x1f,
	H264_IDR = 5,
	H264_SPS = 7,
	H264_PPS = 8,
	H264_STAP_A = 24,
	H264_FU_A = 28,
	H264_FU_S = 0x80,
	H264_FU_E = 0x40,
};

/* A NAL unit that may stand alone in the byte stream. */
static bool nal_ok(uint8_t hdr)
{
	unsigned type = hdr & H264_TYPE;

	return !(hdr & H264_F) && type >= 1 && type <= 23;
}

static enum depay_nal_kind nal_kind(unsigned type)
{
	if (type >= 1 && type <= 4)
		return DEPAY_NAL_SLICE; /* non-IDR slice, data partitions A-C */
	if (type == H264_IDR)
		return DEPAY_NAL_KEY;
	if (type == H264_SPS)
		return DEPAY_NAL_SPS;
	if (type == H264_PPS)
		return DEPAY_NAL_PPS;
	return DEPAY_NAL_OTHER;
}

/* A single NAL unit packet or one STAP-A unit, already checked. */
static void whole(struct depay_pkt *c, uint8_t *nal, size_t len)
{
	depay_unit(c, nal_kind(nal[0] & H264_TYPE), nal, 1, len);
}

/* A STAP-A unit's NAL header. */
static bool unit_ok(const uint8_t *nal)
{
	return nal_ok(nal[0]);
}

/* FU-A: [indicator: F, NRI, 28][header: S, E, R, type][fragment, >= 1 byte].
 * The NAL header is rebuilt from the indicator's F/NRI and the type, in
 * place of the FU header. */
static int fu_a(struct depay_pkt *c, uint8_t *p, size_t len)
{
	unsigned type;

	if (len < 3)
		return -EBADMSG;
	type = p[1] & H264_TYPE;
	if ((p[1] & (H264_FU_S | H264_FU_E)) == (H264_FU_S | H264_FU_E) || type == 0 || type > 23 ||
	    depay_fu_scan(c, p + 2, len - 2, type, p[1] & H264_FU_S, p[1] & H264_FU_E) < 0)
		return -EBADMSG;
	if (p[1] & H264_FU_S) {
		p[1] = (uint8_t)((p[0] & ~H264_TYPE) | type);
		depay_fu_start(c, nal_kind(type), p + 1, 1, type, len - 1);
	} else {
		depay_fu_more(c, type, p + 2, len - 2, p[1] & H264_FU_E);
	}
	return 0;
}

int depay_h264_packet(struct depay_pkt *c, uint8_t *p, size_t len)
{
	if (len < 1 || (p[0] & H264_F))
		return -EBADMSG;
	if (nal_ok(p[0])) {
		if (!depay_nal_clean(p, len))
			return -EBADMSG;
		whole(c, p, len);
		return 0;
	}
	switch (p[0] & H264_TYPE) {
	case H264_STAP_A:
		/* STAP-A: [indicator] then units of [16-bit size][NAL unit], size > 0 */
		return depay_aggregate(c, p, len, 1, 1, unit_ok, whole);
	case H264_FU_A:
		return fu_a(c, p, len);
	default:
		/* 0, 30, 31, and STAP-B, MTAP16/24, FU-B (interleaved mode) */
		return -EBADMSG;
	}
}

int depay_h264_kind(const uint8_t *nal, size_t len)
{
	if (len < 2 || !nal_ok(nal[0]))
		return -EBADMSG;
	return nal_kind(nal[0] & H264_TYPE);
}
