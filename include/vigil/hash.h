/* SPDX-License-Identifier: MIT */
/* FNV-1a of a camera's name: its bucket in a table of names (the
 * uploader's cameras, the playback endpoint's live playlists). Not keyed:
 * only for tables an outsider cannot fill with names of its choosing. */
#ifndef VIGIL_HASH_H
#define VIGIL_HASH_H

#include <stdint.h>

static inline uint64_t vigil_hash_name(const char *s)
{
	uint64_t h = 0xcbf29ce484222325u;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 0x100000001b3u;
	return h;
}

#endif
