/* SPDX-License-Identifier: MIT */
/* The per-camera stream state a worker owns (keys, replay window,
 * depacketizer, counters) and the SSRC -> stream table (rte_hash). */
#ifndef VIGIL_STREAM_H
#define VIGIL_STREAM_H

#include <stdint.h>

#include <rte_common.h>

#include "vigil/config.h"
#include "vigil/counters.h"
#include "depay.h"
#include "replay.h"
#include "srtp.h"

struct rte_hash;
struct rte_ring;

struct vigil_stream {
	struct vigil_srtp srtp;
	struct vigil_replay replay;
	struct vigil_counters ctr;
	struct vigil_depay depay;
	struct vigil_depay_env env;
	struct rte_ring *frames; /* complete frames to the recorder */
	uint32_t ssrc;
	uint32_t camera;
} __rte_cache_aligned;

struct vigil_stream_table {
	struct rte_hash *by_ssrc; /* SSRC -> struct vigil_stream * */
	struct vigil_stream *streams;
	unsigned n_streams;
};

/* One stream per configured camera, keyed by SSRC; complete frames go to
 * the frames ring. NULL with errno set. Needs a running EAL. */
struct vigil_stream_table *vigil_stream_table_create(const char *name, const struct vigil_config *cfg,
						     struct vigil_frame_pool *pool, struct rte_ring *frames);
void vigil_stream_table_free(struct vigil_stream_table *t);

#endif
