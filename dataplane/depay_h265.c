/* SPDX-License-Identifier: MIT */
/* H.265 RTP payloads, RFC 7798 with sprop-max-don-diff = 0 (no DONL/DOND):
 * single NAL unit packets, aggregation packets (AP) and fragmentation units
 * (FU). PACI and unassigned types are invalid. */
#include <errno.h>

#include "depay_internal.h"

/* NAL unit header: F(1) Type(6) LayerId(6) TID(3). */
enum {
	H265_F = 0x80,
	H265_TID = 0x07,
	H265_IRAP_FIRST = 16, /* BLA_W_LP */
	H265_IRAP_LAST = 21,  /* CRA_NUT */
	H265_VPS = 32,
	H265_SPS = 33,
	H265_PPS = 34,
	H265_NAL_LAST = 47,
	H265_AP = 48,
	H265_FU = 49,
	H265_FU_S = 0x80,
	H265_FU_E = 0x40,
	H265_FU_TYPE = 0x3f,
};

static unsigned nal_type(const uint8_t *hdr)
{
	return hdr[0] >> 1 & 0x3f;
}

/* F = 0 and TID != 0: any packet's payload header or NAL unit header. */
static bool hdr_ok(const uint8_t *hdr)
{
	return !(hdr[0] & H265_F) && (hdr[1] & H265_TID) != 0;
}

/* A NAL unit that may stand alone in the byte stream. */
static bool nal_ok(const uint8_t *hdr)
{
	return hdr_ok(hdr) && nal_type(hdr) <= H265_NAL_LAST;
}

static enum depay_nal_kind nal_kind(unsigned type)
{
	if (type == 8 || type == 9)
		return DEPAY_NAL_RASL;
	if (type <= 7)
		return DEPAY_NAL_SLICE; /* TRAIL, TSA, STSA, RADL */
	if (type >= H265_IRAP_FIRST && type <= H265_IRAP_LAST)
		return DEPAY_NAL_KEY; /* BLA, IDR, CRA */
	if (type >= H265_VPS && type <= H265_PPS)
		return (enum depay_nal_kind)(DEPAY_NAL_VPS + type - H265_VPS);
	return DEPAY_NAL_OTHER; /* reserved VCL types are ignored by decoders */
}

/* A single NAL unit packet or one AP unit, already checked. */
static void whole(struct depay_pkt *c, uint8_t *nal, size_t len)
{
	depay_unit(c, nal_kind(nal_type(nal)), nal, 2, len);
}

/* FU: [payload header][FU header: S, E, type][fragment, >= 1 byte]. The
 * NAL header is the payload header with the type from the FU header,
 * rebuilt in place of the payload header's second byte and the FU header. */
static int fu(struct depay_pkt *c, uint8_t *p, size_t len)
{
	unsigned type;
	uint8_t hdr0;

	if (len < 4)
		return -EBADMSG;
	type = p[2] & H265_FU_TYPE;
	if ((p[2] & (H265_FU_S | H265_FU_E)) == (H265_FU_S | H265_FU_E) || type > H265_NAL_LAST ||
	    depay_fu_scan(c, p + 3, len - 3, type, p[2] & H265_FU_S, p[2] & H265_FU_E) < 0)
		return -EBADMSG;
	if (p[2] & H265_FU_S) {
		hdr0 = (uint8_t)((p[0] & 0x81) | type << 1);
		p[2] = p[1];
		p[1] = hdr0;
		depay_fu_start(c, nal_kind(type), p + 1, 2, type, len - 1);
	} else {
		depay_fu_more(c, type, p + 3, len - 3, p[2] & H265_FU_E);
	}
	return 0;
}

int depay_h265_packet(struct depay_pkt *c, uint8_t *p, size_t len)
{
	if (len < 2 || !hdr_ok(p))
		return -EBADMSG;
	if (nal_type(p) <= H265_NAL_LAST) {
		if (!depay_nal_clean(p, len))
			return -EBADMSG;
		whole(c, p, len);
		return 0;
	}
	switch (nal_type(p)) {
	case H265_AP:
		/* AP: [payload header] then units of [16-bit size][NAL unit, >= 2 bytes] */
		return depay_aggregate(c, p, len, 2, 2, nal_ok, whole);
	case H265_FU:
		return fu(c, p, len);
	default:
		return -EBADMSG; /* PACI (50) and unassigned types */
	}
}

int depay_h265_kind(const uint8_t *nal, size_t len)
{
	if (len < 3 || !nal_ok(nal))
		return -EBADMSG;
	return nal_kind(nal_type(nal));
}
