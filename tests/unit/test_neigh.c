/* SPDX-License-Identifier: MIT */
/* ARP, NDP and echo replies on plain buffers: each request for our address
 * answered with correct checksums, everything else left alone, and no
 * single flipped byte turning a request into a wrong reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "neigh.h"

struct frame {
	uint8_t b[256];
	size_t len;
};

static const uint8_t our_mac[6] = {0x02, 0, 0, 0, 0, 0x01}, peer_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
static const uint8_t our4[4] = {198, 18, 0, 3}, peer4[4] = {198, 18, 0, 2}, other4[4] = {198, 18, 0, 4};
static const uint8_t our6[16] = {0xfd, [14] = 0x12, [15] = 0x03}, peer6[16] = {0xfd, [15] = 0x02};
static const uint8_t other6[16] = {0xfd, [15] = 0x04}, unspec6[16];
static struct vigil_config cfg;
static struct vigil_neigh nb;

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i < n; i += 2)
		s += (uint32_t)(p[i] << 8 | (i + 1 < n ? p[i + 1] : 0));
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* ICMPv6 sum over the pseudo-header of the packet whose IPv6 header is ip. */
static uint16_t icmp6_sum(const uint8_t *ip)
{
	size_t len = (size_t)(ip[4] << 8 | ip[5]);

	return fold(sum16(ip + 8, 32, 0) + (uint32_t)len + 58 + sum16(ip + 40, len, 0));
}

static void eth(struct frame *f, const uint8_t *dst, uint16_t type)
{
	memcpy(f->b, dst, 6);
	memcpy(f->b + 6, peer_mac, 6);
	put16(f->b + 12, type);
}

static struct frame arp_request(const uint8_t *tip)
{
	struct frame f = {0};
	uint8_t *a = f.b + 14;

	eth(&f, (const uint8_t[6]){0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 0x0806);
	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 1);
	memcpy(a + 8, peer_mac, 6);
	memcpy(a + 14, peer4, 4);
	memcpy(a + 24, tip, 4);
	f.len = 60; /* 42 bytes and Ethernet padding */
	return f;
}

static struct frame echo4_request(const uint8_t *dst)
{
	struct frame f = {0};
	uint8_t *ip = f.b + 14, *icmp = ip + 20;

	eth(&f, our_mac, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, 20 + 8 + 32);
	ip[8] = 64;
	ip[9] = 1;
	memcpy(ip + 12, peer4, 4);
	memcpy(ip + 16, dst, 4);
	put16(ip + 10, (uint16_t)~fold(sum16(ip, 20, 0)));
	icmp[0] = 8;
	put16(icmp + 4, 0x1234);
	put16(icmp + 6, 7);
	for (int i = 0; i < 32; i++)
		icmp[8 + i] = (uint8_t)i;
	put16(icmp + 2, (uint16_t)~fold(sum16(icmp, 40, 0)));
	f.len = 14 + 60 + 4; /* with a 4-byte trailer the reply drops */
	return f;
}

/* IPv6 + ICMPv6 of icmp_len bytes, type set, checksum left to seal6(). */
static uint8_t *ipv6(struct frame *f, const uint8_t *edst, const uint8_t *src, const uint8_t *dst,
		     uint8_t hops, size_t icmp_len)
{
	uint8_t *ip = f->b + 14;

	eth(f, edst, 0x86dd);
	ip[0] = 0x60;
	put16(ip + 4, (uint16_t)icmp_len);
	ip[6] = 58;
	ip[7] = hops;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
	f->len = 14 + 40 + icmp_len;
	return ip + 40;
}

static void seal6(struct frame *f)
{
	put16(f->b + 14 + 40 + 2, 0);
	put16(f->b + 14 + 40 + 2, (uint16_t)~icmp6_sum(f->b + 14));
}

static struct frame echo6_request(const uint8_t *dst)
{
	struct frame f = {0};
	uint8_t *icmp = ipv6(&f, our_mac, peer6, dst, 64, 8 + 21);

	icmp[0] = 128;
	put16(icmp + 4, 0x4321);
	put16(icmp + 6, 9);
	memset(icmp + 8, 0x5a, 21); /* odd length */
	seal6(&f);
	return f;
}

/* A Neighbor Solicitation for target: to its solicited-node group, with a
 * source link-layer address option unless it is DAD (from ::). */
static struct frame solicitation(const uint8_t *src, const uint8_t *target)
{
	struct frame f = {0};
	uint8_t group[16] = {0xff, 0x02, [11] = 0x01, [12] = 0xff, target[13], target[14], target[15]};
	bool dad = memcmp(src, unspec6, 16) == 0;
	uint8_t *icmp = ipv6(&f, (const uint8_t[6]){0x33, 0x33, 0xff, target[13], target[14], target[15]},
			     src, group, 255, dad ? 24 : 32);

	icmp[0] = 135;
	memcpy(icmp + 8, target, 16);
	if (!dad) {
		icmp[24] = 1;
		icmp[25] = 1;
		memcpy(icmp + 26, peer_mac, 6);
	}
	seal6(&f);
	return f;
}

/* What the worker does: parse, and ask neigh about not_ip and not_udp. */
static enum vigil_counter run(struct frame *f)
{
	struct vigil_udp pkt;
	enum vigil_counter why = vigil_parse_udp(f->b, f->len, &pkt);

	if (why != VIGIL_CTR_not_ip && why != VIGIL_CTR_not_udp)
		return why;
	return vigil_neigh_reply(&nb, f->b, &f->len, sizeof(f->b), &pkt, why);
}

static void assert_eth_reply(const struct frame *f, const uint8_t *dst)
{
	assert_memory_equal(f->b, dst, 6);
	assert_memory_equal(f->b + 6, our_mac, 6);
}

static int setup(void **state)
{
	struct rte_ether_addr mac;

	(void)state;
	cfg.n_ipv4 = 1;
	memcpy(&cfg.ipv4[0], our4, 4);
	cfg.n_ipv6 = 2;
	memcpy(cfg.ipv6[0], other6, 16);
	cfg.ipv6[0][0] = 0xfe; /* some other address of ours */
	memcpy(cfg.ipv6[1], our6, 16);
	memcpy(mac.addr_bytes, our_mac, 6);
	vigil_neigh_init(&nb, &cfg, &mac);
	assert_true(vigil_neigh_enabled(&nb));
	return 0;
}

static void test_arp(void **state)
{
	struct frame f = arp_request(our4);
	const uint8_t *a = f.b + 14;

	(void)state;
	assert_int_equal(run(&f), VIGIL_CTR_answered);
	assert_int_equal(f.len, 60);
	assert_eth_reply(&f, peer_mac);
	assert_int_equal(a[7], 2); /* reply */
	assert_memory_equal(a + 8, our_mac, 6);
	assert_memory_equal(a + 14, our4, 4);
	assert_memory_equal(a + 18, peer_mac, 6);
	assert_memory_equal(a + 24, peer4, 4);

	f = arp_request(other4);
	assert_int_equal(run(&f), VIGIL_CTR_not_ip);
	f = arp_request(our4);
	put16(f.b + 20, 2); /* a reply is not answered */
	assert_int_equal(run(&f), VIGIL_CTR_not_ip);
	f = arp_request(our4);
	f.b[19] = 16; /* protocol address length */
	assert_int_equal(run(&f), VIGIL_CTR_malformed);
	f = arp_request(our4);
	f.len = 14 + 27;
	assert_int_equal(run(&f), VIGIL_CTR_malformed);
	f = arp_request(our4);
	f.b[0] = 0x02; /* unicast to another host (promiscuous port) */
	assert_int_equal(run(&f), VIGIL_CTR_not_ip);
	f = arp_request(our4);
	f.b[6] = 0x01; /* multicast source */
	assert_int_equal(run(&f), VIGIL_CTR_not_ip);
}

static void test_echo4(void **state)
{
	struct frame f = echo4_request(our4), req = f;
	const uint8_t *ip = f.b + 14, *icmp = ip + 20;

	(void)state;
	assert_int_equal(run(&f), VIGIL_CTR_answered);
	assert_int_equal(f.len, 14 + 60);
	assert_eth_reply(&f, peer_mac);
	assert_memory_equal(ip + 12, our4, 4);
	assert_memory_equal(ip + 16, peer4, 4);
	assert_int_equal(fold(sum16(ip, 20, 0)), 0xffff);
	assert_int_equal(icmp[0], 0);
	assert_int_equal(fold(sum16(icmp, 40, 0)), 0xffff);
	assert_memory_equal(icmp + 4, req.b + 14 + 24, 36); /* identifier, sequence, data */

	f = echo4_request(other4);
	assert_int_equal(run(&f), VIGIL_CTR_not_udp);
	f = echo4_request(our4);
	f.b[14 + 20 + 8] ^= 1; /* ICMP checksum */
	assert_int_equal(run(&f), VIGIL_CTR_malformed);
	f = echo4_request(our4);
	f.b[6] = 0x02;
	f.b[11] = 0x09; /* unicast to us from another MAC: fine */
	assert_int_equal(run(&f), VIGIL_CTR_answered);
	f = echo4_request(our4);
	f.b[5] = 0x09; /* to another host's MAC */
	assert_int_equal(run(&f), VIGIL_CTR_not_udp);
}

static void test_echo6(void **state)
{
	struct frame f = echo6_request(our6);
	const uint8_t *ip = f.b + 14, *icmp = ip + 40;

	(void)state;
	assert_int_equal(run(&f), VIGIL_CTR_answered);
	assert_int_equal(f.len, 14 + 40 + 29);
	assert_eth_reply(&f, peer_mac);
	assert_memory_equal(ip + 8, our6, 16);
	assert_memory_equal(ip + 24, peer6, 16);
	assert_int_equal(icmp[0], 129);
	assert_int_equal(icmp6_sum(ip), 0xffff);

	f = echo6_request(other6);
	assert_int_equal(run(&f), VIGIL_CTR_not_udp);
	f = echo6_request(our6);
	f.b[14 + 40 + 10] ^= 0x80;
	assert_int_equal(run(&f), VIGIL_CTR_malformed);
}

static void test_solicit(void **state)
{
	struct frame f = solicitation(peer6, our6);
	const uint8_t *ip = f.b + 14, *icmp = ip + 40;

	(void)state;
	assert_int_equal(run(&f), VIGIL_CTR_answered);
	assert_int_equal(f.len, 14 + 40 + 32);
	assert_eth_reply(&f, peer_mac);
	assert_int_equal(ip[7], 255);
	assert_memory_equal(ip + 8, our6, 16);
	assert_memory_equal(ip + 24, peer6, 16);
	assert_int_equal(icmp[0], 136);
	assert_int_equal(icmp[4], 0x60); /* solicited, override */
	assert_memory_equal(icmp + 8, our6, 16);
	assert_memory_equal(icmp + 24, ((uint8_t[]){2, 1}), 2);
	assert_memory_equal(icmp + 26, our_mac, 6);
	assert_int_equal(icmp6_sum(ip), 0xffff);

	/* Also to our unicast address. */
	f = solicitation(peer6, our6);
	memcpy(f.b + 14 + 24, our6, 16);
	memcpy(f.b, our_mac, 6);
	seal6(&f);
	assert_int_equal(run(&f), VIGIL_CTR_answered);

	/* DAD for our address: defended, to all nodes, not solicited; the
	 * reply grows by the option. */
	f = solicitation(unspec6, our6);
	assert_int_equal(f.len, 14 + 40 + 24);
	assert_int_equal(run(&f), VIGIL_CTR_answered);
	assert_int_equal(f.len, 14 + 40 + 32);
	assert_eth_reply(&f, (const uint8_t[6]){0x33, 0x33, 0, 0, 0, 1});
	assert_memory_equal(ip + 24, ((uint8_t[16]){0xff, 0x02, [15] = 1}), 16);
	assert_int_equal(icmp[4], 0x20);
	assert_int_equal(icmp6_sum(ip), 0xffff);

	f = solicitation(peer6, other6);
	assert_int_equal(run(&f), VIGIL_CTR_not_udp);
	f = solicitation(peer6, our6);
	f.b[14 + 39] ^= 1; /* another solicited-node group */
	seal6(&f);
	assert_int_equal(run(&f), VIGIL_CTR_not_udp);
	f = solicitation(peer6, our6);
	f.b[14 + 7] = 64; /* hop limit: came through a router */
	assert_int_equal(run(&f), VIGIL_CTR_malformed);
	f = solicitation(peer6, our6);
	f.b[14 + 40 + 25] = 0; /* option of length 0 */
	seal6(&f);
	assert_int_equal(run(&f), VIGIL_CTR_malformed);
	f = solicitation(peer6, our6);
	f.b[14 + 40 + 25] = 2; /* option past the end */
	seal6(&f);
	assert_int_equal(run(&f), VIGIL_CTR_malformed);
	f = solicitation(peer6, our6);
	f.b[14 + 40 + 2] ^= 1;
	assert_int_equal(run(&f), VIGIL_CTR_malformed);
}

/* Only the families with addresses are answered. */
static void test_families(void **state)
{
	struct vigil_config v6only = {.n_ipv6 = 1};
	struct vigil_neigh saved = nb;
	struct rte_ether_addr mac;
	struct frame f;

	(void)state;
	memcpy(v6only.ipv6[0], our6, 16);
	memcpy(mac.addr_bytes, our_mac, 6);
	vigil_neigh_init(&nb, &v6only, &mac);
	f = arp_request(our4);
	assert_int_equal(run(&f), VIGIL_CTR_not_ip);
	f = echo4_request(our4);
	assert_int_equal(run(&f), VIGIL_CTR_not_udp);
	f = echo6_request(our6);
	assert_int_equal(run(&f), VIGIL_CTR_answered);
	nb = saved;
}

/* Every byte of every request flipped in turn: either no reply, or a reply
 * whose checksums hold and that goes from us back to the sender. */
static void test_flip_every_byte(void **state)
{
	struct frame reqs[] = {arp_request(our4), echo4_request(our4), echo6_request(our6),
			       solicitation(peer6, our6), solicitation(unspec6, our6)};

	(void)state;
	for (size_t r = 0; r < sizeof(reqs) / sizeof(reqs[0]); r++) {
		for (size_t i = 0; i < reqs[r].len; i++) {
			for (int bit = 0; bit < 8; bit += 7) {
				struct frame f = reqs[r];
				const uint8_t *ip = f.b + 14;

				f.b[i] ^= (uint8_t)(1 << bit);
				if (run(&f) != VIGIL_CTR_answered)
					continue;
				assert_memory_equal(f.b + 6, our_mac, 6);
				if (f.b[13] == 0x00) /* IPv4 */
					assert_int_equal(fold(sum16(ip, 20, 0)), 0xffff);
				if (f.b[13] == 0x00)
					assert_int_equal(fold(sum16(ip + 20, f.len - 34, 0)), 0xffff);
				if (f.b[13] == 0xdd)
					assert_int_equal(icmp6_sum(ip), 0xffff);
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arp),
		cmocka_unit_test(test_echo4),
		cmocka_unit_test(test_echo6),
		cmocka_unit_test(test_solicit),
		cmocka_unit_test(test_families),
		cmocka_unit_test(test_flip_every_byte),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
