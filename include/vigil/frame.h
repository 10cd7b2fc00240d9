/* SPDX-License-Identifier: MIT */
/* A complete access unit, as handed from a worker to the recorder: the
 * chain of the mbufs its packets arrived in, each trimmed in place to its
 * part of the Annex-B byte stream (start code before every NAL unit). Its
 * description lives in the private area of the chain's first mbuf. Nothing
 * is copied until the recorder muxes it. */
#ifndef VIGIL_FRAME_H
#define VIGIL_FRAME_H

#include <stdint.h>

#include <rte_common.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#define VIGIL_FRAME_KEY 0x1u /* IDR (H.264) or IRAP (H.265) access unit */

struct vigil_frame {
	uint32_t camera;     /* index into vigil_config.cameras */
	uint32_t flags;      /* VIGIL_FRAME_* */
	uint32_t rtp_ts;     /* RTP timestamp of the access unit, 90 kHz */
	uint32_t _pad;
	uint64_t arrival_ns; /* wall clock when its first packet arrived */
};

/* The private area every mbuf pool of the data plane is created with. */
#define VIGIL_MBUF_PRIV_SIZE RTE_ALIGN(sizeof(struct vigil_frame), RTE_MBUF_PRIV_ALIGN)

static inline struct vigil_frame *vigil_frame_of(struct rte_mbuf *head)
{
	return (struct vigil_frame *)rte_mbuf_to_priv(head);
}

/* A worker's way to the recorder. Frames hold mbufs the NIC needs back, so
 * besides the ring's own bound the mbufs on their way are bounded too: a
 * recorder that falls behind costs frames (counted ring_full), never RX. */
struct vigil_frame_ring {
	struct rte_ring *ring; /* frame heads; single producer, single consumer */
	uint64_t max_segs;     /* mbufs allowed in frames on the ring */
	uint64_t segs_queued __rte_cache_aligned; /* written by the worker only */
	uint64_t segs_freed __rte_cache_aligned;  /* written by the recorder only */
};

/* The recorder thread a camera's frames go to: each has its own share of
 * the cameras and its own ring from every worker. */
static inline unsigned vigil_frame_recorder(uint32_t camera, unsigned n_recorders)
{
	return camera % n_recorders;
}

/* Where worker w's ring to recorder thread r is, among the rings of every
 * worker to each of n_recorders recorder threads: a worker's rings are
 * side by side, so its own start at vigil_frame_ring_index(w, 0, n). */
static inline unsigned vigil_frame_ring_index(unsigned worker, unsigned recorder, unsigned n_recorders)
{
	return worker * n_recorders + recorder;
}

/* Recorder side: the frame is muxed and its mbufs go back to the pool. */
static inline void vigil_frame_ring_done(struct vigil_frame_ring *r, struct rte_mbuf *head)
{
	uint64_t segs = head->nb_segs;

	rte_pktmbuf_free(head);
	__atomic_store_n(&r->segs_freed, r->segs_freed + segs, __ATOMIC_RELEASE);
}

/* Recorder side, for tests and benchmarks that stand in for it: every
 * frame on the ring done with, unmuxed. */
static inline void vigil_frame_ring_drain(struct vigil_frame_ring *r)
{
	void *f[64];
	unsigned n;

	while ((n = rte_ring_dequeue_burst(r->ring, f, RTE_DIM(f), NULL)) > 0)
		for (unsigned k = 0; k < n; k++)
			vigil_frame_ring_done(r, f[k]);
}

/* Worker side: mbufs in frames the recorder has not finished with. */
static inline uint64_t vigil_frame_ring_segs(const struct vigil_frame_ring *r)
{
	return r->segs_queued - __atomic_load_n(&r->segs_freed, __ATOMIC_ACQUIRE);
}

#endif
