/* SPDX-License-Identifier: MIT */
/* The SSRC -> stream table and the control plane's edits to it: add,
 * rotate, remove, each safe while workers look streams up and decrypt.
 * Frame handoff to the recorder lives here too: the depacketizer's emit. */
#include <errno.h>

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_random.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "cryptodev.h"
#include "stream.h"

/* Called by the depacketizer for each complete access unit. The ring is
 * the only way to the recorder; when it is full, or its frames hold all
 * the mbufs they may, the frame is dropped and the stream waits for a key
 * frame, so the recording never references a frame it does not have. */
static void stream_emit(void *arg, struct rte_mbuf *frame)
{
	struct vigil_stream *s = arg;
	struct vigil_frame_ring *r = s->frames;
	uint16_t segs = frame->nb_segs;

	if (vigil_frame_ring_segs(r) + segs > r->max_segs || rte_ring_sp_enqueue(r->ring, frame) != 0) {
		s->ctr.v[VIGIL_CTR_ring_full]++;
		s->depay.need_key = true;
		rte_pktmbuf_free(frame);
		return;
	}
	r->segs_queued += segs;
	s->ctr.v[VIGIL_CTR_frames_enqueued]++;
}

static void key_free(struct vigil_stream_table *t, struct vigil_stream_key *k)
{
	if (k == NULL)
		return;
	for (unsigned i = 0; i < k->cd.n; i++)
		vigil_cryptodev_session_free(t->cd, k->cd.sess[i]);
	vigil_cryptodev_session_free(t->cd, k->cd.rtcp);
	vigil_srtp_wipe(&k->rtp);
	vigil_srtp_wipe(&k->rtcp);
	sodium_memzero(&k->cd, sizeof(k->cd));
	rte_free(k);
}

/* A session for one more header length, unless the key has all it may. */
static bool key_session_add(struct vigil_stream_table *t, struct vigil_stream_key *k, uint16_t hdr_len)
{
	void *sess;

	if (k->cd.n == VIGIL_KEY_SESSIONS)
		return false;
	sess = vigil_cryptodev_session(t->cd, k->cd.key, hdr_len, false);
	if (sess == NULL)
		return false;
	k->cd.hdr_len[k->cd.n] = hdr_len;
	__atomic_store_n(&k->cd.sess[k->cd.n], sess, __ATOMIC_RELEASE);
	k->cd.n++;
	return true;
}

static struct vigil_stream_key *key_new(struct vigil_stream_table *t, const uint8_t *master_key,
					const uint8_t *master_salt, bool ephemeral)
{
	struct vigil_stream_key *k = rte_zmalloc("vigil_key", sizeof(*k), RTE_CACHE_LINE_SIZE);

	if (k != NULL && (vigil_srtp_init(&k->rtp, master_key, master_salt) < 0 ||
			  vigil_srtcp_init(&k->rtcp, master_key, master_salt) < 0)) {
		key_free(t, k);
		return NULL;
	}
	/* A handshake's key never outlives the process: every index free. */
	if (k != NULL && ephemeral)
		k->fb.reserved = VIGIL_SRTCP_INDEX_END;
	/* Without one (the pool spent) the key works through libsodium. */
	if (k != NULL && t->cd != NULL &&
	    vigil_srtp_kdf(master_key, master_salt, VIGIL_SRTP_MASTER_SALT_LEN, VIGIL_SRTP_LABEL_RTP_ENCRYPTION,
			   k->cd.key, sizeof(k->cd.key)) == 0)
		(void)key_session_add(t, k, 12); /* RTP's fixed header alone */
	/* SRTCP's session key, on the CPU path: its AAD is always 12 bytes. */
	if (k != NULL && t->cd != NULL && !t->cd->async) {
		uint8_t rk[VIGIL_SRTP_MASTER_KEY_LEN];

		if (vigil_srtp_kdf(master_key, master_salt, VIGIL_SRTP_MASTER_SALT_LEN,
				   VIGIL_SRTP_LABEL_RTCP_ENCRYPTION, rk, sizeof(rk)) == 0)
			k->cd.rtcp = vigil_cryptodev_session(t->cd, rk, 12, false);
		sodium_memzero(rk, sizeof(rk));
	}
	return k;
}

void vigil_stream_table_crypto(struct vigil_stream_table *t, struct vigil_cryptodev *cd)
{
	t->cd = cd;
}

static unsigned key_sessions_wanted(struct vigil_stream_table *t, struct vigil_stream_key *k)
{
	/* The bits stay: a length left without a session (the bound, or the
	 * pool spent) is not asked for again at every packet. */
	uint32_t wanted = k != NULL ? __atomic_load_n(&k->cd.wanted, __ATOMIC_RELAXED) : 0;
	unsigned made = 0;

	while (wanted != 0) {
		uint16_t hdr_len = (uint16_t)(12 + 4 * __builtin_ctz(wanted));

		wanted &= wanted - 1;
		if (vigil_key_session(k, hdr_len) == NULL)
			made += key_session_add(t, k, hdr_len);
	}
	return made;
}

unsigned vigil_stream_sessions(struct vigil_stream_table *t)
{
	unsigned made = 0;

	if (t->cd == NULL || !__atomic_exchange_n(&t->sessions_wanted, false, __ATOMIC_ACQUIRE))
		return 0;
	for (unsigned i = 0; i < t->capacity; i++)
		if (t->slots[i] != NULL)
			made += key_sessions_wanted(t, t->slots[i]->key);
	return made;
}

/* Returns once every worker has passed a quiescent state: nothing read
 * before this call is still in use. */
static void wait_readers(struct vigil_stream_table *t)
{
	rte_rcu_qsbr_synchronize(t->qsbr, RTE_QSBR_THRID_INVALID);
}

void vigil_stream_table_sync(struct vigil_stream_table *t)
{
	wait_readers(t);
}

struct vigil_stream_table *vigil_stream_table_create(const char *name, unsigned capacity, unsigned n_workers,
						     unsigned n_recorders, size_t max_frame_bytes, struct rte_mempool *pool,
						     struct vigil_frame_ring *const *frames)
{
	struct rte_hash_parameters params = {
		.name = name,
		/* a camera's SSRC, and its RTX SSRC when it retransmits */
		.entries = capacity < 4 ? 8 : 2 * capacity,
		.key_len = sizeof(uint32_t),
		.hash_func = rte_jhash,
		.socket_id = (int)rte_socket_id(),
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF,
	};
	struct vigil_stream_table *t;
	size_t qsbr_len = rte_rcu_qsbr_get_memsize(n_workers);
	int err = ENOMEM;

	/* A frame's description lives in its first mbuf's private area. */
	if (n_workers == 0 || n_workers > VIGIL_MAX_WORKERS || n_recorders == 0 || n_recorders > VIGIL_MAX_RECORDERS ||
	    rte_pktmbuf_priv_size(pool) < sizeof(struct vigil_frame)) {
		errno = EINVAL;
		return NULL;
	}
	t = rte_zmalloc(name, sizeof(*t), 0);
	if (t == NULL)
		goto err;
	t->capacity = capacity;
	t->max_frame_bytes = max_frame_bytes;
	t->pool = pool;
	t->n_workers = n_workers;
	t->n_recorders = n_recorders;
	for (unsigned i = 0; i < n_workers * n_recorders; i++)
		t->frames[i] = frames[i];
	t->slots = rte_zmalloc(name, capacity * sizeof(*t->slots), 0);
	t->qsbr = rte_zmalloc(name, qsbr_len, RTE_CACHE_LINE_SIZE);
	if (t->slots == NULL || t->qsbr == NULL)
		goto err_table;
	if (rte_rcu_qsbr_init(t->qsbr, n_workers) < 0)
		goto err_rte;
	t->by_ssrc = rte_hash_create(&params);
	if (t->by_ssrc == NULL)
		goto err_rte;
	/* Deleting a key then waits for the readers before its slot is reused. */
	if (rte_hash_rcu_qsbr_add(t->by_ssrc, &(struct rte_hash_rcu_config){
						     .v = t->qsbr,
						     .mode = RTE_HASH_QSBR_MODE_SYNC,
					     }) < 0)
		goto err_hash;
	return t;

err_hash:
	rte_hash_free(t->by_ssrc);
err_rte:
	err = rte_errno ? rte_errno : ENOMEM;
err_table:
	rte_free(t->qsbr);
	rte_free(t->slots);
	rte_free(t);
err:
	errno = err;
	return NULL;
}

void vigil_stream_table_free(struct vigil_stream_table *t)
{
	if (t == NULL)
		return;
	for (unsigned i = 0; i < t->capacity; i++)
		if (t->slots[i] != NULL)
			vigil_stream_remove(t, i, &(struct vigil_counters){0});
	rte_hash_free(t->by_ssrc);
	rte_free(t->qsbr);
	rte_free(t->slots);
	rte_free(t);
}

int vigil_stream_add(struct vigil_stream_table *t, const struct vigil_camera_config *cam, uint32_t slot,
		     const struct vigil_stream_floor *floor)
{
	struct vigil_stream *s;
	int rc;

	if (slot >= t->capacity)
		return -ENOSPC;
	if (t->slots[slot] != NULL || rte_hash_lookup(t->by_ssrc, &cam->ssrc) >= 0)
		return -EEXIST;
	s = rte_zmalloc("vigil_stream", sizeof(*s), RTE_CACHE_LINE_SIZE);
	if (s == NULL)
		return -ENOMEM;
	if (cam->has_rtx && rte_hash_lookup(t->by_ssrc, &cam->rtx_ssrc) >= 0) {
		rte_free(s);
		return -EEXIST;
	}
	s->ephemeral = cam->has_identity;
	s->elsewhere = t->ownership;
	s->key = key_new(t, cam->master_key, cam->master_salt, s->ephemeral);
	if (s->key == NULL) {
		rte_free(s);
		return -ENOMEM;
	}
	if (floor != NULL)
		vigil_replay_init_floor(&s->replay, floor->srtp);
	else
		vigil_replay_init(&s->replay);
	if (floor != NULL && floor->has_srtcp)
		vigil_replay_init_floor(&s->rtcp_replay, floor->srtcp);
	else
		vigil_replay_init(&s->rtcp_replay);
	if (floor != NULL && floor->has_rtx)
		vigil_replay_init_floor(&s->rtx_replay, floor->rtx);
	else
		vigil_replay_init(&s->rtx_replay);
	if (floor != NULL && floor->has_rtx_srtcp)
		vigil_replay_init_floor(&s->rtx_rtcp_replay, floor->rtx_srtcp);
	else
		vigil_replay_init(&s->rtx_rtcp_replay);
	/* Past every index the last run may have used: the control plane
	 * reserves from here before any is (vigil_stream_reserve). */
	if (floor != NULL)
		s->key->fb.next = floor->fb_reserved;
	s->has_rtx = cam->has_rtx;
	s->feedback = cam->has_rtx && t->retransmit_hold_ms > 0;
	s->fb.rsize = cam->rtcp_rsize || cam->has_identity; /* libvigilcam reads either */
	s->rtx_ssrc = cam->rtx_ssrc;
	s->rtx_pt = (uint8_t)cam->rtx_payload_type;
	/* vigild's SSRC toward this camera: its own, distinct from both, and
	 * new at every start, so that feedback indices restarted by a lost
	 * StateDir still meet a nonce of their own (SSRC || index). */
	do
		s->fb.ssrc = (uint32_t)rte_rand();
	while (s->fb.ssrc == cam->ssrc || (cam->has_rtx && s->fb.ssrc == cam->rtx_ssrc));
	s->payload_types[0] = cam->payload_types[0];
	s->payload_types[1] = cam->payload_types[1];
	/* A camera that retransmits has its packets held the round trip of
	 * a NACK; any other only while the network reorders. */
	s->fb.hold_cap = rte_get_tsc_hz() / 1000 * t->retransmit_hold_ms;
	if (s->has_rtx && t->retransmit_hold_ms > 0)
		vigil_reorder_init(&s->reorder, VIGIL_HOLD_WINDOW - 1, s->fb.hold_cap);
	else
		vigil_reorder_init(&s->reorder, VIGIL_REORDER_SLOTS, rte_get_tsc_hz() / 1000 * VIGIL_REORDER_WAIT_MS);
	vigil_depay_init(&s->depay, cam->codec);
	/* Sets from the SDP: checked by the config loader already. */
	for (unsigned i = 0; i < cam->n_param_sets; i++)
		(void)vigil_depay_seed_params(&s->depay, cam->param_sets[i].nal, cam->param_sets[i].len);
	s->env = (struct vigil_depay_env){
		.pool = t->pool,
		.ctr = &s->ctr,
		.emit = stream_emit,
		.emit_arg = s,
		.camera = slot,
		.max_frame_bytes = t->max_frame_bytes,
	};
	s->ssrc = cam->ssrc;
	s->camera = slot;
	s->owner = (uint16_t)vigil_stream_owner(cam->ssrc, t->n_workers);
	s->frames =
	    t->frames[vigil_frame_ring_index(s->owner, vigil_frame_recorder(slot, t->n_recorders), t->n_recorders)];
	/* Publishes the stream: workers see it whole from here on. */
	rc = rte_hash_add_key_data(t->by_ssrc, &s->ssrc, s);
	if (rc == 0 && s->has_rtx) {
		rc = rte_hash_add_key_data(t->by_ssrc, &s->rtx_ssrc, (void *)((uintptr_t)s | VIGIL_STREAM_RTX_TAG));
		if (rc < 0)
			(void)rte_hash_del_key(t->by_ssrc, &s->ssrc); /* never seen: no packet had it yet */
	}
	if (rc < 0) {
		key_free(t, s->key);
		rte_free(s);
		return rc;
	}
	t->slots[slot] = s;
	t->n_streams++;
	return 0;
}

/* A new current key; the one it replaces becomes the previous one
 * (rotate), or goes (keep_prev). The key that goes is freed once no worker
 * can be using it. */
static int new_key(struct vigil_stream_table *t, uint32_t slot, const uint8_t *master_key,
		   const uint8_t *master_salt, bool keep_prev)
{
	struct vigil_stream *s = slot < t->capacity ? t->slots[slot] : NULL;
	struct vigil_stream_key *next, *dropped;

	if (s == NULL)
		return -ENOENT;
	next = key_new(t, master_key, master_salt, s->ephemeral);
	if (next == NULL)
		return -ENOMEM;
	if (keep_prev) {
		dropped = s->key;
	} else {
		/* A worker between the two stores sees the old key in both slots. */
		dropped = s->prev_key;
		__atomic_store_n(&s->prev_key, s->key, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&s->key, next, __ATOMIC_RELEASE);
	if (dropped != NULL) {
		wait_readers(t);
		key_free(t, dropped);
	}
	return 0;
}

int vigil_stream_rotate(struct vigil_stream_table *t, uint32_t slot,
			const uint8_t master_key[VIGIL_SRTP_MASTER_KEY_LEN],
			const uint8_t master_salt[VIGIL_SRTP_MASTER_SALT_LEN])
{
	return new_key(t, slot, master_key, master_salt, false);
}

int vigil_stream_replace_key(struct vigil_stream_table *t, uint32_t slot,
			     const uint8_t master_key[VIGIL_SRTP_MASTER_KEY_LEN],
			     const uint8_t master_salt[VIGIL_SRTP_MASTER_SALT_LEN])
{
	return new_key(t, slot, master_key, master_salt, true);
}

int vigil_stream_set_owned(struct vigil_stream_table *t, uint32_t slot, bool owned)
{
	struct vigil_stream *s = slot < t->capacity ? t->slots[slot] : NULL;

	if (s == NULL)
		return -ENOENT;
	__atomic_store_n(&s->elsewhere, !owned, __ATOMIC_RELEASE);
	return 0;
}

int vigil_stream_set_payload_types(struct vigil_stream_table *t, uint32_t slot, const uint64_t types[2])
{
	struct vigil_stream *s = slot < t->capacity ? t->slots[slot] : NULL;

	if (s == NULL)
		return -ENOENT;
	/* Word by word: a packet checked in between sees one old word and one
	 * new, and each word is a whole answer for its half of the types. */
	__atomic_store_n(&s->payload_types[0], types[0], __ATOMIC_RELAXED);
	__atomic_store_n(&s->payload_types[1], types[1], __ATOMIC_RELAXED);
	return 0;
}

void vigil_stream_expire_prev(struct vigil_stream_table *t, uint32_t slot)
{
	struct vigil_stream *s = slot < t->capacity ? t->slots[slot] : NULL;
	struct vigil_stream_key *old;

	if (s == NULL || s->prev_key == NULL)
		return;
	old = s->prev_key;
	__atomic_store_n(&s->prev_key, NULL, __ATOMIC_RELEASE);
	wait_readers(t);
	key_free(t, old);
}

bool vigil_stream_top(const struct vigil_stream *s, struct vigil_stream_floor *top)
{
	if (!__atomic_load_n(&s->replay.started, __ATOMIC_ACQUIRE))
		return false;
	top->srtp = __atomic_load_n(&s->replay.top, __ATOMIC_RELAXED);
	top->has_srtcp = __atomic_load_n(&s->rtcp_replay.started, __ATOMIC_ACQUIRE);
	top->srtcp = top->has_srtcp ? (uint32_t)__atomic_load_n(&s->rtcp_replay.top, __ATOMIC_RELAXED) : 0;
	top->has_rtx = s->has_rtx && __atomic_load_n(&s->rtx_replay.started, __ATOMIC_ACQUIRE);
	top->rtx = top->has_rtx ? __atomic_load_n(&s->rtx_replay.top, __ATOMIC_RELAXED) : 0;
	top->has_rtx_srtcp = s->has_rtx && __atomic_load_n(&s->rtx_rtcp_replay.started, __ATOMIC_ACQUIRE);
	top->rtx_srtcp = top->has_rtx_srtcp ? (uint32_t)__atomic_load_n(&s->rtx_rtcp_replay.top, __ATOMIC_RELAXED) : 0;
	return true;
}

bool vigil_stream_feedback_due(const struct vigil_stream *s, uint32_t *reserve)
{
	const struct vigil_feedback_index *fb = &s->key->fb;
	uint32_t next = __atomic_load_n(&fb->next, __ATOMIC_RELAXED);
	uint32_t reserved = __atomic_load_n(&fb->reserved, __ATOMIC_RELAXED);
	uint64_t from = next > reserved ? next : reserved;

	/* Only a stream that sends feedback uses them (RetransmitHoldMs 0: none). */
	if (s->ephemeral || !s->feedback || reserved >= VIGIL_SRTCP_INDEX_END ||
	    (reserved > next && reserved - next >= VIGIL_FEEDBACK_RESERVE / 2))
		return false;
	*reserve = (uint32_t)RTE_MIN(from + VIGIL_FEEDBACK_RESERVE, (uint64_t)VIGIL_SRTCP_INDEX_END);
	return true;
}

void vigil_stream_feedback_reserved(struct vigil_stream *s, uint32_t reserved)
{
	__atomic_store_n(&s->key->fb.reserved, reserved, __ATOMIC_RELEASE);
}

int vigil_stream_remove(struct vigil_stream_table *t, uint32_t slot, struct vigil_counters *retired)
{
	struct vigil_stream *s = slot < t->capacity ? t->slots[slot] : NULL;
	int rc;

	if (s == NULL)
		return -ENOENT;
	/* With RCU attached in sync mode this returns after the readers. */
	rc = rte_hash_del_key(t->by_ssrc, &s->ssrc);
	if (rc < 0)
		return rc;
	if (s->has_rtx)
		(void)rte_hash_del_key(t->by_ssrc, &s->rtx_ssrc);
	/* Its owner keeps the stream on a list across quiescent states while
	 * it holds packets back. Told to, it releases them and forgets the
	 * stream in its loop after the first grace period; the second one
	 * waits for that loop. */
	__atomic_store_n(&s->reorder.leaving, true, __ATOMIC_RELEASE);
	wait_readers(t);
	wait_readers(t);
	vigil_reorder_drop(&s->reorder);
	t->slots[slot] = NULL;
	t->n_streams--;
	for (unsigned i = 0; i < VIGIL_CTR_MAX; i++)
		retired->v[i] += s->ctr.v[i];
	vigil_depay_discard(&s->depay);
	key_free(t, s->key);
	key_free(t, s->prev_key);
	rte_free(s);
	return 0;
}
