/* SPDX-License-Identifier: MIT */
/* The camera's SRTP sender (sender.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "vigil/clock.h"
#include "retransmit.h"
#include "sender.h"
#include "vigil/bytes.h"

static int set_key(struct vigil_sender *s, const uint8_t master[VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN])
{
	int rc = vigil_srtp_init(&s->srtp, master, master + VIGIL_SRTP_MASTER_KEY_LEN);

	s->packets = 0;
	return rc;
}

int vigil_sender_init_ephemeral(struct vigil_sender *s, uint32_t ssrc, uint8_t payload_type,
				uint16_t first_seq,
				const uint8_t master[VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN])
{
	memset(s, 0, sizeof(*s));
	if (payload_type > 127)
		return -EINVAL;
	s->ssrc = ssrc;
	s->index = first_seq;
	s->payload_type = payload_type;
	return set_key(s, master);
}

int vigil_sender_init(struct vigil_sender *s, uint32_t ssrc, uint8_t payload_type,
		      const uint8_t master[VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN],
		      const char *state_path, char *msg, size_t msglen)
{
	uint64_t next;
	int rc = vigil_sender_init_ephemeral(s, ssrc, payload_type, 0, master);

	if (rc < 0) {
		snprintf(msg, msglen, "cannot set the SRTP key");
		vigil_sender_wipe(s);
		return rc;
	}
	rc = vigil_index_store_open(&s->store, state_path, ssrc, master, &next, msg, msglen);
	if (rc < 0) {
		vigil_sender_wipe(s);
		return rc;
	}
	/* Nothing reserved by this run yet: its first packet reserves, so a
	 * camera that restarts before it sends anything moves nothing. */
	s->index = s->reserved = next;
	return 0;
}

int vigil_sender_rekey(struct vigil_sender *s,
		       const uint8_t master[VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN])
{
	if (s->store != NULL)
		return -EINVAL;
	vigil_srtp_wipe(&s->srtp);
	return set_key(s, master);
}

/* Before the packet at s->index: under a static key, the index must be
 * below a durable reservation; the next one goes VIGIL_INDEX_RESERVE
 * ahead of the index that needs it. */
static int index_ready(struct vigil_sender *s)
{
	uint64_t t0, limit, took;
	int rc;

	if (s->index >= VIGIL_INDEX_END)
		return -ENOSPC;
	if (s->store == NULL || s->index < s->reserved)
		return 0;
	limit = VIGIL_INDEX_END - s->index < VIGIL_INDEX_RESERVE ? VIGIL_INDEX_END
								 : s->index + VIGIL_INDEX_RESERVE;
	t0 = vigil_now_ns();
	rc = vigil_index_store_reserve(s->store, limit);
	if (rc < 0)
		return rc;
	took = vigil_now_ns() - t0;
	s->reserved = limit;
	s->reservations++;
	if (took > s->reserve_max_ns)
		s->reserve_max_ns = took;
	return 0;
}

static void one_packet(void *arg, const uint8_t *payload, size_t len, bool marker)
{
	struct vigil_sender *s = arg;
	uint8_t pkt[VIGIL_SENDER_MAX_PACKET];
	uint16_t seq;
	int n;

	if (s->err != 0)
		return;
	n = index_ready(s);
	if (n < 0) {
		s->err = n;
		return;
	}
	seq = (uint16_t)s->index;
	pkt[0] = VIGIL_RTP_VERSION << 6;
	pkt[1] = (uint8_t)(s->payload_type | (marker ? 0x80 : 0));
	pkt[2] = (uint8_t)(seq >> 8);
	pkt[3] = (uint8_t)seq;
	vigil_put32(pkt + 4, s->ts);
	vigil_put32(pkt + 8, s->ssrc);
	memcpy(pkt + VIGIL_RTP_HEADER_LEN, payload, len);
	n = vigil_srtp_encrypt(&s->srtp, pkt, VIGIL_RTP_HEADER_LEN + len, VIGIL_RTP_HEADER_LEN, s->ssrc,
			       (uint32_t)(s->index >> 16), seq);
	if (n < 0) {
		s->err = n;
		return;
	}
	if (s->rtx != NULL)
		vigil_retransmit_record(s->rtx, seq, s->ts, marker, payload, len, vigil_now_ns());
	s->fn(s->arg, pkt, (size_t)n);
	s->packets++;
	s->index++;
}

int vigil_sender_au(struct vigil_sender *s, enum vigil_codec codec, const uint8_t *au, size_t len, uint32_t ts,
		    size_t max_payload, vigil_sender_fn fn, void *arg)
{
	int rc;

	s->ts = ts;
	s->fn = fn;
	s->arg = arg;
	s->err = 0;
	rc = vigil_packetize(codec, au, len, max_payload, one_packet, s);
	return rc < 0 ? rc : s->err;
}

void vigil_sender_wipe(struct vigil_sender *s)
{
	vigil_index_store_close(s->store);
	vigil_srtp_wipe(&s->srtp);
	sodium_memzero(s, sizeof(*s));
}
