/* SPDX-License-Identifier: MIT */
/* The receiver a user would otherwise write, as a baseline for the data
 * plane: a UDP socket on 127.0.0.1, recvmmsg 32 at a time, libsrtp2's
 * srtp_unprotect (one session, a stream per camera under its own key), and
 * a batch's payloads appended to /dev/null with one writev. One thread on
 * CPU 0, where dataplane_bench's main lcore runs.
 *
 * A sender thread on CPU 1 sends the fleet's packets, encrypted before the
 * run (libsrtp2 refuses a packet twice), with sendmmsg and UDP GSO (so one
 * core keeps the receiver busy; the receiver gets ordinary datagrams), as
 * fast as the receiver takes them: at most IN_FLIGHT on their way, well
 * below what the socket buffer holds. Socket drops are counted anyway
 * (SO_RXQ_OVFL). On loopback the kernel's IP and UDP receive runs in the
 * sender's system call, on its core: the receiver pays recvmmsg (the copy
 * out of the socket), libsrtp2 and the write. After a warm-up (every
 * camera's first GOP) the receiver is timed for `seconds`, or until the
 * pool runs out, by the wall clock and by its CPU time
 * (CLOCK_THREAD_CPUTIME_ID, what RUSAGE_THREAD sums).
 *
 * usage: socket_bench [cameras] [payload bytes] [seconds]
 * Prints one JSON line. Exit 1 if a packet failed authentication or went
 * missing, 2 if it could not run (needs 2 CPUs and AES-NI). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <srtp2/srtp.h>

#include "fleet.h"

#define BATCH 32
#define RX_CPU 0 /* dataplane_bench's main lcore */
#define TX_CPU 1
#define IN_FLIGHT 1024	 /* sent, neither received nor dropped yet */
#define RCVBUF (4 << 20) /* asked for; the kernel caps it at net.core.rmem_max, then doubles it */
#define VISIT_PKTS 4	 /* packets a camera sends back to back, as in the other benches */
#define POOL_MPPS 0.8	 /* packets encrypted ahead, per second of the run, in millions */
#define GSO_SEGS 32	 /* packets in one of the sender's messages at most */
#define RTP_HDR 12	 /* the fleet's packets have no CSRCs and no extension */
#define SLOT (RTP_HDR + 1400 + VIGIL_SRTP_TAG_LEN)

struct pool {
	uint8_t *b; /* packet i at b + i * stride */
	uint16_t *len;
	uint64_t n;
	size_t stride;
};

struct shared {
	struct pool pool;
	int tx_fd, tx_errno;
	bool gso;
	bool stop, tx_done;	  /* __atomic */
	uint64_t sent, accounted; /* __atomic; accounted = received + dropped */
};

struct rx {
	int fd, out;
	srtp_t srtp;
	uint64_t received, dropped, failed, bytes, calls;
	struct mmsghdr msg[BATCH];
	struct iovec iov[BATCH], wr[BATCH];
	char ctl[BATCH][CMSG_SPACE(sizeof(uint32_t))];
	uint8_t buf[BATCH][SLOT];
};

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) < 0 ? -errno : 0;
}

static double clock_s(clockid_t id)
{
	struct timespec t;

	clock_gettime(id, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The fleet's packets in the other benches' order: cameras take turns in a
 * shuffled order, VISIT_PKTS packets each, every stream's index going on. */
static int pool_fill(struct pool *p, const struct vigil_config *cfg, size_t payload, uint64_t n)
{
	unsigned cameras = cfg->n_cameras;
	struct vigil_srtp *key = calloc(cameras, sizeof(*key));
	uint64_t *next = calloc(cameras, sizeof(*next)), seed = 0x9e3779b97f4a7c15u;
	uint32_t *order = calloc(cameras, sizeof(*order));
	static uint8_t frame[FLEET_MAX_FRAME];

	p->n = n;
	p->stride = RTP_HDR + payload + VIGIL_SRTP_TAG_LEN;
	p->b = malloc(n * p->stride);
	p->len = malloc(n * sizeof(*p->len));
	if (key == NULL || next == NULL || order == NULL || p->b == NULL || p->len == NULL)
		return -ENOMEM;
	for (unsigned c = 0; c < cameras; c++) {
		if (vigil_srtp_init(&key[c], cfg->cameras[c].master_key, cfg->cameras[c].master_salt) < 0)
			return -EINVAL;
		order[c] = c;
	}
	fleet_shuffle(order, cameras, &seed);
	for (uint64_t i = 0; i < n; i++) {
		const struct vigil_camera_config *cam = &cfg->cameras[order[i / VISIT_PKTS % cameras]];
		unsigned c = (unsigned)(cam - cfg->cameras);

		p->len[i] =
		    (uint16_t)(fleet_packet(frame, &key[c], cam->ssrc, cam->codec, next[c]++, payload) -
			       FLEET_HDR);
		memcpy(p->b + i * p->stride, frame + FLEET_HDR, p->len[i]);
	}
	free(key);
	free(next);
	free(order);
	return 0;
}

/* The next message from packet i: a run of full-size packets (a stride
 * each, back to back in the pool) and at most one shorter one to end it,
 * which UDP GSO (segment size: the stride) cuts into the same datagrams. */
static unsigned tx_run(const struct pool *p, uint64_t i, unsigned max)
{
	unsigned k = 0;

	while (k < max && i + k < p->n)
		if (p->len[i + k++] != p->stride)
			break;
	return k;
}

static void *tx_main(void *arg)
{
	struct shared *s = arg;
	struct mmsghdr msg[BATCH] = {0};
	struct iovec iov[BATCH];
	unsigned pkts[BATCH];
	uint64_t sent = 0;

	for (unsigned m = 0; m < BATCH; m++)
		msg[m].msg_hdr = (struct msghdr){.msg_iov = &iov[m], .msg_iovlen = 1};
	s->tx_errno = -pin(TX_CPU);
	while (s->tx_errno == 0 && sent < s->pool.n && !__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
		uint64_t at = sent, accounted = __atomic_load_n(&s->accounted, __ATOMIC_ACQUIRE);
		unsigned m = 0;
		int r;

		for (unsigned k; m < BATCH && at < s->pool.n; at += k, m++) {
			k = pkts[m] = tx_run(&s->pool, at, s->gso ? GSO_SEGS : 1);
			if (at + k - accounted > IN_FLIGHT)
				break;
			iov[m] = (struct iovec){s->pool.b + at * s->pool.stride,
						(k - 1) * s->pool.stride + s->pool.len[at + k - 1]};
		}
		if (m == 0) {
			__builtin_ia32_pause();
			continue;
		}
		r = sendmmsg(s->tx_fd, msg, m, 0);
		if (r < 0 && errno != EINTR && errno != EAGAIN && errno != ENOBUFS)
			s->tx_errno = errno;
		for (int j = 0; j < r; j++)
			sent += pkts[j];
		__atomic_store_n(&s->sent, sent, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&s->tx_done, true, __ATOMIC_RELEASE);
	return NULL;
}

/* One recvmmsg: authenticate and decrypt, append the payloads. Returns the
 * packets received, 0 if none came within the socket's timeout. */
static int rx_batch(struct rx *r)
{
	unsigned w = 0;
	int n;

	for (unsigned k = 0; k < BATCH; k++) {
		r->iov[k] = (struct iovec){r->buf[k], SLOT};
		r->msg[k].msg_hdr = (struct msghdr){.msg_iov = &r->iov[k],
						    .msg_iovlen = 1,
						    .msg_control = r->ctl[k],
						    .msg_controllen = sizeof(r->ctl[k])};
	}
	n = recvmmsg(r->fd, r->msg, BATCH, MSG_WAITFORONE, NULL);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	for (int k = 0; k < n; k++) {
		int len = (int)r->msg[k].msg_len;
		uint32_t drops;

		/* The socket's drops so far, attached once there are any. */
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&r->msg[k].msg_hdr); c;
		     c = CMSG_NXTHDR(&r->msg[k].msg_hdr, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
				memcpy(&drops, CMSG_DATA(c), sizeof(drops));
				r->dropped = drops;
			}
		r->bytes += (unsigned)len;
		if (srtp_unprotect(r->srtp, r->buf[k], &len) != srtp_err_status_ok) {
			r->failed++;
			continue;
		}
		r->wr[w++] = (struct iovec){r->buf[k] + RTP_HDR, (size_t)len - RTP_HDR};
	}
	if (w > 0 && writev(r->out, r->wr, (int)w) < 0) /* /dev/null: never short */
		return -errno;
	r->received += (unsigned)n;
	r->calls++;
	return n;
}

/* The receiver's socket on 127.0.0.1, the sender's connected to it. */
static int open_sockets(struct rx *r, struct shared *s, int *rcvbuf)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tmo = {.tv_usec = 100000};

	r->fd = socket(AF_INET, SOCK_DGRAM, 0);
	s->tx_fd = socket(AF_INET, SOCK_DGRAM, 0);
	r->out = open("/dev/null", O_WRONLY | O_APPEND);
	if (r->fd < 0 || s->tx_fd < 0 || r->out < 0 ||
	    setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &(int){RCVBUF}, sizeof(int)) < 0 ||
	    setsockopt(r->fd, SOL_SOCKET, SO_RXQ_OVFL, &(int){1}, sizeof(int)) < 0 ||
	    setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo)) < 0 ||
	    getsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, rcvbuf, &(socklen_t){sizeof(int)}) < 0 ||
	    bind(r->fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(r->fd, (struct sockaddr *)&a, &(socklen_t){sizeof(a)}) < 0 ||
	    connect(s->tx_fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -errno;
	s->gso = setsockopt(s->tx_fd, SOL_UDP, UDP_SEGMENT, &(int){(int)s->pool.stride}, sizeof(int)) == 0;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned cameras = argc > 1 ? (unsigned)atoi(argv[1]) : 1000;
	size_t payload = argc > 2 ? (size_t)atoi(argv[2]) : 1200;
	double seconds = argc > 3 ? atof(argv[3]) : 1.5;
	static struct rx r;
	struct shared s = {0};
	struct vigil_config cfg;
	int rcvbuf = 0, idle = 0, err = 0;
	pthread_t tx;

	if (payload < 16 || payload > 1400 || cameras == 0 || seconds <= 0 || pin(RX_CPU) < 0 ||
	    sysconf(_SC_NPROCESSORS_ONLN) < 2 || vigil_srtp_available() < 0 ||
	    srtp_init() != srtp_err_status_ok || fleet_config(&cfg, cameras) < 0 ||
	    srtp_create(&r.srtp, NULL) != srtp_err_status_ok) {
		fprintf(stderr,
			"usage: socket_bench [cameras] [payload 16-1400] [seconds]; needs 2 CPUs, AES-NI\n");
		return 2;
	}
	for (unsigned c = 0; c < cameras; c++) {
		uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN];
		srtp_policy_t pol = {.ssrc = {ssrc_specific, cfg.cameras[c].ssrc}, .key = key};

		srtp_crypto_policy_set_aes_gcm_256_16_auth(&pol.rtp);
		srtp_crypto_policy_set_aes_gcm_256_16_auth(&pol.rtcp);
		memcpy(key, cfg.cameras[c].master_key, VIGIL_SRTP_MASTER_KEY_LEN);
		memcpy(key + VIGIL_SRTP_MASTER_KEY_LEN, cfg.cameras[c].master_salt,
		       VIGIL_SRTP_MASTER_SALT_LEN);
		if (srtp_add_stream(r.srtp, &pol) != srtp_err_status_ok)
			return 2;
	}
	uint64_t warm = (uint64_t)cameras * FLEET_GOP_PKTS;

	if ((err = pool_fill(&s.pool, &cfg, payload, warm + (uint64_t)(seconds * POOL_MPPS * 1e6))) < 0 ||
	    (err = open_sockets(&r, &s, &rcvbuf)) < 0 ||
	    (err = -pthread_create(&tx, NULL, tx_main, &s)) < 0) {
		fprintf(stderr, "socket_bench: setup: %s\n", strerror(-err));
		return 2;
	}

	/* Warm-up, the timed span, then what is still on its way. */
	uint64_t n0 = 0, b0 = 0, calls0 = 0, n1, b1, calls1;
	double t0 = 0, c0 = 0, t1, c1;

	for (bool timing = false;;) {
		int n = rx_batch(&r);

		if (n < 0) {
			err = n;
			break;
		}
		__atomic_store_n(&s.accounted, r.received + r.dropped, __ATOMIC_RELEASE);
		if (!timing && r.received + r.dropped >= warm) {
			timing = true;
			n0 = r.received, b0 = r.bytes, calls0 = r.calls;
			t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
		}
		if ((timing && clock_s(CLOCK_MONOTONIC) >= t0 + seconds) ||
		    (__atomic_load_n(&s.tx_done, __ATOMIC_ACQUIRE) &&
		     r.received + r.dropped >= __atomic_load_n(&s.sent, __ATOMIC_ACQUIRE)))
			break;
	}
	t1 = clock_s(CLOCK_MONOTONIC), c1 = clock_s(CLOCK_THREAD_CPUTIME_ID);
	n1 = r.received, b1 = r.bytes, calls1 = r.calls;
	__atomic_store_n(&s.stop, true, __ATOMIC_RELAXED);
	pthread_join(tx, NULL);
	while (err == 0 && r.received + r.dropped < s.sent && idle < 10) {
		int n = rx_batch(&r);

		err = n < 0 ? n : 0;
		idle = n == 0 ? idle + 1 : 0;
	}
	if (err == 0 && n1 == n0)
		err = -ENODATA;
	if (err != 0 || s.tx_errno != 0) {
		fprintf(stderr, "socket_bench: %s\n", strerror(err != 0 ? -err : s.tx_errno));
		return 2;
	}
	double wall = t1 - t0, cpu = c1 - c0, pkts = (double)(n1 - n0);

	printf("{\"cameras\": %u, \"payload_bytes\": %zu, \"seconds\": %.3f, \"packets\": %.0f, "
	       "\"mpps\": %.3f, \"srtp_gbit_s\": %.3f, \"rx_cpu_ns_per_packet\": %.0f, \"rx_busy\": %.3f, "
	       "\"rx_capacity_mpps\": %.3f, \"packets_per_recvmmsg\": %.1f, \"pool_exhausted\": %s, "
	       "\"sender_gso\": %s, \"rcvbuf_bytes\": %d, \"sent\": %" PRIu64 ", \"received\": %" PRIu64 ", "
	       "\"socket_drops\": %" PRIu64 ", \"auth_failures\": %" PRIu64 "}\n",
	       cameras, payload, wall, pkts, pkts / wall / 1e6, (double)(b1 - b0) * 8 / wall / 1e9,
	       cpu * 1e9 / pkts, cpu / wall, pkts / cpu / 1e6, pkts / (double)(calls1 - calls0),
	       wall < seconds ? "true" : "false", s.gso ? "true" : "false", rcvbuf, s.sent, r.received,
	       r.dropped, r.failed);
	if (r.failed != 0 || r.received + r.dropped != s.sent) {
		fprintf(stderr,
			"socket_bench: %" PRIu64 " of %" PRIu64 " packets failed authentication, %" PRIu64
			" sent never arrived\n",
			r.failed, r.received, s.sent - r.received - r.dropped);
		return 1;
	}
	srtp_dealloc(r.srtp);
	srtp_shutdown();
	return 0;
}
