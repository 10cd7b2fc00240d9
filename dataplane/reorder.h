/* SPDX-License-Identifier: MIT */
/* Puts a stream's authenticated packets back in index order for a short
 * while before they reach the depacketizer: a packet that arrives ahead of
 * a gap is held until the gap fills or is given up on. One per stream. */
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

struct vigil_reorder {
	uint64_t next;       /* the index the depacketizer takes next */
	uint64_t oldest_tsc; /* arrival of the oldest packet held */
	uint32_t held;       /* bit d: index next + d is held (bit 0 never) */
	bool leaving;        /* set by the control plane: release all, forget r */
	LIST_ENTRY(vigil_reorder) waiting; /* in the worker's list while held != 0 */
	struct vigil_reorder_list *list;   /* that list */
	struct vigil_reorder_pkt slot[VIGIL_REORDER_SLOTS]; /* by index % SLOTS */
};

/* A worker's streams that hold packets, so their deadlines are checked
 * when none of their packets arrives. Zero-initialised is empty. */
struct vigil_reorder_list {
	LIST_HEAD(, vigil_reorder) streams;
	unsigned n_held; /* packets held by all of them */
};

/* Receives the packets in order, and with each its mbuf p->m. */
typedef void (*vigil_reorder_deliver_fn)(void *arg, struct vigil_reorder *r, uint64_t index,
					 const struct vigil_reorder_pkt *p);

/* What a call needs from its worker. */
struct vigil_reorder_ctx {
	struct vigil_reorder_list *list;
	vigil_reorder_deliver_fn deliver;
	void *arg;
	uint64_t now_tsc;
	uint64_t max_wait; /* TSC ticks; UINT64_MAX: only full slots and the end give up */
};

#define VIGIL_REORDER_NOT_STARTED UINT64_MAX

static inline void vigil_reorder_init(struct vigil_reorder *r)
{
	r->next = VIGIL_REORDER_NOT_STARTED;
	r->held = 0;
	r->leaving = false;
}

bool vigil_reorder_push_slow(const struct vigil_reorder_ctx *c, struct vigil_reorder *r,
			     struct vigil_counters *ctr, uint64_t index, const struct vigil_reorder_pkt *p);

/* One authenticated packet of the stream, index committed to the replay
 * window (so it is never a duplicate of one held). Delivers it and what it
 * unblocks, or holds it. true: the stage took p->m (delivered or held), the
 * caller must not free it. Counts `reordered` in ctr. */
static inline bool vigil_reorder_push(const struct vigil_reorder_ctx *c, struct vigil_reorder *r,
				      struct vigil_counters *ctr, uint64_t index,
				      const struct vigil_reorder_pkt *p)
{
	/* The common case, in order with nothing held, stays inline. */
	if (likely(index == r->next && r->held == 0)) {
		r->next++;
		if (p->payload == NULL)
			return false;
		c->deliver(c->arg, r, index, p);
		return true;
	}
	return vigil_reorder_push_slow(c, r, ctr, index, p);
}

/* Once per loop: give up on the gaps of streams whose oldest held packet
 * waited max_wait, and release leaving streams; both leave the list. */
void vigil_reorder_expire(const struct vigil_reorder_ctx *c);

/* End of the worker: every held packet delivered in order, list empty. */
void vigil_reorder_release_all(const struct vigil_reorder_ctx *c);

/* Control plane, once no worker can touch r: frees what is still held
 * (only callers of vigil_worker_process without its loop leave any). */
void vigil_reorder_drop(struct vigil_reorder *r);

#endif
