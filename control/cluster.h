/* SPDX-License-Identifier: MIT */
/* A cluster node ([Cluster], docs/cluster.md): its cameras come from etcd
 * and from nowhere else. Every node watches the cameras' prefix and
 * applies each change through the same live path as a keystore change
 * (add, rotate with grace, revoke, remove); a change asked of any node
 * (vigilctl) goes to etcd first, in a transaction at the revision of the
 * record the node holds, and comes back through the watch like everyone
 * else's. Each node is registered under a lease with its load.
 *
 * etcd keys, under Prefix:
 *   cameras/NAME  a camera's record (below), sealed to its key under the
 *                 cluster master key (etcd.h)
 *   cameras/NAME/handshake  an Identity camera's last handshake: its
 *                 timestamp, SSRCs and key (cluster_record.h), sealed so
 *   ssrcs/XXXXXXXX  an SSRC a handshake gave (hex), the camera's name
 *   nodes/NODE    a node's JSON (name, version, cameras, load), attached
 *                 to the node's lease: gone when the node is
 *
 * Two threads of its own talk to etcd (the watch; the lease and the
 * node's record), each with its own client; the control thread applies
 * what the watch queued (vigil_cluster_poll) and makes the admin socket's
 * changes. */
#ifndef VIGIL_CLUSTER_H
#define VIGIL_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "cameras.h"
#include "events.h"

struct vigil_cluster;

/* For the cluster's [Cluster] (cfg), the master key (32 bytes, copied into
 * locked memory). NULL with msg saying why. */
struct vigil_cluster *vigil_cluster_open(const struct vigil_config *cfg, const uint8_t *master, char *msg,
					 size_t msglen);
/* Starts the threads; then waits up to wait_ms for the cameras etcd holds
 * to be applied to c (the node starts with them). 0 when they are; -EIO
 * when etcd did not answer in time: the node starts without them, says
 * so, and takes them when etcd answers. */
int vigil_cluster_start(struct vigil_cluster *cl, struct vigil_cameras *c, unsigned wait_ms);
/* At a stop, once the workers have stopped: the cameras' last indices
 * published, before vigil_cluster_free gives their owners keys up. */
void vigil_cluster_leave(struct vigil_cluster *cl);
/* Stops the threads and revokes the node's lease (its record goes at once). */
void vigil_cluster_free(struct vigil_cluster *cl);

/* The control loop, each turn: what the watch brought, applied; once a
 * second, the node's load for its record, and etcd lost or back told to
 * events (NULL: nobody). True when a drained node should stop now (no
 * packet of its cameras for a few seconds: its flows moved). */
bool vigil_cluster_poll(struct vigil_cluster *cl, struct vigil_events *events);

/* The admin socket's changes, through etcd (cameras.h says what each
 * does). add: cam; rotate: key and salt; revoke, remove: the name alone.
 * 0 once etcd took it and this node applied it, with msg saying so; -errno
 * with msg: refused here (as the keystore would), refused by etcd (another
 * admin changed the camera since this node saw it: -ESTALE), or etcd not
 * reachable (-EIO); nothing changed then. */
enum vigil_cluster_op { VIGIL_CLUSTER_ADD, VIGIL_CLUSTER_ROTATE, VIGIL_CLUSTER_REVOKE, VIGIL_CLUSTER_REMOVE };
int vigil_cluster_change(struct vigil_cluster *cl, enum vigil_cluster_op op, const char *name,
			 const struct vigil_camera_config *cam, const uint8_t *key, const uint8_t *salt, char *msg,
			 size_t msglen);

/* An Identity camera's handshake, answered here (handshakes.h's
 * vigil_hs_publisher), before its response goes: published to etcd by a
 * thread of its own, in one transaction, only if no node answered one
 * since this node saw the last (else -EALREADY: a replayed or older
 * initiation, or one answered by another node at the same time), with
 * its SSRCs, only if no other camera has them. Every node applies it from
 * its watch: any can take the camera's packets. begin refuses at once
 * with -EALREADY (not newer than the last), -EBUSY (the camera's last
 * handshake, on any node, less than a second ago, or one of it waiting)
 * or -EIO (etcd unreachable, or VIGIL_HS_WAITING waiting); done gives
 * back the next one etcd answered for (control thread). */
int vigil_cluster_handshake_begin(void *cluster, unsigned slot, const uint8_t ts[VIGIL_HS_TIMESTAMP_LEN],
				  uint32_t ssrc, const struct vigil_hs_rtx *rtx,
				  const uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN],
				  const uint8_t salt[VIGIL_SRTP_MASTER_SALT_LEN], unsigned tag);
bool vigil_cluster_handshake_done(void *cluster, unsigned *tag, int *rc);
/* Whether the camera's media are this node's to take: it owns the camera,
 * or the node takes every camera's (no ownership: a capture). */
bool vigil_cluster_handshake_owns(void *cluster, unsigned slot);
/* vigilctl drain: every camera this node owns given back (its packets
 * refused from now on, its last index published first, then its owners
 * key deleted), none asked for again, not ready from now on and DrainFile
 * made, so the routers move its flows to other nodes; once they have
 * (vigil_cluster_poll), vigild stops as on SIGTERM. */
int vigil_cluster_drain(struct vigil_cluster *cl, char *msg, size_t msglen);

/* vigilctl cluster: {"node", "etcd": "up" or "unreachable", "revision",
 * "applied", "refused", "resyncs", "nodes": [every node's record]}, or
 * "nodes_error" (msg) instead of "nodes" when etcd cannot be read. NULL:
 * out of memory. */
json_t *vigil_cluster_nodes(struct vigil_cluster *cl, char *msg, size_t msglen);

struct vigil_cluster_stats {
	bool etcd_up;		   /* the last request to etcd succeeded */
	bool synced;		   /* the cameras etcd held were applied once */
	uint64_t down_since_ns;	   /* CLOCK_REALTIME; 0: up */
	int64_t revision;	   /* etcd's revision of the last change applied */
	uint64_t applied, refused; /* records applied; refused (did not open, or the cameras refused them) */
	uint64_t resyncs;	   /* the whole prefix read again (start, compaction) */
	unsigned owned;		   /* cameras this node owns (live nodes) */
	uint64_t taken;		   /* cameras it took: nobody owned them */
	uint64_t owned_elsewhere;  /* asks for a camera another node owned */
	uint64_t given_back;	   /* owned cameras given back: silent for OfflineSeconds, or taken on a replay */
	bool draining;		   /* vigilctl drain */
	const char *node;
};
void vigil_cluster_stats(const struct vigil_cluster *cl, struct vigil_cluster_stats *s);

#endif
