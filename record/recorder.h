/* SPDX-License-Identifier: MIT */
/* The recorder: threads (cfg->recorders, each with a share of the cameras)
 * that take complete frames from the workers' frame rings, mux each
 * camera's frames into MPEG-TS segments with libavformat, and write them
 * with io_uring: RecordDir/<camera>/NNNNNNNN.ts,
 * written as NNNNNNNN.ts.partial, fsync'd, then renamed. Segments are cut at
 * the first key frame after segment_seconds (camera clock). A camera with
 * an OwnerKey has sealed segments (.ts.sealed), chained across runs through
 * StateDir/chain (chain.h, docs/sealed-segments.md). */
#ifndef VIGIL_RECORDER_H
#define VIGIL_RECORDER_H

#include <stdint.h>

#include "vigil/config_model.h"
#include "vigil/frame.h"
#include "segment.h"
#include "stats.h"
#include "upload.h"

struct vigil_recorder;

/* Creates RecordDir/<camera>/ for each camera. up: the uploader its
 * durable segments and retention's removals are posted to, and whose
 * spool bound stops new segments (NULL: none). cfg->recorders (0: 1)
 * recorder threads; camera c is thread vigil_frame_recorder(c, n)'s.
 * The cameras' settings are read from cfg here and never again: later
 * changes come through vigil_recorder_configure. NULL with errno set. */
struct vigil_recorder *vigil_recorder_create(const struct vigil_config *cfg, size_t max_frame_bytes,
					     struct vigil_uploader *up);

/* The control plane hands over a camera's settings (name, codec,
 * retention, OwnerKey) as they are now: for a camera added while running,
 * before its first frame; for a known one, whenever they may have
 * changed. A copy is made; the recorder takes it at the camera's next
 * segment (retention also within ten seconds for a quiet camera), so the
 * open segment is finished as it was begun. Safe while the recorder
 * threads run. 0, -EINVAL (no such slot) or -ENOMEM. */
int vigil_recorder_configure(struct vigil_recorder *rec, unsigned slot, const struct vigil_camera_config *cam);

/* Mux and write one access unit (Annex-B, len bytes); its bytes are copied
 * out before it returns. For direct use (tests, benchmarks) when no thread
 * is running; calls for cameras of different recorder threads may run at
 * once, those for one thread's cameras may not. The calling thread must
 * live until vigil_recorder_stop returns: io_uring requests it submitted
 * (a rename linked after an fsync) fail with EFAULT once it has exited. */
void vigil_recorder_write(struct vigil_recorder *rec, const struct vigil_frame *f, const uint8_t *data, size_t len);

/* For direct use: handle the I/O that has finished (completions, and what
 * waits for them), as an idle recorder thread does. */
void vigil_recorder_poll(struct vigil_recorder *rec);

/* Start the recorder threads: thread r consumes
 * rings[vigil_frame_ring_index(w, r, n)] of each of the n_workers workers
 * (single consumer each; n recorder threads) and frees each frame's mbufs
 * once muxed. */
int vigil_recorder_start(struct vigil_recorder *rec, struct vigil_frame_ring *const *rings, unsigned n_workers);

/* Stop: drain the rings (the producers must have stopped), close every
 * open segment (last write, fsync, rename) and join the threads. Without
 * threads, just closes segments. 0 or -errno of the first error. */
int vigil_recorder_stop(struct vigil_recorder *rec);
/* The same in two steps, so that the caller can take the segments closed
 * meanwhile (vigil_recorder_closed) while the threads drain: the stop
 * asked for, then whether every thread is done (vigil_recorder_stop then
 * returns at once). */
void vigil_recorder_stop_begin(struct vigil_recorder *rec);
bool vigil_recorder_stopped(const struct vigil_recorder *rec);

/* Safe to call from another thread while running (plain 64-bit reads). */
const struct vigil_recorder_stats *vigil_recorder_stats(const struct vigil_recorder *rec, unsigned camera);

/* Durable segments, as the recorder threads tell of them (a ring of
 * VIGIL_RECORDER_CLOSED_RING; a thread never waits: when it is full the
 * segment is counted in closed_lost instead). The next one and its final
 * path, 1; 0 when none waits. One caller at a time (the control loop). */
#define VIGIL_RECORDER_CLOSED_RING 4096
int vigil_recorder_closed(struct vigil_recorder *rec, struct vigil_segment_closed *sc, char *path, size_t pathlen);
uint64_t vigil_recorder_closed_lost(const struct vigil_recorder *rec);

/* The live parts the playback endpoint serves (live.h): with
 * PlaybackListen and RecordFormat fmp4, else NULL. Freed with rec. */
struct vigil_live *vigil_recorder_live(const struct vigil_recorder *rec);

void vigil_recorder_free(struct vigil_recorder *rec);

#endif
