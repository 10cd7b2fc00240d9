/* SPDX-License-Identifier: MIT */
/* The recorder's io_uring writer: staging buffers filled by append and
 * written at increasing offsets, then fsync and rename of a whole file.
 * Single-threaded: only the recorder thread calls into it. */
#ifndef VIGIL_WRITER_H
#define VIGIL_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIGIL_WRITER_ENTRIES 256
#define VIGIL_WRITER_BUF_BYTES (256u << 10)
#define VIGIL_WRITER_FIXED_MAX 4096 /* staging buffers registered with the ring: 1 GiB pinned at most */
#define VIGIL_WRITER_TRIM_NS (UINT64_C(30) * 1000000000) /* vigil_writer_trim's interval */

/* What failed, for counting and for logging once per cause: one list,
 * the first part of the recorder's (VIGIL_FOREACH_REC_CAUSE, stats.h). */
#define VIGIL_FOREACH_WCAUSE(X)                                                                            \
	X(open, "a file (segment, init segment, chain state) could not be created, or its folder synced") \
	X(write, "a write failed (ENOSPC, EIO, ...), or no memory to stage it")                         \
	X(fsync, "an fsync or fdatasync of a file or of its folder failed")                              \
	X(rename, "a finished file could not be renamed to its final name")                              \
	X(unlink, "retention could not remove a segment")

enum vigil_wcause {
#define VIGIL_X_ENUM(name, help) VIGIL_WCAUSE_##name,
	VIGIL_FOREACH_WCAUSE(VIGIL_X_ENUM)
#undef VIGIL_X_ENUM
	VIGIL_WCAUSE_MAX
};

enum vigil_wevent {
	VIGIL_WEV_WRITTEN, /* bytes reached the file */
	VIGIL_WEV_SYNCED,  /* what was appended before vigil_wfile_sync is on disk */
	VIGIL_WEV_CLOSED,  /* fsync'd and renamed to its final name */
	VIGIL_WEV_REMOVED, /* vigil_writer_unlink's file is gone (or a reused one: reused) */
	VIGIL_WEV_ERROR,   /* cause and err (-errno) say what failed */
};

/* What finished. */
struct vigil_wio {
	enum vigil_wevent ev;
	enum vigil_wcause cause; /* VIGIL_WEV_ERROR: what failed */
	int err;                 /* VIGIL_WEV_ERROR: -errno */
	uint64_t bytes;          /* VIGIL_WEV_WRITTEN: how many */
	uint64_t latency_ns;     /* VIGIL_WEV_WRITTEN: from submission to completion */
	unsigned writes_inflight; /* the file's writes still in flight */
	bool reused;             /* VIGIL_WEV_REMOVED: the file is a new one's now */
	const char *path;
};

/* Called from vigil_writer_reap (and from anything that waits) for each
 * completion of a file opened with this callback. */
typedef void (*vigil_wfile_cb)(void *arg, const struct vigil_wio *io);

struct vigil_writer;
struct vigil_wfile;

/* NULL with errno set. max_bufs bounds the staging buffers (in flight or
 * being filled); keep it above the number of files open at once. */
struct vigil_writer *vigil_writer_create(unsigned entries, unsigned max_bufs);
/* Waits for everything in flight first. */
void vigil_writer_free(struct vigil_writer *w);
/* At most max_fds descriptors at once (0: no limit, the default): past
 * three quarters of it a new file's open waits for one to come back (what
 * is appended waits in memory, as while a file opens), or fails (EMFILE,
 * through cb) when none will; the rest is for the folder fsyncs that
 * finish files. */
void vigil_writer_limit_fds(struct vigil_writer *w, unsigned max_fds);
/* Gives back to the kernel the pages of the staging buffers that stayed
 * free for a whole VIGIL_WRITER_TRIM_NS: those a burst needed (files slow
 * to open or to write, up to max_bufs) and nothing since; not those
 * registered with the ring (pinned). Called often (NOW_NS from
 * CLOCK_MONOTONIC), acts once an interval. */
void vigil_writer_trim(struct vigil_writer *w, uint64_t now_ns);

/* Opens PARTIAL for writing, through the ring: the file takes appends at
 * once, and a failed open comes through cb (VIGIL_WCAUSE_open) like any
 * failure. On a clean close it is renamed to FINAL. NULL with errno set
 * (nothing is reported through cb) only without memory.
 * REUSE, if not NULL, names a file to be removed (retention's): it is
 * emptied (O_TRUNC) and renamed to PARTIAL instead of creating a file, so
 * no inode is freed and allocated (on ext4 without a journal each create
 * searches past the inodes freed in the last minutes: with retention
 * removing a file for each one made, the recorder's most costly call).
 * cb hears VIGIL_WEV_REMOVED for it either way: reused, or removed and
 * PARTIAL created when it cannot be reused. */
struct vigil_wfile *vigil_wfile_open(struct vigil_writer *w, const char *partial, const char *final,
				     const char *reuse, vigil_wfile_cb cb, void *arg);
/* As vigil_wfile_open, but held: nothing of the file reaches the disk,
 * not even its creation, until vigil_wfile_release; what is appended (and
 * a close) waits in memory till then. For a file that must not exist
 * before a record it depends on is durable (a sealed segment and its
 * chain state, camera.c). */
struct vigil_wfile *vigil_wfile_open_held(struct vigil_writer *w, const char *partial, const char *final,
					  const char *reuse, vigil_wfile_cb cb, void *arg);
void vigil_wfile_release(struct vigil_wfile *f);
/* Copies into the staging buffer, submitting it when full. Data for a
 * failed file is discarded. 0 or -errno. */
int vigil_wfile_append(struct vigil_wfile *f, const void *data, size_t len);
/* Appending in place, without the copy: the free part of the staging
 * buffer (*len bytes, at least one), which stays the file's until the next
 * call on it; then vigil_wfile_commit of what was put at its start (0, or
 * -EIO: the file failed, the bytes are discarded). NULL for a failed file. */
uint8_t *vigil_wfile_space(struct vigil_wfile *f, size_t *len);
int vigil_wfile_commit(struct vigil_wfile *f, size_t len);
/* Bounds what a power loss can take: what is staged is written now (with
 * O_DIRECT, all but its last partial 4 KiB block), and once the file's
 * writes are done, fdatasync (VIGIL_WEV_SYNCED). Nothing happens while one
 * is still pending. */
void vigil_wfile_sync(struct vigil_wfile *f);

/* Whether the file was opened with O_DIRECT (the filesystem takes it);
 * known once its open has completed. */
bool vigil_wfile_direct(const struct vigil_wfile *f);

/* True once a write to this file has failed: close it and start another. */
bool vigil_wfile_failed(const struct vigil_wfile *f);
/* Writes what is staged, then fsync and rename (skipped if the file has
 * failed). The writer owns and frees f from here on. */
void vigil_wfile_close(struct vigil_wfile *f);

/* Removes path through the ring; cb hears VIGIL_WEV_REMOVED or an error.
 * 0 or -errno (nothing submitted). */
int vigil_writer_unlink(struct vigil_writer *w, const char *path, vigil_wfile_cb cb, void *arg);

/* Handles finished requests; with wait, blocks until at least one. Returns
 * how many were handled or -errno. */
int vigil_writer_reap(struct vigil_writer *w, bool wait);
/* Blocks until nothing is in flight. */
void vigil_writer_drain(struct vigil_writer *w);
unsigned vigil_writer_inflight(const struct vigil_writer *w);
/* How many staging buffers are registered with the ring (fixed buffers). */
unsigned vigil_writer_fixed(const struct vigil_writer *w);

#endif
