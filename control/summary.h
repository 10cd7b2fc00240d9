/* SPDX-License-Identifier: MIT */
/* The run summary as JSON: totals and per-camera counters. */
#ifndef VIGIL_SUMMARY_H
#define VIGIL_SUMMARY_H

#include <jansson.h>

#include "cameras.h"
#include "handshakes.h"
#include "recorder.h"
#include "worker.h"

/* {"totals": {...}, "cameras": {"<name>": {...}}, "handshakes": {...}};
 * NULL on no memory. hs may be NULL (no handshakes, no "handshakes"). */
json_t *vigil_summary(const struct vigil_cameras *cams, const struct vigil_worker *workers, unsigned n_workers,
		      const struct vigil_recorder *rec, const struct vigil_handshakes *hs);

#endif
