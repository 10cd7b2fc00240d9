/* SPDX-License-Identifier: MIT */
/* libFuzzer target: input is [u16 BE length][RTP packet] records, run
 * through the RTP checks and both depacketizers. Nothing may be read or
 * written out of bounds, every frame must be a well-formed mbuf chain, and
 * every mbuf and packet buffer must come back. The start code prefix scan
 * of every width must also agree with the byte loop on the whole input. */
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_mbuf.h>

#include "depay.h"
#include "depay_scan.h"
#include "rtp.h"

#define POOL_MBUFS 64 /* for parameter sets and clones: fewer than enough, exhaustion happens */
#define MAX_FRAME (64u << 10)
/* Before the RTP packet in its buffer: mbuf headroom, Ethernet, IPv4, UDP. */
#define ROOM_BELOW (RTE_PKTMBUF_HEADROOM + 14 + 20 + 8)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct rte_mempool *pool, *heads;

struct sink {
	struct rte_mbuf *held; /* the last frame, kept like a slow recorder */
	uint32_t camera;
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *args[] = {"fuzz_depay", "--no-huge", "--no-shconf", "-m", "64", "--no-pci", "-l", "0",
			"--log-level=*:error", NULL};

	(void)argc;
	(void)argv;
	if (rte_eal_init(RTE_DIM(args) - 1, args) < 0)
		abort();
	pool = rte_pktmbuf_pool_create("fuzz_depay", POOL_MBUFS, 0, VIGIL_MBUF_PRIV_SIZE, RTE_MBUF_DEFAULT_BUF_SIZE,
				       SOCKET_ID_ANY);
	/* Packets: mbufs without data of their own, each attached to a
	 * buffer malloc'd to the packet's exact end, so ASan sees it. */
	heads = rte_pktmbuf_pool_create("fuzz_heads", 4096, 0, VIGIL_MBUF_PRIV_SIZE, 0, SOCKET_ID_ANY);
	if (pool == NULL || heads == NULL)
		abort();
	return 0;
}

static void free_ext(void *addr, void *opaque)
{
	free(addr);
	free(opaque);
}

static struct rte_mbuf *packet_mbuf(const uint8_t *pkt, size_t len, uint8_t **rtp)
{
	struct rte_mbuf_ext_shared_info *shinfo = malloc(sizeof(*shinfo));
	uint8_t *buf = malloc(ROOM_BELOW + len);
	struct rte_mbuf *m = rte_pktmbuf_alloc(heads);

	if (shinfo == NULL || buf == NULL || m == NULL)
		abort();
	shinfo->free_cb = free_ext;
	shinfo->fcb_opaque = shinfo;
	rte_mbuf_ext_refcnt_set(shinfo, 1);
	rte_pktmbuf_attach_extbuf(m, buf, RTE_BAD_IOVA, (uint16_t)(ROOM_BELOW + len), shinfo);
	m->data_off = ROOM_BELOW;
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	memset(buf, 0xee, ROOM_BELOW);
	memcpy(buf + ROOM_BELOW, pkt, len);
	*rtp = buf + ROOM_BELOW;
	return m;
}

/* A frame is a well-formed chain starting with a start code. */
static void emit(void *arg, struct rte_mbuf *head)
{
	struct sink *s = arg;
	static const uint8_t start_code[4] = {0, 0, 0, 1};
	const struct vigil_frame *f = vigil_frame_of(head);
	uint8_t first[4];
	const uint8_t *p = rte_pktmbuf_read(head, 0, 4, first);
	uint32_t bytes = 0;
	unsigned segs = 0;

	for (const struct rte_mbuf *m = head; m != NULL; m = m->next, segs++)
		bytes += m->data_len;
	if (f->camera != s->camera || head->pkt_len < 5 || head->pkt_len > MAX_FRAME || bytes != head->pkt_len ||
	    segs != head->nb_segs || p == NULL || memcmp(p, start_code, 4) != 0 ||
	    (f->flags & ~VIGIL_FRAME_KEY) != 0)
		abort();
	rte_pktmbuf_free(s->held);
	s->held = head;
}

/* The input as NAL unit bytes after 0-2 carried zeros, split in two
 * fragments where its first byte says. */
static void scan_agrees(const uint8_t *data, size_t size)
{
	unsigned carried = size > 0 ? data[0] % 3 : 0, want_z = carried;
	size_t cut = size > 0 ? data[0] % (size + 1) : 0;
	bool want = depay_scan_bytes(data, 0, size, &want_z);

	for (size_t w = 0; w < DEPAY_SCAN_WIDTHS; w++) {
		depay_scan_blocks_fn *blocks = depay_scan_widths[w].blocks;
		unsigned z = carried;
		bool ok;

		if (!depay_scan_width_usable(&depay_scan_widths[w]))
			continue;
		ok = depay_scan_with(blocks, data, cut, &z) && depay_scan_with(blocks, data + cut, size - cut, &z);

		if (ok != want || (ok && z != want_z))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vigil_counters ctr = {0};
	struct sink sinks[2];
	struct vigil_depay_env env[2];
	struct vigil_depay d[2];
	uint64_t top = UINT64_C(1) << 32; /* highest index, RFC 3711 style */
	bool have = false;

	scan_agrees(data, size);
	for (int i = 0; i < 2; i++) {
		sinks[i] = (struct sink){.camera = (uint32_t)i};
		env[i] = (struct vigil_depay_env){.pool = pool,
						  .ctr = &ctr,
						  .emit = emit,
						  .emit_arg = &sinks[i],
						  .camera = (uint32_t)i,
						  .max_frame_bytes = MAX_FRAME};
		vigil_depay_init(&d[i], i ? VIGIL_CODEC_H265 : VIGIL_CODEC_H264);
	}
	while (size >= 2) {
		size_t len = (size_t)(data[0] << 8 | data[1]);
		struct vigil_rtp rtp;
		uint64_t index;
		int plen;

		if (len > size - 2 || len > UINT16_MAX - ROOM_BELOW)
			break;
		const uint8_t *rec = data + 2;
		data += 2 + len;
		size -= 2 + len;
		(void)vigil_rtp_is_rtcp(rec, len);
		if (vigil_rtp_parse(rec, len, 0, &rtp) != 0)
			continue;
		/* Each stream gets the packet in an mbuf of its own. */
		for (int i = 0; i < 2; i++) {
			uint8_t *pkt;
			struct rte_mbuf *m = packet_mbuf(rec, len, &pkt);

			plen = vigil_rtp_strip_padding(&rtp, pkt + rtp.hdr_len, len - rtp.hdr_len);
			if (plen < 0) {
				rte_pktmbuf_free(m);
				continue;
			}
			if ((size_t)plen > len - rtp.hdr_len)
				abort();
			index = have ? top + (uint64_t)(int16_t)(rtp.seq - (uint16_t)top) : top + rtp.seq;
			if (i == 1) {
				if (!have || index > top)
					top = index;
				have = true;
			}
			vigil_depay_push(&d[i], &env[i], index, rtp.ts, rtp.marker, m, pkt + rtp.hdr_len,
					 (size_t)plen, index);
		}
	}
	for (int i = 0; i < 2; i++) {
		vigil_depay_flush(&d[i], &env[i]);
		if (d[i].frame != NULL || d[i].open || d[i].in_fu)
			abort();
		rte_pktmbuf_free(sinks[i].held);
	}
	if (rte_mempool_avail_count(pool) != POOL_MBUFS || rte_mempool_avail_count(heads) != 4096)
		abort();
	return 0;
}
