/* SPDX-License-Identifier: MIT */
/* What the H.264 and H.265 depacketizer tests share: a stream with a small
 * mbuf pool whose emitted frames are kept for inspection, and the runner
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

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>

#include "depay.h"

#define POOL_MBUFS 16
#define FRAME_BYTES 4096
#define MAX_OUT 8
/* What precedes an RTP payload in a received mbuf: Ethernet, IPv4, UDP
 * and RTP headers (the depacketizer writes start codes over them). */
#define WIRE_HDR (14 + 20 + 8 + 12)

/* A frame as emitted, copied out of its chain. */
struct fx_out {
	uint32_t camera, flags, rtp_ts, _pad;
	uint64_t arrival_ns;
	uint32_t len;
	uint16_t segs;
};

struct fx {
	struct rte_mempool *pool;
	unsigned n_mbufs;
	struct vigil_counters ctr;
	struct vigil_depay_env env;
	struct vigil_depay d;
	bool hold; /* keep emitted frames (a recorder that is behind) */
	struct rte_mbuf *held[MAX_OUT];
	unsigned n_out;
	struct fx_out out[MAX_OUT];
	uint8_t out_data[MAX_OUT][FRAME_BYTES];
};

static void fx_eal(const char *prog)
{
	char *args[] = {(char *)prog, "--no-huge", "--no-shconf", "-m", "64", "--no-pci", "-l", "0",
			"--log-level=*:error", NULL};

	if (rte_eal_init(RTE_DIM(args) - 1, args) < 0) {
		printf("Bail out! cannot start the EAL: %s\n", rte_strerror(rte_errno));
		exit(1);
	}
}

static void emit(void *arg, struct rte_mbuf *head)
{
	struct fx *fx = arg;
	const struct vigil_frame *f = vigil_frame_of(head);
	struct fx_out *o = &fx->out[fx->n_out];
	const void *bytes;

	assert_true(fx->n_out < MAX_OUT);
	assert_true(head->pkt_len <= FRAME_BYTES);
	*o = (struct fx_out){.camera = f->camera, .flags = f->flags, .rtp_ts = f->rtp_ts, ._pad = f->_pad,
			     .arrival_ns = f->arrival_ns, .len = head->pkt_len, .segs = head->nb_segs};
	bytes = rte_pktmbuf_read(head, 0, head->pkt_len, fx->out_data[fx->n_out]);
	assert_non_null(bytes);
	if (bytes != fx->out_data[fx->n_out])
		memcpy(fx->out_data[fx->n_out], bytes, head->pkt_len);
	if (fx->hold)
		fx->held[fx->n_out] = head;
	else
		rte_pktmbuf_free(head);
	fx->n_out++;
}

/* mbufs in the pool: the others are held by the depacketizer or by us. */
static unsigned fx_free_mbufs(const struct fx *fx)
{
	return rte_mempool_avail_count(fx->pool);
}

static void fx_init(struct fx *fx, unsigned mbufs, size_t max_frame_bytes)
{
	static unsigned n;
	char name[RTE_MEMPOOL_NAMESIZE];

	memset(fx, 0, sizeof(*fx));
	snprintf(name, sizeof(name), "fx%u", n++);
	/* No per-lcore cache: the count of free mbufs is exact. */
	fx->pool = rte_pktmbuf_pool_create(name, mbufs, 0, VIGIL_MBUF_PRIV_SIZE, RTE_MBUF_DEFAULT_BUF_SIZE,
					   SOCKET_ID_ANY);
	assert_non_null(fx->pool);
	fx->n_mbufs = mbufs;
	fx->env = (struct vigil_depay_env){.pool = fx->pool,
					   .ctr = &fx->ctr,
					   .emit = emit,
					   .emit_arg = fx,
					   .camera = 7,
					   .max_frame_bytes = max_frame_bytes};
	vigil_depay_init(&fx->d, FX_CODEC);
}

/* Every mbuf must be back in the pool once nothing holds one. */
static void fx_fini(struct fx *fx)
{
	fx->hold = false;
	vigil_depay_flush(&fx->d, &fx->env);
	for (unsigned i = 0; i < fx->n_out; i++)
		rte_pktmbuf_free(fx->held[i]);
	assert_int_equal(fx_free_mbufs(fx), fx->n_mbufs);
	rte_mempool_free(fx->pool);
}

/* The payload as it arrives: in an mbuf of the pool, after the headers. */
static void push_at(struct fx *fx, uint64_t idx, uint32_t ts, bool m, const uint8_t *p, size_t len, uint64_t now)
{
	struct rte_mbuf *mb = rte_pktmbuf_alloc(fx->pool);
	uint8_t *data;

	assert_non_null(mb);
	data = (uint8_t *)rte_pktmbuf_append(mb, (uint16_t)(WIRE_HDR + len));
	assert_non_null(data);
	memset(data, 0xee, WIRE_HDR);
	memcpy(data + WIRE_HDR, p, len);
	vigil_depay_push(&fx->d, &fx->env, idx, ts, m, mb, data + WIRE_HDR, len, now);
}

static void push(struct fx *fx, uint64_t idx, uint32_t ts, bool m, const uint8_t *p, size_t len)
{
	push_at(fx, idx, ts, m, p, len, 1000 * idx);
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


static inline void run(const struct scenario *s)
{
	struct fx fx;
	size_t max = s->max_frame_bytes ? s->max_frame_bytes : FRAME_BYTES;
	unsigned n = 0;

	fx_init(&fx, POOL_MBUFS, max);
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
	fx_fini(&fx);
}

#endif
