/* SPDX-License-Identifier: MIT */
/* Writes a classic pcap (Ethernet/IPv4/UDP, checksums right) of synthetic
 * H.264 SRTP packets (AEAD_AES_256_GCM) from one camera, for tests that
 * need to know exactly what was sent: every GOP is a key frame (a STAP-A
 * with SPS and PPS, then the IDR in FU-A) followed by P frames in FU-A,
 * the marker on each frame's last packet, the RTP timestamp +3000 (30
 * frames/s) per frame. The payload bytes are not a decodable picture; the
 * structure is what a depacketizer checks.
 *
 * The sequence number continues from --first-seq with the rollover counter
 * --roc (together, the 48-bit SRTP index); it may wrap, and the ROC used for
 * encryption follows. Several runs with consecutive indices and timestamps
 * (printed on stdout) and different keys make the phases of one stream.
 *
 * usage: srtp_gen --ssrc N --key BASE64 --first-seq S [--roc R] --frames F
 *                 --gop G --packets-per-frame P --ts0 T --src IP:PORT
 *                 --dst IP:PORT --out FILE [--payload BYTES]
 * Prints `packets N frames F next_seq S next_roc R next_ts T`. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srtp.h"
#include "vigil/bytes.h"

#define ETH_LEN 14
#define IP_LEN 20
#define UDP_LEN 8
#define HDR (ETH_LEN + IP_LEN + UDP_LEN)
#define RTP_LEN 12
#define PT 96
#define TS_PER_FRAME 3000 /* 90 kHz, 30 frames/s */
#define MAX_PAYLOAD 1400

struct endpoint {
	uint8_t ip[4];
	uint16_t port;
};

struct opts {
	uint32_t ssrc;
	uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN];
	uint64_t index; /* ROC << 16 | SEQ of the first packet */
	unsigned frames, gop, ppf, payload;
	uint32_t ts0;
	struct endpoint src, dst;
	const char *out;
};

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Ethernet/IPv4/UDP headers for a UDP payload of len bytes at b + HDR. */
static void wrap(uint8_t *b, size_t len, const struct opts *o, uint16_t ip_id)
{
	static const uint8_t dst_mac[6] = {0x02, 0, 0, 0, 0, 0x01}, src_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
	uint8_t *ip = b + ETH_LEN, *udp = ip + IP_LEN;
	uint32_t sum;
	uint16_t c;

	memcpy(b, dst_mac, 6);
	memcpy(b + 6, src_mac, 6);
	vigil_put16(b + 12, 0x0800);
	memset(ip, 0, IP_LEN);
	ip[0] = 0x45;
	vigil_put16(ip + 2, (unsigned)(IP_LEN + UDP_LEN + len));
	vigil_put16(ip + 4, ip_id);
	vigil_put16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, o->src.ip, 4);
	memcpy(ip + 16, o->dst.ip, 4);
	vigil_put16(ip + 10, fold(sum16(ip, IP_LEN, 0)));
	vigil_put16(udp, o->src.port);
	vigil_put16(udp + 2, o->dst.port);
	vigil_put16(udp + 4, (unsigned)(UDP_LEN + len));
	vigil_put16(udp + 6, 0);
	/* pseudo-header: addresses, protocol, UDP length */
	sum = sum16(ip + 12, 8, 0) + 17 + (uint32_t)(UDP_LEN + len);
	sum = sum16(udp, UDP_LEN + len, sum);
	c = fold(sum);
	vigil_put16(udp + 6, c == 0 ? 0xffff : c);
}

/* The RTP payload of packet `pos` (of n) of a frame; returns its length. */
static size_t payload(uint8_t *pl, bool key, unsigned pos, unsigned n, unsigned size)
{
	static const uint8_t sps[] = {0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00, 0xa0, 0x47, 0xfe, 0xc8};
	static const uint8_t pps[] = {0x68, 0xce, 0x3c, 0x80};
	uint8_t nal_type = key ? 5 : 1;
	size_t len = 0;

	if (key) {
		if (pos == 0) { /* STAP-A: SPS, PPS */
			pl[len++] = 24;
			vigil_put16(pl + len, sizeof(sps));
			memcpy(pl + len + 2, sps, sizeof(sps));
			len += 2 + sizeof(sps);
			vigil_put16(pl + len, sizeof(pps));
			memcpy(pl + len + 2, pps, sizeof(pps));
			len += 2 + sizeof(pps);
			return len;
		}
		pos--;
		n--;
	}
	memset(pl, 0x5a, size);
	if (n == 1) { /* a single NAL unit packet */
		pl[0] = (uint8_t)(0x60 | nal_type);
		pl[1] = key ? 0x88 : 0x9a; /* first_mb_in_slice 0; slice_type I (7) or P (5) */
		return size;
	}
	pl[0] = 0x60 | 28; /* FU indicator: NRI 3, FU-A */
	pl[1] = (uint8_t)(nal_type | (pos == 0 ? 0x80 : 0) | (pos == n - 1 ? 0x40 : 0));
	if (pos == 0)
		pl[2] = key ? 0x88 : 0x9a;
	return size;
}

static int parse_endpoint(const char *s, struct endpoint *e)
{
	char ip[64];
	const char *colon = strrchr(s, ':');
	char *end;
	unsigned long port;

	if (colon == NULL || (size_t)(colon - s) >= sizeof(ip))
		return -1;
	memcpy(ip, s, (size_t)(colon - s));
	ip[colon - s] = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || port == 0 || port > 65535 || inet_pton(AF_INET, ip, e->ip) != 1)
		return -1;
	/* RFC 2544 benchmarking space only: test traffic must never look routable. */
	if (e->ip[0] != 198 || (e->ip[1] & 0xfe) != 18)
		return -1;
	e->port = (uint16_t)port;
	return 0;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *v)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(s, &end, 0);
	if (errno != 0 || *end != '\0' || *s == '\0' || *s == '-' || n > max)
		return -1;
	*v = n;
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: srtp_gen --ssrc N --key BASE64(44 bytes) --first-seq S [--roc R] --frames F\n"
			"                --gop G --packets-per-frame P --ts0 T --src IP:PORT --dst IP:PORT\n"
			"                --out FILE [--payload BYTES]\n"
			"  addresses from 198.18.0.0/15 only; a key frame has P + 1 packets (STAP-A first)\n");
	exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"ssrc", required_argument, NULL, 's'},     {"key", required_argument, NULL, 'k'},
		{"first-seq", required_argument, NULL, 'q'}, {"roc", required_argument, NULL, 'r'},
		{"frames", required_argument, NULL, 'f'},   {"gop", required_argument, NULL, 'g'},
		{"packets-per-frame", required_argument, NULL, 'p'},
		{"ts0", required_argument, NULL, 't'},      {"src", required_argument, NULL, 'S'},
		{"dst", required_argument, NULL, 'D'},      {"out", required_argument, NULL, 'o'},
		{"payload", required_argument, NULL, 'l'},  {NULL, 0, NULL, 0},
	};
	uint64_t v, seq = UINT64_MAX, roc = 0;
	size_t key_len = 0;
	int opt, have = 0;

	*o = (struct opts){.payload = 200};
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (parse_u64(optarg, UINT32_MAX, &v) < 0)
				usage();
			o->ssrc = (uint32_t)v;
			have |= 1;
			break;
		case 'k':
			if (strncmp(optarg, "inline:", 7) == 0)
				optarg += 7;
			if (sodium_base642bin(o->key, sizeof(o->key), optarg, strlen(optarg), NULL, &key_len, NULL,
					      sodium_base64_VARIANT_ORIGINAL) != 0 ||
			    key_len != sizeof(o->key)) {
				fprintf(stderr, "srtp_gen: --key must be base64 of %zu bytes\n", sizeof(o->key));
				exit(2);
			}
			have |= 2;
			break;
		case 'q':
			if (parse_u64(optarg, 65535, &seq) < 0)
				usage();
			break;
		case 'r':
			if (parse_u64(optarg, UINT32_MAX, &roc) < 0)
				usage();
			break;
		case 'f':
			if (parse_u64(optarg, 1000000, &v) < 0 || v == 0)
				usage();
			o->frames = (unsigned)v;
			break;
		case 'g':
			if (parse_u64(optarg, 100000, &v) < 0 || v == 0)
				usage();
			o->gop = (unsigned)v;
			break;
		case 'p':
			if (parse_u64(optarg, 1000, &v) < 0 || v == 0)
				usage();
			o->ppf = (unsigned)v;
			break;
		case 't':
			if (parse_u64(optarg, UINT32_MAX, &v) < 0)
				usage();
			o->ts0 = (uint32_t)v;
			have |= 4;
			break;
		case 'S':
			if (parse_endpoint(optarg, &o->src) < 0)
				usage();
			have |= 8;
			break;
		case 'D':
			if (parse_endpoint(optarg, &o->dst) < 0)
				usage();
			have |= 16;
			break;
		case 'o': o->out = optarg; break;
		case 'l':
			if (parse_u64(optarg, MAX_PAYLOAD, &v) < 0 || v < 16)
				usage();
			o->payload = (unsigned)v;
			break;
		default: usage();
		}
	}
	if (optind != argc || have != 31 || seq == UINT64_MAX || o->frames == 0 || o->gop == 0 || o->ppf == 0 ||
	    o->out == NULL)
		usage();
	o->index = roc << 16 | seq;
}

static void put_le32(FILE *f, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};

	fwrite(b, 1, 4, f);
}

int main(int argc, char **argv)
{
	static const uint8_t pcap_header[24] = {0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0,
						0,    0,    0,    0,    0xff, 0xff, 0, 0, 1, 0, 0, 0};
	uint8_t b[HDR + RTP_LEN + MAX_PAYLOAD + VIGIL_SRTP_TAG_LEN];
	struct vigil_srtp srtp;
	struct opts o;
	uint64_t index, packets = 0;
	FILE *f;

	parse(argc, argv, &o);
	if (vigil_srtp_available() < 0) {
		fprintf(stderr, "srtp_gen: this CPU lacks AES-NI/PCLMUL\n");
		return 77;
	}
	if (vigil_srtp_init(&srtp, o.key, o.key + VIGIL_SRTP_MASTER_KEY_LEN) != 0) {
		fprintf(stderr, "srtp_gen: key derivation failed\n");
		return 1;
	}
	f = fopen(o.out, "wb");
	if (f == NULL) {
		fprintf(stderr, "srtp_gen: %s: %s\n", o.out, strerror(errno));
		return 1;
	}
	fwrite(pcap_header, 1, sizeof(pcap_header), f);
	index = o.index;
	for (unsigned fr = 0; fr < o.frames; fr++) {
		bool key = fr % o.gop == 0;
		unsigned n = o.ppf + (key ? 1 : 0);
		uint32_t ts = o.ts0 + (uint32_t)fr * TS_PER_FRAME;

		for (unsigned pos = 0; pos < n; pos++, index++, packets++) {
			uint8_t *rtp = b + HDR;
			size_t len;
			int srtp_len;

			rtp[0] = 0x80;
			rtp[1] = (uint8_t)(PT | (pos == n - 1 ? 0x80 : 0));
			vigil_put16(rtp + 2, (unsigned)(index & 0xffff));
			vigil_put32(rtp + 4, ts);
			vigil_put32(rtp + 8, o.ssrc);
			len = payload(rtp + RTP_LEN, key, pos, n, o.payload);
			srtp_len = vigil_srtp_encrypt(&srtp, rtp, RTP_LEN + len, RTP_LEN, o.ssrc,
						      (uint32_t)(index >> 16), (uint16_t)index);
			wrap(b, (size_t)srtp_len, &o, (uint16_t)packets);
			/* record header: a microsecond apart, as if paced */
			put_le32(f, (uint32_t)(1700000000 + packets / 1000000));
			put_le32(f, (uint32_t)(packets % 1000000));
			put_le32(f, (uint32_t)(HDR + srtp_len));
			put_le32(f, (uint32_t)(HDR + srtp_len));
			fwrite(b, 1, HDR + (size_t)srtp_len, f);
		}
	}
	vigil_srtp_wipe(&srtp);
	sodium_memzero(o.key, sizeof(o.key));
	if (fclose(f) != 0) {
		fprintf(stderr, "srtp_gen: %s: %s\n", o.out, strerror(errno));
		return 1;
	}
	printf("packets %" PRIu64 " frames %u next_seq %u next_roc %" PRIu64 " next_ts %" PRIu32 "\n", packets,
	       o.frames, (unsigned)(index & 0xffff), index >> 16, o.ts0 + (uint32_t)o.frames * TS_PER_FRAME);
	return 0;
}
