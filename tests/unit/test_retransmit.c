/* SPDX-License-Identifier: MIT */
/* The camera's answers to vigild's feedback (cam/retransmit.h), with
 * SRTCP made as vigild makes it (an RR from vigild's SSRC, NACKs and a PLI
 * for the camera, vigil_srtcp_encrypt under the camera's master key): RTX
 * packets decrypt under the RTX SSRC and carry the originals byte for
 * byte; forged (every byte flipped in turn), replayed and reflected
 * feedback is refused and counted, nothing sent; numbers never sent, out
 * of the buffer or too old are counted missing; a PLI asks for a key
 * frame; the rate limit holds under a flood of valid NACKs; a static key's
 * RTX index resumes past its reservation after a restart. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sodium.h>

#include "retransmit.h"
#include "vigil/bytes.h"
#include "vigil/clock.h"

#define SSRC 0x0badcafeu
#define RTX_SSRC 0x5ca1ab1eu
#define VIGILD_SSRC 0xfeedf00du
#define RTX_PT 97
#define MASTER_LEN (VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN)
#define SLOTS 256
#define SENT_MAX 1024

static uint8_t master[MASTER_LEN];
static char dir[64];

/* What a packet carried, as vigild would decrypt it. */
struct original {
	bool sent;
	uint32_t ts;
	bool marker;
	size_t len;
	uint8_t payload[VIGIL_PACKETIZE_MAX];
};

struct fixture {
	struct vigil_sender tx;
	struct vigil_retransmit rt;
	struct vigil_srtp rx;	/* vigild's RTP keys: to read what the camera sends */
	struct vigil_srtp fb;	/* vigild's RTCP keys: to write feedback */
	uint32_t srtcp_index;
	struct original orig[65536 / 64]; /* by seq % SENT_MAX; only the last SENT_MAX checked */
	uint16_t first_seq, next_seq;
	uint64_t media_bytes;
	/* what the retransmitter put out */
	unsigned n_rtx, key_frames;
	uint8_t rtx[64][VIGIL_RTX_MAX_PACKET];
	size_t rtx_len[64];
	uint64_t rtx_payload_bytes; /* the originals' bytes the RTX carried */
};

_Static_assert(65536 / 64 == SENT_MAX, "orig holds SENT_MAX packets");

static void on_media(void *arg, const uint8_t *pkt, size_t len)
{
	struct fixture *f = arg;
	uint64_t index = f->tx.index;
	struct original *o = &f->orig[(uint16_t)index % SENT_MAX];
	uint8_t copy[VIGIL_SENDER_MAX_PACKET];
	int n;

	assert_true(len <= sizeof(copy));
	memcpy(copy, pkt, len);
	n = vigil_srtp_decrypt(&f->rx, copy, len, VIGIL_RTP_HEADER_LEN, SSRC, (uint32_t)(index >> 16),
			       (uint16_t)index);
	assert_true(n >= 0);
	o->sent = true;
	o->ts = vigil_get32(copy + 4);
	o->marker = copy[1] & 0x80;
	o->len = (size_t)n;
	memcpy(o->payload, copy + VIGIL_RTP_HEADER_LEN, (size_t)n);
	f->media_bytes += (size_t)n;
	f->next_seq = (uint16_t)(index + 1);
}

static void on_rtx(void *arg, const uint8_t *pkt, size_t len)
{
	struct fixture *f = arg;

	assert_true(f->n_rtx < 64 && len <= VIGIL_RTX_MAX_PACKET);
	memcpy(f->rtx[f->n_rtx], pkt, len);
	f->rtx_len[f->n_rtx++] = len;
}

static void on_key_frame(void *arg)
{
	((struct fixture *)arg)->key_frames++;
}

/* n access units of one NAL unit each, of sizes that make one to three
 * packets (FU-A), with bytes of their own. */
static void send_media(struct fixture *f, unsigned n)
{
	static unsigned made;
	uint8_t au[4 + 3000];

	for (unsigned i = 0; i < n; i++, made++) {
		size_t len = 4 + 200 + made * 397 % 2800;

		memcpy(au, (const uint8_t[]){0, 0, 0, 1, 0x41}, 5);
		for (size_t k = 5; k < len; k++)
			au[k] = (uint8_t)(k * 31 + made);
		assert_int_equal(vigil_sender_au(&f->tx, VIGIL_CODEC_H264, au, len, made * 3000, 1200, on_media, f), 0);
	}
}

/* SRTCP as vigild sends it: an RR from sender, a NACK of missing for
 * media, a PLI when pli; the next SRTCP index, E set. */
static size_t feedback(struct fixture *f, uint8_t *out, uint32_t sender, uint32_t media, const uint16_t *missing,
		       unsigned n, bool pli)
{
	size_t len = vigil_rtcp_rr(out, 1400, sender, NULL);
	unsigned taken = 0;
	int rc;

	if (n > 0)
		len += vigil_rtcp_nack(out + len, 1400 - len, sender, media, missing, n, &taken);
	assert_int_equal(taken, n);
	if (pli)
		len += vigil_rtcp_pli(out + len, 1400 - len, sender, media);
	rc = vigil_srtcp_encrypt(&f->fb, out, len, f->srtcp_index++, true);
	assert_true(rc > 0);
	return (size_t)rc;
}

static int take(struct fixture *f, const uint8_t *pkt, size_t len)
{
	return vigil_retransmit_feedback(&f->rt, pkt, len, vigil_now_ns(), on_rtx, on_key_frame, f);
}

/* RTX packet i decrypts under the RTX SSRC at RTX index `index` and is
 * the original want_osn (-1: whichever it names): timestamp, marker,
 * payload byte for byte. */
static void check_rtx(struct fixture *f, unsigned i, uint64_t index, int32_t want_osn)
{
	uint8_t *p = f->rtx[i], out[VIGIL_RTX_MAX_PACKET];
	const struct original *o;
	uint16_t osn;
	int n;

	assert_int_equal(p[0] >> 6, 2);
	assert_int_equal(p[1] & 0x7f, RTX_PT);
	assert_int_equal(vigil_get16(p + 2), (uint16_t)index);
	assert_int_equal(vigil_get32(p + 8), RTX_SSRC);
	/* Not under the media SSRC's nonce. */
	n = vigil_srtp_decrypt_to(&f->rx, p, f->rtx_len[i], VIGIL_RTP_HEADER_LEN, SSRC, (uint32_t)(index >> 16),
				  (uint16_t)index, out);
	assert_int_equal(n, -EBADMSG);
	n = vigil_srtp_decrypt(&f->rx, p, f->rtx_len[i], VIGIL_RTP_HEADER_LEN, RTX_SSRC, (uint32_t)(index >> 16),
			       (uint16_t)index);
	assert_true(n >= 2);
	assert_int_equal(vigil_rtx_unwrap(p + VIGIL_RTP_HEADER_LEN, (size_t)n, &osn), 2);
	if (want_osn >= 0)
		assert_int_equal(osn, want_osn);
	o = &f->orig[osn % SENT_MAX];
	assert_true(o->sent);
	assert_int_equal(vigil_get32(p + 4), o->ts);
	assert_int_equal(!!(p[1] & 0x80), o->marker);
	assert_int_equal((size_t)n - 2, o->len);
	assert_memory_equal(p + VIGIL_RTP_HEADER_LEN + 2, o->payload, o->len);
	f->rtx_payload_bytes += o->len;
}

static struct fixture *start(const char *rtx_state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char msg[256] = "";

	assert_non_null(f);
	f->first_seq = f->next_seq = (uint16_t)randombytes_uniform(65536);
	assert_int_equal(vigil_sender_init_ephemeral(&f->tx, SSRC, 96, f->first_seq, master), 0);
	if (vigil_retransmit_init(&f->rt, SSRC, RTX_SSRC, RTX_PT, master, SLOTS, rtx_state, msg, sizeof(msg)) != 0)
		fail_msg("init: %s", msg);
	f->tx.rtx = &f->rt;
	assert_int_equal(vigil_srtp_init(&f->rx, master, master + VIGIL_SRTP_MASTER_KEY_LEN), 0);
	assert_int_equal(vigil_srtcp_init(&f->fb, master, master + VIGIL_SRTP_MASTER_KEY_LEN), 0);
	return f;
}

static void stop(struct fixture *f)
{
	vigil_sender_wipe(&f->tx);
	vigil_retransmit_wipe(&f->rt);
	assert_null(f->rt.slots);
	free(f);
}

static void test_nack_answered(void **state)
{
	struct fixture *f = start(NULL);
	uint8_t pkt[1500];
	uint16_t missing[5];
	uint64_t index0 = f->rt.rtx_index;
	size_t len;

	(void)state;
	send_media(f, 40);
	assert_true((uint16_t)(f->next_seq - f->first_seq) > 50); /* some access units made several */
	/* The first, the last, and three across the middle (one BLP). */
	missing[0] = f->first_seq;
	missing[1] = (uint16_t)(f->first_seq + 20);
	missing[2] = (uint16_t)(f->first_seq + 22);
	missing[3] = (uint16_t)(f->first_seq + 23);
	missing[4] = (uint16_t)(f->next_seq - 1);
	len = feedback(f, pkt, VIGILD_SSRC, SSRC, missing, 5, false);
	assert_int_equal(take(f, pkt, len), 0);
	assert_int_equal(f->n_rtx, 5);
	for (unsigned i = 0; i < 5; i++)
		check_rtx(f, i, index0 + i, missing[i]);
	assert_int_equal(f->rt.count.feedback, 1);
	assert_int_equal(f->rt.count.nacked, 5);
	assert_int_equal(f->rt.count.rtx_sent, 5);
	assert_int_equal(f->rt.count.rtx_bytes, f->rtx_payload_bytes + 10);
	assert_int_equal(f->rt.count.missing + f->rt.count.rate_limited + f->key_frames, 0);
	/* A NACK again (vigild's RTX was lost): sent again, the RTX index on. */
	len = feedback(f, pkt, VIGILD_SSRC, SSRC, missing + 4, 1, false);
	assert_int_equal(take(f, pkt, len), 0);
	check_rtx(f, 5, index0 + 5, missing[4]);
	/* A NACK for another SSRC: not this camera's to answer. */
	len = feedback(f, pkt, VIGILD_SSRC, RTX_SSRC, missing, 5, false);
	assert_int_equal(take(f, pkt, len), 0);
	assert_int_equal(f->n_rtx, 6);
	assert_int_equal(f->rt.count.nacked, 6);
	stop(f);
}

/* Every byte flipped in turn: refused as forged (a flip in the index
 * names another index, which the tag covers, or one seen: replayed),
 * nothing sent, the window untouched: the untouched packet then goes
 * through; and once more is a replay. */
static void test_forged_and_replayed(void **state)
{
	struct fixture *f = start(NULL);
	uint8_t pkt[1500], bad[1500];
	uint16_t missing = 0;
	uint64_t replayed;
	size_t len;
	int rc;

	(void)state;
	send_media(f, 10);
	/* One authentic packet first, so the window has seen an index. */
	len = feedback(f, pkt, VIGILD_SSRC, SSRC, NULL, 0, false);
	assert_int_equal(take(f, pkt, len), 0);
	missing = (uint16_t)(f->first_seq + 3);
	len = feedback(f, pkt, VIGILD_SSRC, SSRC, &missing, 1, true);
	for (size_t i = 0; i < len; i++) {
		memcpy(bad, pkt, len);
		bad[i] ^= (uint8_t)(1u << (i % 8));
		rc = take(f, bad, len);
		if (rc != -EBADMSG && !(rc == -EALREADY && i >= len - 4))
			fail_msg("byte %zu flipped: %d", i, rc);
	}
	assert_int_equal(f->rt.count.forged + f->rt.count.replayed, len);
	replayed = f->rt.count.replayed;
	assert_int_equal(f->n_rtx + f->key_frames, 0);
	/* Cut short, or a trailer alone: malformed. */
	assert_int_equal(take(f, pkt, len - 1), -EBADMSG);
	assert_int_equal(take(f, pkt, VIGIL_SRTCP_HEADER_LEN + VIGIL_SRTCP_TRAILER_LEN - 1), -EINVAL);
	assert_int_equal(f->rt.count.malformed, 1);
	assert_int_equal(take(f, pkt, len), 0);
	assert_int_equal(f->n_rtx, 1);
	assert_int_equal(f->key_frames, 1);
	check_rtx(f, 0, f->rt.rtx_index - 1, missing);
	assert_int_equal(take(f, pkt, len), -EALREADY);
	assert_int_equal(f->n_rtx, 1);
	assert_int_equal(f->key_frames, 1);
	assert_int_equal(f->rt.count.replayed, replayed + 1);
	assert_int_equal(f->rt.count.forged + f->rt.count.replayed, len + 2);
	assert_int_equal(f->rt.count.feedback, len + 5);
	stop(f);
}

/* Authentic SRTCP whose sender is the camera itself (its own SRTCP
 * reflected), or its RTX stream: refused. An authentic packet that is not
 * RTCP: malformed. */
static void test_wrong_sender(void **state)
{
	struct fixture *f = start(NULL);
	uint8_t pkt[1500];
	uint16_t missing;
	size_t len;

	(void)state;
	send_media(f, 5);
	missing = f->first_seq;
	len = feedback(f, pkt, SSRC, SSRC, &missing, 1, true);
	assert_int_equal(take(f, pkt, len), -EPERM);
	len = feedback(f, pkt, RTX_SSRC, SSRC, &missing, 1, true);
	assert_int_equal(take(f, pkt, len), -EPERM);
	assert_int_equal(f->rt.count.wrong_sender, 2);
	memcpy(pkt, (const uint8_t[]){0x81, 201, 0, 5, 1, 2, 3, 4}, 8); /* says 24 bytes, has 8 */
	assert_int_equal(vigil_srtcp_encrypt(&f->fb, pkt, 8, f->srtcp_index++, true), 8 + VIGIL_SRTCP_TRAILER_LEN);
	assert_int_equal(take(f, pkt, 8 + VIGIL_SRTCP_TRAILER_LEN), -EINVAL);
	assert_int_equal(f->rt.count.malformed, 1);
	assert_int_equal(f->n_rtx + f->key_frames, 0);
	assert_int_equal(f->rt.count.nacked, 0);
	/* The camera's own reports reflected back, far ahead of vigild's
	 * index: refused, and they move nothing, so vigild's next feedback
	 * is still taken. */
	f->srtcp_index += 100000;
	len = feedback(f, pkt, SSRC, SSRC, &missing, 1, false);
	assert_int_equal(take(f, pkt, len), -EPERM);
	f->srtcp_index -= 100001;
	len = feedback(f, pkt, VIGILD_SSRC, SSRC, &missing, 1, false);
	assert_int_equal(take(f, pkt, len), 0);
	assert_int_equal(f->n_rtx, 1);
	stop(f);
}

/* Numbers never sent, pushed out of the buffer by newer ones, or older
 * than VIGIL_RTX_HOLD_MS: missing, nothing sent. */
static void test_missing(void **state)
{
	struct fixture *f = start(NULL);
	uint8_t pkt[1500];
	uint16_t missing[3];
	size_t len;

	(void)state;
	send_media(f, 200);
	assert_true((uint16_t)(f->next_seq - f->first_seq) > SLOTS + 10);
	missing[0] = f->first_seq;		     /* overwritten */
	missing[1] = (uint16_t)(f->next_seq - 2);    /* held */
	missing[2] = (uint16_t)(f->next_seq + 1000); /* never sent */
	len = feedback(f, pkt, VIGILD_SSRC, SSRC, missing, 3, false);
	assert_int_equal(take(f, pkt, len), 0);
	assert_int_equal(f->rt.count.missing, 2);
	assert_int_equal(f->n_rtx, 1);
	check_rtx(f, 0, f->rt.rtx_index - 1, missing[1]);
	/* The same held number, asked for too late. */
	len = feedback(f, pkt, VIGILD_SSRC, SSRC, missing + 1, 1, false);
	assert_int_equal(vigil_retransmit_feedback(&f->rt, pkt, len,
						   vigil_now_ns() + (VIGIL_RTX_HOLD_MS + 1) * UINT64_C(1000000), on_rtx,
						   on_key_frame, f),
			 0);
	assert_int_equal(f->rt.count.missing, 3);
	assert_int_equal(f->n_rtx, 1);
	stop(f);
}

/* A PLI alone (reduced-size would do too) calls the callback once. */
static void test_pli(void **state)
{
	struct fixture *f = start(NULL);
	uint8_t pkt[1500];
	size_t len;

	(void)state;
	len = feedback(f, pkt, VIGILD_SSRC, SSRC, NULL, 0, true);
	assert_int_equal(take(f, pkt, len), 0);
	assert_int_equal(f->key_frames, 1);
	assert_int_equal(f->rt.count.pli, 1);
	/* For another SSRC: none. */
	len = feedback(f, pkt, VIGILD_SSRC, SSRC + 1, NULL, 0, true);
	assert_int_equal(take(f, pkt, len), 0);
	assert_int_equal(f->key_frames, 1);
	stop(f);
}

/* Every RTX put out so far checked against its original, counted. */
static void drain(struct fixture *f)
{
	for (unsigned k = 0; k < f->n_rtx; k++)
		check_rtx(f, k, f->rt.rtx_index - f->n_rtx + k, -1);
	f->n_rtx = 0;
}

/* Valid NACKs for everything held, again and again: what is resent stays
 * within half the media bytes plus the burst; more media earns more. */
static void test_rate_limit(void **state)
{
	struct fixture *f = start(NULL);
	uint8_t pkt[1500];
	uint16_t missing[200];
	uint64_t limited;
	size_t len;

	(void)state;
	send_media(f, 60);
	for (unsigned i = 0; i < 200; i++)
		missing[i] = (uint16_t)(f->next_seq - 200 + i);
	/* Each number held once: as much as the bucket has, about. */
	for (unsigned i = 0; i < 200; i += 10) {
		len = feedback(f, pkt, VIGILD_SSRC, SSRC, missing + i, 10, false);
		assert_int_equal(take(f, pkt, len), 0);
		drain(f);
	}
	assert_true(f->rt.count.rate_limited > 0);
	assert_true(f->rtx_payload_bytes <= f->media_bytes / VIGIL_RTX_SHARE + VIGIL_RTX_BURST_BYTES);
	assert_true(f->rtx_payload_bytes + 2 * VIGIL_PACKETIZE_MAX >
		    (f->media_bytes / VIGIL_RTX_SHARE < VIGIL_RTX_BURST_BYTES ? f->media_bytes / VIGIL_RTX_SHARE
									      : VIGIL_RTX_BURST_BYTES));
	/* A flood of valid NACKs: next to nothing more until media earns it. */
	limited = f->rt.count.rate_limited;
	for (unsigned r = 0; r < 50; r++) {
		len = feedback(f, pkt, VIGILD_SSRC, SSRC, missing + 190, 10, false);
		assert_int_equal(take(f, pkt, len), 0);
		drain(f);
	}
	assert_true(f->rt.count.rate_limited - limited >= 490);
	assert_true(f->rtx_payload_bytes <= f->media_bytes / VIGIL_RTX_SHARE + VIGIL_RTX_BURST_BYTES);
	send_media(f, 3);
	missing[0] = (uint16_t)(f->next_seq - 1);
	len = feedback(f, pkt, VIGILD_SSRC, SSRC, missing, 1, false);
	assert_int_equal(take(f, pkt, len), 0);
	assert_int_equal(f->n_rtx, 1);
	drain(f);
	stop(f);
}

/* Under a static key: the RTX index is reserved ahead in its own state
 * file, and after a restart resumes at the reservation, past every index
 * the last run may have used. Two retransmitters on one file: refused. */
static void test_static_resume(void **state)
{
	char path[128], msg[256];
	struct fixture *f;
	struct vigil_retransmit other;
	uint8_t pkt[1500];
	uint16_t missing;
	uint64_t index0;
	size_t len;

	(void)state;
	snprintf(path, sizeof(path), "%s/cam.state.rtx", dir);
	f = start(path);
	index0 = f->rt.rtx_index;
	assert_int_equal(vigil_retransmit_init(&other, SSRC, RTX_SSRC, RTX_PT, master, SLOTS, path, msg, sizeof(msg)),
			 -EBUSY);
	send_media(f, 5);
	missing = (uint16_t)(f->next_seq - 1);
	for (unsigned i = 0; i < 3; i++) {
		len = feedback(f, pkt, VIGILD_SSRC, SSRC, &missing, 1, false);
		assert_int_equal(take(f, pkt, len), 0);
		check_rtx(f, i, index0 + i, missing);
	}
	assert_int_equal(f->rt.reserved, index0 + VIGIL_INDEX_RESERVE);
	stop(f);

	f = start(path);
	assert_int_equal(f->rt.rtx_index, index0 + VIGIL_INDEX_RESERVE);
	send_media(f, 5);
	missing = (uint16_t)(f->next_seq - 1);
	len = feedback(f, pkt, VIGILD_SSRC, SSRC, &missing, 1, false);
	assert_int_equal(take(f, pkt, len), 0);
	check_rtx(f, 0, index0 + VIGIL_INDEX_RESERVE, missing);
	/* A static key is never rekeyed. */
	assert_int_equal(vigil_retransmit_rekey(&f->rt, master), -EINVAL);
	stop(f);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/cam.state.rtx.lock", dir);
	assert_int_equal(unlink(path), 0);
}

/* Init refuses an RTX SSRC that is the media one, and too many slots. */
static void test_init_refused(void **state)
{
	struct vigil_retransmit rt;
	char msg[256];

	(void)state;
	assert_int_equal(vigil_retransmit_init(&rt, SSRC, SSRC, RTX_PT, master, SLOTS, NULL, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(vigil_retransmit_init(&rt, SSRC, RTX_SSRC, 128, master, SLOTS, NULL, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(vigil_retransmit_init(&rt, SSRC, RTX_SSRC, RTX_PT, master, VIGIL_RTX_SLOTS_MAX + 1, NULL, msg,
					       sizeof(msg)),
			 -EINVAL);
	assert_int_equal(vigil_retransmit_init(&rt, SSRC, RTX_SSRC, RTX_PT, master, 100, NULL, msg, sizeof(msg)), 0);
	assert_int_equal(rt.n_slots, 128);
	vigil_retransmit_wipe(&rt);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_retransmit.XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nack_answered), cmocka_unit_test(test_forged_and_replayed),
	    cmocka_unit_test(test_wrong_sender),  cmocka_unit_test(test_missing),
	    cmocka_unit_test(test_pli),		  cmocka_unit_test(test_rate_limit),
	    cmocka_unit_test(test_static_resume), cmocka_unit_test(test_init_refused),
	};

	if (sodium_init() < 0 || vigil_srtp_available() < 0) {
		printf("1..0 # SKIP no AES-NI\n");
		return 77;
	}
	randombytes_buf(master, sizeof(master));
	return cmocka_run_group_tests(tests, setup, teardown);
}
