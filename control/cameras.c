/* SPDX-License-Identifier: MIT */
/* The camera slots: one per camera, never reused, with its stream in the
 * table, its handshake keys and their life (ticks), its counters and the
 * replay state it persists. Reload (cameras_reload.c) and the admin
 * socket's changes (cameras_keystore.c) go through the helpers here
 * (cameras_priv.h). Only the control thread runs this; the data plane
 * sees the changes through the stream table. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <rte_hash.h>
#include <sodium.h>

#include "vigil/log.h"
#include "vigil/clock.h"
#include "cameras_priv.h"
#include "event_types.h"

static struct vigil_log_limit key_expired_log; /* one cause each: a few lines a minute */

int cameras_find_slot(const struct vigil_config *cfg, const char *name)
{
	for (unsigned i = 0; i < cfg->n_cameras; i++)
		if (strcmp(cfg->cameras[i].name, name) == 0)
			return (int)i;
	return -1;
}

int vigil_cameras_find(const struct vigil_cameras *c, const char *name)
{
	return cameras_find_slot(c->cfg, name);
}

bool vigil_cameras_live(const struct vigil_cameras *c, unsigned slot)
{
	return slot < c->table->capacity && c->table->slots[slot] != NULL;
}

enum vigil_camera_state vigil_cameras_state(const struct vigil_cameras *c, unsigned slot)
{
	if (vigil_cameras_live(c, slot))
		return VIGIL_CAMERA_LIVE;
	if (c->slots[slot].removed)
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
bool cameras_has_key(const struct vigil_camera_config *cam)
{
	return !cam->has_identity && !cam->revoked;
}

/* The live or revoked camera that has this SSRC, as its own or its RTX
 * stream's, or -1. An Identity camera has them while it is live. */
int cameras_ssrc_slot(const struct vigil_cameras *c, uint32_t ssrc)
{
	for (unsigned i = 0; i < c->cfg->n_cameras; i++) {
		const struct vigil_camera_config *cam = &c->cfg->cameras[i];

		if ((cam->ssrc == ssrc || (cam->has_rtx && cam->rtx_ssrc == ssrc)) && !c->slots[i].removed &&
		    (!cam->has_identity || vigil_cameras_live(c, i)))
			return (int)i;
	}
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
	struct vigil_state_rec *p = &c->slots[slot].persist;
	const struct vigil_state_rec *r = p->name[0] != '\0' ? p : vigil_state_find(c->state, cam->name);
	uint8_t id[VIGIL_STATE_KEY_ID_LEN];

	if (c->state == NULL)
		return NULL;
	vigil_cameras_key_id(cam, id);
	if (r == NULL || r->ssrc != cam->ssrc || sodium_memcmp(r->key_id, id, sizeof(id)) != 0) {
		memset(p, 0, sizeof(*p));
		p->ssrc = cam->ssrc;
		memcpy(p->key_id, id, sizeof(id));
		c->persist_dirty |= r != NULL; /* the record of the old key or SSRC goes */
		return NULL;
	}
	if (r != p)
		*p = *r;
	*floor = (struct vigil_stream_floor){.srtp = p->index,
					     .srtcp = p->srtcp_index,
					     .has_srtcp = p->has_srtcp,
					     /* an RTX index is the RTX SSRC's */
					     .has_rtx = p->has_rtx && cam->has_rtx && p->rtx_ssrc == cam->rtx_ssrc,
					     .rtx = p->rtx_index,
					     .has_rtx_srtcp = p->has_rtx_srtcp && cam->has_rtx && p->rtx_ssrc == cam->rtx_ssrc,
					     .rtx_srtcp = p->rtx_srtcp_index,
					     .fb_reserved = p->fb_reserved};
	c->resumed++;
	return floor;
}

int cameras_stream_add(struct vigil_cameras *c, unsigned slot)
{
	struct vigil_stream_floor floor;

	return vigil_stream_add(c->table, &c->cfg->cameras[slot], slot, floor_of(c, slot, &floor));
}

/* The stream's highest index into its record. */
static void note_top(struct vigil_cameras *c, unsigned slot)
{
	const struct vigil_stream *s = c->table->slots[slot];
	struct vigil_state_rec *p = &c->slots[slot].persist;
	struct vigil_stream_floor top;

	if (c->state == NULL || s == NULL || !vigil_stream_top(s, &top))
		return;
	if (p->name[0] != '\0' && p->index == top.srtp && p->has_srtcp == top.has_srtcp &&
	    p->srtcp_index == top.srtcp && p->has_rtx == top.has_rtx && p->rtx_index == top.rtx &&
	    p->has_rtx_srtcp == top.has_rtx_srtcp && p->rtx_srtcp_index == top.rtx_srtcp)
		return;
	snprintf(p->name, sizeof(p->name), "%s", c->cfg->cameras[slot].name);
	p->index = top.srtp;
	p->srtcp_index = top.srtcp;
	p->has_srtcp = top.has_srtcp;
	p->has_rtx = top.has_rtx;
	p->rtx_ssrc = c->cfg->cameras[slot].rtx_ssrc;
	p->rtx_index = top.rtx;
	p->has_rtx_srtcp = top.has_rtx_srtcp;
	p->rtx_srtcp_index = top.rtx_srtcp;
	c->persist_dirty = true;
}

/* Feedback indices: a reservation written with the state (cameras_second),
 * handed to the stream once a write after it has completed. */
static void reserve_feedback(struct vigil_cameras *c, unsigned slot)
{
	struct vigil_stream *s = c->table->slots[slot];
	struct vigil_camera_slot *cs = &c->slots[slot];
	uint32_t want;

	/* One batch at a time: those made while one waits would be handed
	 * out with it before they are written. */
	if (s == NULL || cs->fb_pending != 0 || c->fb_writes != UINT64_MAX || c->cfg->cameras[slot].has_identity ||
	    !vigil_stream_feedback_due(s, &want))
		return;
	snprintf(cs->persist.name, sizeof(cs->persist.name), "%s", c->cfg->cameras[slot].name);
	cs->persist.fb_reserved = want;
	cs->fb_pending = want;
	c->persist_dirty = true;
}

static struct vigil_state_rec *records(const struct vigil_cameras *c, unsigned *n);

/* The reservations waiting, now durable, to their streams. */
static void hand_out_feedback(struct vigil_cameras *c)
{
	for (unsigned slot = 0; slot < c->cfg->n_cameras; slot++) {
		struct vigil_camera_slot *cs = &c->slots[slot];

		if (cs->fb_pending != 0 && c->table->slots[slot] != NULL)
			vigil_stream_feedback_reserved(c->table->slots[slot], cs->fb_pending);
		cs->fb_pending = 0;
	}
}

/* At start, and when a camera is added or rotated while running, the
 * reservations due are written at once, so feedback goes from the first
 * packets rather than after the next state write. The write holds every
 * slot's record: a batch still waiting for its write goes out with it. */
void cameras_reserve_feedback_now(struct vigil_cameras *c)
{
	struct vigil_state_rec *recs;
	struct vigil_state_stats st;
	bool any = false;
	unsigned n;

	if (c->state == NULL)
		return;
	c->fb_writes = UINT64_MAX;
	for (unsigned slot = 0; slot < c->cfg->n_cameras; slot++) {
		reserve_feedback(c, slot);
		any |= c->slots[slot].fb_pending != 0;
	}
	if (!any)
		return;
	recs = records(c, &n);
	if (recs != NULL && vigil_state_write(c->state, recs, n) == 0) {
		hand_out_feedback(c);
		c->persist_dirty = false;
	} else {
		/* Handed out after the next write, which will hold them. */
		vigil_state_stats(c->state, &st);
		c->fb_writes = st.writes;
		c->persist_dirty = true;
	}
	free(recs);
}

static void publish_feedback(struct vigil_cameras *c)
{
	struct vigil_state_stats st;

	vigil_state_stats(c->state, &st);
	if (st.writes <= c->fb_writes)
		return;
	hand_out_feedback(c);
	c->fb_writes = UINT64_MAX; /* until the next reservation is submitted */
}

int vigil_cameras_continue_from(struct vigil_cameras *c, unsigned slot, const uint8_t key_id[VIGIL_STATE_KEY_ID_LEN],
				uint64_t index)
{
	const struct vigil_camera_config *cam = &c->cfg->cameras[slot];
	struct vigil_state_rec *p = &c->slots[slot].persist;
	uint8_t id[VIGIL_STATE_KEY_ID_LEN];

	if (c->state == NULL || c->table->slots[slot] == NULL)
		return 0;
	vigil_cameras_key_id(cam, id);
	if (sodium_memcmp(id, key_id, sizeof(id)) != 0)
		return 0; /* another key's index: nothing to go on from */
	note_top(c, slot);
	if (p->name[0] != '\0' && p->ssrc == cam->ssrc && sodium_memcmp(p->key_id, id, sizeof(id)) == 0 &&
	    p->index >= index)
		return 0;
	/* Re-added from the higher index: the worker owns the window. */
	cameras_stream_remove(c, slot);
	if (p->name[0] == '\0' || p->ssrc != cam->ssrc || sodium_memcmp(p->key_id, id, sizeof(id)) != 0) {
		memset(p, 0, sizeof(*p));
		snprintf(p->name, sizeof(p->name), "%s", cam->name);
		p->ssrc = cam->ssrc;
		memcpy(p->key_id, id, sizeof(id));
	}
	if (index > p->index)
		p->index = index;
	c->persist_dirty = true;
	if (cameras_stream_add(c, slot) < 0)
		return -1;
	/* The new stream counts its packets from 0: an Identity camera's key
	 * has carried none of them yet. */
	c->slots[slot].key_base = 0;
	return 1;
}

/* Out of the stream table, its index kept. */
void cameras_stream_remove(struct vigil_cameras *c, unsigned slot)
{
	note_top(c, slot);
	vigil_stream_remove(c->table, slot, &c->slots[slot].retired);
}

void vigil_cameras_key_id(const struct vigil_camera_config *cam, uint8_t id[VIGIL_STATE_KEY_ID_LEN])
{
	static const uint8_t no_salt[VIGIL_SRTP_MASTER_SALT_LEN];

	if (cam->has_identity)
		vigil_state_key_id(cam->identity, no_salt, id);
	else
		vigil_state_key_id(cam->master_key, cam->master_salt, id);
}

void cameras_key_rotated(struct vigil_cameras *c, unsigned slot, const char *by)
{
	if (c->state != NULL) {
		vigil_cameras_key_id(&c->cfg->cameras[slot], c->slots[slot].persist.key_id);
		/* The new key's feedback indices start afresh. */
		c->slots[slot].persist.fb_reserved = 0;
		c->slots[slot].fb_pending = 0;
		c->persist_dirty = true;
	}
	cameras_event(c, slot, VIGIL_EVENT_key_rotated, by);
}

void cameras_event(const struct vigil_cameras *c, unsigned slot, unsigned type, const char *by)
{
	if (c->on_event != NULL)
		c->on_event(c->on_event_arg, slot, type, by);
}

int vigil_cameras_init(struct vigil_cameras *c, struct vigil_config *cfg, struct vigil_stream_table *table,
		       struct vigil_state *state, char *msg, size_t msglen)
{
	struct vigil_camera_config *cams;
	uintptr_t page;
	void *slots;
	int rc;

	memset(c, 0, sizeof(*c));
	/* Untouched slots cost address space only. The slots are mapped, not
	 * calloc'd: their counters want 64-byte alignment, which calloc does
	 * not give, and a fresh mapping is zero (each slot's origin the file). */
	cams = calloc(cfg->max_cameras, sizeof(*cams));
	c->slots_bytes = (size_t)cfg->max_cameras * sizeof(*c->slots);
	slots = mmap(NULL, c->slots_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (cams == NULL || slots == MAP_FAILED) {
		free(cams);
		if (slots != MAP_FAILED)
			(void)munmap(slots, c->slots_bytes);
		c->slots_bytes = 0;
		snprintf(msg, msglen, "no memory for %u camera slots", cfg->max_cameras);
		return -ENOMEM;
	}
	c->slots = slots;
	/* The keys: never swapped out, nor in a core dump. Slots are locked
	 * as they are used, or all of them would be resident; all are left
	 * out of dumps now, by whole pages (sodium_mlock's madvise needs them
	 * aligned, and calloc's are not). */
	page = (uintptr_t)sysconf(_SC_PAGESIZE);
	(void)madvise((void *)((uintptr_t)cams / page * page),
		      (uintptr_t)(cams + cfg->max_cameras) - (uintptr_t)cams / page * page, MADV_DONTDUMP);
	if (cfg->n_cameras > 0 && sodium_mlock(cams, cfg->n_cameras * sizeof(*cams)) != 0)
		vigil_log(VIGIL_LOG_WARNING, "vigild: cannot lock the camera keys in memory (%s); they may be swapped out\n",
			strerror(errno));
	memcpy(cams, cfg->cameras, cfg->n_cameras * sizeof(*cams));
	sodium_memzero(cfg->cameras, cfg->n_cameras * sizeof(*cams));
	free(cfg->cameras);
	cfg->cameras = cams;
	c->cfg = cfg;
	c->table = table;
	c->state = state;
	c->fb_writes = UINT64_MAX;
	for (unsigned i = 0; i < cfg->n_cameras; i++) {
		c->slots[i].origin = VIGIL_CAMERA_FROM_FILE;
		if (!cameras_has_key(&cfg->cameras[i]))
			continue;
		rc = cameras_stream_add(c, i);
		if (rc < 0) {
			snprintf(msg, msglen, "camera %s: cannot add its stream: %s", cfg->cameras[i].name,
				 strerror(-rc));
			return rc;
		}
	}
	cameras_reserve_feedback_now(c);
	return 0;
}

void vigil_cameras_fini(struct vigil_cameras *c)
{
	if (c->slots != NULL)
		(void)munmap(c->slots, c->slots_bytes);
	c->slots = NULL;
	c->slots_bytes = 0;
	sodium_free(c->aside); /* wipes */
	c->aside = NULL;
	c->n_aside = 0;
}

/* The slot's settings as they now are, to whoever listens (the recorder). */
void cameras_settings_changed(const struct vigil_cameras *c, unsigned slot)
{
	if (c->on_settings != NULL)
		c->on_settings(c->on_settings_arg, slot, &c->cfg->cameras[slot]);
}

/* Out of the stream table, key wiped. */
void cameras_stop(struct vigil_cameras *c, unsigned slot)
{
	struct vigil_camera_config *cam = &c->cfg->cameras[slot];

	if (vigil_cameras_live(c, slot))
		cameras_stream_remove(c, slot);
	c->slots[slot].grace_until_ns = 0;
	sodium_memzero(cam->master_key, sizeof(cam->master_key));
	sodium_memzero(cam->master_salt, sizeof(cam->master_salt));
}

int vigil_cameras_by_identity(const struct vigil_cameras *c, const uint8_t identity[32])
{
	const struct vigil_config *cfg = c->cfg;

	for (unsigned i = 0; i < cfg->n_cameras; i++)
		if (cfg->cameras[i].has_identity && !c->slots[i].removed &&
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
	while (cameras_ssrc_slot(c, ssrc) >= 0 || rte_hash_lookup(c->table->by_ssrc, &ssrc) >= 0);
	return ssrc;
}

/* The live stream of the slot is this one: the SSRCs and payload type
 * it was added with (the table holds its RTX SSRC, or not). */
static bool same_stream(const struct vigil_camera_config *cam, uint32_t ssrc, const struct vigil_hs_rtx *rtx)
{
	return ssrc == cam->ssrc && (rtx != NULL) == cam->has_rtx &&
	       (rtx == NULL || (rtx->ssrc == cam->rtx_ssrc && rtx->payload_type == cam->rtx_payload_type));
}

int vigil_cameras_handshake(struct vigil_cameras *c, unsigned slot, uint32_t ssrc,
			    const struct vigil_hs_rtx *rtx, const uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN],
			    const uint8_t salt[VIGIL_SRTP_MASTER_SALT_LEN], uint64_t age_ns)
{
	uint64_t now = vigil_now_ns();
	bool rekey;
	struct vigil_camera_config *cam = &c->cfg->cameras[slot];
	int rc;

	if (cam->revoked || c->slots[slot].removed)
		return -EPERM;
	/* RTX switched on or off: a stream's RTX is set when it is added, so
	 * the old stream goes and a new one comes, as after an expired key. */
	if (vigil_cameras_live(c, slot) && !same_stream(cam, ssrc, rtx))
		cameras_stop(c, slot);
	rekey = vigil_cameras_live(c, slot);
	if (rekey) {
		/* A rekey: the current key becomes the previous one, kept for
		 * the grace. But a current key no packet has used yet came
		 * with a response the camera may never have had: it goes, and
		 * the previous one, which the camera still uses, stays until
		 * the end of the grace it got when it was first replaced, so
		 * a camera that never reads a response cannot keep it. */
		if (under_current_key(c, slot) <= c->slots[slot].key_base) {
			rc = vigil_stream_replace_key(c->table, slot, key, salt);
		} else {
			rc = vigil_stream_rotate(c->table, slot, key, salt);
			if (rc == 0)
				c->slots[slot].grace_until_ns = now + (uint64_t)c->cfg->key_grace_ms * 1000000u;
		}
	} else {
		cam->ssrc = ssrc;
		cam->has_rtx = rtx != NULL;
		cam->rtx_ssrc = rtx != NULL ? rtx->ssrc : 0;
		cam->rtx_payload_type = rtx != NULL ? rtx->payload_type : 0;
		memcpy(cam->master_key, key, VIGIL_SRTP_MASTER_KEY_LEN);
		memcpy(cam->master_salt, salt, VIGIL_SRTP_MASTER_SALT_LEN);
		/* A key this node has an index of (a cluster's, from etcd after
		 * a restart) continues from it. */
		rc = cameras_stream_add(c, slot);
	}
	if (rc == 0) {
		memcpy(cam->master_key, key, VIGIL_SRTP_MASTER_KEY_LEN);
		memcpy(cam->master_salt, salt, VIGIL_SRTP_MASTER_SALT_LEN);
		c->slots[slot].key_base = under_current_key(c, slot);
		c->slots[slot].key_since_ns = now - (age_ns < now ? age_ns : 0);
		c->slots[slot].key_extended = false;
		if (rekey)
			cameras_key_rotated(c, slot, "handshake");
		else
			cameras_event(c, slot, VIGIL_EVENT_key_rotated, "handshake");
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
	uint64_t age = now - c->slots[slot].key_since_ns, cur = under_current_key(c, slot);
	uint64_t used = cur > c->slots[slot].key_base ? cur - c->slots[slot].key_base : 0;
	bool past_bound = age > period + period / 2 || used > packets + packets / 2;
	bool past_cap = age > 2 * period + period / 2 || used > 2 * packets + packets / 2;

	if (past_cap || (past_bound && !c->slots[slot].key_extended && !under_load))
		return KEY_SPENT;
	return past_bound && !c->slots[slot].key_extended ? KEY_EXTEND : KEY_OK;
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
			cameras_stop(c, slot);
			c->keys_expired++;
			cameras_event(c, slot, VIGIL_EVENT_key_expired, NULL);
			vigil_log_limited(&key_expired_log, VIGIL_LOG_WARNING,
				"vigild: camera %s did not rekey in time; its packets are refused until its "
				"next handshake\n",
				cam->name);
			continue;
		}
		if (life == KEY_EXTEND) {
			c->slots[slot].key_extended = true;
			c->keys_extended++;
			if (!c->slots[slot].extension_logged)
				vigil_log(VIGIL_LOG_WARNING,
					"vigild: camera %s: its key reached its rekey bound while the HandshakePort "
					"is under load; kept %u s (or RekeyPackets) more at most, until its next "
					"handshake (counted as key_extended; logged once per camera)\n",
					cam->name, c->cfg->rekey_seconds);
			c->slots[slot].extension_logged = true;
		}
		if (c->slots[slot].grace_until_ns == 0 || now < c->slots[slot].grace_until_ns)
			continue;
		vigil_stream_expire_prev(c->table, slot);
		c->slots[slot].grace_until_ns = 0;
	}
}

void vigil_cameras_counters(const struct vigil_cameras *c, unsigned slot, uint64_t out[VIGIL_CTR_MAX])
{
	const struct vigil_stream *s = vigil_cameras_live(c, slot) ? c->table->slots[slot] : NULL;

	for (unsigned i = 0; i < VIGIL_CTR_MAX; i++)
		out[i] = c->slots[slot].retired.v[i] + (s != NULL ? s->ctr.v[i] : 0);
}

/* The records that hold an index, for the state file. */
static struct vigil_state_rec *records(const struct vigil_cameras *c, unsigned *n)
{
	struct vigil_state_rec *recs = malloc(((size_t)c->cfg->n_cameras + 1) * sizeof(*recs));

	*n = 0;
	for (unsigned slot = 0; recs != NULL && slot < c->cfg->n_cameras; slot++)
		if (c->slots[slot].persist.name[0] != '\0')
			recs[(*n)++] = c->slots[slot].persist;
	return recs;
}

static void report_restarts(struct vigil_cameras *c)
{
	for (unsigned slot = 0; slot < c->cfg->n_cameras; slot++) {
		const struct vigil_stream *s = c->table->slots[slot];
		uint64_t n = s != NULL ? __atomic_load_n(&s->ctr.v[VIGIL_CTR_same_key_restart], __ATOMIC_RELAXED) : 0;

		n += c->slots[slot].retired.v[VIGIL_CTR_same_key_restart];
		if (n <= c->slots[slot].restarts_seen)
			continue;
		c->slots[slot].restarts_seen = n;
		vigil_log(VIGIL_LOG_WARNING,
			"vigild: camera %s came back under the same key with SRTP indices it had used (refused as "
			"replayed): it restarted without its sender state, or old traffic is replayed; rotate its key\n",
			c->cfg->cameras[slot].name);
	}
}

/* Authentic packets since the last look: the camera is seen now. */
static void note_seen(struct vigil_cameras *c, uint64_t now)
{
	for (unsigned slot = 0; slot < c->cfg->n_cameras; slot++) {
		const struct vigil_stream *s = vigil_cameras_live(c, slot) ? c->table->slots[slot] : NULL;
		struct vigil_camera_slot *cs = &c->slots[slot];
		uint64_t n = cs->retired.v[VIGIL_CTR_decrypted] + cs->retired.v[VIGIL_CTR_rtcp];

		if (s != NULL)
			n += __atomic_load_n(&s->ctr.v[VIGIL_CTR_decrypted], __ATOMIC_RELAXED) +
			     __atomic_load_n(&s->ctr.v[VIGIL_CTR_rtcp], __ATOMIC_RELAXED);
		if (n != cs->seen_packets) {
			cs->seen_packets = n;
			cs->seen_ns = now;
		}
	}
}

enum vigil_liveness vigil_cameras_liveness(const struct vigil_cameras *c, unsigned slot, uint64_t now)
{
	uint64_t seen = c->slots[slot].seen_ns;

	if (seen == 0)
		return VIGIL_LIVENESS_never_seen;
	return now - seen <= (uint64_t)c->cfg->offline_seconds * 1000000000u ? VIGIL_LIVENESS_online
									    : VIGIL_LIVENESS_offline;
}

const char *vigil_liveness_name(enum vigil_liveness l)
{
	static const char *const names[] = {
#define VIGIL_X_NAME(name, help) #name,
	    VIGIL_FOREACH_LIVENESS(VIGIL_X_NAME)
#undef VIGIL_X_NAME
	};

	return l < VIGIL_LIVENESS_MAX ? names[l] : "?";
}

void vigil_cameras_second(struct vigil_cameras *c)
{
	struct vigil_state_rec *recs;
	unsigned n;

	note_seen(c, vigil_now_ns());
	report_restarts(c);
	if (c->state == NULL)
		return;
	publish_feedback(c);
	for (unsigned slot = 0; slot < c->cfg->n_cameras; slot++) {
		note_top(c, slot);
		reserve_feedback(c, slot);
	}
	if (!c->persist_dirty)
		return;
	recs = records(c, &n);
	if (recs != NULL && vigil_state_submit(c->state, recs, n)) {
		struct vigil_state_stats st;

		c->persist_dirty = false;
		vigil_state_stats(c->state, &st);
		/* Nothing was being written: the next write done holds these. */
		if (c->fb_writes == UINT64_MAX)
			c->fb_writes = st.writes;
	}
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
