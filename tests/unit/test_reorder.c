/* SPDX-License-Identifier: MIT */
/* The reorder stage: a table of arrival orders with the exact order the
 * depacketizer gets and what is counted, time driven by hand, and every
 * mbuf back in its pool; then through the worker, with SRTP, to frames,
 * the payload type check after authentication, and the worker's pipeline
 * of two bursts in flight.
 * Runs on an EAL without hugepages. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "cryptodev.h"
#include "reorder.h"
#include "worker.h"

#define MAX_WAIT 20 /* TSC ticks, in these tests */
#define MAX_STEPS 32
#define W 65536 /* one sequence number wrap */
#define MAX_SEEN 256

static struct rte_mempool *mp;

/* What the depacketizer would see. */
struct seen {
	uint64_t order[MAX_SEEN];
	unsigned n;
	unsigned late; /* not above the last one: what depay counts `late` */
	bool have_last;
	uint64_t last;
};

static void deliver(void *arg, struct vigil_reorder *r, uint64_t index, const struct vigil_reorder_pkt *p)
{
	struct seen *s = arg;
	uint64_t in_payload;

	(void)r;
	/* The payload is this packet's, from an mbuf that is still ours. */
	assert_non_null(p->m);
	assert_int_equal(rte_mbuf_refcnt_read(p->m), 1);
	assert_int_equal(p->len, sizeof(in_payload));
	memcpy(&in_payload, p->payload, sizeof(in_payload));
	assert_int_equal(in_payload, index);
	assert_int_equal(p->ts, (uint32_t)index * 3000);
	rte_pktmbuf_free(p->m); /* delivered with its payload, as to the depacketizer */
	assert_true(s->n < MAX_SEEN);
	s->order[s->n++] = index;
	if (s->have_last && index <= s->last) {
		s->late++;
		return;
	}
	s->have_last = true;
	s->last = index;
}

/* One packet arrives at time t, as stage_depay hands it over; what the
 * stage did not take is freed, as the worker frees its burst. */
static void arrive(struct vigil_reorder_ctx *c, struct vigil_reorder *r, struct vigil_counters *ctr,
		   uint64_t index, uint64_t t, bool invalid)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
	uint8_t *data;

	assert_non_null(m);
	data = (uint8_t *)rte_pktmbuf_append(m, sizeof(index));
	memcpy(data, &index, sizeof(index));
	c->now_tsc = t;
	if (!vigil_reorder_push(c, r, ctr, index,
				&(struct vigil_reorder_pkt){.m = m,
							    .payload = invalid ? NULL : data,
							    .len = invalid ? 0 : sizeof(index),
							    .ts = (uint32_t)index * 3000,
							    .marker = true}))
		rte_pktmbuf_free(m);
}

enum op { END, PKT, BAD, TICK };

struct step {
	enum op op;
	uint64_t index;
	uint64_t t;
};

#define P(i) {PKT, (i), 0}
#define PT(i, t) {PKT, (i), (t)}
#define BAD(i) {BAD, (i), 0}
#define TICK(t) {TICK, 0, (t)}

struct reorder_case {
	const char *name;
	struct step steps[MAX_STEPS];
	uint64_t want[MAX_STEPS]; /* delivered, in order */
	unsigned n_want;
	unsigned reordered, late;
};

#define WANT(...) .want = {__VA_ARGS__}, .n_want = sizeof((uint64_t[]){__VA_ARGS__}) / sizeof(uint64_t)

static const struct reorder_case cases[] = {
	{"in order", {P(5), P(6), P(7), P(8)}, WANT(5, 6, 7, 8)},
	{"5,7,6: 7 waits for 6", {P(5), P(7), P(6), P(8)}, WANT(5, 6, 7, 8), .reordered = 1},
	{"5,8,7,6: two wait, both reordered ones counted", {P(5), P(8), P(7), P(6), P(9)},
	 WANT(5, 6, 7, 8, 9), .reordered = 2},
	{"two gaps filled one after the other", {P(4), P(8), P(6), P(5), P(7)}, WANT(4, 5, 6, 7, 8),
	 .reordered = 3},
	{"a packet older than one delivered is late", {P(5), P(6), P(4)}, WANT(5, 6, 4), .late = 1},
	{"the first packet starts the order", {P(100), P(99), P(101)}, WANT(100, 99, 101), .late = 1},
	{"loss given up when the slots fill; the straggler is late",
	 {P(5), P(7), P(8), P(9), P(10), P(11), P(12), P(13), P(14), P(6), P(15)},
	 WANT(5, 7, 8, 9, 10, 11, 12, 13, 14, 6, 15), .late = 1},
	{"loss given up when a packet comes more than SLOTS past the gap",
	 {P(5), P(7), P(8), P(20), P(6), P(21)}, WANT(5, 7, 8, 20, 6, 21), .late = 1},
	{"exactly SLOTS past the gap still waits", {P(5), P(14), P(6), P(7), P(8), P(9), P(10), P(11),
						     P(12), P(13)},
	 WANT(5, 6, 7, 8, 9, 10, 11, 12, 13, 14), .reordered = 8},
	{"... also while another packet waits", {P(5), P(7), P(14), P(6), P(8), P(9), P(10), P(11), P(12),
						  P(13)},
	 WANT(5, 6, 7, 8, 9, 10, 11, 12, 13, 14), .reordered = 7},
	{"after giving up, a packet within reach of the new gap waits",
	 {P(5), P(7), P(15), P(8), P(9), P(10), P(11), P(12), P(13), P(14)},
	 WANT(5, 7, 8, 9, 10, 11, 12, 13, 14, 15), .reordered = 7},
	{"a jump with nothing held is delivered at once", {P(5), P(40), P(41), P(6)}, WANT(5, 40, 41, 6),
	 .late = 1},
	{"the gap filled just before the deadline", {PT(5, 0), PT(7, 1), PT(8, 10), TICK(20), PT(6, 20)},
	 WANT(5, 6, 7, 8), .reordered = 1},
	{"loss given up at the deadline, no packet needed",
	 {PT(5, 0), PT(7, 1), PT(8, 10), TICK(21), PT(6, 21)}, WANT(5, 7, 8, 6), .late = 1},
	{"after a partial drain the deadline is the oldest still held",
	 {PT(5, 0), PT(7, 0), PT(9, 10), PT(6, 15), TICK(29), PT(8, 29)}, WANT(5, 6, 7, 8, 9),
	 .reordered = 2},
	{"... and passes", {PT(5, 0), PT(7, 0), PT(9, 10), PT(6, 15), TICK(30), PT(8, 30)},
	 WANT(5, 6, 7, 9, 8), .reordered = 1, .late = 1},
	{"sequence number wrap: the index goes on",
	 {P(W - 2), P(W), P(W - 1), P(W + 2), P(W + 1)}, WANT(W - 2, W - 1, W, W + 1, W + 2), .reordered = 2},
	{"many wraps later, across the slot ring's wrap too",
	 {P(7 * W + 65533), P(7 * W + 65536 + 1), P(7 * W + 65534), P(7 * W + 65535), P(7 * W + 65536)},
	 WANT(7 * W + 65533, 7 * W + 65534, 7 * W + 65535, 7 * W + 65536, 7 * W + 65537), .reordered = 3},
	{"an unusable payload in order: its absence is a gap", {P(5), BAD(6), P(7)}, WANT(5, 7)},
	{"an unusable payload held: it fills its place, not the depacketizer", {P(5), BAD(7), P(6), P(8)},
	 WANT(5, 6, 8), .reordered = 1},
	{"an unusable payload fills the gap", {P(5), P(7), BAD(6), P(8)}, WANT(5, 7, 8)},
	{"what is held at the end is delivered in order", {P(5), P(9), P(7)}, WANT(5, 7, 9)},
};

static void run_case(const struct reorder_case *tc)
{
	unsigned avail = rte_mempool_avail_count(mp);
	struct vigil_reorder_list list = {0};
	struct vigil_counters ctr = {0};
	struct vigil_reorder r;
	struct seen seen = {0};
	struct vigil_reorder_ctx c = {.list = &list, .deliver = deliver, .arg = &seen};

	/* A small window holds all the network reorders. */
	assert_int_equal(vigil_reorder_list_init(&list, 1, 0), 0);
	vigil_reorder_init(&r, VIGIL_REORDER_SLOTS, MAX_WAIT);
	for (const struct step *s = tc->steps; s < tc->steps + MAX_STEPS && s->op != END; s++) {
		if (s->op == TICK) {
			c.now_tsc = s->t;
			vigil_reorder_expire(&c);
		} else {
			arrive(&c, &r, &ctr, s->index, s->t, s->op == BAD);
		}
	}
	vigil_reorder_release_all(&c);

	print_message("# %s\n", tc->name);
	assert_int_equal(seen.n, tc->n_want);
	for (unsigned i = 0; i < tc->n_want; i++)
		if (seen.order[i] != tc->want[i])
			fail_msg("%s: delivery %u is %" PRIu64 ", want %" PRIu64, tc->name, i, seen.order[i],
				 tc->want[i]);
	assert_int_equal(ctr.v[VIGIL_CTR_reordered], tc->reordered);
	assert_int_equal(seen.late, tc->late);
	assert_int_equal(r.n_held, 0);
	assert_int_equal(list.n_held, 0);
	assert_true(LIST_EMPTY(&list.streams));
	assert_int_equal(rte_mempool_avail_count(mp), avail);
	vigil_reorder_list_free(&list);
}

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

/* The worker's list: only streams holding packets are on it; a leaving
 * one is released at the next check whatever its deadline; what the
 * control plane drops goes back to the pool. */
static void test_list(void **state)
{
	unsigned avail = rte_mempool_avail_count(mp);
	struct vigil_reorder_list list = {0};
	struct vigil_counters ctr = {0};
	struct vigil_reorder a, b, idle;
	struct seen seen = {0};
	struct vigil_reorder_ctx c = {.list = &list, .deliver = deliver, .arg = &seen};

	(void)state;
	assert_int_equal(vigil_reorder_list_init(&list, 2, 0), 0);
	vigil_reorder_init(&a, VIGIL_REORDER_SLOTS, MAX_WAIT);
	vigil_reorder_init(&b, VIGIL_REORDER_SLOTS, MAX_WAIT);
	vigil_reorder_init(&idle, VIGIL_REORDER_SLOTS, MAX_WAIT);
	arrive(&c, &idle, &ctr, 1, 0, false);
	arrive(&c, &idle, &ctr, 2, 0, false);
	arrive(&c, &a, &ctr, 10, 0, false);
	arrive(&c, &a, &ctr, 12, 0, false);
	arrive(&c, &a, &ctr, 13, 0, false);
	arrive(&c, &b, &ctr, 20, 0, false);
	arrive(&c, &b, &ctr, 22, 0, false);
	assert_int_equal(list.n_held, 3);
	assert_int_equal(rte_mempool_avail_count(mp), avail - 3);

	__atomic_store_n(&b.leaving, true, __ATOMIC_RELEASE);
	c.now_tsc = 1;
	vigil_reorder_expire(&c);
	assert_int_equal(seen.n, 5); /* 1, 2, 10, 20, then b's 22 */
	assert_int_equal(seen.order[4], 22);
	assert_int_equal(b.n_held, 0);
	assert_ptr_equal(LIST_FIRST(&list.streams), &a);
	assert_null(LIST_NEXT(&a, waiting));
	assert_int_equal(list.n_held, 2);

	/* No worker loop released a: the control plane frees it. */
	vigil_reorder_drop(&a);
	assert_true(LIST_EMPTY(&list.streams));
	assert_int_equal(list.n_held, 0);
	assert_int_equal(a.n_held, 0);
	assert_int_equal(rte_mempool_avail_count(mp), avail);
	vigil_reorder_drop(&idle); /* holds nothing: nothing happens */
	vigil_reorder_list_free(&list);
}

static unsigned free_windows(const struct vigil_reorder_list *l, bool large)
{
	const struct vigil_reorder_window *w;
	unsigned n = 0;

	SLIST_FOREACH(w, large ? &l->free_large : &l->free_small, free)
		n++;
	return n;
}

/* A stream holds in a small window while its gap is near, moves what it
 * holds to a large one to hold further (a retransmission's wait), and
 * gives it back when the gap fills; with no window left, a gap is not
 * waited for (hold_no_room) and delivery goes on over it. */
static void test_windows(void **state)
{
	unsigned avail = rte_mempool_avail_count(mp);
	struct vigil_reorder_list list = {0};
	struct vigil_counters ctr = {0};
	struct vigil_reorder rtx, other, third;
	struct seen seen = {0};
	struct vigil_reorder_ctx c = {.list = &list, .deliver = deliver, .arg = &seen};

	(void)state;
	assert_int_equal(vigil_reorder_list_init(&list, 1, 1), 0);
	vigil_reorder_init(&rtx, VIGIL_HOLD_WINDOW - 1, MAX_WAIT);
	vigil_reorder_init(&other, VIGIL_REORDER_SLOTS, MAX_WAIT);
	vigil_reorder_init(&third, VIGIL_REORDER_SLOTS, MAX_WAIT);
	arrive(&c, &rtx, &ctr, 10, 0, false);
	arrive(&c, &rtx, &ctr, 12, 0, false); /* 11 missing: a small window */
	assert_int_equal(free_windows(&list, false), 0);
	assert_int_equal(free_windows(&list, true), 1);
	arrive(&c, &rtx, &ctr, 100, 0, false); /* 89 past 11: moves to the large one */
	assert_int_equal(free_windows(&list, false), 1);
	assert_int_equal(free_windows(&list, true), 0);
	assert_int_equal(rtx.n_held, 2);
	assert_true(vigil_reorder_missing(&rtx, 11));
	assert_false(vigil_reorder_missing(&rtx, 12));
	assert_true(vigil_reorder_missing(&rtx, 99));
	assert_false(vigil_reorder_missing(&rtx, 100));

	/* Another stream's gap takes the small window back... */
	arrive(&c, &other, &ctr, 1, 0, false);
	arrive(&c, &other, &ctr, 3, 0, false);
	/* ...and a third's finds none: not waited for. */
	arrive(&c, &third, &ctr, 50, 0, false);
	arrive(&c, &third, &ctr, 52, 0, false);
	assert_int_equal(ctr.v[VIGIL_CTR_hold_no_room], 1);
	assert_int_equal(third.n_held, 0);
	assert_int_equal(seen.n, 4); /* 10, 1, 50, 52 */
	assert_int_equal(seen.order[3], 52);

	/* The gaps fill: everything in order, the windows back. */
	arrive(&c, &other, &ctr, 2, 0, false);
	for (uint64_t i = 11; i < 100; i++)
		if (i != 12)
			arrive(&c, &rtx, &ctr, i, 0, false);
	assert_int_equal(seen.n, 4 + 2 + 90);
	assert_int_equal(seen.order[4], 2);
	assert_int_equal(seen.order[5], 3);
	for (unsigned i = 0; i < 90; i++)
		assert_int_equal(seen.order[6 + i], 11 + i);
	assert_int_equal(ctr.v[VIGIL_CTR_reordered], 1 + 88); /* 2, and 11 to 99: each came after a later one */
	assert_true(LIST_EMPTY(&list.streams));
	assert_int_equal(list.n_held, 0);
	assert_int_equal(free_windows(&list, false), 1);
	assert_int_equal(free_windows(&list, true), 1);
	assert_int_equal(rte_mempool_avail_count(mp), avail);
	vigil_reorder_list_free(&list);
}

/* Packet `index` of a stream where every frame is a key frame in three packets:
 * STAP-A (SPS, PPS), then the IDR in two FU-A fragments; cc CSRCs in its
 * header. */
/* As sent (ssrc, pt, index), its payload original's: RTP's, or with
 * rtx_osn >= 0 an RFC 4588 RTX packet of original index orig. */
static struct rte_mbuf *make_packet(const struct vigil_srtp *key, uint32_t ssrc, uint8_t pt, uint64_t index,
				    unsigned cc, uint64_t orig, bool rtx);

static struct rte_mbuf *srtp_packet_cc(const struct vigil_srtp *key, uint32_t ssrc, uint64_t index, unsigned cc)
{
	return make_packet(key, ssrc, 96, index, cc, index, false);
}

static struct rte_mbuf *make_packet(const struct vigil_srtp *key, uint32_t ssrc, uint8_t pt, uint64_t index,
				    unsigned cc, uint64_t orig, bool rtx)
{
	static const uint8_t stap[] = {24, 0, 10, 0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00, 0xa0, 0x47, 0xfe, 0xc8,
				       0, 4, 0x68, 0xce, 0x3c, 0x80};
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
	unsigned part = (unsigned)(orig % 3), osn = rtx ? 2 : 0;
	uint8_t *b, *ip, *rtp;
	size_t n = (part == 0 ? sizeof(stap) : 64) + osn;
	int len;

	assert_non_null(m);
	b = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(14 + 20 + 8 + 12 + 4 * cc + 66 + VIGIL_SRTP_TAG_LEN));
	memset(b, 0, 14 + 20 + 8 + 12 + 4 * cc);
	b[12] = 0x08;
	ip = b + 14;
	rtp = ip + 28;
	rtp[0] = (uint8_t)(0x80 | cc);
	rtp[1] = (uint8_t)(pt | (part == 2 ? 0x80 : 0));
	rtp[2] = (uint8_t)(index >> 8);
	rtp[3] = (uint8_t)index;
	memcpy(rtp + 4, &(uint32_t){rte_cpu_to_be_32((uint32_t)(orig / 3 * 3000))}, 4);
	memcpy(rtp + 8, &(uint32_t){rte_cpu_to_be_32(ssrc)}, 4);
	if (rtx) {
		rtp[12 + 4 * cc] = (uint8_t)(orig >> 8);
		rtp[13 + 4 * cc] = (uint8_t)orig;
	}
	if (part == 0) {
		memcpy(rtp + 12 + 4 * cc + osn, stap, sizeof(stap));
	} else {
		uint8_t *fu = rtp + 12 + 4 * cc + osn;

		memset(fu, 0x5a, n - osn);
		fu[0] = 0x60 | 28;
		fu[1] = (uint8_t)(5 | (part == 1 ? 0x80 : 0x40));
		fu[2] = 0x88;
	}
	len = vigil_srtp_encrypt(key, rtp, 12 + 4 * cc + n, 12 + 4 * cc, ssrc, (uint32_t)(index >> 16),
				 (uint16_t)index);
	assert_true(len > 0);
	ip[0] = 0x45;
	ip[2] = (uint8_t)((28 + len) >> 8);
	ip[3] = (uint8_t)(28 + len);
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, (uint8_t[]){198, 18, 0, 2, 198, 18, 0, 1}, 8);
	memcpy(ip + 10, &(uint16_t){rte_ipv4_cksum((const struct rte_ipv4_hdr *)ip)}, 2);
	/* UDP 40000 -> 5004 */
	memcpy(ip + 20, (uint8_t[]){0x9c, 0x40, 0x13, 0x8c, (uint8_t)((8 + len) >> 8), (uint8_t)(8 + len)},
	       6);
	rte_pktmbuf_trim(m, (uint16_t)(12 + 4 * cc + 66 + VIGIL_SRTP_TAG_LEN - len));
	return m;
}

static struct rte_mbuf *srtp_packet(const struct vigil_srtp *key, uint32_t ssrc, uint64_t index)
{
	return srtp_packet_cc(key, ssrc, index, 0);
}

/* A lone worker with a table of room for 4 cameras, its frames on a ring
 * no recorder reads; the mbufs in the pool when it was set up. */
struct worker_fixture {
	struct vigil_config cfg;
	struct vigil_frame_ring fr;
	struct vigil_frame_ring *frp;
	struct vigil_worker w;
	unsigned avail;
};

static void worker_setup(struct worker_fixture *f, const char *name, const struct vigil_camera_config *cams,
			 unsigned n)
{
	memset(f, 0, sizeof(*f));
	f->avail = rte_mempool_avail_count(mp);
	f->fr = (struct vigil_frame_ring){.ring = rte_ring_create(name, 16, 0, 0), .max_segs = 64};
	assert_non_null(f->fr.ring);
	f->frp = &f->fr;
	f->cfg.srtp_ports[5004 >> 3] = 1u << (5004 & 7);
	f->w.cfg = &f->cfg;
	f->w.frames = &f->frp;
	f->w.n_recorders = 1;
	f->w.tsc_hz = rte_get_tsc_hz();
	assert_int_equal(vigil_reorder_list_init(&f->w.reorder, 2, 2), 0);
	f->w.streams = vigil_stream_table_create(name, 4, 1, 1, 1 << 16, mp, &f->frp);
	assert_non_null(f->w.streams);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(vigil_stream_add(f->w.streams, &cams[i], i, NULL), 0);
}

/* Every mbuf back in the pool once the frames are done with. */
static void worker_teardown(struct worker_fixture *f)
{
	vigil_frame_ring_drain(&f->fr);
	vigil_stream_table_free(f->w.streams);
	assert_int_equal(rte_mempool_avail_count(mp), f->avail);
	rte_ring_free(f->fr.ring);
}

/* Reordered SRTP through the whole worker: no frame lost, nothing late;
 * a stream removed while holding a packet and an open frame gives their
 * mbufs back. */
static void test_worker(void **state)
{
	static const uint64_t order[] = {0, 1, 2, 3, 5, 4, 8, 6, 7, 9, 11, 10};
	static struct worker_fixture f;
	struct vigil_camera_config cam = {.ssrc = 0x1234567, .codec = VIGIL_CODEC_H264,
					  .master_key = {1, 2, 3}, .payload_types = {0, UINT64_C(1) << (96 - 64)}};
	struct vigil_counters retired = {0};
	struct rte_mbuf *pkts[RTE_DIM(order)];
	struct vigil_worker *w = &f.w;
	struct vigil_frame_ring *fr = &f.fr;
	unsigned avail;
	struct vigil_stream *s;

	(void)state;
	if (vigil_srtp_available() < 0)
		skip();
	worker_setup(&f, "test_reorder", &cam, 1);
	avail = f.avail;
	s = w->streams->slots[0];

	for (unsigned i = 0; i < RTE_DIM(order); i++)
		pkts[i] = srtp_packet(&s->key->rtp, cam.ssrc, order[i]);
	vigil_worker_process(w, pkts, RTE_DIM(order));
	rte_pktmbuf_free_bulk(pkts, RTE_DIM(order));
	assert_int_equal(s->ctr.v[VIGIL_CTR_decrypted], RTE_DIM(order));
	assert_int_equal(s->ctr.v[VIGIL_CTR_frames_enqueued], 4);
	assert_int_equal(s->ctr.v[VIGIL_CTR_reordered], 4);
	assert_int_equal(s->ctr.v[VIGIL_CTR_late] + s->ctr.v[VIGIL_CTR_frame_incomplete], 0);
	/* The frames hold their packets' mbufs until the recorder is done. */
	assert_int_equal(vigil_frame_ring_segs(fr), RTE_DIM(order));
	assert_int_equal(rte_mempool_avail_count(mp), avail - RTE_DIM(order));
	vigil_frame_ring_drain(fr);
	assert_int_equal(vigil_frame_ring_segs(fr), 0);
	assert_int_equal(rte_mempool_avail_count(mp), avail);

	/* 14 waits for 13; the stream goes before it comes. */
	pkts[0] = srtp_packet(&s->key->rtp, cam.ssrc, 12);
	pkts[1] = srtp_packet(&s->key->rtp, cam.ssrc, 14);
	vigil_worker_process(w, pkts, 2);
	rte_pktmbuf_free_bulk(pkts, 2);
	assert_int_equal(w->reorder.n_held, 1);
	assert_int_equal(rte_mempool_avail_count(mp), avail - 2); /* 12 in the open frame, 14 held */
	assert_int_equal(vigil_stream_remove(w->streams, 0, &retired), 0);
	assert_true(LIST_EMPTY(&w->reorder.streams));
	assert_int_equal(w->reorder.n_held, 0);
	assert_int_equal(rte_mempool_avail_count(mp), avail);

	worker_teardown(&f);
}

/* RFC 4588 retransmission through the worker: an RTX packet fills the gap
 * its original left (retransmitted, the frame whole), and each other case
 * ends in one outcome: the same RTX again (replayed, by its own index), a
 * new RTX for a number no longer missing or never sent (rtx_unwanted), the
 * late original (replayed), another payload type, a forgery. The gap was
 * NACKed: with no TX queue here, counted feedback_limited. */
static void test_worker_rtx(void **state)
{
	static struct worker_fixture f;
	struct vigil_camera_config cam = {.ssrc = 0x3456789, .codec = VIGIL_CODEC_H264, .master_key = {7, 8, 9},
					  .payload_types = {0, UINT64_C(1) << (96 - 64)}, .has_rtx = true,
					  .rtx_ssrc = 0x3456788, .rtx_payload_type = 97};
	static const uint64_t first[] = {0, 1, 2, 3, 5};
	struct vigil_worker *w = &f.w;
	struct rte_mbuf *pkts[8];
	struct vigil_stream *s;
	const struct vigil_srtp *k;
	uint64_t outcomes = 0;

	(void)state;
	if (vigil_srtp_available() < 0)
		skip();
	worker_setup(&f, "test_rtx", &cam, 0);
	w->streams->retransmit_hold_ms = 200;
	assert_int_equal(vigil_stream_add(w->streams, &cam, 0, NULL), 0);
	s = w->streams->slots[0];
	k = &s->key->rtp;
	assert_true(s->feedback);

	for (unsigned i = 0; i < RTE_DIM(first); i++)
		pkts[i] = srtp_packet(k, cam.ssrc, first[i]);
	vigil_worker_process(w, pkts, RTE_DIM(first));
	rte_pktmbuf_free_bulk(pkts, RTE_DIM(first));
	assert_int_equal(s->ctr.v[VIGIL_CTR_frames_enqueued], 1);
	assert_int_equal(w->reorder.n_held, 1); /* 5 waits for 4 */
	assert_int_equal(s->ctr.v[VIGIL_CTR_feedback_limited], 1); /* 4 NACKed, nowhere to send it */

	pkts[0] = make_packet(k, cam.rtx_ssrc, 97, 100, 0, 4, true);
	vigil_worker_process(w, pkts, 1);
	rte_pktmbuf_free_bulk(pkts, 1);
	assert_int_equal(s->ctr.v[VIGIL_CTR_retransmitted], 1);
	assert_int_equal(s->ctr.v[VIGIL_CTR_frames_enqueued], 2);
	assert_int_equal(s->ctr.v[VIGIL_CTR_frame_incomplete], 0);
	assert_int_equal(w->reorder.n_held, 0);

	pkts[0] = make_packet(k, cam.rtx_ssrc, 97, 100, 0, 4, true); /* replayed RTX */
	pkts[1] = make_packet(k, cam.rtx_ssrc, 97, 101, 0, 4, true); /* 4 is not missing any more */
	pkts[2] = make_packet(k, cam.rtx_ssrc, 97, 102, 0, 50, true); /* never sent */
	pkts[3] = srtp_packet(k, cam.ssrc, 4);                       /* the original, late */
	pkts[4] = make_packet(k, cam.rtx_ssrc, 98, 103, 0, 7, true);  /* not the RTX payload type */
	pkts[5] = make_packet(k, cam.rtx_ssrc, 97, 104, 0, 7, true);
	rte_pktmbuf_mtod(pkts[5], uint8_t *)[14 + 28 + 14] ^= 1;     /* forged */
	vigil_worker_process(w, pkts, 6);
	rte_pktmbuf_free_bulk(pkts, 6);
	assert_int_equal(s->ctr.v[VIGIL_CTR_retransmitted], 1);
	assert_int_equal(s->ctr.v[VIGIL_CTR_replayed], 2);
	assert_int_equal(s->ctr.v[VIGIL_CTR_rtx_unwanted], 2);
	assert_int_equal(s->ctr.v[VIGIL_CTR_payload_type], 1);
	assert_int_equal(s->ctr.v[VIGIL_CTR_auth_failed], 1);
	assert_int_equal(s->ctr.v[VIGIL_CTR_frames_enqueued], 2);
	for (unsigned i = 0; i < VIGIL_CTR_MAX; i++)
		if (i == VIGIL_CTR_decrypted || i == VIGIL_CTR_retransmitted || i == VIGIL_CTR_replayed ||
		    i == VIGIL_CTR_rtx_unwanted || i == VIGIL_CTR_payload_type || i == VIGIL_CTR_auth_failed)
			outcomes += s->ctr.v[i];
	assert_int_equal(s->ctr.v[VIGIL_CTR_rx_packets], outcomes);
	assert_int_equal(s->ctr.v[VIGIL_CTR_rx_packets], 12);

	worker_teardown(&f);
}

/* Three packets of a stream: idx, idx + 1, then idx + 3 (idx + 2 lost). */
static void send_gap(struct vigil_worker *w, const struct vigil_srtp *k, uint32_t ssrc, uint64_t idx)
{
	struct rte_mbuf *pkts[3] = {srtp_packet(k, ssrc, idx), srtp_packet(k, ssrc, idx + 1),
				    srtp_packet(k, ssrc, idx + 3)};

	vigil_worker_process(w, pkts, 3);
	rte_pktmbuf_free_bulk(pkts, 3);
}

/* A camera with RtxSSRC that never retransmits: after four NACKed gaps
 * with no answer in their hold, it is no longer NACKed (no probe) and
 * held only for reordering, so frames lost are known at once (and a PLI
 * goes); ten seconds on, a gap is NACKed again; a retransmission that
 * comes after all puts the hold back. */
static void test_worker_rtx_silent(void **state)
{
	static struct worker_fixture f;
	struct vigil_camera_config cam = {.ssrc = 0x4567891, .codec = VIGIL_CODEC_H264, .master_key = {9, 8, 7},
					  .payload_types = {0, UINT64_C(1) << (96 - 64)}, .has_rtx = true,
					  .rtx_ssrc = 0x4567890, .rtx_payload_type = 97};
	struct vigil_worker *w = &f.w;
	struct rte_mbuf *pkt;
	struct vigil_stream *s;
	const struct vigil_srtp *k;
	uint64_t idx = 0, reorder_wait = rte_get_tsc_hz() / 1000 * VIGIL_REORDER_WAIT_MS;

	(void)state;
	if (vigil_srtp_available() < 0)
		skip();
	worker_setup(&f, "test_silent", &cam, 0);
	w->streams->retransmit_hold_ms = 1; /* probes expire fast */
	assert_int_equal(vigil_stream_add(w->streams, &cam, 0, NULL), 0);
	s = w->streams->slots[0];
	k = &s->key->rtp;
	assert_int_equal(s->reorder.max_wait, s->fb.hold_cap);

	for (unsigned gap = 0; gap < 4; gap++, idx += 4) {
		send_gap(w, k, cam.ssrc, idx);
		assert_true(s->fb.probing); /* NACKed, timed */
		assert_int_equal(s->ctr.v[VIGIL_CTR_nack_unanswered], gap);
		rte_delay_ms(3);
	}
	send_gap(w, k, cam.ssrc, idx); /* the fourth probe expires here: silent */
	idx += 4;
	assert_int_equal(s->ctr.v[VIGIL_CTR_nack_unanswered], 4);
	assert_int_equal(s->fb.unanswered, 4);
	assert_false(s->fb.probing);
	assert_int_equal(s->reorder.max_wait, reorder_wait);
	send_gap(w, k, cam.ssrc, idx);
	idx += 4;
	assert_false(s->fb.probing); /* not NACKed */

	/* Ten seconds on, one gap is tried again... */
	s->fb.silent_tsc -= rte_get_tsc_hz() * 11;
	send_gap(w, k, cam.ssrc, idx);
	assert_true(s->fb.probing);
	assert_int_equal(s->fb.unanswered, 3);
	assert_int_equal(s->reorder.max_wait, s->fb.hold_cap);
	/* ...and answered: the camera retransmits after all. */
	pkt = make_packet(k, cam.rtx_ssrc, 97, 1, 0, idx + 2, true);
	vigil_worker_process(w, &pkt, 1);
	rte_pktmbuf_free_bulk(&pkt, 1);
	assert_int_equal(s->ctr.v[VIGIL_CTR_retransmitted], 1);
	assert_int_equal(s->fb.unanswered, 0);
	assert_false(s->fb.probing);
	assert_int_equal(s->ctr.v[VIGIL_CTR_nack_unanswered], 4);

	worker_teardown(&f);
}

/* An authentic packet of a payload type its camera may not send is
 * counted payload_type, not decrypted, and its index is used up; a reload
 * that allows the type lets the next packets through. */
static void test_worker_payload_type(void **state)
{
	static struct worker_fixture f;
	struct vigil_camera_config cam = {.ssrc = 0x2345678, .codec = VIGIL_CODEC_H264,
					  .master_key = {4, 5, 6}, .payload_types = {0, UINT64_C(1) << (97 - 64)}};
	const uint64_t both[2] = {0, UINT64_C(3) << (96 - 64)};
	struct vigil_worker *w = &f.w;
	struct rte_mbuf *pkts[3];
	struct vigil_stream *s;

	(void)state;
	if (vigil_srtp_available() < 0)
		skip();
	worker_setup(&f, "test_pt", &cam, 1);
	s = w->streams->slots[0];

	pkts[0] = srtp_packet(&s->key->rtp, cam.ssrc, 0);
	pkts[1] = srtp_packet(&s->key->rtp, cam.ssrc, 0);
	vigil_worker_process(w, pkts, 2);
	rte_pktmbuf_free_bulk(pkts, 2);
	assert_int_equal(s->ctr.v[VIGIL_CTR_payload_type], 1);
	assert_int_equal(s->ctr.v[VIGIL_CTR_replayed], 1);
	assert_int_equal(s->ctr.v[VIGIL_CTR_decrypted], 0);

	assert_int_equal(vigil_stream_set_payload_types(w->streams, 0, both), 0);
	for (unsigned i = 0; i < 3; i++)
		pkts[i] = srtp_packet(&s->key->rtp, cam.ssrc, 3 + i);
	vigil_worker_process(w, pkts, 3);
	rte_pktmbuf_free_bulk(pkts, 3);
	assert_int_equal(s->ctr.v[VIGIL_CTR_decrypted], 3);
	assert_int_equal(s->ctr.v[VIGIL_CTR_frames_enqueued], 1);
	assert_int_equal(s->ctr.v[VIGIL_CTR_payload_type], 1);
	assert_int_equal(s->ctr.v[VIGIL_CTR_rx_packets], 5);

	worker_teardown(&f);
}

/* The worker loop's pipeline: a pushed burst is only looked up (packets
 * of unknown cameras counted at once) and is finished, decrypted and
 * depacketized, when the next one is pushed or the pipeline drained; then
 * its mbufs that no frame kept are freed. Nothing is lost or counted twice. */
static void test_worker_pipeline(void **state)
{
	static struct worker_fixture f;
	struct vigil_camera_config cams[2] = {
		{.ssrc = 0x3456789, .codec = VIGIL_CODEC_H264, .master_key = {7},
		 .payload_types = {0, UINT64_C(1) << (96 - 64)}},
		{.ssrc = 0x456789a, .codec = VIGIL_CODEC_H264, .master_key = {8},
		 .payload_types = {0, UINT64_C(1) << (96 - 64)}},
	};
	struct vigil_worker *w = &f.w;
	struct vigil_frame_ring *fr = &f.fr;
	unsigned avail;
	struct vigil_stream *a, *b;
	struct vigil_burst *burst;

	(void)state;
	if (vigil_srtp_available() < 0)
		skip();
	worker_setup(&f, "test_pipe", cams, RTE_DIM(cams));
	avail = f.avail;
	a = w->streams->slots[0];
	b = w->streams->slots[1];

	/* A frame of each camera, then a frame of a, a stranger's packet,
	 * and a packet that is no SRTP at all. */
	burst = vigil_worker_burst(w);
	for (unsigned i = 0; i < 3; i++) {
		burst->m[i] = srtp_packet(&a->key->rtp, cams[0].ssrc, i);
		burst->m[3 + i] = srtp_packet(&b->key->rtp, cams[1].ssrc, i);
	}
	burst->n_mbufs = 6;
	vigil_worker_push(w);
	assert_ptr_equal(w->held, burst);
	assert_int_equal(a->ctr.v[VIGIL_CTR_rx_packets] + b->ctr.v[VIGIL_CTR_rx_packets], 0);
	assert_int_equal(rte_mempool_avail_count(mp), avail - 6);

	burst = vigil_worker_burst(w);
	assert_ptr_not_equal(burst, w->held);
	for (unsigned i = 0; i < 3; i++)
		burst->m[i] = srtp_packet(&a->key->rtp, cams[0].ssrc, 3 + i);
	burst->m[3] = srtp_packet(&a->key->rtp, 0x5555, 0);
	burst->m[4] = srtp_packet(&a->key->rtp, cams[0].ssrc, 6);
	/* An ethertype that is no IP (local experimental). */
	memcpy(rte_pktmbuf_mtod(burst->m[4], uint8_t *) + 12, (uint8_t[]){0x88, 0xb5}, 2);
	burst->n_mbufs = 5;
	vigil_worker_push(w);
	assert_ptr_equal(w->held, burst);
	assert_int_equal(w->ctr.v[VIGIL_CTR_unknown_ssrc], 1);
	assert_int_equal(w->ctr.v[VIGIL_CTR_not_ip], 1);
	assert_int_equal(w->ctr.v[VIGIL_CTR_rx_packets], 2);
	assert_int_equal(a->ctr.v[VIGIL_CTR_decrypted], 3);
	assert_int_equal(b->ctr.v[VIGIL_CTR_decrypted], 3);
	assert_int_equal(a->ctr.v[VIGIL_CTR_frames_enqueued] + b->ctr.v[VIGIL_CTR_frames_enqueued], 2);
	/* The first burst's mbufs are in its frames; all five of the
	 * second's wait with it, the two refused ones too. */
	assert_int_equal(vigil_frame_ring_segs(fr), 6);
	assert_int_equal(rte_mempool_avail_count(mp), avail - 11);

	vigil_worker_drain(w);
	assert_null(w->held);
	assert_int_equal(a->ctr.v[VIGIL_CTR_rx_packets], 6);
	assert_int_equal(a->ctr.v[VIGIL_CTR_decrypted], 6);
	assert_int_equal(a->ctr.v[VIGIL_CTR_frames_enqueued], 2);
	assert_int_equal(b->ctr.v[VIGIL_CTR_rx_packets], 3);
	assert_int_equal(b->ctr.v[VIGIL_CTR_decrypted], 3);
	assert_int_equal(vigil_frame_ring_segs(fr), 9);
	/* Counted once: the refused packets not again when finished. */
	assert_int_equal(w->ctr.v[VIGIL_CTR_rx_packets], 2);
	assert_int_equal(w->ctr.v[VIGIL_CTR_unknown_ssrc] + w->ctr.v[VIGIL_CTR_not_ip], 2);
	/* With their burst the refused packets' mbufs went back. */
	assert_int_equal(rte_mempool_avail_count(mp), avail - 9);
	vigil_worker_drain(w); /* nothing held: nothing happens */
	assert_int_equal(a->ctr.v[VIGIL_CTR_decrypted], 6);
	assert_int_equal(w->ctr.v[VIGIL_CTR_rx_packets], 2);

	vigil_frame_ring_drain(fr);
	assert_int_equal(rte_mempool_avail_count(mp), avail); /* none left in a stream */
	worker_teardown(&f);
}

/* An SRTCP sender report of ssrc under key (E set or not), in a frame to
 * port 5004 like srtp_packet's. */
static struct rte_mbuf *srtcp_packet(const struct vigil_srtp *key, uint32_t ssrc, uint32_t index, bool encrypt)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
	uint8_t *b, *ip, *rtcp;
	int len;

	assert_non_null(m);
	b = (uint8_t *)rte_pktmbuf_append(m, 14 + 28 + 28 + VIGIL_SRTCP_TRAILER_LEN);
	memset(b, 0, 14 + 28 + 28);
	b[12] = 0x08;
	ip = b + 14;
	rtcp = ip + 28;
	rtcp[0] = 0x80;
	rtcp[1] = 200;
	rtcp[3] = 6;
	memcpy(rtcp + 4, &(uint32_t){rte_cpu_to_be_32(ssrc)}, 4);
	memset(rtcp + 8, 0x3c, 20);
	len = vigil_srtcp_encrypt(key, rtcp, 28, index, encrypt);
	assert_int_equal(len, 28 + VIGIL_SRTCP_TRAILER_LEN);
	ip[0] = 0x45;
	ip[3] = (uint8_t)(28 + len);
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, (uint8_t[]){198, 18, 0, 2, 198, 18, 0, 1}, 8);
	memcpy(ip + 10, &(uint16_t){rte_ipv4_cksum((const struct rte_ipv4_hdr *)ip)}, 2);
	memcpy(ip + 20, (uint8_t[]){0x9c, 0x40, 0x13, 0x8c, 0, (uint8_t)(8 + len)}, 6);
	return m;
}

static void process(struct vigil_worker *w, struct rte_mbuf **pkts, unsigned n)
{
	vigil_worker_process(w, pkts, (uint16_t)n);
	rte_pktmbuf_free_bulk(pkts, n);
	vigil_frame_ring_drain(&container_of(w, struct worker_fixture, w)->fr);
}

#define IDX(roc, seq) ((uint64_t)(roc) << 16 | (seq))

/* A stream continued from a persisted index refuses everything at or
 * below it, SRTP and SRTCP; a stream whose camera is at ROC 3 is found by trial (the
 * failed ROCs counted as roc_trials, not auth_failed) and locked onto;
 * 64 forgeries in a row unlock it, and trial finds the camera's next ROC;
 * in trial a flood of forgeries buys no more than the bucket's tries. */
static void test_worker_roc(void **state)
{
	static struct worker_fixture f;
	struct vigil_camera_config cams[2] = {
		{.ssrc = 0x100, .codec = VIGIL_CODEC_H264, .master_key = {7}, .payload_types = {0, UINT64_C(1) << 32}},
		{.ssrc = 0x200, .codec = VIGIL_CODEC_H264, .master_key = {8}, .payload_types = {0, UINT64_C(1) << 32}},
	};
	const uint64_t floor = IDX(2, 100);
	const struct vigil_stream_floor persisted = {.srtp = floor, .srtcp = 40, .has_srtcp = true};
	struct vigil_worker *w = &f.w;
	struct vigil_srtp wrong;
	struct rte_mbuf *pkts[VIGIL_BURST];
	struct vigil_stream *a, *b;

	(void)state;
	if (vigil_srtp_available() < 0)
		skip();
	worker_setup(&f, "test_roc", &cams[1], 1);
	assert_int_equal(vigil_stream_add(w->streams, &cams[0], 1, &persisted), 0);
	b = w->streams->slots[0];
	a = w->streams->slots[1];
	assert_int_equal(vigil_srtp_init(&wrong, (uint8_t[32]){9}, (uint8_t[12]){0}), 0);

	/* a: below the floor, at it, then on from it */
	pkts[0] = srtp_packet(&a->key->rtp, cams[0].ssrc, IDX(2, 50));
	pkts[1] = srtp_packet(&a->key->rtp, cams[0].ssrc, floor);
	pkts[2] = srtp_packet(&a->key->rtp, cams[0].ssrc, IDX(1, 60000));
	pkts[3] = srtp_packet(&a->key->rtp, cams[0].ssrc, floor + 1);
	pkts[4] = srtp_packet(&a->key->rtp, cams[0].ssrc, floor + 2);
	process(w, pkts, 5);
	assert_int_equal(a->ctr.v[VIGIL_CTR_replayed], 3);
	assert_int_equal(a->ctr.v[VIGIL_CTR_decrypted], 2);
	assert_int_equal(a->ctr.v[VIGIL_CTR_auth_failed], 0);
	/* In trial, a refused estimate may still be a camera that wrapped
	 * while vigild was down: ROCs 3..17 were tried for the first two,
	 * 2..17 for the third (R(2, 60000) is above the floor). */
	assert_int_equal(a->ctr.v[VIGIL_CTR_roc_trials], 15 + 15 + 16);
	assert_true(a->replay.locked);
	assert_int_equal(a->replay.top, floor + 2);
	/* its SRTCP continues from its persisted index too */
	pkts[0] = srtcp_packet(&a->key->rtcp, cams[0].ssrc, 39, true);
	pkts[1] = srtcp_packet(&a->key->rtcp, cams[0].ssrc, 40, true);
	pkts[2] = srtcp_packet(&a->key->rtcp, cams[0].ssrc, 41, true);
	process(w, pkts, 3);
	assert_int_equal(a->ctr.v[VIGIL_CTR_replayed], 3 + 2);
	assert_int_equal(a->ctr.v[VIGIL_CTR_rtcp], 1);
	struct vigil_stream_floor top;
	assert_true(vigil_stream_top(a, &top));
	assert_int_equal(top.srtp, floor + 2);
	assert_true(top.has_srtcp);
	assert_int_equal(top.srtcp, 41);

	/* b: no state, its camera at ROC 3: ROCs 1 and 2 fail first */
	pkts[0] = srtp_packet(&b->key->rtp, cams[1].ssrc, IDX(3, 10));
	pkts[1] = srtp_packet(&b->key->rtp, cams[1].ssrc, IDX(3, 11));
	process(w, pkts, 2);
	assert_int_equal(b->ctr.v[VIGIL_CTR_decrypted], 2);
	assert_int_equal(b->ctr.v[VIGIL_CTR_roc_trials], 2);
	assert_int_equal(b->ctr.v[VIGIL_CTR_auth_failed], 0);
	assert_true(b->replay.locked);

	/* 64 forgeries in a row: locked, each costs one decryption */
	for (unsigned k = 0; k < 2; k++) {
		for (unsigned i = 0; i < VIGIL_ROC_UNLOCK_RUN / 2; i++)
			pkts[i] = srtp_packet(&wrong, cams[1].ssrc, IDX(3, 12 + k * 32 + i));
		process(w, pkts, VIGIL_ROC_UNLOCK_RUN / 2);
	}
	assert_int_equal(b->ctr.v[VIGIL_CTR_auth_failed], VIGIL_ROC_UNLOCK_RUN);
	assert_int_equal(b->ctr.v[VIGIL_CTR_roc_trials], 2);
	assert_false(b->replay.locked);
	/* the camera comes back at ROC 5: ROC 4 is tried first */
	pkts[0] = srtp_packet(&b->key->rtp, cams[1].ssrc, IDX(5, 20));
	pkts[1] = srtp_packet(&b->key->rtp, cams[1].ssrc, IDX(5, 21));
	process(w, pkts, 2);
	assert_int_equal(b->ctr.v[VIGIL_CTR_decrypted], 4);
	assert_int_equal(b->ctr.v[VIGIL_CTR_roc_trials], 3);
	assert_true(b->replay.locked);

	/* In trial, 20 forgeries try their 15 other ROCs only while the
	 * bucket lasts (a clock that earns nothing back during the test). */
	for (unsigned k = 0; k < 2; k++) {
		for (unsigned i = 0; i < VIGIL_ROC_UNLOCK_RUN / 2; i++)
			pkts[i] = srtp_packet(&wrong, cams[1].ssrc, IDX(5, 22 + k * 32 + i));
		process(w, pkts, VIGIL_ROC_UNLOCK_RUN / 2);
	}
	assert_false(b->replay.locked);
	b->replay.tokens = VIGIL_ROC_TRIAL_BURST;
	w->tsc_hz = UINT64_MAX / 4;
	uint64_t trials = b->ctr.v[VIGIL_CTR_roc_trials];
	for (unsigned i = 0; i < 20; i++)
		pkts[i] = srtp_packet(&wrong, cams[1].ssrc, IDX(5, 100 + i));
	process(w, pkts, 20);
	assert_int_equal(b->ctr.v[VIGIL_CTR_roc_trials] - trials, VIGIL_ROC_TRIAL_BURST);
	assert_int_equal(b->ctr.v[VIGIL_CTR_auth_failed], 2 * VIGIL_ROC_UNLOCK_RUN + 20);
	assert_int_equal(b->ctr.v[VIGIL_CTR_decrypted], 4);
	/* the estimate is still tried without tokens: the camera is back */
	pkts[0] = srtp_packet(&b->key->rtp, cams[1].ssrc, IDX(5, 200));
	pkts[1] = srtp_packet(&b->key->rtp, cams[1].ssrc, IDX(5, 201));
	process(w, pkts, 2);
	assert_int_equal(b->ctr.v[VIGIL_CTR_decrypted], 6);
	assert_true(b->replay.locked);

	vigil_srtp_wipe(&wrong);
	worker_teardown(&f);
}

/* SRTCP on the RTP port: authentic (encrypted or not) counts as rtcp, a
 * copy as replayed, a forged tag as auth_failed, another SSRC as
 * unknown_ssrc, one too short as malformed; under the previous key during
 * a rotation it still authenticates; nothing of it moves the RTP stream. */
static void test_worker_srtcp(void **state)
{
	static struct worker_fixture f;
	struct vigil_camera_config cam = {.ssrc = 0x300, .codec = VIGIL_CODEC_H264, .master_key = {3},
					  .payload_types = {0, UINT64_C(1) << 32}};
	struct vigil_worker *w = &f.w;
	struct rte_mbuf *pkts[8];
	struct vigil_stream *s;

	(void)state;
	if (vigil_srtp_available() < 0)
		skip();
	worker_setup(&f, "test_srtcp", &cam, 1);
	s = w->streams->slots[0];
	pkts[0] = srtcp_packet(&s->key->rtcp, cam.ssrc, 1, true);
	pkts[1] = srtcp_packet(&s->key->rtcp, cam.ssrc, 1, true);  /* a copy */
	pkts[2] = srtcp_packet(&s->key->rtcp, cam.ssrc, 2, false); /* authenticated only */
	pkts[3] = srtcp_packet(&s->key->rtp, cam.ssrc, 3, true);   /* under the RTP key */
	pkts[4] = srtcp_packet(&s->key->rtcp, cam.ssrc + 1, 4, true);
	pkts[5] = srtcp_packet(&s->key->rtcp, cam.ssrc, 5, true);
	rte_pktmbuf_trim(pkts[5], 28 + VIGIL_SRTCP_TRAILER_LEN - 27); /* 27 bytes of UDP payload */
	pkts[5]->data_len = pkts[5]->pkt_len = 14 + 28 + 27;
	rte_pktmbuf_mtod(pkts[5], uint8_t *)[14 + 3] = 28 + 27;
	rte_pktmbuf_mtod(pkts[5], uint8_t *)[14 + 25] = 8 + 27;
	{
		uint8_t *ip = rte_pktmbuf_mtod(pkts[5], uint8_t *) + 14;

		memset(ip + 10, 0, 2);
		memcpy(ip + 10, &(uint16_t){rte_ipv4_cksum((const struct rte_ipv4_hdr *)ip)}, 2);
	}
	pkts[6] = srtcp_packet(&s->key->rtcp, cam.ssrc, 6, true);
	rte_pktmbuf_mtod(pkts[6], uint8_t *)[14 + 28 + 30] ^= 4; /* the tag */
	process(w, pkts, 7);
	assert_int_equal(s->ctr.v[VIGIL_CTR_rtcp], 2);
	assert_int_equal(s->ctr.v[VIGIL_CTR_replayed], 1);
	assert_int_equal(s->ctr.v[VIGIL_CTR_auth_failed], 2);
	assert_int_equal(w->ctr.v[VIGIL_CTR_unknown_ssrc], 1);
	assert_int_equal(w->ctr.v[VIGIL_CTR_malformed], 1);
	assert_false(s->replay.started);

	/* a rotation: the previous key's reports still authenticate */
	struct vigil_stream_key old = *s->key;
	assert_int_equal(vigil_stream_rotate(w->streams, 0, (uint8_t[32]){4}, (uint8_t[12]){1}), 0);
	pkts[0] = srtcp_packet(&old.rtcp, cam.ssrc, 7, true);
	pkts[1] = srtcp_packet(&s->key->rtcp, cam.ssrc, 8, false);
	process(w, pkts, 2);
	assert_int_equal(s->ctr.v[VIGIL_CTR_rtcp], 4);
	vigil_stream_expire_prev(w->streams, 0);
	pkts[0] = srtcp_packet(&old.rtcp, cam.ssrc, 9, true);
	process(w, pkts, 1);
	assert_int_equal(s->ctr.v[VIGIL_CTR_auth_failed], 3);
	assert_int_equal(s->ctr.v[VIGIL_CTR_rx_packets], 8); /* all but the other SSRC's and the short one */
	sodium_memzero(&old, sizeof(old));
	worker_teardown(&f);
}

/* A camera that comes back after a silence under the same key, its
 * indices started again: a run of replayed packets, counted once; the
 * same run without the silence (replays among live traffic) is not. */
static void test_worker_same_key_restart(void **state)
{
	static struct worker_fixture f;
	struct vigil_camera_config cam = {.ssrc = 0x400, .codec = VIGIL_CODEC_H264, .master_key = {5},
					  .payload_types = {0, UINT64_C(1) << 32}};
	struct vigil_worker *w = &f.w;
	struct rte_mbuf *pkts[VIGIL_BURST];
	struct vigil_stream *s;

	(void)state;
	if (vigil_srtp_available() < 0)
		skip();
	worker_setup(&f, "test_restart", &cam, 1);
	s = w->streams->slots[0];
	for (unsigned k = 0; k < 2; k++) {
		for (unsigned i = 0; i < VIGIL_BURST; i++)
			pkts[i] = srtp_packet(&s->key->rtp, cam.ssrc, 1000 + k * VIGIL_BURST + i);
		process(w, pkts, VIGIL_BURST);
	}
	/* replays right after live traffic: no restart */
	for (unsigned k = 0; k < 2; k++) {
		for (unsigned i = 0; i < VIGIL_BURST; i++)
			pkts[i] = srtp_packet(&s->key->rtp, cam.ssrc, 1000 + k * VIGIL_BURST + i);
		process(w, pkts, VIGIL_BURST);
	}
	assert_int_equal(s->ctr.v[VIGIL_CTR_replayed], 2 * VIGIL_BURST);
	assert_int_equal(s->ctr.v[VIGIL_CTR_same_key_restart], 0);
	/* a silence, then the camera starts over at 1000 */
	pkts[0] = srtp_packet(&s->key->rtp, cam.ssrc, 2000);
	process(w, pkts, 1);
	s->accepted_tsc -= w->tsc_hz / 1000 * (VIGIL_RESTART_SILENCE_MS + 1);
	for (unsigned k = 0; k < 2; k++) {
		for (unsigned i = 0; i < VIGIL_BURST; i++)
			pkts[i] = srtp_packet(&s->key->rtp, cam.ssrc, 1000 + k * VIGIL_BURST + i);
		process(w, pkts, VIGIL_BURST);
	}
	assert_int_equal(s->ctr.v[VIGIL_CTR_replayed], 4 * VIGIL_BURST);
	assert_int_equal(s->ctr.v[VIGIL_CTR_same_key_restart], 1);
	worker_teardown(&f);
}

/* Under the cryptodev engine, a header length the key has no session for
 * is asked for only once a packet of that length authenticated: forged
 * packets (a spoofer who knows the SSRC) ask for nothing, and spend
 * neither the key's sessions nor the pool's. */
static void test_worker_sessions(void **state)
{
	static struct worker_fixture f;
	struct vigil_camera_config cam = {.ssrc = 0x5e55, .codec = VIGIL_CODEC_H264,
					  .master_key = {4, 5, 6}, .payload_types = {0, UINT64_C(1) << (96 - 64)}};
	struct vigil_cryptodev dev;
	struct rte_mbuf *pkts[6];
	struct vigil_stream *s;
	uint64_t soft;
	char msg[256];

	(void)state;
	assert_int_equal(vigil_cryptodev_open(&dev, "crypto_aesni_gcm0", 16, 1, false, msg, sizeof(msg)), 0);
	worker_setup(&f, "test_sessions", NULL, 0);
	vigil_stream_table_crypto(f.w.streams, &dev);
	assert_int_equal(vigil_stream_add(f.w.streams, &cam, 0, NULL), 0);
	s = f.w.streams->slots[0];
	assert_non_null(vigil_key_session(s->key, 12));

	/* Locked onto, 12-byte headers. */
	for (unsigned i = 0; i < 6; i++)
		pkts[i] = srtp_packet(&s->key->rtp, cam.ssrc, i);
	vigil_worker_process(&f.w, pkts, 6);
	rte_pktmbuf_free_bulk(pkts, 6);
	assert_int_equal(s->ctr.v[VIGIL_CTR_decrypted], 6);
	assert_true(s->replay.locked);

	/* Forged, with one CSRC (16-byte headers): refused, nothing asked. */
	for (unsigned i = 0; i < 3; i++) {
		pkts[i] = srtp_packet_cc(&s->key->rtp, cam.ssrc, 6 + i, 1);
		rte_pktmbuf_mtod(pkts[i], uint8_t *)[rte_pktmbuf_data_len(pkts[i]) - 1] ^= 1;
	}
	vigil_worker_process(&f.w, pkts, 3);
	rte_pktmbuf_free_bulk(pkts, 3);
	assert_int_equal(s->ctr.v[VIGIL_CTR_auth_failed], 3);
	assert_int_equal(s->key->cd.wanted, 0);
	assert_int_equal(vigil_stream_sessions(f.w.streams), 0);

	/* Authentic: decrypted by libsodium, and the length asked for. */
	soft = s->ctr.v[VIGIL_CTR_decrypted_libsodium];
	for (unsigned i = 0; i < 3; i++)
		pkts[i] = srtp_packet_cc(&s->key->rtp, cam.ssrc, 6 + i, 1);
	vigil_worker_process(&f.w, pkts, 3);
	rte_pktmbuf_free_bulk(pkts, 3);
	assert_int_equal(s->ctr.v[VIGIL_CTR_decrypted], 9);
	assert_int_equal(s->ctr.v[VIGIL_CTR_decrypted_libsodium], soft + 3);
	assert_int_equal(s->key->cd.wanted, 1u << 1);
	assert_int_equal(vigil_stream_sessions(f.w.streams), 1);
	assert_non_null(vigil_key_session(s->key, 16));

	/* Then through the device. */
	for (unsigned i = 0; i < 3; i++)
		pkts[i] = srtp_packet_cc(&s->key->rtp, cam.ssrc, 9 + i, 1);
	vigil_worker_process(&f.w, pkts, 3);
	rte_pktmbuf_free_bulk(pkts, 3);
	assert_int_equal(s->ctr.v[VIGIL_CTR_decrypted], 12);
	assert_int_equal(s->ctr.v[VIGIL_CTR_decrypted_libsodium], soft + 3);

	worker_teardown(&f);
	vigil_cryptodev_close(&dev);
}

int main(void)
{
	char prefix[64];
	char *args[] = {"test_reorder", "--no-huge", "--no-shconf", "-m", "128", "--no-pci", "-l", "0",
			"--log-level=*:error", prefix, "--vdev=crypto_aesni_gcm0", NULL};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_windows),
		cmocka_unit_test(test_worker),
		cmocka_unit_test(test_worker_payload_type),
		cmocka_unit_test(test_worker_rtx),
		cmocka_unit_test(test_worker_rtx_silent),
		cmocka_unit_test(test_worker_pipeline),
		cmocka_unit_test(test_worker_roc),
		cmocka_unit_test(test_worker_srtcp),
		cmocka_unit_test(test_worker_same_key_restart),
		cmocka_unit_test(test_worker_sessions),
	};

	snprintf(prefix, sizeof(prefix), "--file-prefix=test_reorder_%d", (int)getpid());
	if (rte_eal_init(11, args) < 0) {
		printf("1..0 # SKIP no EAL here\n");
		return 0;
	}
	/* Small and without a cache: an mbuf freed too early is soon reused,
	 * and the payload check in deliver() sees it. */
	mp = rte_pktmbuf_pool_create("test_reorder", 63, 0, VIGIL_MBUF_PRIV_SIZE, RTE_MBUF_DEFAULT_BUF_SIZE,
				     (int)rte_socket_id());
	if (mp == NULL)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
