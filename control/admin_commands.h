/* SPDX-License-Identifier: MIT */
/* Every admin socket command, once: vigild's command table (commands.c),
 * its "unknown command" reply and vigilctl's requests and --help
 * (tools/vigilctl.c) are generated from this list.
 *
 * X(fn, cmd, action, arg, changes, words, help):
 *   fn       vigild runs cmd_<fn> (commands.c)
 *   cmd, action  the request's "cmd" and "action" (NULL: none; the first
 *            action of a cmd is its default: `camera NAME` shows it)
 *   arg      VIGIL_ADMIN_ARG_NAME when the request needs "name"
 *   changes  true: a change, written to the audit log
 *   words    what is typed after vigilctl (NAME, FILE: the arguments)
 *   help     what vigilctl --help says ('\n' starts a new line) */
#ifndef VIGIL_ADMIN_COMMANDS_H
#define VIGIL_ADMIN_COMMANDS_H

enum { VIGIL_ADMIN_ARG_NONE, VIGIL_ADMIN_ARG_NAME };

#define VIGIL_FOREACH_ADMIN_COMMAND(X)                                                                         \
	X(stats, "stats", NULL, VIGIL_ADMIN_ARG_NONE, false, "stats",                                              \
	  "every counter, in total and per camera (JSON)")                                                        \
	X(cameras, "cameras", NULL, VIGIL_ADMIN_ARG_NONE, false, "cameras",                                        \
	  "one line per camera: state, packets, frames, segments")                                                \
	X(summary, "camera", "show", VIGIL_ADMIN_ARG_NAME, false, "camera show NAME",                              \
	  "one camera, every counter (JSON); also: camera NAME")                                                  \
	X(camera_add, "camera", "add", VIGIL_ADMIN_ARG_NAME, true,                                                 \
	  "camera add NAME --codec h264|h265 (--ssrc N --key-file FILE|--generate | --identity BASE64)",          \
	  "a new camera, with an SDES key (base64 of 44 bytes, as in vigil.conf's Key =; --generate\n"            \
	  "makes one and prints it, once), or one that agrees its keys by handshake (--identity:\n"               \
	  "its X25519 public key, docs/handshake.md). Also: --payload-types 96-127,\n"                            \
	  "--owner-key BASE64 (sealed recordings), --retain-hours N, --retain-bytes SIZE")                        \
	X(camera_rotate, "camera", "rotate", VIGIL_ADMIN_ARG_NAME, true, "camera rotate NAME --key-file FILE|--generate", \
	  "a new key; the previous one is accepted for KeyGraceSeconds. Brings a revoked camera back")           \
	X(camera_revoke, "camera", "revoke", VIGIL_ADMIN_ARG_NAME, true, "camera revoke NAME",                     \
	  "no packet of the camera is accepted from now on; it stays listed")                                     \
	X(camera_remove, "camera", "remove", VIGIL_ADMIN_ARG_NAME, true, "camera remove NAME",                     \
	  "revoke and forget the camera; its recordings stay on disk")                                            \
	X(segments, "segments", NULL, VIGIL_ADMIN_ARG_NAME, false, "segments NAME",                                \
	  "one camera's recordings on disk, oldest first")                                                        \
	X(token, "token", NULL, VIGIL_ADMIN_ARG_NAME, true, "token NAME [--ttl 10m] [--from T] [--to T]",          \
	  "a viewer token for camera NAME's recordings in a browser (PlaybackListen): valid for --ttl\n"         \
	  "(s, m, h or d; default 10m, at most 7d), opening the recordings from --from to --to (UTC,\n"        \
	  "2026-12-07T10:00:00Z; default all, and live); prints it and the player's address")                  \
	X(storage, "storage", NULL, VIGIL_ADMIN_ARG_NONE, false, "storage",                                        \
	  "uploads to object storage ([Storage]): segments and bytes uploaded, failures by cause,\n"             \
	  "what waits in the spool (JSON)")                                                                       \
	X(cluster, "cluster", NULL, VIGIL_ADMIN_ARG_NONE, false, "cluster",                                      \
	  "a cluster node ([Cluster]): every node registered in etcd, its version, cameras and load,\n"           \
	  "and whether this node reaches etcd (JSON)")                                                             \
	X(drain, "drain", NULL, VIGIL_ADMIN_ARG_NONE, true, "drain",                                              \
	  "a cluster node: give back every camera it owns (their last indices published first), take\n"          \
	  "none from now on, report not ready (and DrainFile), so routers move its flows; it stops\n"             \
	  "by itself once its cameras' packets stopped for 3 s")                                                  \
	X(health, "health", NULL, VIGIL_ADMIN_ARG_NONE, false, "health",                                          \
	  "ready (exit 0), or why not (exit 1): as MetricsListen's /readyz")                                    \
	X(watch, "watch", NULL, VIGIL_ADMIN_ARG_NONE, false, "watch",                                              \
	  "events as they happen, one JSON object a line (camera online/offline, segment closed,\n"              \
	  "key rotated/expired, auth failed, disk trouble/recovered, storage failing/recovered),\n"             \
	  "until interrupted")                        \
	X(config_check, "config", "check", VIGIL_ADMIN_ARG_NONE, false, "config check",                            \
	  "whether the configuration file would reload, without applying it")                                     \
	X(reload, "reload", NULL, VIGIL_ADMIN_ARG_NONE, true, "reload",                                            \
	  "re-read the configuration and apply camera changes (as SIGHUP)")                                       \
	X(shutdown, "shutdown", NULL, VIGIL_ADMIN_ARG_NONE, true, "shutdown",                                      \
	  "drain, close the recordings and stop vigild (as SIGTERM)")

#endif
