/* SPDX-License-Identifier: MIT */
/* RTCP feedback and RTX payloads (proto/rtcp_fb.h) against packets built
 * by hand from RFC 3550, RFC 4585 and RFC 4588, against packets GStreamer
 * made (rtcp_fb_gst_vectors.h), and the parser against malformed ones. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rtcp_fb.h"
#include "rtcp_fb_gst_vectors.h"

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

/* ---- Against GStreamer (rtcp_fb_gst_vectors.h) ----------------------- */

#define GST_N_MISSING (sizeof(gst_nack_missing) / sizeof(gst_nack_missing[0]))

/* Where each packet of a compound ends, by the length fields alone (not
 * by the parser under test); they must tile it exactly. */
static unsigned rtcp_ends(const uint8_t *pkt, size_t len, size_t *ends, unsigned max)
{
	unsigned n = 0;

	for (size_t at = 0; at < len; at = ends[n++]) {
		assert_true(n < max && at + 4 <= len);
		ends[n] = at + ((size_t)pkt[at + 2] << 8 | pkt[at + 3]) * 4 + 4;
	}
	assert_int_equal(ends[n - 1], len);
	return n;
}

/* The first packet of type pt and FMT fmt: its offset, its length in
 * *plen. */
static size_t rtcp_find(const uint8_t *pkt, size_t len, unsigned pt, unsigned fmt, size_t *plen)
{
	size_t ends[16], at = 0;
	unsigned n = rtcp_ends(pkt, len, ends, 16);

	for (unsigned i = 0; i < n; at = ends[i++])
		if (pkt[at + 1] == pt && (pkt[at] & 0x1f) == fmt) {
			*plen = ends[i] - at;
			return at;
		}
	fail_msg("no packet of type %u FMT %u", pt, fmt);
	return 0;
}

/* A compound cut anywhere but between its packets is refused whole. */
static void assert_cuts(const uint8_t *pkt, size_t len, uint32_t ssrc)
{
	struct vigil_rtcp_feedback fb;
	size_t ends[16];
	unsigned n = rtcp_ends(pkt, len, ends, 16), k = 0;

	for (size_t cut = 1; cut < len; cut++) {
		bool boundary = k < n && cut == ends[k];

		k += boundary;
		assert_int_equal(vigil_rtcp_feedback_parse(pkt, cut, ssrc, &fb), boundary ? 0 : -EINVAL);
	}
}

/* rtpbin's jitterbuffer NACKed what the stream left out: the parser
 * yields exactly those numbers, in RTP order, for the media SSRC only. */
static void test_gst_nack_parse(void **state)
{
	static const uint32_t others[] = {GST_OTHER_SSRC, GST_RECEIVER_SSRC};
	struct vigil_rtcp_feedback fb;

	(void)state;
	assert_int_equal(
	    vigil_rtcp_feedback_parse(gst_nack_compound, sizeof(gst_nack_compound), GST_MEDIA_SSRC, &fb), 0);
	assert_int_equal(fb.n_nack, GST_N_MISSING);
	assert_memory_equal(fb.nack, gst_nack_missing, sizeof(gst_nack_missing));
	assert_int_equal(fb.nack_over, 0);
	assert_false(fb.pli);
	/* The other sender in the session, and rtpbin itself: nothing. */
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(
		    vigil_rtcp_feedback_parse(gst_nack_compound, sizeof(gst_nack_compound), others[i], &fb),
		    0);
		assert_int_equal(fb.n_nack, 0);
		assert_false(fb.pli);
	}
	assert_cuts(gst_nack_compound, sizeof(gst_nack_compound), GST_MEDIA_SSRC);
}

/* Our NACK for the same numbers is GStreamer's, byte for byte: both start
 * an entry at the lowest number not yet covered and fold the 16 after it
 * into its BLP (here two entries: 1010 with BLP 0x004f, 1028 with 0x0001). */
static void test_gst_nack_write(void **state)
{
	struct vigil_rtcp_feedback fb;
	uint8_t out[64];
	size_t plen, at = rtcp_find(gst_nack_compound, sizeof(gst_nack_compound), VIGIL_RTCP_RTPFB, 1, &plen);
	unsigned taken;

	(void)state;
	assert_int_equal(plen, 12 + 2 * 4);
	assert_int_equal(vigil_rtcp_nack(out, sizeof(out), GST_RECEIVER_SSRC, GST_MEDIA_SSRC,
					 gst_nack_missing, GST_N_MISSING, &taken),
			 plen);
	assert_int_equal(taken, GST_N_MISSING);
	assert_memory_equal(out, gst_nack_compound + at, plen);
	assert_int_equal(vigil_rtcp_feedback_parse(out, plen, GST_MEDIA_SSRC, &fb), 0);
	assert_int_equal(fb.n_nack, GST_N_MISSING);
	assert_memory_equal(fb.nack, gst_nack_missing, sizeof(gst_nack_missing));
}

/* A GstForceKeyUnit on rtpbin's receive pad: a PLI for the media SSRC,
 * not for the other sender, and ours is the same packet. */
static void test_gst_pli(void **state)
{
	struct vigil_rtcp_feedback fb;
	uint8_t out[16];
	size_t plen, at = rtcp_find(gst_pli_compound, sizeof(gst_pli_compound), VIGIL_RTCP_PSFB, 1, &plen);

	(void)state;
	assert_int_equal(
	    vigil_rtcp_feedback_parse(gst_pli_compound, sizeof(gst_pli_compound), GST_MEDIA_SSRC, &fb), 0);
	assert_true(fb.pli);
	assert_int_equal(fb.n_nack, 0);
	assert_int_equal(
	    vigil_rtcp_feedback_parse(gst_pli_compound, sizeof(gst_pli_compound), GST_OTHER_SSRC, &fb), 0);
	assert_false(fb.pli);
	assert_int_equal(
	    vigil_rtcp_feedback_parse(gst_pli_compound, sizeof(gst_pli_compound), GST_RECEIVER_SSRC, &fb), 0);
	assert_false(fb.pli);
	assert_cuts(gst_pli_compound, sizeof(gst_pli_compound), GST_MEDIA_SSRC);
	assert_int_equal(plen, VIGIL_RTCP_PLI_LEN);
	assert_int_equal(vigil_rtcp_pli(out, sizeof(out), GST_RECEIVER_SSRC, GST_MEDIA_SSRC), plen);
	assert_memory_equal(out, gst_pli_compound + at, plen);
}

/* An RTP packet's payload (RFC 3550 5.1: after the CSRCs and any
 * extension); GStreamer pads neither packet. */
static const uint8_t *rtp_payload(const uint8_t *pkt, size_t len, size_t *plen)
{
	size_t off = 12 + 4 * (size_t)(pkt[0] & 0x0f);

	assert_int_equal(pkt[0] >> 6, 2);
	assert_int_equal(pkt[0] & 0x20, 0);
	if (pkt[0] & 0x10) {
		assert_true(off + 4 <= len);
		off += 4 + 4 * ((size_t)pkt[off + 2] << 8 | pkt[off + 3]);
	}
	assert_true(off <= len);
	*plen = len - off;
	return pkt + off;
}

/* rtprtxsend's answer to a retransmission request: unwrapped, the
 * original's sequence number and payload; the original wrapped, its
 * payload byte for byte. */
static void test_gst_rtx(void **state)
{
	const uint8_t *orig = gst_rtx_original, *rtx = gst_rtx_packet;
	size_t olen, rlen;
	const uint8_t *opl = rtp_payload(orig, sizeof(gst_rtx_original), &olen);
	const uint8_t *rpl = rtp_payload(rtx, sizeof(gst_rtx_packet), &rlen);
	uint16_t seq = (uint16_t)(orig[2] << 8 | orig[3]), osn = 0;
	uint8_t out[sizeof(gst_rtx_packet)];

	(void)state;
	/* RFC 4588 4: the RTX stream's SSRC and payload type, the original's
	 * timestamp and marker. */
	assert_int_equal(seq, GST_RTX_OSN);
	assert_int_equal(orig[1], GST_PT);
	assert_int_equal(rtx[1] & 0x7f, GST_RTX_PT);
	assert_int_equal(rtx[1] & 0x80, orig[1] & 0x80);
	assert_memory_equal(rtx + 4, orig + 4, 4);
	assert_int_equal((uint32_t)rtx[8] << 24 | (uint32_t)rtx[9] << 16 | (uint32_t)rtx[10] << 8 | rtx[11],
			 GST_RTX_SSRC);
	assert_true(olen > 2);
	assert_int_equal(rlen, olen + 2);

	assert_int_equal(vigil_rtx_unwrap(rpl, rlen, &osn), 2);
	assert_int_equal(osn, seq);
	assert_memory_equal(rpl + 2, opl, olen);

	memset(out, 0, sizeof(out));
	assert_int_equal(vigil_rtx_wrap(out, sizeof(out), seq, opl, olen), rlen);
	assert_memory_equal(out, rpl, rlen);
	assert_int_equal(vigil_rtx_wrap(out, rlen - 1, seq, opl, olen), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rr),
	    cmocka_unit_test(test_nack),
	    cmocka_unit_test(test_pli),
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_parse_malformed),
	    cmocka_unit_test(test_parse_bounded),
	    cmocka_unit_test(test_rtx),
	    cmocka_unit_test(test_gst_nack_parse),
	    cmocka_unit_test(test_gst_nack_write),
	    cmocka_unit_test(test_gst_pli),
	    cmocka_unit_test(test_gst_rtx),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
