/* SPDX-License-Identifier: MIT */
/* The camera <-> server handshake (docs/handshake.md): Noise IK wrapped in WireGuard-style messages with
 * mac1/mac2 and cookie replies, ending in one SRTP master key and salt per direction. A pure library: no
 * sockets, no timers; the camera (initiator) and vigild (responder) both link it. */
#ifndef VIGIL_HANDSHAKE_H
#define VIGIL_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "noise.h"

#define VIGIL_HS_WUR __attribute__((warn_unused_result))

#define VIGIL_HS_PROLOGUE "vigil handshake v1" /* Noise prologue, without its NUL */
#define VIGIL_HS_KEY_LEN 32		       /* X25519 public or secret key */
#define VIGIL_HS_TIMESTAMP_LEN 12	       /* TAI64N */
#define VIGIL_HS_MAC_LEN 16
#define VIGIL_HS_COOKIE_LEN 16
#define VIGIL_HS_COOKIE_NONCE_LEN 24
#define VIGIL_HS_SRTP_KEY_LEN 44 /* SRTP master key (32) || master salt (12), AEAD_AES_256_GCM */

/* Message types: byte 0; bytes 1-3 are zero. */
#define VIGIL_HS_TYPE_INITIATION 1
#define VIGIL_HS_TYPE_RESPONSE 2
#define VIGIL_HS_TYPE_COOKIE_REPLY 3
#define VIGIL_HS_TYPE_UNKNOWN_SESSION 4

/* Initiation: type, reserved[3], sender_index, Noise message 1, mac1, mac2. */
#define VIGIL_HS_INITIATION_PAYLOAD_LEN 16 /* TAI64N, codec, flags, reserved[2] */
/* The payload's flags byte (offset 13). A server older than this flag refuses any bit set in it: a camera
 * that sets one needs a vigild that knows it. */
#define VIGIL_HS_FLAG_RTX 0x01 /* the camera retransmits (RFC 4588): the response assigns its RTX stream */
/* The camera has had no response since it started: its packet index starts anywhere, so the server gives
 * it a stream of its own (a fresh SSRC) even while it still holds the camera's previous one. */
#define VIGIL_HS_FLAG_FRESH 0x02
#define VIGIL_HS_FLAGS_KNOWN (VIGIL_HS_FLAG_RTX | VIGIL_HS_FLAG_FRESH)
#define VIGIL_HS_INITIATION_NOISE_OFF 8
#define VIGIL_HS_INITIATION_MAC1_OFF                                                                         \
	(VIGIL_HS_INITIATION_NOISE_OFF + VIGIL_NOISE_IK_MSG1_LEN(VIGIL_HS_INITIATION_PAYLOAD_LEN))
#define VIGIL_HS_INITIATION_MAC2_OFF (VIGIL_HS_INITIATION_MAC1_OFF + VIGIL_HS_MAC_LEN)
#define VIGIL_HS_INITIATION_LEN (VIGIL_HS_INITIATION_MAC2_OFF + VIGIL_HS_MAC_LEN) /* 152 */

/* Response: type, reserved[3], sender_index, receiver_index, Noise message 2, mac1, mac2. Its payload
 * has two sizes: 16 bytes, and 24 (the RTX SSRC and payload type after them) only to an initiation with
 * VIGIL_HS_FLAG_RTX. Each side knows which to expect, so the length tells nothing it did not know. */
#define VIGIL_HS_RESPONSE_PAYLOAD_LEN 16     /* ssrc, rekey_after_seconds, rekey_after_packets */
#define VIGIL_HS_RESPONSE_RTX_PAYLOAD_LEN 24 /* ... then rtx_ssrc, rtx_payload_type, reserved[3] */
#define VIGIL_HS_RESPONSE_NOISE_OFF 12
#define VIGIL_HS_RESPONSE_MAC1_OFF_FOR(payload_len)                                                          \
	(VIGIL_HS_RESPONSE_NOISE_OFF + VIGIL_NOISE_IK_MSG2_LEN(payload_len))
#define VIGIL_HS_RESPONSE_LEN_FOR(payload_len)                                                               \
	(VIGIL_HS_RESPONSE_MAC1_OFF_FOR(payload_len) + 2 * VIGIL_HS_MAC_LEN)
#define VIGIL_HS_RESPONSE_MAC1_OFF VIGIL_HS_RESPONSE_MAC1_OFF_FOR(VIGIL_HS_RESPONSE_PAYLOAD_LEN)
#define VIGIL_HS_RESPONSE_MAC2_OFF (VIGIL_HS_RESPONSE_MAC1_OFF + VIGIL_HS_MAC_LEN)
#define VIGIL_HS_RESPONSE_LEN VIGIL_HS_RESPONSE_LEN_FOR(VIGIL_HS_RESPONSE_PAYLOAD_LEN) /* 108 */
#define VIGIL_HS_RESPONSE_RTX_MAC1_OFF VIGIL_HS_RESPONSE_MAC1_OFF_FOR(VIGIL_HS_RESPONSE_RTX_PAYLOAD_LEN)
#define VIGIL_HS_RESPONSE_RTX_MAC2_OFF (VIGIL_HS_RESPONSE_RTX_MAC1_OFF + VIGIL_HS_MAC_LEN)
#define VIGIL_HS_RESPONSE_RTX_LEN VIGIL_HS_RESPONSE_LEN_FOR(VIGIL_HS_RESPONSE_RTX_PAYLOAD_LEN) /* 116 */
/* The RTX payload type vigild assigns (the first dynamic one after the media's 96); a camera takes any
 * of 96-127. */
#define VIGIL_HS_RTX_PAYLOAD_TYPE 97
#define VIGIL_HS_RTX_PAYLOAD_TYPE_MIN 96
#define VIGIL_HS_RTX_PAYLOAD_TYPE_MAX 127

/* Cookie reply: type, reserved[3], receiver_index, nonce, XChaCha20-Poly1305(cookie). */
#define VIGIL_HS_COOKIE_REPLY_NONCE_OFF 8
#define VIGIL_HS_COOKIE_REPLY_COOKIE_OFF (VIGIL_HS_COOKIE_REPLY_NONCE_OFF + VIGIL_HS_COOKIE_NONCE_LEN)
#define VIGIL_HS_COOKIE_REPLY_LEN (VIGIL_HS_COOKIE_REPLY_COOKIE_OFF + VIGIL_HS_COOKIE_LEN + 16) /* 64 */

/* Type 4, server -> camera, unauthenticated: SRTP came from this address
 * and port under an SSRC the server has no key for (it restarted, or let
 * the key expire): handshake again. Type, 3 zero bytes, that SSRC. */
#define VIGIL_HS_UNKNOWN_SESSION_LEN 8

#define VIGIL_HS_MAX_LEN VIGIL_HS_INITIATION_LEN

/* Policy defaults and limits (docs/handshake.md says what each is for). */
#define VIGIL_HS_DEFAULT_PORT 5006 /* HandshakePort */
#define VIGIL_HS_DEFAULT_REKEY_S 120
#define VIGIL_HS_DEFAULT_REKEY_PACKETS (1ull << 31)
#define VIGIL_HS_COOKIE_SECRET_MAX_AGE_S 120 /* the server's cookie secret rotates this often */
#define VIGIL_HS_COOKIE_LATENCY_S 5	     /* a camera stops using a cookie this much earlier */
#define VIGIL_HS_RETRY_MS 1000		     /* camera: no response, a new initiation after this... */
#define VIGIL_HS_RETRY_JITTER_MS 333	     /* ...plus a uniform random 0..this */
#define VIGIL_HS_RETRY_FAST_S 90	     /* then one attempt every VIGIL_HS_RETRY_SLOW_S */
#define VIGIL_HS_RETRY_SLOW_S 30
/* camera: at most one handshake started by an unknown-session message in
 * this long (the message is not authenticated: a forger gains no more) */
#define VIGIL_HS_UNKNOWN_SESSION_MIN_S 5
/* server: unknown-session messages per source address per second */
#define VIGIL_HS_UNKNOWN_SESSION_PER_S 1
#define VIGIL_HS_RATE_PER_S 20 /* server: handshake messages per second per source address */
#define VIGIL_HS_RATE_BURST 5

/* Returned (positive) by vigil_hs_initiation_read under load when mac2 is missing or wrong. */
enum { VIGIL_HS_NEED_COOKIE = 1 };

/* What a handshake agrees; identical on both sides. c2s protects camera to server, s2c the other way.
 * Secret: wipe with vigil_hs_keys_wipe once installed. */
struct vigil_hs_keys {
	uint32_t ssrc;
	uint32_t rekey_after_s;
	uint64_t rekey_after_packets;
	bool has_rtx; /* the camera asked to retransmit: its RTX stream's SSRC and payload type */
	uint32_t rtx_ssrc;
	uint8_t rtx_payload_type;
	uint32_t camera_index, server_index; /* the two sender indices, for logs */
	uint8_t c2s[VIGIL_HS_SRTP_KEY_LEN];
	uint8_t s2c[VIGIL_HS_SRTP_KEY_LEN];
};

/* Camera side. One handshake in flight at a time: a new initiation replaces the pending one. */
struct vigil_hs_initiator {
	uint8_t sk[VIGIL_HS_KEY_LEN], pk[VIGIL_HS_KEY_LEN]; /* the camera's Identity */
	uint8_t server_pk[VIGIL_HS_KEY_LEN];
	uint8_t mac1_key_server[VIGIL_NOISE_HASHLEN]; /* for our initiations */
	uint8_t mac1_key_self[VIGIL_NOISE_HASHLEN];   /* for the responses we check */
	uint8_t cookie_key[VIGIL_NOISE_KEYLEN];	      /* opens the server's cookie replies */
	uint8_t cookie[VIGIL_HS_COOKIE_LEN];
	uint64_t cookie_birth_ns; /* CLOCK_MONOTONIC */
	bool has_cookie;
	uint8_t last_mac1[VIGIL_HS_MAC_LEN]; /* of the pending initiation: a cookie reply's AD */
	uint64_t last_tai_s;		     /* last timestamp sent, kept strictly increasing */
	uint32_t last_tai_ns;
	uint32_t sender_index;
	bool pending;
	bool pending_rtx; /* the pending initiation asked for RTX: only a response with it is taken */
	bool established; /* a response was taken: initiations no longer say VIGIL_HS_FLAG_FRESH */
	/* Set by the caller after init: initiations ask for RTX (VIGIL_HS_FLAG_RTX). Such a camera needs a
	 * vigild that knows the flag: an older one refuses its initiations. */
	bool ask_rtx;
	/* Set by the caller after init: initiations say VIGIL_HS_FLAG_FRESH until a response is taken, so
	 * that a camera that started again gets a stream of its own. Needs a vigild that knows the flag, as
	 * ask_rtx does. */
	bool announce_fresh;
	struct vigil_noise_hs hs;
};

/* What a server assigns a camera that asked for RTX. */
struct vigil_hs_rtx {
	uint32_t ssrc;	      /* never the camera's SSRC */
	uint8_t payload_type; /* VIGIL_HS_RTX_PAYLOAD_TYPE_MIN..MAX */
};

/* Server side: static keys and the rotating cookie secret. */
struct vigil_hs_responder {
	uint8_t sk[VIGIL_HS_KEY_LEN], pk[VIGIL_HS_KEY_LEN];
	uint8_t mac1_key[VIGIL_NOISE_HASHLEN];
	uint8_t cookie_key[VIGIL_NOISE_KEYLEN];
	uint8_t cookie_secret[32];
	uint64_t cookie_birth_ns; /* CLOCK_MONOTONIC */
};

/* An initiation the server has read and not yet answered. The caller looks identity up, compares timestamp
 * with the last one accepted for it, picks an SSRC, then answers with vigil_hs_response_write or drops it
 * with vigil_hs_init_wipe. */
struct vigil_hs_init {
	uint8_t identity[VIGIL_HS_KEY_LEN]; /* the camera's static public key, authenticated */
	uint8_t timestamp[VIGIL_HS_TIMESTAMP_LEN];
	uint8_t codec;	       /* enum vigil_codec: 0 H.264, 1 H.265 */
	bool asks_rtx;	       /* VIGIL_HS_FLAG_RTX: the response must carry a struct vigil_hs_rtx */
	bool fresh;	       /* VIGIL_HS_FLAG_FRESH: the camera's first handshake since it started */
	uint32_t sender_index; /* the camera's */
	bool pending;
	struct vigil_noise_hs hs;
};

/* Errors, all negative errno: -EINVAL a bad argument or call out of order; -ENOSPC an output buffer too
 * small; -EPROTO not a message of that kind (length, type, reserved bytes) or authenticated content out of
 * range; -EBADMSG mac1 (or a response's mac2) wrong: not for us or altered, refused before any DH;
 * -EKEYREJECTED the Noise message or cookie does not authenticate (wrong keys or altered); -ESRCH a
 * message for no pending initiation of ours. A refused message changes no state. */

/* -EINVAL if server_pk is a low-order point. */
VIGIL_HS_WUR int vigil_hs_initiator_init(struct vigil_hs_initiator *in,
					 const uint8_t cam_sk[VIGIL_HS_KEY_LEN],
					 const uint8_t server_pk[VIGIL_HS_KEY_LEN]);
void vigil_hs_initiator_wipe(struct vigil_hs_initiator *in);
/* A new initiation (fresh ephemeral and sender index, timestamp now from CLOCK_REALTIME, strictly after the
 * previous one, VIGIL_HS_FLAG_RTX when in->ask_rtx, VIGIL_HS_FLAG_FRESH when in->announce_fresh until a response
 * was taken) replacing any pending one; mac2 from the last cookie
 * while it is younger than VIGIL_HS_COOKIE_SECRET_MAX_AGE_S - VIGIL_HS_COOKIE_LATENCY_S. *outlen: the room
 * in out, then the length written (VIGIL_HS_INITIATION_LEN). */
VIGIL_HS_WUR int vigil_hs_initiation_write(struct vigil_hs_initiator *in, uint8_t codec, uint8_t *out,
					   size_t *outlen);
/* The server's response to the pending initiation: the keys, SSRC and policy, and the RTX SSRC and payload
 * type when it asked for them (then only a VIGIL_HS_RESPONSE_RTX_LEN response is taken, else only a
 * VIGIL_HS_RESPONSE_LEN one: -EPROTO). Ends the handshake. */
VIGIL_HS_WUR int vigil_hs_response_read(struct vigil_hs_initiator *in, const uint8_t *msg, size_t len,
					struct vigil_hs_keys *keys);
/* A cookie reply to the pending initiation: stores the cookie; the next initiation carries mac2. */
VIGIL_HS_WUR int vigil_hs_cookie_read(struct vigil_hs_initiator *in, const uint8_t *msg, size_t len);

/* An unknown-session message: the SSRC it names, or -EPROTO. */
VIGIL_HS_WUR int vigil_hs_unknown_session_read(const uint8_t *msg, size_t len, uint32_t *ssrc);

/* -EIO if libsodium cannot initialise. */
VIGIL_HS_WUR int vigil_hs_responder_init(struct vigil_hs_responder *r,
					 const uint8_t server_sk[VIGIL_HS_KEY_LEN]);
void vigil_hs_responder_wipe(struct vigil_hs_responder *r);
/* A new cookie secret now (it also rotates by itself every VIGIL_HS_COOKIE_SECRET_MAX_AGE_S); cookies
 * given before no longer count. */
void vigil_hs_responder_rotate(struct vigil_hs_responder *r);
/* Checks length and type, then mac1; under_load, then mac2 against the cookie of src (the source address
 * bytes || port, as the caller likes, the same way every time): when it is missing or wrong, writes a
 * cookie reply into cookie_out (*cookie_len: its room, then VIGIL_HS_COOKIE_REPLY_LEN) and returns
 * VIGIL_HS_NEED_COOKIE. Then the DH and decryption, filling *init. cookie_out may be NULL when not
 * under_load. */
VIGIL_HS_WUR int vigil_hs_initiation_read(struct vigil_hs_responder *r, const uint8_t *msg, size_t len,
					  const uint8_t *src, size_t srclen, bool under_load,
					  struct vigil_hs_init *init, uint8_t *cookie_out,
					  size_t *cookie_len);
/* Answers a read initiation: a fresh server sender index, the payload (ssrc, rekey_s, rekey_packets; both
 * non-zero; rtx exactly when init->asks_rtx, its SSRC not ssrc, its payload type 96-127), the keys. Wipes
 * init. *outlen as for initiations (VIGIL_HS_RESPONSE_LEN, or VIGIL_HS_RESPONSE_RTX_LEN with rtx). */
VIGIL_HS_WUR int vigil_hs_response_write(struct vigil_hs_init *init, uint32_t ssrc, uint32_t rekey_s,
					 uint64_t rekey_packets, const struct vigil_hs_rtx *rtx, uint8_t *out,
					 size_t *outlen, struct vigil_hs_keys *keys);
void vigil_hs_init_wipe(struct vigil_hs_init *init);
/* The unknown-session message for ssrc (VIGIL_HS_UNKNOWN_SESSION_LEN bytes). */
void vigil_hs_unknown_session_write(uint32_t ssrc, uint8_t out[VIGIL_HS_UNKNOWN_SESSION_LEN]);

void vigil_hs_keys_wipe(struct vigil_hs_keys *keys);
/* <0, 0, >0 as TAI64N a is before, equal to, after b (big-endian: byte order is time order). The server
 * accepts an initiation only when this is >0 against the last accepted one of the same identity. */
int vigil_hs_timestamp_cmp(const uint8_t a[VIGIL_HS_TIMESTAMP_LEN], const uint8_t b[VIGIL_HS_TIMESTAMP_LEN]);

#endif
