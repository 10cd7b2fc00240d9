/* SPDX-License-Identifier: MIT */
/* Viewer tokens for the playback endpoint (playback.h): short-lived,
 * scoped to one camera and a range of its recordings, signed with the
 * server's token key (HMAC-SHA-512-256, libsodium's crypto_auth) and
 * checked in constant time. Text form: base64url without padding, so it
 * goes into a query string, a cookie or a URL fragment as it is.
 *
 * Bytes signed and carried: "vigil-viewer-v1" 0, then version 1, expiry,
 * from, to (u64 big endian, seconds since the epoch; from/to 0: no bound),
 * the camera name's length and the name; the 32-byte tag after them. */
#ifndef VIGIL_VIEWER_TOKEN_H
#define VIGIL_VIEWER_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/limits.h"

#define VIGIL_TOKEN_KEY_LEN 32
#define VIGIL_TOKEN_DEFAULT_TTL 600	/* vigilctl token: 10 minutes */
#define VIGIL_TOKEN_MAX_TTL (7 * 86400) /* at most a week */
/* The longest token's text, NUL included: 1 + 24 + 1 + 64 bytes and a
 * 32-byte tag in base64url. */
#define VIGIL_TOKEN_TEXT_MAX 170

struct vigil_viewer_scope {
	char camera[VIGIL_CAMERA_NAME_MAX + 1];
	uint64_t expires; /* seconds since the epoch */
	uint64_t from, to; /* the recordings it opens: [from, to), 0: no bound */
};

enum vigil_token_verdict {
	VIGIL_TOKEN_OK,
	VIGIL_TOKEN_MISSING, /* none given */
	VIGIL_TOKEN_BAD,     /* not a token, or not signed with this key */
	VIGIL_TOKEN_EXPIRED,
};

/* The token of scope s in out (VIGIL_TOKEN_TEXT_MAX). -EINVAL: a camera
 * name that is not one. */
int vigil_token_issue(const uint8_t key[VIGIL_TOKEN_KEY_LEN], const struct vigil_viewer_scope *s, char *out,
		      size_t outlen);

/* The scope of text into *s when it is a token signed with key that has
 * not expired at now (seconds since the epoch). */
enum vigil_token_verdict vigil_token_check(const uint8_t key[VIGIL_TOKEN_KEY_LEN], const char *text, uint64_t now,
					   struct vigil_viewer_scope *s);

/* The token key: derived from the master key when vigild has one (the
 * keystore's or the cluster's, so every node of a cluster takes the others'
 * tokens), else read from dir/playback.key (made, 0600, when missing), else
 * (no dir) random for this run. key: locked memory of VIGIL_TOKEN_KEY_LEN.
 * -errno with msg set. */
int vigil_token_key(const uint8_t *master, const char *dir, uint8_t key[VIGIL_TOKEN_KEY_LEN], char *msg,
		    size_t msglen);

#endif
