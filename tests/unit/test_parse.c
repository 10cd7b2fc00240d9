/* SPDX-License-Identifier: MIT */
/* Ethernet/VLAN/IPv4/IPv6/UDP classification: one valid frame, then one
 * broken field at a time, each refused under the right counter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "parse.h"

struct frame {
	uint8_t b[256];
	size_t len;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void ip_checksum(uint8_t *ip)
{
	uint32_t sum = 0;
	size_t ihl = (size_t)(ip[0] & 0xf) * 4;

	put16(ip + 10, 0);
	for (size_t i = 0; i < ihl; i += 2)
		sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put16(ip + 10, (uint16_t)~sum);
}

/* Ethernet + optional VLAN tags + IPv4 (20 bytes) + UDP + payload_len bytes. */
static struct frame make(int vlans, size_t payload_len)
{
	struct frame f = {0};
	size_t off = 12;
	uint8_t *ip, *udp;

	for (int i = 0; i < vlans; i++) {
		put16(f.b + off, i == 0 && vlans == 2 ? 0x88a8 : 0x8100);
		put16(f.b + off + 2, 100);
		off += 4;
	}
	put16(f.b + off, 0x0800);
	ip = f.b + off + 2;
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + 8 + payload_len));
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, (uint8_t[]){198, 18, 0, 2}, 4);
	memcpy(ip + 16, (uint8_t[]){198, 18, 0, 1}, 4);
	ip_checksum(ip);
	udp = ip + 20;
	put16(udp, 40000);
	put16(udp + 2, 5004);
	put16(udp + 4, (uint16_t)(8 + payload_len));
	memset(udp + 8, 0xab, payload_len);
	f.len = (size_t)(udp + 8 + payload_len - f.b);
	return f;
}

static void test_valid(void **state)
{
	struct vigil_udp udp;

	(void)state;
	for (int vlans = 0; vlans <= 2; vlans++) {
		struct frame f = make(vlans, 40);

		assert_int_equal(vigil_parse_udp(f.b, f.len, &udp), VIGIL_PARSE_OK);
		assert_int_equal(udp.dport, 5004);
		assert_int_equal(udp.sport, 40000);
		assert_int_equal(udp.len, 40);
		assert_int_equal(udp.off, 14 + 4 * vlans + 20 + 8);
		assert_memory_equal(&udp.daddr, ((uint8_t[]){198, 18, 0, 1}), 4);
	}
	/* Ethernet padding after the IP packet is ignored. */
	struct frame f = make(0, 2);
	assert_int_equal(vigil_parse_udp(f.b, f.len + 14, &udp), VIGIL_PARSE_OK);
	assert_int_equal(udp.len, 2);
}

static void test_refused(void **state)
{
	struct vigil_udp udp;
	struct frame f;

	(void)state;
	for (size_t len = 0; len < make(0, 0).len; len++) {
		f = make(0, 0);
		assert_int_not_equal(vigil_parse_udp(f.b, len, &udp), VIGIL_PARSE_OK);
	}
	f = make(3, 0);
	assert_int_equal(vigil_parse_udp(f.b, f.len, &udp), VIGIL_CTR_malformed); /* three tags */
	f = make(1, 0);
	assert_int_equal(vigil_parse_udp(f.b, 17, &udp), VIGIL_CTR_malformed); /* tag cut short */

	f = make(1, 8);
	put16(f.b + 16, 0x0806);
	assert_int_equal(vigil_parse_udp(f.b, f.len, &udp), VIGIL_CTR_not_ip);
	assert_int_equal(udp.l3, 18); /* what the neighbour code starts from */
	assert_int_equal(udp.ethertype, 0x0806);
	put16(f.b + 16, 0x86dd); /* an IPv4 packet under the IPv6 ethertype */
	assert_int_equal(vigil_parse_udp(f.b, f.len, &udp), VIGIL_CTR_malformed);

	f = make(0, 8);
	f.b[14] = 0x65; /* version 6 */
	ip_checksum(f.b + 14);
	assert_int_equal(vigil_parse_udp(f.b, f.len, &udp), VIGIL_CTR_malformed);
	f = make(0, 8);
	f.b[14] = 0x44; /* IHL 4 */
	assert_int_equal(vigil_parse_udp(f.b, f.len, &udp), VIGIL_CTR_malformed);
	f = make(0, 8);
	f.b[14] = 0x4f; /* IHL 15: past the packet */
	assert_int_equal(vigil_parse_udp(f.b, f.len, &udp), VIGIL_CTR_malformed);
	f = make(0, 8);
	f.b[25] ^= 1; /* checksum */
	assert_int_equal(vigil_parse_udp(f.b, f.len, &udp), VIGIL_CTR_malformed);
	f = make(0, 8);
	put16(f.b + 16, 200); /* total length past the frame */
	ip_checksum(f.b + 14);
	assert_int_equal(vigil_parse_udp(f.b, f.len, &udp), VIGIL_CTR_malformed);
	f = make(0, 8);
	put16(f.b + 16, 19); /* total length below the header */
	ip_checksum(f.b + 14);
	assert_int_equal(vigil_parse_udp(f.b, f.len, &udp), VIGIL_CTR_malformed);

	f = make(0, 8);
	put16(f.b + 20, 0x2000); /* more fragments */
	ip_checksum(f.b + 14);
	assert_int_equal(vigil_parse_udp(f.b, f.len, &udp), VIGIL_CTR_fragment);
	put16(f.b + 20, 0x0001); /* offset 8 */
	ip_checksum(f.b + 14);
	assert_int_equal(vigil_parse_udp(f.b, f.len, &udp), VIGIL_CTR_fragment);
	put16(f.b + 20, 0x4000); /* don't fragment is fine */
	ip_checksum(f.b + 14);
	assert_int_equal(vigil_parse_udp(f.b, f.len, &udp), VIGIL_PARSE_OK);

	f = make(0, 8);
	f.b[23] = 1; /* ICMP */
	ip_checksum(f.b + 14);
	assert_int_equal(vigil_parse_udp(f.b, f.len, &udp), VIGIL_CTR_not_udp);
	assert_int_equal(udp.proto, 1);
	assert_int_equal(udp.off, 14 + 20);
	assert_int_equal(udp.len, 16);
	assert_false(udp.ipv6);

	f = make(0, 8);
	put16(f.b + 38, 17); /* UDP length differs from IP's */
	assert_int_equal(vigil_parse_udp(f.b, f.len, &udp), VIGIL_CTR_malformed);
	put16(f.b + 38, 7);
	assert_int_equal(vigil_parse_udp(f.b, f.len, &udp), VIGIL_CTR_malformed);
	f = make(0, 0);
	put16(f.b + 16, 20 + 4); /* IP payload shorter than a UDP header */
	ip_checksum(f.b + 14);
	assert_int_equal(vigil_parse_udp(f.b, f.len, &udp), VIGIL_CTR_malformed);
}

/* Ethernet + IPv6 + n_ext extension headers (8 bytes each, of type ext)
 * + UDP + payload_len bytes. */
static struct frame make6(int n_ext, uint8_t ext, size_t payload_len)
{
	struct frame f = {0};
	uint8_t *ip = f.b + 14, *h = ip + 40, *udp;

	put16(f.b + 12, 0x86dd);
	ip[0] = 0x60;
	put16(ip + 4, (uint16_t)(8 * n_ext + 8 + payload_len));
	ip[6] = n_ext > 0 ? ext : 17;
	ip[7] = 64;
	ip[8] = 0xfd;
	ip[23] = 2;
	ip[24] = 0xfd;
	ip[39] = 1;
	for (int i = 0; i < n_ext; i++, h += 8)
		h[0] = i + 1 < n_ext ? ext : 17;
	udp = h;
	put16(udp, 40000);
	put16(udp + 2, 5004);
	put16(udp + 4, (uint16_t)(8 + payload_len));
	memset(udp + 8, 0xab, payload_len);
	f.len = (size_t)(udp + 8 + payload_len - f.b);
	return f;
}

static void test_ipv6(void **state)
{
	static const uint8_t exts[] = {0, 43, 60}; /* hop-by-hop, routing, destination options */
	struct vigil_udp udp;
	struct frame f;

	(void)state;
	for (int n = 0; n <= VIGIL_MAX_IPV6_EXT_HDRS; n++) {
		f = make6(n, exts[n % 3], 40);
		assert_int_equal(vigil_parse_udp(f.b, f.len, &udp), VIGIL_PARSE_OK);
		assert_true(udp.ipv6);
		assert_int_equal(udp.dport, 5004);
		assert_int_equal(udp.len, 40);
		assert_int_equal(udp.off, 14 + 40 + 8 * n + 8);
		assert_int_equal(udp.daddr.v6[0], 0xfd);
		assert_int_equal(udp.daddr.v6[15], 1);
		assert_int_equal(udp.saddr.v6[15], 2);
	}
	/* Ethernet padding after the packet is ignored. */
	f = make6(0, 0, 2);
	assert_int_equal(vigil_parse_udp(f.b, f.len + 10, &udp), VIGIL_PARSE_OK);
	/* Longer chains are not followed. */
	f = make6(VIGIL_MAX_IPV6_EXT_HDRS + 1, 60, 8);
	assert_int_equal(vigil_parse_udp(f.b, f.len, &udp), VIGIL_CTR_not_udp);
	f = make6(1, 44, 8);
	assert_int_equal(vigil_parse_udp(f.b, f.len, &udp), VIGIL_CTR_fragment);
	f = make6(2, 0, 8);
	f.b[14 + 40 + 8] = 44; /* fragment header after hop-by-hop */
	assert_int_equal(vigil_parse_udp(f.b, f.len, &udp), VIGIL_CTR_fragment);

	f = make6(1, 60, 8);
	f.b[14 + 40] = 58; /* ICMPv6 after destination options */
	assert_int_equal(vigil_parse_udp(f.b, f.len, &udp), VIGIL_CTR_not_udp);
	assert_int_equal(udp.proto, 58);
	assert_int_equal(udp.l3, 14);
	assert_int_equal(udp.off, 14 + 40 + 8);
	assert_int_equal(udp.len, 16);

	for (size_t len = 0; len < make6(1, 0, 0).len; len++) {
		f = make6(1, 0, 0);
		assert_int_not_equal(vigil_parse_udp(f.b, len, &udp), VIGIL_PARSE_OK);
	}
	f = make6(0, 0, 8);
	f.b[14] = 0x40; /* version 4 */
	assert_int_equal(vigil_parse_udp(f.b, f.len, &udp), VIGIL_CTR_malformed);
	f = make6(0, 0, 8);
	put16(f.b + 18, 17); /* payload length past the frame */
	assert_int_equal(vigil_parse_udp(f.b, f.len, &udp), VIGIL_CTR_malformed);
	put16(f.b + 18, 15); /* payload length and UDP length disagree */
	assert_int_equal(vigil_parse_udp(f.b, f.len, &udp), VIGIL_CTR_malformed);
	put16(f.b + 18, 4); /* shorter than a UDP header */
	assert_int_equal(vigil_parse_udp(f.b, f.len, &udp), VIGIL_CTR_malformed);
	f = make6(1, 0, 8);
	f.b[14 + 40 + 1] = 3; /* extension header longer than the payload */
	assert_int_equal(vigil_parse_udp(f.b, f.len, &udp), VIGIL_CTR_malformed);
	f = make6(1, 0, 0);
	put16(f.b + 18, 4); /* payload too short for an extension header */
	assert_int_equal(vigil_parse_udp(f.b, f.len, &udp), VIGIL_CTR_malformed);
}

/* The header checksum, against the test's own RFC 1071 sum (ip_checksum):
 * headers with random ToS, ID, TTL and addresses (all ones included,
 * whose sums carry most) pass when their checksum is right and are
 * malformed with any one bit of it or of the addresses flipped. */
static void test_checksum(void **state)
{
	uint64_t x = 0x9e3779b97f4a7c15u;
	struct vigil_udp udp;
	(void)state;

	for (unsigned n = 0; n < 20000; n++) {
		struct frame f = make(0, 8);
		uint8_t *ip = f.b + 14;
		static const unsigned fields[] = {1, 4, 5, 8, 12, 13, 14, 15, 16, 17, 18, 19};

		for (unsigned i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			ip[fields[i]] = n % 4 == 0 ? 0xff : (uint8_t)x;
		}
		ip_checksum(ip);
		assert_int_equal(vigil_parse_udp(f.b, f.len, &udp), VIGIL_PARSE_OK);
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		ip[10 + x % 10] ^= (uint8_t)(1u << (x >> 8) % 8);
		assert_int_equal(vigil_parse_udp(f.b, f.len, &udp), VIGIL_CTR_malformed);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_checksum),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
