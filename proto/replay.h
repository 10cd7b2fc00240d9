/* SPDX-License-Identifier: MIT */
/* SRTP packet index estimation (RFC 3711 section 3.3.1 and appendix A),
 * the replay window and locking onto a stream's roll-over counter. Pure
 * functions, no DPDK: estimate and check before decrypting, commit only
 * after the packet authenticated. */
#ifndef VIGIL_REPLAY_H
#define VIGIL_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "vigil/limits.h"

/* Lock-on. A stream whose ROC is not known (at start, with or without
 * persisted state; after VIGIL_ROC_UNLOCK_RUN authentication failures in
 * a row) is in trial: a packet the estimate does not authenticate is
 * tried under the other ROCs from top's upward, VIGIL_ROC_TRIAL_SPAN of
 * them, as far as a token bucket allows (VIGIL_ROC_TRIAL_BURST tries at
 * once, VIGIL_ROC_TRIAL_PER_S a second), so a flood of forgeries buys few
 * decryptions. VIGIL_ROC_LOCK_RUN packets in a row that authenticate lock
 * the stream onto its ROC: from then on only the estimate is tried. */
#define VIGIL_ROC_TRIAL_SPAN 16
#define VIGIL_ROC_LOCK_RUN 2
#define VIGIL_ROC_UNLOCK_RUN 64
#define VIGIL_ROC_TRIAL_BURST 64
#define VIGIL_ROC_TRIAL_PER_S 64

struct vigil_replay {
	/* Highest authenticated index, ROC << 16 | SEQ (or the persisted one
	 * the stream started from). The worker writes it, the control plane
	 * reads it to persist it: atomically, word-sized. */
	uint64_t top;
	bool started;  /* false until the first packet authenticates (or a floor is set) */
	bool locked;   /* the ROC is known: only the estimate is tried */
	uint8_t ok_run;   /* in trial: packets in a row that authenticated */
	uint8_t fail_run; /* locked: authentication failures in a row */
	uint32_t tokens;  /* trial decryptions left */
	uint64_t refill;  /* when tokens were last topped up (caller's clock) */
	uint64_t bitmap[VIGIL_REPLAY_WINDOW / 64]; /* bit (i % WINDOW) = index i seen */
};

/* A new stream: nothing seen, in trial from ROC 0, a full bucket. */
void vigil_replay_init(struct vigil_replay *r);

/* A new stream that continues from a persisted index: every index at or
 * below floor counts as seen (replayed), the ROC is estimated from it,
 * and trials start at its ROC. */
void vigil_replay_init_floor(struct vigil_replay *r, uint64_t floor);

/* The 48-bit index the sender most likely used for sequence number seq,
 * given the highest index seen (initial ROC is 0). */
uint64_t vigil_replay_estimate(const struct vigil_replay *r, uint16_t seq);

/* true when index has not been seen and is not older than the window. */
bool vigil_replay_check(const struct vigil_replay *r, uint64_t index);

/* Record index as seen; moves the window when index is new highest. */
void vigil_replay_commit(struct vigil_replay *r, uint64_t index);

/* In trial: the indexes other than the estimate to try for seq, in
 * order: the ROCs from top's upward (VIGIL_ROC_TRIAL_SPAN, from 0 when
 * nothing was seen), each only if the window would take it. Returns how
 * many (at most VIGIL_ROC_TRIAL_SPAN) were written to out. */
unsigned vigil_replay_candidates(const struct vigil_replay *r, uint16_t seq, uint64_t estimate,
				 uint64_t out[VIGIL_ROC_TRIAL_SPAN]);

/* One trial decryption, if the bucket has a token: refilled at
 * VIGIL_ROC_TRIAL_PER_S per hz ticks of now, up to VIGIL_ROC_TRIAL_BURST. */
bool vigil_replay_take_token(struct vigil_replay *r, uint64_t now, uint64_t hz);

/* After a packet was tried: whether it authenticated moves the lock-on
 * state (two in a row lock, 64 failures in a row unlock). Inline: the
 * worker calls it for every packet. */
static inline void vigil_replay_authenticated(struct vigil_replay *r, bool ok)
{
	if (r->locked) {
		r->fail_run = ok ? 0 : (uint8_t)(r->fail_run + 1);
		if (r->fail_run >= VIGIL_ROC_UNLOCK_RUN) {
			r->locked = false;
			r->ok_run = 0;
		}
		return;
	}
	r->ok_run = ok ? (uint8_t)(r->ok_run + 1) : 0;
	if (r->ok_run >= VIGIL_ROC_LOCK_RUN) {
		r->locked = true;
		r->fail_run = 0;
	}
}

#endif
