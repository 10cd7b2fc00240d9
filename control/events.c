/* SPDX-License-Identifier: MIT */
/* Events (events.h): what happened, found where it happens or by a look
 * once a second, stamped with a time and a rising id, and handed to the
 * admin socket's watchers and the EventHook's queue. Nothing here waits:
 * the watchers have bounded buffers (admin.c), the hook a bounded queue
 * and a thread of its own (webhook.c). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "vigil/clock.h"
#include "events.h"
#include "metrics.h"
#include "playlist.h"
#include "webhook.h"

/* What the look once a second remembers of a camera. */
struct cam_seen {
	uint8_t liveness;	/* enum vigil_liveness, as last told */
	bool auth_told;		/* auth_failed said in this minute */
	uint64_t auth_base;	/* its auth_failed when the minute began */
	uint64_t auth_since_ns; /* when the minute began */
};

struct vigil_events {
	struct vigil_cameras *cams;
	const struct vigil_config *cfg;
	struct vigil_admin *admin;
	struct vigil_webhook *hook; /* NULL: no EventHook */
	uint64_t next_id;
	uint64_t emitted[VIGIL_EVENT_MAX];
	uint64_t closed_lost; /* the recorder's, as last seen */
	uint64_t dropped_ring;
	struct cam_seen *seen; /* max_cameras of them */
	/* The disk: in trouble since (0: not), quiet seconds since. */
	uint64_t trouble_since_ns;
	/* The object store: a storage_failing told, since (wall clock). */
	uint64_t store_failing_ns;
	unsigned quiet;
	uint64_t write_errors;
	bool looked; /* once: at start the counters are where they are, only a rise is trouble */
};

static const char *const names[] = {
#define VIGIL_X_NAME(name, fields, help) #name,
    VIGIL_FOREACH_EVENT(VIGIL_X_NAME)
#undef VIGIL_X_NAME
};

const char *vigil_event_name(enum vigil_event_type type)
{
	return type < VIGIL_EVENT_MAX ? names[type] : "?";
}

/* RFC 3339, UTC, milliseconds: 2026-12-05T08:40:00.123Z. */
static void rfc3339(uint64_t realtime_ns, char out[32])
{
	time_t s = (time_t)(realtime_ns / 1000000000u);
	struct tm tm;
	size_t n;

	gmtime_r(&s, &tm);
	n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03uZ", (unsigned)(realtime_ns / 1000000u % 1000u));
}

static void camera_event(void *arg, unsigned slot, unsigned type, const char *by)
{
	struct vigil_events *e = arg;
	json_t *f = json_pack("{ss}", "camera", e->cfg->cameras[slot].name);

	if (by != NULL)
		json_object_set_new(f, "by", json_string(by));
	vigil_events_emit(e, (enum vigil_event_type)type, f);
}

struct vigil_events *vigil_events_create(struct vigil_cameras *cams, char *msg, size_t msglen)
{
	const struct vigil_config *cfg = cams->cfg;
	struct vigil_events *e = calloc(1, sizeof(*e));
	uint8_t *key = NULL;
	size_t keylen = 0;

	if (e == NULL ||
	    (e->seen = calloc(cfg->max_cameras ? cfg->max_cameras : 1, sizeof(*e->seen))) == NULL) {
		snprintf(msg, msglen, "events: out of memory");
		free(e);
		return NULL;
	}
	e->cams = cams;
	e->cfg = cfg;
	e->next_id = vigil_clock_ns(CLOCK_REALTIME) / 1000u;
	if (cfg->event_hook[0] != '\0') {
		if (cfg->event_hook_secret_file[0] == '\0') {
			snprintf(msg, msglen,
				 "EventHook needs EventHookSecretFile: its key signs every POST");
			goto err;
		}
		key = sodium_malloc(VIGIL_WEBHOOK_KEY_MAX);
		if (key == NULL) {
			snprintf(msg, msglen, "events: out of memory");
			goto err;
		}
		if (vigil_webhook_read_secret(cfg->event_hook_secret_file, key, &keylen, msg, msglen) < 0)
			goto err;
		e->hook = vigil_webhook_start(cfg->event_hook, key, keylen, cfg->event_queue, msg, msglen);
		if (e->hook == NULL)
			goto err;
		sodium_free(key);
	}
	cams->on_event = camera_event;
	cams->on_event_arg = e;
	return e;
err:
	sodium_free(key);
	free(e->seen);
	free(e);
	return NULL;
}

void vigil_events_set_admin(struct vigil_events *e, struct vigil_admin *admin)
{
	e->admin = admin;
}

void vigil_events_emit(struct vigil_events *e, enum vigil_event_type type, json_t *fields)
{
	char when[32], *text;
	size_t len;

	if (fields == NULL)
		fields = json_object();
	rfc3339(vigil_clock_ns(CLOCK_REALTIME), when);
	json_object_set_new(fields, "type", json_string(vigil_event_name(type)));
	json_object_set_new(fields, "time", json_string(when));
	json_object_set_new(fields, "id", json_integer((json_int_t)e->next_id++));
	text = json_dumps(fields, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(fields);
	if (text == NULL)
		return;
	e->emitted[type]++;
	len = strlen(text);
	if (e->hook != NULL)
		vigil_webhook_post(e->hook, text, len);
	if (e->admin != NULL) {
		text[len] = '\n'; /* over the NUL: sent by length */
		vigil_admin_publish(e->admin, text, len + 1);
	}
	free(text);
}

unsigned vigil_events_poll(struct vigil_events *e, struct vigil_recorder *rec)
{
	struct vigil_segment_closed sc;
	char path[8192];
	uint64_t lost;
	unsigned n;

	for (n = 0; n < VIGIL_EVENTS_CLOSED_PER_TURN && vigil_recorder_closed(rec, &sc, path, sizeof(path)); n++)
		vigil_events_emit(e, VIGIL_EVENT_segment_closed,
				  json_pack("{ss ss sf sI sb}", "camera", sc.camera, "path", path, "seconds",
					    sc.seconds, "bytes", (json_int_t)sc.bytes, "sealed",
					    sc.kind == VIGIL_SEG_SEALED));
	lost = vigil_recorder_closed_lost(rec);
	e->dropped_ring += lost - e->closed_lost;
	e->closed_lost = lost;
	return n;
}

/* A camera that came on or went off since the last look. */
static void liveness(struct vigil_events *e, unsigned slot, uint64_t now, uint64_t wall)
{
	enum vigil_liveness l = vigil_cameras_liveness(e->cams, slot, now);
	char when[32];

	if (l == e->seen[slot].liveness)
		return;
	e->seen[slot].liveness = (uint8_t)l;
	if (l == VIGIL_LIVENESS_online) {
		vigil_events_emit(e, VIGIL_EVENT_camera_online,
				  json_pack("{ss}", "camera", e->cfg->cameras[slot].name));
	} else if (l == VIGIL_LIVENESS_offline) {
		rfc3339(wall - (now - e->cams->slots[slot].seen_ns), when);
		vigil_events_emit(
		    e, VIGIL_EVENT_camera_offline,
		    json_pack("{ss ss}", "camera", e->cfg->cameras[slot].name, "last_seen", when));
	}
}

/* More than AuthFailedPerMinute refusals since the minute began: said
 * once in that minute, as soon as it is over the bound. */
static void auth_failed(struct vigil_events *e, unsigned slot, uint64_t now)
{
	struct cam_seen *s = &e->seen[slot];
	uint64_t ctr[VIGIL_CTR_MAX], n;

	vigil_cameras_counters(e->cams, slot, ctr);
	n = ctr[VIGIL_CTR_auth_failed];
	if (s->auth_since_ns == 0 || now - s->auth_since_ns >= 60000000000u) {
		s->auth_since_ns = now;
		s->auth_base = n;
		s->auth_told = false;
		return;
	}
	if (s->auth_told || n - s->auth_base <= e->cfg->auth_failed_per_minute)
		return;
	s->auth_told = true;
	vigil_events_emit(e, VIGIL_EVENT_auth_failed,
			  json_pack("{ss sI sI}", "camera", e->cfg->cameras[slot].name, "count",
				    (json_int_t)(n - s->auth_base), "per_minute",
				    (json_int_t)e->cfg->auth_failed_per_minute));
}

/* RecordDir takes no new file, or write_errors rose: trouble, said once;
 * recovered after VIGIL_EVENTS_DISK_QUIET_S seconds without either. */
static void disk(struct vigil_events *e, uint64_t write_errors, uint64_t now)
{
	char buf[4200];
	const char *why = vigil_metrics_record_dir_unwritable(e->cfg->record_dir, buf, sizeof(buf));
	bool rose = write_errors > e->write_errors;

	e->write_errors = write_errors;
	if (why != NULL || rose) {
		e->quiet = 0;
		if (e->trouble_since_ns == 0) {
			e->trouble_since_ns = now;
			vigil_events_emit(e, VIGIL_EVENT_disk_trouble,
					  json_pack("{ss sI}", "reason",
						    why != NULL ? why : "the recorder's writes failed",
						    "write_errors", (json_int_t)write_errors));
		}
		return;
	}
	if (e->trouble_since_ns != 0 && ++e->quiet >= VIGIL_EVENTS_DISK_QUIET_S) {
		vigil_events_emit(e, VIGIL_EVENT_disk_recovered,
				  json_pack("{sf}", "seconds", (double)(now - e->trouble_since_ns) / 1e9));
		e->trouble_since_ns = 0;
	}
}

/* The uploader's failure streak (record/upload.h): told once it has
 * lasted VIGIL_EVENTS_STORE_FAILING_S, and its end. */
static void store(struct vigil_events *e, const struct vigil_uploader *up, uint64_t wall)
{
	struct vigil_upload_stats s;
	const struct vigil_upload_stats *st = &s;
	uint64_t since;

	if (up == NULL)
		return;
	vigil_uploader_stats(up, &s);
	since = s.failing_since_ns;
	if (since != 0 && e->store_failing_ns == 0 && wall >= since + VIGIL_EVENTS_STORE_FAILING_S * 1000000000ull) {
		e->store_failing_ns = since;
		vigil_events_emit(e, VIGIL_EVENT_storage_failing,
				  json_pack("{sf sI}", "seconds", (double)(wall - since) / 1e9, "spool_segments",
					    (json_int_t)st->spool_segments));
	} else if (since == 0 && e->store_failing_ns != 0) {
		vigil_events_emit(e, VIGIL_EVENT_storage_recovered,
				  json_pack("{sf sI}", "seconds", (double)(wall - e->store_failing_ns) / 1e9,
					    "spool_segments", (json_int_t)st->spool_segments));
		e->store_failing_ns = 0;
	}
}

void vigil_events_second(struct vigil_events *e, const struct vigil_recorder *rec, const struct vigil_uploader *up)
{
	uint64_t now = vigil_now_ns(), wall = vigil_clock_ns(CLOCK_REALTIME), write_errors = 0;

	for (unsigned slot = 0; slot < e->cfg->n_cameras; slot++) {
		const struct vigil_recorder_stats *rs = vigil_recorder_stats(rec, slot);

		liveness(e, slot, now, wall);
		auth_failed(e, slot, now);
		if (rs != NULL)
			write_errors += rs->write_errors;
	}
	if (!e->looked)
		e->write_errors = write_errors;
	e->looked = true;
	disk(e, write_errors, now);
	store(e, up, wall);
}

void vigil_events_counts(const struct vigil_events *e, struct vigil_events_counts *out)
{
	struct vigil_webhook_stats st = {0};

	memset(out, 0, sizeof(*out));
	memcpy(out->emitted, e->emitted, sizeof(out->emitted));
	if (e->hook != NULL)
		vigil_webhook_stats(e->hook, &st);
	out->dropped = st.dropped + e->dropped_ring;
	out->webhook_queued = st.queued;
	out->webhook_delivered = st.delivered;
	out->webhook_failures = st.failures;
	if (e->admin != NULL)
		vigil_admin_watchers(e->admin, &out->watchers, &out->watchers_dropped);
}

json_t *vigil_events_summary(const struct vigil_events *e)
{
	struct vigil_events_counts n;
	json_t *emitted = json_object(), *out;

	vigil_events_counts(e, &n);
	for (unsigned t = 0; t < VIGIL_EVENT_MAX; t++)
		json_object_set_new(emitted, names[t], json_integer((json_int_t)n.emitted[t]));
	out =
	    json_pack("{so sI sI sI}", "emitted", emitted, "events_dropped", (json_int_t)n.dropped,
		      "watchers", (json_int_t)n.watchers, "watchers_dropped", (json_int_t)n.watchers_dropped);
	if (e->hook != NULL)
		json_object_set_new(out, "webhook",
				    json_pack("{sI sI sI}", "queued", (json_int_t)n.webhook_queued,
					      "delivered", (json_int_t)n.webhook_delivered, "failures",
					      (json_int_t)n.webhook_failures));
	return out;
}

void vigil_events_free(struct vigil_events *e)
{
	if (e == NULL)
		return;
	if (e->cams->on_event_arg == e)
		e->cams->on_event = NULL;
	vigil_webhook_stop(e->hook);
	free(e->seen);
	free(e);
}
