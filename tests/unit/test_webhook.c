/* SPDX-License-Identifier: MIT */
/* EventHook's parts that stand alone (control/webhook.c): the signature
 * against RFC 4231's HMAC-SHA256 vectors and a flip-every-byte loop, the
 * secret file's checks, and the queue's bound with a receiver that is
 * never there. Delivery to a real receiver: tests/integration/events.sh. */
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
#include <sodium.h>

#include "webhook.h"

static void test_rfc4231(void **state)
{
	static const struct {
		uint8_t key_byte;
		size_t key_len;
		const char *data, *mac;
	} cases[] = {
	    {0x0b, 20, "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
	    {0xaa, 131, "Test Using Larger Than Block-Size Key - Hash Key First",
	     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
	};
	uint8_t key[200];
	char sig[72];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(key, cases[i].key_byte, cases[i].key_len);
		vigil_webhook_sign(key, cases[i].key_len, cases[i].data, strlen(cases[i].data), sig);
		assert_memory_equal(sig, "sha256=", 7);
		assert_string_equal(sig + 7, cases[i].mac);
	}
	/* Test case 2: a key shorter than the block. */
	vigil_webhook_sign((const uint8_t *)"Jefe", 4, "what do ya want for nothing?", 28, sig);
	assert_string_equal(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

/* Every byte of the body counts: a receiver that checks sees any change. */
static void test_flip_every_byte(void **state)
{
	const uint8_t key[] = "0123456789abcdef0123456789abcdef";
	char body[] = "[{\"camera\":\"lobby\",\"id\":17,\"time\":\"2026-12-05T08:40:00.000Z\",\"type\":"
		      "\"camera_offline\"}]";
	char want[72], got[72];

	(void)state;
	vigil_webhook_sign(key, 32, body, strlen(body), want);
	for (size_t i = 0; i < strlen(body); i++) {
		body[i] ^= 0x01;
		vigil_webhook_sign(key, 32, body, strlen(body), got);
		assert_string_not_equal(got, want);
		body[i] ^= 0x01;
	}
	vigil_webhook_sign(key, 31, body, strlen(body), got);
	assert_string_not_equal(got, want);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_secret_file(void **state)
{
	char path[] = "/tmp/vigil-webhook-key.XXXXXX", msg[512];
	uint8_t key[VIGIL_WEBHOOK_KEY_MAX];
	size_t len = 0;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	write_file(path, "a key of twenty-six bytes.\nsecond line ignored\n", 0600);
	assert_int_equal(vigil_webhook_read_secret(path, key, &len, msg, sizeof(msg)), 0);
	assert_int_equal(len, 26);
	assert_memory_equal(key, "a key of twenty-six bytes.", 26);
	/* Readable by group or others: refused, and says how to fix it. */
	chmod(path, 0640);
	assert_int_equal(vigil_webhook_read_secret(path, key, &len, msg, sizeof(msg)), -EPERM);
	assert_non_null(strstr(msg, "chmod 600"));
	/* Group-readable is a systemd credential's mode (0440) in
	 * $CREDENTIALS_DIRECTORY, and taken only there. */
	chmod(path, 0440);
	assert_int_equal(vigil_webhook_read_secret(path, key, &len, msg, sizeof(msg)), -EPERM);
	setenv("CREDENTIALS_DIRECTORY", "/tmp", 1);
	assert_int_equal(vigil_webhook_read_secret(path, key, &len, msg, sizeof(msg)), 0);
	chmod(path, 0444);
	assert_int_equal(vigil_webhook_read_secret(path, key, &len, msg, sizeof(msg)), -EPERM);
	unsetenv("CREDENTIALS_DIRECTORY");
	/* Too short to be a key. */
	write_file(path, "short\n", 0600);
	assert_int_equal(vigil_webhook_read_secret(path, key, &len, msg, sizeof(msg)), -EINVAL);
	unlink(path);
	assert_int_equal(vigil_webhook_read_secret(path, key, &len, msg, sizeof(msg)), -ENOENT);
}

/* No receiver (a port nothing listens on): events wait up to the bound,
 * the rest are dropped and counted, and stop gives up on the waiting ones. */
static void test_queue_bound(void **state)
{
	const uint8_t key[] = "0123456789abcdef";
	struct vigil_webhook_stats st;
	struct vigil_webhook *h;
	char msg[256], ev[64];

	(void)state;
	h = vigil_webhook_start("http://127.0.0.1:9/", key, 16, 3, msg, sizeof(msg));
	assert_non_null(h);
	for (int i = 0; i < 5; i++) {
		snprintf(ev, sizeof(ev), "{\"id\":%d}", i);
		assert_int_equal(vigil_webhook_post(h, ev, strlen(ev)), i < 3);
	}
	usleep(300000); /* a try or two */
	vigil_webhook_stats(h, &st);
	assert_int_equal(st.queued, 3);
	assert_int_equal(st.dropped, 2);
	assert_int_equal(st.delivered, 0);
	assert_true(st.failures >= 1);
	vigil_webhook_stop(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc4231),
	    cmocka_unit_test(test_flip_every_byte),
	    cmocka_unit_test(test_secret_file),
	    cmocka_unit_test(test_queue_bound),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
