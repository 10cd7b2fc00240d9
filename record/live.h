/* SPDX-License-Identifier: MIT */
/* Live parts, for low-latency HLS (docs/playback.md): while someone
 * watches a plain fMP4 camera live, its recorder cuts the open segment's
 * fragments every VIGIL_LIVE_PART_MS or so and copies their bytes here,
 * where the playback endpoint lists them (#EXT-X-PART) and serves them
 * before the segment is closed, and holds a playlist request until the
 * part it asks for exists (a blocking reload). Nothing is cut or copied
 * for a camera nobody watched in the last VIGIL_LIVE_WATCH_S. The recorder
 * threads write, the endpoint's threads read: one lock for the table,
 * taken by a recorder only for a watched camera (a part, a few times a
 * second) and once a segment when anything is watched. */
#ifndef VIGIL_LIVE_H
#define VIGIL_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIGIL_LIVE_PART_MS 250	      /* a part's target duration */
#define VIGIL_LIVE_CAMERAS 64	      /* watched at once; more are served plain live HLS */
#define VIGIL_LIVE_SEGMENTS 4	      /* of a camera, the open one and those before it; a power of two */
#define VIGIL_LIVE_PARTS 64	      /* of a segment; a longer one's parts are not listed */
#define VIGIL_LIVE_BYTES (256u << 20) /* held for all of them at once */
#define VIGIL_LIVE_WATCH_S 30	      /* a camera is watched this long after a live request */

struct vigil_live;

struct vigil_live_part {
	uint32_t off, len; /* in its segment */
	uint32_t ticks;	   /* 90 kHz */
	bool independent;  /* starts with a key frame */
};

/* A camera's segments as the endpoint lists them, oldest first: only
 * those whose parts were all cut and kept, from the segment's start. */
struct vigil_live_view {
	unsigned n;
	struct vigil_live_seg_view {
		uint32_t seq, map;
		uint64_t start_ns; /* wall clock, as its playlist entry */
		uint64_t ticks;	   /* closed: its duration */
		bool closed;
		unsigned n_parts;
		struct vigil_live_part parts[VIGIL_LIVE_PARTS];
	} seg[VIGIL_LIVE_SEGMENTS];
};

struct vigil_live *vigil_live_create(void);
void vigil_live_free(struct vigil_live *lv);

/* The recorder's side, from the camera's recorder thread. */
/* Segment seq of camera begins (start_ns: its playlist start): a slot to
 * cut and copy its parts into when it is watched, else -1. plain: its
 * segments are plain fMP4 (a sealed one is never copied: the endpoint
 * stops waiting for it). */
int vigil_live_begin(struct vigil_live *lv, const char *camera, uint32_t seq, uint64_t start_ns, bool plain);
void vigil_live_bytes(struct vigil_live *lv, int slot, uint32_t seq, const uint8_t *data, size_t len);
/* The bytes since the last part make one, of ticks, of the segment whose
 * init segment is init-<map>; closed: the segment's last. */
void vigil_live_part(struct vigil_live *lv, int slot, uint32_t seq, uint32_t map, uint32_t ticks,
		     bool independent, bool closed, uint64_t seg_ticks);

/* The endpoint's side. */
/* The camera is watched for VIGIL_LIVE_WATCH_S from now: its next segment
 * is cut in parts. false: VIGIL_LIVE_CAMERAS others are. */
bool vigil_live_watch(struct vigil_live *lv, const char *camera);
/* Until the camera has part `part` of segment msn (part < 0: the whole
 * segment), or a later segment, or deadline_ns (CLOCK_MONOTONIC) passes:
 * 0, -ETIMEDOUT, -ERANGE (more than two segments ahead), -ENOENT (not
 * watched), -EPERM (its segments are not plain fMP4). msn UINT32_MAX: until
 * a whole segment was cut in parts and the next one has a part. */
int vigil_live_wait(struct vigil_live *lv, const char *camera, uint32_t msn, int part, uint64_t deadline_ns);
/* What of the camera can be listed; false: nothing. */
bool vigil_live_view(struct vigil_live *lv, const char *camera, struct vigil_live_view *v);
/* Part `part` of segment seq (part < 0: the whole segment, while it is not
 * on disk yet): 0 and a malloc'd copy in *data, *len; 1 when its bytes are
 * no longer held but its place in the segment's file is known (*off, *len:
 * it is on disk); -ENOENT. */
int vigil_live_bytes_of(struct vigil_live *lv, const char *camera, uint32_t seq, int part, uint8_t **data,
			size_t *len, uint64_t *off);

#endif
