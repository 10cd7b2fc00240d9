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
	unsigned n_recorders;
	/* Worker w -> recorder thread r: at vigil_frame_ring_index(w, r, n_recorders). */
	struct vigil_frame_ring *frames[VIGIL_MAX_WORKERS * VIGIL_MAX_RECORDERS];
	unsigned lcore[VIGIL_MAX_WORKERS];
	/* Handshake packets to the control plane, the initiations among them
	 * proven by a cookie, and its replies (none without a HandshakePort).
	 * hs_cookie, the secret the workers check cookies with, is the
	 * control plane's: set it before the launch. */
	struct rte_ring *to_control, *to_control_proven, *from_control;
	const struct vigil_hs_cookie *hs_cookie;
};

/* Rings for n workers: to each of n_recorders recorder threads (a share
 * of the worker's VIGIL_FRAME_MBUFS_IN_FLIGHT mbufs each, as many frames),
 * for handed-off packets, and for handshakes to and from the control
 * plane. */
int vigil_workers_create(struct vigil_workers *ws, unsigned n, unsigned n_recorders, bool handshakes, char *msg,
			 size_t msglen);

/* Give every worker its queues and what it works with, then launch them on
 * the worker lcores. */
int vigil_workers_launch(struct vigil_workers *ws, const struct vigil_port *port, const struct vigil_config *cfg,
			 struct vigil_stream_table *streams, const struct vigil_neigh *neigh, volatile bool *stop, bool replay_capture, char *msg,
			 size_t msglen);

/* Every worker has ended and flushed its streams. */
bool vigil_workers_done(const struct vigil_workers *ws);
void vigil_workers_wait(struct vigil_workers *ws);
void vigil_workers_free(struct vigil_workers *ws);

#endif
