/* SPDX-License-Identifier: MIT */
/* The per-camera stream state a worker uses (keys, replay window,
 * depacketizer, counters) and the SSRC -> stream table. The control plane
 * is the only writer: it adds, rotates and removes streams while workers
 * read lock-free, and frees only after every worker has passed a quiescent
 * state (RCU QSBR). */
#ifndef VIGIL_STREAM_H
#define VIGIL_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_prefetch.h>

#include "vigil/config_model.h"
#include "counters.h"
#include "depay.h"
#include "parse.h"
#include "reorder.h"
#include "replay.h"
#include "srtp.h"

struct rte_hash;
struct rte_mempool;
struct rte_rcu_qsbr;
struct vigil_cryptodev;

/* The cryptodev engine's sessions for a key's SRTP, one per RTP header
 * length (a session fixes its AAD length): made by the control plane, the
 * first at once for 12 bytes, the others for the lengths workers saw
 * without one (wanted); published in order, each hdr_len before its sess,
 * never changed until the key is freed. */
#define VIGIL_KEY_SESSIONS 4
struct vigil_key_sessions {
	void *sess[VIGIL_KEY_SESSIONS];
	uint16_t hdr_len[VIGIL_KEY_SESSIONS];
	uint32_t wanted; /* bit (hdr_len - 12) / 4: seen without a session */
	uint32_t n;      /* made (control plane) */
	uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN]; /* RTP's session key, for those made later */
	void *rtcp; /* SRTCP with E set (its AAD is 12 bytes): the CPU path's; NULL: libsodium */
};

/* vigild's own SRTCP under a key (feedback to the camera): an index
 * never used twice under the key, even across a crash, since a repeat
 * reuses an AES-GCM nonce. The worker takes indices below reserved; the
 * control plane moves reserved on only once it is durably written
 * (StateDir), and after a restart the key starts from the reservation.
 * A handshake's key dies with the process: all of them are free. */
struct vigil_feedback_index {
	uint32_t next;     /* the next one to use (the stream's owner) */
	uint32_t reserved; /* published by the control plane */
};

/* A master key's session keys: RTP's first, the five cache lines a
 * packet needs; RTCP's after them; the crypto device's sessions last. */
struct vigil_stream_key {
	struct vigil_srtp rtp;
	struct vigil_srtp rtcp;
	struct vigil_feedback_index fb;
	struct vigil_key_sessions cd;
};

/* RFC 3711: SRTCP indices are 31 bits. */
#define VIGIL_SRTCP_INDEX_END (UINT32_C(1) << 31)
/* Reserved ahead by this many, renewed when less than half is left. */
#define VIGIL_FEEDBACK_RESERVE 65536u

/* The session for packets of this header length, or NULL. Workers. */
static inline void *vigil_key_session(const struct vigil_stream_key *k, uint16_t hdr_len)
{
	for (unsigned i = 0; i < VIGIL_KEY_SESSIONS; i++) {
		void *s = __atomic_load_n(&k->cd.sess[i], __ATOMIC_ACQUIRE);

		if (s == NULL)
			return NULL;
		if (k->cd.hdr_len[i] == hdr_len)
			return s;
	}
	return NULL;
}

/* A camera that comes back under the same key without its sender state
 * (its indices start again): this many packets refused as replayed in a
 * row, the first of them after this long without one accepted. */
#define VIGIL_RESTART_RUN 32
#define VIGIL_RESTART_SILENCE_MS 1000

/* What the stream's owner keeps to send the camera feedback. */
#define VIGIL_FEEDBACK_L2_MAX 22 /* Ethernet and two VLAN tags */
#define VIGIL_FEEDBACK_NACK_MAX 64 /* missing numbers waiting for the next feedback */
struct vigil_feedback {
	bool queued;     /* on its worker's list of feedback to send */
	bool rsize;      /* reduced-size RTCP (RFC 5506): a receiver report only once a second */
	uint64_t rr_tsc; /* when the last receiver report went */
	uint32_t ssrc;   /* vigild's, never the camera's nor its RTX SSRC */
	bool has_peer;   /* peer and l2 hold an authenticated packet's addresses */
	uint8_t l2[VIGIL_FEEDBACK_L2_MAX];
	struct vigil_udp peer;
	uint64_t top;    /* the highest index seen: what is above it and missing is a new gap */
	uint16_t n_missing;
	uint16_t missing[VIGIL_FEEDBACK_NACK_MAX];
	uint64_t nack_tsc; /* when missing numbers were last NACKed */
	/* The round trip, as the camera answers NACKs: the first missing
	 * index of a new gap is timed from its NACK to its retransmission;
	 * the least of such samples (renewed every RTT_AGE_S) is the RTT, so
	 * one answered to a repeated NACK only errs long, and is replaced. */
	uint64_t rtt;       /* TSC ticks; 0: not known yet */
	uint64_t rtt_tsc;   /* when it was taken */
	uint64_t probe_index, probe_tsc;
	bool probing;
	/* Probes never answered in a row: a camera that does not retransmit
	 * (RTX configured, nobody sending it) stops being NACKed and held for,
	 * and is tried again now and then; PLIs go on. */
	uint8_t unanswered;
	uint64_t silent_tsc; /* when NACKs stopped */
	uint64_t hold_cap;  /* RetransmitHoldMs, in TSC ticks */
	uint64_t incomplete_seen; /* frame_incomplete when last looked at */
	bool want_pli;   /* a frame was lost for good */
	uint64_t pli_tsc; /* when the last PLI went */
	/* No amplification: feedback bytes are paid for from what the camera
	 * sent (a fraction of it), capped. */
	int64_t budget;
};

/* In the order a packet touches it, the depacketizer's cold parameter set
 * cache last: with many cameras the worker prefetches the parts it needs
 * (vigil_stream_prefetch) while the burst's other packets go ahead. */
struct vigil_stream {
	/* Published by the control plane, read by the worker per packet. */
	struct vigil_stream_key *key;
	struct vigil_stream_key *prev_key; /* still accepted for a grace period after a rotation */
	uint64_t payload_types[2]; /* accepted RTP payload types, as in the config */
	struct vigil_frame_ring *frames; /* complete frames to the recorder, from its owner */
	uint32_t ssrc;
	uint32_t camera; /* slot in vigil_config.cameras */
	uint16_t owner;  /* the only worker that touches this stream */
	uint16_t replayed_run; /* replayed in a row after a silence (VIGIL_RESTART_RUN) */
	bool ephemeral; /* a handshake camera's: its keys die with the process */
	/* A cluster's camera this node does not own (yet): its authentic
	 * packets are dropped as not_owner, their indices not taken. */
	bool elsewhere;
	/* fb is used (RtxSSRC, and RetransmitHoldMs not 0): read for every
	 * packet, so here and not in fb's lines, which only such streams
	 * touch. */
	bool feedback;
	uint64_t accepted_tsc; /* when a packet was last accepted */
	struct vigil_replay replay;
	struct vigil_counters ctr;
	struct vigil_reorder reorder; /* between decrypt and depay */
	struct vigil_depay_env env;
	struct vigil_depay depay;
	struct vigil_replay rtcp_replay; /* SRTCP indexes (explicit, 31 bits) */
	/* Retransmission (RtxSSRC): RTX packets have an index space of their
	 * own, so a window of their own; the original's index is then
	 * checked and committed in replay, like any packet's. */
	uint32_t rtx_ssrc;
	uint8_t rtx_pt;
	bool has_rtx;
	struct vigil_replay rtx_replay;
	struct vigil_replay rtx_rtcp_replay; /* the RTX SSRC's SRTCP indexes: its own (RFC 3711 3.4) */
	struct vigil_feedback fb;
} __rte_cache_aligned;
_Static_assert(offsetof(struct vigil_stream, accepted_tsc) < RTE_CACHE_LINE_SIZE,
	       "the fields every packet reads are in the stream's first line");

/* The stream table maps an RTX SSRC to its camera's stream with this bit
 * set in the pointer (streams are cache-line aligned). */
#define VIGIL_STREAM_RTX_TAG ((uintptr_t)1)

/* Every cache line a packet of the stream touches, in two halves of six
 * (part 0 or 1): with many cameras each is a miss, and the worker spreads
 * them over the burst before. */
static inline void vigil_stream_prefetch(const struct vigil_stream *s, unsigned part)
{
	const uint8_t *p = (const uint8_t *)s;

	if (part == 0) {
		/* keys, replay window, the counters' first lines */
		for (size_t off = 0; off < 6 * RTE_CACHE_LINE_SIZE; off += RTE_CACHE_LINE_SIZE)
			rte_prefetch0(p + off);
		return;
	}
	for (size_t off = 6 * RTE_CACHE_LINE_SIZE; off < offsetof(struct vigil_stream, reorder);
	     off += RTE_CACHE_LINE_SIZE)
		rte_prefetch0(p + off);
	rte_prefetch0(&s->reorder);
	rte_prefetch0(&s->env);
	rte_prefetch0(&s->depay);
	rte_prefetch0((const uint8_t *)&s->depay + RTE_CACHE_LINE_SIZE);
}

/* Which worker owns the stream of this SSRC: packets received by any
 * worker are handed to it, so per-stream state needs no lock. */
static inline unsigned vigil_stream_owner(uint32_t ssrc, unsigned n_workers)
{
	/* Fibonacci hashing spreads sequential SSRCs as well as random ones. */
	return (unsigned)(((uint64_t)(uint32_t)(ssrc * 2654435761u) * n_workers) >> 32);
}

struct vigil_stream_table {
	struct rte_hash *by_ssrc; /* SSRC -> struct vigil_stream *, lock-free readers */
	struct rte_rcu_qsbr *qsbr; /* each worker reports quiescent states here */
	struct vigil_stream **slots; /* by camera slot; NULL where there is none */
	unsigned capacity;
	unsigned n_streams;
	size_t max_frame_bytes;
	struct rte_mempool *pool; /* mbufs for what a frame needs beyond its packets */
	unsigned n_workers;
	unsigned n_recorders;
	/* Worker w's way to recorder thread r: at vigil_frame_ring_index(w, r, n_recorders). */
	struct vigil_frame_ring *frames[VIGIL_MAX_WORKERS * VIGIL_MAX_RECORDERS];
	struct vigil_cryptodev *cd; /* the cryptodev engine's device, or NULL (libsodium) */
	bool sessions_wanted;       /* a worker marked a key's wanted lengths */
	uint32_t retransmit_hold_ms; /* RetransmitHoldMs, for streams added from now on */
	bool ownership;             /* a cluster node: streams start elsewhere (vigil_stream_set_owned) */
};

/* Room for capacity cameras, used by n_workers workers (RCU thread ids
 * 0..n_workers-1), worker w handing the frames of recorder thread r's
 * cameras (vigil_frame_recorder) to frames[vigil_frame_ring_index(w, r, ...)]. The mbufs of
 * pool (and of RX) need VIGIL_MBUF_PRIV_SIZE private bytes. NULL with errno
 * set. Needs a running EAL. */
struct vigil_stream_table *vigil_stream_table_create(const char *name, unsigned capacity, unsigned n_workers,
						     unsigned n_recorders, size_t max_frame_bytes, struct rte_mempool *pool,
						     struct vigil_frame_ring *const *frames);
/* Removes every stream (see vigil_stream_remove), then the table. */
void vigil_stream_table_free(struct vigil_stream_table *t);

/* The highest indexes a stream accepted, as the replay state keeps them
 * across restarts: SRTP's, and SRTCP's when it had one. */
struct vigil_stream_floor {
	uint64_t srtp;
	uint32_t srtcp;
	bool has_srtcp;
	bool has_rtx, has_rtx_srtcp;
	uint64_t rtx; /* the RTX stream's (RtxSSRC) */
	uint32_t rtx_srtcp; /* and its SRTCP's */
	uint32_t fb_reserved; /* vigild's own SRTCP indices below it may have been used */
};

/* Control plane only, before any stream: keys get sessions on this device
 * from now on (vigil_stream_sessions). */
void vigil_stream_table_crypto(struct vigil_stream_table *t, struct vigil_cryptodev *cd);

/* Control plane, at its tick (every 20 ms): sessions for the header lengths
 * workers saw without one, up to VIGIL_KEY_SESSIONS a key. How many it
 * made; those it could not (the pool spent) stay with libsodium. */
unsigned vigil_stream_sessions(struct vigil_stream_table *t);

/* Worker: a packet that authenticated under key k, with a header length
 * it has no session for (never an unauthenticated one: sessions are a
 * bounded pool). */
static inline void vigil_stream_want_session(struct vigil_stream_table *t, struct vigil_stream_key *k,
					     uint16_t hdr_len)
{
	unsigned bit = (hdr_len - 12u) / 4;

	if (bit >= 32 || (__atomic_load_n(&k->cd.wanted, __ATOMIC_RELAXED) & (1u << bit)))
		return;
	__atomic_fetch_or(&k->cd.wanted, 1u << bit, __ATOMIC_RELAXED);
	__atomic_store_n(&t->sessions_wanted, true, __ATOMIC_RELEASE);
}

/* Control plane only. Start taking packets of cam under its slot number;
 * with a floor (persisted, or NULL) every index at or below it is refused
 * as replayed. -EEXIST: the slot or the SSRC is in use; -ENOSPC: the
 * table is full. */
int vigil_stream_add(struct vigil_stream_table *t, const struct vigil_camera_config *cam, uint32_t slot,
		     const struct vigil_stream_floor *floor);

/* The highest indexes the stream's worker has accepted so far (or the
 * floor it started from), as the control plane persists them; false when
 * it has no SRTP one yet. Safe while the worker runs. */
bool vigil_stream_top(const struct vigil_stream *s, struct vigil_stream_floor *top);

/* Control plane: whether the stream's current key needs more of its own
 * SRTCP indices reserved, and up to where (*reserve). Once that is
 * durable: vigil_stream_feedback_reserved, for the same key. */
bool vigil_stream_feedback_due(const struct vigil_stream *s, uint32_t *reserve);
void vigil_stream_feedback_reserved(struct vigil_stream *s, uint32_t reserved);

/* New master key; the current one becomes the previous one, accepted until
 * vigil_stream_expire_prev. A previous key still held is dropped first. */
int vigil_stream_rotate(struct vigil_stream_table *t, uint32_t slot,
			const uint8_t master_key[VIGIL_SRTP_MASTER_KEY_LEN],
			const uint8_t master_salt[VIGIL_SRTP_MASTER_SALT_LEN]);

/* New current key, the previous one kept: for a handshake camera that
 * did not get the response giving it the key replaced, and still sends
 * under the previous one. */
int vigil_stream_replace_key(struct vigil_stream_table *t, uint32_t slot,
			     const uint8_t master_key[VIGIL_SRTP_MASTER_KEY_LEN],
			     const uint8_t master_salt[VIGIL_SRTP_MASTER_SALT_LEN]);

/* Accept these RTP payload types from now on (vigil_payload_type_ok). */
/* Returns once every worker has finished the bursts it had: what a change
 * made before the call (vigil_stream_set_owned) holds for every packet
 * after it, and the streams' highest indices are final for them. */
void vigil_stream_table_sync(struct vigil_stream_table *t);
/* A cluster node's ownership of the slot's camera: its packets are taken
 * from the next burst on, or dropped as not_owner. -ENOENT: no stream. */
int vigil_stream_set_owned(struct vigil_stream_table *t, uint32_t slot, bool owned);
int vigil_stream_set_payload_types(struct vigil_stream_table *t, uint32_t slot, const uint64_t types[2]);

/* Stop accepting the previous key. */
void vigil_stream_expire_prev(struct vigil_stream_table *t, uint32_t slot);

/* Stop taking packets of this slot. When it returns no worker uses the
 * stream any more: the packets its owner held back were depacketized, its
 * counters are added into *retired, the frame it was assembling goes back
 * to the mbuf pool, its keys are wiped, it is freed. */
int vigil_stream_remove(struct vigil_stream_table *t, uint32_t slot, struct vigil_counters *retired);

#endif
