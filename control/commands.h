/* SPDX-License-Identifier: MIT */
/* What the admin socket's commands do: a table of commands, each a thin
 * adapter from a JSON request to one action of the control plane, and the
 * audit log every change goes to before it is answered. */
#ifndef VIGIL_COMMANDS_H
#define VIGIL_COMMANDS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "cameras.h"
#include "cluster.h"
#include "events.h"
#include "handshakes.h"
#include "playback.h"
#include "recorder.h"
#include "workers.h"

struct vigil_commands {
	struct vigil_cameras *cams;
	const struct vigil_workers *ws;
	const struct vigil_recorder *rec;
	const struct vigil_handshakes *hs; /* NULL: no HandshakePort */
	const struct vigil_events *events; /* NULL: none (not live) */
	const struct vigil_uploader *up;   /* NULL: no [Storage] */
	struct vigil_cluster *cluster;     /* NULL: not a cluster node */
	const struct vigil_playback *playback; /* NULL: no PlaybackListen */
	const char *audit;		   /* the audit log's path */
	const char *crypto;		   /* the engine that decrypts: "libsodium", "cryptodev:DEVICE" */
	volatile bool *stop;           /* set by shutdown */
	char msg[6144];
};

/* A vigil_admin_fn: arg is a struct vigil_commands. */
json_t *vigil_commands_run(void *arg, unsigned peer_uid, const char *cmd, json_t *req, const char **error);

#endif
