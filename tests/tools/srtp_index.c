/* SPDX-License-Identifier: MIT */
/* Reads captures (classic pcap: Ethernet or Linux cooked, IPv4, UDP) of one
 * camera's SRTP (AEAD_AES_256_GCM) and establishes each packet's true
 * 48-bit index by decrypting it: the one ROC, of 0 to --max-roc, under
 * which its tag verifies with the key. Then says whether any index was
 * used twice (a repeated AES-GCM nonce), and what a receiver that saw the
 * captures one after the other makes of them: RFC 3711's index estimate
 * (section 3.3.1, as libsrtp and vigild do it), started at ROC 0, checked
 * against the truth packet by packet. Each capture is one run of the
 * camera, in order.
 *
 * usage: srtp_index --key-file FILE --ssrc N --port P [--max-roc R] CAPTURE...
 * Prints one JSON object:
 *   {"packets": n, "not_authentic": n, "repeated": n, "estimate_wrong": n,
 *    "backwards": n, "max_jump": n,
 *    "runs": [{"packets": n, "first": i, "last": i, "min": i, "max": i}, ...]}
 * repeated: packets whose index an earlier packet had; backwards: runs that
 * start at or below an index of an earlier run; max_jump: the largest
 * first(run k+1) - last(run k). Exit 0, or 2 on bad usage or input. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "srtp.h"

#define RTP_LEN 12
#define MAX_PKT 65536

struct run {
	uint64_t packets, first, last, min, max;
};

static uint64_t *seen;
static size_t n_seen, cap_seen;

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "srtp_index: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	exit(2);
}

static uint32_t rd32(const uint8_t *p, bool swap)
{
	uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;

	return swap ? __builtin_bswap32(v) : v;
}

static unsigned be16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* The UDP payload of a frame sent to port, or NULL. */
static const uint8_t *udp_payload(const uint8_t *f, size_t len, uint32_t linktype, unsigned port,
				  size_t *plen)
{
	size_t l2 = linktype == 1 ? 14 : 16, ihl;
	unsigned proto = linktype == 1 ? be16(f + 12) : 0;

	if (len < l2 + 28)
		return NULL;
	if (linktype == 113)
		proto = be16(f + 14);
	if (proto != 0x0800 || f[l2] >> 4 != 4 || f[l2 + 9] != 17)
		return NULL;
	ihl = (size_t)(f[l2] & 15) * 4;
	if (ihl < 20 || len < l2 + ihl + 8 || be16(f + l2 + ihl + 2) != port)
		return NULL;
	*plen = len - l2 - ihl - 8;
	return f + l2 + ihl + 8;
}

/* RFC 3711 section 3.3.1 with s_l the highest sequence number seen: v is
 * ROC - 1, ROC or ROC + 1, whichever makes the index nearest s_l's. */
static uint64_t estimate(uint64_t top, unsigned seq)
{
	int32_t d = (int32_t)seq - (int32_t)(top & 0xffff);
	uint64_t roc = top >> 16;

	if (d > 32768 && roc > 0)
		roc--;
	else if (d < -32768)
		roc++;
	return roc << 16 | seq;
}

static bool authentic(const struct vigil_srtp *srtp, const uint8_t *pkt, size_t len, uint32_t ssrc,
		      uint64_t index)
{
	static uint8_t out[MAX_PKT];

	return vigil_srtp_decrypt_to(srtp, pkt, len, RTP_LEN, ssrc, (uint32_t)(index >> 16), (uint16_t)index,
				     out) >= 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"key-file", required_argument, NULL, 'k'},
	    {"ssrc", required_argument, NULL, 's'},
	    {"port", required_argument, NULL, 'p'},
	    {"max-roc", required_argument, NULL, 'r'},
	    {NULL, 0, NULL, 0},
	};
	uint8_t master[VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN];
	uint64_t packets = 0, not_authentic = 0, repeated = 0, estimate_wrong = 0, backwards = 0,
		 max_jump = 0;
	uint64_t top = 0, highest = 0;
	bool any = false, rx_started = false;
	const char *key_file = NULL;
	unsigned long ssrc = 0, port = 0, max_roc = 16;
	struct vigil_srtp srtp;
	struct run *runs;
	char line[256];
	size_t got;
	FILE *f;
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'k':
			key_file = optarg;
			break;
		case 's':
			ssrc = strtoul(optarg, NULL, 0);
			break;
		case 'p':
			port = strtoul(optarg, NULL, 0);
			break;
		case 'r':
			max_roc = strtoul(optarg, NULL, 0);
			break;
		default:
			die("usage: srtp_index --key-file FILE --ssrc N --port P [--max-roc R] CAPTURE...",
			    NULL);
		}
	}
	if (key_file == NULL || port == 0 || port > 65535 || ssrc > UINT32_MAX || max_roc > UINT32_MAX ||
	    optind == argc)
		die("usage: srtp_index --key-file FILE --ssrc N --port P [--max-roc R] CAPTURE...", NULL);
	if (vigil_srtp_available() < 0)
		die("this CPU lacks AES-NI", NULL);
	f = fopen(key_file, "r");
	if (f == NULL || fgets(line, sizeof(line), f) == NULL)
		die("cannot read", key_file);
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	if (sodium_base642bin(master, sizeof(master), line, strlen(line), NULL, &got, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    got != sizeof(master) || vigil_srtp_init(&srtp, master, master + VIGIL_SRTP_MASTER_KEY_LEN) < 0)
		die("not a base64 key of 44 bytes", key_file);
	runs = calloc((size_t)(argc - optind), sizeof(*runs));
	if (runs == NULL)
		die("out of memory", NULL);

	for (int a = optind; a < argc; a++) {
		struct run *r = &runs[a - optind];
		static uint8_t frame[MAX_PKT];
		uint8_t hdr[24], rec[16];
		uint32_t magic, linktype;
		bool swap;

		f = fopen(argv[a], "rb");
		if (f == NULL || fread(hdr, 1, sizeof(hdr), f) != sizeof(hdr))
			die("cannot read a pcap header from", argv[a]);
		magic = rd32(hdr, false);
		swap = magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1;
		if (!swap && magic != 0xa1b2c3d4 && magic != 0xa1b23c4d)
			die("not a classic pcap", argv[a]);
		linktype = rd32(hdr + 20, swap);
		if (linktype != 1 && linktype != 113)
			die("link type neither Ethernet nor Linux cooked", argv[a]);
		while (fread(rec, 1, sizeof(rec), f) == sizeof(rec)) {
			uint32_t caplen = rd32(rec + 8, swap);
			const uint8_t *pkt;
			uint64_t index = 0, est;
			size_t len;
			bool found = false;

			if (caplen > sizeof(frame) || fread(frame, 1, caplen, f) != caplen)
				die("a truncated record in", argv[a]);
			pkt = udp_payload(frame, caplen, linktype, (unsigned)port, &len);
			if (pkt == NULL || len < RTP_LEN + VIGIL_SRTP_TAG_LEN || pkt[0] >> 6 != 2 ||
			    ((uint32_t)pkt[8] << 24 | (uint32_t)pkt[9] << 16 | (uint32_t)pkt[10] << 8 |
			     pkt[11]) != ssrc)
				continue;
			packets++;
			for (uint64_t roc = 0; roc <= max_roc && !found; roc++) {
				index = roc << 16 | be16(pkt + 2);
				found = authentic(&srtp, pkt, len, (uint32_t)ssrc, index);
			}
			if (!found) {
				not_authentic++;
				continue;
			}
			/* The receiver: the estimate from the highest index it
			 * authenticated; only what authenticates moves it. */
			est = rx_started ? estimate(top, be16(pkt + 2)) : be16(pkt + 2);
			if (est != index) {
				estimate_wrong++;
			} else if (!rx_started || est > top) {
				top = est;
				rx_started = true;
			}
			if (r->packets == 0) {
				r->first = r->min = index;
				if (any && index <= highest)
					backwards++;
				if (a > optind && runs[a - optind - 1].packets != 0 &&
				    index > runs[a - optind - 1].last &&
				    index - runs[a - optind - 1].last > max_jump)
					max_jump = index - runs[a - optind - 1].last;
			}
			r->packets++;
			r->last = index;
			r->min = index < r->min ? index : r->min;
			r->max = index > r->max ? index : r->max;
			if (n_seen == cap_seen) {
				cap_seen = cap_seen ? cap_seen * 2 : 4096;
				seen = realloc(seen, cap_seen * sizeof(*seen));
				if (seen == NULL)
					die("out of memory", NULL);
			}
			seen[n_seen++] = index;
		}
		fclose(f);
		if (r->packets != 0 && (!any || r->max > highest))
			highest = r->max;
		any = any || r->packets != 0;
	}

	/* Repeats: sorted, equal neighbours. */
	if (n_seen > 1)
		qsort(seen, n_seen, sizeof(*seen), cmp_u64);
	for (size_t i = 1; i < n_seen; i++)
		repeated += seen[i] == seen[i - 1];

	printf("{\"packets\": %" PRIu64 ", \"not_authentic\": %" PRIu64 ", \"repeated\": %" PRIu64
	       ", \"estimate_wrong\": %" PRIu64 ", \"backwards\": %" PRIu64 ", \"max_jump\": %" PRIu64
	       ", \"runs\": [",
	       packets, not_authentic, repeated, estimate_wrong, backwards, max_jump);
	for (int a = optind; a < argc; a++) {
		const struct run *r = &runs[a - optind];

		printf("%s{\"packets\": %" PRIu64 ", \"first\": %" PRIu64 ", \"last\": %" PRIu64
		       ", \"min\": %" PRIu64 ", \"max\": %" PRIu64 "}",
		       a > optind ? ", " : "", r->packets, r->first, r->last, r->min, r->max);
	}
	printf("]}\n");
	vigil_srtp_wipe(&srtp);
	sodium_memzero(master, sizeof(master));
	free(runs);
	free(seen);
	return 0;
}
