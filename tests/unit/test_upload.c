/* SPDX-License-Identifier: MIT */
/* The uploader's copy of a playlist for the bucket (record/upload.c,
 * included for its statics): cut before the first segment not up yet,
 * and whole however long the playlist has grown. */
#include "upload.c" /* before cmocka.h, whose fail() is a macro */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#define ENTRIES 40000 /* about 1.8 MB: an EVENT playlist of 44 hours of 4 s segments */

static char *playlist(const char *dir, size_t *len)
{
	char path[4200];
	size_t cap = 64 + ENTRIES * 96, n = 0;
	char *text = malloc(cap);
	FILE *f;

	assert_non_null(text);
	n +=
	    (size_t)snprintf(text + n, cap - n,
			     "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n");
	for (unsigned i = 0; i < ENTRIES; i++)
		n += (size_t)snprintf(text + n, cap - n,
				      VIGIL_PLAYLIST_BYTES_TAG "%u\n#EXTINF:4.000,\n%08u.ts\n", 1000000 + i,
				      i);
	n += (size_t)snprintf(text + n, cap - n, "#EXT-X-ENDLIST\n");
	snprintf(path, sizeof(path), "%s/cam/" VIGIL_PLAYLIST_NAME, dir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, n, f), n);
	fclose(f);
	*len = n;
	return text;
}

static void test_long_playlist(void **state)
{
	char dir[] = "/tmp/vigil-test-upload.XXXXXX", sub[64], *text, *out, *cut;
	struct vigil_uploader up = {0};
	struct lane l = {.up = &up};
	struct cam c = {.name = "cam"};
	size_t len, got;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/cam", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(up.record_dir, sizeof(up.record_dir), "%s", dir);
	text = playlist(dir, &len);
	assert_true(len > (1 << 20));
	/* Every segment up: the playlist as it is, to its #EXT-X-ENDLIST. */
	c.below = ENTRIES;
	out = playlist_for_bucket(&l, &c, &got);
	assert_non_null(out);
	assert_int_equal(got, len);
	assert_memory_equal(out, text, len);
	free(out);
	/* Up to 15000: cut before its entry, and no end. */
	c.below = 15000;
	out = playlist_for_bucket(&l, &c, &got);
	assert_non_null(out);
	cut = strstr(text, VIGIL_PLAYLIST_BYTES_TAG "1015000\n");
	assert_non_null(cut);
	assert_int_equal(got, (size_t)(cut - text));
	assert_memory_equal(out, text, got);
	free(out);
	free(text);
	snprintf(sub, sizeof(sub), "%s/cam/" VIGIL_PLAYLIST_NAME, dir);
	unlink(sub);
	snprintf(sub, sizeof(sub), "%s/cam", dir);
	rmdir(sub);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_long_playlist),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
