/* SPDX-License-Identifier: MIT */
/* SRTP packet index estimation (RFC 3711 section 3.3.1, appendix A) and a
 * VIGIL_REPLAY_WINDOW-packet sliding window over a ring of bits, bit
 * (i % WINDOW) standing for index i. No DPDK, no allocation. */
#include <string.h>

#include "replay.h"

#define WORDS (VIGIL_REPLAY_WINDOW / 64)

_Static_assert(VIGIL_REPLAY_WINDOW % 64 == 0 && (VIGIL_REPLAY_WINDOW & (VIGIL_REPLAY_WINDOW - 1)) == 0,
	       "the window is a power of two of whole words");

void vigil_replay_init(struct vigil_replay *r)
{
	memset(r, 0, sizeof(*r));
	r->tokens = VIGIL_ROC_TRIAL_BURST;
}

void vigil_replay_init_floor(struct vigil_replay *r, uint64_t floor)
{
	vigil_replay_init(r);
	r->top = floor;
	r->started = true;
	memset(r->bitmap, 0xff, sizeof(r->bitmap));
}

/* With s_l the sequence number of top and d = SEQ - s_l, RFC 3711 picks
 * v = ROC - 1 when d > 2^15, ROC + 1 when d < -2^15, ROC otherwise. With
 * ROC 0 there is no earlier roll-over, so v stays 0 (as libsrtp does):
 * the sender starts at ROC 0, and a packet guessed older than that is
 * either new or from a stream joined mid-way, which trial finds
 * (vigil_replay_candidates). Before the first packet top is 0, which
 * yields index = seq. */
uint64_t vigil_replay_estimate(const struct vigil_replay *r, uint16_t seq)
{
	int32_t d = (int32_t)seq - (int32_t)(r->top & 0xffff);
	uint64_t roc = r->top >> 16;

	roc += (uint64_t)(d < -32768) - (uint64_t)(d > 32768 && roc > 0);
	return roc << 16 | seq;
}

static inline bool bit_test(const struct vigil_replay *r, uint64_t i)
{
	return r->bitmap[i / 64 % WORDS] >> (i % 64) & 1;
}

static inline void bit_set(struct vigil_replay *r, uint64_t i)
{
	r->bitmap[i / 64 % WORDS] |= UINT64_C(1) << (i % 64);
}

bool vigil_replay_check(const struct vigil_replay *r, uint64_t index)
{
	if (!r->started || index > r->top)
		return true;
	if (r->top - index >= VIGIL_REPLAY_WINDOW)
		return false;
	return !bit_test(r, index);
}

/* Clear the bits of indexes top+1 .. top+n (n < WINDOW): they hold
 * indexes that fall out of the window as top moves. At most WORDS + 1
 * masked word writes. */
static void clear_ahead(struct vigil_replay *r, uint64_t n)
{
	uint64_t i = r->top + 1;

	while (n) {
		unsigned int bit = i % 64;
		uint64_t take = 64 - bit < n ? 64 - bit : n;
		uint64_t mask = (take == 64 ? ~UINT64_C(0) : (UINT64_C(1) << take) - 1) << bit;

		r->bitmap[i / 64 % WORDS] &= ~mask;
		i += take;
		n -= take;
	}
}

void vigil_replay_commit(struct vigil_replay *r, uint64_t index)
{
	if (!r->started) {
		memset(r->bitmap, 0, sizeof(r->bitmap));
		__atomic_store_n(&r->top, index, __ATOMIC_RELAXED);
		__atomic_store_n(&r->started, true, __ATOMIC_RELEASE); /* after top: vigil_stream_top */
	} else if (index > r->top) {
		if (index - r->top >= VIGIL_REPLAY_WINDOW)
			memset(r->bitmap, 0, sizeof(r->bitmap));
		else
			clear_ahead(r, index - r->top);
		__atomic_store_n(&r->top, index, __ATOMIC_RELAXED);
	} else if (r->top - index >= VIGIL_REPLAY_WINDOW) {
		return; /* too old: its bit now stands for a newer index */
	}
	bit_set(r, index);
}

unsigned vigil_replay_candidates(const struct vigil_replay *r, uint16_t seq, uint64_t estimate,
				 uint64_t out[VIGIL_ROC_TRIAL_SPAN])
{
	uint64_t base = r->started ? r->top >> 16 : 0;
	unsigned n = 0;

	for (uint64_t roc = base; roc < base + VIGIL_ROC_TRIAL_SPAN && roc <= UINT32_MAX; roc++) {
		uint64_t index = roc << 16 | seq;

		if (index != estimate && vigil_replay_check(r, index))
			out[n++] = index;
	}
	return n;
}

bool vigil_replay_take_token(struct vigil_replay *r, uint64_t now, uint64_t hz)
{
	uint64_t per_token = hz / VIGIL_ROC_TRIAL_PER_S ? hz / VIGIL_ROC_TRIAL_PER_S : 1;
	uint64_t earned = (now - r->refill) / per_token;

	if (r->tokens == VIGIL_ROC_TRIAL_BURST) {
		r->refill = now; /* a full bucket earns nothing while it waits */
	} else if (earned > 0) {
		r->tokens = earned >= VIGIL_ROC_TRIAL_BURST - r->tokens ? VIGIL_ROC_TRIAL_BURST
									 : r->tokens + (uint32_t)earned;
		r->refill += earned * per_token;
	}
	if (r->tokens == 0)
		return false;
	r->tokens--;
	return true;
}
