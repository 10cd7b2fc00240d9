/* SPDX-License-Identifier: MIT */
/* A segment in the object store is named with its start before its file's
 * name (docs/storage.md): 20261207T101530.123Z-00000042.ts. vigild names
 * them (record/playlist_text.c), vigilctl and vigil-open read either. */
#ifndef VIGIL_OBJECT_NAME_H
#define VIGIL_OBJECT_NAME_H

#include <stdbool.h>
#include <stddef.h>

#define VIGIL_OBJECT_TIME_LEN 21 /* YYYYMMDDTHHMMSS.mmmZ- */

/* How long the start before a segment's name is: VIGIL_OBJECT_TIME_LEN,
 * or 0 when it has none. */
static inline size_t vigil_object_time_len(const char *name)
{
	static const char form[] = "ddddddddTdddddd.dddZ-";

	_Static_assert(sizeof(form) - 1 == VIGIL_OBJECT_TIME_LEN, "the object time's length");
	for (size_t i = 0; i < VIGIL_OBJECT_TIME_LEN; i++)
		if (form[i] == 'd' ? name[i] < '0' || name[i] > '9' : name[i] != form[i])
			return 0;
	return VIGIL_OBJECT_TIME_LEN;
}

#endif
