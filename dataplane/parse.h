/* SPDX-License-Identifier: MIT */
/* Ethernet (802.1Q/802.1ad) / IPv4 or IPv6 / UDP parsing of one received
 * frame. Pure: works on a byte buffer, so it is unit-tested and fuzzed alone. */
#ifndef VIGIL_PARSE_H
#define VIGIL_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "counters.h"

#define VIGIL_PARSE_OK VIGIL_CTR_MAX
#define VIGIL_MAX_VLAN_TAGS 2
/* Hop-by-hop, routing and destination options headers skipped at most. */
#define VIGIL_MAX_IPV6_EXT_HDRS 4

union vigil_addr {
	uint32_t v4; /* network order */
	uint8_t v6[16];
};

struct vigil_udp {
	union vigil_addr saddr, daddr;
	uint16_t sport, dport; /* host order */
	uint16_t off;          /* UDP payload offset in the frame */
	uint16_t len;          /* UDP payload length */
	uint16_t l3;           /* network header offset in the frame */
	uint16_t ethertype;    /* host order */
	uint8_t proto;         /* transport protocol (IPv6: the last next header) */
	uint8_t ipv6;          /* the addresses are IPv6 */
};

/* VIGIL_PARSE_OK with *udp filled in, or the counter the frame is dropped
 * under: malformed, not_ip, fragment or not_udp. The IPv4 header checksum is
 * verified; the UDP checksum is not (SRTP authenticates the payload, and
 * offloaded checksums are often left partial on virtual links).
 * For the neighbour code, a refused frame still says what it was: with
 * not_ip, l3 and ethertype are set; with not_udp, also the addresses, proto,
 * and off/len give the whole transport message (its header included). */
enum vigil_counter vigil_parse_udp(const uint8_t *frame, size_t len, struct vigil_udp *udp);

#endif
