/* SPDX-License-Identifier: MIT */
/* The SSRC table: 100,000 cameras added, found, rotated and removed with
 * no DPDK memory left behind, and a revoke that a concurrent reader can
 * never see past once it has returned. Runs on an EAL without hugepages. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_hash.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include <rte_bus_vdev.h>
#include <rte_cryptodev.h>
#include <rte_mempool.h>

#include "cryptodev.h"
#include "stream.h"

#define CAMERAS 100000

static struct rte_mempool *pool;
static struct vigil_frame_ring frames, *ring = &frames;

static size_t heap_in_use(void)
{
	struct rte_malloc_socket_stats st;

	assert_int_equal(rte_malloc_get_socket_stats((int)rte_socket_id(), &st), 0);
	return st.heap_allocsz_bytes;
}

static void camera(struct vigil_camera_config *cam, uint32_t i)
{
	memset(cam, 0, sizeof(*cam));
	snprintf(cam->name, sizeof(cam->name), "cam%u", i);
	cam->ssrc = 0x10000000u + i * 7919u;
	cam->codec = i % 2 ? VIGIL_CODEC_H265 : VIGIL_CODEC_H264;
	for (unsigned k = 0; k < sizeof(cam->master_key); k++)
		cam->master_key[k] = (uint8_t)(i + k * 31 + 1);
}

static void test_scale(void **state)
{
	size_t before = heap_in_use();
	struct vigil_stream_table *t;
	struct vigil_camera_config cam;
	struct vigil_counters retired = {0};

	(void)state;
	t = vigil_stream_table_create("test_scale", CAMERAS, 1, 1, 1 << 20, pool, &ring);
	assert_non_null(t);
	for (uint32_t i = 0; i < CAMERAS; i++) {
		camera(&cam, i);
		assert_int_equal(vigil_stream_add(t, &cam, i, NULL), 0);
	}
	assert_int_equal(t->n_streams, CAMERAS);
	camera(&cam, 5);
	assert_int_equal(vigil_stream_add(t, &cam, 5, NULL), -EEXIST);          /* slot taken */
	cam.ssrc = 1;
	assert_int_equal(vigil_stream_add(t, &cam, CAMERAS, NULL), -ENOSPC);    /* past the end */
	camera(&cam, 6);
	assert_int_equal(vigil_stream_add(t, &cam, CAMERAS - 1, NULL), -EEXIST); /* SSRC taken */
	for (uint32_t i = 0; i < CAMERAS; i++) {
		void *data;

		camera(&cam, i);
		assert_true(rte_hash_lookup_data(t->by_ssrc, &cam.ssrc, &data) >= 0);
		assert_ptr_equal(data, t->slots[i]);
		assert_int_equal(((struct vigil_stream *)data)->camera, i);
		assert_int_equal(((struct vigil_stream *)data)->depay.codec, cam.codec);
	}
	/* Rotations: the current key becomes the previous one; a second
	 * rotation drops the oldest, an expiry the previous; a replacement
	 * keeps the previous. */
	for (uint32_t i = 0; i < 1000; i++) {
		struct vigil_stream *s = t->slots[i];
		struct vigil_stream_key *first = s->key;
		uint8_t k[32] = {(uint8_t)i, 1}, salt[12] = {2};

		assert_int_equal(vigil_stream_rotate(t, i, k, salt), 0);
		assert_ptr_equal(s->prev_key, first);
		assert_ptr_not_equal(s->key, first);
		assert_int_equal(vigil_stream_rotate(t, i, k, salt), 0);
		first = s->prev_key;
		assert_int_equal(vigil_stream_replace_key(t, i, k, salt), 0);
		assert_ptr_equal(s->prev_key, first); /* kept */
		if (i % 2)
			vigil_stream_expire_prev(t, i);
		assert_true(i % 2 ? s->prev_key == NULL : s->prev_key != NULL);
	}
	assert_int_equal(vigil_stream_rotate(t, CAMERAS + 1, (uint8_t[32]){1}, (uint8_t[12]){0}), -ENOENT);
	/* A removed camera's counters live on in what it retired into. */
	t->slots[3]->ctr.v[VIGIL_CTR_decrypted] = 5;
	assert_int_equal(vigil_stream_remove(t, 3, &retired), 0);
	assert_int_equal(retired.v[VIGIL_CTR_decrypted], 5);
	assert_int_equal(vigil_stream_remove(t, 3, &retired), -ENOENT);
	camera(&cam, 3);
	assert_true(rte_hash_lookup(t->by_ssrc, &cam.ssrc) < 0);
	for (uint32_t i = 0; i < CAMERAS; i++)
		if (i != 3)
			assert_int_equal(vigil_stream_remove(t, i, &retired), 0);
	assert_int_equal(t->n_streams, 0);
	vigil_stream_table_free(t);
	assert_int_equal(heap_in_use(), before);
}

static struct vigil_stream_table *shared;
static volatile bool reader_stop;
/* SSRCs are never reused here: the last one published as removed (only
 * after vigil_stream_remove returned) must never be found again. */
static uint32_t live_ssrc, removed_ssrc;
static uint64_t reader_lookups, reader_violations;

static int reader(void *arg)
{
	(void)arg;
	rte_rcu_qsbr_thread_register(shared->qsbr, 0);
	rte_rcu_qsbr_thread_online(shared->qsbr, 0);
	while (!reader_stop) {
		uint32_t gone = __atomic_load_n(&removed_ssrc, __ATOMIC_ACQUIRE);
		uint32_t ssrc = __atomic_load_n(&live_ssrc, __ATOMIC_ACQUIRE);
		void *data;

		if (gone != 0 && rte_hash_lookup(shared->by_ssrc, &gone) >= 0)
			reader_violations++;
		if (rte_hash_lookup_data(shared->by_ssrc, &ssrc, &data) >= 0) {
			struct vigil_stream *s = data;

			/* Touch what a worker touches: the stream and its key. */
			if (s->ssrc != ssrc || __atomic_load_n(&s->key, __ATOMIC_ACQUIRE)->rtp.salt[0] != s->key->rtp.salt[0])
				reader_violations++;
			s->ctr.v[VIGIL_CTR_rx_packets]++;
		}
		reader_lookups++;
		rte_rcu_qsbr_quiescent(shared->qsbr, 0);
	}
	rte_rcu_qsbr_thread_offline(shared->qsbr, 0);
	rte_rcu_qsbr_thread_unregister(shared->qsbr, 0);
	return 0;
}

static void test_revoke_under_reader(void **state)
{
	struct vigil_camera_config cam;
	struct vigil_counters retired = {0};
	unsigned lcore = rte_get_next_lcore(-1, 1, 0);

	(void)state;
	if (lcore >= RTE_MAX_LCORE)
		skip();
	shared = vigil_stream_table_create("test_revoke", 16, 1, 1, 1 << 20, pool, &ring);
	assert_non_null(shared);
	assert_int_equal(rte_eal_remote_launch(reader, NULL, lcore), 0);
	for (uint32_t round = 1; round <= 300; round++) {
		camera(&cam, round);
		assert_int_equal(vigil_stream_add(shared, &cam, 0, NULL), 0);
		__atomic_store_n(&live_ssrc, cam.ssrc, __ATOMIC_RELEASE);
		usleep(200);
		assert_int_equal(vigil_stream_rotate(shared, 0, cam.master_key, cam.master_salt), 0);
		assert_int_equal(vigil_stream_remove(shared, 0, &retired), 0);
		__atomic_store_n(&removed_ssrc, cam.ssrc, __ATOMIC_RELEASE);
		usleep(100);
	}
	reader_stop = true;
	rte_eal_wait_lcore(lcore);
	assert_int_equal(reader_violations, 0);
	assert_true(reader_lookups > 0);
	assert_true(retired.v[VIGIL_CTR_rx_packets] > 0); /* the reader did see the streams */
	vigil_stream_table_free(shared);
}

/* The cryptodev engine's sessions live and die with their keys: one for
 * the 12-byte header at once, one per length a worker asked for (up to
 * VIGIL_KEY_SESSIONS a key), each made from the key's own RTP session key
 * (it decrypts what libsodium's encrypts), every one back in the pool once
 * its key is gone: rotations, replacement, expiry, removal. */
static void test_sessions(void **state)
{
	static const uint16_t lens[] = {20, 16, 24, 28, 32};
	struct vigil_camera_config cam;
	struct vigil_counters retired = {0};
	struct vigil_cryptodev cd;
	struct vigil_stream_table *t;
	struct vigil_stream_key *k;
	struct vigil_srtp sodium;
	unsigned avail, made = 0;
	uint8_t pkt[20 + 100 + VIGIL_SRTP_TAG_LEN] = {0x80, 96};
	struct vigil_cryptodev_pkt p;
	char msg[256];
	int len;

	(void)state;
	if (rte_cryptodev_get_dev_id("crypto_aesni_gcm0") < 0 && rte_vdev_init("crypto_aesni_gcm0", NULL) < 0) {
		if (getenv("CI") != NULL)
			fail_msg("crypto_aesni_gcm0: no such PMD (DPDK's ipsec-mb one)");
		skip();
	}
	assert_int_equal(vigil_cryptodev_open(&cd, "crypto_aesni_gcm0", 64, 1, false, msg, sizeof(msg)), 0);
	avail = rte_mempool_avail_count(cd.sessions);
	t = vigil_stream_table_create("test_sessions", 8, 1, 1, 1 << 20, pool, &ring);
	assert_non_null(t);
	vigil_stream_table_crypto(t, &cd);
	camera(&cam, 1);
	assert_int_equal(vigil_stream_add(t, &cam, 0, NULL), 0);
	k = t->slots[0]->key;
	assert_int_equal(k->cd.n, 1);
	assert_non_null(vigil_key_session(k, 12));
	assert_null(vigil_key_session(k, 20));
	assert_int_equal(vigil_stream_sessions(t), 0); /* none wanted */
	for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		vigil_stream_want_session(t, k, lens[i]);
		vigil_stream_want_session(t, k, lens[i]); /* once is enough */
		made += vigil_stream_sessions(t);
	}
	assert_int_equal(made, VIGIL_KEY_SESSIONS - 1);
	assert_int_equal(k->cd.n, VIGIL_KEY_SESSIONS);
	assert_non_null(vigil_key_session(k, 20));
	assert_non_null(vigil_key_session(k, 24));
	assert_null(vigil_key_session(k, 28)); /* past the bound: libsodium's */
	assert_non_null(k->cd.rtcp); /* and SRTCP's: one more a key */
	assert_int_equal(rte_mempool_avail_count(cd.sessions), avail - VIGIL_KEY_SESSIONS - 1);
	/* The session decrypts a packet libsodium encrypted under the camera's
	 * master key, header of 20 bytes (one CSRC, an extension of none). */
	pkt[0] = 0x80 | 0x10 | 1;
	pkt[16] = 0xbe, pkt[17] = 0xde;
	for (unsigned i = 20; i < 120; i++)
		pkt[i] = (uint8_t)i;
	assert_int_equal(vigil_srtp_init(&sodium, cam.master_key, cam.master_salt), 0);
	len = vigil_srtp_encrypt(&sodium, pkt, 120, 20, cam.ssrc, 3, 77);
	assert_int_equal(len, sizeof(pkt));
	p = (struct vigil_cryptodev_pkt){.pkt = pkt, .len = sizeof(pkt), .ssrc = cam.ssrc, .roc = 3, .seq = 77};
	assert_int_equal(vigil_cryptodev_srtp_decrypt(&cd, vigil_key_session(k, 20), k->rtp.salt, 20, &p, 1), 1);
	for (unsigned i = 20; i < 120; i++)
		assert_int_equal(pkt[i], (uint8_t)i);
	vigil_srtp_wipe(&sodium);
	/* Keys go, and their sessions with them (each key's SRTCP one too). */
	assert_int_equal(vigil_stream_rotate(t, 0, cam.master_key, cam.master_salt), 0);
	assert_int_equal(t->slots[0]->key->cd.n, 1);
	assert_int_equal(rte_mempool_avail_count(cd.sessions), avail - VIGIL_KEY_SESSIONS - 1 - 2);
	assert_int_equal(vigil_stream_rotate(t, 0, cam.master_key, cam.master_salt), 0);
	assert_int_equal(rte_mempool_avail_count(cd.sessions), avail - 4);
	assert_int_equal(vigil_stream_replace_key(t, 0, cam.master_key, cam.master_salt), 0);
	assert_int_equal(rte_mempool_avail_count(cd.sessions), avail - 4);
	vigil_stream_expire_prev(t, 0);
	assert_int_equal(rte_mempool_avail_count(cd.sessions), avail - 2);
	assert_int_equal(vigil_stream_remove(t, 0, &retired), 0);
	assert_int_equal(rte_mempool_avail_count(cd.sessions), avail);
	vigil_stream_table_free(t);
	vigil_cryptodev_close(&cd);
}

int main(void)
{
	char prefix[64];
	char *args[] = {"test_stream", "--no-huge", "--no-shconf", "-m", "512", "--no-pci", "-l", "0-1",
			"--log-level=*:error", prefix, NULL};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scale),
		cmocka_unit_test(test_revoke_under_reader),
		cmocka_unit_test(test_sessions),
	};

	snprintf(prefix, sizeof(prefix), "--file-prefix=test_stream_%d", (int)getpid());
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		args[7] = "0"; /* one CPU: no concurrent reader; that test skips */
	if (rte_eal_init(10, args) < 0 || vigil_srtp_available() < 0) {
		printf("1..0 # SKIP no EAL or no AES-NI here\n");
		return 0;
	}
	pool = rte_pktmbuf_pool_create("test_stream", 64, 0, VIGIL_MBUF_PRIV_SIZE, RTE_MBUF_DEFAULT_BUF_SIZE,
				       (int)rte_socket_id());
	frames.ring = rte_ring_create("test_stream", 64, 0, 0);
	frames.max_segs = 64;
	if (pool == NULL || frames.ring == NULL)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
