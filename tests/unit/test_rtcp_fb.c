/* SPDX-License-Identifier: MIT */
/* RTCP feedback and RTX payloads (proto/rtcp_fb.h) against packets built
 * by hand from RFC 3550, RFC 4585 and RFC 4588, and the parser against
 * malformed ones. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rtcp_fb.h"

/* RFC 3550 6.4.2: V=2 RC=1 PT=201 length 7, SSRC, one report block. */
static void test_rr(void **state)
{
	static const uint8_t want[] = {
	    0x81, 201,	0x00, 0x07, 0x11, 0x22, 0x33, 0x44, /* header, sender SSRC */
	    0xaa, 0xbb, 0xcc, 0xdd,			    /* SSRC of the source */
	    0x20, 0xff, 0xff, 0xfe,			    /* fraction 32/256, cumulative -2 */
	    0x00, 0x01, 0x10, 0x00,			    /* extended highest sequence number */
	    0x00, 0x00, 0x00, 0x2a,			    /* jitter */
	    0x12, 0x34, 0x56, 0x78,			    /* LSR */
	    0x00, 0x01, 0x00, 0x00,			    /* DLSR */
	};
	const struct vigil_rtcp_report rb = {.ssrc = 0xaabbccdd, .fraction_lost = 32, .cumulative_lost = -2,
					     .highest_seq = 0x11000, .jitter = 42, .lsr = 0x12345678, .dlsr = 0x10000};
	uint8_t out[64];

	(void)state;
	assert_int_equal(vigil_rtcp_rr(out, sizeof(out), 0x11223344, &rb), sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(vigil_rtcp_rr(out, sizeof(want) - 1, 0x11223344, &rb), 0);
	/* No block: RC=0, length 1. */
	assert_int_equal(vigil_rtcp_rr(out, sizeof(out), 0x11223344, NULL), 8);
	assert_memory_equal(out, ((const uint8_t[]){0x80, 201, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44}), 8);
}

/* RFC 4585 6.2.1: FMT=1 PT=205, sender and media SSRC, then PID+BLP
 * entries: BLP bit i for PID+i+1. */
static void test_nack(void **state)
{
	static const uint16_t missing[] = {100, 101, 105, 116, 117, 200, 65535, 0, 3};
	static const uint8_t want[] = {
	    0x81, 205,	0x00, 0x06, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* header, SSRCs */
	    0x00, 100,	0x80, 0x11,				    /* 100: 101, 105, 116 */
	    0x00, 117,	0x00, 0x00,				    /* 117 alone (118 + 16 < 200) */
	    0x00, 200,	0x00, 0x00,				    /* 200: 65535 is 65,335 after it */
	    0xff, 0xff, 0x00, 0x09,				    /* 65535: 0 and 3, across the wrap */
	};
	uint8_t out[64];
	unsigned taken;

	(void)state;
	assert_int_equal(vigil_rtcp_nack(out, sizeof(out), 0x01020304, 0x05060708, missing, 9, &taken), sizeof(want));
	assert_int_equal(taken, 9);
	assert_memory_equal(out, want, sizeof(want));
	/* Room for two entries: the first five numbers, said so. */
	assert_int_equal(vigil_rtcp_nack(out, 20, 0x01020304, 0x05060708, missing, 9, &taken), 20);
	assert_int_equal(taken, 5);
	assert_int_equal(out[3], 4);
	assert_int_equal(vigil_rtcp_nack(out, 15, 1, 2, missing, 9, &taken), 0);
	assert_int_equal(taken, 0);
	assert_int_equal(vigil_rtcp_nack(out, sizeof(out), 1, 2, missing, 0, &taken), 0);
}

/* RFC 4585 6.3.1: FMT=1 PT=206, length 2, no FCI. */
static void test_pli(void **state)
{
	uint8_t out[16];

	(void)state;
	assert_int_equal(vigil_rtcp_pli(out, sizeof(out), 0x01020304, 0x05060708), 12);
	assert_memory_equal(out, ((const uint8_t[]){0x81, 206, 0x00, 0x02, 1, 2, 3, 4, 5, 6, 7, 8}), 12);
	assert_int_equal(vigil_rtcp_pli(out, 11, 1, 2), 0);
}

/* A compound as vigild sends it (RR first, RFC 3550 6.1), a NACK and a
 * PLI for the camera and a NACK for another SSRC; reduced-size too. */
static size_t compound(uint8_t *out, const uint16_t *missing, unsigned n)
{
	size_t len = vigil_rtcp_rr(out, 256, 0xfeed, NULL);
	unsigned taken;

	len += vigil_rtcp_nack(out + len, 256, 0xfeed, 0xcafe, missing, n, &taken);
	len += vigil_rtcp_nack(out + len, 256, 0xfeed, 0xbeef, missing, n, &taken);
	len += vigil_rtcp_pli(out + len, 256, 0xfeed, 0xcafe);
	return len;
}

static void test_parse(void **state)
{
	static const uint16_t missing[] = {7, 8, 9, 30, 65530, 65535, 1};
	struct vigil_rtcp_feedback fb;
	uint8_t pkt[1024];
	size_t len = compound(pkt, missing, 7), bounds[4] = {8, 8 + 24, 8 + 48, 8 + 48 + 12};

	(void)state;
	assert_int_equal(len, bounds[3]);
	assert_int_equal(vigil_rtcp_feedback_parse(pkt, len, 0xcafe, &fb), 0);
	assert_int_equal(fb.n_nack, 7);
	assert_memory_equal(fb.nack, missing, sizeof(missing));
	assert_true(fb.pli);
	assert_int_equal(vigil_rtcp_feedback_parse(pkt, len, 0xbeef, &fb), 0);
	assert_int_equal(fb.n_nack, 7);
	assert_false(fb.pli);
	assert_int_equal(vigil_rtcp_feedback_parse(pkt, len, 0x1234, &fb), 0);
	assert_int_equal(fb.n_nack, 0);
	assert_false(fb.pli);
	/* Reduced-size (RFC 5506): the PLI alone. */
	assert_int_equal(vigil_rtcp_feedback_parse(pkt + bounds[2], 12, 0xcafe, &fb), 0);
	assert_true(fb.pli);
	/* Cut anywhere but between packets: refused whole. */
	for (size_t cut = 1; cut < len; cut++) {
		bool boundary = cut == bounds[0] || cut == bounds[1] || cut == bounds[2];

		assert_int_equal(vigil_rtcp_feedback_parse(pkt, cut, 0xcafe, &fb), boundary ? 0 : -EINVAL);
	}
}

static void test_parse_malformed(void **state)
{
	struct vigil_rtcp_feedback fb;
	uint8_t pkt[64];
	size_t len;

	(void)state;
	len = vigil_rtcp_pli(pkt, sizeof(pkt), 1, 2);
	pkt[0] = (pkt[0] & 0x3f) | 0x40; /* version 1 */
	assert_int_equal(vigil_rtcp_feedback_parse(pkt, len, 2, &fb), -EINVAL);
	len = vigil_rtcp_pli(pkt, sizeof(pkt), 1, 2);
	pkt[3] = 3; /* says 16 bytes, has 12 */
	assert_int_equal(vigil_rtcp_feedback_parse(pkt, len, 2, &fb), -EINVAL);
	len = vigil_rtcp_pli(pkt, sizeof(pkt), 1, 2);
	pkt[3] = 1; /* a feedback packet of 8 bytes: no media SSRC */
	assert_int_equal(vigil_rtcp_feedback_parse(pkt, 8, 2, &fb), -EINVAL);
	/* Padding: a count of 0, or past the header, refused; within it, the
	 * padding is not read as NACK entries. */
	len = vigil_rtcp_pli(pkt, sizeof(pkt), 1, 2);
	memset(pkt + len, 0xff, 4);
	pkt[0] |= 0x20;
	pkt[3] = 3;
	pkt[len + 3] = 0;
	assert_int_equal(vigil_rtcp_feedback_parse(pkt, len + 4, 2, &fb), -EINVAL);
	pkt[len + 3] = 13;
	assert_int_equal(vigil_rtcp_feedback_parse(pkt, len + 4, 2, &fb), -EINVAL);
	pkt[1] = 205; /* a NACK whose only "entry" is padding */
	pkt[len + 3] = 4;
	assert_int_equal(vigil_rtcp_feedback_parse(pkt, len + 4, 2, &fb), 0);
	assert_int_equal(fb.n_nack, 0);
	assert_int_equal(vigil_rtcp_feedback_parse(pkt, 0, 2, &fb), 0);
}

/* A NACK naming more numbers than a parse keeps: the rest counted. */
static void test_parse_bounded(void **state)
{
	struct vigil_rtcp_feedback fb;
	uint8_t pkt[12 + 100 * 4];

	(void)state;
	assert_int_equal(vigil_rtcp_pli(pkt, sizeof(pkt), 1, 2), 12);
	pkt[1] = 205;
	pkt[3] = 2 + 100;
	for (unsigned i = 0; i < 100; i++) {
		pkt[12 + 4 * i] = (uint8_t)(i >> 8);
		pkt[12 + 4 * i + 1] = (uint8_t)(i * 17);
		pkt[12 + 4 * i + 2] = pkt[12 + 4 * i + 3] = 0xff;
	}
	assert_int_equal(vigil_rtcp_feedback_parse(pkt, sizeof(pkt), 2, &fb), 0);
	assert_int_equal(fb.n_nack, VIGIL_RTCP_NACK_MAX);
	assert_int_equal(fb.nack_over, 100 * 17 - VIGIL_RTCP_NACK_MAX);
}

/* RFC 4588 4: OSN, then the original payload. */
static void test_rtx(void **state)
{
	const uint8_t payload[] = {0x7c, 0x85, 1, 2, 3};
	uint8_t out[16];
	uint16_t osn;

	(void)state;
	assert_int_equal(vigil_rtx_wrap(out, sizeof(out), 0xabcd, payload, sizeof(payload)), 7);
	assert_memory_equal(out, ((const uint8_t[]){0xab, 0xcd, 0x7c, 0x85, 1, 2, 3}), 7);
	assert_int_equal(vigil_rtx_unwrap(out, 7, &osn), 2);
	assert_int_equal(osn, 0xabcd);
	assert_int_equal(vigil_rtx_unwrap(out, 1, &osn), -EINVAL);
	assert_int_equal(vigil_rtx_wrap(out, 6, 1, payload, sizeof(payload)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rr),		    cmocka_unit_test(test_nack),
	    cmocka_unit_test(test_pli),		    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_parse_malformed), cmocka_unit_test(test_parse_bounded),
	    cmocka_unit_test(test_rtx),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
