/* SPDX-License-Identifier: MIT */
/* The worker loop: RX burst -> classify -> hand to the owning worker ->
 * look up stream -> replay check, decrypt, commit -> depacketize. Each stage
 * takes the burst's survivors and returns how many survive; every refused
 * packet is counted once, by the worker that refused it. */
#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_hash.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "vigil/clock.h"
#include "parse.h"
#include "rtcp_fb.h"
#include "rtp.h"
#include "cryptodev.h"
#include "worker.h"

#define PREFETCH_AHEAD 4

/* A big-endian word anywhere in a packet (no alignment assumed). */
static inline uint32_t load_be32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return rte_be_to_cpu_32(v);
}

static inline void drop(struct vigil_counters *c, enum vigil_counter why)
{
	c->v[why]++;
}

/* A request neigh.c answers becomes its reply in place, in the mbuf. */
static enum vigil_counter answer(struct vigil_worker *w, struct rte_mbuf *m, const struct vigil_udp *udp,
				 enum vigil_counter why)
{
	size_t len = m->data_len;

	why = vigil_neigh_reply(&w->neigh, rte_pktmbuf_mtod(m, uint8_t *), &len,
				(size_t)m->data_len + rte_pktmbuf_tailroom(m), udp, why);
	if (why == VIGIL_CTR_answered)
		m->data_len = m->pkt_len = (uint16_t)len;
	return why;
}

/* Replies leave on the worker's TX queue; what the ring refuses is freed. */
static void send_replies(struct vigil_worker *w, struct rte_mbuf **tx, uint16_t n)
{
	uint16_t sent = rte_eth_tx_burst(w->port, w->tx_queue, tx, n);

	w->ctr.v[VIGIL_CTR_answered] += sent;
	if (sent < n) {
		w->ctr.v[VIGIL_CTR_tx_failed] += n - sent;
		rte_pktmbuf_free_bulk(tx + sent, n - sent);
	}
}

/* A handshake packet goes to the control plane; an initiation whose mac2
 * proves its source goes on a ring of its own, which a flood of unproven
 * ones cannot fill. */
static enum vigil_counter pass_handshake(struct vigil_worker *w, struct rte_mbuf *m, const uint8_t *frame,
					 const struct vigil_udp *udp)
{
	uint8_t src[VIGIL_HS_SOURCE_LEN];

	vigil_hs_source(udp, src);
	if (!vigil_hs_cookie_proven(w->hs_cookie, frame + udp->off, udp->len, src))
		return rte_ring_mp_enqueue(w->to_control, m) == 0 ? VIGIL_CTR_handshake
								  : VIGIL_CTR_control_full;
	if (rte_ring_mp_enqueue(w->to_control_proven, m) != 0)
		return VIGIL_CTR_control_full;
	w->ctr.v[VIGIL_CTR_handshake_proven]++;
	return VIGIL_CTR_handshake;
}

/* Ethernet/IP/UDP down to the RTP header; RTCP is recognised here, and
 * ARP/NDP/echo requests for our addresses are answered (their mbufs leave
 * pkts as NULL). */
static uint16_t stage_classify(struct vigil_worker *w, struct rte_mbuf **pkts, uint16_t n,
			       struct vigil_pkt *out)
{
	struct vigil_counters *c = &w->ctr;
	struct rte_mbuf *tx[VIGIL_BURST];
	uint16_t kept = 0, n_tx = 0;

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
		struct vigil_udp udp;
		enum vigil_counter why;
		uint8_t *rtp;

		if (i + PREFETCH_AHEAD < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + PREFETCH_AHEAD], void *));
		/* Chained mbufs only come from frames larger than any camera
		 * sends; refusing them keeps every later stage contiguous. */
		why = rte_pktmbuf_is_contiguous(m) ? vigil_parse_udp(frame, m->data_len, &udp)
						   : VIGIL_CTR_malformed;
		if (why != VIGIL_PARSE_OK)
			goto refuse;
		if (!vigil_config_is_srtp_port(w->cfg, udp.dport)) {
			why = VIGIL_CTR_not_srtp_port;
			if (udp.dport == w->cfg->handshake_port && w->to_control != NULL)
				why = pass_handshake(w, m, frame, &udp);
			if (why == VIGIL_CTR_handshake)
				pkts[i] = NULL; /* the control plane's now */
			goto refuse;
		}
		rtp = frame + udp.off;
		out[kept].rtcp = vigil_rtp_is_rtcp(rtp, udp.len);
		if (out[kept].rtcp) {
			/* SRTCP goes the way of its sender's RTP, by SSRC. */
			if (udp.len < VIGIL_SRTCP_HEADER_LEN + VIGIL_SRTCP_TRAILER_LEN ||
			    rtp[0] >> 6 != VIGIL_RTP_VERSION) {
				why = VIGIL_CTR_malformed;
				goto refuse;
			}
			out[kept].hdr.ssrc = load_be32(rtp + 4);
		} else if (vigil_rtp_parse(rtp, udp.len, VIGIL_SRTP_TAG_LEN, &out[kept].hdr) < 0) {
			why = VIGIL_CTR_malformed;
			goto refuse;
		}
		out[kept].mbuf = &pkts[i];
		out[kept].rtp = rtp;
		out[kept].len = udp.len;
		out[kept].wire_len = m->pkt_len;
		kept++;
		continue;
refuse:
		c->v[VIGIL_CTR_rx_packets]++;
		c->v[VIGIL_CTR_rx_bytes] += m->pkt_len;
		if ((why == VIGIL_CTR_not_ip || why == VIGIL_CTR_not_udp) && w->has_tx &&
		    vigil_neigh_enabled(&w->neigh))
			why = answer(w, m, &udp, why);
		if (why == VIGIL_CTR_answered) {
			tx[n_tx++] = m;
			pkts[i] = NULL;
			continue;
		}
		drop(c, why); /* or counts the handshake packet passed on */
	}
	if (n_tx > 0)
		send_replies(w, tx, n_tx);
	return kept;
}

/* To the inbound ring of the worker that owns its stream (its mbuf
 * leaves pkts as NULL), or dropped and counted when that is full. */
static void hand_to(struct vigil_worker *w, unsigned owner, struct vigil_pkt *p)
{
	if (rte_ring_mp_enqueue(w->shared->inbound[owner], *p->mbuf) == 0) {
		*p->mbuf = NULL;
		w->ctr.v[VIGIL_CTR_handed_off]++;
		return;
	}
	w->ctr.v[VIGIL_CTR_rx_packets]++;
	w->ctr.v[VIGIL_CTR_rx_bytes] += p->wire_len;
	drop(&w->ctr, VIGIL_CTR_handoff_full);
}

/* A stream is touched by its owner only: a packet that arrived here for
 * another worker's stream goes to that worker's inbound ring, where it is
 * classified again. Its mbuf leaves pkts as NULL. */
static uint16_t stage_handoff(struct vigil_worker *w, struct vigil_pkt *p, uint16_t n)
{
	unsigned n_workers = w->shared != NULL ? w->shared->n_workers : 1;
	uint16_t kept = 0;

	if (n_workers == 1)
		return n;
	for (uint16_t i = 0; i < n; i++) {
		unsigned owner = vigil_stream_owner(p[i].hdr.ssrc, n_workers);

		if (owner == w->id)
			p[kept++] = p[i];
		else
			hand_to(w, owner, &p[i]);
	}
	return kept;
}

/* An SRTP packet of an SSRC no camera has, with a HandshakePort: its
 * sender may be a handshake camera whose session vigild no longer has (a
 * restart). One every 10 ms goes to the control plane, which tells its
 * sender so (docs/handshake.md, type 4); the rest are just dropped. Its
 * outcome is unknown_ssrc either way. */
static void pass_unknown(struct vigil_worker *w, struct rte_mbuf **m)
{
	uint64_t now;

	if (w->to_control == NULL)
		return;
	now = rte_rdtsc();
	if (now - w->unknown_tsc < w->tsc_hz / VIGIL_UNKNOWN_SESSION_PER_S)
		return;
	w->unknown_tsc = now;
	if (rte_ring_mp_enqueue(w->to_control, *m) == 0)
		*m = NULL;
}

/* SSRC -> stream, one bulk hash lookup for the burst, of each run of a
 * camera's packets once (a frame's packets tend to come together: with
 * many cameras every lookup is a few cache misses). Of each stream found
 * only the first line is fetched here, all of them at once: with many
 * cameras that is a TLB miss too, a prefetch waits for its page walk, and
 * walks started together overlap. The rest is fetched while the burst
 * before is decrypted, and the packets are counted against their cameras
 * when this burst is. */
static void stage_lookup(struct vigil_worker *w, struct vigil_burst *b, uint16_t n)
{
	struct vigil_pkt *p = b->p;
	const void *keys[VIGIL_BURST];
	void *data[VIGIL_BURST];
	uint8_t run[VIGIL_BURST];
	uint64_t hits = 0;
	unsigned n_keys = 0;
	uint16_t kept = 0;

	for (uint16_t i = 0; i < n; i++) {
		if (i == 0 || p[i].hdr.ssrc != p[i - 1].hdr.ssrc)
			keys[n_keys++] = &p[i].hdr.ssrc;
		run[i] = (uint8_t)(n_keys - 1);
	}
	if (n_keys > 0)
		rte_hash_lookup_bulk_data(w->streams->by_ssrc, keys, n_keys, &hits, data);
	b->n_streams = 0;
	for (unsigned k = 0; k < n_keys; k++)
		if (hits & (1ull << k)) {
			data[k] = (void *)((uintptr_t)data[k] & ~VIGIL_STREAM_RTX_TAG);
			rte_prefetch0(data[k]);
			b->streams[b->n_streams++] = data[k];
		}
	for (uint16_t i = 0; i < n; i++) {
		if (!(hits & (1ull << run[i]))) {
			w->ctr.v[VIGIL_CTR_rx_packets]++;
			w->ctr.v[VIGIL_CTR_rx_bytes] += p[i].wire_len;
			drop(&w->ctr, VIGIL_CTR_unknown_ssrc);
			if (!p[i].rtcp)
				pass_unknown(w, p[i].mbuf);
			continue;
		}
		p[kept] = p[i];
		p[kept].stream = data[run[i]];
		p[kept].rtx = p[i].hdr.ssrc != p[kept].stream->ssrc;
		/* An RTX SSRC hashes to a worker of its own: its packets go to
		 * the owner of their camera's stream. */
		if (unlikely(p[kept].stream->owner != w->id)) {
			hand_to(w, p[kept].stream->owner, &p[kept]);
			continue;
		}
		kept++;
	}
	b->n = kept;
}

/* While a rotation's grace period lasts, a packet may be under either key.
 * A failed try wipes its output, so each key decrypts out of place and the
 * plaintext that authenticated is copied back: only for those seconds. */
static int decrypt_either(struct vigil_stream *s, const struct vigil_stream_key *key,
			  const struct vigil_stream_key *prev, struct vigil_pkt *p, uint32_t roc)
{
	uint8_t plain[RTE_MBUF_DEFAULT_DATAROOM];
	int rc;

	if (p->len > sizeof(plain))
		return vigil_srtp_decrypt(&key->rtp, p->rtp, p->len, p->hdr.hdr_len, p->hdr.ssrc, roc, p->hdr.seq);
	rc = vigil_srtp_decrypt_to(&key->rtp, p->rtp, p->len, p->hdr.hdr_len, p->hdr.ssrc, roc, p->hdr.seq, plain);
	if (rc < 0 && prev != NULL) {
		rc = vigil_srtp_decrypt_to(&prev->rtp, p->rtp, p->len, p->hdr.hdr_len, p->hdr.ssrc, roc, p->hdr.seq,
					   plain);
		if (rc >= 0)
			s->ctr.v[VIGIL_CTR_decrypted_prev_key]++;
	}
	if (rc >= 0)
		memcpy(p->rtp + p->hdr.hdr_len, plain, (size_t)rc);
	return rc;
}

static inline int decrypt(struct vigil_stream *s, const struct vigil_stream_key *key,
			  const struct vigil_stream_key *prev, struct vigil_pkt *p, uint64_t index)
{
	uint32_t roc = (uint32_t)(index >> 16);

	if (likely(prev == NULL))
		return vigil_srtp_decrypt(&key->rtp, p->rtp, p->len, p->hdr.hdr_len, p->hdr.ssrc, roc, p->hdr.seq);
	return decrypt_either(s, key, prev, p, roc);
}

/* A stream in trial, whose ROC is not known yet (replay.h): the estimate,
 * then the other ROCs from top's upward while the stream's bucket has
 * tokens, each out of place. Returns the payload length, with *index the
 * one that authenticated, or -1 with *why the packet's outcome: replayed
 * when the window refused the estimate and no other ROC authenticated.
 * rp: the stream's window for the packet's SSRC (its RTX one has its own). */
static int decrypt_trial(const struct vigil_worker *w, struct vigil_stream *s, struct vigil_replay *rp,
			 const struct vigil_stream_key *key, const struct vigil_stream_key *prev, struct vigil_pkt *p,
			 uint64_t *index, uint64_t now, enum vigil_counter *why)
{
	uint64_t cand[VIGIL_ROC_TRIAL_SPAN];
	bool tried = vigil_replay_check(rp, *index);
	unsigned n = 0;
	int rc = -1;

	*why = VIGIL_CTR_replayed;
	if (tried) {
		*why = VIGIL_CTR_auth_failed;
		/* Too long to copy: only the estimate. */
		if (p->len > RTE_MBUF_DEFAULT_DATAROOM)
			rc = decrypt(s, key, prev, p, *index);
		else
			rc = decrypt_either(s, key, prev, p, (uint32_t)(*index >> 16));
	}
	if (rc < 0 && p->len <= RTE_MBUF_DEFAULT_DATAROOM)
		n = vigil_replay_candidates(rp, p->hdr.seq, *index, cand);
	for (unsigned k = 0; rc < 0 && k < n && vigil_replay_take_token(rp, now, w->tsc_hz); k++) {
		rc = decrypt_either(s, key, prev, p, (uint32_t)(cand[k] >> 16));
		if (rc >= 0)
			*index = cand[k];
		else
			s->ctr.v[VIGIL_CTR_roc_trials]++;
	}
	/* A replay that nothing else authenticated says nothing of the ROC. */
	if (tried || rc >= 0)
		vigil_replay_authenticated(rp, rc >= 0);
	return rc;
}

/* SRTCP: a replay window of its own on the explicit index (the RTX SSRC's
 * reports have theirs: each SSRC numbers its own), checked before and
 * committed after authentication, the current key and then the previous
 * one. Authentic RTCP is counted, not recorded. */
/* SRTCP under a key: through the crypto device when it has the key's
 * SRTCP session and the packet is encrypted (E set), else libsodium. The
 * same verdicts and bytes (test_cryptodev). */
static int srtcp_decrypt(const struct vigil_worker *w, const struct vigil_stream_key *key, uint8_t *pkt,
			 uint32_t len, uint32_t *index)
{
	void *sess = __atomic_load_n(&key->cd.rtcp, __ATOMIC_ACQUIRE);
	struct vigil_cryptodev_pkt cp = {.pkt = pkt, .len = len};

	if (sess == NULL || len < VIGIL_SRTCP_HEADER_LEN + VIGIL_SRTCP_TRAILER_LEN ||
	    !(load_be32(pkt + len - 4) & VIGIL_SRTCP_E_BIT))
		return vigil_srtcp_decrypt(&key->rtcp, pkt, len, index);
	vigil_cryptodev_srtcp_decrypt(w->streams->cd, sess, key->rtcp.salt, &cp, 1);
	if (cp.status != 0)
		return -EBADMSG;
	*index = load_be32(pkt + len - 4) & ~VIGIL_SRTCP_E_BIT;
	return (int)(len - VIGIL_SRTCP_TRAILER_LEN);
}

static enum vigil_counter srtcp(const struct vigil_worker *w, struct vigil_stream *s,
				const struct vigil_stream_key *key, const struct vigil_stream_key *prev,
				const struct vigil_pkt *p)
{
	uint8_t copy[RTE_MBUF_DEFAULT_DATAROOM];
	uint32_t index = load_be32(p->rtp + p->len - 4) & ~VIGIL_SRTCP_E_BIT;
	bool again = prev != NULL && p->len <= sizeof(copy);
	struct vigil_replay *rp = p->rtx ? &s->rtx_rtcp_replay : &s->rtcp_replay;
	int rc;

	if (!vigil_replay_check(rp, index))
		return VIGIL_CTR_replayed;
	if (again) /* a failed try alters the packet */
		memcpy(copy, p->rtp, p->len);
	rc = srtcp_decrypt(w, key, p->rtp, p->len, &index);
	if (rc < 0 && again)
		rc = srtcp_decrypt(w, prev, copy, p->len, &index);
	if (rc < 0)
		return VIGIL_CTR_auth_failed;
	vigil_replay_commit(rp, index);
	return VIGIL_CTR_rtcp;
}

/* Renewed this often, so a path that got slower is seen. */
#define RTT_AGE_S 10
/* A NACK is repeated after a round trip and this much (at least). */
#define RENACK_MARGIN_MS 5
/* Before the round trip is known. */
#define RENACK_MS 40
/* A camera that never answers: after this many NACKed gaps in a row
 * with no retransmission, it is no longer NACKed nor held for (so a PLI
 * goes at once), and one gap is NACKed again this often. */
#define SILENT_AFTER 4
#define SILENT_RETRY_S 10

static uint64_t renack_after(const struct vigil_worker *w, const struct vigil_feedback *fb)
{
	uint64_t margin = w->tsc_hz / 1000 * RENACK_MARGIN_MS;

	if (fb->rtt == 0)
		return w->tsc_hz / 1000 * RENACK_MS;
	return fb->rtt + RTE_MAX(fb->rtt / 4, margin);
}

/* Packets after a gap are held for four tries (a NACK or its answer may
 * be lost too, and the least round trip is not every one's), at most
 * RetransmitHoldMs. */
static void hold_for_rtx(const struct vigil_worker *w, struct vigil_stream *s)
{
	struct vigil_feedback *fb = &s->fb;

	s->reorder.max_wait = fb->rtt == 0 ? fb->hold_cap
					   : RTE_MIN(fb->hold_cap, 4 * renack_after(w, fb) +
								       w->tsc_hz / 1000 * 4 * RENACK_MARGIN_MS);
}

/* A round trip sample: the least is kept. */
static void note_rtt(const struct vigil_worker *w, struct vigil_stream *s, uint64_t sample, uint64_t now)
{
	struct vigil_feedback *fb = &s->fb;

	fb->probing = false;
	if (fb->rtt != 0 && sample >= fb->rtt && now - fb->rtt_tsc < w->tsc_hz * RTT_AGE_S)
		return;
	fb->rtt = RTE_MAX(sample, 1u);
	fb->rtt_tsc = now;
	hold_for_rtx(w, s);
}

/* A probe expired unanswered, or a retransmission came, or a silent
 * camera's time to be tried again is here: NACK and hold, or not. */
static void note_answers(const struct vigil_worker *w, struct vigil_stream *s, uint64_t now)
{
	struct vigil_feedback *fb = &s->fb;

	if (fb->probing && now - fb->probe_tsc > fb->hold_cap) {
		fb->probing = false; /* never retransmitted */
		s->ctr.v[VIGIL_CTR_nack_unanswered]++;
		if (fb->unanswered < SILENT_AFTER && ++fb->unanswered == SILENT_AFTER) {
			fb->silent_tsc = now;
			s->reorder.max_wait = w->tsc_hz / 1000 * VIGIL_REORDER_WAIT_MS;
		}
	}
	if (fb->unanswered >= SILENT_AFTER && now - fb->silent_tsc >= w->tsc_hz * SILENT_RETRY_S) {
		fb->unanswered = SILENT_AFTER - 1; /* one more try */
		hold_for_rtx(w, s);
	}
}

/* An RTX packet (RFC 4588): authenticated and replay-checked by its own
 * index in its own window, then taken in place of its original only
 * where the stream waits for that original (a gap it holds packets
 * after) and the original's index was never accepted: a retransmission
 * is never a replay, a replayed RTX never fills a gap twice, and a camera
 * cannot slip in a packet it never sent in order. Taken, p looks like the
 * original (index, sequence number, payload after the OSN). */
static enum vigil_counter rtx(const struct vigil_worker *w, struct vigil_stream *s, const struct vigil_stream_key *key,
			      const struct vigil_stream_key *prev, struct vigil_pkt *p, uint64_t now)
{
	uint64_t index = vigil_replay_estimate(&s->rtx_replay, p->hdr.seq), orig;
	enum vigil_counter why = VIGIL_CTR_replayed;
	int rc = -1;
	uint16_t osn;

	if (unlikely(!s->rtx_replay.locked)) {
		rc = decrypt_trial(w, s, &s->rtx_replay, key, prev, p, &index, now, &why);
	} else if (vigil_replay_check(&s->rtx_replay, index)) {
		rc = decrypt(s, key, prev, p, index);
		why = VIGIL_CTR_auth_failed;
		vigil_replay_authenticated(&s->rtx_replay, rc >= 0);
	}
	if (rc < 0)
		return why;
	vigil_replay_commit(&s->rtx_replay, index);
	if (p->hdr.pt != s->rtx_pt)
		return VIGIL_CTR_payload_type;
	if (p->hdr.padding) {
		rc = vigil_rtp_strip_padding(&p->hdr, p->rtp + p->hdr.hdr_len, (size_t)rc);
		if (rc < 0)
			return VIGIL_CTR_malformed;
		p->len = p->hdr.hdr_len + (uint32_t)rc + VIGIL_SRTP_TAG_LEN;
		p->hdr.padding = false;
	}
	if (vigil_rtx_unwrap(p->rtp + p->hdr.hdr_len, (size_t)rc, &osn) < 0)
		return VIGIL_CTR_malformed;
	orig = vigil_replay_estimate(&s->replay, osn);
	if (!vigil_reorder_missing(&s->reorder, orig) || !vigil_replay_check(&s->replay, orig))
		return VIGIL_CTR_rtx_unwanted;
	vigil_replay_commit(&s->replay, orig);
	if (s->fb.unanswered >= SILENT_AFTER)
		hold_for_rtx(w, s); /* it answers after all */
	s->fb.unanswered = 0;
	if (s->fb.probing && orig == s->fb.probe_index)
		note_rtt(w, s, now - s->fb.probe_tsc, now);
	p->index = orig;
	p->hdr.seq = osn;
	p->hdr.hdr_len += 2; /* the original payload follows the OSN */
	return VIGIL_CTR_retransmitted;
}

/* A packet of a known stream refused. A run of them refused as replayed
 * that began after a silence is a camera that came back under the same
 * key without its sender state (or its old traffic replayed): counted
 * once a run. */
static inline void refuse(const struct vigil_worker *w, struct vigil_stream *s, enum vigil_counter why,
			  uint64_t now)
{
	s->ctr.v[why]++;
	if (why != VIGIL_CTR_replayed || s->replayed_run == UINT16_MAX)
		return;
	if (s->replayed_run == 0 && now - s->accepted_tsc < w->tsc_hz / 1000 * VIGIL_RESTART_SILENCE_MS)
		return;
	if (++s->replayed_run == VIGIL_RESTART_RUN)
		s->ctr.v[VIGIL_CTR_same_key_restart]++;
}

/* With a stream's lines in the cache, the lines they point to, in two
 * parts (0 or 1) like the stream's own: the salt and the expanded key
 * (libsodium's AES-NI code reads the first 272 bytes of its state); the
 * open frame's last mbuf, whose next pointer a packet is chained to, and
 * its first, whose totals and description are written when it closes;
 * the parameter set cache a key frame writes to. */
static void prefetch_pointed(const struct vigil_stream *s, unsigned part, bool cd)
{
	const uint8_t *k = (const uint8_t *)&s->key->rtp;

	if (part == 0 && cd) { /* the salt, the sessions */
		rte_prefetch0(k);
		rte_prefetch0(&s->key->cd);
		return;
	}
	if (part == 0) {
		for (size_t off = 0; off < offsetof(struct vigil_srtp, aead) + 272; off += RTE_CACHE_LINE_SIZE)
			rte_prefetch0(k + off);
		return;
	}
	if (s->depay.frame != NULL) {
		rte_prefetch0(&s->depay.tail->next);
		rte_prefetch0(s->depay.frame);
		rte_prefetch0(rte_mbuf_to_priv(s->depay.frame));
	}
	for (unsigned kind = s->depay.codec == VIGIL_CODEC_H265 ? 0 : 1; kind < VIGIL_PARAM_KINDS; kind++)
		rte_prefetch0(&s->depay.params[kind]);
}

/* The next burst's lines are fetched while this burst's packets are
 * decrypted, spread evenly over them: a prefetch also waits while the
 * core's miss buffers are full, so a burst's worth at once would stall.
 * In steps of about six lines: stream j's two (its own lines), then
 * stream j-1's two of what it points to (its lines have come by then);
 * under the cryptodev engine two more, stream j-2's session (the
 * device's expanded key and hash keys, a kilobyte where libsodium's
 * state is five lines: at 100,000 cameras each is a miss).
 * Step u is due at packet u * n / n_steps. */
struct ahead {
	const struct vigil_burst *next;
	unsigned n;       /* packets to spread over */
	unsigned per;     /* steps per stream: 4, or 6 with sessions */
	unsigned n_steps; /* per x (streams + 1, + 2 with sessions); 0 without a next burst */
	unsigned step;    /* the next one to take */
	bool cd;          /* the cryptodev engine's lines, not libsodium's */
	unsigned session_lines; /* ... and how many a session spans */
};

static struct ahead ahead_of(const struct vigil_worker *w, const struct vigil_burst *next, unsigned n)
{
	bool cd = w->streams->cd != NULL;
	unsigned per = cd ? 6 : 4;

	return (struct ahead){
		.next = next,
		.n = RTE_MAX(n, 1u),
		.per = per,
		.n_steps = next != NULL ? per * (next->n_streams + (cd ? 2u : 1u)) : 0,
		.cd = cd,
		.session_lines = cd ? w->streams->cd->session_lines : 0,
	};
}

static void ahead_step(const struct ahead *a, unsigned u)
{
	const struct vigil_burst *next = a->next;
	unsigned j = u / a->per, k = u % a->per, part = u % 2;

	if (k < 2) {
		if (j < next->n_streams)
			vigil_stream_prefetch(next->streams[j], part);
	} else if (k < 4) {
		if (j >= 1 && j - 1 < next->n_streams)
			prefetch_pointed(next->streams[j - 1], part, a->cd);
	} else if (j >= 2 && j - 2 < next->n_streams) {
		const uint8_t *sess = next->streams[j - 2]->key->cd.sess[0];

		for (unsigned l = part * a->session_lines / 2; sess != NULL && l < (part + 1) * a->session_lines / 2; l++)
			rte_prefetch0(sess + l * RTE_CACHE_LINE_SIZE);
	}
}

static inline void prefetch_ahead(struct ahead *a, unsigned i)
{
	for (; a->step < a->n_steps && a->step * a->n <= i * a->n_steps; a->step++)
		ahead_step(a, a->step);
}

/* What is left when the burst is done, or all of it with none to spread
 * it over. */
static void prefetch_ahead_rest(struct ahead *a)
{
	for (; a->step < a->n_steps; a->step++)
		ahead_step(a, a->step);
}

/* What the cryptodev engine did with a packet before stage_decrypt's pass
 * in order: nothing (libsodium decrypts it there), or decrypted it in
 * place at index. */
struct precrypt {
	uint64_t index;
	int rc; /* payload length, or -1 */
	bool done;
};

/* The cryptodev engine takes the packets that need one key at the index
 * estimated (a stream locked onto its ROC, no grace period, a session for
 * the header length, the replay window's yes), in runs of one session;
 * stage_decrypt then takes each in order as if it had decrypted it there. */
static void crypto_ahead(const struct vigil_worker *w, const struct vigil_pkt *p, uint16_t n, struct precrypt *pre)
{
	struct vigil_cryptodev_pkt cp[VIGIL_BURST];
	const struct vigil_stream_key *keys[VIGIL_BURST];
	void *sess[VIGIL_BURST];
	uint16_t at[VIGIL_BURST];
	unsigned k = 0;

	for (uint16_t i = 0; i < n; i++) {
		struct vigil_stream *s = p[i].stream;
		struct vigil_stream_key *key = __atomic_load_n(&s->key, __ATOMIC_ACQUIRE);

		pre[i].done = false;
		if (p[i].rtcp || p[i].rtx || !s->replay.locked || __atomic_load_n(&s->prev_key, __ATOMIC_ACQUIRE) != NULL)
			continue;
		pre[i].index = vigil_replay_estimate(&s->replay, p[i].hdr.seq);
		if (!vigil_replay_check(&s->replay, pre[i].index))
			continue; /* refused in order, before any crypto */
		sess[k] = vigil_key_session(key, p[i].hdr.hdr_len);
		if (sess[k] == NULL)
			continue; /* asked for once one authenticates (stage_decrypt) */
		keys[k] = key;
		cp[k] = (struct vigil_cryptodev_pkt){
		    .m = *p[i].mbuf,
		    .pkt = p[i].rtp,
		    .len = p[i].len,
		    .ssrc = p[i].hdr.ssrc,
		    .roc = (uint32_t)(pre[i].index >> 16),
		    .seq = p[i].hdr.seq,
		};
		at[k++] = i;
	}
	for (unsigned j = 0, end; j < k; j = end) {
		for (end = j + 1; end < k && sess[end] == sess[j];)
			end++;
		const struct vigil_cryptodev *cd = w->streams->cd;

		if (cd->async) /* a queue pair of this worker's own */
			vigil_cryptodev_srtp_decrypt_qp(cd, (uint16_t)w->id, sess[j], keys[j]->rtp.salt,
							p[at[j]].hdr.hdr_len, &cp[j], end - j);
		else
			vigil_cryptodev_srtp_decrypt(cd, sess[j], keys[j]->rtp.salt, p[at[j]].hdr.hdr_len, &cp[j],
						     end - j);
		for (unsigned u = j; u < end; u++) {
			const struct vigil_pkt *q = &p[at[u]];

			/* Only a verdict is taken: a packet the device did not
			 * judge (no operation left for it, too short) goes the
			 * libsodium way in order, and is judged there. */
			pre[at[u]].done = cp[u].status == 0 || cp[u].status == EBADMSG;
			pre[at[u]].rc = cp[u].status == 0 ? (int)(q->len - q->hdr.hdr_len - VIGIL_SRTP_TAG_LEN) : -1;
		}
	}
}

/* Replay check on the estimated index before any crypto, decrypt in place,
 * and only then move the window (an unauthenticated packet moves nothing).
 * A stream whose ROC is not known yet is tried under several (trial).
 * The payload type is checked once it is known to be the camera's: an
 * authentic packet of a type it may not send still used up its index.
 * Under the cryptodev engine most packets were decrypted before (pre). */
static uint16_t stage_decrypt(const struct vigil_worker *w, struct vigil_pkt *p, uint16_t n, struct ahead *a)
{
	struct precrypt pre_burst[VIGIL_BURST], *pre = NULL;
	uint64_t now = rte_rdtsc();
	uint16_t kept = 0;

	if (w->streams->cd != NULL) {
		pre = pre_burst;
		crypto_ahead(w, p, n, pre);
	}
	for (uint16_t i = 0; i < n; i++) {
		struct vigil_stream *s = p[i].stream;
		/* The current key first: a rotation stores the previous one
		 * before the new current one, so a packet still under the key
		 * being replaced finds it in one of the two. */
		struct vigil_stream_key *key = __atomic_load_n(&s->key, __ATOMIC_ACQUIRE);
		const struct vigil_stream_key *prev = __atomic_load_n(&s->prev_key, __ATOMIC_ACQUIRE);
		enum vigil_counter why = VIGIL_CTR_replayed;
		bool soft = pre != NULL;
		uint64_t index;
		int rc = -1;

		prefetch_ahead(a, i);
		RTE_ASSERT(s->owner == w->id);
		s->ctr.v[VIGIL_CTR_rx_packets]++;
		s->ctr.v[VIGIL_CTR_rx_bytes] += p[i].wire_len;
		if (unlikely(p[i].rtcp)) {
			s->ctr.v[srtcp(w, s, key, prev, &p[i])]++;
			continue;
		}
		if (unlikely(p[i].rtx)) {
			why = rtx(w, s, key, prev, &p[i], now);
			s->ctr.v[why]++;
			if (why == VIGIL_CTR_retransmitted)
				p[kept++] = p[i];
			continue;
		}
		if (pre != NULL && pre[i].done) {
			/* A packet before it in the burst may have taken the
			 * index: checked again. */
			soft = false;
			index = pre[i].index;
			if (vigil_replay_check(&s->replay, index)) {
				rc = pre[i].rc;
				why = VIGIL_CTR_auth_failed;
				vigil_replay_authenticated(&s->replay, rc >= 0);
			}
		} else {
			index = vigil_replay_estimate(&s->replay, p[i].hdr.seq);
			if (unlikely(!s->replay.locked)) {
				rc = decrypt_trial(w, s, &s->replay, key, prev, &p[i], &index, now, &why);
			} else if (vigil_replay_check(&s->replay, index)) {
				rc = decrypt(s, key, prev, &p[i], index);
				why = VIGIL_CTR_auth_failed;
				vigil_replay_authenticated(&s->replay, rc >= 0);
			}
		}
		if (rc < 0) {
			refuse(w, s, why, now);
			continue;
		}
		/* Authentic, but the cluster's camera is another node's: its
		 * index is left for the owner (docs/cluster.md). */
		if (unlikely(__atomic_load_n(&s->elsewhere, __ATOMIC_ACQUIRE))) {
			drop(&s->ctr, VIGIL_CTR_not_owner);
			continue;
		}
		vigil_replay_commit(&s->replay, index);
		s->accepted_tsc = now;
		s->replayed_run = 0;
		if (unlikely(!vigil_payload_type_ok(s->payload_types, p[i].hdr.pt))) {
			drop(&s->ctr, VIGIL_CTR_payload_type);
			continue;
		}
		s->ctr.v[VIGIL_CTR_decrypted]++;
		s->ctr.v[VIGIL_CTR_decrypted_libsodium] += soft;
		/* A header length the camera was just proven to send, with no
		 * session: the control plane makes one (vigil_stream_sessions).
		 * Never for a packet that did not authenticate: a spoofer would
		 * spend the key's sessions and the pool. */
		if (soft && s->replay.locked && vigil_key_session(key, p[i].hdr.hdr_len) == NULL)
			vigil_stream_want_session(w->streams, key, p[i].hdr.hdr_len);
		/* Copied only to close a gap, the index into the copy: storing
		 * it first and then reading the entry whole stalls the copy's
		 * load on that store. */
		if (kept != i)
			p[kept] = p[i];
		p[kept++].index = index;
	}
	return kept;
}

static uint64_t wall_ns(const struct vigil_worker *w, uint64_t tsc)
{
	return w->wall0_ns + (uint64_t)((unsigned __int128)(tsc - w->tsc0) * 1000000000u / w->tsc_hz);
}

/* The reorder stage hands packets to the depacketizer in index order. */
static void deliver(void *arg, struct vigil_reorder *r, uint64_t index, const struct vigil_reorder_pkt *p)
{
	struct vigil_stream *s = container_of(r, struct vigil_stream, reorder);

	vigil_depay_push(&s->depay, &s->env, index, p->ts, p->marker, p->m, p->payload, p->len,
			 *(const uint64_t *)arg);
}

static struct vigil_reorder_ctx reorder_ctx(struct vigil_worker *w, uint64_t tsc, uint64_t *now_ns)
{
	/* A capture is read at its own pace, not the camera's: there only
	 * full slots and the end give up, so its replay is deterministic. */
	return (struct vigil_reorder_ctx){
		.list = &w->reorder,
		.deliver = deliver,
		.arg = now_ns,
		.now_tsc = tsc,
		.no_deadline = w->replay_capture,
	};
}

/* Feedback is paid for by what the camera sent: at most this fraction
 * of its authenticated bytes, so vigild never amplifies. */
#define FEEDBACK_SHARE 16
/* A PLI at most this often: the key frame it asks for takes a while. */
#define PLI_EVERY_MS 500
/* Reduced-size RTCP still carries a receiver report this often (RFC 5506
 * section 3: compound RTCP goes on at regular intervals). */
#define RSIZE_RR_EVERY_S 1

static void queue_feedback(struct vigil_worker *w, struct vigil_stream *s)
{
	if (s->fb.queued || w->n_feedback == RTE_DIM(w->feedback))
		return;
	s->fb.queued = true;
	w->feedback[w->n_feedback++] = s;
}

/* Where feedback goes: the addresses of this authenticated packet. */
static void note_peer(struct vigil_feedback *fb, const struct rte_mbuf *m)
{
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	struct vigil_udp peer;

	if (vigil_parse_udp(frame, m->data_len, &peer) == VIGIL_PARSE_OK && peer.l3 <= VIGIL_FEEDBACK_L2_MAX) {
		fb->peer = peer;
		memcpy(fb->l2, frame, peer.l3);
		fb->has_peer = true;
	}
}

/* An authenticated packet of a stream that retransmits: the numbers
 * missing below it (a new gap) are NACKed, and a frame lost for good asks
 * for a key frame; its addresses are where the feedback goes (an address
 * that authenticated as the camera, RFC 4961 symmetric RTP). */
static void note_feedback(struct vigil_worker *w, struct vigil_stream *s, const struct vigil_pkt *p, uint64_t now)
{
	struct vigil_feedback *fb = &s->fb;
	bool due = false;

	fb->budget += p->wire_len;
	note_answers(w, s, now);
	if (p->index > fb->top + 1 && fb->top != 0 && p->index - fb->top <= s->reorder.span &&
	    fb->unanswered < SILENT_AFTER) {
		if (!fb->probing) {
			fb->probing = true;
			fb->probe_index = fb->top + 1;
			fb->probe_tsc = now;
		}
		for (uint64_t i = fb->top + 1; i < p->index && fb->n_missing < VIGIL_FEEDBACK_NACK_MAX; i++)
			fb->missing[fb->n_missing++] = (uint16_t)i;
		due = true;
	}
	if (p->index > fb->top)
		fb->top = p->index;
	if (s->ctr.v[VIGIL_CTR_frame_incomplete] != fb->incomplete_seen) {
		fb->incomplete_seen = s->ctr.v[VIGIL_CTR_frame_incomplete];
		fb->want_pli = true;
	}
	if (fb->want_pli && now - fb->pli_tsc >= w->tsc_hz / 1000 * PLI_EVERY_MS)
		due = true;
	if (!due)
		return;
	note_peer(fb, *p->mbuf);
	queue_feedback(w, s);
}

/* The stream's feedback as one SRTCP packet: a receiver report (for a
 * camera that takes reduced-size RTCP, once a second), then the NACKs and
 * the PLI due, under its current key and an index reserved for it; from
 * the port the camera sends to, to the address it sent from. */
static void send_feedback(struct vigil_worker *w, struct vigil_stream *s, uint64_t now)
{
	struct vigil_feedback *fb = &s->fb;
	struct vigil_stream_key *key = __atomic_load_n(&s->key, __ATOMIC_ACQUIRE);
	uint32_t index = key->fb.next;
	uint8_t rtcp[VIGIL_RTCP_RR_LEN + VIGIL_RTCP_REPORT_LEN + 12 + 4 * VIGIL_FEEDBACK_NACK_MAX +
		     VIGIL_RTCP_PLI_LEN + VIGIL_SRTCP_TRAILER_LEN];
	const size_t cap = sizeof(rtcp) - VIGIL_SRTCP_TRAILER_LEN;
	struct vigil_rtcp_report rb = {.ssrc = s->ssrc, .highest_seq = (uint32_t)s->replay.top};
	bool pli = fb->want_pli && now - fb->pli_tsc >= w->tsc_hz / 1000 * PLI_EVERY_MS;
	bool rr = !fb->rsize || now - fb->rr_tsc >= w->tsc_hz * RSIZE_RR_EVERY_S || (fb->n_missing == 0 && !pli);
	unsigned taken = 0;
	size_t len = 0, nack = 0;
	struct rte_mbuf *m;
	int n;

	fb->queued = false;
	if (fb->n_missing > 0)
		fb->nack_tsc = now; /* asked again in RENACK_MS, sent or not */
	if (rr)
		len = vigil_rtcp_rr(rtcp, cap, fb->ssrc, &rb);
	if (fb->n_missing > 0)
		nack = vigil_rtcp_nack(rtcp + len, cap - len, fb->ssrc, s->ssrc, fb->missing, fb->n_missing, &taken);
	len += nack;
	if (pli)
		len += vigil_rtcp_pli(rtcp + len, cap - len, fb->ssrc, s->ssrc);
	fb->n_missing = 0;
	if (!w->has_tx || !fb->has_peer || index >= __atomic_load_n(&key->fb.reserved, __ATOMIC_ACQUIRE) ||
	    fb->budget < (int64_t)(FEEDBACK_SHARE * (len + VIGIL_SRTCP_TRAILER_LEN + 64)) ||
	    (m = rte_pktmbuf_alloc(w->streams->pool)) == NULL) {
		s->ctr.v[VIGIL_CTR_feedback_limited]++;
		return;
	}
	n = vigil_srtcp_encrypt(&key->rtcp, rtcp, len, index, true);
	__atomic_store_n(&key->fb.next, index + 1, __ATOMIC_RELAXED);
	memcpy(rte_pktmbuf_mtod(m, uint8_t *), fb->l2, fb->peer.l3);
	m->data_len = m->pkt_len = (uint32_t)vigil_reply_udp(rte_pktmbuf_mtod(m, uint8_t *), &w->neigh.mac, &fb->peer,
							     fb->peer.dport, rtcp, (size_t)n);
	fb->budget -= (int64_t)FEEDBACK_SHARE * m->pkt_len;
	if (rte_eth_tx_burst(w->port, w->tx_queue, &m, 1) != 1) {
		rte_pktmbuf_free(m);
		s->ctr.v[VIGIL_CTR_feedback_limited]++;
		return;
	}
	if (rr) {
		s->ctr.v[VIGIL_CTR_rtcp_rr_sent]++;
		fb->rr_tsc = now;
	} else {
		s->ctr.v[VIGIL_CTR_rtcp_rsize_sent]++;
	}
	s->ctr.v[VIGIL_CTR_nack_sent] += nack > 0;
	s->ctr.v[VIGIL_CTR_nacked] += taken;
	if (pli) {
		s->ctr.v[VIGIL_CTR_pli_sent]++;
		fb->want_pli = false;
		fb->pli_tsc = now;
	}
}

static void send_all_feedback(struct vigil_worker *w, uint64_t now)
{
	for (unsigned i = 0; i < w->n_feedback; i++)
		send_feedback(w, w->feedback[i], now);
	w->n_feedback = 0;
}

/* The streams that wait for retransmissions NACK again what they miss. */
static void renack(struct vigil_worker *w, uint64_t now)
{
	struct vigil_reorder *r;

	if (now - w->renack_tsc < w->tsc_hz / 1000)
		return;
	w->renack_tsc = now;
	LIST_FOREACH(r, &w->reorder.streams, waiting) {
		struct vigil_stream *s = container_of(r, struct vigil_stream, reorder);
		struct vigil_feedback *fb = &s->fb;

		/* A NACK or its answer may be lost too: what is still
		 * missing is asked for again, a round trip on. */
		if (!s->feedback || fb->queued || fb->unanswered >= SILENT_AFTER || now - fb->nack_tsc < renack_after(w, fb))
			continue;
		fb->n_missing = (uint16_t)vigil_reorder_gaps(r, fb->missing, VIGIL_FEEDBACK_NACK_MAX);
		if (fb->n_missing > 0)
			queue_feedback(w, s);
	}
	send_all_feedback(w, now);
}

/* Padding removed, through the reorder stage into the depacketizer; a
 * packet the stage holds or a frame took leaves pkts as NULL. */
static void stage_depay(struct vigil_worker *w, struct vigil_pkt *p, uint16_t n)
{
	uint64_t tsc = rte_rdtsc(), now_ns = wall_ns(w, tsc);
	const struct vigil_reorder_ctx c = reorder_ctx(w, tsc, &now_ns);

	for (uint16_t i = 0; i < n; i++) {
		struct vigil_stream *s = p[i].stream;
		uint8_t *payload = p[i].rtp + p[i].hdr.hdr_len;
		int len = (int)(p[i].len - p[i].hdr.hdr_len - VIGIL_SRTP_TAG_LEN);

		if (p[i].hdr.padding)
			len = vigil_rtp_strip_padding(&p[i].hdr, payload, (size_t)len);
		if (len < 0) {
			/* Only takes its place: the depacketizer sees the gap
			 * and drops the frame this packet belonged to. */
			s->ctr.v[VIGIL_CTR_payload_invalid]++;
			payload = NULL;
		}
		if (s->feedback && !p[i].rtx)
			note_feedback(w, s, &p[i], tsc);
		if (vigil_reorder_push(&c, &s->reorder, &s->ctr, p[i].index,
				       &(struct vigil_reorder_pkt){.m = *p[i].mbuf,
								   .payload = payload,
								   .ts = p[i].hdr.ts,
								   .len = (uint16_t)RTE_MAX(len, 0),
								   .marker = p[i].hdr.marker}))
			*p[i].mbuf = NULL;
	}
	send_all_feedback(w, tsc);
}

/* The first half: what needs only the packet and the stream table. */
static void burst_start(struct vigil_worker *w, struct vigil_burst *b)
{
	uint16_t k = stage_classify(w, b->m, b->n_mbufs, b->p);

	k = stage_handoff(w, b->p, k);
	stage_lookup(w, b, k);
}

/* The second half, which touches each packet's stream and key, while
 * the next burst's are fetched. */
static void burst_finish(struct vigil_worker *w, struct vigil_burst *b, const struct vigil_burst *next)
{
	struct ahead a = ahead_of(w, next, b->n);
	uint16_t k = stage_decrypt(w, b->p, b->n, &a);

	prefetch_ahead_rest(&a);
	stage_depay(w, b->p, k);
	b->n = 0;
}

struct vigil_burst *vigil_worker_burst(struct vigil_worker *w)
{
	return w->held == &w->bursts[0] ? &w->bursts[1] : &w->bursts[0];
}

void vigil_worker_push(struct vigil_worker *w)
{
	struct vigil_burst *b = vigil_worker_burst(w), *prev = w->held;

	burst_start(w, b);
	if (prev != NULL) {
		burst_finish(w, prev, b);
		rte_pktmbuf_free_bulk(prev->m, prev->n_mbufs);
	} else {
		struct ahead a = ahead_of(w, b, 1);

		prefetch_ahead_rest(&a);
	}
	w->held = b;
	w->held_bursts++;
}

void vigil_worker_drain(struct vigil_worker *w)
{
	struct vigil_burst *b = w->held;

	if (b == NULL)
		return;
	burst_finish(w, b, NULL);
	rte_pktmbuf_free_bulk(b->m, b->n_mbufs);
	w->held = NULL;
	w->held_bursts = 0;
}

void vigil_worker_process(struct vigil_worker *w, struct rte_mbuf **pkts, uint16_t n)
{
	vigil_worker_drain(w);
	for (uint16_t done = 0; done < n; done += VIGIL_BURST) {
		struct vigil_burst *b = vigil_worker_burst(w);

		b->n_mbufs = RTE_MIN(n - done, VIGIL_BURST);
		memcpy(b->m, pkts + done, b->n_mbufs * sizeof(b->m[0]));
		burst_start(w, b);
		burst_finish(w, b, NULL);
		memcpy(pkts + done, b->m, b->n_mbufs * sizeof(b->m[0]));
	}
}

static void clock_init(struct vigil_worker *w)
{
	w->wall0_ns = vigil_clock_ns(CLOCK_REALTIME);
	w->tsc_hz = rte_get_tsc_hz();
	w->tsc0 = rte_rdtsc();
}

/* A capture is read faster than any recorder writes: wait until one more
 * burst's worth of frames has somewhere to go, and the mbufs frames hold
 * are back. Live traffic never waits. */
static bool recorder_has_room(const struct vigil_worker *w)
{
	/* Two bursts may be finished before the next check (the one held
	 * and one more), and a packet depacketized (theirs, and those held
	 * back) closes at most two frames of its camera: the open one by a
	 * new timestamp, its own by the marker. Not a bound on the cameras:
	 * with thousands of them that would never fit the ring. */
	unsigned frames = 2 * (2 * VIGIL_BURST + w->reorder.n_held);

	for (unsigned r = 0; r < w->n_recorders; r++)
		if (rte_ring_free_count(w->frames[r]->ring) < frames ||
		    vigil_frame_ring_segs(w->frames[r]) > w->frames[r]->max_segs / 2)
			return false;
	return true;
}

/* ... and, for the worker reading the capture, the other workers too. */
static bool capture_has_room(const struct vigil_worker *w)
{
	if (!recorder_has_room(w))
		return false;
	for (unsigned i = 0; w->has_rx && w->shared != NULL && i < w->shared->n_workers; i++)
		if (i != w->id && rte_ring_free_count(w->shared->inbound[i]) < VIGIL_BURST)
			return false;
	return true;
}

/* Capture replay ends when the capture is read and nothing is left in
 * this worker's inbound ring. */
static bool capture_done(struct vigil_worker *w, unsigned *empty)
{
	if (w->has_rx && ++*empty >= 4) {
		/* net_pcap returns nothing only once the file is read. */
		if (w->shared == NULL)
			return true;
		__atomic_store_n(&w->shared->rx_ended, true, __ATOMIC_RELEASE);
	}
	return w->shared != NULL && __atomic_load_n(&w->shared->rx_ended, __ATOMIC_ACQUIRE) &&
	       rte_ring_empty(w->shared->inbound[w->id]);
}

/* Streams holding packets back give up on gaps that waited too long; a
 * stream being removed lets go of what it holds and of this list. */
static void expire_held(struct vigil_worker *w)
{
	uint64_t tsc, now_ns;
	struct vigil_reorder_ctx c;

	if (LIST_EMPTY(&w->reorder.streams))
		return;
	tsc = rte_rdtsc();
	now_ns = wall_ns(w, tsc);
	c = reorder_ctx(w, tsc, &now_ns);
	if (!w->replay_capture)
		renack(w, tsc);
	vigil_reorder_expire(&c);
}

/* At the end what was held back is depacketized, and every frame still
 * open in a stream this worker owns is closed, so every frame is
 * accounted. */
static void flush_own_streams(struct vigil_worker *w)
{
	uint64_t tsc, now_ns;
	struct vigil_reorder_ctx c;

	while (w->replay_capture && !recorder_has_room(w))
		rte_delay_us_sleep(100);
	tsc = rte_rdtsc();
	now_ns = wall_ns(w, tsc);
	c = reorder_ctx(w, tsc, &now_ns);
	vigil_reorder_release_all(&c);
	for (unsigned i = 0; i < w->streams->capacity; i++) {
		struct vigil_stream *s = w->streams->slots[i];

		if (s != NULL && s->owner == w->id)
			vigil_depay_flush(&s->depay, &s->env);
	}
}

/* The control plane's replies (handshake responses) leave here, since
 * the TX queue is this worker's. */
static void send_control(struct vigil_worker *w)
{
	struct rte_mbuf *tx[VIGIL_BURST];
	uint16_t n = (uint16_t)rte_ring_sc_dequeue_burst(w->from_control, (void **)tx, VIGIL_BURST, NULL);
	uint16_t sent = n > 0 ? rte_eth_tx_burst(w->port, w->tx_queue, tx, n) : 0;

	if (sent < n) {
		w->ctr.v[VIGIL_CTR_control_tx_failed] += n - sent;
		rte_pktmbuf_free_bulk(tx + sent, n - sent);
	}
}

/* Under load the pipeline is emptied every this many bursts, so the
 * control plane's grace periods end within a few milliseconds. */
#define DRAIN_BURSTS 64

int vigil_worker_main(void *arg)
{
	struct vigil_worker *w = arg;
	struct rte_ring *inbound = w->shared != NULL ? w->shared->inbound[w->id] : NULL;
	unsigned empty = 0;
	/* IdleSleepMicroseconds: where the worker shares its core (a VM, a
	 * box that also records), a poll that found nothing gives the core
	 * away for a while, as Open vSwitch's pmd-sleep-max does; the RX ring
	 * holds what comes meanwhile. Timer slack a tenth of it, not the
	 * default 50 us. Under load a poll always finds packets: no sleep. */
	long idle_ns = w->cfg != NULL ? (long)w->cfg->idle_sleep_us * 1000 : 0;

	if (idle_ns > 0)
		(void)prctl(PR_SET_TIMERSLACK, (unsigned long)idle_ns / 10, 0, 0, 0);
	clock_init(w);
	rte_rcu_qsbr_thread_register(w->streams->qsbr, w->id);
	rte_rcu_qsbr_thread_online(w->streams->qsbr, w->id);
	while (!*w->stop) {
		uint64_t t0 = rte_rdtsc();
		uint16_t n = 0, m = 0;
		struct vigil_burst *b;
		bool worked;

		/* Nothing from the stream table is held across iterations
		 * but the streams on w->reorder, released when removed, and
		 * those of a burst in flight. */
		if (w->held == NULL)
			rte_rcu_qsbr_quiescent(w->streams->qsbr, w->id);
		expire_held(w);
		/* A capture is read no faster than its frames are recorded:
		 * the check leaves room for two bursts, held and next. */
		if (w->replay_capture && !capture_has_room(w)) {
			rte_delay_us_sleep(100);
			continue;
		}
		worked = w->held_bursts >= DRAIN_BURSTS;
		if (worked)
			vigil_worker_drain(w);
		if (w->has_rx) {
			b = vigil_worker_burst(w);
			n = b->n_mbufs = rte_eth_rx_burst(w->port, w->queue, b->m, VIGIL_BURST);
			if (n > 0)
				vigil_worker_push(w);
		}
		if (inbound != NULL) {
			b = vigil_worker_burst(w);
			m = b->n_mbufs = (uint16_t)rte_ring_sc_dequeue_burst(inbound, (void **)b->m, VIGIL_BURST, NULL);
			if (m > 0)
				vigil_worker_push(w);
		}
		if (w->from_control != NULL && w->has_tx && w->tx_queue == 0)
			send_control(w);
		/* Nothing came: what is in flight is not kept waiting. */
		worked = worked || n != 0 || m != 0 || w->held != NULL;
		if (n == 0 && m == 0)
			vigil_worker_drain(w);
		if (worked) {
			__atomic_store_n(&w->busy_tsc, w->busy_tsc + rte_rdtsc() - t0, __ATOMIC_RELAXED);
			empty = 0;
			continue;
		}
		if (w->replay_capture && capture_done(w, &empty))
			break;
		if (idle_ns > 0 && !w->replay_capture)
			nanosleep(&(struct timespec){.tv_nsec = idle_ns}, NULL);
		else
			rte_pause();
	}
	vigil_worker_drain(w);
	flush_own_streams(w);
	rte_rcu_qsbr_thread_offline(w->streams->qsbr, w->id);
	rte_rcu_qsbr_thread_unregister(w->streams->qsbr, w->id);
	w->done = true;
	return 0;
}
