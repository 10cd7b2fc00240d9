/* SPDX-License-Identifier: MIT */
/* vigil-cam: a fleet of cameras, as a capture or live. Each camera sends
 * a real H.264 or H.265 clip (an Annex-B file, looped with timestamps and
 * sequence numbers that go on), packetized and protected with SRTP
 * AEAD_AES_256_GCM (libvigilcam's sender) under its own random key and
 * SSRC, at the clip's frame rate, the cameras' frames spread over each
 * frame interval. Writes the capture (classic pcap, Ethernet), or sends the
 * frames on a network interface (a raw AF_PACKET socket: a veth whose peer
 * vigild reads with net_af_packet) at their times, or as fast as it can;
 * then the vigil.conf that ingests them, and prints what it sent as JSON.
 * --live memif:SOCKET sends over shared memory instead: a DPDK memif port
 * connected to vigild's (memif_port.h), which loses nothing and is not
 * limited by a socket.
 *
 * usage: vigil-cam --clip FILE --codec h264|h265 --cameras N --seconds S
 *                  (--out CAPTURE.pcap | --live IFACE|memif:SOCKET [--unpaced]) --config VIGIL.conf
 *                  [--fps 30] [--payload 1200] [--port 5004] [--record-dir DIR] [--seed WORD]
 *                  [--rate PPS] [--standby N] [--control FILE] [--per-camera FILE] [--stagger]
 *                  [--rtx] [--loss P] [--burst N] [--delay MS]
 * The clip's access units go in file (decode) order, each RTP timestamp a
 * frame interval after the one before: a clip with B-frames (pictures
 * shown in another order than decoded) would be recorded in decode order.
 * Encode clips without them (x264: -bf 0); GStreamer cameras with B-frames
 * are tested apart (interop_*_bframes).
 * --seed: keys, SSRCs and sequence numbers derived from WORD, the same at
 * every run: test keys that anyone with the word has, never a camera's.
 * --rate: the whole fleet sends PPS packets a second on average: the
 * frame interval is stretched (or shrunk) from 1/fps to what gives that
 * rate with the clip's packets per frame, RTP timestamps following it.
 * --standby N: the last N cameras send nothing until a control file starts
 * them. --control FILE (live): on SIGHUP the file is read, one command a
 * line: `key C BASE64` (camera C, counted from 0, goes on under this new
 * key: base64 of the 32-byte master key and 12-byte salt; its SRTP index
 * goes on, as vigild's rotation expects), `start C` (from its next key
 * frame), `stop C`; a line on stderr says when they are applied.
 * --per-camera FILE: at the end, `C packets frames` a line per camera.
 * --stagger: camera c starts (c mod the clip's GOP) frames late, so the
 * cameras' key frames are not all in the same frame interval.
 * --rtx: each camera retransmits (cam/retransmit.h): an RTX SSRC of its own
 * and payload type 97, written into the configuration (RtxSSRC,
 * RtxPayloadType); live, vigild's SRTCP feedback to a camera's address and
 * port is read off the interface, NACKs answered with RTX packets sent like
 * media, PLIs counted; the run lingers 1 s after its last frame for the
 * last NACKs.
 * A lossy link on the output: --loss P drops P percent of the packets
 * (media and RTX; live, feedback too, drawn apart) at random, or with
 * --burst N in Gilbert-Elliott bursts of N packets on average, P percent
 * still; in a capture too. Feedback is lost at random even then: a burst
 * is congestion on the media's path, and N of the few feedback packets in
 * a row would be an outage of seconds. --delay MS (live): every packet leaves MS later
 * (feedback is taken as it comes: a NACK's round trip gains MS), through a
 * queue of LINK_DELAY_SLOTS packets: when it is full the sender waits for
 * the oldest to leave (bench/lossy_link.h).
 * With --rtx, --loss or --delay the JSON also has sim_dropped (packets the
 * link lost: media and RTX), sim_dropped_feedback, feedback_unmatched
 * (UDP to a camera's address and port that is not SRTCP from vigild's
 * port) and retransmit: {refused (forged + replayed + malformed +
 * wrong_sender), then every counter of cam/retransmit.h, summed}.
 * Live, SIGINT or SIGTERM ends the run early (what was sent is printed).
 * Replay: vigild --config VIGIL.conf --pcap CAPTURE.pcap */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <pcap/pcap.h>
#include <sodium.h>

#include "au.h"
#include "fleet.h"
#include "lossy_link.h"
#include "memif_port.h"
#include "retransmit.h"
#include "sender.h"
#include "vigil/bytes.h"

#define BATCH 64 /* live: packets handed to the kernel in one sendmmsg */
#define RTX_PAYLOAD_TYPE 97
#define RTX_LINGER_NS 1000000000u /* --rtx: feedback served after the last frame */
#define FEEDBACK_READS 256 /* frames read off the interface at one go */

struct camera {
	struct vigil_sender tx; /* RTP, packetization, SRTP: libvigilcam */
	uint8_t master[VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN];
	uint32_t ts0;
	bool silent;	 /* stopped, or standing by */
	bool wait_key;	 /* started: silent until its next key frame */
	unsigned late;	 /* --stagger: the frames it starts late */
	uint64_t packets; /* under every key it had */
	uint64_t frames;
	struct vigil_retransmit *rtx; /* --rtx */
};

struct capture {
	pcap_dumper_t *pcap; /* or, live: */
	int live_fd;     /* raw socket on the interface, or -1 */
	bool memif;      /* live over the memif port instead */
	bool paced;      /* live at the packets' times, else as fast as it goes */
	uint64_t base_ns; /* CLOCK_MONOTONIC when the first packet's time came */
	uint64_t t0_ns;   /* the first packet's time */
	uint64_t send_errors;
	unsigned index; /* the camera sending */
	uint64_t t_ns;  /* capture time of the next packet */
	uint64_t gap_ns; /* between the packets of a frame */
	uint16_t port;
	uint64_t bytes;
	uint64_t max_late_ns; /* live: the furthest behind its time a packet left */
	/* live: packets whose time has come, not yet handed to the kernel */
	unsigned batched;
	uint8_t batch[BATCH][LINK_FRAME_MAX];
	struct iovec iov[BATCH];
	struct mmsghdr msgs[BATCH];
	struct lossy_link out, back; /* the link the packets leave by, the feedback's */
	struct delay_queue delayed;  /* --delay */
	/* --rtx, live: the socket feedback is read from, the cameras */
	int feedback_fd;
	struct camera *cam;
	unsigned cameras;
	unsigned rtx_cam; /* the camera whose feedback is being answered */
	uint64_t feedback_unmatched; /* UDP to a camera's address that is not its feedback */
};

static volatile sig_atomic_t control_due, stop_now;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		control_due = 1;
	else
		stop_now = 1;
}

static void die(const char *msg)
{
	fprintf(stderr, "vigil-cam: %s\n", msg);
	exit(2);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The packets batched so far, to the kernel at once. */
static void flush_live(struct capture *s)
{
	unsigned done = 0;

	if (s->memif) {
		s->send_errors += s->batched - memif_port_send(s->iov, s->batched, &stop_now);
		s->batched = 0;
		return;
	}
	while (done < s->batched) {
		int n = sendmmsg(s->live_fd, s->msgs + done, s->batched - done, 0);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			s->send_errors += s->batched - done;
			break;
		}
		for (int i = 0; i < n; i++)
			if (s->msgs[done + (unsigned)i].msg_len != s->iov[done + (unsigned)i].iov_len)
				s->send_errors++;
		done += (unsigned)n;
	}
	s->batched = 0;
}

/* Until CLOCK_MONOTONIC reaches t: asleep while it is far (the machine may
 * be shared), spinning for the last stretch. */
static void wait_until(uint64_t t)
{
	uint64_t now = now_ns();

	if (t > now + 200000) {
		uint64_t wake = t - 100000;
		struct timespec ts = {.tv_sec = (time_t)(wake / 1000000000u), .tv_nsec = (long)(wake % 1000000000u)};

		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !stop_now)
			;
	}
	while (now_ns() < t && !stop_now)
		;
}

static void batch_frame(struct capture *s, const uint8_t *frame, size_t len)
{
	memcpy(s->batch[s->batched], frame, len);
	s->iov[s->batched] = (struct iovec){.iov_base = s->batch[s->batched], .iov_len = len};
	s->msgs[s->batched] = (struct mmsghdr){.msg_hdr = {.msg_iov = &s->iov[s->batched], .msg_iovlen = 1}};
	if (++s->batched == BATCH)
		flush_live(s);
}

/* --delay: the packets whose time has come, to the batch. */
static void release_due(struct capture *s, uint64_t now)
{
	const uint8_t *frame;
	size_t len;

	while ((frame = delay_queue_pop(&s->delayed, now, &len)) != NULL)
		batch_frame(s, frame, len);
}

/* A packet onto the simulated link, now: lost, or on its way (after
 * --delay, through a bounded queue: a full one is waited out). */
static void to_link(struct capture *s, const uint8_t *frame, size_t len)
{
	if (lossy_link_drops(&s->out))
		return;
	if (s->delayed.delay_ns == 0) {
		batch_frame(s, frame, len);
		return;
	}
	if (delay_queue_full(&s->delayed)) {
		flush_live(s);
		wait_until(delay_queue_next_due(&s->delayed));
		release_due(s, now_ns());
	}
	delay_queue_push(&s->delayed, frame, len, now_ns());
}

/* One RTX packet of camera s->rtx_cam, out as its media go. */
static void send_rtx(void *arg, const uint8_t *pkt, size_t len)
{
	struct capture *s = arg;
	uint8_t b[LINK_FRAME_MAX];
	unsigned c = s->rtx_cam;

	if (FLEET_HDR + len > sizeof(b))
		return;
	memcpy(b + FLEET_HDR, pkt, len);
	fleet_wrap_from(b, len, (const uint8_t[]){198, 19, (uint8_t)(c >> 8), (uint8_t)c},
			(uint16_t)(10000 + c % 50000), s->port);
	to_link(s, b, FLEET_HDR + len);
}

/* A frame off the interface: SRTCP from vigild's port to camera c's
 * address (198.19.c/16) and port, handed to its retransmitter. Every
 * length is checked; anything else is not ours and ignored. */
static void take_feedback(struct capture *s, const uint8_t *f, size_t n)
{
	const uint8_t *ip = f + 14, *udp, *rtcp;
	size_t ihl, tot, ulen;
	unsigned c;

	if (n < FLEET_HDR || vigil_get16(f + 12) != 0x0800 || ip[0] >> 4 != 4 || ip[9] != 17)
		return;
	ihl = (size_t)(ip[0] & 15) * 4;
	tot = vigil_get16(ip + 2);
	if (ihl < 20 || tot < ihl + 8 || 14 + tot > n || (vigil_get16(ip + 6) & 0x3fff) != 0 || ip[16] != 198 ||
	    ip[17] != 19)
		return;
	c = (unsigned)ip[18] << 8 | ip[19];
	udp = ip + ihl;
	ulen = vigil_get16(udp + 4);
	if (c >= s->cameras || vigil_get16(udp + 2) != 10000 + c % 50000)
		return;
	rtcp = udp + 8;
	/* RTCP, as RFC 5761 tells it from RTP: version 2, packet type 192-223. */
	if (vigil_get16(udp) != s->port || ulen < 8 + 8 || ulen > tot - ihl || rtcp[0] >> 6 != 2 || rtcp[1] < 192 ||
	    rtcp[1] > 223 || s->cam[c].rtx == NULL) {
		s->feedback_unmatched++;
		return;
	}
	if (lossy_link_drops(&s->back))
		return;
	s->rtx_cam = c;
	if (vigil_retransmit_feedback(s->cam[c].rtx, rtcp, ulen - 8, now_ns(), send_rtx, NULL, s) < 0)
		return; /* refused: counted by its reason */
}

static void take_memif_frame(void *arg, const uint8_t *f, size_t n)
{
	take_feedback(arg, f, n);
}

/* What feedback has come, without waiting. */
static void read_feedback(struct capture *s)
{
	uint8_t f[2048];

	if (s->memif) /* read whatever comes, so vigild's ring never fills */
		memif_port_recv(take_memif_frame, s, FEEDBACK_READS);
	for (unsigned i = 0; s->feedback_fd >= 0 && i < FEEDBACK_READS; i++) {
		ssize_t n = recv(s->feedback_fd, f, sizeof(f), MSG_DONTWAIT | MSG_TRUNC);

		if (n < 0)
			break;
		if ((size_t)n <= sizeof(f))
			take_feedback(s, f, (size_t)n);
	}
}

/* Until CLOCK_MONOTONIC reaches t, live: feedback answered and delayed
 * packets let go as they come, the batch sent before each wait. */
static void serve_until(struct capture *s, uint64_t t)
{
	for (;;) {
		uint64_t now = now_ns(), next = t;

		read_feedback(s);
		release_due(s, now);
		flush_live(s);
		if (now >= t || stop_now)
			return;
		if (delay_queue_next_due(&s->delayed) < next)
			next = delay_queue_next_due(&s->delayed);
		if (s->feedback_fd >= 0 && next > now + 200000) {
			struct pollfd pfd = {.fd = s->feedback_fd, .events = POLLIN};
			uint64_t wait = next - now - 100000;
			struct timespec ts = {.tv_sec = (time_t)(wait / 1000000000u),
					      .tv_nsec = (long)(wait % 1000000000u)};

			(void)ppoll(&pfd, 1, &ts, NULL);
		} else {
			wait_until(next);
		}
	}
}

/* Live: the frame leaves at its time from the start (the capture's
 * clock), or at once when unpaced. Frames whose time has come are sent
 * together; the batch goes before waiting for a later one. */
static void send_live(struct capture *s, const uint8_t *frame, size_t len)
{
	uint64_t due, now;

	if (s->base_ns == 0) {
		s->base_ns = now_ns();
		s->t0_ns = s->t_ns;
	}
	due = s->base_ns + (s->t_ns - s->t0_ns);
	now = now_ns();
	if (s->paced && now < due) {
		serve_until(s, due);
	} else {
		if (s->paced && now - due > s->max_late_ns)
			s->max_late_ns = now - due;
		if (s->batched == 0) { /* unpaced, or late: between batches */
			read_feedback(s);
			release_due(s, now);
		}
	}
	to_link(s, frame, len);
	s->t_ns += s->gap_ns;
	s->bytes += len;
}

/* A raw socket that sends on the interface and takes nothing in. */
static int open_live(const char *iface)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex(iface)};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);

	if (sll.sll_ifindex == 0 || fd < 0 || bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		die("--live: cannot open a raw socket on that interface (needs root)");
	return fd;
}

/* --rtx: a raw socket that takes the IPv4 frames coming in on the
 * interface (not the ones we send: PACKET_IGNORE_OUTGOING, Linux 4.20). */
static int open_feedback(const char *iface)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP),
				  .sll_ifindex = (int)if_nametoindex(iface)};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_IP)), one = 1;

	if (sll.sll_ifindex == 0 || fd < 0 || bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0)
		die("--rtx: cannot open a raw socket for feedback on that interface (needs root, Linux 4.20)");
	return fd;
}

/* One SRTP packet: UDP/IP/Ethernet from the camera's own address
 * (198.19.x.y: a flow per camera, as RSS would see it), a pcap record. */
static void capture_packet(void *arg, const uint8_t *pkt, size_t len)
{
	struct capture *s = arg;
	uint8_t b[LINK_FRAME_MAX];

	memcpy(b + FLEET_HDR, pkt, len);
	fleet_wrap_from(b, len, (const uint8_t[]){198, 19, (uint8_t)(s->index >> 8), (uint8_t)s->index},
			(uint16_t)(10000 + s->index % 50000), s->port);
	if (s->live_fd >= 0 || s->memif) {
		send_live(s, b, FLEET_HDR + len);
		return;
	}
	struct pcap_pkthdr h = {
		.ts = {.tv_sec = (time_t)(s->t_ns / 1000000000u), .tv_usec = (suseconds_t)(s->t_ns / 1000u % 1000000u)},
		.caplen = (bpf_u_int32)(FLEET_HDR + len),
		.len = (bpf_u_int32)(FLEET_HDR + len),
	};

	if (!lossy_link_drops(&s->out))
		pcap_dump((u_char *)s->pcap, &h, b);
	s->t_ns += s->gap_ns;
	s->bytes += FLEET_HDR + len;
}

static void count_packet(void *arg, const uint8_t *pkt, size_t len)
{
	(void)pkt;
	(void)len;
	(*(uint64_t *)arg)++;
}

/* The next n bytes of the fleet's random (or seeded) bytes. */
static void take(void *dst, size_t n, const uint8_t *bytes, size_t *off)
{
	memcpy(dst, bytes + *off, n);
	*off += n;
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0)
		die("cannot read the clip");
	p = malloc((size_t)n);
	if (p == NULL || fread(p, 1, (size_t)n, f) != (size_t)n)
		die("cannot read the clip");
	fclose(f);
	*len = (size_t)n;
	return p;
}

/* The control file's commands (see the top), applied between frames. A
 * line that is not one stops the fleet: a test must not go on unseen. */
static void apply_control(const char *path, struct camera *cam, unsigned cameras)
{
	FILE *f = fopen(path, "r");
	char line[256], word[16], b64[128];
	uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN];
	unsigned keys = 0, started = 0, stopped = 0, c;
	size_t key_len;

	if (f == NULL)
		die("--control: cannot read the file");
	while (fgets(line, sizeof(line), f) != NULL) {
		int n = sscanf(line, "%15s %u %127s", word, &c, b64);

		if (n >= 2 && c >= cameras)
			die("--control: no such camera");
		if (n == 3 && strcmp(word, "key") == 0) {
			if (sodium_base642bin(key, sizeof(key), b64, strlen(b64), NULL, &key_len, NULL,
					      sodium_base64_VARIANT_ORIGINAL) != 0 ||
			    key_len != sizeof(key) || vigil_sender_rekey(&cam[c].tx, key) < 0 ||
			    (cam[c].rtx != NULL && vigil_retransmit_rekey(cam[c].rtx, key) < 0))
				die("--control: a key is not base64 of 44 bytes");
			memcpy(cam[c].master, key, sizeof(key));
			keys++;
		} else if (n == 2 && strcmp(word, "start") == 0) {
			cam[c].wait_key = cam[c].silent;
			cam[c].silent = false;
			started++;
		} else if (n == 2 && strcmp(word, "stop") == 0) {
			cam[c].silent = true;
			stopped++;
		} else if (n > 0) {
			die("--control: a line is not `key C BASE64`, `start C` or `stop C`");
		}
	}
	sodium_memzero(key, sizeof(key));
	sodium_memzero(b64, sizeof(b64));
	sodium_memzero(line, sizeof(line));
	fclose(f);
	fprintf(stderr, "vigil-cam: control: applied: %u key(s), %u started, %u stopped\n", keys, started, stopped);
	fflush(stderr);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"clip", required_argument, NULL, 'c'},	  {"codec", required_argument, NULL, 'k'},
	    {"cameras", required_argument, NULL, 'n'},	  {"seconds", required_argument, NULL, 's'},
	    {"out", required_argument, NULL, 'o'},	  {"config", required_argument, NULL, 'g'},
	    {"fps", required_argument, NULL, 'f'},	  {"payload", required_argument, NULL, 'p'},
	    {"port", required_argument, NULL, 'P'},	  {"record-dir", required_argument, NULL, 'r'},
	    {"live", required_argument, NULL, 'l'},	  {"unpaced", no_argument, NULL, 'u'},
	    {"seed", required_argument, NULL, 'S'},	  {"rate", required_argument, NULL, 'R'},
	    {"standby", required_argument, NULL, 'b'},	  {"control", required_argument, NULL, 'C'},
	    {"per-camera", required_argument, NULL, 'x'}, {"stagger", no_argument, NULL, 'G'},
	    {"rtx", no_argument, NULL, 'X'},		  {"loss", required_argument, NULL, 'L'},
	    {"burst", required_argument, NULL, 'B'},	  {"delay", required_argument, NULL, 'D'},
	    {NULL, 0, NULL, 0},
	};
	const char *clip = NULL, *out = NULL, *conf = NULL, *record_dir = "recordings", *live = NULL, *seed = NULL;
	const char *control = NULL, *per_camera = NULL;
	bool paced = true, stagger = false, rtx = false;
	double loss = 0, burst = 1, delay_ms = 0;
	enum vigil_codec codec = VIGIL_CODEC_H264;
	unsigned cameras = 0, fps = 30, first_key = 0, standby = 0;
	double seconds = 0, rate = 0;
	size_t payload = 1200, len;
	uint16_t port = 5004;
	struct vigil_au *aus;
	struct camera *cam;
	unsigned n_aus, frames;
	uint8_t *data;
	FILE *cf;
	pcap_t *dead = NULL;
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'c': clip = optarg; break;
		case 'k': codec = strcmp(optarg, "h265") == 0 ? VIGIL_CODEC_H265 : VIGIL_CODEC_H264; break;
		case 'n': cameras = (unsigned)atoi(optarg); break;
		case 's': seconds = atof(optarg); break;
		case 'o': out = optarg; break;
		case 'g': conf = optarg; break;
		case 'f': fps = (unsigned)atoi(optarg); break;
		case 'p': payload = (size_t)atoi(optarg); break;
		case 'P': port = (uint16_t)atoi(optarg); break;
		case 'r': record_dir = optarg; break;
		case 'l': live = optarg; break;
		case 'u': paced = false; break;
		case 'S': seed = optarg; break;
		case 'R': rate = atof(optarg); break;
		case 'b': standby = (unsigned)atoi(optarg); break;
		case 'C': control = optarg; break;
		case 'x': per_camera = optarg; break;
		case 'G': stagger = true; break;
		case 'X': rtx = true; break;
		case 'L': loss = atof(optarg); break;
		case 'B': burst = atof(optarg); break;
		case 'D': delay_ms = atof(optarg); break;
		default: die("usage: see the top of bench/vigil_cam.c");
		}
	}
	if (clip == NULL || (out == NULL) == (live == NULL) || conf == NULL || cameras == 0 || cameras > 65535 ||
	    seconds <= 0 || fps == 0 || 90000 % fps != 0 || payload < 100 || payload > 1400 || rate < 0 ||
	    standby >= cameras || (control != NULL && live == NULL) || !(loss >= 0 && loss < 100) ||
	    !(burst >= 1) || !(delay_ms >= 0 && delay_ms <= 10000) || (delay_ms > 0 && live == NULL) ||
	    sodium_init() < 0)
		die("usage: vigil-cam --clip FILE --codec h264|h265 --cameras N (1-65535) --seconds S "
		    "(--out PCAP | --live IFACE|memif:SOCKET [--unpaced]) --config CONF [--fps F dividing 90000] [--payload 100-1400] "
		    "[--port P] [--record-dir DIR] [--seed WORD] [--rate PPS] [--standby N (< cameras)] "
		    "[--control FILE (live)] [--per-camera FILE] [--stagger] [--rtx] [--loss 0-99.99 PERCENT] "
		    "[--burst N >= 1] [--delay 0-10000 MS (live)]");
	data = read_file(clip, &len);
	aus = calloc(len / 4 + 1, sizeof(*aus));
	if (aus == NULL)
		die("out of memory");
	n_aus = vigil_au_split(codec, data, len, aus, (unsigned)(len / 4 + 1));
	while (first_key < n_aus && !aus[first_key].key)
		first_key++;
	if (first_key == n_aus)
		die("the clip has no key frame");
	cam = calloc(cameras, sizeof(*cam));
	if (cam == NULL)
		die("out of memory");
	/* --stagger: camera c starts c mod GOP frames late (at the clip's
	 * first key frame), so the cameras' key frames, and the segments cut
	 * at them, spread over the GOP as a real fleet's do. */
	unsigned gop = 1;

	while (first_key + gop < n_aus && !aus[first_key + gop].key)
		gop++;
	for (unsigned c = 0; stagger && c < cameras; c++)
		cam[c].late = c % gop;
	/* Keys, SSRCs, first sequence numbers and timestamps: random, or
	 * from --seed, so that two runs make the same fleet (a configuration
	 * written first, then the same cameras sent live). */
	size_t rand_len = 4 + (size_t)cameras * (sizeof(cam->master) + 4 + 2), rand_off = 0;
	uint8_t *rand_bytes = malloc(rand_len);
	uint8_t seed_key[randombytes_SEEDBYTES] = {0};

	if (rand_bytes == NULL)
		die("out of memory");
	if (seed != NULL) {
		memcpy(seed_key, seed, strnlen(seed, sizeof(seed_key)));
		randombytes_buf_deterministic(rand_bytes, rand_len, seed_key);
	} else {
		randombytes_buf(rand_bytes, rand_len);
	}
	uint32_t ssrc0;

	take(&ssrc0, sizeof(ssrc0), rand_bytes, &rand_off);

	for (unsigned c = 0; c < cameras; c++) {
		uint16_t seq0;

		take(cam[c].master, sizeof(cam[c].master), rand_bytes, &rand_off);
		take(&cam[c].ts0, sizeof(cam[c].ts0), rand_bytes, &rand_off);
		take(&seq0, sizeof(seq0), rand_bytes, &rand_off);
		/* SSRCs an odd step apart: all distinct, scattered. Ephemeral
		 * keys (no index state): each is made here, for this run,
		 * and this run is its only sender. With --seed a later run
		 * makes the same keys and indices again, which is harmless only
		 * because such a key is no secret (anyone with the word has
		 * it): test keys, never a real camera's. A key a control file
		 * hands over is fresh (the script that rotates makes it), so
		 * it too is ephemeral: the index goes on under it. */
		if (vigil_sender_init_ephemeral(&cam[c].tx, ssrc0 + c * 0x9e3779b1u, 96, seq0,
						cam[c].master) < 0)
			die("cannot derive SRTP keys");
		cam[c].silent = c >= cameras - standby;
	}
	free(rand_bytes);

	struct capture *s = calloc(1, sizeof(*s));

	if (s == NULL)
		die("out of memory");
	s->port = port;
	s->live_fd = -1;
	if (live != NULL && strncmp(live, "memif:", 6) == 0) {
		char msg[4300];

		if (memif_port_open(live + 6, msg, sizeof(msg)) < 0)
			die(msg);
		s->memif = true;
	} else if (live != NULL) {
		s->live_fd = open_live(live);
	}
	s->feedback_fd = s->live_fd >= 0 && rtx ? open_feedback(live) : -1;
	s->cam = cam;
	s->cameras = cameras;
	/* The link's losses: from the seed too, so a seeded run loses the
	 * same packets; the feedback's drawn apart from the output's. */
	uint64_t link_seed;

	randombytes_buf(&link_seed, sizeof(link_seed));
	if (seed != NULL)
		memcpy(&link_seed, seed_key, sizeof(link_seed));
	lossy_link_init(&s->out, loss, burst, link_seed);
	lossy_link_init(&s->back, loss, 1, link_seed * 0xd1342543de82ef95u);
	if (delay_ms > 0 && delay_queue_init(&s->delayed, (uint64_t)(delay_ms * 1e6)) < 0)
		die("out of memory");
	s->paced = paced;
	s->gap_ns = 20000; /* 20 us between a frame's packets */
	if (live == NULL) {
		dead = pcap_open_dead(DLT_EN10MB, 65535); /* classic pcap, microseconds */
		s->pcap = dead != NULL ? pcap_dump_open(dead, out) : NULL;
		if (s->pcap == NULL)
			die("cannot write the capture");
	} else {
		struct sigaction sa = {.sa_handler = on_signal};

		sigaction(SIGHUP, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		prctl(PR_SET_TIMERSLACK, 1000UL); /* wake within a microsecond of the time asked */
	}
	uint64_t loop = n_aus - first_key, frame_ns = 1000000000u / fps, ts_step = 90000 / fps;

	frames = (unsigned)(seconds * fps);
	uint64_t clip_packets = 0; /* --rtx: the clip's packets, once through */

	if (rate > 0 || rtx) {
		/* The clip's packets per frame, as this payload size cuts them
		 * (a sender under a throwaway key counts them), over the frames
		 * to be sent; then the frame interval that makes the rate. */
		struct vigil_sender probe;
		uint8_t zero[VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN] = {0};
		uint64_t *per_au = calloc(loop, sizeof(*per_au)), per_loop = 0, sending = cameras - standby;
		double per_frame;

		if (per_au == NULL || vigil_sender_init_ephemeral(&probe, 1, 96, 0, zero) < 0)
			die("out of memory");
		for (uint64_t a = 0; a < loop; a++) {
			if (vigil_sender_au(&probe, codec, data + aus[first_key + a].off, aus[first_key + a].len, 0,
					    payload, count_packet, &per_au[a]) < 0)
				die("an access unit of the clip has no NAL unit");
			per_loop += per_au[a];
		}
		vigil_sender_wipe(&probe);
		per_frame = (double)per_loop / (double)loop;
		clip_packets = per_loop;
		free(per_au);
		if (rate > 0) {
			frame_ns = (uint64_t)(1e9 * (double)sending * per_frame / rate);
			if (frame_ns == 0)
				die("--rate: more than one frame per nanosecond");
			frames = (unsigned)(seconds * 1e9 / (double)frame_ns);
		}
		/* Live, a frame's packets leave at twice the mean rate at most,
		 * so a sender that falls behind at a key frame catches up. */
		if (rate > 0 && live != NULL && 1e9 / rate / 2 < (double)s->gap_ns)
			s->gap_ns = (uint64_t)(1e9 / rate / 2);
	}
	if (rtx) {
		/* Slots for VIGIL_RTX_HOLD_MS of a camera's packets, twice
		 * over (key frames come in bursts), or the whole clip when
		 * it is shorter. */
		double per_s = (double)clip_packets / (double)loop * 1e9 / (double)frame_ns;
		uint64_t want = (uint64_t)(per_s * VIGIL_RTX_HOLD_MS / 1000 * 2) + 64;
		unsigned slots = want > VIGIL_RTX_SLOTS_MAX ? VIGIL_RTX_SLOTS_MAX : (unsigned)want;
		char msg[256];

		for (unsigned c = 0; c < cameras; c++) {
			/* Indices cameras.. of the SSRC sequence: distinct from
			 * every camera's media SSRC. */
			uint32_t rtx_ssrc = ssrc0 + (cameras + c) * 0x9e3779b1u;

			cam[c].rtx = malloc(sizeof(*cam[c].rtx));
			if (cam[c].rtx == NULL ||
			    vigil_retransmit_init(cam[c].rtx, cam[c].tx.ssrc, rtx_ssrc, RTX_PAYLOAD_TYPE, cam[c].master,
						  slots, NULL, msg, sizeof(msg)) < 0)
				die("--rtx: out of memory for the retransmission buffers");
			cam[c].tx.rtx = cam[c].rtx;
		}
	}
	uint64_t t0 = UINT64_C(1795000000000000000), start_ns = now_ns();
	unsigned sent_frames = 0;

	if (live != NULL) {
		/* From here SIGHUP reads the control file. */
		fprintf(stderr, "vigil-cam: sending on %s: %u cameras (%u standing by), a frame each every %.3f ms\n",
			live, cameras, standby, (double)frame_ns / 1e6);
		fflush(stderr);
	}

	/* Frame i of every camera, camera c a c/N of the frame interval late. */
	for (unsigned i = 0; i < frames && !stop_now; i++) {
		uint32_t ts = (uint32_t)(rate > 0 ? (uint64_t)i * frame_ns * 9 / 100000 : (uint64_t)i * ts_step);

		for (unsigned c = 0; c < cameras && !stop_now; c++) {
			uint64_t at = t0 + i * frame_ns + frame_ns * c / cameras, before;
			const struct vigil_au *au;

			if (control_due) {
				control_due = 0;
				apply_control(control, cam, cameras);
			}
			if (i < cam[c].late)
				continue;
			au = &aus[first_key + (i - cam[c].late) % loop];
			before = cam[c].tx.packets; /* a new key counts from 0 */
			if (cam[c].wait_key && au->key)
				cam[c].wait_key = false;
			if (cam[c].silent || cam[c].wait_key)
				continue;
			s->index = c;
			if (s->t_ns < at)
				s->t_ns = at;
			if (vigil_sender_au(&cam[c].tx, codec, data + au->off, au->len, cam[c].ts0 + ts, payload,
					    capture_packet, s) < 0)
				die("an access unit of the clip has no NAL unit");
			cam[c].packets += cam[c].tx.packets - before;
			cam[c].frames++;
		}
		sent_frames = i + 1;
	}
	double elapsed = (double)(now_ns() - start_ns) / 1e9;

	if (live == NULL) {
		bool failed = pcap_dump_flush(s->pcap) < 0 || ferror(pcap_dump_file(s->pcap));

		pcap_dump_close(s->pcap);
		pcap_close(dead);
		if (failed)
			die("cannot write the capture");
	}
	if (live != NULL) {
		/* The last NACKs answered, the delayed packets out. */
		if (!stop_now && (rtx || s->delayed.delay_ns > 0))
			serve_until(s, now_ns() + s->delayed.delay_ns + (rtx ? RTX_LINGER_NS : 0));
		release_due(s, UINT64_MAX);
		flush_live(s);
		if (s->live_fd >= 0)
			close(s->live_fd);
		memif_port_close();
		if (s->feedback_fd >= 0)
			close(s->feedback_fd);
		delay_queue_free(&s->delayed);
	}

	cf = fopen(conf, "w");
	if (cf == NULL || chmod(conf, 0600) < 0)
		die("cannot write the configuration");
	fprintf(cf, "# %u cameras from vigil-cam: %s, %.1f s at %u frames/s\n[Ingest]\nPorts = %u\nRecordDir = %s\n"
		    "MaxCameras = %u\n",
		cameras, clip, seconds, fps, port, record_dir, cameras);
	for (unsigned c = 0; c < cameras; c++) {
		char b64[sodium_base64_ENCODED_LEN(sizeof(cam[c].master), sodium_base64_VARIANT_ORIGINAL)];

		sodium_bin2base64(b64, sizeof(b64), cam[c].master, sizeof(cam[c].master), sodium_base64_VARIANT_ORIGINAL);
		fprintf(cf, "\n[Camera]\nName = cam%05u\nSSRC = %" PRIu32 "\nKey = %s\nCodec = %s\n", c, cam[c].tx.ssrc, b64,
			codec == VIGIL_CODEC_H265 ? "H265" : "H264");
		if (cam[c].rtx != NULL)
			fprintf(cf, "RtxSSRC = %" PRIu32 "\nRtxPayloadType = %u\n", cam[c].rtx->rtx_ssrc,
				RTX_PAYLOAD_TYPE);
	}
	if (fclose(cf) != 0)
		die("cannot write the configuration");
	uint64_t packets = 0, all_frames = 0;
	struct vigil_retransmit_counters fb = {0};

	for (unsigned c = 0; c < cameras; c++) {
		packets += cam[c].packets;
		all_frames += cam[c].frames;
		if (cam[c].rtx == NULL)
			continue;
#define X(name, help) fb.name += cam[c].rtx->count.name;
		VIGIL_FOREACH_RTX_COUNTER(X)
#undef X
		vigil_retransmit_wipe(cam[c].rtx);
		free(cam[c].rtx);
		cam[c].rtx = NULL;
	}
	if (per_camera != NULL) {
		FILE *pf = fopen(per_camera, "w");

		for (unsigned c = 0; pf != NULL && c < cameras; c++)
			fprintf(pf, "%u %" PRIu64 " %" PRIu64 "\n", c, cam[c].packets, cam[c].frames);
		if (pf == NULL || fclose(pf) != 0)
			die("cannot write --per-camera");
	}
	printf("{\"cameras\": %u, \"frames_per_camera\": %u, \"frames\": %" PRIu64 ", \"packets\": %" PRIu64
	       ", \"bytes\": %" PRIu64 ", \"seconds\": %.1f, \"mbit_s_per_camera\": %.3f, \"send_errors\": %" PRIu64
	       ", \"frame_interval_ms\": %.3f, \"elapsed_s\": %.3f, \"max_late_ms\": %.3f",
	       cameras, sent_frames, all_frames, packets, s->bytes, seconds, (double)s->bytes * 8 / seconds / cameras / 1e6,
	       s->send_errors, (double)frame_ns / 1e6, elapsed, (double)s->max_late_ns / 1e6);
	/* The lossy link and the feedback, when asked for. */
	if (rtx || loss > 0 || delay_ms > 0) {
		printf(", \"sim_dropped\": %" PRIu64 ", \"sim_dropped_feedback\": %" PRIu64
		       ", \"feedback_unmatched\": %" PRIu64 ", \"retransmit\": {\"refused\": %" PRIu64,
		       s->out.dropped, s->back.dropped, s->feedback_unmatched,
		       fb.forged + fb.replayed + fb.malformed + fb.wrong_sender);
#define X(name, help) printf(", \"%s\": %" PRIu64, #name, fb.name);
		VIGIL_FOREACH_RTX_COUNTER(X)
#undef X
		printf("}");
	}
	printf("}\n");
	if (s->send_errors != 0)
		return 1;
	return 0;
}
