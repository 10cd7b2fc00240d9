/* SPDX-License-Identifier: MIT */
/* Reload: the configuration file read again, checked against what runs
 * (nothing applied when it says no), and its cameras' changes applied
 * while traffic flows: added, revoked, rotated, moved to a new SSRC. The
 * keystore's cameras are not the file's to change. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "vigil/clock.h"
#include "cameras_priv.h"

/* The running cameras by Name, SSRC (those cameras_ssrc_slot finds) and
 * Identity, and the file's by Name: built once a reload, which is then
 * linear in the cameras, not quadratic (10,000 cameras took 2.8 s). */
struct reload_index {
	json_t *names, *ssrcs, *identities, *next_names;
};

/* The same retransmission settings (RtxSSRC, RtxPayloadType,
 * RtcpReducedSize): a stream keeps its RTX SSRC in the table, so a change
 * re-adds it. */
static bool same_rtx(const struct vigil_camera_config *a, const struct vigil_camera_config *b)
{
	return a->has_rtx == b->has_rtx && a->rtcp_rsize == b->rtcp_rsize &&
	       (!a->has_rtx || (a->rtx_ssrc == b->rtx_ssrc && a->rtx_payload_type == b->rtx_payload_type));
}

static void ssrc_key(char key[16], uint32_t ssrc)
{
	snprintf(key, 16, "%u", ssrc);
}

static void identity_key(char key[65], const uint8_t identity[32])
{
	sodium_bin2hex(key, 65, identity, 32);
}

/* Slot or index of key in o, or -1. */
static int index_get(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return v != NULL ? (int)json_integer_value(v) : -1;
}

/* key -> i unless key has one already: the first one counts, as a walk
 * from slot 0 finds it. */
static int index_put(json_t *o, const char *key, unsigned i)
{
	return json_object_get(o, key) != NULL ? 0 : json_object_set_new(o, key, json_integer(i));
}

static void index_free(struct reload_index *x)
{
	json_decref(x->names);
	json_decref(x->ssrcs);
	json_decref(x->identities);
	json_decref(x->next_names);
}

static int index_build(struct reload_index *x, const struct vigil_cameras *c, const struct vigil_config *next)
{
	const struct vigil_config *cfg = c->cfg;
	char key[65];
	int rc = 0;

	x->names = json_object();
	x->ssrcs = json_object();
	x->identities = json_object();
	x->next_names = json_object();
	if (x->names == NULL || x->ssrcs == NULL || x->identities == NULL || x->next_names == NULL)
		return -ENOMEM;
	for (unsigned i = 0; rc == 0 && i < cfg->n_cameras; i++) {
		const struct vigil_camera_config *cam = &cfg->cameras[i];

		rc |= index_put(x->names, cam->name, i);
		if (c->slots[i].removed)
			continue;
		if (!cam->has_identity || vigil_cameras_live(c, i)) {
			ssrc_key(key, cam->ssrc);
			rc |= index_put(x->ssrcs, key, i);
		}
		if (cam->has_identity) {
			identity_key(key, cam->identity);
			rc |= index_put(x->identities, key, i);
		}
	}
	for (unsigned i = 0; rc == 0 && i < next->n_cameras; i++)
		rc |= index_put(x->next_names, next->cameras[i].name, i);
	return rc < 0 ? -ENOMEM : 0;
}

/* What a reload may not do; nothing is applied when it says no. */
static int check_reload(const struct vigil_cameras *c, const struct vigil_config *next, struct reload_index *x,
			char *msg, size_t msglen)
{
	unsigned new_slots = 0;
	char key[65];

	for (unsigned i = 0; i < next->n_cameras; i++) {
		int slot = index_get(x->names, next->cameras[i].name), other = -1;

		if (!next->cameras[i].has_identity) {
			ssrc_key(key, next->cameras[i].ssrc);
			other = index_get(x->ssrcs, key);
		}

		if (other >= 0 && c->slots[other].origin == VIGIL_CAMERA_FROM_KEYSTORE) {
			snprintf(msg, msglen, "%s:%u: SSRC %u is camera %s's, added with vigilctl", next->path,
				 next->cameras[i].line, next->cameras[i].ssrc, c->cfg->cameras[other].name);
			return -EEXIST;
		}
		other = -1;
		if (next->cameras[i].has_identity) {
			identity_key(key, next->cameras[i].identity);
			other = index_get(x->identities, key);
		}
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
	struct reload_index x = {0};
	struct vigil_config next;
	char err[5120];
	int rc;

	rc = vigil_config_load(&next, c->cfg->path, err, sizeof(err));
	if (rc < 0) {
		snprintf(msg, msglen, "%s", err);
		return rc;
	}
	rc = index_build(&x, c, &next);
	if (rc == 0)
		rc = check_reload(c, &next, &x, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "out of memory");
	index_free(&x);
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
	struct reload_index x = {0};
	unsigned *rotated_slots = NULL;
	uint64_t grace_until;
	bool ingest;
	bool *was_live = NULL;
	char err[5120];
	int rc;

	rc = vigil_config_load(&next, cfg->path, err, sizeof(err));
	if (rc < 0) {
		snprintf(msg, msglen, "reload refused, nothing changed: %s", err);
		return rc;
	}
	rc = index_build(&x, c, &next);
	if (rc < 0)
		snprintf(err, sizeof(err), "out of memory");
	else
		rc = check_reload(c, &next, &x, err, sizeof(err));
	if (rc < 0) {
		snprintf(msg, msglen, "reload refused, nothing changed: %s", err);
		goto out;
	}
	was_live = calloc(cfg->n_cameras + 1, sizeof(*was_live));
	rotated_slots = calloc(next.n_cameras + 1, sizeof(*rotated_slots));
	if (was_live == NULL || rotated_slots == NULL) {
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
		i = index_get(x.next_names, cfg->cameras[slot].name);
		if (i < 0) {
			c->slots[slot].removed = true;
			revoked++;
		} else if (next.cameras[i].has_identity ?
				   sodium_memcmp(next.cameras[i].identity, cfg->cameras[slot].identity, 32) == 0 :
				   next.cameras[i].ssrc == cfg->cameras[slot].ssrc && !cfg->cameras[slot].has_identity &&
					   same_rtx(&next.cameras[i], &cfg->cameras[slot])) {
			continue;
		}
		/* A new identity handshakes again; a new SSRC (or RTX SSRC) moves. */
		if (was_live[slot]) {
			cameras_stream_remove(c, slot);
			c->slots[slot].grace_until_ns = 0;
		}
	}
	for (unsigned i = 0; i < next.n_cameras; i++) {
		const struct vigil_camera_config *cam = &next.cameras[i];
		int slot = index_get(x.names, cam->name);

		if (slot < 0) {
			slot = (int)cfg->n_cameras++;
			(void)index_put(x.names, cam->name, (unsigned)slot); /* a duplicate Name was refused */
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
				cameras_key_rotated(c, (unsigned)slot, "reload");
				rotated_slots[rotated++] = (unsigned)slot;
			}
			if (memcmp(cur->payload_types, cam->payload_types, sizeof(cam->payload_types)))
				(void)vigil_stream_set_payload_types(c->table, (unsigned)slot, cam->payload_types);
			/* The running stream keeps the sets it caches from the camera. */
			params_later += !same_param_sets(cur, cam);
			if (cam->has_identity) {
				/* Its SSRC, RTX stream and key are its handshake's, the rest the file's. */
				uint32_t ssrc = cur->ssrc, rtx_ssrc = cur->rtx_ssrc;
				uint16_t rtx_payload_type = cur->rtx_payload_type;
				bool has_rtx = cur->has_rtx;
				uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN], salt[VIGIL_SRTP_MASTER_SALT_LEN];

				memcpy(key, cur->master_key, sizeof(key));
				memcpy(salt, cur->master_salt, sizeof(salt));
				*cur = *cam;
				cur->ssrc = ssrc;
				cur->has_rtx = has_rtx;
				cur->rtx_ssrc = rtx_ssrc;
				cur->rtx_payload_type = rtx_payload_type;
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
	cameras_reserve_feedback_now(c);
	/* The previous keys' grace counts from the end of the reload, when it
	 * is said done: a camera told then has all of it. */
	grace_until = vigil_now_ns() + (uint64_t)next.key_grace_ms * 1000000u;
	for (unsigned r = 0; r < rotated; r++)
		c->slots[rotated_slots[r]].grace_until_ns = grace_until;
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
out:
	free(was_live);
	free(rotated_slots);
	index_free(&x);
	vigil_config_free(&next);
	return rc;
}
