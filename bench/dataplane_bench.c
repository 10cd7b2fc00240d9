/* SPDX-License-Identifier: MIT */
/* Data-plane cost per packet next to its baseline, measured in one run:
 * the whole worker path (classify, lookup, replay, decrypt, depacketize,
 * hand off) against libsodium's AES-256-GCM decrypt alone on the same
 * packets. Both copy each packet into an mbuf first, as RX would.
 *
 * Every camera is in the stream table and every camera sends: each round
 * is one GOP per camera (a key frame, then P frames) with sequence numbers
 * and timestamps that continue across rounds (and wrap, moving the ROC).
 * The cameras take turns in a shuffled order, a few packets each, so a
 * burst holds packets of several cameras and a camera's state has gone
 * cold by its next turn when there are many: the stream table's cache and
 * TLB behaviour is part of what is measured. Packets are encrypted on the
 * fly, a burst at a time, outside the timed region, with a copy of each
 * camera's key, so the sender warms nothing the receiver reads. Memory is
 * a few KiB per camera. The pipeline is timed a push at a time, as the
 * worker loop runs it (the burst's first half, the burst before finished);
 * a push the scheduler interrupted (OUTLIER_FACTOR times the median) is
 * left out with its pair. Decrypt alone runs with its keys in the cache
 * (the sender's copies), as a single camera's would be: the baseline is
 * the cipher's own cost.
 *
 * Scenarios: plain; mixed (every other camera H.265); loss (2% of the
 * packets never sent, and in 1% of the turns a camera's first two packets
 * swapped: frames are lost and streams resume at key frames, the reorder
 * stage puts swapped packets back); feedback (the same loss, every camera
 * with RtxSSRC: the worker holds the packets after a gap, NACKs it over
 * SRTCP through a net_null TX port, and the camera's RTX packet comes in
 * the burst after the one that showed the gap, timed and decrypted in the
 * baseline like any: what feedback costs next to loss without it).
 *
 * usage: dataplane_bench [cameras] [payload bytes] [rounds] [huge|no-huge] [plain|mixed|loss] [ENGINE]
 * ENGINE: libsodium (the default) or a crypto device for the cryptodev
 * engine (crypto_aesni_gcm0, crypto_aesni_mb0). The baseline stays
 * libsodium's decrypt alone. Prints one JSON line; counters on stderr.
 *
 * dataplane_bench scan: the depacketizers' start code prefix scan alone
 * (depay_scan.h), each width the machine has, over NAL unit bytes in L1
 * as after decryption: the fleet's (no 00 byte at all) and random bytes
 * with emulation prevention (00 00 0x written 00 00 03, as an encoder
 * does; about one byte in 256 is 00). One JSON line per case, in bytes
 * per TSC cycle, next to rte_memcpy of the same bytes. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_bus_vdev.h>
#include <rte_cryptodev.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "cryptodev.h"
#include "depay_scan.h"
#include "fleet.h"
#include "worker.h"

#define KEY_PKTS FLEET_KEY_PKTS
#define GOP_PKTS FLEET_GOP_PKTS
#define VISIT_PKTS 4 /* packets a camera sends back to back before another's turn */
#define VISITS (GOP_PKTS / VISIT_PKTS)
#define VISITS_PER_BURST (VIGIL_BURST / VISIT_PKTS)
#define HDR FLEET_HDR
#define BASE_MEMORY_MB 256    /* mbufs, rings, hash table */
#define CAMERA_MEMORY_KB 24   /* a stream, its key, the mbufs of its open frame */
#define SPARE_MBUFS 8192      /* beyond those: bursts, frames on the ring */
/* A burst that took this many times the median burst of its kind was
 * interrupted (the machine is shared): it and its pair are left out. */
#define OUTLIER_FACTOR 5
#define RTX_PT 97
#define RTX_QUEUE 8192 /* drops a gap has shown, waiting for their RTX burst */

_Static_assert(GOP_PKTS % VISIT_PKTS == 0, "a visit never straddles two rounds");
_Static_assert(VIGIL_BURST % VISIT_PKTS == 0, "a burst holds whole visits");

struct pkt_tmpl {
	uint16_t len;
	uint8_t b[FLEET_MAX_FRAME];
};

/* The feedback scenario's camera side: the packets each camera lost and
 * vigild has not yet seen a gap for, and those it has, in order, waiting
 * to be retransmitted (a perfect camera answers every NACK). */
struct rtx_sender {
	uint64_t *pending; /* VISIT_PKTS a camera: lost after its last packet sent */
	uint8_t *n_pending;
	bool *started;	   /* a camera's first packet went: a loss before it is no gap */
	uint64_t *next;	   /* each camera's RTX index */
	uint32_t q_cam[RTX_QUEUE];
	uint64_t q_index[RTX_QUEUE];
	unsigned q_head, q_n;
	uint64_t sent;
};

/* Camera c sent packets up to index top: what it lost below is a gap
 * the receiver sees, to be retransmitted. */
static void rtx_reveal(struct rtx_sender *r, unsigned c, uint64_t top)
{
	unsigned keep = 0;

	for (unsigned i = 0; i < r->n_pending[c]; i++) {
		uint64_t idx = r->pending[c * VISIT_PKTS + i];

		if (idx < top && r->q_n < RTX_QUEUE) {
			unsigned at = (r->q_head + r->q_n++) % RTX_QUEUE;

			r->q_cam[at] = c;
			r->q_index[at] = idx;
		} else {
			r->pending[c * VISIT_PKTS + keep++] = idx;
		}
	}
	r->n_pending[c] = (uint8_t)keep;
}

/* A net_null port for the worker's feedback: sent, counted, freed. */
static int null_tx_port(struct vigil_worker *w, struct rte_mempool *mp)
{
	struct rte_eth_conf conf = {0};
	uint16_t port;

	if (rte_vdev_init("net_null0", NULL) < 0 || rte_eth_dev_get_port_by_name("net_null0", &port) != 0 ||
	    rte_eth_dev_configure(port, 1, 1, &conf) < 0 || rte_eth_rx_queue_setup(port, 0, 256, 0, NULL, mp) < 0 ||
	    rte_eth_tx_queue_setup(port, 0, 256, 0, NULL) < 0 || rte_eth_dev_start(port) < 0) {
		fprintf(stderr, "bench: no net_null port for feedback: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	w->port = port;
	w->tx_queue = 0;
	w->has_tx = true;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t median(const uint64_t *v, size_t n)
{
	uint64_t *c = malloc(n * sizeof(*c)), m;

	if (c == NULL)
		abort();
	memcpy(c, v, n * sizeof(*c));
	qsort(c, n, sizeof(*c), cmp_u64);
	m = c[n / 2];
	free(c);
	return m;
}

static void fill(struct rte_mempool *mp, struct rte_mbuf **m, const struct pkt_tmpl *t, unsigned n)
{
	if (rte_pktmbuf_alloc_bulk(mp, m, n) != 0)
		abort();
	for (unsigned i = 0; i < n; i++) {
		rte_memcpy(rte_pktmbuf_mtod(m[i], void *), t[i].b, t[i].len);
		m[i]->data_len = m[i]->pkt_len = t[i].len;
	}
}

#define SCAN_BUFS 8 /* buffers scanned in turn, each in L1 */
#define SCAN_STRIDE 1536
#define SCAN_CALLS 200000 /* per repetition; the best of SCAN_REPS counts */
#define SCAN_REPS 9

static bool scan_none(const uint8_t *p, size_t *pos, size_t len)
{
	(void)p;
	(void)pos;
	(void)len;
	return true; /* depay_scan_with is left with the byte loop */
}

static double scan_cycles(depay_scan_blocks_fn *blocks, const uint8_t *buf, size_t len)
{
	static uint8_t to[SCAN_STRIDE];
	uint64_t best = UINT64_MAX;

	for (unsigned r = 0; r < SCAN_REPS; r++) {
		uint64_t t0 = rte_rdtsc_precise();

		for (unsigned k = 0; k < SCAN_CALLS; k++) {
			const uint8_t *p = buf + (k % SCAN_BUFS) * SCAN_STRIDE;
			unsigned zeros = 0;

			if (blocks == NULL)
				rte_memcpy(to, p, len);
			else if (!depay_scan_with(blocks, p, len, &zeros))
				abort();
			__asm__ volatile("" ::: "memory");
		}
		best = RTE_MIN(best, rte_rdtsc_precise() - t0);
	}
	return (double)best / SCAN_CALLS;
}

static int scan_bench(void)
{
	/* Before the scan's own widths: a copy, and the byte loop alone. */
	static const struct depay_scan_width floors[] = {{"memcpy", NULL}, {"bytes", scan_none}};
	static uint8_t buf[SCAN_BUFS * SCAN_STRIDE];
	static const size_t lens[] = {200, 1200};

	for (int noisy = 0; noisy < 2; noisy++) {
		uint64_t seed = 0x9e3779b97f4a7c15u;

		for (size_t i = 0; i < sizeof(buf); i++) {
			buf[i] = noisy ? (uint8_t)fleet_xorshift(&seed) : 0x5a;
			if (i % SCAN_STRIDE >= 2 && buf[i - 2] == 0 && buf[i - 1] == 0 && buf[i] <= 3)
				buf[i] = 3;
		}
		for (size_t l = 0; l < RTE_DIM(lens); l++) {
			for (size_t w = 0; w < RTE_DIM(floors) + DEPAY_SCAN_WIDTHS; w++) {
				const struct depay_scan_width *sw =
				    w < RTE_DIM(floors) ? &floors[w] : &depay_scan_widths[w - RTE_DIM(floors)];

				if (!depay_scan_width_usable(sw))
					continue;
				double cyc = scan_cycles(sw->blocks, buf, lens[l]);

				printf(
				    "{\"scan\": \"%s\", \"bytes\": \"%s\", \"len\": %zu, \"cycles\": %.1f, "
				    "\"bytes_per_cycle\": %.2f}\n",
				    sw->name, noisy ? "random" : "fleet", lens[l], cyc,
				    (double)lens[l] / cyc);
			}
		}
	}
	return 0;
}

#define CRYPTO_BURSTS 64 /* bursts of VIGIL_BURST packets, each in L1/L2 */
#define CRYPTO_REPS 200	 /* passes over them; the best of CRYPTO_TRIES counts */
#define CRYPTO_TRIES 5
#define RTP_HDR 12 /* no CSRC, no extension */

/* Cycles per packet of one engine over the same authentic packets, each
 * burst restored from its ciphertext before it is timed (a packet that
 * fails its tag costs less: GHASH only). dev NULL: libsodium. */
static double crypto_cycles(const struct vigil_srtp *s, const struct vigil_cryptodev *dev, void *sess,
			    const uint8_t *salt, uint8_t (*clean)[1600], uint8_t (*work)[1600], size_t len)
{
	uint64_t best = UINT64_MAX;

	for (unsigned t = 0; t < CRYPTO_TRIES; t++) {
		uint64_t total = 0;

		for (unsigned r = 0; r < CRYPTO_REPS; r++)
			for (unsigned b = 0; b < CRYPTO_BURSTS; b++) {
				struct vigil_cryptodev_pkt p[VIGIL_BURST];
				uint64_t t0;
				unsigned ok = 0;

				for (unsigned i = 0; i < VIGIL_BURST; i++) {
					unsigned k = b * VIGIL_BURST + i;

					memcpy(work[k], clean[k], len);
					p[i] = (struct vigil_cryptodev_pkt){
					    .pkt = work[k], .len = (uint32_t)len, .ssrc = 7, .seq = (uint16_t)k};
				}
				t0 = rte_rdtsc_precise();
				if (dev != NULL)
					ok = vigil_cryptodev_srtp_decrypt(dev, sess, salt, RTP_HDR, p, VIGIL_BURST);
				else
					for (unsigned i = 0; i < VIGIL_BURST; i++)
						ok += vigil_srtp_decrypt(s, p[i].pkt, len, RTP_HDR, 7, 0,
									 p[i].seq) >= 0;
				total += rte_rdtsc_precise() - t0;
				if (ok != VIGIL_BURST)
					abort();
			}
		best = RTE_MIN(best, total);
	}
	return (double)best / ((double)CRYPTO_REPS * CRYPTO_BURSTS * VIGIL_BURST);
}

/* dataplane_bench crypto [payload]: SRTP decrypt alone, libsodium's
 * engine against the cryptodev engine on each ipsec-mb PMD, the same
 * authentic packets, bursts of VIGIL_BURST. One JSON line each. */
static int crypto_bench(size_t payload)
{
	static uint8_t clean[CRYPTO_BURSTS * VIGIL_BURST][1600], work[CRYPTO_BURSTS * VIGIL_BURST][1600];
	static const char *const devs[] = {"crypto_aesni_gcm0", "crypto_aesni_mb0"};
	char prefix[64], msg[256];
	char *eal[] = {"bench", "--no-pci", "--log-level=*:error", prefix, "--no-huge", "--no-shconf", "-m", "256",
		       "--vdev=crypto_aesni_gcm0", "--vdev=crypto_aesni_mb0", NULL};
	uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN], salt[VIGIL_SRTP_SESSION_SALT_LEN];
	struct vigil_srtp s;
	size_t len = RTP_HDR + payload + VIGIL_SRTP_TAG_LEN;
	double base;

	snprintf(prefix, sizeof(prefix), "--file-prefix=bench-%d", (int)getpid());
	if (payload < 16 || payload > 1400 || rte_eal_init((int)RTE_DIM(eal) - 1, eal) < 0 ||
	    vigil_srtp_available() < 0) {
		fprintf(stderr, "usage: dataplane_bench crypto [payload 16-1400]; needs AES-NI\n");
		return 1;
	}
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < sizeof(salt); i++)
		salt[i] = (uint8_t)(i * 13 + 5);
	if (vigil_srtp_init_session(&s, key, salt) < 0)
		return 1;
	for (unsigned k = 0; k < CRYPTO_BURSTS * VIGIL_BURST; k++) {
		memset(clean[k], (int)k, RTP_HDR + payload);
		clean[k][0] = 0x80;
		if (vigil_srtp_encrypt(&s, clean[k], RTP_HDR + payload, RTP_HDR, 7, 0, (uint16_t)k) != (int)len)
			return 1;
	}
	base = crypto_cycles(&s, NULL, NULL, salt, clean, work, len);
	printf("{\"crypto\": \"libsodium\", \"payload\": %zu, \"cycles_per_packet\": %.1f, \"ratio\": 1.00}\n",
	       payload, base);
	for (size_t d = 0; d < RTE_DIM(devs); d++) {
		struct vigil_cryptodev dev;
		void *sess;
		double cyc;

		if (vigil_cryptodev_open(&dev, devs[d], 4, 1, false, msg, sizeof(msg)) < 0) {
			fprintf(stderr, "bench: %s\n", msg);
			continue;
		}
		sess = vigil_cryptodev_session(&dev, key, RTP_HDR, false);
		if (sess == NULL)
			return 1;
		cyc = crypto_cycles(NULL, &dev, sess, salt, clean, work, len);
		printf("{\"crypto\": \"%s\", \"payload\": %zu, \"cycles_per_packet\": %.1f, \"ratio\": %.2f}\n",
		       devs[d], payload, cyc, base / cyc);
		vigil_cryptodev_session_free(&dev, sess);
		vigil_cryptodev_close(&dev);
	}
	vigil_srtp_wipe(&s);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned cameras = argc > 1 ? (unsigned)atoi(argv[1]) : 16;
	size_t payload = argc > 2 ? (size_t)atoi(argv[2]) : 1200;
	unsigned rounds = argc > 3 ? (unsigned)atoi(argv[3]) : 20;
	bool huge = argc > 4 && strcmp(argv[4], "huge") == 0;
	const char *scenario = argc > 5 ? argv[5] : "plain";
	const char *engine = argc > 6 ? argv[6] : "libsodium";
	static struct vigil_cryptodev dev;
	bool mixed = strcmp(scenario, "mixed") == 0, feedback = strcmp(scenario, "feedback") == 0;
	bool lossy = strcmp(scenario, "loss") == 0 || feedback;
	static struct rtx_sender rtx;
	uint64_t sent = 0;
	char prefix[64], mem[32];
	/* Hugepages are taken as needed; ordinary pages must be reserved. */
	char *eal[] = {"bench", "--no-pci", "--log-level=*:warning", prefix, huge ? "--in-memory" : "--no-huge",
		       "--no-shconf", "-m", mem, NULL};
	struct vigil_config cfg;
	struct vigil_worker w = {.cfg = &cfg};
	uint64_t t_pipe = 0, t_base = 0, pkts = 0, bytes = 0, raw_pipe = 0, raw_base = 0, raw_pkts = 0;
	uint64_t seed = 0x9e3779b97f4a7c15u, *b_pipe, *b_base, *b_copy, n_bursts = 0, dropped = 0, t_copy = 0;
	static uint8_t copy_to[FLEET_MAX_FRAME];
	uint16_t *b_pkts;
	uint32_t *b_bytes;
	struct vigil_srtp *sender;
	uint32_t *order;
	struct rte_mempool *mp;
	struct vigil_frame_ring fr = {.max_segs = SPARE_MBUFS / 2}, *frp = &fr;

	if (argc > 1 && strcmp(argv[1], "scan") == 0)
		return scan_bench();
	if (argc > 1 && strcmp(argv[1], "crypto") == 0)
		return crypto_bench(argc > 2 ? (size_t)atoi(argv[2]) : 1200);
	snprintf(prefix, sizeof(prefix), "--file-prefix=bench-%d", (int)getpid());
	snprintf(mem, sizeof(mem), "%u", BASE_MEMORY_MB + (unsigned)((uint64_t)cameras * CAMERA_MEMORY_KB / 1024));
	if (payload < 16 || payload > 1400 || cameras == 0 || rounds == 0 ||
	    rte_eal_init(huge ? 5 : (int)RTE_DIM(eal) - 1, eal) < 0 || vigil_srtp_available() < 0) {
		fprintf(stderr, "usage: dataplane_bench [cameras] [payload 16-1400] [rounds] [huge|no-huge]; "
				"needs AES-NI\n");
		return 1;
	}
	if (fleet_config(&cfg, cameras) < 0)
		return 1;
	for (unsigned c = 1; mixed && c < cameras; c += 2)
		cfg.cameras[c].codec = VIGIL_CODEC_H265;
	for (unsigned c = 0; feedback && c < cameras; c++) {
		cfg.cameras[c].has_rtx = true;
		cfg.cameras[c].rtx_ssrc = ~cfg.cameras[c].ssrc;
		cfg.cameras[c].rtx_payload_type = RTX_PT;
	}
	rtx.pending = calloc((size_t)cameras * VISIT_PKTS, sizeof(*rtx.pending));
	rtx.n_pending = calloc(cameras, 1);
	rtx.next = calloc(cameras, sizeof(*rtx.next));
	rtx.started = calloc(cameras, sizeof(*rtx.started));
	if (rtx.pending == NULL || rtx.n_pending == NULL || rtx.next == NULL || rtx.started == NULL)
		return 1;
	sender = aligned_alloc(RTE_CACHE_LINE_SIZE, RTE_ALIGN_CEIL((size_t)cameras * sizeof(*sender), 64));
	order = calloc(cameras, sizeof(*order));
	if (sender == NULL || order == NULL)
		return 1;
	/* A camera's open frame holds at most one visit's packets. */
	mp = rte_pktmbuf_pool_create("bench", cameras * VISIT_PKTS + SPARE_MBUFS, 256, VIGIL_MBUF_PRIV_SIZE,
				     RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	fr.ring = rte_ring_create("bench_frames", 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (mp == NULL || fr.ring == NULL) {
		fprintf(stderr, "bench: no memory for mbufs or the frame ring: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	w.frames = &frp;
	w.n_recorders = 1;
	w.streams = vigil_stream_table_create("bench_streams", cameras, 1, 1, cfg.max_frame_bytes, mp, &frp);
	if (w.streams == NULL) {
		fprintf(stderr, "bench: no memory for the stream table\n");
		return 1;
	}
	if (strcmp(engine, "libsodium") != 0) {
		char msg[256];

		if ((rte_cryptodev_get_dev_id(engine) < 0 && rte_vdev_init(engine, NULL) < 0) ||
		    vigil_cryptodev_open(&dev, engine, 2 * cameras + 64, 1, false, msg, sizeof(msg)) < 0) {
			fprintf(stderr, "bench: %s: no such crypto device\n", engine);
			return 1;
		}
		vigil_stream_table_crypto(w.streams, &dev);
	}
	if (feedback) {
		w.streams->retransmit_hold_ms = 200; /* the default */
		if (null_tx_port(&w, mp) < 0)
			return 1;
	}
	for (unsigned c = 0; c < cameras; c++) {
		if (vigil_stream_add(w.streams, &cfg.cameras[c], c, NULL) < 0) {
			fprintf(stderr, "bench: cannot add camera %u (memory?)\n", c);
			return 1;
		}
		memcpy(&sender[c], w.streams->slots[c]->key, sizeof(sender[c]));
		/* What the control plane would have made durable. */
		vigil_stream_feedback_reserved(w.streams->slots[c], VIGIL_SRTCP_INDEX_END);
		order[c] = c;
	}
	fleet_shuffle(order, cameras, &seed);
	w.tsc_hz = rte_get_tsc_hz();
	if (vigil_reorder_list_init(&w.reorder, VIGIL_HOLD_SMALL_WINDOWS, VIGIL_HOLD_WINDOWS) < 0)
		return 1;

	/* Visit v: camera order[v % cameras] sends its packets
	 * [VISIT_PKTS * visit, +VISIT_PKTS) of round r's GOP. Round 0 only
	 * warms up: every stream has started and holds a frame. */
	uint64_t per_round = (uint64_t)VISITS * cameras, total = per_round * (1 + (uint64_t)rounds);
	size_t max_bursts = (size_t)(total / VISITS_PER_BURST + 1);

	b_pipe = malloc(max_bursts * sizeof(*b_pipe));
	b_base = malloc(max_bursts * sizeof(*b_base));
	b_copy = malloc(max_bursts * sizeof(*b_copy));
	b_pkts = malloc(max_bursts * sizeof(*b_pkts));
	b_bytes = malloc(max_bursts * sizeof(*b_bytes));
	if (b_pipe == NULL || b_base == NULL || b_copy == NULL || b_pkts == NULL || b_bytes == NULL)
		return 1;
	static struct pkt_tmpl tmpl[2 * VIGIL_BURST]; /* a burst, then its RTX burst */
	uint64_t index[2 * VIGIL_BURST];
	unsigned cam[2 * VIGIL_BURST];
	uint32_t ssrc[2 * VIGIL_BURST];

	for (uint64_t v0 = 0; v0 < total; v0 += VISITS_PER_BURST) {
		const struct vigil_srtp *key[VIGIL_BURST];
		struct rte_mbuf *m[VIGIL_BURST];
		struct vigil_burst *b;
		bool timed = v0 >= per_round;
		unsigned n = 0, burst_bytes = 0;
		uint64_t t0, t1;

		for (uint64_t v = v0; v < v0 + VISITS_PER_BURST && v < total; v++) {
			unsigned c = order[v % cameras];
			uint64_t base = v / per_round * GOP_PKTS + (v / cameras) % VISITS * VISIT_PKTS;

			unsigned first = n;

			for (unsigned k = 0; k < VISIT_PKTS; k++) {
				/* A hash of (camera, index): the same packets each run. */
				uint64_t h = (base + k) * 0x9e3779b97f4a7c15u ^ (uint64_t)c * 0xc2b2ae3d27d4eb4fu;

				if (lossy && (h >> 32) % 1000 < 20) {
					if (feedback && rtx.started[c] && rtx.n_pending[c] < VISIT_PKTS)
						rtx.pending[c * VISIT_PKTS + rtx.n_pending[c]++] = base + k;
					continue;
				}
				cam[n] = c;
				ssrc[n] = cfg.cameras[c].ssrc;
				rtx.started[c] = true;
				index[n] = base + k;
				tmpl[n].len = (uint16_t)fleet_packet(tmpl[n].b, &sender[c], cfg.cameras[c].ssrc,
								     cfg.cameras[c].codec, index[n], payload);
				burst_bytes += tmpl[n].len - HDR;
				n++;
			}
			if (lossy && n - first >= 2 && (base * 0x9e3779b97f4a7c15u ^ c) % 100 == 7) {
				struct pkt_tmpl t = tmpl[first];
				uint64_t i0 = index[first];

				tmpl[first] = tmpl[first + 1];
				index[first] = index[first + 1];
				tmpl[first + 1] = t;
				index[first + 1] = i0;
			}
			if (feedback && n > first)
				rtx_reveal(&rtx, c, RTE_MAX(index[n - 1], index[first]));
		}

		sent += n;
		b = vigil_worker_burst(&w);
		fill(mp, b->m, tmpl, n);
		b->n_mbufs = (uint16_t)n;
		t0 = rte_rdtsc_precise();
		vigil_worker_push(&w);
		t1 = rte_rdtsc_precise();
		vigil_frame_ring_drain(&fr);

		/* The retransmissions of the gaps shown so far, a burst of
		 * their own after it (so after the NACK the push above made). */
		unsigned n_rtx = 0;
		uint64_t t_rtx = 0;

		while (feedback && rtx.q_n > 0 && n_rtx < VIGIL_BURST) {
			unsigned k = VIGIL_BURST + n_rtx++, c = rtx.q_cam[rtx.q_head];

			cam[k] = c;
			index[k] = rtx.next[c]++;
			ssrc[k] = cfg.cameras[c].rtx_ssrc;
			tmpl[k].len = (uint16_t)fleet_rtx_packet(tmpl[k].b, &sender[c], cfg.cameras[c].ssrc,
								 cfg.cameras[c].codec, rtx.q_index[rtx.q_head], payload,
								 ssrc[k], RTX_PT, index[k]);
			burst_bytes += tmpl[k].len - HDR;
			rtx.q_head = (rtx.q_head + 1) % RTX_QUEUE;
			rtx.q_n--;
		}
		if (n_rtx > 0) {
			rtx.sent += n_rtx;
			b = vigil_worker_burst(&w);
			fill(mp, b->m, tmpl + VIGIL_BURST, n_rtx);
			b->n_mbufs = (uint16_t)n_rtx;
			uint64_t r0 = rte_rdtsc_precise();
			vigil_worker_push(&w);
			t_rtx = rte_rdtsc_precise() - r0;
			vigil_frame_ring_drain(&fr);
		}
		if (!timed)
			continue;
		b_pipe[n_bursts] = t1 - t0 + t_rtx;

		/* The sender's copies, which encrypted these packets just now:
		 * in the cache, and the receiver's own keys stay untouched
		 * until the next push finishes this burst. */
		b_base[n_bursts] = b_copy[n_bursts] = 0;
		for (unsigned part = 0; part < 2; part++) {
			unsigned from = part == 0 ? 0 : VIGIL_BURST, cnt = part == 0 ? n : n_rtx;

			if (cnt == 0)
				continue;
			for (unsigned k = 0; k < cnt; k++)
				key[k] = &sender[cam[from + k]];
			fill(mp, m, tmpl + from, cnt);
			t0 = rte_rdtsc_precise();
			for (unsigned k = 0; k < cnt; k++) {
				uint8_t *rtp = rte_pktmbuf_mtod(m[k], uint8_t *) + HDR;
				uint64_t i = index[from + k];

				if (vigil_srtp_decrypt(key[k], rtp, m[k]->data_len - HDR, 12, ssrc[from + k],
						       (uint32_t)(i >> 16), (uint16_t)i) < 0)
					abort();
			}
			t1 = rte_rdtsc_precise();
			rte_pktmbuf_free_bulk(m, cnt);
			b_base[n_bursts] += t1 - t0;

			/* The floor below both: moving the same bytes once. */
			fill(mp, m, tmpl + from, cnt);
			t0 = rte_rdtsc_precise();
			for (unsigned k = 0; k < cnt; k++)
				rte_memcpy(copy_to, rte_pktmbuf_mtod(m[k], uint8_t *) + HDR, m[k]->data_len - HDR);
			t1 = rte_rdtsc_precise();
			rte_pktmbuf_free_bulk(m, cnt);
			b_copy[n_bursts] += t1 - t0;
		}
		b_pkts[n_bursts] = (uint16_t)(n + n_rtx);
		b_bytes[n_bursts++] = burst_bytes;
	}
	vigil_worker_drain(&w);
	vigil_frame_ring_drain(&fr);
	uint64_t lim_pipe = OUTLIER_FACTOR * median(b_pipe, n_bursts);
	uint64_t lim_base = OUTLIER_FACTOR * median(b_base, n_bursts);

	for (uint64_t i = 0; i < n_bursts; i++) {
		raw_pipe += b_pipe[i];
		raw_base += b_base[i];
		raw_pkts += b_pkts[i];
		if (b_pipe[i] > lim_pipe || b_base[i] > lim_base) {
			dropped++;
			continue;
		}
		t_pipe += b_pipe[i];
		t_base += b_base[i];
		t_copy += b_copy[i];
		pkts += b_pkts[i];
		bytes += b_bytes[i];
	}

	uint64_t dec = 0, bad = 0, frames = 0, soft = 0, retransmitted = 0, fb_sent = 0;
	for (unsigned c = 0; c < cameras; c++) {
		const uint64_t *v = w.streams->slots[c]->ctr.v;

		dec += v[VIGIL_CTR_decrypted];
		soft += v[VIGIL_CTR_decrypted_libsodium];
		frames += v[VIGIL_CTR_frames_enqueued];
		retransmitted += v[VIGIL_CTR_retransmitted];
		fb_sent += v[VIGIL_CTR_rtcp_rr_sent] + v[VIGIL_CTR_rtcp_rsize_sent];
	}
	/* With loss, frames are dropped and packets put back in order; with
	 * feedback, NACKs go and RTX packets come, some after their hold
	 * (nack_unanswered: the cameras answer between the worker's bursts). */
	for (unsigned i = 0; i < VIGIL_CTR_MAX; i++)
		if (i != VIGIL_CTR_rx_packets && i != VIGIL_CTR_rx_bytes && i != VIGIL_CTR_decrypted &&
		    i != VIGIL_CTR_frames_enqueued && i != VIGIL_CTR_decrypted_libsodium &&
		    !(lossy && (i == VIGIL_CTR_frame_incomplete || i == VIGIL_CTR_frame_no_keyframe ||
				i == VIGIL_CTR_reordered || i == VIGIL_CTR_late)) &&
		    !(feedback && (i == VIGIL_CTR_retransmitted || i == VIGIL_CTR_rtcp_rr_sent ||
				   i == VIGIL_CTR_rtcp_rsize_sent || i == VIGIL_CTR_nack_sent || i == VIGIL_CTR_nacked ||
				   i == VIGIL_CTR_nack_unanswered || i == VIGIL_CTR_pli_sent)))
			for (unsigned c = 0; c < cameras; c++)
				bad += w.streams->slots[c]->ctr.v[i] + (c == 0 ? w.ctr.v[i] : 0);
	for (unsigned i = 0; i < VIGIL_CTR_MAX; i++) {
		uint64_t v = w.ctr.v[i];
		for (unsigned c = 0; c < cameras; c++)
			v += w.streams->slots[c]->ctr.v[i];
		if (v)
			fprintf(stderr, "%s=%" PRIu64 " ", vigil_counter_names[i], v);
	}
	fprintf(stderr, "\n");

	double hz = (double)w.tsc_hz, cyc = (double)t_pipe / (double)pkts;
	printf("{\"engine\": \"%s\", \"scenario\": \"%s\", \"cameras\": %u, \"payload_bytes\": %zu, \"rounds\": %u, \"gop_packets\": %u, "
	       "\"packets_per_turn\": %u, \"hugepages\": %s, \"packets\": %" PRIu64 ", "
	       "\"pipeline_cycles_per_packet\": %.1f, \"libsodium_decrypt_cycles_per_packet\": %.1f, "
	       "\"pipeline_vs_decrypt_only\": %.3f, \"pipeline_mpps\": %.3f, \"pipeline_srtp_gbit_s\": %.3f, "
	       "\"decrypt_only_mpps\": %.3f, \"decrypt_only_srtp_gbit_s\": %.3f, \"interrupted_bursts\": %" PRIu64
	       ", \"bursts\": %" PRIu64 ", "
	       "\"untrimmed_pipeline_cycles_per_packet\": %.1f, \"untrimmed_decrypt_cycles_per_packet\": %.1f, "
	       "\"memcpy_cycles_per_packet\": %.1f, \"tsc_hz\": %" PRIu64 ", \"decrypted\": %" PRIu64
	       ", \"decrypted_libsodium\": %" PRIu64 ", \"frames\": %" PRIu64 ", \"unexpected_drops\": %" PRIu64
	       ", \"rtx_sent\": %" PRIu64 ", \"retransmitted\": %" PRIu64 ", \"feedback_packets\": %" PRIu64 "}\n",
	       engine, scenario, cameras, payload, rounds, GOP_PKTS, VISIT_PKTS, huge ? "true" : "false", pkts, cyc,
	       (double)t_base / (double)pkts, (double)t_base / (double)t_pipe, hz / cyc / 1e6,
	       (double)bytes * 8 * hz / (double)t_pipe / 1e9, hz * (double)pkts / (double)t_base / 1e6,
	       (double)bytes * 8 * hz / (double)t_base / 1e9, dropped, n_bursts,
	       (double)raw_pipe / (double)raw_pkts, (double)raw_base / (double)raw_pkts,
	       (double)t_copy / (double)pkts, w.tsc_hz,
	       dec, soft, frames, bad, rtx.sent, retransmitted, fb_sent);
	return bad == 0 && dec == sent && retransmitted == rtx.sent ? 0 : 1;
}
