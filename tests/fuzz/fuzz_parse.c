/* SPDX-License-Identifier: MIT */
/* libFuzzer target: any bytes as a received Ethernet frame. The parser
 * must never read outside the frame, and what it accepts must lie inside. */
#include <stdlib.h>
#include <string.h>

#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A private copy so ASan sees the exact end of the frame. */
	uint8_t *frame = malloc(size ? size : 1);
	struct vigil_udp udp;

	memcpy(frame, data, size);
	if (vigil_parse_udp(frame, size, &udp) == VIGIL_PARSE_OK && (size_t)udp.off + udp.len > size)
		abort();
	free(frame);
	return 0;
}
