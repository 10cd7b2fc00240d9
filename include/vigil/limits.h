/* SPDX-License-Identifier: MIT */
/* Every fixed limit and wire constant in one place. */
#ifndef VIGIL_LIMITS_H
#define VIGIL_LIMITS_H

#define VIGIL_CAMERA_NAME_MAX 64

/* AEAD_AES_256_GCM, RFC 7714 */
#define VIGIL_SRTP_MASTER_KEY_LEN 32
#define VIGIL_SRTP_MASTER_SALT_LEN 12
#define VIGIL_SRTP_SESSION_SALT_LEN 12
#define VIGIL_SRTP_TAG_LEN 16
#define VIGIL_SRTP_IV_LEN 12

/* Replay window in packets (RFC 3711 asks for at least 64). */
#define VIGIL_REPLAY_WINDOW 1024

#define VIGIL_RTP_HEADER_LEN 12
#define VIGIL_RTP_VERSION 2
#define VIGIL_RTP_CLOCK_HZ 90000

#define VIGIL_BURST 32
/* Deepest frame reordering (B-frames) H.264 and H.265 allow: 16 frames. */
#define VIGIL_REORDER_MAX 16
/* Packets reordered by the network: how many a stream holds ahead of a
 * gap (a power of two), and how long the oldest waits for it. */
#define VIGIL_REORDER_SLOTS 8
#define VIGIL_REORDER_WAIT_MS 20
/* A camera that retransmits (RtxSSRC): how many packets a stream may hold
 * while it waits for a retransmission (a key frame of a few hundred
 * packets lost at its start, and what comes in the round trip), and the
 * windows of that size each worker lends its streams. */
#define VIGIL_HOLD_WINDOW 1024
#define VIGIL_HOLD_WINDOWS 32
/* Most gaps need far less (the network's reordering; a retransmission of
 * a camera of a few Mbit/s): a stream first borrows a small window, and
 * moves to a large one only when it must hold further. Many gaps wait at
 * once in a worker of a thousand cameras. */
#define VIGIL_HOLD_SMALL_WINDOW 64
#define VIGIL_HOLD_SMALL_WINDOWS 1024
/* ... and the packets they may hold at once, which the mbuf pool has room
 * for besides what RX needs. */
#define VIGIL_HOLD_PACKETS 8192
#define VIGIL_DEFAULT_RETRANSMIT_HOLD_MS 200
#define VIGIL_DEFAULT_SEGMENT_SECONDS 6
/* Retention removes a camera's oldest segments at most this often (each
 * pass rewrites its playlist): it may hold this much video past
 * RetainBytes, a segment may outlive RetainHours by as much. */
#define VIGIL_RETAIN_PASS_SECONDS 30
/* Playlist changes queued for the playlist thread (record/playlist_queue.h);
 * a recorder thread that finds the queue full waits. */
#define VIGIL_PLAYLIST_JOBS 65536
#define VIGIL_DEFAULT_MAX_FRAME_BYTES (4u << 20)
#define VIGIL_PARAM_SET_MAX 512 /* bytes of one VPS/SPS/PPS, configured or cached */
/* Frames are chains of the mbufs their packets came in. Between a worker
 * and the disk: at most this many mbufs (about 150 MiB of video, 300 MiB
 * of hugepages), beyond which frames are dropped as ring_full. The rings
 * take as many frames as there are mbufs (a frame has one at least), so
 * only the mbufs bound them. It is how long a pause of the recorder costs
 * nothing: a frame dropped costs a camera the rest of its GOP. 4,096
 * frames were 0.1 s of 10,000 small cameras; 32,768 mbufs 1.1 s of the
 * soak's 30,000 packets a second, which a VM's recorder outlasted
 * (ring_full 28,176 in 2 minutes); 131,072 (4.4 s) dropped nothing. */
#define VIGIL_FRAME_MBUFS_IN_FLIGHT 131072
/* mbufs per RX queue, and per camera for the frame under assembly. */
#define VIGIL_MBUFS_PER_QUEUE 8192
#define VIGIL_MBUFS_PER_CAMERA 2
#define VIGIL_MAX_WORKERS 64
#define VIGIL_MAX_RECORDERS 16 /* recorder threads */
#define VIGIL_HANDOFF_RING_SIZE 1024 /* packets waiting for their stream's worker */
/* Packets of SSRCs no camera has that a worker passes to the control plane
 * a second at most, for the handshake's unknown-session message. */
#define VIGIL_UNKNOWN_SESSION_PER_S 100
#define VIGIL_CONTROL_RING_SIZE 1024 /* handshake packets to and from the control plane */
/* Initiations proven by a cookie, to the control plane: rekeying cameras. */
#define VIGIL_CONTROL_PROVEN_RING_SIZE 256
#define VIGIL_DEFAULT_MAX_CAMERAS 100000
#define VIGIL_MAX_CAMERAS 10000000
#define VIGIL_DEFAULT_KEY_GRACE_MS 2000
#define VIGIL_DEFAULT_MAX_UNSYNCED_MS 1000
/* Handshake cameras start a new handshake after this long or this many
 * packets, whichever comes first. */
#define VIGIL_DEFAULT_REKEY_SECONDS 120
#define VIGIL_DEFAULT_REKEY_PACKETS (UINT64_C(1) << 31)
#define VIGIL_DEFAULT_PLAYBACK_PER_ADDRESS 16 /* playback connections from one address at once */
#define VIGIL_PLAYBACK_CONNECTIONS 64	      /* playback connections at once, a thread each */
#define VIGIL_DEFAULT_OFFLINE_SECONDS 10 /* no authentic packet for this long: offline */
#define VIGIL_DEFAULT_EVENT_QUEUE 10000 /* events waiting for the EventHook; more are dropped */
#define VIGIL_DEFAULT_AUTH_FAILED_PER_MINUTE 600 /* a camera's refusals a minute before an event */
/* [Ingest] StateDir when a live run's configuration names none. */
#define VIGIL_DEFAULT_SPOOL_BYTES (UINT64_C(10) << 30) /* [Storage] SpoolBytes */
#define VIGIL_DEFAULT_UPLOAD_WAIT_SECONDS 60
#define VIGIL_DEFAULT_CLUSTER_PREFIX "/vigil/" /* [Cluster] Prefix */
#define VIGIL_DEFAULT_LEASE_SECONDS 10           /* [Cluster] LeaseSeconds */
#define VIGIL_DEFAULT_STATE_DIR "/var/lib/vigil/state"
#define VIGIL_DEFAULT_PLAYER_DIR "/usr/share/vigil/player" /* PlayerDir: the web player's files */
/* [Ingest] Address: IPv4 and IPv6 addresses of the ingest port, each. */
#define VIGIL_MAX_ADDRESSES 8

#endif
