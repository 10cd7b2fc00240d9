/* SPDX-License-Identifier: MIT */
/* Sets up the worker lcores: a frame ring to the recorder and an inbound
 * ring for handed-off packets each, RX/TX queues as the port has them. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "workers.h"

int vigil_workers_create(struct vigil_workers *ws, unsigned n, unsigned n_recorders, bool handshakes, char *msg,
			 size_t msglen)
{
	char name[RTE_RING_NAMESIZE];

	memset(ws, 0, sizeof(*ws));
	ws->w = rte_zmalloc("vigil_workers", n * sizeof(*ws->w), RTE_CACHE_LINE_SIZE);
	if (ws->w == NULL) {
		snprintf(msg, msglen, "no memory for %u workers", n);
		return -ENOMEM;
	}
	ws->n = n;
	ws->n_recorders = n_recorders;
	ws->shared.n_workers = n;
	for (unsigned i = 0; i < n; i++) {
		for (unsigned rec = 0; rec < n_recorders; rec++) {
			struct vigil_frame_ring *r =
			    rte_zmalloc("vigil_frame_ring", sizeof(*r), RTE_CACHE_LINE_SIZE);

			ws->frames[vigil_frame_ring_index(i, rec, n_recorders)] = r;
			if (r == NULL) {
				snprintf(msg, msglen, "no memory for the frame rings of worker %u", i);
				return -ENOMEM;
			}
			/* A worker's share of the mbuf pool, split between its rings. */
			r->max_segs = VIGIL_FRAME_MBUFS_IN_FLIGHT / n_recorders;
			snprintf(name, sizeof(name), "vigil_frames%u_%u", i, rec);
			r->ring = rte_ring_create(name, rte_align32pow2(r->max_segs), (int)rte_socket_id(),
						  RING_F_SP_ENQ | RING_F_SC_DEQ);
			if (r->ring == NULL) {
				snprintf(msg, msglen, "cannot create the frame rings of worker %u: %s", i,
					 rte_strerror(rte_errno));
				return -ENOMEM;
			}
		}
	}
	for (unsigned i = 0; i < n; i++) {
		if (vigil_reorder_list_init(&ws->w[i].reorder, VIGIL_HOLD_SMALL_WINDOWS, VIGIL_HOLD_WINDOWS) < 0) {
			snprintf(msg, msglen, "no memory for the hold windows of worker %u", i);
			return -ENOMEM;
		}
		snprintf(name, sizeof(name), "vigil_inbound%u", i);
		ws->shared.inbound[i] =
		    rte_ring_create(name, VIGIL_HANDOFF_RING_SIZE, (int)rte_socket_id(), RING_F_SC_DEQ);
		if (ws->shared.inbound[i] == NULL) {
			snprintf(msg, msglen, "cannot create the rings of worker %u: %s", i, rte_strerror(rte_errno));
			return -ENOMEM;
		}
	}
	if (!handshakes)
		return 0;
	ws->to_control = rte_ring_create("vigil_to_control", VIGIL_CONTROL_RING_SIZE, (int)rte_socket_id(), RING_F_SC_DEQ);
	ws->to_control_proven = rte_ring_create("vigil_to_control_proven", VIGIL_CONTROL_PROVEN_RING_SIZE,
						(int)rte_socket_id(), RING_F_SC_DEQ);
	ws->from_control = rte_ring_create("vigil_from_control", VIGIL_CONTROL_RING_SIZE, (int)rte_socket_id(),
					   RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (ws->to_control == NULL || ws->to_control_proven == NULL || ws->from_control == NULL) {
		snprintf(msg, msglen, "cannot create the control plane's rings: %s", rte_strerror(rte_errno));
		return -ENOMEM;
	}
	return 0;
}

int vigil_workers_launch(struct vigil_workers *ws, const struct vigil_port *port, const struct vigil_config *cfg,
			 struct vigil_stream_table *streams, const struct vigil_neigh *neigh, volatile bool *stop, bool replay_capture, char *msg,
			 size_t msglen)
{
	unsigned lcore = rte_get_next_lcore(-1, 1, 0);

	for (unsigned i = 0; i < ws->n; i++, lcore = rte_get_next_lcore(lcore, 1, 0)) {
		struct vigil_worker *w = &ws->w[i];
		int rc;

		if (lcore >= RTE_MAX_LCORE) {
			snprintf(msg, msglen, "%u workers need %u worker lcores; the EAL has fewer", ws->n, ws->n);
			return -ENODEV;
		}
		w->cfg = cfg;
		w->streams = streams;
		w->shared = ws->n > 1 ? &ws->shared : NULL;
		w->id = i;
		w->port = port->id;
		w->has_rx = i < port->rx_queues;
		w->queue = (uint16_t)i;
		w->has_tx = i < port->tx_queues;
		w->tx_queue = (uint16_t)i;
		w->neigh = *neigh;
		w->replay_capture = replay_capture;
		w->frames = &ws->frames[vigil_frame_ring_index(i, 0, ws->n_recorders)];
		w->n_recorders = ws->n_recorders;
		w->to_control = ws->to_control;
		w->to_control_proven = ws->to_control_proven;
		w->hs_cookie = ws->hs_cookie;
		w->from_control = ws->from_control;
		w->stop = stop;
		ws->lcore[i] = lcore;
		rc = rte_eal_remote_launch(vigil_worker_main, w, lcore);
		if (rc < 0) {
			snprintf(msg, msglen, "cannot launch worker %u on lcore %u: %s", i, lcore, strerror(-rc));
			*stop = true;
			ws->n = i; /* wait for the ones that run */
			return rc;
		}
	}
	return 0;
}

bool vigil_workers_done(const struct vigil_workers *ws)
{
	for (unsigned i = 0; i < ws->n; i++)
		if (!ws->w[i].done)
			return false;
	return true;
}

void vigil_workers_wait(struct vigil_workers *ws)
{
	for (unsigned i = 0; i < ws->n; i++)
		rte_eal_wait_lcore(ws->lcore[i]);
}

/* What the control plane did not take or send goes back to the pool. */
static void free_mbuf_ring(struct rte_ring *r)
{
	struct rte_mbuf *m;

	while (r != NULL && rte_ring_dequeue(r, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	rte_ring_free(r);
}

void vigil_workers_free(struct vigil_workers *ws)
{
	for (unsigned i = 0; i < RTE_DIM(ws->frames); i++) {
		if (ws->frames[i] != NULL)
			rte_ring_free(ws->frames[i]->ring);
		rte_free(ws->frames[i]);
	}
	for (unsigned i = 0; i < VIGIL_MAX_WORKERS; i++)
		rte_ring_free(ws->shared.inbound[i]);
	free_mbuf_ring(ws->to_control);
	free_mbuf_ring(ws->to_control_proven);
	free_mbuf_ring(ws->from_control);
	for (unsigned i = 0; ws->w != NULL && i < ws->n; i++)
		vigil_reorder_list_free(&ws->w[i].reorder);
	rte_free(ws->w);
}
