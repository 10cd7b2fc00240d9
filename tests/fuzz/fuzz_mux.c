/* SPDX-License-Identifier: MIT */
/* libFuzzer target: access units of arbitrary bytes, as the recorder would
 * hand them over, muxed by an MPEG-TS and an fMP4 muxer at once. Input:
 * [codec: bit 0 of the first byte] then records of
 * [flags][u16 BE length][i16 BE pts step][dts lag][access unit]:
 * flags bit 0 key frame, bit 1 cut after it (a segment ends), bits 2-7 the
 * duration in 1/240 s. Nothing may be read or written out of bounds, and
 * nothing leaks or hangs; the muxers' refusals (-errno) are fine.
 * fuzz_mux.py writes the seeds: whole H.264 and H.265 GOPs, the key frames
 * of 00 00 01 runs that overflowed the fMP4 muxer's extradata, and the one
 * whose SPS held libavformat's hvcC writer (tests/unit/test_mux.c). */
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include "mux.h"

#define HDR 6

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t sink_sum;

/* Reads every byte handed out, so ASan checks the muxer's buffers too. */
static void discard(void *arg, const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	(void)arg;
	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	sink_sum = sum;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	av_log_set_level(AV_LOG_QUIET);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum vigil_codec codec;
	struct vigil_mux *m[2];
	int64_t pts = 90000;

	if (size < 1)
		return 0;
	codec = data[0] & 1 ? VIGIL_CODEC_H265 : VIGIL_CODEC_H264;
	data++;
	size--;
	m[0] = vigil_mux_create(codec, VIGIL_FORMAT_TS, discard, NULL, NULL);
	m[1] = vigil_mux_create(codec, VIGIL_FORMAT_FMP4, discard, discard, NULL);
	if (m[0] == NULL || m[1] == NULL)
		abort();
	while (size >= HDR) {
		uint8_t flags = data[0];
		size_t len = (size_t)(data[1] << 8 | data[2]);
		int16_t step = (int16_t)(data[3] << 8 | data[4]);
		int64_t lag = data[5], duration = (int64_t)(flags >> 2) * 375;

		if (len > size - HDR)
			len = size - HDR;
		pts += step;
		/* A copy of its exact size: ASan sees any read past its end. */
		uint8_t *au = malloc(len ? len : 1);

		if (au == NULL)
			abort();
		memcpy(au, data + HDR, len);
		for (int f = 0; f < 2; f++) {
			int rc = vigil_mux_write(m[f], au, len, pts, pts - lag, duration, flags & 1);

			if (rc > 0)
				abort();
			if (flags & 2 && vigil_mux_cut(m[f]) > 0)
				abort();
		}
		free(au);
		data += HDR + len;
		size -= HDR + len;
	}
	for (int f = 0; f < 2; f++) {
		if (vigil_mux_cut(m[f]) > 0)
			abort();
		vigil_mux_free(m[f]);
	}
	return 0;
}
