/* SPDX-License-Identifier: MIT */
/* Brings up the ingest port: mbuf pool, RX/TX queues (RSS when there are
 * several and the device can), promiscuous mode. */
#include <errno.h>
#include <stdio.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "vigil/frame.h"
#include "vigil/limits.h"
#include "port.h"

#define RX_DESC 1024
#define TX_DESC 512
#define MBUF_CACHE 256

int vigil_port_start(struct vigil_port *p, unsigned workers, unsigned max_cameras, char *msg, size_t msglen)
{
	struct rte_eth_conf conf = {0};
	struct rte_eth_dev_info info;
	uint16_t id, count = 0;
	uint64_t rss = 0;
	int rc, socket;

	RTE_ETH_FOREACH_DEV(id)
	{
		p->id = id;
		count++;
	}
	if (count != 1) {
		snprintf(msg, msglen, "expected exactly one network port, found %u", count);
		return -ENODEV;
	}
	rc = rte_eth_dev_info_get(p->id, &info);
	if (rc < 0) {
		snprintf(msg, msglen, "cannot query port %u: %s", p->id, rte_strerror(-rc));
		return rc;
	}
	socket = rte_eth_dev_socket_id(p->id);
	p->rx_queues = (uint16_t)RTE_MIN(workers, info.max_rx_queues);
	p->tx_queues = (uint16_t)RTE_MIN(workers, info.max_tx_queues);
	if (p->rx_queues > 1)
		rss = info.flow_type_rss_offloads & (RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_NONFRAG_IPV6_UDP |
						     RTE_ETH_RSS_IP);
	if (rss != 0) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf = rss;
		snprintf(p->spread, sizeof(p->spread), "RSS on the UDP 5-tuple over %u RX queues", p->rx_queues);
	} else if (p->rx_queues > 1) {
		snprintf(p->spread, sizeof(p->spread),
			 "the device's own spreading over %u RX queues (af_packet: fan-out)", p->rx_queues);
	} else {
		snprintf(p->spread, sizeof(p->spread), "one RX queue");
	}
	p->mbufs = rte_pktmbuf_pool_create("vigil_mbufs", vigil_port_mbufs(workers, max_cameras), MBUF_CACHE,
					   VIGIL_MBUF_PRIV_SIZE, RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	if (p->mbufs == NULL) {
		snprintf(msg, msglen, "cannot create mbuf pool: %s", rte_strerror(rte_errno));
		return -rte_errno;
	}
	rc = rte_eth_dev_configure(p->id, p->rx_queues, p->tx_queues, &conf);
	if (rc < 0) {
		snprintf(msg, msglen, "cannot configure port %u: %s", p->id, rte_strerror(-rc));
		goto err_pool;
	}
	for (uint16_t q = 0; q < p->rx_queues; q++) {
		rc = rte_eth_rx_queue_setup(p->id, q, RX_DESC, (unsigned)socket, NULL, p->mbufs);
		if (rc < 0) {
			snprintf(msg, msglen, "cannot set up RX queue %u: %s", q, rte_strerror(-rc));
			goto err_pool;
		}
	}
	for (uint16_t q = 0; q < p->tx_queues; q++) {
		rc = rte_eth_tx_queue_setup(p->id, q, TX_DESC, (unsigned)socket, NULL);
		if (rc < 0) {
			snprintf(msg, msglen, "cannot set up TX queue %u: %s", q, rte_strerror(-rc));
			goto err_pool;
		}
	}
	rc = rte_eth_dev_start(p->id);
	if (rc < 0) {
		snprintf(msg, msglen, "cannot start port %u: %s", p->id, rte_strerror(-rc));
		goto err_pool;
	}
	/* Not every virtual device has the notion; failing is harmless. */
	rte_eth_promiscuous_enable(p->id);
	return 0;

err_pool:
	rte_mempool_free(p->mbufs);
	p->mbufs = NULL;
	return rc;
}

void vigil_port_stop(struct vigil_port *p)
{
	rte_eth_dev_stop(p->id);
	rte_eth_dev_close(p->id);
	rte_mempool_free(p->mbufs);
}
