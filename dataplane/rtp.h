/* SPDX-License-Identifier: MIT */
/* RTP header checks (RFC 3550) for SRTP packets: the header is checked
 * before decryption (it is the AAD and gives SSRC and SEQ), padding after
 * (it is encrypted). Also tells RTCP from RTP on a shared port (RFC 5761). */
#ifndef VIGIL_RTP_H
#define VIGIL_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vigil_rtp {
	uint32_t ssrc;
	uint32_t ts;
	uint16_t seq;
	uint16_t hdr_len; /* fixed header + CSRCs + extension: the AAD */
	uint8_t pt;
	bool marker;
	bool padding;
};

/* RFC 5761 section 4: second octet 192..223 is RTCP. */
bool vigil_rtp_is_rtcp(const uint8_t *pkt, size_t len);

/* Check version 2, CSRC count and extension length against len, and that
 * at least tag_len bytes follow the header. 0 or -EBADMSG. */
int vigil_rtp_parse(const uint8_t *pkt, size_t len, size_t tag_len, struct vigil_rtp *rtp);

/* After decryption: payload_len bytes follow the header; when the padding
 * bit is set the last octet counts padding octets (itself included). Returns
 * the payload length without padding, or -EBADMSG if padding is invalid. */
int vigil_rtp_strip_padding(const struct vigil_rtp *rtp, const uint8_t *payload, size_t payload_len);

#endif
