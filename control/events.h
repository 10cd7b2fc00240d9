/* SPDX-License-Identifier: MIT */
/* Events (event_types.h): each a JSON object with "type", "time" (RFC
 * 3339, UTC) and "id" (rising: it starts at the wall clock in
 * microseconds, so it keeps rising across restarts unless the clock steps
 * back), made by the control loop only, and sent to the admin socket's
 * watchers (vigilctl watch) and to the EventHook (webhook.h). What the
 * recorder threads tell (durable segments) comes over their ring, what
 * the cameras' changes tell over cameras.on_event; liveness, refusals and
 * the disk are looked at once a second. */
#ifndef VIGIL_EVENTS_H
#define VIGIL_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "admin.h"
#include "cameras.h"
#include "event_types.h"
#include "recorder.h"

#define VIGIL_EVENTS_DISK_QUIET_S 5	 /* disk_recovered after this long without trouble */
#define VIGIL_EVENTS_STORE_FAILING_S 5 /* storage_failing once requests have failed this long */
#define VIGIL_EVENTS_CLOSED_PER_TURN 256 /* durable segments taken per turn of the control loop */

struct vigil_events;

/* Starts the EventHook's thread when cfg has one (its secret file read
 * and checked here); listens to cams (on_event). NULL with msg set. */
struct vigil_events *vigil_events_create(struct vigil_cameras *cams, char *msg, size_t msglen);

/* The admin socket its watchers are on (NULL: none). */
void vigil_events_set_admin(struct vigil_events *e, struct vigil_admin *admin);

/* One event: fields (taken; NULL: none) get "type", "time" and "id". */
void vigil_events_emit(struct vigil_events *e, enum vigil_event_type type, json_t *fields);

/* Every turn of the control loop, and while the recorder drains at stop:
 * durable segments from the recorder (up to VIGIL_EVENTS_CLOSED_PER_TURN).
 * How many. */
unsigned vigil_events_poll(struct vigil_events *e, struct vigil_recorder *rec);

/* About once a second, after vigil_cameras_second: liveness changes,
 * AuthFailedPerMinute, the disk, the object store (up: NULL for none). */
void vigil_events_second(struct vigil_events *e, const struct vigil_recorder *rec, const struct vigil_uploader *up);

/* {"emitted": {"<type>": n, ...}, "events_dropped": n, "webhook": {...},
 * "watchers": n, "watchers_dropped": n}. */
json_t *vigil_events_summary(const struct vigil_events *e);

struct vigil_events_counts {
	uint64_t emitted[VIGIL_EVENT_MAX];
	uint64_t dropped;	 /* queue full, or a durable segment the recorder's ring had no room for */
	uint64_t webhook_queued; /* waiting for the EventHook now */
	uint64_t webhook_delivered;
	uint64_t webhook_failures; /* POSTs that failed, then retried */
	unsigned watchers;
	uint64_t watchers_dropped;
};
void vigil_events_counts(const struct vigil_events *e, struct vigil_events_counts *out);
const char *vigil_event_name(enum vigil_event_type type);

/* Stops the EventHook (letting its queue drain a little) and frees. */
void vigil_events_free(struct vigil_events *e);

#endif
