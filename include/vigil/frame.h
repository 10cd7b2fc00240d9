/* SPDX-License-Identifier: MIT */
/* A complete access unit, as handed from a worker to the recorder through
 * a frame ring. The payload is written once, by the depacketizer, as
 * Annex-B (start code before every NAL unit), and read once by the muxer. */
#ifndef VIGIL_FRAME_H
#define VIGIL_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define VIGIL_FRAME_KEY 0x1u /* IDR (H.264) or IRAP (H.265) access unit */

struct vigil_frame {
	uint32_t camera;   /* index into vigil_config.cameras */
	uint32_t flags;    /* VIGIL_FRAME_* */
	uint32_t rtp_ts;   /* RTP timestamp of the access unit, 90 kHz */
	uint32_t len;      /* bytes used in data */
	uint32_t cap;      /* bytes available in data */
	uint32_t _pad;
	uint64_t arrival_ns; /* wall clock when its first packet arrived */
	uint8_t data[];
};

/* A fixed set of frame buffers, lock-free: workers take, the recorder
 * gives back. Memory is reserved up front and committed as it is touched. */
struct vigil_frame_pool;

struct vigil_frame_pool *vigil_frame_pool_create(const char *name, unsigned count, size_t frame_bytes);
void vigil_frame_pool_free(struct vigil_frame_pool *pool);
/* NULL when every buffer is in use. */
struct vigil_frame *vigil_frame_get(struct vigil_frame_pool *pool);
void vigil_frame_put(struct vigil_frame_pool *pool, struct vigil_frame *f);
unsigned vigil_frame_pool_available(const struct vigil_frame_pool *pool);

#endif
