/* SPDX-License-Identifier: MIT */
/* Port setup: the one ethdev the EAL probed, its mbuf pool and queues. */
#ifndef VIGIL_PORT_H
#define VIGIL_PORT_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/limits.h"

struct rte_mempool;

struct vigil_port {
	uint16_t id;
	uint16_t rx_queues; /* min(workers, what the device has) */
	uint16_t tx_queues;
	struct rte_mempool *mbufs;
	char spread[160]; /* how packets are spread over the RX queues, for the log */
};

/* The mbufs a port needs: every RX ring full, handoff rings full, frames
 * on their way to disk and one under assembly per camera. */
static inline unsigned vigil_port_mbufs(unsigned workers, unsigned max_cameras)
{
	return workers * (VIGIL_MBUFS_PER_QUEUE + VIGIL_HANDOFF_RING_SIZE + VIGIL_FRAME_MBUFS_IN_FLIGHT + VIGIL_HOLD_PACKETS) +
	       max_cameras * VIGIL_MBUFS_PER_CAMERA;
}

/* Find the single probed port, give it up to `workers` RX and TX queues
 * (RSS on the UDP 5-tuple where the device has it), its mbuf pool, start
 * it. 0 or -errno; msg gets a reason on failure. */
int vigil_port_start(struct vigil_port *port, unsigned workers, unsigned max_cameras, char *msg, size_t msglen);
void vigil_port_stop(struct vigil_port *port);

#endif
