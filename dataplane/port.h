/* SPDX-License-Identifier: MIT */
/* Port setup: the one ethdev the EAL probed, its mbuf pool and queues. */
#ifndef VIGIL_PORT_H
#define VIGIL_PORT_H

#include <stdint.h>

struct rte_mempool;

/* Find the single probed port, configure rx_queues RX queues and one TX
 * queue, start it. 0 or -errno; msg gets a reason on failure. */
int vigil_port_start(uint16_t *port, unsigned rx_queues, struct rte_mempool **pool, char *msg, size_t msglen);
void vigil_port_stop(uint16_t port, struct rte_mempool *pool);

#endif
