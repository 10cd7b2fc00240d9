/* SPDX-License-Identifier: MIT */
/* Puts a stream's authenticated packets back in index order for a short
 * while before they reach the depacketizer: a packet that arrives ahead of
 * a gap is held until the gap fills (reordered, or retransmitted after a
 * NACK) or is given up on. One per stream; what a stream holds lives in a
 * window it borrows from its worker's pool while it holds anything (a
 * small one, or a large one when it must hold further), so memory is
 * bounded per worker, not per camera. */
#ifndef VIGIL_REORDER_H
#define VIGIL_REORDER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <rte_branch_prediction.h>

#include "counters.h"
#include "vigil/limits.h"

struct rte_mbuf;

/* One packet as the depacketizer takes it. */
struct vigil_reorder_pkt {
	struct rte_mbuf *m;      /* the payload's mbuf, owned by the stage while held */
	uint8_t *payload;        /* NULL: unusable; it only takes its place in the order */
	uint64_t tsc;            /* arrival, for the deadline */
	uint32_t ts;             /* RTP timestamp */
	uint16_t len;
	bool marker;
	bool behind; /* arrived after a packet with a higher index */
};

struct vigil_reorder_list;

/* Held packets by index & mask (VIGIL_HOLD_SMALL_WINDOW or
 * VIGIL_HOLD_WINDOW slots), and which slots hold one. */
struct vigil_reorder_window {
	uint64_t held[VIGIL_HOLD_WINDOW / 64];
	SLIST_ENTRY(vigil_reorder_window) free;
	uint16_t mask;
	struct vigil_reorder_pkt slot[];
};

struct vigil_reorder {
	uint64_t next;       /* the index the depacketizer takes next */
	uint64_t oldest_tsc; /* arrival of the oldest packet held */
	uint64_t max_wait;   /* TSC ticks the oldest may wait for its gap */
	uint64_t top;        /* the highest index held, while any is */
	uint16_t span;       /* how far past next a packet may be held, < VIGIL_HOLD_WINDOW */
	uint16_t n_held;     /* packets held (index next never) */
	bool leaving;        /* set by the control plane: release all, forget r */
	LIST_ENTRY(vigil_reorder) waiting; /* in the worker's list while n_held != 0 */
	struct vigil_reorder_list *list;   /* that list */
	struct vigil_reorder_window *win;  /* borrowed from it while n_held != 0 */
};

/* A worker's streams that hold packets, so their deadlines are checked
 * when none of their packets arrives, and the windows they borrow. */
struct vigil_reorder_list {
	LIST_HEAD(, vigil_reorder) streams;
	unsigned n_held; /* packets held by all of them (the metrics read it) */
	SLIST_HEAD(, vigil_reorder_window) free_small, free_large;
	void *windows; /* all of them, one allocation */
};

/* n_small windows of VIGIL_HOLD_SMALL_WINDOW slots, n_large of
 * VIGIL_HOLD_WINDOW (the packets held stay below VIGIL_HOLD_PACKETS). 0 or
 * -ENOMEM. */
int vigil_reorder_list_init(struct vigil_reorder_list *l, unsigned n_small, unsigned n_large);
/* After release_all: the windows freed. */
void vigil_reorder_list_free(struct vigil_reorder_list *l);

/* Receives the packets in order, and with each its mbuf p->m. */
typedef void (*vigil_reorder_deliver_fn)(void *arg, struct vigil_reorder *r, uint64_t index,
					 const struct vigil_reorder_pkt *p);

/* What a call needs from its worker. */
struct vigil_reorder_ctx {
	struct vigil_reorder_list *list;
	vigil_reorder_deliver_fn deliver;
	void *arg;
	uint64_t now_tsc;
	bool no_deadline; /* a capture's replay: only full windows and the end give up */
};

#define VIGIL_REORDER_NOT_STARTED UINT64_MAX

/* span: packets held ahead of a gap at most; max_wait: TSC ticks the
 * oldest of them waits for it. */
static inline void vigil_reorder_init(struct vigil_reorder *r, uint16_t span, uint64_t max_wait)
{
	r->next = VIGIL_REORDER_NOT_STARTED;
	r->n_held = 0;
	r->span = span < VIGIL_HOLD_WINDOW ? span : VIGIL_HOLD_WINDOW - 1;
	r->max_wait = max_wait;
	r->leaving = false;
	r->win = NULL;
}

bool vigil_reorder_push_slow(const struct vigil_reorder_ctx *c, struct vigil_reorder *r,
			     struct vigil_counters *ctr, uint64_t index, const struct vigil_reorder_pkt *p);

/* One authenticated packet of the stream, index committed to the replay
 * window (so it is never a duplicate of one held). Delivers it and what it
 * unblocks, or holds it. true: the stage took p->m (delivered or held), the
 * caller must not free it. Counts `reordered` (and `hold_no_room`) in ctr. */
static inline bool vigil_reorder_push(const struct vigil_reorder_ctx *c, struct vigil_reorder *r,
				      struct vigil_counters *ctr, uint64_t index,
				      const struct vigil_reorder_pkt *p)
{
	/* The common case, in order with nothing held, stays inline. */
	if (likely(index == r->next && r->n_held == 0)) {
		r->next++;
		if (p->payload == NULL)
			return false;
		c->deliver(c->arg, r, index, p);
		return true;
	}
	return vigil_reorder_push_slow(c, r, ctr, index, p);
}

/* Retransmission: index is a gap the stream waits for (a packet after
 * it is held, it is not), so a retransmitted packet is wanted there. */
bool vigil_reorder_missing(const struct vigil_reorder *r, uint64_t index);

/* The indices missing before the highest one held, up to max of them
 * into out (as RTP sequence numbers); how many. */
unsigned vigil_reorder_gaps(const struct vigil_reorder *r, uint16_t *out, unsigned max);

/* Once per loop: give up on the gaps of streams whose oldest held packet
 * waited max_wait, and release leaving streams; both leave the list. */
void vigil_reorder_expire(const struct vigil_reorder_ctx *c);

/* End of the worker: every held packet delivered in order, list empty. */
void vigil_reorder_release_all(const struct vigil_reorder_ctx *c);

/* Control plane, once no worker can touch r: frees what is still held
 * (only callers of vigil_worker_process without its loop leave any). */
void vigil_reorder_drop(struct vigil_reorder *r);

#endif
