/* SPDX-License-Identifier: MIT */
/* H.264 depacketization (RFC 6184): tables of packet sequences, each with
 * the exact Annex-B frames it must produce and every counter it must move;
 * then mbuf exhaustion, aggregation limits, frame fields and parameter set
 * limits. */

#define FX_CODEC VIGIL_CODEC_H264
#include "depay_fixture.h"
#include "depay_scan.h"

#define SC 0, 0, 0, 1
#define SPS 0x67, 0x42, 0x00, 0x1f
#define PPS 0x68, 0xce, 0x3c, 0x80
#define STAP_PARAMS 0x78, 0x00, 0x04, SPS, 0x00, 0x04, PPS
#define IDR 0x65, 0x88, 0x84, 0x21       /* first_mb_in_slice = 0 */
#define IDR_2ND 0x65, 0x08, 0x84, 0x21   /* first_mb_in_slice != 0 */
#define IDR_EP 0x65, 0x88, 0x84, 0x00, 0x00, 0x03, 0x01, 0x21 /* with 00 00 03 (emulation prevention) */
#define PSL 0x41, 0x9a, 0x02             /* P slice, first of its picture */
#define FU_S 0x7c, 0x85, 0x88, 0x84      /* FU-A, NRI 3, start of an IDR */
#define FU_M 0x7c, 0x05, 0xaa, 0xbb
#define FU_E 0x7c, 0x45, 0xcc, 0xdd
#define IDR_FU 0x65, 0x88, 0x84, 0xaa, 0xbb, 0xcc, 0xdd /* FU_S + FU_M + FU_E */
#define KEYFRAME(t) F(t, KEY, SC, SPS, SC, PPS, SC, IDR)
#define SPS_OLD 0x67, 0x42, 0x00, 0x0a
#define FU_SPS_S 0x7c, 0x87, 0x42, 0x00 /* FU-A of the SPS in two */
#define FU_SPS_E 0x7c, 0x47, 0x1f

static const struct scenario scenarios[] = {
	{"STAP-A SPS+PPS, FU-A IDR in 3, P frames",
	 .pkts = {P(1, 1000, 0, STAP_PARAMS), P(2, 1000, 0, FU_S), P(3, 1000, 0, FU_M), P(4, 1000, 1, FU_E),
		  P(5, 4000, 1, PSL), P(6, 7000, 1, PSL)},
	 .frames = {F(1000, KEY, SC, SPS, SC, PPS, SC, IDR_FU), F(4000, 0, SC, PSL), F(7000, 0, SC, PSL)}},
	{"single NAL packets, parameter sets in their own access unit",
	 .pkts = {P(1, 1000, 1, STAP_PARAMS), P(2, 4000, 1, IDR), P(3, 7000, 1, PSL)},
	 .frames = {KEYFRAME(4000), F(7000, 0, SC, PSL)}},
	{"STAP-A with the IDR slice inside",
	 .pkts = {P(1, 1000, 1, 0x78, 0, 4, SPS, 0, 4, PPS, 0, 4, IDR)},
	 .frames = {KEYFRAME(1000)}},
	{"an aggregated AUD stays first, cached sets go between it and the slice",
	 .pkts = {P(1, 1000, 1, STAP_PARAMS), P(2, 4000, 1, 0x78, 0, 2, 0x09, 0x10, 0, 4, IDR)},
	 .frames = {F(4000, KEY, SC, 0x09, 0x10, SC, SPS, SC, PPS, SC, IDR)}},
	{"AUD and SEI stay first, cached sets go right before the slice",
	 .pkts = {P(1, 1000, 1, STAP_PARAMS), P(2, 4000, 0, 0x09, 0x10), P(3, 4000, 0, 0x06, 0x05, 0x01, 0x80),
		  P(4, 4000, 1, IDR)},
	 .frames = {F(4000, KEY, SC, 0x09, 0x10, SC, 0x06, 0x05, 0x01, 0x80, SC, SPS, SC, PPS, SC, IDR)}},
	{"two slices in one picture",
	 .pkts = {P(1, 1000, 1, 0x78, 0, 4, SPS, 0, 4, PPS, 0, 4, IDR), P(2, 4000, 0, PSL),
		  P(3, 4000, 1, 0x41, 0x1a, 0x03)},
	 .frames = {KEYFRAME(1000), F(4000, 0, SC, PSL, SC, 0x41, 0x1a, 0x03)}},
	{"P frame before any key frame",
	 .pkts = {P(1, 1000, 1, PSL), P(2, 4000, 0, STAP_PARAMS), P(3, 4000, 1, IDR)},
	 .frames = {KEYFRAME(4000)},
	 .ctr = {C(frame_no_keyframe) = 1}},
	{"IDR with no parameter sets anywhere",
	 .pkts = {P(1, 1000, 1, IDR), P(2, 4000, 1, PSL), P(3, 7000, 0, STAP_PARAMS), P(4, 7000, 1, IDR)},
	 .frames = {KEYFRAME(7000)},
	 .ctr = {C(frame_no_keyframe) = 2}},
	{"FU-A loses its middle: dropped, P skipped, next IDR recorded",
	 .pkts = {P(1, 1000, 0, STAP_PARAMS), P(2, 1000, 0, FU_S), P(4, 1000, 1, FU_E), P(5, 4000, 1, PSL),
		  P(6, 7000, 1, PSL), P(7, 10000, 1, IDR), P(8, 13000, 1, PSL)},
	 .frames = {KEYFRAME(10000), F(13000, 0, SC, PSL)},
	 .ctr = {C(frame_incomplete) = 1, C(frame_no_keyframe) = 2}},
	{"marker packet lost",
	 .pkts = {P(1, 1000, 0, STAP_PARAMS), P(2, 1000, 0, IDR), P(4, 4000, 1, PSL)},
	 .ctr = {C(frame_incomplete) = 1, C(frame_no_keyframe) = 1}},
	{"whole frame lost, next one starts with its first slice",
	 .pkts = {P(1, 1000, 1, 0x78, 0, 4, SPS, 0, 4, PPS, 0, 4, IDR), P(3, 7000, 1, IDR), P(4, 10000, 1, PSL)},
	 .frames = {KEYFRAME(1000), KEYFRAME(7000), F(10000, 0, SC, PSL)}},
	{"after a loss, a frame starting at its second slice is incomplete",
	 .pkts = {P(1, 1000, 1, 0x78, 0, 4, SPS, 0, 4, PPS, 0, 4, IDR), P(3, 7000, 1, IDR_2ND), P(4, 10000, 1, PSL)},
	 .frames = {KEYFRAME(1000)},
	 .ctr = {C(frame_incomplete) = 1, C(frame_no_keyframe) = 1}},
	{"FU-A end without start",
	 .pkts = {P(1, 1000, 1, 0x78, 0, 4, SPS, 0, 4, PPS, 0, 4, IDR), P(2, 4000, 1, 0x5c, 0x41, 0x9a, 0x02),
		  P(3, 7000, 1, PSL)},
	 .frames = {KEYFRAME(1000)},
	 .ctr = {C(frame_incomplete) = 1, C(frame_no_keyframe) = 1}},
	{"FU-A middle without start",
	 .pkts = {P(1, 1000, 0, STAP_PARAMS), P(2, 1000, 1, FU_M)},
	 .ctr = {C(frame_incomplete) = 1}},
	{"FU-A type changes between fragments",
	 .pkts = {P(1, 1000, 0, STAP_PARAMS), P(2, 1000, 0, FU_S), P(3, 1000, 1, 0x7c, 0x41, 0xcc)},
	 .ctr = {C(frame_incomplete) = 1}},
	{"FU-A restarts before its end",
	 .pkts = {P(1, 1000, 0, STAP_PARAMS), P(2, 1000, 0, FU_S), P(3, 1000, 0, FU_S), P(4, 1000, 1, FU_E)},
	 .ctr = {C(frame_incomplete) = 1}},
	{"single NAL while an FU-A is open",
	 .pkts = {P(1, 1000, 0, STAP_PARAMS), P(2, 1000, 0, FU_S), P(3, 1000, 1, 0x06, 0x05)},
	 .ctr = {C(frame_incomplete) = 1}},
	{"marker bit inside an FU-A",
	 .pkts = {P(1, 1000, 0, STAP_PARAMS), P(2, 1000, 1, FU_S), P(3, 4000, 1, FU_E)},
	 .ctr = {C(frame_incomplete) = 2}},
	{"FU-A with start and end bits",
	 .pkts = {P(1, 1000, 0, STAP_PARAMS), P(2, 1000, 1, 0x7c, 0xc5, 0x88)},
	 .ctr = {C(payload_invalid) = 1, C(frame_incomplete) = 1}},
	{"FU-A with no fragment bytes",
	 .pkts = {P(1, 1000, 1, 0x7c, 0x85)},
	 .ctr = {C(payload_invalid) = 1, C(frame_incomplete) = 1}},
	{"FU-A of a STAP-A",
	 .pkts = {P(1, 1000, 1, 0x7c, 0x98, 0x00)},
	 .ctr = {C(payload_invalid) = 1, C(frame_incomplete) = 1}},
	{"STAP-A size runs past the payload; its sets are not cached",
	 .pkts = {P(1, 1000, 1, 0x78, 0, 4, SPS, 0, 5, PPS), P(2, 4000, 1, IDR)},
	 .ctr = {C(payload_invalid) = 1, C(frame_incomplete) = 1, C(frame_no_keyframe) = 1}},
	{"STAP-A with a zero-size NAL unit",
	 .pkts = {P(1, 1000, 1, 0x78, 0, 0, 0, 4, SPS)},
	 .ctr = {C(payload_invalid) = 1, C(frame_incomplete) = 1}},
	{"STAP-A with one trailing byte",
	 .pkts = {P(1, 1000, 1, STAP_PARAMS, 0x00)},
	 .ctr = {C(payload_invalid) = 1, C(frame_incomplete) = 1}},
	{"STAP-A with nothing in it",
	 .pkts = {P(1, 1000, 1, 0x78, 0x00)},
	 .ctr = {C(payload_invalid) = 1, C(frame_incomplete) = 1}},
	{"STAP-A holding an FU-A",
	 .pkts = {P(1, 1000, 1, 0x78, 0, 4, FU_S)},
	 .ctr = {C(payload_invalid) = 1, C(frame_incomplete) = 1}},
	{"forbidden bit in a single NAL",
	 .pkts = {P(1, 1000, 1, 0xe5, 0x88, 0x84)},
	 .ctr = {C(payload_invalid) = 1, C(frame_incomplete) = 1}},
	{"forbidden bit inside a STAP-A",
	 .pkts = {P(1, 1000, 1, 0x78, 0, 4, 0xe7, 0x42, 0x00, 0x1f)},
	 .ctr = {C(payload_invalid) = 1, C(frame_incomplete) = 1}},
	{"forbidden bit in an FU indicator",
	 .pkts = {P(1, 1000, 1, 0xfc, 0x85, 0x88)},
	 .ctr = {C(payload_invalid) = 1, C(frame_incomplete) = 1}},
	{"invalid packet drops the frame it belongs to only",
	 .pkts = {P(1, 1000, 1, 0x78, 0, 4, SPS, 0, 4, PPS, 0, 4, IDR), P(2, 4000, 1, 0x7a, 0x00),
		  P(3, 7000, 1, IDR)},
	 .frames = {KEYFRAME(1000), KEYFRAME(7000)},
	 .ctr = {C(payload_invalid) = 1, C(frame_incomplete) = 1}},
	{"timestamp change closes a frame without marker",
	 .pkts = {P(1, 1000, 0, STAP_PARAMS), P(2, 1000, 0, IDR), P(3, 4000, 0, PSL), P(4, 7000, 1, PSL)},
	 .frames = {KEYFRAME(1000), F(4000, 0, SC, PSL), F(7000, 0, SC, PSL)}},
	{"sequence wrap 0xffff -> 0x10000 is contiguous",
	 .pkts = {P(0xfffe, 1000, 0, STAP_PARAMS), P(0xffff, 1000, 1, IDR), P(0x10000, 4000, 1, PSL),
		  P(0x10001, 7000, 1, PSL)},
	 .frames = {KEYFRAME(1000), F(4000, 0, SC, PSL), F(7000, 0, SC, PSL)}},
	{"late and duplicate packets are counted late and not used",
	 .pkts = {P(1, 1000, 0, STAP_PARAMS), P(2, 1000, 1, IDR), P(3, 4000, 1, PSL), P(3, 4000, 1, PSL),
		  P(1, 7000, 1, PSL), P(4, 7000, 1, PSL)},
	 .frames = {KEYFRAME(1000), F(4000, 0, SC, PSL), F(7000, 0, SC, PSL)},
	 .ctr = {C(late) = 2}},
	{"frame over max_frame_bytes",
	 .max_frame_bytes = 23,
	 .pkts = {P(1, 1000, 0, STAP_PARAMS), P(2, 1000, 1, IDR), P(3, 4000, 1, PSL)},
	 .ctr = {C(frame_too_large) = 1, C(frame_no_keyframe) = 1}},
	{"frame of exactly max_frame_bytes",
	 .max_frame_bytes = 24,
	 .pkts = {P(1, 1000, 0, STAP_PARAMS), P(2, 1000, 1, IDR), P(3, 4000, 1, PSL)},
	 .frames = {KEYFRAME(1000), F(4000, 0, SC, PSL)}},
	{"inserted parameter sets count toward the limit",
	 .max_frame_bytes = 23,
	 .pkts = {P(1, 1000, 1, STAP_PARAMS), P(2, 4000, 1, IDR)},
	 .ctr = {C(frame_too_large) = 1}},
	{"flush emits a whole open frame",
	 .flush = true,
	 .pkts = {P(1, 1000, 0, STAP_PARAMS), P(2, 1000, 0, IDR)},
	 .frames = {KEYFRAME(1000)}},
	{"flush drops an unfinished FU-A",
	 .flush = true,
	 .pkts = {P(1, 1000, 0, STAP_PARAMS), P(2, 1000, 0, FU_S)},
	 .ctr = {C(frame_incomplete) = 1}},
	{"flush drops a frame waiting for a key frame",
	 .flush = true,
	 .pkts = {P(1, 1000, 0, PSL)},
	 .ctr = {C(frame_no_keyframe) = 1}},
	{"seeded sets: no set in band, recorded from the first IDR",
	 .seed = {S(PPS), S(SPS)},
	 .pkts = {P(1, 1000, 1, IDR), P(2, 4000, 1, PSL)},
	 .frames = {KEYFRAME(1000), F(4000, 0, SC, PSL)}},
	{"seeded sets go right after an AUD that directly precedes the slice",
	 .seed = {S(SPS), S(PPS)},
	 .pkts = {P(1, 1000, 0, 0x09, 0x10), P(2, 1000, 1, IDR)},
	 .frames = {F(1000, KEY, SC, 0x09, 0x10, SC, SPS, SC, PPS, SC, IDR)}},
	{"in-band sets replace seeded ones",
	 .seed = {S(SPS_OLD), S(PPS)},
	 .pkts = {P(1, 1000, 1, STAP_PARAMS), P(2, 4000, 1, IDR)},
	 .frames = {KEYFRAME(4000)}},
	{"only a PPS in band: the cached SPS goes before a second copy of it",
	 .pkts = {P(1, 1000, 1, STAP_PARAMS), P(2, 4000, 0, PPS), P(3, 4000, 1, IDR)},
	 .frames = {F(4000, KEY, SC, PPS, SC, SPS, SC, PPS, SC, IDR)}},
	{"only an SPS in band: the cached PPS alone is added",
	 .pkts = {P(1, 1000, 1, STAP_PARAMS), P(2, 4000, 0, SPS), P(3, 4000, 1, IDR)},
	 .frames = {KEYFRAME(4000)}},
	{"only a PPS in band and no SPS known: not decodable",
	 .pkts = {P(1, 1000, 0, PPS), P(2, 1000, 1, IDR)},
	 .ctr = {C(frame_no_keyframe) = 1}},
	{"an SPS in an FU-A is cached once whole",
	 .pkts = {P(1, 1000, 0, FU_SPS_S), P(2, 1000, 0, FU_SPS_E), P(3, 1000, 0, PPS), P(4, 1000, 1, IDR),
		  P(5, 4000, 1, IDR)},
	 .frames = {KEYFRAME(1000), KEYFRAME(4000)}},
	{"an SPS in an FU-A that never ends is not cached",
	 .pkts = {P(1, 1000, 0, FU_SPS_S), P(2, 1000, 1, PPS), P(3, 4000, 1, IDR)},
	 .ctr = {C(frame_incomplete) = 1, C(frame_no_keyframe) = 1}},
	{"end of sequence, a one-byte NAL unit",
	 .pkts = {P(1, 1000, 0, STAP_PARAMS), P(2, 1000, 0, IDR), P(3, 1000, 1, 0x0a)},
	 .frames = {F(1000, KEY, SC, SPS, SC, PPS, SC, IDR, SC, 0x0a)}},
	/* Start code prefixes (depay_scan.h), each refused NAL unit as
	 * payload_invalid, its frame dropped, the next key frame recorded. */
	{"00 00 03 in a NAL unit is emulation prevention",
	 .pkts = {P(1, 1000, 0, STAP_PARAMS), P(2, 1000, 1, IDR_EP)},
	 .frames = {F(1000, KEY, SC, SPS, SC, PPS, SC, IDR_EP)}},
	{"00 00 01 in a single NAL unit",
	 .pkts = {P(1, 1000, 0, STAP_PARAMS), P(2, 1000, 1, 0x65, 0x88, 0x84, 0x00, 0x00, 0x01, 0x21),
		  P(3, 4000, 1, PSL), P(4, 7000, 1, IDR)},
	 .frames = {KEYFRAME(7000)},
	 .ctr = {C(payload_invalid) = 1, C(frame_incomplete) = 1, C(frame_no_keyframe) = 1}},
	{"00 00 00 in a P slice, after a whole key frame",
	 .pkts = {P(1, 1000, 1, 0x78, 0, 4, SPS, 0, 4, PPS, 0, 4, IDR), P(2, 4000, 1, 0x41, 0x9a, 0, 0, 0, 0x21),
		  P(3, 7000, 1, PSL), P(4, 10000, 1, IDR)},
	 .frames = {KEYFRAME(1000), KEYFRAME(10000)},
	 .ctr = {C(payload_invalid) = 1, C(frame_incomplete) = 1, C(frame_no_keyframe) = 1}},
	{"a NAL unit ending in 00",
	 .pkts = {P(1, 1000, 0, STAP_PARAMS), P(2, 1000, 1, IDR, 0x00)},
	 .ctr = {C(payload_invalid) = 1, C(frame_incomplete) = 1}},
	{"00 00 02 in a STAP-A unit: none of its sets cached",
	 .pkts = {P(1, 1000, 1, 0x78, 0, 4, SPS, 0, 7, 0x68, 0xce, 0, 0, 2, 0x3c, 0x80), P(2, 4000, 1, IDR)},
	 .ctr = {C(payload_invalid) = 1, C(frame_incomplete) = 1, C(frame_no_keyframe) = 1}},
	{"a STAP-A unit ending in 00",
	 .pkts = {P(1, 1000, 1, 0x78, 0, 4, SPS, 0, 4, 0x68, 0xce, 0x3c, 0x00, 0, 4, IDR)},
	 .ctr = {C(payload_invalid) = 1, C(frame_incomplete) = 1}},
	{"FU-A: 00 00 ends a fragment, 01 starts the next",
	 .pkts = {P(1, 1000, 0, STAP_PARAMS), P(2, 1000, 0, 0x7c, 0x85, 0x88, 0x00, 0x00),
		  P(3, 1000, 1, 0x7c, 0x45, 0x01, 0xdd), P(4, 4000, 1, PSL), P(5, 7000, 1, IDR)},
	 .frames = {KEYFRAME(7000)},
	 .ctr = {C(payload_invalid) = 1, C(frame_incomplete) = 1, C(frame_no_keyframe) = 1}},
	{"FU-A: 00 ends a fragment, 00 00 starts the next",
	 .pkts = {P(1, 1000, 0, STAP_PARAMS), P(2, 1000, 0, 0x7c, 0x85, 0x88, 0x00),
		  P(3, 1000, 1, 0x7c, 0x45, 0x00, 0x00, 0xdd)},
	 .ctr = {C(payload_invalid) = 1, C(frame_incomplete) = 1}},
	{"FU-A: a fragment of one 00 carries the count on (00 | 00 | 02)",
	 .pkts = {P(1, 1000, 0, STAP_PARAMS), P(2, 1000, 0, 0x7c, 0x85, 0x88, 0x00), P(3, 1000, 0, 0x7c, 0x05, 0x00),
		  P(4, 1000, 1, 0x7c, 0x45, 0x02, 0xdd)},
	 .ctr = {C(payload_invalid) = 1, C(frame_incomplete) = 1}},
	{"FU-A: 00 00 03 split over three fragments is emulation prevention",
	 .pkts = {P(1, 1000, 0, STAP_PARAMS), P(2, 1000, 0, 0x7c, 0x85, 0x88, 0x00), P(3, 1000, 0, 0x7c, 0x05, 0x00),
		  P(4, 1000, 1, 0x7c, 0x45, 0x03, 0x01, 0xdd)},
	 .frames = {F(1000, KEY, SC, SPS, SC, PPS, SC, 0x65, 0x88, 0x00, 0x00, 0x03, 0x01, 0xdd)}},
	{"FU-A ending in 00",
	 .pkts = {P(1, 1000, 0, STAP_PARAMS), P(2, 1000, 0, FU_S), P(3, 1000, 1, 0x7c, 0x45, 0xcc, 0x00)},
	 .ctr = {C(payload_invalid) = 1, C(frame_incomplete) = 1}},
	{"FU-A: after a lost fragment the next is scanned afresh (a loss, not invalid)",
	 .pkts = {P(1, 1000, 0, STAP_PARAMS), P(2, 1000, 0, 0x7c, 0x85, 0x88, 0x00, 0x00),
		  P(4, 1000, 1, 0x7c, 0x45, 0x01, 0xdd)},
	 .ctr = {C(frame_incomplete) = 1}},
	{"FU-A: a fragment of another type is scanned afresh (incomplete, not invalid)",
	 .pkts = {P(1, 1000, 0, STAP_PARAMS), P(2, 1000, 0, 0x7c, 0x85, 0x88, 0x00, 0x00),
		  P(3, 1000, 1, 0x7c, 0x41, 0x01, 0xdd)},
	 .ctr = {C(frame_incomplete) = 1}},
};


static void test_scenarios(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		run(&scenarios[i]);
}

/* Everything that is not a single NAL unit, STAP-A or FU-A. */
static void test_unsupported_types(void **state)
{
	static const uint8_t types[] = {0, 25, 26, 27, 29, 30, 31};

	(void)state;
	for (size_t i = 0; i < sizeof(types); i++) {
		struct fx fx;
		uint8_t pkt[] = {(uint8_t)(0x60 | types[i]), 0x00, 0x04, SPS};

		fx_init(&fx, POOL_MBUFS, FRAME_BYTES);
		push(&fx, 1, 1000, true, pkt, sizeof(pkt));
		assert_int_equal(fx.ctr.v[VIGIL_CTR_payload_invalid], 1);
		assert_int_equal(fx.ctr.v[VIGIL_CTR_frame_incomplete], 1);
		assert_int_equal(fx.d.params[VIGIL_PARAM_SPS].len, 0);
		assert_int_equal(fx.n_out, 0);
		fx_fini(&fx);
	}
}

/* A packet of RTP padding only (RFC 3550 5.1) leaves an empty payload: it
 * keeps the sequence whole and costs no frame. */
static void test_empty_payload(void **state)
{
	struct fx fx;
	const uint8_t none[1] = {0}, params[] = {STAP_PARAMS}, idr[] = {IDR}, p[] = {PSL};

	(void)state;
	fx_init(&fx, POOL_MBUFS, FRAME_BYTES);
	push(&fx, 1, 1000, false, params, sizeof(params));
	push(&fx, 2, 1000, true, idr, sizeof(idr));
	push(&fx, 3, 1000, false, none, 0);
	push(&fx, 4, 4000, true, p, sizeof(p));
	push(&fx, 5, 7000, false, none, 0);
	push(&fx, 6, 7000, true, p, sizeof(p));
	for (unsigned i = 0; i < VIGIL_CTR_MAX; i++)
		assert_int_equal(fx.ctr.v[i], 0);
	assert_int_equal(fx.n_out, 3);
	/* Padding after a loss still drops the frame the loss hit. */
	push(&fx, 8, 10000, false, none, 0);
	push(&fx, 9, 10000, true, p, sizeof(p));
	assert_int_equal(fx.n_out, 3);
	assert_int_equal(fx.ctr.v[VIGIL_CTR_frame_no_keyframe], 1);
	fx_fini(&fx);
}

/* A zero-size unit is refused before the byte after its size field (the
 * next size) could be taken for a NAL header. */
static void test_stap_zero_size_unit(void **state)
{
	uint8_t pkt[5 + 0x105] = {0x78, 0x00, 0x00, 0x01, 0x05, 0x41, 0x9a};
	struct fx fx;

	(void)state;
	fx_init(&fx, POOL_MBUFS, FRAME_BYTES);
	push(&fx, 1, 1000, true, pkt, sizeof(pkt));
	assert_int_equal(fx.ctr.v[VIGIL_CTR_payload_invalid], 1);
	fx_fini(&fx);
}

/* A frame skipped while waiting for a key frame gives its mbufs back at
 * its first slice, not at its end. */
static void test_skip_releases_buffer(void **state)
{
	struct fx fx;

	(void)state;
	fx_init(&fx, POOL_MBUFS, FRAME_BYTES);
	push(&fx, 1, 1000, false, BYTES(0x06, 0x05));
	assert_int_equal(fx_free_mbufs(&fx), POOL_MBUFS - 1);
	push(&fx, 2, 1000, false, BYTES(PSL));
	assert_int_equal(fx_free_mbufs(&fx), POOL_MBUFS);
	assert_int_equal(fx.ctr.v[VIGIL_CTR_frame_no_keyframe], 1);
	push(&fx, 3, 1000, true, BYTES(0x41, 0x1a));
	assert_int_equal(fx.ctr.v[VIGIL_CTR_frame_no_keyframe], 1);
	assert_int_equal(fx.n_out, 0);
	fx_fini(&fx);
}

/* Cached sets need an mbuf of their own: with none left (a recorder that
 * holds them all) the key frame is dropped as frame_no_buffer, and once
 * mbufs are back the stream waits for the next key frame. */
static void test_pool_exhaustion(void **state)
{
	static const uint8_t want[] = {SC, SPS, SC, PPS, SC, IDR};
	struct fx fx;

	(void)state;
	fx_init(&fx, 2, FRAME_BYTES);
	fx.hold = true;
	push(&fx, 1, 1000, true, BYTES(0x78, 0, 4, SPS, 0, 4, PPS, 0, 4, IDR));
	assert_int_equal(fx.n_out, 1);
	assert_int_equal(fx.out[0].segs, 1);
	push(&fx, 2, 4000, true, BYTES(IDR));
	assert_int_equal(fx.ctr.v[VIGIL_CTR_frame_no_buffer], 1);
	assert_int_equal(fx_free_mbufs(&fx), 1);
	rte_pktmbuf_free(fx.held[0]);
	fx.held[0] = NULL;
	push(&fx, 3, 7000, true, BYTES(PSL));
	assert_int_equal(fx.ctr.v[VIGIL_CTR_frame_no_keyframe], 1);
	push(&fx, 4, 10000, true, BYTES(IDR));
	assert_int_equal(fx.n_out, 2);
	assert_int_equal(fx.out[1].flags, KEY);
	assert_int_equal(fx.out[1].segs, 2); /* the sets' mbuf, then the packet's */
	assert_int_equal(fx.out[1].len, sizeof(want));
	assert_memory_equal(fx.out_data[1], want, sizeof(want));
	assert_int_equal(fx.ctr.v[VIGIL_CTR_frame_no_buffer], 1);
	assert_int_equal(fx.ctr.v[VIGIL_CTR_frame_incomplete], 0);
	fx_fini(&fx);
}

/* Aggregated units are moved down in their mbuf to make room for start
 * codes, into what the headers took: about 90 units fit, more are
 * refused as payload_invalid. */
static void test_stap_many_units(void **state)
{
	uint8_t stap[1 + 96 * 3 + 5] = {0x78};
	uint8_t want[96 * 5 + 7];
	size_t len = 1, n_aud;
	struct fx fx;

	(void)state;
	fx_init(&fx, POOL_MBUFS, FRAME_BYTES);
	push(&fx, 1, 1000, true, BYTES(0x78, 0, 4, SPS, 0, 4, PPS, 0, 4, IDR));
	for (n_aud = 0; n_aud < 89; n_aud++) {
		memcpy(stap + len, (const uint8_t[]){0, 1, 0x09}, 3);
		memcpy(want + n_aud * 5, (const uint8_t[]){SC, 0x09}, 5);
		len += 3;
	}
	memcpy(stap + len, (const uint8_t[]){0, 3, PSL}, 5);
	memcpy(want + n_aud * 5, (const uint8_t[]){SC, PSL}, 7);
	push(&fx, 2, 4000, true, stap, len + 5);
	assert_int_equal(fx.n_out, 2);
	assert_int_equal(fx.out[1].len, 89 * 5 + 7);
	assert_memory_equal(fx.out_data[1], want, 89 * 5 + 7);
	assert_int_equal(fx.ctr.v[VIGIL_CTR_payload_invalid], 0);
	for (; n_aud < 96; n_aud++, len += 3)
		memcpy(stap + len, (const uint8_t[]){0, 1, 0x09}, 3);
	memcpy(stap + len, (const uint8_t[]){0, 3, PSL}, 5);
	push(&fx, 3, 7000, true, stap, len + 5);
	assert_int_equal(fx.n_out, 2);
	assert_int_equal(fx.ctr.v[VIGIL_CTR_payload_invalid], 1);
	fx_fini(&fx);
}

static void test_frame_fields(void **state)
{
	struct fx fx;

	(void)state;
	fx_init(&fx, POOL_MBUFS, FRAME_BYTES);
	push_at(&fx, 41, 0xfffffff0, false, BYTES(STAP_PARAMS), 111);
	push_at(&fx, 42, 0xfffffff0, true, BYTES(IDR), 222);
	assert_int_equal(fx.n_out, 1);
	assert_int_equal(fx.out[0].camera, 7);
	assert_int_equal(fx.out[0].rtp_ts, 0xfffffff0);
	assert_int_equal(fx.out[0].arrival_ns, 111);
	assert_int_equal(fx.out[0].flags, KEY);
	assert_int_equal(fx.out[0].segs, 2);
	assert_false(fx.d.need_key);
	fx_fini(&fx);
}

/* Sets above VIGIL_PARAM_SET_MAX travel with their frame but are not
 * cached, and they retire an older cached set of the same kind. */
static void test_param_set_too_large(void **state)
{
	static uint8_t big[VIGIL_PARAM_SET_MAX + 1] = {0x67, 0x42, 0x00, 0x1f};
	struct fx fx;

	(void)state;
	memset(big + 4, 0x5a, sizeof(big) - 4); /* 00 00 00 would make it invalid */
	fx_init(&fx, POOL_MBUFS, FRAME_BYTES);
	push(&fx, 1, 1000, false, BYTES(STAP_PARAMS));
	assert_int_equal(fx.d.params[VIGIL_PARAM_SPS].len, 4);
	push(&fx, 2, 1000, false, big, sizeof(big));
	assert_int_equal(fx.d.params[VIGIL_PARAM_SPS].len, 0);
	push(&fx, 3, 1000, true, BYTES(IDR));
	assert_int_equal(fx.n_out, 1);
	assert_int_equal(fx.out[0].len, 4 + 4 + 4 + 4 + 4 + sizeof(big) + 4 + 4);
	push(&fx, 4, 4000, true, BYTES(IDR));
	assert_int_equal(fx.n_out, 1);
	assert_int_equal(fx.ctr.v[VIGIL_CTR_frame_no_keyframe], 1);
	push(&fx, 5, 7000, false, big, VIGIL_PARAM_SET_MAX);
	assert_int_equal(fx.d.params[VIGIL_PARAM_SPS].len, VIGIL_PARAM_SET_MAX);
	fx_fini(&fx);
}

/* Only a whole SPS or PPS of this codec, within the size limit, is taken,
 * and cached under its kind. */
static void test_seed(void **state)
{
	static const struct {
		uint8_t b[5];
		uint8_t len;
		int kind; /* where it is cached, or -1: refused with -EINVAL */
	} cases[] = {
		{{SPS}, 4, VIGIL_PARAM_SPS},
		{{PPS}, 4, VIGIL_PARAM_PPS},
		{{IDR}, 4, -1},
		{{0x06, 0x05, 0x01}, 3, -1},             /* SEI */
		{{0x67}, 1, -1},                         /* header only */
		{{0xe7, 0x42, 0x00, 0x1f}, 4, -1},       /* forbidden bit */
		{{0x78, 0x00, 0x04, 0x67, 0x42}, 5, -1}, /* STAP-A */
		{{0x40, 0x01, 0x0c, 0x01}, 4, -1},       /* an H.265 VPS */
		{{0x67, 0x42, 0x00, 0x00, 0x01}, 5, -1}, /* a start code prefix inside */
		{{0x67, 0x42, 0x00}, 3, -1},             /* ending in 00 */
		{{0}, 0, -1},
	};
	static uint8_t big[VIGIL_PARAM_SET_MAX + 1] = {0x67, 0x42, 0x00, 0x1f};
	struct vigil_depay d;

	(void)state;
	memset(big + 4, 0x5a, sizeof(big) - 4); /* zeros would be start code prefixes */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		vigil_depay_init(&d, VIGIL_CODEC_H264);
		if (vigil_depay_seed_params(&d, cases[i].b, cases[i].len) != (cases[i].kind < 0 ? -EINVAL : 0))
			fail_msg("case %zu: wrong return", i);
		for (int k = 0; k < VIGIL_PARAM_KINDS; k++)
			assert_int_equal(d.params[k].len, k == cases[i].kind ? cases[i].len : 0);
	}
	vigil_depay_init(&d, VIGIL_CODEC_H264);
	assert_int_equal(vigil_depay_seed_params(&d, big, sizeof(big)), -EINVAL);
	assert_int_equal(vigil_depay_seed_params(&d, big, VIGIL_PARAM_SET_MAX), 0);
	assert_int_equal(d.params[VIGIL_PARAM_SPS].len, VIGIL_PARAM_SET_MAX);
	assert_memory_equal(d.params[VIGIL_PARAM_SPS].nal, big, VIGIL_PARAM_SET_MAX);
}

/* Every width of the start code prefix scan against the definition, three
 * bytes at a time over the carried zeros and the bytes: a prefix at every
 * position of buffers of up to 100 bytes (so at and across each 8, 16 and
 * 32-byte block boundary), then random zero-heavy buffers. */
static bool scan_reference(const uint8_t *p, size_t len, unsigned *zeros)
{
	uint8_t all[2 + 256];
	size_t n = 0;
	unsigned z = 0;

	for (unsigned k = 0; k < *zeros; k++)
		all[n++] = 0;
	memcpy(all + n, p, len);
	n += len;
	for (size_t j = 2; j < n; j++)
		if (all[j - 2] == 0 && all[j - 1] == 0 && all[j] <= 2)
			return false;
	while (z < 2 && z < n && all[n - 1 - z] == 0)
		z++;
	*zeros = z;
	return true;
}

static void scan_check(const uint8_t *p, size_t len, unsigned zeros)
{
	unsigned want_z = zeros, z;
	bool want = scan_reference(p, len, &want_z);

	for (size_t w = 0; w < DEPAY_SCAN_WIDTHS; w++) {
		if (!depay_scan_width_usable(&depay_scan_widths[w]))
			continue;
		z = zeros;
		if (depay_scan_with(depay_scan_widths[w].blocks, p, len, &z) != want || (want && z != want_z))
			fail_msg("%s, %zu bytes after %u zeros: %d, want %d (zeros %u, want %u)",
				 depay_scan_widths[w].name, len, zeros, !want, want, z, want_z);
	}
	z = zeros;
	assert_true(depay_scan(p, len, &z) == want);
}

static void test_scan(void **state)
{
	uint8_t buf[256];
	uint64_t seed = 0x9e3779b97f4a7c15u;

	(void)state;
	for (size_t len = 0; len <= 100; len++) {
		for (unsigned zeros = 0; zeros <= 2; zeros++) {
			memset(buf, 0x5a, len);
			scan_check(buf, len, zeros);
			for (size_t j = 0; j < len; j++) {
				for (unsigned third = 0; third <= 3; third++) {
					memset(buf, 0x5a, len);
					buf[j] = 0;
					if (j + 1 < len)
						buf[j + 1] = 0;
					if (j + 2 < len)
						buf[j + 2] = (uint8_t)third;
					scan_check(buf, len, zeros);
				}
			}
		}
	}
	for (unsigned round = 0; round < 200000; round++) {
		size_t len;

		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		len = seed % sizeof(buf);
		for (size_t j = 0; j < len; j++) {
			static const uint8_t bytes[] = {0, 0, 0, 1, 2, 3, 0x5a, 0x80};

			seed ^= seed << 13;
			seed ^= seed >> 7;
			seed ^= seed << 17;
			/* Mostly not 00, so that some buffers have no prefix. */
			buf[j] = seed % 8 ? 0x5a + (uint8_t)(seed >> 8 & 3) : bytes[seed >> 8 & 7];
		}
		scan_check(buf, len, (unsigned)(seed >> 20) % 3);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scenarios),
		cmocka_unit_test(test_unsupported_types),
		cmocka_unit_test(test_empty_payload),
		cmocka_unit_test(test_stap_zero_size_unit),
		cmocka_unit_test(test_skip_releases_buffer),
		cmocka_unit_test(test_pool_exhaustion),
		cmocka_unit_test(test_stap_many_units),
		cmocka_unit_test(test_frame_fields),
		cmocka_unit_test(test_param_set_too_large),
		cmocka_unit_test(test_seed),
		cmocka_unit_test(test_scan),
	};

	fx_eal("test_depay_h264");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
