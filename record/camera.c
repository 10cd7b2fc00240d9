/* SPDX-License-Identifier: MIT */
/* One camera's recording across segments and runs: set up from what is on
 * disk (its folder, what a crash left, its sealed chain), the settings
 * the control plane hands over, taken where a segment begins, and its
 * chain state in StateDir, written through the writer before each sealed
 * segment begins and at a clean stop (chain.h). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "vigil/log.h"
#include "vigil/clock.h"
#include "segment_internal.h"

struct vigil_segments_settings *vigil_segments_settings_of(const struct vigil_camera_config *cam)
{
	struct vigil_segments_settings *s = calloc(1, sizeof(*s));

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

/* New settings apply here: where a segment begins, and in the retention
 * scan. Sealing is decided per segment, so a change never touches the
 * open one; retention applies at once. */
void vigil_segments_settle(struct vigil_segments *c)
{
	struct vigil_segments_settings *s = vigil_segments_settings_take(c->handed);
	bool was_retaining = vigil_segments_retaining(c);

	if (s == NULL)
		return;
	c->set = *s;
	free(s);
	if (c->set.sealed && c->seal == NULL && (c->seal = vigil_seal_create()) == NULL)
		vigil_segments_error(c, VIGIL_REC_CAUSE_seal, -errno, "setup");
	if (!vigil_segments_retaining(c)) {
		c->segs_head = c->n_segs = 0;
		c->disk_bytes = 0;
	} else if (!was_retaining) {
		vigil_segments_load(c);
	}
	c->next_expire_ns = 0; /* a changed retention applies at once */
}

static void state_submit(struct vigil_segments *c);

/* The chain state write in flight is over: durable, or failed (counted;
 * recording goes on without that promise). The segments it covers may
 * be created now; the state that waited goes next. */
static void state_done(struct vigil_segments *c)
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
	struct vigil_segments *c = arg;

	if (io->ev == VIGIL_WEV_ERROR)
		vigil_segments_error(c, VIGIL_REC_CAUSE_state, io->err, io->path);
	if ((io->ev == VIGIL_WEV_CLOSED || io->ev == VIGIL_WEV_ERROR) && c->state_busy)
		state_done(c);
}

/* The state that waits, through the ring like the segments: temporary,
 * fsync, rename, fsync of StateDir/chain. One small write per sealed
 * segment, and the recorder thread never waits for it. */
static void state_submit(struct vigil_segments *c)
{
	char final[PATH_MAX], temp[PATH_MAX];
	struct vigil_wfile *f = NULL;

	c->state_want = false;
	c->state_busy = true;
	c->state_seq = c->state_next_seq;
	if (vigil_chain_paths(c->conf->state_dir, c->set.name, final, temp, sizeof(final)) == 0)
		f = vigil_wfile_open(c->out->w, temp, final, NULL, state_io, c);
	else
		errno = ENAMETOOLONG;
	if (f == NULL) {
		vigil_segments_error(c, VIGIL_REC_CAUSE_state, -errno, c->conf->state_dir);
		state_done(c);
		return;
	}
	(void)vigil_wfile_append(f, c->state_next, c->state_next_len); /* a failure comes through state_io */
	vigil_wfile_close(f);
}

/* The camera's chain state is now this: written as soon as the write in
 * flight, if any, is over (a newer state replaces one that waits). */
void vigil_segments_state_put(struct vigil_segments *c, enum vigil_chain_state state, uint32_t seq,
			      const uint8_t tag[VIGIL_SEAL_TAG_BYTES])
{
	c->state_next_len = vigil_chain_format(c->state_next, c->set.name, state, seq, tag);
	c->state_next_seq = seq;
	c->state_want = true;
	if (!c->state_busy)
		state_submit(c);
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

/* What needs only the filesystem and c: the folder, crash recovery, the
 * chain state. */
static int cam_recover(struct vigil_segments *c)
{
	const struct vigil_segments_conf *conf = c->conf;
	struct vigil_recovery found;
	uint32_t newest = UINT32_MAX; /* sealed segment on disk */
	char msg[2 * PATH_MAX + 256];
	int ret;

	/* Room for "/NNNNNNNN.ts.partial" (and more digits) after it. */
	if (snprintf(c->st.dir, sizeof(c->st.dir), "%s/%s", conf->record_dir, c->set.name) >= PATH_MAX - 32)
		return -ENAMETOOLONG;
	ret = mkdir_p(c->st.dir, 0750);
	if (ret < 0)
		return ret;
	/* What a crash left: .partial segments made whole, the playlist
	 * rewritten to list every segment on disk, and those uploaded and
	 * removed (KeepLocal = no): still the camera's, listed, their
	 * numbers never used again. */
	ret = vigil_playlist_recover(c->st.dir, 2 * (unsigned)(conf->seg_ticks / VIGIL_RTP_CLOCK_HZ),
				     !vigil_segments_retaining(c),
				     conf->up != NULL ? vigil_uploader_uploaded_below(conf->up, c->set.name) : 0, &found,
				     msg, sizeof(msg));
	if (ret < 0) {
		vigil_log(VIGIL_LOG_ERR, "vigil: recorder: camera %s: %s\n", c->set.name, msg);
		return ret;
	}
	if (found.recovered + found.discarded > 0)
		vigil_log(
		    VIGIL_LOG_NOTICE,
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
		/* Uploaded and gone from disk: the size the playlist gave. */
		vigil_segments_keep(c, &found.list[i], stat(path, &sb) == 0 ? (uint64_t)sb.st_size : found.list[i].bytes);
		if (found.list[i].kind == VIGIL_SEG_SEALED &&
		    (newest == UINT32_MAX || found.list[i].seq > newest))
			newest = found.list[i].seq;
	}
	free(found.list);
	if (vigil_chain_load(conf->state_dir, c->set.name, c->st.dir, newest, &c->link, msg, sizeof(msg)) > 0)
		vigil_log(VIGIL_LOG_WARNING, "vigil: recorder: camera %s: %s\n", c->set.name, msg);
	/* A number is never used twice, even once the newest segments are gone. */
	if (c->link.kind != VIGIL_SEAL_LINK_NONE && c->link.prev >= c->seq)
		c->seq = c->link.prev + 1;
	return 0;
}

/* What needs its writer: retention's removals, the sealer, the muxer. */
static int cam_start(struct vigil_segments *c)
{
	const struct vigil_segments_conf *conf = c->conf;

	vigil_segments_expire(c, vigil_clock_ns(CLOCK_REALTIME), true);
	if (c->set.sealed) {
		c->seal = vigil_seal_create();
		if (c->seal == NULL)
			return -errno;
	}
	c->mux =
	    vigil_mux_create(c->set.codec, conf->format, vigil_segments_muxed, vigil_segments_init_out, c);
	return c->mux == NULL ? -errno : 0;
}

void vigil_segments_free(struct vigil_segments *c)
{
	if (c == NULL)
		return;
	vigil_mux_free(c->mux);
	vigil_seal_free(c->seal);
	free(c->init);
	free(c->segs);
	free(c);
}

/* Says why c could not be set up, and frees it. */
static struct vigil_segments *cam_failed(struct vigil_segments *c, const char *name, int ret)
{
	vigil_log(VIGIL_LOG_ERR, "vigil: recorder: camera %s: %s: %s\n", name, c != NULL ? c->st.dir : "", strerror(-ret));
	vigil_segments_free(c);
	errno = -ret;
	return NULL;
}

struct vigil_segments *vigil_segments_recover(const struct vigil_segments_conf *conf,
					      struct vigil_segments_out *out,
					      struct vigil_segments_settings **handed,
					      const struct vigil_segments_settings *s)
{
	struct vigil_segments *c = calloc(1, sizeof(*c));
	int ret = -ENOMEM;

	if (c != NULL) {
		c->conf = conf;
		c->out = out;
		c->handed = handed;
		c->set = *s;
		c->live_slot = -1;
		ret = cam_recover(c);
	}
	return ret < 0 ? cam_failed(c, s->name, ret) : c;
}

int vigil_segments_start(struct vigil_segments *c)
{
	int ret = cam_start(c);

	if (ret < 0)
		(void)cam_failed(c, c->set.name, ret);
	return ret;
}

struct vigil_segments *vigil_segments_create(const struct vigil_segments_conf *conf,
					     struct vigil_segments_out *out,
					     struct vigil_segments_settings **handed,
					     const struct vigil_segments_settings *s)
{
	struct vigil_segments *c = vigil_segments_recover(conf, out, handed, s);

	return c != NULL && vigil_segments_start(c) < 0 ? NULL : c;
}

/* A clean stop: the chain state says how the last sealed segment ended,
 * once it is on disk. */
void vigil_segments_chain_close(struct vigil_segments *c)
{
	if (c->conf->chain_dirfd < 0 || !c->chain_moved)
		return;
	c->chain_moved = false;
	vigil_segments_state_put(
	    c, c->link.kind == VIGIL_SEAL_LINK_NEXT ? VIGIL_CHAIN_CLOSED : VIGIL_CHAIN_ABANDONED,
	    c->link.prev, c->link.tag);
}
