/* SPDX-License-Identifier: MIT */
/* The configuration model: what vigil.conf says, validated. Built by the
 * control plane's parser (control/config.h), read by every plane and by
 * the camera library; nothing here needs the parser. */
#ifndef VIGIL_CONFIG_MODEL_H
#define VIGIL_CONFIG_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/limits.h"

enum vigil_codec {
	VIGIL_CODEC_H264,
	VIGIL_CODEC_H265,
};

/* RecordFormat: the segments' container. */
enum vigil_format {
	VIGIL_FORMAT_TS,   /* MPEG-TS, NNNNNNNN.ts: the default, it survives a cut anywhere */
	VIGIL_FORMAT_FMP4, /* fragmented MP4 (CMAF), NNNNNNNN.m4s after an init-NNNNNNNN.mp4 */
};

/* Crypto: which engine decrypts SRTP (control/crypto.c). */
enum vigil_crypto_engine {
	VIGIL_CRYPTO_AUTO,      /* a crypto device if one is usable, else libsodium: the default */
	VIGIL_CRYPTO_LIBSODIUM,
	VIGIL_CRYPTO_CRYPTODEV, /* crypto_device, or crypto_aesni_gcm0 when empty */
	/* The same through the device's queue pairs, one a worker, even where
	 * it has CPU crypto: the path of a device without (tests, comparison). */
	VIGIL_CRYPTO_CRYPTODEV_ASYNC,
};

struct vigil_camera_config {
	char name[VIGIL_CAMERA_NAME_MAX + 1];
	uint32_t ssrc;
	enum vigil_codec codec;
	/* PayloadTypes: bit n of word n / 64 set when RTP payload type n is
	 * accepted. Default: the dynamic range 96-127. */
	uint64_t payload_types[2];
	/* RFC 4568 inline key: master key followed by master salt. For a
	 * camera with an Identity, the key of its current handshake (none
	 * until the first one). */
	uint8_t master_key[VIGIL_SRTP_MASTER_KEY_LEN];
	uint8_t master_salt[VIGIL_SRTP_MASTER_SALT_LEN];
	/* Identity: the camera's X25519 public key, when it agrees its keys
	 * by handshake (docs/handshake.md) instead of a configured Key. */
	bool has_identity;
	uint8_t identity[32];
	/* RetainHours, RetainBytes (the [Ingest] ones unless the camera has
	 * its own): older segments, and the oldest beyond the size, are
	 * removed. 0: no limit. */
	uint32_t retain_hours;
	uint64_t retain_bytes;
	uint8_t retain_own; /* bit 0: RetainHours given here, bit 1: RetainBytes */
	/* OwnerKey: recordings are sealed to this X25519 public key. */
	bool sealed;
	uint8_t owner_key[32];
	/* ParameterSets: the SDP's VPS/SPS/PPS NAL units, for cameras that
	 * never send them in band. At most one of each kind, any order. */
	uint8_t n_param_sets;
	struct {
		uint16_t len;
		uint8_t nal[VIGIL_PARAM_SET_MAX];
	} param_sets[3];
	/* Where its [Camera] section starts, for messages; 0 for a camera
	 * added through the admin socket, which the keystore holds. */
	unsigned line;
	/* RtxSSRC, RtxPayloadType: the camera retransmits what vigild NACKs
	 * as RFC 4588 RTX packets of this SSRC and payload type. */
	bool has_rtx;
	uint32_t rtx_ssrc;
	uint16_t rtx_payload_type;
	/* RtcpReducedSize: the camera takes reduced-size RTCP (RFC 5506), so
	 * feedback goes without a receiver report in front of it but once a
	 * second. A handshake camera that retransmits takes it (libvigilcam
	 * reads either), whatever this says. */
	unsigned rtcp_rsize;
	/* Keystore cameras only: revoked through the admin socket. It stays
	 * known (name, SSRC, recordings) without a key until rotated. */
	bool revoked;
};

/* [Storage]: closed segments and playlists uploaded to an S3 bucket
 * (record/upload.c, docs/storage.md). endpoint "": no uploads. */
struct vigil_storage_config {
	char endpoint[1024]; /* http(s)://host[:port], path-style requests */
	char bucket[64];
	char region[64];
	char prefix[512];	     /* object names: <prefix><camera>/<node>/<file> */
	char ca_file[4096];	     /* "": the system's CAs */
	char node[256];		     /* "": the host name */
	char credentials_file[4096]; /* "": $CREDENTIALS_DIRECTORY/s3-credentials */
	unsigned keep_local;	     /* a segment stays on disk once uploaded */
	uint64_t spool_bytes;	     /* closed segments not yet uploaded: at most this much */
	unsigned upload_wait_seconds; /* how long a stop waits for the uploads */
};

/* [Cluster]: one node of many vigild that share their cameras through
 * etcd (control/cluster.c, docs/cluster.md). etcd "": a node alone. */
struct vigil_cluster_config {
	char etcd[1024];	/* endpoints: http://host:port, comma-separated */
	char node[64];		/* this node's name; "": the host name */
	char prefix[256];	/* its keys in etcd, under this; default "/vigil/" */
	char anycast[64];	/* the address every node announces; an Address too */
	unsigned lease_seconds; /* a node silent this long is gone for the others */
	char ca_file[4096];	/* https:// endpoints: etcd's CA ("": the system's) */
	char cert_file[4096];	/* and this node's client certificate, with its key */
	char key_file[4096];
	char drain_file[4096];	/* made while draining, for the routing daemon ("": none) */
};

/* An address and port to listen on (MetricsListen, PlaybackListen). */
struct vigil_listen {
	char text[64]; /* as written, for messages */
	int family;    /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint16_t port;
};

struct vigil_config {
	char path[4096];
	/* Bitmap of UDP destination ports carrying SRTP. */
	uint8_t srtp_ports[65536 / 8];
	char record_dir[4096];
	char device[1024];
	unsigned workers;
	unsigned idle_sleep_us; /* a worker whose poll found nothing sleeps this long; 0: it polls on */
	enum vigil_crypto_engine crypto;
	char crypto_device[64]; /* Crypto = cryptodev:DEVICE */
	unsigned recorders; /* recorder threads, each with its share of the cameras */
	unsigned segment_seconds;
	enum vigil_format format;
	size_t max_frame_bytes;
	unsigned max_cameras;    /* table sizes: cameras can be added up to this */
	unsigned key_grace_ms;   /* how long a rotated-out key is still accepted */
	unsigned max_unsynced_ms; /* open segments are fdatasync'd at least this often; 0: at close only */
	uint32_t retain_hours;   /* defaults for the cameras' RetainHours, RetainBytes */
	uint64_t retain_bytes;
	/* Addresses of the ingest port, answered for ARP/NDP/ICMP echo; none
	 * means no replies at all. IPv4 in network order. */
	unsigned n_ipv4, n_ipv6;
	uint32_t ipv4[VIGIL_MAX_ADDRESSES];
	uint8_t ipv6[VIGIL_MAX_ADDRESSES][16];
	/* Keystore: cameras added through the admin socket, encrypted under
	 * the key in KeystoreKeyFile (or the file $VIGIL_KEYSTORE_KEY_FILE
	 * names). Empty: cameras can only come from this file. */
	char keystore[4096];
	char keystore_key_file[4096];
	char admin_group[64]; /* AdminGroup: may use the admin socket too */
	/* StateDir: what must survive a restart (the highest SRTP index
	 * accepted per camera, the sealed segments' chain). Empty: not
	 * configured; live runs use VIGIL_DEFAULT_STATE_DIR, a capture run
	 * then persists nothing. */
	char state_dir[4096];
	/* Camera handshakes (docs/handshake.md): UDP port, the server's
	 * static X25519 secret key, and the rekey policy sent to cameras. */
	uint16_t handshake_port; /* 0: no handshakes */
	char server_key_file[4096];
	unsigned rekey_seconds;
	uint64_t rekey_packets;
	/* RetransmitHoldMs: how long a camera with RtxSSRC has its packets
	 * held for a retransmission of one missing before them (0: NACKs
	 * are not sent, holding is as for any camera). */
	uint32_t retransmit_hold_ms;
	/* MetricsListen: Prometheus metrics, /healthz and /readyz over HTTP
	 * (control/metrics.c); port 0: off. */
	struct vigil_listen metrics_listen;
	/* PlaybackListen: recordings and the web player to browsers
	 * (control/playback.c), with TLS when PlaybackCertFile is set; port 0:
	 * off. */
	struct vigil_listen playback_listen;
	char player_dir[4096];
	char playback_cert_file[4096];
	char playback_key_file[4096];
	/* PlaybackConnectionsPerAddress: connections from one address at once
	 * (behind a proxy on the same host, every viewer's). */
	unsigned playback_per_address;
	unsigned metrics_per_camera; /* MetricsPerCamera: vigil_camera_* series too */
	unsigned offline_seconds;    /* OfflineSeconds: no authentic packet for this long: offline */
	/* Events (control/events.c): the webhook they are POSTed to ("":
	 * none), the HMAC key it signs with, how many may wait for it, and a
	 * camera's refusals a minute that make an auth_failed event. */
	char event_hook[1024];
	char event_hook_secret_file[4096];
	unsigned event_queue;
	unsigned auth_failed_per_minute;
	struct vigil_storage_config storage;
	struct vigil_cluster_config cluster;
	unsigned n_cameras;
	struct vigil_camera_config *cameras;
};

/* A camera's name: 1-VIGIL_CAMERA_NAME_MAX of A-Z a-z 0-9 _ - (it names
 * its folder and its objects). */
static inline bool vigil_camera_name_ok(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9') ||
		      s[n] == '_' || s[n] == '-'))
			return false;
	return n >= 1 && n <= VIGIL_CAMERA_NAME_MAX;
}

static inline bool vigil_payload_type_ok(const uint64_t types[2], uint8_t pt)
{
	return types[pt >> 6 & 1] >> (pt & 63) & 1;
}

static inline bool vigil_config_is_srtp_port(const struct vigil_config *cfg, uint16_t port)
{
	return cfg->srtp_ports[port >> 3] & (1u << (port & 7));
}

#endif
