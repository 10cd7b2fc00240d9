/* SPDX-License-Identifier: MIT */
/* libFuzzer target: input is [u16 BE length][RTP packet] records, run
 * through the RTP checks and both depacketizers. Nothing may be read or
 * written out of bounds, and every frame buffer must come back to the pool. */
#include <stdlib.h>
#include <string.h>

#include "depay.h"
#include "rtp.h"

#define POOL_FRAMES 3 /* fewer than two streams can hold: exhaustion happens */
#define MAX_FRAME (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
	struct vigil_frame_pool *pool;
	struct vigil_frame *held; /* the last frame, kept like a slow recorder */
	uint32_t camera;
};

static void emit(void *arg, struct vigil_frame *f)
{
	struct sink *s = arg;
	static const uint8_t start_code[4] = {0, 0, 0, 1};

	if (f->camera != s->camera || f->len < 5 || f->len > MAX_FRAME || f->len > f->cap ||
	    memcmp(f->data, start_code, 4) != 0 || (f->flags & ~VIGIL_FRAME_KEY) != 0)
		abort();
	if (s->held != NULL)
		vigil_frame_put(s->pool, s->held);
	s->held = f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vigil_frame_pool *pool;
	struct vigil_counters ctr = {0};
	struct sink sinks[2];
	struct vigil_depay_env env[2];
	struct vigil_depay d[2];
	uint64_t top = UINT64_C(1) << 32; /* highest index, RFC 3711 style */
	bool have = false;

	if (pool == NULL && (pool = vigil_frame_pool_create("fuzz_depay", POOL_FRAMES, MAX_FRAME)) == NULL)
		abort();
	for (int i = 0; i < 2; i++) {
		sinks[i] = (struct sink){.pool = pool, .camera = (uint32_t)i};
		env[i] = (struct vigil_depay_env){.pool = pool,
						  .ctr = &ctr,
						  .emit = emit,
						  .emit_arg = &sinks[i],
						  .camera = (uint32_t)i,
						  .max_frame_bytes = MAX_FRAME};
		vigil_depay_init(&d[i], i ? VIGIL_CODEC_H265 : VIGIL_CODEC_H264);
	}
	while (size >= 2) {
		size_t len = (size_t)(data[0] << 8 | data[1]);
		struct vigil_rtp rtp;
		uint8_t *pkt;
		uint64_t index;
		int plen;

		if (len > size - 2)
			break;
		/* A private copy so ASan sees the exact end of the packet. */
		pkt = malloc(len ? len : 1);
		memcpy(pkt, data + 2, len);
		data += 2 + len;
		size -= 2 + len;
		(void)vigil_rtp_is_rtcp(pkt, len);
		if (vigil_rtp_parse(pkt, len, 0, &rtp) == 0 &&
		    (plen = vigil_rtp_strip_padding(&rtp, pkt + rtp.hdr_len, len - rtp.hdr_len)) >= 0) {
			if ((size_t)plen > len - rtp.hdr_len)
				abort();
			index = have ? top + (uint64_t)(int16_t)(rtp.seq - (uint16_t)top) : top + rtp.seq;
			if (!have || index > top)
				top = index;
			have = true;
			for (int i = 0; i < 2; i++)
				vigil_depay_push(&d[i], &env[i], index, rtp.ts, rtp.marker, pkt + rtp.hdr_len,
						 (size_t)plen, index);
		}
		free(pkt);
	}
	for (int i = 0; i < 2; i++) {
		vigil_depay_flush(&d[i], &env[i]);
		if (d[i].frame != NULL || d[i].in_fu)
			abort();
		if (sinks[i].held != NULL)
			vigil_frame_put(pool, sinks[i].held);
	}
	if (vigil_frame_pool_available(pool) != POOL_FRAMES)
		abort();
	return 0;
}
