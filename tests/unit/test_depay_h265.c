/* SPDX-License-Identifier: MIT */
/* H.265 depacketization (RFC 7798): the same tables as for H.264 with
 * two-byte NAL headers, AP, FU, VPS/SPS/PPS, the IRAP types and the TID
 * rule; then pool exhaustion and FU header reconstruction. */

#define FX_CODEC VIGIL_CODEC_H265
#include "depay_fixture.h"

#define SC 0, 0, 0, 1
#define VPS 0x40, 0x01, 0x0c, 0x01
#define SPS 0x42, 0x01, 0x01, 0x60
#define PPS 0x44, 0x01, 0xc1, 0x72
#define AP_PARAMS 0x60, 0x01, 0, 4, VPS, 0, 4, SPS, 0, 4, PPS
#define IDR 0x26, 0x01, 0xaf, 0x06     /* IDR_W_RADL, first slice segment */
#define IDR_2ND 0x26, 0x01, 0x2f, 0x06 /* not the first slice segment */
#define TRAIL 0x02, 0x01, 0xd0, 0x04   /* TRAIL_R, first slice segment */
#define TRAIL_N 0x00, 0x01, 0xd0, 0x04 /* TRAIL_N: its header starts 00 01 */
#define IDR_EP 0x26, 0x01, 0xaf, 0x00, 0x00, 0x03, 0x00, 0x06 /* with 00 00 03 (emulation prevention) */
#define FU_S 0x62, 0x01, 0x93, 0xaf, 0x06
#define FU_M 0x62, 0x01, 0x13, 0xaa, 0xbb
#define FU_E 0x62, 0x01, 0x53, 0xcc, 0xdd
#define IDR_FU 0x26, 0x01, 0xaf, 0x06, 0xaa, 0xbb, 0xcc, 0xdd
#define PARAMS SC, VPS, SC, SPS, SC, PPS
#define KEYFRAME(t) F(t, KEY, PARAMS, SC, IDR)
#define INVALID {C(payload_invalid) = 1, C(frame_incomplete) = 1}
#define FU_SPS_S 0x62, 0x01, 0xa1, 0x01 /* FU of the SPS in two */
#define FU_SPS_E 0x62, 0x01, 0x61, 0x60

#define CRA 0x2a, 0x01, 0xaf, 0x06  /* CRA_NUT, first slice segment */
#define RASL 0x10, 0x01, 0xd0, 0x04 /* RASL_N, first slice segment */

static const struct scenario scenarios[] = {
	{"resuming at a CRA drops its RASL pictures, and only then",
	 .pkts = {P(1, 1000, 0, AP_PARAMS), P(2, 1000, 1, IDR), P(3, 4000, 1, TRAIL), P(5, 7000, 1, TRAIL),
		  P(6, 10000, 1, CRA), P(7, 8000, 1, RASL), P(8, 9000, 1, RASL), P(9, 13000, 1, TRAIL),
		  P(10, 12000, 1, RASL)},
	 .frames = {KEYFRAME(1000), F(4000, 0, SC, TRAIL), F(10000, KEY, PARAMS, SC, CRA), F(13000, 0, SC, TRAIL),
		    F(12000, 0, SC, RASL)},
	 .ctr = {C(frame_no_keyframe) = 3}},
	{"AP VPS+SPS+PPS, FU IDR in 3, P frames",
	 .pkts = {P(1, 1000, 0, AP_PARAMS), P(2, 1000, 0, FU_S), P(3, 1000, 0, FU_M), P(4, 1000, 1, FU_E),
		  P(5, 4000, 1, TRAIL), P(6, 7000, 1, TRAIL)},
	 .frames = {F(1000, KEY, PARAMS, SC, IDR_FU), F(4000, 0, SC, TRAIL), F(7000, 0, SC, TRAIL)}},
	{"single NAL packets, cached sets inserted in VPS, SPS, PPS order",
	 .pkts = {P(1, 1000, 0, PPS), P(2, 1000, 0, SPS), P(3, 1000, 1, VPS), P(4, 4000, 1, IDR),
		  P(5, 7000, 1, TRAIL)},
	 .frames = {KEYFRAME(4000), F(7000, 0, SC, TRAIL)}},
	{"sets carried by the access unit are not inserted again",
	 .pkts = {P(1, 1000, 0, VPS), P(2, 1000, 0, SPS), P(3, 1000, 0, PPS), P(4, 1000, 1, IDR)},
	 .frames = {KEYFRAME(1000)}},
	{"AP with the IDR slice inside",
	 .pkts = {P(1, 1000, 1, AP_PARAMS, 0, 4, IDR)},
	 .frames = {KEYFRAME(1000)}},
	{"SEI stays first, cached sets go right before the slice",
	 .pkts = {P(1, 1000, 1, AP_PARAMS), P(2, 4000, 0, 0x4e, 0x01, 0x05, 0x80), P(3, 4000, 1, IDR)},
	 .frames = {F(4000, KEY, SC, 0x4e, 0x01, 0x05, 0x80, PARAMS, SC, IDR)}},
	{"no VPS cached: the IDR cannot be decoded",
	 .pkts = {P(1, 1000, 1, 0x60, 0x01, 0, 4, SPS, 0, 4, PPS), P(2, 4000, 1, IDR), P(3, 7000, 1, TRAIL),
		  P(4, 10000, 1, VPS), P(5, 13000, 1, IDR)},
	 .frames = {KEYFRAME(13000)},
	 .ctr = {C(frame_no_keyframe) = 2}},
	{"TRAIL before any key frame",
	 .pkts = {P(1, 1000, 1, TRAIL), P(2, 4000, 0, AP_PARAMS), P(3, 4000, 1, IDR)},
	 .frames = {KEYFRAME(4000)},
	 .ctr = {C(frame_no_keyframe) = 1}},
	{"FU loses its middle: dropped, TRAIL skipped, next IDR recorded",
	 .pkts = {P(1, 1000, 0, AP_PARAMS), P(2, 1000, 0, FU_S), P(4, 1000, 1, FU_E), P(5, 4000, 1, TRAIL),
		  P(6, 7000, 1, TRAIL), P(7, 10000, 1, IDR), P(8, 13000, 1, TRAIL)},
	 .frames = {KEYFRAME(10000), F(13000, 0, SC, TRAIL)},
	 .ctr = {C(frame_incomplete) = 1, C(frame_no_keyframe) = 2}},
	{"after a loss, a frame starting at its second slice segment is incomplete",
	 .pkts = {P(1, 1000, 1, AP_PARAMS, 0, 4, IDR), P(3, 4000, 1, IDR_2ND), P(4, 7000, 1, IDR)},
	 .frames = {KEYFRAME(1000), KEYFRAME(7000)},
	 .ctr = {C(frame_incomplete) = 1}},
	{"FU end without start",
	 .pkts = {P(1, 1000, 1, AP_PARAMS, 0, 4, IDR), P(2, 4000, 1, 0x62, 0x01, 0x41, 0xd0),
		  P(3, 7000, 1, TRAIL)},
	 .frames = {KEYFRAME(1000)},
	 .ctr = {C(frame_incomplete) = 1, C(frame_no_keyframe) = 1}},
	{"FU type changes between fragments",
	 .pkts = {P(1, 1000, 0, AP_PARAMS), P(2, 1000, 0, FU_S), P(3, 1000, 1, 0x62, 0x01, 0x54, 0xcc)},
	 .ctr = {C(frame_incomplete) = 1}},
	{"FU unfinished at the marker", .pkts = {P(1, 1000, 0, AP_PARAMS), P(2, 1000, 1, FU_S)},
	 .ctr = {C(frame_incomplete) = 1}},
	{"FU with start and end bits", .pkts = {P(1, 1000, 1, 0x62, 0x01, 0xd3, 0xaf)}, .ctr = INVALID},
	{"FU with no fragment bytes", .pkts = {P(1, 1000, 1, 0x62, 0x01, 0x93)}, .ctr = INVALID},
	{"FU of an AP", .pkts = {P(1, 1000, 1, 0x62, 0x01, 0xb0, 0x00)}, .ctr = INVALID},
	{"FU of a PACI", .pkts = {P(1, 1000, 1, 0x62, 0x01, 0xb2, 0x00)}, .ctr = INVALID},
	{"FU payload header with TID 0", .pkts = {P(1, 1000, 1, 0x62, 0x00, 0x93, 0xaf)}, .ctr = INVALID},
	{"AP size runs past the payload; its sets are not cached",
	 .pkts = {P(1, 1000, 1, 0x60, 0x01, 0, 4, VPS, 0, 4, SPS, 0, 5, PPS), P(2, 4000, 1, IDR)},
	 .ctr = {C(payload_invalid) = 1, C(frame_incomplete) = 1, C(frame_no_keyframe) = 1}},
	{"AP with a zero-size unit", .pkts = {P(1, 1000, 1, 0x60, 0x01, 0, 0, 0, 4, VPS)}, .ctr = INVALID},
	{"AP with a one-byte unit", .pkts = {P(1, 1000, 1, 0x60, 0x01, 0, 1, 0x40, 0, 4, VPS)}, .ctr = INVALID},
	{"AP with one trailing byte", .pkts = {P(1, 1000, 1, AP_PARAMS, 0x00)}, .ctr = INVALID},
	{"AP with nothing in it", .pkts = {P(1, 1000, 1, 0x60, 0x01, 0x00)}, .ctr = INVALID},
	{"AP holding an FU", .pkts = {P(1, 1000, 1, 0x60, 0x01, 0, 5, FU_S)}, .ctr = INVALID},
	{"AP unit with TID 0", .pkts = {P(1, 1000, 1, 0x60, 0x01, 0, 4, 0x40, 0x00, 0x0c, 0x01)}, .ctr = INVALID},
	{"AP unit with the forbidden bit",
	 .pkts = {P(1, 1000, 1, 0x60, 0x01, 0, 4, 0xc0, 0x01, 0x0c, 0x01)},
	 .ctr = INVALID},
	{"single NAL with TID 0", .pkts = {P(1, 1000, 1, 0x26, 0x00, 0xaf, 0x06)}, .ctr = INVALID},
	{"single NAL with the forbidden bit", .pkts = {P(1, 1000, 1, 0xa6, 0x01, 0xaf, 0x06)}, .ctr = INVALID},
	{"one-byte payload", .pkts = {P(1, 1000, 1, 0x26)}, .ctr = INVALID},
	{"PACI", .pkts = {P(1, 1000, 1, 0x64, 0x01, 0x26, 0x01, 0x00, 0xaf)}, .ctr = INVALID},
	{"timestamp change closes a frame without marker",
	 .pkts = {P(1, 1000, 0, AP_PARAMS), P(2, 1000, 0, IDR), P(3, 4000, 0, TRAIL), P(4, 7000, 1, TRAIL)},
	 .frames = {KEYFRAME(1000), F(4000, 0, SC, TRAIL), F(7000, 0, SC, TRAIL)}},
	{"sequence wrap 0xffff -> 0x10000 is contiguous",
	 .pkts = {P(0x2fffe, 1000, 0, AP_PARAMS), P(0x2ffff, 1000, 1, IDR), P(0x30000, 4000, 1, TRAIL),
		  P(0x30001, 7000, 1, TRAIL)},
	 .frames = {KEYFRAME(1000), F(4000, 0, SC, TRAIL), F(7000, 0, SC, TRAIL)}},
	{"frame over max_frame_bytes",
	 .max_frame_bytes = 31,
	 .pkts = {P(1, 1000, 0, AP_PARAMS), P(2, 1000, 1, IDR), P(3, 4000, 1, TRAIL)},
	 .ctr = {C(frame_too_large) = 1, C(frame_no_keyframe) = 1}},
	{"frame of exactly max_frame_bytes",
	 .max_frame_bytes = 32,
	 .pkts = {P(1, 1000, 0, AP_PARAMS), P(2, 1000, 1, IDR)},
	 .frames = {KEYFRAME(1000)}},
	{"seeded sets, given in any order: no set in band, recorded from the first IDR",
	 .seed = {S(PPS), S(VPS), S(SPS)},
	 .pkts = {P(1, 1000, 1, IDR), P(2, 4000, 1, TRAIL)},
	 .frames = {KEYFRAME(1000), F(4000, 0, SC, TRAIL)}},
	{"only a PPS in band: the cached VPS and SPS go before a second copy of it",
	 .pkts = {P(1, 1000, 1, AP_PARAMS), P(2, 4000, 0, PPS), P(3, 4000, 1, IDR)},
	 .frames = {F(4000, KEY, SC, PPS, PARAMS, SC, IDR)}},
	{"only a VPS in band: the cached SPS and PPS are added",
	 .pkts = {P(1, 1000, 1, AP_PARAMS), P(2, 4000, 0, VPS), P(3, 4000, 1, IDR)},
	 .frames = {KEYFRAME(4000)}},
	{"only an SPS and a PPS in band: all three written again after them",
	 .seed = {S(VPS)},
	 .pkts = {P(1, 1000, 0, SPS), P(2, 1000, 0, PPS), P(3, 1000, 1, IDR)},
	 .frames = {F(1000, KEY, SC, SPS, SC, PPS, PARAMS, SC, IDR)}},
	{"an SPS in an FU is cached once whole",
	 .pkts = {P(1, 1000, 0, VPS), P(2, 1000, 0, FU_SPS_S), P(3, 1000, 0, FU_SPS_E), P(4, 1000, 0, PPS),
		  P(5, 1000, 1, IDR), P(6, 4000, 1, IDR)},
	 .frames = {KEYFRAME(1000), KEYFRAME(4000)}},
	{"an SPS in an FU that never ends is not cached",
	 .seed = {S(VPS), S(PPS)},
	 .pkts = {P(1, 1000, 0, FU_SPS_S), P(2, 1000, 1, PPS), P(3, 4000, 1, IDR)},
	 .ctr = {C(frame_incomplete) = 1, C(frame_no_keyframe) = 1}},
	{"flush emits a whole open frame",
	 .flush = true,
	 .pkts = {P(1, 1000, 0, AP_PARAMS), P(2, 1000, 0, IDR)},
	 .frames = {KEYFRAME(1000)}},
	{"flush drops an unfinished FU",
	 .flush = true,
	 .pkts = {P(1, 1000, 0, AP_PARAMS), P(2, 1000, 0, FU_S)},
	 .ctr = {C(frame_incomplete) = 1}},
	/* Start code prefixes (depay_scan.h), each refused NAL unit as
	 * payload_invalid, its frame dropped, the next key frame recorded. */
	{"a TRAIL_N header (00 01) and 00 00 03 are not prefixes",
	 .pkts = {P(1, 1000, 0, AP_PARAMS), P(2, 1000, 1, IDR_EP), P(3, 4000, 1, TRAIL_N),
		  P(4, 7000, 1, 0x60, 0x01, 0, 4, TRAIL_N, 0, 4, TRAIL)},
	 .frames = {F(1000, KEY, PARAMS, SC, IDR_EP), F(4000, 0, SC, TRAIL_N), F(7000, 0, SC, TRAIL_N, SC, TRAIL)}},
	{"00 00 01 in a single NAL unit",
	 .pkts = {P(1, 1000, 0, AP_PARAMS), P(2, 1000, 1, 0x26, 0x01, 0xaf, 0x00, 0x00, 0x01, 0x06),
		  P(3, 4000, 1, TRAIL), P(4, 7000, 1, IDR)},
	 .frames = {KEYFRAME(7000)},
	 .ctr = {C(payload_invalid) = 1, C(frame_incomplete) = 1, C(frame_no_keyframe) = 1}},
	{"a NAL unit ending in 00", .pkts = {P(1, 1000, 1, 0x26, 0x01, 0xaf, 0x06, 0x00)}, .ctr = INVALID},
	{"00 00 00 in an AP unit: none of its sets cached",
	 .pkts = {P(1, 1000, 1, 0x60, 0x01, 0, 4, VPS, 0, 4, SPS, 0, 7, 0x44, 0x01, 0xc1, 0, 0, 0, 0x72),
		  P(2, 4000, 1, IDR)},
	 .ctr = {C(payload_invalid) = 1, C(frame_incomplete) = 1, C(frame_no_keyframe) = 1}},
	{"FU: 00 00 ends a fragment, 02 starts the next",
	 .pkts = {P(1, 1000, 0, AP_PARAMS), P(2, 1000, 0, 0x62, 0x01, 0x93, 0xaf, 0x00, 0x00),
		  P(3, 1000, 1, 0x62, 0x01, 0x53, 0x02, 0xdd), P(4, 4000, 1, TRAIL), P(5, 7000, 1, IDR)},
	 .frames = {KEYFRAME(7000)},
	 .ctr = {C(payload_invalid) = 1, C(frame_incomplete) = 1, C(frame_no_keyframe) = 1}},
	{"FU: 00 ends a fragment, 00 03 starts the next (emulation prevention)",
	 .pkts = {P(1, 1000, 0, AP_PARAMS), P(2, 1000, 0, 0x62, 0x01, 0x93, 0xaf, 0x00),
		  P(3, 1000, 1, 0x62, 0x01, 0x53, 0x00, 0x03, 0x01, 0xdd)},
	 .frames = {F(1000, KEY, PARAMS, SC, 0x26, 0x01, 0xaf, 0x00, 0x00, 0x03, 0x01, 0xdd)}},
	{"FU ending in 00",
	 .pkts = {P(1, 1000, 0, AP_PARAMS), P(2, 1000, 0, FU_S), P(3, 1000, 1, 0x62, 0x01, 0x53, 0xcc, 0x00)},
	 .ctr = {C(payload_invalid) = 1, C(frame_incomplete) = 1}},
	{"FU: after a lost fragment the next is scanned afresh (a loss, not invalid)",
	 .pkts = {P(1, 1000, 0, AP_PARAMS), P(2, 1000, 0, 0x62, 0x01, 0x93, 0xaf, 0x00, 0x00),
		  P(4, 1000, 1, 0x62, 0x01, 0x53, 0x01, 0xdd)},
	 .ctr = {C(frame_incomplete) = 1}},
};


static void test_scenarios(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		run(&scenarios[i]);
}

/* Key frames are the IRAP types 16..21; other slices are not; reserved
 * VCL types are passed through but do not make a picture. */
static void test_nal_types(void **state)
{
	static const struct {
		uint8_t type;
		unsigned frames;
		uint32_t flags;
	} cases[] = {
		{0, 1, 0},   {1, 1, 0},   {9, 1, 0},   {16, 1, KEY}, {17, 1, KEY},
		{18, 1, KEY}, {19, 1, KEY}, {20, 1, KEY}, {21, 1, KEY}, {22, 0, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fx fx;
		uint8_t slice[] = {(uint8_t)(cases[i].type << 1), 0x01, 0x80};

		fx_init(&fx, POOL_MBUFS, FRAME_BYTES);
		fx.d.need_key = false; /* as if recording had started */
		push(&fx, 1, 1000, true, BYTES(AP_PARAMS));
		push(&fx, 2, 4000, true, slice, sizeof(slice));
		if (fx.n_out != cases[i].frames || (fx.n_out && fx.out[0].flags != cases[i].flags))
			fail_msg("type %u: %u frames, flags %u", cases[i].type, fx.n_out,
				 fx.n_out ? fx.out[0].flags : 0);
		if (cases[i].flags == KEY)
			assert_int_equal(fx.out[0].len, 4 * 4 + 3 * 4 + sizeof(slice));
		assert_int_equal(fx.ctr.v[VIGIL_CTR_frame_no_keyframe], 0);
		fx_fini(&fx);
	}
}

static void test_invalid_types(void **state)
{
	(void)state;
	for (unsigned type = 50; type < 64; type++) {
		struct fx fx;
		uint8_t pkt[] = {(uint8_t)(type << 1), 0x01, 0x26, 0x01, 0xaf};

		fx_init(&fx, POOL_MBUFS, FRAME_BYTES);
		push(&fx, 1, 1000, true, pkt, sizeof(pkt));
		assert_int_equal(fx.ctr.v[VIGIL_CTR_payload_invalid], 1);
		assert_int_equal(fx.ctr.v[VIGIL_CTR_frame_incomplete], 1);
		fx_fini(&fx);
	}
}

/* A one-byte unit is refused before its header check reads the byte after
 * it (the next size field). */
static void test_ap_short_unit(void **state)
{
	uint8_t pkt[7 + 0x106] = {0x60, 0x01, 0x00, 0x01, 0x40, 0x01, 0x06, 0x02, 0x01, 0xd0};
	struct fx fx;

	(void)state;
	fx_init(&fx, POOL_MBUFS, FRAME_BYTES);
	push(&fx, 1, 1000, true, pkt, sizeof(pkt));
	assert_int_equal(fx.ctr.v[VIGIL_CTR_payload_invalid], 1);
	fx_fini(&fx);
}

/* The FU's NAL header keeps the payload header's LayerId and TID. */
static void test_fu_header(void **state)
{
	static const uint8_t want[] = {SC, 0x02, 0x01, 0xd0, SC, 0x27, 0x0a, 0x80, 0x11, 0x22};
	struct fx fx;

	(void)state;
	fx_init(&fx, POOL_MBUFS, FRAME_BYTES);
	fx.d.need_key = false;
	push(&fx, 1, 1000, false, BYTES(0x02, 0x01, 0xd0));
	push(&fx, 2, 1000, false, BYTES(0x63, 0x0a, 0x93, 0x80, 0x11));
	push(&fx, 3, 1000, true, BYTES(0x63, 0x0a, 0x53, 0x22));
	assert_int_equal(fx.n_out, 1);
	assert_int_equal(fx.out[0].len, sizeof(want));
	assert_memory_equal(fx.out_data[0], want, sizeof(want));
	fx_fini(&fx);
}

static void test_pool_exhaustion(void **state)
{
	static const uint8_t want[] = {PARAMS, SC, IDR};
	struct fx fx;

	(void)state;
	fx_init(&fx, 2, FRAME_BYTES);
	fx.hold = true;
	push(&fx, 1, 1000, true, BYTES(AP_PARAMS, 0, 4, IDR));
	assert_int_equal(fx.n_out, 1);
	push(&fx, 2, 4000, true, BYTES(IDR));
	assert_int_equal(fx.ctr.v[VIGIL_CTR_frame_no_buffer], 1);
	rte_pktmbuf_free(fx.held[0]);
	fx.held[0] = NULL;
	push(&fx, 3, 7000, true, BYTES(TRAIL));
	assert_int_equal(fx.ctr.v[VIGIL_CTR_frame_no_keyframe], 1);
	push(&fx, 4, 10000, true, BYTES(IDR));
	assert_int_equal(fx.n_out, 2);
	assert_int_equal(fx.out[1].len, sizeof(want));
	assert_memory_equal(fx.out_data[1], want, sizeof(want));
	assert_int_equal(fx.ctr.v[VIGIL_CTR_frame_no_buffer], 1);
	assert_int_equal(fx.ctr.v[VIGIL_CTR_frame_incomplete], 0);
	fx_fini(&fx);
}

/* Only a whole VPS, SPS or PPS of this codec is taken, cached under its
 * kind. */
static void test_seed(void **state)
{
	static const struct {
		uint8_t b[4];
		uint8_t len;
		int kind; /* where it is cached, or -1: refused with -EINVAL */
	} cases[] = {
		{{VPS}, 4, VIGIL_PARAM_VPS},
		{{SPS}, 4, VIGIL_PARAM_SPS},
		{{PPS}, 4, VIGIL_PARAM_PPS},
		{{IDR}, 4, -1},
		{{0x4e, 0x01, 0x05}, 3, -1},       /* prefix SEI */
		{{0x40, 0x01}, 2, -1},             /* header only */
		{{0x40, 0x00, 0x0c, 0x01}, 4, -1}, /* TID 0 */
		{{0xc0, 0x01, 0x0c, 0x01}, 4, -1}, /* forbidden bit */
		{{0x60, 0x01, 0x00, 0x02}, 4, -1}, /* AP */
		{{0x67, 0x42, 0x00, 0x1f}, 4, -1}, /* an H.264 SPS */
		{{0}, 0, -1},
	};
	struct vigil_depay d;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		vigil_depay_init(&d, VIGIL_CODEC_H265);
		if (vigil_depay_seed_params(&d, cases[i].b, cases[i].len) != (cases[i].kind < 0 ? -EINVAL : 0))
			fail_msg("case %zu: wrong return", i);
		for (int k = 0; k < VIGIL_PARAM_KINDS; k++)
			assert_int_equal(d.params[k].len, k == cases[i].kind ? cases[i].len : 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scenarios),
		cmocka_unit_test(test_nal_types),
		cmocka_unit_test(test_invalid_types),
		cmocka_unit_test(test_ap_short_unit),
		cmocka_unit_test(test_fu_header),
		cmocka_unit_test(test_pool_exhaustion),
		cmocka_unit_test(test_seed),
	};

	fx_eal("test_depay_h265");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
