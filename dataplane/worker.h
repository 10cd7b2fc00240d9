/* SPDX-License-Identifier: MIT */
/* A worker lcore: the receive loop that strings the data-plane stages
 * together for the RX queue and the streams it owns. */
#ifndef VIGIL_WORKER_H
#define VIGIL_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>

#include "vigil/config.h"
#include "vigil/counters.h"
#include "vigil/frame.h"
#include "neigh.h"
#include "reorder.h"
#include "stream.h"

struct rte_mbuf;

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
	 * multi-producer), and its replies, which the worker with TX queue 0
	 * sends. NULL: no handshakes. */
	struct rte_ring *to_control;
	struct rte_ring *from_control;
	/* Its rings to the recorder threads (the stream table picks one per
	 * camera); watched here only to pace a capture. */
	struct vigil_frame_ring *const *frames;
	unsigned n_recorders;
	struct vigil_reorder_list reorder; /* own streams holding packets back */
	volatile bool *stop;
	volatile bool done; /* set when the loop has ended and flushed */
	uint64_t busy_tsc;  /* TSC ticks spent on bursts that brought packets: the load */
	/* Wall clock from the TSC, so the loop makes no clock syscalls. */
	uint64_t tsc_hz;
	uint64_t tsc0;
	uint64_t wall0_ns;
} __rte_cache_aligned;

/* The receive loop, for rte_eal_remote_launch. Returns 0. At the end it
 * closes what the depacketizers still hold, so every frame is accounted. */
int vigil_worker_main(void *arg);

/* Packets through all stages, a burst at a time: for tests and benchmarks. A packet
 * the worker transmitted (a reply built in place) is set to NULL in pkts;
 * the caller frees the rest, e.g. with rte_pktmbuf_free_bulk. */
void vigil_worker_process(struct vigil_worker *w, struct rte_mbuf **pkts, uint16_t n);

#endif
