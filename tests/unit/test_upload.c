/* SPDX-License-Identifier: MIT */
/* The uploader's copy of a playlist for the bucket (record/upload.c,
 * included for its statics): cut before the first segment not up yet,
 * whole however long the playlist has grown, each segment under its
 * object's name (its start before its file's name, when it has one). */
#include "upload.c" /* before cmocka.h, whose fail() is a macro */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#define ENTRIES 40000 /* about 2.6 MB: an EVENT playlist of 44 hours of 4 s segments */

/* The playlist on disk, whose even entries have a start, and the copy
 * the bucket should get: those named with their start. */
static char *playlist(const char *dir, size_t *len, char **bucket, size_t *bucket_len)
{
	char path[4200], when[64], name[64];
	size_t cap = 64 + ENTRIES * 160, n = 0, b = 0;
	char *text = malloc(cap), *up = malloc(cap);
	uint64_t t0 = 1796637600000000000ull; /* 2026-12-07T10:00:00Z */
	FILE *f;

	assert_non_null(text);
	assert_non_null(up);
	n += (size_t)snprintf(text + n, cap - n,
			      "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n");
	b += (size_t)snprintf(up + b, cap - b, "%s", text);
	for (unsigned i = 0; i < ENTRIES; i++) {
		uint64_t start = i % 2 == 0 ? t0 + i * 4000000000ull + 7000000ull : 0;

		vigil_playlist_time_fmt(when, sizeof(when), start);
		vigil_segment_object_name(name, sizeof(name), i, VIGIL_SEG_TS, start);
		if (start != 0) {
			n += (size_t)snprintf(text + n, cap - n, "#EXT-X-PROGRAM-DATE-TIME:%s\n", when);
			b += (size_t)snprintf(up + b, cap - b, "#EXT-X-PROGRAM-DATE-TIME:%s\n", when);
		}
		n += (size_t)snprintf(text + n, cap - n, VIGIL_PLAYLIST_BYTES_TAG "%u\n#EXTINF:4.000,\n%08u.ts\n",
				      1000000 + i, i);
		b += (size_t)snprintf(up + b, cap - b, VIGIL_PLAYLIST_BYTES_TAG "%u\n#EXTINF:4.000,\n%s\n", 1000000 + i,
				      name);
	}
	n += (size_t)snprintf(text + n, cap - n, "#EXT-X-ENDLIST\n");
	b += (size_t)snprintf(up + b, cap - b, "#EXT-X-ENDLIST\n");
	snprintf(path, sizeof(path), "%s/cam/" VIGIL_PLAYLIST_NAME, dir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, n, f), n);
	fclose(f);
	*len = n;
	*bucket = up;
	*bucket_len = b;
	return text;
}

static void test_long_playlist(void **state)
{
	char dir[] = "/tmp/vigil-test-upload.XXXXXX", sub[64], *text, *want, *out, *cut;
	struct vigil_uploader up = {0};
	struct lane l = {.up = &up};
	struct cam c = {.name = "cam"};
	size_t len, want_len, got;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/cam", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(up.record_dir, sizeof(up.record_dir), "%s", dir);
	text = playlist(dir, &len, &want, &want_len);
	assert_true(len > (1 << 20));
	/* Every segment up: the playlist to its #EXT-X-ENDLIST, each segment
	 * with a start named by it. */
	assert_non_null(strstr(want, "\n20261207T100000.007Z-00000000.ts\n"));
	assert_non_null(strstr(want, "\n00000001.ts\n"));
	c.below = ENTRIES;
	out = playlist_for_bucket(&l, &c, &got);
	assert_non_null(out);
	assert_int_equal(got, want_len);
	assert_memory_equal(out, want, want_len);
	free(out);
	/* Up to 15000: cut before its entry (its tags too), and no end. */
	c.below = 15000;
	out = playlist_for_bucket(&l, &c, &got);
	assert_non_null(out);
	cut = strstr(want, "#EXT-X-PROGRAM-DATE-TIME:2026-12-08T02:40:00.007Z\n" VIGIL_PLAYLIST_BYTES_TAG "1015000\n");
	assert_non_null(cut);
	assert_int_equal(got, (size_t)(cut - want));
	assert_memory_equal(out, want, got);
	free(out);
	free(text);
	free(want);
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
