/* SPDX-License-Identifier: MIT */
/* The keystore's cameras: those added through the admin socket (add,
 * rotate, revoke, remove), each change saved to the keystore first and
 * then made live, or undone; and, at start, the keystore's cameras joining
 * the file's. A camera of the file is changed in the file (reload). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vigil/log.h"
#include "vigil/clock.h"
#include "cameras_priv.h"
#include "keystore.h"

/* Held by the keystore: added through the socket and still there. */
static bool in_keystore(const struct vigil_cameras *c, unsigned slot)
{
	return c->slots[slot].origin == VIGIL_CAMERA_FROM_KEYSTORE &&
	       vigil_cameras_state(c, slot) != VIGIL_CAMERA_REMOVED;
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
	int slot = cameras_find_slot(c->cfg, name);

	if (slot < 0 || c->slots[slot].removed) {
		snprintf(msg, msglen, "no camera '%s'", name);
		return -ENOENT;
	}
	if (c->slots[slot].origin != VIGIL_CAMERA_FROM_KEYSTORE) {
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
	int slot = cameras_find_slot(cfg, cam->name), aside;

	*other = slot;
	if (slot >= 0 && !c->slots[slot].removed) {
		snprintf(msg, msglen, "camera %s exists already (%s)", cam->name,
			 vigil_camera_state_name(vigil_cameras_state(c, (unsigned)slot)));
		return -EEXIST;
	}
	*other = cam->has_identity ? -1 : cameras_ssrc_slot(c, cam->ssrc);
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
	cfg->cameras[slot].line = 0; /* for messages: not in the file */
	c->slots[slot].origin = VIGIL_CAMERA_FROM_KEYSTORE;
	cameras_settings_changed(c, slot);
	c->slots[slot].removed = false;
	if (cameras_has_key(cam))
		rc = cameras_stream_add(c, slot);
	if (rc < 0)
		c->slots[slot].removed = true;
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
			vigil_log(VIGIL_LOG_ERR,
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
		vigil_log(VIGIL_LOG_INFO, "vigild: keystore %s: %u camera(s)\n", c->cfg->keystore, kept);
	return rc;
}

int vigil_cameras_check_add(const struct vigil_cameras *c, const struct vigil_camera_config *cam, char *msg,
			    size_t msglen)
{
	int other;

	return check_add(c, cam, &other, msg, msglen);
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
	cameras_reserve_feedback_now(c);
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
		rc = cameras_stream_add(c, (unsigned)slot);
		if (rc < 0) {
			cam->revoked = true;
			sodium_memzero(cam->master_key, sizeof(cam->master_key));
			sodium_memzero(cam->master_salt, sizeof(cam->master_salt));
		}
	} else {
		rc = vigil_stream_rotate(c->table, (unsigned)slot, key, salt);
		if (rc == 0) {
			*cam = next;
			cameras_key_rotated(c, (unsigned)slot, "admin");
			c->slots[slot].grace_until_ns = vigil_now_ns() + (uint64_t)c->cfg->key_grace_ms * 1000000u;
		}
	}
	sodium_memzero(&next, sizeof(next));
	if (rc == 0)
		cameras_reserve_feedback_now(c);
	if (rc < 0)
		unsave(c, name, "rotated", rc, msg, msglen);
	else if (revoked)
		snprintf(msg, msglen, "camera %s has a new key and is live again", name);
	else
		snprintf(msg, msglen, "camera %s rotated; its previous key is accepted for %u ms more", name,
			 c->cfg->key_grace_ms);
	return rc;
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
	cameras_stop(c, (unsigned)slot);
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
	cameras_stop(c, (unsigned)slot);
	c->slots[slot].removed = true;
	snprintf(msg, msglen, "camera %s removed; its recordings stay in %s/%s", name, c->cfg->record_dir, name);
	return 0;
}
