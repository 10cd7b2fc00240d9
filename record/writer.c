/* SPDX-License-Identifier: MIT */
/* io_uring writer: one ring, staging buffers from a small free list, one
 * request struct per in-flight operation. Files are opened through the
 * ring too (a create can wait on the filesystem's journal): what is written
 * before the open completes, or while the file is held, waits on its queue.
 * A file's writes all complete before its fsync; the rename is linked
 * after the fsync. A name is durable only once its directory is fsync'd
 * (POSIX; ext4 and XFS journal it sooner, but do not promise it): after the
 * create, before the file's first fdatasync counts, and linked after the
 * rename, before the file is reported closed.
 * Staging buffers are registered with the ring as they are made (fixed
 * buffers: mapped once, not at every write); the rest, if any, are written
 * as ordinary buffers. Files are opened with O_DIRECT where the filesystem
 * takes it: whole aligned buffers go straight to the device; what is not
 * aligned (a tail, the rest of a short write) goes through a second,
 * buffered descriptor of the same file, which fsync covers too. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/uio.h>
#include <unistd.h>

#include <liburing.h>

#define MIN_U(a, b) ((a) < (b) ? (a) : (b))
#define DIRECT_ALIGN 4096u /* offsets and lengths of O_DIRECT writes */

#include "vigil/clock.h"
#include "writer.h"

enum wop {
	WOP_OPEN,
	WOP_WRITE,
	WOP_DATASYNC, /* while the file is open */
	WOP_FSYNC,    /* at close, linked to the rename */
	WOP_RENAME,
	WOP_DIRSYNC,  /* the directory, after the create */
	WOP_DIRSYNC2, /* the directory, linked after the rename */
	WOP_UNLINK,   /* not a file's: a struct wunlink */
};

struct wreq {
	enum wop op;
	struct vigil_wfile *file;
};

struct wunlink {
	struct wreq req; /* first */
	vigil_wfile_cb cb;
	void *arg;
	char path[PATH_MAX];
};

struct wbuf {
	struct wreq req;   /* first: a write request is its buffer */
	struct wbuf *next; /* free list */
	struct wbuf *all;  /* every buffer, for freeing */
	uint8_t *data;
	size_t len;   /* bytes staged */
	size_t done;  /* bytes already written */
	uint64_t off; /* file offset of data[0] */
	uint64_t submit_ns;
	int fixed; /* index among the ring's registered buffers, or -1 */
};

struct vigil_wfile {
	struct vigil_writer *w;
	struct wreq open_req;
	struct wreq fsync_req;
	struct wreq rename_req;
	struct wreq datasync_req;
	struct wreq dirsync_req;
	struct wreq dirsync2_req;
	vigil_wfile_cb cb;
	void *arg;
	struct wbuf *cur;
	uint64_t off;
	int fd;
	int fd_buffered; /* for writes O_DIRECT cannot take; -1 until one comes */
	int dir_fd;      /* the file's directory, once the file is created */
	bool held;       /* not opened until vigil_wfile_release */
	bool fd_direct;  /* fd was opened with O_DIRECT */
	bool direct;     /* ... and aligned writes still use it */
	unsigned inflight;
	unsigned writes; /* of those, writes */
	bool sync_wanted;   /* a datasync waits for the writes before it */
	bool sync_inflight;
	bool dir_syncing; /* the create is not durable yet */
	bool opening;
	struct wbuf *queued, *queued_tail; /* full buffers waiting for the open */
	bool closing;
	bool sealing;
	unsigned closed_ok; /* of the rename and the fsync of its directory, how many succeeded */
	bool failed;
	char partial[PATH_MAX];
	char final[PATH_MAX];
};

struct vigil_writer {
	struct io_uring ring;
	struct wbuf *free;
	struct wbuf *all;
	unsigned n_bufs;
	unsigned max_bufs;
	unsigned fixed_slots; /* registered buffer slots the ring has (0: none) */
	unsigned inflight;
};

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
static struct wbuf *buf_get(struct vigil_writer *w)
{
	struct wbuf *b;

	for (;;) {
		if (w->free != NULL) {
			b = w->free;
			w->free = b->next;
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

static void buf_put(struct vigil_writer *w, struct wbuf *b)
{
	b->next = w->free;
	w->free = b;
}

static struct io_uring_sqe *sqe_get(struct vigil_writer *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);

	if (sqe == NULL) {
		io_uring_submit(&w->ring);
		sqe = io_uring_get_sqe(&w->ring);
	}
	return sqe;
}

static void file_fail(struct vigil_wfile *f, enum vigil_wcause cause, int err)
{
	f->failed = true;
	f->cb(f->arg, &(struct vigil_wio){.ev = VIGIL_WEV_ERROR, .cause = cause, .err = err,
				       .path = cause == VIGIL_WCAUSE_rename ? f->final : f->partial});
}

/* The descriptor a write of len bytes at off can go through. */
static int write_fd(struct vigil_wfile *f, uint64_t off, size_t len)
{
	char self[64];

	if (!f->fd_direct || (f->direct && off % DIRECT_ALIGN == 0 && len % DIRECT_ALIGN == 0))
		return f->fd;
	/* The same open file, even if its directory has moved since. */
	if (f->fd_buffered < 0) {
		snprintf(self, sizeof(self), "/proc/self/fd/%d", f->fd);
		f->fd_buffered = open(self, O_WRONLY | O_CLOEXEC);
	}
	return f->fd_buffered;
}

/* Submits the unwritten rest of b (queued while the file is being
 * opened). On failure b goes back to the list. */
static void write_submit(struct vigil_wfile *f, struct wbuf *b)
{
	struct vigil_writer *w = f->w;
	struct io_uring_sqe *sqe;
	size_t len = b->len - b->done;
	int fd;

	if (f->opening) {
		b->next = NULL;
		if (f->queued_tail != NULL)
			f->queued_tail->next = b;
		else
			f->queued = b;
		f->queued_tail = b;
		return;
	}
	sqe = sqe_get(w);
	fd = write_fd(f, b->off + b->done, len);

	if (sqe == NULL || fd < 0) {
		if (sqe != NULL) {
			io_uring_prep_nop(sqe);
			io_uring_sqe_set_data(sqe, NULL);
		}
		file_fail(f, VIGIL_WCAUSE_write, sqe == NULL ? -EBUSY : -errno);
		buf_put(w, b);
		return;
	}
	b->req.op = WOP_WRITE;
	b->req.file = f;
	b->submit_ns = vigil_now_ns();
	if (b->fixed >= 0)
		io_uring_prep_write_fixed(sqe, fd, b->data + b->done, (unsigned)len, b->off + b->done, b->fixed);
	else
		io_uring_prep_write(sqe, fd, b->data + b->done, (unsigned)len, b->off + b->done);
	io_uring_sqe_set_data(sqe, &b->req);
	f->inflight++;
	f->writes++;
	w->inflight++;
	/* Whatever this fails to submit goes with the next submit. */
	io_uring_submit(&w->ring);
}

/* The file's directory, opened for one fsync and closed after it: held
 * for the file's whole life it would double the descriptors a recording
 * camera needs (10,000 cameras passed a 20,000 RLIMIT_NOFILE). */
static int dir_open(const struct vigil_wfile *f)
{
	char dir[sizeof(f->partial)], *slash;

	strcpy(dir, f->partial);
	if ((slash = strrchr(dir, '/')) != NULL)
		slash[slash == dir] = '\0'; /* "/x": "/" */
	return open(slash != NULL ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static void file_free(struct vigil_wfile *f)
{
	if (f->fd >= 0)
		close(f->fd);
	if (f->fd_buffered >= 0)
		close(f->fd_buffered);
	if (f->dir_fd >= 0)
		close(f->dir_fd);
	free(f);
}

/* A datasync asked for, once the writes before it are done. */
static void file_maybe_sync(struct vigil_wfile *f)
{
	struct io_uring_sqe *sqe;

	if (!f->sync_wanted || f->sync_inflight || f->opening || f->dir_syncing || f->writes > 0 || f->failed)
		return;
	sqe = sqe_get(f->w);
	if (sqe == NULL)
		return; /* asked again next time */
	f->sync_wanted = false;
	f->sync_inflight = true;
	f->datasync_req = (struct wreq){.op = WOP_DATASYNC, .file = f};
	io_uring_prep_fsync(sqe, f->fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data(sqe, &f->datasync_req);
	f->inflight++;
	f->w->inflight++;
	io_uring_submit(&f->w->ring);
}

/* Once closing and every write is done: fsync, then (linked) rename, then
 * (linked) fsync of the directory. */
static void file_maybe_finish(struct vigil_wfile *f)
{
	struct vigil_writer *w = f->w;
	struct io_uring_sqe *sync, *ren, *dsync;

	if (!f->closing || f->inflight > 0 || f->held)
		return;
	if (f->failed || f->sealing) {
		file_free(f);
		return;
	}
	if (f->dir_fd < 0 && (f->dir_fd = dir_open(f)) < 0) {
		/* Its folder is gone: the rename cannot happen either. */
		file_fail(f, VIGIL_WCAUSE_rename, -errno);
		file_free(f);
		return;
	}
	if (io_uring_sq_space_left(&w->ring) < 3)
		io_uring_submit(&w->ring);
	sync = io_uring_get_sqe(&w->ring);
	ren = sync != NULL ? io_uring_get_sqe(&w->ring) : NULL;
	dsync = ren != NULL ? io_uring_get_sqe(&w->ring) : NULL;
	if (dsync == NULL) {
		/* Cannot happen after the submit above; never leave an
		 * half-prepared link behind. */
		if (sync != NULL) {
			io_uring_prep_nop(sync);
			io_uring_sqe_set_data(sync, NULL);
		}
		if (ren != NULL) {
			io_uring_prep_nop(ren);
			io_uring_sqe_set_data(ren, NULL);
		}
		file_fail(f, VIGIL_WCAUSE_fsync, -EBUSY);
		file_free(f);
		return;
	}
	f->fsync_req = (struct wreq){.op = WOP_FSYNC, .file = f};
	f->rename_req = (struct wreq){.op = WOP_RENAME, .file = f};
	f->dirsync2_req = (struct wreq){.op = WOP_DIRSYNC2, .file = f};
	io_uring_prep_fsync(sync, f->fd, 0);
	io_uring_sqe_set_data(sync, &f->fsync_req);
	sync->flags |= IOSQE_IO_LINK;
	io_uring_prep_rename(ren, f->partial, f->final);
	io_uring_sqe_set_data(ren, &f->rename_req);
	ren->flags |= IOSQE_IO_LINK;
	io_uring_prep_fsync(dsync, f->dir_fd, 0);
	io_uring_sqe_set_data(dsync, &f->dirsync2_req);
	f->sealing = true;
	f->inflight += 3;
	w->inflight += 3;
	io_uring_submit(&w->ring);
}

/* O_DIRECT is asked for first; the file's writes are planned for it
 * (aligned) until the open says otherwise. */
static int open_submit(struct vigil_wfile *f, bool direct)
{
	struct io_uring_sqe *sqe = sqe_get(f->w);

	if (sqe == NULL)
		return -EBUSY;
	f->opening = true;
	f->direct = f->fd_direct = direct;
	f->open_req = (struct wreq){.op = WOP_OPEN, .file = f};
	io_uring_prep_openat(sqe, AT_FDCWD, f->partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (direct ? O_DIRECT : 0),
			     0640);
	io_uring_sqe_set_data(sqe, &f->open_req);
	f->inflight++;
	f->w->inflight++;
	io_uring_submit(&f->w->ring);
	return 0;
}

/* The directory of f's file, opened to be fsync'd; its create made
 * durable. Opened here, where the file is known to exist: a path lookup. */
static void dir_sync_submit(struct vigil_wfile *f)
{
	struct io_uring_sqe *sqe;

	f->dir_fd = dir_open(f);
	sqe = f->dir_fd >= 0 ? sqe_get(f->w) : NULL;
	if (sqe == NULL) {
		file_fail(f, VIGIL_WCAUSE_open, f->dir_fd < 0 ? -errno : -EBUSY);
		return;
	}
	f->dir_syncing = true;
	f->dirsync_req = (struct wreq){.op = WOP_DIRSYNC, .file = f};
	io_uring_prep_fsync(sqe, f->dir_fd, 0);
	io_uring_sqe_set_data(sqe, &f->dirsync_req);
	f->inflight++;
	f->w->inflight++;
	io_uring_submit(&f->w->ring);
}

static void open_done(struct vigil_wfile *f, int res)
{
	struct wbuf *b, *next;

	if (res == -EINVAL && f->fd_direct && open_submit(f, false) == 0)
		return; /* the filesystem has no O_DIRECT */
	f->opening = false;
	if (res < 0) {
		file_fail(f, VIGIL_WCAUSE_open, res);
	} else {
		f->fd = res;
		dir_sync_submit(f);
	}
	for (b = f->queued; b != NULL; b = next) {
		next = b->next;
		if (f->failed)
			buf_put(f->w, b);
		else
			write_submit(f, b);
	}
	f->queued = f->queued_tail = NULL;
}

static void complete(struct vigil_writer *w, struct wreq *req, int res)
{
	struct vigil_wfile *f = req->file;
	struct wbuf *b;

	if (req->op == WOP_UNLINK) {
		struct wunlink *u = (struct wunlink *)req;

		w->inflight--;
		if (res < 0)
			u->cb(u->arg, &(struct vigil_wio){.ev = VIGIL_WEV_ERROR, .cause = VIGIL_WCAUSE_unlink, .err = res,
							  .path = u->path});
		else
			u->cb(u->arg, &(struct vigil_wio){.ev = VIGIL_WEV_REMOVED, .path = u->path});
		free(u);
		return;
	}
	w->inflight--;
	f->inflight--;
	switch (req->op) {
	case WOP_OPEN:
		open_done(f, res);
		break;
	case WOP_WRITE:
		f->writes--;
		b = (struct wbuf *)req;
		if (res == -EINVAL && f->direct && !f->failed) {
			/* O_DIRECT refused this one (a limit cut it short of
			 * alignment): this file goes on buffered. */
			f->direct = false;
			write_submit(f, b);
			break;
		}
		if (res > 0) {
			b->done += (size_t)res;
			f->cb(f->arg, &(struct vigil_wio){.ev = VIGIL_WEV_WRITTEN,
							  .bytes = (uint64_t)res,
							  .latency_ns = vigil_now_ns() - b->submit_ns,
							  .writes_inflight = f->writes,
							  .path = f->partial});
		} else {
			file_fail(f, VIGIL_WCAUSE_write, res == 0 ? -EIO : res);
		}
		if (b->done < b->len && !f->failed)
			write_submit(f, b); /* short write: the rest */
		else
			buf_put(w, b);
		break;
	case WOP_DATASYNC:
		f->sync_inflight = false;
		if (res < 0)
			file_fail(f, VIGIL_WCAUSE_fsync, res);
		else
			f->cb(f->arg, &(struct vigil_wio){.ev = VIGIL_WEV_SYNCED, .path = f->partial});
		break;
	case WOP_FSYNC:
		if (res < 0)
			file_fail(f, VIGIL_WCAUSE_fsync, res);
		break;
	case WOP_RENAME:
		/* A failed fsync cancels the rename: counted once, above. */
		if (res == -ECANCELED && f->failed)
			break;
		if (res < 0)
			file_fail(f, VIGIL_WCAUSE_rename, res);
		else if (++f->closed_ok == 2)
			f->cb(f->arg, &(struct vigil_wio){.ev = VIGIL_WEV_CLOSED, .path = f->final});
		break;
	case WOP_DIRSYNC:
		f->dir_syncing = false;
		close(f->dir_fd);
		f->dir_fd = -1;
		if (res < 0)
			file_fail(f, VIGIL_WCAUSE_fsync, res);
		break;
	case WOP_DIRSYNC2:
		/* A failed fsync cancels the rest of its link; a failed rename
		 * does not on every kernel (6.18 runs this fsync all the same).
		 * Either way counted once, above. */
		if (f->failed)
			break;
		if (res < 0)
			file_fail(f, VIGIL_WCAUSE_fsync, res);
		else if (++f->closed_ok == 2)
			f->cb(f->arg, &(struct vigil_wio){.ev = VIGIL_WEV_CLOSED, .path = f->final});
		break;
	case WOP_UNLINK:
		break; /* not a file's: handled above */
	}
	file_maybe_sync(f);
	file_maybe_finish(f);
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
	struct wunlink *u;
	struct io_uring_sqe *sqe;

	if (strlen(path) >= sizeof(u->path))
		return -ENAMETOOLONG;
	u = malloc(sizeof(*u));
	if (u == NULL)
		return -ENOMEM;
	sqe = sqe_get(w);
	if (sqe == NULL) {
		free(u);
		return -EBUSY;
	}
	u->req = (struct wreq){.op = WOP_UNLINK};
	u->cb = cb;
	u->arg = arg;
	strcpy(u->path, path);
	io_uring_prep_unlink(sqe, u->path, 0);
	io_uring_sqe_set_data(sqe, &u->req);
	w->inflight++;
	io_uring_submit(&w->ring);
	return 0;
}

void vigil_writer_drain(struct vigil_writer *w)
{
	while (w->inflight > 0)
		if (vigil_writer_reap(w, true) < 0)
			break;
}

static struct vigil_wfile *file_new(struct vigil_writer *w, const char *partial, const char *final,
				    vigil_wfile_cb cb, void *arg)
{
	struct vigil_wfile *f;

	if (strlen(partial) >= sizeof(f->partial) || strlen(final) >= sizeof(f->final)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	f->fd = -1;
	f->fd_buffered = -1;
	f->dir_fd = -1;
	f->w = w;
	f->cb = cb;
	f->arg = arg;
	strcpy(f->partial, partial);
	strcpy(f->final, final);
	return f;
}

struct vigil_wfile *vigil_wfile_open(struct vigil_writer *w, const char *partial, const char *final,
				     vigil_wfile_cb cb, void *arg)
{
	struct vigil_wfile *f = file_new(w, partial, final, cb, arg);

	if (f != NULL && open_submit(f, true) < 0) {
		free(f);
		errno = EBUSY;
		return NULL;
	}
	return f;
}

struct vigil_wfile *vigil_wfile_open_held(struct vigil_writer *w, const char *partial, const char *final,
					  vigil_wfile_cb cb, void *arg)
{
	struct vigil_wfile *f = file_new(w, partial, final, cb, arg);

	if (f != NULL) {
		f->held = true;
		f->opening = true;		 /* appends wait on its queue */
		f->direct = f->fd_direct = true; /* planned for it, as open_submit does */
	}
	return f;
}

void vigil_wfile_release(struct vigil_wfile *f)
{
	struct wbuf *b, *next;

	if (!f->held)
		return;
	f->held = false;
	if (f->failed) { /* while held: nothing to make */
		f->opening = false;
		for (b = f->queued; b != NULL; b = next) {
			next = b->next;
			buf_put(f->w, b);
		}
		f->queued = f->queued_tail = NULL;
	} else if (open_submit(f, true) < 0) {
		open_done(f, -EBUSY); /* failed: what waits is dropped */
	}
	file_maybe_finish(f);
}

bool vigil_wfile_failed(const struct vigil_wfile *f)
{
	return f->failed;
}

int vigil_wfile_append(struct vigil_wfile *f, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len > 0) {
		size_t n;

		if (f->failed)
			return -EIO;
		if (f->cur == NULL) {
			f->cur = buf_get(f->w);
			if (f->cur == NULL) {
				file_fail(f, VIGIL_WCAUSE_write, -ENOMEM);
				return -ENOMEM;
			}
			if (f->failed) { /* while waiting for the buffer */
				buf_put(f->w, f->cur);
				f->cur = NULL;
				return -EIO;
			}
			f->cur->off = f->off;
		}
		n = VIGIL_WRITER_BUF_BYTES - f->cur->len;
		if (n > len)
			n = len;
		memcpy(f->cur->data + f->cur->len, p, n);
		f->cur->len += n;
		f->off += n;
		p += n;
		len -= n;
		if (f->cur->len == VIGIL_WRITER_BUF_BYTES) {
			struct wbuf *b = f->cur;

			f->cur = NULL;
			write_submit(f, b);
		}
	}
	return 0;
}

bool vigil_wfile_direct(const struct vigil_wfile *f)
{
	return f->fd_direct;
}

/* b keeps its first `whole` bytes; the rest moves to the start of a
 * buffer of its own, returned (NULL: no buffer, nothing moved). */
static struct wbuf *move_tail(struct vigil_wfile *f, struct wbuf *b, size_t whole)
{
	struct wbuf *rest = buf_get(f->w);

	if (rest == NULL)
		return NULL;
	memcpy(rest->data, b->data + whole, b->len - whole);
	rest->len = b->len - whole;
	rest->off = b->off + whole;
	b->len = whole;
	return rest;
}

void vigil_wfile_sync(struct vigil_wfile *f)
{
	struct wbuf *b = f->cur, *rest;
	size_t whole;

	if (f->failed || f->closing || f->held)
		return; /* held: nothing of it can reach the disk yet */
	if (b != NULL && b->len > 0) {
		/* O_DIRECT: the aligned part goes now, the rest (under 4 KiB)
		 * stays staged at the start of a buffer of its own, so later
		 * writes stay aligned. Under 4 KiB staged, or no buffer for the
		 * rest: it goes with the next sync, and what full buffers wrote
		 * is synced now all the same. */
		whole = f->direct ? b->len / DIRECT_ALIGN * DIRECT_ALIGN : b->len;
		rest = NULL;
		if (whole > 0 && (whole == b->len || (rest = move_tail(f, b, whole)) != NULL)) {
			f->cur = rest;
			write_submit(f, b);
		}
	}
	f->sync_wanted = true;
	file_maybe_sync(f);
}

void vigil_wfile_close(struct vigil_wfile *f)
{
	struct wbuf *b = f->cur, *tail = NULL;
	size_t whole = b != NULL ? b->len / DIRECT_ALIGN * DIRECT_ALIGN : 0;

	f->cur = NULL;
	/* O_DIRECT takes the whole blocks; what is left of the last one goes
	 * through the page cache at the same time. Split before the file is
	 * closing: waiting for a buffer may finish (and free) a closing file. */
	if (b != NULL && f->direct && !f->failed && whole > 0 && whole < b->len)
		tail = move_tail(f, b, whole);
	f->closing = true;
	if (b != NULL && b->len > 0 && !f->failed) {
		write_submit(f, b);
		if (tail != NULL)
			write_submit(f, tail);
	} else {
		if (b != NULL)
			buf_put(f->w, b);
		if (tail != NULL)
			buf_put(f->w, tail);
	}
	file_maybe_finish(f);
}
