/* SPDX-License-Identifier: MIT */
/* The cameras vigild serves, by slot: it adds them to the stream table,
 * applies a changed configuration while traffic flows (add, rotate the
 * key, revoke), ends rotation grace periods, and keeps the counters of
 * cameras that were removed. The slot registry, handshake keys, ticks and
 * replay state are in cameras.c, reload in cameras_reload.c, the admin
 * socket's changes in cameras_keystore.c. */
#ifndef VIGIL_CAMERAS_H
#define VIGIL_CAMERAS_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "counters.h"
#include "handshake.h"
#include "state.h"
#include "stream.h"

/* Where a slot's camera came from, and so where it is changed. Zero, as
 * a fresh slot is, is the file. */
enum vigil_camera_origin {
	VIGIL_CAMERA_FROM_FILE,     /* the configuration file: changed there, then reloaded */
	VIGIL_CAMERA_FROM_KEYSTORE, /* added through the admin socket, kept in the keystore */
};

/* What vigild keeps of the camera in one slot, besides its settings and
 * keys: those are cfg->cameras[slot], the model's array (config_model.h),
 * kept apart since it is locked in memory and left out of core dumps. The
 * control thread's alone; the data plane never sees a slot. */
struct vigil_camera_slot {
	enum vigil_camera_origin origin; /* (the camera's line is for messages only) */
	bool removed;                    /* gone from the file or the keystore */
	uint64_t grace_until_ns;         /* when the previous key ends, or 0 */
	/* An Identity camera's current key, as its handshake set it. */
	uint64_t key_base;               /* packets under the current key when a handshake set it */
	uint64_t key_since_ns;           /* when a handshake set it */
	bool key_extended;               /* kept past its bound, under load */
	bool extension_logged;           /* the first extension was logged */
	/* Replay state (state.h), when it persists: SSRC and key id of the
	 * camera's stream, and, once known (name set), its highest index,
	 * kept when the stream goes so a re-added camera with the same key
	 * continues from it. */
	struct vigil_state_rec persist;
	uint64_t restarts_seen;          /* same_key_restart already reported */
	/* vigild's SRTCP indices for feedback (stream.h): reserved in
	 * persist, handed to the stream once the state file holding them is
	 * durable (0: none waiting). */
	uint32_t fb_pending;
	/* Liveness: its authentic packets (decrypted, SRTCP) as the last
	 * second's look found them, and when they last grew (0: never). */
	uint64_t seen_packets;
	uint64_t seen_ns;
	struct vigil_counters retired;   /* counters of its removed streams */
};

struct vigil_cameras {
	/* cfg->cameras and slots have room for cfg->max_cameras slots, the
	 * first cfg->n_cameras used; slots are never reused for another
	 * camera, so recordings and counters stay put. */
	struct vigil_config *cfg;
	struct vigil_stream_table *table;
	struct vigil_camera_slot *slots;
	size_t slots_bytes;             /* their mapping's size */
	uint64_t keys_extended, keys_expired; /* Identity cameras' keys, as the ticks found them */
	const uint8_t *keystore_key;    /* NULL: no Keystore */
	/* Replay state (state.h); NULL: nothing persists (a capture run
	 * without StateDir). */
	struct vigil_state *state;
	bool persist_dirty;             /* an index moved since the last write */
	uint64_t fb_writes;             /* state writes done when feedback reservations were submitted; UINT64_MAX: none waits */
	unsigned resumed;               /* cameras that continued from a persisted index */
	/* Keystore records left out at start (a file camera has their name,
	 * SSRC or Identity): written back unchanged at every save. */
	struct vigil_camera_config *aside;
	unsigned n_aside;
	/* Told a slot's settings whenever they may have changed (reload,
	 * keystore add), before its packets are taken: the recorder learns
	 * OwnerKey and retention from here, never from cfg->cameras. */
	void (*on_settings)(void *arg, unsigned slot, const struct vigil_camera_config *cam);
	void *on_settings_arg;
	/* Told what befell a camera's key (events.c): type is an enum
	 * vigil_event_type, key_rotated (by "reload", "admin" or "handshake")
	 * or key_expired (by NULL). NULL: nobody listens. */
	void (*on_event)(void *arg, unsigned slot, unsigned type, const char *by);
	void *on_event_arg;
};

/* Whether a camera sends: no authentic packet yet, one within
 * OfflineSeconds, or none for longer. */
#define VIGIL_FOREACH_LIVENESS(X)                                                                           \
	X(never_seen, "no authentic packet since vigild started")                                          \
	X(online, "an authentic packet within OfflineSeconds")                                             \
	X(offline, "no authentic packet for OfflineSeconds")

enum vigil_liveness {
#define VIGIL_X_ENUM(name, help) VIGIL_LIVENESS_##name,
	VIGIL_FOREACH_LIVENESS(VIGIL_X_ENUM)
#undef VIGIL_X_ENUM
	VIGIL_LIVENESS_MAX
};

/* What a slot holds, as vigilctl shows it. */
enum vigil_camera_state {
	VIGIL_CAMERA_LIVE,      /* its packets are taken */
	VIGIL_CAMERA_HANDSHAKE, /* an Identity camera waiting for its first handshake */
	VIGIL_CAMERA_REVOKED,   /* known, without a key, until rotated */
	VIGIL_CAMERA_REMOVED,
};

/* --- cameras.c: the slot registry --- */

/* Takes over cfg (its cameras array grows to max_cameras slots) and adds
 * every camera, those with a key from their persisted index in state
 * (NULL: none) when it has theirs. 0 or -errno with msg set. */
int vigil_cameras_init(struct vigil_cameras *c, struct vigil_config *cfg, struct vigil_stream_table *table,
		       struct vigil_state *state, char *msg, size_t msglen);
void vigil_cameras_fini(struct vigil_cameras *c);

/* The slot of the camera of that name, or -1. */
int vigil_cameras_find(const struct vigil_cameras *c, const char *name);
enum vigil_camera_state vigil_cameras_state(const struct vigil_cameras *c, unsigned slot);
const char *vigil_camera_state_name(enum vigil_camera_state state);

/* The Identity camera with that X25519 public key, or -1. */
int vigil_cameras_by_identity(const struct vigil_cameras *c, const uint8_t identity[32]);
/* An SSRC no camera has, as its SSRC or its RTX SSRC, nor any stream of
 * the table: for an Identity camera's first handshake, and its RTX stream. */
uint32_t vigil_cameras_fresh_ssrc(const struct vigil_cameras *c);
/* A handshake of the Identity camera in slot gave this key: the first
 * makes the camera live under ssrc, with the RTX stream rtx (NULL: none),
 * the next ones (same ssrc and rtx) rotate the key, the previous one kept
 * for KeyGraceSeconds. One with another ssrc or rtx than the live
 * stream's (the camera switched RTX on or off) replaces the stream, as
 * after an expired key. age_ns: how long ago the handshake was (a
 * cluster's, answered by another node: its key's life counts from then).
 * A stream added under a key the replay state has an index of continues
 * from it. -EPERM when it is revoked. */

int vigil_cameras_handshake(struct vigil_cameras *c, unsigned slot, uint32_t ssrc,
			    const struct vigil_hs_rtx *rtx, const uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN],
			    const uint8_t salt[VIGIL_SRTP_MASTER_SALT_LEN], uint64_t age_ns);

/* The id its replay state is kept under (state.h): a key's. An Identity
 * camera's SRTP indices go on across its rekeys under one SSRC (a first
 * handshake gives a fresh SSRC), so its id is its Identity's: its index
 * follows it from key to key, and to another node of a cluster. */
void vigil_cameras_key_id(const struct vigil_camera_config *cam, uint8_t id[VIGIL_STATE_KEY_ID_LEN]);

/* Ends the grace periods that are over, and refuses the keys of Identity
 * cameras that did not rekey in time: 1.5 x RekeySeconds or RekeyPackets
 * after their handshake. A key that reaches that bound while the
 * HandshakePort is under_load (a flood may be holding its rekey up) is
 * kept once, one RekeySeconds (RekeyPackets) longer at most: 2.5 x, load
 * or not. Counts both; call it a few times a second. */
void vigil_cameras_tick(struct vigil_cameras *c, bool under_load);

/* A camera's liveness at now (vigil_now_ns), as of the last second's look;
 * its name. */
enum vigil_liveness vigil_cameras_liveness(const struct vigil_cameras *c, unsigned slot, uint64_t now);
const char *vigil_liveness_name(enum vigil_liveness l);

/* About once a second: notes which cameras sent authentic packets, hands
 * the cameras' highest indices to the replay
 * state's writer when any moved, and reports (once each time) a camera
 * that came back under the same key (same_key_restart). */
void vigil_cameras_second(struct vigil_cameras *c);

/* A cluster node took the slot's camera over from another (cluster.c):
 * under the key of id key_id the camera continues above index, the
 * highest the previous owner published; the stream is re-added from it
 * when that is above its own. 1 then, 0 when nothing was to be done
 * (another key, an Identity camera, no StateDir), -1 when the stream
 * could not be added again. */
int vigil_cameras_continue_from(struct vigil_cameras *c, unsigned slot, const uint8_t key_id[VIGIL_STATE_KEY_ID_LEN],
				uint64_t index);

/* At a clean stop, once the workers have stopped: the replay state
 * written exactly as they left it, and durable when this returns. */
int vigil_cameras_persist_final(struct vigil_cameras *c);

/* A camera's counters, live and retired together. */
void vigil_cameras_counters(const struct vigil_cameras *c, unsigned slot, uint64_t out[VIGIL_CTR_MAX]);
bool vigil_cameras_live(const struct vigil_cameras *c, unsigned slot);

/* --- cameras_reload.c: the configuration file read again --- */

/* Read the configuration file again and apply what changed in its cameras:
 * new ones are added, removed ones revoked (when this returns no packet of
 * theirs is accepted), changed keys rotated, changed SSRCs moved. Nothing
 * is applied when the file has an error. msg says what happened. */
int vigil_cameras_reload(struct vigil_cameras *c, char *msg, size_t msglen);

/* What a reload would say of the file as it is now, without applying
 * it: 0 and a summary, or the error. */
int vigil_cameras_check(const struct vigil_cameras *c, char *msg, size_t msglen);

/* --- cameras_keystore.c: the keystore's cameras --- */

/* At start, after init: the Keystore's cameras (saved under key) join the
 * file's. The file wins: a keystore camera with the name, SSRC or Identity
 * of one of the file's is left out, with a warning naming both, and stays
 * in the keystore as it is. 0 or -errno with msg set. */
int vigil_cameras_keystore(struct vigil_cameras *c, const uint8_t *key,
			   const struct vigil_camera_config *stored, unsigned n, char *msg, size_t msglen);

/* Changes through the admin socket. They apply to the cameras the
 * keystore holds (VIGIL_CAMERA_FROM_KEYSTORE); a camera of the
 * configuration file is changed in the file and reloaded, so that file
 * and server never disagree. Each is saved to the keystore first and then
 * made live, and is live when it returns (after a revoke no packet of the
 * camera is accepted); when either step fails nothing changed, in the
 * keystore or running. 0 or -errno, with msg saying what happened or what
 * is wrong.
 *
 * add: the camera becomes the keystore's (its line is set to 0). A
 * removed camera's name may come back (its slot, counters and recordings
 * with it) if its codec is the same. */
int vigil_cameras_add(struct vigil_cameras *c, const struct vigil_camera_config *cam, char *msg, size_t msglen);
/* What add would refuse, without adding: the slot it would take, or
 * -errno with msg set (a cluster node checks before writing to etcd). */
int vigil_cameras_check_add(const struct vigil_cameras *c, const struct vigil_camera_config *cam, char *msg,
			    size_t msglen);
/* A new key; the previous one is accepted for KeyGraceSeconds. A revoked
 * camera is live again. */
int vigil_cameras_rotate(struct vigil_cameras *c, const char *name, const uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN],
			 const uint8_t salt[VIGIL_SRTP_MASTER_SALT_LEN], char *msg, size_t msglen);
/* Stop taking its packets and wipe its key; it stays known. */
int vigil_cameras_revoke(struct vigil_cameras *c, const char *name, char *msg, size_t msglen);
/* Revoke and forget it (its recordings stay on disk). */
int vigil_cameras_remove(struct vigil_cameras *c, const char *name, char *msg, size_t msglen);

#endif
