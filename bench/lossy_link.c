/* SPDX-License-Identifier: MIT */
/* vigil-cam's simulated lossy link (lossy_link.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lossy_link.h"

void lossy_link_init(struct lossy_link *l, double loss_percent, double burst, uint64_t seed)
{
	double p = loss_percent / 100;

	memset(l, 0, sizeof(*l));
	l->rng = seed | 1; /* xorshift stays at 0 */
	l->random = burst <= 1;
	l->p_leave = 1 / burst;
	/* Stationary loss: p_enter / (p_enter + p_leave) = p. */
	l->p_enter = l->random ? p : p * l->p_leave / (1 - p);
}

bool lossy_link_drops(struct lossy_link *l)
{
	double u;

	if (l->p_enter <= 0)
		return false;
	u = (double)(fleet_xorshift(&l->rng) >> 11) * 0x1p-53;
	if (l->random)
		l->bad = u < l->p_enter;
	else if (l->bad)
		l->bad = u >= l->p_leave;
	else
		l->bad = u < l->p_enter;
	l->dropped += l->bad;
	return l->bad;
}

int delay_queue_init(struct delay_queue *q, uint64_t delay_ns)
{
	memset(q, 0, sizeof(*q));
	q->delay_ns = delay_ns;
	q->ring = calloc(LINK_DELAY_SLOTS, sizeof(*q->ring));
	return q->ring == NULL ? -ENOMEM : 0;
}

void delay_queue_push(struct delay_queue *q, const uint8_t *frame, size_t len, uint64_t now)
{
	struct delayed_frame *d = &q->ring[(q->head + q->n++) % LINK_DELAY_SLOTS];

	d->due = now + q->delay_ns;
	d->len = len;
	memcpy(d->frame, frame, len);
}

const uint8_t *delay_queue_pop(struct delay_queue *q, uint64_t now, size_t *len)
{
	const struct delayed_frame *d = &q->ring[q->head];

	if (q->n == 0 || d->due > now)
		return NULL;
	q->head = (q->head + 1) % LINK_DELAY_SLOTS;
	q->n--;
	*len = d->len;
	return d->frame;
}

void delay_queue_free(struct delay_queue *q)
{
	free(q->ring);
	q->ring = NULL;
}
