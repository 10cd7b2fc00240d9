/* SPDX-License-Identifier: MIT */
/* Access-unit boundaries in an Annex-B stream (au.h). */
#include "au.h"

unsigned vigil_au_split(enum vigil_codec codec, const uint8_t *b, size_t len, struct vigil_au *out, unsigned max)
{
	size_t start = 0;
	bool vcl_seen = false, key = false;
	unsigned n = 0;

	for (size_t i = 0; i + 3 < len; i++) {
		const uint8_t *h;
		size_t sc, left;
		unsigned t;
		bool vcl, opens;

		if (b[i] != 0 || b[i + 1] != 0 || b[i + 2] != 1)
			continue;
		sc = i > 0 && b[i - 1] == 0 ? i - 1 : i;
		h = b + i + 3;
		/* The slice header bytes read below may be past the end. */
		left = len - (i + 3);
		if (codec == VIGIL_CODEC_H264) {
			t = h[0] & 0x1f;
			vcl = t >= 1 && t <= 5;
			opens = t == 9 || (vcl_seen && ((t >= 6 && t <= 8) || (t >= 14 && t <= 18) ||
							(vcl && left > 1 && (h[1] & 0x80))));
		} else {
			t = (h[0] >> 1) & 0x3f;
			vcl = t < 32;
			opens = t == 35 ||
				(vcl_seen && ((t >= 32 && t <= 34) || t == 39 || (vcl && left > 2 && (h[2] & 0x80))));
		}
		if (opens && vcl_seen) {
			if (n < max)
				out[n] = (struct vigil_au){.off = start, .len = sc - start, .key = key};
			n++;
			start = sc;
			vcl_seen = false;
		}
		if (vcl) {
			vcl_seen = true;
			key = codec == VIGIL_CODEC_H264 ? t == 5 : t >= 16 && t <= 21;
		}
		i += 2;
	}
	if (start < len) {
		if (n < max)
			out[n] = (struct vigil_au){.off = start, .len = len - start, .key = key};
		n++;
	}
	return n;
}
