/* SPDX-License-Identifier: MIT */
/* The control plane's cameras and handshakes together, as vigild runs
 * them, on an EAL without hugepages: handshake frames in through the ring
 * the workers fill, replies out; reloads, keystore changes and the start
 * with a keystore. handshakes.c is included, for its rate limiter. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_ether.h>
#include <rte_hash.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_udp.h>
#include <sodium.h>

#include "../../control/handshakes.c"
#include "event_types.h"
#include "cameras.h"
#include "keystore.h"
#include "neigh.h"
#include "seal.h"
#include "state.h"
#include "worker.h"

#define KEY44 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKis="

static char dir[1024]; /* test_cameras.XXXXXX in the build directory */
static struct rte_mempool *pool;
static struct vigil_frame_ring frames, *ring = &frames;
static struct rte_ring *to_control, *to_proven, *to_wire;
static uint8_t server_pk[32], door_pk[32], door_sk[32], other_pk[32], other_sk[32];
static uint8_t *master; /* the keystore's key */
static const struct rte_ether_addr port_mac = {{0x02, 0, 0, 0, 0, 1}}, cam_mac = {{0x02, 0, 0, 0, 0, 2}};

/* A running control plane: the file's cameras, the keystore's, handshakes. */
struct env {
	struct vigil_config cfg;
	struct vigil_stream_table *table;
	struct vigil_cameras cams;
	struct vigil_neigh nb;
	struct vigil_handshakes *hs;
	char msg[2048];
};

static void b64(const uint8_t key[32], char out[VIGIL_SEAL_KEY_B64_BYTES])
{
	vigil_seal_key_encode(key, out);
}

/* vigil.conf: door (Identity, H.264) and gst (SDES, SSRC 4242), then extra. */
static void write_conf(const uint8_t door[32], const char *extra)
{
	char path[1100], id[VIGIL_SEAL_KEY_B64_BYTES];
	FILE *f;

	snprintf(path, sizeof(path), "%s/vigil.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	b64(door, id);
	fprintf(f,
		"[Ingest]\nPorts = 5004\nAddress = 198.18.0.1, fd00::1\nHandshakePort = 5006\n"
		"ServerKeyFile = %s/server.sk\nMaxCameras = 8\nKeystore = %s/keystore\nKeystoreKeyFile = "
		"%s/ks.key\n"
		"[Camera]\nName = door\nIdentity = %s\nCodec = H264\n"
		"[Camera]\nName = gst\nSSRC = 4242\nKey = " KEY44 "\nCodec = H264\n%s",
		dir, dir, dir, id, extra);
	fclose(f);
	chmod(path, 0600);
}

/* The state the next start's cameras keep (NULL: none), and its workers
 * (each with the one frame ring). */
static struct vigil_state *start_state;
static unsigned start_workers = 1;
static struct vigil_frame_ring *rings[4] = {&frames, &frames, &frames, &frames};

/* keep: the keystore as the last test left it; else none. */
static struct env *start(bool keep)
{
	static unsigned n;
	struct env *e = calloc(1, sizeof(*e));
	struct vigil_camera_config *stored = NULL;
	unsigned n_stored = 0;
	char path[1100], name[32];
	int rc;

	assert_non_null(e);
	if (!keep)
		unlink("keystore");
	snprintf(path, sizeof(path), "%s/vigil.conf", dir);
	assert_int_equal(vigil_config_load(&e->cfg, path, e->msg, sizeof(e->msg)), 0);
	snprintf(name, sizeof(name), "test_cameras_%u", n++);
	e->table = vigil_stream_table_create(name, e->cfg.max_cameras, start_workers, 1, 1 << 20, pool, rings);
	assert_non_null(e->table);
	e->table->retransmit_hold_ms = e->cfg.retransmit_hold_ms;
	assert_int_equal(vigil_cameras_init(&e->cams, &e->cfg, e->table, start_state, e->msg, sizeof(e->msg)), 0);
	rc = vigil_keystore_load(e->cfg.keystore, master, &stored, &n_stored, e->msg, sizeof(e->msg));
	assert_true(rc == 0 || rc == -ENOENT);
	assert_int_equal(vigil_cameras_keystore(&e->cams, master, stored, n_stored, e->msg, sizeof(e->msg)),
			 0);
	if (stored != NULL)
		sodium_memzero(stored, n_stored * sizeof(*stored));
	free(stored);
	vigil_neigh_init(&e->nb, &e->cfg, &port_mac);
	e->hs =
	    vigil_handshakes_create(&e->cams, &e->nb, to_control, to_proven, to_wire, e->msg, sizeof(e->msg));
	assert_non_null(e->hs);
	return e;
}

static void stop(struct env *e)
{
	vigil_handshakes_free(e->hs);
	vigil_stream_table_free(e->table);
	vigil_cameras_fini(&e->cams);
	vigil_config_free(&e->cfg);
	free(e);
}

/* An Ethernet frame to dst_mac, from cam_mac, src:40000 -> dst:5006 over
 * IPv4 (with options 32-bit words of options) or IPv6, of that TTL. */
static struct rte_mbuf *frame(const struct rte_ether_addr *dst_mac, const char *src, const char *dst,
			      unsigned options, uint8_t ttl, const uint8_t *payload, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint8_t *p, a[16];
	struct rte_ether_hdr *eth;
	struct rte_udp_hdr *uh;
	bool v6 = strchr(dst, ':') != NULL;
	size_t l3 = v6 ? sizeof(struct rte_ipv6_hdr) : sizeof(struct rte_ipv4_hdr) + 4 * options;
	size_t total = sizeof(*eth) + l3 + sizeof(*uh) + len;

	assert_non_null(m);
	p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)total);
	assert_non_null(p);
	memset(p, 0, total);
	eth = (struct rte_ether_hdr *)p;
	eth->dst_addr = *dst_mac;
	eth->src_addr = cam_mac;
	eth->ether_type = rte_cpu_to_be_16(v6 ? RTE_ETHER_TYPE_IPV6 : RTE_ETHER_TYPE_IPV4);
	uh = (struct rte_udp_hdr *)(p + sizeof(*eth) + l3);
	uh->src_port = rte_cpu_to_be_16(40000);
	uh->dst_port = rte_cpu_to_be_16(5006);
	uh->dgram_len = rte_cpu_to_be_16((uint16_t)(sizeof(*uh) + len));
	memcpy(uh + 1, payload, len);
	if (v6) {
		struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(eth + 1);

		ip->vtc_flow = RTE_BE32(6u << 28 | 0xabcde);
		ip->payload_len = uh->dgram_len;
		ip->proto = IPPROTO_UDP;
		ip->hop_limits = ttl;
		assert_int_equal(inet_pton(AF_INET6, src, ip->src_addr), 1);
		assert_int_equal(inet_pton(AF_INET6, dst, ip->dst_addr), 1);
		uh->dgram_cksum = rte_ipv6_udptcp_cksum(ip, uh);
	} else {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);

		ip->version_ihl = (uint8_t)(RTE_IPV4_VHL_DEF + options);
		memset(ip + 1, 1, 4 * options); /* NOPs */
		ip->total_length = rte_cpu_to_be_16((uint16_t)(l3 + sizeof(*uh) + len));
		ip->time_to_live = ttl;
		ip->next_proto_id = IPPROTO_UDP;
		assert_int_equal(inet_pton(AF_INET, src, a), 1);
		memcpy(&ip->src_addr, a, 4);
		assert_int_equal(inet_pton(AF_INET, dst, a), 1);
		memcpy(&ip->dst_addr, a, 4);
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	}
	return m;
}

/* One frame on ring (the workers' shared ring, or the proven one), then
 * a poll at now: its outcome, and its reply (the caller frees it) or
 * NULL. */
static enum vigil_hs_outcome poll_one(struct env *e, struct rte_ring *r, struct rte_mbuf *m,
				      struct rte_mbuf **reply, uint64_t now)
{
	uint64_t before[VIGIL_HS_MAX];
	enum vigil_hs_outcome out = VIGIL_HS_MAX;
	void *got = NULL;

	memcpy(before, e->hs->n, sizeof(before));
	assert_int_equal(rte_ring_enqueue(r, m), 0);
	assert_int_equal(poll_at(e->hs, now), 1);
	for (unsigned i = 0; i < VIGIL_HS_MAX; i++)
		if (e->hs->n[i] != before[i])
			out = (enum vigil_hs_outcome)i;
	if (rte_ring_dequeue(to_wire, &got) != 0)
		got = NULL;
	if (reply != NULL)
		*reply = got;
	else
		rte_pktmbuf_free(got);
	return out;
}

/* The same, not under load. */
static enum vigil_hs_outcome send_one(struct env *e, struct rte_mbuf *m, struct rte_mbuf **reply)
{
	e->hs->load_until_ns = 0; /* these tests are not about load */
	e->hs->window_dh = 0;
	return poll_one(e, to_control, m, reply, vigil_now_ns());
}

static void initiation(struct vigil_hs_initiator *cam, uint8_t codec, uint8_t msg[VIGIL_HS_INITIATION_LEN])
{
	size_t len = VIGIL_HS_INITIATION_LEN;

	assert_int_equal(vigil_hs_initiation_write(cam, codec, msg, &len), 0);
}

/* door's handshake from 198.18.0.2, answered: the keys it got. */
static void handshake(struct env *e, struct vigil_hs_initiator *cam, struct vigil_hs_keys *keys)
{
	uint8_t msg[VIGIL_HS_INITIATION_LEN];
	struct rte_mbuf *reply;
	struct vigil_udp udp;

	initiation(cam, VIGIL_CODEC_H264, msg);
	assert_int_equal(
	    send_one(e, frame(&port_mac, "198.18.0.2", "198.18.0.1", 0, 64, msg, sizeof(msg)), &reply),
	    VIGIL_HS_accepted);
	assert_non_null(reply);
	assert_int_equal(vigil_parse_udp(rte_pktmbuf_mtod(reply, uint8_t *), reply->data_len, &udp),
			 VIGIL_PARSE_OK);
	assert_int_equal(
	    vigil_hs_response_read(cam, rte_pktmbuf_mtod_offset(reply, uint8_t *, udp.off), udp.len, keys),
	    0);
	rte_pktmbuf_free(reply);
}

/* The UDP checksum after the IP header at ip is right. */
static bool udp_sum_ok(uint8_t *ip, bool v6)
{
	struct rte_udp_hdr *uh =
	    (struct rte_udp_hdr *)(ip + (v6 ? sizeof(struct rte_ipv6_hdr) : sizeof(struct rte_ipv4_hdr)));
	uint16_t got = uh->dgram_cksum, want;

	uh->dgram_cksum = 0;
	want = v6 ? rte_ipv6_udptcp_cksum((struct rte_ipv6_hdr *)ip, uh)
		  : rte_ipv4_udptcp_cksum((struct rte_ipv4_hdr *)ip, uh);
	uh->dgram_cksum = got;
	return got == want;
}

/* Only frames sent to the port's MAC and one of our addresses are
 * answered, from the port's MAC, with clean IP headers. */
static void test_for_us_and_reply(void **state)
{
	static const struct rte_ether_addr other = {{0x02, 0, 0, 0, 0, 9}},
					   bcast = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
					   mcast = {{0x01, 0x00, 0x5e, 0, 0, 1}};
	struct env *e = start(false);
	struct vigil_hs_initiator cam;
	struct vigil_hs_keys keys;
	uint8_t msg[VIGIL_HS_INITIATION_LEN];
	struct rte_mbuf *reply;
	struct rte_ether_hdr *eth;
	struct vigil_udp udp;
	uint8_t *p;
	(void)state;

	assert_int_equal(vigil_hs_initiator_init(&cam, door_sk, server_pk), 0);
	initiation(&cam, VIGIL_CODEC_H264, msg);
	assert_int_equal(
	    send_one(e, frame(&other, "198.18.0.2", "198.18.0.1", 0, 64, msg, sizeof(msg)), NULL),
	    VIGIL_HS_not_for_us);
	assert_int_equal(
	    send_one(e, frame(&bcast, "198.18.0.2", "198.18.0.1", 0, 64, msg, sizeof(msg)), NULL),
	    VIGIL_HS_not_for_us);
	assert_int_equal(
	    send_one(e, frame(&mcast, "198.18.0.2", "198.18.0.1", 0, 64, msg, sizeof(msg)), NULL),
	    VIGIL_HS_not_for_us);
	assert_int_equal(
	    send_one(e, frame(&port_mac, "198.18.0.2", "198.18.0.9", 0, 64, msg, sizeof(msg)), NULL),
	    VIGIL_HS_not_for_us);
	assert_int_equal(send_one(e, frame(&port_mac, "fd00::2", "fd00::9", 0, 64, msg, sizeof(msg)), NULL),
			 VIGIL_HS_not_for_us);
	assert_int_equal(e->hs->n[VIGIL_HS_not_for_us], 5);
	assert_int_equal(e->hs->n[VIGIL_HS_accepted], 0);

	/* IPv4 with options and TTL 1: the reply has neither. */
	assert_int_equal(
	    send_one(e, frame(&port_mac, "198.18.0.2", "198.18.0.1", 2, 1, msg, sizeof(msg)), &reply),
	    VIGIL_HS_accepted);
	assert_non_null(reply);
	p = rte_pktmbuf_mtod(reply, uint8_t *);
	eth = (struct rte_ether_hdr *)p;
	assert_true(rte_is_same_ether_addr(&eth->src_addr, &port_mac));
	assert_true(rte_is_same_ether_addr(&eth->dst_addr, &cam_mac));
	assert_int_equal(p[14], 0x45);
	assert_int_equal(p[14 + 8], 64);
	assert_int_equal(vigil_parse_udp(p, reply->data_len, &udp), VIGIL_PARSE_OK); /* checks the IPv4 sum */
	assert_int_equal(udp.off, 14 + 20 + 8);
	assert_int_equal(udp.len, VIGIL_HS_RESPONSE_LEN);
	assert_int_equal(reply->data_len, udp.off + udp.len);
	assert_int_equal(udp.sport, 5006);
	assert_int_equal(udp.dport, 40000);
	assert_true(udp_sum_ok(p + 14, false));
	assert_int_equal(vigil_hs_response_read(&cam, p + udp.off, udp.len, &keys), 0);
	rte_pktmbuf_free(reply);

	/* IPv6 with hop limit 1: the reply's is fresh, its flow label gone. */
	initiation(&cam, VIGIL_CODEC_H264, msg);
	assert_int_equal(send_one(e, frame(&port_mac, "fd00::2", "fd00::1", 0, 1, msg, sizeof(msg)), &reply),
			 VIGIL_HS_accepted);
	assert_non_null(reply);
	p = rte_pktmbuf_mtod(reply, uint8_t *);
	assert_true(rte_is_same_ether_addr(&((struct rte_ether_hdr *)p)->src_addr, &port_mac));
	assert_int_equal(((struct rte_ipv6_hdr *)(p + 14))->hop_limits, 64);
	assert_int_equal(((struct rte_ipv6_hdr *)(p + 14))->vtc_flow, RTE_BE32(6u << 28));
	assert_int_equal(vigil_parse_udp(p, reply->data_len, &udp), VIGIL_PARSE_OK);
	assert_true(udp_sum_ok(p + 14, true));
	assert_int_equal(vigil_hs_response_read(&cam, p + udp.off, udp.len, &keys), 0);
	rte_pktmbuf_free(reply);
	vigil_hs_keys_wipe(&keys);
	vigil_hs_initiator_wipe(&cam);
	stop(e);
}

/* A cluster node's publisher, stood in for: every handshake etcd holds at
 * the next poll; the camera's media this node's or not (owned). */
static struct {
	unsigned tag, pending;
	bool owned;
} fake_pub;

static int fake_begin(void *arg, unsigned slot, const uint8_t ts[VIGIL_HS_TIMESTAMP_LEN], uint32_t ssrc,
		      const struct vigil_hs_rtx *rtx, const uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN],
		      const uint8_t salt[VIGIL_SRTP_MASTER_SALT_LEN], unsigned tag)
{
	(void)arg, (void)slot, (void)ts, (void)ssrc, (void)rtx, (void)key, (void)salt;
	fake_pub.tag = tag;
	fake_pub.pending++;
	return 0;
}

static bool fake_done(void *arg, unsigned *tag, int *rc)
{
	(void)arg;
	if (fake_pub.pending == 0)
		return false;
	fake_pub.pending--;
	*tag = fake_pub.tag;
	*rc = 0;
	return true;
}

static bool fake_owns(void *arg, unsigned slot)
{
	(void)arg, (void)slot;
	return fake_pub.owned;
}

/* The response, read by cam. */
static void read_response(struct vigil_hs_initiator *cam, struct rte_mbuf *reply, struct vigil_hs_keys *keys)
{
	struct vigil_udp udp;

	assert_non_null(reply);
	assert_int_equal(vigil_parse_udp(rte_pktmbuf_mtod(reply, uint8_t *), reply->data_len, &udp),
			 VIGIL_PARSE_OK);
	assert_int_equal(
	    vigil_hs_response_read(cam, rte_pktmbuf_mtod_offset(reply, uint8_t *, udp.off), udp.len, keys), 0);
	rte_pktmbuf_free(reply);
}

/* Behind ECMP a camera's handshake may reach a node its media do not,
 * and the camera switches keys at the response: a node that does not own
 * the camera applies the handshake once etcd holds it but answers only
 * VIGIL_HS_ANSWER_DELAY_MS later, when the owner has it from its watch
 * (the ECMP test's camera lost the rest of a GOP to auth_failed on its
 * owner without this). The owner answers at once. */
static void test_answer_after_owner(void **state)
{
	const uint64_t delay = VIGIL_HS_ANSWER_DELAY_MS * 1000000ull;
	uint8_t msg[VIGIL_HS_INITIATION_LEN];
	struct vigil_hs_initiator cam;
	struct vigil_hs_keys keys;
	struct rte_mbuf *reply;
	struct env *e;
	void *got = NULL;
	uint64_t now;
	(void)state;

	write_conf(door_pk, "");
	e = start(false);
	vigil_handshakes_publish(e->hs, &(struct vigil_hs_publisher){.begin = fake_begin, .done = fake_done,
								     .owns = fake_owns});
	assert_int_equal(vigil_hs_initiator_init(&cam, door_sk, server_pk), 0);

	/* Not the owner: applied when etcd holds it, answered later. */
	fake_pub.owned = false;
	initiation(&cam, VIGIL_CODEC_H264, msg);
	e->hs->load_until_ns = 0;
	now = vigil_now_ns();
	assert_int_equal(poll_one(e, to_control, frame(&port_mac, "198.18.0.2", "198.18.0.1", 0, 64, msg, sizeof(msg)),
				  &reply, now),
			 VIGIL_HS_MAX); /* waits for etcd */
	assert_null(reply);
	assert_int_equal(poll_at(e->hs, now), 1);
	assert_int_equal(e->hs->n[VIGIL_HS_accepted], 1);
	assert_int_not_equal(e->cfg.cameras[0].ssrc, 0); /* applied */
	assert_int_equal(rte_ring_count(to_wire), 0);
	assert_int_equal(poll_at(e->hs, now + delay - 1), 0);
	assert_int_equal(rte_ring_count(to_wire), 0);
	assert_int_equal(e->hs->n_waiting, 1);
	poll_at(e->hs, now + delay);
	assert_int_equal(rte_ring_dequeue(to_wire, &got), 0);
	read_response(&cam, got, &keys);
	assert_int_equal(keys.ssrc, e->cfg.cameras[0].ssrc);
	assert_int_equal(e->hs->n_waiting, 0);
	vigil_hs_keys_wipe(&keys);

	/* The owner: answered as soon as etcd holds it. */
	fake_pub.owned = true;
	usleep(20000); /* a timestamp past the grain of the last one's */
	initiation(&cam, VIGIL_CODEC_H264, msg);
	e->hs->load_until_ns = 0;
	now = vigil_now_ns();
	assert_int_equal(poll_one(e, to_control, frame(&port_mac, "198.18.0.2", "198.18.0.1", 0, 64, msg, sizeof(msg)),
				  &reply, now),
			 VIGIL_HS_MAX);
	assert_null(reply);
	assert_int_equal(poll_at(e->hs, now), 1);
	assert_int_equal(rte_ring_dequeue(to_wire, &got), 0);
	read_response(&cam, got, &keys);
	assert_int_equal(e->hs->n[VIGIL_HS_accepted], 2);
	assert_int_equal(e->hs->n_waiting, 0);
	vigil_hs_keys_wipe(&keys);
	vigil_hs_initiator_wipe(&cam);
	stop(e);
}

/* door is H.264: an initiation announcing H.265 is refused, counted. */
static void test_codec_mismatch(void **state)
{
	struct env *e = start(false);
	struct vigil_hs_initiator cam;
	uint8_t msg[VIGIL_HS_INITIATION_LEN];
	(void)state;

	assert_int_equal(vigil_hs_initiator_init(&cam, door_sk, server_pk), 0);
	initiation(&cam, VIGIL_CODEC_H265, msg);
	assert_int_equal(
	    send_one(e, frame(&port_mac, "198.18.0.2", "198.18.0.1", 0, 64, msg, sizeof(msg)), NULL),
	    VIGIL_HS_codec_mismatch);
	assert_false(vigil_cameras_live(&e->cams, 0));
	vigil_hs_initiator_wipe(&cam);
	stop(e);
}

/* The bucket of a source, as rate_ok picks it. */
static unsigned bucket_of(const struct vigil_handshakes *h, const uint8_t addr[16])
{
	return (unsigned)(addr_hash(h, addr) % RATE_BUCKETS);
}

/* A bucket taken over by another address keeps its level; an IPv6
 * source is limited per /64. */
static void test_rate_limit(void **state)
{
	struct env *e = start(false);
	uint8_t a[16] = {0}, b[16] = {0}, junk[VIGIL_HS_INITIATION_LEN] = {VIGIL_HS_TYPE_INITIATION};
	uint64_t now = 1000000000u;
	(void)state;

	a[12] = 198, a[13] = 51, a[14] = 100, a[15] = 1;
	memcpy(b, a, 16);
	for (unsigned i = 2; bucket_of(e->hs, b) != bucket_of(e->hs, a); i++)
		b[14] = (uint8_t)(i >> 8), b[15] = (uint8_t)i;
	for (unsigned i = 0; i < VIGIL_HS_RATE_BURST; i++)
		assert_true(rate_ok(e->hs->buckets, addr_hash(e->hs, a), now));
	assert_false(rate_ok(e->hs->buckets, addr_hash(e->hs, a), now));
	/* no fresh burst for the newcomer */
	assert_false(rate_ok(e->hs->buckets, addr_hash(e->hs, b), now));
	now += 1000000000u / VIGIL_HS_RATE_PER_S;
	assert_true(rate_ok(e->hs->buckets, addr_hash(e->hs, b), now));
	assert_false(rate_ok(e->hs->buckets, addr_hash(e->hs, a), now));

	/* Junk (a bad mac1) from fd00::1:a, then from fd00::1:b, same /64. */
	for (unsigned i = 0; i < VIGIL_HS_RATE_BURST; i++)
		assert_int_equal(
		    send_one(e, frame(&port_mac, "fd00::1:a", "fd00::1", 0, 64, junk, sizeof(junk)), NULL),
		    VIGIL_HS_malformed);
	assert_int_equal(
	    send_one(e, frame(&port_mac, "fd00::1:b", "fd00::1", 0, 64, junk, sizeof(junk)), NULL),
	    VIGIL_HS_rate_limited);
	assert_int_equal(
	    send_one(e, frame(&port_mac, "fd00:0:0:1::a", "fd00::1", 0, 64, junk, sizeof(junk)), NULL),
	    VIGIL_HS_malformed); /* another /64 */
	stop(e);
}

/* The replay timestamp belongs to an Identity: a slot given another one
 * takes that one's first handshake, whatever the clock said before. */
static void test_identity_change_resets_replay(void **state)
{
	struct env *e;
	struct vigil_hs_initiator door, other;
	struct vigil_hs_keys keys;
	uint8_t old[VIGIL_HS_INITIATION_LEN];
	(void)state;

	write_conf(door_pk, "");
	e = start(false);
	assert_int_equal(vigil_hs_initiator_init(&door, door_sk, server_pk), 0);
	door.last_tai_s += 3600; /* door's clock runs an hour ahead */
	initiation(&door, VIGIL_CODEC_H264, old);
	handshake(e, &door, &keys);
	assert_true(vigil_cameras_live(&e->cams, 0));
	assert_int_equal(
	    send_one(e, frame(&port_mac, "198.18.0.2", "198.18.0.1", 0, 64, old, sizeof(old)), NULL),
	    VIGIL_HS_replayed);

	write_conf(other_pk, "");
	assert_int_equal(vigil_cameras_reload(&e->cams, e->msg, sizeof(e->msg)), 0);
	assert_false(vigil_cameras_live(&e->cams, 0));
	assert_int_equal(vigil_hs_initiator_init(&other, other_sk, server_pk), 0);
	handshake(e, &other, &keys);
	assert_true(vigil_cameras_live(&e->cams, 0));
	vigil_hs_keys_wipe(&keys);
	vigil_hs_initiator_wipe(&door);
	vigil_hs_initiator_wipe(&other);
	stop(e);
	write_conf(door_pk, "");
}

/* A reload applies PayloadTypes and retention to a live Identity camera,
 * which keeps its handshake's SSRC and key. */
static void test_reload_identity_settings(void **state)
{
	struct env *e;
	struct vigil_hs_initiator door;
	struct vigil_hs_keys keys;
	struct vigil_stream *s;
	char path[1100], id[VIGIL_SEAL_KEY_B64_BYTES];
	FILE *f;
	(void)state;

	write_conf(door_pk, "");
	e = start(false);
	assert_int_equal(vigil_hs_initiator_init(&door, door_sk, server_pk), 0);
	handshake(e, &door, &keys);
	s = e->table->slots[0];
	assert_non_null(s);
	assert_true(vigil_payload_type_ok(s->payload_types, 96));

	/* door again, with PayloadTypes and RetainHours (gst unchanged). */
	snprintf(path, sizeof(path), "%s/vigil.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	b64(door_pk, id);
	fprintf(f,
		"[Ingest]\nPorts = 5004\nAddress = 198.18.0.1, fd00::1\nHandshakePort = 5006\n"
		"ServerKeyFile = %s/server.sk\nMaxCameras = 8\nKeystore = %s/keystore\nKeystoreKeyFile = "
		"%s/ks.key\n"
		"[Camera]\nName = door\nIdentity = %s\nCodec = H264\nPayloadTypes = 100\nRetainHours = 5\n"
		"[Camera]\nName = gst\nSSRC = 4242\nKey = " KEY44 "\nCodec = H264\n",
		dir, dir, dir, id);
	fclose(f);
	assert_int_equal(vigil_cameras_reload(&e->cams, e->msg, sizeof(e->msg)), 0);
	assert_ptr_equal(e->table->slots[0], s); /* still live, the same stream */
	assert_false(vigil_payload_type_ok(s->payload_types, 96));
	assert_true(vigil_payload_type_ok(s->payload_types, 100));
	assert_int_equal(e->cfg.cameras[0].retain_hours, 5);
	assert_int_equal(e->cfg.cameras[0].ssrc, keys.ssrc);
	assert_memory_equal(e->cfg.cameras[0].master_key, keys.c2s, VIGIL_SRTP_MASTER_KEY_LEN);
	assert_true(e->cfg.cameras[0].has_identity);
	vigil_hs_keys_wipe(&keys);
	vigil_hs_initiator_wipe(&door);
	stop(e);
	write_conf(door_pk, "");
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A camera that never reads a response keeps sending under its old key
 * while it retries: that key lasts KeyGraceSeconds from when it was first
 * replaced, however many unused keys replace the current one after. */
static void test_grace_not_extended(void **state)
{
	struct env *e = start(false);
	uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN] = {1, 2, 3}, salt[VIGIL_SRTP_MASTER_SALT_LEN] = {4};
	struct vigil_stream_key *first;
	struct vigil_stream *s;
	uint64_t until, t0;
	uint32_t ssrc;
	(void)state;

	e->cfg.key_grace_ms = 300;
	ssrc = vigil_cameras_fresh_ssrc(&e->cams);
	assert_int_equal(vigil_cameras_handshake(&e->cams, 0, ssrc, NULL, key, salt, 0), 0);
	s = e->table->slots[0];
	first = s->key;
	s->ctr.v[VIGIL_CTR_decrypted] += 10; /* the first key is in use */
	key[0]++;
	t0 = mono_ns();
	assert_int_equal(vigil_cameras_handshake(&e->cams, 0, ssrc, NULL, key, salt, 0), 0);
	assert_ptr_equal(s->prev_key, first);
	until = e->cams.slots[0].grace_until_ns;
	assert_true(until >= t0 + 300000000u);
	/* Retries every 50 ms, none of their responses read. */
	while (mono_ns() < t0 + 600000000u) {
		usleep(50000);
		key[0]++;
		assert_int_equal(vigil_cameras_handshake(&e->cams, 0, ssrc, NULL, key, salt, 0), 0);
		vigil_cameras_tick(&e->cams, false);
		if (mono_ns() < until)
			assert_ptr_equal(s->prev_key, first);
	}
	assert_null(s->prev_key);
	assert_true(e->cams.slots[0].grace_until_ns == 0);
	stop(e);
}

/* The UDP payload of a reply, and its length. */
static const uint8_t *payload_of(struct rte_mbuf *m, size_t *len)
{
	struct vigil_udp udp;

	assert_int_equal(vigil_parse_udp(rte_pktmbuf_mtod(m, uint8_t *), m->data_len, &udp), VIGIL_PARSE_OK);
	*len = udp.len;
	return rte_pktmbuf_mtod_offset(m, uint8_t *, udp.off);
}

/* door, under load, from 198.18.0.2: an initiation without a cookie gets a
 * cookie reply, which door keeps for its next initiation's mac2. */
static void get_cookie(struct env *e, struct vigil_hs_initiator *door, uint64_t now)
{
	uint8_t msg[VIGIL_HS_INITIATION_LEN];
	struct rte_mbuf *reply;
	const uint8_t *p;
	size_t len;

	initiation(door, VIGIL_CODEC_H264, msg);
	assert_int_equal(poll_one(e, e->hs->from_workers,
				  frame(&port_mac, "198.18.0.2", "198.18.0.1", 0, 64, msg, sizeof(msg)),
				  &reply, now),
			 VIGIL_HS_cookie_sent);
	assert_non_null(reply);
	p = payload_of(reply, &len);
	assert_int_equal(vigil_hs_cookie_read(door, p, len), 0);
	rte_pktmbuf_free(reply);
}

/* The workers take as proven what the responder does: an initiation whose
 * mac2 is the MAC of the cookie the server gave its address and port,
 * under the secret published to them. Any byte changed, another source, a
 * secret being written or rotated since: not proven. */
static void test_cookie_proven(void **state)
{
	struct env *e = start(false);
	const struct vigil_hs_cookie *pub = vigil_handshakes_cookie(e->hs);
	struct vigil_hs_initiator door;
	/* 198.18.0.2, port 40000: frame()'s source */
	uint8_t src[VIGIL_HS_SOURCE_LEN] = {[12] = 198, 18, 0, 2, 0x9c, 0x40}, other[VIGIL_HS_SOURCE_LEN];
	uint8_t msg[VIGIL_HS_INITIATION_LEN];
	(void)state;

	assert_int_equal(vigil_hs_initiator_init(&door, door_sk, server_pk), 0);
	initiation(&door, VIGIL_CODEC_H264, msg);
	assert_false(vigil_hs_cookie_proven(pub, msg, sizeof(msg), src)); /* mac2 zero */
	e->hs->load_until_ns = UINT64_MAX;
	get_cookie(e, &door, vigil_now_ns());
	initiation(&door, VIGIL_CODEC_H264, msg);
	assert_true(vigil_hs_cookie_proven(pub, msg, sizeof(msg), src));
	assert_false(vigil_hs_cookie_proven(pub, msg, sizeof(msg) - 1, src));
	for (unsigned i = 0; i < sizeof(msg); i++) {
		msg[i] ^= 0x20;
		assert_false(vigil_hs_cookie_proven(pub, msg, sizeof(msg), src));
		msg[i] ^= 0x20;
	}
	for (unsigned i = 0; i < sizeof(src); i++) {
		memcpy(other, src, sizeof(other));
		other[i] ^= 0x20;
		assert_false(vigil_hs_cookie_proven(pub, msg, sizeof(msg), other));
	}
	e->hs->cookie->seq++; /* as vigil_hs_cookie_publish does while it writes */
	assert_false(vigil_hs_cookie_proven(pub, msg, sizeof(msg), src));
	e->hs->cookie->seq--;
	assert_true(vigil_hs_cookie_proven(pub, msg, sizeof(msg), src));
	/* The secret's time is up: the next poll rotates and publishes it. */
	e->hs->responder->cookie_birth_ns -= (uint64_t)VIGIL_HS_COOKIE_SECRET_MAX_AGE_S * NS_PER_S;
	assert_int_equal(vigil_handshakes_poll(e->hs), 0);
	assert_false(vigil_hs_cookie_proven(pub, msg, sizeof(msg), src));
	assert_int_equal(poll_one(e, to_proven,
				  frame(&port_mac, "198.18.0.2", "198.18.0.1", 0, 64, msg, sizeof(msg)), NULL,
				  vigil_now_ns()),
			 VIGIL_HS_cookie_sent);
	vigil_hs_initiator_wipe(&door);
	stop(e);
}

/* n copies of a forged initiation (valid mac1, garbage mac2, an identity
 * of no camera) from addr, onto r. */
static void forge(struct rte_ring *r, const char *addr, unsigned n)
{
	struct vigil_hs_initiator *forger = malloc(sizeof(*forger));
	uint8_t sk[32], msg[VIGIL_HS_INITIATION_LEN];

	assert_non_null(forger);
	randombytes_buf(sk, sizeof(sk));
	assert_int_equal(vigil_hs_initiator_init(forger, sk, server_pk), 0);
	initiation(forger, VIGIL_CODEC_H264, msg);
	randombytes_buf(msg + VIGIL_HS_INITIATION_MAC2_OFF, VIGIL_HS_MAC_LEN);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(
		    rte_ring_enqueue(r, frame(&port_mac, addr, "198.18.0.1", 0, 64, msg, sizeof(msg))), 0);
	vigil_hs_initiator_wipe(forger);
	free(forger);
}

/* Frees what the control plane sent; how many. */
static unsigned drain_wire(void)
{
	void *m;
	unsigned n = 0;

	for (; rte_ring_dequeue(to_wire, &m) == 0; n++)
		rte_pktmbuf_free(m);
	return n;
}

/* Under a flood of forged initiations from door's own address (the worst a
 * spoofer can do), door's initiation that proves its source by a cookie
 * comes on a ring of its own: the poll takes it first and answers it with
 * its keys, although the flood has emptied the address's shared bucket.
 * Of the flood, a poll takes DRAIN_BUDGET, the next one the rest; once
 * door is known, its address keeps VIGIL_HS_RATE_BURST cookie replies of
 * its own. One clock for all: no bucket refills. */
static void test_proven_first(void **state)
{
	struct env *e = start(false);
	struct rte_ring *shared = e->hs->from_workers;
	struct rte_ring *flood = rte_ring_create("test_cameras_flood", 2048, 0, 0);
	struct vigil_hs_initiator door;
	struct vigil_hs_keys keys;
	uint8_t msg[VIGIL_HS_INITIATION_LEN];
	uint64_t now = vigil_now_ns(), before[VIGIL_HS_MAX];
	struct rte_mbuf *reply = NULL;
	const uint8_t *p;
	size_t len;
	(void)state;

	assert_non_null(flood);
	assert_int_equal(vigil_hs_initiator_init(&door, door_sk, server_pk), 0);
	e->hs->load_until_ns = UINT64_MAX;
	e->hs->from_workers = flood;
	get_cookie(e, &door, now); /* door's address: 4 of its 5 tokens left */
	forge(flood, "198.18.0.2", 20);
	assert_int_equal(poll_at(e->hs, now), 20);
	assert_int_equal(e->hs->n[VIGIL_HS_cookie_sent], 1 + 4);
	assert_int_equal(e->hs->n[VIGIL_HS_rate_limited], 16);
	assert_int_equal(drain_wire(), 4);

	memcpy(before, e->hs->n, sizeof(before));
	forge(flood, "198.18.0.2", DRAIN_BUDGET + 64);
	initiation(&door, VIGIL_CODEC_H264, msg);
	assert_int_equal(rte_ring_enqueue(to_proven, frame(&port_mac, "198.18.0.2", "198.18.0.1", 0, 64, msg,
							   sizeof(msg))),
			 0);
	assert_int_equal(poll_at(e->hs, now), 1 + DRAIN_BUDGET);
	assert_int_equal(rte_ring_count(flood), 64);
	assert_int_equal(e->hs->n[VIGIL_HS_accepted] - before[VIGIL_HS_accepted], 1);
	assert_int_equal(rte_ring_dequeue(to_wire, (void **)&reply), 0);
	p = payload_of(reply, &len);
	assert_int_equal(vigil_hs_response_read(&door, p, len, &keys), 0); /* door's, first */
	rte_pktmbuf_free(reply);
	assert_true(vigil_cameras_live(&e->cams, 0));
	assert_int_equal(e->hs->n[VIGIL_HS_cookie_sent] - before[VIGIL_HS_cookie_sent], VIGIL_HS_RATE_BURST);
	assert_int_equal(e->hs->n[VIGIL_HS_rate_limited] - before[VIGIL_HS_rate_limited],
			 DRAIN_BUDGET - VIGIL_HS_RATE_BURST);
	assert_int_equal(poll_at(e->hs, now), 64);
	assert_int_equal(poll_at(e->hs, now), 0);
	assert_int_equal(e->hs->n[VIGIL_HS_rate_limited] - before[VIGIL_HS_rate_limited],
			 DRAIN_BUDGET + 64 - VIGIL_HS_RATE_BURST);
	drain_wire();
	e->hs->from_workers = shared;
	rte_ring_free(flood);
	vigil_hs_keys_wipe(&keys);
	vigil_hs_initiator_wipe(&door);
	stop(e);
}

/* The worker's half: door's initiation that proves its source goes on the
 * proven ring, counted as handshake_proven; one with a garbage mac2, or
 * none, on the shared ring; when the proven ring is full, control_full.
 * Then the control plane answers door's first. */
static void test_worker_rings(void **state)
{
	static struct vigil_worker w;
	struct env *e = start(false);
	struct vigil_hs_initiator door;
	uint8_t msg[3][VIGIL_HS_INITIATION_LEN];
	struct rte_mbuf *pkts[3], *reply = NULL;
	uint64_t before[VIGIL_HS_MAX];
	struct vigil_hs_keys keys;
	const uint8_t *p;
	size_t len;
	void *m;
	(void)state;

	w = (struct vigil_worker){.cfg = &e->cfg,
				  .streams = e->table,
				  .frames = &ring,
				  .n_recorders = 1,
				  .tsc_hz = rte_get_tsc_hz(),
				  .to_control = to_control,
				  .to_control_proven = to_proven,
				  .hs_cookie = vigil_handshakes_cookie(e->hs)};
	assert_int_equal(vigil_hs_initiator_init(&door, door_sk, server_pk), 0);
	initiation(&door, VIGIL_CODEC_H264, msg[2]); /* no cookie yet: mac2 zero */
	e->hs->load_until_ns = UINT64_MAX;
	get_cookie(e, &door, vigil_now_ns());
	initiation(&door, VIGIL_CODEC_H264, msg[0]);
	memcpy(msg[1], msg[0], sizeof(msg[1]));
	msg[1][VIGIL_HS_INITIATION_MAC2_OFF] ^= 1;
	for (unsigned i = 0; i < 3; i++)
		pkts[i] = frame(&port_mac, "198.18.0.2", "198.18.0.1", 0, 64, msg[i], sizeof(msg[i]));
	vigil_worker_process(&w, pkts, 3);
	for (unsigned i = 0; i < 3; i++)
		assert_null(pkts[i]); /* the control plane's */
	assert_int_equal(w.ctr.v[VIGIL_CTR_handshake], 3);
	assert_int_equal(w.ctr.v[VIGIL_CTR_handshake_proven], 1);
	assert_int_equal(rte_ring_count(to_proven), 1);
	assert_int_equal(rte_ring_count(to_control), 2);

	memcpy(before, e->hs->n, sizeof(before));
	assert_int_equal(vigil_handshakes_poll(e->hs), 3);
	assert_int_equal(e->hs->n[VIGIL_HS_accepted] - before[VIGIL_HS_accepted], 1);
	assert_int_equal(e->hs->n[VIGIL_HS_cookie_sent] - before[VIGIL_HS_cookie_sent], 2);
	assert_int_equal(rte_ring_dequeue(to_wire, (void **)&reply), 0);
	p = payload_of(reply, &len);
	assert_int_equal(vigil_hs_response_read(&door, p, len, &keys), 0);
	rte_pktmbuf_free(reply);
	assert_int_equal(drain_wire(), 2);

	/* The proven ring full: door's next proven initiation is dropped. */
	do
		m = frame(&port_mac, "198.18.0.9", "198.18.0.1", 0, 64, msg[1], sizeof(msg[1]));
	while (rte_ring_enqueue(to_proven, m) == 0);
	rte_pktmbuf_free(m); /* the one that did not fit */
	initiation(&door, VIGIL_CODEC_H264, msg[0]);
	pkts[0] = frame(&port_mac, "198.18.0.2", "198.18.0.1", 0, 64, msg[0], sizeof(msg[0]));
	vigil_worker_process(&w, pkts, 1);
	assert_non_null(pkts[0]);
	rte_pktmbuf_free(pkts[0]);
	assert_int_equal(w.ctr.v[VIGIL_CTR_control_full], 1);
	assert_int_equal(w.ctr.v[VIGIL_CTR_handshake_proven], 1);
	while (rte_ring_dequeue(to_proven, &m) == 0)
		rte_pktmbuf_free(m);
	vigil_hs_keys_wipe(&keys);
	vigil_hs_initiator_wipe(&door);
	stop(e);
}

/* An SRTP packet from src:40000 to 198.18.0.1:5004 of an SSRC no camera
 * has (what a handshake camera sends once vigild restarted). */
static struct rte_mbuf *unknown_srtp(const char *src, uint32_t ssrc)
{
	uint8_t rtp[12 + 40] = {0x80, 96, 0, 1, 0, 0, 0, 0, (uint8_t)(ssrc >> 24), (uint8_t)(ssrc >> 16),
				(uint8_t)(ssrc >> 8), (uint8_t)ssrc};
	struct rte_mbuf *m = frame(&port_mac, src, "198.18.0.1", 0, 64, rtp, sizeof(rtp));
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, sizeof(struct rte_ether_hdr));
	struct rte_udp_hdr *uh = (struct rte_udp_hdr *)(ip + 1);

	uh->dst_port = rte_cpu_to_be_16(5004);
	uh->dgram_cksum = 0;
	uh->dgram_cksum = rte_ipv4_udptcp_cksum(ip, uh);
	return m;
}

/* After a restart a handshake camera's SRTP has an SSRC vigild does not
 * know: a worker passes one such packet per 10 ms to the control plane
 * (each counted unknown_ssrc), which tells its sender, from the
 * HandshakePort, once a second per address, in 8 bytes (type 4). */
static void test_unknown_session(void **state)
{
	static struct vigil_worker w;
	struct env *e = start(false);
	struct rte_mbuf *pkts[2], *reply;
	struct vigil_udp udp;
	const uint8_t *p;
	uint32_t ssrc;
	size_t len;
	(void)state;

	w = (struct vigil_worker){.cfg = &e->cfg,
				  .streams = e->table,
				  .frames = &ring,
				  .n_recorders = 1,
				  .tsc_hz = rte_get_tsc_hz(),
				  .to_control = to_control,
				  .to_control_proven = to_proven,
				  .hs_cookie = vigil_handshakes_cookie(e->hs)};
	pkts[0] = unknown_srtp("198.18.0.2", 0xdeadbeef);
	pkts[1] = unknown_srtp("198.18.0.2", 0xdeadbeef);
	vigil_worker_process(&w, pkts, 2);
	assert_int_equal(w.ctr.v[VIGIL_CTR_unknown_ssrc], 2);
	assert_int_equal(w.ctr.v[VIGIL_CTR_handshake], 0);
	assert_int_equal(rte_ring_count(to_control), 1); /* one per 10 ms */
	assert_true((pkts[0] == NULL) != (pkts[1] == NULL));
	rte_pktmbuf_free(pkts[0] != NULL ? pkts[0] : pkts[1]);

	assert_int_equal(vigil_handshakes_poll(e->hs), 1);
	assert_int_equal(e->hs->n[VIGIL_HS_unknown_session], 1);
	assert_int_equal(rte_ring_dequeue(to_wire, (void **)&reply), 0);
	assert_int_equal(vigil_parse_udp(rte_pktmbuf_mtod(reply, uint8_t *), reply->data_len, &udp), VIGIL_PARSE_OK);
	assert_int_equal(udp.sport, 5006);
	assert_int_equal(udp.dport, 40000);
	assert_true(udp_sum_ok(rte_pktmbuf_mtod_offset(reply, uint8_t *, udp.l3), false));
	p = payload_of(reply, &len);
	assert_int_equal(len, VIGIL_HS_UNKNOWN_SESSION_LEN);
	assert_int_equal(vigil_hs_unknown_session_read(p, len, &ssrc), 0);
	assert_int_equal(ssrc, 0xdeadbeef);
	rte_pktmbuf_free(reply);
	/* the same address again within the second: not told; another is */
	assert_int_equal(poll_one(e, to_control, unknown_srtp("198.18.0.2", 0xdeadbeef), &reply, vigil_now_ns()),
			 VIGIL_HS_unknown_session_limited);
	assert_null(reply);
	assert_int_equal(poll_one(e, to_control, unknown_srtp("198.18.0.3", 7), &reply, vigil_now_ns()),
			 VIGIL_HS_unknown_session);
	assert_non_null(reply);
	rte_pktmbuf_free(reply);
	/* none of it is handshake load, nor a DH */
	assert_int_equal(e->hs->window_dh, 0);
	assert_int_equal(e->hs->window_packets, 0);
	stop(e);
}

/* Under load, once the cookie budget is spent (by a flood from spoofed
 * addresses), an initiation from an address of no camera gets no cookie;
 * from the address door's handshake came from, it does: VIGIL_HS_RATE_BURST
 * at once, then VIGIL_HS_RATE_PER_S a second. */
static void test_cookie_budget(void **state)
{
	struct env *e = start(false);
	struct vigil_hs_initiator door;
	struct vigil_hs_keys keys;
	uint8_t msg[VIGIL_HS_INITIATION_LEN];
	uint64_t now;
	(void)state;

	assert_int_equal(vigil_hs_initiator_init(&door, door_sk, server_pk), 0);
	handshake(e, &door, &keys); /* from 198.18.0.2, not under load */
	now = vigil_now_ns();
	e->hs->load_until_ns = UINT64_MAX;
	e->hs->cookie_budget = (struct bucket){.last_ns = now, .tokens = 0};
	initiation(&door, VIGIL_CODEC_H264, msg);
	assert_int_equal(poll_one(e, to_control,
				  frame(&port_mac, "198.18.0.77", "198.18.0.1", 0, 64, msg, sizeof(msg)),
				  NULL, now),
			 VIGIL_HS_rate_limited);
	now += NS_PER_S / COOKIE_BUDGET_PER_S; /* one more in the budget */
	assert_int_equal(poll_one(e, to_control,
				  frame(&port_mac, "198.18.0.77", "198.18.0.1", 0, 64, msg, sizeof(msg)),
				  NULL, now),
			 VIGIL_HS_cookie_sent);
	for (unsigned i = 0; i < VIGIL_HS_RATE_BURST; i++)
		assert_int_equal(
		    poll_one(e, to_control,
			     frame(&port_mac, "198.18.0.2", "198.18.0.1", 0, 64, msg, sizeof(msg)), NULL,
			     now),
		    VIGIL_HS_cookie_sent);
	assert_int_equal(poll_one(e, to_control,
				  frame(&port_mac, "198.18.0.2", "198.18.0.1", 0, 64, msg, sizeof(msg)), NULL,
				  now),
			 VIGIL_HS_rate_limited);
	now += NS_PER_S / VIGIL_HS_RATE_PER_S;
	e->hs->cookie_budget = (struct bucket){.last_ns = now, .tokens = 0};
	assert_int_equal(poll_one(e, to_control,
				  frame(&port_mac, "198.18.0.2", "198.18.0.1", 0, 64, msg, sizeof(msg)), NULL,
				  now),
			 VIGIL_HS_cookie_sent);
	assert_int_equal(poll_one(e, to_control,
				  frame(&port_mac, "198.18.0.77", "198.18.0.1", 0, 64, msg, sizeof(msg)),
				  NULL, now),
			 VIGIL_HS_rate_limited);
	vigil_hs_keys_wipe(&keys);
	vigil_hs_initiator_wipe(&door);
	stop(e);
}

/* What cameras.on_event told (events.c's listener, in vigild). */
struct key_told {
	unsigned rotated, expired;
	char by[16];
};

static void tell(void *arg, unsigned slot, unsigned type, const char *by)
{
	struct key_told *t = arg;

	assert_int_equal(slot, 0);
	if (type == VIGIL_EVENT_key_rotated) {
		t->rotated++;
		snprintf(t->by, sizeof(t->by), "%s", by);
	} else {
		assert_int_equal(type, VIGIL_EVENT_key_expired);
		assert_null(by);
		t->expired++;
	}
}

/* An Identity camera's key ends 1.5 x RekeySeconds (or RekeyPackets) after
 * its handshake. One that reaches that bound while the HandshakePort is
 * under load is kept, counted once, until 2.5 x at most, load or not; a
 * handshake starts the bound afresh. */
static void test_key_extension(void **state)
{
	struct env *e = start(false);
	uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN] = {1}, salt[VIGIL_SRTP_MASTER_SALT_LEN] = {2};
	uint64_t period = (uint64_t)e->cfg.rekey_seconds * NS_PER_S, packets = e->cfg.rekey_packets;
	uint32_t ssrc = vigil_cameras_fresh_ssrc(&e->cams);
	struct vigil_cameras *c = &e->cams;
	struct key_told told = {0};
	(void)state;

	c->on_event = tell; /* each handshake a key_rotated, each spent key a key_expired */
	c->on_event_arg = &told;
	assert_int_equal(vigil_cameras_handshake(c, 0, ssrc, NULL, key, salt, 0), 0);
	c->slots[0].key_since_ns = mono_ns() - period - period / 2 + NS_PER_S;
	vigil_cameras_tick(c, false);
	assert_true(vigil_cameras_live(c, 0));
	c->slots[0].key_since_ns -= 2 * NS_PER_S; /* past 1.5 x, no load: refused */
	vigil_cameras_tick(c, false);
	assert_false(vigil_cameras_live(c, 0));
	assert_int_equal(c->keys_expired, 1);
	assert_int_equal(c->keys_extended, 0);

	ssrc = vigil_cameras_fresh_ssrc(c); /* the camera's next handshake */
	assert_int_equal(vigil_cameras_handshake(c, 0, ssrc, NULL, key, salt, 0), 0);
	c->slots[0].key_since_ns = mono_ns() - period - period / 2 - NS_PER_S;
	vigil_cameras_tick(c, true); /* under load: kept */
	vigil_cameras_tick(c, true);
	vigil_cameras_tick(c, false); /* kept while the extension lasts, load or not */
	assert_true(vigil_cameras_live(c, 0));
	assert_int_equal(c->keys_extended, 1);
	c->slots[0].key_since_ns = mono_ns() - 2 * period - period / 2 + NS_PER_S;
	vigil_cameras_tick(c, true);
	assert_true(vigil_cameras_live(c, 0));
	c->slots[0].key_since_ns -= 2 * NS_PER_S; /* past 2.5 x: refused, load or not */
	vigil_cameras_tick(c, true);
	assert_false(vigil_cameras_live(c, 0));
	assert_int_equal(c->keys_expired, 2);
	assert_int_equal(c->keys_extended, 1);

	/* A rekey starts afresh: a new extension; so does the packet bound. */
	ssrc = vigil_cameras_fresh_ssrc(c);
	assert_int_equal(vigil_cameras_handshake(c, 0, ssrc, NULL, key, salt, 0), 0);
	c->slots[0].key_since_ns = mono_ns() - period - period / 2 - NS_PER_S;
	vigil_cameras_tick(c, true);
	key[0]++;
	assert_int_equal(vigil_cameras_handshake(c, 0, ssrc, NULL, key, salt, 0), 0);
	assert_false(c->slots[0].key_extended);
	vigil_cameras_tick(c, false);
	assert_true(vigil_cameras_live(c, 0));
	assert_int_equal(c->keys_extended, 2);
	e->table->slots[0]->ctr.v[VIGIL_CTR_decrypted] += packets + packets / 2 + 1;
	vigil_cameras_tick(c, true);
	assert_true(vigil_cameras_live(c, 0));
	assert_int_equal(c->keys_extended, 3);
	e->table->slots[0]->ctr.v[VIGIL_CTR_decrypted] += packets;
	vigil_cameras_tick(c, true);
	assert_false(vigil_cameras_live(c, 0));
	assert_int_equal(c->keys_expired, 3);
	assert_int_equal(told.rotated, 4);
	assert_string_equal(told.by, "handshake");
	assert_int_equal(told.expired, 3);
	stop(e);
}

/* One Identity, one camera: vigilctl camera add, a reload and the
 * keystore's cameras at start refuse a second one, naming both. */
/* A camera that asks for RTX (docs/handshake.md) gets an RTX SSRC no
 * camera has, in the table as its RTX stream; a rekey and a reload keep
 * both; a rekey without the flag starts a new stream without RTX, as after
 * an expired key, and the RTX SSRC is free again. */
static void test_handshake_rtx(void **state)
{
	struct vigil_camera_config yard = {.name = "yard", .codec = VIGIL_CODEC_H264};
	struct env *e;
	struct vigil_hs_initiator cam;
	struct vigil_hs_keys keys, again;
	const struct vigil_camera_config *door;
	(void)state;

	write_conf(door_pk, "");
	start_workers = 4;
	e = start(false);
	start_workers = 1;
	door = &e->cfg.cameras[0];
	assert_int_equal(vigil_hs_initiator_init(&cam, door_sk, server_pk), 0);
	cam.ask_rtx = true;
	handshake(e, &cam, &keys); /* the 116-byte response: the camera takes no other */
	assert_true(keys.has_rtx);
	/* Its RTX packets arrive at its stream's worker: handed on once at most. */
	assert_int_equal(vigil_stream_owner(keys.rtx_ssrc, 4), vigil_stream_owner(keys.ssrc, 4));
	assert_int_equal(keys.rtx_payload_type, VIGIL_HS_RTX_PAYLOAD_TYPE);
	assert_int_not_equal(keys.rtx_ssrc, keys.ssrc);
	assert_int_not_equal(keys.rtx_ssrc, 4242);
	assert_true(door->has_rtx);
	assert_int_equal(door->rtx_ssrc, keys.rtx_ssrc);
	assert_true(e->table->slots[0]->has_rtx);
	assert_int_equal(e->table->slots[0]->rtx_ssrc, keys.rtx_ssrc);
	assert_true(rte_hash_lookup(e->table->by_ssrc, &keys.rtx_ssrc) >= 0);
	/* its RTX SSRC is taken, as an SSRC is */
	yard.ssrc = keys.rtx_ssrc;
	assert_int_equal(vigil_cameras_add(&e->cams, &yard, e->msg, sizeof(e->msg)), -EEXIST);
	assert_non_null(strstr(e->msg, "is camera door's"));

	handshake(e, &cam, &again); /* a rekey */
	assert_int_equal(again.ssrc, keys.ssrc);
	assert_true(again.has_rtx);
	assert_int_equal(again.rtx_ssrc, keys.rtx_ssrc);
	assert_int_equal(again.rtx_payload_type, keys.rtx_payload_type);
	assert_int_equal(vigil_cameras_reload(&e->cams, e->msg, sizeof(e->msg)), 0);
	assert_true(door->has_rtx);
	assert_int_equal(door->rtx_ssrc, keys.rtx_ssrc);
	assert_int_equal(door->ssrc, keys.ssrc);

	cam.ask_rtx = false; /* the camera changed its mind */
	handshake(e, &cam, &again);
	assert_false(again.has_rtx);
	assert_int_not_equal(again.ssrc, keys.ssrc);
	assert_false(door->has_rtx);
	assert_int_equal(door->ssrc, again.ssrc);
	assert_false(e->table->slots[0]->has_rtx);
	assert_true(rte_hash_lookup(e->table->by_ssrc, &keys.rtx_ssrc) < 0);
	assert_true(rte_hash_lookup(e->table->by_ssrc, &keys.ssrc) < 0);
	assert_int_equal(e->hs->n[VIGIL_HS_accepted], 3);
	vigil_hs_keys_wipe(&keys);
	vigil_hs_keys_wipe(&again);
	vigil_hs_initiator_wipe(&cam);
	stop(e);
}

/* A camera that started again (a new initiator: its first initiation says
 * so) while vigild still holds its session gets a stream of its own, a
 * fresh SSRC: its packet index starts anywhere, and under the old stream's
 * replay window half of its packets would be refused as replayed. Its
 * rekeys after that keep the new SSRC. */
static void test_handshake_camera_restarted(void **state)
{
	struct env *e;
	struct vigil_hs_initiator cam, rebooted;
	struct vigil_hs_keys keys, again;
	const struct vigil_camera_config *door;
	(void)state;

	write_conf(door_pk, "");
	e = start(false);
	door = &e->cfg.cameras[0];
	assert_int_equal(vigil_hs_initiator_init(&cam, door_sk, server_pk), 0);
	cam.announce_fresh = true;
	handshake(e, &cam, &keys);
	handshake(e, &cam, &again); /* a rekey: the stream goes on */
	assert_int_equal(again.ssrc, keys.ssrc);
	assert_int_equal(vigil_hs_initiator_init(&rebooted, door_sk, server_pk), 0);
	rebooted.announce_fresh = true;
	usleep(20000); /* a timestamp past the grain of the last one's */
	handshake(e, &rebooted, &again);
	assert_int_not_equal(again.ssrc, keys.ssrc);
	assert_int_equal(door->ssrc, again.ssrc);
	assert_true(rte_hash_lookup(e->table->by_ssrc, &keys.ssrc) < 0);
	assert_true(rte_hash_lookup(e->table->by_ssrc, &again.ssrc) >= 0);
	keys = again;
	handshake(e, &rebooted, &again);
	assert_int_equal(again.ssrc, keys.ssrc);
	assert_int_equal(e->hs->n[VIGIL_HS_accepted], 4);
	vigil_hs_keys_wipe(&keys);
	vigil_hs_keys_wipe(&again);
	vigil_hs_initiator_wipe(&cam);
	vigil_hs_initiator_wipe(&rebooted);
	stop(e);
}

static void test_identity_unique(void **state)
{
	struct vigil_camera_config cam = {.name = "porch", .codec = VIGIL_CODEC_H264, .has_identity = true};
	struct env *e = start(false);
	char extra[256], id[VIGIL_SEAL_KEY_B64_BYTES];
	(void)state;

	memcpy(cam.identity, door_pk, 32);
	assert_int_equal(vigil_cameras_add(&e->cams, &cam, e->msg, sizeof(e->msg)), -EEXIST);
	assert_string_equal(e->msg, "camera porch's Identity is camera door's");
	assert_int_equal(vigil_cameras_find(&e->cams, "porch"), -1);
	memcpy(cam.identity, other_pk, 32);
	assert_int_equal(vigil_cameras_add(&e->cams, &cam, e->msg, sizeof(e->msg)), 0);

	/* The file now gives yard porch's Identity: refused, nothing applied. */
	b64(other_pk, id);
	snprintf(extra, sizeof(extra), "[Camera]\nName = yard\nIdentity = %s\nCodec = H264\n", id);
	write_conf(door_pk, extra);
	assert_int_equal(vigil_cameras_reload(&e->cams, e->msg, sizeof(e->msg)), -EEXIST);
	assert_non_null(strstr(e->msg, "camera yard's Identity is camera porch's, added with vigilctl"));
	assert_int_equal(vigil_cameras_find(&e->cams, "yard"), -1);
	stop(e);

	/* At start the file wins: porch is left out, and kept. */
	e = start(true);
	assert_int_equal(vigil_cameras_find(&e->cams, "porch"), -1);
	assert_int_equal(vigil_cameras_find(&e->cams, "yard"), 2);
	assert_int_equal(e->cams.n_aside, 1);
	assert_string_equal(e->cams.aside[0].name, "porch");
	stop(e);
	write_conf(door_pk, "");
}

/* What the recorder is told: every call, and the last one's settings. */
struct told {
	unsigned calls;
	unsigned slot;
	struct vigil_camera_config cam;
	bool live; /* its packets were already taken when it was told */
	struct vigil_cameras *cams;
};

static void on_settings(void *arg, unsigned slot, const struct vigil_camera_config *cam)
{
	struct told *t = arg;

	t->calls++;
	t->slot = slot;
	t->cam = *cam;
	t->live = vigil_cameras_live(t->cams, slot);
}

/* The recorder learns a camera's settings from the control plane alone,
 * whenever they change: an OwnerKey and a RetainHours given by a reload, the
 * OwnerKey taken away by the next, a camera added through the keystore
 * (told before its packets are taken). */
static void test_settings_told(void **state)
{
	struct vigil_camera_config cam = {.name = "shed", .ssrc = 99, .codec = VIGIL_CODEC_H265, .sealed = true};
	struct env *e = start(false);
	struct told t = {.cams = &e->cams};
	char extra[256], owner[VIGIL_SEAL_KEY_B64_BYTES];
	(void)state;

	e->cams.on_settings = on_settings;
	e->cams.on_settings_arg = &t;
	b64(other_pk, owner);
	snprintf(extra, sizeof(extra), "RetainHours = 3\nOwnerKey = %s\n", owner); /* gst's */
	write_conf(door_pk, extra);
	assert_int_equal(vigil_cameras_reload(&e->cams, e->msg, sizeof(e->msg)), 0);
	assert_int_equal(t.calls, 2); /* door, then gst */
	assert_int_equal(t.slot, 1);
	assert_string_equal(t.cam.name, "gst");
	assert_true(t.cam.sealed);
	assert_memory_equal(t.cam.owner_key, other_pk, 32);
	assert_int_equal(t.cam.retain_hours, 3);

	write_conf(door_pk, "");
	assert_int_equal(vigil_cameras_reload(&e->cams, e->msg, sizeof(e->msg)), 0);
	assert_int_equal(t.calls, 4);
	assert_false(t.cam.sealed);
	assert_int_equal(t.cam.retain_hours, 0);

	memcpy(cam.owner_key, other_pk, 32);
	memcpy(cam.master_key, master, sizeof(cam.master_key));
	assert_int_equal(vigil_cameras_add(&e->cams, &cam, e->msg, sizeof(e->msg)), 0);
	assert_int_equal(t.calls, 5);
	assert_int_equal(t.slot, 2);
	assert_string_equal(t.cam.name, "shed");
	assert_true(t.cam.sealed);
	assert_false(t.live);
	assert_true(vigil_cameras_live(&e->cams, 2));
	sodium_memzero(&cam, sizeof(cam));
	sodium_memzero(&t.cam, sizeof(t.cam));
	stop(e);
	write_conf(door_pk, "");
}

/* What a stream may use of its feedback indices (0: none yet). */
static uint32_t fb_reserved(const struct env *e, unsigned slot)
{
	return __atomic_load_n(&e->table->slots[slot]->key->fb.reserved, __ATOMIC_ACQUIRE);
}

/* A camera that retransmits, added while running (keystore, reload) or
 * rotated, has its feedback reservation written and handed to its stream
 * at once, so its first gaps are NACKed (they waited for the next state
 * write, about a second, before). */
static void test_feedback_reserved_at_once(void **state)
{
	struct vigil_camera_config cam = {.name = "porch", .ssrc = 77, .codec = VIGIL_CODEC_H264,
					  .has_rtx = true, .rtx_ssrc = 78, .rtx_payload_type = 97,
					  .payload_types = {0, UINT64_C(0xffffffff) << 32}};
	char path[1100], msg[512];
	struct env *e;
	uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN] = {9}, salt[VIGIL_SRTP_MASTER_SALT_LEN] = {8};
	(void)state;

	snprintf(path, sizeof(path), "%s/state", dir);
	start_state = vigil_state_open(path, msg, sizeof(msg));
	assert_non_null(start_state);
	write_conf(door_pk, "");
	e = start(false);

	memcpy(cam.master_key, master, sizeof(cam.master_key));
	assert_int_equal(vigil_cameras_add(&e->cams, &cam, e->msg, sizeof(e->msg)), 0);
	assert_int_equal(fb_reserved(e, 2), VIGIL_FEEDBACK_RESERVE);
	/* A new key's indices start again: reserved again, at once. */
	assert_int_equal(vigil_cameras_rotate(&e->cams, "porch", key, salt, e->msg, sizeof(e->msg)), 0);
	assert_int_equal(fb_reserved(e, 2), VIGIL_FEEDBACK_RESERVE);
	/* A camera of the file that starts retransmitting on a reload. */
	assert_int_equal(fb_reserved(e, 1), 0);
	write_conf(door_pk, "RtxSSRC = 4243\nRtxPayloadType = 97\n"); /* gst's */
	assert_int_equal(vigil_cameras_reload(&e->cams, e->msg, sizeof(e->msg)), 0);
	assert_int_equal(fb_reserved(e, 1), VIGIL_FEEDBACK_RESERVE);
	sodium_memzero(&cam, sizeof(cam));
	stop(e);
	vigil_state_close(start_state);
	start_state = NULL;
	write_conf(door_pk, "");
}

/* Keystore records left out at start are written back unchanged by the
 * next save, and their names, SSRCs and Identities stay theirs. */
static void test_left_out_kept(void **state)
{
	struct vigil_camera_config ks[4] = {
	    {.name = "gst", .ssrc = 1, .codec = VIGIL_CODEC_H265},	    /* the file's name */
	    {.name = "ssrcclash", .ssrc = 4242, .codec = VIGIL_CODEC_H264}, /* the file's SSRC */
	    {.name = "idclash", .codec = VIGIL_CODEC_H264, .has_identity = true},
	    {.name = "fine", .ssrc = 7, .codec = VIGIL_CODEC_H264},
	};
	struct vigil_camera_config add = {.name = "new", .ssrc = 8, .codec = VIGIL_CODEC_H264}, *got = NULL;
	struct env *e;
	unsigned n = 0;
	char msg[512];
	(void)state;

	for (unsigned i = 0; i < 4; i++) {
		randombytes_buf(ks[i].master_key, sizeof(ks[i].master_key));
		ks[i].payload_types[1] = 1;
	}
	memcpy(ks[2].identity, door_pk, 32);
	memset(ks[2].master_key, 0, sizeof(ks[2].master_key));
	randombytes_buf(add.master_key, sizeof(add.master_key));
	assert_int_equal(vigil_keystore_save("keystore", master, ks, 4, msg, sizeof(msg)), 0);
	e = start(true);
	assert_int_equal(e->cams.n_aside, 3);
	assert_true(vigil_cameras_live(&e->cams, (unsigned)vigil_cameras_find(&e->cams, "fine")));
	strcpy(add.name, "ssrcclash");
	assert_int_equal(vigil_cameras_add(&e->cams, &add, e->msg, sizeof(e->msg)), -EEXIST);
	assert_non_null(strstr(e->msg, "the keystore's camera ssrcclash, left out at start"));
	strcpy(add.name, "new");
	assert_int_equal(vigil_cameras_add(&e->cams, &add, e->msg, sizeof(e->msg)), 0);
	assert_int_equal(vigil_keystore_load("keystore", master, &got, &n, e->msg, sizeof(e->msg)), 0);
	assert_int_equal(n, 5);
	assert_string_equal(got[0].name, "fine");
	assert_string_equal(got[1].name, "new");
	for (unsigned i = 0; i < 3; i++) {
		assert_string_equal(got[2 + i].name, ks[i].name);
		assert_int_equal(got[2 + i].ssrc, ks[i].ssrc);
		assert_memory_equal(got[2 + i].master_key, ks[i].master_key, sizeof(ks[i].master_key));
	}
	sodium_memzero(got, n * sizeof(*got));
	free(got);
	stop(e);
}

/* When the keystore cannot be saved, an admin change is refused, and
 * nothing of it runs. */
static void test_save_failure(void **state)
{
	struct vigil_camera_config cam = {.name = "porch", .ssrc = 7, .codec = VIGIL_CODEC_H264};
	uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN] = {9, 9, 9}, salt[VIGIL_SRTP_MASTER_SALT_LEN] = {0};
	struct env *e = start(false);
	struct vigil_stream_key *current;
	unsigned n_cameras;
	char saved[sizeof(e->cfg.keystore)];
	int slot;
	(void)state;

	randombytes_buf(cam.master_key, sizeof(cam.master_key));
	strcpy(saved, e->cfg.keystore);
	snprintf(e->cfg.keystore, sizeof(e->cfg.keystore), "%s/no/such/dir/keystore", dir);
	n_cameras = e->cfg.n_cameras;
	assert_true(vigil_cameras_add(&e->cams, &cam, e->msg, sizeof(e->msg)) < 0);
	assert_non_null(strstr(e->msg, "camera porch not added: "));
	assert_int_equal(vigil_cameras_find(&e->cams, "porch"), -1);
	assert_int_equal(e->cfg.n_cameras, n_cameras);
	assert_true(rte_hash_lookup(e->table->by_ssrc, &cam.ssrc) < 0);

	strcpy(e->cfg.keystore, saved);
	assert_int_equal(vigil_cameras_add(&e->cams, &cam, e->msg, sizeof(e->msg)), 0);
	slot = vigil_cameras_find(&e->cams, "porch");
	current = e->table->slots[slot]->key;
	snprintf(e->cfg.keystore, sizeof(e->cfg.keystore), "%s/no/such/dir/keystore", dir);
	assert_true(vigil_cameras_rotate(&e->cams, "porch", key, salt, e->msg, sizeof(e->msg)) < 0);
	assert_non_null(strstr(e->msg, "camera porch not rotated: "));
	assert_ptr_equal(e->table->slots[slot]->key, current);
	assert_null(e->table->slots[slot]->prev_key);
	assert_memory_equal(e->cfg.cameras[slot].master_key, cam.master_key, sizeof(cam.master_key));
	assert_true(vigil_cameras_revoke(&e->cams, "porch", e->msg, sizeof(e->msg)) < 0);
	assert_non_null(strstr(e->msg, "camera porch not revoked: "));
	assert_true(vigil_cameras_live(&e->cams, (unsigned)slot));
	assert_false(e->cfg.cameras[slot].revoked);
	assert_true(vigil_cameras_remove(&e->cams, "porch", e->msg, sizeof(e->msg)) < 0);
	assert_non_null(strstr(e->msg, "camera porch not removed: "));
	assert_true(vigil_cameras_live(&e->cams, (unsigned)slot));
	assert_int_equal(vigil_cameras_state(&e->cams, (unsigned)slot), VIGIL_CAMERA_LIVE);

	/* Saved again: each goes through. */
	strcpy(e->cfg.keystore, saved);
	assert_int_equal(vigil_cameras_rotate(&e->cams, "porch", key, salt, e->msg, sizeof(e->msg)), 0);
	assert_ptr_equal(e->table->slots[slot]->prev_key, current);
	assert_int_equal(vigil_cameras_revoke(&e->cams, "porch", e->msg, sizeof(e->msg)), 0);
	assert_false(vigil_cameras_live(&e->cams, (unsigned)slot));
	assert_int_equal(vigil_cameras_remove(&e->cams, "porch", e->msg, sizeof(e->msg)), 0);
	stop(e);
}

static int setup(void **state)
{
	char path[1100], msg[256];
	(void)state;

	snprintf(dir, sizeof(dir), "test_cameras.XXXXXX");
	if (mkdtemp(dir) == NULL || chdir(dir) != 0)
		return -1;
	/* Paths in the configuration are absolute. */
	if (getcwd(dir, sizeof(dir)) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/server.sk", dir);
	if (vigil_seal_keyfile_create(path, server_pk, msg, sizeof(msg)) < 0)
		return -1;
	if (vigil_seal_keypair(door_pk, door_sk) < 0 || vigil_seal_keypair(other_pk, other_sk) < 0)
		return -1;
	master = sodium_malloc(VIGIL_KEYSTORE_KEY_LEN);
	if (master == NULL)
		return -1;
	randombytes_buf(master, VIGIL_KEYSTORE_KEY_LEN); /* KeystoreKeyFile is not read here */
	write_conf(door_pk, "");
	return 0;
}

static int teardown(void **state)
{
	char cmd[1100];
	(void)state;

	sodium_free(master);
	if (chdir("..") == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			return -1;
	}
	return 0;
}

int main(void)
{
	char prefix[64];
	char *args[] = {"test_cameras", "--no-huge", "--no-shconf",	    "-m",   "256", "--no-pci",
			"-l",		"0",	     "--log-level=*:error", prefix, NULL};
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_for_us_and_reply),
	    cmocka_unit_test(test_codec_mismatch),
	    cmocka_unit_test(test_rate_limit),
	    cmocka_unit_test(test_identity_change_resets_replay),
	    cmocka_unit_test(test_reload_identity_settings),
	    cmocka_unit_test(test_grace_not_extended),
	    cmocka_unit_test(test_cookie_proven),
	    cmocka_unit_test(test_proven_first),
	    cmocka_unit_test(test_worker_rings),
	    cmocka_unit_test(test_cookie_budget),
	    cmocka_unit_test(test_unknown_session),
	    cmocka_unit_test(test_key_extension),
	    cmocka_unit_test(test_handshake_camera_restarted), cmocka_unit_test(test_identity_unique),
	    cmocka_unit_test(test_handshake_rtx),
	    cmocka_unit_test(test_answer_after_owner),
	    cmocka_unit_test(test_settings_told),
	    cmocka_unit_test(test_feedback_reserved_at_once),
	    cmocka_unit_test(test_left_out_kept),
	    cmocka_unit_test(test_save_failure),
	};

	snprintf(prefix, sizeof(prefix), "--file-prefix=test_cameras_%d", (int)getpid());
	if (sodium_init() < 0 || rte_eal_init(10, args) < 0 || vigil_srtp_available() < 0) {
		printf("1..0 # SKIP no EAL or no AES-NI here\n");
		return 0;
	}
	pool = rte_pktmbuf_pool_create("test_cameras", 2048, 0, VIGIL_MBUF_PRIV_SIZE,
				       RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	frames.ring = rte_ring_create("test_cameras", 64, 0, 0);
	frames.max_segs = 64;
	to_control = rte_ring_create("test_cameras_in", 64, 0, 0);
	to_proven = rte_ring_create("test_cameras_proven", 64, 0, 0);
	to_wire = rte_ring_create("test_cameras_out", 64, 0, 0);
	if (pool == NULL || frames.ring == NULL || to_control == NULL || to_proven == NULL || to_wire == NULL)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
