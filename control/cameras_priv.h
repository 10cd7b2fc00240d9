/* SPDX-License-Identifier: MIT */
/* What the cameras' three files share (cameras.c, cameras_reload.c,
 * cameras_keystore.c): the slot registry's helpers, defined in cameras.c.
 * Not for the rest of vigild, which goes through cameras.h. */
#ifndef VIGIL_CAMERAS_PRIV_H
#define VIGIL_CAMERAS_PRIV_H

#include "cameras.h"

/* The slot of the camera of that name in cfg, or -1. */
int cameras_find_slot(const struct vigil_config *cfg, const char *name);

/* It has a key to be live with: not revoked, and not an Identity camera
 * (those get theirs from a handshake). */
bool cameras_has_key(const struct vigil_camera_config *cam);

/* The live or revoked camera that has this SSRC, or -1. An Identity
 * camera has one while it is live. */
int cameras_ssrc_slot(const struct vigil_cameras *c, uint32_t ssrc);

/* The slot's camera into the stream table, from its persisted index when
 * the replay state has the one of its SSRC and key. */
int cameras_stream_add(struct vigil_cameras *c, unsigned slot);

/* Out of the stream table, its index kept. */
void cameras_stream_remove(struct vigil_cameras *c, unsigned slot);
/* The feedback reservations due, written and handed out now (a camera
 * added or rotated while running). */
void cameras_reserve_feedback_now(struct vigil_cameras *c);

/* The camera in slot has its new key: a rotation keeps the replay window,
 * so the record goes on, under the new key's id (vigil_cameras_key_id);
 * and it is told (on_event) as done by "reload", "admin" or "handshake". */
void cameras_key_rotated(struct vigil_cameras *c, unsigned slot, const char *by);

/* What befell the slot's camera, to whoever listens (on_event). */
void cameras_event(const struct vigil_cameras *c, unsigned slot, unsigned type, const char *by);

/* Out of the stream table, key wiped. */
void cameras_stop(struct vigil_cameras *c, unsigned slot);

/* The slot's settings as they now are, to whoever listens (the recorder). */
void cameras_settings_changed(const struct vigil_cameras *c, unsigned slot);

#endif
