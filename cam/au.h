/* SPDX-License-Identifier: MIT */
/* Access units of an Annex-B H.264/H.265 byte stream (what an encoder
 * writes, or a file of it): where each starts and whether it is a key
 * frame, so a camera can packetize and time it. */
#ifndef VIGIL_AU_H
#define VIGIL_AU_H

#include <stdbool.h>
#include <stddef.h>

#include "vigil/config_model.h"

struct vigil_au {
	size_t off, len; /* in the stream, start code included */
	bool key;        /* IDR (H.264) or IRAP (H.265) */
};

/* A new access unit starts at an AUD, at a parameter set or prefix SEI
 * after a slice, or at a slice that is the first of its picture
 * (first_mb_in_slice == 0 / first_slice_segment_in_pic_flag). Returns how
 * many access units (at most max are stored). */
unsigned vigil_au_split(enum vigil_codec codec, const uint8_t *data, size_t len, struct vigil_au *out,
			unsigned max);

#endif
