/* SPDX-License-Identifier: MIT */
/* RTP packetization, checked against the depacketizer: access units of
 * both codecs, with NAL units that fit a packet and ones that need
 * fragmentation units, 3- and 4-byte start codes, at several payload
 * sizes, come back out of depay.c byte for byte (4-byte start codes), with
 * the marker on each access unit's last packet only. */

#define FX_CODEC VIGIL_CODEC_H264
#include "depay_fixture.h"
#include "packetize.h"

struct sent {
	struct fx *fx;
	uint64_t idx;
	uint32_t ts;
	unsigned packets, markers;
	size_t max;
};

static void to_depay(void *arg, const uint8_t *payload, size_t len, bool marker)
{
	struct sent *s = arg;

	assert_true(len >= 1 && len <= s->max);
	s->packets++;
	s->markers += marker;
	push(s->fx, s->idx++, s->ts, marker, payload, len);
}

/* An access unit: NAL units of the given sizes after the given headers,
 * bodies of bytes that hold no start code. */
static size_t make_au(uint8_t *au, const uint8_t hdrs[][2], const size_t *sizes, unsigned n, size_t hdr_len,
		      uint8_t *want, size_t *want_len)
{
	size_t len = 0, w = 0;

	for (unsigned i = 0; i < n; i++) {
		unsigned sc = i % 2 ? 3 : 4;

		memcpy(au + len, (const uint8_t[]){0, 0, 0, 1} + 4 - sc, sc);
		len += sc;
		memcpy(want + w, (const uint8_t[]){0, 0, 0, 1}, 4);
		w += 4;
		for (size_t k = 0; k < sizes[i]; k++) {
			uint8_t b = k < hdr_len ? hdrs[i][k] : (uint8_t)(0x80 | (k * 7 + i));

			au[len++] = b;
			want[w++] = b;
		}
	}
	*want_len = w;
	return len;
}

static void round_trip(enum vigil_codec codec, size_t max)
{
	static const uint8_t h264[][2] = {{0x67}, {0x68}, {0x06}, {0x65}, {0x65}};
	static const uint8_t h265[][2] = {{0x40, 0x01}, {0x42, 0x01}, {0x44, 0x01}, {0x26, 0x01}, {0x26, 0x01}};
	/* SPS, PPS, SEI (or VPS, SPS, PPS), a key slice over many packets,
	 * and a second one just over one packet. */
	const size_t sizes[] = {12, 5, 9, 2000, max + 1};
	static uint8_t au[8192], want[8192];
	size_t len, want_len;
	struct fx fx;
	struct sent s = {.fx = &fx, .idx = 10, .ts = 9000, .max = max};

	fx_init(&fx, 64, FRAME_BYTES);
	vigil_depay_init(&fx.d, codec);
	len = make_au(au, codec == VIGIL_CODEC_H265 ? h265 : h264, sizes, 5, codec == VIGIL_CODEC_H265 ? 2 : 1,
		      want, &want_len);
	assert_int_equal(vigil_packetize(codec, au, len, max, to_depay, &s), 0);
	assert_int_equal(s.markers, 1);
	assert_true(s.packets > 2000 / max + 4);
	assert_int_equal(fx.n_out, 1);
	assert_int_equal(fx.out[0].flags, KEY);
	assert_int_equal(fx.out[0].len, want_len);
	assert_memory_equal(fx.out_data[0], want, want_len);
	for (unsigned i = 0; i < VIGIL_CTR_MAX; i++)
		if (i != VIGIL_CTR_frames_enqueued && fx.ctr.v[i] != 0)
			fail_msg("%s = %llu", vigil_counter_names[i], (unsigned long long)fx.ctr.v[i]);
	fx_fini(&fx);
}

static void test_round_trip(void **state)
{
	(void)state;
	for (size_t max = 100; max <= 1400; max += 325) {
		round_trip(VIGIL_CODEC_H264, max);
		round_trip(VIGIL_CODEC_H265, max);
	}
}

static void test_refused(void **state)
{
	static const uint8_t no_nal[] = {1, 2, 3, 0, 0};
	struct sent s = {0};

	(void)state;
	assert_int_equal(vigil_packetize(VIGIL_CODEC_H264, no_nal, sizeof(no_nal), 1200, to_depay, &s), -EINVAL);
	assert_int_equal(vigil_packetize(VIGIL_CODEC_H264, (const uint8_t[]){0, 0, 1, 0x65, 1}, 5, 15, to_depay, &s),
			 -EINVAL);
	assert_int_equal(s.packets, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refused),
	};

	fx_eal("test_packetize");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
