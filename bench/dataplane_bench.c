/* SPDX-License-Identifier: MIT */
/* Data-plane cost per packet next to its baseline, measured in one run:
 * the whole worker path (classify, lookup, replay, decrypt, depacketize,
 * hand off) against libsodium's AES-256-GCM decrypt alone on the same
 * packets. Both copy each packet into an mbuf first, as RX would.
 * usage: dataplane_bench [cameras] [payload bytes] [rounds] */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "worker.h"

#define PKTS_PER_CAMERA 64 /* one key frame of 16 packets, then P frames of 8 */
#define HDR (14 + 20 + 8)

struct pkt_tmpl {
	uint16_t len;
	uint8_t b[HDR + 12 + 1500 + 16];
};

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

/* Ethernet/IPv4/UDP around an SRTP packet of len bytes, checksum right. */
static void wrap(uint8_t *b, size_t len)
{
	uint8_t *ip = b + 14;
	uint32_t sum = 0;

	memset(b, 0, HDR);
	put16(b + 12, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, (unsigned)(20 + 8 + len));
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, (uint8_t[]){198, 18, 0, 2, 198, 18, 0, 1}, 8);
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put16(ip + 10, ~sum & 0xffff);
	put16(ip + 20, 40000);
	put16(ip + 22, 5004);
	put16(ip + 24, (unsigned)(8 + len));
}

/* One camera's packets: STAP-A with SPS and PPS, an IDR in FU-A, P frames. */
static void build(struct pkt_tmpl *t, const struct vigil_srtp *srtp, uint32_t ssrc, size_t payload)
{
	static const uint8_t sps[] = {0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00, 0xa0, 0x47, 0xfe, 0xc8};
	static const uint8_t pps[] = {0x68, 0xce, 0x3c, 0x80};

	for (unsigned i = 0; i < PKTS_PER_CAMERA; i++) {
		uint8_t *rtp = t[i].b + HDR, *pl = rtp + 12;
		unsigned frame = i < 17 ? 0 : 1 + (i - 17) / 8, pos = i < 17 ? i : (i - 17) % 8;
		bool last = i == 16 || (i > 16 && pos == 7) || i == PKTS_PER_CAMERA - 1;
		size_t n = payload;

		rtp[0] = 0x80;
		rtp[1] = (uint8_t)(96 | (last ? 0x80 : 0));
		put16(rtp + 2, i);
		put32(rtp + 4, frame * 3000);
		put32(rtp + 8, ssrc);
		if (i == 0) {
			n = 0;
			pl[n++] = 24;
			put16(pl + n, sizeof(sps));
			memcpy(pl + n + 2, sps, sizeof(sps));
			n += 2 + sizeof(sps);
			put16(pl + n, sizeof(pps));
			memcpy(pl + n + 2, pps, sizeof(pps));
			n += 2 + sizeof(pps);
		} else {
			unsigned first = i == 1 || (i > 16 && pos == 0);
			memset(pl, 0x5a, n);
			pl[0] = 0x60 | 28;
			pl[1] = (uint8_t)((frame == 0 ? 5 : 1) | (first ? 0x80 : 0) | (last ? 0x40 : 0));
			pl[2] = 0x88; /* first_mb_in_slice 0: a picture's first slice */
		}
		t[i].len = (uint16_t)(HDR + vigil_srtp_encrypt(srtp, rtp, 12 + n, 12, ssrc, 0, (uint16_t)i));
		wrap(t[i].b, t[i].len - HDR);
	}
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

int main(int argc, char **argv)
{
	unsigned cameras = argc > 1 ? (unsigned)atoi(argv[1]) : 16;
	size_t payload = argc > 2 ? (size_t)atoi(argv[2]) : 1200;
	unsigned rounds = argc > 3 ? (unsigned)atoi(argv[3]) : 20;
	char prefix[64];
	char *eal[] = {"bench", "--no-huge", "--no-shconf", "-m", "512", "--no-pci", "--log-level=*:warning",
		       prefix, NULL};
	struct vigil_config cfg = {.max_frame_bytes = 1 << 20, .n_cameras = cameras};
	struct vigil_worker w = {.cfg = &cfg};
	uint64_t t_pipe = 0, t_base = 0, pkts = 0;
	struct pkt_tmpl *tmpl;
	struct rte_mempool *mp;
	struct vigil_frame_pool *fp;
	struct rte_ring *ring;

	snprintf(prefix, sizeof(prefix), "--file-prefix=bench-%d", (int)getpid());
	if (payload < 16 || payload > 1400 || cameras == 0 || rte_eal_init(8, eal) < 0 ||
	    vigil_srtp_available() < 0) {
		fprintf(stderr, "usage: dataplane_bench [cameras] [payload 16-1400] [rounds]; needs AES-NI\n");
		return 1;
	}
	cfg.cameras = calloc(cameras, sizeof(*cfg.cameras));
	tmpl = calloc((size_t)cameras * PKTS_PER_CAMERA, sizeof(*tmpl));
	cfg.srtp_ports[5004 >> 3] = 1u << (5004 & 7);
	for (unsigned c = 0; c < cameras; c++) {
		snprintf(cfg.cameras[c].name, sizeof(cfg.cameras[c].name), "cam%u", c);
		cfg.cameras[c].ssrc = 0x1000 + c;
		for (unsigned k = 0; k < 32; k++)
			cfg.cameras[c].master_key[k] = (uint8_t)(c * 7 + k + 1);
	}
	mp = rte_pktmbuf_pool_create("bench", 4095, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	fp = vigil_frame_pool_create("bench_frames", 4096 + cameras, 1 << 20);
	ring = rte_ring_create("bench_frames", 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	w.streams = vigil_stream_table_create("bench_streams", cameras, 1, cfg.max_frame_bytes, fp, ring);
	if (mp == NULL || fp == NULL || ring == NULL || w.streams == NULL)
		return 1;
	for (unsigned c = 0; c < cameras; c++)
		if (vigil_stream_add(w.streams, &cfg.cameras[c], c) < 0)
			return 1;
	for (unsigned c = 0; c < cameras; c++)
		build(tmpl + (size_t)c * PKTS_PER_CAMERA, w.streams->slots[c]->key, cfg.cameras[c].ssrc, payload);
	w.tsc_hz = rte_get_tsc_hz();
	/* Steady state: a long-running server has touched every frame buffer
	 * already, so page faults on first touch are not part of the cost. */
	struct vigil_frame **all = calloc(4096 + cameras + 1, sizeof(*all));
	unsigned n_all = 0;
	while ((all[n_all] = vigil_frame_get(fp)) != NULL)
		memset(all[n_all++]->data, 0, 64 << 10);
	while (n_all > 0)
		vigil_frame_put(fp, all[--n_all]);
	free(all);

	for (unsigned r = 0; r <= rounds; r++) {
		for (unsigned c = 0; c < cameras; c++) {
			struct vigil_stream *s = w.streams->slots[c];
			const struct pkt_tmpl *t = tmpl + (size_t)c * PKTS_PER_CAMERA;
			struct rte_mbuf *m[VIGIL_BURST];
			void *f[64];
			uint64_t t0;

			/* Each round replays the same packets: start the stream afresh. */
			vigil_replay_init(&s->replay);
			vigil_depay_flush(&s->depay, &s->env);
			vigil_depay_init(&s->depay, VIGIL_CODEC_H264);
			for (unsigned i = 0; i < PKTS_PER_CAMERA; i += VIGIL_BURST) {
				fill(mp, m, t + i, VIGIL_BURST);
				t0 = rte_rdtsc_precise();
				vigil_worker_process(&w, m, VIGIL_BURST);
				if (r > 0)
					t_pipe += rte_rdtsc_precise() - t0;
				rte_pktmbuf_free_bulk(m, VIGIL_BURST);

				fill(mp, m, t + i, VIGIL_BURST);
				t0 = rte_rdtsc_precise();
				for (unsigned k = 0; k < VIGIL_BURST; k++) {
					uint8_t *rtp = rte_pktmbuf_mtod(m[k], uint8_t *) + HDR;
					int rc = vigil_srtp_decrypt(s->key, rtp, m[k]->data_len - HDR, 12,
								    cfg.cameras[c].ssrc, 0, (uint16_t)(i + k));
					if (rc < 0)
						abort();
				}
				if (r > 0) {
					t_base += rte_rdtsc_precise() - t0;
					pkts += VIGIL_BURST;
				}
				rte_pktmbuf_free_bulk(m, VIGIL_BURST);
			}
			unsigned n;
			while ((n = rte_ring_dequeue_burst(ring, f, 64, NULL)) > 0)
				for (unsigned k = 0; k < n; k++)
					vigil_frame_put(fp, f[k]);
		}
	}
	uint64_t dec = 0, bad = 0, frames = 0;
	for (unsigned c = 0; c < cameras; c++) {
		dec += w.streams->slots[c]->ctr.v[VIGIL_CTR_decrypted];
		frames += w.streams->slots[c]->ctr.v[VIGIL_CTR_frames_enqueued];
	}
	for (unsigned i = 0; i < VIGIL_CTR_MAX; i++)
		if (i != VIGIL_CTR_rx_packets && i != VIGIL_CTR_rx_bytes && i != VIGIL_CTR_decrypted &&
		    i != VIGIL_CTR_frames_enqueued && i != VIGIL_CTR_frame_no_keyframe)
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
	printf("{\"cameras\": %u, \"payload_bytes\": %zu, \"packets\": %" PRIu64 ", "
	       "\"pipeline_cycles_per_packet\": %.1f, \"libsodium_decrypt_cycles_per_packet\": %.1f, "
	       "\"pipeline_vs_decrypt_only\": %.3f, \"decrypted\": %" PRIu64 ", \"frames\": %" PRIu64
	       ", \"unexpected_drops\": %" PRIu64 "}\n",
	       cameras, payload, pkts, (double)t_pipe / (double)pkts, (double)t_base / (double)pkts,
	       (double)t_base / (double)t_pipe, dec, frames, bad);
	return bad == 0 ? 0 : 1;
}
