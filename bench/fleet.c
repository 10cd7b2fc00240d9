/* SPDX-License-Identifier: MIT */
/* The benchmarks' synthetic camera fleet (fleet.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"
#include "vigil/bytes.h"

void fleet_camera(struct vigil_camera_config *cam, unsigned c)
{
	memset(cam, 0, sizeof(*cam));
	snprintf(cam->name, sizeof(cam->name), "cam%u", c);
	/* Distinct, scattered SSRCs (an odd multiplier is a bijection), as a
	 * fleet of cameras with random SSRCs would have. */
	cam->ssrc = (uint32_t)(c * 0x85ebca6bu) ^ 0x5bd1e995u;
	cam->codec = VIGIL_CODEC_H264;
	cam->payload_types[1] = UINT64_C(1) << (96 - 64);
	for (unsigned k = 0; k < VIGIL_SRTP_MASTER_KEY_LEN; k++)
		cam->master_key[k] = (uint8_t)(c * 7 + k + 1 + (c >> 8));
	cam->master_salt[0] = (uint8_t)(c >> 16);
}

int fleet_config(struct vigil_config *cfg, unsigned n)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->cameras = calloc(n, sizeof(*cfg->cameras));
	if (cfg->cameras == NULL)
		return -1;
	cfg->n_cameras = cfg->max_cameras = n;
	cfg->workers = 1;
	cfg->max_frame_bytes = VIGIL_DEFAULT_MAX_FRAME_BYTES;
	cfg->srtp_ports[FLEET_PORT >> 3] = 1u << (FLEET_PORT & 7);
	for (unsigned c = 0; c < n; c++)
		fleet_camera(&cfg->cameras[c], c);
	return 0;
}

void fleet_wrap_from(uint8_t *b, size_t len, const uint8_t src[4], uint16_t sport, uint16_t dport)
{
	uint8_t *ip = b + 14;
	uint32_t sum = 0;

	memset(b, 0, FLEET_HDR);
	vigil_put16(b + 12, 0x0800);
	ip[0] = 0x45;
	vigil_put16(ip + 2, (unsigned)(20 + 8 + len));
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, (uint8_t[]){198, 18, 0, 1}, 4);
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	vigil_put16(ip + 10, ~sum & 0xffff);
	vigil_put16(ip + 20, sport);
	vigil_put16(ip + 22, dport);
	vigil_put16(ip + 24, (unsigned)(8 + len));
}

/* Ethernet/IPv4/UDP around an SRTP packet of len bytes, checksum right. */
static void wrap(uint8_t *b, size_t len)
{
	fleet_wrap_from(b, len, (const uint8_t[]){198, 18, 0, 2}, 40000, FLEET_PORT);
}

/* H.265: an AP with VPS, SPS and PPS, then FUs (an IDR, then TRAIL_R). */
static size_t hevc_payload(uint8_t *pl, unsigned i, unsigned frame, unsigned pos, bool last, size_t n)
{
	static const uint8_t vps[] = {0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x01, 0x60};
	static const uint8_t sps[] = {0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90};
	static const uint8_t pps[] = {0x44, 0x01, 0xc1, 0x72, 0xb4, 0x62, 0x40};
	const uint8_t *sets[] = {vps, sps, pps};
	const size_t lens[] = {sizeof(vps), sizeof(sps), sizeof(pps)};

	if (i == 0) {
		n = 0;
		pl[n++] = 48 << 1;
		pl[n++] = 0x01;
		for (unsigned k = 0; k < 3; k++) {
			vigil_put16(pl + n, (unsigned)lens[k]);
			memcpy(pl + n + 2, sets[k], lens[k]);
			n += 2 + lens[k];
		}
		return n;
	}
	memset(pl, 0x5a, n);
	pl[0] = 49 << 1;
	pl[1] = 0x01;
	pl[2] = (uint8_t)((frame == 0 ? 19 : 1) | (pos == (frame == 0) ? 0x80 : 0) | (last ? 0x40 : 0));
	pl[3] = 0x80; /* first_slice_segment_in_pic_flag */
	return n;
}

/* Packet `index` as plain RTP at rtp: its length. */
static size_t plain_packet(uint8_t *rtp, uint32_t ssrc, enum vigil_codec codec, uint64_t index, size_t payload)
{
	static const uint8_t sps[] = {0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00, 0xa0, 0x47, 0xfe, 0xc8};
	static const uint8_t pps[] = {0x68, 0xce, 0x3c, 0x80};
	uint8_t *pl = rtp + 12;
	unsigned i = (unsigned)(index % FLEET_GOP_PKTS);
	unsigned frame = i < FLEET_KEY_PKTS ? 0 : 1 + (i - FLEET_KEY_PKTS) / FLEET_P_PKTS;
	unsigned pos = i < FLEET_KEY_PKTS ? i : (i - FLEET_KEY_PKTS) % FLEET_P_PKTS;
	bool last = fleet_ends_frame(index);
	uint64_t frames = fleet_frame_of(index);
	size_t n = payload;

	rtp[0] = 0x80;
	rtp[1] = (uint8_t)(96 | (last ? 0x80 : 0));
	vigil_put16(rtp + 2, (unsigned)(index & 0xffff));
	vigil_put32(rtp + 4, (uint32_t)(frames * FLEET_TS_PER_FRAME));
	vigil_put32(rtp + 8, ssrc);
	if (codec == VIGIL_CODEC_H265) {
		n = hevc_payload(pl, i, frame, pos, last, n);
	} else if (i == 0) {
		n = 0;
		pl[n++] = 24;
		vigil_put16(pl + n, sizeof(sps));
		memcpy(pl + n + 2, sps, sizeof(sps));
		n += 2 + sizeof(sps);
		vigil_put16(pl + n, sizeof(pps));
		memcpy(pl + n + 2, pps, sizeof(pps));
		n += 2 + sizeof(pps);
	} else {
		memset(pl, 0x5a, n);
		pl[0] = 0x60 | 28;
		pl[1] = (uint8_t)((frame == 0 ? 5 : 1) | (pos == (frame == 0) ? 0x80 : 0) | (last ? 0x40 : 0));
		pl[2] = 0x88; /* first_mb_in_slice 0: a picture's first slice */
	}
	return 12 + n;
}

size_t fleet_packet(uint8_t *b, const struct vigil_srtp *srtp, uint32_t ssrc, enum vigil_codec codec,
		    uint64_t index, size_t payload)
{
	uint8_t *rtp = b + FLEET_HDR;
	int len = vigil_srtp_encrypt(srtp, rtp, plain_packet(rtp, ssrc, codec, index, payload), 12, ssrc,
				     (uint32_t)(index >> 16), (uint16_t)index);

	if (len < 0)
		abort();
	wrap(b, (size_t)len);
	return FLEET_HDR + (size_t)len;
}

size_t fleet_rtx_packet(uint8_t *b, const struct vigil_srtp *srtp, uint32_t ssrc, enum vigil_codec codec,
			uint64_t index, size_t payload, uint32_t rtx_ssrc, uint8_t rtx_pt, uint64_t rtx_index)
{
	uint8_t *rtp = b + FLEET_HDR;
	size_t n = plain_packet(rtp, ssrc, codec, index, payload);
	int len;

	/* RFC 4588 section 4: the original sequence number, then its payload. */
	memmove(rtp + 14, rtp + 12, n - 12);
	rtp[1] = (uint8_t)((rtp[1] & 0x80) | rtx_pt);
	vigil_put16(rtp + 12, (unsigned)(index & 0xffff));
	vigil_put16(rtp + 2, (unsigned)(rtx_index & 0xffff));
	vigil_put32(rtp + 8, rtx_ssrc);
	len = vigil_srtp_encrypt(srtp, rtp, n + 2, 12, rtx_ssrc, (uint32_t)(rtx_index >> 16), (uint16_t)rtx_index);
	if (len < 0)
		abort();
	wrap(b, (size_t)len);
	return FLEET_HDR + (size_t)len;
}
