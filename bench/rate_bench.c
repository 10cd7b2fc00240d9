/* SPDX-License-Identifier: MIT */
/* A worker under sustained load: a generator on the main lcore encrypts
 * the synthetic fleet's packets as it sends them into a net_ring port, and
 * one worker lcore runs the real receive loop (vigil_worker_main) on it,
 * handing frames to a ring the generator drains like the recorder would.
 * With `memif`, the port is a net_memif server instead and the generator
 * sends through a memif client port of its own in the same process: the
 * packets are copied through shared memory rings of 16,384 slots as
 * vigil-cam's live memif output does (a full ring refuses: a loss, as a
 * NIC's full RX ring would be), not handed over as mbufs.
 *
 * First unpaced, to find the worker's capacity: packets it decrypted per
 * second divided by the share of its time it was busy (so the figure holds
 * even when the generator, which encrypts every packet, is the slower of
 * the two). Then paced at a fraction of that capacity (default 80%) for a
 * number of seconds: every packet the ring refused is a loss, and every
 * drop counter of the worker and the cameras must stay at zero.
 *
 * In the paced run, the latency from a frame's last packet into the RX
 * queue to the frame out of the frame ring (p50, p99, p99.9; buckets a
 * quarter of a power of two wide) is measured too.
 *
 * usage: rate_bench [cameras] [payload bytes] [seconds] [load percent] [huge|no-huge] [ring|memif]
 * Prints one JSON line. Needs two lcores. Exit 1 on loss. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "fleet.h"
#include "port.h"
#include "worker.h"

/* The "NIC": an RX queue as deep as the mbufs vigild reserves per queue
 * (VIGIL_MBUFS_PER_QUEUE), deeper than most NICs' descriptor rings: on a
 * shared VM the worker's vCPU stalls for milliseconds at times. */
#define RX_RING VIGIL_MBUFS_PER_QUEUE
#define SATURATION_SECONDS 5
#define VISIT_PKTS 4        /* packets a camera sends back to back */
#define BASE_MEMORY_MB 256
#define CAMERA_MEMORY_KB 16
#define MBUF_KB 4 /* an mbuf with its 2 KiB of data, in the port's pool (vigil_port_mbufs) */
#define LAT_FRAMES 64   /* frames of a camera that may be on their way at once */
#define LAT_BUCKETS 256 /* 4 per power of two of TSC ticks */
#define MEMIF_RING_LOG2 14 /* the largest memif ring: 16,384 slots */
#define MEMIF_CONNECT_S 10

struct gen {
	struct rte_ring *rx; /* net_ring: the RX queue itself */
	bool memif;
	uint16_t memif_client; /* memif: the port the generator sends on */
	struct rte_mempool *mp;
	struct vigil_frame_ring *frames;
	const struct vigil_config *cfg;
	struct vigil_srtp *sender; /* a copy of each camera's key */
	uint64_t *next_index;      /* per camera */
	uint32_t *order;           /* cameras in shuffled turn order */
	uint64_t visit;
	size_t payload;
	uint64_t sent, lost, no_mbuf;
	/* Latency from a frame's last packet into the RX queue to the frame
	 * out of the frame ring, in the paced run. */
	bool timing;
	uint64_t (*sent_tsc)[LAT_FRAMES]; /* per camera, by frame number */
	uint64_t lat[LAT_BUCKETS];
	uint64_t max_late_tsc; /* the furthest the generator fell behind its pace */
};

static unsigned lat_bucket(uint64_t ticks)
{
	unsigned log2 = 63 - (unsigned)__builtin_clzll(ticks | 1);

	return log2 < 2 ? (unsigned)ticks : log2 * 4 + (unsigned)(ticks >> (log2 - 2) & 3);
}

static uint64_t lat_bound(unsigned bucket)
{
	unsigned log2 = bucket / 4;

	return log2 < 2 ? bucket : (UINT64_C(4) + bucket % 4 + 1) << (log2 - 2);
}

/* The ticks below which a share of the frames' latencies fell. */
static uint64_t lat_quantile(const uint64_t *lat, double share)
{
	uint64_t total = 0, seen = 0;

	for (unsigned b = 0; b < LAT_BUCKETS; b++)
		total += lat[b];
	for (unsigned b = 0; b < LAT_BUCKETS; b++) {
		seen += lat[b];
		if (total > 0 && (double)seen >= share * (double)total)
			return lat_bound(b);
	}
	return 0;
}

/* The recorder's part: frames back to the pool, timed while timing. */
static void drain(struct gen *g)
{
	void *f[64];
	unsigned n;

	while ((n = rte_ring_dequeue_burst(g->frames->ring, f, RTE_DIM(f), NULL)) > 0) {
		uint64_t now = rte_rdtsc();

		for (unsigned k = 0; k < n; k++) {
			const struct vigil_frame *fr = vigil_frame_of(f[k]);
			uint64_t sent = g->sent_tsc[fr->camera][fr->rtp_ts / FLEET_TS_PER_FRAME % LAT_FRAMES];

			if (g->timing && sent != 0 && now > sent)
				g->lat[lat_bucket(now - sent)]++;
			vigil_frame_ring_done(g->frames, f[k]);
		}
	}
	if (g->memif) { /* what the worker sends back (none without feedback) */
		struct rte_mbuf *m[32];
		uint16_t k = rte_eth_rx_burst(g->memif_client, 0, m, RTE_DIM(m));

		rte_pktmbuf_free_bulk(m, k);
	}
}

/* Packets into the "NIC": how many it took. */
static unsigned offer(struct gen *g, struct rte_mbuf **m, unsigned n)
{
	if (g->memif)
		return rte_eth_tx_burst(g->memif_client, 0, m, (uint16_t)n);
	return rte_ring_enqueue_burst(g->rx, (void **)m, n, NULL);
}

/* One burst: VIGIL_BURST / VISIT_PKTS cameras' next packets. What the
 * ring refuses is lost, or with `wait` offered again until it is taken. */
static void send_burst(struct gen *g, bool wait)
{
	struct rte_mbuf *m[VIGIL_BURST];
	unsigned n = 0, cameras = g->cfg->n_cameras, sent;

	while (rte_pktmbuf_alloc_bulk(g->mp, m, VIGIL_BURST) != 0) {
		if (!wait) {
			g->lost += VIGIL_BURST; /* the pool is dry: as good as a full RX ring */
			g->no_mbuf += VIGIL_BURST;
			return;
		}
		drain(g);
	}
	unsigned cam[VIGIL_BURST];
	uint64_t idx[VIGIL_BURST], now;

	while (n < VIGIL_BURST) {
		unsigned c = g->order[g->visit++ % cameras];

		for (unsigned k = 0; k < VISIT_PKTS; k++, n++) {
			uint8_t *b = rte_pktmbuf_mtod(m[n], uint8_t *);

			cam[n] = c;
			idx[n] = g->next_index[c]++;
			m[n]->data_len = (uint16_t)fleet_packet(b, &g->sender[c], g->cfg->cameras[c].ssrc,
								g->cfg->cameras[c].codec, idx[n], g->payload);
			m[n]->pkt_len = m[n]->data_len;
		}
	}
	sent = offer(g, m, n);
	now = rte_rdtsc();
	for (unsigned k = 0; g->timing && k < sent; k++)
		if (fleet_ends_frame(idx[k]))
			g->sent_tsc[cam[k]][fleet_frame_of(idx[k]) % LAT_FRAMES] = now;
	while (wait && sent < n) {
		drain(g);
		sent += offer(g, m + sent, n - sent);
	}
	g->sent += sent;
	if (sent < n) {
		g->lost += n - sent;
		rte_pktmbuf_free_bulk(m + sent, n - sent);
	}
	drain(g);
}

struct totals {
	uint64_t decrypted, frames, drops, busy_tsc, tsc;
};

/* Everything that is not the normal way of a packet or frame. */
static struct totals read_totals(const struct vigil_worker *w, const struct vigil_config *cfg)
{
	static const enum vigil_counter good[] = {VIGIL_CTR_rx_packets, VIGIL_CTR_rx_bytes, VIGIL_CTR_decrypted,
						  VIGIL_CTR_frames_enqueued, VIGIL_CTR_reordered};
	struct totals t = {.busy_tsc = __atomic_load_n(&w->busy_tsc, __ATOMIC_RELAXED), .tsc = rte_rdtsc()};

	for (unsigned c = 0; c <= cfg->n_cameras; c++) {
		const struct vigil_counters *ctr = c < cfg->n_cameras ? &w->streams->slots[c]->ctr : &w->ctr;

		t.decrypted += ctr->v[VIGIL_CTR_decrypted];
		t.frames += ctr->v[VIGIL_CTR_frames_enqueued];
		for (unsigned i = 0; i < VIGIL_CTR_MAX; i++) {
			bool ok = false;

			for (unsigned g = 0; g < RTE_DIM(good); g++)
				ok |= i == good[g];
			if (!ok)
				t.drops += ctr->v[i];
		}
	}
	return t;
}

/* Send for `seconds` at `pps` packets per second; with pps 0, as fast as
 * the worker takes them (nothing lost), and with pps < 0 send nothing. */
static void run(struct gen *g, double seconds, double pps)
{
	uint64_t hz = rte_get_tsc_hz(), start = rte_rdtsc(), end = start + (uint64_t)(seconds * (double)hz);
	double per_burst = pps > 0 ? (double)hz * VIGIL_BURST / pps : 0, next = (double)start;

	for (uint64_t now = start; now < end; now = rte_rdtsc()) {
		if (pps < 0 || (pps > 0 && (double)now < next)) {
			drain(g);
			continue;
		}
		if (pps > 0 && (double)now - next > (double)g->max_late_tsc)
			g->max_late_tsc = (uint64_t)((double)now - next);
		send_burst(g, pps == 0);
		/* A fleet does not make up for a generator that fell behind
		 * (the machine is shared): at most a few bursts back to back. */
		next = RTE_MAX(next + per_burst, (double)now - 4 * per_burst);
	}
}

/* memif: the generator's client port on the worker's server socket,
 * connected (the EAL's interrupt thread does the handshake). */
static int memif_client_start(struct gen *g, const char *sock, struct rte_mempool *mp, uint16_t server)
{
	char dev[PATH_MAX + 96];
	struct rte_eth_conf conf = {0};
	struct rte_eth_link a = {0}, b = {0};

	snprintf(dev, sizeof(dev), "net_memif1,role=client,socket=%s,socket-abstract=no,rsize=%u", sock,
		 MEMIF_RING_LOG2);
	if (rte_dev_probe(dev) < 0 || rte_eth_dev_get_port_by_name("net_memif1", &g->memif_client) != 0 ||
	    rte_eth_dev_configure(g->memif_client, 1, 1, &conf) < 0 ||
	    rte_eth_rx_queue_setup(g->memif_client, 0, 1024, (unsigned)rte_socket_id(), NULL, mp) < 0 ||
	    rte_eth_tx_queue_setup(g->memif_client, 0, 1024, (unsigned)rte_socket_id(), NULL) < 0 ||
	    rte_eth_dev_start(g->memif_client) < 0)
		return -1;
	for (unsigned i = 0; i < MEMIF_CONNECT_S * 100; i++) {
		rte_eth_link_get_nowait(g->memif_client, &a);
		rte_eth_link_get_nowait(server, &b);
		if (a.link_status == RTE_ETH_LINK_UP && b.link_status == RTE_ETH_LINK_UP)
			return 0;
		usleep(10000);
	}
	rte_errno = ETIMEDOUT;
	return -1;
}

int main(int argc, char **argv)
{
	unsigned cameras = argc > 1 ? (unsigned)atoi(argv[1]) : 1000;
	size_t payload = argc > 2 ? (size_t)atoi(argv[2]) : 1200;
	double seconds = argc > 3 ? atof(argv[3]) : 60, load = argc > 4 ? atof(argv[4]) / 100 : 0.8;
	bool huge = argc > 5 && strcmp(argv[5], "huge") == 0;
	bool memif = argc > 6 && strcmp(argv[6], "memif") == 0;
	char prefix[64], mem[32], msg[256] = "", sock[PATH_MAX], vdev[PATH_MAX + 96];
	char *eal[16] = {"rate_bench", "-l", "0-1", "--no-pci", "--log-level=*:warning", prefix};
	int n_eal = 6;
	struct vigil_frame_ring fr = {.max_segs = VIGIL_FRAME_MBUFS_IN_FLIGHT}, *frp = &fr;
	volatile bool stop = false;
	struct vigil_config cfg;
	struct vigil_port port = {0};
	struct vigil_worker w = {.cfg = &cfg, .has_rx = true, .frames = &frp, .n_recorders = 1, .stop = &stop};
	struct gen g = {.frames = &fr, .cfg = &cfg, .payload = payload};
	struct totals t0, t1, t2;
	uint64_t seed = 0x9e3779b97f4a7c15u, sent0, lost0;
	double hz, sat_pps, sat_busy, capacity, paced_pps, target;
	unsigned lcore;

	snprintf(prefix, sizeof(prefix), "--file-prefix=rate-%d", (int)getpid());
	snprintf(mem, sizeof(mem), "%u",
		 BASE_MEMORY_MB + (unsigned)(((uint64_t)cameras * CAMERA_MEMORY_KB + (uint64_t)vigil_port_mbufs(1, cameras) * MBUF_KB) / 1024));
	snprintf(sock, sizeof(sock), "/tmp/rate_bench-%d.sock", (int)getpid());
	snprintf(vdev, sizeof(vdev), "--vdev=net_memif0,role=server,socket=%s,socket-abstract=no,rsize=%u", sock,
		 MEMIF_RING_LOG2);
	eal[n_eal++] = huge ? "--in-memory" : "--no-huge";
	if (!huge) {
		eal[n_eal++] = "--no-shconf";
		eal[n_eal++] = "-m";
		eal[n_eal++] = mem;
	}
	if (memif)
		eal[n_eal++] = vdev;
	if (payload < 16 || payload > 1400 || cameras == 0 || seconds <= 0 || load <= 0 || load > 1 ||
	    (argc > 6 && !memif && strcmp(argv[6], "ring") != 0) || rte_eal_init(n_eal, eal) < 0 ||
	    vigil_srtp_available() < 0) {
		fprintf(stderr, "usage: rate_bench [cameras] [payload 16-1400] [seconds] [load percent] "
				"[huge|no-huge] [ring|memif]; needs 2 lcores and AES-NI\n");
		return 2;
	}
	lcore = rte_get_next_lcore(-1, 1, 0);
	g.memif = memif;
	if (!memif)
		g.rx = rte_ring_create("rate_rx", RX_RING, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	fr.ring = rte_ring_create("rate_frames", VIGIL_FRAME_MBUFS_IN_FLIGHT, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (lcore >= RTE_MAX_LCORE || (!memif && (g.rx == NULL || rte_eth_from_ring(g.rx) < 0)) || fr.ring == NULL ||
	    fleet_config(&cfg, cameras) < 0 || vigil_port_start(&port, 1, cameras, msg, sizeof(msg)) < 0 ||
	    (memif && memif_client_start(&g, sock, port.mbufs, port.id) < 0)) {
		fprintf(stderr, "rate_bench: setup failed: %s (%s)\n", rte_strerror(rte_errno), msg);
		return 2;
	}
	g.mp = port.mbufs;
	w.port = port.id;
	if (vigil_reorder_list_init(&w.reorder, VIGIL_HOLD_SMALL_WINDOWS, VIGIL_HOLD_WINDOWS) < 0)
		return 1;
	w.streams = vigil_stream_table_create("rate_streams", cameras, 1, 1, cfg.max_frame_bytes, port.mbufs, &frp);
	g.sender = aligned_alloc(RTE_CACHE_LINE_SIZE, RTE_ALIGN_CEIL((size_t)cameras * sizeof(*g.sender), 64));
	g.next_index = calloc(cameras, sizeof(*g.next_index));
	g.order = calloc(cameras, sizeof(*g.order));
	g.sent_tsc = calloc(cameras, sizeof(*g.sent_tsc));
	if (w.streams == NULL || g.sender == NULL || g.next_index == NULL || g.order == NULL || g.sent_tsc == NULL)
		return 2;
	for (unsigned c = 0; c < cameras; c++) {
		if (vigil_stream_add(w.streams, &cfg.cameras[c], c, NULL) < 0)
			return 2;
		memcpy(&g.sender[c], w.streams->slots[c]->key, sizeof(g.sender[c]));
		g.order[c] = c;
	}
	fleet_shuffle(g.order, cameras, &seed);
	if (rte_eal_remote_launch(vigil_worker_main, &w, lcore) < 0)
		return 2;
	hz = (double)rte_get_tsc_hz();

	/* Warm-up: every camera through its first key frame. */
	run(&g, 1 + cameras * FLEET_GOP_PKTS / 1e6, 0);
	t0 = read_totals(&w, &cfg);
	run(&g, SATURATION_SECONDS, 0);
	t1 = read_totals(&w, &cfg);
	sat_pps = (double)(t1.decrypted - t0.decrypted) * hz / (double)(t1.tsc - t0.tsc);
	sat_busy = (double)(t1.busy_tsc - t0.busy_tsc) / (double)(t1.tsc - t0.tsc);
	capacity = sat_pps / sat_busy;

	/* The highest load that loses nothing in a short probe, from 100%
	 * down in 5% steps: the zero-loss rate, which the long run below
	 * then holds for `seconds` at `load`. */
	double probe_s = seconds >= 30 ? 3 : 2, zero_loss = 0;
	char probes[512] = "";

	for (int pct = 100; pct >= 50 && zero_loss == 0; pct -= 5) {
		uint64_t lost_before;
		struct totals a, b;

		run(&g, 0.5, -1);
		lost_before = g.lost;
		a = read_totals(&w, &cfg);
		run(&g, probe_s, capacity * pct / 100);
		run(&g, 0.2, -1);
		b = read_totals(&w, &cfg);
		snprintf(probes + strlen(probes), sizeof(probes) - strlen(probes), "%s{\"load\": %.2f, \"lost\": %" PRIu64
			 ", \"drops\": %" PRIu64 "}", probes[0] ? ", " : "", pct / 100.0, g.lost - lost_before,
			 b.drops - a.drops);
		if (g.lost == lost_before && b.drops == a.drops)
			zero_loss = pct / 100.0;
	}

	/* Let the ring empty, then the paced run. */
	run(&g, 0.5, -1);
	target = capacity * load;
	sent0 = g.sent;
	lost0 = g.lost;
	g.no_mbuf = 0;
	g.max_late_tsc = 0;
	t1 = read_totals(&w, &cfg);
	g.timing = true;
	run(&g, seconds, target);
	run(&g, 0.2, -1); /* what is in the ring gets through */
	g.timing = false;
	t2 = read_totals(&w, &cfg);
	paced_pps = (double)(g.sent - sent0) * hz / (double)(t2.tsc - t1.tsc);

	stop = true;
	rte_eal_wait_lcore(lcore);
	vigil_frame_ring_drain(&fr);
	printf("{\"port\": \"%s\", \"cameras\": %u, \"payload_bytes\": %zu, \"hugepages\": %s, "
	       "\"saturation_decrypted_mpps\": %.3f, \"saturation_worker_busy\": %.3f, "
	       "\"capacity_mpps\": %.3f, \"capacity_gbit_s\": %.3f, \"load\": %.2f, \"target_mpps\": %.3f, "
	       "\"sent_mpps\": %.3f, \"seconds\": %.0f, \"sent\": %" PRIu64 ", \"lost\": %" PRIu64 ", "
	       "\"decrypted\": %" PRIu64 ", \"frames\": %" PRIu64 ", \"drops\": %" PRIu64 ", "
	       "\"worker_busy\": %.3f, \"lost_no_mbuf\": %" PRIu64 ", \"generator_max_late_us\": %.0f, "
	       "\"frame_latency_us\": {\"p50\": %.1f, \"p99\": %.1f, \"p99.9\": %.1f}, "
	       "\"zero_loss\": {\"probe_seconds\": %.0f, \"load\": %.2f, \"mpps\": %.3f, \"probes\": [%s]}}\n",
	       memif ? "memif" : "ring", cameras, payload, huge ? "true" : "false", sat_pps / 1e6, sat_busy, capacity / 1e6,
	       capacity * (double)(payload + 12 + VIGIL_SRTP_TAG_LEN) * 8 / 1e9, load, target / 1e6,
	       paced_pps / 1e6, seconds, g.sent - sent0, g.lost - lost0, t2.decrypted - t1.decrypted,
	       t2.frames - t1.frames, t2.drops - t1.drops,
	       (double)(t2.busy_tsc - t1.busy_tsc) / (double)(t2.tsc - t1.tsc), g.no_mbuf,
	       (double)g.max_late_tsc * 1e6 / hz, (double)lat_quantile(g.lat, 0.5) * 1e6 / hz,
	       (double)lat_quantile(g.lat, 0.99) * 1e6 / hz, (double)lat_quantile(g.lat, 0.999) * 1e6 / hz, probe_s,
	       zero_loss, capacity * zero_loss / 1e6, probes);
	return g.lost == lost0 && t2.drops == t1.drops && t2.decrypted - t1.decrypted == g.sent - sent0 ? 0 : 1;
}
