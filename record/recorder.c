/* SPDX-License-Identifier: MIT */
/* The recorder threads and the rings that feed them. Each thread
 * (Recorders) owns a share of the cameras (vigil_frame_recorder), a frame
 * ring from every worker and one io_uring writer its cameras write with,
 * so no state is shared between threads. A camera's own recording, from
 * open segment to durable, is in segment.c; the control plane's settings
 * reach a camera through its slot here, by atomic exchange. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <rte_ring.h>
#include <sodium.h>

#include "vigil/log.h"
#include "vigil/clock.h"
#include "vigil/limits.h"
#include "chain.h"
#include "playlist.h"
#include "recorder.h"
#include "segment.h"

#define REC_IDLE_US 200
#define REC_RECOVER_THREADS 16 /* crash recovery at start: the disk waits, not the cores */

/* A recorder thread and what it alone touches: the cameras whose slot
 * vigil_frame_recorder gives it, the writer they write with, its ring from
 * each worker. */
struct rec_shard {
	struct vigil_recorder *rec;
	unsigned id;
	uint8_t *gather; /* a frame whose mbufs are chained, made contiguous for the muxer */
	size_t gather_cap;
	struct vigil_segments_out out; /* its writer, and its cameras' first error */
	uint64_t next_sync_scan_ns;
	uint64_t next_retain_scan_ns;
	struct vigil_frame_ring *rings[VIGIL_MAX_WORKERS];
	unsigned n_rings;
	pthread_t thread;
	bool done; /* the thread has closed its cameras' segments */
};

struct vigil_recorder {
	struct vigil_segments_conf conf; /* what every camera's segments are made with */
	unsigned n_cams;		 /* slots: cameras may be added while running */
	struct vigil_segments **cams;	 /* set up at a camera's first frame */
	/* Per slot: settings handed over and not taken yet. Whoever swaps a
	 * pointer out of it owns what it pointed to. */
	struct vigil_segments_settings **handed;
	struct rec_shard *shards;
	unsigned n_shards;
	bool running;
	bool stop; /* set by vigil_recorder_stop, read by the threads */
	/* Durable segments for the control plane: many producers (the
	 * threads), one consumer. Plain memory, so no EAL is needed. */
	struct rte_ring *closed;
	uint64_t closed_lost;
	struct vigil_playlist_queue *playlists; /* every camera's playlist changes */
};

static struct rec_shard *shard_of(struct vigil_recorder *rec, uint32_t camera)
{
	return &rec->shards[vigil_frame_recorder(camera, rec->n_shards)];
}

int vigil_recorder_configure(struct vigil_recorder *rec, unsigned slot, const struct vigil_camera_config *cam)
{
	struct vigil_segments_settings *s;

	if (slot >= rec->n_cams)
		return -EINVAL;
	s = vigil_segments_settings_of(cam);
	if (s == NULL)
		return -ENOMEM;
	/* Release: the copy is whole before the recorder can see it. Settings
	 * handed over before and not taken yet are superseded. */
	free(__atomic_exchange_n(&rec->handed[slot], s, __ATOMIC_ACQ_REL));
	return 0;
}

/* A camera added under the name of one removed: the playlist changes the
 * old one posted are done before the new one reads its folder. Rare (a
 * reload), so a scan. */
static bool cam_dir_used(const struct vigil_recorder *rec, const char *name)
{
	char dir[sizeof(((struct vigil_recorder_stats *)0)->dir)];

	snprintf(dir, sizeof(dir), "%s/%s", rec->conf.record_dir, name);
	for (unsigned i = 0; i < rec->n_cams; i++)
		if (rec->cams[i] != NULL && strcmp(vigil_segments_stats(rec->cams[i])->dir, dir) == 0)
			return true;
	return false;
}

/* Sets up slot's camera with s, which it takes, writing with its thread's
 * writer. On failure the settings are handed back (unless newer ones
 * came), to be tried again at the camera's next frame. */
static int cam_new(struct vigil_recorder *rec, unsigned slot, struct vigil_segments_settings *s)
{
	struct vigil_segments_settings *none = NULL;
	struct vigil_segments *c;

	if (cam_dir_used(rec, s->name))
		vigil_playlist_wait(rec->playlists);
	c = vigil_segments_create(&rec->conf, &shard_of(rec, slot)->out, &rec->handed[slot], s);
	if (c == NULL) {
		int ret = -errno;

		if (!__atomic_compare_exchange_n(&rec->handed[slot], &none, s, false, __ATOMIC_RELEASE,
						 __ATOMIC_RELAXED))
			free(s);
		return ret;
	}
	free(s);
	rec->cams[slot] = c;
	return 0;
}

/* A camera added while running is set up at its first frame, with the
 * settings handed over when it was added. */
static struct vigil_segments *rec_cam_get(struct vigil_recorder *rec, unsigned slot)
{
	struct vigil_segments_settings *s;

	if (slot >= rec->n_cams)
		return NULL;
	if (rec->cams[slot] == NULL) {
		s = vigil_segments_settings_take(&rec->handed[slot]);
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
	for (unsigned i = sh->id; i < rec->n_cams; i += rec->n_shards)
		if (rec->cams[i] != NULL)
			vigil_segments_retain(rec->cams[i], now, false);
}

/* No open segment holds data older than MaxUnsyncedSeconds that is not on
 * disk: a camera that went quiet included. Checked every tenth of that. */
static void rec_sync_due(struct rec_shard *sh)
{
	struct vigil_recorder *rec = sh->rec;
	uint64_t now;

	if (rec->conf.max_unsynced_ns == 0)
		return;
	now = vigil_now_ns();
	if (now < sh->next_sync_scan_ns)
		return;
	sh->next_sync_scan_ns = now + rec->conf.max_unsynced_ns / 10;
	for (unsigned i = sh->id; i < rec->n_cams; i += rec->n_shards)
		if (rec->cams[i] != NULL)
			vigil_segments_sync(rec->cams[i], now);
}

void vigil_recorder_write(struct vigil_recorder *rec, const struct vigil_frame *f, const uint8_t *data,
			  size_t len)
{
	struct rec_shard *sh = shard_of(rec, f->camera);
	struct vigil_segments *c = rec_cam_get(rec, f->camera);

	if (c != NULL)
		vigil_segments_write(c, f, data, len);
	rec_sync_due(sh);
	(void)vigil_writer_reap(sh->out.w, false);
	(void)vigil_segments_playlist_failures(&sh->out);
}

void vigil_recorder_poll(struct vigil_recorder *rec)
{
	for (unsigned s = 0; s < rec->n_shards; s++) {
		(void)vigil_writer_reap(rec->shards[s].out.w, false);
		(void)vigil_segments_playlist_failures(&rec->shards[s].out);
	}
}

/* Every open segment of the shard's cameras closed and durable, their
 * chain state saying how they ended, every playlist ended. */
static void rec_close_all(struct rec_shard *sh)
{
	struct vigil_recorder *rec = sh->rec;

	for (unsigned i = sh->id; i < rec->n_cams; i += rec->n_shards)
		if (rec->cams[i] != NULL)
			vigil_segments_close(rec->cams[i]);
	vigil_writer_drain(sh->out.w);
	for (unsigned i = sh->id; i < rec->n_cams; i += rec->n_shards)
		if (rec->cams[i] != NULL) {
			vigil_segments_chain_close(rec->cams[i]);
			vigil_segments_retain(rec->cams[i], vigil_clock_ns(CLOCK_REALTIME), true);
		}
	vigil_writer_drain(sh->out.w);
	for (unsigned i = sh->id; i < rec->n_cams; i += rec->n_shards)
		if (rec->cams[i] != NULL)
			vigil_segments_end(rec->cams[i]);
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
		vigil_writer_trim(sh->out.w, vigil_now_ns());
		(void)vigil_segments_playlist_failures(&sh->out);
		if (got > 0)
			continue;
		if (stopping)
			break;
		(void)vigil_writer_reap(sh->out.w, false);
		usleep(REC_IDLE_US);
	}
	rec_close_all(sh);
	__atomic_store_n(&sh->done, true, __ATOMIC_RELEASE);
	return NULL;
}

static void rec_join(struct vigil_recorder *rec, unsigned n_threads)
{
	__atomic_store_n(&rec->stop, true, __ATOMIC_RELEASE);
	for (unsigned s = 0; s < n_threads; s++)
		pthread_join(rec->shards[s].thread, NULL);
}

int vigil_recorder_start(struct vigil_recorder *rec, struct vigil_frame_ring *const *rings,
			 unsigned n_workers)
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

		sh->done = false;
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

void vigil_recorder_stop_begin(struct vigil_recorder *rec)
{
	__atomic_store_n(&rec->stop, true, __ATOMIC_RELEASE);
}

bool vigil_recorder_stopped(const struct vigil_recorder *rec)
{
	for (unsigned s = 0; rec->running && s < rec->n_shards; s++)
		if (!__atomic_load_n(&rec->shards[s].done, __ATOMIC_ACQUIRE))
			return false;
	return true;
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
	/* Every playlist ended on disk, and what failed counted. */
	vigil_playlist_wait(rec->playlists);
	for (unsigned s = 0; s < rec->n_shards; s++)
		(void)vigil_segments_playlist_failures(&rec->shards[s].out);
	for (unsigned s = 0; s < rec->n_shards && ret == 0; s++)
		ret = rec->shards[s].out.first_err;
	return ret;
}

const struct vigil_recorder_stats *vigil_recorder_stats(const struct vigil_recorder *rec, unsigned camera)
{
	static const struct vigil_recorder_stats none;

	if (camera >= rec->n_cams)
		return NULL;
	return rec->cams[camera] != NULL ? vigil_segments_stats(rec->cams[camera]) : &none;
}

/* Everything rec holds, whatever create got to. */
static void rec_destroy(struct vigil_recorder *rec)
{
	/* Its jobs name the cameras' folders and the shards' lists. */
	vigil_playlist_queue_free(rec->playlists);
	for (unsigned s = 0; rec->shards != NULL && s < rec->n_shards; s++)
		(void)vigil_segments_playlist_failures(&rec->shards[s].out);
	for (unsigned i = 0; rec->cams != NULL && i < rec->n_cams; i++)
		vigil_segments_free(rec->cams[i]);
	for (unsigned i = 0; rec->handed != NULL && i < rec->n_cams; i++)
		free(rec->handed[i]);
	for (unsigned s = 0; rec->shards != NULL && s < rec->n_shards; s++) {
		vigil_writer_free(rec->shards[s].out.w);
		free(rec->shards[s].gather);
	}
	free(rec->shards);
	free(rec->cams);
	free(rec->handed);
	free(rec->closed);
	vigil_live_free(rec->conf.live);
	if (rec->conf.chain_dirfd >= 0)
		close(rec->conf.chain_dirfd);
	free(rec);
}

/* What of RLIMIT_NOFILE each recorder thread's writer may hold: the rest
 * of vigild (sockets, the EAL, the replay state, playlists being written)
 * keeps a quarter of it, at most 1,024. */
static unsigned fds_per_writer(unsigned n_shards)
{
	struct rlimit rl;
	rlim_t rest;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > UINT_MAX)
		return 0;
	rest = rl.rlim_cur / 4 < 1024 ? rl.rlim_cur / 4 : 1024;
	return (unsigned)((rl.rlim_cur - rest) / n_shards);
}

/* The cameras known at start, recovered on a few threads at once: crash
 * recovery waits on the disk (a camera's folder, its cut segment and its
 * playlist each fsync'd), and one camera after another kept 10,000 cameras
 * from taking traffic for 80-120 s after a crash. The rest of each camera's
 * set-up touches its shard's writer: here, one after another. */
struct recover_job {
	struct vigil_recorder *rec;
	struct vigil_segments_settings **set; /* per configured camera */
	struct vigil_segments **cam;	      /* NULL: failed (err) */
	int *err;
	unsigned n;
	unsigned next; /* the next camera to take */
};

static void *recover_thread(void *arg)
{
	struct recover_job *j = arg;
	unsigned i;

	while ((i = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED)) < j->n) {
		j->cam[i] = vigil_segments_recover(&j->rec->conf, &shard_of(j->rec, i)->out, &j->rec->handed[i],
						   j->set[i]);
		j->err[i] = j->cam[i] == NULL ? -errno : 0;
	}
	return NULL;
}

static int recover_all(struct vigil_recorder *rec, const struct vigil_config *cfg)
{
	struct recover_job j = {.rec = rec, .n = cfg->n_cameras};
	pthread_t threads[REC_RECOVER_THREADS];
	unsigned n_threads = 0;
	int ret = 0;

	if (cfg->n_cameras == 0)
		return 0;
	j.set = calloc(j.n, sizeof(*j.set));
	j.cam = calloc(j.n, sizeof(*j.cam));
	j.err = calloc(j.n, sizeof(*j.err));
	for (unsigned i = 0; j.set != NULL && i < j.n; i++)
		if ((j.set[i] = vigil_segments_settings_of(&cfg->cameras[i])) == NULL)
			ret = -ENOMEM;
	if (j.set == NULL || j.cam == NULL || j.err == NULL || ret < 0) {
		ret = -ENOMEM;
		goto out;
	}
	/* This thread takes its share too: with no thread to spare, all. */
	while (n_threads < REC_RECOVER_THREADS - 1 && n_threads + 1 < j.n &&
	       pthread_create(&threads[n_threads], NULL, recover_thread, &j) == 0)
		n_threads++;
	recover_thread(&j);
	for (unsigned t = 0; t < n_threads; t++)
		pthread_join(threads[t], NULL);
	for (unsigned i = 0; i < j.n; i++) {
		if (ret < 0) {
			vigil_segments_free(j.cam[i]); /* after a failure: not started */
			continue;
		}
		ret = j.cam[i] != NULL ? vigil_segments_start(j.cam[i]) : j.err[i]; /* start frees on failure */
		if (ret == 0)
			rec->cams[i] = j.cam[i];
	}
out:
	for (unsigned i = 0; j.set != NULL && i < j.n; i++)
		free(j.set[i]);
	free(j.set);
	free(j.cam);
	free(j.err);
	return ret;
}

_Static_assert(sizeof(struct vigil_segment_closed) % 4 == 0, "rte_ring elements are multiples of 4 bytes");

static int closed_ring(struct vigil_recorder *rec)
{
	ssize_t size = rte_ring_get_memsize_elem(sizeof(struct vigil_segment_closed), VIGIL_RECORDER_CLOSED_RING);

	if (size < 0)
		return (int)size;
	rec->closed = aligned_alloc(RTE_CACHE_LINE_SIZE, (size_t)size);
	if (rec->closed == NULL)
		return -ENOMEM;
	return rte_ring_init(rec->closed, "vigil_closed", VIGIL_RECORDER_CLOSED_RING, RING_F_SC_DEQ);
}

/* On a recorder thread: never waits. */
static void closed_put(void *arg, const struct vigil_segment_closed *sc)
{
	struct vigil_recorder *rec = arg;

	if (rte_ring_mp_enqueue_elem(rec->closed, (void *)sc, sizeof(*sc)) != 0)
		__atomic_fetch_add(&rec->closed_lost, 1, __ATOMIC_RELAXED);
}

int vigil_recorder_closed(struct vigil_recorder *rec, struct vigil_segment_closed *sc, char *path, size_t pathlen)
{
	if (rte_ring_sc_dequeue_elem(rec->closed, sc, sizeof(*sc)) != 0)
		return 0;
	snprintf(path, pathlen, "%s/%s/%08" PRIu32 "%s", rec->conf.record_dir, sc->camera, sc->seq,
		 vigil_seg_suffix[sc->kind < VIGIL_SEG_KINDS ? sc->kind : VIGIL_SEG_TS]);
	return 1;
}

struct vigil_live *vigil_recorder_live(const struct vigil_recorder *rec)
{
	return rec->conf.live;
}

uint64_t vigil_recorder_closed_lost(const struct vigil_recorder *rec)
{
	return __atomic_load_n(&rec->closed_lost, __ATOMIC_RELAXED);
}

struct vigil_recorder *vigil_recorder_create(const struct vigil_config *cfg, size_t max_frame_bytes,
					     struct vigil_uploader *up)
{
	struct vigil_recorder *rec;
	int ret = -ENOMEM;

	if (cfg == NULL || (cfg->n_cameras > 0 && cfg->cameras == NULL) ||
	    cfg->recorders > VIGIL_MAX_RECORDERS) {
		errno = EINVAL;
		return NULL;
	}
	rec = calloc(1, sizeof(*rec));
	if (rec == NULL)
		return NULL;
	snprintf(rec->conf.record_dir, sizeof(rec->conf.record_dir), "%s", cfg->record_dir);
	rec->conf.format = cfg->format;
	rec->conf.up = up;
	snprintf(rec->conf.state_dir, sizeof(rec->conf.state_dir), "%s", cfg->state_dir);
	rec->conf.chain_dirfd = -1;
	if (sodium_init() < 0) {
		free(rec);
		errno = EIO;
		return NULL;
	}
	randombytes_buf(rec->conf.run, sizeof(rec->conf.run));
	rec->n_cams = cfg->max_cameras > cfg->n_cameras ? cfg->max_cameras : cfg->n_cameras;
	rec->conf.max_unsynced_ns = (uint64_t)cfg->max_unsynced_ms * 1000000u;
	rec->conf.seg_ticks =
	    (int64_t)(cfg->segment_seconds ? cfg->segment_seconds : VIGIL_DEFAULT_SEGMENT_SECONDS) *
	    VIGIL_RTP_CLOCK_HZ;
	rec->cams = calloc(rec->n_cams ? rec->n_cams : 1, sizeof(*rec->cams));
	rec->handed = calloc(rec->n_cams ? rec->n_cams : 1, sizeof(*rec->handed));
	rec->n_shards = cfg->recorders ? cfg->recorders : 1;
	rec->shards = calloc(rec->n_shards, sizeof(*rec->shards));
	if (rec->cams == NULL || rec->handed == NULL || rec->shards == NULL || closed_ring(rec) < 0)
		goto err;
	/* Low-latency HLS for whoever watches a plain fMP4 camera live. */
	if (cfg->format == VIGIL_FORMAT_FMP4 && cfg->playback_listen.port != 0 &&
	    (rec->conf.live = vigil_live_create()) == NULL)
		goto err;
	rec->playlists = vigil_playlist_queue_create();
	if (rec->playlists == NULL) {
		ret = -errno;
		goto err;
	}
	if (rec->conf.state_dir[0] != '\0') {
		char msg[PATH_MAX + 128];

		ret = vigil_chain_dir_open(rec->conf.state_dir, msg, sizeof(msg));
		if (ret < 0) {
			vigil_log(VIGIL_LOG_ERR, "vigil: recorder: %s\n", msg);
			goto err;
		}
		rec->conf.chain_dirfd = ret;
	}
	for (unsigned s = 0; s < rec->n_shards; s++) {
		struct rec_shard *sh = &rec->shards[s];
		unsigned cams = (rec->n_cams + rec->n_shards - 1) / rec->n_shards;

		sh->rec = rec;
		sh->id = s;
		sh->gather = malloc(max_frame_bytes);
		sh->gather_cap = max_frame_bytes;
		sh->out.closed = closed_put;
		sh->out.closed_arg = rec;
		sh->out.playlists = rec->playlists;
		/* A staging buffer per camera and as many again in flight. */
		sh->out.w = vigil_writer_create(VIGIL_WRITER_ENTRIES, 2 * cams + 2); /* grown as used */
		if (sh->out.w == NULL)
			ret = -errno;
		else
			vigil_writer_limit_fds(sh->out.w, fds_per_writer(rec->n_shards));
		if (sh->gather == NULL || sh->out.w == NULL)
			goto err;
	}
	/* The cameras known now (the last time the recorder reads the
	 * configuration's cameras): a recording directory that cannot be made
	 * stops vigild before it takes any traffic. */
	ret = recover_all(rec, cfg);
	if (ret < 0)
		goto err;
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
