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
 * An Identity camera's key and SSRC are its handshake's and never leave
 * the node: its record holds zeros there.
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

#include "keystore.h"
#include "state.h"

#define VIGIL_CLUSTER_RECORD_LEN (4 + VIGIL_KEYSTORE_RECORD_LEN + 6)
#define VIGIL_CLUSTER_STATE_HEAD 8
#define VIGIL_CLUSTER_STATE_ENTRY (4 + VIGIL_STATE_KEY_ID_LEN + 8)

void vigil_cluster_record_encode(uint8_t out[VIGIL_CLUSTER_RECORD_LEN], const struct vigil_camera_config *cam);
/* -EINVAL for what no record holds (magic, flags, the keystore record's
 * own refusals); cam is wiped then. */
int vigil_cluster_record_decode(const uint8_t in[VIGIL_CLUSTER_RECORD_LEN], struct vigil_camera_config *cam);

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
