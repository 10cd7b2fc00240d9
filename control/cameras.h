/* SPDX-License-Identifier: MIT */
/* The cameras vigild serves, by slot: it adds them to the stream table,
 * applies a changed configuration while traffic flows (add, rotate the
 * key, revoke), ends rotation grace periods, and keeps the counters of
 * cameras that were removed. */
#ifndef VIGIL_CAMERAS_H
#define VIGIL_CAMERAS_H

#include <stdbool.h>
#include <stdint.h>

#include "vigil/config.h"
#include "vigil/counters.h"
#include "stream.h"

struct vigil_cameras {
	/* cfg->cameras has room for cfg->max_cameras slots; slots are never
	 * reused for another camera, so recordings and counters stay put. */
	struct vigil_config *cfg;
	struct vigil_stream_table *table;
	struct vigil_counters *retired; /* per slot: counters of removed streams */
	uint64_t *grace_until_ns;       /* per slot: when the previous key ends, or 0 */
};

/* Takes over cfg (its cameras array grows to max_cameras slots) and adds
 * every camera. 0 or -errno with msg set. */
int vigil_cameras_init(struct vigil_cameras *c, struct vigil_config *cfg, struct vigil_stream_table *table,
		       char *msg, size_t msglen);
void vigil_cameras_fini(struct vigil_cameras *c);

/* Read the configuration file again and apply what changed in its cameras:
 * new ones are added, removed ones revoked (when this returns no packet of
 * theirs is accepted), changed keys rotated, changed SSRCs moved. Nothing
 * is applied when the file has an error. msg says what happened. */
int vigil_cameras_reload(struct vigil_cameras *c, char *msg, size_t msglen);

/* Ends the grace periods that are over; call it a few times a second. */
void vigil_cameras_tick(struct vigil_cameras *c);

/* A camera's counters, live and retired together. */
void vigil_cameras_counters(const struct vigil_cameras *c, unsigned slot, uint64_t out[VIGIL_CTR_MAX]);
bool vigil_cameras_live(const struct vigil_cameras *c, unsigned slot);

#endif
