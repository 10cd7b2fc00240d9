/* SPDX-License-Identifier: MIT */
/* The reorder stage between decrypt and depacketize: holds packets that
 * arrive ahead of a gap, delivers them once the gap fills, and gives up
 * (delivers what it holds, so the depacketizer sees the loss) when waiting
 * longer is unlikely to help. */
#include <errno.h>

#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "reorder.h"

_Static_assert((VIGIL_HOLD_WINDOW & (VIGIL_HOLD_WINDOW - 1)) == 0 && VIGIL_HOLD_WINDOW % 64 == 0 &&
		   VIGIL_HOLD_WINDOW <= UINT16_MAX && VIGIL_REORDER_SLOTS < VIGIL_HOLD_SMALL_WINDOW &&
		   (VIGIL_HOLD_SMALL_WINDOW & (VIGIL_HOLD_SMALL_WINDOW - 1)) == 0 &&
		   VIGIL_HOLD_SMALL_WINDOW % 64 == 0 && VIGIL_HOLD_SMALL_WINDOW < VIGIL_HOLD_WINDOW,
	       "hold windows: powers of two, in 64-bit words, a span fits 16 bits");

/* The metrics read n_held from another thread: whole stores, no lock. */
static void count_held(struct vigil_reorder_list *l, int delta)
{
	__atomic_store_n(&l->n_held, l->n_held + (unsigned)delta, __ATOMIC_RELAXED);
}

static size_t window_size(unsigned slots)
{
	return RTE_ALIGN_CEIL(sizeof(struct vigil_reorder_window) + slots * sizeof(struct vigil_reorder_pkt),
			      RTE_CACHE_LINE_SIZE);
}

int vigil_reorder_list_init(struct vigil_reorder_list *l, unsigned n_small, unsigned n_large)
{
	size_t small = window_size(VIGIL_HOLD_SMALL_WINDOW), large = window_size(VIGIL_HOLD_WINDOW);
	uint8_t *at;

	LIST_INIT(&l->streams);
	SLIST_INIT(&l->free_small);
	SLIST_INIT(&l->free_large);
	l->n_held = 0;
	l->windows = NULL;
	if (n_small + n_large == 0)
		return 0;
	l->windows = rte_zmalloc("vigil_hold", n_small * small + n_large * large, RTE_CACHE_LINE_SIZE);
	if (l->windows == NULL)
		return -ENOMEM;
	at = l->windows;
	for (unsigned i = 0; i < n_small + n_large; i++) {
		struct vigil_reorder_window *w = (struct vigil_reorder_window *)at;

		w->mask = i < n_small ? VIGIL_HOLD_SMALL_WINDOW - 1 : VIGIL_HOLD_WINDOW - 1;
		if (i < n_small)
			SLIST_INSERT_HEAD(&l->free_small, w, free);
		else
			SLIST_INSERT_HEAD(&l->free_large, w, free);
		at += i < n_small ? small : large;
	}
	return 0;
}

void vigil_reorder_list_free(struct vigil_reorder_list *l)
{
	rte_free(l->windows);
	l->windows = NULL;
	SLIST_INIT(&l->free_small);
	SLIST_INIT(&l->free_large);
}

static struct vigil_reorder_pkt *slot_of(struct vigil_reorder *r, uint64_t index)
{
	return &r->win->slot[index & r->win->mask];
}

/* Only an index within the window's reach from next can be held. */
static bool is_held(const struct vigil_reorder *r, uint64_t index)
{
	return index - r->next <= r->win->mask && (r->win->held[(index & r->win->mask) / 64] >> (index % 64)) & 1;
}

static void flip(struct vigil_reorder *r, uint64_t index)
{
	r->win->held[(index & r->win->mask) / 64] ^= UINT64_C(1) << (index % 64);
}

static void give_back(struct vigil_reorder_list *l, struct vigil_reorder_window *w)
{
	if (w->mask == VIGIL_HOLD_SMALL_WINDOW - 1)
		SLIST_INSERT_HEAD(&l->free_small, w, free);
	else
		SLIST_INSERT_HEAD(&l->free_large, w, free);
}

/* A window that reaches d past next: a small one when it does and one is
 * free, else a large one; NULL when none is. */
static struct vigil_reorder_window *borrow(struct vigil_reorder_list *l, uint64_t d)
{
	struct vigil_reorder_window *w = NULL;

	if (d < VIGIL_HOLD_SMALL_WINDOW && (w = SLIST_FIRST(&l->free_small)) != NULL) {
		SLIST_REMOVE_HEAD(&l->free_small, free);
		return w;
	}
	if ((w = SLIST_FIRST(&l->free_large)) != NULL)
		SLIST_REMOVE_HEAD(&l->free_large, free);
	return w;
}

/* A stream holding in a small window must hold further: what it holds
 * moves to a large one (windows come back with no slot marked). */
static bool widen(struct vigil_reorder_list *l, struct vigil_reorder *r)
{
	struct vigil_reorder_window *small = r->win, *large = SLIST_FIRST(&l->free_large);

	if (large == NULL)
		return false;
	SLIST_REMOVE_HEAD(&l->free_large, free);
	for (uint64_t i = r->next; i <= r->top; i++) {
		if (!is_held(r, i))
			continue;
		flip(r, i);
		large->slot[i & large->mask] = small->slot[i & small->mask];
		large->held[(i & large->mask) / 64] |= UINT64_C(1) << (i % 64);
	}
	r->win = large;
	give_back(l, small);
	return true;
}

/* Nothing held any more: off the list, the window back to its pool. */
static void leave_list(struct vigil_reorder *r)
{
	LIST_REMOVE(r, waiting);
	give_back(r->list, r->win);
	r->win = NULL;
	r->list = NULL;
}

/* Delivers the held packet at r->next. */
static void release(const struct vigil_reorder_ctx *c, struct vigil_reorder *r)
{
	struct vigil_reorder_pkt *s = slot_of(r, r->next);

	flip(r, r->next);
	if (s->payload != NULL)
		c->deliver(c->arg, r, r->next, s);
	count_held(r->list, -1);
	r->n_held--;
	r->next++;
}

/* The gap filled: what follows it in order goes out, up to the next gap. */
static void drain(const struct vigil_reorder_ctx *c, struct vigil_reorder *r, struct vigil_counters *ctr)
{
	uint64_t oldest = UINT64_MAX;

	while (r->n_held != 0 && is_held(r, r->next)) {
		if (slot_of(r, r->next)->behind)
			ctr->v[VIGIL_CTR_reordered]++;
		release(c, r);
	}
	if (r->n_held == 0) {
		leave_list(r);
		return;
	}
	for (unsigned d = 1, left = r->n_held; left > 0 && d <= r->span; d++)
		if (is_held(r, r->next + d)) {
			oldest = RTE_MIN(oldest, slot_of(r, r->next + d)->tsc);
			left--;
		}
	r->oldest_tsc = oldest;
}

/* Everything held goes out in order, over the gaps. */
static void give_up(const struct vigil_reorder_ctx *c, struct vigil_reorder *r)
{
	while (r->n_held != 0) {
		if (is_held(r, r->next))
			release(c, r);
		else
			r->next++;
	}
	leave_list(r);
}

/* Held at distance d from next (1 <= d <= span); false when no window or
 * no room was left for it: the caller treats it as a loss. */
static bool hold(const struct vigil_reorder_ctx *c, struct vigil_reorder *r, uint64_t d,
		 const struct vigil_reorder_pkt *p)
{
	struct vigil_reorder_pkt *s;
	uint64_t index = r->next + d;

	if (c->list->n_held >= VIGIL_HOLD_PACKETS)
		return false;
	if (r->n_held == 0) {
		r->win = borrow(c->list, d);
		if (r->win == NULL)
			return false;
		LIST_INSERT_HEAD(&c->list->streams, r, waiting);
		r->list = c->list;
		r->oldest_tsc = c->now_tsc;
	} else if (d > r->win->mask && !widen(c->list, r)) {
		return false;
	}
	RTE_ASSERT(!is_held(r, index)); /* the replay window refused duplicates */
	s = slot_of(r, index);
	*s = *p;
	s->tsc = c->now_tsc;
	/* Behind: a packet with a higher index came first. */
	s->behind = r->n_held != 0 && index < r->top;
	if (r->n_held == 0 || index > r->top)
		r->top = index;
	if (s->payload == NULL)
		s->m = NULL; /* nothing to deliver: the caller keeps and frees it */
	flip(r, index);
	r->n_held++;
	count_held(c->list, 1);
	return true;
}

/* Delivered now, its place taken: what was missing before it is lost. */
static bool skip_to(const struct vigil_reorder_ctx *c, struct vigil_reorder *r, uint64_t index,
		    const struct vigil_reorder_pkt *p)
{
	r->next = index + 1;
	if (p->payload == NULL)
		return false;
	c->deliver(c->arg, r, index, p);
	return true;
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
	if (d > r->span && r->n_held != 0) {
		/* Too far past the gap to be waited for: it is a loss. */
		give_up(c, r);
		d = index - r->next;
	}
	if (d == 0) {
		bool behind = r->n_held != 0;

		if (p->payload != NULL) {
			c->deliver(c->arg, r, index, p);
			ctr->v[VIGIL_CTR_reordered] += behind;
		}
		r->next++;
		if (behind)
			drain(c, r, ctr);
		return p->payload != NULL;
	}
	/* Nothing held and a jump: nothing worth waiting for. */
	if (d > r->span)
		return skip_to(c, r, index, p);
	if (!hold(c, r, d, p)) {
		ctr->v[VIGIL_CTR_hold_no_room]++;
		if (r->n_held != 0)
			give_up(c, r);
		return skip_to(c, r, index, p);
	}
	kept = slot_of(r, index)->m != NULL;
	/* Every slot taken means only r->next is missing, and it is later
	 * than all of them: let the depacketizer resynchronise now. */
	if (r->n_held == r->span)
		give_up(c, r);
	return kept;
}

bool vigil_reorder_missing(const struct vigil_reorder *r, uint64_t index)
{
	return r->n_held != 0 && index >= r->next && index - r->next <= r->span && !is_held(r, index);
}

unsigned vigil_reorder_gaps(const struct vigil_reorder *r, uint16_t *out, unsigned max)
{
	unsigned n = 0;

	for (uint64_t i = r->next; r->n_held != 0 && i < r->top && n < max; i++)
		if (!is_held(r, i))
			out[n++] = (uint16_t)i;
	return n;
}

void vigil_reorder_expire(const struct vigil_reorder_ctx *c)
{
	struct vigil_reorder *r, *next;

	for (r = LIST_FIRST(&c->list->streams); r != NULL; r = next) {
		next = LIST_NEXT(r, waiting);
		if (__atomic_load_n(&r->leaving, __ATOMIC_ACQUIRE) ||
		    (!c->no_deadline && c->now_tsc - r->oldest_tsc >= r->max_wait))
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
	if (r->n_held == 0)
		return;
	for (unsigned d = 1; d <= r->span; d++) {
		if (!is_held(r, r->next + d))
			continue;
		flip(r, r->next + d);
		rte_pktmbuf_free(slot_of(r, r->next + d)->m);
		count_held(r->list, -1);
	}
	r->n_held = 0;
	leave_list(r);
}
