/* SPDX-License-Identifier: MIT */
/* hs_flood: forged handshake initiations, what a server must survive while
 * its cameras still connect: each from an identity no camera has, with a
 * valid mac1 (the server's public key is no secret), taken in turn from a
 * pool made at start (the server keeps no state of an ephemeral key, so
 * reusing them costs it as much as fresh ones).
 *
 *   hs_flood --to HOST --port N --server-key B64 --from ADDR[,ADDR...] --seconds S [--rate PPS]
 *     sends through UDP sockets bound to each source address in turn;
 *   hs_flood --to HOST --port N --server-key B64 --iface IF --dst-mac MAC --spoof A.B.C.D/LEN
 *            --seconds S [--rate PPS] [--random-mac2 PERCENT]
 *     writes whole frames on IF (AF_PACKET, batches of sendmmsg), each from
 *     the next of the 2^(32-LEN) addresses of the prefix (in a scattered
 *     order) and a source port of its own: a spoofed flood, as fast as one
 *     core goes or at most PPS a second.
 *
 * --random-mac2 puts 16 random bytes where a cookie's MAC goes in that
 * share of the initiations (default none: zero, as a sender without a
 * cookie does): a flood that tries to pass for proven, and makes the
 * server check each. Prints {"sent": N, "seconds": T, "rate": R,
 * "send_errors": E}. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "handshake.h"

#define MAX_SOURCES 64
#define POOL 1024 /* distinct initiations */
#define BATCH 64  /* frames per sendmmsg */
#define FRAME_LEN                                                                                            \
	(sizeof(struct ether_header) + sizeof(struct iphdr) + sizeof(struct udphdr) + VIGIL_HS_INITIATION_LEN)

static void die(const char *msg)
{
	fprintf(stderr, "hs_flood: %s\n", msg);
	exit(1);
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Not before the n-th message's time at rate (0: no pacing). */
static void pace(double t0, uint64_t n, double rate)
{
	double due = t0 + (double)n / rate, now = now_s();
	struct timespec ts;

	if (rate <= 0 || now >= due)
		return;
	ts.tv_sec = (time_t)(due - now);
	ts.tv_nsec = (long)((due - now - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

static uint16_t ip_sum(const void *hdr, size_t len)
{
	const uint8_t *p = hdr;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

static void parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		die("--dst-mac: not a MAC address");
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
}

/* The spoofed flood: frames written on iface, from the n_src addresses at
 * base. Returns how many went; *errors, how many the socket refused. */
static uint64_t flood_frames(const char *iface, const uint8_t dst_mac[6], struct in_addr dst, uint16_t port,
			     uint32_t base, uint32_t n_src, uint8_t (*pool)[VIGIL_HS_INITIATION_LEN],
			     double seconds, double rate, double *elapsed, uint64_t *errors)
{
	static uint8_t frames[BATCH][FRAME_LEN];
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_halen = 6};
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct ifreq ifr = {0};
	uint64_t sent = 0, i = 0;
	double t0, end;
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		die("cannot open a packet socket (needs root)");
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", iface);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0 || (sll.sll_ifindex = (int)if_nametoindex(iface)) == 0)
		die("--iface: no such interface");
	/* Straight to the driver: a flood has no use for a queueing discipline. */
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	memcpy(sll.sll_addr, dst_mac, 6);
	for (unsigned b = 0; b < BATCH; b++) {
		struct ether_header *eth = (struct ether_header *)frames[b];
		struct iphdr *ip = (struct iphdr *)(eth + 1);
		struct udphdr *uh = (struct udphdr *)(ip + 1);

		memcpy(eth->ether_dhost, dst_mac, 6);
		memcpy(eth->ether_shost, ifr.ifr_hwaddr.sa_data, 6);
		eth->ether_type = htons(ETHERTYPE_IP);
		*ip = (struct iphdr){.version = 4,
				     .ihl = 5,
				     .ttl = 64,
				     .protocol = IPPROTO_UDP,
				     .tot_len = htons((uint16_t)(FRAME_LEN - sizeof(*eth))),
				     .daddr = dst.s_addr};
		/* UDP checksum 0: none, as IPv4 allows. */
		*uh = (struct udphdr){.uh_dport = htons(port),
				      .uh_ulen = htons((uint16_t)(sizeof(*uh) + VIGIL_HS_INITIATION_LEN))};
		iov[b] = (struct iovec){.iov_base = frames[b], .iov_len = FRAME_LEN};
		msgs[b] = (struct mmsghdr){
		    .msg_hdr = {
			.msg_name = &sll, .msg_namelen = sizeof(sll), .msg_iov = &iov[b], .msg_iovlen = 1}};
	}
	t0 = now_s();
	end = t0 + seconds;
	while (now_s() < end) {
		int n;

		pace(t0, sent, rate);
		for (unsigned b = 0; b < BATCH; b++, i++) {
			struct iphdr *ip = (struct iphdr *)(frames[b] + sizeof(struct ether_header));
			struct udphdr *uh = (struct udphdr *)(ip + 1);
			/* An odd multiplier walks every address of the prefix
			 * once per round, neighbours far apart. */
			uint32_t k = (uint32_t)(i * 2654435761u) & (n_src - 1);

			ip->saddr = htonl(base + k);
			ip->id = (uint16_t)i;
			ip->check = 0;
			ip->check = ip_sum(ip, sizeof(*ip));
			uh->uh_sport = htons((uint16_t)(1024 + (k * 7919u) % 64000u));
			memcpy(uh + 1, pool[i % POOL], VIGIL_HS_INITIATION_LEN);
		}
		n = sendmmsg(fd, msgs, BATCH, 0);
		if (n < 0) {
			if (errno != ENOBUFS && errno != EAGAIN)
				die("sendmmsg failed");
			n = 0;
		}
		sent += (uint64_t)n;
		*errors += (uint64_t)(BATCH - n);
	}
	*elapsed = now_s() - t0;
	close(fd);
	return sent;
}

/* Through sockets bound to each of from's addresses in turn. */
static uint64_t flood_sockets(char *from, struct sockaddr_in *dst, uint8_t (*pool)[VIGIL_HS_INITIATION_LEN],
			      double seconds, double rate, double *elapsed, uint64_t *errors)
{
	int fds[MAX_SOURCES], n_fds = 0;
	uint64_t sent = 0, i = 0;
	double t0, end;

	for (char *tok = strtok(from, ","); tok != NULL && n_fds < MAX_SOURCES; tok = strtok(NULL, ",")) {
		struct sockaddr_in src = {.sin_family = AF_INET};

		fds[n_fds] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fds[n_fds] < 0 || inet_pton(AF_INET, tok, &src.sin_addr) != 1 ||
		    bind(fds[n_fds], (struct sockaddr *)&src, sizeof(src)) < 0)
			die("cannot bind a source address");
		n_fds++;
	}
	t0 = now_s();
	end = t0 + seconds;
	for (; now_s() < end; i++) {
		pace(t0, i, rate);
		if (sendto(fds[i % (uint64_t)n_fds], pool[i % POOL], VIGIL_HS_INITIATION_LEN, 0,
			   (struct sockaddr *)dst, sizeof(*dst)) == VIGIL_HS_INITIATION_LEN)
			sent++;
		else
			++*errors;
	}
	*elapsed = now_s() - t0;
	for (int f = 0; f < n_fds; f++)
		close(fds[f]);
	return sent;
}

#define USAGE                                                                                                \
	"usage: hs_flood --to HOST --port N --server-key B64 --seconds S [--rate PPS]\n"                     \
	"                (--from ADDR[,...] | --iface IF --dst-mac MAC --spoof A.B.C.D/LEN) "                \
	"[--random-mac2 PERCENT]"

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"to", required_argument, NULL, 't'},
	    {"port", required_argument, NULL, 'p'},
	    {"server-key", required_argument, NULL, 'k'},
	    {"from", required_argument, NULL, 'f'},
	    {"seconds", required_argument, NULL, 's'},
	    {"rate", required_argument, NULL, 'r'},
	    {"iface", required_argument, NULL, 'i'},
	    {"dst-mac", required_argument, NULL, 'm'},
	    {"spoof", required_argument, NULL, 'S'},
	    {"random-mac2", required_argument, NULL, '2'},
	    {NULL, 0, NULL, 0},
	};
	struct sockaddr_in dst = {.sin_family = AF_INET};
	uint8_t server_pk[32], sk[32], dst_mac[6] = {0};
	uint8_t(*pool)[VIGIL_HS_INITIATION_LEN];
	struct vigil_hs_initiator *hs;
	char *from = NULL, *iface = NULL, *spoof = NULL;
	double seconds = 1, rate = 0, elapsed;
	uint64_t sent, errors = 0;
	uint32_t base = 0, n_src = 0;
	unsigned random_mac2 = 0; /* percent */
	size_t len;
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 't':
			if (inet_pton(AF_INET, optarg, &dst.sin_addr) != 1)
				die("--to: not an IPv4 address");
			break;
		case 'p':
			dst.sin_port = htons((uint16_t)atoi(optarg));
			break;
		case 'k':
			if (sodium_base642bin(server_pk, sizeof(server_pk), optarg, strlen(optarg), NULL,
					      &len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
			    len != sizeof(server_pk))
				die("--server-key: not base64 of 32 bytes");
			break;
		case 'f':
			from = optarg;
			break;
		case 's':
			seconds = atof(optarg);
			break;
		case 'r':
			rate = atof(optarg);
			break;
		case 'i':
			iface = optarg;
			break;
		case 'm':
			parse_mac(optarg, dst_mac);
			break;
		case 'S':
			spoof = optarg;
			break;
		case '2':
			random_mac2 = (unsigned)atoi(optarg);
			break;
		default:
			die(USAGE);
		}
	}
	if (dst.sin_port == 0 || (from == NULL) == (spoof == NULL) || (spoof != NULL && iface == NULL) ||
	    sodium_init() < 0)
		die(USAGE);
	if (spoof != NULL) {
		char *slash = strchr(spoof, '/');
		struct in_addr a;
		int bits = slash != NULL ? atoi(slash + 1) : 32;

		if (slash != NULL)
			*slash = '\0';
		if (inet_pton(AF_INET, spoof, &a) != 1 || bits < 8 || bits > 32)
			die("--spoof: not A.B.C.D/LEN with LEN from 8 to 32");
		n_src = 1u << (32 - bits);
		base = ntohl(a.s_addr) & ~(n_src - 1);
	}
	pool = malloc(POOL * sizeof(*pool));
	hs = sodium_malloc(sizeof(*hs));
	if (pool == NULL || hs == NULL)
		die("out of memory");
	for (unsigned i = 0; i < POOL; i++) {
		randombytes_buf(sk, sizeof(sk));
		len = sizeof(pool[i]);
		if (vigil_hs_initiator_init(hs, sk, server_pk) < 0 ||
		    vigil_hs_initiation_write(hs, 0, pool[i], &len) < 0)
			die("cannot make an initiation");
		if (i * 100 < random_mac2 * POOL)
			randombytes_buf(pool[i] + VIGIL_HS_INITIATION_MAC2_OFF, VIGIL_HS_MAC_LEN);
	}
	sodium_free(hs);
	if (spoof != NULL)
		sent = flood_frames(iface, dst_mac, dst.sin_addr, ntohs(dst.sin_port), base, n_src, pool,
				    seconds, rate, &elapsed, &errors);
	else
		sent = flood_sockets(from, &dst, pool, seconds, rate, &elapsed, &errors);
	printf("{\"sent\": %" PRIu64 ", \"seconds\": %.3f, \"rate\": %.0f, \"send_errors\": %" PRIu64 "}\n",
	       sent, elapsed, (double)sent / elapsed, errors);
	free(pool);
	return 0;
}
