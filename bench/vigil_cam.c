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
 *
 * usage: vigil-cam --clip FILE --codec h264|h265 --cameras N --seconds S
 *                  (--out CAPTURE.pcap | --live IFACE [--unpaced]) --config VIGIL.conf
 *                  [--fps 30] [--payload 1200] [--port 5004] [--record-dir DIR] [--seed WORD]
 * --seed: keys, SSRCs and sequence numbers derived from WORD, the same at
 * every run: test keys that anyone with the word has, never a camera's.
 * Replay: vigild --config VIGIL.conf --pcap CAPTURE.pcap */
#include <errno.h>
#include <getopt.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "au.h"
#include "fleet.h"
#include "sender.h"

struct camera {
	struct vigil_sender tx; /* RTP, packetization, SRTP: libvigilcam */
	uint8_t master[VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN];
	uint32_t ts0;
};

struct capture {
	FILE *pcap;      /* or, live: */
	int live_fd;     /* raw socket on the interface, or -1 */
	bool paced;      /* live at the packets' times, else as fast as it goes */
	uint64_t base_ns; /* CLOCK_MONOTONIC when the first packet's time came */
	uint64_t t0_ns;   /* the first packet's time */
	uint64_t send_errors;
	unsigned index; /* the camera sending */
	uint64_t t_ns;  /* capture time of the next packet */
	uint16_t port;
	uint64_t bytes;
};

static void die(const char *msg)
{
	fprintf(stderr, "vigil-cam: %s\n", msg);
	exit(2);
}

static void put32le(FILE *f, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};

	fwrite(b, 1, 4, f);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Live: the frame leaves at its time from the start (the capture's
 * clock), or at once when unpaced. */
static void send_live(struct capture *s, const uint8_t *frame, size_t len)
{
	if (s->base_ns == 0) {
		s->base_ns = now_ns();
		s->t0_ns = s->t_ns;
	}
	while (s->paced && now_ns() < s->base_ns + (s->t_ns - s->t0_ns))
		;
	if (send(s->live_fd, frame, len, 0) != (ssize_t)len)
		s->send_errors++;
	s->t_ns += 20000;
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

/* One SRTP packet: UDP/IP/Ethernet from the camera's own address
 * (198.19.x.y: a flow per camera, as RSS would see it), a pcap record. */
static void capture_packet(void *arg, const uint8_t *pkt, size_t len)
{
	struct capture *s = arg;
	uint8_t b[FLEET_MAX_FRAME];

	memcpy(b + FLEET_HDR, pkt, len);
	fleet_wrap_from(b, len, (const uint8_t[]){198, 19, (uint8_t)(s->index >> 8), (uint8_t)s->index},
			(uint16_t)(10000 + s->index % 50000), s->port);
	if (s->live_fd >= 0) {
		send_live(s, b, FLEET_HDR + len);
		return;
	}
	put32le(s->pcap, (uint32_t)(s->t_ns / 1000000000u));
	put32le(s->pcap, (uint32_t)(s->t_ns / 1000u % 1000000u));
	put32le(s->pcap, (uint32_t)(FLEET_HDR + len));
	put32le(s->pcap, (uint32_t)(FLEET_HDR + len));
	fwrite(b, 1, FLEET_HDR + len, s->pcap);
	s->t_ns += 20000; /* 20 us between a frame's packets */
	s->bytes += FLEET_HDR + len;
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

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"clip", required_argument, NULL, 'c'},	  {"codec", required_argument, NULL, 'k'},
	    {"cameras", required_argument, NULL, 'n'},	  {"seconds", required_argument, NULL, 's'},
	    {"out", required_argument, NULL, 'o'},	  {"config", required_argument, NULL, 'g'},
	    {"fps", required_argument, NULL, 'f'},	  {"payload", required_argument, NULL, 'p'},
	    {"port", required_argument, NULL, 'P'},	  {"record-dir", required_argument, NULL, 'r'},
	    {"live", required_argument, NULL, 'l'},	  {"unpaced", no_argument, NULL, 'u'},
	    {"seed", required_argument, NULL, 'S'},
	    {NULL, 0, NULL, 0},
	};
	const char *clip = NULL, *out = NULL, *conf = NULL, *record_dir = "recordings", *live = NULL, *seed = NULL;
	bool paced = true;
	enum vigil_codec codec = VIGIL_CODEC_H264;
	unsigned cameras = 0, fps = 30, first_key = 0;
	double seconds = 0;
	size_t payload = 1200, len;
	uint16_t port = 5004;
	struct vigil_au *aus;
	struct camera *cam;
	unsigned n_aus, frames;
	uint8_t *data;
	FILE *pcap = NULL, *cf;
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
		default: die("usage: see the top of bench/vigil_cam.c");
		}
	}
	if (clip == NULL || (out == NULL) == (live == NULL) || conf == NULL || cameras == 0 || cameras > 65535 ||
	    seconds <= 0 || fps == 0 || 90000 % fps != 0 || payload < 100 || payload > 1400 || sodium_init() < 0)
		die("usage: vigil-cam --clip FILE --codec h264|h265 --cameras N (1-65535) --seconds S "
		    "(--out PCAP | --live IFACE [--unpaced]) --config CONF [--fps F dividing 90000] [--payload 100-1400] "
		    "[--port P] [--record-dir DIR] [--seed WORD]");
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
		 * it): test keys, never a real camera's. */
		if (vigil_sender_init_ephemeral(&cam[c].tx, ssrc0 + c * 0x9e3779b1u, 96, seq0,
						cam[c].master) < 0)
			die("cannot derive SRTP keys");
	}
	free(rand_bytes);

	struct capture s = {.port = port, .live_fd = live != NULL ? open_live(live) : -1, .paced = paced};

	if (live == NULL) {
		pcap = fopen(out, "wb");
		if (pcap == NULL)
			die("cannot write the capture");
		put32le(pcap, 0xa1b2c3d4);
		fwrite((const uint8_t[]){2, 0, 4, 0}, 1, 4, pcap);
		put32le(pcap, 0);
		put32le(pcap, 0);
		put32le(pcap, 65535);
		put32le(pcap, 1); /* Ethernet */
		s.pcap = pcap;
	}
	frames = (unsigned)(seconds * fps);
	uint64_t t0 = UINT64_C(1795000000000000000), frame_ns = 1000000000u / fps;

	/* Frame i of every camera, camera c a c/N of the frame interval late. */
	for (unsigned i = 0; i < frames; i++) {
		const struct vigil_au *au = &aus[first_key + i % (n_aus - first_key)];

		for (unsigned c = 0; c < cameras; c++) {
			uint64_t at = t0 + i * frame_ns + frame_ns * c / cameras;

			s.index = c;
			if (s.t_ns < at)
				s.t_ns = at;
			if (vigil_sender_au(&cam[c].tx, codec, data + au->off, au->len, cam[c].ts0 + i * (90000 / fps),
					    payload, capture_packet, &s) < 0)
				die("an access unit of the clip has no NAL unit");
		}
	}
	if (live == NULL && fclose(s.pcap) != 0)
		die("cannot write the capture");
	if (live != NULL)
		close(s.live_fd);

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
	}
	if (fclose(cf) != 0)
		die("cannot write the configuration");
	uint64_t packets = 0;

	for (unsigned c = 0; c < cameras; c++)
		packets += cam[c].tx.packets;
	printf("{\"cameras\": %u, \"frames_per_camera\": %u, \"packets\": %" PRIu64 ", \"bytes\": %" PRIu64
	       ", \"seconds\": %.1f, \"mbit_s_per_camera\": %.3f, \"send_errors\": %" PRIu64 "}\n",
	       cameras, frames, packets, s.bytes, seconds, (double)s.bytes * 8 / seconds / cameras / 1e6, s.send_errors);
	if (s.send_errors != 0)
		return 1;
	return 0;
}
