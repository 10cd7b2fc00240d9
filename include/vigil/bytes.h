/* SPDX-License-Identifier: MIT */
/* Big-endian (network order) fields of headers on the wire: RTP, SRTP
 * IVs, UDP and IP in generators. The compiler makes each a load or store
 * and a byte swap. */
#ifndef VIGIL_BYTES_H
#define VIGIL_BYTES_H

#include <stdint.h>

static inline uint16_t vigil_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t vigil_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void vigil_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void vigil_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint64_t vigil_get64(const uint8_t *p)
{
	return (uint64_t)vigil_get32(p) << 32 | vigil_get32(p + 4);
}

static inline void vigil_put64(uint8_t *p, uint64_t v)
{
	vigil_put32(p, (uint32_t)(v >> 32));
	vigil_put32(p + 4, (uint32_t)v);
}

#endif
