/* SPDX-License-Identifier: MIT */
/* Classifies a received frame (IPv4 or IPv6) down to its UDP payload, or
 * says which counter it is dropped under. Every length is checked before
 * it is used. */
#include <stdbool.h>
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

/* An IPv4 header (len a multiple of 4) whose RFC 1071 checksum is right:
 * its 16-bit words sum to all ones. Summed 32 bits at a time in host
 * order: a ones' complement sum folds to the same all ones whatever the
 * word size and byte order (RFC 1071 2(B), 2(C)). */
static bool ipv4_header_ok(const uint8_t *h, size_t len)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < len; i += 4) {
		uint32_t w;

		memcpy(&w, h + i, 4);
		sum += w;
	}
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

/* The transport message at off, total bytes long. UDP is checked down to
 * its payload; anything else is only described, for the neighbour code. */
static inline enum vigil_counter transport(const uint8_t *frame, size_t off, size_t total, uint8_t proto,
					   struct vigil_udp *udp)
{
	udp->proto = proto;
	if (proto != IPPROTO_UDP) {
		udp->off = (uint16_t)off;
		udp->len = (uint16_t)total;
		return VIGIL_CTR_not_udp;
	}
	if (total < sizeof(struct rte_udp_hdr))
		return VIGIL_CTR_malformed;
	udp->sport = load_be16(frame + off);
	udp->dport = load_be16(frame + off + 2);
	if (load_be16(frame + off + 4) != total)
		return VIGIL_CTR_malformed;
	udp->off = (uint16_t)(off + sizeof(struct rte_udp_hdr));
	udp->len = (uint16_t)(total - sizeof(struct rte_udp_hdr));
	return VIGIL_PARSE_OK;
}

static inline enum vigil_counter parse_ipv4(const uint8_t *frame, size_t len, size_t off,
					    struct vigil_udp *udp)
{
	const uint8_t *ip = frame + off;
	size_t ihl, total, frag;

	if (len - off < sizeof(struct rte_ipv4_hdr) || ip[0] >> 4 != 4)
		return VIGIL_CTR_malformed;
	ihl = (size_t)(ip[0] & 0xf) * 4;
	total = load_be16(ip + 2);
	/* Ethernet may pad short frames, so the IP total length rules. */
	if (ihl < sizeof(struct rte_ipv4_hdr) || total < ihl || total > len - off || !ipv4_header_ok(ip, ihl))
		return VIGIL_CTR_malformed;
	frag = load_be16(ip + 6);
	if (frag & (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK))
		return VIGIL_CTR_fragment;
	memcpy(&udp->saddr.v4, ip + 12, 4);
	memcpy(&udp->daddr.v4, ip + 16, 4);
	udp->ipv6 = 0;
	return transport(frame, off + ihl, total - ihl, ip[9], udp);
}

static inline bool ipv6_ext_hdr(uint8_t next)
{
	return next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING || next == IPPROTO_DSTOPTS;
}

/* Fixed header, then up to VIGIL_MAX_IPV6_EXT_HDRS extension headers that
 * carry no payload of their own; a longer chain is left as not_udp. */
static enum vigil_counter parse_ipv6(const uint8_t *frame, size_t len, size_t off, struct vigil_udp *udp)
{
	const uint8_t *ip = frame + off;
	size_t total;
	uint8_t next;

	if (len - off < sizeof(struct rte_ipv6_hdr) || ip[0] >> 4 != 6)
		return VIGIL_CTR_malformed;
	total = load_be16(ip + 4);
	if (total > len - off - sizeof(struct rte_ipv6_hdr))
		return VIGIL_CTR_malformed;
	memcpy(udp->saddr.v6, ip + 8, 16);
	memcpy(udp->daddr.v6, ip + 24, 16);
	udp->ipv6 = 1;
	next = ip[6];
	off += sizeof(struct rte_ipv6_hdr);
	for (int n = 0; n < VIGIL_MAX_IPV6_EXT_HDRS && ipv6_ext_hdr(next); n++) {
		size_t ext;

		if (total < 8)
			return VIGIL_CTR_malformed;
		ext = ((size_t)frame[off + 1] + 1) * 8;
		if (ext > total)
			return VIGIL_CTR_malformed;
		next = frame[off];
		off += ext;
		total -= ext;
	}
	if (next == IPPROTO_FRAGMENT)
		return VIGIL_CTR_fragment;
	return transport(frame, off, total, next, udp);
}

enum vigil_counter vigil_parse_udp(const uint8_t *frame, size_t len, struct vigil_udp *udp)
{
	size_t off = sizeof(struct rte_ether_hdr);
	uint16_t type;

	if (len < off)
		return VIGIL_CTR_malformed;
	type = load_be16(frame + 12);
	for (int tags = 0; type == RTE_ETHER_TYPE_VLAN || type == RTE_ETHER_TYPE_QINQ; tags++) {
		if (tags == VIGIL_MAX_VLAN_TAGS || len < off + sizeof(struct rte_vlan_hdr))
			return VIGIL_CTR_malformed;
		type = load_be16(frame + off + 2);
		off += sizeof(struct rte_vlan_hdr);
	}
	udp->l3 = (uint16_t)off;
	udp->ethertype = type;
	if (type == RTE_ETHER_TYPE_IPV4)
		return parse_ipv4(frame, len, off, udp);
	if (type == RTE_ETHER_TYPE_IPV6)
		return parse_ipv6(frame, len, off, udp);
	return VIGIL_CTR_not_ip;
}
