/* SPDX-License-Identifier: MIT */
/* The run summary as JSON: totals and per-camera counters. */
#ifndef VIGIL_SUMMARY_H
#define VIGIL_SUMMARY_H

#include <jansson.h>

#include "cameras.h"
#include "recorder.h"
#include "worker.h"

/* {"totals": {...}, "cameras": {"<name>": {...}}}; NULL on no memory. */
json_t *vigil_summary(const struct vigil_cameras *cams, const struct vigil_worker *workers, unsigned n_workers,
		      const struct vigil_recorder *rec);

#endif
