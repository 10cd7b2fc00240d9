/* SPDX-License-Identifier: MIT */
/* A worker lcore: the receive loop that strings the data-plane stages
 * together for the RX queue and the streams it owns. */
#ifndef VIGIL_WORKER_H
#define VIGIL_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>

#include "vigil/config_model.h"
#include "counters.h"
#include "vigil/frame.h"
#include "hs_cookie.h"
#include "neigh.h"
#include "reorder.h"
#include "rtp.h"
#include "stream.h"

struct rte_mbuf;

/* What the stages learn about one packet of a burst. */
struct vigil_pkt {
	struct rte_mbuf **mbuf; /* its place in the burst's array */
	uint8_t *rtp;  /* RTP header inside the mbuf */
	uint32_t len;  /* SRTP packet length (UDP payload) */
	uint32_t wire_len; /* frame length, for rx_bytes */
	struct vigil_rtp hdr; /* of SRTCP, only ssrc: its sender's */
	struct vigil_stream *stream;
	uint64_t index; /* estimated SRTP packet index; of RTX, once taken, the original's */
	bool rtcp;      /* SRTCP (RTCP muxed on the port, RFC 5761) */
	bool rtx;       /* of the stream's RTX SSRC (RFC 4588) */
};

/* A burst in the pipeline: its mbufs (NULL where a stage took one), the
 * packets the first half looked up, and their streams, each run of a
 * camera's packets once. */
struct vigil_burst {
	struct rte_mbuf *m[VIGIL_BURST];
	uint16_t n_mbufs;
	uint16_t n;
	uint16_t n_streams;
	struct vigil_pkt p[VIGIL_BURST];
	struct vigil_stream *streams[VIGIL_BURST];
};

/* What the workers of one port share. */
struct vigil_workers_shared {
	unsigned n_workers;
	/* Each worker's inbound ring: packets another worker received for a
	 * stream this one owns (multi-producer, single consumer). */
	struct rte_ring *inbound[VIGIL_MAX_WORKERS];
	/* Capture replay: set once the capture is read to the end. */
	volatile bool rx_ended;
};

struct vigil_worker {
	struct vigil_counters ctr; /* packets no camera can be charged with */
	const struct vigil_config *cfg;
	struct vigil_stream_table *streams;
	struct vigil_workers_shared *shared; /* NULL: a lone worker */
	unsigned id;       /* 0..n_workers-1, also the RCU thread id */
	uint16_t port;
	bool has_rx;       /* polls RX queue `queue` of the port */
	uint16_t queue;
	bool has_tx;       /* may answer ARP/NDP/echo on TX queue `tx_queue` */
	uint16_t tx_queue;
	struct vigil_neigh neigh;
	/* Capture replay: an empty burst means the capture has ended, and
	 * the worker waits for the recorder instead of dropping frames. */
	bool replay_capture;
	/* Handshakes (HandshakePort): packets to the control plane (shared,
	 * multi-producer), initiations that prove their source by a cookie on
	 * a ring of their own (checked against the control plane's published
	 * secret), and its replies, which the worker with TX queue 0 sends.
	 * NULL: no handshakes. */
	struct rte_ring *to_control;
	struct rte_ring *to_control_proven;
	const struct vigil_hs_cookie *hs_cookie;
	uint64_t unknown_tsc; /* when an unknown SSRC's packet last went to the control plane */
	struct rte_ring *from_control;
	/* Its rings to the recorder threads (the stream table picks one per
	 * camera); watched here only to pace a capture. */
	struct vigil_frame_ring *const *frames;
	unsigned n_recorders;
	struct vigil_reorder_list reorder; /* own streams holding packets back */
	/* Streams of the burst with feedback to send when it is done. */
	struct vigil_stream *feedback[VIGIL_BURST];
	unsigned n_feedback;
	uint64_t renack_tsc; /* when the waiting streams were last looked at */
	/* Two bursts in flight: while one is decrypted the next one's stream
	 * state is on its way into the cache. held is the one looked up and
	 * not yet finished (NULL: none); it holds stream pointers, so the
	 * worker reports a quiescent state only without one. */
	struct vigil_burst bursts[2];
	struct vigil_burst *held;
	unsigned held_bursts; /* pushed since the pipeline was last empty */
	volatile bool *stop;
	volatile bool done; /* set when the loop has ended and flushed */
	uint64_t busy_tsc;  /* TSC ticks of iterations that took or finished packets: the load */
	/* Wall clock from the TSC, so the loop makes no clock syscalls. */
	uint64_t tsc_hz;
	uint64_t tsc0;
	uint64_t wall0_ns;
} __rte_cache_aligned;

/* The receive loop, for rte_eal_remote_launch. Returns 0. At the end it
 * closes what the depacketizers still hold, so every frame is accounted. */
int vigil_worker_main(void *arg);

/* The pipeline, as the receive loop runs it. The caller fills the burst
 * vigil_worker_burst returns (m and n_mbufs, at most VIGIL_BURST) and
 * pushes it: its packets are classified and looked up, and the burst
 * pushed before is finished (replay, decrypt, depacketize) and its mbufs
 * that no stage kept are freed. Drain finishes the burst still held. */
struct vigil_burst *vigil_worker_burst(struct vigil_worker *w);
void vigil_worker_push(struct vigil_worker *w);
void vigil_worker_drain(struct vigil_worker *w);

/* Packets through all stages at once, a burst at a time: for tests. A
 * packet the worker transmitted or kept (a reply built in place, a frame's
 * packet) is set to NULL in pkts; the caller frees the rest, e.g. with
 * rte_pktmbuf_free_bulk. */
void vigil_worker_process(struct vigil_worker *w, struct rte_mbuf **pkts, uint16_t n);

#endif
