/* SPDX-License-Identifier: MIT */
/* io_uring writer: one ring, staging buffers from a small free list, one
 * request struct per in-flight operation; what a file does with them is in
 * wfile.c. Staging buffers are registered with the ring as they are made
 * (fixed buffers: mapped once, not at every write); the rest, if any, are
 * written as ordinary buffers. Buffers a burst needed (files slow to open
 * or to finish) and nothing since give their pages back, not their
 * addresses (vigil_writer_trim): a soak's RSS grew by every burst's
 * buffers for ever; unmapping and mapping them again cost the recorder a
 * third more time in a fleet's soak.
 * Descriptors are bounded (vigil_writer_limit_fds): 10,000 cameras cutting
 * segments together passed a 20,000 RLIMIT_NOFILE, and every open past it
 * failed. With a limit, a new file's open waits (its appends in memory, as
 * while it opens) below three quarters of it; the rest is kept for the
 * folder fsyncs that finish files and give their descriptors back. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "writer_internal.h"

#define MIN_U(a, b) ((a) < (b) ? (a) : (b))

struct vigil_writer *vigil_writer_create(unsigned entries, unsigned max_bufs)
{
	struct vigil_writer *w;
	int ret;

	if (entries == 0 || max_bufs == 0) {
		errno = EINVAL;
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	ret = io_uring_queue_init(entries, &w->ring, 0);
	if (ret < 0) {
		free(w);
		errno = -ret;
		return NULL;
	}
	w->max_bufs = max_bufs;
	/* Without CAP_IPC_LOCK or room under RLIMIT_MEMLOCK this fails, and
	 * every write uses an ordinary buffer. */
	if (io_uring_register_buffers_sparse(&w->ring, MIN_U(max_bufs, VIGIL_WRITER_FIXED_MAX)) == 0)
		w->fixed_slots = MIN_U(max_bufs, VIGIL_WRITER_FIXED_MAX);
	return w;
}

unsigned vigil_writer_fixed(const struct vigil_writer *w)
{
	unsigned n = 0;

	for (const struct wbuf *b = w->all; b != NULL; b = b->all)
		n += b->fixed >= 0;
	return n;
}

void vigil_writer_free(struct vigil_writer *w)
{
	struct wbuf *b, *next;

	if (w == NULL)
		return;
	vigil_writer_drain(w);
	io_uring_queue_exit(&w->ring);
	for (b = w->all; b != NULL; b = next) {
		next = b->all;
		free(b->data);
		free(b);
	}
	free(w);
}

unsigned vigil_writer_inflight(const struct vigil_writer *w)
{
	return w->inflight;
}

static struct wbuf *buf_alloc(struct vigil_writer *w)
{
	struct wbuf *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->data = aligned_alloc(4096, VIGIL_WRITER_BUF_BYTES);
	if (b->data == NULL) {
		free(b);
		return NULL;
	}
	b->fixed = -1;
	if (w->n_bufs < w->fixed_slots) {
		struct iovec iov = {.iov_base = b->data, .iov_len = VIGIL_WRITER_BUF_BYTES};
		__u64 tag = 0;

		if (io_uring_register_buffers_update_tag(&w->ring, w->n_bufs, &iov, &tag, 1) == 1)
			b->fixed = (int)w->n_bufs;
	}
	b->all = w->all;
	w->all = b;
	w->n_bufs++;
	return b;
}

/* A free buffer; waits for a write to finish when all are busy. */
struct wbuf *wbuf_get(struct vigil_writer *w)
{
	struct wbuf *b;

	for (;;) {
		if (w->free != NULL) {
			b = w->free;
			w->free = b->next;
			if (--w->n_free < w->free_low)
				w->free_low = w->n_free;
			b->cold = false;
			break;
		}
		/* Without anything in flight, waiting would never end. */
		if (w->n_bufs < w->max_bufs || w->inflight == 0) {
			b = buf_alloc(w);
			if (b == NULL)
				return NULL;
			break;
		}
		if (vigil_writer_reap(w, true) < 0)
			return NULL;
	}
	b->len = 0;
	b->done = 0;
	b->next = NULL;
	return b;
}

void wbuf_put(struct vigil_writer *w, struct wbuf *b)
{
	b->next = w->free;
	w->free = b;
	w->n_free++;
}

/* The free list is last in, first out: its deepest free_low buffers
 * stayed there the whole interval. Registered ones keep their pages: the
 * ring has them pinned, and a write through it after MADV_DONTNEED would
 * go to pages the buffer no longer has. */
void vigil_writer_trim(struct vigil_writer *w, uint64_t now_ns)
{
	struct wbuf *b = w->free;

	if (now_ns < w->trim_ns)
		return;
	if (w->trim_ns != 0) {
		for (unsigned i = w->free_low; i < w->n_free && b != NULL; i++)
			b = b->next;
		for (; b != NULL; b = b->next)
			if (b->fixed < 0 && !b->cold && madvise(b->data, VIGIL_WRITER_BUF_BYTES, MADV_DONTNEED) == 0) {
				b->cold = true;
				w->trimmed++;
			}
	}
	w->free_low = w->n_free;
	w->trim_ns = now_ns + VIGIL_WRITER_TRIM_NS;
}

struct io_uring_sqe *wring_sqe(struct vigil_writer *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);

	if (sqe == NULL) {
		io_uring_submit(&w->ring);
		sqe = io_uring_get_sqe(&w->ring);
	}
	return sqe;
}

void vigil_writer_limit_fds(struct vigil_writer *w, unsigned max_fds)
{
	w->max_fds = max_fds == 1 ? 2 : max_fds;
}

/* Room for one more descriptor: a new file's only below the part kept
 * for the steps that finish files. */
bool wfd_room(const struct vigil_writer *w, bool new_file)
{
	unsigned kept = w->max_fds / 4 ? w->max_fds / 4 : 1;

	return w->max_fds == 0 || w->fds < (new_file ? w->max_fds - kept : w->max_fds);
}

/* Whether descriptors will come back: a folder's fsync in flight, or a
 * file closing. Else a new file waiting for one would wait for ever. */
bool wfd_coming_back(const struct vigil_writer *w)
{
	return w->fds > w->files || w->closing > 0;
}

void wfd_wait(struct vigil_wfile *f, enum fd_wait why)
{
	struct vigil_writer *w = f->w;
	unsigned q = why == FDW_OPEN;

	f->fd_wait = why;
	f->wait_next = NULL;
	if (w->waiting[q].tail != NULL)
		w->waiting[q].tail->wait_next = f;
	else
		w->waiting[q].head = f;
	w->waiting[q].tail = f;
}

static struct vigil_wfile *wfd_pop(struct vigil_writer *w, unsigned q)
{
	struct vigil_wfile *f = w->waiting[q].head;

	w->waiting[q].head = f->wait_next;
	if (w->waiting[q].head == NULL)
		w->waiting[q].tail = NULL;
	f->wait_next = NULL;
	return f;
}

void wfd_count(struct vigil_wfile *f)
{
	f->fd_counted = true;
	f->w->fds++;
	f->w->files++;
	f->w->closing += f->closing;
}

void wfd_uncount(struct vigil_wfile *f)
{
	if (!f->fd_counted)
		return;
	f->fd_counted = false;
	f->w->fds--;
	f->w->files--;
	f->w->closing -= f->closing;
	wfd_wake(f->w);
}

/* Descriptors came back: the files waiting, in order, as far as they fit
 * (those finishing files first); then, if none will come back, the new
 * files' opens fail (EMFILE). */
void wfd_wake(struct vigil_writer *w)
{
	struct vigil_wfile *f;
	enum fd_wait why;

	if (w->waking)
		return;
	w->waking = true;
	for (unsigned q = 0; q < 2; q++)
		while (w->waiting[q].head != NULL && wfd_room(w, q == 1)) {
			f = wfd_pop(w, q);
			why = f->fd_wait;
			f->fd_wait = FDW_NONE;
			wfile_resume(f, why);
		}
	/* The finishing steps wait on what is in flight: never for ever. */
	while (w->waiting[1].head != NULL && !wfd_coming_back(w)) {
		f = wfd_pop(w, 1);
		f->fd_wait = FDW_NONE;
		wfile_open_failed(f, -EMFILE);
	}
	w->waking = false;
}

/* The removals that wait, while fewer than WRITER_UNLINKS are in flight. */
static void unlinks_submit(struct vigil_writer *w)
{
	while (w->unlinks_head != NULL && w->unlinks < WRITER_UNLINKS) {
		struct wunlink *u = w->unlinks_head;
		struct io_uring_sqe *sqe = wring_sqe(w);

		if (sqe == NULL)
			return; /* tried again at the next completion */
		w->unlinks_head = u->next;
		if (w->unlinks_head == NULL)
			w->unlinks_tail = NULL;
		io_uring_prep_unlink(sqe, u->path, 0);
		io_uring_sqe_set_data(sqe, &u->req);
		w->unlinks++;
		io_uring_submit(&w->ring);
	}
}

/* A finished request: an unlink's, or a file's (wfile.c). */
static void complete(struct vigil_writer *w, struct wreq *req, int res)
{
	if (req->op == WOP_UNLINK) {
		struct wunlink *u = (struct wunlink *)req;

		w->inflight--;
		w->unlinks--;
		unlinks_submit(w);
		if (res < 0)
			u->cb(u->arg, &(struct vigil_wio){.ev = VIGIL_WEV_ERROR, .cause = VIGIL_WCAUSE_unlink, .err = res,
							  .path = u->path});
		else
			u->cb(u->arg, &(struct vigil_wio){.ev = VIGIL_WEV_REMOVED, .path = u->path});
		free(u);
		return;
	}
	w->inflight--;
	wfile_complete(req, res);
}

int vigil_writer_reap(struct vigil_writer *w, bool wait)
{
	struct io_uring_cqe *cqe;
	int n = 0, ret;

	if (wait && w->inflight > 0) {
		do
			ret = io_uring_submit_and_wait(&w->ring, 1);
		while (ret == -EINTR);
		if (ret < 0)
			return ret;
	}
	while (io_uring_peek_cqe(&w->ring, &cqe) == 0) {
		struct wreq *req = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&w->ring, cqe);
		if (req != NULL)
			complete(w, req, res);
		n++;
	}
	return n;
}

int vigil_writer_unlink(struct vigil_writer *w, const char *path, vigil_wfile_cb cb, void *arg)
{
	size_t len = strlen(path);
	struct wunlink *u;

	if (len >= PATH_MAX)
		return -ENAMETOOLONG;
	u = malloc(sizeof(*u) + len + 1);
	if (u == NULL)
		return -ENOMEM;
	u->req = (struct wreq){.op = WOP_UNLINK};
	u->next = NULL;
	u->cb = cb;
	u->arg = arg;
	memcpy(u->path, path, len + 1);
	if (w->unlinks_tail != NULL)
		w->unlinks_tail->next = u;
	else
		w->unlinks_head = u;
	w->unlinks_tail = u;
	w->inflight++; /* from here: drain waits for it */
	unlinks_submit(w);
	return 0;
}

void vigil_writer_drain(struct vigil_writer *w)
{
	while (w->inflight > 0)
		if (vigil_writer_reap(w, true) < 0)
			break;
}
