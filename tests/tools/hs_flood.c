/* SPDX-License-Identifier: MIT */
/* hs_flood: forged handshake initiations, as fast as one core makes them:
 * each from a fresh identity no camera has, with a valid mac1 (the server's
 * public key is no secret), spread over several source addresses. What a
 * server must survive while its cameras still connect.
 *
 * usage: hs_flood --to HOST --port N --server-key BASE64 --from ADDR[,ADDR...] --seconds S [--rate PPS]
 * Prints {"sent": N}. At most PPS a second (default: as fast as it goes). */
#include <arpa/inet.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "handshake.h"

#define MAX_SOURCES 64

static void die(const char *msg)
{
	fprintf(stderr, "hs_flood: %s\n", msg);
	exit(1);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"to", required_argument, NULL, 't'},	  {"port", required_argument, NULL, 'p'},
		{"server-key", required_argument, NULL, 'k'}, {"from", required_argument, NULL, 'f'},
		{"seconds", required_argument, NULL, 's'}, {"rate", required_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	struct sockaddr_in dst = {.sin_family = AF_INET};
	uint8_t server_pk[32], sk[32], msg[VIGIL_HS_INITIATION_LEN];
	struct vigil_hs_initiator *hs;
	int fds[MAX_SOURCES], n_fds = 0, o;
	char *from = NULL, *tok;
	double seconds = 1, rate = 0;
	struct timespec t0, t;
	uint64_t sent = 0;
	size_t len;
	time_t end;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 't':
			if (inet_pton(AF_INET, optarg, &dst.sin_addr) != 1)
				die("--to: not an IPv4 address");
			break;
		case 'p': dst.sin_port = htons((uint16_t)atoi(optarg)); break;
		case 'k':
			if (sodium_base642bin(server_pk, sizeof(server_pk), optarg, strlen(optarg), NULL, &len, NULL,
					      sodium_base64_VARIANT_ORIGINAL) != 0 ||
			    len != sizeof(server_pk))
				die("--server-key: not base64 of 32 bytes");
			break;
		case 'f': from = optarg; break;
		case 's': seconds = atof(optarg); break;
		case 'r': rate = atof(optarg); break;
		default: die("usage: hs_flood --to HOST --port N --server-key B64 --from ADDR[,...] --seconds S");
		}
	}
	if (from == NULL || dst.sin_port == 0 || sodium_init() < 0)
		die("usage: hs_flood --to HOST --port N --server-key B64 --from ADDR[,...] --seconds S");
	for (tok = strtok(from, ","); tok != NULL && n_fds < MAX_SOURCES; tok = strtok(NULL, ",")) {
		struct sockaddr_in src = {.sin_family = AF_INET};

		fds[n_fds] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fds[n_fds] < 0 || inet_pton(AF_INET, tok, &src.sin_addr) != 1 ||
		    bind(fds[n_fds], (struct sockaddr *)&src, sizeof(src)) < 0)
			die("cannot bind a source address");
		n_fds++;
	}
	hs = sodium_malloc(sizeof(*hs));
	if (hs == NULL)
		die("out of memory");
	end = time(NULL) + (time_t)(seconds + 0.5);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (time(NULL) < end) {
		/* Paced: the n-th message not before n / rate seconds. */
		while (rate > 0 && (clock_gettime(CLOCK_MONOTONIC, &t),
				    (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 < (double)sent / rate))
			usleep(200);
		randombytes_buf(sk, sizeof(sk));
		len = sizeof(msg);
		if (vigil_hs_initiator_init(hs, sk, server_pk) < 0 || vigil_hs_initiation_write(hs, 0, msg, &len) < 0)
			die("cannot make an initiation");
		if (sendto(fds[sent % (uint64_t)n_fds], msg, len, 0, (struct sockaddr *)&dst, sizeof(dst)) ==
		    (ssize_t)len)
			sent++;
	}
	printf("{\"sent\": %" PRIu64 "}\n", sent);
	sodium_free(hs);
	return 0;
}
