/* SPDX-License-Identifier: MIT */
/* Viewer tokens (control/viewer_token.c): a token opens what it was
 * issued for and nothing else; every byte of it altered is refused; expiry,
 * another key, names that are not camera names; the token key from the
 * master key (the same on every node), from StateDir/playback.key (made
 * 0600, the same across restarts, refused when others may read it). The
 * endpoint itself: tests/integration/playback.sh. */
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

#include "viewer_token.h"

static const uint8_t key[VIGIL_TOKEN_KEY_LEN] = {1, 2, 3};

static void test_round_trip(void **state)
{
	struct vigil_viewer_scope s = {.camera = "front-door_2", .expires = 2000, .from = 100, .to = 200}, got;
	char t[VIGIL_TOKEN_TEXT_MAX];

	(void)state;
	assert_int_equal(vigil_token_issue(key, &s, t, sizeof(t)), 0);
	/* base64url: a query, a cookie and a fragment take it as it is */
	assert_int_equal(strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), strlen(t));
	assert_int_equal(vigil_token_check(key, t, 1999, &got), VIGIL_TOKEN_OK);
	assert_string_equal(got.camera, "front-door_2");
	assert_int_equal(got.expires, 2000);
	assert_int_equal(got.from, 100);
	assert_int_equal(got.to, 200);
	assert_int_equal(vigil_token_check(key, t, 2000, &got), VIGIL_TOKEN_EXPIRED);
	assert_int_equal(vigil_token_check(key, "", 0, &got), VIGIL_TOKEN_MISSING);
	assert_int_equal(vigil_token_check(key, NULL, 0, &got), VIGIL_TOKEN_MISSING);
	/* the longest name fits */
	memset(s.camera, 'x', VIGIL_CAMERA_NAME_MAX);
	s.camera[VIGIL_CAMERA_NAME_MAX] = '\0';
	assert_int_equal(vigil_token_issue(key, &s, t, sizeof(t)), 0);
	assert_true(strlen(t) < VIGIL_TOKEN_TEXT_MAX);
	assert_int_equal(vigil_token_check(key, t, 0, &got), VIGIL_TOKEN_OK);
	assert_string_equal(got.camera, s.camera);
	strcpy(s.camera, "a/../b");
	assert_int_equal(vigil_token_issue(key, &s, t, sizeof(t)), -EINVAL);
}

/* Each character of the text changed, and each bit of the bytes under it:
 * refused; so is the token under another key, cut, or lengthened. */
static void test_altered(void **state)
{
	struct vigil_viewer_scope s = {.camera = "cam", .expires = 5000}, got;
	uint8_t other[VIGIL_TOKEN_KEY_LEN] = {9};
	uint8_t raw[200];
	size_t raw_len;
	char t[VIGIL_TOKEN_TEXT_MAX], u[VIGIL_TOKEN_TEXT_MAX + 8];

	(void)state;
	assert_int_equal(vigil_token_issue(key, &s, t, sizeof(t)), 0);
	assert_int_equal(vigil_token_check(other, t, 0, &got), VIGIL_TOKEN_BAD);
	assert_int_equal(sodium_base642bin(raw, sizeof(raw), t, strlen(t), NULL, &raw_len, NULL,
					   sodium_base64_VARIANT_URLSAFE_NO_PADDING),
			 0);
	for (size_t i = 0; i < raw_len; i++)
		for (int bit = 0; bit < 8; bit++) {
			raw[i] ^= (uint8_t)(1 << bit);
			sodium_bin2base64(u, sizeof(u), raw, raw_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
			assert_int_equal(vigil_token_check(key, u, 0, &got), VIGIL_TOKEN_BAD);
			raw[i] ^= (uint8_t)(1 << bit);
		}
	for (size_t n = 0; n < strlen(t); n++) {
		snprintf(u, sizeof(u), "%.*s", (int)n, t);
		assert_int_not_equal(vigil_token_check(key, u, 0, &got), VIGIL_TOKEN_OK);
	}
	snprintf(u, sizeof(u), "%sAA", t);
	assert_int_equal(vigil_token_check(key, u, 0, &got), VIGIL_TOKEN_BAD);
	assert_int_equal(vigil_token_check(key, "not a token!", 0, &got), VIGIL_TOKEN_BAD);
}

static void test_key(void **state)
{
	uint8_t master[32] = {7}, a[VIGIL_TOKEN_KEY_LEN], b[VIGIL_TOKEN_KEY_LEN];
	char dir[] = "/tmp/vigil-token-XXXXXX", path[64], msg[512];
	struct stat st;

	(void)state;
	/* from the master key: the same on every node, and not the master key */
	assert_int_equal(vigil_token_key(master, dir, a, msg, sizeof(msg)), 0);
	assert_int_equal(vigil_token_key(master, NULL, b, msg, sizeof(msg)), 0);
	assert_memory_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, master, sizeof(a));
	/* from StateDir: made once, 0600, read back the same */
	assert_non_null(mkdtemp(dir));
	assert_int_equal(vigil_token_key(NULL, dir, a, msg, sizeof(msg)), 0);
	snprintf(path, sizeof(path), "%s/playback.key", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, VIGIL_TOKEN_KEY_LEN);
	assert_int_equal(vigil_token_key(NULL, dir, b, msg, sizeof(msg)), 0);
	assert_memory_equal(a, b, sizeof(a));
	/* readable by others: refused, said */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(vigil_token_key(NULL, dir, b, msg, sizeof(msg)), -EPERM);
	assert_non_null(strstr(msg, "playback.key"));
	/* cut short: refused, said */
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(truncate(path, 5), 0);
	assert_int_equal(vigil_token_key(NULL, dir, b, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "not a 32-byte key"));
	unlink(path);
	rmdir(dir);
	/* neither: random, for this run only */
	assert_int_equal(vigil_token_key(NULL, NULL, a, msg, sizeof(msg)), 0);
	assert_int_equal(vigil_token_key(NULL, "", b, msg, sizeof(msg)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_altered),
	    cmocka_unit_test(test_key),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
