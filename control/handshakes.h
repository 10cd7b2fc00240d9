/* SPDX-License-Identifier: MIT */
/* The server side of camera handshakes (docs/handshake.md): packets to
 * the HandshakePort come from the workers on two rings, the initiations
 * that prove their source by a cookie (mac2) on one of their own; this
 * answers them from the control thread, rate-limited per source address
 * and behind cookies under load, and gives the cameras their keys through
 * the same live path as `vigilctl camera add`. A few SRTP packets of
 * unknown SSRCs come too: their senders are told the session is unknown. */
#ifndef VIGIL_HANDSHAKES_H
#define VIGIL_HANDSHAKES_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "cameras.h"
#include "hs_cookie.h"
#include "neigh.h"

struct rte_ring;
struct vigil_handshakes;

/* Handshake outcomes, counted. */
#define VIGIL_FOREACH_HS_OUTCOME(X)                                                                          \
	X(accepted, "handshakes answered: the camera has a new key")                                         \
	X(not_for_us, "dropped: not sent to our MAC and an Address of ours, or from a multicast source")     \
	X(cookie_sent, "under load, answered with a cookie instead")                                         \
	X(rate_limited, "dropped: too many from that source address (IPv6: its /64); in a cluster, a camera's " \
			"second within a second")                                                            \
	X(malformed, "dropped: not a handshake initiation, or a bad mac1")                                   \
	X(refused, "dropped: no camera has that identity, or the message did not decrypt")                   \
	X(replayed, "dropped: not newer than that camera's last handshake (a cluster's: on any node)")       \
	X(revoked, "dropped: the camera is revoked")                                                         \
	X(codec_mismatch, "dropped: the initiation announced another codec than the camera's Codec")         \
	X(cluster_unavailable, "dropped: a cluster node that could not reach etcd to publish the handshake, " \
			       "or with VIGIL_HS_WAITING waiting for it already (the camera tries again)")    \
	X(no_buffer, "dropped: no mbuf or no room on the TX ring for the response")                          \
	X(key_extended, "a camera's key reached 1.5 x RekeySeconds while the port was under load: kept one " \
			"RekeySeconds more at most")                                                         \
	X(key_expired, "a camera's key was refused: no rekey by 1.5 x RekeySeconds (2.5 x if extended)")     \
	X(unknown_session, "SRTP of an SSRC no camera has, passed on by a worker: its sender told to "         \
			   "handshake again (type 4; after a restart, a handshake camera's)")                   \
	X(unknown_session_limited, "the same, not told: that address was told less than a second ago")

enum vigil_hs_outcome {
#define VIGIL_X(name, help) VIGIL_HS_##name,
	VIGIL_FOREACH_HS_OUTCOME(VIGIL_X)
#undef VIGIL_X
	VIGIL_HS_MAX
};

/* Reads ServerKeyFile (base64 of the X25519 secret key, mode 0600). Only
 * what is sent to nb's MAC and addresses is answered, from them. proven:
 * the workers' ring of initiations with a valid cookie. NULL with msg
 * set. */
struct vigil_handshakes *vigil_handshakes_create(struct vigil_cameras *cams, const struct vigil_neigh *nb,
						 struct rte_ring *from_workers, struct rte_ring *proven,
						 struct rte_ring *to_wire, char *msg, size_t msglen);

/* The cookie secret as the workers check it, kept current by the polls. */
const struct vigil_hs_cookie *vigil_handshakes_cookie(const struct vigil_handshakes *h);

/* Answers what the workers passed on: the proven initiations waiting,
 * then a bounded batch of the rest. Returns how many it took: while it
 * takes any, more are likely on their way (a flood), so the control loop
 * calls it again at once, and sleeps only when it takes none. */
unsigned vigil_handshakes_poll(struct vigil_handshakes *h);

/* A cluster node publishes each handshake accepted here in etcd before it
 * is applied and answered (control/cluster.c), on a thread of its own: the
 * control thread never waits for etcd. begin hands one over with a tag
 * (0 to VIGIL_HS_WAITING - 1, given back by done) and says at once
 * whether it waits (0) or is refused: -EALREADY as replayed (another
 * node answered a newer one), -EBUSY as rate_limited (one a second a
 * camera, one of it waiting), -EIO as cluster_unavailable (etcd away).
 * done gives back one that finished, in order: its tag and 0 (apply and
 * answer it), 1 (applied already, from etcd's watch: answer it),
 * -EALREADY or -EIO as above. owns says whether this node takes the
 * camera's media: one that does not answers VIGIL_HS_ANSWER_DELAY_MS
 * after etcd holds the handshake, so that the node that does has it from
 * its watch before media under the new key come (docs/cluster.md). */
#define VIGIL_HS_WAITING 256 /* handshakes waiting for etcd at once; past that, cluster_unavailable */
/* Well below the camera's VIGIL_HS_RETRY_MS, and far above a watch's
 * delivery on a LAN (milliseconds). */
#define VIGIL_HS_ANSWER_DELAY_MS 250
struct vigil_hs_publisher {
	int (*begin)(void *arg, unsigned slot, const uint8_t ts[VIGIL_HS_TIMESTAMP_LEN], uint32_t ssrc,
		     const struct vigil_hs_rtx *rtx, const uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN],
		     const uint8_t salt[VIGIL_SRTP_MASTER_SALT_LEN], unsigned tag);
	bool (*done)(void *arg, unsigned *tag, int *rc);
	bool (*owns)(void *arg, unsigned slot);
	void *arg;
};
void vigil_handshakes_publish(struct vigil_handshakes *h, const struct vigil_hs_publisher *p);

/* The port is under load (a flood, or a fleet rekeying at once): cookies
 * are asked for, and cameras' keys may outlive their bound (cameras.h). */
bool vigil_handshakes_under_load(const struct vigil_handshakes *h);

/* {"accepted": N, ..., "waiting": handshakes waiting for etcd now}, with
 * the cameras' key_extended and key_expired */
json_t *vigil_handshakes_stats(const struct vigil_handshakes *h);

void vigil_handshakes_free(struct vigil_handshakes *h);

#endif
