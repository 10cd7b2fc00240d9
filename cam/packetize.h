/* SPDX-License-Identifier: MIT */
/* RTP packetization of Annex-B access units, the camera's side of
 * depay.c: H.264 per RFC 6184 (single NAL unit packets and FU-A) and H.265
 * per RFC 7798 (single NAL unit packets and FU). No DPDK: a camera's
 * firmware, the load generator and the tests link it. */
#ifndef VIGIL_PACKETIZE_H
#define VIGIL_PACKETIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/config_model.h"

#define VIGIL_PACKETIZE_MAX 1500 /* largest payload asked for */

/* One RTP payload; marker: the access unit's last. */
typedef void (*vigil_packet_fn)(void *arg, const uint8_t *payload, size_t len, bool marker);

/* Calls fn for each payload of at most max_payload bytes (16 to
 * VIGIL_PACKETIZE_MAX) the access unit makes, in order. Start codes may be
 * 3 or 4 bytes. -EINVAL: no NAL unit in it, or max_payload out of range. */
int vigil_packetize(enum vigil_codec codec, const uint8_t *au, size_t len, size_t max_payload, vigil_packet_fn fn,
		    void *arg);

#endif
