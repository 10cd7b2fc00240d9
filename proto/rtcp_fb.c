/* SPDX-License-Identifier: MIT */
/* RTCP feedback and RTX payloads (rtcp_fb.h). */
#include <errno.h>
#include <string.h>

#include "rtcp_fb.h"
#include "vigil/bytes.h"

/* V=2, P=0, count or FMT, PT, length in 32-bit words minus one. */
static void header(uint8_t *out, unsigned count, unsigned pt, size_t len)
{
	out[0] = (uint8_t)(0x80 | (count & 0x1f));
	out[1] = (uint8_t)pt;
	vigil_put16(out + 2, (uint16_t)(len / 4 - 1));
}

size_t vigil_rtcp_rr(uint8_t *out, size_t cap, uint32_t ssrc, const struct vigil_rtcp_report *rb)
{
	size_t len = VIGIL_RTCP_RR_LEN + (rb != NULL ? VIGIL_RTCP_REPORT_LEN : 0);
	uint8_t *b = out + VIGIL_RTCP_RR_LEN;

	if (cap < len)
		return 0;
	header(out, rb != NULL, VIGIL_RTCP_RR, len);
	vigil_put32(out + 4, ssrc);
	if (rb != NULL) {
		vigil_put32(b, rb->ssrc);
		vigil_put32(b + 4,
			    (uint32_t)rb->fraction_lost << 24 | ((uint32_t)rb->cumulative_lost & 0xffffff));
		vigil_put32(b + 8, rb->highest_seq);
		vigil_put32(b + 12, rb->jitter);
		vigil_put32(b + 16, rb->lsr);
		vigil_put32(b + 20, rb->dlsr);
	}
	return len;
}

size_t vigil_rtcp_nack(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
		       const uint16_t *missing, unsigned n, unsigned *taken)
{
	size_t len = 12;
	unsigned i = 0;

	*taken = 0;
	if (n == 0 || cap < 16)
		return 0;
	/* Each entry: a PID and a bitmask of the 16 numbers after it. */
	while (i < n && len + 4 <= cap) {
		uint16_t pid = missing[i++], blp = 0;

		while (i < n && (uint16_t)(missing[i] - pid) >= 1 && (uint16_t)(missing[i] - pid) <= 16)
			blp |= (uint16_t)(1u << ((uint16_t)(missing[i++] - pid) - 1));
		vigil_put16(out + len, pid);
		vigil_put16(out + len + 2, blp);
		len += 4;
	}
	header(out, 1, VIGIL_RTCP_RTPFB, len);
	vigil_put32(out + 4, sender_ssrc);
	vigil_put32(out + 8, media_ssrc);
	*taken = i;
	return len;
}

size_t vigil_rtcp_pli(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc)
{
	if (cap < VIGIL_RTCP_PLI_LEN)
		return 0;
	header(out, 1, VIGIL_RTCP_PSFB, VIGIL_RTCP_PLI_LEN);
	vigil_put32(out + 4, sender_ssrc);
	vigil_put32(out + 8, media_ssrc);
	return VIGIL_RTCP_PLI_LEN;
}

static void nacked(struct vigil_rtcp_feedback *fb, uint16_t seq)
{
	if (fb->n_nack < VIGIL_RTCP_NACK_MAX)
		fb->nack[fb->n_nack++] = seq;
	else
		fb->nack_over++;
}

int vigil_rtcp_feedback_parse(const uint8_t *pkt, size_t len, uint32_t media_ssrc,
			      struct vigil_rtcp_feedback *fb)
{
	memset(fb, 0, sizeof(*fb));
	while (len > 0) {
		size_t plen, body;
		unsigned fmt, pt;

		if (len < 4 || (pkt[0] >> 6) != 2)
			return -EINVAL;
		plen = ((size_t)vigil_get16(pkt + 2) + 1) * 4;
		if (plen > len)
			return -EINVAL;
		body = plen;
		if (pkt[0] & 0x20) { /* padding: its count in the last byte, within the packet */
			if (pkt[plen - 1] == 0 || pkt[plen - 1] > plen - 4)
				return -EINVAL;
			body -= pkt[plen - 1];
		}
		fmt = pkt[0] & 0x1f;
		pt = pkt[1];
		if ((pt == VIGIL_RTCP_RTPFB || pt == VIGIL_RTCP_PSFB) && body < 12)
			return -EINVAL;
		if (pt == VIGIL_RTCP_RTPFB && fmt == 1 && vigil_get32(pkt + 8) == media_ssrc) {
			for (size_t at = 12; at + 4 <= body; at += 4) {
				uint16_t pid = vigil_get16(pkt + at), blp = vigil_get16(pkt + at + 2);

				nacked(fb, pid);
				for (unsigned k = 0; k < 16; k++)
					if (blp & (1u << k))
						nacked(fb, (uint16_t)(pid + k + 1));
			}
		} else if (pt == VIGIL_RTCP_PSFB && fmt == 1 && vigil_get32(pkt + 8) == media_ssrc) {
			fb->pli = true;
		}
		pkt += plen;
		len -= plen;
	}
	return 0;
}

int vigil_rtx_unwrap(const uint8_t *payload, size_t len, uint16_t *osn)
{
	if (len < 2)
		return -EINVAL;
	*osn = vigil_get16(payload);
	return 2;
}

size_t vigil_rtx_wrap(uint8_t *out, size_t cap, uint16_t osn, const uint8_t *payload, size_t len)
{
	if (cap < len + 2)
		return 0;
	vigil_put16(out, osn);
	memmove(out + 2, payload, len);
	return len + 2;
}
