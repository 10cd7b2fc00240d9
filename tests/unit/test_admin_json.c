/* SPDX-License-Identifier: MIT */
/* The admin protocol's memory hygiene: once vigil_admin_wipe_json() is in
 * force, a request that carried a key (camera rotate, camera add) leaves no
 * copy of it in the heap after jansson has parsed it, served it and freed
 * it, nor after it was encoded to be sent (as vigilctl does). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "admin.h"
#include "leftovers.h"

static uint8_t raw[44];
static char b64[64], text[256];

static void test_request_wiped(void **state)
{
	json_error_t jerr;
	json_t *req, *copy;
	const char *key = NULL;
	char *sent;

	(void)state;
	if (!leftovers_start())
		return;
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
	snprintf(text, sizeof(text),
		 "{\"cmd\":\"camera\",\"action\":\"rotate\",\"name\":\"porch\",\"key\":\"%s\"}", b64);

	req = json_loads(text, 0, &jerr);
	assert_non_null(req);
	assert_int_equal(json_unpack(req, "{ss}", "key", &key), 0);
	/* not cmocka's assert_string_equal: it leaves a copy of what it
	 * compared in a dead stack frame, which the scan below would find */
	assert_true(key != NULL && strcmp(key, b64) == 0);
	copy = json_deep_copy(req);	       /* and one more string of it */
	sent = json_dumps(copy, JSON_COMPACT); /* the request as vigilctl sends it */
	assert_non_null(sent);
	assert_non_null(strstr(sent, b64));
	assert_true(leftovers_found(b64 + 20, 24)); /* the scan finds live copies */
	vigil_admin_free(sent);
	json_decref(copy);
	json_decref(req);
	sodium_memzero(text, sizeof(text));
	for (size_t i = 0; i + 24 <= strlen(b64); i += 12)
		if (leftovers_found(b64 + i, 24))
			fail_msg("characters %zu-%zu of the key are left in the heap", i, i + 23);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_wiped),
	};

	if (sodium_init() < 0)
		return 1;
	vigil_admin_wipe_json(); /* before any jansson call, as vigild and vigilctl do */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
