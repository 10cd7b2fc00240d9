/* SPDX-License-Identifier: MIT */
/* Live parts (live.h). A camera's last VIGIL_LIVE_SEGMENTS segments sit in
 * a ring by number; the bytes of the open one and the one before are held
 * (the endpoint serves a part from them until the segment's file is on
 * disk), older ones keep only where their parts are in the file. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vigil/clock.h"
#include "vigil/limits.h"
#include "live.h"

_Static_assert((VIGIL_LIVE_SEGMENTS & (VIGIL_LIVE_SEGMENTS - 1)) == 0,
	       "a ring by number that wraps: a power of two");

struct live_seg {
	struct vigil_live_seg_view v;
	bool used;
	bool whole; /* every part cut and kept since the segment began */
	uint8_t *bytes;
	size_t len, cap;
};

struct live_cam {
	char name[VIGIL_CAMERA_NAME_MAX + 1]; /* "": a free entry */
	uint64_t watched_until;		      /* CLOCK_MONOTONIC ns */
	bool capturing;			      /* a recorder holds a slot of it for its open segment */
	bool refused;			      /* its segments are not plain fMP4 */
	struct live_seg seg[VIGIL_LIVE_SEGMENTS];
};

struct vigil_live {
	pthread_mutex_t lock;
	pthread_cond_t moved;  /* a part or a segment came, anywhere */
	_Atomic unsigned used; /* entries: 0 lets the recorders skip the lock */
	size_t bytes;	       /* held, all cameras */
	struct live_cam cams[VIGIL_LIVE_CAMERAS];
};

struct vigil_live *vigil_live_create(void)
{
	struct vigil_live *lv = calloc(1, sizeof(*lv));
	pthread_condattr_t ca;

	if (lv == NULL)
		return NULL;
	pthread_mutex_init(&lv->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&lv->moved, &ca);
	pthread_condattr_destroy(&ca);
	return lv;
}

static void seg_drop_bytes(struct vigil_live *lv, struct live_seg *s)
{
	lv->bytes -= s->cap;
	free(s->bytes);
	s->bytes = NULL;
	s->len = s->cap = 0;
}

static void cam_clear(struct vigil_live *lv, struct live_cam *c)
{
	for (unsigned i = 0; i < VIGIL_LIVE_SEGMENTS; i++) {
		seg_drop_bytes(lv, &c->seg[i]);
		c->seg[i].used = false;
	}
	c->name[0] = '\0';
	c->capturing = c->refused = false;
	atomic_fetch_sub(&lv->used, 1);
}

void vigil_live_free(struct vigil_live *lv)
{
	if (lv == NULL)
		return;
	for (unsigned i = 0; i < VIGIL_LIVE_CAMERAS; i++)
		if (lv->cams[i].name[0] != '\0')
			cam_clear(lv, &lv->cams[i]);
	pthread_cond_destroy(&lv->moved);
	pthread_mutex_destroy(&lv->lock);
	free(lv);
}

static struct live_cam *cam_find(struct vigil_live *lv, const char *camera)
{
	for (unsigned i = 0; i < VIGIL_LIVE_CAMERAS; i++)
		if (strcmp(lv->cams[i].name, camera) == 0)
			return &lv->cams[i];
	return NULL;
}

/* The segment seq of the slot's camera, if the ring still has it whole. */
static struct live_seg *seg_of(struct vigil_live *lv, int slot, uint32_t seq)
{
	struct live_seg *s;

	if (slot < 0 || slot >= VIGIL_LIVE_CAMERAS)
		return NULL;
	s = &lv->cams[slot].seg[seq % VIGIL_LIVE_SEGMENTS];
	return s->used && s->whole && s->v.seq == seq ? s : NULL;
}

int vigil_live_begin(struct vigil_live *lv, const char *camera, uint32_t seq, uint64_t start_ns, bool plain)
{
	struct live_cam *c;
	int slot = -1;

	if (lv == NULL || atomic_load_explicit(&lv->used, memory_order_relaxed) == 0)
		return -1;
	pthread_mutex_lock(&lv->lock);
	c = cam_find(lv, camera);
	if (c != NULL && c->watched_until < vigil_clock_ns(CLOCK_MONOTONIC)) {
		cam_clear(lv, c); /* nobody watches any more */
		c = NULL;
	}
	if (c != NULL) {
		c->capturing = plain;
		c->refused = !plain;
		if (plain) {
			struct live_seg *s = &c->seg[seq % VIGIL_LIVE_SEGMENTS];

			seg_drop_bytes(lv, s);
			*s = (struct live_seg){
			    .v = {.seq = seq, .start_ns = start_ns}, .used = true, .whole = true};
			/* Bytes for the open one and the one before only (a
			 * ring of a power of two: seq - 2 wraps onto its slot). */
			seg_drop_bytes(lv, &c->seg[(seq - 2) % VIGIL_LIVE_SEGMENTS]);
			slot = (int)(c - lv->cams);
		}
		pthread_cond_broadcast(&lv->moved);
	}
	pthread_mutex_unlock(&lv->lock);
	return slot;
}

/* A segment that can no longer be kept whole (too long, too big, no
 * memory): listed no more; the rest of it is not copied. */
static void seg_give_up(struct vigil_live *lv, struct live_seg *s)
{
	s->whole = false;
	seg_drop_bytes(lv, s);
}

void vigil_live_bytes(struct vigil_live *lv, int slot, uint32_t seq, const uint8_t *data, size_t len)
{
	struct live_seg *s;

	pthread_mutex_lock(&lv->lock);
	if ((s = seg_of(lv, slot, seq)) != NULL && s->len + len > s->cap) {
		size_t cap = s->cap ? s->cap : 256u << 10;
		uint8_t *more = NULL;

		while (cap < s->len + len)
			cap *= 2;
		if (cap <= UINT32_MAX && lv->bytes - s->cap + cap <= VIGIL_LIVE_BYTES)
			more = realloc(s->bytes, cap);
		if (more == NULL) {
			seg_give_up(lv, s);
			s = NULL;
		} else {
			lv->bytes += cap - s->cap;
			s->bytes = more;
			s->cap = cap;
		}
	}
	if (s != NULL) {
		memcpy(s->bytes + s->len, data, len);
		s->len += len;
	}
	pthread_mutex_unlock(&lv->lock);
}

void vigil_live_part(struct vigil_live *lv, int slot, uint32_t seq, uint32_t map, uint32_t ticks,
		     bool independent, bool closed, uint64_t seg_ticks)
{
	struct live_seg *s;

	pthread_mutex_lock(&lv->lock);
	if ((s = seg_of(lv, slot, seq)) != NULL) {
		uint32_t off = 0;

		if (s->v.n_parts > 0)
			off = s->v.parts[s->v.n_parts - 1].off + s->v.parts[s->v.n_parts - 1].len;
		if (s->v.n_parts == VIGIL_LIVE_PARTS) {
			seg_give_up(lv, s);
		} else if (s->len > off) { /* a part with no bytes: none */
			s->v.parts[s->v.n_parts++] = (struct vigil_live_part){.off = off,
									      .len = (uint32_t)(s->len - off),
									      .ticks = ticks,
									      .independent = independent};
			s->v.map = map;
		}
		s->v.closed = closed;
		s->v.ticks = seg_ticks;
	}
	if (closed && slot >= 0 && slot < VIGIL_LIVE_CAMERAS)
		lv->cams[slot].capturing = false;
	pthread_cond_broadcast(&lv->moved);
	pthread_mutex_unlock(&lv->lock);
}

bool vigil_live_watch(struct vigil_live *lv, const char *camera)
{
	uint64_t now = vigil_clock_ns(CLOCK_MONOTONIC);
	struct live_cam *c;

	pthread_mutex_lock(&lv->lock);
	c = cam_find(lv, camera);
	/* A free entry, or one nobody watches whose camera no longer
	 * records (its recorder would have let it go at its next segment). */
	for (unsigned i = 0; i < VIGIL_LIVE_CAMERAS && c == NULL; i++) {
		struct live_cam *e = &lv->cams[i];

		if (e->name[0] != '\0' && e->watched_until < now && !e->capturing)
			cam_clear(lv, e);
		if (e->name[0] == '\0') {
			c = e;
			strcpy(c->name, camera);
			atomic_fetch_add(&lv->used, 1);
		}
	}
	if (c != NULL)
		c->watched_until = now + (uint64_t)VIGIL_LIVE_WATCH_S * 1000000000u;
	pthread_mutex_unlock(&lv->lock);
	return c != NULL;
}

/* The newest segment of c, or NULL. */
static const struct live_seg *newest(const struct live_cam *c)
{
	const struct live_seg *n = NULL;

	for (unsigned i = 0; i < VIGIL_LIVE_SEGMENTS; i++)
		if (c->seg[i].used && (n == NULL || (int32_t)(c->seg[i].v.seq - n->v.seq) > 0))
			n = &c->seg[i];
	return n;
}

/* Whether what the request waits for is there (or never will be). */
static int ready(const struct live_cam *c, uint32_t msn, int part)
{
	const struct live_seg *n = newest(c), *s;

	if (c->refused)
		return -EPERM;
	if (n == NULL)
		return -EAGAIN;
	if (msn == UINT32_MAX) { /* a whole segment in parts, and the next one begun */
		s = &c->seg[(n->v.seq - 1) % VIGIL_LIVE_SEGMENTS];
		return n->whole && n->v.n_parts > 0 && s->used && s->whole && s->v.seq == n->v.seq - 1
			   ? 0
			   : -EAGAIN;
	}
	if ((int32_t)(msn - n->v.seq) > 2)
		return -ERANGE;
	if ((int32_t)(n->v.seq - msn) > 0)
		return 0;
	s = &c->seg[msn % VIGIL_LIVE_SEGMENTS];
	if (!s->used || s->v.seq != msn)
		return -EAGAIN;
	return s->v.closed || (part >= 0 && s->v.n_parts > (unsigned)part) ? 0 : -EAGAIN;
}

int vigil_live_wait(struct vigil_live *lv, const char *camera, uint32_t msn, int part, uint64_t deadline_ns)
{
	struct timespec until = {.tv_sec = (time_t)(deadline_ns / 1000000000u),
				 .tv_nsec = (long)(deadline_ns % 1000000000u)};
	struct live_cam *c;
	int ret;

	pthread_mutex_lock(&lv->lock);
	for (;;) {
		c = cam_find(lv, camera);
		ret = c == NULL ? -ENOENT : ready(c, msn, part);
		if (ret != -EAGAIN)
			break;
		if (pthread_cond_timedwait(&lv->moved, &lv->lock, &until) == ETIMEDOUT) {
			ret = -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&lv->lock);
	return ret;
}

static int by_seq(const void *a, const void *b)
{
	const struct vigil_live_seg_view *x = a, *y = b;

	return (int32_t)(x->seq - y->seq) < 0 ? -1 : x->seq != y->seq;
}

bool vigil_live_view(struct vigil_live *lv, const char *camera, struct vigil_live_view *v)
{
	struct live_cam *c;

	v->n = 0;
	pthread_mutex_lock(&lv->lock);
	if ((c = cam_find(lv, camera)) != NULL)
		for (unsigned i = 0; i < VIGIL_LIVE_SEGMENTS; i++)
			if (c->seg[i].used && c->seg[i].whole &&
			    (c->seg[i].v.n_parts > 0 || c->seg[i].v.closed))
				v->seg[v->n++] = c->seg[i].v;
	pthread_mutex_unlock(&lv->lock);
	qsort(v->seg, v->n, sizeof(v->seg[0]), by_seq);
	/* Only a run of consecutive numbers up to the newest. */
	for (unsigned i = v->n; i-- > 1;)
		if (v->seg[i].seq != v->seg[i - 1].seq + 1) {
			memmove(v->seg, v->seg + i, (v->n - i) * sizeof(v->seg[0]));
			v->n -= i;
			break;
		}
	return v->n > 0;
}

int vigil_live_bytes_of(struct vigil_live *lv, const char *camera, uint32_t seq, int part, uint8_t **data,
			size_t *len, uint64_t *off)
{
	struct live_cam *c;
	struct live_seg *s;
	int ret = -ENOENT;

	pthread_mutex_lock(&lv->lock);
	if ((c = cam_find(lv, camera)) != NULL && (s = seg_of(lv, (int)(c - lv->cams), seq)) != NULL) {
		size_t o = 0, n = 0;

		if (part < 0 && s->v.closed) {
			n = s->len;
		} else if (part >= 0 && (unsigned)part < s->v.n_parts) {
			o = s->v.parts[part].off;
			n = s->v.parts[part].len;
		}
		if (n > 0 && s->bytes != NULL && (*data = malloc(n)) != NULL) {
			memcpy(*data, s->bytes + o, n);
			*len = n;
			ret = 0;
		} else if (n > 0 && s->bytes == NULL && part >= 0) {
			*off = o;
			*len = n;
			ret = 1;
		}
	}
	pthread_mutex_unlock(&lv->lock);
	return ret;
}
