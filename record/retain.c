/* SPDX-License-Identifier: MIT */
/* Retention of one camera's segments: the durable ones on disk, oldest
 * first, and RetainHours and RetainBytes applied to them through the
 * writer, the playlist then starting after those removed. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "segment_internal.h"

bool vigil_segments_retaining(const struct vigil_segments *c)
{
	return c->set.retain_ns != 0 || c->set.retain_bytes != 0;
}

void vigil_segments_keep(struct vigil_segments *c, const struct vigil_playlist_entry *e, uint64_t bytes)
{
	if (!vigil_segments_retaining(c))
		return;
	if (c->segs_head > 0 && c->segs_head + c->n_segs == c->segs_cap) {
		memmove(c->segs, c->segs + c->segs_head, c->n_segs * sizeof(*c->segs));
		c->segs_head = 0;
	}
	if (c->n_segs == c->segs_cap) {
		unsigned cap = c->segs_cap ? 2 * c->segs_cap : 64;
		struct seg_kept *v = realloc(c->segs, cap * sizeof(*v));

		if (v == NULL)
			return; /* then this one is never removed: kept, not lost */
		c->segs = v;
		c->segs_cap = cap;
	}
	c->segs[c->segs_head + c->n_segs++] = (struct seg_kept){
	    .seq = e->seq,
	    .kind = e->kind,
	    .bytes = bytes,
	    .start_ns = e->start_ns,
	    .end_ns = e->start_ns + (uint64_t)(e->seconds * 1e9),
	};
	c->disk_bytes += bytes;
}

static void seg_path(const struct vigil_segments *c, char *path, size_t len, uint32_t seq, enum vigil_seg_kind kind)
{
	snprintf(path, len, "%s/%08" PRIu32 "%s", c->st.dir, seq, vigil_seg_suffix[kind]);
}

/* The kept files no segment took: removed. */
static void reuse_flush(struct vigil_segments *c)
{
	char path[sizeof(c->st.dir) + 32];

	while (c->n_reuse > 0) {
		seg_path(c, path, sizeof(path), c->reuse[c->reuse_head].seq, c->reuse[c->reuse_head].kind);
		if (vigil_writer_unlink(c->out->w, path, vigil_segments_io, c) < 0)
			break; /* tried again at the next pass */
		c->reuse_head = (c->reuse_head + 1) % SEG_REUSE;
		c->n_reuse--;
	}
}

/* A segment retention removes: its file kept for a next segment unless
 * vigild is stopping or an uploader may still read it, else removed. A
 * camera that does not record again has it removed at its next pass. */
static int seg_retire(struct vigil_segments *c, const struct seg_kept *s)
{
	char path[sizeof(c->st.dir) + 32];

	if (!c->stopping && c->conf->up == NULL && c->n_reuse < SEG_REUSE) {
		unsigned i = (c->reuse_head + c->n_reuse++) % SEG_REUSE;

		c->reuse[i].seq = s->seq;
		c->reuse[i].kind = s->kind;
		return 0;
	}
	seg_path(c, path, sizeof(path), s->seq, s->kind);
	return vigil_writer_unlink(c->out->w, path, vigil_segments_io, c);
}

bool vigil_segments_reuse(struct vigil_segments *c, char *path, size_t len)
{
	if (c->n_reuse == 0)
		return false;
	seg_path(c, path, len, c->reuse[c->reuse_head].seq, c->reuse[c->reuse_head].kind);
	c->reuse_head = (c->reuse_head + 1) % SEG_REUSE;
	c->n_reuse--;
	return true;
}

/* RetainHours, RetainBytes: the oldest segments go, through the ring,
 * then the playlist starts after them. The newest one always stays.
 * A pass that removes something has the playlist rewritten (read,
 * written, renamed over the old one, on the playlist thread: with 10,000
 * cameras at every segment, a third of a thread), so after one the next
 * waits VIGIL_RETAIN_PASS_SECONDS: a camera may hold that much video past
 * RetainBytes, and a segment may outlive RetainHours by as much. Forced
 * at start, on a change of settings and at a clean stop. */
void vigil_segments_expire(struct vigil_segments *c, uint64_t now, bool force)
{
	unsigned removed = 0;

	if (!force && now < c->next_expire_ns)
		return;
	reuse_flush(c);
	while (c->n_segs > 1) {
		struct seg_kept *s = &c->segs[c->segs_head];

		if (!(c->set.retain_bytes != 0 && c->disk_bytes > c->set.retain_bytes) &&
		    !(c->set.retain_ns != 0 && s->end_ns + c->set.retain_ns < now))
			break;
		if (seg_retire(c, s) < 0)
			break; /* tried again with the next segment */
		c->st.segments_removed++;
		if (c->conf->up != NULL) /* the bucket's copy too */
			vigil_uploader_post(c->conf->up, c->set.name, s->kind, s->seq, 0, 0, s->start_ns, true);
		c->disk_bytes -= s->bytes;
		c->segs_head++;
		c->n_segs--;
		removed++;
	}
	if (removed > 0) {
		/* 20 to 30 s: cameras that started together (a restart, a
		 * fleet) drift apart, and so do their removals and playlist
		 * rewrites, instead of 10,000 at once every 30 s. */
		uint64_t pass = VIGIL_RETAIN_PASS_SECONDS * UINT64_C(1000000000);
		uint64_t spread = ((now ^ (uintptr_t)c) * UINT64_C(0x9E3779B97F4A7C15)) >> 32;

		c->next_expire_ns = now + pass - spread % (pass / 3);
		vigil_segments_list(c, &(struct vigil_playlist_job){.op = VIGIL_PLAYLIST_DROP,
								    .first_seq = c->segs[c->segs_head].seq});
	}
}

/* Retention turned on: the segments the playlist lists are counted in, so
 * that those made before the change go too. Read from disk on the
 * recorder thread, once the playlist thread has done what it had: a wait
 * acceptable for a change an admin makes. */
void vigil_segments_load(struct vigil_segments *c)
{
	struct vigil_playlist_entry *list = NULL;
	char path[sizeof(c->st.dir) + 32];
	unsigned n = 0;
	int ret;

	vigil_playlist_wait(c->out->playlists); /* its appends on disk */
	ret = vigil_playlist_read(c->st.dir, &list, &n);
	if (ret < 0)
		vigil_segments_error(c, VIGIL_REC_CAUSE_playlist, ret, VIGIL_PLAYLIST_NAME);
	for (unsigned i = 0; i < n; i++) {
		struct stat sb;

		seg_path(c, path, sizeof(path), list[i].seq, list[i].kind);
		if (stat(path, &sb) == 0)
			vigil_segments_keep(c, &list[i], (uint64_t)sb.st_size);
		else if (c->conf->up != NULL && list[i].bytes != 0) /* uploaded, gone from disk */
			vigil_segments_keep(c, &list[i], list[i].bytes);
	}
	free(list);
}

/* RetainHours goes on for cameras that stopped sending, and changed
 * retention applies to them. */
void vigil_segments_retain(struct vigil_segments *c, uint64_t now, bool force)
{
	vigil_segments_settle(c); /* a changed retention, for a camera gone quiet */
	if (vigil_segments_retaining(c))
		vigil_segments_expire(c, now, force);
	else
		reuse_flush(c); /* retention turned off */
}
