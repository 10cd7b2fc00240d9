/* SPDX-License-Identifier: MIT */
/* Do workers scale? The fleet's cameras are split between two workers as
 * vigild splits them (vigil_stream_owner), and each worker lcore sends
 * itself its own cameras' packets (encrypted outside the timed region)
 * and times the worker's pipeline on them, as dataplane_bench does. Worker
 * 0 runs alone first, then both run at once; what the second lcore costs
 * the first (shared cache, memory, the stream table, the mbuf pool) shows
 * as the drop in worker 0's packets per second.
 *
 * speedup = (worker 0 + worker 1 packets/s, together) / (worker 0 alone).
 *
 * usage: scale_bench [cameras] [payload bytes] [seconds] [huge|no-huge]
 * Prints one JSON line. Needs two lcores (one per worker). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "fleet.h"
#include "worker.h"

#define WORKERS 2
#define VISIT_PKTS 4 /* packets a camera sends back to back */
#define BASE_MEMORY_MB 512
#define CAMERA_MEMORY_KB 24

struct lane {
	struct vigil_worker w;
	struct vigil_frame_ring fr;
	struct rte_mempool *mp;
	const struct vigil_config *cfg;
	struct vigil_srtp *sender;
	uint64_t *next_index;
	uint32_t *cams; /* the cameras this worker owns */
	unsigned n_cams;
	size_t payload;
	double seconds;
	volatile bool *go;
	/* results */
	uint64_t pkts, tsc;
};

static int lane_run(void *arg)
{
	struct lane *l = arg;
	uint64_t hz = rte_get_tsc_hz(), end, visit = 0, warm = l->n_cams;

	while (!*l->go)
		rte_pause();
	end = rte_rdtsc() + (uint64_t)(l->seconds * (double)hz);
	l->pkts = l->tsc = 0;
	while (rte_rdtsc() < end) {
		struct vigil_burst *b = vigil_worker_burst(&l->w);
		struct rte_mbuf **m = b->m;
		uint64_t t0;

		if (rte_pktmbuf_alloc_bulk(l->mp, m, VIGIL_BURST) != 0)
			abort();
		for (unsigned n = 0; n < VIGIL_BURST; visit++) {
			unsigned c = l->cams[visit % l->n_cams];

			for (unsigned k = 0; k < VISIT_PKTS; k++, n++) {
				m[n]->data_len = (uint16_t)fleet_packet(rte_pktmbuf_mtod(m[n], uint8_t *),
									&l->sender[c], l->cfg->cameras[c].ssrc,
									l->cfg->cameras[c].codec, l->next_index[c]++,
									l->payload);
				m[n]->pkt_len = m[n]->data_len;
			}
		}
		b->n_mbufs = VIGIL_BURST;
		t0 = rte_rdtsc_precise();
		vigil_worker_push(&l->w);
		if (visit > warm) { /* every camera has had a turn */
			l->tsc += rte_rdtsc_precise() - t0;
			l->pkts += VIGIL_BURST;
		}
		vigil_frame_ring_drain(&l->fr);
	}
	vigil_worker_drain(&l->w);
	vigil_frame_ring_drain(&l->fr);
	return 0;
}

static double mpps(const struct lane *l)
{
	return (double)l->pkts * (double)rte_get_tsc_hz() / (double)l->tsc / 1e6;
}

int main(int argc, char **argv)
{
	unsigned cameras = argc > 1 ? (unsigned)atoi(argv[1]) : 1000;
	size_t payload = argc > 2 ? (size_t)atoi(argv[2]) : 1200;
	double seconds = argc > 3 ? atof(argv[3]) : 5;
	bool huge = argc > 4 && strcmp(argv[4], "huge") == 0;
	char prefix[64], mem[32];
	char *eal[] = {"scale_bench", "-l", "0-1", "--no-pci", "--log-level=*:warning", prefix,
		       huge ? "--in-memory" : "--no-huge", "--no-shconf", "-m", mem, NULL};
	static struct lane lanes[WORKERS];
	struct vigil_frame_ring *frs[WORKERS];
	struct vigil_stream_table *t;
	struct vigil_config cfg;
	struct rte_mempool *mp;
	volatile bool go = false;
	double alone, together[WORKERS];
	unsigned lcore;

	snprintf(prefix, sizeof(prefix), "--file-prefix=scale-%d", (int)getpid());
	snprintf(mem, sizeof(mem), "%u", BASE_MEMORY_MB + (unsigned)((uint64_t)cameras * CAMERA_MEMORY_KB / 1024));
	if (payload < 16 || payload > 1400 || cameras < WORKERS || seconds <= 0 ||
	    rte_eal_init(huge ? 7 : (int)RTE_DIM(eal) - 1, eal) < 0 || vigil_srtp_available() < 0 ||
	    rte_lcore_count() < WORKERS || fleet_config(&cfg, cameras) < 0) {
		fprintf(stderr, "usage: scale_bench [cameras >= 2] [payload 16-1400] [seconds] [huge|no-huge]; "
				"needs 2 lcores and AES-NI\n");
		return 2;
	}
	mp = rte_pktmbuf_pool_create("scale", cameras * VISIT_PKTS + 16384, 256, VIGIL_MBUF_PRIV_SIZE,
				     RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	if (mp == NULL)
		return 2;
	for (unsigned i = 0; i < WORKERS; i++) {
		char name[32];

		snprintf(name, sizeof(name), "scale_frames%u", i);
		lanes[i].fr.ring = rte_ring_create(name, 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
		lanes[i].fr.max_segs = 4096;
		frs[i] = &lanes[i].fr;
		if (lanes[i].fr.ring == NULL)
			return 2;
	}
	t = vigil_stream_table_create("scale_streams", cameras, WORKERS, 1, cfg.max_frame_bytes, mp, frs);
	if (t == NULL)
		return 2;
	for (unsigned i = 0; i < WORKERS; i++) {
		struct lane *l = &lanes[i];

		l->w = (struct vigil_worker){.cfg = &cfg, .streams = t, .id = i, .frames = &frs[i], .n_recorders = 1,
					     .tsc_hz = rte_get_tsc_hz()};
		if (vigil_reorder_list_init(&l->w.reorder, VIGIL_HOLD_SMALL_WINDOWS, VIGIL_HOLD_WINDOWS) < 0)
			return 1;
		l->mp = mp;
		l->cfg = &cfg;
		l->payload = payload;
		l->seconds = seconds;
		l->go = &go;
		l->sender = aligned_alloc(RTE_CACHE_LINE_SIZE,
					  RTE_ALIGN_CEIL((size_t)cameras * sizeof(*l->sender), 64));
		l->next_index = calloc(cameras, sizeof(*l->next_index));
		l->cams = calloc(cameras, sizeof(*l->cams));
		if (l->sender == NULL || l->next_index == NULL || l->cams == NULL)
			return 2;
	}
	for (unsigned c = 0; c < cameras; c++) {
		struct lane *l;

		if (vigil_stream_add(t, &cfg.cameras[c], c, NULL) < 0)
			return 2;
		l = &lanes[t->slots[c]->owner];
		memcpy(&l->sender[c], t->slots[c]->key, sizeof(l->sender[c]));
		l->cams[l->n_cams++] = c;
	}
	lcore = rte_get_next_lcore(-1, 1, 0);

	/* Worker 0 alone, on the main lcore. */
	go = true;
	lane_run(&lanes[0]);
	alone = mpps(&lanes[0]);
	/* Both at once: worker 1 on the other lcore. Each goes on where its
	 * streams are, so the replay windows see new indices only. */
	go = false;
	if (rte_eal_remote_launch(lane_run, &lanes[1], lcore) < 0)
		return 2;
	go = true;
	lane_run(&lanes[0]);
	rte_eal_wait_lcore(lcore);
	for (unsigned i = 0; i < WORKERS; i++)
		together[i] = mpps(&lanes[i]);

	printf("{\"cameras\": %u, \"payload_bytes\": %zu, \"hugepages\": %s, \"seconds\": %.0f, "
	       "\"cameras_per_worker\": [%u, %u], \"worker0_alone_mpps\": %.3f, "
	       "\"together_mpps\": [%.3f, %.3f], \"speedup\": %.3f}\n",
	       cameras, payload, huge ? "true" : "false", seconds, lanes[0].n_cams, lanes[1].n_cams, alone,
	       together[0], together[1], (together[0] + together[1]) / alone);
	return 0;
}
