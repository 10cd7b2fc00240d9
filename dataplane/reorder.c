/* SPDX-License-Identifier: MIT */
/* The reorder stage between decrypt and depacketize: holds packets that
 * arrive ahead of a gap, delivers them once the gap fills, and gives up
 * (delivers what it holds, so the depacketizer sees the loss) when waiting
 * longer is unlikely to help. */
#include <rte_mbuf.h>

#include "reorder.h"

#define SLOT_MASK (VIGIL_REORDER_SLOTS - 1)

_Static_assert((VIGIL_REORDER_SLOTS & SLOT_MASK) == 0 && VIGIL_REORDER_SLOTS < 32,
	       "reorder slots: a power of two that fits the held bitmap");

static struct vigil_reorder_pkt *slot_of(struct vigil_reorder *r, uint64_t index)
{
	return &r->slot[index & SLOT_MASK];
}

static void advance(struct vigil_reorder *r)
{
	r->next++;
	r->held >>= 1;
}

static void leave_list(struct vigil_reorder *r)
{
	LIST_REMOVE(r, waiting);
	r->list = NULL;
}

/* Delivers the held packet at r->next. */
static void release(const struct vigil_reorder_ctx *c, struct vigil_reorder *r)
{
	struct vigil_reorder_pkt *s = slot_of(r, r->next);

	if (s->payload != NULL)
		c->deliver(c->arg, r, r->next, s);
	r->list->n_held--;
	advance(r);
}

/* The gap filled: what follows it in order goes out, up to the next gap. */
static void drain(const struct vigil_reorder_ctx *c, struct vigil_reorder *r, struct vigil_counters *ctr)
{
	uint64_t oldest = UINT64_MAX;

	while (r->held & 1) {
		if (slot_of(r, r->next)->behind)
			ctr->v[VIGIL_CTR_reordered]++;
		release(c, r);
	}
	if (r->held == 0) {
		leave_list(r);
		return;
	}
	for (unsigned d = 1; d <= VIGIL_REORDER_SLOTS; d++)
		if (r->held & (1u << d))
			oldest = RTE_MIN(oldest, slot_of(r, r->next + d)->tsc);
	r->oldest_tsc = oldest;
}

/* Everything held goes out in order, over the gaps. */
static void give_up(const struct vigil_reorder_ctx *c, struct vigil_reorder *r)
{
	while (r->held != 0) {
		if (r->held & 1)
			release(c, r);
		else
			advance(r);
	}
	leave_list(r);
}

static void hold(const struct vigil_reorder_ctx *c, struct vigil_reorder *r, uint64_t d,
		 const struct vigil_reorder_pkt *p)
{
	struct vigil_reorder_pkt *s = slot_of(r, r->next + d);

	if (r->held == 0) {
		LIST_INSERT_HEAD(&c->list->streams, r, waiting);
		r->list = c->list;
		r->oldest_tsc = c->now_tsc;
	}
	RTE_ASSERT(!(r->held & (1u << d))); /* the replay window refused duplicates */
	*s = *p;
	s->tsc = c->now_tsc;
	s->behind = (r->held >> (d + 1)) != 0;
	if (s->payload == NULL)
		s->m = NULL; /* nothing to deliver: the caller keeps and frees it */
	r->held |= 1u << d;
	c->list->n_held++;
}

bool vigil_reorder_push_slow(const struct vigil_reorder_ctx *c, struct vigil_reorder *r,
			     struct vigil_counters *ctr, uint64_t index, const struct vigil_reorder_pkt *p)
{
	bool kept;
	uint64_t d;

	if (r->next == VIGIL_REORDER_NOT_STARTED)
		r->next = index; /* the stream's first packet starts the order */
	if (index < r->next) {
		/* Its place is passed: the depacketizer counts it late. */
		if (p->payload == NULL)
			return false;
		c->deliver(c->arg, r, index, p);
		return true;
	}
	d = index - r->next;
	if (d > VIGIL_REORDER_SLOTS && r->held != 0) {
		/* Too far past the gap to be reordering: it is a loss. */
		give_up(c, r);
		d = index - r->next;
	}
	if (d == 0) {
		bool behind = r->held != 0;

		if (p->payload != NULL) {
			c->deliver(c->arg, r, index, p);
			ctr->v[VIGIL_CTR_reordered] += behind;
		}
		advance(r);
		if (behind)
			drain(c, r, ctr);
		return p->payload != NULL;
	}
	if (d > VIGIL_REORDER_SLOTS) {
		/* Nothing held and a jump: nothing worth waiting for. */
		r->next = index + 1;
		if (p->payload == NULL)
			return false;
		c->deliver(c->arg, r, index, p);
		return true;
	}
	hold(c, r, d, p);
	kept = slot_of(r, index)->m != NULL;
	/* Every slot taken means only r->next is missing, and it is later
	 * than all of them: let the depacketizer resynchronise now. */
	if (__builtin_popcount(r->held) == VIGIL_REORDER_SLOTS)
		give_up(c, r);
	return kept;
}

void vigil_reorder_expire(const struct vigil_reorder_ctx *c)
{
	struct vigil_reorder *r, *next;

	for (r = LIST_FIRST(&c->list->streams); r != NULL; r = next) {
		next = LIST_NEXT(r, waiting);
		if (__atomic_load_n(&r->leaving, __ATOMIC_ACQUIRE) ||
		    c->now_tsc - r->oldest_tsc >= c->max_wait)
			give_up(c, r);
	}
}

void vigil_reorder_release_all(const struct vigil_reorder_ctx *c)
{
	struct vigil_reorder *r;

	while ((r = LIST_FIRST(&c->list->streams)) != NULL)
		give_up(c, r);
}

void vigil_reorder_drop(struct vigil_reorder *r)
{
	for (unsigned d = 1; d <= VIGIL_REORDER_SLOTS; d++) {
		if (!(r->held & (1u << d)))
			continue;
		rte_pktmbuf_free(slot_of(r, r->next + d)->m);
		r->list->n_held--;
	}
	if (r->held != 0)
		leave_list(r);
	r->held = 0;
}
