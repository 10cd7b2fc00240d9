/* SPDX-License-Identifier: MIT */
/* vigil-cam's memif output (memif_port.h). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "memif_port.h"

#define MBUFS 4095
#define RING 1024
#define BURST 32
#define CONNECT_WAIT_S 10

static uint16_t port;
static struct rte_mempool *pool;
static bool open_;

int memif_port_open(const char *path, char *msg, size_t msglen)
{
	char prefix[64], vdev[4200];
	char *eal[] = {"vigil-cam", "--no-pci", "--no-huge", "-m", "128", "--log-level=*:warning", prefix, vdev, NULL};
	struct rte_eth_conf conf = {0};
	struct rte_eth_link link = {0};

	snprintf(prefix, sizeof(prefix), "--file-prefix=vigil-cam-%d", (int)getpid());
	snprintf(vdev, sizeof(vdev), "--vdev=net_memif0,role=client,socket=%s,socket-abstract=no", path);
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])) - 1, eal) < 0) {
		snprintf(msg, msglen, "the EAL does not start: %s", rte_strerror(rte_errno));
		return -1;
	}
	pool = rte_pktmbuf_pool_create("vigil_cam", MBUFS, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (pool == NULL || rte_eth_dev_get_port_by_name("net_memif0", &port) != 0 ||
	    rte_eth_dev_configure(port, 1, 1, &conf) < 0 ||
	    rte_eth_rx_queue_setup(port, 0, RING, (unsigned)rte_socket_id(), NULL, pool) < 0 ||
	    rte_eth_tx_queue_setup(port, 0, RING, (unsigned)rte_socket_id(), NULL) < 0 || rte_eth_dev_start(port) < 0) {
		snprintf(msg, msglen, "no memif port on %s: %s", path, rte_strerror(rte_errno));
		return -1;
	}
	open_ = true;
	/* The client connects to vigild's socket on its own, a while after start. */
	for (unsigned i = 0; i < CONNECT_WAIT_S * 100; i++) {
		rte_eth_link_get_nowait(port, &link);
		if (link.link_status == RTE_ETH_LINK_UP)
			return 0;
		usleep(10000);
	}
	snprintf(msg, msglen, "no vigild on %s in %u s (Device = net_memif0,role=server,socket=%s,socket-abstract=no)",
		 path, CONNECT_WAIT_S, path);
	return -1;
}

unsigned memif_port_send(const struct iovec *frames, unsigned n, volatile sig_atomic_t *stop)
{
	unsigned done = 0;

	while (done < n && !*stop) {
		struct rte_mbuf *m[BURST];
		unsigned k = n - done < BURST ? n - done : BURST, sent = 0;

		if (rte_pktmbuf_alloc_bulk(pool, m, k) != 0)
			break;
		for (unsigned i = 0; i < k; i++) {
			const struct iovec *f = &frames[done + i];

			memcpy(rte_pktmbuf_mtod(m[i], void *), f->iov_base, f->iov_len);
			m[i]->data_len = m[i]->pkt_len = (uint32_t)f->iov_len;
		}
		/* A full ring: vigild has not taken the last ones yet. */
		while (sent < k && !*stop)
			sent += rte_eth_tx_burst(port, 0, m + sent, (uint16_t)(k - sent));
		if (sent < k)
			rte_pktmbuf_free_bulk(m + sent, k - sent);
		done += sent;
	}
	return done;
}

unsigned memif_port_recv(void (*take)(void *arg, const uint8_t *frame, size_t len), void *arg, unsigned max)
{
	unsigned got = 0;

	while (got < max) {
		struct rte_mbuf *m[BURST];
		uint16_t n = rte_eth_rx_burst(port, 0, m, BURST);

		for (uint16_t i = 0; i < n; i++) {
			if (rte_pktmbuf_is_contiguous(m[i]))
				take(arg, rte_pktmbuf_mtod(m[i], const uint8_t *), m[i]->data_len);
			rte_pktmbuf_free(m[i]);
		}
		got += n;
		if (n < BURST)
			break;
	}
	return got;
}

void memif_port_close(void)
{
	if (!open_)
		return;
	/* What is still in the ring is vigild's to read before the port goes. */
	usleep(200000);
	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
	rte_eal_cleanup();
	open_ = false;
}
