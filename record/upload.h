/* SPDX-License-Identifier: MIT */
/* The uploader: threads of their own (lanes, each with its share of the
 * cameras) that put every durable segment, each fMP4 init segment and each
 * camera's playlist into the [Storage] bucket as
 * <Prefix><camera>/<Node>/<file>, a few transfers at a time each over
 * libcurl's multi interface (docs/storage.md). A camera's files go up in
 * the order they were made, its playlist after the segments it lists
 * (the copy in the bucket lists only segments already there). What is
 * not up yet is the spool: the local files themselves, found again at
 * start. StateDir/uploads.K (lane K's) says, per camera, the segment up to which all
 * are in the bucket; with KeepLocal = no a segment's local file is
 * removed only once that file says so. Failures are retried with
 * exponential backoff and jitter, for ever: the spool's bound
 * (SpoolBytes) is what stops the recorder, never a queue. */
#ifndef VIGIL_UPLOAD_H
#define VIGIL_UPLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "vigil/config_model.h"
#include "playlist.h"

/* Why an upload failed, one counter each. */
#define VIGIL_FOREACH_UPLOAD_FAILURE(X)                                                                      \
	X(connect, "the store could not be reached (refused, unresolved, TLS)")                              \
	X(timeout, "the store stopped answering (timed out, or too slow)")                                   \
	X(credentials, "the store refused the credentials or the signature (401, 403)")                      \
	X(http_4xx, "the store refused the request (another 4xx)")                                           \
	X(http_5xx, "the store failed (5xx: 500, 503 SlowDown)")                                             \
	X(checksum, "the store's ETag did not match the MD5 of what was sent")                               \
	X(local, "the local file could not be read (counted once; retried)")

enum vigil_upload_failure {
#define VIGIL_X_ENUM(name, help) VIGIL_UPLOAD_FAIL_##name,
	VIGIL_FOREACH_UPLOAD_FAILURE(VIGIL_X_ENUM)
#undef VIGIL_X_ENUM
	    VIGIL_UPLOAD_FAILURES
};

extern const char *const vigil_upload_failure_name[VIGIL_UPLOAD_FAILURES];

/* Each lane's, read from any thread while they run; vigil_uploader_stats
 * sums them. */
struct vigil_upload_stats {
	uint64_t uploaded_segments; /* media segments in the bucket */
	uint64_t uploaded_bytes;    /* their bytes */
	uint64_t uploaded_inits;    /* fMP4 init segments */
	uint64_t uploaded_playlists;
	uint64_t failures[VIGIL_UPLOAD_FAILURES];
	uint64_t vanished; /* segments gone from disk before their upload (retention) */
	uint64_t spool_bytes;
	uint64_t spool_segments;
	uint64_t spool_oldest_ns;  /* when the oldest segment not yet uploaded became durable; 0: none */
	uint64_t failing_since_ns; /* the first failure of a streak; 0: the last request went well */
};

struct vigil_uploader;

/* Checks the bucket (HEAD: wrong credentials or a missing bucket are said
 * in err and refused here; a store out of reach or failing is logged, and
 * recording goes on into the spool), aborts the multipart uploads this
 * node left open (once the store answers), and reads StateDir/uploads.K. No
 * thread yet.
 * lanes: threads, each with its share of the cameras (vigild: one per
 * recorder thread). userpwd: "access_key:secret_key" (copied into locked
 * memory). NULL with err set. */
struct vigil_uploader *vigil_uploader_create(const struct vigil_storage_config *conf, const char *record_dir,
					     const char *state_dir, unsigned lanes, const char *userpwd,
					     char *err, size_t errlen);

/* The segments of camera whose numbers are below this are in the bucket
 * (StateDir/uploads.K at start): crash recovery keeps them in the playlist
 * though not on disk, and never numbers a new segment below it. 0: none. */
uint32_t vigil_uploader_uploaded_below(const struct vigil_uploader *u, const char *camera);

/* The spool found on disk (after the recorder's crash recovery), then the
 * thread started. 0 or -errno. */
int vigil_uploader_start(struct vigil_uploader *u);

/* A segment became durable (or, removed: retention removed it and the
 * bucket's copy goes too). start_ns: its playlist entry's, which names
 * its object. From any thread; never waits. */
void vigil_uploader_post(struct vigil_uploader *u, const char *camera, enum vigil_seg_kind kind, uint32_t seq,
			 uint32_t map, uint64_t bytes, uint64_t start_ns, bool removed);

/* The spool holds SpoolBytes or more: no new segment is begun. */
bool vigil_uploader_spool_full(const struct vigil_uploader *u);

/* The recorder has stopped: every camera's playlist (ended) goes up
 * after its last segments; waits at most wait_s seconds for the spool to
 * empty. The segments left in the spool (0: all uploaded). */
uint64_t vigil_uploader_finish(struct vigil_uploader *u, unsigned wait_s);

/* The lanes' statistics, summed (the oldest spool and failure of any). */
void vigil_uploader_stats(const struct vigil_uploader *u, struct vigil_upload_stats *out);

/* Stops the thread (what is not up stays in the spool) and frees. */
void vigil_uploader_free(struct vigil_uploader *u);

#endif
