/* SPDX-License-Identifier: MIT */
/* SRTP packet index estimation (RFC 3711 section 3.3.1 and appendix A) and
 * the replay window. Pure functions, no DPDK: estimate and check before
 * decrypting, commit only after the packet authenticated. */
#ifndef VIGIL_REPLAY_H
#define VIGIL_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "vigil/limits.h"

struct vigil_replay {
	uint64_t top;  /* highest authenticated index, ROC << 16 | SEQ */
	bool started;  /* false until the first packet authenticates */
	uint64_t bitmap[VIGIL_REPLAY_WINDOW / 64]; /* bit (i % WINDOW) = index i seen */
};

void vigil_replay_init(struct vigil_replay *r);

/* The 48-bit index the sender most likely used for sequence number seq,
 * given the highest index seen (initial ROC is 0). */
uint64_t vigil_replay_estimate(const struct vigil_replay *r, uint16_t seq);

/* true when index has not been seen and is not older than the window. */
bool vigil_replay_check(const struct vigil_replay *r, uint64_t index);

/* Record index as seen; moves the window when index is new highest. */
void vigil_replay_commit(struct vigil_replay *r, uint64_t index);

#endif
