/* SPDX-License-Identifier: MIT */
/* Presigned URLs (record/s3.c, the playback endpoint's redirects to the
 * object store): AWS's own example of a presigned GET (Signature Version
 * 4, "Authenticating Requests: Using Query Parameters"), and the
 * path-style URL of an object under [Storage]. A real store takes one in
 * tests/integration/storage.sh. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "s3.h"

#define AWS_ACCESS "AKIAIOSFODNN7EXAMPLE"
#define AWS_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

static void test_aws_example(void **state)
{
	char url[1024];

	(void)state;
	/* 2013-05-24T00:00:00Z, a day */
	assert_int_equal(vigil_sigv4_presign("https", "examplebucket.s3.amazonaws.com", "/test.txt", "us-east-1",
					     AWS_ACCESS, AWS_SECRET, 1369353600, 86400, url, sizeof(url)),
			 0);
	assert_string_equal(url, "https://examplebucket.s3.amazonaws.com/test.txt"
				 "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
				 "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
				 "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
				 "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
	assert_int_equal(vigil_sigv4_presign("https", "examplebucket.s3.amazonaws.com", "/test.txt", "us-east-1",
					     AWS_ACCESS, AWS_SECRET, 1369353600, 86400, url, 100),
			 -ENAMETOOLONG);
}

static void test_path_style(void **state)
{
	struct vigil_storage_config c = {.endpoint = "http://198.18.7.1:7480", .bucket = "rec", .region = "default"};
	char url[1024];

	(void)state;
	assert_int_equal(vigil_s3_presign(&c, AWS_ACCESS, AWS_SECRET, "p/cam/n1/00000042.ts", 1369353600, 600, url,
					  sizeof(url)),
			 0);
	assert_memory_equal(url, "http://198.18.7.1:7480/rec/p/cam/n1/00000042.ts?X-Amz-Algorithm=", 64);
	assert_non_null(strstr(url, "%2Fdefault%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=600&"));
	/* the Host a browser sends: lower case, no default port; an access
	 * key with '+', '/' or '=' URI-encoded in the credential */
	strcpy(c.endpoint, "https://S3.Example.COM:443");
	assert_int_equal(vigil_s3_presign(&c, "AK+I/D=", AWS_SECRET, "k", 1369353600, 600, url, sizeof(url)), 0);
	assert_memory_equal(url, "https://s3.example.com/rec/k?", 29);
	assert_non_null(strstr(url, "X-Amz-Credential=AK%2BI%2FD%3D%2F20130524%2F"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_aws_example),
	    cmocka_unit_test(test_path_style),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
