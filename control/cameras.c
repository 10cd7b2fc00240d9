/* SPDX-License-Identifier: MIT */
/* Camera slots and live configuration changes. Only the control thread
 * runs this; the data plane sees the changes through the stream table. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cameras.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int find_slot(const struct vigil_config *cfg, const char *name)
{
	for (unsigned i = 0; i < cfg->n_cameras; i++)
		if (strcmp(cfg->cameras[i].name, name) == 0)
			return (int)i;
	return -1;
}

bool vigil_cameras_live(const struct vigil_cameras *c, unsigned slot)
{
	return slot < c->table->capacity && c->table->slots[slot] != NULL;
}

int vigil_cameras_init(struct vigil_cameras *c, struct vigil_config *cfg, struct vigil_stream_table *table,
		       char *msg, size_t msglen)
{
	struct vigil_camera_config *slots;
	int rc;

	memset(c, 0, sizeof(*c));
	/* Untouched slots cost address space only. */
	slots = calloc(cfg->max_cameras, sizeof(*slots));
	c->retired = calloc(cfg->max_cameras, sizeof(*c->retired));
	c->grace_until_ns = calloc(cfg->max_cameras, sizeof(*c->grace_until_ns));
	if (slots == NULL || c->retired == NULL || c->grace_until_ns == NULL) {
		free(slots);
		vigil_cameras_fini(c);
		snprintf(msg, msglen, "no memory for %u camera slots", cfg->max_cameras);
		return -ENOMEM;
	}
	memcpy(slots, cfg->cameras, cfg->n_cameras * sizeof(*slots));
	sodium_memzero(cfg->cameras, cfg->n_cameras * sizeof(*slots));
	free(cfg->cameras);
	cfg->cameras = slots;
	c->cfg = cfg;
	c->table = table;
	for (unsigned i = 0; i < cfg->n_cameras; i++) {
		rc = vigil_stream_add(table, &cfg->cameras[i], i);
		if (rc < 0) {
			snprintf(msg, msglen, "camera %s: cannot add its stream: %s", cfg->cameras[i].name,
				 strerror(-rc));
			return rc;
		}
	}
	return 0;
}

void vigil_cameras_fini(struct vigil_cameras *c)
{
	free(c->retired);
	free(c->grace_until_ns);
	c->retired = NULL;
	c->grace_until_ns = NULL;
}

/* What a reload may not do; nothing is applied when it says no. */
static int check_reload(const struct vigil_cameras *c, const struct vigil_config *next, char *msg, size_t msglen)
{
	unsigned new_slots = 0;

	for (unsigned i = 0; i < next->n_cameras; i++) {
		int slot = find_slot(c->cfg, next->cameras[i].name);

		if (slot < 0) {
			new_slots++;
		} else if (c->cfg->cameras[slot].codec != next->cameras[i].codec) {
			/* Its recording is one stream of one codec. */
			snprintf(msg, msglen, "%s:%u: camera %s cannot change codec while running; give it a new Name",
				 next->path, next->cameras[i].line, next->cameras[i].name);
			return -EINVAL;
		}
	}
	if (c->cfg->n_cameras + new_slots > c->cfg->max_cameras) {
		snprintf(msg, msglen, "%s: %u new cameras do not fit MaxCameras = %u (%u slots used)", next->path,
			 new_slots, c->cfg->max_cameras, c->cfg->n_cameras);
		return -ENOSPC;
	}
	return 0;
}

/* [Ingest] settings the data plane was built with (KeyGraceSeconds is
 * the control plane's own and applies at once). */
static bool ingest_changed(const struct vigil_config *a, const struct vigil_config *b)
{
	return memcmp(a->srtp_ports, b->srtp_ports, sizeof(a->srtp_ports)) != 0 ||
	       strcmp(a->record_dir, b->record_dir) != 0 || strcmp(a->device, b->device) != 0 ||
	       a->workers != b->workers || a->segment_seconds != b->segment_seconds ||
	       a->max_frame_bytes != b->max_frame_bytes || a->max_cameras != b->max_cameras ||
	       a->n_ipv4 != b->n_ipv4 || a->n_ipv6 != b->n_ipv6 ||
	       memcmp(a->ipv4, b->ipv4, sizeof(a->ipv4)) != 0 || memcmp(a->ipv6, b->ipv6, sizeof(a->ipv6)) != 0;
}

static bool same_param_sets(const struct vigil_camera_config *a, const struct vigil_camera_config *b)
{
	if (a->n_param_sets != b->n_param_sets)
		return false;
	for (unsigned i = 0; i < a->n_param_sets; i++)
		if (a->param_sets[i].len != b->param_sets[i].len ||
		    memcmp(a->param_sets[i].nal, b->param_sets[i].nal, a->param_sets[i].len) != 0)
			return false;
	return true;
}

static bool same_key(const struct vigil_camera_config *a, const struct vigil_camera_config *b)
{
	return sodium_memcmp(a->master_key, b->master_key, sizeof(a->master_key)) == 0 &&
	       sodium_memcmp(a->master_salt, b->master_salt, sizeof(a->master_salt)) == 0;
}

int vigil_cameras_reload(struct vigil_cameras *c, char *msg, size_t msglen)
{
	struct vigil_config next;
	struct vigil_config *cfg = c->cfg;
	unsigned added = 0, rotated = 0, revoked = 0, moved = 0, params_later = 0;
	bool ingest;
	bool *was_live;
	char err[5120];
	int rc;

	rc = vigil_config_load(&next, cfg->path, err, sizeof(err));
	if (rc < 0) {
		snprintf(msg, msglen, "reload refused, nothing changed: %s", err);
		return rc;
	}
	rc = check_reload(c, &next, err, sizeof(err));
	if (rc < 0) {
		snprintf(msg, msglen, "reload refused, nothing changed: %s", err);
		goto out;
	}
	was_live = calloc(cfg->n_cameras + 1, sizeof(*was_live));
	if (was_live == NULL) {
		rc = -ENOMEM;
		snprintf(msg, msglen, "reload refused, nothing changed: out of memory");
		goto out;
	}
	/* Revokes and SSRC moves first, so SSRCs can trade places. */
	for (unsigned slot = 0; slot < cfg->n_cameras; slot++) {
		int i;

		was_live[slot] = vigil_cameras_live(c, slot);
		if (!was_live[slot])
			continue;
		for (i = 0; i < (int)next.n_cameras; i++)
			if (strcmp(next.cameras[i].name, cfg->cameras[slot].name) == 0)
				break;
		if (i < (int)next.n_cameras && next.cameras[i].ssrc == cfg->cameras[slot].ssrc)
			continue;
		vigil_stream_remove(c->table, slot, &c->retired[slot]);
		c->grace_until_ns[slot] = 0;
		if (i == (int)next.n_cameras)
			revoked++;
	}
	for (unsigned i = 0; i < next.n_cameras; i++) {
		const struct vigil_camera_config *cam = &next.cameras[i];
		int slot = find_slot(cfg, cam->name);

		if (slot < 0) {
			slot = (int)cfg->n_cameras++;
			cfg->cameras[slot] = *cam;
			added++;
		} else if (!vigil_cameras_live(c, (unsigned)slot)) {
			if (was_live[slot])
				moved++;
			else
				added++; /* back after a revoke */
			cfg->cameras[slot] = *cam;
		} else {
			if (!same_key(&cfg->cameras[slot], cam)) {
				rc = vigil_stream_rotate(c->table, (unsigned)slot, cam->master_key, cam->master_salt);
				if (rc < 0)
					break;
				c->grace_until_ns[slot] = now_ns() + (uint64_t)next.key_grace_ms * 1000000u;
				rotated++;
			}
			if (memcmp(cfg->cameras[slot].payload_types, cam->payload_types, sizeof(cam->payload_types)))
				(void)vigil_stream_set_payload_types(c->table, (unsigned)slot, cam->payload_types);
			/* The running stream keeps the sets it caches from the camera. */
			params_later += !same_param_sets(&cfg->cameras[slot], cam);
			cfg->cameras[slot] = *cam;
			continue;
		}
		rc = vigil_stream_add(c->table, &cfg->cameras[slot], (unsigned)slot);
		if (rc < 0)
			break;
	}
	cfg->key_grace_ms = next.key_grace_ms;
	/* Compared with what runs, so the note stays until a restart. */
	ingest = ingest_changed(cfg, &next);
	if (rc < 0)
		snprintf(msg, msglen, "reload stopped half way: %s (%u added, %u rotated, %u revoked, %u moved)",
			 strerror(-rc), added, rotated, revoked, moved);
	else
		snprintf(msg, msglen, "reload: %u added, %u rotated, %u revoked, %u moved to a new SSRC%s%s", added,
			 rotated, revoked, moved, ingest ? "; [Ingest] changes take effect at restart" : "",
			 params_later ? "; changed ParameterSets of running cameras apply when they are re-added" : "");
	free(was_live);
out:
	vigil_config_free(&next);
	return rc;
}

void vigil_cameras_tick(struct vigil_cameras *c)
{
	uint64_t now = now_ns();

	for (unsigned slot = 0; slot < c->cfg->n_cameras; slot++) {
		if (c->grace_until_ns[slot] == 0 || now < c->grace_until_ns[slot])
			continue;
		vigil_stream_expire_prev(c->table, slot);
		c->grace_until_ns[slot] = 0;
	}
}

void vigil_cameras_counters(const struct vigil_cameras *c, unsigned slot, uint64_t out[VIGIL_CTR_MAX])
{
	const struct vigil_stream *s = vigil_cameras_live(c, slot) ? c->table->slots[slot] : NULL;

	for (unsigned i = 0; i < VIGIL_CTR_MAX; i++)
		out[i] = c->retired[slot].v[i] + (s != NULL ? s->ctr.v[i] : 0);
}
