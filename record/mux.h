/* SPDX-License-Identifier: MIT */
/* Per-camera muxing of Annex-B access units with libavformat through a
 * custom AVIOContext: MPEG-TS, or fragmented MP4 (CMAF) with its
 * initialization segment handed out on its own. One muxer lives across
 * all of a camera's segments so that continuity counters, fragment numbers
 * and timestamps run on; the output callback changes file. */
#ifndef VIGIL_MUX_H
#define VIGIL_MUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/config_model.h"

/* Receives the muxed bytes, in order. */
typedef void (*vigil_mux_out_fn)(void *arg, const uint8_t *data, size_t len);

struct vigil_mux;

/* NULL with errno set. With VIGIL_FORMAT_FMP4 the muxer starts at the
 * first key frame (it takes the parameter sets and the picture size from
 * it) and hands its initialization segment (ftyp, moov) to init_out, once,
 * before that frame's bytes go to out. */
struct vigil_mux *vigil_mux_create(enum vigil_codec codec, enum vigil_format format, vigil_mux_out_fn out,
				   vigil_mux_out_fn init_out, void *arg);
void vigil_mux_free(struct vigil_mux *m);

/* One Annex-B access unit; pts is 90 kHz and must increase; duration (0:
 * unknown) is how long it shows, which ends an fMP4 fragment exactly. The
 * data is not copied by us and is done with on return. 0 or -errno;
 * -EAGAIN: an fMP4 muxer still waits for its first key frame. */
int vigil_mux_write(struct vigil_mux *m, const uint8_t *data, size_t len, int64_t pts, int64_t dts,
		    int64_t duration, bool key);

/* Pushes every byte muxed so far to out (MPEG-TS: the next packet starts
 * with PAT and PMT; fMP4: the fragment ends): call it between segments. */
int vigil_mux_cut(struct vigil_mux *m);

/* MPEG-TS: pushes the bytes muxed so far to out, as they are. */
void vigil_mux_flush(struct vigil_mux *m);

/* MPEG-TS: the muxer writes its bytes into [p, p + len) (the caller's,
 * len > 0), and hands out that part of it: no copy; NULL, its own buffer.
 * Only while nothing waits in the muxer: from out, or after a flush or a
 * cut. The muxer never seeks back in MPEG-TS, which this needs. */
void vigil_mux_place(struct vigil_mux *m, uint8_t *p, size_t len);

#endif
