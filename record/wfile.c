/* SPDX-License-Identifier: MIT */
/* One file of the io_uring writer, from open to fsync'd and renamed.
 * Files are opened through the ring too (a create can wait on the
 * filesystem's journal): what is written before the open completes, or
 * while the file is held, waits on its queue. A file's writes all complete
 * before its fsync; the rename is linked after the fsync. A name is durable
 * only once its directory is fsync'd (POSIX; ext4 and XFS journal it
 * sooner, but do not promise it): before the file's first fdatasync (until
 * then nothing of it is durable, so its name need not be: a segment closed
 * before any datasync costs two fsyncs, not three), and linked after the
 * rename, before the file is reported closed. Files are opened with
 * O_DIRECT where the filesystem takes it: whole aligned buffers go
 * straight to the device; the first write that is not aligned (a tail,
 * the rest of a short write) clears O_DIRECT on the descriptor (fcntl),
 * and the file goes on through the page cache, which its fsync covers:
 * one descriptor a file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/clock.h"
#include "writer_internal.h"

static void file_fail(struct vigil_wfile *f, enum vigil_wcause cause, int err)
{
	f->failed = true;
	f->cb(f->arg, &(struct vigil_wio){.ev = VIGIL_WEV_ERROR, .cause = cause, .err = err,
				       .path = cause == VIGIL_WCAUSE_rename ? f->final : f->partial});
}

/* The file goes on through the page cache. Writes already issued with
 * O_DIRECT keep it; one retried after this goes buffered, which takes any
 * write. */
static int go_buffered(struct vigil_wfile *f)
{
	int flags = fcntl(f->fd, F_GETFL);

	if (flags < 0 || fcntl(f->fd, F_SETFL, flags & ~O_DIRECT) < 0)
		return -1;
	f->direct = false;
	return 0;
}

/* The descriptor, ready for a write of len bytes at off. */
static int write_fd(struct vigil_wfile *f, uint64_t off, size_t len)
{
	if (f->direct && (off % DIRECT_ALIGN != 0 || len % DIRECT_ALIGN != 0) && go_buffered(f) < 0)
		return -1;
	return f->fd;
}

/* b last on a list of buffers waiting to be written. */
static void wait_add(struct wbuf **head, struct wbuf **tail, struct wbuf *b)
{
	b->next = NULL;
	if (*tail != NULL)
		(*tail)->next = b;
	else
		*head = b;
	*tail = b;
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
		wait_add(&f->queued, &f->queued_tail, b);
		return;
	}
	if (f->direct && f->writes > 0 && ((b->off + b->done) % DIRECT_ALIGN != 0 || len % DIRECT_ALIGN != 0)) {
		/* It clears O_DIRECT on the descriptor, and a direct write still
		 * in flight (io_uring may issue it later, from a worker) would
		 * then go through the page cache: a copy of up to a whole
		 * buffer, a segment's last, for a tail of a few hundred bytes. */
		wait_add(&f->unaligned, &f->unaligned_tail, b);
		return;
	}
	sqe = wring_sqe(w);
	fd = write_fd(f, b->off + b->done, len);

	if (sqe == NULL || fd < 0) {
		if (sqe != NULL) {
			io_uring_prep_nop(sqe);
			io_uring_sqe_set_data(sqe, NULL);
		}
		file_fail(f, VIGIL_WCAUSE_write, sqe == NULL ? -EBUSY : -errno);
		wbuf_put(w, b);
		return;
	}
	b->req.op = WOP_WRITE;
	b->req.file = f;
	b->direct = f->direct;
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

/* What waited on a list, in order: submitted, or dropped if the file
 * failed meanwhile. */
static void wait_done(struct vigil_wfile *f, struct wbuf **head, struct wbuf **tail)
{
	struct wbuf *b = *head, *next;

	*head = *tail = NULL;
	for (; b != NULL; b = next) {
		next = b->next;
		if (f->failed)
			wbuf_put(f->w, b);
		else
			write_submit(f, b);
	}
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

static void reuse_drop(struct vigil_wfile *f);

static void file_free(struct vigil_wfile *f)
{
	struct vigil_writer *w = f->w;

	if (f->fd >= 0)
		close(f->fd);
	if (f->dir_fd >= 0) {
		close(f->dir_fd);
		w->fds--;
	}
	if (f->fd_counted) {
		w->fds--;
		w->files--;
		w->closing -= f->closing;
	}
	if (f->reuse != NULL) /* failed before its open: removed as retention asked */
		reuse_drop(f);
	free(f);
	wfd_wake(w);
}

static void dir_sync_submit(struct vigil_wfile *f);

/* A datasync asked for, once the writes before it are done. */
static void file_maybe_sync(struct vigil_wfile *f)
{
	struct io_uring_sqe *sqe;

	if (!f->sync_wanted || f->sync_inflight || f->opening || f->dir_syncing || f->writes > 0 || f->failed ||
	    f->fd_wait != FDW_NONE)
		return;
	if (!f->name_synced) {
		/* The create first: the datasync waits for it (dir_syncing). */
		f->name_synced = true;
		dir_sync_submit(f);
		return;
	}
	sqe = wring_sqe(f->w);
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

	if (!f->closing || f->inflight > 0 || f->held || f->fd_wait != FDW_NONE)
		return;
	if (f->failed || f->sealing) {
		file_free(f);
		return;
	}
	if (f->dir_fd < 0) {
		if (!wfd_room(w, false)) {
			wfd_wait(f, FDW_FINISH);
			return;
		}
		if ((f->dir_fd = dir_open(f)) < 0) {
			/* Its folder is gone: the rename cannot happen either. */
			file_fail(f, VIGIL_WCAUSE_rename, -errno);
			file_free(f);
			return;
		}
		w->fds++;
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

/* The old file goes as retention asked, removed through the ring (its
 * callback hears it), when it is not reused after all. */
static void reuse_drop(struct vigil_wfile *f)
{
	if (vigil_writer_unlink(f->w, f->reuse, f->cb, f->arg) < 0)
		f->cb(f->arg, &(struct vigil_wio){.ev = VIGIL_WEV_ERROR, .cause = VIGIL_WCAUSE_unlink, .err = -ENOMEM,
						  .path = f->reuse});
	free(f->reuse);
	f->reuse = NULL;
}

/* The old file is gone, as retention asked: reused, or already removed. */
static void reuse_gone(struct vigil_wfile *f, bool reused)
{
	f->cb(f->arg, &(struct vigil_wio){.ev = VIGIL_WEV_REMOVED, .reused = reused, .path = f->reuse});
	free(f->reuse);
	f->reuse = NULL;
}

static int open_submit(struct vigil_wfile *f, bool direct);
static void open_done(struct vigil_wfile *f, int res);

/* The old file's open and rename both done: the file is open under its
 * new name, or is made as any other (the old one removed). */
static void reuse_done(struct vigil_wfile *f)
{
	int fd = f->reuse_open, ret;

	if (fd >= 0 && f->reuse_rename == 0) {
		reuse_gone(f, true);
		open_done(f, fd);
		return;
	}
	if (fd >= 0)
		close(fd);
	if (fd == -ENOENT)
		reuse_gone(f, false);
	else
		reuse_drop(f);
	if ((ret = open_submit(f, f->fd_direct && fd != -EINVAL)) < 0)
		open_done(f, ret);
}

/* O_DIRECT is asked for first; the file's writes are planned for it
 * (aligned) until the open says otherwise. */
static int open_submit(struct vigil_wfile *f, bool direct)
{
	struct io_uring_sqe *sqe;

	f->opening = true; /* appends wait on its queue */
	f->direct = f->fd_direct = direct;
	if (!f->fd_counted) {
		if (!wfd_room(f->w, true)) {
			if (!wfd_coming_back(f->w))
				return -EMFILE;
			wfd_wait(f, FDW_OPEN);
			return 0;
		}
		wfd_count(f);
	}
	if (f->reuse != NULL) {
		struct io_uring_sqe *ren;

		if (io_uring_sq_space_left(&f->w->ring) < 2)
			io_uring_submit(&f->w->ring);
		sqe = io_uring_get_sqe(&f->w->ring);
		ren = sqe != NULL ? io_uring_get_sqe(&f->w->ring) : NULL;
		if (ren != NULL) {
			/* Emptied first: a crash between the two leaves an
			 * empty file under the old name (recovery removes it),
			 * never old video under the new one. */
			f->open_req = (struct wreq){.op = WOP_OPEN, .file = f};
			f->reuse_req = (struct wreq){.op = WOP_REUSE, .file = f};
			f->reuse_open = f->reuse_rename = REUSE_PENDING;
			io_uring_prep_openat(sqe, AT_FDCWD, f->reuse,
					     O_WRONLY | O_TRUNC | O_CLOEXEC | (direct ? O_DIRECT : 0), 0);
			io_uring_sqe_set_data(sqe, &f->open_req);
			sqe->flags |= IOSQE_IO_LINK;
			io_uring_prep_rename(ren, f->reuse, f->partial);
			io_uring_sqe_set_data(ren, &f->reuse_req);
			f->inflight += 2;
			f->w->inflight += 2;
			io_uring_submit(&f->w->ring);
			return 0;
		}
		if (sqe != NULL) { /* cannot happen after the submit above */
			io_uring_prep_nop(sqe);
			io_uring_sqe_set_data(sqe, NULL);
		}
		reuse_drop(f);
	}
	sqe = wring_sqe(f->w);
	if (sqe == NULL) {
		wfd_uncount(f);
		return -EBUSY;
	}
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
 * durable. Opened here, where the file is known to exist: a path lookup.
 * A failure here fails the file. */
static void dir_sync_submit(struct vigil_wfile *f)
{
	struct io_uring_sqe *sqe;

	f->dir_syncing = true;
	if (!wfd_room(f->w, false)) {
		wfd_wait(f, FDW_DIRSYNC);
		return;
	}
	f->dir_fd = dir_open(f);
	f->w->fds += f->dir_fd >= 0;
	sqe = f->dir_fd >= 0 ? wring_sqe(f->w) : NULL;
	if (sqe == NULL) {
		f->dir_syncing = false;
		file_fail(f, VIGIL_WCAUSE_open, f->dir_fd < 0 ? -errno : -EBUSY);
		return;
	}
	f->dirsync_req = (struct wreq){.op = WOP_DIRSYNC, .file = f};
	io_uring_prep_fsync(sqe, f->dir_fd, 0);
	io_uring_sqe_set_data(sqe, &f->dirsync_req);
	f->inflight++;
	f->w->inflight++;
	io_uring_submit(&f->w->ring);
}

static void open_done(struct vigil_wfile *f, int res)
{
	if (res == -EINVAL && f->fd_direct && open_submit(f, false) == 0)
		return; /* the filesystem has no O_DIRECT */
	f->opening = false;
	if (res < 0) {
		file_fail(f, VIGIL_WCAUSE_open, res);
		wfd_uncount(f);
	} else {
		f->fd = res;
	}
	wait_done(f, &f->queued, &f->queued_tail);
}

void wfile_complete(struct wreq *req, int res)
{
	struct vigil_wfile *f = req->file;
	struct vigil_writer *w = f->w;
	struct wbuf *b;

	f->inflight--;
	switch (req->op) {
	case WOP_OPEN:
		if (f->reuse == NULL) {
			open_done(f, res);
			break;
		}
		f->reuse_open = res;
		if (f->reuse_rename != REUSE_PENDING)
			reuse_done(f);
		break;
	case WOP_REUSE:
		f->reuse_rename = res;
		if (f->reuse_open != REUSE_PENDING)
			reuse_done(f);
		break;
	case WOP_WRITE:
		f->writes--;
		b = (struct wbuf *)req;
		if (res == -EINVAL && b->direct && !f->failed && (!f->direct || go_buffered(f) == 0)) {
			/* O_DIRECT refused this one (a limit cut it short of
			 * alignment): this file goes on buffered. */
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
			wbuf_put(w, b);
		if (f->writes == 0)
			wait_done(f, &f->unaligned, &f->unaligned_tail);
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
		w->fds--;
		wfd_wake(w);
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

/* A file's descriptor came: on with what it waited to do. */
void wfile_resume(struct vigil_wfile *f, enum fd_wait why)
{
	int ret;

	switch (why) {
	case FDW_OPEN:
		if ((ret = open_submit(f, f->fd_direct)) < 0) {
			open_done(f, ret); /* failed: what waits is dropped */
			file_maybe_finish(f);
		}
		break;
	case FDW_DIRSYNC:
		dir_sync_submit(f);
		file_maybe_finish(f); /* if that failed */
		break;
	case FDW_FINISH:
		file_maybe_finish(f);
		break;
	case FDW_NONE:
		break;
	}
}

void wfile_open_failed(struct vigil_wfile *f, int err)
{
	open_done(f, err); /* what waits is dropped */
	file_maybe_finish(f);
}

static struct vigil_wfile *file_new(struct vigil_writer *w, const char *partial, const char *final,
				    const char *reuse, vigil_wfile_cb cb, void *arg)
{
	struct vigil_wfile *f;

	if (strlen(partial) >= sizeof(f->partial) || strlen(final) >= sizeof(f->final)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	if (reuse != NULL && (f->reuse = strdup(reuse)) == NULL) {
		free(f);
		return NULL;
	}
	f->fd = -1;
	f->dir_fd = -1;
	f->w = w;
	f->cb = cb;
	f->arg = arg;
	strcpy(f->partial, partial);
	strcpy(f->final, final);
	return f;
}

struct vigil_wfile *vigil_wfile_open(struct vigil_writer *w, const char *partial, const char *final,
				     const char *reuse, vigil_wfile_cb cb, void *arg)
{
	struct vigil_wfile *f = file_new(w, partial, final, reuse, cb, arg);
	int ret = f != NULL ? open_submit(f, true) : -errno;

	if (ret < 0) {
		if (reuse != NULL) /* removed as retention asked */
			vigil_writer_unlink(w, reuse, cb, arg);
		if (f != NULL)
			free(f->reuse);
		free(f);
		errno = -ret;
		return NULL;
	}
	return f;
}

struct vigil_wfile *vigil_wfile_open_held(struct vigil_writer *w, const char *partial, const char *final,
					  const char *reuse, vigil_wfile_cb cb, void *arg)
{
	struct vigil_wfile *f = file_new(w, partial, final, reuse, cb, arg);

	if (f == NULL && reuse != NULL) /* removed as retention asked */
		vigil_writer_unlink(w, reuse, cb, arg);
	if (f != NULL) {
		f->held = true;
		f->opening = true;		 /* appends wait on its queue */
		f->direct = f->fd_direct = true; /* planned for it, as open_submit does */
	}
	return f;
}

void vigil_wfile_release(struct vigil_wfile *f)
{
	int ret;

	if (!f->held)
		return;
	f->held = false;
	if (f->failed) { /* while held: nothing to make */
		f->opening = false;
		wait_done(f, &f->queued, &f->queued_tail); /* dropped */
	} else if ((ret = open_submit(f, true)) < 0) {
		open_done(f, ret); /* failed: what waits is dropped */
	}
	file_maybe_finish(f);
}

bool vigil_wfile_failed(const struct vigil_wfile *f)
{
	return f->failed;
}

/* The staging buffer appends go to, with room in it. */
static struct wbuf *cur_buf(struct vigil_wfile *f)
{
	if (f->failed)
		return NULL;
	if (f->cur == NULL) {
		f->cur = wbuf_get(f->w);
		if (f->cur == NULL) {
			file_fail(f, VIGIL_WCAUSE_write, -ENOMEM);
			return NULL;
		}
		if (f->failed) { /* while waiting for the buffer */
			wbuf_put(f->w, f->cur);
			f->cur = NULL;
			return NULL;
		}
		f->cur->off = f->off;
	}
	return f->cur;
}

/* n bytes more staged: the buffer goes when full. */
static void cur_grow(struct vigil_wfile *f, size_t n)
{
	f->cur->len += n;
	f->off += n;
	if (f->cur->len == VIGIL_WRITER_BUF_BYTES) {
		struct wbuf *b = f->cur;

		f->cur = NULL;
		write_submit(f, b);
	}
}

int vigil_wfile_append(struct vigil_wfile *f, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len > 0) {
		struct wbuf *b = cur_buf(f);
		size_t n;

		if (b == NULL)
			return -EIO;
		n = VIGIL_WRITER_BUF_BYTES - b->len;
		if (n > len)
			n = len;
		memcpy(b->data + b->len, p, n);
		p += n;
		len -= n;
		cur_grow(f, n);
	}
	return 0;
}

uint8_t *vigil_wfile_space(struct vigil_wfile *f, size_t *len)
{
	struct wbuf *b = cur_buf(f);

	if (b == NULL)
		return NULL;
	*len = VIGIL_WRITER_BUF_BYTES - b->len;
	return b->data + b->len;
}

int vigil_wfile_commit(struct vigil_wfile *f, size_t len)
{
	if (f->failed || f->cur == NULL || len > VIGIL_WRITER_BUF_BYTES - f->cur->len)
		return -EIO;
	cur_grow(f, len);
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
	struct wbuf *rest = wbuf_get(f->w);

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
	f->w->closing += f->fd_counted;
	if (b != NULL && b->len > 0 && !f->failed) {
		write_submit(f, b);
		if (tail != NULL)
			write_submit(f, tail);
	} else {
		if (b != NULL)
			wbuf_put(f->w, b);
		if (tail != NULL)
			wbuf_put(f->w, tail);
	}
	file_maybe_finish(f);
}
