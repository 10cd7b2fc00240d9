/* SPDX-License-Identifier: MIT */
/* Decrypt alone on a capture's own packets: the baseline bench/e2e puts
 * the whole server's rate next to (issue 16: "end to end next to
 * libsodium's and the cryptodev engine's decrypt alone on the same
 * packets").
 *
 * The capture (a vigil-cam fleet, CONFIG its cameras) is read into memory
 * first, and each SRTP packet's ROC worked out as the worker does
 * (vigil_replay_estimate, then vigil_replay_commit once it authenticated):
 * none of that is timed. What is timed, on one core, best of REPS passes:
 * each packet copied into a buffer (as RX copies it into an mbuf) and
 * decrypted in place,
 *   - by libsodium (vigil_srtp_decrypt), a packet at a time;
 *   - by the cryptodev engine (crypto_aesni_gcm0, the synchronous CPU
 *     path), in runs of one camera's packets up to VIGIL_BURST, as the
 *     worker hands them to it.
 * A packet that does not authenticate fails the run: the baseline must
 * decrypt what vigild recorded. RTCP and packets of no camera in CONFIG
 * are left out (vigild does not decrypt them either).
 *
 * usage: capture_decrypt CONFIG PCAP
 * Prints one JSON line. */
#include <errno.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_eal.h>
#include <sodium.h>

#include "config.h"
#include "cryptodev.h"
#include "parse.h"
#include "replay.h"
#include "rtp.h"
#include "srtp.h"

#define REPS 3
#define DEVICE "crypto_aesni_gcm0"
/* Header lengths a camera may use before its packets are refused here. */
#define HDR_LENS 4

struct camera {
	uint32_t ssrc;
	struct vigil_srtp srtp;
	uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN]; /* the RTP session key, for cryptodev's sessions */
	struct vigil_replay replay;
	uint16_t hdr_len[HDR_LENS];
	void *sess[HDR_LENS];
	unsigned n_sess;
};

struct packet {
	uint64_t off; /* in bytes[] */
	uint32_t len, ssrc, roc;
	uint32_t cam;
	uint16_t seq, hdr_len;
	uint8_t sess; /* index in the camera's sessions */
};

static struct camera *cams;
static unsigned n_cams;
static struct packet *pkts;
static size_t n_pkts;
static uint8_t *bytes;

static int ssrc_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct camera *)a)->ssrc, y = ((const struct camera *)b)->ssrc;

	return x < y ? -1 : x > y;
}

static struct camera *camera_of(uint32_t ssrc)
{
	struct camera key = {.ssrc = ssrc};

	return bsearch(&key, cams, n_cams, sizeof(*cams), ssrc_cmp);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int load_cameras(const char *path)
{
	struct vigil_config cfg;
	char err[512];

	if (vigil_config_load(&cfg, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "capture_decrypt: %s\n", err);
		return -1;
	}
	cams = calloc(cfg.n_cameras ? cfg.n_cameras : 1, sizeof(*cams));
	if (cams == NULL)
		return -1;
	for (unsigned i = 0; i < cfg.n_cameras; i++) {
		const struct vigil_camera_config *c = &cfg.cameras[i];
		struct camera *k = &cams[n_cams];

		if (c->has_identity)
			continue; /* its keys come from a handshake */
		k->ssrc = c->ssrc;
		if (vigil_srtp_init(&k->srtp, c->master_key, c->master_salt) < 0 ||
		    vigil_srtp_kdf(c->master_key, c->master_salt, VIGIL_SRTP_MASTER_SALT_LEN,
				   VIGIL_SRTP_LABEL_RTP_ENCRYPTION, k->key, sizeof(k->key)) < 0)
			return -1;
		vigil_replay_init(&k->replay);
		n_cams++;
	}
	vigil_config_free(&cfg);
	qsort(cams, n_cams, sizeof(*cams), ssrc_cmp);
	return 0;
}

/* Reads the capture's SRTP packets into bytes[] and pkts[], each with its
 * ROC; every one must authenticate. */
static int load_capture(const char *path)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, errbuf);
	size_t cap_pkts = 1 << 16, cap_bytes = (size_t)1 << 26, used = 0;
	static uint8_t scratch[65536];
	struct pcap_pkthdr *h;
	const u_char *frame;
	int r;

	if (p == NULL) {
		fprintf(stderr, "capture_decrypt: %s\n", errbuf);
		return -1;
	}
	pkts = malloc(cap_pkts * sizeof(*pkts));
	bytes = malloc(cap_bytes);
	while (pkts != NULL && bytes != NULL && (r = pcap_next_ex(p, &h, &frame)) == 1) {
		struct vigil_udp udp;
		struct vigil_rtp rtp;
		struct camera *k;
		struct packet *q;
		uint64_t index;
		const uint8_t *srtp;
		unsigned s;

		if (h->caplen != h->len || vigil_parse_udp(frame, h->caplen, &udp) != VIGIL_PARSE_OK)
			continue;
		srtp = frame + udp.off;
		if (vigil_rtp_is_rtcp(srtp, udp.len) || vigil_rtp_parse(srtp, udp.len, VIGIL_SRTP_TAG_LEN, &rtp) < 0 ||
		    (k = camera_of(rtp.ssrc)) == NULL)
			continue;
		for (s = 0; s < k->n_sess && k->hdr_len[s] != rtp.hdr_len; s++)
			;
		if (s == HDR_LENS) {
			fprintf(stderr, "capture_decrypt: SSRC %08x: more than %d header lengths\n", rtp.ssrc, HDR_LENS);
			return -1;
		}
		if (s == k->n_sess)
			k->hdr_len[k->n_sess++] = rtp.hdr_len;
		index = vigil_replay_estimate(&k->replay, rtp.seq);
		memcpy(scratch, srtp, udp.len);
		if (vigil_srtp_decrypt(&k->srtp, scratch, udp.len, rtp.hdr_len, rtp.ssrc, (uint32_t)(index >> 16),
				       rtp.seq) < 0) {
			fprintf(stderr, "capture_decrypt: SSRC %08x seq %u does not authenticate\n", rtp.ssrc, rtp.seq);
			return -1;
		}
		vigil_replay_commit(&k->replay, index);
		if (n_pkts == cap_pkts && (pkts = realloc(pkts, (cap_pkts *= 2) * sizeof(*pkts))) == NULL)
			break;
		if (used + udp.len > cap_bytes && (bytes = realloc(bytes, cap_bytes *= 2)) == NULL)
			break;
		q = &pkts[n_pkts++];
		*q = (struct packet){.off = used, .len = udp.len, .ssrc = rtp.ssrc, .roc = (uint32_t)(index >> 16),
				     .cam = (uint32_t)(k - cams), .seq = rtp.seq, .hdr_len = rtp.hdr_len,
				     .sess = (uint8_t)s};
		memcpy(bytes + used, srtp, udp.len);
		used += udp.len;
	}
	pcap_close(p);
	if (pkts == NULL || bytes == NULL) {
		fprintf(stderr, "capture_decrypt: out of memory\n");
		return -1;
	}
	if (n_pkts == 0) {
		fprintf(stderr, "capture_decrypt: %s holds no SRTP packet of the configuration's cameras\n", path);
		return -1;
	}
	return 0;
}

/* One pass of libsodium: seconds, or a negative value if a packet failed. */
static double pass_libsodium(const struct vigil_cryptodev *dev)
{
	static uint8_t buf[65536] __rte_cache_aligned;
	double t0 = now_s();

	(void)dev;
	for (size_t i = 0; i < n_pkts; i++) {
		const struct packet *q = &pkts[i];

		memcpy(buf, bytes + q->off, q->len);
		if (vigil_srtp_decrypt(&cams[q->cam].srtp, buf, q->len, q->hdr_len, q->ssrc, q->roc, q->seq) < 0)
			return -1;
	}
	return now_s() - t0;
}

/* One pass of the cryptodev engine: runs of one camera's packets under
 * one header length, up to VIGIL_BURST, each copied into its own buffer. */
static double pass_cryptodev(const struct vigil_cryptodev *dev)
{
	static uint8_t buf[VIGIL_BURST][2048] __rte_cache_aligned;
	struct vigil_cryptodev_pkt b[VIGIL_BURST];
	double t0 = now_s();

	for (size_t i = 0; i < n_pkts;) {
		const struct packet *first = &pkts[i];
		struct camera *k = &cams[first->cam];
		unsigned n = 0;

		for (; i < n_pkts && n < VIGIL_BURST && pkts[i].cam == first->cam && pkts[i].sess == first->sess;
		     i++, n++) {
			const struct packet *q = &pkts[i];

			if (q->len > sizeof(buf[n]))
				return -1;
			memcpy(buf[n], bytes + q->off, q->len);
			b[n] = (struct vigil_cryptodev_pkt){
			    .pkt = buf[n], .len = q->len, .ssrc = q->ssrc, .roc = q->roc, .seq = q->seq};
		}
		if (vigil_cryptodev_srtp_decrypt(dev, k->sess[first->sess], k->srtp.salt, first->hdr_len, b, n) != n)
			return -1;
	}
	return now_s() - t0;
}

static double best_of(double (*pass)(const struct vigil_cryptodev *), const struct vigil_cryptodev *dev)
{
	double best = 0;

	for (int r = 0; r < REPS; r++) {
		double t = pass(dev);

		if (t < 0)
			return -1;
		if (best == 0 || t < best)
			best = t;
	}
	return best;
}

int main(int argc, char **argv)
{
	char prefix[64], msg[256];
	char *eal[] = {"capture_decrypt", "--no-pci", "--log-level=*:error", prefix, "--no-huge", "--no-shconf",
		       "-m", "512", "--vdev=" DEVICE, NULL};
	struct vigil_cryptodev dev;
	unsigned n_sess = 0;
	double t_sodium, t_dev = -1;

	if (argc != 3) {
		fprintf(stderr, "usage: capture_decrypt CONFIG PCAP\n");
		return 2;
	}
	snprintf(prefix, sizeof(prefix), "--file-prefix=capture-decrypt-%d", (int)getpid());
	if (vigil_srtp_available() < 0) {
		fprintf(stderr, "capture_decrypt: this CPU cannot run libsodium's AES-256-GCM\n");
		return 1;
	}
	if (load_cameras(argv[1]) < 0 || load_capture(argv[2]) < 0)
		return 1;
	t_sodium = best_of(pass_libsodium, NULL);
	if (t_sodium < 0) {
		fprintf(stderr, "capture_decrypt: libsodium failed a packet it had authenticated\n");
		return 1;
	}
	for (unsigned c = 0; c < n_cams; c++)
		n_sess += cams[c].n_sess;
	if (rte_eal_init((int)RTE_DIM(eal) - 1, eal) < 0 ||
	    vigil_cryptodev_open(&dev, DEVICE, n_sess, 1, false, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "capture_decrypt: no %s: %s\n", DEVICE, msg);
		return 1;
	}
	for (unsigned c = 0; c < n_cams; c++)
		for (unsigned s = 0; s < cams[c].n_sess; s++)
			if ((cams[c].sess[s] = vigil_cryptodev_session(&dev, cams[c].key, cams[c].hdr_len[s], false)) ==
			    NULL) {
				fprintf(stderr, "capture_decrypt: no session: %s\n", strerror(errno));
				return 1;
			}
	t_dev = best_of(pass_cryptodev, &dev);
	if (t_dev < 0) {
		fprintf(stderr, "capture_decrypt: %s failed a packet libsodium authenticated (or one over 2048 bytes)\n",
			DEVICE);
		return 1;
	}
	printf("{\"packets\": %zu, \"cameras\": %u, \"libsodium_mpps\": %.3f, \"cryptodev_mpps\": %.3f, "
	       "\"cryptodev_device\": \"%s\"}\n",
	       n_pkts, n_cams, (double)n_pkts / t_sodium / 1e6, (double)n_pkts / t_dev / 1e6, DEVICE);
	for (unsigned c = 0; c < n_cams; c++) {
		for (unsigned s = 0; s < cams[c].n_sess; s++)
			vigil_cryptodev_session_free(&dev, cams[c].sess[s]);
		vigil_srtp_wipe(&cams[c].srtp);
		sodium_memzero(cams[c].key, sizeof(cams[c].key));
	}
	vigil_cryptodev_close(&dev);
	rte_eal_cleanup();
	return 0;
}
