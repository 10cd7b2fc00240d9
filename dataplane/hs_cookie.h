/* SPDX-License-Identifier: MIT */
/* Which handshake initiations prove their source address (docs/handshake.md,
 * mac2): the worker checks it as it passes handshake packets on, so that
 * initiations carrying a valid cookie take a ring of their own, which a
 * flood from spoofed addresses cannot fill. The control plane owns the
 * cookie secret and publishes each new one here; workers read it under a
 * sequence count, taking no lock. */
#ifndef VIGIL_HS_COOKIE_H
#define VIGIL_HS_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parse.h"

#define VIGIL_HS_COOKIE_SECRET_LEN 32
/* What a cookie is bound to: the address (IPv4: 12 zero bytes, then its 4
 * bytes) and the UDP port, big-endian, as the packet came. */
#define VIGIL_HS_SOURCE_LEN 18

/* The published secret: in the control plane's locked memory, read-only to
 * the workers. seq is odd while a new secret is written. */
struct vigil_hs_cookie {
	uint32_t seq;
	uint8_t secret[VIGIL_HS_COOKIE_SECRET_LEN];
};

void vigil_hs_source(const struct vigil_udp *udp, uint8_t src[VIGIL_HS_SOURCE_LEN]);

/* The control plane, after each rotation of the secret. */
void vigil_hs_cookie_publish(struct vigil_hs_cookie *c, const uint8_t secret[VIGIL_HS_COOKIE_SECRET_LEN]);

/* msg (a UDP payload from src) is an initiation whose mac2 is the MAC of
 * the current cookie of src: its sender receives at that address. An
 * initiation without mac2 (zero) costs one comparison, any other two
 * BLAKE2b. */
bool vigil_hs_cookie_proven(const struct vigil_hs_cookie *c, const uint8_t *msg, size_t len,
			    const uint8_t src[VIGIL_HS_SOURCE_LEN]);

#endif
