/* SPDX-License-Identifier: MIT */
/* libFuzzer target: input is [max payload byte][codec byte][Annex-B access
 * unit], through the packetizer. Nothing may be read out of bounds, every
 * payload fits, and exactly the last one carries the marker. */
#include <stdlib.h>

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
	struct seen s = {0};
	int ret;

	if (size < 2)
		return 0;
	s.max = 16 + data[0] * 6u; /* 16 to 1546: some out of range */
	ret = vigil_packetize(data[1] & 1 ? VIGIL_CODEC_H265 : VIGIL_CODEC_H264, data + 2, size - 2, s.max, check, &s);
	if (ret == 0 && (s.markers != 1 || !s.last_marked || s.packets == 0))
		abort();
	if (ret < 0 && s.packets != 0)
		abort();
	return 0;
}
