/* SPDX-License-Identifier: MIT */
/* Port setup: the one ethdev the EAL probed, its mbuf pool and queues. */
#ifndef VIGIL_PORT_H
#define VIGIL_PORT_H

#include <stddef.h>
#include <stdint.h>

struct rte_mempool;

struct vigil_port {
	uint16_t id;
	uint16_t rx_queues; /* min(workers, what the device has) */
	uint16_t tx_queues;
	struct rte_mempool *mbufs;
	char spread[160]; /* how packets are spread over the RX queues, for the log */
};

/* Find the single probed port, give it up to `workers` RX and TX queues
 * (RSS on the UDP 5-tuple where the device has it), start it. 0 or -errno;
 * msg gets a reason on failure. */
int vigil_port_start(struct vigil_port *port, unsigned workers, char *msg, size_t msglen);
void vigil_port_stop(struct vigil_port *port);

#endif
