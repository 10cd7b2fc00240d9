/* SPDX-License-Identifier: MIT */
/* Replay window and SRTP index estimation: table-driven edge cases run
 * through the receive pipeline (estimate, check, commit), and a long
 * random walk compared against a plain set of seen indexes; a stream
 * continued from a persisted index, the ROCs tried while locking on, the
 * trial bucket and the lock-on state. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include "replay.h"

#define W VIGIL_REPLAY_WINDOW
#define MAX_STEPS 12

struct step {
	uint16_t seq;
	uint64_t index; /* expected estimate */
	bool ok;	/* expected check; committed when true */
};

struct pipeline_case {
	const char *name;
	struct step steps[MAX_STEPS];
	int n;
};

#define R(roc, seq) ((uint64_t)(roc) << 16 | (seq))

static const struct pipeline_case pipeline_cases[] = {
    {"in order", {{1, 1, true}, {2, 2, true}, {3, 3, true}, {4, 4, true}}, 4},
    {"duplicates", {{5, 5, true}, {5, 5, false}, {6, 6, true}, {5, 5, false}, {6, 6, false}}, 5},
    {"reordered within window",
     {{10, 10, true},
      {8, 8, true},
      {9, 9, true},
      {12, 12, true},
      {11, 11, true},
      {9, 9, false},
      {7, 7, true}},
     7},
    {"window edge",
     {{2000, 2000, true},
      {2000 - W, 2000 - W, false},
      {2000 - W - 1, 2000 - W - 1, false},
      {2000 - W + 1, 2000 - W + 1, true},
      {2000 - W + 1, 2000 - W + 1, false}},
     5},
    {"jump below the window keeps the old bits",
     {{100, 100, true},
      {100 + W - 1, 100 + W - 1, true},
      {100, 100, false},
      {101, 101, true},
      {99, 99, false},
      {100 + W - 2, 100 + W - 2, true}},
     6},
    {"jump of exactly the window",
     {{100, 100, true},
      {99, 99, true},
      {100 + W, 100 + W, true},
      {100, 100, false},
      {101, 101, true},
      {100 + W, 100 + W, false}},
     6},
    {"far jump",
     {{100, 100, true},
      {5000, 5000, true},
      {100, 100, false},
      {4000, 4000, true},
      {5000 - W + 1, 5000 - W + 1, true},
      {4000, 4000, false}},
     6},
    {"wrap forward",
     {{65534, 65534, true},
      {65535, 65535, true},
      {0, R(1, 0), true},
      {1, R(1, 1), true},
      {0, R(1, 0), false}},
     5},
    {"late packets from before the wrap",
     {{65530, 65530, true},
      {65535, 65535, true},
      {0, R(1, 0), true},
      {2, R(1, 2), true},
      {65533, R(0, 65533), true},
      {65535, R(0, 65535), false},
      {65531, R(0, 65531), true},
      {1, R(1, 1), true},
      {65533, R(0, 65533), false}},
     9},
    {"first packet high, next wraps",
     {{40000, 40000, true}, {100, R(1, 100), true}, {39999, 39999, false}},
     3},
    {"first packet 65535", {{65535, 65535, true}, {0, R(1, 0), true}}, 2},
    /* ROC 0 has no earlier roll-over: a seq "before" the first packet by
     * more than 2^15 is taken as new at ROC 0, as libsrtp does. */
    {"no ROC underflow", {{100, 100, true}, {60000, 60000, true}, {101, R(1, 101), true}}, 3},
};

static void test_pipeline_cases(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(pipeline_cases) / sizeof(pipeline_cases[0]); c++) {
		const struct pipeline_case *pc = &pipeline_cases[c];
		struct vigil_replay r;

		vigil_replay_init(&r);
		for (int i = 0; i < pc->n; i++) {
			uint64_t idx = vigil_replay_estimate(&r, pc->steps[i].seq);
			bool ok = vigil_replay_check(&r, idx);

			if (idx != pc->steps[i].index || ok != pc->steps[i].ok)
				fail_msg("%s, step %d (seq %u): index %llu ok %d, want %llu ok %d", pc->name,
					 i, pc->steps[i].seq, (unsigned long long)idx, ok,
					 (unsigned long long)pc->steps[i].index, pc->steps[i].ok);
			if (ok)
				vigil_replay_commit(&r, idx);
		}
	}
}

/* RFC 3711 section 3.3.1 boundaries, from a given top. */
static void test_estimate_boundaries(void **state)
{
	static const struct {
		uint64_t top;
		uint16_t seq;
		uint64_t want;
	} t[] = {
	    {R(1, 0), 0, R(1, 0)},
	    {R(1, 0), 32768, R(1, 32768)}, /* d = 2^15: same ROC */
	    {R(1, 0), 32769, R(0, 32769)}, /* d > 2^15: ROC - 1 */
	    {R(1, 32768), 0, R(1, 0)},	   /* s_l - 2^15 = 0, not > SEQ */
	    {R(1, 32768), 65535, R(1, 65535)},
	    {R(1, 32769), 0, R(2, 0)}, /* s_l - 2^15 > SEQ: ROC + 1 */
	    {R(1, 32769), 1, R(1, 1)},
	    {R(7, 10), 65500, R(6, 65500)},
	    {R(7, 65500), 10, R(8, 10)},
	    {R(0, 100), 60000, R(0, 60000)}, /* would be ROC -1: stays 0 */
	};
	struct vigil_replay r;

	(void)state;
	vigil_replay_init(&r);
	assert_int_equal(vigil_replay_estimate(&r, 65535), 65535); /* before the first packet */
	assert_true(vigil_replay_check(&r, 65535));
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		vigil_replay_init(&r);
		vigil_replay_commit(&r, t[i].top);
		if (vigil_replay_estimate(&r, t[i].seq) != t[i].want)
			fail_msg("case %zu: top %llx seq %u: %llx, want %llx", i,
				 (unsigned long long)t[i].top, t[i].seq,
				 (unsigned long long)vigil_replay_estimate(&r, t[i].seq),
				 (unsigned long long)t[i].want);
	}
}

/* Committing an index older than the window (the caller skipped check)
 * must not mark the newer index sharing its bit. */
static void test_commit_too_old_is_ignored(void **state)
{
	struct vigil_replay r;

	(void)state;
	vigil_replay_init(&r);
	vigil_replay_commit(&r, 2000);
	vigil_replay_commit(&r, 2000 - W - 1); /* same bit as 1999 */
	assert_true(vigil_replay_check(&r, 1999));
	assert_int_equal(r.top, 2000);
	assert_false(vigil_replay_check(&r, 2000));
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Random walk over many ROCs: mostly in order, some reordering up to
 * 1.5 windows back, duplicates and jumps. The sender's true index must
 * come back from its 16-bit seq, and check must match the model. */
static void test_random_against_model(void **state)
{
	enum { STEPS = 400000, SPACE = 1 << 24 };
	uint8_t *seen = calloc(SPACE, 1);
	uint64_t head = 4096, max = 0, accepted = 0, rejected = 0;
	bool started = false;
	struct vigil_replay r;

	(void)state;
	assert_non_null(seen);
	vigil_replay_init(&r);
	for (int i = 0; i < STEPS && head < SPACE - 4096; i++) {
		uint64_t x = rnd(), idx;
		bool want, got;

		switch (x % 64) {
		case 0 ... 3: /* late: up to 1.5 windows behind */
			idx = head - (x >> 8) % (W + W / 2);
			break;
		case 4 ... 5: /* duplicate or near */
			idx = head - (x >> 8) % 4;
			break;
		case 6: /* jump ahead, sometimes past the window */
			head += (x >> 8) % (3 * W);
			idx = head;
			break;
		default:
			head += 1 + (x >> 8) % 3;
			idx = head;
		}
		uint64_t est = vigil_replay_estimate(&r, (uint16_t)idx);
		if (est != idx)
			fail_msg("step %d: seq %u estimated %llu, sent %llu", i, (unsigned)(uint16_t)idx,
				 (unsigned long long)est, (unsigned long long)idx);
		want = !started || idx > max || (max - idx < W && !seen[idx]);
		got = vigil_replay_check(&r, idx);
		if (got != want)
			fail_msg("step %d: index %llu (top %llu): check %d, model %d", i,
				 (unsigned long long)idx, (unsigned long long)max, got, want);
		if (got) {
			vigil_replay_commit(&r, idx);
			seen[idx] = 1;
			max = !started || idx > max ? idx : max;
			started = true;
			accepted++;
		} else {
			rejected++;
		}
	}
	free(seen);
	assert_true(r.top >> 16 > 20); /* crossed many ROCs */
	assert_true(accepted > STEPS / 2 && rejected > STEPS / 100);
}

/* Continued from a persisted index: everything at or below it is seen,
 * the estimate starts from it (across a wrap too), the window moves on. */
static void test_floor(void **state)
{
	struct vigil_replay r;

	(void)state;
	vigil_replay_init_floor(&r, R(1, 65000));
	assert_true(r.started);
	assert_false(r.locked);
	assert_false(vigil_replay_check(&r, R(1, 65000)));
	assert_false(vigil_replay_check(&r, R(1, 64999)));
	assert_false(vigil_replay_check(&r, R(1, 65000) - W + 1)); /* inside the window, marked seen */
	assert_false(vigil_replay_check(&r, R(0, 100)));
	assert_true(vigil_replay_check(&r, R(1, 65001)));
	assert_int_equal(vigil_replay_estimate(&r, 64990), R(1, 64990));
	assert_int_equal(vigil_replay_estimate(&r, 10), R(2, 10)); /* it wrapped since */
	vigil_replay_commit(&r, R(2, 10));
	assert_int_equal(r.top, R(2, 10));
	assert_false(vigil_replay_check(&r, R(1, 64999))); /* below the floor, still in the window */
	assert_false(vigil_replay_check(&r, R(1, 65000)));
	assert_true(vigil_replay_check(&r, R(1, 65535))); /* above it, not seen */
	assert_true(vigil_replay_check(&r, R(2, 9)));
}

/* The ROCs tried beside the estimate: top's and upward, 16 in all, each
 * only where the window would take it; from 0 with nothing seen. */
static void test_candidates(void **state)
{
	uint64_t c[VIGIL_ROC_TRIAL_SPAN];
	struct vigil_replay r;
	unsigned n;

	(void)state;
	vigil_replay_init(&r);
	n = vigil_replay_candidates(&r, 7, vigil_replay_estimate(&r, 7), c);
	assert_int_equal(n, VIGIL_ROC_TRIAL_SPAN - 1); /* ROC 0 is the estimate */
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(c[i], R(i + 1, 7));

	vigil_replay_init_floor(&r, R(5, 1000));
	n = vigil_replay_candidates(&r, 500, vigil_replay_estimate(&r, 500), c);
	/* the estimate is R(5, 500), below the floor; ROC 5 is refused
	 * anyway, so 6 .. 20 */
	assert_int_equal(n, VIGIL_ROC_TRIAL_SPAN - 1);
	assert_int_equal(c[0], R(6, 500));
	assert_int_equal(c[n - 1], R(20, 500));
	n = vigil_replay_candidates(&r, 2000, vigil_replay_estimate(&r, 2000), c);
	assert_int_equal(n, VIGIL_ROC_TRIAL_SPAN - 1); /* the estimate R(5, 2000) left out */
	assert_int_equal(c[0], R(6, 2000));
}

/* 64 tries at once, then 64 a second, never more than 64 saved up. */
static void test_trial_tokens(void **state)
{
	const uint64_t hz = 1000000, t0 = 5 * hz;
	struct vigil_replay r;
	unsigned got = 0;

	(void)state;
	vigil_replay_init(&r);
	while (vigil_replay_take_token(&r, t0, hz))
		got++;
	assert_int_equal(got, VIGIL_ROC_TRIAL_BURST);
	assert_false(vigil_replay_take_token(&r, t0 + hz / VIGIL_ROC_TRIAL_PER_S - 1, hz));
	assert_true(vigil_replay_take_token(&r, t0 + hz / VIGIL_ROC_TRIAL_PER_S, hz));
	assert_false(vigil_replay_take_token(&r, t0 + hz / VIGIL_ROC_TRIAL_PER_S, hz));
	/* half a second earns half a second's worth */
	for (got = 0; vigil_replay_take_token(&r, t0 + hz / VIGIL_ROC_TRIAL_PER_S + hz / 2, hz); got++)
		;
	assert_int_equal(got, VIGIL_ROC_TRIAL_PER_S / 2);
	/* an hour saves up no more than a burst */
	for (got = 0; vigil_replay_take_token(&r, t0 + 3600 * hz, hz); got++)
		;
	assert_int_equal(got, VIGIL_ROC_TRIAL_BURST);
}

/* Two in a row lock; a failure in between starts the count again; 64
 * failures in a row unlock, and a success among them resets them. */
static void test_lock_on(void **state)
{
	struct vigil_replay r;

	(void)state;
	vigil_replay_init(&r);
	vigil_replay_authenticated(&r, true);
	vigil_replay_authenticated(&r, false);
	vigil_replay_authenticated(&r, true);
	assert_false(r.locked);
	vigil_replay_authenticated(&r, true);
	assert_true(r.locked);
	for (int i = 0; i < VIGIL_ROC_UNLOCK_RUN - 1; i++)
		vigil_replay_authenticated(&r, false);
	vigil_replay_authenticated(&r, true);
	for (int i = 0; i < VIGIL_ROC_UNLOCK_RUN - 1; i++)
		vigil_replay_authenticated(&r, false);
	assert_true(r.locked);
	vigil_replay_authenticated(&r, false);
	assert_false(r.locked);
	vigil_replay_authenticated(&r, true);
	assert_false(r.locked);
	vigil_replay_authenticated(&r, true);
	assert_true(r.locked);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pipeline_cases),
	    cmocka_unit_test(test_estimate_boundaries),
	    cmocka_unit_test(test_commit_too_old_is_ignored),
	    cmocka_unit_test(test_random_against_model),
	    cmocka_unit_test(test_floor),
	    cmocka_unit_test(test_candidates),
	    cmocka_unit_test(test_trial_tokens),
	    cmocka_unit_test(test_lock_on),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
