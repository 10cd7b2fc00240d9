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
}

/* With s_l the sequence number of top and d = SEQ - s_l, RFC 3711 picks
 * v = ROC - 1 when d > 2^15, ROC + 1 when d < -2^15, ROC otherwise. With
 * ROC 0 there is no earlier roll-over, so v stays 0 (as libsrtp does):
 * the sender starts at ROC 0, and a packet guessed older than that is
 * either new or from a stream joined mid-way, which only an out-of-band
 * ROC can fix. Before the first packet top is 0, which yields index = seq. */
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
		r->top = index;
		r->started = true;
	} else if (index > r->top) {
		if (index - r->top >= VIGIL_REPLAY_WINDOW)
			memset(r->bitmap, 0, sizeof(r->bitmap));
		else
			clear_ahead(r, index - r->top);
		r->top = index;
	} else if (r->top - index >= VIGIL_REPLAY_WINDOW) {
		return; /* too old: its bit now stands for a newer index */
	}
	bit_set(r, index);
}
