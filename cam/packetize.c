/* SPDX-License-Identifier: MIT */
/* RTP packetization (packetize.h). A NAL unit that fits goes alone; a
 * larger one is cut into fragmentation units whose header the depacketizer
 * turns back into the NAL unit header. */
#include <errno.h>
#include <string.h>

#include "packetize.h"

/* The next NAL unit at or after *pos: [*start, *end), trailing zero bytes
 * (the first byte of a 4-byte start code) left out. */
static bool next_nal(const uint8_t *p, size_t len, size_t *pos, size_t *start, size_t *end)
{
	size_t i = *pos;

	while (i + 3 <= len && !(p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1))
		i++;
	if (i + 3 > len)
		return false;
	*start = i + 3;
	for (i = *start; i + 3 <= len && !(p[i] == 0 && p[i + 1] == 0 && p[i + 2] <= 1); i++)
		;
	if (i + 3 > len)
		i = len;
	*pos = i;
	while (i > *start && p[i - 1] == 0)
		i--;
	*end = i;
	return *end > *start;
}

int vigil_packetize(enum vigil_codec codec, const uint8_t *au, size_t len, size_t max_payload, vigil_packet_fn fn,
		    void *arg)
{
	uint8_t buf[VIGIL_PACKETIZE_MAX];
	size_t hdr = codec == VIGIL_CODEC_H265 ? 2 : 1, fu_hdr = hdr + 1;
	size_t pos = 0, start, end, nstart, nend, npos;
	bool have;

	if (max_payload < 16 || max_payload > VIGIL_PACKETIZE_MAX)
		return -EINVAL;
	have = next_nal(au, len, &pos, &start, &end);
	if (!have)
		return -EINVAL;
	while (have) {
		const uint8_t *nal = au + start;
		size_t n = end - start;
		bool last;

		npos = pos;
		have = next_nal(au, len, &npos, &nstart, &nend);
		last = !have;
		if (n <= max_payload) {
			fn(arg, nal, n, last);
		} else {
			/* FU: indicator (H.264: F, NRI, 28; H.265: the NAL
			 * header with type 49), then S/E and the type. */
			unsigned type = codec == VIGIL_CODEC_H265 ? nal[0] >> 1 & 0x3f : nal[0] & 0x1f;

			if (codec == VIGIL_CODEC_H265) {
				buf[0] = (uint8_t)((nal[0] & 0x81) | 49 << 1);
				buf[1] = nal[1];
			} else {
				buf[0] = (uint8_t)((nal[0] & 0xe0) | 28);
			}
			for (size_t off = hdr; off < n;) {
				size_t chunk = n - off < max_payload - fu_hdr ? n - off : max_payload - fu_hdr;
				bool first = off == hdr, end_fu = off + chunk == n;

				buf[hdr] = (uint8_t)((first ? 0x80 : 0) | (end_fu ? 0x40 : 0) | type);
				memcpy(buf + fu_hdr, nal + off, chunk);
				fn(arg, buf, fu_hdr + chunk, last && end_fu);
				off += chunk;
			}
		}
		pos = npos;
		start = nstart;
		end = nend;
	}
	return 0;
}
