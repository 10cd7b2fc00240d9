/* SPDX-License-Identifier: MIT */
/* Builds each camera's stream state from the configuration and the SSRC
 * table the workers look streams up in. Frame handoff to the recorder lives
 * here too: it is the depacketizer's emit callback. */
#include <errno.h>

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_malloc.h>
#include <rte_ring.h>

#include "stream.h"

/* Called by the depacketizer for each complete access unit. The ring is
 * the only way to the recorder; when it is full the frame is dropped and
 * the stream waits for a key frame, so the recording never references a
 * frame it does not have. */
static void stream_emit(void *arg, struct vigil_frame *f)
{
	struct vigil_stream *s = arg;

	if (rte_ring_sp_enqueue(s->frames, f) != 0) {
		s->ctr.v[VIGIL_CTR_ring_full]++;
		s->depay.need_key = true;
		vigil_frame_put(s->env.pool, f);
		return;
	}
	s->ctr.v[VIGIL_CTR_frames_enqueued]++;
}

struct vigil_stream_table *vigil_stream_table_create(const char *name, const struct vigil_config *cfg,
						     struct vigil_frame_pool *pool, struct rte_ring *frames)
{
	struct rte_hash_parameters params = {
		.name = name,
		.entries = cfg->n_cameras < 8 ? 8 : cfg->n_cameras,
		.key_len = sizeof(uint32_t),
		.hash_func = rte_jhash,
		.socket_id = (int)rte_socket_id(),
	};
	struct vigil_stream_table *t;

	t = rte_zmalloc(name, sizeof(*t), 0);
	if (t == NULL)
		goto err_nomem;
	t->streams = rte_zmalloc(name, cfg->n_cameras * sizeof(*t->streams), RTE_CACHE_LINE_SIZE);
	if (t->streams == NULL)
		goto err_table;
	t->by_ssrc = rte_hash_create(&params);
	if (t->by_ssrc == NULL)
		goto err_streams;
	for (unsigned i = 0; i < cfg->n_cameras; i++) {
		const struct vigil_camera_config *cam = &cfg->cameras[i];
		struct vigil_stream *s = &t->streams[i];

		if (vigil_srtp_init(&s->srtp, cam->master_key, cam->master_salt) < 0) {
			rte_errno = EINVAL;
			goto err_hash;
		}
		vigil_replay_init(&s->replay);
		vigil_depay_init(&s->depay, cam->codec);
		s->env = (struct vigil_depay_env){
			.pool = pool,
			.ctr = &s->ctr,
			.emit = stream_emit,
			.emit_arg = s,
			.camera = i,
			.max_frame_bytes = cfg->max_frame_bytes,
		};
		s->frames = frames;
		s->ssrc = cam->ssrc;
		s->camera = i;
		int rc = rte_hash_add_key_data(t->by_ssrc, &s->ssrc, s);

		if (rc < 0) {
			rte_errno = -rc;
			goto err_hash;
		}
		t->n_streams++;
	}
	return t;

err_hash:
	errno = rte_errno;
	vigil_stream_table_free(t);
	return NULL;
err_streams:
	errno = rte_errno;
	rte_free(t->streams);
	rte_free(t);
	return NULL;
err_table:
	rte_free(t);
err_nomem:
	errno = ENOMEM;
	return NULL;
}

void vigil_stream_table_free(struct vigil_stream_table *t)
{
	if (t == NULL)
		return;
	for (unsigned i = 0; i < t->n_streams; i++)
		vigil_srtp_wipe(&t->streams[i].srtp);
	rte_hash_free(t->by_ssrc);
	rte_free(t->streams);
	rte_free(t);
}
