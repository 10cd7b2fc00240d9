/* SPDX-License-Identifier: MIT */
/* Camera slots and live configuration changes. Only the control thread
 * runs this; the data plane sees the changes through the stream table. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <rte_hash.h>
#include <sodium.h>

#include "vigil/clock.h"
#include "cameras.h"
#include "keystore.h"

static int find_slot(const struct vigil_config *cfg, const char *name)
{
	for (unsigned i = 0; i < cfg->n_cameras; i++)
		if (strcmp(cfg->cameras[i].name, name) == 0)
			return (int)i;
	return -1;
}

int vigil_cameras_find(const struct vigil_cameras *c, const char *name)
{
	return find_slot(c->cfg, name);
}

bool vigil_cameras_live(const struct vigil_cameras *c, unsigned slot)
{
	return slot < c->table->capacity && c->table->slots[slot] != NULL;
}

enum vigil_camera_state vigil_cameras_state(const struct vigil_cameras *c, unsigned slot)
{
	if (vigil_cameras_live(c, slot))
		return VIGIL_CAMERA_LIVE;
	if (c->removed[slot])
		return VIGIL_CAMERA_REMOVED;
	if (c->cfg->cameras[slot].revoked)
		return VIGIL_CAMERA_REVOKED;
	return c->cfg->cameras[slot].has_identity ? VIGIL_CAMERA_HANDSHAKE : VIGIL_CAMERA_REMOVED;
}

const char *vigil_camera_state_name(enum vigil_camera_state state)
{
	static const char *const names[] = {
		[VIGIL_CAMERA_LIVE] = "live",
		[VIGIL_CAMERA_HANDSHAKE] = "handshake",
		[VIGIL_CAMERA_REVOKED] = "revoked",
		[VIGIL_CAMERA_REMOVED] = "removed",
	};

	return names[state];
}

/* Identity cameras get theirs from a handshake. */
static bool has_key(const struct vigil_camera_config *cam)
{
	return !cam->has_identity && !cam->revoked;
}

/* The live or revoked camera that has this SSRC, or -1. An Identity
 * camera has one while it is live. */
static int ssrc_slot(const struct vigil_cameras *c, uint32_t ssrc)
{
	for (unsigned i = 0; i < c->cfg->n_cameras; i++)
		if (c->cfg->cameras[i].ssrc == ssrc && !c->removed[i] &&
		    (!c->cfg->cameras[i].has_identity || vigil_cameras_live(c, i)))
			return (int)i;
	return -1;
}

/* The index a camera with a configured key continues from: its record of
 * this run (kept when its stream went), else the one read at start, when
 * it has the camera's SSRC and key id; NULL otherwise (a new key or SSRC
 * starts afresh, trying ROCs from 0). The slot's record is the stream's
 * from here on. */
static const struct vigil_stream_floor *floor_of(struct vigil_cameras *c, unsigned slot,
						 struct vigil_stream_floor *floor)
{
	const struct vigil_camera_config *cam = &c->cfg->cameras[slot];
	struct vigil_state_rec *p = &c->persist[slot];
	const struct vigil_state_rec *r = p->name[0] != '\0' ? p : vigil_state_find(c->state, cam->name);
	uint8_t id[VIGIL_STATE_KEY_ID_LEN];

	if (c->state == NULL || cam->has_identity)
		return NULL;
	vigil_state_key_id(cam->master_key, cam->master_salt, id);
	if (r == NULL || r->ssrc != cam->ssrc || sodium_memcmp(r->key_id, id, sizeof(id)) != 0) {
		memset(p, 0, sizeof(*p));
		p->ssrc = cam->ssrc;
		memcpy(p->key_id, id, sizeof(id));
		c->persist_dirty |= r != NULL; /* the record of the old key or SSRC goes */
		return NULL;
	}
	if (r != p)
		*p = *r;
	*floor = (struct vigil_stream_floor){.srtp = p->index, .srtcp = p->srtcp_index, .has_srtcp = p->has_srtcp};
	c->resumed++;
	return floor;
}

static int stream_add(struct vigil_cameras *c, unsigned slot)
{
	struct vigil_stream_floor floor;

	return vigil_stream_add(c->table, &c->cfg->cameras[slot], slot, floor_of(c, slot, &floor));
}

/* The stream's highest index into its record. */
static void note_top(struct vigil_cameras *c, unsigned slot)
{
	const struct vigil_stream *s = c->table->slots[slot];
	struct vigil_state_rec *p = &c->persist[slot];
	struct vigil_stream_floor top;

	if (c->state == NULL || s == NULL || c->cfg->cameras[slot].has_identity || !vigil_stream_top(s, &top))
		return;
	if (p->name[0] != '\0' && p->index == top.srtp && p->has_srtcp == top.has_srtcp &&
	    p->srtcp_index == top.srtcp)
		return;
	snprintf(p->name, sizeof(p->name), "%s", c->cfg->cameras[slot].name);
	p->index = top.srtp;
	p->srtcp_index = top.srtcp;
	p->has_srtcp = top.has_srtcp;
	c->persist_dirty = true;
}

/* Out of the stream table, its index kept. */
static void stream_remove(struct vigil_cameras *c, unsigned slot)
{
	note_top(c, slot);
	vigil_stream_remove(c->table, slot, &c->retired[slot]);
}

/* A rotation keeps the replay window, so the record goes on, under the
 * new key's id. */
static void key_rotated(struct vigil_cameras *c, unsigned slot, const uint8_t *key, const uint8_t *salt)
{
	if (c->state != NULL) {
		vigil_state_key_id(key, salt, c->persist[slot].key_id);
		c->persist_dirty = true;
	}
}

int vigil_cameras_init(struct vigil_cameras *c, struct vigil_config *cfg, struct vigil_stream_table *table,
		       struct vigil_state *state, char *msg, size_t msglen)
{
	struct vigil_camera_config *slots;
	uintptr_t page;
	int rc;

	memset(c, 0, sizeof(*c));
	/* Untouched slots cost address space only. */
	slots = calloc(cfg->max_cameras, sizeof(*slots));
	c->retired = calloc(cfg->max_cameras, sizeof(*c->retired));
	c->grace_until_ns = calloc(cfg->max_cameras, sizeof(*c->grace_until_ns));
	c->removed = calloc(cfg->max_cameras, sizeof(*c->removed));
	c->key_base = calloc(cfg->max_cameras, sizeof(*c->key_base));
	c->key_since_ns = calloc(cfg->max_cameras, sizeof(*c->key_since_ns));
	c->persist = calloc(cfg->max_cameras, sizeof(*c->persist));
	c->restarts_seen = calloc(cfg->max_cameras, sizeof(*c->restarts_seen));
	c->key_extended = calloc(cfg->max_cameras, sizeof(*c->key_extended));
	c->extension_logged = calloc(cfg->max_cameras, sizeof(*c->extension_logged));
	if (slots == NULL || c->retired == NULL || c->grace_until_ns == NULL || c->removed == NULL ||
	    c->key_base == NULL || c->key_since_ns == NULL || c->persist == NULL || c->restarts_seen == NULL ||
	    c->key_extended == NULL || c->extension_logged == NULL) {
		free(slots);
		vigil_cameras_fini(c);
		snprintf(msg, msglen, "no memory for %u camera slots", cfg->max_cameras);
		return -ENOMEM;
	}
	/* The keys: never swapped out, nor in a core dump. Slots are locked
	 * as they are used, or all of them would be resident; all are left
	 * out of dumps now, by whole pages (sodium_mlock's madvise needs them
	 * aligned, and calloc's are not). */
	page = (uintptr_t)sysconf(_SC_PAGESIZE);
	(void)madvise((void *)((uintptr_t)slots / page * page),
		      (uintptr_t)(slots + cfg->max_cameras) - (uintptr_t)slots / page * page, MADV_DONTDUMP);
	if (cfg->n_cameras > 0 && sodium_mlock(slots, cfg->n_cameras * sizeof(*slots)) != 0)
		fprintf(stderr, "vigild: cannot lock the camera keys in memory (%s); they may be swapped out\n",
			strerror(errno));
	memcpy(slots, cfg->cameras, cfg->n_cameras * sizeof(*slots));
	sodium_memzero(cfg->cameras, cfg->n_cameras * sizeof(*slots));
	free(cfg->cameras);
	cfg->cameras = slots;
	c->cfg = cfg;
	c->table = table;
	c->state = state;
	for (unsigned i = 0; i < cfg->n_cameras; i++) {
		if (!has_key(&cfg->cameras[i]))
			continue;
		rc = stream_add(c, i);
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
	free(c->removed);
	free(c->key_base);
	free(c->key_since_ns);
	free(c->persist);
	free(c->restarts_seen);
	free(c->key_extended);
	free(c->extension_logged);
	c->persist = NULL;
	c->restarts_seen = NULL;
	sodium_free(c->aside); /* wipes */
	c->aside = NULL;
	c->n_aside = 0;
	c->key_base = NULL;
	c->key_since_ns = NULL;
	c->key_extended = NULL;
	c->extension_logged = NULL;
	c->retired = NULL;
	c->grace_until_ns = NULL;
	c->removed = NULL;
}

/* The slot's settings as they now are, to whoever listens (the recorder). */
static void settings_changed(const struct vigil_cameras *c, unsigned slot)
{
	if (c->on_settings != NULL)
		c->on_settings(c->on_settings_arg, slot, &c->cfg->cameras[slot]);
}

/* What a reload may not do; nothing is applied when it says no. */
static int check_reload(const struct vigil_cameras *c, const struct vigil_config *next, char *msg, size_t msglen)
{
	unsigned new_slots = 0;

	for (unsigned i = 0; i < next->n_cameras; i++) {
		int slot = find_slot(c->cfg, next->cameras[i].name);
		int other = next->cameras[i].has_identity ? -1 : ssrc_slot(c, next->cameras[i].ssrc);

		if (other >= 0 && c->cfg->cameras[other].line == 0) {
			snprintf(msg, msglen, "%s:%u: SSRC %u is camera %s's, added with vigilctl", next->path,
				 next->cameras[i].line, next->cameras[i].ssrc, c->cfg->cameras[other].name);
			return -EEXIST;
		}
		other = next->cameras[i].has_identity
			    ? vigil_cameras_by_identity(c, next->cameras[i].identity)
			    : -1;
		if (other >= 0 && c->cfg->cameras[other].line == 0) {
			snprintf(msg, msglen,
				 "%s:%u: camera %s's Identity is camera %s's, added with vigilctl",
				 next->path, next->cameras[i].line, next->cameras[i].name,
				 c->cfg->cameras[other].name);
			return -EEXIST;
		}
		if (slot < 0) {
			new_slots++;
		} else if (c->cfg->cameras[slot].line == 0 && !c->removed[slot]) {
			snprintf(msg, msglen,
				 "%s:%u: camera %s was added with vigilctl; remove it there first (vigilctl camera remove %s)",
				 next->path, next->cameras[i].line, next->cameras[i].name, next->cameras[i].name);
			return -EEXIST;
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
	       a->workers != b->workers || a->recorders != b->recorders || a->segment_seconds != b->segment_seconds ||
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

int vigil_cameras_check(const struct vigil_cameras *c, char *msg, size_t msglen)
{
	struct vigil_config next;
	char err[5120];
	int rc;

	rc = vigil_config_load(&next, c->cfg->path, err, sizeof(err));
	if (rc < 0) {
		snprintf(msg, msglen, "%s", err);
		return rc;
	}
	rc = check_reload(c, &next, err, sizeof(err));
	if (rc < 0)
		snprintf(msg, msglen, "%s", err);
	else
		snprintf(msg, msglen, "%s: good, %u camera(s); a reload would apply it%s", next.path, next.n_cameras,
			 ingest_changed(c->cfg, &next) ? " ([Ingest] changes at restart)" : "");
	vigil_config_free(&next);
	return rc;
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
		if (cfg->cameras[slot].line == 0 || c->removed[slot])
			continue; /* the keystore's, or gone already */
		for (i = 0; i < (int)next.n_cameras; i++)
			if (strcmp(next.cameras[i].name, cfg->cameras[slot].name) == 0)
				break;
		if (i == (int)next.n_cameras) {
			c->removed[slot] = true;
			revoked++;
		} else if (next.cameras[i].has_identity ?
				   sodium_memcmp(next.cameras[i].identity, cfg->cameras[slot].identity, 32) == 0 :
				   next.cameras[i].ssrc == cfg->cameras[slot].ssrc && !cfg->cameras[slot].has_identity) {
			continue;
		}
		/* A new identity handshakes again; a new SSRC moves. */
		if (was_live[slot]) {
			stream_remove(c, slot);
			c->grace_until_ns[slot] = 0;
		}
	}
	for (unsigned i = 0; i < next.n_cameras; i++) {
		const struct vigil_camera_config *cam = &next.cameras[i];
		int slot = find_slot(cfg, cam->name);

		if (slot < 0) {
			slot = (int)cfg->n_cameras++;
			(void)sodium_mlock(&cfg->cameras[slot], sizeof(*cam));
			cfg->cameras[slot] = *cam;
			added++;
		} else if (!vigil_cameras_live(c, (unsigned)slot)) {
			if (was_live[slot])
				moved++;
			else if (c->removed[slot])
				added++; /* back after a revoke */
			cfg->cameras[slot] = *cam;
		} else {
			struct vigil_camera_config *cur = &cfg->cameras[slot];

			if (!cam->has_identity && !same_key(cur, cam)) {
				rc = vigil_stream_rotate(c->table, (unsigned)slot, cam->master_key, cam->master_salt);
				if (rc < 0)
					break;
				key_rotated(c, (unsigned)slot, cam->master_key, cam->master_salt);
				c->grace_until_ns[slot] = vigil_now_ns() + (uint64_t)next.key_grace_ms * 1000000u;
				rotated++;
			}
			if (memcmp(cur->payload_types, cam->payload_types, sizeof(cam->payload_types)))
				(void)vigil_stream_set_payload_types(c->table, (unsigned)slot, cam->payload_types);
			/* The running stream keeps the sets it caches from the camera. */
			params_later += !same_param_sets(cur, cam);
			if (cam->has_identity) {
				/* Its SSRC and key are its handshake's, the rest the file's. */
				uint32_t ssrc = cur->ssrc;
				uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN], salt[VIGIL_SRTP_MASTER_SALT_LEN];

				memcpy(key, cur->master_key, sizeof(key));
				memcpy(salt, cur->master_salt, sizeof(salt));
				*cur = *cam;
				cur->ssrc = ssrc;
				memcpy(cur->master_key, key, sizeof(key));
				memcpy(cur->master_salt, salt, sizeof(salt));
				sodium_memzero(key, sizeof(key));
				sodium_memzero(salt, sizeof(salt));
			} else {
				*cur = *cam;
			}
			settings_changed(c, (unsigned)slot);
			continue;
		}
		settings_changed(c, (unsigned)slot);
		c->removed[slot] = false;
		if (!has_key(cam))
			continue;
		rc = stream_add(c, (unsigned)slot);
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

/* Held by the keystore: added through the socket and still there. */
static bool in_keystore(const struct vigil_cameras *c, unsigned slot)
{
	return c->cfg->cameras[slot].line == 0 && vigil_cameras_state(c, slot) != VIGIL_CAMERA_REMOVED;
}

/* Writes the keystore as it is with slot's camera as *as (NULL: without
 * it; slot may be the next free one, or UINT_MAX for none), and the
 * records left out at start. A handshake's key and SSRC last until the
 * next one, never on disk: forward secrecy. */
static int save(const struct vigil_cameras *c, unsigned slot, const struct vigil_camera_config *as, char *msg,
		size_t msglen)
{
	const struct vigil_config *cfg = c->cfg;
	struct vigil_camera_config *cams;
	unsigned n = 0;
	int rc;

	if (c->keystore_key == NULL)
		return 0;
	/* Wiped and never swapped out. */
	cams = sodium_allocarray(cfg->n_cameras + 1 + c->n_aside, sizeof(*cams));
	if (cams == NULL) {
		snprintf(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	for (unsigned i = 0; i <= cfg->n_cameras; i++) {
		const struct vigil_camera_config *cam = i == slot ? as
							: i < cfg->n_cameras && in_keystore(c, i)
							    ? &cfg->cameras[i]
							    : NULL;

		if (cam == NULL)
			continue;
		cams[n] = *cam;
		if (cams[n].has_identity) {
			sodium_memzero(cams[n].master_key, sizeof(cams[n].master_key));
			sodium_memzero(cams[n].master_salt, sizeof(cams[n].master_salt));
			cams[n].ssrc = 0;
		}
		n++;
	}
	if (c->n_aside > 0)
		memcpy(cams + n, c->aside, c->n_aside * sizeof(*cams));
	rc = vigil_keystore_save(cfg->keystore, c->keystore_key, cams, n + c->n_aside, msg, msglen);
	sodium_free(cams);
	return rc;
}

/* After a change that was saved could not be made live: the keystore
 * goes back to what runs. msg gets what went wrong. */
static void unsave(const struct vigil_cameras *c, const char *name, const char *what, int rc, char *msg,
		   size_t msglen)
{
	char err[1024];

	if (save(c, UINT_MAX, NULL, err, sizeof(err)) < 0)
		snprintf(
		    msg, msglen,
		    "camera %s not %s: %s; and the keystore, which has the change, cannot be saved again: %s",
		    name, what, strerror(-rc), err);
	else
		snprintf(msg, msglen, "camera %s not %s: %s; nothing changed", name, what, strerror(-rc));
}

/* A camera the admin socket may change: one the keystore holds. */
static int keystore_camera(const struct vigil_cameras *c, const char *name, char *msg, size_t msglen)
{
	int slot = find_slot(c->cfg, name);

	if (slot < 0 || c->removed[slot]) {
		snprintf(msg, msglen, "no camera '%s'", name);
		return -ENOENT;
	}
	if (c->cfg->cameras[slot].line != 0) {
		snprintf(msg, msglen, "camera %s is in %s (line %u): change it there, then vigilctl reload", name,
			 c->cfg->path, c->cfg->cameras[slot].line);
		return -EPERM;
	}
	return slot;
}

/* The record left out at start with that name, SSRC or Identity, or -1. */
static int aside_clash(const struct vigil_cameras *c, const struct vigil_camera_config *cam)
{
	for (unsigned i = 0; i < c->n_aside; i++) {
		const struct vigil_camera_config *a = &c->aside[i];

		if (strcmp(a->name, cam->name) == 0 ||
		    (!a->has_identity && !cam->has_identity && a->ssrc == cam->ssrc) ||
		    (a->has_identity && cam->has_identity &&
		     sodium_memcmp(a->identity, cam->identity, 32) == 0))
			return (int)i;
	}
	return -1;
}

/* The slot cam would take (a removed camera's of that name, or the next
 * free one), or -errno with msg set; -EEXIST with *other the slot of the
 * camera that has its name, SSRC or Identity. */
static int check_add(const struct vigil_cameras *c, const struct vigil_camera_config *cam, int *other,
		     char *msg, size_t msglen)
{
	const struct vigil_config *cfg = c->cfg;
	int slot = find_slot(cfg, cam->name), aside;

	*other = slot;
	if (slot >= 0 && !c->removed[slot]) {
		snprintf(msg, msglen, "camera %s exists already (%s)", cam->name,
			 vigil_camera_state_name(vigil_cameras_state(c, (unsigned)slot)));
		return -EEXIST;
	}
	*other = cam->has_identity ? -1 : ssrc_slot(c, cam->ssrc);
	if (*other >= 0) {
		snprintf(msg, msglen, "SSRC %u is camera %s's", cam->ssrc, cfg->cameras[*other].name);
		return -EEXIST;
	}
	*other = cam->has_identity ? vigil_cameras_by_identity(c, cam->identity) : -1;
	if (*other >= 0) {
		snprintf(msg, msglen, "camera %s's Identity is camera %s's", cam->name,
			 cfg->cameras[*other].name);
		return -EEXIST;
	}
	aside = aside_clash(c, cam);
	if (aside >= 0) {
		snprintf(msg, msglen,
			 "the keystore's camera %s, left out at start since it clashes with %s, has that "
			 "name, SSRC or Identity",
			 c->aside[aside].name, cfg->path);
		return -EEXIST;
	}
	if (slot >= 0 && cfg->cameras[slot].codec != cam->codec) {
		snprintf(msg, msglen, "camera %s was removed, but its recordings are %s: keep that codec or use another name",
			 cam->name, cfg->cameras[slot].codec == VIGIL_CODEC_H264 ? "H264" : "H265");
		return -EINVAL;
	}
	if (slot < 0 && cfg->n_cameras == cfg->max_cameras) {
		snprintf(msg, msglen, "no room: MaxCameras = %u slots are used", cfg->max_cameras);
		return -ENOSPC;
	}
	return slot >= 0 ? slot : (int)cfg->n_cameras;
}

/* cam in its slot (check_add's), and live unless it waits for a
 * handshake or is revoked. On failure the slot is left removed. */
static int start_camera(struct vigil_cameras *c, unsigned slot, const struct vigil_camera_config *cam)
{
	struct vigil_config *cfg = c->cfg;
	int rc = 0;

	if (slot == cfg->n_cameras) {
		cfg->n_cameras++;
		(void)sodium_mlock(&cfg->cameras[slot], sizeof(*cam));
	}
	cfg->cameras[slot] = *cam;
	cfg->cameras[slot].line = 0;
	settings_changed(c, slot);
	c->removed[slot] = false;
	if (has_key(cam))
		rc = stream_add(c, slot);
	if (rc < 0)
		c->removed[slot] = true;
	return rc;
}

int vigil_cameras_keystore(struct vigil_cameras *c, const uint8_t *key,
			   const struct vigil_camera_config *stored, unsigned n, char *msg, size_t msglen)
{
	bool *out = calloc(n + 1, sizeof(*out));
	unsigned kept = 0, left = 0;
	int rc = 0;

	c->keystore_key = key;
	if (out == NULL) {
		snprintf(msg, msglen, "out of memory for the keystore's %u cameras", n);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n && rc == 0; i++) {
		char why[512];
		int other, slot = check_add(c, &stored[i], &other, why, sizeof(why));

		if (slot == -EEXIST) {
			fprintf(stderr,
				"vigild: keystore camera %s left out, and kept in the keystore as it is: %s "
				"(%s line %u)\n",
				stored[i].name, why, c->cfg->path, c->cfg->cameras[other].line);
			out[i] = true;
			left++;
			continue;
		}
		rc = slot < 0 ? slot : start_camera(c, (unsigned)slot, &stored[i]);
		if (rc < 0)
			snprintf(msg, msglen, "keystore camera %s: %s", stored[i].name,
				 slot < 0 ? why : strerror(-rc));
		else
			kept++;
	}
	if (rc == 0 && left > 0) {
		c->aside = sodium_allocarray(left, sizeof(*c->aside));
		if (c->aside == NULL) {
			snprintf(msg, msglen, "out of memory for the keystore's %u cameras left out", left);
			rc = -ENOMEM;
		}
		for (unsigned i = 0; rc == 0 && i < n; i++)
			if (out[i])
				c->aside[c->n_aside++] = stored[i];
	}
	free(out);
	if (rc == 0)
		fprintf(stderr, "vigild: keystore %s: %u camera(s)\n", c->cfg->keystore, kept);
	return rc;
}

int vigil_cameras_add(struct vigil_cameras *c, const struct vigil_camera_config *cam, char *msg,
		      size_t msglen)
{
	char err[1024];
	int other, slot = check_add(c, cam, &other, msg, msglen), rc;

	if (slot < 0)
		return slot;
	rc = save(c, (unsigned)slot, cam, err, sizeof(err));
	if (rc < 0) {
		snprintf(msg, msglen, "camera %s not added: %s", cam->name, err);
		return rc;
	}
	rc = start_camera(c, (unsigned)slot, cam);
	if (rc < 0) {
		unsave(c, cam->name, "added", rc, msg, msglen);
		return rc;
	}
	snprintf(msg, msglen, "camera %s added%s", cam->name,
		 cam->has_identity ? ", waiting for its handshake" : "");
	return 0;
}

int vigil_cameras_rotate(struct vigil_cameras *c, const char *name, const uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN],
			 const uint8_t salt[VIGIL_SRTP_MASTER_SALT_LEN], char *msg, size_t msglen)
{
	int slot = keystore_camera(c, name, msg, msglen);
	struct vigil_camera_config *cam, next;
	char err[1024];
	bool revoked;
	int rc;

	if (slot < 0)
		return slot;
	cam = &c->cfg->cameras[slot];
	if (cam->has_identity) {
		snprintf(msg, msglen,
			 "camera %s agrees its keys by handshake: it rekeys by itself (a revoked one comes back by remove, then add)",
			 name);
		return -EINVAL;
	}
	next = *cam;
	memcpy(next.master_key, key, VIGIL_SRTP_MASTER_KEY_LEN);
	memcpy(next.master_salt, salt, VIGIL_SRTP_MASTER_SALT_LEN);
	next.revoked = false;
	rc = save(c, (unsigned)slot, &next, err, sizeof(err));
	if (rc < 0) {
		sodium_memzero(&next, sizeof(next));
		snprintf(msg, msglen, "camera %s not rotated: %s", name, err);
		return rc;
	}
	revoked = cam->revoked;
	if (revoked) {
		*cam = next;
		rc = stream_add(c, (unsigned)slot);
		if (rc < 0) {
			cam->revoked = true;
			sodium_memzero(cam->master_key, sizeof(cam->master_key));
			sodium_memzero(cam->master_salt, sizeof(cam->master_salt));
		}
	} else {
		rc = vigil_stream_rotate(c->table, (unsigned)slot, key, salt);
		if (rc == 0) {
			key_rotated(c, (unsigned)slot, key, salt);
			*cam = next;
			c->grace_until_ns[slot] = vigil_now_ns() + (uint64_t)c->cfg->key_grace_ms * 1000000u;
		}
	}
	sodium_memzero(&next, sizeof(next));
	if (rc < 0)
		unsave(c, name, "rotated", rc, msg, msglen);
	else if (revoked)
		snprintf(msg, msglen, "camera %s has a new key and is live again", name);
	else
		snprintf(msg, msglen, "camera %s rotated; its previous key is accepted for %u ms more", name,
			 c->cfg->key_grace_ms);
	return rc;
}

/* Out of the stream table, key wiped. */
static void stop_camera(struct vigil_cameras *c, unsigned slot)
{
	struct vigil_camera_config *cam = &c->cfg->cameras[slot];

	if (vigil_cameras_live(c, slot))
		stream_remove(c, slot);
	c->grace_until_ns[slot] = 0;
	sodium_memzero(cam->master_key, sizeof(cam->master_key));
	sodium_memzero(cam->master_salt, sizeof(cam->master_salt));
}

int vigil_cameras_revoke(struct vigil_cameras *c, const char *name, char *msg, size_t msglen)
{
	int slot = keystore_camera(c, name, msg, msglen);
	struct vigil_camera_config next;
	char err[1024];
	int rc;

	if (slot < 0)
		return slot;
	next = c->cfg->cameras[slot];
	sodium_memzero(next.master_key, sizeof(next.master_key));
	sodium_memzero(next.master_salt, sizeof(next.master_salt));
	next.revoked = true;
	rc = save(c, (unsigned)slot, &next, err, sizeof(err));
	sodium_memzero(&next, sizeof(next));
	if (rc < 0) {
		snprintf(msg, msglen, "camera %s not revoked: %s", name, err);
		return rc;
	}
	stop_camera(c, (unsigned)slot);
	c->cfg->cameras[slot].revoked = true;
	snprintf(msg, msglen, "camera %s revoked: no packet of it is accepted from now on", name);
	return 0;
}

int vigil_cameras_remove(struct vigil_cameras *c, const char *name, char *msg, size_t msglen)
{
	int slot = keystore_camera(c, name, msg, msglen);
	char err[1024];
	int rc;

	if (slot < 0)
		return slot;
	rc = save(c, (unsigned)slot, NULL, err, sizeof(err));
	if (rc < 0) {
		snprintf(msg, msglen, "camera %s not removed: %s", name, err);
		return rc;
	}
	stop_camera(c, (unsigned)slot);
	c->removed[slot] = true;
	snprintf(msg, msglen, "camera %s removed; its recordings stay in %s/%s", name, c->cfg->record_dir, name);
	return 0;
}

int vigil_cameras_by_identity(const struct vigil_cameras *c, const uint8_t identity[32])
{
	const struct vigil_config *cfg = c->cfg;

	for (unsigned i = 0; i < cfg->n_cameras; i++)
		if (cfg->cameras[i].has_identity && !c->removed[i] &&
		    sodium_memcmp(cfg->cameras[i].identity, identity, 32) == 0)
			return (int)i;
	return -1;
}

/* Packets the worker has decrypted under the stream's current key so far
 * (its counters, read as they stand). */
static uint64_t under_current_key(const struct vigil_cameras *c, unsigned slot)
{
	const struct vigil_stream *s = c->table->slots[slot];

	uint64_t prev = __atomic_load_n(&s->ctr.v[VIGIL_CTR_decrypted_prev_key], __ATOMIC_RELAXED);
	uint64_t all = __atomic_load_n(&s->ctr.v[VIGIL_CTR_decrypted], __ATOMIC_RELAXED);

	/* The two are counted at different points: never below zero. */
	return all > prev ? all - prev : 0;
}

uint32_t vigil_cameras_fresh_ssrc(const struct vigil_cameras *c)
{
	uint32_t ssrc;

	/* The table also holds streams being removed. */
	do
		ssrc = randombytes_random();
	while (ssrc_slot(c, ssrc) >= 0 || rte_hash_lookup(c->table->by_ssrc, &ssrc) >= 0);
	return ssrc;
}

int vigil_cameras_handshake(struct vigil_cameras *c, unsigned slot, uint32_t ssrc,
			    const uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN], const uint8_t salt[VIGIL_SRTP_MASTER_SALT_LEN])
{
	struct vigil_camera_config *cam = &c->cfg->cameras[slot];
	int rc;

	if (cam->revoked || c->removed[slot])
		return -EPERM;
	if (vigil_cameras_live(c, slot)) {
		if (ssrc != cam->ssrc)
			return -EINVAL;
		/* A rekey: the current key becomes the previous one, kept for
		 * the grace. But a current key no packet has used yet came
		 * with a response the camera may never have had: it goes, and
		 * the previous one, which the camera still uses, stays until
		 * the end of the grace it got when it was first replaced, so
		 * a camera that never reads a response cannot keep it. */
		if (under_current_key(c, slot) <= c->key_base[slot]) {
			rc = vigil_stream_replace_key(c->table, slot, key, salt);
		} else {
			rc = vigil_stream_rotate(c->table, slot, key, salt);
			if (rc == 0)
				c->grace_until_ns[slot] =
				    vigil_now_ns() + (uint64_t)c->cfg->key_grace_ms * 1000000u;
		}
	} else {
		cam->ssrc = ssrc;
		memcpy(cam->master_key, key, VIGIL_SRTP_MASTER_KEY_LEN);
		memcpy(cam->master_salt, salt, VIGIL_SRTP_MASTER_SALT_LEN);
		rc = vigil_stream_add(c->table, cam, slot, NULL); /* fresh keys: nothing to continue */
	}
	if (rc == 0) {
		memcpy(cam->master_key, key, VIGIL_SRTP_MASTER_KEY_LEN);
		memcpy(cam->master_salt, salt, VIGIL_SRTP_MASTER_SALT_LEN);
		c->key_base[slot] = under_current_key(c, slot);
		c->key_since_ns[slot] = vigil_now_ns();
		c->key_extended[slot] = false;
	}
	return rc;
}

enum key_life { KEY_OK, KEY_EXTEND, KEY_SPENT };

/* A handshake camera's key is refused once it is half as old again as
 * RekeySeconds, or has carried half as many packets again as RekeyPackets,
 * without a rekey (as WireGuard's REJECT_AFTER_TIME): so a key lives a
 * bounded time, whatever the camera does. Its stream goes; the camera's
 * next handshake makes it live again. A flood on the HandshakePort can
 * hold the rekey up: a key that reaches its bound while the port is under
 * load is kept one more RekeySeconds (RekeyPackets) at most, once, so
 * that the bound stays whatever the load, 2.5 x instead of 1.5 x. */
static enum key_life key_life(const struct vigil_cameras *c, unsigned slot, uint64_t now, bool under_load)
{
	uint64_t period = (uint64_t)c->cfg->rekey_seconds * 1000000000u, packets = c->cfg->rekey_packets;
	uint64_t age = now - c->key_since_ns[slot], cur = under_current_key(c, slot);
	uint64_t used = cur > c->key_base[slot] ? cur - c->key_base[slot] : 0;
	bool past_bound = age > period + period / 2 || used > packets + packets / 2;
	bool past_cap = age > 2 * period + period / 2 || used > 2 * packets + packets / 2;

	if (past_cap || (past_bound && !c->key_extended[slot] && !under_load))
		return KEY_SPENT;
	return past_bound && !c->key_extended[slot] ? KEY_EXTEND : KEY_OK;
}

void vigil_cameras_tick(struct vigil_cameras *c, bool under_load)
{
	uint64_t now = vigil_now_ns();

	for (unsigned slot = 0; slot < c->cfg->n_cameras; slot++) {
		const struct vigil_camera_config *cam = &c->cfg->cameras[slot];
		enum key_life life = cam->has_identity && vigil_cameras_live(c, slot)
					 ? key_life(c, slot, now, under_load)
					 : KEY_OK;

		if (life == KEY_SPENT) {
			stop_camera(c, slot);
			c->keys_expired++;
			fprintf(stderr,
				"vigild: camera %s did not rekey in time; its packets are refused until its "
				"next handshake\n",
				cam->name);
			continue;
		}
		if (life == KEY_EXTEND) {
			c->key_extended[slot] = true;
			c->keys_extended++;
			if (!c->extension_logged[slot])
				fprintf(stderr,
					"vigild: camera %s: its key reached its rekey bound while the HandshakePort "
					"is under load; kept %u s (or RekeyPackets) more at most, until its next "
					"handshake (counted as key_extended; logged once per camera)\n",
					cam->name, c->cfg->rekey_seconds);
			c->extension_logged[slot] = true;
		}
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

/* The records that hold an index, for the state file. */
static struct vigil_state_rec *records(const struct vigil_cameras *c, unsigned *n)
{
	struct vigil_state_rec *recs = malloc(((size_t)c->cfg->n_cameras + 1) * sizeof(*recs));

	*n = 0;
	for (unsigned slot = 0; recs != NULL && slot < c->cfg->n_cameras; slot++)
		if (c->persist[slot].name[0] != '\0')
			recs[(*n)++] = c->persist[slot];
	return recs;
}

static void report_restarts(struct vigil_cameras *c)
{
	for (unsigned slot = 0; slot < c->cfg->n_cameras; slot++) {
		const struct vigil_stream *s = c->table->slots[slot];
		uint64_t n = s != NULL ? __atomic_load_n(&s->ctr.v[VIGIL_CTR_same_key_restart], __ATOMIC_RELAXED) : 0;

		n += c->retired[slot].v[VIGIL_CTR_same_key_restart];
		if (n <= c->restarts_seen[slot])
			continue;
		c->restarts_seen[slot] = n;
		fprintf(stderr,
			"vigild: camera %s came back under the same key with SRTP indices it had used (refused as "
			"replayed): it restarted without its sender state, or old traffic is replayed; rotate its key\n",
			c->cfg->cameras[slot].name);
	}
}

void vigil_cameras_second(struct vigil_cameras *c)
{
	struct vigil_state_rec *recs;
	unsigned n;

	report_restarts(c);
	if (c->state == NULL)
		return;
	for (unsigned slot = 0; slot < c->cfg->n_cameras; slot++)
		note_top(c, slot);
	if (!c->persist_dirty)
		return;
	recs = records(c, &n);
	if (recs != NULL && vigil_state_submit(c->state, recs, n))
		c->persist_dirty = false;
	free(recs);
}

int vigil_cameras_persist_final(struct vigil_cameras *c)
{
	struct vigil_state_rec *recs;
	unsigned n;
	int rc;

	if (c->state == NULL)
		return 0;
	for (unsigned slot = 0; slot < c->cfg->n_cameras; slot++)
		note_top(c, slot);
	recs = records(c, &n);
	rc = recs != NULL ? vigil_state_write(c->state, recs, n) : -ENOMEM;
	free(recs);
	return rc;
}
