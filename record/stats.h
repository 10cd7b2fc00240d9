/* SPDX-License-Identifier: MIT */
/* The recorder's two vocabularies, one X-macro list each: why it failed
 * (its error causes) and what it counts per camera (its statistics). The
 * enum, the causes' names, the stats struct and the summary's JSON keys
 * (control/summary.c) are all generated from them: adding one is a line. */
#ifndef VIGIL_REC_STATS_H
#define VIGIL_REC_STATS_H

#include <stdint.h>

#include "writer.h"

/* Error causes: the writer's first (writer.h), then the recorder's own.
 * Each is counted per camera (errors[], shown by name under io.errors
 * when not 0) and logged once until recording goes well again. */
#define VIGIL_FOREACH_REC_CAUSE(X)                                                                           \
	VIGIL_FOREACH_WCAUSE(X)                                                                              \
	X(mux, "libavformat refused a frame or a segment's flush (not a write error)")                       \
	X(timestamps, "RTP timestamps went back; logged once, never counted")                                \
	X(playlist, "the playlist could not be read, appended to, cut or ended")                             \
	X(seal, "a sealed segment could not be set up, begun, written or ended")                             \
	X(state, "the sealed segments' chain state in StateDir could not be written")                       \
	X(spool, "no segment begun: the upload spool holds SpoolBytes ([Storage]); frames dropped")

enum vigil_rec_cause {
#define VIGIL_X_ENUM(name, help) VIGIL_REC_CAUSE_##name,
	VIGIL_FOREACH_REC_CAUSE(VIGIL_X_ENUM)
#undef VIGIL_X_ENUM
	VIGIL_REC_CAUSES
};

_Static_assert(VIGIL_REC_CAUSE_mux == (int)VIGIL_WCAUSE_MAX, "the writer's causes come first");
_Static_assert(VIGIL_REC_CAUSES <= 32, "a camera logs each cause once: one bit each");

/* "open", "write", "fsync", "rename", "unlink", "mux", ...; NULL past the end. */
const char *vigil_recorder_cause_name(unsigned cause);

#define VIGIL_LATENCY_BUCKETS 32
#define VIGIL_LATENCY_SUM VIGIL_LATENCY_BUCKETS /* after the buckets: the latencies' sum, in ns */

/* Statistics, per camera. Each entry names its field of struct
 * vigil_recorder_stats, its key in the summary, and where the summary
 * shows it: `top`, beside the data plane's counters, or `io`, among the
 * measurements of the disk that vary run to run.
 *   COUNT(field, key, where, help): a counter, summed over the cameras in
 *     the totals;
 *   GAUGE(field, key, where, help): a camera's own (the totals show 0);
 *   LATENCY(field, key, where, help): VIGIL_LATENCY_BUCKETS counters, bucket
 *     k for those under 2^k us, then their sum in ns (VIGIL_LATENCY_SUM),
 *     summed; shown as key_p50_us and key_p99_us (vigil_latency_quantile),
 *     and in the metrics as a histogram;
 *   BY_CAUSE(field, key, where, help): a counter per cause, summed; shown as
 *     an object of those not 0, by cause name.
 * The summary's `frames_dropped` adds recorder_dropped to the data plane's
 * frame drops (VIGIL_FOREACH_FRAME_DROP). */
#define VIGIL_REC_DROPPED_HELP "frames the recorder could not write: no segment to write to, or the segment failed"
#define VIGIL_FOREACH_REC_STAT(COUNT, GAUGE, LATENCY, BY_CAUSE)                                              \
	COUNT(frames_recorded, frames_recorded, top,                                                         \
	      "frames in segments that became durable, or the one still open")                               \
	COUNT(bytes_written, bytes_written, top, "bytes of segments on disk")                                \
	COUNT(segments, segments, top, "segments closed (fsync'd and renamed)")                              \
	COUNT(syncs, syncs, io, "fdatasyncs of open segments (MaxUnsyncedSeconds)")                          \
	COUNT(segments_removed, segments_removed, top, "segments removed by RetainHours, RetainBytes")       \
	COUNT(segments_reused, segments_reused, io,                                                          \
	      "removed segments' files emptied and renamed for a next segment instead of created")          \
	LATENCY(write_latency, write, io, "how long the io_uring writes took, in microseconds")              \
	GAUGE(writes_inflight, writes_inflight, io,                                                          \
	      "the open segment's writes in flight, at the last completion")                                 \
	COUNT(frames_dropped, recorder_dropped, top, VIGIL_REC_DROPPED_HELP)                                 \
	COUNT(write_errors, write_errors, top,                                                               \
	      "failed opens, writes, fsyncs, renames, unlinks, playlist, seal and state writes (every "      \
	      "cause but mux)")                                                                              \
	BY_CAUSE(errors, errors, io, "errors by cause (VIGIL_FOREACH_REC_CAUSE)")

struct vigil_recorder_stats {
#define VIGIL_X_COUNT(field, key, where, help) uint64_t field;
#define VIGIL_X_LATENCY(field, key, where, help) uint64_t field[VIGIL_LATENCY_BUCKETS + 1];
#define VIGIL_X_BY_CAUSE(field, key, where, help) uint64_t field[VIGIL_REC_CAUSES];
	VIGIL_FOREACH_REC_STAT(VIGIL_X_COUNT, VIGIL_X_COUNT, VIGIL_X_LATENCY, VIGIL_X_BY_CAUSE)
#undef VIGIL_X_COUNT
#undef VIGIL_X_LATENCY
#undef VIGIL_X_BY_CAUSE
	char dir[4096 + 80]; /* RecordDir/<camera> */
};

/* The latency below which a share (0.5, 0.99) of the counted writes took,
 * in microseconds (a power of two: the bucket's bound); 0 with none. */
uint64_t vigil_latency_quantile(const uint64_t buckets[VIGIL_LATENCY_BUCKETS], double share);

#endif
