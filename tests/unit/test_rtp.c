/* SPDX-License-Identifier: MIT */
/* RTP header checks: a table of headers (version, CSRCs, extension, room
 * for the tag), the RTP/RTCP demultiplexing rule and padding edge cases. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rtp.h"

#define B(...) .len = sizeof((uint8_t[]){__VA_ARGS__}), .b = {__VA_ARGS__}
/* seq 0x1234, ts 0x01020304, ssrc 0xcafebabe */
#define FIXED 0x12, 0x34, 1, 2, 3, 4, 0xca, 0xfe, 0xba, 0xbe

static const struct {
	const char *name;
	size_t len;
	uint8_t b[96];
	size_t tag_len;
	int rc;
	uint16_t hdr_len;
} headers[] = {
	{"minimal", B(0x80, 0x60, FIXED), 0, 0, 12},
	{"marker and payload", B(0x80, 0xe0, FIXED, 0x65), 0, 0, 12},
	{"11 bytes", B(0x80, 0x60, 0x12, 0x34, 1, 2, 3, 4, 0xca, 0xfe, 0xba), 0, -EBADMSG, 0},
	{"empty", .len = 0, .rc = -EBADMSG},
	{"version 0", B(0x00, 0x60, FIXED), 0, -EBADMSG, 0},
	{"version 1", B(0x40, 0x60, FIXED), 0, -EBADMSG, 0},
	{"version 3", B(0xc0, 0x60, FIXED), 0, -EBADMSG, 0},
	{"2 CSRCs", B(0x82, 0x60, FIXED, 1, 1, 1, 1, 2, 2, 2, 2), 0, 0, 20},
	{"2 CSRCs, 7 bytes", B(0x82, 0x60, FIXED, 1, 1, 1, 1, 2, 2, 2), 0, -EBADMSG, 0},
	{"15 CSRCs, none there", B(0x8f, 0x60, FIXED, 0x65), 0, -EBADMSG, 0},
	{"extension, 1 word", B(0x90, 0x60, FIXED, 0xbe, 0xde, 0, 1, 9, 9, 9, 9), 0, 0, 20},
	{"extension, 0 words", B(0x90, 0x60, FIXED, 0xbe, 0xde, 0, 0), 0, 0, 16},
	{"extension header cut", B(0x90, 0x60, FIXED, 0xbe, 0xde, 0), 0, -EBADMSG, 0},
	{"extension, word cut", B(0x90, 0x60, FIXED, 0xbe, 0xde, 0, 1, 9, 9, 9), 0, -EBADMSG, 0},
	{"extension, 65535 words", B(0x90, 0x60, FIXED, 0xbe, 0xde, 0xff, 0xff, 9, 9, 9, 9), 0, -EBADMSG, 0},
	{"CSRC + extension", B(0x91, 0x60, FIXED, 1, 1, 1, 1, 0xbe, 0xde, 0, 2, 9, 9, 9, 9, 9, 9, 9, 9), 0, 0,
	 28},
	{"CSRC + extension cut", B(0x91, 0x60, FIXED, 1, 1, 1, 1, 0xbe, 0xde, 0, 2, 9, 9, 9, 9), 0, -EBADMSG, 0},
	{"room for tag", B(0x80, 0x60, FIXED, 0, 0, 0, 0), 4, 0, 12},
	{"tag cut", B(0x80, 0x60, FIXED, 0, 0, 0), 4, -EBADMSG, 0},
	{"extension eats tag", B(0x90, 0x60, FIXED, 0xbe, 0xde, 0, 1, 9, 9, 9, 9, 0, 0), 4, -EBADMSG, 0},
	{"extension leaves tag", B(0x90, 0x60, FIXED, 0xbe, 0xde, 0, 1, 9, 9, 9, 9, 0, 0, 0, 0), 4, 0, 20},
};

static void test_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		struct vigil_rtp rtp = {0};
		int rc = vigil_rtp_parse(headers[i].b, headers[i].len, headers[i].tag_len, &rtp);

		if (rc != headers[i].rc || (rc == 0 && rtp.hdr_len != headers[i].hdr_len))
			fail_msg("%s: rc %d hdr_len %u", headers[i].name, rc, rtp.hdr_len);
	}
}

static void test_parse_fields(void **state)
{
	const uint8_t pkt[] = {0xa0, 0xe1, FIXED, 0x65, 0x01};
	struct vigil_rtp rtp;

	(void)state;
	assert_int_equal(vigil_rtp_parse(pkt, sizeof(pkt), 0, &rtp), 0);
	assert_int_equal(rtp.seq, 0x1234);
	assert_int_equal(rtp.ts, 0x01020304);
	assert_int_equal(rtp.ssrc, 0xcafebabe);
	assert_int_equal(rtp.pt, 0x61);
	assert_true(rtp.marker);
	assert_true(rtp.padding);
	assert_int_equal(rtp.hdr_len, 12);
}

static void test_rtcp_demux(void **state)
{
	static const struct {
		uint8_t b[2];
		size_t len;
		bool rtcp;
	} cases[] = {
		{{0x80, 200}, 2, true},  /* SR */
		{{0x81, 201}, 2, true},  /* RR */
		{{0x80, 192}, 2, true},  /* lowest */
		{{0x80, 223}, 2, true},  /* highest */
		{{0x80, 191}, 2, false}, /* RTP, marker, PT 63 */
		{{0x80, 224}, 2, false}, /* RTP, marker, PT 96 */
		{{0x80, 0x60}, 2, false},
		{{0x40, 200}, 2, false}, /* not version 2 */
		{{0x80, 200}, 1, false},
		{{0x80, 200}, 0, false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(vigil_rtp_is_rtcp(cases[i].b, cases[i].len), cases[i].rtcp);
}

static void test_padding(void **state)
{
	const struct vigil_rtp padded = {.padding = true}, plain = {.padding = false};
	uint8_t p[8] = {0x65, 1, 2, 3, 4, 5, 6, 0};

	(void)state;
	assert_int_equal(vigil_rtp_strip_padding(&plain, p, sizeof(p)), 8);
	assert_int_equal(vigil_rtp_strip_padding(&plain, p, 0), 0);
	/* P = 0: the count includes itself, so 0 is invalid. */
	assert_int_equal(vigil_rtp_strip_padding(&padded, p, sizeof(p)), -EBADMSG);
	p[7] = 1;
	assert_int_equal(vigil_rtp_strip_padding(&padded, p, sizeof(p)), 7);
	p[7] = 3;
	assert_int_equal(vigil_rtp_strip_padding(&padded, p, sizeof(p)), 5);
	p[7] = 8; /* P = len: nothing left, valid */
	assert_int_equal(vigil_rtp_strip_padding(&padded, p, sizeof(p)), 0);
	p[7] = 9; /* P > len */
	assert_int_equal(vigil_rtp_strip_padding(&padded, p, sizeof(p)), -EBADMSG);
	p[7] = 255;
	assert_int_equal(vigil_rtp_strip_padding(&padded, p, sizeof(p)), -EBADMSG);
	assert_int_equal(vigil_rtp_strip_padding(&padded, p, 0), -EBADMSG);
	p[0] = 1;
	assert_int_equal(vigil_rtp_strip_padding(&padded, p, 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_parse_fields),
		cmocka_unit_test(test_rtcp_demux),
		cmocka_unit_test(test_padding),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
