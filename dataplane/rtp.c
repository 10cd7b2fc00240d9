/* SPDX-License-Identifier: MIT */
/* RTP fixed header, CSRC list and header extension (RFC 3550 section 5),
 * RTP/RTCP demultiplexing (RFC 5761 section 4) and padding removal. Every
 * length is checked against the bytes received before it is used. */
#include <errno.h>
#include <limits.h>

#include "rtp.h"
#include "vigil/bytes.h"
#include "vigil/limits.h"

bool vigil_rtp_is_rtcp(const uint8_t *pkt, size_t len)
{
	return len >= 2 && pkt[0] >> 6 == VIGIL_RTP_VERSION && pkt[1] >= 192 && pkt[1] <= 223;
}

int vigil_rtp_parse(const uint8_t *pkt, size_t len, size_t tag_len, struct vigil_rtp *rtp)
{
	size_t hdr = VIGIL_RTP_HEADER_LEN;

	if (len < hdr || pkt[0] >> 6 != VIGIL_RTP_VERSION)
		return -EBADMSG;
	hdr += 4 * (size_t)(pkt[0] & 0x0f);
	if (pkt[0] & 0x10) {
		/* 16-bit profile id, 16-bit length in 32-bit words. */
		if (len < hdr + 4)
			return -EBADMSG;
		hdr += 4 + 4 * (size_t)vigil_get16(pkt + hdr + 2);
	}
	if (hdr > len || len - hdr < tag_len || hdr > UINT16_MAX)
		return -EBADMSG;
	rtp->padding = pkt[0] & 0x20;
	rtp->marker = pkt[1] & 0x80;
	rtp->pt = pkt[1] & 0x7f;
	rtp->seq = vigil_get16(pkt + 2);
	rtp->ts = vigil_get32(pkt + 4);
	rtp->ssrc = vigil_get32(pkt + 8);
	rtp->hdr_len = (uint16_t)hdr;
	return 0;
}

int vigil_rtp_strip_padding(const struct vigil_rtp *rtp, const uint8_t *payload, size_t payload_len)
{
	uint8_t pad;

	if (payload_len > INT_MAX)
		return -EBADMSG;
	if (!rtp->padding)
		return (int)payload_len;
	if (payload_len == 0)
		return -EBADMSG;
	pad = payload[payload_len - 1];
	if (pad == 0 || pad > payload_len)
		return -EBADMSG;
	return (int)(payload_len - pad);
}
