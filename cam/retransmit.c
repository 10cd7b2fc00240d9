/* SPDX-License-Identifier: MIT */
/* The camera's retransmission buffer and its answers to vigild's SRTCP
 * feedback (retransmit.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "retransmit.h"
#include "vigil/bytes.h"

#define HOLD_NS ((uint64_t)VIGIL_RTX_HOLD_MS * 1000000u)

const char *const vigil_retransmit_counter_names[] = {
#define X(name, help) #name,
    VIGIL_FOREACH_RTX_COUNTER(X)
#undef X
};

static int set_keys(struct vigil_retransmit *rt,
		    const uint8_t master[VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN])
{
	const uint8_t *salt = master + VIGIL_SRTP_MASTER_KEY_LEN;

	vigil_replay_init(&rt->replay);
	if (vigil_srtp_init(&rt->srtp, master, salt) < 0 || vigil_srtcp_init(&rt->srtcp, master, salt) < 0)
		return -EINVAL;
	return 0;
}

int vigil_retransmit_init(struct vigil_retransmit *rt, uint32_t media_ssrc, uint32_t rtx_ssrc,
			  uint8_t rtx_payload_type,
			  const uint8_t master[VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN],
			  unsigned slots, const char *state_path, char *msg, size_t msglen)
{
	unsigned n = 1;
	int rc;

	memset(rt, 0, sizeof(*rt));
	if (rtx_ssrc == media_ssrc || rtx_payload_type > 127 || slots == 0 || slots > VIGIL_RTX_SLOTS_MAX) {
		snprintf(msg, msglen, "RTX needs an SSRC of its own, a payload type 0-127 and 1-%u slots",
			 VIGIL_RTX_SLOTS_MAX);
		return -EINVAL;
	}
	while (n < slots)
		n <<= 1;
	rt->media_ssrc = media_ssrc;
	rt->rtx_ssrc = rtx_ssrc;
	rt->rtx_payload_type = rtx_payload_type;
	rt->n_slots = n;
	/* Every slot's memory at once: nothing is allocated while sending. */
	rt->slots = calloc(n, sizeof(*rt->slots));
	if (rt->slots == NULL) {
		snprintf(msg, msglen, "out of memory for %u RTX slots", n);
		return -ENOMEM;
	}
	if (set_keys(rt, master) < 0) {
		snprintf(msg, msglen, "cannot derive the SRTP and SRTCP keys");
		rc = -EINVAL;
		goto err;
	}
	if (state_path == NULL) {
		rt->rtx_index = randombytes_uniform(1u << 16);
		snprintf(msg, msglen, "RTX under an ephemeral key, from index %llu",
			 (unsigned long long)rt->rtx_index);
		return 0;
	}
	rc = vigil_index_store_open(&rt->store, state_path, rtx_ssrc, master, &rt->rtx_index, msg, msglen);
	if (rc < 0)
		goto err;
	rt->reserved = rt->rtx_index; /* the first RTX reserves */
	return 0;
err:
	vigil_retransmit_wipe(rt);
	return rc;
}

int vigil_retransmit_rekey(struct vigil_retransmit *rt,
			   const uint8_t master[VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN])
{
	if (rt->store != NULL)
		return -EINVAL;
	vigil_srtp_wipe(&rt->srtp);
	vigil_srtp_wipe(&rt->srtcp);
	return set_keys(rt, master);
}

void vigil_retransmit_record(struct vigil_retransmit *rt, uint16_t seq, uint32_t ts, bool marker,
			     const uint8_t *payload, size_t len, uint64_t now_ns)
{
	struct vigil_rtx_slot *slot = &rt->slots[seq & (rt->n_slots - 1)];

	if (len > VIGIL_PACKETIZE_MAX)
		return;
	slot->at_ns = now_ns | 1; /* never 0, which is empty */
	slot->ts = ts;
	slot->seq = seq;
	slot->len = (uint16_t)len;
	slot->marker = marker;
	memcpy(slot->payload, payload, len);
	rt->tokens += len / VIGIL_RTX_SHARE;
	if (rt->tokens > VIGIL_RTX_BURST_BYTES)
		rt->tokens = VIGIL_RTX_BURST_BYTES;
}

/* Before the RTX packet at rt->rtx_index: under a static key, below a
 * durable reservation (as sender.c's index_ready). */
static int rtx_index_ready(struct vigil_retransmit *rt)
{
	uint64_t limit;
	int rc;

	if (rt->rtx_index >= VIGIL_INDEX_END)
		return -ENOSPC;
	if (rt->store == NULL || rt->rtx_index < rt->reserved)
		return 0;
	limit = VIGIL_INDEX_END - rt->rtx_index < VIGIL_INDEX_RESERVE ? VIGIL_INDEX_END
								      : rt->rtx_index + VIGIL_INDEX_RESERVE;
	rc = vigil_index_store_reserve(rt->store, limit);
	if (rc < 0)
		return rc;
	rt->reserved = limit;
	return 0;
}

/* One NACKed number: its RTX packet to send, if it is held, fresh, within
 * the rate limit and its index can be had. */
static void resend(struct vigil_retransmit *rt, uint16_t seq, uint64_t now_ns, vigil_sender_fn send, void *arg)
{
	const struct vigil_rtx_slot *slot = &rt->slots[seq & (rt->n_slots - 1)];
	uint8_t pkt[VIGIL_RTX_MAX_PACKET];
	uint16_t rtx_seq;
	int n;

	if (slot->at_ns == 0 || slot->seq != seq || now_ns - slot->at_ns > HOLD_NS) {
		rt->count.missing++;
		return;
	}
	if (rt->tokens < slot->len) {
		rt->count.rate_limited++;
		return;
	}
	if (rtx_index_ready(rt) < 0) {
		rt->count.rtx_failed++;
		return;
	}
	rtx_seq = (uint16_t)rt->rtx_index;
	pkt[0] = VIGIL_RTP_VERSION << 6;
	pkt[1] = (uint8_t)(rt->rtx_payload_type | (slot->marker ? 0x80 : 0));
	vigil_put16(pkt + 2, rtx_seq);
	vigil_put32(pkt + 4, slot->ts);
	vigil_put32(pkt + 8, rt->rtx_ssrc);
	vigil_rtx_wrap(pkt + VIGIL_RTP_HEADER_LEN, sizeof(pkt) - VIGIL_RTP_HEADER_LEN - VIGIL_SRTP_TAG_LEN, seq,
		       slot->payload, slot->len);
	/* The IV takes the RTX SSRC and the RTX index: never a media nonce. */
	n = vigil_srtp_encrypt(&rt->srtp, pkt, VIGIL_RTP_HEADER_LEN + 2 + slot->len, VIGIL_RTP_HEADER_LEN,
			       rt->rtx_ssrc, (uint32_t)(rt->rtx_index >> 16), rtx_seq);
	if (n < 0) {
		rt->count.rtx_failed++;
		return;
	}
	rt->rtx_index++;
	rt->tokens -= slot->len;
	rt->count.rtx_sent++;
	rt->count.rtx_bytes += 2u + slot->len;
	send(arg, pkt, (size_t)n);
}

int vigil_retransmit_feedback(struct vigil_retransmit *rt, const uint8_t *pkt, size_t len, uint64_t now_ns,
			      vigil_sender_fn send, vigil_key_frame_fn key_frame, void *arg)
{
	uint8_t rtcp[VIGIL_RTX_FEEDBACK_MAX];
	struct vigil_rtcp_feedback fb;
	uint32_t index, sender;
	int n;

	rt->count.feedback++;
	if (len < VIGIL_SRTCP_HEADER_LEN + VIGIL_SRTCP_TRAILER_LEN || len > sizeof(rtcp)) {
		rt->count.malformed++;
		return -EINVAL;
	}
	/* The index is in the clear: a replay costs no decryption. */
	index = vigil_get32(pkt + len - 4) & ~VIGIL_SRTCP_E_BIT;
	if (!vigil_replay_check(&rt->replay, index)) {
		rt->count.replayed++;
		return -EALREADY;
	}
	memcpy(rtcp, pkt, len);
	n = vigil_srtcp_decrypt(&rt->srtcp, rtcp, len, &index);
	if (n < 0) {
		if (n == -EBADMSG)
			rt->count.forged++;
		else
			rt->count.malformed++;
		sodium_memzero(rtcp, len);
		return n == -EBADMSG ? -EBADMSG : -EINVAL;
	}
	/* Our own packets reflected back authenticate too: vigild's SSRC is
	 * any other. Refused before the window moves: our own reports, far
	 * ahead of vigild's index, would shut its feedback out. */
	sender = vigil_get32(rtcp + 4);
	if (sender == rt->media_ssrc || sender == rt->rtx_ssrc) {
		rt->count.wrong_sender++;
		return -EPERM;
	}
	vigil_replay_commit(&rt->replay, index);
	if (vigil_rtcp_feedback_parse(rtcp, (size_t)n, rt->media_ssrc, &fb) < 0) {
		rt->count.malformed++;
		return -EINVAL;
	}
	rt->count.nacked += fb.n_nack + fb.nack_over;
	rt->count.nack_excess += fb.nack_over;
	for (unsigned i = 0; i < fb.n_nack; i++)
		resend(rt, fb.nack[i], now_ns, send, arg);
	if (fb.pli) {
		rt->count.pli++;
		if (key_frame != NULL)
			key_frame(arg);
	}
	return 0;
}

void vigil_retransmit_wipe(struct vigil_retransmit *rt)
{
	vigil_index_store_close(rt->store);
	free(rt->slots);
	vigil_srtp_wipe(&rt->srtp);
	vigil_srtp_wipe(&rt->srtcp);
	sodium_memzero(rt, sizeof(*rt));
}
