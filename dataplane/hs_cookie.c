/* SPDX-License-Identifier: MIT */
/* Cookies as the data plane checks them (hs_cookie.h). The wire layout and
 * the MACs are docs/handshake.md's; proto/handshake.c computes the same ones
 * as the responder does, and tests/unit/test_cameras.c checks that both
 * agree. */
#include <string.h>

#include <sodium.h>

#include "handshake.h" /* the wire layout only: no code of libvigilcam is linked */
#include "hs_cookie.h"

_Static_assert(VIGIL_HS_COOKIE_LEN == VIGIL_HS_MAC_LEN, "a cookie keys BLAKE2b-128");

void vigil_hs_source(const struct vigil_udp *udp, uint8_t src[VIGIL_HS_SOURCE_LEN])
{
	memset(src, 0, VIGIL_HS_SOURCE_LEN);
	if (udp->ipv6)
		memcpy(src, udp->saddr.v6, 16);
	else
		memcpy(src + 12, &udp->saddr.v4, 4);
	src[16] = (uint8_t)(udp->sport >> 8);
	src[17] = (uint8_t)udp->sport;
}

void vigil_hs_cookie_publish(struct vigil_hs_cookie *c, const uint8_t secret[VIGIL_HS_COOKIE_SECRET_LEN])
{
	uint32_t seq = __atomic_load_n(&c->seq, __ATOMIC_RELAXED);

	__atomic_store_n(&c->seq, seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	memcpy(c->secret, secret, VIGIL_HS_COOKIE_SECRET_LEN);
	__atomic_store_n(&c->seq, seq + 2, __ATOMIC_RELEASE);
}

bool vigil_hs_cookie_proven(const struct vigil_hs_cookie *c, const uint8_t *msg, size_t len,
			    const uint8_t src[VIGIL_HS_SOURCE_LEN])
{
	uint8_t cookie[VIGIL_HS_COOKIE_LEN], mac[VIGIL_HS_MAC_LEN];
	uint32_t seq;
	bool ok;

	if (len != VIGIL_HS_INITIATION_LEN || msg[0] != VIGIL_HS_TYPE_INITIATION ||
	    sodium_is_zero(msg + VIGIL_HS_INITIATION_MAC2_OFF, VIGIL_HS_MAC_LEN))
		return false;
	/* The cookie of src under the secret as it stands. While a new one is
	 * being written (every two minutes) the packet is simply not taken as
	 * proven: the worker never waits for the control plane. */
	seq = __atomic_load_n(&c->seq, __ATOMIC_ACQUIRE);
	if (seq & 1)
		return false;
	crypto_generichash(cookie, sizeof(cookie), src, VIGIL_HS_SOURCE_LEN, c->secret,
			   VIGIL_HS_COOKIE_SECRET_LEN);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (__atomic_load_n(&c->seq, __ATOMIC_RELAXED) != seq) {
		sodium_memzero(cookie, sizeof(cookie));
		return false;
	}
	crypto_generichash(mac, sizeof(mac), msg, VIGIL_HS_INITIATION_MAC2_OFF, cookie, sizeof(cookie));
	ok = crypto_verify_16(mac, msg + VIGIL_HS_INITIATION_MAC2_OFF) == 0;
	sodium_memzero(cookie, sizeof(cookie));
	return ok;
}
