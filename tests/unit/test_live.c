/* SPDX-License-Identifier: MIT */
/* Live parts (record/live.h): nothing is kept for a camera nobody
 * watches; a watched camera's parts are listed with where they are in the
 * segment, served byte for byte, the whole segment once closed; only the
 * open segment and the one before keep their bytes (older ones: their
 * place in the file); a blocking wait ends when the part comes (from
 * another thread), times out, or is refused when asked too far ahead or
 * for a sealed camera; a first request waits for a whole segment in parts
 * and the next begun; a segment of more parts than kept is not listed. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/clock.h"
#include "live.h"

static uint64_t in_ms(unsigned ms)
{
	return vigil_clock_ns(CLOCK_MONOTONIC) + (uint64_t)ms * 1000000u;
}

/* Segment seq of "lobby": parts of n bytes each, byte value seq * 16 + k. */
static void segment(struct vigil_live *lv, int slot, uint32_t seq, unsigned parts, size_t n, bool close)
{
	uint8_t buf[256];

	assert_true(n <= sizeof(buf));
	for (unsigned k = 0; k < parts; k++) {
		memset(buf, (int)(seq * 16 + k), n);
		vigil_live_bytes(lv, slot, seq, buf, n / 2);
		vigil_live_bytes(lv, slot, seq, buf + n / 2, n - n / 2);
		vigil_live_part(lv, slot, seq, 7, 18000, k == 0, close && k == parts - 1,
				close ? 18000u * parts : 0);
	}
}

static void test_unwatched(void **state)
{
	struct vigil_live *lv = vigil_live_create();
	struct vigil_live_view v;

	(void)state;
	assert_int_equal(vigil_live_begin(lv, "lobby", 0, 1, true), -1);
	assert_false(vigil_live_view(lv, "lobby", &v));
	assert_int_equal(vigil_live_wait(lv, "lobby", 0, 0, in_ms(1)), -ENOENT);
	vigil_live_free(lv);
}

static void test_parts(void **state)
{
	struct vigil_live *lv = vigil_live_create();
	struct vigil_live_view v;
	uint8_t *data = NULL;
	uint64_t off = 0;
	size_t len = 0;
	int slot;

	(void)state;
	assert_true(vigil_live_watch(lv, "lobby"));
	slot = vigil_live_begin(lv, "lobby", 5, 1234, true);
	assert_true(slot >= 0);
	segment(lv, slot, 5, 3, 100, false);
	vigil_live_part(lv, slot, 5, 7, 9000, false, false, 0); /* no bytes since: no part */
	assert_true(vigil_live_view(lv, "lobby", &v));
	assert_int_equal(v.n, 1);
	assert_int_equal(v.seg[0].seq, 5);
	assert_int_equal(v.seg[0].map, 7);
	assert_int_equal(v.seg[0].start_ns, 1234);
	assert_false(v.seg[0].closed);
	assert_int_equal(v.seg[0].n_parts, 3);
	assert_int_equal(v.seg[0].parts[2].off, 200);
	assert_int_equal(v.seg[0].parts[2].len, 100);
	assert_true(v.seg[0].parts[0].independent);
	assert_false(v.seg[0].parts[1].independent);
	assert_int_equal(vigil_live_bytes_of(lv, "lobby", 5, 1, &data, &len, &off), 0);
	assert_int_equal(len, 100);
	assert_int_equal(data[0], 5 * 16 + 1);
	assert_int_equal(data[99], 5 * 16 + 1);
	free(data);
	assert_int_equal(vigil_live_bytes_of(lv, "lobby", 5, 3, &data, &len, &off), -ENOENT);
	assert_int_equal(vigil_live_bytes_of(lv, "lobby", 5, -1, &data, &len, &off), -ENOENT); /* open */
	assert_int_equal(vigil_live_bytes_of(lv, "other", 5, 0, &data, &len, &off), -ENOENT);
	/* Its last part closes it: the whole segment is its parts. */
	vigil_live_bytes(lv, slot, 5, (const uint8_t[]){9, 9}, 2);
	vigil_live_part(lv, slot, 5, 7, 6000, false, true, 60000);
	assert_int_equal(vigil_live_bytes_of(lv, "lobby", 5, -1, &data, &len, &off), 0);
	assert_int_equal(len, 302);
	assert_int_equal(data[0], 5 * 16);
	assert_int_equal(data[150], 5 * 16 + 1);
	assert_int_equal(data[301], 9);
	free(data);
	assert_true(vigil_live_view(lv, "lobby", &v));
	assert_true(v.seg[0].closed);
	assert_int_equal(v.seg[0].ticks, 60000);
	/* Two segments on, its bytes are dropped: its place in the file. */
	slot = vigil_live_begin(lv, "lobby", 6, 2000, true);
	segment(lv, slot, 6, 2, 50, true);
	slot = vigil_live_begin(lv, "lobby", 7, 3000, true);
	assert_int_equal(vigil_live_bytes_of(lv, "lobby", 5, 2, &data, &len, &off), 1);
	assert_int_equal(off, 200);
	assert_int_equal(len, 100);
	assert_int_equal(vigil_live_bytes_of(lv, "lobby", 6, 1, &data, &len, &off), 0); /* the one before */
	free(data);
	assert_true(vigil_live_view(lv, "lobby", &v));
	assert_int_equal(v.n, 2); /* 7 has no part yet */
	assert_int_equal(v.seg[0].seq, 5);
	assert_int_equal(v.seg[1].seq, 6);
	vigil_live_free(lv);
}

struct late_part {
	struct vigil_live *lv;
	int slot;
};

static void *publish_later(void *arg)
{
	struct late_part *lp = arg;

	usleep(50000);
	vigil_live_bytes(lp->lv, lp->slot, 8, (const uint8_t[]){1}, 1);
	vigil_live_part(lp->lv, lp->slot, 8, 0, 18000, true, false, 0);
	return NULL;
}

static void test_wait(void **state)
{
	struct vigil_live *lv = vigil_live_create();
	struct late_part lp = {.lv = lv};
	pthread_t t;
	int slot;

	(void)state;
	assert_true(vigil_live_watch(lv, "lobby"));
	/* A first request: not until a whole segment in parts and the next
	 * one begun. */
	assert_int_equal(vigil_live_wait(lv, "lobby", UINT32_MAX, -1, in_ms(1)), -ETIMEDOUT);
	slot = vigil_live_begin(lv, "lobby", 7, 1, true);
	segment(lv, slot, 7, 2, 10, false);
	assert_int_equal(vigil_live_wait(lv, "lobby", UINT32_MAX, -1, in_ms(1)), -ETIMEDOUT);
	vigil_live_part(lv, slot, 7, 0, 100, false, true, 36100);
	slot = vigil_live_begin(lv, "lobby", 8, 2, true);
	assert_int_equal(vigil_live_wait(lv, "lobby", UINT32_MAX, -1, in_ms(1)), -ETIMEDOUT);
	/* Part 0 of 8 comes from another thread while the request waits. */
	lp.slot = slot;
	assert_int_equal(pthread_create(&t, NULL, publish_later, &lp), 0);
	assert_int_equal(vigil_live_wait(lv, "lobby", 8, 0, in_ms(5000)), 0);
	pthread_join(t, NULL);
	assert_int_equal(vigil_live_wait(lv, "lobby", UINT32_MAX, -1, in_ms(1)), 0);
	assert_int_equal(vigil_live_wait(lv, "lobby", 7, -1, in_ms(1)), 0); /* closed */
	assert_int_equal(vigil_live_wait(lv, "lobby", 8, -1, in_ms(1)), -ETIMEDOUT);
	assert_int_equal(vigil_live_wait(lv, "lobby", 8, 1, in_ms(1)), -ETIMEDOUT);
	assert_int_equal(vigil_live_wait(lv, "lobby", 10, 0, in_ms(1)), -ETIMEDOUT);
	assert_int_equal(vigil_live_wait(lv, "lobby", 11, 0, in_ms(1)), -ERANGE);
	vigil_live_free(lv);
}

static void test_sealed_and_long(void **state)
{
	struct vigil_live *lv = vigil_live_create();
	struct vigil_live_view v;
	int slot;

	(void)state;
	assert_true(vigil_live_watch(lv, "door"));
	assert_int_equal(vigil_live_begin(lv, "door", 3, 1, false), -1);
	assert_int_equal(vigil_live_wait(lv, "door", UINT32_MAX, -1, in_ms(5000)), -EPERM);
	/* More parts than a segment keeps: listed no more. */
	assert_true(vigil_live_watch(lv, "lobby"));
	slot = vigil_live_begin(lv, "lobby", 1, 1, true);
	segment(lv, slot, 1, VIGIL_LIVE_PARTS, 4, false);
	assert_true(vigil_live_view(lv, "lobby", &v));
	assert_int_equal(v.seg[0].n_parts, VIGIL_LIVE_PARTS);
	segment(lv, slot, 1, 1, 4, false);
	assert_false(vigil_live_view(lv, "lobby", &v));
	vigil_live_free(lv);
}

static void test_full(void **state)
{
	struct vigil_live *lv = vigil_live_create();
	char name[16];

	(void)state;
	for (unsigned i = 0; i < VIGIL_LIVE_CAMERAS; i++) {
		snprintf(name, sizeof(name), "cam%u", i);
		assert_true(vigil_live_watch(lv, name));
	}
	assert_false(vigil_live_watch(lv, "one-more"));
	assert_true(vigil_live_watch(lv, "cam3")); /* watched again */
	vigil_live_free(lv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unwatched),	    cmocka_unit_test(test_parts), cmocka_unit_test(test_wait),
	    cmocka_unit_test(test_sealed_and_long), cmocka_unit_test(test_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
