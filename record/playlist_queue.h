/* SPDX-License-Identifier: MIT */
/* The playlist thread: every change to the cameras' playlists (an entry
 * appended, the oldest dropped by retention, the end), done in the order
 * posted, off the recorder threads. A playlist change is small but
 * synchronous file I/O (an open, a whole rewrite and a rename, on some
 * filesystems a discard when the rename frees the old file): done on a
 * recorder thread of 10,000 cameras, those waits made it drop frames. One
 * queue, bounded (a poster waits while it is full), one thread; a failure
 * comes back to the poster's list, to be counted on its own thread. */
#ifndef VIGIL_PLAYLIST_QUEUE_H
#define VIGIL_PLAYLIST_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "playlist.h"

enum vigil_playlist_op {
	VIGIL_PLAYLIST_APPEND, /* vigil_playlist_append */
	VIGIL_PLAYLIST_DROP,   /* vigil_playlist_drop */
	VIGIL_PLAYLIST_END,    /* vigil_playlist_end */
};

/* Where a poster hears of its failed changes: a list the playlist thread
 * pushes on and the poster takes whole (vigil_playlist_failures). */
struct vigil_playlist_failed {
	struct vigil_playlist_failure *head;
};

struct vigil_playlist_failure {
	struct vigil_playlist_failure *next;
	void *arg; /* the job's */
	int err;   /* -errno */
};

/* One change to one camera's playlist. */
struct vigil_playlist_job {
	enum vigil_playlist_op op;
	const char *dir;	       /* the camera's folder: outlives the job */
	struct vigil_playlist_entry e; /* APPEND */
	bool new_map, event;	       /* APPEND */
	unsigned target;	       /* the playlist's target duration (APPEND: before the entry) */
	uint32_t first_seq;	       /* DROP */
	void *arg;		       /* handed back with a failure */
	struct vigil_playlist_failed *failed;
};

struct vigil_playlist_queue;

/* NULL with errno set. */
struct vigil_playlist_queue *vigil_playlist_queue_create(void);
/* Does everything posted first. */
void vigil_playlist_queue_free(struct vigil_playlist_queue *q);
/* Copies j in; waits while the queue is full. */
void vigil_playlist_post(struct vigil_playlist_queue *q, const struct vigil_playlist_job *j);
/* Returns once everything posted before is done: before a playlist is read
 * or rebuilt on the caller's thread. */
void vigil_playlist_wait(struct vigil_playlist_queue *q);
/* Hands each failure on f to cb and frees it. How many. */
unsigned vigil_playlist_failures(struct vigil_playlist_failed *f, void (*cb)(void *arg, int err));

#endif
