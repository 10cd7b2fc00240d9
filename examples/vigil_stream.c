/* SPDX-License-Identifier: MIT */
/* vigil-stream: what a camera does, with libvigilcam and a UDP socket.
 * It streams an Annex-B H.264/H.265 file to vigil at its frame rate,
 * either under a configured SDES key or with keys agreed by handshake
 * (docs/handshake.md), rekeying as the server asks. An example for
 * firmware authors, and the camera of the tests.
 *
 *   vigil-stream --to 198.18.0.1 --clip clip.h264 --ssrc 7 --key-file cam.key --state cam.state
 *   vigil-stream --to 198.18.0.1 --clip clip.h264 --identity cam.sk --server-key BASE64 [--rtx]
 *
 * --rtx asks vigild, in the handshake, for an RTX stream: the camera then
 * keeps what it sent for a while and answers vigild's NACKs (SRTCP, on the
 * same socket as the handshake replies) with RFC 4588 RTX packets.
 *
 * Under a static key (--key-file) the packet index must never repeat,
 * across restarts too: --state names the file that keeps it (cam/sender.h).
 *
 * Prints one JSON line at the end: what it sent. Exit 0, or 1 with the
 * reason on stderr. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "vigil/clock.h"
#include "au.h"
#include "handshake.h"
#include "retransmit.h"
#include "sender.h"

#define MASTER_LEN (VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN)
#define RTX_SLOTS 1024 /* VIGIL_RTX_HOLD_MS of a few Mbit/s */

struct camera {
	int fd;
	struct sockaddr_storage media, handshake; /* the server's SRTP and handshake ports */
	socklen_t addrlen;
	enum vigil_codec codec;
	struct vigil_sender sender;
	/* handshake cameras only */
	bool by_handshake;
	struct vigil_hs_initiator hs;	     /* secrets: wiped at the end */
	bool hs_pending;		     /* a handshake is under way */
	uint64_t hs_started_ns, hs_retry_ns; /* its first initiation, its next one */
	uint64_t rekey_at_ns, rekey_after_packets;
	unsigned rekey_seconds; /* 0: as the server says */
	bool no_rekey;          /* a camera that misbehaves, for tests */
	unsigned handshakes, initiations;
	unsigned unknown_session; /* handshakes started because the server no longer knew the session */
	uint64_t unknown_at_ns;   /* the last of them */
	/* --rtx: the retransmission buffer, once a response gave the RTX stream */
	bool rtx_on;
	struct vigil_retransmit rtx;
	uint64_t rtx_packets, plis;
	unsigned drop_every; /* --drop-every: a lossy link, for tests */
	uint64_t media_packets, dropped;
	uint64_t sent_packets, sent_bytes, send_errors;
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "vigil-stream: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* A base64 line from a file (a key). */
static void read_b64(const char *path, uint8_t *out, size_t len)
{
	char line[256];
	size_t got;
	FILE *f = fopen(path, "re");

	if (f == NULL || fgets(line, sizeof(line), f) == NULL)
		die("cannot read %s", path);
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	if (sodium_base642bin(out, len, line, strlen(line), NULL, &got, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    got != len)
		die("%s: not base64 of the right length", path);
	sodium_memzero(line, sizeof(line));
}

static void resolve(const char *host, uint16_t port, struct sockaddr_storage *out, socklen_t *len)
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *res;
	char serv[8];

	snprintf(serv, sizeof(serv), "%u", port);
	if (getaddrinfo(host, serv, &hints, &res) != 0)
		die("cannot resolve %s", host);
	memcpy(out, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
}

static void send_packet(void *arg, const uint8_t *pkt, size_t len)
{
	struct camera *c = arg;

	if (c->drop_every > 0 && ++c->media_packets % c->drop_every == 0) {
		c->dropped++; /* as the network would: after the sender kept it */
		return;
	}
	if (sendto(c->fd, pkt, len, 0, (struct sockaddr *)&c->media, c->addrlen) == (ssize_t)len) {
		c->sent_packets++;
		c->sent_bytes += len;
	} else {
		c->send_errors++;
	}
}

static void send_rtx(void *arg, const uint8_t *pkt, size_t len)
{
	struct camera *c = arg;

	if (sendto(c->fd, pkt, len, 0, (struct sockaddr *)&c->media, c->addrlen) == (ssize_t)len)
		c->rtx_packets++;
	else
		c->send_errors++;
}

/* A PLI: a camera would ask its encoder for a key frame; a file has its own. */
static void key_frame(void *arg)
{
	((struct camera *)arg)->plis++;
}

/* The response's RTX stream: a retransmission buffer for a new stream, the
 * new key for the same one. */
static void rtx_keys(struct camera *c, const struct vigil_hs_keys *keys)
{
	char msg[256];

	if (c->rtx_on && c->rtx.media_ssrc == keys->ssrc && c->rtx.rtx_ssrc == keys->rtx_ssrc &&
	    c->rtx.rtx_payload_type == keys->rtx_payload_type) {
		if (vigil_retransmit_rekey(&c->rtx, keys->c2s) < 0)
			die("%s", "cannot set the RTX key");
	} else {
		if (c->rtx_on)
			vigil_retransmit_wipe(&c->rtx);
		if (vigil_retransmit_init(&c->rtx, keys->ssrc, keys->rtx_ssrc, keys->rtx_payload_type,
					  keys->c2s, RTX_SLOTS, NULL, msg, sizeof(msg)) < 0)
			die("RTX: %s", msg);
		c->rtx_on = true;
	}
	c->sender.rtx = &c->rtx;
}

/* An initiation of the pending handshake (a new one, if none is): the
 * next goes after 1 s plus jitter, after VIGIL_HS_RETRY_FAST_S every
 * VIGIL_HS_RETRY_SLOW_S (plus jitter), until a response comes. */
static void hs_send(struct camera *c)
{
	uint8_t msg[VIGIL_HS_INITIATION_LEN];
	size_t len = sizeof(msg);
	uint64_t now = vigil_now_ns(), wait;

	if (!c->hs_pending) {
		c->hs_pending = true;
		c->hs_started_ns = now;
	}
	if (vigil_hs_initiation_write(&c->hs, c->codec == VIGIL_CODEC_H265, msg, &len) < 0)
		die("%s", "cannot make a handshake initiation");
	/* A lost one is retried like one with no response. */
	if (sendto(c->fd, msg, len, 0, (struct sockaddr *)&c->handshake, c->addrlen) != (ssize_t)len)
		fprintf(stderr, "vigil-stream: cannot send the handshake (retrying): %s\n", strerror(errno));
	c->initiations++;
	wait = now - c->hs_started_ns < VIGIL_HS_RETRY_FAST_S * 1000000000ull
		   ? VIGIL_HS_RETRY_MS * 1000000ull
		   : VIGIL_HS_RETRY_SLOW_S * 1000000000ull;
	c->hs_retry_ns = now + wait + randombytes_uniform(VIGIL_HS_RETRY_JITTER_MS + 1) * 1000000ull;
}

/* What the server sent, without waiting. A response ends the handshake:
 * the sender takes the new key from its next packet, the sequence goes
 * on. A cookie reply lets the next initiation, with mac2, go at once. */
static void hs_receive(struct camera *c)
{
	uint8_t reply[VIGIL_RTX_FEEDBACK_MAX + 1];
	struct vigil_hs_keys keys;
	ssize_t n;

	while (c->by_handshake && (n = recv(c->fd, reply, sizeof(reply), MSG_DONTWAIT)) > 0) {
		uint32_t ssrc;

		/* SRTCP from vigild: RTCP version 2 in the top bits, where a
		 * handshake message has its type (1-4). */
		if (reply[0] >> 6 == 2) {
			if (c->rtx_on && (size_t)n <= VIGIL_RTX_FEEDBACK_MAX) {
				int rc = vigil_retransmit_feedback(&c->rtx, reply, (size_t)n, vigil_now_ns(),
								   send_rtx, key_frame, c);

				(void)rc; /* a refusal is counted by its reason */
			}
			continue;
		}

		/* The server has no key for our SSRC (it restarted): a new
		 * handshake beside the stream, at most every
		 * VIGIL_HS_UNKNOWN_SESSION_MIN_S (the message is not
		 * authenticated, so a forger gains no more than that). */
		if (vigil_hs_unknown_session_read(reply, (size_t)n, &ssrc) == 0) {
			uint64_t now = vigil_now_ns();

			if (!c->no_rekey && !c->hs_pending && c->handshakes > 0 && ssrc == c->sender.ssrc &&
			    (c->unknown_session == 0 ||
			     now - c->unknown_at_ns >= VIGIL_HS_UNKNOWN_SESSION_MIN_S * 1000000000ull)) {
				c->unknown_session++;
				c->unknown_at_ns = now;
				hs_send(c);
			}
			continue;
		}
		if (!c->hs_pending)
			continue;
		if (vigil_hs_response_read(&c->hs, reply, (size_t)n, &keys) == 0) {
			/* A rekey keeps the SSRC and the sequence; a new SSRC
			 * (the server let the key expire) starts a new stream. */
			if (c->handshakes == 0 || keys.ssrc != c->sender.ssrc
				? vigil_sender_init_ephemeral(&c->sender, keys.ssrc, 96,
							      (uint16_t)randombytes_random(), keys.c2s) < 0
				: vigil_sender_rekey(&c->sender, keys.c2s) < 0)
				die("%s", "cannot set the SRTP key");
			if (keys.has_rtx)
				rtx_keys(c, &keys);
			c->rekey_at_ns =
			    vigil_now_ns() + (uint64_t)(c->rekey_seconds ? c->rekey_seconds : keys.rekey_after_s) *
					   1000000000u;
			c->rekey_after_packets = keys.rekey_after_packets;
			vigil_hs_keys_wipe(&keys);
			c->hs_pending = false;
			c->handshakes++;
		} else if (vigil_hs_cookie_read(&c->hs, reply, (size_t)n) == 0) {
			c->hs_retry_ns = vigil_now_ns();
		}
	}
}

/* Until due, while a handshake goes on: responses are read as they come
 * and initiations sent on time. */
static void wait_until(struct camera *c, uint64_t due)
{
	for (uint64_t now; (now = vigil_now_ns()) < due;) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		uint64_t until = c->hs_pending && c->hs_retry_ns < due ? c->hs_retry_ns : due;
		struct timespec ts;

		/* A response that came while this process was not running is
		 * read before a retry would make it stale. */
		if (c->hs_pending && now >= c->hs_retry_ns) {
			hs_receive(c);
			if (c->hs_pending && vigil_now_ns() >= c->hs_retry_ns)
				hs_send(c);
			continue;
		}
		ts = (struct timespec){.tv_sec = (time_t)((until - now) / 1000000000u),
				       .tv_nsec = (long)((until - now) % 1000000000u)};
		if (ppoll(&pfd, c->by_handshake ? 1 : 0, &ts, NULL) > 0)
			hs_receive(c);
	}
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0)
		die("cannot read %s", path);
	p = malloc((size_t)n);
	if (p == NULL || fread(p, 1, (size_t)n, f) != (size_t)n)
		die("cannot read %s", path);
	fclose(f);
	*len = (size_t)n;
	return p;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: vigil-stream --to HOST --clip FILE [--codec h264|h265] [--fps 30] [--loops 1]\n"
		"                    [--port 5004] [--payload 1200]\n"
		"                    (--ssrc N --key-file FILE --state FILE\n"
		"                     | --identity FILE --server-key BASE64\n"
		"                       [--handshake-port 5006] [--rekey-seconds N | --no-rekey] [--rtx])\n"
		"                    [--drop-every N]\n"
		"  --state: where the packet index under the static key is kept across runs (created when\n"
		"           missing; its directory must exist); one file per stream, never shared\n"
		"  --no-rekey: never rekey, as a broken camera would (vigild refuses the key once it is spent),\n"
		"              nor handshake again when vigild says it does not know the session\n"
		"  --rtx: ask vigild for an RTX stream and answer its NACKs (needs a vigild that knows it)\n"
		"  --drop-every N: drop every Nth media packet before sending it, as a lossy link would\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"to", required_argument, NULL, 't'},		 {"clip", required_argument, NULL, 'c'},
		{"codec", required_argument, NULL, 'k'},	 {"fps", required_argument, NULL, 'f'},
		{"loops", required_argument, NULL, 'l'},	 {"port", required_argument, NULL, 'p'},
		{"payload", required_argument, NULL, 'P'},	 {"ssrc", required_argument, NULL, 's'},
		{"key-file", required_argument, NULL, 'K'},	 {"identity", required_argument, NULL, 'i'},
		{"server-key", required_argument, NULL, 'S'},	 {"handshake-port", required_argument, NULL, 'h'},
		{"rekey-seconds", required_argument, NULL, 'r'}, {"no-rekey", no_argument, NULL, 'n'},
		{"state", required_argument, NULL, 'x'},	 {"rtx", no_argument, NULL, 'R'},
		{"drop-every", required_argument, NULL, 'D'},	 {NULL, 0, NULL, 0},
	};
	const char *to = NULL, *clip = NULL, *key_file = NULL, *identity = NULL, *server_key = NULL, *state = NULL;
	bool rtx = false;
	unsigned fps = 30, loops = 1, port = 5004, hs_port = 5006, payload = 1200;
	uint32_t ssrc = 0;
	struct camera c = {.codec = VIGIL_CODEC_H264};
	uint8_t *data, master[MASTER_LEN], sk[32], server_pk[32];
	struct vigil_au *aus;
	unsigned n_aus, frames = 0;
	uint64_t t0;
	size_t len;
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 't': to = optarg; break;
		case 'c': clip = optarg; break;
		case 'k': c.codec = strcmp(optarg, "h265") == 0 ? VIGIL_CODEC_H265 : VIGIL_CODEC_H264; break;
		case 'f': fps = (unsigned)atoi(optarg); break;
		case 'l': loops = (unsigned)atoi(optarg); break;
		case 'p': port = (unsigned)atoi(optarg); break;
		case 'P': payload = (unsigned)atoi(optarg); break;
		case 's': ssrc = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'K': key_file = optarg; break;
		case 'i': identity = optarg; break;
		case 'S': server_key = optarg; break;
		case 'h': hs_port = (unsigned)atoi(optarg); break;
		case 'r': c.rekey_seconds = (unsigned)atoi(optarg); break;
		case 'n': c.no_rekey = true; break;
		case 'x': state = optarg; break;
		case 'R': rtx = true; break;
		case 'D': c.drop_every = (unsigned)atoi(optarg); break;
		default: usage();
		}
	}
	if (to == NULL || clip == NULL || fps == 0 || (key_file == NULL) == (identity == NULL) ||
	    (identity != NULL && (server_key == NULL || state != NULL)))
		usage();
	if (rtx && identity == NULL)
		die("%s", "--rtx is for handshake cameras: under a static key vigild's [Camera] section "
			  "names the RTX stream (RtxSSRC, RtxPayloadType; vigil-cam --rtx)");
	if (key_file != NULL && state == NULL)
		die("%s", "--key-file needs --state FILE: under a static key a camera must never repeat a packet "
			  "index, across restarts too (AES-GCM would give its key away), so it keeps its place there");
	if (sodium_init() < 0 || vigil_srtp_available() < 0)
		die("%s", "this CPU lacks AES-NI, which AEAD_AES_256_GCM needs here");
	resolve(to, (uint16_t)port, &c.media, &c.addrlen);
	resolve(to, (uint16_t)hs_port, &c.handshake, &c.addrlen);
	c.fd = socket(c.media.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (c.fd < 0)
		die("socket: %s", strerror(errno));

	data = read_file(clip, &len);
	aus = calloc(len / 4 + 1, sizeof(*aus));
	if (aus == NULL)
		die("%s", "out of memory");
	n_aus = vigil_au_split(c.codec, data, len, aus, (unsigned)(len / 4 + 1));
	if (n_aus == 0)
		die("%s: no access unit in it", clip);

	if (key_file != NULL) {
		char msg[512];

		read_b64(key_file, master, sizeof(master));
		if (vigil_sender_init(&c.sender, ssrc, 96, master, state, msg, sizeof(msg)) < 0)
			die("state %s", msg);
		sodium_memzero(master, sizeof(master));
		fprintf(stderr, "vigil-stream: state %s\n", msg);
	} else {
		read_b64(identity, sk, sizeof(sk));
		if (sodium_base642bin(server_pk, sizeof(server_pk), server_key, strlen(server_key), NULL, &len, NULL,
				      sodium_base64_VARIANT_ORIGINAL) != 0 ||
		    len != sizeof(server_pk))
			die("%s", "--server-key: not base64 of a 32-byte X25519 public key");
		if (vigil_hs_initiator_init(&c.hs, sk, server_pk) < 0)
			die("%s", "cannot start the handshake state");
		c.hs.ask_rtx = rtx;
		c.hs.announce_fresh = true; /* its index starts anywhere: a stream of its own */
		sodium_memzero(sk, sizeof(sk));
		c.by_handshake = true;
		/* No key yet: nothing to send until the first response. */
		hs_send(&c);
		while (c.hs_pending)
			wait_until(&c, vigil_now_ns() + 100000000u);
	}

	/* Frame k leaves at t0 + k / fps with RTP timestamp k * 90000 / fps. */
	t0 = vigil_now_ns();
	for (unsigned loop = 0; loop < loops; loop++) {
		for (unsigned i = 0; i < n_aus; i++, frames++) {
			uint64_t due = t0 + (uint64_t)frames * 1000000000u / fps;
			uint32_t ts = (uint32_t)((uint64_t)frames * VIGIL_RTP_CLOCK_HZ / fps);

			wait_until(&c, due);
			/* A rekey goes on beside the stream, which keeps the
			 * current key until the response comes. */
			if (c.by_handshake && !c.no_rekey && !c.hs_pending &&
			    (vigil_now_ns() >= c.rekey_at_ns || c.sender.packets >= c.rekey_after_packets))
				hs_send(&c);
			int rc = vigil_sender_au(&c.sender, c.codec, data + aus[i].off, aus[i].len, ts, payload,
						 send_packet, &c);

			if (rc < 0)
				die("cannot packetize, protect or reserve indices for an access unit%s%s: %s",
				    state != NULL ? " in " : "", state != NULL ? state : "", strerror(-rc));
		}
	}
	/* NACKs for the last packets come a round trip after them. */
	if (c.rtx_on)
		wait_until(&c, vigil_now_ns() + VIGIL_RTX_HOLD_MS * 1000000ull);
	printf("{\"frames\": %u, \"packets\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"send_errors\": %" PRIu64
	       ", \"ssrc\": %u, \"handshakes\": %u, \"initiations\": %u, \"unknown_session\": %u"
	       ", \"next_index\": %" PRIu64
	       ", \"reservations\": %" PRIu64 ", \"reserve_max_us\": %" PRIu64 ", \"dropped\": %" PRIu64
	       ", \"rtx_ssrc\": %u, \"rtx_packets\": %" PRIu64 ", \"nacked\": %" PRIu64 ", \"pli\": %" PRIu64
	       ", \"feedback_refused\": %" PRIu64 "}\n",
	       frames, c.sent_packets, c.sent_bytes, c.send_errors, c.sender.ssrc, c.handshakes, c.initiations,
	       c.unknown_session, c.sender.index, c.sender.reservations, c.sender.reserve_max_ns / 1000,
	       c.dropped, c.rtx_on ? c.rtx.rtx_ssrc : 0, c.rtx_packets, c.rtx.count.nacked, c.plis,
	       c.rtx.count.forged + c.rtx.count.replayed + c.rtx.count.malformed + c.rtx.count.wrong_sender);
	if (c.rtx_on)
		vigil_retransmit_wipe(&c.rtx);
	vigil_sender_wipe(&c.sender);
	vigil_hs_initiator_wipe(&c.hs);
	close(c.fd);
	free(aus);
	free(data);
	return c.send_errors == 0 ? 0 : 1;
}
