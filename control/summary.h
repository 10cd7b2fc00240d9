/* SPDX-License-Identifier: MIT */
/* The run summary as JSON: totals and per-camera counters. */
#ifndef VIGIL_SUMMARY_H
#define VIGIL_SUMMARY_H

#include <jansson.h>

#include "cameras.h"
#include "handshakes.h"
#include "recorder.h"
#include "worker.h"

typedef void (*vigil_summary_each_fn)(void *arg, unsigned slot, const uint64_t *counters,
				      const struct vigil_recorder_stats *rs);

/* The totals: the workers' own counters and every camera's, the
 * recorder's stats summed as their list says; each (if not NULL) is told
 * every camera's on the way. The summary and the metrics both add up
 * through here. */
void vigil_summary_walk(const struct vigil_cameras *cams, const struct vigil_worker *workers, unsigned n_workers,
			const struct vigil_recorder *rec, uint64_t total[VIGIL_CTR_MAX],
			struct vigil_recorder_stats *rec_total, vigil_summary_each_fn each, void *arg);

/* {"totals": {...}, "cameras": {"<name>": {...}}, "handshakes": {...}};
 * NULL on no memory. hs may be NULL (no handshakes, no "handshakes"). */
json_t *vigil_summary(const struct vigil_cameras *cams, const struct vigil_worker *workers, unsigned n_workers,
		      const struct vigil_recorder *rec, const struct vigil_handshakes *hs);

#endif
