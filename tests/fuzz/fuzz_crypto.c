/* SPDX-License-Identifier: MIT */
/* libFuzzer target, differential: one SRTP packet (authentic, tampered,
 * truncated or junk; any header length from 12 to 72 bytes, any ROC and
 * sequence number) decrypted in place by both engines, libsodium's
 * (proto/srtp.c) and the cryptodev one (dataplane/cryptodev.c) on both
 * ipsec-mb PMDs, through the CPU crypto API and (aesni_mb) through a queue
 * pair from an mbuf. Same verdict, and on success the same plaintext,
 * which is the original for an untouched authentic packet. And SRTCP (E
 * set or clear, authentic or junk, tampered, truncated): the device's
 * verdict and plaintext are libsodium's wherever it takes the packet (E
 * set, long enough), and it refuses to judge the rest (EINVAL). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_mbuf.h>

#include "cryptodev.h"
#include "srtp.h"

#define MAX_PAYLOAD 1400
#define HDR_LENS 16 /* 12 + 4 * 0..15 */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const devs[] = {"crypto_aesni_gcm0", "crypto_aesni_mb0"};
static struct vigil_cryptodev dev[2];
static void *sess[2][HDR_LENS];
static struct vigil_srtp sodium;
static struct rte_mempool *mbufs;
static uint8_t session_key[VIGIL_SRTP_MASTER_KEY_LEN];
static struct vigil_srtp sodium_rtcp;
static void *rtcp_sess[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const uint8_t master_key[VIGIL_SRTP_MASTER_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
	static const uint8_t master_salt[VIGIL_SRTP_MASTER_SALT_LEN] = {0xa, 0xb, 0xc};
	char prefix[64], msg[256];
	char *args[] = {"fuzz_crypto", "--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--log-level=*:error",
			"--vdev=crypto_aesni_gcm0", "--vdev=crypto_aesni_mb0", prefix, NULL};

	(void)argc;
	(void)argv;
	snprintf(prefix, sizeof(prefix), "--file-prefix=fuzz_crypto_%d", (int)getpid());
	if (rte_eal_init(10, args) < 0 || vigil_srtp_init(&sodium, master_key, master_salt) < 0 ||
	    vigil_srtp_kdf(master_key, master_salt, VIGIL_SRTP_MASTER_SALT_LEN, VIGIL_SRTP_LABEL_RTP_ENCRYPTION,
			   session_key, sizeof(session_key)) < 0) {
		fprintf(stderr, "fuzz_crypto: no EAL or no AES-NI\n");
		exit(1);
	}
	for (int d = 0; d < 2; d++)
		if (vigil_cryptodev_open(&dev[d], devs[d], 2 * HDR_LENS + 1, 1, d == 1, msg, sizeof(msg)) < 0) {
			fprintf(stderr, "fuzz_crypto: %s\n", msg);
			exit(1);
		}
	/* SRTCP: libsodium's RTCP keys, and a session of the RTCP key on each device. */
	uint8_t rtcp_key[VIGIL_SRTP_MASTER_KEY_LEN];

	if (vigil_srtcp_init(&sodium_rtcp, master_key, master_salt) < 0 ||
	    vigil_srtp_kdf(master_key, master_salt, VIGIL_SRTP_MASTER_SALT_LEN, VIGIL_SRTP_LABEL_RTCP_ENCRYPTION,
			   rtcp_key, sizeof(rtcp_key)) < 0)
		exit(1);
	for (int d = 0; d < 2; d++)
		if ((rtcp_sess[d] = vigil_cryptodev_session(&dev[d], rtcp_key, 12, false)) == NULL)
			exit(1);
	mbufs = rte_pktmbuf_pool_create("fuzz_crypto", 8, 0, 0, RTE_PKTMBUF_HEADROOM + 2048, 0);
	if (mbufs == NULL)
		exit(1);
	return 0;
}

static void *session(int d, uint16_t hdr_len)
{
	void **s = &sess[d][(hdr_len - 12) / 4];

	if (*s == NULL && (*s = vigil_cryptodev_session(&dev[d], session_key, hdr_len, false)) == NULL)
		abort();
	return *s;
}

/* SRTCP: the packet orig, len bytes (data[1]: bit 0 junk, 1 tampered,
 * 2 truncated, 4 E clear; data[5..8] the index). */
static void srtcp_case(const uint8_t *data, uint8_t *orig, size_t body)
{
	uint8_t ref[96 + MAX_PAYLOAD + VIGIL_SRTP_TAG_LEN + 4], mine[sizeof(ref)];
	uint32_t index = ((uint32_t)data[5] << 24 | (uint32_t)data[6] << 16 | (uint32_t)data[7] << 8 | data[8]) &
			 ~VIGIL_SRTCP_E_BIT;
	size_t len = body;
	int rc;

	if (!(data[1] & 1)) { /* authentic */
		if (body < VIGIL_SRTCP_HEADER_LEN)
			return;
		rc = vigil_srtcp_encrypt(&sodium_rtcp, orig, body, index, !(data[1] & 16));
		if (rc != (int)(body + VIGIL_SRTCP_TRAILER_LEN))
			abort();
		len = (size_t)rc;
	}
	if (data[1] & 2)
		orig[data[2] % (len ? len : 1)] ^= data[3] | 1;
	if (data[1] & 4)
		len -= len < data[4] % 32 ? len : data[4] % 32;
	memcpy(ref, orig, len);
	rc = vigil_srtcp_decrypt(&sodium_rtcp, ref, len, &index);
	for (int d = 0; d < 2; d++) {
		struct vigil_cryptodev_pkt p = {.pkt = mine, .len = (uint32_t)len};
		bool takes = len >= VIGIL_SRTCP_HEADER_LEN + VIGIL_SRTCP_TRAILER_LEN && (orig[len - 4] & 0x80);

		memcpy(mine, orig, len);
		vigil_cryptodev_srtcp_decrypt(&dev[d], rtcp_sess[d], sodium_rtcp.salt, &p, 1);
		if (!takes) {
			if (p.status != EINVAL)
				abort(); /* only E set is the device's */
			continue;
		}
		if ((p.status == 0) != (rc >= 0))
			abort(); /* verdicts differ */
		if (rc >= 0 && memcmp(mine, ref, (size_t)rc) != 0)
			abort(); /* plaintexts differ */
	}
}

/* Input: [0] header length, [1] what to do, [2..3] where to flip and
 * what, [4] how much to cut, [5..8] ROC, [9..10] sequence number, then
 * the header's bytes and the payload (or, for junk, the whole body).
 * [1] bit 3: SRTCP instead (srtcp_case). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t orig[96 + MAX_PAYLOAD + VIGIL_SRTP_TAG_LEN], mine[2][sizeof(orig)];
	uint16_t hdr_len, seq;
	uint32_t roc, ssrc = 0x1234abcd;
	size_t body, len;
	bool authentic;
	int rc;

	if (size < 11)
		return 0;
	hdr_len = (uint16_t)(12 + 4 * (data[0] % HDR_LENS));
	authentic = !(data[1] & 1);
	roc = (uint32_t)data[5] << 24 | (uint32_t)data[6] << 16 | (uint32_t)data[7] << 8 | data[8];
	seq = (uint16_t)(data[9] << 8 | data[10]);
	body = size - 11 > hdr_len + MAX_PAYLOAD ? hdr_len + MAX_PAYLOAD : size - 11;
	memset(orig, 0, sizeof(orig));
	memcpy(orig, data + 11, body);
	orig[0] = 0x80;
	if (data[1] & 8) {
		srtcp_case(data, orig, body);
		return 0;
	}
	if (authentic) {
		if (body < hdr_len)
			return 0;
		rc = vigil_srtp_encrypt(&sodium, orig, body, hdr_len, ssrc, roc, seq);
		if (rc != (int)(body + VIGIL_SRTP_TAG_LEN))
			abort();
		len = (size_t)rc;
	} else {
		len = body; /* junk: its last 16 bytes as a tag */
	}
	if (data[1] & 2) /* tampered */
		orig[data[2] % (len ? len : 1)] ^= data[3] | 1;
	if (data[1] & 4) /* truncated */
		len -= len < data[4] % 32 ? len : data[4] % 32;
	for (int d = 0; d < 2; d++)
		memcpy(mine[d], orig, len);
	/* The reference: libsodium, after a plaintext kept aside. */
	uint8_t ref[sizeof(orig)];
	memcpy(ref, orig, len);
	rc = len >= (size_t)hdr_len + VIGIL_SRTP_TAG_LEN
		 ? vigil_srtp_decrypt(&sodium, ref, len, hdr_len, ssrc, roc, seq)
		 : -1;
	for (int d = 0; d < 2; d++) {
		struct vigil_cryptodev_pkt p = {.pkt = mine[d], .len = (uint32_t)len, .ssrc = ssrc, .roc = roc, .seq = seq};
		unsigned ok = vigil_cryptodev_srtp_decrypt(&dev[d], session(d, hdr_len), sodium.salt, hdr_len, &p, 1);

		if ((ok == 1) != (rc >= 0) || (p.status == 0) != (rc >= 0))
			abort(); /* verdicts differ */
		if (rc >= 0 && memcmp(mine[d], ref, len - VIGIL_SRTP_TAG_LEN) != 0)
			abort(); /* plaintexts differ */
	}
	/* aesni_mb's queue pair, the packet in an mbuf. */
	{
		struct rte_mbuf *m = rte_pktmbuf_alloc(mbufs);
		uint8_t *in = m != NULL ? (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(len ? len : 1)) : NULL;
		struct vigil_cryptodev_pkt p = {.m = m, .pkt = in, .len = (uint32_t)len, .ssrc = ssrc, .roc = roc, .seq = seq};

		if (in == NULL)
			abort();
		memcpy(in, orig, len);
		if ((vigil_cryptodev_srtp_decrypt_qp(&dev[1], 0, session(1, hdr_len), sodium.salt, hdr_len, &p, 1) == 1) !=
		    (rc >= 0))
			abort();
		if (rc >= 0 && memcmp(in, ref, len - VIGIL_SRTP_TAG_LEN) != 0)
			abort();
		rte_pktmbuf_free(m);
	}
	if (authentic && !(data[1] & 6)) {
		if (rc != (int)(len - hdr_len - VIGIL_SRTP_TAG_LEN) || memcmp(ref + hdr_len, data + 11 + hdr_len, (size_t)rc) != 0)
			abort(); /* an untouched authentic packet must open to what was sealed */
	}
	return 0;
}
