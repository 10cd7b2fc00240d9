/* SPDX-License-Identifier: MIT */
/* libFuzzer target: any bytes as a received Ethernet frame. The parser
 * must never read outside the frame, and what it accepts must lie inside;
 * what it refuses goes to the neighbour code, as in the worker. */
#include <stdlib.h>
#include <string.h>

#include "neigh.h"
#include "parse.h"

#define TAILROOM 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct vigil_config cfg = {
    .n_ipv4 = 1,
    .ipv4 = {RTE_BE32(0xc6120001)}, /* 198.18.0.1 */
    .n_ipv6 = 1,
    .ipv6 = {{0xfd, [15] = 1}},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A private copy so ASan sees the exact end of the frame (and of the
	 * room a reply may grow into). */
	uint8_t *frame = malloc(size + TAILROOM);
	const struct rte_ether_addr mac = {{0x02, 0, 0, 0, 0, 1}};
	struct vigil_neigh nb;
	struct vigil_udp udp;
	enum vigil_counter why;
	size_t len = size;

	memcpy(frame, data, size);
	why = vigil_parse_udp(frame, size, &udp);
	if (why == VIGIL_PARSE_OK && (size_t)udp.off + udp.len > size)
		abort();
	if (why == VIGIL_CTR_not_ip || why == VIGIL_CTR_not_udp) {
		vigil_neigh_init(&nb, &cfg, &mac);
		why = vigil_neigh_reply(&nb, frame, &len, size + TAILROOM, &udp, why);
		if (why == VIGIL_CTR_answered && (len > size + TAILROOM || len < 42))
			abort();
	}
	free(frame);
	return 0;
}
