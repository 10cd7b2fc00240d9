/* SPDX-License-Identifier: MIT */
/* ARP, NDP and echo replies, built in place in the request's frame: the
 * addresses swapped, the checksums recomputed; and the UDP replies the
 * handshake responder sends, built the same way. Anything not addressed to
 * one of our addresses is left for the caller to count and drop. */
#include <string.h>

#include <netinet/icmp6.h>
#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "neigh.h"

#define ND_HOP_LIMIT 255 /* RFC 4861: NDP never crosses a router */
#define ICMP_HDR_LEN 8	 /* type, code, checksum, identifier/flags, sequence */
#define NS_LEN 24	 /* NS/NA header with the target address */
#define NA_LEN (NS_LEN + 8)
#define NA_FLAGS_SOLICITED 0x40
#define NA_FLAGS_OVERRIDE 0x20

static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 0x01};
static const struct rte_ether_addr all_nodes_mac = {{0x33, 0x33, 0, 0, 0, 0x01}};

void vigil_neigh_init(struct vigil_neigh *nb, const struct vigil_config *cfg,
		      const struct rte_ether_addr *mac)
{
	nb->mac = *mac;
	nb->n_ipv4 = cfg->n_ipv4;
	nb->n_ipv6 = cfg->n_ipv6;
	memcpy(nb->ipv4, cfg->ipv4, sizeof(nb->ipv4));
	memcpy(nb->ipv6, cfg->ipv6, sizeof(nb->ipv6));
}

static bool ours4(const struct vigil_neigh *nb, uint32_t a)
{
	for (unsigned i = 0; i < nb->n_ipv4; i++)
		if (nb->ipv4[i] == a)
			return true;
	return false;
}

static bool ours6(const struct vigil_neigh *nb, const uint8_t *a)
{
	for (unsigned i = 0; i < nb->n_ipv6; i++)
		if (memcmp(nb->ipv6[i], a, 16) == 0)
			return true;
	return false;
}

/* Someone a reply can go to: not 0.0.0.0, broadcast or multicast. */
static bool unicast4(uint32_t a)
{
	uint8_t first = ((const uint8_t *)&a)[0];

	return first != 0 && first < 224;
}

static bool unspecified6(const uint8_t *a)
{
	static const uint8_t zero[16];

	return memcmp(a, zero, 16) == 0;
}

/* ff02::1:ffXX:XXXX, where a Neighbor Solicitation for a looks first. */
static bool solicited_node(const uint8_t *dst, const uint8_t *a)
{
	static const uint8_t prefix[13] = {0xff, 0x02, [11] = 0x01, [12] = 0xff};

	return memcmp(dst, prefix, 13) == 0 && memcmp(dst + 13, a + 13, 3) == 0;
}

/* The ICMPv6 checksum over the pseudo-header: 0xffff when it is correct.
 * Needs the message right after the fixed header, as rte_ip.h does. */
static uint16_t icmp6_sum(const struct rte_ipv6_hdr *ip, const void *icmp)
{
	uint32_t sum = rte_raw_cksum(icmp, rte_be_to_cpu_16(ip->payload_len)) + rte_ipv6_phdr_cksum(ip, 0);

	return (uint16_t)((sum & 0xffff) + (sum >> 16));
}

bool vigil_neigh_for_us(const struct vigil_neigh *nb, const uint8_t *frame, const struct vigil_udp *pkt)
{
	const struct rte_ether_hdr *eth = (const struct rte_ether_hdr *)frame;

	if (!rte_is_same_ether_addr(&eth->dst_addr, &nb->mac) || rte_is_multicast_ether_addr(&eth->src_addr))
		return false;
	if (pkt->ipv6)
		return ours6(nb, pkt->daddr.v6) && pkt->saddr.v6[0] != 0xff && !unspecified6(pkt->saddr.v6);
	return ours4(nb, pkt->daddr.v4) && unicast4(pkt->saddr.v4);
}

void vigil_reply_eth(uint8_t *frame, const struct rte_ether_addr *mac, const struct rte_ether_addr *dst)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)frame;

	eth->dst_addr = dst != NULL ? *dst : eth->src_addr;
	eth->src_addr = *mac;
}

size_t vigil_reply_udp(uint8_t *frame, const struct rte_ether_addr *mac, const struct vigil_udp *udp, uint16_t sport,
		       const uint8_t *payload, size_t len)
{
	size_t l4 = udp->l3 + (udp->ipv6 ? sizeof(struct rte_ipv6_hdr) : sizeof(struct rte_ipv4_hdr));
	struct rte_udp_hdr *uh = (struct rte_udp_hdr *)(frame + l4);
	uint16_t dgram_len = (uint16_t)(sizeof(*uh) + len);

	vigil_reply_eth(frame, mac, NULL);
	*uh = (struct rte_udp_hdr){
	    .src_port = rte_cpu_to_be_16(sport),
	    .dst_port = rte_cpu_to_be_16(udp->sport),
	    .dgram_len = rte_cpu_to_be_16(dgram_len),
	};
	memcpy(uh + 1, payload, len);
	if (udp->ipv6) {
		struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(frame + udp->l3);

		*ip = (struct rte_ipv6_hdr){
		    .vtc_flow = RTE_BE32(6u << 28),
		    .payload_len = uh->dgram_len,
		    .proto = IPPROTO_UDP,
		    .hop_limits = VIGIL_REPLY_TTL,
		};
		memcpy(ip->src_addr, udp->daddr.v6, 16);
		memcpy(ip->dst_addr, udp->saddr.v6, 16);
		uh->dgram_cksum = rte_ipv6_udptcp_cksum(ip, uh);
	} else {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(frame + udp->l3);

		*ip = (struct rte_ipv4_hdr){
		    .version_ihl = RTE_IPV4_VHL_DEF,
		    .total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*ip) + dgram_len)),
		    .time_to_live = VIGIL_REPLY_TTL,
		    .next_proto_id = IPPROTO_UDP,
		    .src_addr = udp->daddr.v4,
		    .dst_addr = udp->saddr.v4,
		};
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		uh->dgram_cksum = rte_ipv4_udptcp_cksum(ip, uh);
	}
	return l4 + dgram_len;
}


static enum vigil_counter arp(const struct vigil_neigh *nb, uint8_t *frame, size_t len,
			      const struct vigil_udp *pkt)
{
	struct rte_arp_hdr *a = (struct rte_arp_hdr *)(frame + pkt->l3);
	struct rte_arp_ipv4 *d = &a->arp_data;
	uint32_t tip;

	if (len - pkt->l3 < sizeof(*a) || a->arp_hardware != RTE_BE16(RTE_ARP_HRD_ETHER) ||
	    a->arp_protocol != RTE_BE16(RTE_ETHER_TYPE_IPV4) || a->arp_hlen != RTE_ETHER_ADDR_LEN ||
	    a->arp_plen != sizeof(tip))
		return VIGIL_CTR_malformed;
	tip = d->arp_tip;
	if (a->arp_opcode != RTE_BE16(RTE_ARP_OP_REQUEST) || !ours4(nb, tip) ||
	    rte_is_multicast_ether_addr(&d->arp_sha))
		return VIGIL_CTR_not_ip;
	a->arp_opcode = RTE_BE16(RTE_ARP_OP_REPLY);
	d->arp_tha = d->arp_sha;
	d->arp_tip = d->arp_sip;
	d->arp_sha = nb->mac;
	d->arp_sip = tip;
	vigil_reply_eth(frame, &nb->mac, NULL);
	return VIGIL_CTR_answered;
}

static enum vigil_counter echo4(const struct vigil_neigh *nb, uint8_t *frame, size_t *len,
				const struct vigil_udp *pkt)
{
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(frame + pkt->l3);
	struct rte_icmp_hdr *icmp = (struct rte_icmp_hdr *)(frame + pkt->off);

	if (!ours4(nb, pkt->daddr.v4) || !unicast4(pkt->saddr.v4))
		return VIGIL_CTR_not_udp;
	if (pkt->len < ICMP_HDR_LEN)
		return VIGIL_CTR_malformed;
	if (icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST)
		return VIGIL_CTR_not_udp;
	if (icmp->icmp_code != 0 || rte_raw_cksum(icmp, pkt->len) != 0xffff)
		return VIGIL_CTR_malformed;
	icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	icmp->icmp_cksum = 0;
	icmp->icmp_cksum = (uint16_t)~rte_raw_cksum(icmp, pkt->len);
	ip->dst_addr = ip->src_addr;
	ip->src_addr = pkt->daddr.v4;
	ip->time_to_live = VIGIL_REPLY_TTL;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	*len = (size_t)pkt->off + pkt->len; /* without any Ethernet padding */
	vigil_reply_eth(frame, &nb->mac, NULL);
	return VIGIL_CTR_answered;
}

static enum vigil_counter echo6(const struct vigil_neigh *nb, uint8_t *frame, size_t *len,
				const struct vigil_udp *pkt)
{
	struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(frame + pkt->l3);
	uint8_t *icmp = frame + pkt->off;

	if (!ours6(nb, pkt->daddr.v6) || pkt->saddr.v6[0] == 0xff || unspecified6(pkt->saddr.v6))
		return VIGIL_CTR_not_udp;
	if (pkt->len < ICMP_HDR_LEN || icmp[1] != 0 || icmp6_sum(ip, icmp) != 0xffff)
		return VIGIL_CTR_malformed;
	icmp[0] = ICMP6_ECHO_REPLY;
	memcpy(ip->dst_addr, pkt->saddr.v6, 16);
	memcpy(ip->src_addr, pkt->daddr.v6, 16);
	ip->hop_limits = VIGIL_REPLY_TTL;
	memset(icmp + 2, 0, 2);
	*(rte_be16_t *)(icmp + 2) = rte_ipv6_udptcp_cksum(ip, icmp);
	*len = (size_t)pkt->off + pkt->len;
	vigil_reply_eth(frame, &nb->mac, NULL);
	return VIGIL_CTR_answered;
}

/* RFC 4861 7.1.1 validity, then a solicited Neighbor Advertisement with our
 * link-layer address (to all nodes when the solicitation was for DAD). */
static enum vigil_counter solicit(const struct vigil_neigh *nb, uint8_t *frame, size_t *len, size_t cap,
				  const struct vigil_udp *pkt)
{
	struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(frame + pkt->l3);
	uint8_t *icmp = frame + pkt->off, *target = icmp + 8;
	bool dad = unspecified6(pkt->saddr.v6);

	if (pkt->len < NS_LEN)
		return VIGIL_CTR_malformed;
	if (!ours6(nb, target) || pkt->saddr.v6[0] == 0xff ||
	    !(memcmp(pkt->daddr.v6, target, 16) == 0 || solicited_node(pkt->daddr.v6, target)))
		return VIGIL_CTR_not_udp;
	if (icmp[1] != 0 || ip->hop_limits != ND_HOP_LIMIT || icmp6_sum(ip, icmp) != 0xffff)
		return VIGIL_CTR_malformed;
	for (size_t o = NS_LEN, olen; o < pkt->len; o += olen) {
		olen = o + 2 <= pkt->len ? (size_t)icmp[o + 1] * 8 : 0;
		if (olen == 0 || olen > pkt->len - o || (dad && icmp[o] == ND_OPT_SOURCE_LINKADDR))
			return VIGIL_CTR_malformed;
	}
	if ((size_t)pkt->off + NA_LEN > cap)
		return VIGIL_CTR_not_udp; /* no room: cannot happen in an mbuf */

	ip->vtc_flow = RTE_BE32(6u << 28);
	ip->payload_len = RTE_BE16(NA_LEN);
	ip->hop_limits = ND_HOP_LIMIT;
	memcpy(ip->dst_addr, dad ? all_nodes : pkt->saddr.v6, 16);
	memcpy(ip->src_addr, target, 16);
	icmp[0] = ND_NEIGHBOR_ADVERT;
	memset(icmp + 1, 0, 7);
	icmp[4] = (dad ? 0 : NA_FLAGS_SOLICITED) | NA_FLAGS_OVERRIDE;
	icmp[NS_LEN] = ND_OPT_TARGET_LINKADDR;
	icmp[NS_LEN + 1] = 1; /* in units of 8 bytes */
	memcpy(icmp + NS_LEN + 2, &nb->mac, RTE_ETHER_ADDR_LEN);
	*(rte_be16_t *)(icmp + 2) = rte_ipv6_udptcp_cksum(ip, icmp);
	*len = (size_t)pkt->off + NA_LEN;
	vigil_reply_eth(frame, &nb->mac, dad ? &all_nodes_mac : NULL);
	return VIGIL_CTR_answered;
}

static enum vigil_counter icmp6(const struct vigil_neigh *nb, uint8_t *frame, size_t *len, size_t cap,
				const struct vigil_udp *pkt)
{
	/* Only directly after the fixed header: hosts send NDP and echo so,
	 * and the checksum helpers assume it. */
	if (pkt->off != pkt->l3 + sizeof(struct rte_ipv6_hdr) || pkt->len < 4)
		return VIGIL_CTR_not_udp;
	switch (frame[pkt->off]) {
	case ICMP6_ECHO_REQUEST:
		return echo6(nb, frame, len, pkt);
	case ND_NEIGHBOR_SOLICIT:
		return solicit(nb, frame, len, cap, pkt);
	}
	return VIGIL_CTR_not_udp;
}

enum vigil_counter vigil_neigh_reply(const struct vigil_neigh *nb, uint8_t *frame, size_t *len, size_t cap,
				     const struct vigil_udp *pkt, enum vigil_counter why)
{
	const struct rte_ether_hdr *eth = (const struct rte_ether_hdr *)frame;

	/* The port is promiscuous: ignore unicast to other hosts, and never
	 * answer a multicast source. */
	if (rte_is_multicast_ether_addr(&eth->src_addr) ||
	    (!rte_is_multicast_ether_addr(&eth->dst_addr) &&
	     !rte_is_same_ether_addr(&eth->dst_addr, &nb->mac)))
		return why;
	if (why == VIGIL_CTR_not_ip && pkt->ethertype == RTE_ETHER_TYPE_ARP && nb->n_ipv4 != 0)
		return arp(nb, frame, *len, pkt);
	if (why != VIGIL_CTR_not_udp)
		return why;
	if (!pkt->ipv6 && pkt->proto == IPPROTO_ICMP && nb->n_ipv4 != 0)
		return echo4(nb, frame, len, pkt);
	if (pkt->ipv6 && pkt->proto == IPPROTO_ICMPV6 && nb->n_ipv6 != 0)
		return icmp6(nb, frame, len, cap, pkt);
	return why;
}
