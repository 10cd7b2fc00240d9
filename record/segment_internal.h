/* SPDX-License-Identifier: MIT */
/* Inside one camera's recording: the state its files (segment.c,
 * retain.c, camera.c) share, and what they call of each other. Only they
 * include it; the recorder threads see segment.h. */
#ifndef VIGIL_SEGMENT_INTERNAL_H
#define VIGIL_SEGMENT_INTERNAL_H

#include "vigil/limits.h"
#include "chain.h"
#include "mux.h"
#include "playlist.h"
#include "segment.h"

#define SEG_NOMINAL_FRAME_TICKS 3000 /* 30 fps: only spaces the first decode times */
#define SEG_PENDING 16		     /* segments of one camera between close and durable */
#define SEG_REUSE 32 /* removed segments' files kept for the next ones: a retention pass's worth */

/* A closed segment waiting for its fsync and rename, so that the playlist
 * only ever names durable segments, in order. */
struct seg_pending {
	struct vigil_playlist_entry e;
	uint64_t frames; /* what its failure takes from frames_recorded */
	uint64_t bytes;
	bool durable, failed;
};

/* A durable segment on disk, for retention. */
struct seg_kept {
	uint32_t seq;
	enum vigil_seg_kind kind;
	uint64_t bytes;
	uint64_t start_ns, end_ns; /* wall clock; start_ns names its object (vigil_segment_object_name) */
};

struct vigil_segments {
	const struct vigil_segments_conf *conf;
	struct vigil_segments_out *out;		 /* what it writes with */
	struct vigil_segments_settings **handed; /* its slot: settings handed over, not taken yet */
	struct vigil_segments_settings set;	 /* what its next segment is made with */
	struct vigil_mux *mux;
	enum vigil_seg_kind kind; /* of the open (or last) segment */
	uint32_t map;		  /* fMP4: the init segment of the segments being made */
	uint32_t listed_map;	  /* ... of the last one in the playlist */
	uint8_t *init;		  /* fMP4: a new init segment, until it is written */
	size_t init_len;
	struct vigil_seal *seal;  /* the open segment's sealing */
	struct vigil_wfile *file; /* the open segment, or NULL */
	uint32_t seq;		  /* number of the next segment */
	bool started;		  /* a frame has been seen */
	uint32_t last_raw;	  /* RTP timestamp of the last frame */
	int64_t ext;		  /* ... unwrapped, relative to the first */
	/* Decode timestamps: the last VIGIL_REORDER_MAX + 1 pts in order. */
	int64_t pts_window[VIGIL_REORDER_MAX + 1];
	int64_t last_dts;
	int64_t seg_start;	 /* pts of the open segment's first frame */
	uint64_t seg_arrival_ns; /* wall clock when that frame arrived */
	uint64_t seg_frames;	 /* frames muxed into the open segment */
	uint64_t seg_bytes;	 /* bytes written for it */
	/* Retention: the durable segments, oldest first (from segs_head). */
	struct seg_kept *segs;
	unsigned segs_head, n_segs, segs_cap;
	uint64_t disk_bytes;
	uint64_t next_expire_ns; /* no retention pass before (wall clock) */
	/* Files of segments retention removed, each emptied and renamed for
	 * a next segment (vigil_wfile_open's reuse); those none took by the
	 * next pass, or at a clean stop, are removed then. Oldest first. */
	struct {
		uint32_t seq;
		enum vigil_seg_kind kind;
	} reuse[SEG_REUSE];
	unsigned reuse_head, n_reuse;
	bool stopping; /* vigil_segments_close: no next segment to reuse a file */
	int64_t last_pts;			 /* of the last frame written */
	int64_t frame_ticks;			 /* between the last two frames: the last one's duration */
	struct seg_pending pending[SEG_PENDING]; /* FIFO, oldest at pending_head */
	unsigned pending_head, n_pending;
	bool discontinuity; /* the next playlist entry does not continue the last */
	unsigned target;    /* the playlist's target duration */
	bool ended;	    /* the playlist has its #EXT-X-ENDLIST */
	bool unsynced;	    /* bytes appended to the open segment since its last sync */
	uint8_t *placed;    /* MPEG-TS: where the muxer writes, in the file's staging buffer */
	uint64_t synced_ns; /* when it was last synced (opened) */
	unsigned logged;    /* causes already logged, one bit each */
	/* The chain of its sealed segments (docs/sealed-segments.md). */
	struct vigil_seal_link link;		/* what its next sealed segment binds */
	uint8_t head_tag[VIGIL_SEAL_TAG_BYTES]; /* the open sealed segment's */
	bool chain_moved;			/* sealed segments were begun this run */
	/* Its chain state in StateDir, one write in flight at a time; a
	 * sealed segment is created only once the state naming it is durable
	 * (or could not be made so): until then it is held. */
	bool state_busy, state_want;
	uint32_t state_seq;	 /* what the write in flight covers */
	uint32_t state_next_seq; /* ... and the one that waits */
	char state_next[VIGIL_CHAIN_FILE_MAX];
	size_t state_next_len;
	struct {
		struct vigil_wfile *f;
		uint32_t seq;
	} held[SEG_PENDING];
	unsigned n_held;
	/* Low-latency HLS (live.h): the open segment's slot while it is
	 * watched (else -1), where its part began, whether at a key frame. */
	int live_slot;
	int64_t part_start;
	bool part_key;
	struct vigil_recorder_stats st;
};

/* segment.c: an error counted (write_errors too, but for mux) and logged
 * once per cause; the writer's reports on a segment or a removal; the
 * muxer's output (its segments, and fMP4's init segment); a playlist
 * change posted. */
void vigil_segments_error(struct vigil_segments *c, unsigned cause, int err, const char *what);
void vigil_segments_io(void *arg, const struct vigil_wio *io);
void vigil_segments_muxed(void *arg, const uint8_t *data, size_t len);
void vigil_segments_init_out(void *arg, const uint8_t *data, size_t len);
/* A change to c's playlist (j's op and what it needs), handed to the
 * playlist thread: dir, target and where a failure goes filled in. */
void vigil_segments_list(struct vigil_segments *c, struct vigil_playlist_job *j);

/* retain.c: whether retention is on; a durable segment counted in; the
 * oldest removed while over RetainHours, RetainBytes (batched: at most a
 * pass every VIGIL_RETAIN_PASS_SECONDS unless forced); those the playlist
 * lists counted in (retention turned on). */
bool vigil_segments_retaining(const struct vigil_segments *c);
void vigil_segments_keep(struct vigil_segments *c, const struct vigil_playlist_entry *e, uint64_t bytes);
void vigil_segments_expire(struct vigil_segments *c, uint64_t now, bool force);
void vigil_segments_load(struct vigil_segments *c);
/* The oldest removed segment's file kept for reuse, its path in path;
 * false when none is. */
bool vigil_segments_reuse(struct vigil_segments *c, char *path, size_t len);

/* camera.c: settings handed over taken (where a segment begins, and in
 * the retention scan); the chain state to write next. */
void vigil_segments_settle(struct vigil_segments *c);
void vigil_segments_state_put(struct vigil_segments *c, enum vigil_chain_state state, uint32_t seq,
			      const uint8_t tag[VIGIL_SEAL_TAG_BYTES]);

#endif
