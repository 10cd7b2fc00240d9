/* SPDX-License-Identifier: MIT */
/* What a cluster keeps in etcd, as bytes before sealing (etcd.h seals
 * them to their key): a camera's record, and a node's replay state.
 * Pure functions, no etcd, no thread (cluster.c uses them). Integers
 * little-endian.
 *
 * A camera's record, version 1:
 *   0  "VGC1"                4
 *   4  keystore record     208  keystore.c's layout: name, SSRC, codec,
 *                               payload types, key, salt, flags,
 *                               Identity, OwnerKey, retention
 * 212  rtx_ssrc           u32
 * 216  rtx_payload_type    u8
 * 217  rtx flags           u8  bit 0 has RtxSSRC, bit 1 RtcpReducedSize
 * An Identity camera's key and SSRC are its handshake's: its record holds
 * zeros there, and its last handshake has a record of its own.
 *
 * An Identity camera's last handshake, version 1 (what any node needs to
 * take its stream, and to refuse an initiation replayed to it):
 *   0  "VGH1"                4
 *   4  Identity             32  the camera's X25519 public key
 *  36  timestamp            12  the initiation's TAI64N
 *  48  SSRC                u32
 *  52  rtx flags            u8  bit 0: an RTX stream
 *  53  rtx_ssrc            u32
 *  57  rtx_payload_type     u8
 *  58  SRTP master key      32
 *  90  SRTP master salt     12
 * 102  when, Unix ns       u64  the node's clock when it answered
 * 110  node                 64  the node that answered, NUL-padded
 *
 * A node's replay state, version 1:
 *   0  "VGS1"               4
 *   4  count              u32
 *   8  count entries of 28 bytes: SSRC u32, key id 16 (state.h's BLAKE2b
 *      of the key), the highest SRTP index accepted u64 (ROC << 16 | SEQ) */
#ifndef VIGIL_CLUSTER_RECORD_H
#define VIGIL_CLUSTER_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "handshake.h"
#include "keystore.h"
#include "state.h"

#define VIGIL_CLUSTER_RECORD_LEN (4 + VIGIL_KEYSTORE_RECORD_LEN + 6)
#define VIGIL_CLUSTER_HANDSHAKE_LEN 174
#define VIGIL_CLUSTER_STATE_HEAD 8
#define VIGIL_CLUSTER_STATE_ENTRY (4 + VIGIL_STATE_KEY_ID_LEN + 8)

void vigil_cluster_record_encode(uint8_t out[VIGIL_CLUSTER_RECORD_LEN], const struct vigil_camera_config *cam);
/* -EINVAL for what no record holds (magic, flags, the keystore record's
 * own refusals); cam is wiped then. */
int vigil_cluster_record_decode(const uint8_t in[VIGIL_CLUSTER_RECORD_LEN], struct vigil_camera_config *cam);

struct vigil_cluster_handshake {
	uint8_t identity[32];
	uint8_t timestamp[VIGIL_HS_TIMESTAMP_LEN];
	uint32_t ssrc;
	bool has_rtx;
	struct vigil_hs_rtx rtx;
	uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN];
	uint8_t salt[VIGIL_SRTP_MASTER_SALT_LEN];
	uint64_t unix_ns;
	char node[64]; /* NUL-terminated */
};

void vigil_cluster_handshake_encode(uint8_t out[VIGIL_CLUSTER_HANDSHAKE_LEN], const struct vigil_cluster_handshake *hs);
/* -EINVAL for what no such record holds (magic, flags, an RTX SSRC that is
 * the SSRC, a node name not NUL-terminated); hs is wiped then. */
int vigil_cluster_handshake_decode(const uint8_t in[VIGIL_CLUSTER_HANDSHAKE_LEN], struct vigil_cluster_handshake *hs);

/* A state of no entry into p (VIGIL_CLUSTER_STATE_HEAD bytes): its length. */
size_t vigil_cluster_state_init(uint8_t *p);
/* One entry more at p + len (room for VIGIL_CLUSTER_STATE_ENTRY there),
 * counted in the head: the new length. */
size_t vigil_cluster_state_add(uint8_t *p, size_t len, uint32_t ssrc, const uint8_t key_id[VIGIL_STATE_KEY_ID_LEN],
			       uint64_t index);
/* The highest index of (ssrc, key_id) in the state p of len bytes, into
 * *index when it is above it or !*found; *found set then. Entries past len,
 * whatever the count says, are not read; a p that is no state finds
 * nothing. */
void vigil_cluster_state_find(const uint8_t *p, size_t len, uint32_t ssrc, const uint8_t key_id[VIGIL_STATE_KEY_ID_LEN],
			      uint64_t *index, bool *found);

#endif
