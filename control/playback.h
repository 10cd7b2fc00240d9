/* SPDX-License-Identifier: MIT */
/* PlaybackListen: cameras' recordings to browsers over HTTP (libmicrohttpd,
 * on threads of its own; TLS through its GnuTLS when PlaybackCertFile is
 * set), and the web player's files from PlayerDir. Every request for a
 * camera carries a viewer token (viewer_token.h) in its query (token=);
 * segments go out exactly as stored, so a sealed
 * camera's are ciphertext that only its owner's key opens, in the browser
 * (docs/playback.md). The HTTP threads read files and the token key, and
 * nothing the control loop changes. */
#ifndef VIGIL_PLAYBACK_H
#define VIGIL_PLAYBACK_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "vigil/config_model.h"

/* Every answer, once: what was served, or why not. */
#define VIGIL_FOREACH_PLAYBACK_OUTCOME(X)                                                                \
	X(PB_PLAYLIST, "playlist", "a camera's playlist served (live, or a time range)")                 \
	X(PB_SEGMENT, "segment", "a segment or init segment served as stored (sealed ones sealed)")      \
	X(PB_PART, "part", "a part of a segment being recorded served (low-latency HLS)")                \
	X(PB_REDIRECT, "redirect", "a segment no longer on disk sent to the object store (presigned URL)") \
	X(PB_PLAYER, "player", "a file of the web player served")                                        \
	X(PB_NO_TOKEN, "no_token", "no viewer token in the query")                                       \
	X(PB_BAD_TOKEN, "bad_token", "not a viewer token, or not signed with this server's token key")  \
	X(PB_EXPIRED, "expired", "a viewer token past its expiry")                                       \
	X(PB_WRONG_CAMERA, "wrong_camera", "a viewer token of another camera")                           \
	X(PB_OUT_OF_RANGE, "out_of_range", "a segment outside the token's time range")                   \
	X(PB_NOT_FOUND, "not_found", "no such path, camera folder or file (or a segment no longer on disk)") \
	X(PB_BAD_REQUEST, "bad_request", "not GET or HEAD, a body, or a from/to that is not a UTC time")

enum vigil_playback_outcome {
#define X(e, name, help) VIGIL_##e,
	VIGIL_FOREACH_PLAYBACK_OUTCOME(X)
#undef X
	VIGIL_PLAYBACK_OUTCOMES
};

extern const char *const vigil_playback_outcome_name[VIGIL_PLAYBACK_OUTCOMES];
extern const char *const vigil_playback_outcome_help[VIGIL_PLAYBACK_OUTCOMES];

struct vigil_playback;
struct vigil_live;

/* Listens on cfg->playback_listen; token key from the master key (NULL:
 * none), else cfg->state_dir (viewer_token.h); parts: the recorder's live
 * parts (low-latency HLS), or NULL. NULL with msg set. */
struct vigil_playback *vigil_playback_start(const struct vigil_config *cfg, const uint8_t *master,
					    struct vigil_live *parts, char *msg, size_t msglen);
void vigil_playback_stop(struct vigil_playback *pb);

/* A viewer token for camera, valid for ttl seconds from now, opening its
 * recordings in [from, to) (seconds since the epoch, 0: no bound). */
int vigil_playback_token(const struct vigil_playback *pb, const char *camera, uint64_t ttl, uint64_t from,
			 uint64_t to, char *out, size_t outlen, uint64_t *expires);

/* The answers so far, by outcome. */
void vigil_playback_counts(const struct vigil_playback *pb, uint64_t out[VIGIL_PLAYBACK_OUTCOMES]);
/* {"url", "tls", "answers": {outcome: n}} for vigilctl stats. */
json_t *vigil_playback_summary(const struct vigil_playback *pb);
/* "http://ADDRESS:PORT" or "https://...". */
const char *vigil_playback_url(const struct vigil_playback *pb);

#endif
