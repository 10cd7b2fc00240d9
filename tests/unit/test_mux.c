/* SPDX-License-Identifier: MIT */
/* The muxer (record/mux.c) on key frames built here: real parameter sets
 * and slices of a 64x48 picture from x264 and x265 (SEI left out), and the
 * same frames with a hostile parameter set whose body holds 00 00 01 runs,
 * which a camera key holder can send. Run under ASan (tests/asan) the
 * hostile frames overflowed the fMP4 muxer's extradata before its bound
 * was fixed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libavutil/log.h>

#include "mux.h"

/* Annex-B: SPS, PPS, IDR slice. */
/* clang-format off */
static const uint8_t h264_key[] = {
	0x00, 0x00, 0x00, 0x01, 0x67, 0x42, 0xc0, 0x15, 0xda, 0x11, 0xec, 0x05, 0xa8, 0x30, 0x30, 0x35,
	0x28, 0x00, 0x00, 0x03, 0x00, 0x08, 0x00, 0x00, 0x03, 0x01, 0xe4, 0x78, 0xb1, 0x75, 0x00, 0x00,
	0x00, 0x01, 0x68, 0xce, 0x3c, 0x80, 0x00, 0x00, 0x00, 0x01, 0x65, 0x88, 0x84, 0x06, 0xa8, 0x93,
	0x0a, 0x00, 0x03, 0xfb, 0xf2, 0x4f, 0x27, 0x27, 0x5d, 0x75, 0xd7, 0x5d, 0x75, 0xd7, 0x80,
};
#define H264_SLICE 38 /* offset of the IDR's start code */

/* Annex-B: VPS, SPS, PPS, IDR_N_LP slice. */
static const uint8_t h265_key[] = {
	0x00, 0x00, 0x00, 0x01, 0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00,
	0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x3f, 0x95, 0x94, 0x09, 0x00, 0x00, 0x00, 0x01,
	0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03,
	0x00, 0x3f, 0xa0, 0x20, 0x83, 0x16, 0x59, 0x59, 0x52, 0x93, 0x0b, 0xff, 0xc0, 0x00, 0x40, 0x00,
	0x5a, 0x83, 0x03, 0x03, 0x02, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00, 0x00, 0x03, 0x00, 0x3c, 0x10,
	0x00, 0x00, 0x00, 0x01, 0x44, 0x01, 0xc0, 0x73, 0xc0, 0x89, 0x00, 0x00, 0x00, 0x01, 0x28, 0x01,
	0xac, 0x15, 0xe0, 0xea, 0x23, 0x1b, 0x4f, 0xfa, 0x36, 0xf0, 0x8d, 0xa3, 0x41, 0xda, 0x44, 0x2a,
	0x8f, 0x80,
};
/* clang-format on */
#define H265_SLICE 94

/* Of a hostile set: 00 00 01 and a parameter set's header, over and over. */
#define RUNS 4096

struct sink {
	size_t bytes, init_bytes;
	uint8_t init[4096]; /* its start */
};

static void out(void *arg, const uint8_t *data, size_t len)
{
	(void)data;
	((struct sink *)arg)->bytes += len;
}

static void init_out(void *arg, const uint8_t *data, size_t len)
{
	struct sink *s = arg;

	if (s->init_bytes < sizeof(s->init))
		memcpy(s->init + s->init_bytes, data,
		       len < sizeof(s->init) - s->init_bytes ? len : sizeof(s->init) - s->init_bytes);
	s->init_bytes += len;
}

static bool contains(const uint8_t *hay, size_t n, const uint8_t *needle, size_t len)
{
	for (size_t i = 0; i + len <= n; i++)
		if (memcmp(hay + i, needle, len) == 0)
			return true;
	return false;
}

/* The key frame with, before its slice, a set of the given header whose
 * body is RUNS times 00 00 01 <header>: every run a set of its own to a
 * start code scan. */
static uint8_t *hostile(const uint8_t *key, size_t key_len, size_t slice, const uint8_t *hdr, size_t hdr_len,
			size_t *len)
{
	size_t n = 0, run = 3 + hdr_len;
	uint8_t *f = malloc(key_len + 4 + hdr_len + RUNS * run);

	assert_non_null(f);
	memcpy(f, key, slice);
	n = slice;
	memcpy(f + n, (const uint8_t[]){0, 0, 0, 1}, 4);
	memcpy(f + n + 4, hdr, hdr_len);
	n += 4 + hdr_len;
	for (unsigned r = 0; r < RUNS; r++, n += run) {
		memcpy(f + n, (const uint8_t[]){0, 0, 1}, 3);
		memcpy(f + n + 3, hdr, hdr_len);
	}
	memcpy(f + n, key + slice, key_len - slice);
	*len = n + key_len - slice;
	return f;
}

/* hostile_rc: what vigil_mux_write makes of the hostile frame as the first
 * of an fMP4 muxer (libavformat 59 takes 4,097 H.264 sets, with an avcC
 * it leaves empty; libavcodec's check of H.265 sets refuses them). */
static void check_format(enum vigil_codec codec, const uint8_t *key, size_t key_len, size_t slice,
			 const uint8_t *hdr, size_t hdr_len, const char *box, int hostile_rc)
{
	const uint8_t *sps = key + (codec == VIGIL_CODEC_H265 ? 32 : 4);
	struct sink s = {0};
	struct vigil_mux *m;
	size_t len;
	uint8_t *f = hostile(key, key_len, slice, hdr, hdr_len, &len);

	/* A clean key frame: the sample entry holds its SPS. */
	m = vigil_mux_create(codec, VIGIL_FORMAT_FMP4, out, init_out, &s);
	assert_non_null(m);
	assert_int_equal(vigil_mux_write(m, key, key_len, 0, 0, 3000, true), 0);
	assert_int_equal(vigil_mux_cut(m), 0);
	assert_true(s.init_bytes > 0 && s.bytes > key_len);
	assert_true(contains(s.init, s.init_bytes, (const uint8_t *)box, 4));
	assert_true(contains(s.init, s.init_bytes, sps, 16));
	vigil_mux_free(m);

	/* The hostile one as the first key frame: its sets are copied out
	 * within bounds, then the muxer starts on them or refuses them (and
	 * starts at the next key frame). */
	s = (struct sink){0};
	m = vigil_mux_create(codec, VIGIL_FORMAT_FMP4, out, init_out, &s);
	assert_non_null(m);
	assert_int_equal(vigil_mux_write(m, f, len, 0, 0, 3000, true), hostile_rc);
	assert_true(hostile_rc == 0 ? s.init_bytes > 0 : s.init_bytes == 0);
	assert_int_equal(vigil_mux_write(m, key, key_len, 3000, 3000, 3000, true), 0);
	assert_int_equal(vigil_mux_cut(m), 0);
	assert_true(s.init_bytes > 0 && s.bytes > key_len);
	if (hostile_rc != 0)
		assert_true(contains(s.init, s.init_bytes, sps, 16));
	vigil_mux_free(m);

	/* MPEG-TS reads no sets: the frame is muxed as it is. */
	s = (struct sink){0};
	m = vigil_mux_create(codec, VIGIL_FORMAT_TS, out, NULL, &s);
	assert_non_null(m);
	assert_int_equal(vigil_mux_write(m, f, len, 0, 0, 3000, true), 0);
	assert_int_equal(vigil_mux_cut(m), 0);
	assert_true(s.bytes > len);
	vigil_mux_free(m);
	free(f);
}

static void test_h264_hostile_pps(void **state)
{
	(void)state;
	check_format(VIGIL_CODEC_H264, h264_key, sizeof(h264_key), H264_SLICE, (const uint8_t[]){0x68}, 1,
		     "avcC", 0);
}

static void test_h264_hostile_sps(void **state)
{
	(void)state;
	check_format(VIGIL_CODEC_H264, h264_key, sizeof(h264_key), H264_SLICE, (const uint8_t[]){0x67}, 1,
		     "avcC", 0);
}

static void test_h265_hostile_pps(void **state)
{
	(void)state;
	check_format(VIGIL_CODEC_H265, h265_key, sizeof(h265_key), H265_SLICE, (const uint8_t[]){0x44, 0x01},
		     2, "hvcC", -EBADMSG);
}

static void test_h265_hostile_vps(void **state)
{
	(void)state;
	check_format(VIGIL_CODEC_H265, h265_key, sizeof(h265_key), H265_SLICE, (const uint8_t[]){0x40, 0x01},
		     2, "hvcC", -EBADMSG);
}

/* A key frame libFuzzer made of h265_key (tests/fuzz/fuzz_mux.c): VPS,
 * two SPS cut short, PPS. libavformat 59's hvcC writer reads past the end
 * of such an SPS, and then loops as many times as the bits past it say
 * (up to 2^32, minutes on end, here with glibc's heap and with ASan's);
 * the muxer must refuse it at once. Run in a child with an alarm, so that
 * a hang fails the test. */
static void test_h265_sps_loops(void **state)
{
	/* clang-format off */
	static const uint8_t f[] = {
		0x00, 0x00, 0x01, 0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90,
		0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x3f, 0x95, 0x94, 0x09, 0x00, 0x00, 0x00, 0x01, 0x42, 0x01,
		0x01, 0x01, 0x60, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x3f, 0xa0,
		0x20, 0x83, 0x16, 0x59, 0x59, 0x52, 0x01, 0x05, 0x78, 0x0b, 0xb8, 0x00, 0x00, 0x00, 0x03, 0x00,
		0x00, 0x00, 0x01, 0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03,
		0x00, 0x00, 0x03, 0x00, 0x3f, 0xa0, 0x20, 0x83, 0x16, 0x59, 0x59, 0x52, 0x93, 0x0b, 0x3c, 0x10,
		0x00, 0x00, 0x01, 0x44, 0x01, 0xc0, 0x73, 0xc0, 0x89, 0x00, 0x00, 0x00, 0x01, 0x44, 0x01, 0x00,
		0x01, 0x44, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x28, 0x01, 0xac, 0x41, 0xda, 0x44, 0x01,
	};
	/* clang-format on */
	int st;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sink s = {0};
		struct vigil_mux *m =
		    vigil_mux_create(VIGIL_CODEC_H265, VIGIL_FORMAT_FMP4, out, init_out, &s);
		int rc;

		alarm(20);
		rc = m == NULL ? -ENOMEM : vigil_mux_write(m, f, sizeof(f), 0, 0, 3000, true);
		if (rc == -EBADMSG && s.init_bytes == 0)
			rc = vigil_mux_write(m, h265_key, sizeof(h265_key), 3000, 3000, 3000, true);
		vigil_mux_free(m);
		_exit(rc == 0 && s.init_bytes > 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st))
		fail_msg("the muxer was still writing the hvcC after 20 s (signal %d)", WTERMSIG(st));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* MPEG-TS written in place (vigil_mux_place), as the recorder does into
 * its staging buffers: each time the muxer hands its bytes out, it is
 * given the room right after them, of sizes from one TS packet's part to
 * more than its own buffer, flushed and cut at times. The stream must be
 * byte for byte what the muxer writes through its own buffer: libavformat
 * moving or keeping a buffer behind our back would show here. */
struct arena {
	uint8_t *p;
	size_t used, cap, k;
	uint8_t *placed;
	struct vigil_mux *m;
};

static const size_t room[] = {188, 1, 4096, 65536, 1000, 187, 262144, 20000, 189};

static void arena_place(struct arena *a)
{
	size_t n = room[a->k++ % (sizeof(room) / sizeof(room[0]))];

	assert_true(a->used + n <= a->cap);
	a->placed = a->p + a->used;
	vigil_mux_place(a->m, a->placed, n);
}

static void arena_out(void *arg, const uint8_t *data, size_t len)
{
	struct arena *a = arg;

	assert_ptr_equal(data, a->placed);
	a->used += len;
	arena_place(a);
}

static void ref_out(void *arg, const uint8_t *data, size_t len)
{
	struct arena *a = arg;

	assert_true(a->used + len <= a->cap);
	memcpy(a->p + a->used, data, len);
	a->used += len;
}

static void test_ts_in_place(void **state)
{
	struct arena ref = {.cap = 8u << 20}, in = {.cap = 9u << 20};
	uint8_t *frame = malloc(300000);
	struct vigil_mux *r, *m;

	(void)state;
	ref.p = malloc(ref.cap);
	in.p = malloc(in.cap);
	assert_true(frame != NULL && ref.p != NULL && in.p != NULL);
	r = vigil_mux_create(VIGIL_CODEC_H264, VIGIL_FORMAT_TS, ref_out, ref_out, &ref);
	m = vigil_mux_create(VIGIL_CODEC_H264, VIGIL_FORMAT_TS, arena_out, arena_out, &in);
	assert_true(r != NULL && m != NULL);
	in.m = m;
	in.used = ref.used; /* the header, through the muxer's own buffer */
	memcpy(in.p, ref.p, ref.used);
	arena_place(&in);
	for (unsigned i = 0; i < 60; i++) {
		bool key = i % 15 == 0;
		size_t len = key ? sizeof(h264_key) + 250000 : 100 + (i * 7919) % 40000;

		if (key)
			memcpy(frame, h264_key, sizeof(h264_key));
		else
			memcpy(frame, (uint8_t[]){0, 0, 0, 1, 0x41}, 5);
		for (size_t j = key ? sizeof(h264_key) : 5; j < len; j++)
			frame[j] = (uint8_t)(0x11 + (j * 13 + i) % 200);
		assert_int_equal(vigil_mux_write(r, frame, len, 3000 * i, 3000 * i, 3000, key), 0);
		assert_int_equal(vigil_mux_write(m, frame, len, 3000 * i, 3000 * i, 3000, key), 0);
		if (i % 7 == 3) { /* a sync: the rest goes to the file, the room moves on */
			vigil_mux_flush(r);
			vigil_mux_flush(m);
			arena_place(&in);
		}
		if (i % 15 == 14) { /* a segment's end */
			assert_int_equal(vigil_mux_cut(r), 0);
			assert_int_equal(vigil_mux_cut(m), 0);
		}
	}
	assert_int_equal(vigil_mux_cut(r), 0);
	assert_int_equal(vigil_mux_cut(m), 0);
	vigil_mux_place(m, NULL, 0);
	vigil_mux_free(r);
	vigil_mux_free(m);
	assert_true(ref.used > 2u << 20);
	assert_int_equal(in.used, ref.used);
	assert_memory_equal(in.p, ref.p, ref.used);
	free(frame);
	free(ref.p);
	free(in.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_h264_hostile_pps), cmocka_unit_test(test_h264_hostile_sps),
	    cmocka_unit_test(test_h265_hostile_pps), cmocka_unit_test(test_h265_hostile_vps),
	    cmocka_unit_test(test_h265_sps_loops), cmocka_unit_test(test_ts_in_place),
	};

	av_log_set_level(AV_LOG_FATAL); /* what it thinks of the hostile sets */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
