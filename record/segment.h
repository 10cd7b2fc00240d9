/* SPDX-License-Identifier: MIT */
/* One camera's recording, as a recorder thread drives it: its segments'
 * life (open, write, cut, close, durable, in segment.c), its retention
 * (retain.c), its setup, settings and chain state (camera.c). A camera
 * writes with the writer it is given and knows nothing of the thread that
 * owns it; only that thread calls in, so nothing here is locked. */
#ifndef VIGIL_SEGMENT_H
#define VIGIL_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/config_model.h"
#include "vigil/frame.h"
#include "playlist_queue.h"
#include "seal.h"
#include "stats.h"
#include "upload.h"
#include "writer.h"
#include "live.h"

/* What every camera's segments are made with: the same for all, fixed
 * once the recorder is created. */
struct vigil_segments_conf {
	int64_t seg_ticks;
	uint64_t max_unsynced_ns; /* 0: segments are synced at close only */
	char record_dir[4096];
	enum vigil_format format;
	char state_dir[4096];		   /* "": no chain state kept */
	int chain_dirfd;		   /* StateDir/chain, fsync'd after each state rename; -1: none */
	uint8_t run[VIGIL_SEAL_RUN_BYTES]; /* this run's id, in every sealed segment */
	struct vigil_uploader *up;	   /* [Storage]; NULL: none */
	struct vigil_live *live;	   /* PlaybackListen with fMP4: live parts; NULL: none */
};

/* A segment that became durable, told to whoever listens (the control
 * plane's events, through the recorder's ring): fixed size, no pointer. */
struct vigil_segment_closed {
	char camera[VIGIL_CAMERA_NAME_MAX + 1];
	uint8_t kind; /* enum vigil_seg_kind */
	uint32_t seq; /* NNNNNNNN of its name */
	uint64_t bytes;
	double seconds; /* camera clock */
};

/* What cameras write with: one per recorder thread, shared by its cameras. */
struct vigil_segments_out {
	struct vigil_writer *w;
	int first_err; /* -errno of the first error of any of them */
	/* Told of each durable segment, in order, never waiting; NULL: none. */
	void (*closed)(void *arg, const struct vigil_segment_closed *sc);
	void *closed_arg;
	/* The recorder's playlist thread, and where it tells of this
	 * thread's cameras' failed playlist changes. */
	struct vigil_playlist_queue *playlists;
	struct vigil_playlist_failed playlist_failed;
};

/* A camera's settings as the recorder uses them. The control plane makes
 * a copy (vigil_segments_settings_of) and hands it over whole through the
 * camera's slot; the camera takes it where a segment begins and reads
 * nothing else, so no setting is ever read while it is being written. */
struct vigil_segments_settings {
	char name[VIGIL_CAMERA_NAME_MAX + 1];
	enum vigil_codec codec;
	uint64_t retain_ns, retain_bytes; /* 0: no limit */
	bool sealed;			  /* segments are sealed to owner_key */
	uint8_t owner_key[VIGIL_SEAL_KEY_BYTES];
};

struct vigil_segments;

/* A copy of cam's settings, or NULL (no memory). */
struct vigil_segments_settings *vigil_segments_settings_of(const struct vigil_camera_config *cam);

/* Settings handed over through the slot since the last call, or NULL;
 * the caller's now. Whoever swaps a pointer out of the slot owns what it
 * pointed to; the control plane swaps its copy in with a release. */
static inline struct vigil_segments_settings *
vigil_segments_settings_take(struct vigil_segments_settings **handed)
{
	if (__atomic_load_n(handed, __ATOMIC_RELAXED) == NULL)
		return NULL;
	return __atomic_exchange_n(handed, NULL, __ATOMIC_ACQUIRE);
}

/* Sets a camera up with a copy of s: RecordDir/<camera>/ made, what a
 * crash left there recovered, its sealed chain picked up, retention
 * applied. Later settings come through handed (its slot). It writes with
 * out, and conf must outlive it. NULL with errno set, having said why on
 * stderr. */
struct vigil_segments *vigil_segments_create(const struct vigil_segments_conf *conf,
					     struct vigil_segments_out *out,
					     struct vigil_segments_settings **handed,
					     const struct vigil_segments_settings *s);
/* vigil_segments_create in two steps. The first, up to the chain state,
 * touches only the filesystem and the camera: cameras are recovered on
 * several threads at once (recorder.c). The second, on the thread of its
 * writer (out), frees c on failure. */
struct vigil_segments *vigil_segments_recover(const struct vigil_segments_conf *conf,
					      struct vigil_segments_out *out,
					      struct vigil_segments_settings **handed,
					      const struct vigil_segments_settings *s);
int vigil_segments_start(struct vigil_segments *c);
void vigil_segments_free(struct vigil_segments *c);

/* Mux one access unit (Annex-B, len bytes; 0: lost, counted dropped) into
 * the open segment, cutting it first at a key frame past segment_seconds. */
void vigil_segments_write(struct vigil_segments *c, const struct vigil_frame *f, const uint8_t *data,
			  size_t len);

/* MaxUnsyncedSeconds: the open segment's appended bytes fdatasync'd if
 * they have waited that long. */
void vigil_segments_sync(struct vigil_segments *c, uint64_t now);

/* Settings handed over are taken (a changed retention, for a camera gone
 * quiet), then RetainHours and RetainBytes applied; now: wall clock;
 * force: even within VIGIL_RETAIN_PASS_SECONDS of the last pass. */
void vigil_segments_retain(struct vigil_segments *c, uint64_t now, bool force);

/* Stopping, in three steps with the writer drained after each of the
 * first two: the open segment closed (last write, fsync, rename); the
 * chain state saying how the last sealed segment ended; the playlist
 * ended. */
void vigil_segments_close(struct vigil_segments *c);
void vigil_segments_chain_close(struct vigil_segments *c);
void vigil_segments_end(struct vigil_segments *c);

/* The playlist changes out's cameras posted that failed, counted to each
 * (on out's thread). How many. */
unsigned vigil_segments_playlist_failures(struct vigil_segments_out *out);

/* Safe to read from another thread while running (plain 64-bit reads). */
const struct vigil_recorder_stats *vigil_segments_stats(const struct vigil_segments *c);

#endif
