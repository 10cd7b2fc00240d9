/* SPDX-License-Identifier: MIT */
/* Ethernet (802.1Q/802.1ad) / IPv4 / UDP parsing of one received frame.
 * Pure: works on a byte buffer, so it is unit-tested and fuzzed alone. */
#ifndef VIGIL_PARSE_H
#define VIGIL_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/counters.h"

#define VIGIL_PARSE_OK VIGIL_CTR_MAX
#define VIGIL_MAX_VLAN_TAGS 2

struct vigil_udp {
	uint32_t saddr, daddr; /* network order */
	uint16_t sport, dport; /* host order */
	uint16_t off;          /* UDP payload offset in the frame */
	uint16_t len;          /* UDP payload length */
};

/* VIGIL_PARSE_OK with *udp filled in, or the counter the frame is dropped
 * under: malformed, not_ip, fragment or not_udp. The IPv4 header checksum is
 * verified; the UDP checksum is not (SRTP authenticates the payload, and
 * offloaded checksums are often left partial on virtual links). */
enum vigil_counter vigil_parse_udp(const uint8_t *frame, size_t len, struct vigil_udp *udp);

#endif
