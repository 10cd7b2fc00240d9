/* SPDX-License-Identifier: MIT */
/* One camera's recordings across the nodes of a cluster as one HLS
 * playlist (`vigilctl recordings`, docs/cluster.md): each node uploads its
 * own playlist and segments under <Prefix><camera>/<node>/ (upload.c), so
 * nothing collides while two nodes write one camera during a flow move;
 * this merges the nodes' playlists by the wall-clock start of each
 * segment (#EXT-X-PROGRAM-DATE-TIME), keeps those in a time range, and
 * marks a discontinuity wherever one node's run ends and another's begins
 * or time jumps. Text in, text out: no I/O, but for finding one segment in
 * a playlist file. */
#ifndef VIGIL_TIMELINE_H
#define VIGIL_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "playlist.h"

#define VIGIL_TIMELINE_NODE_MAX 64

struct vigil_timeline_seg {
	struct vigil_playlist_entry e; /* start_ns always set */
	uint64_t listed_ns;	       /* its own #EXT-X-PROGRAM-DATE-TIME (0: none): its object's name */
	unsigned node;		       /* an index into nodes */
	const char *parts;	       /* low-latency HLS: its #EXT-X-PART lines, or NULL */
};

struct vigil_timeline {
	char (*nodes)[VIGIL_TIMELINE_NODE_MAX];
	unsigned n_nodes;
	struct vigil_timeline_seg *v;
	size_t n, cap;
};

/* A node name that is safe in a key and a URL: 1-63 of [A-Za-z0-9._-],
 * not "." or "..". */
bool vigil_timeline_node_ok(const char *node);

/* A node's playlist (len bytes of text) added: its segments, each with a
 * start (one without #EXT-X-PROGRAM-DATE-TIME starts where the one before
 * it ended; one with no start at all is left out). -EINVAL for a node
 * name that is not 1-63 of [A-Za-z0-9._-], -ENOMEM. node NULL: the one
 * folder of a camera on this host (the playback endpoint), no node in its
 * URIs. */
int vigil_timeline_add(struct vigil_timeline *t, const char *node, const char *text, size_t len);

/* vigil_timeline_add's reading of one playlist, a line (no newline) at a
 * time: true when the line ends a segment with a start, *out then (its
 * node 0). Zeroed to begin; r.ended tells #EXT-X-ENDLIST was read. */
struct vigil_timeline_reader {
	struct vigil_playlist_reader r;
	uint64_t next; /* where the segment before ended */
};
bool vigil_timeline_line(struct vigil_timeline_reader *tr, const char *line, struct vigil_timeline_seg *out);

/* The playlist of the segments that overlap [from_ns, to_ns) (0: no
 * bound), in time order: a VOD playlist (#EXT-X-ENDLIST), each segment's
 * URI base + node + "/" + its object's name (vigil_segment_object_name) +
 * query, or its file's name + query for a camera's own folder (query "" or
 * "?token=..."), its start as
 * #EXT-X-PROGRAM-DATE-TIME, #EXT-X-DISCONTINUITY before a segment from
 * another node than the one before it, one its node's playlist marked, or
 * one that does not start within 0.5 s of the end of the one before it.
 * live != 0: a live playlist instead, of the last `live` of those
 * segments, its media sequence the first one's number, no #EXT-X-ENDLIST.
 * malloc'd, NUL-terminated; *segments: how many it lists. NULL: out of
 * memory. */
char *vigil_timeline_playlist(struct vigil_timeline *t, uint64_t from_ns, uint64_t to_ns, const char *base,
			      const char *query, unsigned live, unsigned *segments);

void vigil_timeline_free(struct vigil_timeline *t);

/* Segment seq's entry in the playlist file fd (its start, duration, kind
 * and name; not its init segment) found by bisection: a playlist lists
 * its segments in the order of their numbers (the recorder appends them in
 * order, retention drops the oldest), so this reads a few windows of 64 KiB
 * whatever its length. 0; -ENOENT: not listed; -errno. *bytes: how many it
 * read. */
int vigil_timeline_find(int fd, uint32_t seq, struct vigil_timeline_seg *out, uint64_t *bytes);

#endif
