/* SPDX-License-Identifier: MIT */
/* The camera's SRTP sender (sender.h). */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "sender.h"

static int set_key(struct vigil_sender *s, const uint8_t master[VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN])
{
	int rc = vigil_srtp_init(&s->srtp, master, master + VIGIL_SRTP_MASTER_KEY_LEN);

	s->packets = 0;
	return rc;
}

int vigil_sender_init(struct vigil_sender *s, uint32_t ssrc, uint8_t payload_type, uint16_t first_seq,
		      const uint8_t master[VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN])
{
	memset(s, 0, sizeof(*s));
	if (payload_type > 127)
		return -EINVAL;
	s->ssrc = ssrc;
	s->seq = first_seq;
	s->payload_type = payload_type;
	return set_key(s, master);
}

int vigil_sender_rekey(struct vigil_sender *s,
		       const uint8_t master[VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN])
{
	vigil_srtp_wipe(&s->srtp);
	return set_key(s, master);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void one_packet(void *arg, const uint8_t *payload, size_t len, bool marker)
{
	struct vigil_sender *s = arg;
	uint8_t pkt[VIGIL_SENDER_MAX_PACKET];
	int n;

	if (s->err != 0)
		return;
	pkt[0] = VIGIL_RTP_VERSION << 6;
	pkt[1] = (uint8_t)(s->payload_type | (marker ? 0x80 : 0));
	pkt[2] = (uint8_t)(s->seq >> 8);
	pkt[3] = (uint8_t)s->seq;
	put32(pkt + 4, s->ts);
	put32(pkt + 8, s->ssrc);
	memcpy(pkt + VIGIL_RTP_HEADER_LEN, payload, len);
	n = vigil_srtp_encrypt(&s->srtp, pkt, VIGIL_RTP_HEADER_LEN + len, VIGIL_RTP_HEADER_LEN, s->ssrc, s->roc,
			       s->seq);
	if (n < 0) {
		s->err = n;
		return;
	}
	s->fn(s->arg, pkt, (size_t)n);
	s->packets++;
	if (++s->seq == 0)
		s->roc++;
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
	vigil_srtp_wipe(&s->srtp);
	sodium_memzero(s, sizeof(*s));
}
