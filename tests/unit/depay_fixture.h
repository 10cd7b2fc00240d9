/* SPDX-License-Identifier: MIT */
/* What the H.264 and H.265 depacketizer tests share: a stream with a small
 * frame pool whose emitted frames are kept for inspection, and the runner
 * of table scenarios (packets in; exact frames and counters out). Define
 * FX_CODEC before including it. */
#ifndef VIGIL_TEST_DEPAY_FIXTURE_H
#define VIGIL_TEST_DEPAY_FIXTURE_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "depay.h"

#define POOL_FRAMES 4
#define FRAME_BYTES 4096
#define MAX_OUT 8

struct fx {
	struct vigil_frame_pool *pool;
	struct vigil_counters ctr;
	struct vigil_depay_env env;
	struct vigil_depay d;
	bool hold; /* keep emitted frames (a recorder that is behind) */
	struct vigil_frame *held[MAX_OUT];
	unsigned n_out;
	struct vigil_frame out[MAX_OUT];
	uint8_t out_data[MAX_OUT][FRAME_BYTES];
};

static void emit(void *arg, struct vigil_frame *f)
{
	struct fx *fx = arg;

	assert_true(fx->n_out < MAX_OUT);
	fx->out[fx->n_out] = *f;
	memcpy(fx->out_data[fx->n_out], f->data, f->len);
	if (fx->hold)
		fx->held[fx->n_out] = f;
	else
		vigil_frame_put(fx->pool, f);
	fx->n_out++;
}

static void fx_init(struct fx *fx, unsigned frames, size_t frame_bytes, size_t max_frame_bytes)
{
	memset(fx, 0, sizeof(*fx));
	fx->pool = vigil_frame_pool_create("test_depay", frames, frame_bytes);
	assert_non_null(fx->pool);
	fx->env = (struct vigil_depay_env){.pool = fx->pool,
					   .ctr = &fx->ctr,
					   .emit = emit,
					   .emit_arg = fx,
					   .camera = 7,
					   .max_frame_bytes = max_frame_bytes};
	vigil_depay_init(&fx->d, FX_CODEC);
}

/* Every buffer must be back in the pool once nothing holds one. */
static void fx_fini(struct fx *fx, unsigned frames)
{
	fx->hold = false;
	vigil_depay_flush(&fx->d, &fx->env);
	for (unsigned i = 0; i < fx->n_out; i++)
		if (fx->held[i] != NULL)
			vigil_frame_put(fx->pool, fx->held[i]);
	assert_int_equal(vigil_frame_pool_available(fx->pool), frames);
	vigil_frame_pool_free(fx->pool);
}

static void push(struct fx *fx, uint64_t idx, uint32_t ts, bool m, const uint8_t *p, size_t len)
{
	vigil_depay_push(&fx->d, &fx->env, idx, ts, m, p, len, 1000 * idx);
}

#define BYTES(...) (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})
#define P(i, t, mk, ...) {.idx = (i), .ts = (t), .m = (mk), .len = sizeof((uint8_t[]){__VA_ARGS__}), .b = {__VA_ARGS__}}
#define F(t, fl, ...) {.ts = (t), .flags = (fl), .len = sizeof((uint8_t[]){__VA_ARGS__}), .b = {__VA_ARGS__}}
#define S(...) {.len = sizeof((uint8_t[]){__VA_ARGS__}), .b = {__VA_ARGS__}}
#define KEY VIGIL_FRAME_KEY
#define C(name) [VIGIL_CTR_##name]

struct scenario {
	const char *name;
	size_t max_frame_bytes; /* 0: FRAME_BYTES */
	bool flush;
	struct {
		uint8_t len; /* 0 ends the list */
		uint8_t b[8];
	} seed[3]; /* given to vigil_depay_seed_params first, as from the SDP */
	struct {
		uint64_t idx;
		uint32_t ts;
		bool m;
		uint8_t len; /* 0 ends the list */
		uint8_t b[40];
	} pkts[10];
	struct {
		uint32_t ts, flags;
		uint8_t len; /* 0 ends the list */
		uint8_t b[64];
	} frames[5];
	uint64_t ctr[VIGIL_CTR_MAX];
};


static void run(const struct scenario *s)
{
	struct fx fx;
	size_t max = s->max_frame_bytes ? s->max_frame_bytes : FRAME_BYTES;
	unsigned n = 0;

	fx_init(&fx, POOL_FRAMES, FRAME_BYTES, max);
	for (unsigned i = 0; i < 3 && s->seed[i].len; i++)
		if (vigil_depay_seed_params(&fx.d, s->seed[i].b, s->seed[i].len) != 0)
			fail_msg("%s: seed %u refused", s->name, i);
	for (unsigned i = 0; i < 10 && s->pkts[i].len; i++)
		push(&fx, s->pkts[i].idx, s->pkts[i].ts, s->pkts[i].m, s->pkts[i].b, s->pkts[i].len);
	if (s->flush)
		vigil_depay_flush(&fx.d, &fx.env);
	while (n < 5 && s->frames[n].len)
		n++;
	if (fx.n_out != n)
		fail_msg("%s: %u frames, want %u", s->name, fx.n_out, n);
	for (unsigned i = 0; i < n; i++) {
		if (fx.out[i].len != s->frames[i].len || memcmp(fx.out_data[i], s->frames[i].b, fx.out[i].len) ||
		    fx.out[i].rtp_ts != s->frames[i].ts || fx.out[i].flags != s->frames[i].flags)
			fail_msg("%s: frame %u differs (len %u ts %u flags %u)", s->name, i, fx.out[i].len,
				 fx.out[i].rtp_ts, fx.out[i].flags);
	}
	for (unsigned i = 0; i < VIGIL_CTR_MAX; i++)
		if (fx.ctr.v[i] != s->ctr[i])
			fail_msg("%s: %s = %llu, want %llu", s->name, vigil_counter_names[i],
				 (unsigned long long)fx.ctr.v[i], (unsigned long long)s->ctr[i]);
	fx_fini(&fx, POOL_FRAMES);
}

#endif
