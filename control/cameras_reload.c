/* SPDX-License-Identifier: MIT */
/* Reload: the configuration file read again, checked against what runs
 * (nothing applied when it says no), and its cameras' changes applied
 * while traffic flows: added, revoked, rotated, moved to a new SSRC. The
 * keystore's cameras are not the file's to change. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vigil/clock.h"
#include "cameras_priv.h"

/* What a reload may not do; nothing is applied when it says no. */
static int check_reload(const struct vigil_cameras *c, const struct vigil_config *next, char *msg, size_t msglen)
{
	unsigned new_slots = 0;

	for (unsigned i = 0; i < next->n_cameras; i++) {
		int slot = cameras_find_slot(c->cfg, next->cameras[i].name);
		int other = next->cameras[i].has_identity ? -1 : cameras_ssrc_slot(c, next->cameras[i].ssrc);

		if (other >= 0 && c->slots[other].origin == VIGIL_CAMERA_FROM_KEYSTORE) {
			snprintf(msg, msglen, "%s:%u: SSRC %u is camera %s's, added with vigilctl", next->path,
				 next->cameras[i].line, next->cameras[i].ssrc, c->cfg->cameras[other].name);
			return -EEXIST;
		}
		other = next->cameras[i].has_identity
			    ? vigil_cameras_by_identity(c, next->cameras[i].identity)
			    : -1;
		if (other >= 0 && c->slots[other].origin == VIGIL_CAMERA_FROM_KEYSTORE) {
			snprintf(msg, msglen,
				 "%s:%u: camera %s's Identity is camera %s's, added with vigilctl",
				 next->path, next->cameras[i].line, next->cameras[i].name,
				 c->cfg->cameras[other].name);
			return -EEXIST;
		}
		if (slot < 0) {
			new_slots++;
		} else if (c->slots[slot].origin == VIGIL_CAMERA_FROM_KEYSTORE && !c->slots[slot].removed) {
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
		if (c->slots[slot].origin == VIGIL_CAMERA_FROM_KEYSTORE || c->slots[slot].removed)
			continue; /* the keystore's, or gone already */
		for (i = 0; i < (int)next.n_cameras; i++)
			if (strcmp(next.cameras[i].name, cfg->cameras[slot].name) == 0)
				break;
		if (i == (int)next.n_cameras) {
			c->slots[slot].removed = true;
			revoked++;
		} else if (next.cameras[i].has_identity ?
				   sodium_memcmp(next.cameras[i].identity, cfg->cameras[slot].identity, 32) == 0 :
				   next.cameras[i].ssrc == cfg->cameras[slot].ssrc && !cfg->cameras[slot].has_identity) {
			continue;
		}
		/* A new identity handshakes again; a new SSRC moves. */
		if (was_live[slot]) {
			cameras_stream_remove(c, slot);
			c->slots[slot].grace_until_ns = 0;
		}
	}
	for (unsigned i = 0; i < next.n_cameras; i++) {
		const struct vigil_camera_config *cam = &next.cameras[i];
		int slot = cameras_find_slot(cfg, cam->name);

		if (slot < 0) {
			slot = (int)cfg->n_cameras++;
			(void)sodium_mlock(&cfg->cameras[slot], sizeof(*cam));
			cfg->cameras[slot] = *cam;
			c->slots[slot].origin = VIGIL_CAMERA_FROM_FILE;
			added++;
		} else if (!vigil_cameras_live(c, (unsigned)slot)) {
			if (was_live[slot])
				moved++;
			else if (c->slots[slot].removed)
				added++; /* back after a revoke */
			cfg->cameras[slot] = *cam;
			/* The file's now, if it was a removed keystore camera's. */
			c->slots[slot].origin = VIGIL_CAMERA_FROM_FILE;
		} else {
			struct vigil_camera_config *cur = &cfg->cameras[slot];

			if (!cam->has_identity && !same_key(cur, cam)) {
				rc = vigil_stream_rotate(c->table, (unsigned)slot, cam->master_key, cam->master_salt);
				if (rc < 0)
					break;
				cameras_key_rotated(c, (unsigned)slot, cam->master_key, cam->master_salt, "reload");
				c->slots[slot].grace_until_ns = vigil_now_ns() + (uint64_t)next.key_grace_ms * 1000000u;
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
			cameras_settings_changed(c, (unsigned)slot);
			continue;
		}
		cameras_settings_changed(c, (unsigned)slot);
		c->slots[slot].removed = false;
		if (!cameras_has_key(cam))
			continue;
		rc = cameras_stream_add(c, (unsigned)slot);
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
