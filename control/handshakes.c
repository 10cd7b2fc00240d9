/* SPDX-License-Identifier: MIT */
/* Camera handshakes, server side (handshakes.h). Each request mbuf becomes
 * its reply in place (fresh IP and UDP headers back to the sender, the
 * UDP payload replaced), which the worker with TX queue 0 sends. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_udp.h>
#include <sodium.h>

#include "vigil/clock.h"
#include "handshake.h"
#include "handshakes.h"
#include "parse.h"
#include "vigil/limits.h"
#include "vigil/secret.h"

_Static_assert(sizeof(((struct vigil_hs_responder *)0)->cookie_secret) == VIGIL_HS_COOKIE_SECRET_LEN,
	       "the workers check cookies with the responder's secret");

/* Per source address: VIGIL_HS_RATE_BURST, then VIGIL_HS_RATE_PER_S
 * handshakes a second (as WireGuard's ratelimiter); an IPv6 source is its
 * /64, since one host may hold all of it. Sources share 4096 buckets by
 * keyed hash, and a bucket keeps its level whichever source uses it next:
 * cycling through addresses earns no tokens beyond each bucket's rate.
 * Initiations proven by a cookie have 4096 buckets of their own, which
 * spoofed sources cannot reach. */
#define RATE_BUCKETS 4096
/* Under load, initiations without a valid cookie get a cookie reply
 * instead of a DH, COOKIE_BUDGET_PER_S a second at most in all: a flood from
 * spoofed sources empties the shared buckets slower than it fills them, and
 * a cookie reply costs some microseconds. An address a camera's accepted
 * handshake came from keeps a bucket of its own (KNOWN_WAYS-way sets, room
 * for twice MaxCameras, the longest unseen giving way), so a camera that
 * rekeys under a flood gets its cookie at its first try even when the
 * shared buckets and the budget are empty. */
#define COOKIE_BUDGET_PER_S 10000
#define KNOWN_WAYS 4
/* Load: more than LOAD_DH DHs or LOAD_PACKETS packets in a LOAD_WINDOW
 * (250 DHs or 10,000 packets a second: a flood from more than a dozen
 * sources, or a fleet of some 30,000 cameras rekeying every 2 minutes), or
 * LOAD_QUEUE packets waiting at a poll. It lasts LOAD_HOLD. */
#define LOAD_WINDOW_NS 100000000u
#define LOAD_DH 25
#define LOAD_PACKETS 1000
#define LOAD_QUEUE 32
#define LOAD_HOLD_NS 1000000000u
/* A poll takes the proven initiations waiting and up to DRAIN_BUDGET
 * others, a few milliseconds of a flood at most, before the control loop
 * turns to its other work; it comes back at once while packets come. */
#define DRAIN_BUDGET 1024

struct bucket {
	uint64_t last_ns; /* 0: never used */
	uint64_t tokens;  /* ns of credit */
};

/* A source address a camera's handshake was accepted from. */
struct known {
	uint8_t addr[16];
	uint64_t seen_ns; /* its latest handshake; 0: an empty way */
	struct bucket b;
};

/* A handshake a cluster node waits for etcd to hold before it answers:
 * the packet its response goes in, and what the answer applies. In
 * locked memory: its keys. */
struct waiting {
	bool used;
	struct rte_mbuf *m;
	struct vigil_udp udp;
	unsigned slot;
	uint8_t identity[32], ts[VIGIL_HS_TIMESTAMP_LEN], addr[16];
	uint64_t hash;
	uint32_t ssrc;
	bool has_rtx;
	struct vigil_hs_rtx rtx;
	uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN], salt[VIGIL_SRTP_MASTER_SALT_LEN];
	uint8_t reply[VIGIL_HS_RESPONSE_RTX_LEN];
	size_t reply_len;
	uint64_t answer_ns; /* applied, its reply due then (not 0); keys wiped */
};

/* handle()'s outcome for a handshake left waiting: counted when it ends. */
#define HS_WAITS VIGIL_HS_MAX

struct vigil_handshakes {
	struct vigil_cameras *cams;
	struct vigil_hs_publisher pub; /* a cluster node's: each handshake published first (begin NULL: none) */
	struct waiting *waiting;       /* VIGIL_HS_WAITING of them, sodium_malloc'd */
	unsigned n_waiting;
	unsigned n_delayed; /* of those, applied and answered later (answer_ns) */
	struct rte_ring *from_workers, *proven, *to_wire;
	struct vigil_neigh nb;		      /* the port's MAC and addresses */
	struct vigil_hs_responder *responder; /* secrets: sodium_malloc'd */
	struct vigil_hs_cookie *cookie;	      /* its cookie secret as the workers read it, sodium_malloc'd */
	uint64_t published_ns;		      /* the birth of the secret published */
	/* Per camera slot: the newest handshake accepted, and whose it was
	 * (a slot given another Identity starts afresh). */
	struct {
		uint8_t identity[32];
		uint8_t ts[VIGIL_HS_TIMESTAMP_LEN];
	} *last;
	uint8_t hash_key[crypto_shorthash_KEYBYTES];
	struct bucket buckets[RATE_BUCKETS];
	struct bucket proven_buckets[RATE_BUCKETS];
	struct bucket unknown_buckets[RATE_BUCKETS]; /* unknown-session messages */
	struct bucket cookie_budget;
	struct known *known; /* known_sets * KNOWN_WAYS */
	uint32_t known_sets; /* a power of two */
	uint64_t load_until_ns;
	uint64_t window_ns;	 /* when this LOAD_WINDOW began */
	unsigned window_dh;	 /* initiations that cost a DH in it */
	unsigned window_packets; /* packets taken in it */
	uint64_t n[VIGIL_HS_MAX];
};

/* ServerKeyFile: base64 of 32 bytes on one line, readable by us only.
 * Read into a buffer of ours, not stdio's, so no copy of it is left. */
static int read_server_key(const char *path, uint8_t sk[32], char *msg, size_t msglen)
{
	char line[128];
	size_t len;
	ssize_t n = 0;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK), rc = 0;

	if (fd < 0) {
		rc = -errno;
		snprintf(msg, msglen, "ServerKeyFile %s: %s (vigilctl keygen x25519 FILE makes one)", path,
			 strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) == 0 && !vigil_secret_mode_ok(path, st.st_mode)) {
		snprintf(msg, msglen, "ServerKeyFile %s: mode %03o lets others read the server's secret key; chmod 600 it",
			 path, (unsigned)(st.st_mode & 0777));
		rc = -EPERM;
	} else if ((n = read(fd, line, sizeof(line) - 1)) < 0) {
		rc = -errno;
		snprintf(msg, msglen, "ServerKeyFile %s: %s", path, strerror(errno));
	} else if (line[n] = '\0', line[strcspn(line, "\r\n")] = '\0',
		   sodium_base642bin(sk, 32, line, strlen(line), NULL, &len, NULL,
				     sodium_base64_VARIANT_ORIGINAL) != 0 ||
		       len != 32) {
		snprintf(msg, msglen, "ServerKeyFile %s: not base64 of a 32-byte X25519 secret key", path);
		rc = -EINVAL;
	}
	sodium_memzero(line, sizeof(line));
	close(fd);
	return rc;
}

/* The workers check cookies with the responder's secret: it is published
 * anew when it changes, and rotated here on time, so that the workers do
 * not go on taking cookies of a secret past its age while no handshake
 * comes to rotate it. */
static void publish_cookie(struct vigil_handshakes *h, uint64_t now)
{
	struct vigil_hs_responder *r = h->responder;

	/* (The responder also rotates it when it finds it old, during a
	 * poll: its birth may then be later than now.) */
	if (now >= r->cookie_birth_ns + (uint64_t)VIGIL_HS_COOKIE_SECRET_MAX_AGE_S * NS_PER_S)
		vigil_hs_responder_rotate(r);
	if (r->cookie_birth_ns != h->published_ns) {
		vigil_hs_cookie_publish(h->cookie, r->cookie_secret);
		h->published_ns = r->cookie_birth_ns;
	}
}

struct vigil_handshakes *vigil_handshakes_create(struct vigil_cameras *cams, const struct vigil_neigh *nb,
						 struct rte_ring *from_workers, struct rte_ring *proven,
						 struct rte_ring *to_wire, char *msg, size_t msglen)
{
	struct vigil_handshakes *h = calloc(1, sizeof(*h));
	uint8_t *sk = sodium_malloc(32);

	if (h == NULL || sk == NULL)
		goto nomem;
	h->cams = cams;
	h->nb = *nb;
	h->from_workers = from_workers;
	h->proven = proven;
	h->to_wire = to_wire;
	h->last = calloc(cams->cfg->max_cameras, sizeof(*h->last));
	h->known_sets = rte_align32pow2((cams->cfg->max_cameras * 2 + KNOWN_WAYS - 1) / KNOWN_WAYS);
	h->known = calloc((size_t)h->known_sets * KNOWN_WAYS, sizeof(*h->known));
	h->responder = sodium_malloc(sizeof(*h->responder));
	h->cookie = sodium_malloc(sizeof(*h->cookie));
	h->waiting = sodium_allocarray(VIGIL_HS_WAITING, sizeof(*h->waiting));
	if (h->last == NULL || h->known == NULL || h->responder == NULL || h->cookie == NULL || h->waiting == NULL)
		goto nomem;
	memset(h->waiting, 0, VIGIL_HS_WAITING * sizeof(*h->waiting));
	memset(h->cookie, 0, sizeof(*h->cookie));
	if (read_server_key(cams->cfg->server_key_file, sk, msg, msglen) < 0)
		goto err;
	if (vigil_hs_responder_init(h->responder, sk) < 0) {
		snprintf(msg, msglen, "ServerKeyFile %s: not a usable X25519 key", cams->cfg->server_key_file);
		goto err;
	}
	sodium_free(sk);
	crypto_shorthash_keygen(h->hash_key);
	publish_cookie(h, vigil_now_ns());
	return h;
nomem:
	snprintf(msg, msglen, "out of memory for the handshakes");
err:
	sodium_free(sk);
	vigil_handshakes_free(h);
	return NULL;
}

const struct vigil_hs_cookie *vigil_handshakes_cookie(const struct vigil_handshakes *h)
{
	return h->cookie;
}

void vigil_handshakes_publish(struct vigil_handshakes *h, const struct vigil_hs_publisher *p)
{
	h->pub = *p;
}

bool vigil_handshakes_under_load(const struct vigil_handshakes *h)
{
	return vigil_now_ns() < h->load_until_ns;
}

void vigil_handshakes_free(struct vigil_handshakes *h)
{
	if (h == NULL)
		return;
	for (unsigned i = 0; h->waiting != NULL && i < VIGIL_HS_WAITING; i++)
		if (h->waiting[i].used)
			rte_pktmbuf_free(h->waiting[i].m);
	sodium_free(h->waiting);
	sodium_free(h->responder); /* wipes it */
	sodium_free(h->cookie);
	free(h->known);
	free(h->last);
	free(h);
}

/* A token bucket: burst tokens at first, one every per ns after. */
static bool take(struct bucket *b, uint64_t now, uint64_t per, uint64_t burst)
{
	if (b->last_ns == 0)
		b->tokens = burst * per;
	else
		b->tokens += now - b->last_ns;
	if (b->tokens > burst * per)
		b->tokens = burst * per;
	b->last_ns = now;
	if (b->tokens < per)
		return false;
	b->tokens -= per;
	return true;
}

/* Source addresses by keyed hash: buckets by its low bits, known
 * addresses by its high ones. */
static uint64_t addr_hash(const struct vigil_handshakes *h, const uint8_t addr[16])
{
	uint8_t hv[crypto_shorthash_BYTES];
	uint64_t hash;

	crypto_shorthash(hv, addr, 16, h->hash_key);
	memcpy(&hash, hv, sizeof(hash));
	return hash;
}

/* The rate limit of a source address (its keyed hash). */
static bool rate_ok(struct bucket *buckets, uint64_t hash, uint64_t now)
{
	return take(&buckets[hash % RATE_BUCKETS], now, NS_PER_S / VIGIL_HS_RATE_PER_S, VIGIL_HS_RATE_BURST);
}

static struct known *known_set(const struct vigil_handshakes *h, uint64_t hash)
{
	return &h->known[((hash >> 32) & (h->known_sets - 1)) * KNOWN_WAYS];
}

static struct known *known_find(const struct vigil_handshakes *h, const uint8_t addr[16], uint64_t hash)
{
	struct known *set = known_set(h, hash);

	for (unsigned i = 0; i < KNOWN_WAYS; i++)
		if (set[i].seen_ns != 0 && memcmp(set[i].addr, addr, 16) == 0)
			return &set[i];
	return NULL;
}

static void known_add(struct vigil_handshakes *h, const uint8_t addr[16], uint64_t hash, uint64_t now)
{
	struct known *k = known_find(h, addr, hash), *set = known_set(h, hash);

	if (k == NULL) {
		k = &set[0];
		for (unsigned i = 1; i < KNOWN_WAYS; i++)
			if (set[i].seen_ns < k->seen_ns)
				k = &set[i];
		*k = (struct known){.seen_ns = now};
		memcpy(k->addr, addr, 16);
	}
	k->seen_ns = now;
}

/* Whether a packet from addr is looked at: a proven initiation within the
 * rate of its address; another within the rate of its address's shared
 * bucket and, under load, the cookie budget; failing those, under load,
 * within the rate of its address if a camera's handshake came from it. */
static bool admit(struct vigil_handshakes *h, const uint8_t addr[16], uint64_t hash, bool proven, bool load,
		  uint64_t now)
{
	struct known *k;

	if (proven)
		return rate_ok(h->proven_buckets, hash, now);
	if (rate_ok(h->buckets, hash, now) &&
	    (!load || take(&h->cookie_budget, now, NS_PER_S / COOKIE_BUDGET_PER_S, COOKIE_BUDGET_PER_S / 10)))
		return true;
	k = load ? known_find(h, addr, hash) : NULL;
	return k != NULL && take(&k->b, now, NS_PER_S / VIGIL_HS_RATE_PER_S, VIGIL_HS_RATE_BURST);
}

/* What a refusal from the camera table or the cluster counts as. */
static enum vigil_hs_outcome refusal(int rc)
{
	return rc == -EALREADY ? VIGIL_HS_replayed
	       : rc == -EBUSY  ? VIGIL_HS_rate_limited
	       : rc == -EIO    ? VIGIL_HS_cluster_unavailable
	       : rc == -EPERM  ? VIGIL_HS_revoked
			       : VIGIL_HS_refused;
}

/* A handshake of the camera in slot applied: the newest one of it, and
 * its source address known. */
static void accepted(struct vigil_handshakes *h, unsigned slot, const uint8_t identity[32],
		     const uint8_t ts[VIGIL_HS_TIMESTAMP_LEN], const uint8_t addr[16], uint64_t hash, uint64_t now)
{
	memcpy(h->last[slot].identity, identity, 32);
	memcpy(h->last[slot].ts, ts, VIGIL_HS_TIMESTAMP_LEN);
	known_add(h, addr, hash, now);
}

/* The reply in the packet that asked, to the wire. */
static void send_reply(struct vigil_handshakes *h, struct rte_mbuf *m, const struct vigil_udp *udp,
		       const uint8_t *reply, size_t reply_len)
{
	m->data_len = m->pkt_len = (uint32_t)vigil_reply_udp(rte_pktmbuf_mtod(m, uint8_t *), &h->nb.mac, udp,
							     h->cams->cfg->handshake_port, reply, reply_len);
	if (rte_ring_sp_enqueue(h->to_wire, m) != 0) {
		h->n[VIGIL_HS_no_buffer]++;
		rte_pktmbuf_free(m);
	}
}

/* A cluster node's handshake handed to the cluster to publish, the packet
 * and what the answer applies kept until it is done (finish). 0, or the
 * cluster's refusal; -EIO when VIGIL_HS_WAITING wait already. */
static int wait_for_etcd(struct vigil_handshakes *h, struct rte_mbuf *m, const struct vigil_udp *udp, unsigned slot,
			 const uint8_t identity[32], const uint8_t ts[VIGIL_HS_TIMESTAMP_LEN], const uint8_t addr[16],
			 uint64_t hash, uint32_t ssrc, const struct vigil_hs_rtx *rtx, const struct vigil_hs_keys *keys,
			 const uint8_t *reply, size_t reply_len)
{
	struct waiting *w = NULL;
	int rc;

	for (unsigned i = 0; i < VIGIL_HS_WAITING && w == NULL; i++)
		if (!h->waiting[i].used)
			w = &h->waiting[i];
	if (w == NULL)
		return -EIO;
	rc = h->pub.begin(h->pub.arg, slot, ts, ssrc, rtx, keys->c2s, keys->c2s + VIGIL_SRTP_MASTER_KEY_LEN,
			  (unsigned)(w - h->waiting));
	if (rc != 0)
		return rc;
	w->used = true;
	w->m = m;
	w->udp = *udp;
	w->slot = slot;
	memcpy(w->identity, identity, 32);
	memcpy(w->ts, ts, VIGIL_HS_TIMESTAMP_LEN);
	memcpy(w->addr, addr, 16);
	w->hash = hash;
	w->ssrc = ssrc;
	w->has_rtx = rtx != NULL;
	if (rtx != NULL)
		w->rtx = *rtx;
	memcpy(w->key, keys->c2s, VIGIL_SRTP_MASTER_KEY_LEN);
	memcpy(w->salt, keys->c2s + VIGIL_SRTP_MASTER_KEY_LEN, VIGIL_SRTP_MASTER_SALT_LEN);
	memcpy(w->reply, reply, reply_len);
	w->reply_len = reply_len;
	h->n_waiting++;
	return 0;
}

/* A handshake etcd now holds (rc 0; 1: applied from its watch already),
 * or refused (rc < 0): applied and answered, or dropped, and counted. */
static void finish(struct vigil_handshakes *h, unsigned tag, int rc, uint64_t now)
{
	struct waiting *w = tag < VIGIL_HS_WAITING ? &h->waiting[tag] : NULL;
	const struct vigil_camera_config *cam;
	enum vigil_hs_outcome out;

	if (w == NULL || !w->used)
		return;
	/* The slot gone, or given another camera meanwhile (a reload): not
	 * its key. */
	cam = w->slot < h->cams->cfg->n_cameras ? &h->cams->cfg->cameras[w->slot] : NULL;
	if (rc >= 0 && (cam == NULL || !cam->has_identity || sodium_memcmp(cam->identity, w->identity, 32) != 0))
		rc = -ENOENT;
	if (rc == 0)
		rc = vigil_cameras_handshake(h->cams, w->slot, w->ssrc, w->has_rtx ? &w->rtx : NULL, w->key, w->salt, 0);
	out = rc >= 0 ? VIGIL_HS_accepted : refusal(rc);
	h->n[out]++;
	if (out == VIGIL_HS_accepted) {
		accepted(h, w->slot, w->identity, w->ts, w->addr, w->hash, now);
		/* The camera switches keys at the response: the node its
		 * media reach must have the key first. */
		if (h->pub.owns != NULL && !h->pub.owns(h->pub.arg, w->slot)) {
			sodium_memzero(w->key, sizeof(w->key));
			sodium_memzero(w->salt, sizeof(w->salt));
			w->answer_ns = now + VIGIL_HS_ANSWER_DELAY_MS * 1000000ull;
			h->n_delayed++;
			return;
		}
		send_reply(h, w->m, &w->udp, w->reply, w->reply_len);
	} else {
		rte_pktmbuf_free(w->m);
	}
	sodium_memzero(w, sizeof(*w));
	h->n_waiting--;
}

/* The delayed answers that are due, sent. */
static void answer_due(struct vigil_handshakes *h, uint64_t now)
{
	for (unsigned i = 0; h->n_delayed > 0 && i < VIGIL_HS_WAITING; i++) {
		struct waiting *w = &h->waiting[i];

		if (!w->used || w->answer_ns == 0 || now < w->answer_ns)
			continue;
		send_reply(h, w->m, &w->udp, w->reply, w->reply_len);
		sodium_memzero(w, sizeof(*w));
		h->n_waiting--;
		h->n_delayed--;
	}
}

/* One packet (m, its UDP payload msg): its outcome; *reply_len > 0 when
 * it is answered with reply; HS_WAITS when m waits for etcd. proven: the
 * worker found a valid cookie in it. */
static enum vigil_hs_outcome handle(struct vigil_handshakes *h, struct rte_mbuf *m, const uint8_t *msg, size_t len,
				    const struct vigil_udp *udp, bool proven, uint8_t *reply, size_t *reply_len,
				    uint64_t now)
{
	uint8_t addr[16] = {0}, src[VIGIL_HS_SOURCE_LEN], ts[VIGIL_HS_TIMESTAMP_LEN];
	bool load = now < h->load_until_ns;
	struct vigil_hs_init init;
	struct vigil_hs_keys keys;
	struct vigil_hs_rtx rtx;
	const struct vigil_camera_config *cam;
	bool same_stream;
	uint64_t hash;
	uint32_t ssrc;
	int slot, rc;

	/* Rate-limited per address, an IPv6 one per /64. */
	if (udp->ipv6)
		memcpy(addr, udp->saddr.v6, 8);
	else
		memcpy(addr + 12, &udp->saddr.v4, 4);
	hash = addr_hash(h, addr);
	if (!admit(h, addr, hash, proven, load, now))
		return VIGIL_HS_rate_limited;
	/* A proven one has its cookie checked again: it is what took it
	 * past the others. */
	vigil_hs_source(udp, src);
	*reply_len = VIGIL_HS_RESPONSE_LEN;
	rc = vigil_hs_initiation_read(h->responder, msg, len, src, sizeof(src), load || proven, &init, reply,
				      reply_len);
	if (rc == VIGIL_HS_NEED_COOKIE)
		return VIGIL_HS_cookie_sent;
	if (rc < 0) {
		*reply_len = 0;
		/* Not a handshake, or not for us, before any DH; else the
		 * Noise message did not authenticate. */
		return rc == -EPROTO || rc == -EBADMSG ? VIGIL_HS_malformed : VIGIL_HS_refused;
	}
	slot = vigil_cameras_by_identity(h->cams, init.identity);
	if (slot < 0) {
		vigil_hs_init_wipe(&init);
		return VIGIL_HS_refused;
	}
	cam = &h->cams->cfg->cameras[slot];
	/* A replayed initiation carries a timestamp already seen. */
	if (sodium_memcmp(h->last[slot].identity, init.identity, 32) == 0 &&
	    vigil_hs_timestamp_cmp(init.timestamp, h->last[slot].ts) <= 0) {
		vigil_hs_init_wipe(&init);
		return VIGIL_HS_replayed;
	}
	if (cam->revoked) {
		vigil_hs_init_wipe(&init);
		return VIGIL_HS_revoked;
	}
	/* Its recording is of one codec. */
	if (init.codec != (uint8_t)cam->codec) {
		vigil_hs_init_wipe(&init);
		return VIGIL_HS_codec_mismatch;
	}
	/* A rekey keeps the camera's SSRC and RTX stream; a first handshake
	 * gets fresh ones, and so does a camera that switched RTX on or off,
	 * or started again (its index starts anywhere): its stream is
	 * replaced (vigil_cameras_handshake). */
	same_stream = vigil_cameras_live(h->cams, (unsigned)slot) && cam->has_rtx == init.asks_rtx && !init.fresh;
	ssrc = same_stream ? cam->ssrc : vigil_cameras_fresh_ssrc(h->cams);
	if (init.asks_rtx && same_stream) {
		rtx = (struct vigil_hs_rtx){.ssrc = cam->rtx_ssrc,
					    .payload_type = (uint8_t)cam->rtx_payload_type};
	} else if (init.asks_rtx) {
		unsigned workers = h->cams->table->n_workers;

		/* Not the new SSRC (not in the table yet), and one whose packets
		 * arrive at the worker of the camera's stream: with several
		 * workers, they are not handed on twice. */
		rtx = (struct vigil_hs_rtx){.ssrc = vigil_cameras_fresh_ssrc(h->cams),
					    .payload_type = VIGIL_HS_RTX_PAYLOAD_TYPE};
		while (rtx.ssrc == ssrc || vigil_stream_owner(rtx.ssrc, workers) != vigil_stream_owner(ssrc, workers))
			rtx.ssrc = vigil_cameras_fresh_ssrc(h->cams);
	}
	memcpy(ts, init.timestamp, sizeof(ts));
	*reply_len = VIGIL_HS_RESPONSE_RTX_LEN;
	rc = vigil_hs_response_write(&init, ssrc, h->cams->cfg->rekey_seconds, h->cams->cfg->rekey_packets,
				     init.asks_rtx ? &rtx : NULL, reply, reply_len, &keys);
	vigil_hs_init_wipe(&init); /* done by a write that got that far; not by one refused at once */
	if (rc < 0) {
		*reply_len = 0;
		return VIGIL_HS_refused;
	}
	/* A cluster node answers only once etcd holds the handshake: then no
	 * other node answers the same initiation (nor an older one). The
	 * packet waits for that off this thread (finish answers it). */
	if (h->pub.begin != NULL)
		rc = wait_for_etcd(h, m, udp, (unsigned)slot, cam->identity, ts, addr, hash, ssrc,
				   keys.has_rtx ? &rtx : NULL, &keys, reply, *reply_len);
	else
		rc = vigil_cameras_handshake(h->cams, (unsigned)slot, ssrc, keys.has_rtx ? &rtx : NULL, keys.c2s,
					     keys.c2s + VIGIL_SRTP_MASTER_KEY_LEN, 0);
	vigil_hs_keys_wipe(&keys);
	if (rc < 0) {
		*reply_len = 0;
		return refusal(rc);
	}
	if (h->pub.begin != NULL) {
		*reply_len = 0;
		return HS_WAITS;
	}
	accepted(h, (unsigned)slot, cam->identity, ts, addr, hash, now);
	return VIGIL_HS_accepted;
}

/* SRTP of an SSRC no camera has: its sender is told, from the
 * HandshakePort, at most once a second per address. Unauthenticated, and
 * shorter than the packet that caused it (no amplification): a camera
 * takes it only as a reason to handshake again, at most every
 * VIGIL_HS_UNKNOWN_SESSION_MIN_S. */
static enum vigil_hs_outcome unknown_session(struct vigil_handshakes *h, const uint8_t *rtp, size_t len,
					     const struct vigil_udp *udp, uint8_t *reply, size_t *reply_len,
					     uint64_t now)
{
	uint8_t addr[16] = {0};

	if (len < VIGIL_RTP_HEADER_LEN) /* the worker parsed it as RTP */
		return VIGIL_HS_malformed;
	if (udp->ipv6)
		memcpy(addr, udp->saddr.v6, 8);
	else
		memcpy(addr + 12, &udp->saddr.v4, 4);
	if (!take(&h->unknown_buckets[addr_hash(h, addr) % RATE_BUCKETS], now, NS_PER_S / VIGIL_HS_UNKNOWN_SESSION_PER_S,
		  1))
		return VIGIL_HS_unknown_session_limited;
	vigil_hs_unknown_session_write((uint32_t)rtp[8] << 24 | (uint32_t)rtp[9] << 16 | (uint32_t)rtp[10] << 8 |
					       rtp[11],
				       reply);
	*reply_len = VIGIL_HS_UNKNOWN_SESSION_LEN;
	return VIGIL_HS_unknown_session;
}

/* A burst from one of the rings, answered. */
static void answer(struct vigil_handshakes *h, struct rte_mbuf **pkts, unsigned n, bool proven, uint64_t now)
{
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		uint8_t reply[VIGIL_HS_RESPONSE_RTX_LEN]; /* the longest reply */
		size_t reply_len = 0;
		struct vigil_udp udp;
		enum vigil_hs_outcome out;

		/* The worker parsed it already; only the offsets are
		 * wanted again. Extension headers are not answered. */
		if (vigil_parse_udp(rte_pktmbuf_mtod(m, uint8_t *), m->data_len, &udp) != VIGIL_PARSE_OK ||
		    (udp.ipv6 &&
		     udp.off != udp.l3 + sizeof(struct rte_ipv6_hdr) + sizeof(struct rte_udp_hdr)))
			out = VIGIL_HS_malformed;
		else if (!vigil_neigh_for_us(&h->nb, rte_pktmbuf_mtod(m, uint8_t *), &udp))
			out = VIGIL_HS_not_for_us;
		else if (udp.dport != h->cams->cfg->handshake_port)
			out = unknown_session(h, rte_pktmbuf_mtod_offset(m, uint8_t *, udp.off), udp.len, &udp,
					      reply, &reply_len, now);
		else
			out = handle(h, m, rte_pktmbuf_mtod_offset(m, uint8_t *, udp.off), udp.len, &udp, proven,
				     reply, &reply_len, now);
		if (out != HS_WAITS)
			h->n[out]++;
		/* Load is the HandshakePort's. */
		if (udp.dport == h->cams->cfg->handshake_port && ++h->window_packets > LOAD_PACKETS)
			h->load_until_ns = now + LOAD_HOLD_NS;
		/* Anything past the rate limit that was not a cookie reply
		 * may have cost a DH (a bad payload is found after it). */
		if (out != VIGIL_HS_rate_limited && out != VIGIL_HS_cookie_sent && out != VIGIL_HS_not_for_us &&
		    out != VIGIL_HS_unknown_session && out != VIGIL_HS_unknown_session_limited &&
		    ++h->window_dh > LOAD_DH)
			h->load_until_ns = now + LOAD_HOLD_NS;
		if (out == HS_WAITS)
			continue; /* the packet is the waiting handshake's */
		if (reply_len == 0) {
			rte_pktmbuf_free(m);
			continue;
		}
		send_reply(h, m, &udp, reply, reply_len);
	}
}

/* vigil_handshakes_poll at now (tests set the clock). */
static unsigned poll_at(struct vigil_handshakes *h, uint64_t now)
{
	struct rte_mbuf *pkts[VIGIL_BURST];
	unsigned proven, done = 0, n, tag;
	int rc;

	/* Those etcd answered for, first: their cameras wait for the answer. */
	while (h->pub.done != NULL && h->pub.done(h->pub.arg, &tag, &rc)) {
		finish(h, tag, rc, now);
		done++;
	}
	answer_due(h, now);
	publish_cookie(h, now);
	if (now - h->window_ns >= LOAD_WINDOW_NS) {
		h->window_ns = now;
		h->window_dh = 0;
		h->window_packets = 0;
	}
	if (rte_ring_count(h->from_workers) >= LOAD_QUEUE)
		h->load_until_ns = now + LOAD_HOLD_NS;
	/* The proven first: as many as their ring holds, so a flood of
	 * them from one address that got a cookie cannot hold the loop. */
	for (proven = 0; proven < VIGIL_CONTROL_PROVEN_RING_SIZE &&
			 (n = rte_ring_sc_dequeue_burst(h->proven, (void **)pkts, VIGIL_BURST, NULL)) > 0;
	     proven += n)
		answer(h, pkts, n, true, now);
	for (; done < DRAIN_BUDGET &&
		       (n = rte_ring_sc_dequeue_burst(h->from_workers, (void **)pkts, VIGIL_BURST, NULL)) > 0;
	     done += n)
		answer(h, pkts, n, false, now);
	publish_cookie(h, now); /* the responder may have rotated it */
	return proven + done;
}

unsigned vigil_handshakes_poll(struct vigil_handshakes *h)
{
	return poll_at(h, vigil_now_ns());
}

json_t *vigil_handshakes_stats(const struct vigil_handshakes *h)
{
	static const char *const names[] = {
#define VIGIL_X(name, help) #name,
		VIGIL_FOREACH_HS_OUTCOME(VIGIL_X)
#undef VIGIL_X
	};
	json_t *obj = json_object();
	uint64_t n[VIGIL_HS_MAX];

	/* What became of the cameras' keys is counted where they are kept. */
	memcpy(n, h->n, sizeof(n));
	n[VIGIL_HS_key_extended] = h->cams->keys_extended;
	n[VIGIL_HS_key_expired] = h->cams->keys_expired;
	for (unsigned i = 0; obj != NULL && i < VIGIL_HS_MAX; i++)
		json_object_set_new(obj, names[i], json_integer((json_int_t)n[i]));
	if (obj != NULL)
		json_object_set_new(obj, "waiting", json_integer(h->n_waiting));
	return obj;
}
