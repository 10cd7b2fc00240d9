/* SPDX-License-Identifier: MIT */
/* Replays a capture's SRTP at a fixed offered load, for a receiver that
 * reads UDP sockets (bench/run's GStreamer baseline): the UDP payload of
 * every packet of a classic pcap (Ethernet/IPv4/UDP, as vigil-cam writes),
 * in order, to 127.0.0.1, paced at `rate` packets per second in batches of
 * BATCH (one sendmmsg each). With SSRCs given, a packet of the k-th goes to
 * port + k (a socket per camera); without, every packet goes to port.
 * The capture is read into memory first; its timestamps are ignored.
 *
 * usage: pcap_replay CAPTURE RATE PORT [SSRC...]     (RATE 0: unpaced)
 * Prints one JSON line. Exit 1 if a send failed, 2 on bad arguments or a
 * capture it cannot replay. */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <pcap/pcap.h>

#define BATCH 8	       /* packets per sendmmsg: the pacing step */
#define MAX_DESTS 64   /* cameras with a port of their own */
#define SPIN_NS 100000 /* closer to the next batch than this: spin, not sleep */

struct capture {
	uint8_t *b; /* payload i at b + off[i], len[i] bytes */
	size_t *off;
	uint16_t *len, *dest;
	uint64_t n, bytes;
};

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The UDP payloads of path, each with its destination's index. */
static int capture_load(struct capture *c, const char *path, const uint32_t *ssrc, unsigned n_ssrc)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, err);
	struct pcap_pkthdr *h;
	const uint8_t *f;
	size_t cap_pkts = 1 << 16, cap_bytes = 1 << 26, used = 0;
	int r;

	if (p == NULL) {
		fprintf(stderr, "pcap_replay: %s\n", err);
		return -EINVAL;
	}
	if (pcap_datalink(p) != DLT_EN10MB) {
		fprintf(stderr, "pcap_replay: %s: not Ethernet\n", path);
		pcap_close(p);
		return -EINVAL;
	}
	*c = (struct capture){.b = malloc(cap_bytes),
			      .off = malloc(cap_pkts * sizeof(size_t)),
			      .len = malloc(cap_pkts * sizeof(uint16_t)),
			      .dest = malloc(cap_pkts * sizeof(uint16_t))};
	while ((r = pcap_next_ex(p, &h, &f)) == 1) {
		size_t ihl, ulen;
		unsigned d = 0;

		if (c->b == NULL || c->off == NULL || c->len == NULL || c->dest == NULL)
			break;
		if (h->caplen != h->len || h->caplen < 14 + 20 + 8 || f[12] != 8 || f[13] != 0 ||
		    f[23] != 17 || (ihl = (f[14] & 0x0fu) * 4u) < 20 || h->caplen < 14 + ihl + 8 ||
		    (ulen = (size_t)f[14 + ihl + 4] << 8 | f[14 + ihl + 5]) < 8 + 12 ||
		    14 + ihl + ulen > h->caplen) {
			fprintf(stderr,
				"pcap_replay: packet %" PRIu64 ": not a whole Ethernet/IPv4/UDP/RTP packet\n",
				c->n);
			r = 0;
			break;
		}
		const uint8_t *udp = f + 14 + ihl;

		while (d < n_ssrc && ssrc[d] != get32(udp + 8 + 8))
			d++;
		if (n_ssrc > 0 && d == n_ssrc) {
			fprintf(stderr, "pcap_replay: packet %" PRIu64 ": SSRC %" PRIu32 " not given\n", c->n,
				get32(udp + 8 + 8));
			r = 0;
			break;
		}
		if (c->n == cap_pkts) {
			cap_pkts *= 2;
			c->off = realloc(c->off, cap_pkts * sizeof(size_t));
			c->len = realloc(c->len, cap_pkts * sizeof(uint16_t));
			c->dest = realloc(c->dest, cap_pkts * sizeof(uint16_t));
		}
		if (used + ulen > cap_bytes) {
			cap_bytes *= 2;
			c->b = realloc(c->b, cap_bytes);
		}
		if (c->b == NULL || c->off == NULL || c->len == NULL || c->dest == NULL)
			break;
		memcpy(c->b + used, udp + 8, ulen - 8);
		c->off[c->n] = used;
		c->len[c->n] = (uint16_t)(ulen - 8);
		c->dest[c->n++] = (uint16_t)(n_ssrc > 0 ? d : 0);
		used += ulen - 8;
		c->bytes += ulen - 8;
	}
	if (r == PCAP_ERROR)
		fprintf(stderr, "pcap_replay: %s: %s\n", path, pcap_geterr(p));
	pcap_close(p);
	if (c->b == NULL || c->off == NULL || c->len == NULL || c->dest == NULL)
		return -ENOMEM;
	return r == PCAP_ERROR_BREAK && c->n > 0 ? 0 : -EINVAL;
}

int main(int argc, char **argv)
{
	double rate = argc > 2 ? atof(argv[2]) : -1;
	int port = argc > 3 ? atoi(argv[3]) : 0;
	unsigned n_ssrc = argc > 4 ? (unsigned)(argc - 4) : 0;
	uint32_t ssrc[MAX_DESTS];
	struct sockaddr_in to[MAX_DESTS];
	struct capture c;
	uint64_t sent = 0, batches = 0, max_late = 0, t0, t1;
	int fd;

	if (argc < 4 || rate < 0 || port <= 0 || port + (int)n_ssrc > 65535 || n_ssrc > MAX_DESTS) {
		fprintf(
		    stderr,
		    "usage: pcap_replay CAPTURE RATE PORT [SSRC...] (RATE 0: unpaced; at most %d SSRCs)\n",
		    MAX_DESTS);
		return 2;
	}
	for (unsigned k = 0; k < n_ssrc; k++)
		ssrc[k] = (uint32_t)strtoul(argv[4 + k], NULL, 10);
	for (unsigned k = 0; k < (n_ssrc ? n_ssrc : 1); k++)
		to[k] = (struct sockaddr_in){.sin_family = AF_INET,
					     .sin_port = htons((uint16_t)(port + (int)k)),
					     .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (capture_load(&c, argv[1], ssrc, n_ssrc) < 0)
		return 2;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("pcap_replay: socket");
		return 2;
	}

	/* Batch i is due at t0 + i * BATCH / rate; how late it went out is
	 * how far the sender fell behind its pace. */
	t0 = now_ns();
	while (sent < c.n) {
		struct mmsghdr msg[BATCH];
		struct iovec iov[BATCH];
		unsigned m = 0;

		if (rate > 0) {
			uint64_t due = t0 + (uint64_t)((double)batches * BATCH * 1e9 / rate), t = now_ns();

			if (t + SPIN_NS < due)
				clock_nanosleep(CLOCK_MONOTONIC, 0,
						&(struct timespec){0, (long)(due - t - SPIN_NS / 2)}, NULL);
			while ((t = now_ns()) < due)
				__builtin_ia32_pause();
			if (t - due > max_late)
				max_late = t - due;
		}
		for (; m < BATCH && sent + m < c.n; m++) {
			uint64_t i = sent + m;

			iov[m] = (struct iovec){c.b + c.off[i], c.len[i]};
			msg[m].msg_hdr = (struct msghdr){.msg_name = &to[c.dest[i]],
							 .msg_namelen = sizeof(to[0]),
							 .msg_iov = &iov[m],
							 .msg_iovlen = 1};
		}
		int r = sendmmsg(fd, msg, m, 0);

		if (r < 0 && errno != EINTR && errno != EAGAIN && errno != ENOBUFS) {
			perror("pcap_replay: sendmmsg");
			return 1;
		}
		sent += r > 0 ? (unsigned)r : 0;
		batches++;
	}
	t1 = now_ns();
	double s = (double)(t1 - t0) / 1e9;

	printf("{\"packets\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"destinations\": %u, \"seconds\": %.3f, "
	       "\"offered_pps\": %.0f, \"sent_pps\": %.0f, \"max_late_us\": %.0f}\n",
	       c.n, c.bytes, n_ssrc ? n_ssrc : 1, s, rate, (double)c.n / s, (double)max_late / 1e3);
	return 0;
}
