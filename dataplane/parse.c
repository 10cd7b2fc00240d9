/* SPDX-License-Identifier: MIT */
/* Classifies a received frame down to its UDP payload, or says which
 * counter it is dropped under. Every length is checked before it is used. */
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "parse.h"

static inline uint16_t load_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* RFC 1071 checksum of an IPv4 header; 0 when it is correct. */
static uint16_t ipv4_header_sum(const uint8_t *h, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i < len; i += 2)
		sum += load_be16(h + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

enum vigil_counter vigil_parse_udp(const uint8_t *frame, size_t len, struct vigil_udp *udp)
{
	size_t off = sizeof(struct rte_ether_hdr);
	uint16_t type;
	const uint8_t *ip;
	size_t ihl, total, frag;

	if (len < off)
		return VIGIL_CTR_malformed;
	type = load_be16(frame + 12);
	for (int tags = 0; type == RTE_ETHER_TYPE_VLAN || type == RTE_ETHER_TYPE_QINQ; tags++) {
		if (tags == VIGIL_MAX_VLAN_TAGS || len < off + sizeof(struct rte_vlan_hdr))
			return VIGIL_CTR_malformed;
		type = load_be16(frame + off + 2);
		off += sizeof(struct rte_vlan_hdr);
	}
	if (type != RTE_ETHER_TYPE_IPV4)
		return VIGIL_CTR_not_ip;

	ip = frame + off;
	if (len - off < sizeof(struct rte_ipv4_hdr) || ip[0] >> 4 != 4)
		return VIGIL_CTR_malformed;
	ihl = (size_t)(ip[0] & 0xf) * 4;
	total = load_be16(ip + 2);
	/* Ethernet may pad short frames, so the IP total length rules. */
	if (ihl < sizeof(struct rte_ipv4_hdr) || total < ihl || total > len - off || ipv4_header_sum(ip, ihl) != 0)
		return VIGIL_CTR_malformed;
	frag = load_be16(ip + 6);
	if (frag & (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK))
		return VIGIL_CTR_fragment;
	if (ip[9] != IPPROTO_UDP)
		return VIGIL_CTR_not_udp;

	off += ihl;
	total -= ihl;
	if (total < sizeof(struct rte_udp_hdr))
		return VIGIL_CTR_malformed;
	udp->sport = load_be16(frame + off);
	udp->dport = load_be16(frame + off + 2);
	if (load_be16(frame + off + 4) != total)
		return VIGIL_CTR_malformed;
	memcpy(&udp->saddr, ip + 12, 4);
	memcpy(&udp->daddr, ip + 16, 4);
	udp->off = (uint16_t)(off + sizeof(struct rte_udp_hdr));
	udp->len = (uint16_t)(total - sizeof(struct rte_udp_hdr));
	return VIGIL_PARSE_OK;
}
