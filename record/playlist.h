/* SPDX-License-Identifier: MIT */
/* A camera's HLS media playlist, RecordDir/<camera>/index.m3u8: an EVENT
 * playlist that grows by one entry as each segment becomes durable, ends
 * with #EXT-X-ENDLIST when vigild stops cleanly, and is put right again at
 * start after a crash, together with the segments left as .partial. */
#ifndef VIGIL_PLAYLIST_H
#define VIGIL_PLAYLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIGIL_PLAYLIST_NAME "index.m3u8"

/* What a segment file is, by its name: NNNNNNNN and one of these. */
enum vigil_seg_kind {
	VIGIL_SEG_TS,     /* .ts */
	VIGIL_SEG_SEALED, /* .ts.sealed: encrypted for the camera's owner */
	VIGIL_SEG_M4S,    /* .m4s: fMP4 fragments, after the init segment init-MMMMMMMM.mp4 */
	VIGIL_SEG_KINDS,
};

extern const char *const vigil_seg_suffix[VIGIL_SEG_KINDS];

/* A segment's file name, NNNNNNNN and a suffix: its number and kind. */
bool vigil_segment_name(const char *name, uint32_t *seq, enum vigil_seg_kind *kind);
/* An fMP4 init segment's, init-MMMMMMMM.mp4: its number. */
bool vigil_init_name(const char *name, uint32_t *seq);

/* A segment's name in the object store (docs/storage.md): its start, UTC
 * to the millisecond as its #EXT-X-PROGRAM-DATE-TIME says, before the
 * file's name (20261207T101530.123Z-00000042.ts), so a camera's objects
 * list in time order and two nodes never name two segments alike; the
 * file's name alone when the start is unknown (0). */
void vigil_segment_object_name(char *buf, size_t len, uint32_t seq, enum vigil_seg_kind kind, uint64_t start_ns);
/* A segment's name on disk or in the object store: its number and kind. */
bool vigil_segment_object(const char *name, uint32_t *seq, enum vigil_seg_kind *kind);

struct vigil_playlist_entry {
	uint32_t seq;       /* NNNNNNNN of its file name */
	double seconds;     /* its duration, camera clock */
	uint64_t start_ns;  /* wall clock when its first frame arrived (0: unknown) */
	bool discontinuity; /* it does not continue the entry before it */
	enum vigil_seg_kind kind;
	uint32_t map;       /* VIGIL_SEG_M4S: MMMMMMMM of its init segment */
	uint64_t bytes;     /* its size (0: unknown): retention counts it once the file is gone (uploaded) */
};

/* A comment before an entry's #EXTINF giving its size in bytes (players
 * skip comments). */
#define VIGIL_PLAYLIST_BYTES_TAG "# vigil: bytes "

/* A segment's file name with .partial after it too (then_partial). */
bool vigil_segment_file(const char *name, bool then_partial, uint32_t *seq, enum vigil_seg_kind *kind);
/* #EXT-X-PROGRAM-DATE-TIME's format, UTC to the millisecond: ns since
 * the epoch into buf, and back (0: not a time). */
void vigil_playlist_time_fmt(char *buf, size_t len, uint64_t ns);
uint64_t vigil_playlist_time_parse(const char *s);
/* A time as typed (vigilctl --from, a playlist's ?from=): UTC as above
 * ("2026-12-07T10:00:00Z", milliseconds allowed, no offset) or seconds
 * since the epoch: ns; 0 with *ok false when it is neither. */
uint64_t vigil_time_arg(const char *s, bool *ok);
/* Reads a playlist one line at a time (no newline): true when the line
 * is a segment's, its entry (with the tags before it) into *out. */
struct vigil_playlist_reader {
	struct vigil_playlist_entry e; /* the entry being read */
	uint32_t map;		       /* the last #EXT-X-MAP's init segment */
	unsigned target;	       /* #EXT-X-TARGETDURATION, 0: none yet */
	bool ended;		       /* #EXT-X-ENDLIST */
};
bool vigil_playlist_line(struct vigil_playlist_reader *r, const char *line, struct vigil_playlist_entry *out);


/* What vigil_playlist_recover found in a camera's directory. */
struct vigil_recovery {
	struct vigil_playlist_entry *list; /* the playlist's entries, in order (free() it) */
	uint32_t next_seq;    /* the number after the highest segment */
	unsigned entries;     /* segments the playlist lists */
	unsigned recovered;   /* .partial segments cut to whole TS packets and kept */
	unsigned discarded;   /* .partial segments too short to keep, removed */
	unsigned target;      /* the playlist's #EXT-X-TARGETDURATION */
};

/* At start: every NNNNNNNN.ts.partial is cut to its last whole 188-byte TS
 * packet, less its last frame (cut short, most likely), fsync'd and renamed
 * to NNNNNNNN.ts (a sealed one, .ts.sealed, to
 * its last whole chunk: it opens with vigil-open --partial); then the
 * playlist is written
 * anew (temporary file, fsync, rename) from its own complete entries whose
 * segments exist plus every segment on disk it does not list (duration
 * probed with libavformat), in order, without #EXT-X-ENDLIST, with a comment
 * naming the segment the new run starts at (its discontinuity is then
 * known after a crash that took the unsynced entries). min_target is
 * the smallest #EXT-X-TARGETDURATION to write. An EVENT playlist only
 * grows; without event it may lose its oldest entries (retention).
 * Entries below remote_below whose segments are not on disk are kept:
 * they are in the object store, and next_seq is at least remote_below.
 * 0 or
 * -errno; err says what failed. */
int vigil_playlist_recover(const char *dir, unsigned min_target, bool event, uint32_t remote_below,
			   struct vigil_recovery *out, char *err, size_t errlen);

/* One more durable segment; new_map: its init segment is not the one of
 * the entry before it. A segment longer than the playlist's target
 * duration makes it rewrite the playlist with a larger one (*target). */
int vigil_playlist_append(const char *dir, const struct vigil_playlist_entry *e, bool new_map, unsigned *target,
			  bool event);

/* The playlist's target duration once a segment of that many seconds is
 * listed (what vigil_playlist_append makes of *target). */
unsigned vigil_playlist_target(unsigned target, double seconds);

/* The complete entries of the playlist as it is on disk, in its order
 * (*list: free() it; none when there is no playlist). 0 or -errno. */
int vigil_playlist_read(const char *dir, struct vigil_playlist_entry **list, unsigned *n);

/* Segments before first_seq are gone: the playlist starts at first_seq. */
int vigil_playlist_drop(const char *dir, uint32_t first_seq, unsigned target);

/* vigild stops cleanly: no more segments. #EXT-X-ENDLIST appended, the
 * playlist synced and its name too (its folder). */
int vigil_playlist_end(const char *dir);

/* The same without the syncs, for a caller that runs them at once for
 * many cameras: fds[0] the playlist and fds[1] its folder, open, to be
 * synced (fdatasync, fsync) then closed by the caller; both -1 when the
 * camera has no playlist. 0 or -errno (then nothing is left open). */
int vigil_playlist_end_open(const char *dir, int fds[2]);

/* fsync of the folder that holds path: what makes a name made in it (a
 * camera's folder, a segment) durable. 0 or -errno. */
int vigil_sync_parent_dir(const char *path);

#endif
