/* SPDX-License-Identifier: MIT */
/* The cryptodev engine (dataplane/cryptodev.c) against libsodium's
 * (proto/srtp.c), differentially, on both ipsec-mb PMDs Debian's DPDK
 * ships (crypto_aesni_gcm, crypto_aesni_mb): packets encrypted by
 * libsodium, then authentic, forged (one bit flipped anywhere: header,
 * payload, tag), truncated, or under the wrong ROC, decrypted by both in
 * bursts; every verdict the same, every authentic payload the same bytes.
 * RTP headers of 12 to 60 bytes (CSRCs, an extension): one session per
 * header length. Through the CPU crypto API on both, and through
 * aesni_mb's queue pair (enqueue, dequeue), the path a hardware device
 * takes, with the packets in mbufs. And SRTCP with its E bit set, on the
 * CPU path of both. */
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
#include <rte_cryptodev.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <sodium.h>

#include "cryptodev.h"
#include "srtp.h"

#define PKT_MAX 1600
#define ROUNDS 40

enum variant { AUTHENTIC, FORGED, TRUNCATED, WRONG_ROC, VARIANTS };

static struct rte_mempool *mbufs;

/* The device's encryption is libsodium's, byte for byte: any header
 * length, any index, payloads from empty to a full packet. */
static void encrypt_same(struct vigil_cryptodev *d, const struct vigil_srtp *s, const uint8_t *key, const uint8_t *salt,
			 uint16_t hdr)
{
	void *sess = vigil_cryptodev_session(d, key, hdr, true);

	assert_non_null(sess);
	for (unsigned round = 0; round < ROUNDS; round++) {
		static uint8_t want[VIGIL_BURST][PKT_MAX], got[VIGIL_BURST][PKT_MAX];
		struct vigil_cryptodev_pkt p[VIGIL_BURST];

		for (unsigned i = 0; i < VIGIL_BURST; i++) {
			uint32_t payload = i == 0 ? 0 : randombytes_uniform(PKT_MAX - hdr - VIGIL_SRTP_TAG_LEN + 1);

			p[i] = (struct vigil_cryptodev_pkt){.pkt = got[i],
							    .len = hdr + payload,
							    .ssrc = randombytes_random(),
							    .roc = randombytes_random(),
							    .seq = (uint16_t)randombytes_random(),
							    .status = -1};
			randombytes_buf(want[i], p[i].len);
			memcpy(got[i], want[i], p[i].len);
			assert_int_equal(vigil_srtp_encrypt(s, want[i], p[i].len, hdr, p[i].ssrc, p[i].roc, p[i].seq),
					 (int)(p[i].len + VIGIL_SRTP_TAG_LEN));
		}
		assert_int_equal(vigil_cryptodev_srtp_encrypt(d, sess, salt, hdr, p, VIGIL_BURST), VIGIL_BURST);
		for (unsigned i = 0; i < VIGIL_BURST; i++) {
			assert_int_equal(p[i].status, 0);
			assert_memory_equal(got[i], want[i], p[i].len + VIGIL_SRTP_TAG_LEN);
		}
	}
	vigil_cryptodev_session_free(d, sess);
}

static void one_device(const char *name, bool qp)
{
	static const uint16_t hdr_lens[] = {12, 16, 28, 60};
	struct vigil_cryptodev d;
	char msg[256];
	uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN], salt[VIGIL_SRTP_SESSION_SALT_LEN];
	struct vigil_srtp s;
	unsigned checked[VARIANTS] = {0}, accepted = 0;

	assert_int_equal(vigil_cryptodev_open(&d, name, 16, 2, true, msg, sizeof(msg)), 0);
	/* The worker prefetches the whole session: its private part and more. */
	assert_true(d.session_lines * RTE_CACHE_LINE_SIZE >=
			    RTE_MIN((unsigned)rte_cryptodev_sym_get_private_session_size(d.dev_id),
				    (VIGIL_CRYPTODEV_PREFETCH_LINES - 1) * RTE_CACHE_LINE_SIZE) &&
		    d.session_lines <= VIGIL_CRYPTODEV_PREFETCH_LINES);
	printf("# %s: a session is %u lines\n", name, d.session_lines);
	randombytes_buf(key, sizeof(key));
	randombytes_buf(salt, sizeof(salt));
	assert_int_equal(vigil_srtp_init_session(&s, key, salt), 0);
	for (unsigned h = 0; h < sizeof(hdr_lens) / sizeof(hdr_lens[0]); h++) {
		uint16_t hdr = hdr_lens[h];
		void *sess = vigil_cryptodev_session(&d, key, hdr, false);

		assert_non_null(sess);
		for (unsigned round = 0; round < ROUNDS; round++) {
			static uint8_t a[VIGIL_BURST][PKT_MAX], b[VIGIL_BURST][PKT_MAX];
			struct vigil_cryptodev_pkt p[VIGIL_BURST];
			enum variant v[VIGIL_BURST];
			uint32_t roc = randombytes_uniform(4);

			for (unsigned i = 0; i < VIGIL_BURST; i++) {
				uint32_t payload = randombytes_uniform(PKT_MAX - hdr - VIGIL_SRTP_TAG_LEN + 1);
				uint32_t ssrc = randombytes_random();
				uint16_t seq = (uint16_t)randombytes_random();
				int len;

				randombytes_buf(a[i], hdr + payload);
				len = vigil_srtp_encrypt(&s, a[i], hdr + payload, hdr, ssrc, roc, seq);
				assert_int_equal(len, (int)(hdr + payload + VIGIL_SRTP_TAG_LEN));
				v[i] = (enum variant)randombytes_uniform(VARIANTS);
				if (v[i] == FORGED) /* one bit, anywhere */
					a[i][randombytes_uniform((uint32_t)len)] ^=
					    (uint8_t)(1u << randombytes_uniform(8));
				else if (v[i] == TRUNCATED)
					len -= 1 + (int)randombytes_uniform(VIGIL_SRTP_TAG_LEN + 1);
				memcpy(b[i], a[i], (size_t)len);
				p[i] = (struct vigil_cryptodev_pkt){.pkt = b[i],
								    .m = NULL,
								    .len = (uint32_t)len,
								    .ssrc = ssrc,
								    .roc = v[i] == WRONG_ROC ? roc + 1 : roc,
								    .seq = seq};
			}
			for (unsigned i = 0; qp && i < VIGIL_BURST; i++) { /* in an mbuf, past its headroom */
				p[i].m = rte_pktmbuf_alloc(mbufs);
				assert_non_null(p[i].m);
				p[i].pkt = (uint8_t *)rte_pktmbuf_append(p[i].m, (uint16_t)p[i].len);
				assert_non_null(p[i].pkt);
				memcpy(p[i].pkt, b[i], p[i].len);
			}
			accepted += qp ? vigil_cryptodev_srtp_decrypt_qp(&d, 1, sess, salt, hdr, p, VIGIL_BURST)
				       : vigil_cryptodev_srtp_decrypt(&d, sess, salt, hdr, p, VIGIL_BURST);
			for (unsigned i = 0; i < VIGIL_BURST; i++) {
				int rc = vigil_srtp_decrypt(&s, a[i], p[i].len, hdr, p[i].ssrc, p[i].roc, p[i].seq);

				checked[v[i]]++;
				if ((rc >= 0) != (p[i].status == 0))
					fail_msg("%s, header %u: variant %d, libsodium %d, cryptodev %d", name, hdr,
						 v[i], rc, p[i].status);
				assert_int_equal(rc >= 0, v[i] == AUTHENTIC);
				if (rc >= 0)
					assert_memory_equal(a[i], p[i].pkt, p[i].len - VIGIL_SRTP_TAG_LEN);
				rte_pktmbuf_free(p[i].m);
			}
		}
		vigil_cryptodev_session_free(&d, sess);
		if (!qp)
			encrypt_same(&d, &s, key, salt, hdr);
	}
	for (unsigned k = 0; k < VARIANTS; k++)
		assert_true(checked[k] > 0);
	assert_int_equal(accepted, checked[AUTHENTIC]);
	vigil_srtp_wipe(&s);
	vigil_cryptodev_close(&d);
}

/* SRTCP with E set: the device's verdicts and plaintext are libsodium's
 * (authentic, one bit flipped anywhere, the trailer's index or E bit
 * included, truncated); a packet with E clear is not the device's (EINVAL:
 * the worker gives those to libsodium). */
static void srtcp_same(const char *name)
{
	struct vigil_cryptodev d;
	char msg[256];
	uint8_t master[VIGIL_SRTP_MASTER_KEY_LEN], msalt[VIGIL_SRTP_MASTER_SALT_LEN], rk[VIGIL_SRTP_MASTER_KEY_LEN];
	struct vigil_srtp s;
	unsigned checked[VARIANTS + 1] = {0};
	void *sess;

	assert_int_equal(vigil_cryptodev_open(&d, name, 4, 1, false, msg, sizeof(msg)), 0);
	randombytes_buf(master, sizeof(master));
	randombytes_buf(msalt, sizeof(msalt));
	assert_int_equal(vigil_srtcp_init(&s, master, msalt), 0);
	assert_int_equal(vigil_srtp_kdf(master, msalt, sizeof(msalt), VIGIL_SRTP_LABEL_RTCP_ENCRYPTION, rk, sizeof(rk)),
			 0);
	sess = vigil_cryptodev_session(&d, rk, 12, false);
	assert_non_null(sess);
	for (unsigned round = 0; round < ROUNDS; round++) {
		static uint8_t a[VIGIL_BURST][PKT_MAX], b[VIGIL_BURST][PKT_MAX];
		struct vigil_cryptodev_pkt p[VIGIL_BURST];
		unsigned v[VIGIL_BURST]; /* a variant, or VARIANTS: E clear */

		for (unsigned i = 0; i < VIGIL_BURST; i++) {
			uint32_t len = 8 + 4 * randombytes_uniform(64);
			bool encrypt;
			int n;

			v[i] = randombytes_uniform(VARIANTS + 1);
			if (v[i] == WRONG_ROC)
				v[i] = AUTHENTIC; /* SRTCP carries its index */
			encrypt = v[i] != VARIANTS;
			randombytes_buf(a[i], len);
			a[i][0] = 0x80;
			a[i][1] = (uint8_t)(200 + randombytes_uniform(5));
			n = vigil_srtcp_encrypt(&s, a[i], len, randombytes_uniform(1u << 31), encrypt);
			assert_int_equal(n, (int)(len + VIGIL_SRTCP_TRAILER_LEN));
			if (v[i] == FORGED)
				a[i][randombytes_uniform((uint32_t)n)] ^= (uint8_t)(1u << randombytes_uniform(8));
			else if (v[i] == TRUNCATED)
				n -= 1 + (int)randombytes_uniform(VIGIL_SRTP_TAG_LEN);
			memcpy(b[i], a[i], (size_t)n);
			p[i] = (struct vigil_cryptodev_pkt){.pkt = b[i], .len = (uint32_t)n, .status = -1};
		}
		vigil_cryptodev_srtcp_decrypt(&d, sess, s.salt, p, VIGIL_BURST);
		for (unsigned i = 0; i < VIGIL_BURST; i++) {
			uint32_t index;
			bool e_set = p[i].len >= 4 && (a[i][p[i].len - 4] & 0x80);
			int rc = vigil_srtcp_decrypt(&s, a[i], p[i].len, &index);

			checked[v[i]]++;
			if (!e_set) { /* E clear (or flipped clear): libsodium's */
				assert_int_equal(p[i].status, EINVAL);
				continue;
			}
			if ((rc >= 0) != (p[i].status == 0))
				fail_msg("%s SRTCP: variant %u, libsodium %d, cryptodev %d", name, v[i], rc, p[i].status);
			if (rc >= 0)
				assert_memory_equal(a[i], p[i].pkt, (size_t)rc);
		}
	}
	assert_true(checked[AUTHENTIC] > 0 && checked[FORGED] > 0 && checked[TRUNCATED] > 0 && checked[VARIANTS] > 0);
	sodium_memzero(rk, sizeof(rk));
	vigil_cryptodev_session_free(&d, sess);
	vigil_srtp_wipe(&s);
	vigil_cryptodev_close(&d);
}

static void test_srtcp(void **state)
{
	(void)state;
	srtcp_same("crypto_aesni_gcm0");
	srtcp_same("crypto_aesni_mb0");
}

static void test_aesni_gcm(void **state)
{
	(void)state;
	one_device("crypto_aesni_gcm0", false);
}

static void test_aesni_mb(void **state)
{
	(void)state;
	one_device("crypto_aesni_mb0", false);
}

static void test_aesni_mb_queue_pair(void **state)
{
	(void)state;
	one_device("crypto_aesni_mb0", true);
}

/* What is not there says so. */
static void test_no_device(void **state)
{
	struct vigil_cryptodev d;
	char msg[256];

	(void)state;
	assert_int_equal(vigil_cryptodev_open(&d, "crypto_none0", 16, 1, false, msg, sizeof(msg)), -ENODEV);
	assert_non_null(strstr(msg, "crypto_none0"));
}

int main(void)
{
	char prefix[64];
	char *args[] = {"test_cryptodev", "--no-huge", "--no-shconf", "-m", "256", "--no-pci", "-l", "0",
			"--log-level=*:error", prefix, "--vdev=crypto_aesni_gcm0", "--vdev=crypto_aesni_mb0", NULL};
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_aesni_gcm),
	    cmocka_unit_test(test_aesni_mb),
	    cmocka_unit_test(test_aesni_mb_queue_pair),
	    cmocka_unit_test(test_srtcp),
	    cmocka_unit_test(test_no_device),
	};

	snprintf(prefix, sizeof(prefix), "--file-prefix=test_cryptodev_%d", (int)getpid());
	if (sodium_init() < 0 || rte_eal_init(12, args) < 0 || vigil_srtp_available() < 0) {
		fprintf(stderr, "test_cryptodev: cannot start the EAL or libsodium's AES-GCM\n");
		return 1;
	}
	mbufs = rte_pktmbuf_pool_create("test_cryptodev", 2 * VIGIL_BURST, 0, 0, PKT_MAX + RTE_PKTMBUF_HEADROOM,
					(int)rte_socket_id());
	if (mbufs == NULL)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
