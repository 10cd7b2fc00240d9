/* SPDX-License-Identifier: MIT */
/* The worker lcores as the control plane sees them: their rings, their
 * queues, launching them and waiting for them. */
#ifndef VIGIL_WORKERS_H
#define VIGIL_WORKERS_H

#include <stdbool.h>

#include "port.h"
#include "worker.h"

struct vigil_workers {
	unsigned n;
	struct vigil_workers_shared shared;
	struct vigil_worker *w;                    /* n of them */
	struct rte_ring *frames[VIGIL_MAX_WORKERS]; /* worker i -> recorder */
	unsigned lcore[VIGIL_MAX_WORKERS];
};

/* Rings for n workers, each frame ring holding frame_ring_entries. */
int vigil_workers_create(struct vigil_workers *ws, unsigned n, unsigned frame_ring_entries, char *msg,
			 size_t msglen);

/* Give every worker its queues and what it works with, then launch them on
 * the worker lcores. */
int vigil_workers_launch(struct vigil_workers *ws, const struct vigil_port *port, const struct vigil_config *cfg,
			 struct vigil_stream_table *streams, struct vigil_frame_pool *pool,
			 const struct vigil_neigh *neigh, volatile bool *stop, bool replay_capture, char *msg,
			 size_t msglen);

/* Every worker has ended and flushed its streams. */
bool vigil_workers_done(const struct vigil_workers *ws);
void vigil_workers_wait(struct vigil_workers *ws);
void vigil_workers_free(struct vigil_workers *ws);

#endif
