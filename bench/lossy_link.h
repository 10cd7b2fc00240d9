/* SPDX-License-Identifier: MIT */
/* vigil-cam's simulated lossy link (--loss, --burst, --delay): which
 * packets a link loses, at random or in Gilbert-Elliott bursts, and a
 * bounded queue that holds each packet for the link's delay. No sockets:
 * the caller sends what the queue lets go. */
#ifndef VIGIL_BENCH_LOSSY_LINK_H
#define VIGIL_BENCH_LOSSY_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fleet.h"

#define LINK_FRAME_MAX (FLEET_MAX_FRAME + 2) /* an RTX packet: the original sequence number more */
#define LINK_DELAY_SLOTS 8192 /* packets on their way at most (12 MiB) */

/* Gilbert-Elliott: every packet lost in the bad state, none in the good
 * one; entered with p_enter, left with p_leave (mean burst 1 / p_leave).
 * Plain random loss: the bad state lasts one packet, entered with P. */
struct lossy_link {
	double p_enter, p_leave;
	bool bad, random;
	uint64_t rng;
	uint64_t dropped;
};

/* loss_percent of the packets lost (0 <= it < 100), in bursts of burst
 * packets on average (1: each at random), drawn from seed. */
void lossy_link_init(struct lossy_link *l, double loss_percent, double burst, uint64_t seed);

/* Whether the link loses the next packet (counted in dropped). */
bool lossy_link_drops(struct lossy_link *l);

struct delayed_frame {
	uint64_t due;
	size_t len;
	uint8_t frame[LINK_FRAME_MAX];
};

struct delay_queue {
	uint64_t delay_ns;
	struct delayed_frame *ring; /* LINK_DELAY_SLOTS */
	unsigned head, n;
};

/* 0, or -ENOMEM. */
int delay_queue_init(struct delay_queue *q, uint64_t delay_ns);

/* When the oldest packet is due (UINT64_MAX: none waits). */
static inline uint64_t delay_queue_next_due(const struct delay_queue *q)
{
	return q->n > 0 ? q->ring[q->head].due : UINT64_MAX;
}

static inline bool delay_queue_full(const struct delay_queue *q)
{
	return q->n == LINK_DELAY_SLOTS;
}

/* A packet of len (<= LINK_FRAME_MAX) bytes, due delay_ns after now; the
 * queue must not be full. */
void delay_queue_push(struct delay_queue *q, const uint8_t *frame, size_t len, uint64_t now);

/* The oldest packet if it is due at now (its length in *len; valid until
 * the next push), else NULL. */
const uint8_t *delay_queue_pop(struct delay_queue *q, uint64_t now, size_t *len);

void delay_queue_free(struct delay_queue *q);

#endif
