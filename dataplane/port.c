/* SPDX-License-Identifier: MIT */
/* Brings up the ingest port: mbuf pool, RX/TX queues, promiscuous mode. */
#include <errno.h>
#include <stdio.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "port.h"

#define RX_DESC 1024
#define TX_DESC 512
#define MBUFS 8191
#define MBUF_CACHE 256

int vigil_port_start(uint16_t *port, unsigned rx_queues, struct rte_mempool **pool, char *msg, size_t msglen)
{
	struct rte_eth_conf conf = {0};
	struct rte_eth_dev_info info;
	uint16_t id, count = 0;
	int rc;

	RTE_ETH_FOREACH_DEV(id)
	{
		*port = id;
		count++;
	}
	if (count != 1) {
		snprintf(msg, msglen, "expected exactly one network port, found %u", count);
		return -ENODEV;
	}
	rc = rte_eth_dev_info_get(*port, &info);
	if (rc < 0) {
		snprintf(msg, msglen, "cannot query port %u: %s", *port, rte_strerror(-rc));
		return rc;
	}
	if (rx_queues > info.max_rx_queues) {
		snprintf(msg, msglen, "port %u has %u RX queues, %u needed", *port, info.max_rx_queues,
			 rx_queues);
		return -EINVAL;
	}
	*pool = rte_pktmbuf_pool_create("vigil_mbufs", MBUFS, MBUF_CACHE, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					rte_eth_dev_socket_id(*port));
	if (*pool == NULL) {
		snprintf(msg, msglen, "cannot create mbuf pool: %s", rte_strerror(rte_errno));
		return -rte_errno;
	}
	rc = rte_eth_dev_configure(*port, (uint16_t)rx_queues, 1, &conf);
	if (rc < 0) {
		snprintf(msg, msglen, "cannot configure port %u: %s", *port, rte_strerror(-rc));
		goto err_pool;
	}
	for (unsigned q = 0; q < rx_queues; q++) {
		rc = rte_eth_rx_queue_setup(*port, (uint16_t)q, RX_DESC, rte_eth_dev_socket_id(*port), NULL,
					    *pool);
		if (rc < 0) {
			snprintf(msg, msglen, "cannot set up RX queue %u: %s", q, rte_strerror(-rc));
			goto err_pool;
		}
	}
	rc = rte_eth_tx_queue_setup(*port, 0, TX_DESC, rte_eth_dev_socket_id(*port), NULL);
	if (rc < 0) {
		snprintf(msg, msglen, "cannot set up TX queue: %s", rte_strerror(-rc));
		goto err_pool;
	}
	rc = rte_eth_dev_start(*port);
	if (rc < 0) {
		snprintf(msg, msglen, "cannot start port %u: %s", *port, rte_strerror(-rc));
		goto err_pool;
	}
	/* Not every virtual device has the notion; failing is harmless. */
	rte_eth_promiscuous_enable(*port);
	return 0;

err_pool:
	rte_mempool_free(*pool);
	*pool = NULL;
	return rc;
}

void vigil_port_stop(uint16_t port, struct rte_mempool *pool)
{
	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
	rte_mempool_free(pool);
}
