/* SPDX-License-Identifier: MIT */
/* Inside the io_uring writer: what writer.c (the ring, its buffers and its
 * descriptors) and wfile.c (one file's life) share. */
#ifndef VIGIL_WRITER_INTERNAL_H
#define VIGIL_WRITER_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <liburing.h>

#include "writer.h"

#define DIRECT_ALIGN 4096u /* offsets and lengths of O_DIRECT writes */

enum wop {
	WOP_OPEN,
	WOP_WRITE,
	WOP_DATASYNC, /* while the file is open */
	WOP_FSYNC,    /* at close, linked to the rename */
	WOP_RENAME,
	WOP_DIRSYNC,  /* the directory, after the create */
	WOP_DIRSYNC2, /* the directory, linked after the rename */
	WOP_UNLINK,   /* not a file's: a struct wunlink */
	WOP_REUSE,    /* an old file renamed to the new one's name, linked after its open */
};

struct wreq {
	enum wop op;
	struct vigil_wfile *file;
};

/* What a file waits for a descriptor to do. */
enum fd_wait {
	FDW_NONE,
	FDW_OPEN,    /* its own, to be opened */
	FDW_DIRSYNC, /* its folder's, to make its create durable */
	FDW_FINISH,  /* its folder's, for the fsync after its rename */
};

/* Retention's removals, at most WRITER_UNLINKS in flight: io_uring's
 * workers take requests in order, and 20,000 unlinks at once (10,000
 * cameras reaching RetainBytes together, each one a synchronous discard
 * on some filesystems) held every segment's open and fsync behind them
 * for seconds. The rest wait here, in order. */
#define WRITER_UNLINKS 8

struct wunlink {
	struct wreq req; /* first */
	struct wunlink *next; /* waiting */
	vigil_wfile_cb cb;
	void *arg;
	char path[]; /* as long as it is */
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
	bool cold; /* its pages given back (vigil_writer_trim) */
	bool direct; /* written while the file had O_DIRECT */
};

struct vigil_wfile {
	struct vigil_writer *w;
	struct wreq open_req;
	struct wreq fsync_req;
	struct wreq rename_req;
	struct wreq datasync_req;
	struct wreq dirsync_req;
	struct wreq dirsync2_req;
	struct wreq reuse_req;
	vigil_wfile_cb cb;
	void *arg;
	struct wbuf *cur;
	uint64_t off;
	int fd;
	int dir_fd;      /* the file's directory, while it is fsync'd */
	bool fd_counted; /* fd (or its open in flight) is in the writer's count */
	bool held;       /* not opened until vigil_wfile_release */
	bool fd_direct;  /* fd was opened with O_DIRECT */
	bool direct;     /* ... and has it still: aligned writes use it */
	enum fd_wait fd_wait;
	struct vigil_wfile *wait_next; /* the writer's list of files waiting */
	unsigned inflight;
	unsigned writes; /* of those, writes */
	bool sync_wanted;   /* a datasync waits for the writes before it */
	bool sync_inflight;
	bool dir_syncing; /* the create is being made durable */
	bool name_synced; /* ... and is: its directory fsync'd since */
	bool opening;
	struct wbuf *queued, *queued_tail; /* full buffers waiting for the open */
	struct wbuf *unaligned, *unaligned_tail; /* waiting for the direct writes in flight */
	bool closing;
	bool sealing;
	unsigned closed_ok; /* of the rename and the fsync of its directory, how many succeeded */
	bool failed;
	/* A file retention removed, to be emptied and renamed to partial
	 * instead of creating one (vigil_wfile_open), while that is under
	 * way; what its open and rename gave (REUSE_PENDING till then). */
	char *reuse;
	int reuse_open, reuse_rename;
	char partial[PATH_MAX];
	char final[PATH_MAX];
};
#define REUSE_PENDING INT32_MIN

struct vigil_writer {
	struct io_uring ring;
	struct wbuf *free;
	struct wbuf *all;
	unsigned n_bufs;
	unsigned n_free;   /* on the free list */
	unsigned free_low; /* the fewest on it since the last trim */
	uint64_t trim_ns;  /* when the next trim gives back what none used */
	uint64_t trimmed;  /* buffers whose pages were given back, in all */
	unsigned max_bufs;
	unsigned fixed_slots; /* registered buffer slots the ring has (0: none) */
	unsigned inflight;
	unsigned max_fds; /* 0: no limit */
	unsigned fds;     /* held, or being opened */
	unsigned files;   /* of those, files' own */
	unsigned closing; /* files closing: their descriptors come back */
	bool waking;
	/* Files waiting for a descriptor, in order: [0] the steps that
	 * finish files (they give theirs back), [1] new files' opens. Two
	 * lists, so that a wake takes only who fits: one list walked whole at
	 * every descriptor back cost 10,000 cameras half their recorder. */
	struct {
		struct vigil_wfile *head, *tail;
	} waiting[2];
	struct wunlink *unlinks_head, *unlinks_tail; /* waiting to be submitted */
	unsigned unlinks;			     /* in flight */
};

/* writer.c: buffers, submission entries, descriptors. */
struct wbuf *wbuf_get(struct vigil_writer *w); /* waits for a write to finish when all are busy */
void wbuf_put(struct vigil_writer *w, struct wbuf *b);
struct io_uring_sqe *wring_sqe(struct vigil_writer *w); /* submits to make room; NULL if none */
bool wfd_room(const struct vigil_writer *w, bool new_file);
bool wfd_coming_back(const struct vigil_writer *w);
void wfd_wait(struct vigil_wfile *f, enum fd_wait why);
void wfd_count(struct vigil_wfile *f);
void wfd_uncount(struct vigil_wfile *f); /* and wakes who waits */
void wfd_wake(struct vigil_writer *w);

/* wfile.c: a file's request finished; a descriptor came for what it
 * waited to do; an open that will never have one. */
void wfile_complete(struct wreq *req, int res);
void wfile_resume(struct vigil_wfile *f, enum fd_wait why);
void wfile_open_failed(struct vigil_wfile *f, int err);

#endif
