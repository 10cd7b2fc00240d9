/* SPDX-License-Identifier: MIT */
/* The sender under a static key never repeats a packet index: every packet
 * decrypts under exactly the index it claims, restarts (clean, or a crash
 * right after a reservation was written, or in the middle of writing one)
 * resume above every index used and within the bound of index_store.h
 * past the last one sent; a state file that is corrupt (every byte flipped
 * in turn), cut, another SSRC's, locked by another sender, or unwritable is
 * refused with a message, never taken for a fresh start; another key's
 * starts afresh; a file written by hand from the layout in index_store.h is
 * read as documented. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sodium.h>

#include "sender.h"

#define SSRC 0x0badcafeu
#define R VIGIL_INDEX_RESERVE
#define MASTER_LEN (VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN)

static uint8_t key_a[MASTER_LEN], key_b[MASTER_LEN];
static char dir[64], path[128];

/* What left the sender: every index, checked to decrypt under it. */
struct rx {
	struct vigil_srtp srtp;
	const struct vigil_sender *s;
	uint64_t *seen;
	size_t n, cap;
	bool die_at_first; /* _exit(0) instead of sending: a crash right after a reservation */
};

static void receive(void *arg, const uint8_t *pkt, size_t len)
{
	struct rx *rx = arg;
	uint64_t index = rx->s->index;
	uint8_t copy[VIGIL_SENDER_MAX_PACKET];

	if (rx->die_at_first)
		_exit(0);
	assert_true(len > VIGIL_RTP_HEADER_LEN + VIGIL_SRTP_TAG_LEN && len <= sizeof(copy));
	assert_int_equal(pkt[2] << 8 | pkt[3], index & 0xffff);
	memcpy(copy, pkt, len);
	assert_true(vigil_srtp_decrypt(&rx->srtp, copy, len, VIGIL_RTP_HEADER_LEN, SSRC,
				       (uint32_t)(index >> 16), (uint16_t)index) >= 0);
	if (rx->n == rx->cap) {
		rx->cap = rx->cap ? rx->cap * 2 : 1024;
		rx->seen = realloc(rx->seen, rx->cap * sizeof(*rx->seen));
		assert_non_null(rx->seen);
	}
	rx->seen[rx->n++] = index;
}

/* n one-packet access units. */
static int send_packets(struct vigil_sender *s, struct rx *rx, unsigned n)
{
	static const uint8_t au[] = {0, 0, 0, 1, 0x65, 0x88, 0x84, 0x21, 0xa0, 0x1f};
	int rc = 0;

	rx->s = s;
	for (unsigned i = 0; i < n && rc == 0; i++)
		rc = vigil_sender_au(s, VIGIL_CODEC_H264, au, sizeof(au), i * 3000, 1200, receive, rx);
	return rc;
}

static void start(struct vigil_sender *s, const uint8_t *key, const char *want_msg)
{
	char msg[512] = "";

	assert_int_equal(vigil_sender_init(s, SSRC, 96, key, path, msg, sizeof(msg)), 0);
	if (strstr(msg, want_msg) == NULL)
		fail_msg("message '%s' lacks '%s'", msg, want_msg);
}

static int refused(const uint8_t *key, uint32_t ssrc, const char *want_msg)
{
	struct vigil_sender s;
	char msg[512] = "";
	int rc = vigil_sender_init(&s, ssrc, 96, key, path, msg, sizeof(msg));

	assert_true(rc < 0);
	assert_null(s.store);
	if (strstr(msg, want_msg) == NULL)
		fail_msg("message '%s' lacks '%s'", msg, want_msg);
	return rc;
}

static void read_state(uint8_t rec[VIGIL_INDEX_STORE_LEN])
{
	FILE *f = fopen(path, "rb");

	assert_non_null(f);
	assert_int_equal(fread(rec, 1, VIGIL_INDEX_STORE_LEN + 1, f), VIGIL_INDEX_STORE_LEN);
	fclose(f);
}

static void write_state(const uint8_t *rec, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(rec, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static uint64_t be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* The record as index_store.h describes it, built here independently. */
static void doc_record(uint8_t rec[VIGIL_INDEX_STORE_LEN], uint32_t ssrc, uint64_t limit, const uint8_t *key)
{
	static const char label[] = "vigil sender index state";

	memcpy(rec, "VIGILIDX", 8);
	for (unsigned i = 0; i < 4; i++) {
		rec[8 + i] = (uint8_t)(1u >> 8 * (3 - i));
		rec[12 + i] = (uint8_t)(ssrc >> 8 * (3 - i));
	}
	for (unsigned i = 0; i < 8; i++)
		rec[16 + i] = (uint8_t)(limit >> 8 * (7 - i));
	assert_int_equal(
	    crypto_generichash(rec + 24, 32, key, MASTER_LEN, (const uint8_t *)label, strlen(label)), 0);
	assert_int_equal(crypto_generichash(rec + 56, 16, rec, 56, NULL, 0), 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "sender.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/cam.state", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[512];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static void rx_init(struct rx *rx, const uint8_t *key)
{
	memset(rx, 0, sizeof(*rx));
	assert_int_equal(vigil_srtp_init(&rx->srtp, key, key + VIGIL_SRTP_MASTER_KEY_LEN), 0);
}

static void assert_all_distinct(const struct rx *rx)
{
	uint64_t *v = malloc(rx->n * sizeof(*v));

	assert_non_null(v);
	memcpy(v, rx->seen, rx->n * sizeof(*v));
	for (size_t i = 1; i < rx->n; i++) /* insertion into an almost sorted array */
		for (size_t j = i; j > 0 && v[j - 1] >= v[j]; j--) {
			uint64_t t = v[j];

			assert_true(v[j - 1] != v[j]);
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	free(v);
}

static void test_no_state_refused(void **state)
{
	struct vigil_sender s;
	char msg[256] = "";

	(void)state;
	assert_int_equal(vigil_sender_init(&s, SSRC, 96, key_a, NULL, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "needs a state file"));
	assert_int_equal(vigil_sender_init(&s, SSRC, 96, key_a, "", msg, sizeof(msg)), -EINVAL);
	assert_int_equal(access(path, F_OK), -1);
}

/* Restarts, clean and after crashes, never go back; the state is written
 * once per VIGIL_INDEX_RESERVE packets, before they are sent. */
static void test_restarts(void **state)
{
	struct vigil_sender s;
	struct rx rx;
	uint8_t rec[VIGIL_INDEX_STORE_LEN];
	uint64_t first, last, run2;
	struct stat sb;
	int status;
	pid_t pid;

	(void)state;
	rx_init(&rx, key_a);
	start(&s, key_a, "no state yet");
	first = s.index;
	assert_true(first < 65536);		  /* ROC 0, as RFC 3711 receivers start */
	assert_int_equal(access(path, F_OK), -1); /* nothing reserved before the first packet */
	assert_int_equal(send_packets(&s, &rx, R + 10), 0);
	assert_int_equal(s.reservations, 2);
	print_message("# reservation (write, fdatasync, rename, fsync dir): slowest of 2 %.3f ms\n",
		      s.reserve_max_ns / 1e6);
	read_state(rec);
	assert_int_equal(be(rec + 16, 8), first + 2 * R);
	assert_int_equal(be(rec + 12, 4), SSRC);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	last = s.index - 1;
	vigil_sender_wipe(&s);

	/* Restart: at the reservation, then on. */
	start(&s, key_a, "resumed at index");
	run2 = s.index;
	assert_int_equal(run2, first + 2 * R);
	assert_true(run2 - last <= R + 1);
	assert_int_equal(send_packets(&s, &rx, 3), 0);
	assert_int_equal(rx.seen[rx.n - 3], run2);
	last = s.index - 1;
	vigil_sender_wipe(&s);

	/* Twice in a row, a crash just after the reservation was written,
	 * before its first packet left: each restart still goes above it. */
	for (int k = 0; k < 2; k++) {
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) { /* no cmocka here: a failure must not run the other tests again */
			char msg[256];

			if (vigil_sender_init(&s, SSRC, 96, key_a, path, msg, sizeof(msg)) < 0)
				_exit(2);
			rx.die_at_first = true;
			(void)send_packets(&s, &rx, 1);
			_exit(1);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	start(&s, key_a, "resumed at index");
	assert_int_equal(s.index, run2 + 3 * R);
	/* R + 1 past the last index sent, and R more per such crash: still
	 * below 2^15, which RFC 3711's estimate follows. */
	assert_true(s.index - last <= 3 * R + 1 && 3 * R + 1 < 32768);
	assert_int_equal(send_packets(&s, &rx, 2 * R + 5), 0);
	assert_int_equal(s.reservations, 3);
	vigil_sender_wipe(&s);
	assert_int_equal(rx.n, R + 10 + 3 + 2 * R + 5);
	for (size_t i = 1; i < rx.n; i++)
		assert_true(rx.seen[i] > rx.seen[i - 1]);
	assert_all_distinct(&rx);
	free(rx.seen);
}

/* A crash while the reservation was being written leaves PATH.tmp, of any
 * content: the state file still holds the previous reservation, and the
 * next write replaces the leftover. */
static void test_crash_while_writing(void **state)
{
	static const uint8_t junk[] = "half a record";
	struct vigil_sender s;
	struct rx rx;
	char tmp[160];
	uint64_t at;
	FILE *f;

	(void)state;
	rx_init(&rx, key_a);
	start(&s, key_a, "no state yet");
	assert_int_equal(send_packets(&s, &rx, 1), 0);
	at = s.reserved;
	vigil_sender_wipe(&s);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "wb");
	assert_non_null(f);
	fwrite(junk, 1, sizeof(junk), f);
	fclose(f);
	start(&s, key_a, "resumed at index");
	assert_int_equal(s.index, at);
	assert_int_equal(send_packets(&s, &rx, 1), 0);
	assert_int_equal(access(tmp, F_OK), -1);
	vigil_sender_wipe(&s);
	free(rx.seen);
}

/* A reservation that cannot be written stops the packets at the reserved
 * limit, and the next access unit tries again. */
static void test_write_fails(void **state)
{
	struct vigil_sender s;
	struct rx rx;
	char tmp[160];
	uint64_t at;

	(void)state;
	rx_init(&rx, key_a);
	start(&s, key_a, "no state yet");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(mkdir(tmp, 0700), 0); /* open(O_WRONLY) of it fails, root or not */
	at = s.index;
	assert_int_equal(send_packets(&s, &rx, 1), -EISDIR);
	assert_int_equal(rx.n, 0);
	assert_int_equal(s.index, at);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(rmdir(tmp), 0);
	assert_int_equal(send_packets(&s, &rx, 1), 0);
	assert_int_equal(rx.n, 1);
	assert_int_equal(rx.seen[0], at);
	vigil_sender_wipe(&s);
	free(rx.seen);
}

/* Damaged state is refused, and left as it was for someone to look at. */
static void test_corrupt(void **state)
{
	uint8_t good[VIGIL_INDEX_STORE_LEN], bad[VIGIL_INDEX_STORE_LEN + 1], after[VIGIL_INDEX_STORE_LEN];

	(void)state;
	doc_record(good, SSRC, 123456, key_a);
	for (size_t i = 0; i < sizeof(good); i++) {
		memcpy(bad, good, sizeof(good));
		bad[i] ^= 0x01;
		write_state(bad, sizeof(good));
		assert_int_equal(refused(key_a, SSRC, "corrupt"), -EBADMSG);
		read_state(after);
		assert_memory_equal(after, bad, sizeof(good));
	}
	write_state(good, sizeof(good) - 1); /* cut */
	assert_int_equal(refused(key_a, SSRC, "corrupt"), -EBADMSG);
	memcpy(bad, good, sizeof(good));
	bad[sizeof(good)] = 0;
	write_state(bad, sizeof(bad)); /* longer */
	assert_int_equal(refused(key_a, SSRC, "corrupt"), -EBADMSG);
	write_state(good, 0); /* empty */
	assert_int_equal(refused(key_a, SSRC, "corrupt"), -EBADMSG);
	doc_record(bad, SSRC, VIGIL_INDEX_END + 1, key_a); /* beyond 48 bits */
	write_state(bad, sizeof(good));
	assert_int_equal(refused(key_a, SSRC, "corrupt"), -EBADMSG);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0700), 0); /* not a file */
	assert_int_equal(refused(key_a, SSRC, "corrupt"), -EBADMSG);
	assert_int_equal(rmdir(path), 0);
}

/* The layout of index_store.h, written by hand: read as documented. This
 * key's state for another SSRC is refused; another key's starts afresh and
 * is replaced by this key's at the first packet. */
static void test_layout_and_keys(void **state)
{
	uint8_t rec[VIGIL_INDEX_STORE_LEN], want[VIGIL_INDEX_STORE_LEN];
	struct vigil_sender s;
	struct rx rx;

	(void)state;
	doc_record(rec, SSRC, (UINT64_C(7) << 16) + 4242, key_a);
	write_state(rec, sizeof(rec));
	start(&s, key_a, "resumed at index 462994 (ROC 7, SEQ 4242)");
	assert_int_equal(s.index, (UINT64_C(7) << 16) + 4242);
	rx_init(&rx, key_a);
	assert_int_equal(send_packets(&s, &rx, 1), 0);
	vigil_sender_wipe(&s);
	read_state(rec);
	doc_record(want, SSRC, (UINT64_C(7) << 16) + 4242 + R, key_a);
	assert_memory_equal(rec, want, sizeof(rec));

	assert_int_equal(refused(key_a, SSRC + 1, "its own state file"), -EEXIST);

	start(&s, key_b, "another key's state");
	assert_true(s.index < 65536);
	free(rx.seen);
	rx_init(&rx, key_b);
	assert_int_equal(send_packets(&s, &rx, 1), 0);
	read_state(rec);
	doc_record(want, SSRC, rx.seen[0] + R, key_b);
	assert_memory_equal(rec, want, sizeof(rec));
	vigil_sender_wipe(&s);
	free(rx.seen);
}

/* Two senders never share a state file. */
static void test_locked(void **state)
{
	struct vigil_sender s;

	(void)state;
	start(&s, key_a, "");
	assert_int_equal(refused(key_a, SSRC, "in use by another sender"), -EBUSY);
	vigil_sender_wipe(&s);
	start(&s, key_a, "");
	assert_int_equal(vigil_sender_rekey(&s, key_b), -EINVAL); /* the state names key a */
	vigil_sender_wipe(&s);
}

/* The last of the 2^48 indices is used once; after it, nothing is sent. */
static void test_spent(void **state)
{
	uint8_t rec[VIGIL_INDEX_STORE_LEN];
	struct vigil_sender s;
	struct rx rx;

	(void)state;
	doc_record(rec, SSRC, VIGIL_INDEX_END - 2, key_a);
	write_state(rec, sizeof(rec));
	rx_init(&rx, key_a);
	start(&s, key_a, "resumed");
	assert_int_equal(send_packets(&s, &rx, 2), 0);
	assert_int_equal(rx.seen[1], VIGIL_INDEX_END - 1);
	assert_int_equal(send_packets(&s, &rx, 1), -ENOSPC);
	assert_int_equal(rx.n, 2);
	vigil_sender_wipe(&s);
	read_state(rec);
	assert_int_equal(be(rec + 16, 8), VIGIL_INDEX_END);
	assert_int_equal(refused(key_a, SSRC, "spent"), -ENOSPC);
	free(rx.seen);
}

/* One reservation costs two fsyncs: what a camera's packet path waits
 * for every VIGIL_INDEX_RESERVE packets, here. */
static void test_reserve_time(void **state)
{
	struct vigil_index_store *st;
	struct timespec a, b;
	double worst = 0, total = 0;
	uint64_t next;
	char msg[256];
	enum { N = 50 };

	(void)state;
	assert_int_equal(vigil_index_store_open(&st, path, SSRC, key_a, &next, msg, sizeof(msg)), 0);
	for (int i = 0; i < N; i++) {
		double ms;

		clock_gettime(CLOCK_MONOTONIC, &a);
		assert_int_equal(vigil_index_store_reserve(st, next + (uint64_t)(i + 1) * R), 0);
		clock_gettime(CLOCK_MONOTONIC, &b);
		ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
		total += ms;
		worst = ms > worst ? ms : worst;
	}
	vigil_index_store_close(st);
	print_message("# %d reservations: mean %.3f ms, slowest %.3f ms\n", N, total / N, worst);
}

static int fresh(void **state)
{
	char cmd[512];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -f '%s' '%s.tmp' '%s.lock'", path, path, path);
	return system(cmd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_no_state_refused, fresh),
	    cmocka_unit_test_setup(test_restarts, fresh),
	    cmocka_unit_test_setup(test_crash_while_writing, fresh),
	    cmocka_unit_test_setup(test_write_fails, fresh),
	    cmocka_unit_test_setup(test_corrupt, fresh),
	    cmocka_unit_test_setup(test_layout_and_keys, fresh),
	    cmocka_unit_test_setup(test_locked, fresh),
	    cmocka_unit_test_setup(test_spent, fresh),
	    cmocka_unit_test_setup(test_reserve_time, fresh),
	};

	if (sodium_init() < 0 || vigil_srtp_available() < 0) {
		printf("1..0 # SKIP no AES-NI\n");
		return 77;
	}
	randombytes_buf(key_a, sizeof(key_a));
	randombytes_buf(key_b, sizeof(key_b));
	return cmocka_run_group_tests(tests, setup, teardown);
}
