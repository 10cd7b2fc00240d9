/* SPDX-License-Identifier: MIT */
/* The recorder: per camera a muxer, a segment sequence, its playlist and
 * counters. Recorder threads (Recorders) each own a share of the cameras,
 * their own io_uring writer and a frame ring from every worker, so no
 * state is shared between them. Segments are cut at key frames and handed
 * to the writer (writer.c) to make durable; each is listed in the playlist
 * (playlist.c) once it is. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_ring.h>
#include <sodium.h>

#include "vigil/clock.h"
#include "vigil/limits.h"
#include "chain.h"
#include "mux.h"
#include "playlist.h"
#include "recorder.h"
#include "seal.h"
#include "writer.h"

#define REC_IDLE_US 200
#define REC_NOMINAL_FRAME_TICKS 3000 /* 30 fps: only spaces the first decode times */
#define REC_CAUSE_MUX VIGIL_WCAUSE_MAX /* logged like the writer's causes */
#define REC_CAUSE_TS (VIGIL_WCAUSE_MAX + 1)
#define REC_CAUSE_PLAYLIST (VIGIL_WCAUSE_MAX + 2)
#define REC_CAUSE_SEAL (VIGIL_WCAUSE_MAX + 3)
#define REC_CAUSE_STATE (VIGIL_WCAUSE_MAX + 4) /* the sealed segments' chain state in StateDir */
#define REC_PENDING 16 /* segments of one camera between close and durable */

static const char *const rec_cause_names[] = {
    [VIGIL_WCAUSE_OPEN] = "open",     [VIGIL_WCAUSE_WRITE] = "write",	 [VIGIL_WCAUSE_FSYNC] = "fsync",
    [VIGIL_WCAUSE_RENAME] = "rename", [VIGIL_WCAUSE_UNLINK] = "unlink",	 [REC_CAUSE_MUX] = "mux",
    [REC_CAUSE_TS] = "timestamps",    [REC_CAUSE_PLAYLIST] = "playlist", [REC_CAUSE_SEAL] = "seal",
    [REC_CAUSE_STATE] = "state",
};

/* A closed segment waiting for its fsync and rename, so that the playlist
 * only ever names durable segments, in order. */
struct rec_pending {
	struct vigil_playlist_entry e;
	uint64_t frames; /* what its failure takes from frames_recorded */
	uint64_t bytes;
	bool durable, failed;
};

/* A durable segment on disk, for retention. */
struct rec_seg {
	uint32_t seq;
	enum vigil_seg_kind kind;
	uint64_t bytes;
	uint64_t end_ns; /* wall clock */
};

/* A camera's settings as the recorder uses them. The control plane makes
 * a copy (vigil_recorder_configure) and hands it over whole; the recorder
 * thread takes it and reads nothing else, so no setting is ever read while
 * it is being written. */
struct rec_settings {
	char name[VIGIL_CAMERA_NAME_MAX + 1];
	enum vigil_codec codec;
	uint64_t retain_ns, retain_bytes; /* 0: no limit */
	bool sealed;			  /* segments are sealed to owner_key */
	uint8_t owner_key[VIGIL_SEAL_KEY_BYTES];
};

struct rec_cam {
	struct vigil_recorder *rec;
	struct rec_shard *sh; /* the recorder thread that owns it */
	unsigned slot;
	struct rec_settings set; /* what its next segment is made with */
	struct vigil_mux *mux;
	enum vigil_seg_kind kind; /* of the open (or last) segment */
	uint32_t map;             /* fMP4: the init segment of the segments being made */
	uint32_t listed_map;      /* ... of the last one in the playlist */
	uint8_t *init;            /* fMP4: a new init segment, until it is written */
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
	int64_t seg_start; /* pts of the open segment's first frame */
	uint64_t seg_arrival_ns; /* wall clock when that frame arrived */
	uint64_t seg_frames; /* frames muxed into the open segment */
	uint64_t seg_bytes;  /* bytes written for it */
	/* Retention: the durable segments, oldest first (from segs_head). */
	struct rec_seg *segs;
	unsigned segs_head, n_segs, segs_cap;
	uint64_t disk_bytes;
	int64_t last_pts;  /* of the last frame written */
	int64_t frame_ticks; /* between the last two frames: the last one's duration */
	struct rec_pending pending[REC_PENDING]; /* FIFO, oldest at pending_head */
	unsigned pending_head, n_pending;
	bool discontinuity; /* the next playlist entry does not continue the last */
	unsigned target;    /* the playlist's target duration */
	bool ended;         /* the playlist has its #EXT-X-ENDLIST */
	bool unsynced;      /* bytes appended to the open segment since its last sync */
	uint64_t synced_ns; /* when it was last synced (opened) */
	unsigned logged;   /* causes already logged, one bit each */
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
	} held[REC_PENDING];
	unsigned n_held;
	struct vigil_recorder_stats st;
};

/* A recorder thread and what it alone touches: the cameras whose slot
 * vigil_frame_recorder gives it, its writer, its ring from each worker. */
struct rec_shard {
	struct vigil_recorder *rec;
	unsigned id;
	uint8_t *gather; /* a frame whose mbufs are chained, made contiguous for the muxer */
	size_t gather_cap;
	struct vigil_writer *w;
	uint64_t next_sync_scan_ns;
	uint64_t next_retain_scan_ns;
	struct vigil_frame_ring *rings[VIGIL_MAX_WORKERS];
	unsigned n_rings;
	pthread_t thread;
	int first_err;
};

struct vigil_recorder {
	int64_t seg_ticks;
	uint64_t max_unsynced_ns; /* 0: segments are synced at close only */
	char record_dir[4096];
	enum vigil_format format;
	char state_dir[4096];		   /* "": no chain state kept */
	int chain_dirfd;		   /* StateDir/chain, fsync'd after each state rename; -1: none */
	uint8_t run[VIGIL_SEAL_RUN_BYTES]; /* this run's id, in every sealed segment */
	unsigned n_cams;               /* slots: cameras may be added while running */
	struct rec_cam **cams;         /* set up at a camera's first frame */
	/* Per slot: settings handed over and not taken yet. Whoever swaps a
	 * pointer out of it owns what it pointed to. */
	struct rec_settings **handed;
	struct rec_shard *shards;
	unsigned n_shards;
	bool running;
	bool stop; /* set by vigil_recorder_stop, read by the threads */
};

static struct rec_shard *shard_of(struct vigil_recorder *rec, uint32_t camera)
{
	return &rec->shards[vigil_frame_recorder(camera, rec->n_shards)];
}

static void cam_log(struct rec_cam *c, unsigned cause, int err, const char *what)
{
	if (c->logged & (1u << cause))
		return;
	c->logged |= 1u << cause;
	if (cause == REC_CAUSE_TS)
		fprintf(stderr, "vigil: recorder: camera %s: %s\n", c->set.name, what);
	else
		fprintf(stderr, "vigil: recorder: camera %s: %s %s: %s (further %s errors not shown)\n",
			c->set.name, rec_cause_names[cause], what, strerror(-err), rec_cause_names[cause]);
}

_Static_assert(REC_CAUSE_STATE < VIGIL_REC_CAUSES, "room for every cause in the stats");

const char *vigil_recorder_cause_name(unsigned cause)
{
	return cause < RTE_DIM(rec_cause_names) ? rec_cause_names[cause] : NULL;
}

static void cam_error(struct rec_cam *c, unsigned cause, int err, const char *what)
{
	if (cause != REC_CAUSE_MUX)
		c->st.write_errors++;
	c->st.errors[cause]++;
	if (c->sh->first_err == 0)
		c->sh->first_err = err;
	cam_log(c, cause, err, what);
}

uint64_t vigil_latency_quantile(const uint64_t buckets[VIGIL_LATENCY_BUCKETS], double share)
{
	uint64_t total = 0, seen = 0;

	for (unsigned k = 0; k < VIGIL_LATENCY_BUCKETS; k++)
		total += buckets[k];
	for (unsigned k = 0; k < VIGIL_LATENCY_BUCKETS && total > 0; k++) {
		seen += buckets[k];
		if ((double)seen >= share * (double)total)
			return UINT64_C(1) << k;
	}
	return 0;
}

static bool retaining(const struct rec_cam *c)
{
	return c->set.retain_ns != 0 || c->set.retain_bytes != 0;
}

static void segs_push(struct rec_cam *c, const struct vigil_playlist_entry *e, uint64_t bytes)
{
	if (!retaining(c))
		return;
	if (c->segs_head > 0 && c->segs_head + c->n_segs == c->segs_cap) {
		memmove(c->segs, c->segs + c->segs_head, c->n_segs * sizeof(*c->segs));
		c->segs_head = 0;
	}
	if (c->n_segs == c->segs_cap) {
		unsigned cap = c->segs_cap ? 2 * c->segs_cap : 64;
		struct rec_seg *v = realloc(c->segs, cap * sizeof(*v));

		if (v == NULL)
			return; /* then this one is never removed: kept, not lost */
		c->segs = v;
		c->segs_cap = cap;
	}
	c->segs[c->segs_head + c->n_segs++] = (struct rec_seg){
	    .seq = e->seq,
	    .kind = e->kind,
	    .bytes = bytes,
	    .end_ns = e->start_ns + (uint64_t)(e->seconds * 1e9),
	};
	c->disk_bytes += bytes;
}

static void cam_io(void *arg, const struct vigil_wio *io);

/* RetainHours, RetainBytes: the oldest segments go, through the ring,
 * then the playlist starts after them. The newest one always stays. */
static void retain(struct rec_cam *c, uint64_t now)
{
	char path[sizeof(((struct vigil_recorder_stats *)0)->dir) + 32];
	unsigned removed = 0;

	while (c->n_segs > 1) {
		struct rec_seg *s = &c->segs[c->segs_head];

		if (!(c->set.retain_bytes != 0 && c->disk_bytes > c->set.retain_bytes) &&
		    !(c->set.retain_ns != 0 && s->end_ns + c->set.retain_ns < now))
			break;
		snprintf(path, sizeof(path), "%s/%08" PRIu32 "%s", c->st.dir, s->seq, vigil_seg_suffix[s->kind]);
		if (vigil_writer_unlink(c->sh->w, path, cam_io, c) < 0)
			break; /* tried again with the next segment */
		c->disk_bytes -= s->bytes;
		c->segs_head++;
		c->n_segs--;
		removed++;
	}
	if (removed > 0) {
		int ret = vigil_playlist_drop(c->st.dir, c->segs[c->segs_head].seq, c->target);

		if (ret < 0)
			cam_error(c, REC_CAUSE_PLAYLIST, ret, VIGIL_PLAYLIST_NAME);
	}
}

/* Retention turned on: the segments the playlist lists are counted in, so
 * that those made before the change go too. Read from disk on the
 * recorder thread, which is acceptable for a change an admin makes. */
static void segs_load(struct rec_cam *c)
{
	struct vigil_playlist_entry *list = NULL;
	char path[sizeof(c->st.dir) + 32];
	unsigned n = 0;
	int ret = vigil_playlist_read(c->st.dir, &list, &n);

	if (ret < 0)
		cam_error(c, REC_CAUSE_PLAYLIST, ret, VIGIL_PLAYLIST_NAME);
	for (unsigned i = 0; i < n; i++) {
		struct stat sb;

		snprintf(path, sizeof(path), "%s/%08" PRIu32 "%s", c->st.dir, list[i].seq, vigil_seg_suffix[list[i].kind]);
		if (stat(path, &sb) == 0)
			segs_push(c, &list[i], (uint64_t)sb.st_size);
	}
	free(list);
}

static struct rec_settings *settings_of(const struct vigil_camera_config *cam)
{
	struct rec_settings *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	snprintf(s->name, sizeof(s->name), "%s", cam->name);
	s->codec = cam->codec;
	s->retain_ns = (uint64_t)cam->retain_hours * 3600 * 1000000000u;
	s->retain_bytes = cam->retain_bytes;
	s->sealed = cam->sealed;
	if (cam->sealed)
		memcpy(s->owner_key, cam->owner_key, sizeof(s->owner_key));
	return s;
}

int vigil_recorder_configure(struct vigil_recorder *rec, unsigned slot, const struct vigil_camera_config *cam)
{
	struct rec_settings *s;

	if (slot >= rec->n_cams)
		return -EINVAL;
	s = settings_of(cam);
	if (s == NULL)
		return -ENOMEM;
	/* Release: the copy is whole before the recorder can see it. Settings
	 * handed over before and not taken yet are superseded. */
	free(__atomic_exchange_n(&rec->handed[slot], s, __ATOMIC_ACQ_REL));
	return 0;
}

/* Settings handed over since the last call, or NULL; the caller's now. */
static struct rec_settings *settings_take(struct vigil_recorder *rec, unsigned slot)
{
	if (__atomic_load_n(&rec->handed[slot], __ATOMIC_RELAXED) == NULL)
		return NULL;
	return __atomic_exchange_n(&rec->handed[slot], NULL, __ATOMIC_ACQUIRE);
}

/* New settings apply here: where a segment begins, and in the retention
 * scan. Sealing is decided per segment, so a change never touches the
 * open one; retention applies at once. */
static void cam_settle(struct rec_cam *c)
{
	struct rec_settings *s = settings_take(c->rec, c->slot);
	bool was_retaining = retaining(c);

	if (s == NULL)
		return;
	c->set = *s;
	free(s);
	if (c->set.sealed && c->seal == NULL && (c->seal = vigil_seal_create()) == NULL)
		cam_error(c, REC_CAUSE_SEAL, -errno, "setup");
	if (!retaining(c)) {
		c->segs_head = c->n_segs = 0;
		c->disk_bytes = 0;
	} else if (!was_retaining) {
		segs_load(c);
	}
}

/* A segment that will never be durable: its frames are lost after all. */
static void seg_lost(struct rec_cam *c, uint64_t frames)
{
	c->st.frames_recorded -= frames;
	c->st.frames_dropped += frames;
}

/* Durable segments go into the playlist in order; a failed one leaves a
 * discontinuity. */
static void pending_flush(struct rec_cam *c)
{
	while (c->n_pending > 0) {
		struct rec_pending *p = &c->pending[c->pending_head];
		int ret;

		if (!p->durable && !p->failed)
			return;
		if (p->failed) {
			c->discontinuity = true;
		} else {
			/* Trouble over: say so, and log the next trouble again. */
			if (c->logged & ((1u << VIGIL_WCAUSE_MAX) - 1)) {
				fprintf(stderr, "vigil: recorder: camera %s: recording again (segment %08" PRIu32 ")\n",
					c->set.name, p->e.seq);
				c->logged &= ~((1u << VIGIL_WCAUSE_MAX) - 1);
			}
			p->e.discontinuity |= c->discontinuity;
			ret = vigil_playlist_append(c->st.dir, &p->e, p->e.map != c->listed_map, &c->target,
						    !retaining(c));
			c->listed_map = p->e.map;
			if (ret < 0)
				cam_error(c, REC_CAUSE_PLAYLIST, ret, VIGIL_PLAYLIST_NAME);
			c->discontinuity = false;
			segs_push(c, &p->e, p->bytes);
			retain(c, vigil_clock_ns(CLOCK_REALTIME));
		}
		c->pending_head = (c->pending_head + 1) % REC_PENDING;
		c->n_pending--;
	}
}

static struct rec_pending *pending_find(struct rec_cam *c, const char *path)
{
	const char *name = strrchr(path, '/');
	uint32_t seq;

	if (name == NULL)
		return NULL;
	seq = (uint32_t)strtoul(name + 1, NULL, 10);
	for (unsigned i = 0; i < c->n_pending; i++) {
		struct rec_pending *p = &c->pending[(c->pending_head + i) % REC_PENDING];

		if (p->e.seq == seq)
			return p;
	}
	return NULL;
}

static void cam_io(void *arg, const struct vigil_wio *io)
{
	struct rec_cam *c = arg;
	struct rec_pending *p;
	unsigned us_log2;

	switch (io->ev) {
	case VIGIL_WEV_WRITTEN:
		c->st.bytes_written += io->bytes;
		/* Bucket k: latencies below 2^k microseconds. */
		us_log2 = (unsigned)(64 - __builtin_clzll(io->latency_ns / 1000 | 1));
		c->st.write_latency[us_log2 < VIGIL_LATENCY_BUCKETS ? us_log2 : VIGIL_LATENCY_BUCKETS - 1]++;
		c->st.writes_inflight = io->writes_inflight;
		break;
	case VIGIL_WEV_SYNCED:
		c->st.syncs++;
		break;
	case VIGIL_WEV_REMOVED:
		c->st.segments_removed++;
		break;
	case VIGIL_WEV_CLOSED:
		c->st.segments++;
		if ((p = pending_find(c, io->path)) != NULL)
			p->durable = true;
		pending_flush(c);
		break;
	case VIGIL_WEV_ERROR:
		cam_error(c, io->cause, io->err, io->path);
		if ((p = pending_find(c, io->path)) != NULL && !p->failed) {
			p->failed = true;
			seg_lost(c, p->frames);
		}
		pending_flush(c);
		break;
	}
}

/* Bytes for the open segment's file: the muxer's, or sealed ones. */
static void cam_write(void *arg, const uint8_t *data, size_t len)
{
	struct rec_cam *c = arg;

	/* A failed file discards: the segment is closed at the next frame. */
	if (c->file != NULL && vigil_wfile_append(c->file, data, len) == 0) {
		c->unsynced = true;
		c->seg_bytes += len;
	}
}

static void cam_io_init(void *arg, const struct vigil_wio *io)
{
	struct rec_cam *c = arg;

	if (io->ev == VIGIL_WEV_WRITTEN)
		c->st.bytes_written += io->bytes;
	else if (io->ev == VIGIL_WEV_ERROR)
		cam_error(c, io->cause, io->err, io->path);
}

/* fMP4: the init segment, as the muxer starts; written once it is whole. */
static void cam_init_out(void *arg, const uint8_t *data, size_t len)
{
	struct rec_cam *c = arg;
	uint8_t *p = realloc(c->init, c->init_len + len);

	if (p == NULL) {
		cam_error(c, VIGIL_WCAUSE_WRITE, -ENOMEM, "init segment");
		return;
	}
	memcpy(p + c->init_len, data, len);
	c->init = p;
	c->init_len += len;
}

/* It goes to disk like a segment; the segments after it name it. */
static void init_write(struct rec_cam *c)
{
	char final[sizeof(c->st.dir) + 32], partial[sizeof(final) + 8];
	struct vigil_wfile *f;

	c->map = c->seq - 1; /* the segment it starts with */
	snprintf(final, sizeof(final), "%s/init-%08" PRIu32 ".mp4", c->st.dir, c->map);
	snprintf(partial, sizeof(partial), "%s.partial", final);
	f = vigil_wfile_open(c->sh->w, partial, final, cam_io_init, c);
	if (f == NULL || vigil_wfile_append(f, c->init, c->init_len) < 0)
		cam_error(c, VIGIL_WCAUSE_OPEN, -errno, partial);
	if (f != NULL)
		vigil_wfile_close(f);
	c->init_len = 0;
}

static void cam_muxed(void *arg, const uint8_t *data, size_t len)
{
	struct rec_cam *c = arg;
	int ret;

	if (c->kind != VIGIL_SEG_SEALED) {
		cam_write(c, data, len);
		return;
	}
	/* The server keeps nothing it could open a sealed segment with. */
	if (c->file != NULL && vigil_seal_active(c->seal)) {
		ret = vigil_seal_write(c->seal, data, len, cam_write, c);
		if (ret < 0)
			cam_error(c, REC_CAUSE_SEAL, ret, "write");
	}
}

/* 90 kHz pts from the RTP timestamp, unwrapped. It starts late enough that
 * the decode timestamps of the first frames are not negative. */
static int64_t cam_pts(struct rec_cam *c, uint32_t ts)
{
	if (!c->started) {
		c->last_raw = ts;
		c->ext = (VIGIL_REORDER_MAX + 1) * REC_NOMINAL_FRAME_TICKS;
		return c->ext;
	}
	c->ext += (int32_t)(ts - c->last_raw);
	c->last_raw = ts;
	return c->ext;
}

/* RTP carries presentation times only, and frames arrive in decode order:
 * with B-frames the pts go back and forth. The decode time of a frame is
 * the smallest of the last VIGIL_REORDER_MAX + 1 presentation times, which
 * is never after its own pts when the stream reorders no deeper than that
 * (no conforming H.264/H.265 stream does). Same rule as libavformat's. */
static int64_t cam_dts(struct rec_cam *c, int64_t *pts)
{
	int64_t *w = c->pts_window, dts;

	if (!c->started) {
		for (unsigned i = 0; i <= VIGIL_REORDER_MAX; i++)
			w[i] = *pts - (int64_t)(VIGIL_REORDER_MAX + 1 - i) * REC_NOMINAL_FRAME_TICKS;
		c->last_dts = INT64_MIN;
	}
	w[0] = *pts;
	for (unsigned i = 0; i < VIGIL_REORDER_MAX && w[i] > w[i + 1]; i++) {
		int64_t t = w[i];

		w[i] = w[i + 1];
		w[i + 1] = t;
	}
	dts = w[0];
	/* A camera clock that steps back: keep the file valid. */
	if (dts <= c->last_dts) {
		dts = c->last_dts + 1;
		cam_log(c, REC_CAUSE_TS, 0, "RTP timestamps went back; continuing at the last decode time");
	}
	if (*pts < dts)
		*pts = dts;
	c->last_dts = dts;
	return dts;
}

static void state_submit(struct rec_cam *c);

/* The chain state write in flight is over: durable, or failed (counted;
 * recording goes on without that promise). The segments it covers may
 * be created now; the state that waited goes next. */
static void state_done(struct rec_cam *c)
{
	unsigned k = 0;

	c->state_busy = false;
	for (unsigned i = 0; i < c->n_held; i++) {
		if (c->held[i].seq <= c->state_seq)
			vigil_wfile_release(c->held[i].f);
		else
			c->held[k++] = c->held[i];
	}
	c->n_held = k;
	if (c->state_want)
		state_submit(c);
}

/* A state file reports one end: closed (durable) or one error. */
static void state_io(void *arg, const struct vigil_wio *io)
{
	struct rec_cam *c = arg;

	if (io->ev == VIGIL_WEV_ERROR)
		cam_error(c, REC_CAUSE_STATE, io->err, io->path);
	if ((io->ev == VIGIL_WEV_CLOSED || io->ev == VIGIL_WEV_ERROR) && c->state_busy)
		state_done(c);
}

/* The state that waits, through the ring like the segments: temporary,
 * fsync, rename, fsync of StateDir/chain. One small write per sealed
 * segment, and the recorder thread never waits for it. */
static void state_submit(struct rec_cam *c)
{
	char final[PATH_MAX], temp[PATH_MAX];
	struct vigil_wfile *f = NULL;

	c->state_want = false;
	c->state_busy = true;
	c->state_seq = c->state_next_seq;
	if (vigil_chain_paths(c->rec->state_dir, c->set.name, final, temp, sizeof(final)) == 0)
		f = vigil_wfile_open(c->sh->w, temp, final, state_io, c);
	else
		errno = ENAMETOOLONG;
	if (f == NULL) {
		cam_error(c, REC_CAUSE_STATE, -errno, c->rec->state_dir);
		state_done(c);
		return;
	}
	(void)vigil_wfile_append(f, c->state_next, c->state_next_len); /* a failure comes through state_io */
	vigil_wfile_close(f);
}

/* The camera's chain state is now this: written as soon as the write in
 * flight, if any, is over (a newer state replaces one that waits). */
static void state_put(struct rec_cam *c, enum vigil_chain_state state, uint32_t seq,
		      const uint8_t tag[VIGIL_SEAL_TAG_BYTES])
{
	c->state_next_len = vigil_chain_format(c->state_next, c->set.name, state, seq, tag);
	c->state_next_seq = seq;
	c->state_want = true;
	if (!c->state_busy)
		state_submit(c);
}

/* A sealed segment's file: with a StateDir, held until the state that
 * names its number is durable, so a number is never used twice and the
 * next run links to the last segment begun. */
static struct vigil_wfile *seg_file(struct rec_cam *c, const char *partial, const char *final, bool *held)
{
	struct vigil_writer *w = c->sh->w;

	*held = false;
	if (c->kind != VIGIL_SEG_SEALED || c->rec->chain_dirfd < 0)
		return vigil_wfile_open(w, partial, final, cam_io, c);
	while (c->n_held == REC_PENDING) /* a very slow StateDir */
		if (vigil_writer_reap(w, true) < 0)
			return vigil_wfile_open(w, partial, final, cam_io, c);
	*held = true;
	return vigil_wfile_open_held(w, partial, final, cam_io, c);
}

static int seg_open(struct rec_cam *c, int64_t pts, uint64_t arrival_ns)
{
	char final[PATH_MAX], partial[PATH_MAX];
	bool held;
	int err;

	cam_settle(c);
	c->kind = c->set.sealed		       ? VIGIL_SEG_SEALED
		  : c->rec->format == VIGIL_FORMAT_FMP4 ? VIGIL_SEG_M4S
						      : VIGIL_SEG_TS;
	/* Never in the clear what should be sealed. */
	if (c->kind == VIGIL_SEG_SEALED && c->seal == NULL) {
		cam_error(c, REC_CAUSE_SEAL, -ENOMEM, "setup");
		return -ENOMEM;
	}
	/* cam_init left room for the names: cannot happen. */
	if (snprintf(final, sizeof(final), "%s/%08" PRIu32 "%s", c->st.dir, c->seq, vigil_seg_suffix[c->kind]) >=
		(int)sizeof(final) ||
	    snprintf(partial, sizeof(partial), "%s.partial", final) >= (int)sizeof(partial)) {
		cam_error(c, VIGIL_WCAUSE_OPEN, -ENAMETOOLONG, c->st.dir);
		return -ENAMETOOLONG;
	}
	c->file = seg_file(c, partial, final, &held);
	if (c->file == NULL) {
		err = -errno;
		cam_error(c, VIGIL_WCAUSE_OPEN, err, partial);
		return err;
	}
	if (c->kind == VIGIL_SEG_SEALED) {
		err = vigil_seal_begin(c->seal, c->set.owner_key, c->set.name, c->seq, c->rec->run, &c->link,
				       c->head_tag, cam_write, c);
		if (err < 0) {
			cam_error(c, REC_CAUSE_SEAL, err, partial);
			vigil_wfile_release(c->file); /* if held: nothing waits for it */
			vigil_wfile_close(c->file); /* an empty .partial: removed at the next start */
			c->file = NULL;
			return err;
		}
		c->chain_moved = true;
		if (held) {
			c->held[c->n_held].f = c->file;
			c->held[c->n_held++].seq = c->seq;
		}
		if (c->rec->chain_dirfd >= 0)
			state_put(c, VIGIL_CHAIN_BEGUN, c->seq, c->head_tag);
	}
	c->seq++;
	c->seg_start = pts;
	c->seg_arrival_ns = arrival_ns;
	c->synced_ns = vigil_now_ns();
	c->unsynced = false;
	c->seg_frames = 0;
	c->seg_bytes = 0;
	return 0;
}

/* Flushes the muxer into the segment, hands the segment to the writer to
 * make durable and makes the muxer start the next one with PAT/PMT. The
 * segment ends where the next one starts (end_pts), camera clock. */
static void seg_close(struct rec_cam *c, int64_t end_pts)
{
	struct rec_pending *p;
	int ret;

	if (c->file == NULL)
		return;
	ret = vigil_mux_cut(c->mux);
	if (ret < 0)
		cam_error(c, REC_CAUSE_MUX, ret, "flush");
	/* What the next sealed segment binds: this one's chain tag if it
	 * was closed whole, its head tag if it was abandoned. */
	if (c->kind == VIGIL_SEG_SEALED) {
		ret = vigil_wfile_failed(c->file) ? -EIO : vigil_seal_end(c->seal, c->link.tag, cam_write, c);
		if (ret < 0 && !vigil_wfile_failed(c->file))
			cam_error(c, REC_CAUSE_SEAL, ret, "end");
		if (ret < 0) {
			vigil_seal_abort(c->seal);
			memcpy(c->link.tag, c->head_tag, sizeof(c->link.tag));
		}
		c->link.kind = ret < 0 ? VIGIL_SEAL_LINK_ABANDONED : VIGIL_SEAL_LINK_NEXT;
		c->link.prev = c->seq - 1;
	}
	if (vigil_wfile_failed(c->file)) {
		c->discontinuity = true;
		seg_lost(c, c->seg_frames);
	} else {
		while (c->n_pending == REC_PENDING) /* a very slow disk */
			if (vigil_writer_reap(c->sh->w, true) < 0)
				break;
		p = &c->pending[(c->pending_head + c->n_pending++) % REC_PENDING];
		*p = (struct rec_pending){
		    .e = {.seq = c->seq - 1,
			  .seconds = (double)(end_pts - c->seg_start) / VIGIL_RTP_CLOCK_HZ,
			  .start_ns = c->seg_arrival_ns,
			  .kind = c->kind,
			  .map = c->map},
		    .frames = c->seg_frames,
		    .bytes = c->seg_bytes};
	}
	vigil_wfile_close(c->file);
	c->file = NULL;
}

static int cam_new(struct vigil_recorder *rec, unsigned slot, struct rec_settings *s);

/* A camera added while running is set up at its first frame, with the
 * settings handed over when it was added. */
static struct rec_cam *rec_cam_get(struct vigil_recorder *rec, unsigned slot)
{
	struct rec_settings *s;

	if (slot >= rec->n_cams)
		return NULL;
	if (rec->cams[slot] == NULL) {
		s = settings_take(rec, slot);
		if (s == NULL || cam_new(rec, slot, s) < 0)
			return NULL;
	}
	return rec->cams[slot];
}

/* RetainHours goes on for cameras that stopped sending, and changed
 * retention applies to them: every ten seconds. */
static void rec_retain_due(struct rec_shard *sh)
{
	struct vigil_recorder *rec = sh->rec;
	uint64_t now = vigil_clock_ns(CLOCK_REALTIME);

	if (now < sh->next_retain_scan_ns)
		return;
	sh->next_retain_scan_ns = now + UINT64_C(10000000000);
	for (unsigned i = sh->id; i < rec->n_cams; i += rec->n_shards) {
		struct rec_cam *c = rec->cams[i];

		if (c == NULL)
			continue;
		cam_settle(c); /* a changed retention, for a camera gone quiet */
		if (retaining(c))
			retain(c, now);
	}
}

/* No open segment holds data older than MaxUnsyncedSeconds that is not on
 * disk: a camera that went quiet included. Checked every tenth of that. */
static void rec_sync_due(struct rec_shard *sh)
{
	struct vigil_recorder *rec = sh->rec;
	uint64_t now;

	if (rec->max_unsynced_ns == 0)
		return;
	now = vigil_now_ns();
	if (now < sh->next_sync_scan_ns)
		return;
	sh->next_sync_scan_ns = now + rec->max_unsynced_ns / 10;
	for (unsigned i = sh->id; i < rec->n_cams; i += rec->n_shards) {
		struct rec_cam *c = rec->cams[i];

		if (c == NULL || c->file == NULL || !c->unsynced || now - c->synced_ns < rec->max_unsynced_ns)
			continue;
		vigil_wfile_sync(c->file);
		c->unsynced = false;
		c->synced_ns = now;
	}
}

void vigil_recorder_write(struct vigil_recorder *rec, const struct vigil_frame *f, const uint8_t *data, size_t len)
{
	struct rec_shard *sh = shard_of(rec, f->camera);
	struct rec_cam *c;
	bool key = f->flags & VIGIL_FRAME_KEY;
	int64_t pts, dts;
	int ret;

	c = rec_cam_get(rec, f->camera);
	if (c == NULL)
		goto out;
	pts = cam_pts(c, f->rtp_ts);
	dts = cam_dts(c, &pts);
	/* A segment whose I/O failed is closed; the next starts at a key. */
	if (c->file != NULL && vigil_wfile_failed(c->file))
		seg_close(c, pts);
	if (key && c->file != NULL && pts >= c->seg_start + rec->seg_ticks)
		seg_close(c, pts);
	if (c->file == NULL && (key || !c->started))
		(void)seg_open(c, pts, f->arrival_ns);
	if (c->started && pts > c->last_pts)
		c->frame_ticks = pts - c->last_pts;
	c->last_pts = pts;
	c->started = true;
	if (c->file == NULL || len == 0) {
		c->st.frames_dropped++;
		goto out;
	}
	ret = vigil_mux_write(c->mux, data, len, pts, dts, c->frame_ticks, key);
	if (c->init_len > 0)
		init_write(c);
	if (ret < 0) {
		cam_error(c, REC_CAUSE_MUX, ret, "frame");
		c->st.frames_dropped++;
	} else {
		c->st.frames_recorded++;
		c->seg_frames++;
	}
out:
	rec_sync_due(sh);
	(void)vigil_writer_reap(sh->w, false);
}

void vigil_recorder_poll(struct vigil_recorder *rec)
{
	for (unsigned s = 0; s < rec->n_shards; s++)
		(void)vigil_writer_reap(rec->shards[s].w, false);
}

/* Every open segment of the shard's cameras closed and durable, every
 * playlist ended. */
static void rec_close_all(struct rec_shard *sh)
{
	struct vigil_recorder *rec = sh->rec;

	for (unsigned i = sh->id; i < rec->n_cams; i += rec->n_shards) {
		struct rec_cam *c = rec->cams[i];

		if (c != NULL)
			seg_close(c, c->last_pts + (c->frame_ticks > 0 ? c->frame_ticks : REC_NOMINAL_FRAME_TICKS));
	}
	vigil_writer_drain(sh->w);
	/* A clean stop: the chain state says how the last sealed segment
	 * ended, once it is on disk. */
	for (unsigned i = sh->id; rec->chain_dirfd >= 0 && i < rec->n_cams; i += rec->n_shards) {
		struct rec_cam *c = rec->cams[i];

		if (c == NULL || !c->chain_moved)
			continue;
		c->chain_moved = false;
		state_put(c,
			  c->link.kind == VIGIL_SEAL_LINK_NEXT ? VIGIL_CHAIN_CLOSED : VIGIL_CHAIN_ABANDONED,
			  c->link.prev, c->link.tag);
	}
	vigil_writer_drain(sh->w);
	for (unsigned i = sh->id; i < rec->n_cams; i += rec->n_shards) {
		struct rec_cam *c = rec->cams[i];
		int ret;

		if (c == NULL || c->ended)
			continue;
		c->ended = true;
		ret = vigil_playlist_end(c->st.dir);
		if (ret < 0)
			cam_error(c, REC_CAUSE_PLAYLIST, ret, VIGIL_PLAYLIST_NAME);
	}
}

/* The one copy a frame's bytes see before the muxer's own: only when its
 * packets are chained, that is nearly always. */
static void rec_take(struct rec_shard *sh, struct vigil_frame_ring *r, struct rte_mbuf *head)
{
	const uint8_t *data = NULL;

	if (head->pkt_len <= sh->gather_cap)
		data = rte_pktmbuf_read(head, 0, head->pkt_len, sh->gather);
	vigil_recorder_write(sh->rec, vigil_frame_of(head), data, data != NULL ? head->pkt_len : 0);
	vigil_frame_ring_done(r, head);
}

static void *rec_thread(void *arg)
{
	struct rec_shard *sh = arg;
	void *burst[VIGIL_BURST];

	for (;;) {
		/* Read before the pass: after stop, one more full pass. */
		bool stopping = __atomic_load_n(&sh->rec->stop, __ATOMIC_ACQUIRE);
		unsigned got = 0;

		for (unsigned i = 0; i < sh->n_rings; i++) {
			unsigned n = rte_ring_dequeue_burst(sh->rings[i]->ring, burst, VIGIL_BURST, NULL);

			for (unsigned j = 0; j < n; j++)
				rec_take(sh, sh->rings[i], burst[j]);
			got += n;
		}
		rec_sync_due(sh);
		rec_retain_due(sh);
		if (got > 0)
			continue;
		if (stopping)
			break;
		(void)vigil_writer_reap(sh->w, false);
		usleep(REC_IDLE_US);
	}
	rec_close_all(sh);
	return NULL;
}

static void rec_join(struct vigil_recorder *rec, unsigned n_threads)
{
	__atomic_store_n(&rec->stop, true, __ATOMIC_RELEASE);
	for (unsigned s = 0; s < n_threads; s++)
		pthread_join(rec->shards[s].thread, NULL);
}

int vigil_recorder_start(struct vigil_recorder *rec, struct vigil_frame_ring *const *rings, unsigned n_workers)
{
	char name[16];
	int ret;

	if (rec->running)
		return -EBUSY;
	if (n_workers > VIGIL_MAX_WORKERS)
		return -EINVAL;
	rec->stop = false;
	for (unsigned s = 0; s < rec->n_shards; s++) {
		struct rec_shard *sh = &rec->shards[s];

		for (unsigned i = 0; i < n_workers; i++)
			sh->rings[i] = rings[vigil_frame_ring_index(i, s, rec->n_shards)];
		sh->n_rings = n_workers;
		ret = pthread_create(&sh->thread, NULL, rec_thread, sh);
		if (ret != 0) {
			rec_join(rec, s);
			return -ret;
		}
		snprintf(name, sizeof(name), "vigil-rec%u", s % 100);
		pthread_setname_np(sh->thread, name);
	}
	rec->running = true;
	return 0;
}

int vigil_recorder_stop(struct vigil_recorder *rec)
{
	int ret = 0;

	if (rec->running) {
		rec_join(rec, rec->n_shards);
		rec->running = false;
	} else {
		for (unsigned s = 0; s < rec->n_shards; s++)
			rec_close_all(&rec->shards[s]);
	}
	for (unsigned s = 0; s < rec->n_shards && ret == 0; s++)
		ret = rec->shards[s].first_err;
	return ret;
}

const struct vigil_recorder_stats *vigil_recorder_stats(const struct vigil_recorder *rec, unsigned camera)
{
	static const struct vigil_recorder_stats none;

	if (camera >= rec->n_cams)
		return NULL;
	return rec->cams[camera] != NULL ? &rec->cams[camera]->st : &none;
}

/* mkdir -p; the last component gets mode, so do its parents. A folder's
 * name is durable once its parent is fsync'd: after each mkdir, and for the
 * last one always (a run killed before this one may have made it). */
static int mkdir_p(const char *dir, mode_t mode)
{
	char path[PATH_MAX];
	struct stat sb;
	int ret;

	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	for (char *p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, mode) == 0)
			ret = vigil_sync_parent_dir(path);
		else
			ret = errno == EEXIST ? 0 : -errno;
		if (ret < 0)
			return ret;
		*p = '/';
	}
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return -errno;
	if (stat(path, &sb) < 0)
		return -errno;
	return S_ISDIR(sb.st_mode) ? vigil_sync_parent_dir(path) : -ENOTDIR;
}

static int cam_init(struct vigil_recorder *rec, struct rec_cam *c, unsigned slot)
{
	struct vigil_recovery found;
	uint32_t newest = UINT32_MAX; /* sealed segment on disk */
	char msg[2 * PATH_MAX + 256];
	int ret;

	c->rec = rec;
	c->sh = shard_of(rec, slot);
	c->slot = slot;
	/* Room for "/NNNNNNNN.ts.partial" (and more digits) after it. */
	if (snprintf(c->st.dir, sizeof(c->st.dir), "%s/%s", rec->record_dir, c->set.name) >= PATH_MAX - 32)
		return -ENAMETOOLONG;
	ret = mkdir_p(c->st.dir, 0750);
	if (ret < 0)
		return ret;
	/* What a crash left: .partial segments made whole, the playlist
	 * rewritten to list every segment on disk. */
	ret = vigil_playlist_recover(c->st.dir, 2 * (unsigned)(rec->seg_ticks / VIGIL_RTP_CLOCK_HZ), !retaining(c),
				     &found, msg, sizeof(msg));
	if (ret < 0) {
		fprintf(stderr, "vigil: recorder: camera %s: %s\n", c->set.name, msg);
		return ret;
	}
	if (found.recovered + found.discarded > 0)
		fprintf(stderr,
			"vigil: recorder: camera %s: %u segment(s) cut short by a crash recovered, %u too short "
			"removed\n",
			c->set.name, found.recovered, found.discarded);
	c->seq = found.next_seq;
	c->target = found.target;
	c->discontinuity = found.entries > 0;
	for (unsigned i = 0; i < found.entries; i++) {
		char path[sizeof(((struct vigil_recorder_stats *)0)->dir) + 32];
		struct stat sb;

		snprintf(path, sizeof(path), "%s/%08" PRIu32 "%s", c->st.dir, found.list[i].seq,
			 vigil_seg_suffix[found.list[i].kind]);
		segs_push(c, &found.list[i], stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0);
		if (found.list[i].kind == VIGIL_SEG_SEALED &&
		    (newest == UINT32_MAX || found.list[i].seq > newest))
			newest = found.list[i].seq;
	}
	free(found.list);
	if (vigil_chain_load(rec->state_dir, c->set.name, c->st.dir, newest, &c->link, msg, sizeof(msg)) > 0)
		fprintf(stderr, "vigil: recorder: camera %s: %s\n", c->set.name, msg);
	/* A number is never used twice, even once the newest segments are gone. */
	if (c->link.kind != VIGIL_SEAL_LINK_NONE && c->link.prev >= c->seq)
		c->seq = c->link.prev + 1;
	retain(c, vigil_clock_ns(CLOCK_REALTIME));
	if (c->set.sealed) {
		c->seal = vigil_seal_create();
		if (c->seal == NULL)
			return -errno;
	}
	c->mux = vigil_mux_create(c->set.codec, rec->format, cam_muxed, cam_init_out, c);
	return c->mux == NULL ? -errno : 0;
}

static void cam_free(struct rec_cam *c)
{
	if (c == NULL)
		return;
	vigil_mux_free(c->mux);
	vigil_seal_free(c->seal);
	free(c->init);
	free(c->segs);
	free(c);
}

/* Sets up slot's camera with s, which it takes. On failure the settings
 * are handed back (unless newer ones came), to be tried again at the
 * camera's next frame. */
static int cam_new(struct vigil_recorder *rec, unsigned slot, struct rec_settings *s)
{
	struct rec_cam *c = calloc(1, sizeof(*c));
	struct rec_settings *none = NULL;
	int ret = -ENOMEM;

	if (c != NULL) {
		c->set = *s;
		ret = cam_init(rec, c, slot);
	}
	if (ret < 0) {
		fprintf(stderr, "vigil: recorder: camera %s: %s: %s\n", s->name, c != NULL ? c->st.dir : "",
			strerror(-ret));
		cam_free(c);
		if (!__atomic_compare_exchange_n(&rec->handed[slot], &none, s, false, __ATOMIC_RELEASE,
						 __ATOMIC_RELAXED))
			free(s);
		return ret;
	}
	free(s);
	rec->cams[slot] = c;
	return 0;
}

/* Everything rec holds, whatever create got to. */
static void rec_destroy(struct vigil_recorder *rec)
{
	for (unsigned i = 0; rec->cams != NULL && i < rec->n_cams; i++)
		cam_free(rec->cams[i]);
	for (unsigned i = 0; rec->handed != NULL && i < rec->n_cams; i++)
		free(rec->handed[i]);
	for (unsigned s = 0; rec->shards != NULL && s < rec->n_shards; s++) {
		vigil_writer_free(rec->shards[s].w);
		free(rec->shards[s].gather);
	}
	free(rec->shards);
	free(rec->cams);
	free(rec->handed);
	if (rec->chain_dirfd >= 0)
		close(rec->chain_dirfd);
	free(rec);
}

struct vigil_recorder *vigil_recorder_create(const struct vigil_config *cfg, size_t max_frame_bytes)
{
	struct vigil_recorder *rec;
	int ret = -ENOMEM;

	if (cfg == NULL || (cfg->n_cameras > 0 && cfg->cameras == NULL) || cfg->recorders > VIGIL_MAX_RECORDERS) {
		errno = EINVAL;
		return NULL;
	}
	rec = calloc(1, sizeof(*rec));
	if (rec == NULL)
		return NULL;
	snprintf(rec->record_dir, sizeof(rec->record_dir), "%s", cfg->record_dir);
	rec->format = cfg->format;
	snprintf(rec->state_dir, sizeof(rec->state_dir), "%s", cfg->state_dir);
	rec->chain_dirfd = -1;
	if (sodium_init() < 0) {
		free(rec);
		errno = EIO;
		return NULL;
	}
	randombytes_buf(rec->run, sizeof(rec->run));
	rec->n_cams = cfg->max_cameras > cfg->n_cameras ? cfg->max_cameras : cfg->n_cameras;
	rec->max_unsynced_ns = (uint64_t)cfg->max_unsynced_ms * 1000000u;
	rec->seg_ticks =
	    (int64_t)(cfg->segment_seconds ? cfg->segment_seconds : VIGIL_DEFAULT_SEGMENT_SECONDS) *
	    VIGIL_RTP_CLOCK_HZ;
	rec->cams = calloc(rec->n_cams ? rec->n_cams : 1, sizeof(*rec->cams));
	rec->handed = calloc(rec->n_cams ? rec->n_cams : 1, sizeof(*rec->handed));
	rec->n_shards = cfg->recorders ? cfg->recorders : 1;
	rec->shards = calloc(rec->n_shards, sizeof(*rec->shards));
	if (rec->cams == NULL || rec->handed == NULL || rec->shards == NULL)
		goto err;
	if (rec->state_dir[0] != '\0') {
		char msg[PATH_MAX + 128];

		ret = vigil_chain_dir_open(rec->state_dir, msg, sizeof(msg));
		if (ret < 0) {
			fprintf(stderr, "vigil: recorder: %s\n", msg);
			goto err;
		}
		rec->chain_dirfd = ret;
	}
	for (unsigned s = 0; s < rec->n_shards; s++) {
		struct rec_shard *sh = &rec->shards[s];
		unsigned cams = (rec->n_cams + rec->n_shards - 1) / rec->n_shards;

		sh->rec = rec;
		sh->id = s;
		sh->gather = malloc(max_frame_bytes);
		sh->gather_cap = max_frame_bytes;
		/* A staging buffer per camera and as many again in flight. */
		sh->w = vigil_writer_create(VIGIL_WRITER_ENTRIES, 2 * cams + 2); /* grown as used */
		if (sh->w == NULL)
			ret = -errno;
		if (sh->gather == NULL || sh->w == NULL)
			goto err;
	}
	/* The cameras known now (the last time the recorder reads the
	 * configuration's cameras): a recording directory that cannot be made
	 * stops vigild before it takes any traffic. */
	for (unsigned i = 0; i < cfg->n_cameras; i++) {
		struct rec_settings *s = settings_of(&cfg->cameras[i]);

		ret = s != NULL ? cam_new(rec, i, s) : -ENOMEM;
		if (ret < 0)
			goto err;
	}
	return rec;

err:
	rec_destroy(rec);
	errno = -ret;
	return NULL;
}

void vigil_recorder_free(struct vigil_recorder *rec)
{
	if (rec == NULL)
		return;
	(void)vigil_recorder_stop(rec);
	rec_destroy(rec);
}
