/* SPDX-License-Identifier: MIT */
/* Every event vigild tells of, once: the enum, the "type" names in the
 * JSON, the README's table and the metrics' vigil_events_total{type} are
 * generated from this list. Adding one is a line here and a call of
 * vigil_events_emit where it happens.
 *
 * X(name, fields, help): fields as the JSON object holds them beside
 * "type", "time" and "id". */
#ifndef VIGIL_EVENT_TYPES_H
#define VIGIL_EVENT_TYPES_H

#define VIGIL_FOREACH_EVENT(X)                                                                               \
	X(camera_online, "camera", "an authentic packet from a camera that was never_seen or offline")       \
	X(camera_offline, "camera, last_seen", "no authentic packet from the camera for OfflineSeconds")     \
	X(segment_closed, "camera, path, seconds, bytes, sealed",                                            \
	  "a segment is durable (fsync'd and renamed): its final path, duration and size")                   \
	X(key_rotated, "camera, by (reload, admin or handshake)", "the camera's key changed")                \
	X(key_expired, "camera", "a handshake camera did not rekey in time: its packets are refused")        \
	X(auth_failed, "camera, count, per_minute",                                                          \
	  "more than AuthFailedPerMinute of the camera's packets failed authentication within a minute")     \
	X(disk_trouble, "reason, write_errors",                                                              \
	  "RecordDir takes no new file, or the recorder's write_errors rose")                                \
	X(disk_recovered, "seconds", "RecordDir writable and no new write error for 5 s after disk_trouble")     \
	X(storage_failing, "seconds, spool_segments",                                                        \
	  "every request to the object store ([Storage]) has failed for 5 s: segments wait in the spool")    \
	X(storage_recovered, "seconds, spool_segments", "a request to the object store succeeded again after storage_failing") \
	X(cluster_etcd_lost, "node", "a cluster node cannot reach etcd: it runs on the cameras it has, changes wait")   \
	X(cluster_etcd_back, "node, revision", "etcd answers again; the node has caught up to revision")

enum vigil_event_type {
#define VIGIL_X_ENUM(name, fields, help) VIGIL_EVENT_##name,
	VIGIL_FOREACH_EVENT(VIGIL_X_ENUM)
#undef VIGIL_X_ENUM
	    VIGIL_EVENT_MAX
};

#endif
