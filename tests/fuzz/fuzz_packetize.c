/* SPDX-License-Identifier: MIT */
/* libFuzzer target: input is [max payload byte][codec byte][Annex-B
 * stream], cut into access units which go through the packetizer. Nothing
 * may be read out of bounds, the access units tile the stream, every
 * payload fits, and exactly the last one of each carries the marker. */
#include <stdlib.h>

#include "au.h"
#include "packetize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	size_t max;
	unsigned packets, markers;
	bool last_marked;
};

static void check(void *arg, const uint8_t *payload, size_t len, bool marker)
{
	struct seen *s = arg;

	if (len == 0 || len > s->max || payload == NULL)
		abort();
	s->packets++;
	s->markers += marker;
	s->last_marked = marker;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vigil_au aus[256];
	enum vigil_codec codec;
	size_t next = 0;
	unsigned n;

	if (size < 2)
		return 0;
	codec = data[1] & 1 ? VIGIL_CODEC_H265 : VIGIL_CODEC_H264;
	n = vigil_au_split(codec, data + 2, size - 2, aus, 256);
	for (unsigned i = 0; i < n && i < 256; i++) {
		struct seen s = {.max = 16 + data[0] * 6u}; /* 16 to 1546: some out of range */
		int ret;

		if (aus[i].off != next || aus[i].len == 0 || aus[i].off + aus[i].len > size - 2)
			abort();
		next = aus[i].off + aus[i].len;
		ret = vigil_packetize(codec, data + 2 + aus[i].off, aus[i].len, s.max, check, &s);
		if (ret == 0 && (s.markers != 1 || !s.last_marked || s.packets == 0))
			abort();
		if (ret < 0 && s.packets != 0)
			abort();
	}
	if (n > 0 && n <= 256 && next != size - 2)
		abort();
	return 0;
}
