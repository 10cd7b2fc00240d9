/* SPDX-License-Identifier: MIT */
/* Per-camera MPEG-TS muxing with libavformat through a custom AVIOContext.
 * One muxer lives across all of a camera's segments so that continuity
 * counters and timestamps run on; the output callback changes file. */
#ifndef VIGIL_MUX_TS_H
#define VIGIL_MUX_TS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/config.h"

/* Receives the muxed bytes, in order. */
typedef void (*vigil_mux_out_fn)(void *arg, const uint8_t *data, size_t len);

struct vigil_mux_ts;

/* NULL with errno set. */
struct vigil_mux_ts *vigil_mux_ts_create(enum vigil_codec codec, vigil_mux_out_fn out, void *arg);
void vigil_mux_ts_free(struct vigil_mux_ts *m);

/* One Annex-B access unit; pts is 90 kHz and must increase. The data is
 * not copied by us and is done with on return. 0 or -errno. */
int vigil_mux_ts_write(struct vigil_mux_ts *m, const uint8_t *data, size_t len, int64_t pts, int64_t dts,
		       bool key);

/* Pushes every byte muxed so far to the output and makes the next packet
 * start with PAT and PMT: call it between segments. 0 or -errno. */
int vigil_mux_ts_cut(struct vigil_mux_ts *m);

#endif
