/* SPDX-License-Identifier: MIT */
/* A vigil playlist as text (playlist.h): segment file names, the time
 * format of #EXT-X-PROGRAM-DATE-TIME, and the reading of a playlist line
 * by line. No file and no library beyond libc: the recorder's recovery
 * and vigilctl's timeline across nodes (timeline.c) read playlists alike. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "playlist.h"
#include "vigil/object_name.h"

#define MAP_TAG "#EXT-X-MAP:URI=\"init-" /* then the init segment's number */

const char *const vigil_seg_suffix[VIGIL_SEG_KINDS] = {
    [VIGIL_SEG_TS] = ".ts",
    [VIGIL_SEG_SEALED] = ".ts.sealed",
    [VIGIL_SEG_M4S] = ".m4s",
};

/* NNNNNNNN followed by exactly suffix. */
static bool seq_of(const char *name, const char *suffix, uint32_t *seq)
{
	for (int i = 0; i < 8; i++)
		if (name[i] < '0' || name[i] > '9')
			return false;
	if (strcmp(name + 8, suffix) != 0)
		return false;
	*seq = (uint32_t)strtoul(name, NULL, 10);
	return true;
}

bool vigil_segment_file(const char *name, bool then_partial, uint32_t *seq, enum vigil_seg_kind *kind)
{
	char suffix[32];

	for (unsigned k = 0; k < VIGIL_SEG_KINDS; k++) {
		snprintf(suffix, sizeof(suffix), "%s%s", vigil_seg_suffix[k], then_partial ? ".partial" : "");
		if (seq_of(name, suffix, seq)) {
			*kind = (enum vigil_seg_kind)k;
			return true;
		}
	}
	return false;
}

bool vigil_segment_name(const char *name, uint32_t *seq, enum vigil_seg_kind *kind)
{
	return vigil_segment_file(name, false, seq, kind);
}

void vigil_segment_object_name(char *buf, size_t len, uint32_t seq, enum vigil_seg_kind kind, uint64_t start_ns)
{
	time_t s = (time_t)(start_ns / 1000000000u);
	struct tm tm;
	size_t n = 0;

	if (start_ns != 0 && gmtime_r(&s, &tm) != NULL && (n = strftime(buf, len, "%Y%m%dT%H%M%S", &tm)) > 0)
		n += (size_t)snprintf(buf + n, len - n, ".%03uZ-", (unsigned)(start_ns / 1000000u % 1000u));
	if (n < len)
		snprintf(buf + n, len - n, "%08" PRIu32 "%s", seq, vigil_seg_suffix[kind]);
}

bool vigil_segment_object(const char *name, uint32_t *seq, enum vigil_seg_kind *kind)
{
	return vigil_segment_file(name + vigil_object_time_len(name), false, seq, kind);
}

bool vigil_init_name(const char *name, uint32_t *seq)
{
	return strncmp(name, "init-", 5) == 0 && seq_of(name + 5, ".mp4", seq);
}

/* Whole seconds, rounded up. */
static unsigned target_for(double seconds)
{
	unsigned t = (unsigned)seconds;

	return t + (seconds > t);
}

unsigned vigil_playlist_target(unsigned target, double seconds)
{
	return target_for(seconds) > target ? target_for(seconds) : target;
}

void vigil_playlist_time_fmt(char *buf, size_t len, uint64_t ns)
{
	time_t s = (time_t)(ns / 1000000000u);
	struct tm tm;
	size_t n;

	gmtime_r(&s, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03uZ", (unsigned)(ns / 1000000u % 1000u));
}

uint64_t vigil_playlist_time_parse(const char *s)
{
	struct tm tm = {0};
	const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	unsigned ms = 0;

	if (rest == NULL)
		return 0;
	/* ".5" is 500 ms: the first three digits, as many as there are */
	if (*rest == '.')
		for (unsigned i = 1, scale = 100; i <= 3 && rest[i] >= '0' && rest[i] <= '9'; i++, scale /= 10)
			ms += (unsigned)(rest[i] - '0') * scale;
	return (uint64_t)timegm(&tm) * 1000000000u + ms * 1000000u;
}

uint64_t vigil_time_arg(const char *s, bool *ok)
{
	char *end;
	unsigned long long secs = strtoull(s, &end, 10);
	uint64_t ns;

	if (*s >= '0' && *s <= '9' && *end == '\0') {
		*ok = secs <= UINT64_MAX / 1000000000u; /* not one that wraps */
		return *ok ? (uint64_t)secs * 1000000000u : 0;
	}
	/* UTC only: an offset would be read as UTC. */
	*ok = strlen(s) >= 19 && strchr(s + 10, '+') == NULL && strchr(s + 10, '-') == NULL;
	ns = *ok ? vigil_playlist_time_parse(s) : 0;
	*ok = *ok && ns != 0;
	return ns;
}

bool vigil_playlist_line(struct vigil_playlist_reader *r, const char *line, struct vigil_playlist_entry *out)
{
	uint32_t seq;
	enum vigil_seg_kind kind;

	if (strncmp(line, "#EXT-X-TARGETDURATION:", 22) == 0)
		r->target = (unsigned)strtoul(line + 22, NULL, 10);
	else if (strcmp(line, "#EXT-X-DISCONTINUITY") == 0)
		r->e.discontinuity = true;
	else if (strncmp(line, "#EXT-X-PROGRAM-DATE-TIME:", 25) == 0)
		r->e.start_ns = vigil_playlist_time_parse(line + 25);
	else if (strncmp(line, "#EXTINF:", 8) == 0)
		r->e.seconds = strtod(line + 8, NULL);
	else if (strncmp(line, VIGIL_PLAYLIST_BYTES_TAG, sizeof(VIGIL_PLAYLIST_BYTES_TAG) - 1) == 0)
		r->e.bytes = strtoull(line + sizeof(VIGIL_PLAYLIST_BYTES_TAG) - 1, NULL, 10);
	else if (strncmp(line, MAP_TAG, sizeof(MAP_TAG) - 1) == 0)
		r->map = (uint32_t)strtoul(line + sizeof(MAP_TAG) - 1, NULL, 10);
	else if (strcmp(line, "#EXT-X-ENDLIST") == 0)
		r->ended = true;
	else if (line[0] != '#' && vigil_segment_object(line, &seq, &kind)) {
		/* A duration no segment has (a playlist not of ours: NaN,
		 * negative, days): the entry is left out. */
		if (!(r->e.seconds >= 0 && r->e.seconds < 86400)) {
			r->e = (struct vigil_playlist_entry){0};
			return false;
		}
		r->e.seq = seq;
		r->e.kind = kind;
		r->e.map = r->map;
		*out = r->e;
		r->e = (struct vigil_playlist_entry){0};
		return true;
	}
	return false;
}
