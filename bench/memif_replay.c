/* SPDX-License-Identifier: MIT */
/* Replays a capture's frames (vigil-cam's: Ethernet/IPv4/UDP/SRTP) into
 * vigild live over a memif port (memif_port.h), from memory, as fast as
 * vigild takes them or at RATE packets a second: live load that neither a
 * socket nor the sender's encryption limits. memif loses nothing (a full
 * ring is waited out), so the time to send them all is vigild's intake.
 *
 * usage: memif_replay CAPTURE SOCKET [RATE]     (RATE 0 or none: unpaced)
 * Prints one JSON line. Exit 1 if a packet could not be sent, 2 on bad
 * arguments or a capture it cannot read. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pcap/pcap.h>

#include "memif_port.h"

#define BATCH 32

static volatile sig_atomic_t stop_now;

static void on_signal(int sig)
{
	(void)sig;
	stop_now = 1;
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

int main(int argc, char **argv)
{
	char err[PCAP_ERRBUF_SIZE], msg[4300];
	double rate = argc > 3 ? atof(argv[3]) : 0;
	struct pcap_pkthdr *h;
	const uint8_t *f;
	struct iovec *frames = NULL;
	uint64_t n = 0, cap = 0, bytes = 0, sent = 0, t0, t1;
	pcap_t *p;
	int r;

	if (argc < 3 || rate < 0) {
		fprintf(stderr, "usage: memif_replay CAPTURE SOCKET [RATE]\n");
		return 2;
	}
	p = pcap_open_offline(argv[1], err);
	if (p == NULL || pcap_datalink(p) != DLT_EN10MB) {
		fprintf(stderr, "memif_replay: %s: %s\n", argv[1], p == NULL ? err : "not Ethernet");
		return 2;
	}
	while ((r = pcap_next_ex(p, &h, &f)) == 1) {
		if (h->caplen != h->len || h->caplen > 2048) {
			fprintf(stderr, "memif_replay: packet %" PRIu64 ": cut short or over 2048 bytes\n", n);
			return 2;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 1 << 16;
			frames = realloc(frames, cap * sizeof(*frames));
		}
		if (frames == NULL || (frames[n].iov_base = malloc(h->caplen)) == NULL) {
			fprintf(stderr, "memif_replay: out of memory\n");
			return 2;
		}
		memcpy(frames[n].iov_base, f, h->caplen);
		frames[n++].iov_len = h->caplen;
		bytes += h->caplen;
	}
	if (r == PCAP_ERROR) {
		fprintf(stderr, "memif_replay: %s: %s\n", argv[1], pcap_geterr(p));
		return 2;
	}
	pcap_close(p);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (memif_port_open(argv[2], msg, sizeof(msg)) < 0) {
		fprintf(stderr, "memif_replay: %s\n", msg);
		return 2;
	}
	t0 = now_ns();
	for (uint64_t i = 0; i < n && !stop_now; i += BATCH) {
		unsigned k = n - i < BATCH ? (unsigned)(n - i) : BATCH;

		if (rate > 0) /* batch i leaves at its time */
			while (now_ns() - t0 < (uint64_t)((double)i * 1e9 / rate) && !stop_now)
				;
		sent += memif_port_send(frames + i, k, &stop_now);
	}
	t1 = now_ns();
	memif_port_close();
	printf("{\"packets\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"sent\": %" PRIu64 ", \"elapsed_s\": %.6f, "
	       "\"pps\": %.0f, \"rate\": %.0f}\n",
	       n, bytes, sent, (double)(t1 - t0) / 1e9, (double)sent * 1e9 / (double)(t1 - t0), rate);
	return sent == n ? 0 : 1;
}
