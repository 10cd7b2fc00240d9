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
#include "neigh.h"
#include "stream.h"

struct rte_mbuf;

struct vigil_worker {
	struct vigil_counters ctr; /* packets no camera can be charged with */
	const struct vigil_config *cfg;
	struct vigil_stream_table *streams;
	uint16_t port;
	uint16_t queue;
	uint16_t tx_queue; /* replies to ARP/NDP/echo requests */
	struct vigil_neigh neigh;
	/* Capture replay: an empty burst means the capture has ended, and
	 * the worker waits for the recorder instead of dropping frames. */
	bool replay_capture;
	struct rte_ring *frames;
	struct vigil_frame_pool *pool;
	volatile bool *stop;
	volatile bool done; /* set when the loop has ended and flushed */
	unsigned rcu_id;    /* this worker's thread id in the stream table's QSBR */
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
