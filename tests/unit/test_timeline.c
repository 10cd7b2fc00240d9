/* SPDX-License-Identifier: MIT */
/* One camera's recordings across nodes as one playlist
 * (record/timeline.h): the nodes' playlists merged by the wall-clock start
 * of each segment, whichever node they come from and in whatever order
 * they are added; a discontinuity where one node's run gives way to
 * another's, where time jumps, and where a node's playlist had one;
 * fMP4's init segment named again after each cut; a time range keeps the
 * segments that overlap it; an entry without a time starts where the one
 * before it ended; a node name that could climb out of the camera's
 * prefix is refused; a segment's object is named with its start, and read
 * back by either name. */
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

#include "timeline.h"


static const char node_a[] = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-TARGETDURATION:2\n"
			     "#EXT-X-MEDIA-SEQUENCE:0\n"
			     "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:00.000Z\n# vigil: bytes 1000\n#EXTINF:2.000,\n"
			     "20261207T100000.000Z-00000000.ts\n"
			     "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:02.000Z\n#EXTINF:2.000,\n20261207T100002.000Z-00000001.ts\n"
			     "#EXTINF:1.500,\n00000002.ts\n" /* no time: from the end of 00000001 */
			     "#EXT-X-DISCONTINUITY\n"
			     "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:20.000Z\n#EXTINF:2.000,\n20261207T100020.000Z-00000003.ts\n";
static const char node_b[] = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:3\n"
			     "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:08.000Z\n#EXTINF:2.500,\n20261207T100008.000Z-00000007.ts\n"
			     "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:10.500Z\n#EXTINF:2.000,\n20261207T100010.500Z-00000008.ts\n"
			     "#EXT-X-ENDLIST\n";

static char *merged(struct vigil_timeline *t, uint64_t from, uint64_t to, unsigned *n)
{
	char *out = vigil_timeline_playlist(t, from, to, "http://s3/b/rec/door/", "", 0, n);

	assert_non_null(out);
	return out;
}

static void test_merge(void **state)
{
	struct vigil_timeline t = {0};
	unsigned n;
	char *out;
	(void)state;

	/* b first: the order of the nodes does not matter */
	assert_int_equal(vigil_timeline_add(&t, "node-b", node_b, strlen(node_b)), 0);
	assert_int_equal(vigil_timeline_add(&t, "node-a", node_a, strlen(node_a)), 0);
	out = merged(&t, 0, 0, &n);
	assert_int_equal(n, 6);
	assert_string_equal(out,
			    "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-TARGETDURATION:3\n"
			    "#EXT-X-MEDIA-SEQUENCE:0\n"
			    "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:00.000Z\n#EXTINF:2.000,\n"
			    "http://s3/b/rec/door/node-a/20261207T100000.000Z-00000000.ts\n"
			    "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:02.000Z\n#EXTINF:2.000,\n"
			    "http://s3/b/rec/door/node-a/20261207T100002.000Z-00000001.ts\n"
			    "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:04.000Z\n#EXTINF:1.500,\n"
			    "http://s3/b/rec/door/node-a/00000002.ts\n"
			    /* another node, 2.5 s later: cut */
			    "#EXT-X-DISCONTINUITY\n"
			    "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:08.000Z\n#EXTINF:2.500,\n"
			    "http://s3/b/rec/door/node-b/20261207T100008.000Z-00000007.ts\n"
			    "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:10.500Z\n#EXTINF:2.000,\n"
			    "http://s3/b/rec/door/node-b/20261207T100010.500Z-00000008.ts\n"
			    "#EXT-X-DISCONTINUITY\n"
			    "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:20.000Z\n#EXTINF:2.000,\n"
			    "http://s3/b/rec/door/node-a/20261207T100020.000Z-00000003.ts\n"
			    "#EXT-X-ENDLIST\n");
	free(out);

	/* [10:00:03, 10:00:09): the segments that overlap it */
	out = merged(&t, vigil_playlist_time_parse("2026-12-07T10:00:03Z"),
		     vigil_playlist_time_parse("2026-12-07T10:00:09Z"), &n);
	assert_int_equal(n, 3);
	assert_non_null(strstr(out, "node-a/20261207T100002.000Z-00000001.ts\n"));
	/* no time of its own: named as on disk */
	assert_non_null(strstr(out, "node-a/00000002.ts\n"));
	assert_non_null(strstr(out, "node-b/20261207T100008.000Z-00000007.ts\n"));
	assert_null(strstr(out, "00000000.ts"));
	assert_null(strstr(out, "00000008.ts"));
	/* its first segment is not cut from nothing */
	assert_null(strstr(out, "MEDIA-SEQUENCE:0\n#EXT-X-DISCONTINUITY"));
	free(out);
	out = merged(&t, vigil_playlist_time_parse("2026-12-07T11:00:00Z"), 0, &n);
	assert_int_equal(n, 0);
	assert_string_equal(out, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-TARGETDURATION:3\n"
				 "#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-ENDLIST\n");
	free(out);
	vigil_timeline_free(&t);
}

static void test_fmp4(void **state)
{
	static const char a[] = "#EXT-X-MAP:URI=\"init-00000000.mp4\"\n"
				"#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:00.000Z\n#EXTINF:2.000,\n00000000.m4s\n"
				"#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:02.000Z\n#EXTINF:2.000,\n00000001.m4s\n";
	static const char b[] = "#EXT-X-MAP:URI=\"init-00000004.mp4\"\n"
				"#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:04.100Z\n#EXTINF:2.000,\n00000004.m4s\n";
	struct vigil_timeline t = {0};
	unsigned n;
	char *out;
	(void)state;

	assert_int_equal(vigil_timeline_add(&t, "a", a, strlen(a)), 0);
	assert_int_equal(vigil_timeline_add(&t, "b", b, strlen(b)), 0);
	out = merged(&t, 0, 0, &n);
	assert_int_equal(n, 3);
	assert_non_null(strstr(out, "#EXT-X-VERSION:7\n"));
	assert_non_null(strstr(out, "#EXT-X-MAP:URI=\"http://s3/b/rec/door/a/init-00000000.mp4\"\n"
				    "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:00.000Z\n"));
	/* continues within 0.5 s, but from another node: cut, its own init */
	assert_non_null(strstr(out, "a/20261207T100002.000Z-00000001.m4s\n#EXT-X-DISCONTINUITY\n"
				    "#EXT-X-MAP:URI=\"http://s3/b/rec/door/b/init-00000004.mp4\"\n"));
	free(out);
	vigil_timeline_free(&t);
}

/* One node: a cut where its playlist marked one, and where time jumps,
 * each alone; a duration no segment has leaves its entry out; ".5" is
 * half a second. */
static void test_cuts_one_node(void **state)
{
	static const char a[] = "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:00.5Z\n#EXTINF:2.000,\n00000000.ts\n"
				"#EXT-X-DISCONTINUITY\n" /* marked, though time goes on */
				"#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:02.500Z\n#EXTINF:2.000,\n00000001.ts\n"
				"#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:04.600Z\n#EXTINF:2.000,\n00000002.ts\n"
				"#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:09.000Z\n#EXTINF:2.000,\n00000003.ts\n"
				"#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:11.000Z\n#EXTINF:nan,\n00000004.ts\n"
				"#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:13.000Z\n#EXTINF:-2,\n00000005.ts\n"
				"#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:15.000Z\n#EXTINF:1e300,\n00000006.ts\n";
	struct vigil_timeline t = {0};
	unsigned n;
	char *out;
	(void)state;

	assert_int_equal(vigil_timeline_add(&t, "a", a, strlen(a)), 0);
	assert_int_equal(t.n, 4);
	out = merged(&t, 0, 0, &n);
	assert_int_equal(n, 4);
	assert_string_equal(out, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-TARGETDURATION:2\n"
				 "#EXT-X-MEDIA-SEQUENCE:0\n"
				 "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:00.500Z\n#EXTINF:2.000,\n"
				 "http://s3/b/rec/door/a/20261207T100000.500Z-00000000.ts\n"
				 "#EXT-X-DISCONTINUITY\n"
				 "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:02.500Z\n#EXTINF:2.000,\n"
				 "http://s3/b/rec/door/a/20261207T100002.500Z-00000001.ts\n"
				 /* 0.1 s late: it continues */
				 "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:04.600Z\n#EXTINF:2.000,\n"
				 "http://s3/b/rec/door/a/20261207T100004.600Z-00000002.ts\n"
				 /* 2.4 s late: cut */
				 "#EXT-X-DISCONTINUITY\n"
				 "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:09.000Z\n#EXTINF:2.000,\n"
				 "http://s3/b/rec/door/a/20261207T100009.000Z-00000003.ts\n"
				 "#EXT-X-ENDLIST\n");
	free(out);
	vigil_timeline_free(&t);
}

static void test_node_names(void **state)
{
	struct vigil_timeline t = {0};
	(void)state;

	assert_int_equal(vigil_timeline_add(&t, "..", node_a, strlen(node_a)), -EINVAL);
	assert_int_equal(vigil_timeline_add(&t, "a/b", node_a, strlen(node_a)), -EINVAL);
	assert_int_equal(vigil_timeline_add(&t, "", node_a, strlen(node_a)), -EINVAL);
	assert_int_equal(vigil_timeline_add(&t, "a\"b", node_a, strlen(node_a)), -EINVAL);
	assert_int_equal(t.n, 0);
	/* text that is no playlist adds nothing */
	assert_int_equal(vigil_timeline_add(&t, "x", "<Error>NoSuchKey</Error>", 24), 0);
	assert_int_equal(t.n, 0);
	vigil_timeline_free(&t);
}

/* One camera's folder on this host (the playback endpoint): no node in
 * the URIs, the token after each of them, init segments too; live: the
 * last segments only, numbered from the first one listed, no end; a
 * segment's low-latency parts where they go. */
static void test_local_live(void **state)
{
	static const char a[] = "#EXTM3U\n#EXT-X-MAP:URI=\"init-00000003.mp4\"\n"
				"# vigil: bytes 1234\n"
				"#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:00.000Z\n#EXTINF:1.000,\n00000003.m4s\n"
				"#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:01.000Z\n#EXTINF:1.000,\n00000004.m4s\n"
				"#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:02.000Z\n#EXTINF:1.000,\n00000005.m4s\n";
	struct vigil_timeline t = {0};
	unsigned n;
	char *out;
	(void)state;

	assert_int_equal(vigil_timeline_add(&t, NULL, a, strlen(a)), 0);
	out = vigil_timeline_playlist(&t, 0, 0, "", "?token=T", 2, &n);
	assert_non_null(out);
	assert_int_equal(n, 2);
	assert_string_equal(out, "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:4\n"
				 "#EXT-X-MAP:URI=\"init-00000003.mp4?token=T\"\n"
				 "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:01.000Z\n#EXTINF:1.000,\n00000004.m4s?token=T\n"
				 "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:02.000Z\n#EXTINF:1.000,\n00000005.m4s?token=T\n");
	free(out);
	/* low-latency HLS: a segment's parts between its time and its EXTINF */
	t.v[t.n - 1].parts = "#EXT-X-PART:DURATION=0.500,URI=\"00000005.m4s?token=T&part=0\",INDEPENDENT=YES\n";
	out = vigil_timeline_playlist(&t, 0, 0, "", "?token=T", 2, &n);
	assert_non_null(out);
	assert_non_null(strstr(out, "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T10:00:02.000Z\n#EXT-X-PART:DURATION=0.500,"
				    "URI=\"00000005.m4s?token=T&part=0\",INDEPENDENT=YES\n#EXTINF:1.000,\n00000005.m4s?token=T\n"));
	assert_null(strstr(out, "00000004.m4s?token=T&part"));
	free(out);
	t.v[t.n - 1].parts = NULL;
	/* a range: VOD, from 10:00:00.5 to 10:00:01.5 overlaps 3 and 4 */
	out = vigil_timeline_playlist(&t, 1796637600500000000ull, 1796637601500000000ull, "", "?token=T", 0, &n);
	assert_non_null(out);
	assert_int_equal(n, 2);
	assert_non_null(strstr(out, "#EXT-X-PLAYLIST-TYPE:VOD\n"));
	assert_non_null(strstr(out, "\n00000003.m4s?token=T\n"));
	assert_non_null(strstr(out, "\n00000004.m4s?token=T\n#EXT-X-ENDLIST\n"));
	free(out);
	vigil_timeline_free(&t);
}

/* A segment's object name: its start to the millisecond, then its file's
 * name; the file's name alone without a start; read back by either name,
 * while a file on disk is only ever NNNNNNNN and a suffix. */
static void test_object_names(void **state)
{
	uint64_t start = vigil_playlist_time_parse("2026-12-07T10:15:30.123Z") + 456789; /* below a ms: dropped */
	enum vigil_seg_kind kind;
	uint32_t seq;
	char name[64];
	(void)state;

	vigil_segment_object_name(name, sizeof(name), 42, VIGIL_SEG_SEALED, start);
	assert_string_equal(name, "20261207T101530.123Z-00000042.ts.sealed");
	assert_true(vigil_segment_object(name, &seq, &kind));
	assert_int_equal(seq, 42);
	assert_int_equal(kind, VIGIL_SEG_SEALED);
	assert_false(vigil_segment_name(name, &seq, &kind));
	vigil_segment_object_name(name, sizeof(name), 7, VIGIL_SEG_M4S, 0);
	assert_string_equal(name, "00000007.m4s");
	assert_true(vigil_segment_object(name, &seq, &kind));
	assert_int_equal(seq, 7);
	/* the playlist's own time and the name's agree */
	vigil_playlist_time_fmt(name, sizeof(name), start);
	assert_string_equal(name, "2026-12-07T10:15:30.123Z");
	/* anything else before the number is no segment's name */
	static const char *const bad[] = {
	    "20261207T101530.123Z00000042.ts", "20261207T101530.123-00000042.ts", "2026-12-07T10:15:30.123Z-00000042.ts",
	    "20261207T101530.12Z-00000042.ts", "x0261207T101530.123Z-00000042.ts", "20261207T101530.123Z-",
	    "20261207T101530.123Z-0000004.ts", "20261207T101530.123Z-20261207T101530.123Z-00000042.ts",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(vigil_segment_object(bad[i], &seq, &kind));
}

/* One segment of a long playlist file found by bisection: the first, one
 * after a discontinuity, the last, none where there is none (before the
 * first, in a gap of numbers, past the last), a line still being appended
 * left alone; a few windows read, not the file. */
static void test_find(void **state)
{
	char path[] = "/tmp/test_timeline.XXXXXX", line[256];
	const unsigned n = 50000;
	struct vigil_timeline_seg e;
	uint64_t bytes;
	FILE *f;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	f = fdopen(fd, "w+");
	assert_non_null(f);
	fputs("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:100\n", f);
	/* Numbers 100 up, but none from 30000 to 30009. */
	for (unsigned i = 0, seq = 100; i < n; i++, seq += seq == 30099 ? 11 : 1) {
		uint64_t ms = 1796637600000ull + (uint64_t)i * 1000;

		if (i == 20000)
			fputs("#EXT-X-DISCONTINUITY\n", f);
		snprintf(line, sizeof(line),
			 "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T%02u:%02u:%02u.000Z\n# vigil: bytes %u\n#EXTINF:1.000,\n%08u.ts\n",
			 (unsigned)(ms / 3600000 % 24), (unsigned)(ms / 60000 % 60), (unsigned)(ms / 1000 % 60), 1000 + i,
			 seq);
		fputs(line, f);
	}
	fputs("#EXT-X-PROGRAM-DATE-TIME:2026-12-08T0", f); /* being appended */
	fflush(f);
	assert_int_equal(vigil_timeline_find(fd, 100, &e, &bytes), 0);
	assert_int_equal(e.e.seq, 100);
	assert_int_equal(e.e.kind, VIGIL_SEG_TS);
	assert_int_equal(e.e.start_ns, 1796637600000000000ull);
	assert_true(e.e.seconds == 1.0);
	assert_int_equal(vigil_timeline_find(fd, 20100, &e, &bytes), 0);
	assert_int_equal(e.e.start_ns, 1796637600000000000ull + 20000ull * 1000000000u);
	assert_true(bytes < (1u << 20));
	assert_int_equal(vigil_timeline_find(fd, 30110, &e, &bytes), 0); /* the first after the gap */
	assert_int_equal(e.e.start_ns, 1796637600000000000ull + 30000ull * 1000000000u);
	assert_int_equal(vigil_timeline_find(fd, 100 + n + 9, &e, &bytes), 0); /* the last */
	assert_int_equal(e.e.start_ns, 1796637600000000000ull + (n - 1ull) * 1000000000u);
	assert_true(bytes < (1u << 20));
	assert_int_equal(vigil_timeline_find(fd, 99, &e, &bytes), -ENOENT);
	assert_int_equal(vigil_timeline_find(fd, 30105, &e, &bytes), -ENOENT);
	assert_int_equal(vigil_timeline_find(fd, 100 + n + 10, &e, &bytes), -ENOENT);
	assert_true(bytes < (1u << 20));
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_merge),
	    cmocka_unit_test(test_fmp4),
	    cmocka_unit_test(test_cuts_one_node),
	    cmocka_unit_test(test_node_names),
	    cmocka_unit_test(test_local_live),
	    cmocka_unit_test(test_object_names),
	    cmocka_unit_test(test_find),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
