/* SPDX-License-Identifier: MIT */
/* One camera's segments from open to durable: frames muxed (libavformat,
 * mux.c) into the open segment, cut at the first key frame past
 * segment_seconds, closed and handed to the writer (writer.c) to make
 * durable, then listed in the playlist (playlist.c) in order. Sealed
 * segments are encrypted on their way out (seal.c). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vigil/log.h"
#include "vigil/clock.h"
#include "segment_internal.h"

static void cam_log(struct vigil_segments *c, unsigned cause, int err, const char *what)
{
	if (c->logged & (1u << cause))
		return;
	c->logged |= 1u << cause;
	if (cause == VIGIL_REC_CAUSE_timestamps)
		vigil_log(VIGIL_LOG_WARNING, "vigil: recorder: camera %s: %s\n", c->set.name, what);
	else
		vigil_log(VIGIL_LOG_ERR, "vigil: recorder: camera %s: %s %s: %s (further %s errors not shown)\n",
			c->set.name, vigil_recorder_cause_name(cause), what, strerror(-err),
			vigil_recorder_cause_name(cause));
}

void vigil_segments_error(struct vigil_segments *c, unsigned cause, int err, const char *what)
{
	if (cause != VIGIL_REC_CAUSE_mux)
		c->st.write_errors++;
	c->st.errors[cause]++;
	if (c->out->first_err == 0)
		c->out->first_err = err;
	cam_log(c, cause, err, what);
}

/* A segment that will never be durable: its frames are lost after all. */
static void seg_lost(struct vigil_segments *c, uint64_t frames)
{
	c->st.frames_recorded -= frames;
	c->st.frames_dropped += frames;
}

/* Durable segments go into the playlist in order; a failed one leaves a
 * discontinuity. */
static void pending_flush(struct vigil_segments *c)
{
	while (c->n_pending > 0) {
		struct seg_pending *p = &c->pending[c->pending_head];

		if (!p->durable && !p->failed)
			return;
		if (p->failed) {
			c->discontinuity = true;
		} else {
			/* Trouble over: say so, and log the next trouble again. */
			if (c->logged & ((1u << VIGIL_WCAUSE_MAX) - 1)) {
				vigil_log(VIGIL_LOG_NOTICE,
					"vigil: recorder: camera %s: recording again (segment %08" PRIu32
					")\n",
					c->set.name, p->e.seq);
				c->logged &= ~((1u << VIGIL_WCAUSE_MAX) - 1);
			}
			p->e.discontinuity |= c->discontinuity;
			p->e.bytes = p->bytes;
			vigil_segments_list(c, &(struct vigil_playlist_job){
						   .op = VIGIL_PLAYLIST_APPEND,
						   .e = p->e,
						   .new_map = p->e.map != c->listed_map,
						   .event = !vigil_segments_retaining(c),
					       });
			c->target = vigil_playlist_target(c->target, p->e.seconds);
			c->listed_map = p->e.map;
			c->discontinuity = false;
			vigil_segments_keep(c, &p->e, p->bytes);
			if (c->out->closed != NULL) {
				struct vigil_segment_closed sc = {
				    .kind = (uint8_t)p->e.kind, .seq = p->e.seq, .bytes = p->bytes, .seconds = p->e.seconds};

				snprintf(sc.camera, sizeof(sc.camera), "%s", c->set.name);
				c->out->closed(c->out->closed_arg, &sc);
			}
			if (c->conf->up != NULL)
				vigil_uploader_post(c->conf->up, c->set.name, p->e.kind, p->e.seq, p->e.map, p->bytes,
						    p->e.start_ns, false);
			vigil_segments_expire(c, vigil_clock_ns(CLOCK_REALTIME), false);
		}
		c->pending_head = (c->pending_head + 1) % SEG_PENDING;
		c->n_pending--;
	}
}

static struct seg_pending *pending_find(struct vigil_segments *c, const char *path)
{
	const char *name = strrchr(path, '/');
	uint32_t seq;

	if (name == NULL)
		return NULL;
	seq = (uint32_t)strtoul(name + 1, NULL, 10);
	for (unsigned i = 0; i < c->n_pending; i++) {
		struct seg_pending *p = &c->pending[(c->pending_head + i) % SEG_PENDING];

		if (p->e.seq == seq)
			return p;
	}
	return NULL;
}

void vigil_segments_io(void *arg, const struct vigil_wio *io)
{
	struct vigil_segments *c = arg;
	struct seg_pending *p;
	unsigned us_log2;

	switch (io->ev) {
	case VIGIL_WEV_WRITTEN:
		c->st.bytes_written += io->bytes;
		/* Bucket k: latencies below 2^k microseconds. */
		us_log2 = (unsigned)(64 - __builtin_clzll(io->latency_ns / 1000 | 1));
		c->st.write_latency[us_log2 < VIGIL_LATENCY_BUCKETS ? us_log2 : VIGIL_LATENCY_BUCKETS - 1]++;
		c->st.write_latency[VIGIL_LATENCY_SUM] += io->latency_ns;
		c->st.writes_inflight = io->writes_inflight;
		break;
	case VIGIL_WEV_SYNCED:
		c->st.syncs++;
		break;
	case VIGIL_WEV_REMOVED: /* counted when retention gave it up (retain.c) */
		c->st.segments_reused += io->reused;
		break;
	case VIGIL_WEV_CLOSED:
		c->st.segments++;
		if ((p = pending_find(c, io->path)) != NULL)
			p->durable = true;
		pending_flush(c);
		break;
	case VIGIL_WEV_ERROR:
		/* Retention's removal of a segment already gone (uploaded,
		 * KeepLocal = no): what it wanted. */
		if (io->cause == VIGIL_WCAUSE_unlink && io->err == -ENOENT)
			break;
		vigil_segments_error(c, io->cause, io->err, io->path);
		if ((p = pending_find(c, io->path)) != NULL && !p->failed) {
			p->failed = true;
			seg_lost(c, p->frames);
		}
		pending_flush(c);
		break;
	}
}

/* Bytes for the open segment's file: the muxer's, or sealed ones. The
 * muxer's MPEG-TS is already there, in place (cam_place). */
static void cam_write(void *arg, const uint8_t *data, size_t len)
{
	struct vigil_segments *c = arg;

	if (c->file == NULL)
		return;
	/* A failed file discards: the segment is closed at the next frame. */
	if ((data == c->placed ? vigil_wfile_commit(c->file, len) : vigil_wfile_append(c->file, data, len)) == 0) {
		c->unsynced = true;
		c->seg_bytes += len;
	}
}

/* MPEG-TS is muxed straight into the open segment's staging buffer, not
 * copied there from the muxer's (a tenth of the recorder's CPU): tells the
 * muxer where, each time the buffer moves on. Only while nothing waits in
 * the muxer (vigil_mux_place). */
static void cam_place(struct vigil_segments *c)
{
	size_t n = 0;

	c->placed = c->file != NULL && c->kind == VIGIL_SEG_TS ? vigil_wfile_space(c->file, &n) : NULL;
	vigil_mux_place(c->mux, c->placed, n);
}

static void cam_io_init(void *arg, const struct vigil_wio *io)
{
	struct vigil_segments *c = arg;

	if (io->ev == VIGIL_WEV_WRITTEN)
		c->st.bytes_written += io->bytes;
	else if (io->ev == VIGIL_WEV_ERROR)
		vigil_segments_error(c, io->cause, io->err, io->path);
}

/* fMP4: the init segment, as the muxer starts; written once it is whole. */
void vigil_segments_init_out(void *arg, const uint8_t *data, size_t len)
{
	struct vigil_segments *c = arg;
	uint8_t *p = realloc(c->init, c->init_len + len);

	if (p == NULL) {
		vigil_segments_error(c, VIGIL_WCAUSE_write, -ENOMEM, "init segment");
		return;
	}
	memcpy(p + c->init_len, data, len);
	c->init = p;
	c->init_len += len;
}

/* It goes to disk like a segment; the segments after it name it. */
static void init_write(struct vigil_segments *c)
{
	char final[sizeof(c->st.dir) + 32], partial[sizeof(final) + 8];
	struct vigil_wfile *f;

	c->map = c->seq - 1; /* the segment it starts with */
	snprintf(final, sizeof(final), "%s/init-%08" PRIu32 ".mp4", c->st.dir, c->map);
	snprintf(partial, sizeof(partial), "%s.partial", final);
	f = vigil_wfile_open(c->out->w, partial, final, NULL, cam_io_init, c);
	if (f == NULL || vigil_wfile_append(f, c->init, c->init_len) < 0)
		vigil_segments_error(c, VIGIL_WCAUSE_open, -errno, partial);
	if (f != NULL)
		vigil_wfile_close(f);
	c->init_len = 0;
}

void vigil_segments_muxed(void *arg, const uint8_t *data, size_t len)
{
	struct vigil_segments *c = arg;
	int ret;

	if (c->kind != VIGIL_SEG_SEALED) {
		cam_write(c, data, len);
		if (c->live_slot >= 0)
			vigil_live_bytes(c->conf->live, c->live_slot, c->seq - 1, data, len);
		if (c->placed != NULL)
			cam_place(c); /* the muxer's buffer is empty again */
		return;
	}
	/* The server keeps nothing it could open a sealed segment with. */
	if (c->file != NULL && vigil_seal_active(c->seal)) {
		ret = vigil_seal_write(c->seal, data, len, cam_write, c);
		if (ret < 0)
			vigil_segments_error(c, VIGIL_REC_CAUSE_seal, ret, "write");
	}
}

/* 90 kHz pts from the RTP timestamp, unwrapped. It starts late enough that
 * the decode timestamps of the first frames are not negative. */
static int64_t cam_pts(struct vigil_segments *c, uint32_t ts)
{
	if (!c->started) {
		c->last_raw = ts;
		c->ext = (VIGIL_REORDER_MAX + 1) * SEG_NOMINAL_FRAME_TICKS;
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
static int64_t cam_dts(struct vigil_segments *c, int64_t *pts)
{
	int64_t *w = c->pts_window, dts;

	if (!c->started) {
		for (unsigned i = 0; i <= VIGIL_REORDER_MAX; i++)
			w[i] = *pts - (int64_t)(VIGIL_REORDER_MAX + 1 - i) * SEG_NOMINAL_FRAME_TICKS;
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
		cam_log(c, VIGIL_REC_CAUSE_timestamps, 0,
			"RTP timestamps went back; continuing at the last decode time");
	}
	if (*pts < dts)
		*pts = dts;
	c->last_dts = dts;
	return dts;
}

/* A sealed segment's file: with a StateDir, held until the state that
 * names its number is durable, so a number is never used twice and the
 * next run links to the last segment begun. */
static struct vigil_wfile *seg_file(struct vigil_segments *c, const char *partial, const char *final,
				    bool *held)
{
	struct vigil_writer *w = c->out->w;
	char old[sizeof(c->st.dir) + 32];
	const char *reuse = vigil_segments_reuse(c, old, sizeof(old)) ? old : NULL;

	*held = false;
	if (c->kind != VIGIL_SEG_SEALED || c->conf->chain_dirfd < 0)
		return vigil_wfile_open(w, partial, final, reuse, vigil_segments_io, c);
	while (c->n_held == SEG_PENDING) /* a very slow StateDir */
		if (vigil_writer_reap(w, true) < 0)
			return vigil_wfile_open(w, partial, final, reuse, vigil_segments_io, c);
	*held = true;
	return vigil_wfile_open_held(w, partial, final, reuse, vigil_segments_io, c);
}

static int seg_open(struct vigil_segments *c, int64_t pts, uint64_t arrival_ns)
{
	char final[PATH_MAX], partial[PATH_MAX];
	bool held;
	int err;

	vigil_segments_settle(c);
	c->kind = c->set.sealed				 ? VIGIL_SEG_SEALED
		  : c->conf->format == VIGIL_FORMAT_FMP4 ? VIGIL_SEG_M4S
							 : VIGIL_SEG_TS;
	/* Never in the clear what should be sealed. */
	if (c->kind == VIGIL_SEG_SEALED && c->seal == NULL) {
		vigil_segments_error(c, VIGIL_REC_CAUSE_seal, -ENOMEM, "setup");
		return -ENOMEM;
	}
	/* The upload spool is full: the store is down or slow. Recording
	 * resumes at a key frame once it has room (docs/storage.md). */
	if (c->conf->up != NULL && vigil_uploader_spool_full(c->conf->up)) {
		vigil_segments_error(c, VIGIL_REC_CAUSE_spool, -ENOSPC, c->st.dir);
		c->discontinuity = true;
		return -ENOSPC;
	}
	/* cam_recover left room for the names: cannot happen. */
	if (snprintf(final, sizeof(final), "%s/%08" PRIu32 "%s", c->st.dir, c->seq,
		     vigil_seg_suffix[c->kind]) >= (int)sizeof(final) ||
	    snprintf(partial, sizeof(partial), "%s.partial", final) >= (int)sizeof(partial)) {
		vigil_segments_error(c, VIGIL_WCAUSE_open, -ENAMETOOLONG, c->st.dir);
		return -ENAMETOOLONG;
	}
	c->file = seg_file(c, partial, final, &held);
	if (c->file == NULL) {
		err = -errno;
		vigil_segments_error(c, VIGIL_WCAUSE_open, err, partial);
		return err;
	}
	if (c->kind == VIGIL_SEG_SEALED) {
		err = vigil_seal_begin(c->seal, c->set.owner_key, c->set.name, c->seq, c->conf->run, &c->link,
				       c->head_tag, cam_write, c);
		if (err < 0) {
			vigil_segments_error(c, VIGIL_REC_CAUSE_seal, err, partial);
			vigil_wfile_release(c->file); /* if held: nothing waits for it */
			vigil_wfile_close(c->file);   /* an empty .partial: removed at the next start */
			c->file = NULL;
			return err;
		}
		c->chain_moved = true;
		if (held) {
			c->held[c->n_held].f = c->file;
			c->held[c->n_held++].seq = c->seq;
		}
		if (c->conf->chain_dirfd >= 0)
			vigil_segments_state_put(c, VIGIL_CHAIN_BEGUN, c->seq, c->head_tag);
	}
	c->live_slot = vigil_live_begin(c->conf->live, c->set.name, c->seq, arrival_ns, c->kind == VIGIL_SEG_M4S);
	c->part_start = pts;
	c->part_key = true; /* segments begin at key frames */
	c->seq++;
	c->seg_start = pts;
	c->seg_arrival_ns = arrival_ns;
	c->synced_ns = vigil_now_ns();
	c->unsynced = false;
	c->seg_frames = 0;
	c->seg_bytes = 0;
	cam_place(c);
	return 0;
}

/* Flushes the muxer into the segment, hands the segment to the writer to
 * make durable and makes the muxer start the next one with PAT/PMT. The
 * segment ends where the next one starts (end_pts), camera clock. */
static void seg_close(struct vigil_segments *c, int64_t end_pts)
{
	struct seg_pending *p;
	int ret;

	if (c->file == NULL)
		return;
	ret = vigil_mux_cut(c->mux);
	if (ret < 0)
		vigil_segments_error(c, VIGIL_REC_CAUSE_mux, ret, "flush");
	if (c->live_slot >= 0) {
		vigil_live_part(c->conf->live, c->live_slot, c->seq - 1, c->map, (uint32_t)(end_pts - c->part_start),
				c->part_key, true, (uint64_t)(end_pts - c->seg_start));
		c->live_slot = -1;
	}
	/* What the next sealed segment binds: this one's chain tag if it
	 * was closed whole, its head tag if it was abandoned. */
	if (c->kind == VIGIL_SEG_SEALED) {
		ret = vigil_wfile_failed(c->file) ? -EIO : vigil_seal_end(c->seal, c->link.tag, cam_write, c);
		if (ret < 0 && !vigil_wfile_failed(c->file))
			vigil_segments_error(c, VIGIL_REC_CAUSE_seal, ret, "end");
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
		while (c->n_pending == SEG_PENDING) /* a very slow disk */
			if (vigil_writer_reap(c->out->w, true) < 0)
				break;
		p = &c->pending[(c->pending_head + c->n_pending++) % SEG_PENDING];
		*p = (struct seg_pending){
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
	cam_place(c); /* the cut left nothing in the muxer */
}

void vigil_segments_write(struct vigil_segments *c, const struct vigil_frame *f, const uint8_t *data,
			  size_t len)
{
	bool key = f->flags & VIGIL_FRAME_KEY;
	int64_t pts, dts;
	int ret;

	pts = cam_pts(c, f->rtp_ts);
	dts = cam_dts(c, &pts);
	/* A segment whose I/O failed is closed; the next starts at a key. */
	if (c->file != NULL && vigil_wfile_failed(c->file))
		seg_close(c, pts);
	if (key && c->file != NULL && pts >= c->seg_start + c->conf->seg_ticks)
		seg_close(c, pts);
	if (c->file == NULL && (key || !c->started))
		(void)seg_open(c, pts, f->arrival_ns);
	if (c->started && pts > c->last_pts)
		c->frame_ticks = pts - c->last_pts;
	c->last_pts = pts;
	c->started = true;
	if (c->file == NULL || len == 0) {
		c->st.frames_dropped++;
		return;
	}
	/* Watched live: a part ends before a key frame, or before a frame
	 * that would take it past its target duration. */
	if (c->live_slot >= 0 && c->seg_frames > 0 &&
	    (key || pts + c->frame_ticks - c->part_start > VIGIL_LIVE_PART_MS * (VIGIL_RTP_CLOCK_HZ / 1000))) {
		if ((ret = vigil_mux_cut(c->mux)) < 0)
			vigil_segments_error(c, VIGIL_REC_CAUSE_mux, ret, "flush");
		vigil_live_part(c->conf->live, c->live_slot, c->seq - 1, c->map, (uint32_t)(pts - c->part_start),
				c->part_key, false, 0);
		c->part_start = pts;
		c->part_key = key;
	}
	ret = vigil_mux_write(c->mux, data, len, pts, dts, c->frame_ticks, key);
	if (c->init_len > 0)
		init_write(c);
	if (ret < 0) {
		vigil_segments_error(c, VIGIL_REC_CAUSE_mux, ret, "frame");
		c->st.frames_dropped++;
	} else {
		c->st.frames_recorded++;
		c->seg_frames++;
	}
}

void vigil_segments_sync(struct vigil_segments *c, uint64_t now)
{
	if (c->file == NULL || !c->unsynced || now - c->synced_ns < c->conf->max_unsynced_ns)
		return;
	if (c->placed != NULL)
		vigil_mux_flush(c->mux); /* its bytes are in the staging buffer the sync moves */
	vigil_wfile_sync(c->file);
	if (c->placed != NULL)
		cam_place(c);
	c->unsynced = false;
	c->synced_ns = now;
}

/* The open segment ends where a next frame would have begun. */
void vigil_segments_close(struct vigil_segments *c)
{
	c->stopping = true; /* what retention removes from here is unlinked */
	seg_close(c, c->last_pts + (c->frame_ticks > 0 ? c->frame_ticks : SEG_NOMINAL_FRAME_TICKS));
}

void vigil_segments_end(struct vigil_segments *c)
{
	if (c->ended)
		return;
	c->ended = true;
	vigil_segments_list(c, &(struct vigil_playlist_job){.op = VIGIL_PLAYLIST_END});
}

void vigil_segments_list(struct vigil_segments *c, struct vigil_playlist_job *j)
{
	j->dir = c->st.dir;
	j->target = c->target;
	j->arg = c;
	j->failed = &c->out->playlist_failed;
	vigil_playlist_post(c->out->playlists, j);
}

static void playlist_failed(void *arg, int err)
{
	vigil_segments_error(arg, VIGIL_REC_CAUSE_playlist, err, VIGIL_PLAYLIST_NAME);
}

unsigned vigil_segments_playlist_failures(struct vigil_segments_out *out)
{
	return vigil_playlist_failures(&out->playlist_failed, playlist_failed);
}

const struct vigil_recorder_stats *vigil_segments_stats(const struct vigil_segments *c)
{
	return &c->st;
}
