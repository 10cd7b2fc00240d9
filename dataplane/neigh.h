/* SPDX-License-Identifier: MIT */
/* Answers ARP, IPv6 Neighbor Solicitations and ICMP/ICMPv6 echo requests
 * for the ingest port's own addresses, so vigild is reachable on an L2
 * segment without a kernel stack. Pure: rewrites a frame buffer in place. */
#ifndef VIGIL_NEIGH_H
#define VIGIL_NEIGH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_ether.h>

#include "vigil/config_model.h"
#include "counters.h"
#include "parse.h"

struct vigil_neigh {
	struct rte_ether_addr mac;
	unsigned n_ipv4, n_ipv6;
	uint32_t ipv4[VIGIL_MAX_ADDRESSES]; /* network order */
	uint8_t ipv6[VIGIL_MAX_ADDRESSES][16];
};

/* The configured addresses and the port's MAC address. */
void vigil_neigh_init(struct vigil_neigh *nb, const struct vigil_config *cfg,
		      const struct rte_ether_addr *mac);

/* Without addresses nothing is answered, as before Address existed. */
static inline bool vigil_neigh_enabled(const struct vigil_neigh *nb)
{
	return nb->n_ipv4 + nb->n_ipv6 != 0;
}

/* A unicast frame to the port's MAC and one of our addresses, from a
 * unicast source that can be answered: the port is promiscuous, so
 * anything else is someone else's. */
bool vigil_neigh_for_us(const struct vigil_neigh *nb, const uint8_t *frame, const struct vigil_udp *pkt);

/* A frame vigil_parse_udp refused with why (not_ip or not_udp), *pkt as it
 * left it, *len bytes in a buffer of cap. A request for one of our addresses
 * becomes its reply in place: VIGIL_CTR_answered, *len the reply's length.
 * Otherwise the counter to drop it under: why when it is not a request for
 * us, malformed when it is one but broken (bad checksum, truncated). */
enum vigil_counter vigil_neigh_reply(const struct vigil_neigh *nb, uint8_t *frame, size_t *len, size_t cap,
				     const struct vigil_udp *pkt, enum vigil_counter why);

/* Replies leave with this TTL (IPv6: hop limit); NDP's are 255, its own. */
#define VIGIL_REPLY_TTL 64

/* The request's Ethernet header turned back: to its sender (or to dst),
 * from mac. */
void vigil_reply_eth(uint8_t *frame, const struct rte_ether_addr *mac, const struct rte_ether_addr *dst);

/* A UDP request's frame becomes the reply from sport, from mac back to the
 * sender: IP and UDP headers written afresh from what was parsed (no IPv4
 * options, flow label or hop count of the request's carried over), then
 * the payload, which is never longer than the request's, so it fits.
 * Returns the reply frame's length. */
size_t vigil_reply_udp(uint8_t *frame, const struct rte_ether_addr *mac, const struct vigil_udp *udp, uint16_t sport,
		       const uint8_t *payload, size_t len);

#endif
