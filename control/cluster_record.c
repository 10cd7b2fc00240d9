/* SPDX-License-Identifier: MIT */
/* A cluster's records and replay states as bytes (cluster_record.h). */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "cluster_record.h"

#define RECORD_MAGIC "VGC1"
#define STATE_MAGIC "VGS1"
#define HANDSHAKE_MAGIC "VGH1"
_Static_assert(VIGIL_SRTP_MASTER_KEY_LEN == 32 && VIGIL_SRTP_MASTER_SALT_LEN == 12 &&
		       VIGIL_CLUSTER_HANDSHAKE_LEN == 110 + 64,
	       "the handshake record's layout in cluster_record.h");
#define RTX_ON 1u
#define RTX_RSIZE 2u

static void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

void vigil_cluster_record_encode(uint8_t out[VIGIL_CLUSTER_RECORD_LEN], const struct vigil_camera_config *cam)
{
	uint8_t *rtx = out + 4 + VIGIL_KEYSTORE_RECORD_LEN;

	memcpy(out, RECORD_MAGIC, 4);
	vigil_keystore_record_encode(out + 4, cam);
	put_le(rtx, cam->has_rtx ? cam->rtx_ssrc : 0, 4);
	rtx[4] = cam->has_rtx ? (uint8_t)cam->rtx_payload_type : 0;
	rtx[5] = (uint8_t)((cam->has_rtx ? RTX_ON : 0u) | (cam->has_rtx && cam->rtcp_rsize ? RTX_RSIZE : 0u));
}

int vigil_cluster_record_decode(const uint8_t in[VIGIL_CLUSTER_RECORD_LEN], struct vigil_camera_config *cam)
{
	const uint8_t *rtx = in + 4 + VIGIL_KEYSTORE_RECORD_LEN;

	if (memcmp(in, RECORD_MAGIC, 4) != 0 || vigil_keystore_record_decode(in + 4, cam) < 0 ||
	    (rtx[5] & ~(RTX_ON | RTX_RSIZE)) != 0 || (!(rtx[5] & RTX_ON) && rtx[5] != 0)) {
		sodium_memzero(cam, sizeof(*cam));
		return -EINVAL;
	}
	cam->has_rtx = rtx[5] & RTX_ON;
	cam->rtcp_rsize = (rtx[5] & RTX_RSIZE) != 0;
	cam->rtx_ssrc = (uint32_t)get_le(rtx, 4);
	cam->rtx_payload_type = rtx[4];
	return 0;
}

void vigil_cluster_handshake_encode(uint8_t out[VIGIL_CLUSTER_HANDSHAKE_LEN], const struct vigil_cluster_handshake *hs)
{
	memset(out, 0, VIGIL_CLUSTER_HANDSHAKE_LEN);
	memcpy(out, HANDSHAKE_MAGIC, 4);
	memcpy(out + 4, hs->identity, 32);
	memcpy(out + 36, hs->timestamp, VIGIL_HS_TIMESTAMP_LEN);
	put_le(out + 48, hs->ssrc, 4);
	out[52] = hs->has_rtx ? RTX_ON : 0;
	put_le(out + 53, hs->has_rtx ? hs->rtx.ssrc : 0, 4);
	out[57] = hs->has_rtx ? hs->rtx.payload_type : 0;
	memcpy(out + 58, hs->key, VIGIL_SRTP_MASTER_KEY_LEN);
	memcpy(out + 90, hs->salt, VIGIL_SRTP_MASTER_SALT_LEN);
	put_le(out + 102, hs->unix_ns, 8);
	memcpy(out + 110, hs->node, strnlen(hs->node, 63));
}

int vigil_cluster_handshake_decode(const uint8_t in[VIGIL_CLUSTER_HANDSHAKE_LEN], struct vigil_cluster_handshake *hs)
{
	memset(hs, 0, sizeof(*hs));
	if (memcmp(in, HANDSHAKE_MAGIC, 4) != 0 || (in[52] & ~RTX_ON) != 0 || in[110 + 63] != 0 ||
	    (in[52] == 0 && (get_le(in + 53, 4) != 0 || in[57] != 0)) ||
	    (in[52] != 0 && get_le(in + 53, 4) == get_le(in + 48, 4)))
		return -EINVAL;
	memcpy(hs->identity, in + 4, 32);
	memcpy(hs->timestamp, in + 36, VIGIL_HS_TIMESTAMP_LEN);
	hs->ssrc = (uint32_t)get_le(in + 48, 4);
	hs->has_rtx = in[52] != 0;
	hs->rtx.ssrc = (uint32_t)get_le(in + 53, 4);
	hs->rtx.payload_type = in[57];
	memcpy(hs->key, in + 58, VIGIL_SRTP_MASTER_KEY_LEN);
	memcpy(hs->salt, in + 90, VIGIL_SRTP_MASTER_SALT_LEN);
	hs->unix_ns = get_le(in + 102, 8);
	memcpy(hs->node, in + 110, 64);
	return 0;
}

size_t vigil_cluster_state_init(uint8_t *p)
{
	memcpy(p, STATE_MAGIC, 4);
	put_le(p + 4, 0, 4);
	return VIGIL_CLUSTER_STATE_HEAD;
}

size_t vigil_cluster_state_add(uint8_t *p, size_t len, uint32_t ssrc, const uint8_t key_id[VIGIL_STATE_KEY_ID_LEN],
			       uint64_t index)
{
	put_le(p + len, ssrc, 4);
	memcpy(p + len + 4, key_id, VIGIL_STATE_KEY_ID_LEN);
	put_le(p + len + 4 + VIGIL_STATE_KEY_ID_LEN, index, 8);
	put_le(p + 4, get_le(p + 4, 4) + 1, 4);
	return len + VIGIL_CLUSTER_STATE_ENTRY;
}

void vigil_cluster_state_find(const uint8_t *p, size_t len, uint32_t ssrc, const uint8_t key_id[VIGIL_STATE_KEY_ID_LEN],
			      uint64_t *index, bool *found)
{
	uint64_t count;

	if (len < VIGIL_CLUSTER_STATE_HEAD || memcmp(p, STATE_MAGIC, 4) != 0)
		return;
	count = get_le(p + 4, 4);
	for (uint64_t e = 0; e < count && VIGIL_CLUSTER_STATE_HEAD + (e + 1) * VIGIL_CLUSTER_STATE_ENTRY <= len; e++) {
		const uint8_t *q = p + VIGIL_CLUSTER_STATE_HEAD + e * VIGIL_CLUSTER_STATE_ENTRY;
		uint64_t at = get_le(q + 4 + VIGIL_STATE_KEY_ID_LEN, 8);

		if (get_le(q, 4) != ssrc || sodium_memcmp(q + 4, key_id, VIGIL_STATE_KEY_ID_LEN) != 0)
			continue;
		if (!*found || at > *index)
			*index = at;
		*found = true;
	}
}
